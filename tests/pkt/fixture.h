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

static inline bool fx_up(struct fx *fx, const char *yaml)
{
	int err;

	memset(fx, 0, sizeof(*fx));
	err = sl_dp_load(&fx->dp, NULL);
	if (!ASSERT_OK(err, "sl_dp_load"))
		return false;
	fx->up = true;
	fx->ing = bpf_program__fd(fx->dp.skel->progs.sl_ingress);
	fx->egr = bpf_program__fd(fx->dp.skel->progs.sl_egress);
	return fx_apply(fx, yaml);
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

#endif /* SLUICE_TESTS_FIXTURE_H */
