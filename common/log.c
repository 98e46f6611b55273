/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longer lines are cut: a log line is a message, not a payload. */
#define LINE_MAX_LEN 4096

static enum vl_log_level max_level = VL_LOG_INFO;
static bool as_json, no_time;

static const char *const names[] = { "panic", "fatal", "error", "warning",
				     "info",  "debug", "trace" };

void vl_log_setup(enum vl_log_level level, bool json, bool disable_timestamp)
{
	max_level = level;
	as_json = json;
	no_time = disable_timestamp;
}

bool vl_log_enabled(enum vl_log_level level)
{
	return level <= max_level;
}

/* A value quoted as logrus does it: bare when it is a plain word. */
static void put_text_value(FILE *f, const char *v)
{
	bool bare = *v != '\0';

	for (const char *p = v; *p && bare; p++)
		bare = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || strchr("-._/@^+", *p);
	if (bare) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		if ((unsigned char)*v < 0x20)
			fprintf(f, "\\x%02x", (unsigned char)*v);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void put_json_string(FILE *f, const char *v)
{
	fputc('"', f);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fprintf(f, "\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*v);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

/*
 * One write(2) per line: both daemons may share a log file (the vela
 * supervisor gives them the same stderr), and a line written in pieces
 * could be interleaved with the other's.
 */
void vl_log(enum vl_log_level level, const char *msg, ...)
{
	char line[LINE_MAX_LEN], ts[40] = "";
	struct timespec now;
	struct tm tm;
	va_list ap;
	size_t len;
	FILE *f;

	if (!vl_log_enabled(level))
		return;
	f = fmemopen(line, sizeof(line), "w");
	if (!f)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	if (gmtime_r(&now.tv_sec, &tm))
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

	if (as_json) {
		fprintf(f, "{\"level\":\"%s\",\"msg\":", names[level]);
		put_json_string(f, msg);
		if (!no_time)
			fprintf(f, ",\"time\":\"%s\"", ts);
	} else {
		if (!no_time)
			fprintf(f, "time=\"%s\" ", ts);
		fprintf(f, "level=%s msg=", names[level]);
		put_text_value(f, msg);
	}
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *), *v;

		if (!k)
			break;
		v = va_arg(ap, const char *);
		if (as_json) {
			fputc(',', f);
			put_json_string(f, k);
			fputc(':', f);
			put_json_string(f, v ? v : "");
		} else {
			fprintf(f, " %s=", k);
			put_text_value(f, v ? v : "");
		}
	}
	va_end(ap);
	fputs(as_json ? "}" : "", f);
	len = (size_t)ftell(f);
	fclose(f);
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
		return; /* nowhere left to report it */
}
