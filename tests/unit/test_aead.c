/* SPDX-License-Identifier: MIT */
/*
 * common/aead.c: published known-answer vectors, the transport datagrams of
 * nebula-1.6.1-protocol.md Appendix A for both ciphers, tampering, nonces,
 * in-place use, a cross-check of IPsec-MB's AES-256-GCM against libsodium's
 * independent implementation, guard pages around every buffer, and one
 * manager shared by several threads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "aead.h"
#include "wire.h"
#include "aead_vectors.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct aead_test_data *const kats[] = {
	&gcm_test_case_256_13, /* empty plaintext, no AAD */
	&gcm_test_case_256_14, /* one zero block */
	&gcm_test_case_256_15, /* 64 bytes */
	&gcm_test_case_256_16, /* 60 bytes and 20 bytes of AAD */
	&chacha20_poly1305_rfc8439, /* 114 bytes, 12 bytes of AAD */
};

/* Both cipher runs of Appendix A, in one list. */
static const struct nebula_transport_test_data *transport(size_t i)
{
	size_t n_aes = ARRAY_SIZE(nebula_aes_transport_vectors);

	if (i < n_aes)
		return &nebula_aes_transport_vectors[i];
	return &nebula_chachapoly_transport_vectors[i - n_aes];
}

#define N_TRANSPORT                                 \
	(ARRAY_SIZE(nebula_aes_transport_vectors) + \
	 ARRAY_SIZE(nebula_chachapoly_transport_vectors))

static void unhex(const char *s, uint8_t *out, size_t len)
{
	size_t i;

	assert_int_equal(strlen(s), 2 * len);
	for (i = 0; i < len; i++) {
		unsigned int b;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
}

static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	return vl_aead_init();
}

static void *init_thread(void *arg)
{
	int *ret = arg;

	*ret = vl_aead_init();
	return NULL;
}

/* Idempotent, and racing first calls all see the one manager. */
static void test_aead_init_idempotent(void **state)
{
	pthread_t th[4];
	int ret[4];
	size_t i;

	(void)state;
	assert_int_equal(vl_aead_init(), 0);
	assert_int_equal(vl_aead_init(), 0);
	for (i = 0; i < ARRAY_SIZE(th); i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, init_thread, &ret[i]), 0);
	for (i = 0; i < ARRAY_SIZE(th); i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(ret[i], 0);
	}
}

static void test_aead_cipher_name(void **state)
{
	(void)state;
	assert_string_equal(vl_cipher_name(VL_CIPHER_AES), "aes");
	assert_string_equal(vl_cipher_name(VL_CIPHER_CHACHAPOLY), "chachapoly");
}

/* Spec §4.1 and §2: 00000000 || counter, BE for AES, LE for ChaCha. */
static void test_aead_nonce(void **state)
{
	static const struct {
		enum vl_cipher cipher;
		uint64_t counter;
		const char *hex;
	} cases[] = {
		{ VL_CIPHER_AES, 3, "000000000000000000000003" },
		{ VL_CIPHER_CHACHAPOLY, 3, "000000000300000000000000" },
		{ VL_CIPHER_AES, 0, "000000000000000000000000" },
		{ VL_CIPHER_CHACHAPOLY, 0, "000000000000000000000000" },
		{ VL_CIPHER_AES, 0x0102030405060708,
		  "000000000102030405060708" },
		{ VL_CIPHER_CHACHAPOLY, 0x0102030405060708,
		  "000000000807060504030201" },
		{ VL_CIPHER_AES, UINT64_MAX, "00000000ffffffffffffffff" },
		{ VL_CIPHER_CHACHAPOLY, UINT64_MAX,
		  "00000000ffffffffffffffff" },
		{ VL_CIPHER_AES, 0x100, "000000000000000000000100" },
		{ VL_CIPHER_CHACHAPOLY, 0x100, "000000000001000000000000" },
	};
	uint8_t want[VL_AEAD_NONCE_LEN], got[VL_AEAD_NONCE_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unhex(cases[i].hex, want, sizeof(want));
		memset(got, 0xee, sizeof(got));
		vl_aead_nonce(cases[i].cipher, cases[i].counter, got);
		assert_memory_equal(got, want, sizeof(want));
	}
}

static void test_aead_kat_seal(void **state)
{
	struct vl_aead_key k;
	uint8_t out[128 + VL_AEAD_TAG_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(kats); i++) {
		const struct aead_test_data *t = kats[i];
		size_t len = t->plaintext.len;

		assert_int_equal(t->key.len, VL_AEAD_KEY_LEN);
		assert_int_equal(t->iv.len, VL_AEAD_NONCE_LEN);
		assert_int_equal(t->auth_tag.len, VL_AEAD_TAG_LEN);
		assert_int_equal(t->ciphertext.len, len);

		vl_aead_key_set(&k, t->cipher, t->key.data);
		memset(out, 0xee, sizeof(out));
		vl_aead_seal(&k, t->iv.data, t->aad.data, t->aad.len,
			     t->plaintext.data, len, out);
		assert_memory_equal(out, t->ciphertext.data, len);
		assert_memory_equal(out + len, t->auth_tag.data,
				    VL_AEAD_TAG_LEN);
		vl_aead_key_wipe(&k);
	}
}

static void test_aead_kat_open(void **state)
{
	struct vl_aead_key k;
	uint8_t in[128 + VL_AEAD_TAG_LEN], out[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(kats); i++) {
		const struct aead_test_data *t = kats[i];
		size_t len = t->ciphertext.len;

		memcpy(in, t->ciphertext.data, len);
		memcpy(in + len, t->auth_tag.data, VL_AEAD_TAG_LEN);
		vl_aead_key_set(&k, t->cipher, t->key.data);
		memset(out, 0xee, sizeof(out));
		assert_true(vl_aead_open(&k, t->iv.data, t->aad.data,
					 t->aad.len, in, len, out));
		assert_memory_equal(out, t->plaintext.data, len);
		vl_aead_key_wipe(&k);
	}
}

/* The header is the AD and says which counter (hence nonce) was used. */
static void check_header(const struct nebula_transport_test_data *t)
{
	struct wire_header h;

	assert_int_equal(t->datagram.len, WIRE_OVERHEAD + t->plaintext.len);
	wire_header_decode(t->datagram.data, &h);
	assert_int_equal(h.version, WIRE_VERSION);
	assert_int_equal(h.counter, t->counter);
}

/* Appendix A: header || seal(key, nonce(counter), ad = header, pt). */
static void test_aead_nebula_seal(void **state)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN], dgram[96];
	struct vl_aead_key k;
	size_t i;

	(void)state;
	for (i = 0; i < N_TRANSPORT; i++) {
		const struct nebula_transport_test_data *t = transport(i);

		check_header(t);
		vl_aead_key_set(&k, t->cipher, t->key);
		vl_aead_nonce(t->cipher, t->counter, nonce);
		memset(dgram, 0xee, sizeof(dgram));
		memcpy(dgram, t->datagram.data, WIRE_HEADER_LEN);
		vl_aead_seal(&k, nonce, dgram, WIRE_HEADER_LEN,
			     t->plaintext.data, t->plaintext.len,
			     dgram + WIRE_HEADER_LEN);
		assert_memory_equal(dgram, t->datagram.data, t->datagram.len);
		vl_aead_key_wipe(&k);
	}
}

static void test_aead_nebula_open(void **state)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN], out[64];
	struct vl_aead_key k;
	size_t i;

	(void)state;
	for (i = 0; i < N_TRANSPORT; i++) {
		const struct nebula_transport_test_data *t = transport(i);
		const uint8_t *d = t->datagram.data;

		vl_aead_key_set(&k, t->cipher, t->key);
		vl_aead_nonce(t->cipher, wire_get_be64(d + 8), nonce);
		memset(out, 0xee, sizeof(out));
		assert_true(vl_aead_open(&k, nonce, d, WIRE_HEADER_LEN,
					 d + WIRE_HEADER_LEN, t->plaintext.len,
					 out));
		assert_memory_equal(out, t->plaintext.data, t->plaintext.len);
		vl_aead_key_wipe(&k);
	}
}

/*
 * Every single-bit flip of an Appendix A datagram, in the header (the AD),
 * the ciphertext or the tag, fails to open and leaves only zeros in @out.
 * The nonce stays the one of the real counter: a flip in the counter bytes
 * must be caught through the AD alone.
 */
static void test_aead_nebula_tamper(void **state)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN], d[96], out[64];
	struct vl_aead_key k;
	size_t i, bit;

	(void)state;
	for (i = 0; i < N_TRANSPORT; i++) {
		const struct nebula_transport_test_data *t = transport(i);
		size_t len = t->plaintext.len;

		vl_aead_key_set(&k, t->cipher, t->key);
		vl_aead_nonce(t->cipher, t->counter, nonce);
		for (bit = 0; bit < 8 * t->datagram.len; bit++) {
			memcpy(d, t->datagram.data, t->datagram.len);
			d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			memset(out, 0xee, sizeof(out));
			assert_false(vl_aead_open(&k, nonce, d, WIRE_HEADER_LEN,
						  d + WIRE_HEADER_LEN, len,
						  out));
			assert_true(all_zero(out, len));
			/* open writes nothing past len */
			assert_int_equal(out[len], 0xee);
		}
		vl_aead_key_wipe(&k);
	}
}

/* k2 for a k1 packet, the other cipher, the wrong counter: all rejected. */
static void test_aead_wrong_key(void **state)
{
	const struct nebula_transport_test_data *aes =
		&nebula_aes_transport_vectors[0];
	const struct nebula_transport_test_data *aes_back =
		&nebula_aes_transport_vectors[1];
	const struct nebula_transport_test_data *cc =
		&nebula_chachapoly_transport_vectors[0];
	const struct nebula_transport_test_data *cc_back =
		&nebula_chachapoly_transport_vectors[1];
	const struct {
		const struct nebula_transport_test_data *pkt;
		enum vl_cipher cipher;
		const uint8_t *key;
		uint64_t counter;
	} cases[] = {
		{ aes, VL_CIPHER_AES, aes_back->key, 3 }, /* k2 for k1 */
		{ cc, VL_CIPHER_CHACHAPOLY, cc_back->key, 3 },
		{ aes, VL_CIPHER_CHACHAPOLY, aes->key, 3 }, /* other cipher */
		{ cc, VL_CIPHER_AES, cc->key, 3 },
		{ aes, VL_CIPHER_AES, cc->key, 3 }, /* other run's k1 */
		{ aes, VL_CIPHER_AES, aes->key, 4 }, /* other counter */
		{ cc, VL_CIPHER_CHACHAPOLY, cc->key, 2 },
	};
	uint8_t nonce[VL_AEAD_NONCE_LEN], out[64];
	struct vl_aead_key k;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const uint8_t *d = cases[i].pkt->datagram.data;
		size_t len = cases[i].pkt->plaintext.len;

		vl_aead_key_set(&k, cases[i].cipher, cases[i].key);
		vl_aead_nonce(cases[i].cipher, cases[i].counter, nonce);
		memset(out, 0xee, sizeof(out));
		assert_false(vl_aead_open(&k, nonce, d, WIRE_HEADER_LEN,
					  d + WIRE_HEADER_LEN, len, out));
		assert_true(all_zero(out, len));
		vl_aead_key_wipe(&k);
	}
}

/*
 * Empty plaintext (test, closeTunnel): the output is the tag alone, it
 * opens, and a changed tag or AD does not.
 */
static void test_aead_empty_plaintext(void **state)
{
	static const enum vl_cipher ciphers[] = { VL_CIPHER_AES,
						  VL_CIPHER_CHACHAPOLY };
	uint8_t key[VL_AEAD_KEY_LEN], nonce[VL_AEAD_NONCE_LEN];
	uint8_t ad[WIRE_HEADER_LEN], tag[VL_AEAD_TAG_LEN + 1], out[1];
	struct vl_aead_key k;
	size_t i;

	(void)state;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(ad, sizeof(ad));
	for (i = 0; i < ARRAY_SIZE(ciphers); i++) {
		vl_aead_key_set(&k, ciphers[i], key);
		vl_aead_nonce(ciphers[i], 7, nonce);
		memset(tag, 0xee, sizeof(tag));
		vl_aead_seal(&k, nonce, ad, sizeof(ad), out, 0, tag);
		assert_int_equal(tag[VL_AEAD_TAG_LEN], 0xee);
		assert_false(all_zero(tag, VL_AEAD_TAG_LEN));

		out[0] = 0xee;
		assert_true(
			vl_aead_open(&k, nonce, ad, sizeof(ad), tag, 0, out));
		assert_int_equal(out[0], 0xee); /* nothing written */
		/* no AD at all is a different message */
		assert_false(vl_aead_open(&k, nonce, NULL, 0, tag, 0, out));
		tag[VL_AEAD_TAG_LEN - 1] ^= 0x80;
		assert_false(
			vl_aead_open(&k, nonce, ad, sizeof(ad), tag, 0, out));
		assert_int_equal(out[0], 0xee);
		vl_aead_key_wipe(&k);
	}
	/* empty everything: GCM test case 13 again, through the AD path */
	vl_aead_key_set(&k, VL_CIPHER_AES, gcm_test_case_256_13.key.data);
	vl_aead_seal(&k, gcm_test_case_256_13.iv.data, NULL, 0, out, 0, tag);
	assert_memory_equal(tag, gcm_test_case_256_13.auth_tag.data,
			    VL_AEAD_TAG_LEN);
	vl_aead_key_wipe(&k);
}

/* out == in: the header-room layout the udp backend uses. */
static void test_aead_in_place(void **state)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN], d[96];
	struct vl_aead_key k;
	size_t i;

	(void)state;
	for (i = 0; i < N_TRANSPORT; i++) {
		const struct nebula_transport_test_data *t = transport(i);
		size_t len = t->plaintext.len;
		uint8_t *body = d + WIRE_HEADER_LEN;

		vl_aead_key_set(&k, t->cipher, t->key);
		vl_aead_nonce(t->cipher, t->counter, nonce);

		memset(d, 0xee, sizeof(d));
		memcpy(d, t->datagram.data, WIRE_HEADER_LEN);
		memcpy(body, t->plaintext.data, len);
		vl_aead_seal(&k, nonce, d, WIRE_HEADER_LEN, body, len, body);
		assert_memory_equal(d, t->datagram.data, t->datagram.len);

		assert_true(vl_aead_open(&k, nonce, d, WIRE_HEADER_LEN, body,
					 len, body));
		assert_memory_equal(body, t->plaintext.data, len);
		/* the tag is left as it was */
		assert_memory_equal(body + len,
				    t->datagram.data + WIRE_HEADER_LEN + len,
				    VL_AEAD_TAG_LEN);

		memcpy(d, t->datagram.data, t->datagram.len);
		d[t->datagram.len - 1] ^= 1;
		assert_false(vl_aead_open(&k, nonce, d, WIRE_HEADER_LEN, body,
					  len, body));
		assert_true(all_zero(body, len));
		vl_aead_key_wipe(&k);
	}
}

/*
 * IPsec-MB against libsodium's own AES-256-GCM (AES-NI/PCLMUL code of its
 * own): random keys, nonces and AD, every length 0..2048 and some around
 * the 9001-byte datagram limit, buffers misaligned and sized exactly
 * (test_malloc's guard bytes catch a write past the end). Both directions,
 * plus a flipped bit that both must reject.
 */
static void cross_check(size_t len, size_t ad_len)
{
	uint8_t key[VL_AEAD_KEY_LEN], nonce[VL_AEAD_NONCE_LEN];
	unsigned char stag[crypto_aead_aes256gcm_ABYTES];
	size_t off = randombytes_uniform(16);
	uint8_t *pt, *ad, *ours, *theirs, *back;
	unsigned long long tag_len;
	struct vl_aead_key k;
	size_t flip;

	pt = test_malloc(len + off);
	ad = test_malloc(ad_len + off);
	ours = test_malloc(len + VL_AEAD_TAG_LEN + off);
	theirs = test_malloc(len + VL_AEAD_TAG_LEN);
	back = test_malloc(len + off);

	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(pt + off, len);
	randombytes_buf(ad + off, ad_len);
	vl_aead_key_set(&k, VL_CIPHER_AES, key);

	vl_aead_seal(&k, nonce, ad + off, ad_len, pt + off, len, ours + off);
	assert_int_equal(crypto_aead_aes256gcm_encrypt_detached(
				 theirs, stag, &tag_len, pt + off, len,
				 ad + off, ad_len, NULL, nonce, key),
			 0);
	assert_int_equal(tag_len, VL_AEAD_TAG_LEN);
	memcpy(theirs + len, stag, sizeof(stag));
	assert_memory_equal(ours + off, theirs, len + VL_AEAD_TAG_LEN);

	/* theirs opened by us, ours by them */
	assert_true(vl_aead_open(&k, nonce, ad + off, ad_len, theirs, len,
				 back + off));
	assert_memory_equal(back + off, pt + off, len);
	assert_int_equal(crypto_aead_aes256gcm_decrypt_detached(
				 back + off, NULL, ours + off, len,
				 ours + off + len, ad + off, ad_len, nonce,
				 key),
			 0);
	assert_memory_equal(back + off, pt + off, len);

	flip = randombytes_uniform((uint32_t)(len + VL_AEAD_TAG_LEN));
	ours[off + flip] ^= (uint8_t)(1u << randombytes_uniform(8));
	assert_false(vl_aead_open(&k, nonce, ad + off, ad_len, ours + off, len,
				  back + off));
	assert_true(all_zero(back + off, len));
	assert_int_not_equal(crypto_aead_aes256gcm_decrypt_detached(
				     back + off, NULL, ours + off, len,
				     ours + off + len, ad + off, ad_len, nonce,
				     key),
			     0);

	vl_aead_key_wipe(&k);
	test_free(pt);
	test_free(ad);
	test_free(ours);
	test_free(theirs);
	test_free(back);
}

static void test_aead_gcm_matches_libsodium(void **state)
{
	static const size_t big[] = { 8969, 9000, 9000, 9001 };
	size_t len, i;

	(void)state;
	if (!crypto_aead_aes256gcm_is_available()) {
		print_message(
			"libsodium AES-256-GCM unavailable on this CPU\n");
		skip();
	}
	for (len = 0; len <= 2048; len++)
		cross_check(len, randombytes_uniform(len % 8 ? 48 : 1024));
	for (i = 0; i < ARRAY_SIZE(big); i++)
		cross_check(big[i], i % 2 ? WIRE_HEADER_LEN : 0);
}

/*
 * One buffer in its own mapping with inaccessible pages on both sides:
 * any byte IPsec-MB or libsodium touches outside [p, p + len) faults.
 * ASan cannot say this: the assembly is not instrumented.
 */
struct guarded {
	uint8_t *map;
	size_t page;
};

static void guarded_map(struct guarded *g)
{
	g->page = (size_t)sysconf(_SC_PAGESIZE);
	g->map = mmap(NULL, 3 * g->page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	assert_int_equal(mprotect(g->map, g->page, PROT_NONE), 0);
	assert_int_equal(mprotect(g->map + 2 * g->page, g->page, PROT_NONE), 0);
}

/* @len bytes flush against the upper guard page, or the lower one. */
static uint8_t *guarded_at(struct guarded *g, size_t len, bool at_end)
{
	assert_true(len <= g->page);
	return at_end ? g->map + 2 * g->page - len : g->map + g->page;
}

static void guarded_unmap(struct guarded *g)
{
	assert_int_equal(munmap(g->map, 3 * g->page), 0);
}

/* One mapping per argument, so each can sit against its own guard page. */
struct guards {
	struct guarded nonce, ad, in, out;
};

/* Seal, open and a failed open of @len bytes, every buffer flush at @end. */
static void guarded_round(struct guards *g, const struct vl_aead_key *k,
			  size_t ad_len, size_t len, bool end)
{
	uint8_t pt[512], ref[512 + VL_AEAD_TAG_LEN];
	uint8_t *n, *ad, *in, *out;

	assert_true(len <= 512);
	n = guarded_at(&g->nonce, VL_AEAD_NONCE_LEN, end);
	ad = guarded_at(&g->ad, ad_len, end);
	vl_aead_nonce(k->cipher, len, n);
	memset(ad, 0x5a, ad_len);

	in = guarded_at(&g->in, len, end);
	out = guarded_at(&g->out, len + VL_AEAD_TAG_LEN, end);
	memset(pt, 0xa5, len);
	memcpy(in, pt, len);
	vl_aead_seal(k, n, ad, ad_len, in, len, out);
	memcpy(ref, out, len + VL_AEAD_TAG_LEN);

	in = guarded_at(&g->in, len + VL_AEAD_TAG_LEN, end);
	out = guarded_at(&g->out, len, end);
	memcpy(in, ref, len + VL_AEAD_TAG_LEN);
	assert_true(vl_aead_open(k, n, ad, ad_len, in, len, out));
	assert_true(memcmp(out, pt, len) == 0);
	in[len] ^= 1;
	assert_false(vl_aead_open(k, n, ad, ad_len, in, len, out));
}

static void test_aead_no_access_outside_buffers(void **state)
{
	static const enum vl_cipher ciphers[] = { VL_CIPHER_AES,
						  VL_CIPHER_CHACHAPOLY };
	static const size_t ad_lens[] = { 0, 1, 12, 15, 16, 17, 33, 64, 100 };
	uint8_t key[VL_AEAD_KEY_LEN];
	struct vl_aead_key k;
	struct guards g;
	size_t c, a, len;

	(void)state;
	guarded_map(&g.nonce);
	guarded_map(&g.ad);
	guarded_map(&g.in);
	guarded_map(&g.out);
	randombytes_buf(key, sizeof(key));
	for (c = 0; c < ARRAY_SIZE(ciphers); c++) {
		vl_aead_key_set(&k, ciphers[c], key);
		for (a = 0; a < ARRAY_SIZE(ad_lens); a++) {
			for (len = 0; len <= 512; len++) {
				guarded_round(&g, &k, ad_lens[a], len, true);
				guarded_round(&g, &k, ad_lens[a], len, false);
			}
		}
		vl_aead_key_wipe(&k);
	}
	guarded_unmap(&g.nonce);
	guarded_unmap(&g.ad);
	guarded_unmap(&g.in);
	guarded_unmap(&g.out);
}

/* Wipe leaves every byte of the struct zero, padding included. */
static void test_aead_key_wipe(void **state)
{
	static const enum vl_cipher ciphers[] = { VL_CIPHER_AES,
						  VL_CIPHER_CHACHAPOLY };
	static const struct vl_aead_key zero;
	uint8_t key[VL_AEAD_KEY_LEN];
	struct vl_aead_key k;
	size_t i;

	(void)state;
	memset(key, 0x42, sizeof(key));
	for (i = 0; i < ARRAY_SIZE(ciphers); i++) {
		memset(&k, 0xee, sizeof(k));
		vl_aead_key_set(&k, ciphers[i], key);
		assert_int_equal(k.cipher, ciphers[i]);
		assert_false(all_zero(k.opaque, sizeof(k.opaque)));
		vl_aead_key_wipe(&k);
		assert_true(all_zero((const uint8_t *)&k, sizeof(k)));
		assert_memory_equal(&k, &zero, sizeof(k));
	}
}

/*
 * Setting a key over another leaves nothing of the old one: a ChaCha key
 * set over an AES schedule keeps only its 32 raw bytes.
 */
static void test_aead_key_set_replaces(void **state)
{
	const struct nebula_transport_test_data *aes =
		&nebula_aes_transport_vectors[0];
	const struct nebula_transport_test_data *cc =
		&nebula_chachapoly_transport_vectors[0];
	uint8_t nonce[VL_AEAD_NONCE_LEN], out[64 + VL_AEAD_TAG_LEN];
	struct vl_aead_key k;

	(void)state;
	vl_aead_key_set(&k, VL_CIPHER_AES, aes->key);
	vl_aead_key_set(&k, VL_CIPHER_CHACHAPOLY, cc->key);
	assert_memory_equal(k.opaque, cc->key, VL_AEAD_KEY_LEN);
	assert_true(all_zero(k.opaque + VL_AEAD_KEY_LEN,
			     sizeof(k.opaque) - VL_AEAD_KEY_LEN));

	vl_aead_nonce(VL_CIPHER_CHACHAPOLY, cc->counter, nonce);
	vl_aead_seal(&k, nonce, cc->datagram.data, WIRE_HEADER_LEN,
		     cc->plaintext.data, cc->plaintext.len, out);
	assert_memory_equal(out, cc->datagram.data + WIRE_HEADER_LEN,
			    cc->plaintext.len + VL_AEAD_TAG_LEN);

	vl_aead_key_set(&k, VL_CIPHER_AES, aes->key);
	vl_aead_nonce(VL_CIPHER_AES, aes->counter, nonce);
	vl_aead_seal(&k, nonce, aes->datagram.data, WIRE_HEADER_LEN,
		     aes->plaintext.data, aes->plaintext.len, out);
	assert_memory_equal(out, aes->datagram.data + WIRE_HEADER_LEN,
			    aes->plaintext.len + VL_AEAD_TAG_LEN);
	vl_aead_key_wipe(&k);
}

/*
 * Several threads seal and open through the one IPsec-MB manager at once,
 * each with its own keys; every result must still match Appendix A. cmocka
 * cannot fail from another thread, so threads count mismatches.
 */
#define THREADS 4
#define THREAD_ROUNDS 2000

static void *crypto_thread(void *arg)
{
	unsigned long *bad = arg;
	uint8_t nonce[VL_AEAD_NONCE_LEN], d[96], out[64];
	struct vl_aead_key keys[N_TRANSPORT];
	size_t i, r;

	for (i = 0; i < N_TRANSPORT; i++)
		vl_aead_key_set(&keys[i], transport(i)->cipher,
				transport(i)->key);
	for (r = 0; r < THREAD_ROUNDS; r++) {
		for (i = 0; i < N_TRANSPORT; i++) {
			const struct nebula_transport_test_data *t =
				transport(i);
			size_t len = t->plaintext.len;

			vl_aead_nonce(t->cipher, t->counter, nonce);
			memcpy(d, t->datagram.data, WIRE_HEADER_LEN);
			vl_aead_seal(&keys[i], nonce, d, WIRE_HEADER_LEN,
				     t->plaintext.data, len,
				     d + WIRE_HEADER_LEN);
			if (memcmp(d, t->datagram.data, t->datagram.len))
				(*bad)++;
			if (!vl_aead_open(&keys[i], nonce, d, WIRE_HEADER_LEN,
					  d + WIRE_HEADER_LEN, len, out) ||
			    memcmp(out, t->plaintext.data, len))
				(*bad)++;
			d[WIRE_HEADER_LEN] ^= 1;
			if (vl_aead_open(&keys[i], nonce, d, WIRE_HEADER_LEN,
					 d + WIRE_HEADER_LEN, len, out))
				(*bad)++;
		}
	}
	for (i = 0; i < N_TRANSPORT; i++)
		vl_aead_key_wipe(&keys[i]);
	return NULL;
}

static void test_aead_threads_share_manager(void **state)
{
	pthread_t th[THREADS];
	unsigned long bad[THREADS] = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, crypto_thread,
						&bad[i]),
				 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(bad[i], 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aead_init_idempotent),
		cmocka_unit_test(test_aead_cipher_name),
		cmocka_unit_test(test_aead_nonce),
		cmocka_unit_test(test_aead_kat_seal),
		cmocka_unit_test(test_aead_kat_open),
		cmocka_unit_test(test_aead_nebula_seal),
		cmocka_unit_test(test_aead_nebula_open),
		cmocka_unit_test(test_aead_nebula_tamper),
		cmocka_unit_test(test_aead_wrong_key),
		cmocka_unit_test(test_aead_empty_plaintext),
		cmocka_unit_test(test_aead_in_place),
		cmocka_unit_test(test_aead_gcm_matches_libsodium),
		cmocka_unit_test(test_aead_no_access_outside_buffers),
		cmocka_unit_test(test_aead_key_wipe),
		cmocka_unit_test(test_aead_key_set_replaces),
		cmocka_unit_test(test_aead_threads_share_manager),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
