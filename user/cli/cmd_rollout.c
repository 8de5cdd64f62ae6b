// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice rollout: start a progressive rollout that `sluice run` then judges
 * and moves once a second (rollout/controller.h), and drive it by hand:
 *
 *   sluice rollout                          every rollout, one line each
 *   sluice rollout SERVICE --to V2 [...]    start (the first step at once)
 *   sluice rollout SERVICE status|pause|resume|abort|promote
 *   sluice rollout SERVICE abort --reset    ...and reset the canary's connections
 *   sluice rollout SERVICE wait [--timeout DURATION]
 *
 * abort and promote write the weights themselves, in one atomic step (the
 * same write as `sluice weights`): they take effect when the command
 * returns, not at run's next tick. Exit codes of status and wait (README):
 * 0 promoted, 3 running, 4 paused, 5 aborted.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "datapath/counters.h"
#include "datapath/maps.h"
#include "rollout/controller.h"
#include "rollout/report.h"
#include "rollout/spec.h"
#include "rollout/store.h"

enum {
	SL_EXIT_RO_RUNNING = 3,
	SL_EXIT_RO_PAUSED = 4,
	SL_EXIT_RO_ABORTED = 5,
};

static int usage(void)
{
	sl_error("usage: sluice rollout [SERVICE {--to SUBSET [--from SUBSET] "
		 "[--steps P,P,...|--step-weight P [--max-weight P]] [--dwell DURATION] "
		 "[--min-requests N] [--max-5xx-ratio R] [--max-reset-ratio R] [--max-p99-ms MS] "
		 "[--failure-limit N] [--step-deadline DURATION] [--on-deadline pause|abort] "
		 "[--abort-reset] [--dry-run] | status | pause | resume | abort [--reset] | promote | "
		 "wait [--timeout DURATION]}]");
	return SL_EXIT_INVALID;
}

static int phase_exit(uint32_t phase)
{
	switch (phase) {
	case SL_RO_PROMOTED:
		return SL_EXIT_OK;
	case SL_RO_RUNNING:
		return SL_EXIT_RO_RUNNING;
	case SL_RO_PAUSED:
		return SL_EXIT_RO_PAUSED;
	default:
		return SL_EXIT_RO_ABORTED;
	}
}

static int u32_arg(const char *opt, const char *arg, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || !*arg || *arg == '-' || v < min || v > max) {
		sl_error("%s '%s': a whole number from %u to %u", opt, arg, min, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static void print_one(const struct sl_rollout *r, bool events, const struct sl_maps *m)
{
	struct sl_rollout_event *ev = NULL;
	char steps[96];
	size_t n = 0, i;

	printf("%s: %s %s -> %s, %s=%u%% (step %u of %u: %s)%s\n", r->service,
	       sl_ro_phase_name(r->phase), r->from, r->to, r->to, sl_ro_weight(r), r->step + 1,
	       r->n_steps, sl_ro_steps_str(r, steps, sizeof(steps)),
	       (r->flags & SL_RO_DRY_RUN) ? " [dry run]" : "");
	printf("  %s\n", r->reason);
	if (!events || sl_ro_events(m, r->service, 20, &ev, &n))
		return;
	for (i = 0; i < n; i++) {
		time_t t = (time_t)(ev[i].time_ms / 1000);
		struct tm tm;
		char ts[16];

		localtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
		printf("  %s.%03u %-12s %3u%%  %s\n", ts, (unsigned)(ev[i].time_ms % 1000),
		       sl_ro_action_name(ev[i].action), ev[i].weight, ev[i].reason);
	}
	free(ev);
}

static int show(const struct sl_maps *m, const char *service)
{
	struct sl_rollout_event *ev;
	struct sl_rollout r;
	uint32_t slot, i;
	size_t n;

	if (!service) {
		if (cli.json) {
			sl_json_print(sl_ro_all_json(m, SL_ROLLOUT_LOG_LEN));
			return SL_EXIT_OK;
		}
		for (i = 0; i < SL_MAX_ROLLOUTS; i++)
			if (!sl_ro_get(m, i, &r) && r.phase != SL_RO_FREE)
				print_one(&r, false, m);
		return SL_EXIT_OK;
	}
	if (sl_ro_find(m, service, &r, &slot)) {
		sl_error("no rollout of '%s'", service);
		return SL_EXIT_INVALID;
	}
	if (cli.json) {
		if (sl_ro_events(m, service, SL_ROLLOUT_LOG_LEN, &ev, &n))
			n = 0;
		sl_json_print(sl_ro_json(&r, ev, n));
		free(ev);
	} else {
		print_one(&r, true, m);
	}
	return phase_exit(r.phase);
}

/* The one other subset with weight in the default route: the baseline. */
static int pick_from(const struct sl_status_service *ss, const char *to, char *from)
{
	size_t i, n = 0;

	for (i = 0; i < ss->n_subsets; i++)
		if (strcmp(ss->subsets[i].name, to) && ss->subsets[i].weight) {
			snprintf(from, SL_SUBSET_NAME_LEN, "%s", ss->subsets[i].name);
			n++;
		}
	return n == 1 ? 0 : -EINVAL;
}

static int start(const struct sl_maps *m, struct sl_rollout *r)
{
	const struct sl_status_service *ss;
	struct sl_status st;
	struct sl_diag diag;
	uint32_t slot;
	int err, lock, ret = SL_EXIT_INVALID;
	char why[SL_ROLLOUT_REASON], steps[96];

	lock = sl_lock(cli.pin_dir);
	if (lock < 0) {
		sl_error("cannot lock %s: %s", cli.pin_dir, strerror(-lock));
		return SL_EXIT_SYSTEM;
	}
	err = sl_tables_read_status(m, &st);
	if (err) {
		sl_unlock(lock);
		sl_error("cannot read the maps: %s", strerror(-err));
		return SL_EXIT_SYSTEM;
	}
	ss = sl_status_find(&st, r->service);
	if (!ss) {
		sl_error("no service '%s' in the running configuration", r->service);
		goto out;
	}
	if (!r->from[0] && pick_from(ss, r->to, r->from)) {
		sl_error("--from: '%s' has no single other subset with weight; name the baseline",
			 r->service);
		goto out;
	}
	for (err = 0; err < 2; err++) {
		const char *name = err ? r->to : r->from;
		size_t i;

		for (i = 0; i < ss->n_subsets && strcmp(ss->subsets[i].name, name); i++)
			;
		if (i == ss->n_subsets) {
			sl_error("%s '%s': service '%s' has no such subset",
				 err ? "--to" : "--from", name, r->service);
			goto out;
		}
	}
	if (!strcmp(r->from, r->to)) {
		sl_error("--to '%s' is the baseline itself", r->to);
		goto out;
	}
	err = sl_ro_alloc(m, r->service, &slot);
	if (err == -EBUSY) {
		sl_error("'%s' has a rollout in progress: abort or promote it first", r->service);
		goto out;
	}
	if (err) {
		sl_error("no room for another rollout (%d at most in progress): %s",
			 SL_MAX_ROLLOUTS, strerror(-err));
		ret = SL_EXIT_SYSTEM;
		goto out;
	}
	{
		struct sl_rollout old;

		/* the slot's seq goes on: a reader never sees it go back */
		if (!sl_ro_get(m, slot, &old))
			r->seq = old.seq;
	}
	r->phase = SL_RO_RUNNING;
	r->started_ms = r->step_started_ms = r->updated_ms = sl_ro_now_ms();
	snprintf(why, sizeof(why), "started: %s -> %s in steps %s, dwell %.1f s%s", r->from, r->to,
		 sl_ro_steps_str(r, steps, sizeof(steps)), r->dwell_ms / 1000.0,
		 (r->flags & SL_RO_DRY_RUN) ? ", dry run" : "");
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	if (!(r->flags & SL_RO_DRY_RUN)) {
		sl_diag_init(&diag);
		err = sl_ro_set_weights(m, r, sl_ro_weight(r), &diag);
		if (err) {
			sl_diag_print(&diag);
			sl_diag_free(&diag);
			sl_error("setting the first step's weights failed: %s", strerror(-err));
			ret = SL_EXIT_SYSTEM;
			goto out;
		}
		sl_diag_free(&diag);
	}
	err = sl_ro_put(m, slot, r);
	if (err) {
		sl_error("cannot write the rollout: %s", strerror(-err));
		ret = SL_EXIT_SYSTEM;
		goto out;
	}
	sl_ro_log(m, r, SL_RA_START, sl_ro_weight(r), 0, 0, why);
	if (cli.json)
		sl_json_print(sl_ro_json(r, NULL, 0));
	else
		printf("%s: %s\n", r->service, why);
	ret = SL_EXIT_OK;
out:
	sl_status_free(&st);
	sl_unlock(lock);
	return ret;
}

/* pause, resume, abort, promote: one write of the state (and weights), under the lock. */
static int act(const struct sl_maps *m, const char *service, const char *verb, bool reset)
{
	struct sl_diag diag;
	struct sl_rollout r;
	uint64_t n_reset = 0;
	uint32_t slot, action, phase;
	int err, lock, ret = SL_EXIT_INVALID;
	char why[SL_ROLLOUT_REASON];

	if (!strcmp(verb, "pause"))
		action = SL_RA_PAUSE, phase = SL_RO_PAUSED;
	else if (!strcmp(verb, "resume"))
		action = SL_RA_RESUME, phase = SL_RO_RUNNING;
	else if (!strcmp(verb, "abort"))
		action = SL_RA_ABORT, phase = SL_RO_ABORTED;
	else
		action = SL_RA_PROMOTE, phase = SL_RO_PROMOTED;
	lock = sl_lock(cli.pin_dir);
	if (lock < 0) {
		sl_error("cannot lock %s: %s", cli.pin_dir, strerror(-lock));
		return SL_EXIT_SYSTEM;
	}
	if (sl_ro_find(m, service, &r, &slot)) {
		sl_error("no rollout of '%s'", service);
		goto out;
	}
	if (!sl_ro_active(&r)) {
		sl_error("the rollout of '%s' is over (%s)", service, sl_ro_phase_name(r.phase));
		goto out;
	}
	if ((action == SL_RA_PAUSE && r.phase == SL_RO_PAUSED) ||
	    (action == SL_RA_RESUME && r.phase == SL_RO_RUNNING)) {
		sl_error("the rollout of '%s' is %s already", service, sl_ro_phase_name(r.phase));
		goto out;
	}
	r.phase = phase;
	if (action == SL_RA_RESUME) {
		/* a new chance: the deadline and the failed checks start over */
		r.step_started_ms = sl_ro_now_ms();
		r.failures = 0;
	}
	if ((action == SL_RA_ABORT || action == SL_RA_PROMOTE) && !(r.flags & SL_RO_DRY_RUN)) {
		sl_diag_init(&diag);
		err = sl_ro_set_weights(m, &r, sl_ro_weight(&r), &diag);
		if (err) {
			sl_diag_print(&diag);
			sl_diag_free(&diag);
			sl_error("setting weights failed: %s; the rollout is unchanged",
				 strerror(-err));
			ret = SL_EXIT_SYSTEM;
			goto out;
		}
		sl_diag_free(&diag);
	}
	if (action == SL_RA_ABORT && reset)
		r.flags |= SL_RO_ABORT_RESET;
	/* after the weights: no new connection to the canary escapes the mark */
	if (sl_ro_abort_resets(&r)) {
		err = sl_ro_reset_conns(m, &r, &n_reset);
		if (err)
			sl_error("aborted, but cannot reset %s's connections: %s", r.to,
				 strerror(-err));
	}
	snprintf(why, sizeof(why), "%s by hand",
		 action == SL_RA_PAUSE	  ? "paused"
		 : action == SL_RA_RESUME ? "resumed"
		 : action == SL_RA_ABORT  ? "aborted"
					  : "promoted");
	snprintf(r.reason, sizeof(r.reason), "%s", why);
	r.updated_ms = sl_ro_now_ms();
	err = sl_ro_put(m, slot, &r);
	if (err) {
		sl_error("cannot write the rollout: %s", strerror(-err));
		ret = SL_EXIT_SYSTEM;
		goto out;
	}
	sl_ro_log(m, &r, action, sl_ro_weight(&r), 0, 0, why);
	if (cli.json)
		sl_json_print(sl_ro_json(&r, NULL, 0));
	else if (r.flags & SL_RO_ABORT_RESET && action == SL_RA_ABORT)
		printf("%s: %s, %s=%u%%, %llu connections to be reset\n", service, why, r.to,
		       sl_ro_weight(&r), (unsigned long long)n_reset);
	else
		printf("%s: %s, %s=%u%%\n", service, why, r.to, sl_ro_weight(&r));
	ret = SL_EXIT_OK;
out:
	sl_unlock(lock);
	return ret;
}

static int wait_end(const struct sl_maps *m, const char *service, uint32_t timeout_ms)
{
	uint64_t end = sl_ro_now_ms() + timeout_ms;
	struct sl_rollout r;
	uint32_t slot;

	for (;;) {
		if (sl_ro_find(m, service, &r, &slot)) {
			sl_error("no rollout of '%s'", service);
			return SL_EXIT_INVALID;
		}
		if (r.phase != SL_RO_RUNNING || (timeout_ms && sl_ro_now_ms() >= end))
			return show(m, service);
		usleep(100000);
	}
}

int cmd_rollout(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"from", required_argument, NULL, 'f'},
	    {"steps", required_argument, NULL, 's'},
	    {"step-weight", required_argument, NULL, 'w'},
	    {"max-weight", required_argument, NULL, 'W'},
	    {"dwell", required_argument, NULL, 'd'},
	    {"min-requests", required_argument, NULL, 'n'},
	    {"max-5xx-ratio", required_argument, NULL, '5'},
	    {"max-reset-ratio", required_argument, NULL, 'r'},
	    {"max-p99-ms", required_argument, NULL, 'p'},
	    {"failure-limit", required_argument, NULL, 'l'},
	    {"step-deadline", required_argument, NULL, 'D'},
	    {"on-deadline", required_argument, NULL, 'o'},
	    {"dry-run", no_argument, NULL, 'y'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"abort-reset", no_argument, NULL, 'A'},
	    {"reset", no_argument, NULL, 'R'},
	    {},
	};
	uint32_t step_w = 0, max_w = 100, p99 = 0, timeout_ms = 0;
	bool have_steps = false, have_deadline = false, reset = false;
	struct sl_maps maps = {};
	const char *service = NULL, *verb = NULL, *why;
	struct sl_rollout r;
	int opt, err, ret;

	sl_ro_spec_default(&r);
	optind = 0; /* re-initialise: main parsed in order (+); SERVICE comes first here */
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			snprintf(r.to, sizeof(r.to), "%s", optarg);
			break;
		case 'f':
			snprintf(r.from, sizeof(r.from), "%s", optarg);
			break;
		case 's':
			if (sl_ro_parse_steps(optarg, &r, &why)) {
				sl_error("--steps '%s': %s", optarg, why);
				return SL_EXIT_INVALID;
			}
			have_steps = true;
			break;
		case 'w':
			if (u32_arg("--step-weight", optarg, 1, 100, &step_w))
				return SL_EXIT_INVALID;
			break;
		case 'W':
			if (u32_arg("--max-weight", optarg, 1, 100, &max_w))
				return SL_EXIT_INVALID;
			break;
		case 'd':
			if (sl_ro_parse_duration(optarg, &r.dwell_ms, &why) || !r.dwell_ms) {
				sl_error("--dwell '%s': %s", optarg,
					 r.dwell_ms ? why : "must not be 0");
				return SL_EXIT_INVALID;
			}
			break;
		case 'n':
			if (u32_arg("--min-requests", optarg, 1, 100000000, &r.min_requests))
				return SL_EXIT_INVALID;
			break;
		case '5':
		case 'r':
			if (sl_ro_parse_ratio(
				optarg, opt == '5' ? &r.max_5xx_ppm : &r.max_reset_ppm, &why)) {
				sl_error("%s '%s': %s",
					 opt == '5' ? "--max-5xx-ratio" : "--max-reset-ratio",
					 optarg, why);
				return SL_EXIT_INVALID;
			}
			break;
		case 'p':
			if (u32_arg("--max-p99-ms", optarg, 1, 3600000, &p99))
				return SL_EXIT_INVALID;
			r.max_p99_us = p99 * 1000;
			break;
		case 'l':
			if (u32_arg("--failure-limit", optarg, 1, 1000, &r.failure_limit))
				return SL_EXIT_INVALID;
			break;
		case 'D':
			if (sl_ro_parse_duration(optarg, &r.deadline_ms, &why)) {
				sl_error("--step-deadline '%s': %s", optarg, why);
				return SL_EXIT_INVALID;
			}
			have_deadline = true;
			break;
		case 'o':
			if (!strcmp(optarg, "abort"))
				r.flags |= SL_RO_DEADLINE_ABORT;
			else if (strcmp(optarg, "pause")) {
				sl_error("--on-deadline '%s': pause or abort", optarg);
				return SL_EXIT_INVALID;
			}
			break;
		case 'y':
			r.flags |= SL_RO_DRY_RUN;
			break;
		case 'A':
			r.flags |= SL_RO_ABORT_RESET;
			break;
		case 'R':
			reset = true;
			break;
		case 'T':
			if (sl_ro_parse_duration(optarg, &timeout_ms, &why)) {
				sl_error("--timeout '%s': %s", optarg, why);
				return SL_EXIT_INVALID;
			}
			break;
		default:
			return usage();
		}
	}
	if (optind < argc)
		service = argv[optind++];
	if (optind < argc)
		verb = argv[optind++];
	if (optind < argc)
		return usage();
	if (verb && strcmp(verb, "status") && strcmp(verb, "pause") && strcmp(verb, "resume") &&
	    strcmp(verb, "abort") && strcmp(verb, "promote") && strcmp(verb, "wait")) {
		sl_error("'%s': status, pause, resume, abort, promote or wait", verb);
		return SL_EXIT_INVALID;
	}
	if (reset && (!verb || strcmp(verb, "abort"))) {
		sl_error("--reset goes with abort (starting: --abort-reset)");
		return SL_EXIT_INVALID;
	}
	if ((r.flags & SL_RO_ABORT_RESET) && !r.to[0]) {
		sl_error("--abort-reset goes with --to (a running rollout: abort --reset)");
		return SL_EXIT_INVALID;
	}
	if (verb && r.to[0]) {
		sl_error("--to starts a rollout: not with '%s'", verb);
		return SL_EXIT_INVALID;
	}
	if (service && !verb && !r.to[0]) {
		sl_error("sluice rollout %s: --to SUBSET starts one; status shows it", service);
		return SL_EXIT_INVALID;
	}
	if (step_w) {
		if (have_steps) {
			sl_error("--steps and --step-weight: one or the other");
			return SL_EXIT_INVALID;
		}
		if (sl_ro_steps_linear(step_w, max_w, &r, &why)) {
			sl_error("--step-weight %u --max-weight %u: %s", step_w, max_w, why);
			return SL_EXIT_INVALID;
		}
	}
	if (!have_deadline)
		r.deadline_ms = SL_RO_DEF_DEADLINE_DWELLS * r.dwell_ms;
	if (service && strlen(service) >= sizeof(r.service)) {
		sl_error("service '%s': name too long", service);
		return SL_EXIT_INVALID;
	}
	if (service)
		snprintf(r.service, sizeof(r.service), "%s", service);

	err = sl_maps_open_pinned(&maps, cli.pin_dir);
	if (err || maps.rollout < 0 || maps.rollout_log < 0) {
		sl_error("sluice is not loaded in %s (%s): start it with `sluice run`", cli.pin_dir,
			 err ? strerror(-err) : "no rollout map: a newer `sluice run` is needed");
		sl_maps_close(&maps);
		return SL_EXIT_SYSTEM;
	}
	if (!service || (verb && !strcmp(verb, "status")))
		ret = show(&maps, service);
	else if (verb && !strcmp(verb, "wait"))
		ret = wait_end(&maps, service, timeout_ms);
	else if (verb)
		ret = act(&maps, service, verb, reset);
	else
		ret = start(&maps, &r);
	sl_maps_close(&maps);
	return ret;
}
