// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One connection through the L7 step (l7_relay.h), from its request head to
 * its end:
 *
 *   HEAD        the client's socket, edge-triggered: peek (MSG_PEEK, never
 *               consumed) until the request head is complete, too big,
 *               not HTTP, or late; then pick (l7_pick.h) and connect.
 *   CONNECTING  a non-blocking connect to the endpoint.
 *   RELAY       two pipes, one per direction, and splice(2) in and out,
 *               both sockets edge-triggered (see l7_conn.h).
 *               A direction reads only when its pipe is empty, so what is
 *               in flight is bounded by the pipe and the socket buffers:
 *               a slow reader slows its writer (TCP backpressure), it
 *               never grows a queue here; one that does not read at all
 *               holds little (L7_NOTSENT_LOWAT, L7_WIN_START), and is
 *               reset after --l7-idle-timeout without a byte either way.
 *
 * Calls l7_conn.h, l7_pick.h and l7_match.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "l7/h2.h"
#include "l7/l7_conn.h"
#include "l7/l7_h1.h"
#include "l7/l7_http.h"
#include "l7/l7_match.h"
#include "l7/l7_pick.h"
#include "l7/l7_relay.h"
#include "lib/log.h"

/*
 * A response starts where the backend's next read starts: the kernel's rule
 * (bpf/http.h), applied to each read instead of each packet. False when
 * there is nothing to read yet: the caller must then not splice, or bytes
 * that arrive between this peek and the splice would pass uncounted (one
 * response in a few hundred did). The next edge brings them back here.
 */
static bool count_status(struct sl_l7 *l, struct conn *c)
{
	struct sl_stats *st = l7_row(l, c->subset_id);
	char s[12];
	unsigned int code;
	ssize_t n;

	n = recv(c->fd[BACKEND], s, sizeof(s), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return false;
	if (!st || n != sizeof(s))
		return true; /* EOF, an error or a short tail: the splice says which */
	if (memcmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') || s[8] != ' ' || s[9] < '1' ||
	    s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9')
		return true;
	code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	l7_count_code(l, c->subset_id, code);
	return true;
}

/*
 * The destination of h has taken L7_RCVBUF_EARN bytes: it reads, so its
 * source gets the whole buffer, and a window clamp to match (the handshake
 * set one for the small buffer).
 */
void l7_earn(struct half *h, int src, ssize_t n)
{
	int v = L7_RCVBUF, clamp = 2 * L7_RCVBUF;

	h->out += n;
	if (h->out < L7_RCVBUF_EARN)
		return;
	h->earned = true;
	if (setsockopt(src, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
		setsockopt(src, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	setsockopt(src, IPPROTO_TCP, TCP_WINDOW_CLAMP, &clamp, sizeof(clamp));
}

/*
 * Move what can move in one direction. A broken socket: -errno, and *bad
 * says which one (CLIENT or BACKEND). *moved: some byte did.
 */
static int pump(struct sl_l7 *l, struct conn *c, int dir, int *bad, bool *moved)
{
	int sside = dir == C2B ? CLIENT : BACKEND, dside = !sside;
	int src = c->fd[sside], dst = c->fd[dside];
	struct sl_stats *st = l7_row(l, c->subset_id);
	struct half *h = &c->h[dir];
	ssize_t n;

	for (;;) {
		if (h->in_pipe) {
			n = splice(h->pr, NULL, dst, NULL, h->in_pipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				h->in_pipe -= n;
				*moved = true;
				if (!h->earned)
					l7_earn(h, src, n);
				continue;
			}
			if (n < 0 && errno == EAGAIN)
				return 0;
			*bad = dside;
			return n < 0 ? -errno : -EPIPE;
		}
		if (h->src_err)
			return 0; /* all that came is through; the caller resets */
		if (h->eof) {
			if (!h->shut && shutdown(dst, SHUT_WR) && errno != ENOTCONN) {
				*bad = dside;
				return -errno;
			}
			h->shut = true;
			return 0;
		}
		if (dir == B2C && !count_status(l, c))
			return 0;
		n = splice(src, NULL, h->pw, NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			h->in_pipe = n;
			*moved = true;
			if (st)
				ADD(*(dir == C2B ? &st->bytes_in : &st->bytes_out), n);
			continue;
		}
		if (n == 0) {
			h->eof = true;
			continue;
		}
		if (errno == EAGAIN)
			return 0;
		h->src_err = true;
		*bad = sside;
		return -errno;
	}
}

static void broke(struct sl_l7 *l, struct conn *c, int side, int err)
{
	struct sl_stats *st = l7_row(l, c->subset_id);

	c->broken |= 1U << side;
	/* a reset from the backend counts as the kernel counts it: once */
	if (side == BACKEND && !c->reset_counted && st && (err == ECONNRESET || err == EPIPE)) {
		ADD(st->backend_resets, 1);
		c->reset_counted = true;
	}
}

/*
 * A broken client ends the connection at once (the backend gets a reset,
 * as it would from the client on the kernel path). A broken backend first
 * delivers what it sent before it broke (the kernel path would have), then
 * the client gets the reset.
 */
void l7_relay(struct sl_l7 *l, struct conn *c)
{
	struct half *b2c = &c->h[B2C];
	bool moved = false;
	int dir, err, bad;

	for (dir = C2B; dir <= B2C; dir++) {
		if (c->h[dir].dropped)
			continue;
		bad = -1;
		err = pump(l, c, dir, &bad, &moved);
		if (err && bad >= 0)
			broke(l, c, bad, -err);
		if (c->broken & (1U << BACKEND))
			c->h[C2B].dropped = true; /* nowhere to send the client's bytes */
	}
	if (moved && l->o.idle_timeout_ms)
		c->deadline = l7_now_ms() + l->o.idle_timeout_ms;
	if (c->broken & (1U << CLIENT)) {
		l7_conn_close(l, c, true);
		return;
	}
	if (c->broken & (1U << BACKEND)) {
		/* a reset backend reads as what it sent, then EOF or the error */
		if (!b2c->in_pipe && (b2c->eof || b2c->src_err))
			l7_conn_close(l, c, true);
		return;
	}
	if (c->h[C2B].shut && b2c->shut)
		l7_conn_close(l, c, false);
}

static void on_connected(struct sl_l7 *l, struct conn *c)
{
	socklen_t len = sizeof(int);
	int soerr = 0, one = 1;

	if (getsockopt(c->fd[BACKEND], SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
		pr_debug("l7: connect to the backend failed: %s\n", strerror(soerr ?: errno));
		l7_count(l, SL_L7_C_CONNECT_FAILED, 1);
		l7_conn_close(l, c, true);
		return;
	}
	setsockopt(c->fd[BACKEND], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (l7_make_pipes(l, c)) {
		l7_conn_close(l, c, true);
		return;
	}
	c->state = C_RELAY;
	c->deadline = l->o.idle_timeout_ms ? l7_now_ms() + l->o.idle_timeout_ms : 0;
	if (l7_set_ev(l, c, CLIENT, RELAY_EVENTS) || l7_set_ev(l, c, BACKEND, RELAY_EVENTS)) {
		l7_conn_close(l, c, true);
		return;
	}
	l7_relay(l, c);
}

/* Small buffers on a relayed socket to start with: L7_RCVBUF, L7_NOTSENT_LOWAT. */
void l7_relay_sockopts(int fd)
{
	int v = L7_RCVBUF_START, lowat = L7_NOTSENT_LOWAT;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
}

int l7_connect_ep(uint8_t family, const uint32_t addr[4], uint16_t port, unsigned int flags)
{
	struct sockaddr_storage ss = {};
	socklen_t alen;
	int fd, err, one = 1;

	if (family == SL_AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, addr, 16);
		a->sin6_port = port;
		alen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = addr[0];
		a->sin_port = port;
		alen = sizeof(*a);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (flags & L7_CONNECT_NODELAY)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, alen) && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	/* after the SYN: its window scale was chosen for the whole L7_RCVBUF */
	if (flags & L7_CONNECT_RELAY_BUFS)
		l7_relay_sockopts(fd);
	return fd;
}

/* The head is in (or will not come): choose, count, connect. */
static void decide(struct sl_l7 *l, struct conn *c, const struct sl_http_head *head, int why)
{
	struct sl_l7_choice ch;
	struct sl_stats *st;
	int res, fd;

	if (why >= 0)
		l7_count(l, why, 1);
	res = sl_l7_pick(&l->m, l->cache, &c->t, head, &ch);
	if (res == SL_L7_PICK_NO_ENDPOINT && (st = l7_row(l, ch.subset_id)))
		ADD(st->no_endpoint, 1);
	if (res != SL_L7_PICK_OK) {
		l7_count(l, SL_L7_C_NO_ROUTE, 1);
		l7_conn_close(l, c, true);
		return;
	}
	l7_count(l, ch.header_route ? SL_L7_C_HEADER_ROUTE : SL_L7_C_DEFAULT_ROUTE, 1);
	c->subset_id = ch.subset_id;
	st = l7_row(l, ch.subset_id);
	if (st)
		ADD(st->conns_opened, 1);

	/* TCP_NODELAY once connected (on_connected) */
	fd = l7_connect_ep(ch.family, ch.addr, ch.port, L7_CONNECT_RELAY_BUFS);
	if (fd < 0) {
		l7_count(l, SL_L7_C_CONNECT_FAILED, 1);
		l7_conn_close(l, c, true);
		return;
	}
	c->fd[BACKEND] = fd;
	c->state = C_CONNECTING;
	c->deadline = l7_now_ms() + l->o.connect_timeout_ms;
	/* the client's bytes wait in its socket until the relay starts */
	if (l7_add_fd(l, c, BACKEND, EPOLLOUT))
		l7_conn_close(l, c, true);
}

void l7_on_head(struct sl_l7 *l, struct conn *c, uint32_t events)
{
	struct sl_http_head head;
	ssize_t n;
	int res;

	n = recv(c->fd[CLIENT], l->buf, l->o.head_max, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN && !(events & (EPOLLRDHUP | EPOLLHUP)))
		return;
	if (n <= 0) {
		/* gone before it asked anything: nothing to route */
		l7_conn_close(l, c, n < 0);
		return;
	}
	/* HTTP/2 prior knowledge: each stream is routed on its own (h2.h) */
	res = l7_h2_preface(l->buf, n);
	if (res > 0) {
		l7_h2_start(l, c);
		return;
	}
	if (!res && !(events & (EPOLLRDHUP | EPOLLHUP)))
		return; /* a piece of the preface: wait (the head timeout holds) */
	res = sl_h1_request_head(NULL, l->buf, n, &head);
	/*
	 * HTTP/1.x goes per request (l7_h1.c), a bad or oversized head too:
	 * it answers 400 there rather than pass something ambiguous on.
	 */
	if (res == 1 || res == -EBADMSG ||
	    (res == 0 && (size_t)n >= l->o.head_max && sl_h1_looks_http(l->buf, n)))
		l7_h1_begin(l, c);
	else if (res < 0)
		decide(l, c, NULL, SL_L7_C_NOT_HTTP);
	else if ((size_t)n >= l->o.head_max)
		decide(l, c, NULL, SL_L7_C_HEAD_TOO_BIG);
	else if (events & (EPOLLRDHUP | EPOLLHUP))
		decide(l, c, NULL, SL_L7_C_NOT_HTTP); /* half a head, then FIN */
	else if (++c->heads >= L7_MAX_PEEKS)
		/* each peek copies and parses it all again: a trickle costs n^2 */
		decide(l, c, NULL, SL_L7_C_HEAD_TIMEOUT);
}

void l7_timeouts(struct sl_l7 *l, uint64_t now)
{
	struct conn *c, *next;

	for (c = l->conns; c; c = next) {
		next = c->next;
		if (!c->deadline || now < c->deadline)
			continue;
		if (c->state == C_H1) {
			l7_h1_timeout(l, c);
		} else if (c->state == C_HEAD) {
			decide(l, c, NULL, SL_L7_C_HEAD_TIMEOUT);
		} else if (c->state == C_CONNECTING) {
			l7_count(l, SL_L7_C_CONNECT_FAILED, 1);
			l7_conn_close(l, c, true);
		} else {
			/* a reset: what waits for a peer that does not read is freed now */
			l7_count(l, SL_L7_C_IDLE_TIMEOUT, 1);
			l7_conn_close(l, c, true);
		}
	}
}

void l7_on_conn_event(struct sl_l7 *l, struct conn *c, int which, uint32_t events)
{
	if (c->dead)
		return;
	switch (c->state) {
	case C_HEAD:
		l7_on_head(l, c, events);
		break;
	case C_CONNECTING:
		if (which == BACKEND)
			on_connected(l, c);
		else if (events & (EPOLLERR | EPOLLHUP))
			l7_conn_close(l, c, true); /* the client reset: no backend to bother */
		break;
	case C_H1:
		l7_h1_event(l, c, which, events);
		break;
	case C_RELAY:
		/*
		 * A reset on a socket no direction is reading or writing right
		 * now would otherwise go unseen until it is: take it from
		 * SO_ERROR (which clears it; the socket then reads as EOF).
		 */
		if (events & EPOLLERR) {
			int soerr = 0;
			socklen_t len = sizeof(soerr);

			if (!getsockopt(c->fd[which], SOL_SOCKET, SO_ERROR, &soerr, &len) && soerr)
				broke(l, c, which, soerr);
		}
		l7_relay(l, c);
		break;
	case C_H2:
		l7_h2_on_event(l, c, which, events);
		break;
	}
}
