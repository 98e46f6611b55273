/* SPDX-License-Identifier: MIT */
/*
 * tun/offload: TSO/USO splitting and checksum completion on the read
 * path, GRO on the write path. Packets are built here, and every checksum
 * is checked with the deliberately simple RFC 1071 sum of ref_csum.h (one
 * byte at a time, an explicit pseudo-header), never with the library's.
 *
 * The GRO cases are tables of packets (flow, payload, what is odd about
 * it) with the expected units; every result is also re-segmented the way
 * the kernel will (ref_resegment) and must give back the input packets.
 *
 * "test_offload --write-corpus DIR" writes the seed corpora of the two
 * fuzz targets (DIR/vnet_read, DIR/gro) from the same builders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "offload.h"
#include "ref_csum.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum { SEG_MAX = 9216, OUTS = 128, BURST = 300, PKT_BUF = 2048 };

/* ---- The reference: byte-wise RFC 1071 (ref_csum.h) ---- */

/* What the kernel leaves in the field with NEEDS_CSUM. */
static uint16_t ref_seed(const uint8_t *ip, uint32_t nh, uint8_t proto,
			 uint32_t len)
{
	return ref_fold(ref_pseudo(ip, proto, len - nh));
}

/* ---- Packet builder ---- */

struct pkt_spec {
	int ver;
	uint8_t proto;
	uint8_t src; /* address variant */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win, urg;
	int optlen; /* TCP options: NOP NOP and timestamps, padded */
	uint8_t optval;
	uint32_t payload;
	uint32_t fill;
	uint16_t id;
	uint8_t ttl, tos;
	bool df, mf;
	uint16_t frag_off;
	bool ipopt; /* IPv4: 4 bytes of options */
	uint32_t flowlabel;
	uint8_t exthdr; /* IPv6: this extension header (8 bytes) first */
};

static uint8_t pay(uint32_t fill, uint32_t k)
{
	return (uint8_t)(fill * 131 + k * 7 + (k >> 8));
}

static uint32_t ip_hlen(const struct pkt_spec *s)
{
	if (s->ver == 6)
		return 40 + (s->exthdr ? 8 : 0);
	return s->ipopt ? 24 : 20;
}

static uint32_t l4_hlen(const struct pkt_spec *s)
{
	if (s->proto == IPPROTO_TCP)
		return 20 + (uint32_t)s->optlen;
	return 8;
}

/* Writes the packet with valid checksums; returns its length. */
static uint32_t build(uint8_t *b, const struct pkt_spec *s)
{
	uint32_t nh = ip_hlen(s), l4 = l4_hlen(s);
	uint32_t len = nh + l4 + s->payload;
	uint8_t *t = b + nh;

	memset(b, 0, nh + l4);
	if (s->ver == 4) {
		b[0] = (uint8_t)(0x40 | nh / 4);
		b[1] = s->tos;
		wr16(b + 2, len);
		wr16(b + 4, s->id);
		wr16(b + 6, (s->df ? 0x4000u : 0) | (s->mf ? 0x2000u : 0) |
				    s->frag_off);
		b[8] = s->ttl ? s->ttl : 64;
		b[9] = s->proto;
		wr32(b + 12, 0x0a010000u | s->src);
		wr32(b + 16, 0x0a020001u);
		if (s->ipopt)
			memcpy(b + 20, "\x01\x01\x01\x00", 4);
	} else {
		wr32(b, 6u << 28 | (uint32_t)s->tos << 20 |
				(s->flowlabel & 0xfffff));
		wr16(b + 4, len - 40);
		b[6] = s->exthdr ? s->exthdr : s->proto;
		b[7] = s->ttl ? s->ttl : 64;
		b[8] = 0xfd;
		b[23] = s->src;
		b[24] = 0xfd;
		b[25] = 0x02;
		b[39] = 1;
		if (s->exthdr) {
			b[40] = s->proto;
			b[42] = 1; /* PadN, 4 bytes */
			b[43] = 4;
		}
	}
	wr16(t, s->sport);
	wr16(t + 2, s->dport);
	if (s->proto == IPPROTO_TCP) {
		wr32(t + 4, s->seq);
		wr32(t + 8, s->ack);
		t[12] = (uint8_t)(l4 / 4 << 4);
		t[13] = s->flags;
		wr16(t + 14, s->win);
		wr16(t + 18, s->urg);
		for (int k = 0; k < s->optlen; k++)
			t[20 + k] = k < 2  ? 1 :
				    k == 2 ? 8 :
				    k == 3 ? 10 :
					     (uint8_t)(s->optval + k);
	} else if (s->proto == IPPROTO_UDP) {
		wr16(t + 4, l4 + s->payload);
	}
	for (uint32_t k = 0; k < s->payload; k++)
		b[nh + l4 + k] = pay(s->fill, k);
	if (s->ver == 4)
		ref_ip4_fix(b);
	if (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP)
		ref_l4_fix(b, nh, s->proto, len);
	return len;
}

static struct pkt_spec tcp_spec(int ver)
{
	return (struct pkt_spec){
		.ver = ver,
		.proto = IPPROTO_TCP,
		.src = 1,
		.sport = 40000,
		.dport = 443,
		.seq = 0xfffff000u,
		.ack = 7777,
		.flags = 0x10,
		.win = 512,
		.optlen = 12,
		.optval = 0x20,
		.payload = 1000,
		.fill = 1,
		.id = 0xfff0,
		.tos = 0x02,
		.df = true,
		.flowlabel = 0x12345,
	};
}

static struct pkt_spec udp_spec(int ver)
{
	struct pkt_spec s = tcp_spec(ver);

	s.proto = IPPROTO_UDP;
	s.sport = 5000;
	s.dport = 4242;
	s.payload = 700;
	return s;
}

/* A frame as tun's read gives it: vnet header, then the packet. */
struct vh {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

static void put_vh(uint8_t *f, const struct vh *v)
{
	f[0] = v->flags;
	f[1] = v->gso_type;
	f[2] = (uint8_t)v->hdr_len;
	f[3] = (uint8_t)(v->hdr_len >> 8);
	f[4] = (uint8_t)v->gso_size;
	f[5] = (uint8_t)(v->gso_size >> 8);
	f[6] = (uint8_t)v->csum_start;
	f[7] = (uint8_t)(v->csum_start >> 8);
	f[8] = (uint8_t)v->csum_offset;
	f[9] = (uint8_t)(v->csum_offset >> 8);
}

static struct vh get_vh(const void *p)
{
	const uint8_t *f = p;

	return (struct vh){
		.flags = f[0],
		.gso_type = f[1],
		.hdr_len = (uint16_t)(f[2] | f[3] << 8),
		.gso_size = (uint16_t)(f[4] | f[5] << 8),
		.csum_start = (uint16_t)(f[6] | f[7] << 8),
		.csum_offset = (uint16_t)(f[8] | f[9] << 8),
	};
}

/*
 * A GSO frame (or GSO_NONE + NEEDS_CSUM with @gso 0) for @s, seeded as the
 * kernel seeds it. hdr_len is the whole packet, as tun's skb_headlen()
 * often is: the library must not use it.
 */
static uint32_t build_frame(uint8_t *f, const struct pkt_spec *s, uint16_t gso,
			    bool ecn)
{
	uint32_t len = build(f + 10, s), nh = ip_hlen(s);
	uint8_t *l4 = f + 10 + nh;
	struct vh v = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.hdr_len = (uint16_t)len,
		.gso_size = gso,
		.csum_start = (uint16_t)nh,
		.csum_offset = s->proto == IPPROTO_TCP ? 16 : 6,
	};

	if (gso && s->proto == IPPROTO_UDP)
		v.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	else if (gso)
		v.gso_type = s->ver == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 :
					   VIRTIO_NET_HDR_GSO_TCPV6;
	if (ecn)
		v.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	put_vh(f, &v);
	wr16(l4 + v.csum_offset, ref_seed(f + 10, nh, s->proto, len));
	return 10 + len;
}

static uint8_t frame[TUN_OFF_READ_LEN];
static uint8_t orig[TUN_OFF_READ_LEN];
static uint8_t outbuf[OUTS][SEG_MAX];
static uint8_t *outs[OUTS];
static uint32_t lens[OUTS];

static int setup_outs(void **state)
{
	(void)state;
	for (int i = 0; i < OUTS; i++)
		outs[i] = outbuf[i];
	return 0;
}

/* ---- Read path: TSO and USO ---- */

struct split_case {
	const char *name;
	int ver;
	uint8_t proto;
	int optlen;
	uint32_t payload;
	uint16_t gso;
	uint8_t flags; /* TCP flags of the super-packet */
	bool ecn;
	bool df;
	uint16_t id;
	int want;
};

static const struct split_case split_cases[] = {
	{ "tso4 options", 4, IPPROTO_TCP, 12, 4000, 1000, 0x18, false, true,
	  0xfffe, 4 },
	{ "tso4 remainder", 4, IPPROTO_TCP, 12, 4001, 1000, 0x10, false, true,
	  1, 5 },
	{ "tso4 fin psh", 4, IPPROTO_TCP, 0, 2900, 1448, 0x19, false, false, 77,
	  3 },
	{ "tso4 cwr ecn", 4, IPPROTO_TCP, 12, 3000, 1000, 0x98, true, true, 5,
	  3 },
	{ "tso4 cwr ece no ecn bit", 4, IPPROTO_TCP, 12, 3000, 1000, 0xd0,
	  false, true, 5, 3 },
	{ "tso4 40 option bytes", 4, IPPROTO_TCP, 40, 5000, 1200, 0x10, false,
	  true, 9, 5 },
	{ "tso4 one segment", 4, IPPROTO_TCP, 12, 800, 1000, 0x18, false, true,
	  9, 1 },
	{ "tso4 mss 1", 4, IPPROTO_TCP, 0, 64, 1, 0x18, false, true, 9, 64 },
	{ "tso4 64k", 4, IPPROTO_TCP, 12, 65535 - 52, 1448, 0x18, false, true,
	  3, 46 },
	{ "tso6 options", 6, IPPROTO_TCP, 12, 4000, 1000, 0x18, false, false, 0,
	  4 },
	{ "tso6 remainder fin", 6, IPPROTO_TCP, 12, 2501, 1000, 0x11, false,
	  false, 0, 3 },
	{ "tso6 cwr ecn", 6, IPPROTO_TCP, 0, 3000, 1000, 0x90, true, false, 0,
	  3 },
	{ "tso6 64k", 6, IPPROTO_TCP, 12, 65535 - 32, 1428, 0x18, false, false,
	  0, 46 },
	{ "uso4", 4, IPPROTO_UDP, 0, 3000, 1000, 0, false, true, 0xffff, 3 },
	{ "uso4 remainder", 4, IPPROTO_UDP, 0, 2999, 1000, 0, false, false, 0,
	  3 },
	{ "uso4 one datagram", 4, IPPROTO_UDP, 0, 999, 1000, 0, false, false, 0,
	  1 },
	{ "uso6", 6, IPPROTO_UDP, 0, 4200, 1400, 0, false, false, 0, 3 },
	{ "uso6 remainder", 6, IPPROTO_UDP, 0, 4201, 1400, 0, false, false, 0,
	  4 },
};

/* Checks segment @i of @n against the super-packet @sp independently. */
static void check_segment(const uint8_t *sp, uint32_t sp_len,
			  const uint8_t *seg, uint32_t len, unsigned int i,
			  unsigned int n, uint16_t gso, const char *name)
{
	int ver = sp[0] >> 4;
	uint32_t nh = ver == 4 ? (sp[0] & 15u) * 4 : 40;
	uint8_t proto = ver == 4 ? sp[9] : sp[6];
	uint32_t l4 = proto == IPPROTO_TCP ? (sp[nh + 12] >> 4) * 4u : 8;
	uint32_t hl = nh + l4, payload = sp_len - hl;
	uint32_t plen = i + 1 < n ? gso : payload - i * (uint32_t)gso;

	if (len != hl + plen)
		fail_msg("%s: segment %u is %u bytes, want %u", name, i, len,
			 hl + plen);
	assert_memory_equal(seg + hl, sp + hl + i * (uint32_t)gso, plen);
	if (ver == 4) {
		assert_int_equal(rd16(seg + 2), len);
		assert_int_equal(rd16(seg + 4), (uint16_t)(rd16(sp + 4) + i));
		assert_true(ref_ip4_ok(seg));
		/* The rest of the IP header is the super-packet's. */
		assert_memory_equal(seg + 6, sp + 6, 4);
		assert_memory_equal(seg + 12, sp + 12, nh - 12);
		assert_int_equal(seg[0], sp[0]);
		assert_int_equal(seg[1], sp[1]);
	} else {
		assert_int_equal(rd16(seg + 4), len - 40);
		assert_memory_equal(seg, sp, 4);
		assert_memory_equal(seg + 6, sp + 6, 34);
	}
	assert_true(ref_l4_ok(seg, nh, proto, len));
	assert_memory_equal(seg + nh, sp + nh, 4); /* ports */
	if (proto == IPPROTO_TCP) {
		uint8_t flags = sp[nh + 13];

		if (i > 0)
			flags &= (uint8_t)~0x80;
		if (i + 1 < n)
			flags &= (uint8_t)~0x09;
		assert_int_equal(rd32(seg + nh + 4),
				 rd32(sp + nh + 4) + i * (uint32_t)gso);
		assert_memory_equal(seg + nh + 8, sp + nh + 8, 5);
		assert_int_equal(seg[nh + 13], flags);
		assert_memory_equal(seg + nh + 14, sp + nh + 14, 2);
		assert_memory_equal(seg + nh + 18, sp + nh + 18, l4 - 18);
	} else {
		assert_int_equal(rd16(seg + nh + 4), 8 + plen);
		assert_int_not_equal(rd16(seg + nh + 6), 0);
	}
}

static void run_split(const struct split_case *c, bool in_place)
{
	struct pkt_spec s = c->proto == IPPROTO_TCP ? tcp_spec(c->ver) :
						      udp_spec(c->ver);
	struct tun_off_stats st = { 0 };
	uint32_t flen;
	int n;

	s.optlen = c->optlen;
	s.payload = c->payload;
	s.flags = c->flags;
	s.df = c->df;
	s.id = c->id;
	flen = build_frame(frame, &s, c->gso, c->ecn);
	memcpy(orig, frame, flen);
	if (in_place)
		outs[0] = frame + 10;
	n = tun_off_split(frame, flen, outs, SEG_MAX, lens, OUTS, &st);
	if (n != c->want)
		fail_msg("%s%s: %d segments (%s), want %d", c->name,
			 in_place ? " in place" : "", n,
			 n < 0 ? tun_off_err_name(n) : "", c->want);
	for (int i = 0; i < n; i++)
		check_segment(orig + 10, flen - 10, outs[i], lens[i],
			      (unsigned int)i, (unsigned int)n, c->gso,
			      c->name);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.gso_frames, 1);
	assert_int_equal(st.segments, (uint64_t)n);
	outs[0] = outbuf[0];
}

static void test_offload_split_table(void **state)
{
	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(split_cases); k++) {
		run_split(&split_cases[k], false);
		run_split(&split_cases[k], true);
	}
}

/* A computed UDP checksum of 0 goes out as 0xffff, not as "none". */
static void test_offload_split_udp_zero_checksum(void **state)
{
	struct pkt_spec s = udp_spec(4);
	uint32_t flen, nh = 20, sl = nh + 8 + 1000;
	uint8_t seg[1100];
	uint16_t f0;
	int n;

	(void)state;
	s.payload = 2000;
	flen = build_frame(frame, &s, 1000, false);
	/*
	 * Pick the second datagram's last two payload bytes so that its
	 * sum (checksum field 0) is 0xffff: its checksum computes to 0.
	 */
	wr16(frame + 10 + nh + 8 + 1998, 0);
	memcpy(seg, frame + 10, nh + 8);
	memcpy(seg + nh + 8, frame + 10 + nh + 8 + 1000, 1000);
	wr16(seg + 2, sl);
	wr16(seg + nh + 4, 8 + 1000);
	wr16(seg + nh + 6, 0);
	f0 = ref_fold(ref_add(ref_pseudo(seg, IPPROTO_UDP, sl - nh), seg + nh,
			      sl - nh));
	wr16(frame + 10 + nh + 8 + 1998, 0xffffu - f0);

	n = tun_off_split(frame, flen, outs, SEG_MAX, lens, OUTS, NULL);
	assert_int_equal(n, 2);
	assert_int_equal(rd16(outs[1] + nh + 6), 0xffff);
	assert_true(ref_l4_ok(outs[1], nh, IPPROTO_UDP, lens[1]));
	assert_true(ref_l4_ok(outs[0], nh, IPPROTO_UDP, lens[0]));
}

/* ---- Read path: GSO_NONE ---- */

static void check_plain_csum(struct pkt_spec s, const char *name)
{
	uint32_t flen = build_frame(frame, &s, 0, false);
	uint32_t nh = ip_hlen(&s);
	struct tun_off_stats st = { 0 };
	int n;

	/* The seed must not already be the right answer. */
	assert_false(ref_l4_ok(frame + 10, nh, s.proto, flen - 10));
	n = tun_off_split(frame, flen, outs, SEG_MAX, lens, OUTS, &st);
	if (n != 1)
		fail_msg("%s: %d (%s)", name, n, tun_off_err_name(n));
	assert_int_equal(lens[0], flen - 10);
	assert_true(ref_l4_ok(outs[0], nh, s.proto, lens[0]));
	assert_int_equal(st.csum_done, 1);
	assert_int_equal(st.gso_frames, 0);
}

static void test_offload_needs_csum(void **state)
{
	struct pkt_spec s;

	(void)state;
	check_plain_csum(tcp_spec(4), "tcp4");
	check_plain_csum(tcp_spec(6), "tcp6");
	check_plain_csum(udp_spec(4), "udp4");
	check_plain_csum(udp_spec(6), "udp6");
	s = tcp_spec(4);
	s.ipopt = true;
	check_plain_csum(s, "tcp4 ip options");
	s = udp_spec(6);
	s.payload = 1;
	check_plain_csum(s, "udp6 odd length");
}

/*
 * csum_start past the packet's own L4 header: what a NIC does, from
 * csum_start to the end with the seed. An IPv6 destination options header
 * before TCP, and TCP inside IPIP (a tunnel device routed over us).
 */
static void test_offload_needs_csum_deep(void **state)
{
	struct pkt_spec s = tcp_spec(6);
	uint32_t flen, len;
	int n;

	(void)state;
	s.exthdr = 60;
	flen = build_frame(frame, &s, 0, false);
	assert_int_equal(get_vh(frame).csum_start, 48);
	n = tun_off_split(frame, flen, outs, SEG_MAX, lens, OUTS, NULL);
	assert_int_equal(n, 1);
	assert_true(ref_l4_ok(outs[0], 48, IPPROTO_TCP, lens[0]));

	s = tcp_spec(4);
	len = build(frame + 10 + 20, &s);
	wr16(frame + 10 + 20 + 20 + 16,
	     ref_seed(frame + 30, 20, IPPROTO_TCP, len));
	memcpy(frame + 10, frame + 30, 20); /* outer header from the inner */
	frame[10 + 9] = IPPROTO_IPIP;
	wr16(frame + 10 + 2, 20 + len);
	ref_ip4_fix(frame + 10);
	put_vh(frame, &(struct vh){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .csum_start = 40,
				    .csum_offset = 16 });
	n = tun_off_split(frame, 10 + 20 + len, outs, SEG_MAX, lens, OUTS,
			  NULL);
	assert_int_equal(n, 1);
	assert_true(ref_ip4_ok(outs[0]));
	assert_true(ref_l4_ok(outs[0] + 20, 20, IPPROTO_TCP, len));
}

/* Plain frames, and DATA_VALID ones, are passed on byte for byte. */
static void test_offload_plain_untouched(void **state)
{
	static const uint8_t flags[] = { 0, VIRTIO_NET_HDR_F_DATA_VALID };
	struct pkt_spec s = tcp_spec(4);
	uint32_t flen;
	int n;

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(flags); k++) {
		flen = build_frame(frame, &s, 0, false);
		put_vh(frame, &(struct vh){ .flags = flags[k] });
		frame[10 + 40] ^= 0xff; /* a wrong checksum is not ours */
		memcpy(orig, frame, flen);
		n = tun_off_split(frame, flen, outs, SEG_MAX, lens, OUTS, NULL);
		assert_int_equal(n, 1);
		assert_int_equal(lens[0], flen - 10);
		assert_memory_equal(outs[0], orig + 10, flen - 10);
		/* In place: nothing to copy. */
		outs[0] = frame + 10;
		n = tun_off_split(frame, flen, outs, SEG_MAX, lens, OUTS, NULL);
		assert_int_equal(n, 1);
		assert_memory_equal(frame, orig, flen);
		outs[0] = outbuf[0];
	}
	/* Not even an IP packet: still not ours to judge. */
	memset(frame, 0, 10);
	memcpy(frame + 10, "garbage", 7);
	assert_int_equal(
		tun_off_split(frame, 17, outs, SEG_MAX, lens, OUTS, NULL), 1);
	assert_memory_equal(outs[0], "garbage", 7);
}

/* ---- Read path: rejections ---- */

enum base { B_TSO4, B_TSO6, B_USO4, B_CSUM4, B_CSUMU4, B_PLAIN };

enum mut {
	R_FRAME_9,
	R_FRAME_10,
	R_IP_SHORT,
	R_TCP_SHORT,
	R_FLAGS_UNKNOWN,
	R_FLAGS_BOTH,
	R_GSO_UFO,
	R_GSO_2,
	R_GSO_ECN_ALONE,
	R_GSO_USO_ECN,
	R_GSO_SIZE0,
	R_HDR_LEN,
	R_CS_PAST_END,
	R_CS_IN_IP,
	R_CS_IN_IP_IPIP,
	R_CS_NOT_L4,
	R_CS_TCP_DEEP,
	R_CS_UDP_INSIDE,
	R_OFF_ODD,
	R_OFF_PAST,
	R_OFF_TCP_WRONG,
	R_OFF_UDP_WRONG,
	R_NO_CSUM,
	R_VERSION_5,
	R_TSO6_ON_V4,
	R_TSO4_ON_V6,
	R_IHL_4,
	R_IP_CSUM,
	R_TOT_LEN,
	R_V6_PLEN,
	R_MF,
	R_FRAG_OFF,
	R_UDP_FOR_TSO,
	R_V6_EXTHDR,
	R_TCP_FOR_USO,
	R_DOFF_4,
	R_DOFF_PAST,
	R_UDP_LEN,
	R_NO_PAYLOAD,
	R_TOO_BIG,
	R_TOO_MANY,
	R_PLAIN_TOO_BIG,
	R_NO_OUTS,
};

struct reject_case {
	const char *name;
	enum base base;
	enum mut mut;
	enum tun_off_err want;
};

static const struct reject_case reject_cases[] = {
	{ "frame of 9 bytes", B_TSO4, R_FRAME_9, TUN_OFF_E_SHORT },
	{ "vnet header only", B_TSO4, R_FRAME_10, TUN_OFF_E_SHORT },
	{ "ipv4 header cut", B_CSUM4, R_IP_SHORT, TUN_OFF_E_SHORT },
	{ "tcp header cut", B_TSO4, R_TCP_SHORT, TUN_OFF_E_SHORT },
	{ "unknown flag", B_TSO4, R_FLAGS_UNKNOWN, TUN_OFF_E_FLAGS },
	{ "needs_csum and data_valid", B_CSUM4, R_FLAGS_BOTH, TUN_OFF_E_FLAGS },
	{ "ufo", B_USO4, R_GSO_UFO, TUN_OFF_E_GSO_TYPE },
	{ "gso type 2", B_TSO4, R_GSO_2, TUN_OFF_E_GSO_TYPE },
	{ "ecn bit alone", B_CSUM4, R_GSO_ECN_ALONE, TUN_OFF_E_GSO_TYPE },
	{ "ecn bit on uso", B_USO4, R_GSO_USO_ECN, TUN_OFF_E_GSO_TYPE },
	{ "gso_size 0", B_TSO4, R_GSO_SIZE0, TUN_OFF_E_GSO_SIZE },
	{ "gso_size 0 uso", B_USO4, R_GSO_SIZE0, TUN_OFF_E_GSO_SIZE },
	{ "hdr_len past the end", B_TSO6, R_HDR_LEN, TUN_OFF_E_HDR_LEN },
	{ "csum_start past the end", B_CSUM4, R_CS_PAST_END,
	  TUN_OFF_E_CSUM_START },
	{ "csum_start in the ip header", B_CSUM4, R_CS_IN_IP,
	  TUN_OFF_E_CSUM_START },
	{ "csum_start in the ip header, ipip", B_CSUM4, R_CS_IN_IP_IPIP,
	  TUN_OFF_E_CSUM_START },
	{ "tso csum_start not at tcp", B_TSO4, R_CS_NOT_L4,
	  TUN_OFF_E_CSUM_START },
	{ "uso csum_start not at udp", B_USO4, R_CS_NOT_L4,
	  TUN_OFF_E_CSUM_START },
	{ "tcp csum_start in the payload", B_CSUM4, R_CS_TCP_DEEP,
	  TUN_OFF_E_CSUM_START },
	{ "udp csum_start in the udp header", B_CSUMU4, R_CS_UDP_INSIDE,
	  TUN_OFF_E_CSUM_START },
	{ "odd csum_offset", B_CSUM4, R_OFF_ODD, TUN_OFF_E_CSUM_OFFSET },
	{ "csum_offset past the end", B_TSO4, R_OFF_PAST,
	  TUN_OFF_E_CSUM_OFFSET },
	{ "tso csum_offset not tcp's", B_TSO4, R_OFF_TCP_WRONG,
	  TUN_OFF_E_CSUM_OFFSET },
	{ "tcp csum_offset not tcp's", B_CSUM4, R_OFF_TCP_WRONG,
	  TUN_OFF_E_CSUM_OFFSET },
	{ "uso csum_offset not udp's", B_USO4, R_OFF_UDP_WRONG,
	  TUN_OFF_E_CSUM_OFFSET },
	{ "udp csum_offset not udp's", B_CSUMU4, R_OFF_UDP_WRONG,
	  TUN_OFF_E_CSUM_OFFSET },
	{ "uso without needs_csum", B_USO4, R_NO_CSUM, TUN_OFF_E_NO_CSUM },
	{ "ip version 5", B_TSO4, R_VERSION_5, TUN_OFF_E_IP_VERSION },
	{ "tcpv6 on ipv4", B_TSO4, R_TSO6_ON_V4, TUN_OFF_E_IP_VERSION },
	{ "tcpv4 on ipv6", B_TSO6, R_TSO4_ON_V6, TUN_OFF_E_IP_VERSION },
	{ "ihl 4", B_TSO4, R_IHL_4, TUN_OFF_E_IP_HDR },
	{ "ipv4 header checksum", B_TSO4, R_IP_CSUM, TUN_OFF_E_IP_HDR },
	{ "ipv4 header checksum, needs_csum", B_CSUM4, R_IP_CSUM,
	  TUN_OFF_E_IP_HDR },
	{ "ipv4 total length", B_TSO4, R_TOT_LEN, TUN_OFF_E_IP_LEN },
	{ "ipv6 payload length", B_TSO6, R_V6_PLEN, TUN_OFF_E_IP_LEN },
	{ "more fragments", B_TSO4, R_MF, TUN_OFF_E_IP_FRAG },
	{ "fragment offset", B_CSUM4, R_FRAG_OFF, TUN_OFF_E_IP_FRAG },
	{ "tso of udp", B_TSO4, R_UDP_FOR_TSO, TUN_OFF_E_L4_PROTO },
	{ "tso6 behind an extension header", B_TSO6, R_V6_EXTHDR,
	  TUN_OFF_E_L4_PROTO },
	{ "uso of tcp", B_TSO4, R_TCP_FOR_USO, TUN_OFF_E_L4_PROTO },
	{ "tcp data offset 4", B_TSO4, R_DOFF_4, TUN_OFF_E_L4_HDR },
	{ "tcp data offset 4, needs_csum", B_CSUM4, R_DOFF_4,
	  TUN_OFF_E_L4_HDR },
	{ "tcp data offset past the end", B_TSO4, R_DOFF_PAST,
	  TUN_OFF_E_L4_HDR },
	{ "udp length", B_USO4, R_UDP_LEN, TUN_OFF_E_L4_HDR },
	{ "udp length, needs_csum", B_CSUMU4, R_UDP_LEN, TUN_OFF_E_L4_HDR },
	{ "tso without payload", B_TSO4, R_NO_PAYLOAD, TUN_OFF_E_NO_PAYLOAD },
	{ "segment over seg_max", B_TSO6, R_TOO_BIG, TUN_OFF_E_TOO_BIG },
	{ "completed packet over seg_max", B_CSUM4, R_TOO_BIG,
	  TUN_OFF_E_TOO_BIG },
	{ "plain packet over seg_max", B_PLAIN, R_PLAIN_TOO_BIG,
	  TUN_OFF_E_TOO_BIG },
	{ "more segments than buffers", B_USO4, R_TOO_MANY,
	  TUN_OFF_E_TOO_MANY },
	{ "no buffer at all", B_PLAIN, R_NO_OUTS, TUN_OFF_E_TOO_MANY },
};

/* Shortens the frame's packet to @len, keeping its IP header consistent. */
static void cut(uint8_t *f, uint32_t *flen, uint32_t len)
{
	if ((f[10] >> 4) == 4) {
		wr16(f + 12, len);
		ref_ip4_fix(f + 10);
	} else {
		wr16(f + 14, len - 40);
	}
	*flen = 10 + len;
}

static void mutate(const struct reject_case *c, uint8_t *f, uint32_t *flen,
		   uint32_t *seg_max, unsigned int *max_out)
{
	uint8_t *ip = f + 10, *l4;
	bool v4 = (ip[0] >> 4) == 4;
	uint32_t nh = v4 ? 20 : 40;
	struct vh v = get_vh(f);

	l4 = ip + nh;
	switch (c->mut) {
	case R_FRAME_9:
		*flen = 9;
		break;
	case R_FRAME_10:
		*flen = 10;
		break;
	case R_IP_SHORT:
		v.csum_start = v.csum_offset = v.hdr_len = 0;
		*flen = 10 + 19;
		break;
	case R_TCP_SHORT:
		v.flags = 0;
		v.hdr_len = 0;
		cut(f, flen, nh + 10);
		break;
	case R_FLAGS_UNKNOWN:
		v.flags |= 4;
		break;
	case R_FLAGS_BOTH:
		v.flags |= VIRTIO_NET_HDR_F_DATA_VALID;
		break;
	case R_GSO_UFO:
		v.gso_type = VIRTIO_NET_HDR_GSO_UDP;
		break;
	case R_GSO_2:
		v.gso_type = 2;
		break;
	case R_GSO_ECN_ALONE:
	case R_GSO_USO_ECN:
		v.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
		break;
	case R_GSO_SIZE0:
		v.gso_size = 0;
		break;
	case R_HDR_LEN:
		v.hdr_len = (uint16_t)(*flen - 10 + 1);
		break;
	case R_CS_PAST_END:
		v.csum_start = (uint16_t)(*flen - 10 - 1);
		v.csum_offset = 0;
		break;
	case R_CS_IN_IP:
		v.csum_start = 10;
		v.csum_offset = 0;
		break;
	case R_CS_IN_IP_IPIP: /* no L4 header of ours to compare with */
		ip[9] = IPPROTO_IPIP;
		ref_ip4_fix(ip);
		v.csum_start = 10;
		v.csum_offset = 0;
		break;
	case R_CS_NOT_L4:
		v.csum_start += 4;
		v.csum_offset = 2;
		break;
	case R_CS_TCP_DEEP:
		v.csum_start += 40;
		v.csum_offset = 0;
		break;
	case R_CS_UDP_INSIDE:
		v.csum_start += 4;
		v.csum_offset = 2;
		break;
	case R_OFF_ODD:
		v.csum_offset = 15;
		break;
	case R_OFF_PAST:
		v.csum_offset = (uint16_t)(*flen - 10 - v.csum_start);
		break;
	case R_OFF_TCP_WRONG:
		v.csum_offset = 6;
		break;
	case R_OFF_UDP_WRONG:
		v.csum_offset = 16;
		break;
	case R_NO_CSUM:
		v.flags = 0;
		break;
	case R_VERSION_5:
		ip[0] = 0x55;
		break;
	case R_TSO6_ON_V4:
		v.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		break;
	case R_TSO4_ON_V6:
		v.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		break;
	case R_IHL_4:
		ip[0] = 0x44;
		break;
	case R_IP_CSUM:
		ip[10] ^= 1;
		break;
	case R_TOT_LEN:
		wr16(ip + 2, rd16(ip + 2) - 1);
		ref_ip4_fix(ip);
		break;
	case R_V6_PLEN:
		wr16(ip + 4, rd16(ip + 4) + 1);
		break;
	case R_MF:
		ip[6] |= 0x20;
		ref_ip4_fix(ip);
		break;
	case R_FRAG_OFF:
		ip[7] |= 1;
		ref_ip4_fix(ip);
		break;
	case R_UDP_FOR_TSO:
		ip[9] = IPPROTO_UDP;
		ref_ip4_fix(ip);
		break;
	case R_V6_EXTHDR:
		ip[6] = 0;
		break;
	case R_TCP_FOR_USO:
		v.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
		v.csum_offset = 6;
		break;
	case R_DOFF_4:
		l4[12] = 0x40;
		break;
	case R_DOFF_PAST:
		v.hdr_len = 0;
		cut(f, flen, nh + 30);
		l4[12] = 0xf0;
		break;
	case R_UDP_LEN:
		wr16(l4 + 4, rd16(l4 + 4) + 1);
		break;
	case R_NO_PAYLOAD:
		v.hdr_len = 0;
		cut(f, flen, nh + 32);
		break;
	case R_TOO_BIG:
		*seg_max = 100;
		break;
	case R_TOO_MANY:
		*max_out = 2;
		break;
	case R_PLAIN_TOO_BIG:
		*seg_max = *flen - 10 - 1;
		break;
	case R_NO_OUTS:
		*max_out = 0;
		break;
	}
	put_vh(f, &v);
}

static void test_offload_rejects(void **state)
{
	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(reject_cases); k++) {
		const struct reject_case *c = &reject_cases[k];
		struct tun_off_stats st = { 0 };
		struct pkt_spec s = c->base == B_TSO6 ? tcp_spec(6) :
				    c->base == B_USO4 || c->base == B_CSUMU4 ?
							udp_spec(4) :
							tcp_spec(4);
		unsigned int max_out = OUTS;
		uint32_t seg_max = SEG_MAX, flen;
		int n;

		s.payload = 3000;
		flen = build_frame(frame, &s, c->base <= B_USO4 ? 1000 : 0,
				   false);
		if (c->base == B_PLAIN)
			memset(frame, 0, 10);
		mutate(c, frame, &flen, &seg_max, &max_out);
		n = tun_off_split(frame, flen, outs, seg_max, lens, max_out,
				  &st);
		if (n != -(int)c->want)
			fail_msg("%s: got %d (%s), want %s", c->name, n,
				 n < 0 ? tun_off_err_name(n) : "segments",
				 tun_off_err_name(c->want));
		assert_int_equal(st.rejects[c->want], 1);
		assert_int_equal(st.frames, 1);
		assert_int_equal(st.segments, 0);
	}
}

static void test_offload_err_names(void **state)
{
	(void)state;
	for (int e = 0; e < TUN_OFF_E_MAX; e++) {
		assert_non_null(tun_off_err_name(e));
		assert_string_equal(tun_off_err_name(e), tun_off_err_name(-e));
		for (int o = 0; o < e; o++)
			assert_string_not_equal(tun_off_err_name(e),
						tun_off_err_name(o));
	}
	assert_null(tun_off_err_name(TUN_OFF_E_MAX));
}

/* ---- Write path: GRO ---- */

/* What is odd about one packet of a GRO case. */
enum {
	M_PSH = 1 << 0,
	M_FIN = 1 << 1,
	M_SYN = 1 << 2,
	M_RST = 1 << 3,
	M_URG = 1 << 4,
	M_CWR = 1 << 5,
	M_ECE = 1 << 6,
	M_TTL = 1 << 7,
	M_TOS = 1 << 8, /* DSCP differs */
	M_CE = 1 << 9, /* ECN CE instead of ECT(0) */
	M_BADSUM = 1 << 10, /* L4 checksum wrong */
	M_BADIP = 1 << 11, /* IPv4 header checksum wrong */
	M_IPOPT = 1 << 12,
	M_MF = 1 << 13,
	M_GAP = 1 << 14, /* sequence number skips a byte */
	M_ACK = 1 << 15, /* another ack number */
	M_WIN = 1 << 16,
	M_OPT = 1 << 17, /* another timestamp */
	M_NOOPT = 1 << 18, /* no options */
	M_NODF = 1 << 19,
	M_IDSAME = 1 << 20, /* IPv4 ID of the previous one */
	M_IDJUMP = 1 << 21,
	M_LABEL = 1 << 22, /* IPv6 flow label */
	M_HOP = 1 << 23,
	M_EXT = 1 << 24, /* IPv6 destination options header */
	M_NOSUM = 1 << 25, /* UDP checksum 0 */
	M_URGPTR = 1 << 26, /* urgent pointer set, URG not */
	M_NOACK = 1 << 27, /* flags 0 */
};

struct step {
	char flow; /* 'A'..'H' TCP/UDP, 'I' ICMP, 'F' barrier */
	uint16_t payload;
	uint32_t mut;
};

struct gro_case {
	const char *name;
	int ver;
	uint8_t proto;
	bool udp;
	const char *want; /* packet indices per unit, units split by '|' */
	struct step steps[20];
};

#define P(f)               \
	{                  \
		f, 1000, 0 \
	}
#define PM(f, m)           \
	{                  \
		f, 1000, m \
	}
#define PL(f, l)        \
	{               \
		f, l, 0 \
	}

/* A case: name, expected units, the packets. */
/* clang-format off */
#define G(name, ver, proto, udp, want, ...) \
	{ name, ver, proto, udp, want, { __VA_ARGS__ } }
/* clang-format on */
#define T4(name, want, ...) G(name, 4, IPPROTO_TCP, false, want, __VA_ARGS__)
#define T6(name, want, ...) G(name, 6, IPPROTO_TCP, false, want, __VA_ARGS__)
#define U4(name, want, ...) G(name, 4, IPPROTO_UDP, true, want, __VA_ARGS__)
#define U6(name, want, ...) G(name, 6, IPPROTO_UDP, true, want, __VA_ARGS__)

static const struct gro_case gro_cases[] = {
	T4("tcp4 run", "0 1 2 3", P('A'), P('A'), P('A'), P('A')),
	T4("tcp4 psh on the last", "0 1 2", P('A'), P('A'), PM('A', M_PSH)),
	T4("tcp4 psh in the middle", "0 1|2 3", P('A'), PM('A', M_PSH), P('A'),
	   P('A')),
	T4("tcp4 psh first", "0|1 2", PM('A', M_PSH), P('A'), P('A')),
	T4("tcp4 smaller last", "0 1 2", P('A'), P('A'), PL('A', 10)),
	T4("tcp4 smaller in the middle", "0 1|2 3", P('A'), PL('A', 999),
	   P('A'), P('A')),
	T4("tcp4 larger after", "0|1 2", PL('A', 500), P('A'), P('A')),
	T4("tcp4 sequence gap", "0 1|2 3", P('A'), P('A'), PM('A', M_GAP),
	   P('A')),
	T4("tcp4 other ack", "0|1|2", P('A'), PM('A', M_ACK), P('A')),
	T4("tcp4 other window", "0|1", P('A'), PM('A', M_WIN)),
	T4("tcp4 other option bytes", "0|1", P('A'), PM('A', M_OPT)),
	T4("tcp4 other option length", "0|1", P('A'), PM('A', M_NOOPT)),
	T4("tcp4 urgent pointer", "0|1", P('A'), PM('A', M_URGPTR)),
	T4("tcp4 fin", "0 1|2", P('A'), P('A'), PM('A', M_FIN)),
	T4("tcp4 syn", "0|1|2", PM('A', M_SYN), P('A'), PM('A', M_SYN)),
	T4("tcp4 rst", "0|1", P('A'), PM('A', M_RST)),
	T4("tcp4 urg", "0|1|2 3", P('A'), PM('A', M_URG), P('A'), P('A')),
	T4("tcp4 cwr", "0|1 2", PM('A', M_CWR), P('A'), P('A')),
	T4("tcp4 ece", "0|1|2", PM('A', M_ECE), PM('A', M_ECE), PM('A', M_ECE)),
	T4("tcp4 no ack flag", "0|1", PM('A', M_NOACK), PM('A', M_NOACK)),
	T4("tcp4 ttl", "0|1", P('A'), PM('A', M_TTL)),
	T4("tcp4 tos", "0|1", P('A'), PM('A', M_TOS)),
	T4("tcp4 ce after ect", "0 1|2|3", P('A'), P('A'), PM('A', M_CE),
	   P('A')),
	T4("tcp4 ce run", "0 1", PM('A', M_CE), PM('A', M_CE)),
	T4("tcp4 df differs", "0|1", P('A'), PM('A', M_NODF)),
	T4("tcp4 no df, increasing ids", "0 1 2", PM('A', M_NODF),
	   PM('A', M_NODF), PM('A', M_NODF)),
	T4("tcp4 fixed ids with df", "0 1 2", P('A'), PM('A', M_IDSAME),
	   PM('A', M_IDSAME)),
	T4("tcp4 fixed ids without df", "0|1|2", PM('A', M_NODF),
	   PM('A', M_NODF | M_IDSAME), PM('A', M_NODF | M_IDSAME)),
	T4("tcp4 fixed then increasing", "0 1|2", P('A'), PM('A', M_IDSAME),
	   P('A')),
	T4("tcp4 id jump", "0 1|2", P('A'), P('A'), PM('A', M_IDJUMP)),
	T4("tcp4 ip options", "0|1|2", P('A'), PM('A', M_IPOPT),
	   PM('A', M_IPOPT)),
	T4("tcp4 first fragment", "0|1|2", P('A'), PM('A', M_MF), P('A')),
	T4("tcp4 bad checksum second", "0|1|2 3", P('A'), PM('A', M_BADSUM),
	   P('A'), P('A')),
	T4("tcp4 bad checksum first", "0|1 2", PM('A', M_BADSUM), P('A'),
	   P('A')),
	T4("tcp4 bad header checksum", "0 1|2|3", P('A'), P('A'),
	   PM('A', M_BADIP), P('A')),
	T4("tcp4 two flows interleaved", "0 2 4|1 3 5", P('A'), P('B'), P('A'),
	   P('B'), P('A'), P('B')),
	T4("tcp4 icmp between", "0 2|1|3", P('A'), P('I'), P('A'), P('I')),
	T4("tcp4 fragment barrier", "0|1|2 3", P('A'), P('F'), P('A'), P('A')),
	T4("tcp4 a flow's fin stops it", "0 3|1|2|4", P('A'), P('B'),
	   PM('B', M_FIN), P('A'), P('B')),
	T4("tcp4 gap then run", "0 1|2 3 4", P('A'), P('A'), PM('A', M_GAP),
	   P('A'), PL('A', 1)),
	T6("tcp6 run", "0 1 2 3", P('A'), P('A'), P('A'), PM('A', M_PSH)),
	T6("tcp6 flow label", "0|1", P('A'), PM('A', M_LABEL)),
	T6("tcp6 hop limit", "0|1", P('A'), PM('A', M_HOP)),
	T6("tcp6 traffic class", "0|1", P('A'), PM('A', M_TOS)),
	T6("tcp6 ce", "0|1", P('A'), PM('A', M_CE)),
	T6("tcp6 extension header barrier", "0|1|2 3", P('A'), PM('A', M_EXT),
	   P('A'), P('A')),
	T6("tcp6 bad checksum", "0 1|2|3", P('A'), P('A'), PM('A', M_BADSUM),
	   P('A')),
	T6("tcp6 two flows", "0 1|2 3", P('A'), P('A'), P('B'), P('B')),
	G("udp4 gro off", 4, IPPROTO_UDP, false, "0|1|2", P('A'), P('A'),
	  P('A')),
	U4("udp4 run", "0 1 2", P('A'), P('A'), PL('A', 3)),
	U4("udp4 smaller in the middle", "0 1|2", P('A'), PL('A', 10), P('A')),
	U4("udp4 larger after", "0|1", PL('A', 10), P('A')),
	U4("udp4 zero checksum", "0 1|2|3", P('A'), P('A'), PM('A', M_NOSUM),
	   P('A')),
	U4("udp4 bad checksum", "0|1|2", P('A'), PM('A', M_BADSUM), P('A')),
	U4("udp4 ttl", "0|1", P('A'), PM('A', M_TTL)),
	U4("udp4 interleaved", "0 2|1 3", P('A'), P('B'), P('A'), P('B')),
	U6("udp6 run", "0 1 2", P('A'), P('A'), P('A')),
	U6("udp6 zero checksum", "0|1", PM('A', M_NOSUM), PM('A', M_NOSUM)),
	U6("udp6 flow label", "0|1", P('A'), PM('A', M_LABEL)),
};

static uint8_t gbuf[BURST][PKT_BUF];
static uint8_t gorig[BURST][PKT_BUF];
static uint8_t *gpkts[BURST];
static uint32_t glens[BURST];
static struct tun_off_batch batch;

struct flow_state {
	uint32_t seq;
	uint16_t id;
	bool used;
};

static void build_steps(const struct gro_case *c, unsigned int *n)
{
	struct flow_state fs[26] = { 0 };

	for (*n = 0; *n < ARRAY_SIZE(c->steps) && c->steps[*n].flow; (*n)++) {
		const struct step *st = &c->steps[*n];
		struct flow_state *f = &fs[st->flow - 'A'];
		struct pkt_spec s = c->proto == IPPROTO_TCP ? tcp_spec(c->ver) :
							      udp_spec(c->ver);
		uint32_t m = st->mut, nh, len;

		if (!f->used) {
			f->seq = s.seq;
			f->id = s.id;
			f->used = true;
		}
		s.sport = (uint16_t)(s.sport + st->flow - 'A');
		s.payload = st->payload;
		s.fill = *n;
		if (m & M_GAP)
			f->seq++;
		if (m & M_IDSAME)
			f->id--;
		if (m & M_IDJUMP)
			f->id = (uint16_t)(f->id + 5);
		s.seq = f->seq;
		s.id = f->id++;
		f->seq += s.payload + ((m & (M_FIN | M_SYN)) ? 1 : 0);
		s.flags = (uint8_t)((m & M_NOACK ? 0 : 0x10) |
				    (m & M_PSH ? 0x08 : 0) |
				    (m & M_FIN ? 0x01 : 0) |
				    (m & M_SYN ? 0x02 : 0) |
				    (m & M_RST ? 0x04 : 0) |
				    (m & M_URG ? 0x20 : 0) |
				    (m & M_CWR ? 0x80 : 0) |
				    (m & M_ECE ? 0x40 : 0));
		if (m & M_TTL)
			s.ttl = 63;
		if (m & M_TOS)
			s.tos = 0x22;
		if (m & M_CE)
			s.tos = 0x03;
		s.ipopt = m & M_IPOPT;
		s.mf = m & M_MF;
		if (m & M_ACK)
			s.ack++;
		if (m & M_WIN)
			s.win++;
		if (m & M_OPT)
			s.optval++;
		if (m & M_NOOPT)
			s.optlen = 0;
		if (m & M_NODF)
			s.df = false;
		if (m & M_LABEL)
			s.flowlabel++;
		if (m & M_HOP)
			s.ttl = 1;
		if (m & M_EXT)
			s.exthdr = 60;
		if (m & M_URGPTR)
			s.urg = 1;
		if (st->flow == 'I') {
			s.proto = c->ver == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		} else if (st->flow == 'F') {
			/* A later fragment of flow A: no ports to read. */
			s.frag_off = 100;
			s.sport = 40000;
			if (c->ver == 6)
				s.exthdr = 44;
		}
		len = build(gbuf[*n], &s);
		nh = ip_hlen(&s);
		if (m & M_BADSUM)
			gbuf[*n][nh + (s.proto == IPPROTO_TCP ? 16 : 6)] ^=
				0x55;
		if (m & M_BADIP)
			gbuf[*n][10] ^= 0x55;
		if (m & M_NOSUM)
			wr16(gbuf[*n] + nh + 6, 0);
		glens[*n] = len;
		gpkts[*n] = gbuf[*n];
		memcpy(gorig[*n], gbuf[*n], len);
	}
}

/*
 * What the kernel does with a super-packet it has to forward: split at
 * gso_size, headers copied, lengths, IDs, sequence numbers, flags and
 * checksums made per segment. @seg[i] gets segment i; returns the count.
 */
static unsigned int ref_resegment(const uint8_t *sp, uint32_t len,
				  const struct vh *v, uint8_t (*seg)[PKT_BUF],
				  uint32_t *seg_len)
{
	uint32_t nh = v->csum_start, hl = v->hdr_len, gso = v->gso_size;
	uint32_t payload = len - hl, n = (payload + gso - 1) / gso;
	bool tcp = v->gso_type != VIRTIO_NET_HDR_GSO_UDP_L4;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t plen = i + 1 < n ? gso : payload - i * gso;
		uint8_t *s = seg[i];

		memcpy(s, sp, hl);
		memcpy(s + hl, sp + hl + i * gso, plen);
		seg_len[i] = hl + plen;
		if ((s[0] >> 4) == 4) {
			wr16(s + 2, hl + plen);
			wr16(s + 4, rd16(sp + 4) + i);
			ref_ip4_fix(s);
		} else {
			wr16(s + 4, hl + plen - 40);
		}
		if (tcp) {
			wr32(s + nh + 4, rd32(sp + nh + 4) + i * gso);
			if (i > 0)
				s[nh + 13] &= (uint8_t)~0x80;
			if (i + 1 < n)
				s[nh + 13] &= (uint8_t)~0x09;
		} else {
			wr16(s + nh + 4, hl - nh + plen);
		}
		ref_l4_fix(s, nh, tcp ? IPPROTO_TCP : IPPROTO_UDP, hl + plen);
	}
	return n;
}

static uint8_t super[TUN_OFF_PKT_MAX];
static uint8_t reseg[TUN_OFF_SEGS_MAX][PKT_BUF];

/* Which packet an iovec of a unit came from. */
static int owner(const struct iovec *io, unsigned int n)
{
	for (unsigned int j = 0; j < n; j++) {
		const uint8_t *b = io->iov_base;

		if (b >= gpkts[j] && b + io->iov_len == gpkts[j] + glens[j])
			return (int)j;
	}
	return -1;
}

/*
 * Checks what tun_off_coalesce() made of gpkts[0..n) against everything
 * the header promises, and returns the grouping as "0 1|2".
 */
static void check_batch(unsigned int n, char *got, size_t got_len)
{
	int pos[BURST], seen[BURST];
	unsigned int total = 0, w = 0;

	memset(seen, 0, sizeof(seen));
	got[0] = 0;
	for (unsigned int u = 0; u < batch.n_units; u++) {
		const struct tun_off_unit *un = &batch.units[u];
		const struct iovec *io = &batch.iov[un->first_iov];
		struct vh v = get_vh(&un->vh);
		uint32_t sl = 0;
		int prev = -1;

		assert_int_equal(un->n_iov, 1 + un->n_pkts);
		assert_ptr_equal(io[0].iov_base, &un->vh);
		assert_int_equal(io[0].iov_len, 10);
		assert_ptr_equal(io[1].iov_base, gpkts[un->head]);
		if (u)
			assert_true(un->head > batch.units[u - 1].head);
		for (unsigned int k = 1; k < un->n_iov; k++) {
			int j = owner(&io[k], n);

			assert_true(j > prev);
			assert_int_equal(seen[j]++, 0);
			pos[j] = (int)w++;
			prev = j;
			memcpy(super + sl, io[k].iov_base, io[k].iov_len);
			sl += (uint32_t)io[k].iov_len;
			snprintf(got + strlen(got), got_len - strlen(got),
				 "%s%d",
				 k > 1 ? " " :
				 u     ? "|" :
					 "",
				 j);
		}
		assert_int_equal(sl, un->len);
		total += un->n_pkts;
		if (un->n_pkts == 1) {
			static const uint8_t zero[10];

			assert_memory_equal(&un->vh, zero, 10);
			assert_memory_equal(super, gorig[un->head], sl);
			continue;
		}
		/* A super-packet: header fields, then what it splits into. */
		{
			const uint8_t *h = super;
			bool v4 = (h[0] >> 4) == 4;
			uint32_t nh = v4 ? 20 : 40;
			uint8_t proto = v4 ? h[9] : h[6];
			uint32_t hl = nh + (proto == IPPROTO_TCP ?
						    (h[nh + 12] >> 4) * 4u :
						    8);
			bool fixed_id =
				v4 && un->n_pkts > 1 &&
				rd16(gorig[un->head] + 4) ==
					rd16(gorig[owner(&io[2], n)] + 4);
			unsigned int segs;
			uint32_t seg_len[TUN_OFF_SEGS_MAX];

			assert_int_equal(v.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
			assert_int_equal(v.gso_type,
					 proto == IPPROTO_UDP ?
						 VIRTIO_NET_HDR_GSO_UDP_L4 :
					 v4 ? VIRTIO_NET_HDR_GSO_TCPV4 :
					      VIRTIO_NET_HDR_GSO_TCPV6);
			assert_int_equal(v.csum_start, nh);
			assert_int_equal(v.csum_offset,
					 proto == IPPROTO_TCP ? 16 : 6);
			assert_int_equal(v.hdr_len, hl);
			assert_int_equal(v.gso_size, glens[un->head] - hl);
			assert_true(un->n_pkts <= TUN_OFF_SEGS_MAX);
			assert_true(sl <= TUN_OFF_GRO_LEN_MAX);
			if (v4) {
				assert_int_equal(rd16(h + 2), sl);
				assert_true(ref_ip4_ok(h));
			} else {
				assert_int_equal(rd16(h + 4), sl - 40);
			}
			if (proto == IPPROTO_UDP)
				assert_int_equal(rd16(h + nh + 4), sl - nh);
			assert_int_equal(rd16(h + v.csum_start + v.csum_offset),
					 ref_seed(h, nh, proto, sl));
			segs = ref_resegment(super, sl, &v, reseg, seg_len);
			assert_int_equal(segs, un->n_pkts);
			for (unsigned int k = 0; k < segs; k++) {
				int j = owner(&io[1 + k], n);
				uint8_t a[PKT_BUF];

				assert_int_equal(seg_len[k], glens[j]);
				assert_true(ref_l4_ok(gorig[j], nh, proto,
						      glens[j]));
				memcpy(a, gorig[j], glens[j]);
				/* Fixed IDs come back increasing (DF set). */
				if (fixed_id) {
					memcpy(a + 4, reseg[k] + 4, 2);
					memcpy(a + 10, reseg[k] + 10, 2);
				}
				assert_memory_equal(reseg[k], a, glens[j]);
			}
		}
	}
	assert_int_equal(total, n);
	for (unsigned int j = 0; j < n; j++)
		assert_int_equal(seen[j], 1);
	/* Packets of one flow in order: same addresses, protocol, ports. */
	for (unsigned int i = 0; i < n; i++) {
		for (unsigned int j = i + 1; j < n; j++) {
			const uint8_t *a = gorig[i], *b = gorig[j];
			bool v4 = (a[0] >> 4) == 4;
			uint32_t na = v4 ? (a[0] & 15u) * 4 : 40;
			uint32_t nb = v4 ? (b[0] & 15u) * 4 : 40;

			if ((a[0] >> 4) != (b[0] >> 4) ||
			    (v4 ? a[9] != b[9] : a[6] != b[6]) ||
			    memcmp(a + (v4 ? 12 : 8), b + (v4 ? 12 : 8),
				   v4 ? 8 : 32) ||
			    memcmp(a + na, b + nb, 4))
				continue;
			assert_true(pos[i] < pos[j]);
		}
	}
}

static void test_offload_gro_table(void **state)
{
	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(gro_cases); k++) {
		const struct gro_case *c = &gro_cases[k];
		struct tun_off_stats st = { 0 };
		char got[256];
		unsigned int n, done;

		build_steps(c, &n);
		done = tun_off_coalesce(&batch, gpkts, glens, n, c->udp, &st);
		assert_int_equal(done, n);
		check_batch(n, got, sizeof(got));
		if (strcmp(got, c->want))
			fail_msg("%s: units \"%s\", want \"%s\"", c->name, got,
				 c->want);
		assert_int_equal(st.gro_pkts, n);
		assert_int_equal(st.gro_units, batch.n_units);
	}
}

/* Runs of one flow until the 64 KiB or the segment cap. */
static void test_offload_gro_limits(void **state)
{
	struct tun_off_stats st = { 0 };
	char got[1024], want[1024] = "";
	unsigned int n = 50, k;

	(void)state;
	for (k = 0; k < n; k++) {
		struct pkt_spec s = tcp_spec(4);

		s.payload = 1400;
		s.seq += k * 1400;
		s.id = (uint16_t)(s.id + k);
		s.fill = k;
		glens[k] = build(gbuf[k], &s);
		gpkts[k] = gbuf[k];
		memcpy(gorig[k], gbuf[k], glens[k]);
	}
	assert_int_equal(tun_off_coalesce(&batch, gpkts, glens, n, false, &st),
			 n);
	check_batch(n, got, sizeof(got));
	/* 52 bytes of headers + 46 * 1400 <= 65535 < 52 + 47 * 1400 */
	for (k = 0; k < n; k++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 "%s%u",
			 !k	 ? "" :
			 k == 46 ? "|" :
				   " ",
			 k);
	assert_string_equal(got, want);
	assert_int_equal(st.gro_supers, 2);
	assert_int_equal(st.gro_merged, 50);

	n = 70;
	want[0] = 0;
	for (k = 0; k < n; k++) {
		struct pkt_spec s = udp_spec(6);

		s.payload = 100;
		s.fill = k;
		glens[k] = build(gbuf[k], &s);
		gpkts[k] = gbuf[k];
		memcpy(gorig[k], gbuf[k], glens[k]);
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 "%s%u",
			 !k	 ? "" :
			 k == 64 ? "|" :
				   " ",
			 k);
	}
	assert_int_equal(tun_off_coalesce(&batch, gpkts, glens, n, true, NULL),
			 n);
	check_batch(n, got, sizeof(got));
	assert_string_equal(got, want);
}

/*
 * More flows than the table holds, round robin: the oldest is closed,
 * order within each flow holds. Then exactly as many: all merge.
 */
static void test_offload_gro_many_flows(void **state)
{
	char got[1024];

	(void)state;
	for (unsigned int flows = 12; flows >= TUN_OFF_GRO_FLOWS; flows -= 4) {
		unsigned int n = 3 * flows;

		for (unsigned int k = 0; k < n; k++) {
			struct pkt_spec s = tcp_spec(k % 2 ? 6 : 4);
			unsigned int f = k % flows, r = k / flows;

			s.sport = (uint16_t)(1000 + f);
			s.seq += r * 1000;
			s.id = (uint16_t)(s.id + r);
			s.fill = k;
			glens[k] = build(gbuf[k], &s);
			gpkts[k] = gbuf[k];
			memcpy(gorig[k], gbuf[k], glens[k]);
		}
		tun_off_coalesce(&batch, gpkts, glens, n, false, NULL);
		check_batch(n, got, sizeof(got));
		assert_int_equal(batch.n_units,
				 flows == TUN_OFF_GRO_FLOWS ? flows : n);
	}
}

/* At most TUN_OFF_BURST_MAX packets a call; the rest in the next. */
static void test_offload_gro_burst_cap(void **state)
{
	char got[4096];
	unsigned int n = BURST, done;

	(void)state;
	for (unsigned int k = 0; k < n; k++) {
		struct pkt_spec s = udp_spec(4);

		s.payload = 10;
		s.sport = (uint16_t)(1000 + k % 3);
		s.fill = k;
		glens[k] = build(gbuf[k], &s);
		gpkts[k] = gbuf[k];
		memcpy(gorig[k], gbuf[k], glens[k]);
	}
	done = tun_off_coalesce(&batch, gpkts, glens, n, true, NULL);
	assert_int_equal(done, TUN_OFF_BURST_MAX);
	check_batch(done, got, sizeof(got));
	assert_int_equal(batch.n_units, 3 * 2); /* 85 or 86 each, in 64s */
}

/* Odd packets are units of their own and are not touched. */
static void test_offload_gro_garbage(void **state)
{
	static const uint8_t junk[][4] = { { 0 }, { 0x45 }, { 0x60 }, { 0xff } };
	char got[256];
	unsigned int n = 0;

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(junk); k++) {
		memcpy(gbuf[n], junk[k], 4);
		memcpy(gorig[n], junk[k], 4);
		gpkts[n] = gbuf[n];
		glens[n++] = (uint32_t)(k % 2 ? 4 : k);
	}
	tun_off_coalesce(&batch, gpkts, glens, n, true, NULL);
	check_batch(n, got, sizeof(got));
	assert_string_equal(got, "0|1|2|3");
	assert_int_equal(tun_off_coalesce(&batch, gpkts, glens, 0, true, NULL),
			 0);
	assert_int_equal(batch.n_units, 0);
}

/*
 * Round trip: split a super-packet as the read path does, coalesce the
 * pieces as the write path does, and get the super-packet back: same
 * bytes (the L4 checksum field holding the seed, as the kernel's does)
 * and the same vnet header but for hdr_len, which we set to the headers.
 */
static void test_offload_round_trip(void **state)
{
	static const struct {
		int ver;
		uint8_t proto;
		uint32_t payload;
		uint16_t gso;
	} cases[] = {
		{ 4, IPPROTO_TCP, 20000, 1448 },
		{ 6, IPPROTO_TCP, 9000, 1428 },
		{ 4, IPPROTO_TCP, 65535 - 52, 1448 },
		{ 4, IPPROTO_UDP, 5000, 1200 },
		{ 6, IPPROTO_UDP, 6000, 1000 },
		{ 6, IPPROTO_UDP, 64 * 100, 100 },
	};

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
		struct pkt_spec s = cases[k].proto == IPPROTO_TCP ?
					    tcp_spec(cases[k].ver) :
					    udp_spec(cases[k].ver);
		struct vh v, w;
		uint32_t flen, sl = 0;
		int n;

		s.payload = cases[k].payload;
		s.flags = 0x18;
		flen = build_frame(frame, &s, cases[k].gso, false);
		memcpy(orig, frame, flen);
		n = tun_off_split(frame, flen, outs, SEG_MAX, lens, OUTS, NULL);
		assert_true(n > 1);
		assert_int_equal(tun_off_coalesce(&batch, outs, lens,
						  (unsigned int)n, true, NULL),
				 n);
		assert_int_equal(batch.n_units, 1);
		for (unsigned int i = 1; i < batch.units[0].n_iov; i++) {
			memcpy(super + sl, batch.iov[i].iov_base,
			       batch.iov[i].iov_len);
			sl += (uint32_t)batch.iov[i].iov_len;
		}
		assert_int_equal(sl, flen - 10);
		assert_memory_equal(super, orig + 10, sl);
		v = get_vh(orig);
		w = get_vh(&batch.units[0].vh);
		v.hdr_len = (uint16_t)(ip_hlen(&s) + l4_hlen(&s));
		assert_memory_equal(&v, &w, sizeof(v));
	}
}

/* ---- Seed corpora for tests/fuzz ---- */

static void write_file(const char *dir, const char *name, const void *p,
		       size_t len)
{
	char path[4096];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		fprintf(stderr, "%s/%s: path too long\n", dir, name);
		exit(1);
	}
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* vnet_read input: seg_max (2 bytes), max_out, mode, then the frame. */
static void seed_read(const char *dir, const char *name, uint16_t seg_max,
		      uint8_t max_out, uint8_t mode, const uint8_t *f,
		      uint32_t flen)
{
	static uint8_t in[4 + TUN_OFF_READ_LEN];

	wr16(in, seg_max);
	in[2] = max_out;
	in[3] = mode;
	memcpy(in + 4, f, flen);
	write_file(dir, name, in, 4 + flen);
}

/* gro input: flags (1: UDP GRO, 2: raw), then len16 + packet. */
static void seed_gro(const char *dir, const char *name, uint8_t flags,
		     unsigned int n)
{
	static uint8_t in[BURST * (PKT_BUF + 2) + 1];
	size_t len = 1;

	in[0] = flags;
	for (unsigned int k = 0; k < n; k++) {
		wr16(in + len, glens[k]);
		memcpy(in + len + 2, gbuf[k], glens[k]);
		len += 2 + glens[k];
	}
	write_file(dir, name, in, len);
}

static int write_corpus(const char *dir)
{
	static const struct {
		const char *name;
		int ver;
		uint8_t proto;
		uint32_t payload;
		uint16_t gso;
		bool ecn;
	} reads[] = {
		{ "tso4", 4, IPPROTO_TCP, 3500, 1000, false },
		{ "tso4-ecn", 4, IPPROTO_TCP, 2000, 1000, true },
		{ "tso6", 6, IPPROTO_TCP, 3000, 1200, false },
		{ "uso4", 4, IPPROTO_UDP, 2500, 800, false },
		{ "uso6", 6, IPPROTO_UDP, 2400, 800, false },
		{ "csum-tcp4", 4, IPPROTO_TCP, 300, 0, false },
		{ "csum-udp6", 6, IPPROTO_UDP, 301, 0, false },
	};
	char sub[4096];
	uint32_t flen;
	struct pkt_spec s;
	unsigned int n;

	snprintf(sub, sizeof(sub), "%s/vnet_read", dir);
	mkdir(dir, 0755);
	mkdir(sub, 0755);
	for (size_t k = 0; k < ARRAY_SIZE(reads); k++) {
		s = reads[k].proto == IPPROTO_TCP ? tcp_spec(reads[k].ver) :
						    udp_spec(reads[k].ver);
		s.payload = reads[k].payload;
		s.flags = 0x19;
		flen = build_frame(frame, &s, reads[k].gso, reads[k].ecn);
		seed_read(sub, reads[k].name, 1500, 64, 0, frame, flen);
		/* In place (bit 7), and too few buffers. */
		if (k == 0) {
			seed_read(sub, "tso4-in-place", 1500, 0x80 | 64, 0,
				  frame, flen);
			seed_read(sub, "tso4-few-outs", 1500, 2, 0, frame,
				  flen);
			/* Raw: the total length stays wrong. */
			wr16(frame + 12, flen - 11);
			seed_read(sub, "tso4-raw-bad-length", 1500, 64, 1,
				  frame, flen);
			wr16(frame + 12, flen - 10);
			frame[4] = frame[5] = 0;
			seed_read(sub, "bad-gso-size", 1500, 64, 0, frame,
				  flen);
		}
	}
	s = tcp_spec(6);
	s.exthdr = 60;
	flen = build_frame(frame, &s, 0, false);
	seed_read(sub, "csum-deep", 1500, 64, 0, frame, flen);
	memset(frame, 0, 10);
	seed_read(sub, "plain", 1500, 64, 0, frame, flen);
	s = tcp_spec(4);
	flen = build_frame(frame, &s, 1000, false);
	frame[10] = 0x44;
	seed_read(sub, "bad-ihl", 1500, 64, 0, frame, flen);

	snprintf(sub, sizeof(sub), "%s/gro", dir);
	mkdir(sub, 0755);
	for (size_t k = 0; k < ARRAY_SIZE(gro_cases); k++) {
		static const char *const pick[] = {
			"tcp4 psh on the last",
			"tcp4 smaller in the middle",
			"tcp4 other ack",
			"tcp4 other option bytes",
			"tcp4 syn",
			"tcp4 ce after ect",
			"tcp4 fixed ids with df",
			"tcp4 id jump",
			"tcp4 bad checksum second",
			"tcp4 two flows interleaved",
			"tcp4 icmp between",
			"tcp4 fragment barrier",
			"tcp6 run",
			"tcp6 extension header barrier",
			"udp4 run",
			"udp4 zero checksum",
			"udp6 run",
		};
		const struct gro_case *c = &gro_cases[k];
		uint8_t flags = c->udp ? 1 : 0;
		char name[64];
		size_t i = 0;
		bool want = false;

		for (size_t j = 0; j < ARRAY_SIZE(pick); j++)
			want |= !strcmp(pick[j], c->name);
		if (!want)
			continue;
		build_steps(c, &n);
		for (i = 0; i < n; i++)
			if (c->steps[i].mut & (M_BADSUM | M_BADIP | M_NOSUM))
				flags |= 2; /* keep what is wrong wrong */
		i = 0;
		for (const char *p = c->name; *p && i < sizeof(name) - 1; p++)
			name[i++] = *p == ' ' || *p == ',' ? '-' : *p;
		name[i] = 0;
		seed_gro(sub, name, flags, n);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offload_split_table),
		cmocka_unit_test(test_offload_split_udp_zero_checksum),
		cmocka_unit_test(test_offload_needs_csum),
		cmocka_unit_test(test_offload_needs_csum_deep),
		cmocka_unit_test(test_offload_plain_untouched),
		cmocka_unit_test(test_offload_rejects),
		cmocka_unit_test(test_offload_err_names),
		cmocka_unit_test(test_offload_gro_table),
		cmocka_unit_test(test_offload_gro_limits),
		cmocka_unit_test(test_offload_gro_many_flows),
		cmocka_unit_test(test_offload_gro_burst_cap),
		cmocka_unit_test(test_offload_gro_garbage),
		cmocka_unit_test(test_offload_round_trip),
	};

	if (argc == 3 && !strcmp(argv[1], "--write-corpus"))
		return write_corpus(argv[2]);
	return cmocka_run_group_tests(tests, setup_outs, NULL);
}
