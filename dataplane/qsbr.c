/* SPDX-License-Identifier: MIT */
#include "qsbr.h"

#include <time.h>

void dp_qsbr_init(struct dp_qsbr *q, unsigned int n)
{
	atomic_init(&q->epoch, 1);
	q->n = n > DP_QSBR_MAX ? DP_QSBR_MAX : n;
	for (unsigned int i = 0; i < DP_QSBR_MAX; i++)
		atomic_init(&q->slots[i].seen, DP_QSBR_OFFLINE);
}

bool dp_qsbr_synchronize(struct dp_qsbr *q, unsigned int timeout_ms)
{
	const struct timespec nap = { .tv_nsec = 50 * 1000 };
	uint64_t target, waited_us = 0;

	/* Publications before this point are covered by the new epoch. */
	target = 1 +
		 atomic_fetch_add_explicit(&q->epoch, 1, memory_order_seq_cst);
	/*
	 * Store -> load ordering against dp_qsbr_online(), which stores its
	 * slot (seq-cst) and then fences before it loads a table. In C11 a
	 * seq-cst RMW does not keep the acquire loads below from being
	 * satisfied early (they are not in the single total order), so
	 * without this fence we could read a worker's slot as still offline
	 * while that worker, just online, loads the table we unpublished:
	 * we would free a table in use. With a seq-cst fence on each side,
	 * at least one of the two sees the other's store. (On x86-64 the
	 * locked RMW is a full barrier already; weaker CPUs need the fence.)
	 */
	atomic_thread_fence(memory_order_seq_cst);
	for (;;) {
		bool done = true;

		for (unsigned int i = 0; i < q->n; i++) {
			uint64_t s = atomic_load_explicit(&q->slots[i].seen,
							  memory_order_acquire);

			if (s != DP_QSBR_OFFLINE && s < target) {
				done = false;
				break;
			}
		}
		if (done)
			return true;
		if (waited_us >= (uint64_t)timeout_ms * 1000)
			return false;
		nanosleep(&nap, NULL);
		waited_us += 50;
	}
}
