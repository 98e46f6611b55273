/* SPDX-License-Identifier: MIT */
/*
 * vela-control: the control plane of a Vela node. It reads the nebula
 * config, holds the private key, runs handshakes and drives the dataplane
 * over its control socket. It needs no privileges beyond reading its files
 * and that socket. SIGHUP reloads the config, as nebula's does (what can
 * change while running: node.h, ctl_node_reload).
 *
 *   vela-control -config FILE      run
 *   vela-control -test -config FILE validate config and PKI, then exit
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "aead.h"
#include "cli.h"
#include "log.h"
#include "node.h"
#include "status.h"

#ifndef VELA_VERSION
#define VELA_VERSION "unknown"
#endif

static volatile sig_atomic_t stop_flag, reload_flag;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_flag = 1;
	else
		stop_flag = 1;
}

/*
 * Under vela: $VELA_STARTED_FD is a pipe vela waits on before it tells
 * systemd READY=1 (vela.c); one byte says the config, the PKI and the
 * metrics endpoint are in place and the loop is about to run.
 */
static void tell_started(void)
{
	const char *s = getenv("VELA_STARTED_FD");
	char *end;
	long fd;

	if (!s)
		return;
	fd = strtol(s, &end, 10);
	if (*s && !*end && fd > 2 && fd < INT_MAX) {
		if (write((int)fd, "1", 1) != 1)
			vl_log(VL_LOG_WARN, "Could not tell vela we started",
			       "error", strerror(errno), NULL);
		close((int)fd);
	}
	unsetenv("VELA_STARTED_FD");
}

int main(int argc, char **argv)
{
	struct vl_status st = { "" };
	struct sigaction sa = { .sa_handler = on_signal };
	struct ctl_cli o;
	struct ctl_node node;
	int err;

	err = ctl_cli_parse(argc, argv, VELA_VERSION, &o);
	if (err >= 0)
		return err;
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
	err = ctl_metrics_open(&node, &st);
	if (err) {
		vl_log(VL_LOG_ERROR, "Failed to start the metrics endpoint",
		       "error", st.msg, NULL);
		ctl_node_free(&node);
		return 1;
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	vl_log(VL_LOG_INFO, "Vela control plane started", "version",
	       VELA_VERSION, "socket", node.socket_path, NULL);
	tell_started();
	err = ctl_node_run(&node, &stop_flag, &reload_flag);
	ctl_node_free(&node);
	vl_log(VL_LOG_INFO, "Goodbye", NULL);
	return err ? 1 : 0;
}
