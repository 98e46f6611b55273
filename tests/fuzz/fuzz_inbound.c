/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the dataplane's inbound stage: the input is split
 * into datagrams (2-byte length prefixes) and run through dp_in_burst on a
 * worker holding one tunnel (index 0xa0b0c0d0) whose keys the fuzzer may
 * learn from the seed corpus. Checks the stage's own promises besides "no
 * crash": every datagram is accounted for, outputs stay inside their
 * arrays, and TUN output points inside the datagram it came from.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "status.h"
#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Appendix A, AES-GCM: host-a -> host-b (k1) and back (k2); we are host-b. */
static const uint8_t k1[32] = {
	0xb5, 0xf7, 0x4f, 0xd7, 0x88, 0x4b, 0x91, 0xd8,
	0xe4, 0x0f, 0x6e, 0xab, 0x93, 0x5c, 0x44, 0x95,
	0xa3, 0x2c, 0x9f, 0x29, 0x47, 0xb0, 0x7f, 0x50,
	0x67, 0x3e, 0x91, 0x00, 0x6d, 0xf5, 0xcf, 0x79,
};
static const uint8_t k2[32] = {
	0x0c, 0x06, 0xb0, 0x46, 0x6d, 0x8a, 0x5e, 0x3e,
	0x9a, 0xcf, 0x81, 0xfa, 0x08, 0x8b, 0x86, 0x87,
	0x50, 0x26, 0xc8, 0x34, 0x5d, 0xa3, 0x8a, 0x72,
	0x08, 0x3a, 0x34, 0x47, 0x78, 0x10, 0x99, 0x27,
};

static struct dp_shared shared;
static struct dp_worker w;
static struct dp_sa *sa;
static uint8_t bufs[DP_BURST_MAX][9216];

static void init(void)
{
	struct ctlmsg_tunnel_add m = {
		.local_index = 0xa0b0c0d0, .remote_index = 0x01020304,
		.vpn_ip = 0x0a010001, .cipher = VL_CIPHER_AES,
		.send_counter = 2, .lease_end = 1u << 20, .recv_max = 2,
		.n_peer_nets = 1, .peer_nets = { { 0x0a010001, 0xffffffff } },
		.remote = { .sin6_family = AF_INET6 },
	};
	struct vl_status st;

	if (vl_aead_init())
		abort();
	memcpy(m.send_key, k2, 32);
	memcpy(m.recv_key, k1, 32);
	shared.setup.vpn = (struct ctlmsg_net){ 0x0a010002, 0xffff0000 };
	shared.setup.n_local_nets = 1;
	shared.setup.local_nets[0] = (struct ctlmsg_net){ 0x0a010002,
							  0xffffffff };
	shared.setup.pending_timeout_ms = 1000;
	if (dp_sa_new(&m, &sa, &st) || dp_worker_init(&w, 0, &shared))
		abort();
	atomic_store(&shared.sa_table, dp_sa_table_build(&sa, 1));
}

static uint64_t outcomes(void)
{
	uint64_t sum = w.stats.punches + w.stats.test_replies +
		       atomic_load(&sa->rx_packets);

	for (int i = 0; i < DP_DROP_MAX; i++)
		sum += w.stats.drops[i];
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_pkt pkts[DP_BURST_MAX];
	unsigned int n = 0;
	uint64_t before = 0, after = 0;

	if (!sa)
		init();
	while (size >= 2 && n < DP_BURST_MAX) {
		size_t len = (size_t)data[0] << 8 | data[1];

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if (len > sizeof(bufs[0]))
			len = sizeof(bufs[0]);
		memcpy(bufs[n], data, len);
		pkts[n] = (struct dp_pkt){ .data = bufs[n],
					   .len = (uint32_t)len };
		pkts[n].addr.sin6_family = AF_INET6;
		data += len;
		size -= len;
		n++;
	}
	/*
	 * Every datagram has at least one outcome: a drop, a punch, a TUN
	 * packet, a punt, a test reply, or an accepted message on the SA
	 * (a test reply from the peer only counts there).
	 */
	before = outcomes();
	dp_worker_begin(&w, 1000);
	dp_in_burst(&w, pkts, n);
	after = outcomes() + w.n_to_tun + w.n_punts;

	if (w.n_to_tun > n || w.n_punts > DP_BURST_MAX ||
	    w.n_to_net > 2 * DP_BURST_MAX || after - before < n)
		abort();
	for (unsigned int i = 0; i < w.n_to_tun; i++) {
		bool inside = false;

		for (unsigned int k = 0; k < n && !inside; k++)
			inside = w.to_tun[i] >= pkts[k].data &&
				 w.to_tun[i] + w.to_tun_len[i] <=
					 pkts[k].data + pkts[k].len;
		if (!inside)
			abort();
	}
	return 0;
}
