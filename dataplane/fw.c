/* SPDX-License-Identifier: MIT */
/*
 * The firewall's rule engine (fw.h). The record is checked completely
 * before anything is built; then each rule is split in two:
 *
 * - struct fw_pkt, 16 bytes, what a packet is matched against: protocol,
 *   a port range and a cidr. Any port is the range 0-65535 that also
 *   takes fragments; `fragment` is an empty range that takes fragments
 *   only; a port range never takes them.
 * - struct fw_cert, what a certificate is matched against, read only by
 *   dp_fw_peer_new. Group names are replaced by indexes into one sorted
 *   table of every group name the rules use, so a peer's groups are
 *   looked up once each (binary search) into a bitmap, and a rule's group
 *   set is a few bit tests.
 *
 * A peer's list holds, per direction, the indexes of the rules whose CA
 * part it passes and whose host/group part it passes (the rule applies
 * whatever the remote IP) or that have a cidr (FW_CIDR_ONLY: the rule
 * applies if the remote IP is in it). Rules it can never match are not in
 * the list, so a packet is compared with only the rules that concern its
 * peer, in config order.
 */
#include "fw.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

#define HDR_LEN offsetof(struct ctlmsg_firewall, data)
#define FW_CIDR_ONLY (1u << 31) /* in a peer's list: the cidr still decides */
#define FW_INDEX (FW_CIDR_ONLY - 1)

struct fw_pkt {
	uint32_t net, mask; /* remote IP; 0/0 when the cidr does not matter */
	uint16_t lo, hi; /* port range */
	uint8_t proto; /* 0: any */
	uint8_t frag; /* takes non-first fragments */
	uint16_t pad;
};

struct fw_cert {
	const char *host; /* NULL: none */
	const char *ca_name;
	const char *ca_sha;
	const uint32_t *groups; /* indexes into dp_fw.names */
	uint32_t n_groups;
	bool any; /* no host/group/cidr condition */
	bool has_cidr;
};

struct dp_fw {
	uint32_t gen;
	struct dp_flow_timeouts timeouts;
	uint32_t n_rules[2]; /* by enum dp_flow_dir */
	struct fw_pkt *pkt[2];
	struct fw_cert *cert[2];
	const char **names; /* distinct group names, strcmp order */
	uint32_t n_names;
	uint32_t *group_ids; /* every rule's groups, as indexes */
	char *strings; /* the record's string area */
};

struct dp_fw_peer {
	const struct dp_fw *fw;
	uint32_t n[2];
	bool all[2]; /* a rule allows every packet */
	const uint32_t *list[2]; /* rule index, | FW_CIDR_ONLY */
	uint32_t entries[];
};

static const char *dir_name(unsigned int dir)
{
	return dir == DP_FLOW_IN ? "inbound" : "outbound";
}

/* A string reference that is neither absent nor inside the strings. */
static bool ref_bad(uint32_t ref, uint32_t strings_len)
{
	return ref != CTLMSG_FW_NONE && ref >= strings_len;
}

/* A contiguous mask: ones from the top, then zeros. */
static bool mask_ok(uint32_t mask)
{
	return !(~mask & (~mask + 1));
}

static int check_rule(const struct ctlmsg_fw_rule *r,
		      const struct ctlmsg_firewall *h, const char *strings,
		      unsigned int dir, uint32_t i, struct vl_status *st)
{
	const char *why = NULL;

	if (r->proto != 0 && r->proto != 1 && r->proto != 6 && r->proto != 17)
		why = "unknown proto";
	else if (r->flags & ~CTLMSG_FW_FLAGS)
		why = "unknown flags";
	else if ((r->flags & CTLMSG_FW_FRAGMENT) &&
		 (r->start_port || r->end_port))
		why = "a fragment rule with ports";
	else if (!r->start_port && r->end_port)
		why = "port range from 0";
	else if (r->start_port > r->end_port)
		why = "port range ends before it starts";
	else if (ref_bad(r->host, h->strings_len) ||
		 ref_bad(r->ca_name, h->strings_len) ||
		 ref_bad(r->ca_sha, h->strings_len))
		why = "string reference past the strings";
	else if ((r->host != CTLMSG_FW_NONE && !strings[r->host]) ||
		 (r->ca_name != CTLMSG_FW_NONE && !strings[r->ca_name]) ||
		 (r->ca_sha != CTLMSG_FW_NONE && !strings[r->ca_sha]))
		why = "empty host, ca_name or ca_sha";
	else if (r->n_groups && (uint64_t)r->groups + r->n_groups > h->n_refs)
		why = "group references past refs";
	else if (!r->n_groups && r->groups)
		why = "group index without groups";
	else if (!(r->flags & CTLMSG_FW_CIDR) && (r->cidr_ip || r->cidr_mask))
		why = "cidr without the cidr flag";
	else if ((r->flags & CTLMSG_FW_CIDR) &&
		 (!mask_ok(r->cidr_mask) || (r->cidr_ip & ~r->cidr_mask) ||
		  !r->cidr_ip))
		why = "cidr not a masked network, or one that contains 0.0.0.0 (that is any)";
	else if ((r->flags & CTLMSG_FW_ANY) &&
		 (r->host != CTLMSG_FW_NONE || r->n_groups ||
		  (r->flags & CTLMSG_FW_CIDR)))
		why = "an any rule with host, groups or cidr";
	else if (!(r->flags & CTLMSG_FW_ANY) && r->host == CTLMSG_FW_NONE &&
		 !r->n_groups && !(r->flags & CTLMSG_FW_CIDR))
		why = "no host, groups or cidr, but not any";
	if (why)
		return vl_status_set(st, -EINVAL,
				     "firewall record: %s rule %" PRIu32
				     " (config line %" PRIu32 "): %s",
				     dir_name(dir), i, r->line, why);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int32_t find_name(const struct dp_fw *fw, const char *s)
{
	uint32_t lo = 0, hi = fw->n_names;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s, fw->names[mid]);

		if (!c)
			return (int32_t)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

void dp_fw_free(struct dp_fw *fw)
{
	if (!fw)
		return;
	for (unsigned int d = 0; d < 2; d++) {
		free(fw->pkt[d]);
		free(fw->cert[d]);
	}
	free(fw->names);
	free(fw->group_ids);
	free(fw->strings);
	free(fw);
}

/* The names table: every string a group reference points at, once, sorted. */
static int build_names(struct dp_fw *fw, const uint32_t *refs, uint32_t n_refs)
{
	uint32_t n = 0;

	fw->names = calloc(n_refs ? n_refs : 1, sizeof(*fw->names));
	if (!fw->names)
		return -ENOMEM;
	for (uint32_t i = 0; i < n_refs; i++)
		fw->names[i] = fw->strings + refs[i];
	qsort(fw->names, n_refs, sizeof(*fw->names), cmp_name);
	for (uint32_t i = 0; i < n_refs; i++)
		if (!n || strcmp(fw->names[n - 1], fw->names[i]))
			fw->names[n++] = fw->names[i];
	fw->n_names = n;
	return 0;
}

static void build_rule(struct dp_fw *fw, const struct ctlmsg_fw_rule *r,
		       const uint32_t *refs, struct fw_pkt *pk,
		       struct fw_cert *c)
{
	memset(pk, 0, sizeof(*pk));
	memset(c, 0, sizeof(*c));
	pk->proto = r->proto;
	if (r->flags & CTLMSG_FW_FRAGMENT) {
		pk->lo = 1; /* empty range: only fragments */
		pk->hi = 0;
		pk->frag = 1;
	} else if (!r->start_port) {
		pk->lo = 0;
		pk->hi = UINT16_MAX;
		pk->frag = 1;
	} else {
		pk->lo = r->start_port;
		pk->hi = r->end_port;
	}
	if (r->flags & CTLMSG_FW_CIDR) {
		pk->net = r->cidr_ip;
		pk->mask = r->cidr_mask;
		c->has_cidr = true;
	}
	c->any = r->flags & CTLMSG_FW_ANY;
	c->host = r->host == CTLMSG_FW_NONE ? NULL : fw->strings + r->host;
	c->ca_name = r->ca_name == CTLMSG_FW_NONE ? NULL :
						    fw->strings + r->ca_name;
	c->ca_sha = r->ca_sha == CTLMSG_FW_NONE ? NULL :
						  fw->strings + r->ca_sha;
	/* The group ids of refs[r->groups ..) sit at the same index. */
	c->groups = fw->group_ids + r->groups;
	c->n_groups = r->n_groups;
	for (uint32_t g = 0; g < r->n_groups; g++)
		fw->group_ids[r->groups + g] = (uint32_t)find_name(
			fw, fw->strings + refs[r->groups + g]);
}

int dp_fw_load(const void *rec, uint32_t len, struct dp_fw **out,
	       struct vl_status *st)
{
	const uint8_t *b = rec;
	struct ctlmsg_firewall h;
	const uint8_t *rules_at, *refs_at, *strings_at;
	uint32_t *refs = NULL;
	struct dp_fw *fw;
	uint64_t n_rules, want;
	int err;

	*out = NULL;
	if (len < HDR_LEN || len > CTLMSG_MAX)
		return vl_status_set(st, -EINVAL,
				     "firewall record: %" PRIu32
				     " bytes, not within %zu..%u",
				     len, HDR_LEN, (unsigned int)CTLMSG_MAX);
	memcpy(&h, b, HDR_LEN);
	if (h.hdr.len != len)
		return vl_status_set(st, -EINVAL,
				     "firewall record: hdr.len %" PRIu32
				     " but %" PRIu32 " bytes received",
				     h.hdr.len, len);
	n_rules = (uint64_t)h.n_inbound + h.n_outbound;
	want = HDR_LEN + n_rules * sizeof(struct ctlmsg_fw_rule) +
	       (uint64_t)h.n_refs * sizeof(uint32_t) + h.strings_len;
	if (want != len)
		return vl_status_set(st, -EINVAL,
				     "firewall record: %" PRIu32 " + %" PRIu32
				     " rules, %" PRIu32 " refs and %" PRIu32
				     " bytes of strings make %" PRIu64
				     " bytes, not %" PRIu32,
				     h.n_inbound, h.n_outbound, h.n_refs,
				     h.strings_len, want, len);
	if (!h.gen)
		return vl_status_set(st, -EINVAL,
				     "firewall record: generation 0");
	if (h.reserved)
		return vl_status_set(st, -EINVAL,
				     "firewall record: reserved field not 0");
	if (h.tcp_timeout_ns > INT64_MAX || h.udp_timeout_ns > INT64_MAX ||
	    h.default_timeout_ns > INT64_MAX)
		return vl_status_set(
			st, -EINVAL,
			"firewall record: conntrack timeout out of range");
	rules_at = b + HDR_LEN;
	refs_at = rules_at + n_rules * sizeof(struct ctlmsg_fw_rule);
	strings_at = refs_at + (size_t)h.n_refs * sizeof(uint32_t);
	if (h.strings_len && strings_at[h.strings_len - 1] != '\0')
		return vl_status_set(
			st, -EINVAL,
			"firewall record: strings do not end in a NUL");

	fw = calloc(1, sizeof(*fw));
	if (!fw)
		return vl_status_set(st, -ENOMEM, "out of memory");
	err = -ENOMEM;
	fw->strings = malloc(h.strings_len ? h.strings_len : 1);
	refs = calloc(h.n_refs ? h.n_refs : 1, sizeof(*refs));
	fw->group_ids = calloc(h.n_refs ? h.n_refs : 1, sizeof(*fw->group_ids));
	if (!fw->strings || !refs || !fw->group_ids)
		goto out_free;
	memcpy(fw->strings, strings_at, h.strings_len);
	memcpy(refs, refs_at, (size_t)h.n_refs * sizeof(*refs));
	for (uint32_t i = 0; i < h.n_refs; i++) {
		if (refs[i] >= h.strings_len) {
			err = vl_status_set(
				st, -EINVAL,
				"firewall record: refs[%" PRIu32 "] = %" PRIu32
				" is past the strings (%" PRIu32 " bytes)",
				i, refs[i], h.strings_len);
			goto out_free;
		}
	}

	fw->n_rules[DP_FLOW_IN] = h.n_inbound;
	fw->n_rules[DP_FLOW_OUT] = h.n_outbound;
	for (unsigned int d = 0; d < 2; d++) {
		uint32_t n = fw->n_rules[d];

		fw->pkt[d] = calloc(n ? n : 1, sizeof(*fw->pkt[d]));
		fw->cert[d] = calloc(n ? n : 1, sizeof(*fw->cert[d]));
		if (!fw->pkt[d] || !fw->cert[d])
			goto out_free;
	}
	/* Check every rule before building any. */
	for (uint32_t i = 0; i < n_rules; i++) {
		struct ctlmsg_fw_rule r;
		unsigned int d = i < h.n_inbound ? DP_FLOW_IN : DP_FLOW_OUT;

		memcpy(&r, rules_at + i * sizeof(r), sizeof(r));
		err = check_rule(&r, &h, fw->strings, d,
				 d == DP_FLOW_IN ? i : i - h.n_inbound, st);
		if (err)
			goto out_free;
	}
	err = build_names(fw, refs, h.n_refs);
	if (err)
		goto out_free;
	for (uint32_t i = 0; i < n_rules; i++) {
		struct ctlmsg_fw_rule r;
		unsigned int d = i < h.n_inbound ? DP_FLOW_IN : DP_FLOW_OUT;
		uint32_t j = d == DP_FLOW_IN ? i : i - h.n_inbound;

		memcpy(&r, rules_at + i * sizeof(r), sizeof(r));
		build_rule(fw, &r, refs, &fw->pkt[d][j], &fw->cert[d][j]);
	}
	fw->gen = h.gen;
	fw->timeouts.tcp_ns = h.tcp_timeout_ns;
	fw->timeouts.udp_ns = h.udp_timeout_ns;
	fw->timeouts.default_ns = h.default_timeout_ns;
	free(refs);
	*out = fw;
	return 0;

out_free:
	if (err == -ENOMEM)
		vl_status_set(st, err, "out of memory");
	free(refs);
	dp_fw_free(fw);
	return err;
}

uint32_t dp_fw_gen(const struct dp_fw *fw)
{
	return fw->gen;
}

const struct dp_flow_timeouts *dp_fw_timeouts(const struct dp_fw *fw)
{
	return &fw->timeouts;
}

uint32_t dp_fw_n_rules(const struct dp_fw *fw, enum dp_flow_dir dir)
{
	return (unsigned int)dir < 2 ? fw->n_rules[dir] : 0;
}

/* The peer's strings, found and checked once. */
struct identity {
	const char *name;
	const char *ca_name; /* NULL: no CA of ours issued it */
	char issuer_hex[2 * CTLMSG_FW_ISSUER_MAX + 1];
	uint64_t *groups; /* bitmap over dp_fw.names */
};

static int parse_identity(const struct dp_fw *fw,
			  const struct ctlmsg_fw_peer *id, struct identity *out,
			  struct vl_status *st)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t n_strings, pos = 0;

	if (id->flags & ~CTLMSG_FW_PEER_HAS_CA)
		return vl_status_set(st, -EINVAL,
				     "peer identity: unknown flags 0x%x",
				     (unsigned int)id->flags);
	if (id->issuer_len > CTLMSG_FW_ISSUER_MAX)
		return vl_status_set(st, -EINVAL,
				     "peer identity: issuer_len %u > %u",
				     (unsigned int)id->issuer_len,
				     (unsigned int)CTLMSG_FW_ISSUER_MAX);
	if (!id->strings_len || id->strings_len > CTLMSG_FW_PEER_STRINGS)
		return vl_status_set(
			st, -EINVAL,
			"peer identity: strings_len %u not within 1..%u",
			(unsigned int)id->strings_len,
			(unsigned int)CTLMSG_FW_PEER_STRINGS);
	for (uint32_t i = 0; i < id->issuer_len; i++) {
		out->issuer_hex[2 * i] = hex[id->issuer[i] >> 4];
		out->issuer_hex[2 * i + 1] = hex[id->issuer[i] & 15];
	}
	out->issuer_hex[2 * id->issuer_len] = '\0';

	out->groups = calloc((fw->n_names + 63) / 64 + 1, sizeof(uint64_t));
	if (!out->groups)
		return vl_status_set(st, -ENOMEM, "out of memory");
	out->ca_name = NULL;
	n_strings = 1u + !!(id->flags & CTLMSG_FW_PEER_HAS_CA) + id->n_groups;
	for (uint32_t i = 0; i < n_strings; i++) {
		const char *s = id->strings + pos;
		const char *nul =
			pos < id->strings_len ?
				memchr(s, '\0', id->strings_len - pos) :
				NULL;
		int32_t g;

		if (!nul) {
			free(out->groups);
			return vl_status_set(
				st, -EINVAL,
				"peer identity: string %" PRIu32 " of %" PRIu32
				" is not terminated within strings_len %u",
				i + 1, n_strings,
				(unsigned int)id->strings_len);
		}
		pos += (uint32_t)(nul - s) + 1;
		if (i == 0) {
			out->name = s;
		} else if (i == 1 && (id->flags & CTLMSG_FW_PEER_HAS_CA)) {
			out->ca_name = s;
		} else if ((g = find_name(fw, s)) >= 0) {
			out->groups[g / 64] |= UINT64_C(1) << (g % 64);
		}
	}
	if (pos != id->strings_len) {
		free(out->groups);
		return vl_status_set(
			st, -EINVAL,
			"peer identity: %u bytes after the last of %" PRIu32
			" strings",
			(unsigned int)(id->strings_len - pos), n_strings);
	}
	return 0;
}

/* 1.6.1's FirewallCA.match and FirewallRule.match for one rule. */
static uint32_t verdict(const struct fw_cert *c, const struct identity *id)
{
	bool ca_ok = !c->ca_name && !c->ca_sha;

	if (c->ca_sha && !strcmp(c->ca_sha, id->issuer_hex))
		ca_ok = true;
	if (c->ca_name && id->ca_name && !strcmp(c->ca_name, id->ca_name))
		ca_ok = true;
	if (!ca_ok)
		return 0;
	if (c->any || (c->host && !strcmp(c->host, id->name)))
		return 1;
	if (c->n_groups) {
		uint32_t g = 0;

		while (g < c->n_groups &&
		       (id->groups[c->groups[g] / 64] >> (c->groups[g] % 64)) &
			       1)
			g++;
		if (g == c->n_groups)
			return 1;
	}
	return c->has_cidr ? FW_CIDR_ONLY : 0;
}

int dp_fw_peer_new(const struct dp_fw *fw, const struct ctlmsg_fw_peer *id,
		   struct dp_fw_peer **out, struct vl_status *st)
{
	uint32_t total = fw->n_rules[0] + fw->n_rules[1], n = 0;
	uint32_t *tmp;
	struct identity ident;
	struct dp_fw_peer *p;
	uint32_t n_dir[2] = { 0, 0 };
	bool all[2] = { false, false };
	int err;

	*out = NULL;
	err = parse_identity(fw, id, &ident, st);
	if (err)
		return err;
	tmp = calloc(total ? total : 1, sizeof(*tmp));
	if (!tmp) {
		free(ident.groups);
		return vl_status_set(st, -ENOMEM, "out of memory");
	}
	for (unsigned int d = 0; d < 2; d++) {
		for (uint32_t i = 0; i < fw->n_rules[d] && !all[d]; i++) {
			const struct fw_pkt *pk = &fw->pkt[d][i];
			uint32_t v = verdict(&fw->cert[d][i], &ident);

			if (!v)
				continue;
			/* One rule that takes every packet: nothing else matters. */
			if (v == 1 && !pk->proto && !pk->lo &&
			    pk->hi == UINT16_MAX && pk->frag) {
				all[d] = true;
				n -= n_dir[d];
				n_dir[d] = 0;
				break;
			}
			tmp[n++] = v == 1 ? i : i | FW_CIDR_ONLY;
			n_dir[d]++;
		}
	}
	free(ident.groups);

	p = calloc(1, sizeof(*p) + (size_t)n * sizeof(p->entries[0]));
	if (!p) {
		free(tmp);
		return vl_status_set(st, -ENOMEM, "out of memory");
	}
	p->fw = fw;
	memcpy(p->entries, tmp, (size_t)n * sizeof(p->entries[0]));
	free(tmp);
	for (unsigned int d = 0; d < 2; d++) {
		p->all[d] = all[d];
		p->n[d] = n_dir[d];
	}
	p->list[DP_FLOW_IN] = p->entries;
	p->list[DP_FLOW_OUT] = p->entries + n_dir[DP_FLOW_IN];
	*out = p;
	return 0;
}

void dp_fw_peer_free(struct dp_fw_peer *p)
{
	free(p);
}

uint32_t dp_fw_peer_gen(const struct dp_fw_peer *p)
{
	return p->fw->gen;
}

uint32_t dp_fw_peer_n_rules(const struct dp_fw_peer *p, enum dp_flow_dir dir)
{
	return (unsigned int)dir < 2 ? p->n[dir] : 0;
}

bool dp_fw_allow(const struct dp_fw_peer *p, enum dp_flow_dir dir,
		 const struct dp_flow_key *k)
{
	const struct fw_pkt *rules;
	const uint32_t *e;
	uint32_t port;

	if ((unsigned int)dir > DP_FLOW_OUT)
		return false;
	if (p->all[dir])
		return true;
	rules = p->fw->pkt[dir];
	e = p->list[dir];
	/* 1.6.1's firewallPort.match: the port of the service. */
	port = dir == DP_FLOW_IN ? k->local_port : k->remote_port;
	for (uint32_t i = 0; i < p->n[dir]; i++) {
		const struct fw_pkt *r = &rules[e[i] & FW_INDEX];

		if (r->proto && r->proto != k->proto)
			continue;
		if (k->fragment ? !r->frag : (port < r->lo || port > r->hi))
			continue;
		if ((e[i] & FW_CIDR_ONLY) && (k->remote_ip & r->mask) != r->net)
			continue;
		return true;
	}
	return false;
}
