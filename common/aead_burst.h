/* SPDX-License-Identifier: MIT */
#ifndef VL_AEAD_BURST_H
#define VL_AEAD_BURST_H

/*
 * Transport messages sealed and opened a whole burst at a time (DESIGN.md
 * §2): AES-256-GCM through IPsec-MB's burst job API on a manager that
 * belongs to one thread, ChaCha20-Poly1305 through libsodium per message.
 * One call pays the library's dispatch once per burst instead of once per
 * packet, and keys are the same expanded struct vl_aead_key that
 * vl_aead_key_set() made (aead.h), so an SA's key schedule is computed once.
 *
 * Every operation works in place on a Nebula datagram: the 16-byte header
 * is the associated data, the nonce is built from @counter the way
 * vl_aead_nonce() builds it, and the tag follows the payload. A burst may
 * mix keys and ciphers.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aead.h"

/* Most operations one call takes; larger bursts are split by the caller. */
#define VL_AEAD_BURST_MAX 64

struct vl_aead_op {
	const struct vl_aead_key *key;
	uint64_t counter;   /* the message counter: nonce = vl_aead_nonce() */
	const uint8_t *ad;  /* associated data (the header) */
	uint32_t ad_len;
	uint8_t *data;      /* seal: plaintext, becomes ciphertext; the tag is
			     * written to data[len..len+16). open: ciphertext
			     * followed by its tag, becomes plaintext. */
	uint32_t len;       /* payload length, without the tag */
	bool ok;            /* set by the call: open, the tag verified;
			     * seal, sealed (always, for valid arguments) */
};

/*
 * Per-thread state: an IPsec-MB manager whose job queue only its owner
 * touches (aead.c says why the per-message path can share one and this
 * one cannot). Calls vl_aead_init(). Returns 0 or -errno (-ENOMEM, or
 * -ENOTSUP when IPsec-MB finds no usable CPU path). Free takes NULL.
 */
struct vl_aead_burst;
int vl_aead_burst_new(struct vl_aead_burst **out);
void vl_aead_burst_free(struct vl_aead_burst *b);

/*
 * The burst calls below: only the thread that owns @b; keys may be shared
 * by any number of threads. n may be 0. An op with a NULL key or data, or
 * NULL ad with ad_len > 0, fails alone (@ok false, its data zeroed as
 * below) and the rest of the burst goes on.
 *
 * Seals ops[0..n), n <= VL_AEAD_BURST_MAX, and sets each @ok. With valid
 * arguments sealing cannot fail; an op that did would have data[0..len+16)
 * zeroed, so it never carries plaintext under a tag.
 */
void vl_aead_seal_burst(struct vl_aead_burst *b, struct vl_aead_op *ops,
			unsigned int n);

/*
 * Opens ops[0..n), n <= VL_AEAD_BURST_MAX; sets each op's @ok, comparing
 * tags in constant time, and zeroes the payload of every op that failed.
 * Returns how many verified.
 */
unsigned int vl_aead_open_burst(struct vl_aead_burst *b, struct vl_aead_op *ops,
				unsigned int n);

#endif /* VL_AEAD_BURST_H */
