/* SPDX-License-Identifier: MIT */
#ifndef DP_CTL_H
#define DP_CTL_H

/*
 * The control thread of vela-dataplane (ctl.c): the control socket, the
 * only writer of the dataplane tables, and the owner of the workers' lives.
 * Also the records it puts on worker 0's inject ring (struct dp_inject);
 * the loop those workers run, and its context, are in worker.h.
 *
 * Thread contract: every dp_ctl_* function runs on the one control thread;
 * dp_worker_run() runs on its own thread per worker.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "ctlmsg.h"
#include "ring.h"
#include "worker.h"

struct vl_status;
struct dp_ctl;

/* Most workers (NIC queue + TUN queue pairs) one SETUP may ask for. */
#define DP_CTL_WORKERS_MAX CTLMSG_WORKERS_MAX
#define DP_CTL_TICK_MS 100 /* lease scan, retried reclamation */
#define DP_CTL_SYNC_MS 1000 /* longest wait for workers to quiesce */
#define DP_CTL_PUNT_SLOTS 256 /* per worker */
#define DP_CTL_INJECT_SLOTS 64 /* worker 0 */
#define DP_CTL_CONNS_MAX 16 /* control + dpctl connections at once */

/*
 * One message for worker 0 to send from its NIC queue, as the control
 * thread puts it on the inject ring. The payload sits DP_HEADROOM into buf
 * so an INJECT_SA message is sealed in place: header written in front of
 * it, tag behind it, like a packet read from the TUN. The worker sends
 * straight out of the ring slot and releases it after the send.
 */
struct dp_inject {
	uint32_t kind; /* CTLMSG_INJECT_RAW, _SA, _TUN or _OUT */
	uint32_t local_index; /* SA: the tunnel to seal on */
	uint8_t type, subtype;
	uint16_t reserved;
	uint32_t len; /* payload bytes at buf + DP_HEADROOM */
	struct sockaddr_in6 to; /* SA: sin6_family 0 = the tunnel's remote */
	uint8_t buf[DP_HEADROOM + CTLMSG_PACKET_MAX + DP_TAILROOM];
};

enum dp_ctl_log_level { DP_CTL_LOG_ERROR, DP_CTL_LOG_WARN, DP_CTL_LOG_INFO };

struct dp_ctl_cfg {
	const char *socket_path;
	/* Lifecycle events; NULL: silent (tests). */
	void (*log)(enum dp_ctl_log_level level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
	/* Filter hooks (hooks.h) the workers run; NULL: none. Copied at SETUP. */
	const struct dp_hooks *hooks;
	/*
	 * VELA_TUN_FD as main() read it at startup; NULL or "": SETUP
	 * creates tun.dev. Else the TUN queue fds this process inherited,
	 * comma-separated, one per worker, which SETUP takes instead
	 * (tun_open_from_fds). Parsed by dp_ctl_open; a value that is no
	 * use makes SETUP fail, naming VELA_TUN_FD.
	 */
	const char *tun_fds;
};

/*
 * VELA_TUN_FD's syntax: decimal fd numbers separated by commas, at most
 * @max, none twice. Fills fds[] and *n; 0 or -EINVAL with the reason in
 * @st. Whether they are open TUN queues is for SETUP to check.
 */
int dp_ctl_parse_tun_fds(const char *s, int *fds, unsigned int max,
			 unsigned int *n, struct vl_status *st);

/*
 * Creates the socket's directory (0750) if missing, refuses to start when
 * a live dataplane answers on the socket, removes a stale socket file,
 * binds and listens (mode 0660). 0 or -errno with the reason in @st.
 */
int dp_ctl_open(const struct dp_ctl_cfg *cfg, struct dp_ctl **out,
		struct vl_status *st);

/*
 * One round of the poll loop: waits at most @max_wait_ms (less when the
 * 100 ms tick is due), then serves what is ready. 0 or -errno (a poll
 * failure; EINTR is 0), or -ENODEV once the TUN device was deleted or
 * left the network namespace (logged, naming it): the dataplane cannot
 * go on without it, and its supervisor starts a new one.
 */
int dp_ctl_step(struct dp_ctl *c, int max_wait_ms);

/* Steps until *@stop is set (by a signal handler). 0 or -errno. */
int dp_ctl_run(struct dp_ctl *c, const _Atomic bool *stop);

/* Stops the workers, closes ports, TUN and connections, unlinks the socket. */
void dp_ctl_close(struct dp_ctl *c);

/*
 * Message checks, separate from the socket so they can be tested alone.
 * Both return 0 or -errno with a message naming the problem in @st.
 *
 * dp_ctl_validate: a record of @len bytes as received from a peer --
 * header, version, length (== header len == the type's size; for
 * INJECT_RAW and INJECT_SA offsetof(data) + payload len), field ranges.
 * Messages only the dataplane sends are refused here too.
 *
 * dp_ctl_check_order: whether a connection of @role (0: no HELLO yet) may
 * send @type now: HELLO first; dpctl only DUMP and STATS; tunnels, leases
 * and injects only once SETUP is in force (@set_up). DUMP and STATS are
 * answered before SETUP too (no tunnels, no workers).
 */
int dp_ctl_validate(const void *rec, size_t len, struct vl_status *st);
int dp_ctl_check_order(uint32_t role, bool set_up, uint16_t type,
		       struct vl_status *st);

/* The record length of a PUNT/INJECT_* message carrying @data_len bytes. */
#define DP_CTL_PUNT_LEN(data_len) \
	((uint32_t)(offsetof(struct ctlmsg_punt, data) + (data_len)))

/* Message type names for logs and errors ("TUNNEL_ADD"); "?" if unknown. */
const char *dp_ctl_type_name(uint32_t type);

/* Counters for tests and the stop log. */
struct dp_ctl_counters {
	uint64_t rejects; /* messages refused with ERROR */
	uint64_t punts_sent; /* forwarded to the control connection */
	uint64_t punts_dropped; /* no control connection, or it was full */
	uint64_t injects_queued; /* put on worker 0's ring */
	uint64_t injects_full; /* refused: ring full */
	uint64_t lease_requests;
	uint64_t retired; /* objects waiting for a grace period */
};
void dp_ctl_counters(const struct dp_ctl *c, struct dp_ctl_counters *out);

#endif /* DP_CTL_H */
