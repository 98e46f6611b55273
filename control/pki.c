/* SPDX-License-Identifier: MIT */
#include "pki.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config.h"
#include "keys.h"
#include "pem.h"
#include "status.h"

#define PKI_FILE_MAX (1u << 20)

/* A config value is inline PEM when it contains a BEGIN line (as in 1.6.1). */
static int read_value(const char *key, const char *value, char **text,
		      size_t *len, struct vl_status *st)
{
	FILE *f;
	size_t n;

	if (strstr(value, "-----BEGIN")) {
		*text = strdup(value);
		*len = strlen(value);
		return *text ? 0 : vl_status_set(st, -ENOMEM, "out of memory");
	}
	f = fopen(value, "rb");
	if (!f)
		return vl_status_set(st, -errno, "%s: %s: cannot read: %s", key,
				     value, strerror(errno));
	*text = malloc(PKI_FILE_MAX + 1);
	if (!*text) {
		fclose(f);
		return vl_status_set(st, -ENOMEM, "out of memory");
	}
	n = fread(*text, 1, PKI_FILE_MAX + 1, f);
	fclose(f);
	if (n > PKI_FILE_MAX) {
		free(*text);
		return vl_status_set(st, -EFBIG, "%s: %s: too large", key, value);
	}
	(*text)[n] = '\0';
	*len = n;
	return 0;
}

static const char *where(const char *value)
{
	return strstr(value, "-----BEGIN") ? "inline PEM" : value;
}

static int load_ca(struct ctl_capool *pool, const struct ctl_config *cfg,
		   const struct timespec *now, FILE *warn, struct vl_status *st)
{
	size_t len, n_expired;
	char *text;
	int err;

	err = read_value("pki.ca", cfg->pki_ca, &text, &len, st);
	if (err)
		return err;
	err = ctl_capool_load_pem(pool, (const uint8_t *)text, len, now,
				  &n_expired, st);
	free(text);
	if (err) {
		vl_status_prefix(st, "pki.ca: %s: ", where(cfg->pki_ca));
		return err;
	}
	if (n_expired == pool->n_cas)
		return vl_status_set(st, -EKEYEXPIRED,
				     "pki.ca: %s: every CA certificate is expired",
				     where(cfg->pki_ca));
	if (n_expired && warn)
		fprintf(warn,
			"pki.ca: %zu of %zu CA certificates are expired\n",
			n_expired, pool->n_cas);
	for (size_t i = 0; i < cfg->n_blocklist; i++) {
		uint8_t fp[CTL_CERT_FP_LEN];

		/* The config parser checked the form already. */
		if (ctl_cert_fp_parse(cfg->blocklist[i], fp) ||
		    ctl_capool_block(pool, fp))
			return vl_status_set(st, -EINVAL,
					     "pki.blocklist: \"%s\" is not a fingerprint",
					     cfg->blocklist[i]);
	}
	return 0;
}

static int load_own(struct ctl_pki *pki, const struct ctl_config *cfg,
		    const struct timespec *now, struct vl_status *st)
{
	size_t len, used;
	char *text;
	int err;

	err = read_value("pki.cert", cfg->pki_cert, &text, &len, st);
	if (err)
		return err;
	err = ctl_cert_decode_pem((const uint8_t *)text, len, &pki->cert,
				  &used, st);
	free(text);
	if (err) {
		vl_status_prefix(st, "pki.cert: %s: ", where(cfg->pki_cert));
		return err;
	}
	if (ctl_cert_expired(pki->cert, now))
		return vl_status_set(st, -EKEYEXPIRED,
				     "pki.cert: %s: certificate is expired or not yet valid",
				     where(cfg->pki_cert));
	if (!pki->cert->n_ips)
		return vl_status_set(st, -EINVAL,
				     "pki.cert: %s: certificate has no IP address",
				     where(cfg->pki_cert));
	pki->vpn_ip = pki->cert->ips[0].ip;
	pki->vpn_mask = pki->cert->ips[0].mask;

	err = read_value("pki.key", cfg->pki_key, &text, &len, st);
	if (err)
		return err;
	err = ctl_key_decode_pem((const uint8_t *)text, len,
				 CTL_PEM_X25519_PRIVATE, pki->key,
				 sizeof(pki->key), st);
	sodium_memzero(text, len);
	free(text);
	if (!err)
		err = ctl_cert_check_private_key(pki->cert, pki->key,
						 sizeof(pki->key), st);
	if (err) {
		vl_status_prefix(st, "pki.key: %s: ", where(cfg->pki_key));
		return err;
	}
	return ctl_cert_encode_handshake(pki->cert, &pki->hs_cert,
					 &pki->hs_cert_len) ?
		       vl_status_set(st, -ENOMEM, "out of memory") :
		       0;
}

int ctl_pki_load(struct ctl_pki *pki, const struct ctl_config *cfg,
		 const struct timespec *now, FILE *warn, struct vl_status *st)
{
	int err;

	memset(pki, 0, sizeof(*pki));
	ctl_capool_init(&pki->pool);
	err = load_ca(&pki->pool, cfg, now, warn, st);
	if (!err)
		err = load_own(pki, cfg, now, st);
	if (err)
		ctl_pki_free(pki);
	return err;
}

int ctl_pki_load_pool(struct ctl_capool *pool, const struct ctl_config *cfg,
		      const struct timespec *now, FILE *warn,
		      struct vl_status *st)
{
	int err;

	ctl_capool_init(pool);
	err = load_ca(pool, cfg, now, warn, st);
	if (err)
		ctl_capool_free(pool);
	return err;
}

/* The same networks in the same order: what SETUP gave the dataplane. */
static bool same_nets(const struct ctl_ipnet *a, size_t n_a,
		      const struct ctl_ipnet *b, size_t n_b)
{
	if (n_a != n_b)
		return false;
	for (size_t i = 0; i < n_a; i++)
		if (a[i].ip != b[i].ip || a[i].mask != b[i].mask)
			return false;
	return true;
}

int ctl_pki_check_replace(const struct ctl_cert *old,
			  const struct ctl_cert *next, struct vl_status *st)
{
	char o[CTL_IPNET_STR], n[CTL_IPNET_STR];

	/* 1.6.1 compares Ips[0] as "10.1.0.1/16": address and mask. */
	ctl_ipnet_format(&old->ips[0], o, sizeof(o));
	ctl_ipnet_format(&next->ips[0], n, sizeof(n));
	if (strcmp(o, n))
		return vl_status_set(
			st, -EINVAL,
			"IP in new cert was different from old: new_ip %s, old_ip %s; IP changes are not supported, restart to apply",
			n, o);
	if (!same_nets(old->ips, old->n_ips, next->ips, next->n_ips) ||
	    !same_nets(old->subnets, old->n_subnets, next->subnets,
		       next->n_subnets))
		return vl_status_set(
			st, -EINVAL,
			"the IPs or subnets in the new cert differ from the old: the dataplane's local networks cannot change while it runs, restart to apply");
	return 0;
}

int ctl_pki_reload_own(struct ctl_pki *pki, const struct ctl_config *cfg,
		       const struct timespec *now, struct vl_status *st)
{
	struct ctl_pki next;
	int err;

	memset(&next, 0, sizeof(next));
	ctl_capool_init(&next.pool);
	err = load_own(&next, cfg, now, st);
	if (!err)
		err = ctl_pki_check_replace(pki->cert, next.cert, st);
	if (err) {
		ctl_pki_free(&next);
		return err;
	}
	/* Everything checked: swap, and wipe the old key with the rest. */
	ctl_cert_free(pki->cert);
	free(pki->hs_cert);
	pki->cert = next.cert;
	pki->hs_cert = next.hs_cert;
	pki->hs_cert_len = next.hs_cert_len;
	memcpy(pki->key, next.key, sizeof(pki->key));
	pki->vpn_ip = next.vpn_ip;
	pki->vpn_mask = next.vpn_mask;
	next.cert = NULL;
	next.hs_cert = NULL;
	ctl_pki_free(&next);
	return 0;
}

void ctl_pki_free(struct ctl_pki *pki)
{
	ctl_capool_free(&pki->pool);
	ctl_cert_free(pki->cert);
	free(pki->hs_cert);
	sodium_memzero(pki->key, sizeof(pki->key));
	memset(pki, 0, sizeof(*pki));
}
