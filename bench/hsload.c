/* SPDX-License-Identifier: MIT */
/*
 * vela-hsload: how many Noise IX handshakes per second a responder
 * completes -- vela-control or the real nebula 1.6.1 -- when many new
 * nodes contact it at once.
 *
 * The generator is built on the control plane's own protocol code
 * (noise.c, handshake_msg.c, cert.c), the same calls handshake.c makes as
 * an initiator, so it speaks exactly what a Vela node speaks and tests
 * that code against nebula on the way.
 *
 * A run has three phases, and only the middle one is timed:
 *
 *   prepare   one identity per handshake: an X25519 key and a certificate
 *             with its own VPN IP from -cidr, signed by the CA -- N
 *             handshakes are N different nodes, as the responder's
 *             conflict rules (spec §3.8) would otherwise turn most of them
 *             into replacements of one tunnel. Every message 1 is built
 *             here (fresh ephemeral, unique random initiator index, Time
 *             now), so while the responder is measured the generator only
 *             sends prepared bytes and stores what comes back.
 *   window    -w handshakes in flight over -s connected UDP sockets: send
 *             message 1, record the arrival time and bytes of the matching
 *             message 2 (type handshake, subtype ix_psk0, counter 2,
 *             remote index = our initiator index), count a handshake
 *             without answer after -timeout as timed out. No retries.
 *             Anything else that arrives is ignored (a responder may
 *             send test requests on its new tunnels later).
 *   verify    every stored message 2 is read with ctl_noise_read_msg2, its
 *             payload decoded and the responder's certificate checked
 *             against the CA pool (§3.5); only those that pass count as
 *             completed.
 *
 * Rate is completed handshakes over the time from the first send to the
 * last completing answer. Latency is per handshake, send to answer; with
 * -w in flight it is mostly the time queued at the responder, so it says
 * as much about -w as about the responder.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "aead.h"
#include "capool.h"
#include "cert.h"
#include "flags.h"
#include "handshake_msg.h"
#include "ipnet.h"
#include "keys.h"
#include "noise.h"
#include "pem.h"
#include "file.h"
#include "status.h"
#include "wire.h"

#define NSEC_PER_SEC UINT64_C(1000000000)
#define NSEC_PER_MSEC UINT64_C(1000000)

enum hsload_limits {
	HSLOAD_N_MAX = 200000, /* handshakes: ~1 KiB of state each */
	HSLOAD_SOCKETS_MAX = 4096,
	HSLOAD_SKIP_MAX = 1024,
	HSLOAD_FILE_MAX = 1 << 20, /* CA certificate or key file */
	HSLOAD_MSG_MAX = 4096, /* message 1 we build (handshake.c's cap) */
	HSLOAD_EVENTS = 64, /* epoll events per wait */
	HSLOAD_RECV_BURST = 64, /* datagrams per socket per wakeup */
	/*
	 * Vela's dataplane admits 40 handshakes at once per source, then
	 * 20/s, in 1024 hashed buckets that several sources may share
	 * (dataplane/inbound.c punt_allowed). Above this many per socket, a
	 * few busy buckets reach the limit: raise -s.
	 */
	HSLOAD_PER_SOCKET_SAFE = 8,
	HSLOAD_DEADLINE_SLACK_S = 5,
};

/* Exit statuses. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct hsload_opts {
	const char *ca_crt;
	const char *ca_key;
	const char *cidr;
	const char *skip;
	const char *target;
	const char *n;
	const char *w;
	const char *s;
	const char *cipher;
	int64_t timeout; /* ns */
	int64_t deadline; /* ns; 0: n * timeout / w + slack */
	bool json;
};

static const struct hsload_opts opts_default = {
	.n = "2000",
	.w = "64",
	.s = "256",
	.cipher = "aes",
	.timeout = 2 * (int64_t)NSEC_PER_SEC,
};

static const struct vl_flag hsload_flags[] = {
	{ "ca-crt", VL_FLAG_STRING, offsetof(struct hsload_opts, ca_crt),
	  "Required: the CA certificate (PEM) that signs the initiators and verifies the responder; a bundle is the responder's pool" },
	{ "ca-key", VL_FLAG_STRING, offsetof(struct hsload_opts, ca_key),
	  "Required: the CA's Ed25519 private key (PEM)" },
	{ "cidr", VL_FLAG_STRING, offsetof(struct hsload_opts, cidr),
	  "Required: VPN network the initiators' IPs are taken from, e.g. 10.77.0.0/16" },
	{ "skip", VL_FLAG_STRING, offsetof(struct hsload_opts, skip),
	  "Optional: comma separated VPN IPs not to use (the responder's own)" },
	{ "target", VL_FLAG_STRING, offsetof(struct hsload_opts, target),
	  "Required: the responder's underlay address, host:port" },
	{ "n", VL_FLAG_STRING, offsetof(struct hsload_opts, n),
	  "Optional: handshakes (one new initiator each)" },
	{ "w", VL_FLAG_STRING, offsetof(struct hsload_opts, w),
	  "Optional: handshakes in flight" },
	{ "s", VL_FLAG_STRING, offsetof(struct hsload_opts, s),
	  "Optional: UDP source sockets the initiators are spread over" },
	{ "timeout", VL_FLAG_DURATION, offsetof(struct hsload_opts, timeout),
	  "Optional: wait this long for each message 2 (no retries)" },
	{ "deadline", VL_FLAG_DURATION, offsetof(struct hsload_opts, deadline),
	  "Optional: bound on the timed window; 0 means n*timeout/w + 5s" },
	{ "cipher", VL_FLAG_STRING, offsetof(struct hsload_opts, cipher),
	  "Optional: aes or chachapoly, as the responder's cipher setting" },
	{ "j", VL_FLAG_BOOL, offsetof(struct hsload_opts, json),
	  "Optional: print the result as one JSON object" },
};

#define N_FLAGS (sizeof(hsload_flags) / sizeof(hsload_flags[0]))

enum hs_state {
	HS_UNSENT = 0,
	HS_SENT, /* in flight */
	HS_ANSWERED, /* a message 2 arrived in time; not yet verified */
	HS_TIMEOUT,
};

/* One simulated initiator and its one handshake. */
struct hs_one {
	struct ctl_noise noise; /* after message 1: waits for message 2 */
	uint8_t *msg1; /* header included */
	uint8_t *msg2; /* as received, header included */
	uint32_t msg1_len, msg2_len;
	uint32_t index; /* our initiator index */
	uint32_t sock; /* the socket it goes out on */
	enum hs_state state;
	uint64_t sent_ns, recv_ns; /* CLOCK_MONOTONIC */
};

struct hsload {
	/* Settings. */
	size_t n, w, n_socks;
	uint64_t timeout_ns, deadline_ns;
	enum vl_cipher cipher;
	const char *target;

	/* The CA: signs initiators, verifies the responder. */
	struct ctl_capool pool;
	struct ctl_cert *ca;
	uint8_t ca_fp[CTL_CERT_FP_LEN];
	uint8_t ca_sk[CTL_ED25519_SK_LEN];

	struct hs_one *hs;
	uint32_t *by_index; /* initiator index -> slot + 1, open addressing */
	uint32_t index_mask;

	int *socks;
	int ep;
	/* One more than a datagram may be, to see truncation. */
	uint8_t rx[WIRE_MTU_MAX + 1];

	/* Window. */
	size_t in_flight;
	uint64_t first_send_ns;
	double cpu_s; /* our own CPU time in the window, user + system */
	size_t sent, answered, timeouts, ignored, late, refused;

	/* Verification. */
	size_t completed, invalid;
	uint64_t last_done_ns;
	double *lat_ms;
	char first_error[VL_STATUS_MAX];
	char peer_name[64];
	char peer_ip[16];
};

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static struct timespec realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* A usage mistake: the message, naming the flag, and exit status 2. */
static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vela-hsload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun vela-hsload -h for the flags.\n");
	return EXIT_USAGE;
}

static void help(FILE *out)
{
	fprintf(out,
		"Usage of vela-hsload: Noise IX handshakes per second of a Nebula responder\n"
		"  vela-hsload -ca-crt ca.crt -ca-key ca.key -cidr 10.77.0.0/16 -skip 10.77.0.1 -target 172.30.1.2:4242 [-n 2000] [-j]\n");
	vl_flags_print_defaults(out, hsload_flags, N_FLAGS, &opts_default);
}

/* A whole number in [lo, hi] from flag -@name; 0 or -EINVAL. */
static int parse_count(const char *name, const char *s, size_t lo, size_t hi,
		       size_t *out)
{
	char *end, bound[64];
	unsigned long long v;

	errno = 0;
	v = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
	if (!s || *s < '0' || *s > '9' || *end || errno || v < lo || v > hi) {
		snprintf(bound, sizeof(bound), "a whole number from %zu to %zu",
			 lo, hi);
		fprintf(stderr,
			"vela-hsload: invalid value \"%s\" for flag -%s: %s\n",
			s ? s : "", name, bound);
		return -EINVAL;
	}
	*out = (size_t)v;
	return 0;
}

/* -skip: comma separated IPv4 addresses; 0 or -EINVAL (message printed). */
static int parse_skip(const char *s, uint32_t *ips, size_t *n_ips)
{
	char item[64];

	*n_ips = 0;
	while (s && *s) {
		const char *comma = strchr(s, ','), *b = s, *e;

		e = comma ? comma : s + strlen(s);
		s = comma ? comma + 1 : e;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (b == e)
			continue;
		if ((size_t)(e - b) >= sizeof(item) ||
		    *n_ips == HSLOAD_SKIP_MAX) {
			fprintf(stderr,
				"vela-hsload: invalid value for flag -skip: too long\n");
			return -EINVAL;
		}
		memcpy(item, b, (size_t)(e - b));
		item[e - b] = '\0';
		if (vl_ip4_parse(item, &ips[*n_ips])) {
			fprintf(stderr,
				"vela-hsload: invalid value \"%s\" for flag -skip: not an IPv4 address\n",
				item);
			return -EINVAL;
		}
		(*n_ips)++;
	}
	return 0;
}

/* "host:port" or "[v6]:port"; 0 or -EINVAL (message printed). */
static int parse_target(const char *s, struct sockaddr_storage *ss,
			socklen_t *ss_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	const char *colon = s ? strrchr(s, ':') : NULL;
	char host[256];
	size_t hl;
	int err;

	if (!colon || colon == s || !colon[1])
		goto bad;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			goto bad;
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, s, hl);
	host[hl] = '\0';
	err = getaddrinfo(host, colon + 1, &hints, &res);
	if (err || !res || res->ai_addrlen > sizeof(*ss)) {
		fprintf(stderr,
			"vela-hsload: invalid value for flag -target: %s\n",
			err ? gai_strerror(err) : "no address");
		if (res)
			freeaddrinfo(res);
		return -EINVAL;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*ss_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	fprintf(stderr,
		"vela-hsload: invalid value \"%s\" for flag -target: want host:port\n",
		s ? s : "");
	return -EINVAL;
}

/* The CA certificate, pool and key; 0 or -errno with the reason in @st. */
static int load_ca(struct hsload *L, const struct hsload_opts *o,
		   struct vl_status *st)
{
	struct timespec now = realtime();
	size_t len, used, n_expired;
	uint8_t *buf;
	int err;

	err = vl_read_file(o->ca_key, HSLOAD_FILE_MAX, &buf, &len, st);
	if (err)
		return err;
	err = ctl_key_decode_pem(buf, len, CTL_PEM_ED25519_PRIVATE, L->ca_sk,
				 sizeof(L->ca_sk), st);
	vl_free_secret(buf, len);
	if (err) {
		vl_status_prefix(st, "%s: ", o->ca_key);
		return err;
	}

	err = vl_read_file(o->ca_crt, HSLOAD_FILE_MAX, &buf, &len, st);
	if (err)
		return err;
	err = ctl_cert_decode_pem(buf, len, &L->ca, &used, st);
	if (!err)
		err = ctl_capool_load_pem(&L->pool, buf, len, &now, &n_expired,
					  st);
	free(buf);
	if (err) {
		vl_status_prefix(st, "%s: ", o->ca_crt);
		return err;
	}
	if (!L->ca->is_ca)
		return vl_status_set(st, -EINVAL, "%s: not a CA certificate",
				     o->ca_crt);
	if (ctl_cert_check_private_key(L->ca, L->ca_sk, sizeof(L->ca_sk), st))
		return vl_status_set(st, -EKEYREJECTED,
				     "%s is not the key of %s", o->ca_key,
				     o->ca_crt);
	if (ctl_cert_expired(L->ca, &now))
		return vl_status_set(st, -EKEYEXPIRED, "%s: CA is expired",
				     o->ca_crt);
	if (ctl_cert_fingerprint(L->ca, L->ca_fp))
		return vl_status_set(st, -ENOMEM, "out of memory");
	return 0;
}

static uint32_t index_hash(uint32_t index, uint32_t mask)
{
	return (index * 2654435761u) & mask;
}

/* The slot whose initiator index is @index, or NULL. */
static struct hs_one *by_index(const struct hsload *L, uint32_t index)
{
	for (uint32_t i = index_hash(index, L->index_mask);;
	     i = (i + 1) & L->index_mask) {
		uint32_t v = L->by_index[i];

		if (!v)
			return NULL;
		if (L->hs[v - 1].index == index)
			return &L->hs[v - 1];
	}
}

/* A random initiator index, non-zero and unused, entered for @slot. */
static uint32_t index_new(struct hsload *L, size_t slot)
{
	uint32_t index, i;

	do {
		index = randombytes_random();
	} while (!index || by_index(L, index));
	i = index_hash(index, L->index_mask);
	while (L->by_index[i])
		i = (i + 1) & L->index_mask;
	L->by_index[i] = (uint32_t)slot + 1;
	return index;
}

/*
 * The VPN IPs of the initiators: hosts of @cidr in order, without the
 * network and broadcast addresses (unless the network has only one or
 * two) and without @skip. -ERANGE when the network is too small.
 */
static int pick_ips(uint32_t net, uint32_t mask, const uint32_t *skip,
		    size_t n_skip, uint32_t *ips, size_t n)
{
	uint64_t hosts = (uint64_t)~mask + 1, first = 0, last = hosts - 1;
	size_t k = 0;

	if (hosts > 2) {
		first = 1;
		last = hosts - 2;
	}
	for (uint64_t h = first; h <= last && k < n; h++) {
		uint32_t ip = (net & mask) | (uint32_t)h;
		bool skipped = false;

		for (size_t j = 0; j < n_skip && !skipped; j++)
			skipped = skip[j] == ip;
		if (!skipped)
			ips[k++] = ip;
	}
	return k == n ? 0 : -ERANGE;
}

/*
 * One initiator: key, certificate signed by the CA, message 1. What
 * handshake.c's ctl_hs_start does, with our own certificate.
 */
static int prepare_one(struct hsload *L, size_t slot, uint32_t ip,
		       uint32_t mask, const struct timespec *now,
		       struct vl_status *st)
{
	struct hs_one *h = &L->hs[slot];
	struct ctl_ipnet ipnet = { ip, mask };
	struct ctl_hs_payload hp = { 0 };
	uint8_t priv[CTL_X25519_KEY_LEN], payload[HSLOAD_MSG_MAX];
	uint8_t msg[HSLOAD_MSG_MAX];
	struct ctl_cert c = { 0 };
	uint8_t *hs_cert = NULL;
	size_t hs_cert_len, plen, nlen;
	char name[64], ipstr[16];
	int err;

	snprintf(name, sizeof(name), "hsload-%s",
		 vl_ip4_format(ip, ipstr, sizeof(ipstr)));
	c.name = name;
	c.ips = &ipnet;
	c.n_ips = 1;
	/* Inside the CA's validity, as nebula-cert sign makes them. */
	c.not_before = now->tv_sec - 1 < L->ca->not_before ? L->ca->not_before :
							     now->tv_sec - 1;
	c.not_after = L->ca->not_after - 1;
	ctl_key_x25519_generate(priv, c.pubkey);
	c.pubkey_len = CTL_X25519_KEY_LEN;
	memcpy(c.issuer, L->ca_fp, sizeof(L->ca_fp));
	c.issuer_len = sizeof(L->ca_fp);
	err = ctl_cert_check_root_constraints(&c, L->ca, st);
	if (err) {
		vl_status_prefix(st, "CA refuses %s: ", ipstr);
		goto wipe;
	}
	err = ctl_cert_sign(&c, L->ca_sk);
	if (!err)
		err = ctl_cert_encode_handshake(&c, &hs_cert, &hs_cert_len);
	if (err) {
		vl_status_set(st, err, "out of memory");
		goto wipe;
	}

	h->index = index_new(L, slot);
	hp.cert = hs_cert;
	hp.cert_len = hs_cert_len;
	hp.initiator_index = h->index;
	hp.time_ns =
		(uint64_t)now->tv_sec * NSEC_PER_SEC + (uint64_t)now->tv_nsec;
	ctl_noise_init(&h->noise, L->cipher, true, priv);
	err = ctl_hs_encode(&hp, payload, sizeof(payload), &plen, st);
	if (!err)
		err = ctl_noise_write_msg1(&h->noise, payload, plen,
					   msg + WIRE_HEADER_LEN,
					   sizeof(msg) - WIRE_HEADER_LEN, &nlen,
					   st);
	if (err)
		goto wipe;
	wire_header_encode(msg, WIRE_HANDSHAKE, WIRE_SUB_IX_PSK0, 0,
			   WIRE_HS_MSG1);
	h->msg1_len = (uint32_t)(WIRE_HEADER_LEN + nlen);
	h->msg1 = malloc(h->msg1_len);
	if (!h->msg1) {
		err = vl_status_set(st, -ENOMEM, "out of memory");
		goto wipe;
	}
	memcpy(h->msg1, msg, h->msg1_len);
	h->sock = (uint32_t)(slot % L->n_socks);
wipe:
	free(hs_cert);
	sodium_memzero(priv, sizeof(priv));
	return err;
}

static int prepare(struct hsload *L, uint32_t net, uint32_t mask,
		   const uint32_t *skip, size_t n_skip, struct vl_status *st)
{
	struct timespec now = realtime();
	uint32_t *ips, size = 1;
	int err;

	while (size < 2 * L->n)
		size <<= 1;
	L->index_mask = size - 1;
	L->by_index = calloc(size, sizeof(*L->by_index));
	L->hs = calloc(L->n, sizeof(*L->hs));
	L->lat_ms = calloc(L->n, sizeof(*L->lat_ms));
	ips = calloc(L->n, sizeof(*ips));
	if (!L->by_index || !L->hs || !L->lat_ms || !ips) {
		free(ips);
		return vl_status_set(st, -ENOMEM,
				     "out of memory for %zu handshakes", L->n);
	}
	err = pick_ips(net, mask, skip, n_skip, ips, L->n);
	if (err) {
		free(ips);
		return vl_status_set(
			st, err, "-cidr has fewer than %zu usable addresses",
			L->n);
	}
	for (size_t i = 0; i < L->n && !err; i++)
		err = prepare_one(L, i, ips[i], mask, &now, st);
	free(ips);
	return err;
}

/*
 * The source sockets. A simulated initiator sends from socket (its slot
 * % -s), so the responder sees -s distinct source ports. One port for all
 * would be unrealistic and would measure a limiter, not the responder:
 * Vela's dataplane admits handshake punts per source address and port
 * (20/s, burst 40, in 1024 hashed buckets: dataplane/inbound.c
 * punt_allowed), which a real network of many nodes, each with its own
 * address, passes. So keep n / -s small (HSLOAD_PER_SOCKET_SAFE). Each
 * socket is connected to the target, so the kernel drops datagrams from
 * anyone else.
 */
static int open_sockets(struct hsload *L, const struct sockaddr_storage *to,
			socklen_t to_len, struct vl_status *st)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)L->n_socks + 32;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	L->ep = epoll_create1(EPOLL_CLOEXEC);
	if (L->ep < 0)
		return vl_status_set(st, -errno, "epoll_create1: %s",
				     strerror(errno));
	L->socks = malloc(L->n_socks * sizeof(*L->socks));
	if (!L->socks)
		return vl_status_set(st, -ENOMEM, "out of memory");
	for (size_t i = 0; i < L->n_socks; i++)
		L->socks[i] = -1;
	for (size_t i = 0; i < L->n_socks; i++) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.u32 = (uint32_t)i };
		int fd = socket(to->ss_family,
				SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return vl_status_set(st, -errno,
					     "socket %zu of %zu: %s", i + 1,
					     L->n_socks, strerror(errno));
		L->socks[i] = fd;
		if (connect(fd, (const struct sockaddr *)to, to_len))
			return vl_status_set(st, -errno, "connect to %s: %s",
					     L->target, strerror(errno));
		if (epoll_ctl(L->ep, EPOLL_CTL_ADD, fd, &ev))
			return vl_status_set(st, -errno, "epoll_ctl: %s",
					     strerror(errno));
	}
	return 0;
}

/* A datagram on socket @sock: message 2 of one of ours, or ignored. */
static void on_datagram(struct hsload *L, uint32_t sock, const uint8_t *buf,
			size_t len, uint64_t now)
{
	struct wire_header hdr;
	struct hs_one *h;

	if (len < WIRE_HEADER_LEN + CTL_NOISE_MSG2_MIN || len > WIRE_MTU_MAX) {
		L->ignored++;
		return;
	}
	wire_header_decode(buf, &hdr);
	if (hdr.type != WIRE_HANDSHAKE || hdr.subtype != WIRE_SUB_IX_PSK0 ||
	    hdr.counter != WIRE_HS_MSG2 || !hdr.remote_index) {
		L->ignored++;
		return;
	}
	h = by_index(L, hdr.remote_index);
	/* The responder answers where message 1 came from (§1.1). */
	if (!h || h->sock != sock) {
		L->ignored++;
		return;
	}
	if (h->state != HS_SENT) {
		/* A duplicate, or an answer after we gave up. */
		L->late++;
		return;
	}
	h->msg2 = malloc(len);
	if (h->msg2) {
		memcpy(h->msg2, buf, len);
		h->msg2_len = (uint32_t)len;
	}
	h->recv_ns = now;
	h->state = HS_ANSWERED;
	L->answered++;
	L->in_flight--;
}

/* Reads what socket @sock has, a bounded number per call. */
static void drain(struct hsload *L, uint32_t sock)
{
	uint8_t *buf = L->rx;

	for (int k = 0; k < HSLOAD_RECV_BURST; k++) {
		ssize_t r = recv(L->socks[sock], buf, sizeof(L->rx), MSG_TRUNC);

		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* ICMP port unreachable, reported on connected sockets. */
			if (errno == ECONNREFUSED)
				L->refused++;
			continue;
		}
		if ((size_t)r > WIRE_MTU_MAX) {
			L->ignored++; /* truncated: longer than any message */
			continue;
		}
		on_datagram(L, sock, buf, (size_t)r, mono_ns());
	}
}

/* Sends message 1 of @h; false when the socket cannot take it now. */
static bool send_one(struct hsload *L, struct hs_one *h)
{
	int fd = L->socks[h->sock];

	for (int tries = 0; tries < 2; tries++) {
		ssize_t r = send(fd, h->msg1, h->msg1_len, 0);

		if (r == (ssize_t)h->msg1_len) {
			h->sent_ns = mono_ns();
			return true;
		}
		if (r >= 0 || errno != ECONNREFUSED)
			break;
		/*
		 * A pending ICMP error is reported instead of sending, and
		 * cleared: try once more.
		 */
		L->refused++;
	}
	return false;
}

/* The timed window. Returns once everything is answered or timed out, or at the deadline. */
static void run_window(struct hsload *L)
{
	struct epoll_event evs[HSLOAD_EVENTS];
	size_t next = 0, oldest = 0;
	uint64_t start = mono_ns(), end = start + L->deadline_ns;

	for (;;) {
		uint64_t now = mono_ns(), wake;
		bool blocked = false;
		int nev, ms;

		/* Sent in slot order, so the oldest in flight expires first. */
		for (; oldest < next; oldest++) {
			struct hs_one *h = &L->hs[oldest];

			if (h->state != HS_SENT)
				continue;
			if (now - h->sent_ns < L->timeout_ns)
				break;
			h->state = HS_TIMEOUT;
			L->timeouts++;
			L->in_flight--;
		}
		if (now >= end)
			break;
		while (next < L->n && L->in_flight < L->w) {
			struct hs_one *h = &L->hs[next];

			if (!send_one(L, h)) {
				/* A full socket buffer: retry soon. */
				blocked = true;
				break;
			}
			if (!L->sent)
				L->first_send_ns = h->sent_ns;
			h->state = HS_SENT;
			L->sent++;
			L->in_flight++;
			next++;
		}
		if (next == L->n && !L->in_flight)
			break;

		wake = end;
		if (oldest < next &&
		    L->hs[oldest].sent_ns + L->timeout_ns < wake)
			wake = L->hs[oldest].sent_ns + L->timeout_ns;
		now = mono_ns();
		ms = wake > now ? (int)((wake - now + NSEC_PER_MSEC - 1) /
					NSEC_PER_MSEC) :
				  0;
		if (blocked && ms > 1)
			ms = 1;
		nev = epoll_wait(L->ep, evs, HSLOAD_EVENTS, ms);
		for (int i = 0; i < nev; i++)
			drain(L, evs[i].data.u32);
	}
	/* What the deadline cut off counts as timed out. */
	for (; oldest < next; oldest++) {
		if (L->hs[oldest].state != HS_SENT)
			continue;
		L->hs[oldest].state = HS_TIMEOUT;
		L->timeouts++;
		L->in_flight--;
	}
}

/*
 * Message 2 as handshake.c's initiator() reads it: Noise, payload, our
 * index echoed, the responder's certificate against the CA pool.
 */
static int verify_one(struct hsload *L, struct hs_one *h,
		      const struct timespec *now, struct vl_status *st)
{
	uint8_t payload[WIRE_MTU_MAX], send_key[32], recv_key[32];
	struct ctl_hs_payload hp = { 0 };
	struct ctl_cert *c = NULL;
	size_t plen;
	int err;

	if (!h->msg2)
		return vl_status_set(st, -ENOMEM,
				     "out of memory for message 2");
	err = ctl_noise_read_msg2(&h->noise, h->msg2 + WIRE_HEADER_LEN,
				  h->msg2_len - WIRE_HEADER_LEN, payload,
				  sizeof(payload), &plen, st);
	if (err)
		return err; /* "noise: ..." */
	err = ctl_hs_decode(payload, plen, &hp, st);
	if (err)
		return err; /* "handshake payload ..." */
	if (hp.initiator_index != h->index || !hp.responder_index) {
		err = vl_status_set(
			st, -EBADMSG,
			"handshake payload: initiator index %" PRIu32
			" (ours %" PRIu32 "), responder index %" PRIu32,
			hp.initiator_index, h->index, hp.responder_index);
		goto release;
	}
	err = ctl_cert_decode_handshake(hp.cert, hp.cert_len,
					ctl_noise_remote_static(&h->noise), &c,
					st);
	if (!err)
		err = ctl_cert_verify(c, now, &L->pool, st);
	if (!err && !c->n_ips)
		err = vl_status_set(st, -EINVAL, "certificate has no IP");
	if (err) {
		vl_status_prefix(st, "responder certificate: ");
		goto release;
	}
	err = ctl_noise_split(&h->noise, send_key, recv_key);
	sodium_memzero(send_key, sizeof(send_key));
	sodium_memzero(recv_key, sizeof(recv_key));
	if (!err && !L->peer_name[0]) {
		snprintf(L->peer_name, sizeof(L->peer_name), "%s", c->name);
		vl_ip4_format(c->ips[0].ip, L->peer_ip, sizeof(L->peer_ip));
	}
release:
	ctl_cert_free(c);
	ctl_hs_release(&hp);
	return err;
}

static void verify(struct hsload *L)
{
	struct timespec now = realtime();

	for (size_t i = 0; i < L->n; i++) {
		struct hs_one *h = &L->hs[i];
		struct vl_status st = { "" };

		if (h->state != HS_ANSWERED)
			continue;
		if (verify_one(L, h, &now, &st)) {
			if (!L->invalid++)
				snprintf(L->first_error, sizeof(L->first_error),
					 "%s", st.msg);
			continue;
		}
		L->lat_ms[L->completed++] = (double)(h->recv_ns - h->sent_ns) /
					    (double)NSEC_PER_MSEC;
		if (h->recv_ns > L->last_done_ns)
			L->last_done_ns = h->recv_ns;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank of the sorted @v[0..n), n > 0. */
static double percentile(const double *v, size_t n, unsigned int pct)
{
	size_t rank = (n * pct + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void report(struct hsload *L, bool json)
{
	double secs = 0, rate = 0, p50 = 0, p99 = 0;
	size_t unsent = L->n - L->sent;

	if (L->completed) {
		secs = (double)(L->last_done_ns - L->first_send_ns) /
		       (double)NSEC_PER_SEC;
		rate = secs > 0 ? (double)L->completed / secs : 0;
		qsort(L->lat_ms, L->completed, sizeof(*L->lat_ms), cmp_double);
		p50 = percentile(L->lat_ms, L->completed, 50);
		p99 = percentile(L->lat_ms, L->completed, 99);
	}
	if (!json) {
		printf("vela-hsload: %s (%s%s%s), cipher %s: %zu handshakes, %zu in flight, %zu sockets\n",
		       L->target,
		       L->peer_name[0] ? L->peer_name : "no valid answer",
		       L->peer_ip[0] ? " " : "", L->peer_ip,
		       vl_cipher_name(L->cipher), L->n, L->w, L->n_socks);
		printf("sent %zu  completed %zu  invalid %zu  timeouts %zu  unsent %zu\n",
		       L->sent, L->completed, L->invalid, L->timeouts, unsent);
		printf("seconds %.3f  rate %.1f/s", secs, rate);
		if (L->completed)
			printf("  latency p50 %.2f ms  p99 %.2f ms", p50, p99);
		printf("\n");
		printf("generator CPU in the window %.3f s\n", L->cpu_s);
		if (L->ignored || L->late || L->refused)
			printf("ignored %zu datagrams, %zu late or duplicate answers, %zu ICMP refused\n",
			       L->ignored, L->late, L->refused);
		if (L->invalid)
			printf("first invalid answer: %s\n", L->first_error);
		return;
	}
	printf("{\"tool\":\"vela-hsload\",\"responder\":");
	json_str(stdout, L->target);
	printf(",\"responder_cert\":");
	if (L->peer_name[0])
		json_str(stdout, L->peer_name);
	else
		printf("null");
	printf(",\"responder_vpn_ip\":");
	if (L->peer_ip[0])
		json_str(stdout, L->peer_ip);
	else
		printf("null");
	printf(",\"cipher\":\"%s\",\"n\":%zu,\"in_flight\":%zu,\"sockets\":%zu,"
	       "\"timeout_ms\":%" PRIu64 ",\"sent\":%zu,\"completed\":%zu,"
	       "\"invalid\":%zu,\"timeouts\":%zu,\"unsent\":%zu,"
	       "\"ignored\":%zu,\"late\":%zu,\"icmp_refused\":%zu,"
	       "\"seconds\":%.6f,\"rate\":%.1f,\"generator_cpu_s\":%.3f,",
	       vl_cipher_name(L->cipher), L->n, L->w, L->n_socks,
	       L->timeout_ns / NSEC_PER_MSEC, L->sent, L->completed, L->invalid,
	       L->timeouts, unsent, L->ignored, L->late, L->refused, secs, rate,
	       L->cpu_s);
	if (L->completed)
		printf("\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,", p50,
		       p99);
	else
		printf("\"latency_p50_ms\":null,\"latency_p99_ms\":null,");
	printf("\"first_error\":");
	if (L->invalid)
		json_str(stdout, L->first_error);
	else
		printf("null");
	printf("}\n");
}

static void hsload_free(struct hsload *L)
{
	if (L->hs) {
		for (size_t i = 0; i < L->n; i++) {
			ctl_noise_wipe(&L->hs[i].noise);
			free(L->hs[i].msg1);
			free(L->hs[i].msg2);
		}
	}
	free(L->hs);
	free(L->by_index);
	free(L->lat_ms);
	if (L->socks)
		for (size_t i = 0; i < L->n_socks; i++)
			if (L->socks[i] >= 0)
				close(L->socks[i]);
	free(L->socks);
	if (L->ep >= 0)
		close(L->ep);
	ctl_cert_free(L->ca);
	ctl_capool_free(&L->pool);
	sodium_memzero(L->ca_sk, sizeof(L->ca_sk));
}

/* Flags into @L; -1 to go on, else the exit status (help, usage error). */
static int parse_args(struct hsload *L, int argc, char **argv,
		      struct hsload_opts *o, uint32_t *net, uint32_t *mask,
		      uint32_t *skip, size_t *n_skip,
		      struct sockaddr_storage *to, socklen_t *to_len)
{
	static const char *const required[] = { "ca-crt", "ca-key", "cidr",
						"target" };
	struct vl_status st = { "" };
	uint64_t deadline;
	int used, err;

	err = vl_flags_parse(hsload_flags, N_FLAGS, o, argc - 1, argv + 1,
			     &used, &st);
	if (err == VL_FLAGS_HELP) {
		help(stdout);
		return EXIT_OK;
	}
	if (err < 0)
		return usage_error("%s", st.msg);
	if (used != argc - 1)
		return usage_error("unexpected argument \"%s\"",
				   argv[used + 1]);
	{
		const char *vals[] = { o->ca_crt, o->ca_key, o->cidr,
				       o->target };

		for (size_t i = 0; i < 4; i++)
			if (!vals[i] || !*vals[i])
				return usage_error("-%s is required",
						   required[i]);
	}
	if (vl_cidr4_parse(o->cidr, net, mask))
		return usage_error("invalid value \"%s\" for flag -cidr: %s",
				   o->cidr,
				   "want an IPv4 network like 10.77.0.0/16");
	if (parse_count("n", o->n, 1, HSLOAD_N_MAX, &L->n) ||
	    parse_count("w", o->w, 1, HSLOAD_N_MAX, &L->w) ||
	    parse_count("s", o->s, 1, HSLOAD_SOCKETS_MAX, &L->n_socks) ||
	    parse_skip(o->skip, skip, n_skip) ||
	    parse_target(o->target, to, to_len))
		return EXIT_USAGE;
	if (!strcmp(o->cipher, "aes"))
		L->cipher = VL_CIPHER_AES;
	else if (!strcmp(o->cipher, "chachapoly"))
		L->cipher = VL_CIPHER_CHACHAPOLY;
	else
		return usage_error("invalid value \"%s\" for flag -cipher: %s",
				   o->cipher, "aes or chachapoly");
	if (o->timeout <= 0 || o->timeout > 3600 * (int64_t)NSEC_PER_SEC)
		return usage_error(
			"invalid value for flag -timeout: more than 0 and at most 1h");
	if (o->deadline < 0)
		return usage_error(
			"invalid value for flag -deadline: negative");
	if (L->w > L->n)
		L->w = L->n;
	if (L->n_socks > L->n)
		L->n_socks = L->n;
	L->timeout_ns = (uint64_t)o->timeout;
	/* Enough for every handshake to time out, one window after another. */
	deadline = (uint64_t)L->n * L->timeout_ns / L->w +
		   HSLOAD_DEADLINE_SLACK_S * NSEC_PER_SEC;
	L->deadline_ns = o->deadline ? (uint64_t)o->deadline : deadline;
	L->target = o->target;
	return -1;
}

int main(int argc, char **argv)
{
	struct hsload_opts o = opts_default;
	struct hsload L = { .ep = -1 };
	uint32_t net, mask, skip[HSLOAD_SKIP_MAX];
	struct sockaddr_storage to;
	struct vl_status st = { "" };
	socklen_t to_len = 0;
	size_t n_skip = 0;
	uint64_t t0;
	int rc;

	ctl_capool_init(&L.pool);
	rc = parse_args(&L, argc, argv, &o, &net, &mask, skip, &n_skip, &to,
			&to_len);
	if (rc >= 0)
		return rc;
	if (sodium_init() < 0 || vl_aead_init()) {
		fprintf(stderr, "vela-hsload: crypto library setup failed\n");
		return EXIT_FAIL;
	}
	if (L.n > (size_t)HSLOAD_PER_SOCKET_SAFE * L.n_socks)
		fprintf(stderr,
			"vela-hsload: warning: %zu handshakes per source port; Vela's per-source limit (40 at once, shared by sources in one hash bucket) may drop some: -s %zu avoids it\n",
			(L.n + L.n_socks - 1) / L.n_socks,
			(L.n + HSLOAD_PER_SOCKET_SAFE - 1) /
				HSLOAD_PER_SOCKET_SAFE);

	t0 = mono_ns();
	if (load_ca(&L, &o, &st) || prepare(&L, net, mask, skip, n_skip, &st) ||
	    open_sockets(&L, &to, to_len, &st)) {
		fprintf(stderr, "vela-hsload: %s\n", st.msg);
		hsload_free(&L);
		return EXIT_FAIL;
	}
	fprintf(stderr, "vela-hsload: %zu initiators prepared in %.2f s\n", L.n,
		(double)(mono_ns() - t0) / (double)NSEC_PER_SEC);

	L.cpu_s = cpu_seconds();
	run_window(&L);
	L.cpu_s = cpu_seconds() - L.cpu_s;
	verify(&L);
	report(&L, o.json);
	rc = L.completed ? EXIT_OK : EXIT_FAIL;
	hsload_free(&L);
	return rc;
}
