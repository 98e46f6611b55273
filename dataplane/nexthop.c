/* SPDX-License-Identifier: MIT */
/*
 * Next hops, mirrored from the kernel (nexthop.h says what for).
 *
 * We do not copy the kernel's routing and neighbour tables and redo its
 * lookups: policy rules, ECMP, metrics and source selection would all have
 * to be reimplemented. Instead, for each wanted destination we ask the
 * kernel the question it answers for its own sockets, then keep the answer
 * current from events:
 *
 *   route      RTM_GETROUTE with RTA_DST (RTA_SRC when the port is bound),
 *              as `ip route get` does: type, output interface, gateway
 *              (RTA_GATEWAY, or RTA_VIA for IPv4 via an IPv6 gateway),
 *              preferred source, the route's MTU.
 *   neighbour  RTM_GETNEIGH for the next hop on our interface: NUD state
 *              and MAC.
 *   link       RTM_GETLINK for our interface: MAC, MTU, up and running.
 *
 * Two sockets: one joined to the link, neighbour, address and route
 * groups and only read (nonblocking), one for request and answer, so an
 * answer is never mixed with events.
 *
 * What an event does:
 *
 *   neighbour new/changed/deleted on our interface: the message carries
 *     the whole state; it is applied to every want with that next hop,
 *     without a query.
 *   route or address added or removed: every want of that family has its
 *     route looked up again. The kernel does not say which destinations
 *     a change affects, and an address change moves sources and connected
 *     routes, so all of them.
 *   link change, any interface: every want is looked up again, because
 *     IPv4 drops the routes of an interface going down without a route
 *     event. Ours also updates MAC, MTU and flags; going up or down also
 *     looks the neighbours up again.
 *   events lost (ENOBUFS and the like): link, routes and neighbours are
 *     all looked up again.
 *
 * Looking everything up again is the simple answer, and it is bounded: per
 * dp_nh_process() at most DP_NH_READ_MAX event datagrams applied
 * (DP_NH_DISCARD_MAX thrown away after a loss), one route lookup per want
 * (DP_NH_WANT_MAX) and one neighbour lookup per want whose next hop
 * changed, one per distinct next hop when wants share it. Many events
 * read in one call cost one pass. Lookups are netlink requests the kernel
 * answers within the send, a few microseconds each.
 *
 * Events queued while we query are applied afterwards. That converges: a
 * neighbour event carries the state as of that event and later events for
 * the same neighbour follow it in order, and a route event only marks
 * wants for another lookup. It stops converging once the kernel drops
 * events: what is still queued is older than what was lost, and applied
 * after the state is read again it would bring back a state no later event
 * corrects. So after a loss everything queued is thrown away first
 * (bounded per call; the rest on the next), then the state is read again.
 *
 * A table is built only when some entry differs from the last table, so
 * REACHABLE -> STALE with the same MAC, or a route added elsewhere, costs
 * the workers nothing. STALE is usable on purpose: frames sent through
 * AF_XDP never confirm the kernel's entry, so it goes STALE and stays
 * there. If the kernel collects it (only above gc_thresh1 entries), the
 * deletion removes our entry, the next datagram goes through the kernel
 * socket, and the kernel resolves the neighbour again.
 *
 * Not followed: a path MTU learnt from ICMP (no event; picked up at the
 * next lookup of that route) and a peer changing MAC while its entry is
 * STALE (the kernel would not notice either until it sends itself).
 *
 * Control thread only; dp_nh_lookup() and the table are for any thread.
 */
#include "nexthop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netlink.h"
#include "status.h"

enum {
	DP_NH_HASH_SIZE =
		2 * DP_NH_WANT_MAX, /* want index, at most half full */
	DP_NH_READ_MAX = 256, /* event datagrams applied per dp_nh_process */
	DP_NH_DISCARD_MAX = 65536, /* ... thrown away after a loss, per call */
	DP_NH_RCVBUF = 4 << 20, /* event socket buffer, bytes */
};

_Static_assert(DP_NH_WANT_MAX < UINT16_MAX, "want index is 16-bit");
_Static_assert((DP_NH_HASH_SIZE & (DP_NH_HASH_SIZE - 1)) == 0,
	       "want index size is a power of two");

#define NUD_USABLE                                                           \
	(NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | \
	 NUD_NOARP)

/* One wanted destination and what the kernel said about it. */
struct want {
	struct in6_addr dst;
	struct in6_addr hop; /* the gateway, or dst itself on the link */
	struct in6_addr src;
	uint32_t route_mtu; /* RTAX_MTU of the route, 0: none */
	uint8_t mac[6]; /* the hop's, when nb_usable */
	bool used;
	bool stale; /* route to be looked up (again) */
	bool routed; /* unicast, out of our interface, with a source */
	bool nb_known; /* nb_usable and mac follow the kernel */
	bool nb_usable;
};

struct link_state {
	bool present;
	bool mac_ok;
	uint16_t type; /* ARPHRD_* */
	unsigned int flags;
	uint32_t mtu;
	uint8_t mac[6];
};

/* An entry as the last table had it (pub) or the next would (cur). */
struct slot_entry {
	struct dp_nh_entry e;
	bool ok;
};

struct dp_nh {
	int ifindex;
	bool has_src;
	struct in6_addr src;
	struct tun_nl_conn ev; /* events, read only */
	struct tun_nl_conn q; /* requests and answers */
	struct link_state link;
	bool resync; /* events were lost */
	bool any_stale; /* some want has stale set */
	bool dirty; /* an answer may have changed: compare with pub */
	/* The last neighbour looked up in this pass, for wants sharing it. */
	bool memo_ok;
	bool memo_usable;
	struct in6_addr memo_hop;
	uint8_t memo_mac[6];
	/*
	 * Wants fill slots in order and wrap, so the slot after the newest
	 * is always the oldest: eviction is FIFO without a list.
	 */
	unsigned int n_used;
	unsigned int next;
	struct want *wants; /* DP_NH_WANT_MAX */
	uint16_t *index; /* slot + 1 by hash of dst; 0: empty */
	struct slot_entry *pub, *cur; /* DP_NH_WANT_MAX each */
};

struct dp_nh_table {
	unsigned int n;
	unsigned int mask; /* index size - 1 */
	const uint32_t *index; /* entry + 1 by hash of dst; 0: empty */
	struct dp_nh_entry e[];
};

/* ---- addresses ---------------------------------------------------------- */

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0,    0,
					     0, 0, 0, 0, 0xff, 0xff };

static bool is_v4(const struct in6_addr *a)
{
	return !memcmp(a->s6_addr, v4mapped_prefix, sizeof(v4mapped_prefix));
}

static bool is_unspec(const struct in6_addr *a)
{
	static const uint8_t zero[16];

	return !memcmp(a->s6_addr, zero, 16) ||
	       (is_v4(a) && !memcmp(a->s6_addr + 12, zero, 4));
}

static bool is_linklocal6(const struct in6_addr *a)
{
	return a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80;
}

static bool addr_eq(const struct in6_addr *a, const struct in6_addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static uint32_t addr_hash(const struct in6_addr *a)
{
	uint32_t w[4], h;

	memcpy(w, a, sizeof(w));
	h = w[0] ^ (w[1] * 0x85ebca6bu) ^ (w[2] * 0xc2b2ae35u) ^ w[3];
	/* lowbias32: every input bit reaches the low bits we mask. */
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	h *= 0x846ca68bu;
	h ^= h >> 16;
	return h;
}

/* The address in an attribute of @family, v4-mapped for AF_INET. */
static bool get_addr(const struct rtattr *rta, int family, struct in6_addr *out)
{
	if (!rta)
		return false;
	if (family == AF_INET && RTA_PAYLOAD(rta) == 4) {
		memcpy(out->s6_addr, v4mapped_prefix, 12);
		memcpy(out->s6_addr + 12, RTA_DATA(rta), 4);
		return true;
	}
	if (family == AF_INET6 && RTA_PAYLOAD(rta) == 16) {
		memcpy(out->s6_addr, RTA_DATA(rta), 16);
		return true;
	}
	return false;
}

static bool get_u32(const struct rtattr *rta, uint32_t *v)
{
	if (!rta || RTA_PAYLOAD(rta) < sizeof(*v))
		return false;
	memcpy(v, RTA_DATA(rta), sizeof(*v));
	return true;
}

/* ---- the table, read by workers ----------------------------------------- */

const struct dp_nh_entry *dp_nh_lookup(const struct dp_nh_table *t,
				       const struct in6_addr *dst)
{
	if (!t)
		return NULL;
	/* At most half full, so the probe ends at an empty slot. */
	for (uint32_t i = addr_hash(dst) & t->mask;; i = (i + 1) & t->mask) {
		uint32_t k = t->index[i];

		if (!k)
			return NULL;
		if (addr_eq(&t->e[k - 1].dst, dst))
			return &t->e[k - 1];
	}
}

unsigned int dp_nh_table_size(const struct dp_nh_table *t)
{
	return t ? t->n : 0;
}

void dp_nh_table_free(struct dp_nh_table *t)
{
	free(t);
}

/* One allocation: header, @n entries, then the index. */
static struct dp_nh_table *table_build(const struct slot_entry *cur,
				       unsigned int n_slots, unsigned int n)
{
	unsigned int size = 8, k = 0;
	struct dp_nh_table *t;
	uint32_t *index;

	while (size < 2 * n)
		size *= 2;
	t = malloc(sizeof(*t) + n * sizeof(t->e[0]) + size * sizeof(*index));
	if (!t)
		return NULL;
	index = (void *)&t->e[n];
	memset(index, 0, size * sizeof(*index));
	t->n = n;
	t->mask = size - 1;
	t->index = index;
	for (unsigned int s = 0; s < n_slots; s++) {
		uint32_t i;

		if (!cur[s].ok)
			continue;
		t->e[k] = cur[s].e;
		/* Destinations are unique (one want each): no match test. */
		for (i = addr_hash(&t->e[k].dst) & t->mask; index[i];
		     i = (i + 1) & t->mask)
			;
		index[i] = ++k;
	}
	return t;
}

/* ---- wants -------------------------------------------------------------- */

static int want_find(const struct dp_nh *nh, const struct in6_addr *dst)
{
	for (uint32_t i = addr_hash(dst) & (DP_NH_HASH_SIZE - 1);;
	     i = (i + 1) & (DP_NH_HASH_SIZE - 1)) {
		uint16_t k = nh->index[i];

		if (!k)
			return -1;
		if (addr_eq(&nh->wants[k - 1].dst, dst))
			return k - 1;
	}
}

static void index_add(struct dp_nh *nh, unsigned int slot)
{
	uint32_t i;

	for (i = addr_hash(&nh->wants[slot].dst) & (DP_NH_HASH_SIZE - 1);
	     nh->index[i]; i = (i + 1) & (DP_NH_HASH_SIZE - 1))
		;
	nh->index[i] = (uint16_t)(slot + 1);
}

/*
 * Linear probing without tombstones: after the hole, each entry that the
 * hole cuts off from its home slot moves into the hole (Knuth 6.4, R).
 */
static void index_del(struct dp_nh *nh, unsigned int slot)
{
	const uint32_t mask = DP_NH_HASH_SIZE - 1;
	uint32_t i, j;

	for (i = addr_hash(&nh->wants[slot].dst) & mask;
	     nh->index[i] != slot + 1; i = (i + 1) & mask)
		;
	for (j = (i + 1) & mask; nh->index[j]; j = (j + 1) & mask) {
		uint16_t k = nh->index[j];
		uint32_t home = addr_hash(&nh->wants[k - 1].dst) & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			nh->index[i] = k;
			i = j;
		}
	}
	nh->index[i] = 0;
}

void dp_nh_want(struct dp_nh *nh, const struct in6_addr *dst)
{
	unsigned int slot = nh->next;
	struct want *w = &nh->wants[slot];

	if (want_find(nh, dst) >= 0)
		return;
	if (w->used) {
		/* Full: the oldest goes; its entry leaves the next table. */
		index_del(nh, slot);
		nh->dirty = true;
	}
	memset(w, 0, sizeof(*w));
	w->used = true;
	w->dst = *dst;
	w->stale = true;
	index_add(nh, slot);
	nh->next = (slot + 1) % DP_NH_WANT_MAX;
	if (nh->n_used < DP_NH_WANT_MAX)
		nh->n_used++;
	nh->any_stale = true;
}

/*
 * Marks wants of @family (AF_UNSPEC: all) for another route lookup and,
 * with @neighbours, another neighbour lookup.
 */
static void mark_stale(struct dp_nh *nh, int family, bool neighbours)
{
	for (unsigned int s = 0; s < nh->n_used; s++) {
		struct want *w = &nh->wants[s];

		if ((family == AF_INET && !is_v4(&w->dst)) ||
		    (family == AF_INET6 && is_v4(&w->dst)))
			continue;
		w->stale = true;
		if (neighbours)
			w->nb_known = false;
		nh->any_stale = true;
	}
}

/* ---- messages ----------------------------------------------------------- */

struct nb_msg {
	int ifindex;
	uint16_t state;
	uint8_t flags;
	bool has_mac;
	struct in6_addr addr;
	uint8_t mac[6];
};

/* 0, -EAFNOSUPPORT (not IP: bridge FDB), -EBADMSG. */
static int nb_parse(const struct nlmsghdr *h, struct nb_msg *nb)
{
	const struct rtattr *tb[NDA_MAX + 1];
	const struct ndmsg *ndm = NLMSG_DATA(h);

	if (tun_nl_parse(h, sizeof(*ndm), tb, NDA_MAX))
		return -EBADMSG;
	if (ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6)
		return -EAFNOSUPPORT;
	memset(nb, 0, sizeof(*nb));
	if (!get_addr(tb[NDA_DST], ndm->ndm_family, &nb->addr))
		return -EBADMSG;
	nb->ifindex = ndm->ndm_ifindex;
	nb->state = ndm->ndm_state;
	nb->flags = ndm->ndm_flags;
	if (tb[NDA_LLADDR] && RTA_PAYLOAD(tb[NDA_LLADDR]) == sizeof(nb->mac)) {
		memcpy(nb->mac, RTA_DATA(tb[NDA_LLADDR]), sizeof(nb->mac));
		nb->has_mac = true;
	}
	return 0;
}

static bool nb_usable(const struct nb_msg *nb)
{
	static const uint8_t zero[6];

	return (nb->state & NUD_USABLE) && nb->has_mac &&
	       memcmp(nb->mac, zero, sizeof(zero));
}

/* 0, -EAFNOSUPPORT (a per-family link message), -EBADMSG. */
static int link_parse(const struct nlmsghdr *h, int *ifindex,
		      struct link_state *l)
{
	const struct rtattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi = NLMSG_DATA(h);

	if (tun_nl_parse(h, sizeof(*ifi), tb, IFLA_MAX))
		return -EBADMSG;
	if (ifi->ifi_family != AF_UNSPEC)
		return -EAFNOSUPPORT;
	memset(l, 0, sizeof(*l));
	*ifindex = ifi->ifi_index;
	l->present = true;
	l->type = ifi->ifi_type;
	l->flags = ifi->ifi_flags;
	get_u32(tb[IFLA_MTU], &l->mtu);
	if (tb[IFLA_ADDRESS] &&
	    RTA_PAYLOAD(tb[IFLA_ADDRESS]) == sizeof(l->mac)) {
		memcpy(l->mac, RTA_DATA(tb[IFLA_ADDRESS]), sizeof(l->mac));
		l->mac_ok = true;
	}
	return 0;
}

static bool link_up(const struct link_state *l)
{
	return l->present && l->mac_ok && l->mtu && (l->flags & IFF_UP) &&
	       (l->flags & IFF_RUNNING);
}

static bool link_same(const struct link_state *a, const struct link_state *b)
{
	return a->present == b->present && a->mac_ok == b->mac_ok &&
	       a->type == b->type && a->flags == b->flags && a->mtu == b->mtu &&
	       !memcmp(a->mac, b->mac, sizeof(a->mac));
}

static void link_update(struct dp_nh *nh, const struct link_state *l)
{
	bool was_up = link_up(&nh->link);

	if (!link_same(&nh->link, l))
		nh->dirty = true;
	nh->link = *l;
	/* Routes and neighbours of the interface went or came with it. */
	if (was_up != link_up(l))
		mark_stale(nh, AF_UNSPEC, true);
}

/* ---- events ------------------------------------------------------------- */

static void neigh_event(struct dp_nh *nh, const struct nlmsghdr *h)
{
	struct nb_msg nb;
	bool usable;
	int err;

	err = nb_parse(h, &nb);
	if (err == -EAFNOSUPPORT)
		return;
	if (err) {
		nh->resync = true;
		return;
	}
	if (nb.ifindex != nh->ifindex || (nb.flags & NTF_PROXY))
		return;
	usable = h->nlmsg_type == RTM_NEWNEIGH && nb_usable(&nb);
	for (unsigned int s = 0; s < nh->n_used; s++) {
		struct want *w = &nh->wants[s];

		if (!w->routed || !addr_eq(&w->hop, &nb.addr))
			continue;
		w->nb_known = true;
		w->nb_usable = usable;
		if (usable)
			memcpy(w->mac, nb.mac, sizeof(w->mac));
		nh->dirty = true;
	}
}

static void link_event(struct dp_nh *nh, const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct link_state l;
	int ifindex;
	int err;

	if (h->nlmsg_type == RTM_DELLINK) {
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi))) {
			nh->resync = true;
			return;
		}
		if (ifi->ifi_family != AF_UNSPEC)
			return;
		if (ifi->ifi_index == nh->ifindex) {
			memset(&l, 0, sizeof(l));
			link_update(nh, &l);
		}
		mark_stale(nh, AF_UNSPEC, false);
		return;
	}
	err = link_parse(h, &ifindex, &l);
	if (err == -EAFNOSUPPORT)
		return;
	if (err) {
		nh->resync = true;
		return;
	}
	if (ifindex == nh->ifindex)
		link_update(nh, &l);
	else
		mark_stale(nh, AF_UNSPEC, false);
}

/* Route and address messages both start with the family byte. */
static void family_event(struct dp_nh *nh, const struct nlmsghdr *h,
			 size_t hdr_len)
{
	const uint8_t *family = NLMSG_DATA(h);

	if (h->nlmsg_len < NLMSG_LENGTH(hdr_len)) {
		nh->resync = true;
		return;
	}
	if (*family == AF_INET || *family == AF_INET6)
		mark_stale(nh, *family, false);
}

static void ignore_event(const struct nlmsghdr *h, void *arg)
{
	(void)h;
	(void)arg;
}

static void on_event(const struct nlmsghdr *h, void *arg)
{
	struct dp_nh *nh = arg;

	switch (h->nlmsg_type) {
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		neigh_event(nh, h);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		family_event(nh, h, sizeof(struct rtmsg));
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		family_event(nh, h, sizeof(struct ifaddrmsg));
		break;
	case RTM_NEWLINK:
	case RTM_DELLINK:
		link_event(nh, h);
		break;
	default:
		break;
	}
}

/* ---- queries ------------------------------------------------------------ */

/* A request: header, family header (12 to 16 bytes), a few attributes. */
struct query {
	struct nlmsghdr h;
	union {
		struct rtmsg rtm;
		struct ndmsg ndm;
		struct ifinfomsg ifi;
	};
	uint8_t attrs[3 * RTA_SPACE(16)];
};

static void query_init(struct query *r, uint16_t type, size_t hdr_len)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = NLMSG_LENGTH(hdr_len);
	r->h.nlmsg_type = type;
}

/* The requests below are sized for their attributes: false is a bug. */
static bool put_attr(struct query *r, uint16_t type, const void *data,
		     size_t len)
{
	size_t off = NLMSG_ALIGN(r->h.nlmsg_len);
	struct rtattr *rta;

	if (off + RTA_SPACE(len) > sizeof(*r))
		return false;
	rta = (void *)((char *)r + off);
	rta->rta_type = type;
	rta->rta_len = (uint16_t)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->h.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return true;
}

/* @a as the kernel wants it in an attribute: 4 or 16 bytes. */
static bool put_addr(struct query *r, uint16_t type, const struct in6_addr *a)
{
	if (is_v4(a))
		return put_attr(r, type, a->s6_addr + 12, 4);
	return put_attr(r, type, a->s6_addr, 16);
}

struct link_answer {
	bool got;
	int ifindex;
	struct link_state l;
};

static int link_answer(const struct nlmsghdr *h, void *arg)
{
	struct link_answer *a = arg;
	int err;

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	err = link_parse(h, &a->ifindex, &a->l);
	if (err)
		return -EBADMSG;
	a->got = true;
	return 0;
}

/* Our link as the kernel has it now; @kerr: the kernel's refusal. */
static int link_get(struct dp_nh *nh, struct link_state *l, int *kerr,
		    struct vl_status *st)
{
	struct link_answer a = { .got = false };
	uint32_t mask = RTEXT_FILTER_SKIP_STATS;
	struct query r;
	int err;

	query_init(&r, RTM_GETLINK, sizeof(r.ifi));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = nh->ifindex;
	if (!put_attr(&r, IFLA_EXT_MASK, &mask, sizeof(mask)))
		return vl_status_set(st, -EMSGSIZE, "link get: request");
	err = tun_nl_query(&nh->q, &r.h, "link get", link_answer, &a, kerr, st);
	if (err)
		return err;
	memset(l, 0, sizeof(*l));
	if (!*kerr && a.got && a.ifindex == nh->ifindex)
		*l = a.l;
	return 0;
}

struct route_answer {
	bool got;
	bool bad; /* an attribute we need was malformed */
	uint8_t type; /* RTN_* */
	uint32_t oif;
	bool has_gw;
	bool has_src;
	struct in6_addr gw;
	struct in6_addr src;
	uint32_t mtu;
};

/* RTA_VIA (struct rtvia): a gateway of another family, IPv4 via IPv6. */
static bool get_via(const struct rtattr *rta, struct in6_addr *out)
{
	const uint8_t *p = RTA_DATA(rta);
	size_t len = RTA_PAYLOAD(rta);
	uint16_t family;

	if (len < sizeof(family))
		return false;
	memcpy(&family, p, sizeof(family));
	p += sizeof(family);
	len -= sizeof(family);
	if (family == AF_INET6 && len == 16) {
		memcpy(out->s6_addr, p, 16);
		return true;
	}
	if (family == AF_INET && len == 4) {
		memcpy(out->s6_addr, v4mapped_prefix, 12);
		memcpy(out->s6_addr + 12, p, 4);
		return true;
	}
	return false;
}

static int route_answer(const struct nlmsghdr *h, void *arg)
{
	const struct rtattr *tb[RTA_MAX + 1];
	const struct rtattr *mx[RTAX_MAX + 1];
	const struct rtmsg *rtm = NLMSG_DATA(h);
	struct route_answer *r = arg;

	if (h->nlmsg_type != RTM_NEWROUTE || r->got)
		return 0;
	if (tun_nl_parse(h, sizeof(*rtm), tb, RTA_MAX))
		return -EBADMSG;
	r->got = true;
	r->type = rtm->rtm_type;
	if (!get_u32(tb[RTA_OIF], &r->oif))
		r->bad = true;
	if (tb[RTA_GATEWAY]) {
		r->has_gw = get_addr(tb[RTA_GATEWAY], rtm->rtm_family, &r->gw);
		r->bad |= !r->has_gw;
	} else if (tb[RTA_VIA]) {
		r->has_gw = get_via(tb[RTA_VIA], &r->gw);
		r->bad |= !r->has_gw;
	}
	r->has_src = get_addr(tb[RTA_PREFSRC], rtm->rtm_family, &r->src);
	if (tb[RTA_METRICS]) {
		tun_nl_parse_nested(mx, RTAX_MAX, tb[RTA_METRICS]);
		get_u32(mx[RTAX_MTU], &r->mtu);
	}
	return 0;
}

/* What the kernel would do with a datagram to @dst; r->got false: no route. */
static int route_get(struct dp_nh *nh, const struct in6_addr *dst,
		     struct route_answer *r, struct vl_status *st)
{
	bool v4 = is_v4(dst);
	uint32_t oif = (uint32_t)nh->ifindex;
	struct query q;
	int kerr;
	int err;

	query_init(&q, RTM_GETROUTE, sizeof(q.rtm));
	q.rtm.rtm_family = v4 ? AF_INET : AF_INET6;
	q.rtm.rtm_dst_len = v4 ? 32 : 128;
	if (!put_addr(&q, RTA_DST, dst))
		return vl_status_set(st, -EMSGSIZE, "route get: request");
	/* Bound: policy rules by source apply, as to the port's socket. */
	if (nh->has_src && is_v4(&nh->src) == v4) {
		q.rtm.rtm_src_len = v4 ? 32 : 128;
		if (!put_addr(&q, RTA_SRC, &nh->src))
			return vl_status_set(st, -EMSGSIZE,
					     "route get: request");
	}
	/* fe80::/10 exists on every link: ask about ours. */
	if (!v4 && is_linklocal6(dst) && !put_attr(&q, RTA_OIF, &oif, 4))
		return vl_status_set(st, -EMSGSIZE, "route get: request");
	memset(r, 0, sizeof(*r));
	err = tun_nl_query(&nh->q, &q.h, "route get", route_answer, r, &kerr,
			   st);
	if (err)
		return err;
	if (kerr) /* ENETUNREACH, EHOSTUNREACH, EINVAL (source not ours)... */
		r->got = false;
	return 0;
}

struct nb_answer {
	bool got;
	struct nb_msg nb;
};

static int nb_answer(const struct nlmsghdr *h, void *arg)
{
	struct nb_answer *a = arg;

	if (h->nlmsg_type != RTM_NEWNEIGH || a->got)
		return 0;
	if (nb_parse(h, &a->nb))
		return -EBADMSG;
	a->got = true;
	return 0;
}

/* The neighbour @hop on our interface; a->got false: none (ENOENT). */
static int nb_get(struct dp_nh *nh, const struct in6_addr *hop,
		  struct nb_answer *a, struct vl_status *st)
{
	struct query q;
	int kerr;
	int err;

	query_init(&q, RTM_GETNEIGH, sizeof(q.ndm));
	q.ndm.ndm_family = is_v4(hop) ? AF_INET : AF_INET6;
	q.ndm.ndm_ifindex = nh->ifindex;
	if (!put_addr(&q, NDA_DST, hop))
		return vl_status_set(st, -EMSGSIZE, "neighbour get: request");
	memset(a, 0, sizeof(*a));
	err = tun_nl_query(&nh->q, &q.h, "neighbour get", nb_answer, a, &kerr,
			   st);
	if (err)
		return err;
	if (kerr)
		a->got = false;
	return 0;
}

/* ---- resolution --------------------------------------------------------- */

static void unroute(struct want *w)
{
	w->routed = false;
	w->nb_known = false;
}

static int resolve(struct dp_nh *nh, struct want *w, struct vl_status *st)
{
	struct route_answer r;
	struct in6_addr hop;
	struct nb_answer a;
	int err;

	err = route_get(nh, &w->dst, &r, st);
	if (err)
		return err;
	w->stale = false;
	if (!r.got || r.bad || r.type != RTN_UNICAST ||
	    r.oif != (uint32_t)nh->ifindex) {
		unroute(w);
		return 0;
	}
	hop = r.has_gw ? r.gw : w->dst;
	if (nh->has_src && is_v4(&nh->src) == is_v4(&w->dst))
		w->src = nh->src;
	else if (r.has_src)
		w->src = r.src;
	else {
		unroute(w); /* no address to send from */
		return 0;
	}
	/* Same next hop: events kept its neighbour current, no query. */
	if (!w->routed || !addr_eq(&w->hop, &hop))
		w->nb_known = false;
	w->routed = true;
	w->hop = hop;
	w->route_mtu = r.mtu;
	if (w->nb_known)
		return 0;
	if (!nh->memo_ok || !addr_eq(&nh->memo_hop, &hop)) {
		err = nb_get(nh, &hop, &a, st);
		if (err) {
			w->stale = true; /* again next time */
			return err;
		}
		nh->memo_ok = true;
		nh->memo_hop = hop;
		nh->memo_usable = a.got && a.nb.ifindex == nh->ifindex &&
				  nb_usable(&a.nb);
		memcpy(nh->memo_mac, a.nb.mac, sizeof(nh->memo_mac));
	}
	w->nb_known = true;
	w->nb_usable = nh->memo_usable;
	memcpy(w->mac, nh->memo_mac, sizeof(w->mac));
	return 0;
}

static int resolve_stale(struct dp_nh *nh, struct vl_status *st)
{
	/* No events are applied during the pass, so the memo holds. */
	nh->memo_ok = false;
	nh->dirty = true;
	for (unsigned int s = 0; s < nh->n_used; s++) {
		struct want *w = &nh->wants[s];
		int err;

		if (!w->stale)
			continue;
		err = resolve(nh, w, st);
		if (err)
			return err; /* any_stale stays: the rest next call */
	}
	nh->any_stale = false;
	return 0;
}

static int resync(struct dp_nh *nh, struct vl_status *st)
{
	struct link_state l;
	int kerr;
	int err;

	err = link_get(nh, &l, &kerr, st);
	if (err)
		return err;
	link_update(nh, &l); /* kerr (ENODEV): gone, l is empty */
	mark_stale(nh, AF_UNSPEC, true);
	nh->resync = false;
	nh->dirty = true;
	return 0;
}

static bool entry_make(const struct dp_nh *nh, const struct want *w,
		       struct dp_nh_entry *e)
{
	uint32_t mtu = nh->link.mtu;

	if (!w->used || !w->routed || !w->nb_known || !w->nb_usable)
		return false;
	memset(e, 0, sizeof(*e));
	e->dst = w->dst;
	e->src = w->src;
	memcpy(e->dst_mac, w->mac, sizeof(e->dst_mac));
	memcpy(e->src_mac, nh->link.mac, sizeof(e->src_mac));
	if (w->route_mtu && w->route_mtu < mtu)
		mtu = w->route_mtu;
	e->mtu = mtu > UINT16_MAX ? UINT16_MAX : (uint16_t)mtu;
	return true;
}

/* A new table if any entry differs from the last one's, else NULL. */
static struct dp_nh_table *publish(struct dp_nh *nh, int *err,
				   struct vl_status *st)
{
	bool up = link_up(&nh->link);
	bool changed = false;
	struct dp_nh_table *t;
	struct slot_entry *tmp;
	unsigned int n = 0;

	nh->dirty = false;
	for (unsigned int s = 0; s < nh->n_used; s++) {
		struct slot_entry *c = &nh->cur[s], *p = &nh->pub[s];

		c->ok = up && entry_make(nh, &nh->wants[s], &c->e);
		if (c->ok != p->ok ||
		    (c->ok && memcmp(&c->e, &p->e, sizeof(c->e))))
			changed = true;
		n += c->ok;
	}
	if (!changed)
		return NULL;
	t = table_build(nh->cur, nh->n_used, n);
	if (!t) {
		nh->dirty = true; /* pub unchanged: try again next call */
		*err = vl_status_set(st, -ENOMEM, "next hops: out of memory");
		return NULL;
	}
	tmp = nh->pub;
	nh->pub = nh->cur;
	nh->cur = tmp;
	return t;
}

/* Events lost, for tun_nl_events_read: what is queued is stale. */
static bool lost(int ret)
{
	return ret == -ENOBUFS || ret == -EMSGSIZE || ret == -EBADMSG;
}

/*
 * Applies up to DP_NH_READ_MAX queued datagrams; stops at a loss, which
 * sets nh->resync.
 */
static int read_events(struct dp_nh *nh, struct vl_status *st)
{
	int ret;

	ret = tun_nl_events_read(&nh->ev, DP_NH_READ_MAX, on_event, nh, st);
	if (lost(ret)) {
		nh->resync = true;
		return 0;
	}
	return ret < 0 ? ret : 0;
}

/*
 * Throws away what is queued, up to DP_NH_DISCARD_MAX datagrams. 1 when
 * the socket is empty, 0 when more is left, or -errno.
 */
static int discard_events(struct dp_nh *nh, struct vl_status *st)
{
	unsigned int n = 0;

	while (n < DP_NH_DISCARD_MAX) {
		int ret = tun_nl_events_read(&nh->ev, DP_NH_DISCARD_MAX - n,
					     ignore_event, NULL, st);

		if (lost(ret)) {
			n++; /* more dropped meanwhile: go on */
			continue;
		}
		if (ret < 0)
			return ret;
		if (!ret)
			return 1;
		n += (unsigned int)ret;
	}
	return 0;
}

struct dp_nh_table *dp_nh_process(struct dp_nh *nh, int *err,
				  struct vl_status *st)
{
	int ret;

	*err = 0;
	if (!nh->resync) {
		ret = read_events(nh, st);
		if (ret)
			goto fail;
	}
	if (nh->resync) {
		ret = discard_events(nh, st);
		if (ret < 0)
			goto fail;
		if (!ret)
			return NULL; /* the fd stays readable: next call */
		ret = resync(nh, st);
		if (ret)
			goto fail;
	}
	if (nh->any_stale) {
		ret = resolve_stale(nh, st);
		if (ret)
			goto fail;
	}
	if (!nh->dirty)
		return NULL;
	return publish(nh, err, st);

fail:
	vl_status_prefix(st, "next hops: ");
	*err = ret;
	return NULL;
}

/* ---- setup -------------------------------------------------------------- */

int dp_nh_open(int ifindex, const struct in6_addr *src, struct dp_nh **out,
	       struct vl_status *st)
{
	static const unsigned int groups[] = {
		RTNLGRP_LINK,	     RTNLGRP_NEIGH,	 RTNLGRP_IPV4_IFADDR,
		RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE,
	};
	struct dp_nh *nh;
	int kerr;
	int err;

	*out = NULL;
	if (ifindex <= 0)
		return vl_status_set(st, -EINVAL,
				     "next hops: bad interface index %d",
				     ifindex);
	nh = calloc(1, sizeof(*nh));
	if (!nh)
		return vl_status_set(st, -ENOMEM, "next hops: out of memory");
	nh->ev.fd = -1;
	nh->q.fd = -1;
	nh->ifindex = ifindex;
	nh->wants = calloc(DP_NH_WANT_MAX, sizeof(*nh->wants));
	nh->index = calloc(DP_NH_HASH_SIZE, sizeof(*nh->index));
	nh->pub = calloc(DP_NH_WANT_MAX, sizeof(*nh->pub));
	nh->cur = calloc(DP_NH_WANT_MAX, sizeof(*nh->cur));
	if (!nh->wants || !nh->index || !nh->pub || !nh->cur) {
		err = vl_status_set(st, -ENOMEM, "out of memory");
		goto free_nh;
	}
	if (src && !is_unspec(src)) {
		nh->has_src = true;
		nh->src = *src;
	}
	/*
	 * Listen first, then read the link: a change after the read is
	 * then seen as an event, never lost between the two.
	 */
	err = tun_nl_open_events(&nh->ev, groups,
				 sizeof(groups) / sizeof(groups[0]),
				 DP_NH_RCVBUF, st);
	if (err)
		goto free_nh;
	err = tun_nl_open(&nh->q, st);
	if (err)
		goto close_ev;
	err = link_get(nh, &nh->link, &kerr, st);
	if (err)
		goto close_q;
	if (kerr) {
		err = vl_status_set(st, kerr, "interface %d: %s", ifindex,
				    strerror(-kerr));
		goto close_q;
	}
	if (nh->link.type != ARPHRD_ETHER || !nh->link.mac_ok) {
		err = vl_status_set(st, -EOPNOTSUPP,
				    "interface %d is not Ethernet", ifindex);
		goto close_q;
	}
	*out = nh;
	return 0;

close_q:
	tun_nl_close(&nh->q);
close_ev:
	tun_nl_close(&nh->ev);
free_nh:
	vl_status_prefix(st, "next hops: ");
	free(nh->wants);
	free(nh->index);
	free(nh->pub);
	free(nh->cur);
	free(nh);
	return err;
}

void dp_nh_close(struct dp_nh *nh)
{
	if (!nh)
		return;
	tun_nl_close(&nh->q);
	tun_nl_close(&nh->ev);
	free(nh->wants);
	free(nh->index);
	free(nh->pub);
	free(nh->cur);
	free(nh);
}

int dp_nh_fd(const struct dp_nh *nh)
{
	return nh->ev.fd;
}
