// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The choice of a new connection, packet by packet: the split's shares over
 * many connections, stickiness across weight changes, deterministic
 * re-picks, client-ip affinity, routes by source, endpoint ports, no route
 * and no endpoint. Hand-built Ethernet frames through the real sl_ingress and
 * sl_egress with BPF_PROG_TEST_RUN, on a private unpinned instance per
 * test, configured from YAML text through the same parser and table writer
 * as `sluice apply`. Outputs are checked against frames built independently
 * (pkt.h), checksums recomputed from scratch.
 *
 * Run as root from the repository root: ./build/tests/test_choice [filter]
 * The last line is "N passed, N failed"; the exit status is 1 on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "sluice_abi.h" /* the skeleton names its types */
#include "sluice.skel.h"
#include "config/config.h"
#include "datapath/datapath.h"
#include "lib/log.h"
#include "datapath/counters.h"
#include "datapath/tables.h"

#include "flows.h"

/* ---- 7: the split ---- */

#define SPLIT_CONNS 50000

static void split(uint32_t w1, uint32_t w2)
{
	unsigned i, count[4] = {0}, ep_count[2] = {0}, bad_csum = 0;
	struct frame in, out;
	char y[1024], why[128], a[INET6_ADDRSTRLEN];
	struct fx fx;
	double v2;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", w1, w2)))
		goto out;
	for (i = 0; i < SPLIT_CONNS; i++) {
		struct flow f = client_flow(4, i, PROTO_TCP, TH_SYN);

		pkt_build(&in, &f);
		if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "verdict"))
			goto out;
		count[subset_of(&out, true)]++;
		if (!pkt_csums_ok(&out, why, sizeof(why)))
			bad_csum++;
		pkt_addr_str(&out, true, a, sizeof(a));
		if (!strcmp(a, "10.0.1.10"))
			ep_count[0]++;
		else if (!strcmp(a, "10.0.1.11"))
			ep_count[1]++;
	}
	ASSERT_EQ(count[0] + count[3], 0, "connections to no v1/v2 endpoint");
	ASSERT_EQ(bad_csum, 0, "outputs with a bad checksum");
	v2 = 100.0 * count[2] / SPLIT_CONNS;
	printf("  %u/%u: v2 %.2f%% (%u of %u), v1 endpoints %u/%u\n", w1, w2, v2, count[2],
	       SPLIT_CONNS, ep_count[0], ep_count[1]);
	/*
	 * The issue asks for +-1 point; at 99/1 that would accept 0%, so the
	 * bound is also held to 4.5 standard deviations of a fair split
	 * (0.13 points at 90/10, 0.04 at 99/1 over 50,000 connections).
	 */
	{
		double want = 100.0 * w2 / (w1 + w2),
		       sd = 100.0 * sqrt(want / 100 * (1 - want / 100) / SPLIT_CONNS),
		       tol = 4.5 * sd < 1 ? 4.5 * sd : 1;

		ASSERT_RANGE(v2, want - tol, want + tol, "v2 share, %");
	}
	ASSERT_RANGE(100.0 * ep_count[0] / count[1], 45, 55, "10.0.1.10's share of v1, %");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), SPLIT_CONNS, "new connections");
out:
	fx_down(&fx);
}

static void test_split_90_10(void)
{
	split(90, 10);
}

static void test_split_50_50(void)
{
	split(50, 50);
}

static void test_split_99_1(void)
{
	split(99, 1);
}

/* ---- 8: conntrack keeps open connections where they are ---- */

#define STICKY_CONNS 2000

static void test_sticky_after_weight_change(void)
{
	static char first[STICKY_CONNS][INET6_ADDRSTRLEN];
	char y[1024], a[INET6_ADDRSTRLEN];
	unsigned i, on_v1 = 0, moved = 0, new_v1 = 0;
	struct frame in, out;
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	for (i = 0; i < STICKY_CONNS; i++) {
		struct flow f = client_flow(4, i, PROTO_TCP, TH_SYN);

		if (open_conn(&fx, &f, &out) == 1)
			on_v1++;
		pkt_addr_str(&out, true, first[i], sizeof(first[i]));
	}
	if (!ASSERT_TRUE(on_v1 > STICKY_CONNS / 2, "most connections start on v1"))
		goto out;
	if (!fx_weights(&fx, 0, 100))
		goto out;
	for (i = 0; i < STICKY_CONNS; i++) {
		struct flow f = client_flow(4, i, PROTO_TCP, TH_ACK);

		pkt_build(&in, &f);
		if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "verdict"))
			goto out;
		if (strcmp(pkt_addr_str(&out, true, a, sizeof(a)), first[i]))
			moved++;
	}
	ASSERT_EQ(moved, 0, "open connections that moved after 0/100");
	for (i = STICKY_CONNS; i < 2 * STICKY_CONNS; i++) {
		struct flow f = client_flow(4, i, PROTO_TCP, TH_SYN);

		if (open_conn(&fx, &f, &out) != 2)
			new_v1++;
	}
	ASSERT_EQ(new_v1, 0, "new connections not on v2 after 0/100");
out:
	fx_down(&fx);
}

/* ---- 9: the same connection under the same config picks the same endpoint ---- */

static void test_deterministic_repick(void)
{
	static char first[1000][INET6_ADDRSTRLEN];
	char y[1024], a[INET6_ADDRSTRLEN];
	unsigned i, differ = 0;
	struct frame out;
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 50, 50)))
		goto out;
	for (i = 0; i < 1000; i++) {
		struct flow f = client_flow(i & 1 ? 6 : 4, i, PROTO_TCP, TH_SYN);

		open_conn(&fx, &f, &out);
		pkt_addr_str(&out, true, first[i], sizeof(first[i]));
	}
	if (!ASSERT_OK(ct_clear(&fx), "clear conntrack"))
		goto out;
	for (i = 0; i < 1000; i++) {
		struct flow f = client_flow(i & 1 ? 6 : 4, i, PROTO_TCP, TH_SYN);

		open_conn(&fx, &f, &out);
		if (strcmp(pkt_addr_str(&out, true, a, sizeof(a)), first[i]))
			differ++;
	}
	ASSERT_EQ(differ, 0, "connections that picked differently");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 2000, "new connections (conntrack was empty)");
out:
	fx_down(&fx);
}

/* ---- 10: client-ip affinity ---- */

#define AFF_CLIENTS 10000

static void test_affinity_monotonic(void)
{
	static uint8_t at[3][AFF_CLIENTS];
	static const uint32_t w2s[3] = {10, 50, 100};
	unsigned i, k, n2, split_client = 0, left = 0;
	struct frame out;
	struct fx fx;
	char y[1024];

	memset(&fx, 0, sizeof(fx));
	for (k = 0; k < 3; k++) {
		yaml_split(y, sizeof(y), "client-ip", 100 - w2s[k], w2s[k]);
		if (!(k ? fx_apply(&fx, y) : fx_up(&fx, y)))
			goto out;
		n2 = 0;
		for (i = 0; i < AFF_CLIENTS; i++) {
			/* a new source port per phase: a new connection, same client */
			struct flow f = client_flow(4, i, PROTO_TCP, TH_SYN);

			f.sport = 1000 + k * 2;
			at[k][i] = open_conn(&fx, &f, &out);
			n2 += at[k][i] == 2;
			if (i < 1000) {
				f.sport++;
				if (open_conn(&fx, &f, &out) != at[k][i])
					split_client++;
			}
		}
		printf("  v1 %u / v2 %u: %.2f%% of clients on v2\n", 100 - w2s[k], w2s[k],
		       100.0 * n2 / AFF_CLIENTS);
		ASSERT_RANGE(100.0 * n2 / AFF_CLIENTS, w2s[k] - 3.0, w2s[k] + 3.0, "v2 share, %");
	}
	ASSERT_EQ(split_client, 0, "clients whose two connections went to different subsets");
	for (i = 0; i < AFF_CLIENTS; i++)
		for (k = 1; k < 3; k++)
			if (at[k - 1][i] == 2 && at[k][i] != 2)
				left++;
	ASSERT_EQ(left, 0, "clients that left v2 when its weight grew");
out:
	fx_down(&fx);
}

static const char *yaml_three(char *buf, size_t len, uint32_t w1, uint32_t w2, uint32_t w3)
{
	snprintf(buf, len,
		 "services:\n"
		 "  - name: backend\n"
		 "    vips: [10.96.0.10]\n"
		 "    ports: [{port: 80, targetPort: 8080}]\n"
		 "    affinity: client-ip\n"
		 "    subsets:\n"
		 "      v1: {endpoints: [10.0.1.10, 10.0.1.11]}\n"
		 "      v2: {endpoints: [10.0.2.10]}\n"
		 "      v3: {endpoints: [10.0.3.20]}\n"
		 "    routes:\n"
		 "      - split: {v1: %u, v2: %u, v3: %u}\n",
		 w1, w2, w3);
	return buf;
}

static void test_affinity_three_subsets(void)
{
	static uint8_t at[4][AFF_CLIENTS];
	static const uint32_t w3s[4] = {10, 30, 60, 300};
	unsigned i, k, n[4], crossed = 0, left3 = 0;
	struct frame out;
	struct fx fx;
	char y[1024];

	memset(&fx, 0, sizeof(fx));
	for (k = 0; k < 4; k++) {
		yaml_three(y, sizeof(y), 45, 45, w3s[k]);
		if (!(k ? fx_apply(&fx, y) : fx_up(&fx, y)))
			goto out;
		memset(n, 0, sizeof(n));
		for (i = 0; i < AFF_CLIENTS; i++) {
			struct flow f = client_flow(4, i, PROTO_TCP, TH_SYN);

			f.sport = 2000 + k;
			at[k][i] = open_conn(&fx, &f, &out);
			n[at[k][i]]++;
		}
		printf("  45/45/%u: v1 %.2f%% v2 %.2f%% v3 %.2f%%\n", w3s[k],
		       100.0 * n[1] / AFF_CLIENTS, 100.0 * n[2] / AFF_CLIENTS,
		       100.0 * n[3] / AFF_CLIENTS);
		ASSERT_EQ(n[0], 0, "connections to no endpoint");
		ASSERT_RANGE(100.0 * n[3] / AFF_CLIENTS, 100.0 * w3s[k] / (90 + w3s[k]) - 3,
			     100.0 * w3s[k] / (90 + w3s[k]) + 3, "v3 share, %");
	}
	for (i = 0; i < AFF_CLIENTS; i++)
		for (k = 1; k < 4; k++) {
			if ((at[k - 1][i] == 1 && at[k][i] == 2) ||
			    (at[k - 1][i] == 2 && at[k][i] == 1))
				crossed++;
			if (at[k - 1][i] == 3 && at[k][i] != 3)
				left3++;
		}
	ASSERT_EQ(crossed, 0, "clients moved between v1 and v2 when only v3 grew");
	ASSERT_EQ(left3, 0, "clients that left v3 when its weight grew");
out:
	fx_down(&fx);
}

/* ---- 11: routes ---- */

static const char yaml_routes[] = "services:\n"
				  "  - name: backend\n"
				  "    vips: [10.96.0.10]\n"
				  "    ports: [{port: 80, targetPort: 8080}]\n"
				  "    subsets:\n"
				  "      v1: {endpoints: [10.0.1.10, 10.0.1.11]}\n"
				  "      v2: {endpoints: [10.0.2.10]}\n"
				  "    routes:\n"
				  "      - match: {sourceLabels: {app: frontend, version: v2}}\n"
				  "        split: {v2: 100}\n"
				  "      - match: {sourceCIDRs: [10.0.9.0/24]}\n"
				  "        split: {v2: 100}\n"
				  "      - split: {v1: 50, v2: 50}\n"
				  "workloads:\n"
				  "  - labels: {app: frontend, version: v2}\n"
				  "    ips: [10.0.3.10]\n"
				  "  - labels: {app: frontend, version: v1}\n"
				  "    ips: [10.0.3.11]\n";

/* Subsets that n connections from client (ports 30000..) land on: bit 1 v1, bit 2 v2. */
static unsigned subsets_seen(struct fx *fx, const char *client, unsigned n)
{
	unsigned seen = 0, i;
	struct frame out;

	for (i = 0; i < n; i++) {
		struct flow f = mkflow(PROTO_TCP, client, 30000 + i, VIP4, 80, TH_SYN);

		seen |= 1U << open_conn(fx, &f, &out);
	}
	return seen;
}

static void test_routes(void)
{
	static const char *const in_cidr[] = {"10.0.9.0", "10.0.9.1", "10.0.9.77", "10.0.9.255"};
	static const char *const others[] = {"10.0.8.255", "10.0.10.0", "10.0.3.11", "10.0.3.9",
					     "192.168.1.5"};
	struct fx fx;
	size_t i;

	if (!fx_up(&fx, yaml_routes))
		goto out;
	for (i = 0; i < sizeof(in_cidr) / sizeof(in_cidr[0]); i++)
		if (!ASSERT_EQ(subsets_seen(&fx, in_cidr[i], 100), 1U << 2, in_cidr[i]))
			printf("  client %s in 10.0.9.0/24 must only reach v2\n", in_cidr[i]);
	if (!ASSERT_EQ(subsets_seen(&fx, "10.0.3.10", 200), 1U << 2, "labelled client"))
		printf("  10.0.3.10 (app=frontend, version=v2) must only reach v2\n");
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (!ASSERT_EQ(subsets_seen(&fx, others[i], 200), (1U << 1) | (1U << 2), others[i]))
			printf("  client %s matches only the default 50/50 route\n", others[i]);
out:
	fx_down(&fx);
}

static void test_route_labels_without_workload(void)
{
	static const char yaml[] = "services:\n"
				   "  - name: backend\n"
				   "    vips: [10.96.0.10]\n"
				   "    ports: [{port: 80, targetPort: 8080}]\n"
				   "    subsets:\n"
				   "      v1: {endpoints: [10.0.1.10, 10.0.1.11]}\n"
				   "      v2: {endpoints: [10.0.2.10]}\n"
				   "    routes:\n"
				   "      - match: {sourceLabels: {app: ghost}}\n"
				   "        split: {v2: 100}\n"
				   "      - split: {v1: 100}\n"
				   "workloads:\n"
				   "  - labels: {app: frontend}\n"
				   "    ips: [10.0.3.10]\n";
	static const char *const clients[] = {"10.0.3.10", "10.0.9.1", "192.168.1.5", "0.0.0.0"};
	struct fx fx;
	size_t i;

	if (!fx_up(&fx, yaml))
		goto out;
	for (i = 0; i < sizeof(clients) / sizeof(clients[0]); i++)
		ASSERT_EQ(subsets_seen(&fx, clients[i], 100), 1U << 1, clients[i]);
out:
	fx_down(&fx);
}

/* Source matches on IPv6 clients and workloads, next to IPv4 ones. */
static void test_routes_ipv6(void)
{
	static const char yaml[] = "services:\n"
				   "  - name: backend\n"
				   "    vips: [10.96.0.10, \"fd00::10\"]\n"
				   "    ports: [{port: 80, targetPort: 8080}]\n"
				   "    subsets:\n"
				   "      v1: {endpoints: [10.0.1.10, \"fd00:1::10\"]}\n"
				   "      v2: {endpoints: [10.0.2.10, \"fd00:2::10\"]}\n"
				   "    routes:\n"
				   "      - match: {sourceLabels: {app: frontend}}\n"
				   "        split: {v2: 100}\n"
				   "      - match: {sourceCIDRs: [10.0.9.0/24, \"fd00:9::/64\"]}\n"
				   "        split: {v2: 100}\n"
				   "      - split: {v1: 100}\n"
				   "workloads:\n"
				   "  - labels: {app: frontend}\n"
				   "    ips: [\"fd00:3::10\"]\n";
	static const struct {
		const char *client;
		int subset;
	} cases[] = {
	    {"fd00:9::1", 2},  {"fd00:9::ffff:ffff:ffff:ffff", 2},
	    {"fd00:3::10", 2}, {"10.0.9.5", 2},
	    {"fd00:8::1", 1},  {"fd00:9:0:1::1", 1},
	    {"fd00:3::11", 1}, {"10.0.8.5", 1},
	};
	struct frame out;
	struct fx fx;
	size_t i;

	if (!fx_up(&fx, yaml))
		goto out;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool v6 = strchr(cases[i].client, ':');
		struct flow f =
		    mkflow(PROTO_TCP, cases[i].client, 30000, v6 ? VIP6 : VIP4, 80, TH_SYN);

		ASSERT_EQ(open_conn(&fx, &f, &out), cases[i].subset, cases[i].client);
	}
out:
	fx_down(&fx);
}

/* An endpoint with its own port overrides the targetPort. */
static void test_endpoint_port(void)
{
	static const char yaml[] =
	    "services:\n"
	    "  - name: backend\n"
	    "    vips: [10.96.0.10, \"fd00::10\"]\n"
	    "    ports:\n"
	    "      - {port: 80, targetPort: 8080}\n"
	    "      - {port: 53, protocol: UDP, targetPort: 5353}\n"
	    "    subsets:\n"
	    "      v1: {endpoints: [\"10.0.1.10:9090\", \"[fd00:1::10]:9091\"]}\n"
	    "      v2: {endpoints: [10.0.2.10]}\n"
	    "    routes:\n"
	    "      - split: {v1: 100}\n";
	char ep[INET6_ADDRSTRLEN];
	struct frame in, out;
	struct flow f;
	struct fx fx;

	if (!fx_up(&fx, yaml))
		goto out;
	f = mkflow(PROTO_TCP, "192.168.1.5", 40000, VIP4, 80, TH_SYN);
	pkt_build(&in, &f);
	if (ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "TCP verdict"))
		check_dnat(&f, &out, (const char *const[]){"10.0.1.10", NULL}, 9090, ep);
	f = mkflow(PROTO_UDP, "fd00:c::5", 40000, VIP6, 53, 0);
	pkt_build(&in, &f);
	if (ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "UDP verdict"))
		check_dnat(&f, &out, (const char *const[]){"fd00:1::10", NULL}, 9091, ep);
	f = mkflow(PROTO_UDP, "fd00:1::10", 9091, "fd00:c::5", 40000, 0);
	pkt_build(&in, &f);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "UDP reply verdict"))
		check_snat(&f, &out, VIP6, 53);
out:
	fx_down(&fx);
}

/* Every route has a match and the client meets none: its traffic is left alone. */
static void test_no_route_untouched(void)
{
	static const char yaml[] = "services:\n"
				   "  - name: backend\n"
				   "    vips: [10.96.0.10]\n"
				   "    ports: [{port: 80, targetPort: 8080}]\n"
				   "    subsets:\n"
				   "      v1: {endpoints: [10.0.1.10]}\n"
				   "      v2: {endpoints: [10.0.2.10]}\n"
				   "    routes:\n"
				   "      - match: {sourceCIDRs: [10.0.9.0/24]}\n"
				   "        split: {v2: 100}\n";
	struct flow f = mkflow(PROTO_TCP, "192.168.1.5", 40000, VIP4, 80, TH_SYN);
	struct frame in, out;
	struct fx fx;

	if (!fx_up(&fx, yaml))
		goto out;
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.ing, &in, &out), "client outside every route");
	ASSERT_EQ(fx_global(&fx, SL_G_NO_ROUTE), 1, "no_route");
	ASSERT_EQ(subsets_seen(&fx, "10.0.9.3", 20), 1U << 2, "client inside the route");
out:
	fx_down(&fx);
}

/* A subset picked for an IPv6 client but with IPv4 endpoints only: dropped and counted. */
static void test_no_endpoint_dropped(void)
{
	static const char yaml[] = "services:\n"
				   "  - name: backend\n"
				   "    vips: [10.96.0.10, \"fd00::10\"]\n"
				   "    ports: [{port: 80, targetPort: 8080}]\n"
				   "    subsets:\n"
				   "      v1: {endpoints: [10.0.1.10]}\n"
				   "      v2: {endpoints: [10.0.2.10]}\n"
				   "    routes:\n"
				   "      - split: {v1: 1, v2: 1}\n";
	struct flow f = mkflow(PROTO_TCP, "fd00:c::5", 40000, VIP6, 80, TH_SYN);
	struct sl_stats s1, s2;
	struct frame in, out;
	struct fx fx;

	if (!fx_up(&fx, yaml))
		goto out;
	pkt_build(&in, &f);
	ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_SHOT, "verdict");
	ASSERT_EQ(fx_global(&fx, SL_G_NO_ENDPOINT), 1, "no_endpoint");
	if (subset_stats(&fx, "v1", &s1) && subset_stats(&fx, "v2", &s2))
		ASSERT_EQ(s1.no_endpoint + s2.no_endpoint, 1, "subset no_endpoint");
out:
	fx_down(&fx);
}

static const struct check_test tests[] = {
    {"split_90_10", test_split_90_10},
    {"split_50_50", test_split_50_50},
    {"split_99_1", test_split_99_1},
    {"sticky_after_weight_change", test_sticky_after_weight_change},
    {"deterministic_repick", test_deterministic_repick},
    {"affinity_monotonic", test_affinity_monotonic},
    {"affinity_three_subsets", test_affinity_three_subsets},
    {"routes", test_routes},
    {"route_labels_without_workload", test_route_labels_without_workload},
    {"routes_ipv6", test_routes_ipv6},
    {"endpoint_port", test_endpoint_port},
    {"no_route_untouched", test_no_route_untouched},
    {"no_endpoint_dropped", test_no_endpoint_dropped},
};

int main(int argc, char **argv)
{
	sl_log_hook_libbpf();
	return check_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
