/* SPDX-License-Identifier: MIT */
#ifndef DP_XDP_STEER_H
#define DP_XDP_STEER_H

/*
 * The XDP program that feeds the AF_XDP port (bpf/xsk_steer.bpf.c), loaded
 * through libxdp: UDP to the listen port goes to the AF_XDP socket of the
 * frame's RX queue, everything else to the kernel.
 *
 * Lifecycle: dp_xdp_attach() once per interface, then dp_xdp_set_xsk() for
 * each queue as its socket is bound, dp_xdp_clear_xsk() before the socket is
 * closed, dp_xdp_detach() at shutdown. Until a queue has a socket its frames
 * reach the kernel, so the kernel UDP socket on the listen port keeps
 * working throughout (and is where fragments and IPv6 extension headers go).
 *
 * The program stays attached if the process dies (XDP through netlink is
 * not tied to a file descriptor). The next dp_xdp_attach() recognises it
 * (program name plus an owner record in its .rodata: magic, pid, process
 * start time, pid namespace) and replaces it when that owner is gone; a
 * program of a live owner, or anyone else's program, is an error that says
 * what to do.
 *
 * Privileges: loading and attaching need CAP_BPF and CAP_NET_ADMIN (or
 * CAP_SYS_ADMIN); detaching needs CAP_NET_ADMIN. Looking at a program
 * already on the interface (is it a stale one of ours?) needs CAP_SYS_ADMIN,
 * which the kernel requires to open a program by id; without it such a
 * program is an error that names it. (The port's AF_XDP sockets need
 * CAP_NET_RAW.)
 *
 * Threads: attach and detach take a process-wide lock, because they point
 * libxdp's and libbpf's print hooks (process-wide) at their own buffer; a
 * libbpf message from another thread meanwhile lands in that buffer.
 * set_xsk, clear_xsk and counters only make map syscalls and may be called
 * from any thread while the handle lives.
 */

#include <stdint.h>

struct in6_addr;
struct vl_status;

#define DP_XDP_QUEUES_MAX 256 /* a frame on a higher queue goes to the kernel */

enum dp_xdp_mode {
	DP_XDP_AUTO, /* native; generic where native is refused */
	DP_XDP_NATIVE, /* in the driver, before an skb exists */
	DP_XDP_GENERIC, /* after skb allocation; any interface, slower */
};

/* Each frame is counted once, under the reason that decided it. */
enum dp_xdp_counter {
	DP_XDP_STEERED, /* to the AF_XDP socket of its queue */
	DP_XDP_NO_XSK, /* ours, no socket on its queue: to the kernel */
	DP_XDP_OTHER_DEST, /* UDP to another port, address or family */
	DP_XDP_NOT_UDP, /* IP, another protocol */
	DP_XDP_NOT_IP, /* ARP and other ethertypes, 3+ VLAN tags */
	DP_XDP_FRAGMENT, /* IPv4 fragments, first ones included */
	DP_XDP_IP6_EXT, /* IPv6 with extension headers */
	DP_XDP_MALFORMED, /* shorter than its headers, IHL < 5 */
	DP_XDP_COUNTERS
};

/* Summed over CPUs; bytes are frame lengths (Ethernet header included). */
struct dp_xdp_counters {
	uint64_t packets[DP_XDP_COUNTERS];
	uint64_t bytes[DP_XDP_COUNTERS];
};

struct dp_xdp;

/* xdp_steer.c */

/*
 * Loads the program for UDP port @port (host order, not 0) and attaches it
 * to @ifname in @mode; auto tries native, then generic. @addr NULL or ::
 * steers both families to any address; an IPv4-mapped address steers IPv4
 * only, to that address (::ffff:0.0.0.0: any IPv4 address); another
 * IPv6 address steers IPv6 only, to that address (as port_udp binds).
 * On failure @st says what failed and what to do.
 */
int dp_xdp_attach(const char *ifname, uint16_t port,
		  const struct in6_addr *addr, enum dp_xdp_mode mode,
		  struct dp_xdp **out, struct vl_status *st);

/* Frames of RX queue @queue now go to the AF_XDP socket @xsk_fd. */
int dp_xdp_set_xsk(struct dp_xdp *x, uint32_t queue, int xsk_fd);

/* Back to the kernel; 0 also when the queue had no socket. */
int dp_xdp_clear_xsk(struct dp_xdp *x, uint32_t queue);

int dp_xdp_counters(const struct dp_xdp *x, struct dp_xdp_counters *out);

/* "steered", "no_xsk", ...: names for dpctl and logs. */
const char *dp_xdp_counter_name(enum dp_xdp_counter c);
const char *dp_xdp_mode_name(enum dp_xdp_mode mode);

/* The mode in effect (native or generic, never auto). */
enum dp_xdp_mode dp_xdp_attached_mode(const struct dp_xdp *x);
int dp_xdp_ifindex(const struct dp_xdp *x);
uint32_t dp_xdp_prog_id(const struct dp_xdp *x);

/*
 * Detaches the program if it is still the one on the interface, then frees
 * everything. Sockets still in the map are not closed (they are the
 * port's). NULL is a no-op.
 */
void dp_xdp_detach(struct dp_xdp *x);

#endif /* DP_XDP_STEER_H */
