/* SPDX-License-Identifier: MIT */
/*
 * The control thread: the dataplane's end of the control channel
 * (common/ctlmsg.h) and the only writer of the tables the workers read.
 *
 * Tables. Workers read the SA table through one atomic pointer in struct
 * dp_shared and never lock. Every change (TUNNEL_ADD, TUNNEL_DEL) builds a
 * whole new table here from the list of tunnels this thread keeps, swaps
 * the pointer (one seq-cst exchange, so it is ordered before the epoch bump
 * that starts the grace period), and retires the old table -- and the SA a
 * delete removed. A retired object is freed only after dp_qsbr_synchronize() saw
 * every online worker pass a quiescent point (the bottom of its loop, where
 * it holds no table pointer) since the object was unpublished; a sleeping
 * worker is offline and does not hold anyone up. If the workers do not all
 * get there within DP_CTL_SYNC_MS, the objects stay on the retired list and
 * the 100 ms tick tries again: nothing is ever freed early. A tunnel's
 * underlay address is one more such object: TUNNEL_REMOTE swaps
 * sa->remote atomically and retires the old address, and TUNNEL_IDENTITY
 * swaps the SA's view of the firewall rules (sa->fw) and retires the old
 * view. Lease grants are plain atomic stores into the SA.
 *
 * Punts. Each worker copies its punts into its own SPSC ring (ring.h) and
 * writes its eventfd when this thread may be asleep. This thread drains
 * every ring on every poll round and sends each punt as one CTLMSG_PUNT
 * record to the control connection, without waiting: punts are lossy by
 * design, and one that does not fit the socket, or finds no control
 * connection, is dropped and counted.
 *
 * Injects. INJECT_RAW, INJECT_SA, INJECT_TUN and INJECT_OUT go onto
 * worker 0's inject ring, one struct dp_inject per message, and worker 0's
 * wake eventfd is written. The worker sends a raw datagram as is, seals an
 * SA message in place on the SA it finds by index (one counter reserved,
 * as for any packet), writes an INJECT_TUN packet to its TUN queue and
 * runs an INJECT_OUT packet through the outbound stage. A full ring is an
 * ERROR to the sender. TUNNEL_DEL with send_close puts the
 * closeTunnel on the ring and waits (bounded) until worker 0 has released
 * it -- i.e. sent it -- before the table without the SA is published, so
 * the close is sealed on a tunnel that still exists.
 *
 * Variable-length records. Every fixed message must be exactly as long as
 * its struct. PUNT and the INJECT_* messages end in a CTLMSG_PACKET_MAX
 * data array of which only `len` bytes are used: their record (and
 * hdr.len) is offsetof(struct, data) + len, never the whole struct. We send
 * punts that way and accept injects only that way.
 *
 * Connections. One CONTROL connection at a time (a new HELLO with role
 * CONTROL replaces the old one, which is closed); any number of dpctl
 * connections up to DP_CTL_CONNS_MAX, which may only DUMP (and get tunnels
 * without their keys), ask for STATS and FLOWS, and CLEAR the counters
 * STATS reports (an operator's `dpctl clear`; see on_clear()). Nothing but HELLO is accepted
 * before HELLO, and no tunnel, lease or inject before SETUP. Every refused
 * message is answered with CTLMSG_ERROR naming the problem and counted.
 *
 * Statistics. Workers count into their own struct dp_counters and the
 * port's struct dp_port_stats, with plain increments and no sharing
 * (STYLE §3); STATS copies them all into one STATS_REPLY while the
 * workers run, and dpctl sums. See on_stats() for why reading them from
 * this thread is safe.
 *
 * The TUN device. SETUP creates it, or, with VELA_TUN_FD, takes the queue
 * fds this process was started with (take_tun_fds). Either way this
 * thread then polls a link watcher (tun/link_watch.h) beside the sockets:
 * up/down and MTU changes are logged and shown in STATS, and a device that
 * is deleted or leaves the namespace makes dp_ctl_step() return -ENODEV,
 * so vela-dataplane exits and its supervisor starts a fresh one.
 *
 * When the control connection closes, nothing else changes: the workers
 * go on forwarding with the tunnels they have, punts are dropped (counted)
 * and no lease is asked for until a control plane says HELLO again -- then
 * every tunnel may ask once more, since requests to the old connection may
 * have been lost. Leases are what bound a headless dataplane: a tunnel
 * whose lease runs out drops what it would send (DP_DROP_LEASE).
 */
#include "ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <dirent.h>
#include <net/if.h>

#include <sodium.h>

#include "aead.h"
#include "flow.h"
#include "fw.h"
#include "ipnet.h"
#include "link_watch.h"
#include "nexthop.h"
#include "port.h"
#include "status.h"
#include "tun_mq.h"
#include "wire.h"
#include "xdp_steer.h"

#define READ_BURST 64 /* records per connection per poll round */
#define READER_STALL_MS 5000 /* a reader that takes nothing this long is dropped */
#define OUTQ_MAX (4u << 20) /* replies queued for one reader, bytes */
#define CLOSE_WAIT_US 100000 /* worker 0 sends a closeTunnel in this */
#define REJECT_LOGS_PER_SEC 10
#define NSEC_PER_MSEC 1000000u

#define SUN_PATH_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

/* The largest record this thread sends. */
union reply {
	struct ctlmsg_hdr hdr;
	struct ctlmsg_hello hello;
	struct ctlmsg_setup_done done;
	struct ctlmsg_lease lease;
	struct ctlmsg_dump_tunnel dump;
	struct ctlmsg_error error;
	struct ctlmsg_stats_reply stats;
	struct ctlmsg_activity_reply activity;
	struct ctlmsg_flows_reply flows;
};

/*
 * A connection. This thread never waits for a reader: a reply the socket
 * has no room for waits in @outq (whole records, in order) and goes out
 * when poll() says the socket is writable, while requests keep being read.
 * Waiting instead deadlocks as soon as the reader is itself blocked sending
 * to us (vela-control is single-threaded and sends with blocking writes).
 * A DUMP is produced record by record as the queue empties, so a dump of
 * any size costs one record of memory.
 */
struct conn {
	int fd; /* -1: free slot */
	uint32_t role; /* 0 until HELLO */
	uint32_t pid; /* as the peer said in HELLO */
	uint8_t *outq; /* records, each a uint32_t length then the bytes */
	size_t outq_head, outq_tail, outq_cap;
	uint64_t stalled_ns; /* when the queue last stopped moving; 0: empty */
	struct {
		bool active;
		uint32_t seq;
		unsigned int pos, end; /* next tunnel, and where to stop */
	} dump;
	struct {
		bool active, reset;
		uint32_t seq;
		uint32_t cursor; /* next bucket of the flow table */
	} flows;
};

/* A tunnel as installed: its SA and the message, for DUMP. */
struct tunnel {
	struct dp_sa *sa;
	struct ctlmsg_tunnel_add msg;
};

/*
 * Freed in the order retired, which matters once: a rule set's tunnel views
 * (RETIRED_FW_PEER, and the SAs that own theirs) go before the rule set
 * (RETIRED_FW) they point into.
 */
enum retired_kind { RETIRED_TABLE, RETIRED_SA, RETIRED_ADDR, RETIRED_NH,
		    RETIRED_FW_PEER, RETIRED_FW };

struct retired {
	enum retired_kind kind;
	void *p;
};

struct dp_ctl {
	struct dp_shared shared; /* what the workers read */
	struct dp_ctl_cfg cfg;
	char path[SUN_PATH_LEN];
	int listen_fd;
	struct conn conns[DP_CTL_CONNS_MAX];
	int control; /* index into conns, -1: none */

	bool set_up;
	struct ctlmsg_setup_done done; /* repeated for an identical SETUP */
	struct tun_dev tun;
	bool have_tun;
	/*
	 * VELA_TUN_FD, parsed at open: the queue fds to take instead of
	 * creating the device, or why they cannot be (@tun_fds_err). A
	 * SETUP that took them owns them even if it then failed (they are
	 * closed with the device), so a later one refuses (@tun_fds_used).
	 */
	bool tun_fds_given;
	bool tun_fds_used;
	bool tun_handed_over; /* the device in force came from VELA_TUN_FD */
	unsigned int n_tun_fds;
	int tun_fds[DP_CTL_WORKERS_MAX];
	int tun_fds_errno;
	char tun_fds_err[192];
	/* The device's link (tun/link_watch.h): polled, kept for STATS. */
	struct tun_link_watch *link_watch;
	struct tun_link_state link;
	bool tun_gone; /* deleted or moved away: the dataplane must stop */
	unsigned int n_workers;
	struct dp_worker_loop *loops[DP_CTL_WORKERS_MAX];
	struct dp_port *ports[DP_CTL_WORKERS_MAX];
	struct dp_xdp *xdp; /* xsk: the steering program on the interface */
	struct dp_nh *nh; /* xsk: next-hop mirror, NULL without one */
	struct dp_ring punts[DP_CTL_WORKERS_MAX];
	struct dp_ring injects;
	bool punts_left; /* a ring was not empty after draining */

	struct tunnel *tunnels; /* install order: a later one wins by VPN IP */
	unsigned int n_tunnels, cap_tunnels;
	/*
	 * The rules in force (NULL until the first FIREWALL), and how many
	 * were loaded: the generation flows are tagged with is ours, never
	 * the sender's, so a restarted vela-control cannot reuse one.
	 */
	struct dp_fw *fw;
	uint32_t fw_gen;
	struct retired *retired;
	unsigned int n_retired, cap_retired;

	/*
	 * CLEAR: STATS as it was at the last one (NULL: none yet), which
	 * every STATS_REPLY has subtracted; see on_clear().
	 */
	struct ctlmsg_stats_reply *clear_base;
	uint32_t clears;
	uint64_t cleared_ns;

	void *rx; /* CTLMSG_MAX bytes, malloc-aligned */
	union reply *tx;
	struct dp_ctl_counters stats;
	uint64_t next_tick_ns;
	uint64_t reject_window_ns;
	unsigned int reject_logs;
};

static const char *const type_names[] = {
	[CTLMSG_HELLO] = "HELLO",
	[CTLMSG_SETUP] = "SETUP",
	[CTLMSG_SETUP_DONE] = "SETUP_DONE",
	[CTLMSG_TUNNEL_ADD] = "TUNNEL_ADD",
	[CTLMSG_TUNNEL_DEL] = "TUNNEL_DEL",
	[CTLMSG_TUNNEL_REMOTE] = "TUNNEL_REMOTE",
	[CTLMSG_LEASE_REQUEST] = "LEASE_REQUEST",
	[CTLMSG_LEASE_GRANT] = "LEASE_GRANT",
	[CTLMSG_PUNT] = "PUNT",
	[CTLMSG_INJECT_RAW] = "INJECT_RAW",
	[CTLMSG_INJECT_SA] = "INJECT_SA",
	[CTLMSG_DUMP] = "DUMP",
	[CTLMSG_DUMP_TUNNEL] = "DUMP_TUNNEL",
	[CTLMSG_DUMP_END] = "DUMP_END",
	[CTLMSG_ERROR] = "ERROR",
	[CTLMSG_STATS] = "STATS",
	[CTLMSG_STATS_REPLY] = "STATS_REPLY",
	[CTLMSG_ACTIVITY] = "ACTIVITY",
	[CTLMSG_ACTIVITY_REPLY] = "ACTIVITY_REPLY",
	[CTLMSG_INJECT_TUN] = "INJECT_TUN",
	[CTLMSG_INJECT_OUT] = "INJECT_OUT",
	[CTLMSG_FLOWS] = "FLOWS",
	[CTLMSG_FLOWS_REPLY] = "FLOWS_REPLY",
	[CTLMSG_FIREWALL] = "FIREWALL",
	[CTLMSG_TUNNEL_IDENTITY] = "TUNNEL_IDENTITY",
	[CTLMSG_CLEAR] = "CLEAR",
};

const char *dp_ctl_type_name(uint32_t type)
{
	if (type >= sizeof(type_names) / sizeof(type_names[0]) ||
	    !type_names[type])
		return "?";
	return type_names[type];
}

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((format(printf, 3, 4))) static void
say(const struct dp_ctl *c, enum dp_ctl_log_level level, const char *fmt, ...)
{
	char msg[VL_STATUS_MAX];
	va_list ap;

	if (!c->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->cfg.log(level, "%s", msg);
}

/* An address for a log line; "(none)" when there is none. */
static const char *fmt_addr(const struct sockaddr_in6 *a, char *buf, size_t len)
{
	if (!vl_addr_format(a, buf, len))
		snprintf(buf, len, "(none)");
	return buf;
}


/* ---- Validation ---------------------------------------------------- */

/* A netmask is a prefix: ones, then zeros. */
static bool mask_ok(uint32_t mask)
{
	uint32_t host = ~mask;

	return !(host & (host + 1));
}

static bool in_net(uint32_t ip, const struct ctlmsg_net *n)
{
	return (ip & n->mask) == (n->ip & n->mask);
}

static bool cipher_ok(uint32_t c)
{
	return c == VL_CIPHER_AES || c == VL_CIPHER_CHACHAPOLY;
}

static int check_nets(const char *what, const char *name,
		      const struct ctlmsg_net *nets, uint32_t n,
		      struct vl_status *st)
{
	for (uint32_t i = 0; i < n; i++)
		if (!mask_ok(nets[i].mask))
			return vl_status_set(
				st, -EINVAL,
				"%s: %s[%u] mask %08x is not a prefix", what,
				name, i, nets[i].mask);
	return 0;
}

static int check_setup(const struct ctlmsg_setup *m, struct vl_status *st)
{
	const char *t = "SETUP";
	int err;

	if (m->listen.sin6_family != AF_INET6)
		return vl_status_set(
			st, -EINVAL,
			"%s: listen address family %u, want AF_INET6 (IPv4 as ::ffff:a.b.c.d)",
			t, m->listen.sin6_family);
	if (m->backend > CTLMSG_BACKEND_DPDK)
		return vl_status_set(st, -EINVAL, "%s: backend %u unknown", t,
				     m->backend);
	if (m->mode > CTLMSG_MODE_EVENT)
		return vl_status_set(st, -EINVAL, "%s: mode %u unknown", t,
				     m->mode);
	if (m->workers < 1 || m->workers > DP_CTL_WORKERS_MAX)
		return vl_status_set(st, -EINVAL,
				     "%s: workers %u, want 1 to %d", t,
				     m->workers, DP_CTL_WORKERS_MAX);
	if (!cipher_ok(m->cipher))
		return vl_status_set(st, -EINVAL, "%s: cipher %u unknown", t,
				     m->cipher);
	if (!memchr(m->interface, 0, sizeof(m->interface)))
		return vl_status_set(st, -EINVAL,
				     "%s: interface is not NUL-terminated", t);
	if (!memchr(m->tun_dev, 0, sizeof(m->tun_dev)))
		return vl_status_set(st, -EINVAL,
				     "%s: tun_dev is not NUL-terminated", t);
	if (m->tun_disabled > 1 || m->drop_local_broadcast > 1 ||
	    m->drop_multicast > 1)
		return vl_status_set(
			st, -EINVAL,
			"%s: tun_disabled, drop_local_broadcast and drop_multicast are 0 or 1",
			t);
	if (!m->tun_disabled && (m->mtu < 68 || m->mtu > DP_PKT_MAX))
		return vl_status_set(st, -EINVAL, "%s: mtu %u, want 68 to %d",
				     t, m->mtu, DP_PKT_MAX);
	/* The tun driver's per-queue ring has tx_queue slots: 0 drops all. */
	if (!m->tun_disabled && !m->tx_queue)
		return vl_status_set(
			st, -EINVAL,
			"%s: tx_queue 0 would make the TUN drop every packet (nebula's default is 500)",
			t);
	if (m->tx_queue > INT_MAX || m->read_buffer > INT_MAX ||
	    m->write_buffer > INT_MAX)
		return vl_status_set(
			st, -EINVAL,
			"%s: tx_queue, read_buffer and write_buffer are at most %d",
			t, INT_MAX);
	if (m->send_recv_error > CTLMSG_RECV_ERROR_PRIVATE)
		return vl_status_set(st, -EINVAL,
				     "%s: send_recv_error %u unknown", t,
				     m->send_recv_error);
	if (m->flows_max < DP_FLOW_MIN || m->flows_max > DP_FLOW_MAX)
		return vl_status_set(st, -EINVAL,
				     "%s: flows_max %u, want %d to %u", t,
				     m->flows_max, DP_FLOW_MIN, DP_FLOW_MAX);
	if (!m->vpn.ip || !m->vpn.mask || !mask_ok(m->vpn.mask))
		return vl_status_set(
			st, -EINVAL,
			"%s: vpn %08x/%08x is not an address with a prefix mask",
			t, m->vpn.ip, m->vpn.mask);
	if (m->n_local_nets < 1 || m->n_local_nets > CTLMSG_NETS_MAX)
		return vl_status_set(st, -EINVAL,
				     "%s: n_local_nets %u, want 1 to %d", t,
				     m->n_local_nets, CTLMSG_NETS_MAX);
	err = check_nets(t, "local_nets", m->local_nets, m->n_local_nets, st);
	if (err)
		return err;
	if (m->n_routes > CTLMSG_ROUTES_MAX)
		return vl_status_set(st, -EINVAL, "%s: n_routes %u, at most %d",
				     t, m->n_routes, CTLMSG_ROUTES_MAX);
	for (uint32_t i = 0; i < m->n_routes; i++) {
		const struct ctlmsg_route *r = &m->routes[i];

		if (!mask_ok(r->dst.mask) || r->dst.ip & ~r->dst.mask)
			return vl_status_set(
				st, -EINVAL,
				"%s: route[%u] %08x/%08x: mask is not a prefix or host bits are set",
				t, i, r->dst.ip, r->dst.mask);
		if (r->mtu && (r->mtu < 68 || r->mtu > DP_PKT_MAX))
			return vl_status_set(
				st, -EINVAL,
				"%s: route[%u] mtu %u, want 0 or 68 to %d", t,
				i, r->mtu, DP_PKT_MAX);
		if (r->metric > INT_MAX)
			return vl_status_set(
				st, -EINVAL,
				"%s: route[%u] metric %u too large", t, i,
				r->metric);
		if (r->via && !in_net(r->via, &m->vpn))
			return vl_status_set(
				st, -EINVAL,
				"%s: route[%u] via %08x is outside the VPN network",
				t, i, r->via);
	}
	return 0;
}

static int check_tunnel_add(const struct ctlmsg_tunnel_add *m,
			    struct vl_status *st)
{
	const char *t = "TUNNEL_ADD";

	if (!m->local_index)
		return vl_status_set(st, -EINVAL,
				     "%s: local_index 0 is reserved", t);
	if (!cipher_ok(m->cipher))
		return vl_status_set(st, -EINVAL, "%s %08x: cipher %u unknown",
				     t, m->local_index, m->cipher);
	if (!m->vpn_ip)
		return vl_status_set(st, -EINVAL, "%s %08x: vpn_ip 0", t,
				     m->local_index);
	if (m->remote.sin6_family && m->remote.sin6_family != AF_INET6)
		return vl_status_set(
			st, -EINVAL,
			"%s %08x: remote family %u, want 0 or AF_INET6", t,
			m->local_index, m->remote.sin6_family);
	if (m->send_counter > m->lease_end)
		return vl_status_set(
			st, -EINVAL,
			"%s %08x: send_counter %llu past lease_end %llu", t,
			m->local_index, (unsigned long long)m->send_counter,
			(unsigned long long)m->lease_end);
	if (m->n_peer_nets > CTLMSG_NETS_MAX)
		return vl_status_set(st, -EINVAL,
				     "%s %08x: n_peer_nets %u, at most %d", t,
				     m->local_index, m->n_peer_nets,
				     CTLMSG_NETS_MAX);
	if (m->cert_len > CTLMSG_CERT_MAX)
		return vl_status_set(st, -EINVAL,
				     "%s %08x: cert_len %u, at most %d", t,
				     m->local_index, m->cert_len,
				     CTLMSG_CERT_MAX);
	return check_nets(t, "peer_nets", m->peer_nets, m->n_peer_nets, st);
}

/* The record length a PUNT/INJECT_* message with @data_len bytes has. */
/*
 * A variable-length record: its fixed part up to @data_off, whose u32 at
 * @len_field says how many data bytes follow. The field is read only once
 * the record is known to hold the fixed part.
 */
static int check_var_len(const char *t, size_t len, size_t data_off,
			 const uint32_t *len_field, struct vl_status *st)
{
	uint32_t data_len;

	if (len < data_off)
		return vl_status_set(st, -EBADMSG,
				     "%s: record of %zu bytes, want at least %zu",
				     t, len, data_off);
	data_len = *len_field;
	if (data_len > CTLMSG_PACKET_MAX)
		return vl_status_set(st, -EMSGSIZE, "%s: len %u, at most %d", t,
				     data_len, CTLMSG_PACKET_MAX);
	if (len != data_off + data_len)
		return vl_status_set(
			st, -EBADMSG,
			"%s: record of %zu bytes, want %zu + len %u = %zu", t,
			len, data_off, data_len, data_off + data_len);
	return 0;
}

/*
 * An injected IPv4 packet must be whole: the TUN and the peer get exactly
 * what a kernel would have produced, never a truncated or padded one.
 */
static int check_ipv4(const char *t, const uint8_t *ip, uint32_t len,
		      struct vl_status *st)
{
	uint32_t ihl, total;

	if (len < 20)
		return vl_status_set(st, -EINVAL,
				     "%s: %u bytes, an IPv4 header needs 20", t,
				     len);
	if (ip[0] >> 4 != 4)
		return vl_status_set(st, -EINVAL, "%s: IP version %u, want 4",
				     t, ip[0] >> 4);
	ihl = (ip[0] & 0x0f) * 4u;
	total = (uint32_t)ip[2] << 8 | ip[3];
	if (ihl < 20 || ihl > len)
		return vl_status_set(st, -EINVAL,
				     "%s: header length %u of a %u-byte packet",
				     t, ihl, len);
	if (total != len)
		return vl_status_set(
			st, -EINVAL,
			"%s: IPv4 total length %u, the packet has %u bytes", t,
			total, len);
	return 0;
}

/* Fixed sizes of what the dataplane accepts; 0: variable length. */
static size_t fixed_len(uint16_t type)
{
	switch ((enum ctlmsg_type)type) {
	case CTLMSG_HELLO:
		return sizeof(struct ctlmsg_hello);
	case CTLMSG_SETUP:
		return sizeof(struct ctlmsg_setup);
	case CTLMSG_TUNNEL_ADD:
		return sizeof(struct ctlmsg_tunnel_add);
	case CTLMSG_TUNNEL_DEL:
		return sizeof(struct ctlmsg_tunnel_del);
	case CTLMSG_TUNNEL_REMOTE:
		return sizeof(struct ctlmsg_tunnel_remote);
	case CTLMSG_TUNNEL_IDENTITY:
		return sizeof(struct ctlmsg_tunnel_identity);
	case CTLMSG_LEASE_GRANT:
		return sizeof(struct ctlmsg_lease);
	case CTLMSG_FLOWS:
		return sizeof(struct ctlmsg_flows);
	case CTLMSG_DUMP:
	case CTLMSG_STATS:
	case CTLMSG_ACTIVITY:
	case CTLMSG_CLEAR:
		return sizeof(struct ctlmsg_hdr);
	case CTLMSG_ACTIVITY_REPLY:
	case CTLMSG_FLOWS_REPLY:
	case CTLMSG_FIREWALL:
	case CTLMSG_INJECT_RAW:
	case CTLMSG_INJECT_SA:
	case CTLMSG_INJECT_TUN:
	case CTLMSG_INJECT_OUT:
	case CTLMSG_SETUP_DONE:
	case CTLMSG_LEASE_REQUEST:
	case CTLMSG_PUNT:
	case CTLMSG_DUMP_TUNNEL:
	case CTLMSG_DUMP_END:
	case CTLMSG_ERROR:
	case CTLMSG_STATS_REPLY:
		break;
	}
	return 0;
}

int dp_ctl_validate(const void *rec, size_t len, struct vl_status *st)
{
	const struct ctlmsg_hdr *h = rec;
	const char *t;
	size_t want;

	if (len < sizeof(*h))
		return vl_status_set(
			st, -EBADMSG,
			"record of %zu bytes is shorter than the %zu-byte header",
			len, sizeof(*h));
	t = dp_ctl_type_name(h->type);
	if (len > CTLMSG_MAX)
		return vl_status_set(st, -EMSGSIZE,
				     "%s: record of %zu bytes, at most %d", t,
				     len, CTLMSG_MAX);
	if (h->version != CTLMSG_VERSION)
		return vl_status_set(st, -EPROTO,
				     "%s: version %u, this dataplane speaks %d",
				     t, h->version, CTLMSG_VERSION);
	if (h->len != len)
		return vl_status_set(
			st, -EBADMSG,
			"%s: header says %u bytes, the record has %zu", t,
			h->len, len);
	switch ((enum ctlmsg_type)h->type) {
	case CTLMSG_HELLO:
	case CTLMSG_SETUP:
	case CTLMSG_TUNNEL_ADD:
	case CTLMSG_TUNNEL_DEL:
	case CTLMSG_TUNNEL_REMOTE:
	case CTLMSG_TUNNEL_IDENTITY:
	case CTLMSG_LEASE_GRANT:
	case CTLMSG_DUMP:
	case CTLMSG_INJECT_RAW:
	case CTLMSG_INJECT_SA:
	case CTLMSG_INJECT_TUN:
	case CTLMSG_INJECT_OUT:
	case CTLMSG_STATS:
	case CTLMSG_ACTIVITY:
	case CTLMSG_FLOWS:
	case CTLMSG_FIREWALL:
	case CTLMSG_CLEAR:
		break;
	case CTLMSG_FLOWS_REPLY:
	case CTLMSG_ACTIVITY_REPLY:
	case CTLMSG_SETUP_DONE:
	case CTLMSG_LEASE_REQUEST:
	case CTLMSG_PUNT:
	case CTLMSG_DUMP_TUNNEL:
	case CTLMSG_DUMP_END:
	case CTLMSG_ERROR:
	case CTLMSG_STATS_REPLY:
		return vl_status_set(st, -EPROTO,
				     "%s is sent by the dataplane, not to it",
				     t);
	default:
		return vl_status_set(st, -EPROTO, "message type %u unknown",
				     h->type);
	}

	want = fixed_len(h->type);
	if (want && len != want)
		return vl_status_set(st, -EBADMSG,
				     "%s: record of %zu bytes, want %zu", t,
				     len, want);

	switch ((enum ctlmsg_type)h->type) {
	case CTLMSG_HELLO: {
		const struct ctlmsg_hello *m = rec;

		if (m->role != CTLMSG_ROLE_CONTROL &&
		    m->role != CTLMSG_ROLE_DPCTL)
			return vl_status_set(st, -EINVAL, "%s: role %u unknown",
					     t, m->role);
		return 0;
	}
	case CTLMSG_SETUP:
		return check_setup(rec, st);
	case CTLMSG_TUNNEL_ADD:
		return check_tunnel_add(rec, st);
	case CTLMSG_TUNNEL_DEL: {
		const struct ctlmsg_tunnel_del *m = rec;

		if (!m->local_index)
			return vl_status_set(st, -EINVAL,
					     "%s: local_index 0 is reserved",
					     t);
		if (m->send_close > 1)
			return vl_status_set(
				st, -EINVAL,
				"%s %08x: send_close %u, want 0 or 1", t,
				m->local_index, m->send_close);
		return 0;
	}
	case CTLMSG_TUNNEL_REMOTE: {
		const struct ctlmsg_tunnel_remote *m = rec;

		if (!m->local_index)
			return vl_status_set(st, -EINVAL,
					     "%s: local_index 0 is reserved",
					     t);
		if (m->remote.sin6_family != AF_INET6)
			return vl_status_set(
				st, -EINVAL,
				"%s %08x: remote family %u, want AF_INET6", t,
				m->local_index, m->remote.sin6_family);
		return 0;
	}
	case CTLMSG_TUNNEL_IDENTITY: {
		const struct ctlmsg_tunnel_identity *m = rec;

		/* The identity is dp_fw_peer_new's to check, at apply. */
		if (!m->local_index)
			return vl_status_set(st, -EINVAL,
					     "%s: local_index 0 is reserved",
					     t);
		return 0;
	}
	case CTLMSG_LEASE_GRANT: {
		const struct ctlmsg_lease *m = rec;

		if (!m->local_index)
			return vl_status_set(st, -EINVAL,
					     "%s: local_index 0 is reserved",
					     t);
		return 0;
	}
	case CTLMSG_INJECT_RAW: {
		const struct ctlmsg_inject_raw *m = rec;
		size_t off = offsetof(struct ctlmsg_inject_raw, data);
		int err;

		err = check_var_len(t, len, off, &m->len, st);
		if (err)
			return err;
		if (!m->len)
			return vl_status_set(st, -EINVAL, "%s: empty datagram",
					     t);
		if (m->to.sin6_family != AF_INET6 || !m->to.sin6_port)
			return vl_status_set(
				st, -EINVAL,
				"%s: destination needs AF_INET6 and a port", t);
		return 0;
	}
	case CTLMSG_INJECT_SA: {
		const struct ctlmsg_inject_sa *m = rec;
		size_t off = offsetof(struct ctlmsg_inject_sa, data);
		int err;

		err = check_var_len(t, len, off, &m->len, st);
		if (err)
			return err;
		if (!m->local_index)
			return vl_status_set(st, -EINVAL,
					     "%s: local_index 0 is reserved",
					     t);
		if (m->type < WIRE_LIGHTHOUSE || m->type > WIRE_CONTROL ||
		    (m->type == WIRE_TEST && m->subtype > WIRE_SUB_TEST_REPLY))
			return vl_status_set(
				st, -EINVAL,
				"%s %08x: type %u/%u is not a message sealed on a tunnel (lighthouse, test, closeTunnel, control)",
				t, m->local_index, m->type, m->subtype);
		if (m->to.sin6_family && m->to.sin6_family != AF_INET6)
			return vl_status_set(
				st, -EINVAL,
				"%s %08x: destination family %u, want 0 or AF_INET6",
				t, m->local_index, m->to.sin6_family);
		return 0;
	}
	case CTLMSG_INJECT_TUN:
	case CTLMSG_INJECT_OUT: {
		const struct ctlmsg_inject_ip *m = rec;
		size_t off = offsetof(struct ctlmsg_inject_ip, data);
		int err;

		err = check_var_len(t, len, off, &m->len, st);
		if (err)
			return err;
		return check_ipv4(t, m->data, m->len, st);
	}
	case CTLMSG_FLOWS: {
		const struct ctlmsg_flows *m = rec;

		if (m->reset > 1)
			return vl_status_set(st, -EINVAL,
					     "%s: reset %u, want 0 or 1", t,
					     m->reset);
		return 0;
	}
	case CTLMSG_FIREWALL:
		/* The rest is dp_fw_load's, field by field, at apply. */
		if (len < offsetof(struct ctlmsg_firewall, data))
			return vl_status_set(
				st, -EBADMSG,
				"%s: record of %zu bytes, want at least %zu", t,
				len, offsetof(struct ctlmsg_firewall, data));
		return 0;
	case CTLMSG_FLOWS_REPLY:
	case CTLMSG_DUMP:
	case CTLMSG_STATS:
	case CTLMSG_CLEAR:
	case CTLMSG_ACTIVITY:
	case CTLMSG_ACTIVITY_REPLY:
	case CTLMSG_SETUP_DONE:
	case CTLMSG_LEASE_REQUEST:
	case CTLMSG_PUNT:
	case CTLMSG_DUMP_TUNNEL:
	case CTLMSG_DUMP_END:
	case CTLMSG_ERROR:
	case CTLMSG_STATS_REPLY:
		break;
	}
	return 0;
}

int dp_ctl_check_order(uint32_t role, bool set_up, uint16_t type,
		       struct vl_status *st)
{
	const char *t = dp_ctl_type_name(type);

	if (type == CTLMSG_HELLO)
		return 0;
	if (!role)
		return vl_status_set(st, -EPROTO,
				     "%s before HELLO: say HELLO first", t);
	/*
	 * dpctl reads, but for two operator commands: `flows -z` (FLOWS
	 * with reset) and `clear` (CLEAR), which reset counters and nothing
	 * a tunnel or packet depends on.
	 */
	if (role == CTLMSG_ROLE_DPCTL && type != CTLMSG_DUMP &&
	    type != CTLMSG_STATS && type != CTLMSG_FLOWS &&
	    type != CTLMSG_CLEAR)
		return vl_status_set(
			st, -EPERM,
			"%s: a dpctl connection may only DUMP, STATS, FLOWS or CLEAR",
			t);
	switch ((enum ctlmsg_type)type) {
	case CTLMSG_TUNNEL_ADD:
	case CTLMSG_TUNNEL_DEL:
	case CTLMSG_TUNNEL_REMOTE:
	case CTLMSG_TUNNEL_IDENTITY:
	case CTLMSG_LEASE_GRANT:
	case CTLMSG_INJECT_RAW:
	case CTLMSG_INJECT_SA:
	case CTLMSG_INJECT_TUN:
	case CTLMSG_INJECT_OUT:
	case CTLMSG_FLOWS:
	case CTLMSG_FIREWALL:
		if (!set_up)
			return vl_status_set(
				st, -EPROTO,
				"%s before SETUP: send SETUP first", t);
		break;
	case CTLMSG_HELLO:
	case CTLMSG_SETUP:
	case CTLMSG_SETUP_DONE:
	case CTLMSG_LEASE_REQUEST:
	case CTLMSG_PUNT:
	case CTLMSG_DUMP:
	case CTLMSG_DUMP_TUNNEL:
	case CTLMSG_DUMP_END:
	case CTLMSG_ERROR:
	case CTLMSG_STATS:
	case CTLMSG_STATS_REPLY:
	case CTLMSG_CLEAR:
	case CTLMSG_ACTIVITY:
	case CTLMSG_ACTIVITY_REPLY:
	case CTLMSG_FLOWS_REPLY:
		break;
	}
	return 0;
}

/* ---- Connections ----------------------------------------------------- */

static void hdr_init(struct ctlmsg_hdr *h, uint16_t type, uint32_t len,
		     uint32_t seq)
{
	*h = (struct ctlmsg_hdr){
		.version = CTLMSG_VERSION, .type = type, .len = len, .seq = seq
	};
}

static void close_conn(struct dp_ctl *c, int i, const char *why)
{
	struct conn *k = &c->conns[i];

	if (k->fd < 0)
		return;
	close(k->fd);
	k->fd = -1;
	/* The control connection's queue may hold session keys (DUMP). */
	if (k->outq)
		sodium_memzero(k->outq, k->outq_cap);
	free(k->outq);
	k->outq = NULL;
	k->outq_head = k->outq_tail = k->outq_cap = 0;
	k->stalled_ns = 0;
	k->dump.active = false;
	k->flows.active = false;
	if (c->control == i) {
		c->control = -1;
		say(c, DP_CTL_LOG_INFO,
		    "Control plane disconnected (%s); forwarding goes on with %u tunnels",
		    why, c->n_tunnels);
	}
	k->role = 0;
	k->pid = 0;
}

/* Appends a record to the connection's queue; false when over OUTQ_MAX. */
static bool outq_push(struct conn *k, const void *rec, size_t len)
{
	size_t need = sizeof(uint32_t) + len;

	if (k->outq_tail - k->outq_head + need > OUTQ_MAX)
		return false;
	if (k->outq_tail + need > k->outq_cap && k->outq_head) {
		/* Slide the live part down before growing. */
		memmove(k->outq, k->outq + k->outq_head,
			k->outq_tail - k->outq_head);
		k->outq_tail -= k->outq_head;
		sodium_memzero(k->outq + k->outq_tail, k->outq_head);
		k->outq_head = 0;
	}
	if (k->outq_tail + need > k->outq_cap) {
		size_t cap = k->outq_cap ? k->outq_cap : 16384;
		uint8_t *q;

		while (cap < k->outq_tail + need)
			cap *= 2;
		q = malloc(cap);
		if (!q)
			return false;
		if (k->outq) {
			memcpy(q, k->outq, k->outq_tail);
			sodium_memzero(k->outq, k->outq_cap);
			free(k->outq);
		}
		k->outq = q;
		k->outq_cap = cap;
	}
	memcpy(k->outq + k->outq_tail, &(uint32_t){ (uint32_t)len },
	       sizeof(uint32_t));
	memcpy(k->outq + k->outq_tail + sizeof(uint32_t), rec, len);
	k->outq_tail += need;
	return true;
}

static bool outq_empty(const struct conn *k)
{
	return k->outq_head == k->outq_tail;
}

/*
 * Sends queued records until the socket is full. Returns 0, or -EPIPE
 * when the connection failed and was closed.
 */
static int outq_flush(struct dp_ctl *c, int i)
{
	struct conn *k = &c->conns[i];

	while (!outq_empty(k)) {
		uint32_t len;
		ssize_t n;

		memcpy(&len, k->outq + k->outq_head, sizeof(len));
		n = send(k->fd, k->outq + k->outq_head + sizeof(len), len,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == ENOBUFS ||
			      errno == EINTR))
			return 0;
		if (n != (ssize_t)len) {
			close_conn(c, i, n < 0 ? strerror(errno) :
						 "a reply went out cut short");
			return -EPIPE;
		}
		sodium_memzero(k->outq + k->outq_head, sizeof(len) + len);
		k->outq_head += sizeof(len) + len;
		k->stalled_ns = clock_ns(); /* moving again */
	}
	k->outq_head = k->outq_tail = 0;
	k->stalled_ns = 0;
	return 0;
}

/*
 * A reply to a request, or a request of ours (LEASE_REQUEST): sent now if
 * the socket has room, queued behind earlier replies otherwise. Never
 * waits (see struct conn). Returns 0, or -EPIPE when the connection
 * failed or its reader fell OUTQ_MAX behind, and was closed.
 */
static int send_reply(struct dp_ctl *c, int i, const void *rec, size_t len)
{
	struct conn *k = &c->conns[i];
	ssize_t n;

	if (k->fd < 0)
		return -EPIPE;
	if (outq_empty(k)) {
		n = send(k->fd, rec, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0 || (errno != EAGAIN && errno != ENOBUFS &&
			       errno != EINTR)) {
			close_conn(c, i, n < 0 ? strerror(errno) :
						 "a reply went out cut short");
			return -EPIPE;
		}
		k->stalled_ns = clock_ns();
	}
	if (!outq_push(k, rec, len)) {
		close_conn(c, i, "it does not take its replies");
		return -EPIPE;
	}
	return 0;
}

static void reject(struct dp_ctl *c, int i, uint16_t type, uint32_t seq,
		   int err, const struct vl_status *st)
{
	struct ctlmsg_error *e = &c->tx->error;
	uint64_t now = clock_ns();

	c->stats.rejects++;
	if (now - c->reject_window_ns >= 1000 * NSEC_PER_MSEC) {
		c->reject_window_ns = now;
		c->reject_logs = 0;
	}
	if (c->reject_logs++ < REJECT_LOGS_PER_SEC)
		say(c, DP_CTL_LOG_WARN, "Refused control message: %s", st->msg);
	memset(e, 0, sizeof(*e));
	hdr_init(&e->hdr, CTLMSG_ERROR, sizeof(*e), seq);
	e->type = type;
	e->err = err;
	snprintf(e->msg, sizeof(e->msg), "%s", st->msg);
	send_reply(c, i, e, sizeof(*e));
}

static void wake(int fd)
{
	static const uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the reader awake. */
	}
}

/* ---- Tables and reclamation ------------------------------------------ */

static int find_tunnel(const struct dp_ctl *c, uint32_t local_index)
{
	for (unsigned int k = 0; k < c->n_tunnels; k++)
		if (c->tunnels[k].msg.local_index == local_index)
			return (int)k;
	return -1;
}

static void free_retired(struct retired *r)
{
	switch (r->kind) {
	case RETIRED_TABLE:
		dp_sa_table_free(r->p);
		break;
	case RETIRED_SA:
		dp_sa_free(r->p);
		break;
	case RETIRED_ADDR:
		free(r->p);
		break;
	case RETIRED_NH:
		dp_nh_table_free(r->p);
		break;
	case RETIRED_FW_PEER:
		dp_fw_peer_free(r->p);
		break;
	case RETIRED_FW:
		dp_fw_free(r->p);
		break;
	}
}

/*
 * Frees what was retired once every worker passed a quiescent point since;
 * keeps it for the next try when they do not within @timeout_ms.
 */
static void reclaim(struct dp_ctl *c, unsigned int timeout_ms, bool quiet)
{
	if (!c->n_retired)
		return;
	if (!dp_qsbr_synchronize(&c->shared.qsbr, timeout_ms)) {
		if (!quiet)
			say(c, DP_CTL_LOG_WARN,
			    "Workers did not quiesce within %u ms; %u old objects kept for a later try",
			    timeout_ms, c->n_retired);
		return;
	}
	for (unsigned int k = 0; k < c->n_retired; k++)
		free_retired(&c->retired[k]);
	c->n_retired = 0;
}

/* @p is unreachable for new readers; free it after a grace period. */
static void retire(struct dp_ctl *c, enum retired_kind kind, void *p)
{
	struct retired r = { kind, p };

	if (!p)
		return;
	if (c->n_retired == c->cap_retired) {
		unsigned int cap = c->cap_retired ? 2 * c->cap_retired : 16;
		struct retired *n = realloc(c->retired, cap * sizeof(*n));

		if (!n) {
			/*
			 * No room to remember it: wait for the grace period
			 * now, and leak it rather than free it early.
			 */
			if (dp_qsbr_synchronize(&c->shared.qsbr,
						DP_CTL_SYNC_MS))
				free_retired(&r);
			else
				say(c, DP_CTL_LOG_WARN,
				    "Out of memory and workers busy: one old object leaked");
			return;
		}
		c->retired = n;
		c->cap_retired = cap;
	}
	c->retired[c->n_retired++] = r;
}

/*
 * Publishes a table of tunnels[0..n) without tunnels[skip] (skip >= n: all
 * of them) and retires the old one. The caller retires what else it
 * unpublished, then reclaims. -ENOMEM leaves the old table in force.
 */
static int publish(struct dp_ctl *c, unsigned int n, unsigned int skip,
		   struct vl_status *st)
{
	struct dp_sa_table *t, *old;
	struct dp_sa **sas;
	unsigned int m = 0;

	sas = malloc((n ? n : 1) * sizeof(*sas));
	if (!sas)
		return vl_status_set(st, -ENOMEM, "out of memory for a table");
	for (unsigned int k = 0; k < n; k++)
		if (k != skip)
			sas[m++] = c->tunnels[k].sa;
	t = dp_sa_table_build(sas, m);
	free(sas);
	if (!t)
		return vl_status_set(st, -ENOMEM, "out of memory for a table");
	/* Seq-cst: ordered before the epoch bump of the next synchronize. */
	old = atomic_exchange_explicit(&c->shared.sa_table, t,
				       memory_order_seq_cst);
	retire(c, RETIRED_TABLE, old);
	/* Sleeping workers look at the new table now: pending packets. */
	for (unsigned int w = 0; w < c->n_workers; w++)
		wake(c->loops[w]->wake_fd);
	return 0;
}

/* ---- Workers ---------------------------------------------------------- */

static void *worker_main(void *arg)
{
	dp_worker_run(arg);
	return NULL;
}

static void loop_free(struct dp_worker_loop *l)
{
	if (!l)
		return;
	if (l->punt_fd >= 0)
		close(l->punt_fd);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	if (l->punts)
		dp_ring_free(l->punts);
	if (l->injects)
		dp_ring_free(l->injects);
	dp_worker_free(&l->w);
	free(l);
}

static int loop_new(struct dp_ctl *c, unsigned int q,
		    struct dp_worker_loop **out, struct vl_status *st)
{
	size_t size = (sizeof(struct dp_worker_loop) + 63) / 64 * 64;
	struct dp_worker_loop *l;
	int err;

	l = aligned_alloc(64, size);
	if (!l)
		return vl_status_set(st, -ENOMEM, "worker %u: out of memory",
				     q);
	memset(l, 0, sizeof(*l));
	l->punt_fd = -1;
	l->wake_fd = -1;
	err = dp_worker_init(&l->w, q, &c->shared);
	if (err) {
		free(l);
		return vl_status_set(st, err, "worker %u: out of memory", q);
	}
	l->queue = q;
	l->mode = c->shared.setup.mode;
	l->port = c->ports[q];
	l->tun = c->have_tun ? &c->tun : NULL;
	atomic_init(&l->stop, false);
	for (unsigned int i = 0; i < DP_BURST_MAX; i++)
		l->tun_bufs[i] = l->w.tx_bufs[i] + DP_HEADROOM;

	err = dp_ring_init(&c->punts[q], DP_CTL_PUNT_SLOTS,
			   sizeof(struct ctlmsg_punt));
	if (err)
		goto free_loop;
	l->punts = &c->punts[q];
	if (q == 0) {
		err = dp_ring_init(&c->injects, DP_CTL_INJECT_SLOTS,
				   sizeof(struct dp_inject));
		if (err)
			goto free_loop;
		l->injects = &c->injects;
	}
	l->punt_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->punt_fd < 0 || l->wake_fd < 0) {
		err = -errno;
		goto free_loop;
	}
	*out = l;
	return 0;

free_loop:
	loop_free(l);
	return vl_status_set(st, err, "worker %u: %s", q, strerror(-err));
}

static void stop_workers(struct dp_worker_loop **loops, unsigned int n)
{
	for (unsigned int q = 0; q < n; q++) {
		atomic_store_explicit(&loops[q]->stop, true,
				      memory_order_relaxed);
		wake(loops[q]->wake_fd);
	}
	for (unsigned int q = 0; q < n; q++)
		pthread_join(loops[q]->thread, NULL);
}

/* Workers get no signals: SIGTERM and SIGINT belong to the main thread. */
static int start_workers(struct dp_ctl *c, unsigned int n, struct vl_status *st)
{
	sigset_t all, old;
	unsigned int q;
	int err = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (q = 0; q < n; q++) {
		char name[32];

		err = -pthread_create(&c->loops[q]->thread, NULL, worker_main,
				      c->loops[q]);
		if (err)
			break;
		snprintf(name, sizeof(name), "vela-w%u", q);
		pthread_setname_np(c->loops[q]->thread, name);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		stop_workers(c->loops, q);
		return vl_status_set(st, err, "worker %u: %s", q,
				     strerror(-err));
	}
	return 0;
}

/* ---- Messages --------------------------------------------------------- */

static int on_hello(struct dp_ctl *c, int i, const struct ctlmsg_hello *m)
{
	struct ctlmsg_hello *r = &c->tx->hello;
	struct conn *k = &c->conns[i];

	if (m->role == CTLMSG_ROLE_CONTROL && c->control != i) {
		if (c->control >= 0) {
			say(c, DP_CTL_LOG_INFO,
			    "Control connection replaced by pid %u", m->pid);
			close_conn(c, c->control, "replaced");
		}
		c->control = i;
		say(c, DP_CTL_LOG_INFO,
		    "Control plane connected: pid %u, %u tunnels held", m->pid,
		    c->n_tunnels);
		/* Lease requests sent to an old connection may be lost. */
		for (unsigned int t = 0; t < c->n_tunnels; t++)
			atomic_store_explicit(&c->tunnels[t].sa->lease_asked,
					      false, memory_order_relaxed);
	} else if (m->role == CTLMSG_ROLE_DPCTL && c->control == i) {
		c->control = -1;
	}
	k->role = m->role;
	k->pid = m->pid;

	memset(r, 0, sizeof(*r));
	hdr_init(&r->hdr, CTLMSG_HELLO, sizeof(*r), m->hdr.seq);
	r->role = m->role;
	r->pid = (uint32_t)getpid();
	r->set_up = c->set_up;
	r->n_tunnels = c->n_tunnels;
	send_reply(c, i, r, sizeof(*r));
	return 0;
}

/* ---- Ports ------------------------------------------------------------ */

/* @kind ("rx" or "tx") queues of @ifname as sysfs lists them; 0: unknown. */
static unsigned int nic_queues(const char *ifname, const char *kind)
{
	char path[64];
	struct dirent *d;
	unsigned int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, kind, 2) && d->d_name[2] == '-')
			n++;
	closedir(dir);
	return n;
}

/*
 * Closes ports[0..n) (no worker may run): each queue's XSKMAP entry is
 * cleared before its socket goes, the program is detached last.
 */
static void close_ports(struct dp_ctl *c, unsigned int n)
{
	struct dp_nh_table *t;

	while (n--) {
		if (c->xdp)
			dp_xdp_clear_xsk(c->xdp, n);
		dp_port_close(c->ports[n]);
		c->ports[n] = NULL;
	}
	dp_xdp_detach(c->xdp);
	c->xdp = NULL;
	dp_nh_close(c->nh);
	c->nh = NULL;
	t = atomic_exchange(&c->shared.nh_table, NULL);
	if (t)
		dp_nh_table_free(t);
}

/*
 * One port per queue of @backend (udp or xsk). xsk: the interface must
 * exist and have a queue per worker; the ports are opened (their sockets
 * not yet in the XSKMAP, so the kernel socket gets everything), then the
 * program is attached for the port they bound and each socket put in the
 * map. On failure nothing stays open and @st says what to do.
 */
static int open_ports(struct dp_ctl *c, const struct ctlmsg_setup *s,
		      enum ctlmsg_backend backend, struct vl_status *st)
{
	char addr[INET6_ADDRSTRLEN + 8];
	unsigned int n = s->workers, q = 0, n_rx, n_tx;
	bool xsk = backend == CTLMSG_BACKEND_XSK;
	int ifindex = 0, err;

	if (xsk) {
		if (!*s->interface)
			return vl_status_set(
				st, -EINVAL,
				"backend xsk needs a NIC: set dataplane.interface");
		ifindex = (int)if_nametoindex(s->interface);
		if (!ifindex)
			return vl_status_set(
				st, -ENODEV,
				"interface %s missing: check dataplane.interface (ip link)",
				s->interface);
		n_rx = nic_queues(s->interface, "rx");
		n_tx = nic_queues(s->interface, "tx");
		/* A socket sends on the TX queue of its own index. */
		if (n_tx && n > n_tx)
			return vl_status_set(
				st, -EINVAL,
				"interface %s has %u TX queues, dataplane.workers is %u: each worker's AF_XDP socket sends on its own queue; lower workers to %u or give it more queues (ethtool -L %s combined %u; veth: numtxqueues)",
				s->interface, n_tx, n, n_tx, s->interface, n);
		if (n_rx && n > n_rx)
			return vl_status_set(
				st, -EINVAL,
				"interface %s has %u RX queues, dataplane.workers is %u: lower workers to %u or give it more queues (ethtool -L %s combined %u; veth: numrxqueues/numtxqueues)",
				s->interface, n_rx, n, n_rx, s->interface, n);
		if (n < n_rx)
			say(c, DP_CTL_LOG_WARN,
			    "Interface %s has %u RX queues, dataplane.workers is %u: frames arriving on queues %u..%u reach the kernel socket (slower); set workers to %u or lower the queues",
			    s->interface, n_rx, n, n, n_rx - 1, n_rx);
	}
	for (; q < n; q++) {
		struct dp_port_cfg cfg = { .listen = s->listen,
					   .queue = q,
					   .n_queues = n,
					   .rcvbuf = (int)s->read_buffer,
					   .sndbuf = (int)s->write_buffer,
					   .ifname = s->interface,
					   .nh_table = &c->shared.nh_table };

		if (q)
			cfg.listen.sin6_port =
				htons(dp_port_local_port(c->ports[0]));
		err = xsk ? dp_port_xsk_open(&cfg, &c->ports[q], st) :
			    dp_port_udp_open(&cfg, &c->ports[q], st);
		if (err) {
			vl_status_prefix(st, "listen %s, queue %u: ",
					 fmt_addr(&s->listen, addr,
						  sizeof(addr)),
					 q);
			goto close;
		}
	}
	if (!xsk)
		return 0;

	err = dp_xdp_attach(s->interface, dp_port_local_port(c->ports[0]),
			    &s->listen.sin6_addr, DP_XDP_AUTO, &c->xdp, st);
	if (err)
		goto close;
	for (q = 0; q < n; q++) {
		err = dp_xdp_set_xsk(c->xdp, q, dp_port_xsk_fd(c->ports[q]));
		if (err) {
			vl_status_set(st, err, "XSKMAP entry of queue %u: %s",
				      q, strerror(-err));
			q = n;
			goto close;
		}
	}
	{
		struct vl_status nst;

		/* Without next hops every datagram leaves by the kernel socket. */
		if (dp_nh_open(ifindex, &s->listen.sin6_addr, &c->nh, &nst)) {
			c->nh = NULL;
			say(c, DP_CTL_LOG_WARN,
			    "Next hops on %s unavailable (%s): xsk sends through the kernel socket",
			    s->interface, nst.msg);
		}
	}
	return 0;

close:
	close_ports(c, q);
	return err;
}

static const struct dp_flow_timeouts default_timeouts = {
	.tcp_ns = 12 * 60 * 1000000000ull,
	.udp_ns = 3 * 60 * 1000000000ull,
	.default_ns = 10 * 60 * 1000000000ull,
};

int dp_ctl_parse_tun_fds(const char *s, int *fds, unsigned int max,
			 unsigned int *n, struct vl_status *st)
{
	const char *p = s;

	*n = 0;
	for (;;) {
		char *end = (char *)p;
		long v;

		errno = 0;
		v = (*p >= '0' && *p <= '9') ? strtol(p, &end, 10) : -1;
		if (v < 0 || errno || v > INT_MAX || (*end && *end != ','))
			return vl_status_set(
				st, -EINVAL,
				"VELA_TUN_FD=\"%.64s\": not a list of fd numbers (like 3 or 3,4: one TUN queue fd per worker)",
				s);
		if (*n == max)
			return vl_status_set(
				st, -EINVAL,
				"VELA_TUN_FD=\"%.64s\": more than %u fds", s,
				max);
		for (unsigned int k = 0; k < *n; k++)
			if (fds[k] == (int)v)
				return vl_status_set(
					st, -EINVAL,
					"VELA_TUN_FD=\"%.64s\": fd %ld given twice: one fd per queue",
					s, v);
		fds[(*n)++] = (int)v;
		if (!*end)
			return 0;
		p = end + 1;
	}
}

/*
 * VELA_TUN_FD: the device comes as open queues, one per worker, and is
 * whatever they belong to (tun.dev is not looked at); address, MTU and
 * routes are then set as for a device we create. Once taken, the fds are
 * the device's: closed with it, also when this SETUP fails later.
 */
static int take_tun_fds(struct dp_ctl *c, const struct ctlmsg_setup *s,
			struct vl_status *st)
{
	int err;

	if (c->tun_fds_errno)
		return vl_status_set(st, c->tun_fds_errno, "%s",
				     c->tun_fds_err);
	if (c->tun_fds_used)
		return vl_status_set(
			st, -EBADF,
			"VELA_TUN_FD: its fds were taken by an earlier SETUP that failed, and closed with it: restart vela-dataplane with fresh ones");
	if (c->n_tun_fds != s->workers)
		return vl_status_set(
			st, -EINVAL,
			"VELA_TUN_FD has %u fds, SETUP asks for %u workers: hand over one TUN queue fd per worker (dataplane.workers)",
			c->n_tun_fds, s->workers);
	for (unsigned int q = 0; q < c->n_tun_fds; q++)
		if (fcntl(c->tun_fds[q], F_GETFD) < 0)
			return vl_status_set(
				st, -EBADF,
				"VELA_TUN_FD: fd %d is not open in vela-dataplane: the parent must pass it without close-on-exec",
				c->tun_fds[q]);
	err = tun_open_from_fds(&c->tun, c->tun_fds, c->n_tun_fds, st);
	if (err) {
		vl_status_prefix(st, "VELA_TUN_FD: ");
		return err;
	}
	c->tun_fds_used = true;
	c->tun_handed_over = true;
	say(c, DP_CTL_LOG_INFO,
	    "tun %s: handed over (VELA_TUN_FD), %u queues%s%s%s", c->tun.name,
	    c->tun.n_queues, *s->tun_dev ? "; tun.dev " : "", s->tun_dev,
	    *s->tun_dev ? " not used" : "");
	if (c->tun.dev_queues > c->tun.n_queues)
		say(c, DP_CTL_LOG_WARN,
		    "tun %s: the device has %u queues attached and %u were handed over: the kernel sends part of the traffic to queues vela does not read; close them in the process that handed the fds over",
		    c->tun.name, c->tun.dev_queues, c->tun.n_queues);
	return 0;
}

/* After bring-up: follow the device's link (see on_link). */
static void watch_link(struct dp_ctl *c, const struct ctlmsg_setup *s)
{
	struct vl_status st = { "" };

	c->link = (struct tun_link_state){ .ifindex = c->tun.ifindex,
					   .exists = true,
					   .up = true,
					   .running = true,
					   .flags = IFF_UP | IFF_RUNNING,
					   .mtu = s->mtu };
	snprintf(c->link.name, sizeof(c->link.name), "%s", c->tun.name);
	if (tun_link_watch_open(c->tun.ifindex, &c->link_watch, &st) ||
	    tun_link_watch_read(c->link_watch, &c->link, &st) < 0) {
		tun_link_watch_close(c->link_watch);
		c->link_watch = NULL;
		say(c, DP_CTL_LOG_WARN,
		    "tun %s: no link events (%s): MTU changes and deletion go unnoticed",
		    c->tun.name, st.msg);
	}
}

/*
 * The device's link changed. Up/down, carrier and MTU are logged and
 * kept for STATS; the kernel applies them and we change nothing. A
 * device that is gone -- deleted, or moved to another namespace (the
 * kernel says RTM_DELLINK here either way) -- leaves the workers' queues
 * dead for good: -ENODEV ends the dataplane, and the supervisor starts
 * a new one, which vela-control sets up again (wireguard-go exits too).
 * Not inlined: its status buffer would sit in dp_ctl_step's frame.
 */
__attribute__((noinline)) static int on_link(struct dp_ctl *c)
{
	struct vl_status st = { "" };
	struct tun_link_state l;
	int ret = tun_link_watch_read(c->link_watch, &l, &st);

	if (ret < 0) {
		say(c, DP_CTL_LOG_WARN,
		    "tun %s: link events failed (%s): MTU changes and deletion go unnoticed from now",
		    c->tun.name, st.msg);
		tun_link_watch_close(c->link_watch);
		c->link_watch = NULL;
		return 0;
	}
	if (!ret)
		return 0;
	if (!l.exists) {
		c->link.exists = false;
		c->link.up = false;
		c->link.running = false;
		c->tun_gone = true;
		say(c, DP_CTL_LOG_ERROR,
		    "tun %s: the device was deleted or left the network namespace; vela-dataplane stops so that its supervisor starts it again",
		    c->link.name);
		return -ENODEV;
	}
	if (l.up != c->link.up || l.running != c->link.running)
		say(c, DP_CTL_LOG_INFO, "tun %s: link %s, %s", l.name,
		    l.up ? "up" : "down",
		    l.running ? "running" : "not running (no carrier)");
	if (l.mtu != c->link.mtu)
		say(c, DP_CTL_LOG_INFO, "tun %s: mtu %u (was %u)", l.name,
		    l.mtu, c->link.mtu);
	c->link = l;
	return 0;
}

/*
 * Brings up TUN, ports and workers for @s. On failure everything opened
 * is closed again and the reason is in @st; the dataplane stays un-set-up.
 */
static int bring_up(struct dp_ctl *c, const struct ctlmsg_setup *s,
		    struct ctlmsg_setup_done *done, struct vl_status *st)
{
	enum ctlmsg_backend backend = (enum ctlmsg_backend)s->backend;
	unsigned int n = s->workers, n_loops = 0;
	int err;

	switch (backend) {
	case CTLMSG_BACKEND_AUTO:
	case CTLMSG_BACKEND_UDP:
	case CTLMSG_BACKEND_XSK:
		break;
	case CTLMSG_BACKEND_DPDK:
		return vl_status_set(
			st, -EOPNOTSUPP,
			"backend dpdk is not built yet: use xsk, udp or auto");
	}
	/* Workers read this; none runs yet. */
	c->shared.setup = *s;
	if (c->cfg.hooks)
		c->shared.hooks = *c->cfg.hooks;
	/* 1.6.1's conntrack timeouts until the first FIREWALL says otherwise. */
	c->shared.flows = dp_flow_table_new(s->flows_max, &default_timeouts);
	if (!c->shared.flows)
		return vl_status_set(
			st, -ENOMEM,
			"flow table of %u entries (dataplane.flows): out of memory",
			s->flows_max);

	if (!s->tun_disabled) {
		/* Offloads when the kernel has them (DESIGN.md §4). */
		const struct tun_opts to = { .offload = s->tun_offload != 0 };

		if (c->tun_fds_given)
			err = take_tun_fds(c, s, st);
		else
			err = tun_open_opts(&c->tun, s->tun_dev, n, &to, st);
		if (err)
			goto close_tun; /* frees the flow table */
		c->have_tun = true;
		say(c, DP_CTL_LOG_INFO, "tun %s: offloads %s", c->tun.name,
		    c->tun.offload_msg);
		err = tun_configure(&c->tun, s->vpn.ip, s->vpn.mask,
				    (int)s->mtu, (int)s->tx_queue, st);
		for (uint32_t r = 0; !err && r < s->n_routes; r++)
			err = tun_route_add(&c->tun, s->routes[r].dst.ip,
					    s->routes[r].dst.mask,
					    (int)s->routes[r].mtu,
					    (int)s->routes[r].metric, st);
		if (err)
			goto close_tun;
	}

	if (backend == CTLMSG_BACKEND_AUTO) {
		struct vl_status ast;

		/* xsk when the interface exists and attaching works. */
		if (!*s->interface)
			snprintf(done->msg, sizeof(done->msg),
				 "backend auto chose udp: no dataplane.interface");
		else if (open_ports(c, s, CTLMSG_BACKEND_XSK, &ast))
			snprintf(done->msg, sizeof(done->msg),
				 "backend auto chose udp: %.200s", ast.msg);
		else
			backend = CTLMSG_BACKEND_XSK;
		if (backend == CTLMSG_BACKEND_AUTO)
			backend = CTLMSG_BACKEND_UDP;
		else
			goto ports_open;
	}
	err = open_ports(c, s, backend, st);
	if (err)
		goto close_tun;
ports_open:
	done->backend = backend;

	/* Before any worker runs: all slots offline, epoch fresh. */
	dp_qsbr_init(&c->shared.qsbr, n);
	for (; n_loops < n; n_loops++) {
		err = loop_new(c, n_loops, &c->loops[n_loops], st);
		if (err)
			goto free_loops;
	}
	err = start_workers(c, n, st);
	if (err)
		goto free_loops;
	c->n_workers = n;

	done->port = dp_port_local_port(c->ports[0]);
	done->workers = n;
	if (c->have_tun) {
		snprintf(done->tun_dev, sizeof(done->tun_dev), "%s",
			 c->tun.name);
		watch_link(c, s);
	} else if (c->tun_fds_given) {
		say(c, DP_CTL_LOG_WARN,
		    "VELA_TUN_FD is set but tun.disabled: its fds are not used");
	}
	return 0;

free_loops:
	while (n_loops)
		loop_free(c->loops[--n_loops]);
	memset(c->loops, 0, sizeof(c->loops));
	dp_qsbr_init(&c->shared.qsbr, 0);
	close_ports(c, n);
close_tun:
	if (c->have_tun)
		tun_close(&c->tun);
	c->have_tun = false;
	dp_flow_table_free(c->shared.flows);
	c->shared.flows = NULL;
	return err;
}

static int on_setup(struct dp_ctl *c, int i, const struct ctlmsg_setup *m,
		    struct vl_status *st)
{
	struct ctlmsg_setup_done *done = &c->tx->done;
	const size_t off = offsetof(struct ctlmsg_setup, listen);
	static const char *const modes[] = { "adaptive", "busy", "event" };
	int err;

	if (c->set_up) {
		/* A restarted control plane resends its SETUP blindly. */
		if (memcmp((const uint8_t *)m + off,
			   (const uint8_t *)&c->shared.setup + off,
			   sizeof(*m) - off))
			return vl_status_set(
				st, -EBUSY,
				"SETUP differs from the one in force; restart vela-dataplane to change it");
		*done = c->done;
		done->hdr.seq = m->hdr.seq;
		send_reply(c, i, done, sizeof(*done));
		return 0;
	}

	memset(done, 0, sizeof(*done));
	hdr_init(&done->hdr, CTLMSG_SETUP_DONE, sizeof(*done), m->hdr.seq);
	err = bring_up(c, m, done, st);
	if (err) {
		done->err = err;
		snprintf(done->msg, sizeof(done->msg), "%s", st->msg);
		say(c, DP_CTL_LOG_ERROR, "Setup failed: %s", st->msg);
	} else {
		c->set_up = true;
		c->done = *done;
		say(c, DP_CTL_LOG_INFO,
		    "Setup done: tun %s, udp port %u, backend %s, %u workers, mode %s%s%s",
		    c->have_tun ? c->tun.name : "(disabled)", done->port,
		    dp_port_backend(c->ports[0]), done->workers,
		    modes[m->mode], *done->msg ? "; " : "", done->msg);
		for (unsigned int q = 0; q < c->n_workers; q++)
			if (*dp_port_info(c->ports[q]))
				say(c, DP_CTL_LOG_INFO, "Port %s",
				    dp_port_info(c->ports[q]));
		if (c->xdp)
			say(c, DP_CTL_LOG_INFO,
			    "XDP program %u on %s in %s mode%s",
			    dp_xdp_prog_id(c->xdp), m->interface,
			    dp_xdp_mode_name(dp_xdp_attached_mode(c->xdp)),
			    c->nh ? "" : "; no next hops: sending through the kernel socket");
	}
	send_reply(c, i, done, sizeof(*done));
	return 0;
}

static int on_tunnel_add(struct dp_ctl *c, const struct ctlmsg_tunnel_add *m,
			 struct vl_status *st)
{
	char ip[INET_ADDRSTRLEN], addr[INET6_ADDRSTRLEN + 8];
	struct dp_sa *sa;
	int err;

	if (find_tunnel(c, m->local_index) >= 0)
		return vl_status_set(
			st, -EEXIST,
			"TUNNEL_ADD %08x: the index is in use; TUNNEL_DEL it first",
			m->local_index);
	if (c->n_tunnels == c->cap_tunnels) {
		unsigned int cap = c->cap_tunnels ? 2 * c->cap_tunnels : 16;
		struct tunnel *n = calloc(cap, sizeof(*n));

		if (!n)
			return vl_status_set(st, -ENOMEM,
					     "TUNNEL_ADD: out of memory");
		/* Not realloc: the old copy holds keys and is wiped. */
		if (c->tunnels) {
			memcpy(n, c->tunnels, c->n_tunnels * sizeof(*n));
			sodium_memzero(c->tunnels, c->cap_tunnels * sizeof(*n));
			free(c->tunnels);
		}
		c->tunnels = n;
		c->cap_tunnels = cap;
	}
	err = dp_sa_new(m, &sa, st);
	if (err)
		return err;
	if (c->fw) {
		struct dp_fw_peer *fw;

		err = dp_fw_peer_new(c->fw, &m->fw_peer, &fw, st);
		if (err) {
			dp_sa_free(sa);
			vl_status_prefix(st, "TUNNEL_ADD %08x: fw_peer: ",
					 m->local_index);
			return err;
		}
		atomic_store_explicit(&sa->fw, fw, memory_order_relaxed);
	}
	c->tunnels[c->n_tunnels].sa = sa;
	c->tunnels[c->n_tunnels].msg = *m;
	err = publish(c, c->n_tunnels + 1, UINT_MAX, st);
	if (err) {
		dp_sa_free(sa); /* never published */
		return err;
	}
	c->n_tunnels++;
	reclaim(c, DP_CTL_SYNC_MS, false);
	say(c, DP_CTL_LOG_INFO, "Tunnel %08x added: vpn %s, remote %s",
	    m->local_index, vl_ip4_format(m->vpn_ip, ip, sizeof(ip)),
	    fmt_addr(&m->remote, addr, sizeof(addr)));
	return 0;
}

/*
 * The closeTunnel goes out on worker 0 before the SA leaves the table:
 * wait (bounded) until the worker released the ring slot, i.e. sent it.
 */
static void send_close(struct dp_ctl *c, uint32_t local_index)
{
	const struct timespec nap = { .tv_nsec = 50000 };
	struct dp_inject *m;
	uint32_t pos, waited_us = 0;

	if (!dp_ring_reserve(&c->injects, 1, &pos)) {
		c->stats.injects_full++;
		say(c, DP_CTL_LOG_WARN,
		    "Tunnel %08x: closeTunnel not sent, inject queue full",
		    local_index);
		return;
	}
	m = dp_ring_rec(&c->injects, pos);
	memset(m, 0, offsetof(struct dp_inject, buf));
	m->kind = CTLMSG_INJECT_SA;
	m->local_index = local_index;
	m->type = WIRE_CLOSE_TUNNEL;
	dp_ring_submit(&c->injects, 1);
	c->stats.injects_queued++;
	wake(c->loops[0]->wake_fd);
	while ((int32_t)(dp_ring_released(&c->injects) - (pos + 1)) < 0) {
		if (waited_us >= CLOSE_WAIT_US) {
			say(c, DP_CTL_LOG_WARN,
			    "Tunnel %08x: worker 0 did not send the closeTunnel within %u ms",
			    local_index, CLOSE_WAIT_US / 1000);
			return;
		}
		nanosleep(&nap, NULL);
		waited_us += 50;
	}
}

static int on_tunnel_del(struct dp_ctl *c, const struct ctlmsg_tunnel_del *m,
			 struct vl_status *st)
{
	int k = find_tunnel(c, m->local_index);
	struct dp_sa *sa;
	int err;

	if (k < 0)
		return vl_status_set(st, -ENOENT, "TUNNEL_DEL: no tunnel %08x",
				     m->local_index);
	sa = c->tunnels[k].sa;
	if (m->send_close)
		send_close(c, m->local_index);
	err = publish(c, c->n_tunnels, (unsigned int)k, st);
	if (err)
		return err;
	retire(c, RETIRED_SA, sa);
	/* Dumps in progress skip it; the rest keeps its place. */
	for (int j = 0; j < DP_CTL_CONNS_MAX; j++) {
		struct conn *d = &c->conns[j];

		if (!d->dump.active)
			continue;
		if ((unsigned int)k < d->dump.end)
			d->dump.end--;
		if ((unsigned int)k < d->dump.pos)
			d->dump.pos--;
	}
	/* Keep install order: a later SA for a VPN IP keeps winning. */
	memmove(&c->tunnels[k], &c->tunnels[k + 1],
		(c->n_tunnels - (unsigned int)k - 1) * sizeof(c->tunnels[0]));
	c->n_tunnels--;
	sodium_memzero(&c->tunnels[c->n_tunnels], sizeof(c->tunnels[0]));
	reclaim(c, DP_CTL_SYNC_MS, false);
	say(c, DP_CTL_LOG_INFO, "Tunnel %08x removed%s", m->local_index,
	    m->send_close ? " after closeTunnel" : "");
	return 0;
}

static int on_tunnel_remote(struct dp_ctl *c,
			    const struct ctlmsg_tunnel_remote *m,
			    struct vl_status *st)
{
	int k = find_tunnel(c, m->local_index);
	struct sockaddr_in6 *a, *old;

	if (k < 0)
		return vl_status_set(st, -ENOENT,
				     "TUNNEL_REMOTE: no tunnel %08x",
				     m->local_index);
	a = malloc(sizeof(*a));
	if (!a)
		return vl_status_set(st, -ENOMEM,
				     "TUNNEL_REMOTE: out of memory");
	*a = m->remote;
	old = atomic_exchange_explicit(&c->tunnels[k].sa->remote, a,
				       memory_order_seq_cst);
	c->tunnels[k].msg.remote = m->remote;
	retire(c, RETIRED_ADDR, old);
	reclaim(c, DP_CTL_SYNC_MS, false);
	return 0;
}

/*
 * A new firewall identity for a tunnel (its CA name after a CA reload):
 * stored for DUMP and, once rules are loaded, turned into a new view of
 * them that replaces the SA's (one atomic exchange, the old view retired
 * as FIREWALL retires views). Keys, counters and flows are not touched.
 * An identity that does not check out changes nothing.
 */
static int on_tunnel_identity(struct dp_ctl *c,
			      const struct ctlmsg_tunnel_identity *m,
			      struct vl_status *st)
{
	int k = find_tunnel(c, m->local_index);
	struct dp_fw_peer *view;
	int err;

	if (k < 0)
		return vl_status_set(st, -ENOENT,
				     "TUNNEL_IDENTITY: no tunnel %08x",
				     m->local_index);
	if (c->fw) {
		err = dp_fw_peer_new(c->fw, &m->fw_peer, &view, st);
		if (err) {
			vl_status_prefix(st, "TUNNEL_IDENTITY %08x: fw_peer: ",
					 m->local_index);
			return err;
		}
		retire(c, RETIRED_FW_PEER,
		       atomic_exchange_explicit(&c->tunnels[k].sa->fw, view,
						memory_order_seq_cst));
	}
	c->tunnels[k].msg.fw_peer = m->fw_peer;
	reclaim(c, DP_CTL_SYNC_MS, false);
	say(c, DP_CTL_LOG_INFO, "Tunnel %08x: new firewall identity%s",
	    m->local_index, c->fw ? "" : " (kept for the first rules)");
	return 0;
}

static int on_lease_grant(struct dp_ctl *c, const struct ctlmsg_lease *m,
			  struct vl_status *st)
{
	int k = find_tunnel(c, m->local_index);
	struct dp_sa *sa;
	uint64_t cur;

	if (k < 0)
		return vl_status_set(st, -ENOENT, "LEASE_GRANT: no tunnel %08x",
				     m->local_index);
	sa = c->tunnels[k].sa;
	cur = atomic_load_explicit(&sa->lease_end, memory_order_relaxed);
	if (m->lease_end < cur)
		return vl_status_set(
			st, -EINVAL,
			"LEASE_GRANT %08x: lease_end %llu is below the current %llu",
			m->local_index, (unsigned long long)m->lease_end,
			(unsigned long long)cur);
	atomic_store_explicit(&sa->lease_end, m->lease_end,
			      memory_order_release);
	atomic_store_explicit(&sa->lease_asked, false, memory_order_relaxed);
	c->tunnels[k].msg.lease_end = m->lease_end;
	return 0;
}

static int on_inject(struct dp_ctl *c, const void *rec, struct vl_status *st)
{
	const struct ctlmsg_hdr *h = rec;
	struct dp_inject *m;
	uint32_t pos;

	if (h->type == CTLMSG_INJECT_SA &&
	    find_tunnel(
		    c, ((const struct ctlmsg_inject_sa *)rec)->local_index) < 0)
		return vl_status_set(
			st, -ENOENT, "INJECT_SA: no tunnel %08x",
			((const struct ctlmsg_inject_sa *)rec)->local_index);
	if (h->type == CTLMSG_INJECT_TUN && !c->have_tun)
		return vl_status_set(
			st, -ENODEV,
			"INJECT_TUN: there is no TUN device (tun.disabled)");
	if (!dp_ring_reserve(&c->injects, 1, &pos)) {
		c->stats.injects_full++;
		return vl_status_set(
			st, -ENOBUFS,
			"%s: the queue to worker 0 is full (%d messages); try again",
			dp_ctl_type_name(h->type), DP_CTL_INJECT_SLOTS);
	}
	m = dp_ring_rec(&c->injects, pos);
	memset(m, 0, offsetof(struct dp_inject, buf));
	m->kind = h->type;
	if (h->type == CTLMSG_INJECT_RAW) {
		const struct ctlmsg_inject_raw *r = rec;

		m->to = r->to;
		m->len = r->len;
		memcpy(m->buf + DP_HEADROOM, r->data, r->len);
	} else if (h->type == CTLMSG_INJECT_TUN ||
		   h->type == CTLMSG_INJECT_OUT) {
		const struct ctlmsg_inject_ip *r = rec;

		m->len = r->len;
		memcpy(m->buf + DP_HEADROOM, r->data, r->len);
	} else {
		const struct ctlmsg_inject_sa *s = rec;

		m->local_index = s->local_index;
		m->type = s->type;
		m->subtype = s->subtype;
		m->to = s->to;
		m->len = s->len;
		memcpy(m->buf + DP_HEADROOM, s->data, s->len);
	}
	dp_ring_submit(&c->injects, 1);
	c->stats.injects_queued++;
	wake(c->loops[0]->wake_fd);
	return 0;
}

/* The replay window's top, read under its lock. */
static uint64_t recv_max(struct dp_sa *sa)
{
	uint64_t max;

	pthread_spin_lock(&sa->replay_lock);
	max = sa->replay.max;
	pthread_spin_unlock(&sa->replay_lock);
	return max;
}

/*
 * The send counter as reported to the control plane. dp_sa_reserve never
 * moves it past lease_end; the clamp only states the invariant a restart
 * relies on: nothing above lease_end was ever sent.
 */
static uint64_t send_counter(struct dp_sa *sa)
{
	uint64_t sent =
		atomic_load_explicit(&sa->send_counter, memory_order_relaxed);
	uint64_t end =
		atomic_load_explicit(&sa->lease_end, memory_order_relaxed);

	return sent < end ? sent : end;
}

/* The DUMP_TUNNEL record of c->tunnels[t], into c->tx. */
static void dump_record(struct dp_ctl *c, unsigned int t, uint32_t seq,
			bool keys)
{
	struct ctlmsg_dump_tunnel *d = &c->tx->dump;
	struct dp_sa *sa = c->tunnels[t].sa;

	memset(d, 0, sizeof(*d));
	hdr_init(&d->hdr, CTLMSG_DUMP_TUNNEL, sizeof(*d), seq);
	d->tunnel = c->tunnels[t].msg;
	hdr_init(&d->tunnel.hdr, CTLMSG_TUNNEL_ADD, sizeof(d->tunnel), 0);
	d->tunnel.send_counter = send_counter(sa);
	d->tunnel.lease_end =
		atomic_load_explicit(&sa->lease_end, memory_order_relaxed);
	d->tunnel.recv_max = recv_max(sa);
	/* dpctl reads state, never session keys. */
	if (!keys) {
		memset(d->tunnel.send_key, 0, sizeof(d->tunnel.send_key));
		memset(d->tunnel.recv_key, 0, sizeof(d->tunnel.recv_key));
	}
	d->rx_packets = atomic_load(&sa->rx_packets);
	d->rx_bytes = atomic_load(&sa->rx_bytes);
	d->tx_packets = atomic_load(&sa->tx_packets);
	d->tx_bytes = atomic_load(&sa->tx_bytes);
	d->last_rx_ns = atomic_load(&sa->last_rx_ns);
	d->last_tx_ns = atomic_load(&sa->last_tx_ns);
}

/*
 * The next FLOWS_REPLY of connection @i: as many flows as a record holds,
 * from where the last one stopped. A table walk ends when a bucket range
 * yields less than a full record.
 */
static void flows_record(struct dp_ctl *c, int i)
{
	static struct dp_flow_record recs[CTLMSG_FLOWS_MAX];
	struct ctlmsg_flows_reply *r = &c->tx->flows;
	struct conn *k = &c->conns[i];
	struct dp_flow_stats fs;
	uint32_t n;
	size_t len;

	n = dp_flow_extract(c->shared.flows, recs, CTLMSG_FLOWS_MAX,
			    &k->flows.cursor, k->flows.reset, clock_ns());
	dp_flow_get_stats(c->shared.flows, &fs);
	memset(r, 0, offsetof(struct ctlmsg_flows_reply, flow));
	r->n = n;
	r->last = n < CTLMSG_FLOWS_MAX;
	r->capacity = dp_flow_capacity(c->shared.flows);
	r->created = fs.created;
	r->evicted = fs.evicted;
	r->expired = fs.expired;
	r->removed = fs.removed;
	for (uint32_t f = 0; f < n; f++) {
		const struct dp_flow_record *d = &recs[f];

		r->flow[f] = (struct ctlmsg_flow){
			.local_ip = d->key.local_ip,
			.remote_ip = d->key.remote_ip,
			.local_port = d->key.local_port,
			.remote_port = d->key.remote_port,
			.proto = d->key.proto,
			.fragment = d->key.fragment,
			.gen = d->gen,
			.in_packets = d->in_packets,
			.in_bytes = d->in_bytes,
			.out_packets = d->out_packets,
			.out_bytes = d->out_bytes,
			.age_ns = d->last_ns - d->first_ns + d->idle_ns,
			.idle_ns = d->idle_ns,
			.expires_ns = d->expires_ns,
		};
	}
	len = offsetof(struct ctlmsg_flows_reply, flow) + n * sizeof(r->flow[0]);
	hdr_init(&r->hdr, CTLMSG_FLOWS_REPLY, (uint32_t)len, k->flows.seq);
	if (r->last)
		k->flows.active = false;
	send_reply(c, i, r, len);
}

/*
 * FIREWALL: a new rule set for every tunnel at once. Everything new is
 * built first -- the rules, then each tunnel's view of them -- so a record
 * that does not load, or a tunnel whose identity does not check out,
 * leaves the rules in force untouched. Then each SA's view is swapped (a
 * worker sees the old rules or the new ones for a packet, never a mix),
 * the flow table takes the new timeouts, and the old views and rules are
 * retired. Flows admitted under the old rules are re-checked as they next
 * show up (filter.c).
 */
static int on_firewall(struct dp_ctl *c, const void *rec, uint32_t len,
		       struct vl_status *st)
{
	struct dp_fw_peer **views = NULL;
	struct ctlmsg_firewall *copy;
	uint32_t gen = c->fw_gen + 1 ? c->fw_gen + 1 : 1;
	struct dp_fw *fw;
	unsigned int k;
	int err;

	/* The generation is ours: stamped into a copy before it is read. */
	copy = malloc(len);
	if (!copy)
		return vl_status_set(st, -ENOMEM, "FIREWALL: out of memory");
	memcpy(copy, rec, len);
	copy->gen = gen;
	err = dp_fw_load(copy, len, &fw, st);
	free(copy);
	if (err) {
		vl_status_prefix(st, "FIREWALL: ");
		return err;
	}
	if (c->n_tunnels) {
		views = calloc(c->n_tunnels, sizeof(*views));
		if (!views) {
			dp_fw_free(fw);
			return vl_status_set(st, -ENOMEM,
					     "FIREWALL: out of memory");
		}
	}
	for (k = 0; k < c->n_tunnels; k++) {
		err = dp_fw_peer_new(fw, &c->tunnels[k].msg.fw_peer, &views[k],
				     st);
		if (err) {
			vl_status_prefix(st, "FIREWALL: tunnel %08x: fw_peer: ",
					 c->tunnels[k].msg.local_index);
			while (k)
				dp_fw_peer_free(views[--k]);
			free(views);
			dp_fw_free(fw);
			return err;
		}
	}
	for (k = 0; k < c->n_tunnels; k++)
		retire(c, RETIRED_FW_PEER,
		       atomic_exchange_explicit(&c->tunnels[k].sa->fw,
						views[k],
						memory_order_seq_cst));
	free(views);
	dp_flow_set_timeouts(c->shared.flows, dp_fw_timeouts(fw));
	retire(c, RETIRED_FW, c->fw);
	c->fw = fw;
	c->fw_gen = gen;
	reclaim(c, DP_CTL_SYNC_MS, false);
	say(c, DP_CTL_LOG_INFO,
	    "Firewall rules loaded (generation %u): %u inbound, %u outbound, for %u tunnels",
	    gen, dp_fw_n_rules(fw, DP_FLOW_IN), dp_fw_n_rules(fw, DP_FLOW_OUT),
	    c->n_tunnels);
	return 0;
}

/*
 * Moves connection @i's output on: queued records first, then, while the
 * queue stays empty, the records of a DUMP in progress. Called when the
 * socket is writable and after each request.
 */
static void conn_output(struct dp_ctl *c, int i)
{
	struct conn *k = &c->conns[i];

	if (outq_flush(c, i))
		return;
	while (k->fd >= 0 && k->dump.active && outq_empty(k)) {
		if (k->dump.pos >= k->dump.end) {
			k->dump.active = false;
			hdr_init(&c->tx->hdr, CTLMSG_DUMP_END,
				 sizeof(struct ctlmsg_hdr), k->dump.seq);
			send_reply(c, i, &c->tx->hdr,
				   sizeof(struct ctlmsg_hdr));
			break;
		}
		dump_record(c, k->dump.pos++, k->dump.seq,
			    k->role == CTLMSG_ROLE_CONTROL);
		send_reply(c, i, &c->tx->dump, sizeof(c->tx->dump));
		sodium_memzero(&c->tx->dump, sizeof(c->tx->dump));
	}
	while (k->fd >= 0 && k->flows.active && outq_empty(k))
		flows_record(c, i);
}

/*
 * FLOWS: every live flow, as the reader takes them (conn_output), with
 * the counters reset on the way if asked. A flow created meanwhile may or
 * may not be in this answer; none is in it twice.
 */
static int on_flows(struct dp_ctl *c, int i, const struct ctlmsg_flows *m,
		    struct vl_status *st)
{
	struct conn *k = &c->conns[i];

	if (k->flows.active)
		return vl_status_set(st, -EBUSY,
				     "FLOWS while the previous one (seq %u) is still being sent",
				     k->flows.seq);
	k->flows.active = true;
	k->flows.reset = m->reset;
	k->flows.seq = m->hdr.seq;
	k->flows.cursor = 0;
	conn_output(c, i);
	return 0;
}

/*
 * DUMP: the tunnels installed now, in install order, then DUMP_END. The
 * records go out as the reader takes them (conn_output); a tunnel removed
 * meanwhile is left out, one added meanwhile is not in this dump.
 */
static int on_dump(struct dp_ctl *c, int i, uint32_t seq,
		   struct vl_status *st)
{
	struct conn *k = &c->conns[i];

	if (k->dump.active)
		return vl_status_set(st, -EBUSY,
				     "DUMP while the previous one (seq %u) is still being sent",
				     k->dump.seq);
	k->dump.active = true;
	k->dump.seq = seq;
	k->dump.pos = 0;
	k->dump.end = c->n_tunnels;
	conn_output(c, i);
	return 0;
}

/*
 * ACTIVITY: what the liveness checks need of every tunnel, packed. Queued
 * whole (the connection's queue takes 128 tunnels a 4 KB record; 4 MiB is
 * 100 000 tunnels).
 */
static int on_activity(struct dp_ctl *c, int i, uint32_t seq)
{
	struct ctlmsg_activity_reply *r = &c->tx->activity;
	unsigned int k = 0;

	do {
		unsigned int n = 0;

		memset(r, 0, offsetof(struct ctlmsg_activity_reply, tunnel));
		for (; k < c->n_tunnels && n < CTLMSG_ACTIVITY_MAX; k++, n++) {
			struct dp_sa *sa = c->tunnels[k].sa;

			r->tunnel[n] = (struct ctlmsg_activity){
				.local_index = sa->local_index,
				.rx_packets = atomic_load_explicit(
					&sa->rx_packets, memory_order_relaxed),
				.tx_packets = atomic_load_explicit(
					&sa->tx_packets, memory_order_relaxed),
				.recv_max = recv_max(sa),
				.rx_bytes = atomic_load_explicit(
					&sa->rx_bytes, memory_order_relaxed),
				.tx_bytes = atomic_load_explicit(
					&sa->tx_bytes, memory_order_relaxed),
			};
		}
		r->n = n;
		r->last = k == c->n_tunnels;
		hdr_init(&r->hdr, CTLMSG_ACTIVITY_REPLY,
			 (uint32_t)(offsetof(struct ctlmsg_activity_reply,
					     tunnel) +
				    n * sizeof(r->tunnel[0])),
			 seq);
		if (send_reply(c, i, r, r->hdr.len))
			return 0; /* the connection is gone */
	} while (k < c->n_tunnels);
	return 0;
}

/* STATS_REPLY mirrors the workers' counters; a new one needs a place there. */
_Static_assert(DP_DROP_MAX <= CTLMSG_DROPS_MAX, "drop reasons outgrew STATS");
/*
 * Counted from tx_packets: stats.h's _Alignas(64) applies to both fields
 * of its first declaration, so rx_bytes sits at offset 64 there.
 */
_Static_assert(offsetof(struct dp_counters, drops) -
			       offsetof(struct dp_counters, tx_packets) ==
		       offsetof(struct ctlmsg_worker_stats, drops) -
			       offsetof(struct ctlmsg_worker_stats, tx_packets),
	       "struct dp_counters and ctlmsg_worker_stats differ");
_Static_assert(sizeof(struct dp_port_stats) == sizeof(struct ctlmsg_port_stats),
	       "struct dp_port_stats and ctlmsg_port_stats differ");
_Static_assert(DP_BURST_BUCKETS == CTLMSG_BURST_BUCKETS,
	       "burst histograms differ");
_Static_assert(offsetof(struct ctlmsg_worker_stats, frames) % 8 == 0,
	       "the counters before frames are uint64_t words");

/*
 * One counter another thread writes. Each counter has one writer, its
 * worker, which bumps it with plain stores while we read here without
 * stopping it. A torn value is impossible on x86-64: every counter is an
 * aligned uint64_t, and aligned 8-byte loads and stores are single-copy
 * atomic. The load is a relaxed atomic one so that, in C11 terms too, it
 * reads the value once and whole (the compiler may not split or repeat
 * it); no ordering is needed, since counters are independent and dpctl
 * shows a snapshot that is a few packets old anyway. The writers' side
 * stays plain: that is the race we accept to keep the stages' counting
 * free (STYLE §3).
 */
static uint64_t peek(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void copy_worker(struct ctlmsg_worker_stats *o,
			const struct dp_counters *s,
			const struct dp_port_stats *p)
{
	o->rx_packets = peek(&s->rx_packets);
	o->rx_bytes = peek(&s->rx_bytes);
	o->tx_packets = peek(&s->tx_packets);
	o->tx_bytes = peek(&s->tx_bytes);
	o->tun_rx_packets = peek(&s->tun_rx_packets);
	o->tun_rx_bytes = peek(&s->tun_rx_bytes);
	o->tun_tx_packets = peek(&s->tun_tx_packets);
	o->tun_tx_bytes = peek(&s->tun_tx_bytes);
	o->punches = peek(&s->punches);
	o->punted = peek(&s->punted);
	o->test_replies = peek(&s->test_replies);
	o->recv_errors = peek(&s->recv_errors);
	o->injected_tun = peek(&s->injected_tun);
	o->injected_out = peek(&s->injected_out);
	o->tun_rx_frames = peek(&s->tun_rx_frames);
	o->tun_rx_gso_frames = peek(&s->tun_rx_gso_frames);
	o->tun_rx_segments = peek(&s->tun_rx_segments);
	o->tun_tx_writes = peek(&s->tun_tx_writes);
	o->tun_tx_supers = peek(&s->tun_tx_supers);
	o->tun_tx_coalesced = peek(&s->tun_tx_coalesced);
	o->passes = peek(&s->passes);
	o->busy_passes = peek(&s->busy_passes);
	o->sleeps = peek(&s->sleeps);
	o->loop_ns = peek(&s->loop_ns);
	o->busy_ns = peek(&s->busy_ns);
	for (int b = 0; b < DP_BURST_BUCKETS; b++) {
		o->rx_burst_hist[b] = peek(&s->rx_burst_hist[b]);
		o->tun_burst_hist[b] = peek(&s->tun_burst_hist[b]);
	}
	o->sealed = peek(&s->sealed);
	o->sealed_bytes = peek(&s->sealed_bytes);
	o->opened = peek(&s->opened);
	o->opened_bytes = peek(&s->opened_bytes);
	for (int d = 0; d < DP_DROP_MAX; d++)
		o->drops[d] = peek(&s->drops[d]);
	o->port.rx_packets = peek(&p->rx_packets);
	o->port.rx_bytes = peek(&p->rx_bytes);
	o->port.tx_packets = peek(&p->tx_packets);
	o->port.tx_bytes = peek(&p->tx_bytes);
	o->port.rx_truncated = peek(&p->rx_truncated);
	o->port.tx_errors = peek(&p->tx_errors);
	o->port.rx_gro_batches = peek(&p->rx_gro_batches);
	o->port.tx_gso_batches = peek(&p->tx_gso_batches);
	o->port.rx_bad_l2 = peek(&p->rx_bad_l2);
	o->port.rx_bad_l3 = peek(&p->rx_bad_l3);
	o->port.rx_bad_l4 = peek(&p->rx_bad_l4);
	o->port.rx_kernel = peek(&p->rx_kernel);
	o->port.tx_kernel = peek(&p->tx_kernel);
	o->port.tx_ring_full = peek(&p->tx_ring_full);
	o->port.tx_kicks = peek(&p->tx_kicks);
	o->port.tx_kick_errors = peek(&p->tx_kick_errors);
}

/*
 * The setup in force and every counter as it is now, since SETUP (or
 * since this process started, for this thread's own). Summing is the
 * reader's job (dpctl).
 */
static void fill_stats(struct dp_ctl *c, struct ctlmsg_stats_reply *r,
		       uint32_t seq)
{
	memset(r, 0, sizeof(*r));
	hdr_init(&r->hdr, CTLMSG_STATS_REPLY, sizeof(*r), seq);
	r->set_up = c->set_up;
	r->n_drops = DP_DROP_MAX;
	r->n_tunnels = c->n_tunnels;
	r->rejects = c->stats.rejects;
	r->punts_sent = c->stats.punts_sent;
	r->punts_dropped = c->stats.punts_dropped;
	r->injects_queued = c->stats.injects_queued;
	r->injects_full = c->stats.injects_full;
	r->lease_requests = c->stats.lease_requests;
	if (c->set_up) {
		r->backend = c->done.backend;
		r->mode = c->shared.setup.mode;
		r->workers = c->n_workers;
		memcpy(r->tun_dev, c->done.tun_dev, sizeof(r->tun_dev));
		r->tun_offloads = c->have_tun ? c->tun.offloads : 0;
		if (c->have_tun) {
			r->tun_mtu = c->link.mtu;
			r->tun_flags =
				(c->link.up ? CTLMSG_TUN_UP : 0) |
				(c->link.running ? CTLMSG_TUN_RUNNING : 0);
			r->tun_handed_over = c->tun_handed_over;
		}
		r->port = c->done.port;
	}
	if (c->fw) {
		r->fw_gen = c->fw_gen;
		r->fw_rules_in = dp_fw_n_rules(c->fw, DP_FLOW_IN);
		r->fw_rules_out = dp_fw_n_rules(c->fw, DP_FLOW_OUT);
	}
	if (c->shared.flows) {
		struct dp_flow_stats fs;

		dp_flow_get_stats(c->shared.flows, &fs);
		r->flows_capacity = dp_flow_capacity(c->shared.flows);
		r->flows_created = fs.created;
		r->flows_evicted = fs.evicted;
		r->flows_expired = fs.expired;
	}
	for (unsigned int w = 0; w < c->n_workers; w++) {
		struct ctlmsg_frames *f = &r->worker[w].frames;
		struct dp_port_frames pf;

		copy_worker(&r->worker[w], &c->loops[w]->w.stats,
			    dp_port_stats(c->ports[w]));
		if (dp_port_frames(c->ports[w], &pf))
			continue;
		*f = (struct ctlmsg_frames){
			.total = pf.total, .free = pf.free, .fill = pf.fill,
			.held = pf.held, .in_flight = pf.in_flight,
			.rx_dropped = pf.rx_dropped,
			.rx_ring_full = pf.rx_ring_full,
			.fill_ring_empty = pf.fill_ring_empty,
			.tx_invalid = pf.tx_invalid,
			.tx_ring_empty = pf.tx_ring_empty,
		};
	}
	if (c->xdp) {
		struct dp_xdp_counters xc;

		_Static_assert(DP_XDP_COUNTERS <= CTLMSG_XDP_COUNTERS_MAX,
			       "XDP counters outgrew STATS");
		memcpy(r->interface, c->shared.setup.interface,
		       sizeof(r->interface));
		r->xdp_mode = dp_xdp_attached_mode(c->xdp);
		if (!dp_xdp_counters(c->xdp, &xc)) {
			r->n_xdp = DP_XDP_COUNTERS;
			memcpy(r->xdp_packets, xc.packets, sizeof(xc.packets));
			memcpy(r->xdp_bytes, xc.bytes, sizeof(xc.bytes));
		}
		r->nh_entries = dp_nh_table_size(atomic_load_explicit(
			&c->shared.nh_table, memory_order_relaxed));
	}
}

static void sub(uint64_t *v, uint64_t base)
{
	*v = *v > base ? *v - base : 0;
}

/*
 * @r less the counters of @b, the snapshot the last CLEAR took. Gauges
 * (frames in use, table sizes, tunnels) stay as they are. A counter below
 * its snapshot cannot happen (they only grow); it would show as 0.
 */
static void since_clear(struct ctlmsg_stats_reply *r,
			const struct ctlmsg_stats_reply *b)
{
	sub(&r->rejects, b->rejects);
	sub(&r->punts_sent, b->punts_sent);
	sub(&r->punts_dropped, b->punts_dropped);
	sub(&r->injects_queued, b->injects_queued);
	sub(&r->injects_full, b->injects_full);
	sub(&r->lease_requests, b->lease_requests);
	sub(&r->flows_created, b->flows_created);
	sub(&r->flows_evicted, b->flows_evicted);
	sub(&r->flows_expired, b->flows_expired);
	for (unsigned int x = 0; x < CTLMSG_XDP_COUNTERS_MAX; x++) {
		sub(&r->xdp_packets[x], b->xdp_packets[x]);
		sub(&r->xdp_bytes[x], b->xdp_bytes[x]);
	}
	for (unsigned int w = 0; w < r->workers && w < b->workers; w++) {
		struct ctlmsg_worker_stats *o = &r->worker[w];
		const struct ctlmsg_worker_stats *ob = &b->worker[w];
		uint64_t *v = (uint64_t *)(void *)o;
		const uint64_t *vb = (const uint64_t *)(const void *)ob;

		/* Every field before `frames` is a uint64_t counter (ctlmsg.h). */
		for (size_t k = 0;
		     k < offsetof(struct ctlmsg_worker_stats, frames) /
				 sizeof(uint64_t);
		     k++)
			sub(&v[k], vb[k]);
		sub(&o->frames.rx_dropped, ob->frames.rx_dropped);
		sub(&o->frames.rx_ring_full, ob->frames.rx_ring_full);
		sub(&o->frames.fill_ring_empty, ob->frames.fill_ring_empty);
		sub(&o->frames.tx_invalid, ob->frames.tx_invalid);
		sub(&o->frames.tx_ring_empty, ob->frames.tx_ring_empty);
	}
}

/*
 * STATS, from either role: the setup in force and every worker's
 * counters as they are now; for dpctl, less what they were at the last
 * CLEAR. vela-control's view never moves back: its Prometheus counters
 * may only grow (ctlmsg.h).
 */
static int on_stats(struct dp_ctl *c, int i, uint32_t seq)
{
	struct ctlmsg_stats_reply *r = &c->tx->stats;

	fill_stats(c, r, seq);
	if (c->clear_base && c->conns[i].role == CTLMSG_ROLE_DPCTL) {
		since_clear(r, c->clear_base);
		r->clears = c->clears;
		r->cleared_ns_ago = clock_ns() - c->cleared_ns;
	}
	send_reply(c, i, r, sizeof(*r));
	return 0;
}

/*
 * CLEAR, from either role (dpctl's `clear`): from now on STATS reports
 * counters since this moment to dpctl readers. The workers' counters are
 * not zeroed: each has one writer, its worker, which adds with plain
 * stores (copy_worker's comment), and a store from this thread would race
 * with them and lose increments. Instead this thread keeps a snapshot
 * taken now and subtracts it in every STATS_REPLY; a packet counted while
 * the snapshot is taken lands on one side of it or the other. Answered
 * with a STATS_REPLY taken just after (all but zero).
 */
static int on_clear(struct dp_ctl *c, int i, uint32_t seq, struct vl_status *st)
{
	if (!c->clear_base) {
		c->clear_base = malloc(sizeof(*c->clear_base));
		if (!c->clear_base)
			return vl_status_set(st, -ENOMEM,
					     "CLEAR: out of memory");
	}
	fill_stats(c, c->clear_base, 0);
	c->cleared_ns = clock_ns();
	c->clears++;
	say(c, DP_CTL_LOG_INFO, "Counters cleared (%s, pid %u)",
	    c->conns[i].role == CTLMSG_ROLE_DPCTL ? "dpctl" : "control",
	    c->conns[i].pid);
	return on_stats(c, i, seq);
}

/* A valid, allowed message: apply it. 0, or -errno for an ERROR reply. */
static int apply(struct dp_ctl *c, int i, const void *rec, struct vl_status *st)
{
	const struct ctlmsg_hdr *h = rec;

	switch ((enum ctlmsg_type)h->type) {
	case CTLMSG_HELLO:
		return on_hello(c, i, rec);
	case CTLMSG_SETUP:
		return on_setup(c, i, rec, st);
	case CTLMSG_TUNNEL_ADD:
		return on_tunnel_add(c, rec, st);
	case CTLMSG_TUNNEL_DEL:
		return on_tunnel_del(c, rec, st);
	case CTLMSG_TUNNEL_REMOTE:
		return on_tunnel_remote(c, rec, st);
	case CTLMSG_TUNNEL_IDENTITY:
		return on_tunnel_identity(c, rec, st);
	case CTLMSG_LEASE_GRANT:
		return on_lease_grant(c, rec, st);
	case CTLMSG_INJECT_RAW:
	case CTLMSG_INJECT_SA:
	case CTLMSG_INJECT_TUN:
	case CTLMSG_INJECT_OUT:
		return on_inject(c, rec, st);
	case CTLMSG_DUMP:
		return on_dump(c, i, h->seq, st);
	case CTLMSG_STATS:
		return on_stats(c, i, h->seq);
	case CTLMSG_CLEAR:
		return on_clear(c, i, h->seq, st);
	case CTLMSG_ACTIVITY:
		return on_activity(c, i, h->seq);
	case CTLMSG_FLOWS:
		return on_flows(c, i, rec, st);
	case CTLMSG_FIREWALL:
		return on_firewall(c, rec, h->len, st);
	case CTLMSG_ACTIVITY_REPLY:
	case CTLMSG_FLOWS_REPLY:
	case CTLMSG_SETUP_DONE:
	case CTLMSG_LEASE_REQUEST:
	case CTLMSG_PUNT:
	case CTLMSG_DUMP_TUNNEL:
	case CTLMSG_DUMP_END:
	case CTLMSG_ERROR:
	case CTLMSG_STATS_REPLY:
		break;
	}
	return vl_status_set(st, -EPROTO, "%s: not handled",
			     dp_ctl_type_name(h->type));
}

/* Not inlined into dp_ctl_step: together their frames pass 4 KiB. */
__attribute__((noinline))
static void handle_record(struct dp_ctl *c, int i, size_t len)
{
	const struct ctlmsg_hdr *h = c->rx;
	struct vl_status st = { "" };
	uint16_t type = len >= sizeof(*h) ? h->type : 0;
	uint32_t seq = len >= sizeof(*h) ? h->seq : 0;
	int err;

	err = dp_ctl_validate(c->rx, len, &st);
	if (!err)
		err = dp_ctl_check_order(c->conns[i].role, c->set_up, type,
					 &st);
	if (!err)
		err = apply(c, i, c->rx, &st);
	if (err)
		reject(c, i, type, seq, err, &st);
}

static void serve_conn(struct dp_ctl *c, int i)
{
	for (int r = 0; r < READ_BURST && c->conns[i].fd >= 0; r++) {
		ssize_t n = recv(c->conns[i].fd, c->rx, CTLMSG_MAX,
				 MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			close_conn(c, i, strerror(errno));
			return;
		}
		if (n == 0) {
			close_conn(c, i, "closed by the peer");
			return;
		}
		handle_record(c, i, (size_t)n);
	}
}

static void accept_conns(struct dp_ctl *c)
{
	for (;;) {
		int fd = accept4(c->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		int i;

		if (fd < 0)
			return; /* EAGAIN, or an aborted connection */
		for (i = 0; i < DP_CTL_CONNS_MAX && c->conns[i].fd >= 0; i++)
			;
		if (i == DP_CTL_CONNS_MAX) {
			say(c, DP_CTL_LOG_WARN,
			    "Control socket: %d connections open, refusing one more",
			    DP_CTL_CONNS_MAX);
			close(fd);
			continue;
		}
		c->conns[i] = (struct conn){ .fd = fd };
	}
}

/* ---- Punts and the tick ------------------------------------------------ */

static void forward_punt(struct dp_ctl *c, struct ctlmsg_punt *m)
{
	uint32_t len;

	if (m->len > CTLMSG_PACKET_MAX || c->control < 0) {
		c->stats.punts_dropped++;
		return;
	}
	len = DP_CTL_PUNT_LEN(m->len);
	hdr_init(&m->hdr, CTLMSG_PUNT, len, 0);
	if (send(c->conns[c->control].fd, m, len,
		 MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len) {
		c->stats.punts_sent++;
		return;
	}
	c->stats.punts_dropped++;
	if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
		close_conn(c, c->control, strerror(errno));
}

static void drain_punts(struct dp_ctl *c)
{
	c->punts_left = false;
	for (unsigned int w = 0; w < c->n_workers; w++) {
		struct dp_ring *r = &c->punts[w];
		uint32_t pos, n;

		n = dp_ring_peek(r, DP_CTL_PUNT_SLOTS, &pos);
		for (uint32_t k = 0; k < n; k++)
			forward_punt(c, dp_ring_rec(r, pos + k));
		dp_ring_release(r, n);
		if (!dp_ring_idle(r))
			c->punts_left = true;
	}
}

static void ask_leases(struct dp_ctl *c)
{
	struct ctlmsg_lease *m = &c->tx->lease;

	for (unsigned int k = 0; k < c->n_tunnels && c->control >= 0; k++) {
		struct dp_sa *sa = c->tunnels[k].sa;

		if (!dp_sa_lease_wanted(sa))
			continue;
		memset(m, 0, sizeof(*m));
		hdr_init(&m->hdr, CTLMSG_LEASE_REQUEST, sizeof(*m), 0);
		m->local_index = sa->local_index;
		m->lease_end = atomic_load_explicit(&sa->lease_end,
						    memory_order_relaxed);
		m->recv_max = recv_max(sa);
		if (send_reply(c, c->control, m, sizeof(*m))) {
			/* Lost with the connection: ask the next one. */
			atomic_store_explicit(&sa->lease_asked, false,
					      memory_order_relaxed);
			return;
		}
		c->stats.lease_requests++;
	}
}

/*
 * xsk: passes the workers' next-hop misses on, lets the mirror read
 * netlink, and publishes a new table when it made one (the old one is
 * retired like an SA table). Runs every tick and when netlink has news.
 */
static void update_next_hops(struct dp_ctl *c)
{
	struct in6_addr miss[64];
	struct dp_nh_table *t, *old;
	struct vl_status st;
	int err;

	if (!c->nh)
		return;
	for (unsigned int w = 0; w < c->n_workers; w++) {
		unsigned int n = dp_port_take_misses(c->ports[w], miss, 64);

		for (unsigned int k = 0; k < n; k++)
			dp_nh_want(c->nh, &miss[k]);
	}
	t = dp_nh_process(c->nh, &err, &st);
	if (err) {
		say(c, DP_CTL_LOG_ERROR,
		    "Next hops: %s; xsk sends through the kernel socket from now on",
		    st.msg);
		dp_nh_close(c->nh);
		c->nh = NULL;
		t = NULL;
		old = atomic_exchange_explicit(&c->shared.nh_table, NULL,
					       memory_order_acq_rel);
		retire(c, RETIRED_NH, old);
		return;
	}
	if (!t)
		return;
	old = atomic_exchange_explicit(&c->shared.nh_table, t,
				       memory_order_acq_rel);
	retire(c, RETIRED_NH, old);
}

static void tick(struct dp_ctl *c)
{
	uint64_t now = clock_ns();

	for (int i = 0; i < DP_CTL_CONNS_MAX; i++) {
		struct conn *k = &c->conns[i];

		if (k->fd >= 0 && k->stalled_ns &&
		    now - k->stalled_ns >= READER_STALL_MS * NSEC_PER_MSEC)
			close_conn(c, i, "it does not read its replies");
	}
	if (c->control >= 0)
		ask_leases(c);
	update_next_hops(c);
	/*
	 * Retired objects a sync gave up on (that was logged); workers are
	 * quick to answer, so a short wait is enough.
	 */
	reclaim(c, 5, true);
}

int dp_ctl_step(struct dp_ctl *c, int max_wait_ms)
{
	struct pollfd fds[3 + DP_CTL_CONNS_MAX + DP_CTL_WORKERS_MAX];
	int conn_of[DP_CTL_CONNS_MAX];
	nfds_t n = 0, first_conn, first_punt, nh_fd, link_fd;
	uint64_t now = clock_ns();
	int timeout, ret;

	if (c->tun_gone)
		return -ENODEV;
	if (!c->next_tick_ns)
		c->next_tick_ns = now + DP_CTL_TICK_MS * NSEC_PER_MSEC;
	timeout = c->next_tick_ns > now ?
			  (int)((c->next_tick_ns - now + NSEC_PER_MSEC - 1) /
				NSEC_PER_MSEC) :
			  0;
	if (timeout > max_wait_ms)
		timeout = max_wait_ms;
	if (c->punts_left)
		timeout = 0;

	fds[n++] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
	first_conn = n;
	for (int i = 0; i < DP_CTL_CONNS_MAX; i++) {
		if (c->conns[i].fd < 0)
			continue;
		conn_of[n - first_conn] = i;
		fds[n++] = (struct pollfd){
			.fd = c->conns[i].fd,
			.events = POLLIN |
				  (outq_empty(&c->conns[i]) &&
						   !c->conns[i].dump.active &&
						   !c->conns[i].flows.active ?
					   0 :
					   POLLOUT)
		};
	}
	first_punt = n;
	for (unsigned int w = 0; w < c->n_workers; w++)
		fds[n++] = (struct pollfd){ .fd = c->loops[w]->punt_fd,
					    .events = POLLIN };
	nh_fd = n;
	if (c->nh && dp_nh_fd(c->nh) >= 0)
		fds[n++] = (struct pollfd){ .fd = dp_nh_fd(c->nh),
					    .events = POLLIN };
	link_fd = n;
	if (c->link_watch)
		fds[n++] =
			(struct pollfd){ .fd = tun_link_watch_fd(c->link_watch),
					 .events = POLLIN };

	ret = poll(fds, n, timeout);
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;

	if (link_fd < n && fds[link_fd].revents && on_link(c))
		return -ENODEV;
	if (nh_fd < link_fd && fds[nh_fd].revents)
		update_next_hops(c);
	for (nfds_t k = first_punt; k < nh_fd; k++) {
		uint64_t v;

		/* Reset before draining: a punt after this wakes us again. */
		if (fds[k].revents & POLLIN &&
		    read(fds[k].fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: already reset */
		}
	}
	drain_punts(c);
	for (nfds_t k = first_conn; k < first_punt; k++) {
		int i = conn_of[k - first_conn];

		/* A HELLO may have closed this one since poll(). */
		if (fds[k].revents & POLLOUT && c->conns[i].fd == fds[k].fd)
			conn_output(c, i);
		if (fds[k].revents & ~POLLOUT && c->conns[i].fd == fds[k].fd)
			serve_conn(c, i);
	}
	if (fds[0].revents & POLLIN)
		accept_conns(c);

	now = clock_ns();
	if (now >= c->next_tick_ns) {
		tick(c);
		c->next_tick_ns = now + DP_CTL_TICK_MS * NSEC_PER_MSEC;
	}
	return 0;
}

int dp_ctl_run(struct dp_ctl *c, const _Atomic bool *stop)
{
	while (!atomic_load(stop)) {
		int err = dp_ctl_step(c, DP_CTL_TICK_MS);

		if (err)
			return err;
	}
	return 0;
}

/* ---- Open and close ---------------------------------------------------- */

/* mkdir -p of @path's directory; directories made here get 0750. */
static int make_parent(const char *path, struct vl_status *st)
{
	char dir[SUN_PATH_LEN];
	char *slash;
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0; /* the current directory, or / */
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char save = *p;

		*p = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			return vl_status_set(st, -errno,
					     "control socket directory %s: %s",
					     dir, strerror(errno));
		*p = save;
		if (!save)
			break;
	}
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return vl_status_set(
			st, -ENOTDIR,
			"control socket directory %s is not a directory", dir);
	return 0;
}

/*
 * Refuses a socket a live dataplane answers on; removes one nobody
 * listens on (left by a crash). Anything but a socket is left alone.
 */
static int claim_path(struct dp_ctl *c, const struct sockaddr_un *sun,
		      struct vl_status *st)
{
	struct stat sb;
	int fd, err;

	if (lstat(c->path, &sb) < 0) {
		if (errno == ENOENT)
			return 0;
		return vl_status_set(st, -errno, "control socket %s: %s",
				     c->path, strerror(errno));
	}
	if (!S_ISSOCK(sb.st_mode))
		return vl_status_set(
			st, -EEXIST,
			"control socket %s exists and is not a socket: remove it or choose another -s",
			c->path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vl_status_set(st, -errno, "socket: %s", strerror(errno));
	err = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0 ?
		      errno :
		      0;
	close(fd);
	if (err == ECONNREFUSED) {
		if (unlink(c->path) < 0 && errno != ENOENT)
			return vl_status_set(st, -errno,
					     "stale control socket %s: %s",
					     c->path, strerror(errno));
		say(c, DP_CTL_LOG_INFO, "Removed stale control socket %s",
		    c->path);
		return 0;
	}
	if (!err || err == EAGAIN)
		return vl_status_set(
			st, -EADDRINUSE,
			"another vela-dataplane is running on %s: stop it first",
			c->path);
	return vl_status_set(st, -err, "control socket %s: %s", c->path,
			     strerror(err));
}

int dp_ctl_open(const struct dp_ctl_cfg *cfg, struct dp_ctl **out,
		struct vl_status *st)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t size = (sizeof(struct dp_ctl) + 63) / 64 * 64;
	struct dp_sa_table *t;
	struct dp_ctl *c;
	int err;

	*out = NULL;
	if (!cfg->socket_path || !*cfg->socket_path ||
	    strlen(cfg->socket_path) >= sizeof(sun.sun_path))
		return vl_status_set(
			st, -ENAMETOOLONG,
			"control socket path must have 1 to %zu characters",
			sizeof(sun.sun_path) - 1);
	err = vl_aead_init();
	if (err)
		return vl_status_set(st, err, "crypto library: %s",
				     strerror(-err));
	c = aligned_alloc(64, size);
	if (!c)
		return vl_status_set(st, -ENOMEM, "out of memory");
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	c->listen_fd = -1;
	c->control = -1;
	for (int i = 0; i < DP_CTL_CONNS_MAX; i++)
		c->conns[i].fd = -1;
	snprintf(c->path, sizeof(c->path), "%s", cfg->socket_path);
	memcpy(sun.sun_path, c->path, strlen(c->path) + 1);
	/* Read once here; a bad value is SETUP's error (take_tun_fds). */
	c->tun_fds_given = cfg->tun_fds && *cfg->tun_fds;
	if (c->tun_fds_given) {
		struct vl_status pst = { "" };

		c->tun_fds_errno = dp_ctl_parse_tun_fds(cfg->tun_fds,
							c->tun_fds,
							DP_CTL_WORKERS_MAX,
							&c->n_tun_fds, &pst);
		snprintf(c->tun_fds_err, sizeof(c->tun_fds_err), "%s", pst.msg);
		if (c->tun_fds_errno)
			say(c, DP_CTL_LOG_WARN, "%s: SETUP will be refused",
			    pst.msg);
		else
			say(c, DP_CTL_LOG_INFO,
			    "VELA_TUN_FD=%.64s: SETUP takes these %u TUN queue fds instead of creating the device",
			    cfg->tun_fds, c->n_tun_fds);
	}
	c->cfg.tun_fds = NULL; /* not kept: main's environment */

	c->rx = malloc(CTLMSG_MAX);
	c->tx = malloc(sizeof(*c->tx));
	dp_qsbr_init(&c->shared.qsbr, 0);
	t = dp_sa_table_build(NULL, 0);
	atomic_init(&c->shared.sa_table, t);
	if (!c->rx || !c->tx || !t) {
		err = vl_status_set(st, -ENOMEM, "out of memory");
		goto free_ctl;
	}

	err = make_parent(c->path, st);
	if (err)
		goto free_ctl;
	err = claim_path(c, &sun, st);
	if (err)
		goto free_ctl;
	c->listen_fd = socket(AF_UNIX,
			      SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0) {
		err = vl_status_set(st, -errno, "socket: %s", strerror(errno));
		goto free_ctl;
	}
	if (bind(c->listen_fd, (const struct sockaddr *)&sun, sizeof(sun)) <
	    0) {
		err = vl_status_set(st, -errno, "control socket %s: bind: %s",
				    c->path, strerror(errno));
		goto close_listen;
	}
	/* vela-control runs unprivileged, in the socket's group. */
	if (chmod(c->path, 0660) < 0 || listen(c->listen_fd, 16) < 0) {
		err = vl_status_set(st, -errno, "control socket %s: %s",
				    c->path, strerror(errno));
		goto unlink_path;
	}
	*out = c;
	return 0;

unlink_path:
	unlink(c->path);
close_listen:
	close(c->listen_fd);
free_ctl:
	dp_sa_table_free(t);
	free(c->tx);
	free(c->rx);
	free(c);
	return err;
}

static void log_worker(const struct dp_ctl *c, const struct dp_worker *w)
{
	const struct dp_counters *s = &w->stats;
	char drops[VL_STATUS_MAX] = "";
	size_t off = 0;

	for (int d = 0; d < DP_DROP_MAX && off < sizeof(drops); d++)
		if (s->drops[d])
			off += (size_t)snprintf(
				drops + off, sizeof(drops) - off, " %s=%llu",
				dp_drop_names[d],
				(unsigned long long)s->drops[d]);
	say(c, DP_CTL_LOG_INFO,
	    "Worker %u stopped: nic rx %llu tx %llu, tun rx %llu tx %llu, punted %llu, test replies %llu, recv errors %llu, drops:%s",
	    w->id, (unsigned long long)s->rx_packets,
	    (unsigned long long)s->tx_packets,
	    (unsigned long long)s->tun_rx_packets,
	    (unsigned long long)s->tun_tx_packets,
	    (unsigned long long)s->punted, (unsigned long long)s->test_replies,
	    (unsigned long long)s->recv_errors, *drops ? drops : " none");
}

/* xsk: where the datagrams went, and the frames' owners at the end. */
static void log_port(const struct dp_ctl *c, unsigned int q)
{
	const struct dp_port_stats *p = dp_port_stats(c->ports[q]);
	struct dp_port_frames f;

	if (dp_port_frames(c->ports[q], &f))
		return;
	say(c, DP_CTL_LOG_INFO,
	    "Port %u (xsk): rx %llu from the ring, %llu from the kernel socket, bad l2/l3/l4 %llu/%llu/%llu; tx %llu on the ring, %llu through the kernel socket, ring full %llu; frames free %u fill %u held %u in flight %u of %u; kernel rx drops %llu (ring full %llu, fill empty %llu)",
	    q, (unsigned long long)(p->rx_packets - p->rx_kernel),
	    (unsigned long long)p->rx_kernel,
	    (unsigned long long)p->rx_bad_l2, (unsigned long long)p->rx_bad_l3,
	    (unsigned long long)p->rx_bad_l4,
	    (unsigned long long)(p->tx_packets - p->tx_kernel),
	    (unsigned long long)p->tx_kernel,
	    (unsigned long long)p->tx_ring_full, f.free, f.fill, f.held,
	    f.in_flight, f.total, (unsigned long long)f.rx_dropped,
	    (unsigned long long)f.rx_ring_full,
	    (unsigned long long)f.fill_ring_empty);
}

static void log_xdp(const struct dp_ctl *c)
{
	struct dp_xdp_counters x;
	char line[VL_STATUS_MAX] = "";
	size_t off = 0;

	if (!c->xdp || dp_xdp_counters(c->xdp, &x))
		return;
	for (int k = 0; k < DP_XDP_COUNTERS && off < sizeof(line); k++)
		off += (size_t)snprintf(line + off, sizeof(line) - off,
					" %s=%llu",
					dp_xdp_counter_name((enum dp_xdp_counter)k),
					(unsigned long long)x.packets[k]);
	say(c, DP_CTL_LOG_INFO, "XDP program on %s:%s",
	    c->shared.setup.interface, line);
}

void dp_ctl_close(struct dp_ctl *c)
{
	if (!c)
		return;
	stop_workers(c->loops, c->n_workers);
	/* No worker runs: everything can go without a grace period. */
	for (unsigned int q = 0; q < c->n_workers; q++) {
		log_worker(c, &c->loops[q]->w);
		log_port(c, q);
		loop_free(c->loops[q]);
	}
	log_xdp(c);
	close_ports(c, c->n_workers);
	c->n_workers = 0;
	tun_link_watch_close(c->link_watch);
	if (c->have_tun)
		tun_close(&c->tun);
	for (unsigned int k = 0; k < c->n_retired; k++)
		free_retired(&c->retired[k]);
	free(c->retired);
	for (unsigned int k = 0; k < c->n_tunnels; k++)
		dp_sa_free(c->tunnels[k].sa);
	if (c->tunnels)
		sodium_memzero(c->tunnels,
			       c->cap_tunnels * sizeof(*c->tunnels));
	free(c->tunnels);
	dp_sa_table_free(atomic_load(&c->shared.sa_table));
	dp_fw_free(c->fw); /* after the SAs, which freed their views of it */
	dp_flow_table_free(c->shared.flows);
	for (int i = 0; i < DP_CTL_CONNS_MAX; i++)
		close_conn(c, i, "the dataplane stops");
	close(c->listen_fd);
	unlink(c->path);
	say(c, DP_CTL_LOG_INFO,
	    "Control socket closed: %llu messages refused, %llu punts forwarded, %llu dropped",
	    (unsigned long long)c->stats.rejects,
	    (unsigned long long)c->stats.punts_sent,
	    (unsigned long long)c->stats.punts_dropped);
	free(c->clear_base);
	free(c->tx);
	free(c->rx);
	free(c);
}

void dp_ctl_counters(const struct dp_ctl *c, struct dp_ctl_counters *out)
{
	*out = c->stats;
	out->retired = c->n_retired;
}
