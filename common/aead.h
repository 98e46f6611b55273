/* SPDX-License-Identifier: MIT */
#ifndef VL_AEAD_H
#define VL_AEAD_H

/*
 * The two AEADs Nebula 1.6.1 uses (spec §2, §4.1), one message at a time:
 * AES-256-GCM (cipher: aes) through Intel IPsec-MB, ChaCha20-Poly1305 IETF
 * (cipher: chachapoly) through libsodium. Both have 32-byte keys, 12-byte
 * nonces and 16-byte tags appended to the ciphertext.
 *
 * The nonce of a transport message is 4 zero bytes followed by the 64-bit
 * counter, big-endian for AES-GCM and little-endian for ChaCha20-Poly1305;
 * vl_aead_nonce() builds it. The Noise handshake uses nonce 0 (all zeros)
 * for both.
 *
 * A key is expanded once (AES key schedule and GHASH tables) when it is set
 * and wiped by vl_aead_key_wipe(). Tags are compared in constant time, and
 * a failed open leaves no plaintext behind in @out.
 *
 * Batched sealing and opening for the dataplane (IPsec-MB bursts) builds on
 * the same key struct later; this is the per-message path used by the
 * control plane and the udp backend.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vl_cipher {
	VL_CIPHER_AES, /* AES-256-GCM, the default */
	VL_CIPHER_CHACHAPOLY,
};

#define VL_AEAD_KEY_LEN 32
#define VL_AEAD_NONCE_LEN 12
#define VL_AEAD_TAG_LEN 16

/* Opaque storage, large enough for IPsec-MB's expanded GCM key. */
struct vl_aead_key {
	enum vl_cipher cipher;
	_Alignas(64) uint8_t opaque[1024];
};

/* Process-wide setup of IPsec-MB (CPU detection); 0 or -errno. Idempotent. */
int vl_aead_init(void);

/* Name for logs and config: "aes" / "chachapoly". */
const char *vl_cipher_name(enum vl_cipher c);

void vl_aead_key_set(struct vl_aead_key *k, enum vl_cipher c,
		     const uint8_t key[VL_AEAD_KEY_LEN]);
void vl_aead_key_wipe(struct vl_aead_key *k);

/* 00000000 || counter, big-endian for AES-GCM, little-endian for ChaCha. */
void vl_aead_nonce(enum vl_cipher c, uint64_t counter,
		   uint8_t nonce[VL_AEAD_NONCE_LEN]);

/*
 * out[0..len+16) = ciphertext || tag. @out may equal @in (in place) but
 * must not otherwise overlap it.
 */
void vl_aead_seal(const struct vl_aead_key *k,
		  const uint8_t nonce[VL_AEAD_NONCE_LEN], const uint8_t *ad,
		  size_t ad_len, const uint8_t *in, size_t len, uint8_t *out);

/*
 * @in holds len bytes of ciphertext followed by the tag (len+16 bytes in
 * all); out[0..len) receives the plaintext. Returns false, and zeroes
 * out[0..len), when the tag does not verify. @out may equal @in.
 */
bool vl_aead_open(const struct vl_aead_key *k,
		  const uint8_t nonce[VL_AEAD_NONCE_LEN], const uint8_t *ad,
		  size_t ad_len, const uint8_t *in, size_t len, uint8_t *out);

#endif /* VL_AEAD_H */
