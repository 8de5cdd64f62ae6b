/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rollouts as people and programs read them: JSON (rollout status -j, the
 * dashboard's /api/v1/stats "rollouts") and Prometheus metrics
 * (sluice_rollout_*). Calls store.h and spec.h.
 */
#ifndef SLUICE_ROLLOUT_REPORT_H
#define SLUICE_ROLLOUT_REPORT_H

#include <stdio.h>

#include <json-c/json.h>

#include "datapath/maps.h"
#include "sluice_abi.h"

/*
 * {"service", "from", "to", "phase", "step", "steps": [..], "weight",
 *  "dwell_ms", "deadline_ms", "on_deadline", "min_requests",
 *  "max_5xx_ratio", "max_reset_ratio", "max_p99_ms", "failure_limit",
 *  "failures", "dry_run", "healthy_ms", "started_ms", "step_started_ms",
 *  "updated_ms", "reason", "events": [{"time_ms", "action", "weight",
 *  "requests", "errors", "reason"}]}
 */
json_object *sl_ro_json(const struct sl_rollout *r, const struct sl_rollout_event *ev, size_t n);
/* Every rollout in the map, each with its newest max_events decisions. */
json_object *sl_ro_all_json(const struct sl_maps *m, size_t max_events);
/* sluice_rollout_* for every rollout in the map. */
void sl_ro_metrics(FILE *f, const struct sl_maps *m);

#endif /* SLUICE_ROLLOUT_REPORT_H */
