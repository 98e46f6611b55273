/* SPDX-License-Identifier: MIT */
/*
 * Multiqueue TUN (Documentation/networking/tuntap.rst, "Multiqueue
 * tuntap interface"): every open() of /dev/net/tun plus TUNSETIFF with
 * IFF_MULTI_QUEUE and the same name attaches one more queue to the same
 * device. The kernel spreads the device's outgoing flows over all attached
 * queues, and the device goes away when the last queue closes unless it
 * is persistent.
 *
 * Attaching is what makes a name clash dangerous: a second opener of our
 * name does not fail, it silently takes a share of our traffic. So before
 * opening, tun_open asks rtnetlink what already holds the name (kind, TUN
 * or TAP, multiqueue, attached queues) and refuses anything but an absent
 * name or an idle persistent multiqueue TUN (ip tuntap add ... multi_queue),
 * saying what to do. When it creates the device, the first TUNSETIFF
 * carries IFF_TUN_EXCL, so a device that appeared since the check is an
 * error too, not a device we join.
 *
 * Failure leaves nothing half-open: every queue already attached is
 * closed, which also removes a device we created.
 *
 * Offloads. IFF_VNET_HDR is a device flag, and only the TUNSETIFF that
 * attaches the first queue sets the device's flags (tun_set_iff ignores
 * them on later queues), so a persistent device keeps what it was last
 * opened with: vnet header size, TUNSETOFFLOAD features, byte order.
 * tun_open_opts therefore passes the same flags on every queue and then
 * sets all of those explicitly on queue 0 (they are per device too). When
 * a step fails, all queues are closed and the device is opened again
 * without IFF_VNET_HDR, and its features are cleared (TUNSETOFFLOAD 0):
 * a device that still had TSO on from an earlier run would hand a plain
 * reader 64 KiB packets.
 */
#include "tun_mq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/kcmp.h>
#include <linux/sockios.h>

#include "netlink.h"
#include "status.h"

#define TUN_PATH "/dev/net/tun"

enum tun_limits {
	TUN_MTU_MIN = 68, /* IPv4's minimum; below it Linux drops the address */
	TUN_MTU_MAX = 65535, /* the tun driver's max_mtu */
};

/* The name as messages show it: "" is the kernel's pick. */
static const char *shown(const char *name)
{
	return *name ? name : "(kernel-named)";
}

/* Whether the kernel rejects @name (net/core/dev.c dev_valid_name). */
static int check_name(const char *name, struct vl_status *st)
{
	size_t len = strlen(name);

	if (len >= IFNAMSIZ)
		return vl_status_set(
			st, -ENAMETOOLONG,
			"tun device name \"%s\" has %zu characters, Linux allows %d: choose a shorter tun.dev",
			name, len, IFNAMSIZ - 1);
	if (!strcmp(name, ".") || !strcmp(name, "..") ||
	    strpbrk(name, "/: \t\n\v\f\r"))
		return vl_status_set(
			st, -EINVAL,
			"tun device name \"%s\" is not valid: no '/', ':' or spaces, not \".\" or \"..\"",
			name);
	return 0;
}

/*
 * What holds @name already (see the top of the file). *exists says
 * whether there is a device to attach to.
 */
static int check_holder(const char *name, bool *exists, struct vl_status *st)
{
	struct tun_nl_conn nl;
	struct tun_nl_link link;
	int err;

	*exists = false;
	/* "" and "vela%d" are templates: the kernel picks a free name. */
	if (!*name || strchr(name, '%'))
		return 0;
	err = tun_nl_open(&nl, st);
	if (!err) {
		err = tun_nl_link_get(&nl, name, &link, st);
		tun_nl_close(&nl);
	}
	if (err == -ENODEV)
		return 0;
	if (err) {
		vl_status_prefix(st, "tun %s: ", name);
		return err;
	}
	*exists = true;
	if (strcmp(link.kind, "tun"))
		return vl_status_set(
			st, -EEXIST,
			"tun %s: the name belongs to a device that is not a TUN (kind %s): choose another tun.dev, or delete it (ip link del %s)",
			name, link.kind[0] ? link.kind : "none", name);
	/* Before Linux 4.15 there are no IFLA_TUN_*: TUNSETIFF decides. */
	if (!link.tun_info)
		return 0;
	if (link.tun_type != IFF_TUN)
		return vl_status_set(
			st, -EEXIST,
			"tun %s: the name belongs to a TAP device: choose another tun.dev, or delete it (ip tuntap del dev %s mode tap)",
			name, name);
	if (!link.tun_multi_queue)
		return vl_status_set(
			st, -EEXIST,
			"tun %s: the name belongs to a single-queue TUN: delete it (ip tuntap del dev %s mode tun) and let vela create it, or recreate it with multi_queue",
			name, name);
	if (link.tun_queues || link.tun_disabled_queues)
		return vl_status_set(
			st, -EBUSY,
			"tun %s: in use, %u queues already attached (another vela or nebula, or a second open of it): stop that first or choose another tun.dev",
			name, link.tun_queues + link.tun_disabled_queues);
	return 0;
}

static int open_error(int err, const char *name, unsigned int q,
		      unsigned int n_queues, struct vl_status *st)
{
	switch (-err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return vl_status_set(
			st, err,
			"tun %s: no " TUN_PATH
			" (%s): load the tun module (modprobe tun), create the node (mknod -m 0666 " TUN_PATH
			" c 10 200), or give the container the device (--device " TUN_PATH
			")",
			shown(name), strerror(-err));
	case EACCES:
	case EPERM:
		return vl_status_set(
			st, err,
			"tun %s: cannot open " TUN_PATH
			" (%s): needs read-write access to the device node (mode 0666, or run as root; check the container's device cgroup), and CAP_NET_ADMIN to create the device",
			shown(name), strerror(-err));
	case EMFILE:
	case ENFILE:
		return vl_status_set(
			st, err,
			"tun %s: out of file descriptors at queue %u of %u: raise the open-files limit (ulimit -n) or use fewer queues",
			shown(name), q + 1, n_queues);
	default:
		return vl_status_set(st, err, "tun %s: open " TUN_PATH ": %s",
				     shown(name), strerror(-err));
	}
}

/* "a character device 1:3", for a /dev/net/tun that is not the TUN node. */
static void node_str(int fd, char *out, size_t size)
{
	struct stat sb;

	if (fstat(fd, &sb))
		snprintf(out, size, "unknown (fstat: %s)", strerror(errno));
	else if (S_ISCHR(sb.st_mode))
		snprintf(out, size, "the character device %u:%u",
			 major(sb.st_rdev), minor(sb.st_rdev));
	else
		snprintf(out, size, "%s",
			 S_ISREG(sb.st_mode) ? "a regular file" :
			 S_ISBLK(sb.st_mode) ? "a block device" :
					       "not a device");
}

static int setiff_error(int err, int fd, const char *name, unsigned int q,
			unsigned int n_queues, struct vl_status *st)
{
	char node[64];

	switch (-err) {
	case EPERM:
	case EACCES:
		return vl_status_set(
			st, err,
			"tun %s: not permitted to create or attach it (%s): needs CAP_NET_ADMIN (run as root, systemd AmbientCapabilities=CAP_NET_ADMIN, docker --cap-add NET_ADMIN), or a persistent device owned by this user or group",
			shown(name), strerror(-err));
	case ENOTTY:
		/* /dev/null bind-mounted over it, or a stray regular file. */
		node_str(fd, node, sizeof(node));
		return vl_status_set(
			st, err,
			"tun %s: " TUN_PATH
			" is not the TUN/TAP device (TUNSETIFF: %s; it is %s, not 10:200): recreate it (mknod -m 0666 " TUN_PATH
			" c 10 200) or pass the real one (--device " TUN_PATH
			")",
			shown(name), strerror(-err), node);
	case EBUSY:
		return vl_status_set(
			st, err,
			"tun %s: the name was taken while opening it (another process created it): choose another tun.dev or stop that process",
			shown(name));
	case EINVAL:
		return vl_status_set(
			st, err,
			"tun %s: the kernel refused queue %u of %u (EINVAL): the name belongs to a device that is not a multiqueue TUN, or its flags differ: delete it (ip link del %s) or choose another tun.dev",
			shown(name), q + 1, n_queues, name);
	case E2BIG:
		return vl_status_set(
			st, err,
			"tun %s: the device allows at most %u queues, %u were asked: use fewer queues",
			shown(name), q, n_queues);
	default:
		return vl_status_set(st, err,
				     "tun %s: TUNSETIFF for queue %u of %u: %s",
				     shown(name), q + 1, n_queues,
				     strerror(-err));
	}
}

/* Attaches queue @fd to @name; the kernel's name comes back in @ifr. */
static int set_iff(int fd, struct ifreq *ifr, const char *name, bool excl,
		   bool vnet)
{
	unsigned int flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;

	if (vnet)
		flags |= IFF_VNET_HDR;
	if (excl)
		flags |= IFF_TUN_EXCL;
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	/* ifr_flags is a short; IFF_TUN_EXCL is its sign bit. */
	ifr->ifr_flags = (short)flags;
	if (ioctl(fd, TUNSETIFF, ifr) < 0)
		return -errno;
	return 0;
}

/* Attaches queues 0..n_queues) to @name, all with IFF_VNET_HDR or none. */
static int open_queues(struct tun_dev *t, const char *name,
		       unsigned int n_queues, bool exists, bool vnet,
		       struct vl_status *st)
{
	struct ifreq ifr;
	unsigned int q;
	int err;

	/* Queue 0 makes the name (or reads back the kernel's choice);
	 * the others attach to exactly that name. */
	snprintf(t->name, sizeof(t->name), "%s", name);
	for (q = 0; q < n_queues; q++) {
		int fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (fd < 0) {
			err = open_error(-errno, t->name, q, n_queues, st);
			goto close_queues;
		}
		t->fds[q] = fd;
		err = set_iff(fd, &ifr, t->name, q == 0 && !exists, vnet);
		if (err) {
			err = setiff_error(err, fd, t->name, q, n_queues, st);
			goto close_queues;
		}
		if (q == 0)
			memcpy(t->name, ifr.ifr_name, sizeof(t->name) - 1);
	}
	t->n_queues = n_queues;

	t->ifindex = (int)if_nametoindex(t->name);
	if (!t->ifindex) {
		err = vl_status_set(
			st, -errno,
			"tun %s: created but gone by name: %s (renamed meanwhile?)",
			t->name, strerror(errno));
		goto close_queues;
	}
	return 0;

close_queues:
	tun_close(t);
	return err;
}

/* "csum tso4 tso6 ecn uso4 uso6" */
static void features_str(unsigned int f, char *out, size_t size)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
		{ TUN_F_CSUM, "csum" }, { TUN_F_TSO4, "tso4" },
		{ TUN_F_TSO6, "tso6" }, { TUN_F_TSO_ECN, "ecn" },
		{ TUN_F_USO4, "uso4" }, { TUN_F_USO6, "uso6" },
	};
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit && len < size)
			len += (size_t)snprintf(out + len, size - len, "%s%s",
						len ? " " : "", names[i].name);
}

/*
 * Turns the offloads on for a device whose queues were opened with
 * IFF_VNET_HDR (see the top of the file). 0, or -errno with @why naming
 * the step the kernel refused; nothing is undone here.
 */
static int set_offloads(struct tun_dev *t, uint32_t gso_max_segs, char *why,
			size_t why_len)
{
	int fd = t->fds[0], hdr_sz = TUN_VNET_HDR_LEN;
	struct tun_nl_conn nl;
	struct vl_status st = { "" };
	char f[64], no_uso[64] = "";
	struct ifreq ifr;
	int err;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		err = -errno;
		snprintf(why, why_len, "TUNGETIFF: %s", strerror(-err));
		return err;
	}
	if (!(ifr.ifr_flags & IFF_VNET_HDR)) {
		snprintf(why, why_len, "IFF_VNET_HDR not taken");
		return -EOPNOTSUPP;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_sz) < 0) {
		err = -errno;
		snprintf(why, why_len, "TUNSETVNETHDRSZ %d: %s", hdr_sz,
			 strerror(-err));
		return err;
	}
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	{
		int le = 1;

		/* offload.c reads and writes virtio 1.0 (little-endian) headers. */
		if (ioctl(fd, TUNSETVNETLE, &le) < 0) {
			err = -errno;
			snprintf(why, why_len, "TUNSETVNETLE: %s",
				 strerror(-err));
			return err;
		}
	}
#endif
	/* USO4 and USO6 only together; before Linux 6.2 EINVAL. */
	t->offloads = TUN_OFF_FEATURES_USO;
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)t->offloads) < 0) {
		snprintf(no_uso, sizeof(no_uso), " (no uso: %s)",
			 strerror(errno));
		t->offloads = TUN_OFF_FEATURES;
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)t->offloads) < 0) {
			err = -errno;
			snprintf(why, why_len, "TUNSETOFFLOAD: %s",
				 strerror(-err));
			t->offloads = 0;
			return err;
		}
	}
	t->uso = (t->offloads & TUN_F_USO4) != 0;

	/* Without this cap a frame at a small MTU could need more buffers
	 * than the reader has, and every such frame would be dropped. */
	err = tun_nl_open(&nl, &st);
	if (!err) {
		err = tun_nl_link_set_gso_segs(&nl, t->ifindex, gso_max_segs,
					       &st);
		tun_nl_close(&nl);
	}
	if (err) {
		snprintf(why, why_len, "gso_max_segs: %.96s", st.msg);
		return err;
	}
	t->gso_max_segs = gso_max_segs;
	features_str(t->offloads, f, sizeof(f));
	snprintf(t->offload_msg, sizeof(t->offload_msg),
		 "on: vnet header %d bytes, %s%s, gso_max_segs %u", hdr_sz, f,
		 no_uso, gso_max_segs);
	return 0;
}

int tun_open(struct tun_dev *t, const char *name, unsigned int n_queues,
	     struct vl_status *st)
{
	return tun_open_opts(t, name, n_queues, NULL, st);
}

int tun_open_opts(struct tun_dev *t, const char *name, unsigned int n_queues,
		  const struct tun_opts *o, struct vl_status *st)
{
	uint32_t segs = TUN_GSO_SEGS_DEFAULT;
	char why[128];
	bool exists;
	unsigned int q;
	int err;

	memset(t, 0, sizeof(*t));
	for (q = 0; q < TUN_QUEUES_MAX; q++)
		t->fds[q] = -1;
	if (!name)
		name = "";
	err = check_name(name, st);
	if (err)
		return err;
	if (n_queues == 0 || n_queues > TUN_QUEUES_MAX)
		return vl_status_set(st, -EINVAL,
				     "tun %s: %u queues asked, give 1 to %d",
				     shown(name), n_queues, TUN_QUEUES_MAX);
	if (o && o->gso_max_segs)
		segs = o->gso_max_segs;
	if (o && o->offload && (segs > TUN_OFF_SEGS_MAX || segs < 2))
		return vl_status_set(
			st, -EINVAL,
			"tun %s: gso_max_segs %u: give 2 to %d (what GRO and the read buffers allow)",
			shown(name), segs, TUN_OFF_SEGS_MAX);
	err = check_holder(name, &exists, st);
	if (err)
		return err;

	snprintf(t->offload_msg, sizeof(t->offload_msg), "off: not asked for");
	if (o && o->offload) {
		err = open_queues(t, name, n_queues, exists, true, st);
		/* A kernel without IFF_VNET_HDR refuses the flag: go plain. */
		if (err && err != -EINVAL)
			return err;
		if (err)
			snprintf(why, sizeof(why), "TUNSETIFF IFF_VNET_HDR: %s",
				 strerror(-err));
		else
			err = set_offloads(t, segs, why, sizeof(why));
		if (!err) {
			t->vnet = true;
			return 0;
		}
		/* Also removes the device if we made it: "exists" still holds. */
		tun_close(t);
		t->offloads = 0;
		t->uso = false;
		t->gso_max_segs = 0;
		snprintf(t->offload_msg, sizeof(t->offload_msg), "off: %.150s",
			 why);
	}
	err = open_queues(t, name, n_queues, exists, false, st);
	if (err)
		return err;
	/* Best effort: clear features a persistent device kept. */
	if (ioctl(t->fds[0], TUNSETOFFLOAD, 0UL) < 0) {
		/* Only a kernel without TUNSETOFFLOAD: it has none to clear. */
	}
	return 0;
}

/* Names the device in a netlink message, and says what EPERM needs. */
static int nl_failed(const struct tun_dev *t, int err, struct vl_status *st)
{
	size_t n;

	vl_status_prefix(st, "tun %s: ", t->name);
	if (err == -EPERM && st) {
		n = strnlen(st->msg, sizeof(st->msg));
		snprintf(st->msg + n, sizeof(st->msg) - n,
			 ": needs CAP_NET_ADMIN");
	}
	return err;
}

/* 255.255.0.0 -> 16; -1 for a mask with holes. */
static int mask_prefix(uint32_t mask)
{
	uint32_t host = ~mask;

	if (host & (host + 1))
		return -1;
	return __builtin_popcount(mask);
}

int tun_configure(struct tun_dev *t, uint32_t addr, uint32_t mask, int mtu,
		  int txqueuelen, struct vl_status *st)
{
	uint32_t be_mask = htonl(mask);
	int prefix = mask_prefix(mask);
	char m[INET_ADDRSTRLEN];
	struct tun_nl_conn nl;
	int err;

	if (!t->n_queues || t->ifindex <= 0)
		return vl_status_set(st, -EBADF, "tun: configure before open");
	if (prefix < 0)
		return vl_status_set(
			st, -EINVAL, "tun %s: netmask %s has holes", t->name,
			inet_ntop(AF_INET, &be_mask, m, sizeof(m)));
	if (mtu < TUN_MTU_MIN || mtu > TUN_MTU_MAX)
		return vl_status_set(st, -EINVAL,
				     "tun %s: mtu %d out of range (%d to %d)",
				     t->name, mtu, TUN_MTU_MIN, TUN_MTU_MAX);
	if (txqueuelen < 0)
		return vl_status_set(st, -EINVAL,
				     "tun %s: negative txqueuelen %d", t->name,
				     txqueuelen);

	err = tun_nl_open(&nl, st);
	if (err)
		return nl_failed(t, err, st);
	err = tun_nl_addr_add4(&nl, t->ifindex, addr, (unsigned int)prefix, st);
	if (!err)
		err = tun_nl_link_set(&nl, t->ifindex, mtu, txqueuelen, 1, st);
	tun_nl_close(&nl);
	return err ? nl_failed(t, err, st) : 0;
}

int tun_route_add(struct tun_dev *t, uint32_t dst, uint32_t mask, int mtu,
		  int metric, struct vl_status *st)
{
	uint32_t be_dst = htonl(dst);
	int prefix = mask_prefix(mask);
	char ip[INET_ADDRSTRLEN];
	struct tun_nl_conn nl;
	int err;

	if (!t->n_queues || t->ifindex <= 0)
		return vl_status_set(st, -EBADF, "tun: route before open");
	inet_ntop(AF_INET, &be_dst, ip, sizeof(ip));
	if (prefix < 0)
		return vl_status_set(st, -EINVAL,
				     "tun %s: route %s: netmask has holes",
				     t->name, ip);
	if (dst & ~mask)
		return vl_status_set(st, -EINVAL,
				     "tun %s: route %s/%d has host bits set",
				     t->name, ip, prefix);
	if (mtu && (mtu < TUN_MTU_MIN || mtu > TUN_MTU_MAX))
		return vl_status_set(
			st, -EINVAL,
			"tun %s: route %s/%d: mtu %d out of range (%d to %d, or 0 for the device's)",
			t->name, ip, prefix, mtu, TUN_MTU_MIN, TUN_MTU_MAX);
	if (metric < 0)
		return vl_status_set(st, -EINVAL,
				     "tun %s: route %s/%d: negative metric %d",
				     t->name, ip, prefix, metric);

	err = tun_nl_open(&nl, st);
	if (err)
		return nl_failed(t, err, st);
	err = tun_nl_route_add4(&nl, t->ifindex, dst, (unsigned int)prefix, mtu,
				metric, st);
	tun_nl_close(&nl);
	if (err == -EEXIST)
		return vl_status_set(
			st, err,
			"tun %s: route %s/%d metric %d already exists (another device, or left from an earlier run): remove it (ip route del %s/%d metric %d) or change the metric",
			t->name, ip, prefix, metric, ip, prefix, metric);
	if (err == -ENETDOWN)
		return vl_status_set(
			st, err,
			"tun %s: route %s/%d: the device is down: configure it (link up) before adding routes",
			t->name, ip, prefix);
	return err ? nl_failed(t, err, st) : 0;
}

int tun_mtu_get(const struct tun_dev *t, int *mtu, struct vl_status *st)
{
	struct tun_nl_conn nl;
	struct tun_nl_link link;
	int err;

	if (t->ifindex <= 0)
		return vl_status_set(st, -EBADF, "tun: mtu get before open");
	err = tun_nl_open(&nl, st);
	if (!err) {
		err = tun_nl_link_get_index(&nl, t->ifindex, &link, st);
		tun_nl_close(&nl);
	}
	if (err)
		return nl_failed(t, err, st);
	*mtu = (int)link.mtu;
	return 0;
}

int tun_mtu_set(struct tun_dev *t, int mtu, struct vl_status *st)
{
	struct tun_nl_conn nl;
	int err;

	if (t->ifindex <= 0)
		return vl_status_set(st, -EBADF, "tun: mtu set before open");
	if (mtu < TUN_MTU_MIN || mtu > TUN_MTU_MAX)
		return vl_status_set(
			st, -EINVAL,
			"tun %s: mtu %d out of range (%d to %d for IPv4)",
			t->name, mtu, TUN_MTU_MIN, TUN_MTU_MAX);
	err = tun_nl_open(&nl, st);
	if (!err) {
		err = tun_nl_link_set(&nl, t->ifindex, mtu, -1, -1, st);
		tun_nl_close(&nl);
	}
	return err ? nl_failed(t, err, st) : 0;
}

/*
 * The TUN_F_* a device has in force, read back as ethtool features by
 * name (tun's set_offload maps TUN_F_CSUM to tx-checksum-ip-generic,
 * TSO4/6/ECN to tx-tcp{,6,-ecn}-segmentation, USO4|6 to
 * tx-udp-segmentation); there is no TUNGETOFFLOAD. Feature bit numbers
 * are not ABI, the names are (ethtool -k prints them).
 */
static int features_get(const char *name, unsigned int *offloads)
{
	static const struct {
		const char *name;
		unsigned int f;
	} map[] = {
		{ "tx-checksum-ip-generic", TUN_F_CSUM },
		{ "tx-tcp-segmentation", TUN_F_TSO4 },
		{ "tx-tcp6-segmentation", TUN_F_TSO6 },
		{ "tx-tcp-ecn-segmentation", TUN_F_TSO_ECN },
		{ "tx-udp-segmentation", TUN_F_USO4 | TUN_F_USO6 },
	};
	struct ethtool_sset_info *info = NULL;
	struct ethtool_gstrings *strs = NULL;
	struct ethtool_gfeatures *feat = NULL;
	struct ifreq ifr;
	uint32_t n, i;
	size_t j;
	int fd, err = 0;

	*offloads = 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	info = calloc(1, sizeof(*info) + sizeof(uint32_t));
	if (!info) {
		err = -ENOMEM;
		goto out;
	}
	info->cmd = ETHTOOL_GSSET_INFO;
	info->sset_mask = 1ULL << ETH_SS_FEATURES;
	ifr.ifr_data = (void *)info;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	n = info->sset_mask ? info->data[0] : 0;
	if (!n || n > 4096) {
		err = -EOPNOTSUPP;
		goto out;
	}
	strs = calloc(1, sizeof(*strs) + (size_t)n * ETH_GSTRING_LEN);
	feat = calloc(1, sizeof(*feat) +
				 (n + 31) / 32 * sizeof(feat->features[0]));
	if (!strs || !feat) {
		err = -ENOMEM;
		goto out;
	}
	strs->cmd = ETHTOOL_GSTRINGS;
	strs->string_set = ETH_SS_FEATURES;
	strs->len = n;
	ifr.ifr_data = (void *)strs;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	feat->cmd = ETHTOOL_GFEATURES;
	feat->size = (n + 31) / 32;
	ifr.ifr_data = (void *)feat;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < n && i < strs->len; i++) {
		const char *s = (const char *)strs->data + i * ETH_GSTRING_LEN;

		if (!(feat->features[i / 32].active & (1U << (i % 32))))
			continue;
		for (j = 0; j < sizeof(map) / sizeof(map[0]); j++)
			if (!strncmp(s, map[j].name, ETH_GSTRING_LEN))
				*offloads |= map[j].f;
	}
out:
	free(feat);
	free(strs);
	free(info);
	close(fd);
	return err;
}

/* Fills the offload fields from what the device has; changes nothing. */
static int vnet_from_fd(struct tun_dev *t, int fd, uint32_t gso_max_segs,
			struct vl_status *st)
{
	char f[64];
	int hdr_sz = 0, err;

	if (ioctl(fd, TUNGETVNETHDRSZ, &hdr_sz) < 0)
		return vl_status_set(st, -errno,
				     "tun %s: fd %d: TUNGETVNETHDRSZ: %s",
				     t->name, fd, strerror(errno));
	if (hdr_sz != TUN_VNET_HDR_LEN)
		return vl_status_set(
			st, -EINVAL,
			"tun %s: fd %d has IFF_VNET_HDR with a %d-byte header, vela reads %d: set it with TUNSETVNETHDRSZ or hand over a plain fd",
			t->name, fd, hdr_sz, TUN_VNET_HDR_LEN);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	{
		int le = 0;

		if (ioctl(fd, TUNGETVNETLE, &le) < 0 || !le)
			return vl_status_set(
				st, -EINVAL,
				"tun %s: fd %d: vnet headers are not little-endian (TUNSETVNETLE)",
				t->name, fd);
	}
#endif
	err = features_get(t->name, &t->offloads);
	if (err)
		return vl_status_set(st, err,
				     "tun %s: fd %d: reading its offloads: %s",
				     t->name, fd, strerror(-err));
	t->uso = (t->offloads & TUN_F_USO4) != 0;
	t->gso_max_segs = gso_max_segs;
	t->vnet = true;
	features_str(t->offloads, f, sizeof(f));
	snprintf(
		t->offload_msg, sizeof(t->offload_msg),
		"on (as handed over): vnet header %d bytes, %s, gso_max_segs %u",
		hdr_sz, t->offloads ? f : "no features", t->gso_max_segs);
	return 0;
}

/*
 * The device must live in our network namespace, or its name and index
 * here are another device's. TUNGETDEVNETNS (Linux 5.2+, CAP_NET_ADMIN)
 * tells; where it is refused the check is skipped.
 */
static int check_netns(const struct tun_dev *t, int fd, struct vl_status *st)
{
	struct stat dev_ns, our_ns;
	int ns = ioctl(fd, TUNGETDEVNETNS);
	int ret;

	if (ns < 0)
		return 0;
	ret = fstat(ns, &dev_ns);
	close(ns);
	if (ret || stat("/proc/self/ns/net", &our_ns))
		return 0;
	if (dev_ns.st_ino != our_ns.st_ino || dev_ns.st_dev != our_ns.st_dev)
		return vl_status_set(
			st, -EXDEV,
			"tun %s: fd %d belongs to a device in another network namespace: hand over a fd from this one",
			t->name, fd);
	return 0;
}

/*
 * tun_open_from_fd() proper; also hands back the fd's TUNGETIFF flags in
 * @iff_flags, for tun_open_from_fds().
 */
static int take_fd(struct tun_dev *t, int fd, unsigned int *iff_flags,
		   struct vl_status *st)
{
	struct tun_nl_conn nl;
	struct tun_nl_link link;
	struct ifreq ifr;
	unsigned int q;
	int fl, err;

	memset(t, 0, sizeof(*t));
	for (q = 0; q < TUN_QUEUES_MAX; q++)
		t->fds[q] = -1;
	snprintf(t->offload_msg, sizeof(t->offload_msg),
		 "off: the handed-over fd has no IFF_VNET_HDR");
	memset(&ifr, 0, sizeof(ifr));
	if (fd < 0 || ioctl(fd, TUNGETIFF, &ifr) < 0) {
		err = fd < 0 ? -EBADF : -errno;
		/* EBADFD: no TUNSETIFF yet, or detached (TUNSETQUEUE). */
		return vl_status_set(
			st, err, "fd %d is not a TUN device: %s", fd,
			err == -EBADFD ?
				"/dev/net/tun not attached to a device (no TUNSETIFF, or a detached queue)" :
			err == -EBADF ? "not an open file descriptor" :
					strerror(-err));
	}
	*iff_flags = (unsigned int)(ifr.ifr_flags & 0xffff);
	memcpy(t->name, ifr.ifr_name, sizeof(t->name) - 1);
	if (ifr.ifr_flags & IFF_TAP)
		return vl_status_set(
			st, -EINVAL,
			"fd %d is a TAP device (%s), not a TUN: vela carries IP packets, not Ethernet frames",
			fd, t->name);
	if (!(ifr.ifr_flags & IFF_TUN))
		return vl_status_set(st, -EINVAL,
				     "fd %d is not a TUN device: flags %#x", fd,
				     (unsigned int)(ifr.ifr_flags & 0xffff));
	err = check_netns(t, fd, st);
	if (err)
		return err;
	t->ifindex = (int)if_nametoindex(t->name);
	if (!t->ifindex)
		return vl_status_set(st, -ENODEV,
				     "tun %s: fd %d: no such device here: %s",
				     t->name, fd, strerror(errno));
	err = tun_nl_open(&nl, st);
	if (!err) {
		err = tun_nl_link_get_index(&nl, t->ifindex, &link, st);
		tun_nl_close(&nl);
	}
	if (err) {
		vl_status_prefix(st, "tun %s: fd %d: ", t->name, fd);
		goto fail;
	}
	/*
	 * TUNGETIFF cannot say: it reports IFF_NOFILTER (0x1000, no socket
	 * filter attached) in the bit of IFF_NO_PI. IFLA_TUN_PI (Linux
	 * 4.15+) can; older kernels are trusted on TUNGETIFF's word.
	 */
	if (link.tun_info ? link.tun_pi : !(ifr.ifr_flags & IFF_NO_PI)) {
		err = vl_status_set(
			st, -EINVAL,
			"tun %s: fd %d lacks IFF_NO_PI (every packet carries a 4-byte packet-info header): open it with IFF_NO_PI, vela reads raw IP packets",
			t->name, fd);
		goto fail;
	}
	if (ifr.ifr_flags & IFF_VNET_HDR) {
		err = vnet_from_fd(t, fd, link.gso_max_segs, st);
		if (err)
			goto fail;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		err = vl_status_set(st, -errno, "tun %s: fd %d: fcntl: %s",
				    t->name, fd, strerror(errno));
		goto fail;
	}
	t->fds[0] = fd;
	t->n_queues = 1;
	t->dev_queues =
		link.tun_info ? link.tun_queues + link.tun_disabled_queues : 0;
	return 0;

fail:
	/* The fd stays the caller's. */
	t->ifindex = 0;
	t->vnet = false;
	t->uso = false;
	t->offloads = 0;
	t->gso_max_segs = 0;
	return err;
}

int tun_open_from_fd(struct tun_dev *t, int fd, struct vl_status *st)
{
	unsigned int flags;

	return take_fd(t, fd, &flags, st);
}

/* Whether @a and @b are one open file (dup); false where kcmp is refused. */
static bool same_file(int a, int b)
{
#ifdef SYS_kcmp
	pid_t pid = getpid();

	return syscall(SYS_kcmp, pid, pid, KCMP_FILE, a, b) == 0;
#else
	(void)a;
	(void)b;
	return false;
#endif
}

/*
 * A vnet device's gso_max_segs as handed over is usually the kernel's
 * 65535: frames of more segments than a reader has buffers would be
 * dropped whole, so it is lowered to what tun_open_opts() would set.
 */
static void cap_gso_segs(struct tun_dev *t)
{
	struct vl_status nst = { "" };
	struct tun_nl_conn nl;
	char f[64], why[96] = "";
	int err;

	if (t->gso_max_segs && t->gso_max_segs <= TUN_GSO_SEGS_DEFAULT)
		return;
	err = tun_nl_open(&nl, &nst);
	if (!err) {
		err = tun_nl_link_set_gso_segs(&nl, t->ifindex,
					       TUN_GSO_SEGS_DEFAULT, &nst);
		tun_nl_close(&nl);
	}
	if (err)
		snprintf(why, sizeof(why),
			 " (left: lowering it to %d failed: %.48s)",
			 TUN_GSO_SEGS_DEFAULT, nst.msg);
	else
		t->gso_max_segs = TUN_GSO_SEGS_DEFAULT;
	features_str(t->offloads, f, sizeof(f));
	snprintf(
		t->offload_msg, sizeof(t->offload_msg),
		"on (as handed over): vnet header %d bytes, %s, gso_max_segs %u%s",
		TUN_VNET_HDR_LEN, t->offloads ? f : "no features",
		t->gso_max_segs, why);
}

int tun_open_from_fds(struct tun_dev *t, const int *fds, unsigned int n,
		      struct vl_status *st)
{
	struct tun_dev one;
	unsigned int q, k, flags, flags0 = 0;
	int err;

	memset(t, 0, sizeof(*t));
	for (q = 0; q < TUN_QUEUES_MAX; q++)
		t->fds[q] = -1;
	if (n == 0 || n > TUN_QUEUES_MAX)
		return vl_status_set(st, -EINVAL,
				     "%u queue fds handed over, give 1 to %d",
				     n, TUN_QUEUES_MAX);
	for (q = 0; q < n; q++) {
		for (k = 0; k < q; k++) {
			if (fds[k] == fds[q]) {
				err = vl_status_set(
					st, -EINVAL,
					"fd %d is handed over twice: give one fd per queue",
					fds[q]);
				goto give_back;
			}
			if (same_file(fds[k], fds[q])) {
				err = vl_status_set(
					st, -EINVAL,
					"fds %d and %d are one queue (dups of one open file): open /dev/net/tun once per queue, with IFF_MULTI_QUEUE",
					fds[k], fds[q]);
				goto give_back;
			}
		}
		err = take_fd(&one, fds[q], &flags, st);
		if (err)
			goto give_back;
		if (q == 0) {
			*t = one;
			flags0 = flags;
			if (n > 1 && !(flags & IFF_MULTI_QUEUE)) {
				err = vl_status_set(
					st, -EINVAL,
					"tun %s: %u fds handed over for a single-queue device (no IFF_MULTI_QUEUE): hand over one fd, or open every queue with IFF_MULTI_QUEUE",
					t->name, n);
				goto give_back;
			}
			continue;
		}
		/* @one's fd is fds[q]: still the caller's if we refuse it. */
		if (one.ifindex != t->ifindex) {
			err = vl_status_set(
				st, -EXDEV,
				"fd %d is a queue of tun %s, fd %d of tun %s: hand over the queues of one device",
				fds[q], one.name, fds[0], t->name);
			goto give_back;
		}
		if (one.vnet != t->vnet ||
		    (flags ^ flags0) & (IFF_VNET_HDR | IFF_MULTI_QUEUE)) {
			err = vl_status_set(
				st, -EINVAL,
				"tun %s: fd %d and fd %d differ in offload mode (IFF_VNET_HDR %s vs %s): open every queue with the same flags",
				t->name, fds[0], fds[q],
				flags0 & IFF_VNET_HDR ? "on" : "off",
				flags & IFF_VNET_HDR ? "on" : "off");
			goto give_back;
		}
		t->fds[q] = fds[q];
		t->n_queues = q + 1;
		t->dev_queues = one.dev_queues;
	}
	if (t->vnet)
		cap_gso_segs(t);
	return 0;

give_back:
	/* The caller's fds again: forget them, close none. */
	for (q = 0; q < TUN_QUEUES_MAX; q++)
		t->fds[q] = -1;
	tun_close(t);
	return err;
}

/*
 * A TUN read() returns min(packet, buffer) and silently cuts the rest,
 * so each read gets one spare byte behind the caller's buffer: a packet
 * that reaches it did not fit and is dropped, not passed on cut. Each
 * read takes one packet, kept or dropped, so @max bounds the loop.
 */
unsigned int tun_q_read_burst(struct tun_dev *t, unsigned int q,
			      uint8_t *const *bufs, uint32_t buf_len,
			      uint32_t *lens, unsigned int max)
{
	unsigned int n_rx = 0;
	unsigned int i;
	uint8_t spill;
	int fd;

	if (q >= t->n_queues)
		return 0;
	fd = t->fds[q];
	for (i = 0; i < max; i++) {
		struct iovec iov[2] = {
			{ .iov_base = bufs[n_rx], .iov_len = buf_len },
			{ .iov_base = &spill, .iov_len = sizeof(spill) },
		};
		ssize_t n = readv(fd, iov, 2);

		if (n <= 0)
			break; /* EAGAIN: empty; EBADFD etc.: poll() says */
		if ((size_t)n > buf_len)
			continue;
		lens[n_rx++] = (uint32_t)n;
	}
	return n_rx;
}

/*
 * A packet the kernel refuses (EINVAL: not IPv4/IPv6; EIO: device down)
 * is skipped and the rest still go; EAGAIN means the kernel takes no more
 * now, and the rest are the caller's to drop.
 */
unsigned int tun_q_write_burst(struct tun_dev *t, unsigned int q,
			       uint8_t *const *bufs, const uint32_t *lens,
			       unsigned int n)
{
	unsigned int n_tx = 0;
	unsigned int i;
	int fd;

	if (q >= t->n_queues)
		return 0;
	fd = t->fds[q];
	for (i = 0; i < n; i++) {
		if (write(fd, bufs[i], lens[i]) >= 0)
			n_tx++;
		else if (errno == EAGAIN)
			break;
	}
	return n_tx;
}

/*
 * The most packets a frame can split into, from its vnet header alone: a
 * bound, since headers count as payload here. tun_off_split() checks the
 * header properly; a lying gso_size only makes the frame wait once.
 */
static unsigned int segs_bound(const uint8_t *frame, uint32_t len)
{
	struct virtio_net_hdr vh;
	uint32_t gso_size;

	memcpy(&vh, frame, sizeof(vh));
	gso_size = le16toh(vh.gso_size);
	if ((vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) ==
		    VIRTIO_NET_HDR_GSO_NONE ||
	    !gso_size)
		return 1;
	return (len - TUN_VNET_HDR_LEN + gso_size - 1) / gso_size;
}

/*
 * Each read lands in bufs[n_out] - TUN_VNET_HDR_LEN, and only what does
 * not fit there (a super-packet) spills into v->frame behind the same
 * offset; such a frame is then made whole in v->frame. A frame read in
 * place splits with outs[0] as its own packet (offload.h allows exactly
 * that), so a plain packet is never copied. A frame that must wait is
 * moved to v->frame, since bufs[] are the caller's again after the call.
 */
unsigned int tun_q_read_vnet_burst(struct tun_dev *t, unsigned int q,
				   struct tun_q_vnet *v, uint8_t *const *bufs,
				   uint32_t buf_len, uint32_t *lens,
				   unsigned int max)
{
	const uint32_t head = TUN_VNET_HDR_LEN + buf_len;
	unsigned int n_out = 0, reads = 0;
	int fd;

	if (q >= t->n_queues || !t->vnet || head >= TUN_OFF_READ_LEN)
		return 0;
	fd = t->fds[q];
	while (n_out < max) {
		uint8_t *frame;
		uint32_t len;
		int n;

		if (v->held) {
			frame = v->frame;
			len = v->held;
			v->held = 0;
		} else {
			struct iovec iov[2] = {
				{ .iov_base = bufs[n_out] - TUN_VNET_HDR_LEN,
				  .iov_len = head },
				{ .iov_base = v->frame + head,
				  .iov_len = TUN_OFF_READ_LEN - head },
			};
			ssize_t r;

			if (reads++ == max)
				break;
			r = readv(fd, iov, 2);
			if (r <= 0)
				break; /* EAGAIN: empty; EBADFD etc.: poll() says */
			len = (uint32_t)r;
			frame = bufs[n_out] - TUN_VNET_HDR_LEN;
			if (len > head) {
				memcpy(v->frame, frame, head);
				frame = v->frame;
			}
			if (n_out && segs_bound(frame, len) > max - n_out) {
				if (frame != v->frame)
					memcpy(v->frame, frame, len);
				v->held = len;
				break;
			}
		}
		n = tun_off_split(frame, len, &bufs[n_out], buf_len,
				  &lens[n_out], max - n_out, &v->off);
		if (n > 0)
			n_out += (unsigned int)n;
	}
	return n_out;
}

/*
 * tun_off_coalesce() looks at TUN_OFF_BURST_MAX packets per call; more
 * take more rounds. The iovecs point into pkts[], alive until we return.
 */
unsigned int tun_q_write_vnet_burst(struct tun_dev *t, unsigned int q,
				    struct tun_q_vnet *v, uint8_t *const *pkts,
				    const uint32_t *lens, unsigned int n,
				    uint64_t *bytes)
{
	struct tun_off_batch *b = &v->batch;
	unsigned int done = 0, n_tx = 0;
	int fd;

	*bytes = 0;
	if (q >= t->n_queues || !t->vnet)
		return 0;
	fd = t->fds[q];
	while (done < n) {
		unsigned int taken = tun_off_coalesce(
			b, pkts + done, lens + done, n - done, t->uso, &v->off);

		for (unsigned int u = 0; u < b->n_units; u++) {
			const struct tun_off_unit *un = &b->units[u];

			if (writev(fd, &b->iov[un->first_iov], un->n_iov) < 0) {
				if (errno == EAGAIN)
					return n_tx;
				continue; /* refused: counted by the caller */
			}
			n_tx += un->n_pkts;
			*bytes += un->len;
			v->tx_writes++;
			if (un->n_pkts > 1) {
				v->tx_supers++;
				v->tx_coalesced += un->n_pkts;
			}
		}
		done += taken;
	}
	return n_tx;
}

void tun_close(struct tun_dev *t)
{
	unsigned int q;

	for (q = 0; q < TUN_QUEUES_MAX; q++) {
		if (t->fds[q] >= 0)
			close(t->fds[q]);
		t->fds[q] = -1;
	}
	t->n_queues = 0;
	t->ifindex = 0;
	t->vnet = false;
}
