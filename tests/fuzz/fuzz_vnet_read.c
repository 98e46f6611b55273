/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the TUN read path, tun_off_split(). The input is
 * seg_max (2 bytes, big endian), a byte with the number of output buffers
 * (low 7 bits) and whether to split in place into the frame (bit 7), a
 * mode byte (bit 0: raw, else the packet's IP lengths, IPv4 header
 * checksum and UDP length are made right first, so that mutations reach
 * the deeper checks), then one frame as read() returns it: vnet header
 * and packet.
 *
 * Checked besides "no crash", with the checksum of ref_csum.h, not the
 * library's: a refusal has a known reason and is counted; otherwise every
 * output fits its buffer and seg_max; a plain frame comes out unchanged;
 * a completed one differs only in its checksum field, which is right; a
 * GSO frame becomes well-formed IP packets with valid IP and L4
 * checksums, lengths, IDs, sequence numbers and flags, whose payloads put
 * together are the frame's payload.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "offload.h"
#include "ref_csum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { OUTS = 64, SEG_MAX = 9216 };

static uint8_t frame[TUN_OFF_READ_LEN];
static uint8_t orig[TUN_OFF_READ_LEN];
static uint8_t bufs[OUTS][SEG_MAX];

static void fix_up(uint8_t *p, uint32_t len)
{
	uint32_t nh;

	if (len >= 20 && (p[0] >> 4) == 4 && (p[0] & 15u) >= 5 &&
	    (p[0] & 15u) * 4 <= len) {
		nh = (p[0] & 15u) * 4;
		wr16(p + 2, len);
		ref_ip4_fix(p);
		if (p[9] == IPPROTO_UDP && len - nh >= 8)
			wr16(p + nh + 4, len - nh);
	} else if (len >= 40 && (p[0] >> 4) == 6) {
		wr16(p + 4, len - 40);
		if (p[6] == IPPROTO_UDP && len >= 48)
			wr16(p + 44, len - 40);
	}
}

/* A well-formed IP header: lengths agree, IPv4 checksum right. */
static bool ip_ok(const uint8_t *p, uint32_t len, uint32_t *nh, uint8_t *proto)
{
	if (len >= 20 && (p[0] >> 4) == 4) {
		*nh = (p[0] & 15u) * 4;
		*proto = p[9];
		return *nh >= 20 && *nh <= len && rd16(p + 2) == len &&
		       ref_ip4_ok(p);
	}
	if (len >= 40 && (p[0] >> 4) == 6) {
		*nh = 40;
		*proto = p[6];
		return rd16(p + 4) + 40u == len;
	}
	return false;
}

static void check_completed(const uint8_t *pkt, uint32_t len,
			    const uint8_t *out, uint32_t cs, uint32_t off)
{
	uint32_t at = cs + off, nh;
	uint8_t proto;

	need(at + 2 <= len);
	need(!memcmp(out, pkt, at));
	need(!memcmp(out + at + 2, pkt + at + 2, len - at - 2));
	need(ip_ok(out, len, &nh, &proto));
	if (cs == nh && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
		need(ref_l4_ok(out, nh, proto, len));
	} else {
		/* A NIC's job: from csum_start to the end, seed included. */
		uint16_t c =
			(uint16_t)~ref_fold(ref_add(0, pkt + cs, len - cs));

		need(rd16(out + at) == (c ? c : 0xffff));
	}
}

static void check_segments(const uint8_t *pkt, uint32_t len, uint16_t gso,
			   uint8_t *const *outs, const uint32_t *lens, int n)
{
	uint32_t nh, l4, hl, payload;
	uint8_t proto;

	need(ip_ok(pkt, len, &nh, &proto));
	need(proto == IPPROTO_TCP || proto == IPPROTO_UDP);
	l4 = proto == IPPROTO_TCP ? (pkt[nh + 12] >> 4) * 4u : 8;
	hl = nh + l4;
	need(gso && hl < len);
	payload = len - hl;
	need((uint32_t)n == (payload + gso - 1) / gso);
	for (int i = 0; i < n; i++) {
		const uint8_t *s = outs[i];
		uint32_t off = (uint32_t)i * gso;
		uint32_t plen = i + 1 < n ? gso : payload - off;
		uint32_t snh;
		uint8_t sproto, flags;

		need(lens[i] == hl + plen);
		need(!memcmp(s + hl, pkt + hl + off, plen));
		need(ip_ok(s, lens[i], &snh, &sproto));
		need(snh == nh && sproto == proto);
		need(ref_l4_ok(s, nh, proto, lens[i]));
		need(!memcmp(s + nh, pkt + nh, 4));
		if ((pkt[0] >> 4) == 4) {
			need(rd16(s + 4) == (uint16_t)(rd16(pkt + 4) + i));
			need(s[1] == pkt[1] && !memcmp(s + 6, pkt + 6, 4));
			need(!memcmp(s + 12, pkt + 12, nh - 12));
		} else {
			need(!memcmp(s, pkt, 4) && !memcmp(s + 6, pkt + 6, 34));
		}
		if (proto == IPPROTO_UDP) {
			need(rd16(s + nh + 4) == 8 + plen);
			need(rd16(s + nh + 6) != 0);
			continue;
		}
		flags = pkt[nh + 13];
		if (i > 0)
			flags &= (uint8_t)~0x80; /* CWR */
		if (i + 1 < n)
			flags &= (uint8_t)~0x09; /* FIN, PSH */
		need(s[nh + 13] == flags);
		need(rd32(s + nh + 4) == rd32(pkt + nh + 4) + off);
		need(!memcmp(s + nh + 8, pkt + nh + 8, 5));
		need(!memcmp(s + nh + 14, pkt + nh + 14, 2));
		need(!memcmp(s + nh + 18, pkt + nh + 18, l4 - 18));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tun_off_stats st = { 0 };
	uint8_t *outs[OUTS];
	uint32_t lens[OUTS], seg_max, flen, len;
	unsigned int max_out;
	uint8_t flags, type;
	int n;

	if (size < 4)
		return 0;
	seg_max = (uint32_t)(data[0] << 8 | data[1]) % SEG_MAX + 1;
	max_out = (data[2] & 0x7fu) % (OUTS + 1);
	flen = (uint32_t)(size - 4 < sizeof(frame) ? size - 4 : sizeof(frame));
	memcpy(frame, data + 4, flen);
	if (!(data[3] & 1) && flen > TUN_VNET_HDR_LEN)
		fix_up(frame + TUN_VNET_HDR_LEN, flen - TUN_VNET_HDR_LEN);
	memcpy(orig, frame, flen);
	for (int i = 0; i < OUTS; i++)
		outs[i] = bufs[i];
	if ((data[2] & 0x80) && flen > TUN_VNET_HDR_LEN)
		outs[0] = frame + TUN_VNET_HDR_LEN;

	n = tun_off_split(frame, flen, outs, seg_max, lens, max_out, &st);
	need(st.frames == 1);
	if (n < 0) {
		need(-n > TUN_OFF_E_NONE && -n < TUN_OFF_E_MAX);
		need(st.rejects[-n] == 1 && tun_off_err_name(n));
		return 0;
	}
	need(n >= 1 && (unsigned int)n <= max_out);
	for (int i = 0; i < n; i++)
		need(lens[i] <= seg_max);

	len = flen - TUN_VNET_HDR_LEN;
	flags = orig[0];
	type = orig[1] & 0x7f;
	if (type == VIRTIO_NET_HDR_GSO_NONE) {
		need(n == 1 && lens[0] == len);
		if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			check_completed(orig + 10, len, outs[0],
					orig[6] | orig[7] << 8,
					orig[8] | orig[9] << 8);
		else
			need(!memcmp(outs[0], orig + 10, len));
		need(st.gso_frames == 0);
		return 0;
	}
	check_segments(orig + 10, len, (uint16_t)(orig[4] | orig[5] << 8), outs,
		       lens, n);
	need(st.gso_frames == 1 && st.segments == (uint64_t)n);
	return 0;
}
