/* SPDX-License-Identifier: MIT */
/*
 * Certificates against the Appendix A vectors (byte-exact re-encoding,
 * fingerprints, signatures, the handshake form without the public key) and
 * the validation rules of spec §7.6, including malformed input.
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

#include "appendix_a.h"
#include "capool.h"
#include "cert.h"
#include "keys.h"
#include "pem.h"
#include "status.h"

static struct timespec at(int64_t sec, long nsec)
{
	return (struct timespec){ .tv_sec = (time_t)sec, .tv_nsec = nsec };
}

static struct ctl_cert *decode_ok(const uint8_t *raw, size_t len)
{
	struct vl_status st = { "" };
	struct ctl_cert *c = NULL;

	assert_int_equal(ctl_cert_decode(raw, len, &c, &st), 0);
	assert_non_null(c);
	return c;
}

static void assert_encodes_to(const struct ctl_cert *c, const uint8_t *want,
			      size_t want_len)
{
	uint8_t *buf;
	size_t len;

	assert_int_equal(ctl_cert_encode(c, &buf, &len), 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(buf, want, want_len);
	free(buf);
}

static void assert_fp(const struct ctl_cert *c, const uint8_t *want)
{
	uint8_t fp[CTL_CERT_FP_LEN];

	assert_int_equal(ctl_cert_fingerprint(c, fp), 0);
	assert_memory_equal(fp, want, CTL_CERT_FP_LEN);
}

/* Decode errors: -EINVAL and a message containing @what. */
static void assert_decode_fails(const uint8_t *raw, size_t len,
				const char *what)
{
	struct vl_status st = { "" };
	struct ctl_cert *c = (struct ctl_cert *)1;

	assert_int_equal(ctl_cert_decode(raw, len, &c, &st), -EINVAL);
	assert_null(c);
	assert_non_null(strstr(st.msg, what));
}

static void test_cert_ca_vector(void **state)
{
	struct ctl_cert *ca = decode_ok(vec_ca_raw, sizeof(vec_ca_raw));

	(void)state;
	assert_string_equal(ca->name, "vector-ca");
	assert_int_equal(ca->n_groups, 3);
	assert_string_equal(ca->groups[0], "g1");
	assert_string_equal(ca->groups[1], "g2");
	assert_string_equal(ca->groups[2], "ops");
	assert_int_equal(ca->n_ips, 0);
	assert_int_equal(ca->n_subnets, 0);
	assert_int_equal(ca->not_before, VEC_NOT_BEFORE);
	assert_int_equal(ca->not_after, VEC_NOT_AFTER);
	assert_true(ca->is_ca);
	assert_int_equal(ca->issuer_len, 0);
	assert_int_equal(ca->pubkey_len, 32);
	assert_memory_equal(ca->pubkey, vec_ca_sk + 32, 32);
	assert_int_equal(ca->sig_len, 64);

	assert_encodes_to(ca, vec_ca_raw, sizeof(vec_ca_raw));
	assert_fp(ca, vec_ca_fp);
	assert_true(ctl_cert_check_signature(ca, ca->pubkey, ca->pubkey_len));
	ctl_cert_free(ca);
}

static void test_cert_host_vectors(void **state)
{
	struct ctl_cert *a = decode_ok(vec_host_a_raw, sizeof(vec_host_a_raw));
	struct ctl_cert *b = decode_ok(vec_host_b_raw, sizeof(vec_host_b_raw));

	(void)state;
	assert_string_equal(a->name, "host-a");
	assert_int_equal(a->n_ips, 1);
	assert_int_equal(a->ips[0].ip, 0x0a010001);
	assert_int_equal(a->ips[0].mask, 0xffff0000);
	assert_false(a->is_ca);
	assert_int_equal(a->issuer_len, 32);
	assert_memory_equal(a->issuer, vec_ca_fp, 32);
	assert_memory_equal(a->pubkey, vec_host_a_pub, 32);
	assert_encodes_to(a, vec_host_a_raw, sizeof(vec_host_a_raw));
	assert_fp(a, vec_host_a_fp);
	assert_true(ctl_cert_check_signature(a, vec_ca_sk + 32, 32));

	assert_string_equal(b->name, "host-b");
	assert_int_equal(b->ips[0].ip, 0x0a010002);
	assert_int_equal(b->n_subnets, 1);
	assert_int_equal(b->subnets[0].ip, 0xc0a83200);
	assert_int_equal(b->subnets[0].mask, 0xffffff00);
	assert_int_equal(b->n_groups, 1);
	assert_string_equal(b->groups[0], "ops");
	assert_encodes_to(b, vec_host_b_raw, sizeof(vec_host_b_raw));
	assert_fp(b, vec_host_b_fp);
	assert_true(ctl_cert_check_signature(b, vec_ca_sk + 32, 32));

	/* One host's signature does not cover the other's details. */
	memcpy(a->sig, b->sig, 64);
	assert_false(ctl_cert_check_signature(a, vec_ca_sk + 32, 32));
	ctl_cert_free(a);
	ctl_cert_free(b);
}

static void test_cert_pem_vectors(void **state)
{
	struct vl_status st = { "" };
	struct ctl_cert *c;
	size_t used, len;
	char *pem;

	(void)state;
	assert_int_equal(ctl_cert_decode_pem((const uint8_t *)vec_host_b_pem,
					     strlen(vec_host_b_pem), &c, &used,
					     &st),
			 0);
	assert_int_equal(used, strlen(vec_host_b_pem));
	assert_encodes_to(c, vec_host_b_raw, sizeof(vec_host_b_raw));
	/* nebula-cert's file, byte for byte. */
	assert_int_equal(ctl_cert_encode_pem(c, &pem, &len), 0);
	assert_int_equal(len, strlen(vec_host_b_pem));
	assert_string_equal(pem, vec_host_b_pem);
	free(pem);
	ctl_cert_free(c);

	/* A key file is not a certificate. */
	assert_int_equal(ctl_cert_decode_pem((const uint8_t *)vec_ca_key_pem,
					     strlen(vec_ca_key_pem), &c, &used,
					     &st),
			 -EINVAL);
	assert_non_null(strstr(st.msg, "NEBULA ED25519 PRIVATE KEY"));
}

static void test_cert_handshake_form(void **state)
{
	struct ctl_cert *a = decode_ok(vec_host_a_raw, sizeof(vec_host_a_raw));
	struct vl_status st = { "" };
	struct ctl_capool pool;
	struct ctl_cert *peer;
	struct timespec now = at(1800000000, 0);
	uint8_t *buf, wrong[32];
	size_t len, used;

	(void)state;
	/* What a node sends: everything but field 7. */
	assert_int_equal(ctl_cert_encode_handshake(a, &buf, &len), 0);
	assert_int_equal(len, sizeof(vec_host_a_raw_nokey));
	assert_memory_equal(buf, vec_host_a_raw_nokey, len);
	free(buf);

	ctl_capool_init(&pool);
	assert_int_equal(ctl_capool_add_pem(&pool, (const uint8_t *)vec_ca_pem,
					    strlen(vec_ca_pem), &now, &used,
					    &st),
			 0);

	/* The key proven by Noise restores the signed certificate. */
	assert_int_equal(ctl_cert_decode_handshake(vec_host_a_raw_nokey,
						   sizeof(vec_host_a_raw_nokey),
						   vec_host_a_pub, &peer, &st),
			 0);
	assert_encodes_to(peer, vec_host_a_raw, sizeof(vec_host_a_raw));
	assert_fp(peer, vec_host_a_fp);
	assert_int_equal(ctl_cert_verify(peer, &now, &pool, &st), 0);
	ctl_cert_free(peer);

	/* Any other key: the CA did not sign that, the binding fails. */
	memcpy(wrong, vec_host_b_pub, sizeof(wrong));
	assert_int_equal(ctl_cert_decode_handshake(vec_host_a_raw_nokey,
						   sizeof(vec_host_a_raw_nokey),
						   wrong, &peer, &st),
			 0);
	assert_int_equal(ctl_cert_verify(peer, &now, &pool, &st),
			 -EKEYREJECTED);
	assert_string_equal(st.msg, "certificate signature did not match");
	ctl_cert_free(peer);

	ctl_capool_free(&pool);
	ctl_cert_free(a);
}

static void test_cert_sign_matches_vector(void **state)
{
	struct ctl_cert *a = decode_ok(vec_host_a_raw, sizeof(vec_host_a_raw));
	uint8_t sig[64];

	(void)state;
	/* Ed25519 is deterministic: re-signing gives the vector's signature. */
	memcpy(sig, a->sig, sizeof(sig));
	memset(a->sig, 0, sizeof(a->sig));
	assert_int_equal(ctl_cert_sign(a, vec_ca_sk), 0);
	assert_int_equal(a->sig_len, 64);
	assert_memory_equal(a->sig, sig, sizeof(sig));
	ctl_cert_free(a);
}

static void test_cert_build_and_sign(void **state)
{
	static const struct ctl_ipnet ip = { 0x0a010005, 0xffff0000 };
	static const char *const groups[] = { "g1", "ops" };
	struct ctl_cert c = { .name = "built", .ips = &ip, .n_ips = 1,
			      .groups = groups, .n_groups = 2,
			      .not_before = 1700000100,
			      .not_after = 1999999999 };
	struct ctl_cert *back, *ca = decode_ok(vec_ca_raw, sizeof(vec_ca_raw));
	struct vl_status st = { "" };
	uint8_t *buf;
	size_t len;

	(void)state;
	memcpy(c.pubkey, vec_host_b_pub, 32);
	c.pubkey_len = 32;
	memcpy(c.issuer, vec_ca_fp, 32);
	c.issuer_len = 32;
	assert_int_equal(ctl_cert_sign(&c, vec_ca_sk), 0);
	assert_int_equal(ctl_cert_check_root_constraints(&c, ca, &st), 0);

	assert_int_equal(ctl_cert_encode(&c, &buf, &len), 0);
	back = decode_ok(buf, len);
	assert_encodes_to(back, buf, len);
	assert_true(ctl_cert_check_signature(back, ca->pubkey, 32));
	free(buf);
	ctl_cert_free(back);
	ctl_cert_free(ca);
}

static void test_cert_private_keys(void **state)
{
	struct ctl_cert *ca = decode_ok(vec_ca_raw, sizeof(vec_ca_raw));
	struct ctl_cert *a = decode_ok(vec_host_a_raw, sizeof(vec_host_a_raw));
	struct vl_status st = { "" };
	uint8_t key[64];

	(void)state;
	assert_int_equal(ctl_key_decode_pem((const uint8_t *)vec_ca_key_pem,
					    strlen(vec_ca_key_pem),
					    CTL_PEM_ED25519_PRIVATE, key, 64,
					    &st),
			 0);
	assert_memory_equal(key, vec_ca_sk, 64);
	assert_int_equal(ctl_cert_check_private_key(ca, key, 64, &st), 0);

	/* A stored public half that the seed does not derive is refused. */
	key[40] ^= 1;
	assert_int_equal(ctl_cert_check_private_key(ca, key, 64, &st),
			 -EKEYREJECTED);
	key[40] ^= 1;
	key[3] ^= 1;
	assert_int_equal(ctl_cert_check_private_key(ca, key, 64, &st),
			 -EKEYREJECTED);
	assert_int_equal(ctl_cert_check_private_key(ca, key, 32, &st), -EINVAL);

	assert_int_equal(ctl_key_decode_pem((const uint8_t *)vec_host_a_key_pem,
					    strlen(vec_host_a_key_pem),
					    CTL_PEM_X25519_PRIVATE, key, 32,
					    &st),
			 0);
	assert_memory_equal(key, vec_host_a_priv, 32);
	assert_int_equal(ctl_cert_check_private_key(a, key, 32, &st), 0);
	assert_int_equal(ctl_cert_check_private_key(a, vec_host_b_priv, 32, &st),
			 -EKEYREJECTED);
	assert_string_equal(st.msg,
			    "public key in cert and private key supplied don't match");

	/* Wrong banner and wrong length name what was expected. */
	assert_int_equal(ctl_key_decode_pem((const uint8_t *)vec_host_a_key_pem,
					    strlen(vec_host_a_key_pem),
					    CTL_PEM_ED25519_PRIVATE, key, 64,
					    &st),
			 -EINVAL);
	assert_non_null(strstr(st.msg, "expected \"NEBULA ED25519 PRIVATE KEY\""));
	ctl_cert_free(ca);
	ctl_cert_free(a);
}

static void test_cert_expired(void **state)
{
	static const struct {
		int64_t sec;
		long nsec;
		bool expired;
	} cases[] = {
		{ VEC_NOT_BEFORE - 1, 999999999, true },
		{ VEC_NOT_BEFORE, 0, false },
		{ VEC_NOT_BEFORE, 1, false },
		{ VEC_NOT_AFTER - 1, 999999999, false },
		{ VEC_NOT_AFTER, 0, false },
		/* Go compares at nanoseconds: past the last second, expired. */
		{ VEC_NOT_AFTER, 1, true },
		{ VEC_NOT_AFTER + 1, 0, true },
	};
	struct ctl_cert *a = decode_ok(vec_host_a_raw, sizeof(vec_host_a_raw));

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct timespec now = at(cases[i].sec, cases[i].nsec);

		assert_int_equal(ctl_cert_expired(a, &now), cases[i].expired);
	}
	ctl_cert_free(a);
}

static void test_cert_verify_order(void **state)
{
	struct ctl_cert *a = decode_ok(vec_host_a_raw, sizeof(vec_host_a_raw));
	struct ctl_capool pool, empty;
	struct vl_status st = { "" };
	struct timespec now = at(1800000000, 0);
	size_t used;

	(void)state;
	ctl_capool_init(&pool);
	ctl_capool_init(&empty);
	assert_int_equal(ctl_capool_add_pem(&pool, (const uint8_t *)vec_ca_pem,
					    strlen(vec_ca_pem), &now, &used,
					    &st),
			 0);
	assert_int_equal(ctl_cert_verify(a, &now, &pool, &st), 0);

	assert_int_equal(ctl_cert_verify(a, &now, &empty, &st), -ENOKEY);
	assert_string_equal(st.msg, "could not find ca for the certificate");

	/* The CA's expiry is reported before the certificate's. */
	now = at(2100000000, 0);
	assert_int_equal(ctl_cert_verify(a, &now, &pool, &st), -EKEYEXPIRED);
	assert_string_equal(st.msg, "root certificate is expired");

	/* The blocklist comes first of all. */
	assert_int_equal(ctl_capool_block(&pool, vec_host_a_fp), 0);
	assert_int_equal(ctl_cert_verify(a, &now, &pool, &st), -EKEYREVOKED);
	assert_string_equal(st.msg, "certificate has been blocked");

	a->issuer_len = 0;
	now = at(1800000000, 0);
	assert_int_equal(ctl_cert_verify(a, &now, &empty, &st), -ENOKEY);
	assert_string_equal(st.msg, "no issuer in certificate");
	ctl_capool_free(&pool);
	ctl_cert_free(a);
}

static void test_cert_root_constraints(void **state)
{
	static const char *const ca_groups[] = { "g1", "g2" };
	static const struct ctl_ipnet ca_ips[] = { { 0x0a010000, 0xffff0000 } };
	static const struct ctl_ipnet ca_subnets[] = {
		{ 0xc0a80000, 0xffff0000 },
	};
	static const struct {
		const char *group;
		struct ctl_ipnet ip;
		struct ctl_ipnet subnet; /* mask 0 = none */
		int64_t not_before, not_after;
		const char *error;       /* NULL = allowed */
	} cases[] = {
		{ "g1", { 0x0a010203, 0xffff0000 }, { 0 }, 100, 200, NULL },
		{ "g2", { 0x0a010203, 0xffffff00 }, { 0xc0a80500, 0xffffff00 },
		  100, 200, NULL },
		{ "g3", { 0x0a010203, 0xffff0000 }, { 0 }, 100, 200,
		  "group not present on the signing ca: g3" },
		{ "g1", { 0x0a020203, 0xffff0000 }, { 0 }, 100, 200,
		  "ip assignment outside the limitations of the signing ca: 10.2.2.3/16" },
		/* Inside the CA's range, but a wider mask than the CA's. */
		{ "g1", { 0x0a010203, 0xff000000 }, { 0 }, 100, 200,
		  "ip assignment outside the limitations of the signing ca: 10.1.2.3/8" },
		{ "g1", { 0x0a010203, 0xffff0000 }, { 0x0a000000, 0xff000000 },
		  100, 200,
		  "subnet assignment outside the limitations of the signing ca: 10.0.0.0/8" },
		{ "g1", { 0x0a010203, 0xffff0000 }, { 0 }, 100, 201,
		  "certificate expires after signing certificate" },
		{ "g1", { 0x0a010203, 0xffff0000 }, { 0 }, 99, 200,
		  "certificate is valid before the signing certificate" },
	};
	struct ctl_cert ca = { .name = "ca", .groups = ca_groups, .n_groups = 2,
			       .ips = ca_ips, .n_ips = 1,
			       .subnets = ca_subnets, .n_subnets = 1,
			       .not_before = 100, .not_after = 200,
			       .is_ca = true };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *groups[] = { cases[i].group };
		struct ctl_cert c = { .name = "h", .groups = groups,
				      .n_groups = 1, .ips = &cases[i].ip,
				      .n_ips = 1,
				      .subnets = &cases[i].subnet,
				      .n_subnets = cases[i].subnet.mask ? 1 : 0,
				      .not_before = cases[i].not_before,
				      .not_after = cases[i].not_after };
		struct vl_status st = { "" };
		int err = ctl_cert_check_root_constraints(&c, &ca, &st);

		if (!cases[i].error) {
			assert_int_equal(err, 0);
			continue;
		}
		assert_int_equal(err, -EKEYREJECTED);
		assert_non_null(strstr(st.msg, cases[i].error));
	}

	/* A CA without restrictions allows any group, IP and subnet. */
	ca.n_groups = ca.n_ips = ca.n_subnets = 0;
	for (size_t i = 2; i < 6; i++) {
		const char *groups[] = { cases[i].group };
		struct ctl_cert c = { .name = "h", .groups = groups,
				      .n_groups = 1, .ips = &cases[i].ip,
				      .n_ips = 1, .not_before = 100,
				      .not_after = 200 };

		assert_int_equal(ctl_cert_check_root_constraints(&c, &ca, NULL), 0);
	}
}

static void test_cert_unknown_fields_dropped(void **state)
{
	/*
	 * Details with an unknown field 100 (a 1.7 "Curve" varint) appended:
	 * 1.6.1 decodes it, drops the field, and hashes the re-encoding.
	 */
	uint8_t raw[sizeof(vec_host_a_raw) + 3];
	struct ctl_cert *c;

	(void)state;
	assert_int_equal(vec_host_a_raw[0], 0x0a);
	assert_int_equal(vec_host_a_raw[1], 0x6b);
	raw[0] = 0x0a;
	raw[1] = 0x6b + 3;
	memcpy(raw + 2, vec_host_a_raw + 2, 0x6b);
	raw[2 + 0x6b] = 0xa0; /* field 100, varint: tag 800 = a0 06 */
	raw[3 + 0x6b] = 0x06;
	raw[4 + 0x6b] = 0x01;
	memcpy(raw + 5 + 0x6b, vec_host_a_raw + 2 + 0x6b,
	       sizeof(vec_host_a_raw) - 2 - 0x6b);

	c = decode_ok(raw, sizeof(raw));
	assert_encodes_to(c, vec_host_a_raw, sizeof(vec_host_a_raw));
	assert_fp(c, vec_host_a_fp);
	assert_true(ctl_cert_check_signature(c, vec_ca_sk + 32, 32));
	ctl_cert_free(c);
}

static void test_cert_noncanonical_input(void **state)
{
	/* Unpacked IPs, fields out of order: accepted, re-encoded canonically. */
	static const uint8_t raw[] = {
		0x0a, 0x34,
		0x30, 0x02,                   /* NotAfter 2 (before Name) */
		0x0a, 0x01, 'n',              /* Name */
		0x10, 0x81, 0x80, 0x84, 0x50, /* Ips, unpacked: 10.1.0.1 */
		0x10, 0x80, 0x80, 0xfc, 0xff, 0x0f, /* 255.255.0.0 */
		0x3a, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
		32,
		0x28, 0x01,                   /* NotBefore 1 */
	};
	struct ctl_cert *c;
	uint8_t *buf;
	size_t len;

	(void)state;
	c = decode_ok(raw, sizeof(raw));
	assert_int_equal(c->n_ips, 1);
	assert_int_equal(c->ips[0].ip, 0x0a010001);
	assert_int_equal(c->ips[0].mask, 0xffff0000);
	assert_int_equal(c->not_before, 1);
	assert_int_equal(c->not_after, 2);
	assert_int_equal(ctl_cert_encode_details(c, &buf, &len), 0);
	/* Name, packed Ips, NotBefore, NotAfter, PublicKey. */
	assert_int_equal(buf[0], 0x0a);
	assert_int_equal(buf[3], 0x12);
	assert_int_equal(buf[4], 9);
	assert_int_equal(buf[14], 0x28);
	assert_int_equal(buf[16], 0x30);
	assert_int_equal(buf[18], 0x3a);
	assert_int_equal(len, 18 + 2 + 32);
	free(buf);
	ctl_cert_free(c);
}

static void test_cert_malformed(void **state)
{
	static const uint8_t empty[1] = { 0 };
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t no_details[] = { 0x12, 0x01, 0x00 };
	static const uint8_t odd_ips[] = { 0x0a, 0x03, 0x12, 0x01, 0x01 };
	static const uint8_t short_key[] = { 0x0a, 0x04, 0x3a, 0x02, 0x01, 0x02 };
	static const uint8_t bad_utf8[] = {
		0x0a, 0x26, 0x0a, 0x02, 0xc3, 0x28, 0x3a, 0x20,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	};
	static const uint8_t nul_group[] = {
		0x0a, 0x26, 0x22, 0x02, 'a', 0x00, 0x3a, 0x20,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	};
	/* Details length runs past the end of the input. */
	uint8_t truncated[sizeof(vec_host_a_raw) - 10];

	(void)state;
	memcpy(truncated, vec_host_a_raw, sizeof(truncated));
	assert_decode_fails(empty, 0, "empty");
	assert_decode_fails(garbage, sizeof(garbage), "not a valid protobuf");
	assert_decode_fails(truncated, sizeof(truncated), "not a valid protobuf");
	assert_decode_fails(no_details, sizeof(no_details), "no details");
	assert_decode_fails(odd_ips, sizeof(odd_ips), "pairs");
	assert_decode_fails(short_key, sizeof(short_key), "public key is 2 bytes");
	assert_decode_fails(bad_utf8, sizeof(bad_utf8), "name is not valid UTF-8");
	assert_decode_fails(nul_group, sizeof(nul_group), "group contains a NUL");
}

static void test_cert_ipnet_format(void **state)
{
	static const struct {
		struct ctl_ipnet n;
		const char *want;
	} cases[] = {
		{ { 0x0a010002, 0xffff0000 }, "10.1.0.2/16" },
		{ { 0xc0a83200, 0xffffff00 }, "192.168.50.0/24" },
		{ { 0x00000000, 0x00000000 }, "0.0.0.0/0" },
		{ { 0xffffffff, 0xffffffff }, "255.255.255.255/32" },
		{ { 0x0a010002, 0xffff00ff }, "10.1.0.2/ffff00ff" },
		{ { 0x0a010002, 0x00000001 }, "10.1.0.2/00000001" },
	};
	char buf[CTL_IPNET_STR];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ctl_ipnet_format(&cases[i].n, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

static void test_cert_fp_hex(void **state)
{
	char hex[CTL_CERT_FP_HEX];
	uint8_t fp[CTL_CERT_FP_LEN];

	(void)state;
	ctl_cert_fp_hex(vec_ca_fp, hex);
	assert_string_equal(hex,
			    "4345fbc2d414efa78cba383505789e912aab5a69aa773562324c6f7217d6df0e");
	assert_int_equal(ctl_cert_fp_parse(hex, fp), 0);
	assert_memory_equal(fp, vec_ca_fp, sizeof(fp));
	assert_int_equal(ctl_cert_fp_parse("4345FBC2D414EFA78CBA383505789E912AAB5A69AA773562324C6F7217D6DF0E", fp), 0);
	assert_memory_equal(fp, vec_ca_fp, sizeof(fp));
	assert_int_equal(ctl_cert_fp_parse("4345", fp), -EINVAL);
	assert_int_equal(ctl_cert_fp_parse("zz45fbc2d414efa78cba383505789e912aab5a69aa773562324c6f7217d6df0e", fp), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_ca_vector),
		cmocka_unit_test(test_cert_host_vectors),
		cmocka_unit_test(test_cert_pem_vectors),
		cmocka_unit_test(test_cert_handshake_form),
		cmocka_unit_test(test_cert_sign_matches_vector),
		cmocka_unit_test(test_cert_build_and_sign),
		cmocka_unit_test(test_cert_private_keys),
		cmocka_unit_test(test_cert_expired),
		cmocka_unit_test(test_cert_verify_order),
		cmocka_unit_test(test_cert_root_constraints),
		cmocka_unit_test(test_cert_unknown_fields_dropped),
		cmocka_unit_test(test_cert_noncanonical_input),
		cmocka_unit_test(test_cert_malformed),
		cmocka_unit_test(test_cert_ipnet_format),
		cmocka_unit_test(test_cert_fp_hex),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
