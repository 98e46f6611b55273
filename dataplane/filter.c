/* SPDX-License-Identifier: MIT */
/*
 * The filter stage: what decides, after the checks that need no policy
 * (anti-spoofing, destinations), whether a plaintext packet goes on.
 *
 *   hooks before -> conntrack -> rules -> new conntrack entry -> hooks after
 *
 * The firewall is Nebula 1.6.1's (spec §8): default deny both ways, a
 * conntrack hit allows without rules, a rule match creates the entry that
 * lets the rest of the flow (and its replies) through. Conntrack is the
 * shared flow table (flow.h), which also keeps the per-connection
 * counters. The rules are the tunnel's view of the current rule set
 * (fw.h): sa->fw, swapped by the control thread on a reload. After a
 * reload an entry made under the old rules is re-checked once, with the
 * direction of the packet that made it, as 1.6.1 does; if the new rules
 * refuse it, it goes, and the packet is judged like a new flow's.
 *
 * Outbound, §8's address checks come first: the destination must be the
 * peer's and the source ours (inbound.c checks the same inbound).
 *
 * A tunnel installed before any FIREWALL has no rules: it passes nothing
 * (DP_DROP_NO_RULES). vela-control sends the rules right after SETUP.
 */
#include "worker.h"

#include <string.h>

#include "flow.h"
#include "fw.h"
#include "wire.h"

static bool hooks_pass(struct dp_worker *w, enum dp_hook_point point,
		       uint8_t *ip, uint32_t len, uint32_t peer)
{
	const struct dp_hooks *h = &w->shared->hooks;
	struct dp_hook_pkt p;

	if (__builtin_expect(!h->n[point], 1))
		return true;
	p = (struct dp_hook_pkt){ .ip = ip, .len = len, .peer_vpn_ip = peer,
				  .worker = w->id, .now_ns = w->now_ns };
	if (dp_hooks_pass(h, point, &p))
		return true;
	dp_drop(w, DP_DROP_HOOK);
	return false;
}

void dp_filter_flush(struct dp_worker *w)
{
	struct dp_flow_run *r = &w->flow_run;

	if (r->fw && r->packets)
		dp_flow_count(w->shared->flows, &r->k, r->gen, r->dir,
			      r->packets, r->bytes, w->now_ns);
	r->fw = NULL;
	r->packets = r->bytes = 0;
}

/* The packet passed on a verdict for @k: following ones may share it. */
static void run_start(struct dp_worker *w, const struct dp_fw_peer *fw,
		      const struct dp_flow_key *k, uint32_t gen,
		      enum dp_flow_dir dir)
{
	struct dp_flow_run *r = &w->flow_run;

	r->fw = fw;
	r->k = *k;
	r->gen = gen;
	r->dir = dir;
}

static bool firewall_pass(struct dp_worker *w, const struct dp_sa *sa,
			  const uint8_t *ip, uint32_t len,
			  enum dp_flow_dir dir)
{
	struct dp_flow_table *flows = w->shared->flows;
	struct dp_flow_run *run = &w->flow_run;
	const struct dp_fw_peer *fw;
	enum dp_flow_dir origin;
	struct dp_flow_key k;
	uint32_t gen;

	fw = atomic_load_explicit(&sa->fw, memory_order_acquire);
	if (!fw || !flows) {
		dp_drop(w, DP_DROP_NO_RULES);
		return false;
	}
	if (!dp_flow_key_from_ipv4(ip, len, dir, &k)) {
		dp_drop(w, DP_DROP_BAD_INNER);
		return false;
	}
	/* The same flow as the packet before, under the same rules. */
	if (run->fw == fw && run->dir == dir &&
	    !memcmp(&run->k, &k, sizeof(k))) {
		run->packets++;
		run->bytes += len;
		return true;
	}
	dp_filter_flush(w);
	gen = dp_fw_peer_gen(fw);
	switch (dp_flow_lookup(flows, &k, gen, dir, len, w->now_ns, &origin)) {
	case DP_FLOW_HIT:
		run_start(w, fw, &k, gen, dir);
		return true;
	case DP_FLOW_STALE:
		if (dp_fw_allow(fw, origin, &k)) {
			dp_flow_admit(flows, &k, gen, dir, len, w->now_ns);
			run_start(w, fw, &k, gen, dir);
			return true;
		}
		/* Gone; the packet is then judged as a new one (1.6.1). */
		dp_flow_remove(flows, &k);
		/* fall through */
	case DP_FLOW_MISS:
		if (dp_fw_allow(fw, dir, &k)) {
			dp_flow_admit(flows, &k, gen, dir, len, w->now_ns);
			run_start(w, fw, &k, gen, dir);
			return true;
		}
		break;
	}
	dp_drop(w, dir == DP_FLOW_IN ? DP_DROP_FIREWALL_IN :
				       DP_DROP_FIREWALL_OUT);
	return false;
}

bool dp_filter_in(struct dp_worker *w, const struct dp_sa *sa, uint8_t *ip,
		  uint32_t len)
{
	return hooks_pass(w, DP_HOOK_IN_PRE, ip, len, sa->vpn_ip) &&
	       firewall_pass(w, sa, ip, len, DP_FLOW_IN) &&
	       hooks_pass(w, DP_HOOK_IN_POST, ip, len, sa->vpn_ip);
}

bool dp_filter_out_pre(struct dp_worker *w, uint8_t *ip, uint32_t len)
{
	return hooks_pass(w, DP_HOOK_OUT_PRE, ip, len, 0);
}

/*
 * §8 steps 2 and 3 for an outbound packet: the destination must be in the
 * peer's certificate (its IP or subnets: an unsafe route's via host must
 * carry the routed network) and the source in ours (a gateway's
 * certificate must carry its LAN). 1.6.1 drops both (droppedRemoteIP,
 * droppedLocalIP), so the peer would drop what got through. Checked before
 * conntrack, as the inbound checks are, so a flow made with one peer
 * cannot carry packets to another.
 */
static bool out_addrs_ok(struct dp_worker *w, const struct dp_sa *sa,
			 const uint8_t *ip)
{
	const struct ctlmsg_setup *s = &w->shared->setup;
	uint32_t src = wire_get_be32(ip + 12);

	if (!dp_sa_peer_owns(sa, wire_get_be32(ip + 16))) {
		dp_drop(w, DP_DROP_NOT_PEERS);
		return false;
	}
	for (uint32_t i = 0; i < s->n_local_nets; i++)
		if ((src & s->local_nets[i].mask) ==
		    (s->local_nets[i].ip & s->local_nets[i].mask))
			return true;
	dp_drop(w, DP_DROP_NOT_OURS);
	return false;
}

bool dp_filter_out(struct dp_worker *w, const struct dp_sa *sa, uint8_t *ip,
		   uint32_t len)
{
	return out_addrs_ok(w, sa, ip) &&
	       firewall_pass(w, sa, ip, len, DP_FLOW_OUT) &&
	       hooks_pass(w, DP_HOOK_OUT_POST, ip, len, sa->vpn_ip);
}
