// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Header routing, kernel side, through the real programs: sl_ingress sends
 * new connections of a service with HTTP routes to local delivery (DNATed to
 * our local address with the VIP's port kept, and marked) only while an L7
 * listener is in sl_l7_listen, and DNATs by weight otherwise; sl_egress
 * gives the L7 step's replies the VIP back; sl_l7_lookup (sk_lookup) hands
 * what arrives at the local address to the listener; and the L7 step's
 * choice (l7_pick.c) is the kernel's own for every connection that no HTTP
 * route claims.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/pkt_cls.h>

#include "fixture.h"
#include "lib/log.h"
#include "l7/l7_match.h"
#include "l7/l7_pick.h"

#define VIP4 "10.96.0.10"
#define VIP6 "fd00::10"
#define CLI4 "10.0.9.2"
#define CLI6 "fd00:9::2"

static const char *cfg_yaml = "services:\n"
			      "- name: backend\n"
			      "  vips: [" VIP4 ", \"" VIP6 "\"]\n"
			      "  ports: [{port: 80, targetPort: 8080}]\n"
			      "  subsets:\n"
			      "    v1: {endpoints: [10.0.1.10, 10.0.1.11, \"fd00:1::10\"]}\n"
			      "    v2: {endpoints: [10.0.2.10, \"fd00:2::10\"]}\n"
			      "  routes:\n"
			      "  - match: {headers: {canary: {exact: canary-tester}}}\n"
			      "    split: {v2: 100}\n"
			      "  - split: {v1: 90, v2: 10}\n"
			      "- name: plain\n"
			      "  vips: [10.96.0.20]\n"
			      "  ports: [{port: 80, targetPort: 8080}]\n"
			      "  subsets: {v1: {endpoints: [10.0.1.10]}}\n";

/* A listening socket, as the L7 step opens it, published in sl_l7_listen. */
static int listen_on(struct fx *fx, int family)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	__u32 idx = family == AF_INET6 ? SL_L7_LISTEN_INET6 : SL_L7_LISTEN_INET;
	__u64 v;
	int fd;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!ASSERT_TRUE(fd >= 0, "socket"))
		return -1;
	if (!ASSERT_OK(bind(fd,
			    family == AF_INET6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4,
			    family == AF_INET6 ? sizeof(a6) : sizeof(a4)),
		       "bind") ||
	    !ASSERT_OK(listen(fd, 16), "listen")) {
		close(fd);
		return -1;
	}
	v = fd;
	if (!ASSERT_OK(bpf_map_update_elem(fx->dp.maps.l7_listen, &idx, &v, BPF_ANY),
		       "publish the listener")) {
		close(fd);
		return -1;
	}
	return fd;
}

/* fx up on cfg_yaml with a listener of family published: its fd, or -1. */
static int up_listening(struct fx *fx, int family)
{
	return fx_up(fx, cfg_yaml) ? listen_on(fx, family) : -1;
}

static uint64_t cookie_of(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);

	getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len);
	return c;
}

/* One frame through sl_ingress; *mark gets the skb mark it left. */
static int ingress(struct fx *fx, const struct flow *fl, struct frame *in, struct frame *out,
		   __u32 *mark)
{
	struct __sk_buff ctx = {};
	int verdict;

	in->len = pkt_build(in, fl);
	verdict = xmit_run(fx->ing, in, out, &ctx, false);
	*mark = ctx.mark;
	return verdict;
}

/* The flags of fl's forward entry, confirmed or not. */
static bool ct_flags(struct fx *fx, const struct flow *fl, __u32 *flags)
{
	struct sl_ct_key k = ct_key_of(fl);
	struct sl_ct_entry e;

	if (ct_get(fx, CT_FWD, &k, &e) == CT_NONE)
		return false;
	*flags = e.flags;
	return true;
}

static const char *local_of(const struct flow *fl)
{
	return fl->family == 6 ? SL_L7_LOCAL6_DEFAULT : SL_L7_LOCAL4_DEFAULT;
}

/*
 * fl through sl_ingress goes to the L7 step: DNATed to our local address
 * with the VIP's port kept (so that kube-proxy's rules for the VIP never
 * see it), and marked for the policy route.
 */
static bool check_local(struct fx *fx, const struct flow *fl, const char *what)
{
	struct frame in, out;
	__u32 mark = 0;

	return ASSERT_EQ(ingress(fx, fl, &in, &out, &mark), TC_ACT_OK, what) &&
	       ASSERT_EQ(mark & SL_L7_FWMARK_MASK, SL_L7_FWMARK, what) &&
	       check_nat(fl, &out, NULL, fl->sport, local_of(fl), fl->dport, what);
}

/* ...or is DNATed by weight, to a backend's target port, unmarked. */
static bool check_weighted(struct fx *fx, const struct flow *fl, const char *what)
{
	struct frame in, out;
	uint8_t local[16];
	__u32 mark = 0;

	pkt_addr(local_of(fl), local);
	return ASSERT_EQ(ingress(fx, fl, &in, &out, &mark), TC_ACT_OK, what) &&
	       ASSERT_EQ(mark & SL_L7_FWMARK_MASK, 0, what) &&
	       ASSERT_TRUE(memcmp(pkt_daddr(&out), fl->daddr, fl->family == 4 ? 4 : 16) &&
			       memcmp(pkt_daddr(&out), local, fl->family == 4 ? 4 : 16),
			   what) &&
	       ASSERT_EQ(pkt_dport(&out), 8080, what) && ASSERT_CSUMS(&out, what);
}

/* sk_lookup for the tuple of fl: the cookie of the socket chosen, 0 for none. */
static uint64_t lookup(struct fx *fx, const struct flow *fl)
{
	struct bpf_sk_lookup ctx = {
	    .family = fl->family == 6 ? AF_INET6 : AF_INET,
	    .protocol = fl->proto,
	    .remote_port = htons(fl->sport),
	    .local_port = fl->dport,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .ctx_out = &ctx, .ctx_size_out = sizeof(ctx), .repeat = 1);

	if (fl->family == 6) {
		memcpy(ctx.remote_ip6, fl->saddr, 16);
		memcpy(ctx.local_ip6, fl->daddr, 16);
	} else {
		memcpy(&ctx.remote_ip4, fl->saddr, 4);
		memcpy(&ctx.local_ip4, fl->daddr, 4);
	}
	if (!ASSERT_OK(bpf_prog_test_run_opts(bpf_program__fd(fx->dp.skel->progs.sl_l7_lookup), &o),
		       "BPF_PROG_TEST_RUN sk_lookup"))
		return (uint64_t)-1;
	ASSERT_EQ(o.retval, SK_PASS, "sk_lookup verdict");
	return ctx.cookie;
}

static void test_no_listener_dnat(void)
{
	struct flow fl = mkflow(PROTO_TCP, CLI4, 40001, VIP4, 80, TH_SYN);
	__u32 flags = 0;
	struct fx fx;

	if (!fx_up(&fx, cfg_yaml))
		return;
	check_weighted(&fx, &fl, "SYN DNATed by weight");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_FALLBACK), 1, "l7_fallback");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_LOCAL), 0, "l7_local");
	ASSERT_TRUE(ct_flags(&fx, &fl, &flags), "conntrack entry");
	ASSERT_EQ(flags & SL_CT_LOCAL, 0, "not a local entry");
	fx_down(&fx);
}

/*
 * A connection to the L7 step: every client packet DNATed to our local
 * address and the VIP's port, marked; the entries say so (the reverse one
 * holds the VIP, which the L7 step reads back); the step's replies leave
 * through sl_egress from the VIP again.
 */
static void local_dnat(const char *client, const char *vip)
{
	struct flow fl = mkflow(PROTO_TCP, client, 40020, vip, 80, TH_SYN), r;
	struct sl_ct_key fk = ct_key(client, 40020, vip, 80, PROTO_TCP), rk;
	struct sl_ct_entry e = {}, rn = {};
	char a[INET6_ADDRSTRLEN];
	struct frame in, out;
	struct fx fx;
	int lfd;

	lfd = up_listening(&fx, fl.family == 6 ? AF_INET6 : AF_INET);
	if (lfd < 0)
		goto out;
	if (!check_local(&fx, &fl, "SYN to the L7 step"))
		goto out;
	ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, &e), CT_UNCONFIRMED, "forward entry after the SYN");
	ASSERT_TRUE(e.flags & SL_CT_LOCAL, "a local entry");
	inet_ntop(fl.family == 6 ? AF_INET6 : AF_INET, e.addr, a, sizeof(a));
	ASSERT_STREQ(a, local_of(&fl), "forward entry's address");
	ASSERT_EQ(ntohs(e.port), 80, "forward entry keeps the VIP's port");
	rk = ct_key(local_of(&fl), 80, client, 40020, PROTO_TCP);
	if (ASSERT_EQ(ct_get(&fx, CT_REV, &rk, &rn), CT_UNCONFIRMED, "reverse entry")) {
		inet_ntop(fl.family == 6 ? AF_INET6 : AF_INET, rn.addr, a, sizeof(a));
		ASSERT_STREQ(a, vip, "reverse entry holds the VIP");
		ASSERT_EQ(ntohs(rn.nat_port), 40020, "and the client's port");
	}

	/* the L7 step's SYN-ACK, from the local address, leaves from the VIP */
	r = mkflow(PROTO_TCP, local_of(&fl), 80, client, 40020, TH_SYN | TH_ACK);
	pkt_build(&in, &r);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "SYN-ACK verdict"))
		check_nat(&r, &out, vip, 80, NULL, 40020, "SYN-ACK from the VIP");

	fl.tcp_flags = TH_ACK;
	check_local(&fx, &fl, "ACK to the L7 step");
	ASSERT_EQ(ct_get(&fx, CT_FWD, &fk, NULL), CT_CONFIRMED, "confirmed by the ACK");
	ASSERT_EQ(ct_get(&fx, CT_REV, &rk, NULL), CT_CONFIRMED, "reverse entry confirmed");
	fl.tcp_flags = TH_ACK | TH_PSH;
	fl.payload = "GET / HTTP/1.1\r\n\r\n";
	fl.plen = strlen(fl.payload);
	check_local(&fx, &fl, "request to the L7 step");

	r.tcp_flags = TH_ACK | TH_PSH;
	r.payload = "HTTP/1.1 200 OK\r\n\r\n";
	r.plen = strlen(r.payload);
	pkt_build(&in, &r);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "response verdict"))
		check_nat(&r, &out, vip, 80, NULL, 40020, "response from the VIP");

	ASSERT_EQ(fx_global(&fx, SL_G_L7_LOCAL), 1, "l7_local");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_ESTABLISHED), 2, "l7_established");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 0, "no connection to a backend");
	ASSERT_EQ(fx_global(&fx, SL_G_REPLY), 2, "replies");
	close(lfd);
out:
	fx_down(&fx);
}

static void test_local_dnat4(void)
{
	local_dnat(CLI4, VIP4);
}

static void test_local_dnat6(void)
{
	local_dnat(CLI6, VIP6);
}

static void test_listener_local(void)
{
	struct flow fl = mkflow(PROTO_TCP, CLI4, 40002, VIP4, 80, TH_SYN);
	struct flow half = mkflow(PROTO_TCP, CLI4, 40006, VIP4, 80, TH_SYN);
	struct flow plain = mkflow(PROTO_TCP, CLI4, 40003, "10.96.0.20", 80, TH_SYN);
	struct flow v6 = mkflow(PROTO_TCP, CLI6, 40004, VIP6, 80, TH_SYN), rst;
	struct frame in, out;
	__u32 flags = 0;
	struct fx fx;
	int lfd;

	lfd = up_listening(&fx, AF_INET);
	if (lfd < 0)
		goto out;

	/* to the L7 step: a connection that completes, and one left at its SYN */
	check_local(&fx, &fl, "SYN");
	ASSERT_TRUE(ct_flags(&fx, &fl, &flags) && (flags & SL_CT_LOCAL), "local conntrack entry");
	fl.tcp_flags = TH_ACK;
	check_local(&fx, &fl, "ACK");
	check_local(&fx, &half, "SYN left unanswered");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_LOCAL), 2, "l7_local");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_ESTABLISHED), 1, "l7_established");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 0, "no NAT connection");

	/* a service without HTTP routes stays in the kernel */
	check_weighted(&fx, &plain, "plain service");

	/* no IPv6 listener: IPv6 goes DNAT, counted */
	check_weighted(&fx, &v6, "IPv6 without an IPv6 listener");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_FALLBACK), 1, "l7_fallback for v6");

	/* the listener closes: it leaves the map by itself, new SYNs go DNAT */
	close(lfd);
	half.tcp_flags = TH_SYN;
	/* a SYN again on an unconfirmed local entry decides anew: the step is gone */
	check_weighted(&fx, &half, "retransmitted SYN of an unanswered local connection");
	ASSERT_TRUE(ct_flags(&fx, &half, &flags) && !(flags & SL_CT_LOCAL), "entry replaced");
	/* a confirmed one is a live connection's: a SYN again is a retransmission */
	fl.tcp_flags = TH_SYN;
	check_local(&fx, &fl, "SYN again on a confirmed local connection");
	/* ...until the node resets it (nobody listens), through sl_egress: closed */
	rst = mkflow(PROTO_TCP, SL_L7_LOCAL4_DEFAULT, 80, CLI4, 40002, TH_RST | TH_ACK);
	pkt_build(&in, &rst);
	if (ASSERT_EQ(xmit(fx.egr, &in, &out), TC_ACT_OK, "RST verdict"))
		check_nat(&rst, &out, VIP4, 80, NULL, 40002, "RST from the VIP");
	ASSERT_TRUE(ct_flags(&fx, &fl, &flags) && (flags & SL_CT_CLOSED), "closed by the RST");
	check_weighted(&fx, &fl, "port reused after the reset");
	ASSERT_TRUE(ct_flags(&fx, &fl, &flags) && !(flags & SL_CT_LOCAL), "entry replaced");
	fl.sport = 40005;
	check_weighted(&fx, &fl, "SYN after close");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_FALLBACK), 4, "l7_fallback after close");
	ASSERT_EQ(fx_global(&fx, SL_G_PORT_REUSE), 1, "port_reuse");
out:
	fx_down(&fx);
}

/*
 * What arrives at our local address is the L7 step's, whatever the client
 * port (nothing else uses that address); nothing else is.
 */
static void test_sk_lookup(void)
{
	struct flow fl = mkflow(PROTO_TCP, CLI4, 40010, SL_L7_LOCAL4_DEFAULT, 80, TH_SYN);
	struct flow v6 = mkflow(PROTO_TCP, CLI6, 40012, SL_L7_LOCAL6_DEFAULT, 80, TH_SYN);
	struct flow vip = mkflow(PROTO_TCP, CLI4, 40010, VIP4, 80, TH_SYN);
	struct flow be = mkflow(PROTO_TCP, CLI4, 40011, "10.0.1.10", 8080, TH_SYN);
	struct flow udp = mkflow(PROTO_UDP, CLI4, 40010, SL_L7_LOCAL4_DEFAULT, 80, 0);
	int l4 = -1, l6 = -1;
	struct fx fx;

	if (!fx_up(&fx, cfg_yaml))
		return;
	ASSERT_EQ(lookup(&fx, &fl), 0, "no listener yet");
	l4 = listen_on(&fx, AF_INET);
	if (l4 < 0)
		goto out;
	ASSERT_TRUE(cookie_of(l4), "listener's cookie");
	ASSERT_EQ(lookup(&fx, &fl), cookie_of(l4), "IPv4 local address to the IPv4 listener");
	ASSERT_EQ(lookup(&fx, &v6), 0, "no IPv6 listener");
	l6 = listen_on(&fx, AF_INET6);
	if (l6 < 0)
		goto out;
	ASSERT_EQ(lookup(&fx, &v6), cookie_of(l6), "IPv6 local address to the IPv6 listener");
	fl.sport = 40013;
	ASSERT_EQ(lookup(&fx, &fl), cookie_of(l4), "any client port");
	ASSERT_EQ(lookup(&fx, &vip), 0, "the VIP itself is kube-proxy's");
	ASSERT_EQ(lookup(&fx, &be), 0, "a DNATed connection is not ours to hand over");
	ASSERT_EQ(lookup(&fx, &udp), 0, "UDP");
out:
	if (l4 >= 0)
		close(l4);
	if (l6 >= 0)
		close(l6);
	fx_down(&fx);
}

/* The L7 step picks what the kernel picks, unless an HTTP route claims it. */
static void test_pick_agrees(void)
{
	static const char canary[] = "GET / HTTP/1.1\r\nHost: b\r\ncanary: canary-tester\r\n\r\n";
	static const char nope[] = "GET / HTTP/1.1\r\nHost: b\r\ncanary: nope\r\n\r\n";
	struct sl_http_head h_canary, h_nope;
	struct sl_l7_cache *cache = sl_l7_cache_new();
	int n = 0, same = 0, on_v2 = 0, header_v2 = 0, i, fam;
	struct frame in, out;
	struct fx fx;
	__u32 mark;

	if (!ASSERT_TRUE(cache, "cache") || !fx_up(&fx, cfg_yaml))
		goto free;
	ASSERT_EQ(sl_http_parse_head(canary, strlen(canary), &h_canary), 1, "parse");
	ASSERT_EQ(sl_http_parse_head(nope, strlen(nope), &h_nope), 1, "parse");
	for (fam = 4; fam <= 6; fam += 2)
		for (i = 0; i < 1000; i++) {
			struct flow fl = mkflow(PROTO_TCP, fam == 4 ? CLI4 : CLI6, 20000 + i,
						fam == 4 ? VIP4 : VIP6, 80, TH_SYN);
			struct sl_l7_tuple t = {
			    .family = fam, .sport = htons(fl.sport), .dport = htons(80)};
			struct sl_l7_choice a, b, c;

			memcpy(t.saddr, fl.saddr, 16);
			memcpy(t.daddr, fl.daddr, 16);
			if (ingress(&fx, &fl, &in, &out, &mark) != TC_ACT_OK)
				continue;
			n++;
			if (sl_l7_pick(&fx.dp.maps, cache, &t, NULL, &a) ||
			    sl_l7_pick(&fx.dp.maps, cache, &t, &h_nope, &b) ||
			    sl_l7_pick(&fx.dp.maps, cache, &t, &h_canary, &c))
				continue;
			/* the kernel's DNAT target, from the frame it sent on */
			if (!memcmp(pkt_daddr(&out), a.addr, fam == 4 ? 4 : 16) &&
			    pkt_dport(&out) == ntohs(a.port) && !memcmp(&a, &b, sizeof(a)) &&
			    !a.header_route)
				same++;
			on_v2 += a.subset_id == c.subset_id;
			header_v2 += c.header_route && c.route == 0;
		}
	ASSERT_EQ(n, 2000, "frames run");
	ASSERT_EQ(same, n, "L7 picks (no head, a head that matches no route) = the kernel's");
	ASSERT_EQ(header_v2, n, "with the header: route 0, every time");
	/* v2 is 10 % of the split: the canary header moves the other 90 % */
	ASSERT_TRUE(on_v2 > n / 20 && on_v2 < n / 5, "the split still splits");
	fx_down(&fx);
free:
	sl_l7_cache_free(cache);
}

static const struct check_test tests[] = {
    {"l7_no_listener_dnat", test_no_listener_dnat},
    {"l7_listener_local", test_listener_local},
    {"l7_local_dnat4", test_local_dnat4},
    {"l7_local_dnat6", test_local_dnat6},
    {"l7_sk_lookup", test_sk_lookup},
    {"l7_pick_agrees", test_pick_agrees},
};

int main(int argc, char **argv)
{
	sl_log_hook_libbpf();
	return check_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
