/* SPDX-License-Identifier: MIT */
/* The CA pool (pki.ca) and blocklist (pki.blocklist). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "appendix_a.h"
#include "capool.h"
#include "cert.h"
#include "keys.h"
#include "pem.h"
#include "status.h"

static const struct timespec in_validity = { .tv_sec = 1800000000 };

/* A self-signed CA made here, valid [nb, na]; PEM text, malloc'd. */
static char *make_ca(const char *name, bool is_ca, int64_t nb, int64_t na,
		     bool bad_sig)
{
	struct ctl_cert c = { .name = name, .is_ca = is_ca, .not_before = nb,
			      .not_after = na };
	uint8_t sk[64];
	char *pem;
	size_t len;

	ctl_key_ed25519_generate(sk, c.pubkey);
	c.pubkey_len = 32;
	assert_int_equal(ctl_cert_sign(&c, sk), 0);
	if (bad_sig)
		c.sig[0] ^= 1;
	assert_int_equal(ctl_cert_encode_pem(&c, &pem, &len), 0);
	return pem;
}

static char *cat(const char *a, const char *b)
{
	char *s = malloc(strlen(a) + strlen(b) + 1);

	assert_non_null(s);
	strcpy(s, a);
	strcat(s, b);
	return s;
}

static int load(struct ctl_capool *pool, const char *text, size_t *n_expired,
		struct vl_status *st)
{
	return ctl_capool_load_pem(pool, (const uint8_t *)text, strlen(text),
				   &in_validity, n_expired, st);
}

static void test_capool_bundle(void **state)
{
	char *other = make_ca("other", true, 1700000000, 2000000000, false);
	char *bundle = cat(vec_ca_pem, other);
	char *twice = cat(bundle, vec_ca_pem);
	struct vl_status st = { "" };
	struct ctl_capool pool;
	size_t n_expired;

	(void)state;
	ctl_capool_init(&pool);
	assert_int_equal(load(&pool, twice, &n_expired, &st), 0);
	/* The same CA twice is one entry, as in 1.6.1's map. */
	assert_int_equal(pool.n_cas, 2);
	assert_int_equal(n_expired, 0);
	assert_non_null(ctl_capool_find(&pool, vec_ca_fp, 32));
	assert_string_equal(ctl_capool_find(&pool, vec_ca_fp, 32)->name,
			    "vector-ca");
	assert_null(ctl_capool_find(&pool, vec_host_a_fp, 32));
	assert_null(ctl_capool_find(&pool, vec_ca_fp, 31));
	ctl_capool_free(&pool);
	free(twice);
	free(bundle);
	free(other);
}

static void test_capool_refuses_bad_cas(void **state)
{
	char *not_ca = make_ca("leaf", false, 1700000000, 2000000000, false);
	char *forged = make_ca("forged", true, 1700000000, 2000000000, true);
	static const struct {
		int which;
		const char *msg;
	} cases[] = {
		{ 0, "leaf: certificate is not a CA" },
		{ 1, "forged: certificate is not self-signed" },
		{ 2, "PEM banner is \"NEBULA ED25519 PRIVATE KEY\"" },
		{ 3, "no CA certificate found" },
	};
	struct vl_status st;
	struct ctl_capool pool;
	size_t n_expired;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *bad = cases[i].which == 0 ? not_ca :
				  cases[i].which == 1 ? forged :
				  cases[i].which == 2 ? vec_ca_key_pem :
							"\n  \n";
		/* A good CA first: a bad one later must not leave it behind. */
		char *bundle = cat(vec_ca_pem, bad);

		ctl_capool_init(&pool);
		st.msg[0] = '\0';
		assert_int_not_equal(load(&pool, cases[i].which == 3 ? bad : bundle,
					  &n_expired, &st),
				     0);
		assert_non_null(strstr(st.msg, cases[i].msg));
		assert_int_equal(pool.n_cas, 0);
		ctl_capool_free(&pool);
		free(bundle);
	}
	free(not_ca);
	free(forged);
}

static void test_capool_expired_ca_kept_and_counted(void **state)
{
	char *old = make_ca("old", true, 1000000000, 1100000000, false);
	char *bundle = cat(old, vec_ca_pem);
	struct vl_status st = { "" };
	struct ctl_capool pool;
	size_t n_expired, used;

	(void)state;
	ctl_capool_init(&pool);
	assert_int_equal(load(&pool, bundle, &n_expired, &st), 0);
	assert_int_equal(n_expired, 1);
	assert_int_equal(pool.n_cas, 2);
	ctl_capool_free(&pool);

	/* One at a time, the caller hears about it and the CA is kept. */
	ctl_capool_init(&pool);
	assert_int_equal(ctl_capool_add_pem(&pool, (const uint8_t *)old,
					    strlen(old), &in_validity, &used,
					    &st),
			 -EKEYEXPIRED);
	assert_string_equal(st.msg, "old: certificate is expired");
	assert_int_equal(pool.n_cas, 1);
	ctl_capool_free(&pool);
	free(bundle);
	free(old);
}

static void test_capool_blocklist(void **state)
{
	struct ctl_capool pool;
	struct ctl_cert *a;
	struct vl_status st = { "" };
	size_t n_expired;

	(void)state;
	ctl_capool_init(&pool);
	assert_int_equal(load(&pool, vec_ca_pem, &n_expired, &st), 0);
	assert_int_equal(ctl_cert_decode(vec_host_a_raw, sizeof(vec_host_a_raw),
					 &a, &st),
			 0);
	assert_int_equal(ctl_cert_verify(a, &in_validity, &pool, &st), 0);
	assert_false(ctl_capool_is_blocked(&pool, vec_host_a_fp));
	assert_int_equal(ctl_capool_block(&pool, vec_host_b_fp), 0);
	assert_int_equal(ctl_cert_verify(a, &in_validity, &pool, &st), 0);
	assert_int_equal(ctl_capool_block(&pool, vec_host_a_fp), 0);
	assert_int_equal(ctl_capool_block(&pool, vec_host_a_fp), 0);
	assert_int_equal(pool.n_blocked, 2);
	assert_true(ctl_capool_is_blocked(&pool, vec_host_a_fp));
	assert_int_equal(ctl_cert_verify(a, &in_validity, &pool, &st),
			 -EKEYREVOKED);
	ctl_cert_free(a);
	ctl_capool_free(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capool_bundle),
		cmocka_unit_test(test_capool_refuses_bad_cas),
		cmocka_unit_test(test_capool_expired_ca_kept_and_counted),
		cmocka_unit_test(test_capool_blocklist),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
