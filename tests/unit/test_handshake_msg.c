/* SPDX-License-Identifier: MIT */
/*
 * The NebulaHandshake payload: the Appendix A msg-1 and msg-2 payloads byte
 * for byte, gogo's encoding rules (order, zero values omitted), decoding of
 * what gogo accepts (any order, unknown fields) and refusal of what 1.6.1
 * refuses (no Details, malformed or truncated protobuf), and the msg-2
 * echo of InitiatorIndex, Cookie and Hmac. Run under ASan, every decode
 * path is also a leak check.
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

#include "handshake_msg.h"
#include "noise_vectors.h"
#include "status.h"

enum { BUF_MAX = 1024 };

static const struct ctl_hs_payload msg1_fields = {
	.cert = vec_host_a_raw_nokey,
	.cert_len = sizeof(vec_host_a_raw_nokey),
	.initiator_index = VEC_NOISE_INITIATOR_INDEX,
	.time_ns = VEC_NOISE_INITIATOR_TIME,
};

static const struct ctl_hs_payload msg2_fields = {
	.cert = vec_host_b_raw_nokey,
	.cert_len = sizeof(vec_host_b_raw_nokey),
	.initiator_index = VEC_NOISE_INITIATOR_INDEX,
	.responder_index = VEC_NOISE_RESPONDER_INDEX,
	.time_ns = VEC_NOISE_RESPONDER_TIME,
};

/* A little protobuf writer for hand-made inputs. */
struct pbuf {
	uint8_t b[BUF_MAX];
	size_t len;
};

static void put(struct pbuf *w, const void *p, size_t len)
{
	assert_true(len <= sizeof(w->b) - w->len);
	memcpy(w->b + w->len, p, len);
	w->len += len;
}

static void put_varint(struct pbuf *w, uint64_t v)
{
	uint8_t c;

	do {
		c = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			c |= 0x80;
		put(w, &c, 1);
	} while (v);
}

static void put_bytes(struct pbuf *w, unsigned int field, const void *p,
		      size_t len)
{
	put_varint(w, field << 3 | 2);
	put_varint(w, len);
	put(w, p, len);
}

static void encode_ok(const struct ctl_hs_payload *p, const uint8_t *want,
		      size_t want_len)
{
	struct vl_status st = { "" };
	uint8_t out[BUF_MAX];
	size_t len = 0;

	assert_int_equal(ctl_hs_encoded_len(p), want_len);
	assert_int_equal(ctl_hs_encode(p, out, sizeof(out), &len, &st), 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, want_len);
	/* Exactly enough room is enough. */
	assert_int_equal(ctl_hs_encode(p, out, want_len, &len, &st), 0);
	assert_memory_equal(out, want, want_len);
}

static void assert_fields(const struct ctl_hs_payload *got,
			  const struct ctl_hs_payload *want)
{
	assert_int_equal(got->cert_len, want->cert_len);
	if (want->cert_len)
		assert_memory_equal(got->cert, want->cert, want->cert_len);
	assert_int_equal(got->initiator_index, want->initiator_index);
	assert_int_equal(got->responder_index, want->responder_index);
	assert_int_equal(got->cookie, want->cookie);
	assert_int_equal(got->time_ns, want->time_ns);
	assert_int_equal(got->hmac_len, want->hmac_len);
	if (want->hmac_len)
		assert_memory_equal(got->hmac, want->hmac, want->hmac_len);
}

/* Decode failures: -EINVAL, @what in the message, nothing held. */
static void assert_decode_fails(const uint8_t *buf, size_t len,
				const char *what)
{
	struct vl_status st = { "" };
	struct ctl_hs_payload p;

	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(ctl_hs_decode(buf, len, &p, &st), -EINVAL);
	assert_non_null(strstr(st.msg, what));
	assert_null(p.decoded);
	assert_null(p.cert);
	assert_int_equal(p.cert_len, 0);
	assert_null(p.hmac);
}

/* Appendix A msg 1: Details{Cert, InitiatorIndex, Time}, 162 bytes. */
static void test_hs_encode_msg1_vector(void **state)
{
	(void)state;
	encode_ok(&msg1_fields, vec_noise_msg1_payload,
		  sizeof(vec_noise_msg1_payload));
}

/* Appendix A msg 2: ResponderIndex between InitiatorIndex and Time, 177 bytes. */
static void test_hs_encode_msg2_vector(void **state)
{
	(void)state;
	encode_ok(&msg2_fields, vec_noise_msg2_payload,
		  sizeof(vec_noise_msg2_payload));
}

static void test_hs_decode_vectors(void **state)
{
	struct vl_status st = { "" };
	struct ctl_hs_payload p;

	(void)state;
	assert_int_equal(ctl_hs_decode(vec_noise_msg1_payload,
				       sizeof(vec_noise_msg1_payload), &p, &st),
			 0);
	assert_non_null(p.decoded);
	assert_fields(&p, &msg1_fields);
	ctl_hs_release(&p);
	assert_null(p.decoded);
	assert_null(p.cert);

	assert_int_equal(ctl_hs_decode(vec_noise_msg2_payload,
				       sizeof(vec_noise_msg2_payload), &p, &st),
			 0);
	assert_fields(&p, &msg2_fields);
	ctl_hs_release(&p);
}

/*
 * The responder's path (§3.4): decode msg 1, set ResponderIndex, Cert and
 * Time, encode. That is the Appendix A msg-2 payload.
 */
static void test_hs_responder_reuses_msg1(void **state)
{
	struct vl_status st = { "" };
	struct ctl_hs_payload p;

	(void)state;
	assert_int_equal(ctl_hs_decode(vec_noise_msg1_payload,
				       sizeof(vec_noise_msg1_payload), &p, &st),
			 0);
	p.responder_index = VEC_NOISE_RESPONDER_INDEX;
	p.cert = vec_host_b_raw_nokey;
	p.cert_len = sizeof(vec_host_b_raw_nokey);
	p.time_ns = VEC_NOISE_RESPONDER_TIME;
	encode_ok(&p, vec_noise_msg2_payload, sizeof(vec_noise_msg2_payload));
	ctl_hs_release(&p);
}

/*
 * Every field set, small values, checked against hand-written bytes: the
 * field order is 1..5 inside Details, then Hmac.
 */
static void test_hs_field_order(void **state)
{
	static const uint8_t want[] = {
		0x0a, 0x0c, /* Details, 12 bytes */
		0x0a, 0x02, 'x', 'y', /* Cert */
		0x10, 0x01, /* InitiatorIndex */
		0x18, 0x02, /* ResponderIndex */
		0x20, 0x03, /* Cookie */
		0x28, 0x04, /* Time */
		0x12, 0x01, 'h', /* Hmac */
	};
	const struct ctl_hs_payload p = {
		.cert = (const uint8_t *)"xy",
		.cert_len = 2,
		.initiator_index = 1,
		.responder_index = 2,
		.cookie = 3,
		.time_ns = 4,
		.hmac = (const uint8_t *)"h",
		.hmac_len = 1,
	};

	(void)state;
	encode_ok(&p, want, sizeof(want));
}

/* Zero values vanish; an empty Details is still sent, as "0a 00". */
static void test_hs_zero_values_omitted(void **state)
{
	static const uint8_t want[] = { 0x0a, 0x00 };
	const struct ctl_hs_payload zero = { 0 };
	struct vl_status st = { "" };
	struct ctl_hs_payload p;

	(void)state;
	encode_ok(&zero, want, sizeof(want));
	assert_int_equal(ctl_hs_decode(want, sizeof(want), &p, &st), 0);
	assert_fields(&p, &zero);
	ctl_hs_release(&p);
}

/* The largest values: 5-byte and 10-byte varints survive both ways. */
static void test_hs_max_values(void **state)
{
	const struct ctl_hs_payload big = {
		.cert = vec_host_a_raw_nokey,
		.cert_len = sizeof(vec_host_a_raw_nokey),
		.initiator_index = UINT32_MAX,
		.responder_index = UINT32_MAX,
		.cookie = UINT64_MAX,
		.time_ns = UINT64_MAX,
		.hmac = vec_host_b_raw_nokey,
		.hmac_len = sizeof(vec_host_b_raw_nokey),
	};
	struct vl_status st = { "" };
	struct ctl_hs_payload p;
	uint8_t out[BUF_MAX];
	size_t len;

	(void)state;
	assert_int_equal(ctl_hs_encode(&big, out, sizeof(out), &len, &st), 0);
	/* 3 + (3 + 141) + 2 * (1 + 5) + 2 * (1 + 10) + (3 + 150) */
	assert_int_equal(len, 3 + 144 + 12 + 22 + 153);
	assert_int_equal(ctl_hs_decode(out, len, &p, &st), 0);
	assert_fields(&p, &big);
	ctl_hs_release(&p);
}

/*
 * Cookie and Hmac, never set by 1.6.1, come back unchanged in msg 2 along
 * with InitiatorIndex (Appendix B.8).
 */
static void test_hs_cookie_hmac_echo(void **state)
{
	static const uint8_t hmac[] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01 };
	struct ctl_hs_payload sent = msg1_fields, p, back;
	struct vl_status st = { "" };
	uint8_t m1[BUF_MAX], m2[BUF_MAX];
	size_t len1, len2;

	(void)state;
	sent.cookie = 0x1122334455667788ULL;
	sent.hmac = hmac;
	sent.hmac_len = sizeof(hmac);
	assert_int_equal(ctl_hs_encode(&sent, m1, sizeof(m1), &len1, &st), 0);
	/* Hmac (field 2) follows Details at the very end. */
	assert_int_equal(m1[len1 - sizeof(hmac) - 2], 0x12);
	assert_memory_equal(m1 + len1 - sizeof(hmac), hmac, sizeof(hmac));

	assert_int_equal(ctl_hs_decode(m1, len1, &p, &st), 0);
	assert_fields(&p, &sent);
	p.responder_index = VEC_NOISE_RESPONDER_INDEX;
	p.cert = vec_host_b_raw_nokey;
	p.cert_len = sizeof(vec_host_b_raw_nokey);
	p.time_ns = VEC_NOISE_RESPONDER_TIME;
	assert_int_equal(ctl_hs_encode(&p, m2, sizeof(m2), &len2, &st), 0);
	ctl_hs_release(&p);

	assert_int_equal(ctl_hs_decode(m2, len2, &back, &st), 0);
	assert_int_equal(back.initiator_index, VEC_NOISE_INITIATOR_INDEX);
	assert_int_equal(back.responder_index, VEC_NOISE_RESPONDER_INDEX);
	assert_int_equal(back.cookie, 0x1122334455667788ULL);
	assert_int_equal(back.hmac_len, sizeof(hmac));
	assert_memory_equal(back.hmac, hmac, sizeof(hmac));
	assert_int_equal(back.time_ns, VEC_NOISE_RESPONDER_TIME);
	assert_int_equal(back.cert_len, sizeof(vec_host_b_raw_nokey));
	assert_memory_equal(back.cert, vec_host_b_raw_nokey,
			    sizeof(vec_host_b_raw_nokey));
	ctl_hs_release(&back);
}

/*
 * The msg-1 fields in reverse order, with unknown fields of every wire
 * type inside Details (including the reserved 6 and 7) and at the top
 * level: decoded to the same values, re-encoded to the canonical vector.
 */
static void test_hs_unknown_fields_skipped(void **state)
{
	static const uint8_t f64[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t f32[4] = { 9, 10, 11, 12 };
	struct pbuf d = { .len = 0 }, m = { .len = 0 };
	struct vl_status st = { "" };
	struct ctl_hs_payload p;

	(void)state;
	put_varint(&d, 6 << 3 | 0); /* reserved 6, varint */
	put_varint(&d, 300);
	put_bytes(&d, 7, "mp", 2); /* reserved 7, bytes */
	put_varint(&d, 5 << 3 | 0); /* Time */
	put_varint(&d, VEC_NOISE_INITIATOR_TIME);
	put_varint(&d, 10 << 3 | 1); /* unknown fixed64 */
	put(&d, f64, sizeof(f64));
	put_varint(&d, 2 << 3 | 0); /* InitiatorIndex */
	put_varint(&d, VEC_NOISE_INITIATOR_INDEX);
	put_varint(&d, 11 << 3 | 5); /* unknown fixed32 */
	put(&d, f32, sizeof(f32));
	put_bytes(&d, 1, vec_host_a_raw_nokey, sizeof(vec_host_a_raw_nokey));
	put_varint(&d, 1000 << 3 | 0); /* a large field number */
	put_varint(&d, UINT64_MAX);

	put_bytes(&m, 15, "top", 3);
	put_bytes(&m, 1, d.b, d.len);
	put_varint(&m, 3 << 3 | 0);
	put_varint(&m, 7);

	assert_int_equal(ctl_hs_decode(m.b, m.len, &p, &st), 0);
	assert_fields(&p, &msg1_fields);
	encode_ok(&p, vec_noise_msg1_payload, sizeof(vec_noise_msg1_payload));
	ctl_hs_release(&p);
}

/* No Details: empty input, only Hmac, only unknown fields. */
static void test_hs_decode_missing_details(void **state)
{
	static const uint8_t only_hmac[] = { 0x12, 0x01, 'h' };
	static const uint8_t only_unknown[] = { 0x18, 0x05, 0x22, 0x00 };

	(void)state;
	assert_decode_fails(only_hmac, 0, "no Details");
	assert_decode_fails(only_hmac, sizeof(only_hmac), "no Details");
	assert_decode_fails(only_unknown, sizeof(only_unknown), "no Details");
}

/* Every proper prefix of the msg-1 payload is refused. */
static void test_hs_decode_truncated(void **state)
{
	(void)state;
	for (size_t len = 0; len < sizeof(vec_noise_msg1_payload); len++) {
		/* An exact-size heap copy, so ASan catches any overread. */
		uint8_t *cut = malloc(len ? len : 1);

		assert_non_null(cut);
		memcpy(cut, vec_noise_msg1_payload, len);
		assert_decode_fails(
			cut, len, len ? "not a NebulaHandshake" : "no Details");
		free(cut);
	}
}

/*
 * Malformed protobuf: wrong wire types for known fields, bad lengths,
 * overlong varints, end-group without start. Then random bytes, which
 * must never crash or leak whatever the outcome.
 */
static void test_hs_decode_garbage(void **state)
{
	static const struct {
		uint8_t b[16];
		size_t len;
	} bad[] = {
		{ { 0xff, 0xff, 0xff }, 3 }, /* varint runs off */
		{ { 0x08, 0x01 }, 2 }, /* Details as varint */
		{ { 0x0a, 0x05, 0x0a }, 3 }, /* length past end */
		{ { 0x0a, 0x02, 0x10, 0x80 }, 4 }, /* cut varint inside */
		{ { 0x0a, 0x02, 0x0d, 0x01 }, 4 }, /* Cert as fixed32 */
		{ { 0x0a, 0x01, 0x12 }, 3 }, /* field 2 as bytes, cut */
		{ { 0x0a, 0x00, 0x10, 0x01 }, 4 }, /* field 2 as varint */
		{ { 0x0c }, 1 }, /* end group */
		{ { 0x00, 0x00 }, 2 }, /* field number 0 */
		{ { 0x0a, 0x0b, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		    0x80, 0x80, 0x80 },
		  13 }, /* 11-byte varint */
	};
	uint8_t buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_decode_fails(bad[i].b, bad[i].len,
				    "not a NebulaHandshake");

	for (int i = 0; i < 2000; i++) {
		size_t len = randombytes_uniform(sizeof(buf) + 1);
		struct vl_status st = { "" };
		struct ctl_hs_payload p;
		int err;

		randombytes_buf(buf, len);
		/* Often start like a real payload, to get past the first tag. */
		if (len && (i & 1))
			buf[0] = 0x0a;
		err = ctl_hs_decode(buf, len, &p, &st);
		if (err) {
			assert_int_equal(err, -EINVAL);
			assert_null(p.decoded);
		} else {
			assert_non_null(p.decoded);
			assert_true(p.cert_len <= len);
			ctl_hs_release(&p);
		}
	}
}

/* Short buffers and inconsistent input are refused before writing. */
static void test_hs_encode_errors(void **state)
{
	struct ctl_hs_payload p = msg1_fields;
	struct vl_status st = { "" };
	uint8_t out[BUF_MAX];
	size_t len = 12345;

	(void)state;
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(ctl_hs_encode(&p, out,
				       sizeof(vec_noise_msg1_payload) - 1, &len,
				       &st),
			 -ENOBUFS);
	assert_non_null(strstr(st.msg, "162"));
	assert_int_equal(ctl_hs_encode(&p, NULL, 0, &len, &st), -ENOBUFS);
	assert_int_equal(len, 12345);
	assert_int_equal(out[0], 0xa5);

	p.cert = NULL;
	assert_int_equal(ctl_hs_encoded_len(&p), 0);
	assert_int_equal(ctl_hs_encode(&p, out, sizeof(out), &len, &st),
			 -EINVAL);
	p = msg1_fields;
	p.hmac_len = 4;
	assert_int_equal(ctl_hs_encode(&p, out, sizeof(out), &len, &st),
			 -EINVAL);
	assert_int_equal(out[0], 0xa5);
}

/* Release is idempotent and harmless on a payload that was never decoded. */
static void test_hs_release_twice(void **state)
{
	struct ctl_hs_payload p = msg1_fields;
	struct vl_status st = { "" };

	(void)state;
	ctl_hs_release(&p);
	assert_null(p.cert);
	assert_int_equal(p.initiator_index, VEC_NOISE_INITIATOR_INDEX);
	assert_int_equal(ctl_hs_decode(vec_noise_msg2_payload,
				       sizeof(vec_noise_msg2_payload), &p, &st),
			 0);
	ctl_hs_release(&p);
	ctl_hs_release(&p);
	assert_null(p.decoded);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hs_encode_msg1_vector),
		cmocka_unit_test(test_hs_encode_msg2_vector),
		cmocka_unit_test(test_hs_decode_vectors),
		cmocka_unit_test(test_hs_responder_reuses_msg1),
		cmocka_unit_test(test_hs_field_order),
		cmocka_unit_test(test_hs_zero_values_omitted),
		cmocka_unit_test(test_hs_max_values),
		cmocka_unit_test(test_hs_cookie_hmac_echo),
		cmocka_unit_test(test_hs_unknown_fields_skipped),
		cmocka_unit_test(test_hs_decode_missing_details),
		cmocka_unit_test(test_hs_decode_truncated),
		cmocka_unit_test(test_hs_decode_garbage),
		cmocka_unit_test(test_hs_encode_errors),
		cmocka_unit_test(test_hs_release_twice),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
