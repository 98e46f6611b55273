/* SPDX-License-Identifier: MIT */
#ifndef TUN_MQ_H
#define TUN_MQ_H

/*
 * The overlay's TUN device: IFF_TUN | IFF_NO_PI (raw IPv4 packets, as
 * Nebula's device carries them) with IFF_MULTI_QUEUE, one queue fd per
 * worker (Documentation/networking/tuntap.rst), configured over rtnetlink:
 * address, MTU, txqueuelen, link up, and routes (with their MTU) for
 * tun.routes and tun.unsafe_routes. Offloads (IFF_VNET_HDR, TSO/USO) come
 * with the TUN issue; this is the plain device they build on.
 *
 * Queue fds are non-blocking. A buffer handed to write() is the caller's
 * again when the call returns (the kernel copies).
 */

#include <stdint.h>
#include <net/if.h>

struct vl_status;

#define TUN_QUEUES_MAX 64

struct tun_dev {
	char name[IFNAMSIZ];
	int ifindex;
	unsigned int n_queues;
	int fds[TUN_QUEUES_MAX];
};

/*
 * Creates (or attaches to) the device @name ("" lets the kernel pick
 * "tun%d") with @n_queues queues. Errors say what to do: no /dev/net/tun
 * (modprobe tun), no CAP_NET_ADMIN, a name in use by a device that is not
 * a multiqueue TUN, more queues than the device allows.
 */
int tun_open(struct tun_dev *t, const char *name, unsigned int n_queues,
	     struct vl_status *st);

/* Address (host order) with its prefix, MTU, txqueuelen, then link up. */
int tun_configure(struct tun_dev *t, uint32_t addr, uint32_t mask, int mtu,
		  int txqueuelen, struct vl_status *st);

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

void tun_close(struct tun_dev *t);

#endif /* TUN_MQ_H */
