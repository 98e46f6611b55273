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

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctlmsg.h"
#include "port.h"
#include "qsbr.h"
#include "sa.h"
#include "stats.h"

#define DP_HEADROOM 64      /* room for the Nebula header before a packet */
#define DP_TAILROOM 64      /* room for the tag after it */
#define DP_PKT_MAX 9216     /* largest inner packet (jumbo tun.mtu) */
#define DP_BUF_LEN (DP_HEADROOM + DP_PKT_MAX + DP_TAILROOM)
#define DP_REPLY_MAX 2048   /* test replies and recv_errors */
#define DP_PENDING_PER_PEER 100
#define DP_PENDING_PEERS 64
#define DP_PENDING_BUFS 512

/* What every worker reads: the setup and the published tables. */
struct dp_shared {
	struct ctlmsg_setup setup;              /* immutable while workers run */
	_Atomic(struct dp_sa_table *) sa_table; /* never NULL once running */
	struct dp_qsbr qsbr;
};

/* Packets for one peer waiting for its handshake, oldest first. */
struct dp_pending_peer {
	uint32_t vpn_ip;          /* 0: free slot */
	uint16_t head, n;
	uint64_t since_ns;        /* when the first packet was queued */
	uint16_t bufs[DP_PENDING_PER_PEER];
	uint32_t lens[DP_PENDING_PER_PEER];
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

	/* Datagrams for the NIC: replies made inbound, packets sealed outbound. */
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
 */
void dp_in_burst(struct dp_worker *w, struct dp_pkt *pkts, unsigned int n);

/*
 * Outbound (outbound.c): IP packets read from the TUN into
 * w->tx_bufs[i] + DP_HEADROOM with lengths @lens, sealed in place into
 * to_net; packets for peers without a tunnel wait in the pending queue.
 */
void dp_out_burst(struct dp_worker *w, const uint32_t *lens, unsigned int n);

/*
 * Sends what waits for peers whose tunnel has appeared since the last call
 * and drops what waited too long. Called once per loop; cheap when the SA
 * table has not changed and nothing waits.
 */
void dp_out_flush_pending(struct dp_worker *w);

#endif /* DP_WORKER_H */
