/* SPDX-License-Identifier: MIT */
#include "port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include "nexthop.h"
#include "ring.h"
#include "status.h"
#include "wire.h"
#include "xsk_frames.h"
#include "xsk_wire.h"

/*
 * xsk backend: one AF_XDP socket per NIC queue, with its own UMEM.
 *
 * Memory. XP_FRAMES frames of XP_FRAME_SIZE bytes, in 2 MiB hugepages
 * when the kernel has them reserved (fewer TLB misses), else in normal
 * pages; port->info says which. The UMEM is pinned: charged to
 * RLIMIT_MEMLOCK unless the process has CAP_IPC_LOCK.
 *
 * Ownership (xsk_frames.h): the fill ring is topped up from the free
 * frames at every rx call; received frames are held by the worker until
 * the next rx call (port.h's rx contract), then freed; TX frames are taken
 * from the free list, written, put on the TX ring and come back only
 * through the completion ring, which every rx and tx call (and
 * dp_port_reclaim) drains.
 *
 * Receive. The XDP program (xdp_steer.h) sends only UDP to our port here,
 * but a frame is still parsed as hostile input (xsk_wire.h: Ethernet with
 * zero to two VLAN tags, IPv4 or IPv6, UDP, every length checked); a bad
 * frame is counted under rx_bad_l2/l3/l4 and freed at once. The UDP
 * checksum is not verified: the Nebula payload is authenticated. The
 * kernel UDP socket on the listen port is read in the same call, after
 * the ring: fragments, IPv6 extension headers and frames of queues without
 * a socket arrive there.
 *
 * Send. Per datagram, the destination is looked up in the published
 * next-hop table (nexthop.h). A hit gets a frame with Ethernet, IP and UDP
 * headers (xsk_wire.h: IPv4 header checksum and UDP checksum 0; IPv6 UDP
 * checksum computed, it is mandatory); a miss, or a datagram that does not
 * fit a frame or the route's MTU, goes through the kernel socket, and a
 * miss is recorded once per table version for the control thread
 * (dp_port_take_misses -> dp_nh_want). The TX ring is kicked with sendto()
 * only when need_wakeup says so. A full TX ring (or no free frame) is
 * back-pressure: the rest of the burst is not sent (tx_ring_full).
 */

enum {
	XP_FRAME_SIZE = XSK_UMEM__DEFAULT_FRAME_SIZE, /* 4096 */
	XP_FRAMES = 4096, /* 16 MiB: fill + TX rings full, plus bursts */
	XP_RX_RING = 2048, /* fill and RX: a burst of a fast sender fits */
	XP_TX_RING = 1024, /* TX and completion */
	XP_MISSES = 256, /* miss records waiting for the control thread */
	XP_MISS_SEEN = 64, /* recently reported misses, by hash */
	XP_DRAIN_MS = 100, /* close: longest wait for completions */
	HUGE_2M = 2 * 1024 * 1024,
};

struct miss_seen {
	struct in6_addr addr;
	const struct dp_nh_table *table;
};

struct xport {
	struct dp_port base;
	struct dp_port *udp; /* the kernel socket on the listen port */
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	uint8_t *area;
	size_t area_len;
	bool huge, zero_copy;
	struct dp_frames frames;
	uint16_t port_be; /* our UDP port, network order */
	uint16_t ip_id;
	_Atomic(struct dp_nh_table *) const *nh_table;

	/* Frames the worker holds from the last rx call. */
	uint32_t n_rx_held;
	uint64_t rx_held[DP_BURST_MAX];
	struct xdp_desc rx_descs[DP_BURST_MAX];
	uint64_t rx_bad[DP_BURST_MAX];

	/* tx scratch */
	struct xdp_desc tx_descs[DP_BURST_MAX];
	uint64_t tx_addrs[DP_BURST_MAX];
	uint32_t tx_len[DP_BURST_MAX]; /* datagram bytes per desc */
	struct dp_pkt kern[DP_BURST_MAX];

	struct dp_ring misses; /* struct in6_addr: worker -> control thread */
	struct miss_seen seen[XP_MISS_SEEN];
};

static const struct dp_port_ops xport_ops;

/*
 * The port around its base (the first member). Through void *: struct
 * xport is cache-line aligned and the base pointer is the same address,
 * which -Wcast-align cannot see.
 */
_Static_assert(offsetof(struct xport, base) == 0, "base must come first");

static struct xport *to_xport(struct dp_port *p)
{
	return (struct xport *)(void *)p;
}

static const struct xport *to_cxport(const struct dp_port *p)
{
	return (const struct xport *)(const void *)p;
}

/* ---- Receive ------------------------------------------------------------ */

/* The kernel socket's own counters, shown as the port's. */
static void copy_udp_stats(struct xport *p)
{
	const struct dp_port_stats *u = dp_port_stats(p->udp);

	p->base.stats.rx_truncated = u->rx_truncated;
	p->base.stats.tx_errors = u->tx_errors;
	p->base.stats.rx_gro_batches = u->rx_gro_batches;
	p->base.stats.tx_gso_batches = u->tx_gso_batches;
}

static void reclaim(struct xport *p)
{
	if (p->frames.in_flight)
		dp_frames_complete(&p->frames, &p->comp);
}

static void xport_reclaim(struct dp_port *port)
{
	reclaim(to_xport(port));
}

static unsigned int xport_rx_burst(struct dp_port *port, struct dp_pkt *pkts,
				   unsigned int max)
{
	struct xport *p = to_xport(port);
	uint32_t n, n_bad = 0;
	unsigned int n_rx = 0;

	/* The last burst's frames are the worker's no longer. */
	dp_frames_release(&p->frames, p->rx_held, p->n_rx_held);
	p->n_rx_held = 0;
	reclaim(p);
	if (dp_frames_fill(&p->frames, &p->fill) &&
	    xsk_ring_prod__needs_wakeup(&p->fill))
		recvfrom(p->base.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);

	n = dp_frames_rx(&p->frames, &p->rx, p->rx_descs,
			 max < DP_BURST_MAX ? max : DP_BURST_MAX);
	for (uint32_t i = 0; i < n; i++) {
		const struct xdp_desc *d = &p->rx_descs[i];
		uint8_t *frame = xsk_umem__get_data(p->area, d->addr);

		switch (dp_xw_parse(frame, d->len, p->port_be, &pkts[n_rx])) {
		case DP_XW_OK:
			p->rx_held[p->n_rx_held++] = d->addr;
			p->base.stats.rx_packets++;
			p->base.stats.rx_bytes += pkts[n_rx].len;
			n_rx++;
			continue;
		case DP_XW_BAD_L2:
			p->base.stats.rx_bad_l2++;
			break;
		case DP_XW_BAD_L3:
			p->base.stats.rx_bad_l3++;
			break;
		case DP_XW_BAD_L4:
			p->base.stats.rx_bad_l4++;
			break;
		}
		p->rx_bad[n_bad++] = d->addr;
	}
	dp_frames_release(&p->frames, p->rx_bad, n_bad);

	if (n_rx < max) {
		unsigned int k =
			dp_port_rx_burst(p->udp, pkts + n_rx, max - n_rx);

		/* rx_packets counts both ways in; rx_kernel the socket's. */
		p->base.stats.rx_kernel += k;
		p->base.stats.rx_packets += k;
		for (unsigned int i = n_rx; i < n_rx + k; i++)
			p->base.stats.rx_bytes += pkts[i].len;
		if (k)
			copy_udp_stats(p);
		n_rx += k;
	}
	return n_rx;
}

/* ---- Send --------------------------------------------------------------- */

/* Remembers @dst for the control thread, once per table version. */
static void note_miss(struct xport *p, const struct in6_addr *dst,
		      const struct dp_nh_table *t)
{
	uint32_t h = 0, pos;
	struct miss_seen *s;

	for (int i = 0; i < 16; i++)
		h = h * 31 + dst->s6_addr[i];
	s = &p->seen[h % XP_MISS_SEEN];
	if (s->table == t && !memcmp(&s->addr, dst, sizeof(*dst)))
		return;
	s->addr = *dst;
	s->table = t;
	if (dp_ring_reserve(&p->misses, 1, &pos) == 1) {
		memcpy(dp_ring_rec(&p->misses, pos), dst, sizeof(*dst));
		dp_ring_submit(&p->misses, 1);
	}
}

static void kick(struct xport *p)
{
	if (!xsk_ring_prod__needs_wakeup(&p->tx))
		return;
	p->base.stats.tx_kicks++;
	if (sendto(p->base.fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
		return;
	if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS &&
	    errno != ENETDOWN)
		p->base.stats.tx_kick_errors++;
}

/* Up to DP_BURST_MAX datagrams. */
static unsigned int tx_chunk(struct xport *p, const struct dp_pkt *pkts,
			     unsigned int n, const struct dp_nh_table *t)
{
	uint32_t n_frames = 0, n_desc = 0, n_sent, n_kern = 0, k;
	unsigned int n_full = 0;

	for (unsigned int i = 0; i < n; i++) {
		const struct dp_pkt *pkt = &pkts[i];
		const struct dp_nh_entry *e = NULL;
		uint32_t len;

		if (t)
			e = dp_nh_lookup(t, &pkt->addr.sin6_addr);
		if (!e) {
			note_miss(p, &pkt->addr.sin6_addr, t);
			p->kern[n_kern++] = *pkt;
			continue;
		}
		if (n_frames == n_desc &&
		    !dp_frames_alloc(&p->frames, &p->tx_addrs[n_frames], 1)) {
			n_full++;
			continue;
		}
		n_frames = n_desc + 1;
		len = dp_xw_build(e, pkt, p->port_be, p->ip_id++,
				  xsk_umem__get_data(p->area,
						     p->tx_addrs[n_desc]),
				  XP_FRAME_SIZE);
		if (!len) {
			/* Too big for a frame or the route: the kernel fragments. */
			p->kern[n_kern++] = *pkt;
			continue;
		}
		p->tx_descs[n_desc] =
			(struct xdp_desc){ .addr = p->tx_addrs[n_desc],
					   .len = len };
		p->tx_len[n_desc++] = pkt->len;
	}
	n_sent = dp_frames_tx_submit(&p->frames, &p->tx, p->tx_descs, n_desc);
	/* Unsent frames (TX ring full) and a spare one go back. */
	dp_frames_release(&p->frames, p->tx_addrs + n_sent, n_frames - n_sent);
	for (uint32_t i = 0; i < n_sent; i++)
		p->base.stats.tx_bytes += p->tx_len[i];
	n_full += n_desc - n_sent;
	p->base.stats.tx_ring_full += n_full;
	p->base.stats.tx_packets += n_sent;
	if (n_sent)
		kick(p);
	reclaim(p);

	k = n_kern ? dp_port_tx_burst(p->udp, p->kern, n_kern) : 0;
	p->base.stats.tx_kernel += k;
	p->base.stats.tx_packets += k;
	for (uint32_t i = 0; i < k; i++)
		p->base.stats.tx_bytes += p->kern[i].len;
	if (n_kern)
		copy_udp_stats(p);
	return n_sent + k;
}

static unsigned int xport_tx_burst(struct dp_port *port,
				   const struct dp_pkt *pkts, unsigned int n)
{
	struct xport *p = to_xport(port);
	const struct dp_nh_table *t = NULL;
	unsigned int n_tx = 0;

	reclaim(p);
	if (p->nh_table)
		t = atomic_load_explicit(p->nh_table, memory_order_acquire);
	for (unsigned int i = 0; i < n; i += DP_BURST_MAX) {
		unsigned int k = n - i < DP_BURST_MAX ? n - i : DP_BURST_MAX;

		n_tx += tx_chunk(p, pkts + i, k, t);
	}
	return n_tx;
}

/* ---- Control-thread side -------------------------------------------------- */

static unsigned int xport_poll_fds(const struct dp_port *port,
				   struct pollfd *fds, unsigned int max)
{
	const struct xport *p = to_cxport(port);
	unsigned int n = 0;

	if (max > n)
		fds[n++] = (struct pollfd){ .fd = port->fd, .events = POLLIN };
	if (max > n)
		n += dp_port_poll_fds(p->udp, fds + n, max - n);
	return n;
}

static int xport_frames(const struct dp_port *port, struct dp_port_frames *out)
{
	const struct xport *p = to_cxport(port);
	struct xdp_statistics xs;
	socklen_t len = sizeof(xs);

	memset(out, 0, sizeof(*out));
	out->total = p->frames.total;
	dp_frames_snapshot(&p->frames, &out->free, &out->fill, &out->held,
			   &out->in_flight);
	if (!getsockopt(port->fd, SOL_XDP, XDP_STATISTICS, &xs, &len)) {
		out->rx_dropped = xs.rx_dropped + xs.rx_invalid_descs;
		out->rx_ring_full = xs.rx_ring_full;
		out->fill_ring_empty = xs.rx_fill_ring_empty_descs;
		out->tx_invalid = xs.tx_invalid_descs;
		out->tx_ring_empty = xs.tx_ring_empty_descs;
	}
	return 0;
}

static unsigned int xport_take_misses(struct dp_port *port,
				      struct in6_addr *out, unsigned int max)
{
	struct xport *p = to_xport(port);
	uint32_t pos, n = dp_ring_peek(&p->misses, max, &pos);

	for (uint32_t k = 0; k < n; k++)
		memcpy(&out[k], dp_ring_rec(&p->misses, pos + k), sizeof(*out));
	if (n)
		dp_ring_release(&p->misses, n);
	return n;
}

int dp_port_xsk_fd(const struct dp_port *p)
{
	return p && p->ops == &xport_ops ? p->fd : -1;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_nsec = (long)ms * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * Teardown: frames on the TX ring are the kernel's until completed, so
 * give it XP_DRAIN_MS to finish them; once the socket is gone the kernel
 * holds nothing and every frame is ours again.
 */
static void xport_close(struct dp_port *port)
{
	struct xport *p = to_xport(port);

	dp_frames_release(&p->frames, p->rx_held, p->n_rx_held);
	p->n_rx_held = 0;
	for (unsigned int ms = 0;
	     p->xsk && p->frames.in_flight && ms < XP_DRAIN_MS; ms++) {
		kick(p);
		reclaim(p);
		if (p->frames.in_flight)
			sleep_ms(1);
	}
	if (p->xsk)
		xsk_socket__delete(p->xsk);
	if (p->umem)
		xsk_umem__delete(p->umem);
	if (p->frames.total) {
		dp_frames_reset_kernel(&p->frames);
		dp_frames_free(&p->frames);
	}
	if (p->area)
		munmap(p->area, p->area_len);
	dp_port_close(p->udp);
	if (p->misses.recs)
		dp_ring_free(&p->misses);
	free(p);
}

/* ---- Open --------------------------------------------------------------- */

static int map_umem(struct xport *p)
{
	p->area_len = (size_t)XP_FRAMES * XP_FRAME_SIZE;
	_Static_assert(((size_t)XP_FRAMES * XP_FRAME_SIZE) % HUGE_2M == 0,
		       "UMEM is not a whole number of hugepages");
	p->area = mmap(NULL, p->area_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			       (21 << MAP_HUGE_SHIFT),
		       -1, 0);
	if (p->area != MAP_FAILED) {
		p->huge = true;
		return 0;
	}
	p->area = mmap(NULL, p->area_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->area == MAP_FAILED) {
		p->area = NULL;
		return -errno;
	}
	return 0;
}

static int make_umem(struct xport *p)
{
	const struct xsk_umem_config ucfg = {
		.fill_size = XP_RX_RING,
		.comp_size = XP_TX_RING,
		.frame_size = XP_FRAME_SIZE,
		.frame_headroom = 0,
		.flags = 0,
	};

	return xsk_umem__create(&p->umem, p->area, p->area_len, &p->fill,
				&p->comp, &ucfg);
}

static int make_socket(struct xport *p, const struct dp_port_cfg *cfg,
		       uint16_t bind_flags)
{
	const struct xsk_socket_config scfg = {
		.rx_size = XP_RX_RING,
		.tx_size = XP_TX_RING,
		/* Our program is attached (xdp_steer.h); libxdp adds none. */
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = bind_flags,
	};

	return xsk_socket__create(&p->xsk, cfg->ifname, cfg->queue, p->umem,
				  &p->rx, &p->tx, &scfg);
}

/* UMEM and socket: zero-copy where the driver has it, else copy mode. */
static int setup_xsk(struct xport *p, const struct dp_port_cfg *cfg,
		     char *why_copy, size_t why_len, struct vl_status *st)
{
	int err;

	err = map_umem(p);
	if (err)
		return vl_status_set(st, err, "UMEM of %zu bytes: mmap: %s",
				     p->area_len, strerror(-err));
	err = make_umem(p);
	if (err)
		goto umem_err;
	err = make_socket(p, cfg, XDP_ZEROCOPY | XDP_USE_NEED_WAKEUP);
	if (!err) {
		p->zero_copy = true;
		return 0;
	}
	snprintf(why_copy, why_len, "%s", strerror(-err));
	/* A failed bind leaves the UMEM's rings half set up: start over. */
	xsk_umem__delete(p->umem);
	p->umem = NULL;
	err = make_umem(p);
	if (err)
		goto umem_err;
	err = make_socket(p, cfg, XDP_COPY | XDP_USE_NEED_WAKEUP);
	if (err) {
		p->xsk = NULL;
		if (err == -EPERM || err == -EACCES)
			return vl_status_set(
				st, err,
				"AF_XDP socket: %s: needs CAP_NET_RAW (run as root or grant it)",
				strerror(-err));
		if (err == -EINVAL || err == -ENODEV)
			return vl_status_set(
				st, err,
				"AF_XDP bind to queue %u: %s: the interface has no such queue, or it is down; lower dataplane.workers or add queues (ethtool -L)",
				cfg->queue, strerror(-err));
		return vl_status_set(st, err, "AF_XDP socket: %s",
				     strerror(-err));
	}
	return 0;

umem_err:
	p->umem = NULL;
	/* The kernel says ENOBUFS when the pages exceed RLIMIT_MEMLOCK. */
	if (err == -ENOBUFS || err == -ENOMEM || err == -EPERM ||
	    err == -EAGAIN)
		return vl_status_set(
			st, err,
			"UMEM of %zu KiB: %s: it is charged to RLIMIT_MEMLOCK; grant CAP_IPC_LOCK (or run as root), or raise LimitMEMLOCK/ulimit -l",
			p->area_len / 1024, strerror(-err));
	return vl_status_set(st, err, "UMEM: %s", strerror(-err));
}

int dp_port_xsk_open(const struct dp_port_cfg *cfg, struct dp_port **out,
		     struct vl_status *st)
{
	char why_copy[64] = "";
	struct xport *p;
	int err;

	if (!cfg->ifname || !*cfg->ifname)
		return vl_status_set(
			st, -EINVAL,
			"xsk: no interface: set dataplane.interface");
	if (!if_nametoindex(cfg->ifname))
		return vl_status_set(
			st, -ENODEV,
			"xsk: interface %s missing: check dataplane.interface (ip link)",
			cfg->ifname);

	/* The miss ring's fields are cache-line aligned. */
	p = aligned_alloc(64, (sizeof(*p) + 63) / 64 * 64);
	if (!p)
		return vl_status_set(st, -ENOMEM, "xsk port: out of memory");
	memset(p, 0, sizeof(*p));
	p->base.ops = &xport_ops;
	p->base.fd = -1;
	p->nh_table = cfg->nh_table;

	err = dp_port_udp_open(cfg, &p->udp, st);
	if (err)
		goto free_port;
	p->base.local_port = dp_port_local_port(p->udp);
	p->port_be = htons(p->base.local_port);
	err = dp_ring_init(&p->misses, XP_MISSES, sizeof(struct in6_addr));
	if (err) {
		vl_status_set(st, err, "xsk port: out of memory");
		goto close_port;
	}
	err = dp_frames_init(&p->frames, XP_FRAMES, XP_FRAME_SIZE);
	if (err) {
		vl_status_set(st, err, "xsk port: out of memory");
		goto close_port;
	}
	err = setup_xsk(p, cfg, why_copy, sizeof(why_copy), st);
	if (err)
		goto close_port;
	p->base.fd = xsk_socket__fd(p->xsk);
	if (!dp_frames_fill(&p->frames, &p->fill)) {
		err = vl_status_set(st, -EIO, "fill ring takes no frame");
		goto close_port;
	}
	snprintf(p->base.info, sizeof(p->base.info),
		 "xsk %s queue %u: %s%s%s%s, need_wakeup, UMEM %u x %u B in %s",
		 cfg->ifname, cfg->queue,
		 p->zero_copy ? "zero-copy" : "copy mode",
		 *why_copy ? " (zero-copy: " : "", why_copy,
		 *why_copy ? ")" : "", XP_FRAMES, XP_FRAME_SIZE,
		 p->huge ? "2 MiB hugepages" :
			   "normal pages (no hugepages reserved)");
	*out = &p->base;
	return 0;

close_port:
	xport_close(&p->base);
	vl_status_prefix(st, "xsk %s queue %u: ", cfg->ifname, cfg->queue);
	return err;
free_port:
	free(p);
	return err;
}

static const struct dp_port_ops xport_ops = {
	.name = "xsk",
	.rx_burst = xport_rx_burst,
	.tx_burst = xport_tx_burst,
	.reclaim = xport_reclaim,
	.poll_fds = xport_poll_fds,
	.frames = xport_frames,
	.take_misses = xport_take_misses,
	.close = xport_close,
};
