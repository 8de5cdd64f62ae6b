// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The hash index (hidx.h): open addressing, linear probing, load <= 1/2. */
#include <errno.h>
#include <stdlib.h>

#include "lib/hidx.h"

uint64_t sl_hash_bytes(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	/* FNV-1a, then a final mix: the low bits pick the bucket */
	h ^= 0xcbf29ce484222325ULL;
	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static void put(uint64_t *hs, uint32_t *vs, size_t cap, uint64_t h, uint32_t v)
{
	size_t i = h & (cap - 1);

	while (vs[i])
		i = (i + 1) & (cap - 1);
	hs[i] = h;
	vs[i] = v;
}

static int grow(struct sl_hidx *t, size_t cap)
{
	uint64_t *hs = calloc(cap, sizeof(*hs));
	uint32_t *vs = calloc(cap, sizeof(*vs));
	size_t i;

	if (!hs || !vs) {
		free(hs);
		free(vs);
		return -ENOMEM;
	}
	for (i = 0; i < t->cap; i++)
		if (t->v[i])
			put(hs, vs, cap, t->h[i], t->v[i]);
	free(t->h);
	free(t->v);
	t->h = hs;
	t->v = vs;
	t->cap = cap;
	return 0;
}

int sl_hidx_add(struct sl_hidx *t, uint64_t h, uint32_t row)
{
	size_t pos = SL_HIDX_START;
	uint32_t r;
	int err;

	/* once per (hash, row): a row dropped and refilled is not listed twice */
	while (sl_hidx_next(t, h, &pos, &r))
		if (r == row)
			return 0;

	if ((t->n + 1) * 2 > t->cap) {
		err = grow(t, t->cap ? t->cap * 2 : 64);
		if (err)
			return err;
	}
	put(t->h, t->v, t->cap, h, row + 1);
	t->n++;
	return 0;
}

bool sl_hidx_next(const struct sl_hidx *t, uint64_t h, size_t *pos, uint32_t *row)
{
	size_t i;

	if (!t->cap)
		return false;
	i = *pos == SL_HIDX_START ? h & (t->cap - 1) : (*pos + 1) & (t->cap - 1);
	for (; t->v[i]; i = (i + 1) & (t->cap - 1))
		if (t->h[i] == h) {
			*pos = i;
			*row = t->v[i] - 1;
			return true;
		}
	return false;
}

void sl_hidx_free(struct sl_hidx *t)
{
	free(t->h);
	free(t->v);
	*t = (struct sl_hidx){0};
}
