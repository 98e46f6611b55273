/* SPDX-License-Identifier: MIT */
#include "worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int dp_worker_init(struct dp_worker *w, unsigned int id,
		   struct dp_shared *shared)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->shared = shared;
	w->replies = calloc(DP_BURST_MAX, sizeof(*w->replies));
	w->punts = calloc(DP_BURST_MAX, sizeof(*w->punts));
	w->pending = calloc(DP_PENDING_PEERS, sizeof(*w->pending));
	w->pending_bufs = calloc(DP_PENDING_BUFS, sizeof(*w->pending_bufs));
	if (!w->replies || !w->punts || !w->pending || !w->pending_bufs)
		goto free_worker;
	for (unsigned int i = 0; i < DP_BURST_MAX; i++) {
		w->tx_bufs[i] = malloc(DP_BUF_LEN);
		if (!w->tx_bufs[i])
			goto free_worker;
	}
	for (unsigned int i = 0; i < DP_PENDING_BUFS; i++)
		w->pending_free[i] = (uint16_t)i;
	w->n_pending_free = DP_PENDING_BUFS;
	return 0;

free_worker:
	dp_worker_free(w);
	return -ENOMEM;
}

void dp_worker_free(struct dp_worker *w)
{
	for (unsigned int i = 0; i < DP_BURST_MAX; i++)
		free(w->tx_bufs[i]);
	free(w->replies);
	free(w->punts);
	free(w->pending);
	free(w->pending_bufs);
	memset(w, 0, sizeof(*w));
}

void dp_worker_begin(struct dp_worker *w, uint64_t now_ns)
{
	w->now_ns = now_ns;
	w->n_to_tun = 0;
	w->n_to_net = 0;
	w->n_replies = 0;
	w->n_punts = 0;
	/* Last burst's datagrams have been sent: their buffers are free. */
	while (w->n_pending_sent)
		w->pending_free[w->n_pending_free++] =
			w->pending_sent[--w->n_pending_sent];
	w->sat = atomic_load_explicit(&w->shared->sa_table,
				      memory_order_acquire);
}
