// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reading the tables and counters back (counters.h), for status, top,
 * metrics and the weights override: what is in force in the active slot,
 * every per-CPU counter summed, the L7 step's share added. Only reads the
 * maps; calls maps.h and libbpf, nothing of the writer (tables.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath/counters.h"
#include "datapath/rt.h"

/* The route `status` and `weights` talk about: the last one without a match. */
int sl_status_default_route(const struct sl_service *val)
{
	int r;

	for (r = (int)val->n_routes - 1; r >= 0; r--)
		if (r < SL_MAX_ROUTES &&
		    !(val->routes[r].flags & (SL_ROUTE_MATCH_CIDR | SL_ROUTE_MATCH_LABELS |
					      SL_ROUTE_MATCH_DST | SL_ROUTE_NEEDS_L7)))
			return r;
	return val->n_routes ? (int)val->n_routes - 1 : -1;
}

static const char *const global_names[SL_G_MAX] = {
    [SL_G_PASS] = "pass",
    [SL_G_NEW_CONN] = "new_conn",
    [SL_G_ESTABLISHED] = "established",
    [SL_G_REPLY] = "reply",
    [SL_G_FRAGMENT] = "fragment",
    [SL_G_MALFORMED] = "malformed",
    [SL_G_NO_ROUTE] = "no_route",
    [SL_G_NO_ENDPOINT] = "no_endpoint",
    [SL_G_CT_FULL] = "ct_full",
    [SL_G_PORT_REUSE] = "port_reuse",
    [SL_G_NAT_FAIL] = "nat_fail",
    [SL_G_UDP_EXPIRED] = "udp_expired",
    [SL_G_REVNAT_RESTORED] = "revnat_restored",
    [SL_G_L7_LOCAL] = "l7_local",
    [SL_G_L7_FALLBACK] = "l7_fallback",
    [SL_G_L7_ESTABLISHED] = "l7_established",
    [SL_G_CT_MISS] = "ct_miss",
    [SL_G_WRONG_IFACE] = "wrong_iface",
    [SL_G_SRC_REJECTED] = "src_rejected",
    [SL_G_PORT_REMAP] = "port_remap",
    [SL_G_CLASH_DROP] = "clash_drop",
    [SL_G_HAIRPIN] = "hairpin",
    [SL_G_CT_CONFIRMED] = "ct_confirmed",
    [SL_G_REVNAT_FULL] = "revnat_full",
    [SL_G_HTTP_CODES_FULL] = "http_codes_full",
    [SL_G_FAST_REDIRECT] = "fast_redirect",
    [SL_G_ABORT_RESET] = "abort_reset",
};

static const char *const l7_names[SL_L7_C_MAX] = {
    [SL_L7_C_ACCEPTED] = "accepted",
    [SL_L7_C_ACTIVE] = "active",
    [SL_L7_C_HEADER_ROUTE] = "header_route",
    [SL_L7_C_DEFAULT_ROUTE] = "default_route",
    [SL_L7_C_HEAD_TOO_BIG] = "head_too_big",
    [SL_L7_C_NOT_HTTP] = "not_http",
    [SL_L7_C_HEAD_TIMEOUT] = "head_timeout",
    [SL_L7_C_NO_ROUTE] = "no_route",
    [SL_L7_C_CONNECT_FAILED] = "connect_failed",
    [SL_L7_C_OVER_LIMIT] = "over_limit",
    [SL_L7_C_HANDED_OVER] = "handed_over",
    [SL_L7_C_TAKEN_OVER] = "taken_over",
    [SL_L7_C_CLIENT_LIMIT] = "client_limit",
    [SL_L7_C_IDLE_TIMEOUT] = "idle_timeout",
    [SL_L7_C_CODES_FULL] = "codes_full",
    [SL_L7_C_BAD_REQUEST] = "bad_request",
};

const char *sl_l7_counter_name(int idx)
{
	return idx >= 0 && idx < SL_L7_C_MAX && l7_names[idx] ? l7_names[idx] : "?";
}

const char *sl_global_name(int idx)
{
	return idx >= 0 && idx < SL_G_MAX && global_names[idx] ? global_names[idx] : "?";
}

void sl_stats_add(struct sl_stats *sum, const struct sl_stats *v)
{
	int k;

	sum->conns_opened += v->conns_opened;
	sum->conns_closed += v->conns_closed;
	sum->packets_in += v->packets_in;
	sum->bytes_in += v->bytes_in;
	sum->packets_out += v->packets_out;
	sum->bytes_out += v->bytes_out;
	sum->backend_resets += v->backend_resets;
	sum->no_endpoint += v->no_endpoint;
	for (k = 0; k < 5; k++)
		sum->http_responses[k] += v->http_responses[k];
}

static int read_stats(const struct sl_maps *m, __u32 id, struct sl_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct sl_stats *v, l7;

	memset(sum, 0, sizeof(*sum));
	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(m->stats, &id, v)) {
		free(v);
		return -errno;
	}
	for (c = 0; c < ncpu; c++)
		sl_stats_add(sum, &v[c]);
	free(v);
	/* the L7 step's share: one picture whichever path carried a connection */
	if (m->l7_stats >= 0 && !bpf_map_lookup_elem(m->l7_stats, &id, &l7))
		sl_stats_add(sum, &l7);
	return 0;
}

static int read_global(const struct sl_maps *m, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	__u32 i;
	__u64 *v;

	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < SL_G_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(m->global, &i, v))
			continue;
		for (c = 0; c < ncpu; c++)
			out[i] += v[c];
	}
	free(v);
	return 0;
}

/*
 * Attach every (subset, code) counter of map fd (per-CPU values when ncpu >
 * 1) to its subset in st, adding to what is there.
 */
static int read_http_codes_of(int fd, int ncpu, struct sl_status *st)
{
	int c;
	struct sl_http_code_key k, nk, *cur = NULL;
	size_t i, j;
	__u64 *v;

	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, cur, &nk)) {
		__u64 sum = 0;

		k = nk;
		cur = &k;
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (c = 0; c < ncpu; c++)
			sum += v[c];
		for (i = 0; i < st->n_services; i++)
			for (j = 0; j < st->services[i].n_subsets; j++) {
				struct sl_status_subset *sub = &st->services[i].subsets[j];
				struct sl_status_http_code *p;

				if (sub->subset_id != k.subset_id)
					continue;
				for (c = 0; c < (int)sub->n_codes; c++)
					if (sub->codes[c].code == k.code)
						break;
				if (c < (int)sub->n_codes) {
					sub->codes[c].count += sum;
					continue;
				}
				p = realloc(sub->codes, (sub->n_codes + 1) * sizeof(*p));
				if (!p) {
					free(v);
					return -ENOMEM;
				}
				sub->codes = p;
				sub->codes[sub->n_codes++] =
				    (struct sl_status_http_code){.code = k.code, .count = sum};
			}
	}
	free(v);
	return 0;
}

static int read_http_codes(const struct sl_maps *m, struct sl_status *st)
{
	int ncpu = libbpf_num_possible_cpus(), err;

	if (ncpu < 0)
		return ncpu;
	err = read_http_codes_of(m->http_codes, ncpu, st);
	if (!err && m->l7_codes >= 0)
		err = read_http_codes_of(m->l7_codes, 1, st);
	return err;
}

static struct sl_status_service *status_service(struct sl_status *st, __u32 svc_id)
{
	size_t i;
	void *p;

	for (i = 0; i < st->n_services; i++)
		if (st->services[i].svc_id == svc_id)
			return &st->services[i];
	p = realloc(st->services, (st->n_services + 1) * sizeof(*st->services));
	if (!p)
		return NULL;
	st->services = p;
	memset(&st->services[st->n_services], 0, sizeof(*st->services));
	st->services[st->n_services].svc_id = svc_id;
	return &st->services[st->n_services++];
}

static int add_port(struct sl_status_service *ss, const struct sl_svc_key *k,
		    const struct sl_service *v)
{
	struct sl_status_port *p;

	p = realloc(ss->ports, (ss->n_ports + 1) * sizeof(*ss->ports));
	if (!p)
		return -ENOMEM;
	ss->ports = p;
	p = &ss->ports[ss->n_ports++];
	memset(p, 0, sizeof(*p));
	p->vip.family = k->family;
	memcpy(p->vip.addr, k->addr, 16);
	p->port = ntohs(k->port);
	p->target_port = ntohs(v->target_port);
	p->proto = k->proto;
	p->flags = v->flags;
	return 0;
}

const char *sl_status_path(const struct sl_status_port *p)
{
	if (!(p->flags & SL_SVC_L7))
		return sl_path_name(SL_PATH_KERNEL);
	if (p->flags & SL_SVC_L7_HTTP2)
		return sl_path_name(SL_PATH_HTTP2);
	if (p->flags & SL_SVC_L7_GRPC)
		return sl_path_name(SL_PATH_GRPC);
	if (p->flags & SL_SVC_L7_PER_REQUEST)
		return sl_path_name(SL_PATH_PER_REQUEST);
	return sl_path_name(SL_PATH_HTTP_ROUTES);
}

static int add_endpoints(const struct sl_maps *m, struct sl_status_subset *sub, __u32 base,
			 __u32 count)
{
	__u32 i, k;

	for (i = 0; i < count; i++) {
		__u32 idx = base + i;
		struct sl_endpoint ep;
		struct sl_status_endpoint *p;

		if (bpf_map_lookup_elem(m->endpoints, &idx, &ep))
			return -errno;
		for (k = 0; k < sub->n_eps; k++)
			if (sub->eps[k].a.family == ep.family &&
			    !memcmp(sub->eps[k].a.addr, ep.addr, 16) &&
			    sub->eps[k].port == ntohs(ep.port))
				break;
		if (k < sub->n_eps)
			continue;
		p = realloc(sub->eps, (sub->n_eps + 1) * sizeof(*sub->eps));
		if (!p)
			return -ENOMEM;
		sub->eps = p;
		p = &sub->eps[sub->n_eps++];
		memset(p, 0, sizeof(*p));
		p->a.family = ep.family;
		memcpy(p->a.addr, ep.addr, 16);
		p->port = ntohs(ep.port);
	}
	return 0;
}

static int cmp_port(const void *a, const void *b)
{
	const struct sl_status_port *x = a, *y = b;
	int c = x->vip.family - y->vip.family;

	c = c ?: memcmp(x->vip.addr, y->vip.addr, 16);
	c = c ?: x->port - y->port;
	return c ?: x->proto - y->proto;
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const struct sl_status_service *)a)->name,
		      ((const struct sl_status_service *)b)->name);
}

int sl_tables_read_status(const struct sl_maps *m, struct sl_status *st)
{
	struct sl_svc_key k, nk, *cur = NULL;
	struct sl_service v;
	size_t j;
	int err;

	memset(st, 0, sizeof(*st));
	err = sl_maps_read_state(m, &st->state);
	err = err ?: read_global(m, st->global);
	if (err)
		return err;
	if (m->l7_counters >= 0) {
		struct sl_l7_counters l7;
		__u32 zero = 0;

		if (!bpf_map_lookup_elem(m->l7_counters, &zero, &l7))
			memcpy(st->l7, l7.c, sizeof(st->l7));
	}

	while (!bpf_map_get_next_key(m->services, cur, &nk)) {
		struct sl_status_service *ss;
		struct sl_svc_name vn;

		k = nk;
		cur = &k;
		if (k.slot != st->state.active_slot || bpf_map_lookup_elem(m->services, &k, &v))
			continue;
		ss = status_service(st, v.svc_id);
		if (!ss) {
			err = -ENOMEM;
			goto fail;
		}
		if (!ss->name[0]) {
			if (!bpf_map_lookup_elem(m->svc_names, &v.svc_id, &vn))
				snprintf(ss->name, sizeof(ss->name), "%s", vn.name);
			ss->n_subsets = v.n_subsets < SL_MAX_SUBSETS ? v.n_subsets : SL_MAX_SUBSETS;
			ss->n_routes = v.n_routes < SL_MAX_ROUTES ? v.n_routes : SL_MAX_ROUTES;
			memcpy(ss->routes, v.routes, sizeof(ss->routes));
			ss->default_route = sl_status_default_route(&v);
			ss->overridden = ss->default_route >= 0 &&
					 (v.routes[ss->default_route].flags & SL_ROUTE_OVERRIDDEN);
			for (j = 0; j < ss->n_subsets; j++) {
				struct sl_status_subset *sub = &ss->subsets[j];
				struct sl_subset_name sn;

				sub->subset_id = v.subset_id[j];
				if (!bpf_map_lookup_elem(m->subset_names, &sub->subset_id, &sn))
					snprintf(sub->name, sizeof(sub->name), "%s", sn.subset);
				sub->weight = ss->default_route >= 0
						  ? v.routes[ss->default_route].weight[j]
						  : 0;
				err = read_stats(m, sub->subset_id, &sub->stats);
				err = err ?: sl_rt_read(m, sub->subset_id, &sub->rt);
				if (err)
					goto fail;
			}
		}
		/* SL_SVC_L7 is per key (TCP ports only): the service has it if any key does */
		ss->flags |= v.flags;
		err = add_port(ss, &k, &v);
		for (j = 0; !err && j < ss->n_subsets; j++)
			err = add_endpoints(m, &ss->subsets[j], v.ep_base[j], v.ep_count[j]);
		if (err)
			goto fail;
	}
	if (st->n_services)
		qsort(st->services, st->n_services, sizeof(*st->services), cmp_service);
	for (j = 0; j < st->n_services; j++)
		qsort(st->services[j].ports, st->services[j].n_ports,
		      sizeof(*st->services[j].ports), cmp_port);
	err = read_http_codes(m, st);
	if (err)
		goto fail;
	return 0;
fail:
	sl_status_free(st);
	return err;
}

void sl_status_free(struct sl_status *st)
{
	size_t i, j;

	for (i = 0; i < st->n_services; i++) {
		free(st->services[i].ports);
		for (j = 0; j < SL_MAX_SUBSETS; j++) {
			free(st->services[i].subsets[j].eps);
			free(st->services[i].subsets[j].codes);
		}
	}
	free(st->services);
	memset(st, 0, sizeof(*st));
}

int sl_tables_count_conntrack(const struct sl_maps *m)
{
	struct sl_ct_key k, nk, *cur = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(m->conntrack, cur, &nk)) {
		k = nk;
		cur = &k;
		n++;
	}
	return n;
}

const struct sl_status_service *sl_status_find(const struct sl_status *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n_services; i++)
		if (!strcmp(st->services[i].name, name))
			return &st->services[i];
	return NULL;
}
