// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rollouts in their pinned maps (store.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "datapath/ct_reset.h"
#include "datapath/tables.h"
#include "rollout/store.h"

uint64_t sl_ro_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sl_ro_get(const struct sl_maps *m, uint32_t slot, struct sl_rollout *r)
{
	if (m->rollout < 0)
		return -ENOENT;
	if (bpf_map_lookup_elem(m->rollout, &slot, r))
		return -errno;
	r->service[SL_NAME_LEN - 1] = r->from[SL_SUBSET_NAME_LEN - 1] =
	    r->to[SL_SUBSET_NAME_LEN - 1] = r->reason[SL_ROLLOUT_REASON - 1] = 0;
	if (r->n_steps > SL_ROLLOUT_STEPS)
		r->n_steps = SL_ROLLOUT_STEPS;
	return 0;
}

int sl_ro_put(const struct sl_maps *m, uint32_t slot, struct sl_rollout *r)
{
	if (m->rollout < 0)
		return -ENOENT;
	r->seq++;
	if (bpf_map_update_elem(m->rollout, &slot, r, BPF_ANY))
		return -errno;
	return 0;
}

int sl_ro_active(const struct sl_rollout *r)
{
	return r->phase == SL_RO_RUNNING || r->phase == SL_RO_PAUSED;
}

uint32_t sl_ro_weight(const struct sl_rollout *r)
{
	if (r->phase == SL_RO_PROMOTED)
		return 100;
	if (r->phase == SL_RO_ABORTED || !r->n_steps)
		return 0;
	return r->steps[r->step < r->n_steps ? r->step : r->n_steps - 1];
}

int sl_ro_find(const struct sl_maps *m, const char *service, struct sl_rollout *r, uint32_t *slot)
{
	uint32_t i;

	for (i = 0; i < SL_MAX_ROLLOUTS; i++) {
		if (sl_ro_get(m, i, r))
			return -ENOENT;
		if (r->phase != SL_RO_FREE && !strcmp(r->service, service)) {
			*slot = i;
			return 0;
		}
	}
	return -ENOENT;
}

int sl_ro_alloc(const struct sl_maps *m, const char *service, uint32_t *slot)
{
	uint64_t oldest = UINT64_MAX;
	int fin = -1, free_slot = -1;
	struct sl_rollout r;
	uint32_t i;

	for (i = 0; i < SL_MAX_ROLLOUTS; i++) {
		if (sl_ro_get(m, i, &r))
			return -ENOENT;
		if (r.phase == SL_RO_FREE) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (!strcmp(r.service, service)) {
			if (sl_ro_active(&r))
				return -EBUSY;
			*slot = i;
			return 0;
		}
		if (!sl_ro_active(&r) && r.updated_ms < oldest) {
			oldest = r.updated_ms;
			fin = i;
		}
	}
	if (free_slot >= 0)
		*slot = free_slot;
	else if (fin >= 0)
		*slot = fin;
	else
		return -ENOSPC;
	return 0;
}

int sl_ro_set_weights(const struct sl_maps *m, const struct sl_rollout *r, uint32_t pct,
		      struct sl_diag *diag)
{
	char *names[2] = {(char *)r->from, (char *)r->to};
	uint32_t w[2] = {100 - pct, pct};

	return sl_tables_set_weights(m, r->service, names, w, 2, diag);
}

int sl_ro_log(const struct sl_maps *m, const struct sl_rollout *r, uint32_t action, uint32_t weight,
	      uint64_t n, uint64_t errors, const char *reason)
{
	struct sl_rollout_event ev, cur;
	uint64_t top = 0;
	uint32_t i, at = 0;

	if (m->rollout_log < 0)
		return -ENOENT;
	for (i = 0; i < SL_ROLLOUT_LOG_LEN; i++) {
		if (bpf_map_lookup_elem(m->rollout_log, &i, &cur))
			return -errno;
		if (cur.seq > top)
			top = cur.seq;
	}
	memset(&ev, 0, sizeof(ev));
	ev.seq = top + 1;
	at = (uint32_t)(ev.seq % SL_ROLLOUT_LOG_LEN);
	ev.time_ms = sl_ro_now_ms();
	ev.action = action;
	ev.weight = weight;
	ev.n = n;
	ev.errors = errors;
	memcpy(ev.service, r->service, sizeof(ev.service));
	strncpy(ev.reason, reason ? reason : "", sizeof(ev.reason) - 1);
	if (bpf_map_update_elem(m->rollout_log, &at, &ev, BPF_ANY))
		return -errno;
	return 0;
}

static int cmp_seq(const void *a, const void *b)
{
	const struct sl_rollout_event *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int sl_ro_events(const struct sl_maps *m, const char *service, size_t max,
		 struct sl_rollout_event **out, size_t *n)
{
	struct sl_rollout_event *ev;
	size_t k = 0;
	uint32_t i;

	*out = NULL;
	*n = 0;
	if (m->rollout_log < 0)
		return 0;
	ev = calloc(SL_ROLLOUT_LOG_LEN, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	for (i = 0; i < SL_ROLLOUT_LOG_LEN; i++) {
		if (bpf_map_lookup_elem(m->rollout_log, &i, &ev[k]))
			continue;
		ev[k].service[SL_NAME_LEN - 1] = ev[k].reason[SL_ROLLOUT_REASON - 1] = 0;
		if (!ev[k].seq || (service && strcmp(ev[k].service, service)))
			continue;
		k++;
	}
	qsort(ev, k, sizeof(*ev), cmp_seq);
	if (k > max) {
		memmove(ev, ev + (k - max), max * sizeof(*ev));
		k = max;
	}
	*out = ev;
	*n = k;
	return 0;
}

int sl_ro_abort_resets(const struct sl_rollout *r)
{
	return r->phase == SL_RO_ABORTED && (r->flags & SL_RO_ABORT_RESET) &&
	       !(r->flags & SL_RO_DRY_RUN);
}

int sl_ro_reset_conns(const struct sl_maps *m, const struct sl_rollout *r, uint64_t *n)
{
	uint32_t id;
	int err;

	*n = 0;
	err = sl_subset_id_of(m, r->service, r->to, &id);
	return err ?: sl_ct_mark_reset(m, id, n);
}
