/* SPDX-License-Identifier: MIT */
#include "capool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pem.h"
#include "status.h"

/*
 * A pool holds a handful of CAs and a short blocklist, searched once per
 * handshake: linear arrays beat any index at this size.
 */

void ctl_capool_init(struct ctl_capool *pool)
{
	memset(pool, 0, sizeof(*pool));
}

void ctl_capool_free(struct ctl_capool *pool)
{
	for (size_t i = 0; i < pool->n_cas; i++)
		ctl_cert_free(pool->cas[i]);
	free(pool->cas);
	free(pool->ca_fps);
	free(pool->blocked);
	ctl_capool_init(pool);
}

static int append_ca(struct ctl_capool *pool, struct ctl_cert *ca,
		     const uint8_t fp[CTL_CERT_FP_LEN])
{
	struct ctl_cert **cas;
	uint8_t(*fps)[CTL_CERT_FP_LEN];

	/* The same CA twice in a bundle is one CA, as in 1.6.1's map. */
	for (size_t i = 0; i < pool->n_cas; i++) {
		if (memcmp(pool->ca_fps[i], fp, CTL_CERT_FP_LEN) == 0) {
			ctl_cert_free(pool->cas[i]);
			pool->cas[i] = ca;
			return 0;
		}
	}
	cas = realloc(pool->cas, (pool->n_cas + 1) * sizeof(*cas));
	if (!cas)
		return -ENOMEM;
	pool->cas = cas;
	fps = realloc(pool->ca_fps, (pool->n_cas + 1) * sizeof(*fps));
	if (!fps)
		return -ENOMEM;
	pool->ca_fps = fps;
	pool->cas[pool->n_cas] = ca;
	memcpy(pool->ca_fps[pool->n_cas], fp, CTL_CERT_FP_LEN);
	pool->n_cas++;
	return 0;
}

int ctl_capool_add_pem(struct ctl_capool *pool, const uint8_t *in, size_t len,
		       const struct timespec *now, size_t *consumed,
		       struct vl_status *st)
{
	uint8_t fp[CTL_CERT_FP_LEN];
	struct ctl_cert *ca;
	int err;

	err = ctl_cert_decode_pem(in, len, &ca, consumed, st);
	if (err)
		return err;
	if (!ca->is_ca) {
		err = vl_status_set(st, -EINVAL, "%s: certificate is not a CA",
				    ca->name);
		goto free_ca;
	}
	if (!ctl_cert_check_signature(ca, ca->pubkey, ca->pubkey_len)) {
		err = vl_status_set(st, -EINVAL,
				    "%s: certificate is not self-signed",
				    ca->name);
		goto free_ca;
	}
	if (ctl_cert_fingerprint(ca, fp) || append_ca(pool, ca, fp)) {
		err = vl_status_set(st, -ENOMEM, "out of memory");
		goto free_ca;
	}
	/* The pool owns @ca from here on, expired or not. */
	if (ctl_cert_expired(ca, now))
		return vl_status_set(st, -EKEYEXPIRED,
				     "%s: certificate is expired", ca->name);
	return 0;

free_ca:
	ctl_cert_free(ca);
	return err;
}

int ctl_capool_load_pem(struct ctl_capool *pool, const uint8_t *in, size_t len,
			const struct timespec *now, size_t *n_expired,
			struct vl_status *st)
{
	struct ctl_capool fresh;
	size_t off = 0, used, added = 0;
	int err = 0;

	*n_expired = 0;
	ctl_capool_init(&fresh);
	while (off < len && !ctl_pem_is_blank(in + off, len - off)) {
		err = ctl_capool_add_pem(&fresh, in + off, len - off, now,
					 &used, st);
		if (err == -EKEYEXPIRED) {
			(*n_expired)++;
			err = 0;
		}
		if (err)
			goto free_fresh;
		added++;
		off += used;
	}
	if (!added) {
		err = vl_status_set(st, -ENOENT, "no CA certificate found");
		goto free_fresh;
	}

	/* All of the bundle parsed: only now does the pool change. */
	for (size_t i = 0; i < fresh.n_cas; i++) {
		if (append_ca(pool, fresh.cas[i], fresh.ca_fps[i])) {
			err = vl_status_set(st, -ENOMEM, "out of memory");
			/* CAs already moved belong to @pool now. */
			for (size_t k = 0; k < i; k++)
				fresh.cas[k] = NULL;
			goto free_fresh;
		}
	}
	free(fresh.cas);
	free(fresh.ca_fps);
	return 0;

free_fresh:
	for (size_t i = 0; i < fresh.n_cas; i++)
		ctl_cert_free(fresh.cas[i]);
	free(fresh.cas);
	free(fresh.ca_fps);
	return err;
}

const struct ctl_cert *ctl_capool_find(const struct ctl_capool *pool,
				       const uint8_t *fp, size_t fp_len)
{
	if (fp_len != CTL_CERT_FP_LEN)
		return NULL;
	for (size_t i = 0; i < pool->n_cas; i++)
		if (memcmp(pool->ca_fps[i], fp, CTL_CERT_FP_LEN) == 0)
			return pool->cas[i];
	return NULL;
}

int ctl_capool_block(struct ctl_capool *pool, const uint8_t fp[CTL_CERT_FP_LEN])
{
	uint8_t(*blocked)[CTL_CERT_FP_LEN];

	if (ctl_capool_is_blocked(pool, fp))
		return 0;
	blocked = realloc(pool->blocked,
			  (pool->n_blocked + 1) * sizeof(*blocked));
	if (!blocked)
		return -ENOMEM;
	pool->blocked = blocked;
	memcpy(pool->blocked[pool->n_blocked++], fp, CTL_CERT_FP_LEN);
	return 0;
}

bool ctl_capool_is_blocked(const struct ctl_capool *pool,
			   const uint8_t fp[CTL_CERT_FP_LEN])
{
	for (size_t i = 0; i < pool->n_blocked; i++)
		if (memcmp(pool->blocked[i], fp, CTL_CERT_FP_LEN) == 0)
			return true;
	return false;
}
