/* SPDX-License-Identifier: MIT */
#ifndef CTL_ALLOWLIST_H
#define CTL_ALLOWLIST_H

/*
 * Nebula 1.6.1's allow lists (spec §9): lighthouse.remote_allow_list
 * (underlay addresses of peers we accept: handshakes, roaming, what
 * lighthouses report), lighthouse.remote_allow_ranges (the same, per range
 * of peer VPN IPs) and lighthouse.local_allow_list (which of our addresses
 * we report, by address and by interface name).
 *
 * A list maps CIDRs to true or false; the most specific CIDR containing an
 * address decides. IPv4 and IPv6 are separate: a family whose rules all
 * say the same thing gets the opposite as its default (/0); a family with
 * both needs its /0 written out. IPv4 rules are kept as v4-mapped IPv6
 * prefixes (::ffff:0:0/96 is the IPv4 default), so one lookup serves both
 * families. Interface names are full-match regular expressions (POSIX
 * extended here, RE2 in nebula: the same for the names people write),
 * all true or all false; a name no rule matches gets the opposite.
 *
 * Parsed once with the config (config.c); no list at all allows
 * everything.
 */

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

struct ctl_allow_rule {
	struct in6_addr net; /* masked; IPv4 as ::ffff:a.b.c.d */
	unsigned int bits;   /* of 128 (IPv4 rules: 96 + their length) */
	bool allow;
};

struct ctl_allow_name {
	regex_t re; /* "^(name)$" */
};

struct ctl_allow_list {
	struct ctl_allow_rule *rules;
	size_t n_rules;
	struct ctl_allow_name *names; /* local_allow_list.interfaces */
	size_t n_names;
	bool names_allow; /* what every name rule says */
};

/* remote_allow_ranges: peers whose VPN IP is in ip/mask use @list. */
struct ctl_allow_range {
	uint32_t ip, mask; /* host byte order, ip masked */
	struct ctl_allow_list list;
};

/* Whether @l lets @a through; NULL allows everything. */
bool ctl_allow_addr(const struct ctl_allow_list *l, const struct in6_addr *a);
/* Whether @l lets interface @name through; no name rules allow all. */
bool ctl_allow_name(const struct ctl_allow_list *l, const char *name);

/*
 * A peer's underlay address @a for a peer of VPN IP @vpn_ip: the most
 * specific of @ranges containing @vpn_ip decides, else @remote.
 */
bool ctl_allow_remote(const struct ctl_allow_list *remote,
		      const struct ctl_allow_range *ranges, size_t n_ranges,
		      uint32_t vpn_ip, const struct in6_addr *a);

void ctl_allow_list_free(struct ctl_allow_list *l);

#endif /* CTL_ALLOWLIST_H */
