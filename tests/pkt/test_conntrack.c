// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Connection tracking on a real node, packet by packet: port reuse, lost and
 * stale reverse entries, UDP ageing, two-stage conntrack (only a SYN opens,
 * the client's ACK confirms), interfaces and forged sources, port remaps.
 * Packets sent back or elsewhere (hairpin, fast path, abort reset):
 * test_redirect.c. Hand-built Ethernet frames through the real sl_ingress and
 * sl_egress with BPF_PROG_TEST_RUN, on a private unpinned instance per
 * test, configured from YAML text through the same parser and table writer
 * as `sluice apply`. Outputs are checked against frames built independently
 * (pkt.h), checksums recomputed from scratch. Tests that need interfaces
 * and routes (wrong_iface, src_check_*) enter a network namespace of their
 * own, with veth links, for the time they run.
 *
 * Run as root from the repository root: ./build/tests/test_conntrack [filter]
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
#include "tns.h"

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

static const struct check_test tests[] = {
    {"port_reuse", test_port_reuse},
    {"port_reuse_direct_connection", test_port_reuse_direct_connection},
    {"revnat_restored", test_revnat_restored},
    {"revnat_restored_unconfirmed", test_revnat_restored_unconfirmed},
    {"udp_idle_expiry", test_udp_idle_expiry},
    {"synack_from_old_backend", test_synack_from_old_backend},
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
};

int main(int argc, char **argv)
{
	sl_log_hook_libbpf();
	return check_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
