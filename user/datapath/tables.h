/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The configuration tables in the maps: writing a validated config into
 * them atomically (inactive slot, flip, RCU grace period), live weight
 * overrides, and reading everything back for status.
 */
#ifndef SLUICE_TABLES_H
#define SLUICE_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "sluice_abi.h"

/* File descriptors of the datapath's maps (not owned unless opened pinned). */
struct sl_maps {
	int state;
	int services;
	int endpoints;
	int src_match;
	int conntrack;
	int revnat;
	int stats;
	int global;
	int subset_names;
	int svc_names;
	int vip_filter;
	int be_filter;
	int http_codes;
	int l7_listen;
	int l7_specs;
	int l7_stats;
	int l7_codes;
	int l7_counters;
	bool owned; /* close the fds in sl_maps_close() */
};

struct sluice_bpf;
/* Borrow the fds of a loaded skeleton. */
void sl_maps_from_skel(struct sl_maps *m, const struct sluice_bpf *skel);
/* Open the maps pinned under pin_dir; -ENOENT when sluice is not loaded. */
int sl_maps_open_pinned(struct sl_maps *m, const char *pin_dir);
void sl_maps_close(struct sl_maps *m);

/*
 * Give a fresh datapath its hash seed (kept if one is already there), and
 * make the address filters cover every VIP and backend in the tables (maps
 * created by a newer build start empty while the tables are re-used).
 */
int sl_tables_init(const struct sl_maps *m);

/*
 * Write cfg into the inactive slot, flip to it, wait until no packet can
 * still be reading the old slot. On error nothing visible has changed.
 */
int sl_tables_apply(const struct sl_maps *m, const struct sl_config *cfg, struct sl_diag *diag);

/* Remember which file the tables came from (sl_config_digest), for restarts. */
int sl_tables_set_digest(const struct sl_maps *m, uint64_t digest);

/*
 * Set the default route's weights of one service live: the active tables
 * are copied to the inactive slot with the new weights and flipped to.
 * names/weights: n subsets; subsets not named get weight 0. Errors (unknown
 * service or subset, all zero) go to diag and change nothing.
 */
int sl_tables_set_weights(const struct sl_maps *m, const char *service, char *const names[],
			  const uint32_t weights[], size_t n, struct sl_diag *diag);

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
};

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
	uint32_t ct_entries; /* forward conntrack entries, if counted */
};

int sl_tables_read_status(const struct sl_maps *m, struct sl_status *st);
/* sum += v, field by field (per-CPU rows, the L7 step's share). */
void sl_stats_add(struct sl_stats *sum, const struct sl_stats *v);
void sl_status_free(struct sl_status *st);
/* Walks the whole map: for status, not for hot paths. */
int sl_tables_count_conntrack(const struct sl_maps *m);
const struct sl_status_service *sl_status_find(const struct sl_status *st, const char *name);

/* Names of enum sl_global_idx entries ("new_conn", ...). */
const char *sl_global_name(int idx);
/* Names of enum sl_l7_counter_idx entries ("accepted", ...). */
const char *sl_l7_counter_name(int idx);

#endif /* SLUICE_TABLES_H */
