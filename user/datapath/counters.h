/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading the maps back: the tables in force and every counter, for
 * status, top, metrics and the weights override. Writing them is tables.h.
 */
#ifndef SLUICE_COUNTERS_H
#define SLUICE_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "datapath/maps.h"
#include "sluice_abi.h"

/* What is in force, as read back from the maps. */
struct sl_status_endpoint {
	struct sl_addr a;
	uint16_t port; /* host order; 0 = the port's targetPort */
};

struct sl_status_port {
	struct sl_addr vip;
	uint16_t port;	      /* host order */
	uint16_t target_port; /* host order */
	uint8_t proto;
	uint32_t flags; /* SL_SVC_* of this key: which path it takes (sl_status_path()) */
};

/* The path of a port from its SL_SVC_* flags, as sl_path_name() says it. */
const char *sl_status_path(const struct sl_status_port *p);

struct sl_status_http_code {
	uint32_t code;
	uint64_t count;
};

struct sl_status_subset {
	char name[SL_SUBSET_NAME_LEN];
	uint32_t subset_id;
	uint32_t weight; /* in the default route */
	struct sl_status_endpoint *eps;
	size_t n_eps;
	struct sl_stats stats;		   /* summed over CPUs */
	struct sl_status_http_code *codes; /* HTTP responses by exact code */
	size_t n_codes;
	struct sl_rt_hist rt; /* response times (rt.h), both histograms added */
};

struct sl_status_service {
	char name[SL_NAME_LEN];
	uint32_t svc_id;
	uint32_t flags; /* SL_SVC_* */
	struct sl_status_port *ports;
	size_t n_ports;
	struct sl_status_subset subsets[SL_MAX_SUBSETS];
	size_t n_subsets;
	struct sl_route routes[SL_MAX_ROUTES];
	size_t n_routes;
	int default_route; /* index of the route status "weight" comes from */
	bool overridden;   /* default route weights set by `sluice weights` */
};

struct sl_status {
	struct sl_state state; /* the sl_state map's value */
	struct sl_status_service *services;
	size_t n_services;
	uint64_t global[SL_G_MAX];
	uint64_t l7[SL_L7_C_MAX]; /* the L7 step's counters (sl_l7_counters) */
	uint32_t ct_entries;	  /* forward conntrack entries, if counted */
};

int sl_tables_read_status(const struct sl_maps *m, struct sl_status *st);
/* sum += v, field by field (per-CPU rows, the L7 step's share). */
void sl_stats_add(struct sl_stats *sum, const struct sl_stats *v);
void sl_status_free(struct sl_status *st);
/* Walks the whole map: for status, not for hot paths. */
int sl_tables_count_conntrack(const struct sl_maps *m);
const struct sl_status_service *sl_status_find(const struct sl_status *st, const char *name);

/*
 * The route `status` and `weights` talk about (the index into val->routes,
 * -1 without routes): the last one without a match.
 */
int sl_status_default_route(const struct sl_service *val);

/* Names of enum sl_global_idx entries ("new_conn", ...). */
const char *sl_global_name(int idx);
/* Names of enum sl_l7_counter_idx entries ("accepted", ...). */
const char *sl_l7_counter_name(int idx);

#endif /* SLUICE_COUNTERS_H */
