/* SPDX-License-Identifier: MIT */
#include "cert.h"

#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "capool.h"
#include "cert.pb-c.h"
#include "pem.h"
#include "status.h"

/*
 * Decoding goes protobuf bytes -> protobuf-c message -> struct ctl_cert, and
 * encoding goes back through a protobuf-c message built from the struct. The
 * struct, not the received bytes, is the certificate: what 1.6.1 does not
 * know (unknown fields, a second encoding of the same value) does not
 * survive, and hashes are over the canonical form (spec §7.2). protobuf-c
 * packs fields in field-number order, omits proto3 zero values and packs
 * repeated integers, which is exactly google.golang.org/protobuf's output for
 * this schema; the Appendix A vectors check it byte for byte.
 */

enum encode_form {
	FORM_FULL,      /* RawNebulaCertificate */
	FORM_DETAILS,   /* RawNebulaCertificateDetails: what is signed */
	FORM_HANDSHAKE, /* RawNebulaCertificate without PublicKey (§3.5) */
};

/* A string field: valid UTF-8 as proto3 requires, and no NUL for C. */
static int check_text(const uint8_t *p, size_t len, const char *what,
		      struct vl_status *st)
{
	size_t i = 0;

	if (!len)
		return 0;
	if (memchr(p, '\0', len))
		return vl_status_set(st, -EINVAL, "%s contains a NUL byte", what);
	while (i < len) {
		uint8_t c = p[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4;
			cp = c & 0x07;
		} else {
			goto bad;
		}
		if (len - i < n)
			goto bad;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		i += n;
	}
	return 0;
bad:
	return vl_status_set(st, -EINVAL, "%s is not valid UTF-8", what);
}

static int add_size(size_t *total, size_t n)
{
	return __builtin_add_overflow(*total, n, total) ? -ENOMEM : 0;
}

/*
 * Builds the one-block struct ctl_cert from a decoded message. @pubkey, when
 * not NULL, replaces the message's public key (the handshake form).
 */
static int from_raw(const Cert__RawNebulaCertificate *raw,
		    const uint8_t *pubkey, struct ctl_cert **out,
		    struct vl_status *st)
{
	const Cert__RawNebulaCertificateDetails *d = raw->details;
	size_t pk_len = pubkey ? CTL_CERT_KEY_LEN : d ? d->publickey.len : 0;
	size_t n_ips, n_subnets, size = sizeof(struct ctl_cert);
	struct ctl_ipnet *nets;
	struct ctl_cert *c;
	const char **groups;
	char *text;
	int err;

	*out = NULL;
	if (!d)
		return vl_status_set(st, -EINVAL, "certificate has no details");
	if (d->n_ips % 2)
		return vl_status_set(st, -EINVAL,
				     "certificate IPs are not (address, mask) pairs: %zu values",
				     d->n_ips);
	if (d->n_subnets % 2)
		return vl_status_set(st, -EINVAL,
				     "certificate subnets are not (network, mask) pairs: %zu values",
				     d->n_subnets);
	if (pk_len < CTL_CERT_KEY_LEN || pk_len > CTL_CERT_PUBKEY_MAX)
		return vl_status_set(st, -EINVAL,
				     "certificate public key is %zu bytes, expected %d to %d",
				     pk_len, CTL_CERT_KEY_LEN,
				     CTL_CERT_PUBKEY_MAX);
	if (d->issuer.len > CTL_CERT_ISSUER_MAX)
		return vl_status_set(st, -EINVAL,
				     "certificate issuer is %zu bytes, at most %d allowed",
				     d->issuer.len, CTL_CERT_ISSUER_MAX);
	if (raw->signature.len > CTL_CERT_SIGNATURE_MAX)
		return vl_status_set(st, -EINVAL,
				     "certificate signature is %zu bytes, at most %d allowed",
				     raw->signature.len,
				     CTL_CERT_SIGNATURE_MAX);
	err = check_text(d->name.data, d->name.len, "certificate name", st);
	for (size_t i = 0; !err && i < d->n_groups; i++)
		err = check_text(d->groups[i].data, d->groups[i].len,
				 "certificate group", st);
	if (err)
		return err;

	/* Layout: struct | group pointers | ipnets | name and groups text. */
	n_ips = d->n_ips / 2;
	n_subnets = d->n_subnets / 2;
	_Static_assert(sizeof(struct ctl_cert) % alignof(char *) == 0,
		       "group pointers follow the struct");
	_Static_assert(sizeof(char *) % alignof(struct ctl_ipnet) == 0,
		       "ipnets follow the group pointers");
	err = add_size(&size, d->n_groups * sizeof(char *));
	if (!err)
		err = add_size(&size,
			       (n_ips + n_subnets) * sizeof(struct ctl_ipnet));
	if (!err)
		err = add_size(&size, d->name.len + 1);
	for (size_t i = 0; !err && i < d->n_groups; i++)
		err = add_size(&size, d->groups[i].len + 1);
	if (err)
		return vl_status_set(st, err, "certificate too large");

	c = calloc(1, size);
	if (!c)
		return vl_status_set(st, -ENOMEM, "out of memory");
	groups = (const char **)(c + 1);
	nets = (struct ctl_ipnet *)(groups + d->n_groups);
	text = (char *)(nets + n_ips + n_subnets);

	for (size_t i = 0; i < n_ips; i++)
		nets[i] = (struct ctl_ipnet){ d->ips[2 * i], d->ips[2 * i + 1] };
	for (size_t i = 0; i < n_subnets; i++)
		nets[n_ips + i] = (struct ctl_ipnet){ d->subnets[2 * i],
						      d->subnets[2 * i + 1] };
	c->ips = nets;
	c->n_ips = n_ips;
	c->subnets = nets + n_ips;
	c->n_subnets = n_subnets;

	c->name = text;
	if (d->name.len)
		memcpy(text, d->name.data, d->name.len);
	text += d->name.len + 1;
	for (size_t i = 0; i < d->n_groups; i++) {
		groups[i] = text;
		if (d->groups[i].len)
			memcpy(text, d->groups[i].data, d->groups[i].len);
		text += d->groups[i].len + 1;
	}
	c->groups = groups;
	c->n_groups = d->n_groups;

	c->not_before = d->notbefore;
	c->not_after = d->notafter;
	c->is_ca = d->isca;
	c->pubkey_len = pk_len;
	memcpy(c->pubkey, pubkey ? pubkey : d->publickey.data, pk_len);
	c->issuer_len = d->issuer.len;
	if (d->issuer.len)
		memcpy(c->issuer, d->issuer.data, d->issuer.len);
	c->sig_len = raw->signature.len;
	if (raw->signature.len)
		memcpy(c->sig, raw->signature.data, raw->signature.len);
	*out = c;
	return 0;
}

static int unpack(const uint8_t *buf, size_t len,
		  Cert__RawNebulaCertificate **raw, struct vl_status *st)
{
	if (!len)
		return vl_status_set(st, -EINVAL, "certificate is empty");
	*raw = cert__raw_nebula_certificate__unpack(NULL, len, buf);
	if (!*raw)
		return vl_status_set(st, -EINVAL,
				     "certificate is not a valid protobuf message");
	return 0;
}

int ctl_cert_decode(const uint8_t *buf, size_t len, struct ctl_cert **out,
		    struct vl_status *st)
{
	Cert__RawNebulaCertificate *raw;
	int err;

	*out = NULL;
	err = unpack(buf, len, &raw, st);
	if (err)
		return err;
	err = from_raw(raw, NULL, out, st);
	cert__raw_nebula_certificate__free_unpacked(raw, NULL);
	return err;
}

int ctl_cert_decode_handshake(const uint8_t *buf, size_t len,
			      const uint8_t rs[CTL_CERT_KEY_LEN],
			      struct ctl_cert **out, struct vl_status *st)
{
	Cert__RawNebulaCertificate *raw;
	int err;

	*out = NULL;
	err = unpack(buf, len, &raw, st);
	if (err)
		return err;
	/*
	 * 1.6.1 sets the key, re-encodes and decodes again; decoding with the
	 * key replaced gives the same certificate, since the re-encoding
	 * drops nothing that decoding keeps.
	 */
	err = from_raw(raw, rs, out, st);
	cert__raw_nebula_certificate__free_unpacked(raw, NULL);
	return err;
}

int ctl_cert_decode_pem(const uint8_t *in, size_t len, struct ctl_cert **out,
			size_t *consumed, struct vl_status *st)
{
	struct ctl_pem_block blk;
	int err;

	*out = NULL;
	err = ctl_pem_decode_expect(in, len, CTL_PEM_CERT, 0, &blk, consumed,
				    st);
	if (err)
		return err;
	err = ctl_cert_decode(blk.data, blk.len, out, st);
	ctl_pem_block_free(&blk);
	return err;
}

void ctl_cert_free(struct ctl_cert *c)
{
	free(c);
}

/* The scratch arrays a protobuf-c message borrows while it is packed. */
struct pack_buf {
	uint32_t *ips;
	uint32_t *subnets;
	ProtobufCBinaryData *groups;
};

static void pack_buf_free(struct pack_buf *pb)
{
	free(pb->ips);
	free(pb->subnets);
	free(pb->groups);
}

static uint32_t *flatten(const struct ctl_ipnet *nets, size_t n)
{
	uint32_t *v = n ? calloc(n, 2 * sizeof(*v)) : NULL;

	for (size_t i = 0; v && i < n; i++) {
		v[2 * i] = nets[i].ip;
		v[2 * i + 1] = nets[i].mask;
	}
	return v;
}

static int fill_details(const struct ctl_cert *c, bool with_key,
			Cert__RawNebulaCertificateDetails *d,
			struct pack_buf *pb)
{
	memset(pb, 0, sizeof(*pb));
	cert__raw_nebula_certificate_details__init(d);

	/* protobuf-c takes non-const pointers; packing only reads them. */
	d->name.data = (uint8_t *)(uintptr_t)c->name;
	d->name.len = c->name ? strlen(c->name) : 0;
	pb->ips = flatten(c->ips, c->n_ips);
	pb->subnets = flatten(c->subnets, c->n_subnets);
	if (c->n_groups)
		pb->groups = calloc(c->n_groups, sizeof(*pb->groups));
	if ((c->n_ips && !pb->ips) || (c->n_subnets && !pb->subnets) ||
	    (c->n_groups && !pb->groups)) {
		pack_buf_free(pb);
		return -ENOMEM;
	}
	d->n_ips = 2 * c->n_ips;
	d->ips = pb->ips;
	d->n_subnets = 2 * c->n_subnets;
	d->subnets = pb->subnets;
	for (size_t i = 0; i < c->n_groups; i++) {
		pb->groups[i].data = (uint8_t *)(uintptr_t)c->groups[i];
		pb->groups[i].len = strlen(c->groups[i]);
	}
	d->n_groups = c->n_groups;
	d->groups = pb->groups;
	d->notbefore = c->not_before;
	d->notafter = c->not_after;
	if (with_key) {
		d->publickey.data = (uint8_t *)(uintptr_t)c->pubkey;
		d->publickey.len = c->pubkey_len;
	}
	d->isca = c->is_ca;
	d->issuer.data = (uint8_t *)(uintptr_t)c->issuer;
	d->issuer.len = c->issuer_len;
	return 0;
}

static int encode(const struct ctl_cert *c, enum encode_form form,
		  uint8_t **out, size_t *len)
{
	Cert__RawNebulaCertificateDetails d;
	Cert__RawNebulaCertificate raw;
	const ProtobufCMessage *msg;
	struct pack_buf pb;
	int err;

	*out = NULL;
	*len = 0;
	err = fill_details(c, form != FORM_HANDSHAKE, &d, &pb);
	if (err)
		return err;
	cert__raw_nebula_certificate__init(&raw);
	raw.details = &d;
	raw.signature.data = (uint8_t *)(uintptr_t)c->sig;
	raw.signature.len = c->sig_len;
	msg = form == FORM_DETAILS ? &d.base : &raw.base;

	*len = protobuf_c_message_get_packed_size(msg);
	/* An all-default details message packs to nothing; still hand out a buffer. */
	*out = malloc(*len ? *len : 1);
	if (!*out) {
		err = -ENOMEM;
		goto free_pb;
	}
	protobuf_c_message_pack(msg, *out);
free_pb:
	pack_buf_free(&pb);
	return err;
}

int ctl_cert_encode(const struct ctl_cert *c, uint8_t **out, size_t *len)
{
	return encode(c, FORM_FULL, out, len);
}

int ctl_cert_encode_details(const struct ctl_cert *c, uint8_t **out,
			    size_t *len)
{
	return encode(c, FORM_DETAILS, out, len);
}

int ctl_cert_encode_handshake(const struct ctl_cert *c, uint8_t **out,
			      size_t *len)
{
	return encode(c, FORM_HANDSHAKE, out, len);
}

int ctl_cert_encode_pem(const struct ctl_cert *c, char **out, size_t *len)
{
	uint8_t *buf;
	size_t n;
	int err;

	err = ctl_cert_encode(c, &buf, &n);
	if (err)
		return err;
	*out = ctl_pem_encode(CTL_PEM_CERT, buf, n, len);
	free(buf);
	return *out ? 0 : -ENOMEM;
}

int ctl_cert_fingerprint(const struct ctl_cert *c, uint8_t fp[CTL_CERT_FP_LEN])
{
	uint8_t *buf;
	size_t n;
	int err;

	err = ctl_cert_encode(c, &buf, &n);
	if (err)
		return err;
	crypto_hash_sha256(fp, buf, n);
	free(buf);
	return 0;
}

void ctl_cert_fp_hex(const uint8_t fp[CTL_CERT_FP_LEN],
		     char hex[CTL_CERT_FP_HEX])
{
	sodium_bin2hex(hex, CTL_CERT_FP_HEX, fp, CTL_CERT_FP_LEN);
}

int ctl_cert_fp_parse(const char *hex, uint8_t fp[CTL_CERT_FP_LEN])
{
	size_t n = 0;
	const char *end = NULL;

	if (strlen(hex) != 2 * CTL_CERT_FP_LEN ||
	    sodium_hex2bin(fp, CTL_CERT_FP_LEN, hex, strlen(hex), NULL, &n,
			   &end) != 0 ||
	    n != CTL_CERT_FP_LEN)
		return -EINVAL;
	return 0;
}

int ctl_cert_check_text(const struct ctl_cert *c, struct vl_status *st)
{
	int err = check_text((const uint8_t *)c->name,
			     c->name ? strlen(c->name) : 0, "name", st);

	for (size_t i = 0; !err && i < c->n_groups; i++)
		err = check_text((const uint8_t *)c->groups[i],
				 strlen(c->groups[i]), "group", st);
	return err;
}

int ctl_cert_sign(struct ctl_cert *c, const uint8_t sk[64])
{
	unsigned long long sig_len;
	uint8_t *buf;
	size_t n;
	int err;

	err = ctl_cert_encode_details(c, &buf, &n);
	if (err)
		return err;
	crypto_sign_detached(c->sig, &sig_len, buf, n, sk);
	c->sig_len = (size_t)sig_len;
	free(buf);
	return 0;
}

bool ctl_cert_check_signature(const struct ctl_cert *c, const uint8_t *pk,
			      size_t pk_len)
{
	uint8_t *buf;
	size_t n;
	bool ok;

	if (pk_len != crypto_sign_PUBLICKEYBYTES ||
	    c->sig_len != crypto_sign_BYTES)
		return false;
	if (ctl_cert_encode_details(c, &buf, &n))
		return false;
	/* libsodium rejects non-canonical S as Go's ed25519.Verify does. */
	ok = crypto_sign_verify_detached(c->sig, buf, n, pk) == 0;
	free(buf);
	return ok;
}

bool ctl_cert_expired(const struct ctl_cert *c, const struct timespec *now)
{
	/* The bounds are whole seconds; "now" may be inside a second. */
	bool too_young = c->not_before > now->tv_sec;
	bool too_old = c->not_after < now->tv_sec ||
		       (c->not_after == now->tv_sec && now->tv_nsec > 0);

	return too_young || too_old;
}

void ctl_ipnet_format(const struct ctl_ipnet *n, char *buf, size_t len)
{
	uint32_t ip = n->ip, m = n->mask;
	int ones = 0;

	while (ones < 32 && (m & (UINT32_C(1) << (31 - ones))))
		ones++;
	if (ones < 32 && (m << ones) != 0)
		/* Not a prefix: Go prints the mask in hex. */
		snprintf(buf, len, "%u.%u.%u.%u/%08x", ip >> 24,
			 ip >> 16 & 0xff, ip >> 8 & 0xff, ip & 0xff, m);
	else
		snprintf(buf, len, "%u.%u.%u.%u/%d", ip >> 24, ip >> 16 & 0xff,
			 ip >> 8 & 0xff, ip & 0xff, ones);
}

/* Go's maskContains: no byte of the child's mask is shorter than the CA's. */
static bool mask_contains(uint32_t ca_mask, uint32_t mask)
{
	for (int shift = 24; shift >= 0; shift -= 8)
		if ((ca_mask >> shift & 0xff) > (mask >> shift & 0xff))
			return false;
	return true;
}

static bool net_match(const struct ctl_ipnet *n, const struct ctl_ipnet *roots,
		      size_t n_roots)
{
	for (size_t i = 0; i < n_roots; i++) {
		const struct ctl_ipnet *r = &roots[i];

		if ((r->ip & r->mask) == (n->ip & r->mask) &&
		    mask_contains(r->mask, n->mask))
			return true;
	}
	return false;
}

static bool has_group(const struct ctl_cert *c, const char *g)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (strcmp(c->groups[i], g) == 0)
			return true;
	return false;
}

int ctl_cert_check_root_constraints(const struct ctl_cert *c,
				    const struct ctl_cert *signer,
				    struct vl_status *st)
{
	char net[CTL_IPNET_STR];

	if (signer->not_after < c->not_after)
		return vl_status_set(st, -EKEYREJECTED,
				     "certificate expires after signing certificate");
	if (signer->not_before > c->not_before)
		return vl_status_set(st, -EKEYREJECTED,
				     "certificate is valid before the signing certificate");
	if (signer->n_groups) {
		for (size_t i = 0; i < c->n_groups; i++)
			if (!has_group(signer, c->groups[i]))
				return vl_status_set(st, -EKEYREJECTED,
						     "certificate contained a group not present on the signing ca: %s",
						     c->groups[i]);
	}
	if (signer->n_ips) {
		for (size_t i = 0; i < c->n_ips; i++) {
			if (net_match(&c->ips[i], signer->ips, signer->n_ips))
				continue;
			ctl_ipnet_format(&c->ips[i], net, sizeof(net));
			return vl_status_set(st, -EKEYREJECTED,
					     "certificate contained an ip assignment outside the limitations of the signing ca: %s",
					     net);
		}
	}
	if (signer->n_subnets) {
		for (size_t i = 0; i < c->n_subnets; i++) {
			if (net_match(&c->subnets[i], signer->subnets,
				      signer->n_subnets))
				continue;
			ctl_ipnet_format(&c->subnets[i], net, sizeof(net));
			return vl_status_set(st, -EKEYREJECTED,
					     "certificate contained a subnet assignment outside the limitations of the signing ca: %s",
					     net);
		}
	}
	return 0;
}

int ctl_cert_check_private_key(const struct ctl_cert *c, const uint8_t *key,
			       size_t key_len, struct vl_status *st)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	bool match;

	if (c->is_ca) {
		if (key_len != crypto_sign_SECRETKEYBYTES)
			return vl_status_set(st, -EINVAL,
					     "key is %zu bytes, an Ed25519 private key is %d",
					     key_len,
					     crypto_sign_SECRETKEYBYTES);
		/*
		 * Go compares only the public half stored in the key; a key
		 * whose seed does not derive that half would sign garbage,
		 * so derive it and require both to agree.
		 */
		crypto_sign_seed_keypair(pk, sk, key);
		sodium_memzero(sk, sizeof(sk));
		match = c->pubkey_len == sizeof(pk) &&
			sodium_memcmp(pk, c->pubkey, sizeof(pk)) == 0 &&
			sodium_memcmp(pk, key + 32, sizeof(pk)) == 0;
	} else {
		if (key_len != crypto_scalarmult_BYTES)
			return vl_status_set(st, -EINVAL,
					     "key is %zu bytes, an X25519 private key is %d",
					     key_len, crypto_scalarmult_BYTES);
		match = crypto_scalarmult_base(pk, key) == 0 &&
			c->pubkey_len == sizeof(pk) &&
			sodium_memcmp(pk, c->pubkey, sizeof(pk)) == 0;
	}
	if (!match)
		return vl_status_set(st, -EKEYREJECTED,
				     "public key in cert and private key supplied don't match");
	return 0;
}

int ctl_cert_verify(const struct ctl_cert *c, const struct timespec *now,
		    const struct ctl_capool *pool, struct vl_status *st)
{
	const struct ctl_cert *signer;
	uint8_t fp[CTL_CERT_FP_LEN];

	if (ctl_cert_fingerprint(c, fp))
		return vl_status_set(st, -ENOMEM, "out of memory");
	if (ctl_capool_is_blocked(pool, fp))
		return vl_status_set(st, -EKEYREVOKED,
				     "certificate has been blocked");
	if (!c->issuer_len)
		return vl_status_set(st, -ENOKEY, "no issuer in certificate");
	signer = ctl_capool_find(pool, c->issuer, c->issuer_len);
	if (!signer)
		return vl_status_set(st, -ENOKEY,
				     "could not find ca for the certificate");
	if (ctl_cert_expired(signer, now))
		return vl_status_set(st, -EKEYEXPIRED,
				     "root certificate is expired");
	if (ctl_cert_expired(c, now))
		return vl_status_set(st, -EKEYEXPIRED, "certificate is expired");
	if (!ctl_cert_check_signature(c, signer->pubkey, signer->pubkey_len))
		return vl_status_set(st, -EKEYREJECTED,
				     "certificate signature did not match");
	return ctl_cert_check_root_constraints(c, signer, st);
}
