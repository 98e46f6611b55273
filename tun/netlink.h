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
#include <stddef.h>
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
	uint32_t gso_max_segs, gso_max_size; /* 0: not reported */
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

/* The same by index; -ENODEV when no device has it. */
int tun_nl_link_get_index(struct tun_nl_conn *nl, int ifindex,
			  struct tun_nl_link *link, struct vl_status *st);

/*
 * Sets what is not negative: @mtu (IFLA_MTU), @txqlen (IFLA_TXQLEN), and
 * @up (1 up, 0 down), in one RTM_NEWLINK; the kernel applies the MTU and
 * queue length before it changes the flags.
 */
int tun_nl_link_set(struct tun_nl_conn *nl, int ifindex, int mtu, int txqlen, int up,
		struct vl_status *st);

/*
 * IFLA_GSO_MAX_SEGS: the most segments the stack puts in one GSO packet
 * for the device; a bigger one is segmented in software before the
 * driver sees it (netif_skb_features). Linux 5.19+ on an existing device.
 */
int tun_nl_link_set_gso_segs(struct tun_nl_conn *nl, int ifindex,
			     uint32_t max_segs, struct vl_status *st);

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

/*
 * ---- Requests built by the caller, and event sockets -------------------
 * For modules that speak other rtnetlink messages (dataplane/nexthop.c:
 * RTM_GETROUTE, RTM_GETNEIGH) without a function here for each.
 */
struct nlmsghdr;
struct rtattr;

/*
 * Sends @req, a whole request the caller built (header, family header,
 * attributes; nlmsg_len set), adding NLM_F_REQUEST | NLM_F_ACK and a
 * sequence number, and hands every reply before the ACK or NLMSG_DONE to
 * @cb. The kernel refusing the request is an answer, not a failure: its
 * errno goes to *@kerr (0 when it agreed) and the call returns 0. Returns
 * -errno only when no answer came (send, receive, timeout, malformed
 * reply) or @cb failed, with the reason in @st.
 */
int tun_nl_query(struct tun_nl_conn *nl, struct nlmsghdr *req, const char *what,
		 int (*cb)(const struct nlmsghdr *h, void *arg), void *arg,
		 int *kerr, struct vl_status *st);

/*
 * Fills tb[0..max] with the attributes after the @hdr_len-byte family
 * header of @h: the last of each type, unknown types ignored, a malformed
 * one ending the walk, so every tb[] entry lies inside @h and its
 * rta_len is at least sizeof(struct rtattr). -EBADMSG when @h is shorter
 * than its family header.
 */
int tun_nl_parse(const struct nlmsghdr *h, size_t hdr_len,
		 const struct rtattr **tb, unsigned int max);
/* The same inside a nested attribute (tb[] entries of tun_nl_parse). */
void tun_nl_parse_nested(const struct rtattr **tb, unsigned int max,
			 const struct rtattr *nest);

/*
 * Opens @nl as a listener: nonblocking, member of the rtnetlink multicast
 * @groups (RTNLGRP_*), receive buffer @rcvbuf bytes if > 0 and allowed.
 * Poll nl->fd for POLLIN; never send requests on it (a reply would be
 * mixed with events).
 */
int tun_nl_open_events(struct tun_nl_conn *nl, const unsigned int *groups,
		       unsigned int n_groups, int rcvbuf, struct vl_status *st);

/*
 * Reads at most @max datagrams without waiting and hands each message
 * from the kernel to @cb. Returns how many datagrams were read (0: none
 * queued) or -errno. -ENOBUFS (the kernel dropped events: receive buffer
 * full), -EMSGSIZE (an event larger than NL_RECV_LEN) and -EBADMSG (a
 * malformed datagram, the rest of it skipped) all mean events were lost:
 * read the state again; reading can go on. Anything else is fatal.
 */
int tun_nl_events_read(struct tun_nl_conn *nl, unsigned int max,
		       void (*cb)(const struct nlmsghdr *h, void *arg),
		       void *arg, struct vl_status *st);

#endif /* TUN_NETLINK_H */
