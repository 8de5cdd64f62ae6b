// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The L7 step (l7.h): its life and its thread. Start (take over from a
 * predecessor or open fresh listeners, publish them), one thread on one
 * epoll set that hands each event to the listeners (l7_accept.c), the
 * connections (l7_relay.c) or the hot restart (l7_handoff.c), drain and
 * stop. May call every l7_*.h of the step; none of them calls back here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "l7/h2.h"
#include "l7/l7.h"
#include "l7/l7_accept.h"
#include "l7/l7_conn.h"
#include "l7/l7_h1.h"
#include "l7/l7_pool.h"
#include "l7/l7_handoff.h"
#include "l7/l7_relay.h"
#include "lib/log.h"

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
		int timeout = l->ho_sock >= 0 ? 10 : l->n_codes ? 100 : 1000;
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
					l7_publish(l, false);
					l7_h2_drain(l);
					pr_info("l7: draining %zu relayed connections\n",
						l->n_conns);
				}
				continue;
			}
			if (r == &l->href) {
				l7_handoff_serve(l);
				/* the rest of the batch names connections given away */
				if (l->handed_over)
					goto handed;
				continue;
			}
			if (!r->c) {
				l7_accept_all(l, r->which);
				continue;
			}
			l7_on_conn_event(l, r->c, r->which, evs[i].events);
		}
		if (l->ho_sock >= 0) {
			l7_handoff_continue(l);
			if (l->handed_over)
				goto handed;
		}
		free_dead(l);
		now = l7_now_ms();
		if (l->n_codes && (now - l->codes_flushed >= 100 || n == 0))
			l7_flush_codes(l);
		if (now - last_tick >= 250) {
			l7_timeouts(l, now); /* what it ends is freed after the next batch */
			l7_pool_expire(l, now);
			last_tick = now;
		}
		if (l->draining) {
			struct conn *c, *next;

			/* kept-alive connections between two requests end now */
			for (c = l->conns; c; c = next) {
				next = c->next;
				if (l7_h1_idle(c))
					l7_conn_close(l, c, false);
			}
			/* the accept queue too: those handshakes were ours */
			for (i = 0; i < SL_L7_LISTEN_MAX; i++)
				if (l->lfd[i] >= 0)
					l7_accept_all(l, i);
			if (!l->n_conns || now >= l->drain_until) {
				pr_info("l7: drained; %zu connections left\n", l->n_conns);
				goto out;
			}
		}
	}
out:
	free_dead(l);
	return NULL;
handed:
	l7_flush_codes(l);
	eventfd_write(l->done, 1);
	goto out;
}

/* ---- setup ---- */

/*
 * Map the first `rows` rows of sl_l7_stats at least. The whole map is
 * 2 x --max-services rows (14 MB by default) and a mapping of it is resident
 * at once: only as much as the subset ids in use reach, grown by doubling.
 * The L7 thread alone touches the mapping, and holds no row across calls.
 */
int l7_map_stats(struct sl_l7 *l, size_t rows)
{
	size_t pg = sysconf(_SC_PAGESIZE), full, len;
	void *p;

	full = ((size_t)l->m.max_ids * sizeof(struct sl_stats) + pg - 1) / pg * pg;
	len = l->stats_len * 2 > rows * sizeof(struct sl_stats) ? l->stats_len * 2
								 : rows * sizeof(struct sl_stats);
	len = (len + pg - 1) / pg * pg;
	if (len < 64 * pg)
		len = 64 * pg;
	if (len > full)
		len = full;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, l->m.l7_stats, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (l->stats)
		munmap(l->stats, l->stats_len);
	l->stats = p;
	l->stats_len = len;
	return 0;
}

static int map_counters(struct sl_l7 *l)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p;
	int err;

	err = l7_map_stats(l, 1);
	if (err)
		return err;
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

	/* the threads' pools of empty pipes and of idle upstream connections (shares) */
	rlim_t pools = 2 * L7_PIPE_POOL + L7_POOL_MAX;
	rlim_t want = (rlim_t)l->o.max_conns * L7_FDS_PER_CONN + pools + 256;

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
	/* the pipe pool, idle upstream connections, the maps, epoll, netlink, the metrics server */
	fit = rl.rlim_cur > pools + 256 ? (rl.rlim_cur - pools - 256) / L7_FDS_PER_CONN : 1;
	if (fit < l->o.max_conns) {
		pr_warn("l7: %lu open files allow %lu relayed connections, not %u: relaying at "
			"most %lu (the rest go the kernel path)\n",
			(unsigned long)rl.rlim_cur, fit, l->o.max_conns, fit);
		l->o.max_conns = fit;
	}
}

/*
 * One client address gets a small share of the connection limit (an
 * eighth, or --l7-max-per-client): then a pod that floods is reset at
 * accept, and the listeners stay in sl_l7_listen for everyone else.
 */
static void fit_per_client(struct sl_l7 *l)
{
	unsigned int share = l->o.max_conns / SL_L7_PER_CLIENT_SHARE ?: 1;

	if (!l->o.max_per_client)
		l->o.max_per_client =
		    share < SL_L7_DEFAULT_PER_CLIENT ? share : SL_L7_DEFAULT_PER_CLIENT;
	else if (l->o.max_per_client >= l->o.max_conns)
		pr_warn("l7: --l7-max-per-client %u lets one client address reach the limit of %u "
			"connections, which sends every client's new connections the kernel path\n",
			l->o.max_per_client, l->o.max_conns);
}

void sl_l7_default_handoff(const char *pin_dir, char *buf, size_t len)
{
	const char *base = strrchr(pin_dir, '/');

	snprintf(buf, len, "/run/sluice/%s.handoff", base && base[1] ? base + 1 : "sluice");
}

/* A thread's own pieces: epoll set, wake-ups, the head buffer, compiled matches, counters. */
static int thread_init(struct sl_l7 *l, const struct sl_maps *maps, const struct sl_l7_opts *o)
{
	int i;

	l->m = *maps;
	l->m.owned = false;
	l->o = *o;
	l->ep = l->wake = l->done = l->hfd = l->ho_sock = -1;
	for (i = 0; i < SL_L7_LISTEN_MAX; i++)
		l->lfd[i] = -1;
	l->thread_fn = l7_main;
	/* the pools' descriptors are budgeted for the step: each thread has its share */
	l->pipe_cap = L7_PIPE_POOL / (o->threads ?: 1) ?: 1;
	l->pool_cap = L7_POOL_MAX / (o->threads ?: 1) ?: 1;
	l->buf = malloc(l->o.head_max);
	l->cache = sl_l7_cache_new();
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->done = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!l->buf || !l->cache || l->ep < 0 || l->wake < 0 || l->done < 0)
		return -ENOMEM;
	return 0;
}

/*
 * l's listeners (taken over, or opened: the leader's first, on a new port;
 * the other threads' joining its SO_REUSEPORT group) in its epoll set, and
 * its wake-up.
 */
static int thread_listen(struct sl_l7 *l, const struct sl_l7 *ld)
{
	struct epoll_event e = {.events = EPOLLIN};
	int i, err;

	for (i = 0; i < SL_L7_LISTEN_MAX; i++) {
		if (l->lfd[i] < 0) {
			if (l != ld && ld->lfd[i] < 0)
				continue;
			err = l7_open_listener(i == SL_L7_LISTEN_INET6 ? AF_INET6 : AF_INET,
					       l == ld ? 0 : l7_listener_port(ld->lfd[i]));
			if (err < 0 && l != ld) {
				/* a predecessor's group without SO_REUSEPORT, say: one less */
				pr_warn("l7: thread %u: no listener of its own: %s\n", l->idx,
					strerror(-err));
				continue;
			}
			if (err < 0 && i == SL_L7_LISTEN_INET6) {
				pr_info("l7: no IPv6 listener (%s): IPv6 header routes go DNAT\n",
					strerror(-err));
				continue;
			}
			if (err < 0) {
				pr_warn("Error: l7: cannot listen: %s\n", strerror(-err));
				return err;
			}
			l->lfd[i] = err;
		}
		l->lref[i] = (struct ref){.which = i};
		e.data.ptr = &l->lref[i];
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd[i], &e))
			return -errno;
	}
	l->wref = (struct ref){.which = -2};
	e.data.ptr = &l->wref;
	return epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &e) ? -errno : 0;
}

/* Move c from one thread's list to another's (before either thread runs). */
static void move_conn(struct sl_l7 *from, struct sl_l7 *to, struct conn *c)
{
	l7_conn_list_del(from, c);
	l7_conn_list_add(to, c);
}

static unsigned int threads_wanted(const struct sl_l7_opts *o)
{
	long n = o->threads ? (long)o->threads : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > SL_L7_THREADS_MAX ? SL_L7_THREADS_MAX : (unsigned int)n;
}

int sl_l7_start(const struct sl_maps *maps, const struct sl_l7_opts *o, struct sl_l7 **out)
{
	struct epoll_event e = {.events = EPOLLIN};
	struct sl_l7 *l, *w, **tail;
	struct l7_shared *sh;
	unsigned int n = threads_wanted(o), k, set, f;
	struct conn *c, *next;
	int i, err;

	*out = NULL;
	sh = calloc(1, sizeof(*sh));
	l = calloc(1, sizeof(*l));
	if (!sh || !l) {
		free(sh);
		free(l);
		return -ENOMEM;
	}
	pthread_mutex_init(&sh->lock, NULL);
	sh->leader = l;
	l->sh = sh;
	l->o = *o;
	l->o.threads = n;
	err = thread_init(l, maps, &l->o);
	if (err)
		goto fail;
	fit_fd_limit(l);
	fit_per_client(l);
	sh->max_conns = l->o.max_conns;
	pr_info("l7: %u threads, relaying at most %u connections, %u per client address; idle "
		"timeout %u s\n",
		n, l->o.max_conns, l->o.max_per_client, l->o.idle_timeout_ms / 1000);
	err = l7_clients_init(&sh->clients, l->o.max_conns);
	if (err)
		goto fail;
	err = map_counters(l);
	if (err) {
		pr_warn("Error: l7: cannot map the counters: %s\n", strerror(-err));
		goto fail;
	}

	err = l->o.handoff_path ? l7_handoff_take(l) : -ENOENT;
	/* nobody to take over from: what a predecessor relayed died with it */
	if (err == -ENOENT)
		__atomic_store_n(&l->cnt->c[SL_L7_C_ACTIVE], 0, __ATOMIC_RELAXED);

	/* the other threads: the predecessor's other listeners first, in order */
	tail = &l->next_w;
	for (k = 1, set = 0, f = 0; k < n; k++) {
		w = calloc(1, sizeof(*w));
		if (!w) {
			err = -ENOMEM;
			goto fail;
		}
		*tail = w;
		tail = &w->next_w;
		w->sh = sh;
		w->idx = k;
		err = thread_init(w, maps, &l->o);
		err = err ?: map_counters(w);
		if (err)
			goto fail;
		if (set < l->n_xsets) {
			for (i = 0; i < SL_L7_LISTEN_MAX; i++)
				if (l->xmask[set] & (1U << i)) {
					w->lfd[i] = l->xlfd[f];
					l->xlfd[f++] = -1;
				}
			set++;
		}
	}
	/* more of them than threads here: their queues go with them */
	for (; f < l->n_xlfd; f++)
		l7_close_fd(&l->xlfd[f]);
	l->n_xlfd = l->n_xsets = 0;
	for (w = l; w; w = w->next_w) {
		err = thread_listen(w, l);
		if (err)
			goto fail;
	}
	/* what was taken over, spread over the threads */
	for (c = l->conns, k = 0; c; c = next, k++) {
		next = c->next;
		for (w = l, i = 0; w && (unsigned int)i < k % n; w = w->next_w, i++)
			;
		if (w && w != l)
			move_conn(l, w, c);
	}
	for (w = l; w; w = w->next_w) {
		l7_resume_conns(w);
		free_dead(w);
	}
	err = l7_publish(l, sh->n_conns < l->o.max_conns);
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
	for (w = l; w; w = w->next_w) {
		err = -pthread_create(&w->th, NULL, l7_main, w);
		if (err)
			goto fail;
		w->th_started = true;
	}
	*out = l;
	return 0;
fail:
	sl_l7_stop(l);
	return err;
}

void sl_l7_drain(struct sl_l7 *l, unsigned int ms)
{
	uint64_t until;
	struct sl_l7 *w;

	if (!l || !l->th_started)
		return;
	until = l7_now_ms() + (ms ?: 1);
	for (w = l; w; w = w->next_w) {
		if (!w->th_started)
			continue;
		__atomic_store_n(&w->drain_until, until, __ATOMIC_RELEASE);
		eventfd_write(w->wake, 1);
	}
	for (w = l; w; w = w->next_w) {
		if (!w->th_started)
			continue;
		pthread_join(w->th, NULL);
		w->th_started = false;
	}
}

int sl_l7_event_fd(const struct sl_l7 *l)
{
	return l ? l->done : -1;
}

bool sl_l7_handed_over(const struct sl_l7 *l)
{
	return l && __atomic_load_n(&l->handed_over, __ATOMIC_ACQUIRE);
}

/* One thread: its loop stopped, its connections closed, its pieces freed. */
static void thread_stop(struct sl_l7 *l)
{
	struct conn *c;
	int i;

	if (l->th_started) {
		__atomic_store_n(&l->drain_until, 0, __ATOMIC_RELEASE);
		eventfd_write(l->wake, 1);
		pthread_join(l->th, NULL);
		l->th_started = false;
	}
	l->stopping = true;
	if (!l->handed_over && l->cnt)
		l7_flush_codes(l);
	while ((c = l->conns))
		l7_conn_close(l, c, true);
	l7_h2_stop(l);
	free_dead(l);
	l7_pool_expire(l, 0);
	l7_close_fd(&l->ho_sock);
	for (i = 0; i < SL_L7_LISTEN_MAX; i++)
		l7_close_fd(&l->lfd[i]);
	for (i = 0; (unsigned int)i < l->n_xlfd; i++)
		l7_close_fd(&l->xlfd[i]);
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
	l7_clients_free(&l->clients);
	free(l->buf);
}

void sl_l7_stop(struct sl_l7 *l)
{
	struct l7_shared *sh;
	struct sl_l7 *w, *next;

	if (!l)
		return;
	sh = l->sh;
	/* every loop first: the threads share the client table and the codes */
	for (w = l; w; w = w->next_w)
		if (w->th_started) {
			__atomic_store_n(&w->drain_until, 0, __ATOMIC_RELEASE);
			eventfd_write(w->wake, 1);
			pthread_join(w->th, NULL);
			w->th_started = false;
		}
	for (w = l->next_w; w; w = next) {
		next = w->next_w;
		w->handed_over = l->handed_over;
		thread_stop(w);
		free(w);
	}
	thread_stop(l);
	if (sh) {
		l7_clients_free(&sh->clients);
		pthread_mutex_destroy(&sh->lock);
		free(sh);
	}
	free(l);
}
