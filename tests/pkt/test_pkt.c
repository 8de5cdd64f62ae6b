// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet tests of translation: hand-built Ethernet frames through the real
 * sl_ingress and sl_egress with BPF_PROG_TEST_RUN, on a private unpinned
 * instance per test, configured from YAML text through the same parser and
 * table writer as `sluice apply`: DNAT and reverse NAT bytes and checksums,
 * traffic that is not ours, malformed headers, fragments, counters, subset
 * ids and address filters. Outputs are checked against frames built
 * independently (pkt.h), checksums recomputed from scratch. The choice of a
 * backend is test_choice.c's, connection tracking test_conntrack.c's.
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

#include "flows.h"

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
    {"counters", test_counters},
    {"subset_id_retired", test_subset_id_retired},
    {"removed_service_drains", test_removed_service_drains},
    {"filters_rebuilt_on_load", test_filters_rebuilt_on_load},
};

int main(int argc, char **argv)
{
	sl_log_hook_libbpf();
	return check_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
