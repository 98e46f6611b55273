/* SPDX-License-Identifier: MIT */
/*
 * punchy.punch (spec §5.4): every 10 s a single byte 0x01 to every peer
 * we have a tunnel with, so NAT mappings between us stay open. Receivers
 * drop datagrams shorter than a header (the dataplane counts them as
 * punches).
 */
#include "node.h"

#include <string.h>

#include "wire.h"

#define PUNCH_INTERVAL_NS (UINT64_C(10) * 1000000000)

void ctl_punchy_timers(struct ctl_node *n)
{
	struct ctlmsg_inject_raw m;

	if (!n->cfg.punch || n->now_ns < n->punch_next_ns)
		return;
	n->punch_next_ns = n->now_ns + PUNCH_INTERVAL_NS;
	for (size_t i = 0; i < n->n_tunnels; i++) {
		const struct ctl_tunnel *t = n->tunnels[i];

		if (!t->add.remote.sin6_family)
			continue;
		memset(&m, 0, offsetof(struct ctlmsg_inject_raw, data));
		m.to = t->add.remote;
		m.len = 1;
		m.data[0] = WIRE_PUNCH_KEEPALIVE;
		ctl_node_send(n, &m, CTLMSG_INJECT_RAW,
			      (uint32_t)offsetof(struct ctlmsg_inject_raw,
						 data) + 1);
	}
}
