/* SPDX-License-Identifier: MIT */
#ifndef MB_MICROBENCH_H
#define MB_MICROBENCH_H

/*
 * What the two microbenchmarks (aead_bench.c, pipeline_bench.c) share: the
 * command line, pinning to one CPU, the TSC and its rate, the timing loop
 * and the output (a table for people, one JSON object for bench/run.sh).
 *
 * Timing. A case is a step (one burst, timed) with optional untimed work
 * before and after it: opening needs something freshly sealed, the
 * pipeline's encrypt stage needs its packets decrypted again before the
 * next burst. Each step is bracketed by the TSC (serialised with lfence so
 * the burst is neither started early nor finished late), and a case runs
 * until the timed cycles add up to the requested seconds. Seconds in the
 * output are therefore timed TSC cycles / TSC rate, not wall time: the
 * untimed work is left out, and the two agree when there is none. Cycle
 * counts are TSC cycles (the reference clock), not core cycles: the core
 * may run faster or slower than the TSC, and perf's cycle counters are not
 * available in the VMs this runs in.
 *
 * Single-threaded throughout; nothing here is shared between threads.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define MB_SIZES_MAX 16
#define MB_FIELDS_MAX 16

/* The command line both tools take; the tool fills in its defaults first. */
struct mb_cfg {
	double seconds; /* -t: timed seconds per case */
	unsigned int n_sizes; /* -s: comma-separated payload sizes */
	unsigned int sizes[MB_SIZES_MAX];
	unsigned int burst; /* -b: packets per step */
	int cpu; /* -c: CPU to pin to; -1 = the current one */
	bool json; /* -j */
	/* Limits the tool accepts. */
	unsigned int size_min, size_max, burst_max;
};

/*
 * Parses argv (after the program name) into @cfg. Returns 0; 1 after
 * printing the usage for -h; 2 after printing why the command line is bad
 * (the exit status either way).
 */
int mb_cfg_parse(struct mb_cfg *cfg, const char *tool, const char *about,
		 int argc, char **argv);

/*
 * Pins the calling thread to cfg->cpu (the CPU it runs on now when -1) and
 * stores the CPU chosen there. 0 or -errno.
 */
int mb_pin(struct mb_cfg *cfg);

/* TSC reads that keep the timed work between them (x86-64 only). */
static inline uint64_t mb_tsc_begin(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t mb_tsc_end(void)
{
	uint32_t lo, hi, aux;

	__asm__ __volatile__("rdtscp\n\tlfence"
			     : "=a"(lo), "=d"(hi), "=c"(aux)::"memory");
	return (uint64_t)hi << 32 | lo;
}

/* TSC ticks per second: the TSC against CLOCK_MONOTONIC over ~50 ms. */
double mb_tsc_hz(void);

/* CLOCK_MONOTONIC in seconds. */
double mb_now(void);

/* One case: @step is timed, @prepare and @finish (may be NULL) are not. */
struct mb_case {
	void (*prepare)(void *arg);
	unsigned int (*step)(void *arg); /* returns the packets it handled */
	void (*finish)(void *arg);
	void *arg;
};

struct mb_result {
	uint64_t steps;
	uint64_t packets;
	uint64_t tsc; /* timed TSC cycles */
	double seconds; /* tsc / tsc_hz */
};

/*
 * Warms up (a tenth of @seconds, at most 0.1 s, and at least a few steps),
 * then runs steps until their timed cycles reach @seconds.
 */
void mb_measure(const struct mb_case *c, double seconds, double tsc_hz,
		struct mb_result *r);

/*
 * Output. A row is a list of fields; a field with a title is a table
 * column of that width (precision for reals), one without is JSON only.
 * MB_NULL prints null in JSON and "-" in the table. Strings must outlive
 * the report (literals, in practice): rows are kept until mb_report_end.
 */
enum mb_kind { MB_STR, MB_UINT, MB_REAL, MB_NULL };

struct mb_field {
	const char *key;
	const char *title; /* NULL: JSON only */
	int width, prec;
	enum mb_kind kind;
	union {
		const char *s;
		uint64_t u;
		double d;
	};
};

#define MB_STRF(k, t, w, v)                 \
	((struct mb_field){ .key = (k),     \
			    .title = (t),   \
			    .width = (w),   \
			    .kind = MB_STR, \
			    .s = (v) })
#define MB_UINTF(k, t, w, v)                 \
	((struct mb_field){ .key = (k),      \
			    .title = (t),    \
			    .width = (w),    \
			    .kind = MB_UINT, \
			    .u = (v) })
#define MB_REALF(k, t, w, p, v)              \
	((struct mb_field){ .key = (k),      \
			    .title = (t),    \
			    .width = (w),    \
			    .prec = (p),     \
			    .kind = MB_REAL, \
			    .d = (v) })
#define MB_NULLF(k, t, w)   \
	((struct mb_field){ \
		.key = (k), .title = (t), .width = (w), .kind = MB_NULL })

struct mb_report;

/* NULL on allocation failure. @cfg must outlive the report. */
struct mb_report *mb_report_new(const char *tool, const struct mb_cfg *cfg,
				double tsc_hz);

/* Adds a row; the table prints it at once (and a header first if needed). */
int mb_report_row(struct mb_report *rep, const struct mb_field *f,
		  unsigned int n);

/*
 * Prints the JSON object (with -j): tool, tsc_hz, cpu, seconds per case,
 * burst, then @extra top-level fields, then the rows. Frees the report.
 */
void mb_report_end(struct mb_report *rep, const struct mb_field *extra,
		   unsigned int n_extra);

#endif /* MB_MICROBENCH_H */
