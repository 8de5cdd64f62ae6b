/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A reference model of the datapath (bpf/sluice.bpf.c): given the
 * configuration tables, the connection tables and a frame, what sl_ingress
 * or sl_egress must return, which bytes must come out, which counters move
 * and how the connection tables change. Plain C, written from what
 * docs/conntrack.md and the BPF headers promise, in its own terms: it
 * shares only the ABI (sluice_abi.h) and the weighted choice and hashes
 * (sluice_hash.h: the split is tested on its own) with the datapath.
 * tests/model/test_model.c runs generated frames through both and compares.
 *
 * What it leaves out (the harness never goes there): the L7 listener
 * (none), the source check (--no-src-check), GSO, LRU eviction (the
 * harness keeps the unconfirmed tables far from full).
 */
#ifndef SLUICE_TESTS_MODEL_H
#define SLUICE_TESTS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice_abi.h"

#define MDL_FRAME_MAX 4096

/* TC verdicts, as linux/pkt_cls.h has them */
#define MDL_UNSPEC   (-1)
#define MDL_OK	     0
#define MDL_SHOT     2
#define MDL_REDIRECT 7

/* A table of (sl_ct_key -> sl_ct_entry) with a capacity, as a BPF hash map. */
struct mdl_ct_node {
	struct sl_ct_key k;
	struct sl_ct_entry v;
	struct mdl_ct_node *next;
};

#define MDL_BUCKETS 4096

struct mdl_table {
	struct mdl_ct_node *b[MDL_BUCKETS];
	size_t n, max;
};

/* An http code count, per (subset, code). */
struct mdl_code {
	struct sl_http_code_key k;
	uint64_t n;
};

/* The configuration tables, as read from the maps once (mdl_snapshot*). */
struct mdl_svc {
	struct sl_svc_key k;
	struct sl_service v;
};

struct mdl_src {
	struct sl_src_key k; /* prefixlen counts the fixed bits too */
	struct sl_src_routes v;
};

struct mdl {
	/* configuration */
	struct sl_state state;
	struct mdl_svc *svcs;
	size_t n_svcs;
	struct sl_endpoint *eps; /* SL_SLOTS * SL_MAX_ENDPOINTS */
	struct mdl_src *srcs;
	size_t n_srcs;
	uint64_t vip_filter[SL_FILTER_WORDS], be_filter[SL_FILTER_WORDS];
	__be32 hairpin4[4], hairpin6[4], local4[4], local6[4];
	/* connection tables */
	struct mdl_table ct, rn, ct_new, rn_new;
	/* counters */
	uint64_t g[SL_G_MAX];
	struct sl_stats *stats; /* SL_MAX_SUBSET_IDS rows */
	struct mdl_code *codes;
	size_t n_codes, cap_codes;
};

/* One run: the frame, the interface and the clock tick the program sees. */
struct mdl_run {
	bool egress;
	const uint8_t *in;
	uint32_t len;
	uint32_t ifindex;
	uint32_t now; /* bpf_ktime_get_coarse_ns() >> 30 */
	/* results */
	int verdict;
	uint8_t out[MDL_FRAME_MAX];
	uint32_t out_len;
};

int mdl_init(struct mdl *m, uint32_t ct_max);
void mdl_free(struct mdl *m);
/* Forget every connection (the harness clears the maps alike). */
void mdl_clear_conns(struct mdl *m);
/* A deep copy of the connection tables and counters of src into dst (dst freed first). */
int mdl_copy_state(struct mdl *dst, const struct mdl *src);
/*
 * dst evaluates under src's configuration: the pointers shared, not copied
 * (dst must not free them, nor outlive a reload of src's). Before each use.
 */
void mdl_share_config(struct mdl *dst, const struct mdl *src);

void mdl_step(struct mdl *m, struct mdl_run *r);

/* The tables, for the harness: find, put (false when full), count. */
struct sl_ct_entry *mdl_get(struct mdl_table *t, const struct sl_ct_key *k);
bool mdl_put(struct mdl_table *t, const struct sl_ct_key *k, const struct sl_ct_entry *v,
	     bool noexist);
void mdl_del(struct mdl_table *t, const struct sl_ct_key *k);
/* Call fn on every entry. */
void mdl_each(const struct mdl_table *t,
	      void (*fn)(void *arg, const struct sl_ct_key *k, const struct sl_ct_entry *v),
	      void *arg);

#endif /* SLUICE_TESTS_MODEL_H */
