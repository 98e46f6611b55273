/* SPDX-License-Identifier: MIT */
#ifndef CTL_CERT_H
#define CTL_CERT_H

/*
 * Nebula certificates, format v1 (spec §7), as nebula 1.6.1 reads, writes,
 * signs and verifies them.
 *
 * The one rule that shapes this module: signatures and fingerprints are over
 * a canonical *re-encoding* of the parsed certificate, never over the bytes
 * received (§7.2). So a certificate is decoded into struct ctl_cert, which
 * keeps only the fields 1.6.1 knows, and every hash or signature is taken
 * over ctl_cert_encode()/ctl_cert_encode_details() of that struct. Unknown
 * protobuf fields are therefore dropped, exactly as 1.6.1 drops them.
 *
 * A decoded certificate is one heap block (struct, arrays and strings) that
 * ctl_cert_free() releases. A certificate being built (vela-cert ca/sign)
 * is a struct the caller fills with pointers to its own storage; it is never
 * passed to ctl_cert_free().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct vl_status;
struct ctl_capool;

#define CTL_CERT_KEY_LEN 32        /* X25519 host key, Ed25519 CA key */
#define CTL_CERT_SIG_LEN 64        /* Ed25519 signature */
#define CTL_CERT_FP_LEN 32         /* SHA-256 fingerprint, also the issuer field */
#define CTL_CERT_FP_HEX (2 * CTL_CERT_FP_LEN + 1)

/*
 * 1.6.1 accepts any public key of at least 32 bytes and any issuer or
 * signature length; these caps only bound memory for hostile input and are
 * far above anything nebula-cert (or 1.7's P-256) writes.
 */
#define CTL_CERT_PUBKEY_MAX 128
#define CTL_CERT_ISSUER_MAX 64
#define CTL_CERT_SIGNATURE_MAX 128

/* An IPv4 address or network with its mask, both in host byte order. */
struct ctl_ipnet {
	uint32_t ip;
	uint32_t mask;
};

struct ctl_cert {
	const char *name;            /* valid UTF-8, no NUL */
	const struct ctl_ipnet *ips; /* ips[0] is the VPN address */
	size_t n_ips;
	const struct ctl_ipnet *subnets;
	size_t n_subnets;
	const char *const *groups;
	size_t n_groups;
	int64_t not_before; /* Unix seconds */
	int64_t not_after;
	bool is_ca;
	size_t pubkey_len;
	uint8_t pubkey[CTL_CERT_PUBKEY_MAX];
	size_t issuer_len; /* 0 for a CA */
	uint8_t issuer[CTL_CERT_ISSUER_MAX];
	size_t sig_len;
	uint8_t sig[CTL_CERT_SIGNATURE_MAX];
};

/*
 * Decoding. Each returns 0 or -EINVAL/-ENOMEM with the reason in @st; the
 * result is one block released by ctl_cert_free().
 */

/* RawNebulaCertificate protobuf bytes. */
int ctl_cert_decode(const uint8_t *buf, size_t len, struct ctl_cert **out,
		    struct vl_status *st);

/*
 * The first PEM block of in[0..len), which must be a NEBULA CERTIFICATE;
 * *consumed as for ctl_pem_decode(). -ENOENT when there is no block at all.
 */
int ctl_cert_decode_pem(const uint8_t *in, size_t len, struct ctl_cert **out,
			size_t *consumed, struct vl_status *st);

/*
 * The certificate a peer sends in a handshake has its public key removed
 * (§3.5); the key proven by Noise (@rs) is put back before anything else, so
 * a certificate that was not issued for @rs fails its signature check.
 */
int ctl_cert_decode_handshake(const uint8_t *buf, size_t len,
			      const uint8_t rs[CTL_CERT_KEY_LEN],
			      struct ctl_cert **out, struct vl_status *st);

void ctl_cert_free(struct ctl_cert *c);

/*
 * Encoding, canonical as google.golang.org/protobuf marshals it. Each returns
 * 0 with a malloc'd buffer, or -ENOMEM.
 */
int ctl_cert_encode(const struct ctl_cert *c, uint8_t **out, size_t *len);
int ctl_cert_encode_details(const struct ctl_cert *c, uint8_t **out,
			    size_t *len);
/* The handshake form: the whole certificate without its public key. */
int ctl_cert_encode_handshake(const struct ctl_cert *c, uint8_t **out,
			      size_t *len);
/* PEM text (NUL-terminated), as nebula-cert writes it. */
int ctl_cert_encode_pem(const struct ctl_cert *c, char **out, size_t *len);

/* SHA-256 of ctl_cert_encode(); 0 or -ENOMEM. */
int ctl_cert_fingerprint(const struct ctl_cert *c, uint8_t fp[CTL_CERT_FP_LEN]);
void ctl_cert_fp_hex(const uint8_t fp[CTL_CERT_FP_LEN], char hex[CTL_CERT_FP_HEX]);
/* Parses 64 hex digits (either case); 0 or -EINVAL. */
int ctl_cert_fp_parse(const char *hex, uint8_t fp[CTL_CERT_FP_LEN]);

/*
 * Name and groups are valid UTF-8 (proto3 strings must be, or Nebula cannot
 * read the certificate). Built certificates are checked before signing;
 * decoded ones already were. 0 or -EINVAL with the field in @st.
 */
int ctl_cert_check_text(const struct ctl_cert *c, struct vl_status *st);

/* Signs the details with an Ed25519 secret key (seed || public, 64 bytes). */
int ctl_cert_sign(struct ctl_cert *c, const uint8_t sk[64]);
/* Ed25519 over the canonical details; false for any key or signature not 32/64 bytes. */
bool ctl_cert_check_signature(const struct ctl_cert *c, const uint8_t *pk,
			      size_t pk_len);

/* NotBefore > now or NotAfter < now, at nanosecond resolution as Go compares. */
bool ctl_cert_expired(const struct ctl_cert *c, const struct timespec *now);

/* CA constraints of §7.6 step 5 (validity nesting, groups, IPs, subnets). */
int ctl_cert_check_root_constraints(const struct ctl_cert *c,
				    const struct ctl_cert *signer,
				    struct vl_status *st);

/*
 * The private key belongs to this certificate: for a CA, a 64-byte Ed25519
 * key whose seed derives the certificate's key; for a host, a 32-byte X25519
 * key with X25519(key, 9) equal to it.
 */
int ctl_cert_check_private_key(const struct ctl_cert *c, const uint8_t *key,
			       size_t key_len, struct vl_status *st);

/*
 * Full validation of a peer certificate (§7.6), first failure wins, with
 * 1.6.1's messages: blocklist, issuer, CA expiry, expiry, signature, CA
 * constraints. 0, or -EKEYREVOKED (blocked), -ENOKEY (no issuer or unknown
 * CA), -EKEYEXPIRED, -EKEYREJECTED (signature, constraints) or -ENOMEM.
 */
int ctl_cert_verify(const struct ctl_cert *c, const struct timespec *now,
		    const struct ctl_capool *pool, struct vl_status *st);

/*
 * "10.1.0.2/16" as Go's net.IPNet.String() prints it (a non-contiguous mask
 * in hex: "10.1.0.2/ffff00ff"). @buf holds at least CTL_IPNET_STR bytes.
 */
#define CTL_IPNET_STR 32
void ctl_ipnet_format(const struct ctl_ipnet *n, char *buf, size_t len);

#endif /* CTL_CERT_H */
