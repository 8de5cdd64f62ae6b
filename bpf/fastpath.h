/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fast path (docs/fastpath.md): a translated packet whose next hop is
 * behind an interface sluice is attached to goes straight there, as
 * Cilium's BPF host routing does, instead of through the node's routing,
 * netfilter and conntrack. Both directions of a connection must take it or
 * neither: a reply that the node's conntrack sees without its request
 * looks INVALID. Requests of an SL_CT_FAST connection are redirected at TC
 * ingress of the client's interface, its replies at TC ingress of the
 * backend's (sluice is attached there too, or the FIB lookup below would
 * not have chosen it); if either side cannot be redirected, the packet
 * takes the stack, and the reply is reverse-NATed at egress as usual.
 */
#ifndef SLUICE_BPF_FASTPATH_H
#define SLUICE_BPF_FASTPATH_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "cfg.h"
#include "fib.h"
#include "maps.h"
#include "nat.h"
#include "parse.h"

/* Where a translated packet goes: the FIB's answer. */
struct sl_fast {
	__u32 ifindex;
	__u32 neigh; /* the MAC addresses are known (else the kernel resolves the next hop) */
	__u32 peer;  /* SL_IFACE_PEER: a pod's veth, whose peer takes the packet directly */
	__be32 nh[4];
	__u8 smac[ETH_ALEN];
	__u8 dmac[ETH_ALEN];
	__u32 family; /* AF_INET or AF_INET6 */
};

static __always_inline bool sl_fast_on(void)
{
	return sl_cfg.flags & SL_DP_FAST_PATH;
}

/*
 * Where sl_fast_route leaves its answer for sl_fast_send, per CPU: off the
 * stack, whose 512 bytes the inline rewrite (nat.h) needs along the call
 * chain. A program run is not interrupted by another on its CPU (softirq,
 * or BH off on egress), so one slot is enough. Not pinned: scratch space.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_fast);
} sl_fast_scratch SEC(".maps");

static __always_inline struct sl_fast *sl_fast_slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sl_fast_scratch, &zero);
}

/*
 * May a packet leaving with tuple n (family and protocol of p) skip the
 * stack? It may if the kernel's FIB, asked as the stack would ask it (from
 * the interface the packet came in on, which also honours its forwarding
 * setting and the egress MTU for this skb, GSO included), sends it out of
 * an interface we are attached to. Fills *f; 0 if so. Global: the lookup's
 * 64 bytes stay out of the callers' frames.
 */
__noinline int sl_fast_route(struct __sk_buff *skb, const struct sl_pkt *p, const struct sl_nat *n,
			     struct sl_fast *f)
{
	struct bpf_fib_lookup fib = {};
	__u32 ifindex, *iface;
	int rc;

	if (!skb || !p || !n || !f)
		return -1;
	fib.l4_protocol = p->proto;
	fib.sport = n->sport;
	fib.dport = n->dport;
	fib.ifindex = skb->ifindex;
	sl_fib_addrs(&fib, p->family, n->saddr, n->daddr);
	/* tot_len 0: the MTU check is against this skb (is_skb_forwardable) */
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return -1;
	ifindex = fib.ifindex;
	/* back out where it came in is a hairpin's business, not ours */
	if (ifindex == skb->ifindex)
		return -1;
	iface = bpf_map_lookup_elem(&sl_ifaces, &ifindex);
	if (!iface)
		return -1;
	f->ifindex = ifindex;
	f->peer = *iface & SL_IFACE_PEER;
	f->neigh = rc == BPF_FIB_LKUP_RET_SUCCESS;
	f->family = fib.family;
	/* the next hop: the gateway, or the destination itself */
	if (p->family == SL_AF_INET) {
		f->nh[0] = fib.ipv4_dst;
		f->nh[1] = f->nh[2] = f->nh[3] = 0;
	} else {
		__builtin_memcpy(f->nh, fib.ipv6_dst, 16);
	}
	__builtin_memcpy(f->smac, fib.smac, ETH_ALEN);
	__builtin_memcpy(f->dmac, fib.dmac, ETH_ALEN);
	return 0;
}

/*
 * Send a translated packet per *f: with the neighbour known, its MAC
 * addresses written here and, to a pod's veth, bpf_redirect_peer(): into
 * the pod's own ingress at once, as Cilium does, past this side's egress
 * (where our egress program would only parse it and let it go) and the
 * backlog queue that a veth transmit goes through; to another interface, a
 * plain redirect to its egress. Else bpf_redirect_neigh(), which resolves
 * the next hop as the stack would (and queues the packet until it is
 * resolved). Called from TC ingress only, where a peer redirect is allowed.
 */
__noinline int sl_fast_send(struct __sk_buff *skb, const struct sl_fast *f)
{
	struct bpf_redir_neigh nh = {};
	void *data, *data_end;
	struct ethhdr *eth;

	if (!skb || !f)
		return TC_ACT_SHOT;
	if (f->neigh) {
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		eth = data;
		if ((void *)(eth + 1) > data_end)
			return TC_ACT_SHOT;
		__builtin_memcpy(eth->h_dest, f->dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, f->smac, ETH_ALEN);
		return f->peer ? bpf_redirect_peer(f->ifindex, 0) : bpf_redirect(f->ifindex, 0);
	}
	nh.nh_family = f->family;
	__builtin_memcpy(nh.ipv6_nh, f->nh, 16); /* ipv4_nh is its first word */
	return bpf_redirect_neigh(f->ifindex, &nh, sizeof(nh), 0);
}

#endif /* SLUICE_BPF_FASTPATH_H */
