/* SPDX-License-Identifier: MIT */
/*
 * common/caps.c, as the `vela` supervisor uses it: a child drops its
 * capabilities and execs; what the exec'd program has is read from its
 * /proc/self/status (cat's own), so a capability regained at execve() --
 * root's bounding set -- would show.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "caps.h"
#include "status.h"

struct caps_seen {
	uint64_t inh, prm, eff, bnd, amb;
};

static uint64_t field(const char *status, const char *name)
{
	const char *p = strstr(status, name);

	assert_non_null(p);
	return strtoull(p + strlen(name), NULL, 16);
}

/* Forks; the child drops (all, or CAP_SETPCAP) and execs cat. */
static void exec_after_drop(bool all, struct caps_seen *out)
{
	char buf[8192];
	size_t len = 0;
	ssize_t r;
	int fds[2], status;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vl_status st = { "" };

		dup2(fds[1], 1);
		close(fds[0]);
		if (all ? vl_caps_drop_all(&st) : vl_caps_drop(CAP_SETPCAP))
			_exit(3);
		execl("/bin/cat", "cat", "/proc/self/status", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while ((r = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	out->inh = field(buf, "CapInh:");
	out->prm = field(buf, "CapPrm:");
	out->eff = field(buf, "CapEff:");
	out->bnd = field(buf, "CapBnd:");
	out->amb = field(buf, "CapAmb:");
}

static void test_caps_drop_all(void **state)
{
	struct caps_seen c;
	uint64_t eff, prm, inh;

	(void)state;
	assert_int_equal(vl_caps_get(&eff, &prm, &inh), 0);
	/* As root (CI), there is something to lose: the test can fail. */
	if (getuid() == 0)
		assert_true(eff & (UINT64_C(1) << CAP_NET_ADMIN));
	exec_after_drop(true, &c);
	assert_int_equal(c.inh, 0);
	assert_int_equal(c.prm, 0);
	assert_int_equal(c.eff, 0);
	assert_int_equal(c.bnd, 0);
	assert_int_equal(c.amb, 0);
	/* This process is untouched. */
	{
		uint64_t e2, p2, i2;

		assert_int_equal(vl_caps_get(&e2, &p2, &i2), 0);
		assert_true(e2 == eff && p2 == prm);
	}
}

static void test_caps_drop_one(void **state)
{
	const uint64_t setpcap = UINT64_C(1) << CAP_SETPCAP;
	const uint64_t net_admin = UINT64_C(1) << CAP_NET_ADMIN;
	struct caps_seen c;

	(void)state;
	if (getuid() != 0)
		skip();
	exec_after_drop(false, &c);
	assert_false(c.bnd & setpcap);
	assert_false(c.eff & setpcap);
	assert_false(c.prm & setpcap);
	/* The rest stays: the dataplane's capabilities. */
	assert_true(c.bnd & net_admin);
	assert_true(c.eff & net_admin);
	assert_int_equal(vl_caps_drop(64), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_drop_all),
		cmocka_unit_test(test_caps_drop_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
