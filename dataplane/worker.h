/* SPDX-License-Identifier: MIT */
#ifndef DP_WORKER_H
#define DP_WORKER_H

/*
 * A worker: one NIC queue, one TUN queue, and everything its stages need
 * between them, allocated once when the worker starts. The stages
 * (inbound.c, outbound.c) read the shared state through the pointers
 * here and write only this struct: their outputs for the current burst
 * (packets for the TUN, datagrams for the NIC, records for the control
 * thread) and their counters. The loop in worker.c hands those outputs on.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctlmsg.h"
#include "flow.h"
#include "hooks.h"
#include "port.h"
#include "qsbr.h"
#include "sa.h"
#include "stats.h"
#include "tun_mq.h"

struct dp_flow_table;
struct dp_nh_table;
struct dp_ring;

#define DP_HEADROOM 64      /* room for the Nebula header before a packet */
#define DP_TAILROOM 64      /* room for the tag after it */
#define DP_PKT_MAX 9216     /* largest inner packet (jumbo tun.mtu) */
#define DP_BUF_LEN (DP_HEADROOM + DP_PKT_MAX + DP_TAILROOM)
#define DP_REPLY_MAX 2048   /* test replies and recv_errors */
#define DP_PENDING_PER_PEER 100
#define DP_PENDING_PEERS 64
#define DP_PENDING_BUFS 512
#define DP_PUNT_RATE 20     /* handshake punts per second per source */
#define DP_PUNT_BURST 40
#define DP_PUNT_BUCKETS 1024

/* What every worker reads: the setup and the published tables. */
struct dp_shared {
	struct ctlmsg_setup setup;              /* immutable while workers run */
	_Atomic(struct dp_sa_table *) sa_table; /* never NULL once running */
	/* xsk: next hops (nexthop.h); NULL until the first table. */
	_Atomic(struct dp_nh_table *) nh_table;
	struct dp_qsbr qsbr;
	struct dp_hooks hooks;                  /* immutable while workers run */
	struct dp_flow_table *flows;            /* made at SETUP; NULL before */
};

/* Packets for one peer waiting for its handshake, oldest first. */
struct dp_pending_peer {
	uint32_t vpn_ip;          /* 0: free slot */
	uint16_t head, n;
	uint64_t since_ns;        /* when the first packet was queued */
	uint16_t bufs[DP_PENDING_PER_PEER];
	uint32_t lens[DP_PENDING_PER_PEER];
	bool filter[DP_PENDING_PER_PEER]; /* false: injected, skips filters */
};

struct dp_worker {
	unsigned int id;
	struct dp_shared *shared;
	const struct dp_sa_table *sat; /* loaded at the start of each burst */
	uint64_t now_ns;               /* CLOCK_MONOTONIC, once per loop */

	/* Inbound outputs: plaintext packets for the TUN (point into NIC buffers). */
	unsigned int n_to_tun;
	uint8_t *to_tun[DP_BURST_MAX];
	uint32_t to_tun_len[DP_BURST_MAX];

	/*
	 * Datagrams for the NIC: replies made inbound, packets sealed
	 * outbound. Inbound adds at most DP_BURST_MAX per burst (each entry
	 * takes one of the DP_BURST_MAX reply buffers), outbound at most one
	 * per packet read; the loop's inject budget is what inbound left of
	 * the first DP_BURST_MAX (worker.c).
	 */
	unsigned int n_to_net;
	struct dp_pkt to_net[2 * DP_BURST_MAX];
	unsigned int n_replies;
	uint8_t (*replies)[DP_REPLY_MAX];   /* DP_BURST_MAX of them */

	/* Records for the control thread. */
	unsigned int n_punts;
	struct ctlmsg_punt *punts;          /* DP_BURST_MAX of them */

	/* Outbound: buffers the TUN is read into, DP_HEADROOM in. */
	uint8_t *tx_bufs[DP_BURST_MAX];

	/* Packets waiting for handshakes, in a pool of fixed buffers. */
	struct dp_pending_peer *pending;    /* DP_PENDING_PEERS of them */
	uint8_t (*pending_bufs)[DP_BUF_LEN]; /* DP_PENDING_BUFS of them */
	uint16_t pending_free[DP_PENDING_BUFS];
	unsigned int n_pending_free;
	uint16_t pending_sent[DP_PENDING_BUFS]; /* in to_net this burst */
	unsigned int n_pending_sent;

	/*
	 * Handshakes and recv_errors go to the control plane at most
	 * DP_PUNT_RATE per second per source address (burst DP_PUNT_BURST),
	 * so a flood costs a counter here instead of an X25519 there. A small
	 * table of buckets, hashed by address; a collision only shares a
	 * bucket, never lets more through.
	 */
	struct dp_punt_bucket {
		uint64_t last_ns;
		uint32_t tokens; /* in 1/1000 */
	} punt_buckets[DP_PUNT_BUCKETS];

	/*
	 * The flow the filter let through last in this stage call
	 * (filter.c): the next packets of the same flow under the same
	 * rules pass on its verdict, and their counts go to its entry once,
	 * when the run ends (dp_filter_flush). A TSO burst of one TCP flow
	 * costs one conntrack lookup instead of 64. Never kept past the
	 * stage call: @fw is only safe to compare while the SA table that
	 * led to it is held.
	 */
	struct dp_flow_run {
		const struct dp_fw_peer *fw; /* NULL: no run */
		struct dp_flow_key k;
		uint32_t gen;
		enum dp_flow_dir dir;
		uint64_t packets, bytes; /* after the first, not counted yet */
	} flow_run;

	struct dp_counters stats;
};

/* Allocates a worker's buffers; 0 or -ENOMEM. */
int dp_worker_init(struct dp_worker *w, unsigned int id,
		   struct dp_shared *shared);
void dp_worker_free(struct dp_worker *w);

/* Starts a burst: clears the outputs and loads the current SA table. */
void dp_worker_begin(struct dp_worker *w, uint64_t now_ns);

static inline void dp_drop(struct dp_worker *w, enum dp_drop reason)
{
	w->stats.drops[reason]++;
}

/*
 * Inbound (inbound.c): datagrams from the NIC, decrypted in place. Consumes
 * pkts: each ends in to_tun, a reply in to_net, a punt, or a counted drop.
 * Adds at most DP_BURST_MAX entries to to_net (test replies and
 * recv_errors, one reply buffer each), whatever @n is; worker 0's inject
 * budget relies on that.
 */
void dp_in_burst(struct dp_worker *w, struct dp_pkt *pkts, unsigned int n);

/*
 * Outbound (outbound.c): IP packets read from the TUN into
 * w->tx_bufs[i] + DP_HEADROOM with lengths @lens, sealed in place into
 * to_net; packets for peers without a tunnel wait in the pending queue.
 */
void dp_out_burst(struct dp_worker *w, const uint32_t *lens, unsigned int n);

/*
 * dp_out_burst for packets the control plane injected (INJECT_OUT), at
 * bufs[i] + DP_HEADROOM, with room for the tag after them: routed and
 * sealed like the rest, but past the hooks and the firewall.
 */
void dp_out_inject(struct dp_worker *w, uint8_t *const *bufs,
		   const uint32_t *lens, unsigned int n);

/*
 * The filter stage (filter.c): hooks.h's hook points around the firewall.
 * Each returns true when the packet goes on, and counts a drop otherwise.
 * dp_filter_in: an inbound packet from @sa's peer, after anti-spoofing;
 * dp_filter_out_pre: an outbound packet before routing; dp_filter_out: an
 * outbound packet for @sa's peer, before sealing.
 */
bool dp_filter_in(struct dp_worker *w, const struct dp_sa *sa, uint8_t *ip,
		  uint32_t len);
bool dp_filter_out_pre(struct dp_worker *w, uint8_t *ip, uint32_t len);
bool dp_filter_out(struct dp_worker *w, const struct dp_sa *sa, uint8_t *ip,
		   uint32_t len);
/* Ends the flow run: every stage that filtered calls it before it returns. */
void dp_filter_flush(struct dp_worker *w);

/*
 * Sends what waits for peers whose tunnel has appeared since the last call
 * and drops what waited too long. Called once per loop; cheap when the SA
 * table has not changed and nothing waits.
 */
void dp_out_flush_pending(struct dp_worker *w);

/*
 * A worker thread: the stages' struct dp_worker plus what the loop drives
 * them with. Set up by the control thread before the thread starts; after
 * that the worker writes only @w and the producer side of @punts, and the
 * control thread only @stop, the producer side of @injects and the two
 * eventfds. The control thread also reads w.stats and the port's
 * counters for STATS, without stopping the worker (ctl.c says why that
 * is safe).
 */
struct dp_worker_loop {
	struct dp_worker w;
	unsigned int queue; /* NIC queue and TUN queue index (= w.id) */
	uint32_t mode; /* enum ctlmsg_mode */
	struct dp_port *port;
	struct tun_dev *tun; /* NULL with tun.disabled */
	struct dp_ring *punts; /* worker -> control thread */
	struct dp_ring *injects; /* control thread -> worker; worker 0 only */
	int punt_fd; /* eventfd the worker writes after punting */
	int wake_fd; /* eventfd: inject waiting, new table, stop */
	_Atomic bool stop;

	/* Loop scratch, allocated with the loop. */
	struct dp_pkt rx[DP_BURST_MAX];
	uint8_t *tun_bufs[DP_BURST_MAX]; /* w.tx_bufs[i] + DP_HEADROOM */
	uint32_t tun_lens[DP_BURST_MAX];
	uint32_t n_injects; /* ring records held this pass */
	pthread_t thread;

	/*
	 * TUN offloads (tun->vnet): read buffer, a frame waiting for room,
	 * write batch and the engine's counters; about 80 KiB, here so that
	 * it is allocated (zeroed) with the loop and never on the stack.
	 */
	struct tun_q_vnet vnet;
};

/*
 * worker.c: the per-core loop (STYLE §3). Runs until @l->stop is set (then
 * write @l->wake_fd so a sleeping worker sees it). Never allocates, locks
 * or logs. Runs on the worker's own thread.
 */
void dp_worker_run(struct dp_worker_loop *l);

#endif /* DP_WORKER_H */
