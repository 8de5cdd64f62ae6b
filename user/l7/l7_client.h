/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connections held per client address (l7_client.c), for
 * --l7-max-per-client: one pod must not take the L7 step's whole
 * connection limit (which would send every client's header-routed
 * connections the weighted way). Pure bookkeeping, no I/O.
 */
#ifndef SLUICE_L7_CLIENT_H
#define SLUICE_L7_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l7/l7_pick.h"

struct l7_client {
	uint32_t addr[4]; /* network order, as in struct sl_l7_tuple */
	uint32_t n;	  /* connections held; 0: a free slot */
	uint8_t family;
};

/* Open addressing, linear probing, at most half full; grows as needed. */
struct l7_clients {
	struct l7_client *slot;
	size_t cap; /* a power of two */
	size_t used;
	uint32_t seed; /* random: a hostile pod cannot aim its addresses at one chain */
};

int l7_clients_init(struct l7_clients *cs, size_t expect);
void l7_clients_free(struct l7_clients *cs);
/*
 * One more connection from this address, unless it holds limit already
 * (limit 0: no limit). False when refused (or out of memory).
 */
bool l7_clients_take(struct l7_clients *cs, const struct sl_l7_tuple *t, uint32_t limit);
/* The connection of an earlier successful take has ended. */
void l7_clients_put(struct l7_clients *cs, const struct sl_l7_tuple *t);
/* Connections this address holds now. */
uint32_t l7_clients_count(const struct l7_clients *cs, const struct sl_l7_tuple *t);

#endif /* SLUICE_L7_CLIENT_H */
