/* SPDX-License-Identifier: MIT */
/*
 * The multiqueue TUN device and its rtnetlink setup, against the real
 * kernel. Needs root (CAP_NET_ADMIN); without it the test is skipped (77).
 *
 * main() moves the whole process into a private network namespace first
 * (unshare(CLONE_NEWNET)), so every device, address, route and sysctl the
 * cases make lives and dies with this process and the host's network is
 * never touched. What the code set up is checked with iproute2 (`ip -j`),
 * which reads it over its own netlink, not through netlink.c. Every wait
 * is a poll() with a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/if_tun.h>

#include <cmocka.h>

#include "link_watch.h"
#include "netlink.h"
#include "status.h"
#include "tun_mq.h"

#define IP4(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

#define VPN_ADDR IP4(10, 99, 0, 1) /* ours, on the device */
#define VPN_PEER IP4(10, 99, 0, 2) /* routed into the device */
#define VPN_MASK IP4(255, 255, 0, 0)
#define WAIT_MS 2000
#define OUT_MAX 16384

struct fx {
	struct tun_dev a;
	struct tun_dev b;
	int raw[2]; /* queues the test opens itself, without tun_open */
	struct vl_status st;
};

static int fx_setup(void **state)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	unsigned int i;

	if (!f)
		return -1;
	for (i = 0; i < TUN_QUEUES_MAX; i++) {
		f->a.fds[i] = -1;
		f->b.fds[i] = -1;
	}
	f->raw[0] = -1;
	f->raw[1] = -1;
	*state = f;
	return 0;
}

/* Runs after failed cases too: the devices go with their last queue. */
static int fx_teardown(void **state)
{
	struct fx *f = *state;

	tun_close(&f->a);
	tun_close(&f->b);
	if (f->raw[0] >= 0)
		close(f->raw[0]);
	if (f->raw[1] >= 0)
		close(f->raw[1]);
	test_free(f);
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

#define assert_has(hay, needle)                                         \
	do {                                                            \
		if (!has((hay), (needle)))                              \
			fail_msg("\"%s\" not in: %s", (needle), (hay)); \
	} while (0)

/* Output of a shell command (iproute2), cut to @size. */
__attribute__((format(printf, 3, 4))) static void run(char *out, size_t size,
						      const char *fmt, ...)
{
	char cmd[256];
	size_t len = 0;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (len + 1 < size) {
		size_t n = fread(out + len, 1, size - 1 - len, p);

		if (!n)
			break;
		len += n;
	}
	out[len] = '\0';
	if (pclose(p) != 0)
		fail_msg("%s failed: %s", cmd, out);
}

/* Per-netns sysctls (/proc/sys/net follows the reader's netns). */
static int sysctl_set(const char *path, const char *value)
{
	FILE *fp = fopen(path, "w");
	int ret;

	if (!fp)
		return -errno;
	ret = fputs(value, fp) < 0 ? -EIO : 0;
	if (fclose(fp))
		ret = -errno;
	return ret;
}

/* An IPv4 address the way sockets want it. */
static struct sockaddr_in sin4(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(addr),
	};

	return sa;
}

static int udp_bound(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sa = sin4(addr, port);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		fail_msg("bind: %s", strerror(errno));
	return fd;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* RFC 1071 sum, not yet folded or inverted. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* IPv4/UDP with both checksums; returns the packet length. */
static uint32_t build_udp(uint8_t *pkt, uint32_t src, uint16_t sport,
			  uint32_t dst, uint16_t dport, const char *payload)
{
	size_t plen = strlen(payload);
	uint16_t udp_len = (uint16_t)(8 + plen);
	uint8_t *udp = pkt + 20;
	uint8_t pseudo[12];
	uint16_t csum;

	memset(pkt, 0, 28);
	pkt[0] = 0x45;
	put16(pkt + 2, (uint16_t)(20 + udp_len));
	put16(pkt + 4, 0x1234); /* id */
	put16(pkt + 6, 0x4000); /* DF */
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	put32(pkt + 12, src);
	put32(pkt + 16, dst);
	put16(pkt + 10, fold(sum16(0, pkt, 20)));

	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, udp_len);
	memcpy(udp + 8, payload, plen);
	put32(pseudo, src);
	put32(pseudo + 4, dst);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	put16(pseudo + 10, udp_len);
	csum = fold(sum16(sum16(0, pseudo, 12), udp, udp_len));
	put16(udp + 6, csum ? csum : 0xffff);
	return 20u + udp_len;
}

/* Whether @pkt is exactly the IPv4/UDP datagram described, checksums too. */
static bool is_udp(const uint8_t *pkt, uint32_t len, uint32_t src,
		   uint16_t sport, uint32_t dst, uint16_t dport,
		   const char *payload)
{
	size_t plen = strlen(payload);
	uint8_t pseudo[12];
	const uint8_t *udp = pkt + 20;

	if (len != 28 + plen || pkt[0] != 0x45 || get16(pkt + 2) != len ||
	    pkt[9] != IPPROTO_UDP || get32(pkt + 12) != src ||
	    get32(pkt + 16) != dst || fold(sum16(0, pkt, 20)) != 0)
		return false;
	if (get16(udp) != sport || get16(udp + 2) != dport ||
	    get16(udp + 4) != 8 + plen || memcmp(udp + 8, payload, plen))
		return false;
	/* A zero UDP checksum means "none"; the kernel fills it in. */
	if (!get16(udp + 6))
		return true;
	put32(pseudo, src);
	put32(pseudo + 4, dst);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	put16(pseudo + 10, (uint16_t)(8 + plen));
	return fold(sum16(sum16(0, pseudo, 12), udp, 8 + plen)) == 0;
}

/* The queue with a packet waiting, or -1 after @ms. */
static int wait_queue(const struct tun_dev *t, int ms)
{
	struct pollfd pfd[TUN_QUEUES_MAX];
	unsigned int q;

	for (q = 0; q < t->n_queues; q++) {
		pfd[q].fd = t->fds[q];
		pfd[q].events = POLLIN;
		pfd[q].revents = 0;
	}
	if (poll(pfd, t->n_queues, ms) <= 0)
		return -1;
	for (q = 0; q < t->n_queues; q++)
		if (pfd[q].revents & POLLIN)
			return (int)q;
	return -1;
}

/* Reads packets from any queue until one matches; false at the deadline. */
static bool read_udp(struct tun_dev *t, uint32_t src, uint16_t sport,
		     uint32_t dst, uint16_t dport, const char *payload)
{
	static uint8_t buf[2048];
	uint8_t *bufs[1] = { buf };
	long end = now_ms() + WAIT_MS;
	uint32_t len;
	int q;

	while (now_ms() < end) {
		q = wait_queue(t, (int)(end - now_ms()));
		if (q < 0)
			return false;
		while (tun_q_read_burst(t, (unsigned int)q, bufs, sizeof(buf),
					&len, 1) == 1)
			if (is_udp(buf, len, src, sport, dst, dport, payload))
				return true;
	}
	return false;
}

/* Receives one datagram on @fd within WAIT_MS. */
static ssize_t recv_wait(int fd, char *buf, size_t size,
			 struct sockaddr_in *from)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	socklen_t from_len = sizeof(*from);

	if (poll(&pfd, 1, WAIT_MS) != 1)
		return -1;
	return recvfrom(fd, buf, size, MSG_DONTWAIT, (struct sockaddr *)from,
			&from_len);
}

/* tun_open + tun_configure with the test network, rp_filter off. */
static void open_configured(struct fx *f, const char *name,
			    unsigned int n_queues)
{
	char path[96];

	if (tun_open(&f->a, name, n_queues, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	if (tun_configure(&f->a, VPN_ADDR, VPN_MASK, 1300, 500, &f->st))
		fail_msg("tun_configure: %s", f->st.msg);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter",
		 f->a.name);
	assert_int_equal(sysctl_set(path, "0"), 0);
}

/* A queue opened by hand, with TUNSETIFF @flags, for clashing devices. */
static int raw_queue(const char *name, unsigned int flags)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = (short)flags;
	if (ioctl(fd, TUNSETIFF, &ifr))
		fail_msg("TUNSETIFF %s: %s", name, strerror(errno));
	return fd;
}

static void assert_no_device(const char *name)
{
	if (if_nametoindex(name))
		fail_msg("device %s exists", name);
}

static void assert_closed(const struct tun_dev *t)
{
	unsigned int q;

	assert_int_equal(t->n_queues, 0);
	for (q = 0; q < TUN_QUEUES_MAX; q++)
		assert_int_equal(t->fds[q], -1);
}

static void test_tun_open_kernel_name(void **state)
{
	struct fx *f = *state;

	if (tun_open(&f->a, "", 1, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	assert_true(!strncmp(f->a.name, "tun", 3) && strlen(f->a.name) > 3);
	assert_int_equal(f->a.n_queues, 1);
	assert_true(f->a.fds[0] >= 0);
	assert_int_equal(f->a.ifindex, (int)if_nametoindex(f->a.name));
}

static void test_tun_open_name_template(void **state)
{
	struct fx *f = *state;

	if (tun_open(&f->a, "vela%d", 2, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	assert_string_equal(f->a.name, "vela0");
	assert_true(f->a.ifindex > 0);
}

static void test_tun_open_queues(void **state)
{
	struct fx *f = *state;
	char out[OUT_MAX];
	unsigned int q, i;

	if (tun_open(&f->a, "velatest0", 4, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	assert_string_equal(f->a.name, "velatest0");
	assert_int_equal(f->a.n_queues, 4);
	for (q = 0; q < 4; q++) {
		struct ifreq ifr;

		assert_true(f->a.fds[q] >= 0);
		for (i = 0; i < q; i++)
			assert_int_not_equal(f->a.fds[q], f->a.fds[i]);
		assert_true(fcntl(f->a.fds[q], F_GETFL) & O_NONBLOCK);
		assert_true(fcntl(f->a.fds[q], F_GETFD) & FD_CLOEXEC);
		memset(&ifr, 0, sizeof(ifr));
		assert_int_equal(ioctl(f->a.fds[q], TUNGETIFF, &ifr), 0);
		assert_string_equal(ifr.ifr_name, "velatest0");
		assert_int_equal(ifr.ifr_flags & (IFF_TUN | IFF_TAP |
						  IFF_NO_PI | IFF_MULTI_QUEUE),
				 IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE);
	}
	for (q = 4; q < TUN_QUEUES_MAX; q++)
		assert_int_equal(f->a.fds[q], -1);
	run(out, sizeof(out), "ip -d -j link show dev velatest0");
	assert_has(out, "\"info_kind\":\"tun\"");
	assert_has(out, "\"type\":\"tun\"");
	assert_has(out, "\"pi\":false");
	assert_has(out, "\"multi_queue\":true");
	assert_has(out, "\"numqueues\":4");
}

static void test_tun_configure(void **state)
{
	struct fx *f = *state;
	char out[OUT_MAX];
	struct tun_nl_conn nl;
	struct tun_nl_link link;

	open_configured(f, "velacfg0", 2);
	run(out, sizeof(out), "ip -d -j link show dev velacfg0");
	assert_has(out, "\"mtu\":1300");
	assert_has(out, "\"txqlen\":500");
	assert_has(out, "\"UP\"");
	assert_has(out, "\"LOWER_UP\"");
	run(out, sizeof(out), "ip -4 -j addr show dev velacfg0");
	assert_has(out, "\"local\":\"10.99.0.1\",\"prefixlen\":16");
	/* The kernel's connected route for the VPN network. */
	run(out, sizeof(out), "ip -4 route show dev velacfg0");
	assert_has(out, "10.99.0.0/16 proto kernel scope link src 10.99.0.1");

	/* tun_nl_link_get reads the same back. */
	assert_int_equal(tun_nl_open(&nl, &f->st), 0);
	if (tun_nl_link_get(&nl, "velacfg0", &link, &f->st))
		fail_msg("tun_nl_link_get: %s", f->st.msg);
	tun_nl_close(&nl);
	assert_int_equal(link.ifindex, f->a.ifindex);
	assert_string_equal(link.name, "velacfg0");
	assert_string_equal(link.kind, "tun");
	assert_int_equal(link.mtu, 1300);
	assert_int_equal(link.txqlen, 500);
	assert_true(link.flags & IFF_UP);
	assert_true(link.tun_info && link.tun_multi_queue && !link.tun_pi);
	assert_int_equal(link.tun_type, IFF_TUN);
	assert_int_equal(link.tun_queues, 2);

	/* Again, as after a restart on a persistent device: no EEXIST. */
	if (tun_configure(&f->a, VPN_ADDR, VPN_MASK, 1300, 500, &f->st))
		fail_msg("second tun_configure: %s", f->st.msg);
}

static void test_tun_configure_errors(void **state)
{
	struct fx *f = *state;

	assert_int_equal(tun_configure(&f->a, VPN_ADDR, VPN_MASK, 1300, 500,
				       &f->st),
			 -EBADF);
	if (tun_open(&f->a, "velacfg1", 1, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	assert_int_equal(tun_configure(&f->a, VPN_ADDR, IP4(255, 0, 255, 0),
				       1300, 500, &f->st),
			 -EINVAL);
	assert_has(f->st.msg, "velacfg1");
	assert_has(f->st.msg, "255.0.255.0");
	assert_int_equal(tun_configure(&f->a, VPN_ADDR, VPN_MASK, 67, 500,
				       &f->st),
			 -EINVAL);
	assert_has(f->st.msg, "mtu 67");
	assert_int_equal(tun_configure(&f->a, VPN_ADDR, VPN_MASK, 65536, 500,
				       &f->st),
			 -EINVAL);
	assert_int_equal(tun_configure(&f->a, VPN_ADDR, VPN_MASK, 1300, -1,
				       &f->st),
			 -EINVAL);
}

static void test_tun_route_add(void **state)
{
	struct fx *f = *state;
	char out[OUT_MAX];

	open_configured(f, "velart0", 1);
	/* tun.unsafe_routes: outside the VPN network, MTU and metric. */
	if (tun_route_add(&f->a, IP4(10, 200, 0, 0), IP4(255, 255, 255, 0),
			  1200, 7, &f->st))
		fail_msg("tun_route_add: %s", f->st.msg);
	/* tun.routes: inside it, an MTU, no metric. */
	if (tun_route_add(&f->a, IP4(10, 99, 8, 0), IP4(255, 255, 248, 0), 1000,
			  0, &f->st))
		fail_msg("tun_route_add: %s", f->st.msg);
	/* MTU 0: the route takes the device's. */
	if (tun_route_add(&f->a, IP4(10, 201, 0, 0), VPN_MASK, 0, 0, &f->st))
		fail_msg("tun_route_add: %s", f->st.msg);
	run(out, sizeof(out), "ip -4 route show dev velart0");
	assert_has(
		out,
		"10.200.0.0/24 proto static scope link metric 7 mtu 1200 advmss 1160");
	assert_has(out,
		   "10.99.8.0/21 proto static scope link mtu 1000 advmss 960");
	assert_has(out, "10.201.0.0/16 proto static scope link \n");
	run(out, sizeof(out), "ip -4 route get 10.200.0.9");
	assert_has(out, "dev velart0");

	/* The same route twice: never take over an existing one. */
	assert_int_equal(tun_route_add(&f->a, IP4(10, 200, 0, 0),
				       IP4(255, 255, 255, 0), 1200, 7, &f->st),
			 -EEXIST);
	assert_has(f->st.msg, "velart0");
	assert_has(f->st.msg, "ip route del 10.200.0.0/24 metric 7");
}

static void test_tun_route_errors(void **state)
{
	struct fx *f = *state;

	if (tun_open(&f->a, "velart1", 1, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	/* Down (not configured): the kernel refuses, we say what to do. */
	assert_int_equal(tun_route_add(&f->a, IP4(10, 200, 0, 0),
				       IP4(255, 255, 255, 0), 1200, 0, &f->st),
			 -ENETDOWN);
	assert_has(f->st.msg, "velart1");
	assert_has(f->st.msg, "link up");
	assert_int_equal(tun_route_add(&f->a, IP4(10, 200, 0, 5),
				       IP4(255, 255, 255, 0), 0, 0, &f->st),
			 -EINVAL);
	assert_has(f->st.msg, "host bits");
	assert_int_equal(tun_route_add(&f->a, IP4(10, 200, 0, 0),
				       IP4(255, 0, 255, 0), 0, 0, &f->st),
			 -EINVAL);
	assert_int_equal(tun_route_add(&f->a, IP4(10, 200, 0, 0),
				       IP4(255, 255, 255, 0), 40, 0, &f->st),
			 -EINVAL);
	assert_int_equal(tun_route_add(&f->a, IP4(10, 200, 0, 0),
				       IP4(255, 255, 255, 0), 0, -1, &f->st),
			 -EINVAL);
}

/* A datagram routed into the device comes out of one of its queues. */
static void test_tun_read_udp(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in to = sin4(VPN_PEER, 9999);
	int fd;

	open_configured(f, "velard0", 4);
	fd = udp_bound(VPN_ADDR, 5555);
	assert_int_equal(sendto(fd, "vela out", 8, 0, (struct sockaddr *)&to,
				sizeof(to)),
			 8);
	assert_true(
		read_udp(&f->a, VPN_ADDR, 5555, VPN_PEER, 9999, "vela out"));
	close(fd);
}

/* One call reads at most @max packets and never waits for more. */
static void test_tun_read_burst_bounded(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in to = sin4(VPN_PEER, 9999);
	uint8_t b0[2048], b1[2048], b2[2048];
	uint8_t *bufs[3] = { b0, b1, b2 };
	unsigned int n, total = 0;
	bool saw_max = false;
	uint32_t lens[3];
	long end;
	int fd, i;

	open_configured(f, "velard1", 1);
	assert_int_equal(tun_q_read_burst(&f->a, 0, bufs, 2048, lens, 3), 0);
	fd = udp_bound(VPN_ADDR, 5555);
	for (i = 0; i < 3; i++)
		assert_int_equal(sendto(fd, "burst", 5, 0,
					(struct sockaddr *)&to, sizeof(to)),
				 5);
	end = now_ms() + WAIT_MS;
	while (total < 3 && now_ms() < end) {
		if (wait_queue(&f->a, WAIT_MS) < 0)
			break;
		n = tun_q_read_burst(&f->a, 0, bufs, 2048, lens, 2);
		assert_true(n <= 2);
		saw_max |= n == 2;
		for (i = 0; i < (int)n; i++)
			assert_true(is_udp(bufs[i], lens[i], VPN_ADDR, 5555,
					   VPN_PEER, 9999, "burst"));
		total += n;
	}
	assert_int_equal(total, 3);
	assert_true(saw_max);
	assert_int_equal(tun_q_read_burst(&f->a, 0, bufs, 2048, lens, 3), 0);
	assert_int_equal(tun_q_read_burst(&f->a, 0, bufs, 2048, lens, 0), 0);
	assert_int_equal(tun_q_read_burst(&f->a, 1, bufs, 2048, lens, 3), 0);
	close(fd);
}

/* A packet longer than the buffer is dropped; one that fits exactly is not. */
static void test_tun_read_drops_cut_packet(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in to = sin4(VPN_PEER, 9999);
	const char *payload = "0123456789abcdef0123456789abcdef"; /* 60 B */
	uint8_t buf[2048];
	uint8_t *bufs[1] = { buf };
	uint32_t len = 0;
	int fd;

	open_configured(f, "velard2", 1);
	fd = udp_bound(VPN_ADDR, 5555);
	assert_int_equal(sendto(fd, payload, 32, 0, (struct sockaddr *)&to,
				sizeof(to)),
			 32);
	assert_int_equal(wait_queue(&f->a, WAIT_MS), 0);
	assert_int_equal(tun_q_read_burst(&f->a, 0, bufs, 59, &len, 1), 0);
	assert_int_equal(tun_q_read_burst(&f->a, 0, bufs, 2048, &len, 1), 0);

	assert_int_equal(sendto(fd, payload, 32, 0, (struct sockaddr *)&to,
				sizeof(to)),
			 32);
	assert_int_equal(wait_queue(&f->a, WAIT_MS), 0);
	assert_int_equal(tun_q_read_burst(&f->a, 0, bufs, 60, &len, 1), 1);
	assert_int_equal(len, 60);
	assert_true(is_udp(buf, len, VPN_ADDR, 5555, VPN_PEER, 9999, payload));
	close(fd);
}

/* A packet written to any queue is delivered to the local socket. */
static void test_tun_write_udp(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in from;
	uint8_t pkt[64];
	uint8_t *bufs[1] = { pkt };
	uint32_t len;
	unsigned int q;
	char got[32];
	int fd;

	open_configured(f, "velawr0", 4);
	fd = udp_bound(VPN_ADDR, 6666);
	for (q = 0; q < 4; q++) {
		char payload[16];

		snprintf(payload, sizeof(payload), "vela in %u", q);
		len = build_udp(pkt, VPN_PEER, 4242, VPN_ADDR, 6666, payload);
		assert_int_equal(tun_q_write_burst(&f->a, q, bufs, &len, 1), 1);
		memset(got, 0, sizeof(got));
		assert_int_equal(recv_wait(fd, got, sizeof(got), &from),
				 (ssize_t)strlen(payload));
		assert_string_equal(got, payload);
		assert_int_equal(ntohl(from.sin_addr.s_addr), VPN_PEER);
		assert_int_equal(ntohs(from.sin_port), 4242);
	}
	assert_int_equal(tun_q_write_burst(&f->a, 4, bufs, &len, 1), 0);
	close(fd);
}

/* Packets the kernel refuses are skipped; the rest of the burst goes on. */
static void test_tun_write_skips_bad_packet(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in from;
	uint8_t bad[20] = { 0 }; /* IP version 0: EINVAL */
	uint8_t odd[20] = { 0x75 }; /* IP version 7: EINVAL */
	uint8_t good1[64], good2[64];
	uint8_t *bufs[5] = { bad, good1, odd, bad, good2 };
	uint32_t lens[5] = { sizeof(bad), 0, sizeof(odd), 0, 0 };
	char got[32];
	int fd;

	open_configured(f, "velawr1", 2);
	fd = udp_bound(VPN_ADDR, 6666);
	lens[1] = build_udp(good1, VPN_PEER, 4242, VPN_ADDR, 6666, "good 1");
	lens[4] = build_udp(good2, VPN_PEER, 4242, VPN_ADDR, 6666, "good 2");
	assert_int_equal(tun_q_write_burst(&f->a, 1, bufs, lens, 5), 2);
	memset(got, 0, sizeof(got));
	assert_int_equal(recv_wait(fd, got, sizeof(got), &from), 6);
	assert_string_equal(got, "good 1");
	memset(got, 0, sizeof(got));
	assert_int_equal(recv_wait(fd, got, sizeof(got), &from), 6);
	assert_string_equal(got, "good 2");
	close(fd);
}

/* tun_open_opts with offloads, configured like open_configured. */
static void open_offload(struct fx *f, const char *name, unsigned int n_queues)
{
	const struct tun_opts o = { .offload = true };
	struct tun_nl_link link;
	struct tun_nl_conn nl;
	struct ifreq ifr;
	char path[96];

	if (tun_open_opts(&f->a, name, n_queues, &o, &f->st))
		fail_msg("tun_open_opts: %s", f->st.msg);
	if (!f->a.vnet)
		fail_msg("no offloads on this kernel: %s", f->a.offload_msg);
	assert_has(f->a.offload_msg, "on: vnet header 10 bytes");
	assert_true(f->a.offloads & TUN_F_TSO4);
	memset(&ifr, 0, sizeof(ifr));
	assert_int_equal(ioctl(f->a.fds[n_queues - 1], TUNGETIFF, &ifr), 0);
	assert_true(ifr.ifr_flags & IFF_VNET_HDR);
	if (tun_configure(&f->a, VPN_ADDR, VPN_MASK, 1300, 500, &f->st))
		fail_msg("tun_configure: %s", f->st.msg);
	assert_int_equal(tun_nl_open(&nl, &f->st), 0);
	assert_int_equal(tun_nl_link_get(&nl, f->a.name, &link, &f->st), 0);
	tun_nl_close(&nl);
	assert_true(link.tun_vnet_hdr);
	assert_int_equal(link.gso_max_segs, TUN_GSO_SEGS_DEFAULT);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter",
		 f->a.name);
	assert_int_equal(sysctl_set(path, "0"), 0);
}

/*
 * UDP_SEGMENT sends become USO frames on the TUN and come out as plain
 * datagrams; a frame that does not fit the buffers left waits for the
 * next call.
 */
static void test_tun_offload_read_uso(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in to = sin4(VPN_PEER, 9999);
	static uint8_t mem[16][64 + 2048];
	struct tun_q_vnet *v = test_calloc(1, sizeof(*v));
	char payload[101], big[1000];
	uint8_t *bufs[16];
	uint32_t lens[16];
	unsigned int n, i, got = 0, calls = 0;
	int seg = 100, fd;

	for (i = 0; i < 16; i++)
		bufs[i] = mem[i] + 64;
	memset(payload, 'u', 100);
	payload[100] = '\0';
	memset(big, 'u', sizeof(big));
	open_offload(f, "velaoff0", 2);
	if (!f->a.uso) {
		test_free(v);
		skip();
	}
	fd = udp_bound(VPN_ADDR, 5555);
	assert_int_equal(setsockopt(fd, IPPROTO_UDP, 103 /* UDP_SEGMENT */,
				    &seg, sizeof(seg)),
			 0);
	/* Two frames of 10; 12 buffers: the second waits for the next call. */
	for (i = 0; i < 2; i++)
		assert_int_equal(sendto(fd, big, sizeof(big), 0,
					(struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)sizeof(big));
	for (long end = now_ms() + WAIT_MS; got < 20 && now_ms() < end;) {
		int q = wait_queue(&f->a, 100);

		if (q < 0 && !v->held)
			continue;
		n = tun_q_read_vnet_burst(&f->a, q < 0 ? 0 : (unsigned int)q,
					  v, bufs, 2048, lens, 12);
		assert_true(n <= 12);
		for (i = 0; i < n; i++)
			assert_true(is_udp(bufs[i], lens[i], VPN_ADDR, 5555,
					   VPN_PEER, 9999, payload));
		got += n;
		calls += n > 0;
	}
	assert_int_equal(got, 20);
	assert_int_equal(calls, 2);
	assert_int_equal(v->off.gso_frames, 2);
	assert_int_equal(v->off.segments, 20);
	assert_int_equal(v->held, 0);
	close(fd);
	test_free(v);
}

/* Five datagrams of one flow go in one writev and arrive as five. */
static void test_tun_offload_write_coalesced(void **state)
{
	struct fx *f = *state;
	struct tun_q_vnet *v = test_calloc(1, sizeof(*v));
	uint8_t pkts[5][64];
	uint8_t *bufs[5];
	uint32_t lens[5];
	struct sockaddr_in from;
	uint64_t bytes;
	char got[32], want[16];
	int fd;

	open_offload(f, "velaoff1", 2);
	fd = udp_bound(VPN_ADDR, 6666);
	for (unsigned int i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "seg %u", i);
		bufs[i] = pkts[i];
		lens[i] = build_udp(pkts[i], VPN_PEER, 4242, VPN_ADDR, 6666,
				    want);
	}
	assert_int_equal(
		tun_q_write_vnet_burst(&f->a, 1, v, bufs, lens, 5, &bytes), 5);
	if (f->a.uso) {
		assert_int_equal(v->tx_writes, 1);
		assert_int_equal(v->tx_supers, 1);
		assert_int_equal(v->tx_coalesced, 5);
		assert_int_equal(bytes, 28 + 5 * 5);
	}
	for (unsigned int i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "seg %u", i);
		memset(got, 0, sizeof(got));
		assert_int_equal(recv_wait(fd, got, sizeof(got), &from), 5);
		assert_string_equal(got, want);
	}
	assert_int_equal(
		tun_q_write_vnet_burst(&f->a, 2, v, bufs, lens, 5, &bytes), 0);
	close(fd);
	test_free(v);
}

/* A name with queues attached is someone's device: refuse, don't share. */
static void test_tun_open_busy_name(void **state)
{
	struct fx *f = *state;
	char out[OUT_MAX];

	if (tun_open(&f->a, "velabusy0", 4, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	assert_int_equal(tun_open(&f->b, "velabusy0", 2, &f->st), -EBUSY);
	assert_has(f->st.msg, "velabusy0");
	assert_has(f->st.msg, "4 queues already attached");
	assert_closed(&f->b);
	assert_int_equal(tun_open(&f->b, "velabusy0", 4, &f->st), -EBUSY);
	assert_closed(&f->b);
	run(out, sizeof(out), "ip -d -j link show dev velabusy0");
	assert_has(out, "\"numqueues\":4");
}

/* Names held by devices of another kind or shape. */
static void test_tun_open_wrong_device(void **state)
{
	struct fx *f = *state;

	f->raw[0] = raw_queue("velasq0", IFF_TUN | IFF_NO_PI);
	assert_int_equal(tun_open(&f->a, "velasq0", 2, &f->st), -EEXIST);
	assert_has(f->st.msg, "velasq0");
	assert_has(f->st.msg, "single-queue");
	assert_closed(&f->a);

	f->raw[1] =
		raw_queue("velatap0", IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE);
	assert_int_equal(tun_open(&f->a, "velatap0", 2, &f->st), -EEXIST);
	assert_has(f->st.msg, "TAP");

	assert_int_equal(tun_open(&f->a, "lo", 1, &f->st), -EEXIST);
	assert_has(f->st.msg, "not a TUN (kind none)");
	assert_closed(&f->a);
}

/* An idle persistent multiqueue TUN (ip tuntap add ... multi_queue). */
static void test_tun_open_attach_persistent(void **state)
{
	struct fx *f = *state;
	char out[OUT_MAX];
	int fd;

	fd = raw_queue("velapers0", IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
	assert_true(if_nametoindex("velapers0") > 0);

	if (tun_open(&f->a, "velapers0", 3, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	run(out, sizeof(out), "ip -d -j link show dev velapers0");
	assert_has(out, "\"numqueues\":3");
	assert_has(out, "\"persist\":true");

	assert_int_equal(ioctl(f->a.fds[0], TUNSETPERSIST, 0), 0);
	tun_close(&f->a);
	assert_no_device("velapers0");
}

static void test_tun_open_bad_args(void **state)
{
	struct fx *f = *state;

	assert_int_equal(tun_open(&f->a, "velabad0", 0, &f->st), -EINVAL);
	assert_has(f->st.msg, "give 1 to 64");
	assert_int_equal(tun_open(&f->a, "velabad0", TUN_QUEUES_MAX + 1,
				  &f->st),
			 -EINVAL);
	assert_no_device("velabad0");
	assert_int_equal(tun_open(&f->a, "velatest0123456789", 1, &f->st),
			 -ENAMETOOLONG);
	assert_has(f->st.msg, "velatest0123456789");
	assert_int_equal(tun_open(&f->a, "vela/0", 1, &f->st), -EINVAL);
	assert_int_equal(tun_open(&f->a, "vela 0", 1, &f->st), -EINVAL);
	assert_closed(&f->a);
}

/* Failing at the third queue closes the first two, and the device goes. */
static void test_tun_open_failure_closes_queues(void **state)
{
	struct fx *f = *state;
	struct rlimit old, lim;
	int next, err;

	next = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(next >= 0);
	close(next);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)next + 2;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	err = tun_open(&f->a, "velafd0", 4, &f->st);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

	assert_int_equal(err, -EMFILE);
	assert_has(f->st.msg, "file descriptors");
	assert_closed(&f->a);
	assert_no_device("velafd0");
	/* Nothing leaked: the lowest free descriptor is the same. */
	assert_int_equal(open("/dev/null", O_RDONLY | O_CLOEXEC), next);
	close(next);
}

static void test_tun_close_removes_device(void **state)
{
	struct fx *f = *state;

	if (tun_open(&f->a, "velaclose0", 2, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	assert_true(if_nametoindex("velaclose0") > 0);
	tun_close(&f->a);
	assert_closed(&f->a);
	assert_no_device("velaclose0");
	tun_close(&f->a);
}

/* netlink.c on its own: kernel errors come back as -errno with a reason. */
static void test_tun_netlink_errors(void **state)
{
	struct fx *f = *state;
	struct tun_nl_conn nl;
	struct tun_nl_link link;
	int err;

	assert_int_equal(tun_nl_open(&nl, &f->st), 0);
	assert_int_equal(tun_nl_link_get(&nl, "velanone0", &link, &f->st), -ENODEV);
	assert_has(f->st.msg, "velanone0");
	assert_int_equal(tun_nl_link_get(&nl, "lo", &link, &f->st), 0);
	assert_int_equal(link.ifindex, 1);
	assert_true(link.flags & IFF_UP);
	assert_string_equal(link.kind, "");

	if (tun_open(&f->a, "velanl0", 1, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	err = tun_nl_link_set(&nl, f->a.ifindex, 70000, -1, -1, &f->st);
	assert_int_equal(err, -EINVAL);
	assert_has(f->st.msg, "mtu 70000");
	assert_int_equal(tun_nl_addr_add4(&nl, 99999, VPN_ADDR, 16, &f->st),
			 -ENODEV);
	assert_int_equal(tun_nl_route_add4(&nl, 99999, IP4(10, 200, 0, 0), 24, 0, 0,
				       &f->st),
			 -ENODEV);
	/* The socket still works after errors (sequence numbers in step). */
	assert_int_equal(tun_nl_link_set(&nl, f->a.ifindex, 1400, 100, 1, &f->st),
			 0);
	assert_int_equal(tun_nl_link_get(&nl, "velanl0", &link, &f->st), 0);
	assert_int_equal(link.mtu, 1400);
	assert_int_equal(link.txqlen, 100);
	tun_nl_close(&nl);
	tun_nl_close(&nl);
}

static void test_tun_mtu_set_get(void **state)
{
	struct fx *f = *state;
	char out[OUT_MAX];
	int mtu = 0;

	if (tun_open(&f->a, "velamtu0", 1, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	if (tun_mtu_set(&f->a, 1280, &f->st))
		fail_msg("tun_mtu_set: %s", f->st.msg);
	if (tun_mtu_get(&f->a, &mtu, &f->st))
		fail_msg("tun_mtu_get: %s", f->st.msg);
	assert_int_equal(mtu, 1280);
	run(out, sizeof(out), "ip -j link show dev velamtu0");
	assert_has(out, "\"mtu\":1280");
	assert_int_equal(tun_mtu_set(&f->a, 68, &f->st), 0);
	assert_int_equal(tun_mtu_get(&f->a, &mtu, &f->st), 0);
	assert_int_equal(mtu, 68);

	assert_int_equal(tun_mtu_set(&f->a, 67, &f->st), -EINVAL);
	assert_has(f->st.msg, "mtu 67");
	assert_has(f->st.msg, "velamtu0");
	assert_int_equal(tun_mtu_set(&f->a, 65536, &f->st), -EINVAL);
	assert_has(f->st.msg, "mtu 65536");
	assert_int_equal(tun_mtu_get(&f->a, &mtu, &f->st), 0);
	assert_int_equal(mtu, 68);

	tun_close(&f->a);
	assert_int_equal(tun_mtu_get(&f->a, &mtu, &f->st), -EBADF);
}

static void test_tun_open_from_fd(void **state)
{
	struct fx *f = *state;
	int fd, fl;

	if (tun_open(&f->a, "velafrom0", 2, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	/* A dup shares the open file (and O_NONBLOCK); F_DUPFD drops CLOEXEC. */
	fd = fcntl(f->a.fds[1], F_DUPFD, 0);
	assert_true(fd >= 0);
	fl = fcntl(fd, F_GETFL);
	assert_int_equal(fcntl(fd, F_SETFL, fl & ~O_NONBLOCK), 0);
	if (tun_open_from_fd(&f->b, fd, &f->st)) {
		close(fd);
		fail_msg("tun_open_from_fd: %s", f->st.msg);
	}
	assert_string_equal(f->b.name, "velafrom0");
	assert_int_equal(f->b.ifindex, f->a.ifindex);
	assert_int_equal(f->b.n_queues, 1);
	assert_int_equal(f->b.fds[0], fd);
	assert_int_equal(f->b.fds[1], -1);
	assert_false(f->b.vnet);
	/* Shares the file with a.fds[1]: O_NONBLOCK shows there too. */
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	tun_close(&f->b);
	assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed by tun_close */
	assert_int_equal(errno, EBADF);
}

/* A vnet fd: the offload fields read back as tun_open_opts set them. */
static void test_tun_open_from_fd_vnet(void **state)
{
	struct fx *f = *state;
	struct tun_opts o = { .offload = true, .gso_max_segs = 16 };
	int fd;

	if (tun_open_opts(&f->a, "velafromv0", 1, &o, &f->st))
		fail_msg("tun_open_opts: %s", f->st.msg);
	if (!f->a.vnet)
		skip(); /* the kernel refused the offloads: nothing to compare */
	fd = dup(f->a.fds[0]);
	assert_true(fd >= 0);
	if (tun_open_from_fd(&f->b, fd, &f->st)) {
		close(fd);
		fail_msg("tun_open_from_fd: %s", f->st.msg);
	}
	assert_true(f->b.vnet);
	assert_int_equal(f->b.uso, f->a.uso);
	assert_int_equal(f->b.offloads, f->a.offloads);
	assert_int_equal(f->b.gso_max_segs, 16);
	assert_has(f->b.offload_msg, "on");
}

static void test_tun_open_from_fd_errors(void **state)
{
	struct fx *f = *state;
	char want[64];
	int fd;

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	f->raw[0] = fd;
	assert_int_equal(tun_open_from_fd(&f->b, fd, &f->st), -ENOTTY);
	snprintf(want, sizeof(want), "fd %d is not a TUN device: ", fd);
	assert_has(f->st.msg, want);
	assert_closed(&f->b);
	assert_true(fcntl(fd, F_GETFD) >= 0); /* still the caller's */
	close(fd);
	f->raw[0] = -1;

	/* /dev/net/tun never attached */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	f->raw[0] = fd;
	assert_int_equal(tun_open_from_fd(&f->b, fd, &f->st), -EBADFD);
	snprintf(want, sizeof(want), "fd %d is not a TUN device: ", fd);
	assert_has(f->st.msg, want);
	close(fd);
	f->raw[0] = -1;

	f->raw[0] = raw_queue("velafromtap0", IFF_TAP | IFF_NO_PI);
	assert_int_equal(tun_open_from_fd(&f->b, f->raw[0], &f->st), -EINVAL);
	assert_has(f->st.msg, "TAP");
	assert_has(f->st.msg, "velafromtap0");
	assert_closed(&f->b);

	f->raw[1] = raw_queue("velafrompi0", IFF_TUN);
	assert_int_equal(tun_open_from_fd(&f->b, f->raw[1], &f->st), -EINVAL);
	assert_has(f->st.msg, "IFF_NO_PI");
	assert_closed(&f->b);
	assert_int_equal(tun_open_from_fd(&f->b, -1, &f->st), -EBADF);
}

/* ---- Diagnosis: why a device cannot be made, and what to do ---------- */

/* What a child saw: tun_open's return and message. */
struct child_result {
	int err;
	char msg[VL_STATUS_MAX];
};

enum child_env {
	CHILD_TUN_IS_DEVNULL, /* /dev/null bind-mounted over /dev/net/tun */
	CHILD_NO_TUN_NODE, /* an empty tmpfs over /dev/net */
	CHILD_NO_NET_ADMIN, /* CAP_NET_ADMIN dropped */
};

/* Drops CAP_NET_ADMIN from every set this process has; 0 or -errno. */
static int drop_net_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0) ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		return -errno;
	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
	d[CAP_NET_ADMIN / 32].permitted &= ~(1u << (CAP_NET_ADMIN % 32));
	d[CAP_NET_ADMIN / 32].inheritable &= ~(1u << (CAP_NET_ADMIN % 32));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * tun_open(@name, @offload) in a child changed by @env, so that neither
 * this process nor the host sees the change: mounts go in a private
 * mount namespace, capabilities die with the child. err is 1 when the
 * child could not set itself up (msg says why).
 */
static void open_in_child(enum child_env env, const char *name, bool offload,
			  struct child_result *r)
{
	struct pollfd pfd;
	int p[2], status;
	pid_t pid;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tun_opts o = { .offload = offload };
		struct child_result cr = { 0 };
		struct tun_dev t;

		close(p[0]);
		if (env != CHILD_NO_NET_ADMIN &&
		    (unshare(CLONE_NEWNS) ||
		     mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))) {
			cr.err = 1;
			snprintf(cr.msg, sizeof(cr.msg), "mount namespace: %s",
				 strerror(errno));
		} else if (env == CHILD_TUN_IS_DEVNULL &&
			   mount("/dev/null", "/dev/net/tun", NULL, MS_BIND,
				 NULL)) {
			cr.err = 1;
			snprintf(cr.msg, sizeof(cr.msg), "bind mount: %s",
				 strerror(errno));
		} else if (env == CHILD_NO_TUN_NODE &&
			   mount("tmpfs", "/dev/net", "tmpfs", 0, "size=4k")) {
			cr.err = 1;
			snprintf(cr.msg, sizeof(cr.msg), "tmpfs: %s",
				 strerror(errno));
		} else if (env == CHILD_NO_NET_ADMIN && drop_net_admin()) {
			cr.err = 1;
			snprintf(cr.msg, sizeof(cr.msg), "capset: %s",
				 strerror(errno));
		} else {
			struct vl_status st = { "" };

			cr.err = tun_open_opts(&t, name, 2, &o, &st);
			memcpy(cr.msg, st.msg, sizeof(cr.msg));
			if (!cr.err)
				tun_close(&t);
		}
		n = write(p[1], &cr, sizeof(cr));
		_exit(n == (ssize_t)sizeof(cr) ? 0 : 1);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (poll(&pfd, 1, WAIT_MS) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(p[0]);
		fail_msg("child did not answer in %d ms", WAIT_MS);
	}
	n = read(p[0], r, sizeof(*r));
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(n, (ssize_t)sizeof(*r));
	r->msg[sizeof(r->msg) - 1] = '\0';
	if (r->err == 1)
		fail_msg("child setup: %s", r->msg);
}

/* /dev/net/tun that is not the TUN node (a bind mount of /dev/null). */
static void test_tun_diag_node_not_tun(void **state)
{
	struct child_result r;

	(void)state;
	open_in_child(CHILD_TUN_IS_DEVNULL, "velanode0", false, &r);
	assert_int_equal(r.err, -ENOTTY);
	assert_has(r.msg,
		   "tun velanode0: /dev/net/tun is not the TUN/TAP device");
	assert_has(r.msg, "character device 1:3");
	assert_has(r.msg, "mknod -m 0666 /dev/net/tun c 10 200");
	assert_has(r.msg, "--device /dev/net/tun");
	/* With offloads asked for: the same, not a fallback to plain. */
	open_in_child(CHILD_TUN_IS_DEVNULL, "velanode0", true, &r);
	assert_int_equal(r.err, -ENOTTY);
	assert_has(r.msg, "is not the TUN/TAP device");
	assert_no_device("velanode0");
}

static void test_tun_diag_no_node(void **state)
{
	struct child_result r;

	(void)state;
	open_in_child(CHILD_NO_TUN_NODE, "velanode1", false, &r);
	assert_int_equal(r.err, -ENOENT);
	assert_has(r.msg, "tun velanode1: no /dev/net/tun");
	assert_has(r.msg, "modprobe tun");
	assert_has(r.msg, "mknod");
	assert_no_device("velanode1");
}

static void test_tun_diag_no_net_admin(void **state)
{
	struct child_result r;

	(void)state;
	open_in_child(CHILD_NO_NET_ADMIN, "velacap0", false, &r);
	assert_int_equal(r.err, -EPERM);
	assert_has(r.msg, "tun velacap0: not permitted to create or attach it");
	assert_has(r.msg, "needs CAP_NET_ADMIN");
	open_in_child(CHILD_NO_NET_ADMIN, "velacap0", true, &r);
	assert_int_equal(r.err, -EPERM);
	assert_has(r.msg, "CAP_NET_ADMIN");
	assert_no_device("velacap0");
}

/* The name held by a veth (no dummy module here): not a TUN at all. */
static void test_tun_diag_name_veth(void **state)
{
	struct fx *f = *state;
	char out[OUT_MAX];

	run(out, sizeof(out),
	    "ip link add velaveth0 type veth peer name velaveth1 2>&1");
	if (!if_nametoindex("velaveth0"))
		fail_msg("ip link add veth: %s", out);
	assert_int_equal(tun_open(&f->a, "velaveth0", 2, &f->st), -EEXIST);
	assert_has(
		f->st.msg,
		"tun velaveth0: the name belongs to a device that is not a TUN (kind veth)");
	assert_has(
		f->st.msg,
		"choose another tun.dev, or delete it (ip link del velaveth0)");
	assert_closed(&f->a);
	run(out, sizeof(out), "ip link del velaveth0 2>&1");
}

/* A persistent single-queue TUN of that name: a queue mismatch. */
static void test_tun_diag_persistent_single_queue(void **state)
{
	struct fx *f = *state;
	struct tun_opts o = { .offload = true };
	char out[OUT_MAX];
	int fd;

	fd = raw_queue("velasqp0", IFF_TUN | IFF_NO_PI);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
	assert_int_equal(tun_open(&f->a, "velasqp0", 2, &f->st), -EEXIST);
	assert_has(f->st.msg,
		   "tun velasqp0: the name belongs to a single-queue TUN");
	assert_has(f->st.msg, "ip tuntap del dev velasqp0 mode tun");
	assert_has(f->st.msg, "multi_queue");
	assert_int_equal(tun_open_opts(&f->a, "velasqp0", 1, &o, &f->st),
			 -EEXIST);
	assert_has(f->st.msg, "single-queue");
	assert_closed(&f->a);
	/* Left as it was: still there, still persistent. */
	run(out, sizeof(out), "ip -d -j link show dev velasqp0");
	assert_has(out, "\"persist\":true");
	run(out, sizeof(out), "ip tuntap del dev velasqp0 mode tun 2>&1");
	assert_no_device("velasqp0");
}

/* ---- Several handed-over queues (tun_open_from_fds) ------------------- */

static void test_tun_open_from_fds(void **state)
{
	struct fx *f = *state;
	int fds[3], q;

	for (q = 0; q < 3; q++)
		fds[q] = raw_queue("velafds0",
				   IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE);
	/* Two of three: the third stays ours, and the device says 3. */
	if (tun_open_from_fds(&f->a, fds, 2, &f->st))
		fail_msg("tun_open_from_fds: %s", f->st.msg);
	assert_string_equal(f->a.name, "velafds0");
	assert_int_equal(f->a.n_queues, 2);
	assert_int_equal(f->a.fds[0], fds[0]);
	assert_int_equal(f->a.fds[1], fds[1]);
	assert_int_equal(f->a.fds[2], -1);
	assert_int_equal(f->a.dev_queues, 3);
	assert_false(f->a.vnet);
	assert_true(fcntl(fds[1], F_GETFL) & O_NONBLOCK);
	tun_close(&f->a);
	assert_int_equal(fcntl(fds[0], F_GETFD), -1);
	close(fds[2]); /* the last queue: the device goes */
	assert_no_device("velafds0");
}

static void test_tun_open_from_fds_errors(void **state)
{
	struct fx *f = *state;
	int fds[3], other, dupd, nul;

	fds[0] = raw_queue("velafdsa0", IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE);
	fds[1] = raw_queue("velafdsa0", IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE);
	other = raw_queue("velafdsb0", IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE);
	f->raw[0] = fds[0];
	f->raw[1] = fds[1];

	fds[2] = other;
	assert_int_equal(tun_open_from_fds(&f->a, fds, 3, &f->st), -EXDEV);
	assert_has(f->st.msg, "is a queue of tun velafdsb0");
	assert_has(f->st.msg, "of tun velafdsa0");
	assert_closed(&f->a);
	/* All still the caller's. */
	assert_true(fcntl(fds[0], F_GETFD) >= 0);
	assert_true(fcntl(other, F_GETFD) >= 0);

	fds[2] = fds[0];
	assert_int_equal(tun_open_from_fds(&f->a, fds, 3, &f->st), -EINVAL);
	assert_has(f->st.msg, "is handed over twice");

	dupd = dup(fds[1]);
	assert_true(dupd >= 0);
	fds[2] = dupd;
	assert_int_equal(tun_open_from_fds(&f->a, fds, 3, &f->st), -EINVAL);
	assert_has(f->st.msg, "one queue (dups of one open file)");
	close(dupd);

	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(nul >= 0);
	fds[2] = nul;
	assert_int_equal(tun_open_from_fds(&f->a, fds, 3, &f->st), -ENOTTY);
	assert_has(f->st.msg, "is not a TUN device");
	close(nul);
	fds[2] = 999;
	assert_int_equal(tun_open_from_fds(&f->a, fds, 3, &f->st), -EBADF);
	assert_has(f->st.msg,
		   "fd 999 is not a TUN device: not an open file descriptor");
	assert_int_equal(tun_open_from_fds(&f->a, fds, 0, &f->st), -EINVAL);
	assert_closed(&f->a);
	assert_true(fcntl(fds[0], F_GETFD) >= 0);
	assert_true(fcntl(fds[1], F_GETFD) >= 0);
	close(other);
}

/* A vnet hand-over: gso_max_segs comes down from the kernel's 65535. */
static void test_tun_open_from_fds_vnet(void **state)
{
	struct fx *f = *state;
	const unsigned int fl = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE |
				IFF_VNET_HDR;
	char out[OUT_MAX], want[32];
	int fds[2];

	fds[0] = raw_queue("velafdsv0", fl);
	fds[1] = raw_queue("velafdsv0", fl);
	if (tun_open_from_fds(&f->a, fds, 2, &f->st)) {
		close(fds[0]);
		close(fds[1]);
		fail_msg("tun_open_from_fds: %s", f->st.msg);
	}
	assert_true(f->a.vnet);
	assert_int_equal(f->a.n_queues, 2);
	assert_int_equal(f->a.gso_max_segs, TUN_GSO_SEGS_DEFAULT);
	assert_has(f->a.offload_msg, "on (as handed over)");
	snprintf(want, sizeof(want), "\"gso_max_segs\":%d",
		 TUN_GSO_SEGS_DEFAULT);
	run(out, sizeof(out), "ip -d -j link show dev velafdsv0");
	assert_has(out, want);
}

/* Reads until the watcher reports a change; false at the deadline. */
static bool watch_change(struct tun_link_watch *w, struct tun_link_state *s,
			 struct vl_status *st)
{
	long end = now_ms() + WAIT_MS;
	struct pollfd pfd = { .fd = tun_link_watch_fd(w), .events = POLLIN };
	int ret;

	while (now_ms() < end) {
		ret = tun_link_watch_read(w, s, st);
		if (ret < 0)
			fail_msg("tun_link_watch_read: %s", st->msg);
		if (ret == 1)
			return true;
		(void)poll(&pfd, 1, (int)(end - now_ms()));
	}
	return false;
}

static void test_tun_link_watch(void **state)
{
	struct fx *f = *state;
	struct tun_link_watch *w = NULL;
	struct tun_link_state s;
	char out[OUT_MAX];
	int other;

	if (tun_open(&f->a, "velawatch0", 1, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	/* Another device's events are filtered out. */
	if (tun_open(&f->b, "velaother0", 1, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	other = f->b.ifindex;
	assert_int_equal(tun_link_watch_open(f->a.ifindex, &w, &f->st), 0);
	assert_non_null(w);
	assert_true(tun_link_watch_fd(w) >= 0);
	assert_int_equal(tun_link_watch_read(w, &s, &f->st), 0);
	assert_true(s.exists && !s.up);
	assert_string_equal(s.name, "velawatch0");

	run(out, sizeof(out), "ip link set dev velaother0 up mtu 1300");
	(void)poll(&(struct pollfd){ .fd = tun_link_watch_fd(w),
				     .events = POLLIN },
		   1, 200);
	assert_int_equal(tun_link_watch_read(w, &s, &f->st), 0);
	assert_int_not_equal(other, s.ifindex);

	run(out, sizeof(out), "ip link set dev velawatch0 up");
	assert_true(watch_change(w, &s, &f->st));
	assert_true(s.exists && s.up);
	if (!s.running) /* carrier follows in a second event */
		assert_true(watch_change(w, &s, &f->st) && s.running);

	run(out, sizeof(out), "ip link set dev velawatch0 down");
	assert_true(watch_change(w, &s, &f->st));
	assert_true(s.exists && !s.up && !s.running);

	run(out, sizeof(out), "ip link set dev velawatch0 mtu 1400");
	assert_true(watch_change(w, &s, &f->st));
	assert_int_equal(s.mtu, 1400);
	if (tun_mtu_set(&f->a, 1350, &f->st))
		fail_msg("tun_mtu_set: %s", f->st.msg);
	assert_true(watch_change(w, &s, &f->st));
	assert_int_equal(s.mtu, 1350);

	tun_close(&f->a); /* last queue: the device goes */
	assert_true(watch_change(w, &s, &f->st));
	assert_false(s.exists);
	assert_int_equal(tun_link_watch_read(w, &s, &f->st), 0);
	tun_link_watch_close(w);

	assert_int_equal(tun_link_watch_open(99999, &w, &f->st), -ENODEV);
	assert_null(w);
	tun_link_watch_close(NULL);
}

/* Lost events: a tiny receive buffer overflows, the state is re-read. */
static void test_tun_link_watch_resync(void **state)
{
	struct fx *f = *state;
	struct tun_link_watch *w = NULL;
	struct tun_link_state s;
	int small = 1, i, ret;

	if (tun_open(&f->a, "velaresync0", 1, &f->st))
		fail_msg("tun_open: %s", f->st.msg);
	assert_int_equal(tun_link_watch_open(f->a.ifindex, &w, &f->st), 0);
	/* The kernel rounds it up to its minimum (about 2 KiB). */
	assert_int_equal(setsockopt(tun_link_watch_fd(w), SOL_SOCKET,
				    SO_RCVBUFFORCE, &small, sizeof(small)),
			 0);
	for (i = 0; i < 40; i++)
		assert_int_equal(tun_mtu_set(&f->a, 1300 + i, &f->st), 0);
	ret = tun_link_watch_read(w, &s, &f->st);
	if (ret < 0)
		fail_msg("tun_link_watch_read: %s", f->st.msg);
	assert_int_equal(ret, 1);
	assert_int_equal(s.mtu, 1339);
	assert_int_equal(tun_link_watch_read(w, &s, &f->st), 0);
	tun_link_watch_close(w);
}

/* Private netns with lo up; IPv6 off so no router solicitations appear. */
static int netns_enter(void)
{
	struct vl_status st = { "" };
	struct tun_nl_conn nl;
	int err;

	if (unshare(CLONE_NEWNET)) {
		printf("SKIP: test_tun_mq: unshare(CLONE_NEWNET): %s\n",
		       strerror(errno));
		return 77;
	}
	if (access("/dev/net/tun", R_OK | W_OK)) {
		printf("SKIP: test_tun_mq: /dev/net/tun: %s\n",
		       strerror(errno));
		return 77;
	}
	(void)sysctl_set("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (sysctl_set("/proc/sys/net/ipv4/conf/all/rp_filter", "0") ||
	    sysctl_set("/proc/sys/net/ipv4/conf/default/rp_filter", "0")) {
		printf("test_tun_mq: cannot turn rp_filter off\n");
		return 1;
	}
	err = tun_nl_open(&nl, &st);
	if (!err)
		err = tun_nl_link_set(&nl, (int)if_nametoindex("lo"), -1, -1, 1,
				  &st);
	tun_nl_close(&nl);
	if (err) {
		printf("test_tun_mq: lo up: %s\n", st.msg);
		return 1;
	}
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_tun_open_kernel_name),
		T(test_tun_open_name_template),
		T(test_tun_open_queues),
		T(test_tun_configure),
		T(test_tun_configure_errors),
		T(test_tun_route_add),
		T(test_tun_route_errors),
		T(test_tun_read_udp),
		T(test_tun_read_burst_bounded),
		T(test_tun_read_drops_cut_packet),
		T(test_tun_write_udp),
		T(test_tun_write_skips_bad_packet),
		T(test_tun_offload_read_uso),
		T(test_tun_offload_write_coalesced),
		T(test_tun_open_busy_name),
		T(test_tun_open_wrong_device),
		T(test_tun_open_attach_persistent),
		T(test_tun_open_bad_args),
		T(test_tun_open_failure_closes_queues),
		T(test_tun_close_removes_device),
		T(test_tun_netlink_errors),
		T(test_tun_mtu_set_get),
		T(test_tun_open_from_fd),
		T(test_tun_open_from_fd_vnet),
		T(test_tun_open_from_fd_errors),
		T(test_tun_link_watch),
		T(test_tun_link_watch_resync),
		T(test_tun_diag_node_not_tun),
		T(test_tun_diag_no_node),
		T(test_tun_diag_no_net_admin),
		T(test_tun_diag_name_veth),
		T(test_tun_diag_persistent_single_queue),
		T(test_tun_open_from_fds),
		T(test_tun_open_from_fds_errors),
		T(test_tun_open_from_fds_vnet),
	};
	int ret;

	if (geteuid() != 0) {
		printf("SKIP: test_tun_mq needs root (CAP_NET_ADMIN)\n");
		return 77;
	}
	ret = netns_enter();
	if (ret)
		return ret;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
