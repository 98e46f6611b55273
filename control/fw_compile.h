/* SPDX-License-Identifier: MIT */
#ifndef CTL_FW_COMPILE_H
#define CTL_FW_COMPILE_H

/*
 * The control plane's half of the firewall (spec §8): the parsed
 * firewall.* section turned into one CTLMSG_FIREWALL record
 * (common/fw_wire.h), and a peer certificate turned into the identity the
 * dataplane matches rules against. The dataplane half is dataplane/fw.c;
 * neither side parses what the other already checked, but both check
 * what crosses the socket.
 */

#include <stdint.h>

#include "fw_wire.h"

struct ctl_config;
struct ctl_cert;
struct ctl_capool;
struct vl_status;

/*
 * @cfg's rules and conntrack timeouts as one record of generation @gen (not
 * 0; each new rule set sent to a dataplane takes a new one). On success
 * *@out is a malloc'd record of *@len bytes with hdr.version and hdr.len
 * set; the sender sets hdr.type (CTLMSG_FIREWALL) and hdr.seq, and frees
 * it. -EINVAL or -E2BIG with "file:line: firewall.inbound[i]: reason" in
 * @st (i counts from 0, as 1.6.1's "rule #i"), e.g. when the rules do not
 * fit one record; -ENOMEM.
 */
int ctl_fw_compile(const struct ctl_config *cfg, uint32_t gen,
		   struct ctlmsg_firewall **out, uint32_t *len,
		   struct vl_status *st);

/*
 * The identity of @peer (a verified host certificate) as the firewall sees
 * it, with the Name of the CA in @pool whose fingerprint is its issuer
 * (none when the pool has no such CA, as after a CA was removed on
 * reload: ca_name rules then never match it). -E2BIG when its name,
 * groups and CA name do not fit CTLMSG_FW_PEER_STRINGS: the tunnel must
 * be refused, the identity is never truncated.
 */
int ctl_fw_peer_identity(const struct ctl_cert *peer,
			 const struct ctl_capool *pool,
			 struct ctlmsg_fw_peer *out, struct vl_status *st);

#endif /* CTL_FW_COMPILE_H */
