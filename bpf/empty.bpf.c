// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor for `make bench`: a TC program that does nothing, attached the
 * same way as sluice's, so its run time is the cost of being called at all.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int sl_bench_empty(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}
