// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Conntrack reclaimer (ct_gc.h). A pass reads sl_conntrack in batches and
 * removes each connection that is over: closed for --ct-closed-timeout,
 * idle for --ct-idle-timeout, or a UDP flow idle for twice the time after
 * which the datapath re-picks it. Its reverse entry goes with it, if it is
 * still its own (a closed connection's reply tuple may have been claimed by
 * a newer one). A second pass removes reverse entries left without a
 * connection. The unconfirmed tables are LRU maps: they need no reclaiming.
 *
 * A connection reopened on the same client port between the read and the
 * delete of its closed entry would lose its new entry too; that takes a
 * whole handshake within microseconds of the closed timeout, and costs that
 * connection its pass-through (sl_g ct_miss), not anyone else's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "datapath/ct_gc.h"
#include "lib/log.h"
#include "sluice_ct.h"

#define BATCH 1024

uint32_t sl_ct_now_ticks(void)
{
	struct timespec ts;

	/* bpf_ktime_get_coarse_ns() reads the coarse monotonic clock */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)(((uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec) >> 30);
}

/* Seconds into ticks of 2^30 ns, rounded up. */
static uint32_t ticks_of(uint32_t s)
{
	return (uint32_t)(((uint64_t)s * 1000000000ULL + (1U << 30) - 1) >> 30);
}

enum verdict { KEEP, CLOSED, IDLE, UDP_IDLE };

static enum verdict judge(const struct sl_ct_key *k, const struct sl_ct_entry *e, uint32_t now,
			  const struct sl_ct_gc_opts *o)
{
	uint32_t age = now - e->last_seen;

	/* last_seen in the future: stamped on another CPU just now */
	if ((int32_t)age < 0)
		return KEEP;
	if (k->proto == 17 /* UDP */)
		return age > 2 * SL_CT_UDP_IDLE_TICKS ? UDP_IDLE : KEEP;
	if (e->flags & SL_CT_CLOSED)
		return age >= ticks_of(o->closed_timeout) ? CLOSED : KEEP;
	return age >= ticks_of(o->idle_timeout) ? IDLE : KEEP;
}

static void forget(const struct sl_maps *m, const struct sl_ct_gc_opts *o,
		   const struct sl_ct_key *k, const struct sl_ct_entry *e)
{
	struct sl_ct_entry rn;
	struct sl_ct_key rk;

	sl_ct_rev_key(&rk, k, e, k->family == SL_AF_INET6 ? o->hairpin6 : o->hairpin4);
	if (!bpf_map_lookup_elem(m->revnat, &rk, &rn) && sl_ct_rev_owned(&rn, k))
		bpf_map_delete_elem(m->revnat, &rk);
	bpf_map_delete_elem(m->conntrack, k);
}

/*
 * Walk a hash map in batches, calling fn on each entry. The kernel's batch
 * walk goes bucket by bucket, so deleting what was read does not upset it.
 */
static int walk(int fd, void (*fn)(const struct sl_ct_key *, const struct sl_ct_entry *, void *),
		void *ctx)
{
	static __thread struct sl_ct_key keys[BATCH];
	static __thread struct sl_ct_entry vals[BATCH];
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u64 in = 0, out = 0;
	bool first = true;
	__u32 n, i;
	int err;

	for (;;) {
		n = BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &n, &opts);
		if (err && errno != ENOENT)
			return -errno;
		for (i = 0; i < n; i++)
			fn(&keys[i], &vals[i], ctx);
		if (err) /* ENOENT: that was the last batch */
			return 0;
		in = out;
		first = false;
	}
}

struct pass {
	const struct sl_maps *m;
	const struct sl_ct_gc_opts *o;
	uint32_t now;
	struct sl_ct_gc_stats *st;
	uint64_t entries;
};

static void fwd_entry(const struct sl_ct_key *k, const struct sl_ct_entry *e, void *ctx)
{
	struct pass *p = ctx;
	enum verdict v = judge(k, e, p->now, p->o);

	if (v == KEEP) {
		p->entries++;
		return;
	}
	forget(p->m, p->o, k, e);
	if (v == CLOSED)
		p->st->closed++;
	else if (v == IDLE)
		p->st->idle++;
	else
		p->st->udp++;
}

static void rev_entry(const struct sl_ct_key *rk, const struct sl_ct_entry *rn, void *ctx)
{
	struct pass *p = ctx;
	struct sl_ct_entry e;
	struct sl_ct_key fk;

	sl_ct_fwd_key_of(&fk, rk, rn);
	/* the datapath confirms the forward entry first, then the reverse one */
	if (!bpf_map_lookup_elem(p->m->conntrack, &fk, &e) ||
	    !bpf_map_lookup_elem(p->m->ct_new, &fk, &e))
		return;
	bpf_map_delete_elem(p->m->revnat, rk);
	p->st->orphans++;
}

int sl_ct_gc_pass(const struct sl_maps *m, const struct sl_ct_gc_opts *o, uint32_t now,
		  struct sl_ct_gc_stats *st)
{
	struct pass p = {.m = m, .o = o, .now = now, .st = st};
	int err;

	err = walk(m->conntrack, fwd_entry, &p);
	err = err ?: walk(m->revnat, rev_entry, &p);
	if (err)
		return err;
	st->entries = p.entries;
	st->passes++;
	return 0;
}

struct sl_ct_gc {
	struct sl_maps m;
	struct sl_ct_gc_opts o;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	struct sl_ct_gc_stats st;
};

static void *gc_main(void *arg)
{
	struct sl_ct_gc *g = arg;
	struct sl_ct_gc_stats st;
	struct timespec until;
	int err;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		st = g->st;
		pthread_mutex_unlock(&g->lock);
		err = sl_ct_gc_pass(&g->m, &g->o, sl_ct_now_ticks(), &st);
		if (err)
			pr_warn("conntrack: a reclaim pass failed: %s\n", strerror(-err));
		pthread_mutex_lock(&g->lock);
		g->st = st;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += g->o.interval;
		while (!g->stop && pthread_cond_timedwait(&g->wake, &g->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

struct sl_ct_gc *sl_ct_gc_start(const struct sl_maps *m, const struct sl_ct_gc_opts *o)
{
	pthread_condattr_t ca;
	struct sl_ct_gc *g;
	int err;

	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->m = *m;
	g->m.owned = false; /* borrowed: the caller keeps the fds open until stop */
	g->o = *o;
	if (!g->o.interval) {
		/* a quarter of the shorter timeout, between 1 s and 30 s */
		uint32_t t = o->closed_timeout < o->idle_timeout ? o->closed_timeout
								 : o->idle_timeout;

		g->o.interval = t / 4 < 1 ? 1 : t / 4 > 30 ? 30 : t / 4;
	}
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&g->thread, NULL, gc_main, g);
	if (err) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		errno = err;
		return NULL;
	}
	return g;
}

void sl_ct_gc_stop(struct sl_ct_gc *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void sl_ct_gc_stats(struct sl_ct_gc *g, struct sl_ct_gc_stats *st)
{
	pthread_mutex_lock(&g->lock);
	*st = g->st;
	pthread_mutex_unlock(&g->lock);
}
