/* SPDX-License-Identifier: MIT */
#ifndef VL_CTLMSG_H
#define VL_CTLMSG_H

/*
 * The control channel between vela-control (and dpctl) and vela-dataplane
 * (DESIGN.md §6): a Unix SOCK_SEQPACKET socket that the dataplane listens
 * on (dataplane.socket), one message per record. Both ends are the same
 * build on the same host, so messages are fixed-layout structs in host byte
 * order; every record starts with struct ctlmsg_hdr, whose version must
 * match and whose length must equal the record's. A receiver checks the
 * length of every message before reading it and counts what it rejects.
 * New message types take new numbers at the end of enum ctlmsg_type; a
 * change to an existing layout bumps CTLMSG_VERSION.
 *
 * Who says what:
 *
 *   control -> dataplane   HELLO, SETUP, TUNNEL_ADD, TUNNEL_DEL,
 *                          TUNNEL_REMOTE, TUNNEL_IDENTITY, LEASE_GRANT,
 *                          INJECT_RAW, INJECT_SA, INJECT_TUN, INJECT_OUT,
 *                          FIREWALL, DUMP, STATS, ACTIVITY
 *   dpctl -> dataplane     HELLO, DUMP, STATS, FLOWS, CLEAR (FLOWS may
 *                          reset the per-connection counters, CLEAR the
 *                          STATS counters; nothing else changes state)
 *   dataplane -> either    HELLO, SETUP_DONE, PUNT, LEASE_REQUEST,
 *                          DUMP_TUNNEL, DUMP_END, STATS_REPLY,
 *                          ACTIVITY_REPLY, FLOWS_REPLY, ERROR
 *
 * PUNT and LEASE_REQUEST go to the control connection only, unsolicited
 * (seq 0); every other dataplane record answers a request and echoes its
 * seq. A refused request is answered with ERROR instead.
 *
 * Record lengths. A record is exactly as long as its struct, except:
 * - PUNT and the INJECT_* messages end in a CTLMSG_PACKET_MAX data array of
 *   which only `len` bytes are used. Their record, and hdr.len, is
 *   offsetof(struct, data) + len -- never the whole struct: the dataplane
 *   sends punts that way and refuses an inject of any other length,
 *   including a full-size struct with a shorter len.
 * - FIREWALL is variable too: its fixed part, then rules, group references
 *   and strings, exactly as long as its counts say (fw_wire.h).
 * - DUMP, DUMP_END and STATS are a bare struct ctlmsg_hdr (16 bytes).
 *
 * DUMP answers with one DUMP_TUNNEL per tunnel installed when it arrived,
 * in install order (one removed meanwhile is left out), then DUMP_END, all
 * with the DUMP's seq. The records go out as fast as the reader takes
 * them, and replies to later requests may come between them; one DUMP per
 * connection at a time (another is refused with EBUSY). The dataplane
 * never waits for a reader: replies queue (up to 4 MiB) and a connection
 * that takes nothing for 5 s is closed. DUMP_TUNNEL.tunnel.send_counter
 * is min(send_counter, lease_end), a counter no packet used after it, so
 * a tunnel re-installed from the dump never repeats a nonce (sa.h keeps
 * the counter at or below lease_end in any case). dpctl connections get
 * the tunnels with both keys zeroed.
 *
 * ACTIVITY answers with ACTIVITY_REPLY records of up to
 * CTLMSG_ACTIVITY_MAX tunnels each (48 bytes a tunnel, against 4.6 KB in a
 * DUMP_TUNNEL), the last one with `last` set: the packet and byte counters
 * and the highest counter received of every tunnel, what the control
 * plane's liveness checks (and its per-peer metrics) read once a second.
 *
 * STATS answers with one STATS_REPLY: the setup in force and every
 * worker's counters, copied as the workers left them; the reader sums.
 *
 * CLEAR (a bare header; `dpctl clear`) zeroes what STATS reports to dpctl
 * connections, and answers with a STATS_REPLY taken just after. The
 * workers' counters are theirs alone to write, so nothing is zeroed: the
 * dataplane keeps the counters as they were at the last CLEAR and
 * subtracts them from every STATS_REPLY it sends a dpctl connection. The
 * control connection always gets the counters since SETUP: they feed the
 * Prometheus endpoint, whose counters must only go up (a reset is a
 * restart). Tunnel counters (DUMP, ACTIVITY) and flow counters (FLOWS) are
 * not touched.
 *
 * Nonces are never reused, across restarts too. The dataplane alone owns a
 * tunnel's send counter while it runs, but it may only use counters up to
 * a lease end granted by the control plane (LEASE_GRANT, in steps of
 * CTLMSG_LEASE_STEP). It asks for the next lease well before the end
 * (LEASE_REQUEST). The control plane remembers the highest lease end it
 * granted; when it re-installs a tunnel into a restarted dataplane, the
 * send counter starts above that, so no counter the old process might have
 * used is used again. Receive windows restart from the highest counter the
 * dataplane reported (DUMP_TUNNEL.recv_max, LEASE_REQUEST.recv_max).
 *
 * Restarts: when vela-control restarts it sends HELLO and DUMP; the
 * dataplane answers with its tunnels (including the peer certificate the
 * control plane installed with each), and the control plane adopts them
 * without a handshake. When vela-dataplane restarts, the control plane
 * sees the socket close, reconnects, sends SETUP and re-adds every tunnel.
 * After any reconnect to a dataplane that has tunnels, the control plane
 * checks the DUMP against its own list and re-adds what is missing (a
 * TUNNEL_ADD lost with the old connection).
 */

#include <stdint.h>
#include <netinet/in.h>

#define CTLMSG_VERSION 4
#define CTLMSG_MAX (64 * 1024)    /* largest record */
#define CTLMSG_PACKET_MAX 9216    /* a datagram or IP packet carried inside */
#define CTLMSG_CERT_MAX 4096      /* a peer certificate kept with its tunnel */
#define CTLMSG_LEASE_STEP (UINT64_C(1) << 24)
#define CTLMSG_ROUTES_MAX 256
#define CTLMSG_NETS_MAX 32

enum ctlmsg_type {
	CTLMSG_HELLO = 1,
	CTLMSG_SETUP,
	CTLMSG_SETUP_DONE,
	CTLMSG_TUNNEL_ADD,
	CTLMSG_TUNNEL_DEL,
	CTLMSG_TUNNEL_REMOTE,
	CTLMSG_LEASE_REQUEST,
	CTLMSG_LEASE_GRANT,
	CTLMSG_PUNT,
	CTLMSG_INJECT_RAW,
	CTLMSG_INJECT_SA,
	CTLMSG_DUMP,
	CTLMSG_DUMP_TUNNEL,
	CTLMSG_DUMP_END,
	CTLMSG_ERROR,
	CTLMSG_STATS,
	CTLMSG_STATS_REPLY,
	CTLMSG_ACTIVITY,
	CTLMSG_ACTIVITY_REPLY,
	CTLMSG_INJECT_TUN,
	CTLMSG_INJECT_OUT,
	CTLMSG_FLOWS,
	CTLMSG_FLOWS_REPLY,
	CTLMSG_FIREWALL,
	CTLMSG_TUNNEL_IDENTITY,
	CTLMSG_CLEAR,
};

struct ctlmsg_hdr {
	uint16_t version; /* CTLMSG_VERSION */
	uint16_t type;    /* enum ctlmsg_type */
	uint32_t len;     /* of the whole record, header included */
	uint32_t seq;     /* echoed in replies */
	uint32_t reserved;
};

/* The firewall's records and the peer identity TUNNEL_ADD carries. */
#include "fw_wire.h"

enum ctlmsg_role {
	CTLMSG_ROLE_CONTROL = 1, /* one at a time; a new one replaces the old */
	CTLMSG_ROLE_DPCTL,       /* read-only: DUMP and STATS */
};

struct ctlmsg_hello {
	struct ctlmsg_hdr hdr;
	uint32_t role;
	uint32_t pid;
	uint32_t set_up;     /* dataplane: 1 when a SETUP is in force */
	uint32_t n_tunnels;  /* dataplane: tunnels it holds */
};

enum ctlmsg_backend { CTLMSG_BACKEND_AUTO, CTLMSG_BACKEND_XSK,
		      CTLMSG_BACKEND_UDP, CTLMSG_BACKEND_DPDK };
enum ctlmsg_mode { CTLMSG_MODE_ADAPTIVE, CTLMSG_MODE_BUSY,
		   CTLMSG_MODE_EVENT };
enum ctlmsg_recv_error { CTLMSG_RECV_ERROR_ALWAYS, CTLMSG_RECV_ERROR_NEVER,
			 CTLMSG_RECV_ERROR_PRIVATE };

struct ctlmsg_net {
	uint32_t ip; /* host byte order */
	uint32_t mask;
};

struct ctlmsg_route {
	struct ctlmsg_net dst;
	uint32_t via;  /* VPN IP of the peer to send through; 0 = the VPN network */
	uint32_t mtu;  /* 0: tun.mtu */
	uint32_t metric;
};

/*
 * Everything the dataplane needs to bring up ports and the TUN device: the
 * validated, binary form of the config's listen/tun/dataplane sections and
 * of our own certificate's addresses. Sent once per dataplane lifetime; a
 * second SETUP must be identical (else ERROR), so a restarted control plane
 * can resend it blindly.
 */
struct ctlmsg_setup {
	struct ctlmsg_hdr hdr;
	struct sockaddr_in6 listen;
	uint32_t backend;           /* enum ctlmsg_backend */
	uint32_t mode;              /* enum ctlmsg_mode */
	uint32_t workers;
	uint32_t cipher;            /* enum vl_cipher */
	char interface[16];         /* NIC for xsk/dpdk */
	char tun_dev[16];           /* "" = kernel picks */
	uint32_t tun_disabled;
	uint32_t tun_offload;       /* 1: IFF_VNET_HDR with TSO/USO, GRO writes */
	uint32_t mtu;
	/*
	 * The TUN's per-queue ring length (tun.tx_queue). Not 0 when the TUN
	 * is enabled: a 0-slot ring drops every packet, so SETUP is refused.
	 */
	uint32_t tx_queue;
	uint32_t read_buffer, write_buffer;
	uint32_t send_recv_error;   /* enum ctlmsg_recv_error */
	uint32_t drop_local_broadcast, drop_multicast;
	/*
	 * Packets for a peer without a tunnel wait this long for the
	 * handshake (a little more than try_interval * retries allows), then
	 * are dropped; at most 100 per peer, as in 1.6.1.
	 */
	uint32_t pending_timeout_ms;
	/*
	 * Entries of the flow table (conntrack and per-connection counters,
	 * dataplane/flow.h), 1024 to 1 << 24 (dataplane.flows): its memory
	 * is fixed at setup, about 100 bytes an entry.
	 */
	uint32_t flows_max;
	struct ctlmsg_net vpn;      /* our VPN address and network (cert Ips[0]) */
	uint32_t n_local_nets;      /* our cert's Ips and Subnets: what we accept */
	struct ctlmsg_net local_nets[CTLMSG_NETS_MAX];
	uint32_t n_routes;          /* tun.routes (via 0) and tun.unsafe_routes */
	struct ctlmsg_route routes[CTLMSG_ROUTES_MAX];
};

struct ctlmsg_setup_done {
	struct ctlmsg_hdr hdr;
	int32_t err;                /* 0 or -errno */
	uint32_t backend;           /* the one chosen (auto resolved) */
	uint16_t port;              /* the UDP port actually bound */
	uint16_t reserved;
	uint32_t workers;
	char tun_dev[16];           /* the device's real name */
	char msg[256];              /* why, when err != 0; why auto fell back */
};

/*
 * A tunnel the control plane established. The peer's addresses (cert Ips
 * and Subnets) drive the inbound anti-spoofing check, its identity the
 * firewall rules; the certificate itself is kept opaque so a restarted
 * control plane gets it back.
 */
struct ctlmsg_tunnel_add {
	struct ctlmsg_hdr hdr;
	uint32_t local_index;       /* ours: the remote index of inbound packets */
	uint32_t remote_index;      /* theirs: goes into our headers */
	uint32_t vpn_ip;
	uint32_t cipher;
	struct sockaddr_in6 remote; /* sin6_family 0 = unknown yet */
	uint8_t send_key[32];
	uint8_t recv_key[32];
	uint64_t send_counter;      /* last used; the first message is +1 */
	uint64_t lease_end;         /* may send counters <= lease_end */
	uint64_t recv_max;          /* replay window starts here (2 when new) */
	/* The peer cert's Ips as /32 and its Subnets: allowed inner sources. */
	uint32_t n_peer_nets;
	struct ctlmsg_net peer_nets[CTLMSG_NETS_MAX];
	uint32_t cert_len;
	uint8_t cert[CTLMSG_CERT_MAX];
	/* The peer cert's Name, Groups, issuer: what firewall rules match. */
	struct ctlmsg_fw_peer fw_peer;
};

struct ctlmsg_tunnel_del {
	struct ctlmsg_hdr hdr;
	uint32_t local_index;
	uint32_t send_close;        /* 1: send closeTunnel first */
};

struct ctlmsg_tunnel_remote {
	struct ctlmsg_hdr hdr;
	uint32_t local_index;
	uint32_t reserved;
	struct sockaddr_in6 remote;
};

/*
 * A tunnel's firewall identity changed without a new handshake: the CA
 * pool was reloaded (SIGHUP), so the Name of the CA of ours that issued
 * the peer's certificate -- what ca_name rules compare -- may be another
 * one or none. Keys, counters and flows stay; the tunnel's view of the
 * rules in force is rebuilt (the rule generation does not change, so
 * conntrack entries stay too, as 1.6.1's do on reloadCA), and DUMP
 * returns the new identity. Refused (ERROR) when no such tunnel exists or
 * the identity does not check out; the old one stays then.
 */
struct ctlmsg_tunnel_identity {
	struct ctlmsg_hdr hdr;
	uint32_t local_index;
	uint32_t reserved;
	struct ctlmsg_fw_peer fw_peer;
};

struct ctlmsg_lease {
	struct ctlmsg_hdr hdr;
	uint32_t local_index;
	uint32_t reserved;
	uint64_t lease_end;         /* request: current end; grant: new end */
	uint64_t recv_max;          /* request: highest counter received */
};

enum ctlmsg_punt_reason {
	CTLMSG_PUNT_HANDSHAKE = 1,  /* raw datagram, type 0 */
	CTLMSG_PUNT_RECV_ERROR,     /* raw datagram, type 2 */
	CTLMSG_PUNT_TUNNEL_MSG,     /* decrypted lighthouse/control/close payload */
	CTLMSG_PUNT_MISS,           /* a packet for vpn_ip and no tunnel: handshake */
	CTLMSG_PUNT_ROAM,           /* an authenticated packet from a new address */
	CTLMSG_PUNT_TEST_REPLY,     /* liveness: a test reply arrived */
};

/* Variable length: offsetof(struct ctlmsg_punt, data) + len bytes. */
struct ctlmsg_punt {
	struct ctlmsg_hdr hdr;
	uint32_t reason;            /* enum ctlmsg_punt_reason */
	uint32_t local_index;       /* TUNNEL_MSG, ROAM, TEST_REPLY */
	uint32_t vpn_ip;            /* MISS */
	uint8_t type, subtype;      /* TUNNEL_MSG: the Nebula header's */
	uint16_t worker;
	struct sockaddr_in6 from;
	uint64_t counter;
	uint32_t len;
	uint8_t data[CTLMSG_PACKET_MAX];
};

/*
 * A datagram sent as is from the listen port: handshakes, recv_error,
 * punches. Variable length: offsetof(data) + len bytes, len >= 1.
 */
struct ctlmsg_inject_raw {
	struct ctlmsg_hdr hdr;
	struct sockaddr_in6 to;
	uint32_t len;
	uint8_t data[CTLMSG_PACKET_MAX];
};

/*
 * A message the dataplane encrypts on a tunnel: lighthouse, test, close.
 * Variable length: offsetof(data) + len bytes.
 */
struct ctlmsg_inject_sa {
	struct ctlmsg_hdr hdr;
	uint32_t local_index;
	uint8_t type, subtype;
	uint16_t reserved;
	struct sockaddr_in6 to;     /* sin6_family 0: the tunnel's remote */
	uint32_t len;
	uint8_t data[CTLMSG_PACKET_MAX];
};

/*
 * An IPv4 packet injected into the overlay's plaintext side, as tstun's
 * InjectInbound/InjectOutbound do:
 * - INJECT_TUN writes it to the TUN device, as if it had come out of a
 *   tunnel (to the local host or, on a gateway, the LAN);
 * - INJECT_OUT sends it into the overlay as if it had been read from the
 *   TUN: routed to a peer by its destination, sealed on that peer's tunnel
 *   (waiting for a handshake if there is none yet).
 * Injected packets skip the filter hooks and the firewall, and make no
 * conntrack entry: the control plane is trusted with what it sends.
 * Variable length: offsetof(data) + len bytes; the packet must be a whole
 * IPv4 packet (version 4, IHL >= 5, total length == len).
 */
struct ctlmsg_inject_ip {
	struct ctlmsg_hdr hdr;
	uint32_t len;
	uint32_t reserved;
	uint8_t data[CTLMSG_PACKET_MAX];
};

/*
 * FLOWS: the flow table (dataplane/flow.h), every live connection with
 * its counters, answered with FLOWS_REPLY records of up to CTLMSG_FLOWS_MAX
 * flows each, the last with `last` set, produced as the reader takes them
 * (like a DUMP; one FLOWS per connection at a time). With `reset`, each
 * flow's packet and byte counters are zeroed as it is copied out: repeated
 * FLOWS with reset give per-interval counts, nothing lost or counted twice.
 */
struct ctlmsg_flows {
	struct ctlmsg_hdr hdr;
	uint32_t reset;             /* 0 or 1 */
	uint32_t reserved;
};

/* One connection: the locally oriented tuple (host order) and counters. */
struct ctlmsg_flow {
	uint32_t local_ip, remote_ip;
	uint16_t local_port, remote_port;
	uint8_t proto;
	uint8_t fragment;           /* 1: non-first fragments (ports 0) */
	uint16_t reserved;
	uint32_t gen;               /* firewall generation that admitted it */
	uint32_t reserved2;
	uint64_t in_packets, in_bytes;   /* from the overlay to the TUN */
	uint64_t out_packets, out_bytes; /* from the TUN to the overlay */
	uint64_t age_ns;            /* since its first packet */
	uint64_t idle_ns;           /* since its last packet */
	uint64_t expires_ns;        /* until it times out */
};

#define CTLMSG_FLOWS_MAX 512
struct ctlmsg_flows_reply {
	struct ctlmsg_hdr hdr;
	uint32_t n;                 /* entries in flow[] */
	uint32_t last;              /* 1 on the last record of the answer */
	/* The table, as of this record. */
	uint64_t capacity, created, evicted, expired, removed;
	struct ctlmsg_flow flow[CTLMSG_FLOWS_MAX];
};

_Static_assert(sizeof(struct ctlmsg_flows_reply) <= CTLMSG_MAX,
	       "FLOWS_REPLY must fit one record");

/*
 * One tunnel of a DUMP. send_counter is min(send_counter, lease_end) (see
 * the top of this file); keys are zero for dpctl.
 */
struct ctlmsg_dump_tunnel {
	struct ctlmsg_hdr hdr;
	struct ctlmsg_tunnel_add tunnel; /* as installed, counters current */
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t last_rx_ns, last_tx_ns; /* CLOCK_MONOTONIC */
};

/*
 * ACTIVITY_REPLY: variable length, offsetof(struct ctlmsg_activity_reply,
 * tunnel) + n * sizeof(struct ctlmsg_activity).
 */
#define CTLMSG_ACTIVITY_MAX 128
struct ctlmsg_activity {
	uint32_t local_index;
	uint32_t reserved;
	uint64_t rx_packets, tx_packets;
	uint64_t recv_max;          /* highest counter received */
	uint64_t rx_bytes, tx_bytes;
};

struct ctlmsg_activity_reply {
	struct ctlmsg_hdr hdr;
	uint32_t n;                 /* entries in tunnel[] */
	uint32_t last;              /* 1 on the last record of the answer */
	struct ctlmsg_activity tunnel[CTLMSG_ACTIVITY_MAX];
};

struct ctlmsg_error {
	struct ctlmsg_hdr hdr;
	uint32_t type;              /* of the message refused */
	int32_t err;
	char msg[256];
};

/*
 * STATS_REPLY: what `dpctl show` prints. Fixed size whatever the number of
 * workers: worker[0..workers) are filled, the rest is zero.
 *
 * struct ctlmsg_worker_stats mirrors the dataplane's struct dp_counters
 * and struct dp_port_stats field by field (dataplane/stats.h, port.h;
 * ctl.c asserts the sizes at compile time). drops[] is indexed by enum
 * dp_drop, whose names and texts dpctl takes from the same build;
 * n_drops says how many entries the dataplane filled. Every field of
 * struct ctlmsg_worker_stats before `frames` is a uint64_t counter:
 * ctl.c subtracts the last CLEAR's snapshot from them word by word.
 */
#define CTLMSG_WORKERS_MAX 64
#define CTLMSG_DROPS_MAX 48
/* Burst size histograms: 1, 2-3, 4-7, 8-15, 16-31, 32-63, 64 packets. */
#define CTLMSG_BURST_BUCKETS 7
#define CTLMSG_XDP_COUNTERS_MAX 16
/* ctlmsg_stats_reply.tun_flags */
#define CTLMSG_TUN_UP 0x1      /* IFF_UP: administratively up */
#define CTLMSG_TUN_RUNNING 0x2 /* IFF_RUNNING: a queue is attached, carrier */

struct ctlmsg_port_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_truncated;      /* longer than the largest Nebula datagram */
	uint64_t tx_errors;         /* sends the kernel refused */
	uint64_t rx_gro_batches;    /* coalesced receives split into packets */
	uint64_t tx_gso_batches;    /* sends that used UDP_SEGMENT */
	/* xsk (port.h has the details); 0 for udp. */
	uint64_t rx_bad_l2, rx_bad_l3, rx_bad_l4;
	uint64_t rx_kernel, tx_kernel;
	uint64_t tx_ring_full, tx_kicks, tx_kick_errors;
};

/* xsk: UMEM frame accounting of one queue (free + fill + held + in_flight = total). */
struct ctlmsg_frames {
	uint32_t total, free, fill, held, in_flight;
	uint32_t reserved;
	uint64_t rx_dropped, rx_ring_full, fill_ring_empty;
	uint64_t tx_invalid, tx_ring_empty;
};

struct ctlmsg_worker_stats {
	uint64_t rx_packets, rx_bytes;          /* from the NIC */
	uint64_t tx_packets, tx_bytes;          /* to the NIC */
	uint64_t tun_rx_packets, tun_rx_bytes;  /* read from the TUN */
	uint64_t tun_tx_packets, tun_tx_bytes;  /* written to the TUN */
	uint64_t punches, punted, test_replies, recv_errors;
	uint64_t injected_tun, injected_out;    /* INJECT_TUN, INJECT_OUT */
	/* TUN offloads: reads and writes (dataplane/stats.h). */
	uint64_t tun_rx_frames, tun_rx_gso_frames, tun_rx_segments;
	uint64_t tun_tx_writes, tun_tx_supers, tun_tx_coalesced;
	/* The loop, its bursts and its AEAD work (dataplane/stats.h). */
	uint64_t passes, busy_passes, sleeps, loop_ns, busy_ns;
	uint64_t rx_burst_hist[CTLMSG_BURST_BUCKETS];
	uint64_t tun_burst_hist[CTLMSG_BURST_BUCKETS];
	uint64_t sealed, sealed_bytes, opened, opened_bytes;
	uint64_t drops[CTLMSG_DROPS_MAX];       /* by enum dp_drop */
	struct ctlmsg_port_stats port;          /* the worker's NIC queue */
	struct ctlmsg_frames frames;            /* xsk: its UMEM */
};

struct ctlmsg_stats_reply {
	struct ctlmsg_hdr hdr;
	uint32_t set_up;            /* 0: no SETUP yet, so no workers */
	uint32_t backend;           /* enum ctlmsg_backend, as chosen */
	uint32_t mode;              /* enum ctlmsg_mode */
	uint32_t workers;           /* = NIC queues = TUN queues (if any) */
	char tun_dev[16];           /* "" with tun.disabled */
	uint16_t port;              /* the UDP port bound */
	uint16_t reserved;
	uint32_t n_drops;           /* entries of drops[] in use */
	uint32_t n_tunnels;
	uint32_t tun_offloads;      /* TUN_F_* in force; 0: plain TUN or none */
	/* The control thread's own counters (dataplane/ctl.h). */
	uint64_t rejects;           /* messages refused with ERROR */
	uint64_t punts_sent;        /* forwarded to the control connection */
	uint64_t punts_dropped;     /* no control connection, or it was full */
	uint64_t injects_queued;
	uint64_t injects_full;      /* refused: worker 0's queue was full */
	uint64_t lease_requests;
	/* xsk: the XDP program's counters (enum dp_xdp_counter order). */
	char interface[16];         /* "" unless xsk */
	uint32_t xdp_mode;          /* enum dp_xdp_mode in effect */
	uint32_t n_xdp;             /* entries of xdp_* in use */
	uint64_t xdp_packets[CTLMSG_XDP_COUNTERS_MAX];
	uint64_t xdp_bytes[CTLMSG_XDP_COUNTERS_MAX];
	uint64_t nh_entries;        /* next-hop table size (xsk) */
	/* The TUN device's link, as its last RTM_NEWLINK said (0 without one). */
	uint32_t tun_mtu;
	uint32_t tun_flags;         /* CTLMSG_TUN_UP | CTLMSG_TUN_RUNNING */
	uint32_t tun_handed_over;   /* 1: queue fds from VELA_TUN_FD, not created */
	uint32_t tun_reserved;
	/* The firewall in force (0 rules and generation 0: none loaded). */
	uint32_t fw_gen;            /* the dataplane's count of FIREWALLs loaded */
	uint32_t fw_rules_in, fw_rules_out;
	uint32_t fw_reserved;
	/* The flow table (conntrack and per-connection counters). */
	uint64_t flows_capacity, flows_created, flows_evicted, flows_expired;
	/* CLEAR: how many, and how long ago the last one (counters since). */
	uint32_t clears;
	uint32_t clear_reserved;
	uint64_t cleared_ns_ago;    /* 0 when clears == 0 */
	struct ctlmsg_worker_stats worker[CTLMSG_WORKERS_MAX];
};

_Static_assert(sizeof(struct ctlmsg_stats_reply) <= CTLMSG_MAX,
	       "STATS_REPLY must fit one record");

#endif /* VL_CTLMSG_H */
