/* SPDX-License-Identifier: MIT */
#ifndef CTL_PEM_H
#define CTL_PEM_H

/*
 * PEM containers as Go's encoding/pem reads and writes them, which is what
 * nebula and nebula-cert use for every certificate and key file: text before
 * the first BEGIN line is skipped, optional "Key: value" headers are skipped,
 * the base64 body may be wrapped anywhere, and several blocks may follow one
 * another (CA bundles).
 */

#include <stddef.h>
#include <stdint.h>

struct vl_status;

/* Banners of Nebula 1.6.1 (spec §7.5). */
#define CTL_PEM_CERT "NEBULA CERTIFICATE"
#define CTL_PEM_X25519_PRIVATE "NEBULA X25519 PRIVATE KEY"
#define CTL_PEM_X25519_PUBLIC "NEBULA X25519 PUBLIC KEY"
#define CTL_PEM_ED25519_PRIVATE "NEBULA ED25519 PRIVATE KEY"
#define CTL_PEM_ED25519_PUBLIC "NEBULA ED25519 PUBLIC KEY"

#define CTL_PEM_BANNER_MAX 64

struct ctl_pem_block {
	char banner[CTL_PEM_BANNER_MAX]; /* "NEBULA CERTIFICATE" */
	uint8_t *data;                   /* decoded body, malloc'd */
	size_t len;
};

/*
 * Decodes the first PEM block of in[0..len). On success fills @blk (free it
 * with ctl_pem_block_free) and sets *consumed to the bytes up to the end of
 * the block's END line. Returns -ENOENT when the input holds no BEGIN line at
 * all (only whitespace or text), -EINVAL with the reason in @st for a block
 * that is truncated or whose body is not base64.
 */
int ctl_pem_decode(const uint8_t *in, size_t len, struct ctl_pem_block *blk,
		   size_t *consumed, struct vl_status *st);

/* Like ctl_pem_decode, and the banner must be @banner; the body is then checked to be @want_len bytes when it is not 0. */
int ctl_pem_decode_expect(const uint8_t *in, size_t len, const char *banner,
			  size_t want_len, struct ctl_pem_block *blk,
			  size_t *consumed, struct vl_status *st);

void ctl_pem_block_free(struct ctl_pem_block *blk);

/* True when in[0..len) holds nothing but whitespace. */
int ctl_pem_is_blank(const uint8_t *in, size_t len);

/*
 * Encodes @data as one block, byte for byte what Go's pem.EncodeToMemory
 * writes: 64-column base64 lines and a trailing newline. Returns a malloc'd
 * NUL-terminated string (its length in *out_len) or NULL when out of memory.
 */
char *ctl_pem_encode(const char *banner, const uint8_t *data, size_t len,
		     size_t *out_len);

#endif /* CTL_PEM_H */
