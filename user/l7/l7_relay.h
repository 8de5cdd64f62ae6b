/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One connection's way through the L7 step (l7_relay.c): head, pick, relay. */
#ifndef SLUICE_L7_RELAY_H
#define SLUICE_L7_RELAY_H

#include <stdint.h>

#include "l7/l7_conn.h"

/* a connection in C_HEAD: look at what has come */
void l7_on_head(struct sl_l7 *l, struct conn *c, uint32_t events);
/* a connection in C_RELAY: move what can move */
void l7_relay(struct sl_l7 *l, struct conn *c);
/* An epoll event on one of a connection's sockets (which: CLIENT, BACKEND). */
void l7_on_conn_event(struct sl_l7 *l, struct conn *c, int which, uint32_t events);
/* End the connections whose head or connect is late, or that idle. */
void l7_timeouts(struct sl_l7 *l, uint64_t now);
/*
 * The destination of h has taken n more bytes: once L7_RCVBUF_EARN in all,
 * its source src gets the whole L7_RCVBUF (l7_conn.h says why).
 */
void l7_earn(struct half *h, int src, ssize_t n);
/* Small buffers on a relayed socket to start with: L7_RCVBUF, L7_NOTSENT_LOWAT. */
void l7_relay_sockopts(int fd);

/* l7_connect_ep()'s flags: what a backend socket gets besides non-blocking and close-on-exec */
#define L7_CONNECT_NODELAY    1 /* TCP_NODELAY before the SYN */
#define L7_CONNECT_RELAY_BUFS 2 /* l7_relay_sockopts() after it */
/*
 * A non-blocking connect to family/addr/port (network order), completing
 * in the background (EPOLLOUT): the socket, or -errno with nothing left open.
 */
int l7_connect_ep(uint8_t family, const uint32_t addr[4], uint16_t port, unsigned int flags);

#endif /* SLUICE_L7_RELAY_H */
