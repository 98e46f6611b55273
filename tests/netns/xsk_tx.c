/* SPDX-License-Identifier: MIT */
/*
 * The xsk port's send path on a real interface, with the next-hop table
 * nexthop.c resolves from the kernel (the script adds the neighbour; the
 * entry must carry SRC_MAC and DST_MAC): sends COUNT datagrams through the
 * TX ring to an echo server and waits for the echoes, which come back
 * through the RX ring. The
 * receiving kernel checks what we built (IPv4 header checksum, IPv6 UDP
 * checksum); an echo proves it passed.
 *
 *   xsk_tx IFNAME MODE SRC DST DST_PORT SRC_MAC DST_MAC COUNT
 *
 * MODE: native, generic or auto. SRC and DST: both IPv4 or both IPv6.
 * Exit 0 when every echo came back, every datagram left on the ring (none
 * through the kernel socket) and the frame accounting balances, with
 * nothing in flight at the end. Needs root.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nexthop.h"
#include "port.h"
#include "status.h"
#include "xdp_steer.h"

static int parse_addr(const char *s, struct in6_addr *a)
{
	struct in_addr v4;

	if (inet_pton(AF_INET6, s, a) == 1)
		return 0;
	if (inet_pton(AF_INET, s, &v4) != 1)
		return -1;
	memset(a, 0, sizeof(*a));
	a->s6_addr[10] = 0xff;
	a->s6_addr[11] = 0xff;
	memcpy(&a->s6_addr[12], &v4, 4);
	return 0;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The table nexthop.c resolves for @want on @ifname, waited for (bounded);
 * NULL after printing why.
 */
static struct dp_nh_table *resolve(const char *ifname,
				   const struct in6_addr *src,
				   const struct in6_addr *want,
				   struct dp_nh **nh)
{
	struct dp_nh_table *t = NULL, *nt;
	uint64_t deadline = now_ms() + 3000;
	struct vl_status st = { "" };
	int err;

	if (dp_nh_open((int)if_nametoindex(ifname), src, nh, &st)) {
		fprintf(stderr, "xsk_tx: next hops: %s\n", st.msg);
		return NULL;
	}
	dp_nh_want(*nh, want);
	while (!dp_nh_lookup(t, want) && now_ms() < deadline) {
		nt = dp_nh_process(*nh, &err, &st);
		if (err) {
			fprintf(stderr, "xsk_tx: next hops: %s\n", st.msg);
			break;
		}
		if (nt) {
			dp_nh_table_free(t);
			t = nt;
		} else {
			poll(&(struct pollfd){ .fd = dp_nh_fd(*nh),
					       .events = POLLIN },
			     1, 50);
		}
	}
	if (!dp_nh_lookup(t, want)) {
		fprintf(stderr, "xsk_tx: no next hop resolved for the peer\n");
		dp_nh_table_free(t);
		return NULL;
	}
	return t;
}

int main(int argc, char **argv)
{
	static _Atomic(struct dp_nh_table *) published;
	struct dp_nh_entry want = { 0 };
	const struct dp_nh_entry *got;
	struct dp_nh_table *table;
	struct dp_nh *nh = NULL;
	static uint8_t bufs[64][128];
	struct dp_port_cfg cfg = { .queue = 0, .n_queues = 1 };
	enum dp_xdp_mode mode = DP_XDP_AUTO;
	struct dp_pkt pkts[64];
	struct dp_port_frames f;
	unsigned int count, sent = 0, echoed = 0;
	struct dp_port *port;
	struct dp_xdp *xdp;
	struct vl_status st;
	uint64_t deadline;
	int rc = 1;

	if (argc != 9) {
		fprintf(stderr,
			"usage: xsk_tx IFNAME native|generic|auto SRC DST DST_PORT SRC_MAC DST_MAC COUNT\n");
		return 64;
	}
	if (!strcmp(argv[2], "native"))
		mode = DP_XDP_NATIVE;
	else if (!strcmp(argv[2], "generic"))
		mode = DP_XDP_GENERIC;
	if (parse_addr(argv[3], &want.src) || parse_addr(argv[4], &want.dst) ||
	    parse_mac(argv[6], want.src_mac) ||
	    parse_mac(argv[7], want.dst_mac)) {
		fprintf(stderr, "xsk_tx: bad address\n");
		return 64;
	}
	count = (unsigned int)atoi(argv[8]);
	table = resolve(argv[1], &want.src, &want.dst, &nh);
	if (!table) {
		dp_nh_close(nh);
		return 1;
	}
	got = dp_nh_lookup(table, &want.dst);
	if (memcmp(got->src_mac, want.src_mac, 6) ||
	    memcmp(got->dst_mac, want.dst_mac, 6) ||
	    memcmp(&got->src, &want.src, sizeof(want.src))) {
		fprintf(stderr, "xsk_tx: the next hop has other MACs or source than the link\n");
		goto free_nh;
	}
	atomic_init(&published, table);

	cfg.listen.sin6_family = AF_INET6;
	cfg.listen.sin6_addr = want.src;
	cfg.ifname = argv[1];
	cfg.nh_table = &published;
	if (dp_port_xsk_open(&cfg, &port, &st)) {
		fprintf(stderr, "xsk_tx: %s\n", st.msg);
		goto free_nh;
	}
	printf("%s\n", dp_port_info(port));
	if (dp_xdp_attach(argv[1], dp_port_local_port(port), &want.src, mode,
			  &xdp, &st)) {
		fprintf(stderr, "xsk_tx: %s\n", st.msg);
		dp_port_close(port);
		goto free_nh;
	}
	dp_xdp_set_xsk(xdp, 0, dp_port_xsk_fd(port));

	deadline = now_ms() + 5000;
	while (echoed < count && now_ms() < deadline) {
		struct pollfd fds[DP_PORT_FDS_MAX];
		unsigned int n = 0, k;

		/* A window of 32 outstanding, so no echo is lost to a queue. */
		while (sent < count && sent - echoed < 32 && n < 64) {
			int len = snprintf((char *)bufs[n], sizeof(bufs[n]),
					   "xsk-tx %u", sent);

			pkts[n] = (struct dp_pkt){ .data = bufs[n],
						   .len = (uint32_t)len };
			pkts[n].addr.sin6_family = AF_INET6;
			pkts[n].addr.sin6_addr = want.dst;
			pkts[n].addr.sin6_port = htons((uint16_t)atoi(argv[5]));
			n++;
			sent++;
		}
		if (n) {
			k = dp_port_tx_burst(port, pkts, n);
			if (k < n)
				sent -= n - k;
		}
		k = dp_port_rx_burst(port, pkts, 64);
		for (unsigned int i = 0; i < k; i++)
			if (pkts[i].len > 7 &&
			    !memcmp(pkts[i].data, "xsk-tx ", 7))
				echoed++;
		if (!k && !n) {
			unsigned int nf =
				dp_port_poll_fds(port, fds, DP_PORT_FDS_MAX);

			poll(fds, nf, 50);
		}
	}
	dp_port_rx_burst(port, pkts, 0); /* gives the last frames back */
	dp_port_reclaim(port);
	dp_port_frames(port, &f);
	{
		const struct dp_port_stats *s = dp_port_stats(port);

		printf("sent %u, echoed %u; port tx %llu (kernel %llu, ring full %llu, kicks %llu), rx %llu (kernel %llu, bad %llu/%llu/%llu)\n",
		       sent, echoed, (unsigned long long)s->tx_packets,
		       (unsigned long long)s->tx_kernel,
		       (unsigned long long)s->tx_ring_full,
		       (unsigned long long)s->tx_kicks,
		       (unsigned long long)s->rx_packets,
		       (unsigned long long)s->rx_kernel,
		       (unsigned long long)s->rx_bad_l2,
		       (unsigned long long)s->rx_bad_l3,
		       (unsigned long long)s->rx_bad_l4);
		printf("frames: free %u fill %u held %u in flight %u of %u\n",
		       f.free, f.fill, f.held, f.in_flight, f.total);
		if (echoed == count && !s->tx_kernel &&
		    s->tx_packets == count && s->rx_packets > s->rx_kernel &&
		    f.free + f.fill + f.held + f.in_flight == f.total &&
		    !f.in_flight && !f.held)
			rc = 0;
	}
	dp_xdp_clear_xsk(xdp, 0);
	dp_port_close(port);
	dp_xdp_detach(xdp);
	printf("%s\n", rc ? "FAIL" : "ok");
free_nh:
	dp_nh_table_free(table);
	dp_nh_close(nh);
	return rc;
}
