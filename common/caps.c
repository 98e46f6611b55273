// SPDX-License-Identifier: MIT
/* Capabilities of vela's children (caps.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "caps.h"
#include "status.h"

/* Two 32-bit words: capability n is bit n % 32 of word n / 32. */
static int caps_read(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capget, &h, d) ? -errno : 0;
}

static int caps_write(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

static uint64_t mask(uint32_t lo, uint32_t hi)
{
	return (uint64_t)hi << 32 | lo;
}

int vl_caps_get(uint64_t *effective, uint64_t *permitted,
		uint64_t *inheritable)
{
	struct __user_cap_data_struct d[2];
	int err = caps_read(d);

	if (err)
		return err;
	*effective = mask(d[0].effective, d[1].effective);
	*permitted = mask(d[0].permitted, d[1].permitted);
	*inheritable = mask(d[0].inheritable, d[1].inheritable);
	return 0;
}

int vl_caps_drop(unsigned int cap)
{
	struct __user_cap_data_struct d[2];
	uint32_t bit = 1u << (cap % 32);
	int err;

	if (cap >= 64)
		return -EINVAL;
	/* Before the permitted set loses CAP_SETPCAP, if @cap is it. */
	if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
	    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
		return -errno;
	/* Not in the permitted set: not in the ambient set either. */
	err = caps_read(d);
	if (err)
		return err;
	d[cap / 32].effective &= ~bit;
	d[cap / 32].permitted &= ~bit;
	d[cap / 32].inheritable &= ~bit;
	return caps_write(d);
}

int vl_caps_drop_all(struct vl_status *st)
{
	struct __user_cap_data_struct d[2];
	bool bounded = true;
	int err;

	/* Kernels without ambient capabilities (before 4.3) have none to clear. */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (unsigned int cap = 0; cap < 64; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (in < 0)
			break; /* past the kernel's last capability */
		if (in == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			bounded = false;
	}
	memset(d, 0, sizeof(d));
	err = caps_write(d);
	if (err)
		return vl_status_set(st, err, "clearing capabilities: %s",
				     strerror(-err));
	if (!bounded && (getuid() == 0 || geteuid() == 0))
		return vl_status_set(st, -EPERM,
				     "running as root without CAP_SETPCAP: the bounding set cannot be emptied, so the next program gets its capabilities back");
	return 0;
}
