/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A new connection's source must be reachable back through the interface
 * it came in on: strict reverse-path filtering, done here because TC
 * ingress runs before the kernel's rp_filter, and a pod that forges a
 * neighbour's address must not be able to open (and so take over) that
 * neighbour's connection tuples. Only connection-creating packets pay for
 * it; packets of a known connection are held to its interface instead.
 */
#ifndef SLUICE_BPF_SRCGUARD_H
#define SLUICE_BPF_SRCGUARD_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "cfg.h"
#include "fib.h"
#include "parse.h"

static __always_inline bool sl_src_ok(struct __sk_buff *skb, const struct sl_pkt *p)
{
	struct bpf_fib_lookup f = {};
	long rc;

	if (!(sl_cfg.flags & SL_DP_SRC_CHECK))
		return true;
	/* the route back to the client, as rp_filter looks it up */
	f.ifindex = skb->ifindex;
	sl_fib_addrs(&f, p->family, p->daddr, p->saddr);
	rc = bpf_fib_lookup(skb, &f, sizeof(f), 0);
	/* forwarding off here: no route answer to be had, rp_filter decides */
	if (rc == BPF_FIB_LKUP_RET_FWD_DISABLED)
		return true;
	return (rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH) &&
	       f.ifindex == skb->ifindex;
}

#endif /* SLUICE_BPF_SRCGUARD_H */
