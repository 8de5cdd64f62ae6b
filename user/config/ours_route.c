// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice's own format, the routes of a service (ours.h): matches (source
 * CIDRs and labels, the HTTP part for the L7 step) and the split over the
 * service's subsets. Calls ours_read.c's helpers, the model and
 * l7/l7_match.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ours.h"
#include "config/yaml_node.h"
#include "l7/l7_match.h"

static const char *const route_keys[] = {"match", "split", NULL};
static const char *const match_keys[] = {"sourceCIDRs", "sourceLabels", "headers",
					 "uri",		"method",	NULL};

static void list_subsets(const struct sl_service_cfg *svc, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < svc->n_subsets && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? ", " : "", svc->subsets[i].name);
}

static void parse_split(struct ctx *c, struct sl_service_cfg *svc, struct sl_route_cfg *r,
			const yaml_node_t *n, const char *rlabel, const char *label)
{
	char what[192], names[SL_MAX_SUBSETS * SL_SUBSET_NAME_LEN + 16];
	size_t i, len;
	uint64_t sum = 0;
	bool ok = true;

	sl_ours_cat(what, sizeof(what), "the split of ", rlabel, NULL);
	if (!sl_ours_want_type(c, n, YAML_MAPPING_NODE, what))
		return;
	len = sl_yaml_map_len(n);
	if (!len) {
		sl_ours_error_at(c, n, "%s is empty; give a weight for at least one subset", what);
		return;
	}
	sl_ours_cat(what, sizeof(what), "in the split of ", rlabel, NULL);
	sl_ours_check_keys(c, n, NULL, what);
	for (i = 0; i < len; i++) {
		yaml_node_t *kn = sl_yaml_map_key(c->doc, n, i),
			    *vn = sl_yaml_map_value(c->doc, n, i);
		const char *name = sl_yaml_scalar(kn), *w = sl_yaml_scalar(vn);
		unsigned long v;
		int idx;

		if (!name) {
			ok = false;
			continue;
		}
		idx = sl_config_subset_index(svc, name);
		if (idx < 0) {
			list_subsets(svc, names, sizeof(names));
			sl_ours_error_at(
			    c, kn,
			    "split names subset '%s', which %s does not have; its subsets are: %s",
			    name, label, names);
			ok = false;
			continue;
		}
		if (w && w[0] == '-' && sl_all_digits(w + 1)) {
			sl_ours_error_at(
			    c, vn, "weight %s of subset '%s' is negative; weights are 0 to %d", w,
			    name, SL_MAX_WEIGHT);
			ok = false;
			continue;
		}
		if (!w || !sl_all_digits(w)) {
			sl_ours_error_at(
			    c, vn, "weight of subset '%s' must be an integer, not %s%s%s", name,
			    w ? "'" : "", w ? w : sl_yaml_type_name(vn), w ? "'" : "");
			ok = false;
			continue;
		}
		errno = 0;
		v = strtoul(w, NULL, 10);
		if (errno || v > SL_MAX_WEIGHT) {
			sl_ours_error_at(c, vn,
					 "weight %s of subset '%s' is too large; the maximum is %d",
					 w, name, SL_MAX_WEIGHT);
			ok = false;
			continue;
		}
		r->weight[idx] = (uint32_t)v;
		sum += v;
		if (v && !svc->subsets[idx].n_eps)
			sl_ours_warn_at(
			    c, vn,
			    "split sends traffic to subset '%s' of %s, which has no endpoints",
			    name, label);
	}
	if (ok && !sum)
		sl_ours_error_at(
		    c, n, "all weights in this split are 0; at least one subset must get traffic");
}

/*
 * One string match, Istio's shape: {exact|prefix|regex: VALUE}, or {} for
 * "present" (headers only). Appended to *spec as an l7_match.h line.
 */
static int parse_string_match(struct ctx *c, const yaml_node_t *n, const char *kind,
			      const char *name, const char *what, char **spec)
{
	const char *mtype, *val;
	int err;

	if (!sl_ours_want_type(c, n, YAML_MAPPING_NODE, what))
		return 0;
	if (!sl_yaml_map_len(n) && name)
		return sl_l7_spec_add(spec, kind, name, "present", NULL);
	mtype = sl_yaml_scalar(sl_yaml_map_key(c->doc, n, 0));
	val = sl_yaml_scalar(sl_yaml_map_value(c->doc, n, 0));
	if (sl_yaml_map_len(n) != 1 || !mtype ||
	    (strcmp(mtype, "exact") && strcmp(mtype, "prefix") && strcmp(mtype, "regex"))) {
		sl_ours_error_at(c, n, "%s must be one of {exact: S}, {prefix: S}, {regex: S}%s",
				 what, name ? " or {} (present)" : "");
		return 0;
	}
	if (!val) {
		sl_ours_error_at(c, sl_yaml_map_value(c->doc, n, 0),
				 "%s: the %s value must be a string", what, mtype);
		return 0;
	}
	err = sl_l7_spec_add(spec, kind, name, mtype, val);
	if (err == -EINVAL) {
		sl_ours_error_at(c, n, "%s: a header name or value must not contain line breaks",
				 what);
		return 0;
	}
	return err;
}

/* headers, uri, method: the HTTP part of a match, for the L7 step. */
static int parse_http_match(struct ctx *c, struct sl_route_cfg *r, const yaml_node_t *n,
			    const char *rlabel)
{
	static const char *const kinds[] = {"uri", "method"};
	char what[256], why[300], *spec = NULL;
	yaml_node_t *v;
	size_t i;
	int err = 0;

	v = sl_yaml_get(c->doc, n, "headers");
	if (v && sl_ours_want_type(c, v, YAML_MAPPING_NODE, "'headers'")) {
		for (i = 0; i < sl_yaml_map_len(v) && !err; i++) {
			const char *name = sl_yaml_scalar(sl_yaml_map_key(c->doc, v, i));

			snprintf(what, sizeof(what), "header '%s' in the match of %s",
				 name ? name : "?", rlabel);
			if (!name || !*name || strpbrk(name, " \t:")) {
				sl_ours_error_at(c, sl_yaml_map_key(c->doc, v, i),
						 "%s: not a header name", what);
				continue;
			}
			err = parse_string_match(c, sl_yaml_map_value(c->doc, v, i), "header", name,
						 what, &spec);
		}
	}
	for (i = 0; i < 2 && !err; i++) {
		v = sl_yaml_get(c->doc, n, kinds[i]);
		snprintf(what, sizeof(what), "'%s' in the match of %s", kinds[i], rlabel);
		if (v)
			err = parse_string_match(c, v, kinds[i], NULL, what, &spec);
	}
	if (err || !spec)
		goto out;
	r->needs_l7 = true;
	if (sl_l7_spec_check(spec, why, sizeof(why)) == -EINVAL)
		sl_ours_error_at(c, n, "the HTTP match of %s %s", rlabel, why);
	r->l7_spec = spec;
	spec = NULL;
out:
	free(spec);
	return err;
}

static int parse_match(struct ctx *c, struct sl_route_cfg *r, const yaml_node_t *n,
		       const char *rlabel)
{
	char what[192];
	yaml_node_t *v;
	int err;

	snprintf(what, sizeof(what), "the match of %s", rlabel);
	if (!sl_ours_want_type(c, n, YAML_MAPPING_NODE, what))
		return 0;
	if (!sl_yaml_map_len(n)) {
		sl_ours_error_at(
		    c, n,
		    "the match of %s is empty; give sourceCIDRs, sourceLabels, headers, uri "
		    "or method, or leave out match to match all traffic",
		    rlabel);
		return 0;
	}
	snprintf(what, sizeof(what), "in the match of %s", rlabel);
	sl_ours_check_keys(c, n, match_keys, what);

	v = sl_yaml_get(c->doc, n, "sourceCIDRs");
	if (v) {
		r->has_cidrs = true;
		snprintf(what, sizeof(what), "'sourceCIDRs' of %s", rlabel);
		err = sl_ours_parse_cidr_list(c, v, what, &r->cidrs, &r->n_cidrs);
		if (err)
			return err;
	}
	v = sl_yaml_get(c->doc, n, "sourceLabels");
	if (v) {
		r->has_labels = true;
		snprintf(what, sizeof(what), "'sourceLabels' of %s", rlabel);
		err = sl_ours_parse_labels(c, v, what, &r->labels, &r->n_labels);
		if (err)
			return err;
	}
	return parse_http_match(c, r, n, rlabel);
}

void sl_ours_parse_routes(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *svc_node,
			  const yaml_node_t *n, const char *label, bool subsets_ok, int *err)
{
	char what[128], rlabel[160], where[192];
	size_t i, len;

	if (!n) {
		if (!subsets_ok)
			return;
		if (svc->n_subsets > 1) {
			sl_ours_error_at(
			    c, svc_node,
			    "%s has %zu subsets but no routes; add routes with a split to say "
			    "how traffic is shared",
			    label, svc->n_subsets);
			return;
		}
		/* One subset needs no routing decision: send it everything. */
		svc->routes = calloc(1, sizeof(*svc->routes));
		if (!svc->routes) {
			*err = -ENOMEM;
			return;
		}
		svc->routes[0].weight[0] = 1;
		svc->routes[0].pos = svc->pos;
		svc->n_routes = 1;
		return;
	}

	sl_ours_cat(what, sizeof(what), "'routes' of ", label, NULL);
	if (!sl_ours_want_type(c, n, YAML_SEQUENCE_NODE, what))
		return;
	len = sl_yaml_seq_len(n);
	if (!len) {
		sl_ours_error_at(c, n, "%s is empty; give at least one route, or leave it out",
				 what);
		return;
	}
	if (len > SL_MAX_ROUTES) {
		sl_ours_error_at(c, n, "%s has %zu routes; the limit is %d", label, len,
				 SL_MAX_ROUTES);
		return;
	}
	svc->routes = calloc(len, sizeof(*svc->routes));
	if (!svc->routes) {
		*err = -ENOMEM;
		return;
	}
	for (i = 0; i < len && !*err; i++) {
		yaml_node_t *rn = sl_yaml_seq_item(c->doc, n, i), *m, *split;
		struct sl_route_cfg *r = &svc->routes[svc->n_routes];

		snprintf(rlabel, sizeof(rlabel), "route %zu of %s", i + 1, label);
		if (!sl_ours_want_type(c, rn, YAML_MAPPING_NODE, rlabel))
			continue;
		svc->n_routes++;
		r->pos = sl_ours_node_pos(c, rn);
		sl_ours_cat(where, sizeof(where), "in ", rlabel, NULL);
		sl_ours_check_keys(c, rn, route_keys, where);

		m = sl_yaml_get(c->doc, rn, "match");
		if (m)
			*err = parse_match(c, r, m, rlabel);
		else if (i + 1 < len)
			sl_ours_error_at(
			    c, rn,
			    "route %zu has no match, so the routes after it can never be chosen",
			    i + 1);
		if (m && i + 1 == len)
			sl_ours_warn_at(
			    c, rn,
			    "the last route of %s has a match, so connections that match no "
			    "route pass to the VIP untouched",
			    label);

		split = sl_yaml_get(c->doc, rn, "split");
		if (!split)
			sl_ours_error_at(c, rn, "%s is missing 'split'", rlabel);
		else if (subsets_ok)
			parse_split(c, svc, r, split, rlabel, label);
	}
}
