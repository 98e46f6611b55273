/* SPDX-License-Identifier: MIT */
#ifndef DP_REPLAY_H
#define DP_REPLAY_H

/*
 * Replay window of one SA (spec §4.3), RFC 6479 style: a ring of 64-bit
 * blocks indexed by counter, so sliding forward clears whole blocks instead
 * of shifting bits (WireGuard's counter_validate does the same).
 *
 * Window: DP_REPLAY_WINDOW counters below the highest one accepted, 8128 --
 * larger than Nebula's 1024, which the design allows: a packet Nebula would
 * still accept is always accepted here, and reordering across NIC queues
 * has more room.
 *
 * Two steps, as Nebula has them: dp_replay_check() before decryption (a
 * failure there is what earns the sender a recv_error) and
 * dp_replay_update() after the tag verified, so a forged packet never
 * consumes a counter. check() only reads; update() is the authority and
 * rejects a counter that another queue consumed in between.
 *
 * Thread contract: check() may race with update() (it is a hint; a stale
 * answer is corrected by update()). update() calls for one window are
 * serialized by the caller: the SA's lock when packets of one SA can arrive
 * on several queues.
 */

#include <stdbool.h>
#include <stdint.h>

#define DP_REPLAY_BLOCK_BITS 64
#define DP_REPLAY_BLOCKS 128 /* a power of two */
#define DP_REPLAY_BITS (DP_REPLAY_BLOCKS * DP_REPLAY_BLOCK_BITS)
/* The block holding the newest counter is partly future: one block less. */
#define DP_REPLAY_WINDOW (DP_REPLAY_BITS - DP_REPLAY_BLOCK_BITS)

struct dp_replay {
	uint64_t max; /* highest counter accepted */
	uint64_t blocks[DP_REPLAY_BLOCKS];
};

/* A fresh tunnel: counters 0, 1 and 2 count as used (the handshake's, §3.6). */
void dp_replay_init(struct dp_replay *r);

/* Would @counter be accepted? Changes nothing. */
bool dp_replay_check(const struct dp_replay *r, uint64_t counter);

/* Accepts @counter once: false when it was seen or is older than the window. */
bool dp_replay_update(struct dp_replay *r, uint64_t counter);

#endif /* DP_REPLAY_H */
