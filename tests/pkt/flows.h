/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the packet tests share beyond fixture.h: the test services and their
 * endpoints, client flows, and checks of translated frames. Included by
 * test_pkt.c (translation, splits, routes, tables) and test_conntrack.c
 * (connection tracking on a real node).
 */
#ifndef SLUICE_TEST_FLOWS_H
#define SLUICE_TEST_FLOWS_H

#include "check.h"
#include "fixture.h"
#include "pkt.h"

/* Subset counters, summed over CPUs, read back the way `sluice status` does. */
static inline bool subset_stats(struct fx *fx, const char *subset, struct sl_stats *out)
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

static inline void set_addr(uint8_t a[16], const char *s)
{
	pkt_addr(s, a);
}

/* Client i of many: distinct (address, port) pairs, IPv4 172.16/12 or fd00:c::/64. */
static inline struct flow client_flow(int family, unsigned i, uint8_t proto, uint8_t flags)
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

static const __attribute__((unused)) char *const v1_eps[] = {"10.0.1.10", "10.0.1.11", "fd00:1::10",
							     "fd00:1::11", NULL};
static const __attribute__((unused)) char *const v2_eps[] = {"10.0.2.10", "fd00:2::10", NULL};
static const __attribute__((unused)) char *const v3_eps[] = {"10.0.3.20", NULL};
/* every endpoint of yaml_split() by family */
static const
    __attribute__((unused)) char *const eps4[] = {"10.0.1.10", "10.0.1.11", "10.0.2.10", NULL};
static const
    __attribute__((unused)) char *const eps6[] = {"fd00:1::10", "fd00:1::11", "fd00:2::10", NULL};

/* The canary service of examples/canary.yaml, plus UDP and IPv6 endpoints. */
static inline const char *yaml_split(char *buf, size_t len, const char *affinity, uint32_t w1,
				     uint32_t w2)
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

static inline bool in_list(const char *s, const char *const list[])
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* Which subset an output frame's destination (or source) belongs to: 1, 2, 3, 0 none. */
static inline int subset_of(const struct frame *f, bool dst)
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
static inline bool check_dnat(const struct flow *in, const struct frame *out,
			      const char *const eps[], uint16_t new_port, char ep[INET6_ADDRSTRLEN])
{
	pkt_addr_str(out, true, ep, INET6_ADDRSTRLEN);
	if (!ASSERT_TRUE(in_list(ep, eps), "destination is a configured endpoint")) {
		printf("  destination %s\n", ep);
		return false;
	}
	return check_nat(in, out, NULL, in->sport, ep, new_port, "DNATed frame");
}

/* Same for a reply: the source must have become addr:port. */
static inline bool check_snat(const struct flow *in, const struct frame *out, const char *addr,
			      uint16_t port)
{
	return check_nat(in, out, addr, port, NULL, in->dport, "reverse-NATed frame");
}

/* Send a connection's first packet and return its subset (1, 2) or 0 on failure. */
static inline int open_conn(struct fx *fx, const struct flow *fl, struct frame *out)
{
	struct frame in;

	pkt_build(&in, fl);
	if (!ASSERT_EQ(xmit(fx->ing, &in, out), TC_ACT_OK, "verdict"))
		return 0;
	return subset_of(out, true);
}

/* Up on yaml_split() at 90/10, and f's connection opened: be gets its backend. */
static inline bool up_and_open(struct fx *fx, const struct flow *f, char be[INET6_ADDRSTRLEN])
{
	struct frame out;
	char y[1024];

	if (!fx_up(fx, yaml_split(y, sizeof(y), "connection", 90, 10)) || !open_conn(fx, f, &out))
		return false;
	pkt_addr_str(&out, true, be, INET6_ADDRSTRLEN);
	return true;
}

/* f through sl_ingress: TC_ACT_OK, DNATed to be:8080, nothing else changed. */
static inline bool fwd_is(struct fx *fx, const struct flow *f, const char *be, const char *what)
{
	struct frame in, out;

	pkt_build(&in, f);
	return ASSERT_EQ(xmit(fx->ing, &in, &out), TC_ACT_OK, what) &&
	       check_nat(f, &out, NULL, f->sport, be, 8080, what);
}

/* r through sl_egress: TC_ACT_OK, from vip:80, nothing else changed. */
static inline bool rev_is(struct fx *fx, const struct flow *r, const char *vip, const char *what)
{
	struct frame in, out;

	pkt_build(&in, r);
	return ASSERT_EQ(xmit(fx->egr, &in, &out), TC_ACT_OK, what) &&
	       check_nat(r, &out, vip, 80, NULL, r->dport, what);
}

/* ---- 1, 2, 14: DNAT of every family and protocol ---- */

static const __attribute__((unused))
uint8_t syn_opts[] = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07};
static const __attribute__((unused)) char odd_payload[] =
    "GET / HTTP/1.1\r\nHost: backend\r\n\r\n!"; /* odd length */

/* Two services, two VIPs of each family, one and the same backend. */
static const __attribute__((unused)) char yaml_shared_backend[] = "services:\n"
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

#endif /* SLUICE_TEST_FLOWS_H */
