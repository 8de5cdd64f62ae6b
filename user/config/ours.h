/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluice's own format (a mapping with 'services' and/or 'workloads') -> the
 * model. Private to user/config/: ours_read.c (a document, workloads, the
 * reporting helpers), ours_service.c (a service, its VIPs, ports, subsets
 * and endpoints; the checks across services), ours_route.c (routes: matches
 * and split). load.c owns the struct ctx of a load and calls sl_ours_add()
 * for each document of this format; these files call the model (model.h),
 * yaml_node.h and l7/l7_match.h only.
 */
#ifndef SLUICE_OURS_H
#define SLUICE_OURS_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "config/model.h"
#include "lib/hidx.h"

struct sl_k8s; /* k8s.h; only the loader uses it */

/* One load, from its first file to its last (load.c sets it up). */
struct ctx {
	yaml_document_t *doc; /* the document being walked */
	const char *file;     /* the file it is in (owned by cfg->files) */
	struct sl_diag *diag;
	struct sl_config *cfg;
	size_t services_cap, workloads_cap;
	size_t n_keys;		      /* (VIP, port) pairs so far, for SL_MAX_SERVICES */
	bool keys_reported;	      /* report the SL_MAX_SERVICES overflow once */
	struct sl_hidx names;	      /* services by name (rows of cfg->services) */
	struct sl_hidx keys;	      /* services by (VIP, port, protocol) */
	size_t n_docs;		      /* documents that were not empty */
	size_t own_docs;	      /* documents in sluice's own format */
	size_t services_seen;	      /* entries of every 'services' list */
	struct sl_pos first_own;      /* top of the first own-format document */
	struct sl_pos empty_services; /* the first 'services: []' (line 0: none) */
	struct sl_k8s *k8s;	      /* Kubernetes/Istio objects, built into services at the end */
	size_t k8s_objects;	      /* how many were read */
	size_t k8s_left_alone;	      /* VirtualServices left alone, with a warning */
	bool isolate;		      /* a bad object or file is left out (config.h) */
	bool whole_docs;	      /* SL_LOAD_WHOLE_DOCS */
	size_t streamed;	      /* services of this document read while it was parsed */
};

/* ours_read.c */

/* The keys of a document in this format. */
extern const char *const sl_ours_root_keys[];

/* Where n is in the current file (line 1, column 1 without a node). */
struct sl_pos sl_ours_node_pos(const struct ctx *c, const yaml_node_t *n);
__attribute__((format(printf, 3, 4))) void sl_ours_error_at(struct ctx *c, const yaml_node_t *n,
							    const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void sl_ours_warn_at(struct ctx *c, const yaml_node_t *n,
							   const char *fmt, ...);
/*
 * The strings up to NULL one after the other into buf, cut to fit as
 * snprintf() cuts; returns buf. For the labels every entry of a config
 * carries for its messages: 30,000 services need about a million, and
 * snprintf() made them a fifth of the load.
 */
__attribute__((sentinel)) const char *sl_ours_cat(char *buf, size_t size, ...);
/* True if n is of this type; an error naming `what` if not. */
bool sl_ours_want_type(struct ctx *c, const yaml_node_t *n, yaml_node_type_t type,
		       const char *what);
/* Keys of mapping n: strings, each once, and (with allowed) one of allowed. */
void sl_ours_check_keys(struct ctx *c, const yaml_node_t *n, const char *const *allowed,
			const char *where);
/* A non-empty mapping of string to string; 0 or -ENOMEM. */
int sl_ours_parse_labels(struct ctx *c, const yaml_node_t *n, const char *what,
			 struct sl_label **out, size_t *n_out);
/* A non-empty list of addresses or CIDRs; 0 or -ENOMEM. */
int sl_ours_parse_cidr_list(struct ctx *c, const yaml_node_t *n, const char *what,
			    struct sl_cidr **out, size_t *n_out);
/* A document in this format (root has 'services' or 'workloads'); 0 or -ENOMEM. */
int sl_ours_add(struct ctx *c, const yaml_node_t *root);

/* ours_service.c */

/* Service idx of a 'services' list, appended to c->cfg; 0 or -ENOMEM. */
int sl_ours_parse_service(struct ctx *c, const yaml_node_t *n, size_t idx);
/* A service built from Kubernetes objects, checked against every one before it. */
void sl_ours_check_added_service(struct ctx *c, size_t idx);

/* ours_rollout.c */

/*
 * The 'rollout' block n of service svc (after its subsets) into
 * svc->rollout, Flagger's `analysis` block included; *err = -ENOMEM.
 */
void sl_ours_parse_rollout(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
			   const char *label, int *err);
/*
 * The plan of rollout block n alone (no service, 'from' not defaulted,
 * subsets not checked), labelled label in messages; with target_ref, a
 * 'targetRef' key is the caller's (a Canary object, k8s_canary.c). NULL
 * after a type error or without memory (*err = -ENOMEM); else malloc'd.
 */
struct sl_rollout *sl_ours_rollout_spec(struct ctx *c, const yaml_node_t *n, const char *label,
					bool target_ref, int *err);

/* ours_route.c */

/* 'routes' (n, NULL when absent) of service svc into svc->routes; *err = -ENOMEM. */
void sl_ours_parse_routes(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *svc_node,
			  const yaml_node_t *n, const char *label, bool subsets_ok, int *err);

#endif /* SLUICE_OURS_H */
