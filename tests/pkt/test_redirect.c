// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packets that conntrack sends back or elsewhere instead of up the stack:
 * hairpins (a pod to its own Service, source NATed and bounced out of its
 * interface), the fast path (redirected past the node's stack, or not when
 * no target is ours or it is off), and the abort reset (a flagged
 * connection's packet answered with a RST|ACK from the VIP). Hand-built Ethernet frames through the real sl_ingress and
 * sl_egress with BPF_PROG_TEST_RUN, on a private unpinned instance per
 * test, configured from YAML text through the same parser and table writer
 * as `sluice apply`. Outputs are checked against frames built independently
 * (pkt.h), checksums recomputed from scratch. Tests that need interfaces
 * and routes (fast_path_vip_filter_clash*) enter a network namespace of their
 * own, with veth links, for the time they run.
 *
 * Run as root from the repository root: ./build/tests/test_redirect [filter]
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
#include "sluice_hash.h"
#include "tns.h"

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

/*
 * The fast path on, no target ours (sl_ifaces empty: a backend on another
 * node, or behind an interface sluice is not attached to). The connection
 * is marked in both entries, the reverse entry knows the client's
 * interface, and every packet takes the stack exactly as without it: the
 * request DNATed with TC_ACT_OK, the backend's reply left alone at ingress
 * of its interface (no half-translated reply for the node's conntrack) and
 * translated at egress as usual. Nothing is counted as redirected.
 */
static void test_fast_path_fallback(void)
{
	const char *client = "192.168.1.5";
	struct flow f = mkflow(PROTO_TCP, client, 46000, VIP4, 80, TH_SYN), r;
	struct sl_ct_key fk = ct_key_of(&f), rk;
	struct sl_ct_entry fe, re;
	char y[1024], be[INET6_ADDRSTRLEN];
	struct frame in, out;
	uint64_t pass0;
	struct fx fx;

	if (!fx_up_flags(&fx, yaml_split(y, sizeof(y), "connection", 90, 10), SL_DP_FAST_PATH) ||
	    !open_conn(&fx, &f, &out))
		goto out;
	pkt_addr_str(&out, true, be, sizeof(be));
	rk = ct_key(be, 8080, client, 46000, PROTO_TCP);
	ASSERT_TRUE(ct_get(&fx, CT_FWD, &fk, &fe) == CT_UNCONFIRMED && (fe.flags & SL_CT_FAST),
		    "forward entry marked SL_CT_FAST");
	/* the reply finds the client's interface by a FIB lookup, not in the entry */
	ASSERT_TRUE(ct_get(&fx, CT_REV, &rk, &re) == CT_UNCONFIRMED && (re.flags & SL_CT_FAST) &&
			fe.ifindex && !re.ifindex,
		    "reverse entry marked; the interface in the forward entry");
	f.tcp_flags = TH_ACK;
	if (!fwd_is(&fx, &f, be, "handshake ACK, through the stack"))
		goto out;
	r = mkflow(PROTO_TCP, be, 8080, client, 46000, TH_ACK | TH_PSH);
	r.payload = odd_payload;
	r.plen = sizeof(odd_payload) - 1;
	pkt_build(&in, &r);
	pass0 = fx_global(&fx, SL_G_PASS);
	check_untouched(&in, &out, xmit(fx.ing, &in, &out),
			"reply at ingress of the backend's interface, no target ours");
	ASSERT_EQ(fx_global(&fx, SL_G_PASS) - pass0, 1, "counted as pass there");
	rev_is(&fx, &r, VIP4, "reply translated at egress");
	ASSERT_EQ(fx_global(&fx, SL_G_FAST_REDIRECT), 0, "fast_redirect");
out:
	fx_down(&fx);
}

/* Without the fast path (a plain load, `run --no-fast-path`): no entry is marked. */
static void test_fast_path_off(void)
{
	struct flow f = mkflow(PROTO_TCP, "192.168.1.5", 46001, VIP4, 80, TH_SYN);
	struct sl_ct_key fk = ct_key_of(&f);
	struct sl_ct_entry fe;
	char be[INET6_ADDRSTRLEN];
	struct fx fx;

	if (!up_and_open(&fx, &f, be))
		goto out;
	ASSERT_TRUE(ct_get(&fx, CT_FWD, &fk, &fe) == CT_UNCONFIRMED && !(fe.flags & SL_CT_FAST),
		    "forward entry not marked");
out:
	fx_down(&fx);
}

/*
 * A VIP address (in 10.128.0.0/10, or fd00:97::/96) whose filter bit at
 * port 80 is that of (addr, port): a service there makes sl_vip_filter say
 * "maybe" for every reply to that client port. Written to vip; false if
 * there is none (4M candidates: about e^-16 for a given bit).
 */
static bool vip_sharing_bit(const char *addr, uint16_t port, char vip[INET6_ADDRSTRLEN])
{
	uint8_t a[16], c[16];
	uint32_t want, i;
	bool v4 = pkt_addr(addr, a) == 4;

	want = sl_filter_bit((const __be32 *)a, htons(port), PROTO_TCP);
	pkt_addr(v4 ? "10.128.0.0" : "fd00:97::", c);
	for (i = 0; i < 1u << 22; i++) {
		uint32_t n = htonl((v4 ? 0x0a800000u : 0) | i);

		memcpy(v4 ? c : c + 12, &n, 4);
		if (sl_filter_bit((const __be32 *)c, htons(80), PROTO_TCP) == want) {
			inet_ntop(v4 ? AF_INET : AF_INET6, c, vip, INET6_ADDRSTRLEN);
			return true;
		}
	}
	return false;
}

/*
 * The fast path, both ways, for a client port whose filter bit another
 * service's VIP shares (with 10,000 VIPs, one client port in 27 does). The
 * backend's replies at ingress of its interface are fast-path replies all
 * the same: reverse-NATed and redirected to the client's interface. They
 * were taken for client packets to a VIP, missed in conntrack (ct_miss)
 * and went to the node's stack, whose conntrack had never seen the SYN:
 * every SYN-ACK dropped as INVALID, the connection never up
 * (docs/fastpath.md). Client on link a, backend on link b, both ours.
 */
/*
 * A backend's reply at the backend's link, whose (client address, port)
 * shares a bit of sl_vip_filter with a VIP. Fast path on: translated and
 * redirected there. Off: left to the stack (egress translates it), and not
 * counted as a conntrack miss.
 */
static void vip_filter_clash(const char *client, const char *be, const char *vip,
			     const char *other, bool fast)
{
	struct flow f = mkflow(PROTO_TCP, client, 47100, vip, 80, TH_SYN), r;
	int fwd_res = fast ? TC_ACT_REDIRECT : TC_ACT_OK;
	int rep_res = fast ? TC_ACT_REDIRECT : TC_ACT_UNSPEC;
	char y[1024], clash[INET6_ADDRSTRLEN];
	struct frame in, out;
	struct tns ns;
	struct fx fx;
	__u32 one = 1;
	int fd;

	memset(&fx, 0, sizeof(fx));
	if (!ASSERT_TRUE(vip_sharing_bit(client, 47100, clash), "a VIP sharing the client's bit"))
		return;
	snprintf(y, sizeof(y),
		 "services:\n"
		 "  - name: backend\n"
		 "    vips: [\"%s\"]\n"
		 "    ports: [{port: 80, targetPort: 8080}]\n"
		 "    subsets:\n"
		 "      v1: {endpoints: [\"%s\"]}\n"
		 "  - name: clash\n"
		 "    vips: [\"%s\"]\n"
		 "    ports: [{port: 80, targetPort: 8080}]\n"
		 "    subsets:\n"
		 "      v1: {endpoints: [\"%s\"]}\n",
		 vip, be, clash, other);
	if (!tns_enter(&ns) || !fx_up_flags(&fx, y, fast ? SL_DP_FAST_PATH : 0))
		goto out;
	/* `run` attached to both links */
	fd = bpf_map__fd(fx.dp.skel->maps.sl_ifaces);
	if (!ASSERT_OK(bpf_map_update_elem(fd, &ns.a, &one, BPF_ANY) ? -errno : 0, "sl_ifaces a") ||
	    !ASSERT_OK(bpf_map_update_elem(fd, &ns.b, &one, BPF_ANY) ? -errno : 0, "sl_ifaces b"))
		goto out;

	pkt_build(&in, &f);
	if (!ASSERT_EQ(xmit_if(fx.ing, &in, &out, ns.a), fwd_res, "SYN: sent on") ||
	    !check_nat(&f, &out, NULL, 47100, be, 8080, "SYN: DNATed"))
		goto out;
	r = mkflow(PROTO_TCP, be, 8080, client, 47100, TH_SYN | TH_ACK);
	pkt_build(&in, &r);
	if (!ASSERT_EQ(xmit_if(fx.ing, &in, &out, ns.b), rep_res, "SYN-ACK at the backend's link") ||
	    (fast && !check_nat(&r, &out, vip, 80, NULL, 47100, "SYN-ACK: from the VIP")))
		goto out;
	f.tcp_flags = TH_ACK;
	pkt_build(&in, &f);
	if (!ASSERT_EQ(xmit_if(fx.ing, &in, &out, ns.a), fwd_res, "ACK: sent on"))
		goto out;
	r.tcp_flags = TH_ACK | TH_PSH;
	r.payload = odd_payload;
	r.plen = sizeof(odd_payload) - 1;
	pkt_build(&in, &r);
	if (!ASSERT_EQ(xmit_if(fx.ing, &in, &out, ns.b), rep_res, "data reply at the backend's link") ||
	    (fast && !check_nat(&r, &out, vip, 80, NULL, 47100, "data reply: from the VIP")))
		goto out;
	ASSERT_EQ(fx_global(&fx, SL_G_FAST_REDIRECT), fast ? 4 : 0, "fast_redirect");
	ASSERT_EQ(fx_global(&fx, SL_G_CT_MISS), 0, "ct_miss (replies taken for client packets)");
	ASSERT_EQ(fx_global(&fx, SL_G_REPLY), fast ? 2 : 0, "replies");
out:
	fx_down(&fx);
	tns_leave(&ns);
}

static void test_fast_path_vip_filter_clash4(void)
{
	vip_filter_clash("10.50.0.7", "10.60.0.10", VIP4, "10.60.0.20", true);
}

static void test_fast_path_vip_filter_clash6(void)
{
	vip_filter_clash("fd50::7", "fd60::10", VIP6, "fd60::20", true);
}

static void test_vip_filter_clash_no_fast4(void)
{
	vip_filter_clash("10.50.0.7", "10.60.0.10", VIP4, "10.60.0.20", false);
}

static void test_vip_filter_clash_no_fast6(void)
{
	vip_filter_clash("fd50::7", "fd60::10", VIP6, "fd60::20", false);
}

/*
 * A connection flagged at an abort with --abort-reset (SL_CT_ABORT_RESET):
 * the client's next packet comes back to it as a RST from the VIP (seq its
 * own ack, ack past its data), checksums right; the entry is closed, and
 * the client's own RST still goes through to the backend.
 */
static void abort_reset(const char *client, const char *vip)
{
	struct flow f = mkflow(PROTO_TCP, client, 46700, vip, 80, TH_SYN), rst;
	struct sl_ct_key fk = ct_key_of(&f);
	struct frame in, out, plain;
	char be[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
	struct pkt_layout lo;
	struct sl_ct_entry e;
	enum ct_stage stage;
	struct fx fx;

	if (!up_and_open(&fx, &f, be))
		goto out;
	f.tcp_flags = TH_ACK;
	f.seq = 1001;
	f.ack_seq = 5001;
	fwd_is(&fx, &f, be, "ACK");
	stage = ct_get(&fx, CT_FWD, &fk, &e);
	if (!ASSERT_EQ(stage, CT_CONFIRMED, "forward entry"))
		goto out;
	e.flags |= SL_CT_ABORT_RESET;
	if (!ASSERT_EQ(bpf_map_update_elem(ct_map(&fx, CT_FWD, stage), &fk, &e, BPF_EXIST), 0,
		       "flag the entry"))
		goto out;

	f.tcp_flags = TH_ACK | TH_PSH;
	f.payload = odd_payload;
	f.plen = sizeof(odd_payload) - 1;
	pkt_build(&in, &f);
	if (!ASSERT_EQ(xmit(fx.ing, &in, &out), TC_ACT_REDIRECT, "data: verdict") ||
	    !check_bounced(&out, &plain, "data: bounced") || !ASSERT_CSUMS(&out, "RST") ||
	    !ASSERT_TRUE(pkt_layout(&out, &lo) && lo.proto == PROTO_TCP, "RST: TCP"))
		goto out;
	ASSERT_EQ(out.len, ETH_LEN + (f.family == 4 ? 20 : 40) + 20, "RST: length");
	ASSERT_EQ(lo.l4_len, 20, "RST: no payload");
	ASSERT_STREQ(pkt_addr_str(&out, false, a, sizeof(a)), vip, "RST: from the VIP");
	ASSERT_STREQ(pkt_addr_str(&out, true, a, sizeof(a)), client, "RST: to the client");
	ASSERT_EQ(pkt_sport(&out), 80, "RST: source port");
	ASSERT_EQ(pkt_dport(&out), 46700, "RST: destination port");
	ASSERT_EQ(out.b[lo.l4 + 13], TH_RST | TH_ACK, "RST: flags");
	ASSERT_EQ(pkt_get32(out.b + lo.l4 + 4), 5001, "RST: seq is the client's ack");
	ASSERT_EQ(pkt_get32(out.b + lo.l4 + 8), 1001 + f.plen, "RST: ack past the data");
	ASSERT_EQ(fx_global(&fx, SL_G_ABORT_RESET), 1, "abort_reset");
	if (ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, &e), CT_CONFIRMED, "entry kept"))
		ASSERT_TRUE(e.flags & SL_CT_CLOSED, "entry closed");

	/* the client's stack answers the backend's next packet with a RST: it goes on */
	rst = f;
	rst.tcp_flags = TH_RST;
	rst.payload = NULL;
	rst.plen = 0;
	fwd_is(&fx, &rst, be, "client's RST");
	ASSERT_EQ(fx_global(&fx, SL_G_ABORT_RESET), 1, "abort_reset after the client's RST");
out:
	fx_down(&fx);
}

static void test_abort_reset4(void)
{
	abort_reset("192.168.1.5", VIP4);
}

static void test_abort_reset6(void)
{
	abort_reset("fd00:c::5", VIP6);
}

static const struct check_test tests[] = {
    {"hairpin4", test_hairpin4},
    {"hairpin6", test_hairpin6},
    {"fast_path_fallback", test_fast_path_fallback},
    {"fast_path_off", test_fast_path_off},
    {"fast_path_vip_filter_clash4", test_fast_path_vip_filter_clash4},
    {"fast_path_vip_filter_clash6", test_fast_path_vip_filter_clash6},
    {"vip_filter_clash_no_fast4", test_vip_filter_clash_no_fast4},
    {"vip_filter_clash_no_fast6", test_vip_filter_clash_no_fast6},
    {"abort_reset4", test_abort_reset4},
    {"abort_reset6", test_abort_reset6},
};

int main(int argc, char **argv)
{
	sl_log_hook_libbpf();
	return check_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
