/* SPDX-License-Identifier: MIT */
/*
 * vela-bench-pipeline: the dataplane's stages in memory, no kernel and no
 * NIC, on one core -- what a worker costs per packet beyond its I/O.
 *
 * Two workers, A (10.1.0.1) and B (10.1.0.2), each with an SA towards the
 * other (keys swapped) published in its own dp_shared table, as
 * tests/unit/test_stages.c sets one up. Per burst:
 *
 *   A: dp_worker_begin + dp_out_burst   inner IPv4/UDP packets to B's VPN IP
 *      in A's TUN buffers: checks, route, SA by VPN IP, counter reservation,
 *      seal in place; the datagrams land in A's to_net
 *   handover                            to_net -> a receive burst with A's
 *      underlay address as the source (what a port's rx would fill in)
 *   B: dp_worker_begin + dp_in_burst    header, SA by index, replay check,
 *      open in place, inner checks (the source must be A's), replay update;
 *      the packets land in B's to_tun
 *
 * Stages: "encrypt" times A's part, "decrypt" B's, "end-to-end" all three
 * as one. The other parts of the burst still run, untimed, so every stage
 * sees the same traffic: B opens in place what A sealed in place, which
 * puts A's plaintext back where A reads it next -- no copies, and counters
 * that move on with every burst, so B's replay window accepts all of it.
 * Every burst must come out whole: A emits one datagram per packet and B
 * delivers every one to to_tun, pointing at A's buffer; at the end both
 * workers' drop counters must be zero and the buffers must hold the
 * original packets. Anything else fails the run.
 *
 * The send counter lives on a lease (sa.h, ctlmsg.h). The bench starts
 * with the lease a new tunnel gets (CTLMSG_LEASE_STEP past its counter)
 * and renews it between bursts, untimed, the way the control thread and
 * vela-control do: when dp_sa_lease_wanted() says so, lease_end moves on
 * by CTLMSG_LEASE_STEP.
 *
 * Firewall: "firewall" times the filter stage alone on A's packets
 * (dp_filter_out: conntrack lookup in the shared flow table, a hit after
 * the first burst, under an allow-all rule set), the part of "encrypt"
 * and "decrypt" that is conntrack's. Every packet must pass.
 *
 * Sizes (-s) are inner IP packet lengths, IPv4 and UDP headers included:
 * what the TUN hands over and what the AEAD seals (vela-bench-aead's
 * payload size); 1420 fills a 1500-byte underlay MTU with Nebula's 60
 * bytes of IPv4, UDP, header and tag.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "aead.h"
#include "flow.h"
#include "fw.h"
#include "fw_any.h"
#include "microbench.h"
#include "status.h"
#include "wire.h"
#include "worker.h"

#define PB_TOOL "vela-bench-pipeline"
#define PB_VPN_A 0x0a010001 /* 10.1.0.1 */
#define PB_VPN_B 0x0a010002 /* 10.1.0.2 */
#define PB_VPN_MASK 0xffff0000
#define PB_INDEX_A 0x0a0a0a0a /* A's local index: B's headers carry it */
#define PB_INDEX_B 0x0b0b0b0b
#define PB_IP_UDP_LEN 28
#define PB_NS_PER_BURST 1000 /* w->now_ns advances this much per burst */

struct pb_node {
	struct dp_worker w; /* first: 64-byte aligned */
	struct dp_shared shared;
	struct dp_sa *sa; /* towards the other node */
	struct dp_fw *fw; /* allow-all: every packet meets conntrack */
	struct sockaddr_in6 addr; /* underlay */
};

struct pb_env {
	struct pb_node a, b;
	unsigned int burst;
	uint32_t ip_len;
	uint32_t lens[DP_BURST_MAX];
	unsigned int n_rx;
	struct dp_pkt rx[DP_BURST_MAX];
	uint8_t *packet; /* the inner packet every TUN buffer starts with */
	uint64_t now_ns;
	uint64_t bursts;
	uint64_t short_out; /* bursts A did not turn wholly into datagrams */
	uint64_t short_in; /* bursts B did not deliver wholly to to_tun */
	uint64_t wrong_buf; /* to_tun entries not where A's packet was */
	uint64_t lease_grants;
};

static const uint8_t pb_key_ab[VL_AEAD_KEY_LEN] = { 0xab, 1, 2, 3, 4, 5 };
static const uint8_t pb_key_ba[VL_AEAD_KEY_LEN] = { 0xba, 6, 7, 8, 9, 10 };

static struct sockaddr_in6 underlay(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port) };
	char mapped[64];

	snprintf(mapped, sizeof(mapped), "::ffff:%s", ip);
	inet_pton(AF_INET6, mapped, &a.sin6_addr);
	return a;
}

/* ---- Setup ------------------------------------------------------------------ */

static int node_init(struct pb_node *n, uint32_t vpn_ip, const char *ip)
{
	struct ctlmsg_setup *s = &n->shared.setup;

	s->vpn = (struct ctlmsg_net){ vpn_ip, PB_VPN_MASK };
	s->n_local_nets = 1;
	s->local_nets[0] = (struct ctlmsg_net){ vpn_ip, 0xffffffff };
	s->send_recv_error = CTLMSG_RECV_ERROR_ALWAYS;
	s->pending_timeout_ms = 1000;
	s->flows_max = 4096;
	s->mtu = DP_PKT_MAX;
	n->addr = underlay(ip, 4242);
	{
		static const struct dp_flow_timeouts to = {
			60000000000ull, 60000000000ull, 60000000000ull
		};
		uint8_t rec[FW_ANY_LEN];
		struct vl_status st = { "" };

		n->shared.flows = dp_flow_table_new(s->flows_max, &to);
		fw_any_build(rec, 1);
		if (!n->shared.flows ||
		    dp_fw_load(rec, FW_ANY_LEN, &n->fw, &st))
			return -ENOMEM;
	}
	return dp_worker_init(&n->w, 0, &n->shared);
}

/*
 * @n's SA towards @peer, as TUNNEL_ADD installs a new tunnel. The message
 * (with room for a certificate) is too big for a stack frame here.
 */
static int node_sa(struct pb_node *n, const struct pb_node *peer,
		   uint32_t local_index, uint32_t remote_index,
		   const uint8_t *send_key, const uint8_t *recv_key)
{
	struct ctlmsg_tunnel_add *m = calloc(1, sizeof(*m));
	struct vl_status st = { "" };
	struct dp_sa_table *t;
	int err;

	if (!m)
		return -ENOMEM;
	m->local_index = local_index;
	m->remote_index = remote_index;
	m->vpn_ip = peer->shared.setup.vpn.ip;
	m->cipher = VL_CIPHER_AES;
	m->remote = peer->addr;
	m->send_counter = WIRE_FIRST_COUNTER - 1;
	m->lease_end = WIRE_FIRST_COUNTER - 1 + CTLMSG_LEASE_STEP;
	m->recv_max = WIRE_FIRST_COUNTER - 1;
	m->n_peer_nets = 1;
	m->peer_nets[0] =
		(struct ctlmsg_net){ peer->shared.setup.vpn.ip, 0xffffffff };
	memcpy(m->send_key, send_key, sizeof(m->send_key));
	memcpy(m->recv_key, recv_key, sizeof(m->recv_key));
	fw_any_peer(&m->fw_peer, "peer");
	err = dp_sa_new(m, &n->sa, &st);
	if (!err) {
		struct dp_fw_peer *view;

		err = dp_fw_peer_new(n->fw, &m->fw_peer, &view, &st);
		if (!err)
			atomic_store(&n->sa->fw, view);
	}
	sodium_memzero(m, sizeof(*m));
	free(m);
	if (err) {
		fprintf(stderr, "%s: %s\n", PB_TOOL, st.msg);
		return err;
	}
	t = dp_sa_table_build(&n->sa, 1);
	if (!t)
		return -ENOMEM;
	atomic_store_explicit(&n->shared.sa_table, t, memory_order_release);
	return 0;
}

static void node_free(struct pb_node *n)
{
	dp_sa_table_free(atomic_load(&n->shared.sa_table));
	dp_sa_free(n->sa);
	dp_fw_free(n->fw);
	dp_flow_table_free(n->shared.flows);
	dp_worker_free(&n->w);
}

static void env_free(struct pb_env *e)
{
	if (!e)
		return;
	node_free(&e->a);
	node_free(&e->b);
	free(e->packet);
	free(e);
}

static int env_new(struct pb_env **out)
{
	struct pb_env *e;
	int err;

	*out = NULL;
	e = aligned_alloc(64, (sizeof(*e) + 63) / 64 * 64);
	if (!e)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	err = node_init(&e->a, PB_VPN_A, "172.31.0.1");
	if (!err)
		err = node_init(&e->b, PB_VPN_B, "172.31.0.2");
	if (!err)
		err = node_sa(&e->a, &e->b, PB_INDEX_A, PB_INDEX_B, pb_key_ab,
			      pb_key_ba);
	if (!err)
		err = node_sa(&e->b, &e->a, PB_INDEX_B, PB_INDEX_A, pb_key_ba,
			      pb_key_ab);
	if (err) {
		env_free(e);
		return err;
	}
	*out = e;
	return 0;
}

/* 10.1.0.1:5000 -> 10.1.0.2:6000, UDP, @len bytes in all. */
static void make_packet(uint8_t *ip, uint32_t len)
{
	uint32_t sum = 0;

	memset(ip, 0, PB_IP_UDP_LEN);
	wire_put_be32(ip, 0x45000000 | len);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 17;
	wire_put_be32(ip + 12, PB_VPN_A);
	wire_put_be32(ip + 16, PB_VPN_B);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	wire_put_be32(ip + 20, 5000u << 16 | 6000u);
	wire_put_be32(ip + 24, (len - 20) << 16); /* no UDP checksum */
	for (uint32_t k = PB_IP_UDP_LEN; k < len; k++)
		ip[k] = (uint8_t)(k * 7);
}

/* A's TUN buffers hold @len-byte packets again; counters stay as they are. */
static int env_size(struct pb_env *e, uint32_t len, unsigned int burst)
{
	free(e->packet);
	e->packet = malloc(len);
	if (!e->packet)
		return -ENOMEM;
	make_packet(e->packet, len);
	e->ip_len = len;
	e->burst = burst;
	for (unsigned int i = 0; i < burst; i++) {
		memcpy(e->a.w.tx_bufs[i] + DP_HEADROOM, e->packet, len);
		e->lens[i] = len;
	}
	return 0;
}

/* ---- The burst and its parts ---------------------------------------------------- */

static void out_a(struct pb_env *e)
{
	dp_worker_begin(&e->a.w, e->now_ns);
	dp_out_burst(&e->a.w, e->lens, e->burst);
}

/* What a port's rx would hand B: the datagrams, from A's address. */
static void hand_over(struct pb_env *e)
{
	const struct dp_worker *w = &e->a.w;

	for (unsigned int i = 0; i < w->n_to_net; i++)
		e->rx[i] = (struct dp_pkt){ .data = w->to_net[i].data,
					    .len = w->to_net[i].len,
					    .addr = e->a.addr };
	e->n_rx = w->n_to_net;
}

static void in_b(struct pb_env *e)
{
	dp_worker_begin(&e->b.w, e->now_ns);
	dp_in_burst(&e->b.w, e->rx, e->n_rx);
}

/*
 * After every burst, untimed: count what did not come out whole, and
 * grant a new lease when A asks (ctl.c on_lease_grant; the control plane
 * grants CTLMSG_LEASE_STEP past the current end, control/node.c).
 */
static void check(struct pb_env *e)
{
	struct dp_sa *sa = e->a.sa;

	if (e->a.w.n_to_net != e->burst)
		e->short_out++;
	if (e->b.w.n_to_tun != e->burst)
		e->short_in++;
	for (unsigned int i = 0; i < e->b.w.n_to_tun; i++)
		if (e->b.w.to_tun[i] != e->a.w.tx_bufs[i] + DP_HEADROOM ||
		    e->b.w.to_tun_len[i] != e->ip_len)
			e->wrong_buf++;
	if (dp_sa_lease_wanted(sa)) {
		uint64_t end = atomic_load_explicit(&sa->lease_end,
						    memory_order_relaxed);

		atomic_store_explicit(&sa->lease_end, end + CTLMSG_LEASE_STEP,
				      memory_order_release);
		atomic_store_explicit(&sa->lease_asked, false,
				      memory_order_relaxed);
		e->lease_grants++;
	}
	e->bursts++;
	e->now_ns += PB_NS_PER_BURST;
}

/* encrypt: A timed; B untimed afterwards. */
static unsigned int step_encrypt(void *arg)
{
	struct pb_env *e = arg;

	out_a(e);
	return e->a.w.n_to_net;
}

static void finish_encrypt(void *arg)
{
	struct pb_env *e = arg;

	hand_over(e);
	in_b(e);
	check(e);
}

/* decrypt: A and the handover untimed first; B timed. */
static void prepare_decrypt(void *arg)
{
	struct pb_env *e = arg;

	out_a(e);
	hand_over(e);
}

static unsigned int step_decrypt(void *arg)
{
	struct pb_env *e = arg;

	in_b(e);
	return e->b.w.n_to_tun;
}

static void finish_check(void *arg)
{
	check(arg);
}

/* end-to-end: all of it timed. */
static unsigned int step_e2e(void *arg)
{
	struct pb_env *e = arg;

	out_a(e);
	hand_over(e);
	in_b(e);
	return e->b.w.n_to_tun;
}

/* firewall: A's outbound filter stage alone, on the packets in its buffers. */
static unsigned int step_firewall(void *arg)
{
	struct pb_env *e = arg;
	unsigned int passed = 0;

	dp_worker_begin(&e->a.w, e->now_ns);
	for (unsigned int i = 0; i < e->burst; i++)
		passed += dp_filter_out(&e->a.w, e->a.sa,
					e->a.w.tx_bufs[i] + DP_HEADROOM,
					e->lens[i]);
	return passed;
}

static void finish_firewall(void *arg)
{
	struct pb_env *e = arg;

	e->bursts++;
	e->now_ns += PB_NS_PER_BURST;
}

static const struct pb_stage {
	const char *name;
	void (*prepare)(void *arg);
	unsigned int (*step)(void *arg);
	void (*finish)(void *arg);
} pb_stages[] = {
	{ "encrypt", NULL, step_encrypt, finish_encrypt },
	{ "decrypt", prepare_decrypt, step_decrypt, finish_check },
	{ "end-to-end", NULL, step_e2e, finish_check },
	{ "firewall", NULL, step_firewall, finish_firewall },
};

#define PB_N_STAGES (sizeof(pb_stages) / sizeof(pb_stages[0]))

/* ---- Checks and output ----------------------------------------------------------- */

static uint64_t drops(const struct dp_worker *w, const char *who)
{
	uint64_t n = 0;

	for (int i = 0; i < DP_DROP_MAX; i++) {
		if (!w->stats.drops[i])
			continue;
		fprintf(stderr, "%s: worker %s dropped %llu: %s\n", PB_TOOL,
			who, (unsigned long long)w->stats.drops[i],
			dp_drop_texts[i]);
		n += w->stats.drops[i];
	}
	return n;
}

/* Everything went through, and A's buffers hold the original packets. */
static int verify(struct pb_env *e, const char *stage)
{
	uint64_t bad = drops(&e->a.w, "A") + drops(&e->b.w, "B");

	for (unsigned int i = 0; i < e->burst; i++)
		if (memcmp(e->a.w.tx_bufs[i] + DP_HEADROOM, e->packet,
			   e->ip_len))
			bad++;
	bad += e->short_out + e->short_in + e->wrong_buf;
	if (!bad && e->b.w.stats.punted == 0 && e->a.w.stats.punted == 0)
		return 0;
	fprintf(stderr,
		"%s: %s at %u bytes: %llu bursts short out of A, %llu short "
		"into B's TUN, %llu misplaced, %llu punts, %llu drops or "
		"corrupted packets\n",
		PB_TOOL, stage, e->ip_len, (unsigned long long)e->short_out,
		(unsigned long long)e->short_in,
		(unsigned long long)e->wrong_buf,
		(unsigned long long)(e->a.w.stats.punted + e->b.w.stats.punted),
		(unsigned long long)bad);
	return -EPROTO;
}

static int report_stage(struct mb_report *rep, const char *stage, uint32_t size,
			const struct mb_result *r)
{
	struct mb_field f[MB_FIELDS_MAX];
	double pkts = (double)r->packets;
	unsigned int n = 0;

	f[n++] = MB_STRF("stage", "stage", 10, stage);
	/* The filter stage encrypts nothing. */
	f[n++] = MB_STRF("cipher", "cipher", 11,
			 strcmp(stage, "firewall") ? "aes-256-gcm" : "none");
	f[n++] = MB_UINTF("size", "size", 5, size);
	f[n++] = MB_UINTF("udp_payload", NULL, 0, size - PB_IP_UDP_LEN);
	f[n++] = MB_UINTF("packets", "packets", 10, r->packets);
	f[n++] = MB_REALF("seconds", "seconds", 7, 3, r->seconds);
	f[n++] = MB_REALF("mpps", "Mpps", 7, 3, pkts / r->seconds / 1e6);
	f[n++] = MB_REALF("ns_per_packet", "ns/pkt", 8, 1,
			  r->seconds * 1e9 / pkts);
	f[n++] = MB_REALF("tsc_cycles_per_packet", "cyc/pkt", 8, 0,
			  (double)r->tsc / pkts);
	return mb_report_row(rep, f, n);
}

static int run(struct pb_env *e, const struct mb_cfg *cfg, double tsc_hz,
	       struct mb_report *rep)
{
	int err = 0;

	for (unsigned int s = 0; s < cfg->n_sizes && !err; s++) {
		err = env_size(e, cfg->sizes[s], cfg->burst);
		for (unsigned int k = 0; k < PB_N_STAGES && !err; k++) {
			const struct pb_stage *st = &pb_stages[k];
			struct mb_case c = { .prepare = st->prepare,
					     .step = st->step,
					     .finish = st->finish,
					     .arg = e };
			struct mb_result r;

			mb_measure(&c, cfg->seconds, tsc_hz, &r);
			err = verify(e, st->name);
			if (!err && r.packets != r.steps * cfg->burst)
				err = -EPROTO;
			if (!err)
				err = report_stage(rep, st->name, e->ip_len, &r);
		}
	}
	return err;
}

int main(int argc, char **argv)
{
	struct mb_cfg cfg = { .seconds = 1.0,
			      .n_sizes = 2,
			      .sizes = { 64, 1420 },
			      .burst = DP_BURST_MAX,
			      .cpu = -1,
			      .size_min = PB_IP_UDP_LEN,
			      .size_max = DP_PKT_MAX,
			      .burst_max = DP_BURST_MAX };
	struct mb_report *rep;
	struct pb_env *e;
	double tsc_hz;
	int err;

	err = mb_cfg_parse(
		&cfg, PB_TOOL,
		"The dataplane stages in memory on one core: encrypt "
		"(dp_out_burst), decrypt (dp_in_burst)\n"
		"and both, on synthetic IPv4/UDP packets; sizes are "
		"inner IP packet lengths.",
		argc - 1, argv + 1);
	if (err)
		return err == 1 ? 0 : err;
	err = vl_aead_init();
	if (err) {
		fprintf(stderr, "%s: IPsec-MB: %s\n", PB_TOOL, strerror(-err));
		return 1;
	}
	err = mb_pin(&cfg);
	if (err) {
		fprintf(stderr, "%s: pinning to CPU %d: %s\n", PB_TOOL, cfg.cpu,
			strerror(-err));
		return 1;
	}
	tsc_hz = mb_tsc_hz();
	err = env_new(&e);
	if (err) {
		fprintf(stderr, "%s: setup: %s\n", PB_TOOL, strerror(-err));
		return 1;
	}
	rep = mb_report_new(PB_TOOL, &cfg, tsc_hz);
	if (!rep) {
		env_free(e);
		return 1;
	}
	err = run(e, &cfg, tsc_hz, rep);
	{
		const struct mb_field extra[] = {
			MB_STRF("sizes", NULL, 0,
				"inner IP packet bytes (IPv4 + UDP headers included)"),
			MB_UINTF("lease_grants", NULL, 0, e->lease_grants),
			MB_UINTF("send_counter", NULL, 0,
				 atomic_load(&e->a.sa->send_counter)),
		};

		mb_report_end(rep, extra, sizeof(extra) / sizeof(extra[0]));
	}
	env_free(e);
	if (err) {
		fprintf(stderr, "%s: %s\n", PB_TOOL,
			err == -EPROTO ?
				"packets lost or damaged, figures not valid" :
				strerror(-err));
		return 1;
	}
	return 0;
}
