// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rollouts as JSON and metrics (report.h). */
#include <stdlib.h>
#include <string.h>

#include "rollout/report.h"
#include "rollout/spec.h"
#include "rollout/store.h"

json_object *sl_ro_json(const struct sl_rollout *r, const struct sl_rollout_event *ev, size_t n)
{
	json_object *o = json_object_new_object(), *steps = json_object_new_array();
	json_object *evs = json_object_new_array();
	size_t i;

	for (i = 0; i < r->n_steps; i++)
		json_object_array_add(steps, json_object_new_int(r->steps[i]));
	for (i = 0; i < n; i++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "time_ms", json_object_new_uint64(ev[i].time_ms));
		json_object_object_add(e, "action",
				       json_object_new_string(sl_ro_action_name(ev[i].action)));
		json_object_object_add(e, "weight", json_object_new_int(ev[i].weight));
		json_object_object_add(e, "requests", json_object_new_uint64(ev[i].n));
		json_object_object_add(e, "errors", json_object_new_uint64(ev[i].errors));
		json_object_object_add(e, "reason", json_object_new_string(ev[i].reason));
		json_object_array_add(evs, e);
	}
	json_object_object_add(o, "service", json_object_new_string(r->service));
	json_object_object_add(o, "from", json_object_new_string(r->from));
	json_object_object_add(o, "to", json_object_new_string(r->to));
	json_object_object_add(o, "phase", json_object_new_string(sl_ro_phase_name(r->phase)));
	json_object_object_add(o, "step", json_object_new_int(r->step));
	json_object_object_add(o, "steps", steps);
	json_object_object_add(o, "weight", json_object_new_int(sl_ro_weight(r)));
	json_object_object_add(o, "dwell_ms", json_object_new_int64(r->dwell_ms));
	json_object_object_add(o, "deadline_ms", json_object_new_int64(r->deadline_ms));
	json_object_object_add(
	    o, "on_deadline",
	    json_object_new_string((r->flags & SL_RO_DEADLINE_ABORT) ? "abort" : "pause"));
	json_object_object_add(o, "min_requests", json_object_new_int64(r->min_requests));
	json_object_object_add(o, "max_5xx_ratio", json_object_new_double(r->max_5xx_ppm / 1e6));
	json_object_object_add(o, "max_reset_ratio",
			       json_object_new_double(r->max_reset_ppm / 1e6));
	json_object_object_add(o, "max_p99_ms", json_object_new_double(r->max_p99_us / 1e3));
	json_object_object_add(o, "failure_limit", json_object_new_int64(r->failure_limit));
	json_object_object_add(o, "failures", json_object_new_int64(r->failures));
	json_object_object_add(o, "dry_run", json_object_new_boolean(r->flags & SL_RO_DRY_RUN));
	json_object_object_add(o, "abort_reset",
			       json_object_new_boolean(r->flags & SL_RO_ABORT_RESET));
	json_object_object_add(o, "healthy_ms", json_object_new_uint64(r->healthy_ms));
	json_object_object_add(o, "started_ms", json_object_new_uint64(r->started_ms));
	json_object_object_add(o, "step_started_ms", json_object_new_uint64(r->step_started_ms));
	json_object_object_add(o, "updated_ms", json_object_new_uint64(r->updated_ms));
	json_object_object_add(o, "reason", json_object_new_string(r->reason));
	json_object_object_add(o, "events", evs);
	return o;
}

json_object *sl_ro_all_json(const struct sl_maps *m, size_t max_events)
{
	json_object *arr = json_object_new_array();
	struct sl_rollout_event *ev;
	struct sl_rollout r;
	size_t n;
	uint32_t i;

	for (i = 0; i < SL_MAX_ROLLOUTS; i++) {
		if (sl_ro_get(m, i, &r))
			break;
		if (r.phase == SL_RO_FREE)
			continue;
		if (sl_ro_events(m, r.service, max_events, &ev, &n))
			n = 0;
		json_object_array_add(arr, sl_ro_json(&r, ev, n));
		free(ev);
	}
	return arr;
}

static void labels(FILE *f, const struct sl_rollout *r)
{
	/* service and subset names are [a-z0-9.-] (config validation): no escaping */
	fprintf(f, "service=\"%s\",from=\"%s\",to=\"%s\"", r->service, r->from, r->to);
}

void sl_ro_metrics(FILE *f, const struct sl_maps *m)
{
	static const char *const phases[] = {"running", "paused", "aborted", "promoted"};
	struct sl_rollout rs[SL_MAX_ROLLOUTS];
	size_t n = 0, i, k;

	for (i = 0; i < SL_MAX_ROLLOUTS; i++)
		if (!sl_ro_get(m, i, &rs[n]) && rs[n].phase != SL_RO_FREE)
			n++;
	fprintf(f, "# HELP sluice_rollout_phase 1 for the phase a rollout is in.\n"
		   "# TYPE sluice_rollout_phase gauge\n");
	for (i = 0; i < n; i++)
		for (k = 0; k < 4; k++) {
			fprintf(f, "sluice_rollout_phase{");
			labels(f, &rs[i]);
			fprintf(f, ",phase=\"%s\"} %d\n", phases[k], rs[i].phase == k + 1);
		}
	fprintf(f, "# HELP sluice_rollout_canary_weight_percent The canary's share the rollout "
		   "stands for.\n"
		   "# TYPE sluice_rollout_canary_weight_percent gauge\n");
	for (i = 0; i < n; i++) {
		fprintf(f, "sluice_rollout_canary_weight_percent{");
		labels(f, &rs[i]);
		fprintf(f, "} %u\n", sl_ro_weight(&rs[i]));
	}
	fprintf(f, "# HELP sluice_rollout_step The step in force (0-based).\n"
		   "# TYPE sluice_rollout_step gauge\n");
	for (i = 0; i < n; i++) {
		fprintf(f, "sluice_rollout_step{");
		labels(f, &rs[i]);
		fprintf(f, "} %u\n", rs[i].step);
	}
	fprintf(f, "# HELP sluice_rollout_failed_checks Failed checks so far (abort at the failure "
		   "limit).\n"
		   "# TYPE sluice_rollout_failed_checks gauge\n");
	for (i = 0; i < n; i++) {
		fprintf(f, "sluice_rollout_failed_checks{");
		labels(f, &rs[i]);
		fprintf(f, "} %u\n", rs[i].failures);
	}
	fprintf(
	    f,
	    "# HELP sluice_rollout_step_healthy_seconds Healthy time judged in the step in force.\n"
	    "# TYPE sluice_rollout_step_healthy_seconds gauge\n");
	for (i = 0; i < n; i++) {
		fprintf(f, "sluice_rollout_step_healthy_seconds{");
		labels(f, &rs[i]);
		fprintf(f, "} %.3f\n", rs[i].healthy_ms / 1000.0);
	}
	fprintf(f, "# HELP sluice_rollout_last_decision_timestamp_seconds When the rollout last "
		   "decided something (Unix time).\n"
		   "# TYPE sluice_rollout_last_decision_timestamp_seconds gauge\n");
	for (i = 0; i < n; i++) {
		fprintf(f, "sluice_rollout_last_decision_timestamp_seconds{");
		labels(f, &rs[i]);
		fprintf(f, "} %llu.%03llu\n", (unsigned long long)rs[i].updated_ms / 1000,
			(unsigned long long)rs[i].updated_ms % 1000);
	}
}
