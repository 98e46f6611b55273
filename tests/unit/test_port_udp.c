/* SPDX-License-Identifier: MIT */
/*
 * The udp port over loopback (127.0.0.1 and ::1), against plain UDP
 * sockets and against itself. Each datagram carries a pattern seeded by its
 * index, so a received one proves its length, its bytes and its place in
 * the order. Every wait is a poll() with a deadline: datagrams on loopback
 * are queued before sendto() returns, the deadline only bounds a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "port.h"
#include "status.h"
#include "wire.h"

enum {
	WAIT_MS = 2000, /* deadline for datagrams that should be there */
	POLL_MS = 50,
	GOT_MAX = 128,
	SEG = 1400,
	N_SEG = 40,
	BIG_LEN = 65536,
};

/* Datagrams copied out of a port (its pointers last one rx call) or socket. */
struct got {
	unsigned int n;
	uint32_t len[GOT_MAX];
	struct sockaddr_in6 addr[GOT_MAX]; /* port rx only */
	uint16_t port[GOT_MAX]; /* source port */
	uint8_t data[GOT_MAX][WIRE_MTU_MAX];
};

static struct got got_a, got_b;
static struct dp_pkt pkts[DP_BURST_MAX];
static uint8_t big[BIG_LEN];
static uint8_t tx_data[GOT_MAX][WIRE_MTU_MAX];

static uint8_t pat(unsigned int id, uint32_t i)
{
	return (uint8_t)(id * 131u + i * 7u + (i >> 8) + 1u);
}

static void fill(uint8_t *buf, uint32_t len, unsigned int id)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = pat(id, i);
}

static bool intact(const uint8_t *buf, uint32_t len, unsigned int id)
{
	for (uint32_t i = 0; i < len; i++)
		if (buf[i] != pat(id, i))
			return false;
	return true;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "127.0.0.1" becomes ::ffff:127.0.0.1, as the port API wants it. */
static struct sockaddr_in6 addr6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port) };
	struct in_addr v4;

	if (inet_pton(AF_INET, ip, &v4) == 1) {
		a.sin6_addr.s6_addr[10] = 0xff;
		a.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&a.sin6_addr.s6_addr[12], &v4, sizeof(v4));
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	}
	return a;
}

static void assert_addr(const struct sockaddr_in6 *a, const char *ip,
			uint16_t port)
{
	struct sockaddr_in6 want = addr6(ip, port);

	assert_int_equal(a->sin6_family, AF_INET6);
	assert_int_equal(ntohs(a->sin6_port), port);
	assert_memory_equal(&a->sin6_addr, &want.sin6_addr,
			    sizeof(want.sin6_addr));
}

static int try_open(const char *ip, uint16_t port, unsigned int queue,
		    unsigned int n_queues, struct dp_port **p,
		    struct vl_status *st)
{
	struct dp_port_cfg cfg = { .listen = addr6(ip, port),
				   .queue = queue,
				   .n_queues = n_queues };

	return dp_port_udp_open(&cfg, p, st);
}

static struct dp_port *open_port(const char *ip, uint16_t port,
				 unsigned int queue, unsigned int n_queues)
{
	struct vl_status st = { "" };
	struct dp_port *p = NULL;
	int err = try_open(ip, port, queue, n_queues, &p, &st);

	if (err)
		fail_msg("open %s port %u: %d %s", ip, port, err, st.msg);
	assert_non_null(p);
	return p;
}

/* A plain socket of @ip's family bound to @ip, ephemeral port in *port. */
static int plain(const char *ip, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd;

	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		len = sizeof(*in);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
		len = sizeof(*in6);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(ss.ss_family == AF_INET ? in->sin_port : in6->sin6_port);
	return fd;
}

static void send_to(int fd, const char *ip, uint16_t port, const void *buf,
		    size_t len)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
				    .sin6_port = htons(port) };
	ssize_t n;

	if (inet_pton(AF_INET, ip, &in.sin_addr) == 1) {
		n = sendto(fd, buf, len, 0, (struct sockaddr *)&in, sizeof(in));
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &in6.sin6_addr), 1);
		n = sendto(fd, buf, len, 0, (struct sockaddr *)&in6,
			   sizeof(in6));
	}
	assert_int_equal(n, (ssize_t)len);
}

/* Sends pattern datagram @id of @len bytes. */
static void send_id(int fd, const char *ip, uint16_t port, unsigned int id,
		    uint32_t len)
{
	fill(big, len, id);
	send_to(fd, ip, port, big, len);
}

/*
 * One sendmsg() with UDP_SEGMENT: @n_seg datagrams of @seg bytes, ids from
 * @id, then one of @tail bytes if @tail. The receiver's kernel gets them as
 * one GSO packet: coalesced for a UDP_GRO socket, split for others.
 */
static void send_gso(int fd, const char *ip, uint16_t port, unsigned int id,
		     unsigned int n_seg, uint16_t seg, uint16_t tail)
{
	struct {
		alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(uint16_t))];
	} ctl;
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	struct iovec iov;
	struct msghdr h = { .msg_name = &in,
			    .msg_namelen = sizeof(in),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&h);
	size_t len = (size_t)n_seg * seg + tail;

	assert_int_equal(inet_pton(AF_INET, ip, &in.sin_addr), 1);
	assert_true(len <= sizeof(big));
	for (unsigned int i = 0; i < n_seg; i++)
		fill(big + (size_t)i * seg, seg, id + i);
	fill(big + (size_t)n_seg * seg, tail, id + n_seg);
	iov.iov_base = big;
	iov.iov_len = len;
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	assert_int_equal(sendmsg(fd, &h, 0), (ssize_t)len);
}

static bool kernel_has(int opt)
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0), val = opt == UDP_GRO;
	bool ok;

	assert_true(fd >= 0);
	ok = !setsockopt(fd, SOL_UDP, opt, &val, sizeof(val));
	close(fd);
	return ok;
}

static bool wait_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/*
 * Receives from the port until @want datagrams are in @g or the deadline
 * passes; polls only after a short burst, as a worker does. Checks that no
 * call returns more than @max or writes past pkts[max).
 */
static unsigned int port_collect(struct dp_port *p, struct got *g,
				 unsigned int max, unsigned int want)
{
	long deadline = now_ms() + WAIT_MS;

	g->n = 0;
	for (unsigned int iter = 0; iter < 10000 && g->n < want; iter++) {
		unsigned int n_rx;

		for (unsigned int i = max; i < DP_BURST_MAX; i++)
			pkts[i].len = 0xdeadbeef;
		n_rx = dp_port_rx_burst(p, pkts, max);
		assert_true(n_rx <= max);
		for (unsigned int i = max; i < DP_BURST_MAX; i++)
			assert_int_equal(pkts[i].len, 0xdeadbeef);
		for (unsigned int i = 0; i < n_rx; i++) {
			assert_true(g->n < GOT_MAX);
			assert_true(pkts[i].len <= WIRE_MTU_MAX);
			g->len[g->n] = pkts[i].len;
			g->addr[g->n] = pkts[i].addr;
			g->port[g->n] = ntohs(pkts[i].addr.sin6_port);
			memcpy(g->data[g->n], pkts[i].data, pkts[i].len);
			g->n++;
		}
		if (n_rx < max && g->n < want) {
			if (now_ms() > deadline)
				break;
			wait_readable(dp_port_fd(p), POLL_MS);
		}
	}
	return g->n;
}

static uint16_t src_port(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

	return ntohs(ss->ss_family == AF_INET ? in->sin_port : in6->sin6_port);
}

static unsigned int plain_collect(int fd, struct got *g, unsigned int want)
{
	long deadline = now_ms() + WAIT_MS;

	g->n = 0;
	for (unsigned int iter = 0; iter < 10000 && g->n < want; iter++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n;

		assert_true(g->n < GOT_MAX);
		n = recvfrom(fd, g->data[g->n], WIRE_MTU_MAX, MSG_DONTWAIT,
			     (struct sockaddr *)&ss, &sl);
		if (n >= 0) {
			g->len[g->n] = (uint32_t)n;
			g->port[g->n] = src_port(&ss);
			g->n++;
			continue;
		}
		assert_int_equal(errno, EAGAIN);
		if (now_ms() > deadline)
			break;
		wait_readable(fd, POLL_MS);
	}
	return g->n;
}

/* Nothing more is queued on a plain socket. */
static void assert_drained(int fd)
{
	char b;

	assert_int_equal(recv(fd, &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* pkts[i] of a tx burst: pattern @id, @len bytes, to @ip:@port. */
static void tx_pkt(struct dp_pkt *pkt, unsigned int id, uint32_t len,
		   const char *ip, uint16_t port)
{
	fill(tx_data[id], len, id);
	pkt->data = tx_data[id];
	pkt->len = len;
	pkt->addr = addr6(ip, port);
}

static void test_port_udp_open_ephemeral(void **state)
{
	struct dp_port *q0, *q1;
	uint16_t port, src;
	int fds[16];

	(void)state;
	q0 = open_port("127.0.0.1", 0, 0, 2);
	port = dp_port_local_port(q0);
	assert_int_not_equal(port, 0);
	q1 = open_port("127.0.0.1", port, 1, 2);
	assert_int_equal(dp_port_local_port(q1), port);
	assert_true(dp_port_fd(q0) >= 0 && dp_port_fd(q1) >= 0);
	assert_int_not_equal(dp_port_fd(q0), dp_port_fd(q1));

	/* SO_REUSEPORT: 16 flows land on the two queues, none lost. */
	for (unsigned int i = 0; i < 16; i++) {
		fds[i] = plain("127.0.0.1", &src);
		send_id(fds[i], "127.0.0.1", port, i, 100);
	}
	port_collect(q0, &got_a, DP_BURST_MAX, 1);
	port_collect(q1, &got_b, DP_BURST_MAX, 16 - got_a.n);
	print_message("reuseport: queue 0 got %u, queue 1 got %u\n", got_a.n,
		      got_b.n);
	assert_int_equal(got_a.n + got_b.n, 16);
	/*
	 * Both queues: queue 0 (which picked the port) set SO_REUSEPORT after
	 * its bind, and queue 1 joined its group. A hash leaving one queue
	 * out of 16 flows: 2 in 65536.
	 */
	assert_true(got_a.n > 0 && got_b.n > 0);
	for (unsigned int i = 0; i < 16; i++)
		close(fds[i]);
	dp_port_close(q1);
	dp_port_close(q0);
	dp_port_close(NULL);
}

/* A SO_REUSEPORT socket of this user on [::]:@port; -1 on failure. */
static int reuseport_socket(uint16_t port)
{
	struct sockaddr_in6 sa = addr6("::", port);
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Port 0 never lands on a port another SO_REUSEPORT socket of the same
 * user holds (the kernel would share it: the other process's traffic
 * split between the two). In a network namespace of its own with two
 * ephemeral ports, both held by such sockets: no port. One freed: that
 * one, and queue 1 joins it. Exit codes name the step that failed.
 */
static int ephemeral_child(void)
{
	struct vl_status st = { "" };
	struct dp_port *q0 = NULL, *q1 = NULL;
	int fd, a, b;

	if (unshare(CLONE_NEWNET))
		return 10;
	fd = open("/proc/sys/net/ipv4/ip_local_port_range", O_WRONLY);
	if (fd < 0 || write(fd, "40000 40001", 11) != 11)
		return 11;
	close(fd);
	a = reuseport_socket(40000);
	b = reuseport_socket(40001);
	if (a < 0 || b < 0)
		return 12;
	if (try_open("::", 0, 0, 2, &q0, &st) != -EADDRINUSE)
		return 13; /* it shared one of them */
	close(b);
	if (try_open("::", 0, 0, 2, &q0, &st) ||
	    dp_port_local_port(q0) != 40001)
		return 14;
	if (try_open("::", 40001, 1, 2, &q1, &st))
		return 15; /* queue 1 must still join queue 0's port */
	dp_port_close(q1);
	dp_port_close(q0);
	close(a);
	return 0;
}

static void test_port_udp_ephemeral_not_shared(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	if (getuid() != 0)
		skip(); /* a network namespace of its own */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(ephemeral_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status))
		fail_msg("step %d failed (see ephemeral_child)",
			 WEXITSTATUS(status));
}

static void test_port_udp_open_errors(void **state)
{
	struct vl_status st = { "" };
	struct dp_port *p = NULL;
	struct dp_port_cfg cfg = { .listen = addr6("127.0.0.1", 4242),
				   .n_queues = 1 };
	char want[64];
	uint16_t port;
	int fd, err;

	(void)state;
	/* A plain socket without SO_REUSEPORT holds the port. */
	fd = plain("127.0.0.1", &port);
	err = try_open("127.0.0.1", port, 0, 1, &p, &st);
	assert_int_equal(err, -EADDRINUSE);
	assert_null(p);
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	if (!strstr(st.msg, want))
		fail_msg("message \"%s\" does not name %s", st.msg, want);
	print_message("in use: %s\n", st.msg);
	close(fd);

	/* Only queue 0 may pick the port. */
	assert_int_equal(try_open("127.0.0.1", 0, 1, 2, &p, &st), -EINVAL);
	assert_non_null(strstr(st.msg, "port 0"));
	assert_int_equal(try_open("127.0.0.1", 4242, 2, 2, &p, &st), -EINVAL);
	cfg.listen.sin6_family = AF_INET;
	assert_int_equal(dp_port_udp_open(&cfg, &p, &st), -EINVAL);
	assert_null(p);
}

static void test_port_udp_open_bufsizes(void **state)
{
	struct dp_port_cfg cfg = { .listen = addr6("::1", 0),
				   .n_queues = 1,
				   .rcvbuf = 1 << 20,
				   .sndbuf = 1 << 20 };
	struct vl_status st = { "" };
	struct dp_port *p = NULL;
	socklen_t len = sizeof(int);
	int rcv = 0, snd = 0;

	(void)state;
	assert_int_equal(dp_port_udp_open(&cfg, &p, &st), 0);
	assert_int_equal(getsockopt(dp_port_fd(p), SOL_SOCKET, SO_RCVBUF, &rcv,
				    &len),
			 0);
	assert_int_equal(getsockopt(dp_port_fd(p), SOL_SOCKET, SO_SNDBUF, &snd,
				    &len),
			 0);
	/* The kernel doubles it; without CAP_NET_ADMIN, [rw]mem_max caps it. */
	print_message("SO_RCVBUF %d SO_SNDBUF %d\n", rcv, snd);
	assert_true(rcv >= 1 << 20);
	assert_true(snd >= 1 << 20);
	dp_port_close(p);
}

static void test_port_udp_rx_sizes_ipv4(void **state)
{
	static const uint32_t sizes[] = { 1,	2,    64,   1300, 1400, 1401,
					  4096, 8999, 9000, 9001, 0 };
	const unsigned int n = sizeof(sizes) / sizeof(sizes[0]);
	struct dp_port *p = open_port("::", 0, 0, 1);
	uint16_t src;
	uint64_t bytes = 0;
	int fd = plain("127.0.0.1", &src);

	(void)state;
	for (unsigned int i = 0; i < n; i++) {
		send_id(fd, "127.0.0.1", dp_port_local_port(p), i, sizes[i]);
		bytes += sizes[i];
	}
	assert_int_equal(port_collect(p, &got_a, DP_BURST_MAX, n), n);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(got_a.len[i], sizes[i]);
		assert_true(intact(got_a.data[i], got_a.len[i], i));
		assert_addr(&got_a.addr[i], "127.0.0.1", src);
	}
	assert_int_equal(dp_port_stats(p)->rx_packets, n);
	assert_int_equal(dp_port_stats(p)->rx_bytes, bytes);
	assert_int_equal(dp_port_stats(p)->rx_truncated, 0);
	close(fd);
	dp_port_close(p);
}

static void test_port_udp_rx_ipv6_sender(void **state)
{
	static const uint32_t sizes[] = { 33, 1280, 9001 };
	struct dp_port *p = open_port("::", 0, 0, 1);
	uint16_t src;
	int fd = plain("::1", &src);

	(void)state;
	for (unsigned int i = 0; i < 3; i++)
		send_id(fd, "::1", dp_port_local_port(p), i, sizes[i]);
	assert_int_equal(port_collect(p, &got_a, DP_BURST_MAX, 3), 3);
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(got_a.len[i], sizes[i]);
		assert_true(intact(got_a.data[i], got_a.len[i], i));
		assert_addr(&got_a.addr[i], "::1", src);
	}
	close(fd);
	dp_port_close(p);
}

static void test_port_udp_rx_empty(void **state)
{
	struct dp_port *p = open_port("127.0.0.1", 0, 0, 1);
	long t0 = now_ms();
	uint16_t src;
	int fd = plain("127.0.0.1", &src);

	(void)state;
	assert_int_equal(dp_port_rx_burst(p, pkts, DP_BURST_MAX), 0);
	assert_int_equal(dp_port_rx_burst(p, pkts, 0), 0);
	send_id(fd, "127.0.0.1", dp_port_local_port(p), 0, 10);
	assert_int_equal(port_collect(p, &got_a, DP_BURST_MAX, 1), 1);
	assert_int_equal(dp_port_rx_burst(p, pkts, DP_BURST_MAX), 0);
	assert_true(now_ms() - t0 < 500);
	close(fd);
	dp_port_close(p);
}

static void test_port_udp_rx_more_than_max(void **state)
{
	static const unsigned int want[] = { 4, 4, 2, 0 };
	struct dp_port *p = open_port("127.0.0.1", 0, 0, 1);
	struct timespec settle = { 0, 20 * 1000 * 1000 };
	unsigned int id = 0;
	uint16_t src;
	int fd = plain("127.0.0.1", &src);

	(void)state;
	for (unsigned int i = 0; i < 10; i++)
		send_id(fd, "127.0.0.1", dp_port_local_port(p), i, 100 + i);
	assert_true(wait_readable(dp_port_fd(p), WAIT_MS));
	nanosleep(&settle, NULL);
	for (unsigned int call = 0; call < 4; call++) {
		unsigned int n_rx = dp_port_rx_burst(p, pkts, 4);

		assert_int_equal(n_rx, want[call]);
		for (unsigned int i = 0; i < n_rx; i++, id++) {
			assert_int_equal(pkts[i].len, 100 + id);
			assert_true(intact(pkts[i].data, pkts[i].len, id));
		}
	}
	close(fd);
	dp_port_close(p);
}

/* 40 separate sends: loopback does not run GRO, but the port must not care. */
static void test_port_udp_rx_gro_plain_sender(void **state)
{
	struct dp_port *p = open_port("127.0.0.1", 0, 0, 1);
	uint16_t src;
	int fd = plain("127.0.0.1", &src);

	(void)state;
	for (unsigned int i = 0; i < N_SEG; i++)
		send_id(fd, "127.0.0.1", dp_port_local_port(p), i, SEG);
	assert_int_equal(port_collect(p, &got_a, 16, N_SEG), N_SEG);
	for (unsigned int i = 0; i < N_SEG; i++) {
		assert_int_equal(got_a.len[i], SEG);
		assert_true(intact(got_a.data[i], SEG, i));
	}
	print_message("40 x 1400 from plain sends: rx_gro_batches %llu\n",
		      (unsigned long long)dp_port_stats(p)->rx_gro_batches);
	close(fd);
	dp_port_close(p);
}

/*
 * A GSO sender makes the kernel deliver coalesced buffers: 40 x 1400, then
 * 10 x 1400 + 700, read 16 at a time, so one buffer spans several calls
 * (leftovers) and the short tail must come out short.
 */
static void test_port_udp_rx_gro_split(void **state)
{
	const unsigned int n = N_SEG + 11;
	struct dp_port *p;
	uint16_t src, port;
	int fd;

	(void)state;
	if (!kernel_has(UDP_SEGMENT) || !kernel_has(UDP_GRO))
		skip();
	p = open_port("127.0.0.1", 0, 0, 1);
	port = dp_port_local_port(p);
	fd = plain("127.0.0.1", &src);
	send_gso(fd, "127.0.0.1", port, 0, N_SEG, SEG, 0);
	send_gso(fd, "127.0.0.1", port, N_SEG, 10, SEG, 700);
	assert_int_equal(port_collect(p, &got_a, 16, n), n);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(got_a.len[i], i == n - 1 ? 700 : SEG);
		assert_true(intact(got_a.data[i], got_a.len[i], i));
		assert_addr(&got_a.addr[i], "127.0.0.1", src);
	}
	print_message("GSO sender: rx_gro_batches %llu\n",
		      (unsigned long long)dp_port_stats(p)->rx_gro_batches);
	assert_int_equal(dp_port_stats(p)->rx_gro_batches, 2);
	assert_int_equal(dp_port_stats(p)->rx_packets, n);
	assert_int_equal(dp_port_rx_burst(p, pkts, 16), 0);
	close(fd);
	dp_port_close(p);
}

/* One coalesced buffer of 120 datagrams: 64 now, 56 on the next call. */
static void test_port_udp_rx_gro_more_than_max(void **state)
{
	static const unsigned int want[] = { DP_BURST_MAX, 120 - DP_BURST_MAX,
					     0 };
	struct timespec settle = { 0, 20 * 1000 * 1000 };
	struct dp_port *p;
	unsigned int id = 0;
	uint16_t src;
	int fd;

	(void)state;
	if (!kernel_has(UDP_SEGMENT) || !kernel_has(UDP_GRO))
		skip();
	p = open_port("127.0.0.1", 0, 0, 1);
	fd = plain("127.0.0.1", &src);
	send_gso(fd, "127.0.0.1", dp_port_local_port(p), 0, 120, 100, 0);
	assert_true(wait_readable(dp_port_fd(p), WAIT_MS));
	nanosleep(&settle, NULL);
	for (unsigned int call = 0; call < 3; call++) {
		unsigned int n_rx = dp_port_rx_burst(p, pkts, DP_BURST_MAX);

		assert_int_equal(n_rx, want[call]);
		for (unsigned int i = 0; i < n_rx; i++, id++) {
			assert_int_equal(pkts[i].len, 100);
			assert_true(intact(pkts[i].data, 100, id));
		}
	}
	assert_int_equal(dp_port_stats(p)->rx_gro_batches, 1);
	close(fd);
	dp_port_close(p);
}

static void test_port_udp_rx_truncated(void **state)
{
	struct dp_port *p = open_port("::", 0, 0, 1);
	uint16_t src, port = dp_port_local_port(p);
	int fd = plain("127.0.0.1", &src);

	(void)state;
	send_id(fd, "127.0.0.1", port, 0, 9500);
	send_id(fd, "127.0.0.1", port, 1, 9002);
	send_id(fd, "127.0.0.1", port, 2, 100);
	send_id(fd, "127.0.0.1", port, 3, 9001);
	assert_int_equal(port_collect(p, &got_a, DP_BURST_MAX, 2), 2);
	assert_int_equal(got_a.len[0], 100);
	assert_true(intact(got_a.data[0], 100, 2));
	assert_int_equal(got_a.len[1], 9001);
	assert_true(intact(got_a.data[1], 9001, 3));
	assert_int_equal(dp_port_stats(p)->rx_truncated, 2);
	assert_int_equal(dp_port_stats(p)->rx_packets, 2);
	close(fd);
	dp_port_close(p);
}

/* Checks that @g holds, in order, the packets of @burst sent to @port. */
static void assert_got_burst(const struct got *g, const struct dp_pkt *burst,
			     unsigned int n, const char *ip, uint16_t port,
			     uint16_t src)
{
	struct sockaddr_in6 dst = addr6(ip, port);
	unsigned int j = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (memcmp(&burst[i].addr, &dst, sizeof(dst)))
			continue;
		assert_true(j < g->n);
		assert_int_equal(g->len[j], burst[i].len);
		assert_memory_equal(g->data[j], burst[i].data, burst[i].len);
		assert_int_equal(g->port[j], src);
		j++;
	}
	assert_int_equal(j, g->n);
}

static void test_port_udp_tx_mixed(void **state)
{
	static const struct {
		char dst;
		uint32_t len;
	} plan[] = { { 'a', 100 },  { 'a', 100 },  { 'b', 1400 }, { 'b', 1400 },
		     { 'b', 1400 }, { 'b', 600 },  { 'a', 9001 }, { 'a', 50 },
		     { 'b', 1 },    { 'a', 1400 }, { 'a', 1400 }, { 'a', 1400 },
		     { 'a', 1400 }, { 'a', 200 },  { 'b', 0 } };
	const unsigned int n = sizeof(plan) / sizeof(plan[0]);
	struct dp_pkt burst[sizeof(plan) / sizeof(plan[0])];
	struct dp_port *p = open_port("::", 0, 0, 1);
	uint16_t pa, pb, src = dp_port_local_port(p);
	int fa = plain("127.0.0.1", &pa), fb = plain("::1", &pb);
	unsigned int na = 0, nb = 0;

	(void)state;
	for (unsigned int i = 0; i < n; i++) {
		bool a = plan[i].dst == 'a';

		tx_pkt(&burst[i], i, plan[i].len, a ? "127.0.0.1" : "::1",
		       a ? pa : pb);
		na += a;
		nb += !a;
	}
	assert_int_equal(dp_port_tx_burst(p, burst, n), n);
	assert_int_equal(plain_collect(fa, &got_a, na), na);
	assert_int_equal(plain_collect(fb, &got_b, nb), nb);
	assert_got_burst(&got_a, burst, n, "127.0.0.1", pa, src);
	assert_got_burst(&got_b, burst, n, "::1", pb, src);
	assert_drained(fa);
	assert_drained(fb);
	assert_int_equal(dp_port_stats(p)->tx_packets, n);
	assert_int_equal(dp_port_stats(p)->tx_errors, 0);
	/* a 100 x 2; b 1400 x 3 + 600; a 9001 + 50; a 1400 x 4 + 200 */
	if (kernel_has(UDP_SEGMENT))
		assert_int_equal(dp_port_stats(p)->tx_gso_batches, 4);
	close(fa);
	close(fb);
	dp_port_close(p);
}

static void test_port_udp_tx_gso(void **state)
{
	struct dp_pkt burst[N_SEG];
	struct dp_port *p = open_port("127.0.0.1", 0, 0, 1);
	uint16_t pa;
	int fa = plain("127.0.0.1", &pa);

	(void)state;
	for (unsigned int i = 0; i < N_SEG; i++)
		tx_pkt(&burst[i], i, SEG, "127.0.0.1", pa);
	assert_int_equal(dp_port_tx_burst(p, burst, N_SEG), N_SEG);
	assert_int_equal(plain_collect(fa, &got_a, N_SEG), N_SEG);
	for (unsigned int i = 0; i < N_SEG; i++) {
		assert_int_equal(got_a.len[i], SEG);
		assert_true(intact(got_a.data[i], SEG, i));
	}
	assert_drained(fa);
	print_message("40 x 1400 to one destination: tx_gso_batches %llu\n",
		      (unsigned long long)dp_port_stats(p)->tx_gso_batches);
	if (kernel_has(UDP_SEGMENT))
		assert_int_equal(dp_port_stats(p)->tx_gso_batches, 1);
	assert_int_equal(dp_port_stats(p)->tx_bytes, N_SEG * SEG);
	close(fa);
	dp_port_close(p);
}

/* More than DP_BURST_MAX in one call: sent in chunks, in order. */
static void test_port_udp_tx_long_burst(void **state)
{
	static struct dp_pkt burst[100];
	struct dp_port *p = open_port("127.0.0.1", 0, 0, 1);
	uint16_t pa;
	int fa = plain("127.0.0.1", &pa);

	(void)state;
	for (unsigned int i = 0; i < 100; i++)
		tx_pkt(&burst[i], i, 64 + i % 3, "127.0.0.1", pa);
	assert_int_equal(dp_port_tx_burst(p, burst, 100), 100);
	assert_int_equal(plain_collect(fa, &got_a, 100), 100);
	assert_got_burst(&got_a, burst, 100, "127.0.0.1", pa,
			 dp_port_local_port(p));
	close(fa);
	dp_port_close(p);
}

/*
 * Errors in the middle of a burst: broadcast without SO_BROADCAST (EACCES,
 * a GSO pair), port 0 (EINVAL, a GSO pair: retried one by one, must not
 * switch GSO off), a closed port (accepted; the ICMP that comes back must
 * not hurt later sends). Everything to the good receiver arrives.
 */
static void test_port_udp_tx_error_mid_burst(void **state)
{
	struct dp_pkt burst[11];
	struct dp_port *p = open_port("127.0.0.1", 0, 0, 1);
	uint16_t pa, closed, src = dp_port_local_port(p);
	int fa = plain("127.0.0.1", &pa), fc = plain("127.0.0.1", &closed);
	uint64_t gso_before;

	(void)state;
	close(fc);
	tx_pkt(&burst[0], 0, 300, "127.0.0.1", pa);
	tx_pkt(&burst[1], 1, 300, "255.255.255.255", 9);
	tx_pkt(&burst[2], 2, 300, "255.255.255.255", 9);
	tx_pkt(&burst[3], 3, 500, "127.0.0.1", 0);
	tx_pkt(&burst[4], 4, 500, "127.0.0.1", 0);
	tx_pkt(&burst[5], 5, 400, "127.0.0.1", closed);
	for (unsigned int i = 6; i < 10; i++)
		tx_pkt(&burst[i], i, SEG, "127.0.0.1", pa);
	tx_pkt(&burst[10], 10, 20, "127.0.0.1", pa);

	assert_int_equal(dp_port_tx_burst(p, burst, 11), 7);
	assert_int_equal(dp_port_stats(p)->tx_errors, 4);
	assert_int_equal(dp_port_stats(p)->tx_packets, 7);
	assert_int_equal(plain_collect(fa, &got_a, 6), 6);
	assert_got_burst(&got_a, burst, 11, "127.0.0.1", pa, src);
	assert_drained(fa);

	/* The next burst still goes out, still with GSO. */
	gso_before = dp_port_stats(p)->tx_gso_batches;
	assert_int_equal(dp_port_tx_burst(p, &burst[6], 4), 4);
	assert_int_equal(plain_collect(fa, &got_a, 4), 4);
	assert_got_burst(&got_a, &burst[6], 4, "127.0.0.1", pa, src);
	if (kernel_has(UDP_SEGMENT)) {
		assert_true(gso_before > 0);
		assert_int_equal(dp_port_stats(p)->tx_gso_batches,
				 gso_before + 1);
	}
	close(fa);
	dp_port_close(p);
}

/* Sends @n datagrams of @len bytes, ids from @id, to @ip:@port; all arrive. */
static void tx_and_check(struct dp_port *p, int fd, const char *ip,
			 uint16_t port, unsigned int id, unsigned int n,
			 uint32_t len)
{
	static struct dp_pkt burst[DP_BURST_MAX];

	for (unsigned int i = 0; i < n; i++)
		tx_pkt(&burst[i], id + i, len, ip, port);
	assert_int_equal(dp_port_tx_burst(p, burst, n), n);
	assert_int_equal(plain_collect(fd, &got_a, n), n);
	assert_got_burst(&got_a, burst, n, ip, port, dp_port_local_port(p));
	assert_drained(fd);
}

/*
 * A path that cannot take the segment size: IPV6_MTU 1280 on the port's
 * socket makes the kernel refuse 1400-byte segments (EMSGSIZE) but fragment
 * 1400-byte datagrams. The group is resent one by one; GSO stays on if it
 * worked before on this port, and is switched off if it never did.
 */
static void test_port_udp_tx_gso_rejected(void **state)
{
	struct dp_port *p;
	uint16_t pa;
	int fa, mtu = 1280;

	(void)state;
	if (!kernel_has(UDP_SEGMENT))
		skip();
	fa = plain("::1", &pa);

	p = open_port("::1", 0, 0, 1);
	tx_and_check(p, fa, "::1", pa, 0, 3, 1000);
	assert_int_equal(dp_port_stats(p)->tx_gso_batches, 1);
	assert_int_equal(setsockopt(dp_port_fd(p), IPPROTO_IPV6, IPV6_MTU, &mtu,
				    sizeof(mtu)),
			 0);
	tx_and_check(p, fa, "::1", pa, 3, 4, SEG);
	assert_int_equal(dp_port_stats(p)->tx_gso_batches, 1);
	tx_and_check(p, fa, "::1", pa, 7, 3, 1000);
	assert_int_equal(dp_port_stats(p)->tx_gso_batches, 2);
	assert_int_equal(dp_port_stats(p)->tx_errors, 0);
	dp_port_close(p);

	p = open_port("::1", 0, 0, 1);
	assert_int_equal(setsockopt(dp_port_fd(p), IPPROTO_IPV6, IPV6_MTU, &mtu,
				    sizeof(mtu)),
			 0);
	tx_and_check(p, fa, "::1", pa, 0, 4, SEG);
	tx_and_check(p, fa, "::1", pa, 4, 3, 1000);
	assert_int_equal(dp_port_stats(p)->tx_gso_batches, 0);
	assert_int_equal(dp_port_stats(p)->tx_packets, 7);
	assert_int_equal(dp_port_stats(p)->tx_errors, 0);
	dp_port_close(p);
	close(fa);
}

/* Port to port: GSO on the way out, GRO on the way in. */
static void test_port_udp_port_to_port(void **state)
{
	struct dp_pkt burst[N_SEG + 1];
	struct dp_port *s = open_port("127.0.0.1", 0, 0, 1);
	struct dp_port *r = open_port("::", 0, 0, 1);
	uint16_t rport = dp_port_local_port(r);

	(void)state;
	for (unsigned int i = 0; i < N_SEG; i++)
		tx_pkt(&burst[i], i, SEG, "127.0.0.1", rport);
	tx_pkt(&burst[N_SEG], N_SEG, 700, "127.0.0.1", rport);
	assert_int_equal(dp_port_tx_burst(s, burst, N_SEG + 1), N_SEG + 1);
	assert_int_equal(port_collect(r, &got_a, DP_BURST_MAX, N_SEG + 1),
			 N_SEG + 1);
	for (unsigned int i = 0; i <= N_SEG; i++) {
		assert_int_equal(got_a.len[i], burst[i].len);
		assert_true(intact(got_a.data[i], got_a.len[i], i));
		assert_addr(&got_a.addr[i], "127.0.0.1", dp_port_local_port(s));
	}
	print_message("port to port: tx_gso_batches %llu rx_gro_batches %llu\n",
		      (unsigned long long)dp_port_stats(s)->tx_gso_batches,
		      (unsigned long long)dp_port_stats(r)->rx_gro_batches);
	if (kernel_has(UDP_SEGMENT) && kernel_has(UDP_GRO)) {
		assert_int_equal(dp_port_stats(s)->tx_gso_batches, 1);
		assert_int_equal(dp_port_stats(r)->rx_gro_batches, 1);
	}
	dp_port_close(r);
	dp_port_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_udp_open_ephemeral),
		cmocka_unit_test(test_port_udp_open_errors),
		cmocka_unit_test(test_port_udp_ephemeral_not_shared),
		cmocka_unit_test(test_port_udp_open_bufsizes),
		cmocka_unit_test(test_port_udp_rx_sizes_ipv4),
		cmocka_unit_test(test_port_udp_rx_ipv6_sender),
		cmocka_unit_test(test_port_udp_rx_empty),
		cmocka_unit_test(test_port_udp_rx_more_than_max),
		cmocka_unit_test(test_port_udp_rx_gro_plain_sender),
		cmocka_unit_test(test_port_udp_rx_gro_split),
		cmocka_unit_test(test_port_udp_rx_gro_more_than_max),
		cmocka_unit_test(test_port_udp_rx_truncated),
		cmocka_unit_test(test_port_udp_tx_mixed),
		cmocka_unit_test(test_port_udp_tx_gso),
		cmocka_unit_test(test_port_udp_tx_long_burst),
		cmocka_unit_test(test_port_udp_tx_error_mid_burst),
		cmocka_unit_test(test_port_udp_tx_gso_rejected),
		cmocka_unit_test(test_port_udp_port_to_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
