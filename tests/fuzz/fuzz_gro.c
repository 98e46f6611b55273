/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the TUN write path, tun_off_coalesce(). The input
 * is a flags byte (bit 0: UDP GRO on; bit 1: raw, else each packet's
 * lengths and checksums are made right first, so that mutations get past
 * the checksum check to the merge rules), then packets, each a 2-byte
 * big-endian length and its bytes.
 *
 * Checked besides "no crash", with the checksum of ref_csum.h and a
 * segmentation written here, not the library's: the units carry every
 * packet exactly once, in order within a unit, units in the order of their
 * first packets; a unit of one is a zero vnet header and the packet
 * unchanged; a super-packet has consistent lengths, header checksum, seed
 * and vnet header, only packets whose own checksums were right, and, split
 * the way the kernel splits it, gives back exactly the packets it was made
 * of. Packets of one flow keep their order, and nothing overtakes a packet
 * whose flow cannot be told (the barrier rule in offload.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "offload.h"
#include "ref_csum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAXP = 300, PKT_MAX = 9216 };

static uint8_t bufs[MAXP][PKT_MAX];
static uint8_t orig[MAXP][PKT_MAX];
static uint8_t *pkts[MAXP];
static uint32_t lens[MAXP];
static struct tun_off_batch batch;
static uint8_t super[TUN_OFF_GRO_LEN_MAX];
static uint8_t seg[PKT_MAX];

/* Unless raw: make what parses consistent, so mutations reach the rules. */
static void fix_up(uint8_t *p, uint32_t len)
{
	uint32_t nh;
	uint8_t proto;
	bool frag = false;

	if (len >= 20 && (p[0] >> 4) == 4 && (p[0] & 15u) >= 5 &&
	    (p[0] & 15u) * 4 <= len) {
		nh = (p[0] & 15u) * 4;
		proto = p[9];
		frag = rd16(p + 6) & 0x3fff;
		wr16(p + 2, len);
		ref_ip4_fix(p);
	} else if (len >= 40 && (p[0] >> 4) == 6) {
		nh = 40;
		proto = p[6];
		wr16(p + 4, len - 40);
	} else {
		return;
	}
	if (frag)
		return;
	if (proto == IPPROTO_TCP && len - nh >= 20 &&
	    (p[nh + 12] >> 4) * 4u >= 20 && (p[nh + 12] >> 4) * 4u <= len - nh)
		ref_l4_fix(p, nh, proto, len);
	if (proto == IPPROTO_UDP && len - nh >= 8) {
		wr16(p + nh + 4, len - nh);
		ref_l4_fix(p, nh, proto, len);
	}
}

/* The packet an iovec of a unit came from: it ends where the packet does. */
static int owner(const struct iovec *io, unsigned int n)
{
	const uint8_t *b = io->iov_base;

	for (unsigned int j = 0; j < n; j++)
		if (b >= pkts[j] && b <= pkts[j] + lens[j] &&
		    b + io->iov_len == pkts[j] + lens[j])
			return (int)j;
	return -1;
}

/* Same addresses, protocol and ports: offload.h's notion of a flow. */
static bool same_flow(const uint8_t *a, uint32_t la, const uint8_t *b,
		      uint32_t lb)
{
	uint32_t na, nb;

	if (la < 20 || lb < 20 || (a[0] >> 4) != (b[0] >> 4))
		return false;
	if ((a[0] >> 4) == 4) {
		na = (a[0] & 15u) * 4;
		nb = (b[0] & 15u) * 4;
		if (na < 20 || nb < 20 || a[9] != b[9] ||
		    memcmp(a + 12, b + 12, 8))
			return false;
	} else if ((a[0] >> 4) == 6 && la >= 40 && lb >= 40) {
		na = nb = 40;
		if (a[6] != b[6] || memcmp(a + 8, b + 8, 32))
			return false;
	} else {
		return false;
	}
	return na + 4 <= la && nb + 4 <= lb && !memcmp(a + na, b + nb, 4);
}

/* A packet whose flow cannot be told: offload.h's barrier. */
static bool barrier(const uint8_t *p, uint32_t len)
{
	static const uint8_t ext[] = { 0,   43,	 44,  51,  60,
				       135, 139, 140, 253, 254 };

	if (len >= 20 && (p[0] >> 4) == 4) {
		uint32_t nh = (p[0] & 15u) * 4;

		if (nh < 20 || nh > len)
			return false;
		if (p[9] == IPPROTO_AH)
			return true;
		return (p[9] == IPPROTO_TCP || p[9] == IPPROTO_UDP) &&
		       ((rd16(p + 6) & 0x1fff) || len - nh < 4);
	}
	if (len >= 40 && (p[0] >> 4) == 6) {
		if (p[6] == IPPROTO_TCP || p[6] == IPPROTO_UDP)
			return len < 44;
		return memchr(ext, p[6], sizeof(ext)) != NULL;
	}
	return false;
}

/*
 * The kernel's view of a super-packet: header fields, then its split
 * into segments, each of which must be packet @js[k] as it came in.
 */
static void check_super(const struct tun_off_unit *un, uint32_t sl,
			const int *js, unsigned int n)
{
	const struct virtio_net_hdr *v = &un->vh;
	const uint8_t *h = super;
	bool v4 = (h[0] >> 4) == 4;
	uint32_t nh = v4 ? 20 : 40, hl, gso, payload;
	uint8_t proto;
	bool fixed_id;

	(void)n;
	need(sl >= 40 && sl <= TUN_OFF_GRO_LEN_MAX);
	need(un->n_pkts <= TUN_OFF_SEGS_MAX);
	proto = v4 ? h[9] : h[6];
	need(v4 ? h[0] == 0x45 : (h[0] >> 4) == 6);
	need(proto == IPPROTO_TCP || proto == IPPROTO_UDP);
	hl = nh + (proto == IPPROTO_TCP ? (h[nh + 12] >> 4) * 4u : 8);
	gso = v->gso_size;
	need(v->flags == VIRTIO_NET_HDR_F_NEEDS_CSUM);
	need(v->gso_type == (proto == IPPROTO_UDP ? VIRTIO_NET_HDR_GSO_UDP_L4 :
			     v4			  ? VIRTIO_NET_HDR_GSO_TCPV4 :
						    VIRTIO_NET_HDR_GSO_TCPV6));
	need(v->csum_start == nh && v->hdr_len == hl);
	need(v->csum_offset == (proto == IPPROTO_TCP ? 16 : 6));
	need(gso == lens[js[0]] - hl && gso > 0);
	if (v4)
		need(rd16(h + 2) == sl && ref_ip4_ok(h));
	else
		need(rd16(h + 4) == sl - 40);
	if (proto == IPPROTO_UDP)
		need(rd16(h + nh + 4) == sl - nh);
	need(rd16(h + nh + v->csum_offset) ==
	     ref_fold(ref_pseudo(h, proto, sl - nh)));

	payload = sl - hl;
	need((payload + gso - 1) / gso == un->n_pkts);
	fixed_id = v4 && rd16(orig[js[0]] + 4) == rd16(orig[js[1]] + 4);
	for (unsigned int i = 0; i < un->n_pkts; i++) {
		uint32_t plen = i + 1 < un->n_pkts ? gso : payload - i * gso;
		const uint8_t *o = orig[js[i]];
		uint32_t len = hl + plen, cf;

		need(lens[js[i]] == len);
		if (v4)
			need(ref_fold(ref_add(0, o, 20)) == 0xffff);
		need(ref_l4_ok(o, nh, proto, len));
		memcpy(seg, h, hl);
		memcpy(seg + hl, h + hl + i * gso, plen);
		if (v4) {
			wr16(seg + 2, len);
			wr16(seg + 4, rd16(h + 4) + i);
			ref_ip4_fix(seg);
		} else {
			wr16(seg + 4, len - 40);
		}
		if (proto == IPPROTO_TCP) {
			uint32_t s = rd32(h + nh + 4) + i * gso;

			seg[nh + 4] = (uint8_t)(s >> 24);
			seg[nh + 5] = (uint8_t)(s >> 16);
			wr16(seg + nh + 6, s);
			if (i > 0)
				seg[nh + 13] &= (uint8_t)~0x80;
			if (i + 1 < un->n_pkts)
				seg[nh + 13] &= (uint8_t)~0x09;
		} else {
			wr16(seg + nh + 4, len - nh);
		}
		ref_l4_fix(seg, nh, proto, len);
		/*
		 * Equal but for checksum fields, both valid (0 and 0xffff
		 * are the same sum), and fixed IDs, which come back
		 * increasing (DF is set).
		 */
		cf = nh + (proto == IPPROTO_TCP ? 16 : 6);
		memcpy(seg + cf, o + cf, 2);
		if (v4) {
			memcpy(seg + 10, o + 10, 2);
			if (fixed_id)
				memcpy(seg + 4, o + 4, 2);
		}
		need(!memcmp(seg, o, len));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tun_off_stats st = { 0 };
	int pos[MAXP], seen[MAXP], js[TUN_OFF_SEGS_MAX];
	unsigned int n = 0, done, total = 0, w = 0;
	bool udp;

	if (size < 1)
		return 0;
	udp = data[0] & 1;
	for (size_t at = 1; at + 2 <= size && n < MAXP; n++) {
		size_t len = rd16(data + at);

		at += 2;
		if (len > size - at)
			len = size - at;
		if (len > PKT_MAX)
			len = PKT_MAX;
		memcpy(bufs[n], data + at, len);
		at += len;
		lens[n] = (uint32_t)len;
		pkts[n] = bufs[n];
		if (!(data[0] & 2))
			fix_up(bufs[n], lens[n]);
		memcpy(orig[n], bufs[n], len);
	}

	done = tun_off_coalesce(&batch, pkts, lens, n, udp, &st);
	need(done == (n < TUN_OFF_BURST_MAX ? n : TUN_OFF_BURST_MAX));
	need(batch.n_units <= done);
	need(st.gro_pkts == done && st.gro_units == batch.n_units);
	memset(seen, 0, sizeof(seen));
	for (unsigned int u = 0; u < batch.n_units; u++) {
		const struct tun_off_unit *un = &batch.units[u];
		const struct iovec *io = &batch.iov[un->first_iov];
		uint32_t sl = 0;

		need(un->n_pkts >= 1 && un->n_iov == 1u + un->n_pkts);
		need(un->first_iov + un->n_iov <= 2 * TUN_OFF_BURST_MAX);
		need(io[0].iov_base == &un->vh && io[0].iov_len == 10);
		need(io[1].iov_base == pkts[un->head]);
		need(!u || un->head > batch.units[u - 1].head);
		for (unsigned int k = 1; k < un->n_iov; k++) {
			int j = owner(&io[k], done);

			need(j >= 0 && seen[j]++ == 0);
			need(k == 1 || j > js[k - 2]);
			js[k - 1] = j;
			pos[j] = (int)w++;
			need(sl + io[k].iov_len <= sizeof(super));
			memcpy(super + sl, io[k].iov_base, io[k].iov_len);
			sl += (uint32_t)io[k].iov_len;
		}
		need(sl == un->len);
		total += un->n_pkts;
		if (un->n_pkts == 1) {
			static const uint8_t zero[10];

			need(!memcmp(&un->vh, zero, 10));
			need(!memcmp(super, orig[un->head], sl));
		} else {
			check_super(un, sl, js, done);
		}
	}
	need(total == done);
	for (unsigned int i = 0; i < done; i++) {
		bool wall = barrier(orig[i], lens[i]);

		for (unsigned int j = i + 1; j < done; j++)
			if (wall ||
			    same_flow(orig[i], lens[i], orig[j], lens[j]))
				need(pos[i] < pos[j]);
	}
	return 0;
}
