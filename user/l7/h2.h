/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/2 (h2c, prior knowledge) through the L7 step: every stream routed by
 * its own headers and the weights, to pooled HTTP/2 upstream sessions
 * (docs/l7.md, "HTTP/2"). The rest of the step reaches it at a few hook
 * points only, each a line or two: the head reader hands a connection that
 * opens with the preface to l7_h2_start(); events of a C_H2 connection go
 * to l7_h2_on_event(); closing one calls l7_h2_release(); the hot restart
 * calls l7_h2_handover(), stopping calls l7_h2_stop().
 */
#ifndef SLUICE_L7_H2_H
#define SLUICE_L7_H2_H

#include <stddef.h>
#include <stdint.h>

#include "l7/l7_conn.h"

/* 1: buf opens with the whole client preface; 0: with a piece of it; -1: not HTTP/2. */
int l7_h2_preface(const char *buf, size_t n);
/* c (C_HEAD, preface peeked, nothing read) becomes an HTTP/2 connection. */
void l7_h2_start(struct sl_l7 *l, struct conn *c);
/* An epoll event on a C_H2 conn: a client, an upstream session or the timer. */
void l7_h2_on_event(struct sl_l7 *l, struct conn *c, int which, uint32_t events);
/* c is closing: its streams and session go (upstream streams are cancelled). */
void l7_h2_release(struct sl_l7 *l, struct conn *c);
/*
 * A successor takes the relayed connections: an HTTP/2 session cannot be
 * handed over mid-flight, so each client gets a GOAWAY and the connection
 * ends here (clients reconnect to the successor).
 */
void l7_h2_handover(struct sl_l7 *l);
/*
 * Draining (SIGTERM): each client gets a GOAWAY naming the last stream we
 * took, so those finish and the client opens its next streams elsewhere
 * (a new connection: the kernel path while we drain).
 */
void l7_h2_drain(struct sl_l7 *l);
/* Upstream sessions, the timer, everything left. */
void l7_h2_stop(struct sl_l7 *l);

#endif /* SLUICE_L7_H2_H */
