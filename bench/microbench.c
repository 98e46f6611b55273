/* SPDX-License-Identifier: MIT */
#include "microbench.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flags.h"
#include "status.h"

/* ---- Command line ---------------------------------------------------------- */

/* The flags as vl_flags sees them: strings, converted after parsing. */
struct mb_args {
	const char *t, *s, *b, *c;
	bool j;
	bool help;
};

static const struct vl_flag mb_flags[] = {
	{ "t", VL_FLAG_STRING, offsetof(struct mb_args, t),
	  "timed seconds per case" },
	{ "s", VL_FLAG_STRING, offsetof(struct mb_args, s),
	  "payload sizes in bytes, comma-separated" },
	{ "b", VL_FLAG_STRING, offsetof(struct mb_args, b),
	  "packets per burst" },
	{ "c", VL_FLAG_STRING, offsetof(struct mb_args, c),
	  "CPU to pin to (default: the one it starts on)" },
	{ "j", VL_FLAG_BOOL, offsetof(struct mb_args, j),
	  "print one JSON object instead of a table" },
};

#define MB_N_FLAGS (sizeof(mb_flags) / sizeof(mb_flags[0]))

static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *out < min || *out > max)
		return -EINVAL;
	return 0;
}

static int parse_sizes(struct mb_cfg *cfg, const char *s, struct vl_status *st)
{
	char buf[256], *save = NULL, *tok;
	unsigned int n = 0;

	if (strlen(s) >= sizeof(buf))
		return vl_status_set(st, -EINVAL, "-s: list too long");
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long v;

		if (n == MB_SIZES_MAX)
			return vl_status_set(st, -EINVAL,
					     "-s: at most %d sizes",
					     MB_SIZES_MAX);
		if (parse_uint(tok, cfg->size_min, cfg->size_max, &v))
			return vl_status_set(
				st, -EINVAL,
				"-s: \"%s\" is not a size in %u..%u", tok,
				cfg->size_min, cfg->size_max);
		cfg->sizes[n++] = (unsigned int)v;
	}
	if (!n)
		return vl_status_set(st, -EINVAL, "-s: no sizes");
	cfg->n_sizes = n;
	return 0;
}

static int convert(struct mb_cfg *cfg, const struct mb_args *a,
		   struct vl_status *st)
{
	unsigned long v;
	char *end;

	if (a->t) {
		errno = 0;
		cfg->seconds = strtod(a->t, &end);
		if (errno || end == a->t || *end || !(cfg->seconds > 0) ||
		    cfg->seconds > 3600)
			return vl_status_set(
				st, -EINVAL,
				"-t: \"%s\" is not a duration in seconds",
				a->t);
	}
	if (a->s && parse_sizes(cfg, a->s, st))
		return -EINVAL;
	if (a->b) {
		if (parse_uint(a->b, 1, cfg->burst_max, &v))
			return vl_status_set(
				st, -EINVAL,
				"-b: \"%s\" is not a burst in 1..%u", a->b,
				cfg->burst_max);
		cfg->burst = (unsigned int)v;
	}
	if (a->c) {
		if (parse_uint(a->c, 0, CPU_SETSIZE - 1, &v))
			return vl_status_set(st, -EINVAL,
					     "-c: \"%s\" is not a CPU number",
					     a->c);
		cfg->cpu = (int)v;
	}
	cfg->json = a->j;
	return 0;
}

static void usage(FILE *out, const char *tool, const char *about,
		  const struct mb_cfg *cfg)
{
	char t[32], s[128] = "", b[16];
	struct mb_args def = { .t = t, .s = s, .b = b, .c = "" };
	size_t used = 0;

	snprintf(t, sizeof(t), "%g", cfg->seconds);
	for (unsigned int i = 0; i < cfg->n_sizes && used < sizeof(s); i++)
		used += (size_t)snprintf(s + used, sizeof(s) - used, "%s%u",
					 i ? "," : "", cfg->sizes[i]);
	snprintf(b, sizeof(b), "%u", cfg->burst);
	fprintf(out, "Usage of %s:\n%s\n", tool, about);
	vl_flags_print_defaults(out, mb_flags, MB_N_FLAGS, &def);
}

int mb_cfg_parse(struct mb_cfg *cfg, const char *tool, const char *about,
		 int argc, char **argv)
{
	const struct mb_cfg def =
		*cfg; /* for the usage: convert() writes cfg */
	struct vl_status st = { "" };
	struct mb_args a = { 0 };
	int used, err;

	err = vl_flags_parse(mb_flags, MB_N_FLAGS, &a, argc, argv, &used, &st);
	if (err == VL_FLAGS_HELP) {
		usage(stdout, tool, about, &def);
		return 1;
	}
	if (!err && used < argc)
		err = vl_status_set(&st, -EINVAL, "unexpected argument \"%s\"",
				    argv[used]);
	if (!err)
		err = convert(cfg, &a, &st);
	if (err) {
		fprintf(stderr, "%s: %s\n", tool, st.msg);
		usage(stderr, tool, about, &def);
		return 2;
	}
	return 0;
}

/* ---- CPU and clocks -------------------------------------------------------- */

int mb_pin(struct mb_cfg *cfg)
{
	cpu_set_t set;

	if (cfg->cpu < 0) {
		cfg->cpu = sched_getcpu();
		if (cfg->cpu < 0)
			return -errno;
	}
	CPU_ZERO(&set);
	CPU_SET(cfg->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return 0;
}

double mb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Both clocks read back to back at each end, the TSC inside the clock
 * reads, so the interval each measures covers the other's; over 50 ms the
 * few hundred nanoseconds of a clock_gettime() are below 1e-5.
 */
double mb_tsc_hz(void)
{
	double t0, t1;
	uint64_t c0, c1;

	t0 = mb_now();
	c0 = mb_tsc_begin();
	do {
		t1 = mb_now();
	} while (t1 - t0 < 0.05);
	c1 = mb_tsc_end();
	return (double)(c1 - c0) / (t1 - t0);
}

/* ---- Timing loop ------------------------------------------------------------ */

static uint64_t run_step(const struct mb_case *c, uint64_t *packets)
{
	uint64_t t0, t1;

	if (c->prepare)
		c->prepare(c->arg);
	t0 = mb_tsc_begin();
	*packets += c->step(c->arg);
	t1 = mb_tsc_end();
	if (c->finish)
		c->finish(c->arg);
	return t1 - t0;
}

void mb_measure(const struct mb_case *c, double seconds, double tsc_hz,
		struct mb_result *r)
{
	double warm = seconds / 10 < 0.1 ? seconds / 10 : 0.1;
	uint64_t budget = (uint64_t)(warm * tsc_hz), spent = 0, ignored = 0;
	unsigned int steps = 0;

	/* Caches, branch predictors, the CPU's clock: up to speed first. */
	while (spent < budget || steps < 8) {
		spent += run_step(c, &ignored);
		steps++;
	}

	memset(r, 0, sizeof(*r));
	budget = (uint64_t)(seconds * tsc_hz);
	while (r->tsc < budget) {
		r->tsc += run_step(c, &r->packets);
		r->steps++;
	}
	r->seconds = (double)r->tsc / tsc_hz;
}

/* ---- Output ----------------------------------------------------------------- */

struct mb_row {
	unsigned int n;
	struct mb_field f[MB_FIELDS_MAX];
};

struct mb_report {
	const char *tool;
	const struct mb_cfg *cfg;
	double tsc_hz;
	bool header_done;
	unsigned int n_rows, cap;
	struct mb_row *rows;
};

struct mb_report *mb_report_new(const char *tool, const struct mb_cfg *cfg,
				double tsc_hz)
{
	struct mb_report *rep = calloc(1, sizeof(*rep));

	if (!rep)
		return NULL;
	rep->tool = tool;
	rep->cfg = cfg;
	rep->tsc_hz = tsc_hz;
	if (!cfg->json)
		printf("%s: CPU %d, TSC %.3f GHz, %g s per case, burst %u\n"
		       "(cycles are TSC cycles; seconds are timed TSC cycles / TSC rate)\n\n",
		       tool, cfg->cpu, tsc_hz / 1e9, cfg->seconds, cfg->burst);
	return rep;
}

static void table_header(const struct mb_field *f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (f[i].title && f[i].width)
			printf("%s%*s", i ? " " : "", f[i].width, f[i].title);
	printf("\n");
}

static void table_row(const struct mb_field *f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		int w = f[i].width;

		if (!f[i].title)
			continue;
		if (i)
			printf(" ");
		switch (f[i].kind) {
		case MB_STR:
			printf("%*s", w, f[i].s);
			break;
		case MB_UINT:
			printf("%*llu", w, (unsigned long long)f[i].u);
			break;
		case MB_REAL:
			printf("%*.*f", w, f[i].prec, f[i].d);
			break;
		case MB_NULL:
			printf("%*s", w, "-");
			break;
		}
	}
	printf("\n");
}

int mb_report_row(struct mb_report *rep, const struct mb_field *f,
		  unsigned int n)
{
	struct mb_row *r;

	if (n > MB_FIELDS_MAX)
		return -EINVAL;
	if (!rep->cfg->json) {
		if (!rep->header_done)
			table_header(f, n);
		rep->header_done = true;
		table_row(f, n);
		fflush(stdout);
	}
	if (rep->n_rows == rep->cap) {
		unsigned int cap = rep->cap ? 2 * rep->cap : 32;
		struct mb_row *rows = realloc(rep->rows, cap * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		rep->rows = rows;
		rep->cap = cap;
	}
	r = &rep->rows[rep->n_rows++];
	r->n = n;
	memcpy(r->f, f, n * sizeof(*f));
	return 0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_field(const struct mb_field *f)
{
	json_str(f->key);
	putchar(':');
	switch (f->kind) {
	case MB_STR:
		json_str(f->s);
		break;
	case MB_UINT:
		printf("%llu", (unsigned long long)f->u);
		break;
	case MB_REAL:
		if (isfinite(f->d))
			printf("%.6g", f->d);
		else
			printf("null");
		break;
	case MB_NULL:
		printf("null");
		break;
	}
}

void mb_report_end(struct mb_report *rep, const struct mb_field *extra,
		   unsigned int n_extra)
{
	const struct mb_cfg *cfg = rep->cfg;

	if (cfg->json) {
		printf("{\"tool\":");
		json_str(rep->tool);
		printf(",\"tsc_hz\":%.0f,\"cpu\":%d,\"seconds_per_case\":%g,"
		       "\"burst\":%u",
		       rep->tsc_hz, cfg->cpu, cfg->seconds, cfg->burst);
		for (unsigned int i = 0; i < n_extra; i++) {
			putchar(',');
			json_field(&extra[i]);
		}
		printf(",\"rows\":[");
		for (unsigned int i = 0; i < rep->n_rows; i++) {
			printf("%s\n {", i ? "," : "");
			for (unsigned int k = 0; k < rep->rows[i].n; k++) {
				if (k)
					putchar(',');
				json_field(&rep->rows[i].f[k]);
			}
			putchar('}');
		}
		printf("\n]}\n");
	}
	fflush(stdout);
	free(rep->rows);
	free(rep);
}
