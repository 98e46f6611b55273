/* SPDX-License-Identifier: MIT */
#ifndef DP_HOOKS_H
#define DP_HOOKS_H

/*
 * Filter hooks: functions an embedder of the dataplane (or a test) puts
 * before and after the firewall in each direction, as wireguard-go's
 * tstun wrapper has PreFilterIn/PostFilterIn/PreFilterOut/PostFilterOut.
 *
 *   inbound   open, checks -> IN_PRE -> firewall -> IN_POST -> TUN
 *   outbound  TUN -> OUT_PRE -> route, SA -> firewall -> OUT_POST -> seal
 *
 * A hook sees the plaintext IPv4 packet and may rewrite its bytes in place
 * (not its length: it then owns the checksums), and says PASS or DROP; a
 * drop is counted under DP_DROP_HOOK. Hooks run on the workers, on every
 * packet at their point, so they must be as fast as the rest of the path:
 * no locks held long, no allocation, no syscalls. Packets injected by the
 * control plane (ctlmsg.h INJECT_TUN/INJECT_OUT) skip them, as tstun's
 * injected packets skip its filters.
 *
 * The table is filled before the workers start (struct dp_ctl_cfg.hooks,
 * copied into the shared state at SETUP) and never changes while they run,
 * so reading it needs no synchronization. A point without hooks costs one
 * predictable branch.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

enum dp_hook_point {
	DP_HOOK_IN_PRE,   /* decrypted, anti-spoofing passed; before rules */
	DP_HOOK_IN_POST,  /* allowed by the firewall; before the TUN write */
	DP_HOOK_OUT_PRE,  /* read from the TUN; before routing and rules */
	DP_HOOK_OUT_POST, /* allowed by the firewall; before sealing */
	DP_HOOK_POINTS
};

enum dp_verdict { DP_VERDICT_PASS, DP_VERDICT_DROP };

struct dp_hook_pkt {
	uint8_t *ip;           /* the IPv4 packet, header checked to be sane */
	uint32_t len;
	/*
	 * The peer's VPN IP (host order): inbound the sender, outbound the
	 * tunnel the packet goes to; 0 at OUT_PRE, before routing.
	 */
	uint32_t peer_vpn_ip;
	unsigned int worker;
	uint64_t now_ns;       /* CLOCK_MONOTONIC, the worker's pass */
};

typedef enum dp_verdict (*dp_hook_fn)(void *arg, const struct dp_hook_pkt *p);

#define DP_HOOKS_MAX 4 /* per point */

struct dp_hooks {
	unsigned int n[DP_HOOK_POINTS];
	struct dp_hook {
		dp_hook_fn fn;
		void *arg;
	} at[DP_HOOK_POINTS][DP_HOOKS_MAX];
};

/* Appends @fn at @point; run in the order added. -ENOSPC when full. */
static inline int dp_hooks_add(struct dp_hooks *h, enum dp_hook_point point,
			       dp_hook_fn fn, void *arg)
{
	if ((unsigned int)point >= DP_HOOK_POINTS || !fn)
		return -EINVAL;
	if (h->n[point] == DP_HOOKS_MAX)
		return -ENOSPC;
	h->at[point][h->n[point]++] = (struct dp_hook){ fn, arg };
	return 0;
}

/* The hooks at @point in order, until one drops; true when all passed. */
static inline bool dp_hooks_pass(const struct dp_hooks *h,
				 enum dp_hook_point point,
				 const struct dp_hook_pkt *p)
{
	for (unsigned int i = 0; i < h->n[point]; i++)
		if (h->at[point][i].fn(h->at[point][i].arg, p) !=
		    DP_VERDICT_PASS)
			return false;
	return true;
}

#endif /* DP_HOOKS_H */
