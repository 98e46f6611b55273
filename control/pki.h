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

/*
 * SIGHUP, as 1.6.1's Interface.reloadCA and reloadCertKey (interface.go):
 * two independent steps, CA pool first, each all or nothing. A step that
 * fails logs why and keeps what was in force; the other still runs.
 */

/*
 * pki.ca and pki.blocklist into @pool (initialised here) with the checks
 * of ctl_pki_load (1.6.1's loadCAFromConfig). On error @pool is empty and
 * @st says "pki.ca: file: reason".
 */
int ctl_pki_load_pool(struct ctl_capool *pool, const struct ctl_config *cfg,
		      const struct timespec *now, FILE *warn,
		      struct vl_status *st);

/*
 * May @next replace our certificate @old while we run? 1.6.1 refuses a
 * different Ips[0] (address and mask, "IP in new cert was different from
 * old"). vela also refuses any other change of IPs or subnets: they are
 * the dataplane's local networks (SETUP), fixed while it runs. Groups,
 * name, validity, key and issuer may change. 0 or -EINVAL with why.
 */
int ctl_pki_check_replace(const struct ctl_cert *old,
			  const struct ctl_cert *next, struct vl_status *st);

/*
 * pki.cert and pki.key again (1.6.1's NewCertStateFromConfig: current,
 * with an IP, the key its pair), checked by ctl_pki_check_replace, then
 * swapped into @pki: new handshakes send the new certificate and use the
 * new key; the pool is not touched. On error @pki is unchanged.
 */
int ctl_pki_reload_own(struct ctl_pki *pki, const struct ctl_config *cfg,
		       const struct timespec *now, struct vl_status *st);

#endif /* CTL_PKI_H */
