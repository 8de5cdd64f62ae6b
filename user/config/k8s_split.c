// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The split of a VirtualService's routes at one Service's VIP (the host's):
 * which subsets the model service has, and each route's weights over them.
 *
 * A destination is a subset of the host's own Service (its DestinationRule's
 * subsets, in the rule's order, plus "_all" for a destination without a
 * subset), or another Service: Flagger's podinfo-primary/podinfo-canary,
 * Argo Rollouts' stable/canary Services. Those "host-level canaries" become
 * subsets too, made of that Service's ready endpoints (or of one subset of
 * its own DestinationRule), named after it; the traffic stays addressed to
 * the host's VIP and is DNATed to them. Called by k8s_build.c; calls
 * k8s_hosts.c and the model.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "config/k8s_internal.h"

const struct kdr *sl_k8s_service_dr(const struct bld *b, const struct ksvc *svc)
{
	size_t i;

	for (i = 0; i < b->k->n_drs; i++)
		if (b->dr_svc[i] >= 0 && &b->k->svcs[b->dr_svc[i]] == svc)
			return &b->k->drs[i];
	return NULL;
}

bool sl_k8s_svc_has_port(const struct ksvc *svc, uint16_t port)
{
	size_t i;

	for (i = 0; i < svc->n_ports; i++)
		if (svc->ports[i].port == port)
			return true;
	return false;
}

static const struct kdrsub *dr_subset(const struct kdr *dr, const char *name)
{
	size_t i;

	for (i = 0; dr && i < dr->n_subsets; i++)
		if (!strcmp(dr->subsets[i].name, name))
			return &dr->subsets[i];
	return NULL;
}

/* The Service a destination names (resolved from vs's namespace), or NULL. */
static const struct ksvc *dest_service(const struct bld *b, const struct kvs *vs,
				       const struct kdest *d)
{
	char why[256];
	int si = sl_k8s_find_service(b->k, d->host, vs->m.ns, why, sizeof(why));

	return si >= 0 ? &b->k->svcs[si] : NULL;
}

/* Index in the plan of (svc, subset), or -1. */
static int plan_find(const struct ksplit *p, const struct ksvc *svc, const struct kdrsub *ds)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->src[i].svc == svc && p->src[i].ds == ds)
			return (int)i;
	return -1;
}

static bool name_taken(const struct ksplit *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->src[i].name, name))
			return true;
	return false;
}

static void plan_add(struct ksplit *p, const struct ksvc *svc, const struct kdrsub *ds,
		     const char *name, const struct sl_pos *pos)
{
	struct ksrc *s;
	size_t n;

	if (p->n == SL_MAX_SUBSETS) {
		p->too_many = true;
		return;
	}
	s = &p->src[p->n];
	s->svc = svc;
	s->ds = ds;
	s->pos = *pos;
	snprintf(s->name, sizeof(s->name), "%s", name);
	/* Another Service's name may be too long, or taken: cut it, and number it. */
	for (n = 1; strlen(name) >= sizeof(s->name) || name_taken(p, s->name); n++) {
		snprintf(s->name, sizeof(s->name), "%.*s~%zu", (int)sizeof(s->name) - 5, name, n);
		if (!name_taken(p, s->name))
			break;
	}
	p->n++;
}

int sl_k8s_plan_split(struct bld *b, const struct kvs *vs, const struct ksvc *apex,
		      struct ksplit *p)
{
	const struct kdr *dr = sl_k8s_service_dr(b, apex);
	const struct kdrsub *ds;
	const struct ksvc *svc;
	bool own = false, own_all = false;
	char why[256], name[2 * SL_SUBSET_NAME_LEN + 64];
	size_t i, j;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < vs->n_routes; i++)
		for (j = 0; vs->routes[i].usable && j < vs->routes[i].n_dests; j++) {
			const struct kdest *d = &vs->routes[i].dests[j];

			if (sl_k8s_find_service(b->k, d->host, vs->m.ns, why, sizeof(why)) == -2) {
				p->external = d;
				return 0;
			}
			svc = dest_service(b, vs, d);
			own |= svc == apex;
			own_all |= svc == apex && !d->subset;
		}
	/* The host's own Service: every subset of its rule, for `sluice weights` too. */
	for (i = 0; own && dr && i < dr->n_subsets; i++)
		plan_add(p, apex, &dr->subsets[i], dr->subsets[i].name, &dr->subsets[i].pos);
	if (own_all)
		plan_add(p, apex, NULL, SL_K8S_ALL_SUBSET, &vs->m.pos);
	/* Other Services: the ones (and subsets) the routes name, in the order named. */
	for (i = 0; i < vs->n_routes; i++)
		for (j = 0; vs->routes[i].usable && j < vs->routes[i].n_dests; j++) {
			const struct kdest *d = &vs->routes[i].dests[j];

			svc = dest_service(b, vs, d);
			if (!svc || svc == apex)
				continue;
			ds = d->subset ? dr_subset(sl_k8s_service_dr(b, svc), d->subset) : NULL;
			if ((d->subset && !ds) || plan_find(p, svc, ds) >= 0)
				continue; /* an unknown subset is said by sl_k8s_route_split() */
			snprintf(name, sizeof(name), "%s%s%s", svc->m.name, ds ? "/" : "",
				 ds ? ds->name : "");
			plan_add(p, svc, ds, name, &d->host_pos);
			p->other = true;
		}
	return 0;
}

static void list_subsets(const struct kdr *dr, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; dr && i < dr->n_subsets && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "", dr->subsets[i].name);
}

void sl_k8s_list_ports(const struct ksvc *svc, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < svc->n_ports && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%u/%s", i ? ", " : "", svc->ports[i].port,
				svc->ports[i].proto == IPPROTO_UDP ? "UDP" : "TCP");
}

/* Where destination d of rt goes in the plan: its index, or -1 (reported). */
static int dest_index(struct bld *b, const struct kvs *vs, const struct kroute *rt,
		      const struct kdest *d, const struct ksplit *p)
{
	char why[256], names[SL_MAX_SUBSETS * SL_SUBSET_NAME_LEN + 16], ports[128];
	const struct ksvc *svc;
	const struct kdr *dr;
	int si = sl_k8s_find_service(b->k, d->host, vs->m.ns, why, sizeof(why)), idx;

	if (si < 0) {
		sl_diag_add(b->diag, &d->host_pos, "error",
			    "destination host '%s' of %s of VirtualService %s/%s matches no "
			    "Service: %s",
			    d->host, rt->name, vs->m.ns, vs->m.name, why);
		return -1;
	}
	svc = &b->k->svcs[si];
	dr = sl_k8s_service_dr(b, svc);
	if (d->port && !sl_k8s_svc_has_port(svc, d->port)) {
		sl_k8s_list_ports(svc, ports, sizeof(ports));
		sl_diag_add(b->diag, &d->port_pos, "error",
			    "destination port %u of %s is not a port of Service %s/%s; its "
			    "ports are: %s",
			    d->port, rt->name, svc->m.ns, svc->m.name, ports);
		return -1;
	}
	idx = plan_find(p, svc, d->subset ? dr_subset(dr, d->subset) : NULL);
	if (idx >= 0 && (!d->subset || dr_subset(dr, d->subset)))
		return idx;
	list_subsets(dr, names, sizeof(names));
	if (d->subset && dr && dr->n_subsets)
		sl_diag_add(b->diag, &d->subset_pos, "error",
			    "subset '%s' of host '%s' is not defined: DestinationRule "
			    "%s/%s (%s:%d) has subsets %s",
			    d->subset, d->host, dr->m.ns, dr->m.name, dr->m.pos.file,
			    dr->m.pos.line, names);
	else if (d->subset)
		sl_diag_add(b->diag, &d->subset_pos, "error",
			    "subset '%s' of host '%s' is not defined: no "
			    "DestinationRule for Service %s/%s defines subsets",
			    d->subset, d->host, svc->m.ns, svc->m.name);
	/* else: more subsets than sluice allows, said once by sl_k8s_build_subsets() */
	return -1;
}

bool sl_k8s_route_split(struct bld *b, const struct kvs *vs, const struct kroute *rt,
			const struct ksplit *p, uint32_t w[SL_MAX_SUBSETS])
{
	uint64_t sum[SL_MAX_SUBSETS] = {0}, max = 0;
	bool ok = true;
	size_t i;
	int idx;

	memset(w, 0, SL_MAX_SUBSETS * sizeof(*w));
	for (i = 0; i < rt->n_dests; i++) {
		idx = dest_index(b, vs, rt, &rt->dests[i], p);
		if (idx < 0) {
			ok = false;
			continue;
		}
		sum[idx] += rt->dests[i].weight;
	}
	for (i = 0; i < SL_MAX_SUBSETS; i++)
		max = sum[i] > max ? sum[i] : max;
	/*
	 * Weights are relative and Istio takes any int32: scale large ones
	 * down to sluice's range, keeping every weight that is not 0 above 0.
	 */
	for (i = 0; i < SL_MAX_SUBSETS; i++)
		w[i] = max <= SL_MAX_WEIGHT ? (uint32_t)sum[i]
		       : sum[i]		    ? (uint32_t)(sum[i] * SL_MAX_WEIGHT / max ?: 1)
					    : 0;
	return ok;
}
