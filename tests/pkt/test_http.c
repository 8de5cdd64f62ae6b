// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP status counting on the reply path (bpf/http.h): hand-built replies
 * through the real sl_egress with BPF_PROG_TEST_RUN, on a private unpinned
 * instance per test. Counters are read back the way `sluice status` reads
 * them (sl_tables_read_status), and every reply must still leave reverse-
 * NATed byte for byte, checksums recomputed from scratch (pkt.h).
 *
 * Run as root from the repository root: ./build/tests/test_http [filter]
 * The last line is "N passed, N failed"; the exit status is 1 on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "sluice_abi.h" /* the skeleton names its types */
#include "sluice.skel.h"
#include "config/config.h"
#include "datapath/datapath.h"
#include "lib/log.h"
#include "datapath/counters.h"

#include "check.h"
#include "fixture.h"
#include "pkt.h"

#define VIP4 "10.96.0.10"
#define VIP6 "fd00::10"

/* ---- fixture: one private datapath and its configuration ---- */

/* v1 and v2 with one endpoint per family each, so a reply's source says its subset. */
static const char *yaml(char *buf, size_t len, uint32_t w1, uint32_t w2)
{
	snprintf(buf, len,
		 "services:\n"
		 "  - name: backend\n"
		 "    vips: [10.96.0.10, \"fd00::10\"]\n"
		 "    ports:\n"
		 "      - {port: 80, protocol: TCP, targetPort: 8080}\n"
		 "      - {port: 80, protocol: UDP, targetPort: 8080}\n"
		 "    subsets:\n"
		 "      v1: {endpoints: [10.0.1.10, \"fd00:1::10\"]}\n"
		 "      v2: {endpoints: [10.0.2.10, \"fd00:2::10\"]}\n"
		 "    routes:\n"
		 "      - split: {v1: %u, v2: %u}\n",
		 w1, w2);
	return buf;
}

static bool fx_up_split(struct fx *fx, uint32_t w1, uint32_t w2)
{
	char y[1024];

	return fx_up(fx, yaml(y, sizeof(y), w1, w2));
}

/* HTTP counters of one subset, as `sluice status` reads them. */
struct http_view {
	uint64_t cls[5];      /* 1xx .. 5xx */
	uint64_t code[600];   /* by exact code */
	size_t n_codes;	      /* distinct codes listed */
	uint64_t packets_out; /* to see that a reply went through at all */
};

static bool http_read(struct fx *fx, const char *subset, struct http_view *hv)
{
	const struct sl_status_service *ss;
	struct sl_status st = {};
	bool found = false;
	size_t i, j;

	memset(hv, 0, sizeof(*hv));
	if (!ASSERT_OK(sl_tables_read_status(&fx->dp.maps, &st), "sl_tables_read_status"))
		return false;
	ss = sl_status_find(&st, "backend");
	for (i = 0; ss && i < ss->n_subsets; i++) {
		const struct sl_status_subset *sub = &ss->subsets[i];

		if (strcmp(sub->name, subset))
			continue;
		found = true;
		memcpy(hv->cls, sub->stats.http_responses, sizeof(hv->cls));
		hv->packets_out = sub->stats.packets_out;
		hv->n_codes = sub->n_codes;
		for (j = 0; j < sub->n_codes; j++)
			if (sub->codes[j].code < 600)
				hv->code[sub->codes[j].code] += sub->codes[j].count;
			else
				check_fail(__FILE__, __LINE__, "code %u listed",
					   sub->codes[j].code);
	}
	sl_status_free(&st);
	return ASSERT_TRUE(found, subset);
}

/* Exactly these class counts (1xx..5xx) and nothing else. */
#define ASSERT_CLASSES(hv, c1, c2, c3, c4, c5)                                                     \
	({                                                                                         \
		bool ___ok = true;                                                                 \
		___ok &= ASSERT_EQ((hv)->cls[0], c1, "1xx");                                       \
		___ok &= ASSERT_EQ((hv)->cls[1], c2, "2xx");                                       \
		___ok &= ASSERT_EQ((hv)->cls[2], c3, "3xx");                                       \
		___ok &= ASSERT_EQ((hv)->cls[3], c4, "4xx");                                       \
		___ok &= ASSERT_EQ((hv)->cls[4], c5, "5xx");                                       \
		___ok;                                                                             \
	})

/* ---- sending frames ---- */

/* out must be in with the source replaced by addr:port, nothing else changed. */
static bool check_snat(const struct flow *in, const struct frame *out, const char *addr,
		       uint16_t port, const char *what)
{
	return check_nat(in, out, addr, port, NULL, in->dport, what);
}

/* Open a connection from client:sport (SYN through sl_ingress); *be gets its backend. */
static bool open_conn(struct fx *fx, const char *client, uint16_t sport, char *be, size_t len)
{
	struct flow syn =
	    mkflow(PROTO_TCP, client, sport, strchr(client, ':') ? VIP6 : VIP4, 80, TH_SYN);
	struct frame in, out;

	pkt_build(&in, &syn);
	if (!ASSERT_EQ(xmit(fx->ing, &in, &out), TC_ACT_OK, "SYN verdict"))
		return false;
	pkt_addr_str(&out, true, be, len);
	return ASSERT_EQ(pkt_dport(&out), 8080, "SYN DNATed to the target port");
}

/* The backend's reply segment carrying payload, through sl_egress, checked reverse-NATed. */
static bool reply(struct fx *fx, const char *be, const char *client, uint16_t cport,
		  const void *payload, uint32_t plen, uint8_t flags, const char *what)
{
	struct flow r = mkflow(PROTO_TCP, be, 8080, client, cport, flags);
	struct frame in, out;

	r.payload = payload;
	r.plen = plen;
	pkt_build(&in, &r);
	if (!ASSERT_EQ(xmit(fx->egr, &in, &out), TC_ACT_OK, what))
		return false;
	return check_snat(&r, &out, strchr(client, ':') ? VIP6 : VIP4, 80, what);
}

#define S(lit) lit, sizeof(lit) - 1

/* ---- the status line, counted or not ---- */

static const char resp_200[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

static void status_lines(const char *client)
{
	char be[INET6_ADDRSTRLEN];
	struct http_view hv;
	struct fx fx;
	const uint8_t flags = TH_ACK | TH_PSH;

	if (!fx_up_split(&fx, 100, 0) || !open_conn(&fx, client, 40000, be, sizeof(be)))
		goto out;

	/* counted */
	reply(&fx, be, client, 40000, S(resp_200), flags, "200");
	reply(&fx, be, client, 40000, S("HTTP/1.0 503 Service Unavailable\r\n\r\n"), flags, "503");
	reply(&fx, be, client, 40000, S("HTTP/1.1 404"), flags, "404, exactly 12 bytes");
	reply(&fx, be, client, 40000, S("HTTP/1.1 100 Continue\r\n\r\n"), flags, "100");
	reply(&fx, be, client, 40000, S("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n"), flags,
	      "302");
	reply(&fx, be, client, 40000, S("HTTP/1.1 599 x"), flags, "599");
	reply(&fx, be, client, 40000, S("HTTP/1.0 200 OK\r\n\r\nbye"), TH_ACK | TH_PSH | TH_FIN,
	      "200 with FIN");
	if (!http_read(&fx, "v1", &hv))
		goto out;
	ASSERT_CLASSES(&hv, 1, 2, 1, 1, 2);
	ASSERT_EQ(hv.code[200], 2, "code 200");
	ASSERT_EQ(hv.code[503], 1, "code 503");
	ASSERT_EQ(hv.code[404], 1, "code 404");
	ASSERT_EQ(hv.code[100], 1, "code 100");
	ASSERT_EQ(hv.code[302], 1, "code 302");
	ASSERT_EQ(hv.code[599], 1, "code 599");
	ASSERT_EQ(hv.n_codes, 6, "distinct codes");

	/* not counted */
	reply(&fx, be, client, 40000, S("world, and the rest of the body: HTTP/1.1 200 OK\r\n"),
	      flags, "body segment");
	reply(&fx, be, client, 40000, S("HTTP/2 200 OK\r\n\r\n"), flags, "HTTP/2");
	reply(&fx, be, client, 40000, S("HTTP/1.1 99 OK\r\n"), flags, "2-digit code");
	reply(&fx, be, client, 40000, S("HTTP/1.1 6xx\r\n"), flags, "6xx");
	reply(&fx, be, client, 40000, S("HTTP/1.1 600 x\r\n"), flags, "600");
	reply(&fx, be, client, 40000, S("HTTP/1.1 099 x\r\n"), flags, "099");
	reply(&fx, be, client, 40000, S("HTTP/1.1 2a0 OK\r\n"), flags, "2a0");
	reply(&fx, be, client, 40000, S("HTTP/1.1 20a OK\r\n"), flags, "20a");
	reply(&fx, be, client, 40000, S("HTTP/1.2 200 OK\r\n"), flags, "HTTP/1.2");
	reply(&fx, be, client, 40000, S("HTTP/1.1\t200 OK\r\n"), flags, "tab");
	reply(&fx, be, client, 40000, S("http/1.1 200 OK\r\n"), flags, "lower case");
	reply(&fx, be, client, 40000, S("HTTPS/1.1 200 OK\r\n"), flags, "HTTPS/");
	reply(&fx, be, client, 40000, S("HTTP/1.1 20"), flags, "11 bytes");
	reply(&fx, be, client, 40000, S("HTTP"), flags, "4 bytes");
	reply(&fx, be, client, 40000, "\x16\x03\x03\x00\x4a\x02\x00\x00\x46\x03\x03\x11", 12, flags,
	      "TLS record");
	reply(&fx, be, client, 40000, NULL, 0, TH_ACK, "pure ACK");
	reply(&fx, be, client, 40000, NULL, 0, TH_ACK | TH_FIN, "FIN");
	if (!http_read(&fx, "v1", &hv))
		goto out;
	ASSERT_CLASSES(&hv, 1, 2, 1, 1, 2);
	ASSERT_EQ(hv.n_codes, 6, "distinct codes");
	ASSERT_EQ(hv.packets_out, 7 + 17, "replies NATed");
out:
	fx_down(&fx);
}

static void test_status_lines4(void)
{
	status_lines("192.168.1.5");
}

static void test_status_lines6(void)
{
	status_lines("fd00:c::5");
}

/* Counters go to the subset that served the connection, codes keyed by subset. */
static void test_per_subset(void)
{
	char be1[INET6_ADDRSTRLEN], be2[INET6_ADDRSTRLEN];
	const char *client = "192.168.1.5";
	struct http_view v1, v2;
	const uint8_t flags = TH_ACK | TH_PSH;
	struct fx fx;
	int i;

	if (!fx_up_split(&fx, 100, 0) || !open_conn(&fx, client, 40001, be1, sizeof(be1)))
		goto out;
	if (!fx_weights(&fx, 0, 100) || !open_conn(&fx, client, 40002, be2, sizeof(be2)))
		goto out;
	if (!ASSERT_STREQ(be1, "10.0.1.10", "v1 backend") ||
	    !ASSERT_STREQ(be2, "10.0.2.10", "v2 backend"))
		goto out;
	for (i = 0; i < 10; i++) {
		reply(&fx, be1, client, 40001, S(resp_200), flags, "v1 200");
		if (i % 4 == 3)
			reply(&fx, be2, client, 40002, S("HTTP/1.1 500 Internal\r\n\r\n"), flags,
			      "v2 500");
		else
			reply(&fx, be2, client, 40002, S(resp_200), flags, "v2 200");
	}
	if (!http_read(&fx, "v1", &v1) || !http_read(&fx, "v2", &v2))
		goto out;
	ASSERT_CLASSES(&v1, 0, 10, 0, 0, 0);
	ASSERT_EQ(v1.code[200], 10, "v1 code 200");
	ASSERT_EQ(v1.n_codes, 1, "v1 distinct codes");
	ASSERT_CLASSES(&v2, 0, 8, 0, 0, 2);
	ASSERT_EQ(v2.code[200], 8, "v2 code 200");
	ASSERT_EQ(v2.code[500], 2, "v2 code 500");
	ASSERT_EQ(v2.n_codes, 2, "v2 distinct codes");
out:
	fx_down(&fx);
}

/* Only replies of tracked connections count: not requests, not strangers, not UDP. */
static void test_only_tracked_replies(void)
{
	const char *client = "192.168.1.5";
	char be[INET6_ADDRSTRLEN];
	struct http_view hv;
	struct frame in, out;
	struct flow f;
	struct fx fx;

	if (!fx_up_split(&fx, 100, 0) || !open_conn(&fx, client, 40003, be, sizeof(be)))
		goto out;

	/* a request on the forward path that happens to look like a response */
	f = mkflow(PROTO_TCP, client, 40003, VIP4, 80, TH_ACK | TH_PSH);
	f.payload = resp_200;
	f.plen = sizeof(resp_200) - 1;
	pkt_build(&in, &f);
	ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "request verdict");
	ASSERT_EQ(pkt_dport(&out), 8080, "request DNATed");

	/* the backend through sl_egress to a client port it never heard of through us */
	f = mkflow(PROTO_TCP, be, 8080, client, 40999, TH_ACK | TH_PSH);
	f.payload = resp_200;
	f.plen = sizeof(resp_200) - 1;
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "stranger");

	/* a UDP reply of a tracked flow */
	f = mkflow(PROTO_UDP, client, 40004, VIP4, 80, 0);
	f.payload = "q";
	f.plen = 1;
	pkt_build(&in, &f);
	ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "UDP request verdict");
	f = mkflow(PROTO_UDP, be, 8080, client, 40004, 0);
	f.payload = resp_200;
	f.plen = sizeof(resp_200) - 1;
	pkt_build(&in, &f);
	ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "UDP reply verdict");
	check_snat(&f, &out, VIP4, 80, "UDP reply");

	if (!http_read(&fx, "v1", &hv))
		goto out;
	ASSERT_CLASSES(&hv, 0, 0, 0, 0, 0);
	ASSERT_EQ(hv.n_codes, 0, "distinct codes");
	ASSERT_EQ(hv.packets_out, 1, "replies NATed (the UDP one)");
out:
	fx_down(&fx);
}

/* The payload starts after TCP and IPv4 options; its length comes from IP, not the frame. */
static void test_payload_offset(void)
{
	static const uint8_t ts_opts[] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
	const char *client = "192.168.1.5";
	char be[INET6_ADDRSTRLEN];
	struct http_view hv;
	struct frame in, out, exp;
	struct flow r;
	struct fx fx;
	long at;

	if (!fx_up_split(&fx, 100, 0) || !open_conn(&fx, client, 40005, be, sizeof(be)))
		goto out;

	r = mkflow(PROTO_TCP, be, 8080, client, 40005, TH_ACK | TH_PSH);
	r.tcp_opts = ts_opts;
	r.tcp_opts_len = sizeof(ts_opts);
	r.payload = "HTTP/1.1 201 Created\r\n\r\n";
	r.plen = strlen(r.payload);
	pkt_build(&in, &r);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "TCP options verdict"))
		check_snat(&r, &out, VIP4, 80, "TCP options");

	r.tcp_opts_len = 0;
	r.ip_opts_len = 8;
	r.payload = "HTTP/1.1 202 Accepted\r\n\r\n";
	r.plen = strlen(r.payload);
	pkt_build(&in, &r);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "IP options verdict"))
		check_snat(&r, &out, VIP4, 80, "IP options");

	/* 11 bytes of payload and a trailer that completes "HTTP/1.1 200": not a status */
	r.ip_opts_len = 0;
	r.payload = "HTTP/1.1 20";
	r.plen = 11;
	pkt_build(&in, &r);
	memcpy(in.b + in.len, "0 OK\r\n", 6);
	in.len += 6;
	if (!ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "trailer verdict"))
		goto out;
	pkt_addr(VIP4, r.saddr);
	r.sport = 80;
	pkt_build(&exp, &r);
	memcpy(exp.b + exp.len, "0 OK\r\n", 6);
	exp.len += 6;
	at = pkt_diff(&out, &exp);
	ASSERT_EQ(at, -1, "trailer: first byte differing from the expected reply");

	if (!http_read(&fx, "v1", &hv))
		goto out;
	ASSERT_CLASSES(&hv, 0, 2, 0, 0, 0);
	ASSERT_EQ(hv.code[201], 1, "code 201");
	ASSERT_EQ(hv.code[202], 1, "code 202");
out:
	fx_down(&fx);
}

/*
 * A GSO super-packet is one skb: its first bytes start at most one
 * response, counted once, while packets_out counts its wire segments.
 */
static void test_gso_once(void)
{
	const char *client = "192.168.1.5";
	char be[INET6_ADDRSTRLEN], body[1200];
	struct __sk_buff ctx = {.gso_segs = 3, .gso_size = 400};
	struct http_view hv;
	struct frame in, out;
	struct flow r;
	struct fx fx;

	if (!fx_up_split(&fx, 100, 0) || !open_conn(&fx, client, 40006, be, sizeof(be)))
		goto out;
	memset(body, 'x', sizeof(body));
	memcpy(body, "HTTP/1.1 500 Oops\r\n", 19);
	r = mkflow(PROTO_TCP, be, 8080, client, 40006, TH_ACK | TH_PSH);
	r.payload = body;
	r.plen = sizeof(body);
	pkt_build(&in, &r);
	if (!ASSERT_EQ(xmit_run(fx.egr, &in, &out, &ctx, false), TC_ACT_OK, "GSO verdict"))
		goto out;
	check_snat(&r, &out, VIP4, 80, "GSO reply");
	if (!http_read(&fx, "v1", &hv))
		goto out;
	ASSERT_CLASSES(&hv, 0, 0, 0, 0, 1);
	ASSERT_EQ(hv.code[500], 1, "code 500");
	ASSERT_EQ(hv.packets_out, 3, "wire packets");
out:
	fx_down(&fx);
}

/* Documented: a retransmitted segment that starts a response counts again. */
static void test_retransmission_counts_again(void)
{
	const char *client = "192.168.1.5";
	char be[INET6_ADDRSTRLEN];
	struct http_view hv;
	struct fx fx;

	if (!fx_up_split(&fx, 100, 0) || !open_conn(&fx, client, 40007, be, sizeof(be)))
		goto out;
	reply(&fx, be, client, 40007, S(resp_200), TH_ACK | TH_PSH, "200");
	reply(&fx, be, client, 40007, S(resp_200), TH_ACK | TH_PSH, "200 again");
	if (http_read(&fx, "v1", &hv))
		ASSERT_EQ(hv.cls[1], 2, "2xx");
out:
	fx_down(&fx);
}

/*
 * With sl_http_codes full, a new code still counts in its class, and codes
 * already in the map keep counting.
 */
static void test_codes_map_full(void)
{
	int ncpu = libbpf_num_possible_cpus(), fd, n, err = 0;
	const char *client = "192.168.1.5";
	char be[INET6_ADDRSTRLEN];
	struct http_view hv;
	struct fx fx;
	uint64_t *zero = NULL;

	if (!fx_up_split(&fx, 100, 0) || !open_conn(&fx, client, 40008, be, sizeof(be)))
		goto out;
	reply(&fx, be, client, 40008, S(resp_200), TH_ACK | TH_PSH, "200 before");
	/* fill the rest with rows of a subset id nobody uses */
	zero = calloc(ncpu > 0 ? ncpu : 1, sizeof(*zero));
	fd = fx.dp.maps.http_codes;
	for (n = 1; zero && n < SL_MAX_HTTP_CODES && !err; n++) {
		struct sl_http_code_key k = {.subset_id = SL_MAX_SUBSET_IDS - 1, .code = n};

		err = bpf_map_update_elem(fd, &k, zero, BPF_NOEXIST) ? -errno : 0;
	}
	if (!ASSERT_OK(err, "filling sl_http_codes"))
		goto out;
	reply(&fx, be, client, 40008, S("HTTP/1.1 418 teapot\r\n"), TH_ACK | TH_PSH, "418");
	reply(&fx, be, client, 40008, S(resp_200), TH_ACK | TH_PSH, "200 after");
	if (!http_read(&fx, "v1", &hv))
		goto out;
	ASSERT_CLASSES(&hv, 0, 2, 0, 1, 0);
	ASSERT_EQ(hv.code[200], 2, "code 200");
	ASSERT_EQ(hv.code[418], 0, "code 418 (no room)");
out:
	free(zero);
	fx_down(&fx);
}

/*
 * Ports Kubernetes declares as not HTTP (by name prefix or appProtocol, as
 * Istio selects the protocol) are not read for a status line: a TLS or
 * database reply that happened to start with "HTTP/1.1 200" counts nothing.
 * Undeclared and http ports still count.
 */
static const char k8s_ports[] =
    "apiVersion: v1\nkind: Service\nmetadata: {name: backend, namespace: shop}\n"
    "spec:\n  clusterIP: 10.96.0.10\n  selector: {app: backend}\n  ports:\n"
    "  - {name: http-web, port: 80, targetPort: 8080}\n"
    "  - {name: tls-api, port: 443, targetPort: 8080}\n"
    "  - {name: api, port: 8443, targetPort: 8080, appProtocol: https}\n"
    "  - {name: plain, port: 9000, targetPort: 8080}\n"
    "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
    "metadata: {name: backend-x, namespace: shop, labels: {kubernetes.io/service-name: backend}}\n"
    "addressType: IPv4\nports: [{name: http-web, port: 8080}, {name: tls-api, port: 8080}, "
    "{name: api, port: 8080}, {name: plain, port: 8080}]\n"
    "endpoints: [{addresses: [10.0.1.10]}]\n"
    "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
    "metadata: {name: backend, namespace: shop}\nspec:\n  hosts: [backend]\n"
    "  http: [{route: [{destination: {host: backend}}]}]\n"
    "  tcp: [{route: [{destination: {host: backend}}]}]\n";

static void test_not_http_ports(void)
{
	static const uint16_t ports[] = {80, 443, 8443, 9000};
	const char *client = "192.168.1.5";
	uint64_t responses = 0, out_pkts = 0;
	struct sl_status st = {};
	struct frame in, out;
	struct flow f;
	struct fx fx;
	size_t i, j, k;

	if (!fx_up(&fx, k8s_ports))
		goto out;
	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		f = mkflow(PROTO_TCP, client, 41000 + i, VIP4, ports[i], TH_SYN);
		pkt_build(&in, &f);
		if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "SYN verdict") ||
		    !ASSERT_EQ(pkt_dport(&out), 8080, "SYN DNATed"))
			goto out;
		f = mkflow(PROTO_TCP, "10.0.1.10", 8080, client, 41000 + i, TH_ACK | TH_PSH);
		f.payload = resp_200;
		f.plen = sizeof(resp_200) - 1;
		pkt_build(&in, &f);
		ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "reply verdict");
		check_snat(&f, &out, VIP4, ports[i], "reply reverse-NATed");
	}
	if (!ASSERT_OK(sl_tables_read_status(&fx.dp.maps, &st), "sl_tables_read_status"))
		goto out;
	for (i = 0; i < st.n_services; i++)
		for (j = 0; j < st.services[i].n_subsets; j++) {
			const struct sl_stats *ss = &st.services[i].subsets[j].stats;

			out_pkts += ss->packets_out;
			for (k = 0; k < 5; k++)
				responses += ss->http_responses[k];
		}
	ASSERT_EQ(out_pkts, 4, "replies NATed, all four ports");
	ASSERT_EQ(responses, 2, "status lines counted: http-web and the undeclared port");
out:
	sl_status_free(&st);
	fx_down(&fx);
}

static const struct check_test tests[] = {
    {"http_not_http_ports", test_not_http_ports},
    {"http_status_lines4", test_status_lines4},
    {"http_status_lines6", test_status_lines6},
    {"http_per_subset", test_per_subset},
    {"http_only_tracked_replies", test_only_tracked_replies},
    {"http_payload_offset", test_payload_offset},
    {"http_gso_once", test_gso_once},
    {"http_retransmission_counts_again", test_retransmission_counts_again},
    {"http_codes_map_full", test_codes_map_full},
};

int main(int argc, char **argv)
{
	sl_log_hook_libbpf();
	return check_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
