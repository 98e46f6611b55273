/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what a stranger can send the control plane: a
 * handshake message 1 (Noise, then the payload protobuf, then the
 * certificate in handshake form) and a message 2 for a handshake we
 * started. Nothing but "no crash, no leak, no read past the input".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "aead.h"
#include "cert.h"
#include "handshake_msg.h"
#include "noise.h"
#include "status.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed static key: the target needs a key, not a secret. */
static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static void payload(const uint8_t *p, size_t len, const uint8_t *rs)
{
	struct ctl_hs_payload hp = { 0 };
	struct vl_status st;
	struct ctl_cert *c;

	if (ctl_hs_decode(p, len, &hp, &st))
		return;
	if (rs && ctl_cert_decode_handshake(hp.cert, hp.cert_len, rs, &c,
					    &st) == 0)
		ctl_cert_free(c);
	ctl_hs_release(&hp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[4096], msg1[4096];
	struct ctl_noise n;
	struct vl_status st;
	const uint8_t *p;
	size_t plen, len;

	if (sodium_init() < 0 || vl_aead_init())
		abort();

	/* As a responder: the whole input is message 1 after the header. */
	ctl_noise_init(&n, VL_CIPHER_AES, false, key);
	if (ctl_noise_read_msg1(&n, data, size, &p, &plen, &st) == 0)
		payload(p, plen, ctl_noise_remote_static(&n));
	ctl_noise_wipe(&n);

	/* The payload parser on its own, without Noise in front. */
	payload(data, size, NULL);

	/* As an initiator: our message 1 out, the input as message 2. */
	ctl_noise_init(&n, size && data[0] & 1 ? VL_CIPHER_CHACHAPOLY :
						  VL_CIPHER_AES,
		       true, key);
	if (ctl_noise_write_msg1(&n, NULL, 0, msg1, sizeof(msg1), &len, &st) ==
		    0 &&
	    ctl_noise_read_msg2(&n, data, size, out, sizeof(out), &plen,
				&st) == 0)
		payload(out, plen, ctl_noise_remote_static(&n));
	ctl_noise_wipe(&n);
	return 0;
}
