// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Judging a canary window against its baseline (judge.h). Pure: no I/O. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "datapath/rt.h"
#include "rollout/judge.h"

double sl_ro_z(uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0)
{
	double p1, p0, p, se;

	if (!n1 || !n0)
		return 0;
	p1 = (double)x1 / (double)n1;
	p0 = (double)x0 / (double)n0;
	p = (double)(x1 + x0) / (double)(n1 + n0);
	if (p <= 0 || p >= 1)
		return 0;
	se = sqrt(p * (1 - p) * (1 / (double)n1 + 1 / (double)n0));
	return (p1 - p0) / se;
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
 * One ratio gate: x1 of n1 for v2, x0 of n0 for v1, cap in ppm. Returns the
 * verdict for this gate alone and fills j when it is not healthy.
 */
static enum sl_ro_verdict ratio_gate(const char *gate, const char *what, uint64_t x1, uint64_t n1,
				     uint64_t x0, uint64_t n0, uint32_t cap_ppm,
				     struct sl_ro_judgement *j)
{
	double cap = cap_ppm / 1e6, r1, r0, z;
	enum sl_ro_verdict v;

	if (!cap_ppm || !n1)
		return SL_RO_HEALTHY;
	r1 = (double)x1 / (double)n1;
	r0 = n0 ? (double)x0 / (double)n0 : 0;
	if (r1 <= cap)
		return SL_RO_HEALTHY;
	z = sl_ro_z(x1, n1, x0, n0);
	if (r0 > cap && z < SL_RO_Z_CRIT)
		v = SL_RO_BASELINE; /* both over the cap, v2 no worse than v1 */
	else if (n0 && z < SL_RO_Z_CRIT)
		return SL_RO_HEALTHY; /* over the cap by chance, as far as v1 tells */
	else if (n1 >= SL_RO_GROSS_MIN && r1 >= SL_RO_GROSS_FACTOR * cap && r0 <= cap)
		v = SL_RO_GROSS;
	else
		v = SL_RO_FAILED;
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
		snprintf(j->reason, sizeof(j->reason),
			 "%s%s: v2 %.2f%% (%llu/%llu) over cap %.2f%%, v1 %.2f%% (%llu/%llu), z=%.2f",
			 v == SL_RO_GROSS ? "gross failure, " : "", what, 100 * r1,
			 (unsigned long long)x1, (unsigned long long)n1, 100 * cap, 100 * r0,
			 (unsigned long long)x0, (unsigned long long)n0, z);
	return v;
}

static enum sl_ro_verdict p99_gate(const struct sl_ro_gates *g, const struct sl_ro_sample *c,
				   const struct sl_ro_sample *b, struct sl_ro_judgement *j)
{
	double p1, p0;
	enum sl_ro_verdict v;

	if (!g->max_p99_us || !c->rt.count)
		return SL_RO_HEALTHY;
	p1 = sl_rt_quantile(&c->rt, 0.99);
	p0 = b->rt.count ? sl_rt_quantile(&b->rt, 0.99) : -1;
	if (p1 <= g->max_p99_us)
		return SL_RO_HEALTHY;
	if (p0 > g->max_p99_us && p1 < SL_RO_P99_FACTOR * p0)
		v = SL_RO_BASELINE;
	else
		v = SL_RO_FAILED;
	j->gate = "p99";
	j->ratio = p1 / 1000;
	j->base_ratio = p0 < 0 ? 0 : p0 / 1000;
	j->z = 0;
	j->n = c->rt.count;
	j->errors = 0;
	snprintf(j->reason, sizeof(j->reason), "%sp99: v2 %.1f ms (%llu measured), v1 %.1f ms, cap %.1f ms",
		 v == SL_RO_BASELINE ? "baseline degraded: " : "", p1 / 1000,
		 (unsigned long long)c->rt.count, p0 < 0 ? 0 : p0 / 1000, g->max_p99_us / 1000.0);
	return v;
}

/* The more serious of two verdicts: gross > failed > baseline > healthy. */
static int rank(enum sl_ro_verdict v)
{
	static const int r[] = {[SL_RO_HEALTHY] = 0, [SL_RO_INCONCLUSIVE] = 1,
				[SL_RO_BASELINE] = 2, [SL_RO_FAILED] = 3, [SL_RO_GROSS] = 4};
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
		snprintf(j->reason, sizeof(j->reason), "waiting for %llu more requests (%llu of %u)",
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
