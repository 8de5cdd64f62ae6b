/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Writing the configuration tables in the maps: a validated config into
 * them atomically (inactive slot, flip, RCU grace period), and live weight
 * overrides. Reading them back is counters.h.
 */
#ifndef SLUICE_TABLES_H
#define SLUICE_TABLES_H

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

#endif /* SLUICE_TABLES_H */
