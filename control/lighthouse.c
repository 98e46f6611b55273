/* SPDX-License-Identifier: MIT */
/*
 * Lighthouse client and server (spec §5.4).
 *
 * Trust. Every message arrives decrypted on an established tunnel, so the
 * sender's VPN IP is its certificate's; that is all the checks below use.
 * A client takes answers and punch requests only from the VPN IPs in
 * lighthouse.hosts; a lighthouse takes an update about a host only from
 * that host's own tunnel. Everything else is dropped without an answer.
 *
 * What a lighthouse serves about a host is what the host owns: the
 * addresses it reported and the address its tunnel comes from. Our own
 * static_host_map is never served (it lives in node.c, not here), and a
 * host is forgotten when its tunnel goes, so a lighthouse only ever
 * answers about hosts it can reach at that moment.
 *
 * Sending needs a tunnel. A client without a tunnel to a lighthouse starts
 * a handshake to it (lighthouses are always in static_host_map) and sends
 * its update and the pending queries once that tunnel is installed,
 * instead of queueing messages.
 */
#include "lighthouse.h"

#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "log.h"
#include "nebula.pb-c.h"
#include "node.h"
#include "wire.h"

#define NSEC_PER_SEC 1000000000ull
#define PUNCH_BACK_DELAY_NS (5 * NSEC_PER_SEC) /* punchy.respond (§5.4) */

/* ---- addresses ------------------------------------------------------- */

static struct sockaddr_in6 sa4(uint32_t ip, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port) };

	a.sin6_addr.s6_addr[10] = 0xff;
	a.sin6_addr.s6_addr[11] = 0xff;
	wire_put_be32(a.sin6_addr.s6_addr + 12, ip);
	return a;
}

/* Address and port only: scope and flow label never travel. */
static struct sockaddr_in6 clean(const struct sockaddr_in6 *in)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = in->sin6_port };

	a.sin6_addr = in->sin6_addr;
	return a;
}

static bool is_v4(const struct sockaddr_in6 *a)
{
	return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr);
}

static uint32_t v4_of(const struct sockaddr_in6 *a)
{
	return wire_get_be32(a->sin6_addr.s6_addr + 12);
}

static bool same(const struct sockaddr_in6 *a, const struct sockaddr_in6 *b)
{
	return a->sin6_port == b->sin6_port &&
	       !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr));
}

static bool in_vpn(const struct ctl_node *n, uint32_t ip)
{
	return (ip & n->pki.vpn_mask) == (n->pki.vpn_ip & n->pki.vpn_mask);
}

/*
 * Whether an address a peer gave us can be stored: 1.6.1 drops IPv4s
 * inside our VPN network (a tunnel must not run inside itself); port 0 and
 * the unspecified address cannot be sent to at all.
 */
static bool usable(const struct ctl_node *n, const struct sockaddr_in6 *a)
{
	if (!a->sin6_port)
		return false;
	if (is_v4(a))
		return v4_of(a) && !in_vpn(n, v4_of(a));
	return !IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
}

/* Appends @a unless present or @list is full; true when appended. */
static bool append(struct sockaddr_in6 *list, unsigned int *count,
		   unsigned int max, const struct sockaddr_in6 *a)
{
	for (unsigned int i = 0; i < *count; i++)
		if (same(&list[i], a))
			return false;
	if (*count >= max)
		return false;
	list[(*count)++] = clean(a);
	return true;
}

/* ---- encoding -------------------------------------------------------- */

/*
 * protobuf-c writes fields in number order and skips proto3 zero values,
 * as gogo's generated Marshal does; a non-NULL Details is written even
 * when empty ("12 00"), as gogo writes a non-nil pointer, and the packed
 * RelayVpnIp matches gogo's packed encoding. The messages are built on the
 * stack around the caller's data.
 */
int ctl_lh_encode(const struct ctl_lh_msg *m, uint8_t *out, size_t cap,
		  size_t *out_len)
{
	Nebula__Ip4AndPort v4[CTL_LH_MSG_ADDRS_MAX], *p4[CTL_LH_MSG_ADDRS_MAX];
	Nebula__Ip6AndPort v6[CTL_LH_MSG_ADDRS_MAX], *p6[CTL_LH_MSG_ADDRS_MAX];
	uint32_t relays[CTL_LH_RELAYS_MAX];
	Nebula__NebulaMetaDetails d;
	Nebula__NebulaMeta meta;
	size_t len;

	if (m->n_v4 > CTL_LH_MSG_ADDRS_MAX || m->n_v6 > CTL_LH_MSG_ADDRS_MAX ||
	    m->n_relays > CTL_LH_RELAYS_MAX)
		return -EINVAL;
	nebula__nebula_meta__init(&meta);
	nebula__nebula_meta_details__init(&d);
	meta.type = (Nebula__NebulaMeta__MessageType)m->type;
	meta.details = &d;
	d.vpnip = m->vpn_ip;
	for (unsigned int i = 0; i < m->n_v4; i++) {
		if (!is_v4(&m->v4[i]))
			return -EINVAL;
		nebula__ip4_and_port__init(&v4[i]);
		v4[i].ip = v4_of(&m->v4[i]);
		v4[i].port = ntohs(m->v4[i].sin6_port);
		p4[i] = &v4[i];
	}
	d.n_ip4andports = m->n_v4;
	d.ip4andports = p4;
	for (unsigned int i = 0; i < m->n_v6; i++) {
		const uint8_t *b = m->v6[i].sin6_addr.s6_addr;

		nebula__ip6_and_port__init(&v6[i]);
		v6[i].hi = wire_get_be64(b);
		v6[i].lo = wire_get_be64(b + 8);
		v6[i].port = ntohs(m->v6[i].sin6_port);
		p6[i] = &v6[i];
	}
	d.n_ip6andports = m->n_v6;
	d.ip6andports = p6;
	memcpy(relays, m->relays, m->n_relays * sizeof(relays[0]));
	d.n_relayvpnip = m->n_relays;
	d.relayvpnip = relays;

	len = nebula__nebula_meta__get_packed_size(&meta);
	if (len > cap)
		return -ENOBUFS;
	*out_len = nebula__nebula_meta__pack(&meta, out);
	return 0;
}

int ctl_lh_decode(const uint8_t *buf, size_t len, struct ctl_lh_msg *m)
{
	const Nebula__NebulaMetaDetails *d;
	Nebula__NebulaMeta *meta;
	int err = -EINVAL;

	memset(m, 0, sizeof(*m));
	/*
	 * protobuf-c allocates what the message declares; the caller's
	 * buffer (at most one datagram) bounds that.
	 */
	meta = nebula__nebula_meta__unpack(NULL, len, buf);
	if (!meta)
		return -EINVAL;
	d = meta->details;
	if (!d)
		goto free; /* 1.6.1: "Invalid lighthouse update" */
	for (size_t i = 0; i < d->n_ip4andports; i++)
		if (!d->ip4andports[i] || d->ip4andports[i]->port > 65535)
			goto free;
	for (size_t i = 0; i < d->n_ip6andports; i++)
		if (!d->ip6andports[i] || d->ip6andports[i]->port > 65535)
			goto free;

	m->type = (int)meta->type;
	m->vpn_ip = d->vpnip;
	for (size_t i = 0;
	     i < d->n_ip4andports && m->n_v4 < CTL_LH_MSG_ADDRS_MAX; i++)
		m->v4[m->n_v4++] = sa4(d->ip4andports[i]->ip,
				       (uint16_t)d->ip4andports[i]->port);
	for (size_t i = 0;
	     i < d->n_ip6andports && m->n_v6 < CTL_LH_MSG_ADDRS_MAX; i++) {
		struct sockaddr_in6 *a = &m->v6[m->n_v6++];

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)d->ip6andports[i]->port);
		wire_put_be64(a->sin6_addr.s6_addr, d->ip6andports[i]->hi);
		wire_put_be64(a->sin6_addr.s6_addr + 8, d->ip6andports[i]->lo);
	}
	for (size_t i = 0;
	     i < d->n_relayvpnip && m->n_relays < CTL_LH_RELAYS_MAX; i++)
		m->relays[m->n_relays++] = d->relayvpnip[i];
	err = 0;
free:
	nebula__nebula_meta__free_unpacked(meta, NULL);
	return err;
}

/* ---- the address cache ----------------------------------------------- */

static struct ctl_lh_cache *cache_find(const struct ctl_lh *lh, uint32_t vpn_ip,
				       uint32_t owner)
{
	for (size_t i = 0; i < lh->n_caches; i++)
		if (lh->caches[i]->vpn_ip == vpn_ip &&
		    lh->caches[i]->owner == owner)
			return lh->caches[i];
	return NULL;
}

static struct ctl_lh_cache *cache_get(struct ctl_lh *lh, uint32_t vpn_ip,
				      uint32_t owner)
{
	struct ctl_lh_cache *c = cache_find(lh, vpn_ip, owner), **more;

	if (c)
		return c;
	if (lh->n_caches >= CTL_LH_CACHES_MAX) {
		vl_log(VL_LOG_DEBUG, "Lighthouse cache is full", NULL);
		return NULL;
	}
	more = realloc(lh->caches, (lh->n_caches + 1) * sizeof(*more));
	if (!more)
		return NULL;
	lh->caches = more;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->vpn_ip = vpn_ip;
	c->owner = owner;
	lh->caches[lh->n_caches++] = c;
	return c;
}

/*
 * Replaces what @c's owner reported with @m's lists. As 1.6.1's
 * unlockedSetV4/V6/Relay: the first MaxRemotes entries, then filtered.
 */
static void cache_set(const struct ctl_node *n, struct ctl_lh_cache *c,
		      const struct ctl_lh_msg *m)
{
	c->n_v4 = 0;
	c->n_v6 = 0;
	c->n_relays = 0;
	for (unsigned int i = 0; i < m->n_v4 && i < WIRE_MAX_REMOTES; i++)
		if (usable(n, &m->v4[i]) &&
		    ctl_remote_allowed(n, c->vpn_ip, &m->v4[i]))
			append(c->v4, &c->n_v4, WIRE_MAX_REMOTES, &m->v4[i]);
	for (unsigned int i = 0; i < m->n_v6 && i < WIRE_MAX_REMOTES; i++)
		if (usable(n, &m->v6[i]) &&
		    ctl_remote_allowed(n, c->vpn_ip, &m->v6[i]))
			append(c->v6, &c->n_v6, WIRE_MAX_REMOTES, &m->v6[i]);
	for (unsigned int i = 0; i < m->n_relays && i < WIRE_MAX_REMOTES; i++)
		c->relays[c->n_relays++] = m->relays[i];
}

/* What we answer about @c: learned first, then reported (coalesceAnswers). */
static void coalesce(const struct ctl_lh_cache *c, struct ctl_lh_msg *m,
		     int type, uint32_t vpn_ip)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->vpn_ip = vpn_ip;
	if (c->learned4.sin6_family)
		m->v4[m->n_v4++] = c->learned4;
	for (unsigned int i = 0; i < c->n_v4; i++)
		m->v4[m->n_v4++] = c->v4[i];
	if (c->learned6.sin6_family)
		m->v6[m->n_v6++] = c->learned6;
	for (unsigned int i = 0; i < c->n_v6; i++)
		m->v6[m->n_v6++] = c->v6[i];
	memcpy(m->relays, c->relays, c->n_relays * sizeof(m->relays[0]));
	m->n_relays = c->n_relays;
}

void ctl_lh_forget(struct ctl_node *n, uint32_t vpn_ip)
{
	struct ctl_lh *lh = &n->lh;

	for (size_t i = 0; i < lh->n_caches;) {
		if (lh->caches[i]->vpn_ip != vpn_ip) {
			i++;
			continue;
		}
		free(lh->caches[i]);
		lh->caches[i] = lh->caches[--lh->n_caches];
	}
}

unsigned int ctl_lh_addrs(const struct ctl_node *n, uint32_t vpn_ip,
			  struct sockaddr_in6 *out, unsigned int max)
{
	const struct ctl_lh *lh = &n->lh;
	unsigned int k = 0;

	for (size_t i = 0; i < lh->n_caches; i++) {
		const struct ctl_lh_cache *c = lh->caches[i];

		if (c->vpn_ip != vpn_ip)
			continue;
		if (c->learned4.sin6_family)
			append(out, &k, max, &c->learned4);
		if (c->learned6.sin6_family)
			append(out, &k, max, &c->learned6);
		for (unsigned int j = 0; j < c->n_v4; j++)
			append(out, &k, max, &c->v4[j]);
		for (unsigned int j = 0; j < c->n_v6; j++)
			append(out, &k, max, &c->v6[j]);
	}
	return k;
}

/* ---- sending --------------------------------------------------------- */

static void inject(struct ctl_node *n, const struct ctl_tunnel *t, uint8_t type,
		   uint8_t subtype, const uint8_t *buf, size_t len)
{
	struct ctlmsg_inject_sa m;

	if (len > sizeof(m.data))
		return;
	memset(&m, 0, offsetof(struct ctlmsg_inject_sa, data));
	m.local_index = t->add.local_index;
	m.type = type;
	m.subtype = subtype;
	m.len = (uint32_t)len;
	if (len)
		memcpy(m.data, buf, len);
	ctl_node_send(
		n, &m, CTLMSG_INJECT_SA,
		(uint32_t)(offsetof(struct ctlmsg_inject_sa, data) + len));
}

static void send_meta(struct ctl_node *n, const struct ctl_tunnel *t,
		      const struct ctl_lh_msg *m)
{
	uint8_t buf[CTL_LH_MSG_MAX];
	size_t len;

	if (ctl_lh_encode(m, buf, sizeof(buf), &len))
		return;
	ctl_metrics_count_lh(n, 1, m->type);
	inject(n, t, WIRE_LIGHTHOUSE, 0, buf, len);
}

static void send_punch(struct ctl_node *n, const struct sockaddr_in6 *to)
{
	struct ctlmsg_inject_raw m;

	memset(&m, 0, offsetof(struct ctlmsg_inject_raw, data));
	m.to = *to;
	m.len = 1;
	m.data[0] = WIRE_PUNCH_NOTIFY;
	ctl_node_send(n, &m, CTLMSG_INJECT_RAW,
		      (uint32_t)(offsetof(struct ctlmsg_inject_raw, data) + 1));
}

/* ---- client ---------------------------------------------------------- */

bool ctl_lh_is_lighthouse(const struct ctl_node *n, uint32_t vpn_ip)
{
	/* A lighthouse's own lighthouse.hosts are ignored (config warns). */
	if (n->cfg.am_lighthouse)
		return false;
	for (size_t i = 0; i < n->cfg.n_lighthouses; i++)
		if (n->cfg.lighthouses[i] == vpn_ip)
			return true;
	return false;
}

void ctl_lh_init(struct ctl_node *n)
{
	struct ctl_lh *lh = &n->lh;

	for (size_t i = 0; i < n->cfg.n_advertise_addrs; i++) {
		struct sockaddr_in6 a[CTL_LH_ADVERTISE_MAX];
		unsigned int got = ctl_addr_resolve(n->cfg.advertise_addrs[i],
						    a, CTL_LH_ADVERTISE_MAX);

		if (!got)
			vl_log(VL_LOG_WARN,
			       "Unable to resolve lighthouse.advertise_addrs entry",
			       "address", n->cfg.advertise_addrs[i], NULL);
		for (unsigned int k = 0; k < got; k++) {
			/* 1.6.1 ignores entries inside the VPN network. */
			if (is_v4(&a[k]) && in_vpn(n, v4_of(&a[k])))
				continue;
			append(lh->advertise, &lh->n_advertise,
			       CTL_LH_ADVERTISE_MAX, &a[k]);
		}
	}
}

void ctl_lh_free(struct ctl_lh *lh)
{
	for (size_t i = 0; i < lh->n_caches; i++)
		free(lh->caches[i]);
	free(lh->caches);
	memset(lh, 0, sizeof(*lh));
}

/* One address for the update: v4 or v6 list, at most MaxRemotes each. */
static void report(struct ctl_lh_msg *m, const struct sockaddr_in6 *a)
{
	if (is_v4(a))
		append(m->v4, &m->n_v4, WIRE_MAX_REMOTES, a);
	else
		append(m->v6, &m->n_v6, WIRE_MAX_REMOTES, a);
}

/*
 * 1.6.1 reports every address of every interface but loopback and
 * link-local (and IPv4s inside the VPN network, our own tun's among them),
 * up or down: a lighthouse cannot know which one a peer can reach.
 */
void ctl_lh_local_addrs(const struct ctl_node *n, struct ctl_lh_msg *m)
{
	struct ifaddrs *ifs;

	memset(m, 0, sizeof(*m));
	m->type = CTL_LH_HOST_UPDATE_NOTIFICATION;
	m->vpn_ip = n->pki.vpn_ip;
	for (unsigned int i = 0; i < n->lh.n_advertise; i++) {
		struct sockaddr_in6 a = n->lh.advertise[i];

		if (!a.sin6_port)
			a.sin6_port = htons(n->port);
		report(m, &a);
	}
	if (getifaddrs(&ifs))
		return;
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6,
					  .sin6_port = htons(n->port) };

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *s = (const void *)i->ifa_addr;
			uint32_t ip = ntohl(s->sin_addr.s_addr);

			if (ip >> 24 == 127 || ip >> 16 == 0xa9fe || !ip ||
			    in_vpn(n, ip))
				continue;
			a = sa4(ip, n->port);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *s =
				(const void *)i->ifa_addr;

			if (IN6_IS_ADDR_LOOPBACK(&s->sin6_addr) ||
			    IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr) ||
			    IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr) ||
			    IN6_IS_ADDR_V4MAPPED(&s->sin6_addr))
				continue;
			a.sin6_addr = s->sin6_addr;
		} else {
			continue;
		}
		/* lighthouse.local_allow_list: by interface, then address. */
		if (!ctl_allow_name(n->cfg.local_allow, i->ifa_name) ||
		    !ctl_allow_addr(n->cfg.local_allow, &a.sin6_addr))
			continue;
		report(m, &a);
	}
	freeifaddrs(ifs);
}

static void send_update(struct ctl_node *n, const struct ctl_tunnel *t)
{
	struct ctl_lh_msg m;

	ctl_lh_local_addrs(n, &m);
	/* relay.relays, unless we are a relay ourselves (§6). */
	for (size_t i = 0; !n->cfg.am_relay && i < n->cfg.n_relays &&
			   m.n_relays < CTL_LH_RELAYS_MAX;
	     i++)
		m.relays[m.n_relays++] = n->cfg.relays[i];
	send_meta(n, t, &m);
	if (vl_log_enabled(VL_LOG_DEBUG)) {
		char ip[16], v4[8], v6[8];

		ctl_ip_str(t->add.vpn_ip, ip);
		snprintf(v4, sizeof(v4), "%u", m.n_v4);
		snprintf(v6, sizeof(v6), "%u", m.n_v6);
		vl_log(VL_LOG_DEBUG, "Lighthouse update sent", "vpnIp", ip,
		       "ip4Count", v4, "ip6Count", v6, NULL);
	}
}

static bool updates_on(const struct ctl_node *n)
{
	/* interval 0: never, not even at start, as 1.6.1's update worker. */
	return !n->cfg.am_lighthouse && n->cfg.n_lighthouses &&
	       n->cfg.lighthouse_interval > 0 && n->port;
}

static void send_updates(struct ctl_node *n)
{
	for (size_t i = 0; i < n->cfg.n_lighthouses; i++) {
		uint32_t lh = n->cfg.lighthouses[i];
		struct ctl_tunnel *t = ctl_tunnel_by_vpn(n, lh);

		if (t)
			send_update(n, t);
		else
			ctl_hs_start(n, lh); /* the update follows the tunnel */
	}
}

static void send_query(struct ctl_node *n, const struct ctl_tunnel *t,
		       uint32_t vpn_ip)
{
	struct ctl_lh_msg m = { .type = CTL_LH_HOST_QUERY, .vpn_ip = vpn_ip };

	send_meta(n, t, &m);
}

void ctl_lh_query(struct ctl_node *n, uint32_t vpn_ip)
{
	if (n->cfg.am_lighthouse || ctl_lh_is_lighthouse(n, vpn_ip))
		return;
	for (size_t i = 0; i < n->cfg.n_lighthouses; i++) {
		uint32_t lh = n->cfg.lighthouses[i];
		struct ctl_tunnel *t = ctl_tunnel_by_vpn(n, lh);

		if (t)
			send_query(n, t, vpn_ip);
		else
			ctl_hs_start(n, lh); /* the query follows the tunnel */
	}
}

void ctl_lh_on_setup(struct ctl_node *n)
{
	/* The port may have changed with a new dataplane: tell them now. */
	n->lh.update_due = true;
}

static void add_timer(struct ctl_lh *lh, const struct ctl_lh_timer *tm)
{
	if (lh->n_timers >= CTL_LH_TIMERS_MAX) {
		vl_log(VL_LOG_DEBUG, "Too many punches waiting; dropped", NULL);
		return;
	}
	lh->timers[lh->n_timers++] = *tm;
}

static void fire(struct ctl_node *n, const struct ctl_lh_timer *tm)
{
	struct ctl_tunnel *t;

	if (tm->to.sin6_family) {
		send_punch(n, &tm->to);
		return;
	}
	/* punchy.respond: a test request, or the handshake it would cause. */
	t = ctl_tunnel_by_vpn(n, tm->vpn_ip);
	if (t)
		inject(n, t, WIRE_TEST, WIRE_SUB_TEST_REQUEST, NULL, 0);
	else
		ctl_hs_start(n, tm->vpn_ip);
}

void ctl_lh_timers(struct ctl_node *n)
{
	struct ctl_lh *lh = &n->lh;

	if (updates_on(n) &&
	    (lh->update_due || n->now_ns >= lh->next_update_ns)) {
		lh->update_due = false;
		lh->next_update_ns =
			n->now_ns +
			(uint64_t)n->cfg.lighthouse_interval * NSEC_PER_SEC;
		send_updates(n);
	}
	for (size_t i = 0; i < lh->n_timers;) {
		struct ctl_lh_timer tm = lh->timers[i];

		if (n->now_ns < tm.at_ns) {
			i++;
			continue;
		}
		/* Swap-remove first: fire() may start a handshake. */
		lh->timers[i] = lh->timers[--lh->n_timers];
		fire(n, &tm);
	}
}

/* Server: the address a host's tunnel comes from is "learned" (§5.4). */
static void learn(struct ctl_node *n, const struct ctl_tunnel *t)
{
	struct ctl_lh_cache *c;

	if (!n->cfg.am_lighthouse || !t->add.remote.sin6_family)
		return;
	c = cache_get(&n->lh, t->add.vpn_ip, t->add.vpn_ip);
	if (!c)
		return;
	if (is_v4(&t->add.remote))
		c->learned4 = clean(&t->add.remote);
	else
		c->learned6 = clean(&t->add.remote);
}

void ctl_lh_on_tunnel_up(struct ctl_node *n, const struct ctl_tunnel *t)
{
	uint32_t lh = t->add.vpn_ip;

	learn(n, t);
	if (!ctl_lh_is_lighthouse(n, lh))
		return;
	/* What waited for this lighthouse's tunnel goes now. */
	if (updates_on(n) && n->set_up)
		send_update(n, t);
	for (size_t i = 0; i < n->n_pending; i++)
		if (!ctl_lh_is_lighthouse(n, n->pending[i]->vpn_ip))
			send_query(n, t, n->pending[i]->vpn_ip);
}

void ctl_lh_on_roam(struct ctl_node *n, const struct ctl_tunnel *t)
{
	learn(n, t);
}

/* ---- receiving ------------------------------------------------------- */

static void on_query(struct ctl_node *n, const struct ctl_tunnel *t,
		     const struct ctl_lh_msg *q)
{
	const struct ctl_lh_cache *c, *querier;
	const struct ctl_tunnel *target;
	struct ctl_lh_msg m;

	if (!n->cfg.am_lighthouse)
		return; /* 1.6.1: "I don't answer queries, but received from" */
	/* Only what the host owns; no answer for an unknown host. */
	c = cache_find(&n->lh, q->vpn_ip, q->vpn_ip);
	if (!c)
		return;
	coalesce(c, &m, CTL_LH_HOST_QUERY_REPLY, q->vpn_ip);
	send_meta(n, t, &m);

	/* Ask the queried host to punch towards the querier. */
	querier = cache_find(&n->lh, t->add.vpn_ip, t->add.vpn_ip);
	target = ctl_tunnel_by_vpn(n, q->vpn_ip);
	if (!querier || !target)
		return;
	coalesce(querier, &m, CTL_LH_HOST_PUNCH_NOTIFICATION, t->add.vpn_ip);
	send_meta(n, target, &m);
}

static void on_update(struct ctl_node *n, const struct ctl_tunnel *t,
		      const struct ctl_lh_msg *u)
{
	struct ctl_lh_cache *c;

	if (!n->cfg.am_lighthouse)
		return;
	/* Simple check that the host sent this, not someone else (1.6.1). */
	if (u->vpn_ip != t->add.vpn_ip) {
		char ip[16], answer[16];

		ctl_ip_str(t->add.vpn_ip, ip);
		ctl_ip_str(u->vpn_ip, answer);
		vl_log(VL_LOG_DEBUG, "Host sent invalid update", "vpnIp", ip,
		       "answer", answer, NULL);
		return;
	}
	c = cache_get(&n->lh, u->vpn_ip, u->vpn_ip);
	if (c)
		cache_set(n, c, u);
}

/* Whether we asked about @vpn_ip: we ask while a handshake to it runs. */
static bool asked(struct ctl_node *n, uint32_t vpn_ip)
{
	for (size_t i = 0; i < n->n_pending; i++)
		if (n->pending[i]->vpn_ip == vpn_ip)
			return true;
	/* The answer may come after another address already worked. */
	return ctl_tunnel_by_vpn(n, vpn_ip) != NULL;
}

static void on_reply(struct ctl_node *n, const struct ctl_tunnel *t,
		     const struct ctl_lh_msg *r)
{
	struct sockaddr_in6 addrs[2 * WIRE_MAX_REMOTES];
	struct ctl_lh_cache *c;
	unsigned int k = 0;

	if (!ctl_lh_is_lighthouse(n, t->add.vpn_ip))
		return;
	/*
	 * 1.6.1 stores any answer; we keep only those we asked for, so a
	 * lighthouse cannot fill our memory with hosts we never talk to.
	 */
	if (!asked(n, r->vpn_ip))
		return;
	c = cache_get(&n->lh, r->vpn_ip, t->add.vpn_ip);
	if (!c)
		return;
	cache_set(n, c, r);
	for (unsigned int i = 0; i < c->n_v4; i++)
		addrs[k++] = c->v4[i];
	for (unsigned int i = 0; i < c->n_v6; i++)
		addrs[k++] = c->v6[i];
	ctl_hs_add_addrs(n, r->vpn_ip, addrs, k);
}

static void on_punch(struct ctl_node *n, const struct ctl_tunnel *t,
		     const struct ctl_lh_msg *p)
{
	struct ctl_lh_timer tm = { .at_ns = n->now_ns +
					    (uint64_t)n->cfg.punch_delay_ns };

	if (!ctl_lh_is_lighthouse(n, t->add.vpn_ip))
		return;
	for (unsigned int i = 0; i < p->n_v4 + p->n_v6; i++) {
		const struct sockaddr_in6 *a =
			i < p->n_v4 ? &p->v4[i] : &p->v6[i - p->n_v4];

		if (!usable(n, a))
			continue;
		tm.to = clean(a);
		add_timer(&n->lh, &tm);
	}
	if (n->cfg.punch_respond && p->vpn_ip != n->pki.vpn_ip &&
	    in_vpn(n, p->vpn_ip)) {
		tm = (struct ctl_lh_timer){ .at_ns = n->now_ns +
						     PUNCH_BACK_DELAY_NS,
					    .vpn_ip = p->vpn_ip };
		add_timer(&n->lh, &tm);
	}
}

void ctl_lh_on_message(struct ctl_node *n, const struct ctl_tunnel *t,
		       const uint8_t *buf, size_t len)
{
	struct ctl_lh_msg m;

	if (ctl_lh_decode(buf, len, &m)) {
		char ip[16];

		ctl_ip_str(t->add.vpn_ip, ip);
		vl_log(VL_LOG_DEBUG, "Failed to unmarshal lighthouse packet",
		       "vpnIp", ip, NULL);
		return;
	}
	ctl_metrics_count_lh(n, 0, m.type);
	switch (m.type) {
	case CTL_LH_HOST_QUERY:
		on_query(n, t, &m);
		break;
	case CTL_LH_HOST_QUERY_REPLY:
		on_reply(n, t, &m);
		break;
	case CTL_LH_HOST_UPDATE_NOTIFICATION:
		on_update(n, t, &m);
		break;
	case CTL_LH_HOST_PUNCH_NOTIFICATION:
		on_punch(n, t, &m);
		break;
	default:
		/* 1.6.1 acts on nothing else (§5.4). */
		break;
	}
}
