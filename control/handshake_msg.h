/* SPDX-License-Identifier: MIT */
#ifndef CTL_HANDSHAKE_MSG_H
#define CTL_HANDSHAKE_MSG_H

/*
 * The handshake payload, NebulaHandshake (spec §3.4): what noise.c carries
 * in message 1 (cleartext) and message 2 (encrypted).
 *
 * Encoding reproduces gogo/protobuf's output exactly: fields in number
 * order, zero values and empty bytes omitted, minimal varints. The msg-2
 * payload must be byte-exact only for the Appendix A vectors, but the
 * same rules keep our messages identical to what 1.6.1 would send.
 *
 * Decoding accepts any valid protobuf (any order, unknown fields skipped,
 * which re-encoding then drops as 1.6.1 does) and refuses a message without
 * Details, as 1.6.1 does.
 *
 * 1.6.1's responder builds message 2 from the decoded message 1: it sets
 * ResponderIndex, Cert and Time and marshals again, so InitiatorIndex,
 * Cookie and Hmac go back as received (Appendix B.8). Do the same: decode
 * msg 1 into a struct ctl_hs_payload, overwrite those three fields, encode,
 * then ctl_hs_release().
 */

#include <stddef.h>
#include <stdint.h>

struct vl_status;

struct ctl_hs_payload {
	/* Details.Cert: the certificate without PublicKey (§3.5). */
	const uint8_t *cert;
	size_t cert_len;
	uint32_t initiator_index; /* Details.InitiatorIndex */
	uint32_t responder_index; /* Details.ResponderIndex, 0 in msg 1 */
	uint64_t cookie; /* Details.Cookie: unused, echoed */
	uint64_t time_ns; /* Details.Time: Unix nanoseconds */
	/* NebulaHandshake.Hmac: never set by 1.6.1, echoed. */
	const uint8_t *hmac;
	size_t hmac_len;
	/*
	 * After ctl_hs_decode: the decoded message, which holds the bytes
	 * cert and hmac point to until ctl_hs_release(). NULL otherwise.
	 */
	void *decoded;
};

/* handshake_msg.c: no shared state; any thread. */

/* Bytes ctl_hs_encode() will write for @p. */
size_t ctl_hs_encoded_len(const struct ctl_hs_payload *p);

/*
 * Writes the NebulaHandshake for @p to @out. -ENOBUFS if @cap is smaller
 * than ctl_hs_encoded_len(@p); -EINVAL if a length is set without its
 * pointer.
 */
int ctl_hs_encode(const struct ctl_hs_payload *p, uint8_t *out, size_t cap,
		  size_t *out_len, struct vl_status *st);

/*
 * Reads a NebulaHandshake into @p. On success @p->decoded owns what cert
 * and hmac point to: call ctl_hs_release(@p). On error (-EINVAL: not a
 * protobuf, or no Details) nothing is held and @p is zeroed.
 */
int ctl_hs_decode(const uint8_t *buf, size_t len, struct ctl_hs_payload *p,
		  struct vl_status *st);

/*
 * Frees what ctl_hs_decode() allocated and clears cert and hmac; safe on a
 * payload that was never decoded (decoded NULL) and to call twice.
 */
void ctl_hs_release(struct ctl_hs_payload *p);

#endif /* CTL_HANDSHAKE_MSG_H */
