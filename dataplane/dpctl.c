/* SPDX-License-Identifier: MIT */
/*
 * dpctl: what vela-dataplane is doing, asked over its control socket.
 *
 *   dpctl [-s SOCKET] [-j] show      setup, per-worker counters, drops
 *   dpctl [-s SOCKET] [-j] tunnels   one block per tunnel
 *   dpctl [-s SOCKET] [-j] [-z] flows   one line per connection (the
 *                                    flow table); -z zeroes the counters
 *                                    as they are read
 *   dpctl [-s SOCKET] [-j] workers   per worker: busy share, burst sizes,
 *                                    AEAD work (VPP's `show runtime`)
 *   dpctl [-s SOCKET] [-j] [-v] drops   every drop reason with its count
 *   dpctl [-s SOCKET] [-j] [-w SECONDS] [-c COUNT] stats   live rates
 *   dpctl [-s SOCKET] [-j] clear     zero what STATS reports
 *
 * It connects with the dpctl role (common/ctlmsg.h): HELLO, then STATS,
 * DUMP, FLOWS or CLEAR, never anything that changes state but counters
 * (`flows -z` zeroes the per-connection ones, `clear` moves the STATS
 * baseline), and the dataplane sends it tunnels without their keys. It
 * may run while vela-control is connected; both are served by the
 * dataplane's control thread.
 *
 * Output. Text follows `wg show`: a heading per object, indented
 * "key: value" lines, byte counts in KiB/MiB ("1.21 MiB received, 3.40
 * MiB sent") and ages as "12 seconds ago". Drops are a table like VPP's
 * `show errors`: count, reason name, description, nonzero reasons only.
 * The reason names and texts come from dataplane/stats.h of this build,
 * the same build as the dataplane (the protocol version guards that).
 * With -j the same data is one JSON object whose keys are stable and
 * documented in docs/dpctl.md; counters are totals since SETUP or the
 * last `dpctl clear`.
 *
 * Counters are summed here, not in the dataplane (STYLE §3): STATS_REPLY
 * carries every worker's counters as the worker left them, and a few
 * packets may be counted on one worker and not yet on another.
 *
 * Exit status: 0, 1 when the dataplane cannot be asked (no socket, no
 * answer, a refusal), 2 for a bad command line (Go's flag convention).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "aead.h"
#include "cert.h"
#include "ctlmsg.h"
#include "ipnet.h"
#include "flags.h"
#include "offload.h"
#include "stats.h"
#include "status.h"
#include "xdp_steer.h"

#define DPCTL_SOCKET "/run/vela/vela.sock"
#define DPCTL_REPLY_MS 5000 /* per record; the dataplane answers at once */
#define NSEC_PER_SEC 1000000000ull

struct opts {
	const char *socket;
	bool json;
	bool zero;
	bool verbose;
	const char *watch; /* stats -w: seconds between refreshes */
	const char *count; /* stats -c: refreshes, then stop */
};

static const struct vl_flag flags[] = {
	{ "s", VL_FLAG_STRING, offsetof(struct opts, socket),
	  "Path of vela-dataplane's control socket" },
	{ "j", VL_FLAG_BOOL, offsetof(struct opts, json),
	  "Print JSON (keys in docs/dpctl.md)" },
	{ "z", VL_FLAG_BOOL, offsetof(struct opts, zero),
	  "With flows: zero each flow's counters as it is read (extract and reset)" },
	{ "v", VL_FLAG_BOOL, offsetof(struct opts, verbose),
	  "With drops: a column per worker" },
	{ "w", VL_FLAG_STRING, offsetof(struct opts, watch),
	  "With stats: `seconds` between refreshes (1, 0.5, or a duration like 500ms)" },
	{ "c", VL_FLAG_STRING, offsetof(struct opts, count),
	  "With stats: stop after `count` refreshes (default: until interrupted)" },
};
#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))

static const struct opts defaults = { .socket = DPCTL_SOCKET, .watch = "1" };

/* One record from the dataplane; the largest is STATS_REPLY. */
static union {
	struct ctlmsg_hdr hdr;
	struct ctlmsg_hello hello;
	struct ctlmsg_stats_reply stats;
	struct ctlmsg_dump_tunnel dump;
	struct ctlmsg_flows_reply flows;
	struct ctlmsg_error error;
	uint8_t raw[CTLMSG_MAX];
} in;

/* `flows -z`, `drops -v`, `stats -w -c`; the commands take only -j. */
static bool zero_flows;
static bool verbose_drops;
static uint64_t watch_ns;
static uint64_t watch_count; /* 0: until SIGINT */

struct conn {
	int fd;
	uint32_t seq;
	uint32_t pid; /* the dataplane's, from HELLO */
};

/* ---- Talking to the dataplane ------------------------------------------ */

static int dpctl_connect(const char *path, struct conn *k, struct vl_status *st)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *hint = "";
	int err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return vl_status_set(
			st, -ENAMETOOLONG,
			"socket path %s is too long (at most %zu bytes)", path,
			sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	k->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (k->fd < 0)
		return vl_status_set(st, -errno, "socket: %s", strerror(errno));
	if (!connect(k->fd, (struct sockaddr *)&sun, sizeof(sun)))
		return 0;
	err = errno;
	close(k->fd);
	k->fd = -1;
	if (err == ENOENT || err == ECONNREFUSED)
		hint = " (is vela-dataplane running? use -s PATH)";
	else if (err == EACCES)
		hint = " (run as root or in the socket's group)";
	return vl_status_set(st, -err, "cannot connect to %s: %s%s", path,
			     strerror(err), hint);
}

static int send_req(struct conn *k, const void *rec, size_t len,
		    struct vl_status *st)
{
	if (send(k->fd, rec, len, MSG_NOSIGNAL) != (ssize_t)len)
		return vl_status_set(st, -errno, "send to the dataplane: %s",
				     strerror(errno));
	return 0;
}

static size_t want_len(uint16_t type)
{
	switch (type) {
	case CTLMSG_HELLO:
		return sizeof(struct ctlmsg_hello);
	case CTLMSG_STATS_REPLY:
		return sizeof(struct ctlmsg_stats_reply);
	case CTLMSG_DUMP_TUNNEL:
		return sizeof(struct ctlmsg_dump_tunnel);
	case CTLMSG_DUMP_END:
		return sizeof(struct ctlmsg_hdr);
	case CTLMSG_ERROR:
		return sizeof(struct ctlmsg_error);
	case CTLMSG_FLOWS_REPLY:
		/* offsetof(flow) + n flows: checked with n in recv_reply. */
		return offsetof(struct ctlmsg_flows_reply, flow);
	default:
		return 0;
	}
}

/* A record of @n bytes is as long as its type says. */
static bool len_ok(size_t n)
{
	size_t want = want_len(in.hdr.type);

	if (in.hdr.type != CTLMSG_FLOWS_REPLY)
		return want == n;
	return n >= want && in.flows.n <= CTLMSG_FLOWS_MAX &&
	       n == want + in.flows.n * sizeof(in.flows.flow[0]);
}

/*
 * The next answer to request k->seq into `in`: of type @a or @b (0: none),
 * checked for length before anything in it is read. An ERROR is the
 * dataplane refusing the request.
 */
static int recv_reply(struct conn *k, uint16_t a, uint16_t b,
		      struct vl_status *st)
{
	for (;;) {
		struct pollfd p = { .fd = k->fd, .events = POLLIN };
		ssize_t n;
		int r = poll(&p, 1, DPCTL_REPLY_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return vl_status_set(
				st, -ETIMEDOUT,
				"no answer from the dataplane within %d s",
				DPCTL_REPLY_MS / 1000);
		n = recv(k->fd, &in, sizeof(in), 0);
		if (n < 0)
			return vl_status_set(st, -errno,
					     "receive from the dataplane: %s",
					     strerror(errno));
		if (n == 0)
			return vl_status_set(
				st, -ECONNRESET,
				"the dataplane closed the connection");
		if ((size_t)n < sizeof(in.hdr) || in.hdr.len != (size_t)n ||
		    in.hdr.version != CTLMSG_VERSION || !len_ok((size_t)n))
			return vl_status_set(
				st, -EPROTO,
				"malformed answer (%zd bytes, type %u, version %u; this dpctl speaks %d): is dpctl from the same build as vela-dataplane?",
				n, in.hdr.type, in.hdr.version, CTLMSG_VERSION);
		if (in.hdr.seq != k->seq)
			continue; /* not ours: nothing unsolicited is, yet */
		if (in.hdr.type == CTLMSG_ERROR) {
			in.error.msg[sizeof(in.error.msg) - 1] = '\0';
			return vl_status_set(
				st, in.error.err < 0 ? in.error.err : -EPROTO,
				"the dataplane refused: %s", in.error.msg);
		}
		if (in.hdr.type == a || (b && in.hdr.type == b))
			return 0;
		return vl_status_set(st, -EPROTO,
				     "unexpected answer of type %u",
				     in.hdr.type);
	}
}

static int request(struct conn *k, uint16_t type, struct vl_status *st)
{
	struct ctlmsg_hdr h = { .version = CTLMSG_VERSION,
				.type = type,
				.len = sizeof(h),
				.seq = ++k->seq };

	return send_req(k, &h, sizeof(h), st);
}

static int hello(struct conn *k, struct vl_status *st)
{
	struct ctlmsg_hello m = {
		.hdr = { .version = CTLMSG_VERSION,
			 .type = CTLMSG_HELLO,
			 .len = sizeof(m),
			 .seq = ++k->seq },
		.role = CTLMSG_ROLE_DPCTL,
		.pid = (uint32_t)getpid(),
	};
	int err = send_req(k, &m, sizeof(m), st);

	if (!err)
		err = recv_reply(k, CTLMSG_HELLO, 0, st);
	if (!err)
		k->pid = in.hello.pid;
	return err;
}

/* ---- Formatting ---------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* wg's units: "512 B", "1.21 KiB", "3.40 MiB", ... */
static const char *fmt_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
					     "PiB" };
	double v = (double)b;
	unsigned int u = 0;

	if (b < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)b);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.2f %s", v, units[u]);
	return buf;
}

/* "1 day, 2 hours, 3 minutes, 4 seconds ago", as wg's pretty_time. */
static const char *fmt_ago(uint64_t ns, char *buf, size_t len)
{
	static const struct {
		const char *name;
		uint64_t secs;
	} parts[] = {
		{ "day", 86400 },
		{ "hour", 3600 },
		{ "minute", 60 },
		{ "second", 1 },
	};
	uint64_t left = ns / NSEC_PER_SEC;
	size_t off = 0;

	if (!left) {
		snprintf(buf, len, "now");
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		uint64_t n = left / parts[i].secs;

		if (!n)
			continue;
		left %= parts[i].secs;
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
					"%s%llu %s%s", off ? ", " : "",
					(unsigned long long)n, parts[i].name,
					n == 1 ? "" : "s");
	}
	if (off < len)
		snprintf(buf + off, len - off, " ago");
	return buf;
}



/*
 * Certificate names are UTF-8 chosen by whoever ran the CA: control
 * characters are shown as '?' so a name cannot drive the terminal.
 */
static void put_text(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void put_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void put_json_str_or_null(const char *s)
{
	if (s)
		put_json_str(s);
	else
		fputs("null", stdout);
}

static const char *backend_name(uint32_t b)
{
	static const char *const names[] = {
		[CTLMSG_BACKEND_AUTO] = "auto",
		[CTLMSG_BACKEND_XSK] = "xsk",
		[CTLMSG_BACKEND_UDP] = "udp",
		[CTLMSG_BACKEND_DPDK] = "dpdk",
	};

	return b < sizeof(names) / sizeof(names[0]) ? names[b] : "?";
}

static const char *mode_name(uint32_t m)
{
	static const char *const names[] = {
		[CTLMSG_MODE_ADAPTIVE] = "adaptive",
		[CTLMSG_MODE_BUSY] = "busy",
		[CTLMSG_MODE_EVENT] = "event",
	};

	return m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}

/*
 * Drop reasons by index. The dataplane is the same build, so n_drops is
 * DP_DROP_MAX; should it ever know more, the rest still show, by number.
 */
static const char *drop_name(uint32_t d, char *buf, size_t len)
{
	if (d < DP_DROP_MAX)
		return dp_drop_names[d];
	snprintf(buf, len, "REASON_%u", d);
	return buf;
}

static const char *drop_text(uint32_t d)
{
	return d < DP_DROP_MAX ? dp_drop_texts[d] : "(unknown to this dpctl)";
}

/* JSON key for a reason: its name in lower case ("bad_tag"). */
static const char *drop_key(uint32_t d, char *buf, size_t len)
{
	const char *name = drop_name(d, buf, len);
	size_t i;

	if (name != buf)
		snprintf(buf, len, "%s", name);
	for (i = 0; buf[i]; i++)
		if (buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] = (char)(buf[i] - 'A' + 'a');
	return buf;
}

/* ---- show ------------------------------------------------------------------ */

static void add_stats(struct ctlmsg_worker_stats *t,
		      const struct ctlmsg_worker_stats *s, uint32_t n_drops)
{
	t->rx_packets += s->rx_packets;
	t->rx_bytes += s->rx_bytes;
	t->tx_packets += s->tx_packets;
	t->tx_bytes += s->tx_bytes;
	t->tun_rx_packets += s->tun_rx_packets;
	t->tun_rx_bytes += s->tun_rx_bytes;
	t->tun_tx_packets += s->tun_tx_packets;
	t->tun_tx_bytes += s->tun_tx_bytes;
	t->punches += s->punches;
	t->punted += s->punted;
	t->test_replies += s->test_replies;
	t->recv_errors += s->recv_errors;
	t->injected_tun += s->injected_tun;
	t->injected_out += s->injected_out;
	t->tun_rx_frames += s->tun_rx_frames;
	t->tun_rx_gso_frames += s->tun_rx_gso_frames;
	t->tun_rx_segments += s->tun_rx_segments;
	t->tun_tx_writes += s->tun_tx_writes;
	t->tun_tx_supers += s->tun_tx_supers;
	t->tun_tx_coalesced += s->tun_tx_coalesced;
	t->passes += s->passes;
	t->busy_passes += s->busy_passes;
	t->sleeps += s->sleeps;
	t->loop_ns += s->loop_ns;
	t->busy_ns += s->busy_ns;
	for (uint32_t b = 0; b < CTLMSG_BURST_BUCKETS; b++) {
		t->rx_burst_hist[b] += s->rx_burst_hist[b];
		t->tun_burst_hist[b] += s->tun_burst_hist[b];
	}
	t->sealed += s->sealed;
	t->sealed_bytes += s->sealed_bytes;
	t->opened += s->opened;
	t->opened_bytes += s->opened_bytes;
	for (uint32_t d = 0; d < n_drops; d++)
		t->drops[d] += s->drops[d];
	t->port.rx_packets += s->port.rx_packets;
	t->port.rx_bytes += s->port.rx_bytes;
	t->port.tx_packets += s->port.tx_packets;
	t->port.tx_bytes += s->port.tx_bytes;
	t->port.rx_truncated += s->port.rx_truncated;
	t->port.tx_errors += s->port.tx_errors;
	t->port.rx_gro_batches += s->port.rx_gro_batches;
	t->port.tx_gso_batches += s->port.tx_gso_batches;
	t->port.rx_bad_l2 += s->port.rx_bad_l2;
	t->port.rx_bad_l3 += s->port.rx_bad_l3;
	t->port.rx_bad_l4 += s->port.rx_bad_l4;
	t->port.rx_kernel += s->port.rx_kernel;
	t->port.tx_kernel += s->port.tx_kernel;
	t->port.tx_ring_full += s->port.tx_ring_full;
	t->port.tx_kicks += s->port.tx_kicks;
	t->port.tx_kick_errors += s->port.tx_kick_errors;
	t->frames.total += s->frames.total;
	t->frames.free += s->frames.free;
	t->frames.fill += s->frames.fill;
	t->frames.held += s->frames.held;
	t->frames.in_flight += s->frames.in_flight;
	t->frames.rx_dropped += s->frames.rx_dropped;
	t->frames.rx_ring_full += s->frames.rx_ring_full;
	t->frames.fill_ring_empty += s->frames.fill_ring_empty;
	t->frames.tx_invalid += s->frames.tx_invalid;
	t->frames.tx_ring_empty += s->frames.tx_ring_empty;
}

/* xsk: where datagrams went (ring or kernel socket) and who owns each frame. */
static void text_xsk(const struct ctlmsg_worker_stats *s)
{
	const struct ctlmsg_port_stats *p = &s->port;
	const struct ctlmsg_frames *f = &s->frames;

	if (!f->total)
		return;
	printf("  xsk rx: %llu from the ring, %llu from the kernel socket; bad frames l2 %llu, l3 %llu, l4 %llu\n",
	       (unsigned long long)(p->rx_packets - p->rx_kernel),
	       (unsigned long long)p->rx_kernel,
	       (unsigned long long)p->rx_bad_l2,
	       (unsigned long long)p->rx_bad_l3,
	       (unsigned long long)p->rx_bad_l4);
	printf("  xsk tx: %llu on the ring, %llu through the kernel socket (no next hop), %llu ring full; %llu kicks, %llu failed\n",
	       (unsigned long long)(p->tx_packets - p->tx_kernel),
	       (unsigned long long)p->tx_kernel,
	       (unsigned long long)p->tx_ring_full,
	       (unsigned long long)p->tx_kicks,
	       (unsigned long long)p->tx_kick_errors);
	printf("  frames: %u free + %u fill + %u held + %u in flight = %u of %u%s\n",
	       f->free, f->fill, f->held, f->in_flight,
	       f->free + f->fill + f->held + f->in_flight, f->total,
	       f->free + f->fill + f->held + f->in_flight == f->total ?
		       "" :
		       " (snapshot taken while the worker ran)");
	printf("  kernel: %llu rx dropped, %llu rx ring full, %llu fill ring empty, %llu bad tx descriptors\n",
	       (unsigned long long)f->rx_dropped,
	       (unsigned long long)f->rx_ring_full,
	       (unsigned long long)f->fill_ring_empty,
	       (unsigned long long)f->tx_invalid);
}

static uint64_t dropped(const struct ctlmsg_worker_stats *s, uint32_t n_drops)
{
	uint64_t n = 0;

	for (uint32_t d = 0; d < n_drops; d++)
		n += s->drops[d];
	return n;
}

static void text_counters(const struct ctlmsg_worker_stats *s, uint32_t n_drops,
			  bool tun, bool offloads)
{
	char a[32], b[32];

	printf("  nic: %llu packets received (%s), %llu sent (%s)\n",
	       (unsigned long long)s->rx_packets,
	       fmt_bytes(s->rx_bytes, a, sizeof(a)),
	       (unsigned long long)s->tx_packets,
	       fmt_bytes(s->tx_bytes, b, sizeof(b)));
	if (tun)
		printf("  tun: %llu packets written (%s), %llu read (%s)\n",
		       (unsigned long long)s->tun_tx_packets,
		       fmt_bytes(s->tun_tx_bytes, a, sizeof(a)),
		       (unsigned long long)s->tun_rx_packets,
		       fmt_bytes(s->tun_rx_bytes, b, sizeof(b)));
	if (tun && offloads) {
		printf("  tun reads: %llu frames, %llu gso split into %llu segments\n",
		       (unsigned long long)s->tun_rx_frames,
		       (unsigned long long)s->tun_rx_gso_frames,
		       (unsigned long long)s->tun_rx_segments);
		printf("  tun writes: %llu, %llu super-packets of %llu packets\n",
		       (unsigned long long)s->tun_tx_writes,
		       (unsigned long long)s->tun_tx_supers,
		       (unsigned long long)s->tun_tx_coalesced);
	}
	printf("  control plane: %llu punted, %llu test replies, %llu recv_errors sent, %llu punches\n",
	       (unsigned long long)s->punted,
	       (unsigned long long)s->test_replies,
	       (unsigned long long)s->recv_errors,
	       (unsigned long long)s->punches);
	if (s->injected_tun || s->injected_out)
		printf("  injected: %llu to the tun, %llu into the overlay\n",
		       (unsigned long long)s->injected_tun,
		       (unsigned long long)s->injected_out);
	printf("  port: %llu truncated, %llu send errors, %llu gro batches, %llu gso batches\n",
	       (unsigned long long)s->port.rx_truncated,
	       (unsigned long long)s->port.tx_errors,
	       (unsigned long long)s->port.rx_gro_batches,
	       (unsigned long long)s->port.tx_gso_batches);
	printf("  dropped: %llu\n", (unsigned long long)dropped(s, n_drops));
}

/* VPP `show errors`: nonzero reasons only, largest first. */
static void text_drops(const struct ctlmsg_worker_stats *t, uint32_t n_drops)
{
	uint32_t order[CTLMSG_DROPS_MAX], n = 0;
	char name[32];

	for (uint32_t d = 0; d < n_drops; d++)
		if (t->drops[d])
			order[n++] = d;
	if (!n) {
		printf("drops: none\n");
		return;
	}
	/* Insertion sort: at most CTLMSG_DROPS_MAX entries. */
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i;
		     j && t->drops[order[j]] > t->drops[order[j - 1]]; j--) {
			uint32_t x = order[j];

			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	printf("drops:\n%12s  %-16s  %s\n", "Count", "Reason", "Description");
	for (uint32_t i = 0; i < n; i++)
		printf("%12llu  %-16s  %s\n",
		       (unsigned long long)t->drops[order[i]],
		       drop_name(order[i], name, sizeof(name)),
		       drop_text(order[i]));
}

/* TUN_F_* as names, "csum tso4 ..."; "none" for a plain TUN. */
static const char *offload_names(uint32_t f, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ TUN_F_CSUM, "csum" }, { TUN_F_TSO4, "tso4" },
		{ TUN_F_TSO6, "tso6" }, { TUN_F_TSO_ECN, "ecn" },
		{ TUN_F_USO4, "uso4" }, { TUN_F_USO6, "uso6" },
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
						off ? " " : "", names[i].name);
	return off ? buf : "none";
}

/* Where the counters start: SETUP, or the last `dpctl clear`. */
static void text_since(const struct ctlmsg_stats_reply *r)
{
	char ago[96];

	if (!r->clears) {
		printf("  counters: since SETUP\n");
		return;
	}
	printf("  counters: since clear %u, %s\n", r->clears,
	       fmt_ago(r->cleared_ns_ago, ago, sizeof(ago)));
}

static void show_text(const struct conn *k, const struct ctlmsg_stats_reply *r,
		      const struct ctlmsg_worker_stats *t)
{
	char offs[64];

	bool tun = r->tun_dev[0] != '\0';

	printf("dataplane: pid %u\n", k->pid);
	if (!r->set_up) {
		printf("  state: waiting for SETUP from vela-control\n");
		printf("  tunnels: %u\n", r->n_tunnels);
		return;
	}
	printf("  backend: %s\n", backend_name(r->backend));
	printf("  mode: %s\n", mode_name(r->mode));
	printf("  workers: %u\n", r->workers);
	printf("  queues: %u nic, %u tun\n", r->workers, tun ? r->workers : 0);
	printf("  tun: %s%s\n", tun ? r->tun_dev : "(disabled)",
	       tun && r->tun_handed_over ? " (handed over: VELA_TUN_FD)" : "");
	if (tun) {
		printf("  tun link: %s, %s, mtu %u\n",
		       r->tun_flags & CTLMSG_TUN_UP ? "up" : "down",
		       r->tun_flags & CTLMSG_TUN_RUNNING ? "running" :
							   "not running",
		       r->tun_mtu);
		printf("  tun offloads: %s\n",
		       offload_names(r->tun_offloads, offs, sizeof(offs)));
	}
	printf("  listening port: %u\n", r->port);
	if (r->interface[0]) {
		printf("  interface: %.16s, XDP %s mode, %llu next hops\n",
		       r->interface, dp_xdp_mode_name(r->xdp_mode),
		       (unsigned long long)r->nh_entries);
		printf("  xdp:");
		for (uint32_t x = 0; x < r->n_xdp && x < DP_XDP_COUNTERS; x++)
			printf(" %s %llu", dp_xdp_counter_name(x),
			       (unsigned long long)r->xdp_packets[x]);
		printf("\n");
	}
	printf("  tunnels: %u\n", r->n_tunnels);
	if (r->fw_gen)
		printf("  firewall: generation %u, %u inbound rules, %u outbound rules\n",
		       r->fw_gen, r->fw_rules_in, r->fw_rules_out);
	else
		printf("  firewall: no rules loaded (nothing passes)\n");
	printf("  flows: %llu created, %llu evicted, %llu expired, table of %llu\n",
	       (unsigned long long)r->flows_created,
	       (unsigned long long)r->flows_evicted,
	       (unsigned long long)r->flows_expired,
	       (unsigned long long)r->flows_capacity);
	/* The control thread's own work: what reaches vela-control. */
	printf("  punts: %llu forwarded, %llu dropped (no control connection, or it was full)\n",
	       (unsigned long long)r->punts_sent,
	       (unsigned long long)r->punts_dropped);
	printf("  injects: %llu queued, %llu refused (queue full)\n",
	       (unsigned long long)r->injects_queued,
	       (unsigned long long)r->injects_full);
	printf("  lease requests: %llu\n",
	       (unsigned long long)r->lease_requests);
	printf("  messages refused: %llu\n", (unsigned long long)r->rejects);
	text_since(r);

	for (uint32_t w = 0; w < r->workers; w++) {
		if (tun)
			printf("\nworker %u: nic queue %u, tun queue %u\n", w,
			       w, w);
		else
			printf("\nworker %u: nic queue %u\n", w, w);
		text_counters(&r->worker[w], r->n_drops, tun,
			      r->tun_offloads != 0);
		text_xsk(&r->worker[w]);
	}
	printf("\ntotal:\n");
	text_counters(t, r->n_drops, tun, r->tun_offloads != 0);
	text_xsk(t);
	printf("\n");
	text_drops(t, r->n_drops);
}

static void json_u64(const char *ind, const char *key, uint64_t v)
{
	printf("%s\"%s\": %llu,\n", ind, key, (unsigned long long)v);
}

static void json_counters(const struct ctlmsg_worker_stats *s, uint32_t n_drops,
			  const char *ind)
{
	char key[32];

	json_u64(ind, "rx_packets", s->rx_packets);
	json_u64(ind, "rx_bytes", s->rx_bytes);
	json_u64(ind, "tx_packets", s->tx_packets);
	json_u64(ind, "tx_bytes", s->tx_bytes);
	json_u64(ind, "tun_rx_packets", s->tun_rx_packets);
	json_u64(ind, "tun_rx_bytes", s->tun_rx_bytes);
	json_u64(ind, "tun_tx_packets", s->tun_tx_packets);
	json_u64(ind, "tun_tx_bytes", s->tun_tx_bytes);
	json_u64(ind, "punches", s->punches);
	json_u64(ind, "punted", s->punted);
	json_u64(ind, "test_replies", s->test_replies);
	json_u64(ind, "recv_errors", s->recv_errors);
	json_u64(ind, "injected_tun", s->injected_tun);
	json_u64(ind, "injected_out", s->injected_out);
	json_u64(ind, "tun_rx_frames", s->tun_rx_frames);
	json_u64(ind, "tun_rx_gso_frames", s->tun_rx_gso_frames);
	json_u64(ind, "tun_rx_segments", s->tun_rx_segments);
	json_u64(ind, "tun_tx_writes", s->tun_tx_writes);
	json_u64(ind, "tun_tx_supers", s->tun_tx_supers);
	json_u64(ind, "tun_tx_coalesced", s->tun_tx_coalesced);
	json_u64(ind, "dropped", dropped(s, n_drops));
	printf("%s\"drops\": {", ind);
	for (uint32_t d = 0; d < n_drops; d++)
		printf("%s\n%s  \"%s\": %llu", d ? "," : "", ind,
		       drop_key(d, key, sizeof(key)),
		       (unsigned long long)s->drops[d]);
	printf("\n%s},\n", ind);
	printf("%s\"port\": {\n", ind);
	printf("%s  \"rx_packets\": %llu,\n%s  \"rx_bytes\": %llu,\n", ind,
	       (unsigned long long)s->port.rx_packets, ind,
	       (unsigned long long)s->port.rx_bytes);
	printf("%s  \"tx_packets\": %llu,\n%s  \"tx_bytes\": %llu,\n", ind,
	       (unsigned long long)s->port.tx_packets, ind,
	       (unsigned long long)s->port.tx_bytes);
	printf("%s  \"rx_truncated\": %llu,\n%s  \"tx_errors\": %llu,\n", ind,
	       (unsigned long long)s->port.rx_truncated, ind,
	       (unsigned long long)s->port.tx_errors);
	printf("%s  \"rx_gro_batches\": %llu,\n%s  \"tx_gso_batches\": %llu,\n",
	       ind, (unsigned long long)s->port.rx_gro_batches, ind,
	       (unsigned long long)s->port.tx_gso_batches);
	json_u64(ind, "  rx_kernel", s->port.rx_kernel);
	json_u64(ind, "  rx_bad_l2", s->port.rx_bad_l2);
	json_u64(ind, "  rx_bad_l3", s->port.rx_bad_l3);
	json_u64(ind, "  rx_bad_l4", s->port.rx_bad_l4);
	json_u64(ind, "  tx_kernel", s->port.tx_kernel);
	json_u64(ind, "  tx_ring_full", s->port.tx_ring_full);
	json_u64(ind, "  tx_kicks", s->port.tx_kicks);
	printf("%s  \"tx_kick_errors\": %llu\n", ind,
	       (unsigned long long)s->port.tx_kick_errors);
	printf("%s},\n", ind);
	/* xsk frame accounting; all zero for udp. */
	printf("%s\"frames\": {\"total\": %u, \"free\": %u, \"fill\": %u, \"held\": %u, \"in_flight\": %u, \"rx_dropped\": %llu, \"rx_ring_full\": %llu, \"fill_ring_empty\": %llu, \"tx_invalid\": %llu}\n",
	       ind, s->frames.total, s->frames.free, s->frames.fill,
	       s->frames.held, s->frames.in_flight,
	       (unsigned long long)s->frames.rx_dropped,
	       (unsigned long long)s->frames.rx_ring_full,
	       (unsigned long long)s->frames.fill_ring_empty,
	       (unsigned long long)s->frames.tx_invalid);
}

static void show_json(const struct conn *k, const struct ctlmsg_stats_reply *r,
		      const struct ctlmsg_worker_stats *t)
{
	bool tun = r->tun_dev[0] != '\0';
	char offs[64];

	printf("{\n  \"pid\": %u,\n  \"set_up\": %s,\n", k->pid,
	       r->set_up ? "true" : "false");
	printf("  \"backend\": ");
	put_json_str_or_null(r->set_up ? backend_name(r->backend) : NULL);
	printf(",\n  \"mode\": ");
	put_json_str_or_null(r->set_up ? mode_name(r->mode) : NULL);
	printf(",\n  \"workers\": %u,\n  \"nic_queues\": %u,\n  \"tun_queues\": %u,\n",
	       r->workers, r->workers, tun ? r->workers : 0);
	printf("  \"tun\": ");
	put_json_str_or_null(tun ? r->tun_dev : NULL);
	printf(",\n  \"tun_offloads\": ");
	put_json_str_or_null(tun ? offload_names(r->tun_offloads, offs,
						 sizeof(offs)) :
				   NULL);
	if (tun)
		printf(",\n  \"tun_mtu\": %u,\n  \"tun_up\": %s,\n  \"tun_running\": %s",
		       r->tun_mtu,
		       r->tun_flags & CTLMSG_TUN_UP ? "true" : "false",
		       r->tun_flags & CTLMSG_TUN_RUNNING ? "true" : "false");
	else
		printf(",\n  \"tun_mtu\": null,\n  \"tun_up\": null,\n  \"tun_running\": null");
	printf(",\n  \"tun_handed_over\": %s",
	       tun && r->tun_handed_over ? "true" : "false");
	if (r->set_up)
		printf(",\n  \"listen_port\": %u,\n", r->port);
	else
		printf(",\n  \"listen_port\": null,\n");
	printf("  \"tunnels\": %u,\n", r->n_tunnels);
	if (r->fw_gen)
		printf("  \"firewall\": {\"generation\": %u, \"inbound_rules\": %u, \"outbound_rules\": %u},\n",
		       r->fw_gen, r->fw_rules_in, r->fw_rules_out);
	else
		printf("  \"firewall\": null,\n");
	printf("  \"flows\": {\"capacity\": %llu, \"created\": %llu, \"evicted\": %llu, \"expired\": %llu},\n",
	       (unsigned long long)r->flows_capacity,
	       (unsigned long long)r->flows_created,
	       (unsigned long long)r->flows_evicted,
	       (unsigned long long)r->flows_expired);
	printf("  \"interface\": ");
	put_json_str_or_null(r->interface[0] ? r->interface : NULL);
	printf(",\n  \"xdp\": ");
	if (r->interface[0]) {
		printf("{\"mode\": \"%s\", \"next_hops\": %llu",
		       dp_xdp_mode_name(r->xdp_mode),
		       (unsigned long long)r->nh_entries);
		for (uint32_t x = 0; x < r->n_xdp && x < DP_XDP_COUNTERS; x++)
			printf(", \"%s\": %llu", dp_xdp_counter_name(x),
			       (unsigned long long)r->xdp_packets[x]);
		printf("},\n");
	} else {
		printf("null,\n");
	}
	printf("  \"control\": {\n"
	       "    \"messages_refused\": %llu,\n"
	       "    \"punts_forwarded\": %llu,\n"
	       "    \"punts_dropped\": %llu,\n"
	       "    \"injects_queued\": %llu,\n"
	       "    \"injects_refused\": %llu,\n"
	       "    \"lease_requests\": %llu\n  },\n",
	       (unsigned long long)r->rejects,
	       (unsigned long long)r->punts_sent,
	       (unsigned long long)r->punts_dropped,
	       (unsigned long long)r->injects_queued,
	       (unsigned long long)r->injects_full,
	       (unsigned long long)r->lease_requests);
	printf("  \"clears\": %u,\n  \"cleared_ms_ago\": ", r->clears);
	if (r->clears)
		printf("%llu,\n",
		       (unsigned long long)(r->cleared_ns_ago / 1000000));
	else
		printf("null,\n");
	printf("  \"per_worker\": [");
	for (uint32_t w = 0; w < r->workers; w++) {
		printf("%s\n    {\n      \"worker\": %u,\n      \"nic_queue\": %u,\n",
		       w ? "," : "", w, w);
		if (tun)
			printf("      \"tun_queue\": %u,\n", w);
		else
			printf("      \"tun_queue\": null,\n");
		json_counters(&r->worker[w], r->n_drops, "      ");
		printf("    }");
	}
	printf("%s],\n  \"total\": {\n", r->workers ? "\n  " : "");
	json_counters(t, r->n_drops, "    ");
	printf("  }\n}\n");
}

/*
 * @type (STATS or CLEAR) and its STATS_REPLY into @r, checked, with the
 * sum over the workers in @t.
 */
static int fetch_stats(struct conn *k, uint16_t type,
		       struct ctlmsg_stats_reply *r,
		       struct ctlmsg_worker_stats *t, struct vl_status *st)
{
	int err = request(k, type, st);

	if (!err)
		err = recv_reply(k, CTLMSG_STATS_REPLY, 0, st);
	if (err)
		return err;
	*r = in.stats;
	/* Bounds before use: the counts index arrays here. */
	if (r->workers > CTLMSG_WORKERS_MAX || r->n_drops > CTLMSG_DROPS_MAX)
		return vl_status_set(
			st, -EPROTO,
			"STATS_REPLY with %u workers and %u drop reasons",
			r->workers, r->n_drops);
	r->tun_dev[sizeof(r->tun_dev) - 1] = '\0';
	memset(t, 0, sizeof(*t));
	for (uint32_t w = 0; w < r->workers; w++)
		add_stats(t, &r->worker[w], r->n_drops);
	return 0;
}

static int cmd_show(struct conn *k, bool json, struct vl_status *st)
{
	static struct ctlmsg_stats_reply r;
	static struct ctlmsg_worker_stats t;
	int err = fetch_stats(k, CTLMSG_STATS, &r, &t, st);

	if (err)
		return err;
	if (json)
		show_json(k, &r, &t);
	else
		show_text(k, &r, &t);
	return 0;
}

/* ---- tunnels ------------------------------------------------------------- */

/*
 * The peer's certificate name from the blob the control plane installed
 * with the tunnel (RawNebulaCertificate bytes). NULL, with why in @why,
 * when there is none or it does not decode.
 */
static char *cert_name(const struct ctlmsg_tunnel_add *t, char *why, size_t len)
{
	struct vl_status st = { "" };
	struct ctl_cert *c;
	char *name;

	if (!t->cert_len || t->cert_len > sizeof(t->cert)) {
		snprintf(why, len, "(no certificate)");
		return NULL;
	}
	if (ctl_cert_decode(t->cert, t->cert_len, &c, &st)) {
		snprintf(why, len, "(unreadable certificate: %s)", st.msg);
		return NULL;
	}
	name = strdup(c->name);
	ctl_cert_free(c);
	if (!name)
		snprintf(why, len, "(out of memory)");
	return name;
}

static void tunnel_text(const struct ctlmsg_dump_tunnel *d, uint64_t now)
{
	const struct ctlmsg_tunnel_add *t = &d->tunnel;
	char why[VL_STATUS_MAX + 32], ip[INET_ADDRSTRLEN];
	char addr[INET6_ADDRSTRLEN + 8], a[32], b[32], ago[96];
	char *name = cert_name(t, why, sizeof(why));
	const char *remote = vl_addr_format(&t->remote, addr, sizeof(addr));

	printf("tunnel: ");
	put_text(name ? name : why);
	printf("\n  vpn ip: %s\n", vl_ip4_format(t->vpn_ip, ip, sizeof(ip)));
	printf("  endpoint: %s\n", remote ? remote : "(none)");
	printf("  indexes: local %08x, remote %08x\n", t->local_index,
	       t->remote_index);
	printf("  cipher: %s\n", vl_cipher_name((enum vl_cipher)t->cipher));
	if (d->last_rx_ns)
		printf("  latest activity: %s\n",
		       fmt_ago(now > d->last_rx_ns ? now - d->last_rx_ns : 0,
			       ago, sizeof(ago)));
	else
		printf("  latest activity: (none)\n");
	printf("  transfer: %s received, %s sent\n",
	       fmt_bytes(d->rx_bytes, a, sizeof(a)),
	       fmt_bytes(d->tx_bytes, b, sizeof(b)));
	printf("  packets: %llu received, %llu sent\n",
	       (unsigned long long)d->rx_packets,
	       (unsigned long long)d->tx_packets);
	free(name);
}

static void put_json_ago(uint64_t then, uint64_t now)
{
	if (!then)
		fputs("null", stdout);
	else
		printf("%llu",
		       (unsigned long long)(now > then ?
						    (now - then) / 1000000 :
						    0));
}

static void tunnel_json(const struct ctlmsg_dump_tunnel *d, uint64_t now)
{
	const struct ctlmsg_tunnel_add *t = &d->tunnel;
	char why[VL_STATUS_MAX + 32], ip[INET_ADDRSTRLEN];
	char addr[INET6_ADDRSTRLEN + 8];
	char *name = cert_name(t, why, sizeof(why));

	printf("    {\n      \"name\": ");
	put_json_str_or_null(name);
	printf(",\n      \"vpn_ip\": \"%s\",\n      \"remote\": ",
	       vl_ip4_format(t->vpn_ip, ip, sizeof(ip)));
	put_json_str_or_null(vl_addr_format(&t->remote, addr, sizeof(addr)));
	printf(",\n      \"local_index\": %u,\n      \"remote_index\": %u,\n",
	       t->local_index, t->remote_index);
	printf("      \"cipher\": ");
	put_json_str(vl_cipher_name((enum vl_cipher)t->cipher));
	printf(",\n      \"rx_packets\": %llu,\n      \"rx_bytes\": %llu,\n",
	       (unsigned long long)d->rx_packets,
	       (unsigned long long)d->rx_bytes);
	printf("      \"tx_packets\": %llu,\n      \"tx_bytes\": %llu,\n",
	       (unsigned long long)d->tx_packets,
	       (unsigned long long)d->tx_bytes);
	printf("      \"last_rx_ms_ago\": ");
	put_json_ago(d->last_rx_ns, now);
	printf(",\n      \"last_tx_ms_ago\": ");
	put_json_ago(d->last_tx_ns, now);
	printf(",\n      \"send_counter\": %llu,\n      \"lease_end\": %llu,\n      \"recv_max\": %llu\n    }",
	       (unsigned long long)t->send_counter,
	       (unsigned long long)t->lease_end,
	       (unsigned long long)t->recv_max);
	free(name);
}

static int cmd_tunnels(struct conn *k, bool json, struct vl_status *st)
{
	struct ctlmsg_dump_tunnel *all = NULL;
	size_t n = 0, cap = 0;
	uint64_t now;
	int err = request(k, CTLMSG_DUMP, st);

	/* All of them first: a half-printed list helps nobody. */
	while (!err) {
		err = recv_reply(k, CTLMSG_DUMP_TUNNEL, CTLMSG_DUMP_END, st);
		if (err || in.hdr.type == CTLMSG_DUMP_END)
			break;
		if (n == cap) {
			size_t c = cap ? 2 * cap : 16;
			struct ctlmsg_dump_tunnel *m =
				realloc(all, c * sizeof(*m));

			if (!m) {
				err = vl_status_set(st, -ENOMEM,
						    "out of memory");
				break;
			}
			all = m;
			cap = c;
		}
		all[n++] = in.dump;
	}
	if (err) {
		free(all);
		return err;
	}
	now = now_ns();
	if (json) {
		printf("{\n  \"tunnels\": [");
		for (size_t i = 0; i < n; i++) {
			printf("%s\n", i ? "," : "");
			tunnel_json(&all[i], now);
		}
		printf("%s]\n}\n", n ? "\n  " : "");
	} else if (!n) {
		printf("no tunnels\n");
	} else {
		for (size_t i = 0; i < n; i++) {
			if (i)
				printf("\n");
			tunnel_text(&all[i], now);
		}
	}
	free(all);
	return 0;
}

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	default:
		snprintf(buf, len, "%u", p);
		return buf;
	}
}

/* "10.0.0.1:443", or "10.0.0.1 frag" for non-first fragments (no ports). */
static const char *endpoint(uint32_t ip, uint16_t port, const struct ctlmsg_flow *f,
			    char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	vl_ip4_format(ip, a, sizeof(a));
	if (f->fragment)
		snprintf(buf, len, "%s frag", a);
	else if (f->proto == 1)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s:%u", a, port);
	return buf;
}

static void flow_text(const struct ctlmsg_flow *f)
{
	char p[8], l[40], r[40], ib[32], ob[32];

	printf("%-5s %-22s %-22s %8llu %10s %8llu %10s %8.1f %8.0f\n",
	       proto_name(f->proto, p, sizeof(p)),
	       endpoint(f->local_ip, f->local_port, f, l, sizeof(l)),
	       endpoint(f->remote_ip, f->remote_port, f, r, sizeof(r)),
	       (unsigned long long)f->in_packets,
	       fmt_bytes(f->in_bytes, ib, sizeof(ib)),
	       (unsigned long long)f->out_packets,
	       fmt_bytes(f->out_bytes, ob, sizeof(ob)),
	       (double)f->idle_ns / NSEC_PER_SEC,
	       (double)f->expires_ns / NSEC_PER_SEC);
}

static void flow_json(const struct ctlmsg_flow *f)
{
	char p[8], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	printf("    {\"proto\": \"%s\", \"local_ip\": \"%s\", \"local_port\": %u, "
	       "\"remote_ip\": \"%s\", \"remote_port\": %u, \"fragment\": %s,\n"
	       "     \"in_packets\": %llu, \"in_bytes\": %llu, "
	       "\"out_packets\": %llu, \"out_bytes\": %llu,\n"
	       "     \"age_ms\": %llu, \"idle_ms\": %llu, \"expires_ms\": %llu, "
	       "\"rules_generation\": %u}",
	       proto_name(f->proto, p, sizeof(p)),
	       vl_ip4_format(f->local_ip, a, sizeof(a)), f->local_port,
	       vl_ip4_format(f->remote_ip, b, sizeof(b)), f->remote_port,
	       f->fragment ? "true" : "false",
	       (unsigned long long)f->in_packets,
	       (unsigned long long)f->in_bytes,
	       (unsigned long long)f->out_packets,
	       (unsigned long long)f->out_bytes,
	       (unsigned long long)(f->age_ns / 1000000),
	       (unsigned long long)(f->idle_ns / 1000000),
	       (unsigned long long)(f->expires_ns / 1000000), f->gen);
}

/*
 * The flow table, one line a connection, like `conntrack -L` with
 * counters. Records are printed as they come: the table may be large, and
 * a flow is in the answer once however the walk and the traffic interleave.
 */
static int cmd_flows(struct conn *k, bool json, struct vl_status *st)
{
	struct ctlmsg_flows m = {
		.hdr = { .version = CTLMSG_VERSION,
			 .type = CTLMSG_FLOWS,
			 .len = sizeof(m),
			 .seq = ++k->seq },
		.reset = zero_flows,
	};
	uint64_t n = 0;
	int err = send_req(k, &m, sizeof(m), st);

	while (!err) {
		err = recv_reply(k, CTLMSG_FLOWS_REPLY, 0, st);
		if (err)
			break;
		if (!n && json)
			printf("{\n  \"flows\": [");
		else if (!n && in.flows.n)
			printf("%-5s %-22s %-22s %8s %10s %8s %10s %8s %8s\n",
			       "proto", "local", "remote", "in pkts", "in",
			       "out pkts", "out", "idle s", "expire s");
		for (uint32_t i = 0; i < in.flows.n; i++, n++) {
			if (json) {
				printf("%s\n", n ? "," : "");
				flow_json(&in.flows.flow[i]);
			} else {
				flow_text(&in.flows.flow[i]);
			}
		}
		if (!in.flows.last)
			continue;
		if (json)
			printf("%s],\n  \"count\": %llu, \"capacity\": %llu, "
			       "\"created\": %llu, \"evicted\": %llu, "
			       "\"expired\": %llu, \"removed\": %llu, "
			       "\"zeroed\": %s\n}\n",
			       n ? "\n  " : "", (unsigned long long)n,
			       (unsigned long long)in.flows.capacity,
			       (unsigned long long)in.flows.created,
			       (unsigned long long)in.flows.evicted,
			       (unsigned long long)in.flows.expired,
			       (unsigned long long)in.flows.removed,
			       zero_flows ? "true" : "false");
		else
			printf("%s%llu flows of %llu (created %llu, evicted %llu, expired %llu, removed %llu)%s\n",
			       n ? "\n" : "", (unsigned long long)n,
			       (unsigned long long)in.flows.capacity,
			       (unsigned long long)in.flows.created,
			       (unsigned long long)in.flows.evicted,
			       (unsigned long long)in.flows.expired,
			       (unsigned long long)in.flows.removed,
			       zero_flows ? "; counters zeroed" : "");
		break;
	}
	return err;
}

/* ---- workers -------------------------------------------------------------- */

/* "1", "2-3", ... "64": bucket b holds 2^b to 2^(b+1) - 1 packets. */
static const char *bucket_label(uint32_t b, char *buf, size_t len)
{
	uint32_t lo = 1u << b, hi = (2u << b) - 1;

	if (b == CTLMSG_BURST_BUCKETS - 1 || lo == hi)
		snprintf(buf, len, "%u", lo);
	else
		snprintf(buf, len, "%u-%u", lo, hi);
	return buf;
}

static uint64_t hist_sum(const uint64_t *h)
{
	uint64_t n = 0;

	for (uint32_t b = 0; b < CTLMSG_BURST_BUCKETS; b++)
		n += h[b];
	return n;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* Packets the TUN reads returned: injected ones go through outbound too. */
static uint64_t tun_read_packets(const struct ctlmsg_worker_stats *s)
{
	return s->tun_rx_packets > s->injected_out ?
		       s->tun_rx_packets - s->injected_out :
		       0;
}

static void text_hist_row(const char *name, const uint64_t *h, uint64_t packets)
{
	uint64_t bursts = hist_sum(h);

	printf("  %-8s", name);
	for (uint32_t b = 0; b < CTLMSG_BURST_BUCKETS; b++)
		printf(" %8llu", (unsigned long long)h[b]);
	printf(" %9llu %10llu %9.2f\n", (unsigned long long)bursts,
	       (unsigned long long)packets, ratio(packets, bursts));
}

static void text_runtime(const struct ctlmsg_worker_stats *s, bool tun,
			 uint32_t bad_tag)
{
	char label[16], a[32], b[32];

	printf("  busy: %.2f%% of %.2f s (%llu of %llu passes moved packets), %llu sleeps\n",
	       100.0 * ratio(s->busy_ns, s->loop_ns), (double)s->loop_ns / 1e9,
	       (unsigned long long)s->busy_passes,
	       (unsigned long long)s->passes, (unsigned long long)s->sleeps);
	printf("  %-8s", "bursts");
	for (uint32_t k = 0; k < CTLMSG_BURST_BUCKETS; k++)
		printf(" %8s", bucket_label(k, label, sizeof(label)));
	printf(" %9s %10s %9s\n", "bursts", "packets", "per burst");
	text_hist_row("nic rx", s->rx_burst_hist, s->rx_packets);
	if (tun)
		text_hist_row("tun read", s->tun_burst_hist,
			      tun_read_packets(s));
	printf("  crypto: %llu sealed (%s), %llu opened (%s), %llu failed to open\n",
	       (unsigned long long)s->sealed,
	       fmt_bytes(s->sealed_bytes, a, sizeof(a)),
	       (unsigned long long)s->opened,
	       fmt_bytes(s->opened_bytes, b, sizeof(b)),
	       (unsigned long long)s->drops[bad_tag]);
}

static void json_hist(const char *key, const uint64_t *h, uint64_t packets,
		      const char *ind)
{
	char label[16];
	uint64_t bursts = hist_sum(h);

	printf("%s\"%s\": {\"bursts\": %llu, \"packets\": %llu, \"per_burst\": %.3f, \"sizes\": {",
	       ind, key, (unsigned long long)bursts,
	       (unsigned long long)packets, ratio(packets, bursts));
	for (uint32_t b = 0; b < CTLMSG_BURST_BUCKETS; b++)
		printf("%s\"%s\": %llu", b ? ", " : "",
		       bucket_label(b, label, sizeof(label)),
		       (unsigned long long)h[b]);
	printf("}},\n");
}

static void json_runtime(const struct ctlmsg_worker_stats *s, bool tun,
			 uint32_t bad_tag, const char *ind)
{
	json_u64(ind, "passes", s->passes);
	json_u64(ind, "busy_passes", s->busy_passes);
	json_u64(ind, "sleeps", s->sleeps);
	json_u64(ind, "loop_ns", s->loop_ns);
	json_u64(ind, "busy_ns", s->busy_ns);
	printf("%s\"busy_share\": %.6f,\n", ind, ratio(s->busy_ns, s->loop_ns));
	json_hist("nic_rx", s->rx_burst_hist, s->rx_packets, ind);
	if (tun)
		json_hist("tun_read", s->tun_burst_hist, tun_read_packets(s),
			  ind);
	else
		printf("%s\"tun_read\": null,\n", ind);
	printf("%s\"crypto\": {\"sealed\": %llu, \"sealed_bytes\": %llu, \"opened\": %llu, \"opened_bytes\": %llu, \"open_failed\": %llu}\n",
	       ind, (unsigned long long)s->sealed,
	       (unsigned long long)s->sealed_bytes,
	       (unsigned long long)s->opened,
	       (unsigned long long)s->opened_bytes,
	       (unsigned long long)s->drops[bad_tag]);
}

/*
 * Per worker, what its loop did, after VPP's `show runtime` (calls,
 * vectors, vectors/call): the share of wall time in passes that moved
 * packets, how full the bursts were, and the AEAD work.
 */
static int cmd_workers(struct conn *k, bool json, struct vl_status *st)
{
	static struct ctlmsg_stats_reply r;
	static struct ctlmsg_worker_stats t;
	bool tun;
	int err = fetch_stats(k, CTLMSG_STATS, &r, &t, st);

	if (err)
		return err;
	tun = r.tun_dev[0] != '\0';
	if (json) {
		char label[16];

		printf("{\n  \"mode\": ");
		put_json_str_or_null(r.set_up ? mode_name(r.mode) : NULL);
		printf(",\n  \"burst_sizes\": [");
		for (uint32_t b = 0; b < CTLMSG_BURST_BUCKETS; b++)
			printf("%s\"%s\"", b ? ", " : "",
			       bucket_label(b, label, sizeof(label)));
		printf("],\n  \"per_worker\": [");
		for (uint32_t w = 0; w < r.workers; w++) {
			printf("%s\n    {\n      \"worker\": %u,\n      \"nic_queue\": %u,\n",
			       w ? "," : "", w, w);
			if (tun)
				printf("      \"tun_queue\": %u,\n", w);
			else
				printf("      \"tun_queue\": null,\n");
			printf("      \"mode\": \"%s\",\n", mode_name(r.mode));
			json_runtime(&r.worker[w], tun, DP_DROP_BAD_TAG,
				     "      ");
			printf("    }");
		}
		printf("%s],\n  \"total\": {\n", r.workers ? "\n  " : "");
		json_runtime(&t, tun, DP_DROP_BAD_TAG, "    ");
		printf("  }\n}\n");
		return 0;
	}
	if (!r.set_up) {
		printf("no workers: waiting for SETUP from vela-control\n");
		return 0;
	}
	for (uint32_t w = 0; w < r.workers; w++) {
		if (tun)
			printf("worker %u: nic queue %u, tun queue %u, mode %s\n",
			       w, w, w, mode_name(r.mode));
		else
			printf("worker %u: nic queue %u, mode %s\n", w, w,
			       mode_name(r.mode));
		text_runtime(&r.worker[w], tun, DP_DROP_BAD_TAG);
		printf("\n");
	}
	printf("total:\n");
	text_runtime(&t, tun, DP_DROP_BAD_TAG);
	return 0;
}

/* ---- drops ------------------------------------------------------------------- */

/*
 * VPP `show errors`, nonzero reasons largest first as in `show`, with a
 * column per worker under -v.
 */
static void drops_text(const struct ctlmsg_stats_reply *r,
		       const struct ctlmsg_worker_stats *t)
{
	uint32_t order[CTLMSG_DROPS_MAX], n = 0;
	char name[32], col[24];

	for (uint32_t d = 0; d < r->n_drops; d++)
		if (t->drops[d])
			order[n++] = d;
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i;
		     j && t->drops[order[j]] > t->drops[order[j - 1]]; j--) {
			uint32_t x = order[j];

			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	printf("%12s", "Count");
	if (verbose_drops)
		for (uint32_t w = 0; w < r->workers; w++) {
			snprintf(col, sizeof(col), "worker %u", w);
			printf("  %10s", col);
		}
	printf("  %-16s  %s\n", "Reason", "Description");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t d = order[i];

		printf("%12llu", (unsigned long long)t->drops[d]);
		if (verbose_drops)
			for (uint32_t w = 0; w < r->workers; w++)
				printf("  %10llu",
				       (unsigned long long)r->worker[w]
					       .drops[d]);
		printf("  %-16s  %s\n", drop_name(d, name, sizeof(name)),
		       drop_text(d));
	}
	if (!n)
		printf("%12s  (no drops)\n", "0");
	printf("\n%llu dropped\n", (unsigned long long)dropped(t, r->n_drops));
}

static void drops_json(const struct ctlmsg_stats_reply *r,
		       const struct ctlmsg_worker_stats *t)
{
	char key[32], name[32];

	printf("{\n  \"dropped\": %llu,\n  \"reasons\": [",
	       (unsigned long long)dropped(t, r->n_drops));
	for (uint32_t d = 0; d < r->n_drops; d++) {
		printf("%s\n    {\"reason\": \"%s\", \"name\": \"%s\", \"description\": ",
		       d ? "," : "", drop_key(d, key, sizeof(key)),
		       drop_name(d, name, sizeof(name)));
		put_json_str(drop_text(d));
		printf(", \"count\": %llu, \"per_worker\": [",
		       (unsigned long long)t->drops[d]);
		for (uint32_t w = 0; w < r->workers; w++)
			printf("%s%llu", w ? ", " : "",
			       (unsigned long long)r->worker[w].drops[d]);
		printf("]}");
	}
	printf("%s]\n}\n", r->n_drops ? "\n  " : "");
}

/* Every drop reason with its count, summed over the workers. */
static int cmd_drops(struct conn *k, bool json, struct vl_status *st)
{
	static struct ctlmsg_stats_reply r;
	static struct ctlmsg_worker_stats t;
	int err = fetch_stats(k, CTLMSG_STATS, &r, &t, st);

	if (err)
		return err;
	if (json)
		drops_json(&r, &t);
	else
		drops_text(&r, &t);
	return 0;
}

/* ---- stats -w ---------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* "1.5 Mbit/s": SI units, as ifstat and iperf3 print rates. */
static const char *fmt_bits(double bps, char *buf, size_t len)
{
	static const char *const units[] = { "bit/s", "kbit/s", "Mbit/s",
					     "Gbit/s", "Tbit/s" };
	unsigned int u = 0;

	while (bps >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bps /= 1000;
		u++;
	}
	snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", bps, units[u]);
	return buf;
}

/* b - a, 0 if the counter went back (a CLEAR in between). */
static double delta(uint64_t a, uint64_t b)
{
	return b > a ? (double)(b - a) : 0.0;
}

struct rates {
	double rx_pps, rx_bps, tx_pps, tx_bps;
	double tun_rx_pps, tun_rx_bps, tun_tx_pps, tun_tx_bps;
	double drops_ps;
};

static void rates(const struct ctlmsg_worker_stats *a,
		  const struct ctlmsg_worker_stats *b, uint32_t n_drops,
		  double secs, struct rates *o)
{
	o->rx_pps = delta(a->rx_packets, b->rx_packets) / secs;
	o->rx_bps = 8 * delta(a->rx_bytes, b->rx_bytes) / secs;
	o->tx_pps = delta(a->tx_packets, b->tx_packets) / secs;
	o->tx_bps = 8 * delta(a->tx_bytes, b->tx_bytes) / secs;
	o->tun_rx_pps = delta(a->tun_rx_packets, b->tun_rx_packets) / secs;
	o->tun_rx_bps = 8 * delta(a->tun_rx_bytes, b->tun_rx_bytes) / secs;
	o->tun_tx_pps = delta(a->tun_tx_packets, b->tun_tx_packets) / secs;
	o->tun_tx_bps = 8 * delta(a->tun_tx_bytes, b->tun_tx_bytes) / secs;
	o->drops_ps = delta(dropped(a, n_drops), dropped(b, n_drops)) / secs;
}

/* Over the interval: the share of the loop's time in busy passes. */
static double busy_share(const struct ctlmsg_worker_stats *a,
			 const struct ctlmsg_worker_stats *b)
{
	double loop = delta(a->loop_ns, b->loop_ns);

	return loop > 0 ? delta(a->busy_ns, b->busy_ns) / loop : 0.0;
}

static void stats_json(const struct ctlmsg_stats_reply *ra,
		       const struct ctlmsg_worker_stats *ta,
		       const struct ctlmsg_stats_reply *rb,
		       const struct ctlmsg_worker_stats *tb, double secs)
{
	struct rates x;

	rates(ta, tb, rb->n_drops, secs, &x);
	printf("{\"interval_s\": %.3f, \"rx_pps\": %.1f, \"rx_bps\": %.0f, \"tx_pps\": %.1f, \"tx_bps\": %.0f, "
	       "\"tun_rx_pps\": %.1f, \"tun_rx_bps\": %.0f, \"tun_tx_pps\": %.1f, \"tun_tx_bps\": %.0f, "
	       "\"drops_ps\": %.1f, \"per_worker\": [",
	       secs, x.rx_pps, x.rx_bps, x.tx_pps, x.tx_bps, x.tun_rx_pps,
	       x.tun_rx_bps, x.tun_tx_pps, x.tun_tx_bps, x.drops_ps);
	for (uint32_t w = 0; w < rb->workers; w++) {
		const struct ctlmsg_worker_stats *a = &ra->worker[w];
		const struct ctlmsg_worker_stats *b = &rb->worker[w];

		rates(a, b, rb->n_drops, secs, &x);
		printf("%s{\"worker\": %u, \"busy_share\": %.4f, \"rx_pps\": %.1f, \"tx_pps\": %.1f, \"tun_rx_pps\": %.1f, \"tun_tx_pps\": %.1f, \"drops_ps\": %.1f}",
		       w ? ", " : "", w, busy_share(a, b), x.rx_pps, x.tx_pps,
		       x.tun_rx_pps, x.tun_tx_pps, x.drops_ps);
	}
	printf("]}\n");
}

static void stats_text(const struct conn *k,
		       const struct ctlmsg_stats_reply *ra,
		       const struct ctlmsg_worker_stats *ta,
		       const struct ctlmsg_stats_reply *rb,
		       const struct ctlmsg_worker_stats *tb, double secs,
		       uint64_t n)
{
	bool tun = rb->tun_dev[0] != '\0';
	char a[32];
	struct rates x;

	rates(ta, tb, rb->n_drops, secs, &x);
	printf("dataplane: pid %u, %u workers, rates over %.2f s (refresh %llu)\n",
	       k->pid, rb->workers, secs, (unsigned long long)n);
	printf("  %-10s %12s %16s\n", "", "packets/s", "bits/s");
	printf("  %-10s %12.1f %16s\n", "nic rx", x.rx_pps,
	       fmt_bits(x.rx_bps, a, sizeof(a)));
	printf("  %-10s %12.1f %16s\n", "nic tx", x.tx_pps,
	       fmt_bits(x.tx_bps, a, sizeof(a)));
	if (tun) {
		printf("  %-10s %12.1f %16s\n", "tun read", x.tun_rx_pps,
		       fmt_bits(x.tun_rx_bps, a, sizeof(a)));
		printf("  %-10s %12.1f %16s\n", "tun write", x.tun_tx_pps,
		       fmt_bits(x.tun_tx_bps, a, sizeof(a)));
	}
	printf("  %-10s %12.1f\n", "drops", x.drops_ps);
	printf("\n  %6s %7s %12s %12s %12s %12s\n", "worker", "busy",
	       "nic rx/s", "nic tx/s", "tun read/s", "tun write/s");
	for (uint32_t w = 0; w < rb->workers; w++) {
		const struct ctlmsg_worker_stats *wa = &ra->worker[w];
		const struct ctlmsg_worker_stats *wb = &rb->worker[w];

		rates(wa, wb, rb->n_drops, secs, &x);
		printf("  %6u %6.1f%% %12.1f %12.1f %12.1f %12.1f\n", w,
		       100.0 * busy_share(wa, wb), x.rx_pps, x.tx_pps,
		       x.tun_rx_pps, x.tun_tx_pps);
	}
}

/* Sleeps @ns unless interrupted; false when interrupted. */
static bool nap(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NSEC_PER_SEC),
			       .tv_nsec = (long)(ns % NSEC_PER_SEC) };

	while (!interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return !interrupted;
}

/*
 * Live rates from two STATS a refresh apart, like ifstat: redrawn in
 * place on a terminal, one block per interval otherwise (no escape codes),
 * one JSON object per line with -j. Stops after -c refreshes or at SIGINT
 * (or SIGTERM), which ends the wait at once; exit status 0 either way.
 */
static int cmd_stats(struct conn *k, bool json, struct vl_status *st)
{
	static struct ctlmsg_stats_reply r[2];
	static struct ctlmsg_worker_stats t[2];
	struct sigaction sa = { .sa_handler = on_signal };
	bool tty = !json && isatty(STDOUT_FILENO);
	uint64_t then, now, n = 0;
	unsigned int cur = 0;
	int err;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	err = fetch_stats(k, CTLMSG_STATS, &r[cur], &t[cur], st);
	then = now_ns();
	while (!err && nap(watch_ns)) {
		unsigned int prev = cur;

		cur ^= 1;
		err = fetch_stats(k, CTLMSG_STATS, &r[cur], &t[cur], st);
		if (err)
			break;
		now = now_ns();
		if (r[cur].workers != r[prev].workers ||
		    r[cur].clears != r[prev].clears) {
			/* SETUP or a CLEAR in between: start over from here. */
			then = now;
			continue;
		}
		n++;
		if (json) {
			stats_json(&r[prev], &t[prev], &r[cur], &t[cur],
				   (double)(now - then) / 1e9);
		} else {
			if (tty)
				fputs("\033[H\033[2J", stdout);
			else if (n > 1)
				putchar('\n');
			stats_text(k, &r[prev], &t[prev], &r[cur], &t[cur],
				   (double)(now - then) / 1e9, n);
		}
		fflush(stdout);
		then = now;
		if (watch_count && n >= watch_count)
			break;
	}
	return err;
}

/* ---- clear ------------------------------------------------------------------- */

/*
 * CLEAR: the dataplane subtracts the counters as they are now from every
 * later STATS (ctl.c on_clear); tunnel and flow counters are kept.
 */
static int cmd_clear(struct conn *k, bool json, struct vl_status *st)
{
	static struct ctlmsg_stats_reply r;
	static struct ctlmsg_worker_stats t;
	int err = fetch_stats(k, CTLMSG_CLEAR, &r, &t, st);

	if (err)
		return err;
	if (json)
		printf("{\"cleared\": true, \"clears\": %u}\n", r.clears);
	else
		printf("counters cleared (clear %u); tunnel and flow counters are kept\n",
		       r.clears);
	return 0;
}

/*
 * -w: seconds ("1", "0.5") or a Go duration ("500ms"), 10 ms to 1 hour;
 * -c: a count of at least 1.
 */
static int parse_watch(const struct opts *o)
{
	char *end;
	double secs;
	int64_t ns;

	errno = 0;
	secs = strtod(o->watch, &end);
	if (end != o->watch && !*end && !errno && isfinite(secs))
		ns = (int64_t)(secs * 1e9);
	else if (vl_duration_parse(o->watch, &ns))
		ns = -1;
	if (ns < 10000000 || ns > 3600 * (int64_t)NSEC_PER_SEC) {
		fprintf(stderr,
			"invalid value \"%s\" for flag -w: want seconds from 0.01 to 3600\n",
			o->watch);
		return 2;
	}
	watch_ns = (uint64_t)ns;
	if (!o->count)
		return 0;
	errno = 0;
	watch_count = strtoull(o->count, &end, 10);
	if (end == o->count || *end || errno || !watch_count ||
	    o->count[0] == '-') {
		fprintf(stderr,
			"invalid value \"%s\" for flag -c: want a count of at least 1\n",
			o->count);
		return 2;
	}
	return 0;
}

/* ---- Command line ---------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage of dpctl:\n"
		"  dpctl [-s SOCKET] [-j] show      backend, workers, queues, per-worker counters, drops\n"
		"  dpctl [-s SOCKET] [-j] tunnels   peer name, VPN IP, endpoint, indexes, cipher, traffic\n"
		"  dpctl [-s SOCKET] [-j] [-z] flows   connections: tuple, packets and bytes each way, idle, expiry\n"
		"  dpctl [-s SOCKET] [-j] workers   per worker: queues, mode, busy share, burst sizes, crypto ops\n"
		"  dpctl [-s SOCKET] [-j] [-v] drops   every drop reason with its count (-v: per worker)\n"
		"  dpctl [-s SOCKET] [-j] [-w SECONDS] [-c COUNT] stats   live rates every SECONDS (default 1) until ^C\n"
		"  dpctl [-s SOCKET] [-j] clear     zero the counters show, workers, drops and stats report\n"
		"Flags may come before or after the command:\n");
	vl_flags_print_defaults(out, flags, N_FLAGS, &defaults);
}

/* 0, VL_FLAGS_HELP, or 2 after printing why (Go's flag.ExitOnError). */
static int parse(struct opts *o, int argc, char **argv, int *used)
{
	struct vl_status st = { "" };
	int err = vl_flags_parse(flags, N_FLAGS, o, argc, argv, used, &st);

	if (err == VL_FLAGS_HELP)
		return err;
	if (err < 0) {
		fprintf(stderr, "%s\n", st.msg);
		usage(stderr);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct conn *k, bool json, struct vl_status *st);
	} cmds[] = {
		{ "show", cmd_show },
		{ "tunnels", cmd_tunnels },
		{ "flows", cmd_flows },
		{ "workers", cmd_workers },
		{ "drops", cmd_drops },
		{ "stats", cmd_stats },
		{ "clear", cmd_clear },
	};
	struct opts o = defaults;
	struct vl_status st = { "" };
	struct conn k = { .fd = -1 };
	int used, more, err;
	size_t c;

	err = parse(&o, argc - 1, argv + 1, &used);
	if (err == VL_FLAGS_HELP) {
		usage(stderr);
		return 0;
	}
	if (err)
		return err;
	if (used + 1 >= argc) {
		fprintf(stderr, "dpctl: a command is required\n");
		usage(stderr);
		return 2;
	}
	for (c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		if (!strcmp(argv[used + 1], cmds[c].name))
			break;
	if (c == sizeof(cmds) / sizeof(cmds[0])) {
		fprintf(stderr, "dpctl: unknown command %s\n", argv[used + 1]);
		usage(stderr);
		return 2;
	}
	/* `dpctl show -j` as well as `dpctl -j show`. */
	err = parse(&o, argc - used - 2, argv + used + 2, &more);
	if (err == VL_FLAGS_HELP) {
		usage(stderr);
		return 0;
	}
	if (err)
		return err;
	if (used + 2 + more < argc) {
		fprintf(stderr, "dpctl: unexpected argument %s\n",
			argv[used + 2 + more]);
		usage(stderr);
		return 2;
	}

	zero_flows = o.zero;
	verbose_drops = o.verbose;
	err = parse_watch(&o);
	if (err) {
		usage(stderr);
		return err;
	}
	err = dpctl_connect(o.socket, &k, &st);
	if (!err)
		err = hello(&k, &st);
	if (!err)
		err = cmds[c].run(&k, o.json, &st);
	if (k.fd >= 0)
		close(k.fd);
	if (err) {
		fflush(stdout);
		fprintf(stderr, "dpctl: %s\n", st.msg);
		return 1;
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "dpctl: writing the output: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}
