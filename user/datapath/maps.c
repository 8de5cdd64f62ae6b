// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The map handle (maps.h): which fd is which map, from a loaded skeleton or
 * from the pins, and the sl_state value both the writer (tables.c) and the
 * reader (counters.c) start from. Calls libbpf and the skeleton only.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath/maps.h"
#include "sluice_abi.h" /* the skeleton names its types */
#include "sluice.skel.h"

__u32 sl_map_max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

static void read_sizes(struct sl_maps *m)
{
	m->max_keys = sl_map_max_entries(m->services) / SL_SLOTS;
	m->max_endpoints = sl_map_max_entries(m->endpoints) / SL_SLOTS;
	m->max_ids = sl_map_max_entries(m->subset_names);
	/* both id maps are sized alike; the smaller one rules if not */
	if (sl_map_max_entries(m->svc_names) < m->max_ids)
		m->max_ids = sl_map_max_entries(m->svc_names);
}

void sl_maps_from_skel(struct sl_maps *m, const struct sluice_bpf *skel)
{
	m->state = bpf_map__fd(skel->maps.sl_state);
	m->services = bpf_map__fd(skel->maps.sl_services);
	m->endpoints = bpf_map__fd(skel->maps.sl_endpoints);
	m->src_match = bpf_map__fd(skel->maps.sl_src_match);
	m->conntrack = bpf_map__fd(skel->maps.sl_conntrack);
	m->revnat = bpf_map__fd(skel->maps.sl_revnat);
	m->ct_new = bpf_map__fd(skel->maps.sl_ct_new);
	m->revnat_new = bpf_map__fd(skel->maps.sl_revnat_new);
	m->stats = bpf_map__fd(skel->maps.sl_stats);
	m->global = bpf_map__fd(skel->maps.sl_global);
	m->subset_names = bpf_map__fd(skel->maps.sl_subset_names);
	m->svc_names = bpf_map__fd(skel->maps.sl_svc_names);
	m->vip_filter = bpf_map__fd(skel->maps.sl_vip_filter);
	m->be_filter = bpf_map__fd(skel->maps.sl_be_filter);
	m->http_codes = bpf_map__fd(skel->maps.sl_http_codes);
	m->l7_listen = bpf_map__fd(skel->maps.sl_l7_listen);
	m->l7_specs = bpf_map__fd(skel->maps.sl_l7_specs);
	m->l7_stats = bpf_map__fd(skel->maps.sl_l7_stats);
	m->l7_codes = bpf_map__fd(skel->maps.sl_l7_codes);
	m->l7_counters = bpf_map__fd(skel->maps.sl_l7_counters);
	m->svc_index = bpf_map__fd(skel->maps.sl_svc_index);
	m->rt_hist = bpf_map__fd(skel->maps.sl_rt_hist);
	m->rt_hist_l7 = bpf_map__fd(skel->maps.sl_rt_hist_l7);
	m->rollout = bpf_map__fd(skel->maps.sl_rollout);
	m->rollout_log = bpf_map__fd(skel->maps.sl_rollout_log);
	m->owned = false;
	read_sizes(m);
}

int sl_maps_open_pinned(struct sl_maps *m, const char *pin_dir)
{
	const struct {
		const char *name;
		int *fd;
	} tab[] = {
	    {SL_MAP_STATE, &m->state},		 {SL_MAP_SERVICES, &m->services},
	    {SL_MAP_ENDPOINTS, &m->endpoints},	 {SL_MAP_SRC_MATCH, &m->src_match},
	    {SL_MAP_CONNTRACK, &m->conntrack},	 {SL_MAP_REVNAT, &m->revnat},
	    {SL_MAP_STATS, &m->stats},		 {SL_MAP_GLOBAL, &m->global},
	    {SL_MAP_SUBSETS, &m->subset_names},	 {SL_MAP_SVC_NAMES, &m->svc_names},
	    {SL_MAP_VIP_FILTER, &m->vip_filter}, {SL_MAP_BE_FILTER, &m->be_filter},
	    {SL_MAP_HTTP_CODES, &m->http_codes}, {SL_MAP_L7_LISTEN, &m->l7_listen},
	    {SL_MAP_L7_SPECS, &m->l7_specs},	 {SL_MAP_L7_STATS, &m->l7_stats},
	    {SL_MAP_L7_CODES, &m->l7_codes},	 {SL_MAP_L7_COUNT, &m->l7_counters},
	    {SL_MAP_CT_NEW, &m->ct_new},	 {SL_MAP_REVNAT_NEW, &m->revnat_new},
	    {SL_MAP_SVC_INDEX, &m->svc_index},
	};
	char path[512];
	size_t i;
	int err;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		*tab[i].fd = -1;
	m->rt_hist = m->rt_hist_l7 = m->rollout = m->rollout_log = -1;
	m->owned = true;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, tab[i].name);
		*tab[i].fd = bpf_obj_get(path);
		if (*tab[i].fd < 0) {
			err = -errno;
			sl_maps_close(m);
			return err;
		}
	}
	/* a datapath loaded by an older sluice has none of these: features go, not commands */
	snprintf(path, sizeof(path), "%s/%s", pin_dir, SL_MAP_RT_HIST);
	m->rt_hist = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, SL_MAP_RT_HIST_L7);
	m->rt_hist_l7 = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, SL_MAP_ROLLOUT);
	m->rollout = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, SL_MAP_ROLLOUT_LOG);
	m->rollout_log = bpf_obj_get(path);
	read_sizes(m);
	return 0;
}

void sl_maps_close(struct sl_maps *m)
{
	int *fds[] = {&m->state,	&m->services,	&m->endpoints,	&m->src_match,
		      &m->conntrack,	&m->revnat,	&m->stats,	&m->global,
		      &m->subset_names, &m->svc_names,	&m->vip_filter, &m->be_filter,
		      &m->http_codes,	&m->l7_listen,	&m->l7_specs,	&m->l7_stats,
		      &m->l7_codes,	&m->l7_counters, &m->ct_new,	&m->revnat_new,
		      &m->svc_index,	&m->rt_hist,	&m->rt_hist_l7, &m->rollout,	&m->rollout_log};
	size_t i;

	if (!m->owned)
		return;
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int sl_maps_read_state(const struct sl_maps *m, struct sl_state *st)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(m->state, &zero, st))
		return -errno;
	return 0;
}
