/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rollout controller inside `sluice run`: once a second, for every
 * rollout running in the pinned sl_rollout map, judge the canary against
 * its baseline on counter deltas (judge.h) and act: hold, advance, count a
 * failed check, pause, abort, promote, with the same atomic weight write as
 * `sluice weights`. Its state is the map (kill -9 of `run` loses nothing
 * but the current window); the window itself restarts with each step and
 * each process.
 *
 * Precedence, for the service's default route: a running or paused
 * rollout's weights win; a file change or a `sluice weights` override under
 * it is written over within a tick (logged "reassert"). Once the rollout
 * has ended (promoted or aborted), its last weights are an override like
 * `sluice weights`: they last until the configuration next changes.
 */
#ifndef SLUICE_ROLLOUT_CONTROLLER_H
#define SLUICE_ROLLOUT_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "datapath/maps.h"
#include "sluice_abi.h"

/* A decision, for the caller's -j events: ev is consumed. */
typedef void (*sl_ro_emit_fn)(json_object *ev, void *arg);

struct sl_ro_ctl;

struct sl_ro_ctl *sl_ro_ctl_new(const struct sl_maps *m, sl_ro_emit_fn emit, void *arg);
/* Is any rollout running or paused (the caller then locks and ticks)? */
bool sl_ro_ctl_busy(const struct sl_ro_ctl *c);
/* One round over every rollout; the caller holds the pin directory's lock. */
void sl_ro_ctl_tick(struct sl_ro_ctl *c);
void sl_ro_ctl_free(struct sl_ro_ctl *c);

/*
 * The configuration just applied (or kept): start the rollout of each
 * `rollout:` block whose plan has not run yet (or changed), and remember
 * the blocks, whose finished rollouts keep their last weights while the
 * block stays. The caller holds the pin directory's lock.
 */
struct sl_config;
void sl_ro_ctl_config(struct sl_ro_ctl *c, const struct sl_config *cfg);

/*
 * Before cfg is applied: write into its default routes the weights of the
 * rollouts that own them (running or paused; finished ones of a block cfg
 * still holds), so that a file change never flips them away, not even for
 * a moment.
 */
void sl_ro_ctl_overlay(const struct sl_ro_ctl *c, struct sl_config *cfg);
/* The same from any writer of the tables (`sluice apply`), under the lock. */
void sl_ro_overlay(const struct sl_maps *m, struct sl_config *cfg);

/* Digest of a rollout's plan (what a `rollout:` block says), for restarts. */
uint64_t sl_ro_spec_digest(const struct sl_rollout *r);

/* {"event": "rollout", "service", "action", "weight", "phase", "reason", ...} */
json_object *sl_ro_event_json(const struct sl_rollout *r, uint32_t action, const char *reason,
			      uint64_t n, uint64_t errors);

#endif /* SLUICE_ROLLOUT_CONTROLLER_H */
