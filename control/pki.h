/* SPDX-License-Identifier: MIT */
#ifndef CTL_PKI_H
#define CTL_PKI_H

/*
 * The node's PKI at start-up (spec §7.6): the CA pool from pki.ca, our own
 * certificate and X25519 key from pki.cert and pki.key (each a file path or
 * inline PEM), and pki.blocklist. Checks as 1.6.1 makes them: every CA
 * self-signed (expired ones kept with a warning, but not all of them), our
 * certificate current with at least one IP, and our key the one it was
 * issued for. Like 1.6.1, our certificate is not verified against the pool.
 */

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "capool.h"
#include "cert.h"

struct ctl_config;
struct vl_status;

struct ctl_pki {
	struct ctl_capool pool;
	struct ctl_cert *cert;
	uint8_t key[32];           /* X25519 private: wiped by ctl_pki_free */
	uint8_t *hs_cert;          /* our certificate as sent in handshakes */
	size_t hs_cert_len;
	uint32_t vpn_ip, vpn_mask; /* cert Ips[0] */
};

/* 0, or -errno with "pki.cert: ca.crt: reason" in @st. Warnings to @warn. */
int ctl_pki_load(struct ctl_pki *pki, const struct ctl_config *cfg,
		 const struct timespec *now, FILE *warn, struct vl_status *st);
void ctl_pki_free(struct ctl_pki *pki);

#endif /* CTL_PKI_H */
