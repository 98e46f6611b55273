// SPDX-License-Identifier: MIT
/*
 * The Prometheus endpoint (metrics.h, docs/metrics.md): a small HTTP/1.1
 * server in vela-control's event loop, and the page it serves.
 *
 * Names follow Prometheus' conventions: the configured prefix (namespace
 * and subsystem, "vela_" by default), base units (bytes, seconds),
 * counters ending in _total, one family per quantity with labels for its
 * parts (worker, reason, direction) rather than a family per part. Every
 * dataplane counter is per worker: PromQL sums, as dpctl does.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../dataplane/stats.h"
#include "../dataplane/xdp_steer.h"
#include "log.h"
#include "metrics.h"
#include "node.h"
#include "status.h"

#define NSEC_PER_MSEC UINT64_C(1000000)

/* ---- counting --------------------------------------------------------- */

void ctl_metrics_count_msg(struct ctl_node *n, int dir, unsigned int type)
{
	if (type < CTL_METRICS_MSG_TYPES)
		n->counters.msgs[dir][type]++;
}

void ctl_metrics_count_lh(struct ctl_node *n, int dir, int type)
{
	if (type >= 0 && type < CTL_METRICS_LH_TYPES)
		n->counters.lh_msgs[dir][type]++;
}

/* ---- the page --------------------------------------------------------- */

/* Nebula header types (common/wire.h), as label values. */
static const char *const msg_types[CTL_METRICS_MSG_TYPES] = {
	"handshake", "message", "recv_error", "lighthouse",
	"test",      "close_tunnel", "control",
};

/* NebulaMeta types, named as 1.6.1's lighthouse metrics name them. */
static const char *const lh_types[CTL_METRICS_LH_TYPES] = {
	"None",
	"HostQuery",
	"HostQueryReply",
	"HostUpdateNotification",
	"HostMovedNotification",
	"HostPunchNotification",
	"HostWhoami",
	"HostWhoamiReply",
	"PathCheck",
	"PathCheckReply",
};

static const char *const backends[] = { "auto", "xsk", "udp", "dpdk" };
static const char *const modes[] = { "adaptive", "busy", "event" };

static const char *name_of(const char *const *names, size_t n, uint32_t v)
{
	return v < n ? names[v] : "unknown";
}

/*
 * The per-worker counters, one family each: a uint64_t of struct
 * ctlmsg_worker_stats at @field, in seconds when it counts nanoseconds.
 */
#define WS(member) offsetof(struct ctlmsg_worker_stats, member)
static const struct worker_counter {
	const char *name, *help;
	size_t field;
	bool ns;
} worker_counters[] = {
	{ "dataplane_rx_packets_total",
	  "UDP datagrams received from the network",
	  WS(rx_packets), false },
	{ "dataplane_rx_bytes_total",
	  "Bytes of UDP datagrams received from the network",
	  WS(rx_bytes), false },
	{ "dataplane_tx_packets_total",
	  "UDP datagrams sent to the network",
	  WS(tx_packets), false },
	{ "dataplane_tx_bytes_total",
	  "Bytes of UDP datagrams sent to the network",
	  WS(tx_bytes), false },
	{ "dataplane_tun_rx_packets_total",
	  "IP packets read from the TUN device (to send into tunnels)",
	  WS(tun_rx_packets), false },
	{ "dataplane_tun_rx_bytes_total",
	  "Bytes of IP packets read from the TUN device",
	  WS(tun_rx_bytes), false },
	{ "dataplane_tun_tx_packets_total",
	  "IP packets written to the TUN device (received from tunnels)",
	  WS(tun_tx_packets), false },
	{ "dataplane_tun_tx_bytes_total",
	  "Bytes of IP packets written to the TUN device",
	  WS(tun_tx_bytes), false },
	{ "dataplane_crypto_sealed_packets_total",
	  "Packets encrypted (AEAD seal)",
	  WS(sealed), false },
	{ "dataplane_crypto_sealed_bytes_total",
	  "Plaintext bytes encrypted",
	  WS(sealed_bytes), false },
	{ "dataplane_crypto_opened_packets_total",
	  "Packets decrypted and authenticated (failures are drops with reason BAD_TAG)",
	  WS(opened), false },
	{ "dataplane_crypto_opened_bytes_total",
	  "Plaintext bytes decrypted",
	  WS(opened_bytes), false },
	{ "dataplane_worker_loop_seconds_total",
	  "Wall time of the worker loop's passes",
	  WS(loop_ns), true },
	{ "dataplane_worker_busy_seconds_total",
	  "Wall time of passes that moved packets (busy share: busy / loop)",
	  WS(busy_ns), true },
	{ "dataplane_worker_passes_total",
	  "Passes of the worker loop",
	  WS(passes), false },
	{ "dataplane_worker_sleeps_total",
	  "Passes that ended asleep waiting for packets",
	  WS(sleeps), false },
	{ "dataplane_punches_total",
	  "NAT punches sent",
	  WS(punches), false },
	{ "dataplane_punted_packets_total",
	  "Packets handed to the control plane (handshakes, lighthouse, misses)",
	  WS(punted), false },
	{ "dataplane_tx_errors_total",
	  "Sends to the network the kernel refused",
	  WS(port.tx_errors), false },
};
#undef WS

static void per_worker(struct prom *p, const struct ctlmsg_stats_reply *r,
		       const struct worker_counter *c)
{
	prom_family(p, c->name, "counter", c->help);
	for (uint32_t w = 0; w < r->workers; w++) {
		char id[12];
		struct prom_label l = { "worker", id };
		uint64_t v;

		snprintf(id, sizeof(id), "%u", w);
		memcpy(&v, (const uint8_t *)&r->worker[w] + c->field, sizeof(v));
		if (c->ns)
			prom_double(p, "", &l, 1, (double)v / 1e9);
		else
			prom_u64(p, "", &l, 1, v);
	}
}

/*
 * A burst size histogram: bucket k of the dataplane's holds bursts of
 * 2^k to 2^(k+1) - 1 packets, the last one full bursts of 64, so the
 * cumulative buckets are le 1, 3, 7, ... 63, 64; the sum is the packets.
 */
static void burst_histogram(struct prom *p, const struct ctlmsg_stats_reply *r,
			    const char *name, const char *help, bool tun)
{
	prom_family(p, name, "histogram", help);
	for (uint32_t w = 0; w < r->workers; w++) {
		const struct ctlmsg_worker_stats *s = &r->worker[w];
		const uint64_t *h = tun ? s->tun_burst_hist : s->rx_burst_hist;
		uint64_t packets = s->rx_packets, cum = 0;
		char id[12], le[12];
		struct prom_label l[2] = { { "worker", id }, { "le", le } };

		if (tun) /* injected packets go through outbound but no read */
			packets = s->tun_rx_packets > s->injected_out ?
					  s->tun_rx_packets - s->injected_out :
					  0;
		snprintf(id, sizeof(id), "%u", w);
		for (uint32_t b = 0; b < CTLMSG_BURST_BUCKETS; b++) {
			cum += h[b];
			snprintf(le, sizeof(le), "%u",
				 b == CTLMSG_BURST_BUCKETS - 1 ? 1u << b :
								 (2u << b) - 1);
			prom_u64(p, "_bucket", l, 2, cum);
		}
		snprintf(le, sizeof(le), "+Inf");
		prom_u64(p, "_bucket", l, 2, cum);
		prom_u64(p, "_sum", l, 1, packets);
		prom_u64(p, "_count", l, 1, cum);
	}
}

int ctl_metrics_render_dataplane(const struct ctlmsg_stats_reply *r,
				 struct prom *p)
{
	uint32_t n_drops;

	if (r->workers > CTLMSG_WORKERS_MAX || r->n_drops > CTLMSG_DROPS_MAX ||
	    r->n_xdp > CTLMSG_XDP_COUNTERS_MAX)
		return -EPROTO;
	n_drops = r->n_drops < DP_DROP_MAX ? r->n_drops : DP_DROP_MAX;

	{
		char tun[sizeof(r->tun_dev) + 1];
		struct prom_label l[3] = {
			{ "backend", name_of(backends, 4, r->backend) },
			{ "mode", name_of(modes, 3, r->mode) },
			{ "tun_device", tun },
		};

		memcpy(tun, r->tun_dev, sizeof(r->tun_dev));
		tun[sizeof(r->tun_dev)] = '\0';
		prom_family(p, "dataplane_info", "gauge",
			    "The dataplane's setup: backend, worker mode, TUN device");
		prom_u64(p, "", l, r->set_up ? 3 : 0, 1);
	}
	prom_one(p, "dataplane_workers", "gauge",
		 "Workers, one per NIC queue and TUN queue", r->workers);
	prom_one(p, "dataplane_tunnels", "gauge",
		 "Tunnels installed in the dataplane", r->n_tunnels);

	for (size_t i = 0; i < sizeof(worker_counters) / sizeof(worker_counters[0]); i++)
		per_worker(p, r, &worker_counters[i]);

	prom_family(p, "dataplane_drops_total", "counter",
		    "Packets dropped, by reason (dpctl drops explains each)");
	for (uint32_t w = 0; w < r->workers; w++) {
		char id[12];

		snprintf(id, sizeof(id), "%u", w);
		for (uint32_t d = 0; d < n_drops; d++) {
			struct prom_label l[2] = { { "worker", id },
						   { "reason", dp_drop_names[d] } };

			prom_u64(p, "", l, 2, r->worker[w].drops[d]);
		}
	}

	burst_histogram(p, r, "dataplane_rx_burst_packets",
			"Packets per NIC receive that returned any", false);
	burst_histogram(p, r, "dataplane_tun_read_burst_packets",
			"Packets per TUN read that returned any", true);

	/* xsk: the XDP program's verdicts, each frame counted once. */
	if (r->n_xdp) {
		uint32_t n_xdp = r->n_xdp < DP_XDP_COUNTERS ? r->n_xdp : DP_XDP_COUNTERS;
		char ifname[sizeof(r->interface) + 1];
		struct prom_label l[3] = { { "interface", ifname },
					   { "mode", dp_xdp_mode_name(r->xdp_mode) },
					   { "result", NULL } };

		memcpy(ifname, r->interface, sizeof(r->interface));
		ifname[sizeof(r->interface)] = '\0';
		prom_family(p, "dataplane_xdp_info", "gauge",
			    "The XDP program in front of the AF_XDP sockets: interface, mode");
		prom_u64(p, "", l, 2, 1);
		prom_family(p, "dataplane_xdp_packets_total", "counter",
			    "Frames the XDP program saw, by what it did (steered: to an AF_XDP socket)");
		for (uint32_t x = 0; x < n_xdp; x++) {
			l[2].value = dp_xdp_counter_name((enum dp_xdp_counter)x);
			prom_u64(p, "", l + 2, 1, r->xdp_packets[x]);
		}
		prom_family(p, "dataplane_xdp_bytes_total", "counter",
			    "Bytes of those frames, Ethernet header included");
		for (uint32_t x = 0; x < n_xdp; x++) {
			l[2].value = dp_xdp_counter_name((enum dp_xdp_counter)x);
			prom_u64(p, "", l + 2, 1, r->xdp_bytes[x]);
		}
	}

	prom_one(p, "dataplane_punts_dropped_total", "counter",
		 "Packets for the control plane dropped: not connected or its queue full",
		 r->punts_dropped);
	prom_one(p, "dataplane_control_rejects_total", "counter",
		 "Control messages the dataplane refused", r->rejects);
	prom_one(p, "dataplane_lease_requests_total", "counter",
		 "Nonce counter leases asked of the control plane",
		 r->lease_requests);

	prom_one(p, "dataplane_flows_capacity", "gauge",
		 "Entries of the flow table (conntrack)", r->flows_capacity);
	prom_one(p, "dataplane_flows_created_total", "counter",
		 "Flow table entries created", r->flows_created);
	prom_one(p, "dataplane_flows_evicted_total", "counter",
		 "Live flow table entries replaced because their bucket was full",
		 r->flows_evicted);
	prom_one(p, "dataplane_flows_expired_total", "counter",
		 "Flow table entries that timed out", r->flows_expired);

	{
		struct prom_label in = { "direction", "inbound" };
		struct prom_label out = { "direction", "outbound" };

		prom_family(p, "dataplane_firewall_rules", "gauge",
			    "Firewall rules in force");
		prom_u64(p, "", &in, 1, r->fw_rules_in);
		prom_u64(p, "", &out, 1, r->fw_rules_out);
	}
	prom_one(p, "dataplane_tun_up", "gauge",
		 "1 when the TUN device is up and running",
		 (r->tun_flags & (CTLMSG_TUN_UP | CTLMSG_TUN_RUNNING)) ==
			 (CTLMSG_TUN_UP | CTLMSG_TUN_RUNNING));
	prom_one(p, "dataplane_tun_mtu_bytes", "gauge",
		 "MTU of the TUN device", r->tun_mtu);
	return 0;
}

/* A family of counters by direction (rx, tx) and type, types @first..@n-1. */
static void by_direction(struct prom *p, const char *name, const char *help,
			 const char *const *types, int first, int n,
			 const uint64_t *rx, const uint64_t *tx)
{
	prom_family(p, name, "counter", help);
	for (int dir = 0; dir < 2; dir++)
		for (int t = first; t < n; t++) {
			struct prom_label l[2] = { { "direction", dir ? "tx" : "rx" },
						   { "type", types[t] } };

			prom_u64(p, "", l, 2, (dir ? tx : rx)[t]);
		}
}

static void control_page(const struct ctl_node *n, struct prom *p)
{
	const struct ctl_counters *c = &n->counters;
	struct prom_label l[2];

	l[0] = (struct prom_label){ "version", VELA_VERSION };
	prom_family(p, "info", "gauge", "The version of Vela");
	prom_u64(p, "", l, 1, 1);
	prom_one(p, "start_time_seconds", "gauge",
		 "When vela-control started, Unix time", n->metrics.start_s);
	prom_one(p, "certificate_expiration_timestamp_seconds", "gauge",
		 "When this node's certificate expires, Unix time",
		 n->pki.cert && n->pki.cert->not_after > 0 ?
			 (uint64_t)n->pki.cert->not_after : 0);
	prom_one(p, "tunnels", "gauge", "Tunnels established", n->n_tunnels);
	prom_one(p, "handshakes_pending", "gauge",
		 "Handshakes begun as initiator, not yet answered", n->n_pending);

	prom_family(p, "handshakes_total", "counter",
		    "Handshakes by role and result");
	l[0] = (struct prom_label){ "role", "initiator" };
	l[1] = (struct prom_label){ "result", "started" };
	prom_u64(p, "", l, 2, c->hs_started);
	for (int role = 0; role < 2; role++) {
		l[0].value = role ? "responder" : "initiator";
		l[1].value = "completed";
		prom_u64(p, "", l, 2, c->hs_completed[role]);
		l[1].value = "failed";
		prom_u64(p, "", l, 2, c->hs_failed[role]);
	}
	l[0].value = "initiator";
	l[1].value = "timed_out";
	prom_u64(p, "", l, 2, c->hs_timed_out);
	prom_one(p, "handshake_messages_sent_total", "counter",
		 "Handshake messages sent, retransmissions included",
		 c->hs_msgs_sent);
	prom_one(p, "tunnels_created_total", "counter",
		 "Tunnels established", c->tunnels_created);
	prom_one(p, "tunnels_closed_total", "counter",
		 "Tunnels torn down or replaced", c->tunnels_closed);

	prom_family(p, "config_reloads_total", "counter",
		    "SIGHUP reloads by result (failed: a step kept the old settings)");
	l[0] = (struct prom_label){ "result", "success" };
	prom_u64(p, "", l, 1, c->reloads_ok);
	l[0].value = "failure";
	prom_u64(p, "", l, 1, c->reloads_failed);
	prom_one(p, "config_last_reload_success_timestamp_seconds", "gauge",
		 "When the last reload succeeded, Unix time (0: none)",
		 c->last_reload_ok_s);

	if (n->cfg.message_metrics)
		by_direction(p, "messages_total",
			     "Nebula messages the control plane received or sent, by header type",
			     msg_types, 0, CTL_METRICS_MSG_TYPES, c->msgs[0],
			     c->msgs[1]);
	/* NebulaMeta type 0 is no message. */
	if (n->cfg.lighthouse_metrics)
		by_direction(p, "lighthouse_messages_total",
			     "Lighthouse messages received or sent, by NebulaMeta type",
			     lh_types, 1, CTL_METRICS_LH_TYPES, c->lh_msgs[0],
			     c->lh_msgs[1]);
	prom_one(p, "metrics_scrapes_total", "counter",
		 "Pages served by this endpoint", n->metrics.scrapes);
	prom_one(p, "metrics_http_errors_total", "counter",
		 "Requests to this endpoint answered with an error",
		 n->metrics.http_errors);
}

/*
 * peer_metrics: the dataplane's counters of every tunnel, as the last
 * ACTIVITY (once a second) left them, labelled with the peer's VPN IP
 * and certificate name.
 */
static void peer_page(const struct ctl_node *n, struct prom *p)
{
	static const struct {
		const char *name, *help;
		size_t field;
	} f[] = {
		{ "peer_rx_packets_total", "Packets received from the peer",
		  offsetof(struct ctl_tunnel, cm_rx) },
		{ "peer_rx_bytes_total", "Bytes received from the peer (on the wire)",
		  offsetof(struct ctl_tunnel, cm_rx_bytes) },
		{ "peer_tx_packets_total", "Packets sent to the peer",
		  offsetof(struct ctl_tunnel, cm_tx) },
		{ "peer_tx_bytes_total", "Bytes sent to the peer (on the wire)",
		  offsetof(struct ctl_tunnel, cm_tx_bytes) },
	};

	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		prom_family(p, f[k].name, "counter", f[k].help);
		for (size_t i = 0; i < n->n_tunnels; i++) {
			const struct ctl_tunnel *t = n->tunnels[i];
			char ip[16];
			struct prom_label l[2] = { { "vpn_ip", ip },
						   { "name", t->name } };
			uint64_t v;

			ctl_ip_str(t->add.vpn_ip, ip);
			memcpy(&v, (const uint8_t *)t + f[k].field, sizeof(v));
			prom_u64(p, "", l, 2, v);
		}
	}
}

int ctl_metrics_render(const struct ctl_node *n,
		       const struct ctlmsg_stats_reply *r, struct prom *p)
{
	int err = 0;

	control_page(n, p);
	if (n->cfg.peer_metrics)
		peer_page(n, p);
	if (r) {
		size_t mark = p->len;

		err = ctl_metrics_render_dataplane(r, p);
		if (err) {
			p->len = mark;
			r = NULL;
		}
	}
	prom_one(p, "dataplane_up", "gauge",
		 "1 when the dataplane answered this scrape", r != NULL);
	return prom_finish(p) ? -ENOMEM : err;
}

/* ---- HTTP ------------------------------------------------------------- */

static void client_close(struct ctl_metrics_client *k)
{
	if (k->fd >= 0)
		close(k->fd);
	free(k->out);
	k->fd = -1;
	k->out = NULL;
	k->state = CTL_MC_FREE;
}

/* Queues a response; @body NULL for none, @head: headers only. */
static void respond(struct ctl_node *n, struct ctl_metrics_client *k,
		    const char *status, const char *type, const char *extra,
		    const char *body, size_t body_len)
{
	char hdr[512];
	int h = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %s\r\n"
			 "Content-Type: %s\r\n"
			 "Content-Length: %zu\r\n"
			 "%s"
			 "Connection: close\r\n\r\n",
			 status, type, body_len, extra ? extra : "");
	size_t send_body = k->head ? 0 : body_len;

	free(k->out);
	k->out = malloc((size_t)h + send_body);
	if (!k->out) {
		client_close(k);
		return;
	}
	memcpy(k->out, hdr, (size_t)h);
	if (send_body)
		memcpy(k->out + h, body, send_body);
	k->out_len = (size_t)h + send_body;
	k->out_off = 0;
	k->state = CTL_MC_WRITING;
	k->deadline_ns = n->now_ns + CTL_METRICS_IDLE_MS * NSEC_PER_MSEC;
}

static void http_error(struct ctl_node *n, struct ctl_metrics_client *k,
		       const char *status, const char *extra)
{
	char body[128];
	int len = snprintf(body, sizeof(body), "%s\n", status);

	n->metrics.http_errors++;
	respond(n, k, status, "text/plain; charset=utf-8", extra, body,
		(size_t)len);
}

/* Renders the page once and answers every scrape waiting for it. */
static void serve_waiting(struct ctl_node *n, const struct ctlmsg_stats_reply *r)
{
	struct ctl_metrics *m = &n->metrics;
	struct prom p;
	bool any = false;
	int err;

	for (int i = 0; i < CTL_METRICS_CLIENTS; i++)
		any |= m->client[i].state == CTL_MC_WAITING;
	if (!any)
		return;
	prom_init(&p, n->cfg.stats_prefix);
	err = ctl_metrics_render(n, r, &p);
	if (err == -EPROTO)
		vl_log(VL_LOG_WARN, "Metrics: the dataplane's STATS_REPLY is out of bounds; served without it",
		       NULL);
	for (int i = 0; i < CTL_METRICS_CLIENTS; i++) {
		struct ctl_metrics_client *k = &m->client[i];

		if (k->state != CTL_MC_WAITING)
			continue;
		if (err == -ENOMEM) {
			http_error(n, k, "500 Internal Server Error", NULL);
			continue;
		}
		m->scrapes++;
		respond(n, k, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
			NULL, p.buf, p.len);
	}
	prom_free(&p);
}

/* A scrape: ask the dataplane, unless a STATS is already out. */
static void scrape(struct ctl_node *n, struct ctl_metrics_client *k)
{
	struct ctl_metrics *m = &n->metrics;
	struct ctlmsg_hdr h = { 0 };

	k->state = CTL_MC_WAITING;
	if (m->stats_seq)
		return;
	if (n->dp_fd >= 0 && !ctl_node_send(n, &h, CTLMSG_STATS, sizeof(h))) {
		m->stats_seq = h.seq;
		m->stats_deadline_ns = n->now_ns + CTL_METRICS_WAIT_MS * NSEC_PER_MSEC;
		return;
	}
	serve_waiting(n, NULL);
}

/*
 * The request line of a complete request: "GET /path?query HTTP/1.1".
 * Headers are not needed; the blank line ended them.
 */
static void on_request(struct ctl_node *n, struct ctl_metrics_client *k)
{
	char *line = k->in, *method, *target, *version, *end, *q;

	end = strpbrk(line, "\r\n");
	*end = '\0';
	method = line;
	target = strchr(method, ' ');
	if (!target)
		goto bad;
	*target++ = '\0';
	version = strchr(target, ' ');
	if (!version)
		goto bad;
	*version++ = '\0';
	if (strncmp(version, "HTTP/1.", 7))
		goto bad;
	k->head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !k->head) {
		http_error(n, k, "405 Method Not Allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	q = strchr(target, '?');
	if (q)
		*q = '\0';
	if (strcmp(target, n->cfg.stats_path)) {
		http_error(n, k, "404 Not Found", NULL);
		return;
	}
	scrape(n, k);
	return;
bad:
	http_error(n, k, "400 Bad Request", NULL);
}

static void on_readable(struct ctl_node *n, struct ctl_metrics_client *k)
{
	ssize_t r = recv(k->fd, k->in + k->in_len,
			 sizeof(k->in) - 1 - k->in_len, MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		client_close(k);
		return;
	}
	k->in_len += (size_t)r;
	k->in[k->in_len] = '\0';
	if (strstr(k->in, "\r\n\r\n") || strstr(k->in, "\n\n")) {
		on_request(n, k);
		return;
	}
	if (k->in_len == sizeof(k->in) - 1)
		http_error(n, k, "431 Request Header Fields Too Large", NULL);
}

static void on_writable(struct ctl_metrics_client *k)
{
	ssize_t w = send(k->fd, k->out + k->out_off, k->out_len - k->out_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);

	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (w <= 0) {
		client_close(k);
		return;
	}
	k->out_off += (size_t)w;
	if (k->out_off == k->out_len)
		client_close(k);
}

static void on_accept(struct ctl_node *n)
{
	struct ctl_metrics *m = &n->metrics;

	for (int i = 0; i < CTL_METRICS_CLIENTS; i++) {
		struct ctl_metrics_client *k = &m->client[i];
		int fd;

		if (k->state != CTL_MC_FREE)
			continue;
		fd = accept4(m->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		k->fd = fd;
		k->state = CTL_MC_READING;
		k->in_len = 0;
		k->head = false;
		k->deadline_ns = n->now_ns + CTL_METRICS_IDLE_MS * NSEC_PER_MSEC;
	}
}

unsigned int ctl_metrics_pollfds(struct ctl_node *n, struct pollfd *pfd)
{
	struct ctl_metrics *m = &n->metrics;
	unsigned int k = 0;
	bool room = false;

	if (m->listen_fd < 0)
		return 0;
	for (int i = 0; i < CTL_METRICS_CLIENTS; i++) {
		const struct ctl_metrics_client *c = &m->client[i];

		room |= c->state == CTL_MC_FREE;
		if (c->state == CTL_MC_READING)
			pfd[k++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		else if (c->state == CTL_MC_WRITING)
			pfd[k++] = (struct pollfd){ .fd = c->fd, .events = POLLOUT };
	}
	/* Full: new connections wait in the backlog. */
	if (room)
		pfd[k++] = (struct pollfd){ .fd = m->listen_fd, .events = POLLIN };
	return k;
}

void ctl_metrics_on_poll(struct ctl_node *n, const struct pollfd *pfd,
			 unsigned int count)
{
	struct ctl_metrics *m = &n->metrics;

	for (unsigned int j = 0; j < count; j++) {
		if (!pfd[j].revents)
			continue;
		if (pfd[j].fd == m->listen_fd) {
			on_accept(n);
			continue;
		}
		for (int i = 0; i < CTL_METRICS_CLIENTS; i++) {
			struct ctl_metrics_client *k = &m->client[i];

			if (k->state == CTL_MC_FREE || k->fd != pfd[j].fd)
				continue;
			if (k->state == CTL_MC_READING)
				on_readable(n, k);
			else if (k->state == CTL_MC_WRITING)
				on_writable(k);
			break;
		}
	}
}

void ctl_metrics_timers(struct ctl_node *n)
{
	struct ctl_metrics *m = &n->metrics;

	if (m->listen_fd < 0)
		return;
	/*
	 * The dataplane did not answer in time, or its connection went
	 * (disconnect() forgets the STATS): serve whoever waits without it.
	 */
	if (m->stats_seq && n->now_ns >= m->stats_deadline_ns)
		m->stats_seq = 0;
	if (!m->stats_seq)
		serve_waiting(n, NULL);
	for (int i = 0; i < CTL_METRICS_CLIENTS; i++) {
		struct ctl_metrics_client *k = &m->client[i];

		if ((k->state == CTL_MC_READING || k->state == CTL_MC_WRITING) &&
		    n->now_ns >= k->deadline_ns)
			client_close(k);
	}
}

void ctl_metrics_on_stats(struct ctl_node *n,
			  const struct ctlmsg_stats_reply *r)
{
	struct ctl_metrics *m = &n->metrics;

	/* Only the answer to our STATS: a late one was served without. */
	if (!m->stats_seq || r->hdr.seq != m->stats_seq)
		return;
	m->stats_seq = 0;
	serve_waiting(n, r);
}

/* ---- the listening socket --------------------------------------------- */

/* "host:port", "[v6]:port" or ":port" into getaddrinfo's host and port. */
static int split_listen(const char *s, char *host, size_t host_len,
			const char **port)
{
	const char *colon = strrchr(s, ':');
	size_t len;

	if (!colon)
		return -EINVAL;
	*port = colon + 1;
	len = (size_t)(colon - s);
	if (len >= 2 && s[0] == '[' && colon[-1] == ']') {
		s++;
		len -= 2;
	}
	if (len >= host_len)
		return -EINVAL;
	memcpy(host, s, len);
	host[len] = '\0';
	return 0;
}

static int listen_on(const struct addrinfo *a)
{
	int one = 1, zero = 0;
	int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			a->ai_protocol);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* ":port": [::] takes IPv4 too, as Go's listener does. */
	if (a->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int ctl_metrics_open(struct ctl_node *n, struct vl_status *st)
{
	struct ctl_metrics *m = &n->metrics;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[256];
	const char *port;
	int fd = -EADDRNOTAVAIL, gai;

	m->listen_fd = -1;
	for (int i = 0; i < CTL_METRICS_CLIENTS; i++)
		m->client[i].fd = -1;
	m->start_s = (uint64_t)time(NULL);
	if (!n->cfg.stats_on)
		return 0;
	if (split_listen(n->cfg.stats_listen, host, sizeof(host), &port))
		return vl_status_set(st, -EINVAL, "stats.listen: \"%s\" is not host:port",
				     n->cfg.stats_listen);
	/* ":port": every address; IPv6 first, which takes IPv4 as well. */
	if (!*host)
		hints.ai_family = AF_INET6;
	gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (gai && !*host) {
		hints.ai_family = AF_INET;
		gai = getaddrinfo(NULL, port, &hints, &res);
	}
	if (gai)
		return vl_status_set(st, -EINVAL, "stats.listen: %s: %s",
				     n->cfg.stats_listen, gai_strerror(gai));
	for (const struct addrinfo *a = res; a; a = a->ai_next) {
		fd = listen_on(a);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return vl_status_set(st, fd, "stats.listen: cannot listen on %s: %s",
				     n->cfg.stats_listen, strerror(-fd));
	m->listen_fd = fd;
	vl_log(VL_LOG_INFO, "Starting prometheus stats listener", "addr",
	       n->cfg.stats_listen, "path", n->cfg.stats_path, NULL);
	return 0;
}

void ctl_metrics_close(struct ctl_node *n)
{
	struct ctl_metrics *m = &n->metrics;

	for (int i = 0; i < CTL_METRICS_CLIENTS; i++)
		if (m->client[i].state != CTL_MC_FREE)
			client_close(&m->client[i]);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	m->listen_fd = -1;
}
