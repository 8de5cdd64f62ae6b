// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/1.x routed per request (l7_h1.h). One request at a time per client
 * connection (an exchange):
 *
 *   head      peek the client's socket until a whole request head is there
 *             (l7_http.h: a fresh parse of what is peeked, so nothing is
 *             consumed before the head is known to be good); match and pick
 *             it (l7_pick.h, the kernel's maps, seed and weights); take an
 *             idle connection to the endpoint from the pool (l7_pool.h) or
 *             open one; splice exactly the head's bytes into the pipe.
 *   exchange  both directions at once, so Expect: 100-continue and early
 *             responses work: a body of known length is spliced as it is
 *             (never copied to user space); a chunked body and every
 *             response head are peeked and fed to the parser, and exactly
 *             the bytes it says belong to the message are spliced on.
 *   end       the response is through: counted (l7_observe_request), the
 *             upstream connection back to the pool if both sides keep it
 *             alive and it ended cleanly, and the next request (pipelined
 *             ones wait in the client's socket, so they are answered in
 *             order). A 101 or a CONNECT's 2xx turns the pair into a
 *             spliced tunnel (C_RELAY, l7_relay.c).
 *
 * Bytes after a message are never consumed with it: each splice takes
 * exactly what the parser counted, so a request smuggled behind another
 * is parsed as a request of its own (and routed, or refused) like any.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "l7/l7_conn.h"
#include "l7/l7_h1.h"
#include "l7/l7_http.h"
#include "l7/l7_pick.h"
#include "l7/l7_pool.h"
#include "l7/l7_relay.h"
#include "lib/log.h"

struct h1 {
	struct sl_h1 req, resp;
	uint64_t skip[2]; /* bytes of a body of known length still to splice, per direction */
	bool in_x;	  /* an exchange is in flight */
	bool connecting;
	bool req_done, resp_done;
	bool eof_body;	   /* the response ends when the backend closes */
	bool tunnel;	   /* the response switched protocols */
	bool close_after;  /* the client connection ends with this response */
	bool resp_started; /* some of the response went to the client */
	unsigned int status;
	uint32_t subset;
	uint32_t nreq; /* requests on this client connection so far */
	uint64_t t0_us;
	uint64_t ttfb_us; /* request start to the response head; 0 before it */
	struct l7_ep ep;
};

#define H1_SPLICE_MAX (1 << 20)

/*
 * A request's response time, as the kernel measures a connection's: from
 * the request's start to the response head (its first byte), or to now
 * for an answer that never had one (a 502 of ours).
 */
static uint64_t response_time(const struct h1 *x)
{
	return x->ttfb_us ?: l7_now_us() - x->t0_us;
}

static void touch(struct sl_l7 *l, struct conn *c)
{
	if (l->o.idle_timeout_ms)
		c->deadline = l7_now_ms() + l->o.idle_timeout_ms;
}

/* The upstream connection of the exchange: out of the epoll set, then closed (or pooled). */
static void drop_backend(struct sl_l7 *l, struct conn *c, bool reuse)
{
	struct h1 *x = c->h1;
	int fd = c->fd[BACKEND];

	if (fd < 0)
		return;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	c->fd[BACKEND] = -1;
	if (reuse) {
		l7_pool_put(l, &x->ep, fd);
		return;
	}
	l7_rst(fd);
	close(fd);
}

/*
 * Answer a request ourselves and close: 400 for a head or body we will not
 * pass on, 502/503/504 for a backend. What the client has sent is read away
 * first, or the close would reset the connection before the answer is read.
 */
static void answer_close(struct sl_l7 *l, struct conn *c, unsigned int code, const char *reason)
{
	struct h1 *x = c->h1;
	char msg[160];
	int n, i;

	if (x && x->in_x) {
		l7_observe_request(l, x->subset, code, l7_now_us() - x->t0_us);
		drop_backend(l, c, false);
	}
	for (i = 0; i < 16 && recv(c->fd[CLIENT], l->buf, l->o.head_max, MSG_DONTWAIT) > 0; i++)
		;
	n = snprintf(msg, sizeof(msg),
		     "HTTP/1.1 %u %s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", code,
		     reason);
	if (!x || !x->resp_started)
		send(c->fd[CLIENT], msg, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(c->fd[CLIENT], SHUT_WR);
	l7_conn_close(l, c, false);
}

static void bad_request(struct sl_l7 *l, struct conn *c)
{
	l7_count(l, SL_L7_C_BAD_REQUEST, 1);
	answer_close(l, c, 400, "Bad Request");
}

/* The backend broke mid-exchange: 502 if the client has seen nothing yet, else a reset. */
static void backend_failed(struct sl_l7 *l, struct conn *c, int err)
{
	struct h1 *x = c->h1;
	struct sl_stats *st = l7_row(l, x->subset);

	if (st && (err == ECONNRESET || err == EPIPE))
		ADD(st->backend_resets, 1);
	if (!x->resp_started) {
		answer_close(l, c, 502, "Bad Gateway");
		return;
	}
	l7_observe_request(l, x->subset, x->status, response_time(x));
	x->in_x = false;
	l7_conn_close(l, c, true);
}

/*
 * The n-th request of a connection is picked with the connection's tuple
 * and its port moved by n: the first one lands exactly where the kernel
 * would have sent the connection, the later ones spread by the weights
 * like new connections would (Envoy picks weighted clusters at random per
 * request; a hash keeps the choice reproducible).
 */
static int pick(struct sl_l7 *l, struct conn *c, const struct sl_http_head *head,
		struct sl_l7_choice *ch)
{
	struct sl_l7_tuple t = c->t;

	if (c->h1->nreq)
		t.sport = htons((uint16_t)(ntohs(t.sport) + c->h1->nreq * 40503U));
	return sl_l7_pick(&l->m, l->cache, &t, head, ch);
}

/* 1: an exchange has started; 0: waiting for the head; -1: c is closed. */
static int next_request(struct sl_l7 *l, struct conn *c)
{
	struct h1 *x = c->h1;
	struct sl_http_head head;
	struct sl_l7_choice ch;
	struct sl_stats *st;
	ssize_t n, moved;
	int res, fd;
	bool pending = false;

	n = recv(c->fd[CLIENT], l->buf, l->o.head_max, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		/* the client is done (or broke) between requests */
		l7_conn_close(l, c, n < 0);
		return -1;
	}
	res = sl_h1_request_head(&x->req, l->buf, n, &head);
	if (res == 0 && (size_t)n < l->o.head_max) {
		if (++c->heads < L7_MAX_PEEKS)
			return 0;
		/* each peek parses it all again: a trickle costs n^2 */
		l7_count(l, SL_L7_C_HEAD_TIMEOUT, 1);
		answer_close(l, c, 408, "Request Timeout");
		return -1;
	}
	if (res == 0)
		l7_count(l, SL_L7_C_HEAD_TOO_BIG, 1);
	if (res <= 0) {
		bad_request(l, c);
		return -1;
	}
	c->heads = 0;
	res = pick(l, c, &head, &ch);
	if (res == SL_L7_PICK_NO_ENDPOINT && (st = l7_row(l, ch.subset_id)))
		ADD(st->no_endpoint, 1);
	if (res != SL_L7_PICK_OK) {
		l7_count(l, SL_L7_C_NO_ROUTE, 1);
		answer_close(l, c, res == SL_L7_PICK_NO_ENDPOINT ? 503 : 404,
			     res == SL_L7_PICK_NO_ENDPOINT ? "Service Unavailable" : "Not Found");
		return -1;
	}
	/* per request here: these count decisions, and each request is one */
	l7_count(l, ch.header_route ? SL_L7_C_HEADER_ROUTE : SL_L7_C_DEFAULT_ROUTE, 1);
	if (c->subset_id == SL_SUBSET_NONE) {
		/* the connection is counted once, in its first request's subset */
		c->subset_id = ch.subset_id;
		if ((st = l7_row(l, ch.subset_id)))
			ADD(st->conns_opened, 1);
	}
	x->subset = ch.subset_id;
	x->ep = (struct l7_ep){.family = ch.family, .port = ch.port};
	memcpy(x->ep.addr, ch.addr, 16);
	x->t0_us = l7_now_us();
	x->ttfb_us = 0;
	x->nreq++;
	x->in_x = true;
	x->status = 0;
	x->req_done = x->req.done;
	x->resp_done = x->eof_body = x->tunnel = x->resp_started = false;
	x->skip[B2C] = 0;
	x->skip[C2B] = sl_h1_body_left(&x->req);
	/* another upstream socket: it earns its buffer on its own */
	c->h[B2C].earned = false;
	c->h[B2C].out = 0;
	x->close_after = !http_should_keep_alive(&x->req.p);
	sl_h1_response_start(&x->resp, sl_h1_is_head(&x->req), sl_h1_is_connect(&x->req));

	/* the head, exactly: what follows is the body's or the next request's */
	moved = splice(c->fd[CLIENT], NULL, c->h[C2B].pw, NULL, head.head_len, SPLICE_F_NONBLOCK);
	if (moved != (ssize_t)head.head_len) {
		x->in_x = false;
		l7_conn_close(l, c, true);
		return -1;
	}
	c->h[C2B].in_pipe = moved;
	if ((st = l7_row(l, x->subset)))
		ADD(st->bytes_in, moved);

	fd = l7_pool_get(l, &x->ep);
	if (fd < 0) {
		fd = l7_connect_ep(x->ep.family, x->ep.addr, x->ep.port,
				   L7_CONNECT_NODELAY | L7_CONNECT_RELAY_BUFS);
		if (fd < 0) {
			l7_count(l, SL_L7_C_CONNECT_FAILED, 1);
			answer_close(l, c, 503, "Service Unavailable");
			return -1;
		}
		pending = true;
	}
	c->fd[BACKEND] = fd;
	x->connecting = pending;
	if (l7_add_fd(l, c, BACKEND, RELAY_EVENTS)) {
		c->fd[BACKEND] = -1;
		close(fd);
		answer_close(l, c, 503, "Service Unavailable");
		return -1;
	}
	return 1;
}

/*
 * Empty the pipe of dir into its destination. 0 when empty, 1 when it waits,
 * -errno. A source whose destination reads gets the whole receive buffer,
 * as in the relay (l7_earn): the start one would cap a download's window.
 */
static int flush_pipe(struct conn *c, int dir)
{
	struct half *h = &c->h[dir];
	int dst = c->fd[dir == C2B ? BACKEND : CLIENT], src = c->fd[dir == C2B ? CLIENT : BACKEND];
	ssize_t n;

	while (h->in_pipe) {
		n = splice(h->pr, NULL, dst, NULL, h->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			h->in_pipe -= n;
			if (!h->earned)
				l7_earn(h, src, n);
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return 1;
		return n < 0 ? -errno : -EPIPE;
	}
	return 0;
}

/* Splice up to len bytes from src into dir's (empty) pipe: bytes moved, 0 at EOF, -errno. */
static ssize_t fill_pipe(struct sl_l7 *l, struct conn *c, int dir, int src, size_t len)
{
	struct sl_stats *st = l7_row(l, c->h1->subset);
	ssize_t n = splice(src, NULL, c->h[dir].pw, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

	if (n < 0)
		return -errno;
	c->h[dir].in_pipe = n;
	if (st && n)
		ADD(*(dir == C2B ? &st->bytes_in : &st->bytes_out), n);
	return n;
}

enum { P_WAIT = 0, P_CLIENT_BROKE, P_BACKEND_BROKE, P_BAD_REQ, P_BAD_RESP, P_CLOSED };

/* The request's body, client -> backend. */
static int pump_request(struct sl_l7 *l, struct conn *c, int *err)
{
	struct h1 *x = c->h1;
	ssize_t n, got;

	for (;;) {
		*err = flush_pipe(c, C2B);
		if (*err < 0) {
			*err = -*err;
			return P_BACKEND_BROKE;
		}
		if (*err > 0 || x->req_done)
			return P_WAIT;
		if (x->skip[C2B]) {
			n = fill_pipe(l, c, C2B, c->fd[CLIENT],
				      x->skip[C2B] < H1_SPLICE_MAX ? x->skip[C2B] : H1_SPLICE_MAX);
			if (n == -EAGAIN)
				return P_WAIT;
			if (n <= 0) {
				*err = n ? -n : EPIPE;
				return P_CLIENT_BROKE; /* gone in the middle of its body */
			}
			x->skip[C2B] -= n;
			x->req_done = !x->skip[C2B];
			continue;
		}
		/* chunked: the parser says where it ends */
		got = recv(c->fd[CLIENT], l->buf, l->o.head_max, MSG_PEEK | MSG_DONTWAIT);
		if (got < 0 && errno == EAGAIN)
			return P_WAIT;
		if (got <= 0) {
			*err = got ? errno : EPIPE;
			return P_CLIENT_BROKE;
		}
		n = sl_h1_feed(&x->req, l->buf, got);
		if (n < 0)
			return P_BAD_REQ;
		if (n > 0 && fill_pipe(l, c, C2B, c->fd[CLIENT], n) != n)
			return P_CLIENT_BROKE;
		x->req_done = x->req.done;
	}
}

/* A response head has come whole: what its body is, and what it makes of the exchange. */
static void response_head(struct sl_l7 *l, struct conn *c)
{
	struct h1 *x = c->h1;

	x->eof_body = sl_h1_until_eof(&x->resp);
	x->skip[B2C] = sl_h1_body_left(&x->resp);
}

/* The response, backend -> client. */
static int pump_response(struct sl_l7 *l, struct conn *c, int *err)
{
	struct h1 *x = c->h1;
	ssize_t n, got;
	bool had_head;

	for (;;) {
		*err = flush_pipe(c, B2C);
		if (*err < 0) {
			*err = -*err;
			return P_CLIENT_BROKE;
		}
		if (*err > 0 || x->resp_done)
			return P_WAIT;
		if (x->skip[B2C] || x->eof_body) {
			n = fill_pipe(l, c, B2C, c->fd[BACKEND],
				      x->skip[B2C] && x->skip[B2C] < H1_SPLICE_MAX ? x->skip[B2C]
										   : H1_SPLICE_MAX);
			if (n == -EAGAIN)
				return P_WAIT;
			if (n == 0 && x->eof_body) {
				x->resp_done = true;
				x->close_after = true;
				continue;
			}
			if (n <= 0) {
				*err = n ? -n : EPIPE;
				return P_BACKEND_BROKE;
			}
			x->resp_started = true;
			if (x->skip[B2C]) {
				x->skip[B2C] -= n;
				x->resp_done = !x->skip[B2C];
			}
			continue;
		}
		got = recv(c->fd[BACKEND], l->buf, l->o.head_max, MSG_PEEK | MSG_DONTWAIT);
		if (got < 0 && errno == EAGAIN)
			return P_WAIT;
		if (got < 0) {
			*err = errno;
			return P_BACKEND_BROKE;
		}
		if (got == 0) {
			*err = EPIPE;
			if (sl_h1_eof(&x->resp))
				return P_BACKEND_BROKE;
			x->resp_done = true;
			x->close_after = true;
			continue;
		}
		had_head = x->resp.headers_done;
		n = sl_h1_feed(&x->resp, l->buf, got);
		if (n < 0)
			return P_BAD_RESP;
		if (n > 0) {
			if (fill_pipe(l, c, B2C, c->fd[BACKEND], n) != n) {
				*err = EPIPE;
				return P_BACKEND_BROKE;
			}
			x->resp_started = true;
		}
		if (!had_head && x->resp.headers_done) {
			x->status = x->resp.code;
			x->ttfb_us = l7_now_us() - x->t0_us ?: 1;
			response_head(l, c);
		}
		if (!x->resp.done)
			continue;
		if (x->resp.code >= 100 && x->resp.code < 200 && x->resp.code != 101 &&
		    !sl_h1_upgrade(&x->resp)) {
			/* 100 Continue and the like: the final response follows */
			l7_count_code(l, x->subset, x->resp.code);
			sl_h1_response_start(&x->resp, sl_h1_is_head(&x->req),
					     sl_h1_is_connect(&x->req));
			continue;
		}
		x->resp_done = true;
		x->tunnel = sl_h1_upgrade(&x->resp);
		if (!sl_h1_keep_alive(&x->resp))
			x->close_after = true;
	}
}

/* A 101 or a CONNECT's 2xx is through: the pair is a tunnel, spliced as any relay. */
static void to_tunnel(struct sl_l7 *l, struct conn *c)
{
	struct h1 *x = c->h1;
	int i;

	l7_observe_request(l, x->subset, x->status, response_time(x));
	for (i = 0; i < 2; i++)
		c->h[i] = (struct half){.pr = c->h[i].pr, .pw = c->h[i].pw};
	c->subset_id = x->subset;
	c->state = C_RELAY;
	free(x);
	c->h1 = NULL;
	touch(l, c);
	l7_relay(l, c);
}

/* The response is through: count it, keep or close both sides. */
static bool finish(struct sl_l7 *l, struct conn *c)
{
	struct h1 *x = c->h1;
	bool reuse;

	l7_observe_request(l, x->subset, x->status, response_time(x));
	/* a response before the whole request: the upstream connection is mid-message */
	if (!x->req_done)
		x->close_after = true;
	reuse = x->req_done && !x->eof_body && sl_h1_keep_alive(&x->resp) && !x->skip[C2B] &&
		!x->skip[B2C];
	drop_backend(l, c, reuse);
	x->in_x = false;
	if (x->close_after || l->draining) {
		shutdown(c->fd[CLIENT], SHUT_WR);
		l7_conn_close(l, c, false);
		return false;
	}
	return true;
}

static void run(struct sl_l7 *l, struct conn *c)
{
	struct h1 *x = c->h1;
	int res, err = 0;

	for (;;) {
		if (!x->in_x) {
			/* a hand-over is under way: no new request until it is through */
			if (l->ho_sock >= 0)
				return;
			if (next_request(l, c) <= 0)
				return;
			touch(l, c);
			if (x->connecting)
				c->deadline = l7_now_ms() + l->o.connect_timeout_ms;
		}
		if (x->connecting)
			return;
		/* both ways: a response may come before the request's body is all sent */
		res = pump_request(l, c, &err);
		if (res == P_WAIT)
			res = pump_response(l, c, &err);
		switch (res) {
		case P_WAIT:
			break;
		case P_BAD_REQ:
			bad_request(l, c);
			return;
		case P_BAD_RESP:
			pr_debug("l7: a response that cannot be framed: closed\n");
			backend_failed(l, c, EPROTO);
			return;
		case P_BACKEND_BROKE:
			backend_failed(l, c, err);
			return;
		default:
			x->in_x = false;
			drop_backend(l, c, false);
			l7_conn_close(l, c, true);
			return;
		}
		touch(l, c);
		/* a backend that answers before the body is in may not read it: no reuse */
		if (x->resp_done && !x->req_done)
			x->close_after = true;
		/*
		 * The response is through; a request body still coming goes on to
		 * the backend (which may reset it: counted), and then both close.
		 */
		if (!x->resp_done || c->h[B2C].in_pipe || (!x->req_done && !x->tunnel))
			return;
		if (x->tunnel) {
			if (!x->req_done || c->h[C2B].in_pipe)
				return;
			to_tunnel(l, c);
			return;
		}
		if (!finish(l, c))
			return;
	}
}

void l7_h1_begin(struct sl_l7 *l, struct conn *c)
{
	c->h1 = calloc(1, sizeof(*c->h1));
	if (!c->h1 || l7_make_pipes(l, c) || l7_set_ev(l, c, CLIENT, RELAY_EVENTS)) {
		l7_conn_close(l, c, true);
		return;
	}
	c->state = C_H1;
	c->heads = 0;
	run(l, c);
}

void l7_h1_event(struct sl_l7 *l, struct conn *c, int which, uint32_t events)
{
	struct h1 *x = c->h1;
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (which == BACKEND && x->connecting) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd[BACKEND], SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
			pr_debug("l7: connect to the backend failed: %s\n",
				 strerror(soerr ?: errno));
			l7_count(l, SL_L7_C_CONNECT_FAILED, 1);
			answer_close(l, c, 503, "Service Unavailable");
			return;
		}
		x->connecting = false;
	}
	run(l, c);
}

void l7_h1_timeout(struct sl_l7 *l, struct conn *c)
{
	struct h1 *x = c->h1;

	if (x->in_x && x->connecting) {
		l7_count(l, SL_L7_C_CONNECT_FAILED, 1);
		answer_close(l, c, 504, "Gateway Timeout");
		return;
	}
	l7_count(l, SL_L7_C_IDLE_TIMEOUT, 1);
	if (x->in_x)
		drop_backend(l, c, false);
	x->in_x = false;
	l7_conn_close(l, c, true);
}

bool l7_h1_idle(const struct conn *c)
{
	return c->state == C_H1 && !c->h1->in_x && !c->h[C2B].in_pipe && !c->h[B2C].in_pipe;
}

enum {
	H1W_IN_X = 1 << 0,
	H1W_CONNECTING = 1 << 1,
	H1W_REQ_DONE = 1 << 2,
	H1W_RESP_DONE = 1 << 3,
	H1W_EOF_BODY = 1 << 4,
	H1W_TUNNEL = 1 << 5,
	H1W_CLOSE_AFTER = 1 << 6,
	H1W_RESP_STARTED = 1 << 7,
	H1W_ALL = (1 << 8) - 1,
};

enum { S_IN_VALUE = 1, S_HEADERS_DONE = 2, S_DONE = 4, S_NO_BODY = 8, S_CONNECT = 16 };

static uint32_t sbits(const struct sl_h1 *s)
{
	return (s->in_value ? S_IN_VALUE : 0) | (s->headers_done ? S_HEADERS_DONE : 0) |
	       (s->done ? S_DONE : 0) | (s->no_body ? S_NO_BODY : 0) | (s->connect ? S_CONNECT : 0);
}

static void sset(struct sl_h1 *s, uint32_t b, const uint8_t *p, uint32_t code)
{
	memset(s, 0, sizeof(*s));
	memcpy(&s->p, p, sizeof(s->p));
	s->p.data = s;
	s->in_value = b & S_IN_VALUE;
	s->headers_done = b & S_HEADERS_DONE;
	s->done = b & S_DONE;
	s->no_body = b & S_NO_BODY;
	s->connect = b & S_CONNECT;
	s->code = code;
}

bool l7_h1_export(const struct conn *c, struct l7_h1_wire *w)
{
	const struct h1 *x = c->h1;

	memset(w, 0, sizeof(*w));
	w->skip[0] = x->skip[0];
	w->skip[1] = x->skip[1];
	w->age_us = x->in_x ? l7_now_us() - x->t0_us : 0;
	w->status = x->status;
	w->subset = x->subset;
	w->nreq = x->nreq;
	w->flags = (x->in_x ? H1W_IN_X : 0) | (x->connecting ? H1W_CONNECTING : 0) |
		   (x->req_done ? H1W_REQ_DONE : 0) | (x->resp_done ? H1W_RESP_DONE : 0) |
		   (x->eof_body ? H1W_EOF_BODY : 0) | (x->tunnel ? H1W_TUNNEL : 0) |
		   (x->close_after ? H1W_CLOSE_AFTER : 0) |
		   (x->resp_started ? H1W_RESP_STARTED : 0);
	w->req_bits = sbits(&x->req);
	w->resp_bits = sbits(&x->resp);
	w->req_code = x->req.code;
	w->resp_code = x->resp.code;
	w->ep = x->ep;
	memcpy(w->req_p, &x->req.p, sizeof(w->req_p));
	memcpy(w->resp_p, &x->resp.p, sizeof(w->resp_p));
	return x->in_x && c->fd[BACKEND] >= 0;
}

int l7_h1_import(struct conn *c, const struct l7_h1_wire *w, bool has_backend)
{
	struct h1 *x;

	if ((w->flags & ~H1W_ALL) || !(w->flags & H1W_IN_X) != !has_backend ||
	    (w->ep.family != SL_AF_INET && w->ep.family != SL_AF_INET6 && has_backend))
		return -EPROTO;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->skip[0] = w->skip[0];
	x->skip[1] = w->skip[1];
	x->t0_us = l7_now_us() - w->age_us;
	x->status = w->status;
	x->subset = w->subset;
	x->nreq = w->nreq;
	x->in_x = w->flags & H1W_IN_X;
	x->connecting = w->flags & H1W_CONNECTING;
	x->req_done = w->flags & H1W_REQ_DONE;
	x->resp_done = w->flags & H1W_RESP_DONE;
	x->eof_body = w->flags & H1W_EOF_BODY;
	x->tunnel = w->flags & H1W_TUNNEL;
	x->close_after = w->flags & H1W_CLOSE_AFTER;
	x->resp_started = w->flags & H1W_RESP_STARTED;
	x->ep = w->ep;
	sset(&x->req, w->req_bits, w->req_p, w->req_code);
	sset(&x->resp, w->resp_bits, w->resp_p, w->resp_code);
	c->h1 = x;
	return 0;
}

int l7_h1_resume(struct sl_l7 *l, struct conn *c)
{
	int err = l7_add_fd(l, c, CLIENT, RELAY_EVENTS);

	if (!err && c->fd[BACKEND] >= 0)
		err = l7_add_fd(l, c, BACKEND, RELAY_EVENTS);
	if (err)
		return err;
	run(l, c);
	return 0;
}

void l7_h1_free(struct sl_l7 *l, struct conn *c)
{
	if (!c->h1)
		return;
	if (c->h1->in_x)
		drop_backend(l, c, false);
	free(c->h1);
	c->h1 = NULL;
}
