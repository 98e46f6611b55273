/* SPDX-License-Identifier: MIT */
/*
 * The flow table (dataplane/flow.h): tuples from IPv4 headers, table-driven
 * in both directions; the lookup/admit lifecycle with its counters;
 * expiry by protocol on a hand-driven clock; eviction of the least
 * recently seen entry, in a bucket found through the extract cursor (a
 * slot number, so the test needs no hook to see where keys land);
 * generations; walks with small @max; and extract-and-reset racing two
 * counting threads, which must lose and double nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "flow.h"

/* Short timeouts for the clock tests, distinct per class. */
static const struct dp_flow_timeouts short_to = {
	.tcp_ns = 1000,
	.udp_ns = 500,
	.default_ns = 200,
};

/* Nothing expires while a test runs its clock from 0 to a few million. */
static const struct dp_flow_timeouts long_to = {
	.tcp_ns = UINT64_C(1) << 50,
	.udp_ns = UINT64_C(1) << 50,
	.default_ns = UINT64_C(1) << 50,
};

#define LOCAL_IP 0x0a000001u
#define REMOTE_BASE 0x0a100000u

/* Distinct keys by number: the number is in the remote address and port. */
static struct dp_flow_key key_n(uint32_t n, uint8_t proto)
{
	return (struct dp_flow_key){
		.local_ip = LOCAL_IP,
		.remote_ip = REMOTE_BASE + (n >> 16),
		.local_port = 443,
		.remote_port = (uint16_t)n,
		.proto = proto,
	};
}

static uint32_t n_of(const struct dp_flow_key *k)
{
	return (k->remote_ip - REMOTE_BASE) << 16 | k->remote_port;
}

static struct dp_flow_stats stats(const struct dp_flow_table *t)
{
	struct dp_flow_stats s;

	dp_flow_get_stats(t, &s);
	return s;
}

/* A whole walk into @out (room for @room); returns the number copied. */
static uint32_t walk(struct dp_flow_table *t, struct dp_flow_record *out,
		     uint32_t room, uint32_t max, bool reset, uint64_t now)
{
	uint32_t cursor = 0, total = 0, n;

	do {
		assert_true(total + max <= room);
		n = dp_flow_extract(t, out + total, max, &cursor, reset, now);
		total += n;
	} while (n == max);
	assert_int_equal(cursor, 0);
	return total;
}

/* The one record of @k, via a walk; false when it is not there. */
static bool record_of(struct dp_flow_table *t, const struct dp_flow_key *k,
		      uint64_t now, struct dp_flow_record *r)
{
	static struct dp_flow_record recs[64];
	uint32_t n = walk(t, recs, 64, 64, false, now);

	for (uint32_t i = 0; i < n; i++) {
		if (!memcmp(&recs[i].key, k, sizeof(*k))) {
			*r = recs[i];
			return true;
		}
	}
	return false;
}

/*
 * Key extraction. Each packet: 10.1.2.3:0x1234 -> 10.4.5.6:80, header as
 * given by the row, ports right after the header, cut to @len bytes and
 * copied to a buffer of exactly @len so that ASan sees any read past it.
 */
struct key_case {
	const char *name;
	uint8_t ver_ihl;
	uint8_t proto;
	uint16_t flags_frag;
	uint32_t len;
	bool ok;
	bool ports;
	uint8_t fragment;
};

#define SRC 0x0a010203u
#define DST 0x0a040506u
#define SPORT 0x1234
#define DPORT 80

static const struct key_case key_cases[] = {
	{ "tcp, ports only", 0x45, 6, 0, 24, true, true, 0 },
	{ "tcp, full header", 0x45, 6, 0, 40, true, true, 0 },
	{ "udp", 0x45, 17, 0, 28, true, true, 0 },
	{ "tcp, DF", 0x45, 6, 0x4000, 24, true, true, 0 },
	{ "gre has ports too", 0x45, 47, 0, 24, true, true, 0 },
	{ "icmp, header only", 0x45, 1, 0, 20, true, false, 0 },
	{ "icmp echo, id not a port", 0x45, 1, 0, 28, true, false, 0 },
	{ "first fragment (MF)", 0x45, 6, 0x2000, 24, true, true, 0 },
	{ "first fragment, short", 0x45, 17, 0x2000, 22, false, false, 0 },
	{ "non-first fragment", 0x45, 6, 0x00b9, 20, true, false, 1 },
	{ "non-first fragment, MF", 0x45, 17, 0x20b9, 28, true, false, 1 },
	{ "non-first icmp fragment", 0x45, 1, 0x0001, 20, true, false, 1 },
	{ "options, ports after", 0x46, 6, 0, 28, true, true, 0 },
	{ "options, no ports", 0x46, 6, 0, 24, false, false, 0 },
	{ "60-byte header", 0x4f, 17, 0, 64, true, true, 0 },
	{ "short: 19 bytes", 0x45, 1, 0, 19, false, false, 0 },
	{ "short: 1 byte", 0x45, 6, 0, 1, false, false, 0 },
	{ "short: tcp 23", 0x45, 6, 0, 23, false, false, 0 },
	{ "short: udp 21", 0x45, 17, 0, 21, false, false, 0 },
	{ "bad IHL 4", 0x44, 6, 0, 24, false, false, 0 },
	{ "bad IHL 0", 0x40, 1, 0, 24, false, false, 0 },
	{ "IHL past the packet", 0x4f, 6, 0, 40, false, false, 0 },
	{ "IHL past the packet, icmp", 0x46, 1, 0, 20, false, false, 0 },
	{ "IHL past, fragment", 0x46, 6, 0x0010, 20, false, false, 0 },
	{ "version 6", 0x65, 6, 0, 40, false, false, 0 },
	{ "version 5", 0x55, 6, 0, 40, false, false, 0 },
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void build(uint8_t *p, const struct key_case *c)
{
	uint32_t ihl = (c->ver_ihl & 0x0f) * 4u;

	memset(p, 0x01, 64); /* NOP options; junk elsewhere */
	if (ihl < 20)
		ihl = 20;
	p[0] = c->ver_ihl;
	p[1] = 0;
	p[2] = 0;
	p[3] = 64;
	p[6] = (uint8_t)(c->flags_frag >> 8);
	p[7] = (uint8_t)c->flags_frag;
	p[8] = 64;
	p[9] = c->proto;
	put32(p + 12, SRC);
	put32(p + 16, DST);
	p[ihl] = SPORT >> 8;
	p[ihl + 1] = SPORT & 0xff;
	p[ihl + 2] = 0;
	p[ihl + 3] = DPORT;
}

static void test_flow_key_from_ipv4(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
		const struct key_case *c = &key_cases[i];
		uint8_t full[64];
		uint8_t *p;

		build(full, c);
		p = malloc(c->len);
		assert_non_null(p);
		memcpy(p, full, c->len);
		for (int dir = DP_FLOW_IN; dir <= DP_FLOW_OUT; dir++) {
			struct dp_flow_key k, want;
			bool ok;
			bool in = dir == DP_FLOW_IN;

			memset(&k, 0xa5, sizeof(k));
			ok = dp_flow_key_from_ipv4(p, c->len,
						   (enum dp_flow_dir)dir, &k);
			if (ok != c->ok)
				fail_msg("%s, %s: got %d, want %d", c->name,
					 in ? "in" : "out", ok, c->ok);
			if (!ok)
				continue;
			want = (struct dp_flow_key){
				.local_ip = in ? DST : SRC,
				.remote_ip = in ? SRC : DST,
				.local_port = c->ports ? (in ? DPORT : SPORT) :
							 0,
				.remote_port = c->ports ? (in ? SPORT : DPORT) :
							  0,
				.proto = c->proto,
				.fragment = c->fragment,
			};
			if (memcmp(&k, &want, sizeof(k)))
				fail_msg(
					"%s, %s: key %08x:%u %08x:%u p%u f%u pad %u",
					c->name, in ? "in" : "out", k.local_ip,
					k.local_port, k.remote_ip,
					k.remote_port, k.proto, k.fragment,
					k.pad);
		}
		free(p);
	}
}

static void test_flow_capacity(void **state)
{
	static const uint32_t rows[][2] = {
		{ 0, 1024 },	  { 1, 1024 },	  { 1024, 1024 },
		{ 1025, 2048 },	  { 4096, 4096 }, { 5000, 8192 },
		{ 65535, 65536 },
	};
	struct dp_flow_table *t;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t = dp_flow_table_new(rows[i][0], &short_to);
		assert_non_null(t);
		assert_int_equal(dp_flow_capacity(t), rows[i][1]);
		dp_flow_table_free(t);
	}
	assert_null(dp_flow_table_new(DP_FLOW_MAX + 1, &short_to));
	assert_null(dp_flow_table_new(UINT32_MAX, &short_to));
	dp_flow_table_free(NULL);
}

static void test_flow_miss_admit_hit(void **state)
{
	struct dp_flow_table *t = dp_flow_table_new(0, &short_to);
	struct dp_flow_key k = key_n(1, 6), other = key_n(2, 6);
	struct dp_flow_record r;

	(void)state;
	assert_non_null(t);
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_IN, 100, 10, NULL),
			 DP_FLOW_MISS);
	assert_int_equal(stats(t).created, 0);
	assert_false(record_of(t, &k, 10, &r));

	dp_flow_admit(t, &k, 1, DP_FLOW_IN, 100, 10);
	assert_int_equal(stats(t).created, 1);
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_OUT, 50, 20, NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_IN, 10, 30, NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &other, 1, DP_FLOW_IN, 10, 30, NULL),
			 DP_FLOW_MISS);

	assert_true(record_of(t, &k, 130, &r));
	assert_int_equal(r.gen, 1);
	assert_int_equal(r.in_packets, 2);
	assert_int_equal(r.in_bytes, 110);
	assert_int_equal(r.out_packets, 1);
	assert_int_equal(r.out_bytes, 50);
	assert_int_equal(r.first_ns, 10);
	assert_int_equal(r.last_ns, 30);
	assert_int_equal(r.idle_ns, 100);
	assert_int_equal(r.expires_ns, 1000 - 100);

	/* A second admit of a live entry counts, creates nothing. */
	dp_flow_admit(t, &k, 1, DP_FLOW_OUT, 7, 40);
	assert_int_equal(stats(t).created, 1);
	assert_true(record_of(t, &k, 40, &r));
	assert_int_equal(r.out_packets, 2);
	assert_int_equal(r.out_bytes, 57);
	assert_int_equal(stats(t).entries, 1);
	dp_flow_table_free(t);
}

/*
 * A lookup with a generation the entry does not have is STALE when the
 * entry lives and MISS when it has expired, and changes nothing: a probe
 * that does not move the clock of the entry.
 */
static enum dp_flow_result probe(struct dp_flow_table *t, uint32_t n,
				 uint8_t proto, uint64_t now)
{
	struct dp_flow_key k = key_n(n, proto);

	return dp_flow_lookup(t, &k, 99, DP_FLOW_IN, 1, now, NULL);
}

static void test_flow_expiry_by_proto(void **state)
{
	static const struct {
		uint64_t dt;
		bool tcp, udp, icmp, gre;
	} rows[] = {
		{ 0, true, true, true, true },
		{ 200, true, true, true, true }, /* == timeout: live */
		{ 201, true, true, false, false }, /* default is 200 */
		{ 500, true, true, false, false },
		{ 501, true, false, false, false }, /* udp is 500 */
		{ 1000, true, false, false, false },
		{ 1001, false, false, false, false }, /* tcp is 1000 */
	};
	const uint64_t t0 = 5000;
	struct dp_flow_table *t = dp_flow_table_new(0, &short_to);
	struct dp_flow_record r;

	(void)state;
	assert_non_null(t);
	for (uint32_t i = 0; i < 4; i++) {
		static const uint8_t protos[] = { 6, 17, 1, 47 };
		struct dp_flow_key k = key_n(i, protos[i]);

		dp_flow_admit(t, &k, 1, DP_FLOW_IN, 1, t0);
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t now = t0 + rows[i].dt;
		const bool want[4] = { rows[i].tcp, rows[i].udp, rows[i].icmp,
				       rows[i].gre };
		static const uint8_t protos[] = { 6, 17, 1, 47 };

		for (uint32_t j = 0; j < 4; j++) {
			enum dp_flow_result got = probe(t, j, protos[j], now);

			if (got != (want[j] ? DP_FLOW_STALE : DP_FLOW_MISS))
				fail_msg("+%llu proto %u: got %d",
					 (unsigned long long)rows[i].dt,
					 protos[j], got);
		}
	}
	/* The walk frees what it meets expired and counts it. */
	assert_int_equal(stats(t).expired, 0);
	assert_false(record_of(t, &(struct dp_flow_key){ 0 }, t0 + 1001, &r));
	assert_int_equal(stats(t).expired, 4);
	assert_int_equal(stats(t).entries, 0);
	/* Freed, not just skipped: admitting them again expires nothing. */
	for (uint32_t i = 0; i < 4; i++) {
		static const uint8_t protos[] = { 6, 17, 1, 47 };
		struct dp_flow_key k = key_n(i, protos[i]);

		dp_flow_admit(t, &k, 1, DP_FLOW_IN, 1, t0 + 2000);
	}
	assert_int_equal(stats(t).created, 8);
	assert_int_equal(stats(t).expired, 4);
	dp_flow_table_free(t);
}

static void test_flow_expiry_refresh_and_reuse(void **state)
{
	struct dp_flow_table *t = dp_flow_table_new(0, &short_to);
	struct dp_flow_key k = key_n(7, 17);
	struct dp_flow_record r;

	(void)state;
	assert_non_null(t);
	dp_flow_admit(t, &k, 1, DP_FLOW_OUT, 10, 1000);
	/* A hit at the last live moment restarts the timeout. */
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_IN, 20, 1500, NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_IN, 20, 2000, NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_IN, 20, 2501, NULL),
			 DP_FLOW_MISS);
	/* An older clock reading from another worker: idle 0, no wrap. */
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_IN, 20, 1900, NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_IN, 20, 3001, NULL),
			 DP_FLOW_MISS);

	/* The same flow admitted again: a new entry in the dead one's slot. */
	dp_flow_admit(t, &k, 2, DP_FLOW_IN, 30, 3001);
	assert_int_equal(stats(t).created, 2);
	assert_int_equal(stats(t).expired, 1);
	assert_true(record_of(t, &k, 3001, &r));
	assert_int_equal(r.first_ns, 3001);
	assert_int_equal(r.in_packets, 1);
	assert_int_equal(r.in_bytes, 30);
	assert_int_equal(r.out_packets, 0);
	assert_int_equal(r.gen, 2);
	dp_flow_table_free(t);
}

static void test_flow_generations(void **state)
{
	struct dp_flow_table *t = dp_flow_table_new(0, &short_to);
	struct dp_flow_key k = key_n(3, 6), absent = key_n(4, 6);
	struct dp_flow_record r;

	(void)state;
	assert_non_null(t);
	dp_flow_admit(t, &k, 1, DP_FLOW_IN, 100, 10);
	assert_int_equal(dp_flow_lookup(t, &k, 2, DP_FLOW_IN, 5, 20, NULL),
			 DP_FLOW_STALE);
	/* STALE changes nothing: no count, no refresh. */
	assert_true(record_of(t, &k, 20, &r));
	assert_int_equal(r.in_packets, 1);
	assert_int_equal(r.last_ns, 10);
	assert_int_equal(r.gen, 1);

	/* The new rules allow it: refreshed to gen 2, counted. */
	dp_flow_admit(t, &k, 2, DP_FLOW_OUT, 40, 30);
	assert_int_equal(stats(t).created, 1);
	assert_true(record_of(t, &k, 30, &r));
	assert_int_equal(r.gen, 2);
	assert_int_equal(r.first_ns, 10);
	assert_int_equal(r.last_ns, 30);
	assert_int_equal(r.out_packets, 1);
	assert_int_equal(r.out_bytes, 40);
	assert_int_equal(dp_flow_lookup(t, &k, 2, DP_FLOW_IN, 5, 40, NULL),
			 DP_FLOW_HIT);
	/* Any other generation, smaller too, is stale (a restarted count). */
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_IN, 5, 40, NULL),
			 DP_FLOW_STALE);
	assert_int_equal(dp_flow_lookup(t, &k, 0, DP_FLOW_IN, 5, 40, NULL),
			 DP_FLOW_STALE);

	/* Reported with the direction that created the entry. */
	{
		struct dp_flow_key o = key_n(5, 17);
		enum dp_flow_dir origin = DP_FLOW_IN;

		dp_flow_admit(t, &o, 2, DP_FLOW_OUT, 1, 40);
		assert_int_equal(dp_flow_lookup(t, &o, 3, DP_FLOW_IN, 1, 41,
						&origin),
				 DP_FLOW_STALE);
		assert_int_equal(origin, DP_FLOW_OUT);
		/* A refresh from the other direction keeps it. */
		dp_flow_admit(t, &o, 3, DP_FLOW_IN, 1, 42);
		origin = DP_FLOW_IN;
		assert_int_equal(dp_flow_lookup(t, &o, 3, DP_FLOW_IN, 1, 43,
						&origin),
				 DP_FLOW_HIT);
		assert_int_equal(origin, DP_FLOW_OUT);
		assert_int_equal(dp_flow_lookup(t, &k, 3, DP_FLOW_IN, 1, 43,
						&origin),
				 DP_FLOW_STALE);
		assert_int_equal(origin, DP_FLOW_IN);
		dp_flow_remove(t, &o);
		assert_int_equal(stats(t).removed, 1);
	}

	/* The new rules refuse it. */
	dp_flow_remove(t, &absent);
	assert_int_equal(stats(t).removed, 1);
	dp_flow_remove(t, &k);
	assert_int_equal(stats(t).removed, 2);
	assert_int_equal(dp_flow_lookup(t, &k, 2, DP_FLOW_IN, 5, 50, NULL),
			 DP_FLOW_MISS);
	assert_false(record_of(t, &k, 50, &r));
	dp_flow_remove(t, &k);
	assert_int_equal(stats(t).removed, 2);
	dp_flow_table_free(t);
}

/*
 * The bucket of @k: alone in the table, the one record a walk with max 1
 * finds leaves the cursor one past its slot.
 */
static uint32_t bucket_of(struct dp_flow_table *t, const struct dp_flow_key *k)
{
	struct dp_flow_record r;
	uint32_t cursor = 0;

	dp_flow_admit(t, k, 1, DP_FLOW_IN, 1, 1);
	assert_int_equal(dp_flow_extract(t, &r, 1, &cursor, false, 1), 1);
	assert_memory_equal(&r.key, k, sizeof(*k));
	dp_flow_remove(t, k);
	return (cursor - 1) / DP_FLOW_WAYS;
}

/* Six keys of one bucket: four TCP (timeout 1000), two UDP (500). */
static void same_bucket(struct dp_flow_table *t, struct dp_flow_key *tcp,
			struct dp_flow_key *udp)
{
	enum { N = 4000 };
	static uint32_t bucket[N];
	uint32_t n_buckets = dp_flow_capacity(t) / DP_FLOW_WAYS;

	for (uint32_t i = 0; i < N; i++) {
		struct dp_flow_key k = key_n(i, i & 1 ? 17 : 6);
		uint32_t n_tcp = 0, n_udp = 0;

		bucket[i] = bucket_of(t, &k);
		assert_true(bucket[i] < n_buckets);
		for (uint32_t j = 0; j <= i; j++) {
			if (bucket[j] != bucket[i])
				continue;
			if (j & 1 && n_udp < 2)
				udp[n_udp++] = key_n(j, 17);
			else if (!(j & 1) && n_tcp < 4)
				tcp[n_tcp++] = key_n(j, 6);
		}
		if (n_tcp == 4 && n_udp == 2)
			return;
	}
	fail_msg("no bucket with 4 tcp and 2 udp keys in %d", N);
}

static void test_flow_evict_lru(void **state)
{
	struct dp_flow_table *t = dp_flow_table_new(0, &short_to);
	struct dp_flow_key tcp[4], udp[2];
	struct dp_flow_stats s0;

	(void)state;
	assert_non_null(t);
	same_bucket(t, tcp, udp);
	s0 = stats(t);

	for (uint32_t i = 0; i < 4; i++)
		dp_flow_admit(t, &tcp[i], 1, DP_FLOW_IN, 1, 1 + i);
	/* tcp[1] is now the least recently seen, not tcp[0] (first in). */
	assert_int_equal(dp_flow_lookup(t, &tcp[0], 1, DP_FLOW_IN, 1, 5, NULL),
			 DP_FLOW_HIT);
	dp_flow_admit(t, &udp[0], 1, DP_FLOW_IN, 1, 6);
	assert_int_equal(stats(t).evicted - s0.evicted, 1);
	assert_int_equal(dp_flow_lookup(t, &tcp[1], 1, DP_FLOW_IN, 1, 7, NULL),
			 DP_FLOW_MISS);
	assert_int_equal(dp_flow_lookup(t, &tcp[2], 1, DP_FLOW_IN, 1, 8, NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &tcp[3], 1, DP_FLOW_IN, 1, 9, NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &udp[0], 1, DP_FLOW_IN, 1, 10, NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &tcp[0], 1, DP_FLOW_IN, 1, 11, NULL),
			 DP_FLOW_HIT);

	/*
	 * At 600 udp[0] (seen at 10) has expired and tcp[2] (seen at 8) has
	 * not: the expired slot goes first, though tcp[2] is older.
	 */
	dp_flow_admit(t, &udp[1], 1, DP_FLOW_IN, 1, 600);
	assert_int_equal(stats(t).evicted - s0.evicted, 1);
	assert_int_equal(stats(t).expired - s0.expired, 1);
	assert_int_equal(dp_flow_lookup(t, &udp[0], 1, DP_FLOW_IN, 1, 601,
					NULL),
			 DP_FLOW_MISS);
	assert_int_equal(dp_flow_lookup(t, &tcp[2], 1, DP_FLOW_IN, 1, 601,
					NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &tcp[3], 1, DP_FLOW_IN, 1, 601,
					NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &tcp[0], 1, DP_FLOW_IN, 1, 601,
					NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_lookup(t, &udp[1], 1, DP_FLOW_IN, 1, 601,
					NULL),
			 DP_FLOW_HIT);
	dp_flow_table_free(t);
}

/*
 * Far past capacity: never more live entries than slots, every push-out
 * counted, and a flow seen all along (always the most recent in its
 * bucket) never pushed out.
 */
static void test_flow_evict_bulk(void **state)
{
	enum { N = 20000 };
	struct dp_flow_table *t = dp_flow_table_new(0, &long_to);
	struct dp_flow_key hot = key_n(N + 1, 6);
	struct dp_flow_record *recs;
	uint32_t cap, live = 0;
	struct dp_flow_stats s;

	(void)state;
	assert_non_null(t);
	cap = dp_flow_capacity(t);
	recs = malloc((cap + 97) * sizeof(*recs));
	assert_non_null(recs);
	dp_flow_admit(t, &hot, 1, DP_FLOW_IN, 1, 1);
	for (uint32_t i = 0; i < N; i++) {
		struct dp_flow_key k = key_n(i, 6);
		uint64_t now = 2 + i;

		dp_flow_admit(t, &k, 1, DP_FLOW_OUT, 1, now);
		assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_IN, 1, now,
						NULL),
				 DP_FLOW_HIT);
		if (dp_flow_lookup(t, &hot, 1, DP_FLOW_IN, 1, now, NULL) !=
		    DP_FLOW_HIT)
			fail_msg("hot flow evicted after %u admits", i + 1);
		if (i % 1000 == 999) {
			live = walk(t, recs, cap + 97, 97, false, now);
			assert_true(live <= cap);
			s = stats(t);
			assert_int_equal(s.entries, live);
			assert_int_equal(s.created, i + 2);
			assert_int_equal(s.created - s.evicted, live);
		}
	}
	s = stats(t);
	assert_int_equal(s.expired, 0);
	/* At 20 times the capacity, nearly every slot is in use. */
	assert_true(live > cap * 9 / 10);
	assert_true(s.evicted >= N + 1 - cap);
	free(recs);
	dp_flow_table_free(t);
}

/* Every entry once per walk, for @max below, at and above the ways. */
static void test_flow_extract_walk(void **state)
{
	enum { N = 1500 };
	static const uint32_t maxes[] = { 1, 3, 4, 7, 64, 5000 };
	struct dp_flow_table *t = dp_flow_table_new(4096, &long_to);
	struct dp_flow_record *recs = malloc((N + 5000) * sizeof(*recs));
	uint8_t *seen = malloc(N);
	struct dp_flow_stats s;
	uint32_t live;

	(void)state;
	assert_non_null(t);
	assert_non_null(recs);
	assert_non_null(seen);
	for (uint32_t i = 0; i < N; i++) {
		struct dp_flow_key k = key_n(i, 17);

		dp_flow_admit(t, &k, 1, DP_FLOW_IN, i, 100);
	}
	s = stats(t);
	live = (uint32_t)(s.created - s.evicted);
	assert_true(live > N - 50);

	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		uint32_t max = maxes[m], cursor = 0, total = 0, n;

		memset(seen, 0, N);
		do {
			assert_true(total <= N);
			n = dp_flow_extract(t, recs + total, max, &cursor,
					    false, 200);
			/* Only the last call comes back short, cursor 0. */
			assert_true(n == max || cursor == 0);
			assert_true(n < max || cursor != 0);
			total += n;
		} while (n == max);
		assert_int_equal(cursor, 0);
		assert_int_equal(total, live);
		for (uint32_t i = 0; i < total; i++) {
			uint32_t id = n_of(&recs[i].key);

			assert_true(id < N);
			if (seen[id]++)
				fail_msg("max %u: flow %u twice", max, id);
			assert_int_equal(recs[i].in_bytes, id);
		}
		assert_int_equal(stats(t).entries, live);
	}

	/* A call that fills @out to the last entry: the next one ends it. */
	{
		uint32_t cursor = 0;

		assert_int_equal(dp_flow_extract(t, recs, live, &cursor, false,
						 200),
				 live);
		assert_int_not_equal(cursor, 0);
		assert_int_equal(
			dp_flow_extract(t, recs, live, &cursor, false, 200), 0);
		assert_int_equal(cursor, 0);
	}
	/* A walk that did not start at 0 does not set the count of entries. */
	{
		uint32_t cursor = dp_flow_capacity(t) / 2, n, part = 0;

		do {
			n = dp_flow_extract(t, recs, 64, &cursor, false, 200);
			part += n;
		} while (n == 64);
		assert_true(part < live);
		assert_int_equal(stats(t).entries, live);
	}
	/* max 0 copies nothing and moves nothing. */
	{
		uint32_t cursor = 8;

		assert_int_equal(
			dp_flow_extract(t, recs, 0, &cursor, false, 200), 0);
		assert_int_equal(cursor, 8);
	}
	free(seen);
	free(recs);
	dp_flow_table_free(t);
}

static void test_flow_extract_reset(void **state)
{
	struct dp_flow_table *t = dp_flow_table_new(0, &short_to);
	struct dp_flow_key k = key_n(9, 6);
	struct dp_flow_record r;
	uint32_t cursor = 0;

	(void)state;
	assert_non_null(t);
	dp_flow_admit(t, &k, 1, DP_FLOW_IN, 100, 10);
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_OUT, 60, 20, NULL),
			 DP_FLOW_HIT);
	assert_int_equal(dp_flow_extract(t, &r, 1, &cursor, true, 50), 1);
	assert_int_equal(r.in_packets, 1);
	assert_int_equal(r.in_bytes, 100);
	assert_int_equal(r.out_packets, 1);
	assert_int_equal(r.out_bytes, 60);
	assert_int_equal(r.idle_ns, 30);
	assert_int_equal(r.expires_ns, 970);

	/* Zeroed, not removed: the flow and its times stay. */
	assert_true(record_of(t, &k, 50, &r));
	assert_int_equal(
		r.in_packets + r.in_bytes + r.out_packets + r.out_bytes, 0);
	assert_int_equal(r.first_ns, 10);
	assert_int_equal(r.last_ns, 20);
	assert_int_equal(dp_flow_lookup(t, &k, 1, DP_FLOW_IN, 5, 60, NULL),
			 DP_FLOW_HIT);
	assert_true(record_of(t, &k, 60, &r));
	assert_int_equal(r.in_packets, 1);
	assert_int_equal(r.in_bytes, 5);
	dp_flow_table_free(t);
}

/*
 * Extract-and-reset against two workers. Each counts what it sends through
 * the table (a HIT, or a MISS then an admit); the main thread drains the
 * counters with small resetting walks meanwhile. The sums must match to
 * the packet and the byte.
 */
enum { RACE_FLOWS = 64, RACE_ROUNDS = 20000 };

struct race {
	struct dp_flow_table *t;
	_Atomic unsigned int done;
};

struct race_worker {
	struct race *race;
	unsigned int id;
	uint64_t packets[2], bytes[2];
	uint64_t stale;
};

static void *race_worker(void *arg)
{
	struct race_worker *w = arg;
	struct dp_flow_table *t = w->race->t;

	for (uint32_t r = 0; r < RACE_ROUNDS; r++) {
		for (uint32_t f = 0; f < RACE_FLOWS; f++) {
			struct dp_flow_key k = key_n(f, f & 1 ? 17 : 6);
			enum dp_flow_dir dir =
				(r + f + w->id) & 1 ? DP_FLOW_IN : DP_FLOW_OUT;
			uint32_t len = 1 + (r * 7 + f * 13 + w->id) % 1500;
			uint64_t now = (uint64_t)r * RACE_FLOWS + f;

			switch (dp_flow_lookup(t, &k, 1, dir, len, now, NULL)) {
			case DP_FLOW_HIT:
				break;
			case DP_FLOW_MISS:
				dp_flow_admit(t, &k, 1, dir, len, now);
				break;
			case DP_FLOW_STALE:
				w->stale++;
				continue;
			}
			w->packets[dir]++;
			w->bytes[dir] += len;
		}
	}
	atomic_fetch_add(&w->race->done, 1);
	return NULL;
}

static void add_up(const struct dp_flow_record *recs, uint32_t n,
		   uint64_t *packets, uint64_t *bytes)
{
	for (uint32_t i = 0; i < n; i++) {
		packets[DP_FLOW_IN] += recs[i].in_packets;
		bytes[DP_FLOW_IN] += recs[i].in_bytes;
		packets[DP_FLOW_OUT] += recs[i].out_packets;
		bytes[DP_FLOW_OUT] += recs[i].out_bytes;
	}
}

static void test_flow_extract_reset_race(void **state)
{
	struct race race = { .t = dp_flow_table_new(1u << 16, &long_to) };
	struct race_worker w[2] = { { .race = &race, .id = 0 },
				    { .race = &race, .id = 1 } };
	uint64_t packets[2] = { 0 }, bytes[2] = { 0 };
	struct dp_flow_record recs[5];
	pthread_t th[2];

	(void)state;
	assert_non_null(race.t);
	for (int i = 0; i < 2; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, race_worker, &w[i]), 0);
	while (atomic_load(&race.done) < 2) {
		uint32_t cursor = 0, n;

		do {
			n = dp_flow_extract(race.t, recs, 5, &cursor, true, 0);
			add_up(recs, n, packets, bytes);
		} while (n == 5);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	/* What is left after the workers stopped. */
	{
		uint32_t cursor = 0, n;

		do {
			n = dp_flow_extract(race.t, recs, 5, &cursor, true, 0);
			add_up(recs, n, packets, bytes);
		} while (n == 5);
	}

	assert_int_equal(w[0].stale + w[1].stale, 0);
	assert_int_equal(stats(race.t).evicted, 0);
	assert_int_equal(stats(race.t).entries, RACE_FLOWS);
	for (int d = DP_FLOW_IN; d <= DP_FLOW_OUT; d++) {
		assert_int_equal(packets[d], w[0].packets[d] + w[1].packets[d]);
		assert_int_equal(bytes[d], w[0].bytes[d] + w[1].bytes[d]);
	}
	assert_int_equal(packets[0] + packets[1],
			 2ull * RACE_ROUNDS * RACE_FLOWS);
	dp_flow_table_free(race.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_key_from_ipv4),
		cmocka_unit_test(test_flow_capacity),
		cmocka_unit_test(test_flow_miss_admit_hit),
		cmocka_unit_test(test_flow_expiry_by_proto),
		cmocka_unit_test(test_flow_expiry_refresh_and_reuse),
		cmocka_unit_test(test_flow_generations),
		cmocka_unit_test(test_flow_evict_lru),
		cmocka_unit_test(test_flow_evict_bulk),
		cmocka_unit_test(test_flow_extract_walk),
		cmocka_unit_test(test_flow_extract_reset),
		cmocka_unit_test(test_flow_extract_reset_race),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
