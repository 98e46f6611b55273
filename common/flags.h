/* SPDX-License-Identifier: MIT */
#ifndef VL_FLAGS_H
#define VL_FLAGS_H

/*
 * Command-line flags in the dialect of Go's "flag" package, because every
 * command Vela replaces (nebula, nebula-cert) speaks it and scripts written
 * for them must keep working: "-name v", "-name=v", "--name v", "-bool",
 * "-bool=false"; parsing stops at the first non-flag argument, at "-" and
 * after "--". One table binds names to offsetof() fields of an options
 * struct (xdp-tools lib/util/params.h); defaults are the struct the caller
 * filled in before parsing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vl_status;

enum vl_flag_type {
	VL_FLAG_STRING,   /* field: const char * (points into argv) */
	VL_FLAG_BOOL,     /* field: bool */
	VL_FLAG_DURATION, /* field: int64_t nanoseconds, Go duration syntax */
};

struct vl_flag {
	const char *name; /* without the leading '-' */
	enum vl_flag_type type;
	size_t offset;    /* offsetof(options struct, field) */
	const char *usage;
};

#define VL_FLAGS_HELP 1 /* -h, -help or --help was given and is not a defined flag */

/*
 * Parses argv[0..argc) (the arguments after the program or mode name) into
 * @opts. Returns 0 and sets *n_used to the index of the first argument that
 * is not a flag; VL_FLAGS_HELP; or -EINVAL with Go's wording in @st
 * ("flag provided but not defined: -x", "flag needs an argument: -name",
 * "invalid value \"x\" for flag -duration: ...").
 */
int vl_flags_parse(const struct vl_flag *flags, size_t n_flags, void *opts,
		   int argc, char **argv, int *n_used, struct vl_status *st);

/* Prints the flags as Go's FlagSet.PrintDefaults does, sorted by name. */
void vl_flags_print_defaults(FILE *out, const struct vl_flag *flags,
			     size_t n_flags, const void *defaults);

/* Go's time.ParseDuration: "300ms", "-1.5h", "2h45m"; 0 or -EINVAL/-ERANGE. */
int vl_duration_parse(const char *s, int64_t *ns);

/* Go's Duration.String(): "8760h0m0s", "1.5s", "0s". */
void vl_duration_format(int64_t ns, char *buf, size_t len);

#endif /* VL_FLAGS_H */
