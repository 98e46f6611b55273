/* SPDX-License-Identifier: MIT */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "status.h"

int vl_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
		 struct vl_status *st)
{
	struct stat sb;
	size_t cap, n = 0;
	int fd, err = 0;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vl_status_set(st, -errno, "%s: cannot read: %s", path,
				     strerror(errno));
	if (fstat(fd, &sb)) {
		err = vl_status_set(st, -errno, "%s: cannot read: %s", path,
				    strerror(errno));
		goto close_fd;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max) {
		err = vl_status_set(st, -EFBIG, "%s: %s", path,
				    S_ISREG(sb.st_mode) ?
					    "file is too large for a certificate or key" :
					    "not a regular file");
		goto close_fd;
	}
	cap = (size_t)sb.st_size + 1;
	*buf = malloc(cap);
	if (!*buf) {
		err = vl_status_set(st, -ENOMEM, "out of memory");
		goto close_fd;
	}
	for (;;) {
		ssize_t r = read(fd, *buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = vl_status_set(st, -errno, "%s: cannot read: %s",
					    path, strerror(errno));
			goto free_buf;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			err = vl_status_set(st, -EFBIG,
					    "%s: file changed while reading",
					    path);
			goto free_buf;
		}
	}
	*len = n;
	goto close_fd;

free_buf:
	sodium_memzero(*buf, n);
	free(*buf);
	*buf = NULL;
close_fd:
	close(fd);
	return err;
}

void vl_free_secret(uint8_t *buf, size_t len)
{
	if (buf)
		sodium_memzero(buf, len);
	free(buf);
}
