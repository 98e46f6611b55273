/* SPDX-License-Identifier: MIT */
/*
 * vela-control's event loop and its end of the control channel.
 *
 * The dataplane owns the socket; we connect, say HELLO and send SETUP
 * (which a running dataplane accepts again unchanged). Then:
 * - the dataplane had tunnels and we have none: we restarted. DUMP and
 *   adopt them: no handshake, traffic never stopped;
 * - we have tunnels and the dataplane has none: it restarted. Install them
 *   again with send counters above every lease we granted, so no nonce is
 *   used twice.
 * If the connection drops we keep our state and reconnect every second.
 *
 * One thread, one poll() over the socket with a 100 ms tick for timers.
 */
#include "node.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "fw_compile.h"
#include "ipnet.h"
#include "log.h"
#include "status.h"
#include "wire.h"

#define TICK_MS 100
#define READ_BURST 64 /* dataplane records read per wakeup */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ctl_ip_str(uint32_t ip, char buf[16])
{
	vl_ip4_format(ip, buf, 16);
}

void ctl_addr_str(const struct sockaddr_in6 *a, char *buf, size_t len)
{
	if (!vl_addr_format(a, buf, len))
		snprintf(buf, len, "(none)");
}

unsigned int ctl_addr_resolve(const char *hostport, struct sockaddr_in6 *out,
			      unsigned int max)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICSERV }, *res, *ai;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	unsigned int n = 0;
	size_t hl;

	if (!colon)
		return 0;
	hl = (size_t)(colon - hostport);
	if (hostport[0] == '[' && hl >= 2) {
		hostport++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return 0;
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return 0;
	for (ai = res; ai && n < max; ai = ai->ai_next) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6 };

		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *v4 = (const void *)ai->ai_addr;

			a.sin6_port = v4->sin_port;
			a.sin6_addr.s6_addr[10] = 0xff;
			a.sin6_addr.s6_addr[11] = 0xff;
			memcpy(a.sin6_addr.s6_addr + 12, &v4->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6) {
			memcpy(&a, ai->ai_addr, sizeof(a));
		} else {
			continue;
		}
		out[n++] = a;
	}
	freeaddrinfo(res);
	return n;
}

int ctl_node_init(struct ctl_node *n, const char *config_path,
		  struct vl_status *st)
{
	struct timespec now;
	char *warnings = NULL;
	int err;

	memset(n, 0, sizeof(*n));
	n->dp_fd = -1;
	n->metrics.listen_fd = -1; /* ctl_metrics_open() binds it */
	err = ctl_config_load(&n->cfg, config_path, &warnings, st);
	if (err)
		return err;
	vl_log_setup((enum vl_log_level)n->cfg.log_level,
		     n->cfg.log_format == CTL_LOG_JSON,
		     n->cfg.disable_timestamp);
	if (warnings) {
		for (char *line = strtok(warnings, "\n"); line;
		     line = strtok(NULL, "\n"))
			vl_log(VL_LOG_WARN, line, NULL);
		free(warnings);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	err = ctl_pki_load(&n->pki, &n->cfg, &now, stderr, st);
	if (err)
		goto free_cfg;
	n->fw_gen = 1;
	err = ctl_fw_compile(&n->cfg, n->fw_gen, &n->fw, &n->fw_len, st);
	if (err)
		goto free_pki;
	n->socket_path = n->cfg.socket;

	n->statics = calloc(n->cfg.n_static_hosts + 1, sizeof(*n->statics));
	if (!n->statics) {
		err = vl_status_set(st, -ENOMEM, "out of memory");
		goto free_pki;
	}
	for (size_t i = 0; i < n->cfg.n_static_hosts; i++) {
		const struct ctl_static_host *h = &n->cfg.static_hosts[i];
		struct ctl_static_addrs *s = &n->statics[n->n_statics++];

		/* static_host_map keys must be inside the VPN network. */
		if ((h->vpn_ip & n->pki.vpn_mask) !=
		    (n->pki.vpn_ip & n->pki.vpn_mask)) {
			char ip[16];

			ctl_ip_str(h->vpn_ip, ip);
			err = vl_status_set(st, -EINVAL,
					    "%s:%u: static_host_map: %s is not in the VPN network of our certificate",
					    n->cfg.path, h->line, ip);
			goto free_statics;
		}
		s->vpn_ip = h->vpn_ip;
		for (size_t k = 0; k < h->n_addrs && s->n_addrs < CTL_ADDRS_MAX;
		     k++) {
			unsigned int got = ctl_addr_resolve(
				h->addrs[k], s->addrs + s->n_addrs,
				CTL_ADDRS_MAX - s->n_addrs);

			if (!got)
				vl_log(VL_LOG_WARN,
				       "Could not resolve a static_host_map address",
				       "address", h->addrs[k], NULL);
			s->n_addrs += got;
		}
	}
	ctl_lh_init(n);
	return 0;

free_statics:
	free(n->statics);
	free(n->fw);
free_pki:
	ctl_pki_free(&n->pki);
free_cfg:
	ctl_config_free(&n->cfg);
	return err;
}

void ctl_node_free(struct ctl_node *n)
{
	for (size_t i = 0; i < n->n_tunnels; i++)
		ctl_tunnel_free(n->tunnels[i]);
	free(n->tunnels);
	free(n->by_index);
	for (size_t i = 0; i < n->n_pending; i++) {
		ctl_noise_wipe(&n->pending[i]->noise);
		free(n->pending[i]);
	}
	free(n->pending);
	free(n->statics);
	free(n->fw);
	ctl_lh_free(&n->lh);
	ctl_metrics_close(n);
	if (n->dp_fd >= 0)
		close(n->dp_fd);
	ctl_pki_free(&n->pki);
	ctl_config_free(&n->cfg);
	memset(n, 0, sizeof(*n));
	n->dp_fd = -1;
}

static void disconnect(struct ctl_node *n, const char *why)
{
	if (n->dp_fd < 0)
		return;
	vl_log(VL_LOG_WARN, "Lost the dataplane connection", "reason", why,
	       NULL);
	close(n->dp_fd);
	n->dp_fd = -1;
	n->set_up = false;
	n->dump_seq = 0;
	n->activity_seq = 0;
	n->metrics.stats_seq = 0; /* scrapes waiting get the page without it */
}

int ctl_node_send(struct ctl_node *n, void *msg, uint16_t type, uint32_t len)
{
	struct ctlmsg_hdr *h = msg;

	if (n->dp_fd < 0)
		return -ENOTCONN;
	h->version = CTLMSG_VERSION;
	h->type = type;
	h->len = len;
	h->seq = ++n->seq;
	h->reserved = 0;
	if (send(n->dp_fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
		int err = -errno;

		disconnect(n, strerror(errno));
		return err;
	}
	/* Nebula messages we sent, by header type (stats.message_metrics). */
	if (type == CTLMSG_INJECT_SA)
		ctl_metrics_count_msg(n, 1,
				      ((const struct ctlmsg_inject_sa *)msg)->type);
	else if (type == CTLMSG_INJECT_RAW &&
		 ((const struct ctlmsg_inject_raw *)msg)->len >= WIRE_HEADER_LEN)
		ctl_metrics_count_msg(
			n, 1, ((const struct ctlmsg_inject_raw *)msg)->data[0] & 0x0f);
	return 0;
}

/* ---- the host map ---------------------------------------------------- */

bool ctl_remote_allowed(const struct ctl_node *n, uint32_t vpn_ip,
			const struct sockaddr_in6 *a)
{
	return ctl_allow_remote(n->cfg.remote_allow, n->cfg.remote_ranges,
				n->cfg.n_remote_ranges, vpn_ip, &a->sin6_addr);
}

struct ctl_tunnel *ctl_tunnel_by_vpn(struct ctl_node *n, uint32_t vpn_ip)
{
	for (size_t i = 0; i < n->n_tunnels; i++)
		if (n->tunnels[i]->add.vpn_ip == vpn_ip)
			return n->tunnels[i];
	return NULL;
}

static size_t index_slot(uint32_t index, size_t cap)
{
	return (size_t)(index * 2654435761u) & (cap - 1);
}

static void index_put(struct ctl_tunnel **tab, size_t cap,
		      struct ctl_tunnel *t)
{
	size_t i = index_slot(t->add.local_index, cap);

	while (tab[i])
		i = (i + 1) & (cap - 1);
	tab[i] = t;
}

/* The index for the tunnels there are, at most half full. */
static void index_rebuild(struct ctl_node *n)
{
	size_t cap = 64;
	struct ctl_tunnel **tab;

	while (cap < 2 * (n->n_tunnels + 1))
		cap *= 2;
	tab = calloc(cap, sizeof(*tab));
	free(n->by_index);
	n->by_index = tab;
	n->by_index_cap = tab ? cap : 0; /* out of memory: lookups scan */
	for (size_t i = 0; tab && i < n->n_tunnels; i++)
		index_put(tab, cap, n->tunnels[i]);
}

/* @t was just appended to n->tunnels. */
static void index_add(struct ctl_node *n, struct ctl_tunnel *t)
{
	if (!n->by_index_cap || 2 * n->n_tunnels > n->by_index_cap)
		index_rebuild(n);
	else
		index_put(n->by_index, n->by_index_cap, t);
}

struct ctl_tunnel *ctl_tunnel_by_index(struct ctl_node *n, uint32_t index)
{
	if (n->by_index_cap) {
		size_t i = index_slot(index, n->by_index_cap);

		for (; n->by_index[i]; i = (i + 1) & (n->by_index_cap - 1))
			if (n->by_index[i]->add.local_index == index)
				return n->by_index[i];
		return NULL;
	}
	for (size_t i = 0; i < n->n_tunnels; i++)
		if (n->tunnels[i]->add.local_index == index)
			return n->tunnels[i];
	return NULL;
}

struct ctl_tunnel *ctl_tunnel_by_remote_index(struct ctl_node *n,
					      uint32_t index)
{
	for (size_t i = 0; i < n->n_tunnels; i++)
		if (n->tunnels[i]->add.remote_index == index)
			return n->tunnels[i];
	return NULL;
}

uint32_t ctl_index_new(struct ctl_node *n)
{
	/* As 1.6.1: random, non-zero, unique, up to 32 tries (§3.6). */
	for (int i = 0; i < 32; i++) {
		uint32_t idx = randombytes_random();
		bool used = !idx || ctl_tunnel_by_index(n, idx);

		for (size_t k = 0; !used && k < n->n_pending; k++)
			used = n->pending[k]->local_index == idx;
		if (!used)
			return idx;
	}
	return randombytes_random() | 1;
}

void ctl_tunnel_free(struct ctl_tunnel *t)
{
	if (!t)
		return;
	ctl_cert_free(t->cert);
	free(t->msg1);
	free(t->msg2);
	sodium_memzero(t, sizeof(*t));
	free(t);
}

static int send_add(struct ctl_node *n, struct ctl_tunnel *t)
{
	struct ctlmsg_tunnel_add m = t->add;
	int err = ctl_node_send(n, &m, CTLMSG_TUNNEL_ADD, sizeof(m));

	if (!err)
		t->add_seq = m.hdr.seq;
	sodium_memzero(&m, sizeof(m));
	return err;
}

static void send_del(struct ctl_node *n, uint32_t index, bool send_close)
{
	struct ctlmsg_tunnel_del m = { .local_index = index,
				       .send_close = send_close };

	ctl_node_send(n, &m, CTLMSG_TUNNEL_DEL, sizeof(m));
}

int ctl_tunnel_install(struct ctl_node *n, struct ctl_tunnel *t)
{
	struct ctl_tunnel *old = ctl_tunnel_by_vpn(n, t->add.vpn_ip);
	struct ctl_tunnel **more;
	int err;

	more = realloc(n->tunnels, (n->n_tunnels + 1) * sizeof(*more));
	if (!more) {
		ctl_tunnel_free(t);
		return -ENOMEM;
	}
	n->tunnels = more;
	/*
	 * The new tunnel first: the dataplane flushes its queue onto it. A
	 * tunnel the dataplane never got is not kept: the caller must not
	 * answer a handshake for it.
	 */
	err = send_add(n, t);
	if (err) {
		ctl_tunnel_free(t);
		return err;
	}
	n->tunnels[n->n_tunnels++] = t;
	n->counters.tunnels_created++;
	index_add(n, t);
	if (old)
		ctl_tunnel_remove(n, old, false);
	return 0;
}

void ctl_tunnel_remove(struct ctl_node *n, struct ctl_tunnel *t,
		       bool send_close)
{
	uint32_t vpn_ip = t->add.vpn_ip;
	char ip[16];

	ctl_ip_str(vpn_ip, ip);
	vl_log(VL_LOG_INFO, "Tunnel closed", "vpnIp", ip, "certName", t->name,
	       NULL);
	send_del(n, t->add.local_index, send_close);
	n->counters.tunnels_closed++;
	for (size_t i = 0; i < n->n_tunnels; i++) {
		if (n->tunnels[i] != t)
			continue;
		n->tunnels[i] = n->tunnels[--n->n_tunnels];
		break;
	}
	index_rebuild(n);
	ctl_tunnel_free(t);
	/* A replaced tunnel leaves its successor: the peer is still there. */
	if (!ctl_tunnel_by_vpn(n, vpn_ip))
		ctl_lh_forget(n, vpn_ip);
}

void ctl_node_dump(struct ctl_node *n)
{
	struct ctlmsg_hdr dump;

	/* A dump that never ended (a lost DUMP_END) stops blocking after 10 s. */
	if (n->dump_seq && n->now_ns - n->dump_sent_ns < UINT64_C(10000000000))
		return;
	if (ctl_node_send(n, &dump, CTLMSG_DUMP, sizeof(dump)) == 0) {
		n->dump_seq = dump.seq;
		n->dump_sent_ns = n->now_ns;
	}
}

/*
 * The end of a DUMP: every tunnel we installed before asking should have
 * been listed. One that was not got lost on the way (a connection that
 * dropped with our TUNNEL_ADD unread) and is installed again, counters
 * above its lease; one still missing after that is dropped here too, so
 * we never answer for a tunnel the dataplane does not have.
 */
static void dump_end(struct ctl_node *n, uint32_t seq)
{
	char ip[16];

	if (seq != n->dump_seq)
		return;
	n->dump_seq = 0;
	for (size_t i = 0; i < n->n_tunnels;) {
		struct ctl_tunnel *t = n->tunnels[i];

		/* Sent after our DUMP, or listed: fine. */
		if ((int32_t)(t->add_seq - seq) > 0 || t->seen_in_dump == seq) {
			t->repair_tried = false;
			i++;
			continue;
		}
		ctl_ip_str(t->add.vpn_ip, ip);
		if (!t->repair_tried) {
			vl_log(VL_LOG_WARN,
			       "Tunnel missing from the dataplane, installing it again",
			       "vpnIp", ip, "certName", t->name, NULL);
			t->repair_tried = true;
			t->add.send_counter = t->add.lease_end;
			t->add.lease_end += CTLMSG_LEASE_STEP;
			send_add(n, t);
			i++;
			continue;
		}
		vl_log(VL_LOG_WARN, "Tunnel still missing from the dataplane, dropping it",
		       "vpnIp", ip, "certName", t->name, NULL);
		ctl_tunnel_remove(n, t, false); /* swaps the last one into i */
	}
}

/* ---- the dataplane connection --------------------------------------- */

static int listen_addr(const char *host, uint16_t port,
		       struct sockaddr_in6 *a)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t len = strlen(host);
	uint32_t ip4;

	memset(a, 0, sizeof(*a));
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	if (vl_ip4_parse(host, &ip4) == 0) {
		a->sin6_addr.s6_addr[10] = 0xff;
		a->sin6_addr.s6_addr[11] = 0xff;
		wire_put_be32(a->sin6_addr.s6_addr + 12, ip4);
		return 0;
	}
	if (host[0] == '[' && len > 2 && len - 2 < sizeof(buf) &&
	    host[len - 1] == ']') {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : -EINVAL;
}

static int send_setup(struct ctl_node *n)
{
	const struct ctl_config *c = &n->cfg;
	const struct ctl_cert *cert = n->pki.cert;
	struct ctlmsg_setup *m = calloc(1, sizeof(*m));
	uint64_t wait_ms;
	int err;

	if (!m)
		return -ENOMEM;
	if (listen_addr(c->listen_host, (uint16_t)c->listen_port, &m->listen)) {
		vl_log(VL_LOG_ERROR, "listen.host is not an IP address",
		       "host", c->listen_host, NULL);
		free(m);
		return -EINVAL;
	}
	m->backend = c->backend;
	m->mode = c->mode;
	m->workers = (uint32_t)c->workers;
	m->cipher = c->cipher;
	snprintf(m->interface, sizeof(m->interface), "%s", c->interface);
	snprintf(m->tun_dev, sizeof(m->tun_dev), "%s", c->tun_dev);
	m->tun_disabled = c->tun_disabled;
	m->tun_offload = c->tun_offload;
	m->flows_max = (uint32_t)c->flows;
	m->mtu = (uint32_t)c->mtu;
	m->tx_queue = (uint32_t)c->tx_queue;
	m->read_buffer = (uint32_t)c->read_buffer;
	m->write_buffer = (uint32_t)c->write_buffer;
	m->send_recv_error = c->send_recv_error;
	m->drop_local_broadcast = c->drop_local_broadcast;
	m->drop_multicast = c->drop_multicast;
	/* What the handshake may take: 1 + 2 + ... + retries intervals. */
	wait_ms = (uint64_t)c->handshake_try_interval_ns / 1000000 *
		  (uint64_t)c->handshake_retries *
		  (uint64_t)(c->handshake_retries + 1) / 2;
	m->pending_timeout_ms = (uint32_t)(wait_ms + 1000);
	m->vpn = (struct ctlmsg_net){ n->pki.vpn_ip, n->pki.vpn_mask };
	for (size_t i = 0; i < cert->n_ips && m->n_local_nets < CTLMSG_NETS_MAX;
	     i++)
		m->local_nets[m->n_local_nets++] =
			(struct ctlmsg_net){ cert->ips[i].ip, 0xffffffff };
	for (size_t i = 0;
	     i < cert->n_subnets && m->n_local_nets < CTLMSG_NETS_MAX; i++)
		m->local_nets[m->n_local_nets++] = (struct ctlmsg_net){
			cert->subnets[i].ip, cert->subnets[i].mask
		};
	for (size_t i = 0; i < c->n_routes && m->n_routes < CTLMSG_ROUTES_MAX;
	     i++)
		m->routes[m->n_routes++] = (struct ctlmsg_route){
			{ c->routes[i].route.ip, c->routes[i].route.mask }, 0,
			(uint32_t)c->routes[i].mtu, 0
		};
	for (size_t i = 0;
	     i < c->n_unsafe_routes && m->n_routes < CTLMSG_ROUTES_MAX; i++)
		m->routes[m->n_routes++] = (struct ctlmsg_route){
			{ c->unsafe_routes[i].route.ip,
			  c->unsafe_routes[i].route.mask },
			c->unsafe_routes[i].via,
			(uint32_t)c->unsafe_routes[i].mtu,
			(uint32_t)c->unsafe_routes[i].metric
		};
	err = ctl_node_send(n, m, CTLMSG_SETUP, sizeof(*m));
	free(m);
	/* The rules before any tunnel: a tunnel without them passes nothing. */
	if (!err)
		err = ctl_node_send(n, n->fw, CTLMSG_FIREWALL, n->fw_len);
	return err;
}

/* The record without its header and generation: what a reload compares. */
static bool same_rules(const struct ctlmsg_firewall *a, uint32_t a_len,
		       const struct ctlmsg_firewall *b, uint32_t b_len)
{
	size_t skip = offsetof(struct ctlmsg_firewall, n_inbound);

	return a_len == b_len &&
	       !memcmp((const uint8_t *)a + skip, (const uint8_t *)b + skip,
		       a_len - skip);
}

/* A tunnel's firewall identity, to a dataplane that has the tunnel. */
static void send_identity(struct ctl_node *n, const struct ctl_tunnel *t)
{
	struct ctlmsg_tunnel_identity m;

	/* Not set up: a TUNNEL_ADD from t->add, or the DUMP check, follows. */
	if (!n->set_up)
		return;
	memset(&m, 0, sizeof(m));
	m.local_index = t->add.local_index;
	m.fw_peer = t->add.fw_peer;
	ctl_node_send(n, &m, CTLMSG_TUNNEL_IDENTITY, sizeof(m));
}

/*
 * The CA pool changed: every tunnel's firewall identity again. Its CA
 * name, what ca_name rules compare, is that of the CA in *our* pool that
 * issued the peer's certificate, so it may now be another one or none
 * (1.6.1's FirewallCA.match asks the pool in force at every packet, so
 * there it follows reloadCA at once). Only changed identities are sent.
 * Nothing else happens to the tunnels here, as in 1.6.1: one whose
 * certificate no longer verifies is closed only with
 * pki.disconnect_invalid, at its next liveness check (connmgr.c).
 */
static void refresh_identities(struct ctl_node *n)
{
	size_t changed = 0;
	char count[24];

	for (size_t i = 0; i < n->n_tunnels;) {
		struct ctl_tunnel *t = n->tunnels[i];
		struct vl_status st = { "" };
		struct ctlmsg_fw_peer id;

		if (!t->cert) { /* every tunnel has one; never guess */
			i++;
			continue;
		}
		if (ctl_fw_peer_identity(t->cert, &n->pki.pool, &id, &st)) {
			/* As a handshake would refuse it now (handshake.c). */
			vl_log(VL_LOG_ERROR,
			       "Closing the tunnel: no firewall identity under the new CA pool",
			       "certName", t->name, "error", st.msg, NULL);
			ctl_tunnel_remove(n, t, true); /* the last one into i */
			continue;
		}
		if (memcmp(&id, &t->add.fw_peer, sizeof(id))) {
			t->add.fw_peer = id;
			send_identity(n, t);
			changed++;
		}
		i++;
	}
	snprintf(count, sizeof(count), "%zu", changed);
	vl_log(changed ? VL_LOG_INFO : VL_LOG_DEBUG,
	       "Tunnel firewall identities updated for the new CA pool",
	       "tunnels", count, NULL);
}

/* "fp1, fp2": the pool's CA fingerprints, as 1.6.1 logs them; malloc'd. */
static char *pool_fingerprints(const struct ctl_capool *pool)
{
	char *out = malloc(pool->n_cas * (CTL_CERT_FP_HEX + 2) + 1);
	size_t pos = 0;

	if (!out)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < pool->n_cas; i++) {
		if (i) {
			memcpy(out + pos, ", ", 3);
			pos += 2;
		}
		ctl_cert_fp_hex(pool->ca_fps[i], out + pos);
		pos += CTL_CERT_FP_HEX - 1;
	}
	return out;
}

/*
 * pki.ca and pki.blocklist (1.6.1's Interface.reloadCA): a pool that
 * loads replaces ours whole, then the tunnels' identities follow; one
 * that does not changes nothing. New handshakes verify against it.
 */
static int reload_ca(struct ctl_node *n, const struct ctl_config *cfg,
		     const struct timespec *now)
{
	struct vl_status st = { "" };
	struct ctl_capool pool;
	char *fps, blocked[24];

	if (ctl_pki_load_pool(&pool, cfg, now, stderr, &st)) {
		vl_log(VL_LOG_ERROR,
		       "Could not refresh trusted CA certificates, the old ones stay",
		       "error", st.msg, NULL);
		return -1;
	}
	ctl_capool_free(&n->pki.pool);
	n->pki.pool = pool;
	fps = pool_fingerprints(&n->pki.pool);
	snprintf(blocked, sizeof(blocked), "%zu", n->pki.pool.n_blocked);
	vl_log(VL_LOG_INFO, "Trusted CA certificates refreshed", "fingerprints",
	       fps ? fps : "?", "blocklisted", blocked, NULL);
	free(fps);
	refresh_identities(n);
	return 0;
}

/*
 * pki.cert and pki.key (1.6.1's Interface.reloadCertKey): the new pair
 * when it loads and keeps our IPs (ctl_pki_reload_own), else the old one.
 * Tunnels up keep their session keys; handshakes from now on send the new
 * certificate. Our own certificate is not a firewall input.
 */
static int reload_own(struct ctl_node *n, const struct ctl_config *cfg,
		      const struct timespec *now)
{
	struct vl_status st = { "" };
	uint8_t fp[CTL_CERT_FP_LEN];
	char hex[CTL_CERT_FP_HEX], groups[256] = "";
	size_t pos = 0;

	if (ctl_pki_reload_own(&n->pki, cfg, now, &st)) {
		vl_log(VL_LOG_ERROR,
		       "Could not refresh client cert, the old one stays",
		       "error", st.msg, NULL);
		return -1;
	}
	if (ctl_cert_fingerprint(n->pki.cert, fp))
		snprintf(hex, sizeof(hex), "?");
	else
		ctl_cert_fp_hex(fp, hex);
	for (size_t i = 0; i < n->pki.cert->n_groups && pos < sizeof(groups);
	     i++) {
		int w = snprintf(groups + pos, sizeof(groups) - pos, "%s%s",
				 i ? "," : "", n->pki.cert->groups[i]);

		if (w < 0)
			break;
		pos += (size_t)w;
	}
	vl_log(VL_LOG_INFO, "Client cert refreshed from disk", "certName",
	       n->pki.cert->name, "groups", groups, "fingerprint", hex, NULL);
	return 0;
}

/*
 * firewall.*: compiled, and sent when it differs from the rules in force.
 * A section that does not compile keeps the old rules.
 */
static int reload_firewall(struct ctl_node *n, const struct ctl_config *cfg)
{
	struct vl_status st = { "" };
	struct ctlmsg_firewall *fw;
	char gen[16];
	uint32_t len;
	int err;

	err = ctl_fw_compile(cfg, n->fw_gen + 1, &fw, &len, &st);
	if (err) {
		vl_log(VL_LOG_ERROR,
		       "Failed to reload the firewall, the old rules stay",
		       "error", st.msg, NULL);
		return -1;
	}
	if (same_rules(fw, len, n->fw, n->fw_len)) {
		vl_log(VL_LOG_INFO, "Firewall rules unchanged", NULL);
		free(fw);
		return 0;
	}
	free(n->fw);
	n->fw = fw;
	n->fw_len = len;
	n->fw_gen++;
	snprintf(gen, sizeof(gen), "%u", n->fw_gen);
	/* Not connected: the next SETUP sends these. */
	if (n->set_up)
		ctl_node_send(n, n->fw, CTLMSG_FIREWALL, n->fw_len);
	vl_log(VL_LOG_INFO, "New firewall has been installed", "generation",
	       gen, NULL);
	return 0;
}

/*
 * As 1.6.1's reload callbacks, in its order (RegisterConfigChangeCallbacks):
 * the CA pool, our certificate and key, the firewall. Each is all or
 * nothing and independent of the others; a config that does not load
 * changes nothing at all. Other settings (pki.disconnect_invalid
 * included, which 1.6.1 reads once at start) keep their start-up values.
 */
void ctl_node_reload(struct ctl_node *n)
{
	struct vl_status st = { "" };
	struct ctl_config cfg;
	struct timespec now;
	char *warnings = NULL;
	int err;

	vl_log(VL_LOG_INFO, "Caught HUP, reloading config", NULL);
	err = ctl_config_load(&cfg, n->cfg.path, &warnings, &st);
	if (err) {
		vl_log(VL_LOG_ERROR, "Failed to reload config, nothing changed",
		       "error", st.msg, NULL);
		n->counters.reloads_failed++;
		return;
	}
	if (warnings) {
		for (char *line = strtok(warnings, "\n"); line;
		     line = strtok(NULL, "\n"))
			vl_log(VL_LOG_WARN, line, NULL);
		free(warnings);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	/* Each step runs whatever the others did; one failing fails the reload. */
	err = reload_ca(n, &cfg, &now);
	err |= reload_own(n, &cfg, &now);
	err |= reload_firewall(n, &cfg);
	if (err) {
		n->counters.reloads_failed++;
	} else {
		n->counters.reloads_ok++;
		n->counters.last_reload_ok_s = (uint64_t)now.tv_sec;
	}
	ctl_config_free(&cfg);
}

static void try_connect(struct ctl_node *n)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ctlmsg_hello hello = { .role = CTLMSG_ROLE_CONTROL };
	int fd;

	if (strlen(n->socket_path) >= sizeof(sun.sun_path))
		return;
	strcpy(sun.sun_path, n->socket_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		close(fd);
		return;
	}
	n->dp_fd = fd;
	hello.pid = (uint32_t)getpid();
	if (ctl_node_send(n, &hello, CTLMSG_HELLO, sizeof(hello)) == 0)
		send_setup(n);
}

/* The dataplane restarted: every tunnel again, counters above the leases. */
static void reinstall(struct ctl_node *n)
{
	for (size_t i = 0; i < n->n_tunnels; i++) {
		struct ctl_tunnel *t = n->tunnels[i];

		t->add.send_counter = t->add.lease_end;
		t->add.lease_end += CTLMSG_LEASE_STEP;
		send_add(n, t);
	}
}

/* We restarted: take over what the dataplane still forwards. */
static void adopt(struct ctl_node *n, const struct ctlmsg_dump_tunnel *d)
{
	struct vl_status st = { "" };
	struct ctl_tunnel *t;
	struct ctl_cert *c;
	char ip[16];

	if (ctl_tunnel_by_index(n, d->tunnel.local_index))
		return;
	if (d->tunnel.cert_len > sizeof(d->tunnel.cert) ||
	    ctl_cert_decode(d->tunnel.cert, d->tunnel.cert_len, &c, &st) ||
	    !c->n_ips) {
		vl_log(VL_LOG_WARN, "Dropping a tunnel without a usable certificate",
		       "error", st.msg, NULL);
		send_del(n, d->tunnel.local_index, false);
		return;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		ctl_cert_free(c);
		return;
	}
	t->add = d->tunnel;
	t->cert = c;
	t->seen_in_dump = d->hdr.seq;
	snprintf(t->name, sizeof(t->name), "%s", c->name);
	{
		struct ctl_tunnel **more = realloc(n->tunnels,
						   (n->n_tunnels + 1) *
							   sizeof(*more));

		if (!more) {
			ctl_tunnel_free(t);
			return;
		}
		n->tunnels = more;
		/* Already in the dataplane: nothing to send. */
		n->tunnels[n->n_tunnels++] = t;
		index_add(n, t);
	}
	/*
	 * Its identity was made with the pool of the control plane that
	 * installed it; ours (a new pki.ca since) decides its CA name now.
	 */
	{
		struct ctlmsg_fw_peer id;

		if (!ctl_fw_peer_identity(c, &n->pki.pool, &id, &st) &&
		    memcmp(&id, &t->add.fw_peer, sizeof(id))) {
			t->add.fw_peer = id;
			send_identity(n, t);
		}
	}
	ctl_ip_str(t->add.vpn_ip, ip);
	vl_log(VL_LOG_INFO, "Adopted tunnel from the running dataplane",
	       "vpnIp", ip, "certName", t->name, NULL);
	ctl_lh_on_tunnel_up(n, t);
}

static void grant_lease(struct ctl_node *n, const struct ctlmsg_lease *req)
{
	struct ctl_tunnel *t = ctl_tunnel_by_index(n, req->local_index);
	struct ctlmsg_lease m = { .local_index = req->local_index };

	if (!t)
		return;
	if (req->lease_end > t->add.lease_end)
		t->add.lease_end = req->lease_end;
	t->add.lease_end += CTLMSG_LEASE_STEP;
	if (req->recv_max > t->add.recv_max)
		t->add.recv_max = req->recv_max;
	m.lease_end = t->add.lease_end;
	ctl_node_send(n, &m, CTLMSG_LEASE_GRANT, sizeof(m));
}

/* recv_error (§5.1): the peer lost our tunnel; the 4th one ends it. */
static void on_recv_error(struct ctl_node *n, const struct ctlmsg_punt *p)
{
	struct wire_header h;
	struct ctl_tunnel *t;

	if (p->len < WIRE_HEADER_LEN)
		return;
	wire_header_decode(p->data, &h);
	t = ctl_tunnel_by_remote_index(n, h.remote_index);
	if (!t)
		return;
	if (++t->recv_errors < WIRE_RECV_ERROR_LIMIT)
		return;
	/* Only from the address we use, so a stranger cannot end it. */
	if (t->add.remote.sin6_family &&
	    memcmp(&t->add.remote.sin6_addr, &p->from.sin6_addr, 16))
		return;
	ctl_tunnel_remove(n, t, false);
}

static void on_roam(struct ctl_node *n, const struct ctlmsg_punt *p)
{
	struct ctl_tunnel *t = ctl_tunnel_by_index(n, p->local_index);
	struct ctlmsg_tunnel_remote m = { .local_index = p->local_index,
					  .remote = p->from };
	char from[64], ip[16];

	/* Reports that crossed our update say what we already know. */
	if (!t || !memcmp(&t->add.remote, &p->from, sizeof(p->from)))
		return;
	if (!ctl_remote_allowed(n, t->add.vpn_ip, &p->from)) {
		ctl_addr_str(&p->from, from, sizeof(from));
		ctl_ip_str(t->add.vpn_ip, ip);
		vl_log(VL_LOG_DEBUG, "lighthouse.remote_allow_list denied roaming",
		       "vpnIp", ip, "udpAddr", from, NULL);
		return;
	}
	t->add.remote = p->from;
	ctl_node_send(n, &m, CTLMSG_TUNNEL_REMOTE, sizeof(m));
	ctl_lh_on_roam(n, t);
	ctl_addr_str(&p->from, from, sizeof(from));
	ctl_ip_str(t->add.vpn_ip, ip);
	vl_log(VL_LOG_INFO, "Host roamed to new udp ip/port.", "vpnIp", ip,
	       "newAddr", from, NULL);
}

static void on_tunnel_msg(struct ctl_node *n, const struct ctlmsg_punt *p)
{
	struct ctl_tunnel *t = ctl_tunnel_by_index(n, p->local_index);

	if (!t)
		return;
	switch (p->type) {
	case WIRE_CLOSE_TUNNEL:
		ctl_tunnel_remove(n, t, false);
		break;
	case WIRE_LIGHTHOUSE:
		/* Any subtype: 1.6.1 does not look at it for type 3. */
		ctl_lh_on_message(n, t, p->data, p->len);
		break;
	case WIRE_CONTROL:
	default:
		/* Relay messages come with their issue. */
		break;
	}
}

static void on_punt(struct ctl_node *n, const struct ctlmsg_punt *p,
		    size_t len)
{
	if (len < offsetof(struct ctlmsg_punt, data) ||
	    p->len > sizeof(p->data) ||
	    len < offsetof(struct ctlmsg_punt, data) + p->len)
		return;
	switch (p->reason) {
	case CTLMSG_PUNT_HANDSHAKE:
		ctl_metrics_count_msg(n, 0, WIRE_HANDSHAKE);
		ctl_hs_on_packet(n, p);
		break;
	case CTLMSG_PUNT_MISS:
		ctl_hs_start(n, p->vpn_ip);
		break;
	case CTLMSG_PUNT_RECV_ERROR:
		ctl_metrics_count_msg(n, 0, WIRE_RECV_ERROR);
		on_recv_error(n, p);
		break;
	case CTLMSG_PUNT_ROAM:
		on_roam(n, p);
		break;
	case CTLMSG_PUNT_TUNNEL_MSG:
		ctl_metrics_count_msg(n, 0, p->type);
		on_tunnel_msg(n, p);
		break;
	default:
		break;
	}
}

static void on_setup_done(struct ctl_node *n, const struct ctlmsg_setup_done *m)
{
	char port[8], workers[8];

	if (m->err) {
		vl_log(VL_LOG_ERROR, "The dataplane refused the setup", "error",
		       m->msg, NULL);
		disconnect(n, "setup refused");
		return;
	}
	n->set_up = true;
	n->port = m->port;
	ctl_lh_on_setup(n);
	snprintf(port, sizeof(port), "%u", m->port);
	snprintf(workers, sizeof(workers), "%u", m->workers);
	vl_log(VL_LOG_INFO, "Dataplane ready", "port", port, "tun", m->tun_dev,
	       "workers", workers, "note", m->msg, NULL);
}

/* Counters of up to CTLMSG_ACTIVITY_MAX tunnels, for the liveness checks. */
static void on_activity(struct ctl_node *n, const void *buf, size_t len)
{
	const size_t fixed = offsetof(struct ctlmsg_activity_reply, tunnel);
	const struct ctlmsg_activity_reply *r = buf;

	if (len < fixed || r->n > CTLMSG_ACTIVITY_MAX ||
	    len != fixed + r->n * sizeof(r->tunnel[0]))
		return;
	for (uint32_t k = 0; k < r->n; k++) {
		struct ctl_tunnel *t =
			ctl_tunnel_by_index(n, r->tunnel[k].local_index);

		/*
		 * One we do not know (a TUNNEL_DEL lost with a connection)
		 * is adopted or dropped at the next reconnect's DUMP.
		 */
		if (t)
			ctl_cm_on_activity(n, t, &r->tunnel[k]);
	}
	if (r->last && r->hdr.seq == n->activity_seq)
		n->activity_seq = 0;
}

/* One record from the dataplane. Lengths are checked before anything is read. */
void ctl_node_on_record(struct ctl_node *n, const void *buf, size_t len)
{
	const struct ctlmsg_hdr *h = buf;

	if (len < sizeof(*h) || h->version != CTLMSG_VERSION || h->len != len)
		return;
	switch (h->type) {
	case CTLMSG_HELLO:
		if (len == sizeof(struct ctlmsg_hello)) {
			const struct ctlmsg_hello *m = buf;

			/*
			 * Its tunnels: adopted if unknown to us, checked
			 * against ours at DUMP_END. None at all: it restarted.
			 */
			if (m->n_tunnels)
				ctl_node_dump(n);
			else if (n->n_tunnels)
				reinstall(n);
		}
		break;
	case CTLMSG_SETUP_DONE:
		if (len == sizeof(struct ctlmsg_setup_done))
			on_setup_done(n, buf);
		break;
	case CTLMSG_PUNT:
		on_punt(n, buf, len);
		break;
	case CTLMSG_LEASE_REQUEST:
		if (len == sizeof(struct ctlmsg_lease))
			grant_lease(n, buf);
		break;
	case CTLMSG_DUMP_TUNNEL:
		if (len == sizeof(struct ctlmsg_dump_tunnel)) {
			const struct ctlmsg_dump_tunnel *d = buf;
			struct ctl_tunnel *t =
				ctl_tunnel_by_index(n, d->tunnel.local_index);

			/* Ours: activity for the liveness checks; else adopt. */
			if (t) {
				struct ctlmsg_activity a = {
					.rx_packets = d->rx_packets,
					.tx_packets = d->tx_packets,
					.rx_bytes = d->rx_bytes,
					.tx_bytes = d->tx_bytes,
					.recv_max = d->tunnel.recv_max,
				};

				t->seen_in_dump = h->seq;
				/*
				 * An identity we changed (a CA reload) while
				 * this dataplane was out of reach.
				 */
				if (memcmp(&d->tunnel.fw_peer, &t->add.fw_peer,
					   sizeof(t->add.fw_peer)))
					send_identity(n, t);
				ctl_cm_on_activity(n, t, &a);
			} else {
				adopt(n, d);
			}
		}
		break;
	case CTLMSG_ACTIVITY_REPLY:
		on_activity(n, buf, len);
		break;
	case CTLMSG_STATS_REPLY:
		if (len == sizeof(struct ctlmsg_stats_reply))
			ctl_metrics_on_stats(n, buf);
		break;
	case CTLMSG_DUMP_END:
		dump_end(n, h->seq);
		break;
	case CTLMSG_ERROR:
		if (len == sizeof(struct ctlmsg_error)) {
			const struct ctlmsg_error *e = buf;

			vl_log(VL_LOG_ERROR, "The dataplane refused a message",
			       "error", e->msg, NULL);
		}
		break;
	default:
		break;
	}
}

int ctl_node_run(struct ctl_node *n, volatile sig_atomic_t *stop,
		 volatile sig_atomic_t *reload)
{
	uint64_t next_connect = 0;
	uint8_t *buf = malloc(CTLMSG_MAX);

	if (!buf)
		return -ENOMEM;
	while (!*stop) {
		struct pollfd pfd[1 + CTL_METRICS_POLLFDS];
		unsigned int n_pfd;

		if (*reload) {
			*reload = 0;
			ctl_node_reload(n);
		}
		n->now_ns = mono_ns();
		if (n->dp_fd < 0 && n->now_ns >= next_connect) {
			try_connect(n);
			next_connect = n->now_ns + 1000000000u;
		}
		pfd[0] = (struct pollfd){ .fd = n->dp_fd, .events = POLLIN };
		n_pfd = 1 + ctl_metrics_pollfds(n, pfd + 1);
		/*
		 * Up to READ_BURST records per wakeup: a DUMP of thousands
		 * of tunnels or a burst of handshakes costs one poll(), and
		 * the timers still run between bursts.
		 */
		if (poll(pfd, n_pfd, TICK_MS) > 0) {
			n->now_ns = mono_ns();
			ctl_metrics_on_poll(n, pfd + 1, n_pfd - 1);
		}
		if (pfd[0].revents) {
			for (int k = 0; k < READ_BURST && n->dp_fd >= 0; k++) {
				ssize_t r = recv(n->dp_fd, buf, CTLMSG_MAX,
						 MSG_TRUNC | (k ? MSG_DONTWAIT : 0));

				if (r < 0 && k && (errno == EAGAIN ||
						   errno == EINTR))
					break;
				if (r <= 0) {
					disconnect(n, r ? strerror(errno) :
							  "closed");
					break;
				}
				if ((size_t)r <= CTLMSG_MAX)
					ctl_node_on_record(n, buf, (size_t)r);
			}
		}
		n->now_ns = mono_ns();
		ctl_metrics_timers(n);
		if (n->set_up) {
			ctl_hs_timers(n);
			ctl_lh_timers(n);
			ctl_cm_timers(n);
			ctl_punchy_timers(n);
		}
	}
	/* Leaving: tell every peer, as 1.6.1 does on SIGTERM (§5.3). */
	while (n->n_tunnels)
		ctl_tunnel_remove(n, n->tunnels[n->n_tunnels - 1], true);
	free(buf);
	return 0;
}
