/* SPDX-License-Identifier: MIT */
#ifndef CTL_NODE_H
#define CTL_NODE_H

/*
 * vela-control's state: the config, the PKI, the connection to the
 * dataplane, the host map (established tunnels) and the pending handshakes.
 * One thread runs all of it (node.c's event loop); nothing here is shared.
 *
 * The control plane keeps every tunnel's keys (wiped when the tunnel goes)
 * so it can re-install them into a restarted dataplane without a new
 * handshake, and the highest send-counter lease it granted, so the
 * re-installed tunnel never reuses a nonce (common/ctlmsg.h).
 */

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "config.h"
#include "ctlmsg.h"
#include "lighthouse.h"
#include "metrics.h"
#include "noise.h"
#include "pki.h"

#define CTL_ADDRS_MAX 16       /* underlay addresses tried per peer */
#define CTL_HS_MSG_MAX 4096

/* An established tunnel, as installed in the dataplane. */
struct ctl_tunnel {
	struct ctlmsg_tunnel_add add; /* keys and counters; wiped on free */
	struct ctl_cert *cert;        /* the peer's, verified */
	uint64_t peer_time;           /* the handshake Time that made it (§3.8) */
	bool responder;
	/* Responder side: msg 1 that made it and our msg 2, for retransmits. */
	uint8_t *msg1;
	size_t msg1_len;
	uint8_t *msg2;
	size_t msg2_len;
	unsigned int recv_errors;
	char name[64];                /* peer certificate name, for logs */
	/*
	 * Is it really in the dataplane? The seq of our last TUNNEL_ADD, the
	 * DUMP that last listed it, and whether one repair was tried (node.c).
	 */
	uint32_t add_seq, seen_in_dump;
	bool repair_tried;
	/* Connection manager (connmgr.c): activity from the dataplane's dumps. */
	/* The dataplane's counters at the last ACTIVITY or DUMP (also metrics). */
	uint64_t cm_rx, cm_tx;        /* packets */
	uint64_t cm_rx_bytes, cm_tx_bytes;
	uint64_t cm_check_ns;         /* next check; 0 when not watched */
	uint64_t cm_rx_at_arm;        /* rx packets when the watch began */
	bool cm_tested;               /* a test request went out: next is deletion */
};

/* A handshake we started, waiting for message 2. */
struct ctl_pending {
	uint32_t vpn_ip;
	uint32_t local_index;
	struct ctl_noise noise;
	uint8_t msg1[CTL_HS_MSG_MAX]; /* header included, resent unchanged */
	size_t msg1_len;
	unsigned int attempts;
	uint64_t next_ns;             /* next transmission */
	struct sockaddr_in6 addrs[CTL_ADDRS_MAX];
	unsigned int n_addrs;
};

struct ctl_static_addrs {
	uint32_t vpn_ip;
	struct sockaddr_in6 addrs[CTL_ADDRS_MAX];
	unsigned int n_addrs;
};

struct ctl_node {
	struct ctl_config cfg;
	struct ctl_pki pki;
	const char *socket_path;
	int dp_fd;                     /* -1 while not connected */
	uint32_t seq;
	bool set_up;                   /* SETUP_DONE received on this connection */
	uint16_t port;                 /* the dataplane's bound port */
	uint64_t now_ns;               /* CLOCK_MONOTONIC */

	struct ctl_static_addrs *statics;
	size_t n_statics;

	struct ctl_tunnel **tunnels;
	size_t n_tunnels;
	/*
	 * The same tunnels by local index, open addressing, rebuilt when one
	 * goes: every punt and every activity record looks one up.
	 */
	struct ctl_tunnel **by_index;
	size_t by_index_cap;           /* a power of two; 0: scan instead */
	struct ctl_pending **pending;
	size_t n_pending;

	struct ctl_lh lh; /* lighthouse cache and timers */
	/*
	 * firewall.* compiled (fw_compile.h): sent after every SETUP and
	 * again when a reload changes it.
	 */
	struct ctlmsg_firewall *fw;
	uint32_t fw_len;
	uint32_t fw_gen;
	uint32_t dump_seq;         /* the DUMP being answered; 0: none */
	uint64_t dump_sent_ns;
	uint32_t activity_seq;     /* the ACTIVITY being answered (connmgr.c) */
	uint64_t activity_sent_ns;
	uint64_t cm_next_dump_ns;  /* connmgr.c */
	uint64_t punch_next_ns;    /* punchy.c */

	struct ctl_counters counters; /* metrics.h */
	struct ctl_metrics metrics;   /* the Prometheus endpoint */
};

/* node.c: the dataplane connection and the event loop. */
int ctl_node_init(struct ctl_node *n, const char *config_path,
		  struct vl_status *st);
void ctl_node_free(struct ctl_node *n);
/*
 * Runs until *stop; sends closeTunnel to every peer before returning.
 * When *reload is set (SIGHUP) it clears it and reloads (ctl_node_reload).
 */
int ctl_node_run(struct ctl_node *n, volatile sig_atomic_t *stop,
		 volatile sig_atomic_t *reload);
/*
 * Reads the config file again and applies what may change while running,
 * as nebula 1.6.1 does on SIGHUP, each part on its own and all or nothing:
 * the CA pool and blocklist (then every tunnel's firewall identity, sent
 * as TUNNEL_IDENTITY where it changed), our certificate and key (only
 * with the same IPs and subnets; new handshakes use them), the firewall
 * rules and conntrack timeouts. A part that fails keeps what was in force
 * and logs why; a file that does not load changes nothing.
 */
void ctl_node_reload(struct ctl_node *n);
/* Sends a record to the dataplane; 0 or -errno (the connection is dropped). */
int ctl_node_send(struct ctl_node *n, void *msg, uint16_t type, uint32_t len);
/* Handles one record from the dataplane; lengths are checked first. */
void ctl_node_on_record(struct ctl_node *n, const void *buf, size_t len);
/*
 * Asks for a DUMP unless one is still being answered: one at a time, so a
 * slow dump of many tunnels never piles up behind itself.
 */
void ctl_node_dump(struct ctl_node *n);

/*
 * connmgr.c: liveness of tunnels we send on (spec §5.2), from the
 * dataplane's per-tunnel counters, which it reports (ACTIVITY) every
 * second; a DUMP's records feed the same check.
 */
void ctl_cm_timers(struct ctl_node *n);
void ctl_cm_on_activity(struct ctl_node *n, struct ctl_tunnel *t,
			const struct ctlmsg_activity *a);

/* punchy.c: NAT keepalives to every peer every 10 s (punchy.punch). */
void ctl_punchy_timers(struct ctl_node *n);

/* handshake.c: Noise IX with peers (spec §3). */
void ctl_hs_start(struct ctl_node *n, uint32_t vpn_ip);
void ctl_hs_on_packet(struct ctl_node *n, const struct ctlmsg_punt *p);
void ctl_hs_timers(struct ctl_node *n);
/*
 * New addresses for @vpn_ip (a lighthouse answer): added to its pending
 * handshake, which is sent at once if it was never sent yet (§3.7).
 */
void ctl_hs_add_addrs(struct ctl_node *n, uint32_t vpn_ip,
		      const struct sockaddr_in6 *addrs, unsigned int n_addrs);

/* The host map. */
struct ctl_tunnel *ctl_tunnel_by_vpn(struct ctl_node *n, uint32_t vpn_ip);
struct ctl_tunnel *ctl_tunnel_by_index(struct ctl_node *n, uint32_t index);
struct ctl_tunnel *ctl_tunnel_by_remote_index(struct ctl_node *n,
					      uint32_t index);
/*
 * Installs @t in the dataplane and the host map (replacing any for its
 * peer). The caller tells the lighthouse code (ctl_lh_on_tunnel_up) once
 * the peer can take messages on it: after message 2 went, as responder.
 */
int ctl_tunnel_install(struct ctl_node *n, struct ctl_tunnel *t);
/*
 * lighthouse.remote_allow_list / remote_allow_ranges: whether the peer of
 * VPN IP @vpn_ip may be reached at, or heard from, underlay address @a.
 */
bool ctl_remote_allowed(const struct ctl_node *n, uint32_t vpn_ip,
			const struct sockaddr_in6 *a);
/* Removes the tunnel everywhere; closeTunnel first when @send_close. */
void ctl_tunnel_remove(struct ctl_node *n, struct ctl_tunnel *t,
		       bool send_close);
void ctl_tunnel_free(struct ctl_tunnel *t);

/* A fresh local index: random, non-zero, unused by any tunnel or handshake. */
uint32_t ctl_index_new(struct ctl_node *n);

/*
 * "host:port" or "[v6]:port" (port 0 allowed) resolved to AF_INET6
 * addresses, IPv4 v4-mapped; returns how many, up to @max.
 */
unsigned int ctl_addr_resolve(const char *hostport, struct sockaddr_in6 *out,
			      unsigned int max);

/* "10.1.0.2" */
void ctl_ip_str(uint32_t ip, char buf[16]);
/* "172.31.0.2:4242" or "[2001:db8::1]:4242" */
void ctl_addr_str(const struct sockaddr_in6 *a, char *buf, size_t len);

#endif /* CTL_NODE_H */
