// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Kubernetes/Istio input: the model a typical setup becomes (weights by
 * subset index, endpoints of ready pods only, named target ports, host
 * forms, matches, header routes), then one test per class of error, each
 * pinning the "FILE:LINE:COL: error: ..." line an operator would see.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/k8s.h"

#define DIAG_FILE "k.yaml"
#include "diag_check.h"
#include "k8s_fixture.h"

/* The positive mapping */

static void test_mapping(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;
	char a[64];

	cfg = load_ok(BASE SPLIT, &d);
	assert_int_equal(d.n_warnings, 0);
	assert_int_equal(cfg->n_services, 1);
	s = svc_named(cfg, "reviews.shop");
	assert_string_equal(s->pos.file, "k.yaml");
	assert_int_equal(s->pos.line, 32);
	assert_int_equal(s->n_vips, 2);
	assert_string_equal(sl_addr_str(&s->vips[0], a, sizeof(a)), "10.96.0.20");
	assert_string_equal(sl_addr_str(&s->vips[1], a, sizeof(a)), "fd00::20");
	assert_int_equal(s->n_ports, 1);
	assert_int_equal(s->ports[0].port, 9080);
	assert_int_equal(s->ports[0].proto, IPPROTO_TCP);
	/* useSourceIp */
	assert_int_equal(s->affinity, SL_AFFINITY_CLIENT_IP);
	/* The DestinationRule's subsets, in its order; only ready pods; the named port per pod. */
	assert_int_equal(s->n_subsets, 2);
	assert_string_equal(s->subsets[0].name, "v1");
	assert_string_equal(s->subsets[1].name, "v2");
	assert_string_equal(eps(&s->subsets[0]), "10.0.1.1:8080 10.0.1.2:8081");
	assert_string_equal(eps(&s->subsets[1]), "10.0.2.1:8080");
	/* Weights by subset index. */
	assert_int_equal(s->n_routes, 1);
	assert_int_equal(s->routes[0].weight[0], 75);
	assert_int_equal(s->routes[0].weight[1], 25);
	assert_false(s->routes[0].has_labels || s->routes[0].needs_l7 || s->routes[0].match_port);
	assert_string_equal(s->routes[0].name, "http[0]");
	assert_int_equal(s->routes[0].pos.line, 34);
	/* Every pod is a workload, with its namespace as a label no Kubernetes label can be. */
	assert_int_equal(cfg->n_workloads, 5);
	assert_string_equal(label_of(cfg->workloads[4].labels, cfg->workloads[4].n_labels, "app"),
			    "frontend");
	assert_string_equal(
	    label_of(cfg->workloads[4].labels, cfg->workloads[4].n_labels, SL_K8S_NAMESPACE_LABEL),
	    "shop");
	assert_int_equal(cfg->workloads[4].cidrs[0].plen, 32);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* One port number on every pod: the model's targetPort, endpoints without a port. */
static void test_uniform_target_port(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(SVC "---\napiVersion: v1\nkind: List\nitems:\n" POD(
			  "r1", "app: reviews, version: v1", "10.0.1.1", "8080", "True")
			  POD("r3", "app: reviews, version: v2", "10.0.2.1", "8080", "True") DR VS
		      "  - route:\n    - destination: {host: reviews, subset: v2}\n",
		      &d);
	s = svc_named(cfg, "reviews.shop");
	assert_int_equal(s->ports[0].target_port, 8080);
	assert_string_equal(eps(&s->subsets[0]), "10.0.1.1");
	assert_string_equal(eps(&s->subsets[1]), "10.0.2.1");
	/* A lone destination without a weight gets everything. */
	assert_int_equal(s->routes[0].weight[0], 0);
	assert_true(s->routes[0].weight[1] > 0);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_host_forms(void **state)
{
	static const struct {
		const char *vs_ns, *host;
	} ok[] = {
	    {"shop", "reviews"},
	    {"shop", "reviews.shop"},
	    {"shop", "reviews.shop.svc"},
	    {"shop", "reviews.shop.svc.cluster.local"},
	    {"web", "reviews.shop.svc.cluster.local"},
	};
	struct sl_config *cfg;
	struct sl_diag d;
	char yaml[4096];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(yaml, sizeof(yaml),
			 SVC PODS DR
			 "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
			 "metadata: {name: r, namespace: %s}\nspec:\n  hosts: [%s]\n"
			 "  http:\n  - route:\n    - destination: {host: %s, subset: v1}\n",
			 ok[i].vs_ns, ok[i].host, ok[i].host);
		cfg = load_ok(yaml, &d);
		assert_string_equal(cfg->services[0].name, "reviews.shop");
		sl_config_free(cfg);
		sl_diag_free(&d);
	}
	/*
	 * A short name is completed with the VirtualService's namespace, not the
	 * Service's; no such Service: a host of Istio's own, left alone.
	 */
	cfg = load_ok(SVC PODS DR VS_NS("web", "reviews") SPLIT, &d);
	assert_int_equal(cfg->n_services, 0);
	assert_true(has_msg(&d, "k.yaml:32:11: warning: host 'reviews' of VirtualService "
				"web/reviews is not a Kubernetes Service of this cluster (there is "
				"no Service reviews in namespace web); sluice leaves it alone"));
	sl_config_free(cfg);
	sl_diag_free(&d);
	/* Another namespace's Service only by its full name: no hijacking by NAME.NAMESPACE. */
	assert_error(SVC PODS DR VS_NS("web", "reviews.shop") SPLIT,
		     "k.yaml:32:11: error: host 'reviews.shop' of VirtualService web/reviews is "
		     "Service shop/reviews of another namespace; a VirtualService routes another "
		     "namespace's Service only by its full name, reviews.shop.svc.cluster.local");
}

static void test_matches(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(BASE "  - match:\n"
			   "    - sourceLabels: {app: frontend}\n"
			   "    - sourceNamespace: web\n"
			   "      port: 9080\n"
			   "    route:\n"
			   "    - destination: {host: reviews, subset: v2}\n" SPLIT,
		      &d);
	s = svc_named(cfg, "reviews.shop");
	/* Two match blocks: two routes with the same split (OR), then the default. */
	assert_int_equal(s->n_routes, 3);
	assert_true(s->routes[0].has_labels);
	assert_int_equal(s->routes[0].n_labels, 1);
	assert_string_equal(label_of(s->routes[0].labels, 1, "app"), "frontend");
	assert_int_equal(s->routes[0].match_port, 0);
	assert_true(s->routes[1].has_labels);
	assert_string_equal(
	    label_of(s->routes[1].labels, s->routes[1].n_labels, SL_K8S_NAMESPACE_LABEL), "web");
	assert_int_equal(s->routes[1].match_port, 9080);
	assert_int_equal(s->routes[0].weight[1], s->routes[1].weight[1]);
	assert_int_equal(s->routes[0].weight[0], 0);
	assert_false(s->routes[2].has_labels);
	assert_int_equal(s->routes[2].weight[0], 75);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* tcp: destinationSubnets and sourceSubnet. */
	cfg =
	    load_ok(SVC PODS DR "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
				"metadata: {name: r, namespace: shop}\nspec:\n  hosts: [reviews]\n"
				"  tcp:\n  - match:\n    - destinationSubnets: [10.96.0.0/16]\n"
				"      sourceSubnet: 10.0.9.0/24\n"
				"    route:\n    - destination: {host: reviews, subset: v2}\n",
		    &d);
	s = svc_named(cfg, "reviews.shop");
	assert_int_equal(s->n_routes, 1);
	assert_true(s->routes[0].has_dst_cidrs);
	assert_int_equal(s->routes[0].n_dst_cidrs, 1);
	assert_int_equal(s->routes[0].dst_cidrs[0].plen, 16);
	assert_true(s->routes[0].has_cidrs);
	assert_int_equal(s->routes[0].cidrs[0].plen, 24);
	/* No catch-all: the existing warning says unmatched traffic passes. */
	assert_true(has_msg(&d, "k.yaml:34:5: warning: the last route of VirtualService shop/r for "
				"Service shop/reviews has a match, so connections that match no "
				"route pass to the VIP untouched"));
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_header_route(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(BASE "  - name: testers\n"
			   "    match:\n"
			   "    - headers: {x-tester: {exact: \"yes\"}}\n"
			   "      uri: {prefix: /api}\n"
			   "    route:\n"
			   "    - destination: {host: reviews, subset: v2}\n" SPLIT,
		      &d);
	s = svc_named(cfg, "reviews.shop");
	assert_int_equal(s->n_routes, 2);
	assert_true(s->routes[0].needs_l7);
	assert_string_equal(s->routes[0].name, "testers");
	/* evaluated by the L7 step: uri, then headers, in Istio's field order */
	assert_string_equal(s->routes[0].l7_spec, "uri prefix /api\nheader x-tester exact yes\n");
	assert_false(s->routes[1].needs_l7);
	assert_int_equal(d.n_warnings, 0);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* withoutHeaders, presence ({}), method, ignoreUriCase */
	cfg = load_ok(BASE "  - match:\n"
			   "    - withoutHeaders: {x-debug: {}}\n"
			   "      method: {regex: \"GET|HEAD\"}\n"
			   "      uri: {exact: /Login}\n"
			   "      ignoreUriCase: true\n"
			   "    route:\n"
			   "    - destination: {host: reviews, subset: v2}\n" SPLIT,
		      &d);
	s = svc_named(cfg, "reviews.shop");
	assert_string_equal(s->routes[0].l7_spec, "uri exact /Login\nmethod regex GET|HEAD\n"
						  "without x-debug present\nignore_uri_case\n");
	assert_int_equal(d.n_warnings, 0);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* queryParams cannot be evaluated: warned, and the route never matches */
	cfg = load_ok(BASE "  - name: q\n"
			   "    match:\n"
			   "    - queryParams: {debug: {exact: \"1\"}}\n"
			   "      headers: {x-tester: {exact: \"yes\"}}\n"
			   "    route:\n"
			   "    - destination: {host: reviews, subset: v2}\n" SPLIT,
		      &d);
	s = svc_named(cfg, "reviews.shop");
	assert_true(s->routes[0].needs_l7);
	assert_null(s->routes[0].l7_spec);
	assert_int_equal(d.n_warnings, 1);
	assert_true(has_msg(&d, "k.yaml:36:7: warning: http route 'q' of VirtualService "
				"shop/reviews matches on queryParams, which sluice does not "
				"evaluate: this match is kept but never matched"));
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* A regex that does not compile is an error at the regex. */
	assert_error(BASE "  - match:\n    - headers: {canary: {regex: \"a(b\"}}\n"
			  "    route:\n    - destination: {host: reviews}\n",
		     "k.yaml:35:33: error: headers.canary.regex in VirtualService shop/reviews is "
		     "not an RE2 regex: missing ) at offset 3");

	/* The shape is still checked. */
	assert_error(BASE "  - match:\n    - uri: {startsWith: /api}\n"
			  "    route:\n    - destination: {host: reviews}\n",
		     "k.yaml:35:13: error: 'startsWith' in uri of VirtualService shop/reviews is "
		     "not a match type; expected exact, prefix or regex");
}

static void test_ignored_fields(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	cfg =
	    load_ok(SVC PODS "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
			     "metadata: {name: reviews, namespace: shop}\nspec:\n  host: reviews\n"
			     "  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 7}}\n" VS
			     "  - timeout: 10s\n    retries: {attempts: 3}\n"
			     "    route:\n    - destination: {host: reviews}\n",
		    &d);
	assert_true(has_msg(&d, "k.yaml:23:19: warning: 'outlierDetection' in trafficPolicy of "
				"DestinationRule shop/reviews is ignored: sluice does not do it"));
	assert_true(has_msg(&d, "k.yaml:31:5: warning: 'timeout' in http[0] of VirtualService "
				"shop/reviews is ignored: sluice does not do it"));
	assert_true(has_msg(&d, "k.yaml:32:5: warning: 'retries' in http[0] of VirtualService "
				"shop/reviews is ignored: sluice does not do it"));
	/* No subset named: the whole Service, ready pods only. */
	assert_string_equal(cfg->services[0].subsets[0].name, SL_K8S_ALL_SUBSET);
	assert_string_equal(eps(&cfg->services[0].subsets[0]),
			    "10.0.1.1:8080 10.0.1.2:8081 10.0.2.1:8080");
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* EndpointSlice readiness wins over the pods', and its ports are the pods' ports. */
static void test_endpoint_slice(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(BASE SPLIT
		      "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		      "metadata: {name: reviews-abc, namespace: shop, labels: "
		      "{kubernetes.io/service-name: reviews}}\naddressType: IPv4\n"
		      "ports: [{name: http, port: 7070, protocol: TCP}]\nendpoints:\n"
		      "- {addresses: [10.0.1.1], conditions: {ready: true}, targetRef: {kind: Pod, "
		      "name: r1}}\n"
		      "- {addresses: [10.0.1.2], conditions: {ready: false}}\n"
		      "- {addresses: [10.0.2.1]}\n",
		      &d);
	s = svc_named(cfg, "reviews.shop");
	assert_int_equal(s->ports[0].target_port, 7070);
	assert_string_equal(eps(&s->subsets[0]), "10.0.1.1");
	assert_string_equal(eps(&s->subsets[1]), "10.0.2.1");
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* v1 Endpoints: notReadyAddresses are not endpoints. */
	cfg = load_ok(BASE SPLIT "---\napiVersion: v1\nkind: Endpoints\n"
				 "metadata: {name: reviews, namespace: shop}\nsubsets:\n"
				 "- addresses: [{ip: 10.0.1.2}, {ip: 10.0.2.1}]\n"
				 "  notReadyAddresses: [{ip: 10.0.1.1}]\n"
				 "  ports: [{name: http, port: 8081}]\n",
		      &d);
	s = svc_named(cfg, "reviews.shop");
	assert_string_equal(eps(&s->subsets[0]), "10.0.1.2");
	assert_string_equal(eps(&s->subsets[1]), "10.0.2.1");
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* `kubectl get ... -o yaml`: a List, typed lists inside, next to our own format. */
static void test_kubectl_list(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(
	    "apiVersion: v1\nkind: List\nitems:\n"
	    "- apiVersion: v1\n  kind: Service\n"
	    "  metadata: {name: reviews, namespace: shop}\n"
	    "  spec: {clusterIP: 10.96.0.20, selector: {app: reviews}, ports: [{port: 80}]}\n"
	    "- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: reviews}\n"
	    "- apiVersion: networking.istio.io/v1beta1\n  kind: VirtualService\n"
	    "  metadata: {name: reviews, namespace: shop}\n"
	    "  spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}\n"
	    "---\napiVersion: networking.istio.io/v1\nkind: DestinationRuleList\nitems: []\n"
	    "---\nservices:\n- name: own\n  vips: [10.96.0.30]\n  ports: [{port: 80}]\n"
	    "  subsets: {v1: {endpoints: [10.0.1.1]}}\n",
	    &d);
	assert_int_equal(cfg->n_services, 2);
	assert_string_equal(cfg->services[0].name, "own");
	assert_string_equal(cfg->services[1].name, "reviews.shop");
	/* No pods: no endpoints, said once. */
	assert_int_equal(cfg->services[1].subsets[0].n_eps, 0);
	assert_int_equal(d.n_warnings, 1);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/*
 * Istio's own examples, unchanged: samples/bookinfo/networking/ in
 * github.com/istio/istio (Apache-2.0), the files the "Request routing" and
 * "Traffic shifting" tasks apply. The Service and pods around them are ours.
 */
#define BOOKINFO_REVIEWS                                                                           \
	"apiVersion: v1\nkind: Service\nmetadata: {name: reviews}\n"                               \
	"spec: {clusterIP: 10.96.0.40, selector: {app: reviews}, ports: [{name: http, port: "      \
	"9080}]}\n"                                                                                \
	"---\napiVersion: v1\nkind: List\nitems:\n"                                                \
	"- {apiVersion: v1, kind: Pod, metadata: {name: r1, labels: {app: reviews, version: "      \
	"v1}}, "                                                                                   \
	"status: {podIP: 10.0.1.1}}\n"                                                             \
	"- {apiVersion: v1, kind: Pod, metadata: {name: r2, labels: {app: reviews, version: "      \
	"v2}}, "                                                                                   \
	"status: {podIP: 10.0.2.1}}\n"                                                             \
	"- {apiVersion: v1, kind: Pod, metadata: {name: r3, labels: {app: reviews, version: "      \
	"v3}}, "                                                                                   \
	"status: {podIP: 10.0.3.1}}\n"                                                             \
	"---\n"
/* destination-rule-reviews.yaml; lines 13-31 after BOOKINFO_REVIEWS. */
#define ISTIO_DR_REVIEWS                                                                           \
	"apiVersion: networking.istio.io/v1\n"                                                     \
	"kind: DestinationRule\n"                                                                  \
	"metadata:\n"                                                                              \
	"  name: reviews\n"                                                                        \
	"spec:\n"                                                                                  \
	"  host: reviews\n"                                                                        \
	"  trafficPolicy:\n"                                                                       \
	"    loadBalancer:\n"                                                                      \
	"      simple: RANDOM\n"                                                                   \
	"  subsets:\n"                                                                             \
	"  - name: v1\n"                                                                           \
	"    labels:\n"                                                                            \
	"      version: v1\n"                                                                      \
	"  - name: v2\n"                                                                           \
	"    labels:\n"                                                                            \
	"      version: v2\n"                                                                      \
	"  - name: v3\n"                                                                           \
	"    labels:\n"                                                                            \
	"      version: v3\n"                                                                      \
	"---\n"
/* virtual-service-reviews-80-20.yaml */
#define ISTIO_VS_80_20                                                                             \
	"apiVersion: networking.istio.io/v1alpha3\n"                                               \
	"kind: VirtualService\n"                                                                   \
	"metadata:\n"                                                                              \
	"  name: reviews\n"                                                                        \
	"spec:\n"                                                                                  \
	"  hosts:\n"                                                                               \
	"    - reviews\n"                                                                          \
	"  http:\n"                                                                                \
	"  - route:\n"                                                                             \
	"    - destination:\n"                                                                     \
	"        host: reviews\n"                                                                  \
	"        subset: v1\n"                                                                     \
	"      weight: 80\n"                                                                       \
	"    - destination:\n"                                                                     \
	"        host: reviews\n"                                                                  \
	"        subset: v2\n"                                                                     \
	"      weight: 20\n"
/* virtual-service-reviews-jason-v2-v3.yaml */
#define ISTIO_VS_JASON                                                                             \
	"apiVersion: networking.istio.io/v1alpha3\n"                                               \
	"kind: VirtualService\n"                                                                   \
	"metadata:\n"                                                                              \
	"  name: reviews\n"                                                                        \
	"spec:\n"                                                                                  \
	"  hosts:\n"                                                                               \
	"  - reviews\n"                                                                            \
	"  http:\n"                                                                                \
	"  - match:\n"                                                                             \
	"    - headers:\n"                                                                         \
	"        end-user:\n"                                                                      \
	"          exact: jason\n"                                                                 \
	"    route:\n"                                                                             \
	"    - destination:\n"                                                                     \
	"        host: reviews\n"                                                                  \
	"        subset: v2\n"                                                                     \
	"  - route:\n"                                                                             \
	"    - destination:\n"                                                                     \
	"        host: reviews\n"                                                                  \
	"        subset: v3\n"

/* They load, and give the routes Istio's tasks describe. */
static void test_istio_docs_examples(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;

	/* Traffic shifting: 80% to v1, 20% to v2, nothing to v3. */
	cfg = load_ok(BOOKINFO_REVIEWS ISTIO_DR_REVIEWS ISTIO_VS_80_20, &d);
	s = svc_named(cfg, "reviews.default");
	assert_int_equal(s->n_subsets, 3);
	assert_string_equal(eps(&s->subsets[2]), "10.0.3.1");
	assert_int_equal(s->n_routes, 1);
	assert_int_equal(s->routes[0].weight[0], 80);
	assert_int_equal(s->routes[0].weight[1], 20);
	assert_int_equal(s->routes[0].weight[2], 0);
	/* The load balancer is ours: said once, at its line. */
	assert_true(has_msg(&d,
			    "k.yaml:21:7: warning: 'simple' in trafficPolicy.loadBalancer of "
			    "DestinationRule default/reviews is ignored: sluice picks an endpoint "
			    "by a hash of the connection"));
	assert_int_equal(d.n_warnings, 1);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* Request routing: jason (a header) to v2, by the L7 step; everyone else to v3. */
	cfg = load_ok(BOOKINFO_REVIEWS ISTIO_DR_REVIEWS ISTIO_VS_JASON, &d);
	s = svc_named(cfg, "reviews.default");
	assert_int_equal(s->n_routes, 2);
	assert_true(s->routes[0].needs_l7);
	assert_int_equal(s->routes[0].weight[1], 100);
	assert_false(s->routes[1].needs_l7 || s->routes[1].has_labels);
	assert_int_equal(s->routes[1].weight[0], 0);
	assert_int_equal(s->routes[1].weight[2], 100);
	assert_string_equal(s->routes[0].l7_spec, "header end-user exact jason\n");
	assert_null(s->routes[1].l7_spec);
	/* only the DestinationRule's loadBalancer: the header route is enforced */
	assert_int_equal(d.n_warnings, 1);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* Errors: one test per class */

static void test_error_unknown_subset(void **state)
{
	assert_error(BASE "  - route:\n    - destination: {host: reviews, subset: v3}\n",
		     "k.yaml:35:44: error: subset 'v3' of host 'reviews' is not defined: "
		     "DestinationRule shop/reviews (k.yaml:18) has subsets v1, v2");
	assert_error(SVC PODS VS "  - route:\n    - destination: {host: reviews, subset: v1}\n",
		     "k.yaml:25:44: error: subset 'v1' of host 'reviews' is not defined: no "
		     "DestinationRule for Service shop/reviews defines subsets");
}

static void test_error_host_no_service(void **state)
{
	struct sl_diag d0;

	/* A VirtualService's host that no Service has: Istio's webhook takes it, so does sluice. */
	{
		struct sl_config *cfg = load_ok(SVC PODS DR VS_NS("shop", "ratings") SPLIT, &d0);

		assert_int_equal(cfg->n_services, 0);
		assert_true(has_msg(&d0, "k.yaml:32:11: warning: host 'ratings' of VirtualService "
					 "shop/reviews is not a Kubernetes Service of this cluster "
					 "(there is no Service ratings in namespace shop); sluice "
					 "leaves it alone"));
		sl_config_free(cfg);
		sl_diag_free(&d0);
	}
	/* A destination must be a Service: sluice has to know where the traffic goes. */
	assert_error(BASE "  - route:\n    - destination: {host: details.shop.svc.cluster.local}\n",
		     "k.yaml:35:27: error: destination host 'details.shop.svc.cluster.local' of "
		     "http[0] of VirtualService shop/reviews matches no Service: there is no "
		     "Service details in namespace shop");
	/* A host outside the cluster (ServiceEntry, egress): Istio routes it, sluice leaves it. */
	{
		struct sl_config *cfg;
		struct sl_diag d;

		cfg = load_ok(BASE SPLIT
			      "---\napiVersion: networking.istio.io/v1\n"
			      "kind: VirtualService\nmetadata: {name: ext, namespace: shop}\n"
			      "spec: {hosts: [www.example.com], http: [{route: [{destination: "
			      "{host: www.example.com}}]}]}\n",
			      &d);
		assert_int_equal(cfg->n_services, 1);
		assert_true(has_msg(&d,
				    "k.yaml:43:16: warning: host 'www.example.com' of "
				    "VirtualService shop/ext is not a Kubernetes Service of this "
				    "cluster (a ServiceEntry or external host?); sluice leaves it "
				    "alone"));
		sl_config_free(cfg);
		sl_diag_free(&d);
	}
}

/* Review of issue 3: what real `kubectl get -o yaml` output holds. */
static void test_real_world(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;
	size_t i;

	/* A typo in a match block is an error, never a catch-all. */
	assert_error(BASE "  - match: [{sourcelabels: {app: frontend}}]\n"
			  "    route: [{destination: {host: reviews, subset: v2}}]\n" SPLIT,
		     "k.yaml:34:14: error: 'sourcelabels' in a match block of VirtualService "
		     "shop/reviews is not an Istio field (a typo?)");
	/* destinationSubnets is a tcp match only. */
	assert_error(BASE "  - match: [{destinationSubnets: [10.96.0.0/16]}]\n"
			  "    route: [{destination: {host: reviews, subset: v2}}]\n" SPLIT,
		     "k.yaml:34:14: error: 'destinationSubnets' in a match block of VirtualService "
		     "shop/reviews is not an Istio field (a typo?)");
	/* The same Service under two names in one VirtualService. */
	cfg =
	    load_ok(SVC PODS DR VS_NS("shop", "reviews, reviews.shop.svc.cluster.local") SPLIT, &d);
	assert_int_equal(cfg->n_services, 1);
	sl_config_free(cfg);
	sl_diag_free(&d);
	/* A finished Job's pod kept its address, now reused: it is no workload. */
	cfg = load_ok(BASE SPLIT "---\napiVersion: v1\nkind: Pod\n"
				 "metadata: {name: job, namespace: shop, labels: {app: job}}\n"
				 "status: {phase: Succeeded, podIP: 10.0.9.1}\n",
		      &d);
	for (i = 0; i < cfg->n_workloads; i++) {
		const char *app =
		    label_of(cfg->workloads[i].labels, cfg->workloads[i].n_labels, "app");

		assert_true(!app || strcmp(app, "job"));
	}
	s = svc_named(cfg, "reviews.shop");
	assert_int_equal(s->n_subsets, 2);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_error_negative_weight(void **state)
{
	assert_error(BASE "  - route:\n    - destination: {host: reviews, subset: v1}\n"
			  "      weight: 110\n    - destination: {host: reviews, subset: v2}\n"
			  "      weight: -10\n",
		     "k.yaml:38:15: error: weight -10 of a destination of http[0] of "
		     "VirtualService shop/reviews is negative; weights are 0 or more");
}

static void test_error_zero_weights(void **state)
{
	assert_error(BASE "  - route:\n    - destination: {host: reviews, subset: v1}\n"
			  "      weight: 0\n    - destination: {host: reviews, subset: v2}\n",
		     "k.yaml:35:5: error: all weights of http[0] of VirtualService shop/reviews "
		     "are 0 (or missing); at least one destination must get traffic");
}

static void test_error_port(void **state)
{
	assert_error(BASE "  - route:\n    - destination: {host: reviews, subset: v1, port: "
			  "{number: 8080}}\n",
		     "k.yaml:35:63: error: destination port 8080 of http[0] is not a port of "
		     "Service shop/reviews; its ports are: 9080/TCP");
}

static void test_error_duplicate(void **state)
{
	assert_error(SVC PODS DR VS SPLIT "---\n" SVC,
		     "k.yaml:42:18: error: duplicate Service shop/reviews; it is already defined "
		     "at line 1");
	assert_error(SVC PODS DR VS SPLIT DR,
		     "k.yaml:42:18: error: duplicate DestinationRule shop/reviews; it is already "
		     "defined at line 18");
	assert_error(SVC PODS DR VS SPLIT VS_NS("shop", "reviews.shop") SPLIT,
		     "k.yaml:42:18: error: duplicate VirtualService shop/reviews; it is already "
		     "defined at line 28");
	/* The same Service routed by two VirtualServices. */
	assert_error(
	    SVC PODS DR VS SPLIT
	    "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
	    "metadata: {name: other, namespace: shop}\n"
	    "spec: {hosts: [reviews.shop], tcp: [{route: [{destination: {host: reviews}}]}]}\n",
	    "k.yaml:43:16: error: Service shop/reviews is already routed by VirtualService "
	    "shop/reviews (k.yaml:28); sluice takes one VirtualService per Service");
	/* A model name taken by our own format. */
	assert_error(BASE SPLIT
		     "---\nservices:\n- name: reviews.shop\n  vips: [10.96.0.20]\n"
		     "  ports: [{port: 9080}]\n  subsets: {v1: {endpoints: [10.0.1.1]}}\n",
		     "k.yaml:32:11: error: duplicate service name 'reviews.shop'; it is already "
		     "defined at k.yaml:41");
}

static void test_error_yaml_syntax(void **state)
{
	assert_error(BASE "  - route: [\n",
		     "k.yaml:35:1: error: invalid YAML: did not find expected node content (while "
		     "parsing a flow node that starts at line 35, column 1)");
}

#define VS_AT(name, ns, created, host)                                                             \
	"---\n"                                                                                    \
	"apiVersion: networking.istio.io/v1\n"                                                     \
	"kind: VirtualService\n"                                                                   \
	"metadata: {name: " name ", namespace: " ns ", creationTimestamp: \"" created "\"}\n"      \
	"spec:\n"                                                                                  \
	"  hosts: [" host "]\n"                                                                    \
	"  http:\n"
#define ROUTE_TO(subset)                                                                           \
	"  - route:\n"                                                                             \
	"    - destination: {host: reviews.shop.svc.cluster.local, subset: " subset "}\n"

/* The rest of a route after its match. */
#define MATCHED_TO(subset)                                                                         \
	"    route:\n"                                                                             \
	"    - destination: {host: reviews.shop.svc.cluster.local, subset: " subset "}\n"

/* A broken object is left out alone, logged with its position; the rest applies. */
static void test_isolate_bad_object(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	load_iso(
	    BASE SPLIT VS_AT(
		"typo", "web", "2024-01-01T00:00:00Z",
		"ratings") "  - route:\n"
			   "    - destination: {host: ratings}\n"
			   "      weight: -1\n"
			   "---\n"
			   "apiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: web}\n"
			   "spec: {clusterIP: 10.96.0.300}\n",
	    &cfg, &d);
	assert_int_equal(cfg->n_services, 1);
	assert_string_equal(cfg->services[0].name, "reviews.shop");
	assert_int_equal(cfg->services[0].routes[0].weight[0], 75);
	assert_int_equal(cfg->n_rejected, 2);
	assert_rejected(cfg, 0, "VirtualService", "web", "typo");
	assert_rejected(cfg, 1, "Service", "web", "bad");
	assert_int_equal(cfg->rejected[1].pos.line, 50);
	assert_string_equal(cfg->rejected[1].reason,
			    "spec.clusterIP in Service web/bad is not an IPv4 or IPv6 address: "
			    "'10.96.0.300'");
	assert_true(has_msg(&d, "k.yaml:48:15: error: weight -1 of a destination of http[0] of "
				"VirtualService web/typo is negative; weights are 0 or more"));
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/*
 * One service, its first route all to subset index won, and one
 * VirtualService left out: ns/name.
 */
static void assert_winner(const struct sl_config *cfg, int won, const char *ns, const char *name)
{
	assert_int_equal(cfg->n_services, 1);
	assert_int_equal(cfg->services[0].routes[0].weight[won], 100);
	assert_int_equal(cfg->services[0].routes[0].weight[!won], 0);
	assert_int_equal(cfg->n_rejected, 1);
	assert_rejected(cfg, 0, "VirtualService", ns, name);
}

/* Two VirtualServices for one host: the oldest wins, like Istio's sidecars; the other is left out.
 */
static void test_isolate_oldest_wins(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	load_iso(SVC PODS DR VS_AT("young", "shop", "2024-05-01T00:00:00Z", "reviews")
		     ROUTE_TO("v2") VS_AT("old", "other", "2024-01-01T00:00:00Z",
					  "reviews.shop.svc.cluster.local") ROUTE_TO("v1"),
		 &cfg, &d);
	assert_winner(cfg, 0, "shop", "young");
	assert_true(has_msg(&d,
			    "k.yaml:32:11: error: host 'reviews' of VirtualService shop/young "
			    "is Service shop/reviews, already routed by VirtualService other/old "
			    "(k.yaml:37), created before it (2024-01-01T00:00:00Z vs "
			    "2024-05-01T00:00:00Z); like Istio's sidecars, sluice takes the "
			    "oldest VirtualService of a host and leaves this one out"));
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* The same time: by name, then namespace (Istio's tie-break). */
	load_iso(SVC PODS DR VS_AT("b", "shop", "2024-01-01T00:00:00Z", "reviews") ROUTE_TO("v2")
		     VS_AT("a", "shop", "2024-01-01T00:00:00Z", "reviews") ROUTE_TO("v1"),
		 &cfg, &d);
	assert_winner(cfg, 0, "shop", "b");
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* A broken older one does not count: the next oldest wins. */
	load_iso(SVC PODS DR VS_AT("old", "shop", "2023-01-01T00:00:00Z", "reviews") ROUTE_TO("v9")
		     VS_AT("new", "shop", "2024-01-01T00:00:00Z", "reviews") ROUTE_TO("v2"),
		 &cfg, &d);
	assert_winner(cfg, 1, "shop", "old");
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* Another namespace's Service only by its full name: a short one is left out alone. */
static void test_isolate_scope(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	load_iso(SVC PODS DR VS_AT("hijack", "web", "2023-01-01T00:00:00Z", "reviews.shop")
		     ROUTE_TO("v2") VS_AT("own", "shop", "2024-01-01T00:00:00Z", "reviews")
			 ROUTE_TO("v1"),
		 &cfg, &d);
	assert_winner(cfg, 0, "web", "hijack");
	assert_string_equal(cfg->rejected[0].reason,
			    "host 'reviews.shop' of VirtualService web/hijack is Service "
			    "shop/reviews of another namespace; a VirtualService routes another "
			    "namespace's Service only by its full name, "
			    "reviews.shop.svc.cluster.local");
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* exportTo: the routes match on the client pod's namespace; "~": left out. */
static void test_export_to(void **state)
{
	static const struct {
		const char *export_to, *msg;
	} bad[] = {
	    {"[., \"*\"]", "k.yaml:36:17: error: exportTo of VirtualService shop/reviews has "
			   "\"*\" and other entries; \"*\" says all namespaces alone"},
	    {"[\"~\"]", "k.yaml:36:14: error: exportTo \"~\" (none) is not allowed for "
			"VirtualService shop/reviews; Istio allows it for a ServiceEntry only"},
	    {"[., shop]", "k.yaml:36:17: error: 'shop' is in exportTo of VirtualService "
			  "shop/reviews twice (\".\" is its own namespace)"},
	    {"[Web_1]", "k.yaml:36:14: error: 'Web_1' in exportTo of VirtualService shop/reviews "
			"is not \".\", \"*\" or a namespace name"},
	};
	const struct sl_route_cfg *r;
	struct sl_config *cfg;
	struct sl_diag d;
	char yaml[4096];
	size_t i;

	cfg =
	    load_ok(SVC PODS DR VS "  - match: [{sourceLabels: {app: frontend}}]\n" MATCHED_TO("v2")
			ROUTE_TO("v1") "  exportTo: [., web]\n",
		    &d);
	assert_int_equal(cfg->services[0].n_routes, 4);
	r = &cfg->services[0].routes[0];
	assert_true(r->has_labels);
	assert_int_equal(r->n_labels, 2);
	assert_string_equal(r->labels[0].key, "app");
	assert_string_equal(r->labels[1].key, SL_K8S_NAMESPACE_LABEL);
	assert_string_equal(r->labels[1].value, "shop");
	assert_string_equal(cfg->services[0].routes[1].labels[1].value, "web");
	r = &cfg->services[0].routes[3];
	assert_true(r->has_labels);
	assert_int_equal(r->n_labels, 1);
	assert_string_equal(r->labels[0].value, "web");
	assert_int_equal(r->weight[0], 100);
	assert_true(has_msg(&d,
			    "k.yaml:39:13: warning: exportTo limits VirtualService "
			    "shop/reviews to clients in 2 namespaces; sluice matches its routes "
			    "on the client pod's namespace, so connections from anywhere else "
			    "(other namespaces, the node, anything not a pod) pass to the VIP "
			    "untouched"));
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* A sourceNamespace it is not exported to never matches; "*" is everyone. */
	cfg = load_ok(SVC PODS DR VS "  - match: [{sourceNamespace: web}]\n" MATCHED_TO("v2")
			  ROUTE_TO("v1") "  exportTo: [.]\n",
		      &d);
	assert_int_equal(cfg->services[0].n_routes, 1);
	assert_string_equal(cfg->services[0].routes[0].labels[0].value, "shop");
	sl_config_free(cfg);
	sl_diag_free(&d);
	cfg = load_ok(SVC PODS DR VS ROUTE_TO("v1") "  exportTo: [\"*\"]\n", &d);
	assert_false(cfg->services[0].routes[0].has_labels);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* Istio's validateExportTo (pkg/config/validation/validation.go, Test_validateExportTo). */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), SVC PODS DR VS ROUTE_TO("v1") "  exportTo: %s\n",
			 bad[i].export_to);
		assert_error(yaml, bad[i].msg);
	}
}

/* ---------------------------------------------------------------- Canary: a rollout beside a VS */

/* A Canary for reviews (line 39 on, after BASE SPLIT), Flagger's analysis block as is. */
#define CANARY_HEAD(target)                                                                        \
	"---\n"                                                                                    \
	"apiVersion: sluice.io/v1alpha1\n"                                                         \
	"kind: Canary\n"                                                                           \
	"metadata: {name: reviews, namespace: shop}\n"                                             \
	"spec:\n"                                                                                  \
	"  targetRef: {apiVersion: apps/v1, kind: Deployment, name: " target "}\n"
#define CANARY_ANALYSIS                                                                            \
	"  analysis:\n"                                                                            \
	"    interval: 1m\n"                                                                       \
	"    threshold: 5\n"                                                                       \
	"    maxWeight: 50\n"                                                                      \
	"    stepWeight: 10\n"                                                                     \
	"    metrics:\n"                                                                           \
	"    - name: request-success-rate\n"                                                       \
	"      thresholdRange: {min: 99}\n"                                                        \
	"    - name: request-duration\n"                                                           \
	"      thresholdRange: {max: 500}\n"
#define CANARY CANARY_HEAD("reviews") "  to: v2\n" CANARY_ANALYSIS

/* The same plan as the `rollout:` block of our format with the same analysis block. */
static void test_canary_same_plan(void **state)
{
	static const char ours[] = "services:\n"
				   "- name: a\n"
				   "  vips: [10.0.0.1]\n"
				   "  ports: [{port: 80}]\n"
				   "  subsets: {v1: {endpoints: [10.0.1.1]}, v2: {endpoints: "
				   "[10.0.2.1]}}\n"
				   "  routes:\n"
				   "  - split: {v1: 75, v2: 25}\n"
				   "  rollout:\n"
				   "    to: v2\n"
				   "    analysis:\n"
				   "      interval: 1m\n"
				   "      threshold: 5\n"
				   "      maxWeight: 50\n"
				   "      stepWeight: 10\n"
				   "      metrics:\n"
				   "      - name: request-success-rate\n"
				   "        thresholdRange: {min: 99}\n"
				   "      - name: request-duration\n"
				   "        thresholdRange: {max: 500}\n";
	struct sl_config *cfg, *cfg2;
	struct sl_rollout a, b;
	struct sl_diag d, d2;

	assert_int_equal(load(BASE SPLIT CANARY, &cfg, &d), 0);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(cfg->n_services, 1);
	assert_non_null(cfg->services[0].rollout);
	a = *cfg->services[0].rollout;
	assert_int_equal(load(ours, &cfg2, &d2), 0);
	assert_int_equal(d2.n_errors, 0);
	assert_non_null(cfg2->services[0].rollout);
	b = *cfg2->services[0].rollout;
	assert_string_equal(a.service, "reviews.shop"); /* what `sluice rollout` names */
	assert_string_equal(a.from, "v1");		/* the other subset of the split */
	assert_string_equal(a.to, "v2");
	assert_int_equal(a.n_steps, 6); /* 10,20,30,40,50,100 */
	assert_int_equal(a.dwell_ms, 60000);
	assert_int_equal(a.max_5xx_ppm, 10000);
	assert_int_equal(a.max_p99_us, 500000);
	assert_int_equal(a.failure_limit, 5);
	memcpy(a.service, b.service, sizeof(a.service));
	assert_memory_equal(&a, &b, sizeof(a)); /* field by field, padding included */
	sl_config_free(cfg2);
	sl_diag_free(&d2);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* Flagger-only fields and a workload targetRef: warned with their positions. */
static void test_canary_warnings(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	assert_int_equal(load(BASE SPLIT CANARY "    webhooks:\n"
						"    - {name: load-test, url: http://t/}\n"
						"  service: {port: 9080}\n"
						"  skipAnalysis: false\n",
			      &cfg, &d),
			 0);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(d.n_warnings, 4);
	assert_true(has_msg(&d, "k.yaml:44:42: warning: sluice moves traffic, not Deployments: "
				"Canary shop/reviews rolls out the Service named 'reviews' "
				"(Flagger's convention), over its DestinationRule subsets"));
	assert_true(has_msg(&d, "k.yaml:56:5: warning: 'webhooks' in 'analysis' needs Flagger's "
				"machinery: left out (sluice judges from the kernel's counters "
				"alone)"));
	assert_true(has_msg(&d, "k.yaml:58:3: warning: 'service' in the rollout of Canary "
				"shop/reviews needs Flagger's machinery: left out (sluice judges "
				"from the kernel's counters alone)"));
	assert_true(has_msg(&d, "k.yaml:59:3: warning: 'skipAnalysis' in the rollout of Canary "
				"shop/reviews needs Flagger's machinery: left out (sluice judges "
				"from the kernel's counters alone)"));
	assert_non_null(cfg->services[0].rollout);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* Wrong Canaries fail a file's load with the position. */
static void test_canary_errors(void **state)
{
	assert_error(
	    BASE SPLIT CANARY_HEAD("reviews") "  to: v3\n",
	    "k.yaml:45:7: error: Canary shop/reviews: the VirtualService of Service "
	    "shop/reviews routes to no subset 'v3' (a DestinationRule subset that a route names)");
	assert_error(
	    BASE SPLIT CANARY "  from: v9\n",
	    "k.yaml:56:9: error: Canary shop/reviews: the VirtualService of Service "
	    "shop/reviews routes to no subset 'v9' (a DestinationRule subset that a route names)");
	assert_error(BASE SPLIT CANARY "  tempo: 3\n",
		     "k.yaml:56:3: error: unknown key 'tempo' in the rollout of Canary "
		     "shop/reviews");
	assert_error(BASE SPLIT CANARY_HEAD("ratings") "  to: v2\n",
		     "k.yaml:44:14: error: Canary shop/reviews: no VirtualService routes Service "
		     "shop/ratings (a rollout moves the weights of a VirtualService's split)");
	assert_error(BASE SPLIT CANARY_HEAD("reviews") CANARY_ANALYSIS,
		     "k.yaml:44:3: error: the rollout of Canary shop/reviews is missing 'to' (the "
		     "canary subset)");
	assert_error(
	    BASE SPLIT "---\napiVersion: sluice.io/v1alpha1\nkind: Canary\n"
		       "metadata: {name: c, namespace: shop}\n"
		       "spec: {targetRef: {kind: StatefulSet, name: reviews}, to: v2}\n",
	    "k.yaml:43:26: error: spec.targetRef.kind of Canary shop/c is 'StatefulSet'; sluice "
	    "rolls out a Service (or the Service of a Deployment or DaemonSet)");
	assert_error(BASE SPLIT CANARY "  dwell: soon\n",
		     "k.yaml:56:10: error: dwell 'soon': a duration is a number and a unit: 500ms, "
		     "30s, 1m, 1h");
}

/* Under isolation a wrong Canary is left out alone: the Service is routed, without a rollout. */
static void test_canary_isolated(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	load_iso(BASE SPLIT CANARY_HEAD("reviews") "  to: v3\n", &cfg, &d);
	assert_int_equal(cfg->n_services, 1);
	assert_null(cfg->services[0].rollout);
	assert_int_equal(cfg->services[0].routes[0].weight[0], 75);
	assert_int_equal(cfg->n_rejected, 1);
	assert_rejected(cfg, 0, "Canary", "shop", "reviews");
	assert_true(strstr(cfg->rejected[0].reason, "no subset 'v3'") != NULL);
	sl_config_free(cfg);
	sl_diag_free(&d);
	/* a good one beside it still applies */
	load_iso(BASE SPLIT CANARY, &cfg, &d);
	assert_int_equal(cfg->n_rejected, 0);
	assert_non_null(cfg->services[0].rollout);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mapping),
	    cmocka_unit_test(test_uniform_target_port),
	    cmocka_unit_test(test_host_forms),
	    cmocka_unit_test(test_matches),
	    cmocka_unit_test(test_header_route),
	    cmocka_unit_test(test_ignored_fields),
	    cmocka_unit_test(test_endpoint_slice),
	    cmocka_unit_test(test_kubectl_list),
	    cmocka_unit_test(test_istio_docs_examples),
	    cmocka_unit_test(test_error_unknown_subset),
	    cmocka_unit_test(test_error_host_no_service),
	    cmocka_unit_test(test_error_negative_weight),
	    cmocka_unit_test(test_error_zero_weights),
	    cmocka_unit_test(test_error_port),
	    cmocka_unit_test(test_error_duplicate),
	    cmocka_unit_test(test_error_yaml_syntax),
	    cmocka_unit_test(test_real_world),
	    cmocka_unit_test(test_isolate_bad_object),
	    cmocka_unit_test(test_isolate_oldest_wins),
	    cmocka_unit_test(test_isolate_scope),
	    cmocka_unit_test(test_canary_same_plan),
	    cmocka_unit_test(test_canary_warnings),
	    cmocka_unit_test(test_canary_errors),
	    cmocka_unit_test(test_canary_isolated),
	    cmocka_unit_test(test_export_to),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
