/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctlmsg.h"
#include "flags.h"
#include "ipnet.h"
#include "status.h"
#include "wire.h"
#include "yaml_tree.h"

/*
 * One handler per section, all reading through a handful of typed getters.
 * Each getter takes the dotted key, finds its node, and either stores a
 * value (the default when the key is absent or null) or fails with
 * "file:line: key: reason". Nothing is applied until the whole file has
 * passed: ctl_config_load fills a fresh struct and frees it on any error.
 */

#define NSEC_PER_SEC INT64_C(1000000000)

struct parser {
	const struct ctl_yaml_node *root;
	struct ctl_config *cfg;
	FILE *warn; /* NULL: warnings are dropped */
	struct vl_status *st;
};

static int bad(struct parser *p, const struct ctl_yaml_node *n,
	       const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad(struct parser *p, const struct ctl_yaml_node *n,
	       const char *key, const char *fmt, ...)
{
	char msg[VL_STATUS_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		return vl_status_set(p->st, -EINVAL, "%s:%u: %s: %s", n->file,
				     n->line, key, msg);
	return vl_status_set(p->st, -EINVAL, "%s: %s: %s", p->cfg->path, key,
			     msg);
}

static void warn(struct parser *p, const struct ctl_yaml_node *n,
		 const char *key, const char *msg)
{
	if (p->warn)
		fprintf(p->warn, "%s:%u: %s: %s\n", n ? n->file : p->cfg->path,
			n ? n->line : 0, key, msg);
}

static const char *kind_name(const struct ctl_yaml_node *n)
{
	switch (n->kind) {
	case CTL_YAML_MAP:
		return "a map";
	case CTL_YAML_SEQ:
		return "a list";
	case CTL_YAML_NULL:
		return "nothing";
	case CTL_YAML_SCALAR:
		break;
	}
	return "a value";
}

/* The node of @key, or NULL when absent or null (the default applies). */
static const struct ctl_yaml_node *find(struct parser *p, const char *key)
{
	const struct ctl_yaml_node *n = ctl_yaml_get(p->root, key);

	return n && n->kind != CTL_YAML_NULL ? n : NULL;
}

static int scalar_of(struct parser *p, const struct ctl_yaml_node *n,
		     const char *key, const char **out)
{
	*out = "";
	if (n->kind != CTL_YAML_SCALAR)
		return bad(p, n, key, "expected a value, got %s", kind_name(n));
	*out = n->text;
	return 0;
}

static int dup_str(struct parser *p, const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : vl_status_set(p->st, -ENOMEM, "out of memory");
}

static int get_string(struct parser *p, const char *key, const char *def,
		      char **out)
{
	const struct ctl_yaml_node *n = find(p, key);
	const char *v = def;
	int err;

	if (n) {
		err = scalar_of(p, n, key, &v);
		if (err)
			return err;
	}
	return dup_str(p, v, out);
}

static int parse_int(struct parser *p, const struct ctl_yaml_node *n,
		     const char *key, long min, long max, int *out)
{
	const char *v;
	char *end;
	long x;
	int err;

	err = scalar_of(p, n, key, &v);
	if (err)
		return err;
	errno = 0;
	x = strtol(v, &end, 10);
	if (!*v || *end || errno || n->quoted)
		return bad(p, n, key, "expected a whole number, got \"%s\"", v);
	if (x < min || x > max)
		return bad(p, n, key, "%ld is out of range (%ld to %ld)", x,
			   min, max);
	*out = (int)x;
	return 0;
}

static int get_int(struct parser *p, const char *key, int def, long min,
		   long max, int *out)
{
	const struct ctl_yaml_node *n = find(p, key);

	*out = def;
	return n ? parse_int(p, n, key, min, max, out) : 0;
}

/* Go's strconv.ParseBool plus the y/yes/n/no that nebula's GetBool adds. */
static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "1", "t", "true", "y", "yes", "on" };
	static const char *const no[] = { "0", "f", "false", "n", "no", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int get_bool(struct parser *p, const char *key, bool def, bool *out)
{
	const struct ctl_yaml_node *n = find(p, key);
	const char *v;
	int err;

	*out = def;
	if (!n)
		return 0;
	err = scalar_of(p, n, key, &v);
	if (err)
		return err;
	if (parse_bool(v, out))
		return bad(p, n, key, "expected true or false, got \"%s\"", v);
	return 0;
}

static int get_duration(struct parser *p, const char *key, int64_t def,
			int64_t *out)
{
	const struct ctl_yaml_node *n = find(p, key);
	const char *v;
	int err;

	*out = def;
	if (!n)
		return 0;
	err = scalar_of(p, n, key, &v);
	if (err)
		return err;
	if (vl_duration_parse(v, out) || *out < 0)
		return bad(p, n, key,
			   "expected a duration such as 100ms, 10s or 5m, got \"%s\"",
			   v);
	return 0;
}

/* One of @names (case-sensitive, as nebula compares), stored as its index. */
static int get_enum(struct parser *p, const char *key,
		    const char *const *names, size_t n_names, int def, int *out)
{
	const struct ctl_yaml_node *n = find(p, key);
	char list[128] = "";
	const char *v;
	int err;

	*out = def;
	if (!n)
		return 0;
	err = scalar_of(p, n, key, &v);
	if (err)
		return err;
	for (size_t i = 0; i < n_names; i++) {
		if (!strcmp(v, names[i])) {
			*out = (int)i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", names[i]);
	}
	return bad(p, n, key, "\"%s\" is not one of: %s", v, list);
}

/* A list of values; a lone value where a list belongs is refused. */
static int get_list(struct parser *p, const char *key,
		    const struct ctl_yaml_node **out)
{
	const struct ctl_yaml_node *n = find(p, key);

	*out = NULL;
	if (!n)
		return 0;
	if (n->kind != CTL_YAML_SEQ)
		return bad(p, n, key, "expected a list, got %s", kind_name(n));
	*out = n;
	return 0;
}

static int get_string_list(struct parser *p, const char *key, char ***out,
			   size_t *n_out)
{
	const struct ctl_yaml_node *n;
	int err;

	*out = NULL;
	*n_out = 0;
	err = get_list(p, key, &n);
	if (err || !n || !n->n)
		return err;
	*out = calloc(n->n, sizeof(**out));
	if (!*out)
		return vl_status_set(p->st, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		const char *v;

		err = scalar_of(p, n->items[i], key, &v);
		if (!err)
			err = dup_str(p, v, &(*out)[i]);
		if (err)
			return err;
		(*n_out)++;
	}
	return 0;
}

static int parse_ip(struct parser *p, const struct ctl_yaml_node *n,
		    const char *key, uint32_t *ip)
{
	const char *v;
	int err = scalar_of(p, n, key, &v);

	if (err)
		return err;
	err = vl_ip4_parse(v, ip);
	if (err == -EAFNOSUPPORT)
		return bad(p, n, key, "\"%s\": only IPv4 VPN addresses exist in Nebula 1.6.1", v);
	if (err)
		return bad(p, n, key, "\"%s\" is not an IPv4 address", v);
	return 0;
}

static int parse_cidr(struct parser *p, const struct ctl_yaml_node *n,
		      const char *key, struct ctl_cidr *c)
{
	const char *v;
	int err = scalar_of(p, n, key, &v);

	if (err)
		return err;
	err = vl_cidr4_parse(v, &c->ip, &c->mask);
	if (err == -EAFNOSUPPORT)
		return bad(p, n, key, "\"%s\": only IPv4 is supported here", v);
	if (err)
		return bad(p, n, key, "\"%s\" is not a CIDR such as 10.1.0.0/16", v);
	c->ip &= c->mask;
	return 0;
}

static int get_ip_list(struct parser *p, const char *key, uint32_t **out,
		       size_t *n_out)
{
	const struct ctl_yaml_node *n;
	int err;

	*out = NULL;
	*n_out = 0;
	err = get_list(p, key, &n);
	if (err || !n || !n->n)
		return err;
	*out = calloc(n->n, sizeof(**out));
	if (!*out)
		return vl_status_set(p->st, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		err = parse_ip(p, n->items[i], key, &(*out)[i]);
		if (err)
			return err;
		(*n_out)++;
	}
	return 0;
}

/* "host:port" or "[v6]:port", the port 1..65535 (or 0 when @zero_ok). */
static bool is_host_port(const char *s, bool zero_ok)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || colon == s)
		return false;
	if (s[0] == '[' && colon[-1] != ']')
		return false;
	port = strtol(colon + 1, &end, 10);
	return colon[1] && !*end && port >= (zero_ok ? 0 : 1) && port <= 65535;
}

/* host:port, [v6]:port, or :port (every address); port 1 to 65535. */
static bool is_listen_addr(const char *s)
{
	char *end;
	long port;

	if (*s != ':')
		return is_host_port(s, false);
	port = strtol(s + 1, &end, 10);
	return s[1] && !*end && port >= 1 && port <= 65535;
}

static int parse_pki(struct parser *p)
{
	struct ctl_config *c = p->cfg;
	static const char *const keys[] = { "pki.ca", "pki.cert", "pki.key" };
	char **dst[] = { &c->pki_ca, &c->pki_cert, &c->pki_key };
	int err;

	for (size_t i = 0; i < 3; i++) {
		err = get_string(p, keys[i], NULL, dst[i]);
		if (err)
			return err;
		if (!*dst[i] || !**dst[i])
			return bad(p, ctl_yaml_get(p->root, keys[i]), keys[i],
				   "required: a file path or the PEM text");
	}
	err = get_string_list(p, "pki.blocklist", &c->blocklist,
			      &c->n_blocklist);
	if (!err && !c->n_blocklist && find(p, "pki.blacklist")) {
		warn(p, find(p, "pki.blacklist"), "pki.blacklist",
		     "deprecated, use pki.blocklist");
		err = get_string_list(p, "pki.blacklist", &c->blocklist,
				      &c->n_blocklist);
	}
	if (err)
		return err;
	for (size_t i = 0; i < c->n_blocklist; i++) {
		size_t len = strlen(c->blocklist[i]);

		if (len != 64 || strspn(c->blocklist[i], "0123456789abcdefABCDEF") != len)
			return bad(p, find(p, "pki.blocklist"), "pki.blocklist",
				   "\"%s\" is not a certificate fingerprint (64 hex digits)",
				   c->blocklist[i]);
	}
	return get_bool(p, "pki.disconnect_invalid", false,
			&c->disconnect_invalid);
}

static int parse_static_hosts(struct parser *p)
{
	const struct ctl_yaml_node *m = find(p, "static_host_map");
	struct ctl_config *c = p->cfg;
	int err;

	if (!m)
		return 0;
	if (m->kind != CTL_YAML_MAP)
		return bad(p, m, "static_host_map",
			   "expected a map of VPN IP to addresses, got %s",
			   kind_name(m));
	c->static_hosts = calloc(m->n ? m->n : 1, sizeof(*c->static_hosts));
	if (!c->static_hosts)
		return vl_status_set(p->st, -ENOMEM, "out of memory");
	for (size_t i = 0; i < m->n; i++) {
		struct ctl_static_host *h = &c->static_hosts[i];
		const struct ctl_yaml_node *v = m->items[i];
		struct ctl_yaml_node key = { .kind = CTL_YAML_SCALAR,
					     .file = v->file,
					     .line = m->key_lines[i],
					     .text = m->keys[i] };
		size_t n = v->kind == CTL_YAML_SEQ ? v->n : 1;

		c->n_static_hosts++;
		h->line = m->key_lines[i];
		err = parse_ip(p, &key, "static_host_map", &h->vpn_ip);
		if (err)
			return err;
		if (v->kind != CTL_YAML_SEQ && v->kind != CTL_YAML_SCALAR)
			return bad(p, v, "static_host_map",
				   "%s: expected \"host:port\" or a list of them",
				   m->keys[i]);
		h->addrs = calloc(n, sizeof(*h->addrs));
		if (!h->addrs)
			return vl_status_set(p->st, -ENOMEM, "out of memory");
		for (size_t k = 0; k < n; k++) {
			const struct ctl_yaml_node *a =
				v->kind == CTL_YAML_SEQ ? v->items[k] : v;
			const char *s;

			err = scalar_of(p, a, "static_host_map", &s);
			if (err)
				return err;
			if (!is_host_port(s, false))
				return bad(p, a, "static_host_map",
					   "%s: \"%s\" is not host:port",
					   m->keys[i], s);
			err = dup_str(p, s, &h->addrs[k]);
			if (err)
				return err;
			h->n_addrs++;
		}
	}
	return 0;
}

static bool in_static_map(const struct ctl_config *c, uint32_t ip)
{
	for (size_t i = 0; i < c->n_static_hosts; i++)
		if (c->static_hosts[i].vpn_ip == ip)
			return true;
	return false;
}

/* An IPv4 or IPv6 CIDR as an allow-list prefix (allowlist.h). */
static int allow_cidr(const char *s, struct ctl_allow_rule *r, bool *v4)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	uint32_t ip, mask;
	char *end;
	long bits;

	memset(r, 0, sizeof(*r));
	if (vl_cidr4_parse(s, &ip, &mask) == 0) {
		*v4 = true;
		r->net.s6_addr[10] = r->net.s6_addr[11] = 0xff;
		ip &= mask;
		r->net.s6_addr[12] = (uint8_t)(ip >> 24);
		r->net.s6_addr[13] = (uint8_t)(ip >> 16);
		r->net.s6_addr[14] = (uint8_t)(ip >> 8);
		r->net.s6_addr[15] = (uint8_t)ip;
		r->bits = 96 + (unsigned int)__builtin_popcount(mask);
		return 0;
	}
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	bits = strtol(slash + 1, &end, 10);
	if (!slash[1] || *end || bits < 0 || bits > 128 ||
	    inet_pton(AF_INET6, buf, &r->net) != 1)
		return -EINVAL;
	*v4 = false;
	r->bits = (unsigned int)bits;
	for (unsigned int b = r->bits; b < 128; b++)
		r->net.s6_addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	return 0;
}

/* A map entry's value as a YAML boolean (1.6.1 wants a bool, not a string). */
static int allow_value(struct parser *p, const struct ctl_yaml_node *v,
		       const char *key, const char *what, bool *out)
{
	if (v->kind != CTL_YAML_SCALAR || v->quoted || parse_bool(v->text, out))
		return bad(p, v, key, "%s: expected true or false", what);
	return 0;
}

/* local_allow_list.interfaces: full-match regexes, all true or all false. */
static int allow_names(struct parser *p, const struct ctl_yaml_node *m,
		       const char *key, struct ctl_allow_list *l)
{
	if (m->kind != CTL_YAML_MAP)
		return bad(p, m, key, "interfaces: expected a map of name patterns to true or false");
	l->names = calloc(m->n ? m->n : 1, sizeof(*l->names));
	if (!l->names)
		return vl_status_set(p->st, -ENOMEM, "out of memory");
	for (size_t i = 0; i < m->n; i++) {
		size_t len = strlen(m->keys[i]) + 5;
		char *re = malloc(len);
		bool allow = false;
		int err = allow_value(p, m->items[i], key, m->keys[i], &allow);

		if (err) {
			free(re);
			return err;
		}
		if (i && allow != l->names_allow) {
			free(re);
			return bad(p, m->items[i], key,
				   "interfaces: values must all be the same true/false value");
		}
		l->names_allow = allow;
		if (!re)
			return vl_status_set(p->st, -ENOMEM, "out of memory");
		snprintf(re, len, "^(%s)$", m->keys[i]);
		err = regcomp(&l->names[i].re, re, REG_EXTENDED | REG_NOSUB);
		free(re);
		if (err)
			return bad(p, m->items[i], key,
				   "interfaces: \"%s\" is not a regular expression",
				   m->keys[i]);
		l->n_names++;
	}
	return 0;
}

/*
 * One allow list (allowlist.h), 1.6.1's newAllowListFromConfig: CIDR keys
 * to booleans, per family all alike (then the opposite is the default) or
 * with the family's /0 written out.
 */
static int allow_list(struct parser *p, const struct ctl_yaml_node *m,
		      const char *key, bool names_ok, struct ctl_allow_list *l)
{
	struct {
		bool seen, first, all_same, has_default;
	} fam[2] = { { false, true, true, false }, { false, true, true, false } };
	static const char *const zero[2] = { "::/0", "0.0.0.0/0" };

	if (m->kind != CTL_YAML_MAP)
		return bad(p, m, key, "expected a map of CIDR to true or false, got %s",
			   kind_name(m));
	/* Room for every entry and the two defaults. */
	l->rules = calloc(m->n + 2, sizeof(*l->rules));
	if (!l->rules)
		return vl_status_set(p->st, -ENOMEM, "out of memory");
	for (size_t i = 0; i < m->n; i++) {
		struct ctl_allow_rule *r = &l->rules[l->n_rules];
		bool v4 = false, allow = false;
		int err;

		if (names_ok && !strcmp(m->keys[i], "interfaces")) {
			err = allow_names(p, m->items[i], key, l);
			if (err)
				return err;
			continue;
		}
		if (allow_cidr(m->keys[i], r, &v4)) {
			struct ctl_yaml_node at = { .kind = CTL_YAML_SCALAR,
						    .file = m->items[i]->file,
						    .line = m->key_lines[i] };

			return bad(p, &at, key, "\"%s\" is not a CIDR", m->keys[i]);
		}
		err = allow_value(p, m->items[i], key, m->keys[i], &allow);
		if (err)
			return err;
		r->allow = allow;
		l->n_rules++;
		if (fam[v4].first) {
			fam[v4].first = false;
			fam[v4].seen = allow; /* the value all rules had so far */
		} else if (allow != fam[v4].seen) {
			fam[v4].all_same = false;
		}
		if (r->bits == (v4 ? 96u : 0u))
			fam[v4].has_default = true;
	}
	for (int v4 = 0; v4 < 2; v4++) {
		struct ctl_allow_rule def = { .allow = !fam[v4].seen };

		if (fam[v4].has_default)
			continue;
		if (!fam[v4].all_same)
			return bad(p, m, key,
				   "contains both true and false rules, but no default set for %s",
				   zero[v4]);
		/* No rule at all for the family: allowed (!false). */
		if (v4) {
			def.net.s6_addr[10] = def.net.s6_addr[11] = 0xff;
			def.bits = 96;
		}
		/* First in the list: an explicit rule of equal length wins. */
		memmove(l->rules + 1, l->rules, l->n_rules * sizeof(def));
		l->rules[0] = def;
		l->n_rules++;
	}
	return 0;
}

/* The allow list at @key into *@out, left NULL when absent. */
static int allow_list_at(struct parser *p, const char *key, bool names_ok,
			 struct ctl_allow_list **out)
{
	const struct ctl_yaml_node *n = find(p, key);

	if (!n)
		return 0;
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return vl_status_set(p->st, -ENOMEM, "out of memory");
	return allow_list(p, n, key, names_ok, *out);
}

/* lighthouse.remote_allow_list, local_allow_list, remote_allow_ranges. */
static int parse_allow_lists(struct parser *p)
{
	struct ctl_config *c = p->cfg;
	const struct ctl_yaml_node *n;
	int err;

	err = allow_list_at(p, "lighthouse.remote_allow_list", false,
			    &c->remote_allow);
	if (!err)
		err = allow_list_at(p, "lighthouse.local_allow_list", true,
				    &c->local_allow);
	if (err)
		return err;
	n = find(p, "lighthouse.remote_allow_ranges");
	if (!n)
		return 0;
	if (n->kind != CTL_YAML_MAP)
		return bad(p, n, "lighthouse.remote_allow_ranges",
			   "expected a map of VPN CIDR to allow list, got %s",
			   kind_name(n));
	c->remote_ranges = calloc(n->n ? n->n : 1, sizeof(*c->remote_ranges));
	if (!c->remote_ranges)
		return vl_status_set(p->st, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		struct ctl_allow_range *r = &c->remote_ranges[i];

		if (vl_cidr4_parse(n->keys[i], &r->ip, &r->mask)) {
			struct ctl_yaml_node at = { .kind = CTL_YAML_SCALAR,
						    .file = n->items[i]->file,
						    .line = n->key_lines[i] };

			return bad(p, &at, "lighthouse.remote_allow_ranges",
				   "\"%s\" is not an IPv4 CIDR", n->keys[i]);
		}
		r->ip &= r->mask;
		c->n_remote_ranges++;
		err = allow_list(p, n->items[i], "lighthouse.remote_allow_ranges",
				 false, &r->list);
		if (err)
			return err;
	}
	return 0;
}

static int parse_lighthouse(struct parser *p)
{
	struct ctl_config *c = p->cfg;
	int err;

	err = get_bool(p, "lighthouse.am_lighthouse", false, &c->am_lighthouse);
	if (!err)
		err = get_bool(p, "lighthouse.serve_dns", false, &c->serve_dns);
	if (!err)
		err = get_string(p, "lighthouse.dns.host", "", &c->dns_host);
	if (!err)
		err = get_int(p, "lighthouse.dns.port", 53, 0, 65535,
			      &c->dns_port);
	if (!err)
		err = get_int(p, "lighthouse.interval", 10, 0, INT_MAX,
			      &c->lighthouse_interval);
	if (!err)
		err = get_ip_list(p, "lighthouse.hosts", &c->lighthouses,
				  &c->n_lighthouses);
	if (!err)
		err = get_string_list(p, "lighthouse.advertise_addrs",
				      &c->advertise_addrs,
				      &c->n_advertise_addrs);
	if (err)
		return err;
	for (size_t i = 0; i < c->n_advertise_addrs; i++)
		/* Port 0 stands for our own listen port. */
		if (!is_host_port(c->advertise_addrs[i], true))
			return bad(p, find(p, "lighthouse.advertise_addrs"),
				   "lighthouse.advertise_addrs",
				   "\"%s\" is not ip:port", c->advertise_addrs[i]);
	err = parse_allow_lists(p);
	if (err)
		return err;
	if (c->am_lighthouse && c->n_lighthouses)
		warn(p, find(p, "lighthouse.hosts"), "lighthouse.hosts",
		     "a lighthouse should not list lighthouses; ignored");
	for (size_t i = 0; !c->am_lighthouse && i < c->n_lighthouses; i++) {
		char ip[16];
		uint32_t v = c->lighthouses[i];

		if (in_static_map(c, v))
			continue;
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", v >> 24, v >> 16 & 0xff,
			 v >> 8 & 0xff, v & 0xff);
		return bad(p, find(p, "lighthouse.hosts"), "lighthouse.hosts",
			   "%s is not in static_host_map, so it cannot be reached",
			   ip);
	}
	return 0;
}

/*
 * listen.host: an IPv4 or IPv6 address, the latter bare or in brackets
 * ("[::]", as nebula's example writes it). Nebula would also resolve a
 * name; Vela binds in the dataplane, which resolves nothing, so a name is
 * refused here rather than when the dataplane is set up.
 */
static bool is_listen_host(const char *s)
{
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN + 1];
	size_t len = strlen(s);
	uint32_t ip4;

	if (vl_ip4_parse(s, &ip4) == 0)
		return true;
	if (len > 2 && s[0] == '[' && s[len - 1] == ']' && len - 2 < sizeof(buf)) {
		memcpy(buf, s + 1, len - 2);
		buf[len - 2] = '\0';
		s = buf;
	}
	return inet_pton(AF_INET6, s, &a6) == 1;
}

static int parse_listen(struct parser *p)
{
	static const char *const recv_error[] = { "always", "never", "private" };
	const struct ctl_yaml_node *n;
	struct ctl_config *c = p->cfg;
	bool b;
	int v = 0, err;

	err = get_string(p, "listen.host", "0.0.0.0", &c->listen_host);
	if (!err && !is_listen_host(c->listen_host))
		err = bad(p, find(p, "listen.host"), "listen.host",
			  "\"%s\" is not an IP address such as 0.0.0.0 or [::] (names are not resolved)",
			  c->listen_host);
	if (!err)
		err = get_int(p, "listen.port", 0, 0, 65535, &c->listen_port);
	if (!err)
		err = get_int(p, "listen.batch", 64, 1, 1024, &c->listen_batch);
	if (!err)
		err = get_int(p, "listen.read_buffer", 0, 0, INT_MAX,
			      &c->read_buffer);
	if (!err)
		err = get_int(p, "listen.write_buffer", 0, 0, INT_MAX,
			      &c->write_buffer);
	if (err)
		return err;
	if (c->am_lighthouse && !c->listen_port)
		return bad(p, find(p, "listen.port"), "listen.port",
			   "a lighthouse needs a fixed port, not 0");

	/* Legacy booleans: true = always, false = never. */
	n = find(p, "listen.send_recv_error");
	if (n && n->kind == CTL_YAML_SCALAR && !n->quoted &&
	    !parse_bool(n->text, &b) && strcmp(n->text, "never")) {
		c->send_recv_error = b ? CTL_RECV_ERROR_ALWAYS :
					 CTL_RECV_ERROR_NEVER;
		return 0;
	}
	err = get_enum(p, "listen.send_recv_error", recv_error, 3,
		       CTL_RECV_ERROR_ALWAYS, &v);
	c->send_recv_error = (enum ctl_recv_error)v;
	return err;
}

static int parse_routines_punchy_cipher(struct parser *p)
{
	static const char *const ciphers[] = { "aes", "chachapoly" };
	const struct ctl_yaml_node *punchy = find(p, "punchy");
	struct ctl_config *c = p->cfg;
	int tun_r, listen_r, v = VL_CIPHER_AES, err;

	err = get_int(p, "routines", 0, 0, 1024, &c->routines);
	if (!err)
		err = get_int(p, "tun.routines", 1, 1, 1024, &tun_r);
	if (!err)
		err = get_int(p, "listen.routines", 1, 1, 1024, &listen_r);
	if (err)
		return err;
	if (!c->routines) {
		/* The deprecated per-side keys; the larger wins, as in 1.6.1. */
		c->routines = tun_r > listen_r ? tun_r : listen_r;
		if (c->routines > 1)
			warn(p, NULL, "tun.routines",
			     "deprecated, use the top-level routines");
	}

	if (punchy && punchy->kind == CTL_YAML_SCALAR) {
		warn(p, punchy, "punchy", "deprecated, use punchy.punch");
		err = get_bool(p, "punchy", false, &c->punch);
	} else {
		err = get_bool(p, "punchy.punch", false, &c->punch);
	}
	if (!err)
		err = get_bool(p, "punchy.respond", false, &c->punch_respond);
	if (!err && !c->punch_respond && find(p, "punch_back")) {
		warn(p, find(p, "punch_back"), "punch_back",
		     "deprecated, use punchy.respond");
		err = get_bool(p, "punch_back", false, &c->punch_respond);
	}
	if (!err)
		err = get_duration(p, "punchy.delay", NSEC_PER_SEC,
				   &c->punch_delay_ns);
	if (!err)
		err = get_enum(p, "cipher", ciphers, 2, VL_CIPHER_AES, &v);
	c->cipher = (enum vl_cipher)v;
	return err;
}

static int parse_ranges_relay(struct parser *p)
{
	const struct ctl_yaml_node *n, *local = find(p, "local_range");
	struct ctl_config *c = p->cfg;
	size_t cap;
	int err;

	err = get_list(p, "preferred_ranges", &n);
	if (err)
		return err;
	cap = (n ? n->n : 0) + (local ? 1 : 0);
	if (cap) {
		c->preferred_ranges = calloc(cap, sizeof(*c->preferred_ranges));
		if (!c->preferred_ranges)
			return vl_status_set(p->st, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; n && i < n->n; i++) {
		err = parse_cidr(p, n->items[i], "preferred_ranges",
				 &c->preferred_ranges[c->n_preferred_ranges]);
		if (err)
			return err;
		c->n_preferred_ranges++;
	}
	if (local) {
		warn(p, local, "local_range", "deprecated, use preferred_ranges");
		err = parse_cidr(p, local, "local_range",
				 &c->preferred_ranges[c->n_preferred_ranges]);
		if (err)
			return err;
		c->n_preferred_ranges++;
	}

	err = get_ip_list(p, "relay.relays", &c->relays, &c->n_relays);
	if (!err)
		err = get_bool(p, "relay.am_relay", false, &c->am_relay);
	if (!err)
		err = get_bool(p, "relay.use_relays", true, &c->use_relays);
	if (c->am_relay)
		c->use_relays = false;
	return err;
}

/* tun.routes and tun.unsafe_routes: lists of maps. */
static int parse_routes(struct parser *p, const char *key, bool is_unsafe,
			struct ctl_route **out, size_t *n_out)
{
	const struct ctl_yaml_node *list;
	int err;

	*out = NULL;
	*n_out = 0;
	err = get_list(p, key, &list);
	if (err || !list || !list->n)
		return err;
	*out = calloc(list->n, sizeof(**out));
	if (!*out)
		return vl_status_set(p->st, -ENOMEM, "out of memory");
	for (size_t i = 0; i < list->n; i++) {
		const struct ctl_yaml_node *e = list->items[i], *v;
		struct ctl_route *r = &(*out)[i];

		if (e->kind != CTL_YAML_MAP)
			return bad(p, e, key, "entry %zu: expected a map, got %s",
				   i + 1, kind_name(e));
		v = ctl_yaml_map_get(e, "route");
		if (!v || v->kind == CTL_YAML_NULL)
			return bad(p, e, key, "entry %zu: route is required",
				   i + 1);
		err = parse_cidr(p, v, key, &r->route);
		if (err)
			return err;
		v = ctl_yaml_map_get(e, "mtu");
		if (v && v->kind != CTL_YAML_NULL) {
			err = parse_int(p, v, key, WIRE_ROUTE_MTU_MIN,
					65535, &r->mtu);
			if (err)
				return err;
		} else if (!is_unsafe) {
			return bad(p, e, key, "entry %zu: mtu is required",
				   i + 1);
		}
		if (is_unsafe) {
			v = ctl_yaml_map_get(e, "via");
			if (!v || v->kind == CTL_YAML_NULL)
				return bad(p, e, key,
					   "entry %zu: via is required",
					   i + 1);
			err = parse_ip(p, v, key, &r->via);
			if (err)
				return err;
			v = ctl_yaml_map_get(e, "metric");
			if (v && v->kind != CTL_YAML_NULL) {
				err = parse_int(p, v, key, 0, INT_MAX,
						&r->metric);
				if (err)
					return err;
			}
		}
		(*n_out)++;
	}
	return 0;
}

static int parse_tun(struct parser *p)
{
	struct ctl_config *c = p->cfg;
	int err;

	err = get_bool(p, "tun.disabled", false, &c->tun_disabled);
	if (!err)
		err = get_string(p, "tun.dev", "", &c->tun_dev);
	if (!err && strlen(c->tun_dev) >= 16)
		err = bad(p, find(p, "tun.dev"), "tun.dev",
			  "\"%s\" is longer than a Linux interface name (15)",
			  c->tun_dev);
	if (!err)
		err = get_bool(p, "tun.drop_local_broadcast", false,
			       &c->drop_local_broadcast);
	if (!err)
		err = get_bool(p, "tun.drop_multicast", false,
			       &c->drop_multicast);
	if (!err)
		err = get_int(p, "tun.tx_queue", 500, 0, INT_MAX, &c->tx_queue);
	if (!err)
		err = get_int(p, "tun.mtu", 1300, 68, 65535, &c->mtu);
	if (!err)
		err = parse_routes(p, "tun.routes", false, &c->routes,
				   &c->n_routes);
	if (!err)
		err = parse_routes(p, "tun.unsafe_routes", true,
				   &c->unsafe_routes, &c->n_unsafe_routes);
	/* The dataplane's SETUP carries them all, up to its table size. */
	if (!err && c->n_routes + c->n_unsafe_routes > CTLMSG_ROUTES_MAX)
		err = bad(p, NULL, "tun.unsafe_routes",
			  "%zu routes and unsafe_routes together, more than the %d the dataplane takes",
			  c->n_routes + c->n_unsafe_routes, CTLMSG_ROUTES_MAX);
	return err;
}

static int parse_logging(struct parser *p)
{
	static const char *const levels[] = { "panic", "fatal", "error",
					      "warning", "info", "debug",
					      "trace" };
	static const char *const formats[] = { "text", "json" };
	const struct ctl_yaml_node *n = find(p, "logging.level");
	struct ctl_config *c = p->cfg;
	int v = 0, err;

	/* logrus also takes "warn" for "warning". */
	if (n && n->kind == CTL_YAML_SCALAR && !strcasecmp(n->text, "warn")) {
		c->log_level = CTL_LOG_WARNING;
		err = 0;
	} else {
		err = get_enum(p, "logging.level", levels, 7, CTL_LOG_INFO, &v);
		c->log_level = (enum ctl_log_level)v;
	}
	if (!err)
		err = get_enum(p, "logging.format", formats, 2, CTL_LOG_TEXT, &v);
	c->log_format = (enum ctl_log_format)v;
	if (!err)
		err = get_bool(p, "logging.disable_timestamp", false,
			       &c->disable_timestamp);
	if (!err)
		err = get_string(p, "logging.timestamp_format", "",
				 &c->timestamp_format);
	return err;
}

/* nebula's parsePort(): any, fragment, N, or a range N-M. */
static int parse_port(struct parser *p, const struct ctl_yaml_node *n,
		      const char *key, const char *what, int32_t *start,
		      int32_t *end)
{
	const char *v;
	char *e;
	long a, b;
	int err = scalar_of(p, n, key, &v);

	if (err)
		return err;
	if (!strcmp(v, "any")) {
		*start = *end = CTL_FW_PORT_ANY;
		return 0;
	}
	if (!strcmp(v, "fragment")) {
		*start = *end = CTL_FW_PORT_FRAGMENT;
		return 0;
	}
	a = strtol(v, &e, 10);
	if (e != v && *e == '-') {
		b = strtol(e + 1, &e, 10);
		if (*e || a < 0 || b < 0 || a > 65535 || b > 65535)
			return bad(p, n, key, "%s \"%s\" is not a port range such as 5000-5010",
				   what, v);
		if (a > b)
			return bad(p, n, key, "%s \"%s\": the range ends before it starts",
				   what, v);
		*start = (int32_t)a;
		*end = a == CTL_FW_PORT_ANY ? CTL_FW_PORT_ANY : (int32_t)b;
		return 0;
	}
	if (e == v || *e || a < 0 || a > 65535)
		return bad(p, n, key, "%s \"%s\" is not a number, range, any or fragment",
			   what, v);
	*start = *end = (int32_t)a;
	return 0;
}

static int rule_string(struct parser *p, const struct ctl_yaml_node *rule,
		       const char *key, const char *field, char **out)
{
	const struct ctl_yaml_node *n = ctl_yaml_map_get(rule, field);
	const char *v;
	int err;

	*out = NULL;
	if (!n || n->kind == CTL_YAML_NULL)
		return 0;
	err = scalar_of(p, n, key, &v);
	return err ? err : dup_str(p, v, out);
}

static int parse_rule(struct parser *p, const struct ctl_yaml_node *e,
		      const char *key, struct ctl_fw_rule *r)
{
	static const char *const protos[] = { "any", "icmp", "tcp", "udp" };
	static const enum ctl_fw_proto proto_nums[] = { CTL_FW_ANY, CTL_FW_ICMP,
							CTL_FW_TCP,
							CTL_FW_UDP };
	const struct ctl_yaml_node *port = ctl_yaml_map_get(e, "port");
	const struct ctl_yaml_node *code = ctl_yaml_map_get(e, "code");
	const struct ctl_yaml_node *group = ctl_yaml_map_get(e, "group");
	const struct ctl_yaml_node *groups = ctl_yaml_map_get(e, "groups");
	const struct ctl_yaml_node *proto = ctl_yaml_map_get(e, "proto");
	const struct ctl_yaml_node *cidr = ctl_yaml_map_get(e, "cidr");
	const char *v;
	int err;

	r->line = e->line;
	if (e->kind != CTL_YAML_MAP)
		return bad(p, e, key, "a rule must be a map, got %s",
			   kind_name(e));
	if (port && code)
		return bad(p, e, key, "only one of port or code should be provided");
	if (!port && !code)
		return bad(p, e, key, "port (or code) is required");
	err = parse_port(p, port ? port : code, key, port ? "port" : "code",
			 &r->start_port, &r->end_port);
	if (err)
		return err;

	if (!proto || proto->kind == CTL_YAML_NULL)
		return bad(p, e, key, "proto is required (any, tcp, udp or icmp)");
	err = scalar_of(p, proto, key, &v);
	if (err)
		return err;
	for (size_t i = 0; i <= sizeof(protos) / sizeof(protos[0]); i++) {
		if (i == sizeof(protos) / sizeof(protos[0]))
			return bad(p, proto, key,
				   "proto \"%s\" is not any, tcp, udp or icmp", v);
		if (!strcmp(v, protos[i])) {
			r->proto = proto_nums[i];
			break;
		}
	}

	err = rule_string(p, e, key, "host", &r->host);
	if (!err)
		err = rule_string(p, e, key, "ca_name", &r->ca_name);
	if (!err)
		err = rule_string(p, e, key, "ca_sha", &r->ca_sha);
	if (err)
		return err;
	if (cidr && cidr->kind != CTL_YAML_NULL) {
		err = parse_cidr(p, cidr, key, &r->cidr);
		if (err)
			return err;
		r->has_cidr = true;
	}

	if (group && group->kind == CTL_YAML_SEQ) {
		if (group->n > 1)
			return bad(p, group, key,
				   "group should contain a single value, an array with more than one entry was provided");
		warn(p, group, key,
		     "group was an array with a single value, converting to simple value");
		group = group->n ? group->items[0] : NULL;
	}
	if (group && group->kind != CTL_YAML_NULL && groups &&
	    groups->kind != CTL_YAML_NULL)
		return bad(p, e, key,
			   "only one of group or groups should be defined, both provided");
	if (groups && groups->kind != CTL_YAML_NULL)
		group = groups;
	if (group && group->kind != CTL_YAML_NULL) {
		size_t n = group->kind == CTL_YAML_SEQ ? group->n : 1;

		r->groups = calloc(n ? n : 1, sizeof(*r->groups));
		if (!r->groups)
			return vl_status_set(p->st, -ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i++) {
			const struct ctl_yaml_node *g =
				group->kind == CTL_YAML_SEQ ? group->items[i] :
							      group;

			err = scalar_of(p, g, key, &v);
			if (!err)
				err = dup_str(p, v, &r->groups[i]);
			if (err)
				return err;
			r->n_groups++;
		}
	}
	if (!r->host && !r->n_groups && !r->has_cidr && !r->ca_name &&
	    !r->ca_sha)
		return bad(p, e, key,
			   "at least one of host, group, groups, cidr, ca_name or ca_sha must be provided");
	return 0;
}

static int parse_rules(struct parser *p, const char *key,
		       struct ctl_fw_rule **out, size_t *n_out)
{
	const struct ctl_yaml_node *list;
	int err;

	*out = NULL;
	*n_out = 0;
	err = get_list(p, key, &list);
	if (err || !list || !list->n)
		return err;
	*out = calloc(list->n, sizeof(**out));
	if (!*out)
		return vl_status_set(p->st, -ENOMEM, "out of memory");
	for (size_t i = 0; i < list->n; i++) {
		(*n_out)++;
		err = parse_rule(p, list->items[i], key, &(*out)[i]);
		if (err)
			return err;
	}
	return 0;
}

static int parse_firewall(struct parser *p)
{
	struct ctl_config *c = p->cfg;
	int err;

	err = get_duration(p, "firewall.conntrack.tcp_timeout",
			   12 * 60 * NSEC_PER_SEC, &c->conntrack_tcp_ns);
	if (!err)
		err = get_duration(p, "firewall.conntrack.udp_timeout",
				   3 * 60 * NSEC_PER_SEC, &c->conntrack_udp_ns);
	if (!err)
		err = get_duration(p, "firewall.conntrack.default_timeout",
				   10 * 60 * NSEC_PER_SEC,
				   &c->conntrack_default_ns);
	if (!err)
		err = parse_rules(p, "firewall.inbound", &c->inbound,
				  &c->n_inbound);
	if (!err)
		err = parse_rules(p, "firewall.outbound", &c->outbound,
				  &c->n_outbound);
	return err;
}

static int parse_timers_dataplane(struct parser *p)
{
	static const char *const backends[] = { "auto", "xsk", "udp", "dpdk" };
	static const char *const modes[] = { "adaptive", "busy", "event" };
	struct ctl_config *c = p->cfg;
	int v = 0, err;

	err = get_duration(p, "handshakes.try_interval", NSEC_PER_SEC / 10,
			   &c->handshake_try_interval_ns);
	if (!err && !c->handshake_try_interval_ns)
		err = bad(p, find(p, "handshakes.try_interval"),
			  "handshakes.try_interval", "must be more than 0");
	if (!err)
		err = get_int(p, "handshakes.retries", 10, 1, 1000,
			      &c->handshake_retries);
	if (!err)
		err = get_int(p, "handshakes.trigger_buffer", 64, 1, 65536,
			      &c->handshake_trigger_buffer);
	if (!err)
		err = get_int(p, "timers.connection_alive_interval", 5, 1,
			      INT_MAX, &c->connection_alive_interval);
	if (!err)
		err = get_int(p, "timers.pending_deletion_interval", 10, 1,
			      INT_MAX, &c->pending_deletion_interval);
	if (err)
		return err;

	err = get_enum(p, "dataplane.backend", backends, 4, CTL_BACKEND_AUTO,
		       &v);
	c->backend = (enum ctl_backend)v;
	if (!err)
		err = get_string(p, "dataplane.interface", "", &c->interface);
	if (!err)
		err = get_int(p, "dataplane.workers", 0, 0, CTLMSG_WORKERS_MAX,
			      &c->workers);
	if (!err && !c->workers)
		c->workers = c->routines;
	if (!err)
		err = get_enum(p, "dataplane.mode", modes, 3, CTL_MODE_ADAPTIVE,
			       &v);
	c->mode = (enum ctl_mode)v;
	if (!err)
		err = get_string(p, "dataplane.socket", "/run/vela/vela.sock",
				 &c->socket);
	if (!err)
		err = get_bool(p, "dataplane.tun_offload", true,
			       &c->tun_offload);
	if (!err)
		err = get_int(p, "dataplane.flows", 262144, 1024, 1 << 24,
			      &c->flows);
	if (!err && (c->backend == CTL_BACKEND_XSK ||
		     c->backend == CTL_BACKEND_DPDK) && !*c->interface)
		err = bad(p, find(p, "dataplane.backend"), "dataplane.interface",
			  "required with backend %s: the NIC to attach to",
			  backends[c->backend]);
	return err;
}

static void note_unsupported(struct parser *p)
{
	bool on = false;

	if (get_bool(p, "sshd.enabled", false, &on) == 0 && on)
		warn(p, find(p, "sshd.enabled"), "sshd.enabled",
		     "the debug SSH console is not part of Vela; ignored (use dpctl)");
}

/* Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*; ':' is for recording rules. */
static bool metric_word(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/*
 * stats: 1.6.1's checks (type, then interval, then listen and path, each
 * refused with 1.6.1's reason) plus what 1.6.1 leaves to a panic or a
 * failed bind later: the prefix must make valid metric names, the path
 * must be one, the listen address must parse.
 */
static int parse_stats(struct parser *p)
{
	struct ctl_config *c = p->cfg;
	const struct ctl_yaml_node *n;
	char *type = NULL, *ns = NULL, *sub = NULL;
	int err;

	err = get_string(p, "stats.type", "", &type);
	if (err)
		return err;
	if (!*type || !strcmp(type, "none")) {
		free(type);
		return 0;
	}
	n = find(p, "stats.type");
	if (!strcmp(type, "graphite")) {
		warn(p, n, "stats.type",
		     "graphite export is not part of Vela; ignored (use prometheus)");
		free(type);
		return 0;
	}
	if (strcmp(type, "prometheus")) {
		err = bad(p, n, "stats.type", "\"%s\" was not understood: prometheus, graphite or none",
			  type);
		free(type);
		return err;
	}
	free(type);
	err = get_duration(p, "stats.interval", 0, &c->stats_interval_ns);
	if (!err && c->stats_interval_ns <= 0)
		err = bad(p, find(p, "stats.interval"), "stats.interval",
			  "required with type prometheus: a duration such as 10s");
	if (!err)
		err = get_string(p, "stats.listen", "", &c->stats_listen);
	if (!err && !*c->stats_listen)
		err = bad(p, NULL, "stats.listen",
			  "required with type prometheus: host:port, or :port for every address");
	else if (!err && !is_listen_addr(c->stats_listen))
		err = bad(p, find(p, "stats.listen"), "stats.listen",
			  "\"%s\" is not host:port, [v6]:port or :port",
			  c->stats_listen);
	if (!err)
		err = get_string(p, "stats.path", "", &c->stats_path);
	if (!err && !*c->stats_path)
		err = bad(p, NULL, "stats.path",
			  "required with type prometheus: an HTTP path such as /metrics");
	else if (!err && (c->stats_path[0] != '/' ||
			  strpbrk(c->stats_path, " ?#\t\r\n")))
		err = bad(p, find(p, "stats.path"), "stats.path",
			  "\"%s\" is not an HTTP path such as /metrics",
			  c->stats_path);
	if (!err)
		err = get_string(p, "stats.namespace", "", &ns);
	if (!err)
		err = get_string(p, "stats.subsystem", "", &sub);
	if (!err && *ns && !metric_word(ns))
		err = bad(p, find(p, "stats.namespace"), "stats.namespace",
			  "\"%s\" cannot start a metric name: letters, digits and _, not a digit first",
			  ns);
	if (!err && *sub && !metric_word(sub))
		err = bad(p, find(p, "stats.subsystem"), "stats.subsystem",
			  "\"%s\" cannot be part of a metric name: letters, digits and _",
			  sub);
	if (!err) {
		/* No namespace: "vela", the prefix Prometheus' conventions ask for. */
		size_t len = strlen(ns) + strlen(sub) + 8;

		c->stats_prefix = malloc(len);
		if (!c->stats_prefix)
			err = vl_status_set(p->st, -ENOMEM, "out of memory");
		else
			snprintf(c->stats_prefix, len, "%s_%s%s",
				 *ns ? ns : "vela", sub, *sub ? "_" : "");
	}
	free(ns);
	free(sub);
	if (!err)
		err = get_bool(p, "stats.message_metrics", false,
			       &c->message_metrics);
	if (!err)
		err = get_bool(p, "stats.lighthouse_metrics", false,
			       &c->lighthouse_metrics);
	if (!err)
		err = get_bool(p, "stats.peer_metrics", false,
			       &c->peer_metrics);
	c->stats_on = !err;
	return err;
}

/* A known section that is not a map would be silently ignored: refuse it. */
static int check_sections(struct parser *p)
{
	static const char *const sections[] = {
		"pki", "lighthouse", "listen", "relay", "tun", "logging",
		"firewall", "handshakes", "timers", "dataplane", "stats",
		"sshd", "firewall.conntrack", "lighthouse.dns",
	};

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const struct ctl_yaml_node *n = find(p, sections[i]);

		if (n && n->kind != CTL_YAML_MAP)
			return bad(p, n, sections[i],
				   "expected a map of settings, got %s",
				   kind_name(n));
	}
	return 0;
}

static int parse(struct parser *p)
{
	int (*const sections[])(struct parser *) = {
		check_sections,	  parse_pki,	  parse_static_hosts, parse_lighthouse,
		parse_listen,	  parse_routines_punchy_cipher,
		parse_ranges_relay, parse_tun,	  parse_logging,
		parse_firewall,	  parse_timers_dataplane, parse_stats,
	};
	int err;

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		err = sections[i](p);
		if (err)
			return err;
	}
	note_unsupported(p);
	return 0;
}

static int load_tree(struct ctl_config *cfg, struct ctl_yaml_tree *tree,
		     char **warnings, struct vl_status *st)
{
	struct parser p = { .root = tree->root, .cfg = cfg, .st = st };
	size_t wlen;
	int err;

	if (warnings) {
		*warnings = NULL;
		p.warn = open_memstream(warnings, &wlen);
		if (!p.warn)
			return vl_status_set(st, -ENOMEM, "out of memory");
	}
	err = parse(&p);
	if (p.warn)
		fclose(p.warn);
	if (err) {
		ctl_config_free(cfg);
		if (warnings) {
			free(*warnings);
			*warnings = NULL;
		}
	}
	return err;
}

int ctl_config_load(struct ctl_config *cfg, const char *path, char **warnings,
		    struct vl_status *st)
{
	struct ctl_yaml_tree tree;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = strdup(path);
	if (!cfg->path)
		return vl_status_set(st, -ENOMEM, "out of memory");
	err = ctl_yaml_load(&tree, path, st);
	if (err) {
		ctl_config_free(cfg);
		return err;
	}
	err = load_tree(cfg, &tree, warnings, st);
	ctl_yaml_free(&tree);
	return err;
}

int ctl_config_load_string(struct ctl_config *cfg, const char *name,
			   const char *text, struct vl_status *st)
{
	struct ctl_yaml_tree tree;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = strdup(name);
	if (!cfg->path)
		return vl_status_set(st, -ENOMEM, "out of memory");
	err = ctl_yaml_load_string(&tree, name, text, strlen(text), st);
	if (err) {
		ctl_config_free(cfg);
		return err;
	}
	err = load_tree(cfg, &tree, NULL, st);
	ctl_yaml_free(&tree);
	return err;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void free_rules(struct ctl_fw_rule *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++) {
		free(r[i].host);
		free_strv(r[i].groups, r[i].n_groups);
		free(r[i].ca_name);
		free(r[i].ca_sha);
	}
	free(r);
}

void ctl_config_free(struct ctl_config *cfg)
{
	free(cfg->path);
	free(cfg->pki_ca);
	free(cfg->pki_cert);
	free(cfg->pki_key);
	free_strv(cfg->blocklist, cfg->n_blocklist);
	for (size_t i = 0; cfg->static_hosts && i < cfg->n_static_hosts; i++)
		free_strv(cfg->static_hosts[i].addrs,
			  cfg->static_hosts[i].n_addrs);
	free(cfg->static_hosts);
	free(cfg->dns_host);
	free(cfg->lighthouses);
	free_strv(cfg->advertise_addrs, cfg->n_advertise_addrs);
	free(cfg->listen_host);
	free(cfg->preferred_ranges);
	free(cfg->relays);
	free(cfg->tun_dev);
	free(cfg->routes);
	free(cfg->unsafe_routes);
	free(cfg->timestamp_format);
	free_rules(cfg->inbound, cfg->n_inbound);
	free_rules(cfg->outbound, cfg->n_outbound);
	free(cfg->interface);
	free(cfg->socket);
	ctl_allow_list_free(cfg->remote_allow);
	free(cfg->remote_allow);
	ctl_allow_list_free(cfg->local_allow);
	free(cfg->local_allow);
	for (size_t i = 0; cfg->remote_ranges && i < cfg->n_remote_ranges; i++)
		ctl_allow_list_free(&cfg->remote_ranges[i].list);
	free(cfg->remote_ranges);
	free(cfg->stats_listen);
	free(cfg->stats_path);
	free(cfg->stats_prefix);
	memset(cfg, 0, sizeof(*cfg));
}

const char *ctl_backend_name(enum ctl_backend b)
{
	switch (b) {
	case CTL_BACKEND_AUTO:
		return "auto";
	case CTL_BACKEND_XSK:
		return "xsk";
	case CTL_BACKEND_UDP:
		return "udp";
	case CTL_BACKEND_DPDK:
		return "dpdk";
	}
	return "?";
}

const char *ctl_mode_name(enum ctl_mode m)
{
	switch (m) {
	case CTL_MODE_ADAPTIVE:
		return "adaptive";
	case CTL_MODE_BUSY:
		return "busy";
	case CTL_MODE_EVENT:
		return "event";
	}
	return "?";
}
