/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Kubernetes/Istio front end's private state, shared by its files only:
 * k8s_read.c (the arena, the reader's helpers, sl_k8s_add()), k8s_rules.c
 * (Istio's shared validation rules), k8s_hosts.c (host names), k8s_service.c
 * (Service, Pod, EndpointSlice, Endpoints), k8s_destrule.c
 * (DestinationRule), k8s_virtualservice.c (VirtualService), k8s_build.c,
 * k8s_split.c and k8s_endpoints.c (sl_k8s_build()). Each object is read into the private
 * form below, every string and array of it in the arena of struct sl_k8s.
 * These files call the model (model.h), yaml_node.h and l7/l7_match.h only.
 */
#ifndef SLUICE_K8S_INTERNAL_H
#define SLUICE_K8S_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "config/k8s.h"

/* Said of a field sluice reads but does not act on. */
#define NOT_DONE "sluice does not do it"

/* Istio's default domain suffix (istiod --domain): NAME.NAMESPACE.svc.cluster.local. */
#define SL_K8S_CLUSTER_DOMAIN "cluster.local"

struct kmeta {
	char *name;
	char *ns;
	char *created;		/* metadata.creationTimestamp (RFC 3339, UTC), "" when absent */
	struct sl_pos pos;	/* the object */
	struct sl_pos name_pos; /* metadata.name */
};

struct kport {
	char *name;	    /* "" when unnamed */
	char *app_protocol; /* spec.ports[].appProtocol, or NULL */
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
	bool named; /* some VirtualService names it exactly (no wildcard takes it) */
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
	bool bad;    /* had errors of its own */
	bool tcp;    /* a tcp route (else http) */
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
	/*
	 * spec.exportTo: every namespace (absent, empty or "*"), else the
	 * namespaces listed ("." is its own; none when it only says "~").
	 */
	bool export_all;
	char **export_ns;
	size_t n_export;
	struct sl_pos export_pos;
	/* metadata.annotations["sluice.io/per-request"] is "true" (docs/l7.md) */
	bool per_request;
};

#define SL_K8S_PER_REQUEST_ANNOTATION "sluice.io/per-request"

/* A Canary (k8s_canary.c): a rollout plan for the Service targetRef names, in its namespace. */
struct kcanary {
	struct kmeta m;
	char *target;
	struct sl_rollout *plan; /* service, and from when not given, filled when built */
	bool from_given;
	struct sl_pos pos, target_pos, to_pos, from_pos;
};

/*
 * The objects of one kind read so far, by namespace and name: at 10,000
 * pods, looking for a duplicate among all the others is what a load would
 * spend its time on.
 */
struct kindex {
	uint32_t *slot; /* index + 1 in the kind's array; 0: free */
	size_t cap;	/* a power of two, at least twice n */
	size_t n;	/* the objects indexed: the first n of the array */
};

enum { KIX_SVC, KIX_POD, KIX_DR, KIX_VS, KIX_CANARY, N_KIX };

/* An object an isolated load left out, until sl_k8s_build() hands it to the config. */
struct krej {
	char *kind, *ns, *name, *reason;
	struct sl_pos pos;
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
	struct kcanary *canaries;
	size_t n_canaries;
	bool isolate;	     /* an object with errors is left out, not the load failed */
	size_t n_left_alone; /* VirtualServices left alone (a warning), not rejected */
	struct krej *rej;
	size_t n_rej;
	struct kindex ix[N_KIX]; /* by kind, for sl_k8s_seen_before() */
	/* Everything the objects point to, in blocks freed together (k8s_read.c). */
	struct kblock *mem;
	bool oom;
};

/* Reading one object: where it is and what it is, for messages. */
struct rd {
	struct sl_k8s *k;
	yaml_document_t *doc;
	const char *file;
	struct sl_diag *diag;
	char what[192];	    /* "VirtualService default/reviews", for messages */
	bool gateways_only; /* the VirtualService read applies to gateways, not the mesh */
	bool left_alone;    /* ...and is left out with a warning (gateways only, delegate) */
};

/* Building the model from every object read. */
struct bld {
	struct sl_k8s *k;
	struct sl_config *cfg;
	struct sl_diag *diag;
	size_t added;
	int *dr_svc; /* index in k->svcs of each DestinationRule's Service, or -1 */
	sl_k8s_check_fn check;
	void *check_arg;
	/* Services a VirtualService routes that have no cluster IP: said once, at the end */
	size_t n_no_vip;
	struct sl_pos no_vip_pos;
	char no_vip_names[256];
	bool left_alone; /* the VirtualService being built left something alone (a warning) */
};

/* k8s_read.c: the arena; NULL (and k->oom) without memory */

void *sl_k8s_alloc(struct sl_k8s *k, size_t n, size_t size);
char *sl_k8s_strdup(struct sl_k8s *k, const char *s);
/* Room for one more object in *arr (zeroed); NULL without memory. */
void *sl_k8s_grow(struct sl_k8s *k, void **arr, size_t *n, size_t size);

/* k8s_read.c: reading fields; errors and warnings name r->what */

struct sl_pos sl_k8s_pos_of(const struct rd *r, const yaml_node_t *n);
__attribute__((format(printf, 3, 4))) void sl_k8s_err_at(struct rd *r, const yaml_node_t *n,
							 const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void sl_k8s_warn_at(struct rd *r, const yaml_node_t *n,
							  const char *fmt, ...);
/* No node, or a null one ("~", "null", nothing). */
bool sl_k8s_null(const yaml_node_t *n);
/* Value of key in mapping n; NULL if absent, null, or n is not a mapping. */
yaml_node_t *sl_k8s_get(const struct rd *r, const yaml_node_t *n, const char *key);
bool sl_k8s_want(struct rd *r, const yaml_node_t *n, yaml_node_type_t type, const char *what);
bool sl_k8s_get_port(struct rd *r, const yaml_node_t *n, const char *what, uint16_t *out);
/* TCP (also when absent), UDP; 0 for SCTP and anything else. */
uint8_t sl_k8s_get_proto(const struct rd *r, const yaml_node_t *map);
bool sl_k8s_get_bool(const yaml_node_t *n);
/* A string (a copy in the arena), or NULL after an error. */
char *sl_k8s_get_str(struct rd *r, const yaml_node_t *n, const char *what);
int sl_k8s_get_labels(struct rd *r, const yaml_node_t *n, const char *what, struct sl_label **out,
		      size_t *n_out);
bool sl_k8s_parse_addr(struct rd *r, const yaml_node_t *n, const char *what, struct sl_addr *a);
bool sl_k8s_parse_cidr(struct rd *r, const yaml_node_t *n, const char *what, struct sl_cidr *c);
/* A field sluice reads but does not act on: said once, where it is. */
void sl_k8s_ignored(struct rd *r, const yaml_node_t *key, const char *where, const char *why);
/*
 * An isolated load leaves out the object whose errors were reported since
 * mark: they no longer fail the load, and it is listed as rejected. 0 or
 * -ENOMEM.
 */
int sl_k8s_reject(struct sl_k8s *k, struct sl_diag *diag, const struct sl_diag_mark *mark,
		  const char *kind, const struct kmeta *m);

/* k8s_read.c: metadata and duplicates */

/* m from obj's metadata, and r->what; -EINVAL (reported) or -ENOMEM. */
int sl_k8s_parse_meta(struct rd *r, const yaml_node_t *obj, const char *kind, struct kmeta *m);
/* Same kind, namespace and name as first: reported as a duplicate. */
bool sl_k8s_duplicate(struct rd *r, const struct kmeta *m, const struct kmeta *first,
		      const char *kind);
/*
 * Is m already among the n objects of kind at base (each size bytes, its
 * struct kmeta first), found through ix? Reported as a duplicate if so.
 */
bool sl_k8s_seen_before(struct rd *r, const struct kmeta *m, const char *kind, struct kindex *ix,
			const void *base, size_t n, size_t size);

/* Reading one object of each kind into r->k: 0, or -ENOMEM. */

/* k8s_service.c */
int sl_k8s_add_service(struct rd *r, const yaml_node_t *obj);
/*
 * Istio's protocol selection for a Service port (kube.ConvertProtocol):
 * enum sl_port_app; why (len bytes) says how it was decided.
 */
uint8_t sl_k8s_port_app(const struct kport *p, char *why, size_t len);
/* Is the port declared HTTP/2 or gRPC (enum sl_port_mux), by name prefix or appProtocol? */
uint8_t sl_k8s_port_mux(const struct kport *p);
int sl_k8s_add_pod(struct rd *r, const yaml_node_t *obj);
int sl_k8s_add_endpoint_slice(struct rd *r, const yaml_node_t *obj);
int sl_k8s_add_endpoints(struct rd *r, const yaml_node_t *obj);
/* k8s_destrule.c */
int sl_k8s_add_destination_rule(struct rd *r, const yaml_node_t *obj);
/* k8s_virtualservice.c */
int sl_k8s_add_virtual_service(struct rd *r, const yaml_node_t *obj);

/* k8s_canary.c */
int sl_k8s_add_canary(struct rd *r, const yaml_node_t *obj);
/* Each Canary's plan onto the model service of its Service (after the VirtualServices). */
int sl_k8s_build_canaries(struct bld *b);

/* k8s_hosts.c: hosts as Istio reads them */

enum kh_form {
	KH_SERVICE,  /* NAME, NAME.NAMESPACE.svc, NAME.NAMESPACE.svc.cluster.local */
	KH_NAME_NS,  /* NAME.NAMESPACE: a Service if there is one, else external */
	KH_WILDCARD, /* "*", "*.example.com", "*.shop.svc.cluster.local"... */
	KH_IP,
	KH_EXTERNAL, /* any other name: a ServiceEntry, an external host */
};

struct khost_ref {
	enum kh_form form;
	bool full;     /* NAME.NAMESPACE.svc.cluster.local */
	char name[64]; /* KH_SERVICE, KH_NAME_NS */
	char ns[64];
	char fqdn[256]; /* as Istio resolves it (ResolveShortnameToFQDN) */
};

/* What host means, seen from a rule in namespace ns. Always 0. */
int sl_k8s_host_resolve(const char *host, const char *ns, struct khost_ref *ref);
/* Index in k->svcs of Service ns/name, or -1. */
int sl_k8s_service_index(const struct sl_k8s *k, const char *name, const char *ns);
/*
 * The Service host names, seen from namespace ns: its index in k->svcs;
 * -1 when host is a Service name of this cluster that no Service has; -2
 * when it is no Service name at all (an external host, an IP, a
 * wildcard, a NAME.NAMESPACE without such a Service). why says which.
 */
int sl_k8s_find_service(const struct sl_k8s *k, const char *host, const char *ns, char *why,
			size_t len);
/* Does the wildcard wild (as resolved) cover Service svc's full name? */
bool sl_k8s_wildcard_covers(const char *wild, const struct ksvc *svc);
/* Istio's host.Name.Matches: equal, or a wildcard covers the other. */
bool sl_k8s_hosts_overlap(const char *a, const char *b);
/* Istio's ValidateWildcardDomain: NULL if host is valid, else why not (in buf). */
const char *sl_k8s_check_domain(const char *host, char *buf, size_t len);
/* An IPv4 or IPv6 address (Istio accepts those as hosts too). */
bool sl_k8s_is_ip(const char *s);
/* Istio's labels.IsDNS1123Label. */
bool sl_k8s_dns_label(const char *s);

/* k8s_rules.c: Istio's shared validation rules; problems reported on r */

/* Istio's labels.Instance.Validate of a label map (sourceLabels, a subset's labels). */
void sl_k8s_check_labels(struct rd *r, const yaml_node_t *map, const char *what);
/* Istio's validateGatewayNames of a gateways list. */
void sl_k8s_check_gateways(struct rd *r, const yaml_node_t *list, const char *what);
/* Does a gateways list (absent or empty: the mesh) include "mesh"? */
bool sl_k8s_gateways_mesh(struct rd *r, const yaml_node_t *list);
/* Istio's validateExportTo, for a rule of namespace ns. */
void sl_k8s_check_export_to(struct rd *r, const yaml_node_t *list, const char *ns);

/* What an HTTP header name in a match is, by Istio's rules. */
enum {
	SL_K8S_HDR_OK,	   /* a token (RFC 9110) */
	SL_K8S_HDR_PSEUDO, /* :method, :scheme, :authority, :path, :status */
	SL_K8S_HDR_JWT,	   /* @request.auth.claims.NAME: gateways only */
	SL_K8S_HDR_BAD,
};
int sl_k8s_header_name(const char *name);

/*
 * The keys of map: those in used[] are read, those in unsupported[]
 * (NULL: none) are Istio's but not acted on (a warning each, saying why;
 * NULL: NOT_DONE), any other is not in Istio's schema (an error).
 */
void sl_k8s_check_keys(struct rd *r, const yaml_node_t *map, const char *const used[],
		       const char *const unsupported[], const char *where, const char *why);

/* k8s_split.c: a route's split at a Service's VIP, over the subsets of a plan */

/* One subset of a model service: Service svc's ready endpoints, those of subset ds only. */
struct ksrc {
	const struct ksvc *svc;	 /* the host's own Service, or another one (host-level canary) */
	const struct kdrsub *ds; /* NULL: every ready endpoint */
	char name[SL_SUBSET_NAME_LEN];
	struct sl_pos pos;
};

/* The subsets of one model service, in index order. */
struct ksplit {
	struct ksrc src[SL_MAX_SUBSETS];
	size_t n;
	bool too_many;		      /* the routes name more than SL_MAX_SUBSETS */
	bool other;		      /* some subset is another Service's */
	const struct kdest *external; /* a destination that is no Service of this cluster */
};

/* The DestinationRule in force for svc, or NULL. */
const struct kdr *sl_k8s_service_dr(const struct bld *b, const struct ksvc *svc);
bool sl_k8s_svc_has_port(const struct ksvc *svc, uint16_t port);
/* "80/TCP, 53/UDP" */
void sl_k8s_list_ports(const struct ksvc *svc, char *buf, size_t len);
/* The subsets vs's usable routes need at apex's VIP (errors are left to sl_k8s_route_split()). */
int sl_k8s_plan_split(struct bld *b, const struct kvs *vs, const struct ksvc *apex,
		      struct ksplit *p);
/* rt's weights by subset index of p; false after an error (reported). */
bool sl_k8s_route_split(struct bld *b, const struct kvs *vs, const struct kroute *rt,
			const struct ksplit *p, uint32_t w[SL_MAX_SUBSETS]);

/* k8s_endpoints.c: the subsets of p into s, with their ready endpoints; 0 or -ENOMEM. */
int sl_k8s_build_subsets(struct bld *b, const struct ksvc *apex, const struct ksplit *p,
			 struct sl_service_cfg *s, const struct sl_pos *at);

#endif /* SLUICE_K8S_INTERNAL_H */
