// SPDX-License-Identifier: MIT
/*
 * The Prometheus text format writer (prom.h). Values: counters are
 * uint64_t and printed exactly; Prometheus reads them as float64, which
 * is exact up to 2^53.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

void prom_init(struct prom *p, const char *prefix)
{
	memset(p, 0, sizeof(*p));
	p->prefix = prefix;
}

void prom_free(struct prom *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

static bool reserve(struct prom *p, size_t more)
{
	size_t cap = p->cap ? p->cap : 16384;
	char *b;

	if (p->oom)
		return false;
	if (p->len + more + 1 <= p->cap)
		return true;
	while (cap < p->len + more + 1)
		cap *= 2;
	b = realloc(p->buf, cap);
	if (!b) {
		p->oom = true;
		return false;
	}
	p->buf = b;
	p->cap = cap;
	return true;
}

static void put(struct prom *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct prom *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(p, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(p->buf + p->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	p->len += (size_t)n;
}

/* A label value: backslash, double quote and newline escaped. */
static void put_escaped(struct prom *p, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			put(p, "\\\\");
		else if (*v == '"')
			put(p, "\\\"");
		else if (*v == '\n')
			put(p, "\\n");
		else
			put(p, "%c", *v);
	}
}

void prom_family(struct prom *p, const char *name, const char *type,
		 const char *help)
{
	p->family = name;
	put(p, "# HELP %s%s %s\n# TYPE %s%s %s\n", p->prefix, name, help,
	    p->prefix, name, type);
}

static void sample_name(struct prom *p, const char *suffix,
			const struct prom_label *l, size_t n)
{
	put(p, "%s%s%s", p->prefix, p->family, suffix);
	if (!n)
		return;
	put(p, "{");
	for (size_t i = 0; i < n; i++) {
		put(p, "%s%s=\"", i ? "," : "", l[i].name);
		put_escaped(p, l[i].value);
		put(p, "\"");
	}
	put(p, "}");
}

void prom_u64(struct prom *p, const char *suffix, const struct prom_label *l,
	      size_t n, uint64_t v)
{
	sample_name(p, suffix, l, n);
	put(p, " %llu\n", (unsigned long long)v);
}

void prom_double(struct prom *p, const char *suffix,
		 const struct prom_label *l, size_t n, double v)
{
	sample_name(p, suffix, l, n);
	if (isnan(v))
		put(p, " NaN\n");
	else if (isinf(v))
		put(p, " %s\n", v > 0 ? "+Inf" : "-Inf");
	else
		put(p, " %.9g\n", v);
}

void prom_one(struct prom *p, const char *name, const char *type,
	      const char *help, uint64_t v)
{
	prom_family(p, name, type, help);
	prom_u64(p, "", NULL, 0, v);
}

int prom_finish(struct prom *p)
{
	if (!reserve(p, 0))
		return -ENOMEM;
	p->buf[p->len] = '\0';
	return 0;
}
