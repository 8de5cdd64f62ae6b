/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Idle upstream connections of per-request routing (l7_pool.c): one
 * endpoint's connection is reused by the next request to that endpoint,
 * from any client connection. Bounded per endpoint and in all, closed after
 * L7_POOL_IDLE_MS unused. Not in the epoll set while idle: a connection the
 * backend closed meanwhile is found out when it is taken (it reads EOF).
 */
#ifndef SLUICE_L7_POOL_H
#define SLUICE_L7_POOL_H

#include <stdint.h>

#include "l7/l7_conn.h"

#define L7_POOL_PER_EP 64
#define L7_POOL_MAX    1024
/*
 * Shorter than the keep-alive timeouts of common backends (Node's 5 s is
 * the shortest; nginx 75 s, Go and Python none), so a backend seldom
 * closes a connection just as we send it a request.
 */
#define L7_POOL_IDLE_MS 4000

struct l7_ep {
	uint8_t family;
	uint32_t addr[4];
	uint16_t port; /* network order */
};

struct l7_up {
	struct l7_up *next;
	struct l7_ep ep;
	uint64_t since; /* ms, idle from */
	int fd;
};

/* An idle connection to ep that still looks alive, or -1. */
int l7_pool_get(struct sl_l7 *l, const struct l7_ep *ep);
/* fd to ep is idle and clean (its last response read to the end): keep or close it. */
void l7_pool_put(struct sl_l7 *l, const struct l7_ep *ep, int fd);
/* Close those idle for longer than L7_POOL_IDLE_MS (all of them: now 0). */
void l7_pool_expire(struct sl_l7 *l, uint64_t now);

#endif /* SLUICE_L7_POOL_H */
