// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Kubernetes and Istio objects -> the sluice model.
 *
 * Two passes. sl_k8s_add() reads each object into a private form as it is
 * met, checking its shape and remembering the position of every field a
 * later message may name. sl_k8s_build() then resolves names across
 * objects (a VirtualService's hosts, a DestinationRule's host, the pods a
 * Service selects) and appends model services and workloads to the config.
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
#include <stddef.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>

#include "config/k8s.h"
#include "l7/l7_match.h"
#include "config/yaml_node.h"
#include "lib/log.h"

#define DEFAULT_NAMESPACE "default"
/* Istio's default; hosts are also accepted as NAME.NAMESPACE and NAME.NAMESPACE.svc. */
#define CLUSTER_DOMAIN "svc.cluster.local"

struct kmeta {
	char *name;
	char *ns;
	struct sl_pos pos;	/* the object */
	struct sl_pos name_pos; /* metadata.name */
};

struct kport {
	char *name; /* "" when unnamed */
	uint16_t port;
	uint8_t proto;
	uint16_t target;   /* numeric targetPort; 0 when named */
	char *target_name; /* named targetPort, or NULL */
	struct sl_pos pos;
};

struct ksvc {
	struct kmeta m;
	struct sl_addr *vips;
	size_t n_vips;
	bool headless;
	struct kport *ports;
	size_t n_ports;
	struct sl_label *selector;
	size_t n_selector;
	const struct kvs *routed_by; /* the VirtualService that made it a model service */
};

/* A container port of a Pod, or a port of an EndpointSlice/Endpoints. */
struct kcport {
	char *name;
	uint16_t port;
	uint8_t proto;
};

struct kpod {
	struct kmeta m;
	struct sl_label *labels;
	size_t n_labels;
	struct sl_addr *ips;
	size_t n_ips;
	struct kcport *cports;
	size_t n_cports;
	bool ready;
	bool terminal; /* Succeeded or Failed: its address may belong to another pod by now */
};

struct kaddr {
	struct sl_addr a;
	bool ready;
	char *pod; /* targetRef of kind Pod, or NULL */
};

/* An EndpointSlice, or one subset of an Endpoints object. */
struct kslice {
	struct kmeta m;
	char *service;
	struct kaddr *addrs;
	size_t n_addrs;
	struct kcport *ports;
	size_t n_ports;
	bool is_endpoints; /* v1 Endpoints: one object, several kslices */
};

struct kdrsub {
	char *name;
	struct sl_label *labels;
	size_t n_labels;
	struct sl_pos pos;
};

struct kdr {
	struct kmeta m;
	char *host;
	struct sl_pos host_pos;
	struct kdrsub *subsets;
	size_t n_subsets;
	bool client_ip;
};

struct kdest {
	char *host;
	struct sl_pos host_pos;
	char *subset; /* NULL: the whole Service */
	struct sl_pos subset_pos;
	uint16_t port; /* 0: not given */
	struct sl_pos port_pos;
	uint32_t weight;
};

struct kmatch {
	struct sl_label *labels;
	size_t n_labels;
	char *src_ns;
	uint16_t port;
	struct sl_pos port_pos;
	struct sl_cidr *dst;
	size_t n_dst;
	struct sl_cidr *src;
	size_t n_src;
	bool l7;
	bool l7_unsupported; /* matches on queryParams or scheme */
	char *l7_spec;	     /* l7_match.h text of the rest, in the arena */
};

struct kroute {
	char *name; /* the route's name, or "http[0]", "tcp[1]" */
	struct kmatch *matches;
	size_t n_matches;
	struct kdest *dests;
	size_t n_dests;
	bool usable; /* has a valid destination list */
	struct sl_pos pos;
};

struct khost {
	char *name;
	struct sl_pos pos;
};

struct kvs {
	struct kmeta m;
	struct khost *hosts;
	size_t n_hosts;
	struct kroute *routes;
	size_t n_routes;
	struct sl_pos http_pos, tcp_pos;
};

struct sl_k8s {
	struct ksvc *svcs;
	size_t n_svcs;
	struct kpod *pods;
	size_t n_pods;
	struct kslice *slices;
	size_t n_slices;
	struct kdr *drs;
	size_t n_drs;
	struct kvs *vss;
	size_t n_vss;
	/* Everything the objects point to; freed together. */
	void **mem;
	size_t n_mem, cap_mem;
	bool oom;
};

/* Arena */

static void *kalloc(struct sl_k8s *k, size_t n, size_t size)
{
	void *p, **mem;

	if (k->oom)
		return NULL;
	if (k->n_mem == k->cap_mem) {
		size_t cap = k->cap_mem ? k->cap_mem * 2 : 64;

		mem = realloc(k->mem, cap * sizeof(*mem));
		if (!mem)
			goto oom;
		k->mem = mem;
		k->cap_mem = cap;
	}
	p = calloc(n ? n : 1, size);
	if (!p)
		goto oom;
	k->mem[k->n_mem++] = p;
	return p;
oom:
	k->oom = true;
	return NULL;
}

static char *kstrdup(struct sl_k8s *k, const char *s)
{
	char *p = kalloc(k, strlen(s) + 1, 1);

	if (p)
		strcpy(p, s);
	return p;
}

/* Room for one more object in *arr (zeroed); NULL without memory. */
static void *grow(struct sl_k8s *k, void **arr, size_t *n, size_t size)
{
	char *p = realloc(*arr, (*n + 1) * size);

	if (!p) {
		k->oom = true;
		return NULL;
	}
	*arr = p;
	memset(p + *n * size, 0, size);
	return p + (*n)++ * size;
}

struct sl_k8s *sl_k8s_new(void)
{
	return calloc(1, sizeof(struct sl_k8s));
}

void sl_k8s_free(struct sl_k8s *k)
{
	size_t i;

	if (!k)
		return;
	for (i = 0; i < k->n_mem; i++)
		free(k->mem[i]);
	free(k->mem);
	free(k->svcs);
	free(k->pods);
	free(k->slices);
	free(k->drs);
	free(k->vss);
	free(k);
}

/* Kinds */

static const struct {
	const char *group; /* "" for the core group (apiVersion: v1) */
	const char *kind;
} kinds[] = {
    {"networking.istio.io", "VirtualService"},
    {"networking.istio.io", "DestinationRule"},
    {"", "Service"},
    {"", "Pod"},
    {"", "Endpoints"},
    {"discovery.k8s.io", "EndpointSlice"},
};

bool sl_k8s_kind(const char *api_version, const char *kind)
{
	const char *slash = strchr(api_version, '/');
	size_t glen = slash ? (size_t)(slash - api_version) : 0;
	size_t klen = strlen(kind), i;

	if (klen > 4 && !strcmp(kind + klen - 4, "List"))
		klen -= 4;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *g = kinds[i].group, *kk = kinds[i].kind;

		if (strlen(g) == glen && !strncmp(g, api_version, glen) && strlen(kk) == klen &&
		    !strncmp(kk, kind, klen))
			return true;
	}
	return false;
}

/* Reading YAML */

struct rd {
	struct sl_k8s *k;
	yaml_document_t *doc;
	const char *file;
	struct sl_diag *diag;
	char what[192]; /* "VirtualService default/reviews", for messages */
};

static struct sl_pos pos_of(const struct rd *r, const yaml_node_t *n)
{
	struct sl_pos p = {.file = r->file, .line = 1, .col = 1};

	if (n) {
		p.line = (int)n->start_mark.line + 1;
		p.col = (int)n->start_mark.column + 1;
	}
	return p;
}

static __attribute__((format(printf, 3, 4))) void err_at(struct rd *r, const yaml_node_t *n,
							 const char *fmt, ...)
{
	struct sl_pos p = pos_of(r, n);
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	sl_diag_add(r->diag, &p, "error", "%s", text ? text : fmt);
	free(text);
}

static __attribute__((format(printf, 3, 4))) void warn_at(struct rd *r, const yaml_node_t *n,
							  const char *fmt, ...)
{
	struct sl_pos p = pos_of(r, n);
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	sl_diag_add(r->diag, &p, "warning", "%s", text ? text : fmt);
	free(text);
}

/* Absent, "~", "null" or nothing: Kubernetes output writes these for unset fields. */
static bool is_null(const yaml_node_t *n)
{
	const char *s = sl_yaml_scalar(n);

	if (!n)
		return true;
	return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null"));
}

/* Value of key in mapping n; NULL if absent, null, or n is not a mapping. */
static yaml_node_t *get(const struct rd *r, const yaml_node_t *n, const char *key)
{
	yaml_node_t *v = sl_yaml_get(r->doc, n, key);

	return is_null(v) ? NULL : v;
}

static bool want(struct rd *r, const yaml_node_t *n, yaml_node_type_t type, const char *what)
{
	if (sl_yaml_is(n, type))
		return true;
	err_at(r, n, "%s in %s must be %s, not %s", what, r->what, sl_yaml_kind_name(type),
	       sl_yaml_type_name(n));
	return false;
}

/* A plain decimal in [min, max]. */
static bool get_uint(struct rd *r, const yaml_node_t *n, const char *what, unsigned long min,
		     unsigned long max, unsigned long *out)
{
	const char *s = sl_yaml_scalar(n);
	unsigned long v;

	if (!s || !sl_all_digits(s) || strlen(s) > 10) {
		err_at(r, n, "%s in %s must be an integer, not %s%s%s", what, r->what, s ? "'" : "",
		       s ? s : sl_yaml_type_name(n), s ? "'" : "");
		return false;
	}
	v = strtoul(s, NULL, 10);
	if (v < min || v > max) {
		err_at(r, n, "%s %s in %s is out of range; it must be %lu to %lu", what, s, r->what,
		       min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool get_port(struct rd *r, const yaml_node_t *n, const char *what, uint16_t *out)
{
	unsigned long v;

	if (!get_uint(r, n, what, 1, 65535, &v))
		return false;
	*out = (uint16_t)v;
	return true;
}

/* TCP (also when absent), UDP; 0 for SCTP and anything else. */
static uint8_t get_proto(const struct rd *r, const yaml_node_t *map)
{
	const char *s = sl_yaml_scalar(get(r, map, "protocol"));

	if (!s || !strcmp(s, "TCP"))
		return IPPROTO_TCP;
	if (!strcmp(s, "UDP"))
		return IPPROTO_UDP;
	return 0;
}

static bool get_bool(const yaml_node_t *n)
{
	const char *s = sl_yaml_scalar(n);

	return s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"));
}

/* A string (a copy in the arena), or NULL after an error. */
static char *get_str(struct rd *r, const yaml_node_t *n, const char *what)
{
	if (!want(r, n, YAML_SCALAR_NODE, what))
		return NULL;
	return kstrdup(r->k, sl_yaml_scalar(n));
}

static int get_labels(struct rd *r, const yaml_node_t *n, const char *what, struct sl_label **out,
		      size_t *n_out)
{
	size_t i;

	*n_out = 0;
	if (!n)
		return 0;
	if (!want(r, n, YAML_MAPPING_NODE, what))
		return 0;
	*out = kalloc(r->k, sl_yaml_map_len(n), sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_map_len(n); i++) {
		const char *key = sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i)),
			   *v = sl_yaml_scalar(sl_yaml_map_value(r->doc, n, i));

		if (!key || !v) {
			err_at(r, sl_yaml_map_value(r->doc, n, i),
			       "%s in %s must map strings to strings", what, r->what);
			continue;
		}
		(*out)[*n_out].key = kstrdup(r->k, key);
		(*out)[*n_out].value = kstrdup(r->k, v);
		if (r->k->oom)
			return -ENOMEM;
		(*n_out)++;
	}
	return 0;
}

static bool parse_addr(struct rd *r, const yaml_node_t *n, const char *what, struct sl_addr *a)
{
	const char *s = sl_yaml_scalar(n);

	if (!s || sl_addr_parse(s, a)) {
		err_at(r, n, "%s in %s is not an IPv4 or IPv6 address: '%s'", what, r->what,
		       s ? s : sl_yaml_type_name(n));
		return false;
	}
	return true;
}

static bool parse_cidr(struct rd *r, const yaml_node_t *n, const char *what, struct sl_cidr *c)
{
	const char *s = sl_yaml_scalar(n);

	if (!s || sl_cidr_parse(s, c)) {
		err_at(r, n, "%s in %s is not an address or CIDR: '%s'", what, r->what,
		       s ? s : sl_yaml_type_name(n));
		return false;
	}
	/* Istio accepts host bits here; keep the network they describe. */
	sl_addr_mask(&c->a, c->plen);
	c->pos = pos_of(r, n);
	return true;
}

/* A field sluice reads but does not act on: said once, where it is. */
static void ignored(struct rd *r, const yaml_node_t *key, const char *where, const char *why)
{
	warn_at(r, key, "'%s' %s of %s is ignored: %s", sl_yaml_scalar(key), where, r->what, why);
}

/* Every key of map that is not in known[] is reported as ignored. */
static void ignore_others(struct rd *r, const yaml_node_t *map, const char *const known[],
			  const char *where, const char *why)
{
	size_t i, j;

	if (!map || map->type != YAML_MAPPING_NODE)
		return;
	for (i = 0; i < sl_yaml_map_len(map); i++) {
		yaml_node_t *kn = sl_yaml_map_key(r->doc, map, i);
		const char *key = sl_yaml_scalar(kn);

		if (!key)
			continue;
		for (j = 0; known[j]; j++)
			if (!strcmp(known[j], key))
				break;
		if (!known[j])
			ignored(r, kn, where, why);
	}
}

/*
 * Every key of map that is not in known[] is an error: the field is not in
 * Istio's schema (a typo), and the API server would refuse the object.
 * Leaving it out would widen a match or change a split.
 */
static void reject_others(struct rd *r, const yaml_node_t *map, const char *const known[],
			  const char *where)
{
	size_t i, j;

	if (!map || map->type != YAML_MAPPING_NODE)
		return;
	for (i = 0; i < sl_yaml_map_len(map); i++) {
		yaml_node_t *kn = sl_yaml_map_key(r->doc, map, i);
		const char *key = sl_yaml_scalar(kn);

		for (j = 0; key && known[j]; j++)
			if (!strcmp(known[j], key))
				break;
		if (!key || !known[j])
			err_at(r, kn, "'%s' %s of %s is not an Istio field (a typo?)",
			       key ? key : "?", where, r->what);
	}
}

/* Metadata and duplicates */

static int parse_meta(struct rd *r, const yaml_node_t *obj, const char *kind, struct kmeta *m)
{
	yaml_node_t *md = get(r, obj, "metadata"), *name, *ns;

	m->pos = pos_of(r, obj);
	snprintf(r->what, sizeof(r->what), "this %s", kind);
	if (!md || md->type != YAML_MAPPING_NODE || !(name = get(r, md, "name"))) {
		err_at(r, md ? md : obj, "this %s has no metadata.name; every %s needs one", kind,
		       kind);
		return -EINVAL;
	}
	if (!want(r, name, YAML_SCALAR_NODE, "metadata.name"))
		return -EINVAL;
	m->name = kstrdup(r->k, sl_yaml_scalar(name));
	m->name_pos = pos_of(r, name);
	ns = get(r, md, "namespace");
	if (ns && !want(r, ns, YAML_SCALAR_NODE, "metadata.namespace"))
		return -EINVAL;
	m->ns = kstrdup(r->k, ns ? sl_yaml_scalar(ns) : DEFAULT_NAMESPACE);
	if (r->k->oom)
		return -ENOMEM;
	snprintf(r->what, sizeof(r->what), "%s %s/%s", kind, m->ns, m->name);
	return 0;
}

static void where_str(const struct sl_pos *first, const char *file, char *buf, size_t len)
{
	if (!strcmp(first->file, file))
		snprintf(buf, len, "line %d", first->line);
	else
		snprintf(buf, len, "%s:%d", first->file, first->line);
}

/* Same kind, namespace and name twice: which one would Kubernetes keep? Neither is right. */
static bool duplicate(struct rd *r, const struct kmeta *m, const struct kmeta *first,
		      const char *kind)
{
	char where[PATH_MAX + 16];

	if (strcmp(first->name, m->name) || strcmp(first->ns, m->ns))
		return false;
	where_str(&first->pos, r->file, where, sizeof(where));
	sl_diag_add(r->diag, &m->name_pos, "error",
		    "duplicate %s %s/%s; it is already defined at %s", kind, m->ns, m->name, where);
	return true;
}

_Static_assert(offsetof(struct ksvc, m) == 0 && offsetof(struct kpod, m) == 0 &&
		   offsetof(struct kdr, m) == 0 && offsetof(struct kvs, m) == 0,
	       "seen_before() reads an object's struct kmeta at its start");

/*
 * Is m already among the n objects of kind at base (each size bytes, its
 * struct kmeta first)? Reported as a duplicate if so.
 */
static bool seen_before(struct rd *r, const struct kmeta *m, const char *kind, const void *base,
			size_t n, size_t size)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (duplicate(r, m, (const struct kmeta *)((const char *)base + i * size), kind))
			return true;
	return false;
}

/* Service */

static int add_service(struct rd *r, const yaml_node_t *obj)
{
	struct sl_k8s *k = r->k;
	yaml_node_t *spec, *v, *ports;
	struct ksvc *s, tmp = {0};
	size_t i, n;
	int err;

	err = parse_meta(r, obj, "Service", &tmp.m);
	if (err || seen_before(r, &tmp.m, "Service", k->svcs, k->n_svcs, sizeof(*k->svcs)))
		return err == -ENOMEM ? err : 0;
	spec = get(r, obj, "spec");
	if (spec && !want(r, spec, YAML_MAPPING_NODE, "spec"))
		return 0;

	/* clusterIPs holds clusterIP first, then the other family's address. */
	v = get(r, spec, "clusterIPs");
	if (v && want(r, v, YAML_SEQUENCE_NODE, "spec.clusterIPs")) {
		tmp.vips = kalloc(k, sl_yaml_seq_len(v), sizeof(*tmp.vips));
		if (!tmp.vips)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++) {
			yaml_node_t *a = sl_yaml_seq_item(r->doc, v, i);

			if (sl_yaml_scalar(a) && !strcmp(sl_yaml_scalar(a), "None")) {
				tmp.headless = true;
				continue;
			}
			if (parse_addr(r, a, "an address of spec.clusterIPs",
				       &tmp.vips[tmp.n_vips]))
				tmp.n_vips++;
		}
	} else if ((v = get(r, spec, "clusterIP"))) {
		if (sl_yaml_scalar(v) && !strcmp(sl_yaml_scalar(v), "None")) {
			tmp.headless = true;
		} else {
			tmp.vips = kalloc(k, 1, sizeof(*tmp.vips));
			if (!tmp.vips)
				return -ENOMEM;
			if (parse_addr(r, v, "spec.clusterIP", &tmp.vips[0]))
				tmp.n_vips = 1;
		}
	}

	ports = get(r, spec, "ports");
	if (ports && want(r, ports, YAML_SEQUENCE_NODE, "spec.ports")) {
		n = sl_yaml_seq_len(ports);
		tmp.ports = kalloc(k, n, sizeof(*tmp.ports));
		if (!tmp.ports)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			yaml_node_t *pn = sl_yaml_seq_item(r->doc, ports, i), *t;
			struct kport *p = &tmp.ports[tmp.n_ports];

			if (!want(r, pn, YAML_MAPPING_NODE, "a port"))
				continue;
			p->pos = pos_of(r, pn);
			v = get(r, pn, "name");
			p->name = kstrdup(k, sl_yaml_scalar(v) ? sl_yaml_scalar(v) : "");
			if (!p->name)
				return -ENOMEM;
			v = get(r, pn, "port");
			if (!v) {
				err_at(r, pn, "a port of %s has no 'port'", r->what);
				continue;
			}
			if (!get_port(r, v, "port", &p->port))
				continue;
			p->proto = get_proto(r, pn);
			if (!p->proto) {
				warn_at(r, get(r, pn, "protocol"),
					"port %u of %s is %s, which sluice does not route; it is "
					"ignored",
					p->port, r->what, sl_yaml_scalar(get(r, pn, "protocol")));
				continue;
			}
			t = get(r, pn, "targetPort");
			if (!t) {
				p->target = p->port;
			} else if (sl_yaml_scalar(t) && sl_all_digits(sl_yaml_scalar(t))) {
				if (!get_port(r, t, "targetPort", &p->target))
					continue;
			} else if (want(r, t, YAML_SCALAR_NODE, "targetPort")) {
				p->target_name = kstrdup(k, sl_yaml_scalar(t));
				if (!p->target_name)
					return -ENOMEM;
			} else {
				continue;
			}
			tmp.n_ports++;
		}
	}
	err = get_labels(r, get(r, spec, "selector"), "spec.selector", &tmp.selector,
			 &tmp.n_selector);
	if (err)
		return err;
	s = grow(k, (void **)&k->svcs, &k->n_svcs, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = tmp;
	return 0;
}

/* Pod */

/* Ready unless a Ready condition says otherwise, or the pod is finished or going away. */
static bool pod_ready(struct rd *r, const yaml_node_t *obj, const yaml_node_t *status)
{
	yaml_node_t *conds = get(r, status, "conditions");
	const char *phase = sl_yaml_scalar(get(r, status, "phase"));
	size_t i;

	if (get(r, get(r, obj, "metadata"), "deletionTimestamp"))
		return false;
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return false;
	if (!conds || conds->type != YAML_SEQUENCE_NODE)
		return true;
	for (i = 0; i < sl_yaml_seq_len(conds); i++) {
		yaml_node_t *c = sl_yaml_seq_item(r->doc, conds, i);
		const char *type = sl_yaml_scalar(get(r, c, "type")),
			   *st = sl_yaml_scalar(get(r, c, "status"));

		if (type && !strcmp(type, "Ready"))
			return st && !strcmp(st, "True");
	}
	return true;
}

static int add_pod(struct rd *r, const yaml_node_t *obj)
{
	struct sl_k8s *k = r->k;
	yaml_node_t *spec, *status, *v, *cs;
	struct kpod *p, tmp = {0};
	size_t i, j, n;
	int err;

	err = parse_meta(r, obj, "Pod", &tmp.m);
	if (err || seen_before(r, &tmp.m, "Pod", k->pods, k->n_pods, sizeof(*k->pods)))
		return err == -ENOMEM ? err : 0;
	err = get_labels(r, get(r, get(r, obj, "metadata"), "labels"), "metadata.labels",
			 &tmp.labels, &tmp.n_labels);
	if (err)
		return err;
	spec = get(r, obj, "spec");
	status = get(r, obj, "status");

	cs = get(r, spec, "containers");
	if (cs && want(r, cs, YAML_SEQUENCE_NODE, "spec.containers")) {
		for (n = 0, i = 0; i < sl_yaml_seq_len(cs); i++) {
			v = get(r, sl_yaml_seq_item(r->doc, cs, i), "ports");
			if (v && v->type == YAML_SEQUENCE_NODE)
				n += sl_yaml_seq_len(v);
		}
		tmp.cports = kalloc(k, n, sizeof(*tmp.cports));
		if (!tmp.cports)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(cs); i++) {
			v = get(r, sl_yaml_seq_item(r->doc, cs, i), "ports");
			if (!v || !want(r, v, YAML_SEQUENCE_NODE, "the ports of a container"))
				continue;
			for (j = 0; j < sl_yaml_seq_len(v); j++) {
				yaml_node_t *pn = sl_yaml_seq_item(r->doc, v, j),
					    *cp = get(r, pn, "containerPort");
				struct kcport *c = &tmp.cports[tmp.n_cports];

				if (!cp) {
					err_at(r, pn,
					       "a container port of %s has no 'containerPort'",
					       r->what);
					continue;
				}
				if (!get_port(r, cp, "containerPort", &c->port))
					continue;
				c->name = kstrdup(k, sl_yaml_scalar(get(r, pn, "name")) ?: "");
				c->proto = get_proto(r, pn);
				if (!c->name)
					return -ENOMEM;
				tmp.n_cports++;
			}
		}
	}

	/* podIPs holds podIP first, then the other family's address. */
	v = get(r, status, "podIPs");
	if (v && want(r, v, YAML_SEQUENCE_NODE, "status.podIPs")) {
		tmp.ips = kalloc(k, sl_yaml_seq_len(v), sizeof(*tmp.ips));
		if (!tmp.ips)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++) {
			yaml_node_t *ip = get(r, sl_yaml_seq_item(r->doc, v, i), "ip");

			if (ip &&
			    parse_addr(r, ip, "an address of status.podIPs", &tmp.ips[tmp.n_ips]))
				tmp.n_ips++;
		}
	} else if ((v = get(r, status, "podIP"))) {
		tmp.ips = kalloc(k, 1, sizeof(*tmp.ips));
		if (!tmp.ips)
			return -ENOMEM;
		if (parse_addr(r, v, "status.podIP", &tmp.ips[0]))
			tmp.n_ips = 1;
	}
	tmp.ready = pod_ready(r, obj, status);
	{
		const char *phase = sl_yaml_scalar(get(r, status, "phase"));

		/* Istio's PodCache indexes Pending and Running pods only (kube/controller/pod.go).
		 */
		tmp.terminal = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
	}
	p = grow(k, (void **)&k->pods, &k->n_pods, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = tmp;
	return 0;
}

/* EndpointSlice and Endpoints */

static int slice_ports(struct rd *r, const yaml_node_t *ports, struct kslice *sl)
{
	size_t i;

	if (!ports || !want(r, ports, YAML_SEQUENCE_NODE, "ports"))
		return 0;
	sl->ports = kalloc(r->k, sl_yaml_seq_len(ports), sizeof(*sl->ports));
	if (!sl->ports)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_seq_len(ports); i++) {
		yaml_node_t *pn = sl_yaml_seq_item(r->doc, ports, i), *v = get(r, pn, "port");
		struct kcport *c = &sl->ports[sl->n_ports];

		/* A slice port without a number: "all ports"; sluice resolves it from the Pod. */
		if (!v)
			continue;
		if (!get_port(r, v, "port", &c->port))
			continue;
		c->name = kstrdup(r->k, sl_yaml_scalar(get(r, pn, "name")) ?: "");
		c->proto = get_proto(r, pn);
		if (!c->name)
			return -ENOMEM;
		sl->n_ports++;
	}
	return 0;
}

static char *target_pod(struct rd *r, const yaml_node_t *ref)
{
	const char *kind = sl_yaml_scalar(get(r, ref, "kind")),
		   *name = sl_yaml_scalar(get(r, ref, "name"));

	return kind && name && !strcmp(kind, "Pod") ? kstrdup(r->k, name) : NULL;
}

static int add_endpoint_slice(struct rd *r, const yaml_node_t *obj)
{
	struct sl_k8s *k = r->k;
	yaml_node_t *eps, *v;
	struct kslice *sl, tmp = {0};
	size_t i, j, n = 0;
	int err;

	err = parse_meta(r, obj, "EndpointSlice", &tmp.m);
	if (err)
		return err == -ENOMEM ? err : 0;
	for (i = 0; i < k->n_slices; i++)
		if (!k->slices[i].is_endpoints &&
		    duplicate(r, &tmp.m, &k->slices[i].m, "EndpointSlice"))
			return 0;
	v = get(r, get(r, get(r, obj, "metadata"), "labels"), "kubernetes.io/service-name");
	if (!v || !sl_yaml_scalar(v)) {
		warn_at(r, obj,
			"%s has no label kubernetes.io/service-name, so it belongs to no Service; "
			"it is ignored",
			r->what);
		return 0;
	}
	tmp.service = kstrdup(k, sl_yaml_scalar(v));
	eps = get(r, obj, "endpoints");
	if (eps && want(r, eps, YAML_SEQUENCE_NODE, "endpoints")) {
		for (i = 0; i < sl_yaml_seq_len(eps); i++) {
			v = get(r, sl_yaml_seq_item(r->doc, eps, i), "addresses");
			if (v && v->type == YAML_SEQUENCE_NODE)
				n += sl_yaml_seq_len(v);
		}
		tmp.addrs = kalloc(k, n, sizeof(*tmp.addrs));
		if (!tmp.addrs)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(eps); i++) {
			yaml_node_t *ep = sl_yaml_seq_item(r->doc, eps, i), *ready;
			/* "ready: nil indicates an unknown state ... interpret it as ready". */
			bool is_ready = true;

			ready = get(r, get(r, ep, "conditions"), "ready");
			if (ready)
				is_ready = get_bool(ready);
			v = get(r, ep, "addresses");
			if (!v || !want(r, v, YAML_SEQUENCE_NODE, "addresses"))
				continue;
			for (j = 0; j < sl_yaml_seq_len(v); j++) {
				struct kaddr *a = &tmp.addrs[tmp.n_addrs];

				if (!parse_addr(r, sl_yaml_seq_item(r->doc, v, j),
						"an endpoint address", &a->a))
					continue;
				a->ready = is_ready;
				a->pod = target_pod(r, get(r, ep, "targetRef"));
				tmp.n_addrs++;
			}
		}
	}
	err = slice_ports(r, get(r, obj, "ports"), &tmp);
	if (err)
		return err;
	sl = grow(k, (void **)&k->slices, &k->n_slices, sizeof(*sl));
	if (!sl)
		return -ENOMEM;
	*sl = tmp;
	return k->oom ? -ENOMEM : 0;
}

static int endpoints_addrs(struct rd *r, const yaml_node_t *list, bool ready, struct kslice *sl)
{
	size_t i;

	if (!list || !want(r, list, YAML_SEQUENCE_NODE, "addresses"))
		return 0;
	for (i = 0; i < sl_yaml_seq_len(list); i++) {
		yaml_node_t *an = sl_yaml_seq_item(r->doc, list, i);
		struct kaddr *a = &sl->addrs[sl->n_addrs];
		yaml_node_t *ip = get(r, an, "ip");

		if (!ip) {
			err_at(r, an, "an address of %s has no 'ip'", r->what);
			continue;
		}
		if (!parse_addr(r, ip, "an endpoint address", &a->a))
			continue;
		a->ready = ready;
		a->pod = target_pod(r, get(r, an, "targetRef"));
		sl->n_addrs++;
	}
	return r->k->oom ? -ENOMEM : 0;
}

static int add_endpoints(struct rd *r, const yaml_node_t *obj)
{
	struct sl_k8s *k = r->k;
	yaml_node_t *subsets, *a, *na;
	struct kmeta m = {0};
	struct kslice *sl;
	size_t i, n;
	int err;

	err = parse_meta(r, obj, "Endpoints", &m);
	if (err)
		return err == -ENOMEM ? err : 0;
	for (i = 0; i < k->n_slices; i++)
		if (k->slices[i].is_endpoints && duplicate(r, &m, &k->slices[i].m, "Endpoints"))
			return 0;
	subsets = get(r, obj, "subsets");
	if (!subsets || !want(r, subsets, YAML_SEQUENCE_NODE, "subsets"))
		return 0;
	for (i = 0; i < sl_yaml_seq_len(subsets); i++) {
		yaml_node_t *sn = sl_yaml_seq_item(r->doc, subsets, i);

		a = get(r, sn, "addresses");
		na = get(r, sn, "notReadyAddresses");
		n = (a && a->type == YAML_SEQUENCE_NODE ? sl_yaml_seq_len(a) : 0) +
		    (na && na->type == YAML_SEQUENCE_NODE ? sl_yaml_seq_len(na) : 0);
		sl = grow(k, (void **)&k->slices, &k->n_slices, sizeof(*sl));
		if (!sl)
			return -ENOMEM;
		sl->m = m;
		sl->is_endpoints = true;
		sl->service = m.name;
		sl->addrs = kalloc(k, n, sizeof(*sl->addrs));
		if (!sl->addrs)
			return -ENOMEM;
		err = endpoints_addrs(r, a, true, sl);
		if (!err)
			err = endpoints_addrs(r, na, false, sl);
		if (!err)
			err = slice_ports(r, get(r, sn, "ports"), sl);
		if (err)
			return err;
	}
	return 0;
}

/* DestinationRule */

#define NOT_DONE "sluice does not do it"

static int add_destination_rule(struct rd *r, const yaml_node_t *obj)
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

	err = parse_meta(r, obj, "DestinationRule", &tmp.m);
	if (err || seen_before(r, &tmp.m, "DestinationRule", k->drs, k->n_drs, sizeof(*k->drs)))
		return err == -ENOMEM ? err : 0;
	spec = get(r, obj, "spec");
	if (!spec || !want(r, spec, YAML_MAPPING_NODE, "spec")) {
		if (!spec)
			err_at(r, obj, "%s has no spec; it needs at least spec.host", r->what);
		return 0;
	}
	ignore_others(r, spec, spec_known, "in the spec", NOT_DONE);
	v = get(r, spec, "host");
	if (!v) {
		err_at(r, spec, "%s has no spec.host; say which Service it is for", r->what);
		return 0;
	}
	tmp.host = get_str(r, v, "spec.host");
	if (!tmp.host)
		return k->oom ? -ENOMEM : 0;
	tmp.host_pos = pos_of(r, v);

	tp = get(r, spec, "trafficPolicy");
	ignore_others(r, tp, tp_known, "in trafficPolicy", NOT_DONE);
	lb = get(r, tp, "loadBalancer");
	ignore_others(r, lb, lb_known, "in trafficPolicy.loadBalancer",
		      "sluice picks an endpoint by a hash of the connection");
	ch = get(r, lb, "consistentHash");
	ignore_others(r, ch, ch_known, "in consistentHash",
		      "sluice hashes on the client address only (useSourceIp)");
	/* The same client address always lands on the same subset: our client-ip affinity. */
	tmp.client_ip = get_bool(get(r, ch, "useSourceIp"));

	v = get(r, spec, "subsets");
	if (v && want(r, v, YAML_SEQUENCE_NODE, "spec.subsets")) {
		tmp.subsets = kalloc(k, sl_yaml_seq_len(v), sizeof(*tmp.subsets));
		if (!tmp.subsets)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++) {
			yaml_node_t *sn = sl_yaml_seq_item(r->doc, v, i), *name;
			struct kdrsub *s = &tmp.subsets[tmp.n_subsets];

			if (!want(r, sn, YAML_MAPPING_NODE, "a subset"))
				continue;
			ignore_others(r, sn, sub_known, "in a subset", NOT_DONE);
			name = get(r, sn, "name");
			if (!name) {
				err_at(r, sn, "a subset of %s has no name", r->what);
				continue;
			}
			s->name = get_str(r, name, "the name of a subset");
			if (!s->name)
				continue;
			s->pos = pos_of(r, name);
			if (strlen(s->name) >= SL_SUBSET_NAME_LEN) {
				err_at(r, name,
				       "subset name '%s' in %s is %zu characters long; sluice "
				       "allows %d",
				       s->name, r->what, strlen(s->name), SL_SUBSET_NAME_LEN - 1);
				continue;
			}
			for (j = 0; j < tmp.n_subsets; j++)
				if (!strcmp(tmp.subsets[j].name, s->name))
					break;
			if (j < tmp.n_subsets) {
				err_at(r, name, "duplicate subset '%s' in %s (first at line %d)",
				       s->name, r->what, tmp.subsets[j].pos.line);
				continue;
			}
			err = get_labels(r, get(r, sn, "labels"), "the labels of a subset",
					 &s->labels, &s->n_labels);
			if (err)
				return err;
			tmp.n_subsets++;
		}
	}
	d = grow(k, (void **)&k->drs, &k->n_drs, sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = tmp;
	return 0;
}

/* VirtualService */

/* Istio's StringMatch: exactly one of exact, prefix, regex (or {}: "present"). */
static void check_string_match(struct rd *r, const yaml_node_t *n, const char *what)
{
	static const char *const kinds_ok[] = {"exact", "prefix", "regex", NULL};
	size_t i, j;

	if (!want(r, n, YAML_MAPPING_NODE, what))
		return;
	if (sl_yaml_map_len(n) > 1)
		err_at(r, n, "%s in %s has %zu match types; give one of exact, prefix or regex",
		       what, r->what, sl_yaml_map_len(n));
	for (i = 0; i < sl_yaml_map_len(n); i++) {
		const char *key = sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i));

		for (j = 0; key && kinds_ok[j]; j++)
			if (!strcmp(kinds_ok[j], key))
				break;
		if (!key || !kinds_ok[j])
			err_at(
			    r, sl_yaml_map_key(r->doc, n, i),
			    "'%s' in %s of %s is not a match type; expected exact, prefix or regex",
			    key ? key : "?", what, r->what);
		else if (!sl_yaml_scalar(sl_yaml_map_value(r->doc, n, i)))
			err_at(r, sl_yaml_map_value(r->doc, n, i), "%s.%s in %s must be a string",
			       what, key, r->what);
	}
}

static void check_string_match_map(struct rd *r, const yaml_node_t *n, const char *what)
{
	char sub[128];
	size_t i;

	if (!want(r, n, YAML_MAPPING_NODE, what))
		return;
	for (i = 0; i < sl_yaml_map_len(n); i++) {
		snprintf(sub, sizeof(sub), "%s.%s", what,
			 sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i)) ?: "?");
		check_string_match(r, sl_yaml_map_value(r->doc, n, i), sub);
	}
}

/* True if gateways (a list) does not apply to traffic between pods ("mesh"). */
static bool gateways_only(struct rd *r, const yaml_node_t *gws)
{
	size_t i;

	if (!gws || gws->type != YAML_SEQUENCE_NODE || !sl_yaml_seq_len(gws))
		return false;
	for (i = 0; i < sl_yaml_seq_len(gws); i++)
		if (sl_yaml_scalar(sl_yaml_seq_item(r->doc, gws, i)) &&
		    !strcmp(sl_yaml_scalar(sl_yaml_seq_item(r->doc, gws, i)), "mesh"))
			return false;
	return true;
}

static int add_l7_spec(struct rd *r, const yaml_node_t *v, const char *key, char **spec);

/* One match block. Returns false if it does not apply inside the mesh (gateways). */
static int parse_match(struct rd *r, const yaml_node_t *n, bool tcp, const char *rname,
		       struct kmatch *m, bool *applies)
{
	static const char *const http_known[] = {
	    "name",	  "sourceLabels", "sourceNamespace", "port",	       "gateways",
	    "statPrefix", "uri",	  "scheme",	     "method",	       "authority",
	    "headers",	  "queryParams",  "ignoreUriCase",   "withoutHeaders", NULL};
	static const char *const tcp_known[] = {
	    "sourceLabels",	  "sourceNamespace", "port", "gateways",
	    "destinationSubnets", "sourceSubnet",    NULL};
	static const char *const l7[] = {"uri",	    "scheme",	   "method",	     "authority",
					 "headers", "queryParams", "withoutHeaders", NULL};
	char l7_names[160] = "", *spec = NULL;
	yaml_node_t *v;
	size_t i, off = 0;
	int err = 0;

	*applies = true;
	if (!want(r, n, YAML_MAPPING_NODE, "a match block"))
		return 0;
	reject_others(r, n, tcp ? tcp_known : http_known, "in a match block");
	if (gateways_only(r, get(r, n, "gateways"))) {
		warn_at(r, n,
			"this match block of %s of %s applies to gateways only (not 'mesh'); "
			"sluice routes traffic between pods and leaves it out",
			rname, r->what);
		*applies = false;
		return 0;
	}
	v = get(r, n, "sourceLabels");
	if (v) {
		err = get_labels(r, v, "sourceLabels", &m->labels, &m->n_labels);
		if (err)
			return err;
	}
	v = get(r, n, "sourceNamespace");
	if (v && !(m->src_ns = get_str(r, v, "sourceNamespace")) && r->k->oom)
		return -ENOMEM;
	v = get(r, n, "port");
	if (v) {
		get_port(r, v, "port", &m->port);
		m->port_pos = pos_of(r, v);
	}
	v = tcp ? get(r, n, "destinationSubnets") : NULL;
	if (v && want(r, v, YAML_SEQUENCE_NODE, "destinationSubnets")) {
		m->dst = kalloc(r->k, sl_yaml_seq_len(v), sizeof(*m->dst));
		if (!m->dst)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++)
			if (parse_cidr(r, sl_yaml_seq_item(r->doc, v, i), "a destination subnet",
				       &m->dst[m->n_dst]))
				m->n_dst++;
	}
	v = tcp ? get(r, n, "sourceSubnet") : NULL;
	if (v) {
		m->src = kalloc(r->k, 1, sizeof(*m->src));
		if (!m->src)
			return -ENOMEM;
		if (parse_cidr(r, v, "sourceSubnet", m->src))
			m->n_src = 1;
	}
	if (tcp)
		return 0;

	for (i = 0; l7[i]; i++) {
		v = get(r, n, l7[i]);
		if (!v)
			continue;
		if (!strcmp(l7[i], "headers") || !strcmp(l7[i], "queryParams") ||
		    !strcmp(l7[i], "withoutHeaders"))
			check_string_match_map(r, v, l7[i]);
		else
			check_string_match(r, v, l7[i]);
		m->l7 = true;
		if (strcmp(l7[i], "queryParams") && strcmp(l7[i], "scheme")) {
			err = add_l7_spec(r, v, l7[i], &spec);
			if (err)
				goto out;
			continue;
		}
		off += snprintf(l7_names + off, sizeof(l7_names) - off, "%s%s", off ? ", " : "",
				l7[i]);
		m->l7_unsupported = true;
	}
	v = get(r, n, "ignoreUriCase");
	if (v && sl_yaml_scalar(v) && !strcmp(sl_yaml_scalar(v), "true") &&
	    (err = sl_l7_spec_ignore_uri_case(&spec)))
		goto out;
	if (m->l7_unsupported)
		warn_at(r, n,
			"%s of %s matches on %s, which sluice does not evaluate: this match is "
			"kept but never matched",
			rname, r->what, l7_names);
	if (spec) {
		char why[300];

		if (sl_l7_spec_check(spec, why, sizeof(why)) == -EINVAL)
			err_at(r, n, "the HTTP match of %s of %s %s", rname, r->what, why);
		m->l7_spec = kstrdup(r->k, spec);
		if (!m->l7_spec)
			err = -ENOMEM;
	}
out:
	free(spec);
	return err;
}

/*
 * One of headers, withoutHeaders, uri, method, authority, as lines of an
 * l7_match.h spec. An empty StringMatch ({}) is "present" for a header and
 * no condition at all for the others (Istio treats it the same way).
 */
static int add_l7_spec(struct rd *r, const yaml_node_t *v, const char *key, char **spec)
{
	bool hdrs = !strcmp(key, "headers") || !strcmp(key, "withoutHeaders");
	const char *kind = !strcmp(key, "headers") ? "header" : !strcmp(key, "withoutHeaders") ? "without" : key;
	size_t i, n = hdrs ? sl_yaml_map_len(v) : 1;
	int err;

	if (v->type != YAML_MAPPING_NODE)
		return 0; /* reported by check_string_match */
	for (i = 0; i < n; i++) {
		const yaml_node_t *sm = hdrs ? sl_yaml_map_value(r->doc, v, i) : v;
		const char *name = hdrs ? sl_yaml_scalar(sl_yaml_map_key(r->doc, v, i)) : NULL;
		const char *mtype = NULL, *val = NULL;

		if (!sm || sm->type != YAML_MAPPING_NODE || (hdrs && !name))
			continue;
		if (sl_yaml_map_len(sm)) {
			mtype = sl_yaml_scalar(sl_yaml_map_key(r->doc, sm, 0));
			val = sl_yaml_scalar(sl_yaml_map_value(r->doc, sm, 0));
			/* anything else is reported by check_string_match */
			if (!mtype || !val ||
			    (strcmp(mtype, "exact") && strcmp(mtype, "prefix") && strcmp(mtype, "regex")))
				continue;
		} else if (hdrs) {
			mtype = "present";
		} else {
			continue;
		}
		err = sl_l7_spec_add(spec, kind, name, mtype, val);
		if (err == -EINVAL)
			err_at(r, sm, "%s%s%s in %s: a name or value with a line break, or a bad name",
			       key, name ? "." : "", name ? name : "", r->what);
		else if (err)
			return err;
	}
	return 0;
}

static int parse_dest(struct rd *r, const yaml_node_t *n, const char *rname, struct kdest *d,
		      bool *weight_given)
{
	static const char *const dw_known[] = {"destination", "weight", "headers", NULL};
	static const char *const dest_known[] = {"host", "subset", "port", NULL};
	yaml_node_t *dn, *v;
	const char *w;

	*weight_given = false;
	if (!want(r, n, YAML_MAPPING_NODE, "a route destination"))
		return -EINVAL;
	reject_others(r, n, dw_known, "in a route destination");
	for (size_t i = 0; i < sl_yaml_map_len(n); i++)
		if (sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i)) &&
		    !strcmp(sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i)), "headers"))
			ignored(r, sl_yaml_map_key(r->doc, n, i), "in a route destination",
				NOT_DONE);
	dn = get(r, n, "destination");
	if (!dn) {
		err_at(r, n, "a destination of %s of %s has no 'destination'", rname, r->what);
		return -EINVAL;
	}
	if (!want(r, dn, YAML_MAPPING_NODE, "destination"))
		return -EINVAL;
	reject_others(r, dn, dest_known, "in a destination");
	v = get(r, dn, "host");
	if (!v) {
		err_at(r, dn, "a destination of %s of %s has no 'host'", rname, r->what);
		return -EINVAL;
	}
	if (!(d->host = get_str(r, v, "destination.host")))
		return r->k->oom ? -ENOMEM : -EINVAL;
	d->host_pos = pos_of(r, v);
	v = get(r, dn, "subset");
	if (v) {
		if (!(d->subset = get_str(r, v, "destination.subset")))
			return r->k->oom ? -ENOMEM : -EINVAL;
		d->subset_pos = pos_of(r, v);
	}
	v = get(r, get(r, dn, "port"), "number");
	if (v) {
		if (!get_port(r, v, "destination.port.number", &d->port))
			return -EINVAL;
		d->port_pos = pos_of(r, v);
	}
	v = get(r, n, "weight");
	if (!v)
		return 0;
	w = sl_yaml_scalar(v);
	/* Istio's validateWeight: "weight %d < 0" (pkg/config/validation/validation.go). */
	if (w && w[0] == '-' && sl_all_digits(w + 1)) {
		err_at(r, v,
		       "weight %s of a destination of %s of %s is negative; weights are 0 or more",
		       w, rname, r->what);
		return -EINVAL;
	}
	if (!w || !sl_all_digits(w) || strlen(w) > 7 || strtoul(w, NULL, 10) > SL_MAX_WEIGHT) {
		err_at(r, v,
		       "weight of a destination of %s of %s must be an integer from 0 to %d, not "
		       "%s%s%s",
		       rname, r->what, SL_MAX_WEIGHT, w ? "'" : "", w ? w : sl_yaml_type_name(v),
		       w ? "'" : "");
		return -EINVAL;
	}
	d->weight = (uint32_t)strtoul(w, NULL, 10);
	*weight_given = true;
	return 0;
}

static int parse_route(struct rd *r, const yaml_node_t *n, bool tcp, size_t idx, struct kroute *rt)
{
	static const char *const http_known[] = {"name", "match", "route", NULL};
	static const char *const tcp_known[] = {"match", "route", NULL};
	char rname[96], where[104];
	yaml_node_t *v, *name;
	uint64_t total = 0;
	bool given, ok = true;
	size_t i;
	int err;

	rt->pos = pos_of(r, n);
	name = tcp ? NULL : get(r, n, "name");
	if (name && sl_yaml_scalar(name))
		snprintf(rname, sizeof(rname), "http route '%s'", sl_yaml_scalar(name));
	else
		snprintf(rname, sizeof(rname), "%s[%zu]", tcp ? "tcp" : "http", idx);
	if (name && sl_yaml_scalar(name))
		rt->name = kstrdup(r->k, sl_yaml_scalar(name));
	else
		rt->name = kstrdup(r->k, rname);
	if (!rt->name)
		return -ENOMEM;
	snprintf(where, sizeof(where), "in %s", rname);
	ignore_others(r, n, tcp ? tcp_known : http_known, where, NOT_DONE);

	v = get(r, n, "match");
	if (v && want(r, v, YAML_SEQUENCE_NODE, "match")) {
		rt->matches = kalloc(r->k, sl_yaml_seq_len(v), sizeof(*rt->matches));
		if (!rt->matches)
			return -ENOMEM;
		for (i = 0; i < sl_yaml_seq_len(v); i++) {
			bool applies;

			err = parse_match(r, sl_yaml_seq_item(r->doc, v, i), tcp, rname,
					  &rt->matches[rt->n_matches], &applies);
			if (err)
				return err;
			if (applies)
				rt->n_matches++;
		}
		/* Every block is for gateways: the route does not exist inside the mesh. */
		if (!rt->n_matches && sl_yaml_seq_len(v))
			return 0;
	}

	v = get(r, n, "route");
	if (!v) {
		warn_at(r, n, "%s of %s has no 'route' (no destination), so sluice leaves it out",
			rname, r->what);
		return 0;
	}
	if (!want(r, v, YAML_SEQUENCE_NODE, "route"))
		return 0;
	if (!sl_yaml_seq_len(v)) {
		err_at(r, v, "%s of %s has an empty 'route'; give at least one destination", rname,
		       r->what);
		return 0;
	}
	rt->dests = kalloc(r->k, sl_yaml_seq_len(v), sizeof(*rt->dests));
	if (!rt->dests)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_seq_len(v); i++) {
		err = parse_dest(r, sl_yaml_seq_item(r->doc, v, i), rname, &rt->dests[rt->n_dests],
				 &given);
		if (err == -ENOMEM)
			return err;
		if (err) {
			ok = false;
			continue;
		}
		total += rt->dests[rt->n_dests].weight;
		rt->n_dests++;
	}
	if (!ok)
		return 0;
	/*
	 * "If there is only one destination in a rule, it will receive all
	 * traffic" (Istio's VirtualService reference, HTTPRouteDestination);
	 * with more, weights are relative and must not all be 0 (Istio's
	 * validateHTTPRouteDestinations: "total destination weight = 0").
	 */
	if (rt->n_dests == 1) {
		rt->dests[0].weight = 100;
	} else if (!total) {
		err_at(r, v,
		       "all weights of %s of %s are 0 (or missing); at least one destination "
		       "must get traffic",
		       rname, r->what);
		return 0;
	}
	rt->usable = true;
	return 0;
}

static int parse_routes(struct rd *r, const yaml_node_t *list, bool tcp, struct kvs *vs)
{
	size_t i;
	int err;

	if (!want(r, list, YAML_SEQUENCE_NODE, tcp ? "spec.tcp" : "spec.http"))
		return 0;
	for (i = 0; i < sl_yaml_seq_len(list); i++) {
		yaml_node_t *rn = sl_yaml_seq_item(r->doc, list, i);
		struct kroute *rt = &vs->routes[vs->n_routes];

		if (!want(r, rn, YAML_MAPPING_NODE, tcp ? "a tcp route" : "an http route"))
			continue;
		err = parse_route(r, rn, tcp, i, rt);
		if (err)
			return err;
		vs->n_routes++;
	}
	return 0;
}

static int add_virtual_service(struct rd *r, const yaml_node_t *obj)
{
	static const char *const spec_known[] = {"hosts", "http", "tcp", "gateways", NULL};
	struct sl_k8s *k = r->k;
	yaml_node_t *spec, *hosts, *http, *tcp;
	struct kvs *vs, tmp = {0};
	size_t i, n = 0;
	int err;

	err = parse_meta(r, obj, "VirtualService", &tmp.m);
	if (err || seen_before(r, &tmp.m, "VirtualService", k->vss, k->n_vss, sizeof(*k->vss)))
		return err == -ENOMEM ? err : 0;
	spec = get(r, obj, "spec");
	if (!spec || !want(r, spec, YAML_MAPPING_NODE, "spec")) {
		if (!spec)
			err_at(r, obj, "%s has no spec; it needs spec.hosts and routes", r->what);
		return 0;
	}
	ignore_others(r, spec, spec_known, "in the spec", NOT_DONE);
	if (gateways_only(r, get(r, spec, "gateways"))) {
		warn_at(r, get(r, spec, "gateways"),
			"%s applies to gateways only (its gateways do not include 'mesh'); sluice "
			"routes traffic between pods and leaves it out",
			r->what);
		return 0;
	}
	hosts = get(r, spec, "hosts");
	if (!hosts) {
		/* Istio: a VirtualService without hosts is a delegate, used only through another's
		 * 'delegate'. */
		warn_at(
		    r, spec,
		    "%s has no spec.hosts, so it is a delegate; sluice does not follow 'delegate' "
		    "and leaves it out",
		    r->what);
		return 0;
	}
	if (!want(r, hosts, YAML_SEQUENCE_NODE, "spec.hosts"))
		return 0;
	tmp.hosts = kalloc(k, sl_yaml_seq_len(hosts), sizeof(*tmp.hosts));
	if (!tmp.hosts)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_seq_len(hosts); i++) {
		yaml_node_t *h = sl_yaml_seq_item(r->doc, hosts, i);
		struct khost *kh = &tmp.hosts[tmp.n_hosts];

		if (!(kh->name = get_str(r, h, "a host"))) {
			if (k->oom)
				return -ENOMEM;
			continue;
		}
		kh->pos = pos_of(r, h);
		tmp.n_hosts++;
	}

	http = get(r, spec, "http");
	tcp = get(r, spec, "tcp");
	n += http && http->type == YAML_SEQUENCE_NODE ? sl_yaml_seq_len(http) : 0;
	n += tcp && tcp->type == YAML_SEQUENCE_NODE ? sl_yaml_seq_len(tcp) : 0;
	tmp.routes = kalloc(k, n, sizeof(*tmp.routes));
	if (!tmp.routes)
		return -ENOMEM;
	/*
	 * Istio uses http routes on HTTP ports and tcp routes on the others;
	 * sluice cannot tell the protocol of a connection, so it tries the
	 * http routes, then the tcp ones.
	 */
	if (http && tcp)
		warn_at(r, tcp,
			"%s has both http and tcp routes; sluice tries the http routes first, then "
			"the tcp routes, on every port",
			r->what);
	if (http && (err = parse_routes(r, http, false, &tmp)))
		return err;
	if (tcp && (err = parse_routes(r, tcp, true, &tmp)))
		return err;
	vs = grow(k, (void **)&k->vss, &k->n_vss, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	*vs = tmp;
	return 0;
}

int sl_k8s_add(struct sl_k8s *k, yaml_document_t *doc, yaml_node_t *obj, const char *file,
	       struct sl_diag *diag)
{
	struct rd r = {.k = k, .doc = doc, .file = file, .diag = diag};
	const char *kind = sl_yaml_scalar(get(&r, obj, "kind"));
	int err;

	if (!kind)
		return 0;
	if (!strcmp(kind, "Service"))
		err = add_service(&r, obj);
	else if (!strcmp(kind, "Pod"))
		err = add_pod(&r, obj);
	else if (!strcmp(kind, "EndpointSlice"))
		err = add_endpoint_slice(&r, obj);
	else if (!strcmp(kind, "Endpoints"))
		err = add_endpoints(&r, obj);
	else if (!strcmp(kind, "DestinationRule"))
		err = add_destination_rule(&r, obj);
	else if (!strcmp(kind, "VirtualService"))
		err = add_virtual_service(&r, obj);
	else
		err = 0;
	return err ? err : (k->oom ? -ENOMEM : 0);
}

/* Building the model */

struct bld {
	struct sl_k8s *k;
	struct sl_config *cfg;
	struct sl_diag *diag;
	size_t added;
	int *dr_svc; /* index in k->svcs of each DestinationRule's Service, or -1 */
};

/* A candidate endpoint of a Service: an address, its pod, and its port for each Service port. */
struct cand {
	struct sl_addr a;
	const struct kpod *pod;
	uint16_t *tp;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && !strcmp(s + ls - lx, suffix) && s[ls - lx - 1] == '.';
}

/*
 * The Service a host names, seen from namespace ns. Istio completes a short
 * name ("reviews") with the namespace of the rule, not of the Service (the
 * VirtualService reference, "hosts": "Istio will interpret the short name
 * based on the namespace of the rule"); NAME.NAMESPACE.svc.cluster.local is
 * the full name. Like the pods' DNS search path, NAME.NAMESPACE and
 * NAME.NAMESPACE.svc are accepted too. why (if not NULL) says what was
 * looked for when nothing is found. -1: no such Service; -2: the host is not
 * a name of this cluster's Services at all (a wildcard, or a ServiceEntry
 * or external host such as api.example.com).
 */
static int find_service(const struct sl_k8s *k, const char *host, const char *ns, char *why,
			size_t len)
{
	char buf[256], *dot, *name = buf;
	const char *want_ns = ns;
	size_t i;

	if (strchr(host, '*')) {
		if (why)
			snprintf(
			    why, len,
			    "it is a wildcard; sluice routes Kubernetes Services, named one by "
			    "one");
		return -2;
	}
	if (strlen(host) >= sizeof(buf))
		goto foreign;
	strcpy(buf, host);
	if (ends_with(buf, CLUSTER_DOMAIN))
		buf[strlen(buf) - strlen(CLUSTER_DOMAIN) - 1] = '\0';
	else if (ends_with(buf, "svc"))
		buf[strlen(buf) - 4] = '\0';
	dot = strchr(buf, '.');
	if (dot) {
		if (strchr(dot + 1, '.'))
			goto foreign;
		*dot = '\0';
		want_ns = dot + 1;
	}
	for (i = 0; i < k->n_svcs; i++)
		if (!strcmp(k->svcs[i].m.name, name) && !strcmp(k->svcs[i].m.ns, want_ns))
			return (int)i;
	if (why)
		snprintf(why, len, "there is no Service %s in namespace %s", name, want_ns);
	return -1;
foreign:
	if (why)
		snprintf(why, len,
			 "it is not a Service of this cluster (write NAME, NAME.NAMESPACE or "
			 "NAME.NAMESPACE." CLUSTER_DOMAIN ")");
	return -2;
}

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
	x = grow(k, (void **)c, n, sizeof(**c));
	if (!x)
		return -ENOMEM;
	x->a = *a;
	x->pod = pod;
	x->tp = kalloc(k, svc->n_ports, sizeof(*x->tp));
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

static void list_subsets(const struct sl_service_cfg *s, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < s->n_subsets && off < len; i++)
		if (strcmp(s->subsets[i].name, SL_K8S_ALL_SUBSET))
			off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
					s->subsets[i].name);
}

static void list_ports(const struct ksvc *svc, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < svc->n_ports && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%u/%s", i ? ", " : "", svc->ports[i].port,
				svc->ports[i].proto == IPPROTO_UDP ? "UDP" : "TCP");
}

static bool svc_has_port(const struct ksvc *svc, uint16_t port)
{
	size_t i;

	for (i = 0; i < svc->n_ports; i++)
		if (svc->ports[i].port == port)
			return true;
	return false;
}

/* The split of one VirtualService route, by subset index of s; false after an error. */
static bool route_split(struct bld *b, const struct kvs *vs, const struct kroute *rt,
			const struct ksvc *svc, const struct kdr *dr, struct sl_service_cfg *s,
			uint32_t w[SL_MAX_SUBSETS])
{
	char why[256], names[SL_MAX_SUBSETS * SL_SUBSET_NAME_LEN + 16], ports[128];
	bool ok = true;
	size_t i;
	int idx;

	memset(w, 0, SL_MAX_SUBSETS * sizeof(*w));
	for (i = 0; i < rt->n_dests; i++) {
		const struct kdest *d = &rt->dests[i];
		int si = find_service(b->k, d->host, vs->m.ns, why, sizeof(why));

		if (si < 0) {
			sl_diag_add(
			    b->diag, &d->host_pos, "error",
			    "destination host '%s' of %s of VirtualService %s/%s matches no "
			    "Service: %s",
			    d->host, rt->name, vs->m.ns, vs->m.name, why);
			ok = false;
			continue;
		}
		if (&b->k->svcs[si] != svc) {
			sl_diag_add(
			    b->diag, &d->host_pos, "error",
			    "destination host '%s' of %s is Service %s/%s, but this "
			    "VirtualService routes Service %s/%s; sluice splits a Service's "
			    "traffic among that Service's own subsets only",
			    d->host, rt->name, b->k->svcs[si].m.ns, b->k->svcs[si].m.name,
			    svc->m.ns, svc->m.name);
			ok = false;
			continue;
		}
		if (d->port && !svc_has_port(svc, d->port)) {
			list_ports(svc, ports, sizeof(ports));
			sl_diag_add(b->diag, &d->port_pos, "error",
				    "destination port %u of %s is not a port of Service %s/%s; its "
				    "ports are: %s",
				    d->port, rt->name, svc->m.ns, svc->m.name, ports);
			ok = false;
		}
		idx = sl_config_subset_index(s, d->subset ? d->subset : SL_K8S_ALL_SUBSET);
		if (idx < 0) {
			list_subsets(s, names, sizeof(names));
			if (dr && dr->n_subsets)
				sl_diag_add(
				    b->diag, &d->subset_pos, "error",
				    "subset '%s' of host '%s' is not defined: DestinationRule "
				    "%s/%s (%s:%d) has subsets %s",
				    d->subset, d->host, dr->m.ns, dr->m.name, dr->m.pos.file,
				    dr->m.pos.line, names);
			else
				sl_diag_add(b->diag, &d->subset_pos, "error",
					    "subset '%s' of host '%s' is not defined: no "
					    "DestinationRule for Service %s/%s defines subsets",
					    d->subset, d->host, svc->m.ns, svc->m.name);
			ok = false;
			continue;
		}
		w[idx] += d->weight;
		if (w[idx] > SL_MAX_WEIGHT) {
			sl_diag_add(b->diag, &rt->pos, "error",
				    "%s of VirtualService %s/%s gives subset '%s' a weight of %u; "
				    "sluice allows at most %d",
				    rt->name, vs->m.ns, vs->m.name, s->subsets[idx].name, w[idx],
				    SL_MAX_WEIGHT);
			ok = false;
		}
	}
	return ok;
}

static bool match_is_catch_all(const struct kmatch *m)
{
	return !m || (!m->n_labels && !m->src_ns && !m->port && !m->n_dst && !m->n_src && !m->l7);
}

static int add_model_route(struct sl_service_cfg *s, const struct kroute *rt,
			   const struct kmatch *m, const uint32_t w[SL_MAX_SUBSETS])
{
	struct sl_route_cfg *mr = &s->routes[s->n_routes++];
	int err;

	memcpy(mr->weight, w, sizeof(mr->weight));
	mr->pos = rt->pos;
	mr->name = strdup(rt->name);
	if (!mr->name)
		return -ENOMEM;
	if (!m)
		return 0;
	mr->needs_l7 = m->l7;
	if (m->l7 && !m->l7_unsupported && m->l7_spec && !(mr->l7_spec = strdup(m->l7_spec)))
		return -ENOMEM;
	mr->match_port = m->port;
	if (m->n_labels || m->src_ns) {
		mr->has_labels = true;
		err = copy_labels(m->labels, m->n_labels, m->src_ns, &mr->labels, &mr->n_labels);
		if (err)
			return err;
	}
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

/* Subsets and their endpoints. */
static int build_subsets(struct bld *b, const struct ksvc *svc, const struct kdr *dr, bool all,
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

static const struct kdr *service_dr(const struct bld *b, const struct ksvc *svc)
{
	size_t i;

	for (i = 0; i < b->k->n_drs; i++)
		if (b->dr_svc[i] >= 0 && &b->k->svcs[b->dr_svc[i]] == svc)
			return &b->k->drs[i];
	return NULL;
}

static int build_service(struct bld *b, struct kvs *vs, const struct khost *h)
{
	struct sl_config *cfg = b->cfg;
	struct sl_service_cfg *s;
	struct ksvc *svc;
	const struct kdr *dr;
	char why[256], where[PATH_MAX + 16];
	uint32_t w[SL_MAX_SUBSETS];
	size_t i, j, n_routes = 0;
	bool all = false, catch_all = false;
	int si, err;

	si = find_service(b->k, h->name, vs->m.ns, why, sizeof(why));
	if (si == -2) {
		/* Istio routes ServiceEntry and external hosts too; sluice only Services. */
		sl_diag_add(b->diag, &h->pos, "warning",
			    "host '%s' of VirtualService %s/%s is not a Kubernetes Service of "
			    "this cluster (a ServiceEntry or external host?); sluice leaves it "
			    "alone",
			    h->name, vs->m.ns, vs->m.name);
		return 0;
	}
	if (si < 0) {
		sl_diag_add(b->diag, &h->pos, "error",
			    "host '%s' of VirtualService %s/%s matches no Service: %s", h->name,
			    vs->m.ns, vs->m.name, why);
		return 0;
	}
	svc = &b->k->svcs[si];
	if (svc->routed_by == vs)
		return 0; /* hosts: [backend, backend.default.svc.cluster.local] */
	if (svc->routed_by) {
		snprintf(where, sizeof(where), "%s:%d", svc->routed_by->m.pos.file,
			 svc->routed_by->m.pos.line);
		sl_diag_add(b->diag, &h->pos, "error",
			    "Service %s/%s is already routed by VirtualService %s/%s (%s); sluice "
			    "takes one VirtualService per Service",
			    svc->m.ns, svc->m.name, svc->routed_by->m.ns, svc->routed_by->m.name,
			    where);
		return 0;
	}
	svc->routed_by = vs;
	if (!svc->n_vips) {
		sl_diag_add(
		    b->diag, &h->pos, "error",
		    "host '%s' is Service %s/%s, which has no cluster IP (%s); sluice needs "
		    "spec.clusterIP (as `kubectl get -o yaml` shows it)",
		    h->name, svc->m.ns, svc->m.name,
		    svc->headless ? "it is headless" : "none is written");
		return 0;
	}
	if (!svc->n_ports) {
		sl_diag_add(b->diag, &h->pos, "error",
			    "host '%s' is Service %s/%s, which has no TCP or UDP ports", h->name,
			    svc->m.ns, svc->m.name);
		return 0;
	}
	if (strlen(svc->m.name) + 1 + strlen(svc->m.ns) >= SL_NAME_LEN) {
		sl_diag_add(b->diag, &h->pos, "error",
			    "Service %s/%s: the name %s.%s is longer than sluice's limit of %d",
			    svc->m.ns, svc->m.name, svc->m.name, svc->m.ns, SL_NAME_LEN - 1);
		return 0;
	}
	dr = service_dr(b, svc);

	for (i = 0; i < vs->n_routes; i++) {
		const struct kroute *rt = &vs->routes[i];

		if (!rt->usable)
			continue;
		n_routes += rt->n_matches ? rt->n_matches : 1;
		for (j = 0; j < rt->n_dests; j++)
			all |= !rt->dests[j].subset;
	}

	s = realloc(cfg->services, (cfg->n_services + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
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
		return -ENOMEM;
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
		s->ports[s->n_ports].pos = svc->ports[i].pos;
		s->n_ports++;
	}
	if (s->n_ports != svc->n_ports)
		return 0;
	if (!n_routes) {
		/* Nothing to route with: not a model service at all. */
		sl_diag_add(
		    b->diag, &h->pos, "warning",
		    "VirtualService %s/%s has no route sluice can use for Service %s/%s "
		    "(tls, gateway-only or redirect routes only); sluice leaves the Service "
		    "alone",
		    vs->m.ns, vs->m.name, svc->m.ns, svc->m.name);
		free(s->vips);
		free(s->ports);
		free(s->routes);
		cfg->n_services--;
		b->added--;
		return 0;
	}
	err = build_subsets(b, svc, dr, all, s, &h->pos);
	if (err)
		return err;

	if (n_routes > SL_MAX_ROUTES) {
		sl_diag_add(b->diag, &vs->m.pos, "error",
			    "VirtualService %s/%s gives Service %s/%s %zu routes (each match block "
			    "counts as one); sluice allows %d",
			    vs->m.ns, vs->m.name, svc->m.ns, svc->m.name, n_routes, SL_MAX_ROUTES);
		return 0;
	}
	for (i = 0; i < vs->n_routes; i++) {
		const struct kroute *rt = &vs->routes[i];

		if (!rt->usable)
			continue;
		if (catch_all) {
			sl_diag_add(b->diag, &rt->pos, "warning",
				    "%s of VirtualService %s/%s comes after a route that matches "
				    "every connection, so it is never chosen",
				    rt->name, vs->m.ns, vs->m.name);
			continue;
		}
		if (!route_split(b, vs, rt, svc, dr, s, w))
			continue;
		for (j = 0; j < (rt->n_matches ? rt->n_matches : 1); j++) {
			const struct kmatch *m = rt->n_matches ? &rt->matches[j] : NULL;

			if (catch_all)
				break;
			if (m && m->port && !svc_has_port(svc, m->port))
				sl_diag_add(
				    b->diag, &m->port_pos, "warning",
				    "port %u in a match of %s is not a port of Service %s/%s, "
				    "so this match never matches",
				    m->port, rt->name, svc->m.ns, svc->m.name);
			err = add_model_route(s, rt, match_is_catch_all(m) ? NULL : m, w);
			if (err)
				return err;
			catch_all = match_is_catch_all(m);
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
	if (s->n_routes && !catch_all)
		sl_diag_add(b->diag, &s->routes[s->n_routes - 1].pos, "warning",
			    "the last route of VirtualService %s/%s for Service %s/%s has a match, "
			    "so connections that match no route pass to the VIP untouched",
			    vs->m.ns, vs->m.name, svc->m.ns, svc->m.name);
	return 0;
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

int sl_k8s_build(struct sl_k8s *k, struct sl_config *cfg, struct sl_diag *diag, size_t *n_services)
{
	struct bld b = {.k = k, .cfg = cfg, .diag = diag};
	char why[256];
	size_t i, j;
	int err = 0;

	*n_services = 0;
	if (k->oom)
		return -ENOMEM;
	b.dr_svc = calloc(k->n_drs ? k->n_drs : 1, sizeof(*b.dr_svc));
	if (!b.dr_svc)
		return -ENOMEM;
	/* A DestinationRule's host is resolved in its own namespace, like a VirtualService's. */
	for (i = 0; i < k->n_drs; i++) {
		const struct kdr *d = &k->drs[i];

		b.dr_svc[i] = find_service(k, d->host, d->m.ns, why, sizeof(why));
		if (b.dr_svc[i] < 0) {
			sl_diag_add(
			    diag, &d->host_pos, "warning",
			    "host '%s' of DestinationRule %s/%s matches no Service (%s); it "
			    "is not used",
			    d->host, d->m.ns, d->m.name, why);
			continue;
		}
		for (j = 0; j < i; j++)
			if (b.dr_svc[j] == b.dr_svc[i])
				break;
		if (j < i) {
			/*
			 * Istio looks a rule up in the client's namespace, then the
			 * Service's, then the root namespace (deploy guidelines,
			 * "Cross-namespace configuration"). sluice has no per-client
			 * rules: the Service's own namespace wins, the other is said.
			 */
			const char *sns = k->svcs[b.dr_svc[i]].m.ns;
			bool mine = !strcmp(d->m.ns, sns), theirs = !strcmp(k->drs[j].m.ns, sns);
			size_t lose = mine ? j : i, keep = mine ? i : j;

			if (mine != theirs) {
				sl_diag_add(
				    diag, &k->drs[lose].host_pos, "warning",
				    "DestinationRule %s/%s is for Service %s/%s, which has "
				    "its own DestinationRule %s/%s; sluice uses that one (Istio "
				    "would use this one for clients in namespace %s)",
				    k->drs[lose].m.ns, k->drs[lose].m.name, sns,
				    k->svcs[b.dr_svc[i]].m.name, k->drs[keep].m.ns,
				    k->drs[keep].m.name, k->drs[lose].m.ns);
				b.dr_svc[lose] = -1;
				continue;
			}
			sl_diag_add(
			    diag, &d->host_pos, "error",
			    "DestinationRule %s/%s is for Service %s/%s, like DestinationRule "
			    "%s/%s at %s:%d; sluice takes one DestinationRule per Service",
			    d->m.ns, d->m.name, k->svcs[b.dr_svc[i]].m.ns,
			    k->svcs[b.dr_svc[i]].m.name, k->drs[j].m.ns, k->drs[j].m.name,
			    k->drs[j].m.pos.file, k->drs[j].m.pos.line);
			b.dr_svc[i] = -1;
		}
	}
	for (i = 0; i < k->n_vss && !err; i++)
		for (j = 0; j < k->vss[i].n_hosts && !err; j++)
			err = build_service(&b, &k->vss[i], &k->vss[i].hosts[j]);
	if (!err)
		err = build_workloads(&b);
	free(b.dr_svc);
	*n_services = b.added;
	return err ? err : (k->oom ? -ENOMEM : 0);
}
