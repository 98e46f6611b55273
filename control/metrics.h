/* SPDX-License-Identifier: MIT */
#ifndef CTL_METRICS_H
#define CTL_METRICS_H

/*
 * The Prometheus endpoint of `stats: {type: prometheus}` (docs/metrics.md)
 * and the control plane's own counters it serves.
 *
 * It runs in vela-control's event loop, like everything else there: a
 * listening TCP socket and up to CTL_METRICS_CLIENTS connections, polled
 * with the dataplane's socket. A scrape of the configured path asks the
 * dataplane for STATS; when the STATS_REPLY comes (or after
 * CTL_METRICS_WAIT_MS without one) the page is rendered once for every
 * scrape waiting and sent. So the dataplane counters are read at the
 * scrape, not cached; per-peer series come from the once-a-second
 * ACTIVITY the connection manager already reads.
 *
 * HTTP/1.1, one request per connection (Connection: close), GET or HEAD;
 * requests are read up to CTL_METRICS_REQ_MAX bytes within
 * CTL_METRICS_IDLE_MS, anything else is answered with a 4xx and closed.
 */

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctlmsg.h"
#include "prom.h"

struct ctl_node;
struct vl_status;

#define CTL_METRICS_CLIENTS 8
#define CTL_METRICS_REQ_MAX 4096
#define CTL_METRICS_IDLE_MS 10000 /* to send a request, or take the reply */
#define CTL_METRICS_WAIT_MS 1000  /* for the dataplane's STATS_REPLY */
/* Pollfds the node's loop must leave for ctl_metrics_pollfds(). */
#define CTL_METRICS_POLLFDS (1 + CTL_METRICS_CLIENTS)

/* Lighthouse message types counted, NebulaMeta 0..9 (lighthouse.h). */
#define CTL_METRICS_LH_TYPES 10
/* Nebula header types counted (common/wire.h: handshake .. control). */
#define CTL_METRICS_MSG_TYPES 7

/* What the control plane did; one writer, the event loop. */
struct ctl_counters {
	uint64_t hs_started;         /* handshakes begun as initiator */
	uint64_t hs_msgs_sent;       /* handshake messages sent, resends too */
	uint64_t hs_completed[2];    /* [0] as initiator, [1] as responder */
	uint64_t hs_failed[2];       /* refused or unreadable, by role */
	uint64_t hs_timed_out;       /* initiator gave up after the retries */
	uint64_t tunnels_created;
	uint64_t tunnels_closed;
	uint64_t reloads_ok, reloads_failed;
	uint64_t last_reload_ok_s;   /* unix time; 0: none */
	/* message_metrics: [0] received, [1] sent, by Nebula header type. */
	uint64_t msgs[2][CTL_METRICS_MSG_TYPES];
	/* lighthouse_metrics: [0] received, [1] sent, by NebulaMeta type. */
	uint64_t lh_msgs[2][CTL_METRICS_LH_TYPES];
};

enum ctl_metrics_client_state {
	CTL_MC_FREE,
	CTL_MC_READING,  /* the request, up to its blank line */
	CTL_MC_WAITING,  /* for the dataplane's STATS_REPLY */
	CTL_MC_WRITING,
};

struct ctl_metrics_client {
	int fd;
	enum ctl_metrics_client_state state;
	bool head;               /* HEAD: headers only */
	uint64_t deadline_ns;
	size_t in_len;
	char in[CTL_METRICS_REQ_MAX];
	char *out;               /* the response; out_len bytes */
	size_t out_len, out_off;
};

struct ctl_metrics {
	int listen_fd;           /* -1: off */
	uint64_t start_s;        /* unix time vela-control started */
	uint32_t stats_seq;      /* the STATS asked for; 0: none pending */
	uint64_t stats_deadline_ns;
	struct ctl_metrics_client client[CTL_METRICS_CLIENTS];
	uint64_t scrapes;        /* pages served */
	uint64_t http_errors;    /* requests answered with 4xx */
};

/*
 * Binds stats.listen when the config asks for metrics (nothing otherwise).
 * -errno and @st naming stats.listen when it cannot be bound.
 */
int ctl_metrics_open(struct ctl_node *n, struct vl_status *st);
void ctl_metrics_close(struct ctl_node *n);

/* The fds to poll now, into @pfd (up to CTL_METRICS_POLLFDS); how many. */
unsigned int ctl_metrics_pollfds(struct ctl_node *n, struct pollfd *pfd);
/* After poll(): @pfd and @count as ctl_metrics_pollfds() filled them. */
void ctl_metrics_on_poll(struct ctl_node *n, const struct pollfd *pfd,
			 unsigned int count);
/* Deadlines: a dataplane that did not answer, clients that stalled. */
void ctl_metrics_timers(struct ctl_node *n);
/* A STATS_REPLY from the dataplane (its length checked by the caller). */
void ctl_metrics_on_stats(struct ctl_node *n,
			  const struct ctlmsg_stats_reply *r);

/*
 * The whole page into @p: the control plane's series, and the dataplane's
 * from @r (NULL: not connected or no answer, dataplane_up 0). -EPROTO
 * when @r's counts are out of bounds (nothing of it is written then).
 */
int ctl_metrics_render(const struct ctl_node *n,
		       const struct ctlmsg_stats_reply *r, struct prom *p);

/* The dataplane's part alone (tests): -EPROTO, nothing written, when
 * @r's counts are out of bounds. */
int ctl_metrics_render_dataplane(const struct ctlmsg_stats_reply *r,
				 struct prom *p);

/* Counting helpers for the rest of vela-control. */
void ctl_metrics_count_msg(struct ctl_node *n, int dir, unsigned int type);
void ctl_metrics_count_lh(struct ctl_node *n, int dir, int type);

#endif /* CTL_METRICS_H */
