/* SPDX-License-Identifier: MIT */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* "<dir>/.<name>.XXXXXX": same directory, so the final rename is atomic. */
static char *tmp_name(const char *path)
{
	char *d = strdup(path), *b = strdup(path), *out = NULL;

	if (d && b && asprintf(&out, "%s/.%s.XXXXXX", dirname(d),
			       basename(b)) < 0)
		out = NULL;
	free(d);
	free(b);
	return out;
}

int ctl_outfile_stage(struct ctl_outfile *f, const char *path,
		      const void *data, size_t len, struct vl_status *st)
{
	struct stat sb;
	int fd, err;

	f->path = path;
	f->tmp = NULL;
	f->placed = 0;
	if (lstat(path, &sb) == 0)
		return vl_status_set(st, -EEXIST, "%s: file exists", path);

	f->tmp = tmp_name(path);
	if (!f->tmp)
		return vl_status_set(st, -ENOMEM, "out of memory");
	fd = mkstemp(f->tmp);
	if (fd < 0) {
		err = -errno;
		free(f->tmp);
		f->tmp = NULL;
		return vl_status_set(st, err, "%s: cannot create: %s", path,
				     strerror(-err));
	}
	/* mkstemp already uses 0600; say it, keys depend on it. */
	err = fchmod(fd, 0600) ? -errno : 0;
	if (!err)
		err = write_all(fd, data, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (err) {
		unlink(f->tmp);
		free(f->tmp);
		f->tmp = NULL;
		return vl_status_set(st, err, "%s: cannot write: %s", path,
				     strerror(-err));
	}
	return 0;
}

static int place(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* A filesystem without RENAME_NOREPLACE: link() refuses to replace too. */
	if (link(tmp, path))
		return -errno;
	unlink(tmp);
	return 0;
}

int ctl_outfile_commit(struct ctl_outfile *files, size_t n,
		       struct vl_status *st)
{
	int err = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		err = place(files[i].tmp, files[i].path);
		if (err)
			break;
		files[i].placed = 1;
	}
	if (!err)
		return 0;

	vl_status_set(st, err, "%s: cannot create: %s", files[i].path,
		      err == -EEXIST ? "file exists" : strerror(-err));
	while (i--) {
		unlink(files[i].path);
		files[i].placed = 0;
	}
	ctl_outfile_discard(files, n);
	return err;
}

void ctl_outfile_discard(struct ctl_outfile *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (files[i].tmp && !files[i].placed)
			unlink(files[i].tmp);
		free(files[i].tmp);
		files[i].tmp = NULL;
	}
}
