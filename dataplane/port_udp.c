/* SPDX-License-Identifier: MIT */
#include "port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdalign.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipnet.h"
#include "status.h"
#include "wire.h"

/*
 * udp backend: kernel UDP sockets, one SO_REUSEPORT socket per queue; the
 * kernel spreads flows over the queues by hash, so a flow stays on one.
 *
 * Receive. recvmmsg() fills DP_BURST_MAX buffers that the port allocates at
 * open and owns; dp_pkt entries point into them and stay valid until the
 * next rx call. With UDP_GRO the kernel may put several datagrams of one
 * flow in one buffer, all gso_size long but a shorter last one, and says so
 * in a (SOL_UDP, UDP_GRO) cmsg; we split the buffer into one dp_pkt per
 * datagram, without copying. Buffers are then 64 KiB, the largest coalesced
 * receive, instead of WIRE_MTU_MAX.
 *
 * Leftovers. One coalesced message can hold up to 64 datagrams (128 from a
 * local GSO sender), so max messages can split into far more than max
 * packets. We still ask for max messages, so that uncoalesced traffic gets
 * max datagrams per syscall, and keep what does not fit in pkts[] for the
 * next call: rx_next and rx_off mark the first datagram not handed out yet.
 * A call that finds leftovers hands out leftovers only and makes no
 * syscall, so no buffer is refilled while a datagram in it is still owed.
 * Leftovers remain only after a call that returned max: a caller that polls
 * dp_port_fd() only after a short burst never sleeps on them.
 *
 * A datagram longer than WIRE_MTU_MAX (MSG_TRUNC without GRO, a long
 * datagram in a 64 KiB buffer with it) is counted in rx_truncated, dropped.
 *
 * Send. The caller's buffers are not copied here: each packet gets an
 * iovec, and consecutive packets to one destination with equal lengths (the
 * last may be shorter), up to GSO_SEGS_MAX and GSO_BYTES_MAX, share one
 * message with a UDP_SEGMENT cmsg; the kernel concatenates the iovecs and
 * cuts them back into datagrams (on the wire, or for a receiver without
 * GRO). sendmmsg() stops at the first message that fails. A real error
 * (EACCES, EPERM, ENETUNREACH, ...) costs that message only: it is counted
 * in tx_errors and skipped. EAGAIN and ENOBUFS are back-pressure: stop and
 * return what went out; the caller counts the rest. A GSO message refused
 * with EIO, EINVAL or EMSGSIZE (no checksum offload, segment above the path
 * MTU) is resent datagram by datagram; if that works while no GSO send ever
 * has on this port, the kernel rejects UDP_SEGMENT here and we stop using it.
 */

enum {
	GRO_BUF_LEN = 65536, /* largest coalesced receive */
	GSO_SEGS_MAX = 64, /* UDP_MAX_SEGMENTS on older kernels */
	GSO_BYTES_MAX = 65507, /* 0xffff - IPv4 and UDP headers */
	TX_EINTR_MAX = 1,
};

/* cmsghdr ends in a flexible array: align, don't embed. */
struct gro_cmsg {
	alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))];
};

struct gso_cmsg {
	alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(uint16_t))];
};

struct udp_port {
	struct dp_port base; /* fd, local_port, stats */
	bool gro; /* buffers may hold coalesced datagrams */
	bool gso; /* UDP_SEGMENT may be used */
	bool gso_ok; /* a GSO send went out: later EIO/EINVAL are the path's */
	uint32_t buf_len;
	uint8_t *bufs; /* DP_BURST_MAX receive buffers of buf_len bytes */

	/* Owed: the last recvmmsg()'s messages from rx_next, byte rx_off. */
	unsigned int rx_n_msgs, rx_next;
	uint32_t rx_off;
	struct mmsghdr rx_msgs[DP_BURST_MAX];
	struct iovec rx_iov[DP_BURST_MAX];
	struct sockaddr_in6 rx_addr[DP_BURST_MAX];
	struct gro_cmsg rx_ctl[DP_BURST_MAX];

	/* Per message: packets pkts[tx_first, +tx_count), tx_len bytes. */
	struct mmsghdr tx_msgs[DP_BURST_MAX];
	struct iovec tx_iov[DP_BURST_MAX]; /* per packet */
	struct sockaddr_in6 tx_addr[DP_BURST_MAX];
	struct gso_cmsg tx_ctl[DP_BURST_MAX];
	unsigned int tx_first[DP_BURST_MAX], tx_count[DP_BURST_MAX];
	uint64_t tx_len[DP_BURST_MAX];
};

static const struct dp_port_ops udp_ops;

static struct udp_port *udp_port(struct dp_port *p)
{
	return (struct udp_port *)p;
}

static int set_int(int fd, int level, int name, int val)
{
	if (setsockopt(fd, level, name, &val, sizeof(val)) < 0)
		return -errno;
	return 0;
}

/* Root (CAP_NET_ADMIN) may go past net.core.[rw]mem_max; others are capped. */
static int set_buf(int fd, int force, int name, int bytes)
{
	if (!bytes || !set_int(fd, SOL_SOCKET, force, bytes))
		return 0;
	return set_int(fd, SOL_SOCKET, name, bytes);
}

static int setup_socket(struct udp_port *p, const struct dp_port_cfg *cfg,
			struct vl_status *st)
{
	struct sockaddr_in6 sa;
	socklen_t sa_len = sizeof(sa);
	int err;

	p->base.fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    IPPROTO_UDP);
	if (p->base.fd < 0)
		return vl_status_set(st, -errno, "socket: %s", strerror(errno));

	err = set_int(p->base.fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	if (err) {
		vl_status_set(st, err, "IPV6_V6ONLY off: %s", strerror(-err));
		goto close_fd;
	}
	/*
	 * SO_REUSEPORT before bind() for a given port, to join queue 0's
	 * group; after it for port 0. The kernel's port 0 choice skips only
	 * ports it could not share, and a SO_REUSEPORT socket shares with any
	 * other of the same user: bound with it set, queue 0 could land on a
	 * port another process (another node, a test) already listens on and
	 * take half its traffic. Bound without it the port is one nobody
	 * holds; set after, the other queues still join it.
	 */
	if (cfg->listen.sin6_port) {
		err = set_int(p->base.fd, SOL_SOCKET, SO_REUSEPORT, 1);
		if (err) {
			vl_status_set(st, err, "SO_REUSEPORT: %s",
				      strerror(-err));
			goto close_fd;
		}
	}
	err = set_buf(p->base.fd, SO_RCVBUFFORCE, SO_RCVBUF, cfg->rcvbuf);
	if (err) {
		vl_status_set(st, err, "SO_RCVBUF %d: %s", cfg->rcvbuf,
			      strerror(-err));
		goto close_fd;
	}
	err = set_buf(p->base.fd, SO_SNDBUFFORCE, SO_SNDBUF, cfg->sndbuf);
	if (err) {
		vl_status_set(st, err, "SO_SNDBUF %d: %s", cfg->sndbuf,
			      strerror(-err));
		goto close_fd;
	}
	if (bind(p->base.fd, (const struct sockaddr *)&cfg->listen,
		 sizeof(cfg->listen)) < 0) {
		err = vl_status_set(st, -errno, "bind: %s", strerror(errno));
		goto close_fd;
	}
	if (getsockname(p->base.fd, (struct sockaddr *)&sa, &sa_len) < 0) {
		err = vl_status_set(st, -errno, "getsockname: %s",
				    strerror(errno));
		goto close_fd;
	}
	p->base.local_port = ntohs(sa.sin6_port);
	if (!cfg->listen.sin6_port) {
		err = set_int(p->base.fd, SOL_SOCKET, SO_REUSEPORT, 1);
		if (err) {
			vl_status_set(st, err, "SO_REUSEPORT: %s",
				      strerror(-err));
			goto close_fd;
		}
	}

	/* Both are optional: kernels before 4.18 (GSO) and 5.0 (GRO). */
	p->gro = !set_int(p->base.fd, SOL_UDP, UDP_GRO, 1);
	p->gso = !set_int(p->base.fd, SOL_UDP, UDP_SEGMENT, 0);
	return 0;

close_fd:
	close(p->base.fd);
	return err;
}

int dp_port_udp_open(const struct dp_port_cfg *cfg, struct dp_port **out,
		     struct vl_status *st)
{
	char addr[INET6_ADDRSTRLEN + 8];
	struct udp_port *p;
	int err;

	if (cfg->listen.sin6_family != AF_INET6)
		return vl_status_set(st, -EINVAL,
				     "listen address is not AF_INET6");
	if (cfg->queue >= cfg->n_queues)
		return vl_status_set(st, -EINVAL, "queue %u of %u", cfg->queue,
				     cfg->n_queues);
	if (cfg->queue && !cfg->listen.sin6_port)
		return vl_status_set(st, -EINVAL,
				     "queue %u: listen port 0: use queue 0's",
				     cfg->queue);

	p = calloc(1, sizeof(*p));
	if (!p)
		return vl_status_set(st, -ENOMEM, "udp port: out of memory");
	p->base.ops = &udp_ops;
	err = setup_socket(p, cfg, st);
	if (err)
		goto free_port;

	p->buf_len = p->gro ? GRO_BUF_LEN : WIRE_MTU_MAX;
	p->bufs = malloc((size_t)DP_BURST_MAX * p->buf_len);
	if (!p->bufs) {
		err = vl_status_set(
			st, -ENOMEM,
			"%u receive buffers of %u bytes: out of memory",
			DP_BURST_MAX, p->buf_len);
		goto close_fd;
	}

	/* What recvmmsg() does not overwrite is set once, here. */
	for (unsigned int i = 0; i < DP_BURST_MAX; i++) {
		struct msghdr *h = &p->rx_msgs[i].msg_hdr;

		p->rx_iov[i].iov_base = p->bufs + (size_t)i * p->buf_len;
		p->rx_iov[i].iov_len = p->buf_len;
		h->msg_name = &p->rx_addr[i];
		h->msg_iov = &p->rx_iov[i];
		h->msg_iovlen = 1;
		h->msg_control = p->rx_ctl[i].buf;
	}
	*out = &p->base;
	return 0;

close_fd:
	close(p->base.fd);
free_port:
	free(p);
	if (!vl_addr_format(&cfg->listen, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "(no address)");
	vl_status_prefix(st, "udp %s queue %u: ", addr, cfg->queue);
	return err;
}

static void udp_close(struct dp_port *port)
{
	struct udp_port *p = udp_port(port);

	close(p->base.fd);
	free(p->bufs);
	free(p);
}

static unsigned int udp_poll_fds(const struct dp_port *p, struct pollfd *fds,
				 unsigned int max)
{
	if (!max)
		return 0;
	fds[0] = (struct pollfd){ .fd = p->fd, .events = POLLIN };
	return 1;
}

/* Segment size of a coalesced receive, 0 for a single datagram. */
static uint32_t gro_size(struct msghdr *h)
{
	struct cmsghdr *c;
	int size;

	for (c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			memcpy(&size, CMSG_DATA(c), sizeof(size));
			return size > 0 ? (uint32_t)size : 0;
		}
	}
	return 0;
}

/* Hands out owed datagrams, from rx_next/rx_off, until pkts[] is full. */
static unsigned int split(struct udp_port *p, struct dp_pkt *pkts,
			  unsigned int max)
{
	unsigned int n_rx = 0;

	while (p->rx_next < p->rx_n_msgs && n_rx < max) {
		struct mmsghdr *m = &p->rx_msgs[p->rx_next];
		uint8_t *buf = m->msg_hdr.msg_iov->iov_base;
		uint32_t len = m->msg_len, seg;

		if (m->msg_hdr.msg_flags & MSG_TRUNC) {
			p->base.stats.rx_truncated++;
			p->rx_next++;
			continue;
		}
		seg = p->gro ? gro_size(&m->msg_hdr) : 0;
		if (!seg || seg > len)
			seg = len;
		else if (seg < len && !p->rx_off)
			p->base.stats.rx_gro_batches++;

		/* do-while: a zero-length datagram is handed out too. */
		do {
			uint32_t n = len - p->rx_off < seg ? len - p->rx_off :
							     seg;

			if (n > WIRE_MTU_MAX) {
				p->base.stats.rx_truncated++;
			} else {
				pkts[n_rx].data = buf + p->rx_off;
				pkts[n_rx].len = n;
				pkts[n_rx].addr = p->rx_addr[p->rx_next];
				p->base.stats.rx_packets++;
				p->base.stats.rx_bytes += n;
				n_rx++;
			}
			p->rx_off += n;
		} while (p->rx_off < len && n_rx < max);

		if (p->rx_off >= len) {
			p->rx_next++;
			p->rx_off = 0;
		}
	}
	return n_rx;
}

static unsigned int udp_rx_burst(struct dp_port *port, struct dp_pkt *pkts,
				 unsigned int max)
{
	struct udp_port *p = udp_port(port);
	unsigned int n = max < DP_BURST_MAX ? max : DP_BURST_MAX;
	int ret;

	if (p->rx_next < p->rx_n_msgs)
		return split(p, pkts, max);
	if (!n)
		return 0;

	for (unsigned int i = 0; i < n; i++) {
		struct msghdr *h = &p->rx_msgs[i].msg_hdr;

		h->msg_namelen = sizeof(p->rx_addr[i]);
		h->msg_controllen = p->gro ? sizeof(p->rx_ctl[i].buf) : 0;
		h->msg_flags = 0;
	}
	ret = recvmmsg(p->base.fd, p->rx_msgs, n, MSG_DONTWAIT, NULL);
	if (ret <= 0)
		return 0;
	p->rx_n_msgs = (unsigned int)ret;
	p->rx_next = 0;
	p->rx_off = 0;
	return split(p, pkts, max);
}

static bool same_dst(const struct sockaddr_in6 *a, const struct sockaddr_in6 *b)
{
	return a->sin6_port == b->sin6_port &&
	       a->sin6_scope_id == b->sin6_scope_id &&
	       !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr));
}

/*
 * How many packets from pkts[i] can go as one GSO message: same
 * destination, same length, the last may be shorter (but not empty: the
 * kernel would not make a datagram of it).
 */
static unsigned int group(const struct dp_pkt *pkts, unsigned int i,
			  unsigned int n, uint64_t *bytes)
{
	uint32_t seg = pkts[i].len;
	unsigned int k = 1;

	*bytes = seg;
	if (!seg)
		return 1;
	while (i + k < n && k < GSO_SEGS_MAX) {
		const struct dp_pkt *q = &pkts[i + k];

		if (q->len > seg || !q->len ||
		    *bytes + q->len > GSO_BYTES_MAX ||
		    !same_dst(&pkts[i].addr, &q->addr))
			break;
		*bytes += q->len;
		k++;
		if (q->len < seg)
			break;
	}
	return k;
}

/*
 * Lays pkts[first, n) out as messages from tx_msgs[0]; packets before
 * @plain_end go one per message. Returns the message count.
 */
static unsigned int build(struct udp_port *p, const struct dp_pkt *pkts,
			  unsigned int first, unsigned int n,
			  unsigned int plain_end)
{
	unsigned int n_msg = 0;

	for (unsigned int i = first; i < n; n_msg++) {
		struct msghdr *h = &p->tx_msgs[n_msg].msg_hdr;
		unsigned int k = 1;
		uint64_t bytes = pkts[i].len;

		if (p->gso && i >= plain_end)
			k = group(pkts, i, n, &bytes);
		for (unsigned int j = i; j < i + k; j++) {
			p->tx_iov[j].iov_base = pkts[j].data;
			p->tx_iov[j].iov_len = pkts[j].len;
		}
		p->tx_addr[n_msg] = pkts[i].addr;
		memset(h, 0, sizeof(*h));
		h->msg_name = &p->tx_addr[n_msg];
		h->msg_namelen = sizeof(p->tx_addr[n_msg]);
		h->msg_iov = &p->tx_iov[i];
		h->msg_iovlen = k;
		if (k > 1) {
			struct cmsghdr *c;
			uint16_t seg = (uint16_t)pkts[i].len;

			h->msg_control = p->tx_ctl[n_msg].buf;
			h->msg_controllen = sizeof(p->tx_ctl[n_msg].buf);
			c = CMSG_FIRSTHDR(h);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(c), &seg, sizeof(seg));
		}
		p->tx_first[n_msg] = i;
		p->tx_count[n_msg] = k;
		p->tx_len[n_msg] = bytes;
		i += k;
	}
	return n_msg;
}

/*
 * Sends up to DP_BURST_MAX packets: at most one syscall per message, plus
 * one per GSO fallback and TX_EINTR_MAX retries. Sets *blocked on
 * back-pressure (or EINTR past the retry) and leaves the rest unsent.
 */
static unsigned int send_chunk(struct udp_port *p, const struct dp_pkt *pkts,
			       unsigned int n, bool *blocked)
{
	unsigned int n_msg = build(p, pkts, 0, n, 0), m = 0, n_tx = 0;
	unsigned int suspect = n, n_intr = 0;
	int ret, err;

	while (m < n_msg) {
		ret = sendmmsg(p->base.fd, &p->tx_msgs[m], n_msg - m,
			       MSG_DONTWAIT);
		for (int j = 0; j < ret; j++, m++) {
			n_tx += p->tx_count[m];
			p->base.stats.tx_packets += p->tx_count[m];
			p->base.stats.tx_bytes += p->tx_len[m];
			if (p->tx_count[m] > 1) {
				p->base.stats.tx_gso_batches++;
				p->gso_ok = true;
			} else if (p->tx_first[m] == suspect && !p->gso_ok) {
				/* Plain worked where GSO failed. */
				p->gso = false;
			}
		}
		if (ret > 0)
			continue;

		err = ret ? errno : EAGAIN;
		if (err == EINTR && n_intr++ < TX_EINTR_MAX)
			continue;
		if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS ||
		    err == EINTR) {
			*blocked = true;
			break;
		}
		if (p->tx_count[m] > 1 &&
		    (err == EIO || err == EINVAL || err == EMSGSIZE)) {
			unsigned int first = p->tx_first[m];

			suspect = first;
			n_msg = build(p, pkts, first, n,
				      first + p->tx_count[m]);
			m = 0;
			continue;
		}
		p->base.stats.tx_errors += p->tx_count[m];
		m++;
	}
	return n_tx;
}

static unsigned int udp_tx_burst(struct dp_port *port,
				 const struct dp_pkt *pkts, unsigned int n)
{
	struct udp_port *p = udp_port(port);
	unsigned int n_tx = 0, n_left = n;
	bool blocked = false;

	while (n_left && !blocked) {
		unsigned int k = n_left < DP_BURST_MAX ? n_left : DP_BURST_MAX;

		n_tx += send_chunk(p, pkts + (n - n_left), k, &blocked);
		n_left -= k;
	}
	return n_tx;
}

static const struct dp_port_ops udp_ops = {
	.name = "udp",
	.rx_burst = udp_rx_burst,
	.tx_burst = udp_tx_burst,
	.poll_fds = udp_poll_fds,
	.close = udp_close,
};
