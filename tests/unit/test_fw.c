/* SPDX-License-Identifier: MIT */
/*
 * The firewall end to end, as the two processes run it: config text ->
 * config.c's parser -> ctl_fw_compile (control) -> dp_fw_load ->
 * dp_fw_peer_new from a ctl_fw_peer_identity -> dp_fw_allow (dataplane).
 *
 * Each test is a rule set and a table of packets, each from one of a
 * few fixed peers and with the verdict 1.6.1 gives. Cases taken from
 * nebula 1.6.1's firewall_test.go name the Go test. Then the loader and
 * the identity check against broken records, byte by byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capool.h"
#include "cert.h"
#include "config.h"
#include "fw.h"
#include "fw_compile.h"
#include "status.h"

#define PKI "pki: {ca: /etc/nebula/ca.crt, cert: /etc/nebula/host.crt, key: /etc/nebula/host.key}\n"
#define IP4(a, b, c, d)                                                 \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | \
	 (uint32_t)(d))
#define LOCAL_IP IP4(10, 1, 0, 1)
#define PEER_IP IP4(10, 1, 0, 2)

/* ca_sha values: our pool's one CA has fingerprint aa..aa; bb..bb is foreign. */
#define SHA_AA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_BB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_AA_UPPER "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

enum peer_id {
	HOST1,    /* default-group, test-group; issued by our ca-good */
	HOST2,    /* default-group; ca-good */
	OTHER,    /* test-group-not; ca-good */
	STRANGER, /* default-group; issuer bb..bb, not in our pool */
	LONELY,   /* no groups; ca-good */
	HOST1_BB, /* named host1, issuer bb..bb (firewall_test.go's c1) */
	HOST3_BB, /* issuer bb..bb (firewall_test.go's c3) */
	N_PEERS
};

static const struct {
	const char *name;
	const char *groups[3];
	size_t n_groups;
	uint8_t issuer; /* every byte of the 32-byte issuer */
} peers[N_PEERS] = {
	[HOST1] = { "host1", { "default-group", "test-group" }, 2, 0xaa },
	[HOST2] = { "host2", { "default-group" }, 1, 0xaa },
	[OTHER] = { "other", { "test-group-not" }, 1, 0xaa },
	[STRANGER] = { "stranger", { "default-group" }, 1, 0xbb },
	[LONELY] = { "lonely", { NULL }, 0, 0xaa },
	[HOST1_BB] = { "host1", { NULL }, 0, 0xbb },
	[HOST3_BB] = { "host3", { NULL }, 0, 0xbb },
};

enum { TCP = 6, UDP = 17, ICMP = 1, GRE = 47 };

struct pkt {
	enum peer_id peer;
	enum dp_flow_dir dir;
	uint8_t proto;
	uint16_t lport, rport;  /* local, remote */
	uint32_t rip;           /* remote IP; 0: the peer's VPN IP */
	bool frag;
	bool allow;
};

#define IN DP_FLOW_IN
#define OUT DP_FLOW_OUT
#define ALLOW .allow = true
#define DENY .allow = false

/* A CA pool with one CA, "ca-good", whose fingerprint is aa..aa. */
struct pool {
	struct ctl_cert ca;
	struct ctl_cert *cas[1];
	uint8_t fps[1][CTL_CERT_FP_LEN];
	struct ctl_capool pool;
};

static void pool_init(struct pool *p)
{
	memset(p, 0, sizeof(*p));
	p->ca.name = "ca-good";
	p->ca.is_ca = true;
	p->cas[0] = &p->ca;
	memset(p->fps[0], 0xaa, CTL_CERT_FP_LEN);
	p->pool.cas = p->cas;
	p->pool.ca_fps = p->fps;
	p->pool.n_cas = 1;
}

static void identity(enum peer_id i, struct ctlmsg_fw_peer *id)
{
	struct vl_status st = { "" };
	struct ctl_cert c;
	struct pool p;

	pool_init(&p);
	memset(&c, 0, sizeof(c));
	c.name = peers[i].name;
	c.groups = peers[i].groups;
	c.n_groups = peers[i].n_groups;
	c.issuer_len = CTL_CERT_FP_LEN;
	memset(c.issuer, peers[i].issuer, CTL_CERT_FP_LEN);
	if (ctl_fw_peer_identity(&c, &p.pool, id, &st))
		fail_msg("identity of %s: %s", peers[i].name, st.msg);
}

/* Config text -> record, through the real parser and compiler. */
static struct ctlmsg_firewall *compile(const char *yaml, uint32_t gen,
				       uint32_t *len)
{
	struct vl_status st = { "" };
	struct ctlmsg_firewall *rec;
	struct ctl_config cfg;

	if (ctl_config_load_string(&cfg, "test.yml", yaml, &st))
		fail_msg("config: %s", st.msg);
	if (ctl_fw_compile(&cfg, gen, &rec, len, &st))
		fail_msg("compile: %s", st.msg);
	ctl_config_free(&cfg);
	assert_int_equal(rec->hdr.len, *len);
	assert_int_equal(rec->hdr.version, CTLMSG_VERSION);
	return rec;
}

static struct dp_fw *load(const char *yaml)
{
	struct vl_status st = { "" };
	struct ctlmsg_firewall *rec;
	struct dp_fw *fw;
	uint32_t len;

	rec = compile(yaml, 1, &len);
	if (dp_fw_load(rec, len, &fw, &st))
		fail_msg("load: %s", st.msg);
	free(rec);
	return fw;
}

static struct dp_fw_peer *peer_new(const struct dp_fw *fw, enum peer_id i)
{
	struct vl_status st = { "" };
	struct ctlmsg_fw_peer id;
	struct dp_fw_peer *p;

	identity(i, &id);
	if (dp_fw_peer_new(fw, &id, &p, &st))
		fail_msg("peer %s: %s", peers[i].name, st.msg);
	return p;
}

static struct dp_flow_key key_of(const struct pkt *t)
{
	struct dp_flow_key k;

	memset(&k, 0, sizeof(k));
	k.local_ip = LOCAL_IP;
	k.remote_ip = t->rip ? t->rip : PEER_IP;
	k.local_port = t->lport;
	k.remote_port = t->rport;
	k.proto = t->proto;
	k.fragment = t->frag;
	return k;
}

static void run(const char *rules, const struct pkt *pkts, size_t n)
{
	struct dp_fw_peer *p[N_PEERS];
	char *yaml;
	struct dp_fw *fw;

	assert_true(asprintf(&yaml, PKI "%s", rules) > 0);
	fw = load(yaml);
	free(yaml);
	for (int i = 0; i < N_PEERS; i++)
		p[i] = peer_new(fw, (enum peer_id)i);
	for (size_t i = 0; i < n; i++) {
		const struct pkt *t = &pkts[i];
		struct dp_flow_key k = key_of(t);
		bool got = dp_fw_allow(p[t->peer], t->dir, &k);

		if (got != t->allow)
			fail_msg("packet %zu: %s %s proto %u local port %u remote port %u remote %08x%s: %s, want %s",
				 i + 1, peers[t->peer].name,
				 t->dir == IN ? "in" : "out", t->proto, t->lport,
				 t->rport, k.remote_ip,
				 t->frag ? " fragment" : "",
				 got ? "allowed" : "denied",
				 t->allow ? "allowed" : "denied");
	}
	for (int i = 0; i < N_PEERS; i++)
		dp_fw_peer_free(p[i]);
	dp_fw_free(fw);
}

#define RUN(rules, ...)                                                 \
	do {                                                            \
		static const struct pkt p_[] = { __VA_ARGS__ };         \
		run(rules, p_, sizeof(p_) / sizeof(p_[0]));             \
	} while (0)

static void test_fw_group_port(void **state)
{
	(void)state;
	RUN("firewall: {inbound: [{port: 22, proto: tcp, group: default-group}]}\n",
	    { HOST2, IN, TCP, 22, 40000, ALLOW },
	    { HOST1, IN, TCP, 22, 40000, ALLOW },
	    { HOST2, IN, TCP, 23, 40000, DENY },
	    { HOST2, IN, UDP, 22, 40000, DENY },
	    { OTHER, IN, TCP, 22, 40000, DENY },
	    { LONELY, IN, TCP, 22, 40000, DENY },
	    /* No outbound rules: outbound is denied, whatever the port. */
	    { HOST2, OUT, TCP, 40000, 22, DENY },
	    { HOST2, OUT, TCP, 22, 40000, DENY });
}

static void test_fw_groups_and(void **state)
{
	(void)state;
	/* TestFirewall_Drop2: every group of the set must be there. */
	RUN("firewall: {inbound: [{port: any, proto: any, groups: [default-group, test-group]}]}\n",
	    { HOST1, IN, UDP, 10, 90, ALLOW },
	    { HOST2, IN, UDP, 10, 90, DENY },
	    { OTHER, IN, UDP, 10, 90, DENY },
	    { STRANGER, IN, UDP, 10, 90, DENY });
	/* Rules are OR-ed: two rules with one group each take either. */
	RUN("firewall: {inbound: [{port: any, proto: any, group: test-group},\n"
	    "                     {port: any, proto: any, group: test-group-not}]}\n",
	    { HOST1, IN, UDP, 10, 90, ALLOW },
	    { OTHER, IN, UDP, 10, 90, ALLOW },
	    { HOST2, IN, UDP, 10, 90, DENY });
}

static void test_fw_any_forms(void **state)
{
	(void)state;
	/* FirewallRule.isAny: a group `any` anywhere in the set. */
	RUN("firewall: {inbound: [{port: 80, proto: tcp, groups: [nope, any]}]}\n",
	    { HOST1, IN, TCP, 80, 5000, ALLOW },
	    { LONELY, IN, TCP, 80, 5000, ALLOW },
	    { STRANGER, IN, TCP, 80, 5000, ALLOW },
	    { LONELY, IN, TCP, 81, 5000, DENY });
	/* TestFirewall_AddRule: `host: any`. */
	RUN("firewall: {inbound: [{port: 80, proto: tcp, host: any}]}\n",
	    { OTHER, IN, TCP, 80, 5000, ALLOW },
	    { HOST3_BB, IN, TCP, 80, 5000, ALLOW },
	    { OTHER, IN, UDP, 80, 5000, DENY });
	/*
	 * TestFirewall_AddRule: cidr 0.0.0.0/0 is any, whatever the remote
	 * IP. isAny tests Contains(0.0.0.0), so 0.0.0.0/8 is any too.
	 */
	RUN("firewall: {outbound: [{port: any, proto: any, cidr: 0.0.0.0/0}],\n"
	    "           inbound: [{port: any, proto: any, cidr: 0.0.0.0/8}]}\n",
	    { OTHER, OUT, UDP, 5000, 53, IP4(172, 16, 0, 1), ALLOW },
	    { LONELY, OUT, TCP, 5000, 80, 0, ALLOW },
	    { LONELY, IN, TCP, 80, 5000, IP4(192, 168, 1, 1), ALLOW });
	/* A rule with only a CA condition is any within that CA (Drop3). */
	RUN("firewall: {inbound: [{port: 1, proto: any, ca_name: ca-good}]}\n",
	    { LONELY, IN, UDP, 1, 1, ALLOW },
	    { STRANGER, IN, UDP, 1, 1, DENY });
}

static void test_fw_host_group_cidr_or(void **state)
{
	(void)state;
	/* Inside one rule host, group and cidr are OR-ed, not AND-ed. */
	RUN("firewall: {inbound: [{port: 80, proto: tcp, host: host2, group: test-group,\n"
	    "                      cidr: 192.168.50.0/24}]}\n",
	    { HOST2, IN, TCP, 80, 5000, ALLOW },        /* host */
	    { HOST1, IN, TCP, 80, 5000, ALLOW },        /* group */
	    { OTHER, IN, TCP, 80, 5000, DENY },
	    { OTHER, IN, TCP, 80, 5000, IP4(192, 168, 50, 7), ALLOW }, /* cidr */
	    { OTHER, IN, TCP, 80, 5000, IP4(192, 168, 51, 7), DENY },
	    { OTHER, IN, TCP, 81, 5000, IP4(192, 168, 50, 7), DENY },
	    /* The cidr is against the remote IP, not the local one. */
	    { LONELY, IN, TCP, 80, 5000, IP4(10, 1, 0, 9), DENY });
}

static void test_fw_ca_sha(void **state)
{
	(void)state;
	/* TestFirewall_Drop: "ensure signer doesn't get in the way of group checks". */
	RUN("firewall: {inbound: [{port: any, proto: any, group: nope, ca_sha: " SHA_AA "},\n"
	    "                     {port: any, proto: any, group: default-group, ca_sha: " SHA_BB "}]}\n",
	    { HOST2, IN, UDP, 10, 90, DENY },
	    /* STRANGER has default-group and issuer bb..bb. */
	    { STRANGER, IN, UDP, 10, 90, ALLOW });
	/* TestFirewall_Drop: "test caSha doesn't drop on match". */
	RUN("firewall: {inbound: [{port: any, proto: any, group: nope, ca_sha: " SHA_BB "},\n"
	    "                     {port: any, proto: any, group: default-group, ca_sha: " SHA_AA "}]}\n",
	    { HOST2, IN, UDP, 10, 90, ALLOW },
	    { STRANGER, IN, UDP, 10, 90, DENY });
	/*
	 * TestFirewall_Drop3: host1 passes by name whatever its issuer; a
	 * ca_sha-only rule passes every cert of that CA; host3 neither.
	 */
	RUN("firewall: {inbound: [{port: 1, proto: any, host: host1},\n"
	    "                     {port: 1, proto: any, ca_sha: " SHA_AA "}]}\n",
	    { HOST1_BB, IN, UDP, 1, 1, ALLOW },
	    { LONELY, IN, UDP, 1, 1, ALLOW },
	    { HOST3_BB, IN, UDP, 1, 1, DENY },
	    { LONELY, IN, UDP, 2, 1, DENY });
	/* 1.6.1 compares the lowercase hex issuer as a string: case matters. */
	RUN("firewall: {inbound: [{port: any, proto: any, ca_sha: " SHA_AA_UPPER "}]}\n",
	    { LONELY, IN, UDP, 1, 1, DENY });
}

static void test_fw_ca_name(void **state)
{
	(void)state;
	/* TestFirewall_Drop: "ensure ca name doesn't get in the way of group checks". */
	RUN("firewall: {inbound: [{port: any, proto: any, group: nope, ca_name: ca-good},\n"
	    "                     {port: any, proto: any, group: default-group, ca_name: ca-good-bad}]}\n",
	    { HOST2, IN, UDP, 10, 90, DENY });
	/* TestFirewall_Drop: "test caName doesn't drop on match". */
	RUN("firewall: {inbound: [{port: any, proto: any, group: nope, ca_name: ca-good-bad},\n"
	    "                     {port: any, proto: any, group: default-group, ca_name: ca-good}]}\n",
	    { HOST2, IN, UDP, 10, 90, ALLOW },
	    /* Its issuer is not in our pool: GetCAForCert fails, no ca_name matches. */
	    { STRANGER, IN, UDP, 10, 90, DENY });
	/* ca_sha and ca_name in one rule: either CA condition will do. */
	RUN("firewall: {inbound: [{port: any, proto: any, group: default-group,\n"
	    "                      ca_name: ca-good, ca_sha: " SHA_BB "}]}\n",
	    { HOST2, IN, UDP, 10, 90, ALLOW },
	    { STRANGER, IN, UDP, 10, 90, ALLOW },
	    { OTHER, IN, UDP, 10, 90, DENY });
}

static void test_fw_port_ranges(void **state)
{
	(void)state;
	RUN("firewall: {inbound: [{port: 1000-2000, proto: udp, host: any},\n"
	    "                     {port: 65535, proto: tcp, host: any}]}\n",
	    { LONELY, IN, UDP, 999, 1, DENY },
	    { LONELY, IN, UDP, 1000, 1, ALLOW },
	    { LONELY, IN, UDP, 1500, 1, ALLOW },
	    { LONELY, IN, UDP, 2000, 1, ALLOW },
	    { LONELY, IN, UDP, 2001, 1, DENY },
	    { LONELY, IN, TCP, 65535, 1, ALLOW },
	    { LONELY, IN, TCP, 65534, 1, DENY },
	    /* Port 0 is only ever matched by any-port rules. */
	    { LONELY, IN, UDP, 0, 1, DENY });
	/*
	 * A range is not any, even 1-65535: 1.6.1 files it under each port,
	 * so port 0 (ICMP) and fragments (the fragment entry) miss it.
	 */
	RUN("firewall: {inbound: [{port: 1-65535, proto: any, host: any}]}\n",
	    { LONELY, IN, UDP, 1, 1, ALLOW },
	    { LONELY, IN, UDP, 65535, 1, ALLOW },
	    { LONELY, IN, ICMP, 0, 0, DENY },
	    { LONELY, IN, TCP, 0, 0, .frag = true, DENY });
	/* Test_parsePort: "0-1" is 0-0, any port. */
	RUN("firewall: {inbound: [{port: 0-5, proto: tcp, host: any}]}\n",
	    { LONELY, IN, TCP, 9999, 1, ALLOW },
	    { LONELY, IN, TCP, 0, 1, ALLOW },
	    { LONELY, IN, TCP, 0, 0, .frag = true, ALLOW });
}

static void test_fw_fragments(void **state)
{
	(void)state;
	RUN("firewall: {inbound: [{port: fragment, proto: tcp, host: any},\n"
	    "                     {port: 80, proto: udp, host: any},\n"
	    "                     {port: any, proto: icmp, host: any}]}\n",
	    { LONELY, IN, TCP, 0, 0, .frag = true, ALLOW },
	    /* A fragment rule does not take the first fragment (ports known). */
	    { LONELY, IN, TCP, 80, 5000, DENY },
	    { LONELY, IN, TCP, 0, 0, DENY },
	    /* A port rule does not take fragments... */
	    { LONELY, IN, UDP, 0, 0, .frag = true, DENY },
	    /* ...an any-port rule does. */
	    { LONELY, IN, ICMP, 0, 0, .frag = true, ALLOW },
	    { LONELY, OUT, TCP, 0, 0, .frag = true, DENY });
}

static void test_fw_icmp(void **state)
{
	(void)state;
	/*
	 * ICMP packets have ports 0, so `code: 8` never matches (spec §8);
	 * only port any does.
	 */
	RUN("firewall: {inbound: [{code: 8, proto: icmp, host: any}],\n"
	    "           outbound: [{port: any, proto: icmp, host: any}]}\n",
	    { LONELY, IN, ICMP, 0, 0, DENY },
	    { LONELY, OUT, ICMP, 0, 0, ALLOW },
	    { LONELY, OUT, TCP, 0, 0, DENY },
	    { LONELY, OUT, UDP, 5000, 53, DENY });
}

static void test_fw_proto_any(void **state)
{
	(void)state;
	/* FirewallTable.match: other protocols reach only the any table. */
	RUN("firewall: {inbound: [{port: any, proto: any, group: default-group}],\n"
	    "           outbound: [{port: any, proto: tcp, host: any},\n"
	    "                      {port: any, proto: udp, host: any},\n"
	    "                      {port: any, proto: icmp, host: any}]}\n",
	    { HOST2, IN, GRE, 0, 0, ALLOW },
	    { HOST2, IN, 132, 3868, 3868, ALLOW },
	    { HOST2, IN, TCP, 1, 1, ALLOW },
	    { LONELY, IN, GRE, 0, 0, DENY },
	    { HOST2, OUT, GRE, 0, 0, DENY },
	    { HOST2, OUT, TCP, 1, 22, ALLOW },
	    { HOST2, OUT, UDP, 1, 53, ALLOW },
	    { HOST2, OUT, ICMP, 0, 0, ALLOW });
}

static void test_fw_orientation(void **state)
{
	(void)state;
	/* Inbound matches the local port, outbound the remote one. */
	RUN("firewall: {inbound: [{port: 80, proto: tcp, host: any}],\n"
	    "           outbound: [{port: 53, proto: udp, host: any}]}\n",
	    { LONELY, IN, TCP, 80, 5555, ALLOW },
	    { LONELY, IN, TCP, 5555, 80, DENY },
	    { LONELY, OUT, UDP, 40000, 53, ALLOW },
	    { LONELY, OUT, UDP, 53, 40000, DENY },
	    /* Each direction has its own rules. */
	    { LONELY, OUT, TCP, 5555, 80, DENY },
	    { LONELY, IN, UDP, 53, 40000, DENY });
	/*
	 * TestFirewall_DropConntrackReload: a stale entry created by an
	 * inbound packet (local 10, remote 90) is re-checked against the
	 * inbound rules with the inbound orientation even when the packet
	 * at hand is outbound: the caller passes the entry's direction.
	 */
	RUN("firewall: {inbound: [{port: 10, proto: any, group: any}]}\n",
	    { HOST1, IN, UDP, 10, 90, ALLOW },
	    { HOST1, OUT, UDP, 10, 90, DENY });
}

static void test_fw_no_rules(void **state)
{
	(void)state;
	/* Default deny in both directions. */
	RUN("",
	    { HOST1, IN, TCP, 22, 5000, DENY },
	    { HOST1, OUT, TCP, 5000, 22, DENY },
	    { HOST1, IN, ICMP, 0, 0, DENY });
	RUN("firewall: {inbound: [], outbound: []}\n",
	    { HOST1, IN, UDP, 1, 1, DENY },
	    { HOST1, OUT, UDP, 1, 1, DENY });
}

static void test_fw_peer_lists(void **state)
{
	struct dp_fw *fw;
	struct dp_fw_peer *p;
	struct dp_flow_key k = { .local_ip = LOCAL_IP, .remote_ip = PEER_IP,
				 .local_port = 9, .remote_port = 9,
				 .proto = 99 };

	(void)state;
	fw = load(PKI "firewall:\n"
		  "  conntrack: {tcp_timeout: 1m, udp_timeout: 2s, default_timeout: 3h}\n"
		  "  inbound:\n"
		  "    - {port: 22, proto: tcp, host: host1}\n"
		  "    - {port: 80, proto: tcp, group: test-group}\n"
		  "    - {port: 443, proto: tcp, cidr: 10.9.0.0/16}\n"
		  "    - {port: 444, proto: tcp, group: nope, ca_name: ca-good-bad}\n"
		  "  outbound:\n"
		  "    - {port: 1, proto: udp, host: any}\n"
		  "    - {port: any, proto: any, host: any}\n");
	assert_int_equal(dp_fw_gen(fw), 1);
	assert_int_equal(dp_fw_n_rules(fw, DP_FLOW_IN), 4);
	assert_int_equal(dp_fw_n_rules(fw, DP_FLOW_OUT), 2);
	assert_int_equal(dp_fw_timeouts(fw)->tcp_ns, 60000000000ull);
	assert_int_equal(dp_fw_timeouts(fw)->udp_ns, 2000000000ull);
	assert_int_equal(dp_fw_timeouts(fw)->default_ns, 3 * 3600000000000ull);

	/* host1: the host rule, the group rule, the cidr rule (cidr decides). */
	p = peer_new(fw, HOST1);
	assert_int_equal(dp_fw_peer_gen(p), 1);
	assert_int_equal(dp_fw_peer_n_rules(p, DP_FLOW_IN), 3);
	/* One rule allows everything outbound: nothing left to scan. */
	assert_int_equal(dp_fw_peer_n_rules(p, DP_FLOW_OUT), 0);
	assert_true(dp_fw_allow(p, DP_FLOW_OUT, &k));
	assert_false(dp_fw_allow(p, DP_FLOW_IN, &k));
	dp_fw_peer_free(p);
	/* lonely: only the cidr rule concerns it. */
	p = peer_new(fw, LONELY);
	assert_int_equal(dp_fw_peer_n_rules(p, DP_FLOW_IN), 1);
	dp_fw_peer_free(p);
	/* The default timeouts are 1.6.1's. */
	dp_fw_free(fw);
	fw = load(PKI);
	assert_int_equal(dp_fw_timeouts(fw)->tcp_ns, 12 * 60000000000ull);
	assert_int_equal(dp_fw_timeouts(fw)->udp_ns, 3 * 60000000000ull);
	assert_int_equal(dp_fw_timeouts(fw)->default_ns, 10 * 60000000000ull);
	dp_fw_free(fw);
}

static void expect_compile_error(const char *yaml, uint32_t gen, int want,
				 const char *msg)
{
	struct vl_status st = { "" };
	struct ctlmsg_firewall *rec = (void *)1;
	struct ctl_config cfg;
	uint32_t len = 1;
	int err;

	if (ctl_config_load_string(&cfg, "test.yml", yaml, &st))
		fail_msg("config: %s", st.msg);
	err = ctl_fw_compile(&cfg, gen, &rec, &len, &st);
	ctl_config_free(&cfg);
	if (err != want || !strstr(st.msg, msg))
		fail_msg("got %d \"%s\", want %d with \"%s\"", err, st.msg,
			 want, msg);
	assert_null(rec);
	assert_int_equal(len, 0);
}

static void test_fw_compile_errors(void **state)
{
	size_t n = CTLMSG_FW_RULES_MAX + 5, off;
	char *yaml = malloc(256 + n * 48);

	(void)state;
	assert_non_null(yaml);
	/* 1.6.1 reads "" as absent: this rule would match no one or anyone. */
	expect_compile_error(PKI "firewall: {outbound: [{port: 1, proto: tcp, host: \"\"}]}\n",
			     1, -EINVAL,
			     "test.yml:2: firewall.outbound[0]: at least one of host");
	expect_compile_error(PKI, 0, -EINVAL, "generation 0");

	/* Too many rules for one record: the first that does not fit is named. */
	off = (size_t)sprintf(yaml, PKI "firewall:\n  outbound:\n");
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(yaml + off,
				       "    - {port: 1, proto: tcp, host: h}\n");
	{
		char want[96];

		snprintf(want, sizeof(want), "firewall.outbound[%zu]: the firewall rules do not fit",
			 (size_t)CTLMSG_FW_RULES_MAX);
		expect_compile_error(yaml, 1, -E2BIG, want);
	}
	free(yaml);
}

static void test_fw_identity_limits(void **state)
{
	static char long_name[CTLMSG_FW_PEER_STRINGS + 1];
	static char group[40];
	const char *groups[60];
	struct vl_status st = { "" };
	struct ctlmsg_fw_peer id;
	struct ctl_cert c;
	struct pool p;

	(void)state;
	pool_init(&p);
	memset(&c, 0, sizeof(c));
	/* A name filling the area exactly (2047 + NUL) fits... */
	memset(long_name, 'n', CTLMSG_FW_PEER_STRINGS - 1);
	c.name = long_name;
	assert_int_equal(ctl_fw_peer_identity(&c, &p.pool, &id, &st), 0);
	assert_int_equal(id.strings_len, CTLMSG_FW_PEER_STRINGS);
	assert_int_equal(id.flags, 0); /* no issuer: no CA */
	/* ...one more byte does not, and nothing is truncated. */
	long_name[CTLMSG_FW_PEER_STRINGS - 1] = 'n';
	assert_int_equal(ctl_fw_peer_identity(&c, &p.pool, &id, &st), -E2BIG);
	assert_non_null(strstr(st.msg, "certificate \"nnnn"));
	assert_int_equal(id.strings_len, 0);

	/* Sixty 39-byte groups: 2400 bytes. */
	memset(group, 'g', sizeof(group) - 1);
	for (size_t i = 0; i < 60; i++)
		groups[i] = group;
	c.name = "many-groups";
	c.groups = groups;
	c.n_groups = 60;
	assert_int_equal(ctl_fw_peer_identity(&c, &p.pool, &id, &st), -E2BIG);
	assert_non_null(strstr(st.msg, "\"many-groups\": its name, 60 groups"));

	/* The issuing CA's name comes from the pool, by fingerprint. */
	c.n_groups = 1;
	c.issuer_len = CTL_CERT_FP_LEN;
	memset(c.issuer, 0xaa, CTL_CERT_FP_LEN);
	assert_int_equal(ctl_fw_peer_identity(&c, &p.pool, &id, &st), 0);
	assert_int_equal(id.flags, CTLMSG_FW_PEER_HAS_CA);
	assert_string_equal(id.strings + strlen("many-groups") + 1, "ca-good");
	assert_int_equal(id.issuer_len, CTL_CERT_FP_LEN);

	/* No name (a certificate built in memory): "", as 1.6.1 reads it. */
	c.name = NULL;
	c.n_groups = 0;
	c.issuer_len = 0;
	assert_int_equal(ctl_fw_peer_identity(&c, &p.pool, &id, &st), 0);
	assert_int_equal(id.strings_len, 1);
	assert_int_equal(id.flags, 0);
}

/*
 * A record with every part in use, for the loader's checks:
 *   inbound 0: tcp 22, host host1
 *   inbound 1: tcp 80-81, groups [default-group, test-group], ca_name
 *   inbound 2: any proto, fragment, cidr 10.1.0.0/16, ca_sha
 *   outbound 0: any/any, host any
 */
static const char full_rules[] =
	PKI "firewall:\n"
	"  inbound:\n"
	"    - {port: 22, proto: tcp, host: host1}\n"
	"    - {port: 80-81, proto: tcp, groups: [default-group, test-group], ca_name: ca-good}\n"
	"    - {port: fragment, proto: any, cidr: 10.1.0.0/16, ca_sha: " SHA_AA "}\n"
	"  outbound:\n"
	"    - {port: any, proto: any, host: any}\n";

#define RULE(i) (offsetof(struct ctlmsg_firewall, data) + \
		 (i) * sizeof(struct ctlmsg_fw_rule))
#define HDR(f) offsetof(struct ctlmsg_firewall, f)
#define RF(i, f) (RULE(i) + offsetof(struct ctlmsg_fw_rule, f))

static uint32_t get32(const uint8_t *b, size_t off)
{
	uint32_t v;

	memcpy(&v, b + off, sizeof(v));
	return v;
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

static void put16(uint8_t *b, size_t off, uint16_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

static void expect_refused(const uint8_t *rec, uint32_t len, const char *what,
			   const char *msg)
{
	struct vl_status st = { "" };
	struct dp_fw *fw = (void *)1;
	int err = dp_fw_load(rec, len, &fw, &st);

	if (err != -EINVAL || !strstr(st.msg, msg)) {
		if (!err)
			dp_fw_free(fw);
		fail_msg("%s: got %d \"%s\", want -EINVAL with \"%s\"", what,
			 err, st.msg, msg);
	}
	assert_null(fw);
}

static void test_fw_load_refuses(void **state)
{
	struct ctlmsg_firewall *rec;
	uint8_t *good, *b;
	uint32_t len, strings_len, n_refs, refs_at, strings_at, host0;
	struct vl_status st = { "" };
	struct dp_fw *fw;

	(void)state;
	rec = compile(full_rules, 7, &len);
	good = (uint8_t *)rec;
	n_refs = get32(good, HDR(n_refs));
	strings_len = get32(good, HDR(strings_len));
	assert_int_equal(get32(good, HDR(n_inbound)), 3);
	assert_int_equal(get32(good, HDR(n_outbound)), 1);
	assert_int_equal(n_refs, 2);
	refs_at = (uint32_t)RULE(4);
	strings_at = refs_at + 4 * n_refs;
	assert_int_equal(strings_at + strings_len, len);
	host0 = get32(good, RF(0, host));
	assert_string_equal((const char *)good + strings_at + host0, "host1");
	/* The canonical forms fw_wire.h promises. */
	assert_int_equal(good[RF(3, flags)], CTLMSG_FW_ANY);
	assert_int_equal(get32(good, RF(3, host)), CTLMSG_FW_NONE);
	assert_int_equal(good[RF(2, flags)], CTLMSG_FW_FRAGMENT | CTLMSG_FW_CIDR);
	assert_int_equal(get32(good, RF(2, cidr_ip)), IP4(10, 1, 0, 0));

	/* It loads as is, also from an odd address. */
	b = malloc(len + 1);
	assert_non_null(b);
	memcpy(b + 1, good, len);
	assert_int_equal(dp_fw_load(b + 1, len, &fw, &st), 0);
	assert_int_equal(dp_fw_gen(fw), 7);
	dp_fw_free(fw);
	free(b);

#define MUTATE(what, msg, newlen, ...)                                  \
	do {                                                            \
		b = malloc(len + 8);                                    \
		assert_non_null(b);                                     \
		memset(b, 0, len + 8);                                  \
		memcpy(b, good, len);                                   \
		__VA_ARGS__;                                            \
		expect_refused(b, (newlen), what, msg);                 \
		free(b);                                                \
	} while (0)

	/* Lengths. */
	MUTATE("shorter than the header", "not within", 10, (void)0);
	MUTATE("hdr.len one more", "hdr.len", len, put32(b, HDR(hdr.len), len + 1));
	MUTATE("hdr.len one less", "hdr.len", len, put32(b, HDR(hdr.len), len - 1));
	MUTATE("truncated by a byte", "bytes of strings make", len - 1,
	       put32(b, HDR(hdr.len), len - 1));
	MUTATE("a byte too many", "bytes of strings make", len + 1,
	       put32(b, HDR(hdr.len), len + 1));
	MUTATE("n_inbound + 1", "bytes of strings make", len,
	       put32(b, HDR(n_inbound), 4));
	MUTATE("n_outbound + 1", "bytes of strings make", len,
	       put32(b, HDR(n_outbound), 2));
	MUTATE("n_refs + 1", "bytes of strings make", len,
	       put32(b, HDR(n_refs), n_refs + 1));
	MUTATE("strings_len + 1", "bytes of strings make", len,
	       put32(b, HDR(strings_len), strings_len + 1));
	MUTATE("strings_len - 1", "bytes of strings make", len,
	       put32(b, HDR(strings_len), strings_len - 1));
	MUTATE("n_inbound wraps", "bytes of strings make", len,
	       put32(b, HDR(n_inbound), UINT32_MAX));
	MUTATE("n_refs huge", "bytes of strings make", len,
	       put32(b, HDR(n_refs), UINT32_MAX / 4 + 1));
	MUTATE("longer than a record", "not within", CTLMSG_MAX + 1,
	       put32(b, HDR(hdr.len), CTLMSG_MAX + 1));

	/* Header fields. */
	MUTATE("generation 0", "generation 0", len, put32(b, HDR(gen), 0));
	MUTATE("reserved", "reserved", len, put32(b, HDR(reserved), 1));
	MUTATE("timeout", "timeout", len,
	       put32(b, HDR(udp_timeout_ns) + 4, UINT32_MAX));

	/* Strings and references. */
	MUTATE("strings without a final NUL", "do not end in a NUL", len,
	       b[len - 1] = 'x');
	MUTATE("a ref at the end", "is past the strings", len,
	       put32(b, refs_at, strings_len));
	MUTATE("a ref far past", "is past the strings", len,
	       put32(b, refs_at + 4, UINT32_MAX - 1));
	MUTATE("host past the strings", "string reference past", len,
	       put32(b, RF(0, host), strings_len));
	MUTATE("ca_name past the strings", "string reference past", len,
	       put32(b, RF(1, ca_name), strings_len + 100));
	MUTATE("ca_sha past the strings", "string reference past", len,
	       put32(b, RF(2, ca_sha), UINT32_MAX - 1));
	MUTATE("host on an empty string", "empty host", len,
	       put32(b, RF(0, host), strings_len - 1));
	MUTATE("groups past refs", "group references past refs", len,
	       put32(b, RF(1, groups), 1));
	MUTATE("n_groups past refs", "group references past refs", len,
	       put16(b, RF(1, n_groups), 3));
	MUTATE("groups index wraps", "group references past refs", len,
	       put32(b, RF(1, groups), UINT32_MAX));

	/* Rule fields. */
	MUTATE("proto", "unknown proto", len, b[RF(0, proto)] = 2);
	MUTATE("flags", "unknown flags", len, b[RF(0, flags)] |= 0x80);
	MUTATE("range reversed", "ends before", len,
	       put16(b, RF(1, start_port), 82));
	MUTATE("range from 0", "range from 0", len,
	       put16(b, RF(1, start_port), 0));
	MUTATE("fragment with ports", "fragment rule with ports", len,
	       put16(b, RF(2, start_port), 1); put16(b, RF(2, end_port), 1));
	MUTATE("any with a host", "an any rule with", len,
	       put32(b, RF(3, host), host0));
	MUTATE("any with a cidr", "an any rule with", len,
	       b[RF(3, flags)] |= CTLMSG_FW_CIDR;
	       put32(b, RF(3, cidr_ip), IP4(10, 0, 0, 0));
	       put32(b, RF(3, cidr_mask), 0xff000000));
	MUTATE("nothing to match, not any", "not any", len,
	       put32(b, RF(0, host), CTLMSG_FW_NONE));
	MUTATE("cidr not masked", "masked network", len,
	       put32(b, RF(2, cidr_ip), IP4(10, 1, 0, 5)));
	MUTATE("cidr mask with holes", "masked network", len,
	       put32(b, RF(2, cidr_mask), 0xff00ff00));
	MUTATE("cidr containing 0.0.0.0", "masked network", len,
	       put32(b, RF(2, cidr_ip), 0));
	MUTATE("cidr fields without the flag", "cidr without the cidr flag", len,
	       b[RF(2, flags)] = CTLMSG_FW_FRAGMENT);
#undef MUTATE
	free(rec);
}

/* xorshift32: a fixed sequence, so a failure repeats. */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_fw_load_garbled(void **state)
{
	struct ctlmsg_fw_peer ids[N_PEERS];
	struct ctlmsg_firewall *rec;
	uint32_t len, seed = 0x9e3779b9, loaded = 0;
	uint8_t *b;

	(void)state;
	rec = compile(full_rules, 1, &len);
	b = malloc(len);
	assert_non_null(b);
	for (int i = 0; i < N_PEERS; i++)
		identity((enum peer_id)i, &ids[i]);
	/*
	 * Random bytes changed, one to three at a time: the loader refuses
	 * or loads, never reads outside; what loads still runs.
	 */
	for (int iter = 0; iter < 4000; iter++) {
		struct vl_status st = { "" };
		struct dp_fw *fw;
		int n = 1 + (int)(next_rand(&seed) % 3);

		memcpy(b, rec, len);
		for (int j = 0; j < n; j++)
			b[next_rand(&seed) % len] = (uint8_t)next_rand(&seed);
		if (dp_fw_load(b, len, &fw, &st)) {
			assert_null(fw);
			assert_true(st.msg[0] != '\0');
			continue;
		}
		loaded++;
		for (int i = 0; i < N_PEERS; i++) {
			struct dp_fw_peer *p;
			struct pkt t = { .proto = (uint8_t)next_rand(&seed),
					 .lport = (uint16_t)next_rand(&seed),
					 .rport = (uint16_t)next_rand(&seed),
					 .rip = next_rand(&seed),
					 .frag = next_rand(&seed) & 1 };
			struct dp_flow_key k = key_of(&t);

			assert_int_equal(dp_fw_peer_new(fw, &ids[i], &p, &st), 0);
			(void)dp_fw_allow(p, DP_FLOW_IN, &k);
			(void)dp_fw_allow(p, DP_FLOW_OUT, &k);
			dp_fw_peer_free(p);
		}
		dp_fw_free(fw);
	}
	/* Changes to strings, timeouts and lines leave valid records. */
	assert_true(loaded > 0);
	free(b);
	free(rec);
}

static void expect_peer_refused(const struct dp_fw *fw,
				const struct ctlmsg_fw_peer *id,
				const char *what, const char *msg)
{
	struct vl_status st = { "" };
	struct dp_fw_peer *p = (void *)1;
	int err = dp_fw_peer_new(fw, id, &p, &st);

	if (err != -EINVAL || !strstr(st.msg, msg)) {
		if (!err)
			dp_fw_peer_free(p);
		fail_msg("%s: got %d \"%s\", want -EINVAL with \"%s\"", what,
			 err, st.msg, msg);
	}
	assert_null(p);
}

static void test_fw_peer_refuses(void **state)
{
	struct ctlmsg_fw_peer good, id;
	struct dp_fw *fw;

	(void)state;
	fw = load(full_rules);
	/* host1: "host1\0ca-good\0default-group\0test-group\0". */
	identity(HOST1, &good);
	assert_int_equal(good.strings_len, 6 + 8 + 14 + 11);
	assert_int_equal(good.n_groups, 2);
	assert_int_equal(good.flags, CTLMSG_FW_PEER_HAS_CA);

#define PEER(what, msg, ...)                                            \
	do {                                                            \
		id = good;                                              \
		__VA_ARGS__;                                            \
		expect_peer_refused(fw, &id, what, msg);                \
	} while (0)

	PEER("all zero (never filled)", "strings_len 0", memset(&id, 0, sizeof(id)));
	PEER("strings_len 0", "strings_len 0", id.strings_len = 0);
	PEER("strings_len past the area", "strings_len 2049",
	     id.strings_len = CTLMSG_FW_PEER_STRINGS + 1);
	PEER("last terminator cut off", "not terminated",
	     id.strings_len = (uint16_t)(good.strings_len - 1));
	PEER("one group more than there is", "string 5 of 5 is not terminated",
	     id.n_groups = 3);
	PEER("one group less", "bytes after the last", id.n_groups = 1);
	PEER("CA flag cleared", "bytes after the last", id.flags = 0);
	PEER("unknown flag", "unknown flags", id.flags |= 2);
	PEER("issuer_len", "issuer_len 65",
	     id.issuer_len = CTLMSG_FW_ISSUER_MAX + 1);
	PEER("no terminator anywhere", "string 1 of 4 is not terminated",
	     memset(id.strings, 'x', sizeof(id.strings));
	     id.strings_len = CTLMSG_FW_PEER_STRINGS);
#undef PEER
	dp_fw_free(fw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fw_group_port),
		cmocka_unit_test(test_fw_groups_and),
		cmocka_unit_test(test_fw_any_forms),
		cmocka_unit_test(test_fw_host_group_cidr_or),
		cmocka_unit_test(test_fw_ca_sha),
		cmocka_unit_test(test_fw_ca_name),
		cmocka_unit_test(test_fw_port_ranges),
		cmocka_unit_test(test_fw_fragments),
		cmocka_unit_test(test_fw_icmp),
		cmocka_unit_test(test_fw_proto_any),
		cmocka_unit_test(test_fw_orientation),
		cmocka_unit_test(test_fw_no_rules),
		cmocka_unit_test(test_fw_peer_lists),
		cmocka_unit_test(test_fw_compile_errors),
		cmocka_unit_test(test_fw_identity_limits),
		cmocka_unit_test(test_fw_load_refuses),
		cmocka_unit_test(test_fw_load_garbled),
		cmocka_unit_test(test_fw_peer_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
