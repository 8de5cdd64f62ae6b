/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Judging a canary against its baseline over one window of counter deltas:
 * pure arithmetic, no maps, no clock (unit-tested in tests/unit/test_rollout.c).
 *
 * A gate fails when v2 is over its cap AND worse than v1 over the same
 * window by a one-sided two-proportion z-test: on the 5xx ratio, the
 * reset ratio, and for the p99 cap the share of requests slower than it
 * (p99 <= cap means at most 1 % are). v2 over the cap but no worse than v1 is
 * the baseline degraded: the rollout pauses instead of blaming v2. Too few
 * v2 requests judge nothing (inconclusive). A share ten times its cap over
 * SL_RO_GROSS_MIN requests, with v1 under the cap, is a gross failure:
 * abort at once.
 */
#ifndef SLUICE_ROLLOUT_JUDGE_H
#define SLUICE_ROLLOUT_JUDGE_H

#include <stdint.h>

#include "sluice_abi.h"

#define SL_RO_Z_CRIT	   1.645 /* one-sided, 95 % */
#define SL_RO_GROSS_MIN	   50	 /* requests before a gross failure can be called */
#define SL_RO_GROSS_FACTOR 10	 /* ... at this many times the cap */
#define SL_RO_P99_SHARE	   0.01	 /* p99 <= cap: at most 1 % of requests slower than cap */

/* What one version did in the window (deltas). */
struct sl_ro_sample {
	uint64_t requests; /* HTTP responses seen */
	uint64_t errors;   /* ...of them 5xx */
	uint64_t conns;	   /* connections opened */
	uint64_t resets;   /* resets from its backends */
	struct sl_rt_hist rt;
};

struct sl_ro_gates {
	uint32_t min_requests;
	uint32_t max_5xx_ppm;	/* 0: no gate */
	uint32_t max_reset_ppm; /* 0: no gate */
	uint32_t max_p99_us;	/* 0: no gate */
};

enum sl_ro_verdict {
	SL_RO_HEALTHY = 0,
	SL_RO_INCONCLUSIVE, /* too few requests: the step holds */
	SL_RO_FAILED,	    /* a gate failed: counts towards the failure limit */
	SL_RO_GROSS,	    /* abort now */
	SL_RO_BASELINE,	    /* v1 fails the same gate: pause, do not blame v2 */
};

struct sl_ro_judgement {
	enum sl_ro_verdict verdict;
	const char *gate;   /* "5xx", "reset", "p99" or NULL */
	double ratio;	    /* v2's value of that gate (ratio, or p99 in ms) */
	double base_ratio;  /* v1's */
	double z;	    /* the test's value (0 for p99) */
	uint64_t n, errors; /* v2's requests (connections for resets) and failures */
	uint64_t wanted;    /* inconclusive: requests still missing */
	char reason[SL_ROLLOUT_REASON];
};

/*
 * One-sided two-proportion z statistic of x1/n1 (canary) over x0/n0
 * (baseline), pooled; 0 when either n is 0 or the pooled ratio is 0 or 1.
 */
double sl_ro_z(uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0);

/*
 * How many of h's requests were slower than cap_us (the bucket the cap
 * falls in counted by its share above the cap, linearly).
 */
double sl_ro_slower_than(const struct sl_rt_hist *h, double cap_us);

/* Judge canary against base (base may be all zero: no v1 traffic left). */
void sl_ro_judge(const struct sl_ro_gates *g, const struct sl_ro_sample *canary,
		 const struct sl_ro_sample *base, struct sl_ro_judgement *j);

const char *sl_ro_verdict_name(enum sl_ro_verdict v);

#endif /* SLUICE_ROLLOUT_JUDGE_H */
