/* SPDX-License-Identifier: MIT */
#ifndef VL_CAPS_H
#define VL_CAPS_H

/*
 * Capabilities of the `vela` supervisor's children (DESIGN.md §1):
 * vela-control holds none at all, vela-dataplane what the service gave it
 * but CAP_SETPCAP, which the supervisor needs only to take capabilities
 * away from the control plane. Raw capget/capset and prctl: no libcap.
 *
 * A process running as root regains every capability of its bounding set
 * at execve(), whatever its permitted set was; so "none" means the
 * bounding set emptied (needs CAP_SETPCAP) and the inheritable, ambient,
 * permitted and effective sets cleared. The control plane keeps uid 0
 * when it runs as root: root's configs and keys stay readable by owner,
 * without CAP_DAC_OVERRIDE.
 */

#include <stdint.h>

struct vl_status;

/*
 * Drops every capability for good, bounding set included, before an
 * execve(). 0 when nothing is left that an execve() could give back;
 * -EPERM, and @st saying why, when the bounding set could not be emptied
 * (no CAP_SETPCAP) and the process is root, so the next program would
 * get the bounding set's capabilities back. The other sets are cleared
 * either way.
 */
int vl_caps_drop_all(struct vl_status *st);

/* Removes @cap from the bounding set and the other four; 0 or -errno. */
int vl_caps_drop(unsigned int cap);

/* The sets as bit masks (bit n: capability n); 0 or -errno. */
int vl_caps_get(uint64_t *effective, uint64_t *permitted,
		uint64_t *inheritable);

#endif /* VL_CAPS_H */
