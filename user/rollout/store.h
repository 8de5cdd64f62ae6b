/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rollouts in their pinned maps (sl_rollout, sl_rollout_log; sluice_abi.h):
 * read, write, find by service, log a decision, and move the weights the
 * way `sluice weights` does. Callers hold the pin directory's lock around
 * a read-modify-write. Calls maps.h and tables.h.
 */
#ifndef SLUICE_ROLLOUT_STORE_H
#define SLUICE_ROLLOUT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "datapath/maps.h"
#include "sluice_abi.h"

int sl_ro_get(const struct sl_maps *m, uint32_t slot, struct sl_rollout *r);
/* Bumps r->seq, then writes slot. */
int sl_ro_put(const struct sl_maps *m, uint32_t slot, struct sl_rollout *r);
/* The rollout of service (any phase but free): -ENOENT if none. */
int sl_ro_find(const struct sl_maps *m, const char *service, struct sl_rollout *r, uint32_t *slot);
/*
 * A slot for a new rollout of service: its finished one, a free one, or the
 * oldest finished one. -EBUSY if service has one running or paused,
 * -ENOSPC if every slot holds an unfinished rollout.
 */
int sl_ro_alloc(const struct sl_maps *m, const char *service, uint32_t *slot);

/* Is it still deciding (running or paused)? */
int sl_ro_active(const struct sl_rollout *r);
/* The canary's percent the rollout stands for now. */
uint32_t sl_ro_weight(const struct sl_rollout *r);

/*
 * Set the service's default route to from=100-pct, to=pct in one atomic
 * write (sl_tables_set_weights, the same as `sluice weights`).
 */
int sl_ro_set_weights(const struct sl_maps *m, const struct sl_rollout *r, uint32_t pct,
		      struct sl_diag *diag);

/*
 * Does r call for resetting the canary's connections now: aborted, with
 * SL_RO_ABORT_RESET, and not a dry run (which writes nothing)?
 */
int sl_ro_abort_resets(const struct sl_rollout *r);
/*
 * At an abort with SL_RO_ABORT_RESET (after the weights moved): flag the
 * canary's open TCP connections so that their clients get a RST at their
 * next packet (datapath/ct_reset.h); *n of them.
 */
int sl_ro_reset_conns(const struct sl_maps *m, const struct sl_rollout *r, uint64_t *n);

/* Append a decision to sl_rollout_log (the ring keeps the newest 256). */
int sl_ro_log(const struct sl_maps *m, const struct sl_rollout *r, uint32_t action, uint32_t weight,
	      uint64_t n, uint64_t errors, const char *reason);
/*
 * The logged decisions of service (NULL: every service), oldest first, at
 * most max of the newest. *out is malloc'ed.
 */
int sl_ro_events(const struct sl_maps *m, const char *service, size_t max,
		 struct sl_rollout_event **out, size_t *n);

uint64_t sl_ro_now_ms(void);

#endif /* SLUICE_ROLLOUT_STORE_H */
