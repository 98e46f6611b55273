/* SPDX-License-Identifier: MIT */
/*
 * vela-control: the control plane of a Vela node. It reads the nebula
 * config, holds the private key, runs handshakes and drives the dataplane
 * over its control socket. It needs no privileges beyond reading its files
 * and that socket.
 *
 *   vela-control -config FILE      run
 *   vela-control -test -config FILE validate config and PKI, then exit
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "aead.h"
#include "flags.h"
#include "log.h"
#include "node.h"
#include "status.h"

#ifndef VELA_VERSION
#define VELA_VERSION "unknown"
#endif

struct opts {
	const char *config;
	bool test;
	bool version;
};

static const struct vl_flag flags[] = {
	{ "config", VL_FLAG_STRING, offsetof(struct opts, config),
	  "Path to either a file or directory to load configuration from" },
	{ "test", VL_FLAG_BOOL, offsetof(struct opts, test),
	  "Test the config and print the end result. Non zero exit indicates a faulty config" },
	{ "version", VL_FLAG_BOOL, offsetof(struct opts, version),
	  "Print version" },
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	static const struct opts defaults = { 0 };
	struct vl_status st = { "" };
	struct sigaction sa = { .sa_handler = on_signal };
	struct opts o = defaults;
	struct ctl_node node;
	int used, err;

	err = vl_flags_parse(flags, sizeof(flags) / sizeof(flags[0]), &o,
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
	if (o.version) {
		printf("Version: %s\n", VELA_VERSION);
		return 0;
	}
	if (!o.config) {
		fprintf(stderr, "-config flag must be set\n");
		return 1;
	}
	if (sodium_init() < 0 || vl_aead_init()) {
		vl_log(VL_LOG_ERROR, "Failed to initialise the crypto libraries",
		       NULL);
		return 1;
	}
	err = ctl_node_init(&node, o.config, &st);
	if (err) {
		vl_log(VL_LOG_ERROR, "Failed to load config", "error", st.msg,
		       NULL);
		return 1;
	}
	if (o.test) {
		ctl_node_free(&node);
		return 0;
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	vl_log(VL_LOG_INFO, "Vela control plane started", "version",
	       VELA_VERSION, "socket", node.socket_path, NULL);
	err = ctl_node_run(&node, &stop_flag);
	ctl_node_free(&node);
	vl_log(VL_LOG_INFO, "Goodbye", NULL);
	return err ? 1 : 0;
}
