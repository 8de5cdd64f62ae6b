// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Digests (model.h): FNV-1a, and the digest of what the datapath is written
 * from. `run --kubernetes` sees a pod turn ready or a label change on a pod
 * no route cares about as a new input; when the model is the same, there
 * is nothing to write, and a `sluice weights` override stays. Calls
 * nothing else in user/config/.
 */
#include <string.h>

#include "config/model.h"

/*
 * Every field of these is hashed below, or is a position (or the rollout
 * block, which no table holds): a field added without a line here would be
 * a change that is never applied.
 */
_Static_assert(sizeof(struct sl_addr) == 17 && sizeof(struct sl_cidr) == 40 &&
		   sizeof(struct sl_label) == 16 && sizeof(struct sl_endpoint_cfg) == 40 &&
		   sizeof(struct sl_subset_cfg) == 64 && sizeof(struct sl_route_cfg) == 152 &&
		   sizeof(struct sl_port_cfg) == 24 && sizeof(struct sl_service_cfg) == 168 &&
		   sizeof(struct sl_workload_cfg) == 48,
	       "a model struct changed: hash its new fields in sl_config_model_digest()");

uint64_t sl_fnv1a(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Counts and lengths go in too: ["ab"] and ["a", "b"] differ. */
static uint64_t h_num(uint64_t h, uint64_t v)
{
	return sl_fnv1a(h, &v, sizeof(v));
}

static uint64_t h_str(uint64_t h, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	/* NULL and "" differ: an l7_spec of NULL never matches */
	h = h_num(h, s ? len + 1 : 0);
	return sl_fnv1a(h, s, len);
}

static uint64_t h_addr(uint64_t h, const struct sl_addr *a)
{
	return sl_fnv1a(h, a, sizeof(*a));
}

static uint64_t h_cidrs(uint64_t h, const struct sl_cidr *c, size_t n)
{
	size_t i;

	h = h_num(h, n);
	for (i = 0; i < n; i++)
		h = h_num(h_addr(h, &c[i].a), c[i].plen);
	return h;
}

static uint64_t h_labels(uint64_t h, const struct sl_label *l, size_t n)
{
	size_t i;

	h = h_num(h, n);
	for (i = 0; i < n; i++)
		h = h_str(h_str(h, l[i].key), l[i].value);
	return h;
}

static uint64_t h_route(uint64_t h, const struct sl_route_cfg *r)
{
	size_t i;

	h = h_cidrs(h_num(h, r->has_cidrs), r->cidrs, r->n_cidrs);
	h = h_labels(h_num(h, r->has_labels), r->labels, r->n_labels);
	for (i = 0; i < SL_MAX_SUBSETS; i++)
		h = h_num(h, r->weight[i]);
	h = h_num(h, r->match_port);
	h = h_cidrs(h_num(h, r->has_dst_cidrs), r->dst_cidrs, r->n_dst_cidrs);
	h = h_str(h_num(h, r->needs_l7), r->l7_spec);
	h = h_num(h, r->kind);
	return h_str(h, r->name);
}

static uint64_t h_service(uint64_t h, const struct sl_service_cfg *s)
{
	size_t i, j;

	h = h_str(h, s->name);
	h = h_num(h, s->n_vips);
	for (i = 0; i < s->n_vips; i++)
		h = h_addr(h, &s->vips[i]);
	h = h_num(h, s->n_ports);
	for (i = 0; i < s->n_ports; i++)
		h = h_num(h_num(h_num(h_num(h, s->ports[i].port), s->ports[i].target_port),
				  s->ports[i].proto),
			  s->ports[i].app);
	/* only when set: digests of configs without them stay as they were */
	for (i = 0; i < s->n_ports; i++)
		if (s->ports[i].mux)
			h = h_num(h_num(h, 0x6d7578 /* "mux" */ + i), s->ports[i].mux);
	if (s->per_request)
		h = h_num(h, 0x707271 /* "prq" */);
	h = h_num(h, s->affinity);
	h = h_num(h, s->n_subsets);
	for (i = 0; i < s->n_subsets; i++) {
		h = h_str(h, s->subsets[i].name);
		h = h_num(h, s->subsets[i].n_eps);
		for (j = 0; j < s->subsets[i].n_eps; j++)
			h = h_num(h_addr(h, &s->subsets[i].eps[j].a), s->subsets[i].eps[j].port);
	}
	h = h_num(h, s->n_routes);
	for (i = 0; i < s->n_routes; i++)
		h = h_route(h, &s->routes[i]);
	return h;
}

uint64_t sl_config_model_digest(const struct sl_config *cfg)
{
	uint64_t h = SL_FNV1A_INIT;
	size_t i;

	h = h_num(h, cfg->n_services);
	for (i = 0; i < cfg->n_services; i++)
		h = h_service(h, &cfg->services[i]);
	h = h_num(h, cfg->n_workloads);
	for (i = 0; i < cfg->n_workloads; i++) {
		h = h_labels(h, cfg->workloads[i].labels, cfg->workloads[i].n_labels);
		h = h_cidrs(h, cfg->workloads[i].cidrs, cfg->workloads[i].n_cidrs);
	}
	return h;
}
