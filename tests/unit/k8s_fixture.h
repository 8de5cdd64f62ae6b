/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Kubernetes/Istio unit tests' fixture (test_k8s.c, test_istio.c): a
 * Service with its pods, a DestinationRule and the head of a
 * VirtualService, and helpers to look into the model they become. Include
 * after diag_check.h.
 */
#ifndef SLUICE_TESTS_K8S_FIXTURE_H
#define SLUICE_TESTS_K8S_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/k8s.h"

/*
 * The fixture, by line: 1-7 Service shop/reviews (named targetPort http),
 * 8 ---, 9-16 a List of pods, 17 ---, 18-26 DestinationRule, 27 ---,
 * 28-33 the VirtualService up to 'http:' (hosts: line 32); routes start at
 * line 34.
 */
#define SVC                                                                                        \
	"apiVersion: v1\n"                                                                         \
	"kind: Service\n"                                                                          \
	"metadata: {name: reviews, namespace: shop}\n"                                             \
	"spec:\n"                                                                                  \
	"  clusterIPs: [10.96.0.20, \"fd00::20\"]\n"                                               \
	"  selector: {app: reviews}\n"                                                             \
	"  ports: [{name: http, port: 9080, targetPort: http}]\n"
#define POD(name, labels, ip, port, ready)                                                         \
	"- {apiVersion: v1, kind: Pod, metadata: {name: " name ", namespace: shop, labels: "       \
	"{" labels "}}, spec: {containers: [{ports: [{name: http, containerPort: " port            \
	"}]}]}, status: {podIP: " ip ", conditions: [{type: Ready, status: \"" ready "\"}]}}\n"
#define PODS                                                                                       \
	"---\n"                                                                                    \
	"apiVersion: v1\n"                                                                         \
	"kind: List\n"                                                                             \
	"items:\n" POD("r1", "app: reviews, version: v1", "10.0.1.1", "8080", "True")              \
	    POD("r2", "app: reviews, version: v1", "10.0.1.2", "8081", "True")                     \
		POD("r3", "app: reviews, version: v2", "10.0.2.1", "8080", "True")                 \
		    POD("r4", "app: reviews, version: v2", "10.0.2.2", "8080", "False")            \
			POD("f1", "app: frontend", "10.0.9.1", "80", "True")
#define DR                                                                                         \
	"---\n"                                                                                    \
	"apiVersion: networking.istio.io/v1beta1\n"                                                \
	"kind: DestinationRule\n"                                                                  \
	"metadata: {name: reviews, namespace: shop}\n"                                             \
	"spec:\n"                                                                                  \
	"  host: reviews.shop.svc.cluster.local\n"                                                 \
	"  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}\n"                 \
	"  subsets:\n"                                                                             \
	"  - {name: v1, labels: {version: v1}}\n"                                                  \
	"  - {name: v2, labels: {version: v2}}\n"
#define VS_NS(ns, host)                                                                            \
	"---\n"                                                                                    \
	"apiVersion: networking.istio.io/v1alpha3\n"                                               \
	"kind: VirtualService\n"                                                                   \
	"metadata: {name: reviews, namespace: " ns "}\n"                                           \
	"spec:\n"                                                                                  \
	"  hosts: [" host "]\n"                                                                    \
	"  http:\n"
#define VS   VS_NS("shop", "reviews")
#define BASE SVC PODS DR VS
/* A 75/25 split, lines 34-38 when first. */
#define SPLIT                                                                                      \
	"  - route:\n"                                                                             \
	"    - destination: {host: reviews, subset: v1}\n"                                         \
	"      weight: 75\n"                                                                       \
	"    - destination: {host: reviews, subset: v2}\n"                                         \
	"      weight: 25\n"

static inline const char *ep_str(const struct sl_endpoint_cfg *ep, char *buf, size_t len)
{
	char a[64];

	sl_addr_str(&ep->a, a, sizeof(a));
	if (ep->port)
		snprintf(buf, len, "%s:%u", a, ep->port);
	else
		snprintf(buf, len, "%s", a);
	return buf;
}

/* "10.0.1.1:8080 10.0.1.2:8081" */
static inline const char *eps(const struct sl_subset_cfg *sub)
{
	static char out[512];
	char buf[80];
	size_t i, off = 0;

	out[0] = '\0';
	for (i = 0; i < sub->n_eps; i++)
		off += snprintf(out + off, sizeof(out) - off, "%s%s", i ? " " : "",
				ep_str(&sub->eps[i], buf, sizeof(buf)));
	return out;
}

static inline const struct sl_service_cfg *svc_named(const struct sl_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_services; i++)
		if (!strcmp(cfg->services[i].name, name))
			return &cfg->services[i];
	fail_msg("no service %s", name);
	return NULL;
}

static inline const char *label_of(const struct sl_label *l, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(l[i].key, key))
			return l[i].value;
	return NULL;
}

/* As `run --kubernetes` loads: isolated, nothing routed is valid. */
static inline int load_iso(const char *yaml, struct sl_config **cfg, struct sl_diag *d)
{
	struct sl_config_buf b = {.name = DIAG_FILE, .data = yaml, .len = strlen(yaml)};
	int err;

	sl_diag_init(d);
	err = sl_config_load_sources(NULL, 0, &b, 1, SL_LOAD_ALLOW_EMPTY | SL_LOAD_ISOLATE, cfg, d,
				     NULL);
	if (err)
		dump_diag(d);
	assert_int_equal(err, 0);
	assert_int_equal(d->n_errors, 0);
	return err;
}

static inline void assert_rejected(const struct sl_config *cfg, size_t i, const char *kind,
				   const char *ns, const char *name)
{
	assert_true(i < cfg->n_rejected);
	assert_string_equal(cfg->rejected[i].kind, kind);
	assert_string_equal(cfg->rejected[i].ns, ns);
	assert_string_equal(cfg->rejected[i].name, name);
}

#endif /* SLUICE_TESTS_K8S_FIXTURE_H */
