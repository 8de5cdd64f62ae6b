// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A rollout beside an Istio VirtualService: a Canary object of sluice's own
 * group, shaped like Flagger's Canary so that its `analysis` block pastes
 * in as is:
 *
 *   apiVersion: sluice.io/v1alpha1
 *   kind: Canary
 *   metadata: {name: reviews, namespace: shop}
 *   spec:
 *     targetRef: {kind: Service, name: reviews}  # the host a VirtualService routes
 *     to: v2                                     # DestinationRule subsets
 *     from: v1                                   # default: the other one in the split
 *     analysis: {interval: 30s, threshold: 3, stepWeight: 10, maxWeight: 50, metrics: [...]}
 *
 * spec takes every key of our format's `rollout:` block (ours_rollout.c
 * reads it, with the same warnings for Flagger-only fields). Read here;
 * tied to the model service its VirtualService made by
 * sl_k8s_build_canaries(), which checks the subsets. The one k8s_* file
 * that calls ours.h: the block is read by the same code in both formats.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/k8s_internal.h"
#include "config/ours.h"
#include "config/yaml_node.h"
#include "rollout/spec.h"

/* targetRef: the Service, or the workload Flagger would find the Service of by its name. */
static char *read_target(struct rd *r, const yaml_node_t *tr, struct sl_pos *pos)
{
	static const char *const keys[] = {"apiVersion", "kind", "name", NULL};
	yaml_node_t *kn, *nm;
	const char *kind;

	if (!tr) {
		sl_k8s_err_at(r, NULL, "%s has no spec.targetRef (the Service to roll out)",
			      r->what);
		return NULL;
	}
	*pos = sl_k8s_pos_of(r, tr);
	if (!sl_k8s_want(r, tr, YAML_MAPPING_NODE, "spec.targetRef"))
		return NULL;
	sl_k8s_check_keys(r, tr, keys, NULL, "in spec.targetRef", NULL);
	kn = sl_k8s_get(r, tr, "kind");
	kind = sl_yaml_scalar(kn);
	nm = sl_k8s_get(r, tr, "name");
	if (!nm) {
		sl_k8s_err_at(r, tr, "spec.targetRef of %s has no name", r->what);
		return NULL;
	}
	if (!kind || !strcmp(kind, "Service")) {
		/* the default: a Service */
	} else if (!strcmp(kind, "Deployment") || !strcmp(kind, "DaemonSet")) {
		sl_k8s_warn_at(r, kn,
			       "sluice moves traffic, not %ss: %s rolls out the Service named "
			       "'%s' (Flagger's convention), over its DestinationRule subsets",
			       kind, r->what, sl_yaml_scalar(nm) ?: "?");
	} else {
		sl_k8s_err_at(r, kn,
			      "spec.targetRef.kind of %s is '%s'; sluice rolls out a Service (or "
			      "the Service of a Deployment or DaemonSet)",
			      r->what, kind);
		return NULL;
	}
	return sl_k8s_get_str(r, nm, "spec.targetRef.name");
}

int sl_k8s_add_canary(struct rd *r, const yaml_node_t *obj)
{
	struct ctx c = {.doc = r->doc, .file = r->file, .diag = r->diag};
	struct sl_k8s *k = r->k;
	struct kcanary tmp = {}, *cn;
	struct sl_rollout *plan;
	yaml_node_t *spec, *v;
	int err;

	err = sl_k8s_parse_meta(r, obj, "Canary", &tmp.m);
	if (err || sl_k8s_seen_before(r, &tmp.m, "Canary", &k->ix[KIX_CANARY], k->canaries,
				      k->n_canaries, sizeof(*k->canaries)))
		return err == -ENOMEM ? err : 0;
	spec = sl_k8s_get(r, obj, "spec");
	if (!spec) {
		sl_k8s_err_at(r, obj, "%s has no spec", r->what);
		return 0;
	}
	if (!sl_k8s_want(r, spec, YAML_MAPPING_NODE, "spec"))
		return 0;
	tmp.target = read_target(r, sl_k8s_get(r, spec, "targetRef"), &tmp.target_pos);
	err = 0;
	plan = sl_ours_rollout_spec(&c, spec, r->what, true, &err);
	if (!plan)
		return err;
	tmp.plan = sl_k8s_alloc(k, 1, sizeof(*plan));
	if (tmp.plan)
		*tmp.plan = *plan;
	free(plan);
	tmp.pos = sl_k8s_pos_of(r, spec);
	v = sl_k8s_get(r, spec, "to");
	tmp.to_pos = sl_k8s_pos_of(r, v ? v : spec);
	v = sl_k8s_get(r, spec, "from");
	tmp.from_given = v != NULL;
	tmp.from_pos = sl_k8s_pos_of(r, v ? v : spec);
	if (!tmp.target || !tmp.plan)
		return k->oom ? -ENOMEM : 0;
	cn = sl_k8s_grow(k, (void **)&k->canaries, &k->n_canaries, sizeof(*cn));
	if (!cn)
		return -ENOMEM;
	*cn = tmp;
	return 0;
}


static void no_subset(struct bld *b, const struct kcanary *cn, const struct sl_pos *at,
		      const char *name)
{
	sl_diag_add(b->diag, at, "error",
		    "Canary %s/%s: the VirtualService of Service %s/%s routes to no subset '%s' "
		    "(a DestinationRule subset that a route names)",
		    cn->m.ns, cn->m.name, cn->m.ns, cn->target, name);
}

/* cn's plan on model service s, or errors at cn's positions; 0 or -ENOMEM. */
static int bind(struct bld *b, const struct kcanary *cn, struct sl_service_cfg *s)
{
	const struct sl_route_cfg *rt = s->n_routes ? &s->routes[s->n_routes - 1] : NULL;
	struct sl_rollout *r;
	size_t i, found = 0;

	if (s->rollout) {
		sl_diag_add(b->diag, &cn->target_pos, "error",
			    "Service %s/%s already has a rollout; Canary %s/%s would be a second",
			    cn->m.ns, cn->target, cn->m.ns, cn->m.name);
		return 0;
	}
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = *cn->plan;
	snprintf(r->service, sizeof(r->service), "%s", s->name);
	if (!r->to[0]) {
		/* said while reading */
	} else if (sl_config_subset_index(s, r->to) < 0) {
		no_subset(b, cn, &cn->to_pos, r->to);
	} else if (!cn->from_given) {
		/* the baseline when not given: the one other subset of the last route's split */
		for (i = 0; rt && i < s->n_subsets; i++)
			if (rt->weight[i] && strcmp(s->subsets[i].name, r->to)) {
				snprintf(r->from, sizeof(r->from), "%s", s->subsets[i].name);
				found++;
			}
		if (found != 1)
			sl_diag_add(b->diag, &cn->pos, "error",
				    "Canary %s/%s needs 'from': no single other subset in the last "
				    "route's split of Service %s/%s",
				    cn->m.ns, cn->m.name, cn->m.ns, cn->target);
	} else if (sl_config_subset_index(s, r->from) < 0) {
		no_subset(b, cn, &cn->from_pos, r->from);
	} else if (!strcmp(r->to, r->from)) {
		sl_diag_add(b->diag, &cn->pos, "error", "Canary %s/%s goes from '%s' to itself",
			    cn->m.ns, cn->m.name, r->to);
	}
	s->rollout = r;
	return 0;
}

int sl_k8s_build_canaries(struct bld *b)
{
	struct sl_k8s *k = b->k;
	char name[SL_NAME_LEN];
	size_t i, j;
	int err = 0;

	for (i = 0; i < k->n_canaries && !err; i++) {
		const struct kcanary *cn = &k->canaries[i];
		struct sl_diag_mark dm = sl_diag_mark(b->diag);
		struct sl_service_cfg *s = NULL;
		bool had;

		snprintf(name, sizeof(name), "%s.%s", cn->target, cn->m.ns);
		for (j = 0; j < b->cfg->n_services && !s; j++)
			if (!strcmp(b->cfg->services[j].name, name))
				s = &b->cfg->services[j];
		if (!s)
			sl_diag_add(b->diag, &cn->target_pos, "error",
				    "Canary %s/%s: no VirtualService routes Service %s/%s (a "
				    "rollout moves the weights of a VirtualService's split)",
				    cn->m.ns, cn->m.name, cn->m.ns, cn->target);
		had = s && s->rollout;
		if (s)
			err = bind(b, cn, s);
		if (err || !sl_diag_errors_since(b->diag, &dm))
			continue;
		if (s && !had && k->isolate) {
			free(s->rollout);
			s->rollout = NULL;
		}
		if (k->isolate)
			err = sl_k8s_reject(k, b->diag, &dm, "Canary", &cn->m);
	}
	return err;
}
