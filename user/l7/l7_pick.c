// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The L7 step's choice: the kernel's sl_select() plus HTTP matches (l7_pick.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "l7/l7_pick.h"
#include "lib/log.h"
#include "sluice_hash.h"

/*
 * A spec's key is the digest of its text and a text never changes under
 * its key, so compiled matches stay valid for as long as they are kept.
 */
#define CACHE_SLOTS 1024

struct cache_ent {
	__u32 id;
	struct sl_l7_match *m; /* NULL: does not compile, never matches */
};

struct sl_l7_cache {
	struct cache_ent e[CACHE_SLOTS];
	size_t n;
	struct sl_l7_spec buf;
};

struct sl_l7_cache *sl_l7_cache_new(void)
{
	return calloc(1, sizeof(struct sl_l7_cache));
}

static void cache_clear(struct sl_l7_cache *c)
{
	size_t i;

	for (i = 0; i < CACHE_SLOTS; i++) {
		sl_l7_match_free(c->e[i].m);
		c->e[i] = (struct cache_ent){};
	}
	c->n = 0;
}

void sl_l7_cache_free(struct sl_l7_cache *c)
{
	if (!c)
		return;
	cache_clear(c);
	free(c);
}

static const struct sl_l7_match *cache_get(const struct sl_maps *m, struct sl_l7_cache *c, __u32 id)
{
	size_t i = id % CACHE_SLOTS, k;
	struct cache_ent *e;
	char err[256];

	for (k = 0; k < CACHE_SLOTS; k++, i = (i + 1) % CACHE_SLOTS) {
		if (c->e[i].id == id)
			return c->e[i].m;
		if (!c->e[i].id)
			break;
	}
	/* Configs that churn through many matches: start over rather than grow. */
	if (c->n >= CACHE_SLOTS / 2) {
		cache_clear(c);
		i = id % CACHE_SLOTS;
	}
	e = &c->e[i];
	if (bpf_map_lookup_elem(m->l7_specs, &id, &c->buf)) {
		/* written before the flip that made a route use it: a writer's race */
		pr_debug("l7: HTTP match %#x is not in %s\n", id, SL_MAP_L7_SPECS);
		return NULL; /* not cached: it may still come */
	}
	c->buf.text[sizeof(c->buf.text) - 1] = 0;
	e->id = id;
	c->n++;
	if (sl_l7_match_compile(c->buf.text, &e->m, err, sizeof(err)))
		pr_warn("l7: HTTP match %#x does not compile (%s): its route never matches\n", id,
			err);
	return e->m;
}

/* First route that accepts the connection; -1 when none does. */
static int pick_route(const struct sl_maps *m, struct sl_l7_cache *cache,
		      const struct sl_service *svc, __u32 slot, const struct sl_l7_tuple *t,
		      const struct sl_http_head *head, bool *header_route)
{
	struct sl_src_routes hit = {};
	int r;

	if (svc->flags & SL_SVC_SRC_MATCH) {
		struct sl_src_key k = sl_src_key_of(slot, svc->svc_id, t->family, t->saddr);

		if (bpf_map_lookup_elem(m->src_match, &k, &hit))
			memset(&hit, 0, sizeof(hit));
	}
	for (r = 0; r < svc->n_routes && r < SL_MAX_ROUTES; r++) {
		const struct sl_route *rt = &svc->routes[r];
		const struct sl_l7_match *lm;

		if ((rt->flags & SL_ROUTE_SKIP) || !sl_route_src_ok(rt->flags, r, &hit))
			continue;
		if (rt->flags & SL_ROUTE_NEEDS_L7) {
			if (!head || !rt->l7_spec)
				continue;
			lm = cache_get(m, cache, rt->l7_spec);
			if (!lm || !sl_l7_match_eval(lm, head))
				continue;
			*header_route = true;
		}
		return r;
	}
	return -1;
}

static int pick_once(const struct sl_maps *m, struct sl_l7_cache *cache,
		     const struct sl_l7_tuple *t, const struct sl_http_head *head,
		     const struct sl_state *stp, struct sl_l7_choice *out)
{
	struct sl_svc_key k = {};
	const struct sl_route *rt;
	struct sl_service svc;
	struct sl_endpoint ep;
	__u32 h, n, idx;
	int r, s;

	memset(out, 0, sizeof(*out));
	k.slot = stp->active_slot;
	memcpy(k.addr, t->daddr, 16);
	k.port = t->dport;
	k.proto = IPPROTO_TCP;
	k.family = t->family;
	if (bpf_map_lookup_elem(m->services, &k, &svc))
		return SL_L7_PICK_NO_SERVICE;

	r = pick_route(m, cache, &svc, k.slot, t, head, &out->header_route);
	if (r < 0)
		return SL_L7_PICK_NO_ROUTE;
	rt = &svc.routes[r];
	out->route = r;

	/* from here on, sl_select() in bpf/select.h, through the same steps */
	s = sl_pick_subset(&svc, rt, stp->hash_seed, t->saddr, t->daddr, t->sport, t->dport,
			   IPPROTO_TCP, &h);
	if (s < 0 || s >= SL_MAX_SUBSETS)
		return SL_L7_PICK_NO_ROUTE;
	out->subset_id = svc.subset_id[s];
	n = svc.ep_count[s];
	if (!n)
		return SL_L7_PICK_NO_ENDPOINT;
	idx = sl_ep_index(svc.ep_base[s], n, h);
	if (bpf_map_lookup_elem(m->endpoints, &idx, &ep) || ep.family != t->family)
		return SL_L7_PICK_NO_ENDPOINT;
	out->family = ep.family;
	memcpy(out->addr, ep.addr, 16);
	out->port = ep.port ?: svc.target_port;
	return SL_L7_PICK_OK;
}

/*
 * A packet reads one slot under RCU; a reader in user space has no grace
 * period to lean on, so it checks instead that no flip happened while it
 * read (writers only ever touch the slot that is not active), and reads
 * again if one did.
 */
int sl_l7_original(const struct sl_maps *m, struct sl_l7_tuple *t)
{
	struct sl_ct_key rk = {
	    .sport = t->dport,
	    .dport = t->sport,
	    .proto = IPPROTO_TCP,
	    .family = t->family,
	};
	struct sl_ct_entry rn;

	memcpy(rk.saddr, t->daddr, sizeof(rk.saddr));
	memcpy(rk.daddr, t->saddr, sizeof(rk.daddr));
	/* confirmed by the client's ACK, normally; unconfirmed if that raced */
	if (bpf_map_lookup_elem(m->revnat, &rk, &rn) &&
	    bpf_map_lookup_elem(m->revnat_new, &rk, &rn))
		return -ENOENT;
	if (!(rn.flags & SL_CT_LOCAL))
		return -ENOENT;
	memcpy(t->daddr, rn.addr, sizeof(t->daddr));
	t->dport = rn.port;
	t->sport = rn.nat_port;
	return 0;
}

int sl_l7_pick(const struct sl_maps *m, struct sl_l7_cache *cache, const struct sl_l7_tuple *t,
	       const struct sl_http_head *head, struct sl_l7_choice *out)
{
	struct sl_state before, after;
	__u32 zero = 0;
	int res, tries;

	for (tries = 0; tries < 4; tries++) {
		if (bpf_map_lookup_elem(m->state, &zero, &before))
			return -errno;
		res = pick_once(m, cache, t, head, &before, out);
		if (bpf_map_lookup_elem(m->state, &zero, &after))
			return -errno;
		if (after.generation == before.generation)
			break;
	}
	return res;
}
