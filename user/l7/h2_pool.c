// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/2 sessions and their sockets (h2.h, h2_int.h): a client's session
 * taken from the head reader, the pool of upstream sessions per endpoint,
 * reading and writing on the L7 step's epoll set (edge-triggered, as the
 * relay), a timer for idle sessions, and the hooks the rest of the step
 * calls. The streams are h2_stream.c's.
 *
 * Writing: nghttp2 makes a session's output one frame at a time; frames are
 * gathered (H2_WBUF) for one send(2) each, which is most of what a stream
 * costs otherwise. What the socket does not take waits (h2_sess.pend, at
 * most H2_WBUF) and nothing more is made until it has gone, so a client that does not read stops
 * its streams' data providers, their buffers stop draining, and the upstream's windows close (and
 * the other way round).
 *
 * Freeing: an upstream session whose events may still be in the current
 * epoll batch is not freed at once but after two timer ticks (p->dying,
 * then p->dead): a tick is one event, so two never fall in one batch.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "l7/h2_int.h"
#include "l7/l7_relay.h"
#include "lib/log.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

int l7_h2_preface(const char *buf, size_t n)
{
	static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	size_t k = n < sizeof(pre) - 1 ? n : sizeof(pre) - 1;

	if (memcmp(buf, pre, k))
		return -1;
	return k == sizeof(pre) - 1;
}

/* ---- output ---- */

void h2_dirty(struct h2_sess *x)
{
	struct h2_pool *p = x->p;

	if (x->dirty)
		return;
	x->dirty = true;
	x->dprev = NULL;
	x->dnext = p->dirty;
	if (p->dirty)
		p->dirty->dprev = x;
	p->dirty = x;
}

static void undirty(struct h2_sess *x)
{
	if (!x->dirty)
		return;
	if (x->dprev)
		x->dprev->dnext = x->dnext;
	else
		x->p->dirty = x->dnext;
	if (x->dnext)
		x->dnext->dprev = x->dprev;
	x->dirty = false;
}

/* Write what is pending; true when all of it went. */
static bool write_pend(struct h2_sess *x)
{
	ssize_t n;

	while (x->pend_len) {
		n = send(x->fd, x->pend + x->pend_off, x->pend_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				x->broken = true;
			return false;
		}
		x->pend_off += n;
		x->pend_len -= n;
		x->last_active = l7_now_ms();
	}
	x->pend_off = 0;
	return true;
}

/* Gather frames into p->wbuf: how many bytes; -1 when nghttp2 failed. */
static ssize_t gather(struct h2_sess *x, uint8_t *w)
{
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (!x->out_len) {
			n = nghttp2_session_mem_send(x->s, &x->out);
			if (n < 0)
				return -1;
			if (!n)
				return len;
			x->out_len = n;
		}
		if (len && len + x->out_len > H2_WBUF)
			return len; /* x->out stays valid: no mem_send until it is taken */
		n = x->out_len < H2_WBUF - len ? x->out_len : H2_WBUF - len;
		memcpy(w + len, x->out, n);
		len += n;
		x->out += n;
		x->out_len -= n;
		if (len == H2_WBUF)
			return len;
	}
}

static void flush(struct h2_sess *x)
{
	uint8_t *w = x->p->wbuf;
	ssize_t len, n;

	if (x->broken || (x->kind == H2_UP && !container_of(x, struct h2_up, x)->connected))
		return;
	while (write_pend(x)) {
		len = gather(x, w);
		if (len < 0) {
			x->broken = true;
			return;
		}
		if (!len)
			return;
		n = send(x->fd, w, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			x->broken = true;
			return;
		}
		if (n < 0)
			n = 0;
		if (n)
			x->last_active = l7_now_ms();
		if (n < len) {
			if (!x->pend) {
				x->pend = malloc(H2_WBUF);
				if (!x->pend) {
					x->broken = true;
					return;
				}
			}
			memcpy(x->pend, w + n, len - n);
			x->pend_len = len - n;
		}
	}
}

static void read_all(struct h2_sess *x)
{
	struct h2_pool *p = x->p;
	ssize_t n;

	while (!x->broken && !x->gone) {
		n = recv(x->fd, p->rbuf, sizeof(p->rbuf), MSG_DONTWAIT);
		if (n > 0) {
			x->last_active = l7_now_ms();
			if (nghttp2_session_mem_recv(x->s, p->rbuf, n) < 0)
				x->broken = true;
			continue;
		}
		if (!n)
			x->gone = true;
		else if (errno != EAGAIN && errno != EINTR)
			x->broken = true;
		return;
	}
}

/* ---- ends ---- */

static void up_kill(struct h2_pool *p, struct h2_up *u)
{
	h2_up_streams_gone(u, NGHTTP2_REFUSED_STREAM);
	undirty(&u->x);
	nghttp2_session_del(u->x.s);
	u->x.s = NULL;
	free(u->x.pend);
	u->x.pend = NULL;
	l7_close_fd(&u->x.fd);
	if (u->prev)
		u->prev->next = u->next;
	else
		p->ups = u->next;
	if (u->next)
		u->next->prev = u->prev;
	u->fake.dead = true;
	u->prev = NULL;
	u->next = p->dying;
	p->dying = u;
}

static bool done(struct h2_sess *x)
{
	return x->broken || x->gone ||
	       (!x->out_len && !x->pend_len && !nghttp2_session_want_read(x->s) &&
		!nghttp2_session_want_write(x->s));
}

/*
 * Send what every touched session has to send, and end the sessions that
 * are done; ending one touches others (its streams' peers), until none is
 * left to do. Never called from inside an nghttp2 callback.
 */
static void settle(struct h2_pool *p)
{
	struct h2_sess *x;

	if (p->settling)
		return;
	p->settling = true;
	while ((x = p->dirty)) {
		undirty(x);
		flush(x);
		if (!done(x))
			continue;
		if (x->kind == H2_UP) {
			struct h2_up *u = container_of(x, struct h2_up, x);

			if (!u->connected)
				l7_count(p->l, SL_L7_C_CONNECT_FAILED, 1);
			up_kill(p, u);
		} else {
			struct h2_down *d = container_of(x, struct h2_down, x);

			/* via l7_h2_release(): its streams end, d is freed */
			l7_conn_close(p->l, d->c, x->broken);
		}
	}
	p->settling = false;
}

/* ---- the pool ---- */

static struct h2_pool *pool(struct sl_l7 *l)
{
	struct itimerspec its = {.it_interval.tv_nsec = H2_TICK_MS * 1000000L,
				 .it_value.tv_nsec = H2_TICK_MS * 1000000L};
	struct epoll_event e = {.events = EPOLLIN};
	struct h2_pool *p;

	if (l->h2)
		return l->h2;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->l = l;
	p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	p->tfake.state = C_H2;
	p->tfake.ref[0] = (struct ref){.c = &p->tfake, .which = 0};
	e.data.ptr = &p->tfake.ref[0];
	if (p->tfd < 0 || timerfd_settime(p->tfd, 0, &its, NULL) ||
	    epoll_ctl(l->ep, EPOLL_CTL_ADD, p->tfd, &e) || h2_callbacks(p) ||
	    nghttp2_option_new(&p->opt)) {
		pr_warn("l7: HTTP/2: cannot set up: %s\n", strerror(errno));
		l->h2 = p;
		l7_h2_stop(l);
		return NULL;
	}
	/* consumed only as the other side takes it: flow control end to end */
	nghttp2_option_set_no_auto_window_update(p->opt, 1);
	l->h2 = p;
	return p;
}

static int settings(nghttp2_session *s, bool server)
{
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
	    {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	};
	int err;

	/* a server must not send ENABLE_PUSH */
	err = nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, server ? 2 : 3);
	return err
		   ?: nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0,
							    H2_CONN_WINDOW);
}

static struct h2_up *up_new(struct h2_pool *p, uint8_t family, const uint32_t addr[4],
			    uint16_t port)
{
	struct epoll_event e = {.events = RELAY_EVENTS};
	struct h2_up *u;

	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->x = (struct h2_sess){.kind = H2_UP, .fd = -1, .p = p, .last_active = l7_now_ms()};
	u->fake.state = C_H2;
	u->fake.ref[BACKEND] = (struct ref){.c = &u->fake, .which = BACKEND};
	u->family = family;
	memcpy(u->addr, addr, sizeof(u->addr));
	u->port = port;
	u->born = l7_now_ms();
	/* nghttp2 sizes its own windows: no relay buffers */
	u->x.fd = l7_connect_ep(family, addr, port, L7_CONNECT_NODELAY);
	if (u->x.fd < 0) {
		errno = -u->x.fd;
		u->x.fd = -1;
		goto fail;
	}
	if (nghttp2_session_client_new2(&u->x.s, p->cb_up, u, p->opt))
		goto fail;
	if (settings(u->x.s, false))
		goto fail;
	e.data.ptr = &u->fake.ref[BACKEND];
	if (epoll_ctl(p->l->ep, EPOLL_CTL_ADD, u->x.fd, &e))
		goto fail;
	u->next = p->ups;
	if (p->ups)
		p->ups->prev = u;
	p->ups = u;
	return u;
fail:
	pr_debug("l7: HTTP/2: no upstream session: %s\n", strerror(errno));
	if (u->x.s)
		nghttp2_session_del(u->x.s);
	l7_close_fd(&u->x.fd);
	free(u);
	return NULL;
}

struct h2_up *h2_up_get(struct h2_pool *p, uint8_t family, const uint32_t addr[4], uint16_t port)
{
	struct h2_up *u, *best = NULL;
	int same = 0;

	for (u = p->ups; u; u = u->next) {
		if (u->family != family || u->port != port || memcmp(u->addr, addr, 16) ||
		    u->goaway || u->x.broken || u->x.gone)
			continue;
		same++;
		if (!best || u->x.n_streams < best->x.n_streams)
			best = u;
	}
	if (best && best->x.n_streams < H2_UP_STREAMS)
		return best;
	if (same < H2_UPS_PER_EP)
		return up_new(p, family, addr, port) ?: best;
	return best; /* nghttp2 queues what exceeds the endpoint's concurrency */
}

/* ---- events ---- */

static void up_connected(struct h2_up *u)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(u->x.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
		pr_debug("l7: HTTP/2: connect to an upstream failed: %s\n",
			 strerror(soerr ?: errno));
		u->x.broken = true;
		return;
	}
	u->connected = true;
}

static void tick(struct h2_pool *p)
{
	uint64_t now = l7_now_ms(), v;
	struct sl_l7 *l = p->l;
	struct h2_down *d;
	struct h2_up *u;

	if (read(p->tfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	while ((u = p->dead)) {
		p->dead = u->next;
		free(u);
	}
	p->dead = p->dying;
	p->dying = NULL;
	for (u = p->ups; u; u = u->next) {
		if (!u->connected && now - u->born >= l->o.connect_timeout_ms) {
			u->x.broken = true;
		} else if (!u->x.n_streams && now - u->x.last_active >= H2_UP_IDLE_MS &&
			   !u->goaway) {
			u->goaway = true;
			nghttp2_session_terminate_session(u->x.s, NGHTTP2_NO_ERROR);
		}
		if (u->x.broken || u->goaway)
			h2_dirty(&u->x);
	}
	for (d = p->downs; d && l->o.idle_timeout_ms; d = d->next) {
		if (now - d->x.last_active < l->o.idle_timeout_ms)
			continue;
		l7_count(l, SL_L7_C_IDLE_TIMEOUT, 1);
		/* no stream: a GOAWAY; streams that moved nothing that long: a reset */
		if (d->x.n_streams)
			d->x.broken = true;
		else
			nghttp2_session_terminate_session(d->x.s, NGHTTP2_NO_ERROR);
		d->x.last_active = now;
		h2_dirty(&d->x);
	}
	settle(p);
}

void l7_h2_on_event(struct sl_l7 *l, struct conn *c, int which, uint32_t events)
{
	struct h2_pool *p = l->h2;
	struct h2_sess *x;

	if (!p)
		return;
	if (c == &p->tfake) {
		tick(p);
		return;
	}
	if (c->h2) {
		x = &c->h2->x;
	} else {
		struct h2_up *u = container_of(c, struct h2_up, fake);

		x = &u->x;
		if (!u->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			up_connected(u);
		if (!u->connected && !x->broken)
			return;
	}
	if (events & EPOLLERR) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (!getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) && soerr)
			x->broken = true;
	}
	read_all(x);
	h2_dirty(x);
	settle(p);
}

/* ---- hooks ---- */

void l7_h2_start(struct sl_l7 *l, struct conn *c)
{
	struct h2_pool *p = pool(l);
	struct h2_down *d;
	int one = 1;

	d = p ? calloc(1, sizeof(*d)) : NULL;
	if (!d) {
		l7_conn_close(l, c, true);
		return;
	}
	d->x = (struct h2_sess){
	    .kind = H2_DOWN, .fd = c->fd[CLIENT], .p = p, .last_active = l7_now_ms()};
	d->c = c;
	if (getrandom(&d->nonce, sizeof(d->nonce), GRND_NONBLOCK) != sizeof(d->nonce))
		d->nonce = (uint32_t)(uintptr_t)d ^ (uint32_t)l7_now_ms();
	if (nghttp2_session_server_new2(&d->x.s, p->cb_down, d, p->opt) || settings(d->x.s, true)) {
		if (d->x.s)
			nghttp2_session_del(d->x.s);
		free(d);
		l7_conn_close(l, c, true);
		return;
	}
	d->next = p->downs;
	if (p->downs)
		p->downs->prev = d;
	p->downs = d;
	c->h2 = d;
	c->state = C_H2;
	c->deadline = 0; /* idle sessions are the timer's (tick()) */
	setsockopt(c->fd[CLIENT], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (l7_set_ev(l, c, CLIENT, RELAY_EVENTS)) {
		l7_conn_close(l, c, true);
		return;
	}
	read_all(&d->x);
	h2_dirty(&d->x);
	settle(p);
}

void l7_h2_release(struct sl_l7 *l, struct conn *c)
{
	struct h2_pool *p = l->h2;
	struct h2_down *d = c->h2;

	c->h2 = NULL;
	if (!p || !d)
		return;
	h2_down_streams_gone(d);
	undirty(&d->x);
	nghttp2_session_del(d->x.s);
	free(d->x.pend);
	if (d->prev)
		d->prev->next = d->next;
	else
		p->downs = d->next;
	if (d->next)
		d->next->prev = d->prev;
	free(d);
	/* the upstream streams it cancelled: say so now */
	settle(p);
}

void l7_h2_handover(struct sl_l7 *l)
{
	struct h2_pool *p = l->h2;
	struct h2_down *d;

	if (!p)
		return;
	for (d = p->downs; d; d = d->next) {
		nghttp2_session_terminate_session(d->x.s, NGHTTP2_NO_ERROR);
		flush(&d->x);
	}
	while ((d = p->downs))
		l7_conn_close(l, d->c, false);
}

void l7_h2_drain(struct sl_l7 *l)
{
	struct h2_pool *p = l->h2;
	struct h2_down *d;

	if (!p)
		return;
	for (d = p->downs; d; d = d->next) {
		nghttp2_submit_goaway(d->x.s, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(d->x.s),
				      NGHTTP2_NO_ERROR, NULL, 0);
		h2_dirty(&d->x);
	}
	settle(p);
}

void l7_h2_stop(struct sl_l7 *l)
{
	struct h2_pool *p = l->h2;
	struct h2_up *u;
	int pass;

	if (!p)
		return;
	while (p->downs)
		l7_conn_close(l, p->downs->c, true);
	while ((u = p->ups))
		up_kill(p, u);
	for (pass = 0; pass < 2; pass++) {
		while ((u = p->dead)) {
			p->dead = u->next;
			free(u);
		}
		p->dead = p->dying;
		p->dying = NULL;
	}
	l7_close_fd(&p->tfd);
	if (p->cb_down)
		nghttp2_session_callbacks_del(p->cb_down);
	if (p->cb_up)
		nghttp2_session_callbacks_del(p->cb_up);
	if (p->opt)
		nghttp2_option_del(p->opt);
	free(p);
	l->h2 = NULL;
}
