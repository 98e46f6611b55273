/* SPDX-License-Identifier: MIT */
#ifndef CTL_OUTFILE_H
#define CTL_OUTFILE_H

/*
 * Writing a set of new files all or nothing, never over an existing file:
 * what vela-cert needs for a key and its certificate. Each file is first
 * written to a temporary file beside it (mode 0600, fsync'd), then all of
 * them are moved into place with renameat2(RENAME_NOREPLACE), which fails
 * instead of replacing a file that appeared in the meantime. If any step
 * fails, the files already moved into place are removed again, so a reader
 * never sees a key without its certificate or half a file.
 */

#include <stddef.h>

struct vl_status;

struct ctl_outfile {
	const char *path; /* final name */
	char *tmp;        /* staged temporary file, NULL if none */
	int placed;       /* moved to @path */
};

/*
 * Writes @data to a temporary file beside @path. -EEXIST when @path already
 * exists; other -errno with the reason in @st.
 */
int ctl_outfile_stage(struct ctl_outfile *f, const char *path,
		      const void *data, size_t len, struct vl_status *st);

/* Moves every staged file into place, or none of them. */
int ctl_outfile_commit(struct ctl_outfile *files, size_t n,
		       struct vl_status *st);

/* Removes what ctl_outfile_stage left behind; safe after commit. */
void ctl_outfile_discard(struct ctl_outfile *files, size_t n);

#endif /* CTL_OUTFILE_H */
