// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Full tables, datapath side: configurations at each table's limit applied
 * to a private datapath and used through BPF_PROG_TEST_RUN; a configuration
 * that cannot fit next to the running one refused with the limit named,
 * and nothing changed (the generation, the names, where packets go); and
 * conntrack at --ct-max: connections beyond it keep working unconfirmed
 * (ct_full, counted once each), and a flood of SYNs from forged sources
 * evicts unconfirmed entries only.
 *
 * Run as root from the repository root: ./build/tests/test_full [filter]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "sluice_abi.h"
#include "sluice.skel.h"
#include "config/config.h"
#include "datapath/counters.h"
#include "datapath/datapath.h"
#include "datapath/tables.h"
#include "lib/log.h"

#include "big_config.h"
#include "check.h"
#include "fixture.h"
#include "pkt.h"

static struct fx fx;

/* A private datapath without the source check (TEST_RUN has no route back). */
/* A private datapath; 0: run's default for --ct-max or --max-services. */
static bool up_sized(__u32 ct_max, __u32 max_services)
{
	struct sl_dp_opts o;

	memset(&fx, 0, sizeof(fx));
	sl_dp_opts_default(&o);
	o.cfg.flags &= ~SL_DP_SRC_CHECK;
	if (ct_max)
		o.ct_max = ct_max;
	if (max_services)
		o.max_services = max_services;
	if (!ASSERT_OK(sl_dp_load_opts(&fx.dp, NULL, &o), "sl_dp_load_opts"))
		return false;
	fx.up = true;
	fx.ing = bpf_program__fd(fx.dp.skel->progs.sl_ingress);
	fx.egr = bpf_program__fd(fx.dp.skel->progs.sl_egress);
	return true;
}

static bool up(__u32 ct_max)
{
	return up_sized(ct_max, 0);
}

/* Load and apply yaml; returns the error, diag messages in *msgs (joined). */
static int apply(const char *yaml, char *msgs, size_t len)
{
	struct sl_config *cfg = NULL;
	struct sl_diag diag;
	size_t i, off = 0;
	int err;

	sl_diag_init(&diag);
	err = sl_config_load_buf("t.yaml", yaml, strlen(yaml), &cfg, &diag);
	if (!err)
		err = sl_tables_apply(&fx.dp.maps, cfg, &diag);
	if (msgs && len)
		msgs[0] = '\0';
	for (i = 0; msgs && i < diag.n_msgs && off < len; i++)
		off += snprintf(msgs + off, len - off, "%s\n", diag.msgs[i]);
	sl_config_free(cfg);
	sl_diag_free(&diag);
	return err;
}

static __u64 generation(void)
{
	struct sl_state st;

	return sl_maps_read_state(&fx.dp.maps, &st) ? ~0ULL : st.generation;
}

/* A client's packet to service s's VIP; returns the verdict, *out the result. */
static int to_service(unsigned int s, const char *src, uint16_t sport, uint8_t flags,
		      struct frame *out)
{
	char vip[32];
	struct frame in;
	struct flow f;

	snprintf(vip, sizeof(vip), "172.16.%u.%u", s >> 8, s & 0xff);
	f = mkflow(PROTO_TCP, src, sport, vip, 80, flags);
	pkt_build(&in, &f);
	return xmit(fx.ing, &in, out);
}

/* The endpoint number (big_config.h's ip()) a frame went to, or 0. */
static unsigned int ep_of(const struct frame *f)
{
	const uint8_t *d = pkt_daddr(f);

	return d[0] == 10 ? (unsigned int)d[1] << 16 | d[2] << 8 | d[3] : 0;
}

static void test_endpoints_at_limit(void)
{
	unsigned int s, got;
	struct frame out;
	char *yaml;

	/* --max-services 16384: 65,536 endpoint rows per slot */
	if (!up_sized(0, 16384))
		return;
	/* 8 services x 8 subsets x 1,024: every row of a slot's half of sl_endpoints */
	yaml = services_text(8, 8, 1024);
	if (ASSERT_OK(apply(yaml, NULL, 0), "apply 65,536 endpoints"))
		for (s = 0; s < 8; s++) {
			if (!ASSERT_EQ(to_service(s, "192.168.1.1", 40000 + s, TH_SYN, &out),
				       TC_ACT_OK, "SYN verdict"))
				break;
			got = ep_of(&out);
			/* s's endpoints are numbers s * 8192 + 1 .. (s + 1) * 8192 */
			ASSERT_RANGE(got, s * 8192 + 1, (s + 1) * 8192,
				     "an endpoint of the service");
		}
	free(yaml);
	fx_down(&fx);
}

/* Service s0 renamed t0 in the text of services(): a new name, new rows. */
static void rename_s0(char *yaml)
{
	char *p = strstr(yaml, "- name: s0\n");

	if (p)
		p[8] = 't';
}

static void test_subset_rows_full(void)
{
	char msgs[4096], *a, *b, *c;
	struct sl_status st = {};
	unsigned int before;
	struct frame out;
	__u64 gen;

	/* --max-services 20480: 20,480 counter rows */
	if (!up_sized(0, 20480))
		return;
	/* every counter row taken: 2,560 services x 8 subsets */
	a = services_text(2560, 8, 1);
	b = strdup(a);
	rename_s0(b);
	/* without s0: frees nothing yet (its rows drain), needs no new row */
	c = strdup(strstr(a, "- name: s1\n"));
	if (!ASSERT_TRUE(b && c, "copies"))
		goto out;
	c = realloc(c, strlen(c) + 16);
	memmove(c + 10, c, strlen(c) + 1);
	memcpy(c, "services:\n", 10);

	if (!ASSERT_OK(apply(a, msgs, sizeof(msgs)), "apply 20,480 subsets"))
		goto out;
	if (!ASSERT_EQ(to_service(0, "192.168.1.1", 40000, TH_SYN, &out), TC_ACT_OK, "to s0"))
		goto out;
	before = ep_of(&out);
	gen = generation();

	/* t0 needs 8 rows, none is free: refused, nothing changed */
	ASSERT_EQ(apply(b, msgs, sizeof(msgs)), -ENOSPC, "apply with a new service");
	ASSERT_TRUE(strstr(msgs, "this configuration has 1 new service(s) and 8 new subset(s), "
				 "but only 17920 service and 0 subset counter rows are free: the "
				 "limit is 20480 of each") != NULL,
		    "the limit is named");
	ASSERT_EQ(generation(), gen, "no flip");
	if (ASSERT_OK(sl_tables_read_status(&fx.dp.maps, &st), "status")) {
		ASSERT_TRUE(sl_status_find(&st, "s0") != NULL, "s0 still there");
		ASSERT_TRUE(sl_status_find(&st, "t0") == NULL, "no t0");
		sl_status_free(&st);
	}
	if (ASSERT_EQ(to_service(0, "192.168.1.1", 40000, TH_SYN, &out), TC_ACT_OK, "to s0 again"))
		ASSERT_EQ(ep_of(&out), before, "the same endpoint");

	/* as the message says: first without s0, then t0 gets its retired rows */
	ASSERT_OK(apply(c, msgs, sizeof(msgs)), "apply without s0");
	if (ASSERT_OK(apply(b, msgs, sizeof(msgs)), "apply with t0 now") &&
	    ASSERT_EQ(to_service(0, "192.168.1.2", 40001, TH_SYN, &out), TC_ACT_OK, "to t0"))
		ASSERT_RANGE(ep_of(&out), 1, 8, "an endpoint of t0");
out:
	free(a);
	free(b);
	free(c);
	fx_down(&fx);
}

static void test_source_prefixes_at_limit(void)
{
	struct frame out;
	char *yaml;

	if (!up(0))
		return;
	/* 4,096 services x 16 sourceCIDRs: a slot's whole share of sl_src_match */
	yaml = cidr_services(4096, 0);
	if (ASSERT_OK(apply(yaml, NULL, 0), "apply 65,536 source prefixes")) {
		/* s4095's sixteenth prefix: 192.(4095 * 17 + 15 >> 8).(& 255).0/24 */
		unsigned int k = 4095 * 17 + 15;
		char src[32];

		snprintf(src, sizeof(src), "192.%u.%u.7", k >> 8 & 0xff, k & 0xff);
		if (ASSERT_EQ(to_service(4095, src, 40000, TH_SYN, &out), TC_ACT_OK, "matched"))
			ASSERT_EQ(ep_of(&out), 2, "its route (v1)");
		if (ASSERT_EQ(to_service(4095, "198.51.100.1", 40000, TH_SYN, &out), TC_ACT_OK,
			      "not matched"))
			ASSERT_EQ(ep_of(&out), 1, "the default route (v0)");
	}
	free(yaml);
	fx_down(&fx);
}

static void test_workloads_at_limit(void)
{
	struct frame out;
	char *yaml;

	if (!up(0))
		return;
	/* 2,048 services whose route selects a workload of 32 addresses */
	yaml = label_services(2048, 32);
	if (ASSERT_OK(apply(yaml, NULL, 0), "apply 65,536 workload prefixes")) {
		/* the workload's last address: number 0x100000 + 31 */
		if (ASSERT_EQ(to_service(2047, "10.16.0.31", 40000, TH_SYN, &out), TC_ACT_OK,
			      "from the workload"))
			ASSERT_EQ(ep_of(&out), 2, "its route (v1)");
	}
	free(yaml);
	fx_down(&fx);
}

/* Client i of the conntrack tests: 192.168.(i >> 8).(i & 255):(20000 + i). */
static void client(unsigned int i, char *buf, size_t len)
{
	snprintf(buf, len, "192.168.%u.%u", (i >> 8) & 0xff, i & 0xff);
}

static void test_conntrack_full(void)
{
	unsigned int i, ep[20], flood = 3000, kept = 0;
	uint64_t full0, conf0;
	struct frame out;
	char src[32];
	struct text t;
	char *yaml;

	/* --ct-max 16: 16 confirmed; the unconfirmed LRU has its minimum, 1,024 */
	if (!up(16))
		return;
	text_open(&t);
	fputs("services:\n- name: s0\n  vips: [172.16.0.0]\n  ports: [{port: 80}]\n"
	      "  subsets: {v0: {endpoints: [10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4]}}\n",
	      t.f);
	yaml = text_close(&t);
	if (!ASSERT_OK(apply(yaml, NULL, 0), "apply"))
		goto out;
	full0 = fx_global(&fx, SL_G_CT_FULL);
	conf0 = fx_global(&fx, SL_G_CT_CONFIRMED);
	/* 20 handshakes: the client's ACK confirms the first 16 */
	for (i = 0; i < 20; i++) {
		client(i + 1, src, sizeof(src));
		if (!ASSERT_EQ(to_service(0, src, 20000 + i, TH_SYN, &out), TC_ACT_OK, "SYN"))
			goto out;
		ep[i] = ep_of(&out);
		/* two ACKs: a full table is counted once per connection */
		if (!ASSERT_EQ(to_service(0, src, 20000 + i, TH_ACK, &out), TC_ACT_OK, "ACK") ||
		    !ASSERT_EQ(to_service(0, src, 20000 + i, TH_ACK, &out), TC_ACT_OK, "ACK"))
			goto out;
		ASSERT_EQ(ep_of(&out), ep[i], "the ACK goes where the SYN went");
	}
	ASSERT_EQ(fx_global(&fx, SL_G_CT_CONFIRMED) - conf0, 16, "confirmed up to --ct-max");
	ASSERT_EQ(fx_global(&fx, SL_G_CT_FULL) - full0, 4, "ct_full once per connection");

	/* a flood of SYNs from forged sources: 3x the unconfirmed table */
	for (i = 0; i < flood; i++) {
		char fake[32];

		snprintf(fake, sizeof(fake), "203.0.%u.%u", (i >> 8) & 0xff, i & 0xff);
		if (to_service(0, fake, 1024 + i % 60000, TH_SYN, &out) != TC_ACT_OK)
			break;
	}
	ASSERT_EQ(i, flood, "every flood SYN was translated");
	for (i = 0; i < 16; i++) {
		client(i + 1, src, sizeof(src));
		if (to_service(0, src, 20000 + i, TH_ACK | TH_PSH, &out) == TC_ACT_OK &&
		    ep_of(&out) == ep[i])
			kept++;
	}
	ASSERT_EQ(kept, 16, "confirmed connections keep their backend through the flood");
out:
	free(yaml);
	fx_down(&fx);
}

/* The backend's reply to client:sport of a connection to s0 that went to ep. */
static int from_backend(unsigned int ep, const char *client, uint16_t sport, const char *payload,
			struct frame *out)
{
	char be[32];
	struct frame in;
	struct flow f;

	snprintf(be, sizeof(be), "10.0.0.%u", ep);
	f = mkflow(PROTO_TCP, be, 8080, client, sport, TH_ACK | TH_PSH);
	f.payload = payload;
	f.plen = (uint16_t)strlen(payload);
	pkt_build(&in, &f);
	return xmit(fx.egr, &in, out);
}

/*
 * The two tables the datapath fills on its own besides conntrack, full: a
 * lost reverse entry that cannot be put back (sl_revnat at --ct-max) and an
 * exact HTTP code with no room in sl_http_codes. Each is counted
 * (revnat_full, http_codes_full), and the packet still goes through.
 */
static void test_reverse_and_codes_full(void)
{
	const char *client = "192.168.7.7", *yaml;
	uint64_t restored0, full0, codes0;
	struct sl_ct_key rk, dummy;
	struct sl_ct_entry fe, rv;
	struct sl_http_code_key ck;
	unsigned int i, ep, ncpu;
	struct frame out;
	char be[32];
	__u64 *zeros;
	int rn;

	if (!up(16))
		return;
	yaml = "services:\n- name: s0\n  vips: [172.16.0.0]\n  ports: [{port: 80, targetPort: 8080}]\n"
	       "  subsets: {v0: {endpoints: [10.0.0.1]}}\n";
	if (!ASSERT_OK(apply(yaml, NULL, 0), "apply") ||
	    !ASSERT_EQ(to_service(0, client, 41000, TH_SYN, &out), TC_ACT_OK, "SYN") ||
	    !ASSERT_EQ(to_service(0, client, 41000, TH_ACK, &out), TC_ACT_OK, "ACK"))
		goto out;
	ep = ep_of(&out) & 0xff;
	snprintf(be, sizeof(be), "10.0.0.%u", ep);

	/* its reverse entry lost, and sl_revnat filled with others */
	rn = fx.dp.maps.revnat;
	rk = ct_key(be, 8080, client, 41000, PROTO_TCP);
	if (!ASSERT_OK(bpf_map_lookup_elem(rn, &rk, &rv), "confirmed reverse entry") ||
	    !ASSERT_OK(bpf_map_delete_elem(rn, &rk), "delete it"))
		goto out;
	for (i = 0; i < 16; i++) {
		dummy = ct_key(be, 8080, "192.168.8.8", (uint16_t)(30000 + i), PROTO_TCP);
		if (!ASSERT_OK(bpf_map_update_elem(rn, &dummy, &rv, BPF_NOEXIST), "fill sl_revnat"))
			goto out;
	}
	/* the check runs once a tick: make the forward entry a tick old */
	{
		struct sl_ct_key fk = ct_key(client, 41000, "172.16.0.0", 80, PROTO_TCP);

		if (!ASSERT_OK(bpf_map_lookup_elem(fx.dp.maps.conntrack, &fk, &fe), "forward entry"))
			goto out;
		fe.last_seen -= 2;
		if (!ASSERT_OK(bpf_map_update_elem(fx.dp.maps.conntrack, &fk, &fe, BPF_EXIST), "age it"))
			goto out;
	}
	restored0 = fx_global(&fx, SL_G_REVNAT_RESTORED);
	full0 = fx_global(&fx, SL_G_REVNAT_FULL);
	ASSERT_EQ(to_service(0, client, 41000, TH_ACK | TH_PSH, &out), TC_ACT_OK,
		  "the packet goes through");
	ASSERT_EQ(ep_of(&out) & 0xff, ep, "...to its backend");
	ASSERT_EQ(fx_global(&fx, SL_G_REVNAT_FULL) - full0, 1, "revnat_full");
	ASSERT_EQ(fx_global(&fx, SL_G_REVNAT_RESTORED) - restored0, 0,
		  "revnat_restored not counted for an entry not put back");

	/* room again: the reverse entry back, sl_http_codes full of other codes */
	if (!ASSERT_OK(bpf_map_delete_elem(rn, &dummy), "make room") ||
	    !ASSERT_OK(bpf_map_update_elem(rn, &rk, &rv, BPF_NOEXIST), "reverse entry back"))
		goto out;
	ncpu = (unsigned int)libbpf_num_possible_cpus();
	zeros = calloc(ncpu, sizeof(*zeros));
	if (!ASSERT_TRUE(zeros != NULL, "calloc"))
		goto out;
	for (i = 0; i < SL_MAX_HTTP_CODES; i++) {
		ck.subset_id = 100000 + i;
		ck.code = 200;
		if (bpf_map_update_elem(fx.dp.maps.http_codes, &ck, zeros, BPF_NOEXIST))
			break;
	}
	free(zeros);
	ASSERT_EQ(i, SL_MAX_HTTP_CODES, "sl_http_codes filled");
	codes0 = fx_global(&fx, SL_G_HTTP_CODES_FULL);
	ASSERT_EQ(from_backend(ep, client, 41000, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			       &out),
		  TC_ACT_OK, "the response goes through");
	ASSERT_EQ(fx_global(&fx, SL_G_HTTP_CODES_FULL) - codes0, 1, "http_codes_full");
out:
	fx_down(&fx);
}

static const struct check_test tests[] = {
    {"endpoints_at_limit", test_endpoints_at_limit},
    {"subset_rows_full", test_subset_rows_full},
    {"source_prefixes_at_limit", test_source_prefixes_at_limit},
    {"workloads_at_limit", test_workloads_at_limit},
    {"conntrack_full", test_conntrack_full},
    {"reverse_and_codes_full", test_reverse_and_codes_full},
};

int main(int argc, char **argv)
{
	sl_log_hook_libbpf();
	sl_log_set_level(SL_LOG_WARN);
	return check_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
