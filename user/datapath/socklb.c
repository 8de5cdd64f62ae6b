// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket-level balancing (`run --socket-lb CGROUP`, docs/socketlb.md): the
 * four cgroup programs on one cgroup v2 directory, through links pinned
 * next to the maps. Like the TC filters they outlive `run`; a restarted
 * `run` swaps its programs into them in place (bpf_link_update), so that no
 * connect() goes unbalanced and no packet is counted twice by an old and a
 * new program side by side; `down`, or a `run` without --socket-lb,
 * removes them.
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

#include "datapath/socklb.h"
#include "lib/log.h"
#include "sluice_abi.h" /* the skeleton names its types */
#include "sluice.skel.h"

static const char *const link_pins[SL_SOCK_LB_PROGS] = {
    "sl_sock_connect4_link", "sl_sock_egress_link", "sl_sock_ingress_link",
    "sl_sock_release_link"};

static const enum bpf_attach_type attach_types[SL_SOCK_LB_PROGS] = {
    BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET_EGRESS, BPF_CGROUP_INET_INGRESS,
    BPF_CGROUP_INET_SOCK_RELEASE};

struct bpf_program *sl_socklb_prog(struct sluice_bpf *skel, int i)
{
	struct bpf_program *progs[SL_SOCK_LB_PROGS] = {
	    skel->progs.sl_sock_connect4, skel->progs.sl_sock_egress, skel->progs.sl_sock_ingress,
	    skel->progs.sl_sock_release};

	return progs[i];
}

/* The cgroup a pinned cgroup link is attached to (its id), or 0. */
static __u64 link_cgroup(int fd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_LINK_TYPE_CGROUP)
		return 0;
	return info.cgroup.cgroup_id;
}

/* Program i on cgroup cg (id cg_id): the link pinned at path, swapped or made. */
static int attach_one(struct sluice_bpf *skel, int i, const char *path, int cg, __u64 cg_id)
{
	int prog = bpf_program__fd(sl_socklb_prog(skel, i)), fd, err = 0;

	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (link_cgroup(fd) == cg_id && !bpf_link_update(fd, prog, NULL)) {
			close(fd);
			return 0;
		}
		/* another cgroup's (that one is balanced no more), or broken */
		close(fd);
		unlink(path);
	}
	fd = bpf_link_create(prog, cg, attach_types[i], NULL);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}

int sl_socklb_attach(struct sluice_bpf *skel, const char *pin_dir, const char *dir)
{
	char path[PATH_MAX];
	struct statfs sfs;
	struct stat st;
	int cg, err = 0, i;

	cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		err = -errno;
		pr_warn("Error: --socket-lb %s: %s\n", dir, strerror(-err));
		return err;
	}
	/* a cgroup's id is its directory's inode number on cgroup2 */
	if (fstatfs(cg, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC || fstat(cg, &st)) {
		pr_warn("Error: --socket-lb %s: not a cgroup v2 directory\n", dir);
		close(cg);
		return -ENOTDIR;
	}
	/* the counting programs first: no connection balanced and not counted */
	for (i = SL_SOCK_LB_PROGS - 1; i >= 0 && !err; i--) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, link_pins[i]);
		err = attach_one(skel, i, path, cg, st.st_ino);
		if (err)
			pr_warn("Error: --socket-lb %s: cannot attach %s: %s\n", dir,
				bpf_program__name(sl_socklb_prog(skel, i)), strerror(-err));
	}
	close(cg);
	if (err)
		sl_socklb_off(pin_dir);
	return err;
}

int sl_socklb_off(const char *pin_dir)
{
	char path[PATH_MAX];
	int err = 0, i;

	/* connect() first: nothing balanced once its counters are gone */
	for (i = 0; i < SL_SOCK_LB_PROGS; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, link_pins[i]);
		if (unlink(path) && errno != ENOENT) {
			err = -errno;
			pr_warn("Error: cannot remove %s: %s\n", path, strerror(errno));
		}
	}
	return err;
}
