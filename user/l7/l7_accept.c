// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The L7 step's listeners (l7_accept.h): opening them, and accepting what
 * sl_l7_lookup hands them, each new connection then read by the relay.
 * Calls l7_conn.h and l7_relay.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "l7/l7_accept.h"
#include "l7/l7_conn.h"
#include "l7/l7_relay.h"
#include "lib/log.h"

/*
 * IP_TRANSPARENT: accepted sockets answer from the VIP, which is no address
 * of this node; without it the route lookup for their SYN-ACK refuses it.
 */
int l7_open_listener(int family, uint16_t port)
{
	struct sockaddr_in6 a6 = {
	    .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT, .sin6_port = port};
	struct sockaddr_in a4 = {
	    .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = port};
	int fd, one = 1, err;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * The node holds the TIME_WAIT of relayed connections (it closes
	 * towards the client when the backend does); SO_REUSEADDR passes on to
	 * them, so they never keep another program from binding VIP:port.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	/*
	 * One listener per thread, all on one port: a SO_REUSEPORT group, which
	 * sl_l7_lookup's bpf_sk_assign() honours (the kernel picks the member).
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto fail;
	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) ||
		    bind(fd, (struct sockaddr *)&a6, sizeof(a6)))
			goto fail;
	} else {
		if (setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) ||
		    bind(fd, (struct sockaddr *)&a4, sizeof(a4)))
			goto fail;
	}
	if (listen(fd, 4096))
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

uint16_t l7_listener_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	return ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					: ((struct sockaddr_in *)&ss)->sin_port;
}

/*
 * The connection as the client made it. It arrives DNATed to our local
 * address (and the VIP's port), possibly with its source port remapped:
 * sl_l7_original() reads the VIP and the client's own port back from its
 * reverse conntrack entry.
 */
static int tuple_of(const struct sl_l7 *l, int fd, struct sl_l7_tuple *t)
{
	struct sockaddr_storage peer, self;
	socklen_t pl = sizeof(peer), sl = sizeof(self);

	memset(t, 0, sizeof(*t));
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) ||
	    getsockname(fd, (struct sockaddr *)&self, &sl))
		return -errno;
	if (self.ss_family == AF_INET6) {
		const struct sockaddr_in6 *p = (void *)&peer, *s = (void *)&self;

		t->family = SL_AF_INET6;
		memcpy(t->saddr, &p->sin6_addr, 16);
		memcpy(t->daddr, &s->sin6_addr, 16);
		t->sport = p->sin6_port;
		t->dport = s->sin6_port;
	} else {
		const struct sockaddr_in *p = (void *)&peer, *s = (void *)&self;

		t->family = SL_AF_INET;
		t->saddr[0] = p->sin_addr.s_addr;
		t->daddr[0] = s->sin_addr.s_addr;
		t->sport = p->sin_port;
		t->dport = s->sin_port;
	}
	return sl_l7_original(&l->m, t);
}

/*
 * Out of file descriptors: a level-triggered listener that cannot accept
 * would wake us in a loop, and its queue would only grow. Stop listening
 * (new connections go DNAT, counted over_limit) until a connection ends.
 */
static void starve(struct sl_l7 *l)
{
	if (l->starved)
		return;
	l->starved = true;
	l7_listeners_poll(l, false);
	l7_shed(l);
	if (l7_say_now(l))
		pr_warn("l7: out of file descriptors at %zu connections: new ones go the kernel "
			"path until some end (raise the open files limit, or lower "
			"--l7-max-conns)\n",
			l->n_conns);
}

void l7_accept_all(struct sl_l7 *l, int i)
{
	struct conn *c;
	int fd, one = 1;

	while ((fd = accept4(l->lfd[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0 ||
	       errno == EMFILE || errno == ENFILE) {
		if (fd < 0) {
			starve(l);
			return;
		}
		c = l7_conn_new(l);
		if (!c) {
			l7_rst(fd);
			close(fd);
			continue;
		}
		c->fd[CLIENT] = fd;
		l7_count(l, SL_L7_C_ACCEPTED, 1);
		l7_count(l, SL_L7_C_ACTIVE, 1);
		if (tuple_of(l, fd, &c->t)) {
			l7_conn_close(l, c, true);
			continue;
		}
		/* its client's share is used up: a reset, and nobody else is touched */
		if (!l7_client_take(l, c, true)) {
			l7_count(l, SL_L7_C_CLIENT_LIMIT, 1);
			l7_conn_close(l, c, true);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		l7_relay_sockopts(fd);
		c->deadline = l7_now_ms() + l->o.head_timeout_ms;
		/* edge-triggered: peeked bytes stay readable, only new ones wake us */
		if (l7_add_fd(l, c, CLIENT, EPOLLIN | EPOLLRDHUP | EPOLLET)) {
			l7_conn_close(l, c, true);
			continue;
		}
		l7_check_limit(l);
		/* the request often comes with the handshake's last ACK */
		l7_on_head(l, c, 0);
	}
}
