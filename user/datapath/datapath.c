// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loading, pinning and attaching. Maps are pinned by name (libbpf re-uses a
 * compatible pinned map instead of creating a new one), so conntrack,
 * counters and the table slots survive restarts and upgrades. Programs are
 * loaded afresh each time and swapped into the TC filters with
 * BPF_TC_F_REPLACE: a filter is never absent, so no packet misses NAT.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath/datapath.h"
#include "datapath/netlink.h"
#include "datapath/policy_route.h"
#include "datapath/socklb.h"
#include "datapath/tables.h"
#include "lib/log.h"
#include "lib/private_dir.h"
#include "sluice_abi.h" /* the skeleton names its types */
#include "sluice.skel.h"

int sl_dp_ensure_bpffs(const char *pin_dir)
{
	struct statfs sfs;

	if (!statfs("/sys/fs/bpf", &sfs) && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (strncmp(pin_dir, "/sys/fs/bpf/", 12)) {
		/* Elsewhere, whoever chose the directory must have mounted it. */
		return 0;
	}
	pr_info("mounting bpffs at /sys/fs/bpf\n");
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		pr_warn("Error: /sys/fs/bpf is not a bpffs and mounting one failed: %s\n",
			strerror(errno));
		return -errno;
	}
	return 0;
}

static int pin_prog(struct bpf_program *prog, const char *dir)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];

	/* Pin under a temporary name, then rename over the old pin: atomic. */
	snprintf(path, sizeof(path), "%s/%s", dir, bpf_program__name(prog));
	/* bpffs refuses dots in names */
	snprintf(tmp, sizeof(tmp), "%s_new", path);
	unlink(tmp);
	if (bpf_obj_pin(bpf_program__fd(prog), tmp))
		return -errno;
	if (rename(tmp, path)) {
		int err = -errno;

		unlink(tmp);
		return err;
	}
	return 0;
}

void sl_dp_opts_default(struct sl_dp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cfg.l7_mark = SL_L7_FWMARK;
	o->cfg.l7_mark_mask = SL_L7_FWMARK_MASK;
	inet_pton(AF_INET, SL_L7_LOCAL4_DEFAULT, o->cfg.l7_local4);
	inet_pton(AF_INET6, SL_L7_LOCAL6_DEFAULT, o->cfg.l7_local6);
	inet_pton(AF_INET, SL_HAIRPIN4_DEFAULT, o->cfg.hairpin4);
	inet_pton(AF_INET6, SL_HAIRPIN6_DEFAULT, o->cfg.hairpin6);
	o->cfg.flags = SL_DP_SRC_CHECK;
	o->l7_table = SL_L7_TABLE;
	o->ct_max = SL_CT_SIZE;
	o->max_services = SL_MAX_SERVICES;
}

/* max_entries of map name pinned in pin_dir by an earlier run; 0 if none. */
static __u32 pinned_max_entries(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];
	__u32 n;
	int fd;

	if (!pin_dir)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	n = sl_map_max_entries(fd);
	close(fd);
	return n;
}

/*
 * Size the conntrack maps: --ct-max, or what an earlier run pinned (a
 * pinned map is re-used only with equal parameters, and resizing it would
 * drop every live connection's entries).
 */
static void size_conntrack(struct sluice_bpf *skel, const char *pin_dir, __u32 ct_max)
{
	__u32 pinned = pinned_max_entries(pin_dir, SL_MAP_CONNTRACK);

	if (pinned && pinned != ct_max) {
		pr_warn("conntrack: %s holds %u connections; --ct-max %u takes effect after "
			"`sluice down` (which forgets every connection)\n",
			pin_dir, pinned, ct_max);
		ct_max = pinned;
	}
	bpf_map__set_max_entries(skel->maps.sl_conntrack, ct_max);
	bpf_map__set_max_entries(skel->maps.sl_revnat, ct_max);
	bpf_map__set_max_entries(skel->maps.sl_ct_new, SL_CT_NEW_OF(ct_max));
	bpf_map__set_max_entries(skel->maps.sl_revnat_new, SL_CT_NEW_OF(ct_max));
}

/*
 * Size the configuration tables from --max-services N: N (VIP, port) keys
 * and 4N endpoints per slot, N counter rows (per CPU: 112 bytes each). What an earlier run pinned
 * wins, as for conntrack: a resize would drop the tables and the counters.
 */
static void size_tables(struct sluice_bpf *skel, const char *pin_dir, __u32 n)
{
	__u32 pinned = pinned_max_entries(pin_dir, SL_MAP_SERVICES) / SL_SLOTS;

	if (pinned && pinned != n) {
		pr_warn("tables: %s holds %u services; --max-services %u takes effect after "
			"`sluice down` (which forgets every connection)\n",
			pin_dir, pinned, n);
		n = pinned;
	}
	bpf_map__set_max_entries(skel->maps.sl_services, SL_SLOTS * n);
	bpf_map__set_max_entries(skel->maps.sl_svc_index, n);
	bpf_map__set_max_entries(skel->maps.sl_endpoints, SL_SLOTS * 4 * n);
	bpf_map__set_max_entries(skel->maps.sl_stats, n);
	bpf_map__set_max_entries(skel->maps.sl_l7_stats, n);
	bpf_map__set_max_entries(skel->maps.sl_subset_names, n);
	bpf_map__set_max_entries(skel->maps.sl_svc_names, n);
	bpf_map__set_max_entries(skel->maps.sl_rt_hist, n);
	bpf_map__set_max_entries(skel->maps.sl_rt_hist_l7, n);
}

/* Note in sl_state what this datapath runs with, for `status` and `down`. */
static int record_opts(const struct sl_maps *m, const struct sluice_bpf *skel,
		       const struct sl_dp_opts *o)
{
	struct sl_state st;
	__u32 zero = 0;
	int err;

	err = sl_maps_read_state(m, &st);
	if (err)
		return err;
	st.l7_mark = o->cfg.l7_mark;
	st.l7_mark_mask = o->cfg.l7_mark_mask;
	st.l7_table = o->l7_table;
	st.ct_max = bpf_map__max_entries(skel->maps.sl_conntrack);
	return bpf_map_update_elem(m->state, &zero, &st, BPF_ANY) ? -errno : 0;
}

int sl_dp_load(struct sl_datapath *dp, const char *pin_dir)
{
	return sl_dp_load_opts(dp, pin_dir, NULL);
}

int sl_dp_load_opts(struct sl_datapath *dp, const char *pin_dir, const struct sl_dp_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct sl_dp_opts def;
	struct bpf_map *map;
	int err, i;

	if (!o) {
		sl_dp_opts_default(&def);
		o = &def;
	}

	memset(dp, 0, sizeof(*dp));
	if (pin_dir) {
		snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s", pin_dir);
		err = sl_dp_ensure_bpffs(pin_dir);
		if (err)
			return err;
		/* Pinned maps hold conntrack and the hash seed: root only. */
		err = sl_private_dir(pin_dir);
		if (err) {
			pr_warn("Error: cannot create %s: %s\n", pin_dir, strerror(-err));
			return err;
		}
		opts.pin_root_path = dp->pin_dir;
	}

	dp->skel = sluice_bpf__open_opts(&opts);
	if (!dp->skel) {
		err = -errno;
		pr_warn("Error: cannot open the BPF object: %s\n", strerror(-err));
		return err;
	}
	if (!pin_dir)
		bpf_object__for_each_map (map, dp->skel->obj)
			bpf_map__set_pin_path(map, NULL);
	dp->skel->rodata->sl_cfg = o->cfg;
	/* loaded only when asked for: a program no one attaches costs a verification */
	for (i = 0; i < SL_SOCK_LB_PROGS; i++)
		bpf_program__set_autoload(sl_socklb_prog(dp->skel, i), o->sock_lb_cgroup != NULL);
	size_conntrack(dp->skel, pin_dir, o->ct_max);
	size_tables(dp->skel, pin_dir, o->max_services);

	err = sluice_bpf__load(dp->skel);
	if (err) {
		pr_warn("Error: cannot load the BPF programs: %s\n", strerror(-err));
		/* libbpf refuses a pinned map whose layout differs from ours */
		if (pin_dir && err == -EINVAL)
			pr_warn("hint: maps pinned in %s may come from an incompatible sluice "
				"version (see libbpf's message above); `sluice --pin-dir %s down` "
				"removes them, and with them the conntrack state\n",
				pin_dir, pin_dir);
		goto fail;
	}
	sl_maps_from_skel(&dp->maps, dp->skel);
	err = sl_tables_init(&dp->maps);
	err = err ?: record_opts(&dp->maps, dp->skel, o);
	if (err)
		goto fail;
	if (pin_dir) {
		err = pin_prog(dp->skel->progs.sl_ingress, pin_dir);
		err = err ?: pin_prog(dp->skel->progs.sl_egress, pin_dir);
		err = err ?: pin_prog(dp->skel->progs.sl_l7_lookup, pin_dir);
		if (err) {
			pr_warn("Error: cannot pin programs in %s: %s\n", pin_dir, strerror(-err));
			goto fail;
		}
	}
	return 0;
fail:
	sluice_bpf__destroy(dp->skel);
	dp->skel = NULL;
	return err;
}

void sl_dp_route_from_state(const struct sl_state *st)
{
	/* 0: pinned by a sluice from before the mark was configurable */
	if (st->l7_table)
		sl_policy_route_configure(st->l7_mark, st->l7_mark_mask, st->l7_table);
}

void sl_dp_close(struct sl_datapath *dp)
{
	sluice_bpf__destroy(dp->skel);
	dp->skel = NULL;
}

static int attach_one(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SL_TC_HANDLE, .priority = SL_TC_PRIO,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	/* -EEXIST: the clsact qdisc is there already (ours or another tool's). */
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

/* The parser reads an Ethernet header first: L3 devices (tun, wireguard) have none. */
static int check_ethernet(const char *ifname)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		err = -EPROTONOSUPPORT;
	close(fd);
	return err;
}

int sl_dp_attach(struct sl_datapath *dp, const char *ifname)
{
	int ifindex = if_nametoindex(ifname), err;
	__u32 flags = SL_IFACE_ATTACHED;

	if (!ifindex) {
		pr_warn("Error: no interface '%s'\n", ifname);
		return -ENODEV;
	}
	err = check_ethernet(ifname);
	if (err) {
		pr_warn("Error: %s: %s\n", ifname,
			err == -EPROTONOSUPPORT ? "not an Ethernet interface; sluice needs one"
						: strerror(-err));
		return err;
	}
	err = attach_one(ifindex, BPF_TC_INGRESS, bpf_program__fd(dp->skel->progs.sl_ingress));
	err = err ?: attach_one(ifindex, BPF_TC_EGRESS, bpf_program__fd(dp->skel->progs.sl_egress));
	/* both hooks in place: a fast-path target from now on */
	if (sl_nl_peer_elsewhere(ifindex))
		flags |= SL_IFACE_PEER;
	if (!err && bpf_map_update_elem(bpf_map__fd(dp->skel->maps.sl_ifaces), &ifindex, &flags,
					BPF_ANY))
		err = -errno;
	if (err)
		pr_warn("Error: cannot attach to %s: %s\n", ifname, strerror(-err));
	else
		pr_debug("attached to %s (ifindex %d)\n", ifname, ifindex);
	return err;
}

void sl_dp_iface_forget(struct sl_datapath *dp, int ifindex)
{
	__u32 k = ifindex;

	bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.sl_ifaces), &k);
}

void sl_dp_ifaces_prune(struct sl_datapath *dp)
{
	int fd = bpf_map__fd(dp->skel->maps.sl_ifaces);
	__u32 k, next, *cur = NULL;
	char name[IF_NAMESIZE];

	/* an interface that went away while no `run` was watching */
	while (!bpf_map_get_next_key(fd, cur, &next)) {
		k = next;
		cur = &k;
		if (!if_indextoname(k, name))
			bpf_map_delete_elem(fd, &k);
	}
}

int sl_dp_read_cfg(const char *pin_dir, struct sl_dp_cfg *cfg)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64], i;
	char path[PATH_MAX];
	int prog, err = -ENOENT;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, SL_PROG_INGRESS);
	prog = bpf_obj_get(path);
	if (prog < 0)
		return -errno;
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog, &info, &len)) {
		err = -errno;
		goto out;
	}
	/* the program's own .rodata: what it really runs with */
	for (i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]) && err; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi), zero = 0;
		int fd = bpf_map_get_fd_by_id(ids[i]);
		char *ro;

		if (fd < 0)
			continue;
		/* the section holds other constants too, after the skeleton's */
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) && strstr(mi.name, ".rodata") &&
		    mi.value_size >= sizeof(struct sluice_bpf__rodata)) {
			ro = malloc(mi.value_size);
			if (ro && !bpf_map_lookup_elem(fd, &zero, ro)) {
				memcpy(cfg, ro + offsetof(struct sluice_bpf__rodata, sl_cfg),
				       sizeof(*cfg));
				err = 0;
			}
			free(ro);
		}
		close(fd);
	}
out:
	close(prog);
	return err;
}

bool sl_dp_link_here(int fd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	struct stat st;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) || stat("/proc/self/ns/net", &st))
		return false;
	return info.type == BPF_LINK_TYPE_NETNS && info.netns.netns_ino == st.st_ino &&
	       info.netns.attach_type == BPF_SK_LOOKUP;
}

int sl_dp_pin_link(const char *path, int prog, int target, enum bpf_attach_type type,
		   bool (*ours)(int fd, const void *arg), const void *arg, bool *created)
{
	int fd, err = 0;

	*created = false;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* an upgrade: swap the program in place, nothing goes without one */
		if (ours(fd, arg) && !bpf_link_update(fd, prog, NULL)) {
			close(fd);
			return 0;
		}
		close(fd);
		unlink(path); /* another target's (that one is served no more), or broken */
	}
	fd = bpf_link_create(prog, target, type, NULL);
	if (fd < 0)
		return -errno;
	/* pinned: it outlives `run`, like the TC filters */
	if (bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	*created = !err;
	return err;
}

static bool lookup_link_here(int fd, const void *arg)
{
	(void)arg;
	return sl_dp_link_here(fd);
}

int sl_dp_attach_lookup(struct sl_datapath *dp)
{
	int prog = bpf_program__fd(dp->skel->progs.sl_l7_lookup), ns, err;
	char path[PATH_MAX];
	bool created;

	snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, SL_LINK_L7_LOOKUP);
	ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return -errno;
	err = sl_dp_pin_link(path, prog, ns, BPF_SK_LOOKUP, lookup_link_here, NULL, &created);
	close(ns);
	if (err)
		pr_warn("Error: cannot attach %s to this network namespace: %s\n",
			SL_PROG_L7_LOOKUP, strerror(-err));
	return err;
}

static int detach_one(int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SL_TC_HANDLE, .priority = SL_TC_PRIO);
	int err;

	/* Only our filter: destroying the hook would take others' filters too. */
	err = bpf_tc_detach(&hook, &opts);
	return err == -ENOENT || err == -EINVAL ? 0 : err;
}

int sl_dp_detach(const char *ifname)
{
	int ifindex = if_nametoindex(ifname), err;

	if (!ifindex)
		return -ENODEV;
	err = detach_one(ifindex, BPF_TC_INGRESS);
	return err ?: detach_one(ifindex, BPF_TC_EGRESS);
}

/*
 * Is one of our filters on this hook, and one of this pin directory's? A
 * program belongs to the instance whose sl_state map it uses.
 */
static bool has_ours(int ifindex, enum bpf_tc_attach_point where, __u32 state_id)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SL_TC_HANDLE, .priority = SL_TC_PRIO);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64], k;
	bool ours = false;
	int fd;

	if (bpf_tc_query(&hook, &opts))
		return false;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return false;
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		goto out;
	if (strcmp(info.name, SL_PROG_INGRESS) && strcmp(info.name, SL_PROG_EGRESS))
		goto out;
	for (k = 0; k < info.nr_map_ids && k < 64; k++)
		if (!state_id || ids[k] == state_id)
			ours = true;
out:
	close(fd);
	return ours;
}

static __u32 state_map_id(const char *pin_dir)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	if (!pin_dir)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, SL_MAP_STATE);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

int sl_dp_attached(const char *pin_dir, char names[][IF_NAMESIZE], int max)
{
	__u32 state_id = state_map_id(pin_dir);
	struct if_nameindex *ifs, *i;
	libbpf_print_fn_t old;
	int n = 0;

	if (pin_dir && !state_id)
		return 0;
	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	/* libbpf warns for every hook without a clsact qdisc: expected here. */
	old = libbpf_set_print(NULL);
	for (i = ifs; i->if_index && n < max; i++)
		if (has_ours(i->if_index, BPF_TC_INGRESS, state_id) ||
		    has_ours(i->if_index, BPF_TC_EGRESS, state_id))
			snprintf(names[n++], IF_NAMESIZE, "%s", i->if_name);
	libbpf_set_print(old);
	if_freenameindex(ifs);
	return n;
}

int sl_dp_down(const char *pin_dir)
{
	static const char *const pins[] = {
	    SL_LINK_L7_LOOKUP, SL_PROG_INGRESS,	 SL_PROG_EGRESS,    SL_PROG_L7_LOOKUP,
	    SL_MAP_STATE,      SL_MAP_SERVICES,	 SL_MAP_ENDPOINTS,  SL_MAP_SRC_MATCH,
	    SL_MAP_CONNTRACK,  SL_MAP_REVNAT,	 SL_MAP_STATS,	    SL_MAP_GLOBAL,
	    SL_MAP_SUBSETS,    SL_MAP_SVC_NAMES, SL_MAP_VIP_FILTER, SL_MAP_BE_FILTER,
	    SL_MAP_HTTP_CODES, SL_MAP_L7_LISTEN, SL_MAP_L7_SPECS,   SL_MAP_L7_STATS,
	    SL_MAP_L7_CODES,   SL_MAP_L7_COUNT,	 SL_MAP_CT_NEW,	    SL_MAP_REVNAT_NEW,
	    SL_MAP_SVC_INDEX,
	    SL_MAP_RT_HIST,    SL_MAP_RT_HIST_L7, SL_MAP_RT_PEND,   SL_MAP_ROLLOUT,
	    SL_MAP_ROLLOUT_LOG,
	    SL_MAP_IFACES,     SL_MAP_SOCK_LB,
	};
	char names[256][IF_NAMESIZE], path[PATH_MAX];
	int n, i, err = 0;
	size_t p;

	/* connect() balanced no more before its maps go */
	err = sl_socklb_off(pin_dir);
	n = sl_dp_attached(pin_dir, names, 256);
	for (i = 0; i < n; i++) {
		int e = sl_dp_detach(names[i]);

		if (e) {
			pr_warn("Error: cannot detach from %s: %s\n", names[i], strerror(-e));
			err = e;
		} else {
			pr_info("detached from %s\n", names[i]);
		}
	}
	for (p = 0; p < sizeof(pins) / sizeof(pins[0]); p++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, pins[p]);
		if (unlink(path) && errno != ENOENT) {
			pr_warn("Error: cannot remove %s: %s\n", path, strerror(errno));
			err = -errno;
		}
	}
	if (rmdir(pin_dir) && errno != ENOENT && errno != ENOTEMPTY)
		err = -errno;
	return err;
}
