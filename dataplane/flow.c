/* SPDX-License-Identifier: MIT */
/*
 * The flow table (flow.h).
 *
 * A bucket is five cache lines. The first holds the bucket's lock and, for
 * each of its DP_FLOW_WAYS slots, what a lookup or a choice of victim needs
 * without touching the entries: 32 bits of the key's hash (0: free slot),
 * the protocol (for its timeout) and last_ns. Each entry then has a line of
 * its own: key, generation, first_ns and the four counters. A hit reads the
 * head line and writes one entry line; a miss in a bucket whose tags do
 * not match reads only the head. Slots never move: an entry stays in the
 * slot it was created in until it is freed, which is what lets the extract
 * cursor be a plain slot number.
 *
 * Locks: a test-and-test-and-set byte per bucket. Critical sections are a
 * few dozen instructions and never call out, so spinning is bounded by
 * them -- unless the holder is preempted, which costs the spinner the
 * rest of a time slice. Workers are pinned and the one non-worker user
 * (extract) holds a lock for at most DP_FLOW_WAYS records, so we accept
 * that rather than pay for a sleeping lock on every packet.
 *
 * Hash: the key as two 64-bit words, each xored with a secret word, and
 * multiplied into 128 bits, folded (high ^ low) -- wyhash's mum -- then
 * once more with a third and fourth secret. Without the seed a peer cannot
 * tell which keys share a bucket; the seed comes from getrandom(2) and is
 * per table.
 *
 * Counters of the whole table (created, evicted, expired, removed) are
 * striped over a few cache lines by bucket, so workers creating flows at
 * a high rate on different buckets do not bounce one line.
 */
#include "flow.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "wire.h"

enum {
	STRIPES = 16, /* stats stripes, a power of two */
	PROTO_ICMP = 1,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
};

struct entry {
	struct dp_flow_key key;
	uint32_t gen;
	uint8_t origin; /* enum dp_flow_dir of the creating packet */
	uint8_t reserved[3];
	uint64_t first_ns;
	uint64_t in_packets, in_bytes;
	uint64_t out_packets, out_bytes;
};

_Static_assert(sizeof(struct entry) == 64, "one cache line an entry");

/* Everything but the lock is read and written under the lock only. */
struct bucket {
	_Atomic uint8_t lock;
	uint8_t proto[DP_FLOW_WAYS];
	uint32_t tag[DP_FLOW_WAYS]; /* hash bits, never 0; 0: free */
	uint64_t last_ns[DP_FLOW_WAYS];
	_Alignas(64) struct entry e[DP_FLOW_WAYS];
};

_Static_assert(sizeof(struct bucket) == 64 * (1 + DP_FLOW_WAYS),
	       "a head line and a line per entry");

struct stripe {
	_Alignas(64) _Atomic uint64_t created;
	_Atomic uint64_t evicted, expired, removed;
};

struct dp_flow_table {
	struct bucket *buckets;
	uint32_t mask; /* buckets - 1 */
	/* Set by the control thread on a rule reload, read by every worker. */
	_Atomic uint64_t to_tcp, to_udp, to_default;
	uint64_t seed[4];

	/*
	 * Walk state, written by dp_flow_extract only (one control thread):
	 * stats.entries is the number of live entries copied by the last
	 * walk that went from slot 0 to the end without a jump. Not exact
	 * at any moment -- entries expire by the clock alone -- but a
	 * number a walk actually saw.
	 */
	uint32_t walk_next;
	bool walk_whole;
	uint64_t walk_live;
	_Atomic uint64_t entries;

	struct stripe stripes[STRIPES];
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static inline void lock(struct bucket *b)
{
	while (atomic_exchange_explicit(&b->lock, 1, memory_order_acquire))
		while (atomic_load_explicit(&b->lock, memory_order_relaxed))
			cpu_relax();
}

static inline void unlock(struct bucket *b)
{
	atomic_store_explicit(&b->lock, 0, memory_order_release);
}

static inline uint64_t mum(uint64_t a, uint64_t b)
{
	__extension__ unsigned __int128 p = (unsigned __int128)a * b;

	return (uint64_t)p ^ (uint64_t)(p >> 64);
}

static inline uint64_t hash(const struct dp_flow_table *t,
			    const struct dp_flow_key *k)
{
	uint64_t w[2];

	memcpy(w, k, sizeof(w));
	return mum(mum(w[0] ^ t->seed[0], w[1] ^ t->seed[1]) ^ t->seed[2],
		   t->seed[3]);
}

/* Low bits pick the bucket, high bits are the tag: independent enough. */
static inline uint32_t tag_of(uint64_t h)
{
	return (uint32_t)(h >> 32) | 1;
}

static inline struct stripe *stripe_of(struct dp_flow_table *t, uint32_t bi)
{
	return &t->stripes[bi & (STRIPES - 1)];
}

static inline void add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t timeout(const struct dp_flow_table *t, uint8_t proto)
{
	if (proto == PROTO_TCP)
		return atomic_load_explicit(&t->to_tcp, memory_order_relaxed);
	if (proto == PROTO_UDP)
		return atomic_load_explicit(&t->to_udp, memory_order_relaxed);
	return atomic_load_explicit(&t->to_default, memory_order_relaxed);
}

/*
 * Workers read the clock at different moments, so @now may be a little
 * behind an entry's last_ns: that is idle 0, not a wrap.
 */
static inline uint64_t idle(const struct bucket *b, unsigned int i,
			    uint64_t now)
{
	return now > b->last_ns[i] ? now - b->last_ns[i] : 0;
}

static inline bool expired(const struct dp_flow_table *t,
			   const struct bucket *b, unsigned int i, uint64_t now)
{
	return idle(b, i, now) > timeout(t, b->proto[i]);
}

static inline bool key_eq(const struct dp_flow_key *a,
			  const struct dp_flow_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static inline int find(const struct bucket *b, uint32_t tag,
		       const struct dp_flow_key *k)
{
	for (unsigned int i = 0; i < DP_FLOW_WAYS; i++)
		if (b->tag[i] == tag && key_eq(&b->e[i].key, k))
			return (int)i;
	return -1;
}

static inline void count(struct entry *e, enum dp_flow_dir dir, uint32_t len)
{
	if (dir == DP_FLOW_IN) {
		e->in_packets++;
		e->in_bytes += len;
	} else {
		e->out_packets++;
		e->out_bytes += len;
	}
}

static inline void touch(struct bucket *b, unsigned int i, uint64_t now)
{
	if (now > b->last_ns[i])
		b->last_ns[i] = now;
}

struct dp_flow_table *dp_flow_table_new(uint32_t max,
					const struct dp_flow_timeouts *to)
{
	uint32_t n_buckets = DP_FLOW_MIN / DP_FLOW_WAYS;
	struct dp_flow_table *t;
	size_t size;

	if (max > DP_FLOW_MAX)
		return NULL;
	while ((uint64_t)n_buckets * DP_FLOW_WAYS < max)
		n_buckets <<= 1;

	t = aligned_alloc(64, (sizeof(*t) + 63) / 64 * 64);
	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	if (getrandom(t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		goto err_free_table;
	size = (size_t)n_buckets * sizeof(struct bucket);
	t->buckets = aligned_alloc(64, size);
	if (!t->buckets)
		goto err_free_table;
	/* All unlocked and free; and every page faulted in now, not later. */
	memset(t->buckets, 0, size);
	t->mask = n_buckets - 1;
	dp_flow_set_timeouts(t, to);
	return t;

err_free_table:
	free(t);
	return NULL;
}

void dp_flow_table_free(struct dp_flow_table *t)
{
	if (!t)
		return;
	free(t->buckets);
	free(t);
}

uint32_t dp_flow_capacity(const struct dp_flow_table *t)
{
	return (t->mask + 1) * DP_FLOW_WAYS;
}

enum dp_flow_result dp_flow_lookup(struct dp_flow_table *t,
				   const struct dp_flow_key *k, uint32_t gen,
				   enum dp_flow_dir dir, uint32_t len,
				   uint64_t now_ns, enum dp_flow_dir *origin)
{
	uint64_t h = hash(t, k);
	struct bucket *b = &t->buckets[h & t->mask];
	enum dp_flow_result r = DP_FLOW_MISS;
	int i;

	lock(b);
	i = find(b, tag_of(h), k);
	if (i >= 0 && !expired(t, b, (unsigned int)i, now_ns)) {
		if (origin)
			*origin = (enum dp_flow_dir)b->e[i].origin;
		/*
		 * Any other generation is stale, not only a smaller one: a
		 * control plane that restarts its count must not make old
		 * entries look newer than the rules.
		 */
		if (b->e[i].gen != gen) {
			r = DP_FLOW_STALE;
		} else {
			count(&b->e[i], dir, len);
			touch(b, (unsigned int)i, now_ns);
			r = DP_FLOW_HIT;
		}
	}
	unlock(b);
	return r;
}

/* The slot for a new entry: a free one, an expired one, or the LRU one. */
static unsigned int take_slot(const struct dp_flow_table *t,
			      const struct bucket *b, uint64_t now,
			      bool *was_expired, bool *was_evicted)
{
	unsigned int lru = 0;
	int dead = -1;

	for (unsigned int i = 0; i < DP_FLOW_WAYS; i++) {
		if (!b->tag[i])
			return i;
		if (dead < 0 && expired(t, b, i, now))
			dead = (int)i;
		if (b->last_ns[i] < b->last_ns[lru])
			lru = i;
	}
	if (dead >= 0) {
		*was_expired = true;
		return (unsigned int)dead;
	}
	*was_evicted = true;
	return lru;
}

void dp_flow_admit(struct dp_flow_table *t, const struct dp_flow_key *k,
		   uint32_t gen, enum dp_flow_dir dir, uint32_t len,
		   uint64_t now_ns)
{
	uint64_t h = hash(t, k);
	uint32_t bi = (uint32_t)h & t->mask;
	struct bucket *b = &t->buckets[bi];
	bool created = false, was_expired = false, was_evicted = false;
	struct stripe *s;
	unsigned int i;
	int found;

	lock(b);
	found = find(b, tag_of(h), k);
	if (found >= 0 && !expired(t, b, (unsigned int)found, now_ns)) {
		/* Live: another worker admitted it first, or it was stale. */
		i = (unsigned int)found;
		b->e[i].gen = gen;
	} else {
		if (found >= 0) {
			/* This flow's own entry timed out: a new connection. */
			i = (unsigned int)found;
			was_expired = true;
		} else {
			i = take_slot(t, b, now_ns, &was_expired, &was_evicted);
		}
		b->tag[i] = tag_of(h);
		b->proto[i] = k->proto;
		b->last_ns[i] = now_ns;
		b->e[i] = (struct entry){ .key = *k,
					  .gen = gen,
					  .origin = (uint8_t)dir,
					  .first_ns = now_ns };
		created = true;
	}
	count(&b->e[i], dir, len);
	touch(b, i, now_ns);
	unlock(b);

	if (!created)
		return;
	s = stripe_of(t, bi);
	add(&s->created, 1);
	if (was_expired)
		add(&s->expired, 1);
	if (was_evicted)
		add(&s->evicted, 1);
}

void dp_flow_remove(struct dp_flow_table *t, const struct dp_flow_key *k)
{
	uint64_t h = hash(t, k);
	uint32_t bi = (uint32_t)h & t->mask;
	struct bucket *b = &t->buckets[bi];
	int i;

	lock(b);
	i = find(b, tag_of(h), k);
	if (i >= 0)
		b->tag[i] = 0;
	unlock(b);
	if (i >= 0)
		add(&stripe_of(t, bi)->removed, 1);
}

static void copy_out(const struct dp_flow_table *t, struct bucket *b,
		     unsigned int i, struct dp_flow_record *r, bool reset,
		     uint64_t now)
{
	struct entry *e = &b->e[i];
	uint64_t idle_ns = idle(b, i, now);

	*r = (struct dp_flow_record){
		.key = e->key,
		.gen = e->gen,
		.in_packets = e->in_packets,
		.in_bytes = e->in_bytes,
		.out_packets = e->out_packets,
		.out_bytes = e->out_bytes,
		.first_ns = e->first_ns,
		.last_ns = b->last_ns[i],
		.idle_ns = idle_ns,
		/* Live, so idle_ns is at most the timeout. */
		.expires_ns = timeout(t, b->proto[i]) - idle_ns,
	};
	if (reset) {
		e->in_packets = e->in_bytes = 0;
		e->out_packets = e->out_bytes = 0;
	}
}

/*
 * Looks at slots from *cursor until @max records are out or the table
 * ends, one lock per bucket it enters. The cursor is a slot number, so a
 * call may stop inside a bucket and the next one goes on from there: no
 * entry is copied twice in a walk (slots do not move), and a @max below
 * DP_FLOW_WAYS still makes progress.
 */
uint32_t dp_flow_extract(struct dp_flow_table *t, struct dp_flow_record *out,
			 uint32_t max, uint32_t *cursor, bool reset,
			 uint64_t now_ns)
{
	uint32_t n_slots = dp_flow_capacity(t);
	uint32_t pos = *cursor, n = 0;

	if (!max)
		return 0;
	if (pos == 0) {
		t->walk_live = 0;
		t->walk_whole = true;
	} else if (pos != t->walk_next) {
		t->walk_whole = false;
	}
	while (n < max && pos < n_slots) {
		uint32_t bi = pos / DP_FLOW_WAYS;
		struct bucket *b = &t->buckets[bi];
		uint64_t freed = 0;

		lock(b);
		do {
			unsigned int i = pos % DP_FLOW_WAYS;

			pos++;
			if (!b->tag[i])
				continue;
			if (expired(t, b, i, now_ns)) {
				b->tag[i] = 0;
				freed++;
				continue;
			}
			copy_out(t, b, i, &out[n++], reset, now_ns);
		} while (n < max && pos % DP_FLOW_WAYS);
		unlock(b);
		if (freed)
			add(&stripe_of(t, bi)->expired, freed);
	}
	t->walk_live += n;
	/*
	 * Fewer than @max: the walk is over. Exactly @max at the very end
	 * leaves the cursor at n_slots, and the next call returns 0: the
	 * caller's loop never has to guess.
	 */
	if (n < max) {
		if (t->walk_whole)
			atomic_store_explicit(&t->entries, t->walk_live,
					      memory_order_relaxed);
		pos = 0;
	}
	t->walk_next = pos;
	*cursor = pos;
	return n;
}

void dp_flow_get_stats(const struct dp_flow_table *t, struct dp_flow_stats *s)
{
	*s = (struct dp_flow_stats){
		.entries =
			atomic_load_explicit(&t->entries, memory_order_relaxed),
	};
	for (unsigned int i = 0; i < STRIPES; i++) {
		const struct stripe *p = &t->stripes[i];

		s->created +=
			atomic_load_explicit(&p->created, memory_order_relaxed);
		s->evicted +=
			atomic_load_explicit(&p->evicted, memory_order_relaxed);
		s->expired +=
			atomic_load_explicit(&p->expired, memory_order_relaxed);
		s->removed +=
			atomic_load_explicit(&p->removed, memory_order_relaxed);
	}
}

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Nebula 1.6.1 newPacket, checks in its order. */
bool dp_flow_key_from_ipv4(const uint8_t *ip, uint32_t len,
			   enum dp_flow_dir dir, struct dp_flow_key *k)
{
	uint16_t src_port = 0, dst_port = 0;
	uint32_t ihl, src, dst;
	bool fragment;

	if (len < 20 || ip[0] >> 4 != 4)
		return false;
	ihl = (ip[0] & 0x0f) * 4u;
	if (ihl < 20 || ihl > len)
		return false;
	/* A fragment offset, not the MF flag: first fragments have ports. */
	fragment = (get_be16(ip + 6) & 0x1fff) != 0;
	if (!fragment && ip[9] != PROTO_ICMP) {
		if (len - ihl < 4)
			return false;
		src_port = get_be16(ip + ihl);
		dst_port = get_be16(ip + ihl + 2);
	}
	src = wire_get_be32(ip + 12);
	dst = wire_get_be32(ip + 16);
	*k = (struct dp_flow_key){ .proto = ip[9], .fragment = fragment };
	if (dir == DP_FLOW_IN) {
		k->local_ip = dst;
		k->remote_ip = src;
		k->local_port = dst_port;
		k->remote_port = src_port;
	} else {
		k->local_ip = src;
		k->remote_ip = dst;
		k->local_port = src_port;
		k->remote_port = dst_port;
	}
	return true;
}

void dp_flow_set_timeouts(struct dp_flow_table *t,
			  const struct dp_flow_timeouts *to)
{
	atomic_store_explicit(&t->to_tcp, to->tcp_ns, memory_order_relaxed);
	atomic_store_explicit(&t->to_udp, to->udp_ns, memory_order_relaxed);
	atomic_store_explicit(&t->to_default, to->default_ns,
			      memory_order_relaxed);
}

void dp_flow_count(struct dp_flow_table *t, const struct dp_flow_key *k,
		   uint32_t gen, enum dp_flow_dir dir, uint64_t packets,
		   uint64_t bytes, uint64_t now_ns)
{
	uint64_t h = hash(t, k);
	struct bucket *b = &t->buckets[h & t->mask];
	int i;

	lock(b);
	i = find(b, tag_of(h), k);
	/* Gone (evicted, removed) or re-admitted since: not ours to count. */
	if (i >= 0 && b->e[i].gen == gen) {
		struct entry *e = &b->e[i];

		if (dir == DP_FLOW_IN) {
			e->in_packets += packets;
			e->in_bytes += bytes;
		} else {
			e->out_packets += packets;
			e->out_bytes += bytes;
		}
		touch(b, (unsigned int)i, now_ns);
	}
	unlock(b);
}
