// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Header routing, kernel side, through the real programs: sl_ingress sends
 * new connections of a service with HTTP routes to local delivery (marked,
 * not NATed) only while an L7 listener is in sl_l7_listen, and DNATs by
 * weight otherwise; sl_l7_lookup (sk_lookup) hands exactly those
 * connections to the listener; and the L7 step's choice (l7_pick.c) is the
 * kernel's own for every connection that no HTTP route claims.
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

static bool ct_flags(struct fx *fx, const struct flow *fl, __u32 *flags)
{
	struct sl_ct_key k = {};
	struct sl_ct_entry e;

	memcpy(k.saddr, fl->saddr, 16);
	memcpy(k.daddr, fl->daddr, 16);
	k.sport = htons(fl->sport);
	k.dport = htons(fl->dport);
	k.proto = fl->proto;
	k.family = fl->family;
	if (bpf_map_lookup_elem(fx->dp.maps.conntrack, &k, &e))
		return false;
	*flags = e.flags;
	return true;
}

/* sk_lookup for the tuple of fl: the cookie of the socket chosen, 0 for none. */
static uint64_t lookup(struct fx *fx, const struct flow *fl)
{
	struct bpf_sk_lookup ctx = {
	    .family = fl->family == 6 ? AF_INET6 : AF_INET,
	    .protocol = IPPROTO_TCP,
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
	struct frame in, out;
	struct fx fx;
	__u32 mark = 0, flags = 0;

	if (!fx_up(&fx, cfg_yaml))
		return;
	ASSERT_EQ(ingress(&fx, &fl, &in, &out, &mark), TC_ACT_OK, "verdict");
	ASSERT_TRUE(memcmp(pkt_daddr(&out), fl.daddr, 4), "DNATed away from the VIP");
	ASSERT_EQ(mark & SL_L7_FWMARK_MASK, 0, "no mark");
	ASSERT_CSUMS(&out, "DNATed SYN");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_FALLBACK), 1, "l7_fallback");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_LOCAL), 0, "l7_local");
	ASSERT_TRUE(ct_flags(&fx, &fl, &flags), "conntrack entry");
	ASSERT_EQ(flags & SL_CT_LOCAL, 0, "not a local entry");
	fx_down(&fx);
}

static void test_listener_local(void)
{
	struct flow fl = mkflow(PROTO_TCP, CLI4, 40002, VIP4, 80, TH_SYN);
	struct flow plain = mkflow(PROTO_TCP, CLI4, 40003, "10.96.0.20", 80, TH_SYN);
	struct flow v6 = mkflow(PROTO_TCP, CLI6, 40004, VIP6, 80, TH_SYN);
	struct frame in, out;
	__u32 mark = 0, flags = 0;
	struct fx fx;
	int lfd;

	if (!fx_up(&fx, cfg_yaml))
		return;
	lfd = listen_on(&fx, AF_INET);
	if (lfd < 0)
		goto out;

	/* the SYN leaves as it came, marked for the policy route */
	ASSERT_EQ(ingress(&fx, &fl, &in, &out, &mark), TC_ACT_OK, "verdict");
	ASSERT_EQ(pkt_diff(&in, &out), -1, "SYN untouched");
	ASSERT_EQ(mark & SL_L7_FWMARK_MASK, SL_L7_FWMARK, "SYN marked");
	ASSERT_TRUE(ct_flags(&fx, &fl, &flags) && (flags & SL_CT_LOCAL), "local conntrack entry");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_LOCAL), 1, "l7_local");
	ASSERT_EQ(fx_global(&fx, SL_G_NEW_CONN), 0, "no NAT connection");

	/* and so does the rest of the connection */
	fl.tcp_flags = TH_ACK;
	ASSERT_EQ(ingress(&fx, &fl, &in, &out, &mark), TC_ACT_OK, "ACK verdict");
	ASSERT_EQ(pkt_diff(&in, &out), -1, "ACK untouched");
	ASSERT_EQ(mark & SL_L7_FWMARK_MASK, SL_L7_FWMARK, "ACK marked");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_ESTABLISHED), 1, "l7_established");

	/* a service without HTTP routes stays in the kernel */
	ASSERT_EQ(ingress(&fx, &plain, &in, &out, &mark), TC_ACT_OK, "plain verdict");
	ASSERT_TRUE(memcmp(pkt_daddr(&out), plain.daddr, 4), "plain service DNATed");
	ASSERT_EQ(mark & SL_L7_FWMARK_MASK, 0, "plain service not marked");

	/* no IPv6 listener: IPv6 goes DNAT, counted */
	ASSERT_EQ(ingress(&fx, &v6, &in, &out, &mark), TC_ACT_OK, "v6 verdict");
	ASSERT_TRUE(memcmp(pkt_daddr(&out), v6.daddr, 16), "v6 DNATed");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_FALLBACK), 1, "l7_fallback for v6");

	/* the listener closes: it leaves the map by itself, new SYNs go DNAT */
	close(lfd);
	/* even on a client port whose local entry was never closed (a reset by the L7 step) */
	fl.sport = 40002;
	fl.tcp_flags = TH_SYN;
	ASSERT_EQ(ingress(&fx, &fl, &in, &out, &mark), TC_ACT_OK, "verdict of a reused port");
	ASSERT_TRUE(memcmp(pkt_daddr(&out), fl.daddr, 4), "reused port DNATed once the listener is gone");
	ASSERT_EQ(mark & SL_L7_FWMARK_MASK, 0, "reused port not marked");
	ASSERT_TRUE(ct_flags(&fx, &fl, &flags) && !(flags & SL_CT_LOCAL), "entry replaced");
	fl.sport = 40005;
	fl.tcp_flags = TH_SYN;
	ASSERT_EQ(ingress(&fx, &fl, &in, &out, &mark), TC_ACT_OK, "verdict after close");
	ASSERT_TRUE(memcmp(pkt_daddr(&out), fl.daddr, 4), "DNATed once the listener is gone");
	ASSERT_EQ(fx_global(&fx, SL_G_L7_FALLBACK), 3, "l7_fallback after close");
out:
	fx_down(&fx);
}

static void test_sk_lookup(void)
{
	struct flow fl = mkflow(PROTO_TCP, CLI4, 40010, VIP4, 80, TH_SYN);
	struct flow plain = mkflow(PROTO_TCP, CLI4, 40011, "10.96.0.20", 80, TH_SYN);
	struct flow v6 = mkflow(PROTO_TCP, CLI6, 40012, VIP6, 80, TH_SYN);
	struct frame in, out;
	int l4 = -1, l6 = -1;
	__u32 mark;
	struct fx fx;

	if (!fx_up(&fx, cfg_yaml))
		return;
	l4 = listen_on(&fx, AF_INET);
	l6 = listen_on(&fx, AF_INET6);
	if (l4 < 0 || l6 < 0)
		goto out;
	ASSERT_EQ(lookup(&fx, &fl), 0, "nothing before sl_ingress saw the SYN");
	ingress(&fx, &fl, &in, &out, &mark);
	ingress(&fx, &plain, &in, &out, &mark);
	ingress(&fx, &v6, &in, &out, &mark);
	ASSERT_TRUE(cookie_of(l4) && cookie_of(l6), "listeners' cookies");
	ASSERT_EQ(lookup(&fx, &fl), cookie_of(l4), "IPv4 connection to the IPv4 listener");
	ASSERT_EQ(lookup(&fx, &v6), cookie_of(l6), "IPv6 connection to the IPv6 listener");
	ASSERT_EQ(lookup(&fx, &plain), 0, "a DNATed connection is not ours to hand over");
	fl.sport = 40013;
	ASSERT_EQ(lookup(&fx, &fl), 0, "another client port is not");
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
    {"l7_sk_lookup", test_sk_lookup},
    {"l7_pick_agrees", test_pick_agrees},
};

int main(int argc, char **argv)
{
	sl_log_hook_libbpf();
	return check_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
