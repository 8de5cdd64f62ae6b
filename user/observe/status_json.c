// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What is in force, as JSON: one builder for `sluice status -j`, the
 * metrics server's /api/v1/stats and anything else that shows it.
 */
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "datapath/datapath.h"
#include "observe/status_json.h"
#include "datapath/rt.h"

const char *sl_proto_name(uint8_t p)
{
	return p == IPPROTO_UDP ? "UDP" : "TCP";
}

void sl_endpoint_str(const struct sl_status_endpoint *e, char *buf, size_t len)
{
	char a[64];

	sl_addr_str(&e->a, a, sizeof(a));
	if (!e->port)
		snprintf(buf, len, "%s", a);
	else if (e->a.family == SL_AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, e->port);
	else
		snprintf(buf, len, "%s:%u", a, e->port);
}

static const struct {
	__u32 flag;
	const char *name;
} match_names[] = {
    {SL_ROUTE_MATCH_CIDR, "sourceCIDRs"},
    {SL_ROUTE_MATCH_LABELS, "sourceLabels"},
    {SL_ROUTE_MATCH_DST, "destination"},
    {SL_ROUTE_NEEDS_L7, "http"},
};

/* "sourceCIDRs+sourceLabels", or "(default)" for a match-less route. */
const char *sl_route_match(const struct sl_route *r, char *buf, size_t len)
{
	size_t i, n = 0;

	buf[0] = 0;
	for (i = 0; i < sizeof(match_names) / sizeof(match_names[0]); i++)
		if (r->flags & match_names[i].flag)
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "+" : "",
				      match_names[i].name);
	return buf[0] ? buf : "(default)";
}

bool sl_route_enforced(const struct sl_route *r)
{
	return !(r->flags & SL_ROUTE_NEEDS_L7) || r->l7_spec;
}

const char *sl_route_note(const struct sl_route *r)
{
	if (!sl_route_enforced(r))
		return "  [not enforced: matches on queryParams or scheme; never matched]";
	if (r->flags & SL_ROUTE_NEEDS_L7)
		return "  [http: decided per request by the L7 step]";
	if (r->flags & SL_ROUTE_OVERRIDDEN)
		return "  [overridden by `sluice weights`]";
	return "";
}

const char *sl_route_http_match(const struct sl_maps *m, const struct sl_route *r,
				struct sl_l7_spec *buf)
{
	if (!m || m->l7_specs < 0 || !(r->flags & SL_ROUTE_NEEDS_L7) || !r->l7_spec ||
	    bpf_map_lookup_elem(m->l7_specs, &r->l7_spec, buf))
		return NULL;
	buf->text[sizeof(buf->text) - 1] = 0;
	return buf->text;
}

void sl_l7_view_read(struct sl_l7_view *v, const struct sl_maps *m, const char *pin_dir,
		     const struct sl_status *st)
{
	struct sl_state state;
	char path[PATH_MAX];
	__u32 i;
	int fd;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < SL_L7_LISTEN_MAX; i++) {
		/* a sockmap with 8-byte values answers with the socket's cookie */
		__u64 cookie;

		v->listening[i] =
		    m->l7_listen >= 0 && !bpf_map_lookup_elem(m->l7_listen, &i, &cookie);
	}
	if (!sl_maps_read_state(m, &state))
		sl_dp_route_from_state(&state);
	v->route_err = sl_policy_route_query(&v->route);
	if (v->route_err)
		memset(&v->route, 0, sizeof(v->route));
	snprintf(path, sizeof(path), "%s/%s", pin_dir, SL_LINK_L7_LOOKUP);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		v->link_pinned = true;
		v->link_here = sl_dp_link_here(fd);
		close(fd);
	}
	for (i = 0; i < st->n_services; i++)
		/* the flag the datapath asks: some TCP key of it has HTTP routes */
		v->n_services += !!(st->services[i].flags & SL_SVC_L7);
}

static json_object *l7_json(const struct sl_status *st, const struct sl_l7_view *v)
{
	json_object *o = json_object_new_object(), *ls = json_object_new_object();
	json_object *c = json_object_new_object(), *pr = NULL;
	int i;

	json_object_object_add(ls, "ipv4",
			       json_object_new_boolean(v->listening[SL_L7_LISTEN_INET]));
	json_object_object_add(ls, "ipv6",
			       json_object_new_boolean(v->listening[SL_L7_LISTEN_INET6]));
	/* null: could not be asked, which is not the same as absent */
	if (!v->route_err) {
		pr = json_object_new_object();
		json_object_object_add(pr, "ipv4_rule", json_object_new_boolean(v->route.rule4));
		json_object_object_add(pr, "ipv4_route", json_object_new_boolean(v->route.route4));
		json_object_object_add(pr, "ipv6_rule", json_object_new_boolean(v->route.rule6));
		json_object_object_add(pr, "ipv6_route", json_object_new_boolean(v->route.route6));
	}
	for (i = 0; i < SL_L7_C_MAX; i++)
		json_object_object_add(c, sl_l7_counter_name(i), json_object_new_uint64(st->l7[i]));
	json_object_object_add(o, "services", json_object_new_int64(v->n_services));
	json_object_object_add(o, "listening", ls);
	json_object_object_add(o, "policy_route", pr);
	json_object_object_add(o, "lookup_link", json_object_new_boolean(v->link_pinned));
	json_object_object_add(o, "lookup_link_here", json_object_new_boolean(v->link_here));
	json_object_object_add(o, "counters", c);
	return o;
}

static json_object *subset_json(const struct sl_status_subset *s)
{
	json_object *o = json_object_new_object(), *eps = json_object_new_array();
	json_object *http = json_object_new_object(), *codes = json_object_new_object();
	const struct sl_stats *st = &s->stats;
	char buf[80];
	size_t i;

	for (i = 0; i < s->n_eps; i++) {
		sl_endpoint_str(&s->eps[i], buf, sizeof(buf));
		json_object_array_add(eps, json_object_new_string(buf));
	}
	json_object_object_add(o, "name", json_object_new_string(s->name));
	json_object_object_add(o, "id", json_object_new_int(s->subset_id));
	json_object_object_add(o, "weight", json_object_new_int64(s->weight));
	json_object_object_add(o, "endpoints", eps);
	json_object_object_add(o, "connections_opened", json_object_new_uint64(st->conns_opened));
	json_object_object_add(o, "connections_closed", json_object_new_uint64(st->conns_closed));
	json_object_object_add(o, "connections_active",
			       json_object_new_uint64(st->conns_opened > st->conns_closed
							  ? st->conns_opened - st->conns_closed
							  : 0));
	json_object_object_add(o, "packets_in", json_object_new_uint64(st->packets_in));
	json_object_object_add(o, "bytes_in", json_object_new_uint64(st->bytes_in));
	json_object_object_add(o, "packets_out", json_object_new_uint64(st->packets_out));
	json_object_object_add(o, "bytes_out", json_object_new_uint64(st->bytes_out));
	json_object_object_add(o, "backend_resets", json_object_new_uint64(st->backend_resets));
	json_object_object_add(o, "no_endpoint", json_object_new_uint64(st->no_endpoint));
	for (i = 0; i < 5; i++) {
		snprintf(buf, sizeof(buf), "%zuxx", i + 1);
		json_object_object_add(http, buf, json_object_new_uint64(st->http_responses[i]));
	}
	json_object_object_add(o, "http_responses", http);
	for (i = 0; i < s->n_codes; i++) {
		snprintf(buf, sizeof(buf), "%u", s->codes[i].code);
		json_object_object_add(codes, buf, json_object_new_uint64(s->codes[i].count));
	}
	json_object_object_add(o, "http_codes", codes);
	json_object_object_add(o, "response_time", sl_rt_json(&s->rt));
	return o;
}

json_object *sl_rt_json(const struct sl_rt_hist *h)
{
	json_object *o = json_object_new_object(), *b = json_object_new_array();
	double p50 = sl_rt_quantile(h, 0.5), p99 = sl_rt_quantile(h, 0.99);
	int i;

	json_object_object_add(o, "count", json_object_new_uint64(h->count));
	json_object_object_add(o, "sum_us", json_object_new_uint64(h->sum_us));
	json_object_object_add(o, "p50_ms", p50 < 0 ? NULL : json_object_new_double(p50 / 1000));
	json_object_object_add(o, "p99_ms", p99 < 0 ? NULL : json_object_new_double(p99 / 1000));
	for (i = 0; i < SL_RT_BUCKETS; i++)
		json_object_array_add(b, json_object_new_uint64(h->bucket[i]));
	json_object_object_add(o, "buckets_log2_us", b);
	return o;
}

static json_object *service_json(const struct sl_status_service *s, const struct sl_maps *maps)
{
	struct sl_l7_spec spec;
	const char *text;
	json_object *o = json_object_new_object(), *ports = json_object_new_array(),
		    *routes = json_object_new_array(), *subsets = json_object_new_array();
	char buf[64];
	size_t i, j;

	json_object_object_add(o, "name", json_object_new_string(s->name));
	json_object_object_add(o, "id", json_object_new_int(s->svc_id));
	json_object_object_add(o, "affinity",
			       json_object_new_string(s->flags & SL_SVC_AFFINITY_CLIENT_IP
							  ? "client-ip"
							  : "connection"));
	json_object_object_add(o, "overridden", json_object_new_boolean(s->overridden));
	for (i = 0; i < s->n_ports; i++) {
		json_object *p = json_object_new_object();

		json_object_object_add(
		    p, "vip",
		    json_object_new_string(sl_addr_str(&s->ports[i].vip, buf, sizeof(buf))));
		json_object_object_add(p, "port", json_object_new_int(s->ports[i].port));
		json_object_object_add(p, "protocol",
				       json_object_new_string(sl_proto_name(s->ports[i].proto)));
		json_object_object_add(p, "target_port",
				       json_object_new_int(s->ports[i].target_port));
		json_object_object_add(p, "path",
				       json_object_new_string(sl_status_path(&s->ports[i])));
		json_object_array_add(ports, p);
	}
	for (i = 0; i < s->n_routes; i++) {
		json_object *r = json_object_new_object(), *w = json_object_new_object();
		json_object *m = json_object_new_array();

		for (j = 0; j < sizeof(match_names) / sizeof(match_names[0]); j++)
			if (s->routes[i].flags & match_names[j].flag)
				json_object_array_add(m,
						      json_object_new_string(match_names[j].name));
		json_object_object_add(r, "enforced",
				       json_object_new_boolean(sl_route_enforced(&s->routes[i])));
		text = sl_route_http_match(maps, &s->routes[i], &spec);
		if (text) {
			size_t n = strlen(text);

			/* the spec's last line end is optional: not part of the match */
			n -= n && text[n - 1] == '\n';
			json_object_object_add(r, "http_match",
					       json_object_new_string_len(text, n));
		} else {
			json_object_object_add(r, "http_match", NULL);
		}
		for (j = 0; j < s->n_subsets; j++)
			json_object_object_add(w, s->subsets[j].name,
					       json_object_new_int64(s->routes[i].weight[j]));
		json_object_object_add(r, "index", json_object_new_int(i));
		json_object_object_add(r, "match", m);
		json_object_object_add(r, "weights", w);
		json_object_object_add(r, "default",
				       json_object_new_boolean((int)i == s->default_route));
		json_object_object_add(
		    r, "overridden",
		    json_object_new_boolean(s->routes[i].flags & SL_ROUTE_OVERRIDDEN));
		json_object_array_add(routes, r);
	}
	for (i = 0; i < s->n_subsets; i++)
		json_object_array_add(subsets, subset_json(&s->subsets[i]));
	json_object_object_add(o, "ports", ports);
	json_object_object_add(o, "routes", routes);
	json_object_object_add(o, "subsets", subsets);
	return o;
}

json_object *sl_status_json(const struct sl_status *st, const struct sl_maps *m,
			    const struct sl_l7_view *l7)
{
	json_object *o = json_object_new_object(), *svcs = json_object_new_array();
	json_object *g = json_object_new_object();
	size_t i;

	for (i = 0; i < st->n_services; i++)
		json_object_array_add(svcs, service_json(&st->services[i], m));
	for (i = 0; i < SL_G_MAX; i++)
		json_object_object_add(g, sl_global_name(i), json_object_new_uint64(st->global[i]));
	json_object_object_add(o, "generation", json_object_new_uint64(st->state.generation));
	json_object_object_add(o, "applied_ns", json_object_new_uint64(st->state.applied_ns));
	json_object_object_add(o, "active_slot", json_object_new_int(st->state.active_slot));
	json_object_object_add(o, "conntrack_entries", json_object_new_int64(st->ct_entries));
	json_object_object_add(o, "datapath", g);
	json_object_object_add(o, "services", svcs);
	if (l7)
		json_object_object_add(o, "l7", l7_json(st, l7));
	return o;
}
