/* SPDX-License-Identifier: MIT */
#ifndef CTL_LIGHTHOUSE_H
#define CTL_LIGHTHOUSE_H

/*
 * Lighthouse messages (spec §5.4): NebulaMeta protobufs sent as type 3 on
 * a tunnel, in both roles.
 *
 * Client (lighthouse.hosts set): a HostUpdateNotification with our
 * underlay addresses to every lighthouse at start and every
 * lighthouse.interval seconds, a HostQuery when a handshake to a peer
 * starts (and on retries while the peer has at most one address); the
 * HostQueryReply's addresses go into the pending handshake, a
 * HostPunchNotification makes us send punch bytes to the peer that asked.
 *
 * Server (lighthouse.am_lighthouse): keeps, per host, what the host
 * reported and the address its tunnel comes from ("learned"), answers
 * queries with them and tells the queried host to punch towards the
 * querier.
 *
 * Both roles keep one address cache: entries are (host, owner) pairs,
 * owner being who told us (the host itself on a lighthouse, the
 * lighthouse on a client), as 1.6.1's RemoteList keeps them. A host's
 * entries go when its tunnel goes. The cache is a flat array searched
 * linearly, like the host map; both are bounded, the cache by
 * CTL_LH_CACHES_MAX.
 *
 * Everything runs on vela-control's one thread (node.c).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "wire.h"

struct ctl_node;
struct ctl_tunnel;

enum ctl_lh_limits {
	/* Learned plus MaxRemotes reported, per family, in one message. */
	CTL_LH_MSG_ADDRS_MAX = WIRE_MAX_REMOTES + 1,
	CTL_LH_RELAYS_MAX = WIRE_MAX_REMOTES,
	CTL_LH_MSG_MAX = 1024, /* a full NebulaMeta is < 600 bytes */
	CTL_LH_CACHES_MAX = 65536, /* (host, owner) entries */
	CTL_LH_TIMERS_MAX = 256, /* punches waiting for punchy.delay */
	CTL_LH_ADVERTISE_MAX = 2 * WIRE_MAX_REMOTES,
};

/* NebulaMeta.Type values (spec §5.4, §11). */
enum ctl_lh_type {
	CTL_LH_HOST_QUERY = 1,
	CTL_LH_HOST_QUERY_REPLY = 2,
	CTL_LH_HOST_UPDATE_NOTIFICATION = 3,
	CTL_LH_HOST_MOVED_NOTIFICATION = 4,
	CTL_LH_HOST_PUNCH_NOTIFICATION = 5,
};

/*
 * A NebulaMeta, decoded. Addresses are AF_INET6 socket addresses (IPv4
 * v4-mapped), port and address only. v4[] becomes Ip4AndPorts and must
 * hold v4-mapped addresses; v6[] becomes Ip6AndPorts.
 */
struct ctl_lh_msg {
	int type; /* enum ctl_lh_type, or what came */
	uint32_t vpn_ip; /* Details.VpnIp */
	unsigned int n_v4, n_v6, n_relays;
	struct sockaddr_in6 v4[CTL_LH_MSG_ADDRS_MAX];
	struct sockaddr_in6 v6[CTL_LH_MSG_ADDRS_MAX];
	uint32_t relays[CTL_LH_RELAYS_MAX];
};

/* What one owner told us about one host. */
struct ctl_lh_cache {
	uint32_t vpn_ip; /* the host */
	uint32_t owner; /* the host itself, or a lighthouse */
	struct sockaddr_in6 learned4; /* lighthouse: its tunnel's source; */
	struct sockaddr_in6 learned6; /* sin6_family 0 = none */
	unsigned int n_v4, n_v6, n_relays;
	struct sockaddr_in6 v4[WIRE_MAX_REMOTES]; /* reported */
	struct sockaddr_in6 v6[WIRE_MAX_REMOTES];
	uint32_t relays[WIRE_MAX_REMOTES];
};

/* A punch byte waiting for punchy.delay, or a punch-back (to unset). */
struct ctl_lh_timer {
	uint64_t at_ns;
	uint32_t vpn_ip; /* punch-back: test or handshake to it */
	struct sockaddr_in6 to; /* punch: 0x00 to it; family 0 otherwise */
};

struct ctl_lh {
	struct ctl_lh_cache **caches;
	size_t n_caches;
	struct ctl_lh_timer timers[CTL_LH_TIMERS_MAX];
	size_t n_timers;
	uint64_t next_update_ns; /* next HostUpdateNotification */
	bool update_due; /* set up: send at the next tick */
	/* lighthouse.advertise_addrs, resolved once (port 0: ours). */
	struct sockaddr_in6 advertise[CTL_LH_ADVERTISE_MAX];
	unsigned int n_advertise;
};

/* ---- lighthouse.c: encoding, no state; any thread -------------------- */

/*
 * Writes @m as gogo/protobuf marshals a NebulaMeta: fields in number
 * order, zero values omitted, Details always present. 0, or -EINVAL for
 * counts above the limits or a v4[] entry that is not v4-mapped, or
 * -ENOBUFS when @cap is too small.
 */
int ctl_lh_encode(const struct ctl_lh_msg *m, uint8_t *out, size_t cap,
		  size_t *out_len);

/*
 * Reads a NebulaMeta. -EINVAL when it is not one, has no Details (1.6.1
 * refuses those too) or lists a port above 65535. Only the first
 * CTL_LH_MSG_ADDRS_MAX addresses per family and CTL_LH_RELAYS_MAX relays
 * are kept: 1.6.1 never uses more than MaxRemotes.
 */
int ctl_lh_decode(const uint8_t *buf, size_t len, struct ctl_lh_msg *m);

/* ---- lighthouse.c: the node's side; vela-control's thread only ------- */

/* After the config and PKI are loaded: resolves advertise_addrs. */
void ctl_lh_init(struct ctl_node *n);
void ctl_lh_free(struct ctl_lh *lh);

bool ctl_lh_is_lighthouse(const struct ctl_node *n, uint32_t vpn_ip);

/* The dataplane is set up (again): send our update at the next tick. */
void ctl_lh_on_setup(struct ctl_node *n);
/* Periodic updates and due punches; call every tick while set up. */
void ctl_lh_timers(struct ctl_node *n);

/* Host map events (node.c). */
void ctl_lh_on_tunnel_up(struct ctl_node *n, const struct ctl_tunnel *t);
void ctl_lh_on_roam(struct ctl_node *n, const struct ctl_tunnel *t);
/* No tunnel to @vpn_ip is left: forget what we know about it. */
void ctl_lh_forget(struct ctl_node *n, uint32_t vpn_ip);

/* A decrypted type-3 payload that arrived on @t. */
void ctl_lh_on_message(struct ctl_node *n, const struct ctl_tunnel *t,
		       const uint8_t *buf, size_t len);

/*
 * Asks every lighthouse where @vpn_ip is (handshake start and retries).
 * Nothing on a lighthouse, nor about a lighthouse. A lighthouse without a
 * tunnel gets a handshake; the query follows when that tunnel is up.
 */
void ctl_lh_query(struct ctl_node *n, uint32_t vpn_ip);

/* Every cached address of @vpn_ip, up to @max; returns how many. */
unsigned int ctl_lh_addrs(const struct ctl_node *n, uint32_t vpn_ip,
			  struct sockaddr_in6 *out, unsigned int max);

/*
 * The addresses our HostUpdateNotification reports: advertise_addrs, then
 * the local interfaces' (no loopback, link-local or VPN addresses), with
 * our listen port; at most WIRE_MAX_REMOTES per family.
 */
void ctl_lh_local_addrs(const struct ctl_node *n, struct ctl_lh_msg *m);

#endif /* CTL_LIGHTHOUSE_H */
