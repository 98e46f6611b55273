/* SPDX-License-Identifier: MIT */
/*
 * common/aead_burst.c: the Appendix A datagrams and the GCM vectors whose
 * IV is a transport nonce, a cross-check of every op against the
 * per-message vl_aead_seal()/vl_aead_open() (aead.c, itself checked against
 * libsodium in test_aead.c) over random lengths, counters, AD and mixed
 * ciphers and keys, tampering that must fail exactly one op, empty and full
 * bursts, invalid ops, guard pages, and one burst object per thread.
 *
 * Vectors whose nonce cannot be a counter (GCM test cases 15 and 16, RFC
 * 8439: nonzero first four bytes) cannot go through this API; test_aead.c
 * covers them on the per-message path the burst results are compared to.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "aead.h"
#include "aead_burst.h"
#include "wire.h"
#include "aead_vectors.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TAG VL_AEAD_TAG_LEN
#define N_KEYS 6 /* even: AES, odd: ChaCha */

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

static int burst_setup(void **state)
{
	struct vl_aead_burst *b;

	if (vl_aead_burst_new(&b))
		return -1;
	*state = b;
	return 0;
}

static int burst_teardown(void **state)
{
	vl_aead_burst_free(*state);
	return 0;
}

static void keys_make(struct vl_aead_key *k, size_t n)
{
	uint8_t raw[VL_AEAD_KEY_LEN];
	size_t i;

	for (i = 0; i < n; i++) {
		randombytes_buf(raw, sizeof(raw));
		vl_aead_key_set(&k[i],
				i % 2 ? VL_CIPHER_CHACHAPOLY : VL_CIPHER_AES,
				raw);
	}
	sodium_memzero(raw, sizeof(raw));
}

static void keys_wipe(struct vl_aead_key *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		vl_aead_key_wipe(&k[i]);
}

/* Small ones often, up to the largest datagram payload. */
static uint32_t rand_len(void)
{
	if (randombytes_uniform(4) == 0)
		return randombytes_uniform(65);
	return randombytes_uniform(9001);
}

/* Both halves of the nonce matter: around 2^32 and near the top too. */
static uint64_t rand_counter(void)
{
	uint64_t c;

	switch (randombytes_uniform(5)) {
	case 0:
		return WIRE_FIRST_COUNTER + randombytes_uniform(1000);
	case 1:
		return (UINT64_C(1) << 32) - 2 + randombytes_uniform(5);
	case 2:
		return UINT64_MAX - randombytes_uniform(3);
	default:
		randombytes_buf(&c, sizeof(c));
		return c;
	}
}

static uint32_t rand_ad_len(void)
{
	switch (randombytes_uniform(4)) {
	case 0:
		return 0;
	case 1:
		return randombytes_uniform(65);
	default:
		return WIRE_HEADER_LEN;
	}
}

/*
 * One message laid out as on the wire, AD (header) right before the
 * payload, in an allocation of exactly that size at a random offset:
 * test_malloc's guard bytes catch a write past the tag. @sealed is what
 * vl_aead_seal() makes of it, the reference for the burst.
 */
struct msg {
	uint8_t *buf;
	uint8_t *ad; /* NULL for some messages without AD */
	uint8_t *data;
	uint8_t *pt;
	uint8_t *sealed; /* ciphertext || tag */
	uint32_t ad_len, len;
	const struct vl_aead_key *key;
	uint64_t counter;
};

static void msg_make(struct msg *m, const struct vl_aead_key *key,
		     uint64_t counter, uint32_t ad_len, uint32_t len)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];
	size_t off = randombytes_uniform(8);

	m->key = key;
	m->counter = counter;
	m->ad_len = ad_len;
	m->len = len;
	m->buf = test_malloc(off + ad_len + len + TAG);
	m->ad = m->buf + off;
	m->data = m->ad + ad_len;
	m->pt = test_malloc(len + 1);
	m->sealed = test_malloc(len + TAG);
	if (!ad_len && randombytes_uniform(2))
		m->ad = NULL;

	if (ad_len)
		randombytes_buf(m->ad, ad_len);
	randombytes_buf(m->pt, len);
	memcpy(m->data, m->pt, len);
	memset(m->data + len, 0xee, TAG);

	vl_aead_nonce(key->cipher, counter, nonce);
	vl_aead_seal(key, nonce, m->ad, ad_len, m->pt, len, m->sealed);
}

static void msg_free(struct msg *m)
{
	test_free(m->buf);
	test_free(m->pt);
	test_free(m->sealed);
}

/* Back to the sealed datagram, for another open. */
static void msg_reset_sealed(struct msg *m)
{
	memcpy(m->data, m->sealed, m->len + TAG);
}

static void msg_op(const struct msg *m, struct vl_aead_op *op)
{
	*op = (struct vl_aead_op){
		.key = m->key,
		.counter = m->counter,
		.ad = m->ad,
		.ad_len = m->ad_len,
		.data = m->data,
		.len = m->len,
		.ok = false,
	};
}

/* ops[i] for msgs[i]; ok starts true so the call must clear it. */
static void msgs_ops(const struct msg *msgs, struct vl_aead_op *ops, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		msg_op(&msgs[i], &ops[i]);
		ops[i].ok = !ops[i].ok;
	}
}

static void check_sealed(const struct msg *m, const struct vl_aead_op *op)
{
	assert_true(op->ok);
	assert_memory_equal(m->data, m->sealed, m->len + TAG);
}

static void check_opened(const struct msg *m, const struct vl_aead_op *op)
{
	assert_true(op->ok);
	if (m->len)
		assert_memory_equal(m->data, m->pt, m->len);
	/* open leaves the tag where it was */
	assert_memory_equal(m->data + m->len, m->sealed + m->len, TAG);
}

static void test_aead_burst_new_free(void **state)
{
	struct vl_aead_burst *a, *b;

	(void)state;
	assert_int_equal(vl_aead_burst_new(&a), 0);
	assert_non_null(a);
	assert_int_equal(vl_aead_burst_new(&b), 0);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	vl_aead_burst_free(a);
	vl_aead_burst_free(b);
	vl_aead_burst_free(NULL);
}

/*
 * One burst holding every Appendix A transport message (both ciphers, four
 * keys) and GCM test cases 13 and 14, whose all-zero IV is the AES nonce
 * of counter 0 and which have no AD at all.
 */
static const struct aead_test_data *const gcm_counter0[] = {
	&gcm_test_case_256_13,
	&gcm_test_case_256_14,
};

#define N_KAT (N_TRANSPORT + ARRAY_SIZE(gcm_counter0))

struct kat {
	struct vl_aead_key keys[N_KAT];
	uint8_t d[N_KAT][128 + TAG];
	struct vl_aead_op ops[N_KAT];
};

/* Ops over the plaintexts (@seal) or the expected outputs. */
static void kat_ops(struct kat *k, bool seal)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];
	size_t i;

	for (i = 0; i < N_TRANSPORT; i++) {
		const struct nebula_transport_test_data *t = transport(i);
		uint8_t *d = k->d[i];

		vl_aead_key_set(&k->keys[i], t->cipher, t->key);
		memset(d, 0xee, sizeof(k->d[i]));
		if (seal) {
			memcpy(d, t->datagram.data, WIRE_HEADER_LEN);
			memcpy(d + WIRE_HEADER_LEN, t->plaintext.data,
			       t->plaintext.len);
		} else {
			memcpy(d, t->datagram.data, t->datagram.len);
		}
		k->ops[i] = (struct vl_aead_op){
			.key = &k->keys[i],
			.counter = wire_get_be64(t->datagram.data + 8),
			.ad = d,
			.ad_len = WIRE_HEADER_LEN,
			.data = d + WIRE_HEADER_LEN,
			.len = t->plaintext.len,
		};
		assert_int_equal(k->ops[i].counter, t->counter);
	}
	for (i = 0; i < ARRAY_SIZE(gcm_counter0); i++) {
		const struct aead_test_data *t = gcm_counter0[i];
		size_t j = N_TRANSPORT + i;
		uint8_t *d = k->d[j];

		assert_int_equal(t->aad.len, 0);
		vl_aead_nonce(VL_CIPHER_AES, 0, nonce);
		assert_memory_equal(nonce, t->iv.data, VL_AEAD_NONCE_LEN);
		vl_aead_key_set(&k->keys[j], t->cipher, t->key.data);
		memset(d, 0xee, sizeof(k->d[j]));
		if (seal) {
			memcpy(d, t->plaintext.data, t->plaintext.len);
		} else {
			memcpy(d, t->ciphertext.data, t->ciphertext.len);
			memcpy(d + t->ciphertext.len, t->auth_tag.data, TAG);
		}
		k->ops[j] = (struct vl_aead_op){
			.key = &k->keys[j],
			.counter = 0,
			.data = d,
			.len = t->plaintext.len,
		};
	}
}

static void test_aead_burst_kat_seal(void **state)
{
	struct vl_aead_burst *b = *state;
	struct kat kat, *k = &kat; /* keys need their 64-byte alignment */
	size_t i;

	kat_ops(k, true);
	vl_aead_seal_burst(b, k->ops, N_KAT);
	for (i = 0; i < N_TRANSPORT; i++) {
		const struct nebula_transport_test_data *t = transport(i);

		assert_true(k->ops[i].ok);
		assert_memory_equal(k->d[i], t->datagram.data, t->datagram.len);
		assert_int_equal(k->d[i][t->datagram.len], 0xee);
	}
	for (i = 0; i < ARRAY_SIZE(gcm_counter0); i++) {
		const struct aead_test_data *t = gcm_counter0[i];
		const uint8_t *d = k->d[N_TRANSPORT + i];

		assert_true(k->ops[N_TRANSPORT + i].ok);
		assert_memory_equal(d, t->ciphertext.data, t->ciphertext.len);
		assert_memory_equal(d + t->ciphertext.len, t->auth_tag.data,
				    TAG);
	}
	keys_wipe(k->keys, N_KAT);
}

static void test_aead_burst_kat_open(void **state)
{
	struct vl_aead_burst *b = *state;
	struct kat kat, *k = &kat; /* keys need their 64-byte alignment */
	size_t i;

	kat_ops(k, false);
	assert_int_equal(vl_aead_open_burst(b, k->ops, N_KAT), N_KAT);
	for (i = 0; i < N_TRANSPORT; i++) {
		const struct nebula_transport_test_data *t = transport(i);

		assert_true(k->ops[i].ok);
		assert_memory_equal(k->d[i] + WIRE_HEADER_LEN,
				    t->plaintext.data, t->plaintext.len);
	}
	for (i = 0; i < ARRAY_SIZE(gcm_counter0); i++) {
		const struct aead_test_data *t = gcm_counter0[i];

		assert_true(k->ops[N_TRANSPORT + i].ok);
		assert_memory_equal(k->d[N_TRANSPORT + i], t->plaintext.data,
				    t->plaintext.len);
	}
	keys_wipe(k->keys, N_KAT);
}

/*
 * Burst @msgs[0..n) through seal and compare every op with vl_aead_seal(),
 * then open what the burst sealed: it must round-trip.
 */
static void seal_open_check(struct vl_aead_burst *b, struct msg *msgs, size_t n)
{
	struct vl_aead_op ops[VL_AEAD_BURST_MAX];
	size_t i;

	msgs_ops(msgs, ops, n);
	vl_aead_seal_burst(b, ops, (unsigned int)n);
	for (i = 0; i < n; i++)
		check_sealed(&msgs[i], &ops[i]);

	msgs_ops(msgs, ops, n);
	assert_int_equal(vl_aead_open_burst(b, ops, (unsigned int)n), n);
	for (i = 0; i < n; i++)
		check_opened(&msgs[i], &ops[i]);
}

/*
 * Random bursts of mixed ciphers and keys, lengths 0..9000, counters
 * small, around 2^32 and near 2^64, AD absent, short or a header.
 */
static void test_aead_burst_matches_single(void **state)
{
	struct vl_aead_burst *b = *state;
	struct vl_aead_key keys[N_KEYS];
	struct msg msgs[VL_AEAD_BURST_MAX];
	size_t round, i, n;

	keys_make(keys, N_KEYS);
	for (round = 0; round < 150; round++) {
		n = 1 + randombytes_uniform(VL_AEAD_BURST_MAX);
		for (i = 0; i < n; i++)
			msg_make(&msgs[i], &keys[randombytes_uniform(N_KEYS)],
				 rand_counter(), rand_ad_len(), rand_len());
		seal_open_check(b, msgs, n);
		for (i = 0; i < n; i++)
			msg_free(&msgs[i]);
	}
	keys_wipe(keys, N_KEYS);
}

/* Every length 0..511 once per cipher, 64 to a burst, ciphers alternating. */
static void test_aead_burst_every_small_len(void **state)
{
	struct vl_aead_burst *b = *state;
	struct vl_aead_key keys[N_KEYS];
	struct msg msgs[VL_AEAD_BURST_MAX];
	uint32_t len, i;

	keys_make(keys, N_KEYS);
	for (len = 0; len < 2 * 512; len += VL_AEAD_BURST_MAX) {
		for (i = 0; i < VL_AEAD_BURST_MAX; i++)
			msg_make(&msgs[i], &keys[(len + i) % N_KEYS],
				 rand_counter(), WIRE_HEADER_LEN,
				 (len + i) / 2);
		seal_open_check(b, msgs, VL_AEAD_BURST_MAX);
		for (i = 0; i < VL_AEAD_BURST_MAX; i++)
			msg_free(&msgs[i]);
	}
	keys_wipe(keys, N_KEYS);
}

/* n = VL_AEAD_BURST_MAX: one AES key, one ChaCha key, and both mixed. */
static void test_aead_burst_max(void **state)
{
	struct vl_aead_burst *b = *state;
	struct vl_aead_key keys[N_KEYS];
	struct msg msgs[VL_AEAD_BURST_MAX];
	size_t mode, rep, i;

	keys_make(keys, N_KEYS);
	for (mode = 0; mode < 3; mode++) {
		/* several calls: the job queue must come back empty each time */
		for (rep = 0; rep < 5; rep++) {
			for (i = 0; i < VL_AEAD_BURST_MAX; i++) {
				size_t k = mode < 2 ? mode : i % N_KEYS;

				msg_make(&msgs[i], &keys[k], 1000 * rep + i,
					 WIRE_HEADER_LEN, 1 + rand_len());
			}
			seal_open_check(b, msgs, VL_AEAD_BURST_MAX);
			for (i = 0; i < VL_AEAD_BURST_MAX; i++)
				msg_free(&msgs[i]);
		}
	}
	keys_wipe(keys, N_KEYS);
}

/* n = 0: nothing read or written, with or without an array. */
static void test_aead_burst_empty(void **state)
{
	struct vl_aead_burst *b = *state;
	struct vl_aead_op op = { .ok = true };
	struct vl_aead_op before;

	vl_aead_seal_burst(b, NULL, 0);
	assert_int_equal(vl_aead_open_burst(b, NULL, 0), 0);
	before = op;
	vl_aead_seal_burst(b, &op, 0);
	assert_int_equal(vl_aead_open_burst(b, &op, 0), 0);
	assert_memory_equal(&op, &before, sizeof(op));
}

enum spot { IN_AD, IN_PAYLOAD, IN_TAG, IN_COUNTER, N_SPOTS };

/*
 * One bit flipped in the AD, payload or tag of one op, or its counter
 * off by one: that op fails with its payload zeroed, its tag bytes left
 * alone, and every other op of the burst still opens.
 */
static void tamper_round(struct vl_aead_burst *b, struct msg *msgs, size_t n,
			 size_t victim, enum spot spot)
{
	struct vl_aead_op ops[VL_AEAD_BURST_MAX];
	struct msg *v = &msgs[victim];
	uint8_t *p = NULL;
	uint8_t bit = (uint8_t)(1u << randombytes_uniform(8));
	size_t i;

	for (i = 0; i < n; i++)
		msg_reset_sealed(&msgs[i]);
	msgs_ops(msgs, ops, n);
	switch (spot) {
	case IN_AD:
		p = v->ad + randombytes_uniform(v->ad_len);
		break;
	case IN_PAYLOAD:
		p = v->data + randombytes_uniform(v->len);
		break;
	case IN_TAG:
		p = v->data + v->len + randombytes_uniform(TAG);
		break;
	case IN_COUNTER:
		ops[victim].counter ^= 1;
		break;
	case N_SPOTS:
		fail();
	}
	if (p)
		*p ^= bit;

	assert_int_equal(vl_aead_open_burst(b, ops, (unsigned int)n), n - 1);
	for (i = 0; i < n; i++) {
		if (i != victim) {
			check_opened(&msgs[i], &ops[i]);
			continue;
		}
		assert_false(ops[i].ok);
		assert_true(all_zero(v->data, v->len));
		if (spot == IN_TAG)
			v->sealed[p - v->data] ^= bit;
		assert_memory_equal(v->data + v->len, v->sealed + v->len, TAG);
		if (spot == IN_TAG)
			v->sealed[p - v->data] ^= bit;
	}
	if (spot == IN_AD)
		*p ^= bit;
}

static void test_aead_burst_tamper_one(void **state)
{
	struct vl_aead_burst *b = *state;
	struct vl_aead_key keys[N_KEYS];
	struct msg msgs[VL_AEAD_BURST_MAX];
	size_t round, i, n;
	int spot;

	keys_make(keys, N_KEYS);
	for (round = 0; round < 12; round++) {
		n = round % 3 ? VL_AEAD_BURST_MAX :
				1 + randombytes_uniform(VL_AEAD_BURST_MAX);
		for (i = 0; i < n; i++)
			msg_make(&msgs[i], &keys[randombytes_uniform(N_KEYS)],
				 rand_counter(), WIRE_HEADER_LEN,
				 randombytes_uniform(1500));
		for (i = 0; i < 3 * n; i++) {
			size_t victim = i < n ? i : randombytes_uniform(n);

			for (spot = 0; spot < N_SPOTS; spot++) {
				if (spot == IN_PAYLOAD && !msgs[victim].len)
					continue;
				tamper_round(b, msgs, n, victim, spot);
			}
		}
		for (i = 0; i < n; i++)
			msg_free(&msgs[i]);
	}
	keys_wipe(keys, N_KEYS);
}

/* Every op tampered, or opened with the other cipher's key: none opens. */
static void test_aead_burst_tamper_all(void **state)
{
	struct vl_aead_burst *b = *state;
	struct vl_aead_key keys[N_KEYS];
	struct msg msgs[VL_AEAD_BURST_MAX];
	struct vl_aead_op ops[VL_AEAD_BURST_MAX];
	size_t i;

	keys_make(keys, N_KEYS);
	for (i = 0; i < VL_AEAD_BURST_MAX; i++)
		msg_make(&msgs[i], &keys[i % N_KEYS], rand_counter(),
			 WIRE_HEADER_LEN, rand_len());

	for (i = 0; i < VL_AEAD_BURST_MAX; i++)
		msg_reset_sealed(&msgs[i]);
	msgs_ops(msgs, ops, VL_AEAD_BURST_MAX);
	for (i = 0; i < VL_AEAD_BURST_MAX; i++)
		msgs[i].data[msgs[i].len + i % TAG] ^= 0x01;
	assert_int_equal(vl_aead_open_burst(b, ops, VL_AEAD_BURST_MAX), 0);
	for (i = 0; i < VL_AEAD_BURST_MAX; i++) {
		assert_false(ops[i].ok);
		assert_true(all_zero(msgs[i].data, msgs[i].len));
	}

	/* the neighbour's key: another key, of the other cipher */
	for (i = 0; i < VL_AEAD_BURST_MAX; i++)
		msg_reset_sealed(&msgs[i]);
	msgs_ops(msgs, ops, VL_AEAD_BURST_MAX);
	for (i = 0; i < VL_AEAD_BURST_MAX; i++)
		ops[i].key = &keys[(i + 1) % N_KEYS];
	assert_int_equal(vl_aead_open_burst(b, ops, VL_AEAD_BURST_MAX), 0);
	for (i = 0; i < VL_AEAD_BURST_MAX; i++) {
		assert_false(ops[i].ok);
		assert_true(all_zero(msgs[i].data, msgs[i].len));
	}

	for (i = 0; i < VL_AEAD_BURST_MAX; i++)
		msg_free(&msgs[i]);
	keys_wipe(keys, N_KEYS);
}

/*
 * Ops that break the pointer contract fail alone, data zeroed where there
 * is data; the valid ops around them (both ciphers) are unaffected.
 */
static void test_aead_burst_invalid_op(void **state)
{
	struct vl_aead_burst *b = *state;
	struct vl_aead_key keys[2];
	struct msg msgs[8];
	struct vl_aead_op ops[8];
	size_t i;
	int seal;

	keys_make(keys, 2);
	for (seal = 1; seal >= 0; seal--) {
		for (i = 0; i < 8; i++) {
			msg_make(&msgs[i], &keys[i % 2], 100 + i,
				 WIRE_HEADER_LEN, 1 + randombytes_uniform(200));
			if (!seal)
				msg_reset_sealed(&msgs[i]);
		}
		msgs_ops(msgs, ops, 8);
		ops[1].key = NULL;
		ops[2].data = NULL;
		ops[5].ad = NULL; /* with ad_len 16 */
		if (seal) {
			vl_aead_seal_burst(b, ops, 8);
		} else {
			assert_int_equal(vl_aead_open_burst(b, ops, 8), 5);
		}
		for (i = 0; i < 8; i++) {
			size_t zlen = msgs[i].len + (seal ? TAG : 0);

			if (i == 1 || i == 2 || i == 5) {
				assert_false(ops[i].ok);
				if (i != 2)
					assert_true(
						all_zero(msgs[i].data, zlen));
				else if (seal) /* no data pointer: untouched */
					assert_memory_equal(msgs[i].data,
							    msgs[i].pt,
							    msgs[i].len);
				else
					assert_memory_equal(msgs[i].data,
							    msgs[i].sealed,
							    zlen);
			} else if (seal) {
				check_sealed(&msgs[i], &ops[i]);
			} else {
				check_opened(&msgs[i], &ops[i]);
			}
		}
		for (i = 0; i < 8; i++)
			msg_free(&msgs[i]);
	}
	keys_wipe(keys, 2);
}

/*
 * Two mappings per buffer kind with inaccessible pages on both sides; the
 * two ops of each burst sit flush against the upper and the lower guard.
 * IPsec-MB's and libsodium's assembly is not seen by ASan; a stray read
 * or write here faults.
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

static uint8_t *guarded_at(struct guarded *g, size_t len, bool at_end)
{
	assert_true(len <= g->page);
	return at_end ? g->map + 2 * g->page - len : g->map + g->page;
}

static void guarded_unmap(struct guarded *g)
{
	assert_int_equal(munmap(g->map, 3 * g->page), 0);
}

static void guarded_round(struct vl_aead_burst *b, struct guarded *g,
			  const struct vl_aead_key *k, uint32_t ad_len,
			  uint32_t len)
{
	uint8_t pt[512], ref[2][512 + TAG], nonce[VL_AEAD_NONCE_LEN];
	struct vl_aead_op ops[2];
	int j;

	memset(pt, 0xa5, len);
	for (j = 0; j < 2; j++) {
		bool end = j == 0;
		uint8_t *ad = guarded_at(&g[2 * j], ad_len, end);
		uint8_t *d = guarded_at(&g[2 * j + 1], len + TAG, end);

		memset(ad, 0x5a, ad_len);
		memcpy(d, pt, len);
		ops[j] = (struct vl_aead_op){
			.key = k,
			.counter = len + (uint64_t)j,
			.ad = ad,
			.ad_len = ad_len,
			.data = d,
			.len = len,
		};
		vl_aead_nonce(k->cipher, ops[j].counter, nonce);
		vl_aead_seal(k, nonce, ad, ad_len, pt, len, ref[j]);
	}
	vl_aead_seal_burst(b, ops, 2);
	for (j = 0; j < 2; j++) {
		assert_true(ops[j].ok);
		assert_true(memcmp(ops[j].data, ref[j], len + TAG) == 0);
	}
	assert_int_equal(vl_aead_open_burst(b, ops, 2), 2);
	for (j = 0; j < 2; j++)
		assert_true(memcmp(ops[j].data, pt, len) == 0);

	memcpy(ops[0].data, ref[0], len + TAG);
	memcpy(ops[1].data, ref[1], len + TAG);
	ops[1].data[len + TAG - 1] ^= 1;
	assert_int_equal(vl_aead_open_burst(b, ops, 2), 1);
	assert_true(ops[0].ok);
	assert_false(ops[1].ok);
}

static void test_aead_burst_no_access_outside_buffers(void **state)
{
	static const uint32_t ad_lens[] = { 0, 1, 15, 16, 17, 33 };
	struct vl_aead_burst *b = *state;
	struct vl_aead_key keys[2];
	struct guarded g[4]; /* ad, data of op 0; ad, data of op 1 */
	size_t c, a, i;
	uint32_t len;

	for (i = 0; i < ARRAY_SIZE(g); i++)
		guarded_map(&g[i]);
	keys_make(keys, 2);
	for (c = 0; c < 2; c++)
		for (a = 0; a < ARRAY_SIZE(ad_lens); a++)
			for (len = 0; len <= 512; len++)
				guarded_round(b, g, &keys[c], ad_lens[a], len);
	keys_wipe(keys, 2);
	for (i = 0; i < ARRAY_SIZE(g); i++)
		guarded_unmap(&g[i]);
}

/*
 * One burst object per thread, the keys shared by all of them, and a
 * thread on the per-message path besides: every result must still match
 * Appendix A. cmocka cannot fail from another thread, so threads count.
 */
#define THREADS 4
#define THREAD_ROUNDS 1000

struct thread_arg {
	const struct vl_aead_key *keys; /* [N_TRANSPORT], shared */
	bool burst;
	unsigned long bad;
};

static void thread_burst(struct thread_arg *a, struct vl_aead_burst *b)
{
	uint8_t d[N_TRANSPORT][96];
	struct vl_aead_op ops[N_TRANSPORT];
	size_t i;

	for (i = 0; i < N_TRANSPORT; i++) {
		const struct nebula_transport_test_data *t = transport(i);

		memcpy(d[i], t->datagram.data, WIRE_HEADER_LEN);
		memcpy(d[i] + WIRE_HEADER_LEN, t->plaintext.data,
		       t->plaintext.len);
		ops[i] = (struct vl_aead_op){
			.key = &a->keys[i],
			.counter = t->counter,
			.ad = d[i],
			.ad_len = WIRE_HEADER_LEN,
			.data = d[i] + WIRE_HEADER_LEN,
			.len = t->plaintext.len,
		};
	}
	vl_aead_seal_burst(b, ops, N_TRANSPORT);
	for (i = 0; i < N_TRANSPORT; i++)
		if (!ops[i].ok || memcmp(d[i], transport(i)->datagram.data,
					 transport(i)->datagram.len))
			a->bad++;
	if (vl_aead_open_burst(b, ops, N_TRANSPORT) != N_TRANSPORT)
		a->bad++;
	for (i = 0; i < N_TRANSPORT; i++)
		if (memcmp(ops[i].data, transport(i)->plaintext.data,
			   ops[i].len))
			a->bad++;
}

static void thread_single(struct thread_arg *a)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN], out[96];
	size_t i;

	for (i = 0; i < N_TRANSPORT; i++) {
		const struct nebula_transport_test_data *t = transport(i);

		vl_aead_nonce(t->cipher, t->counter, nonce);
		vl_aead_seal(&a->keys[i], nonce, t->datagram.data,
			     WIRE_HEADER_LEN, t->plaintext.data,
			     t->plaintext.len, out);
		if (memcmp(out, t->datagram.data + WIRE_HEADER_LEN,
			   t->plaintext.len + TAG))
			a->bad++;
	}
}

static void *crypto_thread(void *arg)
{
	struct thread_arg *a = arg;
	struct vl_aead_burst *b = NULL;
	size_t r;

	if (a->burst && vl_aead_burst_new(&b)) {
		a->bad++;
		return NULL;
	}
	for (r = 0; r < THREAD_ROUNDS; r++) {
		if (a->burst)
			thread_burst(a, b);
		else
			thread_single(a);
	}
	vl_aead_burst_free(b);
	return NULL;
}

static void test_aead_burst_one_per_thread(void **state)
{
	struct vl_aead_key keys[N_TRANSPORT];
	struct thread_arg args[THREADS + 1];
	pthread_t th[THREADS + 1];
	size_t i;

	(void)state;
	for (i = 0; i < N_TRANSPORT; i++)
		vl_aead_key_set(&keys[i], transport(i)->cipher,
				transport(i)->key);
	for (i = 0; i < ARRAY_SIZE(th); i++) {
		args[i] = (struct thread_arg){ .keys = keys,
					       .burst = i < THREADS };
		assert_int_equal(pthread_create(&th[i], NULL, crypto_thread,
						&args[i]),
				 0);
	}
	for (i = 0; i < ARRAY_SIZE(th); i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].bad, 0);
	}
	keys_wipe(keys, N_TRANSPORT);
}

#define BURST_TEST(f) \
	cmocka_unit_test_setup_teardown(f, burst_setup, burst_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aead_burst_new_free),
		BURST_TEST(test_aead_burst_kat_seal),
		BURST_TEST(test_aead_burst_kat_open),
		BURST_TEST(test_aead_burst_matches_single),
		BURST_TEST(test_aead_burst_every_small_len),
		BURST_TEST(test_aead_burst_max),
		BURST_TEST(test_aead_burst_empty),
		BURST_TEST(test_aead_burst_tamper_one),
		BURST_TEST(test_aead_burst_tamper_all),
		BURST_TEST(test_aead_burst_invalid_op),
		BURST_TEST(test_aead_burst_no_access_outside_buffers),
		cmocka_unit_test(test_aead_burst_one_per_thread),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
