// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A service's `rollout:` block (ours.h): the plan `sluice run` walks for it
 * (rollout/controller.h), in our own keys or as Flagger's `analysis` block
 * pasted as Flagger users write it:
 *
 *   rollout:
 *     to: v2                 # the canary subset (required)
 *     from: v1               # the baseline (default: the other subset in the split)
 *     steps: [5, 10, 25, 50, 100]
 *     dwell: 30s             # healthy time per step
 *     minRequests: 20
 *     max5xxRatio: 1%
 *     maxResetRatio: 1%
 *     maxP99Ms: 500
 *     failureLimit: 3
 *     stepDeadline: 5m
 *     onDeadline: pause      # or abort
 *     dryRun: false
 *     analysis:              # Flagger's, same meaning
 *       interval: 1m         # -> dwell: a step per healthy interval
 *       threshold: 5         # -> failureLimit
 *       maxWeight: 50        # with stepWeight -> steps 10,20,...,50, then 100
 *       stepWeight: 10
 *       stepWeights: [1, 5, 10, 50]
 *       metrics:
 *       - name: request-success-rate   # thresholdRange.min 99 -> max5xxRatio 1%
 *         thresholdRange: {min: 99}
 *       - name: request-duration       # thresholdRange.max 500 -> maxP99Ms 500
 *         thresholdRange: {max: 500}
 *
 * Our keys win over the analysis block's. What needs Flagger's machinery
 * (webhooks, alerts, custom metrics and templateRef, targetRef, A/B
 * matches, mirroring...) is warned with its position and left out. Calls
 * rollout/spec.h (pure) and the readers' helpers (ours.h) only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ours.h"
#include "config/yaml_node.h"
#include "rollout/spec.h"

static const char *const own_keys[] = {
    "to",	    "from",	   "steps",	  "stepWeight",	   "maxWeight", "stepWeights",
    "dwell",	    "minRequests", "max5xxRatio", "maxResetRatio", "maxP99Ms",	"failureLimit",
    "stepDeadline", "onDeadline",  "dryRun",	  "analysis",	   NULL,
};

/* Flagger's Canary spec fields a pasted block may carry: theirs alone. */
static const char *const flagger_spec_only[] = {
    "targetRef", "service",	 "progressDeadlineSeconds", "autoscalerRef", "ingressRef",
    "provider",	 "skipAnalysis", "revertOnDeletion",	    "suspend",	     NULL,
};

static const char *const analysis_keys[] = {
    "interval", "threshold", "maxWeight", "stepWeight", "stepWeights", "metrics", NULL,
};

static const char *const flagger_analysis_only[] = {
    "webhooks",
    "alerts",
    "iterations",
    "match",
    "mirror",
    "mirrorWeight",
    "sessionAffinity",
    "primaryReadyThreshold",
    "canaryReadyThreshold",
    "stepWeightPromotion",
    NULL,
};

static bool in(const char *const *list, const char *k)
{
	for (; *list; list++)
		if (!strcmp(*list, k))
			return true;
	return false;
}

/*
 * Keys of mapping n: ours pass, Flagger-only ones are warned, anything else
 * is an error.
 */
static void check_keys(struct ctx *c, const yaml_node_t *n, const char *const *ours,
		       const char *const *theirs, const char *where)
{
	size_t i;

	for (i = 0; i < sl_yaml_map_len(n); i++) {
		yaml_node_t *kn = sl_yaml_map_key(c->doc, n, i);
		const char *k = sl_yaml_scalar(kn);

		if (!k) {
			sl_ours_error_at(c, kn, "keys %s must be strings, not %s", where,
					 sl_yaml_type_name(kn));
		} else if (in(theirs, k)) {
			sl_ours_warn_at(
			    c, kn,
			    "'%s' %s needs Flagger's machinery: left out (sluice judges "
			    "from the kernel's counters alone)",
			    k, where);
		} else if (!in(ours, k)) {
			sl_ours_error_at(c, kn, "unknown key '%s' %s", k, where);
		}
	}
}

static bool get_uint(struct ctx *c, const yaml_node_t *n, const char *what, unsigned long min,
		     unsigned long max, uint32_t *out)
{
	const char *s = sl_yaml_scalar(n);
	unsigned long v;

	if (!s || !sl_all_digits(s) || strlen(s) > 9 || (v = strtoul(s, NULL, 10)) < min ||
	    v > max) {
		sl_ours_error_at(c, n, "%s must be a whole number from %lu to %lu, not '%s'", what,
				 min, max, s ? s : sl_yaml_type_name(n));
		return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* A number that may have a fraction (thresholdRange: min: 99.5). */
static bool get_number(struct ctx *c, const yaml_node_t *n, const char *what, double min,
		       double max, double *out)
{
	const char *s = sl_yaml_scalar(n);
	char *end;
	double v;

	v = s ? strtod(s, &end) : 0;
	if (!s || end == s || *end || v < min || v > max) {
		sl_ours_error_at(c, n, "%s must be a number from %g to %g, not '%s'", what, min,
				 max, s ? s : sl_yaml_type_name(n));
		return false;
	}
	*out = v;
	return true;
}

static void get_duration(struct ctx *c, const yaml_node_t *n, const char *what, uint32_t *ms)
{
	const char *s = sl_yaml_scalar(n), *why = "not a string";

	if (!s || sl_ro_parse_duration(s, ms, &why) || !*ms)
		sl_ours_error_at(c, n, "%s '%s': %s", what, s ? s : sl_yaml_type_name(n),
				 s && !why ? "must not be 0" : why);
}

static void get_ratio(struct ctx *c, const yaml_node_t *n, const char *what, uint32_t *ppm)
{
	const char *s = sl_yaml_scalar(n), *why = "not a string";

	if (!s || sl_ro_parse_ratio(s, ppm, &why))
		sl_ours_error_at(c, n, "%s '%s': %s", what, s ? s : sl_yaml_type_name(n), why);
}

/* A list of percents (steps, stepWeights) into r->steps. */
static void get_steps(struct ctx *c, const yaml_node_t *n, const char *what, struct sl_rollout *r)
{
	uint32_t w[SL_ROLLOUT_STEPS + 1];
	const char *why;
	size_t i, len;

	if (n->type == YAML_SCALAR_NODE) {
		if (sl_ro_parse_steps(sl_yaml_scalar(n), r, &why))
			sl_ours_error_at(c, n, "%s: %s", what, why);
		return;
	}
	if (!sl_ours_want_type(c, n, YAML_SEQUENCE_NODE, what))
		return;
	len = sl_yaml_seq_len(n);
	if (len > SL_ROLLOUT_STEPS || !len) {
		sl_ours_error_at(c, n, "%s: 1 to %d steps", what, SL_ROLLOUT_STEPS);
		return;
	}
	for (i = 0; i < len; i++)
		if (!get_uint(c, sl_yaml_seq_item(c->doc, n, i), what, 1, 100, &w[i]))
			return;
	if (sl_ro_steps_list(w, len, r, &why))
		sl_ours_error_at(c, n, "%s: %s", what, why);
}

/* stepWeight/maxWeight of mapping n (ours or Flagger's), if there. */
static void get_linear(struct ctx *c, const yaml_node_t *n, const char *where, struct sl_rollout *r)
{
	yaml_node_t *sw = sl_yaml_get(c->doc, n, "stepWeight"),
		    *mw = sl_yaml_get(c->doc, n, "maxWeight");
	uint32_t step, max = 100;
	const char *why;

	if (!sw) {
		if (mw)
			sl_ours_error_at(c, mw, "maxWeight %s needs stepWeight", where);
		return;
	}
	if (!get_uint(c, sw, "stepWeight", 1, 100, &step) ||
	    (mw && !get_uint(c, mw, "maxWeight", 1, 100, &max)))
		return;
	if (sl_ro_steps_linear(step, max, r, &why))
		sl_ours_error_at(c, sw, "stepWeight %u, maxWeight %u: %s", step, max, why);
}

static void parse_metric(struct ctx *c, const yaml_node_t *m, struct sl_rollout *r)
{
	static const char *const keys[] = {"name", "thresholdRange", "interval", NULL};
	static const char *const theirs[] = {"templateRef", "templateVariables", "query",
					     "threshold", NULL};
	static const char *const range_keys[] = {"min", "max", NULL};
	yaml_node_t *name, *range, *min, *max;
	const char *nm;
	double v;

	if (!sl_ours_want_type(c, m, YAML_MAPPING_NODE, "a metric of 'analysis'"))
		return;
	name = sl_yaml_get(c->doc, m, "name");
	nm = sl_yaml_scalar(name);
	if (!nm) {
		sl_ours_error_at(c, m, "a metric of 'analysis' is missing 'name'");
		return;
	}
	if (strcmp(nm, "request-success-rate") && strcmp(nm, "request-duration")) {
		sl_ours_warn_at(
		    c, name,
		    "metric '%s' is not one of Flagger's built-in ones (request-success-rate, "
		    "request-duration): it needs Flagger's machinery, left out",
		    nm);
		return;
	}
	check_keys(c, m, keys, theirs, "in a metric of 'analysis'");
	range = sl_yaml_get(c->doc, m, "thresholdRange");
	if (!range) {
		sl_ours_error_at(c, m, "metric '%s' is missing 'thresholdRange'", nm);
		return;
	}
	if (!sl_ours_want_type(c, range, YAML_MAPPING_NODE, "thresholdRange"))
		return;
	sl_ours_check_keys(c, range, range_keys, "in thresholdRange");
	min = sl_yaml_get(c->doc, range, "min");
	max = sl_yaml_get(c->doc, range, "max");
	if (!strcmp(nm, "request-success-rate")) {
		/* a percentage of non-5xx responses, as Flagger's query counts them */
		if (max)
			sl_ours_warn_at(c, max,
					"a maximum success rate is never a failure here: left out");
		if (!min) {
			sl_ours_error_at(c, range, "request-success-rate needs thresholdRange.min");
			return;
		}
		if (get_number(c, min, "thresholdRange.min of request-success-rate", 0, 100, &v))
			r->max_5xx_ppm = (uint32_t)((100 - v) * 1e4 + 0.5);
		if (r->max_5xx_ppm == 0)
			r->max_5xx_ppm = 1; /* min 100: any 5xx fails, and the gate stays on */
	} else {
		/* Flagger's request-duration is the P99, in milliseconds */
		if (min)
			sl_ours_warn_at(c, min,
					"a minimum duration is never a failure here: left out");
		if (!max) {
			sl_ours_error_at(c, range, "request-duration needs thresholdRange.max");
			return;
		}
		if (get_number(c, max, "thresholdRange.max of request-duration", 1, 3600000, &v))
			r->max_p99_us = (uint32_t)(v * 1000);
	}
}

static void parse_analysis(struct ctx *c, const yaml_node_t *n, struct sl_rollout *r)
{
	yaml_node_t *v;
	size_t i;

	if (!sl_ours_want_type(c, n, YAML_MAPPING_NODE, "'analysis'"))
		return;
	check_keys(c, n, analysis_keys, flagger_analysis_only, "in 'analysis'");
	v = sl_yaml_get(c->doc, n, "interval");
	if (v)
		get_duration(c, v, "analysis.interval", &r->dwell_ms);
	v = sl_yaml_get(c->doc, n, "threshold");
	if (v)
		get_uint(c, v, "analysis.threshold", 1, 1000, &r->failure_limit);
	get_linear(c, n, "in 'analysis'", r);
	v = sl_yaml_get(c->doc, n, "stepWeights");
	if (v)
		get_steps(c, v, "analysis.stepWeights", r);
	v = sl_yaml_get(c->doc, n, "metrics");
	if (v && sl_ours_want_type(c, v, YAML_SEQUENCE_NODE, "analysis.metrics")) {
		/* metrics named: the gates are theirs; a gate not named is off */
		r->max_5xx_ppm = r->max_p99_us = 0;
		for (i = 0; i < sl_yaml_seq_len(v); i++)
			parse_metric(c, sl_yaml_seq_item(c->doc, v, i), r);
	}
}

/* The baseline when 'from' is not given: the one other subset of the default split. */
static void default_from(struct ctx *c, const struct sl_service_cfg *svc, const yaml_node_t *n,
			 struct sl_rollout *r, const char *label)
{
	const struct sl_route_cfg *rt = svc->n_routes ? &svc->routes[svc->n_routes - 1] : NULL;
	size_t i, found = 0;

	for (i = 0; rt && i < svc->n_subsets; i++)
		if (rt->weight[i] && strcmp(svc->subsets[i].name, r->to)) {
			snprintf(r->from, sizeof(r->from), "%s", svc->subsets[i].name);
			found++;
		}
	if (found != 1)
		sl_ours_error_at(c, n,
				 "%s: rollout needs 'from': no single other subset in the "
				 "last route's split",
				 label);
}

struct sl_rollout *sl_ours_rollout_spec(struct ctx *c, const yaml_node_t *n, const char *label,
					bool target_ref, int *err)
{
	static const char *const with_target[] = {"targetRef", NULL};
	char where[SL_NAME_LEN + 96];
	struct sl_rollout *r;
	yaml_node_t *v;
	const char *s;
	size_t i;

	if (!sl_ours_want_type(c, n, YAML_MAPPING_NODE, "'rollout'"))
		return NULL;
	snprintf(where, sizeof(where), "in the rollout of %s", label);
	if (target_ref) {
		/* a Canary object names its target: that key is read by the caller */
		for (i = 0; i < sl_yaml_map_len(n); i++) {
			yaml_node_t *kn = sl_yaml_map_key(c->doc, n, i);
			const char *k = sl_yaml_scalar(kn);

			if (k && in(with_target, k))
				continue;
			if (!k || !in(own_keys, k)) {
				if (k && in(flagger_spec_only, k))
					sl_ours_warn_at(c, kn,
							"'%s' %s needs Flagger's machinery: left "
							"out (sluice judges from the kernel's "
							"counters alone)",
							k, where);
				else
					sl_ours_error_at(c, kn, "unknown key '%s' %s", k ? k : "?",
							 where);
			}
		}
	} else {
		check_keys(c, n, own_keys, flagger_spec_only, where);
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	sl_ro_spec_default(r);
	r->flags |= SL_RO_FROM_CONFIG;

	/* Flagger's block first: our own keys beside it win */
	v = sl_yaml_get(c->doc, n, "analysis");
	if (v)
		parse_analysis(c, v, r);
	get_linear(c, n, where, r);
	v = sl_yaml_get(c->doc, n, "steps");
	if (v)
		get_steps(c, v, "steps", r);
	v = sl_yaml_get(c->doc, n, "stepWeights");
	if (v)
		get_steps(c, v, "stepWeights", r);
	v = sl_yaml_get(c->doc, n, "dwell");
	if (v)
		get_duration(c, v, "dwell", &r->dwell_ms);
	r->deadline_ms = SL_RO_DEF_DEADLINE_DWELLS * r->dwell_ms;
	v = sl_yaml_get(c->doc, n, "stepDeadline");
	if (v)
		get_duration(c, v, "stepDeadline", &r->deadline_ms);
	v = sl_yaml_get(c->doc, n, "minRequests");
	if (v)
		get_uint(c, v, "minRequests", 1, 100000000, &r->min_requests);
	v = sl_yaml_get(c->doc, n, "max5xxRatio");
	if (v)
		get_ratio(c, v, "max5xxRatio", &r->max_5xx_ppm);
	v = sl_yaml_get(c->doc, n, "maxResetRatio");
	if (v)
		get_ratio(c, v, "maxResetRatio", &r->max_reset_ppm);
	v = sl_yaml_get(c->doc, n, "maxP99Ms");
	if (v && get_uint(c, v, "maxP99Ms", 1, 3600000, &r->max_p99_us))
		r->max_p99_us *= 1000;
	v = sl_yaml_get(c->doc, n, "failureLimit");
	if (v)
		get_uint(c, v, "failureLimit", 1, 1000, &r->failure_limit);
	v = sl_yaml_get(c->doc, n, "onDeadline");
	if (v) {
		s = sl_yaml_scalar(v);
		if (s && !strcmp(s, "abort"))
			r->flags |= SL_RO_DEADLINE_ABORT;
		else if (!s || strcmp(s, "pause"))
			sl_ours_error_at(c, v, "onDeadline must be pause or abort, not '%s'",
					 s ? s : sl_yaml_type_name(v));
	}
	v = sl_yaml_get(c->doc, n, "dryRun");
	if (v) {
		s = sl_yaml_scalar(v);
		if (s && !strcmp(s, "true"))
			r->flags |= SL_RO_DRY_RUN;
		else if (!s || strcmp(s, "false"))
			sl_ours_error_at(c, v, "dryRun must be true or false, not '%s'",
					 s ? s : sl_yaml_type_name(v));
	}

	v = sl_yaml_get(c->doc, n, "to");
	s = sl_yaml_scalar(v);
	if (!v)
		sl_ours_error_at(c, n, "the rollout of %s is missing 'to' (the canary subset)",
				 label);
	else if (!s || strlen(s) >= sizeof(r->to))
		sl_ours_error_at(c, v, "'to' must be a subset's name");
	else
		snprintf(r->to, sizeof(r->to), "%s", s);
	v = sl_yaml_get(c->doc, n, "from");
	s = sl_yaml_scalar(v);
	if (v && (!s || strlen(s) >= sizeof(r->from)))
		sl_ours_error_at(c, v, "'from' must be a subset's name");
	else if (v)
		snprintf(r->from, sizeof(r->from), "%s", s);
	return r;
}

void sl_ours_parse_rollout(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
			   const char *label, int *err)
{
	struct sl_rollout *r = sl_ours_rollout_spec(c, n, label, false, err);
	size_t i;

	if (!r)
		return;
	snprintf(r->service, sizeof(r->service), "%s", svc->name);
	if (!r->from[0] && !sl_yaml_get(c->doc, n, "from") && r->to[0])
		default_from(c, svc, n, r, label);
	for (i = 0; r->to[0] && r->from[0] && i < 2; i++) {
		const char *want = i ? r->from : r->to;
		size_t j;

		for (j = 0; j < svc->n_subsets && strcmp(svc->subsets[j].name, want); j++)
			;
		if (j == svc->n_subsets)
			sl_ours_error_at(c, sl_yaml_get(c->doc, n, i ? "from" : "to") ?: n,
					 "%s has no subset '%s' for its rollout", label, want);
	}
	if (r->to[0] && !strcmp(r->to, r->from))
		sl_ours_error_at(c, n, "the rollout of %s goes from '%s' to itself", label, r->to);
	free(svc->rollout);
	svc->rollout = r;
}
