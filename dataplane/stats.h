/* SPDX-License-Identifier: MIT */
#ifndef DP_STATS_H
#define DP_STATS_H

/*
 * Per-worker counters, cache-aligned and written only by their worker;
 * readers (dpctl through the control thread) sum them. Every packet the
 * dataplane does not deliver is counted under exactly one reason; the list
 * below is the only place reasons and their text are written.
 */

#include <stdint.h>

#define DP_DROP_REASONS(X)                                                   \
	X(SHORT, "shorter than a Nebula header and tag")                     \
	X(OWN_NETWORK, "datagram from inside the VPN network")               \
	X(UNKNOWN_TYPE, "unknown message type or subtype")                   \
	X(RELAY, "relay envelope (relays are not supported yet)")            \
	X(NO_TUNNEL, "no tunnel with that index")                            \
	X(REPLAY, "counter replayed or older than the window")               \
	X(BAD_TAG, "authentication failed")                                  \
	X(BAD_INNER, "not a well-formed IPv4 packet inside")                 \
	X(SPOOFED, "inner source is not the peer's")                         \
	X(NOT_FOR_US, "inner destination is not ours")                       \
	X(PUNT_FULL, "queue to the control thread full")                     \
	X(PUNT_RATE, "handshakes from one address above the rate limit")     \
	X(TUN_WRITE, "TUN device refused the packet")                        \
	X(TUN_VNET, "TUN frame with a bad offload header (tun/offload.h)")   \
	X(NOT_IPV4, "outbound packet is not IPv4")                           \
	X(TO_SELF, "outbound packet for our own address")                    \
	X(MULTICAST, "outbound multicast (tun.drop_multicast)")              \
	X(BROADCAST, "outbound broadcast (tun.drop_local_broadcast)")        \
	X(NO_ROUTE, "no route for the destination")                          \
	X(NOT_PEERS, "outbound destination is not the peer's")               \
	X(NOT_OURS, "outbound source is not ours")                           \
	X(PENDING_FULL, "handshake queue full")                              \
	X(PENDING_TIMEOUT, "handshake did not complete in time")             \
	X(LEASE, "send counters exhausted, waiting for a lease")             \
	X(NO_REMOTE, "tunnel has no underlay address")                       \
	X(TOO_BIG, "packet larger than the buffers")                         \
	X(TX, "NIC queue refused the datagram")                              \
	X(HOOK, "dropped by a filter hook (hooks.h)")                        \
	X(NO_RULES, "no firewall rules loaded for the tunnel yet")           \
	X(FIREWALL_IN, "inbound packet not allowed by firewall.inbound")     \
	X(FIREWALL_OUT, "outbound packet not allowed by firewall.outbound")

enum dp_drop {
#define DP_DROP_ENUM(name, text) DP_DROP_##name,
	DP_DROP_REASONS(DP_DROP_ENUM)
#undef DP_DROP_ENUM
	DP_DROP_MAX
};

extern const char *const dp_drop_names[DP_DROP_MAX];
extern const char *const dp_drop_texts[DP_DROP_MAX];

/*
 * Burst size histograms: bucket k counts bursts of 2^k to 2^(k+1) - 1
 * packets (1, 2-3, 4-7, 8-15, 16-31, 32-63), the last one bursts of
 * DP_BURST_MAX (64; worker.c asserts it).
 */
#define DP_BURST_BUCKETS 7

static inline unsigned int dp_burst_bucket(unsigned int n)
{
	return 31u - (unsigned int)__builtin_clz(n); /* n >= 1 */
}

struct dp_counters {
	_Alignas(64) uint64_t rx_packets;             /* from the NIC */
	uint64_t rx_bytes;
	uint64_t tx_packets, tx_bytes;                /* to the NIC */
	uint64_t tun_rx_packets, tun_rx_bytes;        /* read from the TUN */
	uint64_t tun_tx_packets, tun_tx_bytes;        /* written to the TUN */
	uint64_t punches;        /* 1-byte NAT punches, ignored as in 1.6.1 */
	uint64_t punted;         /* handed to the control plane */
	uint64_t test_replies;   /* answered test requests */
	uint64_t recv_errors;    /* recv_error datagrams sent */
	/* Control-plane injects: written to the TUN, sent into the overlay. */
	uint64_t injected_tun, injected_out;
	/*
	 * TUN offloads (0 without): frames read, of which GSO super-packets,
	 * and the segments those became; writev() calls, of which
	 * super-packets, and the packets inside those.
	 */
	uint64_t tun_rx_frames, tun_rx_gso_frames, tun_rx_segments;
	uint64_t tun_tx_writes, tun_tx_supers, tun_tx_coalesced;
	/*
	 * The loop (worker.c), like VPP's `show runtime`: passes, those that
	 * moved something, those that ended asleep in poll(); the time the
	 * passes took (each from its clock read to the next one's, so a
	 * sleep belongs to the pass before it) and the part of it in passes
	 * that moved something: busy share = busy_ns / loop_ns. Counted from
	 * the clock read every pass makes anyway.
	 */
	uint64_t passes, busy_passes, sleeps, loop_ns, busy_ns;
	/* NIC receives and TUN reads that returned packets, by size. */
	uint64_t rx_burst_hist[DP_BURST_BUCKETS];
	uint64_t tun_burst_hist[DP_BURST_BUCKETS];
	/*
	 * AEAD: packets sealed (data, test replies, injected messages) and
	 * opened (authenticated; failures are BAD_TAG drops), with their
	 * plaintext bytes.
	 */
	uint64_t sealed, sealed_bytes, opened, opened_bytes;
	uint64_t drops[DP_DROP_MAX];
};

#endif /* DP_STATS_H */
