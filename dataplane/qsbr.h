/* SPDX-License-Identifier: MIT */
#ifndef DP_QSBR_H
#define DP_QSBR_H

/*
 * Quiescent-state-based reclamation (DPDK lib/rcu/rte_rcu_qsbr.h, in
 * spirit): the control thread publishes a new table with one atomic pointer
 * store and may free the old one only after every worker has passed a
 * quiescent point -- the top of its loop, where it holds no table pointer.
 *
 * A worker that is about to sleep in poll() goes offline (it holds nothing
 * while asleep, so it must not hold up reclamation) and comes back online
 * when it wakes, before it touches a table again.
 *
 * Thread contract: dp_qsbr_quiescent/offline/online are called by worker
 * @w only; dp_qsbr_synchronize by the one writer thread.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define DP_QSBR_MAX 64
#define DP_QSBR_OFFLINE UINT64_MAX

struct dp_qsbr_slot {
	_Alignas(64) _Atomic uint64_t seen; /* last epoch seen, or OFFLINE */
};

struct dp_qsbr {
	_Atomic uint64_t epoch;
	unsigned int n;
	struct dp_qsbr_slot slots[DP_QSBR_MAX];
};

/* All @n workers start offline. */
void dp_qsbr_init(struct dp_qsbr *q, unsigned int n);

static inline void dp_qsbr_quiescent(struct dp_qsbr *q, unsigned int w)
{
	uint64_t e = atomic_load_explicit(&q->epoch, memory_order_acquire);

	/* Release: every read of the old table happened before this store. */
	atomic_store_explicit(&q->slots[w].seen, e, memory_order_release);
}

static inline void dp_qsbr_offline(struct dp_qsbr *q, unsigned int w)
{
	atomic_store_explicit(&q->slots[w].seen, DP_QSBR_OFFLINE,
			      memory_order_release);
}

static inline void dp_qsbr_online(struct dp_qsbr *q, unsigned int w)
{
	/*
	 * Seq-cst: the slot must be visibly online before this worker loads
	 * a table pointer, or a writer could miss it and free that table.
	 */
	atomic_store_explicit(&q->slots[w].seen,
			      atomic_load_explicit(&q->epoch,
						   memory_order_acquire),
			      memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
}

/*
 * Waits until every online worker has been quiescent since this call
 * began, so nothing published before the call is still in use. Sleeps
 * between checks; gives up after @timeout_ms and returns false (the caller
 * keeps the old object for a later try, it never frees early).
 */
bool dp_qsbr_synchronize(struct dp_qsbr *q, unsigned int timeout_ms);

#endif /* DP_QSBR_H */
