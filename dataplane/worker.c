/* SPDX-License-Identifier: MIT */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aead.h"
#include "ctl.h"
#include "tun_mq.h"
#include "wire.h"

int dp_worker_init(struct dp_worker *w, unsigned int id,
		   struct dp_shared *shared)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->shared = shared;
	w->replies = calloc(DP_BURST_MAX, sizeof(*w->replies));
	w->punts = calloc(DP_BURST_MAX, sizeof(*w->punts));
	w->pending = calloc(DP_PENDING_PEERS, sizeof(*w->pending));
	w->pending_bufs = calloc(DP_PENDING_BUFS, sizeof(*w->pending_bufs));
	if (!w->replies || !w->punts || !w->pending || !w->pending_bufs)
		goto free_worker;
	for (unsigned int i = 0; i < DP_BURST_MAX; i++) {
		w->tx_bufs[i] = malloc(DP_BUF_LEN);
		if (!w->tx_bufs[i])
			goto free_worker;
	}
	for (unsigned int i = 0; i < DP_PENDING_BUFS; i++)
		w->pending_free[i] = (uint16_t)i;
	w->n_pending_free = DP_PENDING_BUFS;
	return 0;

free_worker:
	dp_worker_free(w);
	return -ENOMEM;
}

void dp_worker_free(struct dp_worker *w)
{
	for (unsigned int i = 0; i < DP_BURST_MAX; i++)
		free(w->tx_bufs[i]);
	free(w->replies);
	free(w->punts);
	free(w->pending);
	free(w->pending_bufs);
	memset(w, 0, sizeof(*w));
}

void dp_worker_begin(struct dp_worker *w, uint64_t now_ns)
{
	w->now_ns = now_ns;
	w->n_to_tun = 0;
	w->n_to_net = 0;
	w->n_replies = 0;
	w->n_punts = 0;
	/* Last burst's datagrams have been sent: their buffers are free. */
	while (w->n_pending_sent)
		w->pending_free[w->n_pending_free++] =
			w->pending_sent[--w->n_pending_sent];
	w->sat = atomic_load_explicit(&w->shared->sa_table,
				      memory_order_acquire);
	/* Each stage ends its flow run; none may outlive the last table. */
	w->flow_run.fw = NULL;
	w->flow_run.packets = w->flow_run.bytes = 0;
}

/*
 * The loop (STYLE §3). One pass:
 *
 *   begin -> NIC rx -> inbound -> TUN write -> injects -> TUN read ->
 *   outbound -> pending flush -> NIC tx -> release injects -> punts ->
 *   quiescent -> (idle: spin or sleep, by mode)
 *
 * The order is forced by buffer lifetimes. to_tun points into the port's
 * receive buffers, which the next rx call reuses, so the TUN write follows
 * inbound at once. to_net points into reply buffers, TUN buffers, pending
 * buffers and inject ring slots, all of which live until the next begin()
 * (ring slots until their release, after the send), so one NIC send per
 * pass carries all of it.
 *
 * to_net has 2 * DP_BURST_MAX entries: inbound fills at most DP_BURST_MAX
 * (each entry uses one reply buffer) and outbound at most DP_BURST_MAX (one
 * per packet read), so injects take only what inbound left of the first
 * half; the pending flush checks the bound itself.
 *
 * Sleeping: after a pass that moved nothing, `event` mode goes offline for
 * the QSBR (a sleeping worker holds no table), takes back the port's sent
 * frames (dp_port_reclaim), polls the port's fds (dp_port_poll_fds: the
 * xsk port has its AF_XDP socket and its kernel UDP socket), the TUN
 * queue and its wake eventfd for at most DP_WORKER_POLL_MS (the pending
 * queue's timeouts need a pass now and then), and comes back online;
 * `adaptive` first spins for DP_WORKER_SPIN_NS of empty passes; `busy`
 * never sleeps. Empty means the port returned less than a burst (the udp
 * backend keeps no leftovers then) and the TUN read hit EAGAIN.
 */
#define DP_WORKER_POLL_MS 100
#define DP_WORKER_SPIN_NS 50000

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/*
 * TUN offloads (tun->vnet, tun_mq.h): reads split super-packets into
 * tx_bufs, DP_PKT_MAX bytes each after DP_HEADROOM, with the vnet header
 * read in place in front of the packet; writes coalesce a whole inbound
 * burst in one tun_off_coalesce() call.
 */
_Static_assert(DP_HEADROOM >= TUN_VNET_HDR_LEN,
	       "a TUN frame is read in place, vnet header in the headroom");
_Static_assert(DP_BURST_MAX <= TUN_OFF_BURST_MAX,
	       "one inbound burst is one coalesce call");
_Static_assert(TUN_VNET_HDR_LEN + DP_PKT_MAX < TUN_OFF_READ_LEN,
	       "a tx buffer holds less than a frame");

/* The offload engine's counters into ours (the worker writes both). */
static void vnet_counters(struct dp_worker_loop *l)
{
	const struct tun_q_vnet *v = &l->vnet;
	struct dp_counters *s = &l->w.stats;
	uint64_t rejects = 0;

	s->tun_rx_frames = v->off.frames;
	s->tun_rx_gso_frames = v->off.gso_frames;
	s->tun_rx_segments = v->off.segments;
	s->tun_tx_writes = v->tx_writes;
	s->tun_tx_supers = v->tx_supers;
	s->tun_tx_coalesced = v->tx_coalesced;
	for (unsigned int e = 0; e < TUN_OFF_E_MAX; e++)
		rejects += v->off.rejects[e];
	s->drops[DP_DROP_TUN_VNET] = rejects;
}

/*
 * Inbound plaintext to the TUN queue; what the kernel refuses is counted.
 * to_tun[] points into the port's receive buffers: every write (and with
 * offloads, every writev of the batch) returns before the next rx call.
 */
static void to_tun(struct dp_worker_loop *l)
{
	struct dp_worker *w = &l->w;
	unsigned int n_tx = 0;
	uint64_t bytes = 0;

	if (!w->n_to_tun)
		return;
	if (l->tun && l->tun->vnet) {
		n_tx = tun_q_write_vnet_burst(l->tun, l->queue, &l->vnet,
					      w->to_tun, w->to_tun_len,
					      w->n_to_tun, &bytes);
		vnet_counters(l);
	} else if (l->tun) {
		n_tx = tun_q_write_burst(l->tun, l->queue, w->to_tun,
					 w->to_tun_len, w->n_to_tun);
		/* Approximate when a refused packet sat between accepted ones. */
		for (unsigned int i = 0; i < n_tx; i++)
			bytes += w->to_tun_len[i];
	}
	w->stats.tun_tx_packets += n_tx;
	w->stats.tun_tx_bytes += bytes;
	w->stats.drops[DP_DROP_TUN_WRITE] += w->n_to_tun - n_tx;
}

/*
 * Outbound plaintext from the TUN queue into tun_bufs[]. A frame left
 * waiting for buffers comes with packets read, so the pass counts as
 * having moved something and the next one takes it without polling.
 */
static unsigned int from_tun(struct dp_worker_loop *l)
{
	unsigned int n;

	if (!l->tun)
		return 0;
	if (!l->tun->vnet)
		return tun_q_read_burst(l->tun, l->queue, l->tun_bufs,
					DP_PKT_MAX, l->tun_lens, DP_BURST_MAX);
	n = tun_q_read_vnet_burst(l->tun, l->queue, &l->vnet, l->tun_bufs,
				  DP_PKT_MAX, l->tun_lens, DP_BURST_MAX);
	vnet_counters(l);
	return n;
}

/*
 * A control-plane message sealed on its tunnel, in place in the ring slot:
 * one counter reserved like any packet's, so the SA's counters stay unique.
 */
static void inject_sa(struct dp_worker *w, struct dp_inject *m)
{
	uint8_t *hdr = m->buf + DP_HEADROOM - WIRE_HEADER_LEN;
	uint8_t nonce[VL_AEAD_NONCE_LEN];
	const struct sockaddr_in6 *to = &m->to;
	struct dp_sa *sa;
	uint64_t counter;

	sa = dp_sa_by_index(w->sat, m->local_index);
	if (!sa) {
		dp_drop(w, DP_DROP_NO_TUNNEL);
		return;
	}
	if (!to->sin6_family) {
		to = atomic_load_explicit(&sa->remote, memory_order_acquire);
		if (!to) {
			dp_drop(w, DP_DROP_NO_REMOTE);
			return;
		}
	}
	if (!dp_sa_reserve(sa, 1, &counter)) {
		dp_drop(w, DP_DROP_LEASE);
		return;
	}
	wire_header_encode(hdr, (enum wire_type)m->type, m->subtype,
			   sa->remote_index, counter);
	vl_aead_nonce(sa->cipher, counter, nonce);
	vl_aead_seal(&sa->send_key, nonce, hdr, WIRE_HEADER_LEN,
		     m->buf + DP_HEADROOM, m->len, m->buf + DP_HEADROOM);
	w->stats.sealed++;
	w->stats.sealed_bytes += m->len;
	/* The address is copied: the remote may be retired after this pass. */
	w->to_net[w->n_to_net++] = (struct dp_pkt){
		.data = hdr, .len = m->len + WIRE_OVERHEAD, .addr = *to
	};
	atomic_fetch_add_explicit(&sa->tx_packets, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&sa->tx_bytes, m->len + WIRE_OVERHEAD,
				  memory_order_relaxed);
	atomic_store_explicit(&sa->last_tx_ns, w->now_ns, memory_order_relaxed);
}

/*
 * Injects, after the inbound burst went to the TUN: datagrams into
 * to_net, TUN packets written at once (to_tun is free again), outbound
 * packets through the outbound stage. Each takes at most one to_net entry,
 * so the budget is what inbound left of the first DP_BURST_MAX. The slots
 * stay held until after the send.
 */
static void take_injects(struct dp_worker_loop *l)
{
	struct dp_worker *w = &l->w;
	uint8_t *out_bufs[DP_BURST_MAX];
	uint32_t out_lens[DP_BURST_MAX];
	unsigned int n_out = 0;
	uint32_t pos, n;

	l->n_injects = 0;
	if (!l->injects || w->n_to_net >= DP_BURST_MAX)
		return;
	n = dp_ring_peek(l->injects, DP_BURST_MAX - w->n_to_net, &pos);
	w->n_to_tun = 0;
	for (uint32_t k = 0; k < n; k++) {
		struct dp_inject *m = dp_ring_rec(l->injects, pos + k);

		switch (m->kind) {
		case CTLMSG_INJECT_SA:
			inject_sa(w, m);
			break;
		case CTLMSG_INJECT_TUN:
			w->to_tun[w->n_to_tun] = m->buf + DP_HEADROOM;
			w->to_tun_len[w->n_to_tun++] = m->len;
			w->stats.injected_tun++;
			break;
		case CTLMSG_INJECT_OUT:
			out_bufs[n_out] = m->buf;
			out_lens[n_out++] = m->len;
			w->stats.injected_out++;
			break;
		default:
			w->to_net[w->n_to_net++] = (struct dp_pkt){
				.data = m->buf + DP_HEADROOM,
				.len = m->len,
				.addr = m->to,
			};
			break;
		}
	}
	to_tun(l);
	if (n_out)
		dp_out_inject(w, out_bufs, out_lens, n_out);
	l->n_injects = n;
}

static void to_net(struct dp_worker_loop *l)
{
	struct dp_worker *w = &l->w;
	unsigned int n_tx;

	if (!w->n_to_net)
		return;
	n_tx = dp_port_tx_burst(l->port, w->to_net, w->n_to_net);
	w->stats.tx_packets += n_tx;
	for (unsigned int i = 0; i < n_tx; i++)
		w->stats.tx_bytes += w->to_net[i].len;
	w->stats.drops[DP_DROP_TX] += w->n_to_net - n_tx;
}

/*
 * Punts to the control thread: copied into ring slots (only the bytes
 * used), then one wake-up if the control thread may be asleep.
 */
static void hand_punts(struct dp_worker_loop *l)
{
	const uint64_t one = 1;
	struct dp_worker *w = &l->w;
	uint32_t pos, n;

	if (!w->n_punts)
		return;
	n = dp_ring_reserve(l->punts, w->n_punts, &pos);
	for (uint32_t k = 0; k < n; k++)
		memcpy(dp_ring_rec(l->punts, pos + k), &w->punts[k],
		       offsetof(struct ctlmsg_punt, data) + w->punts[k].len);
	if (n < w->n_punts) {
		/* "punted" counts what was handed over. */
		w->stats.drops[DP_DROP_PUNT_FULL] += w->n_punts - n;
		w->stats.punted -= w->n_punts - n;
	}
	if (dp_ring_submit(l->punts, n) &&
	    write(l->punt_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the reader awake. */
	}
}

static void sleep_until_work(struct dp_worker_loop *l)
{
	struct dp_qsbr *q = &l->w.shared->qsbr;
	struct pollfd fds[DP_PORT_FDS_MAX + 2];
	nfds_t n, wake;
	uint64_t v;

	/* Frames sent last pass come home before we sleep (xsk). */
	dp_port_reclaim(l->port);
	n = dp_port_poll_fds(l->port, fds, DP_PORT_FDS_MAX);
	if (l->tun)
		fds[n++] = (struct pollfd){ .fd = l->tun->fds[l->queue],
					    .events = POLLIN };
	wake = n;
	fds[n++] = (struct pollfd){ .fd = l->wake_fd, .events = POLLIN };

	l->w.stats.sleeps++;
	dp_qsbr_offline(q, l->w.id);
	if (poll(fds, n, DP_WORKER_POLL_MS) > 0 && fds[wake].revents & POLLIN &&
	    read(l->wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to reset. */
	}
	dp_qsbr_online(q, l->w.id);
}

_Static_assert(DP_BURST_MAX == 1u << (DP_BURST_BUCKETS - 1),
	       "the last burst bucket is bursts of DP_BURST_MAX");

/*
 * The pass before this one, timed by this one's clock read: its length
 * goes to loop_ns, and to busy_ns if it moved something (stats.h). No
 * clock read of its own: a sleep counts in the idle pass that took it.
 */
static inline void count_pass(struct dp_counters *s, uint64_t now,
			      uint64_t *last, bool *last_moved)
{
	if (*last) {
		s->loop_ns += now - *last;
		if (*last_moved)
			s->busy_ns += now - *last;
	}
	*last = now;
	s->passes++;
}

void dp_worker_run(struct dp_worker_loop *l)
{
	struct dp_worker *w = &l->w;
	struct dp_qsbr *q = &w->shared->qsbr;
	uint64_t idle_since = 0, last = 0;
	bool last_moved = false;

	dp_qsbr_online(q, w->id);
	for (;;) {
		unsigned int n_rx, n_tun = 0;
		uint64_t now;
		bool moved;

		if (atomic_load_explicit(&l->stop, memory_order_relaxed))
			break;
		now = clock_ns();
		count_pass(&w->stats, now, &last, &last_moved);
		dp_worker_begin(w, now);

		n_rx = dp_port_rx_burst(l->port, l->rx, DP_BURST_MAX);
		if (n_rx) {
			w->stats.rx_burst_hist[dp_burst_bucket(n_rx)]++;
			dp_in_burst(w, l->rx, n_rx);
		}
		to_tun(l);

		take_injects(l);
		n_tun = from_tun(l);
		if (n_tun) {
			w->stats.tun_burst_hist[dp_burst_bucket(n_tun)]++;
			dp_out_burst(w, l->tun_lens, n_tun);
		}
		dp_out_flush_pending(w);

		to_net(l);
		/* Sent something: the pending queue may hold more. */
		moved = n_rx || n_tun || l->n_injects || w->n_to_net;
		w->stats.busy_passes += moved;
		last_moved = moved;
		if (l->n_injects)
			dp_ring_release(l->injects, l->n_injects);
		hand_punts(l);
		dp_qsbr_quiescent(q, w->id); /* no table or SA pointer held */

		if (moved || l->mode == CTLMSG_MODE_BUSY) {
			idle_since = 0;
			continue;
		}
		if (l->mode == CTLMSG_MODE_ADAPTIVE) {
			if (!idle_since)
				idle_since = now;
			if (now - idle_since < DP_WORKER_SPIN_NS) {
				cpu_relax();
				continue;
			}
		}
		idle_since = 0;
		sleep_until_work(l);
	}
	dp_qsbr_offline(q, w->id);
}
