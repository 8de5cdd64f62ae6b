/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header routing, kernel side: connections of services with HTTP matches go
 * to the node's L7 listener, DNATed to our local address (sluice_abi.h). TC marks
 * them for the policy route; sl_l7_lookup (sk_lookup) hands them over.
 */
#ifndef SLUICE_BPF_L7_H
#define SLUICE_BPF_L7_H

#include "cfg.h"
#include "cfg.h"
#include "maps.h"

static __always_inline __u32 sl_l7_listen_idx(__u8 family)
{
	return family == SL_AF_INET6 ? SL_L7_LISTEN_INET6 : SL_L7_LISTEN_INET;
}

/*
 * Is an L7 listener there for this family? Without one, the connection is
 * better DNATed by weight (header routes lost) than delivered to nobody.
 */
static __always_inline bool sl_l7_listening(__u8 family)
{
	__u32 idx = sl_l7_listen_idx(family);
	struct bpf_sock *sk;

	sk = bpf_map_lookup_elem(&sl_l7_listen, &idx);
	if (!sk)
		return false;
	bpf_sk_release(sk);
	return true;
}

/* Local delivery through the policy route; other bits of the mark stay. */
static __always_inline void sl_l7_mark(struct __sk_buff *skb)
{
	__u32 mark = (skb->mark & ~sl_cfg.l7_mark_mask) | sl_cfg.l7_mark;

	/* volatile: clang would store one byte, and ctx takes whole fields */
	*(volatile __u32 *)&skb->mark = mark;
}

#endif /* SLUICE_BPF_L7_H */
