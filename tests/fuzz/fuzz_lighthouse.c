/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for NebulaMeta, the lighthouse messages a peer sends on
 * a tunnel: decoding must survive anything, and what decodes must encode
 * and decode again to the same message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lighthouse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_lh_msg m, again;
	uint8_t out[16384];
	size_t len;

	if (ctl_lh_decode(data, size, &m))
		return 0;
	if (ctl_lh_encode(&m, out, sizeof(out), &len))
		abort(); /* we decoded something we cannot write */
	if (ctl_lh_decode(out, len, &again) ||
	    memcmp(&m, &again, sizeof(m)) != 0)
		abort(); /* not a round trip */
	return 0;
}
