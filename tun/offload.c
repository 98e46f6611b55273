/* SPDX-License-Identifier: MIT */
/*
 * TUN offloads: segmentation on read, coalescing on write.
 *
 * With TUNSETOFFLOAD the kernel treats the TUN as a NIC with checksum
 * offload, TSO and USO: it hands us TCP and UDP super-packets of up to
 * 64 KiB whose checksums are only seeded, and expects us to do the NIC's
 * work. The vnet header in front says what is left to do, but it comes
 * from an skb's metadata, not from the bytes we are about to send into
 * the tunnel, so every field is checked against the packet itself before
 * it is used (the kernel's own virtio_net_hdr_to_skb() does the same on
 * the other direction; tcp_gso_segment() and __udp_gso_segment() are what
 * our segments must look like). hdr_len is not used at all: tun fills it
 * with skb_headlen(), which says nothing about where the headers end.
 *
 * Segments are rebuilt whole, each header from the super-packet's and each
 * checksum from scratch over the segment, instead of adjusting the seed
 * incrementally as the kernel does: a seed we did not compute cannot make
 * a segment's checksum wrong.
 *
 * On write, the reverse: runs of segments of one flow become one
 * super-packet with a GSO header and NEEDS_CSUM, the L4 checksum field
 * seeded with the pseudo-header sum (what __tcp_v4_send_check() leaves
 * there), so the kernel sees one skb where it would have seen many. The
 * rules are Linux's GRO rules (tcp_gro_receive(), inet_gro_flush(),
 * ipv6_gro_flush()) or stricter, so that whatever the kernel does with the
 * super-packet, deliver it or segment it again to forward it, the result
 * is the packets we were given. The kernel does not check the checksum of
 * a NEEDS_CSUM packet, so we check every segment's before merging it.
 *
 * Checksums: ones' complement sums (RFC 1071) of 16-bit words. The bulk
 * sum runs on host-order words, 8 bytes at a time, and is converted to a
 * wire-order value once folded (RFC 1071 2(B): byte order independence);
 * everything else (pseudo-headers, fields) is added as wire-order values.
 */
#include "offload.h"

#include <assert.h>
#include <endian.h>
#include <stddef.h>
#include <string.h>
#include <netinet/in.h>

_Static_assert(sizeof(struct virtio_net_hdr) == TUN_VNET_HDR_LEN,
	       "the 10-byte legacy vnet header");

enum {
	IP4_HLEN = 20,
	IP6_HLEN = 40,
	TCP_HLEN = 20,
	UDP_HLEN = 8,
	TCP_CSUM_OFF = 16, /* offsetof(struct tcphdr, check) */
	UDP_CSUM_OFF = 6, /* offsetof(struct udphdr, check) */
	IP4_DF = 0x4000,
	IP4_MF = 0x2000,
	IP4_OFFSET = 0x1fff,
};

/* TCP flags, byte 13 of the header. */
enum {
	TCPF_FIN = 0x01,
	TCPF_PSH = 0x08,
	TCPF_ACK = 0x10,
	TCPF_CWR = 0x80,
};

static const char *const err_names[TUN_OFF_E_MAX] = {
	[TUN_OFF_E_NONE] = "none",
	[TUN_OFF_E_SHORT] = "short",
	[TUN_OFF_E_FLAGS] = "flags",
	[TUN_OFF_E_GSO_TYPE] = "gso_type",
	[TUN_OFF_E_GSO_SIZE] = "gso_size",
	[TUN_OFF_E_HDR_LEN] = "hdr_len",
	[TUN_OFF_E_CSUM_START] = "csum_start",
	[TUN_OFF_E_CSUM_OFFSET] = "csum_offset",
	[TUN_OFF_E_NO_CSUM] = "no_csum",
	[TUN_OFF_E_IP_VERSION] = "ip_version",
	[TUN_OFF_E_IP_HDR] = "ip_hdr",
	[TUN_OFF_E_IP_LEN] = "ip_len",
	[TUN_OFF_E_IP_FRAG] = "ip_frag",
	[TUN_OFF_E_L4_PROTO] = "l4_proto",
	[TUN_OFF_E_L4_HDR] = "l4_hdr",
	[TUN_OFF_E_NO_PAYLOAD] = "no_payload",
	[TUN_OFF_E_TOO_BIG] = "too_big",
	[TUN_OFF_E_TOO_MANY] = "too_many",
};

const char *tun_off_err_name(int err)
{
	if (err < 0)
		err = -err;
	return err < TUN_OFF_E_MAX ? err_names[err] : NULL;
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t fold(uint64_t s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/*
 * Folded sum of @len bytes from @p as a wire-order value. @p must be at an
 * even offset of the checksummed range; an odd tail counts as a word with
 * a zero low byte.
 */
static uint16_t sum_wire(const uint8_t *p, size_t len)
{
	uint64_t s = 0;

	/* 64K of 32-bit halves stays far below 2^64. */
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		s += (v & 0xffffffff) + (v >> 32);
	}
	if (len >= 4) {
		uint32_t v;

		memcpy(&v, p, 4);
		s += v;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t v;

		memcpy(&v, p, 2);
		s += v;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t v = 0;

		memcpy(&v, p, 1);
		s += v;
	}
	return be16toh(fold(s));
}

/* Pseudo-header sum (RFC 793, RFC 8200 8.1), unfolded, wire order. */
static uint32_t pseudo(const uint8_t *ip, unsigned int ver, uint8_t proto,
		       uint32_t l4_len)
{
	uint32_t s = proto + (l4_len >> 16) + (l4_len & 0xffff);

	if (ver == 4)
		return s + sum_wire(ip + 12, 8);
	return s + sum_wire(ip + 8, 32);
}

/*
 * The checksum field's value for a sum: a result of 0 is sent as 0xffff,
 * equal in ones' complement, because 0 in a UDP/IPv4 header means "no
 * checksum" (skb_checksum_help() and __udp_gso_segment() do the same).
 */
static inline uint16_t csum_field(uint32_t s)
{
	uint16_t c = (uint16_t)~fold(s);

	return c ? c : 0xffff;
}

static void ip4_set_csum(uint8_t *ip, unsigned int ihl)
{
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~fold(sum_wire(ip, ihl)));
}

/* The L4 checksum of @l4_len bytes at @ip + @nh, written at @csum_off. */
static void l4_set_csum(uint8_t *ip, unsigned int ver, uint32_t nh,
			uint8_t proto, uint32_t l4_len, uint32_t csum_off)
{
	uint8_t *l4 = ip + nh;

	put16(l4 + csum_off, 0);
	put16(l4 + csum_off, csum_field(pseudo(ip, ver, proto, l4_len) +
					sum_wire(l4, l4_len)));
}

/* ---- Read path ---- */

struct vnet {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

/* What parse_ip() and parse_l4() learnt about the packet. */
struct hdrs {
	unsigned int ver;
	uint32_t nh; /* IP header length */
	uint8_t proto; /* IPv4 protocol, IPv6 next header */
	uint32_t l4; /* TCP or UDP header length */
};

static void vnet_decode(struct vnet *v, const uint8_t *frame)
{
	struct virtio_net_hdr h;

	memcpy(&h, frame, sizeof(h));
	v->flags = h.flags;
	v->gso_type = h.gso_type;
	v->hdr_len = le16toh(h.hdr_len);
	v->gso_size = le16toh(h.gso_size);
	v->csum_start = le16toh(h.csum_start);
	v->csum_offset = le16toh(h.csum_offset);
}

/*
 * The IP header of a packet we are going to change: lengths that agree
 * with the frame (a GSO frame's IPv4 total length is the super-packet's,
 * set by __ip_local_out() or inet_gro_complete()), a valid IPv4 header
 * checksum, and no fragment, which can carry neither GSO nor a partial
 * checksum (fragmenting completes it first).
 */
static int parse_ip(const uint8_t *pkt, uint32_t len, struct hdrs *h)
{
	h->ver = pkt[0] >> 4;
	if (h->ver == 4) {
		if (len < IP4_HLEN)
			return -TUN_OFF_E_SHORT;
		h->nh = (pkt[0] & 0x0fu) * 4;
		if (h->nh < IP4_HLEN || h->nh > len)
			return -TUN_OFF_E_IP_HDR;
		if (get16(pkt + 2) != len)
			return -TUN_OFF_E_IP_LEN;
		if (fold(sum_wire(pkt, h->nh)) != 0xffff)
			return -TUN_OFF_E_IP_HDR;
		if (get16(pkt + 6) & (IP4_MF | IP4_OFFSET))
			return -TUN_OFF_E_IP_FRAG;
		h->proto = pkt[9];
	} else if (h->ver == 6) {
		if (len < IP6_HLEN)
			return -TUN_OFF_E_SHORT;
		/* 0 would be a jumbogram; gso_max_size keeps us below 64K. */
		if ((uint32_t)get16(pkt + 4) + IP6_HLEN != len)
			return -TUN_OFF_E_IP_LEN;
		h->nh = IP6_HLEN;
		h->proto = pkt[6];
	} else {
		return -TUN_OFF_E_IP_VERSION;
	}
	return 0;
}

/* The TCP or UDP header at h->nh. */
static int parse_l4(const uint8_t *pkt, uint32_t len, struct hdrs *h)
{
	const uint8_t *l4 = pkt + h->nh;
	uint32_t room = len - h->nh;

	if (h->proto == IPPROTO_TCP) {
		if (room < TCP_HLEN)
			return -TUN_OFF_E_SHORT;
		h->l4 = (l4[12] >> 4) * 4u;
		if (h->l4 < TCP_HLEN || h->l4 > room)
			return -TUN_OFF_E_L4_HDR;
	} else {
		if (room < UDP_HLEN)
			return -TUN_OFF_E_SHORT;
		if (get16(l4 + 4) != room)
			return -TUN_OFF_E_L4_HDR;
		h->l4 = UDP_HLEN;
	}
	return 0;
}

static int plain(const uint8_t *pkt, uint32_t len, uint8_t *const *outs,
		 uint32_t seg_max, uint32_t *lens, unsigned int max_out)
{
	if (len > seg_max)
		return -TUN_OFF_E_TOO_BIG;
	if (!max_out)
		return -TUN_OFF_E_TOO_MANY;
	if (outs[0] != pkt)
		memcpy(outs[0], pkt, len);
	lens[0] = len;
	return 1;
}

/*
 * GSO_NONE with NEEDS_CSUM. When csum_start is the packet's own TCP or UDP
 * header we compute the checksum ourselves, seed included. Anywhere
 * further in (IPv6 extension headers, or a tunnel's inner TCP header with
 * the outer checksum done by LCO) we do what a NIC and
 * skb_checksum_help() do: sum from csum_start to the end, seed included,
 * and store the result at csum_offset.
 */
static int complete(uint8_t *pkt, uint32_t len, const struct vnet *v,
		    struct hdrs *h, uint8_t *const *outs, uint32_t seg_max,
		    uint32_t *lens, unsigned int max_out)
{
	uint32_t cs = v->csum_start, off = v->csum_offset;
	bool own = false;
	int err;

	if (h->proto == IPPROTO_TCP) {
		/* TCP carries nothing a checksum could start inside. */
		if (cs != h->nh)
			return -TUN_OFF_E_CSUM_START;
		if (off != TCP_CSUM_OFF)
			return -TUN_OFF_E_CSUM_OFFSET;
		own = true;
	} else if (h->proto == IPPROTO_UDP) {
		if (cs > h->nh && cs < h->nh + UDP_HLEN)
			return -TUN_OFF_E_CSUM_START;
		if (cs == h->nh && off != UDP_CSUM_OFF)
			return -TUN_OFF_E_CSUM_OFFSET;
		own = cs == h->nh;
	}
	if (own && (err = parse_l4(pkt, len, h)))
		return err;
	if (len > seg_max)
		return -TUN_OFF_E_TOO_BIG;
	if (!max_out)
		return -TUN_OFF_E_TOO_MANY;

	if (own)
		l4_set_csum(pkt, h->ver, h->nh, h->proto, len - h->nh, off);
	else
		put16(pkt + cs + off, csum_field(sum_wire(pkt + cs, len - cs)));
	return plain(pkt, len, outs, seg_max, lens, max_out);
}

/* Segment @i of @n: its headers from the super-packet's, then checksums. */
static void fix_segment(uint8_t *out, const struct hdrs *h, bool tcp,
			unsigned int i, unsigned int n, uint32_t off,
			uint32_t plen, uint16_t id0, uint32_t seq0)
{
	uint32_t hl = h->nh + h->l4;
	uint8_t *l4 = out + h->nh;

	if (h->ver == 4) {
		put16(out + 2, hl + plen);
		put16(out + 4, (uint16_t)(id0 + i));
		ip4_set_csum(out, h->nh);
	} else {
		put16(out + 4, hl + plen - IP6_HLEN);
	}
	if (tcp) {
		put32(l4 + 4, seq0 + off);
		/*
		 * tcp_gso_segment(): CWR went out once, with the first
		 * segment; FIN and PSH belong to the last byte.
		 */
		if (i > 0)
			l4[13] &= (uint8_t)~TCPF_CWR;
		if (i + 1 < n)
			l4[13] &= (uint8_t) ~(TCPF_FIN | TCPF_PSH);
		l4_set_csum(out, h->ver, h->nh, IPPROTO_TCP, h->l4 + plen,
			    TCP_CSUM_OFF);
	} else {
		put16(l4 + 4, UDP_HLEN + plen);
		l4_set_csum(out, h->ver, h->nh, IPPROTO_UDP, UDP_HLEN + plen,
			    UDP_CSUM_OFF);
	}
}

#ifndef NDEBUG
/* The contract on outs: only outs[0] may be the packet, none overlap it. */
static bool outs_apart(const uint8_t *pkt, uint32_t len, uint8_t *const *outs,
		       unsigned int n, uint32_t seg_max)
{
	uintptr_t a = (uintptr_t)pkt, b = a + len;

	for (unsigned int i = 0; i < n; i++) {
		uintptr_t o = (uintptr_t)outs[i];

		if (i == 0 && outs[i] == pkt)
			continue;
		if (o < b && a < o + seg_max)
			return false;
	}
	return true;
}
#endif

static int segment(uint8_t *pkt, uint32_t len, const struct vnet *v,
		   struct hdrs *h, uint8_t *const *outs, uint32_t seg_max,
		   uint32_t *lens, unsigned int max_out)
{
	bool tcp = (v->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) !=
		   VIRTIO_NET_HDR_GSO_UDP_L4;
	uint32_t mss = v->gso_size, hl, payload;
	unsigned int n;
	uint16_t id0;
	uint32_t seq0;
	int err;

	if (h->proto != (tcp ? IPPROTO_TCP : IPPROTO_UDP))
		return -TUN_OFF_E_L4_PROTO;
	if ((err = parse_l4(pkt, len, h)))
		return err;
	/* tcp_gso_segment() insists the seed sits in the transport header. */
	if (v->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (v->csum_start != h->nh)
			return -TUN_OFF_E_CSUM_START;
		if (v->csum_offset != (tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF))
			return -TUN_OFF_E_CSUM_OFFSET;
	}
	hl = h->nh + h->l4;
	payload = len - hl;
	if (!payload)
		return -TUN_OFF_E_NO_PAYLOAD;
	if (hl + (payload < mss ? payload : mss) > seg_max)
		return -TUN_OFF_E_TOO_BIG;
	n = (payload + mss - 1) / mss;
	if (n > max_out)
		return -TUN_OFF_E_TOO_MANY;
	assert(outs_apart(pkt, len, outs, n, seg_max));

	id0 = get16(pkt + 4); /* IPv4 only */
	seq0 = get32(pkt + h->nh + 4); /* TCP only */
	/*
	 * Segment 0 last: when outs[0] is the packet itself, its headers
	 * are the template for the others until then, and its payload is
	 * already in place.
	 */
	for (unsigned int k = 1; k <= n; k++) {
		unsigned int i = k % n;
		uint32_t off = i * mss;
		uint32_t plen = payload - off < mss ? payload - off : mss;

		if (outs[i] != pkt) {
			memcpy(outs[i], pkt, hl);
			memcpy(outs[i] + hl, pkt + hl + off, plen);
		}
		fix_segment(outs[i], h, tcp, i, n, off, plen, id0, seq0);
		lens[i] = hl + plen;
	}
	return (int)n;
}

static int split(uint8_t *frame, uint32_t frame_len, uint8_t *const *outs,
		 uint32_t seg_max, uint32_t *lens, unsigned int max_out,
		 struct tun_off_stats *st)
{
	const uint8_t both = VIRTIO_NET_HDR_F_NEEDS_CSUM |
			     VIRTIO_NET_HDR_F_DATA_VALID;
	struct hdrs h;
	struct vnet v;
	uint8_t *pkt;
	uint32_t len;
	uint8_t type;
	int err, n;

	if (frame_len <= TUN_VNET_HDR_LEN)
		return -TUN_OFF_E_SHORT;
	vnet_decode(&v, frame);
	pkt = frame + TUN_VNET_HDR_LEN;
	len = frame_len - TUN_VNET_HDR_LEN;
	/* tun sets one of the two (virtio_net_hdr_from_skb()), nothing else. */
	if ((v.flags & ~both) || (v.flags & both) == both)
		return -TUN_OFF_E_FLAGS;
	type = v.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_NONE:
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		/* The ECN bit means "CWR set" and only TCP has it. */
		if (v.gso_type & VIRTIO_NET_HDR_GSO_ECN)
			return -TUN_OFF_E_GSO_TYPE;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		break;
	default: /* UFO (3) too: we never offer TUN_F_UFO */
		return -TUN_OFF_E_GSO_TYPE;
	}
	if (v.hdr_len > len)
		return -TUN_OFF_E_HDR_LEN;
	if (type == VIRTIO_NET_HDR_GSO_NONE &&
	    !(v.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return plain(pkt, len, outs, seg_max, lens, max_out);

	if (type != VIRTIO_NET_HDR_GSO_NONE && !v.gso_size)
		return -TUN_OFF_E_GSO_SIZE;
	/* virtio_net_hdr_to_skb() refuses USO without it; so do we. */
	if (type == VIRTIO_NET_HDR_GSO_UDP_L4 &&
	    !(v.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return -TUN_OFF_E_NO_CSUM;
	if (v.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (len < 2 || v.csum_start > len - 2)
			return -TUN_OFF_E_CSUM_START;
		if ((v.csum_offset & 1) ||
		    v.csum_offset > len - 2 - v.csum_start)
			return -TUN_OFF_E_CSUM_OFFSET;
	}
	if ((err = parse_ip(pkt, len, &h)))
		return err;
	if ((type == VIRTIO_NET_HDR_GSO_TCPV4 && h.ver != 4) ||
	    (type == VIRTIO_NET_HDR_GSO_TCPV6 && h.ver != 6))
		return -TUN_OFF_E_IP_VERSION;
	/* A checksum never covers the IP header it travels in. */
	if ((v.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && v.csum_start < h.nh)
		return -TUN_OFF_E_CSUM_START;

	if (type == VIRTIO_NET_HDR_GSO_NONE) {
		n = complete(pkt, len, &v, &h, outs, seg_max, lens, max_out);
		if (n > 0 && st)
			st->csum_done++;
		return n;
	}
	n = segment(pkt, len, &v, &h, outs, seg_max, lens, max_out);
	if (n > 0 && st) {
		st->gso_frames++;
		st->segments += (unsigned int)n;
	}
	return n;
}

int tun_off_split(uint8_t *frame, uint32_t frame_len, uint8_t *const *outs,
		  uint32_t seg_max, uint32_t *lens, unsigned int max_out,
		  struct tun_off_stats *st)
{
	int n = split(frame, frame_len, outs, seg_max, lens, max_out, st);

	if (st) {
		st->frames++;
		if (n < 0)
			st->rejects[-n]++;
	}
	return n;
}

/* ---- Write path (GRO) ---- */

/*
 * What a packet is to GRO. A flow is (IP version, addresses, protocol,
 * ports). KEYED packets belong to a flow but cannot be merged (SYN, FIN,
 * options, IPv4 options, zero UDP checksum, ...); CAND ones may be.
 * BARRIER packets may belong to any flow and we cannot tell which, so
 * nothing overtakes them. OTHER packets belong to no TCP/UDP flow (ICMP,
 * GRE, garbage) and may be overtaken, as Linux's GRO passes them while it
 * holds a flow.
 */
enum kind { K_OTHER, K_BARRIER, K_KEYED, K_CAND };

struct gpkt {
	uint8_t *p;
	uint32_t len;
	uint8_t kind, ver, proto, flags;
	uint16_t nh, l4; /* header lengths; l4 for K_CAND only */
	uint32_t payload;
};

/* An open unit that may still take segments. */
struct flow {
	uint16_t unit, head; /* unit index, packet index of its first */
	uint8_t ver, proto;
	uint16_t nh, hl; /* IP header, IP + L4 headers */
	uint16_t n; /* packets so far */
	uint8_t ids; /* enum ids */
	bool checked; /* head's checksums verified */
	bool psh; /* the last one had PSH: the super-packet gets it */
	uint32_t gso; /* the head's payload, every segment's but the last */
	uint32_t len; /* IP length so far */
	uint32_t next_seq;
};

/* IPv4 IDs of a flow: Linux's inet_gro_flush() decides at the second. */
enum ids { IDS_UNKNOWN, IDS_INC, IDS_FIXED };

enum merge { MERGE_NO, MERGE_OK, MERGE_BAD };

/* Headers that may hide a TCP or UDP header behind them. */
static bool ip6_exthdr(uint8_t nh)
{
	switch (nh) {
	case 0: /* hop-by-hop */
	case 43: /* routing */
	case 44: /* fragment */
	case 51: /* AH */
	case 60: /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
	case 253: /* experimental */
	case 254:
		return true;
	default:
		return false;
	}
}

static void classify(uint8_t *p, uint32_t len, bool udp, struct gpkt *g)
{
	const uint8_t *l4;

	*g = (struct gpkt){ .p = p, .len = len, .kind = K_OTHER };
	if (!len)
		return;
	g->ver = p[0] >> 4;
	if (g->ver == 4) {
		uint16_t frag;

		if (len < IP4_HLEN)
			return;
		g->nh = (p[0] & 0x0fu) * 4;
		g->proto = p[9];
		frag = get16(p + 6);
		if (g->nh < IP4_HLEN || g->nh > len)
			return;
		if (g->proto == IPPROTO_AH) {
			g->kind = K_BARRIER;
			return;
		}
		if (g->proto != IPPROTO_TCP && g->proto != IPPROTO_UDP)
			return;
		/* A later fragment, or a first one too short for ports. */
		if ((frag & IP4_OFFSET) || len - g->nh < 4) {
			g->kind = K_BARRIER;
			return;
		}
		g->kind = K_KEYED;
		if (g->nh != IP4_HLEN || (frag & IP4_MF) || get16(p + 2) != len)
			return;
	} else if (g->ver == 6) {
		if (len < IP6_HLEN)
			return;
		g->nh = IP6_HLEN;
		g->proto = p[6];
		if (g->proto != IPPROTO_TCP && g->proto != IPPROTO_UDP) {
			if (ip6_exthdr(g->proto))
				g->kind = K_BARRIER;
			return;
		}
		if (len < IP6_HLEN + 4) {
			g->kind = K_BARRIER;
			return;
		}
		g->kind = K_KEYED;
		if ((uint32_t)get16(p + 4) + IP6_HLEN != len)
			return;
	} else {
		return;
	}
	if (len > TUN_OFF_GRO_LEN_MAX)
		return;

	l4 = p + g->nh;
	if (g->proto == IPPROTO_TCP) {
		if (len - g->nh < TCP_HLEN)
			return;
		g->l4 = (l4[12] >> 4) * 4u;
		g->flags = l4[13];
		if (g->l4 < TCP_HLEN || g->l4 > len - g->nh)
			return;
		if (g->flags != TCPF_ACK && g->flags != (TCPF_ACK | TCPF_PSH))
			return;
	} else {
		if (!udp || len - g->nh < UDP_HLEN)
			return;
		g->l4 = UDP_HLEN;
		g->flags = 0;
		/* 0: no checksum over IPv4, forbidden over IPv6. */
		if (get16(l4 + 4) != len - g->nh || !get16(l4 + 6))
			return;
	}
	g->payload = len - g->nh - g->l4;
	if (g->payload)
		g->kind = K_CAND;
}

static bool same_flow(const struct gpkt *g, const struct flow *f,
		      const uint8_t *h)
{
	const uint8_t *p = g->p;

	if (g->ver != f->ver || g->proto != f->proto)
		return false;
	if (g->ver == 4 ? memcmp(p + 12, h + 12, 8) : memcmp(p + 8, h + 8, 32))
		return false;
	return !memcmp(p + g->nh, h + f->nh, 4);
}

static bool csum_valid(const uint8_t *p, uint32_t len, unsigned int ver,
		       uint32_t nh, uint8_t proto)
{
	if (ver == 4 && fold(sum_wire(p, nh)) != 0xffff)
		return false;
	return fold((uint64_t)pseudo(p, ver, proto, len - nh) +
		    sum_wire(p + nh, len - nh)) == 0xffff;
}

/*
 * Whether @g continues @f. The IP rules are inet_gro_flush() and
 * ipv6_gro_flush(); the TCP ones tcp_gro_receive()'s, with flags narrowed
 * to ACK and a final PSH. Checksums last: they cost a pass over the data.
 */
static enum merge try_merge(struct flow *f, const uint8_t *h,
			    const struct gpkt *g, struct tun_off_stats *st)
{
	const uint8_t *p = g->p;
	enum ids ids = (enum ids)f->ids;

	if (g->nh != f->nh || g->nh + g->l4 != f->hl || g->payload > f->gso)
		return MERGE_NO;
	if (f->n >= TUN_OFF_SEGS_MAX ||
	    f->len + g->payload > TUN_OFF_GRO_LEN_MAX)
		return MERGE_NO;
	if (f->ver == 4) {
		uint16_t id = get16(p + 4), hid = get16(h + 4);
		bool inc = id == (uint16_t)(hid + f->n);
		bool fixed = id == hid && (get16(h + 6) & IP4_DF);

		/* TOS (ECN included), TTL, DF and the reserved bit. */
		if (p[1] != h[1] || p[8] != h[8] ||
		    get16(p + 6) != get16(h + 6))
			return MERGE_NO;
		if (ids == IDS_UNKNOWN)
			ids = inc ? IDS_INC : fixed ? IDS_FIXED : IDS_UNKNOWN;
		if (!(ids == IDS_INC ? inc : ids == IDS_FIXED && fixed))
			return MERGE_NO;
	} else if (memcmp(p, h, 4) || p[7] != h[7]) {
		/* Traffic class, flow label, hop limit. */
		return MERGE_NO;
	}
	if (f->proto == IPPROTO_TCP) {
		const uint8_t *t = p + f->nh, *th = h + f->nh;

		if (get32(t + 4) != f->next_seq)
			return MERGE_NO;
		/* ack (8..11), data offset (12), window, urgent, options */
		if (memcmp(t + 8, th + 8, 5) || memcmp(t + 14, th + 14, 2) ||
		    memcmp(t + 18, th + 18, 2) ||
		    memcmp(t + TCP_HLEN, th + TCP_HLEN, g->l4 - TCP_HLEN))
			return MERGE_NO;
	}
	/* Unchecked means unmerged: f->len is still the head's length. */
	if (!f->checked) {
		if (!csum_valid(h, f->len, f->ver, f->nh, f->proto)) {
			if (st)
				st->gro_bad_csum++;
			return MERGE_NO;
		}
		f->checked = true;
	}
	if (!csum_valid(p, g->len, g->ver, g->nh, g->proto)) {
		if (st)
			st->gro_bad_csum++;
		return MERGE_BAD;
	}
	f->ids = (uint8_t)ids;
	return MERGE_OK;
}

/*
 * A unit is done: with more than one packet, its head becomes the
 * super-packet's header and the vnet header says how to split it.
 */
static void finish(struct tun_off_batch *b, uint8_t *const *pkts,
		   const struct flow *f, struct tun_off_stats *st)
{
	struct tun_off_unit *u = &b->units[f->unit];
	uint8_t *h = pkts[f->head], *l4 = h + f->nh;
	uint32_t l4_len = f->len - f->nh;
	uint8_t type;
	uint16_t off;

	if (f->n < 2)
		return;
	if (f->ver == 4) {
		put16(h + 2, f->len);
		ip4_set_csum(h, f->nh);
	} else {
		put16(h + 4, l4_len);
	}
	/* The seed __tcp_v4_send_check() and udp4_hwcsum() leave. */
	if (f->proto == IPPROTO_TCP) {
		if (f->psh)
			l4[13] |= TCPF_PSH;
		off = TCP_CSUM_OFF;
		type = f->ver == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 :
				     VIRTIO_NET_HDR_GSO_TCPV6;
	} else {
		put16(l4 + 4, l4_len);
		off = UDP_CSUM_OFF;
		type = VIRTIO_NET_HDR_GSO_UDP_L4;
	}
	put16(l4 + off, fold(pseudo(h, f->ver, f->proto, l4_len)));

	u->vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	u->vh.gso_type = type;
	u->vh.hdr_len = htole16(f->hl);
	u->vh.gso_size = htole16((uint16_t)f->gso);
	u->vh.csum_start = htole16(f->nh);
	u->vh.csum_offset = htole16(off);
	if (st) {
		st->gro_supers++;
		st->gro_merged += f->n;
	}
}

static void close_flow(struct tun_off_batch *b, uint8_t *const *pkts,
		       struct flow *flows, unsigned int *nf, unsigned int k,
		       struct tun_off_stats *st)
{
	finish(b, pkts, &flows[k], st);
	flows[k] = flows[--*nf];
}

static void open_flow(struct tun_off_batch *b, uint8_t *const *pkts,
		      struct flow *flows, unsigned int *nf,
		      const struct gpkt *g, unsigned int i, unsigned int unit,
		      struct tun_off_stats *st)
{
	struct flow *f;

	if (*nf == TUN_OFF_GRO_FLOWS) {
		unsigned int old = 0;

		for (unsigned int k = 1; k < *nf; k++)
			if (flows[k].unit < flows[old].unit)
				old = k;
		close_flow(b, pkts, flows, nf, old, st);
	}
	f = &flows[(*nf)++];
	*f = (struct flow){
		.unit = (uint16_t)unit,
		.head = (uint16_t)i,
		.ver = g->ver,
		.proto = g->proto,
		.nh = g->nh,
		.hl = (uint16_t)(g->nh + g->l4),
		.n = 1,
		.ids = IDS_UNKNOWN,
		.gso = g->payload,
		.len = g->len,
		.next_seq = g->proto == IPPROTO_TCP ?
				    get32(g->p + g->nh + 4) + g->payload :
				    0,
	};
}

unsigned int tun_off_coalesce(struct tun_off_batch *b, uint8_t *const *pkts,
			      const uint32_t *lens, unsigned int n, bool udp,
			      struct tun_off_stats *st)
{
	struct flow flows[TUN_OFF_GRO_FLOWS];
	uint16_t unit_of[TUN_OFF_BURST_MAX];
	uint16_t skip[TUN_OFF_BURST_MAX]; /* header bytes not written */
	unsigned int nf = 0, n_iov = 0;

	if (n > TUN_OFF_BURST_MAX)
		n = TUN_OFF_BURST_MAX;
	b->n_units = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct tun_off_unit *u;
		struct gpkt g;
		bool bad = false;
		int k = -1;

		classify(pkts[i], lens[i], udp, &g);
		if (g.kind == K_BARRIER)
			while (nf)
				close_flow(b, pkts, flows, &nf, nf - 1, st);
		for (unsigned int j = 0; g.kind >= K_KEYED && j < nf; j++) {
			if (same_flow(&g, &flows[j], pkts[flows[j].head])) {
				k = (int)j;
				break;
			}
		}
		if (k >= 0 && g.kind == K_CAND) {
			struct flow *f = &flows[k];

			switch (try_merge(f, pkts[f->head], &g, st)) {
			case MERGE_OK:
				u = &b->units[f->unit];
				u->n_pkts++;
				u->len += g.payload;
				unit_of[i] = f->unit;
				skip[i] = f->hl;
				f->n++;
				f->len += g.payload;
				f->next_seq += g.payload;
				f->psh = g.flags & TCPF_PSH;
				/* Linux flushes here too: nothing may follow. */
				if (g.payload < f->gso || f->psh)
					close_flow(b, pkts, flows, &nf,
						   (unsigned int)k, st);
				continue;
			case MERGE_BAD:
				bad = true;
				break;
			case MERGE_NO:
				break;
			}
		}
		/* A new unit for the flow: the old one must not grow past it. */
		if (k >= 0)
			close_flow(b, pkts, flows, &nf, (unsigned int)k, st);
		u = &b->units[b->n_units];
		memset(&u->vh, 0, sizeof(u->vh));
		u->n_pkts = 1;
		u->head = (uint16_t)i;
		u->len = lens[i];
		unit_of[i] = (uint16_t)b->n_units;
		skip[i] = 0;
		/* A PSH segment ends its run; a bad one is written alone. */
		if (g.kind == K_CAND && !bad && !(g.flags & TCPF_PSH))
			open_flow(b, pkts, flows, &nf, &g, i, b->n_units, st);
		b->n_units++;
	}
	while (nf)
		close_flow(b, pkts, flows, &nf, nf - 1, st);

	/* iovecs: each unit's header, then its packets in arrival order. */
	for (unsigned int u = 0; u < b->n_units; u++) {
		b->units[u].first_iov = (uint16_t)n_iov;
		b->units[u].n_iov = 1;
		b->iov[n_iov] =
			(struct iovec){ &b->units[u].vh, TUN_VNET_HDR_LEN };
		n_iov += 1u + b->units[u].n_pkts;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct tun_off_unit *u = &b->units[unit_of[i]];

		b->iov[u->first_iov + u->n_iov++] =
			(struct iovec){ pkts[i] + skip[i], lens[i] - skip[i] };
	}
	if (st) {
		st->gro_pkts += n;
		st->gro_units += b->n_units;
	}
	return n;
}
