// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The L7 step's connections and listeners (l7_conn.h): making and ending a
 * connection, its descriptors and pipes, the counters it feeds, and the
 * limit that takes the listeners out of sl_l7_listen and back. Calls libbpf
 * and the log only: nothing else of the L7 step.
 *
 * Counters go into sl_l7_stats, an mmapable array with atomic adds indexed
 * by the kernel's subset ids; every reader adds it to the kernel's own rows
 * (sl_stats_add), so status and metrics show one picture.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "l7/h2.h"
#include "datapath/rt.h"
#include "l7/l7_conn.h"
#include "l7/l7_h1.h"
#include "lib/log.h"

uint64_t l7_now_ms(void)
{
	return l7_now_us() / 1000;
}

uint64_t l7_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- counters ---- */

void l7_count(struct sl_l7 *l, int idx, int64_t d)
{
	__atomic_fetch_add(&l->cnt->c[idx], (uint64_t)d, __ATOMIC_RELAXED);
}

struct sl_stats *l7_row(struct sl_l7 *l, uint32_t subset_id)
{
	if (subset_id >= l->m.max_ids)
		return NULL;
	if ((subset_id + 1ULL) * sizeof(struct sl_stats) > l->stats_len &&
	    l7_map_stats(l, subset_id + 1ULL))
		return NULL;
	return &l->stats[subset_id];
}

static void lock(struct sl_l7 *l)
{
	if (l->sh)
		pthread_mutex_lock(&l->sh->lock);
}

static void unlock(struct sl_l7 *l)
{
	if (l->sh)
		pthread_mutex_unlock(&l->sh->lock);
}

/* Every thread's: counted under the shared lock (a lone instance: its own). */
static struct l7_clients *clients_of(struct sl_l7 *l)
{
	return l->sh ? &l->sh->clients : &l->clients;
}

/* the threads read and add to the same keys: one at a time */
void l7_flush_codes(struct sl_l7 *l)
{
	size_t i;

	lock(l);
	for (i = 0; i < l->n_codes; i++) {
		uint64_t v = 0;

		bpf_map_lookup_elem(l->m.l7_codes, &l->codes[i].k, &v);
		v += l->codes[i].n;
		/* a new code into a full map: the class counter still has it */
		if (bpf_map_update_elem(l->m.l7_codes, &l->codes[i].k, &v, BPF_ANY))
			l7_count(l, SL_L7_C_CODES_FULL, l->codes[i].n);
	}
	unlock(l);
	l->n_codes = 0;
	l->codes_flushed = l7_now_ms();
}

void l7_count_code(struct sl_l7 *l, uint32_t subset_id, unsigned int code)
{
	struct sl_stats *st = l7_row(l, subset_id);
	size_t i;

	if (!st || code < 100 || code > 599)
		return;
	ADD(st->http_responses[code / 100 - 1], 1);
	for (i = 0; i < l->n_codes; i++)
		if (l->codes[i].k.subset_id == subset_id && l->codes[i].k.code == code)
			break;
	if (i == l->n_codes) {
		if (l->n_codes == CODE_PENDING)
			l7_flush_codes(l);
		i = l->n_codes++;
		l->codes[i].k = (struct sl_http_code_key){.subset_id = subset_id, .code = code};
		l->codes[i].n = 0;
	}
	l->codes[i].n++;
}

void l7_observe_request(struct sl_l7 *l, uint32_t subset_id, unsigned int status,
			uint64_t duration_us)
{
	l7_count_code(l, subset_id, status);
	/* the same histogram rows as the kernel's measure (a rollout's p99 gate reads them) */
	if (subset_id != SL_SUBSET_NONE)
		sl_rt_record(&l->m, subset_id, duration_us);
}

/* ---- connections ---- */

int l7_set_ev(struct sl_l7 *l, struct conn *c, int which, uint32_t ev)
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
	l7_conn_list_add(l, c);
	if (l->sh)
		__atomic_fetch_add(&l->sh->n_conns, 1, __ATOMIC_RELAXED);
	return c;
}

void l7_conn_list_add(struct sl_l7 *l, struct conn *c)
{
	c->prev = NULL;
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->n_conns++;
}

void l7_conn_list_del(struct sl_l7 *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->n_conns--;
}

void l7_conn_unlink(struct sl_l7 *l, struct conn *c)
{
	l7_conn_list_del(l, c);
	if (l->sh)
		__atomic_fetch_sub(&l->sh->n_conns, 1, __ATOMIC_RELAXED);
}

void l7_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void l7_rst(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/*
 * A relayed connection needs two pipes; making and closing them is six of
 * the ~38 system calls a short connection costs. An empty pipe is as good
 * as new, so closed connections leave theirs here (nothing else ever is).
 */
int l7_make_pipes(struct sl_l7 *l, struct conn *c)
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
	if (h->pr >= 0 && !h->in_pipe && l->n_pipes < l->pipe_cap) {
		l->pipes[l->n_pipes][0] = h->pr;
		l->pipes[l->n_pipes][1] = h->pw;
		l->n_pipes++;
		h->pr = h->pw = -1;
	}
}

bool l7_client_take(struct sl_l7 *l, struct conn *c, bool limit)
{
	bool ok;

	lock(l);
	ok = l7_clients_take(clients_of(l), &c->t, limit ? l->o.max_per_client : 0);
	unlock(l);
	if (!ok)
		return false;
	c->client_held = true;
	return true;
}

/*
 * End a connection. reset: abort both sides (RST), as the kernel path
 * would show a backend's reset or an unreachable backend. The client
 * socket's TCP_INFO gives the packets it carried, for the kernel-style
 * packet counters.
 */
void l7_conn_close(struct sl_l7 *l, struct conn *c, bool reset)
{
	struct sl_stats *st = l7_row(l, c->subset_id);
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int i;

	if (c->dead)
		return;
	if (c->h2)
		l7_h2_release(l, c);
	if (st) {
		if (!getsockopt(c->fd[CLIENT], IPPROTO_TCP, TCP_INFO, &ti, &len)) {
			ADD(st->packets_in, ti.tcpi_segs_in);
			ADD(st->packets_out, ti.tcpi_segs_out);
		}
		ADD(st->conns_closed, 1);
	}
	if (reset) {
		l7_rst(c->fd[CLIENT]);
		l7_rst(c->fd[BACKEND]);
	}
	for (i = 0; i < 2; i++) {
		l7_close_fd(&c->fd[i]);
		put_pipe(l, &c->h[i]);
		l7_close_fd(&c->h[i].pr);
		l7_close_fd(&c->h[i].pw);
	}
	l7_h1_free(l, c);
	if (c->client_held) {
		lock(l);
		l7_clients_put(clients_of(l), &c->t);
		unlock(l);
	}
	c->client_held = false;
	l7_count(l, SL_L7_C_ACTIVE, -1);
	c->dead = true;
	l7_conn_unlink(l, c);
	/* freed after the batch of events that may still name it */
	c->next = l->dead;
	l->dead = c;
	l7_check_limit(l);
}

/* ---- threads ---- */

void l7_workers_park(struct sl_l7 *l)
{
	struct sl_l7 *w;

	for (w = l->next_w; w; w = w->next_w) {
		if (!w->th_started)
			continue;
		__atomic_store_n(&w->drain_until, 0, __ATOMIC_RELEASE);
		eventfd_write(w->wake, 1);
		pthread_join(w->th, NULL);
		w->th_started = false;
		/* what it counted since its last flush: the successor will not */
		l7_flush_codes(w);
	}
}

void l7_workers_resume(struct sl_l7 *l)
{
	struct sl_l7 *w;

	for (w = l->next_w; w; w = w->next_w)
		if (!w->th_started && w->thread_fn &&
		    !pthread_create(&w->th, NULL, w->thread_fn, w))
			w->th_started = true;
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
/*
 * The leader's listeners stand for the whole SO_REUSEPORT group: the
 * kernel picks a thread's listener in the group for each connection
 * sl_l7_lookup hands it.
 */
int l7_publish(struct sl_l7 *l, bool on)
{
	struct sl_l7 *ld = l->sh ? l->sh->leader : l;
	__u32 i;
	int err = 0;

	lock(l);
	for (i = 0; i < SL_L7_LISTEN_MAX; i++) {
		__u64 v = ld->lfd[i];

		if (ld->lfd[i] < 0)
			continue;
		if (on && bpf_map_update_elem(l->m.l7_listen, &i, &v, BPF_ANY))
			err = -errno;
		if (!on && !bpf_map_lookup_elem(l->m.l7_listen, &i, &v) &&
		    v == cookie_of(ld->lfd[i]))
			bpf_map_delete_elem(l->m.l7_listen, &i);
	}
	if (!err) {
		l->published = on;
		if (l->sh)
			l->sh->published = on;
	}
	unlock(l);
	return err;
}

static bool published(struct sl_l7 *l)
{
	return l->sh ? __atomic_load_n(&l->sh->published, __ATOMIC_RELAXED) : l->published;
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
void l7_shed(struct sl_l7 *l)
{
	if (!published(l))
		return;
	l7_publish(l, false);
	l7_count(l, SL_L7_C_OVER_LIMIT, 1);
}

/* At a limit this flaps: say so once a minute at most. */
bool l7_say_now(struct sl_l7 *l)
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
void l7_check_limit(struct sl_l7 *l)
{
	size_t n;

	if (l->handed_over || l->stopping || l->draining)
		return;
	if (l->starved) {
		/* a connection ended: its descriptors are free, listen again */
		l->starved = false;
		l7_listeners_poll(l, true);
	}
	n = l->sh ? __atomic_load_n(&l->sh->n_conns, __ATOMIC_RELAXED) : l->n_conns;
	if (published(l) && n >= l->o.max_conns) {
		l7_shed(l);
		if (l7_say_now(l))
			pr_warn("l7: %zu connections relayed, the limit (--l7-max-conns): new ones "
				"go the kernel path, without header routing, until some end\n",
				n);
	} else if (!published(l) && n <= l->o.max_conns * 9 / 10) {
		l7_publish(l, true);
	}
}
