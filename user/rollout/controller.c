// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The rollout controller of `sluice run` (controller.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/counters.h"
#include "datapath/rt.h"
#include "lib/log.h"
#include "rollout/controller.h"
#include "rollout/judge.h"
#include "rollout/spec.h"
#include "rollout/store.h"
#include "config/model.h"

/* What this process remembers of a rollout: the window it judges. */
struct window {
	uint64_t seq;	  /* the map entry's seq we last wrote or read */
	uint32_t step;	  /* the step the window belongs to */
	uint64_t started; /* ...of the rollout that started then (a slot is reused) */
	bool open;
	uint64_t last_ms;	     /* the previous tick */
	struct sl_ro_sample base[2]; /* [0] v1, [1] v2 at the window's start */
	enum sl_ro_verdict last_verdict;
	bool have_last;
};

/* A `rollout:` block of the configuration in force. */
struct block {
	char service[SL_NAME_LEN];
	uint64_t digest;
};

struct sl_ro_ctl {
	const struct sl_maps *m;
	struct block *blocks;
	size_t n_blocks;
	sl_ro_emit_fn emit;
	void *arg;
	struct window w[SL_MAX_ROLLOUTS];
};

struct sl_ro_ctl *sl_ro_ctl_new(const struct sl_maps *m, sl_ro_emit_fn emit, void *arg)
{
	struct sl_ro_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->m = m;
	c->emit = emit;
	c->arg = arg;
	return c;
}

void sl_ro_ctl_free(struct sl_ro_ctl *c)
{
	if (c)
		free(c->blocks);
	free(c);
}

uint64_t sl_ro_spec_digest(const struct sl_rollout *r)
{
	struct sl_rollout p;

	/* the plan alone: names, steps, gates, flags; none of the progress */
	memset(&p, 0, sizeof(p));
	memcpy(p.service, r->service, sizeof(p.service));
	memcpy(p.from, r->from, sizeof(p.from));
	memcpy(p.to, r->to, sizeof(p.to));
	p.flags = r->flags;
	memcpy(p.steps, r->steps, sizeof(p.steps));
	p.n_steps = r->n_steps;
	p.dwell_ms = r->dwell_ms;
	p.deadline_ms = r->deadline_ms;
	p.min_requests = r->min_requests;
	p.max_5xx_ppm = r->max_5xx_ppm;
	p.max_reset_ppm = r->max_reset_ppm;
	p.max_p99_us = r->max_p99_us;
	p.failure_limit = r->failure_limit;
	return sl_fnv1a(0xcbf29ce484222325ULL, &p, sizeof(p));
}

static const struct block *block_of(const struct sl_ro_ctl *c, const char *service)
{
	size_t i;

	for (i = 0; i < c->n_blocks; i++)
		if (!strcmp(c->blocks[i].service, service))
			return &c->blocks[i];
	return NULL;
}

json_object *sl_ro_event_json(const struct sl_rollout *r, uint32_t action, const char *reason,
			      uint64_t n, uint64_t errors)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "service", json_object_new_string(r->service));
	json_object_object_add(o, "action", json_object_new_string(sl_ro_action_name(action)));
	json_object_object_add(o, "phase", json_object_new_string(sl_ro_phase_name(r->phase)));
	json_object_object_add(o, "from", json_object_new_string(r->from));
	json_object_object_add(o, "to", json_object_new_string(r->to));
	json_object_object_add(o, "step", json_object_new_int(r->step));
	json_object_object_add(o, "weight", json_object_new_int(sl_ro_weight(r)));
	json_object_object_add(o, "requests", json_object_new_uint64(n));
	json_object_object_add(o, "errors", json_object_new_uint64(errors));
	json_object_object_add(o, "failures", json_object_new_int(r->failures));
	json_object_object_add(o, "dry_run", json_object_new_boolean(r->flags & SL_RO_DRY_RUN));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	return o;
}

/* A decision: the log line, the ring in the map, and run's -j event. */
static void decide(struct sl_ro_ctl *c, const struct sl_rollout *r, uint32_t action,
		   const struct sl_ro_judgement *j, const char *reason)
{
	uint64_t n = j ? j->n : 0, e = j ? j->errors : 0;

	pr_info("rollout %s: %s%s at %s=%u%%: %s\n", r->service, sl_ro_action_name(action),
		(r->flags & SL_RO_DRY_RUN) ? " (dry run)" : "", r->to, sl_ro_weight(r), reason);
	sl_ro_log(c->m, r, action, sl_ro_weight(r), n, e, reason);
	if (c->emit)
		c->emit(sl_ro_event_json(r, action, reason, n, e), c->arg);
}

static void set_reason(struct sl_rollout *r, const char *why)
{
	/* truncated to the pinned record's field */
	size_t n = strnlen(why, sizeof(r->reason) - 1);

	memcpy(r->reason, why, n);
	r->reason[n] = '\0';
}

static void sample_of(const struct sl_status_subset *s, struct sl_ro_sample *out)
{
	int k;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < 5; k++)
		out->requests += s->stats.http_responses[k];
	out->errors = s->stats.http_responses[4];
	out->conns = s->stats.conns_opened;
	out->resets = s->stats.backend_resets;
	out->rt = s->rt;
}

static uint64_t d(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : 0;
}

static void sample_sub(struct sl_ro_sample *out, const struct sl_ro_sample *now,
		       const struct sl_ro_sample *before)
{
	out->requests = d(now->requests, before->requests);
	out->errors = d(now->errors, before->errors);
	out->conns = d(now->conns, before->conns);
	out->resets = d(now->resets, before->resets);
	sl_rt_sub(&out->rt, &now->rt, &before->rt);
}

static const struct sl_status_subset *subset(const struct sl_status_service *ss, const char *name)
{
	size_t i;

	for (i = 0; i < ss->n_subsets; i++)
		if (!strcmp(ss->subsets[i].name, name))
			return &ss->subsets[i];
	return NULL;
}

/* Write the canary's percent pct (not in a dry run). */
static int move(struct sl_ro_ctl *c, struct sl_rollout *r, uint32_t pct)
{
	struct sl_diag diag;
	int err;

	if (r->flags & SL_RO_DRY_RUN)
		return 0;
	sl_diag_init(&diag);
	err = sl_ro_set_weights(c->m, r, pct, &diag);
	if (err && diag.n_msgs)
		pr_warn("rollout %s: %s\n", r->service, diag.msgs[0]);
	else if (err)
		pr_warn("rollout %s: cannot set weights: %s\n", r->service, strerror(-err));
	sl_diag_free(&diag);
	return err;
}

static void end(struct sl_ro_ctl *c, struct sl_rollout *r, uint32_t phase, uint32_t action,
		const struct sl_ro_judgement *j, const char *reason, uint64_t now)
{
	uint64_t n;
	int err;

	r->phase = phase;
	if (phase == SL_RO_ABORTED || phase == SL_RO_PROMOTED)
		move(c, r, sl_ro_weight(r));
	if (sl_ro_abort_resets(r)) {
		err = sl_ro_reset_conns(c->m, r, &n);
		if (err)
			pr_warn("rollout %s: cannot reset %s's connections: %s\n", r->service,
				r->to, strerror(-err));
		else
			pr_info("rollout %s: %llu connections of %s to be reset\n", r->service,
				(unsigned long long)n, r->to);
	}
	set_reason(r, reason);
	r->updated_ms = now;
	decide(c, r, action, j, reason);
}

static void one(struct sl_ro_ctl *c, uint32_t slot, const struct sl_status *st, uint64_t now)
{
	struct window *w = &c->w[slot];
	const struct sl_status_subset *s1, *s2;
	const struct sl_status_service *ss;
	struct sl_ro_sample cur[2], win[2];
	struct sl_ro_judgement j;
	struct sl_ro_gates g;
	struct sl_rollout r;
	uint64_t before;
	char why[2 * SL_ROLLOUT_REASON];

	if (sl_ro_get(c->m, slot, &r) || r.phase == SL_RO_FREE) {
		w->open = false;
		return;
	}
	if (!sl_ro_active(&r)) {
		const struct block *b = block_of(c, r.service);

		/* a finished rollout of a block still in force keeps its last weights */
		ss = b && b->digest == r.spec_digest ? sl_status_find(st, r.service) : NULL;
		s1 = ss ? subset(ss, r.from) : NULL;
		s2 = ss ? subset(ss, r.to) : NULL;
		if (s1 && s2 && !(r.flags & SL_RO_DRY_RUN) && s2->weight != sl_ro_weight(&r) &&
		    !move(c, &r, sl_ro_weight(&r))) {
			snprintf(why, sizeof(why),
				 "weights were %s=%u %s=%u: the %s rollout's block "
				 "is still in force; written again",
				 r.from, s1->weight, r.to, s2->weight, sl_ro_phase_name(r.phase));
			decide(c, &r, SL_RA_REASSERT, NULL, why);
		}
		w->open = false;
		return;
	}
	before = r.seq;
	ss = sl_status_find(st, r.service);
	s1 = ss ? subset(ss, r.from) : NULL;
	s2 = ss ? subset(ss, r.to) : NULL;
	if (!s1 || !s2) {
		if (r.phase == SL_RO_RUNNING) {
			snprintf(why, sizeof(why),
				 "service %s or its subsets %s/%s are gone from the configuration",
				 r.service, r.from, r.to);
			end(c, &r, SL_RO_PAUSED, SL_RA_PAUSE, NULL, why, now);
			sl_ro_put(c->m, slot, &r);
		}
		w->open = false;
		return;
	}

	/* rollout weights win over a file change or an override made under it */
	if (!(r.flags & SL_RO_DRY_RUN) &&
	    (s2->weight != sl_ro_weight(&r) || s1->weight != 100 - sl_ro_weight(&r))) {
		snprintf(why, sizeof(why), "weights were %s=%u %s=%u: rollout's written again",
			 r.from, s1->weight, r.to, s2->weight);
		if (!move(c, &r, sl_ro_weight(&r)))
			decide(c, &r, SL_RA_REASSERT, NULL, why);
		w->open = false; /* counts from the other weights are not this step's */
	}
	if (r.phase != SL_RO_RUNNING) {
		w->open = false;
		return;
	}

	sample_of(s1, &cur[0]);
	sample_of(s2, &cur[1]);
	/* a new step, a change by someone else (resume, a new rollout) or a new process */
	if (!w->open || w->seq != r.seq || w->step != r.step || w->started != r.started_ms) {
		w->open = true;
		w->step = r.step;
		w->started = r.started_ms;
		w->base[0] = cur[0];
		w->base[1] = cur[1];
		w->last_ms = now;
		w->have_last = false;
		w->seq = r.seq;
		return;
	}
	sample_sub(&win[0], &cur[0], &w->base[0]);
	sample_sub(&win[1], &cur[1], &w->base[1]);
	g.min_requests = r.min_requests;
	g.max_5xx_ppm = r.max_5xx_ppm;
	g.max_reset_ppm = r.max_reset_ppm;
	g.max_p99_us = r.max_p99_us;
	sl_ro_judge(&g, &win[1], &win[0], &j);

	switch (j.verdict) {
	case SL_RO_GROSS:
		end(c, &r, SL_RO_ABORTED, SL_RA_ABORT, &j, j.reason, now);
		break;
	case SL_RO_BASELINE:
		end(c, &r, SL_RO_PAUSED, SL_RA_PAUSE, &j, j.reason, now);
		break;
	case SL_RO_FAILED:
		r.failures++;
		if (r.failures >= r.failure_limit) {
			snprintf(why, sizeof(why), "failed check %u of %u: %s", r.failures,
				 r.failure_limit, j.reason);
			end(c, &r, SL_RO_ABORTED, SL_RA_ABORT, &j, why, now);
		} else {
			snprintf(why, sizeof(why), "failed check %u of %u: %s", r.failures,
				 r.failure_limit, j.reason);
			set_reason(&r, why);
			r.updated_ms = now;
			decide(c, &r, SL_RA_FAILED, &j, why);
		}
		break;
	case SL_RO_INCONCLUSIVE:
	case SL_RO_HEALTHY:
		if (j.verdict == SL_RO_HEALTHY)
			r.healthy_ms += now - w->last_ms;
		set_reason(&r, j.reason);
		if (j.verdict == SL_RO_HEALTHY && r.healthy_ms >= r.dwell_ms) {
			if (r.step + 1 >= r.n_steps) {
				snprintf(why, sizeof(why), "promoted after %u steps: %s", r.n_steps,
					 j.reason);
				end(c, &r, SL_RO_PROMOTED, SL_RA_PROMOTE, &j, why, now);
				break;
			}
			r.step++;
			r.step_started_ms = now;
			r.healthy_ms = 0;
			snprintf(why, sizeof(why), "step %u of %u after %.1f s healthy: %s",
				 r.step + 1, r.n_steps, r.dwell_ms / 1000.0, j.reason);
			if (move(c, &r, sl_ro_weight(&r))) {
				r.step--;
				break;
			}
			set_reason(&r, why);
			r.updated_ms = now;
			decide(c, &r, SL_RA_ADVANCE, &j, why);
			/* the new step's window starts now, not at the next tick */
			w->step = r.step;
			w->base[0] = cur[0];
			w->base[1] = cur[1];
			w->have_last = false;
			w->last_ms = now;
			if (!sl_ro_put(c->m, slot, &r) && before + 1 == r.seq)
				w->seq = r.seq;
			return;
		}
		if (r.deadline_ms && now - r.step_started_ms >= r.deadline_ms) {
			snprintf(why, sizeof(why), "step %u (%u%%) deadline of %.0f s reached: %s",
				 r.step + 1, sl_ro_weight(&r), r.deadline_ms / 1000.0, j.reason);
			if (r.flags & SL_RO_DEADLINE_ABORT)
				end(c, &r, SL_RO_ABORTED, SL_RA_ABORT, &j, why, now);
			else
				end(c, &r, SL_RO_PAUSED, SL_RA_PAUSE, &j, why, now);
			break;
		}
		/* a hold is said when it changes kind, not every second */
		if (!w->have_last || w->last_verdict != j.verdict) {
			r.updated_ms = now;
			decide(c, &r, SL_RA_HOLD, &j, j.reason);
		}
		break;
	}
	w->last_verdict = j.verdict;
	w->have_last = true;
	w->last_ms = now;
	if (sl_ro_put(c->m, slot, &r))
		return;
	/* our own write: the window goes on (a step change reopens it) */
	if (before + 1 == r.seq)
		w->seq = r.seq;
}

bool sl_ro_ctl_busy(const struct sl_ro_ctl *c)
{
	struct sl_rollout r;
	uint32_t i;

	if (!c || c->m->rollout < 0)
		return false;
	if (c->n_blocks)
		return true; /* finished ones of a block keep their weights */
	for (i = 0; i < SL_MAX_ROLLOUTS; i++)
		if (!sl_ro_get(c->m, i, &r) && sl_ro_active(&r))
			return true;
	return false;
}

/* Start the plan of block spec (digest d) in slot. */
static void start_block(struct sl_ro_ctl *c, const struct sl_service_cfg *svc, uint64_t d,
			uint32_t slot, bool restart)
{
	char why[2 * SL_ROLLOUT_REASON], steps[96];
	struct sl_rollout r = *svc->rollout;
	uint64_t now = sl_ro_now_ms(), seq;

	if (!sl_ro_get(c->m, slot, &r) && !strcmp(r.service, svc->name))
		seq = r.seq; /* the slot's own history goes on */
	else
		seq = 0;
	r = *svc->rollout;
	r.seq = seq;
	r.spec_digest = d;
	r.phase = SL_RO_RUNNING;
	r.step = 0;
	r.started_ms = r.step_started_ms = r.updated_ms = now;
	snprintf(why, sizeof(why),
		 "%s by the rollout block at %s:%d: %s -> %s in steps %s, dwell %.1f s%s",
		 restart ? "restarted (its plan changed)" : "started",
		 svc->pos.file ? svc->pos.file : "?", svc->pos.line, r.from, r.to,
		 sl_ro_steps_str(&r, steps, sizeof(steps)), r.dwell_ms / 1000.0,
		 (r.flags & SL_RO_DRY_RUN) ? ", dry run" : "");
	set_reason(&r, why);
	if (move(c, &r, sl_ro_weight(&r)))
		return;
	if (sl_ro_put(c->m, slot, &r))
		return;
	decide(c, &r, SL_RA_START, NULL, why);
}

/* The route `weights` and `status` mean: the last one that matches on nothing. */
static struct sl_route_cfg *default_route(struct sl_service_cfg *svc)
{
	size_t i;

	for (i = svc->n_routes; i-- > 0;) {
		struct sl_route_cfg *rt = &svc->routes[i];

		if (!rt->has_cidrs && !rt->has_labels && !rt->match_port && !rt->has_dst_cidrs &&
		    !rt->needs_l7)
			return rt;
	}
	return NULL;
}

void sl_ro_ctl_overlay(const struct sl_ro_ctl *c, struct sl_config *cfg)
{
	if (c)
		sl_ro_overlay(c->m, cfg);
}

void sl_ro_overlay(const struct sl_maps *m, struct sl_config *cfg)
{
	struct sl_rollout r;
	uint32_t slot;
	size_t i, j;

	if (m->rollout < 0)
		return;
	for (slot = 0; slot < SL_MAX_ROLLOUTS; slot++) {
		struct sl_service_cfg *svc = NULL;
		struct sl_route_cfg *rt;
		int from = -1, to = -1;

		if (sl_ro_get(m, slot, &r) || r.phase == SL_RO_FREE || (r.flags & SL_RO_DRY_RUN))
			continue;
		for (i = 0; i < cfg->n_services && !svc; i++)
			if (!strcmp(cfg->services[i].name, r.service))
				svc = &cfg->services[i];
		if (!svc)
			continue;
		if (!sl_ro_active(&r) && !(svc->rollout && (r.flags & SL_RO_FROM_CONFIG) &&
					   sl_ro_spec_digest(svc->rollout) == r.spec_digest))
			continue;
		for (j = 0; j < svc->n_subsets; j++) {
			if (!strcmp(svc->subsets[j].name, r.from))
				from = (int)j;
			if (!strcmp(svc->subsets[j].name, r.to))
				to = (int)j;
		}
		rt = default_route(svc);
		if (!rt || from < 0 || to < 0)
			continue;
		memset(rt->weight, 0, sizeof(rt->weight));
		rt->weight[from] = 100 - sl_ro_weight(&r);
		rt->weight[to] = sl_ro_weight(&r);
	}
}

void sl_ro_ctl_config(struct sl_ro_ctl *c, const struct sl_config *cfg)
{
	struct block *blocks = NULL;
	struct sl_rollout r;
	size_t i, n = 0;
	uint32_t slot;
	int err;

	if (!c || c->m->rollout < 0)
		return;
	for (i = 0; i < cfg->n_services; i++)
		n += cfg->services[i].rollout != NULL;
	if (n && !(blocks = calloc(n, sizeof(*blocks))))
		return;
	n = 0;
	for (i = 0; i < cfg->n_services; i++) {
		const struct sl_service_cfg *svc = &cfg->services[i];
		uint64_t d;

		if (!svc->rollout)
			continue;
		d = sl_ro_spec_digest(svc->rollout);
		snprintf(blocks[n].service, sizeof(blocks[n].service), "%s", svc->name);
		blocks[n++].digest = d;
		err = sl_ro_find(c->m, svc->name, &r, &slot);
		if (!err && (r.flags & SL_RO_FROM_CONFIG) && r.spec_digest == d)
			continue; /* this plan ran, or runs: a restart or an unrelated change */
		if (!err && sl_ro_active(&r) && !(r.flags & SL_RO_FROM_CONFIG)) {
			pr_warn("rollout %s: one started by hand is in progress; the rollout block "
				"waits for it to end\n",
				svc->name);
			blocks[n - 1].digest = 0;
			continue;
		}
		if (err && sl_ro_alloc(c->m, svc->name, &slot)) {
			pr_warn("rollout %s: no room for another rollout (%d at most)\n", svc->name,
				SL_MAX_ROLLOUTS);
			continue;
		}
		start_block(c, svc, d, slot, !err && sl_ro_active(&r));
	}
	free(c->blocks);
	c->blocks = blocks;
	c->n_blocks = n;
}

void sl_ro_ctl_tick(struct sl_ro_ctl *c)
{
	struct sl_status st;
	uint32_t i;

	if (!c || c->m->rollout < 0 || sl_tables_read_status(c->m, &st))
		return;
	for (i = 0; i < SL_MAX_ROLLOUTS; i++)
		one(c, i, &st, sl_ro_now_ms());
	sl_status_free(&st);
}
