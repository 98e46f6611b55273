// SPDX-License-Identifier: MIT
/* Nebula's allow lists: lookups (allowlist.h); parsing is in config.c. */
#include <stdlib.h>
#include <string.h>

#include "allowlist.h"

/* Whether the first @bits bits of @a and @net agree. */
static bool in_prefix(const struct in6_addr *a, const struct in6_addr *net,
		      unsigned int bits)
{
	unsigned int full = bits / 8, rest = bits % 8;

	if (memcmp(a->s6_addr, net->s6_addr, full))
		return false;
	if (!rest)
		return true;
	return ((a->s6_addr[full] ^ net->s6_addr[full]) &
		(uint8_t)(0xff << (8 - rest))) == 0;
}

bool ctl_allow_addr(const struct ctl_allow_list *l, const struct in6_addr *a)
{
	const struct ctl_allow_rule *best = NULL;

	if (!l || !l->n_rules)
		return true;
	for (size_t i = 0; i < l->n_rules; i++) {
		const struct ctl_allow_rule *r = &l->rules[i];

		/* The later of two equal CIDRs wins, as a tree insert would. */
		if (in_prefix(a, &r->net, r->bits) &&
		    (!best || r->bits >= best->bits))
			best = r;
	}
	/* The /0 defaults cover every address: none found cannot happen. */
	return best ? best->allow : true;
}

bool ctl_allow_name(const struct ctl_allow_list *l, const char *name)
{
	if (!l || !l->n_names)
		return true;
	for (size_t i = 0; i < l->n_names; i++)
		if (regexec(&l->names[i].re, name, 0, NULL, 0) == 0)
			return l->names_allow;
	return !l->names_allow;
}

bool ctl_allow_remote(const struct ctl_allow_list *remote,
		      const struct ctl_allow_range *ranges, size_t n_ranges,
		      uint32_t vpn_ip, const struct in6_addr *a)
{
	const struct ctl_allow_range *best = NULL;

	for (size_t i = 0; i < n_ranges; i++)
		if ((vpn_ip & ranges[i].mask) == ranges[i].ip &&
		    (!best || ranges[i].mask >= best->mask))
			best = &ranges[i];
	return ctl_allow_addr(best ? &best->list : remote, a);
}

void ctl_allow_list_free(struct ctl_allow_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_names; i++)
		regfree(&l->names[i].re);
	free(l->names);
	free(l->rules);
	memset(l, 0, sizeof(*l));
}
