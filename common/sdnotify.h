/* SPDX-License-Identifier: MIT */
#ifndef VL_SDNOTIFY_H
#define VL_SDNOTIFY_H

/*
 * The service manager's readiness protocol (sd_notify(3)) without
 * libsystemd: one datagram with newline-separated KEY=VALUE lines to the
 * AF_UNIX socket named by $NOTIFY_SOCKET -- a path, or "@name" for the
 * abstract namespace. What a Type=notify unit waits for.
 */

/*
 * Sends @state ("READY=1", "RELOADING=1\nMONOTONIC_USEC=...",
 * "STOPPING=1"). 0 when sent, and 0 without sending when NOTIFY_SOCKET is
 * unset (not run by systemd); -EINVAL for a NOTIFY_SOCKET that is neither
 * an absolute path nor "@name", or too long; -errno when sending fails.
 */
int vl_sd_notify(const char *state);

#endif /* VL_SDNOTIFY_H */
