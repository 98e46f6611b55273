/* SPDX-License-Identifier: MIT */
#ifndef CTL_PROM_H
#define CTL_PROM_H

/*
 * The Prometheus text exposition format (version 0.0.4), written into a
 * growing buffer: a family is announced once with its HELP and TYPE, then
 * its samples follow, each "prefix+name{labels} value". Label values are
 * escaped (\\, \", \n); names are the caller's constants and the prefix
 * was checked when the config was read (config.c), so they are not.
 *
 * No allocation failure is reported per call: the buffer remembers it and
 * prom_finish() says so once, so a render is a straight list of calls.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prom {
	char *buf;
	size_t len, cap;
	bool oom;
	const char *prefix; /* "vela_", or "namespace_subsystem_" */
	const char *family; /* the family samples are written for */
};

struct prom_label {
	const char *name;
	const char *value;
};

void prom_init(struct prom *p, const char *prefix);
void prom_free(struct prom *p);

/* Starts family @name (without the prefix): "# HELP" and "# TYPE" lines. */
void prom_family(struct prom *p, const char *name, const char *type,
		 const char *help);

/*
 * One sample of the current family, its name followed by @suffix ("" or
 * "_bucket", "_sum", "_count" for a histogram) and @n labels.
 */
void prom_u64(struct prom *p, const char *suffix, const struct prom_label *l,
	      size_t n, uint64_t v);
void prom_double(struct prom *p, const char *suffix,
		 const struct prom_label *l, size_t n, double v);

/* A family of one unlabelled sample. */
void prom_one(struct prom *p, const char *name, const char *type,
	      const char *help, uint64_t v);

/* 0 and the text in p->buf (NUL-terminated), or -ENOMEM. */
int prom_finish(struct prom *p);

#endif /* CTL_PROM_H */
