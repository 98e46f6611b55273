/* SPDX-License-Identifier: MIT */
/*
 * Noise IX as Nebula 1.6.1 runs it: the Appendix A handshakes byte for byte
 * for both ciphers (built with the fixed ephemeral keys), then refusal of
 * everything that must fail: short messages, flipped bits, a cipher
 * mismatch, calls out of order, small-order keys, short buffers. A
 * randomized run checks that two sides with fresh keys always agree.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "aead.h"
#include "noise.h"
#include "noise_vectors.h"
#include "status.h"
#include "wire.h"

/* One cipher's Appendix A handshake; the full UDP payloads include the header. */
struct cipher_vec {
	enum vl_cipher cipher;
	const uint8_t *e_i, *e_r;
	const uint8_t *msg1, *msg2;
	size_t msg1_len, msg2_len;
	const uint8_t *h, *k1, *k2;
};

static const struct cipher_vec vec_aes = {
	.cipher = VL_CIPHER_AES,
	.e_i = vec_noise_aes_e_priv_i,
	.e_r = vec_noise_aes_e_priv_r,
	.msg1 = vec_noise_aes_msg1,
	.msg1_len = sizeof(vec_noise_aes_msg1),
	.msg2 = vec_noise_aes_msg2,
	.msg2_len = sizeof(vec_noise_aes_msg2),
	.h = vec_noise_aes_h,
	.k1 = vec_noise_aes_k1,
	.k2 = vec_noise_aes_k2,
};

static const struct cipher_vec vec_chacha = {
	.cipher = VL_CIPHER_CHACHAPOLY,
	.e_i = vec_noise_chacha_e_priv_i,
	.e_r = vec_noise_chacha_e_priv_r,
	.msg1 = vec_noise_chacha_msg1,
	.msg1_len = sizeof(vec_noise_chacha_msg1),
	.msg2 = vec_noise_chacha_msg2,
	.msg2_len = sizeof(vec_noise_chacha_msg2),
	.h = vec_noise_chacha_h,
	.k1 = vec_noise_chacha_k1,
	.k2 = vec_noise_chacha_k2,
};

enum {
	MSG_MAX = 1024,
	MSG1_NOISE_LEN = sizeof(vec_noise_aes_msg1) - WIRE_HEADER_LEN,
	MSG2_NOISE_LEN = sizeof(vec_noise_aes_msg2) - WIRE_HEADER_LEN,
};

/* Small-order X25519 points (libsodium's blocklist): DH with them is zero. */
static const uint8_t small_order[][32] = {
	{ 0 }, /* 0 */
	{ 1 }, /* 1 */
	{ 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
	  0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
	  0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
	{ 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
	  0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
	  0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57 },
};

static const struct cipher_vec *vec_of(void **state)
{
	return *state;
}

static bool all_zero(const void *p, size_t len)
{
	return sodium_is_zero(p, len);
}

/* The 16-byte header of a handshake message as Nebula sends it. */
static void put_header(uint8_t *buf, uint32_t remote_index, uint64_t counter)
{
	wire_header_encode(buf, WIRE_HANDSHAKE, WIRE_SUB_IX_PSK0, remote_index,
			   counter);
}

static void init_pair(const struct cipher_vec *v, struct ctl_noise *ini,
		      struct ctl_noise *resp)
{
	ctl_noise_init(ini, v->cipher, true, vec_host_a_priv);
	ctl_noise_set_ephemeral(ini, v->e_i);
	ctl_noise_init(resp, v->cipher, false, vec_host_b_priv);
	ctl_noise_set_ephemeral(resp, v->e_r);
	assert_int_equal(ini->state, CTL_NOISE_FRESH);
	assert_int_equal(resp->state, CTL_NOISE_FRESH);
}

/* Message 1 of the vector, written and read; returns its Noise part. */
static size_t do_msg1(const struct cipher_vec *v, struct ctl_noise *ini,
		      struct ctl_noise *resp, uint8_t msg1[MSG_MAX])
{
	struct vl_status st = { "" };
	const uint8_t *payload;
	size_t len, plen;

	assert_int_equal(ctl_noise_write_msg1(ini, vec_noise_msg1_payload,
					      sizeof(vec_noise_msg1_payload),
					      msg1, MSG_MAX, &len, &st),
			 0);
	assert_int_equal(len, MSG1_NOISE_LEN);
	assert_memory_equal(msg1, v->msg1 + WIRE_HEADER_LEN, len);
	assert_int_equal(
		ctl_noise_read_msg1(resp, msg1, len, &payload, &plen, &st), 0);
	return len;
}

/* Message 2 of the vector, written by the responder; returns its length. */
static size_t write_msg2(struct ctl_noise *resp, uint8_t msg2[MSG_MAX])
{
	struct vl_status st = { "" };
	size_t len;

	assert_int_equal(ctl_noise_write_msg2(resp, vec_noise_msg2_payload,
					      sizeof(vec_noise_msg2_payload),
					      msg2, MSG_MAX, &len, &st),
			 0);
	assert_int_equal(len, MSG2_NOISE_LEN);
	return len;
}

/* The initiator accepts @msg2 and ends with the vector's h, payload and keys. */
static void read_msg2_ok(const struct cipher_vec *v, struct ctl_noise *ini,
			 const uint8_t *msg2, size_t len)
{
	struct vl_status st = { "" };
	uint8_t payload[MSG_MAX], send[32], recv[32];
	size_t plen;

	assert_int_equal(ctl_noise_read_msg2(ini, msg2, len, payload,
					     sizeof(payload), &plen, &st),
			 0);
	assert_int_equal(plen, sizeof(vec_noise_msg2_payload));
	assert_memory_equal(payload, vec_noise_msg2_payload, plen);
	assert_memory_equal(ini->h, v->h, 32);
	assert_int_equal(ctl_noise_split(ini, send, recv), 0);
	assert_memory_equal(send, v->k1, 32);
	assert_memory_equal(recv, v->k2, 32);
}

/* InitializeSymmetric + MixHash(""), recomputed from the definition. */
static void test_noise_init_symmetric(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	const char *name = v->cipher == VL_CIPHER_AES ?
				   "Noise_IX_25519_AESGCM_SHA256" :
				   "Noise_IX_25519_ChaChaPoly_SHA256";
	uint8_t padded[32] = { 0 }, h[32];
	struct ctl_noise n;

	memcpy(padded, name, strlen(name));
	crypto_hash_sha256(h, padded, sizeof(padded));
	ctl_noise_init(&n, v->cipher, true, vec_host_a_priv);
	assert_int_equal(n.state, CTL_NOISE_FRESH);
	assert_memory_equal(n.ck, padded, 32);
	assert_memory_equal(n.h, h, 32);
	assert_false(n.has_k);
	assert_memory_equal(n.s_pub, vec_host_a_pub, 32);
	assert_null(ctl_noise_remote_static(&n));
	ctl_noise_wipe(&n);
}

/* The whole Appendix A handshake, including the 16-byte headers. */
static void test_noise_vectors(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	uint8_t msg1[WIRE_HEADER_LEN + MSG_MAX],
		msg2[WIRE_HEADER_LEN + MSG_MAX];
	uint8_t payload[MSG_MAX], send[32], recv[32];
	struct vl_status st = { "" };
	struct ctl_noise ini, resp;
	const uint8_t *p1;
	size_t len1, len2, plen;

	init_pair(v, &ini, &resp);

	/* host-a -> host-b: header (index 0, counter 1) + e, s, payload */
	put_header(msg1, 0, WIRE_HS_MSG1);
	assert_int_equal(ctl_noise_write_msg1(&ini, vec_noise_msg1_payload,
					      sizeof(vec_noise_msg1_payload),
					      msg1 + WIRE_HEADER_LEN, MSG_MAX,
					      &len1, &st),
			 0);
	assert_int_equal(WIRE_HEADER_LEN + len1, v->msg1_len);
	assert_memory_equal(msg1, v->msg1, v->msg1_len);
	assert_int_equal(ini.state, CTL_NOISE_SENT_MSG1);
	assert_null(ctl_noise_remote_static(&ini));

	assert_int_equal(ctl_noise_read_msg1(&resp, v->msg1 + WIRE_HEADER_LEN,
					     v->msg1_len - WIRE_HEADER_LEN, &p1,
					     &plen, &st),
			 0);
	assert_memory_equal(ctl_noise_remote_static(&resp), vec_host_a_pub, 32);
	assert_memory_equal(resp.rs, vec_host_a_pub, 32);
	assert_memory_equal(resp.re, v->msg1 + WIRE_HEADER_LEN, 32);
	assert_int_equal(plen, sizeof(vec_noise_msg1_payload));
	assert_memory_equal(p1, vec_noise_msg1_payload, plen);
	/* The payload is returned in place, not copied. */
	assert_ptr_equal(p1, v->msg1 + WIRE_HEADER_LEN + 64);

	/* host-b -> host-a: header (InitiatorIndex, counter 2) + e, s, payload */
	put_header(msg2, VEC_NOISE_INITIATOR_INDEX, WIRE_HS_MSG2);
	assert_int_equal(ctl_noise_write_msg2(&resp, vec_noise_msg2_payload,
					      sizeof(vec_noise_msg2_payload),
					      msg2 + WIRE_HEADER_LEN, MSG_MAX,
					      &len2, &st),
			 0);
	assert_int_equal(WIRE_HEADER_LEN + len2, v->msg2_len);
	assert_memory_equal(msg2, v->msg2, v->msg2_len);
	assert_memory_equal(resp.h, v->h, 32);

	assert_int_equal(ctl_noise_read_msg2(&ini, v->msg2 + WIRE_HEADER_LEN,
					     v->msg2_len - WIRE_HEADER_LEN,
					     payload, sizeof(payload), &plen,
					     &st),
			 0);
	assert_int_equal(plen, sizeof(vec_noise_msg2_payload));
	assert_memory_equal(payload, vec_noise_msg2_payload, plen);
	assert_memory_equal(ini.h, v->h, 32);
	assert_memory_equal(ctl_noise_remote_static(&ini), vec_host_b_pub, 32);

	assert_int_equal(ctl_noise_split(&ini, send, recv), 0);
	assert_memory_equal(send, v->k1, 32);
	assert_memory_equal(recv, v->k2, 32);
	assert_int_equal(ctl_noise_split(&resp, send, recv), 0);
	assert_memory_equal(send, v->k2, 32);
	assert_memory_equal(recv, v->k1, 32);

	/* h survives Split (channel binding); the secrets do not. */
	assert_memory_equal(ini.h, v->h, 32);
	assert_true(all_zero(ini.ck, 32) && all_zero(ini.k, 32));
	assert_true(all_zero(ini.e_priv, 32) && all_zero(ini.s_priv, 32));
	assert_true(all_zero(resp.ck, 32) && all_zero(resp.k, 32));
	assert_true(all_zero(resp.e_priv, 32) && all_zero(resp.s_priv, 32));
	ctl_noise_wipe(&ini);
	ctl_noise_wipe(&resp);
}

/* Every length below 64 is refused and leaves the responder able to go on. */
static void test_noise_msg1_truncated(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	const uint8_t *msg = v->msg1 + WIRE_HEADER_LEN;
	struct ctl_noise resp, before;
	const uint8_t *p = NULL;
	size_t plen = 0;

	ctl_noise_init(&resp, v->cipher, false, vec_host_b_priv);
	memcpy(&before, &resp, sizeof(resp));
	for (size_t len = 0; len < CTL_NOISE_MSG1_MIN; len++) {
		struct vl_status st = { "" };
		/* A heap copy of exactly @len bytes, so ASan sees overreads. */
		uint8_t *cut = malloc(len ? len : 1);

		assert_non_null(cut);
		memcpy(cut, msg, len);
		assert_int_equal(ctl_noise_read_msg1(&resp, cut, len, &p, &plen,
						     &st),
				 -EINVAL);
		assert_non_null(strstr(st.msg, "message 1"));
		assert_memory_equal(&resp, &before, sizeof(resp));
		free(cut);
	}
	assert_null(p);

	/* 64 bytes, an empty payload, is the shortest valid message 1. */
	assert_int_equal(ctl_noise_read_msg1(&resp, msg, CTL_NOISE_MSG1_MIN, &p,
					     &plen, NULL),
			 0);
	assert_int_equal(plen, 0);
	ctl_noise_wipe(&resp);
}

/*
 * Every length below 96 is refused with the initiator still waiting; the
 * genuine message 2 then completes the handshake.
 */
static void test_noise_msg2_truncated(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	const uint8_t *msg = v->msg2 + WIRE_HEADER_LEN;
	struct ctl_noise ini, resp, before;
	uint8_t msg1[MSG_MAX], payload[MSG_MAX];
	size_t plen = 0;

	init_pair(v, &ini, &resp);
	do_msg1(v, &ini, &resp, msg1);
	memcpy(&before, &ini, sizeof(ini));
	for (size_t len = 0; len < CTL_NOISE_MSG2_MIN; len++) {
		struct vl_status st = { "" };
		uint8_t *cut = malloc(len ? len : 1);

		assert_non_null(cut);
		memcpy(cut, msg, len);
		assert_int_equal(ctl_noise_read_msg2(&ini, cut, len, payload,
						     sizeof(payload), &plen,
						     &st),
				 -EINVAL);
		assert_non_null(strstr(st.msg, "message 2"));
		assert_memory_equal(&ini, &before, sizeof(ini));
		free(cut);
	}
	read_msg2_ok(v, &ini, msg, v->msg2_len - WIRE_HEADER_LEN);
	ctl_noise_wipe(&ini);
	ctl_noise_wipe(&resp);
}

/*
 * Any single flipped bit of message 2 fails authentication: in the
 * encrypted static key and the payload directly, in the ephemeral key
 * through h and the DH results. The initiator stays put each time and
 * finally accepts the real message (§3.8: forged msg 2 is ignored).
 */
static void test_noise_msg2_bitflip(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	const size_t len = v->msg2_len - WIRE_HEADER_LEN;
	uint8_t msg1[MSG_MAX], bad[MSG_MAX], payload[MSG_MAX];
	struct ctl_noise ini, resp, before;
	size_t plen;

	init_pair(v, &ini, &resp);
	do_msg1(v, &ini, &resp, msg1);
	memcpy(&before, &ini, sizeof(ini));
	for (size_t bit = 0; bit < len * 8; bit++) {
		struct vl_status st = { "" };

		memcpy(bad, v->msg2 + WIRE_HEADER_LEN, len);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(payload, 0xa5, sizeof(payload));
		assert_int_equal(ctl_noise_read_msg2(&ini, bad, len, payload,
						     sizeof(payload), &plen,
						     &st),
				 -EBADMSG);
		assert_non_null(strstr(st.msg, "does not decrypt"));
		assert_memory_equal(&ini, &before, sizeof(ini));
		/* A payload that fails its tag is not left behind. */
		if (bit / 8 >= 80)
			assert_true(
				all_zero(payload, len - CTL_NOISE_MSG2_MIN));
	}
	read_msg2_ok(v, &ini, v->msg2 + WIRE_HEADER_LEN, len);
	ctl_noise_wipe(&ini);
	ctl_noise_wipe(&resp);
}

/* cipher aes on one node, chachapoly on the other: msg 2 cannot be read. */
static void test_noise_wrong_cipher(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	enum vl_cipher other = v->cipher == VL_CIPHER_AES ?
				       VL_CIPHER_CHACHAPOLY :
				       VL_CIPHER_AES;
	uint8_t msg1[MSG_MAX], msg2[MSG_MAX], payload[MSG_MAX];
	struct vl_status st = { "" };
	struct ctl_noise ini, resp;
	const uint8_t *p;
	size_t len1, len2, plen;

	ctl_noise_init(&ini, v->cipher, true, vec_host_a_priv);
	ctl_noise_init(&resp, other, false, vec_host_b_priv);
	assert_int_equal(ctl_noise_write_msg1(&ini, vec_noise_msg1_payload,
					      sizeof(vec_noise_msg1_payload),
					      msg1, sizeof(msg1), &len1, &st),
			 0);
	/* Message 1 is cleartext: the mismatch goes unnoticed here. */
	assert_int_equal(ctl_noise_read_msg1(&resp, msg1, len1, &p, &plen, &st),
			 0);
	assert_int_equal(ctl_noise_write_msg2(&resp, vec_noise_msg2_payload,
					      sizeof(vec_noise_msg2_payload),
					      msg2, sizeof(msg2), &len2, &st),
			 0);
	assert_int_equal(ctl_noise_read_msg2(&ini, msg2, len2, payload,
					     sizeof(payload), &plen, &st),
			 -EBADMSG);
	assert_int_equal(ini.state, CTL_NOISE_SENT_MSG1);
	ctl_noise_wipe(&ini);
	ctl_noise_wipe(&resp);
}

/* Each call in the wrong role or state: -EPROTO and no change. */
static void test_noise_out_of_order(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	const uint8_t *m1 = v->msg1 + WIRE_HEADER_LEN;
	const uint8_t *m2 = v->msg2 + WIRE_HEADER_LEN;
	const size_t l1 = v->msg1_len - WIRE_HEADER_LEN;
	const size_t l2 = v->msg2_len - WIRE_HEADER_LEN;
	uint8_t buf[MSG_MAX], send[32], recv[32];
	struct ctl_noise ini, resp, zero, before;
	struct vl_status st = { "" };
	const uint8_t *p;
	size_t len;

	init_pair(v, &ini, &resp);

	/* Never initialised (or wiped): everything refused. */
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(ctl_noise_write_msg1(&zero, NULL, 0, buf, sizeof(buf),
					      &len, &st),
			 -EPROTO);
	assert_non_null(strstr(st.msg, "refused"));
	assert_int_equal(ctl_noise_read_msg1(&zero, m1, l1, &p, &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_write_msg2(&zero, NULL, 0, buf, sizeof(buf),
					      &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_read_msg2(&zero, m2, l2, buf, sizeof(buf),
					     &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_split(&zero, send, recv), -EPROTO);
	assert_null(ctl_noise_remote_static(&zero));

	/* Fresh: only the role's first step is allowed. */
	memcpy(&before, &ini, sizeof(ini));
	assert_int_equal(ctl_noise_read_msg1(&ini, m1, l1, &p, &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_write_msg2(&ini, NULL, 0, buf, sizeof(buf),
					      &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_read_msg2(&ini, m2, l2, buf, sizeof(buf),
					     &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_split(&ini, send, recv), -EPROTO);
	assert_memory_equal(&ini, &before, sizeof(ini));
	memcpy(&before, &resp, sizeof(resp));
	assert_int_equal(ctl_noise_write_msg1(&resp, NULL, 0, buf, sizeof(buf),
					      &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_write_msg2(&resp, NULL, 0, buf, sizeof(buf),
					      &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_read_msg2(&resp, m2, l2, buf, sizeof(buf),
					     &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_split(&resp, send, recv), -EPROTO);
	assert_memory_equal(&resp, &before, sizeof(resp));

	/* After message 1: no second message 1, no early split. */
	do_msg1(v, &ini, &resp, buf);
	assert_int_equal(ctl_noise_write_msg1(&ini, NULL, 0, buf, sizeof(buf),
					      &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_split(&ini, send, recv), -EPROTO);
	assert_int_equal(ctl_noise_read_msg1(&resp, m1, l1, &p, &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_split(&resp, send, recv), -EPROTO);
	/* A fixed ephemeral key can no longer be swapped in. */
	ctl_noise_set_ephemeral(&ini, v->e_r);
	assert_memory_equal(ini.e_priv, v->e_i, 32);

	/* Complete: no more messages; split once. */
	write_msg2(&resp, buf);
	assert_int_equal(ctl_noise_write_msg2(&resp, NULL, 0, buf, sizeof(buf),
					      &len, &st),
			 -EPROTO);
	read_msg2_ok(v, &ini, m2, l2);
	assert_int_equal(ctl_noise_read_msg2(&ini, m2, l2, buf, sizeof(buf),
					     &len, &st),
			 -EPROTO);
	assert_int_equal(ctl_noise_split(&ini, send, recv), -EPROTO);
	assert_int_equal(ctl_noise_split(&resp, send, recv), 0);
	assert_int_equal(ctl_noise_split(&resp, send, recv), -EPROTO);
	ctl_noise_wipe(&ini);
	ctl_noise_wipe(&resp);
}

/*
 * A small-order ephemeral or static key in message 1 makes a DH result all
 * zero: the responder refuses to write message 2 and the handshake is dead
 * (and wiped). In message 2 the initiator refuses it and keeps waiting.
 */
static void test_noise_small_order(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	const size_t l1 = v->msg1_len - WIRE_HEADER_LEN;
	const size_t l2 = v->msg2_len - WIRE_HEADER_LEN;
	uint8_t bad[MSG_MAX], out[MSG_MAX], send[32], recv[32];
	struct ctl_noise ini, resp, before;
	const uint8_t *p;
	size_t len;

	for (size_t i = 0; i < sizeof(small_order) / sizeof(small_order[0]);
	     i++) {
		/* offset 0: e (ee fails); offset 32: s (se fails) */
		for (size_t off = 0; off <= 32; off += 32) {
			struct vl_status st = { "" };

			memcpy(bad, v->msg1 + WIRE_HEADER_LEN, l1);
			memcpy(bad + off, small_order[i], 32);
			ctl_noise_init(&resp, v->cipher, false,
				       vec_host_b_priv);
			assert_int_equal(ctl_noise_read_msg1(&resp, bad, l1, &p,
							     &len, &st),
					 0);
			memset(out, 0xa5, sizeof(out));
			assert_int_equal(ctl_noise_write_msg2(
						 &resp, vec_noise_msg2_payload,
						 sizeof(vec_noise_msg2_payload),
						 out, sizeof(out), &len, &st),
					 -EINVAL);
			assert_non_null(strstr(st.msg, "small order"));
			assert_non_null(strstr(st.msg, off ? "se" : "ee"));
			assert_true(all_zero(&resp, sizeof(resp)));
			assert_true(all_zero(out, CTL_NOISE_MSG2_MIN));
			assert_int_equal(ctl_noise_split(&resp, send, recv),
					 -EPROTO);
			assert_null(ctl_noise_remote_static(&resp));
		}
	}

	init_pair(v, &ini, &resp);
	do_msg1(v, &ini, &resp, out);
	memcpy(&before, &ini, sizeof(ini));
	for (size_t i = 0; i < sizeof(small_order) / sizeof(small_order[0]);
	     i++) {
		struct vl_status st = { "" };

		memcpy(bad, v->msg2 + WIRE_HEADER_LEN, l2);
		memcpy(bad, small_order[i], 32);
		assert_int_equal(ctl_noise_read_msg2(&ini, bad, l2, out,
						     sizeof(out), &len, &st),
				 -EINVAL);
		assert_non_null(strstr(st.msg, "small order"));
		assert_memory_equal(&ini, &before, sizeof(ini));
	}
	read_msg2_ok(v, &ini, v->msg2 + WIRE_HEADER_LEN, l2);
	ctl_noise_wipe(&ini);
	ctl_noise_wipe(&resp);
}

/* Output buffers one byte short: -ENOBUFS, nothing written, state kept. */
static void test_noise_short_buffers(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	const size_t l1 = v->msg1_len - WIRE_HEADER_LEN;
	const size_t l2 = v->msg2_len - WIRE_HEADER_LEN;
	uint8_t buf[MSG_MAX], msg1[MSG_MAX];
	struct ctl_noise ini, resp, before;
	struct vl_status st = { "" };
	size_t len;

	init_pair(v, &ini, &resp);
	memcpy(&before, &ini, sizeof(ini));
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(ctl_noise_write_msg1(&ini, vec_noise_msg1_payload,
					      sizeof(vec_noise_msg1_payload),
					      buf, l1 - 1, &len, &st),
			 -ENOBUFS);
	/* A capacity below the fixed part must not wrap around. */
	assert_int_equal(ctl_noise_write_msg1(&ini, NULL, 0, buf, 63, &len,
					      &st),
			 -ENOBUFS);
	assert_int_equal(buf[0], 0xa5);
	assert_memory_equal(&ini, &before, sizeof(ini));
	do_msg1(v, &ini, &resp, msg1);

	memcpy(&before, &resp, sizeof(resp));
	assert_int_equal(ctl_noise_write_msg2(&resp, vec_noise_msg2_payload,
					      sizeof(vec_noise_msg2_payload),
					      buf, l2 - 1, &len, &st),
			 -ENOBUFS);
	assert_int_equal(ctl_noise_write_msg2(&resp, NULL, 0, buf, 95, &len,
					      &st),
			 -ENOBUFS);
	assert_memory_equal(&resp, &before, sizeof(resp));
	assert_int_equal(buf[0], 0xa5);
	write_msg2(&resp, buf);

	memcpy(&before, &ini, sizeof(ini));
	assert_int_equal(ctl_noise_read_msg2(&ini, buf, l2, msg1,
					     sizeof(vec_noise_msg2_payload) - 1,
					     &len, &st),
			 -ENOBUFS);
	assert_memory_equal(&ini, &before, sizeof(ini));
	read_msg2_ok(v, &ini, buf, l2);
	ctl_noise_wipe(&ini);
	ctl_noise_wipe(&resp);
}

/* Empty payloads: 64- and 96-byte messages, NULL payload pointers. */
static void test_noise_empty_payloads(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	uint8_t msg1[MSG_MAX], msg2[MSG_MAX], ks[4][32];
	struct ctl_noise ini, resp;
	struct vl_status st = { "" };
	const uint8_t *p;
	size_t len1, len2, plen;

	init_pair(v, &ini, &resp);
	assert_int_equal(ctl_noise_write_msg1(&ini, NULL, 0, msg1,
					      CTL_NOISE_MSG1_MIN, &len1, &st),
			 0);
	assert_int_equal(len1, CTL_NOISE_MSG1_MIN);
	assert_int_equal(ctl_noise_read_msg1(&resp, msg1, len1, &p, &plen, &st),
			 0);
	assert_int_equal(plen, 0);
	assert_int_equal(ctl_noise_write_msg2(&resp, NULL, 0, msg2,
					      CTL_NOISE_MSG2_MIN, &len2, &st),
			 0);
	assert_int_equal(len2, CTL_NOISE_MSG2_MIN);
	assert_int_equal(
		ctl_noise_read_msg2(&ini, msg2, len2, NULL, 0, &plen, &st), 0);
	assert_int_equal(plen, 0);
	assert_memory_equal(ini.h, resp.h, 32);
	assert_int_equal(ctl_noise_split(&ini, ks[0], ks[1]), 0);
	assert_int_equal(ctl_noise_split(&resp, ks[2], ks[3]), 0);
	assert_memory_equal(ks[0], ks[3], 32);
	assert_memory_equal(ks[1], ks[2], 32);
	assert_memory_not_equal(ks[0], ks[1], 32);
	ctl_noise_wipe(&ini);
	ctl_noise_wipe(&resp);
}

/* ctl_noise_wipe leaves nothing behind, at any stage, and kills the struct. */
static void test_noise_wipe(void **state)
{
	const struct cipher_vec *v = vec_of(state);
	uint8_t buf[MSG_MAX], send[32], recv[32];
	struct ctl_noise ini, resp;
	struct vl_status st = { "" };
	size_t len;

	/* Mid-handshake: e_priv, s_priv and ck are all live here. */
	init_pair(v, &ini, &resp);
	do_msg1(v, &ini, &resp, buf);
	assert_false(all_zero(ini.e_priv, 32));
	assert_false(all_zero(ini.s_priv, 32));
	ctl_noise_wipe(&ini);
	assert_true(all_zero(&ini, sizeof(ini)));
	assert_int_equal(ini.state, CTL_NOISE_DEAD);
	assert_int_equal(ctl_noise_read_msg2(&ini, v->msg2 + WIRE_HEADER_LEN,
					     v->msg2_len - WIRE_HEADER_LEN, buf,
					     sizeof(buf), &len, &st),
			 -EPROTO);

	/* Complete but not split: k and ck are live. */
	write_msg2(&resp, buf);
	assert_true(resp.has_k);
	assert_false(all_zero(resp.k, 32));
	ctl_noise_wipe(&resp);
	assert_true(all_zero(&resp, sizeof(resp)));
	assert_int_equal(ctl_noise_split(&resp, send, recv), -EPROTO);

	/* Twice is harmless. */
	ctl_noise_wipe(&resp);
	assert_true(all_zero(&resp, sizeof(resp)));
}

/*
 * Random statics and ephemerals, random payloads of 0..299 bytes: both
 * sides always finish with the same h, the right remote keys and mirrored
 * transport keys.
 */
static void test_noise_random(void **state)
{
	const struct cipher_vec *v = vec_of(state);

	for (int i = 0; i < 100; i++) {
		uint8_t sa[32], sb[32], pa[32], pb[32];
		uint8_t p1[300], p2[300], got[300];
		uint8_t msg1[MSG_MAX], msg2[MSG_MAX], ks[4][32];
		struct ctl_noise ini, resp;
		struct vl_status st = { "" };
		size_t n1 = randombytes_uniform(sizeof(p1));
		size_t n2 = randombytes_uniform(sizeof(p2));
		size_t len1, len2, plen;
		const uint8_t *p;

		randombytes_buf(sa, sizeof(sa));
		randombytes_buf(sb, sizeof(sb));
		randombytes_buf(p1, sizeof(p1));
		randombytes_buf(p2, sizeof(p2));
		crypto_scalarmult_base(pa, sa);
		crypto_scalarmult_base(pb, sb);

		ctl_noise_init(&ini, v->cipher, true, sa);
		ctl_noise_init(&resp, v->cipher, false, sb);
		assert_int_equal(ctl_noise_write_msg1(&ini, p1, n1, msg1,
						      sizeof(msg1), &len1, &st),
				 0);
		assert_int_equal(ctl_noise_read_msg1(&resp, msg1, len1, &p,
						     &plen, &st),
				 0);
		assert_int_equal(plen, n1);
		assert_memory_equal(p, p1, n1);
		assert_memory_equal(ctl_noise_remote_static(&resp), pa, 32);
		assert_int_equal(ctl_noise_write_msg2(&resp, p2, n2, msg2,
						      sizeof(msg2), &len2, &st),
				 0);
		assert_int_equal(ctl_noise_read_msg2(&ini, msg2, len2, got,
						     sizeof(got), &plen, &st),
				 0);
		assert_int_equal(plen, n2);
		assert_memory_equal(got, p2, n2);
		assert_memory_equal(ctl_noise_remote_static(&ini), pb, 32);
		assert_memory_equal(ini.h, resp.h, 32);
		/* Fresh ephemerals: the second message's key is never reused. */
		assert_memory_not_equal(ini.e_pub, resp.e_pub, 32);

		assert_int_equal(ctl_noise_split(&ini, ks[0], ks[1]), 0);
		assert_int_equal(ctl_noise_split(&resp, ks[2], ks[3]), 0);
		assert_memory_equal(ks[0], ks[3], 32);
		assert_memory_equal(ks[1], ks[2], 32);
		assert_memory_not_equal(ks[0], ks[1], 32);
		ctl_noise_wipe(&ini);
		ctl_noise_wipe(&resp);
		sodium_memzero(sa, sizeof(sa));
		sodium_memzero(sb, sizeof(sb));
	}
}

/* Two entries per test, one per cipher: test_noise_<behaviour>_aes, _chacha. */
#define NAME(f, v) #f "_" #v
#define WITH(f, v)                                          \
	{                                                   \
		NAME(f, v), f, NULL, NULL, (void *)&vec_##v \
	}
#define PER_CIPHER(f) WITH(f, aes), WITH(f, chacha)

int main(void)
{
	const struct CMUnitTest tests[] = {
		PER_CIPHER(test_noise_init_symmetric),
		PER_CIPHER(test_noise_vectors),
		PER_CIPHER(test_noise_msg1_truncated),
		PER_CIPHER(test_noise_msg2_truncated),
		PER_CIPHER(test_noise_msg2_bitflip),
		PER_CIPHER(test_noise_wrong_cipher),
		PER_CIPHER(test_noise_out_of_order),
		PER_CIPHER(test_noise_small_order),
		PER_CIPHER(test_noise_short_buffers),
		PER_CIPHER(test_noise_empty_payloads),
		PER_CIPHER(test_noise_wipe),
		PER_CIPHER(test_noise_random),
	};

	if (sodium_init() < 0 || vl_aead_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
