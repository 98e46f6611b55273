/* SPDX-License-Identifier: MIT */
/*
 * A device's link state from RTM_NEWLINK / RTM_DELLINK multicasts. The
 * kernel sends RTM_NEWLINK for every change (flags, MTU, operstate,
 * queue count...), so most events change nothing we report: @cur
 * follows every event, @seen is what the caller was last told, and a
 * read returns 1 only when they differ in a field we report.
 */
#include "link_watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netlink.h"
#include "status.h"

enum link_watch_limits {
	LW_RCVBUF = 256 * 1024, /* link events only; big ones come rarely */
	LW_READS_MAX = 256, /* datagrams per tun_link_watch_read */
	LW_DRAIN_ROUNDS = 16, /* of LW_READS_MAX, dropping stale events */
};

struct tun_link_watch {
	struct tun_nl_conn ev;
	int ifindex;
	struct tun_link_state cur;
	struct tun_link_state seen;
};

static void from_link(struct tun_link_state *s, const struct tun_nl_link *l)
{
	s->exists = true;
	s->flags = l->flags;
	s->up = (l->flags & IFF_UP) != 0;
	s->running = (l->flags & IFF_RUNNING) != 0;
	s->mtu = l->mtu;
	memcpy(s->name, l->name, sizeof(s->name));
}

static void on_event(const struct nlmsghdr *h, void *arg)
{
	struct tun_link_watch *w = arg;
	const struct rtattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	uint32_t mtu;

	if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
		return;
	if (tun_nl_parse(h, sizeof(*ifi), tb, IFLA_MAX) ||
	    ifi->ifi_index != w->ifindex)
		return;
	if (h->nlmsg_type == RTM_DELLINK) {
		w->cur.exists = false;
		w->cur.up = false;
		w->cur.running = false;
		return;
	}
	w->cur.exists = true;
	w->cur.flags = ifi->ifi_flags;
	w->cur.up = (ifi->ifi_flags & IFF_UP) != 0;
	w->cur.running = (ifi->ifi_flags & IFF_RUNNING) != 0;
	if (tb[IFLA_MTU] && RTA_PAYLOAD(tb[IFLA_MTU]) >= sizeof(mtu)) {
		memcpy(&mtu, RTA_DATA(tb[IFLA_MTU]), sizeof(mtu));
		w->cur.mtu = mtu;
	}
	if (tb[IFLA_IFNAME] && RTA_PAYLOAD(tb[IFLA_IFNAME]) > 0) {
		size_t n = RTA_PAYLOAD(tb[IFLA_IFNAME]);

		if (n > sizeof(w->cur.name) - 1)
			n = sizeof(w->cur.name) - 1;
		memcpy(w->cur.name, RTA_DATA(tb[IFLA_IFNAME]), n);
		w->cur.name[n] = '\0';
	}
}

static void ignore(const struct nlmsghdr *h, void *arg)
{
	(void)h;
	(void)arg;
}

/* RTM_GETLINK; a device that is gone is a state, not an error. */
static int resync(struct tun_link_watch *w, struct vl_status *st)
{
	struct tun_nl_conn nl;
	struct tun_nl_link link;
	int err;

	err = tun_nl_open(&nl, st);
	if (err)
		return err;
	err = tun_nl_link_get_index(&nl, w->ifindex, &link, st);
	tun_nl_close(&nl);
	if (err == -ENODEV) {
		w->cur.exists = false;
		w->cur.up = false;
		w->cur.running = false;
		return 0;
	}
	if (err)
		return err;
	from_link(&w->cur, &link);
	return 0;
}

int tun_link_watch_open(int ifindex, struct tun_link_watch **wp,
			struct vl_status *st)
{
	static const unsigned int groups[] = { RTNLGRP_LINK };
	struct tun_link_watch *w;
	int err;

	*wp = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return vl_status_set(st, -ENOMEM, "link watch: out of memory");
	w->ifindex = ifindex;
	w->cur.ifindex = ifindex;
	err = tun_nl_open_events(&w->ev, groups, 1, LW_RCVBUF, st);
	if (err)
		goto free_w;
	err = resync(w, st);
	if (!err && !w->cur.exists)
		err = vl_status_set(st, -ENODEV, "link watch: no device %d",
				    ifindex);
	if (err)
		goto close_ev;
	w->seen = w->cur;
	*wp = w;
	return 0;

close_ev:
	tun_nl_close(&w->ev);
free_w:
	free(w);
	vl_status_prefix(st, "link watch %d: ", ifindex);
	return err;
}

int tun_link_watch_fd(const struct tun_link_watch *w)
{
	return w->ev.fd;
}

static bool differs(const struct tun_link_state *a,
		    const struct tun_link_state *b)
{
	return a->exists != b->exists || a->up != b->up ||
	       a->running != b->running || a->mtu != b->mtu;
}

int tun_link_watch_read(struct tun_link_watch *w, struct tun_link_state *out,
			struct vl_status *st)
{
	int n, err;

	n = tun_nl_events_read(&w->ev, LW_READS_MAX, on_event, w, st);
	if (n == -ENOBUFS || n == -EMSGSIZE || n == -EBADMSG) {
		/*
		 * Events lost. Those still queued are older than a fresh
		 * RTM_GETLINK, so drop them first (bounded: under a storm
		 * some stale ones may follow, and later reads correct
		 * them), then what the kernel says now is the truth.
		 */
		for (int i = 0; i < LW_DRAIN_ROUNDS; i++) {
			n = tun_nl_events_read(&w->ev, LW_READS_MAX, ignore,
					       NULL, st);
			if (n == 0 || (n < 0 && n != -ENOBUFS &&
				       n != -EMSGSIZE && n != -EBADMSG))
				break;
		}
		if (n < 0 && n != -ENOBUFS && n != -EMSGSIZE && n != -EBADMSG)
			return n;
		err = resync(w, st);
		if (err)
			return err;
	} else if (n < 0) {
		return n;
	}
	*out = w->cur;
	if (!differs(&w->cur, &w->seen))
		return 0;
	w->seen = w->cur;
	return 1;
}

void tun_link_watch_close(struct tun_link_watch *w)
{
	if (!w)
		return;
	tun_nl_close(&w->ev);
	free(w);
}
