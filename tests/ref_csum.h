/* SPDX-License-Identifier: MIT */
#ifndef TESTS_REF_CSUM_H
#define TESTS_REF_CSUM_H

/*
 * The reference the offload tests and fuzzers (tests/unit/test_offload.c,
 * tests/fuzz/fuzz_gro.c, tests/fuzz/fuzz_vnet_read.c) check tun/offload.c
 * against: an independent RFC 1071 Internet checksum, deliberately simple
 * (one byte at a time, the pseudo-header written out as bytes), and the
 * big-endian field accessors it needs. It must never use the library's
 * code: a bug shared by both would go unseen.
 *
 * @ip points at an IPv4 or IPv6 header (the version nibble decides), @nh
 * is the offset of the TCP/UDP header in it and @len the packet's length.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

/* A fuzzer's check: anything but "no crash" is reported by aborting. */
static inline void need(bool ok)
{
	if (!ok)
		abort();
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static inline void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v);
}

/* RFC 1071, a byte at a time: @acc plus the 16-bit words of @p. */
static inline uint64_t ref_add(uint64_t acc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		acc += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	return acc;
}

static inline uint16_t ref_fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* Sum of the pseudo-header, written out as bytes. */
static inline uint64_t ref_pseudo(const uint8_t *ip, uint8_t proto,
				  uint32_t l4_len)
{
	uint8_t ph[40] = { 0 };

	if ((ip[0] >> 4) == 4) {
		memcpy(ph, ip + 12, 8);
		ph[9] = proto;
		wr16(ph + 10, l4_len);
		return ref_add(0, ph, 12);
	}
	memcpy(ph, ip + 8, 32);
	wr32(ph + 32, l4_len);
	ph[39] = proto;
	return ref_add(0, ph, 40);
}

/* The IPv4 header checksum, over the IHL the header gives. */
static inline bool ref_ip4_ok(const uint8_t *ip)
{
	return ref_fold(ref_add(0, ip, (ip[0] & 15u) * 4)) == 0xffff;
}

static inline void ref_ip4_fix(uint8_t *ip)
{
	wr16(ip + 10, 0);
	wr16(ip + 10, (uint16_t)~ref_fold(ref_add(0, ip, (ip[0] & 15u) * 4)));
}

/* The TCP or UDP checksum, pseudo-header included. */
static inline bool ref_l4_ok(const uint8_t *ip, uint32_t nh, uint8_t proto,
			     uint32_t len)
{
	return ref_fold(ref_add(ref_pseudo(ip, proto, len - nh), ip + nh,
				len - nh)) == 0xffff;
}

/* Writes it; a sum of 0 goes out as 0xffff (for UDP, 0 means none). */
static inline void ref_l4_fix(uint8_t *ip, uint32_t nh, uint8_t proto,
			      uint32_t len)
{
	uint8_t *f = ip + nh + (proto == IPPROTO_TCP ? 16 : 6);
	uint16_t c;

	wr16(f, 0);
	c = (uint16_t)~ref_fold(
		ref_add(ref_pseudo(ip, proto, len - nh), ip + nh, len - nh));
	wr16(f, c ? c : 0xffff);
}

#endif /* TESTS_REF_CSUM_H */
