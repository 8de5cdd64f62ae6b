/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Response-time histograms (sluice_abi.h, struct sl_rt_hist): reading them
 * back per subset (the datapath's and the L7 step's, added), their
 * arithmetic and quantiles, and recording a duration from user space.
 */
#ifndef SLUICE_RT_H
#define SLUICE_RT_H

#include <stdint.h>

#include "datapath/maps.h"
#include "sluice_abi.h"

/* Bucket of a duration in microseconds (bpf/rt.h's, for user space). */
unsigned int sl_rt_bucket(uint64_t usec);
/* Upper bound of bucket b in microseconds; 0 for the last (unbounded) one. */
uint64_t sl_rt_bucket_le(unsigned int b);

/* Sum of both histograms of subset id, over CPUs; zero when the maps are missing. */
int sl_rt_read(const struct sl_maps *m, uint32_t id, struct sl_rt_hist *sum);
void sl_rt_add(struct sl_rt_hist *sum, const struct sl_rt_hist *v);
/* out = now - before, field by field (a window of counter deltas). */
void sl_rt_sub(struct sl_rt_hist *out, const struct sl_rt_hist *now,
	       const struct sl_rt_hist *before);
/*
 * The q-quantile (0 < q <= 1) in microseconds, interpolated linearly inside
 * its bucket (as Prometheus' histogram_quantile does); -1 when h is empty. The last bucket
 * has no upper bound: its lower bound is returned.
 */
double sl_rt_quantile(const struct sl_rt_hist *h, double q);

/*
 * Record one duration (microseconds) for subset subset_id, as the L7 step
 * does for each request it relays: an atomic add into sl_rt_hist_l7 (an
 * ARRAY mapped into this process two pages at a time, on first use of a
 * row, kept for its lifetime).
 * sl_rt_hist is per-CPU and written by the datapath; user space cannot add
 * to one CPU's row without a read-modify-write race, hence a map of its
 * own. Safe from any thread. -ENOENT without the map, -EINVAL for an id
 * out of range.
 */
int sl_rt_record(const struct sl_maps *m, uint32_t subset_id, uint64_t usec);

#endif /* SLUICE_RT_H */
