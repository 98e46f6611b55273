/* SPDX-License-Identifier: MIT */
/*
 * rtnetlink, one request at a time. A request goes out with NLM_F_ACK and
 * a fresh sequence number; the kernel answers with zero or more replies
 * (RTM_NEWLINK for a get) and then an NLMSG_ERROR carrying 0 or -errno.
 * Datagrams with another sequence number or port id are left-overs of an
 * earlier request that timed out and are skipped. If a reply handler
 * fails, reading goes on until the ACK so the socket is clean for the
 * next request.
 *
 * The kernel's replies are trusted, but every length is still checked
 * before the field behind it is read: a bad reply is an error, never a
 * read past the buffer. Pointers into the receive buffer are made through
 * void * (the buffer is malloc()ed, so aligned for any header).
 */
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "status.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* A request: header, family header, room for a few attributes. */
struct req {
	struct nlmsghdr nh;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
		struct rtmsg rtm;
	};
	uint8_t attrs[256];
};

static void req_init(struct req *r, uint16_t type, uint16_t flags,
		     size_t hdr_len)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_LENGTH(hdr_len);
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

/* Appends an attribute; NULL if it does not fit (a bug in this file). */
static struct rtattr *put_attr(struct req *r, uint16_t type, const void *data,
			       size_t len)
{
	size_t off = NLMSG_ALIGN(r->nh.nlmsg_len);
	struct rtattr *rta;

	if (off + RTA_SPACE(len) > sizeof(*r))
		return NULL;
	rta = (void *)((char *)r + off);
	rta->rta_type = type;
	rta->rta_len = (uint16_t)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return rta;
}

static bool put_u32(struct req *r, uint16_t type, uint32_t v)
{
	return put_attr(r, type, &v, sizeof(v)) != NULL;
}

static void nest_end(struct req *r, struct rtattr *nest)
{
	nest->rta_len = (uint16_t)((char *)r + r->nh.nlmsg_len - (char *)nest);
}

/* Appends to a NUL-terminated message, cutting what does not fit. */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t size,
							 const char *fmt, ...)
{
	size_t n = strnlen(buf, size);
	va_list ap;

	if (n + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

static size_t attr_len(const struct rtattr *rta)
{
	return rta->rta_len - RTA_LENGTH(0);
}

static const void *attr_data(const struct rtattr *rta)
{
	return (const char *)rta + RTA_LENGTH(0);
}

/*
 * Fills tb[0..max] with the last attribute of each type found in
 * data[0..len); unknown types are ignored, a malformed one ends the walk.
 */
static void parse_attrs(const struct rtattr **tb, unsigned int max,
			const void *data, size_t len)
{
	const char *p = data;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	while (len >= sizeof(struct rtattr)) {
		const struct rtattr *rta = (const void *)p;
		unsigned int type = rta->rta_type & NLA_TYPE_MASK;
		size_t step;

		if (rta->rta_len < sizeof(*rta) || rta->rta_len > len)
			return;
		if (type <= max)
			tb[type] = rta;
		step = RTA_ALIGN(rta->rta_len);
		if (step >= len)
			return;
		p += step;
		len -= step;
	}
}

static void parse_nested(const struct rtattr **tb, unsigned int max,
			 const struct rtattr *nest)
{
	parse_attrs(tb, max, attr_data(nest), attr_len(nest));
}

static bool get_u32(const struct rtattr *rta, uint32_t *v)
{
	if (!rta || attr_len(rta) < sizeof(*v))
		return false;
	memcpy(v, attr_data(rta), sizeof(*v));
	return true;
}

static bool get_u8(const struct rtattr *rta, uint8_t *v)
{
	if (!rta || attr_len(rta) < sizeof(*v))
		return false;
	memcpy(v, attr_data(rta), sizeof(*v));
	return true;
}

static bool get_flag(const struct rtattr *rta)
{
	uint8_t v = 0;

	return get_u8(rta, &v) && v;
}

/* Copies a string attribute, NUL-terminated and cut to @size. */
static void get_str(const struct rtattr *rta, char *out, size_t size)
{
	size_t n;

	out[0] = '\0';
	if (!rta)
		return;
	n = strnlen(attr_data(rta), attr_len(rta));
	if (n >= size)
		n = size - 1;
	memcpy(out, attr_data(rta), n);
	out[n] = '\0';
}

/*
 * The errno of an NLMSG_ERROR (0 for an ACK) and, from the extended ACK,
 * the kernel's message. Layout: struct nlmsgerr, then the request's
 * payload unless NLM_F_CAPPED, then TLVs if NLM_F_ACK_TLVS.
 */
static int ack_errno(const struct nlmsghdr *h, char *kmsg, size_t kmsg_len)
{
	const struct rtattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t plen = h->nlmsg_len - NLMSG_HDRLEN;
	const struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off = sizeof(*e);

	kmsg[0] = '\0';
	if (plen < sizeof(*e) || e->error > 0 || e->error < -4095)
		return -EBADMSG;
	if (!e->error || !(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return e->error;
	if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return e->error;
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	}
	off = NLMSG_ALIGN(off);
	if (off < plen) {
		parse_attrs(tb, NLMSGERR_ATTR_MAX, (const char *)e + off,
			    plen - off);
		get_str(tb[NLMSGERR_ATTR_MSG], kmsg, kmsg_len);
	}
	return e->error;
}

/* One datagram from the kernel into nl->buf; its length, or -errno. */
static int recv_one(struct tun_nl_conn *nl, const char *what, struct vl_status *st)
{
	struct pollfd pfd = { .fd = nl->fd, .events = POLLIN };
	struct sockaddr_nl sa;
	struct iovec iov = { .iov_base = nl->buf, .iov_len = NL_RECV_LEN };
	struct msghdr msg = {
		.msg_name = &sa,
		.msg_namelen = sizeof(sa),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	ssize_t n;
	int ret;

	ret = poll(&pfd, 1, NL_TIMEOUT_MS);
	if (ret < 0 && errno != EINTR)
		return vl_status_set(st, -errno, "%s: poll: %s", what,
				     strerror(errno));
	if (ret == 0)
		return vl_status_set(st, -ETIMEDOUT,
				     "%s: no answer from the kernel in %d ms",
				     what, NL_TIMEOUT_MS);
	n = recvmsg(nl->fd, &msg, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		return vl_status_set(st, -errno, "%s: receive: %s", what,
				     strerror(errno));
	}
	if (msg.msg_flags & MSG_TRUNC)
		return vl_status_set(st, -EMSGSIZE,
				     "%s: reply larger than %d bytes", what,
				     NL_RECV_LEN);
	/* Only the kernel (port 0) answers requests. */
	if (msg.msg_namelen != sizeof(sa) || sa.nl_pid != 0)
		return 0;
	return (int)n;
}

/* What a reply handler's error means to the caller. */
static int reply_err(int cb_err, const char *what, struct vl_status *st)
{
	if (!cb_err)
		return 0;
	return vl_status_set(st, cb_err, "%s: bad reply: %s", what,
			     strerror(-cb_err));
}

/*
 * Sends @req and reads until its ACK or NLMSG_DONE, handing every other
 * reply to @cb. Returns the kernel's errno (or @cb's, or a local one);
 * with @kerr, the kernel's errno goes there instead and the return value
 * is only ours (tun_nl_query).
 */
static int transact_msg(struct tun_nl_conn *nl, struct nlmsghdr *req,
			const char *what,
			int (*cb)(const struct nlmsghdr *h, void *arg),
			void *arg, int *kerr, struct vl_status *st)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char kmsg[160];
	int cb_err = 0;
	unsigned int round;
	ssize_t sent;

	if (kerr)
		*kerr = 0;
	if (nl->fd < 0)
		return vl_status_set(st, -EBADF, "%s: netlink not open", what);
	req->nlmsg_seq = ++nl->seq;
	sent = sendto(nl->fd, req, req->nlmsg_len, 0, (void *)&kernel,
		      sizeof(kernel));
	if (sent < 0)
		return vl_status_set(st, -errno, "%s: send: %s", what,
				     strerror(errno));
	if ((size_t)sent != req->nlmsg_len)
		return vl_status_set(st, -EIO, "%s: short send", what);

	for (round = 0; round < NL_RECV_MAX; round++) {
		int len = recv_one(nl, what, st);
		size_t off = 0;

		if (len < 0)
			return len;
		while ((size_t)len - off >= NLMSG_HDRLEN) {
			const struct nlmsghdr *h = (void *)(nl->buf + off);
			size_t step = NLMSG_ALIGN(h->nlmsg_len);
			int err;

			if (h->nlmsg_len < NLMSG_HDRLEN ||
			    h->nlmsg_len > (size_t)len - off)
				return vl_status_set(st, -EBADMSG,
						     "%s: malformed reply",
						     what);
			off = step < (size_t)len - off ? off + step :
							 (size_t)len;
			if (h->nlmsg_seq != req->nlmsg_seq ||
			    h->nlmsg_pid != nl->port)
				continue;
			switch (h->nlmsg_type) {
			case NLMSG_NOOP:
				continue;
			case NLMSG_DONE:
				return reply_err(cb_err, what, st);
			case NLMSG_ERROR:
				err = ack_errno(h, kmsg, sizeof(kmsg));
				/* -EBADMSG here is a malformed error
				 * message: ours to report, not an answer. */
				if (err && kerr && err != -EBADMSG) {
					*kerr = err;
					err = 0;
				}
				if (err)
					return vl_status_set(
						st, err, "%s: %s%s%s%s", what,
						strerror(-err),
						kmsg[0] ? " (kernel: " : "",
						kmsg, kmsg[0] ? ")" : "");
				return reply_err(cb_err, what, st);
			default:
				if (cb && !cb_err)
					cb_err = cb(h, arg);
				continue;
			}
		}
	}
	return vl_status_set(st, -ETIMEDOUT, "%s: no ACK in %d datagrams", what,
			     NL_RECV_MAX);
}

static int transact(struct tun_nl_conn *nl, struct req *r, const char *what,
		    int (*cb)(const struct nlmsghdr *h, void *arg), void *arg,
		    struct vl_status *st)
{
	return transact_msg(nl, &r->nh, what, cb, arg, NULL, st);
}

int tun_nl_open(struct tun_nl_conn *nl, struct vl_status *st)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t sa_len = sizeof(sa);
	int one = 1;
	int err;

	nl->fd = -1;
	nl->port = 0;
	nl->seq = 0;
	nl->buf = malloc(NL_RECV_LEN);
	if (!nl->buf)
		return vl_status_set(st, -ENOMEM, "netlink: out of memory");
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0) {
		err = vl_status_set(st, -errno, "netlink socket: %s",
				    strerror(errno));
		goto free_buf;
	}
	/* Kernel error text, and no copy of our request in every error;
	 * kernels without them still work, with plainer messages. */
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one,
			 sizeof(one));
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one,
			 sizeof(one));
	if (bind(nl->fd, (void *)&sa, sizeof(sa)) < 0 ||
	    getsockname(nl->fd, (void *)&sa, &sa_len) < 0) {
		err = vl_status_set(st, -errno, "netlink bind: %s",
				    strerror(errno));
		goto close_fd;
	}
	nl->port = sa.nl_pid;
	return 0;

close_fd:
	close(nl->fd);
	nl->fd = -1;
free_buf:
	free(nl->buf);
	nl->buf = NULL;
	return err;
}

void tun_nl_close(struct tun_nl_conn *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
	free(nl->buf);
	nl->buf = NULL;
}

static int link_parse(const struct nlmsghdr *h, void *arg)
{
	const struct rtattr *tb[IFLA_MAX + 1];
	const struct rtattr *info[IFLA_INFO_MAX + 1];
	const struct rtattr *tun[IFLA_TUN_MAX + 1];
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct tun_nl_link *link = arg;

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return -EBADMSG;
	memset(link, 0, sizeof(*link));
	link->ifindex = ifi->ifi_index;
	link->flags = ifi->ifi_flags;
	parse_attrs(tb, IFLA_MAX, (const char *)ifi + NLMSG_ALIGN(sizeof(*ifi)),
		    h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
	get_str(tb[IFLA_IFNAME], link->name, sizeof(link->name));
	get_u32(tb[IFLA_MTU], &link->mtu);
	get_u32(tb[IFLA_TXQLEN], &link->txqlen);
	get_u32(tb[IFLA_GSO_MAX_SEGS], &link->gso_max_segs);
	get_u32(tb[IFLA_GSO_MAX_SIZE], &link->gso_max_size);
	get_u8(tb[IFLA_OPERSTATE], &link->operstate);
	if (!tb[IFLA_LINKINFO])
		return 0;
	parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO]);
	get_str(info[IFLA_INFO_KIND], link->kind, sizeof(link->kind));
	if (strcmp(link->kind, "tun") || !info[IFLA_INFO_DATA])
		return 0;
	parse_nested(tun, IFLA_TUN_MAX, info[IFLA_INFO_DATA]);
	link->tun_info = get_u8(tun[IFLA_TUN_TYPE], &link->tun_type);
	link->tun_pi = get_flag(tun[IFLA_TUN_PI]);
	link->tun_vnet_hdr = get_flag(tun[IFLA_TUN_VNET_HDR]);
	link->tun_multi_queue = get_flag(tun[IFLA_TUN_MULTI_QUEUE]);
	link->tun_persist = get_flag(tun[IFLA_TUN_PERSIST]);
	get_u32(tun[IFLA_TUN_NUM_QUEUES], &link->tun_queues);
	get_u32(tun[IFLA_TUN_NUM_DISABLED_QUEUES], &link->tun_disabled_queues);
	return 0;
}

int tun_nl_link_get(struct tun_nl_conn *nl, const char *name, struct tun_nl_link *link,
		struct vl_status *st)
{
	size_t len = strlen(name);
	char what[64];
	struct req r;
	int err;

	snprintf(what, sizeof(what), "get link %s", name);
	if (!len || len >= IFNAMSIZ)
		return vl_status_set(st, -EINVAL, "%s: bad name", what);
	req_init(&r, RTM_GETLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_family = AF_UNSPEC;
	if (!put_attr(&r, IFLA_IFNAME, name, len + 1) ||
	    !put_u32(&r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS))
		return vl_status_set(st, -EMSGSIZE, "%s: request", what);
	link->ifindex = 0;
	err = transact(nl, &r, what, link_parse, link, st);
	if (err)
		return err;
	if (!link->ifindex)
		return vl_status_set(st, -EBADMSG, "%s: no link in reply",
				     what);
	return 0;
}

int tun_nl_link_get_index(struct tun_nl_conn *nl, int ifindex,
			  struct tun_nl_link *link, struct vl_status *st)
{
	char what[64];
	struct req r;
	int err;

	snprintf(what, sizeof(what), "get link %d", ifindex);
	if (ifindex <= 0)
		return vl_status_set(st, -EINVAL, "%s: bad index", what);
	req_init(&r, RTM_GETLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = ifindex;
	if (!put_u32(&r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS))
		return vl_status_set(st, -EMSGSIZE, "%s: request", what);
	link->ifindex = 0;
	err = transact(nl, &r, what, link_parse, link, st);
	if (err)
		return err;
	if (link->ifindex != ifindex)
		return vl_status_set(st, -EBADMSG, "%s: no link in reply",
				     what);
	return 0;
}

int tun_nl_link_set(struct tun_nl_conn *nl, int ifindex, int mtu, int txqlen, int up,
		struct vl_status *st)
{
	char what[96];
	struct req r;

	snprintf(what, sizeof(what), "set link %d", ifindex);
	if (mtu >= 0)
		append(what, sizeof(what), " mtu %d", mtu);
	if (txqlen >= 0)
		append(what, sizeof(what), " txqueuelen %d", txqlen);
	if (up >= 0)
		append(what, sizeof(what), up ? " up" : " down");
	req_init(&r, RTM_NEWLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = ifindex;
	if (up >= 0) {
		r.ifi.ifi_change = IFF_UP;
		r.ifi.ifi_flags = up ? IFF_UP : 0;
	}
	if ((mtu >= 0 && !put_u32(&r, IFLA_MTU, (uint32_t)mtu)) ||
	    (txqlen >= 0 && !put_u32(&r, IFLA_TXQLEN, (uint32_t)txqlen)))
		return vl_status_set(st, -EMSGSIZE, "%s: request", what);
	return transact(nl, &r, what, NULL, NULL, st);
}

int tun_nl_link_set_gso_segs(struct tun_nl_conn *nl, int ifindex,
			     uint32_t max_segs, struct vl_status *st)
{
	char what[64];
	struct req r;

	snprintf(what, sizeof(what), "set link %d gso_max_segs %u", ifindex,
		 max_segs);
	req_init(&r, RTM_NEWLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = ifindex;
	if (!put_u32(&r, IFLA_GSO_MAX_SEGS, max_segs))
		return vl_status_set(st, -EMSGSIZE, "%s: request", what);
	return transact(nl, &r, what, NULL, NULL, st);
}

static void fmt_ip4(char *out, size_t size, uint32_t addr)
{
	uint32_t be = htonl(addr);

	if (!inet_ntop(AF_INET, &be, out, (socklen_t)size))
		snprintf(out, size, "?");
}

int tun_nl_addr_add4(struct tun_nl_conn *nl, int ifindex, uint32_t addr,
		 unsigned int prefix, struct vl_status *st)
{
	uint32_t be = htonl(addr);
	char ip[INET_ADDRSTRLEN];
	char what[80];
	struct req r;

	fmt_ip4(ip, sizeof(ip), addr);
	snprintf(what, sizeof(what), "add address %s/%u to link %d", ip, prefix,
		 ifindex);
	if (prefix > 32)
		return vl_status_set(st, -EINVAL, "%s: bad prefix", what);
	req_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(r.ifa));
	r.ifa.ifa_family = AF_INET;
	r.ifa.ifa_prefixlen = (uint8_t)prefix;
	r.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	r.ifa.ifa_index = (uint32_t)ifindex;
	if (!put_attr(&r, IFA_LOCAL, &be, sizeof(be)) ||
	    !put_attr(&r, IFA_ADDRESS, &be, sizeof(be)))
		return vl_status_set(st, -EMSGSIZE, "%s: request", what);
	return transact(nl, &r, what, NULL, NULL, st);
}

int tun_nl_route_add4(struct tun_nl_conn *nl, int ifindex, uint32_t dst,
		  unsigned int prefix, int mtu, int metric,
		  struct vl_status *st)
{
	uint32_t be = htonl(dst);
	char ip[INET_ADDRSTRLEN];
	struct rtattr *mx;
	char what[112];
	struct req r;

	fmt_ip4(ip, sizeof(ip), dst);
	snprintf(what, sizeof(what), "add route %s/%u dev %d", ip, prefix,
		 ifindex);
	if (metric)
		append(what, sizeof(what), " metric %d", metric);
	if (mtu)
		append(what, sizeof(what), " mtu %d advmss %d", mtu, mtu - 40);
	if (prefix > 32 || mtu < 0 || (mtu > 0 && mtu <= 40) || metric < 0)
		return vl_status_set(st, -EINVAL, "%s: bad argument", what);
	req_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(r.rtm));
	r.rtm.rtm_family = AF_INET;
	r.rtm.rtm_dst_len = (uint8_t)prefix;
	r.rtm.rtm_table = RT_TABLE_MAIN;
	r.rtm.rtm_protocol = RTPROT_STATIC;
	r.rtm.rtm_scope = RT_SCOPE_LINK;
	r.rtm.rtm_type = RTN_UNICAST;
	if (!put_attr(&r, RTA_DST, &be, sizeof(be)) ||
	    !put_u32(&r, RTA_OIF, (uint32_t)ifindex) ||
	    (metric > 0 && !put_u32(&r, RTA_PRIORITY, (uint32_t)metric)))
		return vl_status_set(st, -EMSGSIZE, "%s: request", what);
	if (mtu > 0) {
		/* As iproute2 sends it: RTA_METRICS without NLA_F_NESTED. */
		mx = put_attr(&r, RTA_METRICS, NULL, 0);
		if (!mx || !put_u32(&r, RTAX_MTU, (uint32_t)mtu) ||
		    !put_u32(&r, RTAX_ADVMSS, (uint32_t)(mtu - 40)))
			return vl_status_set(st, -EMSGSIZE, "%s: request",
					     what);
		nest_end(&r, mx);
	}
	return transact(nl, &r, what, NULL, NULL, st);
}

/* ---- requests built elsewhere, and event sockets ---------------------- */

int tun_nl_query(struct tun_nl_conn *nl, struct nlmsghdr *req, const char *what,
		 int (*cb)(const struct nlmsghdr *h, void *arg), void *arg,
		 int *kerr, struct vl_status *st)
{
	if (req->nlmsg_len < NLMSG_HDRLEN)
		return vl_status_set(st, -EINVAL, "%s: request too short",
				     what);
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	return transact_msg(nl, req, what, cb, arg, kerr, st);
}

int tun_nl_parse(const struct nlmsghdr *h, size_t hdr_len,
		 const struct rtattr **tb, unsigned int max)
{
	size_t off = NLMSG_LENGTH(NLMSG_ALIGN(hdr_len));

	if (h->nlmsg_len < NLMSG_LENGTH(hdr_len))
		return -EBADMSG;
	/* Attributes start after the padded family header, if any. */
	parse_attrs(tb, max, (const char *)h + off,
		    h->nlmsg_len > off ? h->nlmsg_len - off : 0);
	return 0;
}

void tun_nl_parse_nested(const struct rtattr **tb, unsigned int max,
			 const struct rtattr *nest)
{
	parse_nested(tb, max, nest);
}

int tun_nl_open_events(struct tun_nl_conn *nl, const unsigned int *groups,
		       unsigned int n_groups, int rcvbuf, struct vl_status *st)
{
	unsigned int i;
	int flags;
	int err;

	err = tun_nl_open(nl, st);
	if (err)
		return err;
	flags = fcntl(nl->fd, F_GETFL);
	if (flags < 0 || fcntl(nl->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		err = vl_status_set(st, -errno,
				    "netlink events: nonblocking: %s",
				    strerror(errno));
		goto close_nl;
	}
	for (i = 0; i < n_groups; i++) {
		if (setsockopt(nl->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
			       &groups[i], sizeof(groups[i])) < 0) {
			err = vl_status_set(st, -errno,
					    "netlink events: join group %u: %s",
					    groups[i], strerror(errno));
			goto close_nl;
		}
	}
	/*
	 * A bigger buffer only makes -ENOBUFS rarer; the caller copes with
	 * it either way. FORCE needs CAP_NET_ADMIN and passes rmem_max.
	 */
	if (rcvbuf > 0 && setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUFFORCE,
				     &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				 sizeof(rcvbuf));
	return 0;

close_nl:
	tun_nl_close(nl);
	return err;
}

int tun_nl_events_read(struct tun_nl_conn *nl, unsigned int max,
		       void (*cb)(const struct nlmsghdr *h, void *arg),
		       void *arg, struct vl_status *st)
{
	unsigned int n;

	for (n = 0; n < max; n++) {
		struct sockaddr_nl sa;
		struct iovec iov = { .iov_base = nl->buf,
				     .iov_len = NL_RECV_LEN };
		struct msghdr msg = {
			.msg_name = &sa,
			.msg_namelen = sizeof(sa),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		size_t len, off = 0;
		ssize_t got;

		got = recvmsg(nl->fd, &msg, MSG_DONTWAIT);
		if (got < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS)
				return vl_status_set(
					st, -ENOBUFS,
					"netlink events: the kernel dropped some (receive buffer full)");
			return vl_status_set(st, -errno,
					     "netlink events: receive: %s",
					     strerror(errno));
		}
		if (msg.msg_flags & MSG_TRUNC)
			return vl_status_set(
				st, -EMSGSIZE,
				"netlink events: message larger than %d bytes dropped",
				NL_RECV_LEN);
		/* Other processes may unicast to us; only the kernel counts. */
		if (msg.msg_namelen != sizeof(sa) || sa.nl_pid != 0)
			continue;
		len = (size_t)got;
		while (len - off >= NLMSG_HDRLEN) {
			const struct nlmsghdr *h = (void *)(nl->buf + off);
			size_t step = NLMSG_ALIGN(h->nlmsg_len);

			if (h->nlmsg_len < NLMSG_HDRLEN ||
			    h->nlmsg_len > len - off)
				return vl_status_set(
					st, -EBADMSG,
					"netlink events: malformed message");
			off = step < len - off ? off + step : len;
			if (h->nlmsg_type == NLMSG_NOOP ||
			    h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR)
				continue;
			cb(h, arg);
		}
	}
	return (int)n;
}
