/* SPDX-License-Identifier: MIT */
/*
 * vl_sd_notify against a datagram socket standing in for systemd's: a
 * path socket and an abstract one get exactly the state; no
 * NOTIFY_SOCKET is a quiet no-op; a malformed one is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "sdnotify.h"

/* A bound datagram socket at @name ("@x": abstract); returns its fd. */
static int listener(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len;

	assert_true(fd >= 0);
	memcpy(sun.sun_path, name, n);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	else
		unlink(name);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			  (name[0] != '@'));
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

static void expect(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, strlen(want));
}

static void test_sdnotify_path(void **state)
{
	char path[64];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/vela-sdnotify-%d", (int)getpid());
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(vl_sd_notify("READY=1"), 0);
	expect(fd, "READY=1");
	assert_int_equal(vl_sd_notify("RELOADING=1\nMONOTONIC_USEC=5"), 0);
	expect(fd, "RELOADING=1\nMONOTONIC_USEC=5");
	close(fd);
	unlink(path);
}

static void test_sdnotify_abstract(void **state)
{
	char name[64];
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@vela-sdnotify-%d", (int)getpid());
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(vl_sd_notify("STOPPING=1"), 0);
	expect(fd, "STOPPING=1");
	close(fd);
}

static void test_sdnotify_unset_and_bad(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(vl_sd_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(vl_sd_notify("READY=1"), -EINVAL);
	setenv("NOTIFY_SOCKET", "@", 1);
	assert_int_equal(vl_sd_notify("READY=1"), -EINVAL);
	/* Nobody listens there: the send fails, and says so. */
	setenv("NOTIFY_SOCKET", "/nonexistent/vela-notify", 1);
	assert_true(vl_sd_notify("READY=1") < 0);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sdnotify_path),
		cmocka_unit_test(test_sdnotify_abstract),
		cmocka_unit_test(test_sdnotify_unset_and_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
