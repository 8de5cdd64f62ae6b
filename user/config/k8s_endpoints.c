// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Building the model, the endpoints side: the ready endpoints of a Service
 * (from its EndpointSlices or Endpoints, else the pods its selector picks),
 * their port for each Service port, and the subsets they fall in. Called by
 * k8s_build.c; calls k8s_read.c's arena and the model.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/k8s_internal.h"

/* A candidate endpoint of a Service: an address, its pod, and its port for each Service port. */
struct cand {
	struct sl_addr a;
	const struct kpod *pod;
	uint16_t *tp;
};

static const struct kpod *pod_by_name(const struct sl_k8s *k, const char *ns, const char *name)
{
	size_t i;

	for (i = 0; i < k->n_pods; i++)
		if (!strcmp(k->pods[i].m.ns, ns) && !strcmp(k->pods[i].m.name, name))
			return &k->pods[i];
	return NULL;
}

static const struct kpod *pod_by_ip(const struct sl_k8s *k, const char *ns, const struct sl_addr *a)
{
	size_t i, j;

	for (i = 0; i < k->n_pods; i++)
		for (j = 0;
		     !k->pods[i].terminal && !strcmp(k->pods[i].m.ns, ns) && j < k->pods[i].n_ips;
		     j++)
			if (sl_addr_eq(&k->pods[i].ips[j], a))
				return &k->pods[i];
	return NULL;
}

/* The pod's port for a Service port: targetPort by number, or by container port name. */
static uint16_t pod_port(const struct kport *p, const struct kpod *pod)
{
	size_t i;

	if (!p->target_name)
		return p->target;
	for (i = 0; pod && i < pod->n_cports; i++)
		if (!strcmp(pod->cports[i].name, p->target_name) &&
		    (!pod->cports[i].proto || pod->cports[i].proto == p->proto))
			return pod->cports[i].port;
	return 0;
}

static int add_cand(struct sl_k8s *k, struct cand **c, size_t *n, const struct ksvc *svc,
		    const struct sl_addr *a, const struct kpod *pod, const struct kslice *sl)
{
	struct cand *x;
	size_t i, j;

	for (i = 0; i < *n; i++)
		if (sl_addr_eq(&(*c)[i].a, a))
			return 0;
	x = sl_k8s_grow(k, (void **)c, n, sizeof(**c));
	if (!x)
		return -ENOMEM;
	x->a = *a;
	x->pod = pod;
	x->tp = sl_k8s_alloc(k, svc->n_ports, sizeof(*x->tp));
	if (!x->tp)
		return -ENOMEM;
	for (j = 0; j < svc->n_ports; j++) {
		const struct kport *p = &svc->ports[j];

		/* A slice names its ports like the Service's ports; no ports: ask the pod. */
		if (sl && sl->n_ports) {
			for (i = 0; i < sl->n_ports; i++)
				if (!strcmp(sl->ports[i].name, p->name) &&
				    (!sl->ports[i].proto || sl->ports[i].proto == p->proto))
					x->tp[j] = sl->ports[i].port;
		} else {
			x->tp[j] = pod_port(p, pod);
		}
	}
	return 0;
}

/*
 * The ready endpoints of a Service: from its EndpointSlices (or Endpoints)
 * when any are given, else from the pods its selector picks.
 */
static int service_cands(struct sl_k8s *k, const struct ksvc *svc, struct cand **c, size_t *n)
{
	bool from_slices = false;
	size_t i, j;
	int err;

	for (i = 0; i < k->n_slices; i++) {
		const struct kslice *sl = &k->slices[i];

		if (strcmp(sl->m.ns, svc->m.ns) || strcmp(sl->service, svc->m.name))
			continue;
		from_slices = true;
		for (j = 0; j < sl->n_addrs; j++) {
			const struct kaddr *a = &sl->addrs[j];
			const struct kpod *pod = a->pod ? pod_by_name(k, svc->m.ns, a->pod) : NULL;

			if (!a->ready)
				continue;
			if (!pod)
				pod = pod_by_ip(k, svc->m.ns, &a->a);
			err = add_cand(k, c, n, svc, &a->a, pod, sl);
			if (err)
				return err;
		}
	}
	if (from_slices || !svc->n_selector)
		return 0;
	for (i = 0; i < k->n_pods; i++) {
		const struct kpod *pod = &k->pods[i];

		if (!pod->ready || strcmp(pod->m.ns, svc->m.ns) ||
		    !sl_labels_match(svc->selector, svc->n_selector, pod->labels, pod->n_labels))
			continue;
		for (j = 0; j < pod->n_ips; j++) {
			err = add_cand(k, c, n, svc, &pod->ips[j], pod, NULL);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Subsets and their endpoints. */
int sl_k8s_build_subsets(struct bld *b, const struct ksvc *svc, const struct kdr *dr, bool all,
			 struct sl_service_cfg *s, const struct sl_pos *at)
{
	struct cand *c = NULL;
	size_t n_c = 0, i, j, e, n_sub = (dr ? dr->n_subsets : 0) + (all ? 1 : 0);
	bool per_ep = false;
	int err;

	if (n_sub > SL_MAX_SUBSETS) {
		sl_diag_add(b->diag, dr ? &dr->m.pos : at, "error",
			    "Service %s/%s would have %zu subsets%s; sluice allows %d", svc->m.ns,
			    svc->m.name, n_sub, all ? " (counting the whole Service as one)" : "",
			    SL_MAX_SUBSETS);
		return 0;
	}
	err = service_cands(b->k, svc, &c, &n_c);
	if (err)
		goto out;

	/* A named targetPort may differ from pod to pod. */
	for (j = 0; j < svc->n_ports; j++) {
		uint16_t first = 0;
		bool differ = false;

		for (i = 0; i < n_c; i++) {
			if (!c[i].tp[j])
				continue;
			if (first && c[i].tp[j] != first)
				differ = true;
			if (!first)
				first = c[i].tp[j];
		}
		s->ports[j].target_port =
		    first ? first : (svc->ports[j].target ?: svc->ports[j].port);
		if (!differ)
			continue;
		if (svc->n_ports > 1) {
			sl_diag_add(
			    b->diag, &svc->ports[j].pos, "error",
			    "targetPort '%s' of Service %s/%s is a different port on different "
			    "pods; sluice supports that only for a Service with one port",
			    svc->ports[j].target_name ?: "?", svc->m.ns, svc->m.name);
			goto out;
		}
		per_ep = true;
	}

	s->subsets = calloc(n_sub, sizeof(*s->subsets));
	if (!s->subsets) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n_sub; i++) {
		struct sl_subset_cfg *sub = &s->subsets[s->n_subsets++];
		const struct kdrsub *ds = dr && i < dr->n_subsets ? &dr->subsets[i] : NULL;

		snprintf(sub->name, sizeof(sub->name), "%s", ds ? ds->name : SL_K8S_ALL_SUBSET);
		sub->pos = ds ? ds->pos : *at;
		sub->eps = calloc(n_c ? n_c : 1, sizeof(*sub->eps));
		if (!sub->eps) {
			err = -ENOMEM;
			goto out;
		}
		for (e = 0; e < n_c; e++) {
			struct sl_endpoint_cfg *ep = &sub->eps[sub->n_eps];
			bool serves = false;

			for (j = 0; j < svc->n_ports; j++)
				serves |= c[e].tp[j] != 0;
			if (!serves)
				continue;
			/* A subset's labels select pods; an address without a Pod has no labels. */
			if (ds && ds->n_labels &&
			    (!c[e].pod || !sl_labels_match(ds->labels, ds->n_labels,
							   c[e].pod->labels, c[e].pod->n_labels)))
				continue;
			ep->a = c[e].a;
			ep->port = per_ep ? c[e].tp[0] : 0;
			ep->pos = c[e].pod ? c[e].pod->m.pos : svc->m.pos;
			sub->n_eps++;
		}
	}
out:
	free(c);
	return err;
}
