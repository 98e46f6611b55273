/* SPDX-License-Identifier: MIT */
/*
 * TUN -> NIC: route, SA, counter, seal in place, for one burst.
 *
 * Packets are read into buffers with DP_HEADROOM bytes free in front, so
 * the Nebula header is written just before the IP packet and the tag just
 * after it: the datagram is built where the packet already is, no copy.
 *
 * A packet for a peer without a tunnel is copied into the pending pool (at
 * most DP_PENDING_PER_PEER per peer, as 1.6.1 queues 100) and the control
 * plane is told once per peer (a MISS punt) to start a handshake. When a
 * table with that peer's SA appears, dp_out_flush_pending() sends the
 * queue in order; what waits longer than setup.pending_timeout_ms is
 * dropped.
 *
 * Filtering (filter.c): the OUT_PRE hooks before routing, the firewall
 * and the OUT_POST hooks once the tunnel is known -- for a packet that
 * waited for its handshake, when it leaves the queue, so the rules see
 * the peer's certificate. Packets the control plane injected (INJECT_OUT)
 * skip all three.
 */
#include "worker.h"

#include <string.h>

#include "aead.h"
#include "wire.h"

static bool in_net(uint32_t ip, const struct ctlmsg_net *n)
{
	return (ip & n->mask) == (n->ip & n->mask);
}

/*
 * The VPN IP to send @dst to: itself inside the VPN network, else the
 * `via` of the longest matching unsafe route; 0 when there is none.
 */
static uint32_t route(const struct ctlmsg_setup *s, uint32_t dst)
{
	uint32_t via = 0, best = 0;
	bool found = false;

	if (in_net(dst, &s->vpn))
		return dst;
	for (uint32_t i = 0; i < s->n_routes; i++) {
		const struct ctlmsg_route *r = &s->routes[i];

		if (!r->via || !in_net(dst, &r->dst))
			continue;
		if (!found || r->dst.mask > best) {
			via = r->via;
			best = r->dst.mask;
			found = true;
		}
	}
	return via;
}

/*
 * Seals @n packets on @sa into to_net, in order: bufs[i] + DP_HEADROOM,
 * lens[i] bytes each. The counters of the whole run are reserved with one
 * compare-and-swap and the SA's counters updated once, so a burst to one
 * peer touches the SA's shared cache lines twice, not twice per packet.
 * When the lease has fewer counters left than the run needs, what fits is
 * sent and the rest dropped (the lease request is already on its way).
 */
static void seal_run(struct dp_worker *w, struct dp_sa *sa,
		     uint8_t *const *bufs, const uint32_t *lens,
		     unsigned int n)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];
	struct sockaddr_in6 *remote;
	uint64_t counter = 0, bytes = 0;
	unsigned int ok;

	remote = atomic_load_explicit(&sa->remote, memory_order_acquire);
	if (!remote) {
		w->stats.drops[DP_DROP_NO_REMOTE] += n;
		return;
	}
	ok = dp_sa_reserve_upto(sa, n, &counter);
	w->stats.drops[DP_DROP_LEASE] += n - ok;
	for (unsigned int i = 0; i < ok; i++, counter++) {
		uint8_t *hdr = bufs[i] + DP_HEADROOM - WIRE_HEADER_LEN;

		wire_header_encode(hdr, WIRE_MESSAGE, WIRE_SUB_NONE,
				   sa->remote_index, counter);
		vl_aead_nonce(sa->cipher, counter, nonce);
		vl_aead_seal(&sa->send_key, nonce, hdr, WIRE_HEADER_LEN,
			     bufs[i] + DP_HEADROOM, lens[i],
			     bufs[i] + DP_HEADROOM);
		w->to_net[w->n_to_net++] = (struct dp_pkt){
			.data = hdr, .len = lens[i] + WIRE_OVERHEAD,
			.addr = *remote
		};
		bytes += lens[i] + WIRE_OVERHEAD;
	}
	if (!ok)
		return;
	w->stats.sealed += ok;
	w->stats.sealed_bytes += bytes - (uint64_t)ok * WIRE_OVERHEAD;
	atomic_fetch_add_explicit(&sa->tx_packets, ok, memory_order_relaxed);
	atomic_fetch_add_explicit(&sa->tx_bytes, bytes, memory_order_relaxed);
	atomic_store_explicit(&sa->last_tx_ns, w->now_ns, memory_order_relaxed);
}

static struct dp_pending_peer *pending_find(struct dp_worker *w,
					    uint32_t vpn_ip, bool add)
{
	struct dp_pending_peer *free_slot = NULL;

	for (unsigned int i = 0; i < DP_PENDING_PEERS; i++) {
		struct dp_pending_peer *q = &w->pending[i];

		if (q->vpn_ip == vpn_ip)
			return q;
		if (!q->vpn_ip && !free_slot)
			free_slot = q;
	}
	if (!add || !free_slot)
		return NULL;
	free_slot->vpn_ip = vpn_ip;
	free_slot->head = 0;
	free_slot->n = 0;
	free_slot->since_ns = w->now_ns;
	return free_slot;
}

/* Queues a packet for a peer whose handshake is under way. */
static void pending_add(struct dp_worker *w, uint32_t vpn_ip,
			const uint8_t *buf, uint32_t len, bool filter)
{
	struct dp_pending_peer *q = pending_find(w, vpn_ip, true);
	uint16_t b;

	if (!q || q->n == DP_PENDING_PER_PEER || !w->n_pending_free) {
		dp_drop(w, DP_DROP_PENDING_FULL);
		return;
	}
	if (!q->n && w->n_punts < DP_BURST_MAX) {
		/* The first packet asks for the handshake; the rest wait. */
		struct ctlmsg_punt *m = &w->punts[w->n_punts++];

		memset(m, 0, offsetof(struct ctlmsg_punt, data));
		m->reason = CTLMSG_PUNT_MISS;
		m->vpn_ip = vpn_ip;
		m->worker = (uint16_t)w->id;
		w->stats.punted++;
		q->since_ns = w->now_ns;
	}
	b = w->pending_free[--w->n_pending_free];
	memcpy(w->pending_bufs[b] + DP_HEADROOM, buf + DP_HEADROOM, len);
	q->bufs[(q->head + q->n) % DP_PENDING_PER_PEER] = b;
	q->lens[(q->head + q->n) % DP_PENDING_PER_PEER] = len;
	q->filter[(q->head + q->n) % DP_PENDING_PER_PEER] = filter;
	q->n++;
}

static void pending_release(struct dp_worker *w, struct dp_pending_peer *q,
			    bool drop)
{
	while (q->n) {
		uint16_t b = q->bufs[q->head];

		if (drop)
			dp_drop(w, DP_DROP_PENDING_TIMEOUT);
		w->pending_free[w->n_pending_free++] = b;
		q->head = (q->head + 1) % DP_PENDING_PER_PEER;
		q->n--;
	}
	q->vpn_ip = 0;
}

void dp_out_flush_pending(struct dp_worker *w)
{
	uint64_t timeout = (uint64_t)w->shared->setup.pending_timeout_ms *
			   1000000;

	if (w->n_pending_free + w->n_pending_sent == DP_PENDING_BUFS)
		return; /* nothing waits */
	for (unsigned int i = 0; i < DP_PENDING_PEERS; i++) {
		struct dp_pending_peer *q = &w->pending[i];
		struct dp_sa *sa;

		if (!q->vpn_ip)
			continue;
		sa = dp_sa_by_vpn(w->sat, q->vpn_ip);
		if (!sa) {
			if (w->now_ns - q->since_ns > timeout)
				pending_release(w, q, true);
			continue;
		}
		/*
		 * to_net has room for one burst of replies and one of
		 * outbound packets; send at most what fits now, in order.
		 */
		while (q->n && w->n_to_net < 2 * DP_BURST_MAX) {
			uint16_t b = q->bufs[q->head];
			uint8_t *buf = w->pending_bufs[b];

			if (!q->filter[q->head] ||
			    dp_filter_out(w, sa, buf + DP_HEADROOM,
					  q->lens[q->head]))
				seal_run(w, sa, &buf, &q->lens[q->head], 1);
			/*
			 * The datagram in to_net points into the buffer:
			 * it returns to the pool when the next burst begins.
			 * (A filtered one is free at once, as it goes.)
			 */
			w->pending_sent[w->n_pending_sent++] = b;
			q->head = (q->head + 1) % DP_PENDING_PER_PEER;
			q->n--;
		}
		if (!q->n)
			q->vpn_ip = 0;
	}
	dp_filter_flush(w);
}

/* True when no packet waits for a handshake (the pool is all free). */
static bool nothing_pending(const struct dp_worker *w)
{
	return w->n_pending_free + w->n_pending_sent == DP_PENDING_BUFS;
}

/* @filter: hooks and firewall apply (false for injected packets). */
static void out_burst(struct dp_worker *w, uint8_t *const *bufs,
		      const uint32_t *lens, unsigned int n, bool filter)
{
	const struct ctlmsg_setup *s = &w->shared->setup;
	uint32_t broadcast = s->vpn.ip | ~s->vpn.mask;
	/* The current run of packets to one SA, sealed together. */
	struct dp_sa *run_sa = NULL;
	uint8_t *run_bufs[DP_BURST_MAX];
	uint32_t run_lens[DP_BURST_MAX];
	unsigned int run_n = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint8_t *buf = bufs[i], *ip = buf + DP_HEADROOM;
		uint32_t len = lens[i], dst, vpn_ip;
		struct dp_sa *sa;

		w->stats.tun_rx_packets++;
		w->stats.tun_rx_bytes += len;
		/* Only IPv4 crosses a 1.6.1 tunnel (§4.4). */
		if (len < 20 || ip[0] >> 4 != 4) {
			dp_drop(w, DP_DROP_NOT_IPV4);
			continue;
		}
		if (len > DP_PKT_MAX) {
			dp_drop(w, DP_DROP_TOO_BIG);
			continue;
		}
		if (filter && !dp_filter_out_pre(w, ip, len))
			continue;
		dst = wire_get_be32(ip + 16);
		if (dst == s->vpn.ip) {
			dp_drop(w, DP_DROP_TO_SELF);
			continue;
		}
		if (s->drop_multicast && (dst >> 28) == 0xe) {
			dp_drop(w, DP_DROP_MULTICAST);
			continue;
		}
		if (s->drop_local_broadcast && dst == broadcast) {
			dp_drop(w, DP_DROP_BROADCAST);
			continue;
		}
		vpn_ip = route(s, dst);
		if (!vpn_ip) {
			dp_drop(w, DP_DROP_NO_ROUTE);
			continue;
		}
		sa = dp_sa_by_vpn(w->sat, vpn_ip);
		/* Keep order: nothing overtakes packets already waiting. */
		if (!sa || (!nothing_pending(w) && pending_find(w, vpn_ip, false))) {
			pending_add(w, vpn_ip, buf, len, filter);
			continue;
		}
		if (filter && !dp_filter_out(w, sa, ip, len))
			continue;
		if (sa != run_sa && run_n) {
			seal_run(w, run_sa, run_bufs, run_lens, run_n);
			run_n = 0;
		}
		run_sa = sa;
		run_bufs[run_n] = buf;
		run_lens[run_n++] = len;
	}
	if (run_n)
		seal_run(w, run_sa, run_bufs, run_lens, run_n);
	dp_filter_flush(w);
}

void dp_out_burst(struct dp_worker *w, const uint32_t *lens, unsigned int n)
{
	out_burst(w, w->tx_bufs, lens, n, true);
}

void dp_out_inject(struct dp_worker *w, uint8_t *const *bufs,
		   const uint32_t *lens, unsigned int n)
{
	out_burst(w, bufs, lens, n, false);
}
