// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Istio's DestinationRule: a Service's subsets (by pod labels) and the
 * client-address affinity. Read into k8s_internal.h's private form; calls
 * k8s_read.c's helpers and the model.
 */
#include <errno.h>
#include <string.h>

#include "config/k8s_internal.h"
#include "config/yaml_node.h"

int sl_k8s_add_destination_rule(struct rd *r, const yaml_node_t *obj)
{
	static const char *const spec_known[] = {"host", "subsets", "trafficPolicy", NULL};
	static const char *const tp_known[] = {"loadBalancer", NULL};
	static const char *const lb_known[] = {"consistentHash", NULL};
	static const char *const ch_known[] = {"useSourceIp", NULL};
	static const char *const sub_known[] = {"name", "labels", NULL};
	struct sl_k8s *k = r->k;
	yaml_node_t *spec, *v, *tp, *lb, *ch;
	struct kdr *d, tmp = {0};
	size_t i, j;
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
	sl_k8s_ignore_others(r, spec, spec_known, "in the spec", NOT_DONE);
	v = sl_k8s_get(r, spec, "host");
	if (!v) {
		sl_k8s_err_at(r, spec, "%s has no spec.host; say which Service it is for", r->what);
		return 0;
	}
	tmp.host = sl_k8s_get_str(r, v, "spec.host");
	if (!tmp.host)
		return k->oom ? -ENOMEM : 0;
	tmp.host_pos = sl_k8s_pos_of(r, v);

	tp = sl_k8s_get(r, spec, "trafficPolicy");
	sl_k8s_ignore_others(r, tp, tp_known, "in trafficPolicy", NOT_DONE);
	lb = sl_k8s_get(r, tp, "loadBalancer");
	sl_k8s_ignore_others(r, lb, lb_known, "in trafficPolicy.loadBalancer",
			     "sluice picks an endpoint by a hash of the connection");
	ch = sl_k8s_get(r, lb, "consistentHash");
	sl_k8s_ignore_others(r, ch, ch_known, "in consistentHash",
			     "sluice hashes on the client address only (useSourceIp)");
	/* The same client address always lands on the same subset: our client-ip affinity. */
	tmp.client_ip = sl_k8s_get_bool(sl_k8s_get(r, ch, "useSourceIp"));

	v = sl_k8s_get(r, spec, "subsets");
	if (v && sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "spec.subsets")) {
		tmp.subsets = sl_k8s_alloc(k, sl_yaml_seq_len(v), sizeof(*tmp.subsets));
		if (!tmp.subsets)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++) {
			yaml_node_t *sn = sl_yaml_seq_item(r->doc, v, i), *name;
			struct kdrsub *s = &tmp.subsets[tmp.n_subsets];

			if (!sl_k8s_want(r, sn, YAML_MAPPING_NODE, "a subset"))
				continue;
			sl_k8s_ignore_others(r, sn, sub_known, "in a subset", NOT_DONE);
			name = sl_k8s_get(r, sn, "name");
			if (!name) {
				sl_k8s_err_at(r, sn, "a subset of %s has no name", r->what);
				continue;
			}
			s->name = sl_k8s_get_str(r, name, "the name of a subset");
			if (!s->name)
				continue;
			s->pos = sl_k8s_pos_of(r, name);
			if (strlen(s->name) >= SL_SUBSET_NAME_LEN) {
				sl_k8s_err_at(
				    r, name,
				    "subset name '%s' in %s is %zu characters long; sluice "
				    "allows %d",
				    s->name, r->what, strlen(s->name), SL_SUBSET_NAME_LEN - 1);
				continue;
			}
			for (j = 0; j < tmp.n_subsets; j++)
				if (!strcmp(tmp.subsets[j].name, s->name))
					break;
			if (j < tmp.n_subsets) {
				sl_k8s_err_at(r, name,
					      "duplicate subset '%s' in %s (first at line %d)",
					      s->name, r->what, tmp.subsets[j].pos.line);
				continue;
			}
			err = sl_k8s_get_labels(r, sl_k8s_get(r, sn, "labels"),
						"the labels of a subset", &s->labels, &s->n_labels);
			if (err)
				return err;
			tmp.n_subsets++;
		}
	}
	d = sl_k8s_grow(k, (void **)&k->drs, &k->n_drs, sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = tmp;
	return 0;
}
