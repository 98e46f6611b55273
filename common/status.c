/* SPDX-License-Identifier: MIT */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int vl_status_set(struct vl_status *st, int err, const char *fmt, ...)
{
	va_list ap;

	if (!st)
		return err;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
	return err;
}

void vl_status_prefix(struct vl_status *st, const char *fmt, ...)
{
	char old[VL_STATUS_MAX];
	size_t n;
	va_list ap;

	if (!st)
		return;
	memcpy(old, st->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
	n = strlen(st->msg);
	if (n < sizeof(st->msg))
		snprintf(st->msg + n, sizeof(st->msg) - n, "%s", old);
}
