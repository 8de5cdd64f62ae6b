// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The L7 step (l7.h). One thread, one epoll set:
 *
 *   HEAD        the client's socket, edge-triggered: peek (MSG_PEEK, never
 *               consumed) until the request head is complete, too big,
 *               not HTTP, or late; then pick (l7_pick.h) and connect.
 *   CONNECTING  a non-blocking connect to the endpoint.
 *   RELAY       two pipes, one per direction, and splice(2) in and out,
 *               both sockets edge-triggered (see l7_internal.h).
 *               A direction reads only when its pipe is empty, so what is
 *               in flight is bounded by the pipe and the socket buffers:
 *               a slow reader slows its writer (TCP backpressure), it
 *               never grows a queue here.
 *
 * Counters go into sl_l7_stats, an mmapable array with atomic adds indexed
 * by the kernel's subset ids; every reader adds it to the kernel's own rows
 * (sl_stats_add), so status and metrics show one picture.
 *
 * Hot restart: l7_handoff.c.
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
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <bpf/bpf.h>

#include "l7/l7_internal.h"
#include "l7/l7_match.h"
#include "lib/log.h"

uint64_t l7_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- counters ---- */

void l7_count(struct sl_l7 *l, int idx, int64_t d)
{
	__atomic_fetch_add(&l->cnt->c[idx], (uint64_t)d, __ATOMIC_RELAXED);
}

static struct sl_stats *row(struct sl_l7 *l, uint32_t subset_id)
{
	return subset_id < SL_MAX_SUBSET_IDS ? &l->stats[subset_id] : NULL;
}

static void flush_codes(struct sl_l7 *l)
{
	size_t i;

	for (i = 0; i < l->n_codes; i++) {
		uint64_t v = 0;

		bpf_map_lookup_elem(l->m.l7_codes, &l->codes[i].k, &v);
		v += l->codes[i].n;
		bpf_map_update_elem(l->m.l7_codes, &l->codes[i].k, &v, BPF_ANY);
	}
	l->n_codes = 0;
	l->codes_flushed = l7_now_ms();
}

/*
 * A response starts where the backend's next read starts: the kernel's rule
 * (bpf/http.h), applied to each read instead of each packet. False when
 * there is nothing to read yet: the caller must then not splice, or bytes
 * that arrive between this peek and the splice would pass uncounted (one
 * response in a few hundred did). The next edge brings them back here.
 */
static bool count_status(struct sl_l7 *l, struct conn *c)
{
	struct sl_stats *st = row(l, c->subset_id);
	char s[12];
	unsigned int code;
	ssize_t n;
	size_t i;

	n = recv(c->fd[BACKEND], s, sizeof(s), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return false;
	if (!st || n != sizeof(s))
		return true; /* EOF, an error or a short tail: the splice says which */
	if (memcmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') || s[8] != ' ' || s[9] < '1' ||
	    s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9')
		return true;
	code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	ADD(st->http_responses[s[9] - '1'], 1);
	for (i = 0; i < l->n_codes; i++)
		if (l->codes[i].k.subset_id == c->subset_id && l->codes[i].k.code == code)
			break;
	if (i == l->n_codes) {
		if (l->n_codes == CODE_PENDING)
			flush_codes(l);
		i = l->n_codes++;
		l->codes[i].k = (struct sl_http_code_key){.subset_id = c->subset_id, .code = code};
		l->codes[i].n = 0;
	}
	l->codes[i].n++;
	return true;
}

/* ---- listeners ---- */

static uint64_t cookie_of(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);

	getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len);
	return c;
}

/*
 * In or out of sl_l7_listen. Out only if the slot still holds our socket:
 * after a hand-over that failed half-way another `run` may have put its own
 * there (a lookup of a sockmap from user space gives the socket's cookie).
 */
static int publish(struct sl_l7 *l, bool on)
{
	__u32 i;
	int err = 0;

	for (i = 0; i < SL_L7_LISTEN_MAX; i++) {
		__u64 v = l->lfd[i];

		if (l->lfd[i] < 0)
			continue;
		if (on && bpf_map_update_elem(l->m.l7_listen, &i, &v, BPF_ANY))
			err = -errno;
		if (!on && !bpf_map_lookup_elem(l->m.l7_listen, &i, &v) &&
		    v == cookie_of(l->lfd[i]))
			bpf_map_delete_elem(l->m.l7_listen, &i);
	}
	if (!err)
		l->published = on;
	return err;
}

/*
 * IP_TRANSPARENT: accepted sockets answer from the VIP, which is no address
 * of this node; without it the route lookup for their SYN-ACK refuses it.
 */
static int open_listener(int family)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
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

/* ---- connections ---- */

static int set_ev(struct sl_l7 *l, struct conn *c, int which, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = &c->ref[which]};

	return epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd[which], &e) ? -errno : 0;
}

int l7_add_fd(struct sl_l7 *l, struct conn *c, int which, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = &c->ref[which]};

	return epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd[which], &e) ? -errno : 0;
}

struct conn *l7_conn_new(struct sl_l7 *l)
{
	struct conn *c = calloc(1, sizeof(*c));
	int i;

	if (!c)
		return NULL;
	for (i = 0; i < 2; i++) {
		c->fd[i] = -1;
		c->ref[i] = (struct ref){.c = c, .which = i};
		c->h[i].pr = c->h[i].pw = -1;
	}
	c->subset_id = SL_SUBSET_NONE;
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->n_conns++;
	return c;
}

void l7_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void rst(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void check_limit(struct sl_l7 *l);

/*
 * A relayed connection needs two pipes; making and closing them is six of
 * the ~38 system calls a short connection costs. An empty pipe is as good
 * as new, so closed connections leave theirs here (nothing else ever is).
 */
static int make_pipes(struct sl_l7 *l, struct conn *c)
{
	int p[2], dir;

	for (dir = C2B; dir <= B2C; dir++) {
		if (l->n_pipes) {
			l->n_pipes--;
			p[0] = l->pipes[l->n_pipes][0];
			p[1] = l->pipes[l->n_pipes][1];
		} else if (pipe2(p, O_NONBLOCK | O_CLOEXEC)) {
			return -errno;
		}
		c->h[dir].pr = p[0];
		c->h[dir].pw = p[1];
	}
	return 0;
}

static void put_pipe(struct sl_l7 *l, struct half *h)
{
	if (h->pr >= 0 && !h->in_pipe && l->n_pipes < L7_PIPE_POOL) {
		l->pipes[l->n_pipes][0] = h->pr;
		l->pipes[l->n_pipes][1] = h->pw;
		l->n_pipes++;
		h->pr = h->pw = -1;
	}
}

/*
 * End a connection. reset: abort both sides (RST), as the kernel path
 * would show a backend's reset or an unreachable backend. The client
 * socket's TCP_INFO gives the packets it carried, for the kernel-style
 * packet counters.
 */
void l7_conn_close(struct sl_l7 *l, struct conn *c, bool reset)
{
	struct sl_stats *st = row(l, c->subset_id);
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int i;

	if (c->dead)
		return;
	if (st) {
		if (!getsockopt(c->fd[CLIENT], IPPROTO_TCP, TCP_INFO, &ti, &len)) {
			ADD(st->packets_in, ti.tcpi_segs_in);
			ADD(st->packets_out, ti.tcpi_segs_out);
		}
		ADD(st->conns_closed, 1);
	}
	if (reset) {
		rst(c->fd[CLIENT]);
		rst(c->fd[BACKEND]);
	}
	for (i = 0; i < 2; i++) {
		l7_close_fd(&c->fd[i]);
		put_pipe(l, &c->h[i]);
		l7_close_fd(&c->h[i].pr);
		l7_close_fd(&c->h[i].pw);
	}
	l7_count(l, SL_L7_C_ACTIVE, -1);
	c->dead = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->n_conns--;
	/* freed after the batch of events that may still name it */
	c->next = l->dead;
	l->dead = c;
	check_limit(l);
}

/* The listeners in or out of the epoll set (not of sl_l7_listen). */
void l7_listeners_poll(struct sl_l7 *l, bool on)
{
	struct epoll_event e = {.events = EPOLLIN};
	int i;

	for (i = 0; i < SL_L7_LISTEN_MAX; i++) {
		if (l->lfd[i] < 0)
			continue;
		e.data.ptr = &l->lref[i];
		epoll_ctl(l->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l->lfd[i], &e);
	}
}

/* Out of sl_l7_listen, counted: sl_ingress splits new connections by weight. */
static void shed(struct sl_l7 *l)
{
	if (!l->published)
		return;
	publish(l, false);
	l7_count(l, SL_L7_C_OVER_LIMIT, 1);
}

/* At a limit this flaps: say so once a minute at most. */
static bool say_now(struct sl_l7 *l)
{
	uint64_t now = l7_now_ms();

	if (l->limit_said && now - l->limit_said < 60000)
		return false;
	l->limit_said = now;
	return true;
}

/*
 * Over the limit, the listeners leave sl_l7_listen: sl_ingress then DNATs
 * new connections by weight (counted as l7_fallback) until there is room.
 */
static void check_limit(struct sl_l7 *l)
{
	if (l->handed_over || l->stopping || l->draining)
		return;
	if (l->starved) {
		/* a connection ended: its descriptors are free, listen again */
		l->starved = false;
		l7_listeners_poll(l, true);
	}
	if (l->published && l->n_conns >= l->o.max_conns) {
		shed(l);
		if (say_now(l))
			pr_warn("l7: %zu connections relayed, the limit (--l7-max-conns): new ones "
				"go the kernel path, without header routing, until some end\n",
				l->n_conns);
	} else if (!l->published && l->n_conns <= l->o.max_conns * 9 / 10) {
		publish(l, true);
	}
}

/*
 * Move what can move in one direction. A broken socket: -errno, and *bad
 * says which one (CLIENT or BACKEND).
 */
static int pump(struct sl_l7 *l, struct conn *c, int dir, int *bad)
{
	int sside = dir == C2B ? CLIENT : BACKEND, dside = !sside;
	int src = c->fd[sside], dst = c->fd[dside];
	struct sl_stats *st = row(l, c->subset_id);
	struct half *h = &c->h[dir];
	ssize_t n;

	for (;;) {
		if (h->in_pipe) {
			n = splice(h->pr, NULL, dst, NULL, h->in_pipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				h->in_pipe -= n;
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
	struct sl_stats *st = row(l, c->subset_id);

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
	int dir, err, bad;

	for (dir = C2B; dir <= B2C; dir++) {
		if (c->h[dir].dropped)
			continue;
		bad = -1;
		err = pump(l, c, dir, &bad);
		if (err && bad >= 0)
			broke(l, c, bad, -err);
		if (c->broken & (1U << BACKEND))
			c->h[C2B].dropped = true; /* nowhere to send the client's bytes */
	}
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
	if (make_pipes(l, c)) {
		l7_conn_close(l, c, true);
		return;
	}
	c->state = C_RELAY;
	c->deadline = 0;
	if (set_ev(l, c, CLIENT, RELAY_EVENTS) || set_ev(l, c, BACKEND, RELAY_EVENTS)) {
		l7_conn_close(l, c, true);
		return;
	}
	l7_relay(l, c);
}

/* A bounded receive buffer on both relayed sockets: see L7_RCVBUF. */
static void relay_rcvbuf(int fd)
{
	int v = L7_RCVBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

/* The head is in (or will not come): choose, count, connect. */
static void decide(struct sl_l7 *l, struct conn *c, const struct sl_http_head *head, int why)
{
	struct sockaddr_storage ss = {};
	struct sl_l7_choice ch;
	struct sl_stats *st;
	socklen_t alen;
	int res, fd;

	if (why >= 0)
		l7_count(l, why, 1);
	res = sl_l7_pick(&l->m, l->cache, &c->t, head, &ch);
	if (res == SL_L7_PICK_NO_ENDPOINT && (st = row(l, ch.subset_id)))
		ADD(st->no_endpoint, 1);
	if (res != SL_L7_PICK_OK) {
		l7_count(l, SL_L7_C_NO_ROUTE, 1);
		l7_conn_close(l, c, true);
		return;
	}
	l7_count(l, ch.header_route ? SL_L7_C_HEADER_ROUTE : SL_L7_C_DEFAULT_ROUTE, 1);
	c->subset_id = ch.subset_id;
	st = row(l, ch.subset_id);
	if (st)
		ADD(st->conns_opened, 1);

	if (ch.family == SL_AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, ch.addr, 16);
		a->sin6_port = ch.port;
		alen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = ch.addr[0];
		a->sin_port = ch.port;
		alen = sizeof(*a);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		l7_conn_close(l, c, true);
		return;
	}
	c->fd[BACKEND] = fd;
	relay_rcvbuf(fd);
	if (connect(fd, (struct sockaddr *)&ss, alen) && errno != EINPROGRESS) {
		l7_count(l, SL_L7_C_CONNECT_FAILED, 1);
		l7_conn_close(l, c, true);
		return;
	}
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
	res = sl_http_parse_head(l->buf, n, &head);
	if (res == 1)
		decide(l, c, &head, -1);
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

static int tuple_of(int fd, struct sl_l7_tuple *t)
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
	return 0;
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
	shed(l);
	if (say_now(l))
		pr_warn("l7: out of file descriptors at %zu connections: new ones go the kernel "
			"path until some end (raise the open files limit, or lower "
			"--l7-max-conns)\n",
			l->n_conns);
}

static void accept_all(struct sl_l7 *l, int i)
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
			rst(fd);
			close(fd);
			continue;
		}
		c->fd[CLIENT] = fd;
		l7_count(l, SL_L7_C_ACCEPTED, 1);
		l7_count(l, SL_L7_C_ACTIVE, 1);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		relay_rcvbuf(fd);
		c->deadline = l7_now_ms() + l->o.head_timeout_ms;
		/* edge-triggered: peeked bytes stay readable, only new ones wake us */
		if (tuple_of(fd, &c->t) ||
		    l7_add_fd(l, c, CLIENT, EPOLLIN | EPOLLRDHUP | EPOLLET)) {
			l7_conn_close(l, c, true);
			continue;
		}
		check_limit(l);
		/* the request often comes with the handshake's last ACK */
		l7_on_head(l, c, 0);
	}
}

static void timeouts(struct sl_l7 *l, uint64_t now)
{
	struct conn *c, *next;

	for (c = l->conns; c; c = next) {
		next = c->next;
		if (!c->deadline || now < c->deadline)
			continue;
		if (c->state == C_HEAD) {
			decide(l, c, NULL, SL_L7_C_HEAD_TIMEOUT);
		} else if (c->state == C_CONNECTING) {
			l7_count(l, SL_L7_C_CONNECT_FAILED, 1);
			l7_conn_close(l, c, true);
		}
	}
}

static void on_conn_event(struct sl_l7 *l, struct conn *c, int which, uint32_t events)
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
	}
}

/* ---- the thread ---- */

static void free_dead(struct sl_l7 *l)
{
	struct conn *c;

	while ((c = l->dead)) {
		l->dead = c->next;
		free(c);
	}
}

static void *l7_main(void *arg)
{
	struct sl_l7 *l = arg;
	struct epoll_event evs[64];
	uint64_t last_tick = l7_now_ms();
	int n, i;

	for (;;) {
		int timeout = l->n_codes ? 100 : 1000;
		uint64_t now;

		n = epoll_wait(l->ep, evs, 64, timeout);
		if (n < 0 && errno != EINTR) {
			pr_warn("l7: epoll_wait: %s\n", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct ref *r = evs[i].data.ptr;

			if (r == &l->wref) {
				eventfd_t v;

				eventfd_read(l->wake, &v);
				l->drain_until = __atomic_load_n(&l->drain_until, __ATOMIC_ACQUIRE);
				if (!l->drain_until)
					goto out;
				if (!l->draining) {
					/* new connections go DNAT from now on */
					l->draining = true;
					publish(l, false);
					pr_info("l7: draining %zu relayed connections\n",
						l->n_conns);
				}
				continue;
			}
			if (r == &l->href) {
				l7_handoff_serve(l);
				if (l->handed_over) {
					flush_codes(l);
					eventfd_write(l->done, 1);
					goto out;
				}
				continue;
			}
			if (!r->c) {
				accept_all(l, r->which);
				continue;
			}
			on_conn_event(l, r->c, r->which, evs[i].events);
		}
		free_dead(l);
		now = l7_now_ms();
		if (l->n_codes && (now - l->codes_flushed >= 100 || n == 0))
			flush_codes(l);
		if (now - last_tick >= 250) {
			timeouts(l, now); /* what it ends is freed after the next batch */
			last_tick = now;
		}
		if (l->draining) {
			/* the accept queue too: those handshakes were ours */
			for (i = 0; i < SL_L7_LISTEN_MAX; i++)
				if (l->lfd[i] >= 0)
					accept_all(l, i);
			if (!l->n_conns || now >= l->drain_until) {
				pr_info("l7: drained; %zu connections left\n", l->n_conns);
				goto out;
			}
		}
	}
out:
	free_dead(l);
	return NULL;
}

/* ---- setup ---- */

static int map_counters(struct sl_l7 *l)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p;

	l->stats_len = ((size_t)SL_MAX_SUBSET_IDS * sizeof(struct sl_stats) + pg - 1) / pg * pg;
	p = mmap(NULL, l->stats_len, PROT_READ | PROT_WRITE, MAP_SHARED, l->m.l7_stats, 0);
	if (p == MAP_FAILED)
		return -errno;
	l->stats = p;
	l->cnt_len = pg;
	p = mmap(NULL, l->cnt_len, PROT_READ | PROT_WRITE, MAP_SHARED, l->m.l7_counters, 0);
	if (p == MAP_FAILED)
		return -errno;
	l->cnt = p;
	return 0;
}

/*
 * Six descriptors per relayed connection: take the hard limit of open files
 * (systemd gives services 1024 soft), and relay no more connections than
 * it allows, so the limit of connections (DNAT beyond it) comes first.
 */
static void fit_fd_limit(struct sl_l7 *l)
{
	struct rlimit rl;
	unsigned long fit;

	rlim_t want = (rlim_t)l->o.max_conns * L7_FDS_PER_CONN + 2 * L7_PIPE_POOL + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < want) {
		struct rlimit up = {.rlim_cur = want,
				    .rlim_max = rl.rlim_max > want ? rl.rlim_max : want};

		/* above the hard limit only with CAP_SYS_RESOURCE; else up to it */
		if (setrlimit(RLIMIT_NOFILE, &up)) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* the pipe pool, the maps, epoll, netlink, the metrics server: 2 x pool + 256 */
	fit = rl.rlim_cur > 2 * L7_PIPE_POOL + 256
		  ? (rl.rlim_cur - 2 * L7_PIPE_POOL - 256) / L7_FDS_PER_CONN
		  : 1;
	if (fit < l->o.max_conns) {
		pr_warn("l7: %lu open files allow %lu relayed connections, not %u: relaying at "
			"most %lu (the rest go the kernel path)\n",
			(unsigned long)rl.rlim_cur, fit, l->o.max_conns, fit);
		l->o.max_conns = fit;
	}
}

void sl_l7_default_handoff(const char *pin_dir, char *buf, size_t len)
{
	const char *base = strrchr(pin_dir, '/');

	snprintf(buf, len, "/run/sluice/%s.handoff", base && base[1] ? base + 1 : "sluice");
}

int sl_l7_start(const struct sl_maps *maps, const struct sl_l7_opts *o, struct sl_l7 **out)
{
	struct epoll_event e = {.events = EPOLLIN};
	struct sl_l7 *l;
	int i, err;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->m = *maps;
	l->m.owned = false;
	l->o = *o;
	l->ep = l->wake = l->done = l->hfd = -1;
	for (i = 0; i < SL_L7_LISTEN_MAX; i++)
		l->lfd[i] = -1;
	l->buf = malloc(l->o.head_max);
	l->cache = sl_l7_cache_new();
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->done = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!l->buf || !l->cache || l->ep < 0 || l->wake < 0 || l->done < 0) {
		err = -ENOMEM;
		goto fail;
	}
	fit_fd_limit(l);
	err = map_counters(l);
	if (err) {
		pr_warn("Error: l7: cannot map the counters: %s\n", strerror(-err));
		goto fail;
	}

	err = l->o.handoff_path ? l7_handoff_take(l) : -ENOENT;
	/* nobody to take over from: what a predecessor relayed died with it */
	if (err == -ENOENT)
		__atomic_store_n(&l->cnt->c[SL_L7_C_ACTIVE], 0, __ATOMIC_RELAXED);
	for (i = 0; i < SL_L7_LISTEN_MAX; i++) {
		if (l->lfd[i] < 0) {
			err = open_listener(i == SL_L7_LISTEN_INET6 ? AF_INET6 : AF_INET);
			if (err < 0 && i == SL_L7_LISTEN_INET6) {
				pr_info("l7: no IPv6 listener (%s): IPv6 header routes go DNAT\n",
					strerror(-err));
				continue;
			}
			if (err < 0) {
				pr_warn("Error: l7: cannot listen: %s\n", strerror(-err));
				goto fail;
			}
			l->lfd[i] = err;
		}
		l->lref[i] = (struct ref){.which = i};
		e.data.ptr = &l->lref[i];
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd[i], &e)) {
			err = -errno;
			goto fail;
		}
	}
	l7_resume_conns(l);
	free_dead(l);
	err = publish(l, l->n_conns < l->o.max_conns);
	if (err) {
		pr_warn("Error: l7: cannot publish the listeners in %s: %s\n", SL_MAP_L7_LISTEN,
			strerror(-err));
		goto fail;
	}
	if (l->o.handoff_path) {
		err = l7_open_handoff(l);
		if (err) {
			pr_warn("l7: no hot restart: cannot listen on %s: %s\n", l->o.handoff_path,
				strerror(-err));
		} else {
			l->href = (struct ref){.which = -1};
			e.data.ptr = &l->href;
			epoll_ctl(l->ep, EPOLL_CTL_ADD, l->hfd, &e);
		}
	}
	l->wref = (struct ref){.which = -2};
	e.data.ptr = &l->wref;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &e)) {
		err = -errno;
		goto fail;
	}
	err = -pthread_create(&l->th, NULL, l7_main, l);
	if (err)
		goto fail;
	l->th_started = true;
	*out = l;
	return 0;
fail:
	sl_l7_stop(l);
	return err;
}

void sl_l7_drain(struct sl_l7 *l, unsigned int ms)
{
	if (!l || !l->th_started)
		return;
	__atomic_store_n(&l->drain_until, l7_now_ms() + (ms ?: 1), __ATOMIC_RELEASE);
	eventfd_write(l->wake, 1);
	pthread_join(l->th, NULL);
	l->th_started = false;
}

int sl_l7_event_fd(const struct sl_l7 *l)
{
	return l ? l->done : -1;
}

bool sl_l7_handed_over(const struct sl_l7 *l)
{
	return l && __atomic_load_n(&l->handed_over, __ATOMIC_ACQUIRE);
}

void sl_l7_stop(struct sl_l7 *l)
{
	struct conn *c;
	int i;

	if (!l)
		return;
	if (l->th_started) {
		__atomic_store_n(&l->drain_until, 0, __ATOMIC_RELEASE);
		eventfd_write(l->wake, 1);
		pthread_join(l->th, NULL);
	}
	l->stopping = true;
	if (!l->handed_over && l->cnt)
		flush_codes(l);
	while ((c = l->conns))
		l7_conn_close(l, c, true);
	free_dead(l);
	for (i = 0; i < SL_L7_LISTEN_MAX; i++)
		l7_close_fd(&l->lfd[i]);
	while (l->n_pipes) {
		l->n_pipes--;
		close(l->pipes[l->n_pipes][0]);
		close(l->pipes[l->n_pipes][1]);
	}
	if (l->hfd >= 0) {
		struct stat st;

		l7_close_fd(&l->hfd);
		/* the file, unless a successor has bound its own there since */
		if (!stat(l->o.handoff_path, &st) && st.st_ino == l->hfd_ino)
			unlink(l->o.handoff_path);
	}
	l7_close_fd(&l->ep);
	l7_close_fd(&l->wake);
	l7_close_fd(&l->done);
	if (l->stats)
		munmap(l->stats, l->stats_len);
	if (l->cnt)
		munmap(l->cnt, l->cnt_len);
	sl_l7_cache_free(l->cache);
	free(l->buf);
	free(l);
}
