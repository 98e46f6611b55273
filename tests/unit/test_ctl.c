/* SPDX-License-Identifier: MIT */
/*
 * The control thread (dataplane/ctl.c).
 *
 * First without sockets: every message type, valid and with each bad
 * length or field, through dp_ctl_validate(), and the HELLO / role / SETUP
 * order through dp_ctl_check_order(), as tables of (message, mutation,
 * expected errno, words the message must contain).
 *
 * Then over the real socket in a temporary directory, driving
 * dp_ctl_step() from the test thread: socket claiming (live, stale, not a
 * socket), HELLO, DUMP, refusals answered with ERROR, control replacement,
 * and -- with tun_disabled, so no privilege is needed -- a whole SETUP on
 * 127.0.0.1 with workers running: tunnels, DUMP with and without keys,
 * injects arriving sealed at a UDP socket, punts, lease requests, TUNNEL_DEL
 * with closeTunnel, a repeated and a different SETUP; and TUNNEL_IDENTITY
 * moving a tunnel in and out of a ca_name rule, proven by real packets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <cmocka.h>

#include "aead.h"
#include "ctl.h"
#include "fw_any.h"
#include "status.h"
#include "wire.h"

#define VPN_A 0x0a4d0001 /* 10.77.0.1, us */
#define VPN_B 0x0a4d0002 /* the peer */
#define IDX_LOCAL 0x11223344
#define IDX_REMOTE 0x55667788

static const uint8_t key_send[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const uint8_t key_recv[32] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };

/* ---- Message builders -------------------------------------------------- */

static void *msgbuf(void)
{
	static _Alignas(64) uint8_t buf[CTLMSG_MAX + 64];

	return buf;
}

static void hdr(void *rec, uint16_t type, size_t len)
{
	struct ctlmsg_hdr *h = rec;

	*h = (struct ctlmsg_hdr){ .version = CTLMSG_VERSION,
				  .type = type,
				  .len = (uint32_t)len,
				  .seq = 7 };
}

static struct sockaddr_in6 addr4(uint32_t ip, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port) };

	a.sin6_addr.s6_addr[10] = 0xff;
	a.sin6_addr.s6_addr[11] = 0xff;
	wire_put_be32(a.sin6_addr.s6_addr + 12, ip);
	return a;
}

static void fill_setup(struct ctlmsg_setup *m)
{
	memset(m, 0, sizeof(*m));
	hdr(m, CTLMSG_SETUP, sizeof(*m));
	m->listen = addr4(0x7f000001, 0);
	m->backend = CTLMSG_BACKEND_UDP;
	m->mode = CTLMSG_MODE_EVENT;
	m->workers = 1;
	m->cipher = VL_CIPHER_AES;
	m->tun_disabled = 1;
	m->mtu = 1300;
	m->tx_queue = 500;
	m->send_recv_error = CTLMSG_RECV_ERROR_ALWAYS;
	m->pending_timeout_ms = 1000;
	m->flows_max = 4096;
	m->vpn = (struct ctlmsg_net){ VPN_A, 0xffffff00 };
	m->n_local_nets = 1;
	m->local_nets[0] = (struct ctlmsg_net){ VPN_A, 0xffffffff };
}

static void fill_tunnel(struct ctlmsg_tunnel_add *m, uint32_t index,
			const struct sockaddr_in6 *remote)
{
	memset(m, 0, sizeof(*m));
	hdr(m, CTLMSG_TUNNEL_ADD, sizeof(*m));
	m->local_index = index;
	m->remote_index = IDX_REMOTE;
	m->vpn_ip = VPN_B;
	m->cipher = VL_CIPHER_AES;
	if (remote)
		m->remote = *remote;
	memcpy(m->send_key, key_send, 32);
	memcpy(m->recv_key, key_recv, 32);
	m->send_counter = 2;
	m->lease_end = CTLMSG_LEASE_STEP;
	m->recv_max = 2;
	m->n_peer_nets = 1;
	m->peer_nets[0] = (struct ctlmsg_net){ VPN_B, 0xffffffff };
	m->cert_len = 3;
	memcpy(m->cert, "crt", 3);
	fw_any_peer(&m->fw_peer, "host-b");
}

/* A valid message of @type in msgbuf(); returns its length. */
static size_t build(uint16_t type)
{
	void *b = msgbuf();

	memset(b, 0, CTLMSG_MAX);
	switch ((enum ctlmsg_type)type) {
	case CTLMSG_HELLO: {
		struct ctlmsg_hello *m = (void *)b;

		hdr(m, type, sizeof(*m));
		m->role = CTLMSG_ROLE_CONTROL;
		return sizeof(*m);
	}
	case CTLMSG_SETUP:
		fill_setup((void *)b);
		return sizeof(struct ctlmsg_setup);
	case CTLMSG_TUNNEL_ADD:
		fill_tunnel((void *)b, IDX_LOCAL, NULL);
		return sizeof(struct ctlmsg_tunnel_add);
	case CTLMSG_TUNNEL_DEL: {
		struct ctlmsg_tunnel_del *m = (void *)b;

		hdr(m, type, sizeof(*m));
		m->local_index = IDX_LOCAL;
		m->send_close = 1;
		return sizeof(*m);
	}
	case CTLMSG_TUNNEL_REMOTE: {
		struct ctlmsg_tunnel_remote *m = (void *)b;

		hdr(m, type, sizeof(*m));
		m->local_index = IDX_LOCAL;
		m->remote = addr4(0x7f000001, 4242);
		return sizeof(*m);
	}
	case CTLMSG_TUNNEL_IDENTITY: {
		struct ctlmsg_tunnel_identity *m = (void *)b;

		hdr(m, type, sizeof(*m));
		m->local_index = IDX_LOCAL;
		fw_any_peer(&m->fw_peer, "host-b");
		return sizeof(*m);
	}
	case CTLMSG_LEASE_GRANT:
	case CTLMSG_LEASE_REQUEST: {
		struct ctlmsg_lease *m = (void *)b;

		hdr(m, type, sizeof(*m));
		m->local_index = IDX_LOCAL;
		m->lease_end = 2 * CTLMSG_LEASE_STEP;
		return sizeof(*m);
	}
	case CTLMSG_INJECT_RAW: {
		struct ctlmsg_inject_raw *m = (void *)b;
		size_t len = offsetof(struct ctlmsg_inject_raw, data) + 10;

		hdr(m, type, len);
		m->to = addr4(0x7f000001, 4242);
		m->len = 10;
		return len;
	}
	case CTLMSG_INJECT_SA: {
		struct ctlmsg_inject_sa *m = (void *)b;
		size_t len = offsetof(struct ctlmsg_inject_sa, data) + 10;

		hdr(m, type, len);
		m->local_index = IDX_LOCAL;
		m->type = WIRE_LIGHTHOUSE;
		m->len = 10;
		return len;
	}
	case CTLMSG_INJECT_TUN:
	case CTLMSG_INJECT_OUT: {
		struct ctlmsg_inject_ip *m = (void *)b;
		size_t len = offsetof(struct ctlmsg_inject_ip, data) + 28;

		hdr(m, type, len);
		m->len = 28;
		/* IPv4/ICMP echo, 10.1.0.2 -> 10.1.0.1: checksums not checked. */
		memcpy(m->data,
		       "\x45\x00\x00\x1c\x00\x00\x40\x00\x40\x01\x00\x00"
		       "\x0a\x01\x00\x02\x0a\x01\x00\x01\x08\x00\x00\x00"
		       "\x00\x01\x00\x01",
		       28);
		return len;
	}
	case CTLMSG_PUNT: {
		struct ctlmsg_punt *m = (void *)b;

		hdr(m, type, DP_CTL_PUNT_LEN(0));
		return DP_CTL_PUNT_LEN(0);
	}
	case CTLMSG_DUMP:
	case CTLMSG_DUMP_END:
	case CTLMSG_STATS:
	case CTLMSG_ACTIVITY:
	case CTLMSG_CLEAR:
		hdr(b, type, sizeof(struct ctlmsg_hdr));
		return sizeof(struct ctlmsg_hdr);
	case CTLMSG_ACTIVITY_REPLY:
		hdr(b, type, offsetof(struct ctlmsg_activity_reply, tunnel));
		return offsetof(struct ctlmsg_activity_reply, tunnel);
	case CTLMSG_FLOWS:
		hdr(b, type, sizeof(struct ctlmsg_flows));
		((struct ctlmsg_flows *)b)->reset = 1;
		return sizeof(struct ctlmsg_flows);
	case CTLMSG_FLOWS_REPLY:
		hdr(b, type, offsetof(struct ctlmsg_flows_reply, flow));
		return offsetof(struct ctlmsg_flows_reply, flow);
	case CTLMSG_FIREWALL:
		return fw_any_build(b, 7);
	case CTLMSG_STATS_REPLY:
		hdr(b, type, sizeof(struct ctlmsg_stats_reply));
		return sizeof(struct ctlmsg_stats_reply);
	case CTLMSG_SETUP_DONE:
		hdr(b, type, sizeof(struct ctlmsg_setup_done));
		return sizeof(struct ctlmsg_setup_done);
	case CTLMSG_DUMP_TUNNEL:
		hdr(b, type, sizeof(struct ctlmsg_dump_tunnel));
		return sizeof(struct ctlmsg_dump_tunnel);
	case CTLMSG_ERROR:
		hdr(b, type, sizeof(struct ctlmsg_error));
		return sizeof(struct ctlmsg_error);
	}
	hdr(b, type, sizeof(struct ctlmsg_hdr));
	return sizeof(struct ctlmsg_hdr);
}

/* ---- Validation table -------------------------------------------------- */

#define SETUP(b) ((struct ctlmsg_setup *)(b))
#define TADD(b) ((struct ctlmsg_tunnel_add *)(b))
#define RAW(b) ((struct ctlmsg_inject_raw *)(b))
#define ISA(b) ((struct ctlmsg_inject_sa *)(b))

/* Changes the record in place; may change its length (kept in the header). */
typedef void mutate_fn(void *b, size_t *len);

static void set_len(void *b, size_t *len, size_t n)
{
	*len = n;
	((struct ctlmsg_hdr *)b)->len = (uint32_t)n;
}

static void m_none(void *b, size_t *len)
{
	(void)b, (void)len;
}
static void m_short_hdr(void *b, size_t *len)
{
	(void)b;
	*len = 8;
}
static void m_version(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_hdr *)b)->version = CTLMSG_VERSION + 1;
}
static void m_hdr_len(void *b, size_t *len)
{
	((struct ctlmsg_hdr *)b)->len = (uint32_t)*len + 4;
}
static void m_minus_one(void *b, size_t *len)
{
	set_len(b, len, *len - 1);
}
static void m_plus_one(void *b, size_t *len)
{
	set_len(b, len, *len + 1);
}
static void m_too_long(void *b, size_t *len)
{
	set_len(b, len, CTLMSG_MAX + 1);
}
/* A STATS request as long as the reply (a confused client). */
static void m_as_reply(void *b, size_t *len)
{
	set_len(b, len, sizeof(struct ctlmsg_stats_reply));
}
static void m_type_99(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_hdr *)b)->type = 99;
}
static void m_role_0(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_hello *)b)->role = 0;
}
static void m_role_3(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_hello *)b)->role = 3;
}
static void m_s_family(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->listen.sin6_family = AF_INET;
}
static void m_s_backend(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->backend = 4;
}
static void m_s_mode(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->mode = 3;
}
static void m_s_workers_0(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->workers = 0;
}
static void m_s_workers_65(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->workers = DP_CTL_WORKERS_MAX + 1;
}
static void m_s_cipher(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->cipher = 2;
}
static void m_s_iface(void *b, size_t *len)
{
	(void)len;
	memset(SETUP(b)->interface, 'x', sizeof(SETUP(b)->interface));
}
static void m_s_tundev(void *b, size_t *len)
{
	(void)len;
	memset(SETUP(b)->tun_dev, 'x', sizeof(SETUP(b)->tun_dev));
}
static void m_s_tun_disabled(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->tun_disabled = 2;
}
static void m_s_mtu_low(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->tun_disabled = 0;
	SETUP(b)->mtu = 67;
}
static void m_s_mtu_high(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->tun_disabled = 0;
	SETUP(b)->mtu = DP_PKT_MAX + 1;
}
static void m_s_mtu_ignored(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->tun_disabled = 1;
	SETUP(b)->mtu = 0;
}
static void m_s_txq(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->tx_queue = 0x80000000u;
}
static void m_s_txq_0(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->tun_disabled = 0;
	SETUP(b)->tx_queue = 0;
}
static void m_s_txq_0_no_tun(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->tx_queue = 0;
}
static void m_fw_short(void *b, size_t *len)
{
	set_len(b, len, offsetof(struct ctlmsg_firewall, data) - 1);
}
static void m_flows_reset(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_flows *)b)->reset = 2;
}
static void m_s_flows_low(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->flows_max = 1023;
}
static void m_s_flows_high(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->flows_max = (1u << 24) + 1;
}
static void m_s_recv_error(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->send_recv_error = 3;
}
static void m_s_vpn_mask(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->vpn.mask = 0xff00ff00;
}
static void m_s_vpn_zero(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->vpn.ip = 0;
}
static void m_s_nets_0(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->n_local_nets = 0;
}
static void m_s_nets_33(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->n_local_nets = CTLMSG_NETS_MAX + 1;
}
static void m_s_net_mask(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->local_nets[0].mask = 0x0000ffff;
}
static void m_s_routes_257(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->n_routes = CTLMSG_ROUTES_MAX + 1;
}
static void m_s_route_host(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->n_routes = 1;
	SETUP(b)->routes[0] = (struct ctlmsg_route){
		{ 0xc0a80101, 0xffffff00 }, VPN_B, 0, 0
	};
}
static void m_s_route_mtu(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->n_routes = 1;
	SETUP(b)->routes[0] = (struct ctlmsg_route){
		{ 0xc0a80100, 0xffffff00 }, VPN_B, 10, 0
	};
}
static void m_s_route_via(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->n_routes = 1;
	SETUP(b)->routes[0] = (struct ctlmsg_route){
		{ 0xc0a80100, 0xffffff00 }, 0x0a4e0002, 0, 0
	};
}
static void m_s_route_ok(void *b, size_t *len)
{
	(void)len;
	SETUP(b)->n_routes = 1;
	SETUP(b)->routes[0] = (struct ctlmsg_route){
		{ 0xc0a80100, 0xffffff00 }, VPN_B, 1400, 5
	};
}
static void m_t_index(void *b, size_t *len)
{
	(void)len;
	TADD(b)->local_index = 0;
}
static void m_t_cipher(void *b, size_t *len)
{
	(void)len;
	TADD(b)->cipher = 7;
}
static void m_t_vpn(void *b, size_t *len)
{
	(void)len;
	TADD(b)->vpn_ip = 0;
}
static void m_t_family(void *b, size_t *len)
{
	(void)len;
	TADD(b)->remote.sin6_family = AF_INET;
}
static void m_t_lease(void *b, size_t *len)
{
	(void)len;
	TADD(b)->send_counter = TADD(b)->lease_end + 1;
}
static void m_t_nets(void *b, size_t *len)
{
	(void)len;
	TADD(b)->n_peer_nets = CTLMSG_NETS_MAX + 1;
}
static void m_t_net_mask(void *b, size_t *len)
{
	(void)len;
	TADD(b)->peer_nets[0].mask = 0xfffffffe ^ 0x100;
}
static void m_t_cert(void *b, size_t *len)
{
	(void)len;
	TADD(b)->cert_len = CTLMSG_CERT_MAX + 1;
}
static void m_del_index(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_tunnel_del *)b)->local_index = 0;
}
static void m_del_close(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_tunnel_del *)b)->send_close = 2;
}
static void m_rem_index(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_tunnel_remote *)b)->local_index = 0;
}
static void m_rem_family(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_tunnel_remote *)b)->remote.sin6_family = 0;
}
static void m_id_index(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_tunnel_identity *)b)->local_index = 0;
}
static void m_lease_index(void *b, size_t *len)
{
	(void)len;
	((struct ctlmsg_lease *)b)->local_index = 0;
}
static void m_raw_empty(void *b, size_t *len)
{
	RAW(b)->len = 0;
	set_len(b, len, offsetof(struct ctlmsg_inject_raw, data));
}
static void m_raw_len_mismatch(void *b, size_t *len)
{
	(void)len;
	RAW(b)->len = 11;
}
static void m_raw_whole_struct(void *b, size_t *len)
{
	set_len(b, len, sizeof(struct ctlmsg_inject_raw));
}
static void m_raw_huge(void *b, size_t *len)
{
	RAW(b)->len = CTLMSG_PACKET_MAX + 1;
	set_len(b, len,
		offsetof(struct ctlmsg_inject_raw, data) + CTLMSG_PACKET_MAX +
			1);
}
static void m_raw_max(void *b, size_t *len)
{
	RAW(b)->len = CTLMSG_PACKET_MAX;
	set_len(b, len, sizeof(struct ctlmsg_inject_raw));
}
static void m_raw_truncated(void *b, size_t *len)
{
	set_len(b, len, offsetof(struct ctlmsg_inject_raw, len));
}
static void m_raw_family(void *b, size_t *len)
{
	(void)len;
	RAW(b)->to.sin6_family = 0;
}
static void m_raw_port(void *b, size_t *len)
{
	(void)len;
	RAW(b)->to.sin6_port = 0;
}
static void m_sa_index(void *b, size_t *len)
{
	(void)len;
	ISA(b)->local_index = 0;
}
static void m_sa_type_data(void *b, size_t *len)
{
	(void)len;
	ISA(b)->type = WIRE_MESSAGE;
}
static void m_sa_type_7(void *b, size_t *len)
{
	(void)len;
	ISA(b)->type = 7;
}
static void m_sa_test_sub(void *b, size_t *len)
{
	(void)len;
	ISA(b)->type = WIRE_TEST;
	ISA(b)->subtype = 2;
}
static void m_sa_close(void *b, size_t *len)
{
	ISA(b)->type = WIRE_CLOSE_TUNNEL;
	ISA(b)->len = 0;
	set_len(b, len, offsetof(struct ctlmsg_inject_sa, data));
}
static void m_sa_family(void *b, size_t *len)
{
	(void)len;
	ISA(b)->to.sin6_family = AF_INET;
}
static void m_sa_len_mismatch(void *b, size_t *len)
{
	(void)len;
	ISA(b)->len = 9;
}

#define IIP(b) ((struct ctlmsg_inject_ip *)(b))

static void m_ip_short(void *b, size_t *len)
{
	IIP(b)->len = 19;
	set_len(b, len, offsetof(struct ctlmsg_inject_ip, data) + 19);
}
static void m_ip_v6(void *b, size_t *len)
{
	(void)len;
	IIP(b)->data[0] = 0x65;
}
static void m_ip_ihl(void *b, size_t *len)
{
	(void)len;
	IIP(b)->data[0] = 0x4f;
}
static void m_ip_ihl_4(void *b, size_t *len)
{
	(void)len;
	IIP(b)->data[0] = 0x44;
}
static void m_ip_total(void *b, size_t *len)
{
	(void)len;
	IIP(b)->data[3] = 29;
}
static void m_ip_huge(void *b, size_t *len)
{
	IIP(b)->len = CTLMSG_PACKET_MAX + 1;
	set_len(b, len, offsetof(struct ctlmsg_inject_ip, data) +
				CTLMSG_PACKET_MAX + 1);
}

struct vcase {
	uint16_t type;
	mutate_fn *mutate;
	int err;
	const char *words; /* in the message; NULL when accepted */
};

static const struct vcase vcases[] = {
	/* Every message the dataplane accepts, as built. */
	{ CTLMSG_HELLO, m_none, 0, NULL },
	{ CTLMSG_SETUP, m_none, 0, NULL },
	{ CTLMSG_TUNNEL_ADD, m_none, 0, NULL },
	{ CTLMSG_TUNNEL_DEL, m_none, 0, NULL },
	{ CTLMSG_TUNNEL_REMOTE, m_none, 0, NULL },
	{ CTLMSG_TUNNEL_IDENTITY, m_none, 0, NULL },
	{ CTLMSG_LEASE_GRANT, m_none, 0, NULL },
	{ CTLMSG_INJECT_RAW, m_none, 0, NULL },
	{ CTLMSG_INJECT_SA, m_none, 0, NULL },
	{ CTLMSG_DUMP, m_none, 0, NULL },
	{ CTLMSG_STATS, m_none, 0, NULL },
	{ CTLMSG_ACTIVITY, m_none, 0, NULL },
	{ CTLMSG_ACTIVITY, m_plus_one, -EBADMSG,
	  "ACTIVITY: record of 17 bytes, want 16" },

	/* Header and lengths, for every type. */
	{ CTLMSG_HELLO, m_short_hdr, -EBADMSG,
	  "shorter than the 16-byte header" },
	{ CTLMSG_HELLO, m_version, -EPROTO, "HELLO: version" },
	{ CTLMSG_SETUP, m_version, -EPROTO, "SETUP: version" },
	{ CTLMSG_TUNNEL_ADD, m_hdr_len, -EBADMSG, "header says" },
	{ CTLMSG_INJECT_RAW, m_hdr_len, -EBADMSG, "header says" },
	{ CTLMSG_HELLO, m_minus_one, -EBADMSG,
	  "HELLO: record of 31 bytes, want 32" },
	{ CTLMSG_HELLO, m_plus_one, -EBADMSG,
	  "HELLO: record of 33 bytes, want 32" },
	{ CTLMSG_SETUP, m_minus_one, -EBADMSG, "SETUP: record of" },
	{ CTLMSG_SETUP, m_plus_one, -EBADMSG, "SETUP: record of" },
	{ CTLMSG_TUNNEL_ADD, m_minus_one, -EBADMSG, "TUNNEL_ADD: record of" },
	{ CTLMSG_TUNNEL_ADD, m_plus_one, -EBADMSG, "TUNNEL_ADD: record of" },
	{ CTLMSG_TUNNEL_DEL, m_minus_one, -EBADMSG, "TUNNEL_DEL: record of" },
	{ CTLMSG_TUNNEL_DEL, m_plus_one, -EBADMSG, "TUNNEL_DEL: record of" },
	{ CTLMSG_TUNNEL_REMOTE, m_minus_one, -EBADMSG,
	  "TUNNEL_REMOTE: record of" },
	{ CTLMSG_TUNNEL_REMOTE, m_plus_one, -EBADMSG,
	  "TUNNEL_REMOTE: record of" },
	{ CTLMSG_TUNNEL_IDENTITY, m_minus_one, -EBADMSG,
	  "TUNNEL_IDENTITY: record of 2143 bytes, want 2144" },
	{ CTLMSG_TUNNEL_IDENTITY, m_plus_one, -EBADMSG,
	  "TUNNEL_IDENTITY: record of 2145 bytes, want 2144" },
	{ CTLMSG_TUNNEL_IDENTITY, m_version, -EPROTO,
	  "TUNNEL_IDENTITY: version" },
	{ CTLMSG_LEASE_GRANT, m_minus_one, -EBADMSG, "LEASE_GRANT: record of" },
	{ CTLMSG_LEASE_GRANT, m_plus_one, -EBADMSG, "LEASE_GRANT: record of" },
	{ CTLMSG_DUMP, m_plus_one, -EBADMSG,
	  "DUMP: record of 17 bytes, want 16" },
	/* STATS is a bare header: anything longer or shorter is refused. */
	{ CTLMSG_STATS, m_plus_one, -EBADMSG,
	  "STATS: record of 17 bytes, want 16" },
	{ CTLMSG_STATS, m_minus_one, -EBADMSG,
	  "shorter than the 16-byte header" },
	{ CTLMSG_STATS, m_hdr_len, -EBADMSG, "STATS: header says 20 bytes" },
	{ CTLMSG_STATS, m_version, -EPROTO, "STATS: version" },
	{ CTLMSG_STATS, m_as_reply, -EBADMSG, "STATS: record of" },
	/* CLEAR too: a bare header. */
	{ CTLMSG_CLEAR, m_none, 0, NULL },
	{ CTLMSG_CLEAR, m_plus_one, -EBADMSG,
	  "CLEAR: record of 17 bytes, want 16" },
	{ CTLMSG_CLEAR, m_hdr_len, -EBADMSG, "CLEAR: header says 20 bytes" },
	{ CTLMSG_CLEAR, m_version, -EPROTO, "CLEAR: version" },
	{ CTLMSG_INJECT_RAW, m_minus_one, -EBADMSG, "INJECT_RAW: record of" },
	{ CTLMSG_INJECT_RAW, m_plus_one, -EBADMSG, "INJECT_RAW: record of" },
	{ CTLMSG_INJECT_SA, m_minus_one, -EBADMSG, "INJECT_SA: record of" },
	{ CTLMSG_INJECT_SA, m_plus_one, -EBADMSG, "INJECT_SA: record of" },
	{ CTLMSG_SETUP, m_too_long, -EMSGSIZE, "at most 65536" },
	{ CTLMSG_HELLO, m_type_99, -EPROTO, "type 99 unknown" },

	/* What only the dataplane sends. */
	{ CTLMSG_SETUP_DONE, m_none, -EPROTO,
	  "SETUP_DONE is sent by the dataplane" },
	{ CTLMSG_LEASE_REQUEST, m_none, -EPROTO,
	  "LEASE_REQUEST is sent by the dataplane" },
	{ CTLMSG_PUNT, m_none, -EPROTO, "PUNT is sent by the dataplane" },
	{ CTLMSG_DUMP_TUNNEL, m_none, -EPROTO,
	  "DUMP_TUNNEL is sent by the dataplane" },
	{ CTLMSG_DUMP_END, m_none, -EPROTO,
	  "DUMP_END is sent by the dataplane" },
	{ CTLMSG_ERROR, m_none, -EPROTO, "ERROR is sent by the dataplane" },
	{ CTLMSG_STATS_REPLY, m_none, -EPROTO,
	  "STATS_REPLY is sent by the dataplane" },
	{ CTLMSG_ACTIVITY_REPLY, m_none, -EPROTO,
	  "ACTIVITY_REPLY is sent by the dataplane" },
	{ CTLMSG_FLOWS_REPLY, m_none, -EPROTO,
	  "FLOWS_REPLY is sent by the dataplane" },
	{ CTLMSG_FLOWS, m_none, 0, NULL },
	{ CTLMSG_FIREWALL, m_none, 0, NULL },
	{ CTLMSG_FIREWALL, m_fw_short, -EBADMSG,
	  "FIREWALL: record of 63 bytes, want at least 64" },
	{ CTLMSG_FLOWS, m_plus_one, -EBADMSG, "FLOWS: record of 25 bytes" },
	{ CTLMSG_FLOWS, m_flows_reset, -EINVAL, "FLOWS: reset 2, want 0 or 1" },

	{ CTLMSG_HELLO, m_role_0, -EINVAL, "role 0 unknown" },
	{ CTLMSG_HELLO, m_role_3, -EINVAL, "role 3 unknown" },

	{ CTLMSG_SETUP, m_s_family, -EINVAL, "listen address family" },
	{ CTLMSG_SETUP, m_s_backend, -EINVAL, "backend 4 unknown" },
	{ CTLMSG_SETUP, m_s_mode, -EINVAL, "mode 3 unknown" },
	{ CTLMSG_SETUP, m_s_workers_0, -EINVAL, "workers 0, want 1 to 64" },
	{ CTLMSG_SETUP, m_s_workers_65, -EINVAL, "workers 65, want 1 to 64" },
	{ CTLMSG_SETUP, m_s_cipher, -EINVAL, "cipher 2 unknown" },
	{ CTLMSG_SETUP, m_s_iface, -EINVAL, "interface is not NUL-terminated" },
	{ CTLMSG_SETUP, m_s_tundev, -EINVAL, "tun_dev is not NUL-terminated" },
	{ CTLMSG_SETUP, m_s_tun_disabled, -EINVAL, "are 0 or 1" },
	{ CTLMSG_SETUP, m_s_mtu_low, -EINVAL, "mtu 67, want 68 to 9216" },
	{ CTLMSG_SETUP, m_s_mtu_high, -EINVAL, "mtu 9217" },
	{ CTLMSG_SETUP, m_s_mtu_ignored, 0, NULL },
	{ CTLMSG_SETUP, m_s_txq, -EINVAL, "at most 2147483647" },
	{ CTLMSG_SETUP, m_s_txq_0, -EINVAL,
	  "tx_queue 0 would make the TUN drop" },
	{ CTLMSG_SETUP, m_s_txq_0_no_tun, 0, NULL },
	{ CTLMSG_SETUP, m_s_recv_error, -EINVAL, "send_recv_error 3 unknown" },
	{ CTLMSG_SETUP, m_s_flows_low, -EINVAL, "flows_max 1023, want 1024" },
	{ CTLMSG_SETUP, m_s_flows_high, -EINVAL, "flows_max 16777217" },
	{ CTLMSG_SETUP, m_s_vpn_mask, -EINVAL, "prefix mask" },
	{ CTLMSG_SETUP, m_s_vpn_zero, -EINVAL, "prefix mask" },
	{ CTLMSG_SETUP, m_s_nets_0, -EINVAL, "n_local_nets 0" },
	{ CTLMSG_SETUP, m_s_nets_33, -EINVAL, "n_local_nets 33" },
	{ CTLMSG_SETUP, m_s_net_mask, -EINVAL, "local_nets[0] mask 0000ffff" },
	{ CTLMSG_SETUP, m_s_routes_257, -EINVAL, "n_routes 257, at most 256" },
	{ CTLMSG_SETUP, m_s_route_host, -EINVAL, "route[0] c0a80101/ffffff00" },
	{ CTLMSG_SETUP, m_s_route_mtu, -EINVAL, "route[0] mtu 10" },
	{ CTLMSG_SETUP, m_s_route_via, -EINVAL, "outside the VPN network" },
	{ CTLMSG_SETUP, m_s_route_ok, 0, NULL },

	{ CTLMSG_TUNNEL_ADD, m_t_index, -EINVAL, "local_index 0 is reserved" },
	{ CTLMSG_TUNNEL_ADD, m_t_cipher, -EINVAL,
	  "11223344: cipher 7 unknown" },
	{ CTLMSG_TUNNEL_ADD, m_t_vpn, -EINVAL, "vpn_ip 0" },
	{ CTLMSG_TUNNEL_ADD, m_t_family, -EINVAL, "remote family 2" },
	{ CTLMSG_TUNNEL_ADD, m_t_lease, -EINVAL, "past lease_end" },
	{ CTLMSG_TUNNEL_ADD, m_t_nets, -EINVAL, "n_peer_nets 33" },
	{ CTLMSG_TUNNEL_ADD, m_t_net_mask, -EINVAL, "peer_nets[0] mask" },
	{ CTLMSG_TUNNEL_ADD, m_t_cert, -EINVAL, "cert_len 4097" },

	{ CTLMSG_TUNNEL_DEL, m_del_index, -EINVAL,
	  "local_index 0 is reserved" },
	{ CTLMSG_TUNNEL_DEL, m_del_close, -EINVAL, "send_close 2" },
	{ CTLMSG_TUNNEL_REMOTE, m_rem_index, -EINVAL,
	  "local_index 0 is reserved" },
	{ CTLMSG_TUNNEL_REMOTE, m_rem_family, -EINVAL, "remote family 0" },
	{ CTLMSG_TUNNEL_IDENTITY, m_id_index, -EINVAL,
	  "TUNNEL_IDENTITY: local_index 0 is reserved" },
	{ CTLMSG_LEASE_GRANT, m_lease_index, -EINVAL,
	  "local_index 0 is reserved" },

	/* Variable length: offsetof(data) + len, nothing else. */
	{ CTLMSG_INJECT_RAW, m_raw_empty, -EINVAL, "empty datagram" },
	{ CTLMSG_INJECT_RAW, m_raw_len_mismatch, -EBADMSG, "+ len 11 =" },
	{ CTLMSG_INJECT_RAW, m_raw_whole_struct, -EBADMSG, "+ len 10 =" },
	{ CTLMSG_INJECT_RAW, m_raw_huge, -EMSGSIZE, "len 9217, at most 9216" },
	{ CTLMSG_INJECT_RAW, m_raw_max, 0, NULL },
	{ CTLMSG_INJECT_RAW, m_raw_truncated, -EBADMSG, "want at least" },
	{ CTLMSG_INJECT_RAW, m_raw_family, -EINVAL, "AF_INET6 and a port" },
	{ CTLMSG_INJECT_RAW, m_raw_port, -EINVAL, "AF_INET6 and a port" },
	{ CTLMSG_INJECT_SA, m_sa_index, -EINVAL, "local_index 0 is reserved" },
	{ CTLMSG_INJECT_SA, m_sa_type_data, -EINVAL,
	  "type 1/0 is not a message sealed" },
	{ CTLMSG_INJECT_SA, m_sa_type_7, -EINVAL, "type 7/0" },
	{ CTLMSG_INJECT_SA, m_sa_test_sub, -EINVAL, "type 4/2" },
	{ CTLMSG_INJECT_SA, m_sa_close, 0, NULL },
	{ CTLMSG_INJECT_SA, m_sa_family, -EINVAL, "destination family 2" },
	{ CTLMSG_INJECT_SA, m_sa_len_mismatch, -EBADMSG, "+ len 9 =" },

	/* A whole IPv4 packet, nothing else. */
	{ CTLMSG_INJECT_TUN, m_none, 0, NULL },
	{ CTLMSG_INJECT_OUT, m_none, 0, NULL },
	{ CTLMSG_INJECT_TUN, m_minus_one, -EBADMSG, "INJECT_TUN: record of" },
	{ CTLMSG_INJECT_OUT, m_ip_short, -EINVAL,
	  "INJECT_OUT: 19 bytes, an IPv4 header needs 20" },
	{ CTLMSG_INJECT_TUN, m_ip_v6, -EINVAL, "IP version 6, want 4" },
	{ CTLMSG_INJECT_TUN, m_ip_ihl, -EINVAL,
	  "header length 60 of a 28-byte packet" },
	{ CTLMSG_INJECT_OUT, m_ip_ihl_4, -EINVAL, "header length 16" },
	{ CTLMSG_INJECT_TUN, m_ip_total, -EINVAL,
	  "IPv4 total length 29, the packet has 28 bytes" },
	{ CTLMSG_INJECT_OUT, m_ip_huge, -EMSGSIZE, "len 9217, at most 9216" },
};

static void test_ctl_validate_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const struct vcase *v = &vcases[i];
		struct vl_status st = { "" };
		size_t len = build(v->type);
		int err;

		v->mutate(msgbuf(), &len);
		err = dp_ctl_validate(msgbuf(), len, &st);
		if (err != v->err)
			fail_msg("case %zu (%s): got %d \"%s\", want %d", i,
				 dp_ctl_type_name(v->type), err, st.msg,
				 v->err);
		if (v->words && !strstr(st.msg, v->words))
			fail_msg("case %zu (%s): message \"%s\" lacks \"%s\"",
				 i, dp_ctl_type_name(v->type), st.msg,
				 v->words);
	}
}

struct ocase {
	uint32_t role;
	bool set_up;
	uint16_t type;
	int err;
	const char *words;
};

static const struct ocase ocases[] = {
	{ 0, false, CTLMSG_HELLO, 0, NULL },
	{ 0, false, CTLMSG_DUMP, -EPROTO, "DUMP before HELLO" },
	{ 0, true, CTLMSG_SETUP, -EPROTO, "SETUP before HELLO" },
	{ CTLMSG_ROLE_DPCTL, false, CTLMSG_DUMP, 0, NULL },
	{ CTLMSG_ROLE_DPCTL, true, CTLMSG_HELLO, 0, NULL },
	{ CTLMSG_ROLE_DPCTL, false, CTLMSG_STATS, 0, NULL },
	{ CTLMSG_ROLE_DPCTL, true, CTLMSG_STATS, 0, NULL },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_STATS, 0, NULL },
	{ CTLMSG_ROLE_CONTROL, true, CTLMSG_STATS, 0, NULL },
	{ 0, true, CTLMSG_STATS, -EPROTO, "STATS before HELLO" },
	{ CTLMSG_ROLE_DPCTL, true, CTLMSG_SETUP, -EPERM, "may only DUMP" },
	{ CTLMSG_ROLE_DPCTL, true, CTLMSG_TUNNEL_DEL, -EPERM, "may only DUMP" },
	{ CTLMSG_ROLE_DPCTL, true, CTLMSG_INJECT_RAW, -EPERM, "may only DUMP" },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_SETUP, 0, NULL },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_DUMP, 0, NULL },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_ACTIVITY, 0, NULL },
	{ CTLMSG_ROLE_DPCTL, true, CTLMSG_ACTIVITY, -EPERM, "may only DUMP" },
	/* CLEAR: an operator command, from either role, SETUP or not. */
	{ CTLMSG_ROLE_DPCTL, false, CTLMSG_CLEAR, 0, NULL },
	{ CTLMSG_ROLE_DPCTL, true, CTLMSG_CLEAR, 0, NULL },
	{ CTLMSG_ROLE_CONTROL, true, CTLMSG_CLEAR, 0, NULL },
	{ 0, true, CTLMSG_CLEAR, -EPROTO, "CLEAR before HELLO" },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_TUNNEL_ADD, -EPROTO,
	  "TUNNEL_ADD before SETUP" },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_TUNNEL_DEL, -EPROTO,
	  "before SETUP" },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_TUNNEL_REMOTE, -EPROTO,
	  "before SETUP" },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_TUNNEL_IDENTITY, -EPROTO,
	  "TUNNEL_IDENTITY before SETUP" },
	{ CTLMSG_ROLE_CONTROL, true, CTLMSG_TUNNEL_IDENTITY, 0, NULL },
	{ CTLMSG_ROLE_DPCTL, true, CTLMSG_TUNNEL_IDENTITY, -EPERM,
	  "may only DUMP" },
	{ 0, true, CTLMSG_TUNNEL_IDENTITY, -EPROTO,
	  "TUNNEL_IDENTITY before HELLO" },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_LEASE_GRANT, -EPROTO,
	  "before SETUP" },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_INJECT_RAW, -EPROTO,
	  "before SETUP" },
	{ CTLMSG_ROLE_CONTROL, false, CTLMSG_INJECT_SA, -EPROTO,
	  "before SETUP" },
	{ CTLMSG_ROLE_CONTROL, true, CTLMSG_TUNNEL_ADD, 0, NULL },
	{ CTLMSG_ROLE_CONTROL, true, CTLMSG_INJECT_SA, 0, NULL },
	{ CTLMSG_ROLE_CONTROL, true, CTLMSG_SETUP, 0, NULL },
};

static void test_ctl_order_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ocases) / sizeof(ocases[0]); i++) {
		const struct ocase *o = &ocases[i];
		struct vl_status st = { "" };
		int err = dp_ctl_check_order(o->role, o->set_up, o->type, &st);

		if (err != o->err)
			fail_msg("case %zu: got %d \"%s\", want %d", i, err,
				 st.msg, o->err);
		if (o->words && !strstr(st.msg, o->words))
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i,
				 st.msg, o->words);
	}
}

static void test_ctl_type_names(void **state)
{
	(void)state;
	assert_string_equal(dp_ctl_type_name(CTLMSG_HELLO), "HELLO");
	assert_string_equal(dp_ctl_type_name(CTLMSG_ERROR), "ERROR");
	assert_string_equal(dp_ctl_type_name(0), "?");
	assert_string_equal(dp_ctl_type_name(1000), "?");
	assert_int_equal(DP_CTL_PUNT_LEN(5),
			 offsetof(struct ctlmsg_punt, data) + 5);
}

/* ---- Over the socket ---------------------------------------------------- */

struct env {
	char dir[64];
	char path[128];
	struct dp_ctl *c;
	int fd; /* the test's control connection */
	uint32_t seq;
};

static int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct dp_ctl_cfg cfg = { 0 };
	struct vl_status st = { "" };

	if (!e)
		return -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_ctl.XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->path, sizeof(e->path), "%s/run/vela.sock", e->dir);
	cfg.socket_path = e->path;
	if (dp_ctl_open(&cfg, &e->c, &st)) {
		print_error("dp_ctl_open: %s\n", st.msg);
		return -1;
	}
	e->fd = -1;
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;
	char run[160];

	if (e->fd >= 0)
		close(e->fd);
	dp_ctl_close(e->c);
	snprintf(run, sizeof(run), "%s/run", e->dir);
	rmdir(run);
	rmdir(e->dir);
	free(e);
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void send_rec(struct env *e, int fd, void *rec, size_t len)
{
	((struct ctlmsg_hdr *)rec)->seq = ++e->seq;
	assert_int_equal(send(fd, rec, len, MSG_NOSIGNAL), (ssize_t)len);
}

/*
 * The next record on @fd, stepping the control loop meanwhile; its length,
 * or 0 when the connection was closed. Fails after 3 s.
 */
static size_t recv_rec(struct env *e, int fd, void *buf, size_t size)
{
	for (int i = 0; i < 300; i++) {
		ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);

		if (n >= 0)
			return (size_t)n;
		assert_int_equal(errno, EAGAIN);
		assert_int_equal(dp_ctl_step(e->c, 10), 0);
	}
	fail_msg("no record within 3 s");
	return 0;
}

/* A request and the one record it is answered with, of @type. */
static size_t rpc(struct env *e, int fd, void *rec, size_t len, void *reply,
		  uint16_t type)
{
	static _Alignas(64) uint8_t buf[CTLMSG_MAX];
	const struct ctlmsg_hdr *h = (const void *)buf;
	size_t n;

	send_rec(e, fd, rec, len);
	n = recv_rec(e, fd, buf, sizeof(buf));
	assert_true(n >= sizeof(*h));
	assert_int_equal(h->len, n);
	assert_int_equal(h->seq, e->seq);
	if (h->type != type && h->type == CTLMSG_ERROR)
		fail_msg("ERROR %d: %s", ((const struct ctlmsg_error *)h)->err,
			 ((const struct ctlmsg_error *)h)->msg);
	assert_int_equal(h->type, type);
	/* The type is the one expected, so @reply is large enough. */
	memcpy(reply, buf, n);
	return n;
}

static void expect_error(struct env *e, int fd, void *rec, size_t len, int err,
			 const char *words)
{
	static struct ctlmsg_error r;

	rpc(e, fd, rec, len, &r, CTLMSG_ERROR);
	assert_int_equal(r.hdr.len, sizeof(r));
	assert_int_equal(r.type, ((struct ctlmsg_hdr *)rec)->type);
	assert_int_equal(r.err, err);
	if (!strstr(r.msg, words))
		fail_msg("ERROR \"%s\" lacks \"%s\"", r.msg, words);
}

static int hello(struct env *e, uint32_t role, struct ctlmsg_hello *reply)
{
	struct ctlmsg_hello m = { .role = role, .pid = 4242 };
	int fd = connect_to(e->path);

	hdr(&m, CTLMSG_HELLO, sizeof(m));
	rpc(e, fd, &m, sizeof(m), reply, CTLMSG_HELLO);
	assert_int_equal(reply->role, role);
	assert_int_equal(reply->pid, getpid());
	return fd;
}

/* STATS on @fd; the reply in a static buffer (it is 43 KB). */
static const struct ctlmsg_stats_reply *stats(struct env *e, int fd)
{
	static struct ctlmsg_stats_reply r;
	struct ctlmsg_hdr m;

	hdr(&m, CTLMSG_STATS, sizeof(m));
	assert_int_equal(rpc(e, fd, &m, sizeof(m), &r, CTLMSG_STATS_REPLY),
			 sizeof(r));
	assert_int_equal(r.n_drops, DP_DROP_MAX);
	return &r;
}

/* The sum over workers, as dpctl makes it. */
static void stats_total(const struct ctlmsg_stats_reply *r,
			struct ctlmsg_worker_stats *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t w = 0; w < r->workers; w++) {
		const struct ctlmsg_worker_stats *s = &r->worker[w];

		t->rx_packets += s->rx_packets;
		t->rx_bytes += s->rx_bytes;
		t->tx_packets += s->tx_packets;
		t->tx_bytes += s->tx_bytes;
		t->punted += s->punted;
		t->test_replies += s->test_replies;
		t->recv_errors += s->recv_errors;
		t->sealed += s->sealed;
		t->opened += s->opened;
		t->passes += s->passes;
		for (uint32_t d = 0; d < r->n_drops; d++)
			t->drops[d] += s->drops[d];
		t->port.rx_packets += s->port.rx_packets;
		t->port.tx_packets += s->port.tx_packets;
	}
}

static void test_ctl_socket_claim(void **state)
{
	struct env *e = *state;
	struct dp_ctl_cfg cfg = { .socket_path = e->path };
	struct vl_status st = { "" };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct dp_ctl *c2 = NULL;
	struct stat sb;
	char other[160];
	int fd;

	/* The directory was made, 0750; the socket is 0660. */
	snprintf(other, sizeof(other), "%s/run", e->dir);
	assert_int_equal(stat(other, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0750);
	assert_int_equal(stat(e->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0660);

	/* A live dataplane holds it. */
	assert_int_equal(dp_ctl_open(&cfg, &c2, &st), -EADDRINUSE);
	assert_non_null(strstr(st.msg, "another vela-dataplane is running"));

	/* A stale socket (bound, nobody listening) is removed. */
	snprintf(other, sizeof(other), "%s/stale.sock", e->dir);
	memcpy(sun.sun_path, other, strlen(other) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	cfg.socket_path = other;
	assert_int_equal(dp_ctl_open(&cfg, &c2, &st), 0);
	dp_ctl_close(c2);
	assert_int_equal(access(other, F_OK), -1); /* unlinked on close */

	/* Anything but a socket is left alone. */
	fd = open(other, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(dp_ctl_open(&cfg, &c2, &st), -EEXIST);
	assert_non_null(strstr(st.msg, "is not a socket"));
	assert_int_equal(access(other, F_OK), 0);
	unlink(other);

	/* A path that does not fit sun_path. */
	memset(other, 'a', sizeof(other) - 1);
	other[sizeof(other) - 1] = '\0';
	assert_int_equal(dp_ctl_open(&cfg, &c2, &st), -ENAMETOOLONG);
}

static void test_ctl_socket_hello_dump(void **state)
{
	struct env *e = *state;
	struct ctlmsg_hello r;
	struct ctlmsg_hdr dump, *end = (void *)msgbuf();

	e->fd = hello(e, CTLMSG_ROLE_CONTROL, &r);
	assert_int_equal(r.set_up, 0);
	assert_int_equal(r.n_tunnels, 0);
	hdr(&dump, CTLMSG_DUMP, sizeof(dump));
	rpc(e, e->fd, &dump, sizeof(dump), end, CTLMSG_DUMP_END);
	assert_int_equal(end->len, sizeof(*end));

	/* STATS before SETUP: no workers, nothing counted. */
	{
		const struct ctlmsg_stats_reply *sr = stats(e, e->fd);
		static const struct ctlmsg_worker_stats zero;

		assert_int_equal(sr->set_up, 0);
		assert_int_equal(sr->workers, 0);
		assert_int_equal(sr->port, 0);
		assert_int_equal(sr->n_tunnels, 0);
		assert_int_equal(sr->rejects, 0);
		assert_memory_equal(&sr->worker[0], &zero, sizeof(zero));
	}
}

static void test_ctl_socket_refusals(void **state)
{
	struct env *e = *state;
	struct dp_ctl_counters n;
	struct ctlmsg_hello r;
	struct ctlmsg_hdr dump;
	uint8_t junk[8] = { 0 };
	int fd, dpctl;
	size_t len;

	/* Before HELLO. */
	fd = connect_to(e->path);
	hdr(&dump, CTLMSG_DUMP, sizeof(dump));
	expect_error(e, fd, &dump, sizeof(dump), -EPROTO, "say HELLO first");
	close(fd);

	e->fd = hello(e, CTLMSG_ROLE_CONTROL, &r);
	/* Shorter than a header: ERROR for type 0. */
	assert_int_equal(send(e->fd, junk, sizeof(junk), 0), sizeof(junk));
	{
		struct ctlmsg_error *er = (void *)msgbuf();

		assert_int_equal(recv_rec(e, e->fd, er, CTLMSG_MAX),
				 sizeof(*er));
		assert_int_equal(er->hdr.type, CTLMSG_ERROR);
		assert_int_equal(er->type, 0);
		assert_int_equal(er->err, -EBADMSG);
	}
	/* A bad length, a bad field, out of order. */
	len = build(CTLMSG_HELLO);
	m_minus_one(msgbuf(), &len);
	expect_error(e, e->fd, msgbuf(), len, -EBADMSG, "want 32");
	len = build(CTLMSG_SETUP);
	m_s_workers_0(msgbuf(), &len);
	expect_error(e, e->fd, msgbuf(), len, -EINVAL, "workers 0");
	len = build(CTLMSG_TUNNEL_ADD);
	expect_error(e, e->fd, msgbuf(), len, -EPROTO, "before SETUP");
	len = build(CTLMSG_PUNT);
	expect_error(e, e->fd, msgbuf(), len, -EPROTO, "sent by the dataplane");
	/* xsk without an interface, dpdk not built: SETUP_DONE says so. */
	len = build(CTLMSG_SETUP);
	SETUP(msgbuf())->backend = CTLMSG_BACKEND_XSK;
	{
		struct ctlmsg_setup_done d;

		rpc(e, e->fd, msgbuf(), len, &d, CTLMSG_SETUP_DONE);
		assert_int_equal(d.err, -EINVAL);
		assert_non_null(strstr(d.msg, "set dataplane.interface"));
	}
	len = build(CTLMSG_SETUP);
	SETUP(msgbuf())->backend = CTLMSG_BACKEND_XSK;
	snprintf(SETUP(msgbuf())->interface,
		 sizeof(SETUP(msgbuf())->interface), "vl-nonexist0");
	{
		struct ctlmsg_setup_done d;

		rpc(e, e->fd, msgbuf(), len, &d, CTLMSG_SETUP_DONE);
		assert_int_equal(d.err, -ENODEV);
		assert_non_null(strstr(d.msg, "interface vl-nonexist0 missing"));
	}
	/* More workers than the NIC has queues: which, and what to do. */
	len = build(CTLMSG_SETUP);
	SETUP(msgbuf())->backend = CTLMSG_BACKEND_XSK;
	SETUP(msgbuf())->workers = 2;
	snprintf(SETUP(msgbuf())->interface,
		 sizeof(SETUP(msgbuf())->interface), "lo");
	{
		struct ctlmsg_setup_done d;

		rpc(e, e->fd, msgbuf(), len, &d, CTLMSG_SETUP_DONE);
		assert_int_equal(d.err, -EINVAL);
		assert_non_null(strstr(d.msg, "lo has 1 TX queues"));
		assert_non_null(strstr(d.msg, "lower workers to 1"));
	}
	len = build(CTLMSG_SETUP);
	SETUP(msgbuf())->backend = CTLMSG_BACKEND_DPDK;
	{
		struct ctlmsg_setup_done d;

		rpc(e, e->fd, msgbuf(), len, &d, CTLMSG_SETUP_DONE);
		assert_int_equal(d.err, -EOPNOTSUPP);
		assert_non_null(strstr(d.msg, "dpdk is not built yet"));
	}

	/* dpctl may only DUMP, STATS, FLOWS and CLEAR. */
	dpctl = hello(e, CTLMSG_ROLE_DPCTL, &r);
	len = build(CTLMSG_TUNNEL_DEL);
	expect_error(e, dpctl, msgbuf(), len, -EPERM,
		     "may only DUMP, STATS, FLOWS or CLEAR");
	rpc(e, dpctl, &dump, sizeof(dump), msgbuf(), CTLMSG_DUMP_END);
	/* A STATS with a body is refused; the bare one answered. */
	len = build(CTLMSG_STATS);
	m_plus_one(msgbuf(), &len);
	expect_error(e, dpctl, msgbuf(), len, -EBADMSG, "want 16");
	assert_int_equal(stats(e, dpctl)->rejects, 8);
	close(dpctl);

	dp_ctl_counters(e->c, &n);
	assert_int_equal(n.rejects, 8);
}

static void test_ctl_socket_control_replaced(void **state)
{
	struct env *e = *state;
	struct ctlmsg_hello r;
	uint8_t buf[64];
	int second;

	e->fd = hello(e, CTLMSG_ROLE_CONTROL, &r);
	second = hello(e, CTLMSG_ROLE_CONTROL, &r);
	/* The first connection is closed by the dataplane. */
	assert_int_equal(recv_rec(e, e->fd, buf, sizeof(buf)), 0);
	close(e->fd);
	e->fd = second;
}

/* ---- A running dataplane without TUN ----------------------------------- */

static int udp_socket(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A datagram on @fd within 3 s, stepping the control loop meanwhile. */
static ssize_t udp_recv(struct env *e, int fd, uint8_t *buf, size_t size)
{
	for (int i = 0; i < 300; i++) {
		ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);

		if (n >= 0)
			return n;
		assert_int_equal(dp_ctl_step(e->c, 10), 0);
	}
	fail_msg("no datagram within 3 s");
	return -1;
}

/* Opens a datagram sealed with key_send; returns the plaintext length. */
static size_t open_sealed(uint8_t *d, size_t len, struct wire_header *h)
{
	struct vl_aead_key k;
	uint8_t nonce[12];
	bool ok;

	assert_true(len >= WIRE_OVERHEAD);
	wire_header_decode(d, h);
	vl_aead_key_set(&k, VL_CIPHER_AES, key_send);
	vl_aead_nonce(VL_CIPHER_AES, h->counter, nonce);
	ok = vl_aead_open(&k, nonce, d, 16, d + 16, len - WIRE_OVERHEAD,
			  d + 16);
	vl_aead_key_wipe(&k);
	assert_true(ok);
	return len - WIRE_OVERHEAD;
}

static void running(void **state, uint32_t mode)
{
	struct env *e = *state;
	static struct ctlmsg_setup s;
	static struct ctlmsg_tunnel_add t;
	static struct ctlmsg_inject_sa inj;
	static union {
		struct ctlmsg_hdr hdr;
		struct ctlmsg_setup_done done;
		struct ctlmsg_dump_tunnel dump;
		struct ctlmsg_punt punt;
		struct ctlmsg_lease lease;
		uint8_t raw[CTLMSG_MAX];
	} r;
	struct sockaddr_in6 peer, dp;
	struct ctlmsg_hello hr;
	struct ctlmsg_hdr dump;
	struct ctlmsg_tunnel_del del;
	struct ctlmsg_lease grant;
	struct wire_header h;
	uint8_t d[256];
	uint16_t peer_port, dp_port;
	int peer_fd, dpctl;
	size_t n;

	e->fd = hello(e, CTLMSG_ROLE_CONTROL, &hr);
	fill_setup(&s);
	s.workers = 2;
	s.mode = mode;
	if (mode == CTLMSG_MODE_EVENT) {
		/* auto without a usable NIC: udp, and SETUP_DONE says why. */
		s.backend = CTLMSG_BACKEND_AUTO;
		snprintf(s.interface, sizeof(s.interface), "vl-nonexist0");
	}
	rpc(e, e->fd, &s, sizeof(s), &r, CTLMSG_SETUP_DONE);
	assert_int_equal(r.done.err, 0);
	assert_int_equal(r.done.backend, CTLMSG_BACKEND_UDP);
	if (mode == CTLMSG_MODE_EVENT)
		assert_non_null(strstr(r.done.msg,
				       "auto chose udp: interface vl-nonexist0 missing"));
	assert_int_equal(r.done.workers, 2);
	assert_string_equal(r.done.tun_dev, "");
	dp_port = r.done.port;
	assert_true(dp_port != 0);

	/* The same SETUP again (a restarted control plane): same answer. */
	rpc(e, e->fd, &s, sizeof(s), &r, CTLMSG_SETUP_DONE);
	assert_int_equal(r.done.err, 0);
	assert_int_equal(r.done.port, dp_port);
	/* A different one: refused. */
	s.workers = 3;
	expect_error(e, e->fd, &s, sizeof(s), -EBUSY, "differs");
	s.workers = 2;

	peer_fd = udp_socket(&peer_port);
	peer = addr4(0x7f000001, peer_port);
	dp = addr4(0x7f000001, dp_port);
	fill_tunnel(&t, IDX_LOCAL, &peer);
	/* Close to the lease end: a LEASE_REQUEST follows within a tick. */
	t.send_counter = CTLMSG_LEASE_STEP - 100;
	send_rec(e, e->fd, &t, sizeof(t));
	n = recv_rec(e, e->fd, &r, sizeof(r));
	assert_int_equal(n, sizeof(struct ctlmsg_lease));
	assert_int_equal(r.hdr.type, CTLMSG_LEASE_REQUEST);
	assert_int_equal(r.hdr.seq, 0); /* unsolicited */
	assert_int_equal(r.lease.local_index, IDX_LOCAL);
	assert_int_equal(r.lease.lease_end, CTLMSG_LEASE_STEP);
	assert_int_equal(r.lease.recv_max, 2);
	expect_error(e, e->fd, &t, sizeof(t), -EEXIST, "in use");

	/* A grant may not shrink the lease; a larger one is taken. */
	grant = (struct ctlmsg_lease){ .local_index = IDX_LOCAL,
				       .lease_end = 10 };
	hdr(&grant, CTLMSG_LEASE_GRANT, sizeof(grant));
	expect_error(e, e->fd, &grant, sizeof(grant), -EINVAL, "below");
	grant.lease_end = 2 * CTLMSG_LEASE_STEP;
	send_rec(e, e->fd, &grant, sizeof(grant));

	/* INJECT_SA: sealed on the tunnel with the next counter. */
	memset(&inj, 0, sizeof(inj));
	n = offsetof(struct ctlmsg_inject_sa, data) + 5;
	hdr(&inj, CTLMSG_INJECT_SA, n);
	inj.local_index = IDX_LOCAL;
	inj.type = WIRE_LIGHTHOUSE;
	inj.len = 5;
	memcpy(inj.data, "hello", 5);
	send_rec(e, e->fd, &inj, n);
	n = (size_t)udp_recv(e, peer_fd, d, sizeof(d));
	assert_int_equal(open_sealed(d, n, &h), 5);
	assert_memory_equal(d + 16, "hello", 5);
	assert_int_equal(h.type, WIRE_LIGHTHOUSE);
	assert_int_equal(h.remote_index, IDX_REMOTE);
	assert_int_equal(h.counter, CTLMSG_LEASE_STEP - 99);

	/* INJECT_RAW: as is. */
	{
		struct ctlmsg_inject_raw *raw = (void *)msgbuf();

		n = build(CTLMSG_INJECT_RAW);
		raw->to = peer;
		memcpy(raw->data, "0123456789", 10);
		send_rec(e, e->fd, raw, n);
		assert_int_equal(udp_recv(e, peer_fd, d, sizeof(d)), 10);
		assert_memory_equal(d, "0123456789", 10);
	}
	/* INJECT_SA for no tunnel. */
	inj.local_index = 0x99;
	expect_error(e, e->fd, &inj,
		     offsetof(struct ctlmsg_inject_sa, data) + 5, -ENOENT,
		     "no tunnel 00000099");

	/* A handshake from the peer: punted with its exact length. */
	memset(d, 0, 40);
	d[0] = 0x10; /* version 1, type 0 */
	assert_int_equal(sendto(peer_fd, d, 40, 0,
				(struct sockaddr *)&(struct sockaddr_in){
					.sin_family = AF_INET,
					.sin_port = htons(dp_port),
					.sin_addr.s_addr = htonl(0x7f000001) },
				sizeof(struct sockaddr_in)),
			 40);
	n = recv_rec(e, e->fd, &r, sizeof(r));
	assert_int_equal(r.hdr.type, CTLMSG_PUNT);
	assert_int_equal(n, DP_CTL_PUNT_LEN(40));
	assert_int_equal(r.hdr.len, n);
	assert_int_equal(r.punt.reason, CTLMSG_PUNT_HANDSHAKE);
	assert_int_equal(r.punt.len, 40);
	assert_memory_equal(&r.punt.from.sin6_addr, &peer.sin6_addr, 16);
	assert_int_equal(r.punt.from.sin6_port, peer.sin6_port);

	/* A test request from the peer is answered by the worker. */
	{
		struct vl_aead_key k;
		uint8_t nonce[12];

		vl_aead_key_set(&k, VL_CIPHER_AES, key_recv);
		wire_header_encode(d, WIRE_TEST, WIRE_SUB_TEST_REQUEST,
				   IDX_LOCAL, 3);
		vl_aead_nonce(VL_CIPHER_AES, 3, nonce);
		vl_aead_seal(&k, nonce, d, 16, (const uint8_t *)"ping", 4,
			     d + 16);
		vl_aead_key_wipe(&k);
		assert_int_equal(
			sendto(peer_fd, d, 36, 0,
			       (struct sockaddr *)&(struct sockaddr_in){
				       .sin_family = AF_INET,
				       .sin_port = htons(dp_port),
				       .sin_addr.s_addr = htonl(0x7f000001) },
			       sizeof(struct sockaddr_in)),
			36);
		n = (size_t)udp_recv(e, peer_fd, d, sizeof(d));
		assert_int_equal(open_sealed(d, n, &h), 4);
		assert_int_equal(h.type, WIRE_TEST);
		assert_int_equal(h.subtype, WIRE_SUB_TEST_REPLY);
		assert_int_equal(h.counter, CTLMSG_LEASE_STEP - 98);
	}

	/* TUNNEL_REMOTE: unknown index refused; known one moves the tunnel. */
	{
		struct ctlmsg_tunnel_remote *m = (void *)msgbuf();

		n = build(CTLMSG_TUNNEL_REMOTE);
		m->local_index = 0x77;
		expect_error(e, e->fd, m, n, -ENOENT, "no tunnel 00000077");
		m->local_index = IDX_LOCAL;
		m->remote = dp; /* anything: checked in DUMP */
		send_rec(e, e->fd, m, n);
	}

	/* DUMP: control gets keys and counters; dpctl gets no keys. */
	hdr(&dump, CTLMSG_DUMP, sizeof(dump));
	rpc(e, e->fd, &dump, sizeof(dump), &r, CTLMSG_DUMP_TUNNEL);
	assert_int_equal(r.dump.tunnel.local_index, IDX_LOCAL);
	assert_int_equal(r.dump.tunnel.hdr.type, CTLMSG_TUNNEL_ADD);
	assert_int_equal(r.dump.tunnel.send_counter, CTLMSG_LEASE_STEP - 98);
	assert_int_equal(r.dump.tunnel.lease_end, 2 * CTLMSG_LEASE_STEP);
	assert_int_equal(r.dump.tunnel.recv_max, 3);
	assert_memory_equal(r.dump.tunnel.send_key, key_send, 32);
	assert_memory_equal(&r.dump.tunnel.remote, &dp, sizeof(dp));
	assert_int_equal(r.dump.tunnel.cert_len, 3);
	assert_int_equal(r.dump.rx_packets, 1);
	assert_int_equal(r.dump.tx_packets, 2);
	assert_true(r.dump.last_rx_ns > 0);
	n = recv_rec(e, e->fd, &r, sizeof(r));
	assert_int_equal(r.hdr.type, CTLMSG_DUMP_END);
	assert_int_equal(r.hdr.seq, e->seq);

	dpctl = hello(e, CTLMSG_ROLE_DPCTL, &hr);
	assert_int_equal(hr.set_up, 1);
	assert_int_equal(hr.n_tunnels, 1);
	rpc(e, dpctl, &dump, sizeof(dump), &r, CTLMSG_DUMP_TUNNEL);
	{
		static const uint8_t zero[32];

		assert_memory_equal(r.dump.tunnel.send_key, zero, 32);
		assert_memory_equal(r.dump.tunnel.recv_key, zero, 32);
	}
	n = recv_rec(e, dpctl, &r, sizeof(r));
	assert_int_equal(r.hdr.type, CTLMSG_DUMP_END);

	/*
	 * STATS, as dpctl: received the handshake (40 bytes) and the test
	 * request (36); sent the lighthouse inject (5 + 32), the raw one
	 * (10) and the test reply (4 + 32). A worker counts a send after
	 * the kernel took it, so the peer may see it first: ask again
	 * (bounded) until the sends are counted.
	 */
	{
		const struct ctlmsg_stats_reply *sr = NULL;
		struct ctlmsg_worker_stats sum;
		static const struct ctlmsg_worker_stats zero;

		for (int k = 0; k < 100; k++) {
			sr = stats(e, dpctl);
			stats_total(sr, &sum);
			if (sum.tx_packets == 3)
				break;
			dp_ctl_step(e->c, 10);
		}
		assert_int_equal(sr->set_up, 1);
		assert_int_equal(sr->backend, CTLMSG_BACKEND_UDP);
		assert_int_equal(sr->mode, mode);
		assert_int_equal(sr->workers, 2);
		assert_string_equal(sr->tun_dev, "");
		assert_int_equal(sr->port, dp_port);
		assert_int_equal(sr->n_tunnels, 1);
		assert_int_equal(sr->punts_sent, 1);
		assert_int_equal(sr->injects_queued, 2);
		assert_int_equal(sr->lease_requests, 1);
		assert_int_equal(sr->rejects, 5);
		assert_int_equal(sum.rx_packets, 2);
		assert_int_equal(sum.rx_bytes, 40 + 36);
		assert_int_equal(sum.tx_packets, 3);
		assert_int_equal(sum.tx_bytes, 37 + 10 + 36);
		assert_int_equal(sum.punted, 1);
		assert_int_equal(sum.test_replies, 1);
		assert_int_equal(sum.recv_errors, 0);
		assert_int_equal(sum.port.rx_packets, 2);
		assert_int_equal(sum.port.tx_packets, 3);
		for (int k = 0; k < DP_DROP_MAX; k++)
			if (sum.drops[k])
				fail_msg("drop %s counted %llu",
					 dp_drop_names[k],
					 (unsigned long long)sum.drops[k]);
		/* Sealed: the lighthouse inject, the test reply; opened: the test. */
		assert_int_equal(sum.sealed, 2);
		assert_int_equal(sum.opened, 1);
		assert_true(sum.passes > 0);
		/* Workers past the second are not reported. */
		assert_memory_equal(&sr->worker[2], &zero, sizeof(zero));
		assert_int_equal(sr->clears, 0);
	}
	/*
	 * CLEAR, as dpctl: answered with the counters since (nothing moved
	 * meanwhile), the tunnel and gauges kept; later STATS agree.
	 */
	{
		static struct ctlmsg_stats_reply cr;
		struct ctlmsg_worker_stats sum;
		struct ctlmsg_hdr m;

		hdr(&m, CTLMSG_CLEAR, sizeof(m));
		assert_int_equal(rpc(e, dpctl, &m, sizeof(m), &cr,
				     CTLMSG_STATS_REPLY),
				 sizeof(cr));
		for (int k = 0; k < 2; k++) {
			const struct ctlmsg_stats_reply *sr =
				k ? stats(e, dpctl) : &cr;

			stats_total(sr, &sum);
			assert_int_equal(sr->clears, 1);
			assert_int_equal(sr->workers, 2);
			assert_int_equal(sr->n_tunnels, 1);
			assert_int_equal(sr->punts_sent, 0);
			assert_int_equal(sr->injects_queued, 0);
			assert_int_equal(sr->rejects, 0);
			assert_int_equal(sum.rx_packets, 0);
			assert_int_equal(sum.tx_packets, 0);
			assert_int_equal(sum.sealed, 0);
			assert_int_equal(sum.opened, 0);
			assert_int_equal(sum.port.tx_packets, 0);
		}
	}
	close(dpctl);

	/* TUNNEL_DEL with send_close: the close reaches the tunnel's remote. */
	{
		struct ctlmsg_tunnel_remote *m = (void *)msgbuf();

		n = build(CTLMSG_TUNNEL_REMOTE);
		m->remote = peer;
		send_rec(e, e->fd, m, n);
	}
	del = (struct ctlmsg_tunnel_del){ .local_index = IDX_LOCAL,
					  .send_close = 1 };
	hdr(&del, CTLMSG_TUNNEL_DEL, sizeof(del));
	send_rec(e, e->fd, &del, sizeof(del));
	n = (size_t)udp_recv(e, peer_fd, d, sizeof(d));
	assert_int_equal(open_sealed(d, n, &h), 0);
	assert_int_equal(h.type, WIRE_CLOSE_TUNNEL);
	assert_int_equal(h.counter, CTLMSG_LEASE_STEP - 97);
	expect_error(e, e->fd, &del, sizeof(del), -ENOENT, "no tunnel");
	rpc(e, e->fd, &dump, sizeof(dump), &r, CTLMSG_DUMP_END);

	/* Control goes away: the dataplane stays, punts are dropped. */
	close(e->fd);
	e->fd = -1;
	for (int i = 0; i < 5; i++)
		dp_ctl_step(e->c, 10);
	{
		struct dp_ctl_counters cnt;

		dp_ctl_counters(e->c, &cnt);
		assert_int_equal(cnt.punts_sent, 1);
		assert_int_equal(cnt.lease_requests, 1);
		assert_int_equal(cnt.retired, 0);
	}
	close(peer_fd);
}

/* Sends without blocking this single thread: steps the loop while full. */
static void send_stepping(struct env *e, int fd, void *rec, size_t len)
{
	((struct ctlmsg_hdr *)rec)->seq = ++e->seq;
	for (int i = 0; i < 300; i++) {
		if (send(fd, rec, len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
		    (ssize_t)len)
			return;
		assert_int_equal(errno, EAGAIN);
		assert_int_equal(dp_ctl_step(e->c, 10), 0);
	}
	fail_msg("the dataplane took no record within 3 s");
}

/*
 * A DUMP far larger than the socket buffer, to a reader that keeps sending
 * requests and reads nothing for a while (vela-control blocked in its own
 * send): the control thread never waits for it, keeps reading, and the
 * dump comes out whole and in order, without the tunnel removed meanwhile;
 * the other replies arrive among its records; a second DUMP is refused.
 */
static void test_ctl_socket_dump_slow_reader(void **state)
{
	enum { N = 600, FIRST = 0x1000 };
	struct env *e = *state;
	static struct ctlmsg_setup s;
	static struct ctlmsg_tunnel_add t;
	static union {
		struct ctlmsg_hdr hdr;
		struct ctlmsg_setup_done done;
		struct ctlmsg_dump_tunnel dump;
		struct ctlmsg_error error;
		uint8_t raw[CTLMSG_MAX];
	} r;
	struct ctlmsg_hdr dump, again, st;
	struct ctlmsg_tunnel_del del = { .local_index = FIRST + N - 1 };
	struct ctlmsg_hello hr;
	uint32_t dump_seq, next = FIRST;
	unsigned int n_stats = 0, n_busy = 0;
	bool ended = false;

	e->fd = hello(e, CTLMSG_ROLE_CONTROL, &hr);
	fill_setup(&s);
	s.workers = 1;
	s.mode = CTLMSG_MODE_EVENT;
	rpc(e, e->fd, &s, sizeof(s), &r, CTLMSG_SETUP_DONE);
	assert_int_equal(r.done.err, 0);
	for (uint32_t k = 0; k < N; k++) {
		fill_tunnel(&t, FIRST + k, NULL);
		t.vpn_ip = VPN_B + 0x100 + k;
		t.peer_nets[0].ip = t.vpn_ip;
		send_stepping(e, e->fd, &t, sizeof(t));
	}

	hdr(&dump, CTLMSG_DUMP, sizeof(dump));
	send_stepping(e, e->fd, &dump, sizeof(dump));
	dump_seq = e->seq;
	for (int i = 0; i < 50; i++)
		assert_int_equal(dp_ctl_step(e->c, 0), 0);
	/* Requests while the dump waits for us. */
	hdr(&del, CTLMSG_TUNNEL_DEL, sizeof(del));
	send_stepping(e, e->fd, &del, sizeof(del));
	hdr(&again, CTLMSG_DUMP, sizeof(again));
	send_stepping(e, e->fd, &again, sizeof(again));
	for (int i = 0; i < 2; i++) {
		hdr(&st, CTLMSG_STATS, sizeof(st));
		send_stepping(e, e->fd, &st, sizeof(st));
	}

	while (!ended || n_stats < 2 || n_busy < 1) {
		size_t n = recv_rec(e, e->fd, &r, sizeof(r));

		assert_true(n >= sizeof(r.hdr)); /* never closed on us */
		switch (r.hdr.type) {
		case CTLMSG_DUMP_TUNNEL:
			assert_false(ended);
			assert_int_equal(r.hdr.seq, dump_seq);
			assert_int_equal(r.dump.tunnel.local_index, next);
			next++;
			break;
		case CTLMSG_DUMP_END:
			assert_int_equal(r.hdr.seq, dump_seq);
			ended = true;
			break;
		case CTLMSG_STATS_REPLY:
			n_stats++;
			break;
		case CTLMSG_ERROR:
			assert_int_equal(r.error.type, CTLMSG_DUMP);
			assert_int_equal(r.error.err, -EBUSY);
			n_busy++;
			break;
		default:
			fail_msg("unexpected record type %u", r.hdr.type);
		}
	}
	/* Everything but the tunnel removed before the dump reached it. */
	assert_int_equal(next, FIRST + N - 1);

	/* ACTIVITY: the same tunnels, 32 bytes each, the last record marked. */
	{
		struct ctlmsg_activity_reply *a = (void *)&r;
		const size_t fixed =
			offsetof(struct ctlmsg_activity_reply, tunnel);
		bool last = false;

		next = FIRST;
		hdr(&st, CTLMSG_ACTIVITY, sizeof(st));
		send_stepping(e, e->fd, &st, sizeof(st));
		while (!last) {
			size_t n = recv_rec(e, e->fd, &r, sizeof(r));

			assert_int_equal(a->hdr.type, CTLMSG_ACTIVITY_REPLY);
			assert_int_equal(a->hdr.seq, e->seq);
			assert_true(a->n <= CTLMSG_ACTIVITY_MAX);
			assert_int_equal(n, fixed + a->n * sizeof(a->tunnel[0]));
			for (uint32_t k = 0; k < a->n; k++) {
				assert_int_equal(a->tunnel[k].local_index,
						 next++);
				assert_int_equal(a->tunnel[k].recv_max, 2);
			}
			last = a->last;
			assert_true(last || a->n == CTLMSG_ACTIVITY_MAX);
		}
		assert_int_equal(next, FIRST + N - 1);
	}
}

static void test_ctl_running_event(void **state)
{
	running(state, CTLMSG_MODE_EVENT);
}

static void test_ctl_running_adaptive(void **state)
{
	running(state, CTLMSG_MODE_ADAPTIVE);
}

static void test_ctl_running_busy(void **state)
{
	running(state, CTLMSG_MODE_BUSY);
}

/*
 * A FIREWALL whose only inbound rule is `proto: any, host: any,
 * ca_name: ca-new` (outbound: anything), at msgbuf(); returns its length.
 */
static size_t fw_ca_name_build(void)
{
	struct ctlmsg_fw_rule in = fw_rule_any_host(0, 0, 0);
	const struct ctlmsg_fw_rule out = fw_rule_any_host(0, 0, 0);
	static const char strings[8] = "ca-new"; /* padded to 4 bytes */
	uint8_t *b = msgbuf();
	struct ctlmsg_firewall *fw = (void *)b;
	uint32_t len;

	in.ca_name = 0;
	len = fw_build(b, 0, &in, 1, &out, 1);
	memcpy(b + len, strings, sizeof(strings));
	fw->strings_len = sizeof(strings);
	fw->hdr.len = len + (uint32_t)sizeof(strings);
	return fw->hdr.len;
}

/* @p's identity with CA name @ca appended (issued by a CA of ours). */
static void peer_with_ca(struct ctlmsg_fw_peer *p, const char *name,
			 const char *ca)
{
	fw_any_peer(p, name);
	memcpy(p->strings + p->strings_len, ca, strlen(ca) + 1);
	p->strings_len = (uint16_t)(p->strings_len + strlen(ca) + 1);
	p->flags = CTLMSG_FW_PEER_HAS_CA;
}

/*
 * A packet VPN_B -> VPN_A from the peer, sealed on the tunnel: an ICMP
 * echo when @udp_port is 0, else a UDP datagram from that port to 53.
 */
static void send_data(int peer_fd, uint16_t dp_port, uint64_t counter,
		      uint16_t udp_port)
{
	uint8_t ip[28] = {
		0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 1, 0, 0,
		10, 77, 0, 2, 10, 77, 0, 1, 8, 0, 0, 0, 0, 1, 0, 1
	};
	struct vl_aead_key k;
	uint8_t d[16 + sizeof(ip) + 16], nonce[12];

	if (udp_port) {
		ip[9] = 17;
		ip[20] = (uint8_t)(udp_port >> 8);
		ip[21] = (uint8_t)udp_port;
		ip[23] = 53;
		ip[25] = 8; /* UDP length; no checksum */
	}
	vl_aead_key_set(&k, VL_CIPHER_AES, key_recv);
	wire_header_encode(d, WIRE_MESSAGE, 0, IDX_LOCAL, counter);
	vl_aead_nonce(VL_CIPHER_AES, counter, nonce);
	vl_aead_seal(&k, nonce, d, 16, ip, sizeof(ip), d + 16);
	vl_aead_key_wipe(&k);
	assert_int_equal(sendto(peer_fd, d, sizeof(d), 0,
				(struct sockaddr *)&(struct sockaddr_in){
					.sin_family = AF_INET,
					.sin_port = htons(dp_port),
					.sin_addr.s_addr = htonl(0x7f000001) },
				sizeof(struct sockaddr_in)),
			 (ssize_t)sizeof(d));
}

/*
 * Steps until the workers counted @rx packets received, then returns the
 * inbound firewall's drops, read a little later: a worker counts the
 * datagram before it judges it.
 */
static uint64_t fw_in_drops(struct env *e, int fd, uint64_t rx)
{
	struct ctlmsg_worker_stats sum;

	for (int k = 0; k < 300; k++) {
		stats_total(stats(e, fd), &sum);
		if (sum.rx_packets >= rx) {
			assert_int_equal(sum.rx_packets, rx);
			for (int j = 0; j < 5; j++)
				dp_ctl_step(e->c, 10);
			stats_total(stats(e, fd), &sum);
			return sum.drops[DP_DROP_FIREWALL_IN];
		}
		dp_ctl_step(e->c, 10);
	}
	fail_msg("the workers did not count %llu packets within 3 s",
		 (unsigned long long)rx);
	return 0;
}

/*
 * TUNNEL_IDENTITY: the identity is stored (DUMP returns it) before and
 * after rules are loaded, and the tunnel's view of the rules follows it:
 * a ca_name rule that refused the peer takes it once the identity names
 * that CA, and refuses it again when the name goes. Unknown tunnels and
 * identities that do not check out are refused and change nothing.
 */
static void test_ctl_tunnel_identity(void **state)
{
	struct env *e = *state;
	static struct ctlmsg_setup s;
	static struct ctlmsg_tunnel_add t;
	static struct ctlmsg_tunnel_identity id;
	static union {
		struct ctlmsg_hdr hdr;
		struct ctlmsg_setup_done done;
		struct ctlmsg_dump_tunnel dump;
		uint8_t raw[CTLMSG_MAX];
	} r;
	struct ctlmsg_hello hr;
	struct ctlmsg_hdr dump;
	struct ctlmsg_fw_peer with_ca;
	struct sockaddr_in6 peer;
	uint16_t peer_port, dp_port;
	int peer_fd;
	size_t n;

	e->fd = hello(e, CTLMSG_ROLE_CONTROL, &hr);
	fill_setup(&s);
	rpc(e, e->fd, &s, sizeof(s), &r, CTLMSG_SETUP_DONE);
	assert_int_equal(r.done.err, 0);
	dp_port = r.done.port;
	peer_fd = udp_socket(&peer_port);
	hdr(&dump, CTLMSG_DUMP, sizeof(dump));

	n = build(CTLMSG_TUNNEL_IDENTITY);
	memcpy(&id, msgbuf(), n);
	expect_error(e, e->fd, &id, n, -ENOENT,
		     "TUNNEL_IDENTITY: no tunnel 11223344");

	/* Before any rules: only stored. The remote is the peer's (no roam). */
	peer = addr4(0x7f000001, peer_port);
	fill_tunnel(&t, IDX_LOCAL, &peer);
	send_rec(e, e->fd, &t, sizeof(t));
	peer_with_ca(&with_ca, "host-b", "ca-old");
	id.fw_peer = with_ca;
	send_rec(e, e->fd, &id, sizeof(id));
	rpc(e, e->fd, &dump, sizeof(dump), &r, CTLMSG_DUMP_TUNNEL);
	assert_memory_equal(&r.dump.tunnel.fw_peer, &with_ca, sizeof(with_ca));
	assert_int_equal(r.dump.tunnel.send_counter, 2); /* untouched */
	assert_memory_equal(r.dump.tunnel.send_key, key_send, 32);
	n = recv_rec(e, e->fd, &r, sizeof(r));
	assert_int_equal(r.hdr.type, CTLMSG_DUMP_END);

	/* Rules that want ca-new: the peer (ca-old) is refused. */
	n = fw_ca_name_build();
	send_rec(e, e->fd, msgbuf(), n);
	(void)stats(e, e->fd);
	send_data(peer_fd, dp_port, 3, 0);
	assert_int_equal(fw_in_drops(e, e->fd, 1), 1);

	/* Its CA is now called ca-new: let in, on the same tunnel. */
	peer_with_ca(&id.fw_peer, "host-b", "ca-new");
	send_rec(e, e->fd, &id, sizeof(id));
	(void)stats(e, e->fd); /* applied before the packet comes */
	send_data(peer_fd, dp_port, 4, 0);
	assert_int_equal(fw_in_drops(e, e->fd, 2), 1);

	/* A broken identity is refused; the one in force stays. */
	with_ca = id.fw_peer;
	id.fw_peer.strings_len = 0;
	expect_error(
		e, e->fd, &id, sizeof(id), -EINVAL,
		"TUNNEL_IDENTITY 11223344: fw_peer: peer identity: strings_len 0");
	send_data(peer_fd, dp_port, 5, 0);
	assert_int_equal(fw_in_drops(e, e->fd, 3), 1);
	rpc(e, e->fd, &dump, sizeof(dump), &r, CTLMSG_DUMP_TUNNEL);
	assert_memory_equal(&r.dump.tunnel.fw_peer, &with_ca, sizeof(with_ca));
	assert_int_equal(r.dump.tunnel.recv_max, 5);
	n = recv_rec(e, e->fd, &r, sizeof(r));
	assert_int_equal(r.hdr.type, CTLMSG_DUMP_END);

	/*
	 * No CA of ours issued it any more: a new flow is refused again,
	 * while the ICMP flow admitted before stays, as 1.6.1's conntrack
	 * does across reloadCA (the rule generation did not change).
	 */
	fw_any_peer(&id.fw_peer, "host-b");
	send_rec(e, e->fd, &id, sizeof(id));
	(void)stats(e, e->fd); /* applied before the packet comes */
	send_data(peer_fd, dp_port, 6, 5353);
	assert_int_equal(fw_in_drops(e, e->fd, 4), 2);
	send_data(peer_fd, dp_port, 7, 0);
	assert_int_equal(fw_in_drops(e, e->fd, 5), 2);
	close(peer_fd);
}

/* VELA_TUN_FD's syntax; whether the fds are TUN queues is SETUP's job. */
static void test_ctl_parse_tun_fds(void **state)
{
	static const char *const bad[] = {
		",", "3,", ",3", "3,,4", "x", "3x", "-3", "+3", " 3", "3, 4",
		"99999999999",
	};
	struct vl_status st = { "" };
	unsigned int n;
	int fds[4];

	(void)state;
	assert_int_equal(dp_ctl_parse_tun_fds("3", fds, 4, &n, &st), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fds[0], 3);
	assert_int_equal(dp_ctl_parse_tun_fds("7,0,12", fds, 4, &n, &st), 0);
	assert_int_equal(n, 3);
	assert_int_equal(fds[0], 7);
	assert_int_equal(fds[1], 0);
	assert_int_equal(fds[2], 12);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dp_ctl_parse_tun_fds(bad[i], fds, 4, &n, &st),
				 -EINVAL);
		assert_non_null(strstr(st.msg, "VELA_TUN_FD="));
		assert_non_null(strstr(st.msg, "not a list of fd numbers"));
	}
	assert_int_equal(dp_ctl_parse_tun_fds("3,4,3", fds, 4, &n, &st),
			 -EINVAL);
	assert_non_null(strstr(st.msg, "fd 3 given twice"));
	assert_int_equal(dp_ctl_parse_tun_fds("1,2,3,4,5", fds, 4, &n, &st),
			 -EINVAL);
	assert_non_null(strstr(st.msg, "more than 4 fds"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctl_validate_table),
		cmocka_unit_test(test_ctl_order_table),
		cmocka_unit_test(test_ctl_type_names),
		cmocka_unit_test(test_ctl_parse_tun_fds),
		cmocka_unit_test_setup_teardown(test_ctl_socket_claim,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_socket_hello_dump,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_socket_refusals,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_socket_control_replaced,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_socket_dump_slow_reader,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_tunnel_identity,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_running_event,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_running_adaptive,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_running_busy,
						env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
