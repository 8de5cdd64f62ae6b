/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x routed per request (l7_h1.c): every request on a client
 * connection is matched and picked on its own and sent over a pooled
 * upstream connection (l7_pool.h); responses come back in order.
 */
#ifndef SLUICE_L7_H1_H
#define SLUICE_L7_H1_H

#include <stdbool.h>
#include <stdint.h>

#include "l7/l7_conn.h"

/* c (in C_HEAD, a complete HTTP/1.x head waiting in its socket) goes per request. */
void l7_h1_begin(struct sl_l7 *l, struct conn *c);
/* An epoll event on one of c's sockets in C_H1. */
void l7_h1_event(struct sl_l7 *l, struct conn *c, int which, uint32_t events);
/* c's timer is due (waiting for a request, or one that idles). */
void l7_h1_timeout(struct sl_l7 *l, struct conn *c);
/* c is between requests (nothing of an exchange in flight): a hand-over can take it. */
bool l7_h1_idle(const struct conn *c);
/* At close: free what c's per-request state holds. */
void l7_h1_free(struct sl_l7 *l, struct conn *c);

#endif /* SLUICE_L7_H1_H */
