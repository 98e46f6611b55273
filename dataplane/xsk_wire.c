/* SPDX-License-Identifier: MIT */
#include "xsk_wire.h"

#include <string.h>
#include <netinet/in.h>

/*
 * Offsets are checked before every read: @len is what the kernel says the
 * frame holds, and nothing in it is trusted.
 */

enum {
	ETH_HLEN_ = 14,
	VLAN_HLEN = 4,
	IP4_HLEN = 20,
	IP6_HLEN = 40,
	UDP_HLEN = 8,
};

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

enum dp_xw_result dp_xw_parse(uint8_t *frame, uint32_t len, uint16_t port_be,
			      struct dp_pkt *out)
{
	uint32_t off = 12, ip_len, udp_len;
	uint16_t type;
	uint8_t *ip, *udp;

	if (len < ETH_HLEN_)
		return DP_XW_BAD_L2;
	type = get16(frame + off);
	for (int tags = 0; type == 0x8100 || type == 0x88a8; tags++) {
		if (tags == 2 || len < off + 2 + VLAN_HLEN + 2)
			return DP_XW_BAD_L2;
		off += VLAN_HLEN;
		type = get16(frame + off);
	}
	off += 2;
	ip = frame + off;
	memset(&out->addr, 0, sizeof(out->addr));
	out->addr.sin6_family = AF_INET6;

	if (type == 0x0800) {
		uint32_t ihl;
		uint16_t frag;

		if (len - off < IP4_HLEN || ip[0] >> 4 != 4)
			return DP_XW_BAD_L3;
		ihl = (uint32_t)(ip[0] & 0xf) * 4;
		ip_len = get16(ip + 2);
		frag = get16(ip + 6);
		if (ihl < IP4_HLEN || ip_len < ihl || ip_len > len - off ||
		    frag & 0x3fff || ip[9] != IPPROTO_UDP)
			return DP_XW_BAD_L3;
		out->addr.sin6_addr.s6_addr[10] = 0xff;
		out->addr.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&out->addr.sin6_addr.s6_addr[12], ip + 12, 4);
		udp = ip + ihl;
		ip_len -= ihl;
	} else if (type == 0x86dd) {
		if (len - off < IP6_HLEN || ip[0] >> 4 != 6)
			return DP_XW_BAD_L3;
		ip_len = get16(ip + 4);
		if (ip_len > len - off - IP6_HLEN || ip[6] != IPPROTO_UDP)
			return DP_XW_BAD_L3;
		memcpy(&out->addr.sin6_addr, ip + 8, 16);
		udp = ip + IP6_HLEN;
	} else {
		return DP_XW_BAD_L2;
	}

	if (ip_len < UDP_HLEN)
		return DP_XW_BAD_L4;
	udp_len = get16(udp + 4);
	if (udp_len < UDP_HLEN || udp_len > ip_len)
		return DP_XW_BAD_L4;
	if (memcmp(udp + 2, &port_be, 2))
		return DP_XW_BAD_L4;
	if (type == 0x86dd && !get16(udp + 6))
		return DP_XW_BAD_L4;
	memcpy(&out->addr.sin6_port, udp, 2);
	out->data = udp + UDP_HLEN;
	out->len = udp_len - UDP_HLEN;
	return DP_XW_OK;
}

static bool is_v4(const struct in6_addr *a)
{
	static const uint8_t pfx[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a->s6_addr, pfx, sizeof(pfx));
}

uint32_t dp_xw_build(const struct dp_nh_entry *e, const struct dp_pkt *pkt,
		     uint16_t src_port_be, uint16_t ip_id, uint8_t *frame,
		     uint32_t room)
{
	bool v4 = is_v4(&pkt->addr.sin6_addr);
	uint32_t l2 = ETH_HLEN_ + (e->vlan ? VLAN_HLEN : 0);
	uint32_t l3 = v4 ? IP4_HLEN : IP6_HLEN;
	uint32_t udp_len = UDP_HLEN + pkt->len;
	uint8_t *ip = frame + l2, *udp = ip + l3;

	if (l2 + l3 + udp_len > room || (e->mtu && l3 + udp_len > e->mtu))
		return 0;

	memcpy(frame, e->dst_mac, 6);
	memcpy(frame + 6, e->src_mac, 6);
	if (e->vlan) {
		put16(frame + 12, 0x8100);
		put16(frame + 14, e->vlan & 0xfff);
	}
	put16(ip - 2, v4 ? 0x0800 : 0x86dd);

	memcpy(udp, &src_port_be, 2);
	memcpy(udp + 2, &pkt->addr.sin6_port, 2);
	put16(udp + 4, (uint16_t)udp_len);
	put16(udp + 6, 0);
	memcpy(udp + UDP_HLEN, pkt->data, pkt->len);

	if (v4) {
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, (uint16_t)(IP4_HLEN + udp_len));
		put16(ip + 4, ip_id);
		/*
		 * No DF. The kernel socket sets it and, told by an ICMP
		 * that the path is narrower, fragments later datagrams
		 * itself; a frame built here never learns the path MTU, so
		 * a router must be allowed to fragment it rather than drop
		 * it into a black hole.
		 */
		put16(ip + 6, 0);
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		put16(ip + 10, 0);
		memcpy(ip + 12, &e->src.s6_addr[12], 4);
		memcpy(ip + 16, &pkt->addr.sin6_addr.s6_addr[12], 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, IP4_HLEN)));
	} else {
		uint32_t sum;
		uint16_t c;

		put16(ip, 0x6000);
		put16(ip + 2, 0);
		put16(ip + 4, (uint16_t)udp_len);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, &e->src, 16);
		memcpy(ip + 24, &pkt->addr.sin6_addr, 16);
		/* Pseudo-header: addresses, length, next header. */
		sum = csum_add(0, ip + 8, 32);
		sum += udp_len + IPPROTO_UDP;
		c = csum_fold(csum_add(sum, udp, udp_len));
		put16(udp + 6, c ? c : 0xffff);
	}
	return l2 + l3 + udp_len;
}
