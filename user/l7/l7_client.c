// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Connections held per client address (l7_client.h). One slot per address
 * that holds a connection now, so the table is never larger than twice the
 * connections relayed (24 bytes a slot); a slot is freed with the
 * address's last connection (backward-shift deletion: no tombstones to
 * pile up under churn).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "l7/l7_client.h"
#include "sluice_hash.h"

static bool same(const struct l7_client *e, const struct sl_l7_tuple *t)
{
	return e->family == t->family && !memcmp(e->addr, t->saddr, sizeof(e->addr));
}

static size_t home(const struct l7_clients *cs, const uint32_t addr[4], uint8_t family)
{
	return (sl_hash_client(cs->seed ^ family, addr)) & (cs->cap - 1);
}

int l7_clients_init(struct l7_clients *cs, size_t expect)
{
	size_t cap = 64;

	while (cap < 2 * expect)
		cap *= 2;
	memset(cs, 0, sizeof(*cs));
	cs->slot = calloc(cap, sizeof(*cs->slot));
	if (!cs->slot)
		return -ENOMEM;
	cs->cap = cap;
	if (getrandom(&cs->seed, sizeof(cs->seed), 0) != sizeof(cs->seed))
		cs->seed = (uint32_t)(uintptr_t)cs->slot;
	return 0;
}

void l7_clients_free(struct l7_clients *cs)
{
	free(cs->slot);
	memset(cs, 0, sizeof(*cs));
}

/* The slot of t's address, or the free slot where it would go. */
static struct l7_client *find(const struct l7_clients *cs, const struct sl_l7_tuple *t)
{
	size_t i = home(cs, t->saddr, t->family);

	while (cs->slot[i].n && !same(&cs->slot[i], t))
		i = (i + 1) & (cs->cap - 1);
	return &cs->slot[i];
}

static int grow(struct l7_clients *cs)
{
	struct l7_clients bigger = *cs;
	size_t i;

	bigger.cap = cs->cap * 2;
	bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
	if (!bigger.slot)
		return -ENOMEM;
	for (i = 0; i < cs->cap; i++) {
		const struct l7_client *e = &cs->slot[i];
		size_t j;

		if (!e->n)
			continue;
		j = home(&bigger, e->addr, e->family);
		while (bigger.slot[j].n)
			j = (j + 1) & (bigger.cap - 1);
		bigger.slot[j] = *e;
	}
	free(cs->slot);
	*cs = bigger;
	return 0;
}

bool l7_clients_take(struct l7_clients *cs, const struct sl_l7_tuple *t, uint32_t limit)
{
	struct l7_client *e = find(cs, t);

	if (e->n) {
		if (limit && e->n >= limit)
			return false;
		e->n++;
		return true;
	}
	if (2 * (cs->used + 1) > cs->cap) {
		if (grow(cs))
			return false;
		e = find(cs, t);
	}
	memcpy(e->addr, t->saddr, sizeof(e->addr));
	e->family = t->family;
	e->n = 1;
	cs->used++;
	return true;
}

void l7_clients_put(struct l7_clients *cs, const struct sl_l7_tuple *t)
{
	struct l7_client *e = find(cs, t);
	size_t i, j, h;

	if (!e->n || --e->n)
		return;
	cs->used--;
	/* backward shift: pull later entries of the chain into the hole */
	i = (size_t)(e - cs->slot);
	for (j = (i + 1) & (cs->cap - 1); cs->slot[j].n; j = (j + 1) & (cs->cap - 1)) {
		h = home(cs, cs->slot[j].addr, cs->slot[j].family);
		/* j may move to i only if its home is not in (i, j] (cyclically) */
		if (((j - h) & (cs->cap - 1)) >= ((j - i) & (cs->cap - 1))) {
			cs->slot[i] = cs->slot[j];
			cs->slot[j].n = 0;
			i = j;
		}
	}
}

uint32_t l7_clients_count(const struct l7_clients *cs, const struct sl_l7_tuple *t)
{
	return find(cs, t)->n;
}
