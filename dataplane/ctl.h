/* SPDX-License-Identifier: MIT */
#ifndef DP_CTL_H
#define DP_CTL_H

/*
 * The control thread of vela-dataplane (ctl.c): the control socket, the
 * only writer of the dataplane tables, and the owner of the workers' lives.
 * Also the contract between it and the worker loop (worker.c): the records
 * on the inject ring and the loop's context.
 *
 * Thread contract: every dp_ctl_* function runs on the one control thread;
 * dp_worker_run() runs on its own thread per worker.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "ctlmsg.h"
#include "ring.h"
#include "worker.h"

struct vl_status;
struct tun_dev;
struct dp_port;
struct dp_ctl;

/* Most workers (NIC queue + TUN queue pairs) one SETUP may ask for. */
#define DP_CTL_WORKERS_MAX 64
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
	uint32_t kind; /* CTLMSG_INJECT_RAW or CTLMSG_INJECT_SA */
	uint32_t local_index; /* SA: the tunnel to seal on */
	uint8_t type, subtype;
	uint16_t reserved;
	uint32_t len; /* payload bytes at buf + DP_HEADROOM */
	struct sockaddr_in6 to; /* SA: sin6_family 0 = the tunnel's remote */
	uint8_t buf[DP_HEADROOM + CTLMSG_PACKET_MAX + DP_TAILROOM];
};

/*
 * A worker thread: the stages' struct dp_worker plus what the loop drives
 * them with. Set up by the control thread before the thread starts; after
 * that the worker writes only @w and the producer side of @punts, and the
 * control thread only @stop, the producer side of @injects and the two
 * eventfds.
 */
struct dp_worker_loop {
	struct dp_worker w;
	unsigned int queue; /* NIC queue and TUN queue index (= w.id) */
	uint32_t mode; /* enum ctlmsg_mode */
	struct dp_port *port;
	struct tun_dev *tun; /* NULL with tun.disabled */
	struct dp_ring *punts; /* worker -> control thread */
	struct dp_ring *injects; /* control thread -> worker; worker 0 only */
	int punt_fd; /* eventfd the worker writes after punting */
	int wake_fd; /* eventfd: inject waiting, new table, stop */
	_Atomic bool stop;

	/* Loop scratch, allocated with the loop. */
	struct dp_pkt rx[DP_BURST_MAX];
	uint8_t *tun_bufs[DP_BURST_MAX]; /* w.tx_bufs[i] + DP_HEADROOM */
	uint32_t tun_lens[DP_BURST_MAX];
	uint32_t n_injects; /* ring records held this pass */
	pthread_t thread;
};

/*
 * worker.c: the per-core loop (STYLE §3). Runs until @l->stop is set (then
 * write @l->wake_fd so a sleeping worker sees it). Never allocates, locks
 * or logs. (Declared here, not in worker.h, while worker.h is frozen.)
 */
void dp_worker_run(struct dp_worker_loop *l);

enum dp_ctl_log_level { DP_CTL_LOG_ERROR, DP_CTL_LOG_WARN, DP_CTL_LOG_INFO };

struct dp_ctl_cfg {
	const char *socket_path;
	/* Lifecycle events; NULL: silent (tests). */
	void (*log)(enum dp_ctl_log_level level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
};

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
 * failure; EINTR is 0).
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
 * send @type now: HELLO first; dpctl only DUMP; tunnels, leases and
 * injects only once SETUP is in force (@set_up).
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
