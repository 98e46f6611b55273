/* SPDX-License-Identifier: MIT */
/*
 * xsk_frames: UMEM frame ownership over rings in plain memory. The test
 * plays the kernel: it consumes the fill and TX rings, produces on the RX
 * and completion rings, and checks free + fill + held + in_flight = total
 * after every step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xsk_frames.h"

enum { FRAME = 4096 };

/* One ring's shared part, as the kernel maps it. */
struct fake_ring {
	uint32_t prod, cons, flags;
	uint32_t size;
	union {
		uint64_t addrs[64];
		struct xdp_desc descs[64];
	};
};

static void prod_init(struct xsk_ring_prod *r, struct fake_ring *f,
		      uint32_t size)
{
	memset(f, 0, sizeof(*f));
	f->size = size;
	*r = (struct xsk_ring_prod){
		.cached_prod = 0,
		.cached_cons = size,
		.mask = size - 1,
		.size = size,
		.producer = &f->prod,
		.consumer = &f->cons,
		.ring = f->addrs,
		.flags = &f->flags,
	};
}

static void cons_init(struct xsk_ring_cons *r, struct fake_ring *f,
		      uint32_t size)
{
	memset(f, 0, sizeof(*f));
	f->size = size;
	*r = (struct xsk_ring_cons){
		.cached_prod = 0,
		.cached_cons = 0,
		.mask = size - 1,
		.size = size,
		.producer = &f->prod,
		.consumer = &f->cons,
		.ring = f->addrs,
		.flags = &f->flags,
	};
}

struct env {
	struct dp_frames f;
	struct fake_ring fill_m, comp_m, rx_m, tx_m;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
};

static struct env *env_new(uint32_t frames, uint32_t ring)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(dp_frames_init(&e->f, frames, FRAME), 0);
	prod_init(&e->fill, &e->fill_m, ring);
	prod_init(&e->tx, &e->tx_m, ring);
	cons_init(&e->comp, &e->comp_m, ring);
	cons_init(&e->rx, &e->rx_m, ring);
	return e;
}

static void env_free(struct env *e)
{
	dp_frames_free(&e->f);
	free(e);
}

static void conserved(const struct env *e)
{
	assert_true(dp_frames_check(&e->f));
	assert_int_equal(e->f.n_free + e->f.fill + e->f.held + e->f.in_flight,
			 e->f.total);
}

/* Kernel: receives @n frames from the fill ring onto the RX ring. */
static uint32_t kernel_rx(struct env *e, uint32_t n)
{
	uint32_t k = 0;

	while (k < n && e->fill_m.cons != e->fill_m.prod &&
	       e->rx_m.prod - e->rx_m.cons < e->rx_m.size) {
		uint64_t a =
			e->fill_m.addrs[e->fill_m.cons++ & (e->fill_m.size - 1)];

		/* Aligned mode: the address may point past the frame base. */
		e->rx_m.descs[e->rx_m.prod++ & (e->rx_m.size - 1)] =
			(struct xdp_desc){ .addr = a + 256, .len = 100 };
		k++;
	}
	return k;
}

/* Kernel: sends up to @n descriptors from TX, completes them. */
static uint32_t kernel_tx(struct env *e, uint32_t n)
{
	uint32_t k = 0;

	while (k < n && e->tx_m.cons != e->tx_m.prod &&
	       e->comp_m.prod - e->comp_m.cons < e->comp_m.size) {
		struct xdp_desc d =
			e->tx_m.descs[e->tx_m.cons++ & (e->tx_m.size - 1)];

		e->comp_m.addrs[e->comp_m.prod++ & (e->comp_m.size - 1)] =
			d.addr;
		k++;
	}
	return k;
}

static void test_xsk_frames_fill_partial(void **state)
{
	struct env *e = env_new(24, 16);

	(void)state;
	conserved(e);
	/* The ring takes 16 of 24: the rest stays free. */
	assert_int_equal(dp_frames_fill(&e->f, &e->fill), 16);
	assert_int_equal(e->f.fill, 16);
	assert_int_equal(e->f.n_free, 8);
	conserved(e);
	/* Full ring: nothing more. */
	assert_int_equal(dp_frames_fill(&e->f, &e->fill), 0);
	conserved(e);
	/* The kernel takes 5 (into RX); the ring has room for 5 again. */
	assert_int_equal(kernel_rx(e, 5), 5);
	assert_int_equal(dp_frames_fill(&e->f, &e->fill), 5);
	assert_int_equal(e->f.n_free, 3);
	conserved(e);
	env_free(e);
}

static void test_xsk_frames_rx_hold_release(void **state)
{
	struct env *e = env_new(16, 16);
	struct xdp_desc d[8];
	uint64_t addrs[8];
	uint32_t n;

	(void)state;
	dp_frames_fill(&e->f, &e->fill);
	kernel_rx(e, 6);
	n = dp_frames_rx(&e->f, &e->rx, d, 4);
	assert_int_equal(n, 4);
	assert_int_equal(e->f.held, 4);
	conserved(e);
	/* The RX ring slots were released: the kernel sees them free. */
	assert_int_equal(e->rx_m.cons, 4);
	for (uint32_t i = 0; i < n; i++)
		addrs[i] = d[i].addr; /* with the offset: rounded down */
	dp_frames_release(&e->f, addrs, n);
	assert_int_equal(e->f.held, 0);
	assert_int_equal(e->f.n_free, 4);
	conserved(e);
	n = dp_frames_rx(&e->f, &e->rx, d, 8);
	assert_int_equal(n, 2);
	conserved(e);
	env_free(e);
}

static void test_xsk_frames_tx_ring_full(void **state)
{
	struct env *e = env_new(32, 4);
	struct xdp_desc d[8];
	uint64_t addrs[8];
	uint32_t n, sent;

	(void)state;
	n = dp_frames_alloc(&e->f, addrs, 6);
	assert_int_equal(n, 6);
	assert_int_equal(e->f.held, 6);
	conserved(e);
	for (uint32_t i = 0; i < n; i++)
		d[i] = (struct xdp_desc){ .addr = addrs[i], .len = 60 };
	/* The TX ring has 4 slots: 4 go, 2 come back to the caller. */
	sent = dp_frames_tx_submit(&e->f, &e->tx, d, n);
	assert_int_equal(sent, 4);
	assert_int_equal(e->f.in_flight, 4);
	conserved(e);
	dp_frames_release(&e->f, addrs + sent, n - sent);
	assert_int_equal(e->f.held, 0);
	conserved(e);
	/* Full: nothing more goes until completions. */
	n = dp_frames_alloc(&e->f, addrs, 1);
	d[0] = (struct xdp_desc){ .addr = addrs[0], .len = 60 };
	assert_int_equal(dp_frames_tx_submit(&e->f, &e->tx, d, 1), 0);
	dp_frames_release(&e->f, addrs, 1);
	conserved(e);
	/* The kernel sends 3: they come back through the completion ring. */
	assert_int_equal(kernel_tx(e, 3), 3);
	assert_int_equal(dp_frames_complete(&e->f, &e->comp), 3);
	assert_int_equal(e->f.in_flight, 1);
	assert_int_equal(e->f.n_free, 31);
	conserved(e);
	env_free(e);
}

/* A kick that did not happen (or failed): frames stay in flight, not lost. */
static void test_xsk_frames_failed_kick(void **state)
{
	struct env *e = env_new(8, 8);
	struct xdp_desc d[4];
	uint64_t addrs[4];

	(void)state;
	assert_int_equal(dp_frames_alloc(&e->f, addrs, 4), 4);
	for (int i = 0; i < 4; i++)
		d[i] = (struct xdp_desc){ .addr = addrs[i], .len = 60 };
	assert_int_equal(dp_frames_tx_submit(&e->f, &e->tx, d, 4), 4);
	/* Nothing sent: completion finds nothing, frames are not reused. */
	assert_int_equal(dp_frames_complete(&e->f, &e->comp), 0);
	assert_int_equal(e->f.in_flight, 4);
	assert_int_equal(dp_frames_alloc(&e->f, addrs, 8), 4);
	dp_frames_release(&e->f, addrs, 4);
	conserved(e);
	/* A later kick sends them. */
	assert_int_equal(kernel_tx(e, 4), 4);
	assert_int_equal(dp_frames_complete(&e->f, &e->comp), 4);
	assert_int_equal(e->f.n_free, 8);
	conserved(e);
	env_free(e);
}

/* Close: the socket is gone, the kernel's frames (fill, TX) are ours again. */
static void test_xsk_frames_teardown_drain(void **state)
{
	struct env *e = env_new(32, 8);
	struct xdp_desc d[4], rxd[2];
	uint64_t addrs[4];

	(void)state;
	dp_frames_fill(&e->f, &e->fill);
	kernel_rx(e, 2);
	assert_int_equal(dp_frames_rx(&e->f, &e->rx, rxd, 2), 2);
	assert_int_equal(dp_frames_alloc(&e->f, addrs, 4), 4);
	for (int i = 0; i < 4; i++)
		d[i] = (struct xdp_desc){ .addr = addrs[i], .len = 60 };
	assert_int_equal(dp_frames_tx_submit(&e->f, &e->tx, d, 4), 4);
	kernel_tx(e, 1);
	assert_int_equal(dp_frames_complete(&e->f, &e->comp), 1);
	conserved(e);
	/* 6 on the fill ring, 3 in flight; the held 2 stay held. */
	assert_int_equal(dp_frames_reset_kernel(&e->f), 9);
	assert_int_equal(e->f.fill, 0);
	assert_int_equal(e->f.in_flight, 0);
	assert_int_equal(e->f.held, 2);
	conserved(e);
	addrs[0] = rxd[0].addr;
	addrs[1] = rxd[1].addr;
	dp_frames_release(&e->f, addrs, 2);
	assert_int_equal(e->f.n_free, 32);
	conserved(e);
	env_free(e);
}

/* Many rounds of everything at once, with wrapping ring indices. */
static void test_xsk_frames_churn(void **state)
{
	struct env *e = env_new(48, 16);
	struct xdp_desc d[16];
	uint64_t addrs[16];

	(void)state;
	for (int round = 0; round < 1000; round++) {
		uint32_t n, k;

		dp_frames_fill(&e->f, &e->fill);
		kernel_rx(e, (uint32_t)round % 7);
		n = dp_frames_rx(&e->f, &e->rx, d, 16);
		for (uint32_t i = 0; i < n; i++)
			addrs[i] = d[i].addr;
		dp_frames_release(&e->f, addrs, n);
		n = dp_frames_alloc(&e->f, addrs, (uint32_t)round % 11);
		for (uint32_t i = 0; i < n; i++)
			d[i] = (struct xdp_desc){ .addr = addrs[i], .len = 1 };
		k = dp_frames_tx_submit(&e->f, &e->tx, d, n);
		dp_frames_release(&e->f, addrs + k, n - k);
		kernel_tx(e, (uint32_t)round % 5);
		dp_frames_complete(&e->f, &e->comp);
		conserved(e);
	}
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xsk_frames_fill_partial),
		cmocka_unit_test(test_xsk_frames_rx_hold_release),
		cmocka_unit_test(test_xsk_frames_tx_ring_full),
		cmocka_unit_test(test_xsk_frames_failed_kick),
		cmocka_unit_test(test_xsk_frames_teardown_drain),
		cmocka_unit_test(test_xsk_frames_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
