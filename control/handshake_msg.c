/* SPDX-License-Identifier: MIT */
#include "handshake_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "nebula.pb-c.h"
#include "status.h"

/*
 * protobuf-c packs fields in field-number order and, for proto3 fields
 * without presence, skips zero integers, empty bytes and NULL messages:
 * the same bytes gogo/protobuf's generated Marshal writes for this schema.
 * A non-NULL Details is always written, even when empty ("0a 00"), as gogo
 * does for a non-nil pointer.
 *
 * Encoding builds the two protobuf-c messages on the stack around the
 * caller's buffers, so it allocates nothing. protobuf-c's bytes fields are
 * not const, but packing only reads them.
 */

/* Fills @hs and @d from @p; false if a length has no pointer. */
static bool build(const struct ctl_hs_payload *p, Nebula__NebulaHandshake *hs,
		  Nebula__NebulaHandshakeDetails *d)
{
	if ((p->cert_len && !p->cert) || (p->hmac_len && !p->hmac))
		return false;
	nebula__nebula_handshake__init(hs);
	nebula__nebula_handshake_details__init(d);
	d->cert.data = (uint8_t *)p->cert;
	d->cert.len = p->cert_len;
	d->initiatorindex = p->initiator_index;
	d->responderindex = p->responder_index;
	d->cookie = p->cookie;
	d->time = p->time_ns;
	hs->details = d;
	hs->hmac.data = (uint8_t *)p->hmac;
	hs->hmac.len = p->hmac_len;
	return true;
}

size_t ctl_hs_encoded_len(const struct ctl_hs_payload *p)
{
	Nebula__NebulaHandshakeDetails d;
	Nebula__NebulaHandshake hs;

	if (!build(p, &hs, &d))
		return 0;
	return nebula__nebula_handshake__get_packed_size(&hs);
}

int ctl_hs_encode(const struct ctl_hs_payload *p, uint8_t *out, size_t cap,
		  size_t *out_len, struct vl_status *st)
{
	Nebula__NebulaHandshakeDetails d;
	Nebula__NebulaHandshake hs;
	size_t len;

	if (!build(p, &hs, &d))
		return vl_status_set(
			st, -EINVAL,
			"handshake payload: cert or hmac length without data");
	len = nebula__nebula_handshake__get_packed_size(&hs);
	if (len > cap)
		return vl_status_set(
			st, -ENOBUFS,
			"handshake payload needs %zu bytes, buffer has %zu",
			len, cap);
	*out_len = nebula__nebula_handshake__pack(&hs, out);
	return 0;
}

int ctl_hs_decode(const uint8_t *buf, size_t len, struct ctl_hs_payload *p,
		  struct vl_status *st)
{
	const Nebula__NebulaHandshakeDetails *d;
	Nebula__NebulaHandshake *hs;

	memset(p, 0, sizeof(*p));
	/* protobuf-c copies every bytes field, so @buf is not kept. */
	hs = nebula__nebula_handshake__unpack(NULL, len, buf);
	if (!hs)
		return vl_status_set(
			st, -EINVAL,
			"handshake payload: not a NebulaHandshake protobuf (%zu bytes)",
			len);
	d = hs->details;
	if (!d) {
		/* 1.6.1: "Failed unmarshal handshake message" */
		nebula__nebula_handshake__free_unpacked(hs, NULL);
		return vl_status_set(st, -EINVAL,
				     "handshake payload has no Details");
	}
	p->cert = d->cert.data;
	p->cert_len = d->cert.len;
	p->initiator_index = d->initiatorindex;
	p->responder_index = d->responderindex;
	p->cookie = d->cookie;
	p->time_ns = d->time;
	p->hmac = hs->hmac.data;
	p->hmac_len = hs->hmac.len;
	p->decoded = hs;
	return 0;
}

void ctl_hs_release(struct ctl_hs_payload *p)
{
	if (p->decoded)
		nebula__nebula_handshake__free_unpacked(p->decoded, NULL);
	p->decoded = NULL;
	p->cert = NULL;
	p->cert_len = 0;
	p->hmac = NULL;
	p->hmac_len = 0;
}
