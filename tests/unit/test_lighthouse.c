/* SPDX-License-Identifier: MIT */
/*
 * Lighthouse messages (spec §5.4): the encoder against the spec's bytes,
 * the decoder against hostile input, then both roles driven through the
 * node with fake tunnels. Each node's dataplane is a socketpair the test
 * reads, as in test_handshake_mgr.c: what the node injects is checked
 * record by record, and a message for the node is handed to
 * ctl_lh_on_message() as node.c does with a decrypted type-3 punt.
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
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "aead.h"
#include "appendix_a.h"
#include "lighthouse.h"
#include "log.h"
#include "node.h"
#include "status.h"
#include "wire.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define SEC 1000000000ull

struct env {
	struct ctl_node node;
	int dp; /* the test's end of the node's dataplane socket */
	_Alignas(16) uint8_t buf[CTLMSG_MAX];
};

static struct sockaddr_in6 a4(uint32_t ip, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port) };

	a.sin6_addr.s6_addr[10] = 0xff;
	a.sin6_addr.s6_addr[11] = 0xff;
	wire_put_be32(a.sin6_addr.s6_addr + 12, ip);
	return a;
}

static struct sockaddr_in6 a6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	return a;
}

static bool same(const struct sockaddr_in6 *a, const struct sockaddr_in6 *b)
{
	return a->sin6_port == b->sin6_port &&
	       !memcmp(&a->sin6_addr, &b->sin6_addr, 16);
}

/* ---- encoding -------------------------------------------------------- */

static void test_lh_encode_host_query(void **state)
{
	static const uint8_t want[] = { 0x08, 0x01, 0x12, 0x05, 0x08,
					0x82, 0x80, 0x84, 0x50 };
	struct ctl_lh_msg m = { .type = CTL_LH_HOST_QUERY,
				.vpn_ip = IP(10, 1, 0, 2) };
	uint8_t out[CTL_LH_MSG_MAX];
	size_t len = 0;

	(void)state;
	assert_int_equal(ctl_lh_encode(&m, out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));

	memset(&m, 0xa5, sizeof(m));
	assert_int_equal(ctl_lh_decode(want, sizeof(want), &m), 0);
	assert_int_equal(m.type, CTL_LH_HOST_QUERY);
	assert_int_equal(m.vpn_ip, IP(10, 1, 0, 2));
	assert_int_equal(m.n_v4 + m.n_v6 + m.n_relays, 0);

	/* Too small a buffer is refused, not overrun. */
	assert_int_equal(ctl_lh_encode(&m, out, sizeof(want) - 1, &len),
			 -ENOBUFS);
}

/* The spec's HostQueryReply, verified from a real lighthouse. */
static const uint8_t reply_vec[] = {
	0x08, 0x02, 0x12, 0x2a, 0x08, 0x82, 0x80, 0x80, 0x54, 0x12, 0x08, 0x08,
	0x82, 0x80, 0x80, 0x50, 0x10, 0x92, 0x21, 0x12, 0x08, 0x08, 0x84, 0x86,
	0x88, 0x08, 0x10, 0x92, 0x21, 0x22, 0x0f, 0x08, 0x80, 0x80, 0x80, 0x80,
	0x80, 0xb7, 0xc3, 0x80, 0x20, 0x10, 0x01, 0x18, 0x93, 0x21,
};

static void test_lh_encode_host_query_reply(void **state)
{
	struct ctl_lh_msg m = { .type = CTL_LH_HOST_QUERY_REPLY,
				.vpn_ip = IP(10, 128, 0, 2) };
	uint8_t out[CTL_LH_MSG_MAX];
	size_t len = 0;

	(void)state;
	m.v4[m.n_v4++] = a4(IP(10, 0, 0, 2), 4242);
	m.v4[m.n_v4++] = a4(IP(1, 2, 3, 4), 4242);
	m.v6[m.n_v6++] = a6("2001:db8::1", 4243);
	assert_int_equal(ctl_lh_encode(&m, out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(reply_vec));
	assert_memory_equal(out, reply_vec, sizeof(reply_vec));

	memset(&m, 0, sizeof(m));
	assert_int_equal(ctl_lh_decode(reply_vec, sizeof(reply_vec), &m), 0);
	assert_int_equal(m.type, CTL_LH_HOST_QUERY_REPLY);
	assert_int_equal(m.vpn_ip, IP(10, 128, 0, 2));
	assert_int_equal(m.n_v4, 2);
	assert_int_equal(m.n_v6, 1);
	{
		struct sockaddr_in6 w0 = a4(IP(10, 0, 0, 2), 4242),
				    w1 = a4(IP(1, 2, 3, 4), 4242),
				    w6 = a6("2001:db8::1", 4243);

		assert_true(same(&m.v4[0], &w0));
		assert_true(same(&m.v4[1], &w1));
		assert_true(same(&m.v6[0], &w6));
	}

	/* RelayVpnIp is packed, as gogo writes repeated uint32. */
	memset(&m, 0, sizeof(m));
	m.type = CTL_LH_HOST_UPDATE_NOTIFICATION;
	m.relays[m.n_relays++] = IP(10, 1, 0, 3);
	assert_int_equal(ctl_lh_encode(&m, out, sizeof(out), &len), 0);
	{
		static const uint8_t want[] = { 0x08, 0x03, 0x12, 0x06, 0x2a,
						0x04, 0x83, 0x80, 0x84, 0x50 };

		assert_int_equal(len, sizeof(want));
		assert_memory_equal(out, want, sizeof(want));
	}

	/* An IPv6 address in the v4 list cannot be encoded. */
	memset(&m, 0, sizeof(m));
	m.v4[m.n_v4++] = a6("2001:db8::1", 1);
	assert_int_equal(ctl_lh_encode(&m, out, sizeof(out), &len), -EINVAL);
}

static void test_lh_decode_hostile(void **state)
{
	/* Type only, no Details: 1.6.1 refuses it, so do we. */
	static const uint8_t no_details[] = { 0x08, 0x01 };
	/* Details{Ip4AndPorts: [{Ip: 1, Port: 70000}]}: no such port. */
	static const uint8_t big_port[] = { 0x08, 0x02, 0x12, 0x08, 0x12, 0x06,
					    0x08, 0x01, 0x10, 0xf0, 0xa2, 0x04 };
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	uint8_t many[CTL_LH_MSG_MAX];
	struct ctl_lh_msg m;
	size_t len = 0;

	(void)state;
	assert_int_equal(ctl_lh_decode(no_details, sizeof(no_details), &m),
			 -EINVAL);
	assert_int_equal(ctl_lh_decode(NULL, 0, &m), -EINVAL);
	assert_int_equal(ctl_lh_decode(garbage, sizeof(garbage), &m), -EINVAL);
	assert_int_equal(ctl_lh_decode(big_port, sizeof(big_port), &m),
			 -EINVAL);

	/* Every prefix of a valid message: refused or read, never more. */
	for (size_t cut = 0; cut <= sizeof(reply_vec); cut++) {
		int err = ctl_lh_decode(reply_vec, cut, &m);

		assert_true(err == 0 || err == -EINVAL);
		assert_true(m.n_v4 <= CTL_LH_MSG_ADDRS_MAX);
	}

	/* 40 addresses per family and 40 relays: only the first few kept. */
	{
		size_t k = 0;

		many[k++] = 0x08;
		many[k++] = 0x03;
		many[k++] = 0x12;
		many[k++] = 0x00; /* Details length: two bytes, set below */
		for (int i = 0; i < 40; i++) {
			/* Ip4AndPort{Ip: i+1, Port: 1} */
			many[k++] = 0x12;
			many[k++] = 0x04;
			many[k++] = 0x08;
			many[k++] = (uint8_t)(i + 1);
			many[k++] = 0x10;
			many[k++] = 0x01;
		}
		for (int i = 0; i < 40; i++) {
			/* RelayVpnIp, unpacked form */
			many[k++] = 0x28;
			many[k++] = (uint8_t)(i + 1);
		}
		/* Details is longer than 127: a two-byte length. */
		memmove(many + 5, many + 4, k - 4);
		many[3] = (uint8_t)((k - 4) | 0x80);
		many[4] = (uint8_t)((k - 4) >> 7);
		len = k + 1;
	}
	assert_int_equal(ctl_lh_decode(many, len, &m), 0);
	assert_int_equal(m.type, CTL_LH_HOST_UPDATE_NOTIFICATION);
	assert_int_equal(m.n_v4, CTL_LH_MSG_ADDRS_MAX);
	assert_int_equal(m.n_relays, CTL_LH_RELAYS_MAX);
	assert_int_equal(m.relays[0], 1);
	{
		struct sockaddr_in6 w = a4(11, 1);

		assert_true(same(&m.v4[10], &w));
	}
}

/* ---- nodes with a fake dataplane ------------------------------------ */

static struct env *env_new(const char *cert_pem, const char *key_pem,
			   const char *yml)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vl_status st = { "" };
	struct timespec now = { .tv_sec = 1800000000 };
	int sv[2];

	assert_non_null(e);
	if (ctl_config_load_string(&e->node.cfg, "t.yml", yml, &st))
		fail_msg("config: %s", st.msg);
	free(e->node.cfg.pki_ca);
	free(e->node.cfg.pki_cert);
	free(e->node.cfg.pki_key);
	e->node.cfg.pki_ca = strdup(vec_ca_pem);
	e->node.cfg.pki_cert = strdup(cert_pem);
	e->node.cfg.pki_key = strdup(key_pem);
	if (ctl_pki_load(&e->node.pki, &e->node.cfg, &now, NULL, &st))
		fail_msg("pki: %s", st.msg);
	ctl_lh_init(&e->node);

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	e->node.dp_fd = sv[0];
	e->dp = sv[1];
	e->node.set_up = true;
	e->node.port = 4242;
	e->node.now_ns = 1000 * SEC;
	return e;
}

static int setup_common(void)
{
	if (sodium_init() < 0 || vl_aead_init())
		return -1;
	vl_log_setup(VL_LOG_ERROR, false, true);
	return 0;
}

/* host-a (10.1.0.1/16) as the lighthouse. */
static int setup_server(void **state)
{
	if (setup_common())
		return -1;
	*state = env_new(vec_host_a_pem, vec_host_a_key_pem,
			 "pki: {ca: x, cert: y, key: z}\n"
			 "lighthouse: {am_lighthouse: true}\n"
			 "listen: {port: 4242}\n");
	return 0;
}

/* host-b (10.1.0.2/16), a client of lighthouse 10.1.0.1. */
static int setup_client(void **state)
{
	struct env *e;

	if (setup_common())
		return -1;
	e = env_new(vec_host_b_pem, vec_host_b_key_pem,
		    "pki: {ca: x, cert: y, key: z}\n"
		    "static_host_map: {\"10.1.0.1\": [\"172.31.0.1:4242\"]}\n"
		    "lighthouse:\n"
		    "  hosts: [\"10.1.0.1\"]\n"
		    "  interval: 10\n"
		    "  advertise_addrs: [\"198.51.100.7:0\",\n"
		    "    \"[2001:db8::5]:4243\", \"10.1.9.9:4242\"]\n"
		    "punchy: {delay: 1s, respond: true}\n"
		    "relay: {relays: [\"10.1.0.3\"]}\n"
		    "handshakes: {retries: 5}\n");
	/* static_host_map as ctl_node_init resolves it. */
	e->node.statics = calloc(1, sizeof(*e->node.statics));
	assert_non_null(e->node.statics);
	e->node.n_statics = 1;
	e->node.statics[0].vpn_ip = IP(10, 1, 0, 1);
	e->node.statics[0].addrs[0] = a4(IP(172, 31, 0, 1), 4242);
	e->node.statics[0].n_addrs = 1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	close(e->dp);
	ctl_node_free(&e->node);
	free(e);
	return 0;
}

/* The next record the node sent, or 0 when none waits. */
static size_t next(struct env *e, uint16_t *type)
{
	ssize_t r = recv(e->dp, e->buf, sizeof(e->buf), MSG_DONTWAIT);
	const struct ctlmsg_hdr *h = (const void *)e->buf;

	if (r <= 0)
		return 0;
	assert_true((size_t)r >= sizeof(*h));
	assert_int_equal(h->len, r);
	*type = h->type;
	return (size_t)r;
}

static void assert_quiet(struct env *e)
{
	uint16_t type = 0;

	if (next(e, &type))
		fail_msg("unexpected record of type %u", type);
}

/* Takes one INJECT_SA of a lighthouse message; returns its tunnel index. */
static uint32_t take_lh(struct env *e, struct ctl_lh_msg *m)
{
	const struct ctlmsg_inject_sa *s = (const void *)e->buf;
	uint16_t type = 0;
	size_t len = next(e, &type);

	assert_true(len > 0);
	assert_int_equal(type, CTLMSG_INJECT_SA);
	assert_int_equal(len, offsetof(struct ctlmsg_inject_sa, data) + s->len);
	assert_int_equal(s->type, WIRE_LIGHTHOUSE);
	assert_int_equal(s->subtype, 0);
	assert_int_equal(s->to.sin6_family, 0); /* the tunnel's remote */
	assert_int_equal(ctl_lh_decode(s->data, s->len, m), 0);
	return s->local_index;
}

/* Takes one INJECT_RAW; returns it. */
static const struct ctlmsg_inject_raw *take_raw(struct env *e)
{
	uint16_t type = 0;

	assert_true(next(e, &type) > 0);
	assert_int_equal(type, CTLMSG_INJECT_RAW);
	return (const void *)e->buf;
}

/* A tunnel as the handshake code leaves it, minus keys and certificate. */
static struct ctl_tunnel *tunnel(struct env *e, uint32_t vpn_ip, uint32_t index,
				 struct sockaddr_in6 remote)
{
	struct ctl_tunnel *t = calloc(1, sizeof(*t));
	uint16_t type = 0;

	assert_non_null(t);
	t->add.vpn_ip = vpn_ip;
	t->add.local_index = index;
	t->add.remote_index = index + 1;
	t->add.remote = remote;
	snprintf(t->name, sizeof(t->name), "fake-%x", index);
	assert_int_equal(ctl_tunnel_install(&e->node, t), 0);
	assert_true(next(e, &type) > 0);
	assert_int_equal(type, CTLMSG_TUNNEL_ADD);
	ctl_lh_on_tunnel_up(&e->node, t);
	return t;
}

static void remove_tunnel(struct env *e, struct ctl_tunnel *t)
{
	uint16_t type = 0;

	ctl_tunnel_remove(&e->node, t, false);
	assert_true(next(e, &type) > 0);
	assert_int_equal(type, CTLMSG_TUNNEL_DEL);
}

/* Encodes @m and hands it to the node as arriving on @t. */
static void deliver(struct env *e, const struct ctl_tunnel *t,
		    const struct ctl_lh_msg *m)
{
	uint8_t buf[CTL_LH_MSG_MAX];
	size_t len = 0;

	assert_int_equal(ctl_lh_encode(m, buf, sizeof(buf), &len), 0);
	ctl_lh_on_message(&e->node, t, buf, len);
}

static void query(struct env *e, const struct ctl_tunnel *from, uint32_t ip)
{
	struct ctl_lh_msg q = { .type = CTL_LH_HOST_QUERY, .vpn_ip = ip };

	deliver(e, from, &q);
}

/* ---- server ---------------------------------------------------------- */

static void test_lh_server_answers_spec_reply(void **state)
{
	struct env *e = *state;
	struct ctl_tunnel *x, *q;
	struct ctl_lh_msg m = { .type = CTL_LH_HOST_UPDATE_NOTIFICATION,
				.vpn_ip = IP(10, 128, 0, 2) };
	const struct ctlmsg_inject_sa *s = (const void *)e->buf;
	struct sockaddr_in6 qa = a4(IP(172, 31, 0, 5), 4242);

	x = tunnel(e, IP(10, 128, 0, 2), 0x100, a4(IP(10, 0, 0, 2), 4242));
	q = tunnel(e, IP(10, 1, 0, 5), 0x200, qa);
	assert_quiet(e); /* a lighthouse sends nothing on its own */

	m.v4[m.n_v4++] = a4(IP(1, 2, 3, 4), 4242);
	m.v6[m.n_v6++] = a6("2001:db8::1", 4243);
	deliver(e, x, &m);
	assert_quiet(e); /* updates get no answer */

	/* The reply goes to the querier, learned address first: the spec's bytes. */
	query(e, q, IP(10, 128, 0, 2));
	assert_int_equal(take_lh(e, &m), 0x200);
	assert_int_equal(s->len, sizeof(reply_vec));
	assert_memory_equal(s->data, reply_vec, sizeof(reply_vec));

	/* The queried host is told to punch towards the querier. */
	assert_int_equal(take_lh(e, &m), 0x100);
	assert_int_equal(m.type, CTL_LH_HOST_PUNCH_NOTIFICATION);
	assert_int_equal(m.vpn_ip, IP(10, 1, 0, 5));
	assert_int_equal(m.n_v4, 1);
	assert_int_equal(m.n_v6, 0);
	assert_true(same(&m.v4[0], &qa));
	assert_quiet(e);
}

static void test_lh_server_update_rules(void **state)
{
	struct env *e = *state;
	struct ctl_tunnel *x, *q;
	struct ctl_lh_msg m = { .type = CTL_LH_HOST_UPDATE_NOTIFICATION };
	struct sockaddr_in6 learned = a4(IP(192, 0, 2, 10), 4242);

	x = tunnel(e, IP(10, 1, 0, 3), 0x300, learned);
	q = tunnel(e, IP(10, 1, 0, 5), 0x500, a4(IP(192, 0, 2, 50), 4242));

	/* An update about 10.1.0.3 from 10.1.0.5's tunnel is refused. */
	m.vpn_ip = IP(10, 1, 0, 3);
	m.v4[m.n_v4++] = a4(IP(203, 0, 113, 66), 666);
	deliver(e, q, &m);
	query(e, q, IP(10, 1, 0, 3));
	assert_int_equal(take_lh(e, &m), 0x500);
	assert_int_equal(m.n_v4, 1); /* the learned address only */
	assert_true(same(&m.v4[0], &learned));
	(void)take_lh(e, &m); /* punch notification */

	/*
	 * From its own tunnel: 11 IPv4s, the first inside our VPN network.
	 * The first 10 are taken, then that one is dropped: 9 remain. 11
	 * IPv6s: 10 remain.
	 */
	memset(&m, 0, sizeof(m));
	m.type = CTL_LH_HOST_UPDATE_NOTIFICATION;
	m.vpn_ip = IP(10, 1, 0, 3);
	m.v4[m.n_v4++] = a4(IP(10, 1, 7, 7), 4242);
	for (unsigned int i = 1; i < CTL_LH_MSG_ADDRS_MAX; i++)
		m.v4[m.n_v4++] = a4(IP(203, 0, 113, i), 4242);
	for (unsigned int i = 0; i < CTL_LH_MSG_ADDRS_MAX; i++) {
		m.v6[m.n_v6] = a6("2001:db8::", 4242);
		m.v6[m.n_v6++].sin6_addr.s6_addr[15] = (uint8_t)(i + 1);
	}
	m.relays[m.n_relays++] = IP(10, 1, 0, 9);
	deliver(e, x, &m);
	query(e, q, IP(10, 1, 0, 3));
	assert_int_equal(take_lh(e, &m), 0x500);
	assert_int_equal(m.type, CTL_LH_HOST_QUERY_REPLY);
	assert_int_equal(m.vpn_ip, IP(10, 1, 0, 3));
	assert_int_equal(m.n_v4, 1 + 9);
	assert_true(same(&m.v4[0], &learned));
	for (unsigned int i = 1; i < 10; i++) {
		struct sockaddr_in6 w = a4(IP(203, 0, 113, i), 4242);

		assert_true(same(&m.v4[i], &w));
	}
	assert_int_equal(m.n_v6, WIRE_MAX_REMOTES);
	assert_int_equal(m.v6[9].sin6_addr.s6_addr[15], 10);
	assert_int_equal(m.n_relays, 1);
	assert_int_equal(m.relays[0], IP(10, 1, 0, 9));
	(void)take_lh(e, &m);

	/* A new update replaces the lists. */
	memset(&m, 0, sizeof(m));
	m.type = CTL_LH_HOST_UPDATE_NOTIFICATION;
	m.vpn_ip = IP(10, 1, 0, 3);
	m.v4[m.n_v4++] = a4(IP(198, 51, 100, 1), 4343);
	deliver(e, x, &m);
	query(e, q, IP(10, 1, 0, 3));
	assert_int_equal(take_lh(e, &m), 0x500);
	assert_int_equal(m.n_v4, 2);
	assert_int_equal(m.n_v6, 0);
	assert_int_equal(m.n_relays, 0);
	(void)take_lh(e, &m);

	/* Roaming moves the learned address. */
	x->add.remote = a6("2001:db8:1::3", 4000);
	ctl_lh_on_roam(&e->node, x);
	query(e, q, IP(10, 1, 0, 3));
	assert_int_equal(take_lh(e, &m), 0x500);
	assert_int_equal(m.n_v6, 1);
	assert_true(same(&m.v6[0], &x->add.remote));
	(void)take_lh(e, &m);
	assert_quiet(e);

	/* Nobody knows 10.1.0.99: no answer at all. */
	query(e, q, IP(10, 1, 0, 99));
	assert_quiet(e);

	/* The tunnel goes, and with it everything about the host. */
	remove_tunnel(e, x);
	query(e, q, IP(10, 1, 0, 3));
	assert_quiet(e);
	assert_int_equal(ctl_lh_addrs(&e->node, IP(10, 1, 0, 3), &learned, 1),
			 0);

	/* Garbage and replies are ignored by a lighthouse. */
	{
		static const uint8_t junk[] = { 0x08, 0x01, 0x12, 0x7f, 0x08 };

		ctl_lh_on_message(&e->node, q, junk, sizeof(junk));
		ctl_lh_on_message(&e->node, q, reply_vec, sizeof(reply_vec));
		for (size_t cut = 0; cut < sizeof(reply_vec); cut++)
			ctl_lh_on_message(&e->node, q, reply_vec, cut);
	}
	assert_quiet(e);
}

/* ---- client ---------------------------------------------------------- */

static struct ctl_pending *pending(struct env *e, uint32_t vpn_ip)
{
	for (size_t i = 0; i < e->node.n_pending; i++)
		if (e->node.pending[i]->vpn_ip == vpn_ip)
			return e->node.pending[i];
	return NULL;
}

static void test_lh_client_query_and_reply(void **state)
{
	struct env *e = *state;
	struct ctl_tunnel *lh, *other;
	struct ctl_lh_msg m;
	struct ctl_pending *p;
	const struct ctlmsg_inject_raw *r;
	struct sockaddr_in6 w4 = a4(IP(198, 51, 100, 9), 4242),
			    w6 = a6("2001:db8::9", 4242);

	e->node.cfg.lighthouse_interval = 0; /* no updates in the way */
	lh = tunnel(e, IP(10, 1, 0, 1), 0x11, a4(IP(172, 31, 0, 1), 4242));
	other = tunnel(e, IP(10, 1, 0, 7), 0x77, a4(IP(172, 31, 0, 7), 4242));
	assert_quiet(e);

	/* A handshake to an unknown peer: no address, one query. */
	ctl_hs_start(&e->node, IP(10, 1, 0, 9));
	assert_int_equal(take_lh(e, &m), 0x11);
	assert_int_equal(m.type, CTL_LH_HOST_QUERY);
	assert_int_equal(m.vpn_ip, IP(10, 1, 0, 9));
	assert_quiet(e);
	p = pending(e, IP(10, 1, 0, 9));
	assert_non_null(p);
	assert_int_equal(p->n_addrs, 0);

	/* Never about a lighthouse. */
	ctl_lh_query(&e->node, IP(10, 1, 0, 1));
	assert_quiet(e);

	/* A "reply" from a host that is not a lighthouse changes nothing. */
	memset(&m, 0, sizeof(m));
	m.type = CTL_LH_HOST_QUERY_REPLY;
	m.vpn_ip = IP(10, 1, 0, 9);
	m.v4[m.n_v4++] = a4(IP(203, 0, 113, 13), 13);
	deliver(e, other, &m);
	assert_int_equal(p->n_addrs, 0);
	assert_int_equal(ctl_lh_addrs(&e->node, IP(10, 1, 0, 9), &w4, 1), 0);
	assert_quiet(e);

	/*
	 * The lighthouse answers: the VPN-internal address is dropped, the
	 * others join the handshake, which goes out at once to both.
	 */
	memset(&m, 0, sizeof(m));
	m.type = CTL_LH_HOST_QUERY_REPLY;
	m.vpn_ip = IP(10, 1, 0, 9);
	m.v4[m.n_v4++] = w4;
	m.v4[m.n_v4++] = a4(IP(10, 1, 3, 3), 4242);
	m.v6[m.n_v6++] = w6;
	deliver(e, lh, &m);
	assert_int_equal(p->n_addrs, 2);
	assert_int_equal(p->attempts, 1);
	r = take_raw(e);
	assert_true(same(&r->to, &w4));
	assert_int_equal(r->data[0], 0x10); /* handshake message 1 */
	assert_int_equal(wire_get_be64(r->data + 8), WIRE_HS_MSG1);
	r = take_raw(e);
	assert_true(same(&r->to, &w6));
	assert_quiet(e);

	/* A later answer adds addresses but does not send by itself. */
	m.v4[0] = a4(IP(198, 51, 100, 10), 4242);
	deliver(e, lh, &m);
	assert_int_equal(p->n_addrs, 3);
	assert_quiet(e);

	/* The retry uses all three; with > 1 address no query. */
	e->node.now_ns += SEC;
	ctl_hs_timers(&e->node);
	for (int i = 0; i < 3; i++)
		assert_int_equal(take_raw(e)->data[0], 0x10);
	assert_quiet(e);

	/* The peer's tunnel comes and goes: its cached addresses go too. */
	{
		struct ctl_tunnel *t;
		struct sockaddr_in6 out[4];

		assert_int_equal(
			ctl_lh_addrs(&e->node, IP(10, 1, 0, 9), out, 4), 2);
		t = tunnel(e, IP(10, 1, 0, 9), 0x99, w4);
		remove_tunnel(e, t);
		assert_int_equal(
			ctl_lh_addrs(&e->node, IP(10, 1, 0, 9), out, 4), 0);
	}

	/* An answer about a host we did not ask about is not kept. */
	memset(&m, 0, sizeof(m));
	m.type = CTL_LH_HOST_QUERY_REPLY;
	m.vpn_ip = IP(10, 1, 0, 44);
	m.v4[m.n_v4++] = w4;
	deliver(e, lh, &m);
	assert_int_equal(ctl_lh_addrs(&e->node, IP(10, 1, 0, 44), &w4, 1), 0);

	/* A client answers no queries and takes no updates. */
	query(e, lh, IP(10, 1, 0, 2));
	m.type = CTL_LH_HOST_UPDATE_NOTIFICATION;
	m.vpn_ip = IP(10, 1, 0, 1);
	deliver(e, lh, &m);
	assert_int_equal(ctl_lh_addrs(&e->node, IP(10, 1, 0, 1), &w4, 1), 0);
	assert_quiet(e);
}

static void test_lh_client_lighthouse_tunnel_later(void **state)
{
	struct env *e = *state;
	const struct ctlmsg_inject_raw *r;
	struct sockaddr_in6 lha = a4(IP(172, 31, 0, 1), 4242);
	struct ctl_lh_msg m;
	bool v4_ok = true;

	/* No tunnel to the lighthouse: the query starts a handshake to it. */
	ctl_hs_start(&e->node, IP(10, 1, 0, 9));
	r = take_raw(e);
	assert_true(same(&r->to, &lha));
	assert_quiet(e);
	assert_non_null(pending(e, IP(10, 1, 0, 1)));

	/* Its tunnel is up: our update, then the waiting query. */
	(void)tunnel(e, IP(10, 1, 0, 1), 0x11, lha);
	assert_int_equal(take_lh(e, &m), 0x11);
	assert_int_equal(m.type, CTL_LH_HOST_UPDATE_NOTIFICATION);
	assert_int_equal(m.vpn_ip, IP(10, 1, 0, 2));
	/* advertise_addrs first (port 0 = ours; the VPN one dropped). */
	{
		struct sockaddr_in6 w4 = a4(IP(198, 51, 100, 7), 4242),
				    w6 = a6("2001:db8::5", 4243);

		assert_true(m.n_v4 >= 1 && m.n_v6 >= 1);
		assert_true(same(&m.v4[0], &w4));
		assert_true(same(&m.v6[0], &w6));
	}
	assert_true(m.n_v4 <= WIRE_MAX_REMOTES && m.n_v6 <= WIRE_MAX_REMOTES);
	/* The rest: local interfaces, never loopback, link-local or VPN. */
	for (unsigned int i = 1; i < m.n_v4; i++) {
		uint32_t ip = wire_get_be32(m.v4[i].sin6_addr.s6_addr + 12);

		v4_ok &= ip >> 24 != 127 && ip >> 16 != 0xa9fe &&
			 ip >> 16 != 0x0a01 && ntohs(m.v4[i].sin6_port) == 4242;
	}
	assert_true(v4_ok);
	for (unsigned int i = 1; i < m.n_v6; i++) {
		assert_false(IN6_IS_ADDR_LOOPBACK(&m.v6[i].sin6_addr));
		assert_false(IN6_IS_ADDR_LINKLOCAL(&m.v6[i].sin6_addr));
	}
	assert_int_equal(m.n_relays, 1);
	assert_int_equal(m.relays[0], IP(10, 1, 0, 3));

	assert_int_equal(take_lh(e, &m), 0x11);
	assert_int_equal(m.type, CTL_LH_HOST_QUERY);
	assert_int_equal(m.vpn_ip, IP(10, 1, 0, 9));
	assert_quiet(e);
}

static void test_lh_client_periodic_update(void **state)
{
	struct env *e = *state;
	struct ctl_lh_msg m;

	(void)tunnel(e, IP(10, 1, 0, 1), 0x11, a4(IP(172, 31, 0, 1), 4242));
	(void)take_lh(e, &m); /* the update on the tunnel's arrival */

	/* At start (SETUP_DONE) and then every interval, not between. */
	ctl_lh_on_setup(&e->node);
	ctl_lh_timers(&e->node);
	assert_int_equal(take_lh(e, &m), 0x11);
	assert_int_equal(m.type, CTL_LH_HOST_UPDATE_NOTIFICATION);
	e->node.now_ns += 9 * SEC;
	ctl_lh_timers(&e->node);
	assert_quiet(e);
	e->node.now_ns += SEC;
	ctl_lh_timers(&e->node);
	assert_int_equal(take_lh(e, &m), 0x11);
	assert_int_equal(m.type, CTL_LH_HOST_UPDATE_NOTIFICATION);

	/* interval 0: never. */
	e->node.cfg.lighthouse_interval = 0;
	ctl_lh_on_setup(&e->node);
	e->node.now_ns += 100 * SEC;
	ctl_lh_timers(&e->node);
	assert_quiet(e);
}

static void test_lh_client_punch(void **state)
{
	struct env *e = *state;
	struct ctl_tunnel *lh, *other, *peer;
	const struct ctlmsg_inject_raw *r;
	const struct ctlmsg_inject_sa *s = (const void *)e->buf;
	struct ctl_lh_msg m = { .type = CTL_LH_HOST_PUNCH_NOTIFICATION,
				.vpn_ip = IP(10, 1, 0, 20) };
	struct sockaddr_in6 w4 = a4(IP(198, 51, 100, 20), 4242),
			    w6 = a6("2001:db8::20", 4242);
	uint16_t type = 0;

	e->node.cfg.lighthouse_interval = 0;
	lh = tunnel(e, IP(10, 1, 0, 1), 0x11, a4(IP(172, 31, 0, 1), 4242));
	other = tunnel(e, IP(10, 1, 0, 7), 0x77, a4(IP(172, 31, 0, 7), 4242));
	peer = tunnel(e, IP(10, 1, 0, 20), 0x20, w4);
	m.v4[m.n_v4++] = w4;
	m.v6[m.n_v6++] = w6;

	/* Not from a lighthouse: nothing, ever. */
	deliver(e, other, &m);
	e->node.now_ns += 10 * SEC;
	ctl_lh_timers(&e->node);
	assert_quiet(e);

	/* From the lighthouse: one 0x00 to each address after punchy.delay. */
	deliver(e, lh, &m);
	ctl_lh_timers(&e->node);
	assert_quiet(e);
	e->node.now_ns += SEC;
	ctl_lh_timers(&e->node);
	for (int i = 0; i < 2; i++) {
		r = take_raw(e);
		assert_int_equal(r->hdr.len,
				 offsetof(struct ctlmsg_inject_raw, data) + 1);
		assert_int_equal(r->len, 1);
		assert_int_equal(r->data[0], 0x00);
		assert_true(same(&r->to, i ? &w6 : &w4) ||
			    same(&r->to, i ? &w4 : &w6));
	}
	assert_quiet(e);

	/* punchy.respond: 5 s later, a test request to the peer. */
	e->node.now_ns += 4 * SEC;
	ctl_lh_timers(&e->node);
	assert_true(next(e, &type) > 0);
	assert_int_equal(type, CTLMSG_INJECT_SA);
	assert_int_equal(s->local_index, peer->add.local_index);
	assert_int_equal(s->type, WIRE_TEST);
	assert_int_equal(s->subtype, WIRE_SUB_TEST_REQUEST);
	assert_int_equal(s->len, 0);
	assert_quiet(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lh_encode_host_query),
		cmocka_unit_test(test_lh_encode_host_query_reply),
		cmocka_unit_test(test_lh_decode_hostile),
		cmocka_unit_test_setup_teardown(
			test_lh_server_answers_spec_reply, setup_server,
			teardown),
		cmocka_unit_test_setup_teardown(test_lh_server_update_rules,
						setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_lh_client_query_and_reply,
						setup_client, teardown),
		cmocka_unit_test_setup_teardown(
			test_lh_client_lighthouse_tunnel_later, setup_client,
			teardown),
		cmocka_unit_test_setup_teardown(test_lh_client_periodic_update,
						setup_client, teardown),
		cmocka_unit_test_setup_teardown(test_lh_client_punch,
						setup_client, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
