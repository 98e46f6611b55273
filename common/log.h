/* SPDX-License-Identifier: MIT */
#ifndef VL_LOG_H
#define VL_LOG_H

/*
 * Logging as nebula's logrus writes it, so tools that read nebula's logs
 * read ours: text (time="..." level=info msg="..." key=value) or JSON, with
 * nebula's field names. Levels follow logging.level. Lifecycle events and
 * rare per-peer events only; per-packet events are counters.
 *
 *   vl_log(VL_LOG_INFO, "Handshake message sent", "vpnIp", ip, NULL);
 *
 * Fields are name/value string pairs ended by NULL.
 */

#include <stdbool.h>

enum vl_log_level {
	VL_LOG_PANIC,
	VL_LOG_FATAL,
	VL_LOG_ERROR,
	VL_LOG_WARN,
	VL_LOG_INFO,
	VL_LOG_DEBUG,
	VL_LOG_TRACE,
};

void vl_log_setup(enum vl_log_level level, bool json, bool disable_timestamp);
bool vl_log_enabled(enum vl_log_level level);
void vl_log(enum vl_log_level level, const char *msg, ...)
	__attribute__((sentinel));

#endif /* VL_LOG_H */
