/* SPDX-License-Identifier: MIT */
/*
 * Firewall rules from config to record (common/fw_wire.h).
 *
 * config.c already refused what 1.6.1 refuses (ports, proto, group and
 * groups together, a rule with nothing to match on); this file only turns
 * each rule into its canonical wire form, which is where 1.6.1's reading
 * of the text lives:
 *
 * - FirewallRule.isAny: `host: any`, a group `any` anywhere in the set,
 *   a cidr that contains 0.0.0.0 (so 0.0.0.0/8 as much as 0.0.0.0/0), or
 *   no host, group or cidr at all (a rule with only ca_name/ca_sha) make
 *   the rule's certificate part match anyone; 1.6.1 then drops the rule's
 *   hosts, groups and cidrs, and so do we.
 * - 1.6.1 reads an empty host, ca_name or ca_sha as absent. A rule left
 *   with nothing at all is the error 1.6.1 gives ("at least one of ..."),
 *   instead of a rule that would match everyone.
 * - ca_sha stays a string, compared as given: 1.6.1 compares it with the
 *   lowercase hex issuer, so an uppercase ca_sha never matches.
 *
 * Strings are stored once however many rules use them: group names repeat.
 */
#include "fw_compile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capool.h"
#include "cert.h"
#include "config.h"
#include "status.h"

#define HDR_LEN offsetof(struct ctlmsg_firewall, data)

struct builder {
	struct ctlmsg_fw_rule *rules;
	size_t n_rules;
	uint32_t *refs;
	size_t n_refs, cap_refs;
	char *strings;
	size_t strings_len, cap_strings;
	uint32_t *offs; /* each distinct string's offset */
	size_t n_offs, cap_offs;
};

static size_t record_len(const struct builder *b)
{
	return HDR_LEN + b->n_rules * sizeof(struct ctlmsg_fw_rule) +
	       b->n_refs * sizeof(uint32_t) + b->strings_len;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* @s's offset in the string area, adding it if it is not there yet. */
static int intern(struct builder *b, const char *s, uint32_t *off)
{
	size_t len = strlen(s) + 1;
	int err;

	for (size_t i = 0; i < b->n_offs; i++) {
		if (!strcmp(b->strings + b->offs[i], s)) {
			*off = b->offs[i];
			return 0;
		}
	}
	/* Bounded by the record: anything past CTLMSG_MAX is refused anyway. */
	if (b->strings_len + len > CTLMSG_MAX)
		return -E2BIG;
	err = grow((void **)&b->strings, &b->cap_strings, b->strings_len + len,
		   1);
	if (!err)
		err = grow((void **)&b->offs, &b->cap_offs, b->n_offs + 1,
			   sizeof(*b->offs));
	if (err)
		return err;
	memcpy(b->strings + b->strings_len, s, len);
	*off = (uint32_t)b->strings_len;
	b->offs[b->n_offs++] = *off;
	b->strings_len += len;
	return 0;
}

static bool present(const char *s)
{
	return s && *s;
}

static bool rule_is_any(const struct ctl_fw_rule *r)
{
	if (!present(r->host) && !r->n_groups && !r->has_cidr)
		return true;
	if (present(r->host) && !strcmp(r->host, "any"))
		return true;
	for (size_t i = 0; i < r->n_groups; i++)
		if (!strcmp(r->groups[i], "any"))
			return true;
	/* net.IPNet.Contains(0.0.0.0): the network (masked) is 0. */
	return r->has_cidr && !(r->cidr.ip & r->cidr.mask);
}

static int rule_error(struct vl_status *st, int err,
		      const struct ctl_config *cfg, const char *table, size_t i,
		      const struct ctl_fw_rule *r, const char *msg)
{
	const char *path = cfg->path ? cfg->path : "config";

	if (r && r->line)
		return vl_status_set(st, err, "%s:%u: %s[%zu]: %s", path,
				     r->line, table, i, msg);
	return vl_status_set(st, err, "%s: %s[%zu]: %s", path, table, i, msg);
}

static int add_rule(struct builder *b, const struct ctl_fw_rule *r,
		    const struct ctl_config *cfg, const char *table, size_t i,
		    struct vl_status *st)
{
	struct ctlmsg_fw_rule *w = &b->rules[b->n_rules++];
	int err = 0;

	memset(w, 0, sizeof(*w));
	w->host = w->ca_name = w->ca_sha = CTLMSG_FW_NONE;
	w->line = r->line;

	switch (r->proto) {
	case CTL_FW_ANY:
	case CTL_FW_ICMP:
	case CTL_FW_TCP:
	case CTL_FW_UDP:
		w->proto = (uint8_t)r->proto;
		break;
	default:
		return rule_error(st, -EINVAL, cfg, table, i, r,
				  "proto is not any, tcp, udp or icmp");
	}

	/* config.c's parse_port() forms, nothing else. */
	if (r->start_port == CTL_FW_PORT_FRAGMENT &&
	    r->end_port == CTL_FW_PORT_FRAGMENT) {
		w->flags |= CTLMSG_FW_FRAGMENT;
	} else if (r->start_port == CTL_FW_PORT_ANY) {
		/* 1.6.1's parsePort: a range starting at 0 is any. */
	} else if (r->start_port >= 1 && r->start_port <= r->end_port &&
		   r->end_port <= 65535) {
		w->start_port = (uint16_t)r->start_port;
		w->end_port = (uint16_t)r->end_port;
	} else {
		return rule_error(
			st, -EINVAL, cfg, table, i, r,
			"port is not any, fragment, or a range within 1-65535");
	}

	if (!present(r->host) && !r->n_groups && !r->has_cidr &&
	    !present(r->ca_name) && !present(r->ca_sha))
		return rule_error(
			st, -EINVAL, cfg, table, i, r,
			"at least one of host, group, groups, cidr, ca_name or ca_sha must be non-empty");
	if (r->n_groups > UINT16_MAX)
		return rule_error(st, -E2BIG, cfg, table, i, r,
				  "more than 65535 groups");

	if (rule_is_any(r)) {
		w->flags |= CTLMSG_FW_ANY;
	} else {
		if (present(r->host))
			err = intern(b, r->host, &w->host);
		if (!err && r->n_groups) {
			err = grow((void **)&b->refs, &b->cap_refs,
				   b->n_refs + r->n_groups, sizeof(*b->refs));
			w->groups = (uint32_t)b->n_refs;
			w->n_groups = (uint16_t)r->n_groups;
		}
		for (size_t g = 0; !err && g < r->n_groups; g++)
			err = intern(b, r->groups[g], &b->refs[b->n_refs++]);
		if (!err && r->has_cidr) {
			w->flags |= CTLMSG_FW_CIDR;
			w->cidr_ip = r->cidr.ip & r->cidr.mask;
			w->cidr_mask = r->cidr.mask;
		}
	}
	if (!err && present(r->ca_name))
		err = intern(b, r->ca_name, &w->ca_name);
	if (!err && present(r->ca_sha))
		err = intern(b, r->ca_sha, &w->ca_sha);
	if (err == -ENOMEM)
		return vl_status_set(st, err, "out of memory");
	if (err || record_len(b) > CTLMSG_MAX) {
		char msg[160];

		snprintf(
			msg, sizeof(msg),
			"the firewall rules do not fit one control record (%zu bytes up to this rule, at most %u): use fewer rules or shorter names",
			record_len(b), (unsigned int)CTLMSG_MAX);
		return rule_error(st, -E2BIG, cfg, table, i, r, msg);
	}
	return 0;
}

static void builder_free(struct builder *b)
{
	free(b->rules);
	free(b->refs);
	free(b->strings);
	free(b->offs);
}

int ctl_fw_compile(const struct ctl_config *cfg, uint32_t gen,
		   struct ctlmsg_firewall **out, uint32_t *len,
		   struct vl_status *st)
{
	static const char *const keys[3] = {
		"firewall.conntrack.tcp_timeout",
		"firewall.conntrack.udp_timeout",
		"firewall.conntrack.default_timeout",
	};
	const int64_t v[3] = { cfg->conntrack_tcp_ns, cfg->conntrack_udp_ns,
			       cfg->conntrack_default_ns };
	struct builder b = { 0 };
	struct ctlmsg_firewall h;
	uint64_t t[3];
	uint8_t *rec, *p;
	size_t n_rules = cfg->n_inbound + cfg->n_outbound;
	int err = 0;

	*out = NULL;
	*len = 0;
	if (!gen)
		return vl_status_set(st, -EINVAL,
				     "firewall: rule generation 0 is reserved");
	for (size_t i = 0; i < 3; i++) {
		if (v[i] < 0)
			return vl_status_set(st, -EINVAL, "%s: %s: negative",
					     cfg->path ? cfg->path : "config",
					     keys[i]);
		t[i] = (uint64_t)v[i];
	}

	b.rules = calloc(n_rules ? n_rules : 1, sizeof(*b.rules));
	if (!b.rules)
		return vl_status_set(st, -ENOMEM, "out of memory");
	for (size_t i = 0; !err && i < cfg->n_inbound; i++)
		err = add_rule(&b, &cfg->inbound[i], cfg, "firewall.inbound", i,
			       st);
	for (size_t i = 0; !err && i < cfg->n_outbound; i++)
		err = add_rule(&b, &cfg->outbound[i], cfg, "firewall.outbound",
			       i, st);
	if (err)
		goto out_builder;

	rec = malloc(record_len(&b));
	if (!rec) {
		err = vl_status_set(st, -ENOMEM, "out of memory");
		goto out_builder;
	}
	memset(&h, 0, sizeof(h));
	h.hdr.version = CTLMSG_VERSION;
	h.hdr.len = (uint32_t)record_len(&b);
	h.gen = gen;
	h.n_inbound = (uint32_t)cfg->n_inbound;
	h.n_outbound = (uint32_t)cfg->n_outbound;
	h.n_refs = (uint32_t)b.n_refs;
	h.strings_len = (uint32_t)b.strings_len;
	h.tcp_timeout_ns = t[0];
	h.udp_timeout_ns = t[1];
	h.default_timeout_ns = t[2];
	memcpy(rec, &h, HDR_LEN);
	p = rec + HDR_LEN;
	if (n_rules)
		memcpy(p, b.rules, n_rules * sizeof(*b.rules));
	p += n_rules * sizeof(*b.rules);
	if (b.n_refs)
		memcpy(p, b.refs, b.n_refs * sizeof(*b.refs));
	p += b.n_refs * sizeof(*b.refs);
	if (b.strings_len)
		memcpy(p, b.strings, b.strings_len);
	*out = (struct ctlmsg_firewall *)(void *)rec;
	*len = h.hdr.len;
out_builder:
	builder_free(&b);
	return err;
}

/* Appends @s and its NUL to the identity's string area; false if full. */
static bool put_string(struct ctlmsg_fw_peer *id, size_t *pos, const char *s)
{
	size_t len = strlen(s) + 1;

	if (len > sizeof(id->strings) - *pos)
		return false;
	memcpy(id->strings + *pos, s, len);
	*pos += len;
	return true;
}

int ctl_fw_peer_identity(const struct ctl_cert *peer,
			 const struct ctl_capool *pool,
			 struct ctlmsg_fw_peer *out, struct vl_status *st)
{
	/* A certificate built in memory may leave a name NULL: 1.6.1's "". */
	const char *name = peer->name ? peer->name : "", *ca_name = "";
	const struct ctl_cert *ca;
	size_t pos = 0, need;
	bool fits;

	memset(out, 0, sizeof(*out));
	if (peer->issuer_len > sizeof(out->issuer))
		return vl_status_set(st, -EINVAL,
				     "certificate \"%.64s\": issuer of %zu bytes",
				     name, peer->issuer_len);
	/* 1.6.1's GetCAForCert: the pool's CA keyed by the issuer. */
	ca = peer->issuer_len ?
		     ctl_capool_find(pool, peer->issuer, peer->issuer_len) :
		     NULL;
	if (ca && ca->name)
		ca_name = ca->name;
	fits = peer->n_groups <= UINT16_MAX && put_string(out, &pos, name);
	if (fits && ca)
		fits = put_string(out, &pos, ca_name);
	for (size_t i = 0; fits && i < peer->n_groups; i++)
		fits = put_string(out, &pos, peer->groups[i]);
	if (!fits) {
		need = strlen(name) + 1 + (ca ? strlen(ca_name) + 1 : 0);
		for (size_t i = 0; i < peer->n_groups; i++)
			need += strlen(peer->groups[i]) + 1;
		memset(out, 0, sizeof(*out));
		return vl_status_set(
			st, -E2BIG,
			"certificate \"%.64s\": its name, %zu groups and CA name take %zu bytes, more than the firewall's %u (the tunnel is refused rather than matched on a truncated identity)",
			name, peer->n_groups, need,
			(unsigned int)CTLMSG_FW_PEER_STRINGS);
	}
	out->flags = ca ? CTLMSG_FW_PEER_HAS_CA : 0;
	out->n_groups = (uint16_t)peer->n_groups;
	out->strings_len = (uint16_t)pos;
	out->issuer_len = (uint16_t)peer->issuer_len;
	memcpy(out->issuer, peer->issuer, peer->issuer_len);
	return 0;
}
