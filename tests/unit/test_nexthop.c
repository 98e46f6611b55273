/* SPDX-License-Identifier: MIT */
/*
 * The next-hop mirror (dataplane/nexthop.c) against the real kernel. Needs
 * root (CAP_NET_ADMIN); without it the test is skipped (77).
 *
 *   this process, own netns (unshare)        peer netns (a forked child)
 *
 *   vA0 10.1.0.1/24 fd01::1/64  <--veth-->   vB0 02:bb:00:00:00:02
 *       02:aa:00:00:00:01                        (10.1.0.2 when it answers ARP)
 *   vA1 10.2.0.1/24 fd02::1/64  <--veth-->   vB1
 *
 *   gateways on vA0, static neighbours only: 10.1.0.254, 10.1.0.253,
 *   fe80::fe, fe80::fd (02:cc:...)
 *
 * main() moves the process into a private network namespace, and each
 * case forks a child holding a second one for the veth peers; the child
 * exits when its pipe closes, so a crashed run leaves nothing behind and
 * names cannot collide with anyone else's (nothing goes in /run/netns).
 * Everything is set up with iproute2, never through the code under test.
 * Neighbours are static `ip neigh` entries, except in the one case that
 * shows the kernel resolving a real peer. Netlink events are queued before
 * `ip` returns, so draining the socket is enough; the deadlines only
 * bound a failure.
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
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nexthop.h"
#include "status.h"

enum {
	WAIT_MS = 3000, /* for what must come (ARP with a real peer) */
	DRAIN_MAX = 64, /* dp_nh_process calls per drain */
	OUT_MAX = 4096,
	FLOOD = 30000, /* neighbour events, far beyond the event buffer */
};

#define MAC_A0 "02:aa:00:00:00:01"
#define MAC_B0 "02:bb:00:00:00:02"
#define MAC_G1 "02:cc:00:00:00:fe"
#define MAC_G2 "02:cc:00:00:00:fd"
#define MAC_X "02:dd:00:00:00:01"

struct fx {
	pid_t peer; /* holds the peer namespace */
	int hold; /* its pipe: closing it ends the child */
	int ifindex; /* vA0 */
	struct dp_nh *nh;
	struct dp_nh_table *t; /* the last table process() returned */
	unsigned int n_tables;
	struct vl_status st;
};

/* ---- helpers ------------------------------------------------------------ */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs a shell command; its output on failure. */
__attribute__((format(printf, 1, 2))) static void sh(const char *fmt, ...)
{
	char cmd[512], out[OUT_MAX];
	size_t len = 0;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (len + 1 < sizeof(out)) {
		size_t n = fread(out + len, 1, sizeof(out) - 1 - len, p);

		if (!n)
			break;
		len += n;
	}
	out[len] = '\0';
	if (pclose(p) != 0)
		fail_msg("%s failed: %s", cmd, out);
}

/* The same in the peer's namespace. */
__attribute__((format(printf, 2, 3))) static void sh_peer(const struct fx *f,
							  const char *fmt, ...)
{
	char cmd[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	sh("nsenter -t %d -n %s", (int)f->peer, cmd);
}

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

/* "10.1.0.2" (v4-mapped) or "fd01::2". */
static struct in6_addr ip(const char *s)
{
	struct in6_addr a;
	struct in_addr a4;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a4) == 1) {
		a.s6_addr[10] = 0xff;
		a.s6_addr[11] = 0xff;
		memcpy(a.s6_addr + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, s, &a) != 1) {
		fail_msg("bad address %s", s);
	}
	return a;
}

static void fmt_mac(char *out, size_t size, const uint8_t *mac)
{
	snprintf(out, size, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
}

static void fmt_ip(char *out, size_t size, const struct in6_addr *a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(a->s6_addr, prefix, 12))
		inet_ntop(AF_INET, a->s6_addr + 12, out, (socklen_t)size);
	else
		inet_ntop(AF_INET6, a, out, (socklen_t)size);
}

/* One dp_nh_process(); a new table replaces the old one (no workers). */
static bool step(struct fx *f)
{
	struct dp_nh_table *t;
	int err = 1;

	t = dp_nh_process(f->nh, &err, &f->st);
	if (err)
		fail_msg("dp_nh_process: %s (%d)", f->st.msg, err);
	if (!t)
		return false;
	dp_nh_table_free(f->t);
	f->t = t;
	f->n_tables++;
	return true;
}

/* Processes until the event socket is empty. */
static void drain(struct fx *f)
{
	struct pollfd pfd = { .fd = dp_nh_fd(f->nh), .events = POLLIN };
	unsigned int i;

	for (i = 0; i < DRAIN_MAX; i++) {
		step(f);
		if (poll(&pfd, 1, 0) == 0)
			return;
	}
	fail_msg("event socket still readable after %d calls", DRAIN_MAX);
}

/*
 * Waits (processing) until @dst has an entry whose next hop is @mac, or,
 * with @mac NULL, has none. Returns the entry.
 */
static const struct dp_nh_entry *wait_entry(struct fx *f, const char *dst,
					    const char *mac)
{
	struct pollfd pfd = { .fd = dp_nh_fd(f->nh), .events = POLLIN };
	long deadline = now_ms() + WAIT_MS;
	struct in6_addr a = ip(dst);
	char have[32];

	for (;;) {
		const struct dp_nh_entry *e;

		step(f);
		e = dp_nh_lookup(f->t, &a);
		if (e)
			fmt_mac(have, sizeof(have), e->dst_mac);
		if (mac ? e && !strcmp(have, mac) : !e)
			return e;
		if (now_ms() > deadline)
			fail_msg("%s: want %s, have %s", dst,
				 mac ? mac : "no entry", e ? have : "no entry");
		(void)poll(&pfd, 1, 20);
	}
}

static void want(struct fx *f, const char *dst)
{
	struct in6_addr a = ip(dst);

	dp_nh_want(f->nh, &a);
}

static void assert_src(const struct dp_nh_entry *e, const char *src)
{
	char have[INET6_ADDRSTRLEN];

	fmt_ip(have, sizeof(have), &e->src);
	assert_string_equal(have, src);
}

static void assert_mac(const uint8_t *mac, const char *want)
{
	char have[32];

	fmt_mac(have, sizeof(have), mac);
	assert_string_equal(have, want);
}

/* The entry for @dst in the current table, or NULL. */
static const struct dp_nh_entry *find(struct fx *f, const char *dst)
{
	struct in6_addr a = ip(dst);

	return dp_nh_lookup(f->t, &a);
}

static void assert_absent(struct fx *f, const char *dst)
{
	if (find(f, dst))
		fail_msg("%s has an entry", dst);
}

/* ---- fixture ------------------------------------------------------------ */

static void peer_start(struct fx *f)
{
	int ready[2], hold[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWNET))
			_exit(1);
		(void)sysctl_set("/proc/sys/net/ipv6/conf/default/accept_dad",
				 "0");
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	f->peer = pid;
	f->hold = hold[1];
	if (read(ready[0], &c, 1) != 1)
		fail_msg("peer namespace did not start");
	close(ready[0]);
}

static void peer_stop(struct fx *f)
{
	int status;

	if (f->peer <= 0)
		return;
	close(f->hold);
	while (waitpid(f->peer, &status, 0) < 0 && errno == EINTR)
		;
	f->peer = 0;
}

static int fx_setup(void **state)
{
	struct fx *f = test_calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	peer_start(f);
	sh("ip link add vA0 type veth peer name vB0 netns %d", (int)f->peer);
	sh("ip link add vA1 type veth peer name vB1 netns %d", (int)f->peer);
	sh("ip link set vA0 address " MAC_A0);
	sh("ip addr add 10.1.0.1/24 dev vA0");
	sh("ip addr add fd01::1/64 dev vA0 nodad");
	sh("ip addr add 10.2.0.1/24 dev vA1");
	sh("ip addr add fd02::1/64 dev vA1 nodad");
	sh("ip link set vA0 up");
	sh("ip link set vA1 up");
	sh_peer(f, "ip link set vB0 address " MAC_B0);
	sh_peer(f, "ip link set vB0 up");
	sh_peer(f, "ip link set vB1 up");
	f->ifindex = (int)if_nametoindex("vA0");
	assert_true(f->ifindex > 0);
	return 0;
}

/*
 * Runs after failed cases too. Links are deleted here, not left to the
 * peer namespace's end, which the kernel finishes asynchronously.
 */
static int fx_teardown(void **state)
{
	struct fx *f = *state;

	dp_nh_table_free(f->t);
	dp_nh_close(f->nh);
	(void)system(
		"ip link del vA0 2>/dev/null; ip link del vA1 2>/dev/null");
	peer_stop(f);
	test_free(f);
	return 0;
}

static void open_nh(struct fx *f, const char *src)
{
	struct in6_addr a;
	int err;

	memset(&a, 0, sizeof(a));
	if (src)
		a = ip(src);
	err = dp_nh_open(f->ifindex, &a, &f->nh, &f->st);
	if (err)
		fail_msg("dp_nh_open: %s (%d)", f->st.msg, err);
}

/* ---- cases -------------------------------------------------------------- */

/* (a) A peer on the link: a miss until its neighbour entry exists. */
static void test_nexthop_on_link(void **state)
{
	struct fx *f = *state;
	char dst[INET6_ADDRSTRLEN];
	const struct dp_nh_entry *e;
	unsigned int n;

	open_nh(f, NULL);
	want(f, "10.1.0.2");
	drain(f);
	assert_null(f->t); /* nothing resolved yet: no table at all */
	assert_absent(f, "10.1.0.2");

	sh("ip neigh replace 10.1.0.2 lladdr " MAC_B0 " dev vA0 nud reachable");
	e = wait_entry(f, "10.1.0.2", MAC_B0);
	assert_src(e, "10.1.0.1");
	assert_mac(e->src_mac, MAC_A0);
	assert_int_equal(e->mtu, 1500);
	assert_int_equal(e->vlan, 0);
	assert_ptr_equal(find(f, "10.1.0.2"), e);
	fmt_ip(dst, sizeof(dst), &e->dst);
	assert_string_equal(dst, "10.1.0.2");
	assert_int_equal(dp_nh_table_size(f->t), 1);

	/* Wanting it again is free and changes nothing. */
	n = f->n_tables;
	want(f, "10.1.0.2");
	drain(f);
	assert_int_equal(f->n_tables, n);
}

/*
 * What nexthop.h promises a miss leads to: a datagram through the kernel
 * socket makes the kernel resolve the peer (real ARP), and the entry
 * follows with the peer's real MAC.
 */
static void test_nexthop_kernel_resolves(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	const struct dp_nh_entry *e;
	int fd;

	sh_peer(f, "ip addr add 10.1.0.2/24 dev vB0");
	open_nh(f, NULL);
	want(f, "10.1.0.2");
	drain(f);
	assert_absent(f, "10.1.0.2");

	inet_pton(AF_INET, "10.1.0.2", &to.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(
		sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
	close(fd);
	e = wait_entry(f, "10.1.0.2", MAC_B0);
	assert_src(e, "10.1.0.1");
}

/* (b) A peer behind a router: the gateway's MAC, the route's MTU. */
static void test_nexthop_via_gateway(void **state)
{
	struct fx *f = *state;
	const struct dp_nh_entry *e;

	sh("ip route add 10.9.0.0/16 via 10.1.0.254 dev vA0 mtu 1400");
	open_nh(f, NULL);
	want(f, "10.9.1.1");
	drain(f);
	assert_absent(f, "10.9.1.1"); /* the gateway is not resolved */

	sh("ip neigh replace 10.1.0.254 lladdr " MAC_G1
	   " dev vA0 nud permanent");
	e = wait_entry(f, "10.9.1.1", MAC_G1);
	assert_src(e, "10.1.0.1");
	assert_mac(e->src_mac, MAC_A0);
	assert_int_equal(e->mtu, 1400);

	/* A second peer behind the same gateway. */
	want(f, "10.9.2.2");
	e = wait_entry(f, "10.9.2.2", MAC_G1);
	assert_int_equal(dp_nh_table_size(f->t), 2);
}

/* (c) The neighbour changes MAC, goes STALE, FAILED, and away. */
static void test_nexthop_neigh_changes(void **state)
{
	struct fx *f = *state;
	struct dp_nh_table *before;
	unsigned int n;

	open_nh(f, NULL);
	sh("ip neigh replace 10.1.0.2 lladdr " MAC_B0 " dev vA0 nud reachable");
	want(f, "10.1.0.2");
	wait_entry(f, "10.1.0.2", MAC_B0);

	before = f->t;
	sh("ip neigh replace 10.1.0.2 lladdr " MAC_X " dev vA0 nud reachable");
	wait_entry(f, "10.1.0.2", MAC_X);
	assert_ptr_not_equal(f->t, before);

	/* STALE is usable, and the same answer needs no new table. */
	n = f->n_tables;
	sh("ip neigh replace 10.1.0.2 lladdr " MAC_X " dev vA0 nud stale");
	drain(f);
	assert_int_equal(f->n_tables, n);
	wait_entry(f, "10.1.0.2", MAC_X);

	sh("ip neigh replace 10.1.0.2 dev vA0 nud failed");
	wait_entry(f, "10.1.0.2", NULL);

	sh("ip neigh replace 10.1.0.2 lladdr " MAC_B0 " dev vA0 nud reachable");
	wait_entry(f, "10.1.0.2", MAC_B0);
	sh("ip neigh del 10.1.0.2 dev vA0");
	wait_entry(f, "10.1.0.2", NULL);
	assert_int_equal(dp_nh_table_size(f->t), 0);
}

/* (c) The route moves to another gateway, goes, comes back, is overridden. */
static void test_nexthop_route_changes(void **state)
{
	struct fx *f = *state;

	sh("ip neigh replace 10.1.0.254 lladdr " MAC_G1
	   " dev vA0 nud permanent");
	sh("ip neigh replace 10.1.0.253 lladdr " MAC_G2
	   " dev vA0 nud permanent");
	sh("ip route add 10.9.0.0/16 via 10.1.0.254 dev vA0");
	open_nh(f, NULL);
	want(f, "10.9.1.1");
	want(f, "10.9.7.7");
	wait_entry(f, "10.9.1.1", MAC_G1);

	sh("ip route replace 10.9.0.0/16 via 10.1.0.253 dev vA0");
	wait_entry(f, "10.9.1.1", MAC_G2);
	wait_entry(f, "10.9.7.7", MAC_G2);

	sh("ip route del 10.9.0.0/16");
	wait_entry(f, "10.9.1.1", NULL);
	assert_int_equal(dp_nh_table_size(f->t), 0);

	sh("ip route add 10.9.0.0/16 via 10.1.0.254 dev vA0");
	wait_entry(f, "10.9.1.1", MAC_G1);

	/* Longest prefix: only the /24's peer moves. */
	sh("ip route add 10.9.1.0/24 via 10.1.0.253 dev vA0");
	wait_entry(f, "10.9.1.1", MAC_G2);
	wait_entry(f, "10.9.7.7", MAC_G1);
}

/* (c) Our link: MAC, MTU, carrier, admin state, removal. */
static void test_nexthop_link_changes(void **state)
{
	struct fx *f = *state;
	const struct dp_nh_entry *e;

	sh("ip neigh replace 10.1.0.2 lladdr " MAC_B0 " dev vA0 nud permanent");
	sh("ip neigh replace 10.1.0.254 lladdr " MAC_G1
	   " dev vA0 nud permanent");
	sh("ip route add 10.9.0.0/16 via 10.1.0.254 dev vA0");
	open_nh(f, NULL);
	want(f, "10.1.0.2");
	want(f, "10.9.1.1");
	wait_entry(f, "10.1.0.2", MAC_B0);
	wait_entry(f, "10.9.1.1", MAC_G1);

	/* A new MAC: the kernel flushes the link's neighbours, so do we. */
	sh("ip link set vA0 address 02:aa:00:00:00:99");
	wait_entry(f, "10.1.0.2", NULL);
	sh("ip neigh replace 10.1.0.2 lladdr " MAC_B0 " dev vA0 nud permanent");
	e = wait_entry(f, "10.1.0.2", MAC_B0);
	assert_mac(e->src_mac, "02:aa:00:00:00:99");

	sh("ip link set vA0 mtu 1300");
	drain(f);
	e = find(f, "10.1.0.2");
	assert_non_null(e);
	assert_int_equal(e->mtu, 1300);

	/* Carrier lost: the permanent entry stays, ours must go. */
	sh_peer(f, "ip link set vB0 down");
	wait_entry(f, "10.1.0.2", NULL);
	sh_peer(f, "ip link set vB0 up");
	wait_entry(f, "10.1.0.2", MAC_B0);

	sh("ip link set vA0 down");
	wait_entry(f, "10.1.0.2", NULL);
	wait_entry(f, "10.9.1.1", NULL);
	sh("ip link set vA0 up");
	/*
	 * Admin down flushed the neighbours, permanent or not, and IPv4
	 * dropped the route via 10.1.0.254 without an event; up brings
	 * back only the connected route.
	 */
	sh("ip neigh replace 10.1.0.2 lladdr " MAC_B0 " dev vA0 nud permanent");
	sh("ip neigh replace 10.1.0.254 lladdr " MAC_G1
	   " dev vA0 nud permanent");
	wait_entry(f, "10.1.0.2", MAC_B0);
	drain(f);
	assert_absent(f, "10.9.1.1");

	sh("ip link del vA0");
	wait_entry(f, "10.1.0.2", NULL);
	assert_int_equal(dp_nh_table_size(f->t), 0);
}

/* (d) Routed through another interface: absent, also after a move. */
static void test_nexthop_other_interface(void **state)
{
	struct fx *f = *state;

	sh("ip neigh replace 10.1.0.2 lladdr " MAC_B0 " dev vA0 nud permanent");
	sh("ip neigh replace 10.2.0.2 lladdr " MAC_X " dev vA1 nud permanent");
	sh("ip neigh replace 10.2.0.254 lladdr " MAC_G2
	   " dev vA1 nud permanent");
	sh("ip neigh replace 10.1.0.254 lladdr " MAC_G1
	   " dev vA0 nud permanent");
	/* The same addresses known on ours too: only the route keeps them out. */
	sh("ip neigh replace 10.2.0.2 lladdr " MAC_X " dev vA0 nud permanent");
	sh("ip neigh replace 10.2.0.254 lladdr " MAC_G2
	   " dev vA0 nud permanent");
	sh("ip route add 10.9.0.0/16 via 10.2.0.254 dev vA1");
	open_nh(f, NULL);
	want(f, "10.2.0.2");
	want(f, "10.9.1.1");
	want(f, "10.1.0.2");
	wait_entry(f, "10.1.0.2", MAC_B0);
	assert_absent(f, "10.2.0.2");
	assert_absent(f, "10.9.1.1");
	assert_int_equal(dp_nh_table_size(f->t), 1);

	sh("ip route replace 10.9.0.0/16 via 10.1.0.254 dev vA0");
	wait_entry(f, "10.9.1.1", MAC_G1);
	sh("ip route replace 10.9.0.0/16 via 10.2.0.254 dev vA1");
	wait_entry(f, "10.9.1.1", NULL);
	assert_int_equal(dp_nh_table_size(f->t), 1);

	/*
	 * The other interface goes down: IPv4 drops its routes without a
	 * route event, and the covering route through ours takes over.
	 */
	sh("ip route add 10.0.0.0/8 via 10.1.0.254 dev vA0");
	drain(f);
	assert_absent(f, "10.9.1.1");
	sh("ip link set vA1 down");
	wait_entry(f, "10.9.1.1", MAC_G1);
}

/* (e) IPv6: on the link, and via a link-local gateway. */
static void test_nexthop_ipv6(void **state)
{
	struct fx *f = *state;
	const struct dp_nh_entry *e;

	open_nh(f, NULL);
	want(f, "fd01::2");
	drain(f);
	assert_absent(f, "fd01::2");
	sh("ip -6 neigh replace fd01::2 lladdr " MAC_B0
	   " dev vA0 nud reachable");
	e = wait_entry(f, "fd01::2", MAC_B0);
	assert_src(e, "fd01::1");
	assert_mac(e->src_mac, MAC_A0);
	assert_int_equal(e->mtu, 1500);

	sh("ip -6 route add fd09::/64 via fe80::fe dev vA0");
	sh("ip -6 neigh replace fe80::fe lladdr " MAC_G1
	   " dev vA0 nud permanent");
	sh("ip -6 neigh replace fe80::fd lladdr " MAC_G2
	   " dev vA0 nud permanent");
	want(f, "fd09::5");
	e = wait_entry(f, "fd09::5", MAC_G1);
	assert_src(e, "fd01::1");

	sh("ip -6 route replace fd09::/64 via fe80::fd dev vA0");
	wait_entry(f, "fd09::5", MAC_G2);
	sh("ip -6 neigh del fe80::fd dev vA0");
	wait_entry(f, "fd09::5", NULL);
	assert_int_equal(dp_nh_table_size(f->t), 1);
}

/*
 * (f) A bound source wins over the kernel's choice, in its family only.
 * The kernel chooses the primary 10.1.0.1 over the secondary 10.1.0.11,
 * and never the deprecated fd01::11, which may still be bound.
 */
static void test_nexthop_bound_source(void **state)
{
	struct fx *f = *state;
	const struct dp_nh_entry *e;

	sh("ip addr add 10.1.0.11/24 dev vA0");
	sh("ip addr add fd01::11/64 dev vA0 nodad preferred_lft 0");
	sh("ip neigh replace 10.1.0.2 lladdr " MAC_B0 " dev vA0 nud permanent");
	sh("ip -6 neigh replace fd01::2 lladdr " MAC_B0
	   " dev vA0 nud permanent");

	open_nh(f, "10.1.0.11");
	want(f, "10.1.0.2");
	want(f, "fd01::2");
	e = wait_entry(f, "10.1.0.2", MAC_B0);
	assert_src(e, "10.1.0.11");
	e = wait_entry(f, "fd01::2", MAC_B0);
	assert_src(e, "fd01::1"); /* the kernel's: @src is IPv4 */
	dp_nh_table_free(f->t);
	f->t = NULL;
	dp_nh_close(f->nh);
	f->nh = NULL;

	open_nh(f, "fd01::11");
	want(f, "fd01::2");
	e = wait_entry(f, "fd01::2", MAC_B0);
	assert_src(e, "fd01::11");
	dp_nh_table_free(f->t);
	f->t = NULL;
	dp_nh_close(f->nh);

	/* Unbound, for contrast: the kernel's choice. */
	open_nh(f, "0.0.0.0");
	want(f, "10.1.0.2");
	want(f, "fd01::2");
	e = wait_entry(f, "10.1.0.2", MAC_B0);
	assert_src(e, "10.1.0.1");
	e = wait_entry(f, "fd01::2", MAC_B0);
	assert_src(e, "fd01::1");
}

/* Events that change no answer produce no table. */
static void test_nexthop_unrelated_events(void **state)
{
	struct fx *f = *state;
	unsigned int n;

	sh("ip neigh replace 10.1.0.2 lladdr " MAC_B0 " dev vA0 nud reachable");
	open_nh(f, NULL);
	want(f, "10.1.0.2");
	wait_entry(f, "10.1.0.2", MAC_B0);
	n = f->n_tables;

	sh("ip neigh replace 10.2.0.2 lladdr " MAC_X " dev vA1 nud permanent");
	sh("ip neigh replace 10.1.0.3 lladdr " MAC_X " dev vA0 nud permanent");
	sh("ip route add 10.50.0.0/16 via 10.2.0.2 dev vA1");
	sh("ip addr add 10.2.0.9/24 dev vA1");
	sh("ip link set vA1 mtu 1400");
	sh("ip link set vA1 down");
	drain(f);
	assert_int_equal(f->n_tables, n);
	assert_non_null(find(f, "10.1.0.2"));
}

/* Drops of our event socket, from /proc/net/netlink (by inode). */
static unsigned long netlink_drops(int fd)
{
	unsigned long drops = 0, inode, d;
	char line[512];
	struct stat sb;
	FILE *fp;

	assert_int_equal(fstat(fd, &sb), 0);
	fp = fopen("/proc/net/netlink", "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		/* sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode */
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %lu %lu", &d,
			   &inode) == 2 &&
		    inode == (unsigned long)sb.st_ino)
			drops = d;
	}
	fclose(fp);
	return drops;
}

/*
 * Lost events (ENOBUFS): a flood the buffer cannot hold, then the change
 * that matters, whose event is certainly dropped (the buffer is still
 * full). Only reading the state again finds it. An older change of the
 * same neighbour sits in the queue deep behind the first reads: applied
 * after the state was read again, it would bring back a MAC the kernel
 * no longer has, and no later event would correct it.
 */
static void test_nexthop_lost_events(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/vela-nh-flood-XXXXXX";
	FILE *fp;
	int fd;

	sh("ip neigh replace 10.1.0.2 lladdr " MAC_B0 " dev vA0 nud reachable");
	open_nh(f, NULL);
	want(f, "10.1.0.2");
	wait_entry(f, "10.1.0.2", MAC_B0);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	for (unsigned int i = 0; i < FLOOD; i++) {
		if (i == FLOOD / 16)
			fprintf(fp, "neigh replace 10.1.0.2 lladdr " MAC_G2
				    " dev vA0\n");
		fprintf(fp,
			"neigh replace 10.1.0.3 lladdr 02:dd:00:00:00:0%u dev vA0\n",
			i & 1);
	}
	fprintf(fp, "neigh replace 10.1.0.2 lladdr " MAC_X " dev vA0\n");
	fclose(fp);
	sh("ip -batch %s", path);
	unlink(path);
	if (netlink_drops(dp_nh_fd(f->nh)) == 0)
		fail_msg("the flood did not overflow the event socket");
	wait_entry(f, "10.1.0.2", MAC_X);
	drain(f); /* everything queued: still the kernel's MAC */
	assert_mac(find(f, "10.1.0.2")->dst_mac, MAC_X);
}

/* At most DP_NH_WANT_MAX destinations: the oldest go first. */
static void test_nexthop_want_bounded(void **state)
{
	struct fx *f = *state;
	char a[INET_ADDRSTRLEN];
	unsigned int i;

	sh("ip neigh replace 10.1.0.254 lladdr " MAC_G1
	   " dev vA0 nud permanent");
	sh("ip route add 10.128.0.0/9 via 10.1.0.254 dev vA0");
	open_nh(f, NULL);
	for (i = 0; i < DP_NH_WANT_MAX; i++) {
		snprintf(a, sizeof(a), "10.128.%u.%u", i >> 8, i & 255);
		want(f, a);
	}
	drain(f);
	assert_int_equal(dp_nh_table_size(f->t), DP_NH_WANT_MAX);

	/* 100 more: the first 100 leave, everything else is still found. */
	for (i = DP_NH_WANT_MAX; i < DP_NH_WANT_MAX + 100; i++) {
		snprintf(a, sizeof(a), "10.128.%u.%u", i >> 8, i & 255);
		want(f, a);
	}
	drain(f);
	assert_int_equal(dp_nh_table_size(f->t), DP_NH_WANT_MAX);
	for (i = 0; i < DP_NH_WANT_MAX + 100; i++) {
		const struct dp_nh_entry *e;
		struct in6_addr d;

		snprintf(a, sizeof(a), "10.128.%u.%u", i >> 8, i & 255);
		d = ip(a);
		e = dp_nh_lookup(f->t, &d);
		if (i < 100 && e)
			fail_msg("%s should have been evicted", a);
		if (i >= 100 && !e)
			fail_msg("%s is missing", a);
	}

	/* Wanted again, the first comes back and the next oldest goes. */
	want(f, "10.128.0.0");
	drain(f);
	assert_non_null(find(f, "10.128.0.0"));
	assert_null(find(f, "10.128.0.100"));
	assert_non_null(find(f, "10.128.0.101"));
}

static void test_nexthop_open_errors(void **state)
{
	struct fx *f = *state;
	struct in6_addr any;

	memset(&any, 0, sizeof(any));
	assert_int_equal(dp_nh_open(0, &any, &f->nh, &f->st), -EINVAL);
	assert_null(f->nh);
	assert_int_equal(dp_nh_open(1 << 30, &any, &f->nh, &f->st), -ENODEV);
	assert_null(f->nh);
	assert_non_null(strstr(f->st.msg, "next hops"));
	assert_int_equal(dp_nh_open((int)if_nametoindex("lo"), &any, &f->nh,
				    &f->st),
			 -EOPNOTSUPP);
	assert_null(f->nh);
	/* No table, no entry: what a worker sees before the first one. */
	assert_null(dp_nh_lookup(NULL, &any));
	assert_int_equal(dp_nh_table_size(NULL), 0);
}

static int netns_enter(void)
{
	if (unshare(CLONE_NEWNET)) {
		printf("SKIP: test_nexthop: unshare(CLONE_NEWNET): %s\n",
		       strerror(errno));
		return 77;
	}
	if (system("ip link set lo up && command -v nsenter >/dev/null") != 0) {
		printf("SKIP: test_nexthop: needs iproute2 and nsenter\n");
		return 77;
	}
	/* Addresses usable at once: no duplicate address detection. */
	(void)sysctl_set("/proc/sys/net/ipv6/conf/default/accept_dad", "0");
	(void)sysctl_set("/proc/sys/net/ipv6/conf/all/accept_dad", "0");
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_nexthop_on_link),
		T(test_nexthop_kernel_resolves),
		T(test_nexthop_via_gateway),
		T(test_nexthop_neigh_changes),
		T(test_nexthop_route_changes),
		T(test_nexthop_link_changes),
		T(test_nexthop_other_interface),
		T(test_nexthop_ipv6),
		T(test_nexthop_bound_source),
		T(test_nexthop_unrelated_events),
		T(test_nexthop_lost_events),
		T(test_nexthop_want_bounded),
		T(test_nexthop_open_errors),
	};
	int ret;

	if (geteuid() != 0) {
		printf("SKIP: test_nexthop needs root (CAP_NET_ADMIN)\n");
		return 77;
	}
	ret = netns_enter();
	if (ret)
		return ret;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
