/* SPDX-License-Identifier: MIT */
/*
 * vela-bench-aead: the AEADs of a Nebula transport message, alone, on one
 * core -- what the dataplane's crypto could cost at most, before any
 * packet handling, and which library to get it from.
 *
 * Every case seals and opens Nebula datagrams in place: the 16-byte
 * header (carrying the counter, as on the wire) is the associated data,
 * the payload follows it and the tag follows the payload; the 12-byte
 * nonce is built from a counter that moves on with every packet, as
 * vl_aead_nonce() builds it. A step is one burst (-b, 32 by default):
 *
 *   ipsecmb-burst      AES-256-GCM, one vl_aead_seal_burst() /
 *                      vl_aead_open_burst() per burst (common/aead_burst.h,
 *                      IPsec-MB's burst job API on a per-thread manager)
 *   ipsecmb-direct     AES-256-GCM, vl_aead_seal() / vl_aead_open() per
 *                      packet (common/aead.h, what the dataplane does today)
 *   libsodium-aesgcm   AES-256-GCM, libsodium per packet with the key
 *                      expanded once: crypto_aead_aes256gcm_beforenm() at
 *                      setup, then ..._encrypt_detached_afternm() /
 *                      ..._decrypt_detached_afternm(). The plain
 *                      ..._encrypt_detached() expands the key and the GHASH
 *                      powers on every call; the afternm pair is the
 *                      fastest libsodium offers and what a careful caller
 *                      would use. Skipped (with a note) on a CPU without
 *                      AES-NI and PCLMUL.
 *   openssl-evp        AES-256-GCM, EVP per packet on two contexts (one
 *                      sealing, one opening) keyed once: per packet only
 *                      the IV is set, then AAD, update, final and the tag.
 *   libsodium-chacha   ChaCha20-Poly1305 IETF per packet, detached.
 *   aead-burst         ChaCha20-Poly1305 through the burst API (which
 *                      calls libsodium per message).
 *
 * Opening is measured on data sealed (untimed) just before, with fresh
 * counters, by the same case; an open that fails to verify fails the run.
 * Before any timing, every case seals one burst that must equal, byte for
 * byte, what vl_aead_seal() makes of it, opens it back, and must refuse a
 * datagram with one bit of its tag flipped: all rows do the same work.
 *
 * Figures: payload bytes only (header and tag excluded) for GB/s and TSC
 * cycles per byte. See microbench.h for how time is taken.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "aead.h"
#include "aead_burst.h"
#include "microbench.h"
#include "wire.h"

#define AB_TOOL "vela-bench-aead"
#define AB_BURST_DEFAULT 32
#define AB_SIZE_MAX 65535
#define AB_INDEX 0x01020304 /* the remote index in every header */

static const uint8_t ab_raw_key[VL_AEAD_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
	0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* One case at one size: its buffers, its library state, its counters. */
struct ab_ctx {
	struct vl_aead_key key; /* first: 64-byte aligned */
	const struct ab_impl *impl;
	unsigned int size, burst;
	size_t stride; /* bytes between datagrams in @mem */
	uint8_t *mem;
	uint64_t counter; /* the next counter to seal with */
	uint64_t first; /* the first counter of the last sealed burst */
	uint64_t failed; /* seals that errored, opens that did not verify */
	struct vl_aead_burst *vb;
	crypto_aead_aes256gcm_state *sodium;
	EVP_CIPHER_CTX *enc, *dec;
	struct vl_aead_op ops[VL_AEAD_BURST_MAX];
};

struct ab_impl {
	const char *name;
	enum vl_cipher cipher;
	/* 0, or -ENOTSUP with *note saying why the case is skipped. */
	int (*setup)(struct ab_ctx *c, const char **note);
	void (*teardown)(struct ab_ctx *c);
	/* Seal the burst with counters c->counter.. and move them on. */
	void (*seal)(struct ab_ctx *c);
	/* Open the burst sealed last (counters c->first..). */
	void (*open)(struct ab_ctx *c);
};

static uint8_t *pkt(const struct ab_ctx *c, unsigned int i)
{
	return c->mem + (size_t)i * c->stride;
}

static const char *cipher_label(enum vl_cipher cipher)
{
	return cipher == VL_CIPHER_AES ? "aes-256-gcm" : "chacha20-poly1305";
}

/* Header (with its counter) of packet i of a new burst; returns the counter. */
static uint64_t begin_seal(struct ab_ctx *c, unsigned int i)
{
	uint64_t counter = c->counter + i;

	wire_header_encode(pkt(c, i), WIRE_MESSAGE, WIRE_SUB_NONE, AB_INDEX,
			   counter);
	return counter;
}

static void end_seal(struct ab_ctx *c)
{
	c->first = c->counter;
	c->counter += c->burst;
}

/* ---- The burst API (AES-256-GCM via IPsec-MB, ChaCha via libsodium) ------- */

static int burst_setup(struct ab_ctx *c, const char **note)
{
	int err = vl_aead_burst_new(&c->vb);

	if (err == -ENOTSUP)
		*note = "skipped: IPsec-MB found no usable CPU path";
	return err;
}

static void burst_teardown(struct ab_ctx *c)
{
	if (c->vb)
		vl_aead_burst_free(c->vb);
}

static void fill_ops(struct ab_ctx *c, uint64_t first)
{
	for (unsigned int i = 0; i < c->burst; i++) {
		uint8_t *p = pkt(c, i);

		c->ops[i] = (struct vl_aead_op){ .key = &c->key,
						 .counter = first + i,
						 .ad = p,
						 .ad_len = WIRE_HEADER_LEN,
						 .data = p + WIRE_HEADER_LEN,
						 .len = c->size };
	}
}

static void burst_seal(struct ab_ctx *c)
{
	for (unsigned int i = 0; i < c->burst; i++)
		begin_seal(c, i);
	fill_ops(c, c->counter);
	vl_aead_seal_burst(c->vb, c->ops, c->burst);
	end_seal(c);
}

static void burst_open(struct ab_ctx *c)
{
	fill_ops(c, c->first);
	c->failed += c->burst - vl_aead_open_burst(c->vb, c->ops, c->burst);
}

/* ---- Per packet through common/aead.h ----------------------------------- */

static int direct_setup(struct ab_ctx *c, const char **note)
{
	(void)c;
	(void)note;
	return 0;
}

static void nothing(struct ab_ctx *c)
{
	(void)c;
}

static void direct_seal(struct ab_ctx *c)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];

	for (unsigned int i = 0; i < c->burst; i++) {
		uint8_t *p = pkt(c, i);

		vl_aead_nonce(c->key.cipher, begin_seal(c, i), nonce);
		vl_aead_seal(&c->key, nonce, p, WIRE_HEADER_LEN,
			     p + WIRE_HEADER_LEN, c->size, p + WIRE_HEADER_LEN);
	}
	end_seal(c);
}

static void direct_open(struct ab_ctx *c)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];

	for (unsigned int i = 0; i < c->burst; i++) {
		uint8_t *p = pkt(c, i);

		vl_aead_nonce(c->key.cipher, c->first + i, nonce);
		if (!vl_aead_open(&c->key, nonce, p, WIRE_HEADER_LEN,
				  p + WIRE_HEADER_LEN, c->size,
				  p + WIRE_HEADER_LEN))
			c->failed++;
	}
}

/* ---- libsodium AES-256-GCM, key expanded once ------------------------------ */

static int sodium_gcm_setup(struct ab_ctx *c, const char **note)
{
	if (!crypto_aead_aes256gcm_is_available()) {
		*note = "skipped: crypto_aead_aes256gcm_is_available() is 0";
		return -ENOTSUP;
	}
	c->sodium = aligned_alloc(64, (sizeof(*c->sodium) + 63) / 64 * 64);
	if (!c->sodium)
		return -ENOMEM;
	crypto_aead_aes256gcm_beforenm(c->sodium, ab_raw_key);
	return 0;
}

static void sodium_gcm_teardown(struct ab_ctx *c)
{
	if (!c->sodium)
		return;
	sodium_memzero(c->sodium, sizeof(*c->sodium));
	free(c->sodium);
}

static void sodium_gcm_seal(struct ab_ctx *c)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];

	for (unsigned int i = 0; i < c->burst; i++) {
		uint8_t *p = pkt(c, i), *d = p + WIRE_HEADER_LEN;

		vl_aead_nonce(VL_CIPHER_AES, begin_seal(c, i), nonce);
		crypto_aead_aes256gcm_encrypt_detached_afternm(
			d, d + c->size, NULL, d, c->size, p, WIRE_HEADER_LEN,
			NULL, nonce, c->sodium);
	}
	end_seal(c);
}

static void sodium_gcm_open(struct ab_ctx *c)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];

	for (unsigned int i = 0; i < c->burst; i++) {
		uint8_t *p = pkt(c, i), *d = p + WIRE_HEADER_LEN;

		vl_aead_nonce(VL_CIPHER_AES, c->first + i, nonce);
		if (crypto_aead_aes256gcm_decrypt_detached_afternm(
			    d, NULL, d, c->size, d + c->size, p,
			    WIRE_HEADER_LEN, nonce, c->sodium))
			c->failed++;
	}
}

/* ---- OpenSSL EVP, contexts keyed once ---------------------------------------- */

static int evp_setup(struct ab_ctx *c, const char **note)
{
	(void)note;
	c->enc = EVP_CIPHER_CTX_new();
	c->dec = EVP_CIPHER_CTX_new();
	if (!c->enc || !c->dec)
		return -ENOMEM;
	/* The default IV length of GCM is the 12 bytes used here. */
	if (EVP_EncryptInit_ex(c->enc, EVP_aes_256_gcm(), NULL, ab_raw_key,
			       NULL) != 1 ||
	    EVP_DecryptInit_ex(c->dec, EVP_aes_256_gcm(), NULL, ab_raw_key,
			       NULL) != 1)
		return -EIO;
	return 0;
}

static void evp_teardown(struct ab_ctx *c)
{
	EVP_CIPHER_CTX_free(c->enc);
	EVP_CIPHER_CTX_free(c->dec);
}

static bool evp_seal_one(EVP_CIPHER_CTX *x, const uint8_t *nonce, uint8_t *p,
			 unsigned int len)
{
	uint8_t *d = p + WIRE_HEADER_LEN;
	int n;

	return EVP_EncryptInit_ex(x, NULL, NULL, NULL, nonce) == 1 &&
	       EVP_EncryptUpdate(x, NULL, &n, p, WIRE_HEADER_LEN) == 1 &&
	       EVP_EncryptUpdate(x, d, &n, d, (int)len) == 1 &&
	       EVP_EncryptFinal_ex(x, d + len, &n) == 1 &&
	       EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, VL_AEAD_TAG_LEN,
				   d + len) == 1;
}

static bool evp_open_one(EVP_CIPHER_CTX *x, const uint8_t *nonce, uint8_t *p,
			 unsigned int len)
{
	uint8_t *d = p + WIRE_HEADER_LEN;
	int n;

	return EVP_DecryptInit_ex(x, NULL, NULL, NULL, nonce) == 1 &&
	       EVP_DecryptUpdate(x, NULL, &n, p, WIRE_HEADER_LEN) == 1 &&
	       EVP_DecryptUpdate(x, d, &n, d, (int)len) == 1 &&
	       EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, VL_AEAD_TAG_LEN,
				   d + len) == 1 &&
	       EVP_DecryptFinal_ex(x, d + len, &n) == 1;
}

static void evp_seal(struct ab_ctx *c)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];

	for (unsigned int i = 0; i < c->burst; i++) {
		vl_aead_nonce(VL_CIPHER_AES, begin_seal(c, i), nonce);
		if (!evp_seal_one(c->enc, nonce, pkt(c, i), c->size))
			c->failed++;
	}
	end_seal(c);
}

static void evp_open(struct ab_ctx *c)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];

	for (unsigned int i = 0; i < c->burst; i++) {
		vl_aead_nonce(VL_CIPHER_AES, c->first + i, nonce);
		if (!evp_open_one(c->dec, nonce, pkt(c, i), c->size))
			c->failed++;
	}
}

/* ---- libsodium ChaCha20-Poly1305 IETF -------------------------------------- */

static void chacha_seal(struct ab_ctx *c)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];

	for (unsigned int i = 0; i < c->burst; i++) {
		uint8_t *p = pkt(c, i), *d = p + WIRE_HEADER_LEN;

		vl_aead_nonce(VL_CIPHER_CHACHAPOLY, begin_seal(c, i), nonce);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			d, d + c->size, NULL, d, c->size, p, WIRE_HEADER_LEN,
			NULL, nonce, ab_raw_key);
	}
	end_seal(c);
}

static void chacha_open(struct ab_ctx *c)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];

	for (unsigned int i = 0; i < c->burst; i++) {
		uint8_t *p = pkt(c, i), *d = p + WIRE_HEADER_LEN;

		vl_aead_nonce(VL_CIPHER_CHACHAPOLY, c->first + i, nonce);
		if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
			    d, NULL, d, c->size, d + c->size, p,
			    WIRE_HEADER_LEN, nonce, ab_raw_key))
			c->failed++;
	}
}

static const struct ab_impl ab_impls[] = {
	{ "ipsecmb-burst", VL_CIPHER_AES, burst_setup, burst_teardown,
	  burst_seal, burst_open },
	{ "ipsecmb-direct", VL_CIPHER_AES, direct_setup, nothing, direct_seal,
	  direct_open },
	{ "libsodium-aesgcm", VL_CIPHER_AES, sodium_gcm_setup,
	  sodium_gcm_teardown, sodium_gcm_seal, sodium_gcm_open },
	{ "openssl-evp", VL_CIPHER_AES, evp_setup, evp_teardown, evp_seal,
	  evp_open },
	{ "libsodium-chacha", VL_CIPHER_CHACHAPOLY, direct_setup, nothing,
	  chacha_seal, chacha_open },
	{ "aead-burst", VL_CIPHER_CHACHAPOLY, burst_setup, burst_teardown,
	  burst_seal, burst_open },
};

#define AB_N_IMPLS (sizeof(ab_impls) / sizeof(ab_impls[0]))

/* What every case must agree with: vl_aead_seal(), keyed per case. */
static const struct ab_impl ab_reference = {
	.name = "vl_aead",
	.cipher = VL_CIPHER_AES,
	.setup = direct_setup,
	.teardown = nothing,
	.seal = direct_seal,
	.open = direct_open,
};

/* ---- Cases --------------------------------------------------------------------- */

static void fill_plaintext(struct ab_ctx *c)
{
	for (unsigned int i = 0; i < c->burst; i++) {
		uint8_t *d = pkt(c, i) + WIRE_HEADER_LEN;

		for (unsigned int k = 0; k < c->size; k++)
			d[k] = (uint8_t)(i * 131 + k);
	}
}

static void ctx_free(struct ab_ctx *c)
{
	if (!c)
		return;
	c->impl->teardown(c);
	vl_aead_key_wipe(&c->key);
	free(c->mem);
	free(c);
}

/*
 * 0, -ENOTSUP with *note (the case is skipped), or another -errno.
 * Teardowns cope with a half-done setup, so one label undoes everything.
 */
static int ctx_new(const struct ab_impl *impl, unsigned int size,
		   unsigned int burst, struct ab_ctx **out, const char **note)
{
	struct ab_ctx *c;
	int err;

	*out = NULL;
	c = aligned_alloc(64, (sizeof(*c) + 63) / 64 * 64);
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->impl = impl;
	c->size = size;
	c->burst = burst;
	c->counter = WIRE_FIRST_COUNTER;
	/* Header, payload and tag; each datagram starts on a cache line. */
	c->stride = (WIRE_OVERHEAD + size + 63) / 64 * 64;
	c->mem = aligned_alloc(64, c->stride * burst);
	vl_aead_key_set(&c->key, impl->cipher, ab_raw_key);
	if (c->mem)
		memset(c->mem, 0, c->stride * burst);
	err = c->mem ? impl->setup(c, note) : -ENOMEM;
	if (err) {
		ctx_free(c);
		return err;
	}
	fill_plaintext(c);
	*out = c;
	return 0;
}

/*
 * The case must seal exactly what vl_aead_seal() seals (header, payload
 * and tag, at an odd size), open it back to the plaintext, and refuse a
 * flipped tag bit. 0 or -EPROTO after saying what differed.
 */
static int self_check(const struct ab_impl *impl, const char **note)
{
	const unsigned int size = 333, burst = 4;
	struct ab_ctx *c, *ref;
	int err;

	err = ctx_new(impl, size, burst, &c, note);
	if (err)
		return err;
	err = ctx_new(&ab_reference, size, burst, &ref, note);
	if (err) {
		ctx_free(c);
		return err;
	}
	vl_aead_key_set(&ref->key, impl->cipher, ab_raw_key);
	direct_seal(ref);
	impl->seal(c);
	err = -EPROTO;
	for (unsigned int i = 0; i < burst; i++) {
		if (!memcmp(pkt(c, i), pkt(ref, i), WIRE_OVERHEAD + size))
			continue;
		fprintf(stderr,
			"%s: %s seals differently from vl_aead_seal()\n",
			AB_TOOL, impl->name);
		goto free_ctx;
	}
	impl->open(c);
	fill_plaintext(ref);
	for (unsigned int i = 0; i < burst; i++)
		if (memcmp(pkt(c, i) + WIRE_HEADER_LEN,
			   pkt(ref, i) + WIRE_HEADER_LEN, size))
			c->failed++;
	if (c->failed) {
		fprintf(stderr, "%s: %s does not open what it sealed\n",
			AB_TOOL, impl->name);
		goto free_ctx;
	}
	impl->seal(c);
	pkt(c, burst - 1)[WIRE_HEADER_LEN + size] ^= 0x01;
	impl->open(c);
	if (c->failed != 1) {
		fprintf(stderr, "%s: %s opened a datagram with a bad tag\n",
			AB_TOOL, impl->name);
		goto free_ctx;
	}
	err = 0;

free_ctx:
	ctx_free(ref);
	ctx_free(c);
	return err;
}

static unsigned int step_seal(void *arg)
{
	struct ab_ctx *c = arg;

	c->impl->seal(c);
	return c->burst;
}

static void prepare_open(void *arg)
{
	struct ab_ctx *c = arg;

	c->impl->seal(c);
}

static unsigned int step_open(void *arg)
{
	struct ab_ctx *c = arg;

	c->impl->open(c);
	return c->burst;
}

static int report_case(struct mb_report *rep, const struct ab_impl *impl,
		       const char *op, unsigned int size,
		       const struct mb_result *r, const char *note)
{
	struct mb_field f[MB_FIELDS_MAX];
	unsigned int n = 0;

	f[n++] = MB_STRF("case", "case", 16, impl->name);
	f[n++] = MB_STRF("cipher", "cipher", 17, cipher_label(impl->cipher));
	f[n++] = MB_STRF("op", "op", 4, op);
	f[n++] = MB_UINTF("size", "size", 5, size);
	if (note) {
		f[n++] = MB_NULLF("packets", "packets", 10);
		f[n++] = MB_NULLF("seconds", "seconds", 7);
		f[n++] = MB_NULLF("gbytes_per_s", "GB/s", 7);
		f[n++] = MB_NULLF("mpps", "Mpps", 7);
		f[n++] = MB_NULLF("ns_per_packet", "ns/pkt", 8);
		f[n++] = MB_NULLF("tsc_cycles_per_byte", "cyc/B", 6);
		f[n++] = MB_NULLF("tsc_cycles_per_packet", "cyc/pkt", 8);
		f[n++] = MB_STRF("note", "", 0, note);
	} else {
		double pkts = (double)r->packets;

		f[n++] = MB_UINTF("packets", "packets", 10, r->packets);
		f[n++] = MB_REALF("seconds", "seconds", 7, 3, r->seconds);
		f[n++] = MB_REALF("gbytes_per_s", "GB/s", 7, 3,
				  pkts * size / r->seconds / 1e9);
		f[n++] =
			MB_REALF("mpps", "Mpps", 7, 3, pkts / r->seconds / 1e6);
		f[n++] = MB_REALF("ns_per_packet", "ns/pkt", 8, 1,
				  r->seconds * 1e9 / pkts);
		f[n++] = MB_REALF("tsc_cycles_per_byte", "cyc/B", 6, 2,
				  (double)r->tsc / (pkts * size));
		f[n++] = MB_REALF("tsc_cycles_per_packet", "cyc/pkt", 8, 0,
				  (double)r->tsc / pkts);
	}
	return mb_report_row(rep, f, n);
}

/* Seal then open for one case at one size. 0, or -errno / -EPROTO. */
static int run_case(struct mb_report *rep, const struct mb_cfg *cfg,
		    double tsc_hz, const struct ab_impl *impl,
		    unsigned int size, const char *skip)
{
	static const char *const ops[] = { "seal", "open" };
	const char *note = skip;
	struct ab_ctx *c = NULL;
	struct mb_result r;
	int err = 0;

	if (!note) {
		err = ctx_new(impl, size, cfg->burst, &c, &note);
		if (err && err != -ENOTSUP)
			return err;
		err = 0;
	}
	for (unsigned int k = 0; k < 2 && !err; k++) {
		struct mb_case mc = { .step = step_seal, .arg = c };

		if (note) {
			err = report_case(rep, impl, ops[k], size, NULL, note);
			continue;
		}
		if (k == 1)
			mc = (struct mb_case){ .prepare = prepare_open,
					       .step = step_open,
					       .arg = c };
		mb_measure(&mc, cfg->seconds, tsc_hz, &r);
		if (c->failed) {
			fprintf(stderr,
				"%s: %s %s at %u bytes: %llu operations failed\n",
				AB_TOOL, impl->name, ops[k], size,
				(unsigned long long)c->failed);
			err = -EPROTO;
			break;
		}
		err = report_case(rep, impl, ops[k], size, &r, NULL);
	}
	ctx_free(c);
	return err;
}

int main(int argc, char **argv)
{
	struct mb_cfg cfg = { .seconds = 1.0,
			      .n_sizes = 3,
			      .sizes = { 64, 1420, 9000 },
			      .burst = AB_BURST_DEFAULT,
			      .cpu = -1,
			      .size_min = 1,
			      .size_max = AB_SIZE_MAX,
			      .burst_max = VL_AEAD_BURST_MAX };
	const char *skip[AB_N_IMPLS] = { NULL };
	struct mb_report *rep;
	double tsc_hz;
	int err;

	err = mb_cfg_parse(
		&cfg, AB_TOOL,
		"AES-256-GCM and ChaCha20-Poly1305 on one core: "
		"IPsec-MB bursts, per packet through vl_aead,\n"
		"libsodium and OpenSSL EVP; seal and open, in place, "
		"16-byte AD.",
		argc - 1, argv + 1);
	if (err)
		return err == 1 ? 0 : err;
	err = vl_aead_init();
	if (err) {
		fprintf(stderr, "%s: IPsec-MB: %s\n", AB_TOOL, strerror(-err));
		return 1;
	}
	err = mb_pin(&cfg);
	if (err) {
		fprintf(stderr, "%s: pinning to CPU %d: %s\n", AB_TOOL, cfg.cpu,
			strerror(-err));
		return 1;
	}
	tsc_hz = mb_tsc_hz();

	for (unsigned int i = 0; i < AB_N_IMPLS; i++) {
		err = self_check(&ab_impls[i], &skip[i]);
		if (err == -ENOTSUP)
			continue;
		if (err) {
			fprintf(stderr, "%s: self-check of %s failed\n",
				AB_TOOL, ab_impls[i].name);
			return 1;
		}
	}

	rep = mb_report_new(AB_TOOL, &cfg, tsc_hz);
	if (!rep)
		return 1;
	for (unsigned int s = 0; s < cfg.n_sizes && !err; s++)
		for (unsigned int i = 0; i < AB_N_IMPLS && !err; i++)
			err = run_case(rep, &cfg, tsc_hz, &ab_impls[i],
				       cfg.sizes[s], skip[i]);
	{
		const struct mb_field extra[] = {
			MB_STRF("ipsecmb", NULL, 0, IMB_VERSION_STR),
			MB_STRF("libsodium", NULL, 0, sodium_version_string()),
			MB_STRF("openssl", NULL, 0,
				OpenSSL_version(OPENSSL_VERSION)),
			MB_UINTF("libsodium_aesgcm_available", NULL, 0,
				 (uint64_t)crypto_aead_aes256gcm_is_available()),
			MB_STRF("libsodium_aesgcm_api", NULL, 0,
				"crypto_aead_aes256gcm_{en,de}crypt_detached_afternm, "
				"state from crypto_aead_aes256gcm_beforenm"),
			MB_STRF("sizes", NULL, 0,
				"payload bytes (header and tag excluded)"),
		};

		mb_report_end(rep, extra, sizeof(extra) / sizeof(extra[0]));
	}
	if (err) {
		fprintf(stderr, "%s: %s\n", AB_TOOL,
			err == -EPROTO ? "crypto failed, figures not valid" :
					 strerror(-err));
		return 1;
	}
	return 0;
}
