/* SPDX-License-Identifier: MIT */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

/*
 * A Nebula 1.6.1 config.yml (spec §9), read unchanged, plus Vela's
 * `dataplane:` section, validated into one struct before anything is
 * applied.
 *
 * Defaults are 1.6.1's code defaults (not examples/config.yml's). Where
 * 1.6.1 silently falls back to the default for a value of the wrong type
 * (listen.port: abc), Vela refuses the file instead: every error names the
 * file, the line and the key. Keys 1.6.1 does not know are ignored, as
 * 1.6.1 ignores them.
 *
 * Text is parsed here, in the control process only; the dataplane gets
 * validated binary snapshots (STYLE §7).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aead.h"
#include "allowlist.h"

struct vl_status;

struct ctl_cidr {
	uint32_t ip; /* host byte order, masked to the network */
	uint32_t mask;
};

enum ctl_log_level {
	CTL_LOG_PANIC,
	CTL_LOG_FATAL,
	CTL_LOG_ERROR,
	CTL_LOG_WARNING,
	CTL_LOG_INFO,
	CTL_LOG_DEBUG,
	CTL_LOG_TRACE,
};

enum ctl_log_format { CTL_LOG_TEXT, CTL_LOG_JSON };

enum ctl_recv_error { CTL_RECV_ERROR_ALWAYS, CTL_RECV_ERROR_NEVER,
		      CTL_RECV_ERROR_PRIVATE };

enum ctl_backend { CTL_BACKEND_AUTO, CTL_BACKEND_XSK, CTL_BACKEND_UDP,
		   CTL_BACKEND_DPDK };

enum ctl_mode { CTL_MODE_ADAPTIVE, CTL_MODE_BUSY, CTL_MODE_EVENT };

/* static_host_map: a VPN IP and its underlay "host:port" strings. */
struct ctl_static_host {
	uint32_t vpn_ip;
	char **addrs;
	size_t n_addrs;
	unsigned int line;
};

struct ctl_route {
	struct ctl_cidr route;
	uint32_t via; /* unsafe_routes only */
	int mtu;      /* 0: tun.mtu */
	int metric;
};

enum ctl_fw_proto { CTL_FW_ANY = 0, CTL_FW_ICMP = 1, CTL_FW_TCP = 6,
		    CTL_FW_UDP = 17 };

#define CTL_FW_PORT_ANY 0
#define CTL_FW_PORT_FRAGMENT (-1)

/* One firewall rule (spec §8), as written; compiled for the dataplane later. */
struct ctl_fw_rule {
	int32_t start_port, end_port; /* CTL_FW_PORT_ANY / _FRAGMENT or 1..65535 */
	enum ctl_fw_proto proto;
	char *host;                   /* NULL: none */
	char **groups;                /* all required (AND) */
	size_t n_groups;
	bool has_cidr;
	struct ctl_cidr cidr;
	char *ca_name;
	char *ca_sha;
	unsigned int line;
};

struct ctl_config {
	char *path;

	/* pki */
	char *pki_ca, *pki_cert, *pki_key; /* a path, or inline PEM */
	char **blocklist;                  /* fingerprints (pki.blocklist) */
	size_t n_blocklist;
	bool disconnect_invalid;

	struct ctl_static_host *static_hosts;
	size_t n_static_hosts;

	/* lighthouse */
	bool am_lighthouse;
	bool serve_dns;
	char *dns_host;
	int dns_port;
	int lighthouse_interval; /* seconds; 0 = never */
	uint32_t *lighthouses;   /* lighthouse.hosts */
	size_t n_lighthouses;
	char **advertise_addrs;
	size_t n_advertise_addrs;
	/* lighthouse.*_allow_list(s): NULL / none allows everything. */
	struct ctl_allow_list *remote_allow, *local_allow;
	struct ctl_allow_range *remote_ranges;
	size_t n_remote_ranges;

	/* listen */
	char *listen_host;
	int listen_port;
	int listen_batch;
	int read_buffer, write_buffer;
	enum ctl_recv_error send_recv_error;

	int routines;

	/* punchy */
	bool punch;
	bool punch_respond;
	int64_t punch_delay_ns;

	enum vl_cipher cipher;
	struct ctl_cidr *preferred_ranges;
	size_t n_preferred_ranges;

	/* relay */
	uint32_t *relays;
	size_t n_relays;
	bool am_relay;
	bool use_relays;

	/* tun */
	bool tun_disabled;
	char *tun_dev;
	bool drop_local_broadcast;
	bool drop_multicast;
	int tx_queue;
	int mtu;
	struct ctl_route *routes;
	size_t n_routes;
	struct ctl_route *unsafe_routes;
	size_t n_unsafe_routes;

	/* logging */
	enum ctl_log_level log_level;
	enum ctl_log_format log_format;
	bool disable_timestamp;
	char *timestamp_format;

	/* firewall */
	int64_t conntrack_tcp_ns, conntrack_udp_ns, conntrack_default_ns;
	struct ctl_fw_rule *inbound, *outbound;
	size_t n_inbound, n_outbound;

	/* handshakes and timers */
	int64_t handshake_try_interval_ns;
	int handshake_retries;
	int handshake_trigger_buffer;
	int connection_alive_interval; /* seconds */
	int pending_deletion_interval;

	/* dataplane: Vela's own section */
	enum ctl_backend backend;
	char *interface;
	int workers; /* 0: routines */
	enum ctl_mode mode;
	char *socket;
	bool tun_offload; /* IFF_VNET_HDR with TSO/USO and GRO (default on) */
	int flows;        /* flow table entries: conntrack, per-connection stats */

	/* stats: the Prometheus endpoint (docs/metrics.md); off: !stats_on */
	bool stats_on;
	char *stats_listen;    /* "host:port", "[v6]:port" or ":port" */
	char *stats_path;      /* "/metrics" */
	char *stats_prefix;    /* "namespace_subsystem_", checked to be a name */
	int64_t stats_interval_ns;
	bool message_metrics, lighthouse_metrics, peer_metrics;
};

/*
 * Loads and validates @path (a file, or a directory of .yml and .yaml files
 * merged as nebula merges them). On error nothing is kept, @cfg is empty and
 * @st says "file:line: key: reason". Warnings (deprecated keys, a value
 * nebula would accept with a warning) go to @warn, one per line, if given.
 */
int ctl_config_load(struct ctl_config *cfg, const char *path,
		    char **warn, struct vl_status *st);

/* The same from text in memory (tests, inline configs); @name for messages. */
int ctl_config_load_string(struct ctl_config *cfg, const char *name,
			   const char *text, struct vl_status *st);

void ctl_config_free(struct ctl_config *cfg);

const char *ctl_backend_name(enum ctl_backend b);
const char *ctl_mode_name(enum ctl_mode m);

#endif /* CTL_CONFIG_H */
