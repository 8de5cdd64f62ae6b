/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Backend selection for a new connection: route, then subset, then endpoint. */
#ifndef SLUICE_BPF_SELECT_H
#define SLUICE_BPF_SELECT_H

#include "maps.h"
#include "parse.h"
#include "stats.h"

#include "hash.h"

/* Global (not static): the verifier checks it once, on its own. */
__noinline __u32 sl_neg_log2(__u32 h)
{
	return sl_neg_log2_q16(h);
}

enum sl_select {
	SL_SEL_OK = 0,
	SL_SEL_NO_ROUTE,
	SL_SEL_NO_ENDPOINT,
};

/* First route whose match accepts the client; -1 when none does. */
static __always_inline int sl_select_route(const struct sl_service *svc, __u32 slot,
					   const struct sl_pkt *p)
{
	struct sl_src_routes none = {}, *hit = &none;
	int r;

	if (svc->flags & SL_SVC_SRC_MATCH) {
		struct sl_src_key k = sl_src_key_of(slot, svc->svc_id, p->family, p->saddr);

		hit = bpf_map_lookup_elem(&sl_src_match, &k);
		if (!hit)
			hit = &none;
	}
	for (r = 0; r < SL_MAX_ROUTES; r++) {
		__u32 f;

		if (r >= svc->n_routes)
			break;
		f = svc->routes[r].flags;
		if (f & (SL_ROUTE_SKIP | SL_ROUTE_NEEDS_L7))
			continue;
		if (sl_route_src_ok(f, r, hit))
			return r;
	}
	return -1;
}

/*
 * Choose the backend of a new connection, inside the global sl_choose
 * (whose stack frame it shares: frames add up along a chain of global
 * calls, and the whole chain gets 512 bytes). The hash is of the connection, or
 * of the client alone for affinity: client-ip, seeded per load; the same
 * packet under the same config always lands on the same endpoint.
 */
static __always_inline int sl_select(const struct sl_service *svc, __u32 slot, __u32 seed,
				     const struct sl_pkt *p, struct sl_ct_entry *out)
{
	const struct sl_route *rt;
	struct sl_endpoint *ep;
	__u32 h, idx, n, sid;
	int r, s;

	r = sl_select_route(svc, slot, p);
	if (r < 0 || r >= SL_MAX_ROUTES)
		return SL_SEL_NO_ROUTE;
	rt = &svc->routes[r];

	s = sl_pick_subset(svc, rt, seed, p->saddr, p->daddr, p->sport, p->dport, p->proto, &h);
	if (s < 0 || s >= SL_MAX_SUBSETS)
		return SL_SEL_NO_ROUTE;

	sid = svc->subset_id[s];
	n = svc->ep_count[s];
	if (!n) {
		struct sl_stats *st = sl_stats_of(sid);

		if (st)
			st->no_endpoint++;
		return SL_SEL_NO_ENDPOINT;
	}
	idx = sl_ep_index(svc->ep_base[s], n, h);
	ep = bpf_map_lookup_elem(&sl_endpoints, &idx);
	if (!ep || ep->family != p->family)
		return SL_SEL_NO_ENDPOINT;

	__builtin_memcpy(out->addr, ep->addr, 16);
	out->port = ep->port ?: svc->target_port;
	out->family = ep->family;
	out->subset_id = sid;
	out->flags = 0;
	return SL_SEL_OK;
}

#endif /* SLUICE_BPF_SELECT_H */
