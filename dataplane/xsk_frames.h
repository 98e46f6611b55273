/* SPDX-License-Identifier: MIT */
#ifndef DP_XSK_FRAMES_H
#define DP_XSK_FRAMES_H

/*
 * UMEM frame ownership of one AF_XDP socket (DESIGN §3). A frame has one
 * owner at a time:
 *
 *   free --fill()--> fill ring --(kernel RX)--> rx()--> held --release()--> free
 *   free --alloc()--> held --tx_submit()--> in flight --complete()--> free
 *
 * "fill" counts frames on the fill ring or in the kernel's RX path (the
 * RX ring included): the kernel owns them until rx() takes them. "in
 * flight" counts frames on the TX ring or the completion ring. free + fill
 * + held + in_flight = total after every call; dp_frames_check() verifies it
 * against each frame's state (one byte per frame), and debug builds (no
 * NDEBUG) abort on a wrong transition (a frame freed twice, a completion
 * for a frame never sent).
 *
 * Pure bookkeeping over libxdp's ring structs: no syscalls, so tests drive
 * it with rings in plain memory and play the kernel themselves. One thread
 * per struct (the worker owning the socket); the counters may be read from
 * another thread (dp_frames_snapshot).
 */

#include <stdbool.h>
#include <stdint.h>
#include <xdp/xsk.h>

enum dp_frame_state {
	DP_FRAME_FREE,
	DP_FRAME_FILL,
	DP_FRAME_HELD,
	DP_FRAME_TX
};

struct dp_frames {
	uint32_t total, frame_size;
	uint32_t n_free, fill, held, in_flight;
	uint64_t *free; /* stack of frame addresses, n_free of them */
	uint8_t *state; /* per frame, enum dp_frame_state */
};

/* All @n_frames frames of @frame_size bytes free. 0 or -ENOMEM. */
int dp_frames_init(struct dp_frames *f, uint32_t n_frames, uint32_t frame_size);
void dp_frames_free(struct dp_frames *f);

/*
 * Moves free frames to the fill ring, as many as both have (the ring may
 * take fewer than asked: what it has room for goes, the rest stays free).
 * Returns how many.
 */
uint32_t dp_frames_fill(struct dp_frames *f, struct xsk_ring_prod *fill);

/*
 * Takes up to @max descriptors off the RX ring (fill -> held) into
 * @descs and releases the ring slots. The caller gives the frames back
 * with dp_frames_release() (by address, xsk_umem__extract_addr of desc->addr).
 */
uint32_t dp_frames_rx(struct dp_frames *f, struct xsk_ring_cons *rx,
		      struct xdp_desc *descs, uint32_t max);

/* Up to @n free frames for the caller to write (free -> held). */
uint32_t dp_frames_alloc(struct dp_frames *f, uint64_t *addrs, uint32_t n);

/* Held frames back to free (a received frame done with, an unsent one). */
void dp_frames_release(struct dp_frames *f, const uint64_t *addrs, uint32_t n);

/*
 * Puts descs[0..n) on the TX ring (held -> in flight), as many as the ring
 * has room for; returns how many. The caller releases the rest.
 */
uint32_t dp_frames_tx_submit(struct dp_frames *f, struct xsk_ring_prod *tx,
			     const struct xdp_desc *descs, uint32_t n);

/* Takes what the completion ring returns (in flight -> free). */
uint32_t dp_frames_complete(struct dp_frames *f, struct xsk_ring_cons *comp);

/*
 * After the socket is gone (the kernel holds nothing any more): every
 * frame on the fill ring or in flight is free again. Held frames stay
 * held (their owner releases them). Returns how many came back.
 */
uint32_t dp_frames_reset_kernel(struct dp_frames *f);

/* free + fill + held + in_flight == total (and matches the states). */
bool dp_frames_check(const struct dp_frames *f);

/* The four counts, read from any thread (relaxed loads). */
void dp_frames_snapshot(const struct dp_frames *f, uint32_t *free_,
			uint32_t *fill, uint32_t *held, uint32_t *in_flight);

#endif /* DP_XSK_FRAMES_H */
