// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A rollout's plan from text (spec.h). Pure: no I/O. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/spec.h"

void sl_ro_spec_default(struct sl_rollout *r)
{
	const char *why;

	memset(r, 0, sizeof(*r));
	sl_ro_parse_steps(SL_RO_DEF_STEPS, r, &why);
	r->dwell_ms = SL_RO_DEF_DWELL_MS;
	r->deadline_ms = SL_RO_DEF_DEADLINE_DWELLS * SL_RO_DEF_DWELL_MS;
	r->min_requests = SL_RO_DEF_MIN_REQUESTS;
	r->max_5xx_ppm = SL_RO_DEF_5XX_PPM;
	r->max_reset_ppm = SL_RO_DEF_RESET_PPM;
	r->failure_limit = SL_RO_DEF_FAILURE_LIMIT;
}

int sl_ro_parse_duration(const char *s, uint32_t *ms, const char **why)
{
	unsigned long long total = 0;
	const char *p = s;

	if (!s || !*s) {
		*why = "empty duration";
		return -EINVAL;
	}
	while (*p) {
		unsigned long long v = 0, unit;
		int digits = 0;

		while (isdigit((unsigned char)*p) && digits < 10) {
			v = v * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (!digits) {
			*why = "a duration is a number and a unit: 500ms, 30s, 1m, 1h";
			return -EINVAL;
		}
		if (!strncmp(p, "ms", 2)) {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60000;
			p++;
		} else if (*p == 'h') {
			unit = 3600000;
			p++;
		} else if (!*p && p == s + digits) {
			unit = 1000; /* a bare number: seconds */
		} else {
			*why = "unknown unit (ms, s, m or h)";
			return -EINVAL;
		}
		total += v * unit;
		if (total > 24ULL * 3600000) {
			*why = "longer than a day";
			return -EINVAL;
		}
	}
	*ms = (uint32_t)total;
	return 0;
}

int sl_ro_parse_ratio(const char *s, uint32_t *ppm, const char **why)
{
	char *end;
	double v;

	if (!s || !*s) {
		*why = "empty ratio";
		return -EINVAL;
	}
	v = strtod(s, &end);
	if (end == s) {
		*why = "a ratio is 0.01 or 1%";
		return -EINVAL;
	}
	if (*end == '%' && !end[1])
		v /= 100;
	else if (*end) {
		*why = "a ratio is 0.01 or 1%";
		return -EINVAL;
	}
	if (v < 0 || v > 1) {
		*why = "a ratio is between 0 and 1 (0% and 100%)";
		return -EINVAL;
	}
	*ppm = (uint32_t)(v * 1e6 + 0.5);
	return 0;
}

int sl_ro_steps_list(const uint32_t *w, size_t n, struct sl_rollout *r, const char **why)
{
	uint32_t out[SL_ROLLOUT_STEPS];
	size_t i, k = 0;

	if (!n) {
		*why = "no steps";
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (w[i] < 1 || w[i] > 100) {
			*why = "a step is a percent from 1 to 100";
			return -EINVAL;
		}
		if (k && w[i] <= out[k - 1]) {
			*why = "steps must rise";
			return -EINVAL;
		}
		if (k == SL_ROLLOUT_STEPS) {
			*why = "too many steps (16 at most, 100 included)";
			return -EINVAL;
		}
		out[k++] = w[i];
	}
	if (out[k - 1] != 100) {
		if (k == SL_ROLLOUT_STEPS) {
			*why = "too many steps (16 at most, 100 included)";
			return -EINVAL;
		}
		out[k++] = 100;
	}
	memset(r->steps, 0, sizeof(r->steps));
	memcpy(r->steps, out, k * sizeof(out[0]));
	r->n_steps = k;
	return 0;
}

int sl_ro_parse_steps(const char *s, struct sl_rollout *r, const char **why)
{
	uint32_t w[SL_ROLLOUT_STEPS + 1];
	const char *p = s;
	size_t n = 0;

	if (!s || !*s) {
		*why = "no steps";
		return -EINVAL;
	}
	for (;;) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || v < 1 || v > 100) {
			*why =
			    "steps are percents from 1 to 100, separated by commas: 5,10,25,50,100";
			return -EINVAL;
		}
		if (n == SL_ROLLOUT_STEPS + 1) {
			*why = "too many steps (16 at most, 100 included)";
			return -EINVAL;
		}
		w[n++] = (uint32_t)v;
		p = end;
		if (*p == '%')
			p++;
		if (!*p)
			break;
		if (*p != ',') {
			*why =
			    "steps are percents from 1 to 100, separated by commas: 5,10,25,50,100";
			return -EINVAL;
		}
		p++;
	}
	return sl_ro_steps_list(w, n, r, why);
}

int sl_ro_steps_linear(uint32_t step, uint32_t max, struct sl_rollout *r, const char **why)
{
	uint32_t w[SL_ROLLOUT_STEPS + 1], v;
	size_t n = 0;

	if (step < 1 || step > 100) {
		*why = "the step weight is a percent from 1 to 100";
		return -EINVAL;
	}
	if (max < step || max > 100) {
		*why = "the maximum weight is a percent from the step weight to 100";
		return -EINVAL;
	}
	for (v = step; v <= max; v += step) {
		if (n == SL_ROLLOUT_STEPS) {
			*why = "too many steps (16 at most, 100 included): raise the step weight";
			return -EINVAL;
		}
		w[n++] = v;
	}
	return sl_ro_steps_list(w, n, r, why);
}

const char *sl_ro_steps_str(const struct sl_rollout *r, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = 0;
	for (i = 0; i < r->n_steps && i < SL_ROLLOUT_STEPS && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%u", i ? "," : "", r->steps[i]);
	return buf;
}

const char *sl_ro_phase_name(uint32_t phase)
{
	static const char *const n[] = {"none", "running", "paused", "aborted", "promoted"};

	return phase < sizeof(n) / sizeof(n[0]) ? n[phase] : "?";
}

const char *sl_ro_action_name(uint32_t action)
{
	static const char *const n[SL_RA_MAX] = {
	    [SL_RA_START] = "start",	   [SL_RA_ADVANCE] = "advance",
	    [SL_RA_HOLD] = "hold",	   [SL_RA_FAILED] = "failed-check",
	    [SL_RA_PAUSE] = "pause",	   [SL_RA_RESUME] = "resume",
	    [SL_RA_ABORT] = "abort",	   [SL_RA_PROMOTE] = "promote",
	    [SL_RA_REASSERT] = "reassert",
	};

	return action < SL_RA_MAX ? n[action] : "?";
}
