/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for everything that reads certificate input from a file
 * or a peer: the PEM reader, the certificate decoder (plain and handshake
 * form), the CA pool and both print forms. Besides "no crash, no leak" it
 * checks the property that signatures and fingerprints rest on: decoding
 * the canonical encoding gives the same canonical encoding again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "capool.h"
#include "cert.h"
#include "cert_print.h"
#include "pem.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_canonical(const struct ctl_cert *c)
{
	struct vl_status st;
	struct ctl_cert *again;
	uint8_t *enc, *enc2, fp[CTL_CERT_FP_LEN];
	size_t len, len2;
	FILE *null;

	if (ctl_cert_encode(c, &enc, &len))
		abort();
	if (ctl_cert_decode(enc, len, &again, &st))
		abort(); /* we wrote something we cannot read */
	if (ctl_cert_encode(again, &enc2, &len2) || len2 != len ||
	    memcmp(enc, enc2, len) != 0)
		abort(); /* the encoding is not canonical */
	if (ctl_cert_fingerprint(c, fp))
		abort();

	null = fopen("/dev/null", "w");
	if (null) {
		ctl_cert_print_text(null, c);
		ctl_cert_print_json(null, c);
		fclose(null);
	}
	ctl_cert_free(again);
	free(enc);
	free(enc2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t rs[CTL_CERT_KEY_LEN] = { 9 };
	struct timespec now = { .tv_sec = 1800000000 };
	struct vl_status st;
	struct ctl_capool pool;
	struct ctl_cert *c;
	size_t used, n_expired, off = 0;

	if (sodium_init() < 0)
		abort();

	/* The input as protobuf: a certificate and a handshake certificate. */
	if (ctl_cert_decode(data, size, &c, &st) == 0) {
		check_canonical(c);
		ctl_cert_verify(c, &now, &(struct ctl_capool){ 0 }, &st);
		ctl_cert_free(c);
	}
	if (ctl_cert_decode_handshake(data, size, rs, &c, &st) == 0) {
		check_canonical(c);
		ctl_cert_free(c);
	}

	/* The input as a PEM file: every block, then as a CA bundle. */
	while (off < size) {
		int err = ctl_cert_decode_pem(data + off, size - off, &c, &used,
					      &st);

		if (err == 0) {
			check_canonical(c);
			ctl_cert_free(c);
		}
		if (used == 0 || used > size - off)
			abort(); /* no progress, or past the end */
		off += used;
		if (err)
			break;
	}
	ctl_capool_init(&pool);
	ctl_capool_load_pem(&pool, data, size, &now, &n_expired, &st);
	ctl_capool_free(&pool);
	return 0;
}
