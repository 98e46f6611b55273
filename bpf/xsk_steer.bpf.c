/* SPDX-License-Identifier: MIT OR GPL-2.0-only */

/*
 * Steer Nebula's UDP into AF_XDP, pass everything else to the kernel.
 *
 * A frame is ours when it is UDP to the listen port (and to the listen
 * address, when the node binds one) over IPv4 or IPv6, with up to two VLAN
 * tags (802.1Q, 802.1AD, in any order) before the IP header. Ours goes to
 * xsks_map[rx_queue_index], the AF_XDP socket the dataplane bound to the
 * queue the frame came in on; a queue without a socket makes
 * bpf_redirect_map() return XDP_PASS, so the frame reaches the kernel's UDP
 * socket instead of being lost. Everything else is XDP_PASS, untouched.
 *
 * Choices:
 * - IPv4 fragments all go to the kernel, first fragments too. A first
 *   fragment carries the UDP header and looks like ours, but the rest of
 *   the datagram cannot be recognised here (no UDP header), so it would go
 *   to the kernel while the head went to the socket and neither side could
 *   reassemble. The kernel reassembles the whole datagram and hands it to
 *   the UDP socket: the slow path, but correct. Nebula sizes its packets
 *   to the underlay MTU, so fragments only appear when that is set wrong.
 * - IPv6: only the fixed header. A next header other than UDP passes, and
 *   extension headers are counted apart (XSK_STEER_IP6_EXT). Nebula sends
 *   none; a fragment header would have the same problem as IPv4 fragments;
 *   and walking a chain costs a bounded loop for traffic we never see.
 * - The listen port and address are .rodata, set by the loader before
 *   load: the verifier sees them as constants (no map lookup per frame, the
 *   address branches vanish when unused) and the frozen map cannot be
 *   changed under a running program. A new port means a new load, which a
 *   restart does anyway.
 * - Checks are the ones the verifier needs to prove every read in bounds:
 *   one per header, and the UDP one also covers IPv4 options. Nothing
 *   re-validates checksums or lengths: the dataplane parses what it gets.
 */

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xsk_steer.h"

/* Not in the UAPI headers. */
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define VLAN_TAGS_MAX 2

struct vlan_hdr {
	__be16 tci;
	__be16 proto; /* of what follows */
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XSK_STEER_QUEUES_MAX);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XSK_STEER_COUNTERS);
	__type(key, __u32);
	__type(value, struct xsk_steer_count);
} steer_stats SEC(".maps");

/* Set by the loader before load; the only thing in .rodata. */
const volatile struct xsk_steer_cfg steer_cfg = {};

static __always_inline int count(__u32 reason, __u64 len, int action)
{
	struct xsk_steer_count *c = bpf_map_lookup_elem(&steer_stats, &reason);

	/* Per-CPU: no other writer, a plain add is enough. */
	if (c) {
		c->packets++;
		c->bytes += len;
	}
	return action;
}

static __always_inline int is_ip6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_DSTOPTS ||
	       nexthdr == IPPROTO_AH || nexthdr == IPPROTO_MH;
}

SEC("xdp")
int vela_xsk_steer(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u64 len = data_end - data;
	struct ethhdr *eth = data;
	struct udphdr *udp;
	void *l3;
	__be16 proto;
	int dest_ok;
	int action;

	if ((void *)(eth + 1) > data_end)
		return count(XSK_STEER_MALFORMED, len, XDP_PASS);
	proto = eth->h_proto;
	l3 = eth + 1;

	/* Constant bound: clang unrolls it, so old verifiers accept it too. */
	for (int i = 0; i < VLAN_TAGS_MAX; i++) {
		struct vlan_hdr *vh = l3;

		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return count(XSK_STEER_MALFORMED, len, XDP_PASS);
		proto = vh->proto;
		l3 = vh + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = l3;
		__u32 ihl;

		if ((void *)(iph + 1) > data_end)
			return count(XSK_STEER_MALFORMED, len, XDP_PASS);
		ihl = iph->ihl * 4;
		if (ihl < sizeof(*iph))
			return count(XSK_STEER_MALFORMED, len, XDP_PASS);
		if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
			return count(XSK_STEER_FRAGMENT, len, XDP_PASS);
		if (iph->protocol != IPPROTO_UDP)
			return count(XSK_STEER_NOT_UDP, len, XDP_PASS);
		udp = (void *)iph + ihl;
		if ((void *)(udp + 1) > data_end)
			return count(XSK_STEER_MALFORMED, len, XDP_PASS);
		dest_ok = (steer_cfg.flags & XSK_STEER_F_V4) &&
			  (!(steer_cfg.flags & XSK_STEER_F_ADDR4) ||
			   iph->daddr == steer_cfg.addr4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = l3;
		const __be32 *da;

		if ((void *)(ip6h + 1) > data_end)
			return count(XSK_STEER_MALFORMED, len, XDP_PASS);
		if (ip6h->nexthdr != IPPROTO_UDP)
			return count(is_ip6_ext(ip6h->nexthdr) ?
					     XSK_STEER_IP6_EXT :
					     XSK_STEER_NOT_UDP,
				     len, XDP_PASS);
		udp = (void *)(ip6h + 1);
		if ((void *)(udp + 1) > data_end)
			return count(XSK_STEER_MALFORMED, len, XDP_PASS);
		da = ip6h->daddr.in6_u.u6_addr32;
		dest_ok = (steer_cfg.flags & XSK_STEER_F_V6) &&
			  (!(steer_cfg.flags & XSK_STEER_F_ADDR6) ||
			   (da[0] == steer_cfg.addr6[0] &&
			    da[1] == steer_cfg.addr6[1] &&
			    da[2] == steer_cfg.addr6[2] &&
			    da[3] == steer_cfg.addr6[3]));
	} else {
		/* ARP, LLDP, a third VLAN tag, ... */
		return count(XSK_STEER_NOT_IP, len, XDP_PASS);
	}

	if (!dest_ok || udp->dest != steer_cfg.port)
		return count(XSK_STEER_OTHER_DEST, len, XDP_PASS);

	/* A miss (no socket on this queue, queue >= max_entries) is XDP_PASS. */
	action = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
	return count(action == XDP_REDIRECT ? XSK_STEER_STEERED :
					      XSK_STEER_NO_XSK,
		     len, action);
}

/* GPL-compatible for the kernel; bpf_redirect_map() itself is not GPL-only. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
