/* SPDX-License-Identifier: MIT */
#ifndef CTL_CLI_H
#define CTL_CLI_H

/*
 * The command line vela and vela-control share with nebula:
 * -config FILE|DIR, -test, -version (Go flag syntax, common/flags.h).
 */

#include <stdbool.h>

struct ctl_cli {
	const char *config;
	bool test;
	bool version;
};

/*
 * Parses argv. Returns -1 when the program should go on with @o filled;
 * otherwise the exit status to return at once (after -h, -version, or a
 * usage error, each already reported on stdout or stderr).
 */
int ctl_cli_parse(int argc, char **argv, const char *version,
		  struct ctl_cli *o);

#endif /* CTL_CLI_H */
