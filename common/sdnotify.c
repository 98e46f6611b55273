/* SPDX-License-Identifier: MIT */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

int vl_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n, len = strlen(state);
	socklen_t alen;
	ssize_t sent;
	int fd, err;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n < 2 ||
	    n > sizeof(sun.sun_path) - 1)
		return -EINVAL;
	memcpy(sun.sun_path, path, n);
	/* "@name": the abstract namespace, a leading NUL and no terminator. */
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			   (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sun,
		      alen);
	err = sent < 0 ? -errno : sent == (ssize_t)len ? 0 : -EMSGSIZE;
	close(fd);
	return err;
}
