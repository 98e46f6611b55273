/* SPDX-License-Identifier: MIT */
#ifndef TUN_OFFLOAD_H
#define TUN_OFFLOAD_H

/*
 * TUN offloads without I/O (DESIGN.md §4): what a TUN queue opened with
 * IFF_VNET_HDR and TUNSETOFFLOAD hands us, and what we hand it back.
 *
 * Read: every read() returns one frame, a struct virtio_net_hdr followed
 * by one IP packet of up to 64 KiB. tun_off_split() checks the header
 * against the packet's own IP/TCP/UDP headers and writes plain packets
 * into the caller's buffers: a GSO super-packet (TSO4/6, USO4/6) becomes
 * MTU-sized segments with their own lengths, IDs, sequence numbers, flags
 * and checksums; a packet with a partial checksum gets it completed.
 *
 * Write: tun_off_coalesce() groups a burst of plaintext packets into write
 * units, one writev() each: a packet as it is behind a zero header, or
 * consecutive segments of one TCP (or UDP) flow as one super-packet behind
 * a GSO header, the kernel's GRO done before the kernel sees them.
 *
 * The header layout we assume is the TUN default: the 10-byte struct
 * virtio_net_hdr (tun->vnet_hdr_sz starts at sizeof(struct virtio_net_hdr)
 * and changes only with TUNSETVNETHDRSZ), with the virtio 1.0 byte order,
 * little endian. That is what the kernel uses on little-endian hosts;
 * on a big-endian host the integrator must set TUNSETVNETLE.
 *
 * Both paths are bounded and allocation-free; neither keeps state between
 * calls, so one worker may call them on its own queue without locks.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

/* Linux 6.2 (USO); Debian 12's uapi headers (6.1) lack them. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/*
 * TUNSETOFFLOAD arguments. USO4 and USO6 only together: the kernel refuses
 * one without the other, and a kernel before 6.2 refuses both with EINVAL,
 * which is how to find out (then use TUN_OFF_FEATURES and no UDP GRO).
 */
#define TUN_OFF_FEATURES (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
#define TUN_OFF_FEATURES_USO (TUN_OFF_FEATURES | TUN_F_USO4 | TUN_F_USO6)

enum tun_off_limits {
	TUN_VNET_HDR_LEN = 10, /* sizeof(struct virtio_net_hdr) */
	/* Largest packet in a frame: an IPv6 header and a full payload. */
	TUN_OFF_PKT_MAX = 40 + 65535,
	/* A read buffer that never truncates a frame. */
	TUN_OFF_READ_LEN = TUN_VNET_HDR_LEN + TUN_OFF_PKT_MAX,
	/* GRO: packets one call looks at (the rest wait for the next call). */
	TUN_OFF_BURST_MAX = 256,
	/*
	 * GRO: segments per super-packet. Linux takes 64 UDP segments
	 * (UDP_MAX_SEGMENTS before 6.9, 128 after); TCP gets the same cap.
	 */
	TUN_OFF_SEGS_MAX = 64,
	/* GRO: a super-packet's IP length (IPv4 total length is 16 bits). */
	TUN_OFF_GRO_LEN_MAX = 65535,
	/* GRO: flows a call holds open at once; the oldest is closed first. */
	TUN_OFF_GRO_FLOWS = 8,
};

/*
 * Why tun_off_split() refused a frame; it returns the negated value. Each
 * one names the first check that failed, outer to inner.
 */
enum tun_off_err {
	TUN_OFF_E_NONE = 0,
	TUN_OFF_E_SHORT, /* frame ends before the headers it needs */
	TUN_OFF_E_FLAGS, /* unknown vnet flags, NEEDS_CSUM with DATA_VALID */
	TUN_OFF_E_GSO_TYPE, /* unknown gso_type; ECN bit without TCP */
	TUN_OFF_E_GSO_SIZE, /* gso_size 0 on a GSO frame */
	TUN_OFF_E_HDR_LEN, /* hdr_len past the end of the packet */
	TUN_OFF_E_CSUM_START, /* past the end, in the IP header, not at L4 */
	TUN_OFF_E_CSUM_OFFSET, /* past the end, odd, not the L4 checksum */
	TUN_OFF_E_NO_CSUM, /* UDP_L4 without NEEDS_CSUM (Linux's rule) */
	TUN_OFF_E_IP_VERSION, /* not 4 or 6, or not the gso_type's family */
	TUN_OFF_E_IP_HDR, /* IPv4 IHL < 5 or past the end, bad checksum */
	TUN_OFF_E_IP_LEN, /* IP length field disagrees with the frame */
	TUN_OFF_E_IP_FRAG, /* IPv4 fragment with GSO or NEEDS_CSUM */
	TUN_OFF_E_L4_PROTO, /* not the gso_type's protocol (IPv6: no ext hdrs) */
	TUN_OFF_E_L4_HDR, /* TCP data offset < 5 or past the end, UDP length */
	TUN_OFF_E_NO_PAYLOAD, /* GSO frame with headers only */
	TUN_OFF_E_TOO_BIG, /* a packet or segment longer than seg_max */
	TUN_OFF_E_TOO_MANY, /* more segments than output buffers */
	TUN_OFF_E_MAX
};

/* "short", "flags", ...; @err may be negated. NULL when out of range. */
const char *tun_off_err_name(int err);

/*
 * Counters for one worker, written only by the thread that passes them
 * in (any pointer argument named @st may be NULL).
 */
struct tun_off_stats {
	/* tun_off_split */
	uint64_t frames; /* frames looked at */
	uint64_t gso_frames; /* of which GSO super-packets, split */
	uint64_t segments; /* packets those super-packets became */
	uint64_t csum_done; /* GSO_NONE frames whose checksum we completed */
	uint64_t rejects[TUN_OFF_E_MAX]; /* frames refused, by reason */
	/* tun_off_coalesce */
	uint64_t gro_pkts; /* packets looked at */
	uint64_t gro_units; /* write units made (writev calls needed) */
	uint64_t gro_supers; /* of which super-packets */
	uint64_t gro_merged; /* packets inside super-packets */
	uint64_t gro_bad_csum; /* kept apart: their own checksum was wrong */
};

/*
 * Read path: one frame as read() returned it, @frame_len bytes: the vnet
 * header, then the packet. Writes the packets it becomes to outs[i]
 * (lens[i] bytes each, at most @seg_max, for i < the return value) and
 * returns their count (>= 1), or -enum tun_off_err with nothing usable in
 * outs. @max_out is how many buffers outs has, each with room for
 * @seg_max bytes.
 *
 * A plain frame (GSO_NONE without NEEDS_CSUM) is copied as it is: its
 * checksums are whatever the kernel's stack put there, as without
 * IFF_VNET_HDR. Everything else is parsed first and refused unless every
 * header field it depends on agrees with the packet: hdr_len is never
 * used (the kernel sets it to the skb's linear length, a hint), and
 * csum_start, csum_offset and gso_size only once checked against the
 * packet's own headers.
 *
 * - GSO_NONE + NEEDS_CSUM: the L4 checksum is completed, one packet.
 * - TCPV4/TCPV6 (with or without the ECN bit): segments of gso_size
 *   payload bytes, each with its IPv4 total length, ID (the frame's + i,
 *   as Linux's GSO does) and header checksum, or IPv6 payload length;
 *   sequence number advanced; CWR only on the first, FIN and PSH only on
 *   the last; the full TCP checksum.
 * - UDP_L4: datagrams of gso_size payload bytes, each with its UDP length,
 *   IPv4 ID and header checksum (or IPv6 payload length) and full UDP
 *   checksum; a checksum that computes to 0 is sent as 0xffff, as Linux
 *   does, since 0 over IPv4 would mean "no checksum".
 *
 * The packet (@frame + TUN_VNET_HDR_LEN) is modified in place. outs[0] may
 * be that packet (nothing is then copied for GSO_NONE, and segment 0 is
 * written last, in place); no other output may overlap the frame.
 *
 * To bound the segment count, set the device's gso_max_segs (IFLA) to at
 * most @max_out: a frame needing more is refused (TOO_MANY), and the
 * kernel would send another one like it.
 */
int tun_off_split(uint8_t *frame, uint32_t frame_len, uint8_t *const *outs,
		  uint32_t seg_max, uint32_t *lens, unsigned int max_out,
		  struct tun_off_stats *st);

/*
 * Write path. One write unit: writev(fd, &b->iov[first_iov], n_iov)
 * writes its vnet header (iov[first_iov] points at @vh) and then either
 * one packet as it is (vh all zero: GSO_NONE, no flags) or a super-packet:
 * the first packet with its IP length and checksum rewritten, then the
 * payloads of the others, @vh saying how the kernel splits it again.
 */
struct tun_off_unit {
	struct virtio_net_hdr vh;
	uint16_t first_iov;
	uint16_t n_iov; /* 1 + n_pkts */
	uint16_t n_pkts; /* packets of the burst it carries */
	uint16_t head; /* index of its first packet in the burst */
	uint32_t len; /* bytes after the vnet header */
};

/*
 * A burst's write units, in the order to write them. Allocate one per
 * worker (14 KiB); each tun_off_coalesce() call starts it afresh.
 */
struct tun_off_batch {
	unsigned int n_units;
	struct tun_off_unit units[TUN_OFF_BURST_MAX];
	struct iovec iov[2 * TUN_OFF_BURST_MAX];
};

/*
 * Groups pkts[0..n) (IP packets of lens[i] bytes; at most
 * TUN_OFF_BURST_MAX of them are looked at) into @b->units and returns how
 * many packets the units carry: min(n, TUN_OFF_BURST_MAX), every one of
 * them in exactly one unit. Pass the rest in another call.
 *
 * The packets are not consumed: they must stay alive and unchanged until
 * the last writev() of @b returns (the iovecs point into them). The first
 * packet of a super-packet is modified in place (IP length, IPv4 header
 * checksum, L4 length and checksum field, PSH); the others are not.
 *
 * Merged are only TCP segments (and with @udp, the TUN having USO on, UDP
 * datagrams) that Linux's GRO would merge and re-segment into the same
 * packets, a subset of its rules:
 * - same addresses, protocol and ports; IPv4 without options, not a
 *   fragment, equal TTL, TOS (so ECN: CE never joins non-CE) and DF, IDs
 *   consecutive or, with DF, all equal (virtio has no FIXEDID flag, so a
 *   kernel that re-segments numbers those upward: harmless, an atomic
 *   datagram's ID means nothing, RFC 6864); IPv6 without extension
 *   headers, equal traffic class, flow label and hop limit;
 * - TCP: flags exactly ACK, PSH allowed on the last one only (SYN, FIN,
 *   RST, URG, CWR and ECE segments are never merged); contiguous sequence
 *   numbers; equal ack number, window, urgent pointer, data offset and
 *   option bytes; UDP: a UDP length matching the IP length, a checksum
 *   present (a zero one over IPv4 is left as the sender chose);
 * - payload sizes: all equal to the first's but the last, which may be
 *   smaller; at most TUN_OFF_SEGS_MAX packets, TUN_OFF_GRO_LEN_MAX bytes;
 * - every merged packet's own checksums (IPv4 header, L4) verified first:
 *   the kernel takes NEEDS_CSUM as CHECKSUM_PARTIAL and would deliver a
 *   corrupt segment without checking it. A packet that fails is written
 *   alone and the kernel drops it as it would have.
 *
 * Order: the units are in the order of their first packets. Packets of
 * one flow (addresses, protocol, ports) keep their order. A merged packet
 * overtakes packets of other flows that came between its unit's first
 * packet and it, as in Linux's GRO, which holds a flow while passing
 * others. Packets it cannot place in a flow (IPv4 TCP/UDP fragments
 * without ports, IPv6 with extension headers, AH) are never overtaken.
 */
unsigned int tun_off_coalesce(struct tun_off_batch *b, uint8_t *const *pkts,
			      const uint32_t *lens, unsigned int n, bool udp,
			      struct tun_off_stats *st);

#endif /* TUN_OFFLOAD_H */
