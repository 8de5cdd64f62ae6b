/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The configuration model: what a sluice configuration says, validated, with
 * the file position of every element so later errors can still name it; and
 * the small helpers on it (diagnostics, addresses and CIDRs, labels, free,
 * digests).
 *
 * user/config/ turns YAML into this model. Who may call whom:
 *   model.h, model.c     the model and its helpers; call nothing else here
 *   digest.c             FNV-1a, and the digest of a model; same
 *   yaml_node.h          libyaml accessors both front ends use
 *   ours.h, ours_*.c     front end for sluice's own format (services,
 *                        workloads): read_ (documents, workloads), service,
 *                        route
 *   k8s.h, k8s_*.c       front end for Kubernetes and Istio objects: read_
 *                        (arena, reader helpers, dispatch), rules (Istio's
 *                        shared validation rules), hosts (host names as Istio
 *                        reads them), service (Service, Pod, EndpointSlice,
 *                        Endpoints), destrule, virtualservice, then build,
 *                        split (subsets and weights, host-level canaries) and
 *                        endpoints (into the model); k8s_internal.h is
 *                        private to these files
 *   config.h, load.c     the public loader: files, directories, YAML streams
 *                        and documents, dispatch by kind, digest
 * The loader calls both front ends; a front end calls the model,
 * yaml_node.h and l7/l7_match.h only, never the loader nor the other front
 * end.
 */
#ifndef SLUICE_MODEL_H
#define SLUICE_MODEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice_abi.h"

/* Long enough for any address, CIDR or endpoint we accept. */
#define SL_ADDR_TEXT_MAX 64

/* Where an element came from: 1-based line and column, as editors count. */
struct sl_pos {
	const char *file; /* owned by struct sl_config (files[]) */
	int line;
	int col;
};

struct sl_addr {
	uint8_t family;	  /* SL_AF_INET or SL_AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
};

struct sl_cidr {
	struct sl_addr a; /* host bits cleared */
	uint8_t plen;	  /* 0..32 or 0..128 */
	struct sl_pos pos;
};

struct sl_label {
	char *key;
	char *value;
};

struct sl_endpoint_cfg {
	struct sl_addr a;
	uint16_t port; /* host order; 0 = the service port's targetPort */
	struct sl_pos pos;
};

struct sl_subset_cfg {
	char name[SL_SUBSET_NAME_LEN];
	struct sl_endpoint_cfg *eps;
	size_t n_eps;
	struct sl_pos pos;
};

struct sl_route_cfg {
	bool has_cidrs; /* match.sourceCIDRs present */
	struct sl_cidr *cidrs;
	size_t n_cidrs;
	bool has_labels; /* match.sourceLabels present */
	struct sl_label *labels;
	size_t n_labels;
	/* split, by subset index in the service (0 = not in the split) */
	uint32_t weight[SL_MAX_SUBSETS];
	/*
	 * Matches on the service side (from Istio input): the route exists
	 * only for connections to this port, or to VIPs inside these subnets.
	 */
	uint16_t match_port; /* host order; 0: any port */
	bool has_dst_cidrs;
	struct sl_cidr *dst_cidrs;
	size_t n_dst_cidrs;
	/*
	 * The route matches on the HTTP request (headers, uri...), which the
	 * kernel cannot see: the L7 step evaluates l7_spec (l7_match.h). A
	 * route that also matches on something sluice cannot evaluate
	 * (queryParams, scheme) has l7_spec NULL and never matches.
	 */
	bool needs_l7;
	char *l7_spec;
	uint8_t kind; /* enum sl_route_kind: the ports it applies to */
	char *name;   /* optional, for messages and status */
	struct sl_pos pos;
};

/*
 * What a port carries, as Istio decides it (its name's prefix or its
 * appProtocol): which kinds of route apply to it.
 */
enum sl_port_app {
	SL_APP_ANY = 0, /* not said (Istio sniffs it), or sluice's own format: every route */
	SL_APP_HTTP,	/* http, http2, grpc, grpc-web...: http routes only */
	SL_APP_TCP,	/* tcp, tls, https, mongo, mysql, redis...: tcp routes only */
	SL_APP_NONE,	/* UDP: Istio's proxies do not carry it, no route applies */
};

/* Which ports a route is for: Istio's http and tcp routes differ. */
enum sl_route_kind {
	SL_ROUTE_ANY = 0, /* sluice's own format */
	SL_ROUTE_HTTP,
	SL_ROUTE_TCP,
};

struct sl_port_cfg {
	uint16_t port;	      /* host order */
	uint16_t target_port; /* host order; defaults to port */
	uint8_t proto;	      /* IPPROTO_TCP or IPPROTO_UDP; default TCP */
	uint8_t app;	      /* enum sl_port_app */
	uint8_t mux;	      /* enum sl_port_mux */
	struct sl_pos pos;
};

/*
 * A port declared to carry multiplexed HTTP (Istio: name prefix http2,
 * grpc, grpc-web, or such an appProtocol; ours: protocol HTTP2 or GRPC):
 * a split per connection is no split there, so it goes through the L7 step.
 */
enum sl_port_mux {
	SL_MUX_NONE = 0,
	SL_MUX_HTTP2,
	SL_MUX_GRPC,
};

/* Which way a service's port takes, and why (sl_port_path()). */
enum sl_path {
	SL_PATH_KERNEL = 0,  /* per connection, in sl_ingress */
	SL_PATH_HTTP_ROUTES, /* L7 per request: it has routes that match on HTTP */
	SL_PATH_HTTP2,	     /* L7 per request: declared HTTP/2 */
	SL_PATH_GRPC,	     /* L7 per request: declared gRPC */
	SL_PATH_PER_REQUEST, /* L7 per request: the weighted split, opted in */
};

enum sl_affinity {
	SL_AFFINITY_CONNECTION = 0,
	SL_AFFINITY_CLIENT_IP = 1,
};

struct sl_service_cfg {
	char name[SL_NAME_LEN];
	struct sl_addr *vips;
	size_t n_vips;
	struct sl_port_cfg *ports;
	size_t n_ports;
	enum sl_affinity affinity;
	struct sl_subset_cfg *subsets; /* in file order; index = subset index */
	size_t n_subsets;
	struct sl_route_cfg *routes; /* in file order; first match wins */
	size_t n_routes;
	/*
	 * Split every HTTP/1.x request by the weights, not every connection
	 * (ours: perRequest: true; a VirtualService's sluice.io/per-request
	 * annotation): its TCP ports go through the L7 step.
	 */
	bool per_request;
	struct sl_pos pos;
	/*
	 * The `rollout:` block (ours_rollout.c), NULL without one: read by the
	 * rollout controller of `run`, never written to the tables.
	 */
	struct sl_rollout *rollout;
};

struct sl_workload_cfg {
	struct sl_label *labels;
	size_t n_labels;
	struct sl_cidr *cidrs; /* "ips": addresses become /32 or /128 */
	size_t n_cidrs;
	struct sl_pos pos;
};

/*
 * An object left out of an isolated load (config.h, SL_LOAD_ISOLATE) because
 * of its own errors: a Kubernetes object, or a whole file ("File", ns "").
 */
struct sl_rejected {
	char *kind; /* "VirtualService", ..., "File" */
	char *ns;   /* "" when it has none */
	char *name; /* the object's name, or the file's path */
	struct sl_pos pos;
	char *reason; /* its first error, without the position */
};

struct sl_config {
	struct sl_service_cfg *services;
	size_t n_services;
	struct sl_workload_cfg *workloads;
	size_t n_workloads;
	char **files; /* every file read, for sl_pos.file */
	size_t n_files;
	struct sl_rejected *rejected; /* isolated loads only, in the order found */
	size_t n_rejected, cap_rejected;
};

/*
 * Diagnostics. An error makes the load fail; warnings do not (e.g. a subset
 * in a split that has no endpoints). Each message is one line of the form
 * "FILE:LINE:COL: error: what is wrong" (or "warning:").
 */
struct sl_diag {
	char **msgs;
	size_t n_msgs;
	size_t n_errors;
	size_t n_warnings;
};

void sl_config_free(struct sl_config *cfg);
/* Free services [from, cfg->n_services) and forget them. */
void sl_config_drop_services(struct sl_config *cfg, size_t from);
/* Free workloads [from, cfg->n_workloads) and forget them. */
void sl_config_drop_workloads(struct sl_config *cfg, size_t from);
/* Append a rejected object (strings copied; reason may be NULL): 0 or -ENOMEM. */
int sl_config_reject(struct sl_config *cfg, const char *kind, const char *ns, const char *name,
		     const struct sl_pos *pos, const char *reason);

/*
 * The way port p of s takes at VIP vip (enum sl_path): the L7 step for
 * HTTP routes that apply there (sl_route_applies_at()), a multiplexed
 * protocol, or the per-request opt-in; else the kernel. UDP ports always
 * the kernel. The table writer flags each (VIP, port) key by this.
 */
int sl_port_path_at(const struct sl_service_cfg *s, const struct sl_addr *vip,
		    const struct sl_port_cfg *p);
/*
 * sl_port_path_at() at s's first VIP: the same at every VIP unless a route
 * matches on destination subnets.
 */
int sl_port_path(const struct sl_service_cfg *s, const struct sl_port_cfg *p);
/* "kernel (per connection)", "L7 (per request: http routes)", ... */
const char *sl_path_name(int path);

/* Does route r apply to connections to port p (Istio's protocol selection)? */
bool sl_route_applies(const struct sl_route_cfg *r, const struct sl_port_cfg *p);
/*
 * Does route r apply to connections to vip (NULL: none; a route on
 * destination subnets then does not) and port p: its port and destination
 * matches, and sl_route_applies().
 */
bool sl_route_applies_at(const struct sl_route_cfg *r, const struct sl_addr *vip,
			 const struct sl_port_cfg *p);

/* Index of the subset called name in svc, or -1. */
int sl_config_subset_index(const struct sl_service_cfg *svc, const char *name);

/* True if every label of want is carried (same key, same value) by have. */
bool sl_labels_match(const struct sl_label *want, size_t n_want, const struct sl_label *have,
		     size_t n_have);

/* Where a diag stood, to tell what was added since. */
struct sl_diag_mark {
	size_t n_msgs;
	size_t n_errors;
	size_t n_warnings;
};

void sl_diag_init(struct sl_diag *diag);
struct sl_diag_mark sl_diag_mark(const struct sl_diag *diag);
/* Errors added since mark. */
size_t sl_diag_errors_since(const struct sl_diag *diag, const struct sl_diag_mark *mark);
/*
 * The errors added since mark no longer fail the load (an isolated load
 * rejected what they are about): their messages stay, still saying
 * "error", counted as warnings. Returns the text of the first of them
 * after "error: " (owned by diag), or NULL.
 */
const char *sl_diag_forgive(struct sl_diag *diag, const struct sl_diag_mark *mark);
/* Forget everything added since mark, as if it had never been said. */
void sl_diag_drop(struct sl_diag *diag, const struct sl_diag_mark *mark);
void sl_diag_free(struct sl_diag *diag);
/* Append a formatted message; kind is "error" or "warning". */
void sl_diag_add(struct sl_diag *diag, const struct sl_pos *pos, const char *kind, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
/* The same with a va_list, for the front ends' own reporting helpers. */
void sl_diag_vadd(struct sl_diag *diag, const struct sl_pos *pos, const char *kind, const char *fmt,
		  va_list ap);

/* Text form of an address ("10.0.0.1", "fd00::1"); buf of INET6_ADDRSTRLEN. */
const char *sl_addr_str(const struct sl_addr *a, char *buf, size_t len);
/* Parse "10.0.0.1" or "fd00::1"; 0 or -EINVAL. */
int sl_addr_parse(const char *s, struct sl_addr *a);
bool sl_addr_eq(const struct sl_addr *x, const struct sl_addr *y);
/* Clear the bits after the first plen. */
void sl_addr_mask(struct sl_addr *a, unsigned int plen);
/*
 * "ADDR" or "ADDR/LEN" into out->a and out->plen (host bits as written,
 * out->pos untouched): 0, -EINVAL when it is neither, -ERANGE when LEN is
 * too long for the family.
 */
int sl_cidr_parse(const char *s, struct sl_cidr *out);
/* The longest prefix of a's family: 32 or 128. */
unsigned int sl_addr_max_plen(const struct sl_addr *a);

/*
 * fit.c. Every source prefix the routes of service s match on: each route's
 * sourceCIDRs (cidr_bit: 1 << route), then the addresses of the workloads its
 * sourceLabels select (label_bit), repeats included. Stops at the first
 * non-zero return of fn and returns it.
 */
int sl_config_for_each_src(const struct sl_config *cfg, const struct sl_service_cfg *s,
			   int (*fn)(void *arg, const struct sl_cidr *c, uint32_t cidr_bit,
				     uint32_t label_bit),
			   void *arg);
/*
 * Does cfg fit the datapath's tables (sluice_abi.h): endpoints, subsets
 * (counter rows), source prefixes and HTTP matches, of all services
 * together? An error naming the limit for each that does not; 0 or -ENOMEM.
 */
int sl_config_check_fit(const struct sl_config *cfg, struct sl_diag *diag);

/* Room for `more` entries after the n already in *arr (zeroed), growing by doubling. */
int sl_reserve(void **arr, size_t *cap, size_t n, size_t more, size_t size);

/* digest.c: FNV-1a of buf, continued from h (SL_FNV1A_INIT to start). */
#define SL_FNV1A_INIT 0xcbf29ce484222325ULL
uint64_t sl_fnv1a(uint64_t h, const void *buf, size_t len);
/*
 * digest.c: a digest of what the datapath is written from (services and
 * workloads, not positions, file names or objects left out): equal for two
 * configs that would write the same tables.
 */
uint64_t sl_config_model_digest(const struct sl_config *cfg);

#endif /* SLUICE_MODEL_H */
