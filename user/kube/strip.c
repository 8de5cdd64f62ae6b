// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fields sluice reads of each kind it watches (strip.h). The tables
 * below follow the readers: k8s_read.c (metadata), k8s_service.c (Service,
 * Pod, EndpointSlice), k8s_destrule.c and k8s_virtualservice.c. A field
 * added there must be added here, or a cluster never shows it to sluice
 * (tests/unit/test_k8s.c loads full and stripped objects and compares).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kube/flow.h"
#include "kube/strip.h"

struct keep {
	const char *key;
	/* The keys kept of the value (of each element of an array); NULL: all of it. */
	const struct keep *sub;
	/* Of an array, the elements kept; NULL: every one. */
	bool (*want)(json_object *elem);
};

#define END                                                                                        \
	{                                                                                          \
		NULL, NULL, NULL                                                                   \
	}

static bool ready_condition(json_object *c)
{
	json_object *t;

	/* pod_ready() reads the Ready condition only */
	return !json_object_is_type(c, json_type_object) ||
	       !json_object_object_get_ex(c, "type", &t) ||
	       !json_object_is_type(t, json_type_string) ||
	       !strcmp(json_object_get_string(t), "Ready");
}

/* Istio's kinds are read whole: a field that is not in Istio's schema is an error there. */
static const struct keep istio_meta[] = {{"name"}, {"namespace"}, {"creationTimestamp"}, END};
static const struct keep istio[] = {{"metadata", istio_meta}, {"spec"}, END};
/* a VirtualService's opt-in to per-request splits (k8s_virtualservice.c) */
static const struct keep vs_annotations[] = {{"sluice.io/per-request"}, END};
static const struct keep vs_meta[] = {
    {"name"}, {"namespace"}, {"creationTimestamp"}, {"annotations", vs_annotations}, END};
static const struct keep virtual_service[] = {{"metadata", vs_meta}, {"spec"}, END};

static const struct keep svc_meta[] = {{"name"}, {"namespace"}, END};
static const struct keep svc_port[] = {
    {"name"}, {"port"}, {"protocol"}, {"targetPort"}, {"appProtocol"}, END};
static const struct keep svc_spec[] = {
    {"clusterIP"}, {"clusterIPs"}, {"ports", svc_port}, {"selector"}, END};
static const struct keep service[] = {{"metadata", svc_meta}, {"spec", svc_spec}, END};

static const struct keep pod_meta[] = {
    {"name"}, {"namespace"}, {"labels"}, {"deletionTimestamp"}, END};
static const struct keep container_port[] = {{"name"}, {"containerPort"}, {"protocol"}, END};
static const struct keep container[] = {{"ports", container_port}, END};
static const struct keep pod_spec[] = {{"containers", container}, END};
static const struct keep pod_ip[] = {{"ip"}, END};
static const struct keep condition[] = {{"type"}, {"status"}, END};
static const struct keep pod_status[] = {
    {"phase"}, {"podIP"}, {"podIPs", pod_ip}, {"conditions", condition, ready_condition}, END};
static const struct keep pod[] = {
    {"metadata", pod_meta}, {"spec", pod_spec}, {"status", pod_status}, END};

static const struct keep slice_labels[] = {{"kubernetes.io/service-name"}, END};
static const struct keep slice_meta[] = {{"name"}, {"namespace"}, {"labels", slice_labels}, END};
static const struct keep ep_conditions[] = {{"ready"}, END};
static const struct keep target_ref[] = {{"kind"}, {"name"}, END};
static const struct keep endpoint[] = {
    {"addresses"}, {"conditions", ep_conditions}, {"targetRef", target_ref}, END};
static const struct keep slice_port[] = {{"name"}, {"port"}, {"protocol"}, END};
static const struct keep slice[] = {
    {"metadata", slice_meta}, {"endpoints", endpoint}, {"ports", slice_port}, END};

static const struct {
	const char *kind;
	const struct keep *keep;
} kinds[] = {
    {"Service", service},	{"EndpointSlice", slice},  {"Pod", pod},
    {"DestinationRule", istio}, {"VirtualService", virtual_service}, {"Canary", istio},
};

/* v reduced to the keys of k (each element, of an array); NULL without memory. */
static json_object *reduce(json_object *v, const struct keep *k, bool (*want)(json_object *),
			   bool *oom)
{
	json_object *out, *x;
	size_t i, n;

	if (!k && !want)
		return json_object_get(v);
	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		out = json_object_new_array_ext((int)n);
		for (i = 0; out && i < n; i++) {
			x = json_object_array_get_idx(v, i);
			if (!want || want(x))
				if (json_object_array_add(out, reduce(x, k, NULL, oom)))
					*oom = true;
		}
	} else if (!k || !json_object_is_type(v, json_type_object)) {
		return json_object_get(v);
	} else {
		out = json_object_new_object();
		for (; out && k->key; k++)
			if (json_object_object_get_ex(v, k->key, &x) &&
			    json_object_object_add(out, k->key, reduce(x, k->sub, k->want, oom)))
				*oom = true;
	}
	if (!out)
		*oom = true;
	return out;
}

char *sl_kube_strip(json_object *obj, const char *api_version, const char *kind, size_t *len)
{
	json_object *out, *top = NULL;
	const struct keep *keep = NULL;
	bool oom = false;
	char *copy = NULL;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].kind, kind))
			keep = kinds[i].keep;
	if (!keep)
		return NULL;
	out = json_object_new_object();
	if (!out)
		return NULL;
	/* first, as in any manifest; a list's items carry neither */
	if (json_object_object_add(out, "apiVersion", json_object_new_string(api_version)) ||
	    json_object_object_add(out, "kind", json_object_new_string(kind)))
		oom = true;
	if (json_object_is_type(obj, json_type_object))
		top = reduce(obj, keep, NULL, &oom);
	if (top) {
		json_object_object_foreach(top, key, val)
		{
			if (json_object_object_add(out, key, json_object_get(val)))
				oom = true;
		}
	}
	json_object_put(top);
	if (!oom)
		copy = sl_kube_flow_text(out, len);
	json_object_put(out);
	return copy;
}
