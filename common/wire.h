/* SPDX-License-Identifier: MIT */
#ifndef VL_WIRE_H
#define VL_WIRE_H

/*
 * Nebula 1.6.1 on the wire: the 16-byte header, message types and the
 * protocol's numeric constants (spec §1, §4, §11), in one place for both
 * processes, as WireGuard keeps them in messages.h.
 *
 *  byte 0     byte 1    bytes 2-3   bytes 4-7              bytes 8-15
 * +----+----+---------+-----------+----------------------+-------------------+
 * |ver |type| subtype | reserved  | remote index (BE)    | counter (BE)      |
 * +----+----+---------+-----------+----------------------+-------------------+
 *
 * All multi-byte fields are big-endian. The 16 header bytes, exactly as
 * sent, are the associated data of every encrypted message.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum wire_limits {
	WIRE_HEADER_LEN = 16,
	WIRE_VERSION = 1,
	WIRE_KEY_LEN = 32,
	WIRE_TAG_LEN = 16,
	WIRE_NONCE_LEN = 12,
	WIRE_OVERHEAD = WIRE_HEADER_LEN + WIRE_TAG_LEN, /* 32 per message */
	WIRE_MTU_MAX = 9001,                  /* udp.MTU: largest datagram read */
	WIRE_TUN_MTU_DEFAULT = 1300,
	WIRE_ROUTE_MTU_MIN = 500,
	WIRE_REPLAY_WINDOW = 1024,            /* Nebula's ReplayWindow */
	WIRE_FIRST_COUNTER = 3,               /* 1 and 2 are the handshake's */
	WIRE_HANDSHAKE_PENDING_PACKETS = 100, /* queued per pending handshake */
	WIRE_RECV_ERROR_LIMIT = 4,            /* the 4th closes the tunnel */
	WIRE_MAX_REMOTES = 10,                /* addresses per owner and family */
};

/* Low nibble of byte 0 (spec §1.3). */
enum wire_type {
	WIRE_HANDSHAKE = 0,
	WIRE_MESSAGE = 1,
	WIRE_RECV_ERROR = 2,
	WIRE_LIGHTHOUSE = 3,
	WIRE_TEST = 4,
	WIRE_CLOSE_TUNNEL = 5,
	WIRE_CONTROL = 6,
};

/* Byte 1, per type. */
enum wire_subtype {
	WIRE_SUB_NONE = 0,           /* message: a tunnelled IP packet */
	WIRE_SUB_RELAY = 1,          /* message: relay envelope */
	WIRE_SUB_IX_PSK0 = 0,        /* handshake: the only one implemented */
	WIRE_SUB_TEST_REQUEST = 0,
	WIRE_SUB_TEST_REPLY = 1,
};

/* The header counter of the two handshake messages selects the stage. */
enum wire_handshake_stage {
	WIRE_HS_MSG1 = 1,
	WIRE_HS_MSG2 = 2,
};

/* Punch packets: shorter than a header, never a Nebula message (§1.1). */
enum wire_punch {
	WIRE_PUNCH_NOTIFY = 0x00, /* sent after a lighthouse punch notification */
	WIRE_PUNCH_KEEPALIVE = 0x01,
};

struct wire_header {
	uint8_t version;
	uint8_t type;
	uint8_t subtype;
	uint16_t reserved;
	uint32_t remote_index;
	uint64_t counter;
};

static inline uint32_t wire_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t wire_get_be64(const uint8_t *p)
{
	return (uint64_t)wire_get_be32(p) << 32 | wire_get_be32(p + 4);
}

static inline void wire_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void wire_put_be64(uint8_t *p, uint64_t v)
{
	wire_put_be32(p, (uint32_t)(v >> 32));
	wire_put_be32(p + 4, (uint32_t)v);
}

/*
 * Reads a header. The caller has checked len >= WIRE_HEADER_LEN. Version
 * and reserved are returned, not checked: 1.6.1 ignores both (Appendix B.1).
 */
static inline void wire_header_decode(const uint8_t *p, struct wire_header *h)
{
	h->version = p[0] >> 4;
	h->type = p[0] & 0x0f;
	h->subtype = p[1];
	h->reserved = (uint16_t)(p[2] << 8 | p[3]);
	h->remote_index = wire_get_be32(p + 4);
	h->counter = wire_get_be64(p + 8);
}

/* Writes a header as 1.6.1 sends it: version 1, reserved 0. */
static inline void wire_header_encode(uint8_t *p, enum wire_type type,
				      uint8_t subtype, uint32_t remote_index,
				      uint64_t counter)
{
	p[0] = (uint8_t)(WIRE_VERSION << 4 | (type & 0x0f));
	p[1] = subtype;
	p[2] = 0;
	p[3] = 0;
	wire_put_be32(p + 4, remote_index);
	wire_put_be64(p + 8, counter);
}

#endif /* VL_WIRE_H */
