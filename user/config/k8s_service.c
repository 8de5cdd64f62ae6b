// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Kubernetes objects that say where a Service's traffic can go: Service
 * (VIPs, ports, selector), Pod (labels, addresses, readiness, named ports),
 * EndpointSlice and Endpoints (ready addresses). Read into k8s_internal.h's
 * private form; calls k8s_read.c's helpers and the model.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/k8s_internal.h"
#include "config/yaml_node.h"

/* Service */

int sl_k8s_add_service(struct rd *r, const yaml_node_t *obj)
{
	struct sl_k8s *k = r->k;
	yaml_node_t *spec, *v, *ports;
	struct ksvc *s, tmp = {0};
	size_t i, n;
	int err;

	err = sl_k8s_parse_meta(r, obj, "Service", &tmp.m);
	if (err || sl_k8s_seen_before(r, &tmp.m, "Service", &k->ix[KIX_SVC], k->svcs, k->n_svcs,
				      sizeof(*k->svcs)))
		return err == -ENOMEM ? err : 0;
	spec = sl_k8s_get(r, obj, "spec");
	if (spec && !sl_k8s_want(r, spec, YAML_MAPPING_NODE, "spec"))
		return 0;

	/* clusterIPs holds clusterIP first, then the other family's address. */
	v = sl_k8s_get(r, spec, "clusterIPs");
	if (v && sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "spec.clusterIPs")) {
		tmp.vips = sl_k8s_alloc(k, sl_yaml_seq_len(v), sizeof(*tmp.vips));
		if (!tmp.vips)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++) {
			yaml_node_t *a = sl_yaml_seq_item(r->doc, v, i);

			if (sl_yaml_scalar(a) && !strcmp(sl_yaml_scalar(a), "None")) {
				tmp.headless = true;
				continue;
			}
			if (sl_k8s_parse_addr(r, a, "an address of spec.clusterIPs",
					      &tmp.vips[tmp.n_vips]))
				tmp.n_vips++;
		}
	} else if ((v = sl_k8s_get(r, spec, "clusterIP"))) {
		if (sl_yaml_scalar(v) && !strcmp(sl_yaml_scalar(v), "None")) {
			tmp.headless = true;
		} else {
			tmp.vips = sl_k8s_alloc(k, 1, sizeof(*tmp.vips));
			if (!tmp.vips)
				return -ENOMEM;
			if (sl_k8s_parse_addr(r, v, "spec.clusterIP", &tmp.vips[0]))
				tmp.n_vips = 1;
		}
	}

	ports = sl_k8s_get(r, spec, "ports");
	if (ports && sl_k8s_want(r, ports, YAML_SEQUENCE_NODE, "spec.ports")) {
		n = sl_yaml_seq_len(ports);
		tmp.ports = sl_k8s_alloc(k, n, sizeof(*tmp.ports));
		if (!tmp.ports)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			yaml_node_t *pn = sl_yaml_seq_item(r->doc, ports, i), *t;
			struct kport *p = &tmp.ports[tmp.n_ports];

			if (!sl_k8s_want(r, pn, YAML_MAPPING_NODE, "a port"))
				continue;
			p->pos = sl_k8s_pos_of(r, pn);
			v = sl_k8s_get(r, pn, "name");
			p->name = sl_k8s_strdup(k, sl_yaml_scalar(v) ? sl_yaml_scalar(v) : "");
			if (!p->name)
				return -ENOMEM;
			v = sl_k8s_get(r, pn, "appProtocol");
			if (sl_yaml_scalar(v) &&
			    !(p->app_protocol = sl_k8s_strdup(k, sl_yaml_scalar(v))))
				return -ENOMEM;
			v = sl_k8s_get(r, pn, "port");
			if (!v) {
				sl_k8s_err_at(r, pn, "a port of %s has no 'port'", r->what);
				continue;
			}
			if (!sl_k8s_get_port(r, v, "port", &p->port))
				continue;
			p->proto = sl_k8s_get_proto(r, pn);
			if (!p->proto) {
				sl_k8s_warn_at(
				    r, sl_k8s_get(r, pn, "protocol"),
				    "port %u of %s is %s, which sluice does not route; it is "
				    "ignored",
				    p->port, r->what,
				    sl_yaml_scalar(sl_k8s_get(r, pn, "protocol")));
				continue;
			}
			t = sl_k8s_get(r, pn, "targetPort");
			if (!t) {
				p->target = p->port;
			} else if (sl_yaml_scalar(t) && sl_all_digits(sl_yaml_scalar(t))) {
				if (!sl_k8s_get_port(r, t, "targetPort", &p->target))
					continue;
			} else if (sl_k8s_want(r, t, YAML_SCALAR_NODE, "targetPort")) {
				p->target_name = sl_k8s_strdup(k, sl_yaml_scalar(t));
				if (!p->target_name)
					return -ENOMEM;
			} else {
				continue;
			}
			tmp.n_ports++;
		}
	}
	err = sl_k8s_get_labels(r, sl_k8s_get(r, spec, "selector"), "spec.selector", &tmp.selector,
				&tmp.n_selector);
	if (err)
		return err;
	s = sl_k8s_grow(k, (void **)&k->svcs, &k->n_svcs, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = tmp;
	return 0;
}

/*
 * Istio's protocols (pkg/config/protocol) by what they mean for routes:
 * HTTP ones take http routes, TCP ones tcp routes.
 */
static const struct {
	const char *name;
	uint8_t app;
} protocols[] = {
    {"http", SL_APP_HTTP}, {"http2", SL_APP_HTTP}, {"http_proxy", SL_APP_HTTP},
    {"grpc", SL_APP_HTTP}, {"tcp", SL_APP_TCP},	   {"https", SL_APP_TCP},
    {"tls", SL_APP_TCP},   {"mongo", SL_APP_TCP},  {"redis", SL_APP_TCP},
    {"mysql", SL_APP_TCP}, {"udp", SL_APP_NONE},
};

/* Istio's kube.ConvertProtocol, and its protocol.Parse of the name's prefix. */
uint8_t sl_k8s_port_app(const struct kport *p, char *why, size_t len)
{
	static const uint16_t well_known_tcp[] = {25, 53, 3306, 27017};
	const char *name = p->app_protocol ? p->app_protocol : p->name;
	const char *by = p->app_protocol ? "appProtocol" : "name";
	size_t i, n;

	if (p->proto == IPPROTO_UDP) {
		snprintf(why, len, "UDP");
		return SL_APP_NONE;
	}
	if (p->app_protocol &&
	    (!strcmp(name, "kubernetes.io/h2c") || !strcmp(name, "kubernetes.io/ws"))) {
		snprintf(why, len, "HTTP by its appProtocol '%s'", name);
		return SL_APP_HTTP;
	}
	if (p->app_protocol && !strcmp(name, "kubernetes.io/wss")) {
		snprintf(why, len, "TCP (HTTPS) by its appProtocol '%s'", name);
		return SL_APP_TCP;
	}
	if (!strncasecmp(name, "grpc-web", 8)) {
		snprintf(why, len, "HTTP by its %s '%s'", by, name);
		return SL_APP_HTTP;
	}
	n = strchr(name, '-') ? (size_t)(strchr(name, '-') - name) : strlen(name);
	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (strlen(protocols[i].name) == n && !strncasecmp(protocols[i].name, name, n)) {
			snprintf(why, len, "%s by its %s '%s'",
				 protocols[i].app == SL_APP_HTTP  ? "HTTP"
				 : protocols[i].app == SL_APP_TCP ? "TCP"
								  : "UDP",
				 by, name);
			return protocols[i].app;
		}
	for (i = 0; i < sizeof(well_known_tcp) / sizeof(well_known_tcp[0]); i++)
		if (p->port == well_known_tcp[i]) {
			snprintf(why, len, "TCP, a well-known port Istio does not sniff");
			return SL_APP_TCP;
		}
	snprintf(why, len, "not said by its name or appProtocol, so Istio sniffs it");
	return SL_APP_ANY;
}

uint8_t sl_k8s_port_mux(const struct kport *p)
{
	const char *name = p->app_protocol ? p->app_protocol : p->name;
	size_t n;

	if (p->proto != IPPROTO_TCP)
		return SL_MUX_NONE;
	if (p->app_protocol && !strcmp(name, "kubernetes.io/h2c"))
		return SL_MUX_HTTP2;
	if (!strncasecmp(name, "grpc-web", 8))
		return SL_MUX_GRPC;
	n = strchr(name, '-') ? (size_t)(strchr(name, '-') - name) : strlen(name);
	if (n == 5 && !strncasecmp(name, "http2", 5))
		return SL_MUX_HTTP2;
	if (n == 4 && !strncasecmp(name, "grpc", 4))
		return SL_MUX_GRPC;
	return SL_MUX_NONE;
}

/* Pod */

/* Ready unless a Ready condition says otherwise, or the pod is finished or going away. */
static bool pod_ready(struct rd *r, const yaml_node_t *obj, const yaml_node_t *status)
{
	yaml_node_t *conds = sl_k8s_get(r, status, "conditions");
	const char *phase = sl_yaml_scalar(sl_k8s_get(r, status, "phase"));
	size_t i;

	if (sl_k8s_get(r, sl_k8s_get(r, obj, "metadata"), "deletionTimestamp"))
		return false;
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return false;
	if (!conds || conds->type != YAML_SEQUENCE_NODE)
		return true;
	for (i = 0; i < sl_yaml_seq_len(conds); i++) {
		yaml_node_t *c = sl_yaml_seq_item(r->doc, conds, i);
		const char *type = sl_yaml_scalar(sl_k8s_get(r, c, "type")),
			   *st = sl_yaml_scalar(sl_k8s_get(r, c, "status"));

		if (type && !strcmp(type, "Ready"))
			return st && !strcmp(st, "True");
	}
	return true;
}

int sl_k8s_add_pod(struct rd *r, const yaml_node_t *obj)
{
	struct sl_k8s *k = r->k;
	yaml_node_t *spec, *status, *v, *cs;
	struct kpod *p, tmp = {0};
	size_t i, j, n;
	int err;

	err = sl_k8s_parse_meta(r, obj, "Pod", &tmp.m);
	if (err || sl_k8s_seen_before(r, &tmp.m, "Pod", &k->ix[KIX_POD], k->pods, k->n_pods,
				      sizeof(*k->pods)))
		return err == -ENOMEM ? err : 0;
	err = sl_k8s_get_labels(r, sl_k8s_get(r, sl_k8s_get(r, obj, "metadata"), "labels"),
				"metadata.labels", &tmp.labels, &tmp.n_labels);
	if (err)
		return err;
	spec = sl_k8s_get(r, obj, "spec");
	status = sl_k8s_get(r, obj, "status");

	cs = sl_k8s_get(r, spec, "containers");
	if (cs && sl_k8s_want(r, cs, YAML_SEQUENCE_NODE, "spec.containers")) {
		for (n = 0, i = 0; i < sl_yaml_seq_len(cs); i++) {
			v = sl_k8s_get(r, sl_yaml_seq_item(r->doc, cs, i), "ports");
			if (v && v->type == YAML_SEQUENCE_NODE)
				n += sl_yaml_seq_len(v);
		}
		tmp.cports = sl_k8s_alloc(k, n, sizeof(*tmp.cports));
		if (!tmp.cports)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(cs); i++) {
			v = sl_k8s_get(r, sl_yaml_seq_item(r->doc, cs, i), "ports");
			if (!v ||
			    !sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "the ports of a container"))
				continue;
			for (j = 0; j < sl_yaml_seq_len(v); j++) {
				yaml_node_t *pn = sl_yaml_seq_item(r->doc, v, j),
					    *cp = sl_k8s_get(r, pn, "containerPort");
				struct kcport *c = &tmp.cports[tmp.n_cports];

				if (!cp) {
					sl_k8s_err_at(
					    r, pn, "a container port of %s has no 'containerPort'",
					    r->what);
					continue;
				}
				if (!sl_k8s_get_port(r, cp, "containerPort", &c->port))
					continue;
				c->name = sl_k8s_strdup(k, sl_yaml_scalar(sl_k8s_get(r, pn, "name"))
							       ?: "");
				c->proto = sl_k8s_get_proto(r, pn);
				if (!c->name)
					return -ENOMEM;
				tmp.n_cports++;
			}
		}
	}

	/* podIPs holds podIP first, then the other family's address. */
	v = sl_k8s_get(r, status, "podIPs");
	if (v && sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "status.podIPs")) {
		tmp.ips = sl_k8s_alloc(k, sl_yaml_seq_len(v), sizeof(*tmp.ips));
		if (!tmp.ips)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++) {
			yaml_node_t *ip = sl_k8s_get(r, sl_yaml_seq_item(r->doc, v, i), "ip");

			if (ip && sl_k8s_parse_addr(r, ip, "an address of status.podIPs",
						    &tmp.ips[tmp.n_ips]))
				tmp.n_ips++;
		}
	} else if ((v = sl_k8s_get(r, status, "podIP"))) {
		tmp.ips = sl_k8s_alloc(k, 1, sizeof(*tmp.ips));
		if (!tmp.ips)
			return -ENOMEM;
		if (sl_k8s_parse_addr(r, v, "status.podIP", &tmp.ips[0]))
			tmp.n_ips = 1;
	}
	tmp.ready = pod_ready(r, obj, status);
	{
		const char *phase = sl_yaml_scalar(sl_k8s_get(r, status, "phase"));

		/* Istio's PodCache indexes Pending and Running pods only (kube/controller/pod.go).
		 */
		tmp.terminal = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
	}
	p = sl_k8s_grow(k, (void **)&k->pods, &k->n_pods, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = tmp;
	return 0;
}

/* EndpointSlice and Endpoints */

static int slice_ports(struct rd *r, const yaml_node_t *ports, struct kslice *sl)
{
	size_t i;

	if (!ports || !sl_k8s_want(r, ports, YAML_SEQUENCE_NODE, "ports"))
		return 0;
	sl->ports = sl_k8s_alloc(r->k, sl_yaml_seq_len(ports), sizeof(*sl->ports));
	if (!sl->ports)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_seq_len(ports); i++) {
		yaml_node_t *pn = sl_yaml_seq_item(r->doc, ports, i),
			    *v = sl_k8s_get(r, pn, "port");
		struct kcport *c = &sl->ports[sl->n_ports];

		/* A slice port without a number: "all ports"; sluice resolves it from the Pod. */
		if (!v)
			continue;
		if (!sl_k8s_get_port(r, v, "port", &c->port))
			continue;
		c->name = sl_k8s_strdup(r->k, sl_yaml_scalar(sl_k8s_get(r, pn, "name")) ?: "");
		c->proto = sl_k8s_get_proto(r, pn);
		if (!c->name)
			return -ENOMEM;
		sl->n_ports++;
	}
	return 0;
}

static char *target_pod(struct rd *r, const yaml_node_t *ref)
{
	const char *kind = sl_yaml_scalar(sl_k8s_get(r, ref, "kind")),
		   *name = sl_yaml_scalar(sl_k8s_get(r, ref, "name"));

	return kind && name && !strcmp(kind, "Pod") ? sl_k8s_strdup(r->k, name) : NULL;
}

int sl_k8s_add_endpoint_slice(struct rd *r, const yaml_node_t *obj)
{
	struct sl_k8s *k = r->k;
	yaml_node_t *eps, *v;
	struct kslice *sl, tmp = {0};
	size_t i, j, n = 0;
	int err;

	err = sl_k8s_parse_meta(r, obj, "EndpointSlice", &tmp.m);
	if (err)
		return err == -ENOMEM ? err : 0;
	for (i = 0; i < k->n_slices; i++)
		if (!k->slices[i].is_endpoints &&
		    sl_k8s_duplicate(r, &tmp.m, &k->slices[i].m, "EndpointSlice"))
			return 0;
	v = sl_k8s_get(r, sl_k8s_get(r, sl_k8s_get(r, obj, "metadata"), "labels"),
		       "kubernetes.io/service-name");
	if (!v || !sl_yaml_scalar(v)) {
		sl_k8s_warn_at(
		    r, obj,
		    "%s has no label kubernetes.io/service-name, so it belongs to no Service; "
		    "it is ignored",
		    r->what);
		return 0;
	}
	tmp.service = sl_k8s_strdup(k, sl_yaml_scalar(v));
	eps = sl_k8s_get(r, obj, "endpoints");
	if (eps && sl_k8s_want(r, eps, YAML_SEQUENCE_NODE, "endpoints")) {
		for (i = 0; i < sl_yaml_seq_len(eps); i++) {
			v = sl_k8s_get(r, sl_yaml_seq_item(r->doc, eps, i), "addresses");
			if (v && v->type == YAML_SEQUENCE_NODE)
				n += sl_yaml_seq_len(v);
		}
		tmp.addrs = sl_k8s_alloc(k, n, sizeof(*tmp.addrs));
		if (!tmp.addrs)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(eps); i++) {
			yaml_node_t *ep = sl_yaml_seq_item(r->doc, eps, i), *ready;
			/* "ready: nil indicates an unknown state ... interpret it as ready". */
			bool is_ready = true;

			ready = sl_k8s_get(r, sl_k8s_get(r, ep, "conditions"), "ready");
			if (ready)
				is_ready = sl_k8s_get_bool(ready);
			v = sl_k8s_get(r, ep, "addresses");
			if (!v || !sl_k8s_want(r, v, YAML_SEQUENCE_NODE, "addresses"))
				continue;
			for (j = 0; j < sl_yaml_seq_len(v); j++) {
				struct kaddr *a = &tmp.addrs[tmp.n_addrs];

				if (!sl_k8s_parse_addr(r, sl_yaml_seq_item(r->doc, v, j),
						       "an endpoint address", &a->a))
					continue;
				a->ready = is_ready;
				a->pod = target_pod(r, sl_k8s_get(r, ep, "targetRef"));
				tmp.n_addrs++;
			}
		}
	}
	err = slice_ports(r, sl_k8s_get(r, obj, "ports"), &tmp);
	if (err)
		return err;
	sl = sl_k8s_grow(k, (void **)&k->slices, &k->n_slices, sizeof(*sl));
	if (!sl)
		return -ENOMEM;
	*sl = tmp;
	return k->oom ? -ENOMEM : 0;
}

static int endpoints_addrs(struct rd *r, const yaml_node_t *list, bool ready, struct kslice *sl)
{
	size_t i;

	if (!list || !sl_k8s_want(r, list, YAML_SEQUENCE_NODE, "addresses"))
		return 0;
	for (i = 0; i < sl_yaml_seq_len(list); i++) {
		yaml_node_t *an = sl_yaml_seq_item(r->doc, list, i);
		struct kaddr *a = &sl->addrs[sl->n_addrs];
		yaml_node_t *ip = sl_k8s_get(r, an, "ip");

		if (!ip) {
			sl_k8s_err_at(r, an, "an address of %s has no 'ip'", r->what);
			continue;
		}
		if (!sl_k8s_parse_addr(r, ip, "an endpoint address", &a->a))
			continue;
		a->ready = ready;
		a->pod = target_pod(r, sl_k8s_get(r, an, "targetRef"));
		sl->n_addrs++;
	}
	return r->k->oom ? -ENOMEM : 0;
}

int sl_k8s_add_endpoints(struct rd *r, const yaml_node_t *obj)
{
	struct sl_k8s *k = r->k;
	yaml_node_t *subsets, *a, *na;
	struct kmeta m = {0};
	struct kslice *sl;
	size_t i, n;
	int err;

	err = sl_k8s_parse_meta(r, obj, "Endpoints", &m);
	if (err)
		return err == -ENOMEM ? err : 0;
	for (i = 0; i < k->n_slices; i++)
		if (k->slices[i].is_endpoints &&
		    sl_k8s_duplicate(r, &m, &k->slices[i].m, "Endpoints"))
			return 0;
	subsets = sl_k8s_get(r, obj, "subsets");
	if (!subsets || !sl_k8s_want(r, subsets, YAML_SEQUENCE_NODE, "subsets"))
		return 0;
	for (i = 0; i < sl_yaml_seq_len(subsets); i++) {
		yaml_node_t *sn = sl_yaml_seq_item(r->doc, subsets, i);

		a = sl_k8s_get(r, sn, "addresses");
		na = sl_k8s_get(r, sn, "notReadyAddresses");
		n = (a && a->type == YAML_SEQUENCE_NODE ? sl_yaml_seq_len(a) : 0) +
		    (na && na->type == YAML_SEQUENCE_NODE ? sl_yaml_seq_len(na) : 0);
		sl = sl_k8s_grow(k, (void **)&k->slices, &k->n_slices, sizeof(*sl));
		if (!sl)
			return -ENOMEM;
		sl->m = m;
		sl->is_endpoints = true;
		sl->service = m.name;
		sl->addrs = sl_k8s_alloc(k, n, sizeof(*sl->addrs));
		if (!sl->addrs)
			return -ENOMEM;
		err = endpoints_addrs(r, a, true, sl);
		if (!err)
			err = endpoints_addrs(r, na, false, sl);
		if (!err)
			err = slice_ports(r, sl_k8s_get(r, sn, "ports"), sl);
		if (err)
			return err;
	}
	return 0;
}
