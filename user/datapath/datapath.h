/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Loading, pinning and attaching the BPF programs. */
#ifndef SLUICE_DATAPATH_H
#define SLUICE_DATAPATH_H

#include <net/if.h>
#include <stdbool.h>
#include <linux/bpf.h>

#include "datapath/maps.h"

/* Our TC filters, on clsact ingress and egress of each client interface. */
#define SL_TC_HANDLE 0x5c1ce
#define SL_TC_PRIO   0x5c

struct sluice_bpf;

/* What `run`'s flags set in the programs (their .rodata) and maps at load. */
struct sl_dp_opts {
	struct sl_dp_cfg cfg; /* sluice_abi.h: marks, local and hairpin addresses, flags */
	__u32 l7_table;	      /* policy routing table of the local route (--l7-table) */
	__u32 ct_max;	      /* confirmed connections (--ct-max); unconfirmed: a quarter */
	__u32 max_services;   /* (VIP, port) keys per slot (--max-services); tables sized from it */
	/* cgroup v2 directory for socket-level balancing (--socket-lb; socklb.h), or NULL */
	const char *sock_lb_cgroup;
};

/* The defaults: sluice_abi.h's SL_L7_*, SL_*_DEFAULT and SL_CT_SIZE. */
void sl_dp_opts_default(struct sl_dp_opts *o);

struct sl_datapath {
	struct sluice_bpf *skel;
	struct sl_maps maps;
	char pin_dir[256];
};

/*
 * Mount bpffs if needed, load the programs into pin_dir re-using every map
 * already pinned there (conntrack and counters survive a restart), and pin
 * the programs. pin_dir NULL: an unpinned private instance (packet tests).
 */
int sl_dp_load(struct sl_datapath *dp, const char *pin_dir);
/*
 * The same with settings (NULL: the defaults). Maps already pinned keep
 * their size: conntrack is never resized under live connections (a
 * different --ct-max is reported and takes effect after `sluice down`).
 */
int sl_dp_load_opts(struct sl_datapath *dp, const char *pin_dir, const struct sl_dp_opts *o);
void sl_dp_close(struct sl_datapath *dp);
/* Point the policy route code at the mark and table the datapath runs with. */
void sl_dp_route_from_state(const struct sl_state *st);

/* Attach (or atomically replace) our filters on ifname's ingress and egress. */
int sl_dp_attach(struct sl_datapath *dp, const char *ifname);
/*
 * Attach sl_l7_lookup to this network namespace (sk_lookup), or swap the
 * program of the link pinned by an earlier run; the link stays pinned.
 */
int sl_dp_attach_lookup(struct sl_datapath *dp);
/* No longer a fast-path target (sl_ifaces): detached, renamed away or gone. */
void sl_dp_iface_forget(struct sl_datapath *dp, int ifindex);
/* Forget the fast-path targets that no longer exist. */
void sl_dp_ifaces_prune(struct sl_datapath *dp);
/*
 * The settings the pinned programs were loaded with (their .rodata): 0, or
 * -errno when nothing is loaded there.
 */
int sl_dp_read_cfg(const char *pin_dir, struct sl_dp_cfg *cfg);
/*
 * A BPF link of prog on target (attach type type) pinned at path: the one
 * pinned there if ours(fd, arg) says it is on the right target, with prog
 * swapped in (bpf_link_update: atomic), else a new one (an old pin is
 * removed). *created says which. 0 or -errno.
 */
int sl_dp_pin_link(const char *path, int prog, int target, enum bpf_attach_type type,
		   bool (*ours)(int fd, const void *arg), const void *arg, bool *created);
/* Is fd (the pinned sk_lookup link) attached to the network namespace we are in? */
bool sl_dp_link_here(int fd);
/* Remove our filters from ifname; others' filters and the qdisc stay. */
int sl_dp_detach(const char *ifname);
/*
 * Interfaces (in this netns) whose filters run this pin directory's programs
 * (any sluice programs if pin_dir is NULL); returns the count or -errno.
 */
int sl_dp_attached(const char *pin_dir, char names[][IF_NAMESIZE], int max);
/* Detach from every interface and remove the pins. */
int sl_dp_down(const char *pin_dir);

/* Ensure pin_dir lives on a bpffs, mounting /sys/fs/bpf if it is not one. */
int sl_dp_ensure_bpffs(const char *pin_dir);

#endif /* SLUICE_DATAPATH_H */
