/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What `run --kubernetes` keeps of each object: the fields the Kubernetes
 * front end (config/k8s_*.c) reads, nothing else. A pod as the API server
 * sends it is 3 to 15 KB (managedFields, annotations, the containers' env
 * and probes, container statuses); sluice reads a few hundred bytes of it,
 * and a change elsewhere (a restart count, a resourceVersion) changes
 * nothing sluice does.
 */
#ifndef SLUICE_KUBE_STRIP_H
#define SLUICE_KUBE_STRIP_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * obj (of kind, e.g. "Pod", in api_version) reduced to what sluice reads,
 * with its apiVersion and kind (a list's items have none), as one line of
 * flow YAML (flow.h: JSON, but for the escapes): malloc'd, *len its length;
 * NULL without memory or for a kind sluice does not watch. A field of an
 * unexpected type is kept whole, for the reader to report.
 */
char *sl_kube_strip(json_object *obj, const char *api_version, const char *kind, size_t *len);

#endif /* SLUICE_KUBE_STRIP_H */
