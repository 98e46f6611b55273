/* SPDX-License-Identifier: MIT */
/*
 * xsk_wire: frames built for the TX ring are checked with the reference
 * checksum of ref_csum.h (not the module's own), parsed back, and then cut
 * and bent one field at a time: every truncation and every wrong field is
 * refused under the right layer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "ref_csum.h"
#include "xsk_wire.h"

enum { ROOM = 4096, SPORT = 4242, DPORT = 4243 };

static const uint8_t payload[] = "a Nebula datagram, or something like it";

static struct in6_addr addr(const char *s)
{
	struct in6_addr a;
	struct in_addr v4;

	if (inet_pton(AF_INET, s, &v4) == 1) {
		memset(&a, 0, sizeof(a));
		a.s6_addr[10] = a.s6_addr[11] = 0xff;
		memcpy(&a.s6_addr[12], &v4, 4);
		return a;
	}
	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static void entry(struct dp_nh_entry *e, bool v6, uint16_t vlan)
{
	static const uint8_t a[6] = { 2, 0, 0, 0, 0, 1 },
			     b[6] = { 2, 0, 0, 0, 0, 2 };

	memset(e, 0, sizeof(*e));
	e->src = addr(v6 ? "fd00::1" : "192.0.2.1");
	e->dst = addr(v6 ? "fd00::2" : "198.51.100.2");
	memcpy(e->src_mac, a, 6);
	memcpy(e->dst_mac, b, 6);
	e->vlan = vlan;
	e->mtu = 1500;
}

static uint32_t build(uint8_t *frame, bool v6, uint16_t vlan, uint32_t pay_len)
{
	struct dp_nh_entry e;
	struct dp_pkt pkt = { .data = (uint8_t *)payload, .len = pay_len };

	entry(&e, v6, vlan);
	pkt.addr.sin6_family = AF_INET6;
	pkt.addr.sin6_addr = e.dst;
	pkt.addr.sin6_port = htons(DPORT);
	return dp_xw_build(&e, &pkt, htons(SPORT), 7, frame, ROOM);
}

static void test_xsk_wire_build_parse_v4(void **state)
{
	uint8_t frame[ROOM];
	struct dp_pkt out;
	uint32_t len = build(frame, false, 0, sizeof(payload));
	uint8_t *ip = frame + 14;

	(void)state;
	assert_int_equal(len, 14 + 20 + 8 + sizeof(payload));
	assert_int_equal(rd16(frame + 12), 0x0800);
	assert_true(ref_ip4_ok(ip));
	assert_int_equal(rd16(ip + 2), 20 + 8 + sizeof(payload));
	assert_int_equal(rd16(ip + 6), 0); /* no DF, no fragment */
	assert_int_equal(rd16(ip + 20 + 6), 0); /* UDP checksum: none */
	assert_int_equal(dp_xw_parse(frame, len, htons(DPORT), &out), DP_XW_OK);
	assert_int_equal(out.len, sizeof(payload));
	assert_memory_equal(out.data, payload, sizeof(payload));
	assert_int_equal(ntohs(out.addr.sin6_port), SPORT);
	{
		struct in6_addr src = addr("192.0.2.1");

		assert_memory_equal(&out.addr.sin6_addr, &src, sizeof(src));
	}
	/* Another port is not ours. */
	assert_int_equal(dp_xw_parse(frame, len, htons(SPORT), &out),
			 DP_XW_BAD_L4);
}

static void test_xsk_wire_build_parse_v6(void **state)
{
	uint8_t frame[ROOM];
	struct dp_pkt out;
	uint32_t len;

	(void)state;
	/* Odd and even lengths: the checksum's last byte. */
	for (uint32_t n = 0; n <= sizeof(payload); n++) {
		len = build(frame, true, 0, n);
		assert_int_equal(len, 14 + 40 + 8 + n);
		assert_int_equal(rd16(frame + 12), 0x86dd);
		assert_true(ref_l4_ok(frame + 14, 40, IPPROTO_UDP, len - 14));
		assert_int_not_equal(rd16(frame + 14 + 40 + 6), 0);
		assert_int_equal(dp_xw_parse(frame, len, htons(DPORT), &out),
				 DP_XW_OK);
		assert_int_equal(out.len, n);
	}
}

static void test_xsk_wire_vlan(void **state)
{
	uint8_t frame[ROOM], two[ROOM + 4];
	struct dp_pkt out;
	uint32_t len = build(frame, false, 100, 20);

	(void)state;
	assert_int_equal(rd16(frame + 12), 0x8100);
	assert_int_equal(rd16(frame + 14), 100);
	assert_int_equal(dp_xw_parse(frame, len, htons(DPORT), &out), DP_XW_OK);
	assert_int_equal(out.len, 20);
	/* Two tags (802.1ad outside) parse; three do not. */
	memcpy(two, frame, 12);
	wr16(two + 12, 0x88a8);
	wr16(two + 14, 7);
	memcpy(two + 16, frame + 12, len - 12);
	assert_int_equal(dp_xw_parse(two, len + 4, htons(DPORT), &out),
			 DP_XW_OK);
	memcpy(frame, two, 12);
	wr16(frame + 12, 0x8100);
	wr16(frame + 14, 9);
	memcpy(frame + 16, two + 12, len + 4 - 12);
	assert_int_equal(dp_xw_parse(frame, len + 8, htons(DPORT), &out),
			 DP_XW_BAD_L2);
}

/* Every prefix of a good frame is refused, without reading past it. */
static void test_xsk_wire_truncated(void **state)
{
	uint8_t frame[ROOM];
	struct dp_pkt out;

	(void)state;
	for (int v6 = 0; v6 < 2; v6++) {
		uint32_t len = build(frame, v6, v6 ? 0 : 3, 30);

		for (uint32_t n = 0; n < len; n++) {
			uint8_t *copy =
				malloc(n ? n : 1); /* ASan: exact size */

			memcpy(copy, frame, n);
			assert_int_not_equal(dp_xw_parse(copy, n, htons(DPORT),
							 &out),
					     DP_XW_OK);
			free(copy);
		}
	}
}

/* Ethernet padding after the IP packet is allowed. */
static void test_xsk_wire_padding(void **state)
{
	uint8_t frame[ROOM];
	struct dp_pkt out;
	uint32_t len = build(frame, false, 0, 2);

	(void)state;
	memset(frame + len, 0xee, 10);
	assert_int_equal(dp_xw_parse(frame, len + 10, htons(DPORT), &out),
			 DP_XW_OK);
	assert_int_equal(out.len, 2);
}

struct bend {
	bool v6;
	uint32_t off; /* from the frame's start */
	uint16_t val;
	enum dp_xw_result want;
};

static void test_xsk_wire_bent_fields(void **state)
{
	static const struct bend cases[] = {
		{ false, 12, 0x0806, DP_XW_BAD_L2 }, /* ARP */
		{ false, 14, 0x4400, DP_XW_BAD_L3 }, /* IHL 4 */
		{ false, 14, 0x6500, DP_XW_BAD_L3 }, /* version 6 in v4 */
		{ false, 16, 19, DP_XW_BAD_L3 }, /* total < IHL */
		{ false, 16, 2000, DP_XW_BAD_L3 }, /* total > frame */
		{ false, 20, 0x2000, DP_XW_BAD_L3 }, /* MF: a first fragment */
		{ false, 20, 0x0001, DP_XW_BAD_L3 }, /* offset: a later one */
		{ false, 22, 0x4006, DP_XW_BAD_L3 }, /* TCP */
		{ false, 38, 7, DP_XW_BAD_L4 }, /* UDP length < 8 */
		{ false, 38, 200, DP_XW_BAD_L4 }, /* UDP length > IP */
		{ false, 36, 1, DP_XW_BAD_L4 }, /* another port */
		{ true, 18, 2000, DP_XW_BAD_L3 }, /* payload > frame */
		{ true, 20, 0x0040, DP_XW_BAD_L3 }, /* hop-by-hop header */
		{ true, 14 + 40 + 6, 0, DP_XW_BAD_L4 }, /* no UDP checksum */
		{ true, 18, 4, DP_XW_BAD_L4 }, /* payload < UDP header */
	};
	uint8_t frame[ROOM];
	struct dp_pkt out;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bend *c = &cases[i];
		uint32_t len = build(frame, c->v6, 0, 30);

		wr16(frame + c->off, c->val);
		if (!c->v6 && c->off >= 14 && c->off < 34)
			ref_ip4_fix(frame +
				    14); /* the checksum is not the point */
		if (dp_xw_parse(frame, len, htons(DPORT), &out) != c->want)
			fail_msg("case %zu: want %d", i, c->want);
	}
}

static void test_xsk_wire_too_big(void **state)
{
	static uint8_t big[ROOM];
	struct dp_nh_entry e;
	struct dp_pkt pkt = { .data = big, .len = 1473 };
	uint8_t frame[ROOM];

	(void)state;
	entry(&e, false, 0);
	pkt.addr.sin6_family = AF_INET6;
	pkt.addr.sin6_addr = e.dst;
	/* 1500 MTU: 1472 bytes of payload fit, 1473 do not. */
	assert_int_equal(dp_xw_build(&e, &pkt, htons(SPORT), 1, frame, ROOM),
			 0);
	pkt.len = 1472;
	assert_int_equal(dp_xw_build(&e, &pkt, htons(SPORT), 1, frame, ROOM),
			 14 + 1500);
	/* The frame's room. */
	assert_int_equal(dp_xw_build(&e, &pkt, htons(SPORT), 1, frame, 1000),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xsk_wire_build_parse_v4),
		cmocka_unit_test(test_xsk_wire_build_parse_v6),
		cmocka_unit_test(test_xsk_wire_vlan),
		cmocka_unit_test(test_xsk_wire_truncated),
		cmocka_unit_test(test_xsk_wire_padding),
		cmocka_unit_test(test_xsk_wire_bent_fields),
		cmocka_unit_test(test_xsk_wire_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
