/* SPDX-License-Identifier: MIT */
#ifndef VL_FW_WIRE_H
#define VL_FW_WIRE_H

/*
 * The firewall on the control channel (spec §8): what vela-control
 * compiles from firewall.* (control/fw_compile.c) and what the dataplane
 * loads and runs (dataplane/fw.c). Two records:
 *
 * struct ctlmsg_firewall, a message of its own (type CTLMSG_FIREWALL in
 * ctlmsg.h): one generation of rules for both directions and the
 * conntrack timeouts. Variable length, at most CTLMSG_MAX:
 *
 *   offsetof(struct ctlmsg_firewall, data)   fixed part, 64 bytes
 *   rules[n_inbound + n_outbound]            struct ctlmsg_fw_rule, inbound first
 *   refs[n_refs]                             uint32_t string references (groups)
 *   strings[strings_len]                     NUL-terminated strings
 *
 * and hdr.len is exactly the sum. Every part is a multiple of 4 bytes
 * long, so rules and refs are 4-byte aligned when the record is; the
 * loader copies fields out and does not rely on it. A string reference is
 * an offset into strings[], or CTLMSG_FW_NONE. strings[] ends in a NUL, so
 * any offset below strings_len starts a terminated string; the loader
 * checks both, and that no reference points outside. Strings are never
 * empty except in a group set (`groups: [""]`, which 1.6.1 keeps).
 *
 * struct ctlmsg_fw_peer, fixed size, embedded in struct ctlmsg_tunnel_add:
 * the peer certificate's identity as the rules see it. See below.
 *
 * Canonical form. The control side resolves everything that needs the
 * config's text conventions, so the dataplane matches without knowing
 * them: `host: any`, a group `any`, a cidr containing 0.0.0.0 and a rule
 * with neither host, group nor cidr all become CTLMSG_FW_ANY (1.6.1's
 * FirewallRule.isAny), and such a rule carries no host, groups or cidr;
 * empty host, ca_name and ca_sha strings are dropped (1.6.1 reads "" as
 * absent). The loader refuses anything not in this form, so there is one
 * encoding per rule.
 *
 * The fields are host byte order, as everything on this socket.
 */

#include <stddef.h>
#include <stdint.h>

/*
 * A peer's identity for the firewall: its certificate's Name, Groups and
 * Issuer, and the Name of the CA in our pool that issued it (what ca_name
 * compares). vela-control fills it when it installs a tunnel
 * (ctl_fw_peer_identity); the dataplane turns it into per-rule verdicts
 * once per (peer, rule generation) (dp_fw_peer_new) and never looks at a
 * string again for that peer.
 *
 * strings[0 .. strings_len) holds, each NUL-terminated and in this order:
 * the Name, the CA's Name when CTLMSG_FW_PEER_HAS_CA is set, then n_groups
 * groups in certificate order; nothing else, and no string has a NUL
 * inside (certificates cannot carry one, cert.c refuses it). The rest of
 * strings[] is zero. HAS_CA is clear when the pool holds no CA with the
 * issuer's fingerprint (1.6.1's GetCAForCert fails): ca_name rules then
 * never match, ca_sha rules still compare the issuer.
 *
 * A certificate whose strings need more than CTLMSG_FW_PEER_STRINGS bytes
 * (or more than 65535 groups) is refused by ctl_fw_peer_identity with
 * -E2BIG and a message naming the certificate; the control plane then
 * refuses the tunnel. Nothing is ever truncated: a truncated group list
 * could drop a rule's match, a truncated name could make one.
 */
#define CTLMSG_FW_PEER_STRINGS 2048
#define CTLMSG_FW_ISSUER_MAX 64     /* control/cert.h CTL_CERT_ISSUER_MAX */

#define CTLMSG_FW_PEER_HAS_CA (1u << 0)

struct ctlmsg_fw_peer {
	uint16_t flags;       /* CTLMSG_FW_PEER_HAS_CA */
	uint16_t n_groups;
	uint16_t strings_len; /* bytes of strings[] in use, at least 1 (the Name) */
	uint16_t issuer_len;  /* bytes of issuer[]: 32 from nebula-cert; 0 none */
	uint8_t issuer[CTLMSG_FW_ISSUER_MAX]; /* raw, as in the certificate */
	char strings[CTLMSG_FW_PEER_STRINGS];
};

_Static_assert(sizeof(struct ctlmsg_fw_peer) == 2120, "wire layout");

/*
 * ctlmsg.h embeds struct ctlmsg_fw_peer in struct ctlmsg_tunnel_add and
 * includes this file after struct ctlmsg_hdr for it; the record below
 * needs struct ctlmsg_hdr. Defining the peer before this include makes
 * either include order work.
 */
#include "ctlmsg.h"

#define CTLMSG_FW_NONE UINT32_MAX /* an absent string reference */

/* Rule flags. */
#define CTLMSG_FW_ANY (1u << 0)      /* the host/group/cidr part matches anyone */
#define CTLMSG_FW_CIDR (1u << 1)     /* cidr_ip/cidr_mask are in use */
#define CTLMSG_FW_FRAGMENT (1u << 2) /* port: fragment (ports are 0) */
#define CTLMSG_FW_FLAGS (CTLMSG_FW_ANY | CTLMSG_FW_CIDR | CTLMSG_FW_FRAGMENT)

/*
 * One rule, 36 bytes. It matches a packet when:
 *   proto is 0 or the packet's protocol
 *   AND the port part holds: FRAGMENT matches non-first fragments only;
 *       start_port 0 (end_port 0) is any port, fragments included;
 *       else start_port <= port <= end_port, 1 <= start_port, never a
 *       fragment (inbound: the local port, outbound: the remote one)
 *   AND (no ca_name and no ca_sha, OR ca_sha is the peer cert's Issuer in
 *       lowercase hex, OR ca_name is the Name of the CA that issued it)
 *   AND (ANY, OR every group of the set is in the peer cert, OR host is
 *       its Name, OR the packet's remote IP is in the cidr).
 */
struct ctlmsg_fw_rule {
	uint8_t proto;       /* 0 any, 1 icmp, 6 tcp, 17 udp */
	uint8_t flags;       /* CTLMSG_FW_* */
	uint16_t start_port; /* 0: any port; 0 with FRAGMENT */
	uint16_t end_port;   /* 0 when start_port is 0 */
	uint16_t n_groups;   /* the group set: all are required; 0 = none */
	uint32_t groups;     /* refs[groups .. groups + n_groups) */
	uint32_t host;       /* string reference or CTLMSG_FW_NONE */
	uint32_t ca_name;    /* ditto */
	uint32_t ca_sha;     /* ditto */
	uint32_t cidr_ip;    /* with CTLMSG_FW_CIDR: the network, masked, not 0 */
	uint32_t cidr_mask;  /* contiguous; both 0 without CTLMSG_FW_CIDR */
	uint32_t line;       /* in the config, for messages; 0 unknown */
};

_Static_assert(sizeof(struct ctlmsg_fw_rule) == 36, "wire layout");

struct ctlmsg_firewall {
	struct ctlmsg_hdr hdr;
	/*
	 * Rule generation, never 0. Conntrack entries remember the
	 * generation that admitted them; a different one makes them stale
	 * (re-checked lazily, as 1.6.1's rulesVersion).
	 */
	uint32_t gen;
	uint32_t n_inbound, n_outbound;
	uint32_t n_refs;
	uint32_t strings_len;
	uint32_t reserved;   /* 0 */
	/* firewall.conntrack.*_timeout, at most INT64_MAX. */
	uint64_t tcp_timeout_ns, udp_timeout_ns, default_timeout_ns;
	uint8_t data[];      /* rules, refs, strings; see the top of this file */
};

_Static_assert(offsetof(struct ctlmsg_firewall, data) == 64, "wire layout");

/* The most rules a record can hold (no strings at all). */
#define CTLMSG_FW_RULES_MAX                                            \
	((CTLMSG_MAX - offsetof(struct ctlmsg_firewall, data)) /       \
	 sizeof(struct ctlmsg_fw_rule))

#endif /* VL_FW_WIRE_H */
