/* SPDX-License-Identifier: MIT */
#ifndef VL_FILE_H
#define VL_FILE_H

/*
 * Whole small files (certificates, keys) read into memory, for the tools
 * that take paths on their command line. Key material is wiped on every
 * path out: a failed read leaves nothing behind, and vl_free_secret()
 * wipes what a successful one returned.
 */

#include <stddef.h>
#include <stdint.h>

struct vl_status;

/*
 * Reads the regular file @path, at most @max bytes, into a new buffer
 * (*buf, *len). 0 or -errno with a reason naming @path in @st.
 */
int vl_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
		 struct vl_status *st);

/* Wipes @len bytes of @buf and frees it; NULL is fine. */
void vl_free_secret(uint8_t *buf, size_t len);

#endif /* VL_FILE_H */
