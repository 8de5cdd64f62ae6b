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

#include <http_parser.h>

#include "l7/l7_conn.h"
#include "l7/l7_pool.h"

/*
 * A connection's per-request state as the hot restart sends it (struct
 * ho_msg): an exchange in flight goes over whole, parser state included,
 * so a kept-alive connection loses no request whatever it is doing.
 */
struct l7_h1_wire {
	uint64_t skip[2];
	uint64_t age_us; /* of the request in flight */
	uint32_t status, subset, nreq;
	uint32_t flags;		      /* H1W_* */
	uint32_t req_bits, resp_bits; /* struct sl_h1's flags */
	uint32_t req_code, resp_code;
	struct l7_ep ep;
	uint8_t req_p[sizeof(http_parser)], resp_p[sizeof(http_parser)];
};

/* c (in C_HEAD, a complete HTTP/1.x head waiting in its socket) goes per request. */
void l7_h1_begin(struct sl_l7 *l, struct conn *c);
/* An epoll event on one of c's sockets in C_H1. */
void l7_h1_event(struct sl_l7 *l, struct conn *c, int which, uint32_t events);
/* c's timer is due (waiting for a request, or one that idles). */
void l7_h1_timeout(struct sl_l7 *l, struct conn *c);
/* c is between requests (nothing of an exchange in flight): a hand-over can take it. */
bool l7_h1_idle(const struct conn *c);
/*
 * Hot restart: the state of c (in C_H1) as sent; whether c has an upstream
 * connection in flight (a descriptor more). Import on the successor's side:
 * 0, or -EPROTO for a state that does not add up.
 */
bool l7_h1_export(const struct conn *c, struct l7_h1_wire *w);
int l7_h1_import(struct conn *c, const struct l7_h1_wire *w, bool has_backend);
/* Taken over: register c's sockets and get it moving. */
int l7_h1_resume(struct sl_l7 *l, struct conn *c);

/* At close: free what c's per-request state holds. */
void l7_h1_free(struct sl_l7 *l, struct conn *c);

#endif /* SLUICE_L7_H1_H */
