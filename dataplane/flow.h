/* SPDX-License-Identifier: MIT */
#ifndef DP_FLOW_H
#define DP_FLOW_H

/*
 * The flow table: Nebula's conntrack (spec §8) and the per-connection
 * counters of the TUN feature set (DESIGN.md §4), in one bounded table
 * shared by every worker.
 *
 * Shared, because a connection's two directions need not meet on one
 * worker: outbound packets come from the TUN queue the kernel hashed the
 * inner flow to, inbound ones from the NIC queue the peer's outer UDP
 * tuple hashed to. Bounded, because a peer (or a LAN behind a gateway)
 * chooses how many flows there are: the table is allocated once, at
 * setup, and never grows.
 *
 * Layout: a power-of-two array of buckets, DP_FLOW_WAYS entries each, a
 * spinlock per bucket (one cache line for the lock and the keys' hashes
 * would be ideal; a bucket is a few lines, touched only by the workers
 * whose flows hash there). The hash is keyed with a random seed per table,
 * so a peer cannot aim flows at one bucket.
 *
 * An entry lives until it expires: last_ns + timeout(proto) < now, with
 * the timeouts of firewall.conntrack (tcp, udp, default). An expired entry
 * is never a hit and its slot is free for reuse. A new flow in a full
 * bucket takes the slot of the entry seen longest ago (counted as an
 * eviction: that flow's later packets meet the rules again, as after a
 * conntrack timeout).
 *
 * Rule generations: each entry remembers the generation of the firewall
 * rules that admitted it. Nebula re-checks conntrack entries against new
 * rules lazily after a reload; dp_flow_lookup reports an entry of another
 * generation as STALE, and the caller re-evaluates the rules and then
 * either refreshes it (dp_flow_admit) or removes it (dp_flow_remove).
 * Generations are compared for equality only, so a control plane that
 * restarts its count cannot make old entries pass as current.
 *
 * Thread contract: dp_flow_lookup/admit/remove from any worker, any
 * number at once; dp_flow_extract from the control thread, concurrently
 * with them (it takes each bucket's lock in turn, so a record is a
 * consistent snapshot of one entry). new/free only while no worker runs.
 * Nothing here allocates, logs or sleeps after dp_flow_table_new.
 */

#include <stdbool.h>
#include <stdint.h>

#define DP_FLOW_WAYS 4
#define DP_FLOW_MIN 1024            /* entries, after rounding up */
#define DP_FLOW_MAX (1u << 24)

/*
 * The locally oriented tuple (spec §8): local is our side (inbound: the
 * destination, outbound: the source). Ports are 0 for ICMP and for
 * non-first fragments, which set @fragment. Host byte order. @pad must be
 * zero: keys are compared as 16 bytes.
 */
struct dp_flow_key {
	uint32_t local_ip, remote_ip;
	uint16_t local_port, remote_port;
	uint8_t proto;
	uint8_t fragment;
	uint16_t pad;
};

_Static_assert(sizeof(struct dp_flow_key) == 16, "keys compare as 16 bytes");

enum dp_flow_dir { DP_FLOW_IN, DP_FLOW_OUT };

/* Conntrack timeouts (firewall.conntrack), in nanoseconds. */
struct dp_flow_timeouts {
	uint64_t tcp_ns, udp_ns, default_ns;
};

/* What dp_flow_extract copies out: one entry as it was. */
struct dp_flow_record {
	struct dp_flow_key key;
	uint32_t gen;                  /* rule generation that admitted it */
	uint32_t reserved;
	uint64_t in_packets, in_bytes; /* from the tunnel to the TUN */
	uint64_t out_packets, out_bytes;
	uint64_t first_ns, last_ns;    /* CLOCK_MONOTONIC */
	uint64_t idle_ns;              /* now - last_ns at extraction */
	uint64_t expires_ns;           /* left until it expires, at extraction */
};

/* Table-wide counters, read by the control thread (relaxed atomics). */
struct dp_flow_stats {
	uint64_t entries;      /* live, as copied by the last whole walk */
	uint64_t created;      /* admits that made a new entry */
	uint64_t evicted;      /* live entries pushed out of a full bucket */
	uint64_t expired;      /* expired entries freed (admit or extract) */
	uint64_t removed;      /* dp_flow_remove that found the entry */
};

struct dp_flow_table;

/*
 * A table of at least @max entries (rounded up to a power of two of
 * buckets, at least DP_FLOW_MIN, at most DP_FLOW_MAX), empty. NULL when
 * out of memory, getrandom(2) fails or @max is above DP_FLOW_MAX.
 */
struct dp_flow_table *dp_flow_table_new(uint32_t max,
					const struct dp_flow_timeouts *t);
void dp_flow_table_free(struct dp_flow_table *t);
uint32_t dp_flow_capacity(const struct dp_flow_table *t);

/*
 * New conntrack timeouts (a rule reload: 1.6.1 takes firewall.conntrack
 * from the new config). Any thread; an entry's expiry is judged with the
 * timeouts in force when it is looked at.
 */
void dp_flow_set_timeouts(struct dp_flow_table *t,
			  const struct dp_flow_timeouts *to);

enum dp_flow_result {
	DP_FLOW_MISS,   /* no live entry: evaluate the rules */
	DP_FLOW_HIT,    /* live, current generation: counted and refreshed */
	DP_FLOW_STALE,  /* live, other generation: re-check, then admit/remove */
};

/*
 * Looks @k up at @now_ns. On HIT the packet (@len bytes, direction @dir)
 * is counted and the entry's timeout restarts. On STALE and MISS nothing
 * changes. On HIT and STALE, *@origin (if not NULL) is the direction of
 * the packet that created the entry: a stale entry is re-checked against
 * the rules of that direction, as Nebula re-checks with c.incoming.
 */
enum dp_flow_result dp_flow_lookup(struct dp_flow_table *t,
				   const struct dp_flow_key *k, uint32_t gen,
				   enum dp_flow_dir dir, uint32_t len,
				   uint64_t now_ns, enum dp_flow_dir *origin);

/*
 * The rules (generation @gen) allowed a packet of @k: creates the entry
 * (origin @dir), or refreshes a stale one to @gen (origin kept), and
 * counts the packet. A full bucket
 * gives up its expired or least recently seen entry.
 */
void dp_flow_admit(struct dp_flow_table *t, const struct dp_flow_key *k,
		   uint32_t gen, enum dp_flow_dir dir, uint32_t len,
		   uint64_t now_ns);

/*
 * Adds @packets and @bytes in direction @dir to @k's entry of generation
 * @gen and refreshes it: the packets after the first of a run of one
 * flow's packets in a burst, which the caller let through on the first
 * one's verdict (filter.c). Nothing when the entry is gone or was
 * re-admitted under other rules meanwhile: those packets were judged
 * already, only their counts are lost.
 */
void dp_flow_count(struct dp_flow_table *t, const struct dp_flow_key *k,
		   uint32_t gen, enum dp_flow_dir dir, uint64_t packets,
		   uint64_t bytes, uint64_t now_ns);

/* Removes @k's entry if it is there (a stale entry the new rules refuse). */
void dp_flow_remove(struct dp_flow_table *t, const struct dp_flow_key *k);

/*
 * Copies up to @max live entries into @out, starting at slot *@cursor
 * (bucket * DP_FLOW_WAYS + way; 0 starts a walk), and advances *@cursor
 * past the last slot looked at; returns how many were copied. A walk is
 * done when a call returns fewer than @max: *@cursor is then 0 again (and
 * only then). Each entry present for the whole walk is copied exactly
 * once, whatever @max. With @reset, each copied entry's packet and byte
 * counters are zeroed in the same critical section (extract-and-reset:
 * nothing counted is lost or counted twice). Expired entries met on the
 * way are freed. One caller at a time (the control thread).
 */
uint32_t dp_flow_extract(struct dp_flow_table *t, struct dp_flow_record *out,
			 uint32_t max, uint32_t *cursor, bool reset,
			 uint64_t now_ns);

void dp_flow_get_stats(const struct dp_flow_table *t, struct dp_flow_stats *s);

/*
 * The tuple of an IPv4 packet (@ip, @len bytes), oriented for @dir. Ports
 * are the first 4 bytes after the IP header for any protocol but ICMP; a
 * non-first fragment has none and sets fragment. False -- the caller drops
 * the packet, as 1.6.1 does -- when the header is not sane (version 4,
 * IHL at least 5 and within @len) or the ports should be there and are not.
 */
bool dp_flow_key_from_ipv4(const uint8_t *ip, uint32_t len,
			   enum dp_flow_dir dir, struct dp_flow_key *k);

#endif /* DP_FLOW_H */
