/* SPDX-License-Identifier: MIT */
/*
 * SIGHUP in vela-control (ctl_node_reload) for the PKI, as nebula 1.6.1's
 * Interface.reloadCA and reloadCertKey do it: node A is loaded from files
 * in a temporary directory that each test rewrites before reloading; node
 * B (10.1.0.2, host-b) is its peer, and each node's dataplane is a
 * socketpair the test plays, as in test_node.c. The log is captured (it is
 * stderr) so the lines an operator sees are checked too.
 *
 *   - our certificate: replaced with the same IPs (new groups), the tunnel
 *     up stays and the next handshake presents the new one; refused with a
 *     different IP or subnets, expired, a key that is not its pair, a file
 *     that is missing -- and then the old one stays, byte for byte;
 *   - the CA pool: a file that does not parse keeps the old pool (and the
 *     certificate step still runs); a new pool changes the tunnels'
 *     firewall identities (TUNNEL_IDENTITY, only where they changed, and
 *     at the DUMP after a reconnect when the dataplane was out of reach);
 *   - tunnels whose peer no longer verifies (CA removed, blocklisted) are
 *     left alone by the reload and closed at the next liveness check only
 *     with pki.disconnect_invalid.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "aead.h"
#include "appendix_a.h"
#include "cert.h"
#include "keys.h"
#include "log.h"
#include "node.h"
#include "status.h"
#include "wire.h"

#define VPN_A 0x0a010001
#define VPN_B 0x0a010002
#define SEC UINT64_C(1000000000)

struct env {
	char dir[64];
	char cfg[128], ca[128], crt[128], key[128];
	struct ctl_node a, b;
	int dp_a, dp_b; /* the test's ends of the nodes' sockets */
	char log[32768]; /* what the last reload logged */
	_Alignas(16) uint8_t buf[CTLMSG_MAX];
};

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A's config: the PKI files, B as a static host, and @extra lines. */
static void put_config(struct env *e, const char *pki_extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "pki:\n"
		 "  ca: %s\n"
		 "  cert: %s\n"
		 "  key: %s\n"
		 "%s"
		 "static_host_map:\n"
		 "  \"10.1.0.2\": [\"172.31.0.2:4242\"]\n"
		 "handshakes: {retries: 3}\n"
		 "logging: {level: info}\n",
		 e->ca, e->crt, e->key, pki_extra);
	put_file(e->cfg, text);
}

static struct sockaddr_in6 addr4(uint8_t last)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(4242) };

	a.sin6_addr.s6_addr[10] = 0xff;
	a.sin6_addr.s6_addr[11] = 0xff;
	a.sin6_addr.s6_addr[12] = 172;
	a.sin6_addr.s6_addr[13] = 31;
	a.sin6_addr.s6_addr[15] = last;
	return a;
}

static void attach(struct ctl_node *n, int *test_end)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	n->dp_fd = sv[0];
	*test_end = sv[1];
	n->set_up = true;
}

/* B as test_node.c makes its peers: inline PKI, A as its static host. */
static void init_b(struct env *e)
{
	struct vl_status st = { "" };
	struct timespec now;
	struct ctl_node *n = &e->b;

	clock_gettime(CLOCK_REALTIME, &now);
	assert_int_equal(
		ctl_config_load_string(&n->cfg, "b.yml",
				       "pki: {ca: x, cert: y, key: z}\n", &st),
		0);
	free(n->cfg.pki_ca);
	free(n->cfg.pki_cert);
	free(n->cfg.pki_key);
	n->cfg.pki_ca = strdup(vec_ca_pem);
	n->cfg.pki_cert = strdup(vec_host_b_pem);
	n->cfg.pki_key = strdup(vec_host_b_key_pem);
	if (ctl_pki_load(&n->pki, &n->cfg, &now, NULL, &st))
		fail_msg("pki: %s", st.msg);
	n->statics = calloc(1, sizeof(*n->statics));
	assert_non_null(n->statics);
	n->n_statics = 1;
	n->statics[0].vpn_ip = VPN_A;
	n->statics[0].addrs[0] = addr4(1);
	n->statics[0].n_addrs = 1;
	attach(n, &e->dp_b);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vl_status st = { "" };

	if (!e || sodium_init() < 0 || vl_aead_init())
		return -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_reload.XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->cfg, sizeof(e->cfg), "%s/config.yml", e->dir);
	snprintf(e->ca, sizeof(e->ca), "%s/ca.crt", e->dir);
	snprintf(e->crt, sizeof(e->crt), "%s/host.crt", e->dir);
	snprintf(e->key, sizeof(e->key), "%s/host.key", e->dir);
	put_file(e->ca, vec_ca_pem);
	put_file(e->crt, vec_host_a_pem);
	put_file(e->key, vec_host_a_key_pem);
	put_config(e, "");
	if (ctl_node_init(&e->a, e->cfg, &st)) {
		print_error("ctl_node_init: %s\n", st.msg);
		return -1;
	}
	attach(&e->a, &e->dp_a);
	init_b(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	const char *const files[] = { e->cfg, e->ca, e->crt, e->key };
	char log[160];

	close(e->dp_a);
	close(e->dp_b);
	ctl_node_free(&e->a);
	ctl_node_free(&e->b);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	snprintf(log, sizeof(log), "%s/log", e->dir);
	unlink(log);
	rmdir(e->dir);
	free(e);
	return 0;
}

/* SIGHUP on A, its log in e->log. */
static void reload(struct env *e)
{
	char path[160];
	int fd, saved;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/log", e->dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	ctl_node_reload(&e->a);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, e->log, sizeof(e->log) - 1);
	assert_true(n >= 0);
	e->log[n] = '\0';
	close(fd);
}

static void log_has(const struct env *e, const char *words)
{
	if (!strstr(e->log, words))
		fail_msg("the log lacks \"%s\":\n%s", words, e->log);
}

static void log_lacks(const struct env *e, const char *words)
{
	if (strstr(e->log, words))
		fail_msg("the log has \"%s\":\n%s", words, e->log);
}

/* The next record a node sent to its dataplane, or 0 when none waits. */
static size_t next(struct env *e, int fd, uint16_t *type)
{
	ssize_t r = recv(fd, e->buf, sizeof(e->buf), MSG_DONTWAIT);
	const struct ctlmsg_hdr *h = (const void *)e->buf;

	if (r <= 0)
		return 0;
	assert_true((size_t)r >= sizeof(*h));
	assert_int_equal(h->len, r);
	*type = h->type;
	return (size_t)r;
}

static void nothing_sent(struct env *e)
{
	uint16_t type = 0;

	if (next(e, e->dp_a, &type))
		fail_msg("A sent a record of type %u", type);
}

/* Runs a handshake A -> B; returns A's tunnel. */
static struct ctl_tunnel *establish(struct env *e)
{
	struct ctlmsg_punt *p = calloc(1, sizeof(*p));
	struct ctlmsg_inject_raw *m = (void *)e->buf;
	uint16_t type = 0;

	assert_non_null(p);
	ctl_hs_start(&e->a, VPN_B);
	assert_true(next(e, e->dp_a, &type) > 0);
	assert_int_equal(type, CTLMSG_INJECT_RAW);
	p->reason = CTLMSG_PUNT_HANDSHAKE;
	p->from = addr4(1);
	p->len = m->len;
	memcpy(p->data, m->data, m->len);
	ctl_hs_on_packet(&e->b, p);
	assert_true(next(e, e->dp_b, &type) > 0);
	assert_int_equal(type, CTLMSG_TUNNEL_ADD);
	assert_true(next(e, e->dp_b, &type) > 0);
	assert_int_equal(type, CTLMSG_INJECT_RAW);
	memset(p, 0, sizeof(*p));
	p->reason = CTLMSG_PUNT_HANDSHAKE;
	p->from = addr4(2);
	p->len = m->len;
	memcpy(p->data, m->data, m->len);
	ctl_hs_on_packet(&e->a, p);
	free(p);
	assert_true(next(e, e->dp_a, &type) > 0);
	assert_int_equal(type, CTLMSG_TUNNEL_ADD);
	nothing_sent(e);
	return ctl_tunnel_by_vpn(&e->a, VPN_B);
}

/* Both ends forget their tunnel (as after a restart of B). */
static void forget(struct env *e)
{
	uint16_t type;

	struct ctl_tunnel *t;

	if ((t = ctl_tunnel_by_vpn(&e->a, VPN_B)))
		ctl_tunnel_remove(&e->a, t, false);
	if ((t = ctl_tunnel_by_vpn(&e->b, VPN_A)))
		ctl_tunnel_remove(&e->b, t, false);
	while (next(e, e->dp_a, &type))
		;
	while (next(e, e->dp_b, &type))
		;
}

enum variant { SAME_IP, OTHER_IP, OTHER_MASK, OTHER_SUBNETS, EXPIRED };

/*
 * host-a's certificate with @groups, changed as @v says, signed by the
 * vector CA; a PEM string to free.
 */
static char *host_a_cert(const char *const *groups, size_t n_groups,
			 enum variant v)
{
	static const struct ctl_ipnet extra = { 0xc0a86300, 0xffffff00 };
	struct ctl_ipnet ips[8];
	struct vl_status st = { "" };
	struct ctl_cert *orig, c;
	size_t used, len;
	char *pem;

	assert_int_equal(ctl_cert_decode_pem((const uint8_t *)vec_host_a_pem,
					     strlen(vec_host_a_pem), &orig,
					     &used, &st),
			 0);
	assert_true(orig->n_ips >= 1 && orig->n_ips <= 8);
	c = *orig;
	memcpy(ips, orig->ips, orig->n_ips * sizeof(ips[0]));
	c.ips = ips;
	c.groups = groups;
	c.n_groups = n_groups;
	switch (v) {
	case SAME_IP:
		break;
	case OTHER_IP:
		ips[0].ip = VPN_A + 7;
		break;
	case OTHER_MASK:
		ips[0].mask = 0xffffff00;
		break;
	case OTHER_SUBNETS:
		c.subnets = orig->n_subnets ? NULL : &extra;
		c.n_subnets = orig->n_subnets ? 0 : 1;
		break;
	case EXPIRED:
		c.not_before = 1700000000;
		c.not_after = 1700000100;
		break;
	}
	assert_int_equal(ctl_cert_sign(&c, vec_ca_sk), 0);
	assert_int_equal(ctl_cert_encode_pem(&c, &pem, &len), 0);
	ctl_cert_free(orig);
	return pem;
}

/* A self-signed CA named @name, valid like the vector CA; PEM to free. */
static char *other_ca(const char *name)
{
	struct ctl_cert ca = { .name = name,
			       .is_ca = true,
			       .not_before = VEC_NOT_BEFORE,
			       .not_after = VEC_NOT_AFTER };
	uint8_t sk[64];
	char *pem;
	size_t len;

	ctl_key_ed25519_generate(sk, ca.pubkey);
	ca.pubkey_len = 32;
	assert_int_equal(ctl_cert_sign(&ca, sk), 0);
	assert_int_equal(ctl_cert_encode_pem(&ca, &pem, &len), 0);
	sodium_memzero(sk, sizeof(sk));
	return pem;
}

static void test_reload_cert_same_ip_new_groups(void **state)
{
	/* The vector CA allows g1, g2 and ops; host-a has g1 and g2. */
	static const char *const groups[] = { "ops", "g1" };
	struct env *e = *state;
	struct ctl_tunnel *t = establish(e), *tb;
	uint32_t index = t->add.local_index;
	char *pem = host_a_cert(groups, 2, SAME_IP);

	put_file(e->crt, pem);
	free(pem);
	reload(e);
	log_has(e, "Caught HUP, reloading config");
	log_has(e, "Trusted CA certificates refreshed");
	log_has(e, "Client cert refreshed from disk");
	log_has(e, "groups=\"ops,g1\"");
	log_lacks(e, "level=error");
	assert_int_equal(e->a.pki.cert->n_groups, 2);
	assert_string_equal(e->a.pki.cert->groups[0], "ops");
	assert_int_equal(e->a.pki.vpn_ip, VPN_A);
	/* What the metrics report (config_reloads_total). */
	assert_int_equal(e->a.counters.reloads_ok, 1);
	assert_int_equal(e->a.counters.reloads_failed, 0);
	assert_true(e->a.counters.last_reload_ok_s > 0);

	/* The tunnel up is left as it is: nothing went to the dataplane. */
	nothing_sent(e);
	assert_int_equal(e->a.n_tunnels, 1);
	assert_int_equal(ctl_tunnel_by_vpn(&e->a, VPN_B)->add.local_index,
			 index);

	/* The next handshake presents the new certificate. */
	forget(e);
	assert_non_null(establish(e));
	tb = ctl_tunnel_by_vpn(&e->b, VPN_A);
	assert_non_null(tb);
	assert_int_equal(tb->cert->n_groups, 2);
	assert_string_equal(tb->cert->groups[0], "ops");
	assert_string_equal(tb->cert->groups[1], "g1");
}

struct refusal {
	enum variant v;
	const char *key; /* NULL: host-a's */
	bool missing; /* pki.cert names no file */
	const char *words; /* in the error */
};

static void test_reload_cert_refused(void **state)
{
	static const char *const groups[] = { "ops" };
	static const struct refusal cases[] = {
		{ OTHER_IP, NULL, false,
		  "IP in new cert was different from old: new_ip 10.1.0.8/" },
		{ OTHER_IP, NULL, false, "IP changes are not supported" },
		{ OTHER_MASK, NULL, false, "new_ip 10.1.0.1/24" },
		{ OTHER_SUBNETS, NULL, false,
		  "IPs or subnets in the new cert differ" },
		{ EXPIRED, NULL, false, "expired" },
		{ SAME_IP, vec_host_b_key_pem, false, "pki.key: " },
		{ SAME_IP, NULL, true, "pki.cert: " },
	};
	struct env *e = *state;
	uint8_t *hs = malloc(e->a.pki.hs_cert_len);
	size_t hs_len = e->a.pki.hs_cert_len;
	uint8_t key[32];

	assert_non_null(hs);
	memcpy(hs, e->a.pki.hs_cert, hs_len);
	memcpy(key, e->a.pki.key, 32);
	(void)establish(e);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct refusal *r = &cases[i];
		char *pem = host_a_cert(groups, 1, r->v);

		put_file(e->crt, pem);
		free(pem);
		put_file(e->key, r->key ? r->key : vec_host_a_key_pem);
		if (r->missing)
			unlink(e->crt);
		reload(e);
		log_has(e, "Could not refresh client cert, the old one stays");
		log_has(e, r->words);
		log_lacks(e, "Client cert refreshed");
		/* The CA step ran on its own. */
		log_has(e, "Trusted CA certificates refreshed");
		/* Byte for byte the old certificate and key. */
		assert_int_equal(e->a.pki.hs_cert_len, hs_len);
		assert_memory_equal(e->a.pki.hs_cert, hs, hs_len);
		assert_memory_equal(e->a.pki.key, key, 32);
		assert_int_equal(e->a.pki.cert->n_groups, 2);
		assert_string_equal(e->a.pki.cert->groups[0], "g1");
		nothing_sent(e);
		assert_int_equal(e->a.n_tunnels, 1);
		/* One step failed: the reload counts as failed. */
		assert_int_equal(e->a.counters.reloads_failed, i + 1);
		assert_int_equal(e->a.counters.reloads_ok, 0);
	}
	free(hs);
	/* Back to a good pair: taken. */
	put_file(e->crt, vec_host_a_pem);
	put_file(e->key, vec_host_a_key_pem);
	reload(e);
	log_has(e, "Client cert refreshed from disk");
	assert_int_equal(e->a.counters.reloads_ok, 1);
}

static void test_reload_ca_unparsable_keeps_pool(void **state)
{
	static const char *const groups[] = { "ops" };
	struct env *e = *state;
	struct ctl_tunnel *t = establish(e);
	const struct ctl_cert *ca = e->a.pki.pool.cas[0];
	struct ctlmsg_fw_peer id = t->add.fw_peer;
	char *pem = host_a_cert(groups, 1, SAME_IP);

	put_file(e->ca, "-----BEGIN NEBULA CERTIFICATE-----\nnot base64 !\n"
			"-----END NEBULA CERTIFICATE-----\n");
	put_file(e->crt, pem);
	free(pem);
	reload(e);
	log_has(e,
		"Could not refresh trusted CA certificates, the old ones stay");
	log_has(e, e->ca); /* names the file */
	log_lacks(e, "Trusted CA certificates refreshed");
	assert_int_equal(e->a.pki.pool.n_cas, 1);
	assert_ptr_equal(e->a.pki.pool.cas[0], ca);
	assert_memory_equal(&t->add.fw_peer, &id, sizeof(id));
	/* Independent of the CA step, as in 1.6.1: the certificate is taken. */
	log_has(e, "Client cert refreshed from disk");
	assert_string_equal(e->a.pki.cert->groups[0], "ops");
	nothing_sent(e);

	/* A file with no certificate at all, and one that is gone. */
	put_file(e->ca, "\n");
	reload(e);
	log_has(e, "Could not refresh trusted CA certificates");
	unlink(e->ca);
	reload(e);
	log_has(e, "Could not refresh trusted CA certificates");
	log_has(e, "cannot read");
	assert_ptr_equal(e->a.pki.pool.cas[0], ca);
	nothing_sent(e);
}

/* The TUNNEL_IDENTITY A sent, checked to be @t's. */
static struct ctlmsg_tunnel_identity *take_identity(struct env *e,
						    const struct ctl_tunnel *t)
{
	struct ctlmsg_tunnel_identity *m = (void *)e->buf;
	uint16_t type = 0;

	assert_int_equal(next(e, e->dp_a, &type), sizeof(*m));
	assert_int_equal(type, CTLMSG_TUNNEL_IDENTITY);
	assert_int_equal(m->local_index, t->add.local_index);
	assert_memory_equal(&m->fw_peer, &t->add.fw_peer, sizeof(m->fw_peer));
	return m;
}

static void test_reload_ca_identities(void **state)
{
	struct env *e = *state;
	struct ctl_tunnel *t = establish(e);
	struct ctlmsg_tunnel_identity *m;
	struct ctlmsg_fw_peer with_ca = t->add.fw_peer;
	char *other = other_ca("other-ca");
	char both[8192];

	/* host-b's issuer is the vector CA: its name is in the identity. */
	assert_int_equal(with_ca.flags, CTLMSG_FW_PEER_HAS_CA);
	assert_non_null(memmem(with_ca.strings, with_ca.strings_len,
			       e->a.pki.pool.cas[0]->name,
			       strlen(e->a.pki.pool.cas[0]->name) + 1));

	/* Another CA added: nobody's CA name changes, nothing is sent. */
	snprintf(both, sizeof(both), "%s%s", vec_ca_pem, other);
	put_file(e->ca, both);
	reload(e);
	log_has(e, "Trusted CA certificates refreshed");
	assert_int_equal(e->a.pki.pool.n_cas, 2);
	nothing_sent(e);

	/* host-b's CA removed: no CA of ours issued it any more. */
	put_file(e->ca, other);
	reload(e);
	assert_int_equal(e->a.pki.pool.n_cas, 1);
	log_has(e, "Tunnel firewall identities updated for the new CA pool");
	log_has(e, "tunnels=1");
	m = take_identity(e, t);
	assert_int_equal(m->fw_peer.flags, 0);
	nothing_sent(e);
	/* Left up, as 1.6.1 leaves it (no pki.disconnect_invalid). */
	assert_int_equal(e->a.n_tunnels, 1);
	e->a.now_ns = 100 * SEC;
	ctl_cm_on_activity(&e->a, t,
			   &(struct ctlmsg_activity){ .tx_packets = 10 });
	e->a.now_ns = 105 * SEC;
	ctl_cm_on_activity(&e->a, t,
			   &(struct ctlmsg_activity){ .rx_packets = 5,
						      .tx_packets = 20 });
	nothing_sent(e);
	assert_int_equal(e->a.n_tunnels, 1);

	/*
	 * Back, while the dataplane is out of reach: only t->add changes;
	 * the DUMP after the reconnect shows the old identity, and A sends
	 * the new one then.
	 */
	e->a.set_up = false;
	put_file(e->ca, vec_ca_pem);
	reload(e);
	nothing_sent(e);
	assert_memory_equal(&t->add.fw_peer, &with_ca, sizeof(with_ca));
	e->a.set_up = true;
	{
		struct ctlmsg_dump_tunnel *d = calloc(1, sizeof(*d));

		assert_non_null(d);
		d->hdr = (struct ctlmsg_hdr){ .version = CTLMSG_VERSION,
					      .type = CTLMSG_DUMP_TUNNEL,
					      .len = sizeof(*d),
					      .seq = 1 };
		d->tunnel = t->add;
		d->tunnel.fw_peer = m->fw_peer; /* without the CA */
		ctl_node_on_record(&e->a, d, sizeof(*d));
		take_identity(e, t);
		/* A dataplane that has the right one gets nothing. */
		d->tunnel.fw_peer = t->add.fw_peer;
		ctl_node_on_record(&e->a, d, sizeof(*d));
		nothing_sent(e);
		sodium_memzero(d, sizeof(*d));
		free(d);
	}
	free(other);
}

static void test_reload_disconnect_invalid(void **state)
{
	struct env *e = *state;
	struct ctl_tunnel *t;
	struct ctlmsg_tunnel_del *del = (void *)e->buf;
	char hex[CTL_CERT_FP_HEX], extra[256];
	uint16_t type = 0;

	/* pki.disconnect_invalid is read at start, as in 1.6.1. */
	put_config(e, "  disconnect_invalid: true\n");
	ctl_node_free(&e->a);
	close(e->dp_a);
	{
		struct vl_status st = { "" };

		assert_int_equal(ctl_node_init(&e->a, e->cfg, &st), 0);
	}
	attach(&e->a, &e->dp_a);
	t = establish(e);

	/* host-b's certificate blocklisted: the reload leaves the tunnel. */
	ctl_cert_fp_hex(vec_host_b_fp, hex);
	snprintf(extra, sizeof(extra),
		 "  disconnect_invalid: true\n  blocklist: [\"%s\"]\n", hex);
	put_config(e, extra);
	reload(e);
	log_has(e, "Trusted CA certificates refreshed");
	log_has(e, "blocklisted=1");
	nothing_sent(e);
	assert_int_equal(e->a.n_tunnels, 1);

	/* Its next liveness check closes it, telling the peer. */
	e->a.now_ns = 100 * SEC;
	ctl_cm_on_activity(&e->a, t,
			   &(struct ctlmsg_activity){ .tx_packets = 10 });
	nothing_sent(e);
	e->a.now_ns = 105 * SEC;
	ctl_cm_on_activity(&e->a, t,
			   &(struct ctlmsg_activity){ .rx_packets = 5,
						      .tx_packets = 20 });
	assert_int_equal(next(e, e->dp_a, &type), sizeof(*del));
	assert_int_equal(type, CTLMSG_TUNNEL_DEL);
	assert_int_equal(del->send_close, 1);
	assert_null(ctl_tunnel_by_vpn(&e->a, VPN_B));

	/* And a new handshake from it is refused. */
	forget(e);
	ctl_hs_start(&e->b, VPN_A);
	{
		struct ctlmsg_inject_raw *m = (void *)e->buf;
		struct ctlmsg_punt *p = calloc(1, sizeof(*p));

		assert_non_null(p);
		assert_true(next(e, e->dp_b, &type) > 0);
		assert_int_equal(type, CTLMSG_INJECT_RAW);
		p->reason = CTLMSG_PUNT_HANDSHAKE;
		p->from = addr4(2);
		p->len = m->len;
		memcpy(p->data, m->data, m->len);
		ctl_hs_on_packet(&e->a, p);
		free(p);
	}
	nothing_sent(e);
	assert_int_equal(e->a.n_tunnels, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_reload_cert_same_ip_new_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_cert_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_reload_ca_unparsable_keeps_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_ca_identities,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_disconnect_invalid,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
