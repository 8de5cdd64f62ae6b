// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Istio's VirtualService: hosts, http and tcp routes, their match blocks
 * (the HTTP part as l7_match.h specs) and weighted destinations. Read into
 * k8s_internal.h's private form; calls k8s_read.c's helpers, the model and
 * l7/l7_match.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/k8s_internal.h"
#include "config/yaml_node.h"
#include "l7/l7_match.h"

/* Istio's StringMatch: exactly one of exact, prefix, regex (or {}: "present"). */
static void check_string_match(struct rd *r, const yaml_node_t *n, const char *what)
{
	static const char *const kinds_ok[] = {"exact", "prefix", "regex", NULL};
	size_t i, j;

	if (!sl_k8s_want(r, n, YAML_MAPPING_NODE, what))
		return;
	if (sl_yaml_map_len(n) > 1)
		sl_k8s_err_at(r, n,
			      "%s in %s has %zu match types; give one of exact, prefix or regex",
			      what, r->what, sl_yaml_map_len(n));
	for (i = 0; i < sl_yaml_map_len(n); i++) {
		const char *key = sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i));

		for (j = 0; key && kinds_ok[j]; j++)
			if (!strcmp(kinds_ok[j], key))
				break;
		if (!key || !kinds_ok[j])
			sl_k8s_err_at(
			    r, sl_yaml_map_key(r->doc, n, i),
			    "'%s' in %s of %s is not a match type; expected exact, prefix or regex",
			    key ? key : "?", what, r->what);
		else if (!sl_yaml_scalar(sl_yaml_map_value(r->doc, n, i)))
			sl_k8s_err_at(r, sl_yaml_map_value(r->doc, n, i),
				      "%s.%s in %s must be a string", what, key, r->what);
	}
}

static void check_string_match_map(struct rd *r, const yaml_node_t *n, const char *what)
{
	char sub[128];
	size_t i;

	if (!sl_k8s_want(r, n, YAML_MAPPING_NODE, what))
		return;
	for (i = 0; i < sl_yaml_map_len(n); i++) {
		snprintf(sub, sizeof(sub), "%s.%s", what,
			 sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i)) ?: "?");
		check_string_match(r, sl_yaml_map_value(r->doc, n, i), sub);
	}
}

/* True if gateways (a list) does not apply to traffic between pods ("mesh"). */
static bool gateways_only(struct rd *r, const yaml_node_t *gws)
{
	size_t i;

	if (!gws || gws->type != YAML_SEQUENCE_NODE || !sl_yaml_seq_len(gws))
		return false;
	for (i = 0; i < sl_yaml_seq_len(gws); i++)
		if (sl_yaml_scalar(sl_yaml_seq_item(r->doc, gws, i)) &&
		    !strcmp(sl_yaml_scalar(sl_yaml_seq_item(r->doc, gws, i)), "mesh"))
			return false;
	return true;
}

static int add_l7_spec(struct rd *r, const yaml_node_t *v, const char *key, char **spec);

/* One match block. Returns false if it does not apply inside the mesh (gateways). */
static int parse_match(struct rd *r, const yaml_node_t *n, bool tcp, const char *rname,
		       struct kmatch *m, bool *applies)
{
	static const char *const http_known[] = {
	    "name",	  "sourceLabels", "sourceNamespace", "port",	       "gateways",
	    "statPrefix", "uri",	  "scheme",	     "method",	       "authority",
	    "headers",	  "queryParams",  "ignoreUriCase",   "withoutHeaders", NULL};
	static const char *const tcp_known[] = {
	    "sourceLabels",	  "sourceNamespace", "port", "gateways",
	    "destinationSubnets", "sourceSubnet",    NULL};
	static const char *const l7[] = {"uri",	    "scheme",	   "method",	     "authority",
					 "headers", "queryParams", "withoutHeaders", NULL};
	char l7_names[160] = "", *spec = NULL;
	yaml_node_t *v;
	size_t i, off = 0;
	int err = 0;

	*applies = true;
	if (!sl_k8s_want(r, n, YAML_MAPPING_NODE, "a match block"))
		return 0;
	sl_k8s_reject_others(r, n, tcp ? tcp_known : http_known, "in a match block");
	if (gateways_only(r, sl_k8s_get(r, n, "gateways"))) {
		sl_k8s_warn_at(
		    r, n,
		    "this match block of %s of %s applies to gateways only (not 'mesh'); "
		    "sluice routes traffic between pods and leaves it out",
		    rname, r->what);
		*applies = false;
		return 0;
	}
	v = sl_k8s_get(r, n, "sourceLabels");
	if (v) {
		err = sl_k8s_get_labels(r, v, "sourceLabels", &m->labels, &m->n_labels);
		if (err)
			return err;
	}
	v = sl_k8s_get(r, n, "sourceNamespace");
	if (v && !(m->src_ns = sl_k8s_get_str(r, v, "sourceNamespace")) && r->k->oom)
		return -ENOMEM;
	v = sl_k8s_get(r, n, "port");
	if (v) {
		sl_k8s_get_port(r, v, "port", &m->port);
		m->port_pos = sl_k8s_pos_of(r, v);
	}
	v = tcp ? sl_k8s_get(r, n, "destinationSubnets") : NULL;
	if (v && sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "destinationSubnets")) {
		m->dst = sl_k8s_alloc(r->k, sl_yaml_seq_len(v), sizeof(*m->dst));
		if (!m->dst)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++)
			if (sl_k8s_parse_cidr(r, sl_yaml_seq_item(r->doc, v, i),
					      "a destination subnet", &m->dst[m->n_dst]))
				m->n_dst++;
	}
	v = tcp ? sl_k8s_get(r, n, "sourceSubnet") : NULL;
	if (v) {
		m->src = sl_k8s_alloc(r->k, 1, sizeof(*m->src));
		if (!m->src)
			return -ENOMEM;
		if (sl_k8s_parse_cidr(r, v, "sourceSubnet", m->src))
			m->n_src = 1;
	}
	if (tcp)
		return 0;

	for (i = 0; l7[i]; i++) {
		v = sl_k8s_get(r, n, l7[i]);
		if (!v)
			continue;
		if (!strcmp(l7[i], "headers") || !strcmp(l7[i], "queryParams") ||
		    !strcmp(l7[i], "withoutHeaders"))
			check_string_match_map(r, v, l7[i]);
		else
			check_string_match(r, v, l7[i]);
		m->l7 = true;
		if (strcmp(l7[i], "queryParams") && strcmp(l7[i], "scheme")) {
			err = add_l7_spec(r, v, l7[i], &spec);
			if (err)
				goto out;
			continue;
		}
		off += snprintf(l7_names + off, sizeof(l7_names) - off, "%s%s", off ? ", " : "",
				l7[i]);
		m->l7_unsupported = true;
	}
	v = sl_k8s_get(r, n, "ignoreUriCase");
	if (v && sl_yaml_scalar(v) && !strcmp(sl_yaml_scalar(v), "true") &&
	    (err = sl_l7_spec_ignore_uri_case(&spec)))
		goto out;
	if (m->l7_unsupported)
		sl_k8s_warn_at(
		    r, n,
		    "%s of %s matches on %s, which sluice does not evaluate: this match is "
		    "kept but never matched",
		    rname, r->what, l7_names);
	if (spec) {
		char why[300];

		if (sl_l7_spec_check(spec, why, sizeof(why)) == -EINVAL)
			sl_k8s_err_at(r, n, "the HTTP match of %s of %s %s", rname, r->what, why);
		m->l7_spec = sl_k8s_strdup(r->k, spec);
		if (!m->l7_spec)
			err = -ENOMEM;
	}
out:
	free(spec);
	return err;
}

/*
 * One of headers, withoutHeaders, uri, method, authority, as lines of an
 * l7_match.h spec. An empty StringMatch ({}) is "present" for a header and
 * no condition at all for the others (Istio treats it the same way).
 */
static int add_l7_spec(struct rd *r, const yaml_node_t *v, const char *key, char **spec)
{
	bool hdrs = !strcmp(key, "headers") || !strcmp(key, "withoutHeaders");
	const char *kind = !strcmp(key, "headers")	    ? "header"
			   : !strcmp(key, "withoutHeaders") ? "without"
							    : key;
	size_t i, n = hdrs ? sl_yaml_map_len(v) : 1;
	int err;

	if (v->type != YAML_MAPPING_NODE)
		return 0; /* reported by check_string_match */
	for (i = 0; i < n; i++) {
		const yaml_node_t *sm = hdrs ? sl_yaml_map_value(r->doc, v, i) : v;
		const char *name = hdrs ? sl_yaml_scalar(sl_yaml_map_key(r->doc, v, i)) : NULL;
		const char *mtype = NULL, *val = NULL;

		if (!sm || sm->type != YAML_MAPPING_NODE || (hdrs && !name))
			continue;
		if (sl_yaml_map_len(sm)) {
			mtype = sl_yaml_scalar(sl_yaml_map_key(r->doc, sm, 0));
			val = sl_yaml_scalar(sl_yaml_map_value(r->doc, sm, 0));
			/* anything else is reported by check_string_match */
			if (!mtype || !val ||
			    (strcmp(mtype, "exact") && strcmp(mtype, "prefix") &&
			     strcmp(mtype, "regex")))
				continue;
		} else if (hdrs) {
			mtype = "present";
		} else {
			continue;
		}
		err = sl_l7_spec_add(spec, kind, name, mtype, val);
		if (err == -EINVAL)
			sl_k8s_err_at(
			    r, sm, "%s%s%s in %s: a name or value with a line break, or a bad name",
			    key, name ? "." : "", name ? name : "", r->what);
		else if (err)
			return err;
	}
	return 0;
}

static int parse_dest(struct rd *r, const yaml_node_t *n, const char *rname, struct kdest *d,
		      bool *weight_given)
{
	static const char *const dw_known[] = {"destination", "weight", "headers", NULL};
	static const char *const dest_known[] = {"host", "subset", "port", NULL};
	yaml_node_t *dn, *v;
	const char *w;

	*weight_given = false;
	if (!sl_k8s_want(r, n, YAML_MAPPING_NODE, "a route destination"))
		return -EINVAL;
	sl_k8s_reject_others(r, n, dw_known, "in a route destination");
	for (size_t i = 0; i < sl_yaml_map_len(n); i++)
		if (sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i)) &&
		    !strcmp(sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i)), "headers"))
			sl_k8s_ignored(r, sl_yaml_map_key(r->doc, n, i), "in a route destination",
				       NOT_DONE);
	dn = sl_k8s_get(r, n, "destination");
	if (!dn) {
		sl_k8s_err_at(r, n, "a destination of %s of %s has no 'destination'", rname,
			      r->what);
		return -EINVAL;
	}
	if (!sl_k8s_want(r, dn, YAML_MAPPING_NODE, "destination"))
		return -EINVAL;
	sl_k8s_reject_others(r, dn, dest_known, "in a destination");
	v = sl_k8s_get(r, dn, "host");
	if (!v) {
		sl_k8s_err_at(r, dn, "a destination of %s of %s has no 'host'", rname, r->what);
		return -EINVAL;
	}
	if (!(d->host = sl_k8s_get_str(r, v, "destination.host")))
		return r->k->oom ? -ENOMEM : -EINVAL;
	d->host_pos = sl_k8s_pos_of(r, v);
	v = sl_k8s_get(r, dn, "subset");
	if (v) {
		if (!(d->subset = sl_k8s_get_str(r, v, "destination.subset")))
			return r->k->oom ? -ENOMEM : -EINVAL;
		d->subset_pos = sl_k8s_pos_of(r, v);
	}
	v = sl_k8s_get(r, sl_k8s_get(r, dn, "port"), "number");
	if (v) {
		if (!sl_k8s_get_port(r, v, "destination.port.number", &d->port))
			return -EINVAL;
		d->port_pos = sl_k8s_pos_of(r, v);
	}
	v = sl_k8s_get(r, n, "weight");
	if (!v)
		return 0;
	w = sl_yaml_scalar(v);
	/* Istio's validateWeight: "weight %d < 0" (pkg/config/validation/validation.go). */
	if (w && w[0] == '-' && sl_all_digits(w + 1)) {
		sl_k8s_err_at(
		    r, v,
		    "weight %s of a destination of %s of %s is negative; weights are 0 or more", w,
		    rname, r->what);
		return -EINVAL;
	}
	if (!w || !sl_all_digits(w) || strlen(w) > 7 || strtoul(w, NULL, 10) > SL_MAX_WEIGHT) {
		sl_k8s_err_at(
		    r, v,
		    "weight of a destination of %s of %s must be an integer from 0 to %d, not "
		    "%s%s%s",
		    rname, r->what, SL_MAX_WEIGHT, w ? "'" : "", w ? w : sl_yaml_type_name(v),
		    w ? "'" : "");
		return -EINVAL;
	}
	d->weight = (uint32_t)strtoul(w, NULL, 10);
	*weight_given = true;
	return 0;
}

static int parse_route(struct rd *r, const yaml_node_t *n, bool tcp, size_t idx, struct kroute *rt)
{
	static const char *const http_known[] = {"name", "match", "route", NULL};
	static const char *const tcp_known[] = {"match", "route", NULL};
	char rname[96], where[104];
	yaml_node_t *v, *name;
	uint64_t total = 0;
	bool given, ok = true;
	size_t i;
	int err;

	rt->pos = sl_k8s_pos_of(r, n);
	name = tcp ? NULL : sl_k8s_get(r, n, "name");
	if (name && sl_yaml_scalar(name))
		snprintf(rname, sizeof(rname), "http route '%s'", sl_yaml_scalar(name));
	else
		snprintf(rname, sizeof(rname), "%s[%zu]", tcp ? "tcp" : "http", idx);
	if (name && sl_yaml_scalar(name))
		rt->name = sl_k8s_strdup(r->k, sl_yaml_scalar(name));
	else
		rt->name = sl_k8s_strdup(r->k, rname);
	if (!rt->name)
		return -ENOMEM;
	snprintf(where, sizeof(where), "in %s", rname);
	sl_k8s_ignore_others(r, n, tcp ? tcp_known : http_known, where, NOT_DONE);

	v = sl_k8s_get(r, n, "match");
	if (v && sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "match")) {
		rt->matches = sl_k8s_alloc(r->k, sl_yaml_seq_len(v), sizeof(*rt->matches));
		if (!rt->matches)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++) {
			bool applies;

			err = parse_match(r, sl_yaml_seq_item(r->doc, v, i), tcp, rname,
					  &rt->matches[rt->n_matches], &applies);
			if (err)
				return err;
			if (applies)
				rt->n_matches++;
		}
		/* Every block is for gateways: the route does not exist inside the mesh. */
		if (!rt->n_matches && sl_yaml_seq_len(v))
			return 0;
	}

	v = sl_k8s_get(r, n, "route");
	if (!v) {
		sl_k8s_warn_at(r, n,
			       "%s of %s has no 'route' (no destination), so sluice leaves it out",
			       rname, r->what);
		return 0;
	}
	if (!sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "route"))
		return 0;
	if (!sl_yaml_seq_len(v)) {
		sl_k8s_err_at(r, v, "%s of %s has an empty 'route'; give at least one destination",
			      rname, r->what);
		return 0;
	}
	rt->dests = sl_k8s_alloc(r->k, sl_yaml_seq_len(v), sizeof(*rt->dests));
	if (!rt->dests)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_seq_len(v); i++) {
		err = parse_dest(r, sl_yaml_seq_item(r->doc, v, i), rname, &rt->dests[rt->n_dests],
				 &given);
		if (err == -ENOMEM)
			return err;
		if (err) {
			ok = false;
			continue;
		}
		total += rt->dests[rt->n_dests].weight;
		rt->n_dests++;
	}
	if (!ok)
		return 0;
	/*
	 * "If there is only one destination in a rule, it will receive all
	 * traffic" (Istio's VirtualService reference, HTTPRouteDestination);
	 * with more, weights are relative and must not all be 0 (Istio's
	 * validateHTTPRouteDestinations: "total destination weight = 0").
	 */
	if (rt->n_dests == 1) {
		rt->dests[0].weight = 100;
	} else if (!total) {
		sl_k8s_err_at(
		    r, v,
		    "all weights of %s of %s are 0 (or missing); at least one destination "
		    "must get traffic",
		    rname, r->what);
		return 0;
	}
	rt->usable = true;
	return 0;
}

static int parse_routes(struct rd *r, const yaml_node_t *list, bool tcp, struct kvs *vs)
{
	size_t i;
	int err;

	if (!sl_k8s_want(r, list, YAML_SEQUENCE_NODE, tcp ? "spec.tcp" : "spec.http"))
		return 0;
	for (i = 0; i < sl_yaml_seq_len(list); i++) {
		yaml_node_t *rn = sl_yaml_seq_item(r->doc, list, i);
		struct kroute *rt = &vs->routes[vs->n_routes];

		if (!sl_k8s_want(r, rn, YAML_MAPPING_NODE, tcp ? "a tcp route" : "an http route"))
			continue;
		err = parse_route(r, rn, tcp, i, rt);
		if (err)
			return err;
		vs->n_routes++;
	}
	return 0;
}

/*
 * spec.exportTo: Istio's "." is the rule's own namespace, "*" every
 * namespace, "~" none; other entries name a namespace. Absent or empty:
 * every namespace (Istio's default, defaultVirtualServiceExportTo).
 */
static int parse_export_to(struct rd *r, const yaml_node_t *v, struct kvs *vs)
{
	size_t i;
	char *ns;

	vs->export_all = true;
	if (!v || !sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "spec.exportTo") || !sl_yaml_seq_len(v))
		return 0;
	vs->export_all = false;
	vs->export_pos = sl_k8s_pos_of(r, v);
	vs->export_ns = sl_k8s_alloc(r->k, sl_yaml_seq_len(v), sizeof(*vs->export_ns));
	if (!vs->export_ns)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_seq_len(v); i++) {
		if (!(ns = sl_k8s_get_str(r, sl_yaml_seq_item(r->doc, v, i),
					  "an entry of exportTo")))
			return r->k->oom ? -ENOMEM : 0;
		if (!strcmp(ns, "*"))
			vs->export_all = true;
		else if (strcmp(ns, "~"))
			vs->export_ns[vs->n_export++] = !strcmp(ns, ".") ? vs->m.ns : ns;
	}
	return 0;
}

int sl_k8s_add_virtual_service(struct rd *r, const yaml_node_t *obj)
{
	static const char *const spec_known[] = {"hosts",    "http",	 "tcp",
						 "gateways", "exportTo", NULL};
	struct sl_k8s *k = r->k;
	yaml_node_t *spec, *hosts, *http, *tcp;
	struct kvs *vs, tmp = {0};
	size_t i, n = 0;
	int err;

	err = sl_k8s_parse_meta(r, obj, "VirtualService", &tmp.m);
	if (err || sl_k8s_seen_before(r, &tmp.m, "VirtualService", &k->ix[KIX_VS], k->vss, k->n_vss,
				      sizeof(*k->vss)))
		return err == -ENOMEM ? err : 0;
	spec = sl_k8s_get(r, obj, "spec");
	if (!spec || !sl_k8s_want(r, spec, YAML_MAPPING_NODE, "spec")) {
		if (!spec)
			sl_k8s_err_at(r, obj, "%s has no spec; it needs spec.hosts and routes",
				      r->what);
		return 0;
	}
	sl_k8s_ignore_others(r, spec, spec_known, "in the spec", NOT_DONE);
	err = parse_export_to(r, sl_k8s_get(r, spec, "exportTo"), &tmp);
	if (err)
		return err;
	if (gateways_only(r, sl_k8s_get(r, spec, "gateways"))) {
		sl_k8s_warn_at(
		    r, sl_k8s_get(r, spec, "gateways"),
		    "%s applies to gateways only (its gateways do not include 'mesh'); sluice "
		    "routes traffic between pods and leaves it out",
		    r->what);
		return 0;
	}
	hosts = sl_k8s_get(r, spec, "hosts");
	if (!hosts) {
		/* Istio: a VirtualService without hosts is a delegate, used only through another's
		 * 'delegate'. */
		sl_k8s_warn_at(
		    r, spec,
		    "%s has no spec.hosts, so it is a delegate; sluice does not follow 'delegate' "
		    "and leaves it out",
		    r->what);
		return 0;
	}
	if (!sl_k8s_want(r, hosts, YAML_SEQUENCE_NODE, "spec.hosts"))
		return 0;
	tmp.hosts = sl_k8s_alloc(k, sl_yaml_seq_len(hosts), sizeof(*tmp.hosts));
	if (!tmp.hosts)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_seq_len(hosts); i++) {
		yaml_node_t *h = sl_yaml_seq_item(r->doc, hosts, i);
		struct khost *kh = &tmp.hosts[tmp.n_hosts];

		if (!(kh->name = sl_k8s_get_str(r, h, "a host"))) {
			if (k->oom)
				return -ENOMEM;
			continue;
		}
		kh->pos = sl_k8s_pos_of(r, h);
		tmp.n_hosts++;
	}

	http = sl_k8s_get(r, spec, "http");
	tcp = sl_k8s_get(r, spec, "tcp");
	n += http && http->type == YAML_SEQUENCE_NODE ? sl_yaml_seq_len(http) : 0;
	n += tcp && tcp->type == YAML_SEQUENCE_NODE ? sl_yaml_seq_len(tcp) : 0;
	tmp.routes = sl_k8s_alloc(k, n, sizeof(*tmp.routes));
	if (!tmp.routes)
		return -ENOMEM;
	/*
	 * Istio uses http routes on HTTP ports and tcp routes on the others;
	 * sluice cannot tell the protocol of a connection, so it tries the
	 * http routes, then the tcp ones.
	 */
	if (http && tcp)
		sl_k8s_warn_at(
		    r, tcp,
		    "%s has both http and tcp routes; sluice tries the http routes first, then "
		    "the tcp routes, on every port",
		    r->what);
	if (http && (err = parse_routes(r, http, false, &tmp)))
		return err;
	if (tcp && (err = parse_routes(r, tcp, true, &tmp)))
		return err;
	vs = sl_k8s_grow(k, (void **)&k->vss, &k->n_vss, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	*vs = tmp;
	return 0;
}
