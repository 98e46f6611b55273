/* SPDX-License-Identifier: MIT */
#ifndef XSK_STEER_H
#define XSK_STEER_H

/*
 * What xsk_steer.bpf.c and its loader (dataplane/xdp_steer.c) share: the
 * layout of the program's .rodata and of its maps. Included by the BPF
 * program and by user space, so only kernel UAPI types.
 *
 * .rodata holds one struct xsk_steer_cfg, written by the loader before the
 * program is loaded and frozen by the kernel afterwards. The owner fields
 * come first and keep their place in later versions: a loader recognises
 * a program left attached by a crashed run by its name, this prefix and
 * XSK_STEER_MAGIC, whatever else the struct grows.
 */

#include <linux/types.h>

#define XSK_STEER_PROG_NAME "vela_xsk_steer" /* < BPF_OBJ_NAME_LEN: never cut */
#define XSK_STEER_MAGIC 0x56454c41u /* "VELA" */
#define XSK_STEER_VERSION 1
#define XSK_STEER_QUEUES_MAX 256 /* XSKMAP entries: RX queues 0..255 */

/* xsk_steer_cfg.flags */
#define XSK_STEER_F_V4 (1u << 0) /* steer IPv4 */
#define XSK_STEER_F_V6 (1u << 1) /* steer IPv6 */
#define XSK_STEER_F_ADDR4 (1u << 2) /* IPv4 destination must be addr4 */
#define XSK_STEER_F_ADDR6 (1u << 3) /* IPv6 destination must be addr6 */

struct xsk_steer_cfg {
	/* Who attached the program; read back by the next loader. */
	__u32 magic; /* XSK_STEER_MAGIC */
	__u32 version; /* XSK_STEER_VERSION */
	__u32 owner_pid; /* loader's pid, in owner_pidns */
	__u32 reserved;
	__u64 owner_start; /* loader's start time (/proc/pid/stat field 22) */
	__u64 owner_pidns; /* inode of the loader's /proc/self/ns/pid */
	/* What to steer. */
	__u32 flags; /* XSK_STEER_F_* */
	__be16 port; /* UDP destination port, network order; never 0 */
	__u16 reserved2;
	__be32 addr4; /* with XSK_STEER_F_ADDR4 */
	__be32 addr6[4]; /* with XSK_STEER_F_ADDR6 */
	__u32 reserved3; /* 64 bytes, the same layout on 32-bit hosts */
};

/*
 * Counter indexes in the per-CPU array steer_stats. Every frame is counted
 * exactly once, in the first reason that decided its fate.
 */
enum xsk_steer_counter {
	XSK_STEER_STEERED, /* redirected to the AF_XDP socket of its queue */
	XSK_STEER_NO_XSK, /* ours, but no socket on its queue: kernel */
	XSK_STEER_OTHER_DEST, /* UDP to another port, address or family */
	XSK_STEER_NOT_UDP, /* IPv4/IPv6, another protocol (TCP, ICMP, ...) */
	XSK_STEER_NOT_IP, /* ARP, LLDP, 3+ VLAN tags, ... */
	XSK_STEER_FRAGMENT, /* IPv4 fragment, first ones too */
	XSK_STEER_IP6_EXT, /* IPv6 with extension headers */
	XSK_STEER_MALFORMED, /* shorter than its headers say, IHL < 5 */
	XSK_STEER_COUNTERS
};

struct xsk_steer_count {
	__u64 packets;
	__u64 bytes;
};

#endif /* XSK_STEER_H */
