// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Istio's VirtualService: hosts, http and tcp routes, their match blocks
 * (the HTTP part as l7_match.h specs) and weighted destinations, checked
 * field by field as Istio's webhook checks them (ValidateVirtualService in
 * pkg/config/validation, and the schema of the CRD: which keys exist, what
 * is required). Read into k8s_internal.h's private form; calls k8s_read.c's
 * helpers, k8s_rules.c, k8s_hosts.c, the model and l7/l7_match.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/k8s_internal.h"
#include "config/yaml_node.h"
#include "l7/l7_match.h"

/* Istio's VirtualService fields that sluice does not act on: warned, never an error. */
static const char *const http_route_unsupported[] = {
    "redirect",	     "directResponse", "delegate",
    "rewrite",	     "timeout",	       "retries",
    "fault",	     "mirror",	       "mirrors",
    "mirrorPercent", "mirror_percent", "mirrorPercentage",
    "corsPolicy",    "headers",	       NULL};

/* The int32 the schema gives a weight: larger is refused by the API server. */
#define WEIGHT_MAX 2147483647UL

/* What a StringMatch is for: Istio's rules differ a little. */
enum sm_field {
	SM_URI,	    /* an empty prefix is allowed */
	SM_HEADER,  /* headers: a null value is an error */
	SM_WITHOUT, /* withoutHeaders: null or regex "*" is "present" */
	SM_OTHER,   /* scheme, method, authority, queryParams */
};

/*
 * Istio's StringMatch: at most one of exact, prefix, regex (the schema's
 * oneOf), each a string; an empty prefix only for uri; a regex not empty,
 * at most 1024 bytes and RE2 (validateStringMatch). {} matches anything
 * (a header: present).
 */
static void check_string_match(struct rd *r, const yaml_node_t *n, const char *what,
			       enum sm_field f)
{
	static const char *const kinds_ok[] = {"exact", "prefix", "regex", NULL};
	char why[300];
	size_t i, j;

	if (f == SM_WITHOUT && sl_k8s_null(n))
		return;
	if (f == SM_HEADER && sl_k8s_null(n)) {
		sl_k8s_err_at(r, n, "%s in %s cannot be null (Istio: header match cannot be null)",
			      what, r->what);
		return;
	}
	if (!sl_k8s_want(r, n, YAML_MAPPING_NODE, what))
		return;
	if (sl_yaml_map_len(n) > 1)
		sl_k8s_err_at(r, n,
			      "%s in %s has %zu match types; give one of exact, prefix or regex",
			      what, r->what, sl_yaml_map_len(n));
	for (i = 0; i < sl_yaml_map_len(n); i++) {
		yaml_node_t *vn = sl_yaml_map_value(r->doc, n, i);
		const char *key = sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i)),
			   *v = sl_yaml_scalar(vn);

		for (j = 0; key && kinds_ok[j]; j++)
			if (!strcmp(kinds_ok[j], key))
				break;
		if (!key || !kinds_ok[j]) {
			sl_k8s_err_at(
			    r, sl_yaml_map_key(r->doc, n, i),
			    "'%s' in %s of %s is not a match type; expected exact, prefix or regex",
			    key ? key : "?", what, r->what);
			continue;
		}
		if (!v) {
			sl_k8s_err_at(r, vn, "%s.%s in %s must be a string", what, key, r->what);
			continue;
		}
		if (!strcmp(key, "prefix") && !*v && f != SM_URI)
			sl_k8s_err_at(r, vn,
				      "%s.prefix in %s is empty; Istio allows an empty prefix for "
				      "uri only (it would match everything)",
				      what, r->what);
		if (!strcmp(key, "regex") && !(f == SM_WITHOUT && !strcmp(v, "*")) &&
		    sl_l7_regex_check(v, why, sizeof(why)) == -EINVAL)
			sl_k8s_err_at(
			    r, vn, "%s.regex in %s %s%s", what, r->what,
			    *v && strlen(v) <= SL_L7_REGEX_MAX ? "is not an RE2 regex: " : "", why);
	}
}

/* headers, withoutHeaders, queryParams: a name each, and its StringMatch. */
static void check_string_match_map(struct rd *r, const yaml_node_t *n, const char *what,
				   enum sm_field f)
{
	char sub[128];
	size_t i;

	if (!sl_k8s_want(r, n, YAML_MAPPING_NODE, what))
		return;
	for (i = 0; i < sl_yaml_map_len(n); i++) {
		yaml_node_t *kn = sl_yaml_map_key(r->doc, n, i);
		const char *name = sl_yaml_scalar(kn) ?: "?";

		snprintf(sub, sizeof(sub), "%s.%s", what, name);
		if (f != SM_OTHER) {
			int h = sl_k8s_header_name(name);

			if (h == SL_K8S_HDR_BAD)
				sl_k8s_err_at(r, kn, "'%s' in %s of %s is not a valid header name",
					      name, what, r->what);
			else if (h == SL_K8S_HDR_JWT && !r->gateways_only)
				sl_k8s_err_at(r, kn,
					      "%s in %s matches a JWT claim, which Istio supports "
					      "for gateways only",
					      sub, r->what);
		}
		check_string_match(r, sl_yaml_map_value(r->doc, n, i), sub, f);
	}
}

/*
 * A number written in quotes is a string to the API server, which refuses
 * it where the schema wants an integer ("must be of type integer").
 */
static bool quoted_number(struct rd *r, const yaml_node_t *v, const char *what)
{
	if (!sl_yaml_scalar(v) || v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		return false;
	sl_k8s_err_at(r, v, "%s in %s must be an integer, not the string \"%s\"", what, r->what,
		      sl_yaml_scalar(v));
	return true;
}

static int add_l7_spec(struct rd *r, const yaml_node_t *v, const char *key, char **spec,
		       const char **unsupported);

/* The HTTP part of a match block: l7_match.h lines in m->l7_spec. */
static int parse_l7(struct rd *r, const yaml_node_t *n, const char *rname, struct kmatch *m)
{
	static const char *const l7[] = {"uri",	    "scheme",	   "method",	     "authority",
					 "headers", "queryParams", "withoutHeaders", NULL};
	struct sl_diag_mark dm = sl_diag_mark(r->diag);
	char l7_names[160] = "", *spec = NULL, why[300];
	const char *odd;
	yaml_node_t *v;
	size_t i, off = 0;
	int err = 0;

	for (i = 0; l7[i]; i++) {
		v = sl_k8s_get(r, n, l7[i]);
		if (!v)
			continue;
		if (!strcmp(l7[i], "headers"))
			check_string_match_map(r, v, l7[i], SM_HEADER);
		else if (!strcmp(l7[i], "withoutHeaders"))
			check_string_match_map(r, v, l7[i], SM_WITHOUT);
		else if (!strcmp(l7[i], "queryParams"))
			check_string_match_map(r, v, l7[i], SM_OTHER);
		else
			check_string_match(r, v, l7[i], !strcmp(l7[i], "uri") ? SM_URI : SM_OTHER);
		m->l7 = true;
		odd = NULL;
		if (strcmp(l7[i], "queryParams") && strcmp(l7[i], "scheme")) {
			err = add_l7_spec(r, v, l7[i], &spec, &odd);
			if (err)
				goto out;
			if (!odd)
				continue;
		}
		off += snprintf(l7_names + off, sizeof(l7_names) - off, "%s%s", off ? ", " : "",
				odd ? odd : l7[i]);
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
	/* Each field's mistakes are said where they are; what is left is the size. */
	if (spec && !sl_diag_errors_since(r->diag, &dm)) {
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
 * One match block. *applies is false when it does not apply inside the
 * mesh (gateways). A null block matches everything (Istio's nil
 * HTTPMatchRequest); a null tcp block is an error.
 */
static int parse_match(struct rd *r, const yaml_node_t *n, bool tcp, const char *rname,
		       struct kmatch *m, bool *applies)
{
	static const char *const http_used[] = {
	    "name",	  "sourceLabels", "sourceNamespace", "port",	       "gateways",
	    "statPrefix", "uri",	  "scheme",	     "method",	       "authority",
	    "headers",	  "queryParams",  "ignoreUriCase",   "withoutHeaders", NULL};
	static const char *const tcp_used[] = {
	    "sourceLabels",	  "sourceNamespace", "port", "gateways",
	    "destinationSubnets", "sourceSubnet",    NULL};
	const char *ns;
	yaml_node_t *v;
	size_t i;
	int err = 0;

	*applies = true;
	if (sl_k8s_null(n)) {
		if (tcp)
			sl_k8s_err_at(r, n, "a match block of %s of %s is null", rname, r->what);
		return 0;
	}
	if (!sl_k8s_want(r, n, YAML_MAPPING_NODE, "a match block"))
		return 0;
	sl_k8s_check_keys(r, n, tcp ? tcp_used : http_used, NULL, "in a match block", NULL);
	v = sl_k8s_get(r, n, "gateways");
	if (v && sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "the gateways of a match block"))
		sl_k8s_check_gateways(r, v, "the gateways of a match block");
	if (!sl_k8s_gateways_mesh(r, v)) {
		sl_k8s_warn_at(
		    r, n,
		    "this match block of %s of %s applies to gateways only (not 'mesh'); "
		    "sluice routes traffic between pods and leaves it out",
		    rname, r->what);
		*applies = false;
	}
	v = sl_k8s_get(r, n, "sourceLabels");
	if (v) {
		sl_k8s_check_labels(r, v, "sourceLabels");
		err = sl_k8s_get_labels(r, v, "sourceLabels", &m->labels, &m->n_labels);
		if (err)
			return err;
	}
	v = sl_k8s_get(r, n, "sourceNamespace");
	if (v && !(m->src_ns = sl_k8s_get_str(r, v, "sourceNamespace")) && r->k->oom)
		return -ENOMEM;
	ns = m->src_ns;
	/* Istio checks it in http matches only (validateHTTPRouteMatchRequest). */
	if (ns && !tcp && !sl_k8s_dns_label(ns))
		sl_k8s_err_at(r, v, "sourceNamespace '%s' in %s is not a namespace name", ns,
			      r->what);
	v = sl_k8s_get(r, n, "port");
	/* 0 is "not given" in Istio's API (a uint32 left at its zero value). */
	if (v && !quoted_number(r, v, "port") &&
	    !(sl_yaml_scalar(v) && !strcmp(sl_yaml_scalar(v), "0"))) {
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
	return tcp ? 0 : parse_l7(r, n, rname, m);
}

/*
 * One of headers, withoutHeaders, uri, method, authority, as lines of an
 * l7_match.h spec. An empty StringMatch ({}) is "present" for a header and
 * no condition at all for the others (Istio treats it the same way), and so
 * is a null withoutHeaders entry or its regex "*". A pseudo-header
 * (":path"...) cannot be evaluated: *unsupported names it.
 */
static int add_l7_spec(struct rd *r, const yaml_node_t *v, const char *key, char **spec,
		       const char **unsupported)
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

		if (!sm || (hdrs && !name))
			continue;
		if (hdrs && sl_k8s_header_name(name) != SL_K8S_HDR_OK) {
			*unsupported = "a pseudo-header or JWT claim";
			continue;
		}
		if (sm->type == YAML_MAPPING_NODE && sl_yaml_map_len(sm)) {
			mtype = sl_yaml_scalar(sl_yaml_map_key(r->doc, sm, 0));
			val = sl_yaml_scalar(sl_yaml_map_value(r->doc, sm, 0));
			/* anything else is reported by check_string_match */
			if (!mtype || !val ||
			    (strcmp(mtype, "exact") && strcmp(mtype, "prefix") &&
			     strcmp(mtype, "regex")))
				continue;
			if (hdrs && !strcmp(mtype, "regex") && !strcmp(val, "*")) {
				mtype = "present";
				val = NULL;
			}
		} else if (hdrs && (sm->type == YAML_MAPPING_NODE || sl_k8s_null(sm))) {
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

/* A weight: an int32 at least 0 (the schema and validateWeight). */
static bool parse_weight(struct rd *r, const yaml_node_t *v, const char *rname, uint32_t *out)
{
	const char *w = sl_yaml_scalar(v);

	if (quoted_number(r, v, "a weight"))
		return false;

	/* Istio's validateWeight: "weight %d < 0" (pkg/config/validation/validation.go). */
	if (w && w[0] == '-' && sl_all_digits(w + 1)) {
		sl_k8s_err_at(
		    r, v,
		    "weight %s of a destination of %s of %s is negative; weights are 0 or more", w,
		    rname, r->what);
		return false;
	}
	if (!w || !sl_all_digits(w) || strlen(w) > 10 || strtoul(w, NULL, 10) > WEIGHT_MAX) {
		sl_k8s_err_at(r, v,
			      "weight of a destination of %s of %s must be an integer from 0 to "
			      "%lu, not %s%s%s",
			      rname, r->what, WEIGHT_MAX, w ? "'" : "",
			      w ? w : sl_yaml_type_name(v), w ? "'" : "");
		return false;
	}
	*out = (uint32_t)strtoul(w, NULL, 10);
	return true;
}

/* destination: {host, subset, port: {number}} (Istio's validateDestination). */
static int parse_destination(struct rd *r, const yaml_node_t *dn, const char *rname,
			     struct kdest *d)
{
	static const char *const dest_used[] = {"host", "subset", "port", NULL};
	static const char *const port_used[] = {"number", NULL};
	char why[160];
	yaml_node_t *v, *pn;

	if (!sl_k8s_want(r, dn, YAML_MAPPING_NODE, "destination"))
		return -EINVAL;
	sl_k8s_check_keys(r, dn, dest_used, NULL, "in a destination", NULL);
	v = sl_k8s_get(r, dn, "host");
	if (!v) {
		sl_k8s_err_at(r, dn, "a destination of %s of %s has no 'host'", rname, r->what);
		return -EINVAL;
	}
	if (!(d->host = sl_k8s_get_str(r, v, "destination.host")))
		return r->k->oom ? -ENOMEM : -EINVAL;
	d->host_pos = sl_k8s_pos_of(r, v);
	if (!strcmp(d->host, "*") || sl_k8s_check_domain(d->host, why, sizeof(why))) {
		sl_k8s_err_at(r, v, "destination host '%s' in %s of %s is not a valid host: %s",
			      d->host, rname, r->what,
			      strcmp(d->host, "*") ? why : "it may not be \"*\"");
		return -EINVAL;
	}
	v = sl_k8s_get(r, dn, "subset");
	/* "" is no subset (validateDestination looks at a subset only when set) */
	if (v && sl_yaml_scalar(v) && *sl_yaml_scalar(v)) {
		d->subset = sl_k8s_strdup(r->k, sl_yaml_scalar(v));
		if (!d->subset)
			return -ENOMEM;
		d->subset_pos = sl_k8s_pos_of(r, v);
		if (!sl_k8s_dns_label(d->subset)) {
			sl_k8s_err_at(r, v, "subset name '%s' in %s of %s is not a DNS label",
				      d->subset, rname, r->what);
			return -EINVAL;
		}
	} else if (v && !sl_yaml_scalar(v)) {
		sl_k8s_want(r, v, YAML_SCALAR_NODE, "destination.subset");
		return -EINVAL;
	}
	pn = sl_k8s_get(r, dn, "port");
	if (!pn)
		return 0;
	if (!sl_k8s_want(r, pn, YAML_MAPPING_NODE, "destination.port"))
		return -EINVAL;
	sl_k8s_check_keys(r, pn, port_used, NULL, "in destination.port", NULL);
	v = sl_k8s_get(r, pn, "number");
	if (!v) {
		sl_k8s_err_at(r, pn,
			      "destination.port in %s of %s has no number; Istio requires 1 to "
			      "65535",
			      rname, r->what);
		return -EINVAL;
	}
	if (quoted_number(r, v, "destination.port.number") ||
	    !sl_k8s_get_port(r, v, "destination.port.number", &d->port))
		return -EINVAL;
	d->port_pos = sl_k8s_pos_of(r, v);
	return 0;
}

static int parse_dest(struct rd *r, const yaml_node_t *n, bool tcp, const char *rname,
		      struct kdest *d)
{
	static const char *const http_used[] = {"destination", "weight", NULL};
	static const char *const http_unsupported[] = {"headers", NULL};
	yaml_node_t *dn, *v;

	if (sl_k8s_null(n)) {
		sl_k8s_err_at(r, n, "a destination of %s of %s is null", rname, r->what);
		return -EINVAL;
	}
	if (!sl_k8s_want(r, n, YAML_MAPPING_NODE, "a route destination"))
		return -EINVAL;
	sl_k8s_check_keys(r, n, http_used, tcp ? NULL : http_unsupported, "in a route destination",
			  NULL);
	dn = sl_k8s_get(r, n, "destination");
	if (!dn) {
		sl_k8s_err_at(r, n, "a destination of %s of %s has no 'destination'", rname,
			      r->what);
		return -EINVAL;
	}
	if (parse_destination(r, dn, rname, d))
		return r->k->oom ? -ENOMEM : -EINVAL;
	v = sl_k8s_get(r, n, "weight");
	d->weight = 0;
	return !v || parse_weight(r, v, rname, &d->weight) ? 0 : -EINVAL;
}

/*
 * Istio's validateHTTPRouteConflict for what sluice reads: a route needs
 * route, redirect, directResponse or delegate, and route does not go with
 * the others. False when the route has no destinations to read.
 */
static bool http_route_shape(struct rd *r, const yaml_node_t *n, const char *rname)
{
	const char *other[] = {"redirect", "directResponse", "delegate"};
	const yaml_node_t *route = sl_k8s_get(r, n, "route"), *given = NULL;
	bool has_route = route && route->type == YAML_SEQUENCE_NODE && sl_yaml_seq_len(route);
	size_t i;

	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		const yaml_node_t *o = sl_k8s_get(r, n, other[i]);

		if (o && given)
			sl_k8s_err_at(r, o, "%s of %s has both %s and %s; Istio allows one", rname,
				      r->what, other[i],
				      sl_k8s_get(r, n, "redirect") ? "redirect" : "directResponse");
		else if (o && has_route)
			sl_k8s_err_at(r, o, "%s of %s has both route and %s; Istio allows one",
				      rname, r->what, other[i]);
		given = given ? given : o;
	}
	if (sl_k8s_get(r, n, "mirror") && sl_k8s_get(r, n, "mirrors"))
		sl_k8s_err_at(r, sl_k8s_get(r, n, "mirrors"),
			      "%s of %s has both mirror and mirrors; Istio allows one", rname,
			      r->what);
	if (!given && !has_route)
		sl_k8s_err_at(r, route ? route : n,
			      "%s of %s has no destination: Istio requires route, redirect, "
			      "directResponse or delegate",
			      rname, r->what);
	else if (!has_route)
		sl_k8s_warn_at(r, given,
			       "%s of %s has no 'route' (no destination), so sluice leaves it out",
			       rname, r->what);
	return has_route;
}

static int parse_route(struct rd *r, const yaml_node_t *n, bool tcp, size_t idx, struct kroute *rt)
{
	static const char *const http_used[] = {"name", "match", "route", NULL};
	static const char *const tcp_used[] = {"match", "route", NULL};
	struct sl_diag_mark dm = sl_diag_mark(r->diag);
	char rname[96], where[104];
	yaml_node_t *v, *name;
	uint64_t total = 0;
	bool ok = true, applies, any_applies = false;
	size_t i;
	int err;

	rt->pos = sl_k8s_pos_of(r, n);
	name = tcp ? NULL : sl_k8s_get(r, n, "name");
	if (name && sl_yaml_scalar(name))
		snprintf(rname, sizeof(rname), "http route '%s'", sl_yaml_scalar(name));
	else
		snprintf(rname, sizeof(rname), "%s[%zu]", tcp ? "tcp" : "http", idx);
	rt->name = sl_k8s_strdup(r->k, name && sl_yaml_scalar(name) ? sl_yaml_scalar(name) : rname);
	if (!rt->name)
		return -ENOMEM;
	snprintf(where, sizeof(where), "in %s", rname);
	sl_k8s_check_keys(r, n, tcp ? tcp_used : http_used, tcp ? NULL : http_route_unsupported,
			  where, NULL);

	v = sl_k8s_get(r, n, "match");
	if (v && sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "match")) {
		rt->matches = sl_k8s_alloc(r->k, sl_yaml_seq_len(v), sizeof(*rt->matches));
		if (!rt->matches)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++) {
			memset(&rt->matches[rt->n_matches], 0, sizeof(*rt->matches));
			err = parse_match(r, sl_yaml_seq_item(r->doc, v, i), tcp, rname,
					  &rt->matches[rt->n_matches], &applies);
			if (err)
				return err;
			if (applies)
				rt->n_matches++;
			any_applies |= applies;
		}
	}
	/* Every block is for gateways: the route does not exist inside the mesh. */
	if (v && v->type == YAML_SEQUENCE_NODE && sl_yaml_seq_len(v) && !any_applies)
		ok = false;

	v = sl_k8s_get(r, n, "route");
	if (!tcp && !http_route_shape(r, n, rname))
		goto out;
	if (tcp && (!v || (v->type == YAML_SEQUENCE_NODE && !sl_yaml_seq_len(v)))) {
		sl_k8s_err_at(r, v ? v : n, "%s of %s has no route; Istio requires one", rname,
			      r->what);
		goto out;
	}
	if (!sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "route"))
		goto out;
	rt->dests = sl_k8s_alloc(r->k, sl_yaml_seq_len(v), sizeof(*rt->dests));
	if (!rt->dests)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_seq_len(v); i++) {
		err = parse_dest(r, sl_yaml_seq_item(r->doc, v, i), tcp, rname,
				 &rt->dests[rt->n_dests]);
		if (err == -ENOMEM)
			return err;
		if (err) {
			ok = false;
			continue;
		}
		total += rt->dests[rt->n_dests].weight;
		rt->n_dests++;
	}
	/*
	 * "If there is only one destination in a rule, it will receive all
	 * traffic" (Istio's VirtualService reference, HTTPRouteDestination);
	 * with more, weights are relative and must not all be 0 (Istio's
	 * validateHTTPRouteDestinations: "total destination weight = 0").
	 */
	if (rt->n_dests == 1) {
		rt->dests[0].weight = 100;
	} else if (ok && !total) {
		sl_k8s_err_at(
		    r, v,
		    "all weights of %s of %s are 0 (or missing); at least one destination "
		    "must get traffic",
		    rname, r->what);
		ok = false;
	}
	rt->usable = ok;
out:
	rt->bad = sl_diag_errors_since(r->diag, &dm) > 0;
	rt->usable &= !rt->bad;
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

		if (sl_k8s_null(rn)) {
			sl_k8s_err_at(r, rn, "%s[%zu] of %s is null", tcp ? "tcp" : "http", i,
				      r->what);
			continue;
		}
		if (!sl_k8s_want(r, rn, YAML_MAPPING_NODE, tcp ? "a tcp route" : "an http route"))
			continue;
		err = parse_route(r, rn, tcp, i, rt);
		if (err)
			return err;
		rt->tcp = tcp;
		vs->n_routes++;
	}
	return 0;
}

/*
 * The per-request opt-in (docs/l7.md): an annotation, since Istio's schema
 * has no field for it and Istio itself splits every request anyway. Only
 * "true" and "false"; anything else is an error naming the value.
 */
static void parse_per_request(struct rd *r, const yaml_node_t *obj, struct kvs *vs)
{
	yaml_node_t *v = sl_k8s_get(r, sl_k8s_get(r, sl_k8s_get(r, obj, "metadata"), "annotations"),
				    SL_K8S_PER_REQUEST_ANNOTATION);
	const char *s;

	if (!v)
		return;
	s = sl_yaml_scalar(v);
	if (s && !strcmp(s, "true"))
		vs->per_request = true;
	else if (!s || strcmp(s, "false"))
		sl_k8s_err_at(r, v, "%s: annotation %s is '%s'; expected \"true\" or \"false\"",
			      r->what, SL_K8S_PER_REQUEST_ANNOTATION, s ? s : "not a string");
}

/*
 * spec.exportTo: Istio's "." is the rule's own namespace, "*" every
 * namespace; other entries name a namespace. Absent or empty: every
 * namespace (Istio's default, defaultVirtualServiceExportTo).
 */
static int parse_export_to(struct rd *r, const yaml_node_t *v, struct kvs *vs)
{
	size_t i;
	char *ns;

	vs->export_all = true;
	if (!v || !sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "spec.exportTo") || !sl_yaml_seq_len(v))
		return 0;
	sl_k8s_check_export_to(r, v, vs->m.ns);
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

/*
 * spec.hosts: each a DNS name (a wildcard first label allowed) or an IP
 * address; "*" not for the mesh; no two that overlap (Istio's
 * ValidateVirtualService). 0 or -ENOMEM.
 */
static int parse_hosts(struct rd *r, const yaml_node_t *hosts, bool mesh, struct kvs *vs)
{
	char why[160];
	bool all_valid = true;
	size_t i, j;

	vs->hosts = sl_k8s_alloc(r->k, sl_yaml_seq_len(hosts), sizeof(*vs->hosts));
	if (!vs->hosts)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_seq_len(hosts); i++) {
		yaml_node_t *h = sl_yaml_seq_item(r->doc, hosts, i);
		struct khost *kh = &vs->hosts[vs->n_hosts];

		if (!(kh->name = sl_k8s_get_str(r, h, "a host"))) {
			if (r->k->oom)
				return -ENOMEM;
			all_valid = false;
			continue;
		}
		kh->pos = sl_k8s_pos_of(r, h);
		if (sl_k8s_check_domain(kh->name, why, sizeof(why)) && !sl_k8s_is_ip(kh->name)) {
			sl_k8s_err_at(r, h, "host '%s' of %s is not a valid host: %s", kh->name,
				      r->what, why);
			all_valid = false;
			continue;
		}
		if (mesh && !strcmp(kh->name, "*")) {
			sl_k8s_err_at(r, h,
				      "host '*' of %s applies to the mesh; Istio allows the "
				      "wildcard host * for gateways only",
				      r->what);
			all_valid = false;
			continue;
		}
		vs->n_hosts++;
	}
	for (i = 0; all_valid && i < vs->n_hosts; i++)
		for (j = i + 1; j < vs->n_hosts; j++)
			if (sl_k8s_hosts_overlap(vs->hosts[i].name, vs->hosts[j].name))
				sl_diag_add(r->diag, &vs->hosts[j].pos, "error",
					    "hosts '%s' and '%s' of %s overlap; Istio refuses "
					    "duplicate hosts",
					    vs->hosts[i].name, vs->hosts[j].name, r->what);
	return 0;
}

static size_t seq_len_of(const yaml_node_t *n)
{
	return n && n->type == YAML_SEQUENCE_NODE ? sl_yaml_seq_len(n) : 0;
}

int sl_k8s_add_virtual_service(struct rd *r, const yaml_node_t *obj)
{
	static const char *const spec_used[] = {"hosts",    "http",	"tcp",
						"gateways", "exportTo", NULL};
	static const char *const spec_unsupported[] = {"tls", NULL};
	struct sl_k8s *k = r->k;
	yaml_node_t *spec, *hosts, *http, *tcp, *tls, *gws;
	struct kvs *vs, tmp = {0};
	bool mesh;
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
	sl_k8s_check_keys(r, spec, spec_used, spec_unsupported, "in the spec", NULL);
	parse_per_request(r, obj, &tmp);
	err = parse_export_to(r, sl_k8s_get(r, spec, "exportTo"), &tmp);
	if (err)
		return err;
	gws = sl_k8s_get(r, spec, "gateways");
	if (gws && sl_k8s_want(r, gws, YAML_SEQUENCE_NODE, "spec.gateways"))
		sl_k8s_check_gateways(r, gws, "spec.gateways");
	mesh = sl_k8s_gateways_mesh(r, gws);
	r->gateways_only = !mesh;

	hosts = sl_k8s_get(r, spec, "hosts");
	http = sl_k8s_get(r, spec, "http");
	tcp = sl_k8s_get(r, spec, "tcp");
	tls = sl_k8s_get(r, spec, "tls");
	if (hosts && sl_k8s_want(r, hosts, YAML_SEQUENCE_NODE, "spec.hosts") &&
	    (err = parse_hosts(r, hosts, mesh, &tmp)))
		return err;
	if (!seq_len_of(hosts) && (seq_len_of(gws) || seq_len_of(tcp) || seq_len_of(tls)))
		sl_k8s_err_at(r, spec,
			      "%s has no hosts, so it is a delegate, which Istio allows no %s",
			      r->what,
			      seq_len_of(gws)	? "gateways"
			      : seq_len_of(tcp) ? "tcp routes"
						: "tls routes");
	if (!seq_len_of(http) && !seq_len_of(tcp) && !seq_len_of(tls))
		sl_k8s_err_at(r, spec, "%s has no routes; Istio requires http, tcp or tls routes",
			      r->what);

	tmp.routes = sl_k8s_alloc(k, seq_len_of(http) + seq_len_of(tcp), sizeof(*tmp.routes));
	if (!tmp.routes)
		return -ENOMEM;
	if (http && (err = parse_routes(r, http, false, &tmp)))
		return err;
	if (tcp && (err = parse_routes(r, tcp, true, &tmp)))
		return err;

	if (!mesh) {
		sl_k8s_warn_at(
		    r, gws,
		    "%s applies to gateways only (its gateways do not include 'mesh'); sluice "
		    "routes traffic between pods and leaves it out",
		    r->what);
		r->left_alone = true;
		return 0;
	}
	if (!seq_len_of(hosts)) {
		/* Istio: a VirtualService without hosts is a delegate, used only through another's
		 * 'delegate'. */
		sl_k8s_warn_at(
		    r, spec,
		    "%s has no spec.hosts, so it is a delegate; sluice does not follow 'delegate' "
		    "and leaves it out",
		    r->what);
		r->left_alone = true;
		return 0;
	}
	vs = sl_k8s_grow(k, (void **)&k->vss, &k->n_vss, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	*vs = tmp;
	return 0;
}
