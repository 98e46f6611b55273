/* SPDX-License-Identifier: MIT */
/*
 * NIC -> TUN: the receive dispatch of spec §1.4, for one burst.
 *
 * Every datagram is hostile until its tag verified. Lengths are checked
 * outer to inner before a field is read (header, then tag, then the inner
 * IPv4 header). For messages on a tunnel the order is Nebula's: index
 * lookup and replay *check* (a failure there earns the sender a
 * recv_error), AEAD open with the header as associated data, inner checks,
 * then the replay *update* -- so a forged or malformed packet never
 * consumes a counter -- and only then any effect: TUN write, test reply,
 * punt, roaming report.
 *
 * Deliberate differences from 1.6.1 (Appendix B): a type-1 packet whose tag
 * fails does not move the peer's address or count as liveness, and a
 * closeTunnel must carry a valid tag. Both only refuse forgeries; a real
 * 1.6.1 peer's messages are unaffected.
 *
 * Data packets that pass the anti-spoofing and destination checks go
 * through the filter stage (filter.c: hooks and firewall) last.
 */
#include "worker.h"

#include <string.h>

#include "aead.h"
#include "wire.h"

/* The IPv4 address of a v4-mapped source, or false for real IPv6. */
static bool mapped_v4(const struct sockaddr_in6 *a, uint32_t *ip)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };

	if (memcmp(a->sin6_addr.s6_addr, prefix, sizeof(prefix)))
		return false;
	*ip = wire_get_be32(a->sin6_addr.s6_addr + 12);
	return true;
}

/* Go's IP.IsPrivate: 10/8, 172.16/12, 192.168/16, fc00::/7. */
static bool is_private(const struct sockaddr_in6 *a)
{
	uint32_t ip;

	if (mapped_v4(a, &ip))
		return (ip >> 24) == 10 || (ip >> 20) == 0xac1 ||
		       (ip >> 16) == 0xc0a8;
	return (a->sin6_addr.s6_addr[0] & 0xfe) == 0xfc;
}

static bool same_addr(const struct sockaddr_in6 *a,
		      const struct sockaddr_in6 *b)
{
	return a->sin6_port == b->sin6_port &&
	       !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr));
}

static struct ctlmsg_punt *punt(struct dp_worker *w, uint32_t reason,
				const struct dp_pkt *p)
{
	struct ctlmsg_punt *m;

	if (w->n_punts == DP_BURST_MAX) {
		dp_drop(w, DP_DROP_PUNT_FULL);
		return NULL;
	}
	m = &w->punts[w->n_punts++];
	m->reason = reason;
	m->local_index = 0;
	m->vpn_ip = 0;
	m->type = 0;
	m->subtype = 0;
	m->worker = (uint16_t)w->id;
	m->from = p->addr;
	m->counter = 0;
	m->len = 0;
	w->stats.punted++;
	return m;
}

/* A token from the source's bucket; false when it is empty (see worker.h). */
static bool punt_allowed(struct dp_worker *w, const struct sockaddr_in6 *a)
{
	uint32_t h = 2166136261u, cap = DP_PUNT_BURST * 1000;
	const uint8_t *b = a->sin6_addr.s6_addr;
	struct dp_punt_bucket *k;
	uint64_t refill;

	/* FNV-1a over the address and port: cheap, and spreads sources. */
	for (int i = 0; i < 16; i++)
		h = (h ^ b[i]) * 16777619u;
	h = (h ^ a->sin6_port) * 16777619u;
	k = &w->punt_buckets[h % DP_PUNT_BUCKETS];

	refill = (w->now_ns - k->last_ns) / 1000 * DP_PUNT_RATE / 1000;
	if (!k->last_ns || refill >= cap || k->tokens + refill >= cap)
		k->tokens = cap;
	else
		k->tokens += (uint32_t)refill;
	k->last_ns = w->now_ns;
	if (k->tokens < 1000)
		return false;
	k->tokens -= 1000;
	return true;
}

/* Handshakes and recv_errors go to the control plane as they came. */
static void punt_raw(struct dp_worker *w, uint32_t reason,
		     const struct dp_pkt *p)
{
	struct ctlmsg_punt *m;

	if (!punt_allowed(w, &p->addr)) {
		dp_drop(w, DP_DROP_PUNT_RATE);
		return;
	}
	if (p->len > sizeof(m->data)) {
		dp_drop(w, DP_DROP_TOO_BIG);
		return;
	}
	m = punt(w, reason, p);
	if (!m)
		return;
	m->len = p->len;
	memcpy(m->data, p->data, p->len);
}

/* "I have no tunnel for that index" (spec §5.1), subject to send_recv_error. */
static void recv_error(struct dp_worker *w, const struct dp_pkt *p,
		       const struct wire_header *h)
{
	uint32_t policy = w->shared->setup.send_recv_error;
	uint8_t *buf;

	if (policy == CTLMSG_RECV_ERROR_NEVER ||
	    (policy == CTLMSG_RECV_ERROR_PRIVATE && !is_private(&p->addr)))
		return;
	if (w->n_replies == DP_BURST_MAX)
		return;
	buf = w->replies[w->n_replies++];
	wire_header_encode(buf, WIRE_RECV_ERROR, 0, h->remote_index, 0);
	w->to_net[w->n_to_net++] = (struct dp_pkt){ .data = buf,
						    .len = WIRE_HEADER_LEN,
						    .addr = p->addr };
	w->stats.recv_errors++;
}

/*
 * Finds the tunnel, checks the window and opens the message in place.
 * Returns the SA with the plaintext at p->data + 16, *len bytes; NULL when
 * the packet was dropped (and answered with a recv_error if 1.6.1 would).
 */
static struct dp_sa *open_msg(struct dp_worker *w, struct dp_pkt *p,
			      const struct wire_header *h, uint32_t *len)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];
	struct dp_sa *sa;

	sa = dp_sa_by_index(w->sat, h->remote_index);
	if (!sa) {
		recv_error(w, p, h);
		dp_drop(w, DP_DROP_NO_TUNNEL);
		return NULL;
	}
	if (!dp_replay_check(&sa->replay, h->counter)) {
		recv_error(w, p, h);
		dp_drop(w, DP_DROP_REPLAY);
		return NULL;
	}
	if (p->len < WIRE_OVERHEAD) {
		dp_drop(w, DP_DROP_SHORT);
		return NULL;
	}
	*len = p->len - WIRE_OVERHEAD;
	vl_aead_nonce(sa->cipher, h->counter, nonce);
	if (!vl_aead_open(&sa->recv_key, nonce, p->data, WIRE_HEADER_LEN,
			  p->data + WIRE_HEADER_LEN, *len,
			  p->data + WIRE_HEADER_LEN)) {
		dp_drop(w, DP_DROP_BAD_TAG);
		return NULL;
	}
	w->stats.opened++;
	w->stats.opened_bytes += *len;
	return sa;
}

/*
 * Until the control thread swaps in the new address, every packet from it
 * would report the roam again: one report per tunnel and address a burst.
 */
static bool roam_punted(const struct dp_worker *w, const struct dp_sa *sa,
			const struct sockaddr_in6 *from)
{
	for (unsigned int i = 0; i < w->n_punts; i++)
		if (w->punts[i].reason == CTLMSG_PUNT_ROAM &&
		    w->punts[i].local_index == sa->local_index &&
		    same_addr(&w->punts[i].from, from))
			return true;
	return false;
}

/*
 * The SA counters of a run of packets on one SA, added to the SA once when
 * the run ends: the counters' cache line is shared with the other workers
 * and the control thread, so a burst from one peer touches it once.
 */
struct rx_run {
	struct dp_sa *sa;
	uint64_t packets, bytes;
};

static void rx_run_end(struct dp_worker *w, struct rx_run *r)
{
	if (!r->packets)
		return;
	atomic_fetch_add_explicit(&r->sa->rx_packets, r->packets,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&r->sa->rx_bytes, r->bytes,
				  memory_order_relaxed);
	atomic_store_explicit(&r->sa->last_rx_ns, w->now_ns,
			      memory_order_relaxed);
	r->packets = r->bytes = 0;
}

/* The counter is consumed and the peer heard from: the packet counts. */
static bool accept_msg(struct dp_worker *w, struct rx_run *run,
		       struct dp_sa *sa, const struct dp_pkt *p,
		       const struct wire_header *h)
{
	struct sockaddr_in6 *remote;

	if (!dp_sa_replay_update(sa, h->counter)) {
		/* Another queue consumed it since the check. */
		dp_drop(w, DP_DROP_REPLAY);
		return false;
	}
	if (run->sa != sa) {
		rx_run_end(w, run);
		run->sa = sa;
	}
	run->packets++;
	run->bytes += p->len;

	/* Roaming (§5.2): the control plane decides, the data flows meanwhile. */
	remote = atomic_load_explicit(&sa->remote, memory_order_acquire);
	if ((!remote || !same_addr(remote, &p->addr)) &&
	    !roam_punted(w, sa, &p->addr)) {
		struct ctlmsg_punt *m = punt(w, CTLMSG_PUNT_ROAM, p);

		if (m) {
			m->local_index = sa->local_index;
			m->counter = h->counter;
		}
	}
	return true;
}

/*
 * The inner packet must be IPv4 with a sane header (§4.4), come from the
 * peer's certificate networks and go to ours.
 */
static bool inner_ok(struct dp_worker *w, const struct dp_sa *sa,
		     const uint8_t *ip, uint32_t len)
{
	const struct ctlmsg_setup *s = &w->shared->setup;
	uint32_t ihl, src, dst, frag;
	bool local = false;

	if (len < 20 || ip[0] >> 4 != 4 || (ihl = (ip[0] & 0x0f) * 4u) < 20 ||
	    ihl > len) {
		dp_drop(w, DP_DROP_BAD_INNER);
		return false;
	}
	/* Non-first fragments and ICMP have no ports; others need 4 bytes. */
	frag = ((uint32_t)ip[6] << 8 | ip[7]) & 0x1fff;
	if (!frag && ip[9] != 1 && len - ihl < 4) {
		dp_drop(w, DP_DROP_BAD_INNER);
		return false;
	}
	src = wire_get_be32(ip + 12);
	dst = wire_get_be32(ip + 16);
	if (!dp_sa_peer_owns(sa, src)) {
		dp_drop(w, DP_DROP_SPOOFED);
		return false;
	}
	for (uint32_t i = 0; i < s->n_local_nets && !local; i++)
		local = (dst & s->local_nets[i].mask) ==
			(s->local_nets[i].ip & s->local_nets[i].mask);
	if (!local) {
		dp_drop(w, DP_DROP_NOT_FOR_US);
		return false;
	}
	return true;
}

static void data(struct dp_worker *w, struct rx_run *run, struct dp_pkt *p,
		 const struct wire_header *h)
{
	uint8_t *ip = p->data + WIRE_HEADER_LEN;
	struct dp_sa *sa;
	uint32_t len;

	sa = open_msg(w, p, h, &len);
	if (!sa || !inner_ok(w, sa, ip, len) || !accept_msg(w, run, sa, p, h))
		return;
	/* Authentic: the counter is spent even if the filter says no (1.6.1). */
	if (!dp_filter_in(w, sa, ip, len))
		return;
	w->to_tun[w->n_to_tun] = ip;
	w->to_tun_len[w->n_to_tun++] = len;
}

/* A test request is answered here, on the worker (§5.2). */
static void test_reply(struct dp_worker *w, struct dp_sa *sa,
		       const struct dp_pkt *p, uint32_t len)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN], *buf;
	uint64_t counter;

	if (len > DP_REPLY_MAX - WIRE_OVERHEAD || w->n_replies == DP_BURST_MAX) {
		dp_drop(w, DP_DROP_TOO_BIG);
		return;
	}
	if (!dp_sa_reserve(sa, 1, &counter)) {
		dp_drop(w, DP_DROP_LEASE);
		return;
	}
	buf = w->replies[w->n_replies++];
	wire_header_encode(buf, WIRE_TEST, WIRE_SUB_TEST_REPLY,
			   sa->remote_index, counter);
	vl_aead_nonce(sa->cipher, counter, nonce);
	/* The request's payload echoed, as a C implementation may (§5.2). */
	vl_aead_seal(&sa->send_key, nonce, buf, WIRE_HEADER_LEN,
		     p->data + WIRE_HEADER_LEN, len, buf + WIRE_HEADER_LEN);
	w->stats.sealed++;
	w->stats.sealed_bytes += len;
	w->to_net[w->n_to_net++] = (struct dp_pkt){
		.data = buf, .len = len + WIRE_OVERHEAD, .addr = p->addr
	};
	atomic_fetch_add_explicit(&sa->tx_packets, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&sa->tx_bytes, len + WIRE_OVERHEAD,
				  memory_order_relaxed);
	w->stats.test_replies++;
}

/* Lighthouse, test, closeTunnel and control messages on a tunnel. */
static void tunnel_msg(struct dp_worker *w, struct rx_run *run,
		       struct dp_pkt *p, const struct wire_header *h)
{
	struct ctlmsg_punt *m;
	struct dp_sa *sa;
	uint32_t len;

	if (h->type == WIRE_TEST && h->subtype > WIRE_SUB_TEST_REPLY) {
		dp_drop(w, DP_DROP_UNKNOWN_TYPE);
		return;
	}
	sa = open_msg(w, p, h, &len);
	if (!sa || !accept_msg(w, run, sa, p, h))
		return;
	if (h->type == WIRE_TEST) {
		if (h->subtype == WIRE_SUB_TEST_REQUEST)
			test_reply(w, sa, p, len);
		/* A reply only proves liveness: accept_msg noted it. */
		return;
	}
	if (len > sizeof(m->data)) {
		dp_drop(w, DP_DROP_TOO_BIG);
		return;
	}
	m = punt(w, CTLMSG_PUNT_TUNNEL_MSG, p);
	if (!m)
		return;
	m->local_index = sa->local_index;
	m->type = h->type;
	m->subtype = h->subtype;
	m->counter = h->counter;
	m->len = len;
	memcpy(m->data, p->data + WIRE_HEADER_LEN, len);
}

void dp_in_burst(struct dp_worker *w, struct dp_pkt *pkts, unsigned int n)
{
	const struct ctlmsg_net *vpn = &w->shared->setup.vpn;
	struct rx_run run = { NULL, 0, 0 };

	for (unsigned int i = 0; i < n; i++) {
		struct dp_pkt *p = &pkts[i];
		struct wire_header h;
		uint32_t src;

		w->stats.rx_packets++;
		w->stats.rx_bytes += p->len;
		if (p->len < WIRE_HEADER_LEN) {
			/* NAT punches (0x00, 0x01) are expected; the rest is noise. */
			if (p->len == 1)
				w->stats.punches++;
			else
				dp_drop(w, DP_DROP_SHORT);
			continue;
		}
		/* A tunnel carried inside itself (§1.4 "double encryption"). */
		if (mapped_v4(&p->addr, &src) &&
		    (src & vpn->mask) == (vpn->ip & vpn->mask)) {
			dp_drop(w, DP_DROP_OWN_NETWORK);
			continue;
		}
		wire_header_decode(p->data, &h);
		switch (h.type) {
		case WIRE_HANDSHAKE:
			punt_raw(w, CTLMSG_PUNT_HANDSHAKE, p);
			break;
		case WIRE_RECV_ERROR:
			punt_raw(w, CTLMSG_PUNT_RECV_ERROR, p);
			break;
		case WIRE_MESSAGE:
			if (h.subtype == WIRE_SUB_NONE)
				data(w, &run, p, &h);
			else if (h.subtype == WIRE_SUB_RELAY)
				dp_drop(w, DP_DROP_RELAY);
			else
				dp_drop(w, DP_DROP_UNKNOWN_TYPE);
			break;
		case WIRE_LIGHTHOUSE:
		case WIRE_TEST:
		case WIRE_CLOSE_TUNNEL:
		case WIRE_CONTROL:
			tunnel_msg(w, &run, p, &h);
			break;
		default:
			dp_drop(w, DP_DROP_UNKNOWN_TYPE);
			break;
		}
	}
	rx_run_end(w, &run);
	dp_filter_flush(w);
}
