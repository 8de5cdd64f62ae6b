/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: per subset, and global reasons. */
#ifndef SLUICE_BPF_STATS_H
#define SLUICE_BPF_STATS_H

#include "maps.h"

static __always_inline void sl_global_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&sl_global, &idx);

	if (v)
		*v += 1;
}

static __always_inline struct sl_stats *sl_stats_of(__u32 subset_id)
{
	return bpf_map_lookup_elem(&sl_stats, &subset_id);
}

#endif /* SLUICE_BPF_STATS_H */
