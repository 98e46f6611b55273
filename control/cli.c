/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <stddef.h>
#include <stdio.h>

#include "flags.h"
#include "status.h"

static const struct vl_flag flags[] = {
	{ "config", VL_FLAG_STRING, offsetof(struct ctl_cli, config),
	  "Path to either a file or directory to load configuration from" },
	{ "test", VL_FLAG_BOOL, offsetof(struct ctl_cli, test),
	  "Test the config and print the end result. Non zero exit indicates a faulty config" },
	{ "version", VL_FLAG_BOOL, offsetof(struct ctl_cli, version),
	  "Print version" },
};

int ctl_cli_parse(int argc, char **argv, const char *version,
		  struct ctl_cli *o)
{
	static const struct ctl_cli defaults = { 0 };
	struct vl_status st = { "" };
	int used, err;

	*o = defaults;
	err = vl_flags_parse(flags, sizeof(flags) / sizeof(flags[0]), o,
			     argc - 1, argv + 1, &used, &st);
	if (err) {
		if (err < 0)
			fprintf(stderr, "%s\n", st.msg);
		fprintf(stderr, "Usage of %s:\n", argv[0]);
		vl_flags_print_defaults(stderr, flags,
					sizeof(flags) / sizeof(flags[0]),
					&defaults);
		return err == VL_FLAGS_HELP ? 0 : 1;
	}
	if (o->version) {
		printf("Version: %s\n", version);
		return 0;
	}
	if (!o->config) {
		fprintf(stderr, "-config flag must be set\n");
		return 1;
	}
	return -1;
}
