// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket-level balancing (`run --socket-lb CGROUP`, docs/socketlb.md): the
 * four cgroup programs on one cgroup v2 directory, through links pinned
 * next to the maps (`<program>_link`). Like the TC filters they outlive
 * `run`; a restarted `run` swaps its programs into them in place
 * (bpf_link_update), so that no connect() goes unbalanced and no packet is
 * counted twice by an old and a new program side by side; `down`, or a
 * `run` without --socket-lb, removes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath/datapath.h"
#include "datapath/socklb.h"
#include "lib/log.h"
#include "sluice_abi.h" /* the skeleton names its types */
#include "sluice.skel.h"

/* connect4 first: removed first, attached last (nothing balanced and not counted) */
static const char *const prog_names[SL_SOCK_LB_PROGS] = {
    "sl_sock_connect4", "sl_sock_egress", "sl_sock_ingress", "sl_sock_release"};

struct bpf_program *sl_socklb_prog(struct sluice_bpf *skel, int i)
{
	return bpf_object__find_program_by_name(skel->obj, prog_names[i]);
}

static void link_path(char *path, size_t size, const char *pin_dir, int i)
{
	snprintf(path, size, "%s/%s_link", pin_dir, prog_names[i]);
}

/* The cgroup (its id) a pinned cgroup link is attached to, or 0. */
static __u64 link_cgroup(int fd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_LINK_TYPE_CGROUP)
		return 0;
	return info.cgroup.cgroup_id;
}

static bool on_cgroup(int fd, const void *cg_id)
{
	return link_cgroup(fd) == *(const __u64 *)cg_id;
}

int sl_socklb_open_dir(const char *dir, __u64 *id)
{
	struct statfs sfs;
	struct stat st;
	int fd, err;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_warn("Error: --socket-lb %s: %s\n", dir, strerror(-err));
		return err;
	}
	/* a cgroup's id is its directory's inode number on cgroup2 */
	if (fstatfs(fd, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC || fstat(fd, &st)) {
		pr_warn("Error: --socket-lb %s: not a cgroup v2 directory\n", dir);
		close(fd);
		return -ENOTDIR;
	}
	if (id)
		*id = st.st_ino;
	return fd;
}

/* The cgroup the pinned connect4 link is on (its id), or 0. */
static __u64 pinned_cgroup(const char *pin_dir)
{
	char path[PATH_MAX];
	__u64 id = 0;
	int fd;

	link_path(path, sizeof(path), pin_dir, 0);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		id = link_cgroup(fd);
		close(fd);
	}
	return id;
}

int sl_socklb_attach(struct sluice_bpf *skel, const char *pin_dir, const char *dir)
{
	bool created[SL_SOCK_LB_PROGS] = {};
	char path[PATH_MAX];
	int cg, err = 0, i;
	__u64 id, was;

	cg = sl_socklb_open_dir(dir, &id);
	if (cg < 0)
		return cg;
	/* another cgroup's: off there first, connect() before its counters */
	was = pinned_cgroup(pin_dir);
	if (was && was != id)
		sl_socklb_off(pin_dir);
	for (i = SL_SOCK_LB_PROGS - 1; i >= 0 && !err; i--) {
		struct bpf_program *prog = sl_socklb_prog(skel, i);

		link_path(path, sizeof(path), pin_dir, i);
		err = sl_dp_pin_link(path, bpf_program__fd(prog), cg,
				     bpf_program__expected_attach_type(prog), on_cgroup, &id,
				     &created[i]);
		if (err)
			pr_warn("Error: --socket-lb %s: cannot attach %s: %s\n", dir,
				prog_names[i], strerror(-err));
	}
	close(cg);
	/*
	 * All or nothing of what this call made; links it swapped in place
	 * keep serving (a failed restart must not cut off host-network
	 * clients, whose only way to a VIP this is).
	 */
	for (i = 0; err && i < SL_SOCK_LB_PROGS; i++) {
		if (!created[i])
			continue;
		link_path(path, sizeof(path), pin_dir, i);
		unlink(path);
	}
	return err;
}

int sl_socklb_off(const char *pin_dir)
{
	char path[PATH_MAX];
	int err = 0, i;

	for (i = 0; i < SL_SOCK_LB_PROGS; i++) {
		link_path(path, sizeof(path), pin_dir, i);
		if (unlink(path) && errno != ENOENT) {
			err = -errno;
			pr_warn("Error: cannot remove %s: %s\n", path, strerror(errno));
		}
	}
	return err;
}
