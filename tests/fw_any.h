/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FW_ANY_H
#define TESTS_FW_ANY_H

/*
 * For tests and benchmarks that drive the dataplane without vela-control:
 * a FIREWALL record that allows everything both ways (one `proto: any,
 * port: any, host: any` rule each, 1.6.1's conntrack timeouts), and a peer
 * identity with a name and nothing else. What vela-control would send for
 *
 *   firewall:
 *     inbound:  [{ port: any, proto: any, host: any }]
 *     outbound: [{ port: any, proto: any, host: any }]
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ctlmsg.h"

#define FW_ANY_LEN \
	(offsetof(struct ctlmsg_firewall, data) + 2 * sizeof(struct ctlmsg_fw_rule))

/* A rule that matches anyone on @proto (0: any), ports @lo..@hi (0: any). */
static inline struct ctlmsg_fw_rule fw_rule_any_host(uint8_t proto,
						     uint16_t lo, uint16_t hi)
{
	return (struct ctlmsg_fw_rule){
		.proto = proto,
		.flags = CTLMSG_FW_ANY,
		.start_port = lo,
		.end_port = hi,
		.host = CTLMSG_FW_NONE,
		.ca_name = CTLMSG_FW_NONE,
		.ca_sha = CTLMSG_FW_NONE,
	};
}

/*
 * A record with these rules (no strings: rules without host, group or CA
 * names) at @buf, which has room for all of them; returns its length.
 */
static inline uint32_t fw_build(void *buf, uint32_t seq,
				const struct ctlmsg_fw_rule *in, uint32_t n_in,
				const struct ctlmsg_fw_rule *out, uint32_t n_out)
{
	struct ctlmsg_firewall fw = {
		.hdr = { .version = CTLMSG_VERSION,
			 .type = CTLMSG_FIREWALL,
			 .seq = seq },
		.gen = 1,
		.n_inbound = n_in,
		.n_outbound = n_out,
		.tcp_timeout_ns = 12 * 60 * 1000000000ull,
		.udp_timeout_ns = 3 * 60 * 1000000000ull,
		.default_timeout_ns = 10 * 60 * 1000000000ull,
	};
	uint8_t *p = buf;

	fw.hdr.len = (uint32_t)(offsetof(struct ctlmsg_firewall, data) +
				(n_in + n_out) * sizeof(*in));
	memcpy(p, &fw, offsetof(struct ctlmsg_firewall, data));
	p += offsetof(struct ctlmsg_firewall, data);
	if (n_in)
		memcpy(p, in, n_in * sizeof(*in));
	if (n_out)
		memcpy(p + n_in * sizeof(*in), out, n_out * sizeof(*out));
	return fw.hdr.len;
}

/* Writes the allow-all record (FW_ANY_LEN bytes) at @buf. */
static inline uint32_t fw_any_build(void *buf, uint32_t seq)
{
	const struct ctlmsg_fw_rule any = fw_rule_any_host(0, 0, 0);

	return fw_build(buf, seq, &any, 1, &any, 1);
}

/* An identity with the certificate name @name, no groups, no issuer. */
static inline void fw_any_peer(struct ctlmsg_fw_peer *p, const char *name)
{
	size_t n = strlen(name) + 1;

	memset(p, 0, sizeof(*p));
	memcpy(p->strings, name, n);
	p->strings_len = (uint16_t)n;
}

#endif /* TESTS_FW_ANY_H */
