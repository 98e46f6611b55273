/* SPDX-License-Identifier: MIT */
#ifndef DP_PORT_H
#define DP_PORT_H

/*
 * One NIC queue of a packet I/O backend: where Nebula datagrams come in and
 * go out. Backends: udp (kernel UDP sockets, port_udp.c) and xsk (AF_XDP,
 * port_xsk.c), later dpdk. Each is a struct dp_port with a const ops
 * table; the worker calls the dp_port_* functions below and never knows
 * which backend it drives. A worker owns one port; nothing here is shared
 * between threads, except what is marked "any thread".
 *
 * Buffer ownership:
 * - rx: the backend owns its receive buffers. dp_port_rx_burst() fills
 *   pkts[] with pointers into them; they stay valid, and may be modified in
 *   place (decryption), until the next rx call on the same port (xsk: the
 *   frames go back to the fill ring at that call).
 * - tx: the caller owns the buffers; dp_port_tx_burst() returns once the
 *   datagrams are copied (into sockets or UMEM frames), so the caller may
 *   reuse them at once. The xsk backend's frames stay on the TX ring until
 *   the completion ring returns them: dp_port_reclaim() takes them back
 *   (tx_burst reclaims too; an idle loop calls reclaim so frames sent in
 *   the last pass come home).
 */

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <poll.h>

struct vl_status;
struct in6_addr;
struct dp_nh_table;

#define DP_BURST_MAX 64

/* One datagram. Addresses are IPv6, IPv4 as v4-mapped (::ffff:a.b.c.d). */
struct dp_pkt {
	uint8_t *data;
	uint32_t len;
	struct sockaddr_in6 addr; /* rx: source; tx: destination */
};

struct dp_port_cfg {
	struct sockaddr_in6 listen; /* port 0: the first queue picks one */
	unsigned int queue;         /* this port's index, 0..n_queues-1 */
	unsigned int n_queues;
	int rcvbuf, sndbuf;         /* bytes, 0: system default */

	/* xsk only. */
	const char *ifname;         /* NIC whose queue @queue we bind */
	/* Published next-hop table (NULL inside: none yet); NULL: none at all. */
	_Atomic(struct dp_nh_table *) const *nh_table;
};

struct dp_port_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_truncated;   /* longer than the largest Nebula datagram */
	uint64_t tx_errors;      /* sendmmsg refused (EPERM, ENETUNREACH, ...) */
	uint64_t rx_gro_batches; /* coalesced receives split into packets */
	uint64_t tx_gso_batches; /* sends that used UDP_SEGMENT */
	/* xsk: frames taken off the RX ring and dropped, by reason. */
	uint64_t rx_bad_l2;      /* short Ethernet, 3+ VLAN tags, not IP */
	uint64_t rx_bad_l3;      /* IP header or length wrong, fragment, not UDP */
	uint64_t rx_bad_l4;      /* UDP length wrong, not to our port */
	uint64_t rx_kernel;      /* of rx_packets: read from the kernel socket */
	uint64_t tx_kernel;      /* of tx_packets: sent by the kernel socket */
	uint64_t tx_ring_full;   /* no frame or TX slot: left unsent */
	uint64_t tx_kicks;       /* sendto() wake-ups of the TX ring */
	uint64_t tx_kick_errors; /* wake-ups refused (not EAGAIN/EBUSY) */
};

/*
 * Frame accounting of an xsk port (DESIGN §3): every UMEM frame has one
 * owner, so free + fill + held + in_flight = total, always. held: given to
 * the worker by the last rx call, or being written for TX. in_flight: on
 * the TX ring or in the completion ring. The ring counters come from the
 * socket's XDP_STATISTICS.
 */
struct dp_port_frames {
	uint32_t total, free, fill, held, in_flight;
	uint32_t reserved;
	uint64_t rx_dropped;          /* the kernel's: no room, bad descriptor */
	uint64_t rx_ring_full;        /* RX ring full: frame dropped */
	uint64_t fill_ring_empty;     /* no frame on the fill ring */
	uint64_t tx_invalid;          /* bad TX descriptors */
	uint64_t tx_ring_empty;       /* TX ring empty at a wake-up */
};

struct dp_port;

/* The backend's side. Only port_*.c use it; callers use the functions below. */
struct dp_port_ops {
	const char *name; /* "udp", "xsk" */
	unsigned int (*rx_burst)(struct dp_port *p, struct dp_pkt *pkts,
				 unsigned int max);
	unsigned int (*tx_burst)(struct dp_port *p, const struct dp_pkt *pkts,
				 unsigned int n);
	void (*reclaim)(struct dp_port *p);
	unsigned int (*poll_fds)(const struct dp_port *p, struct pollfd *fds,
				 unsigned int max);
	int (*frames)(const struct dp_port *p, struct dp_port_frames *out);
	unsigned int (*take_misses)(struct dp_port *p, struct in6_addr *out,
				    unsigned int max);
	void (*close)(struct dp_port *p);
};

/* What every backend's port starts with. */
struct dp_port {
	const struct dp_port_ops *ops;
	uint16_t local_port;
	int fd;                     /* the first fd to poll */
	char info[160];             /* one line for the log: mode, memory */
	struct dp_port_stats stats; /* written by the owning worker only */
};

#define DP_PORT_FDS_MAX 4

/*
 * udp backend: one SO_REUSEPORT socket per queue, bound to cfg->listen (the
 * v4-mapped form of an IPv4 address, dual stack for "::"). UDP_GRO and
 * UDP_SEGMENT are used when the kernel has them. With listen port 0, queue
 * 0 binds an ephemeral port and the others must be opened with that port.
 */
int dp_port_udp_open(const struct dp_port_cfg *cfg, struct dp_port **out,
		     struct vl_status *st);

/*
 * xsk backend (port_xsk.c): one UMEM and one AF_XDP socket bound to
 * (cfg->ifname, cfg->queue), plus a udp port on the listen address for
 * what the XDP program leaves to the kernel (fragments, IPv6 extension
 * headers, queues without a socket) and for datagrams whose next hop is not
 * known. The XDP program must be attached already (xdp_steer.h); the caller
 * then points the queue's XSKMAP entry at dp_port_xsk_fd().
 */
int dp_port_xsk_open(const struct dp_port_cfg *cfg, struct dp_port **out,
		     struct vl_status *st);
int dp_port_xsk_fd(const struct dp_port *p); /* the AF_XDP socket, -1: none */

/* Up to @max datagrams, without blocking; 0 when none is waiting. */
static inline unsigned int dp_port_rx_burst(struct dp_port *p,
					    struct dp_pkt *pkts,
					    unsigned int max)
{
	return p->ops->rx_burst(p, pkts, max);
}

/* Sends pkts[0..n); returns how many went out (the rest are counted and dropped). */
static inline unsigned int dp_port_tx_burst(struct dp_port *p,
					    const struct dp_pkt *pkts,
					    unsigned int n)
{
	return p->ops->tx_burst(p, pkts, n);
}

/* Takes back what the kernel has finished sending (xsk); no-op for udp. */
static inline void dp_port_reclaim(struct dp_port *p)
{
	if (p->ops->reclaim)
		p->ops->reclaim(p);
}

/*
 * For poll(): fills up to @max (at least DP_PORT_FDS_MAX) entries with
 * the port's fds, events POLLIN, and returns how many. A coalesced (GRO)
 * receive can hold more datagrams than one burst takes; the rest wait in
 * the port and no poll() event announces them. So: call rx_burst again
 * without polling while it returns max, and poll only after a shorter
 * burst.
 */
static inline unsigned int dp_port_poll_fds(const struct dp_port *p,
					    struct pollfd *fds,
					    unsigned int max)
{
	return p->ops->poll_fds(p, fds, max);
}

/* The first fd to poll (udp: its socket; xsk: the AF_XDP socket). */
static inline int dp_port_fd(const struct dp_port *p)
{
	return p->fd;
}

static inline uint16_t dp_port_local_port(const struct dp_port *p)
{
	return p->local_port;
}

static inline const char *dp_port_backend(const struct dp_port *p)
{
	return p->ops->name;
}

/* One line describing the port (for the log); "" when nothing to say. */
static inline const char *dp_port_info(const struct dp_port *p)
{
	return p->info;
}

static inline const struct dp_port_stats *dp_port_stats(const struct dp_port *p)
{
	return &p->stats;
}

/*
 * Frame accounting (any thread: a racy but consistent-enough snapshot);
 * -EOPNOTSUPP for a backend without frames (udp).
 */
static inline int dp_port_frames(const struct dp_port *p,
				 struct dp_port_frames *out)
{
	return p->ops->frames ? p->ops->frames(p, out) : -EOPNOTSUPP;
}

/*
 * Destinations sent through the kernel socket for want of a next hop since
 * the last call, for dp_nh_want() (any thread, one reader). Each appears
 * about once per table version. 0 for udp.
 */
static inline unsigned int dp_port_take_misses(struct dp_port *p,
					       struct in6_addr *out,
					       unsigned int max)
{
	return p->ops->take_misses ? p->ops->take_misses(p, out, max) : 0;
}

static inline void dp_port_close(struct dp_port *p)
{
	if (p)
		p->ops->close(p);
}

#endif /* DP_PORT_H */
