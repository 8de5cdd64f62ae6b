/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A hash index: 64-bit hash -> small integers (row numbers of an array the
 * caller owns), several rows per hash allowed. It stores no keys, so the
 * array may move (realloc) or be cut back and refilled under it: callers
 * compare the rows a lookup yields with what they look for. Turns the pairwise checks and searches
 * of the config loader and the table writer from O(n^2) into O(n).
 */
#ifndef SLUICE_HIDX_H
#define SLUICE_HIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sl_hidx {
	uint64_t *h;
	uint32_t *v; /* row + 1; 0: empty */
	size_t cap, n;
};

#define SL_HIDX_START ((size_t)-1)

uint64_t sl_hash_bytes(uint64_t h, const void *p, size_t len);
static inline uint64_t sl_hash_str(const char *s)
{
	return sl_hash_bytes(0, s, strlen(s));
}

/* 0 or -ENOMEM. */
int sl_hidx_add(struct sl_hidx *t, uint64_t h, uint32_t row);
/*
 * The rows added under h, one per call: start with *pos = SL_HIDX_START;
 * false when there are no more.
 */
bool sl_hidx_next(const struct sl_hidx *t, uint64_t h, size_t *pos, uint32_t *row);
void sl_hidx_free(struct sl_hidx *t);

#endif /* SLUICE_HIDX_H */
