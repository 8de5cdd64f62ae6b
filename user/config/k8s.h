/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kubernetes and Istio objects (Service, Pod, EndpointSlice, Endpoints,
 * DestinationRule, VirtualService) -> the sluice model (struct sl_config).
 *
 * Objects arrive one at a time, in any order, from any file: a
 * VirtualService may name a Service defined in a later file. So each
 * object is first read into a small private form (with the file position
 * of every field that a later message may name), and the model is built
 * once everything is read.
 *
 * The front end's public side, for the loader (load.c): k8s_read.c reads,
 * k8s_build.c builds; k8s_internal.h is what its files share.
 */
#ifndef SLUICE_K8S_H
#define SLUICE_K8S_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "config/model.h"

/*
 * The label every Pod's workload carries with the Pod's namespace, so that
 * Istio's sourceNamespace is a label match. '@' is not allowed in a
 * Kubernetes label key, so no real label can collide with it.
 */
#define SL_K8S_NAMESPACE_LABEL "@namespace"

/* Subset of a destination that names no subset: every ready endpoint. */
#define SL_K8S_ALL_SUBSET "_all"

struct sl_k8s;

/* True for the kinds sl_k8s_add() reads (and their typed lists: VirtualServiceList...). */
bool sl_k8s_kind(const char *api_version, const char *kind);

/*
 * With isolate, an object with errors is left out on its own (listed in
 * cfg->rejected by sl_k8s_build()), and of several VirtualServices for one
 * Service the oldest wins; without, every error fails the load.
 */
struct sl_k8s *sl_k8s_new(bool isolate);
void sl_k8s_free(struct sl_k8s *k);

/*
 * Read one object (a mapping node of doc, whose kind sl_k8s_kind() accepts
 * and is not a list) from file (a name owned by the config, kept in
 * positions). Problems go to diag. 0, or -ENOMEM.
 */
int sl_k8s_add(struct sl_k8s *k, yaml_document_t *doc, yaml_node_t *obj, const char *file,
	       struct sl_diag *diag);

/* How many objects were read: to forget a file's objects again. */
struct sl_k8s_mark {
	size_t n_svcs, n_pods, n_slices, n_drs, n_vss, n_rej, n_left_alone, n_canaries;
};
void sl_k8s_mark(const struct sl_k8s *k, struct sl_k8s_mark *m);
void sl_k8s_forget(struct sl_k8s *k, const struct sl_k8s_mark *m);

/* The loader's checks of service idx of cfg against the ones before it; errors go to diag. */
typedef void (*sl_k8s_check_fn)(void *arg, size_t idx);

/*
 * Append to cfg one service per Kubernetes Service that a VirtualService
 * routes, and one workload per Pod with an address; check (if not NULL) is
 * called for each service appended, its errors counted as the
 * VirtualService's. *n_services is the number of services appended. 0, or
 * -ENOMEM; errors go to diag (the caller fails the load when diag has new
 * errors); objects rejected (isolated) are appended to cfg->rejected.
 */
int sl_k8s_build(struct sl_k8s *k, struct sl_config *cfg, struct sl_diag *diag,
		 sl_k8s_check_fn check, void *check_arg, size_t *n_services);

/*
 * How many VirtualServices were left alone, whole or in part, with a
 * warning saying why (gateways only, external hosts, no cluster IP...),
 * and not rejected: after those, "no service" would be noise.
 */
size_t sl_k8s_left_alone(const struct sl_k8s *k);

#endif /* SLUICE_K8S_H */
