/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the xsk port's frame parser, dp_xw_parse(): the input
 * is one frame as the RX ring would hand it over (the port is 4242).
 * Checked besides "no crash" (the frame is an exact-size copy, so ASan
 * sees any read past it): an accepted datagram lies inside the frame after
 * at least Ethernet, IP and UDP headers, and a frame built from it with
 * dp_xw_build() parses back to the same payload and addresses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ref_csum.h"
#include "xsk_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[4096];
	uint8_t *frame = malloc(size ? size : 1);
	struct dp_nh_entry e = { .mtu = 0 };
	struct dp_pkt out, back;
	uint32_t len;

	if (!frame || size > 65536) {
		free(frame);
		return 0;
	}
	memcpy(frame, data, size);
	if (dp_xw_parse(frame, (uint32_t)size, htons(4242), &out) != DP_XW_OK) {
		free(frame);
		return 0;
	}
	need(out.data >= frame + 14 + 20 + 8);
	need(out.data + out.len <= frame + size);
	need(out.addr.sin6_family == AF_INET6);

	/* Back to where it came from, then parsed again. */
	e.dst = out.addr.sin6_addr;
	memset(&e.src, 0, sizeof(e.src));
	if (IN6_IS_ADDR_V4MAPPED(&e.dst)) {
		e.src.s6_addr[10] = e.src.s6_addr[11] = 0xff;
		e.src.s6_addr[15] = 1;
	} else {
		e.src.s6_addr[15] = 1;
	}
	len = dp_xw_build(&e, &out, htons(4242), 1, again, sizeof(again));
	if (len) {
		need(dp_xw_parse(again, len, out.addr.sin6_port, &back) ==
		     DP_XW_OK);
		need(back.len == out.len &&
		     !memcmp(back.data, out.data, out.len));
		need(!memcmp(&back.addr.sin6_addr, &e.src, sizeof(e.src)));
		if (!IN6_IS_ADDR_V4MAPPED(&e.dst))
			need(ref_l4_ok(again + 14, 40, IPPROTO_UDP, len - 14));
		else
			need(ref_ip4_ok(again + 14));
	}
	free(frame);
	return 0;
}
