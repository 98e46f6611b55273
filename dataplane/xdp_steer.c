/* SPDX-License-Identifier: MIT */
#include "xdp_steer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "log.h"
#include "status.h"
#include "xsk_steer.h"
#include "xsk_steer_obj.h"

/*
 * Loading. The object is compiled into the binary (bpf/embed.py) and opened
 * with bpf_object__open_mem(); the listen port, address and owner record go
 * into its .rodata before load; libxdp loads and attaches it. libxdp first
 * tries its multi-program dispatcher, which needs a bpffs and freplace
 * programs. Where that fails (no bpffs mounted, or freplace refused with
 * EPERM, as on the test machine) it falls back to attaching our program
 * alone, in legacy netlink mode. Either way is fine for us: with the
 * dispatcher, other programs on the interface keep running after ours
 * passes a frame.
 *
 * Messages. libxdp and libbpf print through process-wide hooks, to stderr by
 * default. While we call into them the hooks write to a buffer instead
 * (struct notes). On success the buffer is noise - every attach here warns
 * that there is no bpffs and that libxdp falls back - and is logged at
 * debug. On failure it holds the details (the verifier's log, the kernel's
 * extack text) and is logged as warnings; the kernel's text also goes into
 * the status message.
 *
 * Stale programs. An XDP program attached over netlink outlives the process
 * that attached it, so a crashed dataplane leaves ours on the interface and
 * the next attach would fail with EBUSY. Ours is recognised by its name and
 * an owner record in its .rodata (magic, pid, process start time, pid
 * namespace), which user space can read back from the frozen map. If that
 * process is gone (no such pid, or a pid reused by a later process) the
 * program is stale and detached before ours goes on; a live owner, an owner
 * in another pid namespace (we cannot tell whether it lives) or anyone
 * else's program is an error naming it and saying how to remove it.
 */

/* The public counter names mirror the program's; keep them in step. */
_Static_assert(DP_XDP_STEERED == (int)XSK_STEER_STEERED, "counter order");
_Static_assert(DP_XDP_NO_XSK == (int)XSK_STEER_NO_XSK, "counter order");
_Static_assert(DP_XDP_OTHER_DEST == (int)XSK_STEER_OTHER_DEST, "counter order");
_Static_assert(DP_XDP_NOT_UDP == (int)XSK_STEER_NOT_UDP, "counter order");
_Static_assert(DP_XDP_NOT_IP == (int)XSK_STEER_NOT_IP, "counter order");
_Static_assert(DP_XDP_FRAGMENT == (int)XSK_STEER_FRAGMENT, "counter order");
_Static_assert(DP_XDP_IP6_EXT == (int)XSK_STEER_IP6_EXT, "counter order");
_Static_assert(DP_XDP_MALFORMED == (int)XSK_STEER_MALFORMED, "counter order");
_Static_assert(DP_XDP_COUNTERS == (int)XSK_STEER_COUNTERS, "counter order");
_Static_assert(DP_XDP_QUEUES_MAX == XSK_STEER_QUEUES_MAX, "XSKMAP size");
_Static_assert(sizeof(struct xsk_steer_cfg) == 64, ".rodata layout");

#ifndef CAP_BPF
#define CAP_BPF 39 /* Linux 5.8 */
#endif

/* NOTES_LEN: libxdp and libbpf text kept; the tail, where verifier logs
 * give the reason. MAP_IDS_MAX: maps of a program we look at. RODATA_MAX:
 * largest .rodata we read back. */
enum {
	NOTES_LEN = 8192,
	MAP_IDS_MAX = 8,
	RODATA_MAX = 512,
	STAT_LINE_MAX = 1024,
};

struct dp_xdp {
	int ifindex;
	char ifname[IF_NAMESIZE];
	enum dp_xdp_mode mode; /* native or generic, as attached */
	struct bpf_object *obj;
	struct xdp_program *prog;
	int xsks_fd; /* owned by obj */
	int stats_fd; /* owned by obj */
	uint32_t prog_id;
};

/* ---- libxdp and libbpf messages ---- */

struct notes {
	char text[NOTES_LEN];
	size_t len;
};

/* notes, and the hooks pointing at it, are only set under notes_lock. */
static pthread_mutex_t notes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct notes *notes;
static libxdp_print_fn_t saved_xdp_print;
static libbpf_print_fn_t saved_bpf_print;

/* Appends, keeping the last NOTES_LEN - 1 bytes. */
static void notes_add(const char *prefix, const char *fmt, va_list ap)
{
	size_t add, drop, plen = strlen(prefix);
	char *s;
	int n;

	if (!notes)
		return; /* a print racing notes_end() from another thread */
	n = vasprintf(&s, fmt, ap);
	if (n < 0)
		return;
	add = (size_t)n;
	if (plen + add >= NOTES_LEN) {
		notes->len = 0;
		memcpy(notes->text, s + (plen + add - (NOTES_LEN - 1)),
		       NOTES_LEN - 1);
		notes->len = NOTES_LEN - 1;
	} else {
		if (notes->len + plen + add >= NOTES_LEN) {
			drop = notes->len + plen + add - (NOTES_LEN - 1);
			memmove(notes->text, notes->text + drop,
				notes->len - drop);
			notes->len -= drop;
		}
		memcpy(notes->text + notes->len, prefix, plen);
		memcpy(notes->text + notes->len + plen, s, add);
		notes->len += plen + add;
	}
	notes->text[notes->len] = '\0';
	free(s);
}

/* Debug output is not kept: logged at once when wanted, else dropped. */
static void log_now(enum vl_log_level level, const char *prefix,
		    const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	if (!vl_log_enabled(level))
		return;
	n = (size_t)snprintf(line, sizeof(line), "%s", prefix);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	vl_log(level, line, NULL);
}

static int xdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBXDP_DEBUG)
		log_now(VL_LOG_DEBUG, "", fmt, ap);
	else
		notes_add("", fmt, ap); /* libxdp prefixes its own lines */
	return 0;
}

static int bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's own lines start with "libbpf: ". Its errors and the
	 * verifier's log are warnings; info is chatter ("skipping
	 * unrecognized data section" for every libxdp object). */
	if (level == LIBBPF_WARN)
		notes_add("", fmt, ap);
	else
		log_now(level == LIBBPF_INFO ? VL_LOG_DEBUG : VL_LOG_TRACE, "",
			fmt, ap);
	return 0;
}

static void notes_begin(struct notes *n)
{
	pthread_mutex_lock(&notes_lock);
	n->len = 0;
	n->text[0] = '\0';
	notes = n;
	saved_xdp_print = libxdp_set_print(xdp_print);
	saved_bpf_print = libbpf_set_print(bpf_print);
}

/* Restores the hooks, then logs what was said, line by line. */
static void notes_end(struct notes *n, enum vl_log_level level)
{
	char *line, *next;

	libbpf_set_print(saved_bpf_print);
	libxdp_set_print(saved_xdp_print);
	notes = NULL;
	pthread_mutex_unlock(&notes_lock);

	if (!vl_log_enabled(level))
		return;
	for (line = n->text; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (*line)
			vl_log(level, line, NULL);
	}
}

/* The kernel's extack text from the last failed netlink request, or "". */
static void kernel_msg(const struct notes *n, char *buf, size_t len)
{
	static const char tag[] = "Kernel error message: ";
	const char *p, *last = NULL;
	size_t m;

	for (p = n->text; (p = strstr(p, tag)); p += sizeof(tag) - 1)
		last = p + sizeof(tag) - 1;
	buf[0] = '\0';
	if (!last)
		return;
	m = strcspn(last, "\n");
	if (m >= len)
		m = len - 1;
	memcpy(buf, last, m);
	buf[m] = '\0';
}

/* ---- owner record ---- */

/* Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
static int proc_start(uint32_t pid, uint64_t *start)
{
	char path[64], buf[STAT_LINE_MAX];
	const char *p;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and ')': skip past the last ')'. */
	p = strrchr(buf, ')');
	for (i = 3; p && i <= 22; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -EIO;
	*start = strtoull(p, NULL, 10);
	return 0;
}

static uint64_t pidns_self(void)
{
	struct stat s;

	return stat("/proc/self/ns/pid", &s) ? 0 : (uint64_t)s.st_ino;
}

enum owner {
	OWNER_GONE, /* stale: replace */
	OWNER_ALIVE, /* another running process */
	OWNER_SELF, /* this process, through another handle */
	OWNER_ELSEWHERE, /* another pid namespace: cannot tell */
};

static enum owner owner_state(const struct xsk_steer_cfg *cfg)
{
	uint64_t start, self_start = 0;

	if (cfg->owner_pidns != pidns_self())
		return OWNER_ELSEWHERE;
	if (proc_start(cfg->owner_pid, &start) < 0)
		return OWNER_GONE;
	if (start != cfg->owner_start)
		return OWNER_GONE; /* the pid was reused */
	if (cfg->owner_pid == (uint32_t)getpid() &&
	    !proc_start((uint32_t)getpid(), &self_start) && self_start == start)
		return OWNER_SELF;
	return OWNER_ALIVE;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/*
 * Is the program behind @prog_fd ours? Then fills @cfg from its .rodata.
 * The name alone could be anyone's; the magic in a .rodata of our layout
 * makes it ours.
 */
static bool read_owner(int prog_fd, struct xsk_steer_cfg *cfg)
{
	uint32_t map_ids[MAP_IDS_MAX], n_maps, key = 0;
	struct bpf_prog_info info = { 0 };
	unsigned char val[RODATA_MAX];
	uint32_t len = sizeof(info);
	bool found = false;

	info.nr_map_ids = MAP_IDS_MAX;
	info.map_ids = (uintptr_t)map_ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) ||
	    strcmp(info.name, XSK_STEER_PROG_NAME))
		return false;
	n_maps = info.nr_map_ids < MAP_IDS_MAX ? info.nr_map_ids : MAP_IDS_MAX;
	for (uint32_t i = 0; i < n_maps && !found; i++) {
		struct bpf_map_info mi = { 0 };
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) &&
		    mi.type == BPF_MAP_TYPE_ARRAY && mi.max_entries == 1 &&
		    ends_with(mi.name, ".rodata") &&
		    mi.value_size >= offsetof(struct xsk_steer_cfg, flags) &&
		    mi.value_size <= sizeof(val) &&
		    !bpf_map_lookup_elem(fd, &key, val)) {
			memset(cfg, 0, sizeof(*cfg));
			memcpy(cfg, val,
			       mi.value_size < sizeof(*cfg) ? mi.value_size :
							      sizeof(*cfg));
			found = cfg->magic == XSK_STEER_MAGIC;
		}
		close(fd);
	}
	return found;
}

/* ---- errors ---- */

static bool have_cap(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };

	if (syscall(SYS_capget, &h, d))
		return true; /* unknown: do not blame capabilities */
	return d[cap / 32].effective & (UINT32_C(1) << (cap % 32));
}

static bool can_load_bpf(void)
{
	return have_cap(CAP_SYS_ADMIN) ||
	       (have_cap(CAP_BPF) && have_cap(CAP_NET_ADMIN));
}

static const char *libxdp_mode_name(enum xdp_attach_mode m)
{
	switch (m) {
	case XDP_MODE_NATIVE:
		return "native";
	case XDP_MODE_SKB:
		return "generic";
	case XDP_MODE_HW:
		return "offloaded";
	case XDP_MODE_UNSPEC:
		break;
	}
	return "unknown";
}

/* The ip(8) keyword that removes a program attached in mode @m. */
static const char *ip_xdp_keyword(enum xdp_attach_mode m)
{
	switch (m) {
	case XDP_MODE_NATIVE:
		return "xdpdrv";
	case XDP_MODE_SKB:
		return "xdpgeneric";
	case XDP_MODE_HW:
		return "xdpoffload";
	case XDP_MODE_UNSPEC:
		break;
	}
	return "xdp";
}

static int other_program(const struct dp_xdp *x, struct xdp_program *p,
			 enum xdp_attach_mode m, struct vl_status *st)
{
	return vl_status_set(
		st, -EBUSY,
		"%s: another XDP program is attached (id %" PRIu32
		" \"%s\", %s mode): remove it with 'ip link set dev %s %s off' "
		"(or 'xdp-loader unload %s --all'), or choose another "
		"dataplane.interface",
		x->ifname, xdp_program__id(p), xdp_program__name(p),
		libxdp_mode_name(m), x->ifname, ip_xdp_keyword(m), x->ifname);
}

/* After EBUSY/EEXIST from the kernel: describe whoever holds the interface. */
static int describe_holder(const struct dp_xdp *x, struct vl_status *st)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(x->ifindex);
	struct xdp_program *p;
	int err;

	if (libxdp_get_error(mp))
		return vl_status_set(st, -EBUSY,
				     "%s: another XDP program was attached "
				     "while we were attaching ours: try again",
				     x->ifname);
	p = xdp_multiprog__main_prog(mp);
	if (p)
		err = other_program(x, p, xdp_multiprog__attach_mode(mp), st);
	else
		err = vl_status_set(st, -EBUSY,
				    "%s: an offloaded XDP program is attached: "
				    "remove it with 'ip link set dev %s "
				    "xdpoffload off'",
				    x->ifname, x->ifname);
	xdp_multiprog__close(mp);
	return err;
}

/* The program did not load (xdp_program__attach loads it first). */
static int explain_load(const struct dp_xdp *x, int err, const struct notes *n,
			struct vl_status *st)
{
	struct rlimit rl;
	char lim[32];

	if (strstr(n->text, "PROG LOAD LOG"))
		return vl_status_set(
			st, err,
			"%s: the kernel's verifier rejected the "
			"XDP program (%s; its log is above): the "
			"kernel is too old for it, or it has a bug",
			x->ifname, strerror(-err));
	if ((err == -EPERM || err == -EACCES) && !can_load_bpf())
		return vl_status_set(st, err,
				     "%s: loading the XDP program needs "
				     "CAP_BPF and CAP_NET_ADMIN (or "
				     "CAP_SYS_ADMIN): run vela-dataplane as "
				     "root or grant them",
				     x->ifname);
	if (err == -EPERM) {
		if (getrlimit(RLIMIT_MEMLOCK, &rl) ||
		    rl.rlim_cur == RLIM_INFINITY)
			snprintf(lim, sizeof(lim), "unlimited");
		else
			snprintf(lim, sizeof(lim), "%llu KiB",
				 (unsigned long long)rl.rlim_cur / 1024);
		return vl_status_set(
			st, err,
			"%s: the kernel refused the XDP program's "
			"maps or program (EPERM) although the "
			"process has the capabilities: kernels "
			"before 5.11 charge them to RLIMIT_MEMLOCK "
			"(now %s), so raise it (LimitMEMLOCK=infinity, "
			"ulimit -l unlimited); else a security "
			"module (lockdown, SELinux) forbids BPF",
			x->ifname, lim);
	}
	if (err == -ENOENT && strstr(n->text, "xdp-dispatcher.o"))
		return vl_status_set(st, err,
				     "%s: libxdp cannot find its "
				     "xdp-dispatcher.o: reinstall libxdp1, or "
				     "set LIBXDP_SKIP_DISPATCHER=1",
				     x->ifname);
	return vl_status_set(st, err, "%s: loading the XDP program failed: %s",
			     x->ifname, strerror(-err));
}

/* The program loaded; attaching it in @mode failed. */
static int explain_attach(const struct dp_xdp *x, int err,
			  enum dp_xdp_mode mode, const struct notes *n,
			  struct vl_status *st)
{
	char kmsg[256], note[300] = "";

	kernel_msg(n, kmsg, sizeof(kmsg));
	if (*kmsg)
		snprintf(note, sizeof(note), " (kernel: %s)", kmsg);
	switch (-err) {
	case EPERM:
	case EACCES:
		return vl_status_set(st, err,
				     "%s: attaching XDP needs CAP_NET_ADMIN in "
				     "the interface's network namespace: run "
				     "vela-dataplane as root or grant it",
				     x->ifname);
	case EBUSY:
	case EEXIST:
		return describe_holder(x, st);
	case ENODEV:
		return vl_status_set(st, err,
				     "no interface %s (it went away while "
				     "attaching): check dataplane.interface",
				     x->ifname);
	case EOPNOTSUPP:
		if (mode == DP_XDP_NATIVE)
			return vl_status_set(
				st, err,
				"%s: the driver has no native XDP%s: "
				"use generic mode (works on every "
				"interface, slower) or auto",
				x->ifname, note);
		break;
	default:
		break;
	}
	return vl_status_set(st, err,
			     "%s: attaching XDP in %s mode failed: %s%s",
			     x->ifname, dp_xdp_mode_name(mode), strerror(-err),
			     note);
}

/* ---- attach ---- */

/*
 * libbpf's option structs: zeroed, padding included, and sized, as
 * LIBBPF_OPTS() does without its statement expression (clang -Wpedantic).
 * Every such struct starts with size_t sz.
 */
static void opts_init(void *opts, size_t size)
{
	memset(opts, 0, size);
	*(size_t *)opts = size;
}

static enum xdp_attach_mode xdp_mode_of(enum dp_xdp_mode mode)
{
	return mode == DP_XDP_NATIVE ? XDP_MODE_NATIVE : XDP_MODE_SKB;
}

static uint32_t mode_flags(enum dp_xdp_mode mode)
{
	return mode == DP_XDP_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

/*
 * A program is attached but we may not open it: BPF_PROG_GET_FD_BY_ID
 * needs CAP_SYS_ADMIN, even where CAP_BPF and CAP_NET_ADMIN are enough to
 * load and attach ours. Netlink still tells its id and mode.
 */
static int unreadable(const struct dp_xdp *x, struct vl_status *st)
{
	struct bpf_xdp_query_opts q;
	enum xdp_attach_mode m = XDP_MODE_UNSPEC;
	uint32_t id = 0;

	opts_init(&q, sizeof(q));
	if (!bpf_xdp_query(x->ifindex, 0, &q)) {
		id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
		m = q.drv_prog_id ? XDP_MODE_NATIVE : XDP_MODE_SKB;
	}
	return vl_status_set(st, -EPERM,
			     "%s: an XDP program (id %" PRIu32 ", %s mode) is "
			     "attached, and telling whether it is one a "
			     "crashed vela left needs CAP_SYS_ADMIN: if it is, "
			     "remove it with 'ip link set dev %s %s off', or "
			     "run vela-dataplane with CAP_SYS_ADMIN",
			     x->ifname, id, libxdp_mode_name(m), x->ifname,
			     ip_xdp_keyword(m));
}

/*
 * What is on the interface now: nothing, a dispatcher (libxdp adds us), a
 * stale program of ours (detached here), or something to refuse.
 */
static int clear_stale(const struct dp_xdp *x, struct vl_status *st)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(x->ifindex);
	struct xdp_program *p = NULL, *ours = NULL;
	enum xdp_attach_mode m;
	struct xsk_steer_cfg cfg;
	char id[16], pid[16];
	long err;

	err = libxdp_get_error(mp);
	if (err == -ENOENT)
		return 0;
	if (err == -EPERM || err == -EACCES)
		return unreadable(x, st);
	if (err)
		return vl_status_set(st, (int)err,
				     "%s: cannot read the interface's XDP "
				     "program: %s",
				     x->ifname, strerror((int)-err));
	m = xdp_multiprog__attach_mode(mp);
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && read_owner(xdp_program__fd(p), &cfg))
			ours = p;
		else if (p) {
			err = other_program(x, p, m, st);
			goto out;
		}
	} else {
		while ((p = xdp_multiprog__next_prog(p, mp)))
			if (read_owner(xdp_program__fd(p), &cfg)) {
				ours = p;
				break;
			}
	}
	if (!ours)
		goto out; /* nothing, an offloaded program, or a dispatcher */

	snprintf(id, sizeof(id), "%" PRIu32, xdp_program__id(ours));
	snprintf(pid, sizeof(pid), "%" PRIu32, cfg.owner_pid);
	switch (owner_state(&cfg)) {
	case OWNER_ALIVE:
		err = vl_status_set(st, -EBUSY,
				    "%s: vela's XDP program (id %s) is in use "
				    "by the running process %s: stop that "
				    "vela-dataplane first, or choose another "
				    "dataplane.interface",
				    x->ifname, id, pid);
		goto out;
	case OWNER_SELF:
		err = vl_status_set(st, -EBUSY,
				    "%s: vela's XDP program is already "
				    "attached by this process",
				    x->ifname);
		goto out;
	case OWNER_ELSEWHERE:
		err = vl_status_set(st, -EBUSY,
				    "%s: a vela XDP program (id %s) was "
				    "attached from another PID namespace "
				    "(pid %s there); if that vela-dataplane is "
				    "gone, remove it with 'ip link set dev %s "
				    "%s off'",
				    x->ifname, id, pid, x->ifname,
				    ip_xdp_keyword(m));
		goto out;
	case OWNER_GONE:
		break;
	}
	if (xdp_multiprog__is_legacy(mp))
		err = xdp_multiprog__detach(mp);
	else
		err = xdp_program__detach(ours, x->ifindex, m, 0);
	if (err) {
		err = vl_status_set(st, (int)err,
				    "%s: cannot remove the XDP program (id %s) "
				    "left by vela process %s: %s; remove it "
				    "with 'ip link set dev %s %s off'",
				    x->ifname, id, pid, strerror((int)-err),
				    x->ifname, ip_xdp_keyword(m));
		goto out;
	}
	vl_log(VL_LOG_WARN,
	       "Replaced an XDP program left by a vela that is gone",
	       "interface", x->ifname, "progId", id, "ownerPid", pid, NULL);
out:
	xdp_multiprog__close(mp);
	return (int)err;
}

/*
 * Removes our program if it is still on the interface. Alone (the legacy
 * mode libxdp falls back to here) it is swapped out with our fd as the
 * expected old program, so a program someone attached since stays; this
 * needs only CAP_NET_ADMIN, while libxdp's detach reopens the program by id
 * (CAP_SYS_ADMIN). Something else on the interface may be a libxdp
 * dispatcher holding ours: that is libxdp's to take apart.
 * Returns 0, -ENOENT when ours is not there (any more), or -errno.
 */
static int detach_prog(const struct dp_xdp *x)
{
	struct bpf_xdp_attach_opts a;
	struct bpf_xdp_query_opts q;
	uint32_t id;
	int err;

	opts_init(&a, sizeof(a));
	a.old_prog_fd = xdp_program__fd(x->prog);
	opts_init(&q, sizeof(q));
	err = bpf_xdp_query(x->ifindex, (int)mode_flags(x->mode), &q);
	if (err)
		return err == -ENODEV || err == -EINVAL ? -ENOENT : err;
	id = x->mode == DP_XDP_NATIVE ? q.drv_prog_id : q.skb_prog_id;
	if (!id)
		return -ENOENT;
	if (id == x->prog_id)
		return bpf_xdp_detach(x->ifindex,
				      mode_flags(x->mode) | XDP_FLAGS_REPLACE,
				      &a);
	return xdp_program__detach(x->prog, x->ifindex, xdp_mode_of(x->mode),
				   0);
}

static void fill_cfg(struct xsk_steer_cfg *cfg, uint16_t port,
		     const struct in6_addr *addr)
{
	uint64_t start = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->magic = XSK_STEER_MAGIC;
	cfg->version = XSK_STEER_VERSION;
	cfg->owner_pid = (uint32_t)getpid();
	proc_start(cfg->owner_pid, &start);
	cfg->owner_start = start;
	cfg->owner_pidns = pidns_self();
	cfg->port = htons(port);
	if (!addr || IN6_IS_ADDR_UNSPECIFIED(addr)) {
		cfg->flags = XSK_STEER_F_V4 | XSK_STEER_F_V6;
	} else if (IN6_IS_ADDR_V4MAPPED(addr)) {
		cfg->flags = XSK_STEER_F_V4;
		memcpy(&cfg->addr4, &addr->s6_addr[12], sizeof(cfg->addr4));
		if (cfg->addr4)
			cfg->flags |= XSK_STEER_F_ADDR4;
	} else {
		cfg->flags = XSK_STEER_F_V6 | XSK_STEER_F_ADDR6;
		memcpy(cfg->addr6, addr->s6_addr, sizeof(cfg->addr6));
	}
}

static int open_prog(struct dp_xdp *x, uint16_t port,
		     const struct in6_addr *addr, struct vl_status *st)
{
	struct bpf_object_open_opts oo;
	struct xsk_steer_cfg cfg;
	struct bpf_map *rodata;
	int err;

	opts_init(&oo, sizeof(oo));
	oo.object_name = XSK_STEER_PROG_NAME;
	x->obj = bpf_object__open_mem(dp_xdp_steer_obj, dp_xdp_steer_obj_len,
				      &oo);
	if (!x->obj) {
		err = -errno;
		return vl_status_set(st, err,
				     "opening the embedded XDP object failed: "
				     "%s (libbpf too old?)",
				     strerror(-err));
	}
	fill_cfg(&cfg, port, addr);
	rodata = bpf_object__find_map_by_name(x->obj, ".rodata");
	err = rodata ? bpf_map__set_initial_value(rodata, &cfg, sizeof(cfg)) :
		       -ENOENT;
	if (err) {
		vl_status_set(st, err,
			      "the embedded XDP object has no .rodata of %zu "
			      "bytes: bpf/xsk_steer.h and the object disagree",
			      sizeof(cfg));
		goto close_obj;
	}
	x->prog = xdp_program__from_bpf_obj(x->obj, NULL);
	err = (int)libxdp_get_error(x->prog);
	if (err) {
		x->prog = NULL;
		vl_status_set(st, err, "libxdp refused the XDP object: %s",
			      strerror(-err));
		goto close_obj;
	}
	return 0;

close_obj:
	bpf_object__close(x->obj);
	x->obj = NULL;
	return err;
}

static int attach_in(struct dp_xdp *x, enum dp_xdp_mode mode,
		     const struct notes *n, struct vl_status *st)
{
	int err;

	err = xdp_program__attach(x->prog, x->ifindex, xdp_mode_of(mode), 0);
	if (!err) {
		x->mode = mode;
		return 0;
	}
	if (xdp_program__fd(x->prog) < 0)
		return explain_load(x, err, n, st);
	return explain_attach(x, err, mode, n, st);
}

static int attach_mode(struct dp_xdp *x, enum dp_xdp_mode mode,
		       const struct notes *n, struct vl_status *st)
{
	int err;

	if (mode != DP_XDP_AUTO)
		return attach_in(x, mode, n, st);
	err = attach_in(x, DP_XDP_NATIVE, n, st);
	/* Generic cannot help when the program did not load, or with
	 * missing rights or another program in the way. */
	if (!err || xdp_program__fd(x->prog) < 0 || err == -EPERM ||
	    err == -EACCES || err == -EBUSY || err == -EEXIST || err == -ENODEV)
		return err;
	vl_log(VL_LOG_INFO, "Native XDP refused, using generic XDP",
	       "interface", x->ifname, "reason", st ? st->msg : "", NULL);
	return attach_in(x, DP_XDP_GENERIC, n, st);
}

int dp_xdp_attach(const char *ifname, uint16_t port,
		  const struct in6_addr *addr, enum dp_xdp_mode mode,
		  struct dp_xdp **out, struct vl_status *st)
{
	struct bpf_map *xsks, *stats;
	char id[16];
	struct notes *n;
	struct dp_xdp *x;
	int err;

	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE)
		return vl_status_set(st, -EINVAL,
				     "bad interface name \"%s\": check "
				     "dataplane.interface",
				     ifname ? ifname : "");
	if (!port)
		return vl_status_set(st, -EINVAL,
				     "%s: XDP steering needs the listen port, "
				     "got 0",
				     ifname);
	if (mode != DP_XDP_AUTO && mode != DP_XDP_NATIVE &&
	    mode != DP_XDP_GENERIC)
		return vl_status_set(st, -EINVAL, "%s: bad XDP mode %d", ifname,
				     (int)mode);

	x = calloc(1, sizeof(*x));
	n = malloc(sizeof(*n));
	if (!x || !n) {
		err = vl_status_set(st, -ENOMEM, "%s: out of memory", ifname);
		goto free_x;
	}
	memcpy(x->ifname, ifname, strlen(ifname) + 1);
	x->ifindex = (int)if_nametoindex(ifname);
	if (!x->ifindex) {
		err = vl_status_set(
			st, -ENODEV,
			"no interface %s: check dataplane.interface", ifname);
		goto free_x;
	}

	notes_begin(n);
	err = clear_stale(x, st);
	if (err)
		goto end_notes;
	err = open_prog(x, port, addr, st);
	if (err)
		goto end_notes;
	err = attach_mode(x, mode, n, st);
	if (err)
		goto close_prog;
	xsks = bpf_object__find_map_by_name(x->obj, "xsks_map");
	stats = bpf_object__find_map_by_name(x->obj, "steer_stats");
	x->xsks_fd = xsks ? bpf_map__fd(xsks) : -1;
	x->stats_fd = stats ? bpf_map__fd(stats) : -1;
	x->prog_id = xdp_program__id(x->prog);
	if (x->xsks_fd < 0 || x->stats_fd < 0) {
		err = vl_status_set(st, -ENOENT,
				    "%s: the XDP program has no xsks_map or "
				    "steer_stats map",
				    ifname);
		goto detach;
	}
	notes_end(n, VL_LOG_DEBUG);
	free(n);

	snprintf(id, sizeof(id), "%" PRIu32, x->prog_id);
	vl_log(VL_LOG_INFO, "XDP program attached", "interface", x->ifname,
	       "mode", dp_xdp_mode_name(x->mode), "progId", id, NULL);
	*out = x;
	return 0;

detach:
	detach_prog(x);
close_prog:
	xdp_program__close(x->prog);
	bpf_object__close(x->obj);
end_notes:
	notes_end(n, VL_LOG_WARN);
free_x:
	free(n);
	free(x);
	return err;
}

/* ---- maps ---- */

int dp_xdp_set_xsk(struct dp_xdp *x, uint32_t queue, int xsk_fd)
{
	if (queue >= DP_XDP_QUEUES_MAX || xsk_fd < 0)
		return -EINVAL;
	return bpf_map_update_elem(x->xsks_fd, &queue, &xsk_fd, BPF_ANY) ?
		       -errno :
		       0;
}

int dp_xdp_clear_xsk(struct dp_xdp *x, uint32_t queue)
{
	if (queue >= DP_XDP_QUEUES_MAX)
		return -EINVAL;
	if (bpf_map_delete_elem(x->xsks_fd, &queue) && errno != ENOENT)
		return -errno;
	return 0;
}

int dp_xdp_counters(const struct dp_xdp *x, struct dp_xdp_counters *out)
{
	struct xsk_steer_count *vals;
	int n_cpus = libbpf_num_possible_cpus();

	if (n_cpus <= 0)
		return n_cpus < 0 ? n_cpus : -EINVAL;
	/* Per-CPU lookups fill one value per possible CPU. */
	vals = calloc((size_t)n_cpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	for (uint32_t key = 0; key < DP_XDP_COUNTERS; key++) {
		if (bpf_map_lookup_elem(x->stats_fd, &key, vals)) {
			int err = -errno;

			free(vals);
			return err;
		}
		for (int c = 0; c < n_cpus; c++) {
			out->packets[key] += vals[c].packets;
			out->bytes[key] += vals[c].bytes;
		}
	}
	free(vals);
	return 0;
}

enum dp_xdp_mode dp_xdp_attached_mode(const struct dp_xdp *x)
{
	return x->mode;
}

int dp_xdp_ifindex(const struct dp_xdp *x)
{
	return x->ifindex;
}

uint32_t dp_xdp_prog_id(const struct dp_xdp *x)
{
	return x->prog_id;
}

void dp_xdp_detach(struct dp_xdp *x)
{
	struct notes *n;
	char id[16];
	int err;

	if (!x)
		return;
	snprintf(id, sizeof(id), "%" PRIu32, x->prog_id);
	n = malloc(sizeof(*n));
	if (n)
		notes_begin(n);
	err = detach_prog(x);
	if (n)
		notes_end(n,
			  err && err != -ENOENT ? VL_LOG_WARN : VL_LOG_DEBUG);
	free(n);
	if (!err)
		vl_log(VL_LOG_INFO, "XDP program detached", "interface",
		       x->ifname, "progId", id, NULL);
	else if (err == -ENOENT)
		vl_log(VL_LOG_INFO, "XDP program already gone", "interface",
		       x->ifname, "progId", id, NULL);
	else
		vl_log(VL_LOG_WARN, "XDP program could not be detached",
		       "interface", x->ifname, "progId", id, "error",
		       strerror(-err), NULL);
	xdp_program__close(x->prog);
	bpf_object__close(x->obj);
	free(x);
}
