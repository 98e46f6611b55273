/* SPDX-License-Identifier: MIT */
#ifndef DP_PORT_H
#define DP_PORT_H

/*
 * One NIC queue of a packet I/O backend: where Nebula datagrams come in and
 * go out. Backends behind this API: udp (kernel UDP sockets, port_udp.c),
 * later xsk (AF_XDP) and dpdk. A worker owns one port; nothing here is
 * shared between threads.
 *
 * Buffer ownership:
 * - rx: the backend owns its receive buffers. dp_port_rx_burst() fills
 *   pkts[] with pointers into them; they stay valid, and may be modified in
 *   place (decryption), until the next rx call on the same port.
 * - tx: the caller owns the buffers; dp_port_tx_burst() returns once the
 *   datagrams are handed to the kernel (the udp backend copies), so the
 *   caller may reuse them at once. (An xsk backend will keep frames until
 *   the completion ring returns them; the API will grow a reclaim step.)
 */

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

struct vl_status;

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
};

struct dp_port_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_truncated;   /* longer than the largest Nebula datagram */
	uint64_t tx_errors;      /* sendmmsg refused (EPERM, ENETUNREACH, ...) */
	uint64_t rx_gro_batches; /* coalesced receives split into packets */
	uint64_t tx_gso_batches; /* sends that used UDP_SEGMENT */
};

struct dp_port;

/*
 * udp backend: one SO_REUSEPORT socket per queue, bound to cfg->listen (the
 * v4-mapped form of an IPv4 address, dual stack for "::"). UDP_GRO and
 * UDP_SEGMENT are used when the kernel has them. With listen port 0, queue
 * 0 binds an ephemeral port and the others must be opened with that port.
 */
int dp_port_udp_open(const struct dp_port_cfg *cfg, struct dp_port **out,
		     struct vl_status *st);

/* Up to @max datagrams, without blocking; 0 when none is waiting. */
unsigned int dp_port_rx_burst(struct dp_port *p, struct dp_pkt *pkts,
			      unsigned int max);

/* Sends pkts[0..n); returns how many went out (the rest are counted and dropped). */
unsigned int dp_port_tx_burst(struct dp_port *p, const struct dp_pkt *pkts,
			      unsigned int n);

/*
 * For poll(). A coalesced (GRO) receive can hold more datagrams than one
 * burst takes; the rest wait in the port and no poll() event announces
 * them. So: call rx_burst again without polling while it returns max, and
 * poll only after a shorter burst.
 */
int dp_port_fd(const struct dp_port *p);
uint16_t dp_port_local_port(const struct dp_port *p);
const struct dp_port_stats *dp_port_stats(const struct dp_port *p);
void dp_port_close(struct dp_port *p);

#endif /* DP_PORT_H */
