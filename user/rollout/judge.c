// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Judging a canary window against its baseline (judge.h). Pure: no I/O. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "datapath/rt.h"
#include "rollout/judge.h"

static double z_of(double x1, double n1, double x0, double n0)
{
	double p1, p0, p, se;

	if (n1 <= 0 || n0 <= 0)
		return 0;
	p1 = x1 / n1;
	p0 = x0 / n0;
	p = (x1 + x0) / (n1 + n0);
	if (p <= 0 || p >= 1)
		return 0;
	se = sqrt(p * (1 - p) * (1 / n1 + 1 / n0));
	return (p1 - p0) / se;
}

double sl_ro_z(uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0)
{
	return z_of((double)x1, (double)n1, (double)x0, (double)n0);
}

const char *sl_ro_verdict_name(enum sl_ro_verdict v)
{
	switch (v) {
	case SL_RO_HEALTHY:
		return "healthy";
	case SL_RO_INCONCLUSIVE:
		return "inconclusive";
	case SL_RO_FAILED:
		return "failed";
	case SL_RO_GROSS:
		return "gross-failure";
	case SL_RO_BASELINE:
		return "baseline-degraded";
	}
	return "?";
}

/*
 * The verdict of one proportion gate: x1 of n1 for v2, x0 of n0 for v1,
 * against cap (a ratio); *z gets the test's value.
 */
static enum sl_ro_verdict prop_verdict(double x1, double n1, double x0, double n0, double cap,
				       double *z)
{
	double r1 = n1 > 0 ? x1 / n1 : 0, r0 = n0 > 0 ? x0 / n0 : 0;

	*z = z_of(x1, n1, x0, n0);
	if (n1 <= 0 || r1 <= cap)
		return SL_RO_HEALTHY;
	if (r0 > cap && *z < SL_RO_Z_CRIT)
		return SL_RO_BASELINE; /* both over the cap, v2 no worse than v1 */
	if (n0 > 0 && *z < SL_RO_Z_CRIT)
		return SL_RO_HEALTHY; /* over the cap by chance, as far as v1 tells */
	if (n1 >= SL_RO_GROSS_MIN && r1 >= SL_RO_GROSS_FACTOR * cap && r0 <= cap)
		return SL_RO_GROSS;
	return SL_RO_FAILED;
}

/*
 * One ratio gate (5xx per request, resets per connection), cap in ppm.
 * Returns its verdict and fills j when it is not healthy.
 */
static enum sl_ro_verdict ratio_gate(const char *gate, const char *what, uint64_t x1, uint64_t n1,
				     uint64_t x0, uint64_t n0, uint32_t cap_ppm,
				     struct sl_ro_judgement *j)
{
	double cap = cap_ppm / 1e6, r1, r0, z;
	enum sl_ro_verdict v;

	if (!cap_ppm)
		return SL_RO_HEALTHY;
	v = prop_verdict((double)x1, (double)n1, (double)x0, (double)n0, cap, &z);
	if (v == SL_RO_HEALTHY)
		return v;
	r1 = (double)x1 / (double)n1;
	r0 = n0 ? (double)x0 / (double)n0 : 0;
	j->gate = gate;
	j->ratio = r1;
	j->base_ratio = r0;
	j->z = z;
	j->n = n1;
	j->errors = x1;
	if (v == SL_RO_BASELINE)
		snprintf(j->reason, sizeof(j->reason),
			 "baseline degraded: %s v1 %.2f%% (%llu/%llu), v2 %.2f%% (%llu/%llu), "
			 "cap %.2f%%, z=%.2f",
			 what, 100 * r0, (unsigned long long)x0, (unsigned long long)n0, 100 * r1,
			 (unsigned long long)x1, (unsigned long long)n1, 100 * cap, z);
	else
		snprintf(
		    j->reason, sizeof(j->reason),
		    "%s%s: v2 %.2f%% (%llu/%llu) over cap %.2f%%, v1 %.2f%% (%llu/%llu), z=%.2f",
		    v == SL_RO_GROSS ? "gross failure, " : "", what, 100 * r1,
		    (unsigned long long)x1, (unsigned long long)n1, 100 * cap, 100 * r0,
		    (unsigned long long)x0, (unsigned long long)n0, z);
	return v;
}

double sl_ro_slower_than(const struct sl_rt_hist *h, double cap_us)
{
	double slow = 0, lo, hi;
	int b;

	for (b = 0; b < SL_RT_BUCKETS; b++) {
		if (!h->bucket[b])
			continue;
		lo = b ? (double)(1ULL << (b - 1)) : 0;
		hi = b + 1 < SL_RT_BUCKETS ? (double)(1ULL << b) : 0;
		if (lo >= cap_us)
			slow += (double)h->bucket[b];
		else if (hi > cap_us) /* the bucket the cap falls in: its share above, linearly */
			slow += (double)h->bucket[b] * (hi - cap_us) / (hi - lo);
	}
	return slow;
}

/*
 * The p99 cap as a proportion: p99 <= cap exactly when at most 1 % of the
 * requests are slower than cap. So the gate is the same one-sided test on
 * the share of requests slower than the cap, which one slow outlier among
 * 30 requests does not fail, and a v1 as slow as v2 turns into "baseline
 * degraded". The p99s are reported beside it.
 */
static enum sl_ro_verdict p99_gate(const struct sl_ro_gates *g, const struct sl_ro_sample *c,
				   const struct sl_ro_sample *b, struct sl_ro_judgement *j)
{
	double cap = g->max_p99_us, x1, x0, n1, n0, p1, p0, z;
	enum sl_ro_verdict v;

	if (!g->max_p99_us || !c->rt.count)
		return SL_RO_HEALTHY;
	n1 = (double)c->rt.count;
	n0 = (double)b->rt.count;
	x1 = sl_ro_slower_than(&c->rt, cap);
	x0 = sl_ro_slower_than(&b->rt, cap);
	v = prop_verdict(x1, n1, x0, n0, SL_RO_P99_SHARE, &z);
	if (v == SL_RO_HEALTHY)
		return v;
	p1 = sl_rt_quantile(&c->rt, 0.99);
	p0 = b->rt.count ? sl_rt_quantile(&b->rt, 0.99) : 0;
	j->gate = "p99";
	j->ratio = p1 / 1000;
	j->base_ratio = p0 / 1000;
	j->z = z;
	j->n = c->rt.count;
	j->errors = (uint64_t)(x1 + 0.5);
	snprintf(j->reason, sizeof(j->reason),
		 "%sp99: v2 %.1f ms, %.1f%% of %llu slower than cap %.1f ms; v1 %.1f ms, %.1f%% of "
		 "%llu; z=%.2f",
		 v == SL_RO_BASELINE ? "baseline degraded: "
		 : v == SL_RO_GROSS  ? "gross failure, "
				     : "",
		 p1 / 1000, 100 * x1 / n1, (unsigned long long)c->rt.count, cap / 1000, p0 / 1000,
		 n0 > 0 ? 100 * x0 / n0 : 0, (unsigned long long)b->rt.count, z);
	return v;
}

/* The more serious of two verdicts: gross > failed > baseline > healthy. */
static int rank(enum sl_ro_verdict v)
{
	static const int r[] = {[SL_RO_HEALTHY] = 0,
				[SL_RO_INCONCLUSIVE] = 1,
				[SL_RO_BASELINE] = 2,
				[SL_RO_FAILED] = 3,
				[SL_RO_GROSS] = 4};
	return r[v];
}

void sl_ro_judge(const struct sl_ro_gates *g, const struct sl_ro_sample *c,
		 const struct sl_ro_sample *b, struct sl_ro_judgement *j)
{
	struct sl_ro_judgement t;
	enum sl_ro_verdict v;
	int k;

	memset(j, 0, sizeof(*j));
	j->n = c->requests;
	/* resets end connections before any response: they count whatever the request count */
	for (k = 0; k < 3; k++) {
		memset(&t, 0, sizeof(t));
		if (k == 0)
			v = ratio_gate("reset", "resets", c->resets, c->conns, b->resets, b->conns,
				       g->max_reset_ppm, &t);
		else if (c->requests < g->min_requests)
			continue;
		else if (k == 1)
			v = ratio_gate("5xx", "5xx", c->errors, c->requests, b->errors, b->requests,
				       g->max_5xx_ppm, &t);
		else
			v = p99_gate(g, c, b, &t);
		/* a reset gate on too few connections: only a gross failure is called */
		if (k == 0 && c->conns < g->min_requests && v != SL_RO_GROSS)
			v = SL_RO_HEALTHY;
		if (rank(v) > rank(j->verdict)) {
			t.verdict = v;
			*j = t;
		}
	}
	if (j->verdict != SL_RO_HEALTHY)
		return;
	if (c->requests < g->min_requests) {
		j->verdict = SL_RO_INCONCLUSIVE;
		j->wanted = g->min_requests - c->requests;
		snprintf(j->reason, sizeof(j->reason),
			 "waiting for %llu more requests (%llu of %u)",
			 (unsigned long long)j->wanted, (unsigned long long)c->requests,
			 g->min_requests);
		return;
	}
	j->n = c->requests;
	j->errors = c->errors;
	j->ratio = c->requests ? (double)c->errors / (double)c->requests : 0;
	j->base_ratio = b->requests ? (double)b->errors / (double)b->requests : 0;
	snprintf(j->reason, sizeof(j->reason),
		 "healthy: v2 %llu requests, 5xx %.2f%%, resets %llu/%llu; v1 5xx %.2f%%",
		 (unsigned long long)c->requests, 100 * j->ratio, (unsigned long long)c->resets,
		 (unsigned long long)c->conns, 100 * j->base_ratio);
}
