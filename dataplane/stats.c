/* SPDX-License-Identifier: MIT */
#include "stats.h"
#include "xdp_steer.h"

/*
 * The names of the counters, here rather than beside the code that counts
 * them: vela-control links this file alone to name them in its metrics.
 */

const char *const dp_drop_names[DP_DROP_MAX] = {
#define DP_DROP_NAME(name, text) [DP_DROP_##name] = #name,
	DP_DROP_REASONS(DP_DROP_NAME)
#undef DP_DROP_NAME
};

const char *const dp_drop_texts[DP_DROP_MAX] = {
#define DP_DROP_TEXT(name, text) [DP_DROP_##name] = text,
	DP_DROP_REASONS(DP_DROP_TEXT)
#undef DP_DROP_TEXT
};

const char *dp_xdp_counter_name(enum dp_xdp_counter c)
{
	switch (c) {
	case DP_XDP_STEERED:
		return "steered";
	case DP_XDP_NO_XSK:
		return "no_xsk";
	case DP_XDP_OTHER_DEST:
		return "other_dest";
	case DP_XDP_NOT_UDP:
		return "not_udp";
	case DP_XDP_NOT_IP:
		return "not_ip";
	case DP_XDP_FRAGMENT:
		return "fragment";
	case DP_XDP_IP6_EXT:
		return "ip6_ext";
	case DP_XDP_MALFORMED:
		return "malformed";
	case DP_XDP_COUNTERS:
		break;
	}
	return "?";
}

const char *dp_xdp_mode_name(enum dp_xdp_mode mode)
{
	switch (mode) {
	case DP_XDP_AUTO:
		return "auto";
	case DP_XDP_NATIVE:
		return "native";
	case DP_XDP_GENERIC:
		return "generic";
	}
	return "?";
}
