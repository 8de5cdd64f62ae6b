/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The L7 step's listeners (l7_accept.c): opening them, accepting. */
#ifndef SLUICE_L7_ACCEPT_H
#define SLUICE_L7_ACCEPT_H

#include "l7/l7_conn.h"

#include <stdint.h>

/*
 * A listener of family on loopback (IP_TRANSPARENT, SO_REUSEPORT), on port
 * (network order; 0: a new one, else joining the group on it): fd or -errno.
 */
int l7_open_listener(int family, uint16_t port);
/* Its port, network order (0: none). */
uint16_t l7_listener_port(int fd);
/* Accept all that waits on listener i, and start reading each head. */
void l7_accept_all(struct sl_l7 *l, int i);

#endif /* SLUICE_L7_ACCEPT_H */
