// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Floors for a new connection in bench_pkt (docs/bench.md): what any
 * tracker that keeps per-connection state pays for a SYN on this machine,
 * whatever it does besides. sl_bench_flow1 is Katran's minimum (one LRU
 * table: a lookup that misses, an insert); sl_bench_flow2 adds a second
 * table for the reply direction, as a tracker that reverse-NATs needs. Same
 * key and value sizes, same table sizes (bench_pkt sets them) and the same
 * parse as sluice; no choice, no counters, no rewrite.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "parse.h"
#include "sluice_abi.h"
#include "sluice_ct.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SL_BENCH_FLOW_MAP                                                                          \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);                                               \
		__uint(max_entries, SL_CT_NEW_OF(SL_CT_SIZE)); /* bench_pkt: as sl_ct_new */       \
		__type(key, struct sl_ct_key);                                                     \
		__type(value, struct sl_ct_entry);                                                 \
	}

SL_BENCH_FLOW_MAP sl_bench_fwd SEC(".maps");
SL_BENCH_FLOW_MAP sl_bench_rev SEC(".maps");

/* Look tuple k up in map, and insert it (entry e) when it is not there. */
static __always_inline void sl_bench_track(void *map, const struct sl_ct_key *k,
					   const struct sl_ct_entry *e)
{
	if (!bpf_map_lookup_elem(map, k))
		bpf_map_update_elem(map, k, e, BPF_NOEXIST);
}

static __always_inline int sl_bench_flow(struct __sk_buff *skb, bool both)
{
	struct sl_ct_entry e = {};
	struct sl_pkt p = {};
	struct sl_ct_key rk;

	if (sl_parse(skb, &p) != SL_PARSE_OK)
		return TC_ACT_OK;
	/* an entry as sluice's would be, translated to the same address */
	__builtin_memcpy(e.addr, p.daddr, 16);
	e.port = p.dport;
	e.nat_port = p.sport;
	e.family = p.family;
	sl_bench_track(&sl_bench_fwd, &p.key, &e);
	if (both) {
		/* the reply's tuple, as sluice computes it (sluice_ct.h) */
		sl_ct_rev_key(&rk, &p.key, &e, p.saddr);
		sl_bench_track(&sl_bench_rev, &rk, &e);
	}
	return TC_ACT_OK;
}

SEC("tc")
int sl_bench_flow1(struct __sk_buff *skb)
{
	return sl_bench_flow(skb, false);
}

SEC("tc")
int sl_bench_flow2(struct __sk_buff *skb)
{
	return sl_bench_flow(skb, true);
}
