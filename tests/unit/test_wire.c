/* SPDX-License-Identifier: MIT */
/*
 * common/wire.h: the 16-byte Nebula header and the big-endian helpers.
 * Expected bytes are the headers of nebula-1.6.1-protocol.md Appendix A
 * (the first 16 bytes of each datagram listed there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"
#include "aead_vectors.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

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

struct spec_header {
	const char *what;
	const char *hex;
	enum wire_type type;
	uint8_t subtype;
	uint32_t remote_index;
	uint64_t counter;
};

static const struct spec_header spec_headers[] = {
	{ "MSG1", "10000000000000000000000000000001", WIRE_HANDSHAKE,
	  WIRE_SUB_IX_PSK0, 0, WIRE_HS_MSG1 },
	{ "MSG2", "10000000010203040000000000000002", WIRE_HANDSHAKE,
	  WIRE_SUB_IX_PSK0, 0x01020304, WIRE_HS_MSG2 },
	{ "DATA a->b", "11000000a0b0c0d00000000000000003", WIRE_MESSAGE,
	  WIRE_SUB_NONE, 0xa0b0c0d0, 3 },
	{ "DATA b->a", "11000000010203040000000000000003", WIRE_MESSAGE,
	  WIRE_SUB_NONE, 0x01020304, 3 },
	{ "TEST request", "14000000a0b0c0d00000000000000004", WIRE_TEST,
	  WIRE_SUB_TEST_REQUEST, 0xa0b0c0d0, 4 },
	{ "LIGHTHOUSE", "13000000a0b0c0d00000000000000005", WIRE_LIGHTHOUSE, 0,
	  0xa0b0c0d0, 5 },
	{ "CLOSETUNNEL", "15000000a0b0c0d00000000000000006", WIRE_CLOSE_TUNNEL,
	  0, 0xa0b0c0d0, 6 },
	{ "RECVERROR", "12000000a0b0c0d00000000000000000", WIRE_RECV_ERROR, 0,
	  0xa0b0c0d0, 0 },
};

/* Encoding the fields gives the spec's bytes, and nothing past them. */
static void test_wire_encode_spec_headers(void **state)
{
	uint8_t want[WIRE_HEADER_LEN], got[WIRE_HEADER_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(spec_headers); i++) {
		const struct spec_header *s = &spec_headers[i];

		unhex(s->hex, want, sizeof(want));
		memset(got, 0xee, sizeof(got));
		wire_header_encode(got, s->type, s->subtype, s->remote_index,
				   s->counter);
		assert_memory_equal(got, want, WIRE_HEADER_LEN);
		assert_int_equal(got[WIRE_HEADER_LEN], 0xee);
	}
}

static void test_wire_decode_spec_headers(void **state)
{
	uint8_t p[WIRE_HEADER_LEN];
	struct wire_header h;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(spec_headers); i++) {
		const struct spec_header *s = &spec_headers[i];

		unhex(s->hex, p, sizeof(p));
		memset(&h, 0xee, sizeof(h));
		wire_header_decode(p, &h);
		assert_int_equal(h.version, WIRE_VERSION);
		assert_int_equal(h.type, s->type);
		assert_int_equal(h.subtype, s->subtype);
		assert_int_equal(h.reserved, 0);
		assert_int_equal(h.remote_index, s->remote_index);
		assert_int_equal(h.counter, s->counter);
	}
}

/* The headers inside the Appendix A transport datagrams re-encode exactly. */
static void check_datagram(const struct nebula_transport_test_data *t)
{
	uint8_t got[WIRE_HEADER_LEN];
	struct wire_header h;

	wire_header_decode(t->datagram.data, &h);
	assert_int_equal(h.version, WIRE_VERSION);
	assert_int_equal(h.reserved, 0);
	assert_int_equal(h.counter, t->counter);
	wire_header_encode(got, (enum wire_type)h.type, h.subtype,
			   h.remote_index, h.counter);
	assert_memory_equal(got, t->datagram.data, WIRE_HEADER_LEN);
}

static void test_wire_appendix_a_datagrams(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(nebula_aes_transport_vectors); i++)
		check_datagram(&nebula_aes_transport_vectors[i]);
	for (i = 0; i < ARRAY_SIZE(nebula_chachapoly_transport_vectors); i++)
		check_datagram(&nebula_chachapoly_transport_vectors[i]);
}

/* decode(encode(fields)) == fields, over every type and edge values. */
static void test_wire_round_trip_fields(void **state)
{
	static const uint8_t subtypes[] = { 0, 1, 0x7f, 0x80, 0xff };
	static const uint32_t indexes[] = {
		0, 1, 0x01020304, 0x7fffffff, 0x80000000, 0xffffffff
	};
	static const uint64_t counters[] = {
		0,
		1,
		2,
		3,
		0xffffffff,
		0x100000000,
		0x0102030405060708,
		INT64_MAX,
		(uint64_t)INT64_MAX + 1,
		UINT64_MAX,
	};
	uint8_t p[WIRE_HEADER_LEN];
	struct wire_header h;
	size_t s, x, c;
	int t;

	(void)state;
	for (t = WIRE_HANDSHAKE; t <= WIRE_CONTROL; t++)
		for (s = 0; s < ARRAY_SIZE(subtypes); s++)
			for (x = 0; x < ARRAY_SIZE(indexes); x++)
				for (c = 0; c < ARRAY_SIZE(counters); c++) {
					wire_header_encode(p, (enum wire_type)t,
							   subtypes[s],
							   indexes[x],
							   counters[c]);
					wire_header_decode(p, &h);
					assert_int_equal(h.version,
							 WIRE_VERSION);
					assert_int_equal(h.type, t);
					assert_int_equal(h.subtype,
							 subtypes[s]);
					assert_int_equal(h.reserved, 0);
					assert_int_equal(h.remote_index,
							 indexes[x]);
					assert_int_equal(h.counter,
							 counters[c]);
				}
}

/*
 * encode(decode(bytes)) == bytes for any header 1.6.1 could send (version
 * 1, reserved 0): pseudo-random bytes with those two fields fixed.
 */
static void test_wire_round_trip_bytes(void **state)
{
	uint8_t p[WIRE_HEADER_LEN], q[WIRE_HEADER_LEN];
	struct wire_header h;
	uint32_t x = 0x9e3779b9;
	int n;
	size_t i;

	(void)state;
	for (n = 0; n < 10000; n++) {
		for (i = 0; i < sizeof(p); i++) {
			/* xorshift32: reproducible, no libc rand() state */
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			p[i] = (uint8_t)x;
		}
		p[0] = (uint8_t)(WIRE_VERSION << 4 | (p[0] & 0x0f));
		p[2] = 0;
		p[3] = 0;
		wire_header_decode(p, &h);
		wire_header_encode(q, (enum wire_type)h.type, h.subtype,
				   h.remote_index, h.counter);
		assert_memory_equal(q, p, sizeof(p));
	}
}

/*
 * 1.6.1 checks neither the version nibble nor the reserved field (spec
 * §1.2, Appendix B.1): decode must not reject or mask them into other
 * fields, and must hand both back for the caller to log or ignore.
 */
static void test_wire_decode_reports_version_reserved(void **state)
{
	static const struct {
		const char *hex;
		uint8_t version, type;
		uint16_t reserved;
		uint32_t remote_index;
		uint64_t counter;
	} cases[] = {
		/* a handshake msg1 with version 0, as 1.6.1 accepted */
		{ "00000000000000000000000000000001", 0, WIRE_HANDSHAKE, 0, 0,
		  1 },
		{ "21000000a0b0c0d00000000000000003", 2, WIRE_MESSAGE, 0,
		  0xa0b0c0d0, 3 },
		{ "f1000000a0b0c0d00000000000000003", 15, WIRE_MESSAGE, 0,
		  0xa0b0c0d0, 3 },
		{ "1100abcda0b0c0d00000000000000003", 1, WIRE_MESSAGE, 0xabcd,
		  0xa0b0c0d0, 3 },
		{ "11008000ffffffff0000000000000003", 1, WIRE_MESSAGE, 0x8000,
		  0xffffffff, 3 },
		{ "110000010000000080000000000000ff", 1, WIRE_MESSAGE, 0x0001,
		  0, 0x80000000000000ff },
		{ "ff00ffffa0b0c0d0ffffffffffffffff", 15, 15, 0xffff,
		  0xa0b0c0d0, UINT64_MAX },
		/* types 7..15 are dropped by the caller, not by decode */
		{ "17000000a0b0c0d00000000000000003", 1, 7, 0, 0xa0b0c0d0, 3 },
	};
	uint8_t p[WIRE_HEADER_LEN];
	struct wire_header h;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unhex(cases[i].hex, p, sizeof(p));
		wire_header_decode(p, &h);
		assert_int_equal(h.version, cases[i].version);
		assert_int_equal(h.type, cases[i].type);
		assert_int_equal(h.reserved, cases[i].reserved);
		/* the other fields are untouched by either */
		assert_int_equal(h.subtype, p[1]);
		assert_int_equal(h.remote_index, cases[i].remote_index);
		assert_int_equal(h.counter, cases[i].counter);
	}
}

/* Encoding always sends version 1 and reserved 0 (spec §1.2). */
static void test_wire_encode_version_reserved(void **state)
{
	uint8_t p[WIRE_HEADER_LEN];

	(void)state;
	memset(p, 0xff, sizeof(p));
	wire_header_encode(p, WIRE_CONTROL, 0, 0xffffffff, UINT64_MAX);
	assert_int_equal(p[0], 0x16);
	assert_int_equal(p[2], 0);
	assert_int_equal(p[3], 0);
}

struct be_case {
	const char *hex;
	uint64_t v;
};

/* get/put at the edges, through unaligned pointers, touching only N bytes. */
static void test_wire_be32(void **state)
{
	static const struct be_case cases[] = {
		{ "00000000", 0 },	    { "00000001", 1 },
		{ "000000ff", 0xff },	    { "00000100", 0x100 },
		{ "01020304", 0x01020304 }, { "7fffffff", 0x7fffffff },
		{ "80000000", 0x80000000 }, { "fffffffe", 0xfffffffe },
		{ "ffffffff", 0xffffffff },
	};
	uint8_t want[4], buf[4 + 2];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unhex(cases[i].hex, want, sizeof(want));
		memset(buf, 0xee, sizeof(buf));
		memcpy(buf + 1, want, 4);
		assert_int_equal(wire_get_be32(buf + 1), cases[i].v);

		memset(buf, 0xee, sizeof(buf));
		wire_put_be32(buf + 1, (uint32_t)cases[i].v);
		assert_memory_equal(buf + 1, want, 4);
		assert_int_equal(buf[0], 0xee);
		assert_int_equal(buf[5], 0xee);
	}
}

static void test_wire_be64(void **state)
{
	static const struct be_case cases[] = {
		{ "0000000000000000", 0 },
		{ "0000000000000001", 1 },
		{ "00000000ffffffff", 0xffffffff },
		{ "0000000100000000", 0x100000000 },
		{ "0102030405060708", 0x0102030405060708 },
		{ "7fffffffffffffff", INT64_MAX },
		{ "8000000000000000", (uint64_t)INT64_MAX + 1 },
		{ "80000000ffffffff", 0x80000000ffffffff },
		{ "ffffffff00000000", 0xffffffff00000000 },
		{ "fffffffffffffffe", UINT64_MAX - 1 },
		{ "ffffffffffffffff", UINT64_MAX },
	};
	uint8_t want[8], buf[8 + 4];
	size_t i, off;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unhex(cases[i].hex, want, sizeof(want));
		for (off = 1; off <= 3; off++) {
			memset(buf, 0xee, sizeof(buf));
			memcpy(buf + off, want, 8);
			assert_int_equal(wire_get_be64(buf + off), cases[i].v);

			memset(buf, 0xee, sizeof(buf));
			wire_put_be64(buf + off, cases[i].v);
			assert_memory_equal(buf + off, want, 8);
			assert_int_equal(buf[off - 1], 0xee);
			assert_int_equal(buf[off + 8], 0xee);
		}
	}
}

/* The numbers the spec fixes (§1.3, §4.1, §11) are the ones in wire.h. */
static void test_wire_constants_match_spec(void **state)
{
	(void)state;
	assert_int_equal(WIRE_HANDSHAKE, 0);
	assert_int_equal(WIRE_MESSAGE, 1);
	assert_int_equal(WIRE_RECV_ERROR, 2);
	assert_int_equal(WIRE_LIGHTHOUSE, 3);
	assert_int_equal(WIRE_TEST, 4);
	assert_int_equal(WIRE_CLOSE_TUNNEL, 5);
	assert_int_equal(WIRE_CONTROL, 6);
	assert_int_equal(WIRE_SUB_RELAY, 1);
	assert_int_equal(WIRE_SUB_TEST_REPLY, 1);
	assert_int_equal(WIRE_HEADER_LEN, 16);
	assert_int_equal(WIRE_OVERHEAD, 32);
	assert_int_equal(WIRE_FIRST_COUNTER, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_encode_spec_headers),
		cmocka_unit_test(test_wire_decode_spec_headers),
		cmocka_unit_test(test_wire_appendix_a_datagrams),
		cmocka_unit_test(test_wire_round_trip_fields),
		cmocka_unit_test(test_wire_round_trip_bytes),
		cmocka_unit_test(test_wire_decode_reports_version_reserved),
		cmocka_unit_test(test_wire_encode_version_reserved),
		cmocka_unit_test(test_wire_be32),
		cmocka_unit_test(test_wire_be64),
		cmocka_unit_test(test_wire_constants_match_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
