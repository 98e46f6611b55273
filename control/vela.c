/* SPDX-License-Identifier: MIT */
/*
 * vela: runs a node from one config file, as `nebula -config` does. It
 * starts vela-dataplane (privileged: NIC queues, TUN) and vela-control
 * (unprivileged: keys, handshakes), and restarts either one when it dies:
 * the tunnels survive both, since a restarted control plane adopts the
 * dataplane's tunnels and a restarted dataplane gets them re-installed.
 *
 *   vela -config FILE          run the node
 *   vela -test -config FILE    validate, as nebula -test
 *
 * The daemons are found beside this binary. On SIGINT/SIGTERM the control
 * plane stops first (it tells every peer the tunnel is closing), then the
 * dataplane. SIGHUP is passed to the control plane, which reloads the
 * config as nebula does. Under systemd (dist/systemd/vela.service,
 * Type=notify) it reports READY, RELOADING and STOPPING (sdnotify.h).
 *
 * Capabilities (caps.h): vela-control runs with none, bounding set
 * included, so it keeps nothing of what the service gave vela but the
 * right to read its own files; vela-dataplane gets what vela has but
 * CAP_SETPCAP, which vela needs only for that drop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "caps.h"
#include "config.h"
#include "cli.h"
#include "log.h"
#include "sdnotify.h"
#include "status.h"

#ifndef VELA_VERSION
#define VELA_VERSION "unknown"
#endif

static volatile sig_atomic_t stop_flag, hup_flag;

/* execv() takes char *const []: writable copies of the fixed arguments. */
static char arg_s[] = "-s", arg_config[] = "-config", arg_test[] = "-test";
static char arg_log_level[] = "-log-level", arg_log_format[] = "-log-format";
static const char *const level_names[] = { "panic", "fatal", "error",
					   "warning", "info",  "debug",
					   "trace" };

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup_flag = 1;
	else
		stop_flag = 1;
}

/* RELOADING=1 with the time, as systemd's Type=notify-reload wants it. */
static void notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull +
			 (unsigned long long)ts.tv_nsec / 1000);
	vl_sd_notify(msg);
}

/* dir + "/" + name into out[PATH_MAX]; false when it does not fit. */
static bool beside(char *out, const char *dir, const char *name)
{
	size_t d = strlen(dir), n = strlen(name);

	if (d + 1 + n >= PATH_MAX)
		return false;
	memcpy(out, dir, d);
	out[d] = '/';
	memcpy(out + d + 1, name, n + 1);
	return true;
}

struct child {
	const char *name;
	char path[PATH_MAX];
	char *argv[8];
	pid_t pid;
	time_t started;
	bool unprivileged; /* no capabilities at all: vela-control */
};

/*
 * Starts @c. @started_fd >= 0: the write end of a pipe the child inherits
 * as $VELA_STARTED_FD, on which vela-control writes one byte once it runs
 * (vela_control.c); closed here in the parent.
 */
static pid_t spawn(struct child *c, int started_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t none;
		char num[16];

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (started_fd >= 0) {
			fcntl(started_fd, F_SETFD, 0);
			snprintf(num, sizeof(num), "%d", started_fd);
			setenv("VELA_STARTED_FD", num, 1);
		}
		if (c->unprivileged) {
			struct vl_status st = { "" };

			/* Said, not fatal: the node still works. */
			if (vl_caps_drop_all(&st))
				fprintf(stderr, "vela: %s keeps capabilities: %s\n",
					c->name, st.msg);
		} else {
			(void)vl_caps_drop(CAP_SETPCAP);
		}
		execv(c->path, c->argv);
		fprintf(stderr, "vela: cannot run %s: %s\n", c->path,
			strerror(errno));
		_exit(127);
	}
	if (started_fd >= 0)
		close(started_fd);
	c->pid = pid;
	c->started = time(NULL);
	return pid;
}

/*
 * Waits for vela-control's "started" byte on @fd (closed here): true once
 * it runs, false when it exited first (a config, PKI or metrics endpoint
 * it cannot use). A start slower than @ms counts as started: it may be
 * resolving static_host_map names.
 */
static bool wait_started(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char b;
	int r;

	do
		r = poll(&pfd, 1, ms);
	while (r < 0 && errno == EINTR && !stop_flag);
	r = r > 0 ? (int)read(fd, &b, 1) : 1;
	close(fd);
	return r == 1;
}

/* Waits up to @ms for @path to exist (the dataplane's socket). */
static void wait_for(const char *path, int ms)
{
	struct stat sb;

	for (int i = 0; i < ms / 20 && stat(path, &sb); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
}

static void stop_child(struct child *c, int timeout_ms)
{
	if (c->pid <= 0)
		return;
	kill(c->pid, SIGTERM);
	for (int i = 0; i < timeout_ms / 20; i++) {
		if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
			c->pid = 0;
			return;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	c->pid = 0;
}

int main(int argc, char **argv)
{
	struct vl_status st = { "" };
	struct sigaction sa = { .sa_handler = on_signal };
	struct child dp = { .name = "vela-dataplane" };
	struct child ctl = { .name = "vela-control", .unprivileged = true };
	struct ctl_config cfg;
	struct ctl_cli o;
	char self[PATH_MAX], *slash, *socket, level[16], format[8];
	int started[2];
	ssize_t n;
	int err;

	err = ctl_cli_parse(argc, argv, VELA_VERSION, &o);
	if (err >= 0)
		return err;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	/* Installed: side by side. In the build tree: dataplane/ beside control/. */
	if (!beside(dp.path, self, "../dataplane/vela-dataplane") ||
	    access(dp.path, X_OK))
		beside(dp.path, self, "vela-dataplane");
	if (!beside(ctl.path, self, "vela-control")) {
		fprintf(stderr, "vela: path too long: %s\n", self);
		return 1;
	}

	if (o.test) {
		char *targv[] = { ctl.path, arg_test, arg_config,
				  (char *)o.config, NULL };

		execv(ctl.path, targv);
		fprintf(stderr, "vela: cannot run %s: %s\n", ctl.path,
			strerror(errno));
		return 1;
	}
	err = ctl_config_load(&cfg, o.config, NULL, &st);
	if (err) {
		vl_log(VL_LOG_ERROR, "Failed to load config", "error", st.msg,
		       NULL);
		return 1;
	}
	socket = strdup(cfg.socket);
	/* The dataplane logs as the config says, like the control plane. */
	snprintf(level, sizeof(level), "%s", level_names[cfg.log_level]);
	snprintf(format, sizeof(format), "%s",
		 cfg.log_format == CTL_LOG_JSON ? "json" : "text");
	ctl_config_free(&cfg);
	if (!socket)
		return 1;

	dp.argv[0] = dp.path;
	dp.argv[1] = arg_s;
	dp.argv[2] = socket;
	dp.argv[3] = arg_log_level;
	dp.argv[4] = level;
	dp.argv[5] = arg_log_format;
	dp.argv[6] = format;
	ctl.argv[0] = ctl.path;
	ctl.argv[1] = arg_config;
	ctl.argv[2] = (char *)o.config;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	spawn(&dp, -1);
	wait_for(socket, 5000);
	if (pipe2(started, O_CLOEXEC)) {
		vl_log(VL_LOG_ERROR, "Failed to make a pipe for vela-control",
		       "error", strerror(errno), NULL);
		stop_child(&dp, 5000);
		return 1;
	}
	spawn(&ctl, started[1]);
	/*
	 * systemd (Type=notify): ready once the dataplane listens and the
	 * control plane runs; it connects and sets the dataplane up by itself.
	 * A control plane that cannot start (it said why) fails the start:
	 * restarting it would fail the same way.
	 */
	if (!wait_started(started[0], 10000)) {
		int status = 0;

		waitpid(ctl.pid, &status, 0);
		ctl.pid = 0;
		vl_log(VL_LOG_ERROR, "vela-control could not start; stopping",
		       NULL);
		stop_child(&dp, 5000);
		free(socket);
		return 1;
	}
	vl_sd_notify("READY=1");
	while (!stop_flag) {
		int status;
		struct child *c;
		pid_t pid;

		if (hup_flag) {
			/* The control plane holds what a reload changes. */
			hup_flag = 0;
			notify_reloading();
			if (ctl.pid > 0)
				kill(ctl.pid, SIGHUP);
			/* vela-control reloads on its own and logs the outcome. */
			vl_sd_notify("READY=1");
		}
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		c = pid == dp.pid ? &dp : pid == ctl.pid ? &ctl : NULL;
		if (!c || stop_flag)
			continue;
		vl_log(VL_LOG_WARN, "A daemon died; restarting it", "daemon",
		       c->name, NULL);
		/* Do not spin on a daemon that dies at start. */
		if (time(NULL) - c->started < 2)
			sleep(1);
		spawn(c, -1);
	}
	vl_sd_notify("STOPPING=1");
	stop_child(&ctl, 5000);
	stop_child(&dp, 5000);
	free(socket);
	return 0;
}
