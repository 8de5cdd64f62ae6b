/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The conntrack reclaimer of `sluice run`: the confirmed tables (sl_conntrack,
 * sl_revnat) are plain hash maps that never evict, so entries of connections
 * that are over are removed here, on a thread of their own. Calls maps.h,
 * sluice_ct.h and libbpf.
 */
#ifndef SLUICE_CT_GC_H
#define SLUICE_CT_GC_H

#include <stdint.h>

#include "datapath/maps.h"

struct sl_ct_gc_opts {
	uint32_t closed_timeout; /* s: a closed TCP connection's entries (TIME_WAIT-like) */
	uint32_t idle_timeout;	 /* s: an open TCP connection that sent nothing at all */
	uint32_t interval;	 /* s between passes; 0: from the timeouts */
	__be32 hairpin4[4];	 /* the datapath's hairpin addresses (sl_dp_cfg) */
	__be32 hairpin6[4];
};

#define SL_CT_CLOSED_TIMEOUT 60	   /* Linux's TIME_WAIT */
#define SL_CT_IDLE_TIMEOUT   21600 /* 6 h, Cilium's default for TCP */

struct sl_ct_gc_stats {
	uint64_t passes;
	uint64_t closed; /* connections removed after they closed */
	uint64_t idle;	 /* ... after they went idle (TCP) */
	uint64_t udp;	 /* UDP flows idle past twice SL_CT_UDP_IDLE_TICKS */
	uint64_t orphans; /* reverse entries whose connection was gone */
	uint64_t entries; /* confirmed connections after the last pass */
};

/* One pass over the confirmed tables; `now` in 2^30 ns ticks of CLOCK_MONOTONIC. */
int sl_ct_gc_pass(const struct sl_maps *m, const struct sl_ct_gc_opts *o, uint32_t now,
		  struct sl_ct_gc_stats *st);

/* The clock the datapath stamps entries with (bpf_ktime_get_coarse_ns() >> 30). */
uint32_t sl_ct_now_ticks(void);

struct sl_ct_gc;
/* Start passes every interval on a thread; NULL with errno set on failure. */
struct sl_ct_gc *sl_ct_gc_start(const struct sl_maps *m, const struct sl_ct_gc_opts *o);
void sl_ct_gc_stop(struct sl_ct_gc *g);
void sl_ct_gc_stats(struct sl_ct_gc *g, struct sl_ct_gc_stats *st);

#endif /* SLUICE_CT_GC_H */
