// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Idle upstream connections (l7_pool.h): a list, most recently used first,
 * so the connections in use stay warm and the cold ones age out at its tail.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "l7/l7_pool.h"

static bool same(const struct l7_ep *a, const struct l7_ep *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

/* Idle means nothing to read: a byte or an EOF says the backend moved on. */
static bool alive(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

int l7_pool_get(struct sl_l7 *l, const struct l7_ep *ep)
{
	struct l7_up **pp = &l->pool, *u;
	int fd;

	while ((u = *pp)) {
		if (!same(&u->ep, ep)) {
			pp = &u->next;
			continue;
		}
		*pp = u->next;
		l->n_pool--;
		fd = u->fd;
		free(u);
		if (alive(fd))
			return fd;
		close(fd);
	}
	return -1;
}

void l7_pool_put(struct sl_l7 *l, const struct l7_ep *ep, int fd)
{
	struct l7_up *u;
	size_t n = 0;

	if (l->n_pool >= l->pool_cap || l->stopping || l->handed_over)
		goto drop;
	for (u = l->pool; u; u = u->next)
		if (same(&u->ep, ep) && ++n >= L7_POOL_PER_EP)
			goto drop;
	u = malloc(sizeof(*u));
	if (!u)
		goto drop;
	u->ep = *ep;
	u->fd = fd;
	u->since = l7_now_ms();
	u->next = l->pool;
	l->pool = u;
	l->n_pool++;
	return;
drop:
	close(fd);
}

void l7_pool_expire(struct sl_l7 *l, uint64_t now)
{
	struct l7_up **pp = &l->pool, *u;

	while ((u = *pp)) {
		if (now && now - u->since < L7_POOL_IDLE_MS) {
			pp = &u->next;
			continue;
		}
		*pp = u->next;
		l->n_pool--;
		close(u->fd);
		free(u);
	}
}
