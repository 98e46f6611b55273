/* SPDX-License-Identifier: MIT */
#include "keys.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "pem.h"
#include "status.h"

void ctl_key_x25519_generate(uint8_t priv[CTL_X25519_KEY_LEN],
			     uint8_t pub[CTL_X25519_KEY_LEN])
{
	/*
	 * 32 random bytes, stored unclamped like nebula-cert's keys: X25519
	 * clamps on use, so the file is interchangeable either way.
	 */
	do
		randombytes_buf(priv, CTL_X25519_KEY_LEN);
	while (crypto_scalarmult_base(pub, priv) != 0);
}

int ctl_key_x25519_public(const uint8_t priv[CTL_X25519_KEY_LEN],
			  uint8_t pub[CTL_X25519_KEY_LEN])
{
	return crypto_scalarmult_base(pub, priv) == 0 ? 0 : -EINVAL;
}

void ctl_key_ed25519_generate(uint8_t sk[CTL_ED25519_SK_LEN],
			      uint8_t pk[CTL_ED25519_PK_LEN])
{
	_Static_assert(CTL_ED25519_SK_LEN == crypto_sign_SECRETKEYBYTES,
		       "Go and libsodium both store seed || public key");
	crypto_sign_keypair(pk, sk);
}

int ctl_key_decode_pem(const uint8_t *in, size_t len, const char *banner,
		       uint8_t *key, size_t key_len, struct vl_status *st)
{
	struct ctl_pem_block blk;
	size_t used;
	int err;

	err = ctl_pem_decode_expect(in, len, banner, key_len, &blk, &used, st);
	if (err)
		return err;
	memcpy(key, blk.data, key_len);
	ctl_pem_block_free(&blk);
	return 0;
}
