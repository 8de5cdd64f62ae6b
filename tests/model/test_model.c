// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The datapath against its model (model.h): generated and mutated frames
 * through the real sl_ingress / sl_egress with BPF_PROG_TEST_RUN and
 * through the model, on the same tables; verdict, output bytes and the
 * global counters compared after every frame, the connection tables, the
 * subsets' counters and the HTTP codes at the end of every epoch (500
 * frames; then both forget their connections, which keeps the unconfirmed
 * LRU tables far from full: the model does not predict evictions).
 *
 *   test_model [--frames N] [--seed S]     (defaults: 20000, a fixed seed)
 *
 * Frames: new tuples from pools of clients, VIPs (and not VIPs), ports and
 * backends; tuples of the connections the model knows (hits), in both
 * directions, and the same with one field changed (half matches); every
 * TCP flag combination; payloads that start HTTP status lines; IPv4
 * options, IPv6 extension headers, fragments, VLAN tags, ICMP errors,
 * truncated and oversized frames, bad lengths and header fields, zero
 * and odd checksums, random bytes. Connections planted at the start of an
 * epoch: on another interface, idle UDP flows, closed, without room, to
 * the L7 step, reverse entries alone, forward entries alone.
 *
 * A mismatch prints the seed, the frame number and the frame as hex, and
 * ends the run; tests/model/regress lists seeds (and frame counts) that
 * once failed, replayed before the random slice. The configuration is
 * applied through the real loader, with --ct-max 16 (so the confirmed
 * table fills up) and without the source check (TEST_RUN's packets have
 * no route back).
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stddef.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice_abi.h"
#include "sluice.skel.h"
#include "config/config.h"
#include "datapath/counters.h"
#include "datapath/datapath.h"
#include "datapath/tables.h"
#include "lib/log.h"

#include "model.h"
#include "pkt.h"
#include "rng.h"

#define CT_MAX	  16
#define EPOCH	  500
#define NEW_LIMIT 400 /* unconfirmed entries before an early epoch end */
#define SEED	  0x5eed14ULL

static const char config[] =
    "services:\n"
    "- name: web\n"
    "  vips: [10.96.0.10, \"fd00::10\"]\n"
    "  ports:\n"
    "  - {port: 80, protocol: TCP, targetPort: 8080}\n"
    "  - {port: 53, protocol: UDP, targetPort: 5353}\n"
    "  subsets:\n"
    "    v1: {endpoints: [10.0.1.10, \"10.0.1.11:9090\", \"fd00:1::10\"]}\n"
    "    v2: {endpoints: [10.0.2.10, \"fd00:2::10\"]}\n"
    "    v3: {endpoints: []}\n"
    "  routes:\n"
    "  - match: {sourceCIDRs: [172.16.0.0/24, \"fd00:9::/120\"]}\n"
    "    split: {v2: 1}\n"
    "  - match: {sourceLabels: {app: batch}}\n"
    "    split: {v3: 1}\n"
    "  - split: {v1: 70, v2: 30}\n"
    "- name: sticky\n"
    "  vips: [10.96.0.11]\n"
    "  ports: [{port: 443, targetPort: 8443}]\n"
    "  affinity: client-ip\n"
    "  subsets:\n"
    "    a: {endpoints: [10.0.3.10, 10.0.3.11]}\n"
    "    b: {endpoints: [10.0.1.10]}\n"
    "  routes:\n"
    "  - split: {a: 50, b: 50}\n"
    "- name: headers\n"
    "  vips: [10.96.0.12]\n"
    "  ports: [{port: 80, targetPort: 8080}]\n"
    "  subsets:\n"
    "    v1: {endpoints: [10.0.1.10]}\n"
    "    v2: {endpoints: [10.0.2.10]}\n"
    "  routes:\n"
    "  - match: {headers: {x-canary: {exact: yes}}}\n"
    "    split: {v2: 1}\n"
    "  - split: {v1: 1}\n"
    "- name: onlysome\n"
    "  vips: [10.96.0.13]\n"
    "  ports: [{port: 80, targetPort: 8080}]\n"
    "  subsets:\n"
    "    v1: {endpoints: [10.0.2.10]}\n"
    "  routes:\n"
    "  - match: {sourceCIDRs: [10.0.9.0/24]}\n"
    "    split: {v1: 1}\n"
    "workloads:\n"
    "- labels: {app: batch}\n"
    "  ips: [172.16.1.7]\n";

/* ---- pools ---- */

static const char *const clients4[] = {"10.0.9.2",   "10.0.9.3",  "172.16.0.5",
				       "172.16.1.7", "10.0.1.10", "192.0.2.1"};
static const char *const clients6[] = {"fd00:9::2", "fd00:9::3", "fd00:1::10", "2001:db8::1"};
static const struct {
	const char *addr;
	uint16_t port;
	uint8_t proto;
} dsts[] = {
    {"10.96.0.10", 80, PROTO_TCP}, {"10.96.0.10", 53, PROTO_UDP}, {"10.96.0.11", 443, PROTO_TCP},
    {"10.96.0.12", 80, PROTO_TCP}, {"10.96.0.13", 80, PROTO_TCP}, {"fd00::10", 80, PROTO_TCP},
    {"fd00::10", 53, PROTO_UDP},   {"10.96.0.10", 81, PROTO_TCP}, {"10.96.0.99", 80, PROTO_TCP},
    {"fd00::99", 80, PROTO_TCP},   {"10.96.0.10", 80, PROTO_UDP},
};
static const struct {
	const char *addr;
	uint16_t port;
} backends[] = {
    {"10.0.1.10", 8080}, {"10.0.1.11", 9090},  {"10.0.2.10", 8080},  {"10.0.3.10", 8443},
    {"10.0.1.10", 5353}, {"fd00:1::10", 8080}, {"fd00:2::10", 5353}, {"10.0.1.11", 8080},
};
static const uint16_t cports[] = {40000, 40001, 40002, 1024, 65535};
static const uint8_t tcp_flags[] = {TH_SYN,	     TH_SYN | TH_ACK, TH_ACK,
				    TH_ACK | TH_PSH, TH_FIN | TH_ACK, TH_RST,
				    TH_RST | TH_ACK, TH_FIN};
static const char *const http_lines[] = {
    "HTTP/1.1 200 OK\r\n", "HTTP/1.0 503 Busy\r\n", "HTTP/1.1 099 Odd\r\n", "HTTP/1.2 200 OK\r\n",
    "HTTP/1.1 600 No\r\n", "HTTP/1.1 404\r\n\r\n",  "HTTP/1.1 20"};

/* ---- randomness: one seed replays a whole run (rng.h) ---- */

static uint32_t pick(uint32_t n)
{
	return rnd() % n;
}

static bool chance(uint32_t percent)
{
	return pick(100) < percent;
}

#define PICK(a) ((a)[pick(sizeof(a) / sizeof((a)[0]))])

/* ---- the datapath under test ---- */

static struct sl_datapath dp;
static int prog_in, prog_eg, ncpu;
static uint32_t ifindex;
static struct mdl model;

static uint32_t tick(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)(((uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec) >> 30);
}

/* A per-CPU value of n 64-bit counters at key, summed over the CPUs. */
static int percpu_sum(int fd, const void *key, uint64_t *out, size_t n)
{
	uint64_t v[ncpu * n];
	size_t f;
	int c;

	if (bpf_map_lookup_elem(fd, key, v))
		return -errno;
	memset(out, 0, n * sizeof(*out));
	for (c = 0; c < ncpu; c++)
		for (f = 0; f < n; f++)
			out[f] += v[c * n + f];
	return 0;
}

static int read_globals(uint64_t g[SL_G_MAX])
{
	__u32 k;
	int err = 0;

	for (k = 0; k < SL_G_MAX && !err; k++)
		err = percpu_sum(dp.maps.global, &k, &g[k], 1);
	return err;
}

static int read_stats(uint32_t id, struct sl_stats *out)
{
	return percpu_sum(dp.maps.stats, &id, (uint64_t *)out, sizeof(*out) / 8);
}

/*
 * Every entry of a hash or LPM map into a malloc'd array of elements of
 * elem bytes: the key at offset 0, the value at voff.
 */
static int dump(int fd, void **arr, size_t *n, size_t elem, size_t voff)
{
	uint8_t k[64], nk[64], *e;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : k, nk)) {
		first = false;
		memcpy(k, nk, sizeof(k));
		*arr = realloc(*arr, (*n + 1) * elem);
		if (!*arr)
			return -ENOMEM;
		e = (uint8_t *)*arr + *n * elem;
		memcpy(e, nk, voff);
		if (bpf_map_lookup_elem(fd, nk, e + voff))
			return -errno;
		++*n;
	}
	return 0;
}

/* The configuration tables, read once: the model's map state. */
static int snapshot(void)
{
	struct sl_dp_opts o;
	uint32_t i, j, idx;
	size_t n;
	int err;

	err = sl_maps_read_state(&dp.maps, &model.state);
	if (err)
		return err;
	err = dump(dp.maps.services, (void **)&model.svcs, &model.n_svcs, sizeof(*model.svcs),
		   offsetof(struct mdl_svc, v));
	err = err
		  ?: dump(dp.maps.src_match, (void **)&model.srcs, &model.n_srcs,
			  sizeof(*model.srcs), offsetof(struct mdl_src, v));
	if (err)
		return err;
	/* the endpoints the services use */
	for (n = 0; n < model.n_svcs; n++)
		for (i = 0; i < SL_MAX_SUBSETS; i++)
			for (j = 0; j < model.svcs[n].v.ep_count[i]; j++) {
				idx = model.svcs[n].v.ep_base[i] + j;
				if (bpf_map_lookup_elem(dp.maps.endpoints, &idx, &model.eps[idx]))
					return -errno;
			}
	for (i = 0; i < SL_FILTER_WORDS; i++)
		if (bpf_map_lookup_elem(dp.maps.vip_filter, &i, &model.vip_filter[i]) ||
		    bpf_map_lookup_elem(dp.maps.be_filter, &i, &model.be_filter[i]))
			return -errno;
	sl_dp_opts_default(&o);
	memcpy(model.hairpin4, o.cfg.hairpin4, 16);
	memcpy(model.hairpin6, o.cfg.hairpin6, 16);
	memcpy(model.local4, o.cfg.l7_local4, 16);
	memcpy(model.local6, o.cfg.l7_local6, 16);
	for (i = 0; i < SL_MAX_SUBSET_IDS; i++)
		if (read_stats(i, &model.stats[i]))
			return -errno;
	return read_globals(model.g);
}

static int setup(void)
{
	struct sl_config *cfg = NULL;
	struct sl_dp_opts o;
	struct sl_diag diag;
	cpu_set_t cpus;
	size_t i;
	int err;

	/* one CPU: per-CPU counters and LRU lists behave as one */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	ncpu = libbpf_num_possible_cpus();
	ifindex = if_nametoindex("lo");
	sl_dp_opts_default(&o);
	o.cfg.flags &= ~SL_DP_SRC_CHECK;
	o.ct_max = CT_MAX;
	err = sl_dp_load_opts(&dp, NULL, &o);
	if (err) {
		fprintf(stderr, "sl_dp_load_opts: %s\n", strerror(-err));
		return err;
	}
	prog_in = bpf_program__fd(dp.skel->progs.sl_ingress);
	prog_eg = bpf_program__fd(dp.skel->progs.sl_egress);
	sl_diag_init(&diag);
	err = sl_config_load_buf("model.yaml", config, strlen(config), &cfg, &diag);
	err = err ?: sl_tables_apply(&dp.maps, cfg, &diag);
	for (i = 0; err && i < diag.n_msgs; i++)
		fprintf(stderr, "  | %s\n", diag.msgs[i]);
	sl_config_free(cfg);
	sl_diag_free(&diag);
	if (err)
		return err;
	err = mdl_init(&model, CT_MAX);
	return err ?: snapshot();
}

/* ---- connection tables: plant, compare, clear ---- */

static int each_key(int fd, void (*fn)(int fd, const struct sl_ct_key *k, void *arg), void *arg)
{
	struct sl_ct_key k, nk, *cur = NULL, *keys = NULL;
	size_t n = 0, i;

	while (!bpf_map_get_next_key(fd, cur, &nk)) {
		keys = realloc(keys, (n + 1) * sizeof(*keys));
		keys[n++] = nk;
		k = nk;
		cur = &k;
	}
	for (i = 0; i < n; i++)
		fn(fd, &keys[i], arg);
	free(keys);
	return (int)n;
}

static void del_key(int fd, const struct sl_ct_key *k, void *arg)
{
	bpf_map_delete_elem(fd, k);
}

struct cmp {
	struct mdl_table *t;
	int diffs;
	const char *name;
};

static void print_key(const char *what, const struct sl_ct_key *k)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int af = k->family == SL_AF_INET6 ? AF_INET6 : AF_INET;

	inet_ntop(af, k->saddr, s, sizeof(s));
	inet_ntop(af, k->daddr, d, sizeof(d));
	printf("    %s %s:%u -> %s:%u proto %u\n", what, s, ntohs(k->sport), d, ntohs(k->dport),
	       k->proto);
}

static void cmp_key(int fd, const struct sl_ct_key *k, void *arg)
{
	struct cmp *c = arg;
	struct sl_ct_entry v, *m = mdl_get(c->t, k);

	if (bpf_map_lookup_elem(fd, k, &v))
		return;
	if (!m || memcmp(m, &v, sizeof(v))) {
		if (c->diffs++ < 4) {
			print_key(m ? "differs in" : "only in the datapath's", k);
			if (m)
				printf("      model flags %#x last_seen %u nat_port %u subset %u; "
				       "datapath flags %#x last_seen %u nat_port %u subset %u\n",
				       m->flags, m->last_seen, ntohs(m->nat_port), m->subset_id,
				       v.flags, v.last_seen, ntohs(v.nat_port), v.subset_id);
		}
	}
}

struct has {
	int fd;
	int diffs;
};

static void model_has(void *arg, const struct sl_ct_key *k, const struct sl_ct_entry *v)
{
	struct has *h = arg;
	struct sl_ct_entry e;

	if (bpf_map_lookup_elem(h->fd, k, &e) && h->diffs++ < 4)
		print_key("only in the model's", k);
}

static int compare_tables(void)
{
	struct {
		int fd;
		struct mdl_table *t;
		const char *name;
	} maps[] = {
	    {dp.maps.conntrack, &model.ct, SL_MAP_CONNTRACK},
	    {dp.maps.revnat, &model.rn, SL_MAP_REVNAT},
	    {dp.maps.ct_new, &model.ct_new, SL_MAP_CT_NEW},
	    {dp.maps.revnat_new, &model.rn_new, SL_MAP_REVNAT_NEW},
	};
	int i, bad = 0;

	for (i = 0; i < 4; i++) {
		struct cmp c = {.t = maps[i].t, .name = maps[i].name};
		struct has h = {.fd = maps[i].fd};

		each_key(maps[i].fd, cmp_key, &c);
		mdl_each(maps[i].t, model_has, &h);
		if (c.diffs || h.diffs) {
			printf("  %s: %d entries differ, %d missing\n", maps[i].name, c.diffs,
			       h.diffs);
			bad++;
		}
	}
	return bad;
}

static int compare_stats(void)
{
	struct sl_stats got;
	size_t i, j;
	int bad = 0;

	for (i = 0; i < model.n_svcs; i++)
		for (j = 0; j < model.svcs[i].v.n_subsets && j < SL_MAX_SUBSETS; j++) {
			uint32_t id = model.svcs[i].v.subset_id[j];

			if (read_stats(id, &got) || memcmp(&got, &model.stats[id], sizeof(got))) {
				if (bad++ < 3)
					printf("  sl_stats row %u: datapath in %llu/%llu out "
					       "%llu/%llu "
					       "opened %llu closed %llu; model in %llu/%llu out "
					       "%llu/%llu opened %llu closed %llu\n",
					       id, (unsigned long long)got.packets_in,
					       (unsigned long long)got.bytes_in,
					       (unsigned long long)got.packets_out,
					       (unsigned long long)got.bytes_out,
					       (unsigned long long)got.conns_opened,
					       (unsigned long long)got.conns_closed,
					       (unsigned long long)model.stats[id].packets_in,
					       (unsigned long long)model.stats[id].bytes_in,
					       (unsigned long long)model.stats[id].packets_out,
					       (unsigned long long)model.stats[id].bytes_out,
					       (unsigned long long)model.stats[id].conns_opened,
					       (unsigned long long)model.stats[id].conns_closed);
			}
		}
	for (i = 0; i < model.n_codes; i++) {
		uint64_t sum = 0;

		percpu_sum(dp.maps.http_codes, &model.codes[i].k, &sum, 1);
		if (sum != model.codes[i].n && bad++ < 3)
			printf("  sl_http_codes %u/%u: datapath %llu, model %llu\n",
			       model.codes[i].k.subset_id, model.codes[i].k.code,
			       (unsigned long long)sum, (unsigned long long)model.codes[i].n);
	}
	return bad;
}

static void clear_tables(void)
{
	each_key(dp.maps.conntrack, del_key, NULL);
	each_key(dp.maps.revnat, del_key, NULL);
	each_key(dp.maps.ct_new, del_key, NULL);
	each_key(dp.maps.revnat_new, del_key, NULL);
	mdl_clear_conns(&model);
}

/* One entry in a datapath map and in the model's table alike. */
static void plant(int fd, struct mdl_table *t, const struct sl_ct_key *k,
		  const struct sl_ct_entry *v)
{
	if (!bpf_map_update_elem(fd, k, v, BPF_ANY))
		mdl_put(t, k, v, false);
}

static void addr_of(const char *s, __be32 a[4])
{
	uint8_t b[16];

	pkt_addr(s, b);
	memcpy(a, b, 16);
}

/*
 * Connections the generator alone would rarely make: a client's
 * connection (to web's VIP, from a pool client) as if opened on another
 * interface, idle for long, closed, left without room, sent to the L7
 * step; a reverse entry without its forward one; a confirmed forward
 * entry whose reverse entry went.
 */
static void plant_epoch(uint32_t now)
{
	int n = pick(6), i;

	for (i = 0; i < n; i++) {
		struct sl_ct_key fk = {0}, rk = {0};
		struct sl_ct_entry e = {0}, rv = {0};
		bool v6 = chance(25), confirmed = chance(50);
		int kind = pick(7);

		fk.family = v6 ? SL_AF_INET6 : SL_AF_INET;
		fk.proto = chance(70) ? PROTO_TCP : PROTO_UDP;
		addr_of(v6 ? PICK(clients6) : PICK(clients4), fk.saddr);
		addr_of(v6 ? "fd00::10" : "10.96.0.10", fk.daddr);
		fk.sport = htons(PICK(cports));
		fk.dport = htons(fk.proto == PROTO_TCP ? 80 : 53);
		addr_of(v6 ? "fd00:1::10" : "10.0.1.10", e.addr);
		e.port = htons(fk.proto == PROTO_TCP ? 8080 : 5353);
		e.nat_port = fk.sport;
		e.family = fk.family;
		e.subset_id = model.svcs[0].v.subset_id[0];
		e.ifindex = ifindex;
		e.last_seen = now;
		switch (kind) {
		case 0:
			e.ifindex = ifindex + 100;
			break;
		case 1:
			e.last_seen = now - SL_CT_UDP_IDLE_TICKS - 1 - pick(5);
			break;
		case 2:
			e.flags = SL_CT_CLOSED;
			break;
		case 3:
			e.flags = SL_CT_NO_ROOM;
			confirmed = false;
			break;
		case 4:
			e.flags = SL_CT_LOCAL;
			addr_of(v6 ? "fd5c:5c5c::1" : "169.254.92.1", e.addr);
			e.port = fk.dport;
			e.subset_id = SL_SUBSET_NONE;
			break;
		default:
			e.last_seen = now - pick(3);
			break;
		}
		memcpy(rk.saddr, e.addr, 16);
		memcpy(rk.daddr, fk.saddr, 16);
		rk.sport = e.port;
		rk.dport = e.nat_port;
		rk.proto = fk.proto;
		rk.family = fk.family;
		memcpy(rv.addr, fk.daddr, 16);
		rv.port = fk.dport;
		rv.nat_port = fk.sport;
		rv.family = fk.family;
		rv.subset_id = e.subset_id;
		rv.flags = e.flags & SL_CT_LOCAL;
		if (kind != 5)
			plant(confirmed ? dp.maps.conntrack : dp.maps.ct_new,
			      confirmed ? &model.ct : &model.ct_new, &fk, &e);
		if (kind != 6)
			plant(confirmed ? dp.maps.revnat : dp.maps.revnat_new,
			      confirmed ? &model.rn : &model.rn_new, &rk, &rv);
	}
}

/* ---- frames ---- */

/* A key of the model's table t, at random; false when it is empty. */
static bool some_key(struct mdl_table *t, struct sl_ct_key *out)
{
	size_t b, start = pick(MDL_BUCKETS), i;
	struct mdl_ct_node *n;

	if (!t->n)
		return false;
	for (i = 0; i < MDL_BUCKETS; i++) {
		b = (start + i) % MDL_BUCKETS;
		for (n = t->b[b]; n; n = n->next)
			if (!n->next || chance(50)) {
				*out = n->k;
				return true;
			}
	}
	return false;
}

static void flow_from_key(struct flow *f, const struct sl_ct_key *k)
{
	memset(f, 0, sizeof(*f));
	f->family = k->family == SL_AF_INET6 ? 6 : 4;
	f->proto = k->proto;
	memcpy(f->saddr, k->saddr, 16);
	memcpy(f->daddr, k->daddr, 16);
	f->sport = ntohs(k->sport);
	f->dport = ntohs(k->dport);
}

/* Change one thing of a tuple: the half matches. */
static void half_match(struct flow *f)
{
	switch (pick(5)) {
	case 0:
		f->sport++;
		break;
	case 1:
		f->dport ^= 1;
		break;
	case 2:
		f->saddr[f->family == 4 ? 3 : 15] ^= 1;
		break;
	case 3:
		f->daddr[f->family == 4 ? 3 : 15] ^= 1;
		break;
	default:
		f->proto = f->proto == PROTO_TCP ? PROTO_UDP : PROTO_TCP;
		break;
	}
}

static uint8_t payload[1600];

/* A frame and the program it goes to (true: egress). */
static bool make_frame(struct frame *fr)
{
	struct sl_ct_key k;
	struct flow f;
	bool egress = false;
	uint32_t kind = pick(100), i;

	memset(&f, 0, sizeof(f));
	if (kind < 30 || (kind < 50 && !some_key(chance(50) ? &model.ct : &model.ct_new, &k)) ||
	    (kind >= 50 && kind < 75 && !some_key(chance(50) ? &model.rn : &model.rn_new, &k))) {
		/* a new tuple: a client to a VIP (or not), or a backend to a client */
		if (chance(80)) {
			int d = pick(sizeof(dsts) / sizeof(dsts[0]));

			f.family = pkt_addr(dsts[d].addr, f.daddr);
			f.proto = dsts[d].proto;
			f.dport = dsts[d].port;
			pkt_addr(f.family == 4 ? PICK(clients4) : PICK(clients6), f.saddr);
			f.sport = chance(80) ? PICK(cports) : (uint16_t)rnd();
		} else {
			int b = pick(sizeof(backends) / sizeof(backends[0]));

			f.family = pkt_addr(backends[b].addr, f.saddr);
			f.sport = backends[b].port;
			f.proto = chance(80) ? PROTO_TCP : PROTO_UDP;
			pkt_addr(f.family == 4 ? PICK(clients4) : PICK(clients6), f.daddr);
			f.dport = chance(80) ? PICK(cports) : (uint16_t)rnd();
			egress = true;
		}
	} else {
		/* a connection the model knows: its own packets, or its replies */
		flow_from_key(&f, &k);
		egress = kind >= 50;
		/* a hairpin connection's replies come in, to the hairpin address */
		if (egress && (f.daddr[0] == 169 || (f.daddr[0] == 0xfd && f.daddr[1] == 0x5c)))
			egress = false;
		if (kind >= 75)
			half_match(&f);
	}
	if (chance(5))
		egress = !egress;
	f.tcp_flags = chance(25) ? (uint8_t)rnd() : PICK(tcp_flags);
	f.seq = rnd();
	f.ack_seq = rnd();
	if (chance(30)) {
		const char *h = PICK(http_lines);

		memcpy(payload, h, strlen(h));
		f.plen = strlen(h);
	} else {
		f.plen = chance(50) ? 0 : pick(64);
		for (i = 0; i < f.plen; i++)
			payload[i] = (uint8_t)rnd();
	}
	f.payload = payload;
	if (chance(5) && f.family == 4)
		f.ip_opts_len = 4 * (1 + pick(10));
	if (chance(3))
		f.frag_off = chance(50) ? IP4_MF : (uint16_t)(pick(0x2000));
	if (chance(3) && f.family == 6) {
		f.ip6_frag = true;
		f.ip6_frag_off = (uint16_t)rnd();
	}
	if (chance(2))
		f.udp_no_csum = true;
	if (chance(3))
		f.proto = chance(50) ? PROTO_ICMP : (f.family == 6 ? 58 : 47);
	pkt_build(fr, &f);
	return egress;
}

/* Break a well-built frame the ways the issue lists. */
static void mutate(struct frame *fr)
{
	struct pkt_layout lo;
	uint32_t i, n;

	pkt_layout(fr, &lo);
	switch (pick(14)) {
	case 0: /* truncated */
		fr->len = ETH_LEN + pick(fr->len - ETH_LEN + 1);
		break;
	case 1: /* oversized: more bytes than the IP header says */
		n = 1 + pick(64);
		for (i = 0; i < n && fr->len < PKT_MAX; i++)
			fr->b[fr->len++] = (uint8_t)rnd();
		break;
	case 2: /* a VLAN tag */
		if (fr->len + 4 <= PKT_MAX) {
			memmove(fr->b + 16, fr->b + 12, fr->len - 12);
			pkt_put16(fr->b + 12, 0x8100);
			pkt_put16(fr->b + 14, (uint16_t)rnd() & 0x0fff);
			fr->len += 4;
		}
		break;
	case 3: /* the IP total or payload length */
		if (lo.family == 4)
			pkt_put16(fr->b + ETH_LEN + 2,
				  chance(50) ? (uint16_t)rnd()
					     : pkt_get16(fr->b + ETH_LEN + 2) + pick(9) - 4);
		else if (lo.family == 6)
			pkt_put16(fr->b + ETH_LEN + 4, chance(30) ? 0 : (uint16_t)rnd());
		break;
	case 4: /* version and header length */
		fr->b[ETH_LEN] = (uint8_t)rnd();
		break;
	case 5: /* an IPv6 extension header before the transport header */
		if (lo.family == 6)
			fr->b[ETH_LEN + 6] = chance(50) ? 0 : (chance(50) ? 43 : 60);
		break;
	case 6: /* TCP data offset */
		if (lo.l4 && lo.proto == PROTO_TCP && lo.l4 + 13 < fr->len)
			fr->b[lo.l4 + 12] = (uint8_t)(pick(16) << 4);
		break;
	case 7: /* UDP length */
		if (lo.l4 && lo.proto == PROTO_UDP && lo.l4 + 6 < fr->len)
			pkt_put16(fr->b + lo.l4 + 4, (uint16_t)pick(16));
		break;
	case 8: /* checksums: zero, all ones, odd */
		if (lo.csum_at && lo.csum_at + 2 <= fr->len)
			pkt_put16(fr->b + lo.csum_at,
				  chance(40) ? 0 : (chance(50) ? 0xffff : (uint16_t)rnd()));
		if (lo.family == 4 && chance(50))
			pkt_put16(fr->b + ETH_LEN + 10, chance(50) ? 0xffff : (uint16_t)rnd());
		break;
	case 9: /* the Ethernet type */
		pkt_put16(fr->b + 12, chance(50) ? (uint16_t)pick(0x600) : (uint16_t)rnd());
		break;
	case 10: /* the protocol */
		if (lo.family == 4)
			fr->b[ETH_LEN + 9] = (uint8_t)rnd();
		break;
	case 11: /* an ICMP error quoting this frame's own headers */
		if (lo.family == 4 && fr->len + 28 <= PKT_MAX) {
			memmove(fr->b + ETH_LEN + 28, fr->b + ETH_LEN, fr->len - ETH_LEN);
			memcpy(fr->b + ETH_LEN, fr->b + ETH_LEN + 28, 20);
			fr->b[ETH_LEN] = 0x45;
			fr->b[ETH_LEN + 9] = PROTO_ICMP;
			fr->len += 28;
			pkt_put16(fr->b + ETH_LEN + 2, (uint16_t)(fr->len - ETH_LEN));
			fr->b[ETH_LEN + 20] = 3;
			fr->b[ETH_LEN + 21] = (uint8_t)pick(16);
		}
		break;
	default: /* bytes flipped anywhere */
		n = 1 + pick(3);
		for (i = 0; i < n; i++)
			fr->b[pick(fr->len)] ^= (uint8_t)(1 + pick(255));
		break;
	}
}

/* ---- running ---- */

static void hex(const char *what, const uint8_t *b, uint32_t len)
{
	uint32_t i;

	printf("    %s (%u bytes):", what, len);
	for (i = 0; i < len; i++)
		printf("%s%02x", i % 32 ? "" : "\n      ", b[i]);
	printf("\n");
}

struct run_out {
	int verdict;
	uint8_t out[PKT_MAX];
	uint32_t out_len;
	uint64_t g[SL_G_MAX];
};

/* Does the model, from state m, say what the datapath did? */
static bool model_says(struct mdl *m, const struct frame *fr, bool egress, uint32_t now,
		       const struct run_out *got, struct mdl_run *r)
{
	memset(r, 0, offsetof(struct mdl_run, out));
	r->egress = egress;
	r->in = fr->b;
	r->len = fr->len;
	r->ifindex = ifindex;
	r->now = now;
	mdl_step(m, r);
	return r->verdict == got->verdict && r->out_len == got->out_len &&
	       !memcmp(r->out, got->out, r->out_len) && !memcmp(m->g, got->g, sizeof(m->g));
}

static void explain(const struct frame *fr, bool egress, const struct mdl_run *r,
		    const struct run_out *got, const uint64_t *g0, const uint64_t *mg0)
{
	long d;
	int i;

	printf("    program %s; verdict: datapath %d, model %d; length: datapath %u, model %u\n",
	       egress ? "sl_egress" : "sl_ingress", got->verdict, r->verdict, got->out_len,
	       r->out_len);
	hex("frame", fr->b, fr->len);
	for (d = 0; d < (long)r->out_len && d < (long)got->out_len; d++)
		if (r->out[d] != got->out[d])
			break;
	if (d < (long)r->out_len || r->out_len != got->out_len) {
		printf("    output differs from byte %ld\n", d);
		hex("datapath's output", got->out, got->out_len);
		hex("model's output", r->out, r->out_len);
	}
	for (i = 0; i < SL_G_MAX; i++)
		if (got->g[i] - g0[i] != model.g[i] - mg0[i])
			printf("    counter %s: datapath +%llu, model +%llu\n", sl_global_name(i),
			       (unsigned long long)(got->g[i] - g0[i]),
			       (unsigned long long)(model.g[i] - mg0[i]));
}

/* frames frames from seed; 0 or the number of the frame that did not match (1-based). */
static long run(uint64_t seed, long frames, long *epochs)
{
	static struct mdl alt;
	uint64_t g0[SL_G_MAX], mg0[SL_G_MAX];
	struct frame fr;
	struct run_out got;
	struct mdl_run r;
	long i, in_epoch = 0;
	bool egress, ok;
	uint32_t t0, t1;

	rng_seed(seed);
	clear_tables();
	plant_epoch(tick());
	for (i = 0; i < frames; i++) {
		egress = make_frame(&fr);
		if (chance(30))
			mutate(&fr);
		/*
		 * TEST_RUN refuses an IPv4 or IPv6 frame shorter than its IP
		 * header (this kernel checks): a truncated one keeps at least that.
		 */
		if (fr.len < ETH_LEN + 20 && pkt_get16(fr.b + 12) == ETHERTYPE_IP)
			fr.len = ETH_LEN + 20;
		if (fr.len < ETH_LEN + 40 && pkt_get16(fr.b + 12) == ETHERTYPE_IPV6)
			fr.len = ETH_LEN + 40;
		{
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr.b, .data_size_in = fr.len,
				    .data_out = got.out, .data_size_out = sizeof(got.out),
				    .repeat = 1);

			memcpy(g0, model.g, sizeof(g0));
			t0 = tick();
			if (bpf_prog_test_run_opts(egress ? prog_eg : prog_in, &o)) {
				printf("  frame %ld: BPF_PROG_TEST_RUN: %s\n", i + 1,
				       strerror(errno));
				hex("frame", fr.b, fr.len);
				return i + 1;
			}
			t1 = tick();
			got.verdict = (int)o.retval;
			got.out_len = o.data_size_out;
		}
		if (read_globals(got.g))
			return i + 1;
		memcpy(mg0, model.g, sizeof(mg0));
		if (t0 == t1) {
			ok = model_says(&model, &fr, egress, t0, &got, &r);
		} else {
			/* the clock ticked during the run: the datapath saw one or the other */
			if (!alt.stats && mdl_init(&alt, CT_MAX))
				return i + 1;
			/*
			 * with the model's configuration: without it, every frame
			 * to a service failed at t1 and was judged at t0, and a
			 * connection the datapath opened or touched at t1 came out
			 * of the epoch's table check one tick apart (~1 run in 8
			 * of 200,000 frames)
			 */
			mdl_share_config(&alt, &model);
			mdl_copy_state(&alt, &model);
			ok = model_says(&alt, &fr, egress, t1, &got, &r);
			if (!ok)
				ok = model_says(&model, &fr, egress, t0, &got, &r);
			else
				mdl_copy_state(&model, &alt);
		}
		if (!ok) {
			printf("  frame %ld of seed %#llx (epoch %ld, clock tick %u):\n", i + 1,
			       (unsigned long long)seed, *epochs, t0);
			explain(&fr, egress, &r, &got, g0, mg0);
			return i + 1;
		}
		if (++in_epoch >= EPOCH || model.ct_new.n > NEW_LIMIT ||
		    model.rn_new.n > NEW_LIMIT || i + 1 == frames) {
			if (compare_tables() || compare_stats()) {
				printf(
				    "  the tables differ at the end of epoch %ld (frame %ld, seed "
				    "%#llx)\n",
				    *epochs, i + 1, (unsigned long long)seed);
				return i + 1;
			}
			clear_tables();
			plant_epoch(tick());
			in_epoch = 0;
			++*epochs;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	long frames = 20000, bad, epochs = 0, n;
	uint64_t seed = SEED, s;
	int i, pass = 0, fail = 0;
	struct timespec a, b;
	char line[256];
	FILE *f;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--frames"))
			frames = strtol(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sl_log_hook_libbpf();
	sl_log_set_level(SL_LOG_WARN);
	if (setup()) {
		printf("model-setup: FAIL\n0 passed, 1 failed\n");
		return 1;
	}
	/* seeds that once found a mismatch, each with its frame count */
	f = fopen("tests/model/regress", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNx64 " %ld", &s, &n) != 2)
			continue; /* comments, blank lines */
		epochs = 0;
		bad = run(s, n, &epochs);
		printf("model-regress-%#llx: %s (%ld frames)\n", (unsigned long long)s,
		       bad ? "FAIL" : "PASS", n);
		bad ? fail++ : pass++;
	}
	if (f)
		fclose(f);
	epochs = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	bad = run(seed, frames, &epochs);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (bad) {
		printf("model-frames: FAIL (mismatch at frame %ld of %ld, seed %#llx; replay: "
		       "build/tests/test_model --seed %#llx --frames %ld)\n",
		       bad, frames, (unsigned long long)seed, (unsigned long long)seed, bad);
		fail++;
	} else {
		printf("model-frames: PASS (%ld frames, 0 mismatches, seed %#llx, %ld epochs, "
		       "%.1f s, %.0f frames/s)\n",
		       frames, (unsigned long long)seed, epochs,
		       (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9,
		       frames / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9));
		pass++;
	}
	/* what the frames exercised: every counter's total */
	printf("# counters:");
	for (i = 0; i < SL_G_MAX; i++)
		printf(" %s=%llu", sl_global_name(i), (unsigned long long)model.g[i]);
	printf("\n");
	mdl_free(&model);
	sl_dp_close(&dp);
	printf("%d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
