/* SPDX-License-Identifier: MIT */
#include "replay.h"

#include <string.h>

static inline uint64_t block_of(uint64_t counter)
{
	return counter / DP_REPLAY_BLOCK_BITS;
}

static inline uint64_t bit_of(uint64_t counter)
{
	return UINT64_C(1) << (counter % DP_REPLAY_BLOCK_BITS);
}

static inline uint64_t *slot(struct dp_replay *r, uint64_t counter)
{
	return &r->blocks[block_of(counter) & (DP_REPLAY_BLOCKS - 1)];
}

void dp_replay_init(struct dp_replay *r)
{
	memset(r, 0, sizeof(*r));
	/* max = 2 with 0, 1 and 2 marked: the first transport message is 3. */
	r->max = 2;
	r->blocks[0] = 0x7;
}

bool dp_replay_check(const struct dp_replay *r, uint64_t counter)
{
	if (counter > r->max)
		return true;
	if (r->max - counter >= DP_REPLAY_WINDOW)
		return false;
	return !(r->blocks[block_of(counter) & (DP_REPLAY_BLOCKS - 1)] &
		 bit_of(counter));
}

bool dp_replay_update(struct dp_replay *r, uint64_t counter)
{
	uint64_t *b;

	if (counter > r->max) {
		uint64_t cur = block_of(r->max), next = block_of(counter);
		uint64_t n = next - cur;

		/* Blocks between the old and the new newest are unseen. */
		if (n > DP_REPLAY_BLOCKS)
			n = DP_REPLAY_BLOCKS;
		for (uint64_t i = 1; i <= n; i++)
			r->blocks[(cur + i) & (DP_REPLAY_BLOCKS - 1)] = 0;
		r->max = counter;
	} else if (r->max - counter >= DP_REPLAY_WINDOW) {
		return false;
	}
	b = slot(r, counter);
	if (*b & bit_of(counter))
		return false;
	*b |= bit_of(counter);
	return true;
}
