// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Response-time histograms (rt.h). Calls libbpf only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath/rt.h"

unsigned int sl_rt_bucket(uint64_t usec)
{
	unsigned int b = 0;

	while (usec) {
		b++;
		usec >>= 1;
	}
	return b < SL_RT_BUCKETS ? b : SL_RT_BUCKETS - 1;
}

uint64_t sl_rt_bucket_le(unsigned int b)
{
	return b + 1 < SL_RT_BUCKETS ? 1ULL << b : 0;
}

void sl_rt_add(struct sl_rt_hist *sum, const struct sl_rt_hist *v)
{
	int i;

	sum->count += v->count;
	sum->sum_us += v->sum_us;
	for (i = 0; i < SL_RT_BUCKETS; i++)
		sum->bucket[i] += v->bucket[i];
}

/* Counters only grow; a row reset under us (a subset id reused) reads as 0. */
static uint64_t delta(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now;
}

void sl_rt_sub(struct sl_rt_hist *out, const struct sl_rt_hist *now,
	       const struct sl_rt_hist *before)
{
	int i;

	out->count = delta(now->count, before->count);
	out->sum_us = delta(now->sum_us, before->sum_us);
	for (i = 0; i < SL_RT_BUCKETS; i++)
		out->bucket[i] = delta(now->bucket[i], before->bucket[i]);
}

double sl_rt_quantile(const struct sl_rt_hist *h, double q)
{
	uint64_t total = 0, seen = 0;
	double rank, lo, hi, frac;
	int i;

	for (i = 0; i < SL_RT_BUCKETS; i++)
		total += h->bucket[i];
	if (!total || q <= 0)
		return -1;
	if (q > 1)
		q = 1;
	rank = q * (double)total;
	for (i = 0; i < SL_RT_BUCKETS; i++) {
		if (!h->bucket[i] || (double)(seen + h->bucket[i]) < rank) {
			seen += h->bucket[i];
			continue;
		}
		if (i == 0)
			return 0.5; /* under a microsecond */
		lo = (double)(1ULL << (i - 1));
		if (i == SL_RT_BUCKETS - 1)
			return lo;
		hi = 2 * lo;
		frac = (rank - (double)seen) / (double)h->bucket[i];
		return lo + (hi - lo) * frac;
	}
	return (double)(1ULL << (SL_RT_BUCKETS - 2));
}

int sl_rt_read(const struct sl_maps *m, uint32_t id, struct sl_rt_hist *sum)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct sl_rt_hist *v, l7;

	memset(sum, 0, sizeof(*sum));
	if (m->rt_hist < 0)
		return 0;
	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(m->rt_hist, &id, v)) {
		free(v);
		return -errno;
	}
	for (c = 0; c < ncpu; c++)
		sl_rt_add(sum, &v[c]);
	free(v);
	if (m->rt_hist_l7 >= 0 && !bpf_map_lookup_elem(m->rt_hist_l7, &id, &l7))
		sl_rt_add(sum, &l7);
	return 0;
}

/*
 * sl_rt_hist_l7 is mapped a window at a time: a BPF array's mmap() maps
 * every page of the range at once, so the whole map (65,536 rows by
 * default: 13 MB) would sit in run's RSS for the few rows in use. A window
 * is the two pages a row may straddle, mapped on its first use and kept.
 */
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static void **rec_win;	 /* by a window's first page: its mapping, or NULL */
static size_t rec_pages; /* pages of the whole map */

static struct sl_rt_hist *row_of(const struct sl_maps *m, uint32_t id)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), off = (size_t)id * sizeof(struct sl_rt_hist);
	size_t first = off / pg;
	void **win = __atomic_load_n(&rec_win, __ATOMIC_ACQUIRE), *p = NULL;

	if (win && (p = __atomic_load_n(&win[first], __ATOMIC_ACQUIRE)))
		return (struct sl_rt_hist *)((char *)p + off % pg);
	pthread_mutex_lock(&rec_lock);
	if (!rec_win) {
		rec_pages = ((size_t)m->max_ids * sizeof(struct sl_rt_hist) + pg - 1) / pg;
		__atomic_store_n(&rec_win, calloc(rec_pages, sizeof(*rec_win)), __ATOMIC_RELEASE);
	}
	if (rec_win && !(p = rec_win[first])) {
		p = mmap(NULL, (first + 1 < rec_pages ? 2 : 1) * pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, m->rt_hist_l7, (off_t)(first * pg));
		if (p == MAP_FAILED)
			p = NULL;
		else
			__atomic_store_n(&rec_win[first], p, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&rec_lock);
	return p ? (struct sl_rt_hist *)((char *)p + off % pg) : NULL;
}

int sl_rt_record(const struct sl_maps *m, uint32_t subset_id, uint64_t usec)
{
	struct sl_rt_hist *h;

	if (subset_id >= m->max_ids)
		return -EINVAL;
	if (m->rt_hist_l7 < 0)
		return -ENOENT;
	h = row_of(m, subset_id);
	if (!h)
		return -ENOMEM;
	__atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_us, usec, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->bucket[sl_rt_bucket(usec)], 1, __ATOMIC_RELAXED);
	return 0;
}
