// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Writing the configuration tables. An apply plans every id first, then
 * writes in place (tables_inplace.c: only what changed, each key in one
 * atomic map update) or, when it must, the whole slot:
 *   1. wait out readers of the inactive slot (an RCU grace period),
 *   2. clear and fill the inactive slot,
 *   3. flip sl_state.active_slot to it in one map update,
 *   4. wait out readers of the old slot again.
 * A packet reads active_slot once, then only that slot's entries, so it sees
 * one whole configuration. Until step 3 nothing visible has changed: a
 * failed apply leaves the datapath on its last good configuration.
 *
 * The writer only: reading the tables back is counters.c; the weights
 * override is weights.c. Calls maps.h, counters.h and libbpf.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/random.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/hidx.h"
#include "lib/log.h"
#include "datapath/counters.h"
#include "datapath/tables.h"
#include "datapath/tables_internal.h"
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

int sl_tb_read_batch(int fd, const void *start_after, void *keys, void *vals, __u32 max,
		     __u32 *n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), count;
	unsigned char in[64], out[64];
	void *cur = NULL;
	int err = 0;

	*n = 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	/* an array's batch position is the key before the next one; a hash's, a bucket */
	if (start_after) {
		memcpy(in, start_after, info.key_size);
		cur = in;
	}
	while (*n < max) {
		count = max - *n;
		err = bpf_map_lookup_batch(fd, cur, out, (char *)keys + (size_t)*n * info.key_size,
					   (char *)vals + (size_t)*n * info.value_size, &count,
					   &opts);
		*n += count;
		if (err) {
			err = errno == ENOENT ? 0 : -errno;
			break;
		}
		memcpy(in, out, sizeof(in));
		cur = in;
	}
	return err;
}

int sl_tb_read_all(int fd, void **keys, void **vals, __u32 *n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), count;
	unsigned char in[64], out[64];
	size_t cap = 0;
	void *cur = NULL;
	int err = 0;

	*keys = *vals = NULL;
	*n = 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	for (;;) {
		if (cap - *n < 4096) {
			void *k, *v;

			cap = cap ? cap * 2 : 8192;
			k = realloc(*keys, cap * info.key_size);
			if (k)
				*keys = k;
			v = realloc(*vals, cap * info.value_size);
			if (v)
				*vals = v;
			if (!k || !v)
				return -ENOMEM;
		}
		count = cap - *n;
		err = bpf_map_lookup_batch(fd, cur, out, (char *)*keys + (size_t)*n * info.key_size,
					   (char *)*vals + (size_t)*n * info.value_size, &count,
					   &opts);
		*n += count;
		if (err)
			return errno == ENOENT ? 0 : -errno;
		memcpy(in, out, sizeof(in));
		cur = in;
	}
}

int sl_tb_update_batch(int fd, const void *keys, const void *vals, size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = n;

	if (!n)
		return 0;
	return bpf_map_update_batch(fd, keys, vals, &count, &opts) ? -errno : 0;
}

static int filters_load(const struct sl_maps *m, struct sl_filters *f)
{
	__u32 keys[SL_FILTER_WORDS], n;
	int err;

	err = sl_tb_read_batch(m->vip_filter, NULL, keys, f->vip, SL_FILTER_WORDS, &n);
	if (!err && n != SL_FILTER_WORDS)
		err = -EIO;
	err = err ?: sl_tb_read_batch(m->be_filter, NULL, keys, f->be, SL_FILTER_WORDS, &n);
	if (!err && n != SL_FILTER_WORDS)
		err = -EIO;
	memcpy(f->vip0, f->vip, sizeof(f->vip));
	memcpy(f->be0, f->be, sizeof(f->be));
	return err;
}

static void filter_bit(__u64 *w, const __be32 addr[4], __be16 port, __u8 proto)
{
	__u32 bit = sl_filter_bit(addr, port, proto);

	w[bit >> 6] |= 1ULL << (bit & 63);
}

void sl_filters_vip(struct sl_filters *f, const struct sl_svc_key *k)
{
	filter_bit(f->vip, k->addr, k->port, k->proto);
}

void sl_filters_be(struct sl_filters *f, const struct sl_endpoint *ep, __be16 target_port,
		   __u8 proto)
{
	filter_bit(f->be, ep->addr, ep->port ?: target_port, proto);
}

int sl_filters_store(const struct sl_maps *m, struct sl_filters *f)
{
	__u32 i;

	/* one aligned 8-byte value each: readers see a word before or after */
	for (i = 0; i < SL_FILTER_WORDS; i++) {
		if (f->vip[i] != f->vip0[i] && bpf_map_update_elem(m->vip_filter, &i, &f->vip[i], 0))
			return -errno;
		if (f->be[i] != f->be0[i] && bpf_map_update_elem(m->be_filter, &i, &f->be[i], 0))
			return -errno;
		f->vip0[i] = f->vip[i];
		f->be0[i] = f->be[i];
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
		if (!sl_route_applies_at(rt, vip, pc))
			out->flags |= SL_ROUTE_SKIP;
		if (rt->needs_l7) {
			out->flags |= SL_ROUTE_NEEDS_L7;
			out->l7_spec = rt->l7_spec ? l7_spec_id(rt->l7_spec) : 0;
		}
		out->total_weight = 0;
		for (j = 0; j < SL_MAX_SUBSETS; j++) {
			out->weight[j] = j < s->n_subsets ? rt->weight[j] : 0;
			out->total_weight += out->weight[j];
		}
	}
}

/*
 * Whether a key goes through the L7 step, and why when it has no HTTP
 * routes: by the same predicate `sluice check` prints (sl_port_path_at()).
 */
static uint32_t l7_path_flags(const struct sl_service_cfg *s, const struct sl_addr *vip,
			      const struct sl_port_cfg *pc)
{
	switch (sl_port_path_at(s, vip, pc)) {
	case SL_PATH_HTTP_ROUTES:
		return SL_SVC_L7;
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

void sl_tb_key_value(const struct sl_service_cfg *s, const struct svc_plan *plan, size_t v,
		     size_t p, struct sl_svc_key *key, struct sl_service *val)
{
	size_t j;

	memset(key, 0, sizeof(*key));
	memset(val, 0, sizeof(*val));
	key->port = htons(s->ports[p].port);
	key->proto = s->ports[p].proto;
	key->family = s->vips[v].family;
	memcpy(key->addr, s->vips[v].addr, 16);
	val->svc_id = plan->svc_id;
	val->flags = s->affinity == SL_AFFINITY_CLIENT_IP ? SL_SVC_AFFINITY_CLIENT_IP : 0;
	val->target_port = htons(s->ports[p].target_port);
	val->n_subsets = s->n_subsets;
	for (j = 0; j < s->n_subsets; j++)
		val->subset_id[j] = plan->subset_id[j];
	fill_routes(val, s, &s->vips[v], &s->ports[p]);
	val->flags |= l7_path_flags(s, &s->vips[v], &s->ports[p]);
	if (s->ports[p].app == SL_APP_TCP)
		val->flags |= SL_SVC_NO_HTTP;
}

__u32 sl_tb_n_endpoints(const struct sl_service_cfg *s)
{
	__u32 n = 0;
	size_t j;

	for (j = 0; j < s->n_subsets; j++)
		n += s->subsets[j].n_eps;
	return n;
}

/* Endpoints per family: a v4 VIP can only be DNATed to v4 endpoints. */
__u32 sl_tb_endpoints(const struct sl_service_cfg *s, int fam, struct sl_endpoint *out,
		      __u32 count[SL_MAX_SUBSETS])
{
	uint8_t family = fam ? SL_AF_INET6 : SL_AF_INET;
	__u32 n = 0;
	size_t j, e;

	for (j = 0; j < SL_MAX_SUBSETS; j++)
		count[j] = 0;
	for (j = 0; j < s->n_subsets; j++) {
		const struct sl_subset_cfg *sub = &s->subsets[j];

		for (e = 0; e < sub->n_eps; e++) {
			if (sub->eps[e].a.family != family)
				continue;
			if (out) {
				memset(&out[n], 0, sizeof(out[n]));
				out[n].family = family;
				memcpy(out[n].addr, sub->eps[e].a.addr, 16);
				out[n].port = htons(sub->eps[e].port);
			}
			n++;
			count[j]++;
		}
	}
	return n;
}

/* The whole-slot writer: one service into the (cleared) inactive slot. */
static int write_service(const struct sl_maps *m, const struct sl_config *cfg,
			 const struct sl_service_cfg *s, const struct svc_plan *plan, __u32 slot,
			 __u32 *ep_next, struct sl_diag *diag)
{
	__u32 base[2][SL_MAX_SUBSETS] = {}, count[2][SL_MAX_SUBSETS] = {}, n, i;
	struct sl_endpoint *eps;
	size_t f, j, v, p;
	int err = 0;

	eps = calloc(sl_tb_n_endpoints(s) ?: 1, sizeof(*eps));
	if (!eps)
		return -ENOMEM;
	for (f = 0; f < 2 && !err; f++) {
		n = sl_tb_endpoints(s, f, eps, count[f]);
		if (*ep_next + n > m->max_endpoints) {
			sl_diag_add(diag, &s->pos, "error",
				    "more than %u endpoints in all services (`run --max-services` "
				    "x 4)",
				    m->max_endpoints);
			err = -ENOSPC;
			break;
		}
		for (j = 0, i = 0; j < s->n_subsets; i += count[f][j], j++)
			base[f][j] = slot * m->max_endpoints + *ep_next + i;
		for (i = 0; i < n; i++) {
			__u32 idx = slot * m->max_endpoints + *ep_next + i;

			if (bpf_map_update_elem(m->endpoints, &idx, &eps[i], BPF_ANY)) {
				err = -errno;
				break;
			}
		}
		*ep_next += n;
	}
	free(eps);
	if (err)
		return err;

	for (v = 0; v < s->n_vips; v++) {
		f = s->vips[v].family == SL_AF_INET6;
		for (p = 0; p < s->n_ports; p++) {
			struct sl_service val;
			struct sl_svc_key key;

			sl_tb_key_value(s, plan, v, p, &key, &val);
			key.slot = slot;
			for (j = 0; j < s->n_subsets; j++) {
				val.ep_base[j] = base[f][j];
				val.ep_count[j] = count[f][j];
			}
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

int sl_tb_bump_generation(const struct sl_maps *m)
{
	struct timespec ts;
	struct sl_state c;
	int err;

	err = sl_maps_read_state(m, &c);
	if (err)
		return err;
	clock_gettime(CLOCK_REALTIME, &ts);
	c.generation++;
	c.applied_ns = (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	return write_config(m, &c);
}

/* What the datapath was sized for (`run --max-services`) against what cfg needs. */
static int check_room(const struct sl_maps *m, const struct sl_config *cfg, struct sl_diag *diag)
{
	size_t i, keys = 0, eps = 0;

	for (i = 0; i < cfg->n_services; i++) {
		keys += cfg->services[i].n_vips * cfg->services[i].n_ports;
		eps += sl_tb_n_endpoints(&cfg->services[i]);
	}
	if (keys > m->max_keys) {
		sl_diag_add(diag, NULL, "error",
			    "this configuration has %zu (VIP, port) pairs; the datapath holds %u "
			    "(`run --max-services`)",
			    keys, m->max_keys);
		return -ENOSPC;
	}
	if (eps > m->max_endpoints) {
		sl_diag_add(diag, NULL, "error",
			    "this configuration has %zu endpoints; the datapath holds %u "
			    "(`run --max-services` x 4)",
			    eps, m->max_endpoints);
		return -ENOSPC;
	}
	return 0;
}

/* The whole-slot way: fill the inactive slot, flip to it. */
static int write_whole_slot(const struct sl_maps *m, const struct sl_config *cfg,
			    const struct svc_plan *plan, __u32 slot, struct sl_diag *diag,
			    struct sl_apply_stats *st)
{
	__u32 ep_next = 0;
	size_t i;
	int err;

	err = clear_inactive(m, slot);
	for (i = 0; i < cfg->n_services && !err; i++) {
		err = write_service(m, cfg, &cfg->services[i], &plan[i], slot, &ep_next, diag);
		st->keys_written += cfg->services[i].n_vips * cfg->services[i].n_ports;
	}
	st->endpoints_written = ep_next;
	/* before the flip: a new VIP must not be filtered out once it is live */
	err = err ?: filter_add(m, slot);
	return err ?: flip(m, slot);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

int sl_tables_apply_stats(const struct sl_maps *m, const struct sl_config *cfg,
			  struct sl_diag *diag, struct sl_apply_stats *stats)
{
	struct timespec t0;
	double t_plan = 0, t_write = 0;
	struct sl_id_alloc *svc_ids = NULL, *sub_ids = NULL;
	struct sl_apply_stats local;
	struct sl_filters *flt = NULL;
	struct svc_plan *plan = NULL;
	struct sl_state cur;
	int err;

	stats = stats ?: &local;
	memset(stats, 0, sizeof(*stats));
	err = sl_maps_read_state(m, &cur);
	err = err ?: check_room(m, cfg, diag);
	if (err)
		return err;

	plan = calloc(cfg->n_services ?: 1, sizeof(*plan));
	svc_ids = calloc(1, sizeof(*svc_ids));
	sub_ids = calloc(1, sizeof(*sub_ids));
	flt = calloc(1, sizeof(*flt));
	if (!plan || !svc_ids || !sub_ids || !flt) {
		err = -ENOMEM;
		goto out;
	}

	/*
	 * A flip by someone else may still have readers on the inactive
	 * slot, and the last in-place apply on the rows it left behind. What
	 * can find a table full comes first.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = rcu_barrier();
	err = err ?: sl_ids_plan(m, cfg, plan, svc_ids, sub_ids, diag);
	err = err ?: sl_ids_zero_new_rows(m, cfg, plan, sub_ids, stats);
	err = err ?: sl_ids_write_names(m, cfg, plan, svc_ids, sub_ids, stats);
	err = err ?: write_l7_specs(m, cfg, diag);
	err = err ?: filters_load(m, flt);
	if (err)
		goto out;
	t_plan = ms_since(&t0);
	err = sl_tb_write_in_place(m, cfg, plan, cur.active_slot, flt, stats);
	if (err == -EAGAIN) {
		stats->full = true;
		err = write_whole_slot(m, cfg, plan, cur.active_slot ^ 1, diag, stats);
	} else if (!err && (stats->keys_written || stats->keys_deleted)) {
		err = sl_tb_bump_generation(m);
	}
	t_write = ms_since(&t0);
	err = err ?: sl_tb_write_index(m, cfg, stats);
	if (err)
		goto out;
	sl_ids_release(m, svc_ids, sub_ids);
	prune_l7_specs(m, cfg);
	pr_debug("apply: ids and rows %.1f ms, tables %.1f ms (%s), index and rest %.1f ms: "
		 "%zu keys written, %zu deleted, %zu endpoints, %zu rows, %zu index entries\n",
		 t_plan, t_write - t_plan, stats->full ? "whole slot" : "in place",
		 ms_since(&t0) - t_write, stats->keys_written, stats->keys_deleted,
		 stats->endpoints_written, stats->rows_written, stats->index_written);
out:
	if (svc_ids)
		sl_ids_free(svc_ids);
	if (sub_ids)
		sl_ids_free(sub_ids);
	free(svc_ids);
	free(sub_ids);
	free(plan);
	free(flt);
	return err;
}

int sl_tables_apply(const struct sl_maps *m, const struct sl_config *cfg, struct sl_diag *diag)
{
	return sl_tables_apply_stats(m, cfg, diag, NULL);
}
