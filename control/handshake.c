/* SPDX-License-Identifier: MIT */
/*
 * The handshake manager (spec §3.7, §3.8): Noise IX with peers, both roles.
 *
 * Initiator: a packet for a peer without a tunnel reaches us as a MISS from
 * the dataplane (which queues the packet meanwhile). We build message 1
 * once and send the identical bytes to every known address of the peer,
 * immediately when the peer is in static_host_map, then again after 1, 2,
 * 3 ... try_interval, until `retries` transmissions went unanswered. The
 * dataplane flushes its queue when the tunnel is installed, and drops it on
 * its own after the same time span. The addresses come from
 * static_host_map and the lighthouse cache; every lighthouse is asked when
 * the handshake starts and again on attempts while at most one address is
 * known, and an answer arriving before the first transmission sends it at
 * once (lighthouse.c).
 *
 * Responder: message 1 arrives punted as it came. After the certificate
 * check we resolve conflicts in 1.6.1's order: a byte-identical
 * retransmission of the message 1 that made a live tunnel gets the cached
 * message 2 again; a handshake not newer (peer Time) than the live
 * tunnel's gets a test request on that tunnel instead of an answer; if we
 * are initiating to the same peer at the same time, the higher VPN IP's
 * handshake wins. Otherwise the new tunnel replaces the old.
 *
 * Everything here runs on vela-control's one thread.
 */
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cert.h"
#include "fw_compile.h"
#include "handshake_msg.h"
#include "log.h"
#include "status.h"
#include "wire.h"

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

static struct ctl_pending *pending_by_vpn(struct ctl_node *n, uint32_t vpn_ip)
{
	for (size_t i = 0; i < n->n_pending; i++)
		if (n->pending[i]->vpn_ip == vpn_ip)
			return n->pending[i];
	return NULL;
}

static struct ctl_pending *pending_by_index(struct ctl_node *n, uint32_t idx)
{
	for (size_t i = 0; i < n->n_pending; i++)
		if (n->pending[i]->local_index == idx)
			return n->pending[i];
	return NULL;
}

static void pending_remove(struct ctl_node *n, struct ctl_pending *p)
{
	for (size_t i = 0; i < n->n_pending; i++) {
		if (n->pending[i] != p)
			continue;
		n->pending[i] = n->pending[--n->n_pending];
		break;
	}
	ctl_noise_wipe(&p->noise);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

static void send_raw(struct ctl_node *n, const struct sockaddr_in6 *to,
		     const uint8_t *data, size_t len)
{
	struct ctlmsg_inject_raw m;

	if (len > sizeof(m.data))
		return;
	memset(&m, 0, offsetof(struct ctlmsg_inject_raw, data));
	m.to = *to;
	m.len = (uint32_t)len;
	memcpy(m.data, data, len);
	n->counters.hs_msgs_sent++;
	ctl_node_send(n, &m, CTLMSG_INJECT_RAW,
		      (uint32_t)(offsetof(struct ctlmsg_inject_raw, data) + len));
}

/* A test request on an existing tunnel (empty, as 1.6.1 sends them). */
static void send_test(struct ctl_node *n, const struct ctl_tunnel *t)
{
	struct ctlmsg_inject_sa m;

	memset(&m, 0, offsetof(struct ctlmsg_inject_sa, data));
	m.local_index = t->add.local_index;
	m.type = WIRE_TEST;
	m.subtype = WIRE_SUB_TEST_REQUEST;
	ctl_node_send(n, &m, CTLMSG_INJECT_SA,
		      (uint32_t)offsetof(struct ctlmsg_inject_sa, data));
}

/* Appends the addresses @p does not have yet; returns how many. */
static unsigned int add_addrs(struct ctl_pending *p,
			      const struct sockaddr_in6 *addrs, unsigned int k)
{
	unsigned int added = 0;

	for (unsigned int i = 0; i < k && p->n_addrs < CTL_ADDRS_MAX; i++) {
		bool known = false;

		for (unsigned int j = 0; j < p->n_addrs && !known; j++)
			known = p->addrs[j].sin6_port == addrs[i].sin6_port &&
				!memcmp(&p->addrs[j].sin6_addr,
					&addrs[i].sin6_addr,
					sizeof(addrs[i].sin6_addr));
		if (known)
			continue;
		p->addrs[p->n_addrs++] = addrs[i];
		added++;
	}
	return added;
}

static void transmit(struct ctl_node *n, struct ctl_pending *p)
{
	for (unsigned int i = 0; i < p->n_addrs; i++)
		send_raw(n, &p->addrs[i], p->msg1, p->msg1_len);
	p->attempts++;
	/* Linear backoff: the k-th transmission waits k intervals (§3.7). */
	p->next_ns = n->now_ns +
		     (uint64_t)p->attempts * (uint64_t)n->cfg.handshake_try_interval_ns;
	/* As 1.6.1: nothing to say while no address is known yet. */
	if (p->n_addrs && vl_log_enabled(VL_LOG_INFO)) {
		char ip[16], idx[16], at[16];

		ctl_ip_str(p->vpn_ip, ip);
		snprintf(idx, sizeof(idx), "%u", p->local_index);
		snprintf(at, sizeof(at), "%u", p->attempts);
		vl_log(VL_LOG_INFO, "Handshake message sent", "vpnIp", ip,
		       "initiatorIndex", idx, "attempt", at, NULL);
	}
}

void ctl_hs_start(struct ctl_node *n, uint32_t vpn_ip)
{
	uint8_t payload[CTL_HS_MSG_MAX];
	struct ctl_hs_payload hp = { 0 };
	struct vl_status st = { "" };
	struct ctl_pending *p;
	size_t plen, nlen;
	char ip[16];

	if (vpn_ip == n->pki.vpn_ip || ctl_tunnel_by_vpn(n, vpn_ip) ||
	    pending_by_vpn(n, vpn_ip))
		return;
	ctl_ip_str(vpn_ip, ip);
	p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->vpn_ip = vpn_ip;
	p->local_index = ctl_index_new(n);
	for (size_t i = 0; i < n->n_statics; i++) {
		if (n->statics[i].vpn_ip != vpn_ip)
			continue;
		memcpy(p->addrs, n->statics[i].addrs,
		       n->statics[i].n_addrs * sizeof(p->addrs[0]));
		p->n_addrs = n->statics[i].n_addrs;
	}
	{
		/* What lighthouses told us before, or what we learned. */
		struct sockaddr_in6 cached[CTL_ADDRS_MAX];
		unsigned int k = ctl_lh_addrs(n, vpn_ip, cached, CTL_ADDRS_MAX);

		add_addrs(p, cached, k);
	}

	hp.cert = n->pki.hs_cert;
	hp.cert_len = n->pki.hs_cert_len;
	hp.initiator_index = p->local_index;
	hp.time_ns = realtime_ns();
	ctl_noise_init(&p->noise, n->cfg.cipher, true, n->pki.key);
	if (ctl_hs_encode(&hp, payload, sizeof(payload), &plen, &st) ||
	    ctl_noise_write_msg1(&p->noise, payload, plen,
				 p->msg1 + WIRE_HEADER_LEN,
				 sizeof(p->msg1) - WIRE_HEADER_LEN, &nlen, &st)) {
		vl_log(VL_LOG_ERROR, "Failed to build handshake message",
		       "vpnIp", ip, "error", st.msg, NULL);
		ctl_noise_wipe(&p->noise);
		free(p);
		return;
	}
	wire_header_encode(p->msg1, WIRE_HANDSHAKE, WIRE_SUB_IX_PSK0, 0,
			   WIRE_HS_MSG1);
	p->msg1_len = WIRE_HEADER_LEN + nlen;

	{
		struct ctl_pending **more = realloc(n->pending,
						    (n->n_pending + 1) *
							    sizeof(*more));

		if (!more) {
			ctl_noise_wipe(&p->noise);
			free(p);
			return;
		}
		n->pending = more;
		n->pending[n->n_pending++] = p;
		n->counters.hs_started++;
	}
	if (!p->n_addrs && !n->cfg.n_lighthouses)
		vl_log(VL_LOG_WARN,
		       "No address known for the peer: it is not in static_host_map and there is no lighthouse",
		       "vpnIp", ip, NULL);
	/* Peers with known addresses get the first message at once (§3.7). */
	if (p->n_addrs)
		transmit(n, p);
	else
		p->next_ns = n->now_ns + (uint64_t)n->cfg.handshake_try_interval_ns;
	/* May start handshakes to lighthouses: @p is not used after it. */
	ctl_lh_query(n, vpn_ip);
}

void ctl_hs_add_addrs(struct ctl_node *n, uint32_t vpn_ip,
		      const struct sockaddr_in6 *addrs, unsigned int n_addrs)
{
	struct ctl_pending *p = pending_by_vpn(n, vpn_ip);

	if (!p || !add_addrs(p, addrs, n_addrs))
		return;
	/* Only before the first attempt, so answers cannot speed up retries. */
	if (!p->attempts)
		transmit(n, p);
}

void ctl_hs_timers(struct ctl_node *n)
{
	for (size_t i = 0; i < n->n_pending;) {
		struct ctl_pending *p = n->pending[i];

		if (n->now_ns < p->next_ns) {
			i++;
			continue;
		}
		if (p->attempts >= (unsigned int)n->cfg.handshake_retries) {
			char ip[16], idx[16];

			ctl_ip_str(p->vpn_ip, ip);
			snprintf(idx, sizeof(idx), "%u", p->local_index);
			vl_log(VL_LOG_INFO, "Handshake timed out", "vpnIp", ip,
			       "initiatorIndex", idx, NULL);
			n->counters.hs_timed_out++;
			pending_remove(n, p); /* swaps the last one into i */
			continue;
		}
		/* Perhaps the peer registered since we asked (§3.7). */
		if (p->n_addrs <= 1)
			ctl_lh_query(n, p->vpn_ip); /* may append to pending */
		transmit(n, p);
		i++;
	}
}

/* The peer's certificate networks: its Ips as /32, then its Subnets. */
static void peer_nets(struct ctlmsg_tunnel_add *a, const struct ctl_cert *c)
{
	a->n_peer_nets = 0;
	for (size_t i = 0; i < c->n_ips && a->n_peer_nets < CTLMSG_NETS_MAX; i++)
		a->peer_nets[a->n_peer_nets++] =
			(struct ctlmsg_net){ c->ips[i].ip, 0xffffffff };
	for (size_t i = 0;
	     i < c->n_subnets && a->n_peer_nets < CTLMSG_NETS_MAX; i++)
		a->peer_nets[a->n_peer_nets++] = (struct ctlmsg_net){
			c->subnets[i].ip, c->subnets[i].mask
		};
}

/* The peer's certificate from a handshake payload, checked (§3.5). */
static struct ctl_cert *peer_cert(struct ctl_node *n,
				  const struct ctl_hs_payload *hp,
				  const uint8_t *rs, const char *from)
{
	struct timespec now = realtime();
	struct vl_status st = { "" };
	struct ctl_cert *c;

	if (ctl_cert_decode_handshake(hp->cert, hp->cert_len, rs, &c, &st) ||
	    ctl_cert_verify(c, &now, &n->pki.pool, &st)) {
		vl_log(VL_LOG_INFO, "Invalid certificate from host", "udpAddr",
		       from, "error", st.msg, NULL);
		ctl_cert_free(c);
		return NULL;
	}
	/* A certificate without IPs crashes 1.6.1; here it is refused. */
	if (!c->n_ips) {
		vl_log(VL_LOG_INFO, "Certificate has no IP address", "udpAddr",
		       from, NULL);
		ctl_cert_free(c);
		return NULL;
	}
	return c;
}

static struct ctl_tunnel *tunnel_new(struct ctl_node *n, struct ctl_cert *c,
				     uint32_t local, uint32_t remote,
				     const struct sockaddr_in6 *addr,
				     const uint8_t send[32],
				     const uint8_t recv[32])
{
	struct ctl_tunnel *t = calloc(1, sizeof(*t));
	struct vl_status st = { "" };
	uint8_t *enc;
	size_t len;

	if (!t)
		return NULL;
	/* What the firewall rules match; a certificate too big is refused. */
	if (ctl_fw_peer_identity(c, &n->pki.pool, &t->add.fw_peer, &st)) {
		vl_log(VL_LOG_ERROR, "Refusing the tunnel", "certName", c->name,
		       "error", st.msg, NULL);
		free(t);
		return NULL;
	}
	t->cert = c;
	snprintf(t->name, sizeof(t->name), "%s", c->name);
	t->add.local_index = local;
	t->add.remote_index = remote;
	t->add.vpn_ip = c->ips[0].ip;
	t->add.cipher = n->cfg.cipher;
	t->add.remote = *addr;
	memcpy(t->add.send_key, send, 32);
	memcpy(t->add.recv_key, recv, 32);
	t->add.send_counter = WIRE_FIRST_COUNTER - 1;
	t->add.lease_end = t->add.send_counter + CTLMSG_LEASE_STEP;
	t->add.recv_max = WIRE_FIRST_COUNTER - 1;
	peer_nets(&t->add, c);
	if (!ctl_cert_encode(c, &enc, &len)) {
		if (len <= sizeof(t->add.cert)) {
			memcpy(t->add.cert, enc, len);
			t->add.cert_len = (uint32_t)len;
		}
		free(enc);
	}
	return t;
}

/* A tunnel's certificate name, for logs; "" when it is gone. */
static const char *c_name(struct ctl_node *n, uint32_t vpn_ip)
{
	struct ctl_tunnel *t = ctl_tunnel_by_vpn(n, vpn_ip);

	return t ? t->name : "";
}

static void responder(struct ctl_node *n, const struct ctlmsg_punt *pkt)
{
	const uint8_t *msg = pkt->data + WIRE_HEADER_LEN, *payload;
	size_t msg_len = pkt->len - WIRE_HEADER_LEN, plen, nlen;
	uint8_t buf[CTL_HS_MSG_MAX], out[CTL_HS_MSG_MAX];
	uint8_t send[32], recv[32];
	struct ctl_hs_payload hp = { 0 };
	struct vl_status st = { "" };
	struct ctl_tunnel *old, *t = NULL;
	struct ctl_pending *racing;
	struct ctl_noise noise;
	struct ctl_cert *c = NULL;
	uint32_t vpn_ip, initiator;
	uint64_t peer_time;
	char from[64], ip[16];

	ctl_addr_str(&pkt->from, from, sizeof(from));
	ctl_noise_init(&noise, n->cfg.cipher, false, n->pki.key);
	if (ctl_noise_read_msg1(&noise, msg, msg_len, &payload, &plen, &st) ||
	    ctl_hs_decode(payload, plen, &hp, &st)) {
		vl_log(VL_LOG_DEBUG, "Failed to read handshake message 1",
		       "udpAddr", from, "error", st.msg, NULL);
		n->counters.hs_failed[1]++;
		goto wipe;
	}
	c = peer_cert(n, &hp, ctl_noise_remote_static(&noise), from);
	if (!c) {
		n->counters.hs_failed[1]++;
		goto release;
	}
	vpn_ip = c->ips[0].ip;
	ctl_ip_str(vpn_ip, ip);
	if (!ctl_remote_allowed(n, vpn_ip, &pkt->from)) {
		vl_log(VL_LOG_DEBUG,
		       "lighthouse.remote_allow_list denied incoming handshake",
		       "vpnIp", ip, "udpAddr", from, NULL);
		n->counters.hs_failed[1]++;
		goto release;
	}
	if (vpn_ip == n->pki.vpn_ip) {
		vl_log(VL_LOG_INFO, "Refusing to handshake with myself", "vpnIp",
		       ip, "udpAddr", from, NULL);
		n->counters.hs_failed[1]++;
		goto release;
	}

	old = ctl_tunnel_by_vpn(n, vpn_ip);
	if (old && old->msg1 && old->msg1_len == msg_len &&
	    !memcmp(old->msg1, msg, msg_len)) {
		/* A retransmission: the same answer as before (§3.8 step 1). */
		send_raw(n, &pkt->from, old->msg2, old->msg2_len);
		goto release;
	}
	if (old && old->peer_time >= hp.time_ns) {
		/* Not newer than the live tunnel: check that one instead. */
		send_test(n, old);
		goto release;
	}
	racing = pending_by_vpn(n, vpn_ip);
	if (racing) {
		/* Both sides initiated: the higher VPN IP's handshake wins. */
		if (vpn_ip < n->pki.vpn_ip)
			goto release;
		pending_remove(n, racing);
	}

	/* Message 2 re-uses message 1's payload (§3.4): echoes its indexes. */
	initiator = hp.initiator_index;
	peer_time = hp.time_ns;
	hp.responder_index = ctl_index_new(n);
	hp.cert = n->pki.hs_cert;
	hp.cert_len = n->pki.hs_cert_len;
	hp.time_ns = realtime_ns();
	if (ctl_hs_encode(&hp, buf, sizeof(buf), &plen, &st) ||
	    ctl_noise_write_msg2(&noise, buf, plen, out + WIRE_HEADER_LEN,
				 sizeof(out) - WIRE_HEADER_LEN, &nlen, &st) ||
	    ctl_noise_split(&noise, send, recv)) {
		vl_log(VL_LOG_ERROR, "Failed to build handshake message 2",
		       "vpnIp", ip, "error", st.msg, NULL);
		n->counters.hs_failed[1]++;
		goto release;
	}
	wire_header_encode(out, WIRE_HANDSHAKE, WIRE_SUB_IX_PSK0, initiator,
			   WIRE_HS_MSG2);
	nlen += WIRE_HEADER_LEN;

	t = tunnel_new(n, c, hp.responder_index, initiator, &pkt->from, send,
		       recv);
	sodium_memzero(send, sizeof(send));
	sodium_memzero(recv, sizeof(recv));
	if (!t)
		goto release;
	c = NULL; /* the tunnel owns it */
	t->responder = true;
	t->msg1 = malloc(msg_len);
	t->msg2 = malloc(nlen);
	if (!t->msg1 || !t->msg2) {
		ctl_tunnel_free(t);
		goto release;
	}
	memcpy(t->msg1, msg, msg_len);
	t->msg1_len = msg_len;
	memcpy(t->msg2, out, nlen);
	t->msg2_len = nlen;
	t->peer_time = peer_time;
	/*
	 * Install before answering: the control socket is ordered, so the
	 * dataplane knows the tunnel before message 2 leaves, and the
	 * initiator's first data packet finds it.
	 */
	if (ctl_tunnel_install(n, t) == 0) {
		char idx[16];

		n->counters.hs_completed[1]++;
		send_raw(n, &pkt->from, out, nlen);
		snprintf(idx, sizeof(idx), "%u", hp.responder_index);
		vl_log(VL_LOG_INFO, "Handshake message sent", "vpnIp", ip,
		       "udpAddr", from, "certName", c_name(n, vpn_ip),
		       "responderIndex", idx, NULL);
		/* After message 2: the peer has no tunnel before it. */
		ctl_lh_on_tunnel_up(n, t);
	}
release:
	ctl_hs_release(&hp);
	ctl_cert_free(c);
wipe:
	ctl_noise_wipe(&noise);
}

static void initiator(struct ctl_node *n, const struct ctlmsg_punt *pkt,
		      const struct wire_header *h)
{
	uint8_t payload[CTL_HS_MSG_MAX], send[32], recv[32];
	struct ctl_hs_payload hp = { 0 };
	struct vl_status st = { "" };
	struct ctl_pending *p;
	struct ctl_tunnel *t;
	struct ctl_cert *c;
	size_t plen;
	char from[64], ip[16];

	/* Found by our own index, not by address (§3.3). */
	p = pending_by_index(n, h->remote_index);
	if (!p)
		return;
	ctl_addr_str(&pkt->from, from, sizeof(from));
	ctl_ip_str(p->vpn_ip, ip);
	/* As the responder's check, before any work: keep waiting. */
	if (!ctl_remote_allowed(n, p->vpn_ip, &pkt->from)) {
		vl_log(VL_LOG_DEBUG,
		       "lighthouse.remote_allow_list denied incoming handshake",
		       "vpnIp", ip, "udpAddr", from, NULL);
		return;
	}
	if (ctl_noise_read_msg2(&p->noise, pkt->data + WIRE_HEADER_LEN,
				pkt->len - WIRE_HEADER_LEN, payload,
				sizeof(payload), &plen, &st)) {
		/* Perhaps forged: keep waiting for the real one (§3.8). */
		vl_log(VL_LOG_DEBUG, "Failed to read handshake message 2",
		       "vpnIp", ip, "udpAddr", from, "error", st.msg, NULL);
		return;
	}
	if (ctl_hs_decode(payload, plen, &hp, &st)) {
		vl_log(VL_LOG_INFO, "Invalid handshake payload", "vpnIp", ip,
		       "error", st.msg, NULL);
		n->counters.hs_failed[0]++;
		pending_remove(n, p);
		return;
	}
	c = peer_cert(n, &hp, ctl_noise_remote_static(&p->noise), from);
	if (!c || c->ips[0].ip != p->vpn_ip) {
		if (c)
			vl_log(VL_LOG_INFO,
			       "Incorrect host responded to handshake", "vpnIp",
			       ip, "udpAddr", from, "certName", c->name, NULL);
		ctl_cert_free(c);
		ctl_hs_release(&hp);
		n->counters.hs_failed[0]++;
		pending_remove(n, p);
		return;
	}
	if (ctl_noise_split(&p->noise, send, recv)) {
		ctl_cert_free(c);
		ctl_hs_release(&hp);
		n->counters.hs_failed[0]++;
		pending_remove(n, p);
		return;
	}
	t = tunnel_new(n, c, p->local_index, hp.responder_index, &pkt->from,
		       send, recv);
	sodium_memzero(send, sizeof(send));
	sodium_memzero(recv, sizeof(recv));
	if (!t) {
		ctl_cert_free(c);
	} else {
		t->peer_time = hp.time_ns;
		if (ctl_tunnel_install(n, t) == 0) {
			char idx[16];

			n->counters.hs_completed[0]++;
			snprintf(idx, sizeof(idx), "%u", t->add.remote_index);
			vl_log(VL_LOG_INFO,
			       "Handshake message received", "vpnIp", ip,
			       "udpAddr", from, "certName", t->name,
			       "responderIndex", idx, NULL);
			ctl_lh_on_tunnel_up(n, t);
		}
	}
	ctl_hs_release(&hp);
	pending_remove(n, p);
}

void ctl_hs_on_packet(struct ctl_node *n, const struct ctlmsg_punt *p)
{
	struct wire_header h;

	if (p->len < WIRE_HEADER_LEN || p->len > sizeof(p->data))
		return;
	wire_header_decode(p->data, &h);
	if (h.subtype != WIRE_SUB_IX_PSK0)
		return;
	if (h.counter == WIRE_HS_MSG1)
		responder(n, p);
	else if (h.counter == WIRE_HS_MSG2)
		initiator(n, p, &h);
}
