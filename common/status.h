/* SPDX-License-Identifier: MIT */
#ifndef VL_STATUS_H
#define VL_STATUS_H

/*
 * Setup and control code returns 0 or -errno and explains a failure in a
 * status struct the caller owns, so the message can name the file, key or
 * field and the reason without the callee knowing how it will be shown.
 */

#define VL_STATUS_MAX 512

struct vl_status {
	char msg[VL_STATUS_MAX];
};

/* Sets the message and returns @err (a negative errno), for "return vl_status_set(...)". */
int vl_status_set(struct vl_status *st, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Puts context in front of the message already there: "ca.crt: " + "bad base64". */
void vl_status_prefix(struct vl_status *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* VL_STATUS_H */
