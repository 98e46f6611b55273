/* SPDX-License-Identifier: MIT */

/*
 * Test helper for tests/netns/xdp_steer.sh: attaches the steering program
 * through the dataplane's loader (dataplane/xdp_steer.c) and binds its own
 * minimal AF_XDP sockets (copy mode, RX only, one UMEM per queue; not the
 * product's port) so the script can see which frames were steered and on
 * which queue.
 *
 *   xsk_probe [-v] attach IFNAME PORT MODE [-a ADDR] [-q QUEUE]... [-t SECONDS]
 *       prints "attached mode=M prog=ID pid=PID", "bound queue=Q" per socket,
 *       then
 *       "ready"; then one line per received frame:
 *           rx queue=Q vlan=100,200|- ip=4|6 dport=P payload=TEXT
 *       and reads commands on stdin, one per line:
 *           counters   print "counters steered=N no_xsk=N ..." and socket stats
 *           clear Q    remove queue Q's socket from the map (frames go to the kernel)
 *           quit       detach, clean up, exit 0 (also on EOF)
 *           crash      exit at once without detaching, as a crash would
 *       On a failed attach it prints "error: <message>" and exits 1; after
 *       -t seconds (default 60) it prints "timeout", detaches and exits 2.
 *   xsk_probe foreign IFNAME
 *       attaches a trivial XDP_PASS program named "foreign_pass" in generic
 *       mode, as some other tool would, and exits leaving it there.
 */

#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#include "log.h"
#include "status.h"
#include "xdp_steer.h"

enum {
	N_FRAMES = 64,
	FRAME_SIZE = XSK_UMEM__DEFAULT_FRAME_SIZE,
	RING_SIZE = 64,
	QUEUES_MAX = 8,
	RX_BATCH = 16,
};

struct probe_q {
	uint32_t queue;
	void *area;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	struct xsk_ring_cons rx;
};

static int usage(void)
{
	fprintf(stderr,
		"usage: xsk_probe [-v] attach IFNAME PORT native|generic|auto "
		"[-a ADDR] [-q QUEUE]... [-t SECONDS]\n"
		"       xsk_probe foreign IFNAME\n");
	return 64;
}

static int q_open(struct probe_q *q, const char *ifname, uint32_t queue)
{
	const struct xsk_umem_config ucfg = {
		.fill_size = RING_SIZE,
		.comp_size = RING_SIZE,
		.frame_size = FRAME_SIZE,
		.frame_headroom = 0,
	};
	const struct xsk_socket_config scfg = {
		.rx_size = RING_SIZE,
		.tx_size = 0,
		/* Our program is attached already; libxdp must not add its own. */
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	uint32_t idx;
	int err;

	q->queue = queue;
	q->area = mmap(NULL, (size_t)N_FRAMES * FRAME_SIZE,
		       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		return -errno;
	}
	err = xsk_umem__create(&q->umem, q->area,
			       (uint64_t)N_FRAMES * FRAME_SIZE, &q->fill,
			       &q->comp, &ucfg);
	if (err)
		return err;
	err = xsk_socket__create(&q->xsk, ifname, queue, q->umem, &q->rx, NULL,
				 &scfg);
	if (err)
		return err;
	/* The whole fill ring up front; frames come back after each read. */
	if (xsk_ring_prod__reserve(&q->fill, N_FRAMES, &idx) != N_FRAMES)
		return -ENOSPC;
	for (uint32_t i = 0; i < N_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) =
			(uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&q->fill, N_FRAMES);
	return 0;
}

static void q_close(struct probe_q *q)
{
	xsk_socket__delete(q->xsk);
	if (q->umem)
		xsk_umem__delete(q->umem);
	if (q->area)
		munmap(q->area, (size_t)N_FRAMES * FRAME_SIZE);
}

/* One line describing a frame the steering program sent us. */
static void print_frame(uint32_t queue, const uint8_t *p, uint32_t len)
{
	char vlans[32] = "-", payload[64];
	size_t off = ETH_HLEN, vl = 0, n;
	uint16_t proto, dport = 0;
	int ip = 0;

	if (len < ETH_HLEN)
		goto out;
	proto = (uint16_t)(p[12] << 8 | p[13]);
	while ((proto == ETH_P_8021Q || proto == ETH_P_8021AD) &&
	       off + 4 <= len) {
		vl += (size_t)snprintf(
			vlans + vl, sizeof(vlans) - vl, "%s%u", vl ? "," : "",
			(unsigned int)((p[off] << 8 | p[off + 1]) & 0xfff));
		if (vl >= sizeof(vlans))
			vl = sizeof(vlans) - 1;
		proto = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
		off += 4;
	}
	if (proto == ETH_P_IP && off + 20 <= len) {
		ip = 4;
		off += (size_t)(p[off] & 0xf) * 4;
	} else if (proto == ETH_P_IPV6 && off + 40 <= len) {
		ip = 6;
		off += 40;
	}
	if (ip && off + 8 <= len) {
		dport = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
		off += 8;
	}
out:
	for (n = 0; off < len && n < sizeof(payload) - 1; off++)
		payload[n++] = p[off] > 0x20 && p[off] < 0x7f ? (char)p[off] :
								'.';
	payload[n] = '\0';
	printf("rx queue=%u vlan=%s ip=%d dport=%u payload=%s\n",
	       (unsigned int)queue, vlans, ip, (unsigned int)dport, payload);
}

static void q_drain(struct probe_q *q)
{
	uint32_t idx_rx, idx_fill, n;

	n = xsk_ring_cons__peek(&q->rx, RX_BATCH, &idx_rx);
	if (!n)
		return;
	/* Everything we read goes straight back: the fill ring has room for
	 * all N_FRAMES, so this reserve cannot come up short. */
	if (xsk_ring_prod__reserve(&q->fill, n, &idx_fill) != n) {
		printf("fill ring full\n");
		exit(3);
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct xdp_desc *d =
			xsk_ring_cons__rx_desc(&q->rx, idx_rx + i);
		uint64_t addr = xsk_umem__extract_addr(d->addr);

		print_frame(q->queue, xsk_umem__get_data(q->area, d->addr),
			    d->len);
		*xsk_ring_prod__fill_addr(&q->fill, idx_fill + i) =
			addr - addr % FRAME_SIZE;
	}
	xsk_ring_prod__submit(&q->fill, n);
	xsk_ring_cons__release(&q->rx, n);
	fflush(stdout);
}

static void print_counters(const struct dp_xdp *x, const struct probe_q *qs,
			   unsigned int n_q)
{
	struct dp_xdp_counters c;
	int err = dp_xdp_counters(x, &c);

	if (err) {
		printf("counters error=%s\n", strerror(-err));
		return;
	}
	printf("counters");
	for (int i = 0; i < DP_XDP_COUNTERS; i++)
		printf(" %s=%llu", dp_xdp_counter_name((enum dp_xdp_counter)i),
		       (unsigned long long)c.packets[i]);
	printf("\n");
	for (unsigned int i = 0; i < n_q; i++) {
		struct xdp_statistics s;
		socklen_t len = sizeof(s);

		if (getsockopt(xsk_socket__fd(qs[i].xsk), SOL_XDP,
			       XDP_STATISTICS, &s, &len))
			continue;
		printf("xsk queue=%u rx_dropped=%llu rx_ring_full=%llu "
		       "fill_empty=%llu\n",
		       (unsigned int)qs[i].queue,
		       (unsigned long long)s.rx_dropped,
		       (unsigned long long)s.rx_ring_full,
		       (unsigned long long)s.rx_fill_ring_empty_descs);
	}
}

static int parse_mode(const char *s, enum dp_xdp_mode *mode)
{
	if (!strcmp(s, "native"))
		*mode = DP_XDP_NATIVE;
	else if (!strcmp(s, "generic"))
		*mode = DP_XDP_GENERIC;
	else if (!strcmp(s, "auto"))
		*mode = DP_XDP_AUTO;
	else
		return -EINVAL;
	return 0;
}

/* Returns false when the probe should stop (quit or EOF). */
static bool command(const char *line, struct dp_xdp *x, struct probe_q *qs,
		    unsigned int n_q)
{
	unsigned int queue;

	if (!strncmp(line, "counters", 8)) {
		print_counters(x, qs, n_q);
	} else if (sscanf(line, "clear %u", &queue) == 1) {
		int err = dp_xdp_clear_xsk(x, queue);

		printf("cleared queue=%u %s\n", queue,
		       err ? strerror(-err) : "ok");
	} else if (!strncmp(line, "crash", 5)) {
		printf("crashing\n");
		fflush(stdout);
		_exit(0); /* no detach: the program stays, the sockets close */
	} else if (!strncmp(line, "quit", 4)) {
		return false;
	} else {
		printf("unknown command: %s\n", line);
	}
	fflush(stdout);
	return true;
}

static int run_attach(int argc, char **argv)
{
	struct probe_q qs[QUEUES_MAX] = { { 0 } };
	struct pollfd pfds[QUEUES_MAX + 1];
	struct vl_status st = { "" };
	struct in6_addr addr, *addrp = NULL;
	enum dp_xdp_mode mode;
	unsigned int n_q = 0;
	struct dp_xdp *x;
	const char *ifname;
	long seconds = 60, port;
	time_t deadline;
	int opt, err, status = 0;
	size_t line_len = 0;
	char line[128];

	if (argc < 4)
		return usage();
	ifname = argv[1];
	port = strtol(argv[2], NULL, 10);
	if (port < 0 || port > 65535 || parse_mode(argv[3], &mode))
		return usage();
	optind = 4;
	while ((opt = getopt(argc, argv, "a:q:t:")) != -1) {
		switch (opt) {
		case 'a':
			if (inet_pton(AF_INET6, optarg, &addr) != 1) {
				struct in_addr a4;

				if (inet_pton(AF_INET, optarg, &a4) != 1)
					return usage();
				memset(&addr, 0, sizeof(addr));
				addr.s6_addr[10] = addr.s6_addr[11] = 0xff;
				memcpy(&addr.s6_addr[12], &a4, 4);
			}
			addrp = &addr;
			break;
		case 'q':
			if (n_q == QUEUES_MAX)
				return usage();
			qs[n_q++].queue = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 't':
			seconds = strtol(optarg, NULL, 10);
			break;
		default:
			return usage();
		}
	}
	if (!n_q)
		qs[n_q++].queue = 0;

	err = dp_xdp_attach(ifname, (uint16_t)port, addrp, mode, &x, &st);
	if (err) {
		printf("error: %s\n", st.msg);
		return 1;
	}
	printf("attached mode=%s prog=%u pid=%d\n",
	       dp_xdp_mode_name(dp_xdp_attached_mode(x)),
	       (unsigned int)dp_xdp_prog_id(x), (int)getpid());
	for (unsigned int i = 0; i < n_q; i++) {
		err = q_open(&qs[i], ifname, qs[i].queue);
		if (!err)
			err = dp_xdp_set_xsk(x, qs[i].queue,
					     xsk_socket__fd(qs[i].xsk));
		if (err) {
			printf("error: AF_XDP socket on queue %u: %s\n",
			       (unsigned int)qs[i].queue, strerror(-err));
			status = 1;
			n_q = i + 1;
			goto close;
		}
		printf("bound queue=%u\n", (unsigned int)qs[i].queue);
	}
	printf("ready\n");
	fflush(stdout);

	deadline = time(NULL) + seconds;
	for (;;) {
		if (time(NULL) >= deadline) {
			printf("timeout\n");
			status = 2;
			break;
		}
		/* The sockets, then stdin. */
		for (unsigned int i = 0; i <= n_q; i++) {
			pfds[i].fd = i < n_q ? xsk_socket__fd(qs[i].xsk) : 0;
			pfds[i].events = POLLIN;
			pfds[i].revents = 0;
		}
		if (poll(pfds, n_q + 1, 100) < 0 && errno != EINTR) {
			status = 1;
			break;
		}
		for (unsigned int i = 0; i < n_q; i++)
			q_drain(&qs[i]);
		if (pfds[n_q].revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(0, line + line_len,
					 sizeof(line) - 1 - line_len);
			char *nl;

			if (r <= 0)
				break; /* EOF: as quit */
			line_len += (size_t)r;
			line[line_len] = '\0';
			/* Whole lines only; stdio would hide buffered ones from poll(). */
			while ((nl = strchr(line, '\n'))) {
				*nl = '\0';
				if (!command(line, x, qs, n_q))
					goto close;
				line_len -= (size_t)(nl + 1 - line);
				memmove(line, nl + 1, line_len + 1);
			}
			if (line_len == sizeof(line) - 1)
				line_len = 0; /* no newline in sight: drop it */
		}
	}
close:
	for (unsigned int i = 0; i < n_q; i++) {
		if (qs[i].xsk)
			dp_xdp_clear_xsk(x, qs[i].queue);
		q_close(&qs[i]);
	}
	dp_xdp_detach(x);
	printf("detached\n");
	fflush(stdout);
	return status;
}

/* Someone else's program: two instructions, r0 = XDP_PASS; exit. */
static int run_foreign(int argc, char **argv)
{
	const struct bpf_insn insns[] = {
		{
			.code = BPF_ALU64 | BPF_MOV | BPF_K,
			.dst_reg = 0,
			.imm = XDP_PASS,
		},
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int ifindex, fd, err;

	if (argc != 2)
		return usage();
	ifindex = (int)if_nametoindex(argv[1]);
	if (!ifindex) {
		perror(argv[1]);
		return 1;
	}
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "foreign_pass", "GPL", insns, 2,
			   NULL);
	if (fd < 0) {
		perror("bpf_prog_load");
		return 1;
	}
	err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_SKB_MODE, NULL);
	if (err) {
		fprintf(stderr, "bpf_xdp_attach: %s\n", strerror(-err));
		return 1;
	}
	printf("foreign attached\n");
	return 0;
}

int main(int argc, char **argv)
{
	bool verbose = argc > 1 && !strcmp(argv[1], "-v");

	if (verbose) {
		argc--;
		argv++;
	}
	vl_log_setup(verbose ? VL_LOG_DEBUG : VL_LOG_INFO, false, true);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "attach"))
		return run_attach(argc - 1, argv + 1);
	if (!strcmp(argv[1], "foreign"))
		return run_foreign(argc - 1, argv + 1);
	return usage();
}
