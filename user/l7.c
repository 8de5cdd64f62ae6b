// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The L7 step (l7.h). One thread, one epoll set:
 *
 *   HEAD        the client's socket, edge-triggered: peek (MSG_PEEK, never
 *               consumed) until the request head is complete, too big,
 *               not HTTP, or late; then pick (l7_pick.h) and connect.
 *   CONNECTING  a non-blocking connect to the endpoint.
 *   RELAY       two pipes, one per direction, and splice(2) in and out,
 *               both sockets edge-triggered (see relay()).
 *               A direction reads only when its pipe is empty, so what is
 *               in flight is bounded by the pipe and the socket buffers:
 *               a slow reader slows its writer (TCP backpressure), it
 *               never grows a queue here.
 *
 * Counters go into the same rows the kernel counts in (sl_l7_stats is an
 * mmapable array, atomic adds) so status and metrics show one picture.
 *
 * Hot restart: a successor connects to the hand-over socket and receives
 * the listeners and every connection, each as its file descriptors (the
 * sockets and the pipes with whatever bytes they hold) plus its state, over
 * SCM_RIGHTS. Nothing is re-read or re-sent; the relay goes on from where
 * it stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <bpf/bpf.h>

#include "l7.h"
#include "l7_match.h"
#include "l7_pick.h"
#include "log.h"

enum cstate { C_HEAD = 0, C_CONNECTING, C_RELAY };
enum { C2B = 0, B2C = 1 };
enum { CLIENT = 0, BACKEND = 1 };

struct half {
	int pr, pw;	/* the pipe */
	size_t in_pipe; /* bytes in it */
	bool eof;	/* read 0 from the source */
	bool shut;	/* shutdown(SHUT_WR) done on the destination */
};

struct conn;

/* What an epoll event is about: a connection's socket, or one of ours. */
struct ref {
	struct conn *c; /* NULL: listener, hand-over socket or wake-up */
	int which;
};

struct conn {
	struct conn *prev, *next;
	enum cstate state;
	bool dead; /* closed while events of this batch may still name it */
	int fd[2]; /* CLIENT, BACKEND */
	uint32_t ev[2];
	struct ref ref[2];
	struct half h[2];
	uint32_t subset_id;
	uint64_t deadline; /* ms, CLOCK_MONOTONIC; 0: none */
	struct sl_l7_tuple t;
};

/* Exact HTTP codes, summed here and written to sl_l7_codes now and then. */
#define CODE_PENDING 256

struct sl_l7 {
	struct sl_maps m;
	struct sl_l7_opts o;
	int ep, wake, done;
	int lfd[SL_L7_LISTEN_MAX];
	int hfd;
	struct ref lref[SL_L7_LISTEN_MAX], href, wref;
	pthread_t th;
	bool th_started;
	struct sl_stats *stats; /* mmap of sl_l7_stats */
	size_t stats_len;
	struct sl_l7_counters *cnt; /* mmap of sl_l7_counters */
	size_t cnt_len;
	struct sl_l7_cache *cache;
	struct conn *conns, *dead;
	size_t n_conns;
	bool published; /* listeners in sl_l7_listen */
	bool handed_over;
	bool stopping;
	/* sl_l7_drain(): CLOCK_MONOTONIC ms to give up at; 0: stop at once */
	uint64_t drain_until;
	bool draining;
	uint64_t limit_said; /* when the limit was last logged */
	char *buf; /* head_max bytes of peeked request */
	struct {
		struct sl_http_code_key k;
		uint64_t n;
	} codes[CODE_PENDING];
	size_t n_codes;
	uint64_t codes_flushed;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- counters ---- */

static void count(struct sl_l7 *l, int idx, int64_t d)
{
	__atomic_fetch_add(&l->cnt->c[idx], (uint64_t)d, __ATOMIC_RELAXED);
}

static struct sl_stats *row(struct sl_l7 *l, uint32_t subset_id)
{
	return subset_id < SL_MAX_SUBSET_IDS ? &l->stats[subset_id] : NULL;
}

#define ADD(field, v) __atomic_fetch_add(&(field), (uint64_t)(v), __ATOMIC_RELAXED)

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
	l->codes_flushed = now_ms();
}

/*
 * A response starts where the backend's next read starts: the kernel's rule
 * (bpf/http.h), applied to each read instead of each packet.
 */
static void count_status(struct sl_l7 *l, struct conn *c)
{
	struct sl_stats *st = row(l, c->subset_id);
	char s[12];
	unsigned int code;
	size_t i;

	if (!st || recv(c->fd[BACKEND], s, sizeof(s), MSG_PEEK | MSG_DONTWAIT) != sizeof(s))
		return;
	if (memcmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
	    s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9')
		return;
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
}

/* ---- listeners ---- */

static int publish(struct sl_l7 *l, bool on)
{
	__u32 i;
	int err = 0;

	for (i = 0; i < SL_L7_LISTEN_MAX; i++) {
		__u64 fd = l->lfd[i];

		if (l->lfd[i] < 0)
			continue;
		if (on && bpf_map_update_elem(l->m.l7_listen, &i, &fd, BPF_ANY))
			err = -errno;
		if (!on)
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

	if (c->fd[which] < 0 || c->ev[which] == ev)
		return 0;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd[which], &e))
		return -errno;
	c->ev[which] = ev;
	return 0;
}

static int add_fd(struct sl_l7 *l, struct conn *c, int which, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = &c->ref[which]};

	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd[which], &e))
		return -errno;
	c->ev[which] = ev;
	return 0;
}

static struct conn *conn_new(struct sl_l7 *l)
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

static void close_fd(int *fd)
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
 * End a connection. reset: abort both sides (RST), as the kernel path
 * would show a backend's reset or an unreachable backend. The client
 * socket's TCP_INFO gives the packets it carried, for the kernel-style
 * packet counters.
 */
static void conn_close(struct sl_l7 *l, struct conn *c, bool reset)
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
		close_fd(&c->fd[i]);
		close_fd(&c->h[i].pr);
		close_fd(&c->h[i].pw);
	}
	count(l, SL_L7_C_ACTIVE, -1);
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

/*
 * Over the limit, the listeners leave sl_l7_listen: sl_ingress then DNATs
 * new connections by weight (counted as l7_fallback) until there is room.
 */
static void check_limit(struct sl_l7 *l)
{
	if (l->handed_over || l->stopping || l->draining)
		return;
	uint64_t now;

	if (l->published && l->n_conns >= l->o.max_conns) {
		publish(l, false);
		count(l, SL_L7_C_OVER_LIMIT, 1);
		/* said once a minute at most: at the limit this flaps */
		now = now_ms();
		if (!l->limit_said || now - l->limit_said >= 60000) {
			l->limit_said = now;
			pr_warn("l7: %zu connections relayed, the limit (--l7-max-conns): new ones "
				"go the kernel path, without header routing, until some end\n",
				l->n_conns);
		}
	} else if (!l->published && l->n_conns <= l->o.max_conns * 9 / 10) {
		publish(l, true);
	}
}

/* Move what can move in one direction; -errno on a broken socket. */
static int pump(struct sl_l7 *l, struct conn *c, int dir)
{
	struct half *h = &c->h[dir];
	int src = c->fd[dir == C2B ? CLIENT : BACKEND], dst = c->fd[dir == C2B ? BACKEND : CLIENT];
	struct sl_stats *st = row(l, c->subset_id);
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
			return n < 0 ? -errno : -EPIPE;
		}
		if (h->eof) {
			if (!h->shut && shutdown(dst, SHUT_WR) && errno != ENOTCONN)
				return -errno;
			h->shut = true;
			return 0;
		}
		if (dir == B2C)
			count_status(l, c);
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
		return -errno;
	}
}

/*
 * Both sockets stay registered edge-triggered for reading and writing, and
 * every event of a connection pumps both directions until each waits for
 * something (EAGAIN): no interest to keep in step, no epoll_ctl per state
 * change, and no wake-ups for a condition that lasts (a peer's FIN while
 * our pipe waits for a slow writer).
 */
#define RELAY_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static void relay(struct sl_l7 *l, struct conn *c)
{
	int err, dir;

	for (dir = C2B; dir <= B2C; dir++) {
		err = pump(l, c, dir);
		if (err) {
			struct sl_stats *st = row(l, c->subset_id);

			/* a reset from the backend counts as the kernel counts it */
			if (st && (err == -ECONNRESET || err == -EPIPE) && dir == B2C)
				ADD(st->backend_resets, 1);
			conn_close(l, c, true);
			return;
		}
	}
	if (c->h[C2B].shut && c->h[B2C].shut)
		conn_close(l, c, false);
}

static int make_pipes(struct conn *c)
{
	int p[2], dir;

	for (dir = C2B; dir <= B2C; dir++) {
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
			return -errno;
		c->h[dir].pr = p[0];
		c->h[dir].pw = p[1];
	}
	return 0;
}

static void on_connected(struct sl_l7 *l, struct conn *c)
{
	socklen_t len = sizeof(int);
	int soerr = 0, one = 1;

	if (getsockopt(c->fd[BACKEND], SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
		pr_debug("l7: connect to the backend failed: %s\n", strerror(soerr ?: errno));
		count(l, SL_L7_C_CONNECT_FAILED, 1);
		conn_close(l, c, true);
		return;
	}
	setsockopt(c->fd[BACKEND], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (make_pipes(c)) {
		conn_close(l, c, true);
		return;
	}
	c->state = C_RELAY;
	c->deadline = 0;
	if (set_ev(l, c, CLIENT, RELAY_EVENTS) || set_ev(l, c, BACKEND, RELAY_EVENTS)) {
		conn_close(l, c, true);
		return;
	}
	relay(l, c);
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
		count(l, why, 1);
	res = sl_l7_pick(&l->m, l->cache, &c->t, head, &ch);
	if (res == SL_L7_PICK_NO_ENDPOINT && (st = row(l, ch.subset_id)))
		ADD(st->no_endpoint, 1);
	if (res != SL_L7_PICK_OK) {
		count(l, SL_L7_C_NO_ROUTE, 1);
		conn_close(l, c, true);
		return;
	}
	count(l, ch.header_route ? SL_L7_C_HEADER_ROUTE : SL_L7_C_DEFAULT_ROUTE, 1);
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
		conn_close(l, c, true);
		return;
	}
	c->fd[BACKEND] = fd;
	if (connect(fd, (struct sockaddr *)&ss, alen) && errno != EINPROGRESS) {
		count(l, SL_L7_C_CONNECT_FAILED, 1);
		conn_close(l, c, true);
		return;
	}
	c->state = C_CONNECTING;
	c->deadline = now_ms() + l->o.connect_timeout_ms;
	/* the client's bytes wait in its socket until the relay starts */
	if (add_fd(l, c, BACKEND, EPOLLOUT))
		conn_close(l, c, true);
}

static void on_head(struct sl_l7 *l, struct conn *c, uint32_t events)
{
	struct sl_http_head head;
	ssize_t n;
	int res;

	n = recv(c->fd[CLIENT], l->buf, l->o.head_max, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN && !(events & (EPOLLRDHUP | EPOLLHUP)))
		return;
	if (n <= 0) {
		/* gone before it asked anything: nothing to route */
		conn_close(l, c, n < 0);
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

static void accept_all(struct sl_l7 *l, int i)
{
	struct conn *c;
	int fd, one = 1;

	while ((fd = accept4(l->lfd[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		c = conn_new(l);
		if (!c) {
			rst(fd);
			close(fd);
			continue;
		}
		c->fd[CLIENT] = fd;
		count(l, SL_L7_C_ACCEPTED, 1);
		count(l, SL_L7_C_ACTIVE, 1);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->deadline = now_ms() + l->o.head_timeout_ms;
		/* edge-triggered: peeked bytes stay readable, only new ones wake us */
		if (tuple_of(fd, &c->t) || add_fd(l, c, CLIENT, EPOLLIN | EPOLLRDHUP | EPOLLET)) {
			conn_close(l, c, true);
			continue;
		}
		check_limit(l);
		/* the request often comes with the handshake's last ACK */
		on_head(l, c, 0);
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
			count(l, SL_L7_C_CONNECT_FAILED, 1);
			conn_close(l, c, true);
		}
	}
}

static void on_conn_event(struct sl_l7 *l, struct conn *c, int which, uint32_t events)
{
	if (c->dead)
		return;
	switch (c->state) {
	case C_HEAD:
		on_head(l, c, events);
		break;
	case C_CONNECTING:
		if (which == BACKEND)
			on_connected(l, c);
		else if (events & (EPOLLERR | EPOLLHUP))
			conn_close(l, c, true); /* the client reset: no backend to bother */
		break;
	case C_RELAY:
		if (events & EPOLLERR) {
			int soerr = 0;
			socklen_t len = sizeof(soerr);

			getsockopt(c->fd[which], SOL_SOCKET, SO_ERROR, &soerr, &len);
			if (which == BACKEND && soerr == ECONNRESET && row(l, c->subset_id))
				ADD(row(l, c->subset_id)->backend_resets, 1);
			conn_close(l, c, true);
			break;
		}
		relay(l, c);
		break;
	}
}

/* ---- hot restart ---- */

#define HO_MAGIC   0x534c484f /* "SLHO" */
#define HO_VERSION 1

enum ho_type { HO_HELLO = 1, HO_LISTENERS, HO_CONN, HO_END, HO_ACK };

/* One message; its descriptors ride along as SCM_RIGHTS. */
struct ho_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t nfds;
	uint32_t state;
	uint32_t subset_id;
	uint32_t listen_mask; /* HO_LISTENERS: which families follow, in order */
	uint8_t eof[2], shut[2];
	uint32_t pid;
	uint64_t in_pipe[2];
	int64_t deadline_in; /* ms left; 0: none */
	struct sl_l7_tuple t;
};

#define HO_MAX_FDS 6

static int ho_send(int s, const struct ho_msg *m, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * HO_MAX_FDS)] = {};
	struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (nfds) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != sizeof(*m))
		return errno ? -errno : -EIO;
	return 0;
}

static int ho_recv(int s, struct ho_msg *m, int *fds, int *nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * HO_MAX_FDS)];
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t n;

	*nfds = 0;
	n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			memcpy(fds + *nfds, CMSG_DATA(cm), sizeof(int) * k);
			*nfds += k;
		}
	if (n != sizeof(*m) || m->magic != HO_MAGIC || m->version != HO_VERSION ||
	    (mh.msg_flags & MSG_CTRUNC) || m->nfds != (uint32_t)*nfds) {
		while (*nfds)
			close(fds[--*nfds]);
		return n == 0 ? -ECONNRESET : -EPROTO;
	}
	return 0;
}

static void set_timeouts(int s, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Predecessor: a successor asked. Everything goes, or nothing does. */
static void handoff_serve(struct sl_l7 *l)
{
	struct ho_msg m = {.magic = HO_MAGIC, .version = HO_VERSION};
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int s, fds[HO_MAX_FDS], nfds, i, err;
	uint64_t now = now_ms();
	size_t sent = 0;
	struct conn *c;

	s = accept4(l->hfd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return;
	/* the socket file is root's 0600 already; the peer must be us, too */
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) || cr.uid != geteuid()) {
		pr_warn("l7: hand-over refused to pid %d (uid %d)\n", (int)cr.pid, (int)cr.uid);
		close(s);
		return;
	}
	set_timeouts(s, 5000);
	err = ho_recv(s, &m, fds, &nfds);
	if (err || m.type != HO_HELLO) {
		close(s);
		return;
	}
	pr_info("l7: handing over to pid %u: %zu connections\n", m.pid, l->n_conns);

	for (i = 0; i < SL_L7_LISTEN_MAX; i++)
		if (l->lfd[i] >= 0)
			epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd[i], NULL);
	memset(&m, 0, sizeof(m));
	m.magic = HO_MAGIC;
	m.version = HO_VERSION;
	m.type = HO_LISTENERS;
	for (i = 0, nfds = 0; i < SL_L7_LISTEN_MAX; i++)
		if (l->lfd[i] >= 0) {
			m.listen_mask |= 1U << i;
			fds[nfds++] = l->lfd[i];
		}
	m.nfds = nfds;
	err = ho_send(s, &m, fds, nfds);
	for (c = l->conns; c && !err; c = c->next, sent++) {
		memset(&m, 0, sizeof(m));
		m.magic = HO_MAGIC;
		m.version = HO_VERSION;
		m.type = HO_CONN;
		m.state = c->state;
		m.subset_id = c->subset_id;
		m.t = c->t;
		m.deadline_in = c->deadline ? (int64_t)(c->deadline - now) : 0;
		nfds = 0;
		fds[nfds++] = c->fd[CLIENT];
		if (c->state != C_HEAD)
			fds[nfds++] = c->fd[BACKEND];
		if (c->state == C_RELAY)
			for (i = 0; i < 2; i++) {
				fds[nfds++] = c->h[i].pr;
				fds[nfds++] = c->h[i].pw;
				m.in_pipe[i] = c->h[i].in_pipe;
				m.eof[i] = c->h[i].eof;
				m.shut[i] = c->h[i].shut;
			}
		m.nfds = nfds;
		err = ho_send(s, &m, fds, nfds);
	}
	if (!err) {
		memset(&m, 0, sizeof(m));
		m.magic = HO_MAGIC;
		m.version = HO_VERSION;
		m.type = HO_END;
		err = ho_send(s, &m, NULL, 0);
	}
	err = err ?: ho_recv(s, &m, fds, &nfds);
	if (!err && m.type != HO_ACK)
		err = -EPROTO;
	close(s);
	if (err) {
		/* the successor is gone: what it got died with it; carry on */
		pr_warn("l7: hand-over failed after %zu connections: %s; keeping them\n", sent,
			strerror(-err));
		for (i = 0; i < SL_L7_LISTEN_MAX; i++)
			if (l->lfd[i] >= 0) {
				struct epoll_event e = {.events = EPOLLIN, .data.ptr = &l->lref[i]};

				epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd[i], &e);
			}
		return;
	}
	/* Ours are copies now: closing them leaves the successor's open. */
	count(l, SL_L7_C_HANDED_OVER, sent);
	while ((c = l->conns)) {
		l->conns = c->next;
		for (i = 0; i < 2; i++) {
			close_fd(&c->fd[i]);
			close_fd(&c->h[i].pr);
			close_fd(&c->h[i].pw);
		}
		free(c);
	}
	l->n_conns = 0;
	for (i = 0; i < SL_L7_LISTEN_MAX; i++)
		close_fd(&l->lfd[i]);
	close_fd(&l->hfd);
	l->handed_over = true;
	pr_info("l7: handed over %zu connections\n", sent);
}

/* Successor: 0 with everything taken, -ENOENT when nobody is there. */
static int handoff_take(struct sl_l7 *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ho_msg m = {.magic = HO_MAGIC, .version = HO_VERSION, .type = HO_HELLO};
	int s, fds[HO_MAX_FDS], nfds, i, k, err;
	uint64_t now = now_ms();
	size_t got = 0;
	struct conn *c;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->o.handoff_path);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(s);
		/* no file, or a file nobody listens on (a predecessor that crashed) */
		return err == -ENOENT || err == -ECONNREFUSED ? -ENOENT : err;
	}
	set_timeouts(s, 10000);
	m.pid = getpid();
	err = ho_send(s, &m, NULL, 0);
	while (!err) {
		err = ho_recv(s, &m, fds, &nfds);
		if (err)
			break;
		if (m.type == HO_END)
			break;
		if (m.type == HO_LISTENERS) {
			for (i = 0, k = 0; i < SL_L7_LISTEN_MAX; i++)
				if ((m.listen_mask & (1U << i)) && k < nfds)
					l->lfd[i] = fds[k++];
			continue;
		}
		if (m.type != HO_CONN || !(c = conn_new(l))) {
			while (nfds)
				close(fds[--nfds]);
			err = m.type != HO_CONN ? -EPROTO : -ENOMEM;
			break;
		}
		c->state = m.state;
		c->subset_id = m.subset_id;
		c->t = m.t;
		c->deadline = m.deadline_in ? now + (m.deadline_in > 0 ? m.deadline_in : 0) : 0;
		c->fd[CLIENT] = fds[0];
		if (nfds > 1)
			c->fd[BACKEND] = fds[1];
		if (nfds == HO_MAX_FDS)
			for (i = 0; i < 2; i++) {
				c->h[i].pr = fds[2 + 2 * i];
				c->h[i].pw = fds[3 + 2 * i];
				c->h[i].in_pipe = m.in_pipe[i];
				c->h[i].eof = m.eof[i];
				c->h[i].shut = m.shut[i];
			}
		got++;
	}
	if (!err) {
		m = (struct ho_msg){.magic = HO_MAGIC, .version = HO_VERSION, .type = HO_ACK};
		/* if it is gone now, it is gone with nothing of ours: go on */
		ho_send(s, &m, NULL, 0);
	}
	close(s);
	if (err) {
		/*
		 * The predecessor keeps these (it carries on without an
		 * acknowledgement): close our copies, quietly. No reset, no
		 * counting: the connections are alive, and not ours.
		 */
		while ((c = l->conns)) {
			l->conns = c->next;
			for (i = 0; i < 2; i++) {
				close_fd(&c->fd[i]);
				close_fd(&c->h[i].pr);
				close_fd(&c->h[i].pw);
			}
			free(c);
		}
		l->n_conns = 0;
		for (i = 0; i < SL_L7_LISTEN_MAX; i++)
			close_fd(&l->lfd[i]);
		pr_warn("l7: taking over from the running sluice failed after %zu connections: "
			"%s; it keeps them, and new ones come here\n",
			got, strerror(-err));
		return err;
	}
	count(l, SL_L7_C_TAKEN_OVER, got);
	pr_info("l7: took over %zu relayed connections\n", got);
	return 0;
}

/* Register what was taken over and get it moving again. */
static int resume_conns(struct sl_l7 *l)
{
	struct conn *c, *next;
	int err;

	for (c = l->conns; c; c = next) {
		next = c->next;
		switch (c->state) {
		case C_HEAD:
			err = add_fd(l, c, CLIENT, EPOLLIN | EPOLLRDHUP | EPOLLET);
			if (!err)
				on_head(l, c, 0);
			break;
		case C_CONNECTING:
			err = add_fd(l, c, CLIENT, EPOLLIN | EPOLLRDHUP | EPOLLET);
			err = err ?: add_fd(l, c, BACKEND, EPOLLOUT);
			break;
		default:
			err = add_fd(l, c, CLIENT, RELAY_EVENTS);
			err = err ?: add_fd(l, c, BACKEND, RELAY_EVENTS);
			if (!err)
				relay(l, c);
			break;
		}
		if (err)
			conn_close(l, c, true);
	}
	return 0;
}

static int open_handoff(struct sl_l7 *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)], *slash;
	mode_t old;
	int fd, err;

	if (strlen(l->o.handoff_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->o.handoff_path);
	snprintf(dir, sizeof(dir), "%s", l->o.handoff_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(sa.sun_path);
	/* whoever can connect gets every relayed socket: owner only */
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err || listen(fd, 4)) {
		err = -errno;
		close(fd);
		return err;
	}
	l->hfd = fd;
	return 0;
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
	uint64_t last_tick = now_ms();
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
				handoff_serve(l);
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
		now = now_ms();
		if (l->n_codes && (now - l->codes_flushed >= 100 || n == 0))
			flush_codes(l);
		if (now - last_tick >= 250) {
			timeouts(l, now);
			free_dead(l);
			last_tick = now;
		}
		if (l->draining) {
			/* the accept queue too: those handshakes were ours */
			for (i = 0; i < SL_L7_LISTEN_MAX; i++)
				if (l->lfd[i] >= 0)
					accept_all(l, i);
			free_dead(l);
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
	err = map_counters(l);
	if (err) {
		pr_warn("Error: l7: cannot map the counters: %s\n", strerror(-err));
		goto fail;
	}

	err = l->o.handoff_path ? handoff_take(l) : -ENOENT;
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
	resume_conns(l);
	free_dead(l);
	err = publish(l, l->n_conns < l->o.max_conns);
	if (err) {
		pr_warn("Error: l7: cannot publish the listeners in %s: %s\n", SL_MAP_L7_LISTEN,
			strerror(-err));
		goto fail;
	}
	if (l->o.handoff_path) {
		err = open_handoff(l);
		if (err) {
			pr_warn("l7: no hot restart: cannot listen on %s: %s\n",
				l->o.handoff_path, strerror(-err));
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
	__atomic_store_n(&l->drain_until, now_ms() + (ms ?: 1), __ATOMIC_RELEASE);
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
		conn_close(l, c, true);
	free_dead(l);
	for (i = 0; i < SL_L7_LISTEN_MAX; i++)
		close_fd(&l->lfd[i]);
	if (l->hfd >= 0) {
		close_fd(&l->hfd);
		unlink(l->o.handoff_path);
	}
	close_fd(&l->ep);
	close_fd(&l->wake);
	close_fd(&l->done);
	if (l->stats)
		munmap(l->stats, l->stats_len);
	if (l->cnt)
		munmap(l->cnt, l->cnt_len);
	sl_l7_cache_free(l->cache);
	free(l->buf);
	free(l);
}
