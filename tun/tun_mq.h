/* SPDX-License-Identifier: MIT */
#ifndef TUN_MQ_H
#define TUN_MQ_H

/*
 * The overlay's TUN device: IFF_TUN | IFF_NO_PI (raw IPv4 packets, as
 * Nebula's device carries them) with IFF_MULTI_QUEUE, one queue fd per
 * worker (Documentation/networking/tuntap.rst), configured over rtnetlink:
 * address, MTU, txqueuelen, link up, and routes (with their MTU) for
 * tun.routes and tun.unsafe_routes.
 *
 * Offloads (DESIGN.md §4), asked for with tun_open_opts(): IFF_VNET_HDR on
 * every queue and TUNSETOFFLOAD with CSUM, TSO4/6 and, where the kernel
 * has them, USO4/6. Every frame on such a queue carries a virtio_net_hdr,
 * so it is read and written only with the tun_q_*_vnet_burst() helpers,
 * which split super-packets on read and coalesce on write (offload.h).
 * Whether a device got them is in t->vnet; without, the plain helpers.
 *
 * Queue fds are non-blocking. A buffer handed to write() or writev() is
 * the caller's again when the call returns (the kernel copies).
 */

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "offload.h"

struct vl_status;

#define TUN_QUEUES_MAX 64
/* IFLA_GSO_MAX_SEGS with offloads: TUN_OFF_SEGS_MAX, GRO's own cap. */
#define TUN_GSO_SEGS_DEFAULT TUN_OFF_SEGS_MAX

struct tun_dev {
	char name[IFNAMSIZ];
	int ifindex;
	unsigned int n_queues;
	int fds[TUN_QUEUES_MAX];
	/* What tun_open_opts() got; all false/0 for a plain device. */
	bool vnet; /* frames carry a virtio_net_hdr (10 bytes) */
	bool uso; /* USO4/6 on: UDP is coalesced on write too */
	unsigned int offloads; /* TUN_F_* in force */
	uint32_t gso_max_segs; /* the device's IFLA_GSO_MAX_SEGS, as set */
	char offload_msg[160]; /* one line for the log: what is on, or why not */
	/*
	 * tun_open_from_fd(s): the queues the device has attached, ours and
	 * anyone else's (0: not reported, before Linux 4.15). More than
	 * n_queues means another process holds a queue, and the kernel
	 * steers some flows to it.
	 */
	unsigned int dev_queues;
};

struct tun_opts {
	/*
	 * Try IFF_VNET_HDR and TSO/USO; any step the kernel refuses leaves
	 * the device plain (t->vnet false), with the reason in
	 * t->offload_msg. Never an error of tun_open_opts itself.
	 */
	bool offload;
	/*
	 * With offload: the device's gso_max_segs, so that a frame read
	 * never splits into more segments than the reader has buffers
	 * (0: TUN_GSO_SEGS_DEFAULT). gso_max_size stays the kernel's 64 KiB.
	 */
	uint32_t gso_max_segs;
};

/*
 * Creates (or attaches to) the device @name ("" lets the kernel pick
 * "tun%d") with @n_queues queues. Errors say what to do: no /dev/net/tun
 * (modprobe tun), no CAP_NET_ADMIN, a name in use by a device that is not
 * a multiqueue TUN, more queues than the device allows.
 */
int tun_open(struct tun_dev *t, const char *name, unsigned int n_queues,
	     struct vl_status *st);

/* tun_open() with options; @o NULL is tun_open(). */
int tun_open_opts(struct tun_dev *t, const char *name, unsigned int n_queues,
		  const struct tun_opts *o, struct vl_status *st);

/*
 * Takes over a queue fd someone else opened (systemd fd store, a
 * container runtime): it must be attached to a TUN device (not TAP) with
 * IFF_NO_PI, in this network namespace. Fills name, ifindex, n_queues = 1
 * and fds[0], and, when the fd has IFF_VNET_HDR, vnet/uso/offloads/
 * gso_max_segs from what the device has (nothing is changed: no
 * TUNSETOFFLOAD, no gso_max_segs); its vnet header must be 10 bytes.
 * Makes the fd O_NONBLOCK and FD_CLOEXEC.
 *
 * Ownership: on success @t owns @fd and tun_close() closes it (the device
 * goes with its last queue unless persistent); on failure @fd is still
 * the caller's and @t holds no fd.
 */
int tun_open_from_fd(struct tun_dev *t, int fd, struct vl_status *st);

/*
 * tun_open_from_fd() for @n queue fds of one device, one per worker,
 * taken in order as queues 0..n-1 (wireguard-go's WG_TUN_FD, for several
 * queues). Each is checked as there; besides, all must belong to the same
 * device (-EXDEV otherwise) with the same offload mode, none may be given
 * twice or be a dup of another (the same queue: kcmp(2) tells, where
 * allowed), and more than one needs a device with IFF_MULTI_QUEUE.
 *
 * The one change made to the device: with IFF_VNET_HDR, a gso_max_segs
 * above TUN_GSO_SEGS_DEFAULT (the kernel's default is 65535) is lowered
 * to it, since the vnet readers split a frame into at most that many
 * packets; if the kernel refuses, offload_msg says so.
 *
 * Ownership: on success @t owns all @n fds; on failure none is closed and
 * all are the caller's again (those already checked are O_NONBLOCK and
 * FD_CLOEXEC by then).
 */
int tun_open_from_fds(struct tun_dev *t, const int *fds, unsigned int n,
		      struct vl_status *st);

/* Address (host order) with its prefix, MTU, txqueuelen, then link up. */
int tun_configure(struct tun_dev *t, uint32_t addr, uint32_t mask, int mtu,
		  int txqueuelen, struct vl_status *st);

/* The device's MTU, read over rtnetlink by ifindex. */
int tun_mtu_get(const struct tun_dev *t, int *mtu, struct vl_status *st);

/* Sets the MTU: 68 (IPv4's minimum) to 65535, else -EINVAL naming it. */
int tun_mtu_set(struct tun_dev *t, int mtu, struct vl_status *st);

/* A route through the device: dst/mask, with an MTU (0: the device's) and metric. */
int tun_route_add(struct tun_dev *t, uint32_t dst, uint32_t mask, int mtu,
		  int metric, struct vl_status *st);

/*
 * Reads up to @max packets from queue @q without blocking: bufs[i] has room
 * for @buf_len bytes, lens[i] receives each length. Returns the count.
 */
unsigned int tun_q_read_burst(struct tun_dev *t, unsigned int q,
			      uint8_t *const *bufs, uint32_t buf_len,
			      uint32_t *lens, unsigned int max);

/* Writes packets to queue @q; returns how many the kernel took. */
unsigned int tun_q_write_burst(struct tun_dev *t, unsigned int q,
			       uint8_t *const *bufs, const uint32_t *lens,
			       unsigned int n);

/*
 * A vnet queue's state for the thread that reads and writes it: the read
 * buffer, a frame read but not split yet, the write batch and counters.
 * About 80 KiB: allocate it (zeroed) once per worker, never on the stack.
 * Single-threaded, like the queue.
 */
struct tun_q_vnet {
	struct tun_off_stats off; /* split and coalesce, by the engine */
	uint64_t tx_writes; /* writev() calls the kernel took */
	uint64_t tx_supers; /* of which super-packets */
	uint64_t tx_coalesced; /* packets inside those */
	uint32_t held; /* length of a frame waiting in @frame */
	struct tun_off_batch batch;
	uint8_t frame[TUN_OFF_READ_LEN];
};

/*
 * Reads frames from vnet queue @q and splits them (tun_off_split) into
 * bufs[0..max), each with room for @buf_len bytes (the segment limit) and
 * TUN_VNET_HDR_LEN writable bytes before it: a frame that fits is read in
 * place, header in front, so a plain packet is not copied. Returns the
 * packets written, lens[i] their lengths.
 *
 * At most @max reads. A frame whose segments might not fit the buffers
 * left (by its gso_size) waits in @v for the next call, which splits it
 * first; so a call that leaves one waiting has returned packets, and the
 * caller calls again without polling. A frame tun_off_split() refuses is
 * dropped and counted in v->off.rejects[].
 */
unsigned int tun_q_read_vnet_burst(struct tun_dev *t, unsigned int q,
				   struct tun_q_vnet *v, uint8_t *const *bufs,
				   uint32_t buf_len, uint32_t *lens,
				   unsigned int max);

/*
 * Writes pkts[0..n) to vnet queue @q: coalesced into write units
 * (tun_off_coalesce, UDP too when t->uso), one writev() each. The packets
 * are read, and the first of each super-packet rewritten, until the call
 * returns; then they are the caller's again. Returns how many packets the
 * kernel took; *bytes gets what those writes carried after the vnet
 * header (a super-packet's headers count once). Like tun_q_write_burst(),
 * a unit the kernel refuses is skipped, and on EAGAIN the rest are the
 * caller's to count as dropped.
 */
unsigned int tun_q_write_vnet_burst(struct tun_dev *t, unsigned int q,
				    struct tun_q_vnet *v, uint8_t *const *pkts,
				    const uint32_t *lens, unsigned int n,
				    uint64_t *bytes);

void tun_close(struct tun_dev *t);

#endif /* TUN_MQ_H */
