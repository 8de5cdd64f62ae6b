// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Kubernetes and Istio objects -> the sluice model: sl_k8s_build(), once
 * every object is read. It resolves names across objects (a
 * VirtualService's hosts, a DestinationRule's host, the pods a Service
 * selects) and appends model services and workloads to the config. Calls
 * k8s_endpoints.c and the model.
 *
 * Mapping:
 *  - one model service "NAME.NAMESPACE" per Service a VirtualService routes:
 *    VIPs = clusterIPs, ports = Service ports;
 *  - its subsets are the DestinationRule's subsets, in order (plus "_all"
 *    when a destination names no subset); a subset's endpoints are the
 *    ready endpoints of the Service whose pod carries the subset's labels;
 *  - its routes are the VirtualService's http routes, then its tcp routes;
 *    a route with several match blocks becomes that many model routes with
 *    the same split (Istio ORs match blocks);
 *  - every Pod with an address is a workload, with its labels and the
 *    label SL_K8S_NAMESPACE_LABEL=its namespace (for sourceNamespace).
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/k8s_internal.h"

static int copy_labels(const struct sl_label *in, size_t n, const char *ns, struct sl_label **out,
		       size_t *n_out)
{
	size_t i;

	*out = calloc(n + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < n + (ns ? 1 : 0); i++) {
		(*out)[i].key = strdup(i < n ? in[i].key : SL_K8S_NAMESPACE_LABEL);
		(*out)[i].value = strdup(i < n ? in[i].value : ns);
		(*n_out)++;
		if (!(*out)[i].key || !(*out)[i].value)
			return -ENOMEM;
	}
	return 0;
}

static bool match_is_catch_all(const struct kmatch *m)
{
	return !m || (!m->n_labels && !m->src_ns && !m->port && !m->n_dst && !m->n_src && !m->l7);
}

/*
 * One model route: rt's split w, matching m (NULL: every connection) and,
 * with ns, connections from pods of namespace ns only (exportTo).
 */
static int add_model_route(struct sl_service_cfg *s, const struct kroute *rt,
			   const struct kmatch *m, const char *ns, const uint32_t w[SL_MAX_SUBSETS])
{
	struct sl_route_cfg *mr = &s->routes[s->n_routes++];
	int err;

	memcpy(mr->weight, w, sizeof(mr->weight));
	mr->pos = rt->pos;
	mr->kind = rt->tcp ? SL_ROUTE_TCP : SL_ROUTE_HTTP;
	mr->name = strdup(rt->name);
	if (!mr->name)
		return -ENOMEM;
	if (m && m->src_ns)
		ns = m->src_ns;
	if ((m && m->n_labels) || ns) {
		mr->has_labels = true;
		err = copy_labels(m ? m->labels : NULL, m ? m->n_labels : 0, ns, &mr->labels,
				  &mr->n_labels);
		if (err)
			return err;
	}
	if (!m)
		return 0;
	mr->needs_l7 = m->l7;
	if (m->l7 && !m->l7_unsupported && m->l7_spec && !(mr->l7_spec = strdup(m->l7_spec)))
		return -ENOMEM;
	mr->match_port = m->port;
	if (m->n_dst) {
		mr->has_dst_cidrs = true;
		mr->dst_cidrs = calloc(m->n_dst, sizeof(*mr->dst_cidrs));
		if (!mr->dst_cidrs)
			return -ENOMEM;
		memcpy(mr->dst_cidrs, m->dst, m->n_dst * sizeof(*m->dst));
		mr->n_dst_cidrs = m->n_dst;
	}
	if (m->n_src) {
		mr->has_cidrs = true;
		mr->cidrs = calloc(m->n_src, sizeof(*mr->cidrs));
		if (!mr->cidrs)
			return -ENOMEM;
		memcpy(mr->cidrs, m->src, m->n_src * sizeof(*m->src));
		mr->n_cidrs = m->n_src;
	}
	return 0;
}

/*
 * The routes of rt's match block m (NULL: none), once per namespace vs is
 * exported to (once in all when it is exported to every namespace). A
 * sourceNamespace of another namespace than the one exported to never
 * matches: left out.
 */
static int add_export_routes(struct sl_service_cfg *s, const struct kvs *vs,
			     const struct kroute *rt, const struct kmatch *m,
			     const uint32_t w[SL_MAX_SUBSETS])
{
	size_t k;
	int err;

	if (vs->export_all)
		return add_model_route(s, rt, m, NULL, w);
	for (k = 0; k < vs->n_export; k++) {
		if (m && m->src_ns && strcmp(m->src_ns, vs->export_ns[k]))
			continue;
		err = add_model_route(s, rt, m, vs->export_ns[k], w);
		if (err)
			return err;
	}
	return 0;
}

/* A Service routed without a cluster IP: said once for all at the end (note_no_vip()). */
static void no_vip(struct bld *b, const struct ksvc *svc)
{
	size_t off = strlen(b->no_vip_names);

	if (!b->n_no_vip++)
		b->no_vip_pos = svc->m.pos;
	if (b->n_no_vip <= 4)
		snprintf(b->no_vip_names + off, sizeof(b->no_vip_names) - off, "%s%s/%s",
			 off ? ", " : "", svc->m.ns, svc->m.name);
}

/*
 * Can svc be a model service for vs (host h)? Says why not: another
 * VirtualService has it, no VIP (headless, or none written), no ports, a
 * name too long.
 */
static bool claim_service(struct bld *b, struct kvs *vs, struct ksvc *svc, const struct khost *h)
{
	char where[PATH_MAX + 16];

	if (svc->routed_by == vs)
		return false; /* hosts: [backend, backend.default.svc.cluster.local] */
	if (svc->routed_by) {
		snprintf(where, sizeof(where), "%s:%d", svc->routed_by->m.pos.file,
			 svc->routed_by->m.pos.line);
		if (b->k->isolate)
			sl_diag_add(
			    b->diag, &h->pos, "error",
			    "host '%s' of VirtualService %s/%s is Service %s/%s, already routed by "
			    "VirtualService %s/%s (%s), created before it (%s vs %s); like "
			    "Istio's sidecars, sluice takes the oldest VirtualService of a host "
			    "and leaves this one out",
			    h->name, vs->m.ns, vs->m.name, svc->m.ns, svc->m.name,
			    svc->routed_by->m.ns, svc->routed_by->m.name, where,
			    *svc->routed_by->m.created ? svc->routed_by->m.created : "-",
			    *vs->m.created ? vs->m.created : "-");
		else
			sl_diag_add(b->diag, &h->pos, "error",
				    "Service %s/%s is already routed by VirtualService %s/%s (%s); "
				    "sluice takes one VirtualService per Service",
				    svc->m.ns, svc->m.name, svc->routed_by->m.ns,
				    svc->routed_by->m.name, where);
		return false;
	}
	svc->routed_by = vs;
	if (svc->headless) {
		sl_diag_add(b->diag, &h->pos, "warning",
			    "host '%s' is Service %s/%s, which is headless (clusterIP: None): "
			    "clients reach its pods directly, there is no VIP to split at; "
			    "sluice leaves it alone",
			    h->name, svc->m.ns, svc->m.name);
		b->left_alone = true;
		return false;
	}
	if (!svc->n_vips) {
		no_vip(b, svc);
		b->left_alone = true;
		return false;
	}
	if (!svc->n_ports) {
		sl_diag_add(b->diag, &h->pos, "error",
			    "host '%s' is Service %s/%s, which has no TCP or UDP ports", h->name,
			    svc->m.ns, svc->m.name);
		return false;
	}
	if (strlen(svc->m.name) + 1 + strlen(svc->m.ns) >= SL_NAME_LEN) {
		sl_diag_add(b->diag, &h->pos, "error",
			    "Service %s/%s: the name %s.%s is longer than sluice's limit of %d",
			    svc->m.ns, svc->m.name, svc->m.name, svc->m.ns, SL_NAME_LEN - 1);
		return false;
	}
	return true;
}

/* A model service for svc: its VIPs and ports, room for n_routes routes; NULL without memory. */
static struct sl_service_cfg *new_model_service(struct bld *b, const struct ksvc *svc,
						const struct khost *h, const struct kdr *dr,
						size_t n_routes)
{
	struct sl_config *cfg = b->cfg;
	struct sl_service_cfg *s;
	char why[160];
	size_t i, j;

	s = realloc(cfg->services, (cfg->n_services + 1) * sizeof(*s));
	if (!s)
		return NULL;
	cfg->services = s;
	s = &cfg->services[cfg->n_services++];
	memset(s, 0, sizeof(*s));
	b->added++;
	snprintf(s->name, sizeof(s->name), "%s.%s", svc->m.name, svc->m.ns);
	s->pos = h->pos;
	s->affinity = dr && dr->client_ip ? SL_AFFINITY_CLIENT_IP : SL_AFFINITY_CONNECTION;
	s->vips = calloc(svc->n_vips, sizeof(*s->vips));
	s->ports = calloc(svc->n_ports, sizeof(*s->ports));
	s->routes = calloc(n_routes ? n_routes : 1, sizeof(*s->routes));
	if (!s->vips || !s->ports || !s->routes)
		return NULL;
	memcpy(s->vips, svc->vips, svc->n_vips * sizeof(*s->vips));
	s->n_vips = svc->n_vips;
	for (i = 0; i < svc->n_ports; i++) {
		for (j = 0; j < i; j++)
			if (svc->ports[j].port == svc->ports[i].port &&
			    svc->ports[j].proto == svc->ports[i].proto)
				break;
		if (j < i) {
			sl_diag_add(b->diag, &svc->ports[i].pos, "error",
				    "duplicate port %u in Service %s/%s", svc->ports[i].port,
				    svc->m.ns, svc->m.name);
			continue;
		}
		s->ports[s->n_ports].port = svc->ports[i].port;
		s->ports[s->n_ports].proto = svc->ports[i].proto;
		s->ports[s->n_ports].app = sl_k8s_port_app(&svc->ports[i], why, sizeof(why));
		s->ports[s->n_ports].mux = sl_k8s_port_mux(&svc->ports[i]);
		s->ports[s->n_ports].pos = svc->ports[i].pos;
		s->n_ports++;
	}
	return s;
}

/* vs's routes into s, split over plan p; 0 or -ENOMEM. */
static int add_routes(struct bld *b, const struct kvs *vs, const struct ksvc *svc,
		      const struct ksplit *p, struct sl_service_cfg *s)
{
	uint32_t w[SL_MAX_SUBSETS];
	bool catch_all[2] = {false, false}; /* by kind: http, tcp (they apply to other ports) */
	size_t i, j;
	int err;

	for (i = 0; i < vs->n_routes; i++) {
		const struct kroute *rt = &vs->routes[i];

		if (!rt->usable)
			continue;
		if (catch_all[rt->tcp]) {
			sl_diag_add(
			    b->diag, &rt->pos, "warning",
			    "%s of VirtualService %s/%s comes after a %s route that matches "
			    "every connection, so it is never chosen",
			    rt->name, vs->m.ns, vs->m.name, rt->tcp ? "tcp" : "http");
			continue;
		}
		if (!sl_k8s_route_split(b, vs, rt, p, w))
			continue;
		for (j = 0; j < (rt->n_matches ? rt->n_matches : 1); j++) {
			const struct kmatch *m = rt->n_matches ? &rt->matches[j] : NULL;

			if (catch_all[rt->tcp])
				break;
			if (m && m->port && !sl_k8s_svc_has_port(svc, m->port))
				sl_diag_add(
				    b->diag, &m->port_pos, "warning",
				    "port %u in a match of %s is not a port of Service %s/%s, "
				    "so this match never matches",
				    m->port, rt->name, svc->m.ns, svc->m.name);
			err = add_export_routes(s, vs, rt, match_is_catch_all(m) ? NULL : m, w);
			if (err)
				return err;
			catch_all[rt->tcp] = match_is_catch_all(m);
		}
		for (j = 0; j < s->n_subsets; j++)
			if (w[j] && !s->subsets[j].n_eps)
				sl_diag_add(
				    b->diag, &rt->pos, "warning",
				    "%s of VirtualService %s/%s sends traffic to subset '%s' of "
				    "Service %s/%s, which has no ready endpoints",
				    rt->name, vs->m.ns, vs->m.name, s->subsets[j].name, svc->m.ns,
				    svc->m.name);
	}
	if (!vs->export_all)
		sl_diag_add(b->diag, &vs->export_pos, "warning",
			    "exportTo limits VirtualService %s/%s to clients in %zu namespace%s; "
			    "sluice matches its routes on the client pod's namespace, so "
			    "connections from anywhere else (other namespaces, the node, "
			    "anything not a pod) pass to the VIP untouched",
			    vs->m.ns, vs->m.name, vs->n_export, vs->n_export == 1 ? "" : "s");
	else if (s->n_routes && !catch_all[0] && !catch_all[1])
		sl_diag_add(b->diag, &s->routes[s->n_routes - 1].pos, "warning",
			    "the last route of VirtualService %s/%s for Service %s/%s has a match, "
			    "so connections that match no route pass to the VIP untouched",
			    vs->m.ns, vs->m.name, svc->m.ns, svc->m.name);
	return 0;
}

/*
 * Istio's protocol selection, said where it leaves a port unsplit: http
 * routes apply to HTTP ports, tcp routes to TCP ones, none to UDP; a port
 * that says nothing is sniffed, and sluice cannot sniff before it picks.
 */
static void protocol_notes(struct bld *b, const struct kvs *vs, const struct ksvc *svc,
			   const struct sl_service_cfg *s)
{
	bool http = false, tcp = false, any;
	char why[160];
	size_t i, j;

	for (i = 0; i < s->n_routes; i++) {
		http |= s->routes[i].kind == SL_ROUTE_HTTP;
		tcp |= s->routes[i].kind == SL_ROUTE_TCP;
	}
	for (i = 0; i < s->n_ports; i++) {
		const struct sl_port_cfg *p = &s->ports[i];

		sl_k8s_port_app(&svc->ports[i], why, sizeof(why));
		for (any = false, j = 0; j < s->n_routes; j++)
			any |= sl_route_applies(&s->routes[j], p);
		if (!any && p->app == SL_APP_NONE)
			sl_diag_add(
			    b->diag, &p->pos, "warning",
			    "port %u/UDP of Service %s/%s is not split: Istio's sidecars do "
			    "not carry UDP, so no route of VirtualService %s/%s applies; "
			    "its traffic passes to the VIP untouched",
			    p->port, svc->m.ns, svc->m.name, vs->m.ns, vs->m.name);
		else if (!any)
			sl_diag_add(
			    b->diag, &p->pos, "warning",
			    "port %u of Service %s/%s is not split: it is %s, where Istio "
			    "applies %s routes only, and VirtualService %s/%s has none; its "
			    "traffic passes to the VIP untouched",
			    p->port, svc->m.ns, svc->m.name, why,
			    p->app == SL_APP_HTTP ? "http" : "tcp", vs->m.ns, vs->m.name);
		else if (p->app == SL_APP_ANY && http && tcp)
			sl_diag_add(b->diag, &p->pos, "warning",
				    "port %u of Service %s/%s is %s: HTTP requests take the http "
				    "routes of VirtualService %s/%s, other traffic its tcp routes; "
				    "sluice tries the http routes first on every connection (name "
				    "the port http-... or tcp-..., or set appProtocol, to choose)",
				    p->port, svc->m.ns, svc->m.name, why, vs->m.ns, vs->m.name);
	}
}

/* svc, a host of vs, as a model service. */
static int build_service(struct bld *b, struct kvs *vs, struct ksvc *svc, const struct khost *h)
{
	struct sl_service_cfg *s;
	const struct kdr *dr;
	struct ksplit plan;
	size_t i, n_routes = 0;
	int err;

	if (!claim_service(b, vs, svc, h))
		return 0;
	dr = sl_k8s_service_dr(b, svc);
	for (i = 0; i < vs->n_routes; i++)
		if (vs->routes[i].usable)
			n_routes += (vs->routes[i].n_matches ? vs->routes[i].n_matches : 1) *
				    (vs->export_all ? 1 : vs->n_export);
	if (!n_routes) {
		/* Nothing to route with: not a model service at all. A route with errors said so.
		 */
		for (i = 0; i < vs->n_routes && !vs->routes[i].bad; i++)
			;
		if (i == vs->n_routes)
			sl_diag_add(b->diag, &h->pos, "warning",
				    "VirtualService %s/%s has no route sluice can use for Service "
				    "%s/%s (its routes are tls routes, for gateways only, or "
				    "without a destination); sluice leaves the Service alone",
				    vs->m.ns, vs->m.name, svc->m.ns, svc->m.name);
		b->left_alone = true;
		return 0;
	}
	err = sl_k8s_plan_split(b, vs, svc, &plan);
	if (err)
		return err;
	if (plan.external) {
		/* Istio sends it to a ServiceEntry or outside; sluice knows no endpoints there. */
		sl_diag_add(b->diag, &plan.external->host_pos, "warning",
			    "destination host '%s' of VirtualService %s/%s is not a Kubernetes "
			    "Service of this cluster; sluice cannot send Service %s/%s's traffic "
			    "there and leaves the Service alone",
			    plan.external->host, vs->m.ns, vs->m.name, svc->m.ns, svc->m.name);
		b->left_alone = true;
		return 0;
	}
	s = new_model_service(b, svc, h, dr, n_routes);
	if (!s)
		return -ENOMEM;
	if (s->n_ports != svc->n_ports)
		return 0;
	err = sl_k8s_build_subsets(b, svc, &plan, s, &h->pos);
	if (err)
		return err;
	if (n_routes > SL_MAX_ROUTES) {
		sl_diag_add(b->diag, &vs->m.pos, "error",
			    "VirtualService %s/%s gives Service %s/%s %zu routes (each match block "
			    "counts as one); sluice allows %d",
			    vs->m.ns, vs->m.name, svc->m.ns, svc->m.name, n_routes, SL_MAX_ROUTES);
		return 0;
	}
	s->per_request = vs->per_request;
	err = add_routes(b, vs, svc, &plan, s);
	if (!err)
		protocol_notes(b, vs, svc, s);
	return err;
}

/*
 * One host of vs: the Service it names, or every Service a wildcard covers
 * (Istio matches a wildcard against each Service's full name). A Service
 * that some VirtualService names exactly is that one's; of wildcards, the
 * first (oldest) takes a Service. Hosts that are no Service of this
 * cluster are Istio's too (ServiceEntry, external names): left alone.
 */
static int build_host(struct bld *b, struct kvs *vs, const struct khost *h)
{
	struct khost_ref ref;
	struct ksvc *svc;
	char why[256];
	size_t i, n = 0;
	int si, err;

	sl_k8s_host_resolve(h->name, vs->m.ns, &ref);
	if (ref.form == KH_WILDCARD) {
		for (i = 0; i < b->k->n_svcs; i++) {
			svc = &b->k->svcs[i];
			if (!sl_k8s_wildcard_covers(ref.fqdn, svc))
				continue;
			n++;
			if (svc->named || svc->routed_by || !svc->n_vips || !svc->n_ports)
				continue;
			err = build_service(b, vs, svc, h);
			if (err)
				return err;
		}
		if (!n) {
			sl_diag_add(
			    b->diag, &h->pos, "warning",
			    "host '%s' of VirtualService %s/%s covers no Kubernetes Service "
			    "of this cluster (ServiceEntry or external hosts?); sluice "
			    "leaves it alone",
			    h->name, vs->m.ns, vs->m.name);
			b->left_alone = true;
		}
		return 0;
	}
	/*
	 * Istio takes a host that no Service has as a name of its own (a
	 * ServiceEntry, an external host); its webhook accepts it, and so
	 * does sluice, leaving that traffic alone.
	 */
	si = sl_k8s_find_service(b->k, h->name, vs->m.ns, why, sizeof(why));
	if (si < 0) {
		sl_diag_add(b->diag, &h->pos, "warning",
			    "host '%s' of VirtualService %s/%s is not a Kubernetes Service of "
			    "this cluster (%s); sluice leaves it alone",
			    h->name, vs->m.ns, vs->m.name, why);
		b->left_alone = true;
		return 0;
	}
	svc = &b->k->svcs[si];
	/*
	 * A short name is completed with the rule's namespace; a name with dots
	 * is taken as written (Istio's ResolveShortnameToFQDN), so only the
	 * full name reaches a Service of another namespace. NAME.NAMESPACE
	 * would otherwise let one namespace re-route another's Service.
	 */
	if (strcmp(svc->m.ns, vs->m.ns) && !ref.full) {
		sl_diag_add(b->diag, &h->pos, "error",
			    "host '%s' of VirtualService %s/%s is Service %s/%s of another "
			    "namespace; a VirtualService routes another namespace's Service "
			    "only by its full name, %s.%s.svc." SL_K8S_CLUSTER_DOMAIN,
			    h->name, vs->m.ns, vs->m.name, svc->m.ns, svc->m.name, svc->m.name,
			    svc->m.ns);
		return 0;
	}
	return build_service(b, vs, svc, h);
}

/* The Services some VirtualService names exactly: no wildcard takes those. */
static void mark_named(struct sl_k8s *k)
{
	struct khost_ref ref;
	size_t i, j;
	int si;

	for (i = 0; i < k->n_vss; i++)
		for (j = 0; j < k->vss[i].n_hosts; j++) {
			sl_k8s_host_resolve(k->vss[i].hosts[j].name, k->vss[i].m.ns, &ref);
			if (ref.form != KH_SERVICE && ref.form != KH_NAME_NS)
				continue;
			si = sl_k8s_service_index(k, ref.name, ref.ns);
			if (si >= 0)
				k->svcs[si].named = true;
		}
}

/*
 * Services routed without a cluster IP (a GitOps directory: the API server
 * assigns it): one message for all of them, saying how to give it.
 */
static void note_no_vip(struct bld *b)
{
	if (!b->n_no_vip)
		return;
	sl_diag_add(b->diag, &b->no_vip_pos, "warning",
		    "%zu Service%s that VirtualServices route %s no clusterIP (%s%s): sluice "
		    "splits a Service's traffic at its cluster IP, which the API server assigns "
		    "and these files do not say. Run with --kubernetes to read Services from "
		    "the API server, or give them as the cluster has them (`kubectl get "
		    "services -A -o yaml`, or spec.clusterIP written in); until then sluice "
		    "leaves their traffic alone",
		    b->n_no_vip, b->n_no_vip == 1 ? "" : "s", b->n_no_vip == 1 ? "has" : "have",
		    b->no_vip_names, b->n_no_vip > 4 ? ", ..." : "");
}

static int build_workloads(struct bld *b)
{
	struct sl_config *cfg = b->cfg;
	struct sl_workload_cfg *w;
	size_t i, j;
	int err;

	for (i = 0; i < b->k->n_pods; i++) {
		const struct kpod *p = &b->k->pods[i];

		if (!p->n_ips || p->terminal)
			continue;
		w = realloc(cfg->workloads, (cfg->n_workloads + 1) * sizeof(*w));
		if (!w)
			return -ENOMEM;
		cfg->workloads = w;
		w = &cfg->workloads[cfg->n_workloads++];
		memset(w, 0, sizeof(*w));
		w->pos = p->m.pos;
		err = copy_labels(p->labels, p->n_labels, p->m.ns, &w->labels, &w->n_labels);
		if (err)
			return err;
		w->cidrs = calloc(p->n_ips, sizeof(*w->cidrs));
		if (!w->cidrs)
			return -ENOMEM;
		for (j = 0; j < p->n_ips; j++) {
			w->cidrs[j].a = p->ips[j];
			w->cidrs[j].plen = p->ips[j].family == SL_AF_INET ? 32 : 128;
			w->cidrs[j].pos = p->m.pos;
		}
		w->n_cidrs = p->n_ips;
	}
	return 0;
}

/*
 * Istio's order of VirtualServices: oldest first (creationTimestamp, then
 * name, then namespace: sortConfigByCreationTime, pilot/pkg/model). For
 * sidecars, where sluice sits, Istio does not merge two VirtualServices of
 * one host (only gateways do): the first in this order is used and
 * `istioctl analyze` reports the others (IST0109,
 * ConflictingMeshGatewayVirtualServiceHosts). RFC 3339 times in UTC, as
 * the API server writes them, sort as strings; one without a time comes
 * first, like a zero time.
 */
static int cmp_vs_age(const void *x, const void *y)
{
	const struct kvs *a = *(const struct kvs *const *)x, *b = *(const struct kvs *const *)y;
	int r = strcmp(a->m.created, b->m.created);

	if (!r)
		r = strcmp(a->m.name, b->m.name);
	return r ? r : strcmp(a->m.ns, b->m.ns);
}

/* A VirtualService's services, checked; rejected whole when isolated and anything is wrong. */
static int build_vs(struct bld *b, struct kvs *vs)
{
	struct sl_diag_mark dm = sl_diag_mark(b->diag);
	size_t first = b->cfg->n_services, i;
	int err = 0;

	b->left_alone = false;
	for (i = 0; i < vs->n_hosts && !err; i++)
		err = build_host(b, vs, &vs->hosts[i]);
	for (i = first; i < b->cfg->n_services && !err && b->check; i++)
		b->check(b->check_arg, i);
	if (!err && !sl_diag_errors_since(b->diag, &dm))
		b->k->n_left_alone += b->left_alone;
	if (err || !b->k->isolate || !sl_diag_errors_since(b->diag, &dm))
		return err;
	b->added -= b->cfg->n_services - first;
	sl_config_drop_services(b->cfg, first);
	for (i = 0; i < b->k->n_svcs; i++)
		if (b->k->svcs[i].routed_by == vs)
			b->k->svcs[i].routed_by = NULL;
	return sl_k8s_reject(b->k, b->diag, &dm, "VirtualService", &vs->m);
}

/* Each DestinationRule's Service (b->dr_svc); 0 or -ENOMEM. */
static int resolve_drs(struct bld *b)
{
	struct sl_k8s *k = b->k;
	struct sl_diag_mark dm;
	char why[256];
	size_t i, j;
	int err;

	/* A DestinationRule's host is resolved in its own namespace, like a VirtualService's. */
	for (i = 0; i < k->n_drs; i++) {
		const struct kdr *d = &k->drs[i];

		dm = sl_diag_mark(b->diag);
		b->dr_svc[i] = sl_k8s_find_service(k, d->host, d->m.ns, why, sizeof(why));
		if (b->dr_svc[i] < 0) {
			sl_diag_add(
			    b->diag, &d->host_pos, "warning",
			    "host '%s' of DestinationRule %s/%s matches no Service (%s); it "
			    "is not used",
			    d->host, d->m.ns, d->m.name, why);
			continue;
		}
		for (j = 0; j < i; j++)
			if (b->dr_svc[j] == b->dr_svc[i])
				break;
		if (j < i) {
			/*
			 * Istio looks a rule up in the client's namespace, then the
			 * Service's, then the root namespace (deploy guidelines,
			 * "Cross-namespace configuration"). sluice has no per-client
			 * rules: the Service's own namespace wins, the other is said.
			 */
			const char *sns = k->svcs[b->dr_svc[i]].m.ns;
			bool mine = !strcmp(d->m.ns, sns), theirs = !strcmp(k->drs[j].m.ns, sns);
			size_t lose = mine ? j : i, keep = mine ? i : j;

			if (mine != theirs) {
				sl_diag_add(
				    b->diag, &k->drs[lose].host_pos, "warning",
				    "DestinationRule %s/%s is for Service %s/%s, which has "
				    "its own DestinationRule %s/%s; sluice uses that one (Istio "
				    "would use this one for clients in namespace %s)",
				    k->drs[lose].m.ns, k->drs[lose].m.name, sns,
				    k->svcs[b->dr_svc[i]].m.name, k->drs[keep].m.ns,
				    k->drs[keep].m.name, k->drs[lose].m.ns);
				b->dr_svc[lose] = -1;
				continue;
			}
			sl_diag_add(
			    b->diag, &d->host_pos, "error",
			    "DestinationRule %s/%s is for Service %s/%s, like DestinationRule "
			    "%s/%s at %s:%d; sluice takes one DestinationRule per Service",
			    d->m.ns, d->m.name, k->svcs[b->dr_svc[i]].m.ns,
			    k->svcs[b->dr_svc[i]].m.name, k->drs[j].m.ns, k->drs[j].m.name,
			    k->drs[j].m.pos.file, k->drs[j].m.pos.line);
			b->dr_svc[i] = -1;
			if (k->isolate &&
			    (err = sl_k8s_reject(k, b->diag, &dm, "DestinationRule", &d->m)))
				return err;
		}
	}
	return 0;
}

int sl_k8s_build(struct sl_k8s *k, struct sl_config *cfg, struct sl_diag *diag,
		 sl_k8s_check_fn check, void *check_arg, size_t *n_services)
{
	struct bld b = {.k = k, .cfg = cfg, .diag = diag, .check = check, .check_arg = check_arg};
	struct kvs **order = NULL;
	size_t i;
	int err;

	*n_services = 0;
	if (k->oom)
		return -ENOMEM;
	b.dr_svc = calloc(k->n_drs ? k->n_drs : 1, sizeof(*b.dr_svc));
	order = calloc(k->n_vss ? k->n_vss : 1, sizeof(*order));
	err = b.dr_svc && order ? resolve_drs(&b) : -ENOMEM;
	for (i = 0; order && i < k->n_vss; i++)
		order[i] = &k->vss[i];
	mark_named(k);
	/* Without isolation two VirtualServices of a host are an error: file order says it. */
	if (!err && k->isolate)
		qsort(order, k->n_vss, sizeof(*order), cmp_vs_age);
	for (i = 0; i < k->n_vss && !err; i++)
		err = build_vs(&b, order[i]);
	if (!err)
		err = sl_k8s_build_canaries(&b);
	if (!err)
		err = build_workloads(&b);
	note_no_vip(&b);
	for (i = 0; i < k->n_rej && !err; i++)
		err = sl_config_reject(cfg, k->rej[i].kind, k->rej[i].ns, k->rej[i].name,
				       &k->rej[i].pos, k->rej[i].reason);
	free(order);
	free(b.dr_svc);
	*n_services = b.added;
	return err ? err : (k->oom ? -ENOMEM : 0);
}
