/* SPDX-License-Identifier: MIT */
/*
 * vela-control's node logic with two control planes in one process: the
 * handshake manager, the connection manager and punchy.
 *
 * The handshake manager with two control planes in one process. Each one's
 * dataplane is a socketpair the test plays: a datagram one node injects is
 * handed to the other node as a punt, as a real dataplane would. Checks
 * both roles, the keys and indexes each side installs, retransmission
 * (the same message 2 again), the older-handshake rule and the race rule.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "aead.h"
#include "capool.h"
#include "cert.h"
#include "appendix_a.h"
#include "keys.h"
#include "log.h"
#include "node.h"
#include "pem.h"
#include "status.h"
#include "wire.h"

struct peer {
	struct ctl_node node;
	int dp;                  /* the test's end of the node's socket */
	struct sockaddr_in6 addr;
};

struct env {
	struct peer a, b;        /* a = 10.1.0.1 (host-a), b = 10.1.0.2 */
	_Alignas(16) uint8_t buf[CTLMSG_MAX];
};

static struct sockaddr_in6 addr4(uint8_t last)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(4242) };

	a.sin6_addr.s6_addr[10] = 0xff;
	a.sin6_addr.s6_addr[11] = 0xff;
	a.sin6_addr.s6_addr[12] = 172;
	a.sin6_addr.s6_addr[13] = 31;
	a.sin6_addr.s6_addr[15] = last;
	return a;
}

static void peer_init_at(struct peer *p, const char *cert_pem,
			 const char *key_pem, uint8_t other_last,
			 uint8_t my_last, time_t load_time)
{
	struct vl_status st = { "" };
	struct timespec now = { .tv_sec = load_time };
	int sv[2];

	memset(p, 0, sizeof(*p));
	assert_int_equal(
		ctl_config_load_string(&p->node.cfg, "t.yml",
				       "pki: {ca: x, cert: y, key: z}\n"
				       "handshakes: {retries: 3}\n",
				       &st),
		0);
	/* The PKI from the vectors, inline, as a config may give it. */
	free(p->node.cfg.pki_ca);
	free(p->node.cfg.pki_cert);
	free(p->node.cfg.pki_key);
	p->node.cfg.pki_ca = strdup(vec_ca_pem);
	p->node.cfg.pki_cert = strdup(cert_pem);
	p->node.cfg.pki_key = strdup(key_pem);
	if (ctl_pki_load(&p->node.pki, &p->node.cfg, &now, NULL, &st))
		fail_msg("pki: %s", st.msg);

	p->node.statics = calloc(1, sizeof(*p->node.statics));
	p->node.n_statics = 1;
	p->node.statics[0].vpn_ip = p->node.pki.vpn_ip ^ 3; /* .1 <-> .2 */
	p->node.statics[0].addrs[0] = addr4(other_last);
	p->node.statics[0].n_addrs = 1;
	p->addr = addr4(my_last);

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	p->node.dp_fd = sv[0];
	p->dp = sv[1];
	p->node.set_up = true;
}

static void peer_init(struct peer *p, const char *cert_pem,
		      const char *key_pem, uint8_t other_last, uint8_t my_last)
{
	peer_init_at(p, cert_pem, key_pem, other_last, my_last, 1800000000);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e || sodium_init() < 0 || vl_aead_init())
		return -1;
	vl_log_setup(VL_LOG_ERROR, false, true);
	peer_init(&e->a, vec_host_a_pem, vec_host_a_key_pem, 2, 1);
	peer_init(&e->b, vec_host_b_pem, vec_host_b_key_pem, 1, 2);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	close(e->a.dp);
	close(e->b.dp);
	ctl_node_free(&e->a.node);
	ctl_node_free(&e->b.node);
	free(e);
	return 0;
}

/* The next record @p's node sent to its dataplane, or 0 when none waits. */
static size_t next(struct env *e, struct peer *p, uint16_t *type)
{
	ssize_t r = recv(p->dp, e->buf, sizeof(e->buf), MSG_DONTWAIT);
	const struct ctlmsg_hdr *h = (const void *)e->buf;

	if (r <= 0)
		return 0;
	assert_true((size_t)r >= sizeof(*h));
	assert_int_equal(h->len, r);
	assert_int_equal(h->version, CTLMSG_VERSION);
	*type = h->type;
	return (size_t)r;
}

/* Delivers an INJECT_RAW of @from as a HANDSHAKE punt to @to. */
static void deliver(struct peer *from, struct peer *to,
		    const struct ctlmsg_inject_raw *m)
{
	struct ctlmsg_punt *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->reason = CTLMSG_PUNT_HANDSHAKE;
	p->from = from->addr;
	p->len = m->len;
	memcpy(p->data, m->data, m->len);
	ctl_hs_on_packet(&to->node, p);
	free(p);
}

/* Takes the one INJECT_RAW @p sent; fails on anything else first. */
static struct ctlmsg_inject_raw *take_raw(struct env *e, struct peer *p)
{
	uint16_t type = 0;

	assert_true(next(e, p, &type) > 0);
	assert_int_equal(type, CTLMSG_INJECT_RAW);
	return (struct ctlmsg_inject_raw *)(void *)e->buf;
}

static struct ctlmsg_tunnel_add take_add(struct env *e, struct peer *p)
{
	uint16_t type = 0;

	assert_int_equal(next(e, p, &type), sizeof(struct ctlmsg_tunnel_add));
	assert_int_equal(type, CTLMSG_TUNNEL_ADD);
	return *(struct ctlmsg_tunnel_add *)(void *)e->buf; /* aligned */
}

/* Runs a whole handshake A -> B; returns A's tunnel. */
static struct ctl_tunnel *establish(struct env *e)
{
	struct ctlmsg_inject_raw *m;

	ctl_hs_start(&e->a.node, 0x0a010002);
	m = take_raw(e, &e->a);
	deliver(&e->a, &e->b, m);
	(void)take_add(e, &e->b);
	m = take_raw(e, &e->b);
	deliver(&e->b, &e->a, m);
	(void)take_add(e, &e->a);
	return ctl_tunnel_by_vpn(&e->a.node, 0x0a010002);
}

/* The dataplane's counters for @t, as an ACTIVITY_REPLY carries them. */
static void dump(struct env *e, struct ctl_tunnel *t, uint64_t rx,
		 uint64_t tx)
{
	struct ctlmsg_activity a = { .local_index = t->add.local_index,
				     .rx_packets = rx,
				     .tx_packets = tx,
				     .recv_max = t->add.recv_max };

	ctl_cm_on_activity(&e->a.node, t, &a);
}

#define SEC UINT64_C(1000000000)

static void test_cm_dead_peer_is_tested_then_dropped(void **state)
{
	struct env *e = *state;
	struct ctl_tunnel *t = establish(e);
	struct ctlmsg_inject_sa *m;
	uint16_t type = 0;

	assert_non_null(t);
	/* We send, the peer says nothing: a check 5 s later (§5.2). */
	e->a.node.now_ns = 100 * SEC;
	dump(e, t, 0, 10);
	e->a.node.now_ns = 104 * SEC;
	dump(e, t, 0, 20);
	assert_false(next(e, &e->a, &type));
	e->a.node.now_ns = 105 * SEC;
	dump(e, t, 0, 30);
	assert_int_equal(next(e, &e->a, &type),
			 offsetof(struct ctlmsg_inject_sa, data));
	assert_int_equal(type, CTLMSG_INJECT_SA);
	m = (struct ctlmsg_inject_sa *)(void *)e->buf;
	assert_int_equal(m->type, WIRE_TEST);
	assert_int_equal(m->subtype, WIRE_SUB_TEST_REQUEST);
	assert_int_equal(m->local_index, t->add.local_index);

	/* Still nothing 10 s later: removed locally, without a closeTunnel. */
	e->a.node.now_ns = 114 * SEC;
	dump(e, t, 0, 31);
	assert_false(next(e, &e->a, &type));
	e->a.node.now_ns = 115 * SEC;
	dump(e, t, 0, 31);
	assert_true(next(e, &e->a, &type) > 0);
	assert_int_equal(type, CTLMSG_TUNNEL_DEL);
	assert_int_equal(((struct ctlmsg_tunnel_del *)(void *)e->buf)->send_close,
			 0);
	assert_null(ctl_tunnel_by_vpn(&e->a.node, 0x0a010002));
}

static void test_cm_live_peer_is_left_alone(void **state)
{
	struct env *e = *state;
	struct ctl_tunnel *t = establish(e);
	uint16_t type = 0;

	e->a.node.now_ns = 100 * SEC;
	dump(e, t, 0, 10);
	/* The peer answers before the check: no test, no deletion. */
	e->a.node.now_ns = 103 * SEC;
	dump(e, t, 5, 20);
	e->a.node.now_ns = 105 * SEC;
	dump(e, t, 5, 30);
	assert_false(next(e, &e->a, &type));
	/* Watched again from the next send; receive-only is never checked. */
	e->a.node.now_ns = 200 * SEC;
	dump(e, t, 50, 30);
	e->a.node.now_ns = 300 * SEC;
	dump(e, t, 90, 30);
	assert_false(next(e, &e->a, &type));
	assert_non_null(ctl_tunnel_by_vpn(&e->a.node, 0x0a010002));

	/*
	 * ACTIVITY once a second while there are tunnels, and never a
	 * second one while the first is unanswered.
	 */
	e->a.node.now_ns = 301 * SEC;
	ctl_cm_timers(&e->a.node);
	assert_int_equal(next(e, &e->a, &type), sizeof(struct ctlmsg_hdr));
	assert_int_equal(type, CTLMSG_ACTIVITY);
	ctl_cm_timers(&e->a.node);
	assert_false(next(e, &e->a, &type));
	e->a.node.now_ns = 303 * SEC;
	ctl_cm_timers(&e->a.node);
	assert_false(next(e, &e->a, &type));
	/* Answered (the last record of it): the next one goes out. */
	{
		struct ctlmsg_activity_reply r = { .last = 1 };

		r.hdr = (struct ctlmsg_hdr){
			.version = CTLMSG_VERSION,
			.type = CTLMSG_ACTIVITY_REPLY,
			.len = offsetof(struct ctlmsg_activity_reply, tunnel),
			.seq = e->a.node.activity_seq,
		};
		assert_true(r.hdr.seq != 0);
		ctl_node_on_record(&e->a.node, &r, r.hdr.len);
	}
	e->a.node.now_ns = 305 * SEC;
	ctl_cm_timers(&e->a.node);
	assert_int_equal(next(e, &e->a, &type), sizeof(struct ctlmsg_hdr));
	assert_int_equal(type, CTLMSG_ACTIVITY);
}

static void test_punchy_keepalives(void **state)
{
	struct env *e = *state;
	struct ctlmsg_inject_raw *m;
	uint16_t type = 0;

	(void)establish(e);
	e->a.node.cfg.punch = true;
	e->a.node.now_ns = 50 * SEC;
	ctl_punchy_timers(&e->a.node);
	m = take_raw(e, &e->a);
	assert_int_equal(m->len, 1);
	assert_int_equal(m->data[0], WIRE_PUNCH_KEEPALIVE);
	assert_memory_equal(&m->to, &e->b.addr, sizeof(m->to));
	e->a.node.now_ns = 59 * SEC;
	ctl_punchy_timers(&e->a.node);
	assert_false(next(e, &e->a, &type));
	e->a.node.now_ns = 60 * SEC;
	ctl_punchy_timers(&e->a.node);
	assert_int_equal(take_raw(e, &e->a)->len, 1);
	/* Off by default, as in 1.6.1's code. */
	e->a.node.cfg.punch = false;
	e->a.node.now_ns = 100 * SEC;
	ctl_punchy_timers(&e->a.node);
	assert_false(next(e, &e->a, &type));
}

static void test_hsm_both_roles(void **state)
{
	struct env *e = *state;
	struct ctlmsg_tunnel_add ta, tb;
	struct ctlmsg_inject_raw *m;
	uint8_t msg2[CTL_HS_MSG_MAX];
	size_t msg2_len;
	uint16_t type;

	/* A packet for 10.1.0.2 without a tunnel: A sends message 1 at once. */
	ctl_hs_start(&e->a.node, 0x0a010002);
	m = take_raw(e, &e->a);
	assert_memory_equal(&m->to, &e->b.addr, sizeof(m->to));
	assert_int_equal(m->data[0], 0x10); /* handshake, version 1 */
	assert_int_equal(wire_get_be64(m->data + 8), WIRE_HS_MSG1);
	assert_int_equal(e->a.node.n_pending, 1);

	/* B answers: the tunnel first, then message 2 to A's address. */
	deliver(&e->a, &e->b, m);
	tb = take_add(e, &e->b);
	m = take_raw(e, &e->b);
	assert_memory_equal(&m->to, &e->a.addr, sizeof(m->to));
	assert_int_equal(wire_get_be64(m->data + 8), WIRE_HS_MSG2);
	msg2_len = m->len;
	memcpy(msg2, m->data, msg2_len);

	/* A completes. */
	deliver(&e->b, &e->a, m);
	ta = take_add(e, &e->a);
	assert_int_equal(e->a.node.n_pending, 0);
	assert_false(next(e, &e->a, &type));

	/* Mirror images: indexes, keys, addresses, counters. */
	assert_int_equal(ta.vpn_ip, 0x0a010002);
	assert_int_equal(tb.vpn_ip, 0x0a010001);
	assert_int_equal(ta.local_index, tb.remote_index);
	assert_int_equal(ta.remote_index, tb.local_index);
	assert_memory_equal(ta.send_key, tb.recv_key, 32);
	assert_memory_equal(ta.recv_key, tb.send_key, 32);
	assert_memory_not_equal(ta.send_key, ta.recv_key, 32);
	assert_int_equal(ta.send_counter, 2);
	assert_int_equal(tb.recv_max, 2);
	assert_memory_equal(&ta.remote, &e->b.addr, sizeof(ta.remote));
	assert_memory_equal(&tb.remote, &e->a.addr, sizeof(tb.remote));
	/* The peer's certificate networks: host-b's IP and its subnet. */
	assert_int_equal(ta.n_peer_nets, 2);
	assert_int_equal(ta.peer_nets[0].ip, 0x0a010002);
	assert_int_equal(ta.peer_nets[0].mask, 0xffffffff);
	assert_int_equal(ta.peer_nets[1].ip, 0xc0a83200);
	assert_true(ta.cert_len > 0);

	/* A retransmitted message 1 gets the very same message 2 (§3.8). */
	{
		struct ctl_tunnel *t = ctl_tunnel_by_vpn(&e->b.node, 0x0a010001);
		struct ctlmsg_inject_raw *again = calloc(1, sizeof(*again));

		assert_non_null(t);
		again->len = (uint32_t)(t->msg1_len + WIRE_HEADER_LEN);
		wire_header_encode(again->data, WIRE_HANDSHAKE, 0, 0,
				   WIRE_HS_MSG1);
		memcpy(again->data + WIRE_HEADER_LEN, t->msg1, t->msg1_len);
		deliver(&e->a, &e->b, again);
		free(again);
		m = take_raw(e, &e->b);
		assert_int_equal(m->len, msg2_len);
		assert_memory_equal(m->data, msg2, msg2_len);
		assert_false(next(e, &e->b, &type)); /* no new tunnel */
	}
}

static void test_hsm_retries_and_timeout(void **state)
{
	struct env *e = *state;
	struct ctlmsg_inject_raw *m;
	uint8_t first[CTL_HS_MSG_MAX];
	uint32_t first_len;
	uint16_t type;

	e->a.node.now_ns = 1000;
	ctl_hs_start(&e->a.node, 0x0a010002);
	m = take_raw(e, &e->a);
	first_len = m->len;
	memcpy(first, m->data, first_len);

	/* Nothing before the interval, then the identical bytes again. */
	ctl_hs_timers(&e->a.node);
	assert_false(next(e, &e->a, &type));
	for (unsigned int k = 1; k < 3; k++) {
		e->a.node.now_ns += (uint64_t)k * 100000000u;
		ctl_hs_timers(&e->a.node);
		m = take_raw(e, &e->a);
		assert_int_equal(m->len, first_len);
		assert_memory_equal(m->data, first, first_len);
	}
	/* retries: 3 transmissions, then the handshake is given up. */
	e->a.node.now_ns += 300000000u;
	ctl_hs_timers(&e->a.node);
	assert_false(next(e, &e->a, &type));
	assert_int_equal(e->a.node.n_pending, 0);
}

static void test_hsm_race_higher_ip_wins(void **state)
{
	struct env *e = *state;
	struct ctlmsg_inject_raw *m;
	uint8_t msg1_a[CTL_HS_MSG_MAX], msg1_b[CTL_HS_MSG_MAX];
	uint32_t len_a, len_b;
	uint16_t type;

	/* Both start at once. */
	ctl_hs_start(&e->a.node, 0x0a010002);
	m = take_raw(e, &e->a);
	len_a = m->len;
	memcpy(msg1_a, m->data, len_a);
	ctl_hs_start(&e->b.node, 0x0a010001);
	m = take_raw(e, &e->b);
	len_b = m->len;
	memcpy(msg1_b, m->data, len_b);

	/* B (10.1.0.2, higher) ignores A's message 1: its own will win. */
	{
		struct ctlmsg_inject_raw *r = calloc(1, sizeof(*r));

		r->len = len_a;
		memcpy(r->data, msg1_a, len_a);
		deliver(&e->a, &e->b, r);
		assert_false(next(e, &e->b, &type));
		assert_int_equal(e->b.node.n_pending, 1);

		/* A drops its own handshake and answers B's. */
		r->len = len_b;
		memcpy(r->data, msg1_b, len_b);
		deliver(&e->b, &e->a, r);
		free(r);
	}
	assert_int_equal(e->a.node.n_pending, 0);
	(void)take_add(e, &e->a);
	m = take_raw(e, &e->a);
	deliver(&e->a, &e->b, m);
	(void)take_add(e, &e->b);
	assert_int_equal(e->b.node.n_pending, 0);
	assert_non_null(ctl_tunnel_by_vpn(&e->a.node, 0x0a010002));
	assert_non_null(ctl_tunnel_by_vpn(&e->b.node, 0x0a010001));
}

/*
 * A certificate for host-a's key and address, valid [nb, na], signed by
 * the vector CA or, when @own_ca, by a CA made here that B does not trust.
 */
static char *host_a_cert(int64_t nb, int64_t na, uint32_t ip, bool own_ca)
{
	static const char *const groups[] = { "g1" };
	struct ctl_ipnet net = { ip, 0xffff0000 };
	struct ctl_cert ca = { .name = "stranger-ca", .is_ca = true,
			       .not_before = nb, .not_after = na };
	struct ctl_cert c = { .name = "host-a", .ips = &net, .n_ips = 1,
			      .groups = groups, .n_groups = 1,
			      .not_before = nb, .not_after = na };
	uint8_t ca_sk[64];
	char *pem;
	size_t len;

	memcpy(c.pubkey, vec_host_a_pub, 32);
	c.pubkey_len = 32;
	if (own_ca) {
		ctl_key_ed25519_generate(ca_sk, ca.pubkey);
		ca.pubkey_len = 32;
		assert_int_equal(ctl_cert_sign(&ca, ca_sk), 0);
		assert_int_equal(ctl_cert_fingerprint(&ca, c.issuer), 0);
	} else {
		memcpy(ca_sk, vec_ca_sk, 64);
		memcpy(c.issuer, vec_ca_fp, 32);
	}
	c.issuer_len = 32;
	assert_int_equal(ctl_cert_sign(&c, ca_sk), 0);
	assert_int_equal(ctl_cert_encode_pem(&c, &pem, &len), 0);
	return pem;
}

/* A (with @cert) starts a handshake to B; B must not answer. */
static void assert_refused(struct env *e, const char *cert, time_t load)
{
	struct ctlmsg_inject_raw *m;
	uint16_t type;

	ctl_node_free(&e->a.node);
	close(e->a.dp);
	peer_init_at(&e->a, cert, vec_host_a_key_pem, 2, 1, load);
	/* The static entry reaches B's address whatever A's own IP is. */
	ctl_hs_start(&e->a.node, e->a.node.statics[0].vpn_ip);
	m = take_raw(e, &e->a);
	deliver(&e->a, &e->b, m);
	assert_false(next(e, &e->b, &type));
	assert_int_equal(e->b.node.n_tunnels, 0);
}

static void test_hsm_refuses_certificates(void **state)
{
	struct env *e = *state;
	char *pem;

	/* Signed by a CA B does not trust. */
	pem = host_a_cert(1700000000, 2000000000, 0x0a010001, true);
	assert_refused(e, pem, 1800000000);
	free(pem);

	/* Expired (B checks at the real time, long after 1700000100). */
	pem = host_a_cert(1700000000, 1700000100, 0x0a010001, false);
	assert_refused(e, pem, 1700000050);
	free(pem);

	/* Claiming B's own VPN IP. */
	pem = host_a_cert(1700000000, 2000000000, 0x0a010002, false);
	assert_refused(e, pem, 1800000000);
	free(pem);

	/* Blocklisted by fingerprint (pki.blocklist). */
	assert_int_equal(ctl_capool_block(&e->b.node.pki.pool, vec_host_a_fp),
			 0);
	assert_refused(e, vec_host_a_pem, 1800000000);

	/* The genuine certificate, unblocked, still works: the tests can fail. */
	ctl_capool_free(&e->b.node.pki.pool);
	{
		struct vl_status st = { "" };
		struct timespec now = { .tv_sec = 1800000000 };
		size_t n_expired;

		ctl_capool_init(&e->b.node.pki.pool);
		assert_int_equal(ctl_capool_load_pem(&e->b.node.pki.pool,
						     (const uint8_t *)vec_ca_pem,
						     strlen(vec_ca_pem), &now,
						     &n_expired, &st),
				 0);
	}
	ctl_node_free(&e->a.node);
	close(e->a.dp);
	peer_init(&e->a, vec_host_a_pem, vec_host_a_key_pem, 2, 1);
	assert_non_null(establish(e));
}

static void test_hsm_rejects_bad_peers(void **state)
{
	struct env *e = *state;
	struct ctlmsg_inject_raw *m;
	uint16_t type;

	/* Message 1 with one flipped bit of the certificate: no answer. */
	ctl_hs_start(&e->a.node, 0x0a010002);
	m = take_raw(e, &e->a);
	m->data[WIRE_HEADER_LEN + 64 + 20] ^= 1;
	deliver(&e->a, &e->b, m);
	assert_false(next(e, &e->b, &type));
	assert_int_equal(e->b.node.n_tunnels, 0);

	/* Truncated messages of every length: no answer, no crash. */
	ctl_hs_start(&e->b.node, 0x0a010001);
	m = take_raw(e, &e->b);
	for (uint32_t len = 0; len < m->len; len += 7) {
		struct ctlmsg_inject_raw *cut = calloc(1, sizeof(*cut));

		cut->len = len;
		memcpy(cut->data, m->data, len);
		deliver(&e->b, &e->a, cut);
		free(cut);
	}
	assert_false(next(e, &e->a, &type));
	assert_int_equal(e->a.node.n_tunnels, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hsm_both_roles, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hsm_retries_and_timeout,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_hsm_race_higher_ip_wins,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_hsm_rejects_bad_peers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_hsm_refuses_certificates,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cm_dead_peer_is_tested_then_dropped, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_cm_live_peer_is_left_alone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_punchy_keepalives, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
