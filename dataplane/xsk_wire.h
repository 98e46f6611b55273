/* SPDX-License-Identifier: MIT */
#ifndef DP_XSK_WIRE_H
#define DP_XSK_WIRE_H

/*
 * The frames of the xsk port (port_xsk.c), as pure functions so unit tests
 * and a fuzzer drive them: parsing what the RX ring hands us, and building
 * what goes on the TX ring.
 */

#include <stdint.h>

#include "nexthop.h"
#include "port.h"

/* Why a frame was refused, by the layer that was wrong. */
enum dp_xw_result { DP_XW_OK, DP_XW_BAD_L2, DP_XW_BAD_L3, DP_XW_BAD_L4 };

/*
 * A frame as hostile input: Ethernet with zero to two VLAN tags (802.1Q or
 * 802.1ad), IPv4 (IHL >= 5, no fragment) or IPv6 (no extension header),
 * UDP to @port_be (network order), every length checked against the frame
 * and the layer below (trailing padding allowed). On DP_XW_OK, @out points at
 * the UDP payload inside @frame, with the source address (IPv4
 * v4-mapped) and port. The UDP checksum is not verified; a zero one over
 * IPv6 (which RFC 8200 forbids) is refused.
 */
enum dp_xw_result dp_xw_parse(uint8_t *frame, uint32_t len, uint16_t port_be,
			      struct dp_pkt *out);

/*
 * Ethernet (with e->vlan's 802.1Q tag when not 0), IPv4 or IPv6 (by the
 * destination's family), UDP from @src_port_be and the payload of @pkt,
 * written to @frame. IPv4: header checksum, no DF, UDP checksum 0; IPv6:
 * UDP checksum computed (mandatory). Returns the frame length, or 0 when
 * it would exceed @room or the entry's MTU (IP packet length).
 */
uint32_t dp_xw_build(const struct dp_nh_entry *e, const struct dp_pkt *pkt,
		     uint16_t src_port_be, uint16_t ip_id, uint8_t *frame,
		     uint32_t room);

#endif /* DP_XSK_WIRE_H */
