/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Response time per subset (sluice_abi.h, struct sl_rt_hist): from a TCP
 * connection's first request byte to its first response byte. A new
 * connection's entries carry SL_CT_RT_WAIT (forward and reverse); the
 * first client packet with payload clears the forward bit and notes the
 * time, the first backend packet with payload clears the reverse bit and
 * records the difference. The clock is read by those two packets only:
 * every other packet of the connection tests one bit of an entry it has
 * already read.
 */
#ifndef SLUICE_BPF_RT_H
#define SLUICE_BPF_RT_H

#include "maps.h"
#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_SUBSET_IDS);
	__type(key, __u32);
	__type(value, struct sl_rt_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_rt_hist SEC(".maps");

/* Written by the L7 step with atomic adds through mmap (sl_rt_record()). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_SUBSET_IDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_rt_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_rt_hist_l7 SEC(".maps");

/*
 * LRU: a request whose response never comes (a server that speaks first, a
 * connection reset) leaves its time here until newer ones push it out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_RT_PEND_SIZE);
	__type(key, struct sl_ct_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_rt_pend SEC(".maps");

/* A new connection's entry e waits for its first request byte (TCP only). */
static __always_inline void sl_rt_arm(const struct sl_pkt *p, struct sl_ct_entry *e)
{
	if (p->proto == IPPROTO_TCP)
		e->flags |= SL_CT_RT_WAIT;
}

/* Bucket of a duration in microseconds: its bit length, capped. */
static __always_inline __u32 sl_rt_bucket(__u64 us)
{
	__u32 b = 0;

	if (us >> 32) {
		b += 32;
		us >>= 32;
	}
	if (us >> 16) {
		b += 16;
		us >>= 16;
	}
	if (us >> 8) {
		b += 8;
		us >>= 8;
	}
	if (us >> 4) {
		b += 4;
		us >>= 4;
	}
	if (us >> 2) {
		b += 2;
		us >>= 2;
	}
	if (us >> 1) {
		b += 1;
		us >>= 1;
	}
	b += us; /* 1 for any d >= 1 us, 0 for d < 1 us */
	return b < SL_RT_BUCKETS ? b : SL_RT_BUCKETS - 1;
}

/* One response time of subset subset_id, in microseconds, into its histogram. */
static __always_inline void sl_rt_record(__u32 subset_id, __u64 us)
{
	struct sl_rt_hist *h = bpf_map_lookup_elem(&sl_rt_hist, &subset_id);
	__u32 b;

	if (!h)
		return;
	b = sl_rt_bucket(us);
	h->count++;
	h->sum_us += us;
	if (b < SL_RT_BUCKETS)
		h->bucket[b]++;
}

/*
 * Client packet p of connection fk (entry ct, SL_CT_RT_WAIT set): when it
 * carries the first request byte, note the time under the reply tuple.
 * Global: its own frame. Callers test p->payload_len first: a bare ACK of
 * a connection whose request has not come costs no call (a call costs a
 * return, which this CPU's mitigation makes dear: docs/bench.md).
 */
__noinline int sl_rt_request(const struct sl_pkt *p, const struct sl_ct_key *fk,
			     struct sl_ct_entry *ct)
{
	struct sl_ct_key rk;
	__be32 hp[4];
	__u64 now;

	if (!p || !fk || !ct || !p->payload_len)
		return 0;
	/* one CPU wins the first byte; a retransmission finds the bit clear */
	if (!(__sync_fetch_and_and(&ct->flags, ~SL_CT_RT_WAIT) & SL_CT_RT_WAIT))
		return 0;
	sl_addr_from_cfg(hp, sl_hairpin_addr(fk->family));
	sl_ct_rev_key(&rk, fk, ct, hp);
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&sl_rt_pend, &rk, &now, BPF_ANY);
	return 0;
}

/*
 * Reply packet p (tuple k, reverse entry rn with SL_CT_RT_WAIT) of subset
 * subset_id: when it carries the first response byte, record the time
 * since the request's. Global: its own frame; callers test p->payload_len
 * first, as for sl_rt_request.
 */
__noinline int sl_rt_response(const struct sl_pkt *p, const struct sl_ct_key *k,
			      struct sl_ct_entry *rn, __u32 subset_id)
{
	__u64 *t0, now;

	if (!p || !k || !rn || !p->payload_len)
		return 0;
	if (!(__sync_fetch_and_and(&rn->flags, ~SL_CT_RT_WAIT) & SL_CT_RT_WAIT))
		return 0;
	/* no request yet: the server spoke first, nothing to time */
	t0 = bpf_map_lookup_elem(&sl_rt_pend, k);
	if (!t0)
		return 0;
	now = bpf_ktime_get_ns();
	sl_rt_record(subset_id, now > *t0 ? (now - *t0) / 1000 : 0);
	bpf_map_delete_elem(&sl_rt_pend, k);
	return 0;
}

#endif /* SLUICE_BPF_RT_H */
