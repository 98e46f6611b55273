/* SPDX-License-Identifier: MIT */
#ifndef DP_RING_H
#define DP_RING_H

/*
 * A bounded single-producer single-consumer ring of fixed-size records:
 * workers hand punts to the control thread through one, the control thread
 * hands injects to worker 0 through another. Nothing blocks, nothing is
 * allocated after dp_ring_init().
 *
 * Use, as the AF_XDP rings are used (xdp-tools headers/xdp/xsk.h):
 *
 *   producer: n = dp_ring_reserve(r, want, &i);   fill dp_ring_rec(r, i + k)
 *             for k < n;  dp_ring_submit(r, n)  (may submit fewer than it
 *             reserved: the rest is cancelled)
 *   consumer: n = dp_ring_peek(r, want, &i);       read dp_ring_rec(r, i + k)
 *             for k < n;  dp_ring_release(r, n)  (the records stay the
 *             consumer's until released: it may send straight out of them)
 *
 * Positions are free-running 32-bit counters; a slot is pos & mask, so the
 * number of slots is a power of two, at most 2^31. The producer writes only
 * @prod, the consumer only @cons, each on its own cache line next to its
 * cached copy of the other side's counter, so a burst costs one shared load
 * at most on each side.
 *
 * Wake-ups. The consumer may sleep (poll on an eventfd) and the producer
 * should not make a syscall per burst. dp_ring_submit() returns true when
 * the consumer had released everything before this batch, i.e. it may be
 * asleep and must be woken; dp_ring_idle() is what the consumer calls
 * before it sleeps. Both put a full fence between their own store and the
 * load of the other side (Dekker): either the producer sees the ring empty
 * and wakes the consumer, or the consumer sees the new records and does not
 * sleep. A wake-up is never lost, and none is sent while the consumer is
 * visibly busy.
 *
 * Thread contract: reserve/submit from one producer thread, peek/release/
 * idle from one consumer thread; init and free while neither runs.
 */

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DP_RING_SLOTS_MAX (UINT32_C(1) << 31)
#define DP_RING_ALIGN 64

struct dp_ring {
	/* Producer side: written by the producer only. */
	_Alignas(64) _Atomic uint32_t prod; /* records ever submitted */
	uint32_t prod_cons; /* producer's copy of cons */

	/* Consumer side: written by the consumer only. */
	_Alignas(64) _Atomic uint32_t cons; /* records ever released */
	uint32_t cons_prod; /* consumer's copy of prod */

	/* Fixed after dp_ring_init(). */
	_Alignas(64) uint32_t size;
	uint32_t mask;
	size_t stride; /* record size rounded up to DP_RING_ALIGN */
	uint8_t *recs;
};

/* @n_slots (a power of two) records of @rec_size bytes; 0/-EINVAL/-ENOMEM. */
static inline int dp_ring_init(struct dp_ring *r, uint32_t n_slots,
			       size_t rec_size)
{
	size_t stride;

	memset(r, 0, sizeof(*r));
	if (!n_slots || n_slots & (n_slots - 1) ||
	    n_slots > DP_RING_SLOTS_MAX || !rec_size ||
	    rec_size > SIZE_MAX / 2 / n_slots)
		return -EINVAL;
	/* Aligned records: any struct fits, and neighbours share no line. */
	stride = (rec_size + DP_RING_ALIGN - 1) / DP_RING_ALIGN * DP_RING_ALIGN;
	r->recs = aligned_alloc(DP_RING_ALIGN, stride * n_slots);
	if (!r->recs)
		return -ENOMEM;
	r->size = n_slots;
	r->mask = n_slots - 1;
	r->stride = stride;
	atomic_init(&r->prod, 0);
	atomic_init(&r->cons, 0);
	return 0;
}

static inline void dp_ring_free(struct dp_ring *r)
{
	free(r->recs);
	memset(r, 0, sizeof(*r));
}

/* The record at position @pos (any position; it wraps). */
static inline void *dp_ring_rec(const struct dp_ring *r, uint32_t pos)
{
	return r->recs + (size_t)(pos & r->mask) * r->stride;
}

/*
 * Producer: up to @n free slots starting at *pos; returns how many (0 when
 * full). Nothing is visible to the consumer until dp_ring_submit().
 */
static inline uint32_t dp_ring_reserve(struct dp_ring *r, uint32_t n,
				       uint32_t *pos)
{
	uint32_t prod = atomic_load_explicit(&r->prod, memory_order_relaxed);
	uint32_t free_n = r->size - (prod - r->prod_cons);

	if (free_n < n) {
		/* Acquire: the consumer is done reading what it released. */
		r->prod_cons =
			atomic_load_explicit(&r->cons, memory_order_acquire);
		free_n = r->size - (prod - r->prod_cons);
	}
	*pos = prod;
	return n < free_n ? n : free_n;
}

/*
 * Producer: publishes the first @n reserved records. Returns true when the
 * consumer had released everything before them and may be asleep: the
 * caller wakes it (see the top of the file).
 */
static inline bool dp_ring_submit(struct dp_ring *r, uint32_t n)
{
	uint32_t prod = atomic_load_explicit(&r->prod, memory_order_relaxed);

	if (!n)
		return false;
	/* Release: the records are written before they are visible. */
	atomic_store_explicit(&r->prod, prod + n, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	r->prod_cons = atomic_load_explicit(&r->cons, memory_order_relaxed);
	return r->prod_cons == prod;
}

/* Consumer: up to @n records starting at *pos; returns how many (0: empty). */
static inline uint32_t dp_ring_peek(struct dp_ring *r, uint32_t n,
				    uint32_t *pos)
{
	uint32_t cons = atomic_load_explicit(&r->cons, memory_order_relaxed);
	uint32_t avail = r->cons_prod - cons;

	if (avail < n) {
		/* Acquire: pairs with the release in dp_ring_submit(). */
		r->cons_prod =
			atomic_load_explicit(&r->prod, memory_order_acquire);
		avail = r->cons_prod - cons;
	}
	*pos = cons;
	return n < avail ? n : avail;
}

/* Consumer: gives the first @n peeked records back to the producer. */
static inline void dp_ring_release(struct dp_ring *r, uint32_t n)
{
	uint32_t cons = atomic_load_explicit(&r->cons, memory_order_relaxed);

	/* Release: reads of the records happen before their reuse. */
	atomic_store_explicit(&r->cons, cons + n, memory_order_release);
}

/*
 * Consumer, before it sleeps: true when nothing is left, so a producer
 * submitting from now on will see the ring empty and wake it.
 */
static inline bool dp_ring_idle(struct dp_ring *r)
{
	atomic_thread_fence(memory_order_seq_cst);
	r->cons_prod = atomic_load_explicit(&r->prod, memory_order_acquire);
	return r->cons_prod ==
	       atomic_load_explicit(&r->cons, memory_order_relaxed);
}

/*
 * Either side, or a third thread for a progress check: records ever
 * released. A producer that submitted up to position p knows the consumer
 * is done with them once (int32_t)(dp_ring_released(r) - p) >= 0.
 */
static inline uint32_t dp_ring_released(const struct dp_ring *r)
{
	return atomic_load_explicit(&r->cons, memory_order_acquire);
}

/* Producer: the position after the last record submitted. */
static inline uint32_t dp_ring_submitted(const struct dp_ring *r)
{
	return atomic_load_explicit(&r->prod, memory_order_relaxed);
}

#endif /* DP_RING_H */
