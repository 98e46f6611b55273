/* SPDX-License-Identifier: MIT */
/* PEM containers as Go's encoding/pem reads and writes them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "pem.h"
#include "status.h"

static int decode(const char *text, struct ctl_pem_block *blk, size_t *used,
		  struct vl_status *st)
{
	return ctl_pem_decode((const uint8_t *)text, strlen(text), blk, used,
			      st);
}

static void test_pem_encode_like_go(void **state)
{
	/* Go's pem.EncodeToMemory: 64 columns, newline after every line. */
	static const struct {
		size_t len;
		const char *want;
	} cases[] = {
		{ 0, "-----BEGIN T-----\n-----END T-----\n" },
		{ 1, "-----BEGIN T-----\nAA==\n-----END T-----\n" },
		{ 48, "-----BEGIN T-----\n"
		      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\n"
		      "-----END T-----\n" },
		{ 49, "-----BEGIN T-----\n"
		      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\n"
		      "MA==\n"
		      "-----END T-----\n" },
	};
	uint8_t data[64];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *pem = ctl_pem_encode("T", data, cases[i].len, &len);

		assert_non_null(pem);
		assert_string_equal(pem, cases[i].want);
		assert_int_equal(len, strlen(cases[i].want));
		free(pem);
	}
}

static void test_pem_roundtrip(void **state)
{
	struct vl_status st = { "" };
	struct ctl_pem_block blk;
	uint8_t data[200];
	size_t used;

	(void)state;
	for (size_t n = 0; n < sizeof(data); n += 7) {
		char *pem;

		randombytes_buf(data, n);
		pem = ctl_pem_encode(CTL_PEM_CERT, data, n, NULL);
		assert_non_null(pem);
		assert_int_equal(decode(pem, &blk, &used, &st), 0);
		assert_string_equal(blk.banner, CTL_PEM_CERT);
		assert_int_equal(blk.len, n);
		if (n)
			assert_memory_equal(blk.data, data, n);
		assert_int_equal(used, strlen(pem));
		ctl_pem_block_free(&blk);
		free(pem);
	}
}

static void test_pem_lenient_reading(void **state)
{
	/*
	 * What Go accepts: text before the block, headers, CRLF, other
	 * wrapping, spaces and tabs in the body, trailing blanks after END.
	 */
	static const char *const texts[] = {
		"leading junk\n-----BEGIN X-----\nAQID\n-----END X-----\n",
		"-----BEGIN X-----\r\nAQID\r\n-----END X-----\r\n",
		"-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\nDEK: x\n\nAQID\n-----END X-----\n",
		"-----BEGIN X-----\nAQ\nID\n-----END X-----",
		"-----BEGIN X-----\n A Q\tID \n-----END X-----  \n",
	};
	static const uint8_t want[] = { 1, 2, 3 };
	struct vl_status st = { "" };
	struct ctl_pem_block blk;
	size_t used;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(decode(texts[i], &blk, &used, &st), 0);
		assert_string_equal(blk.banner, "X");
		assert_int_equal(blk.len, sizeof(want));
		assert_memory_equal(blk.data, want, sizeof(want));
		ctl_pem_block_free(&blk);
	}
}

static void test_pem_consumed_walks_a_bundle(void **state)
{
	static const char bundle[] = "-----BEGIN A-----\nAQ==\n-----END A-----\n"
				     "\n"
				     "-----BEGIN B-----\nAgI=\n-----END B-----\n"
				     "  \n";
	struct vl_status st = { "" };
	struct ctl_pem_block blk;
	const uint8_t *p = (const uint8_t *)bundle;
	size_t len = strlen(bundle), used;

	(void)state;
	assert_int_equal(ctl_pem_decode(p, len, &blk, &used, &st), 0);
	assert_string_equal(blk.banner, "A");
	assert_int_equal(used, strlen("-----BEGIN A-----\nAQ==\n-----END A-----\n"));
	ctl_pem_block_free(&blk);
	p += used;
	len -= used;
	assert_false(ctl_pem_is_blank(p, len));
	assert_int_equal(ctl_pem_decode(p, len, &blk, &used, &st), 0);
	assert_string_equal(blk.banner, "B");
	assert_int_equal(blk.len, 2);
	ctl_pem_block_free(&blk);
	assert_true(ctl_pem_is_blank(p + used, len - used));
	assert_int_equal(ctl_pem_decode(p + used, len - used, &blk, &used, &st),
			 -ENOENT);
}

static void test_pem_errors(void **state)
{
	static const struct {
		const char *text;
		int err;
		const char *msg;
	} cases[] = {
		{ "", -ENOENT, "no PEM block" },
		{ "just text\n", -ENOENT, "no PEM block" },
		/* BEGIN must start a line. */
		{ "x-----BEGIN X-----\nAQID\n-----END X-----\n", -ENOENT, "no PEM block" },
		{ "-----BEGIN X-----\nAQID\n", -EINVAL, "truncated" },
		{ "-----BEGIN X-----\nAQID\n-----END X", -EINVAL, "does not match" },
		{ "-----BEGIN X-----\nAQID\n-----END Y-----\n", -EINVAL, "does not match" },
		{ "-----BEGIN X----\nAQID\n-----END X-----\n", -EINVAL, "BEGIN line" },
		{ "-----BEGIN X-----\nAQ*D\n-----END X-----\n", -EINVAL, "base64" },
		{ "-----BEGIN X-----\nAQI\n-----END X-----\n", -EINVAL, "base64" },
		{ "-----BEGIN X-----\nAQ=D\n-----END X-----\n", -EINVAL, "base64" },
		{ "-----BEGIN X-----\nAQID\n-----END X-----junk\n", -EINVAL, "after the END" },
	};
	struct vl_status st;
	struct ctl_pem_block blk;
	size_t used;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st.msg[0] = '\0';
		assert_int_equal(decode(cases[i].text, &blk, &used, &st),
				 cases[i].err);
		assert_null(blk.data);
		assert_non_null(strstr(st.msg, cases[i].msg));
	}
}

static void test_pem_expect(void **state)
{
	static const char key[] = "-----BEGIN NEBULA X25519 PUBLIC KEY-----\n"
				  "AQID\n"
				  "-----END NEBULA X25519 PUBLIC KEY-----\n";
	struct vl_status st = { "" };
	struct ctl_pem_block blk;
	size_t used;

	(void)state;
	assert_int_equal(ctl_pem_decode_expect((const uint8_t *)key, strlen(key),
					       CTL_PEM_X25519_PUBLIC, 3, &blk,
					       &used, &st),
			 0);
	ctl_pem_block_free(&blk);
	assert_int_equal(ctl_pem_decode_expect((const uint8_t *)key, strlen(key),
					       CTL_PEM_X25519_PUBLIC, 32, &blk,
					       &used, &st),
			 -EINVAL);
	assert_string_equal(st.msg,
			    "NEBULA X25519 PUBLIC KEY is 3 bytes, expected 32");
	assert_int_equal(ctl_pem_decode_expect((const uint8_t *)key, strlen(key),
					       CTL_PEM_CERT, 0, &blk, &used,
					       &st),
			 -EINVAL);
	assert_string_equal(st.msg,
			    "PEM banner is \"NEBULA X25519 PUBLIC KEY\", expected \"NEBULA CERTIFICATE\"");
	assert_null(blk.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pem_encode_like_go),
		cmocka_unit_test(test_pem_roundtrip),
		cmocka_unit_test(test_pem_lenient_reading),
		cmocka_unit_test(test_pem_consumed_walks_a_bundle),
		cmocka_unit_test(test_pem_errors),
		cmocka_unit_test(test_pem_expect),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
