/* SPDX-License-Identifier: MIT */
#ifndef TUN_NETLINK_H
#define TUN_NETLINK_H

/*
 * A small synchronous rtnetlink (NETLINK_ROUTE) client: one request at a
 * time, each sent with NLM_F_ACK and answered by the kernel's ACK or error
 * before the call returns. Replies are matched by sequence number and port
 * id, every length is checked before a field is read, and every receive
 * waits at most NL_TIMEOUT_MS. With NETLINK_EXT_ACK the kernel's own error
 * text ("MTU greater than device maximum") goes into the vl_status message.
 *
 * Setup code only: calls block (bounded) and allocate. One struct tun_nl_conn
 * per thread; link-event monitoring will use a socket of its own.
 *
 * Addresses are host byte order, as in common/ipnet.h. Names are tun_nl_*:
 * libnl owns nl_*, and the two must be able to share a binary.
 */

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

struct vl_status;

enum nl_limits {
	NL_TIMEOUT_MS = 5000, /* per receive; the kernel answers at once */
	NL_RECV_LEN = 32768, /* the kernel's largest dump datagram */
	NL_RECV_MAX = 64, /* datagrams read per request, stale ones included */
};

struct tun_nl_conn {
	int fd;
	uint32_t port; /* our netlink port id, as the kernel assigned it */
	uint32_t seq;
	uint8_t *buf; /* NL_RECV_LEN bytes */
};

/* What RTM_GETLINK tells about one device (tun_nl_link_get). */
struct tun_nl_link {
	int ifindex;
	unsigned int flags; /* IFF_UP, IFF_LOWER_UP, ... */
	char name[IFNAMSIZ];
	char kind[16]; /* IFLA_INFO_KIND: "tun", "veth"; "" for none (lo) */
	uint32_t mtu;
	uint32_t txqlen;
	uint8_t operstate; /* IF_OPER_* */
	/* IFLA_TUN_* (kind "tun", Linux 4.15+); tun_info says they came. */
	bool tun_info;
	uint8_t tun_type; /* IFF_TUN or IFF_TAP */
	bool tun_pi;
	bool tun_vnet_hdr;
	bool tun_multi_queue;
	bool tun_persist;
	uint32_t tun_queues; /* attached queues (fds), disabled ones apart */
	uint32_t tun_disabled_queues;
};

/* netlink.c; all return 0 or -errno with the reason in @st. */
int tun_nl_open(struct tun_nl_conn *nl, struct vl_status *st);
void tun_nl_close(struct tun_nl_conn *nl);

/* -ENODEV when no device has that name. */
int tun_nl_link_get(struct tun_nl_conn *nl, const char *name, struct tun_nl_link *link,
		struct vl_status *st);

/*
 * Sets what is not negative: @mtu (IFLA_MTU), @txqlen (IFLA_TXQLEN), and
 * @up (1 up, 0 down), in one RTM_NEWLINK; the kernel applies the MTU and
 * queue length before it changes the flags.
 */
int tun_nl_link_set(struct tun_nl_conn *nl, int ifindex, int mtu, int txqlen, int up,
		struct vl_status *st);

/*
 * IFA_LOCAL = IFA_ADDRESS = @addr with @prefix; the kernel adds the
 * connected route. Adding an address the device already has with the
 * same prefix succeeds (NLM_F_REPLACE), as SIOCSIFADDR does for nebula.
 */
int tun_nl_addr_add4(struct tun_nl_conn *nl, int ifindex, uint32_t addr,
		 unsigned int prefix, struct vl_status *st);

/*
 * Route @dst/@prefix out of @ifindex: table main, proto static, scope
 * link. @mtu > 0 adds RTAX_MTU and RTAX_ADVMSS = @mtu - 40 (nebula's
 * AdvMSS); @metric > 0 sets RTA_PRIORITY. -EEXIST if the table already
 * holds @dst/@prefix with that metric (NLM_F_EXCL: never take over a
 * route someone else installed).
 */
int tun_nl_route_add4(struct tun_nl_conn *nl, int ifindex, uint32_t dst,
		  unsigned int prefix, int mtu, int metric,
		  struct vl_status *st);

#endif /* TUN_NETLINK_H */
