/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus page (control/prom.c, control/metrics.c): the text
 * format's rules (HELP and TYPE once, escaped label values), the
 * dataplane's counters per worker as the STATS_REPLY has them, the burst
 * histograms cumulative, an out-of-bounds reply refused, and the control
 * plane's optional families only when configured.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../dataplane/stats.h"
#include "../dataplane/xdp_steer.h"
#include "metrics.h"
#include "node.h"
#include "prom.h"

static void has(const char *page, const char *line)
{
	if (!strstr(page, line))
		fail_msg("the page lacks \"%s\":\n%s", line, page);
}

static void lacks(const char *page, const char *text)
{
	if (strstr(page, text))
		fail_msg("the page has \"%s\"", text);
}

static void test_metrics_prom_format(void **state)
{
	struct prom p;
	struct prom_label l[2] = { { "name", "a\"b\\c\nd" }, { "x", "" } };

	(void)state;
	prom_init(&p, "ns_sub_");
	prom_family(&p, "things_total", "counter", "Things counted");
	prom_u64(&p, "", l, 2, UINT64_MAX);
	prom_u64(&p, "", NULL, 0, 0);
	prom_family(&p, "ratio", "gauge", "A ratio");
	prom_double(&p, "", NULL, 0, 0.25);
	prom_double(&p, "", l + 1, 1, 1.0 / 0.0);
	assert_int_equal(prom_finish(&p), 0);
	assert_string_equal(
		p.buf,
		"# HELP ns_sub_things_total Things counted\n"
		"# TYPE ns_sub_things_total counter\n"
		"ns_sub_things_total{name=\"a\\\"b\\\\c\\nd\",x=\"\"} 18446744073709551615\n"
		"ns_sub_things_total 0\n"
		"# HELP ns_sub_ratio A ratio\n"
		"# TYPE ns_sub_ratio gauge\n"
		"ns_sub_ratio 0.25\n"
		"ns_sub_ratio{x=\"\"} +Inf\n");
	assert_int_equal(p.len, strlen(p.buf));
	prom_free(&p);
}

/* A reply of two workers with distinct counts in every field read. */
static void fill_reply(struct ctlmsg_stats_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->set_up = 1;
	r->backend = CTLMSG_BACKEND_UDP;
	r->mode = CTLMSG_MODE_EVENT;
	r->workers = 2;
	r->n_drops = DP_DROP_MAX;
	r->n_tunnels = 3;
	memcpy(r->tun_dev, "vela0", 6);
	r->fw_rules_in = 4;
	r->fw_rules_out = 1;
	r->tun_flags = CTLMSG_TUN_UP | CTLMSG_TUN_RUNNING;
	r->tun_mtu = 1300;
	r->flows_created = 77;
	for (uint32_t w = 0; w < 2; w++) {
		struct ctlmsg_worker_stats *s = &r->worker[w];

		s->rx_packets = 100 + w;
		s->rx_bytes = 150000 + w;
		s->tun_tx_packets = 90 + w;
		s->sealed = 11 + w;
		s->loop_ns = UINT64_C(2500000000) * (w + 1);
		s->drops[DP_DROP_BAD_TAG] = 5 + w;
		/* 3 bursts of 1, 2 of 2-3, 1 of 64 */
		s->rx_burst_hist[0] = 3;
		s->rx_burst_hist[1] = 2;
		s->rx_burst_hist[CTLMSG_BURST_BUCKETS - 1] = 1;
		s->tun_rx_packets = 40;
		s->injected_out = 4;
		s->tun_burst_hist[2] = 9;
	}
}

static void test_metrics_dataplane(void **state)
{
	static struct ctlmsg_stats_reply r;
	struct prom p;

	(void)state;
	fill_reply(&r);
	prom_init(&p, "vela_");
	assert_int_equal(ctl_metrics_render_dataplane(&r, &p), 0);
	assert_int_equal(prom_finish(&p), 0);
	has(p.buf, "vela_dataplane_info{backend=\"udp\",mode=\"event\",tun_device=\"vela0\"} 1\n");
	has(p.buf, "vela_dataplane_workers 2\n");
	has(p.buf, "vela_dataplane_tunnels 3\n");
	has(p.buf, "# TYPE vela_dataplane_rx_packets_total counter\n");
	has(p.buf, "vela_dataplane_rx_packets_total{worker=\"0\"} 100\n");
	has(p.buf, "vela_dataplane_rx_packets_total{worker=\"1\"} 101\n");
	has(p.buf, "vela_dataplane_rx_bytes_total{worker=\"1\"} 150001\n");
	has(p.buf, "vela_dataplane_tun_tx_packets_total{worker=\"1\"} 91\n");
	has(p.buf, "vela_dataplane_crypto_sealed_packets_total{worker=\"0\"} 11\n");
	has(p.buf, "vela_dataplane_worker_loop_seconds_total{worker=\"1\"} 5\n");
	/* Every reason, zeros too, named as dpctl names them. */
	has(p.buf, "vela_dataplane_drops_total{worker=\"1\",reason=\"BAD_TAG\"} 6\n");
	has(p.buf, "vela_dataplane_drops_total{worker=\"0\",reason=\"SHORT\"} 0\n");
	/* Cumulative buckets: le 1, 3, 7 ... 63, 64, +Inf; sum the packets. */
	has(p.buf, "# TYPE vela_dataplane_rx_burst_packets histogram\n");
	has(p.buf, "vela_dataplane_rx_burst_packets_bucket{worker=\"0\",le=\"1\"} 3\n");
	has(p.buf, "vela_dataplane_rx_burst_packets_bucket{worker=\"0\",le=\"3\"} 5\n");
	has(p.buf, "vela_dataplane_rx_burst_packets_bucket{worker=\"0\",le=\"63\"} 5\n");
	has(p.buf, "vela_dataplane_rx_burst_packets_bucket{worker=\"0\",le=\"64\"} 6\n");
	has(p.buf, "vela_dataplane_rx_burst_packets_bucket{worker=\"0\",le=\"+Inf\"} 6\n");
	has(p.buf, "vela_dataplane_rx_burst_packets_sum{worker=\"0\"} 100\n");
	has(p.buf, "vela_dataplane_rx_burst_packets_count{worker=\"0\"} 6\n");
	/* TUN reads: injected packets were not read. */
	has(p.buf, "vela_dataplane_tun_read_burst_packets_sum{worker=\"1\"} 36\n");
	has(p.buf, "vela_dataplane_tun_read_burst_packets_bucket{worker=\"1\",le=\"7\"} 9\n");
	has(p.buf, "vela_dataplane_firewall_rules{direction=\"inbound\"} 4\n");
	has(p.buf, "vela_dataplane_flows_created_total 77\n");
	has(p.buf, "vela_dataplane_tun_up 1\n");
	has(p.buf, "vela_dataplane_tun_mtu_bytes 1300\n");
	lacks(p.buf, "xdp"); /* udp: no XDP program */
	prom_free(&p);

	/* xsk: the XDP program's counters, named as dpctl names them. */
	r.backend = CTLMSG_BACKEND_XSK;
	memcpy(r.interface, "eth1", 5);
	r.xdp_mode = DP_XDP_NATIVE;
	r.n_xdp = DP_XDP_COUNTERS;
	r.xdp_packets[DP_XDP_STEERED] = 123;
	r.xdp_bytes[DP_XDP_NO_XSK] = 4567;
	prom_init(&p, "vela_");
	assert_int_equal(ctl_metrics_render_dataplane(&r, &p), 0);
	assert_int_equal(prom_finish(&p), 0);
	has(p.buf, "vela_dataplane_xdp_info{interface=\"eth1\",mode=\"native\"} 1\n");
	has(p.buf, "vela_dataplane_xdp_packets_total{result=\"steered\"} 123\n");
	has(p.buf, "vela_dataplane_xdp_bytes_total{result=\"no_xsk\"} 4567\n");
	has(p.buf, "vela_dataplane_xdp_packets_total{result=\"malformed\"} 0\n");
	prom_free(&p);

	/* Counts past the arrays: refused, nothing written. */
	r.workers = CTLMSG_WORKERS_MAX + 1;
	prom_init(&p, "vela_");
	assert_int_equal(ctl_metrics_render_dataplane(&r, &p), -EPROTO);
	assert_int_equal(p.len, 0);
	prom_free(&p);
	fill_reply(&r);
	r.n_drops = CTLMSG_DROPS_MAX + 1;
	prom_init(&p, "vela_");
	assert_int_equal(ctl_metrics_render_dataplane(&r, &p), -EPROTO);
	prom_free(&p);
	fill_reply(&r);
	r.n_xdp = CTLMSG_XDP_COUNTERS_MAX + 1;
	prom_init(&p, "vela_");
	assert_int_equal(ctl_metrics_render_dataplane(&r, &p), -EPROTO);
	prom_free(&p);
}

static void test_metrics_page(void **state)
{
	static struct ctl_node n;
	static struct ctlmsg_stats_reply r;
	struct ctl_tunnel t = { 0 }, *tunnels[1] = { &t };
	static char prefix[] = "nebula_gw_";
	struct prom p;

	(void)state;
	memset(&n, 0, sizeof(n));
	n.metrics.listen_fd = -1;
	n.cfg.stats_prefix = prefix;
	n.counters.hs_completed[1] = 2;
	n.counters.msgs[1][3] = 7;
	n.counters.lh_msgs[0][1] = 4;
	n.counters.reloads_failed = 1;

	/* Without the dataplane; no optional families. */
	prom_init(&p, n.cfg.stats_prefix);
	assert_int_equal(ctl_metrics_render(&n, NULL, &p), 0);
	has(p.buf, "nebula_gw_info{version=\"");
	has(p.buf, "nebula_gw_handshakes_total{role=\"responder\",result=\"completed\"} 2\n");
	has(p.buf, "nebula_gw_config_reloads_total{result=\"failure\"} 1\n");
	has(p.buf, "nebula_gw_dataplane_up 0\n");
	lacks(p.buf, "nebula_gw_messages_total");
	lacks(p.buf, "nebula_gw_lighthouse_messages_total");
	lacks(p.buf, "nebula_gw_peer_");
	lacks(p.buf, "nebula_gw_dataplane_rx");
	prom_free(&p);

	/* Everything on, one peer, a dataplane that answered. */
	n.cfg.message_metrics = n.cfg.lighthouse_metrics = n.cfg.peer_metrics = true;
	t.add.vpn_ip = 0x0a2a0002; /* 10.42.0.2 */
	snprintf(t.name, sizeof(t.name), "host \"b\"");
	t.cm_rx = 12;
	t.cm_tx_bytes = 3400;
	n.tunnels = tunnels;
	n.n_tunnels = 1;
	fill_reply(&r);
	prom_init(&p, n.cfg.stats_prefix);
	assert_int_equal(ctl_metrics_render(&n, &r, &p), 0);
	has(p.buf, "nebula_gw_tunnels 1\n");
	has(p.buf, "nebula_gw_messages_total{direction=\"tx\",type=\"lighthouse\"} 7\n");
	has(p.buf, "nebula_gw_lighthouse_messages_total{direction=\"rx\",type=\"HostQuery\"} 4\n");
	has(p.buf, "nebula_gw_peer_rx_packets_total{vpn_ip=\"10.42.0.2\",name=\"host \\\"b\\\"\"} 12\n");
	has(p.buf, "nebula_gw_peer_tx_bytes_total{vpn_ip=\"10.42.0.2\",name=\"host \\\"b\\\"\"} 3400\n");
	has(p.buf, "nebula_gw_dataplane_rx_packets_total{worker=\"1\"} 101\n");
	has(p.buf, "nebula_gw_dataplane_up 1\n");
	prom_free(&p);

	/* A reply out of bounds: the page without it, and -EPROTO said. */
	r.workers = CTLMSG_WORKERS_MAX + 1;
	prom_init(&p, n.cfg.stats_prefix);
	assert_int_equal(ctl_metrics_render(&n, &r, &p), -EPROTO);
	has(p.buf, "nebula_gw_dataplane_up 0\n");
	lacks(p.buf, "nebula_gw_dataplane_workers");
	prom_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_prom_format),
		cmocka_unit_test(test_metrics_dataplane),
		cmocka_unit_test(test_metrics_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
