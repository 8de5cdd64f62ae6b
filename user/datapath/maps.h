/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The handle on the datapath's maps that the tables' writer (tables.h) and
 * reader (counters.h) share: one fd per map, borrowed from a loaded skeleton
 * or opened from the pins. Calls libbpf only.
 */
#ifndef SLUICE_MAPS_H
#define SLUICE_MAPS_H

#include <stdbool.h>

#include "sluice_abi.h"

/* File descriptors of the datapath's maps (not owned unless opened pinned). */
struct sl_maps {
	int state;
	int services;
	int endpoints;
	int src_match;
	int conntrack;
	int revnat;
	int ct_new;
	int revnat_new;
	int stats;
	int global;
	int subset_names;
	int svc_names;
	int vip_filter;
	int be_filter;
	int http_codes;
	int l7_listen;
	int l7_specs;
	int l7_stats;
	int l7_codes;
	int l7_counters;
	int svc_index;
	/*
	 * The sizes the datapath was loaded with (`run --max-services`), read
	 * back from the maps: (VIP, port) keys and endpoints per slot, counter
	 * and service rows.
	 */
	__u32 max_keys;
	__u32 max_endpoints;
	__u32 max_ids;
	/* response time and rollouts: -1 when pinned by an older sluice */
	int rt_hist;
	int rt_hist_l7;
	int rollout;
	int rollout_log;
	bool owned; /* close the fds in sl_maps_close() */
};

struct sluice_bpf;
/* Borrow the fds of a loaded skeleton. */
void sl_maps_from_skel(struct sl_maps *m, const struct sluice_bpf *skel);
/* Open the maps pinned under pin_dir; -ENOENT when sluice is not loaded. */
int sl_maps_open_pinned(struct sl_maps *m, const char *pin_dir);
void sl_maps_close(struct sl_maps *m);

/* The sl_state map's one value: active slot, generation, seed, digest. */
int sl_maps_read_state(const struct sl_maps *m, struct sl_state *st);

/* max_entries of the map behind fd; 0, with errno set, if it cannot be read. */
__u32 sl_map_max_entries(int fd);

#endif /* SLUICE_MAPS_H */
