/* SPDX-License-Identifier: MIT */
/*
 * config.yml parsing: 1.6.1's code defaults, the spec's interop configs,
 * multi-file merging as nebula does it, and bad input, where every error
 * must name the file, the line and the key.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "config.h"
#include "status.h"
#include "yaml_tree.h"

#define PKI "pki: {ca: /etc/nebula/ca.crt, cert: /etc/nebula/host.crt, key: /etc/nebula/host.key}\n"
#define NS(s) ((int64_t)(s) * 1000000000)

static void load_ok(struct ctl_config *c, const char *text)
{
	struct vl_status st = { "" };
	int err = ctl_config_load_string(c, "test.yml", text, &st);

	if (err)
		fail_msg("unexpected error: %s", st.msg);
}

static void test_config_defaults(void **state)
{
	struct ctl_config c;

	(void)state;
	load_ok(&c, PKI);
	assert_string_equal(c.pki_ca, "/etc/nebula/ca.crt");
	/* 1.6.1's code defaults, not examples/config.yml's. */
	assert_int_equal(c.listen_port, 0);
	assert_string_equal(c.listen_host, "0.0.0.0");
	assert_int_equal(c.listen_batch, 64);
	assert_int_equal(c.lighthouse_interval, 10);
	assert_false(c.punch);
	assert_int_equal(c.punch_delay_ns, NS(1));
	assert_int_equal(c.cipher, VL_CIPHER_AES);
	assert_int_equal(c.mtu, 1300);
	assert_int_equal(c.tx_queue, 500);
	assert_int_equal(c.handshake_retries, 10);
	assert_int_equal(c.handshake_try_interval_ns, NS(1) / 10);
	assert_int_equal(c.handshake_trigger_buffer, 64);
	assert_int_equal(c.connection_alive_interval, 5);
	assert_int_equal(c.pending_deletion_interval, 10);
	assert_int_equal(c.conntrack_tcp_ns, NS(12 * 60));
	assert_int_equal(c.conntrack_udp_ns, NS(3 * 60));
	assert_int_equal(c.conntrack_default_ns, NS(10 * 60));
	assert_int_equal(c.send_recv_error, CTL_RECV_ERROR_ALWAYS);
	assert_true(c.use_relays);
	assert_int_equal(c.log_level, CTL_LOG_INFO);
	assert_int_equal(c.log_format, CTL_LOG_TEXT);
	assert_int_equal(c.routines, 1);
	assert_int_equal(c.n_inbound + c.n_outbound, 0);
	assert_int_equal(c.backend, CTL_BACKEND_AUTO);
	assert_int_equal(c.mode, CTL_MODE_ADAPTIVE);
	assert_int_equal(c.workers, 1);
	assert_true(c.tun_offload); /* on unless turned off */
	assert_string_equal(c.socket, "/run/vela/vela.sock");
	ctl_config_free(&c);
}

static void test_config_interop_example(void **state)
{
	/* The spec's a.yml (§10.2), plus our section. */
	static const char text[] =
		"pki: {ca: /tmp/interop/ca.crt, cert: /tmp/interop/a.crt, key: /tmp/interop/a.key}\n"
		"static_host_map: {\"10.42.0.2\": [\"172.31.0.2:4242\"]}\n"
		"lighthouse: {am_lighthouse: true, interval: 10}\n"
		"listen: {host: 0.0.0.0, port: 4242}\n"
		"punchy: {punch: false}\n"
		"cipher: chachapoly\n"
		"tun: {dev: nebula-a, mtu: 1300}\n"
		"logging: {level: debug}\n"
		"firewall:\n"
		"  outbound: [{port: any, proto: any, host: any}]\n"
		"  inbound:\n"
		"    - {port: any, proto: icmp, host: any}\n"
		"    - {port: 5000-5010, proto: udp, group: cimpl}\n"
		"    - {code: 0, proto: icmp, groups: [a, b], ca_name: ca}\n"
		"    - port: fragment\n"
		"      proto: tcp\n"
		"      cidr: 10.1.2.3/16\n"
		"dataplane: {backend: udp, workers: 2, mode: event, socket: /tmp/v.sock,\n"
		"            tun_offload: false}\n";
	struct ctl_config c;

	(void)state;
	load_ok(&c, text);
	assert_int_equal(c.n_static_hosts, 1);
	assert_int_equal(c.static_hosts[0].vpn_ip, 0x0a2a0002);
	assert_int_equal(c.static_hosts[0].n_addrs, 1);
	assert_string_equal(c.static_hosts[0].addrs[0], "172.31.0.2:4242");
	assert_true(c.am_lighthouse);
	assert_int_equal(c.listen_port, 4242);
	assert_int_equal(c.cipher, VL_CIPHER_CHACHAPOLY);
	assert_string_equal(c.tun_dev, "nebula-a");
	assert_int_equal(c.log_level, CTL_LOG_DEBUG);

	assert_int_equal(c.n_outbound, 1);
	assert_int_equal(c.outbound[0].proto, CTL_FW_ANY);
	assert_int_equal(c.outbound[0].start_port, CTL_FW_PORT_ANY);
	assert_string_equal(c.outbound[0].host, "any");

	assert_int_equal(c.n_inbound, 4);
	assert_int_equal(c.inbound[0].proto, CTL_FW_ICMP);
	assert_int_equal(c.inbound[1].proto, CTL_FW_UDP);
	assert_int_equal(c.inbound[1].start_port, 5000);
	assert_int_equal(c.inbound[1].end_port, 5010);
	assert_int_equal(c.inbound[1].n_groups, 1);
	assert_string_equal(c.inbound[1].groups[0], "cimpl");
	assert_int_equal(c.inbound[1].line, 13);
	assert_int_equal(c.inbound[2].n_groups, 2);
	assert_string_equal(c.inbound[2].ca_name, "ca");
	assert_int_equal(c.inbound[3].start_port, CTL_FW_PORT_FRAGMENT);
	assert_true(c.inbound[3].has_cidr);
	assert_int_equal(c.inbound[3].cidr.ip, 0x0a010000);
	assert_int_equal(c.inbound[3].cidr.mask, 0xffff0000);

	assert_int_equal(c.backend, CTL_BACKEND_UDP);
	assert_int_equal(c.workers, 2);
	assert_int_equal(c.mode, CTL_MODE_EVENT);
	assert_string_equal(c.socket, "/tmp/v.sock");
	assert_false(c.tun_offload);
	ctl_config_free(&c);
}

static void test_config_client_and_routes(void **state)
{
	static const char text[] = PKI
		"static_host_map:\n"
		"  \"10.42.0.1\": 172.31.0.1:4242\n"
		"  \"10.42.0.3\": [\"lh.example:4242\", \"[2001:db8::1]:4242\"]\n"
		"lighthouse: {hosts: [10.42.0.1], advertise_addrs: [\"1.2.3.4:0\"]}\n"
		"routines: 2\n"
		"preferred_ranges: [192.168.0.0/16]\n"
		"local_range: 172.16.0.0/12\n"
		"relay: {am_relay: true, relays: [10.42.0.5]}\n"
		"listen: {send_recv_error: false}\n"
		"punchy: true\n"
		"punch_back: yes\n"
		"tun:\n"
		"  routes: [{mtu: 8800, route: 10.42.1.0/24}]\n"
		"  unsafe_routes:\n"
		"    - {route: 192.168.77.0/24, via: 10.42.0.2, metric: 100}\n";
	struct ctl_config c;

	(void)state;
	load_ok(&c, text);
	assert_int_equal(c.n_static_hosts, 2);
	assert_int_equal(c.static_hosts[1].n_addrs, 2);
	assert_int_equal(c.n_lighthouses, 1);
	assert_int_equal(c.lighthouses[0], 0x0a2a0001);
	assert_int_equal(c.routines, 2);
	assert_int_equal(c.workers, 2);
	assert_int_equal(c.n_preferred_ranges, 2);
	assert_int_equal(c.preferred_ranges[1].ip, 0xac100000);
	assert_true(c.am_relay);
	assert_false(c.use_relays); /* am_relay forces it off */
	assert_int_equal(c.send_recv_error, CTL_RECV_ERROR_NEVER);
	assert_true(c.punch);          /* deprecated top-level bool */
	assert_true(c.punch_respond);  /* deprecated punch_back */
	assert_int_equal(c.n_routes, 1);
	assert_int_equal(c.routes[0].mtu, 8800);
	assert_int_equal(c.n_unsafe_routes, 1);
	assert_int_equal(c.unsafe_routes[0].route.ip, 0xc0a84d00);
	assert_int_equal(c.unsafe_routes[0].via, 0x0a2a0002);
	assert_int_equal(c.unsafe_routes[0].metric, 100);
	assert_int_equal(c.unsafe_routes[0].mtu, 0);
	ctl_config_free(&c);
}

static void test_config_bad_input(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* a substring of the message */
	} cases[] = {
		{ "", "pki.ca: required" },
		{ "pki: {ca: a, cert: b}\n", "pki.key: required" },
		{ PKI "listen:\n  port: abc\n", "test.yml:3: listen.port: expected a whole number, got \"abc\"" },
		{ PKI "listen: {port: 70000}\n", "listen.port: 70000 is out of range" },
		{ PKI "listen: {host: example.org}\n", "listen.host: \"example.org\" is not an IP address" },
		{ PKI "listen: {host: \"[::1\"}\n", "listen.host: \"[::1\" is not an IP address" },
		{ PKI "listen: {port: \"4242\"}\n", "listen.port: expected a whole number" },
		{ PKI "listen: [1, 2]\n", "test.yml:2: listen: expected a map of settings, got a list" },
		{ PKI "lighthouse: {am_lighthouse: true}\n", "listen.port: a lighthouse needs a fixed port" },
		{ PKI "lighthouse: {am_lighthouse: maybe}\n", "lighthouse.am_lighthouse: expected true or false, got \"maybe\"" },
		{ PKI "lighthouse: {hosts: [10.42.0.1]}\n", "lighthouse.hosts: 10.42.0.1 is not in static_host_map" },
		{ PKI "lighthouse: {hosts: 10.42.0.1}\n", "lighthouse.hosts: expected a list" },
		{ PKI "lighthouse: {hosts: [fd00::1]}\n", "only IPv4 VPN addresses" },
		{ PKI "static_host_map: {\"10.42.0.x\": [\"1.2.3.4:4242\"]}\n", "test.yml:2: static_host_map: \"10.42.0.x\" is not an IPv4 address" },
		{ PKI "static_host_map: {\"10.42.0.1\": [\"1.2.3.4\"]}\n", "\"1.2.3.4\" is not host:port" },
		{ PKI "static_host_map: [a]\n", "static_host_map: expected a map" },
		{ PKI "cipher: aes128\n", "cipher: \"aes128\" is not one of: aes, chachapoly" },
		{ PKI "logging: {level: loud}\n", "logging.level: \"loud\" is not one of" },
		{ PKI "logging: {format: xml}\n", "logging.format" },
		{ PKI "punchy: {delay: 5}\n", "punchy.delay: expected a duration" },
		{ PKI "handshakes: {try_interval: 0s}\n", "handshakes.try_interval: must be more than 0" },
		{ PKI "handshakes: {retries: 0}\n", "handshakes.retries: 0 is out of range" },
		{ PKI "preferred_ranges: [10.0.0.0/33]\n", "preferred_ranges: \"10.0.0.0/33\" is not a CIDR" },
		{ PKI "tun: {mtu: 20}\n", "tun.mtu: 20 is out of range" },
		{ PKI "tun: {dev: averyveryverylongname}\n", "tun.dev" },
		{ PKI "tun: {routes: [{route: 10.0.0.0/24}]}\n", "tun.routes: entry 1: mtu is required" },
		{ PKI "tun: {routes: [{route: 10.0.0.0/24, mtu: 499}]}\n", "tun.routes: 499 is out of range" },
		{ PKI "tun: {unsafe_routes: [{route: 10.0.0.0/24}]}\n", "tun.unsafe_routes: entry 1: via is required" },
		{ PKI "tun: {unsafe_routes: [1]}\n", "entry 1: expected a map" },
		{ PKI "firewall: {inbound: {port: any}}\n", "firewall.inbound: expected a list" },
		{ PKI "firewall:\n  inbound:\n    - {proto: any, host: any}\n", "test.yml:4: firewall.inbound: port (or code) is required" },
		{ PKI "firewall: {inbound: [{port: 1, code: 1, proto: any, host: any}]}\n", "only one of port or code" },
		{ PKI "firewall: {inbound: [{port: any, host: any}]}\n", "proto is required" },
		{ PKI "firewall: {inbound: [{port: any, proto: sctp, host: any}]}\n", "proto \"sctp\" is not any, tcp, udp or icmp" },
		{ PKI "firewall: {inbound: [{port: any, proto: any}]}\n", "at least one of host, group" },
		{ PKI "firewall: {inbound: [{port: 10-5, proto: any, host: any}]}\n", "range ends before it starts" },
		{ PKI "firewall: {inbound: [{port: http, proto: any, host: any}]}\n", "port \"http\" is not a number" },
		{ PKI "firewall: {inbound: [{port: 1-x, proto: any, host: any}]}\n", "is not a port range" },
		{ PKI "firewall: {inbound: [{port: any, proto: any, group: [a, b]}]}\n", "group should contain a single value" },
		{ PKI "firewall: {inbound: [{port: any, proto: any, group: a, groups: [b]}]}\n", "only one of group or groups" },
		{ PKI "firewall: {inbound: [{port: any, proto: any, cidr: 10.0.0.0}]}\n", "is not a CIDR" },
		{ PKI "firewall: {conntrack: {tcp_timeout: soon}}\n", "firewall.conntrack.tcp_timeout: expected a duration" },
		{ PKI "dataplane: {backend: netmap}\n", "dataplane.backend: \"netmap\" is not one of: auto, xsk, udp, dpdk" },
		{ PKI "dataplane: {backend: xsk}\n", "dataplane.interface: required with backend xsk" },
		{ PKI "dataplane: {mode: fast}\n", "dataplane.mode" },
		{ PKI "dataplane: {workers: 65}\n", "dataplane.workers: 65 is out of range (0 to 64)" },
		{ PKI "stats: {type: influx}\n", "stats.type: \"influx\" was not understood" },
		{ PKI "stats: {type: prometheus, listen: \":9100\", path: /m}\n", "stats.interval: required with type prometheus" },
		{ PKI "stats: {type: prometheus, interval: 0s, listen: \":9100\", path: /m}\n", "stats.interval: required" },
		{ PKI "stats: {type: prometheus, interval: 10s, path: /m}\n", "stats.listen: required with type prometheus" },
		{ PKI "stats: {type: prometheus, interval: 10s, listen: 9100, path: /m}\n", "stats.listen: \"9100\" is not host:port" },
		{ PKI "stats: {type: prometheus, interval: 10s, listen: \":0\", path: /m}\n", "stats.listen: \":0\" is not" },
		{ PKI "stats: {type: prometheus, interval: 10s, listen: \":9100\"}\n", "stats.path: required with type prometheus" },
		{ PKI "stats: {type: prometheus, interval: 10s, listen: \":9100\", path: metrics}\n", "stats.path: \"metrics\" is not an HTTP path" },
		{ PKI "stats: {type: prometheus, interval: 10s, listen: \":9100\", path: /m, namespace: 9lives}\n", "stats.namespace: \"9lives\" cannot start a metric name" },
		{ PKI "stats: {type: prometheus, interval: 10s, listen: \":9100\", path: /m, subsystem: a-b}\n", "stats.subsystem: \"a-b\" cannot be part" },
		{ PKI "stats: {type: prometheus, interval: 10s, listen: \":9100\", path: /m, peer_metrics: lots}\n", "stats.peer_metrics: expected true or false" },
		{ PKI "listen: {port: 1}\nlisten: {port: 2}\n", "test.yml:3: key \"listen\" repeats the one on line 2" },
		{ PKI "pki: [\n", "test.yml:" },
		{ "- a\n- b\n", "the top level must be a map" },
		{ PKI "? [a]\n: b\n", "a key must be a plain value" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vl_status st = { "" };
		struct ctl_config c;
		int err = ctl_config_load_string(&c, "test.yml", cases[i].text,
						 &st);

		if (err >= 0 || !strstr(st.msg, cases[i].want))
			fail_msg("case %zu: got %d \"%s\", want an error with \"%s\"",
				 i, err, st.msg, cases[i].want);
		/* Nothing is kept from a rejected file. */
		assert_null(c.pki_ca);
		assert_null(c.inbound);
	}
}

/* "10.1.2.3" as ::ffff:10.1.2.3, or an IPv6 address. */
static struct in6_addr addr(const char *s)
{
	struct in6_addr a;
	char mapped[64];

	if (!strchr(s, ':')) {
		snprintf(mapped, sizeof(mapped), "::ffff:%s", s);
		s = mapped;
	}
	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static bool allowed(const struct ctl_allow_list *l, const char *s)
{
	struct in6_addr a = addr(s);

	return ctl_allow_addr(l, &a);
}

/* The allow lists: 1.6.1's allow_list_test cases, and where each applies. */
static void test_config_allow_lists(void **state)
{
	static const struct {
		const char *text, *want;
	} bad_cases[] = {
		{ "{\"192.168.0.0\": true}", "lighthouse.remote_allow_list: \"192.168.0.0\" is not a CIDR" },
		{ "{\"192.168.0.0/16\": abc}", "192.168.0.0/16: expected true or false" },
		{ "{\"192.168.0.0/16\": \"true\"}", "expected true or false" },
		{ "{\"192.168.0.0/16\": true, \"10.0.0.0/8\": false}", "contains both true and false rules, but no default set for 0.0.0.0/0" },
		{ "{\"0.0.0.0/0\": true, \"10.0.0.0/8\": false, \"fd00::/8\": true, \"fd00:fd00::/16\": false}", "no default set for ::/0" },
		{ "[a]", "expected a map of CIDR to true or false" },
	};
	struct ctl_config c;
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct vl_status st = { "" };

		snprintf(text, sizeof(text), PKI "lighthouse:\n  remote_allow_list: %s\n",
			 bad_cases[i].text);
		if (ctl_config_load_string(&c, "test.yml", text, &st) >= 0 ||
		    !strstr(st.msg, bad_cases[i].want))
			fail_msg("case %zu: \"%s\", want \"%s\"", i, st.msg,
				 bad_cases[i].want);
	}

	/* Absent: everything allowed. */
	load_ok(&c, PKI);
	assert_null(c.remote_allow);
	assert_true(allowed(c.remote_allow, "10.1.1.1"));
	ctl_config_free(&c);

	/* Mixed with defaults; the most specific wins. */
	load_ok(&c, PKI "lighthouse:\n  remote_allow_list:\n    \"0.0.0.0/0\": true\n"
		    "    \"10.0.0.0/8\": false\n    \"10.42.42.0/24\": true\n"
		    "    \"::/0\": false\n    \"fd00::/8\": true\n    \"fd00:fd00::/16\": false\n");
	assert_false(allowed(c.remote_allow, "10.1.1.1"));
	assert_true(allowed(c.remote_allow, "10.42.42.5"));
	assert_true(allowed(c.remote_allow, "8.8.8.8"));
	assert_false(allowed(c.remote_allow, "2001:db8::1"));
	/* fd00:fd00::/16 is fd00::/16 once masked, as Go's ParseCIDR has it. */
	assert_true(allowed(c.remote_allow, "fd01::1"));
	assert_false(allowed(c.remote_allow, "fd00::1"));
	ctl_config_free(&c);

	/* All false: the rest allowed; all true: the rest denied; per family. */
	load_ok(&c, PKI "lighthouse:\n  remote_allow_list: {\"10.0.0.0/8\": false}\n"
		    "  local_allow_list: {\"192.168.0.0/16\": true, \"fd00::/8\": false}\n");
	assert_false(allowed(c.remote_allow, "10.9.9.9"));
	assert_true(allowed(c.remote_allow, "172.16.0.1"));
	assert_true(allowed(c.remote_allow, "2001:db8::1"));
	assert_true(allowed(c.local_allow, "192.168.7.1"));
	assert_false(allowed(c.local_allow, "172.16.0.1"));
	assert_false(allowed(c.local_allow, "fd00::1"));
	assert_true(allowed(c.local_allow, "2001:db8::1"));
	assert_true(ctl_allow_name(c.local_allow, "eth0"));
	ctl_config_free(&c);

	/* Interface names: full match, all alike, the opposite by default. */
	load_ok(&c, PKI "lighthouse:\n  local_allow_list:\n    interfaces: {\"docker.*\": false, \"veth[0-9]+\": false}\n");
	assert_false(ctl_allow_name(c.local_allow, "docker0"));
	assert_false(ctl_allow_name(c.local_allow, "veth12"));
	assert_true(ctl_allow_name(c.local_allow, "eth0"));
	assert_true(ctl_allow_name(c.local_allow, "myveth1"));
	assert_true(allowed(c.local_allow, "10.1.1.1"));
	ctl_config_free(&c);
	{
		struct vl_status st = { "" };

		assert_true(ctl_config_load_string(&c, "test.yml", PKI
			"lighthouse:\n  local_allow_list:\n    interfaces: {eth0: true, docker0: false}\n", &st) < 0);
		assert_non_null(strstr(st.msg, "values must all be the same true/false value"));
		/* Not a key of remote_allow_list. */
		assert_true(ctl_config_load_string(&c, "test.yml", PKI
			"lighthouse:\n  remote_allow_list:\n    interfaces: {eth0: true}\n", &st) < 0);
		assert_non_null(strstr(st.msg, "\"interfaces\" is not a CIDR"));
	}

	/* remote_allow_ranges: the most specific VPN range decides. */
	load_ok(&c, PKI "lighthouse:\n  remote_allow_list: {\"172.16.0.0/12\": false}\n"
		    "  remote_allow_ranges:\n    \"10.42.0.0/16\": {\"192.168.0.0/16\": false}\n"
		    "    \"10.42.1.0/24\": {\"192.168.0.0/16\": true}\n");
	{
		struct in6_addr lan = addr("192.168.1.1"), other = addr("172.16.0.1");
		const struct ctl_allow_range *r = c.remote_ranges;
		size_t n = c.n_remote_ranges;

		assert_int_equal(n, 2);
		assert_false(ctl_allow_remote(c.remote_allow, r, n, 0x0a2a0005, &lan));
		assert_true(ctl_allow_remote(c.remote_allow, r, n, 0x0a2a0005, &other));
		assert_true(ctl_allow_remote(c.remote_allow, r, n, 0x0a2a0105, &lan));
		assert_false(ctl_allow_remote(c.remote_allow, r, n, 0x0a2b0001, &other));
		assert_true(ctl_allow_remote(c.remote_allow, r, n, 0x0a2b0001, &lan));
	}
	ctl_config_free(&c);
}

/* stats: what the Prometheus endpoint is given (docs/metrics.md). */
/* More routes than the dataplane's SETUP holds: refused, not cut. */
static void test_config_too_many_routes(void **state)
{
	struct vl_status st = { "" };
	struct ctl_config c;
	char *text = malloc(64 * 1024);
	size_t len;

	(void)state;
	assert_non_null(text);
	len = (size_t)snprintf(text, 64 * 1024, PKI "tun:\n  unsafe_routes:\n");
	for (int i = 0; i < 257; i++)
		len += (size_t)snprintf(text + len, 64 * 1024 - len,
					"    - {route: 10.%d.%d.0/24, via: 10.42.0.1}\n",
					1 + i / 256, i % 256);
	assert_true(ctl_config_load_string(&c, "test.yml", text, &st) < 0);
	assert_non_null(strstr(st.msg, "tun.unsafe_routes: 257 routes and unsafe_routes together, more than the 256"));
	free(text);
}

static void test_config_stats(void **state)
{
	struct ctl_config c;
	struct vl_status st = { "" };
	char *warn = NULL;
	FILE *f;
	char path[] = "/tmp/vela-test-stats-XXXXXX";
	int fd;

	(void)state;
	load_ok(&c, PKI);
	assert_false(c.stats_on);
	ctl_config_free(&c);
	load_ok(&c, PKI "stats: {type: none}\n");
	assert_false(c.stats_on);
	ctl_config_free(&c);

	load_ok(&c, PKI "stats: {type: prometheus, interval: 10s, listen: \"127.0.0.1:9100\", path: /metrics}\n");
	assert_true(c.stats_on);
	assert_string_equal(c.stats_listen, "127.0.0.1:9100");
	assert_string_equal(c.stats_path, "/metrics");
	/* No namespace: Prometheus' conventions want an application prefix. */
	assert_string_equal(c.stats_prefix, "vela_");
	assert_int_equal(c.stats_interval_ns, NS(10));
	assert_false(c.message_metrics || c.lighthouse_metrics || c.peer_metrics);
	ctl_config_free(&c);

	load_ok(&c, PKI "stats:\n  type: prometheus\n  interval: 1m\n  listen: \"[::1]:9100\"\n"
		    "  path: /m\n  namespace: nebula\n  subsystem: gw\n"
		    "  message_metrics: true\n  lighthouse_metrics: true\n  peer_metrics: true\n");
	assert_string_equal(c.stats_prefix, "nebula_gw_");
	assert_true(c.message_metrics && c.lighthouse_metrics && c.peer_metrics);
	ctl_config_free(&c);
	load_ok(&c, PKI "stats: {type: prometheus, interval: 10s, listen: \":9100\", path: /m, subsystem: gw}\n");
	assert_string_equal(c.stats_listen, ":9100");
	assert_string_equal(c.stats_prefix, "vela_gw_");
	ctl_config_free(&c);

	/* graphite: a nebula config that uses it still runs, with a warning. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(PKI "stats: {type: graphite, interval: 10s, host: \"127.0.0.1:2003\"}\n", f);
	fclose(f);
	assert_int_equal(ctl_config_load(&c, path, &warn, &st), 0);
	unlink(path);
	assert_false(c.stats_on);
	assert_non_null(warn);
	assert_non_null(strstr(warn, "stats.type: graphite export is not part of Vela; ignored"));
	free(warn);
	ctl_config_free(&c);
}

static void test_config_yaml_bomb(void **state)
{
	/* Nine levels of nine aliases: 387M values if expanded. */
	static const char text[] = PKI
		"a: &a [x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	struct vl_status st = { "" };
	struct ctl_config c;

	(void)state;
	assert_int_equal(ctl_config_load_string(&c, "bomb.yml", text, &st),
			 -E2BIG);
	assert_non_null(strstr(st.msg, "too many values"));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_config_directory_merge(void **state)
{
	char dir[] = "/tmp/vela-config-test.XXXXXX", path[256];
	struct vl_status st = { "" };
	struct ctl_config c;
	char *warnings = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/00-base.yml", dir);
	write_file(path, PKI
		   "listen: {port: 4242}\n"
		   "lighthouse: {am_lighthouse: true}\n"
		   "firewall:\n"
		   "  inbound: [{port: 22, proto: tcp, host: admin}]\n");
	snprintf(path, sizeof(path), "%s/10-more.yaml", dir);
	write_file(path,
		   "listen: {host: \"[::]\"}\n"
		   "lighthouse: {am_lighthouse: false}\n"
		   "tun: {mtu: 1400}\n"
		   "firewall:\n"
		   "  inbound: [{port: 443, proto: tcp, group: web}]\n"
		   "sshd: {enabled: true}\n");
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	write_file(path, "not: [yaml\n");

	assert_int_equal(ctl_config_load(&c, dir, &warnings, &st), 0);
	assert_int_equal(c.listen_port, 4242);
	assert_string_equal(c.listen_host, "[::]");
	assert_int_equal(c.mtu, 1400);
	/* mergo: a later empty value (false) does not override. */
	assert_true(c.am_lighthouse);
	/* Lists concatenate, the later file's first. */
	assert_int_equal(c.n_inbound, 2);
	assert_int_equal(c.inbound[0].start_port, 443);
	assert_int_equal(c.inbound[1].start_port, 22);
	assert_non_null(strstr(c.inbound[0].groups[0], "web"));
	assert_non_null(warnings);
	assert_non_null(strstr(warnings, "10-more.yaml:6: sshd.enabled"));
	free(warnings);
	ctl_config_free(&c);

	/* An error names the file it is in. */
	snprintf(path, sizeof(path), "%s/20-bad.yml", dir);
	write_file(path, "tun:\n  mtu: big\n");
	assert_int_equal(ctl_config_load(&c, dir, NULL, &st), -EINVAL);
	assert_non_null(strstr(st.msg, "20-bad.yml:2: tun.mtu"));

	unlink(path);
	snprintf(path, sizeof(path), "%s/00-base.yml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/10-more.yaml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	unlink(path);
	assert_int_equal(ctl_config_load(&c, dir, NULL, &st), -ENOENT);
	assert_non_null(strstr(st.msg, "no config files found"));
	rmdir(dir);

	assert_int_equal(ctl_config_load(&c, "/nonexistent/config.yml", NULL,
					 &st),
			 -ENOENT);
	assert_non_null(strstr(st.msg, "/nonexistent/config.yml"));
}

static void test_config_yaml_paths(void **state)
{
	static const char text[] = "a:\n  b:\n    c: 1\n  d: ~\ne: \"\"\n";
	const struct ctl_yaml_node *n;
	struct vl_status st = { "" };
	struct ctl_yaml_tree t;

	(void)state;
	assert_int_equal(ctl_yaml_load_string(&t, "t.yml", text, strlen(text),
					      &st),
			 0);
	n = ctl_yaml_get(t.root, "a.b.c");
	assert_non_null(n);
	assert_int_equal(n->kind, CTL_YAML_SCALAR);
	assert_string_equal(n->text, "1");
	assert_int_equal(n->line, 3);
	assert_int_equal(ctl_yaml_get(t.root, "a.d")->kind, CTL_YAML_NULL);
	n = ctl_yaml_get(t.root, "e");
	assert_int_equal(n->kind, CTL_YAML_SCALAR);
	assert_true(n->quoted);
	assert_null(ctl_yaml_get(t.root, "a.b.x"));
	assert_null(ctl_yaml_get(t.root, "a.b.c.d"));
	ctl_yaml_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_interop_example),
		cmocka_unit_test(test_config_client_and_routes),
		cmocka_unit_test(test_config_bad_input),
		cmocka_unit_test(test_config_stats),
		cmocka_unit_test(test_config_allow_lists),
		cmocka_unit_test(test_config_too_many_routes),
		cmocka_unit_test(test_config_yaml_bomb),
		cmocka_unit_test(test_config_directory_merge),
		cmocka_unit_test(test_config_yaml_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
