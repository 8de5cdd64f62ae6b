/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where a packet's time goes, segment by segment, for `make bench-segments`
 * only: a build with -DSL_SEGMENT_TIMING adds a clock read at each mark
 * and sums the time since the previous mark per segment, per CPU, into
 * sl_seg_ns (bench_pkt prints it). Each mark costs one clock read, which
 * segment 0 (two marks with nothing between) measures, so that it can be
 * subtracted. The `perf` sampling profile cannot split a path this way on a
 * VM without a PMU: the cost of a map lookup that misses the cache is
 * billed to whichever kernel function touches the line first. In every
 * other build the marks are nothing.
 */
#ifndef SLUICE_BPF_SEGTIME_H
#define SLUICE_BPF_SEGTIME_H

#include "sluice_abi.h"

#ifdef SL_SEGMENT_TIMING
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_SEG_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sl_seg_ns SEC(".maps");

static __always_inline void sl_seg_mark(__u32 seg, __u64 *t)
{
	__u64 now = bpf_ktime_get_ns(), *v = bpf_map_lookup_elem(&sl_seg_ns, &seg);

	if (v)
		*v += now - *t;
	*t = bpf_ktime_get_ns();
}
#define SL_SEG_START(t) __u64 t = bpf_ktime_get_ns()
#define SL_SEG(seg, t)	sl_seg_mark(seg, &t)
#else
#define SL_SEG_START(t) do {} while (0)
#define SL_SEG(seg, t)	do {} while (0)
#endif

#endif /* SLUICE_BPF_SEGTIME_H */
