/* SPDX-License-Identifier: MIT */
#ifndef DP_SA_H
#define DP_SA_H

/*
 * Security associations (one per tunnel) and the table workers find them
 * in. The table is an immutable snapshot: the control thread (ctl.c, the
 * only writer) builds a new one for every change, publishes it with one
 * atomic pointer store, and frees the old table -- and any SA it removed,
 * keys wiped -- after every worker passed a quiescent point (qsbr.h).
 *
 * Inside an SA, what changes while it is published:
 * - the send counter: workers reserve the counters of a whole burst with
 *   one compare-and-swap, which only succeeds when all of them are within
 *   the lease, so the counter never passes lease_end, several workers may
 *   send on one SA, and no counter is ever handed out twice. (A plain
 *   fetch-add would be one instruction cheaper, but would run the counter
 *   past the lease while a grant is late, leaving a gap that the next
 *   grant must cover first.)
 * - the replay window: updated under the SA's lock, because packets of one
 *   SA can arrive on several NIC queues (dp_replay_check needs no lock);
 * - the remote address: an atomic pointer to an immutable address, swapped
 *   by the control thread on roaming, old copies retired like tables;
 * - counters for dpctl and the liveness checks, relaxed atomics.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "aead.h"
#include "ctlmsg.h"
#include "replay.h"

struct dp_fw_peer;
struct vl_status;

struct dp_sa {
	/* Fixed when the SA is made. */
	uint32_t local_index;
	uint32_t remote_index;
	uint32_t vpn_ip;
	enum vl_cipher cipher;
	uint32_t n_peer_nets;
	struct ctlmsg_net peer_nets[CTLMSG_NETS_MAX];
	struct vl_aead_key send_key;
	struct vl_aead_key recv_key;

	/* Send side. */
	/* Last counter reserved; never above lease_end. */
	_Alignas(64) _Atomic uint64_t send_counter;
	_Atomic uint64_t lease_end;
	_Atomic bool lease_asked;

	/* Receive side. */
	_Alignas(64) pthread_spinlock_t replay_lock;
	struct dp_replay replay;

	_Atomic(struct sockaddr_in6 *) remote; /* NULL: not known yet */
	/*
	 * The firewall rules as they apply to this peer (fw.h); NULL until
	 * the first FIREWALL (nothing passes then). Swapped on a reload, the
	 * old one retired like an address; the SA owns the one it holds.
	 */
	_Atomic(struct dp_fw_peer *) fw;

	/* One cache line for the counters (the specifier binds per declarator). */
	_Alignas(64) _Atomic uint64_t rx_packets;
	_Atomic uint64_t rx_bytes, tx_packets, tx_bytes;
	_Atomic uint64_t last_rx_ns, last_tx_ns;
};

struct dp_sa_table {
	unsigned int n;
	unsigned int mask;     /* hash sizes - 1, a power of two minus one */
	struct dp_sa **by_index;
	struct dp_sa **by_vpn;
	struct dp_sa *sas[];   /* every SA of this version, in install order */
};

/* A new SA from a TUNNEL_ADD message; keys expanded, counters as given. */
int dp_sa_new(const struct ctlmsg_tunnel_add *m, struct dp_sa **out,
	      struct vl_status *st);
/* Frees an SA nobody can reach any more: keys wiped. */
void dp_sa_free(struct dp_sa *sa);

/*
 * A table of @n SAs; when several have one VPN IP, the later wins by_vpn
 * (a newer handshake replaced the tunnel). NULL on allocation failure.
 */
struct dp_sa_table *dp_sa_table_build(struct dp_sa *const *sas, unsigned int n);
void dp_sa_table_free(struct dp_sa_table *t);

static inline uint32_t dp_sa_hash(uint32_t key)
{
	/* Fibonacci hashing; indexes are random, VPN IPs are not. */
	return key * 0x9e3779b1u;
}

static inline struct dp_sa *dp_sa_by_index(const struct dp_sa_table *t,
					   uint32_t index)
{
	for (uint32_t i = dp_sa_hash(index) & t->mask;; i = (i + 1) & t->mask) {
		struct dp_sa *sa = t->by_index[i];

		if (!sa || sa->local_index == index)
			return sa;
	}
}

static inline struct dp_sa *dp_sa_by_vpn(const struct dp_sa_table *t,
					 uint32_t vpn_ip)
{
	for (uint32_t i = dp_sa_hash(vpn_ip) & t->mask;; i = (i + 1) & t->mask) {
		struct dp_sa *sa = t->by_vpn[i];

		if (!sa || sa->vpn_ip == vpn_ip)
			return sa;
	}
}

/*
 * Reserves @n consecutive send counters; *first is the first of them.
 * False, reserving nothing, when they would pass the lease end: the caller
 * drops the packets and dp_sa_lease_wanted() asks for the next lease.
 */
static inline bool dp_sa_reserve(struct dp_sa *sa, unsigned int n,
				 uint64_t *first)
{
	uint64_t c = atomic_load_explicit(&sa->send_counter,
					  memory_order_relaxed);
	uint64_t end = atomic_load_explicit(&sa->lease_end,
					    memory_order_acquire);

	do {
		if (c + n > end)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&sa->send_counter, &c, c + n, memory_order_relaxed,
		memory_order_relaxed));
	*first = c + 1;
	return true;
}

/*
 * Reserves as many of @n consecutive send counters as the lease still
 * has, with one compare-and-swap; returns how many (0: none), *first the
 * first of them. For a run of packets, where sending what fits beats
 * dropping the whole run at the end of a lease.
 */
static inline unsigned int dp_sa_reserve_upto(struct dp_sa *sa, unsigned int n,
					      uint64_t *first)
{
	uint64_t c = atomic_load_explicit(&sa->send_counter,
					  memory_order_relaxed);
	uint64_t end = atomic_load_explicit(&sa->lease_end,
					    memory_order_acquire);
	uint64_t k;

	do {
		if (c >= end)
			return 0;
		k = end - c < n ? end - c : n;
	} while (!atomic_compare_exchange_weak_explicit(
		&sa->send_counter, &c, c + k, memory_order_relaxed,
		memory_order_relaxed));
	*first = c + 1;
	return (unsigned int)k;
}

/* True once per lease when the counter has used half of what is left of it. */
bool dp_sa_lease_wanted(struct dp_sa *sa);

/* Replay update under the SA's lock (see dp_replay_update). */
bool dp_sa_replay_update(struct dp_sa *sa, uint64_t counter);

/* True when @ip (host order) is inside one of the peer's certificate networks. */
bool dp_sa_peer_owns(const struct dp_sa *sa, uint32_t ip);

#endif /* DP_SA_H */
