// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * An apply writes only what changed: the counts of what each apply wrote
 * (struct sl_apply_stats, what `apply -j` reports as "written") against
 * the change made, and a SYN through the real sl_ingress after each to
 * check that the tables say what the config says (the changed service
 * follows the change, an unchanged one still works, a removed one is gone).
 *
 * Services: svcI (I = 0 .. N-1) on VIP 10.97.x.y:80, v1 {10.0.1.10} and
 * v2 {10.0.2.10}, split v1: 1, v2: 0 unless a test says otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "check.h"
#include "config/config.h"
#include "datapath/datapath.h"
#include "fixture.h"
#include "pkt.h"
#include "sluice_abi.h" /* the skeleton names its types */
#include "sluice.skel.h"
#include "datapath/tables.h"

#define N 1000

/* What one service looks like in a test config. */
struct svc_spec {
	unsigned w1, w2;
	const char *v1_ep; /* NULL: 10.0.1.10 */
	bool absent;
	bool src_match; /* a first route for 10.0.9.0/24 clients */
};

static void vip_of(int i, char *out, size_t len)
{
	snprintf(out, len, "10.97.%d.%d", i / 250, i % 250 + 1);
}

static char *yaml_of(const struct svc_spec *spec, int n)
{
	size_t cap = (size_t)n * 320 + 64, off = 0;
	char *y = malloc(cap), vip[32];
	int i;

	if (!y)
		return NULL;
	off += snprintf(y + off, cap - off, "services:\n");
	for (i = 0; i < n; i++) {
		if (spec[i].absent)
			continue;
		vip_of(i, vip, sizeof(vip));
		off += snprintf(y + off, cap - off,
				"  - name: svc%d\n"
				"    vips: [%s]\n"
				"    ports: [{port: 80, targetPort: 8080}]\n"
				"    subsets:\n"
				"      v1: {endpoints: [%s]}\n"
				"      v2: {endpoints: [10.0.2.10]}\n"
				"    routes:\n"
				"%s"
				"      - split: {v1: %u, v2: %u}\n",
				i, vip, spec[i].v1_ep ? spec[i].v1_ep : "10.0.1.10",
				spec[i].src_match ? "      - match: {sourceCIDRs: [10.0.9.0/24]}\n"
						    "        split: {v2: 1}\n"
						  : "",
				spec[i].w1, spec[i].w2);
	}
	return y;
}

static bool apply(struct sl_datapath *dp, const struct svc_spec *spec, int n,
		  struct sl_apply_stats *st)
{
	struct sl_config *cfg = NULL;
	char *y = yaml_of(spec, n);
	struct sl_diag diag;
	size_t i;
	int err;

	sl_diag_init(&diag);
	err = y ? sl_config_load_buf("t.yaml", y, strlen(y), &cfg, &diag) : -ENOMEM;
	if (!err)
		err = sl_tables_apply_stats(&dp->maps, cfg, &diag, st);
	for (i = 0; err && i < diag.n_msgs; i++)
		printf("  | %s\n", diag.msgs[i]);
	sl_config_free(cfg);
	sl_diag_free(&diag);
	free(y);
	return ASSERT_OK(err, "config load + apply");
}

/* Where a new connection from `client` to service i goes: "" if it is not DNATed. */
static void syn_to(struct sl_datapath *dp, int i, const char *client, char be[INET6_ADDRSTRLEN])
{
	struct flow fl = {.family = 4, .proto = PROTO_TCP, .dport = 80, .tcp_flags = TH_SYN};
	static uint16_t sport = 10000;
	struct frame in, out;
	char vip[32];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.b, .data_out = out.b,
		    .data_size_out = sizeof(out.b), .repeat = 1);

	be[0] = 0;
	vip_of(i, vip, sizeof(vip));
	pkt_addr(client, fl.saddr);
	pkt_addr(vip, fl.daddr);
	fl.sport = sport++;
	opts.data_size_in = pkt_build(&in, &fl);
	if (bpf_prog_test_run_opts(bpf_program__fd(dp->skel->progs.sl_ingress), &opts) ||
	    opts.retval != TC_ACT_OK || !memcmp(out.b + ETH_LEN + 16, fl.daddr, 4))
		return;
	inet_ntop(AF_INET, out.b + ETH_LEN + 16, be, INET6_ADDRSTRLEN);
}

static bool goes_to(struct sl_datapath *dp, int i, const char *want, const char *what)
{
	char be[INET6_ADDRSTRLEN];

	syn_to(dp, i, "10.2.0.1", be);
	return ASSERT_STREQ(be, want, what);
}

#define ASSERT_WRITTEN(st, k, d, e, r, x, what)                                                    \
	do {                                                                                       \
		printf("  %s: keys %zu, deleted %zu, endpoints %zu, rows %zu, index %zu%s\n",      \
		       what, (st).keys_written, (st).keys_deleted, (st).endpoints_written,         \
		       (st).rows_written, (st).index_written, (st).full ? " (whole slot)" : "");   \
		ASSERT_TRUE(!(st).full, what ": in place");                                        \
		ASSERT_EQ((st).keys_written, k, what ": keys written");                            \
		ASSERT_EQ((st).keys_deleted, d, what ": keys deleted");                            \
		ASSERT_EQ((st).endpoints_written, e, what ": endpoints written");                  \
		ASSERT_EQ((st).rows_written, r, what ": rows written");                            \
		ASSERT_EQ((st).index_written, x, what ": index entries written");                  \
	} while (0)

static struct svc_spec *specs(int n)
{
	struct svc_spec *s = calloc(n, sizeof(*s));
	int i;

	for (i = 0; s && i < n; i++)
		s[i].w1 = 1;
	return s;
}

static void test_only_changes(void)
{
	struct svc_spec *s = specs(N);
	struct sl_apply_stats st;
	struct sl_datapath dp;

	if (!ASSERT_TRUE(s != NULL, "specs") || !ASSERT_OK(dp_load_test(&dp, 0, 0), "load")) {
		free(s);
		return;
	}
	if (!apply(&dp, s, N, &st))
		goto out;
	/* 1,000 keys, 2 endpoints each, 1,000 service rows and 2,000 subset rows */
	ASSERT_WRITTEN(st, N, 0, 2 * N, 3 * N, N, "from scratch");
	goes_to(&dp, 500, "10.0.1.10", "svc500 after the first apply");

	if (apply(&dp, s, N, &st))
		ASSERT_WRITTEN(st, 0, 0, 0, 0, 0, "the same config again");

	s[500].w1 = 0;
	s[500].w2 = 1;
	if (apply(&dp, s, N, &st))
		ASSERT_WRITTEN(st, 1, 0, 0, 0, 0, "one service's weights");
	goes_to(&dp, 500, "10.0.2.10", "svc500 follows its new weights");
	goes_to(&dp, 501, "10.0.1.10", "svc501 keeps its own");

	s[10].v1_ep = "10.0.1.99";
	if (apply(&dp, s, N, &st))
		ASSERT_WRITTEN(st, 1, 0, 2, 0, 0, "one service's endpoints");
	goes_to(&dp, 10, "10.0.1.99", "svc10 goes to its new endpoint");
	goes_to(&dp, 11, "10.0.1.10", "svc11 keeps its endpoint");

	s[20].absent = true;
	if (apply(&dp, s, N, &st))
		ASSERT_WRITTEN(st, 0, 1, 0, 0, 1, "one service removed");
	goes_to(&dp, 20, "", "svc20 is gone");
	goes_to(&dp, 21, "10.0.1.10", "svc21 stays");

	s[20].absent = false;
	/* its rows come back to it: retired, named again */
	if (apply(&dp, s, N, &st))
		ASSERT_WRITTEN(st, 1, 0, 2, 3, 1, "the service back");
	goes_to(&dp, 20, "10.0.1.10", "svc20 is back");
out:
	sl_dp_close(&dp);
	free(s);
}

/*
 * Source matches live in a table per slot: such a config goes the
 * whole-slot way (inactive slot, flip), and the next plain one in place.
 */
static void test_source_match_whole_slot(void)
{
	struct svc_spec *s = specs(10);
	struct sl_apply_stats st;
	struct sl_datapath dp;
	char be[INET6_ADDRSTRLEN];

	if (!ASSERT_TRUE(s != NULL, "specs") || !ASSERT_OK(dp_load_test(&dp, 0, 0), "load")) {
		free(s);
		return;
	}
	if (!apply(&dp, s, 10, &st))
		goto out;
	s[3].src_match = true;
	if (apply(&dp, s, 10, &st))
		ASSERT_TRUE(st.full, "a config with a source match: whole slot");
	syn_to(&dp, 3, "10.0.9.5", be);
	ASSERT_STREQ(be, "10.0.2.10", "a 10.0.9.0/24 client takes the source route");
	goes_to(&dp, 3, "10.0.1.10", "another client the default route");
	s[3].src_match = false;
	if (apply(&dp, s, 10, &st))
		ASSERT_TRUE(st.full, "leaving the source match: whole slot again");
	syn_to(&dp, 3, "10.0.9.5", be);
	ASSERT_STREQ(be, "10.0.1.10", "the source route is gone");
	if (apply(&dp, s, 10, &st))
		ASSERT_WRITTEN(st, 0, 0, 0, 0, 0, "then the same config in place");
out:
	sl_dp_close(&dp);
	free(s);
}

/*
 * Endpoints that change get fresh rows; the rows they leave are reclaimed
 * only by a whole-slot write, when the fresh rows run out. A small
 * datapath (--max-services 64: 256 endpoint rows per slot) runs out soon.
 */
static void test_endpoint_rows_run_out(void)
{
	struct svc_spec *s = specs(10);
	struct sl_apply_stats st;
	struct sl_dp_opts o;
	struct sl_datapath dp;
	int i, full = 0, wrong = 0;
	char ep[10][32], be[INET6_ADDRSTRLEN];

	sl_dp_opts_default(&o);
	o.cfg.flags = 0;
	o.max_services = 64;
	if (!ASSERT_TRUE(s != NULL, "specs") ||
	    !ASSERT_OK(sl_dp_load_opts(&dp, NULL, &o), "load")) {
		free(s);
		return;
	}
	ASSERT_EQ(dp.maps.max_endpoints, 256, "endpoint rows per slot at --max-services 64");
	for (i = 0; i < 300; i++) {
		snprintf(ep[i % 10], sizeof(ep[0]), "10.0.1.%d", 1 + i % 200);
		s[i % 10].v1_ep = ep[i % 10];
		if (!apply(&dp, s, 10, &st))
			break;
		full += st.full;
		syn_to(&dp, i % 10, "10.2.0.1", be);
		wrong += strcmp(be, ep[i % 10]) != 0;
	}
	printf("  %d applies of a changed endpoint, %d of them whole-slot\n", i, full);
	ASSERT_EQ(wrong, 0, "SYNs not sent to the endpoint just configured");
	/* 20 rows in use, 2 fresh ones per apply: a whole-slot write every ~118 */
	ASSERT_RANGE(full, 1, 3, "whole-slot writes when the rows ran out");
	sl_dp_close(&dp);
	free(s);
}

int main(int argc, char **argv)
{
	static const struct check_test tests[] = {
	    {"inplace_only_changes", test_only_changes},
	    {"inplace_source_match_whole_slot", test_source_match_whole_slot},
	    {"inplace_endpoint_rows_run_out", test_endpoint_rows_run_out},
	};

	libbpf_set_print(NULL);
	return check_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
