// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Another tool's TC filter, for tests/e2e/test_tc_neighbour.sh: it runs
 * after sluice's in the classic cls_bpf chain (a higher prio number) and
 * drops TCP to 10.0.1.11:8080, the test backend v1b. It sees a packet only
 * if sluice's filter let the chain go on (TC_ACT_UNSPEC).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int next_filter(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip + 1);

	if ((void *)(th + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_TCP)
		return TC_ACT_UNSPEC;
	if (ip->daddr == bpf_htonl(0x0a00010b) && th->dest == bpf_htons(8080))
		return TC_ACT_SHOT;
	return TC_ACT_UNSPEC;
}
