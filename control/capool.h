/* SPDX-License-Identifier: MIT */
#ifndef CTL_CAPOOL_H
#define CTL_CAPOOL_H

/*
 * The CA pool (pki.ca) and the certificate blocklist (pki.blocklist): CAs
 * keyed by fingerprint, which is what a certificate's issuer field names.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cert.h"

struct vl_status;

struct ctl_capool {
	struct ctl_cert **cas;
	uint8_t (*ca_fps)[CTL_CERT_FP_LEN];
	size_t n_cas;
	uint8_t (*blocked)[CTL_CERT_FP_LEN];
	size_t n_blocked;
};

void ctl_capool_init(struct ctl_capool *pool);
void ctl_capool_free(struct ctl_capool *pool);

/*
 * Adds the first PEM block of in[0..len): it must be a certificate with
 * IsCA set and a valid self-signature. The pool takes the certificate even
 * when it is expired (as 1.6.1 does) and then returns -EKEYEXPIRED so the
 * caller decides: nebula-cert verify refuses, a node only warns. *consumed is
 * set as by ctl_pem_decode(), also on error, so a caller can go on.
 */
int ctl_capool_add_pem(struct ctl_capool *pool, const uint8_t *in, size_t len,
		       const struct timespec *now, size_t *consumed,
		       struct vl_status *st);

/*
 * Adds every block of a bundle. Any error other than an expired CA stops it
 * (nothing of the bundle stays in the pool); *n_expired counts expired CAs.
 * -ENOENT when the bundle holds no certificate at all.
 */
int ctl_capool_load_pem(struct ctl_capool *pool, const uint8_t *in, size_t len,
			const struct timespec *now, size_t *n_expired,
			struct vl_status *st);

/* The CA whose fingerprint is @fp, or NULL. */
const struct ctl_cert *ctl_capool_find(const struct ctl_capool *pool,
				       const uint8_t *fp, size_t fp_len);

int ctl_capool_block(struct ctl_capool *pool, const uint8_t fp[CTL_CERT_FP_LEN]);
bool ctl_capool_is_blocked(const struct ctl_capool *pool,
			   const uint8_t fp[CTL_CERT_FP_LEN]);

#endif /* CTL_CAPOOL_H */
