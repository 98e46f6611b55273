/* SPDX-License-Identifier: MIT */
#ifndef DP_FW_H
#define DP_FW_H

/*
 * The firewall rules (spec §8) as the dataplane runs them: step 4 of
 * §8's order, for the first packet of a flow and for a conntrack entry
 * left stale by a rule reload. Conntrack itself (flow.h) and the
 * anti-spoofing and local-IP checks (steps 2 and 3) are elsewhere.
 *
 * Three stages, each doing once what does not change at the next one:
 *
 *   dp_fw_load       a CTLMSG_FIREWALL record (common/fw_wire.h), checked
 *                    field by field, into an immutable struct dp_fw.
 *   dp_fw_peer_new   one peer's certificate identity against every rule
 *                    of a dp_fw: the host, group, ca_sha and ca_name
 *                    parts are decided here, with string compares, and
 *                    the peer keeps the list of rules it can match at
 *                    all, each marked "matches" or "matches if the
 *                    remote IP is in the rule's cidr".
 *   dp_fw_allow      a packet tuple against that list: protocol, port
 *                    and cidr only. No strings, no allocation, no locks.
 *
 * 1.6.1 keeps rules in maps (proto -> port -> CA -> host/group/cidr); a
 * packet matches when any rule matches, so a scan over a peer's short
 * list gives the same answers, fragments and ICMP included: a fragment
 * matches only `fragment` and any-port rules, an ICMP packet has port 0
 * and so matches only any-port rules (an ICMP `code` never matches).
 *
 * Lifetime. A dp_fw never changes after dp_fw_load and may be read by any
 * number of threads. A dp_fw_peer points to the dp_fw it was built from
 * and dp_fw_allow reads that dp_fw's rules: the dp_fw must stay allocated
 * until every dp_fw_peer built from it has been freed and no worker can
 * still hold one. On a reload the control thread loads the new dp_fw,
 * builds a new dp_fw_peer for every tunnel (from the ctlmsg_fw_peer kept
 * with it), publishes them, and retires the old peers and then the old
 * dp_fw through QSBR (qsbr.h): free the peers, then the dp_fw, after the
 * same grace period. dp_fw_free does not know about peers; freeing a
 * dp_fw with peers left is a use-after-free in dp_fw_allow.
 *
 * Thread contract: load, peer_new and the frees on the control thread
 * (they allocate); dp_fw_allow and the accessors from any worker.
 */

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "fw_wire.h"

struct vl_status;
struct dp_fw;
struct dp_fw_peer;

/*
 * Checks @rec (@len bytes, as received, any alignment) and builds the
 * rule set. The caller has checked hdr.version and hdr.type as for every
 * record; everything else is checked here: hdr.len == @len, the part
 * lengths add up to it exactly, every rule is in canonical form
 * (fw_wire.h), every string reference lies inside the string area, which
 * ends in a NUL, generation not 0. 0 or -EINVAL (with what is wrong in
 * @st: the record is refused whole), -ENOMEM.
 */
int dp_fw_load(const void *rec, uint32_t len, struct dp_fw **out,
	       struct vl_status *st);
void dp_fw_free(struct dp_fw *fw);

uint32_t dp_fw_gen(const struct dp_fw *fw);
/* firewall.conntrack.*, for the flow table. */
const struct dp_flow_timeouts *dp_fw_timeouts(const struct dp_fw *fw);
uint32_t dp_fw_n_rules(const struct dp_fw *fw, enum dp_flow_dir dir);

/*
 * Precomputes @id's verdicts on every rule of @fw (both directions). @id
 * is checked first (strings_len, each string's terminator, exactly the
 * strings its counts announce, issuer_len); -EINVAL with the reason if
 * not. The result refers to @fw (see Lifetime above) and owns no
 * reference to @id. -ENOMEM.
 */
int dp_fw_peer_new(const struct dp_fw *fw, const struct ctlmsg_fw_peer *id,
		   struct dp_fw_peer **out, struct vl_status *st);
void dp_fw_peer_free(struct dp_fw_peer *p);

/* The generation of the dp_fw @p was built from: the one to tag flows with. */
uint32_t dp_fw_peer_gen(const struct dp_fw_peer *p);

/*
 * Rules of @dir this peer can match (for counters and tests); a peer
 * that one rule lets do anything reports 0 and is allowed everything.
 */
uint32_t dp_fw_peer_n_rules(const struct dp_fw_peer *p, enum dp_flow_dir dir);

/*
 * 1.6.1's rule table match for the tuple @k of a packet going @dir
 * (DP_FLOW_IN: the peer sent it, the local port is matched; DP_FLOW_OUT:
 * we send it to the peer, the remote port is matched). True when some
 * rule of that direction allows it; no rules deny.
 *
 * A conntrack entry left stale by a reload is re-checked with the
 * direction of the packet that created it, not of the packet at hand:
 * 1.6.1 does so (TestFirewall_DropConntrackReload), and the port that
 * decides depends on it.
 */
bool dp_fw_allow(const struct dp_fw_peer *p, enum dp_flow_dir dir,
		 const struct dp_flow_key *k);

#endif /* DP_FW_H */
