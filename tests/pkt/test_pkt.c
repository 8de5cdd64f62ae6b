// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet tests: hand-built Ethernet frames through the real sl_ingress and
 * sl_egress with BPF_PROG_TEST_RUN, on a private unpinned instance per
 * test, configured from YAML text through the same parser and table writer
 * as `sluice apply`. Outputs are checked against frames built independently
 * (pkt.h), checksums recomputed from scratch. Tests that need interfaces
 * and routes (wrong_iface, src_check_*) enter a network namespace of their
 * own, with veth links, for the time they run.
 *
 * Run as root from the repository root: ./build/tests/test_pkt [filter]
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

#include "check.h"
#include "fixture.h"
#include "pkt.h"

/* Subset counters, summed over CPUs, read back the way `sluice status` does. */
static bool subset_stats(struct fx *fx, const char *subset, struct sl_stats *out)
{
	const struct sl_status_service *ss;
	struct sl_status st = {};
	bool found = false;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!ASSERT_OK(sl_tables_read_status(&fx->dp.maps, &st), "sl_tables_read_status"))
		return false;
	ss = sl_status_find(&st, "backend");
	for (i = 0; ss && i < ss->n_subsets; i++)
		if (!strcmp(ss->subsets[i].name, subset)) {
			*out = ss->subsets[i].stats;
			found = true;
		}
	sl_status_free(&st);
	return ASSERT_TRUE(found, subset);
}

static void set_addr(uint8_t a[16], const char *s)
{
	pkt_addr(s, a);
}

/* Client i of many: distinct (address, port) pairs, IPv4 172.16/12 or fd00:c::/64. */
static struct flow client_flow(int family, unsigned i, uint8_t proto, uint8_t flags)
{
	char src[64];
	uint16_t sport = 10000 + (i * 7919) % 50000;

	if (family == 4)
		snprintf(src, sizeof(src), "172.16.%u.%u", (i / 200) % 256, i % 200 + 1);
	else
		snprintf(src, sizeof(src), "fd00:c::%x:%x", i >> 16, i & 0xffff);
	return mkflow(proto, src, sport, family == 4 ? "10.96.0.10" : "fd00::10", 80, flags);
}

/* ---- configurations ---- */

#define VIP4 "10.96.0.10"
#define VIP6 "fd00::10"

static const char *const v1_eps[] = {"10.0.1.10", "10.0.1.11", "fd00:1::10", "fd00:1::11", NULL};
static const char *const v2_eps[] = {"10.0.2.10", "fd00:2::10", NULL};
static const char *const v3_eps[] = {"10.0.3.20", NULL};
/* every endpoint of yaml_split() by family */
static const char *const eps4[] = {"10.0.1.10", "10.0.1.11", "10.0.2.10", NULL};
static const char *const eps6[] = {"fd00:1::10", "fd00:1::11", "fd00:2::10", NULL};

/* The canary service of examples/canary.yaml, plus UDP and IPv6 endpoints. */
static const char *yaml_split(char *buf, size_t len, const char *affinity, uint32_t w1, uint32_t w2)
{
	snprintf(buf, len,
		 "services:\n"
		 "  - name: backend\n"
		 "    vips: [10.96.0.10, \"fd00::10\"]\n"
		 "    ports:\n"
		 "      - {port: 80, protocol: TCP, targetPort: 8080}\n"
		 "      - {port: 80, protocol: UDP, targetPort: 8080}\n"
		 "    affinity: %s\n"
		 "    subsets:\n"
		 "      v1: {endpoints: [10.0.1.10, 10.0.1.11, \"fd00:1::10\", \"fd00:1::11\"]}\n"
		 "      v2: {endpoints: [10.0.2.10, \"fd00:2::10\"]}\n"
		 "    routes:\n"
		 "      - split: {v1: %u, v2: %u}\n",
		 affinity, w1, w2);
	return buf;
}

static bool in_list(const char *s, const char *const list[])
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* Which subset an output frame's destination (or source) belongs to: 1, 2, 3, 0 none. */
static int subset_of(const struct frame *f, bool dst)
{
	char a[INET6_ADDRSTRLEN];

	pkt_addr_str(f, dst, a, sizeof(a));
	if (in_list(a, v1_eps))
		return 1;
	if (in_list(a, v2_eps))
		return 2;
	if (in_list(a, v3_eps))
		return 3;
	return 0;
}

/*
 * out must be in with the destination replaced by one of eps at new_port
 * and nothing else changed: compared byte for byte with a frame built from
 * scratch (so its checksums are computed, not patched). Writes the chosen
 * endpoint to ep.
 */
static bool check_dnat(const struct flow *in, const struct frame *out, const char *const eps[],
		       uint16_t new_port, char ep[INET6_ADDRSTRLEN])
{
	pkt_addr_str(out, true, ep, INET6_ADDRSTRLEN);
	if (!ASSERT_TRUE(in_list(ep, eps), "destination is a configured endpoint")) {
		printf("  destination %s\n", ep);
		return false;
	}
	return check_nat(in, out, NULL, in->sport, ep, new_port, "DNATed frame");
}

/* Same for a reply: the source must have become addr:port. */
static bool check_snat(const struct flow *in, const struct frame *out, const char *addr,
		       uint16_t port)
{
	return check_nat(in, out, addr, port, NULL, in->dport, "reverse-NATed frame");
}

/* Send a connection's first packet and return its subset (1, 2) or 0 on failure. */
static int open_conn(struct fx *fx, const struct flow *fl, struct frame *out)
{
	struct frame in;

	pkt_build(&in, fl);
	if (!ASSERT_EQ(xmit(fx->ing, &in, out), TC_ACT_OK, "verdict"))
		return 0;
	return subset_of(out, true);
}

/* Up on yaml_split() at 90/10, and f's connection opened: be gets its backend. */
static bool up_and_open(struct fx *fx, const struct flow *f, char be[INET6_ADDRSTRLEN])
{
	struct frame out;
	char y[1024];

	if (!fx_up(fx, yaml_split(y, sizeof(y), "connection", 90, 10)) || !open_conn(fx, f, &out))
		return false;
	pkt_addr_str(&out, true, be, INET6_ADDRSTRLEN);
	return true;
}

/* f through sl_ingress: TC_ACT_OK, DNATed to be:8080, nothing else changed. */
static bool fwd_is(struct fx *fx, const struct flow *f, const char *be, const char *what)
{
	struct frame in, out;

	pkt_build(&in, f);
	return ASSERT_EQ(xmit(fx->ing, &in, &out), TC_ACT_OK, what) &&
	       check_nat(f, &out, NULL, f->sport, be, 8080, what);
}

/* r through sl_egress: TC_ACT_OK, from vip:80, nothing else changed. */
static bool rev_is(struct fx *fx, const struct flow *r, const char *vip, const char *what)
{
	struct frame in, out;

	pkt_build(&in, r);
	return ASSERT_EQ(xmit(fx->egr, &in, &out), TC_ACT_OK, what) &&
	       check_nat(r, &out, vip, 80, NULL, r->dport, what);
}

/* ---- 1, 2, 14: DNAT of every family and protocol ---- */

static const uint8_t syn_opts[] = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07};
static const char odd_payload[] = "GET / HTTP/1.1\r\nHost: backend\r\n\r\n!"; /* odd length */

/* A SYN with options, then a data segment of odd length on the same connection. */
static void dnat_tcp(const char *client, const char *vip)
{
	char ep[INET6_ADDRSTRLEN], ep2[INET6_ADDRSTRLEN];
	struct flow syn = mkflow(PROTO_TCP, client, 43210, vip, 80, TH_SYN);
	struct flow data = mkflow(PROTO_TCP, client, 43210, vip, 80, TH_ACK | TH_PSH);
	struct fx fx;
	struct frame in, out;
	char y[1024];

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	syn.tcp_opts = syn_opts;
	syn.tcp_opts_len = sizeof(syn_opts);
	syn.ttl = 61;
	pkt_build(&in, &syn);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "SYN verdict"))
		goto out;
	if (!check_dnat(&syn, &out, syn.family == 4 ? eps4 : eps6, 8080, ep))
		goto out;

	data.payload = odd_payload;
	data.plen = sizeof(odd_payload) - 1;
	pkt_build(&in, &data);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "data verdict"))
		goto out;
	if (!check_dnat(&data, &out, (const char *const[]){ep, NULL}, 8080, ep2))
		goto out;
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 1, "new connections");
	ASSERT_EQ(fx_global(&fx, SL_G_ESTABLISHED), 1, "established packets");
out:
	fx_down(&fx);
}

static void test_dnat_tcp4(void)
{
	dnat_tcp("192.168.1.5", VIP4);
}

static void test_dnat_tcp6(void)
{
	dnat_tcp("fd00:c::5", VIP6);
}

/* IPv4 options move the L4 header: the rewrite must follow ihl. */
static void test_dnat_tcp4_ip_options(void)
{
	char ep[INET6_ADDRSTRLEN], y[1024];
	struct flow syn = mkflow(PROTO_TCP, "192.168.1.5", 43210, VIP4, 80, TH_SYN);
	struct frame in, out;
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	syn.ip_opts_len = 8;
	syn.payload = "xyz";
	syn.plen = 3;
	pkt_build(&in, &syn);
	if (ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "verdict"))
		check_dnat(&syn, &out, eps4, 8080, ep);
out:
	fx_down(&fx);
}

/* Ethernet padding after a short IP packet stays, and stays out of the checksum. */
static void test_dnat_tcp4_padded(void)
{
	char ep[INET6_ADDRSTRLEN], y[1024];
	struct flow syn = mkflow(PROTO_TCP, "192.168.1.5", 43210, VIP4, 80, TH_SYN);
	struct frame in, out, exp;
	struct fx fx;
	long at;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	pkt_build(&in, &syn);
	if (!ASSERT_EQ(in.len, 54, "unpadded length"))
		goto out;
	memset(in.b + in.len, 0xa5, 6);
	in.len = 60;
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "verdict"))
		goto out;
	pkt_addr_str(&out, true, ep, sizeof(ep));
	syn.dport = 8080;
	set_addr(syn.daddr, ep);
	pkt_build(&exp, &syn);
	memset(exp.b + exp.len, 0xa5, 6);
	exp.len = 60;
	at = pkt_diff(&out, &exp);
	if (!ASSERT_EQ(at, -1, "first byte differing from the expected frame"))
		printf("  len %u, byte %ld: 0x%02x vs 0x%02x\n", out.len, at, out.b[at], exp.b[at]);
	ASSERT_TRUE(in_list(ep, eps4), "destination is a configured endpoint");
out:
	fx_down(&fx);
}

static void dnat_udp(const char *client, const char *vip, bool no_csum)
{
	char ep[INET6_ADDRSTRLEN], ep2[INET6_ADDRSTRLEN], y[1024];
	struct flow dg = mkflow(PROTO_UDP, client, 5353, vip, 80, 0);
	struct frame in, out;
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	dg.payload = odd_payload;
	dg.plen = sizeof(odd_payload) - 1;
	dg.udp_no_csum = no_csum;
	pkt_build(&in, &dg);
	if (no_csum && !ASSERT_EQ(pkt_get16(in.b + ETH_LEN + 20 + 6), 0, "input UDP checksum"))
		goto out;
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "verdict"))
		goto out;
	if (!check_dnat(&dg, &out, dg.family == 4 ? eps4 : eps6, 8080, ep))
		goto out;
	if (no_csum) {
		struct flow rep = mkflow(PROTO_UDP, ep, 8080, client, 5353, 0);

		ASSERT_EQ(pkt_get16(out.b + ETH_LEN + 20 + 6), 0, "output UDP checksum stays 0");
		rep.udp_no_csum = true;
		rep.payload = "pong";
		rep.plen = 4;
		pkt_build(&in, &rep);
		if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "reply verdict") &&
		    check_snat(&rep, &out, vip, 80))
			ASSERT_EQ(pkt_get16(out.b + ETH_LEN + 20 + 6), 0,
				  "reply UDP checksum stays 0");
		pkt_build(&in, &dg);
	}
	/* the next datagram of the flow follows the first */
	if (ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "second verdict"))
		check_dnat(&dg, &out, (const char *const[]){ep, NULL}, 8080, ep2);
out:
	fx_down(&fx);
}

static void test_dnat_udp4(void)
{
	dnat_udp("192.168.1.5", VIP4, false);
}

static void test_dnat_udp6(void)
{
	dnat_udp("fd00:c::5", VIP6, false);
}

static void test_dnat_udp4_zero_csum(void)
{
	dnat_udp("192.168.1.5", VIP4, true);
}

/*
 * A UDP checksum that computes to 0 after the rewrite must go out as 0xffff
 * (RFC 768; RFC 8200 8.1 for IPv6, where 0 is invalid and dropped). Find a
 * payload word that makes the rewritten datagram's checksum compute to 0.
 */
static void udp_csum_mangled(const char *client, const char *vip)
{
	char ep[INET6_ADDRSTRLEN], y[1024];
	struct flow dg = mkflow(PROTO_UDP, client, 5353, vip, 80, 0), nat;
	struct frame in, out, exp;
	struct pkt_layout lo;
	uint8_t word[2];
	uint32_t w;
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	dg.payload = word;
	dg.plen = sizeof(word);
	memset(word, 0, sizeof(word));
	pkt_build(&in, &dg);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "first verdict"))
		goto out;
	pkt_addr_str(&out, true, ep, sizeof(ep));

	nat = dg;
	set_addr(nat.daddr, ep);
	nat.dport = 8080;
	for (w = 0; w <= 0xffff; w++) {
		pkt_put16(word, (uint16_t)w);
		pkt_build(&exp, &nat);
		pkt_layout(&exp, &lo);
		if (pkt_l4_csum(&exp, &lo) == 0)
			break;
	}
	if (!ASSERT_TRUE(w <= 0xffff, "found a payload whose checksum is 0"))
		goto out;
	pkt_build(&in, &dg);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "verdict"))
		goto out;
	pkt_layout(&out, &lo);
	ASSERT_EQ(pkt_get16(out.b + lo.csum_at), 0xffff,
		  "UDP checksum computing to 0 sent as 0xffff");
out:
	fx_down(&fx);
}

static void test_udp4_csum_zero_result(void)
{
	udp_csum_mangled("192.168.1.5", VIP4);
}

static void test_udp6_csum_zero_result(void)
{
	udp_csum_mangled("fd00:c::5", VIP6);
}

/* ---- 3: reverse NAT at egress ---- */

static void revnat(uint8_t proto, const char *client, const char *vip)
{
	char ep[INET6_ADDRSTRLEN], y[1024];
	struct flow fwd = mkflow(proto, client, 40000, vip, 80, TH_SYN), rep;
	struct frame in, out;
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	if (!open_conn(&fx, &fwd, &out))
		goto out;
	pkt_addr_str(&out, true, ep, sizeof(ep));

	rep = mkflow(proto, ep, 8080, client, 40000, TH_SYN | TH_ACK);
	rep.payload = odd_payload;
	rep.plen = proto == PROTO_UDP ? sizeof(odd_payload) - 1 : 0;
	pkt_build(&in, &rep);
	if (!ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "reply verdict"))
		goto out;
	if (!check_snat(&rep, &out, vip, 80))
		goto out;
	ASSERT_EQ(fx_global(&fx, SL_G_REPLY), 1, "replies");

	/* a data segment of the same connection */
	rep.tcp_flags = TH_ACK | TH_PSH;
	rep.payload = odd_payload;
	rep.plen = sizeof(odd_payload) - 1;
	pkt_build(&in, &rep);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "data reply verdict"))
		check_snat(&rep, &out, vip, 80);

	/* the ingress direction of the reply is not ours to touch */
	pkt_build(&in, &rep);
	check_untouched(&in, &out, xmit(fx.ing, &in, &out), "reply through ingress");

	/* the same backend answering a client it never heard of through us */
	rep = mkflow(proto, ep, 8080, client, 40001, TH_ACK);
	pkt_build(&in, &rep);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "reply, unknown client port");
	rep = mkflow(proto, ep, 8081, client, 40000, TH_ACK);
	pkt_build(&in, &rep);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "reply, other backend port");
	rep =
	    mkflow(proto, ep, 8080, fwd.family == 4 ? "192.168.1.99" : "fd00:c::99", 40000, TH_ACK);
	pkt_build(&in, &rep);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "reply, unknown client");
out:
	fx_down(&fx);
}

static void test_revnat_tcp4(void)
{
	revnat(PROTO_TCP, "192.168.1.5", VIP4);
}

static void test_revnat_tcp6(void)
{
	revnat(PROTO_TCP, "fd00:c::5", VIP6);
}

static void test_revnat_udp4(void)
{
	revnat(PROTO_UDP, "192.168.1.5", VIP4);
}

static void test_revnat_udp6(void)
{
	revnat(PROTO_UDP, "fd00:c::5", VIP6);
}

/* ---- 4: traffic that is not for a service ---- */

static void test_passthrough(void)
{
	static const uint8_t icmp_echo[] = {8, 0, 0xf7, 0xfe, 0, 1, 0, 1};
	struct frame frames[10], out;
	const char *names[10];
	int n = 0, i, prog;
	struct fx fx;
	char y[1024];
	struct flow f;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;

	f = mkflow(PROTO_TCP, "192.168.1.5", 40000, "10.96.0.11", 80, TH_SYN);
	names[n] = "TCP to another address";
	pkt_build(&frames[n++], &f);
	f = mkflow(PROTO_TCP, "192.168.1.5", 40000, VIP4, 443, TH_SYN);
	names[n] = "TCP to another port of the VIP";
	pkt_build(&frames[n++], &f);
	f = mkflow(PROTO_UDP, "192.168.1.5", 40000, VIP4, 53, 0);
	names[n] = "UDP to another port of the VIP";
	pkt_build(&frames[n++], &f);
	f = mkflow(PROTO_TCP, "fd00:c::5", 40000, "fd00::11", 80, TH_SYN);
	names[n] = "TCP to another IPv6 address";
	pkt_build(&frames[n++], &f);
	f = mkflow(PROTO_ICMP, "192.168.1.5", 0, VIP4, 0, 0);
	f.payload = icmp_echo;
	f.plen = sizeof(icmp_echo);
	names[n] = "ICMP echo to the VIP";
	pkt_build(&frames[n++], &f);
	f = mkflow(58 /* ICMPv6 */, "fd00:c::5", 0, VIP6, 0, 0);
	f.payload = icmp_echo;
	f.plen = sizeof(icmp_echo);
	names[n] = "ICMPv6 to the VIP";
	pkt_build(&frames[n++], &f);

	/* ARP who-has VIP */
	names[n] = "ARP";
	memset(&frames[n], 0, sizeof(frames[n]));
	memset(frames[n].b, 0xff, 6);
	memcpy(frames[n].b + 6, pkt_mac_src, 6);
	pkt_put16(frames[n].b + 12, ETHERTYPE_ARP);
	{
		uint8_t *a = frames[n].b + ETH_LEN;

		pkt_put16(a, 1);
		pkt_put16(a + 2, ETHERTYPE_IP);
		a[4] = 6;
		a[5] = 4;
		pkt_put16(a + 6, 1);
		memcpy(a + 8, pkt_mac_src, 6);
		inet_pton(AF_INET, "192.168.1.5", a + 14);
		inet_pton(AF_INET, VIP4, a + 24);
	}
	frames[n++].len = ETH_LEN + 28 + 18; /* padded to 60 bytes */

	/* an experimental ethertype carrying what looks like IPv4 to the VIP */
	f = mkflow(PROTO_TCP, "192.168.1.5", 40000, VIP4, 80, TH_SYN);
	names[n] = "non-IP ethertype";
	pkt_build(&frames[n], &f);
	pkt_put16(frames[n++].b + 12, 0x88b5);

	for (prog = 0; prog < 2; prog++)
		for (i = 0; i < n; i++) {
			char what[96];

			snprintf(what, sizeof(what), "%s (%s)", names[i],
				 prog ? "egress" : "ingress");
			check_untouched(&frames[i], &out,
					xmit(prog ? fx.egr : fx.ing, &frames[i], &out), what);
		}
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 0, "new connections");
	ASSERT_EQ(fx_global(&fx, SL_G_MALFORMED), 0, "malformed");
out:
	fx_down(&fx);
}

/* ---- 5: malformed and truncated headers ---- */

static void fix_ip4_csum(struct frame *f)
{
	pkt_put16(f->b + ETH_LEN + 10, 0);
	pkt_put16(f->b + ETH_LEN + 10, pkt_ip4_csum(f));
}

static void test_malformed(void)
{
	struct flow syn4 = mkflow(PROTO_TCP, "192.168.1.5", 40000, VIP4, 80, TH_SYN);
	struct flow syn6 = mkflow(PROTO_TCP, "fd00:c::5", 40000, VIP6, 80, TH_SYN);
	struct flow udp4 = mkflow(PROTO_UDP, "192.168.1.5", 40000, VIP4, 80, 0);
	struct frame frames[12], out;
	const char *names[12];
	uint64_t before;
	int n = 0, i;
	struct fx fx;
	char y[1024];

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	syn4.payload = syn6.payload = "0123456789";
	syn4.plen = syn6.plen = 10;

	names[n] = "IPv4 ihl 4";
	pkt_build(&frames[n], &syn4);
	frames[n].b[ETH_LEN] = 0x44;
	fix_ip4_csum(&frames[n++]);

	names[n] = "IPv4 tot_len beyond the frame";
	pkt_build(&frames[n], &syn4);
	pkt_put16(frames[n].b + ETH_LEN + 2, frames[n].len - ETH_LEN + 1);
	fix_ip4_csum(&frames[n++]);

	names[n] = "IPv4 tot_len below ihl";
	pkt_build(&frames[n], &syn4);
	pkt_put16(frames[n].b + ETH_LEN + 2, 16);
	fix_ip4_csum(&frames[n++]);

	names[n] = "IPv4 version 6 in an IPv4 ethertype";
	pkt_build(&frames[n], &syn4);
	frames[n].b[ETH_LEN] = 0x65;
	fix_ip4_csum(&frames[n++]);

	/* frame and IP length agree, and end 10 bytes into the TCP header */
	names[n] = "TCP header truncated";
	syn4.plen = 0;
	pkt_build(&frames[n], &syn4);
	frames[n].len = ETH_LEN + 20 + 10;
	pkt_put16(frames[n].b + ETH_LEN + 2, 30);
	fix_ip4_csum(&frames[n++]);

	names[n] = "TCP doff 4";
	pkt_build(&frames[n], &syn4);
	frames[n].b[ETH_LEN + 20 + 12] = 0x40;
	n++;

	names[n] = "TCP doff beyond the segment";
	pkt_build(&frames[n], &syn4);
	frames[n].b[ETH_LEN + 20 + 12] = 0xf0;
	n++;

	names[n] = "UDP length below 8";
	pkt_build(&frames[n], &udp4);
	pkt_put16(frames[n].b + ETH_LEN + 20 + 4, 7);
	n++;

	names[n] = "IPv6 header truncated";
	pkt_build(&frames[n], &syn6);
	frames[n].len = ETH_LEN + 30;
	n++;

	names[n] = "IPv6 payload_len beyond the frame";
	pkt_build(&frames[n], &syn6);
	pkt_put16(frames[n].b + ETH_LEN + 4, frames[n].len - ETH_LEN - 40 + 1);
	n++;

	names[n] = "IPv6 TCP header truncated";
	syn6.plen = 0;
	pkt_build(&frames[n], &syn6);
	frames[n].len = ETH_LEN + 40 + 12;
	pkt_put16(frames[n].b + ETH_LEN + 4, 12);
	n++;

	for (i = 0; i < n; i++) {
		char what[96];

		/*
		 * BPF_PROG_TEST_RUN refuses an IP ethertype whose frame is shorter
		 * than the IP header (EINVAL), so a truncated IP header cannot be
		 * fed to the datapath from here; the real receive path can.
		 */
		if (xmit_raw(fx.ing, &frames[i], &out) == -EINVAL) {
			printf("  note: %s: refused by BPF_PROG_TEST_RUN, not exercised\n",
			       names[i]);
			continue;
		}
		before = fx_global(&fx, SL_G_MALFORMED);
		snprintf(what, sizeof(what), "%s: ingress", names[i]);
		check_untouched(&frames[i], &out, xmit(fx.ing, &frames[i], &out), what);
		ASSERT_EQ(fx_global(&fx, SL_G_MALFORMED) - before, 1, what);
		snprintf(what, sizeof(what), "%s: egress", names[i]);
		check_untouched(&frames[i], &out, xmit(fx.egr, &frames[i], &out), what);
		ASSERT_EQ(fx_global(&fx, SL_G_MALFORMED) - before, 2, what);
	}
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 0, "new connections");
out:
	fx_down(&fx);
}

/* ---- 6: fragments and ICMP errors ---- */

/*
 * sluice does not translate ICMP errors: a "destination unreachable" from a
 * backend quotes the DNATed packet (client -> backend), and sluice passes it
 * on unchanged, as it does every non-TCP/UDP packet. The client's stack then
 * cannot match it to its socket (which talks to the VIP); PMTU discovery
 * through a VIP relies on the backend's MSS instead.
 */
static void test_fragments_and_icmp(void)
{
	struct flow f;
	struct frame in, out;
	struct fx fx;
	char y[1024];
	int i;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;

	struct {
		const char *name;
		int family;
		uint16_t frag_off;
	} cases[] = {
	    {"IPv4 first fragment (MF)", 4, IP4_MF},
	    {"IPv4 middle fragment (MF, offset 185)", 4, IP4_MF | 185},
	    {"IPv4 last fragment (offset 185)", 4, 185},
	    {"IPv6 fragment header, first", 6, 1 /* M */},
	    {"IPv6 fragment header, later", 6, 185 << 3},
	};

	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		uint64_t before = fx_global(&fx, SL_G_FRAGMENT);

		f = mkflow(PROTO_TCP, cases[i].family == 4 ? "192.168.1.5" : "fd00:c::5", 40000,
			   cases[i].family == 4 ? VIP4 : VIP6, 80, TH_SYN);
		f.payload = odd_payload;
		f.plen = 24;
		f.frag_off = cases[i].frag_off;
		f.ip6_frag = cases[i].family == 6;
		f.ip6_frag_off = cases[i].frag_off;
		pkt_build(&in, &f);
		check_untouched(&in, &out, xmit(fx.ing, &in, &out), cases[i].name);
		ASSERT_EQ(fx_global(&fx, SL_G_FRAGMENT) - before, 1, cases[i].name);
		/* UDP too */
		f.proto = PROTO_UDP;
		pkt_build(&in, &f);
		check_untouched(&in, &out, xmit(fx.ing, &in, &out), cases[i].name);
		ASSERT_EQ(fx_global(&fx, SL_G_FRAGMENT) - before, 2, cases[i].name);
	}
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 0, "no connection from a fragment");

	/* open a real connection, then the backend reports it unreachable */
	{
		struct flow syn = mkflow(PROTO_TCP, "192.168.1.5", 40000, VIP4, 80, TH_SYN);
		uint8_t icmp[8 + 28];
		struct frame quoted;
		char ep[INET6_ADDRSTRLEN];

		if (!open_conn(&fx, &syn, &out))
			goto out;
		pkt_addr_str(&out, true, ep, sizeof(ep));
		quoted = out;
		memset(icmp, 0, sizeof(icmp));
		icmp[0] = 3; /* destination unreachable */
		icmp[1] = 3; /* port unreachable */
		memcpy(icmp + 8, quoted.b + ETH_LEN, 28);
		pkt_put16(icmp + 2, csum_final(csum_add_bytes(0, icmp, sizeof(icmp))));
		f = mkflow(PROTO_ICMP, ep, 0, "192.168.1.5", 0, 0);
		f.payload = icmp;
		f.plen = sizeof(icmp);
		pkt_build(&in, &f);
		check_untouched(&in, &out, xmit(fx.egr, &in, &out),
				"ICMP error from the backend, egress");
		check_untouched(&in, &out, xmit(fx.ing, &in, &out),
				"ICMP error from the backend, ingress");
	}
out:
	fx_down(&fx);
}

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

/* ---- 12: client port reuse ---- */

static void test_port_reuse(void)
{
	const char *client = "192.168.1.5";
	struct flow f;
	struct frame in, out;
	char y[1024], e1[INET6_ADDRSTRLEN], e2[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
	struct fx fx;

	/* everything on v1 first */
	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 100, 0)))
		goto out;

	/* 5000: opened, closed by the client's FIN */
	f = mkflow(PROTO_TCP, client, 5000, VIP4, 80, TH_SYN);
	if (!ASSERT_EQ(open_conn(&fx, &f, &out), 1, "first connection on v1"))
		goto out;
	pkt_addr_str(&out, true, e1, sizeof(e1));
	f.tcp_flags = TH_FIN | TH_ACK;
	pkt_build(&in, &f);
	xmit(fx.ing, &in, &out);
	if (!check_dnat(&f, &out, (const char *const[]){e1, NULL}, 8080, a))
		goto out;

	/* 6000: opened, stays open */
	f = mkflow(PROTO_TCP, client, 6000, VIP4, 80, TH_SYN);
	if (!ASSERT_EQ(open_conn(&fx, &f, &out), 1, "second connection on v1"))
		goto out;
	pkt_addr_str(&out, true, e2, sizeof(e2));

	if (!fx_weights(&fx, 0, 100))
		goto out;

	/* the last ACK of the closed connection still reaches its backend */
	f = mkflow(PROTO_TCP, client, 5000, VIP4, 80, TH_ACK);
	pkt_build(&in, &f);
	xmit(fx.ing, &in, &out);
	check_dnat(&f, &out, (const char *const[]){e1, NULL}, 8080, a);

	/* a new SYN on the closed tuple is a new connection: picked afresh */
	f = mkflow(PROTO_TCP, client, 5000, VIP4, 80, TH_SYN);
	pkt_build(&in, &f);
	xmit(fx.ing, &in, &out);
	check_dnat(&f, &out, (const char *const[]){"10.0.2.10", NULL}, 8080, a);
	ASSERT_EQ(fx_global(&fx, SL_G_PORT_REUSE), 1, "port_reuse");

	/* and its SYN-ACK from v2 is reverse-NATed */
	f = mkflow(PROTO_TCP, "10.0.2.10", 8080, client, 5000, TH_SYN | TH_ACK);
	pkt_build(&in, &f);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "SYN-ACK verdict"))
		check_snat(&f, &out, VIP4, 80);

	/* a retransmitted SYN of the open connection keeps its backend */
	f = mkflow(PROTO_TCP, client, 6000, VIP4, 80, TH_SYN);
	pkt_build(&in, &f);
	xmit(fx.ing, &in, &out);
	check_dnat(&f, &out, (const char *const[]){e2, NULL}, 8080, a);
	ASSERT_EQ(fx_global(&fx, SL_G_PORT_REUSE), 1, "port_reuse");
out:
	fx_down(&fx);
}

/*
 * After a VIP connection from client port P to backend B closed, the client
 * connects to B directly from the same port P. The datapath lets B's SYN-ACK
 * through untouched; the rest of that direct connection must be left alone
 * too, or the client sees B's data come from the VIP.
 */
static void test_port_reuse_direct_connection(void)
{
	const char *client = "192.168.1.5";
	char y[1024], be[INET6_ADDRSTRLEN];
	struct frame in, out;
	struct flow f;
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 100, 0)))
		goto out;
	f = mkflow(PROTO_TCP, client, 7000, VIP4, 80, TH_SYN);
	if (!open_conn(&fx, &f, &out))
		goto out;
	pkt_addr_str(&out, true, be, sizeof(be));
	f.tcp_flags = TH_FIN | TH_ACK;
	pkt_build(&in, &f);
	xmit(fx.ing, &in, &out);
	f = mkflow(PROTO_TCP, be, 8080, client, 7000, TH_FIN | TH_ACK);
	pkt_build(&in, &f);
	xmit(fx.egr, &in, &out);

	/* direct: client:7000 -> backend:8080 */
	f = mkflow(PROTO_TCP, client, 7000, be, 8080, TH_SYN);
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.ing, &in, &out), "direct SYN");
	f = mkflow(PROTO_TCP, be, 8080, client, 7000, TH_SYN | TH_ACK);
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "direct SYN-ACK");
	f = mkflow(PROTO_TCP, be, 8080, client, 7000, TH_ACK | TH_PSH);
	f.payload = odd_payload;
	f.plen = sizeof(odd_payload) - 1;
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "direct data from the backend");
out:
	fx_down(&fx);
}

/* ---- 13: counters ---- */

static void test_counters(void)
{
	const char *client = "192.168.1.5";
	uint64_t bytes_in = 0, bytes_out = 0;
	char y[1024], be[INET6_ADDRSTRLEN];
	struct sl_stats s1, s2;
	struct frame in, out;
	struct flow f, r;
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 100, 0)))
		goto out;

	/* connection 1: SYN, SYN-ACK, data, FIN, retransmitted FIN */
	f = mkflow(PROTO_TCP, client, 41000, VIP4, 80, TH_SYN);
	f.tcp_opts = syn_opts;
	f.tcp_opts_len = sizeof(syn_opts);
	pkt_build(&in, &f);
	bytes_in += in.len;
	xmit(fx.ing, &in, &out);
	pkt_addr_str(&out, true, be, sizeof(be));
	if (!subset_stats(&fx, "v1", &s1))
		goto out;
	ASSERT_EQ(s1.conns_opened, 1, "conns_opened after SYN");
	ASSERT_EQ(s1.packets_in, 1, "packets_in after SYN");
	ASSERT_EQ(s1.bytes_in, bytes_in, "bytes_in after SYN");

	r = mkflow(PROTO_TCP, be, 8080, client, 41000, TH_SYN | TH_ACK);
	pkt_build(&in, &r);
	bytes_out += in.len;
	xmit(fx.egr, &in, &out);

	f.tcp_opts_len = 0;
	f.tcp_flags = TH_ACK | TH_PSH;
	f.payload = odd_payload;
	f.plen = sizeof(odd_payload) - 1;
	pkt_build(&in, &f);
	bytes_in += in.len;
	xmit(fx.ing, &in, &out);

	f.tcp_flags = TH_FIN | TH_ACK;
	f.plen = 0;
	pkt_build(&in, &f);
	bytes_in += 2 * in.len;
	xmit(fx.ing, &in, &out);
	xmit(fx.ing, &in, &out);

	r.tcp_flags = TH_FIN | TH_ACK;
	pkt_build(&in, &r);
	bytes_out += in.len;
	xmit(fx.egr, &in, &out);

	if (!subset_stats(&fx, "v1", &s1))
		goto out;
	ASSERT_EQ(s1.conns_opened, 1, "conns_opened");
	ASSERT_EQ(s1.conns_closed, 1, "conns_closed after FINs both ways");
	ASSERT_EQ(s1.packets_in, 4, "packets_in");
	ASSERT_EQ(s1.bytes_in, bytes_in, "bytes_in");
	ASSERT_EQ(s1.packets_out, 2, "packets_out");
	ASSERT_EQ(s1.bytes_out, bytes_out, "bytes_out");
	ASSERT_EQ(s1.backend_resets, 0, "backend_resets");

	/* connection 2: SYN, the backend resets it */
	f = mkflow(PROTO_TCP, client, 41001, VIP4, 80, TH_SYN);
	pkt_build(&in, &f);
	bytes_in += in.len;
	xmit(fx.ing, &in, &out);
	pkt_addr_str(&out, true, be, sizeof(be));
	r = mkflow(PROTO_TCP, be, 8080, client, 41001, TH_RST | TH_ACK);
	pkt_build(&in, &r);
	bytes_out += in.len;
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "RST verdict"))
		check_snat(&r, &out, VIP4, 80);

	if (!subset_stats(&fx, "v1", &s1) || !subset_stats(&fx, "v2", &s2))
		goto out;
	ASSERT_EQ(s1.conns_opened, 2, "conns_opened");
	ASSERT_EQ(s1.conns_closed, 2, "conns_closed after the reset");
	ASSERT_EQ(s1.backend_resets, 1, "backend_resets");
	ASSERT_EQ(s1.packets_in, 5, "packets_in");
	ASSERT_EQ(s1.bytes_in, bytes_in, "bytes_in");
	ASSERT_EQ(s1.packets_out, 3, "packets_out");
	ASSERT_EQ(s1.bytes_out, bytes_out, "bytes_out");
	ASSERT_EQ(s2.conns_opened + s2.packets_in + s2.packets_out + s2.bytes_in + s2.bytes_out, 0,
		  "v2 counters");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 2, "global new_conn");
	ASSERT_EQ(fx_global(&fx, SL_G_REPLY), 3, "global reply");
	ASSERT_EQ(fx_global(&fx, SL_G_ESTABLISHED), 3, "global established");
out:
	fx_down(&fx);
}

/* ---- review fixes: conntrack repair, UDP ageing, stale replies, subset ids ---- */

/* Move a forward entry's last_seen back by ticks, in whichever stage it is. */
static bool ct_age(struct fx *fx, const struct sl_ct_key *fk, uint32_t ticks)
{
	struct sl_ct_entry e;
	enum ct_stage st = ct_get(fx, CT_FWD, fk, &e);

	if (!ASSERT_TRUE(st != CT_NONE, "forward entry to age"))
		return false;
	e.last_seen -= ticks;
	return ASSERT_OK(ct_put(fx, CT_FWD, st, fk, &e), "age the forward entry");
}

/* The reverse entry at rk restores VIP:80 for client port cport. */
static bool rn_is(struct fx *fx, const struct sl_ct_key *rk, enum ct_stage want, const char *vip,
		  uint16_t cport, const char *what)
{
	char a[INET6_ADDRSTRLEN];
	struct sl_ct_entry rn;

	if (!ASSERT_EQ(ct_get(fx, CT_REV, rk, &rn), want, what))
		return false;
	inet_ntop(rn.family == SL_AF_INET ? AF_INET : AF_INET6, rn.addr, a, sizeof(a));
	return ASSERT_STREQ(a, vip, what) && ASSERT_EQ(ntohs(rn.port), 80, what) &&
	       ASSERT_EQ(ntohs(rn.nat_port), cport, what);
}

/*
 * A confirmed connection's reverse entry gone alone (the reclaimer and a
 * late packet racing, say) is rebuilt by the next forward packet, checked
 * once a tick, so replies keep coming from the VIP.
 */
static void test_revnat_restored(void)
{
	const char *client = "192.168.1.5";
	struct flow f = mkflow(PROTO_TCP, client, 45000, VIP4, 80, TH_SYN), r;
	struct sl_ct_key rk, fk = ct_key_of(&f);
	char be[INET6_ADDRSTRLEN];
	struct fx fx;

	if (!up_and_open(&fx, &f, be))
		goto out;
	f.tcp_flags = TH_ACK;
	rk = ct_key(be, 8080, client, 45000, PROTO_TCP);
	if (!fwd_is(&fx, &f, be, "handshake ACK") ||
	    !rn_is(&fx, &rk, CT_CONFIRMED, VIP4, 45000, "confirmed reverse entry") ||
	    !ASSERT_OK(ct_del(&fx, CT_REV, CT_CONFIRMED, &rk), "delete the reverse entry"))
		goto out;
	ASSERT_TRUE(!ct_has(&fx, CT_REV, &rk), "reverse entry gone");

	/* the check runs once a tick: make the forward entry a tick old */
	if (!ct_age(&fx, &fk, 2) || !fwd_is(&fx, &f, be, "ACK"))
		goto out;
	/* without it, the backend's reply would leave with the backend's address */
	rn_is(&fx, &rk, CT_CONFIRMED, VIP4, 45000, "reverse entry rebuilt by the ACK");
	ASSERT_EQ(fx_global(&fx, SL_G_REVNAT_RESTORED), 1, "revnat_restored");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 1, "the ACK opened no new connection");
	r = mkflow(PROTO_TCP, be, 8080, client, 45000, TH_ACK | TH_PSH);
	r.payload = odd_payload;
	r.plen = sizeof(odd_payload) - 1;
	rev_is(&fx, &r, VIP4, "reply");

	/* the entry is there now: the next packet restores nothing */
	if (ct_age(&fx, &fk, 2))
		fwd_is(&fx, &f, be, "one more ACK");
	ASSERT_EQ(fx_global(&fx, SL_G_REVNAT_RESTORED), 1, "revnat_restored after one more ACK");
out:
	fx_down(&fx);
}

/*
 * An unconfirmed connection lives in LRU maps, which evict the two
 * directions independently (a SYN flood churns them). Its reverse entry gone
 * alone must be back before the backend answers the packet that noticed:
 * the retransmitted SYN (else every SYN-ACK leaves from the backend's
 * address, and the handshake never completes), and the handshake's ACK,
 * which confirms the connection (else the reply to the request that follows
 * within the same tick leaves untranslated).
 */
static void test_revnat_restored_unconfirmed(void)
{
	const char *client = "192.168.1.5";
	struct flow f = mkflow(PROTO_TCP, client, 45100, VIP4, 80, TH_SYN), r;
	struct sl_ct_key rk, fk = ct_key_of(&f);
	char be[INET6_ADDRSTRLEN];
	struct fx fx;

	if (!up_and_open(&fx, &f, be))
		goto out;
	rk = ct_key(be, 8080, client, 45100, PROTO_TCP);
	r = mkflow(PROTO_TCP, be, 8080, client, 45100, TH_SYN | TH_ACK);

	/* evicted before the SYN-ACK: the client retransmits its SYN */
	if (!ASSERT_OK(ct_del(&fx, CT_REV, CT_UNCONFIRMED, &rk), "evict the reverse entry") ||
	    !fwd_is(&fx, &f, be, "retransmitted SYN"))
		goto out;
	rn_is(&fx, &rk, CT_UNCONFIRMED, VIP4, 45100, "reverse entry back after the SYN");
	rev_is(&fx, &r, VIP4, "SYN-ACK");

	/* evicted after the SYN-ACK: the client's ACK confirms the connection */
	f.tcp_flags = TH_ACK;
	if (!ASSERT_OK(ct_del(&fx, CT_REV, CT_UNCONFIRMED, &rk), "evict it again") ||
	    !fwd_is(&fx, &f, be, "ACK"))
		goto out;
	ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, NULL), CT_CONFIRMED, "confirmed by the ACK");
	rn_is(&fx, &rk, CT_CONFIRMED, VIP4, 45100, "reverse entry back, confirmed, after the ACK");
	r.tcp_flags = TH_ACK | TH_PSH;
	r.payload = odd_payload;
	r.plen = sizeof(odd_payload) - 1;
	rev_is(&fx, &r, VIP4, "response");
	ASSERT_EQ(fx_global(&fx, SL_G_REVNAT_RESTORED), 2, "revnat_restored");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 1, "new_conn");
out:
	fx_down(&fx);
}

/* bpf_ktime_get_coarse_ns() >> 30, from userspace: the same clock. */
static uint32_t now_ticks(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)(((uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec) >> 30);
}

/*
 * UDP has no close: a flow stays on its backend while it is active, and is
 * picked afresh (following weight changes) once it was idle longer than
 * SL_CT_UDP_IDLE_TICKS. Idleness is made by moving last_seen back (ticks
 * are u32 and compared by modular difference, so this works at any uptime).
 */
static void test_udp_idle_expiry(void)
{
	const char *client = "192.168.1.5";
	struct flow dg = mkflow(PROTO_UDP, client, 5353, VIP4, 80, 0);
	struct sl_ct_entry e;
	enum ct_stage st;
	struct sl_stats s1, s2;
	struct sl_ct_key fk;
	struct frame in, out;
	uint32_t t;
	char y[1024];
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 100, 0)))
		goto out;
	dg.payload = "ping";
	dg.plen = 4;
	if (!ASSERT_EQ(open_conn(&fx, &dg, &out), 1, "first datagram at 100/0"))
		goto out;
	fk = ct_key(client, 5353, VIP4, 80, PROTO_UDP);
	/* no reply yet: the flow stays unconfirmed, and ages all the same */
	st = ct_get(&fx, CT_FWD, &fk, &e);
	if (!ASSERT_EQ(st, CT_UNCONFIRMED, "forward entry"))
		goto out;
	t = now_ticks();
	if (!ASSERT_TRUE(e.last_seen + 2 >= t && e.last_seen <= t + 2,
			 "last_seen is now, in 2^30 ns ticks of CLOCK_MONOTONIC"))
		printf("  last_seen %u, userspace now %u\n", e.last_seen, t);

	if (!fx_weights(&fx, 0, 100))
		goto out;

	/* fresh: sticky */
	pkt_build(&in, &dg);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "verdict") ||
	    !ASSERT_EQ(subset_of(&out, true), 1, "fresh flow stays on v1 after 0/100"))
		goto out;

	/* idle for less than the limit: still sticky, and the datagram refreshes it */
	e.last_seen -= SL_CT_UDP_IDLE_TICKS - 10;
	if (!ASSERT_OK(ct_put(&fx, CT_FWD, st, &fk, &e), "age the entry a little"))
		goto out;
	pkt_build(&in, &dg);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "verdict") ||
	    !ASSERT_EQ(subset_of(&out, true), 1, "flow idle below the limit stays on v1"))
		goto out;
	if (!ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, &e), st, "forward entry"))
		goto out;
	t = now_ticks();
	if (!ASSERT_TRUE(e.last_seen + 2 >= t && e.last_seen <= t + 2,
			 "a datagram refreshes last_seen"))
		printf("  last_seen %u, userspace now %u\n", e.last_seen, t);
	ASSERT_EQ(fx_global(&fx, SL_G_UDP_EXPIRED), 0, "udp_expired while active");

	/* idle for far longer than the limit: a new flow, picked under 0/100 */
	e.last_seen -= 1000;
	if (!ASSERT_OK(ct_put(&fx, CT_FWD, st, &fk, &e), "age the entry past the limit"))
		goto out;
	pkt_build(&in, &dg);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "verdict"))
		goto out;
	{
		char ep[INET6_ADDRSTRLEN];

		if (!check_dnat(&dg, &out, (const char *const[]){"10.0.2.10", NULL}, 8080, ep))
			goto out;
	}
	ASSERT_EQ(fx_global(&fx, SL_G_UDP_EXPIRED), 1, "udp_expired");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 2, "new_conn");
	if (subset_stats(&fx, "v1", &s1) && subset_stats(&fx, "v2", &s2)) {
		ASSERT_EQ(s1.conns_opened, 1, "v1 conns_opened");
		ASSERT_EQ(s1.conns_closed, 1, "v1 conns_closed (the expired flow)");
		ASSERT_EQ(s2.conns_opened, 1, "v2 conns_opened");
		ASSERT_EQ(s2.conns_closed, 0, "v2 conns_closed");
	}

	/* the new flow's entry is fresh and stays on v2; replies from v2 carry the VIP */
	pkt_build(&in, &dg);
	if (ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "verdict"))
		ASSERT_EQ(subset_of(&out, true), 2, "the new flow stays on v2");
	ASSERT_EQ(fx_global(&fx, SL_G_UDP_EXPIRED), 1,
		  "udp_expired after the new flow's next datagram");
	{
		struct flow r = mkflow(PROTO_UDP, "10.0.2.10", 8080, client, 5353, 0);

		r.payload = "pong";
		r.plen = 4;
		pkt_build(&in, &r);
		if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "v2 reply verdict"))
			check_snat(&r, &out, VIP4, 80);
	}
	{
		/* a late datagram from the old v1 backend is no longer the flow's */
		char old_ep[INET_ADDRSTRLEN];
		struct flow r;

		inet_ntop(AF_INET, e.addr, old_ep, sizeof(old_ep));
		r = mkflow(PROTO_UDP, old_ep, 8080, client, 5353, 0);

		r.payload = "late";
		r.plen = 4;
		pkt_build(&in, &r);
		check_untouched(&in, &out, xmit(fx.egr, &in, &out), "late reply from v1");
	}
out:
	fx_down(&fx);
}

/* v1 has one endpoint, so a v1 pick is X = 10.0.1.10; v2 is Y = 10.0.2.10. */
static const char *yaml_one_each(char *buf, size_t len, uint32_t w1, uint32_t w2)
{
	snprintf(buf, len,
		 "services:\n"
		 "  - name: backend\n"
		 "    vips: [10.96.0.10]\n"
		 "    ports: [{port: 80, targetPort: 8080}]\n"
		 "    subsets:\n"
		 "      v1: {endpoints: [10.0.1.10]}\n"
		 "      v2: {endpoints: [10.0.2.10]}\n"
		 "    routes:\n"
		 "      - split: {v1: %u, v2: %u}\n",
		 w1, w2);
	return buf;
}

/*
 * Client port P went to X through the VIP, closed, and was reused for a new
 * VIP connection that went to Y. X's reverse entry for P is stale: a SYN-ACK
 * from X to P answers a direct connection to X and must be left alone (and
 * the stale entry dropped, so the rest of that connection is left alone
 * too), while Y's SYN-ACK is the VIP connection's and is reverse-NATed.
 */
static void test_synack_from_old_backend(void)
{
	const char *client = "192.168.1.5", *X = "10.0.1.10", *Y = "10.0.2.10";
	const uint16_t P = 7100;
	struct sl_ct_key rkx, rky;
	struct frame in, out;
	char y[1024], a[INET6_ADDRSTRLEN];
	struct flow f;
	struct fx fx;

	if (!fx_up(&fx, yaml_one_each(y, sizeof(y), 100, 0)))
		goto out;
	f = mkflow(PROTO_TCP, client, P, VIP4, 80, TH_SYN);
	pkt_build(&in, &f);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "first SYN verdict") ||
	    !check_dnat(&f, &out, (const char *const[]){X, NULL}, 8080, a))
		goto out;
	/* closed by the client and by X */
	f.tcp_flags = TH_FIN | TH_ACK;
	pkt_build(&in, &f);
	xmit(fx.ing, &in, &out);
	f = mkflow(PROTO_TCP, X, 8080, client, P, TH_FIN | TH_ACK);
	pkt_build(&in, &f);
	if (!ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "X's FIN verdict") ||
	    !check_snat(&f, &out, VIP4, 80))
		goto out;

	if (!fx_weights(&fx, 0, 100))
		goto out;
	f = mkflow(PROTO_TCP, client, P, VIP4, 80, TH_SYN);
	pkt_build(&in, &f);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "reused port SYN verdict") ||
	    !check_dnat(&f, &out, (const char *const[]){Y, NULL}, 8080, a))
		goto out;
	ASSERT_EQ(fx_global(&fx, SL_G_PORT_REUSE), 1, "port_reuse");

	rkx = ct_key(X, 8080, client, P, PROTO_TCP);
	rky = ct_key(Y, 8080, client, P, PROTO_TCP);
	if (!ASSERT_TRUE(ct_has(&fx, CT_REV, &rky), "Y's reverse entry"))
		goto out;
	ASSERT_TRUE(!ct_has(&fx, CT_REV, &rkx),
		    "X's reverse entry removed when the port was picked afresh");
	/*
	 * Put it back, as a race with an in-flight reply could: the SYN-ACK
	 * check below must then still keep X's direct connection untouched.
	 */
	{
		struct sl_ct_entry stale = {
		    .port = htons(80), .nat_port = htons(P), .family = SL_AF_INET};

		inet_pton(AF_INET, VIP4, stale.addr);
		if (!ASSERT_OK(ct_put(&fx, CT_REV, CT_CONFIRMED, &rkx, &stale),
			       "re-insert X's stale reverse entry"))
			goto out;
	}

	/* the client connects to X directly from P */
	f = mkflow(PROTO_TCP, client, P, X, 8080, TH_SYN);
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.ing, &in, &out), "direct SYN to X");
	f = mkflow(PROTO_TCP, X, 8080, client, P, TH_SYN | TH_ACK);
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "SYN-ACK from X (not the backend)");
	ASSERT_TRUE(!ct_has(&fx, CT_REV, &rkx), "X's stale reverse entry deleted");
	f.tcp_flags = TH_ACK;
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "ACK from X on the direct connection");
	f.tcp_flags = TH_ACK | TH_PSH;
	f.payload = odd_payload;
	f.plen = sizeof(odd_payload) - 1;
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "data from X on the direct connection");

	/* Y's SYN-ACK answers the VIP connection */
	ASSERT_TRUE(ct_has(&fx, CT_REV, &rky), "Y's reverse entry kept");
	f = mkflow(PROTO_TCP, Y, 8080, client, P, TH_SYN | TH_ACK);
	pkt_build(&in, &f);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "SYN-ACK from Y verdict"))
		check_snat(&f, &out, VIP4, 80);
	f.tcp_flags = TH_ACK | TH_PSH;
	f.payload = odd_payload;
	f.plen = sizeof(odd_payload) - 1;
	pkt_build(&in, &f);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "data from Y verdict"))
		check_snat(&f, &out, VIP4, 80);
	ASSERT_EQ(fx_global(&fx, SL_G_REPLY), 3, "replies NATed (X's FIN, Y's SYN-ACK, Y's data)");
out:
	fx_down(&fx);
}

static const char *yaml_subsets(char *buf, size_t len, const char *subsets, const char *split)
{
	snprintf(buf, len,
		 "services:\n"
		 "  - name: backend\n"
		 "    vips: [10.96.0.10]\n"
		 "    ports: [{port: 80, targetPort: 8080}]\n"
		 "    subsets:\n"
		 "%s"
		 "    routes:\n"
		 "      - split: {%s}\n",
		 subsets, split);
	return buf;
}

#define SUB_V1 "      v1: {endpoints: [10.0.1.10]}\n"
#define SUB_V2 "      v2: {endpoints: [10.0.2.10]}\n"
#define SUB_V3 "      v3: {endpoints: [10.0.3.20]}\n"

/* A subset's id in `status`; ~0 when the service has no such subset. */
static uint32_t subset_id_of(struct fx *fx, const char *subset)
{
	const struct sl_status_service *ss;
	struct sl_status st = {};
	uint32_t id = ~0U;
	size_t i;

	if (!ASSERT_OK(sl_tables_read_status(&fx->dp.maps, &st), "sl_tables_read_status"))
		return id;
	ss = sl_status_find(&st, "backend");
	for (i = 0; ss && i < ss->n_subsets; i++)
		if (!strcmp(ss->subsets[i].name, subset))
			id = ss->subsets[i].subset_id;
	sl_status_free(&st);
	return id;
}

/* One row of sl_stats, summed over CPUs, whatever name (if any) it has. */
static bool stats_row(struct fx *fx, uint32_t id, struct sl_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct sl_stats v[ncpu > 0 ? ncpu : 1];

	memset(sum, 0, sizeof(*sum));
	if (!ASSERT_OK(bpf_map_lookup_elem(fx->dp.maps.stats, &id, v) ? -errno : 0, "stats row"))
		return false;
	for (c = 0; c < ncpu; c++)
		sl_stats_add(sum, &v[c]);
	return true;
}

/*
 * A removed subset's connections keep draining into its counter row: the
 * next new subset must not be given that row (it would count someone else's
 * traffic), and the removed subset coming back gets its row, counters and
 * all, back.
 */
static void test_subset_id_retired(void)
{
	const char *client = "192.168.1.5";
	struct flow f = mkflow(PROTO_TCP, client, 5555, VIP4, 80, TH_SYN);
	uint32_t v1id, v2id, v3id;
	struct sl_stats s, s3;
	struct frame in, out;
	char y[1024];
	struct fx fx;
	int i;

	if (!fx_up(&fx, yaml_subsets(y, sizeof(y), SUB_V1 SUB_V2, "v1: 0, v2: 1")))
		goto out;
	v1id = subset_id_of(&fx, "v1");
	v2id = subset_id_of(&fx, "v2");
	if (!ASSERT_TRUE(v1id != ~0U && v2id != ~0U && v1id != v2id, "v1 and v2 have ids"))
		goto out;
	/*
	 * A long history: the last row was handed out (and retired) long ago,
	 * so the search for a free row wraps to the low ids, right past v2's.
	 */
	{
		struct sl_subset_name old = {.in_use = SL_ID_RETIRED};
		uint32_t top = SL_MAX_SUBSET_IDS - 1;

		snprintf(old.service, sizeof(old.service), "backend");
		snprintf(old.subset, sizeof(old.subset), "v0");
		if (!ASSERT_TRUE(top != v1id && top != v2id, "the last row is free") ||
		    !ASSERT_OK(bpf_map_update_elem(fx.dp.maps.subset_names, &top, &old, BPF_ANY)
				   ? -errno
				   : 0,
			       "retire the last row"))
			goto out;
	}
	if (!ASSERT_EQ(open_conn(&fx, &f, &out), 2, "connection on v2"))
		goto out;

	/* v2 removed: its connection drains, into v2's old row */
	if (!fx_apply(&fx, yaml_subsets(y, sizeof(y), SUB_V1, "v1: 100")))
		goto out;
	ASSERT_EQ(subset_id_of(&fx, "v2"), ~0U, "v2 no longer in status");
	f.tcp_flags = TH_ACK | TH_PSH;
	f.payload = odd_payload;
	f.plen = sizeof(odd_payload) - 1;
	pkt_build(&in, &f);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "draining data verdict") ||
	    !ASSERT_EQ(subset_of(&out, true), 2, "the v2 connection keeps its backend"))
		goto out;
	if (stats_row(&fx, v2id, &s))
		ASSERT_EQ(s.packets_in, 2, "v2's old row counts the draining packet");

	/* v3 added: a row of its own, not v2's */
	if (!fx_apply(&fx, yaml_subsets(y, sizeof(y), SUB_V1 SUB_V3, "v1: 100")))
		goto out;
	v3id = subset_id_of(&fx, "v3");
	printf("  ids: v1 %u, v2 %u (retired), v3 %u\n", v1id, v2id, v3id);
	ASSERT_TRUE(v3id != ~0U, "v3 has an id");
	ASSERT_TRUE(v3id != v2id, "v3 does not get the retired v2's id");
	ASSERT_TRUE(v3id != v1id, "v3 does not get v1's id");
	ASSERT_EQ(subset_id_of(&fx, "v1"), v1id, "v1 keeps its id");
	if (subset_stats(&fx, "v3", &s3))
		ASSERT_EQ(s3.conns_opened + s3.packets_in + s3.bytes_in + s3.conns_closed, 0,
			  "v3's counters start at 0");
	for (i = 0; i < 3; i++) {
		pkt_build(&in, &f);
		xmit(fx.ing, &in, &out);
		ASSERT_EQ(subset_of(&out, true), 2, "the v2 connection still drains to v2");
	}
	if (subset_stats(&fx, "v3", &s3))
		ASSERT_EQ(s3.conns_opened + s3.packets_in + s3.bytes_in + s3.conns_closed, 0,
			  "v3's counters stay 0 while v2 drains");
	if (stats_row(&fx, v2id, &s))
		ASSERT_EQ(s.packets_in, 5, "v2's old row counts every draining packet");

	/* v2 back: its id and its counters */
	if (!fx_apply(&fx, yaml_subsets(y, sizeof(y), SUB_V1 SUB_V2, "v1: 1, v2: 1")))
		goto out;
	ASSERT_EQ(subset_id_of(&fx, "v2"), v2id, "v2 gets its old id back");
	ASSERT_EQ(subset_id_of(&fx, "v1"), v1id, "v1 keeps its id");
	if (subset_stats(&fx, "v2", &s)) {
		ASSERT_EQ(s.conns_opened, 1, "v2 conns_opened (from before its removal)");
		ASSERT_EQ(s.packets_in, 5, "v2 packets_in (SYN + 4 draining packets)");
	}
	f.tcp_flags = TH_FIN | TH_ACK;
	f.plen = 0;
	pkt_build(&in, &f);
	xmit(fx.ing, &in, &out);
	if (subset_stats(&fx, "v2", &s)) {
		ASSERT_EQ(s.conns_closed, 1, "v2 conns_closed");
		ASSERT_EQ(s.packets_in, 6, "v2 packets_in");
	}
	if (stats_row(&fx, v3id, &s3))
		ASSERT_EQ(s3.conns_closed + s3.packets_in, 0, "retired v3's row untouched");
out:
	fx_down(&fx);
}

/* ---- main ---- */

/* ---- address filters: cheap "not ours", never at the cost of a live connection ---- */

/*
 * A service taken out of the config: its established connections keep
 * their NAT (conntrack decides, the filter bit stays), new ones pass.
 */
static void test_removed_service_drains(void)
{
	static const char other[] = "services:\n"
				    "  - name: other\n"
				    "    vips: [10.96.0.20]\n"
				    "    ports: [{port: 80, targetPort: 8080}]\n"
				    "    subsets:\n"
				    "      v1: {endpoints: [10.0.1.10]}\n";
	char y[1024], be[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
	struct flow f, r;
	struct frame in, out;
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	f = mkflow(PROTO_TCP, "192.168.1.5", 41000, VIP4, 80, TH_SYN);
	if (!open_conn(&fx, &f, &out))
		goto out;
	pkt_addr_str(&out, true, be, sizeof(be));
	if (!fx_apply(&fx, other))
		goto out;

	f.tcp_flags = TH_ACK;
	pkt_build(&in, &f);
	if (ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "ACK verdict"))
		check_dnat(&f, &out, (const char *const[]){be, NULL}, 8080, a);
	r = mkflow(PROTO_TCP, be, 8080, "192.168.1.5", 41000, TH_ACK);
	pkt_build(&in, &r);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "reply verdict"))
		check_snat(&r, &out, VIP4, 80);

	/* a new connection to the removed VIP is not service traffic any more */
	f = mkflow(PROTO_TCP, "192.168.1.5", 41001, VIP4, 80, TH_SYN);
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.ing, &in, &out), "SYN to the removed VIP");
out:
	fx_down(&fx);
}

/*
 * Maps created by a newer build start empty while the tables are re-used:
 * loading rebuilds the filters from the tables before anything attaches.
 */
static void test_filters_rebuilt_on_load(void)
{
	char y[1024], be[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
	uint64_t zero = 0, before;
	struct frame in, out;
	struct flow f, r;
	struct fx fx;
	__u32 w;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	f = mkflow(PROTO_TCP, "192.168.1.5", 42000, VIP4, 80, TH_SYN);
	if (!open_conn(&fx, &f, &out))
		goto out;
	pkt_addr_str(&out, true, be, sizeof(be));

	for (w = 0; w < SL_FILTER_WORDS; w++) {
		bpf_map_update_elem(fx.dp.maps.vip_filter, &w, &zero, BPF_ANY);
		bpf_map_update_elem(fx.dp.maps.be_filter, &w, &zero, BPF_ANY);
	}
	/* empty filters: the connection's packets look like anyone's */
	before = fx_global(&fx, SL_G_PASS);
	f.tcp_flags = TH_ACK;
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.ing, &in, &out), "ACK with empty filters");
	ASSERT_EQ(fx_global(&fx, SL_G_PASS), before + 1, "counted as pass");

	if (!ASSERT_OK(sl_tables_init(&fx.dp.maps), "sl_tables_init"))
		goto out;
	pkt_build(&in, &f);
	if (ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "ACK verdict"))
		check_dnat(&f, &out, (const char *const[]){be, NULL}, 8080, a);
	r = mkflow(PROTO_TCP, be, 8080, "192.168.1.5", 42000, TH_ACK);
	pkt_build(&in, &r);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "reply verdict"))
		check_snat(&r, &out, VIP4, 80);
out:
	fx_down(&fx);
}

/* ---- a real node: conntrack in two stages, interfaces, sources, clashes, hairpin ---- */

/*
 * Untouched is TC_ACT_UNSPEC, never TC_ACT_OK: our filter may share the hook
 * with others (a CNI's), and TC_ACT_OK would end the chain for packets that
 * are not ours. What is translated is TC_ACT_OK.
 */
static void test_untouched_unspec(void)
{
	const char *client = "192.168.1.5";
	struct flow f = mkflow(PROTO_TCP, client, 46500, VIP4, 80, TH_SYN), r;
	char be[INET6_ADDRSTRLEN];
	struct frame in, out;
	struct fx fx;

	if (!up_and_open(&fx, &f, be))
		goto out;
	r = mkflow(PROTO_TCP, be, 8080, client, 46500, TH_SYN | TH_ACK);
	rev_is(&fx, &r, VIP4, "a translated reply");

	pkt_build(&in, &r);
	check_untouched(&in, &out, xmit(fx.ing, &in, &out), "the reply through ingress");
	f = mkflow(PROTO_TCP, client, 46501, "10.96.0.99", 80, TH_SYN);
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.ing, &in, &out), "not a VIP, ingress");
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "not a backend, egress");
	f = mkflow(PROTO_TCP, client, 46502, VIP4, 80, TH_ACK);
	pkt_build(&in, &f);
	check_untouched(&in, &out, xmit(fx.ing, &in, &out), "ACK of no connection");
	r.dport = 46503;
	pkt_build(&in, &r);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "a backend to a port we never saw");
out:
	fx_down(&fx);
}

/* Only a bare SYN opens a TCP connection: the rest of an unknown tuple is the node's. */
static void test_only_syn_opens(void)
{
	static const uint8_t flags[] = {TH_ACK,		 TH_ACK | TH_PSH, TH_FIN | TH_ACK,
					TH_RST,		 TH_RST | TH_ACK, TH_SYN | TH_ACK,
					TH_SYN | TH_RST, TH_SYN | TH_FIN};
	static const char *const clients[] = {"192.168.1.5", "fd00:c::5"};
	char y[1024], what[64], be[INET6_ADDRSTRLEN];
	struct frame in, out;
	struct sl_ct_key fk;
	unsigned i, c, n = 0;
	struct flow f;
	struct fx fx;

	if (!fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	for (c = 0; c < 2; c++)
		for (i = 0; i < sizeof(flags); i++, n++) {
			f = mkflow(PROTO_TCP, clients[c], 46000, c ? VIP6 : VIP4, 80, flags[i]);
			f.payload = odd_payload;
			f.plen = flags[i] & TH_PSH ? sizeof(odd_payload) - 1 : 0;
			pkt_build(&in, &f);
			snprintf(what, sizeof(what), "IPv%d flags 0x%02x", c ? 6 : 4, flags[i]);
			check_untouched(&in, &out, xmit(fx.ing, &in, &out), what);
			fk = ct_key_of(&f);
			ASSERT_TRUE(!ct_has(&fx, CT_FWD, &fk), what);
		}
	ASSERT_EQ(fx_global(&fx, SL_G_CT_MISS), n, "ct_miss");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 0, "new_conn");

	/* the SYN opens it; then the same ACK is the connection's */
	f = mkflow(PROTO_TCP, clients[0], 46000, VIP4, 80, TH_SYN);
	if (!open_conn(&fx, &f, &out))
		goto out;
	pkt_addr_str(&out, true, be, sizeof(be));
	f.tcp_flags = TH_ACK;
	fwd_is(&fx, &f, be, "ACK of the opened connection");
	ASSERT_EQ(fx_global(&fx, SL_G_CT_MISS), n, "ct_miss after the SYN");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 1, "new_conn after the SYN");
out:
	fx_down(&fx);
}

/* Both of a connection's entries are at stage, and only there. */
static bool ct_stage_is(struct fx *fx, const struct sl_ct_key *fk, const struct sl_ct_key *rk,
			enum ct_stage stage, const char *what)
{
	enum ct_stage other = stage == CT_CONFIRMED ? CT_UNCONFIRMED : CT_CONFIRMED;
	struct sl_ct_entry e;
	bool ok;

	ok = ASSERT_EQ(ct_get(fx, CT_FWD, fk, NULL), stage, what);
	ok &= ASSERT_EQ(ct_get(fx, CT_REV, rk, NULL), stage, what);
	ok &= ASSERT_TRUE(bpf_map_lookup_elem(ct_map(fx, CT_FWD, other), fk, &e) &&
			      bpf_map_lookup_elem(ct_map(fx, CT_REV, other), rk, &e),
			  what);
	return ok;
}

/*
 * A TCP connection is unconfirmed (LRU maps) until the client's first ACK
 * proves its address real: not by the SYN again, nor by the backend's
 * SYN-ACK. Then both entries move to the confirmed maps, whole.
 */
static void confirm_on_ack(const char *client, const char *vip)
{
	struct flow f = mkflow(PROTO_TCP, client, 46100, vip, 80, TH_SYN), r;
	struct sl_ct_key rk, fk = ct_key_of(&f);
	struct sl_ct_entry e0, e1;
	char be[INET6_ADDRSTRLEN];
	struct fx fx;

	if (!up_and_open(&fx, &f, be))
		goto out;
	rk = ct_key(be, 8080, client, 46100, PROTO_TCP);
	if (!ct_stage_is(&fx, &fk, &rk, CT_UNCONFIRMED, "after the SYN") ||
	    !ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, &e0), CT_UNCONFIRMED, "forward entry"))
		goto out;
	ASSERT_EQ(e0.ifindex, 1, "entry's interface (lo, under test runs)");
	ASSERT_EQ(ntohs(e0.nat_port), 46100, "entry's client port at the backend");

	fwd_is(&fx, &f, be, "retransmitted SYN");
	r = mkflow(PROTO_TCP, be, 8080, client, 46100, TH_SYN | TH_ACK);
	rev_is(&fx, &r, vip, "SYN-ACK");
	ct_stage_is(&fx, &fk, &rk, CT_UNCONFIRMED, "after the SYN again and the SYN-ACK");
	ASSERT_EQ(fx_global(&fx, SL_G_CT_CONFIRMED), 0, "ct_confirmed before the ACK");

	f.tcp_flags = TH_ACK;
	fwd_is(&fx, &f, be, "ACK");
	ct_stage_is(&fx, &fk, &rk, CT_CONFIRMED, "after the client's ACK");
	ASSERT_EQ(fx_global(&fx, SL_G_CT_CONFIRMED), 1, "ct_confirmed");
	if (ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, &e1), CT_CONFIRMED, "forward entry")) {
		e0.last_seen = e1.last_seen;
		ASSERT_TRUE(!memcmp(&e0, &e1, sizeof(e0)), "the entry moved unchanged");
	}

	/* the connection goes on from the confirmed maps, confirmed once */
	f.tcp_flags = TH_ACK | TH_PSH;
	f.payload = odd_payload;
	f.plen = sizeof(odd_payload) - 1;
	fwd_is(&fx, &f, be, "data");
	r.tcp_flags = TH_ACK;
	rev_is(&fx, &r, vip, "reply");
	ASSERT_EQ(fx_global(&fx, SL_G_CT_CONFIRMED), 1, "ct_confirmed after more packets");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 1, "new_conn");
out:
	fx_down(&fx);
}

static void test_confirm_on_ack4(void)
{
	confirm_on_ack("192.168.1.5", VIP4);
}

static void test_confirm_on_ack6(void)
{
	confirm_on_ack("fd00:c::5", VIP6);
}

/* A UDP flow is confirmed by the backend's first reply, not by more datagrams. */
static void udp_confirm_on_reply(const char *client, const char *vip)
{
	struct flow f = mkflow(PROTO_UDP, client, 46200, vip, 80, 0), r;
	struct sl_ct_key rk, fk = ct_key_of(&f);
	char be[INET6_ADDRSTRLEN];
	struct fx fx;
	int i;

	f.payload = "ping";
	f.plen = 4;
	if (!up_and_open(&fx, &f, be))
		goto out;
	rk = ct_key(be, 8080, client, 46200, PROTO_UDP);
	fwd_is(&fx, &f, be, "second datagram");
	ct_stage_is(&fx, &fk, &rk, CT_UNCONFIRMED, "before any reply");

	r = mkflow(PROTO_UDP, be, 8080, client, 46200, 0);
	r.payload = "pong";
	r.plen = 4;
	for (i = 0; i < 2; i++) {
		rev_is(&fx, &r, vip, "reply");
		ct_stage_is(&fx, &fk, &rk, CT_CONFIRMED, "after the reply");
	}
	fwd_is(&fx, &f, be, "datagram after the reply");
	ASSERT_EQ(fx_global(&fx, SL_G_CT_CONFIRMED), 1, "ct_confirmed");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 1, "new_conn");
out:
	fx_down(&fx);
}

static void test_udp_confirm_on_reply4(void)
{
	udp_confirm_on_reply("192.168.1.5", VIP4);
}

static void test_udp_confirm_on_reply6(void)
{
	udp_confirm_on_reply("fd00:c::5", VIP6);
}

/*
 * A network namespace of the test's own, with two veth links standing for a
 * node's pod links: a (10.50.0.1/24, fd50::1/64) and b (10.60.0.1/24,
 * fd60::1/64), forwarding on, as on a node. This thread enters it: test
 * runs (the interface named in ctx) and the datapath's route lookups happen
 * in the caller's namespace. tns_leave goes back; the namespace goes with
 * its last user.
 */
struct tns {
	int home;
	int a, b; /* ifindexes */
};

static bool write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val);

	if (fd >= 0)
		close(fd);
	return ASSERT_TRUE(ok, path);
}

static bool tns_enter(struct tns *t)
{
	static const char *const cmds[] = {
	    "ip link add sla type veth peer name sla-pod",
	    "ip link add slb type veth peer name slb-pod",
	    "ip addr add 10.50.0.1/24 dev sla",
	    "ip addr add 10.60.0.1/24 dev slb",
	    "ip -6 addr add fd50::1/64 dev sla nodad",
	    "ip -6 addr add fd60::1/64 dev slb nodad",
	    "ip link set sla-pod up",
	    "ip link set slb-pod up",
	    "ip link set sla up",
	    "ip link set slb up",
	};
	size_t i;

	t->a = t->b = 0;
	t->home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!ASSERT_TRUE(t->home >= 0, "open our network namespace"))
		return false;
	if (!ASSERT_OK(unshare(CLONE_NEWNET) ? -errno : 0, "unshare(CLONE_NEWNET)")) {
		close(t->home);
		t->home = -1;
		return false;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!ASSERT_EQ(system(cmds[i]), 0, cmds[i]))
			return false;
	if (!write_file("/proc/sys/net/ipv4/conf/all/forwarding", "1") ||
	    !write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1"))
		return false;
	t->a = if_nametoindex("sla");
	t->b = if_nametoindex("slb");
	return ASSERT_TRUE(t->a > 1 && t->b > 1, "the links' ifindexes");
}

static void tns_leave(struct tns *t)
{
	if (t->home < 0)
		return;
	ASSERT_OK(setns(t->home, CLONE_NEWNET) ? -errno : 0, "back to our network namespace");
	close(t->home);
	t->home = -1;
}

/*
 * A connection's packets come in where it started. The same tuple from
 * another interface (a neighbour forging it) is dropped, and may neither
 * confirm, close nor re-pick the connection.
 */
static void test_wrong_iface(void)
{
	const char *client = "10.50.0.7";
	char y[1024], be[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
	struct sl_ct_entry e0, e;
	struct frame in, out;
	struct sl_ct_key fk;
	struct tns ns;
	struct flow f;
	struct fx fx;
	int i;

	memset(&fx, 0, sizeof(fx));
	if (!tns_enter(&ns) || !fx_up(&fx, yaml_split(y, sizeof(y), "connection", 90, 10)))
		goto out;
	f = mkflow(PROTO_TCP, client, 47000, VIP4, 80, TH_SYN);
	fk = ct_key_of(&f);
	pkt_build(&in, &f);
	if (!ASSERT_EQ(xmit_if(fx.ing, &in, &out, ns.a), TC_ACT_OK, "SYN on a") ||
	    !check_dnat(&f, &out, eps4, 8080, be) ||
	    !ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, &e0), CT_UNCONFIRMED, "entry after the SYN") ||
	    !ASSERT_EQ(e0.ifindex, ns.a, "the entry's interface"))
		goto out;

	for (i = 0; i < 2; i++) {
		static const uint8_t forged[] = {TH_ACK, TH_ACK | TH_PSH, TH_RST, TH_FIN | TH_ACK,
						 TH_SYN};
		enum ct_stage stage = i ? CT_CONFIRMED : CT_UNCONFIRMED;
		uint64_t before = fx_global(&fx, SL_G_WRONG_IFACE);
		size_t k;

		for (k = 0; k < sizeof(forged); k++) {
			char what[64];

			snprintf(what, sizeof(what), "flags 0x%02x from b (%s)", forged[k],
				 i ? "confirmed" : "unconfirmed");
			f.tcp_flags = forged[k];
			f.payload = odd_payload;
			f.plen = forged[k] & TH_PSH ? sizeof(odd_payload) - 1 : 0;
			pkt_build(&in, &f);
			ASSERT_EQ(xmit_if(fx.ing, &in, &out, ns.b), TC_ACT_SHOT, what);
			if (ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, &e), stage, what))
				ASSERT_TRUE(!memcmp(&e, &e0, sizeof(e)), "entry unchanged");
		}
		/* lo (no ctx) is another interface too */
		f.tcp_flags = TH_ACK;
		f.plen = 0;
		pkt_build(&in, &f);
		ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_SHOT, "ACK from lo");
		ASSERT_EQ(fx_global(&fx, SL_G_WRONG_IFACE) - before, sizeof(forged) + 1,
			  "wrong_iface");

		/* from a: the connection's own */
		pkt_build(&in, &f);
		if (!ASSERT_EQ(xmit_if(fx.ing, &in, &out, ns.a), TC_ACT_OK, "ACK on a") ||
		    !check_dnat(&f, &out, (const char *const[]){be, NULL}, 8080, a) ||
		    !ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, &e0), CT_CONFIRMED, "confirmed from a"))
			goto out;
	}
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 1, "new_conn");
	ASSERT_EQ(e0.flags & SL_CT_CLOSED, 0, "not closed");
out:
	fx_down(&fx);
	tns_leave(&ns);
}

/*
 * The source check (SL_DP_SRC_CHECK): a new connection's client must route
 * back through the interface it came in on, as strict rp_filter has it.
 */
static void src_check(bool on)
{
	static const struct {
		const char *client;
		bool on_b;   /* comes in on b, else a */
		bool routes; /* routes back through that interface */
		uint8_t proto;
	} cases[] = {
	    {"10.50.0.7", false, true, PROTO_TCP},  {"10.60.0.7", false, false, PROTO_TCP},
	    {"10.70.0.7", false, false, PROTO_TCP}, {"10.60.0.7", true, true, PROTO_TCP},
	    {"10.60.0.8", false, false, PROTO_UDP}, {"fd50::7", false, true, PROTO_TCP},
	    {"fd60::7", false, false, PROTO_TCP},   {"fd60::7", true, true, PROTO_TCP},
	};
	unsigned i, rejected = 0;
	struct frame in, out;
	struct tns ns;
	struct fx fx;
	char y[1024];

	memset(&fx, 0, sizeof(fx));
	if (!tns_enter(&ns) || !fx_up_flags(&fx, yaml_split(y, sizeof(y), "connection", 90, 10),
					    on ? SL_DP_SRC_CHECK : 0))
		goto out;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool v6 = strchr(cases[i].client, ':');
		struct flow f = mkflow(cases[i].proto, cases[i].client, 47100 + i, v6 ? VIP6 : VIP4,
				       80, TH_SYN);
		struct sl_ct_key fk = ct_key_of(&f);
		bool pass = cases[i].routes || !on;
		char what[96], ep[INET6_ADDRSTRLEN];

		snprintf(what, sizeof(what), "%s %s on %s",
			 cases[i].proto == PROTO_UDP ? "UDP" : "SYN", cases[i].client,
			 cases[i].on_b ? "b" : "a");
		pkt_build(&in, &f);
		if (!ASSERT_EQ(xmit_if(fx.ing, &in, &out, cases[i].on_b ? ns.b : ns.a),
			       pass ? TC_ACT_OK : TC_ACT_SHOT, what))
			continue;
		if (pass)
			check_dnat(&f, &out, v6 ? eps6 : eps4, 8080, ep);
		else
			rejected++;
		ASSERT_EQ(ct_has(&fx, CT_FWD, &fk), pass, what);
	}
	ASSERT_EQ(fx_global(&fx, SL_G_SRC_REJECTED), rejected, "src_rejected");
	ASSERT_EQ(rejected, on ? 4 : 0, "cases rejected");
out:
	fx_down(&fx);
	tns_leave(&ns);
}

static void test_src_check_on(void)
{
	src_check(true);
}

static void test_src_check_off(void)
{
	src_check(false);
}

/* Two services, two VIPs of each family, one and the same backend. */
static const char yaml_shared_backend[] = "services:\n"
					  "  - name: one\n"
					  "    vips: [10.96.0.10, \"fd00::10\"]\n"
					  "    ports: [{port: 80, targetPort: 8080}]\n"
					  "    subsets:\n"
					  "      v1: {endpoints: [10.0.1.10, \"fd00:1::10\"]}\n"
					  "  - name: two\n"
					  "    vips: [10.96.0.11, \"fd00::11\"]\n"
					  "    ports: [{port: 80, targetPort: 8080}]\n"
					  "    subsets:\n"
					  "      v1: {endpoints: [10.0.1.10, \"fd00:1::10\"]}\n";

/*
 * Linux gives one client port to connections to two VIPs: after DNAT to
 * their one backend, both would be the same tuple. The second's client port
 * is remapped on the way in and restored on the way out.
 */
static void port_remap(const char *client, const char *vip1, const char *vip2, const char *be)
{
	const uint16_t P = 47200;
	struct flow f1 = mkflow(PROTO_TCP, client, P, vip1, 80, TH_SYN);
	struct flow f2 = mkflow(PROTO_TCP, client, P, vip2, 80, TH_SYN), r;
	struct sl_ct_key fk2 = ct_key_of(&f2);
	struct frame in, out;
	struct sl_ct_entry e;
	uint16_t q = 0;
	struct fx fx;
	int round;

	if (!fx_up(&fx, yaml_shared_backend))
		goto out;
	pkt_build(&in, &f1);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "SYN to the first VIP") ||
	    !check_nat(&f1, &out, NULL, P, be, 8080, "SYN to the first VIP keeps its port"))
		goto out;
	pkt_build(&in, &f2);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "SYN to the second VIP"))
		goto out;
	q = pkt_sport(&out);
	printf("  client port %u remapped to %u\n", P, q);
	if (!ASSERT_TRUE(q != P && q >= 1024, "second connection's port remapped") ||
	    !check_nat(&f2, &out, NULL, q, be, 8080, "SYN to the second VIP, remapped"))
		goto out;
	if (ASSERT_EQ(ct_get(&fx, CT_FWD, &fk2, &e), CT_UNCONFIRMED, "second forward entry"))
		ASSERT_EQ(ntohs(e.nat_port), q, "the entry's nat_port");
	ASSERT_EQ(fx_global(&fx, SL_G_PORT_REMAP), 1, "port_remap");
	/* its SYN again: the same port */
	pkt_build(&in, &f2);
	if (ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "second SYN again"))
		check_nat(&f2, &out, NULL, q, be, 8080, "second SYN again, same port");

	/* unconfirmed (SYN-ACKs), then confirmed (data): each reply to its own VIP */
	for (round = 0; round < 2; round++) {
		uint8_t fl = round ? TH_ACK | TH_PSH : TH_SYN | TH_ACK;

		r = mkflow(PROTO_TCP, be, 8080, client, P, fl);
		r.payload = odd_payload;
		r.plen = round ? sizeof(odd_payload) - 1 : 0;
		pkt_build(&in, &r);
		if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "first reply"))
			check_nat(&r, &out, vip1, 80, NULL, P, "first reply from the first VIP");
		r.dport = q;
		pkt_build(&in, &r);
		if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "second reply"))
			check_nat(&r, &out, vip2, 80, NULL, P,
				  "second reply from the second VIP, to the client's port");
		if (round)
			break;
		f1.tcp_flags = f2.tcp_flags = TH_ACK;
		pkt_build(&in, &f1);
		if (ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "first ACK"))
			check_nat(&f1, &out, NULL, P, be, 8080, "first ACK");
		pkt_build(&in, &f2);
		if (ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_OK, "second ACK"))
			check_nat(&f2, &out, NULL, q, be, 8080, "second ACK, remapped");
		ASSERT_EQ(ct_get(&fx, CT_FWD, &fk2, NULL), CT_CONFIRMED, "second confirmed");
	}
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 2, "new_conn");
	ASSERT_EQ(fx_global(&fx, SL_G_PORT_REMAP), 1, "port_remap at the end");
	ASSERT_EQ(fx_global(&fx, SL_G_CLASH_DROP), 0, "clash_drop");
out:
	fx_down(&fx);
}

static void test_port_remap4(void)
{
	port_remap("192.168.1.5", VIP4, "10.96.0.11", "10.0.1.10");
}

static void test_port_remap6(void)
{
	port_remap("fd00:c::5", VIP6, "fd00::11", "fd00:1::10");
}

/* A frame sent back out of its interface: Ethernet addresses swapped; *plain without that. */
static bool check_bounced(const struct frame *out, struct frame *plain, const char *what)
{
	bool ok = ASSERT_TRUE(
	    !memcmp(out->b, pkt_mac_src, 6) && !memcmp(out->b + 6, pkt_mac_dst, 6), what);

	*plain = *out;
	memcpy(plain->b, pkt_mac_dst, 6);
	memcpy(plain->b + 6, pkt_mac_src, 6);
	return ok;
}

/*
 * A pod that reaches itself through a VIP (its only endpoint): its packets
 * leave from the hairpin address, its replies to that address come back
 * in through ingress and leave from the VIP, both bounced straight back out
 * of its interface.
 */
static void hairpin(const char *pod, const char *vip, const char *hp)
{
	struct flow f = mkflow(PROTO_TCP, pod, 47300, vip, 80, TH_SYN), r;
	struct sl_ct_key fk = ct_key_of(&f), rk = ct_key(pod, 8080, hp, 47300, PROTO_TCP);
	struct frame in, out, plain;
	struct sl_ct_entry e;
	struct fx fx;
	int round;

	if (!fx_up(&fx, yaml_shared_backend))
		goto out;
	r = mkflow(PROTO_TCP, pod, 8080, hp, 47300, TH_SYN | TH_ACK);
	for (round = 0; round < 2; round++) {
		pkt_build(&in, &f);
		if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_REDIRECT, "pod to VIP: verdict") ||
		    !check_bounced(&out, &plain, "pod to VIP: bounced") ||
		    !check_nat(&f, &plain, hp, 47300, pod, 8080,
			       "pod to VIP: from the hairpin address"))
			goto out;
		pkt_build(&in, &r);
		if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_REDIRECT, "reply: verdict") ||
		    !check_bounced(&out, &plain, "reply: bounced") ||
		    !check_nat(&r, &plain, vip, 80, pod, 47300, "reply: from the VIP to the pod"))
			goto out;
		if (!round) {
			if (ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, &e), CT_UNCONFIRMED,
				      "forward entry"))
				ASSERT_TRUE(e.flags & SL_CT_HAIRPIN, "a hairpin entry");
			ASSERT_EQ(ct_get(&fx, CT_REV, &rk, NULL), CT_UNCONFIRMED,
				  "reverse entry, to the hairpin address");
		}
		f.tcp_flags = r.tcp_flags = TH_ACK | TH_PSH;
		f.payload = r.payload = odd_payload;
		f.plen = r.plen = sizeof(odd_payload) - 1;
	}
	ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, NULL), CT_CONFIRMED, "confirmed by the pod's ACK");
	ASSERT_EQ(ct_get(&fx, CT_REV, &rk, NULL), CT_CONFIRMED, "reverse entry confirmed");
	/* the reply never crosses egress; if it did, it is not a reply to the client */
	pkt_build(&in, &r);
	check_untouched(&in, &out, xmit(fx.egr, &in, &out), "reply through egress");
	ASSERT_EQ(fx_global(&fx, SL_G_HAIRPIN), 1, "hairpin");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 1, "new_conn");
	ASSERT_EQ(fx_global(&fx, SL_G_REPLY), 2, "replies");
out:
	fx_down(&fx);
}

static void test_hairpin4(void)
{
	hairpin("10.0.1.10", VIP4, SL_HAIRPIN4_DEFAULT);
}

static void test_hairpin6(void)
{
	hairpin("fd00:1::10", VIP6, SL_HAIRPIN6_DEFAULT);
}

static const struct check_test tests[] = {
    {"dnat_tcp4", test_dnat_tcp4},
    {"dnat_tcp6", test_dnat_tcp6},
    {"dnat_tcp4_ip_options", test_dnat_tcp4_ip_options},
    {"dnat_tcp4_padded", test_dnat_tcp4_padded},
    {"dnat_udp4", test_dnat_udp4},
    {"dnat_udp6", test_dnat_udp6},
    {"dnat_udp4_zero_csum", test_dnat_udp4_zero_csum},
    {"udp4_csum_zero_result", test_udp4_csum_zero_result},
    {"udp6_csum_zero_result", test_udp6_csum_zero_result},
    {"revnat_tcp4", test_revnat_tcp4},
    {"revnat_tcp6", test_revnat_tcp6},
    {"revnat_udp4", test_revnat_udp4},
    {"revnat_udp6", test_revnat_udp6},
    {"passthrough", test_passthrough},
    {"malformed", test_malformed},
    {"fragments_and_icmp", test_fragments_and_icmp},
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
    {"port_reuse", test_port_reuse},
    {"port_reuse_direct_connection", test_port_reuse_direct_connection},
    {"counters", test_counters},
    {"revnat_restored", test_revnat_restored},
    {"revnat_restored_unconfirmed", test_revnat_restored_unconfirmed},
    {"udp_idle_expiry", test_udp_idle_expiry},
    {"synack_from_old_backend", test_synack_from_old_backend},
    {"subset_id_retired", test_subset_id_retired},
    {"removed_service_drains", test_removed_service_drains},
    {"filters_rebuilt_on_load", test_filters_rebuilt_on_load},
    {"untouched_unspec", test_untouched_unspec},
    {"only_syn_opens", test_only_syn_opens},
    {"confirm_on_ack4", test_confirm_on_ack4},
    {"confirm_on_ack6", test_confirm_on_ack6},
    {"udp_confirm_on_reply4", test_udp_confirm_on_reply4},
    {"udp_confirm_on_reply6", test_udp_confirm_on_reply6},
    {"wrong_iface", test_wrong_iface},
    {"src_check_on", test_src_check_on},
    {"src_check_off", test_src_check_off},
    {"port_remap4", test_port_remap4},
    {"port_remap6", test_port_remap6},
    {"hairpin4", test_hairpin4},
    {"hairpin6", test_hairpin6},
};

int main(int argc, char **argv)
{
	sl_log_hook_libbpf();
	return check_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
