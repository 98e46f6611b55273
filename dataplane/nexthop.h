/* SPDX-License-Identifier: MIT */
#ifndef DP_NEXTHOP_H
#define DP_NEXTHOP_H

/*
 * Next hops for the xsk backend (DESIGN.md §3, "L2 for AF_XDP TX"). An
 * AF_XDP socket sends whole Ethernet frames, so the dataplane must know,
 * for each peer address it sends to, what the kernel would have put in
 * front of the datagram: the source MAC of our interface, the MAC of the
 * next hop (the peer itself on the link, or the gateway of the route to
 * it), and the source address the kernel would choose. This module mirrors
 * the kernel's routes, addresses and neighbours over rtnetlink and answers
 * that, per destination, from an immutable table the workers read.
 *
 * Split as the SA tables are (architecture.md): the control thread owns a
 * struct dp_nh (the netlink sockets and the mutable state), and each change
 * yields a new struct dp_nh_table that it publishes by pointer swap and
 * frees after a QSBR grace period. Workers only call dp_nh_lookup() on the
 * table they loaded at the start of a burst.
 *
 * A destination that is not in the table -- never asked for, its route
 * leaves through another interface, or its neighbour is not resolved yet
 * (no ARP/ND entry, or FAILED/INCOMPLETE) -- is sent through the kernel's
 * UDP socket instead, which also makes the kernel resolve the neighbour;
 * the worker then asks for it with dp_nh_want() (through the control
 * thread), and a later table has it. Entries follow the kernel: a
 * neighbour that changes MAC or is deleted, a route or address that
 * changes, the link going down or changing MAC all produce a new table.
 */

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

struct vl_status;

enum dp_nh_limits {
	/*
	 * Destinations resolved at a time. One more dp_nh_want() evicts the
	 * one wanted first; if it is still in use, its next miss wants it
	 * again. Each costs a route lookup when routes change.
	 */
	DP_NH_WANT_MAX = 4096,
};

/* What goes in front of a datagram to one destination. */
struct dp_nh_entry {
	struct in6_addr dst;      /* the peer (IPv4 v4-mapped) */
	struct in6_addr src;      /* source address (IPv4 v4-mapped) */
	uint8_t dst_mac[6];       /* next hop: the peer or the gateway */
	uint8_t src_mac[6];       /* our interface's */
	uint16_t vlan;            /* 802.1Q tag to add, 0: none (not yet used) */
	uint16_t mtu;             /* the route's or the link's MTU */
};

struct dp_nh_table;

/*
 * The entry for @dst in @t, or NULL (send through the kernel socket and
 * want it). @t may be NULL (no table yet). Lock-free, read-only.
 */
const struct dp_nh_entry *dp_nh_lookup(const struct dp_nh_table *t,
				       const struct in6_addr *dst);

/* Number of entries, for dpctl. */
unsigned int dp_nh_table_size(const struct dp_nh_table *t);
void dp_nh_table_free(struct dp_nh_table *t);

/* ---- control thread ---------------------------------------------------- */

struct dp_nh;

/*
 * Starts mirroring for the interface @ifindex in the current network
 * namespace. @src, when not unspecified (:: or ::ffff:0.0.0.0), is the
 * address the port is bound to and becomes every entry's source. 0 or
 * -errno with the reason in @st.
 */
int dp_nh_open(int ifindex, const struct in6_addr *src, struct dp_nh **out,
	       struct vl_status *st);
void dp_nh_close(struct dp_nh *nh);

/* The netlink socket to poll() for POLLIN. */
int dp_nh_fd(const struct dp_nh *nh);

/*
 * Asks for @dst to be resolved: cheap and idempotent, so a worker's miss
 * can be passed on every time. Resolution happens in dp_nh_process().
 */
void dp_nh_want(struct dp_nh *nh, const struct in6_addr *dst);

/*
 * Reads what netlink has (events, answers), resolves what was wanted, and
 * when anything changed returns a new table for the caller to publish
 * (the caller frees the previous one after a grace period); NULL when
 * nothing changed. Never blocks. On a fatal netlink error returns NULL and
 * sets *err (-errno) with the reason in @st; *err is 0 otherwise.
 */
struct dp_nh_table *dp_nh_process(struct dp_nh *nh, int *err,
				  struct vl_status *st);

#endif /* DP_NEXTHOP_H */
