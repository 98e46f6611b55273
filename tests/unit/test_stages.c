/* SPDX-License-Identifier: MIT */
/*
 * The dataplane stages in memory, no kernel: host-b's worker receives the
 * Appendix A datagrams host-a sent and sends its own, byte for byte as the
 * spec has them; then the drop reasons, recv_errors, punts and the pending
 * queue, for both ciphers where the vectors allow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "aead_vectors.h"
#include "flow.h"
#include "fw.h"
#include "fw_any.h"
#include "noise_vectors.h"
#include "status.h"
#include "wire.h"
#include "worker.h"

#define HOST_A 0x0a010001 /* 10.1.0.1 */
#define HOST_B 0x0a010002
#define IDX_A 0x01020304
#define IDX_B 0xa0b0c0d0

struct env {
	struct dp_shared shared;
	struct dp_fw *fw;          /* allow-all unless a test loads others */
	struct dp_worker w;
	struct dp_sa *sa;          /* host-b's SA towards host-a */
	struct sockaddr_in6 peer;  /* host-a's underlay address */
	uint8_t rx[64][256];
	struct dp_pkt pkts[64];
};

static struct sockaddr_in6 addr4(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port) };
	char mapped[64];

	snprintf(mapped, sizeof(mapped), "::ffff:%s", ip);
	inet_pton(AF_INET6, mapped, &a.sin6_addr);
	return a;
}

static const struct nebula_transport_test_data *vector(const char *name)
{
	for (size_t i = 0; i < sizeof(nebula_aes_transport_vectors) /
				       sizeof(nebula_aes_transport_vectors[0]);
	     i++)
		if (!strcmp(nebula_aes_transport_vectors[i].name, name))
			return &nebula_aes_transport_vectors[i];
	fail_msg("no vector %s", name);
	return NULL;
}

/* @sa's view of the rules in e->fw, replacing the one it had. */
static void sa_rules(struct env *e, struct dp_sa *sa)
{
	struct ctlmsg_fw_peer id;
	struct vl_status st = { "" };
	struct dp_fw_peer *p;

	fw_any_peer(&id, "host-a");
	assert_int_equal(dp_fw_peer_new(e->fw, &id, &p, &st), 0);
	dp_fw_peer_free(atomic_exchange(&sa->fw, p));
}

/*
 * Loads these rules as generation @gen into e->fw and gives e->sa a view
 * of them, as the control thread does on a reload.
 */
static void load_rules(struct env *e, uint32_t gen,
		       const struct ctlmsg_fw_rule *in, uint32_t n_in,
		       const struct ctlmsg_fw_rule *out, uint32_t n_out)
{
	_Alignas(8) uint8_t rec[1024];
	struct vl_status st = { "" };
	struct dp_fw *fw;
	uint32_t len;

	len = fw_build(rec, 1, in, n_in, out, n_out);
	memcpy(rec + offsetof(struct ctlmsg_firewall, gen), &gen, sizeof(gen));
	assert_int_equal(dp_fw_load(rec, len, &fw, &st), 0);
	dp_fw_peer_free(atomic_exchange(&e->sa->fw, NULL));
	dp_fw_free(e->fw);
	e->fw = fw;
	sa_rules(e, e->sa);
}

static struct dp_sa *make_sa(struct env *e, uint32_t local, uint32_t remote,
			     uint32_t vpn_ip, bool known_remote)
{
	struct ctlmsg_tunnel_add m = { .local_index = local,
				       .remote_index = remote,
				       .vpn_ip = vpn_ip,
				       .cipher = VL_CIPHER_AES,
				       .send_counter = 2,
				       .lease_end = CTLMSG_LEASE_STEP,
				       .recv_max = 2,
				       .n_peer_nets = 1,
				       .peer_nets = { { vpn_ip, 0xffffffff } } };
	struct vl_status st = { "" };
	struct dp_sa *sa;

	if (known_remote)
		m.remote = e->peer;
	if (vpn_ip == HOST_A) /* host-a's certificate carries 192.168.77.0/24 */
		m.peer_nets[m.n_peer_nets++] =
			(struct ctlmsg_net){ 0xc0a84d00, 0xffffff00 };
	/* host-b: receives with k1, sends with k2. */
	memcpy(m.send_key, vec_noise_aes_k2, 32);
	memcpy(m.recv_key, vec_noise_aes_k1, 32);
	assert_int_equal(dp_sa_new(&m, &sa, &st), 0);
	sa_rules(e, sa);
	return sa;
}

static void publish(struct env *e, struct dp_sa **sas, unsigned int n)
{
	struct dp_sa_table *old = atomic_load(&e->shared.sa_table);

	atomic_store(&e->shared.sa_table, dp_sa_table_build(sas, n));
	assert_non_null(atomic_load(&e->shared.sa_table));
	dp_sa_table_free(old);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct ctlmsg_setup *s;

	if (!e || vl_aead_init())
		return -1;
	s = &e->shared.setup;
	s->vpn = (struct ctlmsg_net){ HOST_B, 0xffff0000 };
	s->n_local_nets = 2;
	s->local_nets[0] = (struct ctlmsg_net){ HOST_B, 0xffffffff };
	s->local_nets[1] = (struct ctlmsg_net){ 0xc0a83200, 0xffffff00 };
	s->n_routes = 2;
	s->routes[0] = (struct ctlmsg_route){ { 0xc0a84d00, 0xffffff00 },
					      HOST_A, 0, 0 };
	/* Via host-a too, but not in its certificate. */
	s->routes[1] = (struct ctlmsg_route){ { 0xc0a84f00, 0xffffff00 },
					      HOST_A, 0, 0 };
	s->send_recv_error = CTLMSG_RECV_ERROR_ALWAYS;
	s->pending_timeout_ms = 1000;
	e->peer = addr4("172.31.0.1", 4242);
	if (dp_worker_init(&e->w, 0, &e->shared))
		return -1;
	{
		static const struct dp_flow_timeouts to = { 1000, 1000, 1000 };
		uint8_t rec[FW_ANY_LEN];
		struct vl_status st = { "" };

		e->shared.flows = dp_flow_table_new(4096, &to);
		fw_any_build(rec, 1);
		if (!e->shared.flows || dp_fw_load(rec, FW_ANY_LEN, &e->fw, &st))
			return -1;
	}
	e->sa = make_sa(e, IDX_B, IDX_A, HOST_A, true);
	publish(e, &e->sa, 1);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	dp_sa_table_free(atomic_load(&e->shared.sa_table));
	dp_sa_free(e->sa);
	dp_fw_free(e->fw);
	dp_flow_table_free(e->shared.flows);
	dp_worker_free(&e->w);
	free(e);
	return 0;
}

/* Runs one inbound burst of the given datagrams from @from. */
static void inbound(struct env *e, const uint8_t *const *d,
		    const unsigned int *len, unsigned int n,
		    const struct sockaddr_in6 *from)
{
	for (unsigned int i = 0; i < n; i++) {
		memcpy(e->rx[i], d[i], len[i]);
		e->pkts[i] = (struct dp_pkt){ .data = e->rx[i], .len = len[i],
					      .addr = *from };
	}
	dp_worker_begin(&e->w, 1000);
	dp_in_burst(&e->w, e->pkts, n);
}

static void inbound_one(struct env *e, const uint8_t *d, unsigned int len)
{
	inbound(e, &d, &len, 1, &e->peer);
}

/* A datagram host-a would send: sealed with k1 at @counter. */
static unsigned int seal_as_a(uint8_t *out, uint8_t type, uint8_t subtype,
			      uint32_t index, uint64_t counter,
			      const uint8_t *pt, unsigned int len)
{
	struct vl_aead_key k;
	uint8_t nonce[12];

	vl_aead_key_set(&k, VL_CIPHER_AES, vec_noise_aes_k1);
	wire_header_encode(out, (enum wire_type)type, subtype, index, counter);
	vl_aead_nonce(VL_CIPHER_AES, counter, nonce);
	vl_aead_seal(&k, nonce, out, 16, pt, len, out + 16);
	vl_aead_key_wipe(&k);
	return len + 32;
}

static void test_stages_inbound_vectors(void **state)
{
	struct env *e = *state;
	const struct nebula_transport_test_data *data, *test, *lh, *close;

	data = vector("AESGCM DATA host-a->host-b");
	test = vector("AESGCM TEST request host-a->host-b");
	lh = vector("AESGCM LIGHTHOUSE HostQuery(10.1.0.2) host-a->host-b");
	close = vector("AESGCM CLOSETUNNEL host-a->host-b");

	/* Data: the inner packet goes to the TUN, exactly. */
	inbound_one(e, data->datagram.data, data->datagram.len);
	assert_int_equal(e->w.n_to_tun, 1);
	assert_int_equal(e->w.to_tun_len[0], data->plaintext.len);
	assert_memory_equal(e->w.to_tun[0], data->plaintext.data,
			    data->plaintext.len);
	assert_int_equal(e->w.n_punts, 0);

	/* Test request: answered on the worker, counter 3, readable with k2. */
	inbound_one(e, test->datagram.data, test->datagram.len);
	assert_int_equal(e->w.n_to_net, 1);
	{
		const struct dp_pkt *r = &e->w.to_net[0];
		struct wire_header h;
		struct vl_aead_key k;
		uint8_t nonce[12], pt[16];

		assert_int_equal(r->len, 32);
		wire_header_decode(r->data, &h);
		assert_int_equal(h.type, WIRE_TEST);
		assert_int_equal(h.subtype, WIRE_SUB_TEST_REPLY);
		assert_int_equal(h.remote_index, IDX_A);
		assert_int_equal(h.counter, 3);
		assert_memory_equal(&r->addr, &e->peer, sizeof(e->peer));
		vl_aead_key_set(&k, VL_CIPHER_AES, vec_noise_aes_k2);
		vl_aead_nonce(VL_CIPHER_AES, 3, nonce);
		assert_true(vl_aead_open(&k, nonce, r->data, 16, r->data + 16, 0,
					 pt));
		vl_aead_key_wipe(&k);
	}

	/* Lighthouse and closeTunnel: decrypted, punted with the tunnel. */
	inbound_one(e, lh->datagram.data, lh->datagram.len);
	assert_int_equal(e->w.n_punts, 1);
	assert_int_equal(e->w.punts[0].reason, CTLMSG_PUNT_TUNNEL_MSG);
	assert_int_equal(e->w.punts[0].type, WIRE_LIGHTHOUSE);
	assert_int_equal(e->w.punts[0].local_index, IDX_B);
	assert_int_equal(e->w.punts[0].counter, 5);
	assert_int_equal(e->w.punts[0].len, lh->plaintext.len);
	assert_memory_equal(e->w.punts[0].data, lh->plaintext.data,
			    lh->plaintext.len);
	inbound_one(e, close->datagram.data, close->datagram.len);
	assert_int_equal(e->w.n_punts, 1);
	assert_int_equal(e->w.punts[0].type, WIRE_CLOSE_TUNNEL);
	assert_int_equal(e->w.punts[0].len, 0);

	assert_int_equal(atomic_load(&e->sa->rx_packets), 4);
	for (int i = 0; i < DP_DROP_MAX; i++)
		assert_int_equal(e->w.stats.drops[i], 0);
}

static void test_stages_outbound_vector(void **state)
{
	struct env *e = *state;
	const struct nebula_transport_test_data *v;
	uint32_t len;

	/* host-b -> host-a at counter 3: the spec's datagram, exactly. */
	v = vector("AESGCM DATA host-b->host-a");
	len = v->plaintext.len;
	dp_worker_begin(&e->w, 1000);
	memcpy(e->w.tx_bufs[0] + DP_HEADROOM, v->plaintext.data, len);
	dp_out_burst(&e->w, &len, 1);
	assert_int_equal(e->w.n_to_net, 1);
	assert_int_equal(e->w.to_net[0].len, v->datagram.len);
	assert_memory_equal(e->w.to_net[0].data, v->datagram.data,
			    v->datagram.len);
	assert_memory_equal(&e->w.to_net[0].addr, &e->peer, sizeof(e->peer));
	assert_int_equal(atomic_load(&e->sa->send_counter), 3);
}

static void test_stages_replay_and_recv_error(void **state)
{
	struct env *e = *state;
	const struct nebula_transport_test_data *v;
	static const uint8_t want[16] = { 0x12, 0, 0, 0, 0xa0, 0xb0, 0xc0, 0xd0 };
	uint8_t other[96];

	v = vector("AESGCM DATA host-a->host-b");
	inbound_one(e, v->datagram.data, v->datagram.len);
	assert_int_equal(e->w.n_to_tun, 1);

	/* The same datagram again: a replay, answered with a recv_error. */
	inbound_one(e, v->datagram.data, v->datagram.len);
	assert_int_equal(e->w.n_to_tun, 0);
	assert_int_equal(e->w.stats.drops[DP_DROP_REPLAY], 1);
	assert_int_equal(e->w.n_to_net, 1);
	assert_int_equal(e->w.to_net[0].len, 16);
	assert_memory_equal(e->w.to_net[0].data, want, 16);

	/* An unknown index: the spec's recv_error bytes for it. */
	memcpy(other, v->datagram.data, v->datagram.len);
	wire_put_be32(other + 4, 0x0badf00d);
	inbound_one(e, other, v->datagram.len);
	assert_int_equal(e->w.stats.drops[DP_DROP_NO_TUNNEL], 1);
	assert_int_equal(e->w.n_to_net, 1);
	assert_int_equal(wire_get_be32(e->w.to_net[0].data + 4), 0x0badf00d);

	/* send_recv_error: private answers only private sources. */
	e->shared.setup.send_recv_error = CTLMSG_RECV_ERROR_PRIVATE;
	inbound_one(e, other, v->datagram.len); /* 172.31/16 is private */
	assert_int_equal(e->w.n_to_net, 1);
	{
		struct sockaddr_in6 pub = addr4("8.8.8.8", 4242);
		const uint8_t *d = other;
		unsigned int l = v->datagram.len;

		inbound(e, &d, &l, 1, &pub);
		assert_int_equal(e->w.n_to_net, 0);
	}
	e->shared.setup.send_recv_error = CTLMSG_RECV_ERROR_NEVER;
	inbound_one(e, other, v->datagram.len);
	assert_int_equal(e->w.n_to_net, 0);
	e->shared.setup.send_recv_error = CTLMSG_RECV_ERROR_ALWAYS;
}

static void test_stages_forgery_consumes_nothing(void **state)
{
	struct env *e = *state;
	const struct nebula_transport_test_data *v;
	uint8_t bad[96];

	v = vector("AESGCM DATA host-a->host-b");
	for (unsigned int bit = 0; bit < v->datagram.len * 8; bit += 7) {
		/* Header bits that change type or index take other paths. */
		if (bit < 64)
			continue;
		memcpy(bad, v->datagram.data, v->datagram.len);
		bad[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		inbound_one(e, bad, v->datagram.len);
		assert_int_equal(e->w.n_to_tun, 0);
		assert_int_equal(e->w.n_to_net, 0); /* no recv_error for a bad tag */
	}
	assert_true(e->w.stats.drops[DP_DROP_BAD_TAG] > 0);
	/* The genuine packet still gets through: no counter was used. */
	inbound_one(e, v->datagram.data, v->datagram.len);
	assert_int_equal(e->w.n_to_tun, 1);
}

static void test_stages_inbound_drops(void **state)
{
	static const uint8_t punch[1] = { 0x01 }, five[5] = { 0 };
	struct env *e = *state;
	/* 10.1.0.1 -> 10.1.0.2 UDP, 28 bytes, checksums irrelevant here. */
	uint8_t ip[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0,
			   10, 1, 0, 1, 10, 1, 0, 2, 0x13, 0x88, 0x17, 0x70,
			   0, 8, 0, 0 };
	uint8_t d[96], hs[40] = { 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				  0, 0, 1 };
	struct sockaddr_in6 inside = addr4("10.1.0.9", 4242);
	const uint8_t *p = hs;
	unsigned int n = sizeof(hs);
	uint64_t c = 10;

	inbound_one(e, punch, 1);
	assert_int_equal(e->w.stats.punches, 1);
	inbound_one(e, five, 5);
	assert_int_equal(e->w.stats.drops[DP_DROP_SHORT], 1);

	/* A handshake goes to the control plane as it came. */
	inbound_one(e, hs, sizeof(hs));
	assert_int_equal(e->w.n_punts, 1);
	assert_int_equal(e->w.punts[0].reason, CTLMSG_PUNT_HANDSHAKE);
	assert_int_equal(e->w.punts[0].len, sizeof(hs));
	assert_memory_equal(e->w.punts[0].data, hs, sizeof(hs));

	/* From inside the VPN network: a tunnel inside itself. */
	inbound(e, &p, &n, 1, &inside);
	assert_int_equal(e->w.stats.drops[DP_DROP_OWN_NETWORK], 1);

	/* Unknown type, relay envelope. */
	n = seal_as_a(d, 9, 0, IDX_B, c++, ip, sizeof(ip));
	inbound_one(e, d, n);
	assert_int_equal(e->w.stats.drops[DP_DROP_UNKNOWN_TYPE], 1);
	n = seal_as_a(d, WIRE_MESSAGE, WIRE_SUB_RELAY, IDX_B, c++, ip, sizeof(ip));
	inbound_one(e, d, n);
	assert_int_equal(e->w.stats.drops[DP_DROP_RELAY], 1);

	/* The inner packet: from the peer, to us, well-formed. */
	n = seal_as_a(d, WIRE_MESSAGE, 0, IDX_B, c++, ip, sizeof(ip));
	inbound_one(e, d, n);
	assert_int_equal(e->w.n_to_tun, 1);
	ip[15] = 7; /* source 10.1.0.7: not in host-a's certificate */
	n = seal_as_a(d, WIRE_MESSAGE, 0, IDX_B, c++, ip, sizeof(ip));
	inbound_one(e, d, n);
	assert_int_equal(e->w.stats.drops[DP_DROP_SPOOFED], 1);
	ip[15] = 1;
	ip[19] = 9; /* destination 10.1.0.9: not ours */
	n = seal_as_a(d, WIRE_MESSAGE, 0, IDX_B, c++, ip, sizeof(ip));
	inbound_one(e, d, n);
	assert_int_equal(e->w.stats.drops[DP_DROP_NOT_FOR_US], 1);
	ip[16] = 192, ip[17] = 168, ip[18] = 50, ip[19] = 3;
	n = seal_as_a(d, WIRE_MESSAGE, 0, IDX_B, c++, ip, sizeof(ip));
	inbound_one(e, d, n); /* our certificate's subnet: ours */
	assert_int_equal(e->w.n_to_tun, 1);
	ip[0] = 0x60; /* IPv6 inside */
	n = seal_as_a(d, WIRE_MESSAGE, 0, IDX_B, c++, ip, sizeof(ip));
	inbound_one(e, d, n);
	assert_int_equal(e->w.stats.drops[DP_DROP_BAD_INNER], 1);
	ip[0] = 0x45;
	/* A UDP packet without its ports. */
	n = seal_as_a(d, WIRE_MESSAGE, 0, IDX_B, c++, ip, 22);
	inbound_one(e, d, n);
	assert_int_equal(e->w.stats.drops[DP_DROP_BAD_INNER], 2);
	/* Header and tag but not even an empty plaintext's worth. */
	n = seal_as_a(d, WIRE_MESSAGE, 0, IDX_B, c++, ip, 0);
	inbound_one(e, d, n - 1);
	assert_int_equal(e->w.stats.drops[DP_DROP_SHORT], 2);
}

static void test_stages_roaming_punt(void **state)
{
	struct env *e = *state;
	struct sockaddr_in6 moved = addr4("172.31.0.77", 5555);
	const struct nebula_transport_test_data *v;
	const uint8_t *d;
	unsigned int n;

	v = vector("AESGCM DATA host-a->host-b");
	d = v->datagram.data;
	n = v->datagram.len;
	inbound(e, &d, &n, 1, &moved);
	assert_int_equal(e->w.n_to_tun, 1);
	assert_int_equal(e->w.n_punts, 1);
	assert_int_equal(e->w.punts[0].reason, CTLMSG_PUNT_ROAM);
	assert_int_equal(e->w.punts[0].local_index, IDX_B);
	assert_memory_equal(&e->w.punts[0].from, &moved, sizeof(moved));

	/* Two more packets from the new address in one burst: one report. */
	{
		uint8_t t1[64], t2[64];
		const uint8_t *dd[2] = { t1, t2 };
		unsigned int nn[2];

		nn[0] = seal_as_a(t1, WIRE_TEST, WIRE_SUB_TEST_REQUEST, IDX_B,
				  10, NULL, 0);
		nn[1] = seal_as_a(t2, WIRE_TEST, WIRE_SUB_TEST_REQUEST, IDX_B,
				  11, NULL, 0);
		inbound(e, dd, nn, 2, &moved);
		assert_int_equal(e->w.stats.test_replies, 2);
		assert_int_equal(e->w.n_punts, 1);
		assert_int_equal(e->w.punts[0].reason, CTLMSG_PUNT_ROAM);
	}
}

static void test_stages_outbound_routes_and_drops(void **state)
{
	struct env *e = *state;
	uint8_t ip[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0,
			   10, 1, 0, 2, 10, 1, 0, 1, 0, 1, 0, 2, 0, 8, 0, 0 };
	static const struct {
		uint8_t src[4], dst[4];
		int drop; /* -1: sent */
	} cases[] = {
		{ { 10, 1, 0, 2 }, { 10, 1, 0, 1 }, -1 },
		/* unsafe route via A, whose certificate carries it */
		{ { 10, 1, 0, 2 }, { 192, 168, 77, 5 }, -1 },
		/* via A, not in its certificate (1.6.1: droppedRemoteIP) */
		{ { 10, 1, 0, 2 }, { 192, 168, 79, 5 }, DP_DROP_NOT_PEERS },
		/* from our certificate's subnet: a gateway's LAN */
		{ { 192, 168, 50, 7 }, { 10, 1, 0, 1 }, -1 },
		/* from outside our certificate (1.6.1: droppedLocalIP) */
		{ { 192, 168, 51, 7 }, { 10, 1, 0, 1 }, DP_DROP_NOT_OURS },
		{ { 10, 1, 0, 2 }, { 192, 168, 78, 5 }, DP_DROP_NO_ROUTE },
		{ { 10, 1, 0, 2 }, { 10, 1, 0, 2 }, DP_DROP_TO_SELF },
		{ { 10, 1, 0, 2 }, { 224, 0, 0, 1 }, DP_DROP_MULTICAST },
		{ { 10, 1, 0, 2 }, { 10, 1, 255, 255 }, DP_DROP_BROADCAST },
	};
	uint32_t len = sizeof(ip);

	e->shared.setup.drop_multicast = 1;
	e->shared.setup.drop_local_broadcast = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(ip + 12, cases[i].src, 4);
		memcpy(ip + 16, cases[i].dst, 4);
		dp_worker_begin(&e->w, 1000);
		memcpy(e->w.tx_bufs[0] + DP_HEADROOM, ip, sizeof(ip));
		dp_out_burst(&e->w, &len, 1);
		if (cases[i].drop < 0) {
			assert_int_equal(e->w.n_to_net, 1);
			continue;
		}
		assert_int_equal(e->w.n_to_net, 0);
		assert_int_equal(e->w.stats.drops[cases[i].drop], 1);
	}
	/* Not IPv4 at all. */
	ip[0] = 0x60;
	dp_worker_begin(&e->w, 1000);
	memcpy(e->w.tx_bufs[0] + DP_HEADROOM, ip, sizeof(ip));
	dp_out_burst(&e->w, &len, 1);
	assert_int_equal(e->w.stats.drops[DP_DROP_NOT_IPV4], 1);
}

static void test_stages_pending_queue(void **state)
{
	struct env *e = *state;
	uint8_t ip[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0,
			   10, 1, 0, 2, 10, 1, 0, 3, 0, 1, 0, 2, 0, 8, 0, 0 };
	uint32_t lens[DP_BURST_MAX];
	struct dp_sa *sas[2];
	uint64_t first = 0;

	/* 10.1.0.3 has no tunnel: 30 packets wait, one MISS is punted. */
	dp_worker_begin(&e->w, 1000);
	for (unsigned int i = 0; i < 30; i++) {
		ip[4] = (uint8_t)i; /* IP ID: tells them apart */
		memcpy(e->w.tx_bufs[i] + DP_HEADROOM, ip, sizeof(ip));
		lens[i] = sizeof(ip);
	}
	dp_out_burst(&e->w, lens, 30);
	assert_int_equal(e->w.n_to_net, 0);
	assert_int_equal(e->w.n_punts, 1);
	assert_int_equal(e->w.punts[0].reason, CTLMSG_PUNT_MISS);
	assert_int_equal(e->w.punts[0].vpn_ip, 0x0a010003);
	dp_worker_begin(&e->w, 2000);
	dp_out_flush_pending(&e->w);
	assert_int_equal(e->w.n_to_net, 0);

	/* The handshake completes: the queue leaves in order, counters 3.. */
	sas[0] = e->sa;
	sas[1] = make_sa(e, 0x11111111, 0x22222222, 0x0a010003, true);
	publish(e, sas, 2);
	dp_worker_begin(&e->w, 3000);
	dp_out_flush_pending(&e->w);
	assert_int_equal(e->w.n_to_net, 30);
	for (unsigned int i = 0; i < 30; i++) {
		struct wire_header h;

		wire_header_decode(e->w.to_net[i].data, &h);
		assert_int_equal(h.remote_index, 0x22222222);
		if (!i)
			first = h.counter;
		assert_int_equal(h.counter, first + i);
	}
	assert_int_equal(first, 3);

	/* Another peer that never answers: dropped after the timeout. */
	ip[19] = 4;
	dp_worker_begin(&e->w, 4000);
	memcpy(e->w.tx_bufs[0] + DP_HEADROOM, ip, sizeof(ip));
	lens[0] = sizeof(ip);
	dp_out_burst(&e->w, lens, 1);
	dp_worker_begin(&e->w, 4000 + 2000ull * 1000000);
	dp_out_flush_pending(&e->w);
	assert_int_equal(e->w.stats.drops[DP_DROP_PENDING_TIMEOUT], 1);
	assert_int_equal(e->w.n_pending_free + e->w.n_pending_sent,
			 DP_PENDING_BUFS);

	/* Over 100 for one peer: the rest is dropped and counted. */
	dp_worker_begin(&e->w, 5000);
	for (unsigned int i = 0; i < DP_BURST_MAX; i++) {
		memcpy(e->w.tx_bufs[i] + DP_HEADROOM, ip, sizeof(ip));
		lens[i] = sizeof(ip);
	}
	dp_out_burst(&e->w, lens, DP_BURST_MAX);
	dp_out_burst(&e->w, lens, DP_BURST_MAX);
	assert_int_equal(e->w.stats.drops[DP_DROP_PENDING_FULL],
			 2 * DP_BURST_MAX - DP_PENDING_PER_PEER);

	publish(e, &e->sa, 1);
	dp_sa_free(sas[1]);
}

static void test_stages_lease(void **state)
{
	struct env *e = *state;
	const struct nebula_transport_test_data *v;
	uint32_t len;

	/* No counter past the lease end is ever used. */
	v = vector("AESGCM DATA host-b->host-a");
	len = v->plaintext.len;
	atomic_store(&e->sa->lease_end, 4);
	for (int i = 0; i < 4; i++) {
		dp_worker_begin(&e->w, 1000);
		memcpy(e->w.tx_bufs[0] + DP_HEADROOM, v->plaintext.data, len);
		dp_out_burst(&e->w, &len, 1);
		assert_int_equal(e->w.n_to_net, i < 2 ? 1 : 0);
	}
	assert_int_equal(e->w.stats.drops[DP_DROP_LEASE], 2);
	assert_true(dp_sa_lease_wanted(e->sa));
	assert_false(dp_sa_lease_wanted(e->sa)); /* asked once */
}

/*
 * A burst to one peer takes its counters with one reservation; at the end
 * of a lease what fits is sent, in order and with consecutive counters,
 * and only the rest is dropped.
 */
static void test_stages_lease_run(void **state)
{
	struct env *e = *state;
	const struct nebula_transport_test_data *v;
	uint32_t lens[5];
	uint64_t tx0 = atomic_load(&e->sa->tx_packets);

	v = vector("AESGCM DATA host-b->host-a");
	/* send_counter is 2: counters 3, 4 and 5 are left. */
	atomic_store(&e->sa->lease_end, 5);
	dp_worker_begin(&e->w, 1000);
	for (int i = 0; i < 5; i++) {
		memcpy(e->w.tx_bufs[i] + DP_HEADROOM, v->plaintext.data,
		       v->plaintext.len);
		lens[i] = v->plaintext.len;
	}
	dp_out_burst(&e->w, lens, 5);
	assert_int_equal(e->w.n_to_net, 3);
	for (unsigned int i = 0; i < 3; i++) {
		struct wire_header h;

		assert_ptr_equal(e->w.to_net[i].data,
				 e->w.tx_bufs[i] + DP_HEADROOM - WIRE_HEADER_LEN);
		wire_header_decode(e->w.to_net[i].data, &h);
		assert_int_equal(h.counter, 3 + i);
	}
	assert_int_equal(e->w.stats.drops[DP_DROP_LEASE], 2);
	assert_int_equal(atomic_load(&e->sa->send_counter), 5);
	assert_int_equal(atomic_load(&e->sa->tx_packets) - tx0, 3);
}

static void test_stages_handshake_flood_rate_limited(void **state)
{
	struct env *e = *state;
	uint8_t hs[40] = { 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	const uint8_t *d[50];
	unsigned int len[50];
	struct sockaddr_in6 flood = addr4("172.31.9.9", 4242);
	struct sockaddr_in6 other = addr4("172.31.9.10", 4242);

	for (int i = 0; i < 50; i++) {
		d[i] = hs;
		len[i] = sizeof(hs);
	}
	/* One source: the burst allowance, then a counted drop for each. */
	inbound(e, d, len, 50, &flood);
	assert_int_equal(e->w.n_punts, DP_PUNT_BURST);
	assert_int_equal(e->w.stats.drops[DP_DROP_PUNT_RATE],
			 50 - DP_PUNT_BURST);
	/* Another source is not held back by the first. */
	inbound(e, d, len, 1, &other);
	assert_int_equal(e->w.n_punts, 1);

	/* One second later the flooding source has DP_PUNT_RATE again. */
	for (unsigned int i = 0; i < 50; i++) {
		memcpy(e->rx[i], hs, sizeof(hs));
		e->pkts[i] = (struct dp_pkt){ .data = e->rx[i],
					      .len = sizeof(hs), .addr = flood };
	}
	dp_worker_begin(&e->w, 1000 + 1000000000ull);
	dp_in_burst(&e->w, e->pkts, 50);
	assert_int_equal(e->w.n_punts, DP_PUNT_RATE);
}

/* What the hooks saw, in order; each drops when its point is in drop_at. */
static struct {
	unsigned int n;
	enum dp_hook_point point[8];
	uint32_t peer[8];
	unsigned int drop_at; /* bit per point */
	uint8_t set_tos;      /* IN_PRE rewrites the TOS byte to this */
} seen;

static enum dp_verdict record(void *arg, const struct dp_hook_pkt *p)
{
	enum dp_hook_point point = (enum dp_hook_point)(uintptr_t)arg;

	assert_true(p->len >= 20);
	assert_int_equal(p->ip[0] >> 4, 4);
	if (seen.n < 8) {
		seen.point[seen.n] = point;
		seen.peer[seen.n++] = p->peer_vpn_ip;
	}
	if (point == DP_HOOK_IN_PRE && seen.set_tos)
		p->ip[1] = seen.set_tos;
	return seen.drop_at & 1u << point ? DP_VERDICT_DROP : DP_VERDICT_PASS;
}

static void hooks_everywhere(struct env *e)
{
	memset(&seen, 0, sizeof(seen));
	for (unsigned int p = 0; p < DP_HOOK_POINTS; p++)
		assert_int_equal(dp_hooks_add(&e->shared.hooks,
					      (enum dp_hook_point)p, record,
					      (void *)(uintptr_t)p),
				 0);
}

static void test_stages_hooks_inbound(void **state)
{
	struct env *e = *state;
	const struct nebula_transport_test_data *v;

	v = vector("AESGCM DATA host-a->host-b");
	hooks_everywhere(e);

	/* IN_PRE drops: nothing delivered, the counter spent all the same. */
	seen.drop_at = 1u << DP_HOOK_IN_PRE;
	inbound_one(e, v->datagram.data, v->datagram.len);
	assert_int_equal(e->w.n_to_tun, 0);
	assert_int_equal(e->w.stats.drops[DP_DROP_HOOK], 1);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.point[0], DP_HOOK_IN_PRE);
	assert_int_equal(seen.peer[0], HOST_A);
	inbound_one(e, v->datagram.data, v->datagram.len);
	assert_int_equal(e->w.stats.drops[DP_DROP_REPLAY], 1);

	/* Both pass, in order; what IN_PRE rewrote is what the TUN gets. */
	seen.drop_at = 0;
	seen.n = 0;
	seen.set_tos = 0x10;
	{
		uint8_t d[256];
		unsigned int len;

		len = seal_as_a(d, WIRE_MESSAGE, WIRE_SUB_NONE, IDX_B, 4,
				v->plaintext.data, (unsigned int)v->plaintext.len);
		inbound_one(e, d, len);
	}
	assert_int_equal(e->w.n_to_tun, 1);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.point[0], DP_HOOK_IN_PRE);
	assert_int_equal(seen.point[1], DP_HOOK_IN_POST);
	assert_int_equal(e->w.to_tun[0][1], 0x10);
	assert_memory_equal(e->w.to_tun[0] + 2, v->plaintext.data + 2,
			    v->plaintext.len - 2);

	/* Only the inbound points ran. */
	assert_int_equal(e->w.stats.drops[DP_DROP_HOOK], 1);
}

static void test_stages_hooks_outbound(void **state)
{
	struct env *e = *state;
	const struct nebula_transport_test_data *v;
	uint32_t len;

	v = vector("AESGCM DATA host-b->host-a");
	len = v->plaintext.len;
	hooks_everywhere(e);

	/* OUT_POST drops: nothing sealed, no counter spent. */
	seen.drop_at = 1u << DP_HOOK_OUT_POST;
	dp_worker_begin(&e->w, 1000);
	memcpy(e->w.tx_bufs[0] + DP_HEADROOM, v->plaintext.data, len);
	dp_out_burst(&e->w, &len, 1);
	assert_int_equal(e->w.n_to_net, 0);
	assert_int_equal(e->w.stats.drops[DP_DROP_HOOK], 1);
	assert_int_equal(atomic_load(&e->sa->send_counter), 2);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.point[0], DP_HOOK_OUT_PRE);
	assert_int_equal(seen.peer[0], 0); /* not routed yet */
	assert_int_equal(seen.point[1], DP_HOOK_OUT_POST);
	assert_int_equal(seen.peer[1], HOST_A);

	/* OUT_PRE drops: OUT_POST never sees it. */
	seen.drop_at = 1u << DP_HOOK_OUT_PRE;
	seen.n = 0;
	dp_worker_begin(&e->w, 1000);
	memcpy(e->w.tx_bufs[0] + DP_HEADROOM, v->plaintext.data, len);
	dp_out_burst(&e->w, &len, 1);
	assert_int_equal(e->w.n_to_net, 0);
	assert_int_equal(seen.n, 1);

	/*
	 * An injected packet skips every hook and is sealed as the spec's
	 * datagram: the first counter is still free.
	 */
	seen.n = 0;
	dp_worker_begin(&e->w, 1000);
	memcpy(e->w.tx_bufs[1] + DP_HEADROOM, v->plaintext.data, len);
	dp_out_inject(&e->w, &e->w.tx_bufs[1], &len, 1);
	assert_int_equal(seen.n, 0);
	assert_int_equal(e->w.n_to_net, 1);
	assert_memory_equal(e->w.to_net[0].data, v->datagram.data,
			    v->datagram.len);
	assert_int_equal(e->w.stats.drops[DP_DROP_HOOK], 2);
}

/* A packet that waited for its handshake meets OUT_POST when it leaves. */
static void test_stages_hooks_pending(void **state)
{
	struct env *e = *state;
	uint32_t peer = 0x0a010009, len = 28;
	struct dp_sa *sa;
	uint8_t *ip;

	hooks_everywhere(e);
	seen.drop_at = 1u << DP_HOOK_OUT_POST;
	dp_worker_begin(&e->w, 1000);
	ip = e->w.tx_bufs[0] + DP_HEADROOM;
	memset(ip, 0, len);
	ip[0] = 0x45;
	ip[3] = (uint8_t)len;
	ip[9] = 17;
	wire_put_be32(ip + 12, HOST_B);
	wire_put_be32(ip + 16, peer);
	dp_out_burst(&e->w, &len, 1);
	assert_int_equal(e->w.n_punts, 1); /* MISS */
	assert_int_equal(seen.n, 1);       /* OUT_PRE only */

	sa = make_sa(e, 0x77, 0x88, peer, true);
	{
		struct dp_sa *both[2] = { e->sa, sa };

		publish(e, both, 2);
	}
	dp_worker_begin(&e->w, 2000);
	dp_out_flush_pending(&e->w);
	assert_int_equal(e->w.n_to_net, 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.point[1], DP_HOOK_OUT_POST);
	assert_int_equal(seen.peer[1], peer);
	assert_int_equal(e->w.stats.drops[DP_DROP_HOOK], 1);
	/* The buffer went back to the pool. */
	dp_worker_begin(&e->w, 3000);
	assert_int_equal(e->w.n_pending_free, DP_PENDING_BUFS);

	publish(e, &e->sa, 1);
	dp_sa_free(sa);
}

/* An IPv4/UDP packet of 28 bytes; checksums are not looked at here. */
static uint32_t udp4(uint8_t *ip, uint32_t src, uint16_t sport, uint32_t dst,
		     uint16_t dport)
{
	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[3] = 28;
	ip[8] = 64;
	ip[9] = 17;
	wire_put_be32(ip + 12, src);
	wire_put_be32(ip + 16, dst);
	ip[20] = (uint8_t)(sport >> 8);
	ip[21] = (uint8_t)sport;
	ip[22] = (uint8_t)(dport >> 8);
	ip[23] = (uint8_t)dport;
	ip[25] = 8;
	return 28;
}

/* host-a -> host-b, sealed at @counter, through host-b's inbound stage. */
static void in_udp(struct env *e, uint64_t counter, uint16_t sport,
		   uint16_t dport)
{
	uint8_t ip[28], d[128];
	unsigned int len;

	udp4(ip, HOST_A, sport, HOST_B, dport);
	len = seal_as_a(d, WIRE_MESSAGE, WIRE_SUB_NONE, IDX_B, counter, ip, 28);
	inbound_one(e, d, len);
}

/* host-b -> host-a through the outbound stage; returns datagrams sealed. */
static unsigned int out_udp(struct env *e, uint16_t sport, uint16_t dport)
{
	uint32_t len;

	dp_worker_begin(&e->w, 1000);
	len = udp4(e->w.tx_bufs[0] + DP_HEADROOM, HOST_B, sport, HOST_A, dport);
	dp_out_burst(&e->w, &len, 1);
	return e->w.n_to_net;
}

static struct dp_flow_record one_flow(struct env *e)
{
	struct dp_flow_record r[2];
	uint32_t cursor = 0;

	assert_int_equal(dp_flow_extract(e->shared.flows, r, 2, &cursor, false,
					 1000),
			 1);
	return r[0];
}

/*
 * Default deny, and conntrack: only outbound UDP is allowed, yet the
 * reply comes in on the flow it made; a packet of no flow does not.
 */
static void test_stages_firewall_conntrack(void **state)
{
	struct env *e = *state;
	const struct ctlmsg_fw_rule udp = fw_rule_any_host(17, 0, 0);
	struct dp_flow_record f;

	load_rules(e, 2, NULL, 0, &udp, 1);

	in_udp(e, 3, 53, 5000);
	assert_int_equal(e->w.n_to_tun, 0);
	assert_int_equal(e->w.stats.drops[DP_DROP_FIREWALL_IN], 1);

	assert_int_equal(out_udp(e, 5000, 53), 1);
	in_udp(e, 4, 53, 5000);
	assert_int_equal(e->w.n_to_tun, 1);
	in_udp(e, 5, 53, 5001);
	assert_int_equal(e->w.n_to_tun, 0);
	assert_int_equal(e->w.stats.drops[DP_DROP_FIREWALL_IN], 2);

	/* The connection, locally oriented, with both directions counted. */
	f = one_flow(e);
	assert_int_equal(f.key.local_ip, HOST_B);
	assert_int_equal(f.key.local_port, 5000);
	assert_int_equal(f.key.remote_ip, HOST_A);
	assert_int_equal(f.key.remote_port, 53);
	assert_int_equal(f.key.proto, 17);
	assert_int_equal(f.out_packets, 1);
	assert_int_equal(f.in_packets, 1);
	assert_int_equal(f.in_bytes, 28);

	/* TCP is not allowed out. */
	{
		uint32_t len;

		dp_worker_begin(&e->w, 1000);
		len = udp4(e->w.tx_bufs[0] + DP_HEADROOM, HOST_B, 5000, HOST_A,
			   80);
		e->w.tx_bufs[0][DP_HEADROOM + 9] = 6;
		dp_out_burst(&e->w, &len, 1);
		assert_int_equal(e->w.n_to_net, 0);
		assert_int_equal(e->w.stats.drops[DP_DROP_FIREWALL_OUT], 1);
	}
}

/*
 * A burst: runs of one flow pass on the first packet's verdict, and every
 * packet is counted on its flow all the same.
 */
static void test_stages_firewall_flow_runs(void **state)
{
	struct env *e = *state;
	static const uint16_t sport[] = { 5000, 5000, 5000, 5001, 5000, 5000 };
	const unsigned int n = sizeof(sport) / sizeof(sport[0]);
	struct dp_flow_record r[4];
	uint32_t lens[8], cursor = 0;
	uint64_t got[2] = { 0, 0 };

	dp_worker_begin(&e->w, 1000);
	for (unsigned int i = 0; i < n; i++)
		lens[i] = udp4(e->w.tx_bufs[i] + DP_HEADROOM, HOST_B, sport[i],
			       HOST_A, 53);
	dp_out_burst(&e->w, lens, n);
	assert_int_equal(e->w.n_to_net, n);
	assert_int_equal(dp_flow_extract(e->shared.flows, r, 4, &cursor, false,
					 1000),
			 2);
	for (unsigned int i = 0; i < 2; i++) {
		assert_int_equal(r[i].in_packets, 0);
		assert_int_equal(r[i].out_bytes, 28 * r[i].out_packets);
		got[r[i].key.local_port - 5000] = r[i].out_packets;
	}
	assert_int_equal(got[0], 5);
	assert_int_equal(got[1], 1);
	/* The run ended with the call. */
	assert_null(e->w.flow_run.fw);
}

/* A tunnel without rules passes nothing, either way. */
static void test_stages_firewall_no_rules(void **state)
{
	struct env *e = *state;

	dp_fw_peer_free(atomic_exchange(&e->sa->fw, NULL));
	in_udp(e, 3, 53, 5000);
	assert_int_equal(e->w.n_to_tun, 0);
	assert_int_equal(out_udp(e, 5000, 53), 0);
	assert_int_equal(e->w.stats.drops[DP_DROP_NO_RULES], 2);
	/* Nothing spent a send counter. */
	assert_int_equal(atomic_load(&e->sa->send_counter), 2);
}

/*
 * A reload: a flow admitted by the old rules is re-checked by the new
 * ones, in the direction that made it; refused, it goes.
 */
static void test_stages_firewall_reload(void **state)
{
	struct env *e = *state;
	const struct ctlmsg_fw_rule dns_in = fw_rule_any_host(17, 53, 53);
	const struct ctlmsg_fw_rule any_out = fw_rule_any_host(0, 0, 0);

	/* Generation 1 (setup) allows all: an inbound flow to port 5000. */
	in_udp(e, 3, 9999, 5000);
	assert_int_equal(e->w.n_to_tun, 1);

	/* Inbound only to 53 now; outbound anything. */
	load_rules(e, 2, &dns_in, 1, &any_out, 1);
	/*
	 * Our reply on that flow: the entry was made inbound, so it is
	 * judged as inbound to port 5000 -- refused, removed -- and then as
	 * a new outbound packet, which the outbound rule allows.
	 */
	assert_int_equal(out_udp(e, 5000, 9999), 1);
	assert_int_equal(one_flow(e).gen, 2);
	assert_int_equal(one_flow(e).out_packets, 1);
	assert_int_equal(one_flow(e).in_packets, 0);

	/* Inbound to 5001: no flow, no rule. Inbound to 53: a rule. */
	in_udp(e, 4, 9999, 5001);
	assert_int_equal(e->w.n_to_tun, 0);
	in_udp(e, 5, 9999, 53);
	assert_int_equal(e->w.n_to_tun, 1);
	assert_int_equal(e->w.stats.drops[DP_DROP_FIREWALL_IN], 1);

	/* Nothing in at all: the port-53 flow, made inbound, is refused. */
	load_rules(e, 3, NULL, 0, &any_out, 1);
	in_udp(e, 6, 9999, 53);
	assert_int_equal(e->w.n_to_tun, 0);
	assert_int_equal(e->w.stats.drops[DP_DROP_FIREWALL_IN], 2);
}

static void test_stages_drop_names(void **state)
{
	(void)state;
	for (int i = 0; i < DP_DROP_MAX; i++) {
		assert_non_null(dp_drop_names[i]);
		assert_non_null(dp_drop_texts[i]);
	}
	assert_string_equal(dp_drop_names[DP_DROP_BAD_TAG], "BAD_TAG");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stages_inbound_vectors,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_outbound_vector,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_replay_and_recv_error,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_forgery_consumes_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_inbound_drops,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_roaming_punt,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_outbound_routes_and_drops,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_pending_queue,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_lease, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stages_lease_run, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_stages_handshake_flood_rate_limited, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_stages_hooks_inbound,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_hooks_outbound,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_hooks_pending,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_firewall_conntrack,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_firewall_flow_runs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_firewall_no_rules,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_firewall_reload,
						setup, teardown),
		cmocka_unit_test(test_stages_drop_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
