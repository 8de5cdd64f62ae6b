/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A rollout's plan (struct sl_rollout in sluice_abi.h) from what people
 * write: durations ("30s", "1m", "500ms"), ratios ("1%", "0.01"), step
 * lists ("5,10,25,50,100") or a step weight with a maximum (Flagger's
 * stepWeight/maxWeight). Pure: unit-tested in tests/unit/test_rollout.c.
 */
#ifndef SLUICE_ROLLOUT_SPEC_H
#define SLUICE_ROLLOUT_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "sluice_abi.h"

/* Defaults of `sluice rollout` (README "Progressive delivery"). */
#define SL_RO_DEF_STEPS		  "5,10,25,50,100"
#define SL_RO_DEF_DWELL_MS	  30000
#define SL_RO_DEF_MIN_REQUESTS	  20
#define SL_RO_DEF_5XX_PPM	  10000 /* 1 % */
#define SL_RO_DEF_RESET_PPM	  10000 /* 1 % of connections */
#define SL_RO_DEF_FAILURE_LIMIT	  3
#define SL_RO_DEF_DEADLINE_DWELLS 10 /* a step's deadline: this many dwells */
#define SL_RO_INTERVAL_MS	  1000

/* The defaults, for service/from/to (names may be NULL, filled later). */
void sl_ro_spec_default(struct sl_rollout *r);

/*
 * Each returns 0, or -EINVAL with why pointing at a static explanation
 * (the caller names the argument or position).
 */
int sl_ro_parse_duration(const char *s, uint32_t *ms, const char **why);
int sl_ro_parse_ratio(const char *s, uint32_t *ppm, const char **why);
/* Rising percents in 1..100; a list that stops short of 100 gets 100 appended. */
int sl_ro_parse_steps(const char *s, struct sl_rollout *r, const char **why);
/* step, 2*step, ... up to max, then 100 (Flagger's stepWeight/maxWeight). */
int sl_ro_steps_linear(uint32_t step, uint32_t max, struct sl_rollout *r, const char **why);
/* An explicit list (Flagger's stepWeights), n values. */
int sl_ro_steps_list(const uint32_t *w, size_t n, struct sl_rollout *r, const char **why);

/* "5,10,25,50,100" into buf. */
const char *sl_ro_steps_str(const struct sl_rollout *r, char *buf, size_t len);
const char *sl_ro_phase_name(uint32_t phase);
const char *sl_ro_action_name(uint32_t action);

#endif /* SLUICE_ROLLOUT_SPEC_H */
