/* SPDX-License-Identifier: MIT */
#ifndef CTL_KEYS_H
#define CTL_KEYS_H

/*
 * Key pairs and key files (spec §7.5): X25519 host keys (32-byte private
 * scalar, not pre-clamped) and Ed25519 CA keys (64 bytes: seed || public, Go's
 * format, which is also libsodium's). Secrets are wiped by the caller with
 * sodium_memzero() when done.
 */

#include <stddef.h>
#include <stdint.h>

struct vl_status;

#define CTL_X25519_KEY_LEN 32
#define CTL_ED25519_SK_LEN 64
#define CTL_ED25519_PK_LEN 32

void ctl_key_x25519_generate(uint8_t priv[CTL_X25519_KEY_LEN],
			     uint8_t pub[CTL_X25519_KEY_LEN]);
/* X25519(priv, 9); -EINVAL for a degenerate key. */
int ctl_key_x25519_public(const uint8_t priv[CTL_X25519_KEY_LEN],
			  uint8_t pub[CTL_X25519_KEY_LEN]);
void ctl_key_ed25519_generate(uint8_t sk[CTL_ED25519_SK_LEN],
			      uint8_t pk[CTL_ED25519_PK_LEN]);

/*
 * Reads one key from PEM text: checks the banner and the exact length.
 * Returns 0, or -EINVAL/-ENOENT with the reason in @st. The decoded bytes go
 * to @key (@key_len bytes); nothing else is kept.
 */
int ctl_key_decode_pem(const uint8_t *in, size_t len, const char *banner,
		       uint8_t *key, size_t key_len, struct vl_status *st);

#endif /* CTL_KEYS_H */
