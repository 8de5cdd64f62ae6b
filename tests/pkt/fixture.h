/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the packet test binaries share: one private (unpinned) datapath per
 * test, configured through the real loader, and frames run through it with
 * BPF_PROG_TEST_RUN.
 */
#ifndef SLUICE_TESTS_FIXTURE_H
#define SLUICE_TESTS_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "check.h"
#include "config/config.h"
#include "datapath/datapath.h"
#include "pkt.h"
#include "sluice.skel.h"
#include "datapath/tables.h"

/* ---- fixture: one private datapath and its configuration ---- */

struct fx {
	struct sl_datapath dp;
	int ing;
	int egr;
	bool up;
};

static inline bool fx_apply(struct fx *fx, const char *yaml)
{
	struct sl_config *cfg = NULL;
	struct sl_diag diag;
	size_t i;
	int err;

	sl_diag_init(&diag);
	err = sl_config_load_buf("t.yaml", yaml, strlen(yaml), &cfg, &diag);
	if (!err)
		err = sl_tables_apply(&fx->dp.maps, cfg, &diag);
	if (err || diag.n_errors)
		for (i = 0; i < diag.n_msgs; i++)
			printf("  | %s\n", diag.msgs[i]);
	sl_config_free(cfg);
	sl_diag_free(&diag);
	return ASSERT_OK(err, "config load + apply");
}

/*
 * Load a private datapath with `run`'s defaults but for the SL_DP_* flags
 * given. The packet tests run on lo, where the source check's route lookup
 * answers for the host's routes, not the test's: off unless a test sets up
 * the routes it checks (in a namespace of its own).
 */
static inline int dp_load_test(struct sl_datapath *dp, uint32_t dp_flags, uint32_t ct_max)
{
	struct sl_dp_opts o;

	sl_dp_opts_default(&o);
	o.cfg.flags = dp_flags;
	if (ct_max)
		o.ct_max = ct_max;
	return sl_dp_load_opts(dp, NULL, &o);
}

/* fx_up with the datapath's SL_DP_* flags chosen (fx_up: none). */
static inline bool fx_up_flags(struct fx *fx, const char *yaml, uint32_t dp_flags)
{
	int err;

	memset(fx, 0, sizeof(*fx));
	err = dp_load_test(&fx->dp, dp_flags, 0);
	if (!ASSERT_OK(err, "sl_dp_load_opts"))
		return false;
	fx->up = true;
	fx->ing = bpf_program__fd(fx->dp.skel->progs.sl_ingress);
	fx->egr = bpf_program__fd(fx->dp.skel->progs.sl_egress);
	return fx_apply(fx, yaml);
}

static inline bool fx_up(struct fx *fx, const char *yaml)
{
	return fx_up_flags(fx, yaml, 0);
}

static inline void fx_down(struct fx *fx)
{
	if (fx->up)
		sl_dp_close(&fx->dp);
	fx->up = false;
}

static inline bool fx_weights(struct fx *fx, uint32_t w1, uint32_t w2)
{
	char *names[] = {"v1", "v2"};
	uint32_t w[] = {w1, w2};
	struct sl_diag diag;
	size_t i;
	int err;

	sl_diag_init(&diag);
	err = sl_tables_set_weights(&fx->dp.maps, "backend", names, w, 2, &diag);
	for (i = 0; i < diag.n_msgs; i++)
		printf("  | %s\n", diag.msgs[i]);
	sl_diag_free(&diag);
	return ASSERT_OK(err, "sl_tables_set_weights");
}

/* A datapath counter (SL_G_*), summed over CPUs; ~0 when it cannot be read. */
static inline uint64_t fx_global(struct fx *fx, int idx)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	uint64_t v[ncpu > 0 ? ncpu : 1], sum = 0;
	__u32 key = idx;

	if (ncpu <= 0 || bpf_map_lookup_elem(fx->dp.maps.global, &key, v))
		return ~0ULL;
	for (c = 0; c < ncpu; c++)
		sum += v[c];
	return sum;
}

/* ---- sending frames ---- */

/*
 * Run one frame through prog, with an optional __sk_buff context (gso_segs
 * and the like; it comes back as the program left it, the mark say); *out
 * gets the result. Returns the verdict, or -errno when the kernel refuses
 * the run (a failure unless raw).
 */
static inline int xmit_run(int prog, const struct frame *in, struct frame *out,
			   struct __sk_buff *ctx, bool raw)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b, .data_size_in = in->len,
		    .data_out = out->b, .data_size_out = sizeof(out->b), .repeat = 1);

	if (ctx) {
		o.ctx_in = o.ctx_out = ctx;
		o.ctx_size_in = o.ctx_size_out = sizeof(*ctx);
	}
	memset(out->b, 0, sizeof(out->b));
	if (bpf_prog_test_run_opts(prog, &o)) {
		int err = -errno;

		if (!raw)
			ASSERT_OK(err, "BPF_PROG_TEST_RUN");
		return raw ? err : -1;
	}
	out->len = o.data_size_out;
	return (int)o.retval;
}

/* Run one frame through prog; *out gets the result. Returns the verdict, -1 on error. */
static inline int xmit(int prog, const struct frame *in, struct frame *out)
{
	return xmit_run(prog, in, out, NULL, false);
}

/* xmit as if the frame came in on (or left through) interface ifindex, not lo. */
static inline int xmit_if(int prog, const struct frame *in, struct frame *out, int ifindex)
{
	struct __sk_buff ctx = {.ifindex = ifindex};

	return xmit_run(prog, in, out, &ctx, false);
}

/* Like xmit, but a refused frame is not a failure: returns -errno. */
static inline int xmit_raw(int prog, const struct frame *in, struct frame *out)
{
	return xmit_run(prog, in, out, NULL, true);
}

static inline struct flow mkflow(uint8_t proto, const char *src, uint16_t sport, const char *dst,
				 uint16_t dport, uint8_t tcp_flags)
{
	struct flow f = {
	    .proto = proto,
	    .sport = sport,
	    .dport = dport,
	    .tcp_flags = tcp_flags,
	    .seq = 0x11223344,
	    .ack_seq = tcp_flags & TH_ACK ? 0x55667788 : 0,
	};

	f.family = pkt_addr(src, f.saddr);
	pkt_addr(dst, f.daddr);
	return f;
}

#define ASSERT_CSUMS(f, what)                                                                      \
	({                                                                                         \
		char ___why[128];                                                                  \
		bool ___ok = pkt_csums_ok(f, ___why, sizeof(___why));                              \
		if (!___ok)                                                                        \
			check_fail(__FILE__, __LINE__, "%s: %s", what, ___why);                    \
		___ok;                                                                             \
	})

/*
 * Left alone: TC_ACT_UNSPEC (so that the next filter on the hook still
 * runs, where TC_ACT_OK would end the chain), and not a byte changed.
 */
static inline bool check_untouched(const struct frame *in, const struct frame *out, int verdict,
				   const char *what)
{
	long at = pkt_diff(in, out);
	bool ok;

	ok = ASSERT_EQ(verdict, TC_ACT_UNSPEC, what);
	if (!ASSERT_EQ(at, -1, what)) {
		printf("  %s: len %u -> %u, first difference at byte %ld\n", what, in->len,
		       out->len, at);
		ok = false;
	}
	return ok;
}

/* out is, byte for byte, the frame built from scratch from want (checksums computed, not patched).
 */
static inline bool frame_is(const struct frame *out, const struct flow *want, const char *what)
{
	struct frame exp;
	long at;

	pkt_build(&exp, want);
	at = pkt_diff(out, &exp);
	if (!ASSERT_EQ(at, -1, what)) {
		printf("  %s: len %u vs %u, first difference at byte %ld: 0x%02x vs 0x%02x\n", what,
		       out->len, exp.len, at, out->b[at], exp.b[at]);
		return false;
	}
	return true;
}

/*
 * out is in rewritten to src:sport -> dst:dport (a NULL address: kept) and
 * nothing else: every checksum verified from scratch, then compared byte
 * for byte with a frame built from scratch.
 */
static inline bool check_nat(const struct flow *in, const struct frame *out, const char *src,
			     uint16_t sport, const char *dst, uint16_t dport, const char *what)
{
	struct flow want = *in;

	if (!ASSERT_CSUMS(out, what))
		return false;
	if (src)
		pkt_addr(src, want.saddr);
	if (dst)
		pkt_addr(dst, want.daddr);
	want.sport = sport;
	want.dport = dport;
	return frame_is(out, &want, what);
}

/* ---- conntrack: two stages (sluice_abi.h), looked at from outside ---- */

/* A tuple as a conntrack key (forward: as the client sent it; reverse: as the reply). */
static inline struct sl_ct_key ct_key(const char *src, uint16_t sport, const char *dst,
				      uint16_t dport, uint8_t proto)
{
	struct sl_ct_key k;
	uint8_t a[16];

	memset(&k, 0, sizeof(k));
	k.family = pkt_addr(src, a) == 4 ? SL_AF_INET : SL_AF_INET6;
	memcpy(k.saddr, a, 16);
	pkt_addr(dst, a);
	memcpy(k.daddr, a, 16);
	k.sport = htons(sport);
	k.dport = htons(dport);
	k.proto = proto;
	return k;
}

/* The key of the tuple a frame built from fl carries. */
static inline struct sl_ct_key ct_key_of(const struct flow *fl)
{
	struct sl_ct_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.saddr, fl->saddr, 16);
	memcpy(k.daddr, fl->daddr, 16);
	k.sport = htons(fl->sport);
	k.dport = htons(fl->dport);
	k.proto = fl->proto;
	k.family = fl->family == 4 ? SL_AF_INET : SL_AF_INET6;
	return k;
}

enum ct_dir { CT_FWD, CT_REV };

/* Where a connection's entry is: nowhere, sl_ct_new / sl_revnat_new, or confirmed. */
enum ct_stage { CT_NONE, CT_UNCONFIRMED, CT_CONFIRMED };

/* The map of one direction and stage. */
static inline int ct_map(const struct fx *fx, enum ct_dir dir, enum ct_stage stage)
{
	const struct sl_maps *m = &fx->dp.maps;

	if (stage == CT_CONFIRMED)
		return dir == CT_FWD ? m->conntrack : m->revnat;
	return dir == CT_FWD ? m->ct_new : m->revnat_new;
}

/* Look k up as the datapath does, confirmed first; *e (if not NULL) gets the entry. */
static inline enum ct_stage ct_get(const struct fx *fx, enum ct_dir dir, const struct sl_ct_key *k,
				   struct sl_ct_entry *e)
{
	struct sl_ct_entry tmp;

	if (!bpf_map_lookup_elem(ct_map(fx, dir, CT_CONFIRMED), k, e ?: &tmp))
		return CT_CONFIRMED;
	if (!bpf_map_lookup_elem(ct_map(fx, dir, CT_UNCONFIRMED), k, e ?: &tmp))
		return CT_UNCONFIRMED;
	return CT_NONE;
}

/* Does either stage hold k? */
static inline bool ct_has(const struct fx *fx, enum ct_dir dir, const struct sl_ct_key *k)
{
	return ct_get(fx, dir, k, NULL) != CT_NONE;
}

/* Write e back where ct_get found it (stage), as a reclaimer or a race would. */
static inline int ct_put(const struct fx *fx, enum ct_dir dir, enum ct_stage stage,
			 const struct sl_ct_key *k, const struct sl_ct_entry *e)
{
	return bpf_map_update_elem(ct_map(fx, dir, stage), k, e, BPF_ANY) ? -errno : 0;
}

/* Delete k from one stage, as an LRU eviction or the reclaimer would. */
static inline int ct_del(const struct fx *fx, enum ct_dir dir, enum ct_stage stage,
			 const struct sl_ct_key *k)
{
	return bpf_map_delete_elem(ct_map(fx, dir, stage), k) ? -errno : 0;
}

/* Forget every connection, both directions, both stages. */
static inline int ct_clear(const struct fx *fx)
{
	struct sl_ct_key keys[256];
	struct sl_ct_entry vals[256];
	int d, st, err;

	for (d = CT_FWD; d <= CT_REV; d++)
		for (st = CT_UNCONFIRMED; st <= CT_CONFIRMED; st++) {
			void *at = NULL;
			__u32 batch, n;

			do {
				n = sizeof(keys) / sizeof(keys[0]);
				err = bpf_map_lookup_and_delete_batch(ct_map(fx, d, st), at, &batch,
								      keys, vals, &n, NULL);
				at = &batch;
			} while (!err);
			if (err != -ENOENT)
				return err;
		}
	return 0;
}

#endif /* SLUICE_TESTS_FIXTURE_H */
