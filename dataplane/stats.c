/* SPDX-License-Identifier: MIT */
#include "stats.h"

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
