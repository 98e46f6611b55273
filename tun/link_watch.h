/* SPDX-License-Identifier: MIT */
#ifndef TUN_LINK_WATCH_H
#define TUN_LINK_WATCH_H

/*
 * Watches one device for the changes the dataplane acts on: up/running
 * flags, MTU, deletion. An rtnetlink listener on RTNLGRP_LINK only
 * (tun_nl_open_events), filtered by ifindex. Poll tun_link_watch_fd() for
 * POLLIN, then call tun_link_watch_read(). Setup-side code: reads
 * allocate nothing, but a lost-events resync does a blocking (bounded)
 * RTM_GETLINK. One thread.
 */

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

struct vl_status;
struct tun_link_watch;

struct tun_link_state {
	int ifindex;
	bool exists; /* false once the device is deleted (or left the netns) */
	bool up; /* IFF_UP: administratively up */
	bool running; /* IFF_RUNNING: operationally up (carrier) */
	unsigned int flags; /* all IFF_* as last reported */
	uint32_t mtu;
	char name[IFNAMSIZ];
};

/*
 * Subscribes first, then reads the device's current state, so no change
 * falls between the two. -ENODEV if @ifindex names no device.
 */
int tun_link_watch_open(int ifindex, struct tun_link_watch **w,
			struct vl_status *st);

/* The fd to poll for POLLIN. */
int tun_link_watch_fd(const struct tun_link_watch *w);

/*
 * Drains the queued events (a bounded number per call; if more remain
 * the fd stays readable). Fills @out with the current state, always.
 * Returns 1 if exists, up, running or mtu differ from what the last call
 * that returned 1 (or open) saw, 0 if not, -errno on a fatal error. When
 * the kernel dropped events (ENOBUFS and the like) the link is read again
 * and that state compared, so a lost change is still reported.
 */
int tun_link_watch_read(struct tun_link_watch *w, struct tun_link_state *out,
			struct vl_status *st);

/* NULL is fine. */
void tun_link_watch_close(struct tun_link_watch *w);

#endif /* TUN_LINK_WATCH_H */
