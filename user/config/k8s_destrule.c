// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Istio's DestinationRule: a Service's subsets (by pod labels) and the
 * client-address affinity, checked as Istio's webhook checks them
 * (ValidateDestinationRule in pkg/config/validation, and the CRD's schema).
 * Read into k8s_internal.h's private form; calls k8s_read.c's helpers,
 * k8s_rules.c, k8s_hosts.c and the model.
 */
#include <errno.h>
#include <string.h>

#include "config/k8s_internal.h"
#include "config/yaml_node.h"

/* Istio's TrafficPolicy: sluice acts on loadBalancer.consistentHash.useSourceIp only. */
static void parse_traffic_policy(struct rd *r, const yaml_node_t *tp, const char *where,
				 bool *client_ip)
{
	static const char *const tp_used[] = {"loadBalancer", NULL};
	static const char *const tp_unsupported[] = {
	    "connectionPool", "outlierDetection", "tls",	 "portLevelSettings",
	    "tunnel",	      "proxyProtocol",	  "retryBudget", NULL};
	static const char *const tp_all[] = {
	    "loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings",
	    "tunnel",	    "proxyProtocol",  "retryBudget",	  NULL};
	static const char *const lb_used[] = {"consistentHash", NULL};
	static const char *const lb_unsupported[] = {
	    "simple", "localityLbSetting",  "warmupDurationSecs",
	    "warmup", "zoneAwareLbSetting", "backendUtilization",
	    NULL};
	static const char *const ch_used[] = {"useSourceIp", NULL};
	static const char *const ch_unsupported[] = {
	    "httpHeaderName",  "httpCookie", "httpQueryParameterName", "ringHash", "maglev",
	    "minimumRingSize", NULL};
	static const char *const lb_policies[] = {"simple", "consistentHash", "backendUtilization"};
	yaml_node_t *lb, *ch, *first = NULL;
	char w[96];
	size_t i;

	if (!sl_k8s_want(r, tp, YAML_MAPPING_NODE, where))
		return;
	/* validateTrafficPolicy: "traffic policy must have at least one field" */
	if (!sl_yaml_map_len(tp)) {
		sl_k8s_err_at(r, tp, "%s of %s is empty; Istio requires at least one field", where,
			      r->what);
		return;
	}
	snprintf(w, sizeof(w), "in %s", where);
	/* A subset's own policy (itself warned as ignored): only its shape is checked. */
	if (!client_ip) {
		sl_k8s_check_keys(r, tp, tp_all, NULL, w, NULL);
		return;
	}
	sl_k8s_check_keys(r, tp, tp_used, tp_unsupported, w, NULL);
	lb = sl_k8s_get(r, tp, "loadBalancer");
	if (!lb || !sl_k8s_want(r, lb, YAML_MAPPING_NODE, "trafficPolicy.loadBalancer"))
		return;
	for (i = 0; i < sizeof(lb_policies) / sizeof(lb_policies[0]); i++) {
		yaml_node_t *p = sl_k8s_get(r, lb, lb_policies[i]);

		if (p && first)
			sl_k8s_err_at(
			    r, p,
			    "trafficPolicy.loadBalancer of %s has more than one policy "
			    "(simple, consistentHash, backendUtilization); Istio allows one",
			    r->what);
		first = first ? first : p;
	}
	sl_k8s_check_keys(r, lb, lb_used, lb_unsupported, "in trafficPolicy.loadBalancer",
			  "sluice picks an endpoint by a hash of the connection");
	ch = sl_k8s_get(r, lb, "consistentHash");
	if (!ch || !sl_k8s_want(r, ch, YAML_MAPPING_NODE, "consistentHash"))
		return;
	sl_k8s_check_keys(r, ch, ch_used, ch_unsupported, "in consistentHash",
			  "sluice hashes on the client address only (useSourceIp)");
	/* The same client address always lands on the same subset: our client-ip affinity. */
	*client_ip = sl_k8s_get_bool(sl_k8s_get(r, ch, "useSourceIp"));
}

/* One subset: a DNS-label name, once; valid labels (validateSubset). */
static int parse_subset(struct rd *r, const yaml_node_t *sn, struct kdr *d)
{
	static const char *const sub_used[] = {"name", "labels", NULL};
	static const char *const sub_unsupported[] = {"trafficPolicy", NULL};
	struct kdrsub *s = &d->subsets[d->n_subsets];
	yaml_node_t *name, *tp;
	size_t j;

	if (sl_k8s_null(sn)) {
		sl_k8s_err_at(r, sn, "a subset of %s is null", r->what);
		return 0;
	}
	if (!sl_k8s_want(r, sn, YAML_MAPPING_NODE, "a subset"))
		return 0;
	/* a typo ("label:") would make the subset every pod of the Service */
	sl_k8s_check_keys(r, sn, sub_used, sub_unsupported, "in a subset", NULL);
	tp = sl_k8s_get(r, sn, "trafficPolicy");
	if (tp)
		parse_traffic_policy(r, tp, "the trafficPolicy of a subset", NULL);
	name = sl_k8s_get(r, sn, "name");
	if (!name) {
		sl_k8s_err_at(r, sn, "a subset of %s has no name", r->what);
		return 0;
	}
	s->name = sl_k8s_get_str(r, name, "the name of a subset");
	if (!s->name)
		return r->k->oom ? -ENOMEM : 0;
	s->pos = sl_k8s_pos_of(r, name);
	if (!sl_k8s_dns_label(s->name)) {
		sl_k8s_err_at(r, name, "subset name '%s' in %s is not a DNS label", s->name,
			      r->what);
		return 0;
	}
	if (strlen(s->name) >= SL_SUBSET_NAME_LEN) {
		sl_k8s_err_at(r, name,
			      "subset name '%s' in %s is %zu characters long; sluice allows %d",
			      s->name, r->what, strlen(s->name), SL_SUBSET_NAME_LEN - 1);
		return 0;
	}
	for (j = 0; j < d->n_subsets; j++)
		if (!strcmp(d->subsets[j].name, s->name))
			break;
	if (j < d->n_subsets) {
		sl_k8s_err_at(r, name, "duplicate subset '%s' in %s (first at line %d)", s->name,
			      r->what, d->subsets[j].pos.line);
		return 0;
	}
	sl_k8s_check_labels(r, sl_k8s_get(r, sn, "labels"), "the labels of a subset");
	if (sl_k8s_get_labels(r, sl_k8s_get(r, sn, "labels"), "the labels of a subset", &s->labels,
			      &s->n_labels))
		return -ENOMEM;
	d->n_subsets++;
	return 0;
}

int sl_k8s_add_destination_rule(struct rd *r, const yaml_node_t *obj)
{
	static const char *const spec_used[] = {"host", "subsets", "trafficPolicy", NULL};
	static const char *const spec_unsupported[] = {"exportTo", "workloadSelector", NULL};
	struct sl_k8s *k = r->k;
	yaml_node_t *spec, *v;
	struct kdr *d, tmp = {0};
	char why[160];
	size_t i;
	int err;

	err = sl_k8s_parse_meta(r, obj, "DestinationRule", &tmp.m);
	if (err || sl_k8s_seen_before(r, &tmp.m, "DestinationRule", &k->ix[KIX_DR], k->drs,
				      k->n_drs, sizeof(*k->drs)))
		return err == -ENOMEM ? err : 0;
	spec = sl_k8s_get(r, obj, "spec");
	if (!spec || !sl_k8s_want(r, spec, YAML_MAPPING_NODE, "spec")) {
		if (!spec)
			sl_k8s_err_at(r, obj, "%s has no spec; it needs at least spec.host",
				      r->what);
		return 0;
	}
	sl_k8s_check_keys(r, spec, spec_used, spec_unsupported, "in the spec", NULL);
	v = sl_k8s_get(r, spec, "exportTo");
	if (v && sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "spec.exportTo"))
		sl_k8s_check_export_to(r, v, tmp.m.ns);
	v = sl_k8s_get(r, spec, "host");
	if (!v) {
		sl_k8s_err_at(r, spec, "%s has no spec.host; say which Service it is for", r->what);
		return 0;
	}
	tmp.host = sl_k8s_get_str(r, v, "spec.host");
	if (!tmp.host)
		return k->oom ? -ENOMEM : 0;
	tmp.host_pos = sl_k8s_pos_of(r, v);
	if (sl_k8s_check_domain(tmp.host, why, sizeof(why)))
		sl_k8s_err_at(r, v, "spec.host '%s' of %s is not a valid host: %s", tmp.host,
			      r->what, why);

	v = sl_k8s_get(r, spec, "trafficPolicy");
	if (v)
		parse_traffic_policy(r, v, "trafficPolicy", &tmp.client_ip);

	v = sl_k8s_get(r, spec, "subsets");
	if (v && sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "spec.subsets")) {
		tmp.subsets = sl_k8s_alloc(k, sl_yaml_seq_len(v), sizeof(*tmp.subsets));
		if (!tmp.subsets)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++) {
			err = parse_subset(r, sl_yaml_seq_item(r->doc, v, i), &tmp);
			if (err)
				return err;
		}
	}
	d = sl_k8s_grow(k, (void **)&k->drs, &k->n_drs, sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = tmp;
	return 0;
}
