// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rollouts without the kernel: the judging statistics (rollout/judge.h),
 * the plan's text forms (rollout/spec.h), the response-time histogram's
 * arithmetic (datapath/rt.h), and the `rollout:` block with Flagger's
 * analysis block pasted in (config/ours_rollout.c).
 */
#include <math.h>

#include "config_common.h"
#include "datapath/rt.h"
#include "rollout/judge.h"
#include "rollout/spec.h"

/* ---------------------------------------------------------------- judge */

static const struct sl_ro_gates gates = {
    .min_requests = 20, .max_5xx_ppm = 10000, .max_reset_ppm = 10000, .max_p99_us = 100000};

static struct sl_ro_sample reqs(uint64_t n, uint64_t errors)
{
	struct sl_ro_sample s = {.requests = n, .errors = errors, .conns = n};

	return s;
}

static void test_z(void **state)
{
	/* 5 % of 20 against 0 of 180: pooled 0.5 %, z = 0.05 / sqrt(p(1-p)(1/20+1/180)) */
	double p = 1.0 / 200, want = 0.05 / sqrt(p * (1 - p) * (1.0 / 20 + 1.0 / 180));

	assert_true(fabs(sl_ro_z(1, 20, 0, 180) - want) < 1e-9);
	assert_true(fabs(sl_ro_z(1, 20, 0, 180) - 3.0) < 0.01);
	/* the same ratio on both sides: no evidence either way */
	assert_true(fabs(sl_ro_z(5, 100, 50, 1000)) < 1e-9);
	/* nothing to compare with, or no failures at all */
	assert_true(sl_ro_z(3, 10, 0, 0) == 0);
	assert_true(sl_ro_z(0, 10, 0, 100) == 0);
	/* v2 better than v1: negative */
	assert_true(sl_ro_z(0, 100, 10, 100) < -3);
}

static void test_healthy(void **state)
{
	struct sl_ro_sample c = reqs(100, 0), b = reqs(900, 0);
	struct sl_ro_judgement j;

	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_HEALTHY);
	assert_int_equal(j.n, 100);
	assert_non_null(strstr(j.reason, "healthy: v2 100 requests"));
}

static void test_inconclusive(void **state)
{
	struct sl_ro_sample c = reqs(7, 0), b = reqs(900, 0);
	struct sl_ro_judgement j;

	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_INCONCLUSIVE);
	assert_int_equal(j.wanted, 13);
	assert_string_equal(j.reason, "waiting for 13 more requests (7 of 20)");
	/* a 5xx among too few requests is not judged either: never a failure */
	c = reqs(7, 1);
	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_INCONCLUSIVE);
}

static void test_failed_against_baseline(void **state)
{
	struct sl_ro_sample c = reqs(20, 1), b = reqs(180, 0);
	struct sl_ro_judgement j;

	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_FAILED);
	assert_string_equal(j.gate, "5xx");
	assert_int_equal(j.n, 20);
	assert_int_equal(j.errors, 1);
	assert_true(j.z > SL_RO_Z_CRIT);
	assert_non_null(strstr(j.reason, "5xx: v2 5.00% (1/20) over cap 1.00%, v1 0.00% (0/180)"));
}

static void test_over_cap_by_chance(void **state)
{
	/* v2 2 % (2/100) over the 1 % cap, v1 0.8 % (8/1000) under it */
	struct sl_ro_sample c = reqs(100, 2), b = reqs(1000, 8);
	struct sl_ro_judgement j;

	/* ...but v2 is not worse than v1 by the test: not a failure */
	sl_ro_judge(&gates, &c, &b, &j);
	assert_true(sl_ro_z(2, 100, 8, 1000) < SL_RO_Z_CRIT);
	assert_int_equal(j.verdict, SL_RO_HEALTHY);
}

static void test_baseline_degraded(void **state)
{
	struct sl_ro_sample c = reqs(22, 1), b = reqs(170, 9);
	struct sl_ro_judgement j;

	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_BASELINE);
	assert_non_null(
	    strstr(j.reason, "baseline degraded: 5xx v1 5.29% (9/170), v2 4.55% (1/22)"));
	/* v2 much worse than a degraded v1 is still v2's failure */
	c = reqs(100, 40);
	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_FAILED);
}

static void test_gross(void **state)
{
	/* 10 x the 1 % cap over 50+ requests, v1 clean: abort at once */
	struct sl_ro_sample c = reqs(50, 5), b = reqs(450, 0);
	struct sl_ro_judgement j;

	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_GROSS);
	assert_non_null(strstr(j.reason, "gross failure, 5xx"));
	/* the same ratio on 49 requests is a failed check, not gross */
	c = reqs(49, 5);
	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_FAILED);
}

static void test_resets(void **state)
{
	struct sl_ro_sample c = reqs(40, 0), b = reqs(400, 0);
	struct sl_ro_judgement j;

	c.resets = 2;
	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_FAILED);
	assert_string_equal(j.gate, "reset");
	assert_non_null(strstr(j.reason, "resets: v2 5.00% (2/40)"));
	/* resets with few connections: not judged unless gross */
	c = reqs(10, 0);
	c.resets = 1;
	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_INCONCLUSIVE);
}

static void fill_rt(struct sl_ro_sample *s, uint64_t us, uint64_t n)
{
	s->rt.bucket[sl_rt_bucket(us)] += n;
	s->rt.count += n;
	s->rt.sum_us += us * n;
}

static void test_p99(void **state)
{
	struct sl_ro_sample c = reqs(30, 0), b = reqs(300, 0);
	struct sl_ro_judgement j;

	/* +200 ms on every v2 request, v1 at 2 ms: all 30 slower than the 100 ms cap */
	fill_rt(&c, 200000, 30);
	fill_rt(&b, 2000, 300);
	assert_true(fabs(sl_ro_slower_than(&c.rt, 100000) - 30) < 1e-9);
	assert_true(sl_ro_slower_than(&b.rt, 100000) == 0);
	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_FAILED);
	assert_string_equal(j.gate, "p99");
	assert_true(j.ratio > 100);
	assert_non_null(strstr(j.reason, "100.0% of 30 slower than cap 100.0 ms"));
	/* 50 of them: ten times the 1 % share, gross */
	fill_rt(&c, 200000, 20);
	c.requests = 50;
	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_GROSS);
	/* both slow alike: the baseline */
	memset(&b.rt, 0, sizeof(b.rt));
	fill_rt(&b, 200000, 300);
	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_BASELINE);
	assert_non_null(strstr(j.reason, "baseline degraded: p99"));
	/* one outlier among 30 (its p99 is the outlier) against a clean v1: no evidence */
	c = reqs(30, 0);
	fill_rt(&c, 2000, 29);
	fill_rt(&c, 400000, 1);
	memset(&b.rt, 0, sizeof(b.rt));
	fill_rt(&b, 2000, 297);
	fill_rt(&b, 400000, 3);
	assert_true(sl_rt_quantile(&c.rt, 0.99) > 100000);
	sl_ro_judge(&gates, &c, &b, &j);
	assert_int_equal(j.verdict, SL_RO_HEALTHY);
	/* no gate: nothing judged on time */
	{
		struct sl_ro_gates g = gates;

		g.max_p99_us = 0;
		c = reqs(30, 0);
		fill_rt(&c, 200000, 30);
		sl_ro_judge(&g, &c, &b, &j);
		assert_int_equal(j.verdict, SL_RO_HEALTHY);
	}
}

static void test_slower_than(void **state)
{
	struct sl_rt_hist h = {};

	/* bucket 17 is [65536, 131072) us: a 100 ms cap leaves (131072-100000)/65536 of it above */
	h.bucket[17] = 100;
	h.bucket[18] = 10;
	h.bucket[5] = 1000;
	assert_true(fabs(sl_ro_slower_than(&h, 100000) - (10 + 100 * 31072.0 / 65536)) < 1e-9);
	assert_true(fabs(sl_ro_slower_than(&h, 1 << 18) - 0) < 1e-9);
	assert_true(fabs(sl_ro_slower_than(&h, 1) - 1110) < 1e-9);
}

/* ---------------------------------------------------------------- histogram */

static void test_rt_buckets(void **state)
{
	struct sl_rt_hist h = {}, a = {}, d;

	assert_int_equal(sl_rt_bucket(0), 0);
	assert_int_equal(sl_rt_bucket(1), 1);
	assert_int_equal(sl_rt_bucket(2), 2);
	assert_int_equal(sl_rt_bucket(3), 2);
	assert_int_equal(sl_rt_bucket(1023), 10);
	assert_int_equal(sl_rt_bucket(1024), 11);
	assert_int_equal(sl_rt_bucket(UINT64_MAX), SL_RT_BUCKETS - 1);
	assert_int_equal(sl_rt_bucket_le(10), 1024);
	assert_int_equal(sl_rt_bucket_le(SL_RT_BUCKETS - 1), 0);
	assert_true(sl_rt_quantile(&h, 0.5) < 0);
	/* 100 samples in [512, 1024) us: the median is interpolated halfway */
	h.bucket[10] = 100;
	assert_true(fabs(sl_rt_quantile(&h, 0.5) - 768) < 1e-9);
	assert_true(fabs(sl_rt_quantile(&h, 0.99) - (512 + 512 * 0.99)) < 1e-9);
	a.bucket[10] = 40;
	sl_rt_sub(&d, &h, &a);
	assert_int_equal(d.bucket[10], 60);
	/* a counter that went back (a reused row) reads as its new value */
	sl_rt_sub(&d, &a, &h);
	assert_int_equal(d.bucket[10], 40);
}

/* ---------------------------------------------------------------- spec */

static void test_durations_ratios(void **state)
{
	const char *why;
	uint32_t v;

	assert_int_equal(sl_ro_parse_duration("30s", &v, &why), 0);
	assert_int_equal(v, 30000);
	assert_int_equal(sl_ro_parse_duration("1m30s", &v, &why), 0);
	assert_int_equal(v, 90000);
	assert_int_equal(sl_ro_parse_duration("500ms", &v, &why), 0);
	assert_int_equal(v, 500);
	assert_int_equal(sl_ro_parse_duration("2", &v, &why), 0);
	assert_int_equal(v, 2000);
	assert_int_equal(sl_ro_parse_duration("2d", &v, &why), -EINVAL);
	assert_int_equal(sl_ro_parse_duration("s", &v, &why), -EINVAL);
	assert_int_equal(sl_ro_parse_duration("25h", &v, &why), -EINVAL);
	assert_int_equal(sl_ro_parse_ratio("1%", &v, &why), 0);
	assert_int_equal(v, 10000);
	assert_int_equal(sl_ro_parse_ratio("0.005", &v, &why), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(sl_ro_parse_ratio("101%", &v, &why), -EINVAL);
	assert_int_equal(sl_ro_parse_ratio("1%%", &v, &why), -EINVAL);
}

static void test_steps(void **state)
{
	struct sl_rollout r = {};
	const char *why;
	char buf[96];

	assert_int_equal(sl_ro_parse_steps("5,10,25,50,100", &r, &why), 0);
	assert_string_equal(sl_ro_steps_str(&r, buf, sizeof(buf)), "5,10,25,50,100");
	/* stopping short of 100: the promotion is a step of its own */
	assert_int_equal(sl_ro_parse_steps("10,50", &r, &why), 0);
	assert_string_equal(sl_ro_steps_str(&r, buf, sizeof(buf)), "10,50,100");
	assert_int_equal(sl_ro_parse_steps("10,5", &r, &why), -EINVAL);
	assert_int_equal(sl_ro_parse_steps("0,5", &r, &why), -EINVAL);
	assert_int_equal(sl_ro_parse_steps("10,,20", &r, &why), -EINVAL);
	/* Flagger's stepWeight 10, maxWeight 50 */
	assert_int_equal(sl_ro_steps_linear(10, 50, &r, &why), 0);
	assert_string_equal(sl_ro_steps_str(&r, buf, sizeof(buf)), "10,20,30,40,50,100");
	/* ...and its example of a max that is no multiple of the step */
	assert_int_equal(sl_ro_steps_linear(20, 50, &r, &why), 0);
	assert_string_equal(sl_ro_steps_str(&r, buf, sizeof(buf)), "20,40,100");
	assert_int_equal(sl_ro_steps_linear(1, 100, &r, &why), -EINVAL); /* 100 steps */
}

/* ---------------------------------------------------------------- the YAML block */

#define SVC                                                                                        \
	"services:\n"                                                                              \
	"- name: a\n"                                                                              \
	"  vips: [10.0.0.1]\n"                                                                     \
	"  ports: [{port: 80}]\n"                                                                  \
	"  subsets: {v1: {endpoints: [10.0.1.1]}, v2: {endpoints: [10.0.2.1]}}\n"                  \
	"  routes:\n"                                                                              \
	"  - split: {v1: 100}\n"                                                                   \
	"  rollout:\n"                                                                             \
	"    to: v2\n"

/* Flagger's documented analysis block, as its users paste it (line 10 on). */
#define FLAGGER_ANALYSIS                                                                           \
	"    analysis:\n"                                                                          \
	"      # schedule interval (default 60s)\n"                                                \
	"      interval: 1m\n"                                                                     \
	"      # max number of failed metric checks before rollback\n"                             \
	"      threshold: 5\n"                                                                     \
	"      # max traffic percentage routed to canary\n"                                        \
	"      # percentage (0-100)\n"                                                             \
	"      maxWeight: 50\n"                                                                    \
	"      # canary increment step\n"                                                          \
	"      # percentage (0-100)\n"                                                             \
	"      stepWeight: 10\n"                                                                   \
	"      metrics:\n"                                                                         \
	"      - name: request-success-rate\n"                                                     \
	"        # minimum req success rate (non 5xx responses)\n"                                 \
	"        # percentage (0-100)\n"                                                           \
	"        thresholdRange:\n"                                                                \
	"          min: 99\n"                                                                      \
	"        interval: 1m\n"                                                                   \
	"      - name: request-duration\n"                                                         \
	"        # maximum req duration P99\n"                                                     \
	"        # milliseconds\n"                                                                 \
	"        thresholdRange:\n"                                                                \
	"          max: 500\n"                                                                     \
	"        interval: 30s\n"

static const struct sl_rollout *load_rollout(const char *yaml, struct sl_config **cfg,
					     struct sl_diag *d)
{
	int err = load(yaml, cfg, d);

	if (err)
		dump_diag(d);
	assert_int_equal(err, 0);
	assert_int_equal(d->n_errors, 0);
	assert_int_equal((*cfg)->n_services, 1);
	assert_non_null((*cfg)->services[0].rollout);
	return (*cfg)->services[0].rollout;
}

static void test_flagger_block(void **state)
{
	const struct sl_rollout *r;
	struct sl_config *cfg;
	struct sl_diag d;
	char buf[96];

	r = load_rollout(SVC FLAGGER_ANALYSIS, &cfg, &d);
	assert_int_equal(d.n_warnings, 0);
	assert_string_equal(r->service, "a");
	assert_string_equal(r->from, "v1"); /* the one other subset of the split */
	assert_string_equal(r->to, "v2");
	assert_string_equal(sl_ro_steps_str(r, buf, sizeof(buf)), "10,20,30,40,50,100");
	assert_int_equal(r->dwell_ms, 60000);	 /* interval: a step per healthy interval */
	assert_int_equal(r->failure_limit, 5);	 /* threshold */
	assert_int_equal(r->max_5xx_ppm, 10000); /* 99 % success: 1 % 5xx */
	assert_int_equal(r->max_p99_us, 500000); /* P99 500 ms */
	assert_int_equal(r->max_reset_ppm, SL_RO_DEF_RESET_PPM);
	assert_int_equal(r->min_requests, SL_RO_DEF_MIN_REQUESTS);
	assert_true(r->flags & SL_RO_FROM_CONFIG);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_flagger_equals_cli(void **state)
{
	struct sl_rollout cli_plan;
	const struct sl_rollout *r;
	struct sl_config *cfg;
	struct sl_diag d;
	const char *why;

	/* `--step-weight 10 --max-weight 50 --dwell 1m --failure-limit 5
	 * --max-5xx-ratio 1% --max-p99-ms 500`: the same plan, field by field */
	sl_ro_spec_default(&cli_plan);
	assert_int_equal(sl_ro_steps_linear(10, 50, &cli_plan, &why), 0);
	assert_int_equal(sl_ro_parse_duration("1m", &cli_plan.dwell_ms, &why), 0);
	cli_plan.failure_limit = 5;
	assert_int_equal(sl_ro_parse_ratio("1%", &cli_plan.max_5xx_ppm, &why), 0);
	cli_plan.max_p99_us = 500 * 1000;
	r = load_rollout(SVC FLAGGER_ANALYSIS, &cfg, &d);
	assert_memory_equal(r->steps, cli_plan.steps, sizeof(r->steps));
	assert_int_equal(r->n_steps, cli_plan.n_steps);
	assert_int_equal(r->dwell_ms, cli_plan.dwell_ms);
	assert_int_equal(r->failure_limit, cli_plan.failure_limit);
	assert_int_equal(r->max_5xx_ppm, cli_plan.max_5xx_ppm);
	assert_int_equal(r->max_p99_us, cli_plan.max_p99_us);
	assert_int_equal(r->min_requests, cli_plan.min_requests);
	assert_int_equal(r->max_reset_ppm, cli_plan.max_reset_ppm);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_flagger_only_fields(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	load_rollout(SVC "    targetRef:\n"
			 "      apiVersion: apps/v1\n"
			 "      kind: Deployment\n"
			 "      name: podinfo\n" FLAGGER_ANALYSIS "      webhooks:\n"
			 "      - name: load-test\n"
			 "        url: http://flagger-loadtester.test/\n"
			 "      - name: \"404s percentage\"\n"
			 "        templateRef:\n"
			 "          name: not-found-percentage\n",
		     &cfg, &d);
	assert_int_equal(d.n_warnings, 2);
	assert_true(has_msg(&d,
			    "t.yaml:10:5: warning: 'targetRef' in the rollout of service 'a' "
			    "needs Flagger's machinery: left out (sluice judges from the kernel's "
			    "counters alone)"));
	assert_true(
	    has_msg(&d, "t.yaml:38:7: warning: 'webhooks' in 'analysis' needs Flagger's "
			"machinery: left out (sluice judges from the kernel's counters alone)"));
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* a custom metric (templateRef) in metrics: warned where it is named */
	load_rollout(SVC "    analysis:\n"
			 "      metrics:\n"
			 "      - name: \"404s percentage\"\n"
			 "        templateRef: {name: not-found-percentage}\n"
			 "        thresholdRange: {max: 5}\n",
		     &cfg, &d);
	assert_true(has_msg(&d,
			    "t.yaml:12:15: warning: metric '404s percentage' is not one of "
			    "Flagger's built-in ones (request-success-rate, request-duration): it "
			    "needs Flagger's machinery, left out"));
	/* metrics named: the gates not named are off */
	assert_int_equal(cfg->services[0].rollout->max_5xx_ppm, 0);
	assert_int_equal(cfg->services[0].rollout->max_p99_us, 0);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_own_keys_win(void **state)
{
	const struct sl_rollout *r;
	struct sl_config *cfg;
	struct sl_diag d;
	char buf[96];

	r = load_rollout(SVC "    steps: [5, 25]\n"
			     "    dwell: 10s\n"
			     "    max5xxRatio: 0.5%\n"
			     "    onDeadline: abort\n" FLAGGER_ANALYSIS,
			 &cfg, &d);
	assert_string_equal(sl_ro_steps_str(r, buf, sizeof(buf)), "5,25,100");
	assert_int_equal(r->dwell_ms, 10000);
	assert_int_equal(r->deadline_ms, SL_RO_DEF_DEADLINE_DWELLS * 10000);
	assert_int_equal(r->max_5xx_ppm, 5000);
	assert_int_equal(r->failure_limit, 5); /* from the analysis block */
	assert_true(r->flags & SL_RO_DEADLINE_ABORT);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_block_errors(void **state)
{
	static const struct {
		const char *yaml, *msg;
	} cases[] = {
	    {SVC "    analysis: {stepWeight: 0}\n",
	     "t.yaml:10:28: error: stepWeight must be a whole number from 1 to 100, not '0'"},
	    {SVC "    dwell: soon\n", "t.yaml:10:12: error: dwell 'soon': a duration is a number "
				      "and a unit: 500ms, 30s, 1m, 1h"},
	    {SVC "    steps: [50, 10]\n", "t.yaml:10:12: error: steps: steps must rise"},
	    {SVC "    from: v3\n",
	     "t.yaml:10:11: error: service 'a' has no subset 'v3' for its rollout"},
	    {SVC "    tempo: 3\n",
	     "t.yaml:10:5: error: unknown key 'tempo' in the rollout of service 'a'"},
	    {SVC "    analysis:\n      metrics:\n      - name: request-success-rate\n",
	     "t.yaml:12:9: error: metric 'request-success-rate' is missing 'thresholdRange'"},
	    {SVC "    analysis:\n      metrics:\n      - name: request-success-rate\n"
		 "        thresholdRange: {min: 120}\n",
	     "t.yaml:13:31: error: thresholdRange.min of request-success-rate must be a number "
	     "from "
	     "0 to 100, not '120'"},
	};
	struct sl_config *cfg;
	struct sl_diag d;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(load(cases[i].yaml, &cfg, &d), -EINVAL);
		assert_true(has_msg(&d, cases[i].msg));
		sl_config_free(cfg);
		sl_diag_free(&d);
	}
	/* no 'to' */
	assert_int_equal(load("services:\n- name: a\n  vips: [10.0.0.1]\n  ports: [{port: 80}]\n"
			      "  subsets: {v1: {endpoints: [10.0.1.1]}}\n  routes:\n"
			      "  - split: {v1: 100}\n  rollout: {dwell: 1s}\n",
			      &cfg, &d),
			 -EINVAL);
	assert_true(has_msg(&d, "t.yaml:8:12: error: the rollout of service 'a' is missing 'to' "
				"(the canary subset)"));
	sl_config_free(cfg);
	sl_diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_z),
	    cmocka_unit_test(test_healthy),
	    cmocka_unit_test(test_inconclusive),
	    cmocka_unit_test(test_failed_against_baseline),
	    cmocka_unit_test(test_over_cap_by_chance),
	    cmocka_unit_test(test_baseline_degraded),
	    cmocka_unit_test(test_gross),
	    cmocka_unit_test(test_resets),
	    cmocka_unit_test(test_p99),
	    cmocka_unit_test(test_slower_than),
	    cmocka_unit_test(test_rt_buckets),
	    cmocka_unit_test(test_durations_ratios),
	    cmocka_unit_test(test_steps),
	    cmocka_unit_test(test_flagger_block),
	    cmocka_unit_test(test_flagger_equals_cli),
	    cmocka_unit_test(test_flagger_only_fields),
	    cmocka_unit_test(test_own_keys_win),
	    cmocka_unit_test(test_block_errors),
	};

	sl_log_set_level(SL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
