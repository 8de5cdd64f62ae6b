// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Writing the configuration tables. Every apply follows the same steps:
 *   1. wait out readers of the inactive slot (an RCU grace period),
 *   2. clear and fill the inactive slot,
 *   3. flip sl_state.active_slot to it in one map update,
 *   4. wait out readers of the old slot again.
 * A packet reads active_slot once, then only that slot's entries, so it sees
 * one whole configuration. Until step 3 nothing visible has changed: a
 * failed apply leaves the datapath on its last good configuration.
 *
 * The writer only: reading the tables back is counters.c, which the weights
 * override calls to find a service by name. Calls maps.h, counters.h and
 * libbpf.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "datapath/counters.h"
#include "datapath/tables.h"
#include "sluice_hash.h"

static int write_config(const struct sl_maps *m, const struct sl_state *c)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(m->state, &zero, c, BPF_ANY))
		return -errno;
	return 0;
}

/* ---- address filters: bits are only ever set (see sluice_abi.h) ---- */

static int filter_set(int fd, const __be32 addr[4], __be16 port, __u8 proto)
{
	__u32 bit = sl_filter_bit(addr, port, proto), word = bit >> 6;
	__u64 w;

	if (bpf_map_lookup_elem(fd, &word, &w))
		return -errno;
	if (w & (1ULL << (bit & 63)))
		return 0;
	w |= 1ULL << (bit & 63);
	/* one aligned 8-byte value: readers see the word before or after */
	return bpf_map_update_elem(fd, &word, &w, BPF_ANY) ? -errno : 0;
}

/* Cover every VIP and backend of one slot (or of both, slot < 0). */
static int filter_add(const struct sl_maps *m, int slot)
{
	struct sl_svc_key k, nk, *cur = NULL;
	struct sl_service v;
	struct sl_endpoint ep;
	__u32 i, j, idx;
	int err;

	while (!bpf_map_get_next_key(m->services, cur, &nk)) {
		k = nk;
		cur = &k;
		if ((slot >= 0 && k.slot != (__u32)slot) ||
		    bpf_map_lookup_elem(m->services, &k, &v))
			continue;
		err = filter_set(m->vip_filter, k.addr, k.port, k.proto);
		if (err)
			return err;
		for (i = 0; i < SL_MAX_SUBSETS && i < v.n_subsets; i++)
			for (j = 0; j < v.ep_count[i]; j++) {
				idx = v.ep_base[i] + j;
				if (bpf_map_lookup_elem(m->endpoints, &idx, &ep))
					return -errno;
				err = filter_set(m->be_filter, ep.addr, ep.port ?: v.target_port,
						 k.proto);
				if (err)
					return err;
			}
	}
	return 0;
}

int sl_tables_init(const struct sl_maps *m)
{
	struct sl_state c;
	int err;

	err = filter_add(m, -1);
	err = err ?: sl_maps_read_state(m, &c);
	if (err)
		return err;
	if (c.hash_seed)
		return 0;
	/* The seed keeps clients from steering their own choice of backend. */
	while (!c.hash_seed)
		if (getrandom(&c.hash_seed, sizeof(c.hash_seed), 0) != sizeof(c.hash_seed))
			return -errno;
	return write_config(m, &c);
}

/*
 * Wait until every BPF program that might have read the old value of
 * anything has finished: updating a map-in-map makes the kernel wait for an
 * RCU grace period (maybe_wait_bpf_programs()) before the syscall returns.
 */
static int rcu_barrier(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	int inner, outer, err = 0;
	__u32 zero = 0;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sl_rcu_inner", 4, 4, 1, NULL);
	if (inner < 0)
		return -errno;
	opts.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, SL_MAP_RCU, 4, 4, 1, &opts);
	if (outer < 0) {
		err = -errno;
		goto out;
	}
	if (bpf_map_update_elem(outer, &zero, &inner, BPF_ANY))
		err = -errno;
	close(outer);
out:
	close(inner);
	return err;
}

/* Delete every key of one slot from a hash or LPM map keyed with a slot. */
static int clear_slot(int fd, size_t key_size, size_t slot_off, __u32 slot)
{
	unsigned char key[64], next[64], *cur = NULL;
	unsigned char(*dead)[64] = NULL;
	size_t n = 0, cap = 0, i;
	int err = 0;

	/* Collect first: deleting while walking would restart the walk. */
	while (!bpf_map_get_next_key(fd, cur, next)) {
		__u32 s;

		memcpy(&s, next + slot_off, sizeof(s));
		if (s == slot) {
			if (n == cap) {
				void *p;

				cap = cap ? cap * 2 : 256;
				p = realloc(dead, cap * sizeof(*dead));
				if (!p) {
					err = -ENOMEM;
					goto out;
				}
				dead = p;
			}
			memcpy(dead[n++], next, key_size);
		}
		memcpy(key, next, key_size);
		cur = key;
	}
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, dead[i]) && errno != ENOENT) {
			err = -errno;
			goto out;
		}
out:
	free(dead);
	return err;
}

static int clear_inactive(const struct sl_maps *m, __u32 slot)
{
	int err;

	err = clear_slot(m->services, sizeof(struct sl_svc_key), offsetof(struct sl_svc_key, slot),
			 slot);
	if (!err)
		err = clear_slot(m->src_match, sizeof(struct sl_src_key),
				 offsetof(struct sl_src_key, slot), slot);
	return err;
}

/* ---- stable ids: service and subset rows keep their number across applies ---- */

struct id_alloc {
	bool used[SL_MAX_SUBSET_IDS];	 /* taken by the new config */
	bool was[SL_MAX_SUBSET_IDS];	 /* in use before this apply */
	bool retired[SL_MAX_SUBSET_IDS]; /* used once, maybe still counted into */
	/* "service" or "service/subset" of each row, read once per apply */
	char name[SL_MAX_SUBSET_IDS][SL_NAME_LEN + SL_SUBSET_NAME_LEN];
	__u32 next; /* where the search for a free id starts */
};

static void id_alloc_init(struct id_alloc *a, int fd, bool subsets)
{
	__u32 i, top = 0;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < SL_MAX_SUBSET_IDS; i++) {
		struct sl_subset_name sn;
		struct sl_svc_name vn;
		__u32 in_use = 0;

		if (subsets) {
			if (!bpf_map_lookup_elem(fd, &i, &sn)) {
				in_use = sn.in_use;
				snprintf(a->name[i], sizeof(a->name[i]), "%.*s/%.*s",
					 (int)sizeof(sn.service), sn.service,
					 (int)sizeof(sn.subset), sn.subset);
			}
		} else if (!bpf_map_lookup_elem(fd, &i, &vn)) {
			in_use = vn.in_use;
			snprintf(a->name[i], sizeof(a->name[i]), "%.*s", (int)sizeof(vn.name),
				 vn.name);
		}
		a->was[i] = in_use == SL_ID_IN_USE;
		a->retired[i] = in_use == SL_ID_RETIRED;
		if (in_use)
			top = i + 1;
	}
	a->next = top % SL_MAX_SUBSET_IDS;
}

/*
 * A new name gets a row never used before if there is one, and only then
 * a retired row: connections of a removed subset drain into its row, which
 * must not be counted as someone else's while they do.
 */
static int id_take(struct id_alloc *a, __u32 *id)
{
	__u32 i, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < SL_MAX_SUBSET_IDS; i++) {
			__u32 c = (a->next + i) % SL_MAX_SUBSET_IDS;

			if (a->used[c] || a->was[c] || (!pass && a->retired[c]))
				continue;
			a->used[c] = true;
			a->next = (c + 1) % SL_MAX_SUBSET_IDS;
			*id = c;
			return 0;
		}
	}
	return -ENOSPC;
}

/* The row that has (or had) this name; a returning name gets its row back. */
static int find_id(const struct id_alloc *a, const char *svc, const char *subset, __u32 *id)
{
	char want[SL_NAME_LEN + SL_SUBSET_NAME_LEN];
	__u32 i;

	if (subset)
		snprintf(want, sizeof(want), "%s/%s", svc, subset);
	else
		snprintf(want, sizeof(want), "%s", svc);
	for (i = 0; i < SL_MAX_SUBSET_IDS; i++)
		if ((a->was[i] || a->retired[i]) && !strcmp(a->name[i], want)) {
			*id = i;
			return 0;
		}
	return -ENOENT;
}

/* Per-service plan: ids, built before anything is written. */
struct svc_plan {
	__u32 svc_id;
	bool new_svc;
	__u32 subset_id[SL_MAX_SUBSETS];
	bool new_subset[SL_MAX_SUBSETS];
};

static int zero_stats_row(const struct sl_maps *m, __u32 id)
{
	int ncpu = libbpf_num_possible_cpus();
	struct sl_stats *z;
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	z = calloc(ncpu, sizeof(*z));
	if (!z)
		return -ENOMEM;
	if (bpf_map_update_elem(m->stats, &id, z, BPF_ANY))
		err = -errno;
	else if (m->l7_stats >= 0 && bpf_map_update_elem(m->l7_stats, &id, z, BPF_ANY))
		err = -errno;
	free(z);
	return err;
}

/* Rows neither the new config nor the running one holds. */
static size_t ids_free(const struct id_alloc *a)
{
	size_t i, n = 0;

	for (i = 0; i < SL_MAX_SUBSET_IDS; i++)
		n += !a->used[i] && !a->was[i];
	return n;
}

static int plan_ids(const struct sl_maps *m, const struct sl_config *cfg, struct svc_plan *plan,
		    struct id_alloc *svc_ids, struct id_alloc *sub_ids, struct sl_diag *diag)
{
	size_t i, j, new_svcs = 0, new_subsets = 0, free_svcs, free_subsets;

	id_alloc_init(svc_ids, m->svc_names, false);
	id_alloc_init(sub_ids, m->subset_names, true);

	/* Keep existing ids first, so a new name cannot take an old one's row. */
	for (i = 0; i < cfg->n_services; i++) {
		const struct sl_service_cfg *s = &cfg->services[i];

		plan[i].new_svc = find_id(svc_ids, s->name, NULL, &plan[i].svc_id) != 0;
		if (!plan[i].new_svc)
			svc_ids->used[plan[i].svc_id] = true;
		new_svcs += plan[i].new_svc;
		for (j = 0; j < s->n_subsets; j++) {
			plan[i].new_subset[j] = find_id(sub_ids, s->name, s->subsets[j].name,
							&plan[i].subset_id[j]) != 0;
			if (!plan[i].new_subset[j])
				sub_ids->used[plan[i].subset_id[j]] = true;
			new_subsets += plan[i].new_subset[j];
		}
	}
	/*
	 * The running configuration's rows stay its own until the flip (its
	 * connections count into them): the new names must fit in the rest.
	 * The loader has checked that the config alone fits.
	 */
	free_svcs = ids_free(svc_ids);
	free_subsets = ids_free(sub_ids);
	if (new_svcs > free_svcs || new_subsets > free_subsets) {
		sl_diag_add(
		    diag, NULL, "error",
		    "this configuration has %zu new service(s) and %zu new subset(s), but "
		    "only %zu service and %zu subset counter rows are free: the limit is %d "
		    "of each, and the running configuration keeps its rows until it is "
		    "replaced; apply one without the services it removes first",
		    new_svcs, new_subsets, free_svcs, free_subsets, SL_MAX_SUBSET_IDS);
		return -ENOSPC;
	}
	for (i = 0; i < cfg->n_services; i++) {
		if (plan[i].new_svc && id_take(svc_ids, &plan[i].svc_id))
			return -ENOSPC;
		for (j = 0; j < cfg->services[i].n_subsets; j++)
			if (plan[i].new_subset[j] && id_take(sub_ids, &plan[i].subset_id[j]))
				return -ENOSPC;
	}
	return 0;
}

static int write_names(const struct sl_maps *m, const struct sl_config *cfg,
		       const struct svc_plan *plan)
{
	size_t i, j;
	int err;

	for (i = 0; i < cfg->n_services; i++) {
		const struct sl_service_cfg *s = &cfg->services[i];
		struct sl_svc_name vn = {.in_use = SL_ID_IN_USE};

		snprintf(vn.name, sizeof(vn.name), "%s", s->name);
		if (bpf_map_update_elem(m->svc_names, &plan[i].svc_id, &vn, BPF_ANY))
			return -errno;
		for (j = 0; j < s->n_subsets; j++) {
			struct sl_subset_name sn = {.in_use = SL_ID_IN_USE,
						    .svc_id = plan[i].svc_id};

			snprintf(sn.service, sizeof(sn.service), "%s", s->name);
			snprintf(sn.subset, sizeof(sn.subset), "%s", s->subsets[j].name);
			if (plan[i].new_subset[j]) {
				/* a reused row starts from zero */
				err = zero_stats_row(m, plan[i].subset_id[j]);
				if (err)
					return err;
			}
			if (bpf_map_update_elem(m->subset_names, &plan[i].subset_id[j], &sn,
						BPF_ANY))
				return -errno;
		}
	}
	return 0;
}

/*
 * After the flip: rows the new config does not use are retired. They keep
 * their names (a subset that comes back gets its row and counters back).
 */
static void release_ids(const struct sl_maps *m, const struct id_alloc *svc_ids,
			const struct id_alloc *sub_ids)
{
	__u32 i;

	for (i = 0; i < SL_MAX_SUBSET_IDS; i++) {
		struct sl_subset_name sn;
		struct sl_svc_name vn;

		if (svc_ids->was[i] && !svc_ids->used[i] &&
		    !bpf_map_lookup_elem(m->svc_names, &i, &vn)) {
			vn.in_use = SL_ID_RETIRED;
			bpf_map_update_elem(m->svc_names, &i, &vn, BPF_ANY);
		}
		if (sub_ids->was[i] && !sub_ids->used[i] &&
		    !bpf_map_lookup_elem(m->subset_names, &i, &sn)) {
			sn.in_use = SL_ID_RETIRED;
			bpf_map_update_elem(m->subset_names, &i, &sn, BPF_ANY);
		}
	}
}

/* ---- source matches ---- */

struct src_prefix {
	struct sl_cidr c;
	__u32 cidr_bits;  /* routes naming this prefix in sourceCIDRs */
	__u32 label_bits; /* routes whose sourceLabels select this prefix */
};

static bool cidr_contains(const struct sl_cidr *outer, const struct sl_cidr *inner)
{
	int full, rest;

	if (outer->a.family != inner->a.family || outer->plen > inner->plen)
		return false;
	full = outer->plen / 8;
	rest = outer->plen % 8;
	if (memcmp(outer->a.addr, inner->a.addr, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((outer->a.addr[full] & mask) != (inner->a.addr[full] & mask))
			return false;
	}
	return true;
}

struct src_prefixes {
	struct src_prefix *v;
	size_t n, cap;
};

/* One prefix of sl_config_for_each_src() into the service's list, merged with its equal. */
static int add_prefix(void *arg, const struct sl_cidr *c, __u32 cidr_bit, __u32 label_bit)
{
	struct src_prefixes *l = arg;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].c.plen == c->plen && cidr_contains(&l->v[i].c, c)) {
			l->v[i].cidr_bits |= cidr_bit;
			l->v[i].label_bits |= label_bit;
			return 0;
		}
	if (sl_reserve((void **)&l->v, &l->cap, l->n, 1, sizeof(*l->v)))
		return -ENOMEM;
	l->v[l->n].c = *c;
	l->v[l->n].cidr_bits = cidr_bit;
	l->v[l->n].label_bits = label_bit;
	l->n++;
	return 0;
}

/*
 * LPM returns only the longest prefix that contains the client, so each
 * prefix's value must also carry the routes of every shorter prefix that
 * contains it.
 */
static int write_src_match(const struct sl_maps *m, const struct sl_config *cfg,
			   const struct sl_service_cfg *s, __u32 svc_id, __u32 slot)
{
	struct src_prefixes l = {0};
	struct src_prefix *v;
	size_t n, i, j;
	int err;

	err = sl_config_for_each_src(cfg, s, add_prefix, &l);
	if (err)
		goto out;
	v = l.v;
	n = l.n;
	for (i = 0; i < n; i++) {
		struct sl_src_routes val = {};
		struct sl_src_key key = {
		    .prefixlen = SL_SRC_KEY_FIXED_BITS + v[i].c.plen,
		    .slot = slot,
		    .svc_id = svc_id,
		    .family = v[i].c.a.family,
		};

		for (j = 0; j < n; j++)
			if (cidr_contains(&v[j].c, &v[i].c)) {
				val.cidr_routes |= v[j].cidr_bits;
				val.label_routes |= v[j].label_bits;
			}
		memcpy(key.addr, v[i].c.a.addr, 16);
		if (bpf_map_update_elem(m->src_match, &key, &val, BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
out:
	free(l.v);
	return err;
}

/* ---- services and endpoints ---- */

static bool vip_in(const struct sl_addr *vip, const struct sl_cidr *c, size_t n)
{
	struct sl_cidr host = {.a = *vip, .plen = vip->family == SL_AF_INET6 ? 128 : 32};
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_contains(&c[i], &host))
			return true;
	return false;
}

/* Key of an HTTP match in sl_l7_specs: the text's digest, folded, never 0. */
static __u32 l7_spec_id(const char *text)
{
	uint64_t h = sl_config_digest(text, strlen(text));

	return (__u32)(h ^ h >> 32) ?: 1;
}

/*
 * The routes of one (VIP, port) key. Every key carries all of the
 * service's routes, so a route's index (its bit in sl_src_match) is the
 * same for all of them; a route whose port or destination match this key
 * does not meet is marked SL_ROUTE_SKIP.
 */
static void fill_routes(struct sl_service *val, const struct sl_service_cfg *s,
			const struct sl_addr *vip, const struct sl_port_cfg *pc)
{
	uint16_t port = pc->port;
	uint8_t proto = pc->proto;
	size_t r, j;

	val->n_routes = s->n_routes;
	for (r = 0; r < s->n_routes && r < SL_MAX_ROUTES; r++) {
		const struct sl_route_cfg *rt = &s->routes[r];
		struct sl_route *out = &val->routes[r];

		out->flags = (rt->has_cidrs ? SL_ROUTE_MATCH_CIDR : 0) |
			     (rt->has_labels ? SL_ROUTE_MATCH_LABELS : 0);
		if (out->flags)
			val->flags |= SL_SVC_SRC_MATCH;
		if (rt->match_port || rt->has_dst_cidrs)
			out->flags |= SL_ROUTE_MATCH_DST;
		/* an http route on a TCP port, a tcp route on an HTTP one: Istio's choice */
		if ((rt->match_port && rt->match_port != port) ||
		    (rt->has_dst_cidrs && !vip_in(vip, rt->dst_cidrs, rt->n_dst_cidrs)) ||
		    !sl_route_applies(rt, pc))
			out->flags |= SL_ROUTE_SKIP;
		if (rt->needs_l7) {
			out->flags |= SL_ROUTE_NEEDS_L7;
			out->l7_spec = rt->l7_spec ? l7_spec_id(rt->l7_spec) : 0;
			/* only TCP carries HTTP; a route skipped here needs nothing */
			if (out->l7_spec && proto == IPPROTO_TCP && !(out->flags & SL_ROUTE_SKIP))
				val->flags |= SL_SVC_L7;
		}
		out->total_weight = 0;
		for (j = 0; j < SL_MAX_SUBSETS; j++) {
			out->weight[j] = j < s->n_subsets ? rt->weight[j] : 0;
			out->total_weight += out->weight[j];
		}
	}
}

/* A port without HTTP routes that still goes through the L7 step, and why. */
static uint32_t l7_path_flags(const struct sl_service_cfg *s, const struct sl_port_cfg *pc)
{
	switch (sl_port_path(s, pc)) {
	case SL_PATH_HTTP2:
		return SL_SVC_L7 | SL_SVC_L7_HTTP2;
	case SL_PATH_GRPC:
		return SL_SVC_L7 | SL_SVC_L7_GRPC;
	case SL_PATH_PER_REQUEST:
		return SL_SVC_L7 | SL_SVC_L7_PER_REQUEST;
	default:
		return 0;
	}
}

static int write_service(const struct sl_maps *m, const struct sl_config *cfg,
			 const struct sl_service_cfg *s, const struct svc_plan *plan, __u32 slot,
			 __u32 *ep_next, struct sl_diag *diag)
{
	__u32 base[2][SL_MAX_SUBSETS] = {}, count[2][SL_MAX_SUBSETS] = {};
	size_t f, j, e, v, p;
	int err;

	/* Endpoints per family: a v4 VIP can only be DNATed to v4 endpoints. */
	for (f = 0; f < 2; f++) {
		uint8_t fam = f ? SL_AF_INET6 : SL_AF_INET;

		for (j = 0; j < s->n_subsets; j++) {
			const struct sl_subset_cfg *sub = &s->subsets[j];

			base[f][j] = slot * SL_MAX_ENDPOINTS + *ep_next;
			for (e = 0; e < sub->n_eps; e++) {
				struct sl_endpoint ep = {.family = fam};
				__u32 idx = slot * SL_MAX_ENDPOINTS + *ep_next;

				if (sub->eps[e].a.family != fam)
					continue;
				if (*ep_next >= SL_MAX_ENDPOINTS) {
					sl_diag_add(diag, &s->pos, "error",
						    "more than %d endpoints in all services",
						    SL_MAX_ENDPOINTS);
					return -ENOSPC;
				}
				memcpy(ep.addr, sub->eps[e].a.addr, 16);
				ep.port = htons(sub->eps[e].port);
				if (bpf_map_update_elem(m->endpoints, &idx, &ep, BPF_ANY))
					return -errno;
				(*ep_next)++;
				count[f][j]++;
			}
		}
	}

	for (v = 0; v < s->n_vips; v++) {
		f = s->vips[v].family == SL_AF_INET6;
		for (p = 0; p < s->n_ports; p++) {
			struct sl_service val = {
			    .svc_id = plan->svc_id,
			    .flags = s->affinity == SL_AFFINITY_CLIENT_IP
					 ? SL_SVC_AFFINITY_CLIENT_IP
					 : 0,
			    .target_port = htons(s->ports[p].target_port),
			    .n_subsets = s->n_subsets,
			};
			struct sl_svc_key key = {
			    .slot = slot,
			    .port = htons(s->ports[p].port),
			    .proto = s->ports[p].proto,
			    .family = s->vips[v].family,
			};

			memcpy(key.addr, s->vips[v].addr, 16);
			for (j = 0; j < s->n_subsets; j++) {
				val.subset_id[j] = plan->subset_id[j];
				val.ep_base[j] = base[f][j];
				val.ep_count[j] = count[f][j];
			}
			fill_routes(&val, s, &s->vips[v], &s->ports[p]);
			if (!(val.flags & SL_SVC_L7))
				val.flags |= l7_path_flags(s, &s->ports[p]);
			if (bpf_map_update_elem(m->services, &key, &val, BPF_NOEXIST)) {
				err = -errno;
				if (err == -EEXIST)
					sl_diag_add(diag, &s->ports[p].pos, "error",
						    "service '%s': this VIP and port are already "
						    "used by another service",
						    s->name);
				return err;
			}
		}
	}
	return write_src_match(m, cfg, s, plan->svc_id, slot);
}

static int flip(const struct sl_maps *m, __u32 slot)
{
	struct sl_state c;
	struct timespec ts;
	int err;

	err = sl_maps_read_state(m, &c);
	if (err)
		return err;
	clock_gettime(CLOCK_REALTIME, &ts);
	c.active_slot = slot;
	c.generation++;
	c.applied_ns = (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	err = write_config(m, &c);
	if (err)
		return err;
	/*
	 * The new tables are live now: report success whatever happens next.
	 * A failed wait only matters to the next writer, which waits again
	 * before it touches the old slot.
	 */
	err = rcu_barrier();
	if (err)
		pr_warn("warning: waiting for readers of the old tables failed: %s\n",
			strerror(-err));
	return 0;
}

int sl_tables_set_digest(const struct sl_maps *m, uint64_t digest)
{
	struct sl_state c;
	int err;

	err = sl_maps_read_state(m, &c);
	if (err)
		return err;
	c.config_digest = digest;
	return write_config(m, &c);
}

/*
 * The HTTP matches of cfg into sl_l7_specs. Keyed by their text's digest,
 * so both slots share them and writing them before the flip is enough.
 */
static int write_l7_specs(const struct sl_maps *m, const struct sl_config *cfg,
			  struct sl_diag *diag)
{
	struct sl_l7_spec *v;
	size_t i, r;
	int err = 0;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < cfg->n_services && !err; i++)
		for (r = 0; r < cfg->services[i].n_routes && !err; r++) {
			const char *t = cfg->services[i].routes[r].l7_spec;
			__u32 id;

			if (!t)
				continue;
			if (strlen(t) >= sizeof(v->text)) {
				err = -E2BIG; /* config.c refuses these first */
				break;
			}
			memset(v, 0, sizeof(*v));
			memcpy(v->text, t, strlen(t));
			id = l7_spec_id(t);
			if (bpf_map_update_elem(m->l7_specs, &id, v, BPF_ANY)) {
				err = -errno;
				if (err == -E2BIG || err == -ENOSPC)
					sl_diag_add(
					    diag, &cfg->services[i].routes[r].pos, "error",
					    "no room for this route's HTTP match: the running "
					    "and the new configuration have more than %d "
					    "distinct ones together until the flip",
					    SL_MAX_L7_SPECS);
			}
		}
	free(v);
	return err;
}

/* After the flip: drop the matches no route of cfg uses any more. */
static void prune_l7_specs(const struct sl_maps *m, const struct sl_config *cfg)
{
	__u32 k, nk, *cur = NULL;
	size_t i, r;

	while (!bpf_map_get_next_key(m->l7_specs, cur, &nk)) {
		bool used = false;

		for (i = 0; i < cfg->n_services && !used; i++)
			for (r = 0; r < cfg->services[i].n_routes && !used; r++)
				used = cfg->services[i].routes[r].l7_spec &&
				       l7_spec_id(cfg->services[i].routes[r].l7_spec) == nk;
		if (!used && !bpf_map_delete_elem(m->l7_specs, &nk))
			continue; /* deleted: the next key after cur is still right */
		k = nk;
		cur = &k;
	}
}

int sl_tables_apply(const struct sl_maps *m, const struct sl_config *cfg, struct sl_diag *diag)
{
	struct id_alloc *svc_ids = NULL, *sub_ids = NULL;
	struct svc_plan *plan = NULL;
	struct sl_state cur;
	__u32 slot, ep_next = 0;
	size_t i;
	int err;

	err = sl_maps_read_state(m, &cur);
	if (err)
		return err;
	slot = cur.active_slot ^ 1;

	plan = calloc(cfg->n_services ?: 1, sizeof(*plan));
	svc_ids = calloc(1, sizeof(*svc_ids));
	sub_ids = calloc(1, sizeof(*sub_ids));
	if (!plan || !svc_ids || !sub_ids) {
		err = -ENOMEM;
		goto out;
	}

	/*
	 * A flip by someone else may still have readers on this slot. What
	 * can find a table full comes first; the names of new rows (which
	 * `status` reads) only once everything else is written.
	 */
	err = rcu_barrier();
	err = err ?: clear_inactive(m, slot);
	err = err ?: plan_ids(m, cfg, plan, svc_ids, sub_ids, diag);
	err = err ?: write_l7_specs(m, cfg, diag);
	if (err)
		goto out;
	for (i = 0; i < cfg->n_services; i++) {
		err = write_service(m, cfg, &cfg->services[i], &plan[i], slot, &ep_next, diag);
		if (err)
			goto out;
	}
	err = write_names(m, cfg, plan);
	/* before the flip: a new VIP must not be filtered out once it is live */
	err = err ?: filter_add(m, slot);
	err = err ?: flip(m, slot);
	if (err)
		goto out;
	release_ids(m, svc_ids, sub_ids);
	prune_l7_specs(m, cfg);
out:
	free(plan);
	free(svc_ids);
	free(sub_ids);
	return err;
}

/* ---- weights override: copy the active slot, change one route, flip ---- */

static int copy_slot(const struct sl_maps *m, __u32 from, __u32 to, __u32 svc_id,
		     const __u32 *weights)
{
	struct sl_svc_key k, nk, *cur = NULL;
	struct sl_src_key sk, nsk, *scur = NULL;
	__u32 max_ep = 0, i;
	struct sl_service v;
	struct sl_src_routes sv;
	int err = 0;

	while (!bpf_map_get_next_key(m->services, cur, &nk)) {
		k = nk;
		cur = &k;
		if (k.slot != from || bpf_map_lookup_elem(m->services, &k, &v))
			continue;
		for (i = 0; i < SL_MAX_SUBSETS; i++) {
			__u32 end = v.ep_base[i] - from * SL_MAX_ENDPOINTS + v.ep_count[i];

			if (v.ep_count[i] && end > max_ep)
				max_ep = end;
			v.ep_base[i] =
			    v.ep_base[i] - from * SL_MAX_ENDPOINTS + to * SL_MAX_ENDPOINTS;
		}
		if (v.svc_id == svc_id) {
			int r = sl_status_default_route(&v);

			if (r >= 0) {
				v.routes[r].total_weight = 0;
				for (i = 0; i < SL_MAX_SUBSETS; i++) {
					v.routes[r].weight[i] = i < v.n_subsets ? weights[i] : 0;
					v.routes[r].total_weight += v.routes[r].weight[i];
				}
				v.routes[r].flags |= SL_ROUTE_OVERRIDDEN;
			}
		}
		k.slot = to;
		if (bpf_map_update_elem(m->services, &k, &v, BPF_ANY))
			return -errno;
		k.slot = from;
	}
	for (i = 0; i < max_ep; i++) {
		struct sl_endpoint ep;
		__u32 src = from * SL_MAX_ENDPOINTS + i, dst = to * SL_MAX_ENDPOINTS + i;

		if (bpf_map_lookup_elem(m->endpoints, &src, &ep) ||
		    bpf_map_update_elem(m->endpoints, &dst, &ep, BPF_ANY))
			return -errno;
	}
	while (!bpf_map_get_next_key(m->src_match, scur, &nsk)) {
		sk = nsk;
		scur = &sk;
		if (sk.slot != from || bpf_map_lookup_elem(m->src_match, &sk, &sv))
			continue;
		sk.slot = to;
		if (bpf_map_update_elem(m->src_match, &sk, &sv, BPF_ANY))
			return -errno;
		sk.slot = from;
	}
	return err;
}

int sl_tables_set_weights(const struct sl_maps *m, const char *service, char *const names[],
			  const uint32_t weights[], size_t n, struct sl_diag *diag)
{
	__u32 w[SL_MAX_SUBSETS] = {}, total = 0, svc_id;
	const struct sl_status_service *ss;
	struct sl_status st = {};
	struct sl_state cur;
	size_t i, j;
	int err;

	err = sl_tables_read_status(m, &st);
	if (err)
		return err;
	ss = sl_status_find(&st, service);
	if (!ss) {
		sl_diag_add(diag, NULL, "error", "no service '%s' in the running configuration",
			    service);
		err = -ENOENT;
		goto out;
	}
	svc_id = ss->svc_id;
	for (i = 0; i < n; i++) {
		for (j = 0; j < ss->n_subsets; j++)
			if (!strcmp(ss->subsets[j].name, names[i]))
				break;
		if (j == ss->n_subsets) {
			sl_diag_add(diag, NULL, "error", "service '%s' has no subset '%s'", service,
				    names[i]);
			err = -EINVAL;
			goto out;
		}
		if (weights[i] > SL_MAX_WEIGHT) {
			sl_diag_add(diag, NULL, "error", "weight %u of '%s' is above %d",
				    weights[i], names[i], SL_MAX_WEIGHT);
			err = -EINVAL;
			goto out;
		}
		w[j] = weights[i];
	}
	for (j = 0; j < SL_MAX_SUBSETS; j++)
		total += w[j];
	if (!total) {
		sl_diag_add(diag, NULL, "error",
			    "all weights are 0; at least one subset must get traffic");
		err = -EINVAL;
		goto out;
	}

	err = sl_maps_read_state(m, &cur);
	err = err ?: rcu_barrier();
	err = err ?: clear_inactive(m, cur.active_slot ^ 1);
	err = err ?: copy_slot(m, cur.active_slot, cur.active_slot ^ 1, svc_id, w);
	err = err ?: flip(m, cur.active_slot ^ 1);
out:
	sl_status_free(&st);
	return err;
}
