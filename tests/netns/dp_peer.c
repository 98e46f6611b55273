/* SPDX-License-Identifier: MIT */
/*
 * dp_peer: the other ends of vela-dataplane for tests/netns/dataplane.sh.
 *
 * As vela-control (over the control socket):
 *   setup  -sock S -workers N -listen IP:PORT -vpn IP/BITS [-mode event]
 *          SETUP; checks SETUP_DONE, that the same SETUP again gets the
 *          same answer and that a different one is refused; FIREWALL
 *          allowing everything (the generation must be 1); prints
 *          "tun=NAME port=N workers=N".
 *   add    -sock S -peer-vpn IP -remote IP:PORT [-cert FILE]   TUNNEL_ADD
 *          (fixed keys, indexes, counter 2, lease 1<<24; FILE: the peer
 *          certificate blob, raw protobuf), then DUMP shows it.
 *   dump   -sock S -rx N -tx N | -none   DUMP (as dpctl: keys must be
 *          zero) and the tunnel's counters, or no tunnel at all.
 *   del    -sock S     TUNNEL_DEL with send_close; DUMP shows nothing.
 *   punt   -sock S -ready FILE   waits for one PUNT (handshake) and checks
 *          its length convention.
 *   inject -sock S -into tun|out -src IP -dst IP -dport N -payload S
 *          INJECT_TUN or INJECT_OUT of a UDP packet src:7000 -> dst:dport,
 *          then STATS: an ERROR instead fails.
 *
 * As the Nebula peer (UDP, in the other namespace), with the same keys:
 *   send-data -bind IP:PORT -to IP:PORT -src IP -dst IP -dport N -payload S
 *             [-count N] [-counter C]   N packets, counters C, C+1, ...
 *   bad-tag   -bind IP:PORT -to IP:PORT [-counter C]   a data message on
 *             the tunnel whose tag does not verify (silently dropped)
 *   recv      -bind IP:PORT -ready FILE -expect data|close [-dport N -payload S]
 *   test      -bind IP:PORT -to IP:PORT      test request -> test reply
 *   unknown   -bind IP:PORT -to IP:PORT      unknown index -> recv_error
 *   handshake -bind IP:PORT -to IP:PORT      a type-0 datagram (for punt)
 *
 * Exit 0 when what was expected happened, 1 otherwise (with a reason).
 * Every wait is bounded (-timeout seconds, default 5).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "aead.h"
#include "ctlmsg.h"
#include "fw_any.h"
#include "wire.h"

#define IDX_A 0x0a0a0001u /* the dataplane's index: in our headers to it */
#define IDX_B 0x0b0b0001u /* ours: in its headers to us */
#define COUNTER_DATA 3
#define COUNTER_TEST 4
#define COUNTER_BAD_TAG 1000 /* fresh: the tag check is what fails */

static const uint8_t key_ab[32] = { 0x11, 0x11, 0x11, 0x11, 0xab };
static const uint8_t key_ba[32] = { 0x22, 0x22, 0x22, 0x22, 0xba };

struct args {
	const char *sock, *listen, *vpn, *mode, *peer_vpn, *remote, *bind, *to,
		*src, *dst, *payload, *ready, *expect, *cert, *into;
	unsigned int workers, dport, rx, tx, timeout, count, counter;
	bool none;
};

static union {
	struct ctlmsg_hdr hdr;
	struct ctlmsg_hello hello;
	struct ctlmsg_setup setup;
	struct ctlmsg_setup_done done;
	struct ctlmsg_tunnel_add add;
	struct ctlmsg_tunnel_del del;
	struct ctlmsg_dump_tunnel dump;
	struct ctlmsg_punt punt;
	struct ctlmsg_inject_ip inject;
	struct ctlmsg_stats_reply stats;
	struct ctlmsg_error error;
	uint8_t raw[CTLMSG_MAX];
} in, out;

static uint32_t seq;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt,
								...)
{
	va_list ap;

	fputs("dp_peer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		die("bad IPv4 address %s", s ? s : "(none)");
	return ntohl(a.s_addr);
}

/* "a.b.c.d:port" */
static struct sockaddr_in sin4(const char *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char host[64];
	const char *colon = s ? strrchr(s, ':') : NULL;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		die("bad address %s, want IP:PORT", s ? s : "(none)");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	a.sin_addr.s_addr = htonl(ip4(host));
	a.sin_port = htons((uint16_t)atoi(colon + 1));
	return a;
}

static struct sockaddr_in6 mapped(const struct sockaddr_in *a)
{
	struct sockaddr_in6 m = { .sin6_family = AF_INET6,
				  .sin6_port = a->sin_port };

	m.sin6_addr.s6_addr[10] = 0xff;
	m.sin6_addr.s6_addr[11] = 0xff;
	memcpy(m.sin6_addr.s6_addr + 12, &a->sin_addr, 4);
	return m;
}

static void touch(const char *path)
{
	int fd;

	if (!path)
		return;
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	close(fd);
}

/* ---- Control channel ----------------------------------------------------- */

static void hdr(struct ctlmsg_hdr *h, uint16_t type, size_t len)
{
	*h = (struct ctlmsg_hdr){ .version = CTLMSG_VERSION,
				  .type = type,
				  .len = (uint32_t)len,
				  .seq = ++seq };
}

static void ctl_send(int fd, size_t len)
{
	if (send(fd, &out, len, MSG_NOSIGNAL) != (ssize_t)len)
		die("send to the dataplane: %s", strerror(errno));
}

/* The next record; checks the length convention of what arrives. */
static size_t ctl_recv(int fd, unsigned int timeout_s)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, (int)timeout_s * 1000) <= 0)
		die("no answer from the dataplane within %u s", timeout_s);
	n = recv(fd, &in, sizeof(in), 0);
	if (n <= 0)
		die("dataplane closed the connection");
	if ((size_t)n < sizeof(in.hdr) || in.hdr.len != (size_t)n ||
	    in.hdr.version != CTLMSG_VERSION)
		die("malformed record: %zd bytes, header len %u", n,
		    in.hdr.len);
	return (size_t)n;
}

/* The reply to the last request, skipping unsolicited records. */
static size_t ctl_reply(int fd, uint16_t want, unsigned int timeout_s)
{
	for (;;) {
		size_t n = ctl_recv(fd, timeout_s);

		if (in.hdr.type == CTLMSG_PUNT ||
		    in.hdr.type == CTLMSG_LEASE_REQUEST)
			continue;
		if (in.hdr.seq != seq)
			die("reply seq %u, want %u", in.hdr.seq, seq);
		if (in.hdr.type == CTLMSG_ERROR && want != CTLMSG_ERROR)
			die("ERROR %d: %s", in.error.err, in.error.msg);
		if (in.hdr.type != want)
			die("reply type %u, want %u", in.hdr.type, want);
		return n;
	}
}

/*
 * A request answered only when refused (FIREWALL, INJECT_*) was taken:
 * a STATS after it comes back with no ERROR before it. The reply stays in
 * `in` (in.stats).
 */
static void accepted(int fd, const struct args *a, const char *what)
{
	memset(&out.hdr, 0, sizeof(out.hdr));
	hdr(&out.hdr, CTLMSG_STATS, sizeof(out.hdr));
	ctl_send(fd, sizeof(out.hdr));
	for (;;) {
		ctl_recv(fd, a->timeout);
		if (in.hdr.type == CTLMSG_ERROR)
			die("%s refused: ERROR %d: %s", what, in.error.err,
			    in.error.msg);
		if (in.hdr.type == CTLMSG_STATS_REPLY)
			return;
	}
}

static int ctl_connect(const struct args *a, uint32_t role)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (!a->sock || strlen(a->sock) >= sizeof(sun.sun_path))
		die("-sock missing or too long");
	memcpy(sun.sun_path, a->sock, strlen(a->sock) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("connect %s: %s", a->sock, strerror(errno));
	memset(&out.hello, 0, sizeof(out.hello));
	hdr(&out.hdr, CTLMSG_HELLO, sizeof(out.hello));
	out.hello.role = role;
	out.hello.pid = (uint32_t)getpid();
	ctl_send(fd, sizeof(out.hello));
	ctl_reply(fd, CTLMSG_HELLO, a->timeout);
	return fd;
}

static void build_setup(const struct args *a, struct ctlmsg_setup *s)
{
	struct sockaddr_in l = sin4(a->listen);
	char vpn[64], *slash;
	unsigned int bits;

	snprintf(vpn, sizeof(vpn), "%s", a->vpn ? a->vpn : "");
	slash = strchr(vpn, '/');
	if (!slash)
		die("-vpn wants IP/BITS");
	*slash = '\0';
	bits = (unsigned int)atoi(slash + 1);
	if (bits < 1 || bits > 32)
		die("-vpn prefix %u", bits);

	memset(s, 0, sizeof(*s));
	hdr(&s->hdr, CTLMSG_SETUP, sizeof(*s));
	s->listen = mapped(&l);
	/* DP_BACKEND=xsk with DP_INTERFACE: the AF_XDP backend. */
	s->backend = getenv("DP_BACKEND") && !strcmp(getenv("DP_BACKEND"), "xsk") ?
			     CTLMSG_BACKEND_XSK :
			     CTLMSG_BACKEND_UDP;
	if (getenv("DP_INTERFACE"))
		snprintf(s->interface, sizeof(s->interface), "%s",
			 getenv("DP_INTERFACE"));
	s->mode = !a->mode || !strcmp(a->mode, "event") ? CTLMSG_MODE_EVENT :
		  !strcmp(a->mode, "busy")		? CTLMSG_MODE_BUSY :
							  CTLMSG_MODE_ADAPTIVE;
	s->workers = a->workers;
	s->cipher = VL_CIPHER_AES;
	s->mtu = 1300;
	s->tx_queue = 500;
	s->send_recv_error = CTLMSG_RECV_ERROR_ALWAYS;
	s->pending_timeout_ms = 3000;
	s->flows_max = 4096;
	s->vpn.ip = ip4(vpn);
	s->vpn.mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
	s->n_local_nets = 1;
	s->local_nets[0] = (struct ctlmsg_net){ s->vpn.ip, 0xffffffff };
}

static int cmd_setup(const struct args *a)
{
	int fd = ctl_connect(a, CTLMSG_ROLE_CONTROL);
	struct ctlmsg_setup_done first;

	build_setup(a, &out.setup);
	ctl_send(fd, sizeof(out.setup));
	ctl_reply(fd, CTLMSG_SETUP_DONE, 30);
	if (in.done.err)
		die("SETUP_DONE %d: %s", in.done.err, in.done.msg);
	if (in.done.backend != out.setup.backend ||
	    in.done.workers != a->workers || !in.done.port || !*in.done.tun_dev)
		die("SETUP_DONE backend %u workers %u port %u tun %s",
		    in.done.backend, in.done.workers, in.done.port,
		    in.done.tun_dev);
	first = in.done;

	/* A restarted control plane resends the same SETUP. */
	build_setup(a, &out.setup);
	ctl_send(fd, sizeof(out.setup));
	ctl_reply(fd, CTLMSG_SETUP_DONE, a->timeout);
	if (in.done.err || in.done.port != first.port ||
	    strcmp(in.done.tun_dev, first.tun_dev))
		die("repeated SETUP answered differently");
	/* A different one is refused. */
	build_setup(a, &out.setup);
	out.setup.workers++;
	ctl_send(fd, sizeof(out.setup));
	ctl_reply(fd, CTLMSG_ERROR, a->timeout);
	if (in.error.err != -EBUSY || in.error.type != CTLMSG_SETUP)
		die("different SETUP: ERROR %d for type %u", in.error.err,
		    in.error.type);
	/* Rules that let everything through, as vela-control sends next. */
	fw_any_build(&out, ++seq);
	ctl_send(fd, FW_ANY_LEN);
	accepted(fd, a, "FIREWALL");
	if (in.stats.fw_gen != 1 || in.stats.fw_rules_in != 1 ||
	    in.stats.fw_rules_out != 1)
		die("firewall not in force: generation %u, rules %u/%u",
		    in.stats.fw_gen, in.stats.fw_rules_in,
		    in.stats.fw_rules_out);
	printf("tun=%s port=%u workers=%u\n", first.tun_dev, first.port,
	       first.workers);
	close(fd);
	return 0;
}

/* DUMP: the number of tunnels, the (last) one in in.dump's copy @t. */
static unsigned int dump(int fd, const struct args *a,
			 struct ctlmsg_dump_tunnel *t)
{
	unsigned int n = 0;

	hdr(&out.hdr, CTLMSG_DUMP, sizeof(out.hdr));
	ctl_send(fd, sizeof(out.hdr));
	for (;;) {
		ctl_recv(fd, a->timeout);
		if (in.hdr.type == CTLMSG_PUNT ||
		    in.hdr.type == CTLMSG_LEASE_REQUEST)
			continue;
		if (in.hdr.type == CTLMSG_DUMP_END)
			return n;
		if (in.hdr.type == CTLMSG_ERROR)
			die("ERROR %d for %u: %s", in.error.err, in.error.type,
			    in.error.msg);
		if (in.hdr.type != CTLMSG_DUMP_TUNNEL)
			die("DUMP answered with type %u", in.hdr.type);
		*t = in.dump;
		n++;
	}
}

/* The certificate blob kept with the tunnel; its length. */
static uint32_t read_cert(const char *path, uint8_t cert[CTLMSG_CERT_MAX])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	n = read(fd, cert, CTLMSG_CERT_MAX);
	if (n <= 0 || (n == CTLMSG_CERT_MAX && read(fd, cert, 1) != 0))
		die("%s: empty, unreadable or larger than %d bytes", path,
		    CTLMSG_CERT_MAX);
	close(fd);
	return (uint32_t)n;
}

static int cmd_add(const struct args *a)
{
	struct sockaddr_in r = sin4(a->remote);
	uint32_t vpn = ip4(a->peer_vpn);
	int fd = ctl_connect(a, CTLMSG_ROLE_CONTROL);
	struct ctlmsg_dump_tunnel t;

	memset(&out.add, 0, sizeof(out.add));
	hdr(&out.hdr, CTLMSG_TUNNEL_ADD, sizeof(out.add));
	out.add.local_index = IDX_A;
	out.add.remote_index = IDX_B;
	out.add.vpn_ip = vpn;
	out.add.cipher = VL_CIPHER_AES;
	out.add.remote = mapped(&r);
	memcpy(out.add.send_key, key_ab, 32);
	memcpy(out.add.recv_key, key_ba, 32);
	out.add.send_counter = 2;
	out.add.lease_end = CTLMSG_LEASE_STEP;
	out.add.recv_max = 2;
	out.add.n_peer_nets = 1;
	out.add.peer_nets[0] = (struct ctlmsg_net){ vpn, 0xffffffff };
	if (a->cert)
		out.add.cert_len = read_cert(a->cert, out.add.cert);
	fw_any_peer(&out.add.fw_peer, "dp_peer");
	ctl_send(fd, sizeof(out.add));
	/* Success is silent: the DUMP after it shows the tunnel. */
	if (dump(fd, a, &t) != 1 || t.tunnel.local_index != IDX_A ||
	    memcmp(t.tunnel.send_key, key_ab, 32) ||
	    t.tunnel.cert_len != out.add.cert_len)
		die("tunnel not installed");
	printf("tunnel %08x installed\n", IDX_A);
	close(fd);
	return 0;
}

static int cmd_dump(const struct args *a)
{
	static const uint8_t zero[32];
	int fd = ctl_connect(a, CTLMSG_ROLE_DPCTL);
	struct ctlmsg_dump_tunnel t;
	unsigned int n = dump(fd, a, &t);

	close(fd);
	if (a->none) {
		if (n)
			die("DUMP shows %u tunnels, want none", n);
		printf("no tunnels\n");
		return 0;
	}
	if (n != 1)
		die("DUMP shows %u tunnels, want 1", n);
	printf("tunnel %08x rx %llu tx %llu send_counter %llu recv_max %llu lease_end %llu\n",
	       t.tunnel.local_index, (unsigned long long)t.rx_packets,
	       (unsigned long long)t.tx_packets,
	       (unsigned long long)t.tunnel.send_counter,
	       (unsigned long long)t.tunnel.recv_max,
	       (unsigned long long)t.tunnel.lease_end);
	if (memcmp(t.tunnel.send_key, zero, 32) ||
	    memcmp(t.tunnel.recv_key, zero, 32))
		die("dpctl got session keys");
	if (t.rx_packets != a->rx || t.tx_packets != a->tx)
		die("rx %llu tx %llu, want rx %u tx %u",
		    (unsigned long long)t.rx_packets,
		    (unsigned long long)t.tx_packets, a->rx, a->tx);
	if (t.tunnel.send_counter != 2 + a->tx ||
	    t.tunnel.recv_max != COUNTER_TEST)
		die("send_counter %llu recv_max %llu",
		    (unsigned long long)t.tunnel.send_counter,
		    (unsigned long long)t.tunnel.recv_max);
	return 0;
}

static int cmd_del(const struct args *a)
{
	int fd = ctl_connect(a, CTLMSG_ROLE_CONTROL);
	struct ctlmsg_dump_tunnel t;

	memset(&out.del, 0, sizeof(out.del));
	hdr(&out.hdr, CTLMSG_TUNNEL_DEL, sizeof(out.del));
	out.del.local_index = IDX_A;
	out.del.send_close = 1;
	ctl_send(fd, sizeof(out.del));
	if (dump(fd, a, &t))
		die("tunnel still there after TUNNEL_DEL");
	printf("tunnel %08x removed\n", IDX_A);
	close(fd);
	return 0;
}

static int cmd_punt(const struct args *a)
{
	int fd = ctl_connect(a, CTLMSG_ROLE_CONTROL);
	size_t n;

	touch(a->ready);
	for (;;) {
		n = ctl_recv(fd, a->timeout);
		if (in.hdr.type == CTLMSG_PUNT)
			break;
	}
	/* Variable length: exactly offsetof(data) + len bytes. */
	if (in.punt.len > CTLMSG_PACKET_MAX ||
	    n != offsetof(struct ctlmsg_punt, data) + in.punt.len)
		die("PUNT of %zu bytes carries len %u", n, in.punt.len);
	if (in.punt.reason != CTLMSG_PUNT_HANDSHAKE || in.punt.len != 48 ||
	    in.punt.data[0] != 0x10)
		die("PUNT reason %u len %u", in.punt.reason, in.punt.len);
	printf("punt: handshake, %u bytes, record %zu bytes\n", in.punt.len, n);
	close(fd);
	return 0;
}

/* ---- Nebula peer ------------------------------------------------------ */

static int udp_bind(const struct args *a)
{
	struct sockaddr_in b = sin4(a->bind);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&b, sizeof(b)) < 0)
		die("bind %s: %s", a->bind, strerror(errno));
	return fd;
}

static void udp_send(int fd, const struct args *a, const uint8_t *d, size_t len)
{
	struct sockaddr_in to = sin4(a->to);

	if (sendto(fd, d, len, 0, (struct sockaddr *)&to, sizeof(to)) !=
	    (ssize_t)len)
		die("sendto %s: %s", a->to, strerror(errno));
}

static size_t udp_recv(int fd, const struct args *a, uint8_t *d, size_t size)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, (int)a->timeout * 1000) <= 0)
		die("nothing arrived within %u s", a->timeout);
	n = recv(fd, d, size, 0);
	if (n < 0)
		die("recv: %s", strerror(errno));
	return (size_t)n;
}

/* What we send: sealed with key_ba, addressed to the dataplane's index. */
static size_t seal(uint8_t *d, uint8_t type, uint8_t subtype, uint32_t index,
		   uint64_t counter, const uint8_t *pt, size_t len)
{
	struct vl_aead_key k;
	uint8_t nonce[VL_AEAD_NONCE_LEN];

	vl_aead_key_set(&k, VL_CIPHER_AES, key_ba);
	wire_header_encode(d, (enum wire_type)type, subtype, index, counter);
	vl_aead_nonce(VL_CIPHER_AES, counter, nonce);
	vl_aead_seal(&k, nonce, d, WIRE_HEADER_LEN, pt, len,
		     d + WIRE_HEADER_LEN);
	vl_aead_key_wipe(&k);
	return len + WIRE_OVERHEAD;
}

/* What the dataplane sent us, opened with key_ab in place. */
static size_t open_msg(uint8_t *d, size_t len, struct wire_header *h)
{
	struct vl_aead_key k;
	uint8_t nonce[VL_AEAD_NONCE_LEN];
	bool ok;

	if (len < WIRE_OVERHEAD)
		die("datagram of %zu bytes", len);
	wire_header_decode(d, h);
	if (h->remote_index != IDX_B)
		die("header index %08x, want %08x", h->remote_index, IDX_B);
	vl_aead_key_set(&k, VL_CIPHER_AES, key_ab);
	vl_aead_nonce(VL_CIPHER_AES, h->counter, nonce);
	ok = vl_aead_open(&k, nonce, d, WIRE_HEADER_LEN, d + WIRE_HEADER_LEN,
			  len - WIRE_OVERHEAD, d + WIRE_HEADER_LEN);
	vl_aead_key_wipe(&k);
	if (!ok)
		die("type %u counter %llu: tag does not verify", h->type,
		    (unsigned long long)h->counter);
	return len - WIRE_OVERHEAD;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* An IPv4/UDP packet @src:7000 -> @dst:@dport carrying @payload. */
static size_t build_udp(uint8_t *ip, uint32_t src, uint32_t dst, uint16_t dport,
			const char *payload)
{
	size_t plen = strlen(payload), len = 28 + plen;
	uint8_t pseudo[12];
	uint16_t c;

	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(len >> 8);
	ip[3] = (uint8_t)len;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 17;
	wire_put_be32(ip + 12, src);
	wire_put_be32(ip + 16, dst);
	c = csum_fold(csum_add(0, ip, 20));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;

	ip[20] = 7000 >> 8;
	ip[21] = 7000 & 0xff;
	ip[22] = (uint8_t)(dport >> 8);
	ip[23] = (uint8_t)dport;
	ip[24] = (uint8_t)((len - 20) >> 8);
	ip[25] = (uint8_t)(len - 20);
	memcpy(ip + 28, payload, plen);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	pseudo[10] = ip[24];
	pseudo[11] = ip[25];
	c = csum_fold(csum_add(csum_add(0, pseudo, 12), ip + 20, len - 20));
	if (!c)
		c = 0xffff;
	ip[26] = (uint8_t)(c >> 8);
	ip[27] = (uint8_t)c;
	return len;
}

static int cmd_send_data(const struct args *a)
{
	uint64_t first = a->counter ? a->counter : COUNTER_DATA;
	unsigned int n = a->count ? a->count : 1;
	uint8_t ip[1500], d[1600];
	int fd = udp_bind(a);
	size_t len;

	len = build_udp(ip, ip4(a->src), ip4(a->dst), (uint16_t)a->dport,
			a->payload ? a->payload : "");
	for (unsigned int i = 0; i < n; i++) {
		size_t dlen = seal(d, WIRE_MESSAGE, WIRE_SUB_NONE, IDX_A,
				   first + i, ip, len);

		udp_send(fd, a, d, dlen);
		if (i + 1 == n)
			printf("sent %u data messages, counters %llu..%llu, %zu bytes each\n",
			       n, (unsigned long long)first,
			       (unsigned long long)(first + i), dlen);
	}
	close(fd);
	return 0;
}

/* A data message on the tunnel with its last tag byte flipped. */
static int cmd_bad_tag(const struct args *a)
{
	static const uint8_t pt[40] = { 0x45 };
	uint64_t counter = a->counter ? a->counter : COUNTER_BAD_TAG;
	uint8_t d[1600];
	int fd = udp_bind(a);
	size_t len;

	len = seal(d, WIRE_MESSAGE, WIRE_SUB_NONE, IDX_A, counter, pt,
		   sizeof(pt));
	d[len - 1] ^= 0x01;
	udp_send(fd, a, d, len);
	printf("sent a data message with a bad tag, counter %llu\n",
	       (unsigned long long)counter);
	close(fd);
	return 0;
}

static int cmd_recv(const struct args *a)
{
	uint8_t d[10000];
	struct wire_header h;
	int fd = udp_bind(a);
	size_t len;

	touch(a->ready);
	len = udp_recv(fd, a, d, sizeof(d));
	len = open_msg(d, len, &h);
	if (a->expect && !strcmp(a->expect, "close")) {
		if (h.type != WIRE_CLOSE_TUNNEL || len)
			die("type %u with %zu bytes, want an empty closeTunnel",
			    h.type, len);
		printf("closeTunnel, counter %llu\n",
		       (unsigned long long)h.counter);
	} else {
		const uint8_t *ip = d + WIRE_HEADER_LEN;
		size_t plen = a->payload ? strlen(a->payload) : 0;

		if (h.type != WIRE_MESSAGE || h.subtype != WIRE_SUB_NONE)
			die("type %u/%u, want a data message", h.type,
			    h.subtype);
		if (len < 28 || ip[0] != 0x45 || ip[9] != 17 ||
		    wire_get_be32(ip + 16) != ip4(a->dst) ||
		    (ip[22] << 8 | ip[23]) != (int)a->dport)
			die("inner packet is not UDP to %s:%u", a->dst,
			    a->dport);
		if (len != 28 + plen || memcmp(ip + 28, a->payload, plen))
			die("inner payload differs (%zu bytes)", len - 28);
		printf("data, counter %llu, payload \"%.*s\"\n",
		       (unsigned long long)h.counter, (int)plen, ip + 28);
	}
	close(fd);
	return 0;
}

static int cmd_test(const struct args *a)
{
	static const char ping[] = "are you there";
	uint8_t d[1600];
	struct wire_header h;
	int fd = udp_bind(a);
	size_t len;

	len = seal(d, WIRE_TEST, WIRE_SUB_TEST_REQUEST, IDX_A, COUNTER_TEST,
		   (const uint8_t *)ping, sizeof(ping) - 1);
	udp_send(fd, a, d, len);
	len = open_msg(d, udp_recv(fd, a, d, sizeof(d)), &h);
	if (h.type != WIRE_TEST || h.subtype != WIRE_SUB_TEST_REPLY)
		die("type %u/%u, want a test reply", h.type, h.subtype);
	printf("test reply, counter %llu, %zu bytes\n",
	       (unsigned long long)h.counter, len);
	close(fd);
	return 0;
}

static int cmd_unknown(const struct args *a)
{
	static const uint8_t junk[40] = { 1, 2, 3 };
	uint8_t d[1600];
	struct wire_header h;
	int fd = udp_bind(a);
	size_t len;

	len = seal(d, WIRE_MESSAGE, WIRE_SUB_NONE, 0xdeadbeef, 9, junk,
		   sizeof(junk));
	udp_send(fd, a, d, len);
	len = udp_recv(fd, a, d, sizeof(d));
	wire_header_decode(d, &h);
	if (len != WIRE_HEADER_LEN || h.type != WIRE_RECV_ERROR ||
	    h.remote_index != 0xdeadbeef)
		die("%zu bytes type %u index %08x, want a recv_error for deadbeef",
		    len, h.type, h.remote_index);
	printf("recv_error for %08x\n", h.remote_index);
	close(fd);
	return 0;
}

static int cmd_handshake(const struct args *a)
{
	uint8_t d[48] = { 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	int fd = udp_bind(a);

	udp_send(fd, a, d, sizeof(d));
	printf("sent a handshake-type datagram\n");
	close(fd);
	return 0;
}

static int cmd_inject(const struct args *a)
{
	int fd = ctl_connect(a, CTLMSG_ROLE_CONTROL);
	uint16_t type;
	size_t len;

	if (!a->into || !a->src || !a->dst)
		die("inject needs -into tun|out, -src and -dst");
	if (!strcmp(a->into, "tun"))
		type = CTLMSG_INJECT_TUN;
	else if (!strcmp(a->into, "out"))
		type = CTLMSG_INJECT_OUT;
	else
		die("-into %s: want tun or out", a->into);
	memset(&out.inject, 0, offsetof(struct ctlmsg_inject_ip, data));
	out.inject.len = (uint32_t)build_udp(out.inject.data, ip4(a->src),
					     ip4(a->dst), (uint16_t)a->dport,
					     a->payload ? a->payload : "");
	len = offsetof(struct ctlmsg_inject_ip, data) + out.inject.len;
	hdr(&out.hdr, type, len);
	ctl_send(fd, len);
	printf("injected %u bytes into %s\n", out.inject.len, a->into);
	accepted(fd, a, "inject");
	close(fd);
	return 0;
}

/* ---- Arguments ---------------------------------------------------------- */

static void parse(int argc, char **argv, struct args *a)
{
	static const struct {
		const char *name;
		size_t off;
		bool number;
	} opts[] = {
		{ "sock", offsetof(struct args, sock), false },
		{ "listen", offsetof(struct args, listen), false },
		{ "vpn", offsetof(struct args, vpn), false },
		{ "mode", offsetof(struct args, mode), false },
		{ "peer-vpn", offsetof(struct args, peer_vpn), false },
		{ "remote", offsetof(struct args, remote), false },
		{ "bind", offsetof(struct args, bind), false },
		{ "to", offsetof(struct args, to), false },
		{ "src", offsetof(struct args, src), false },
		{ "dst", offsetof(struct args, dst), false },
		{ "payload", offsetof(struct args, payload), false },
		{ "ready", offsetof(struct args, ready), false },
		{ "expect", offsetof(struct args, expect), false },
		{ "cert", offsetof(struct args, cert), false },
		{ "into", offsetof(struct args, into), false },
		{ "count", offsetof(struct args, count), true },
		{ "counter", offsetof(struct args, counter), true },
		{ "workers", offsetof(struct args, workers), true },
		{ "dport", offsetof(struct args, dport), true },
		{ "rx", offsetof(struct args, rx), true },
		{ "tx", offsetof(struct args, tx), true },
		{ "timeout", offsetof(struct args, timeout), true },
	};

	for (int i = 0; i < argc; i++) {
		const char *name = argv[i];
		size_t k;

		if (*name != '-')
			die("unexpected argument %s", name);
		name += name[1] == '-' ? 2 : 1;
		if (!strcmp(name, "none")) {
			a->none = true;
			continue;
		}
		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (!strcmp(name, opts[k].name))
				break;
		if (k == sizeof(opts) / sizeof(opts[0]) || i + 1 == argc)
			die("unknown flag or missing value: %s", argv[i]);
		if (opts[k].number) {
			unsigned int v =
				(unsigned int)strtoul(argv[++i], NULL, 0);

			memcpy((char *)a + opts[k].off, &v, sizeof(v));
		} else {
			const char *v = argv[++i];

			memcpy((char *)a + opts[k].off, &v, sizeof(v));
		}
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(const struct args *a);
	} cmds[] = {
		{ "setup", cmd_setup },	    { "add", cmd_add },
		{ "dump", cmd_dump },	    { "del", cmd_del },
		{ "punt", cmd_punt },	    { "send-data", cmd_send_data },
		{ "recv", cmd_recv },	    { "test", cmd_test },
		{ "unknown", cmd_unknown }, { "handshake", cmd_handshake },
		{ "bad-tag", cmd_bad_tag }, { "inject", cmd_inject },
	};
	struct args a = { .workers = 1, .timeout = 5 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		die("usage: dp_peer COMMAND [-flag value ...]");
	if (vl_aead_init())
		die("crypto library failed to start");
	parse(argc - 2, argv + 2, &a);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(&a);
	die("unknown command %s", argv[1]);
}
