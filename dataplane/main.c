/* SPDX-License-Identifier: MIT */
/*
 * vela-dataplane: the packet-moving process (DESIGN.md §1). It starts with
 * nothing but the control socket; vela-control connects and sends SETUP
 * (TUN device, listen port, workers) and the tunnels. Everything else
 * happens in ctl.c and on the workers.
 *
 * Environment: VELA_TUN_FD=3[,4...] hands over open TUN queue fds, one
 * per worker, which SETUP takes instead of creating the device (as
 * wireguard-go's WG_TUN_FD; docs/dpctl.md). Read once, here.
 *
 * Stopping (SIGINT, SIGTERM): the workers stop, TUN and ports close, the
 * socket is removed, exit 0. When the TUN device is deleted (or leaves
 * the network namespace) the same happens on its own, with exit 1, so
 * that the supervisor starts a new dataplane. closeTunnel messages on
 * shutdown are the control plane's business: it sends them (TUNNEL_DEL
 * with send_close) before it stops us.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "flags.h"
#include "log.h"
#include "status.h"

#define DEFAULT_SOCKET "/run/vela/vela.sock"

struct opts {
	const char *socket;
	const char *log_level;
	const char *log_format;
};

/* vela passes the config's logging.level and logging.format along. */
static const struct vl_flag flags[] = {
	{ "s", VL_FLAG_STRING, offsetof(struct opts, socket),
	  "Path of the control socket vela-control and dpctl connect to" },
	{ "log-level", VL_FLAG_STRING, offsetof(struct opts, log_level),
	  "panic, fatal, error, warning, info, debug or trace (as logging.level)" },
	{ "log-format", VL_FLAG_STRING, offsetof(struct opts, log_format),
	  "text or json (as logging.format)" },
};

static const struct opts defaults = { .socket = DEFAULT_SOCKET,
				      .log_level = "info",
				      .log_format = "text" };

/* logging.level's names, in enum vl_log_level order. */
static int log_level(const char *name)
{
	static const char *const names[] = { "panic", "fatal", "error",
					     "warning", "info", "debug",
					     "trace" };

	if (!strcmp(name, "warn"))
		return VL_LOG_WARN;
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

static _Atomic bool stop;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, true);
}

/*
 * One line per lifecycle event through the shared logger (common/log.c),
 * which writes nebula's text format in one write(2) per line.
 */
__attribute__((format(printf, 2, 3))) static void
dp_log(enum dp_ctl_log_level level, const char *fmt, ...)
{
	static const enum vl_log_level levels[] = {
		[DP_CTL_LOG_ERROR] = VL_LOG_ERROR,
		[DP_CTL_LOG_WARN] = VL_LOG_WARN,
		[DP_CTL_LOG_INFO] = VL_LOG_INFO,
	};
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vl_log(levels[level], msg, NULL);
}

static void usage(FILE *out)
{
	fprintf(out, "Usage of vela-dataplane:\n");
	vl_flags_print_defaults(out, flags, sizeof(flags) / sizeof(flags[0]),
				&defaults);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct opts o = defaults;
	struct vl_status st = { "" };
	struct dp_ctl_cfg cfg;
	struct dp_ctl *c;
	int used, err;

	err = vl_flags_parse(flags, sizeof(flags) / sizeof(flags[0]), &o,
			     argc - 1, argv + 1, &used, &st);
	if (err == VL_FLAGS_HELP) {
		usage(stderr); /* as Go's flag package does */
		return 0;
	}
	if (err < 0) {
		fprintf(stderr, "%s\n", st.msg);
		usage(stderr);
		return 2; /* Go's flag.ExitOnError */
	}
	if (used + 1 < argc) {
		fprintf(stderr, "unexpected argument: %s\n", argv[used + 1]);
		usage(stderr);
		return 2;
	}
	if (log_level(o.log_level) < 0 ||
	    (strcmp(o.log_format, "text") && strcmp(o.log_format, "json"))) {
		fprintf(stderr, "-log-level or -log-format: unknown value\n");
		usage(stderr);
		return 2;
	}
	vl_log_setup((enum vl_log_level)log_level(o.log_level),
		     !strcmp(o.log_format, "json"), false);

	/* No SA_RESTART: poll() returns at once with EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	cfg = (struct dp_ctl_cfg){ .socket_path = o.socket,
				   .log = dp_log,
				   .tun_fds = getenv("VELA_TUN_FD") };
	err = dp_ctl_open(&cfg, &c, &st);
	if (err) {
		dp_log(DP_CTL_LOG_ERROR, "Failed to start: %s", st.msg);
		return 1;
	}
	dp_log(DP_CTL_LOG_INFO,
	       "vela-dataplane started: pid %d, control socket %s; waiting for SETUP",
	       (int)getpid(), o.socket);

	err = dp_ctl_run(c, &stop);
	if (err == -ENODEV)
		dp_log(DP_CTL_LOG_ERROR,
		       "Stopping: the TUN device is gone (exit 1)");
	else if (err)
		dp_log(DP_CTL_LOG_ERROR, "Control loop failed: %s",
		       strerror(-err));
	else
		dp_log(DP_CTL_LOG_INFO, "Stopping on signal");
	dp_ctl_close(c);
	dp_log(DP_CTL_LOG_INFO, "vela-dataplane stopped");
	return err ? 1 : 0;
}
