/* SPDX-License-Identifier: MIT */
/*
 * The SPSC ring (dataplane/ring.h): fill and drain, wrap (of slots and of
 * the free-running 32-bit positions), full, partial reserve with cancel,
 * the wake-up answers of submit and idle, and a two-thread run of a few
 * million records checked for order and loss.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sched.h>
#include <cmocka.h>

#include "ring.h"

struct rec {
	uint64_t seq;
	uint64_t check; /* seq * a constant: a torn record shows */
	uint32_t len;
};

#define CHECK_MUL UINT64_C(0x9e3779b97f4a7c15)

static void put(struct dp_ring *r, uint32_t pos, uint64_t seq)
{
	struct rec *p = dp_ring_rec(r, pos);

	p->seq = seq;
	p->check = seq * CHECK_MUL;
	p->len = (uint32_t)seq;
}

static uint64_t get(const struct dp_ring *r, uint32_t pos)
{
	const struct rec *p = dp_ring_rec(r, pos);

	assert_int_equal(p->check, p->seq * CHECK_MUL);
	return p->seq;
}

static int setup(void **state)
{
	struct dp_ring *r = aligned_alloc(64, sizeof(*r));

	if (!r || dp_ring_init(r, 8, sizeof(struct rec)))
		return -1;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct dp_ring *r = *state;

	dp_ring_free(r);
	free(r);
	return 0;
}

static void test_ring_init_rejects(void **state)
{
	struct dp_ring r;

	(void)state;
	assert_int_equal(dp_ring_init(&r, 0, 8), -EINVAL);
	assert_int_equal(dp_ring_init(&r, 6, 8), -EINVAL);
	assert_int_equal(dp_ring_init(&r, 8, 0), -EINVAL);
	assert_int_equal(dp_ring_init(&r, UINT32_C(1) << 31, SIZE_MAX / 4),
			 -EINVAL);
	assert_int_equal(dp_ring_init(&r, 1, 8), 0);
	assert_int_equal(r.stride % DP_RING_ALIGN, 0);
	dp_ring_free(&r);
}

static void test_ring_fill_drain(void **state)
{
	struct dp_ring *r = *state;
	uint32_t pos, n;

	assert_true(dp_ring_idle(r));
	assert_int_equal(dp_ring_peek(r, 8, &pos), 0);
	n = dp_ring_reserve(r, 8, &pos);
	assert_int_equal(n, 8);
	for (uint32_t k = 0; k < n; k++)
		put(r, pos + k, 100 + k);
	/* Nothing visible before submit. */
	assert_int_equal(dp_ring_peek(r, 8, &pos), 0);
	assert_true(dp_ring_submit(r, n)); /* empty before: wake */
	assert_false(dp_ring_idle(r));

	/* Full. */
	assert_int_equal(dp_ring_reserve(r, 1, &pos), 0);

	n = dp_ring_peek(r, 16, &pos);
	assert_int_equal(n, 8);
	for (uint32_t k = 0; k < n; k++)
		assert_int_equal(get(r, pos + k), 100 + k);
	/* Peeked but not released: still full for the producer. */
	assert_int_equal(dp_ring_reserve(r, 1, &pos), 0);
	dp_ring_release(r, 8);
	assert_true(dp_ring_idle(r));
	assert_int_equal(dp_ring_reserve(r, 8, &pos), 8);
	assert_int_equal(dp_ring_released(r), 8);
	assert_int_equal(dp_ring_submitted(r), 8);
}

static void test_ring_wrap(void **state)
{
	struct dp_ring *r = *state;
	uint64_t next_in = 0, next_out = 0;
	uint32_t pos, n;

	/* 3 in, 3 out, many times: slots wrap every few rounds. */
	for (int round = 0; round < 100; round++) {
		n = dp_ring_reserve(r, 3, &pos);
		assert_int_equal(n, 3);
		for (uint32_t k = 0; k < n; k++)
			put(r, pos + k, next_in++);
		dp_ring_submit(r, n);
		n = dp_ring_peek(r, 8, &pos);
		assert_int_equal(n, 3);
		for (uint32_t k = 0; k < n; k++)
			assert_int_equal(get(r, pos + k), next_out++);
		dp_ring_release(r, n);
	}

	/* The 32-bit positions themselves wrap. */
	atomic_store(&r->prod, UINT32_MAX - 2);
	atomic_store(&r->cons, UINT32_MAX - 2);
	r->prod_cons = r->cons_prod = UINT32_MAX - 2;
	n = dp_ring_reserve(r, 8, &pos);
	assert_int_equal(n, 8);
	for (uint32_t k = 0; k < n; k++)
		put(r, pos + k, 500 + k);
	dp_ring_submit(r, n);
	assert_int_equal(dp_ring_submitted(r), 5);
	assert_int_equal(dp_ring_reserve(r, 1, &pos), 0);
	n = dp_ring_peek(r, 8, &pos);
	assert_int_equal(n, 8);
	for (uint32_t k = 0; k < n; k++)
		assert_int_equal(get(r, pos + k), 500 + k);
	dp_ring_release(r, n);
	assert_true(dp_ring_idle(r));
}

static void test_ring_partial_reserve(void **state)
{
	struct dp_ring *r = *state;
	uint32_t pos, n;

	n = dp_ring_reserve(r, 5, &pos);
	for (uint32_t k = 0; k < n; k++)
		put(r, pos + k, k);
	dp_ring_submit(r, 5);

	/* Ten wanted, three fit. */
	n = dp_ring_reserve(r, 10, &pos);
	assert_int_equal(n, 3);
	assert_int_equal(pos, 5);
	/* Fill two, cancel the third. */
	put(r, pos, 5);
	put(r, pos + 1, 6);
	assert_false(dp_ring_submit(r, 2)); /* consumer has work: no wake */
	assert_int_equal(dp_ring_submit(r, 0), false);

	n = dp_ring_peek(r, 10, &pos);
	assert_int_equal(n, 7);
	for (uint32_t k = 0; k < n; k++)
		assert_int_equal(get(r, pos + k), k);

	/* Partial release: two back, then the cancelled slot and two more fit. */
	dp_ring_release(r, 2);
	assert_int_equal(dp_ring_reserve(r, 8, &pos), 3);
	assert_int_equal(pos, 7);
	n = dp_ring_peek(r, 10, &pos);
	assert_int_equal(n, 5);
	assert_int_equal(get(r, pos), 2);
	dp_ring_release(r, 5);
	assert_true(dp_ring_idle(r));
}

static void test_ring_wake_answers(void **state)
{
	struct dp_ring *r = *state;
	uint32_t pos;

	dp_ring_reserve(r, 1, &pos);
	put(r, pos, 1);
	assert_true(dp_ring_submit(r, 1));
	/* Consumer took it but has not released it: it is awake. */
	assert_int_equal(dp_ring_peek(r, 1, &pos), 1);
	dp_ring_reserve(r, 1, &pos);
	put(r, pos, 2);
	assert_false(dp_ring_submit(r, 1));
	dp_ring_release(r, 1);
	assert_false(dp_ring_idle(r)); /* record 2 is waiting: no sleep */
	assert_int_equal(dp_ring_peek(r, 4, &pos), 1);
	dp_ring_release(r, 1);
	assert_true(dp_ring_idle(r));
	/* Everything released: the next submit must wake. */
	dp_ring_reserve(r, 1, &pos);
	put(r, pos, 3);
	assert_true(dp_ring_submit(r, 1));
}

#define N_RECORDS 3000000u

struct run {
	struct dp_ring ring;
	uint64_t full_spins;
};

static void *producer(void *arg)
{
	struct run *run = arg;
	struct dp_ring *r = &run->ring;
	uint64_t seq = 0, x = 88172645463325252u;

	while (seq < N_RECORDS) {
		uint32_t want, pos, n;

		/* xorshift: batch sizes 1..32 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		want = (uint32_t)(x % 32) + 1;
		if (want > N_RECORDS - seq)
			want = (uint32_t)(N_RECORDS - seq);
		n = dp_ring_reserve(r, want, &pos);
		if (!n) {
			run->full_spins++;
			sched_yield();
			continue;
		}
		for (uint32_t k = 0; k < n; k++)
			put(r, pos + k, seq++);
		dp_ring_submit(r, n);
	}
	return NULL;
}

static void test_ring_two_threads(void **state)
{
	struct run *run = aligned_alloc(64, sizeof(*run));
	uint64_t expect = 0;
	pthread_t t;

	(void)state;
	assert_non_null(run);
	run->full_spins = 0;
	assert_int_equal(dp_ring_init(&run->ring, 64, sizeof(struct rec)), 0);
	assert_int_equal(pthread_create(&t, NULL, producer, run), 0);
	while (expect < N_RECORDS) {
		uint32_t pos, n = dp_ring_peek(&run->ring, 17, &pos);

		if (!n) {
			sched_yield();
			continue;
		}
		for (uint32_t k = 0; k < n; k++) {
			const struct rec *p = dp_ring_rec(&run->ring, pos + k);

			/* Order, no loss, no duplicate, no torn record. */
			if (p->seq != expect ||
			    p->check != expect * CHECK_MUL ||
			    p->len != (uint32_t)expect)
				fail_msg("record %llu: got seq %llu",
					 (unsigned long long)expect,
					 (unsigned long long)p->seq);
			expect++;
		}
		dp_ring_release(&run->ring, n);
	}
	pthread_join(t, NULL);
	assert_true(dp_ring_idle(&run->ring));
	assert_int_equal(dp_ring_submitted(&run->ring), N_RECORDS);
	dp_ring_free(&run->ring);
	free(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_init_rejects),
		cmocka_unit_test_setup_teardown(test_ring_fill_drain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ring_wrap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ring_partial_reserve,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_wake_answers, setup,
						teardown),
		cmocka_unit_test(test_ring_two_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
