// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ns per packet of each datapath path, through BPF_PROG_TEST_RUN (as
 * Katran's perf testing does): one fixture per path, run many times with
 * repeat=1 so each run sees the original packet (a rewriting program would
 * see its own output on repeat > 1), and the kernel's own per-run duration
 * averaged. An empty TC program run the same way is the floor. Test runs
 * get private, uncloned skbs: real traffic adds the cost of un-sharing a
 * cloned skb on its first write, which `scripts/bench.sh` measures.
 *
 *   build/tests/bench_pkt [RUNS] [-j] [--only TEXT] [--ct-max N]
 *
 * prints a Markdown table (-j: JSON). --only runs the floor and the paths
 * whose name contains TEXT, e.g. to profile one path with perf. --ct-max
 * sizes the conntrack tables as `run --ct-max` does: a new connection's
 * lookups land in cold buckets, and smaller tables stay in the CPU's cache.
 * Built by `make bench-segments` (-DSL_SEGMENT_TIMING, bpf/segtime.h), it
 * also prints where each path's time goes, segment by segment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config/config.h"
#include "datapath/datapath.h"
#include "fixture.h"
#include "pkt.h"
#include "sluice_abi.h" /* the skeleton names its types */
#include "sluice.skel.h"
#include "datapath/tables.h"

static const char cfg_yaml[] = "services:\n"
			       "  - name: backend\n"
			       "    vips: [10.96.0.10, \"fd00::10\"]\n"
			       "    ports: [{port: 80, targetPort: 8080}]\n"
			       "    subsets:\n"
			       "      v1: {endpoints: [10.0.1.10, 10.0.1.11, \"fd00:1::10\"]}\n"
			       "      v2: {endpoints: [10.0.2.10, \"fd00:2::10\"]}\n"
			       "    routes:\n"
			       "      - match: {sourceLabels: {app: frontend, version: v2}}\n"
			       "        split: {v2: 100}\n"
			       "      - split: {v1: 90, v2: 10}\n"
			       "workloads:\n"
			       "  - labels: {app: frontend, version: v2}\n"
			       "    ips: [10.0.3.10]\n";

struct result {
	const char *name;
	double ns;
	long runs;
	double seg[SL_SEG_MAX]; /* -DSL_SEGMENT_TIMING: ns per run in each segment */
};

#ifdef SL_SEGMENT_TIMING
/* Take the segment sums since the last call (all CPUs), per run, and zero them. */
static int take_segments(int map_fd, long runs, double *seg)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *v, *zero;
	__u32 k;
	int c, err = 0;

	v = calloc(ncpu, sizeof(*v));
	zero = calloc(ncpu, sizeof(*zero));
	if (!v || !zero) {
		err = -ENOMEM;
		goto out;
	}
	for (k = 0; k < SL_SEG_MAX; k++) {
		__u64 sum = 0;

		if (bpf_map_lookup_elem(map_fd, &k, v) || bpf_map_update_elem(map_fd, &k, zero, 0)) {
			err = -errno;
			goto out;
		}
		for (c = 0; c < ncpu; c++)
			sum += v[c];
		seg[k] = (double)sum / runs;
	}
out:
	free(v);
	free(zero);
	return err;
}

static const char *const seg_names[SL_SEG_MAX] = {
    [SL_SEG_MARK] = "mark",	      [SL_SEG_CT_FIND] = "ct find",
    [SL_SEG_NEW_CHECKS] = "new: checks", [SL_SEG_CHOOSE] = "choose",
    [SL_SEG_OPEN] = "open",	      [SL_SEG_NEW_FORWARD] = "new: forward",
    [SL_SEG_EST_STATE] = "est: state",   [SL_SEG_EST_FORWARD] = "est: forward",
};

/* Each segment less one mark's own cost (the mark segment): ns of the code alone. */
static void print_segments(const struct result *res, int n)
{
	int i, k;

	printf("\n| path (ns per run, each segment less one mark) |");
	for (k = 1; k < SL_SEG_MAX; k++)
		printf(" %s |", seg_names[k]);
	printf(" mark |\n|---|");
	for (k = 0; k < SL_SEG_MAX; k++)
		printf("---:|");
	printf("\n");
	for (i = 1; i < n; i++) {
		if (res[i].seg[SL_SEG_MARK] == 0)
			continue; /* not through sl_client (pass), or the fast-path load */
		printf("| %s |", res[i].name);
		for (k = 1; k < SL_SEG_MAX; k++) {
			if (res[i].seg[k] == 0)
				printf(" |");
			else
				printf(" %.1f |", res[i].seg[k] - res[i].seg[SL_SEG_MARK]);
		}
		printf(" %.1f |\n", res[i].seg[SL_SEG_MARK]);
	}
}
#endif

/* Average duration of one run of prog over frames made by make(i). */
static int run_many(int prog_fd, long runs, void (*make)(struct frame *, long, void *), void *arg,
		    double *avg)
{
	struct frame in, out;
	unsigned long long total = 0;
	long i;

	for (i = 0; i < runs; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.b, .data_out = out.b,
			    .data_size_out = sizeof(out.b), .repeat = 1);

		make(&in, i, arg);
		opts.data_size_in = in.len;
		if (bpf_prog_test_run_opts(prog_fd, &opts))
			return -errno;
		total += opts.duration;
	}
	*avg = (double)total / runs;
	return 0;
}

static void tcp_frame(struct frame *f, const char *src, uint16_t sport, const char *dst,
		      uint16_t dport, uint8_t flags)
{
	struct flow fl = {.proto = PROTO_TCP, .sport = sport, .dport = dport, .tcp_flags = flags};

	fl.family = pkt_addr(src, fl.saddr);
	pkt_addr(dst, fl.daddr);
	f->len = pkt_build(f, &fl);
}

/* A new connection every run: distinct client ports (50000 of them). */
static void mk_syn(struct frame *f, long i, void *arg)
{
	tcp_frame(f, arg, 10000 + (i % 50000), strchr(arg, ':') ? "fd00::10" : "10.96.0.10", 80,
		  TH_SYN);
}

/* The same established connection every run (establish() opened and confirmed it). */
static void mk_ack(struct frame *f, long i, void *arg)
{
	tcp_frame(f, arg, 5555, strchr(arg, ':') ? "fd00::10" : "10.96.0.10", 80, TH_ACK);
}

static void mk_pass(struct frame *f, long i, void *arg)
{
	tcp_frame(f, "10.0.9.2", 5555, "10.0.7.7", 80, TH_ACK);
}

/* A backend's packet that is no reply of ours (the fast path looks it up). */
static void mk_be_pass(struct frame *f, long i, void *arg)
{
	tcp_frame(f, "10.0.1.10", 8080, "10.0.7.7", 5555, TH_ACK);
}

/* Backend's reply to the connection mk_ack uses; backend found from conntrack. */
struct reply_arg {
	char backend[64];
	char client[64];
};

static void mk_reply(struct frame *f, long i, void *arg)
{
	struct reply_arg *r = arg;

	tcp_frame(f, r->backend, 8080, r->client, 5555, TH_ACK);
}

static void reply_with(struct frame *f, const struct reply_arg *r, const char *payload,
		       uint32_t plen)
{
	struct flow fl = {.proto = PROTO_TCP,
			  .sport = 8080,
			  .dport = 5555,
			  .tcp_flags = TH_ACK | TH_PSH,
			  .payload = payload,
			  .plen = plen};

	fl.family = pkt_addr(r->backend, fl.saddr);
	pkt_addr(r->client, fl.daddr);
	f->len = pkt_build(f, &fl);
}

/* The same reply carrying a response: the status line is read and counted. */
static void mk_reply_http(struct frame *f, long i, void *arg)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	reply_with(f, arg, resp, sizeof(resp) - 1);
}

/*
 * A TLS record: read and found no status line. What a port declared not
 * HTTP (SL_SVC_NO_HTTP) no longer pays, against the pure ACK's row.
 */
static void mk_reply_tls(struct frame *f, long i, void *arg)
{
	static const char rec[] = "\x16\x03\x03\x00\x4a\x02\x00\x00\x46\x03\x03\x11";

	reply_with(f, arg, rec, sizeof(rec) - 1);
}

/*
 * Open the connection mk_ack sends on, and confirm it (its SYN, then the
 * client's ACK): only then does an ACK take the established path.
 */
static int establish(int prog_fd, const char *client)
{
	static const uint8_t flags[] = {TH_SYN, TH_ACK};
	struct frame in, out;
	size_t i;

	for (i = 0; i < sizeof(flags); i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.b, .data_out = out.b,
			    .data_size_out = sizeof(out.b), .repeat = 1);

		tcp_frame(&in, client, 5555, strchr(client, ':') ? "fd00::10" : "10.96.0.10", 80,
			  flags[i]);
		opts.data_size_in = in.len;
		if (bpf_prog_test_run_opts(prog_fd, &opts))
			return -errno;
		if (opts.retval != TC_ACT_OK)
			return -EINVAL;
	}
	return 0;
}

static int find_backend(int ct_fd, const char *client, char *out, size_t len)
{
	struct sl_ct_key k, nk, *cur = NULL;
	struct sl_ct_entry e;
	struct sl_addr a = {}, c = {};

	sl_addr_parse(client, &c);
	while (!bpf_map_get_next_key(ct_fd, cur, &nk)) {
		k = nk;
		cur = &k;
		if (memcmp(k.saddr, c.addr, 16) || k.sport != htons(5555) ||
		    bpf_map_lookup_elem(ct_fd, &k, &e))
			continue;
		a.family = e.family;
		memcpy(a.addr, e.addr, 16);
		sl_addr_str(&a, out, len);
		return 0;
	}
	return -ENOENT;
}

/*
 * Empty an unconfirmed table (sl_ct_new, sl_revnat_new): each new-connection
 * row starts from the same state, not in an LRU the previous row filled
 * (where every insert would also evict).
 */
static int ct_flush(int fd)
{
	struct sl_ct_key *keys = NULL, *more, *cur = NULL, next;
	size_t n = 0, cap = 0, i;
	int err = 0;

	while (!bpf_map_get_next_key(fd, cur, &next)) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			more = realloc(keys, cap * sizeof(*keys));
			if (!more) {
				err = -ENOMEM;
				goto out;
			}
			keys = more;
		}
		keys[n] = next;
		cur = &keys[n++];
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &keys[i]);
out:
	free(keys);
	return err;
}

/* Size the floor program's two tables (as sl_ct_new: max entries) and load it. */
static int load_flow_floor(struct bpf_object *obj, uint32_t max)
{
	static const char *const maps[] = {"sl_bench_fwd", "sl_bench_rev"};
	struct bpf_map *m;
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		m = bpf_object__find_map_by_name(obj, maps[i]);
		if (!m || bpf_map__set_max_entries(m, max))
			return -1;
	}
	return bpf_object__load(obj);
}

int main(int argc, char **argv)
{
	long runs = 200000;
	const char *only = NULL;
	uint32_t ct_max = SL_CT_SIZE;
	bool json = false;
	struct bpf_object *empty_obj = NULL, *flow_obj = NULL;
	struct sl_config *cfg = NULL;
	struct result res[20];
	struct reply_arg r4 = {.client = "10.0.9.2"}, r6 = {.client = "fd00:9::2"};
	struct sl_datapath dp, fdp;
	struct sl_diag diag;
	int n = 0, ing, egr, empty_fd, flow1_fd, flow2_fd, flow_fwd, flow_rev, err, i;
	double ns;

	for (i = 1; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "-j")) {
			json = true;
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--ct-max") && i + 1 < argc) {
			ct_max = strtoul(argv[++i], &end, 10);
			if (*end || ct_max < 1024)
				goto usage;
		} else if (i == 1 && (runs = strtol(argv[i], &end, 10)) > 0 && !*end) {
			continue;
		} else {
			goto usage;
		}
	}
	libbpf_set_print(NULL);
	sl_diag_init(&diag);
	/* on lo, whose routes are the host's: no source check (fixture.h) */
	err = dp_load_test(&dp, 0, ct_max);
	if (err)
		return 2;
	err = sl_config_load_buf("bench.yaml", cfg_yaml, strlen(cfg_yaml), &cfg, &diag);
	err = err ?: sl_tables_apply(&dp.maps, cfg, &diag);
	if (err) {
		fprintf(stderr, "setup: %s\n", strerror(-err));
		return 2;
	}
	empty_obj = bpf_object__open_file("build/empty.bpf.o", NULL);
	if (!empty_obj || bpf_object__load(empty_obj)) {
		fprintf(stderr, "cannot load build/empty.bpf.o (make build/empty.bpf.o)\n");
		return 2;
	}
	empty_fd = bpf_program__fd(bpf_object__find_program_by_name(empty_obj, "sl_bench_empty"));
	/* the floors for a new connection: their tables sized as sl_ct_new */
	flow_obj = bpf_object__open_file("build/bench_flow.bpf.o", NULL);
	err = !flow_obj || load_flow_floor(flow_obj, SL_CT_NEW_OF(ct_max));
	if (err) {
		fprintf(stderr,
			"cannot load build/bench_flow.bpf.o (make build/bench_flow.bpf.o)\n");
		return 2;
	}
	flow1_fd = bpf_program__fd(bpf_object__find_program_by_name(flow_obj, "sl_bench_flow1"));
	flow2_fd = bpf_program__fd(bpf_object__find_program_by_name(flow_obj, "sl_bench_flow2"));
	flow_fwd = bpf_map__fd(bpf_object__find_map_by_name(flow_obj, "sl_bench_fwd"));
	flow_rev = bpf_map__fd(bpf_object__find_map_by_name(flow_obj, "sl_bench_rev"));
	/* the same with the fast path on (as `run` loads it): its cost on other traffic */
	err = dp_load_test(&fdp, SL_DP_FAST_PATH, ct_max);
	err = err ?: sl_tables_apply(&fdp.maps, cfg, &diag);
	if (err) {
		fprintf(stderr, "setup (fast path): %s\n", strerror(-err));
		return 2;
	}
	ing = bpf_program__fd(dp.skel->progs.sl_ingress);
	egr = bpf_program__fd(dp.skel->progs.sl_egress);

#define MEASURE(label, fd, make, arg)                                                              \
	do {                                                                                       \
		long cnt = make == mk_syn && runs > 50000 ? 50000 : runs;                          \
		if (n && only && !strstr(label, only))                                             \
			break;                                                                     \
		/* each new-connection row (sluice's, the floors') from empty tables */            \
		if (make == mk_syn && (ct_flush(dp.maps.ct_new) || ct_flush(dp.maps.revnat_new) || \
				       ct_flush(flow_fwd) || ct_flush(flow_rev))) {                \
			fprintf(stderr, "%s: cannot empty the unconfirmed tables\n", label);       \
			return 2;                                                                  \
		}                                                                                  \
		if (run_many(fd, cnt, make, arg, &ns)) {                                           \
			fprintf(stderr, "%s: test run failed\n", label);                           \
			return 2;                                                                  \
		}                                                                                  \
		res[n] = (struct result){label, ns, cnt};                                          \
		TAKE_SEGMENTS(fd == ing, cnt, res[n].seg);                                         \
		n++;                                                                               \
	} while (0)
#ifdef SL_SEGMENT_TIMING
#define TAKE_SEGMENTS(ours, cnt, seg)                                                              \
	do {                                                                                       \
		if ((ours) && take_segments(bpf_map__fd(dp.skel->maps.sl_seg_ns), cnt, seg)) {     \
			fprintf(stderr, "cannot read sl_seg_ns\n");                                \
			return 2;                                                                  \
		}                                                                                  \
	} while (0)
#else
#define TAKE_SEGMENTS(ours, cnt, seg) do {} while (0)
#endif

	MEASURE("empty TC program (floor)", empty_fd, mk_ack, "10.0.9.2");
	MEASURE("not service traffic (pass)", ing, mk_pass, NULL);
	MEASURE("not service traffic (pass), fast path on", bpf_program__fd(fdp.skel->progs.sl_ingress),
		mk_pass, NULL);
	MEASURE("a backend's other traffic (pass), fast path on",
		bpf_program__fd(fdp.skel->progs.sl_ingress), mk_be_pass, NULL);
	/*
	 * The new-connection rows in steady state: a node's unconfirmed
	 * tables have churned, and the LRU's free list hands out elements in
	 * the order deletes and evictions left them, not in allocation order
	 * (which the hardware prefetcher would follow: a first row on fresh
	 * maps came out ~30 % cheaper than the rows after it). One unrecorded
	 * round of SYNs, flushed, leaves the maps that way for every row.
	 */
	if (!only || strstr("IPv4 new connection (SYN) IPv6 new connection (SYN) labelled", only)) {
		if (run_many(ing, 50000, mk_syn, "10.0.8.2", &ns) || ct_flush(dp.maps.ct_new) ||
		    ct_flush(dp.maps.revnat_new)) {
			fprintf(stderr, "new-connection warm-up failed\n");
			return 2;
		}
		TAKE_SEGMENTS(true, 1, res[n].seg);
	}
	MEASURE("IPv4 new connection (SYN)", ing, mk_syn, "10.0.9.2");
	MEASURE("IPv4 new connection, labelled source", ing, mk_syn, "10.0.3.10");
	MEASURE("IPv6 new connection (SYN)", ing, mk_syn, "fd00:9::2");
	/*
	 * What any per-connection tracker pays for those SYNs here: the same
	 * frames into LRU tables of sl_ct_new's size, after the same warm-up
	 * (one round; MEASURE empties the tables before each row).
	 */
	if ((!only || strstr("floor for a new connection", only)) &&
	    run_many(flow2_fd, 50000, mk_syn, "10.0.8.2", &ns)) {
		fprintf(stderr, "new-connection floor warm-up failed\n");
		return 2;
	}
	MEASURE("floor for a new connection: 1 LRU table (lookup, insert)", flow1_fd, mk_syn,
		"10.0.9.2");
	MEASURE("floor for a new connection: 2 LRU tables", flow2_fd, mk_syn, "10.0.9.2");
	if (establish(ing, r4.client) || establish(ing, r6.client)) {
		fprintf(stderr, "cannot open the established fixture's connection\n");
		return 2;
	}
	/* not part of the next row: its SYNs went through the new-connection segments */
	TAKE_SEGMENTS(true, 1, res[n].seg);
	MEASURE("IPv4 established (DNAT)", ing, mk_ack, "10.0.9.2");
	MEASURE("IPv6 established (DNAT)", ing, mk_ack, "fd00:9::2");
	if (find_backend(dp.maps.conntrack, r4.client, r4.backend, sizeof(r4.backend)) ||
	    find_backend(dp.maps.conntrack, r6.client, r6.backend, sizeof(r6.backend))) {
		fprintf(stderr, "no conntrack entry for the established fixture\n");
		return 2;
	}
	MEASURE("IPv4 reply (reverse NAT)", egr, mk_reply, &r4);
	MEASURE("IPv6 reply (reverse NAT)", egr, mk_reply, &r6);
	MEASURE("IPv4 reply with an HTTP status line", egr, mk_reply_http, &r4);
	MEASURE("IPv4 reply with a TLS record (read, no status)", egr, mk_reply_tls, &r4);

	if (json) {
		printf("[");
		for (i = 0; i < n; i++)
			printf("%s{\"name\": \"%s\", \"runs\": %ld, \"ns\": %.1f}", i ? ", " : "",
			       res[i].name, res[i].runs, res[i].ns);
		printf("]\n");
	} else {
		printf(
		    "| path (BPF_PROG_TEST_RUN) | runs | ns/packet | minus floor | vs floor |\n");
		printf("|---|---:|---:|---:|---:|\n");
		for (i = 0; i < n; i++)
			printf("| %s | %ld | %.1f | %.1f | %.1fx |\n", res[i].name, res[i].runs,
			       res[i].ns, res[i].ns - res[0].ns, res[i].ns / res[0].ns);
	}
#ifdef SL_SEGMENT_TIMING
	if (!json)
		print_segments(res, n);
#endif

	bpf_object__close(flow_obj);
	bpf_object__close(empty_obj);
	sl_config_free(cfg);
	sl_diag_free(&diag);
	sl_dp_close(&fdp);
	sl_dp_close(&dp);
	return 0;
usage:
	fprintf(stderr, "usage: bench_pkt [RUNS] [-j] [--only TEXT] [--ct-max N (>= 1024)]\n");
	return 1;
}
