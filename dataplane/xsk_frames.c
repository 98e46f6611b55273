/* SPDX-License-Identifier: MIT */
#include "xsk_frames.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The free list is a stack: the frame freed last is written next, while
 * it is likely still in cache. Addresses are frame bases; a descriptor's
 * address (which in aligned mode may point past the base, at the packet)
 * is rounded down first.
 */

static uint64_t base(const struct dp_frames *f, uint64_t addr)
{
	addr = xsk_umem__extract_addr(addr);
	return addr - addr % f->frame_size;
}

/* Debug builds: a frame's state moves only along the arrows of xsk_frames.h. */
static void move(struct dp_frames *f, uint64_t addr, enum dp_frame_state from,
		 enum dp_frame_state to)
{
	uint64_t i = addr / f->frame_size;

#ifdef NDEBUG
	(void)from;
	if (i < f->total)
		f->state[i] = (uint8_t)to;
	return;
#endif
	if (i >= f->total || f->state[i] != from) {
		fprintf(stderr,
			"xsk_frames: frame %#llx: state %d, expected %d (to %d)\n",
			(unsigned long long)addr,
			i < f->total ? f->state[i] : -1, from, to);
		abort();
	}
	f->state[i] = (uint8_t)to;
}

int dp_frames_init(struct dp_frames *f, uint32_t n_frames, uint32_t frame_size)
{
	memset(f, 0, sizeof(*f));
	if (!n_frames || !frame_size)
		return -EINVAL;
	f->free = calloc(n_frames, sizeof(*f->free));
	if (!f->free)
		return -ENOMEM;
	f->state = calloc(n_frames, 1); /* DP_FRAME_FREE */
	if (!f->state) {
		free(f->free);
		f->free = NULL;
		return -ENOMEM;
	}
	f->total = n_frames;
	f->frame_size = frame_size;
	/* Lowest address on top. */
	for (uint32_t i = 0; i < n_frames; i++)
		f->free[i] = (uint64_t)(n_frames - 1 - i) * frame_size;
	f->n_free = n_frames;
	return 0;
}

void dp_frames_free(struct dp_frames *f)
{
	free(f->free);
	free(f->state);
	memset(f, 0, sizeof(*f));
}

uint32_t dp_frames_fill(struct dp_frames *f, struct xsk_ring_prod *fill)
{
	uint32_t n = f->n_free, room, idx;

	if (!n)
		return 0;
	room = xsk_prod_nb_free(fill, n);
	if (room < n)
		n = room;
	if (!n || xsk_ring_prod__reserve(fill, n, &idx) != n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t addr = f->free[--f->n_free];

		move(f, addr, DP_FRAME_FREE, DP_FRAME_FILL);
		*xsk_ring_prod__fill_addr(fill, idx + i) = addr;
	}
	xsk_ring_prod__submit(fill, n);
	f->fill += n;
	return n;
}

uint32_t dp_frames_rx(struct dp_frames *f, struct xsk_ring_cons *rx,
		      struct xdp_desc *descs, uint32_t max)
{
	uint32_t idx, n = xsk_ring_cons__peek(rx, max, &idx);

	for (uint32_t i = 0; i < n; i++) {
		descs[i] = *xsk_ring_cons__rx_desc(rx, idx + i);
		move(f, base(f, descs[i].addr), DP_FRAME_FILL, DP_FRAME_HELD);
	}
	if (n)
		xsk_ring_cons__release(rx, n);
	f->fill -= n;
	f->held += n;
	return n;
}

uint32_t dp_frames_alloc(struct dp_frames *f, uint64_t *addrs, uint32_t n)
{
	if (n > f->n_free)
		n = f->n_free;
	for (uint32_t i = 0; i < n; i++) {
		addrs[i] = f->free[--f->n_free];
		move(f, addrs[i], DP_FRAME_FREE, DP_FRAME_HELD);
	}
	f->held += n;
	return n;
}

void dp_frames_release(struct dp_frames *f, const uint64_t *addrs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t addr = base(f, addrs[i]);

		move(f, addr, DP_FRAME_HELD, DP_FRAME_FREE);
		f->free[f->n_free++] = addr;
	}
	f->held -= n;
}

uint32_t dp_frames_tx_submit(struct dp_frames *f, struct xsk_ring_prod *tx,
			     const struct xdp_desc *descs, uint32_t n)
{
	uint32_t room = xsk_prod_nb_free(tx, n), idx;

	if (room < n)
		n = room;
	if (!n || xsk_ring_prod__reserve(tx, n, &idx) != n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		move(f, base(f, descs[i].addr), DP_FRAME_HELD, DP_FRAME_TX);
		*xsk_ring_prod__tx_desc(tx, idx + i) = descs[i];
	}
	xsk_ring_prod__submit(tx, n);
	f->held -= n;
	f->in_flight += n;
	return n;
}

uint32_t dp_frames_complete(struct dp_frames *f, struct xsk_ring_cons *comp)
{
	uint32_t idx, n = xsk_ring_cons__peek(comp, f->in_flight, &idx);

	for (uint32_t i = 0; i < n; i++) {
		uint64_t addr =
			base(f, *xsk_ring_cons__comp_addr(comp, idx + i));

		move(f, addr, DP_FRAME_TX, DP_FRAME_FREE);
		f->free[f->n_free++] = addr;
	}
	if (n)
		xsk_ring_cons__release(comp, n);
	f->in_flight -= n;
	return n;
}

uint32_t dp_frames_reset_kernel(struct dp_frames *f)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < f->total; i++) {
		if (f->state[i] != DP_FRAME_FILL && f->state[i] != DP_FRAME_TX)
			continue;
		f->state[i] = DP_FRAME_FREE;
		f->free[f->n_free++] = (uint64_t)i * f->frame_size;
		n++;
	}
	f->fill = 0;
	f->in_flight = 0;
	return n;
}

bool dp_frames_check(const struct dp_frames *f)
{
	uint32_t count[4] = { 0 };

	if (f->n_free + f->fill + f->held + f->in_flight != f->total)
		return false;
	for (uint32_t i = 0; i < f->total; i++)
		count[f->state[i] & 3]++;
	return count[DP_FRAME_FREE] == f->n_free &&
	       count[DP_FRAME_FILL] == f->fill &&
	       count[DP_FRAME_HELD] == f->held &&
	       count[DP_FRAME_TX] == f->in_flight;
}

void dp_frames_snapshot(const struct dp_frames *f, uint32_t *free_,
			uint32_t *fill, uint32_t *held, uint32_t *in_flight)
{
	*free_ = __atomic_load_n(&f->n_free, __ATOMIC_RELAXED);
	*fill = __atomic_load_n(&f->fill, __ATOMIC_RELAXED);
	*held = __atomic_load_n(&f->held, __ATOMIC_RELAXED);
	*in_flight = __atomic_load_n(&f->in_flight, __ATOMIC_RELAXED);
}
