/* SPDX-License-Identifier: MIT */
/*
 * vela-cert: the Nebula PKI tool, a drop-in for nebula-cert 1.6.1. Same
 * modes, flags, defaults and output (files, print text and JSON), so scripts
 * and documentation written for nebula-cert keep working, and every file
 * either tool writes is accepted by the other.
 *
 * Where we differ, it is to refuse what nebula-cert would quietly get wrong:
 * no mode overwrites an existing file (nebula-cert's keygen and -out-qr do),
 * outputs appear all together or not at all, and every error names the file
 * it is about. verify also takes -blocklist, the pki.blocklist of a node.
 */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "capool.h"
#include "cert.h"
#include "cert_print.h"
#include "file.h"
#include "flags.h"
#include "ipnet.h"
#include "keys.h"
#include "outfile.h"
#include "pem.h"
#include "qr.h"
#include "status.h"

#ifndef VELA_VERSION
#define VELA_VERSION "unknown"
#endif

#define NSEC_PER_SEC INT64_C(1000000000)
#define INPUT_MAX (16u << 20) /* no PEM file is anywhere near this */

/* Exit statuses, as nebula-cert's. */
enum { EXIT_OK = 0, EXIT_ERR = 1 };

struct mode {
	const char *name;
	const char *summary;
	int (*run)(const struct mode *m, int argc, char **argv);
	const struct vl_flag *flags;
	size_t n_flags;
	const void *defaults;
};

static const char *prog = "vela-cert";

static int fail(const struct vl_status *st)
{
	fprintf(stderr, "Error: %s\n", st->msg);
	return EXIT_ERR;
}

static void mode_help(const struct mode *m, FILE *out)
{
	fprintf(out, "Usage of %s %s\n", prog, m->summary);
	vl_flags_print_defaults(out, m->flags, m->n_flags, m->defaults);
}

/* A usage mistake: the error, then the mode's flags (nebula-cert's helpError). */
static int fail_usage(const struct mode *m, const struct vl_status *st)
{
	fail(st);
	mode_help(m, stderr);
	return EXIT_ERR;
}

/* Parses a mode's flags into @opts; returns -1 to go on, else the exit status. */
static int parse_mode_flags(const struct mode *m, void *opts, int argc,
			    char **argv)
{
	struct vl_status st = { "" };
	int used, err;

	err = vl_flags_parse(m->flags, m->n_flags, opts, argc, argv, &used,
			     &st);
	if (err == VL_FLAGS_HELP) {
		mode_help(m, stderr);
		return EXIT_OK;
	}
	if (err < 0)
		return fail(&st);
	return -1;
}

static int require(const struct mode *m, const char *flag, const char *value)
{
	struct vl_status st;

	if (value && *value)
		return 0;
	vl_status_set(&st, -EINVAL, "-%s is required", flag);
	fail_usage(m, &st);
	return -EINVAL;
}

static struct timespec now_ts(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NSEC_PER_SEC + ts->tv_nsec;
}

/* Floor division, as Go's Time.Unix() of a time after Add(). */
static int64_t ns_to_sec(int64_t ns)
{
	return ns >= 0 ? ns / NSEC_PER_SEC : -((-ns + NSEC_PER_SEC - 1) / NSEC_PER_SEC);
}

/* A comma-separated flag value split into trimmed, non-empty items. */
struct list {
	char *copy; /* the items point into it */
	char **items;
	size_t n;
};

static void list_free(struct list *l)
{
	free(l->copy);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* nebula-cert's strings.Split(v, ",") + TrimSpace, dropping empty items. */
static int split_list(const char *value, struct list *l, struct vl_status *st)
{
	char *save = NULL, *tok;
	size_t max = 1;

	memset(l, 0, sizeof(*l));
	l->copy = strdup(value ? value : "");
	for (const char *p = l->copy; p && *p; p++)
		max += *p == ',';
	l->items = calloc(max, sizeof(*l->items));
	if (!l->copy || !l->items) {
		list_free(l);
		return vl_status_set(st, -ENOMEM, "out of memory");
	}
	for (tok = strtok_r(l->copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end = tok + strlen(tok);

		while (*tok == ' ' || *tok == '\t' || *tok == '\n' ||
		       *tok == '\r')
			tok++;
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t' ||
				     end[-1] == '\n' || end[-1] == '\r'))
			*--end = '\0';
		if (*tok)
			l->items[l->n++] = tok;
	}
	return 0;
}

/*
 * An IPv4 CIDR. @keep_host keeps the address as written (-ip, CA -ips);
 * otherwise the network address is stored (-subnets), as nebula-cert does.
 */
static int parse_cidr(const char *s, bool keep_host, struct ctl_ipnet *out,
		      const char *what, struct vl_status *st)
{
	int err = vl_cidr4_parse(s, &out->ip, &out->mask);

	if (err == -EAFNOSUPPORT)
		return vl_status_set(st, -EINVAL,
				     "invalid %s definition: can only be ipv4, have %s",
				     what, s);
	if (err)
		return vl_status_set(st, -EINVAL,
				     "invalid %s definition: invalid CIDR address: %s",
				     what, s);
	if (!keep_host)
		out->ip &= out->mask;
	return 0;
}

/* A list of CIDRs into a malloc'd array (NULL when empty). */
static int parse_nets(const char *value, bool keep_host, const char *what,
		      struct ctl_ipnet **nets, size_t *n, struct vl_status *st)
{
	struct list l;
	int err;

	*nets = NULL;
	*n = 0;
	err = split_list(value, &l, st);
	if (err)
		return err;
	if (l.n) {
		*nets = calloc(l.n, sizeof(**nets));
		if (!*nets)
			err = vl_status_set(st, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; !err && i < l.n; i++)
		err = parse_cidr(l.items[i], keep_host, &(*nets)[i], what, st);
	if (err) {
		free(*nets);
		*nets = NULL;
	} else {
		*n = l.n;
	}
	list_free(&l);
	return err;
}

/* Stages the QR code of @text as a PNG when -out-qr was given. */
static int stage_qr(struct ctl_outfile *f, const char *path, const char *text,
		    size_t len, struct vl_status *st)
{
	uint8_t *png;
	size_t png_len;
	int err;

	err = ctl_qr_png((const uint8_t *)text, len, &png, &png_len, st);
	if (err) {
		vl_status_prefix(st, "%s: cannot make a QR code: ", path);
		return err;
	}
	err = ctl_outfile_stage(f, path, png, png_len, st);
	free(png);
	return err;
}

/* Output file names, checked before any work so a refusal costs nothing. */
static int refuse_existing(const char *path, const char *what,
			   struct vl_status *st)
{
	struct stat sb;

	if (path && *path && lstat(path, &sb) == 0)
		return vl_status_set(st, -EEXIST,
				     "refusing to overwrite existing %s: %s",
				     what, path);
	return 0;
}

static int commit(struct ctl_outfile *files, size_t n, struct vl_status *st)
{
	int err = ctl_outfile_commit(files, n, st);

	ctl_outfile_discard(files, n);
	return err;
}

/* ---- ca ---------------------------------------------------------------- */

struct ca_opts {
	const char *name;
	int64_t duration;
	const char *out_key;
	const char *out_crt;
	const char *out_qr;
	const char *groups;
	const char *ips;
	const char *subnets;
};

static const struct ca_opts ca_defaults = {
	.duration = INT64_C(8760) * 3600 * NSEC_PER_SEC,
	.out_key = "ca.key",
	.out_crt = "ca.crt",
};

static const struct vl_flag ca_flags[] = {
	{ "name", VL_FLAG_STRING, offsetof(struct ca_opts, name),
	  "Required: name of the certificate authority" },
	{ "duration", VL_FLAG_DURATION, offsetof(struct ca_opts, duration),
	  "Optional: amount of time the certificate should be valid for. Valid time units are seconds: \"s\", minutes: \"m\", hours: \"h\"" },
	{ "out-key", VL_FLAG_STRING, offsetof(struct ca_opts, out_key),
	  "Optional: path to write the private key to" },
	{ "out-crt", VL_FLAG_STRING, offsetof(struct ca_opts, out_crt),
	  "Optional: path to write the certificate to" },
	{ "out-qr", VL_FLAG_STRING, offsetof(struct ca_opts, out_qr),
	  "Optional: output a qr code image (png) of the certificate" },
	{ "groups", VL_FLAG_STRING, offsetof(struct ca_opts, groups),
	  "Optional: comma separated list of groups. This will limit which groups subordinate certs can use" },
	{ "ips", VL_FLAG_STRING, offsetof(struct ca_opts, ips),
	  "Optional: comma separated list of ipv4 address and network in CIDR notation. This will limit which ipv4 addresses and networks subordinate certs can use for ip addresses" },
	{ "subnets", VL_FLAG_STRING, offsetof(struct ca_opts, subnets),
	  "Optional: comma separated list of ipv4 address and network in CIDR notation. This will limit which ipv4 addresses and networks subordinate certs can use in subnets" },
};

static int run_ca(const struct mode *m, int argc, char **argv)
{
	struct ca_opts o = ca_defaults;
	struct ctl_ipnet *ips = NULL, *subnets = NULL;
	char *key_pem = NULL, *crt_pem = NULL;
	uint8_t sk[CTL_ED25519_SK_LEN];
	struct list groups = { 0 };
	struct ctl_outfile out[3] = { 0 };
	struct vl_status st = { "" };
	struct ctl_cert c = { 0 };
	struct timespec now;
	size_t n_out = 0, key_len = 0, crt_len;
	bool usage = false;
	int rc, err;

	rc = parse_mode_flags(m, &o, argc, argv);
	if (rc >= 0)
		return rc;
	if (require(m, "name", o.name) || require(m, "out-key", o.out_key) ||
	    require(m, "out-crt", o.out_crt))
		return EXIT_ERR;
	if (o.duration <= 0) {
		vl_status_set(&st, -EINVAL, "-duration must be greater than 0");
		return fail_usage(m, &st);
	}
	err = split_list(o.groups, &groups, &st);
	if (!err)
		err = parse_nets(o.ips, true, "ip", &ips, &c.n_ips, &st);
	if (!err)
		err = parse_nets(o.subnets, false, "subnet", &subnets,
				 &c.n_subnets, &st);
	c.name = o.name;
	c.groups = (const char *const *)groups.items;
	c.n_groups = groups.n;
	c.ips = ips;
	c.subnets = subnets;
	usage = err == -EINVAL; /* a malformed CIDR */
	if (!err) {
		/* Nebula cannot read a name or group that is not UTF-8. */
		err = ctl_cert_check_text(&c, &st);
		if (err)
			vl_status_prefix(&st, "certificate ");
	}
	if (err)
		goto out;

	err = refuse_existing(o.out_key, "CA key", &st);
	if (!err)
		err = refuse_existing(o.out_crt, "CA cert", &st);
	if (!err)
		err = refuse_existing(o.out_qr, "QR code", &st);
	if (err)
		goto out;

	now = now_ts();
	c.not_before = now.tv_sec;
	if (__builtin_add_overflow(ts_ns(&now), o.duration, &c.not_after)) {
		err = vl_status_set(&st, -ERANGE, "-duration is too long");
		goto out;
	}
	c.not_after = ns_to_sec(c.not_after);
	c.is_ca = true;
	ctl_key_ed25519_generate(sk, c.pubkey);
	c.pubkey_len = CTL_ED25519_PK_LEN;

	err = ctl_cert_sign(&c, sk);
	if (!err)
		err = ctl_cert_encode_pem(&c, &crt_pem, &crt_len);
	key_pem = ctl_pem_encode(CTL_PEM_ED25519_PRIVATE, sk, sizeof(sk),
				 &key_len);
	if (err || !key_pem) {
		err = vl_status_set(&st, -ENOMEM, "out of memory");
		goto out;
	}
	err = ctl_outfile_stage(&out[n_out++], o.out_key, key_pem, key_len, &st);
	if (!err)
		err = ctl_outfile_stage(&out[n_out++], o.out_crt, crt_pem,
					crt_len, &st);
	if (!err && o.out_qr && *o.out_qr)
		err = stage_qr(&out[n_out++], o.out_qr, crt_pem, crt_len, &st);
	if (!err)
		err = commit(out, n_out, &st);
	else
		ctl_outfile_discard(out, n_out);

out:
	sodium_memzero(sk, sizeof(sk));
	if (key_pem)
		sodium_memzero(key_pem, key_len);
	free(key_pem);
	free(crt_pem);
	free(ips);
	free(subnets);
	list_free(&groups);
	if (err)
		return usage ? fail_usage(m, &st) : fail(&st);
	return EXIT_OK;
}

/* ---- keygen ------------------------------------------------------------ */

struct keygen_opts {
	const char *out_key;
	const char *out_pub;
};

static const struct keygen_opts keygen_defaults = { 0 };

static const struct vl_flag keygen_flags[] = {
	{ "out-pub", VL_FLAG_STRING, offsetof(struct keygen_opts, out_pub),
	  "Required: path to write the public key to" },
	{ "out-key", VL_FLAG_STRING, offsetof(struct keygen_opts, out_key),
	  "Required: path to write the private key to" },
};

static int run_keygen(const struct mode *m, int argc, char **argv)
{
	struct keygen_opts o = keygen_defaults;
	uint8_t priv[CTL_X25519_KEY_LEN], pub[CTL_X25519_KEY_LEN];
	struct vl_status st = { "" };
	struct ctl_outfile out[2] = { 0 };
	char *key_pem, *pub_pem;
	size_t key_len = 0, pub_len = 0;
	int rc, err;

	rc = parse_mode_flags(m, &o, argc, argv);
	if (rc >= 0)
		return rc;
	if (require(m, "out-key", o.out_key) ||
	    require(m, "out-pub", o.out_pub))
		return EXIT_ERR;
	err = refuse_existing(o.out_key, "key", &st);
	if (!err)
		err = refuse_existing(o.out_pub, "public key", &st);
	if (err)
		return fail(&st);

	ctl_key_x25519_generate(priv, pub);
	key_pem = ctl_pem_encode(CTL_PEM_X25519_PRIVATE, priv, sizeof(priv),
				 &key_len);
	pub_pem = ctl_pem_encode(CTL_PEM_X25519_PUBLIC, pub, sizeof(pub),
				 &pub_len);
	sodium_memzero(priv, sizeof(priv));
	if (!key_pem || !pub_pem) {
		err = vl_status_set(&st, -ENOMEM, "out of memory");
		goto out;
	}
	err = ctl_outfile_stage(&out[0], o.out_key, key_pem, key_len, &st);
	if (err)
		goto out;
	err = ctl_outfile_stage(&out[1], o.out_pub, pub_pem, pub_len, &st);
	if (err) {
		ctl_outfile_discard(out, 1);
		goto out;
	}
	err = commit(out, 2, &st);
out:
	if (key_pem)
		sodium_memzero(key_pem, key_len);
	free(key_pem);
	free(pub_pem);
	return err ? fail(&st) : EXIT_OK;
}

/* ---- sign -------------------------------------------------------------- */

struct sign_opts {
	const char *ca_key;
	const char *ca_crt;
	const char *name;
	const char *ip;
	int64_t duration;
	const char *in_pub;
	const char *out_key;
	const char *out_crt;
	const char *out_qr;
	const char *groups;
	const char *subnets;
};

static const struct sign_opts sign_defaults = {
	.ca_key = "ca.key",
	.ca_crt = "ca.crt",
};

static const struct vl_flag sign_flags[] = {
	{ "ca-key", VL_FLAG_STRING, offsetof(struct sign_opts, ca_key),
	  "Optional: path to the signing CA key" },
	{ "ca-crt", VL_FLAG_STRING, offsetof(struct sign_opts, ca_crt),
	  "Optional: path to the signing CA cert" },
	{ "name", VL_FLAG_STRING, offsetof(struct sign_opts, name),
	  "Required: name of the cert, usually a hostname" },
	{ "ip", VL_FLAG_STRING, offsetof(struct sign_opts, ip),
	  "Required: ipv4 address and network in CIDR notation to assign the cert" },
	{ "duration", VL_FLAG_DURATION, offsetof(struct sign_opts, duration),
	  "Optional: how long the cert should be valid for. The default is 1 second before the signing cert expires. Valid time units are seconds: \"s\", minutes: \"m\", hours: \"h\"" },
	{ "in-pub", VL_FLAG_STRING, offsetof(struct sign_opts, in_pub),
	  "Optional (if out-key not set): path to read a previously generated public key" },
	{ "out-key", VL_FLAG_STRING, offsetof(struct sign_opts, out_key),
	  "Optional (if in-pub not set): path to write the private key to" },
	{ "out-crt", VL_FLAG_STRING, offsetof(struct sign_opts, out_crt),
	  "Optional: path to write the certificate to" },
	{ "out-qr", VL_FLAG_STRING, offsetof(struct sign_opts, out_qr),
	  "Optional: output a qr code image (png) of the certificate" },
	{ "groups", VL_FLAG_STRING, offsetof(struct sign_opts, groups),
	  "Optional: comma separated list of groups" },
	{ "subnets", VL_FLAG_STRING, offsetof(struct sign_opts, subnets),
	  "Optional: comma separated list of ipv4 address and network in CIDR notation. Subnets this cert can serve for" },
};

/* Loads the CA key and certificate and checks that they belong together. */
static int load_ca(const struct sign_opts *o, uint8_t sk[CTL_ED25519_SK_LEN],
		   struct ctl_cert **ca, const struct timespec *now,
		   struct vl_status *st)
{
	uint8_t *buf;
	size_t len, used;
	int err;

	err = vl_read_file(o->ca_key, INPUT_MAX, &buf, &len, st);
	if (err)
		return err;
	err = ctl_key_decode_pem(buf, len, CTL_PEM_ED25519_PRIVATE, sk,
				 CTL_ED25519_SK_LEN, st);
	vl_free_secret(buf, len);
	if (err) {
		vl_status_prefix(st, "%s: ", o->ca_key);
		return err;
	}

	err = vl_read_file(o->ca_crt, INPUT_MAX, &buf, &len, st);
	if (err)
		return err;
	err = ctl_cert_decode_pem(buf, len, ca, &used, st);
	free(buf);
	if (err) {
		vl_status_prefix(st, "%s: ", o->ca_crt);
		return err;
	}
	if (!(*ca)->is_ca)
		err = vl_status_set(st, -EINVAL, "%s: certificate is not a CA",
				    o->ca_crt);
	else if (ctl_cert_check_private_key(*ca, sk, CTL_ED25519_SK_LEN, st))
		err = vl_status_set(st, -EKEYREJECTED,
				    "refusing to sign, root certificate does not match private key: %s is not the key of %s",
				    o->ca_key, o->ca_crt);
	else if (ctl_cert_expired(*ca, now))
		err = vl_status_set(st, -EKEYEXPIRED,
				    "%s: ca certificate is expired", o->ca_crt);
	if (err) {
		ctl_cert_free(*ca);
		*ca = NULL;
	}
	return err;
}

static int read_public_key(const char *path, uint8_t pub[CTL_X25519_KEY_LEN],
			   struct vl_status *st)
{
	uint8_t *buf;
	size_t len;
	int err;

	err = vl_read_file(path, INPUT_MAX, &buf, &len, st);
	if (err)
		return err;
	err = ctl_key_decode_pem(buf, len, CTL_PEM_X25519_PUBLIC, pub,
				 CTL_X25519_KEY_LEN, st);
	free(buf);
	if (err)
		vl_status_prefix(st, "%s: ", path);
	return err;
}

static int run_sign(const struct mode *m, int argc, char **argv)
{
	struct sign_opts o = sign_defaults;
	struct ctl_ipnet ip, *subnets = NULL;
	struct list groups = { 0 };
	char *key_pem = NULL, *crt_pem = NULL, *out_key = NULL;
	char *out_crt = NULL;
	uint8_t sk[CTL_ED25519_SK_LEN], priv[CTL_X25519_KEY_LEN];
	uint8_t fp[CTL_CERT_FP_LEN];
	struct ctl_cert c = { 0 }, *ca = NULL;
	struct vl_status st = { "" };
	struct ctl_outfile out[3] = { 0 };
	size_t n_out = 0, key_len = 0, crt_len = 0;
	struct timespec now;
	bool usage = false;
	int rc, err;

	rc = parse_mode_flags(m, &o, argc, argv);
	if (rc >= 0)
		return rc;
	if (require(m, "ca-key", o.ca_key) || require(m, "ca-crt", o.ca_crt) ||
	    require(m, "name", o.name) || require(m, "ip", o.ip))
		return EXIT_ERR;
	if (o.in_pub && *o.in_pub && o.out_key && *o.out_key) {
		vl_status_set(&st, -EINVAL, "cannot set both -in-pub and -out-key");
		return fail_usage(m, &st);
	}

	now = now_ts();
	err = load_ca(&o, sk, &ca, &now, &st);
	if (err)
		goto out;
	err = ctl_cert_fingerprint(ca, fp);
	if (err) {
		vl_status_set(&st, err, "out of memory");
		goto out;
	}

	err = parse_cidr(o.ip, true, &ip, "ip", &st);
	if (!err)
		err = split_list(o.groups, &groups, &st);
	if (!err)
		err = parse_nets(o.subnets, false, "subnet", &subnets,
				 &c.n_subnets, &st);
	c.name = o.name;
	c.ips = &ip;
	c.n_ips = 1;
	c.subnets = subnets;
	c.groups = (const char *const *)groups.items;
	c.n_groups = groups.n;
	usage = err == -EINVAL; /* a malformed CIDR */
	if (!err) {
		/* Nebula cannot read a name or group that is not UTF-8. */
		err = ctl_cert_check_text(&c, &st);
		if (err)
			vl_status_prefix(&st, "certificate ");
	}
	if (err)
		goto out;

	if (o.in_pub && *o.in_pub) {
		err = read_public_key(o.in_pub, c.pubkey, &st);
		if (err)
			goto out;
	} else {
		ctl_key_x25519_generate(priv, c.pubkey);
	}
	c.pubkey_len = CTL_X25519_KEY_LEN;
	c.not_before = now.tv_sec;
	if (o.duration <= 0) {
		/* The default: expire one second before the CA does. */
		c.not_after = ca->not_after - 1;
	} else if (__builtin_add_overflow(ts_ns(&now), o.duration,
					  &c.not_after)) {
		err = vl_status_set(&st, -ERANGE, "-duration is too long");
		goto out;
	} else {
		c.not_after = ns_to_sec(c.not_after);
	}
	memcpy(c.issuer, fp, sizeof(fp));
	c.issuer_len = sizeof(fp);

	err = ctl_cert_check_root_constraints(&c, ca, &st);
	if (err) {
		vl_status_prefix(&st, "refusing to sign, root certificate constraints violated (%s): ",
				 o.ca_crt);
		goto out;
	}

	if ((!o.out_key || !*o.out_key) && asprintf(&out_key, "%s.key", o.name) < 0)
		out_key = NULL;
	if ((!o.out_crt || !*o.out_crt) && asprintf(&out_crt, "%s.crt", o.name) < 0)
		out_crt = NULL;
	if (!(o.out_key && *o.out_key))
		o.out_key = out_key;
	if (!(o.out_crt && *o.out_crt))
		o.out_crt = out_crt;
	if (!o.out_key || !o.out_crt) {
		err = vl_status_set(&st, -ENOMEM, "out of memory");
		goto out;
	}
	err = refuse_existing(o.out_crt, "cert", &st);
	if (!err && !(o.in_pub && *o.in_pub))
		err = refuse_existing(o.out_key, "key", &st);
	if (!err)
		err = refuse_existing(o.out_qr, "QR code", &st);
	if (err)
		goto out;

	err = ctl_cert_sign(&c, sk);
	if (!err)
		err = ctl_cert_encode_pem(&c, &crt_pem, &crt_len);
	if (err) {
		vl_status_set(&st, err, "out of memory");
		goto out;
	}
	if (!(o.in_pub && *o.in_pub)) {
		key_pem = ctl_pem_encode(CTL_PEM_X25519_PRIVATE, priv,
					 sizeof(priv), &key_len);
		if (!key_pem) {
			err = vl_status_set(&st, -ENOMEM, "out of memory");
			goto out;
		}
		err = ctl_outfile_stage(&out[n_out++], o.out_key, key_pem,
					key_len, &st);
	}
	if (!err)
		err = ctl_outfile_stage(&out[n_out++], o.out_crt, crt_pem,
					crt_len, &st);
	if (!err && o.out_qr && *o.out_qr)
		err = stage_qr(&out[n_out++], o.out_qr, crt_pem, crt_len, &st);
	if (!err)
		err = commit(out, n_out, &st);
	else
		ctl_outfile_discard(out, n_out);

out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(priv, sizeof(priv));
	if (key_pem) {
		sodium_memzero(key_pem, key_len);
		free(key_pem);
	}
	free(crt_pem);
	free(out_key);
	free(out_crt);
	free(subnets);
	list_free(&groups);
	ctl_cert_free(ca);
	if (err)
		return usage ? fail_usage(m, &st) : fail(&st);
	return EXIT_OK;
}

/* ---- print ------------------------------------------------------------- */

struct print_opts {
	bool json;
	const char *out_qr;
	const char *path;
};

static const struct print_opts print_defaults = { 0 };

static const struct vl_flag print_flags[] = {
	{ "json", VL_FLAG_BOOL, offsetof(struct print_opts, json),
	  "Optional: outputs certificates in json format" },
	{ "out-qr", VL_FLAG_STRING, offsetof(struct print_opts, out_qr),
	  "Optional: output a qr code image (png) of the certificate" },
	{ "path", VL_FLAG_STRING, offsetof(struct print_opts, path),
	  "Required: path to the certificate" },
};

static int run_print(const struct mode *m, int argc, char **argv)
{
	struct print_opts o = print_defaults;
	struct ctl_cert **certs = NULL;
	struct vl_status st = { "" };
	char *qr_text = NULL;
	size_t qr_len = 0, n = 0, off = 0, len, used;
	struct ctl_outfile out = { 0 };
	uint8_t *buf;
	int rc, err;

	rc = parse_mode_flags(m, &o, argc, argv);
	if (rc >= 0)
		return rc;
	if (require(m, "path", o.path))
		return EXIT_ERR;
	err = refuse_existing(o.out_qr, "QR code", &st);
	if (err)
		return fail(&st);
	err = vl_read_file(o.path, INPUT_MAX, &buf, &len, &st);
	if (err)
		return fail(&st);

	/* Parse the whole file first: a bad block prints nothing at all. */
	do {
		struct ctl_cert **more = realloc(certs, (n + 1) * sizeof(*certs));

		if (!more) {
			err = vl_status_set(&st, -ENOMEM, "out of memory");
			goto out;
		}
		certs = more;
		err = ctl_cert_decode_pem(buf + off, len - off, &certs[n],
					  &used, &st);
		if (err) {
			vl_status_prefix(&st, "%s: certificate %zu: ", o.path,
					 n + 1);
			goto out;
		}
		n++;
		off += used;
	} while (!ctl_pem_is_blank(buf + off, len - off));

	if (o.out_qr && *o.out_qr) {
		FILE *qr = open_memstream(&qr_text, &qr_len);

		for (size_t i = 0; qr && i < n && !err; i++) {
			char *pem;
			size_t pem_len;

			err = ctl_cert_encode_pem(certs[i], &pem, &pem_len);
			if (!err)
				fwrite(pem, 1, pem_len, qr);
			free(pem);
		}
		if (!qr || fclose(qr) || err) {
			err = vl_status_set(&st, -ENOMEM, "out of memory");
			goto out;
		}
		err = stage_qr(&out, o.out_qr, qr_text, qr_len, &st);
		if (err)
			goto out;
	}
	for (size_t i = 0; i < n && !err; i++) {
		err = o.json ? ctl_cert_print_json(stdout, certs[i]) :
			       ctl_cert_print_text(stdout, certs[i]);
		putchar('\n');
	}
	if (!err && o.out_qr && *o.out_qr)
		err = commit(&out, 1, &st);
	if (err && !st.msg[0])
		vl_status_set(&st, err, "out of memory");

out:
	for (size_t i = 0; i < n; i++)
		ctl_cert_free(certs[i]);
	free(certs);
	free(qr_text);
	free(buf);
	return err ? fail(&st) : EXIT_OK;
}

/* ---- verify ------------------------------------------------------------ */

struct verify_opts {
	const char *ca;
	const char *crt;
	const char *blocklist;
};

static const struct verify_opts verify_defaults = { 0 };

static const struct vl_flag verify_flags[] = {
	{ "ca", VL_FLAG_STRING, offsetof(struct verify_opts, ca),
	  "Required: path to a file containing one or more ca certificates" },
	{ "crt", VL_FLAG_STRING, offsetof(struct verify_opts, crt),
	  "Required: path to a file containing a single certificate" },
	{ "blocklist", VL_FLAG_STRING, offsetof(struct verify_opts, blocklist),
	  "Optional (vela-cert only): comma separated list of blocked certificate fingerprints, as pki.blocklist" },
};

static int run_verify(const struct mode *m, int argc, char **argv)
{
	struct verify_opts o = verify_defaults;
	struct list blocked = { 0 };
	struct vl_status st = { "" };
	struct ctl_cert *c = NULL;
	struct ctl_capool pool;
	struct timespec now;
	size_t len, off = 0, used;
	uint8_t *buf = NULL;
	int rc, err;

	rc = parse_mode_flags(m, &o, argc, argv);
	if (rc >= 0)
		return rc;
	if (require(m, "ca", o.ca) || require(m, "crt", o.crt))
		return EXIT_ERR;

	ctl_capool_init(&pool);
	err = split_list(o.blocklist, &blocked, &st);
	for (size_t i = 0; !err && i < blocked.n; i++) {
		uint8_t fp[CTL_CERT_FP_LEN];

		if (ctl_cert_fp_parse(blocked.items[i], fp))
			err = vl_status_set(&st, -EINVAL,
					    "-blocklist: \"%s\" is not a fingerprint (64 hex digits)",
					    blocked.items[i]);
		else if (ctl_capool_block(&pool, fp))
			err = vl_status_set(&st, -ENOMEM, "out of memory");
	}
	if (err)
		goto out;

	/* Like nebula-cert, every CA in the file must be valid and current. */
	now = now_ts();
	err = vl_read_file(o.ca, INPUT_MAX, &buf, &len, &st);
	if (err)
		goto out;
	do {
		err = ctl_capool_add_pem(&pool, buf + off, len - off, &now,
					 &used, &st);
		if (err) {
			vl_status_prefix(&st, "%s: ", o.ca);
			goto out;
		}
		off += used;
	} while (!ctl_pem_is_blank(buf + off, len - off));
	free(buf);
	buf = NULL;

	err = vl_read_file(o.crt, INPUT_MAX, &buf, &len, &st);
	if (err)
		goto out;
	err = ctl_cert_decode_pem(buf, len, &c, &used, &st);
	if (!err)
		err = ctl_cert_verify(c, &now, &pool, &st);
	if (err)
		vl_status_prefix(&st, "%s: ", o.crt);
out:
	ctl_cert_free(c);
	ctl_capool_free(&pool);
	free(buf);
	list_free(&blocked);
	return err ? fail(&st) : EXIT_OK;
}

/* ---- main -------------------------------------------------------------- */

#define N_FLAGS(f) (sizeof(f) / sizeof((f)[0]))

static const struct mode modes[] = {
	{ "ca", "ca <flags>: create a self signed certificate authority",
	  run_ca, ca_flags, N_FLAGS(ca_flags), &ca_defaults },
	{ "keygen",
	  "keygen <flags>: create a public/private key pair. the public key can be passed to `vela-cert sign`",
	  run_keygen, keygen_flags, N_FLAGS(keygen_flags), &keygen_defaults },
	{ "sign", "sign <flags>: create and sign a certificate", run_sign,
	  sign_flags, N_FLAGS(sign_flags), &sign_defaults },
	{ "print", "print <flags>: prints details about a certificate",
	  run_print, print_flags, N_FLAGS(print_flags), &print_defaults },
	{ "verify",
	  "verify <flags>: verifies a certificate isn't expired and was signed by a trusted authority.",
	  run_verify, verify_flags, N_FLAGS(verify_flags), &verify_defaults },
};

struct global_opts {
	bool version;
	bool help;
	bool h;
};

static const struct vl_flag global_flags[] = {
	{ "version", VL_FLAG_BOOL, offsetof(struct global_opts, version),
	  "Print version" },
	{ "help", VL_FLAG_BOOL, offsetof(struct global_opts, help),
	  "Print command line usage" },
	{ "h", VL_FLAG_BOOL, offsetof(struct global_opts, h),
	  "Print command line usage" },
};

static void help(const char *err, FILE *out)
{
	if (err)
		fprintf(out, "Error: %s\n\n", err);
	fprintf(out, "Usage of %s <global flags> <mode>:\n", prog);
	fputs("  Global flags:\n"
	      "    -version: Prints the version\n"
	      "    -h, -help: Prints this help message\n"
	      "\n"
	      "  Modes:\n",
	      out);
	for (size_t i = 0; i < N_FLAGS(modes); i++)
		fprintf(out, "    %s\n", modes[i].summary);
}

int main(int argc, char **argv)
{
	struct global_opts g = { 0 };
	struct vl_status st = { "" };
	const char *slash;
	int used, err;

	if (argc > 0 && argv[0] && *argv[0]) {
		slash = strrchr(argv[0], '/');
		prog = slash ? slash + 1 : argv[0];
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "Error: libsodium failed to initialise\n");
		return EXIT_ERR;
	}

	err = vl_flags_parse(global_flags, N_FLAGS(global_flags), &g,
			     argc - 1, argv + 1, &used, &st);
	if (err < 0) {
		help(st.msg, stderr);
		return EXIT_ERR;
	}
	if (g.version) {
		printf("Version: %s\n", VELA_VERSION);
		return EXIT_OK;
	}
	used++; /* index into argv */
	if (used >= argc) {
		if (g.help || g.h) {
			help(NULL, stderr);
			return EXIT_OK;
		}
		help("No mode was provided", stderr);
		return EXIT_ERR;
	}
	for (size_t i = 0; i < N_FLAGS(modes); i++) {
		if (strcmp(argv[used], modes[i].name) != 0)
			continue;
		if (g.help || g.h) {
			mode_help(&modes[i], stderr);
			return EXIT_OK;
		}
		return modes[i].run(&modes[i], argc - used - 1, argv + used + 1);
	}
	fprintf(stderr, "Error: unknown mode: %s\n", argv[used]);
	return EXIT_ERR;
}
