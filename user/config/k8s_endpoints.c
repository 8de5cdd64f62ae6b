// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Building the model, the endpoints side: the ready endpoints of a Service
 * (from its EndpointSlices or Endpoints, else the pods its selector picks),
 * their port for each port of the Service whose VIP is split (the same
 * Service, or the host of a host-level canary: k8s_split.c), and the
 * subsets they fall in. Called by k8s_build.c; calls k8s_read.c's arena
 * and the model.
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

/*
 * The port of svc that carries apex's port j: the same port when svc is
 * apex; else svc's only port, or its port of the same number and protocol
 * (a destination without a port number goes to the port the client used).
 */
static const struct kport *port_for(const struct ksvc *svc, const struct ksvc *apex, size_t j)
{
	size_t i;

	if (svc == apex)
		return &apex->ports[j];
	if (svc->n_ports == 1)
		return &svc->ports[0];
	for (i = 0; i < svc->n_ports; i++)
		if (svc->ports[i].port == apex->ports[j].port &&
		    svc->ports[i].proto == apex->ports[j].proto)
			return &svc->ports[i];
	return NULL;
}

static int add_cand(struct sl_k8s *k, struct cand **c, size_t *n, const struct ksvc *apex,
		    const struct ksvc *svc, const struct sl_addr *a, const struct kpod *pod,
		    const struct kslice *sl)
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
	x->tp = sl_k8s_alloc(k, apex->n_ports, sizeof(*x->tp));
	if (!x->tp)
		return -ENOMEM;
	for (j = 0; j < apex->n_ports; j++) {
		const struct kport *p = port_for(svc, apex, j);

		if (!p)
			continue;
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
 * The ready endpoints of svc, with their ports for apex's ports: from its
 * EndpointSlices (or Endpoints) when any are given, else from the pods its
 * selector picks.
 */
static int service_cands(struct sl_k8s *k, const struct ksvc *apex, const struct ksvc *svc,
			 struct cand **c, size_t *n)
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
			err = add_cand(k, c, n, apex, svc, &a->a, pod, sl);
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
			err = add_cand(k, c, n, apex, svc, &pod->ips[j], pod, NULL);
			if (err)
				return err;
		}
	}
	return 0;
}

/* The candidates of each Service a plan names. */
struct svc_cands {
	const struct ksvc *svc;
	struct cand *c;
	size_t n;
};

/*
 * Each of apex's ports gets the pod port every endpoint agrees on; when
 * they differ (a named targetPort, or host-level canaries whose Services
 * map the port differently) each endpoint carries its own, which only a
 * one-port Service can. *per_ep says so; false after an error.
 */
static bool target_ports(struct bld *b, const struct ksvc *apex, const struct svc_cands *sc,
			 size_t n_sc, struct sl_service_cfg *s, bool *per_ep)
{
	size_t i, j, k;

	*per_ep = false;
	for (j = 0; j < apex->n_ports; j++) {
		uint16_t first = 0;
		bool differ = false;

		for (k = 0; k < n_sc; k++)
			for (i = 0; i < sc[k].n; i++) {
				if (!sc[k].c[i].tp[j])
					continue;
				differ |= first && sc[k].c[i].tp[j] != first;
				first = first ? first : sc[k].c[i].tp[j];
			}
		s->ports[j].target_port =
		    first ? first : (apex->ports[j].target ?: apex->ports[j].port);
		if (!differ)
			continue;
		if (apex->n_ports > 1) {
			sl_diag_add(b->diag, &apex->ports[j].pos, "error",
				    "port %u of Service %s/%s leads to different pod ports on "
				    "different endpoints (targetPort '%s'%s); sluice supports that "
				    "only for a Service with one port",
				    apex->ports[j].port, apex->m.ns, apex->m.name,
				    apex->ports[j].target_name ?: "?",
				    n_sc > 1 ? ", or the destination Services' own" : "");
			return false;
		}
		*per_ep = true;
	}
	return true;
}

int sl_k8s_build_subsets(struct bld *b, const struct ksvc *apex, const struct ksplit *p,
			 struct sl_service_cfg *s, const struct sl_pos *at)
{
	struct svc_cands sc[SL_MAX_SUBSETS] = {0};
	size_t n_sc = 0, i, j, e, k;
	bool per_ep;
	int err = 0;

	if (p->too_many) {
		sl_diag_add(b->diag, at, "error",
			    "Service %s/%s would have more than %d subsets (its DestinationRule's, "
			    "\"" SL_K8S_ALL_SUBSET "\" for a destination without one, and each "
			    "other Service a destination names); sluice allows %d",
			    apex->m.ns, apex->m.name, SL_MAX_SUBSETS, SL_MAX_SUBSETS);
		return 0;
	}
	for (i = 0; i < p->n && !err; i++) {
		for (k = 0; k < n_sc && sc[k].svc != p->src[i].svc; k++)
			;
		if (k < n_sc)
			continue;
		sc[n_sc].svc = p->src[i].svc;
		err = service_cands(b->k, apex, sc[n_sc].svc, &sc[n_sc].c, &sc[n_sc].n);
		n_sc++;
	}
	if (err || !target_ports(b, apex, sc, n_sc, s, &per_ep))
		goto out;

	s->subsets = calloc(p->n ? p->n : 1, sizeof(*s->subsets));
	if (!s->subsets) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < p->n; i++) {
		struct sl_subset_cfg *sub = &s->subsets[s->n_subsets++];
		const struct kdrsub *ds = p->src[i].ds;

		for (k = 0; sc[k].svc != p->src[i].svc; k++)
			;
		snprintf(sub->name, sizeof(sub->name), "%s", p->src[i].name);
		sub->pos = p->src[i].pos;
		sub->eps = calloc(sc[k].n ? sc[k].n : 1, sizeof(*sub->eps));
		if (!sub->eps) {
			err = -ENOMEM;
			goto out;
		}
		for (e = 0; e < sc[k].n; e++) {
			const struct cand *c = &sc[k].c[e];
			struct sl_endpoint_cfg *ep = &sub->eps[sub->n_eps];
			bool serves = false;

			for (j = 0; j < apex->n_ports; j++)
				serves |= c->tp[j] != 0;
			if (!serves)
				continue;
			/* A subset's labels select pods; an address without a Pod has no labels. */
			if (ds && ds->n_labels &&
			    (!c->pod || !sl_labels_match(ds->labels, ds->n_labels, c->pod->labels,
							 c->pod->n_labels)))
				continue;
			ep->a = c->a;
			ep->port = per_ep ? c->tp[0] : 0;
			ep->pos = c->pod ? c->pod->m.pos : sc[k].svc->m.pos;
			sub->n_eps++;
		}
	}
out:
	for (k = 0; k < n_sc; k++)
		free(sc[k].c);
	return err;
}
