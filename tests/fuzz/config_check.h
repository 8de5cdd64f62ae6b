/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a configuration the loader accepts must be, whatever the input: the
 * tables can hold it (sluice_abi.h limits), every name fits its row, every
 * reference stays inside its array, every HTTP match compiles. The config
 * fuzz targets check it on each config that loads.
 */
#ifndef SLUICE_TESTS_FUZZ_CONFIG_CHECK_H
#define SLUICE_TESTS_FUZZ_CONFIG_CHECK_H

#include <string.h>

#include "config/config.h"
#include "fuzz.h"
#include "l7/l7_match.h"

static inline void fuzz_check_addr(const struct sl_addr *a)
{
	FUZZ_CHECK(a->family == SL_AF_INET || a->family == SL_AF_INET6);
}

static inline void fuzz_check_cidr(const struct sl_cidr *c)
{
	fuzz_check_addr(&c->a);
	FUZZ_CHECK(c->plen <= (c->a.family == SL_AF_INET ? 32 : 128));
}

static inline void fuzz_check_config(const struct sl_config *cfg)
{
	size_t i, j, k, keys = 0;

	FUZZ_CHECK(cfg->n_files >= 1);
	for (i = 0; i < cfg->n_services; i++) {
		const struct sl_service_cfg *s = &cfg->services[i];

		FUZZ_CHECK(memchr(s->name, 0, sizeof(s->name)) && s->name[0]);
		FUZZ_CHECK(s->n_vips && s->n_ports);
		FUZZ_CHECK(s->n_subsets >= 1 && s->n_subsets <= SL_MAX_SUBSETS);
		FUZZ_CHECK(s->n_routes <= SL_MAX_ROUTES);
		keys += s->n_vips * s->n_ports;
		for (j = 0; j < s->n_vips; j++)
			fuzz_check_addr(&s->vips[j]);
		for (j = 0; j < s->n_ports; j++)
			FUZZ_CHECK(s->ports[j].proto == 6 || s->ports[j].proto == 17);
		for (j = 0; j < s->n_subsets; j++) {
			FUZZ_CHECK(memchr(s->subsets[j].name, 0, sizeof(s->subsets[j].name)));
			for (k = 0; k < s->subsets[j].n_eps; k++)
				fuzz_check_addr(&s->subsets[j].eps[k].a);
		}
		for (j = 0; j < s->n_routes; j++) {
			const struct sl_route_cfg *r = &s->routes[j];
			uint64_t total = 0;

			for (k = 0; k < SL_MAX_SUBSETS; k++) {
				FUZZ_CHECK(r->weight[k] <= SL_MAX_WEIGHT);
				FUZZ_CHECK(k < s->n_subsets || !r->weight[k]);
				total += r->weight[k];
			}
			FUZZ_CHECK(total <= UINT32_MAX);
			for (k = 0; r->has_cidrs && k < r->n_cidrs; k++)
				fuzz_check_cidr(&r->cidrs[k]);
			for (k = 0; r->has_dst_cidrs && k < r->n_dst_cidrs; k++)
				fuzz_check_cidr(&r->dst_cidrs[k]);
			if (r->l7_spec) {
				struct sl_l7_match *m = NULL;

				FUZZ_CHECK(r->needs_l7);
				FUZZ_CHECK(strlen(r->l7_spec) < SL_L7_SPEC_LEN);
				FUZZ_CHECK(sl_l7_match_compile(r->l7_spec, &m, NULL, 0) == 0);
				sl_l7_match_free(m);
			}
		}
	}
	FUZZ_CHECK(keys <= SL_MAX_SERVICES);
	for (i = 0; i < cfg->n_workloads; i++)
		for (j = 0; j < cfg->workloads[i].n_cidrs; j++)
			fuzz_check_cidr(&cfg->workloads[i].cidrs[j]);
	for (i = 0; i < cfg->n_rejected; i++)
		FUZZ_CHECK(cfg->rejected[i].kind && cfg->rejected[i].name);
}

/* The loader's contract (config.h): a config and no error, or an error and no config. */
static inline void fuzz_check_load(int err, const struct sl_config *cfg, const struct sl_diag *diag)
{
	size_t i;

	/* to read what a reproducer did: SL_FUZZ_VERBOSE=1 build/fuzz/fuzz_X FILE */
	if (getenv("SL_FUZZ_VERBOSE"))
		for (i = 0; i < diag->n_msgs; i++)
			fprintf(stderr, "| %s\n", diag->msgs[i]);
	if (!err) {
		FUZZ_CHECK(cfg);
		FUZZ_CHECK(!diag->n_errors);
		fuzz_check_config(cfg);
	} else {
		FUZZ_CHECK(!cfg);
		FUZZ_CHECK(err == -EINVAL || err == -ENOMEM);
		FUZZ_CHECK(diag->n_errors >= 1);
	}
}

#endif /* SLUICE_TESTS_FUZZ_CONFIG_CHECK_H */
