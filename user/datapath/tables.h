/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Writing the configuration tables in the maps: a validated config into
 * them atomically (inactive slot, flip, RCU grace period), and live weight
 * overrides. Reading them back is counters.h.
 */
#ifndef SLUICE_TABLES_H
#define SLUICE_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "datapath/maps.h"

/*
 * Give a fresh datapath its hash seed (kept if one is already there), and
 * make the address filters cover every VIP and backend in the tables (maps
 * created by a newer build start empty while the tables are re-used).
 */
int sl_tables_init(const struct sl_maps *m);

/* What one apply wrote: `apply -j` reports it, tests check it. */
struct sl_apply_stats {
	bool full;		  /* the whole inactive slot was written and flipped to */
	size_t keys_written;	  /* sl_services values */
	size_t keys_deleted;	  /* ...removed from the active slot */
	size_t endpoints_written; /* sl_endpoints entries */
	size_t rows_written;	  /* service and subset rows (names, zeroed counters) */
	size_t index_written;	  /* sl_svc_index entries written or removed */
};

/*
 * Make the tables say cfg. Normally in place, in the active slot: only the
 * (VIP, port) keys whose value changes are written, each in one map update
 * (atomic per key: a connection sees its service's old or new value whole,
 * never a mix), endpoints that change go to fresh rows first, removed keys
 * are deleted last. A config whose routes match on the source (those
 * tables are per slot, not per key), or whose endpoints no longer fit
 * behind the ones in use, is written whole into the inactive slot and
 * flipped to (stats->full), after which no packet can still be reading the
 * old slot. On error nothing visible has changed. stats may be NULL.
 */
int sl_tables_apply_stats(const struct sl_maps *m, const struct sl_config *cfg,
			  struct sl_diag *diag, struct sl_apply_stats *stats);
int sl_tables_apply(const struct sl_maps *m, const struct sl_config *cfg, struct sl_diag *diag);

/* Remember which file the tables came from (sl_config_digest), for restarts. */
int sl_tables_set_digest(const struct sl_maps *m, uint64_t digest);

/*
 * Set the default route's weights of one service live, in place: each of
 * its (VIP, port) values in the active slot is replaced in one map update
 * (weights.c); the cost does not depend on the number of services.
 * names/weights: n subsets; subsets not named get weight 0. Errors (unknown
 * service or subset, all zero) go to diag and change nothing.
 */
int sl_tables_set_weights(const struct sl_maps *m, const char *service, char *const names[],
			  const uint32_t weights[], size_t n, struct sl_diag *diag);

/* One service's default route (weights.c): -ENOENT if there is none. */
struct sl_weights {
	char names[SL_MAX_SUBSETS][SL_SUBSET_NAME_LEN];
	uint32_t weight[SL_MAX_SUBSETS];
	size_t n;
	bool overridden;
};
int sl_tables_get_weights(const struct sl_maps *m, const char *service, struct sl_weights *w);

#endif /* SLUICE_TABLES_H */
