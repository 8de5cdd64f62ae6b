// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Does a whole configuration fit the datapath's tables (sluice_abi.h)?
 * Checked by the loader once every file is read, since a route's sources
 * include workloads from anywhere, so that a configuration too big is
 * refused with the limit named before `apply` or `run` touch anything
 * (tables.c then never finds a table full half way through a write). The
 * (VIP, port) pairs are counted as services are read (ours_service.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/model.h"

int sl_config_for_each_src(const struct sl_config *cfg, const struct sl_service_cfg *s,
			   int (*fn)(void *arg, const struct sl_cidr *c, uint32_t cidr_bit,
				     uint32_t label_bit),
			   void *arg)
{
	size_t r, i, w;
	int err;

	for (r = 0; r < s->n_routes; r++) {
		const struct sl_route_cfg *rt = &s->routes[r];

		for (i = 0; rt->has_cidrs && i < rt->n_cidrs; i++) {
			err = fn(arg, &rt->cidrs[i], 1U << r, 0);
			if (err)
				return err;
		}
		for (w = 0; rt->has_labels && w < cfg->n_workloads; w++) {
			const struct sl_workload_cfg *wl = &cfg->workloads[w];

			if (!sl_labels_match(rt->labels, rt->n_labels, wl->labels, wl->n_labels))
				continue;
			for (i = 0; i < wl->n_cidrs; i++) {
				err = fn(arg, &wl->cidrs[i], 0, 1U << r);
				if (err)
					return err;
			}
		}
	}
	return 0;
}

/* A prefix as the key sl_src_match gives it: family, length, masked address. */
struct pfx {
	uint8_t family, plen;
	uint8_t addr[16];
};

struct pfx_list {
	struct pfx *v;
	size_t n, cap;
};

static int pfx_add(void *arg, const struct sl_cidr *c, uint32_t cidr_bit, uint32_t label_bit)
{
	struct pfx_list *l = arg;
	struct sl_addr a = c->a;

	if (sl_reserve((void **)&l->v, &l->cap, l->n, 1, sizeof(*l->v)))
		return -ENOMEM;
	sl_addr_mask(&a, c->plen);
	l->v[l->n].family = a.family;
	l->v[l->n].plen = c->plen;
	memcpy(l->v[l->n].addr, a.addr, 16);
	l->n++;
	return 0;
}

static int pfx_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct pfx));
}

/* The entries service s takes in sl_src_match (one per distinct prefix), or -ENOMEM. */
static long src_entries(const struct sl_config *cfg, const struct sl_service_cfg *s)
{
	struct pfx_list l = {0};
	size_t i, n = 0;

	if (sl_config_for_each_src(cfg, s, pfx_add, &l)) {
		free(l.v);
		return -ENOMEM;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), pfx_cmp);
	for (i = 0; i < l.n; i++)
		if (!i || pfx_cmp(&l.v[i - 1], &l.v[i]))
			n++;
	free(l.v);
	return (long)n;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Distinct HTTP matches (sl_l7_specs holds each text once), or -ENOMEM. */
static long l7_specs(const struct sl_config *cfg)
{
	size_t i, r, n = 0, d = 0;
	const char **v;

	for (i = 0; i < cfg->n_services; i++)
		for (r = 0; r < cfg->services[i].n_routes; r++)
			n += cfg->services[i].routes[r].l7_spec != NULL;
	v = calloc(n ?: 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	n = 0;
	for (i = 0; i < cfg->n_services; i++)
		for (r = 0; r < cfg->services[i].n_routes; r++)
			if (cfg->services[i].routes[r].l7_spec)
				v[n++] = cfg->services[i].routes[r].l7_spec;
	if (n)
		qsort(v, n, sizeof(*v), str_cmp);
	for (i = 0; i < n; i++)
		if (!i || strcmp(v[i - 1], v[i]))
			d++;
	free(v);
	return (long)d;
}

/* A running total past its limit: an error at the service that went over, once. */
struct total {
	size_t n;
	long limit;
	const char *what;
	bool said;
};

static void add(struct total *t, size_t n, const struct sl_service_cfg *s, struct sl_diag *diag)
{
	t->n += n;
	if (t->n <= (size_t)t->limit || t->said)
		return;
	sl_diag_add(diag, &s->pos, "error",
		    "service '%s' brings the number of %s to %zu; the limit is %ld", s->name,
		    t->what, t->n, t->limit);
	t->said = true;
}

int sl_config_check_fit(const struct sl_config *cfg, struct sl_diag *diag)
{
	struct total eps = {.limit = SL_MAX_ENDPOINTS,
			    .what = "endpoints (of all services together)"},
		     subsets = {.limit = SL_MAX_SUBSET_IDS,
				.what = "subsets (of all services together, each a counter row)"},
		     srcs = {.limit = SL_MAX_SRC_PREFIXES,
			     .what = "source prefixes its routes match on (sourceCIDRs, and the "
				     "addresses of the workloads their sourceLabels select, each "
				     "once per service)"};
	size_t i, j, n_eps;
	long n;

	for (i = 0; i < cfg->n_services; i++) {
		const struct sl_service_cfg *s = &cfg->services[i];

		for (j = 0, n_eps = 0; j < s->n_subsets; j++)
			n_eps += s->subsets[j].n_eps;
		n = src_entries(cfg, s);
		if (n < 0)
			return (int)n;
		add(&eps, n_eps, s, diag);
		add(&subsets, s->n_subsets, s, diag);
		add(&srcs, (size_t)n, s, diag);
	}
	n = l7_specs(cfg);
	if (n < 0)
		return (int)n;
	if (n > SL_MAX_L7_SPECS)
		sl_diag_add(diag, cfg->n_services ? &cfg->services[0].pos : NULL, "error",
			    "the routes have %ld distinct HTTP matches; the limit is %d", n,
			    SL_MAX_L7_SPECS);
	return 0;
}
