/* SPDX-License-Identifier: MIT */
/*
 * The replay window, table-driven as WireGuard's selftest/counter.c: each
 * line is a counter and whether it must be accepted, applied in order to
 * one window. Then Nebula's check-before-decrypt step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "replay.h"

#define W DP_REPLAY_WINDOW

struct step {
	uint64_t counter;
	bool accept;
};

static void run(const struct step *steps, size_t n)
{
	struct dp_replay r;

	dp_replay_init(&r);
	for (size_t i = 0; i < n; i++) {
		bool check = dp_replay_check(&r, steps[i].counter);
		bool got = dp_replay_update(&r, steps[i].counter);

		if (got != steps[i].accept || check != got)
			fail_msg("step %zu: counter %llu: update %d check %d, want %d",
				 i + 1, (unsigned long long)steps[i].counter,
				 got, check, steps[i].accept);
	}
}

#define RUN(...)                                                   \
	do {                                                       \
		static const struct step s[] = { __VA_ARGS__ };    \
		run(s, sizeof(s) / sizeof(s[0]));                  \
	} while (0)

static void test_replay_handshake_counters(void **state)
{
	(void)state;
	/* 0..2 belong to the handshake; the first data message is 3 (§3.6). */
	RUN({ 0, false }, { 1, false }, { 2, false }, { 3, true }, { 3, false },
	    { 2, false }, { 4, true });
}

static void test_replay_in_order_and_duplicates(void **state)
{
	(void)state;
	RUN({ 3, true }, { 4, true }, { 5, true }, { 5, false }, { 4, false },
	    { 6, true }, { 7, true }, { 7, false });
}

static void test_replay_reordering(void **state)
{
	(void)state;
	RUN({ 10, true }, { 8, true }, { 9, true }, { 7, true }, { 3, true },
	    { 3, false }, { 11, true }, { 6, true }, { 5, true }, { 4, true },
	    { 4, false });
}

static void test_replay_window_edge(void **state)
{
	(void)state;
	RUN({ W + 3, true },
	    /* max - c < W is inside, max - c >= W is too old */
	    { 4, true }, { 3, false }, { 4, false }, { 5, true },
	    { W + 2, true }, { W + 2, false });
}

static void test_replay_nebula_window_is_covered(void **state)
{
	(void)state;
	/* Everything Nebula's 1024 window accepts, this one does too. */
	RUN({ 2000, true }, { 2000 - 1023, true }, { 2000 - 1, true },
	    { 2000 - 1023, false }, { 2000 - 1500, true });
}

static void test_replay_jumps(void **state)
{
	(void)state;
	RUN({ 100, true },
	    /* A jump larger than the whole ring clears it. */
	    { 100 + 10 * W, true }, { 100 + 10 * W - 64, true },
	    { 100 + 10 * W - 64, false }, { 100, false },
	    /* Within the ring, blocks in between are clear. */
	    { 100 + 10 * W + 200, true }, { 100 + 10 * W + 100, true },
	    { 100 + 10 * W + 1, true }, { 100 + 10 * W + 1, false });
}

static void test_replay_block_reuse(void **state)
{
	struct dp_replay r;

	(void)state;
	/*
	 * A bit set one ring ago must not reject the counter that lands in
	 * the same slot now: walk the ring several times, every other value.
	 */
	dp_replay_init(&r);
	for (uint64_t c = 3; c < 4 * DP_REPLAY_BITS; c += 2)
		assert_true(dp_replay_update(&r, c));
	/* The even counters still inside the window: never seen. */
	for (uint64_t c = 4 * DP_REPLAY_BITS - W; c < 4 * DP_REPLAY_BITS;
	     c += 2) {
		assert_true(dp_replay_check(&r, c));
		assert_true(dp_replay_update(&r, c));
		assert_false(dp_replay_update(&r, c));
	}
}

static void test_replay_check_changes_nothing(void **state)
{
	struct dp_replay r;

	(void)state;
	dp_replay_init(&r);
	assert_true(dp_replay_check(&r, 50));
	assert_true(dp_replay_check(&r, 50));
	/* A counter that failed decryption stays usable (§4.1). */
	assert_true(dp_replay_update(&r, 50));
	assert_false(dp_replay_check(&r, 50));
	assert_true(dp_replay_check(&r, 49));
	assert_false(dp_replay_check(&r, 2));
	assert_true(dp_replay_check(&r, UINT64_MAX));
	assert_true(dp_replay_update(&r, UINT64_MAX));
	assert_false(dp_replay_update(&r, UINT64_MAX));
	assert_false(dp_replay_check(&r, 50));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_handshake_counters),
		cmocka_unit_test(test_replay_in_order_and_duplicates),
		cmocka_unit_test(test_replay_reordering),
		cmocka_unit_test(test_replay_window_edge),
		cmocka_unit_test(test_replay_nebula_window_is_covered),
		cmocka_unit_test(test_replay_jumps),
		cmocka_unit_test(test_replay_block_reuse),
		cmocka_unit_test(test_replay_check_changes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
