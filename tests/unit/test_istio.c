// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Istio fidelity: what Istio accepts sluice accepts, what it rejects sluice
 * rejects. Hosts as Istio resolves them; the webhook's own test cases
 * (pkg/config/validation/validation_test.go and virtualservice_test.go in
 * github.com/istio/istio, Apache-2.0), transcribed into YAML, each with
 * the verdict Istio gives it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIAG_FILE "k.yaml"
#include "diag_check.h"
#include "k8s_fixture.h"

/* A second VirtualService "t" in namespace shop, with this spec (YAML flow). */
#define VS_T(spec)                                                                                 \
	"---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"                          \
	"metadata: {name: t, namespace: shop}\nspec: " spec "\n"

/* Line of VS_T's spec after BASE SPLIT. */
#define T_LINE 43

static bool loads(const char *yaml, struct sl_diag *d)
{
	struct sl_config *cfg;
	int err = load(yaml, &cfg, d);

	sl_config_free(err ? NULL : cfg);
	return !err;
}

/* Istio's verdict, case by case (and sluice's message, when given); a mismatch prints what sluice
 * said. */
struct vcase {
	const char *name;
	const char *yaml;
	bool valid;
	const char *msg; /* NULL, or one of the diagnostics, exactly */
};

static void run_cases(const struct vcase *c, size_t n)
{
	struct sl_diag d;
	size_t i, bad = 0;
	bool ok;

	for (i = 0; i < n; i++) {
		ok = loads(c[i].yaml, &d);
		if (c[i].msg && !has_msg(&d, c[i].msg))
			bad++;
		if (ok != c[i].valid) {
			print_message("case '%s': Istio says %s, sluice says %s\n", c[i].name,
				      c[i].valid ? "valid" : "invalid", ok ? "valid" : "invalid");
			dump_diag(&d);
			bad++;
		}
		sl_diag_free(&d);
	}
	assert_int_equal(bad, 0);
}

#define RUN_CASES(c) run_cases(c, sizeof(c) / sizeof(c[0]))

/* Hosts */

/* An IP address is a valid host, but not a valid destination (ValidateWildcardDomain). */
static bool sl_k8s_is_ip_text(const char *s)
{
	return strspn(s, "0123456789.") == strlen(s);
}

/* fixture, then VirtualService t for host, one http route to dest (extra: more of it). */
static struct sl_config *load_host(const char *fixture, const char *host, const char *dest,
				   const char *extra, struct sl_diag *d)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml),
		 "%s" VS_T("{hosts: [\"%s\"], http: [{route: [{destination: {host: \"%s\"%s}}]}]}"),
		 fixture, host, dest, extra);
	return load_ok(yaml, d);
}

/* Not a Service of this cluster: a warning, never an error, whatever its shape. */
/* The per-request opt-in annotation, and ports declared HTTP/2 or gRPC by name or appProtocol. */
static void test_per_request_paths(void **state)
{
	static const char opt_in[] = SVC PODS DR
	    "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
	    "metadata: {name: reviews, namespace: shop, annotations: {sluice.io/per-request: "
	    "\"true\"}}\nspec:\n  hosts: [reviews]\n  http:\n" SPLIT;
	static const char h2[] =
	    "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: shop}\nspec:\n"
	    "  clusterIPs: [10.96.0.20]\n  selector: {app: reviews}\n"
	    "  ports: [{name: grpc-api, port: 9080, targetPort: 8080}, {name: web, port: 9081, "
	    "targetPort: 8080, appProtocol: kubernetes.io/h2c}, {name: http, port: 9082, "
	    "targetPort: 8080}]\n" PODS DR VS SPLIT;
	static const char bad[] = SVC PODS DR
	    "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
	    "metadata: {name: reviews, namespace: shop, annotations: {sluice.io/per-request: "
	    "\"yes\"}}\nspec:\n  hosts: [reviews]\n  http:\n" SPLIT;
	struct sl_config *cfg;
	struct sl_diag d;

	assert_int_equal(load(opt_in, &cfg, &d), 0);
	assert_true(cfg->services[0].per_request);
	assert_int_equal(sl_port_path(&cfg->services[0], &cfg->services[0].ports[0]),
			 SL_PATH_PER_REQUEST);
	sl_config_free(cfg);
	sl_diag_free(&d);

	assert_int_equal(load(h2, &cfg, &d), 0);
	assert_false(cfg->services[0].per_request);
	assert_int_equal(cfg->services[0].n_ports, 3);
	assert_int_equal(sl_port_path(&cfg->services[0], &cfg->services[0].ports[0]), SL_PATH_GRPC);
	assert_int_equal(sl_port_path(&cfg->services[0], &cfg->services[0].ports[1]),
			 SL_PATH_HTTP2);
	assert_int_equal(sl_port_path(&cfg->services[0], &cfg->services[0].ports[2]),
			 SL_PATH_KERNEL);
	sl_config_free(cfg);
	sl_diag_free(&d);

	assert_false(loads(bad, &d));
	assert_true(has_msg(&d, "k.yaml:30:81: error: VirtualService shop/reviews: annotation "
				"sluice.io/per-request is 'yes'; expected \"true\" or \"false\""));
	sl_diag_free(&d);
}

static void test_external_hosts(void **state)
{
	static const char *const hosts[] = {"wikipedia.org",	"example.com", "www.example.com",
					    "api.example.com.", "10.1.2.3",    "*.example.com"};
	struct sl_config *cfg;
	struct sl_diag d;
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		cfg =
		    load_host(BASE SPLIT, hosts[i],
			      hosts[i][0] == '*' || sl_k8s_is_ip_text(hosts[i]) ? "www.example.com"
										: hosts[i],
			      "", &d);
		assert_int_equal(cfg->n_services, 1);
		assert_int_equal(d.n_warnings, 1);
		sl_config_free(cfg);
		sl_diag_free(&d);
	}
	cfg = load_ok(BASE SPLIT VS_T("{hosts: [wikipedia.org], tcp: [{route: [{destination: "
				      "{host: wikipedia.org}}]}]}"),
		      &d);
	assert_true(has_msg(&d, "k.yaml:43:16: warning: host 'wikipedia.org' of VirtualService "
				"shop/t is not a Kubernetes Service of this cluster (there is no "
				"Service wikipedia in namespace org: an external host?); sluice "
				"leaves it alone"));
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* NAME.NAMESPACE and NAME.NAMESPACE.svc name a Service when there is one. */
static void test_service_host_forms(void **state)
{
	static const char *const hosts[] = {"reviews", "reviews.shop", "reviews.shop.svc",
					    "reviews.shop.svc.cluster.local",
					    "reviews.shop.svc.cluster.local."};
	struct sl_config *cfg;
	struct sl_diag d;
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		cfg = load_host(SVC PODS DR, hosts[i], hosts[i], ", subset: v2", &d);
		assert_string_equal(svc_named(cfg, "reviews.shop")->subsets[1].name, "v2");
		sl_config_free(cfg);
		sl_diag_free(&d);
	}
}

/* A wildcard covers every Service whose full name it matches, as in Istio's sidecars. */
static void test_wildcard_hosts(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(SVC PODS DR VS_T("{hosts: [\"*.shop.svc.cluster.local\"], http: [{route: "
				       "[{destination: {host: reviews, subset: v1}}]}]}"),
		      &d);
	s = svc_named(cfg, "reviews.shop");
	assert_int_equal(s->routes[0].weight[0], 100);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* A Service some VirtualService names exactly is that one's, whatever their ages. */
	cfg = load_ok(
	    SVC PODS DR VS_T("{hosts: [\"*.svc.cluster.local\"], http: [{route: "
			     "[{destination: {host: reviews, subset: v1}}]}]}")
		VS_NS("shop",
		      "reviews") "  - route: [{destination: {host: reviews, subset: v2}}]\n",
	    &d);
	s = svc_named(cfg, "reviews.shop");
	assert_int_equal(s->routes[0].weight[1], 100);
	assert_int_equal(d.n_warnings, 0);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/*
 * ValidateVirtualService's hosts: valid DNS names (a wildcard first label)
 * or IPs, no "*" for the mesh, no overlap (validation_test.go,
 * TestValidateVirtualService: "bad host", "duplicate hosts", "wildcard for
 * mesh gateway", "wildcard for non-mesh gateway").
 */
static void test_host_rules(void **state)
{
	static const struct vcase c[] = {
	    {"simple",
	     BASE SPLIT VS_T("{hosts: [foo.bar], http: [{route: [{destination: {host: "
			     "foo.baz}}]}]}"),
	     true},
	    {"duplicate hosts",
	     BASE SPLIT VS_T("{hosts: [\"*.foo.bar\", \"*.bar\"], http: "
			     "[{route: [{destination: {host: foo.baz}}]}]}"),
	     false,
	     "k.yaml:43:29: error: hosts '*.foo.bar' and '*.bar' of VirtualService shop/t "
	     "overlap; Istio refuses duplicate hosts"},
	    {"bad host",
	     BASE SPLIT VS_T("{hosts: [\"foo.ba!r\"], http: [{route: [{destination: "
			     "{host: foo.baz}}]}]}"),
	     false,
	     "k.yaml:43:16: error: host 'foo.ba!r' of VirtualService shop/t is not a valid "
	     "host: label 'ba!r' is not a DNS label"},
	    {"wildcard for mesh gateway",
	     BASE SPLIT VS_T("{hosts: [\"*\"], http: [{route: [{destination: {host: foo.baz}}]}]}"),
	     false,
	     "k.yaml:43:16: error: host '*' of VirtualService shop/t applies to the mesh; "
	     "Istio allows the wildcard host * for gateways only"},
	    {"wildcard for non-mesh gateway",
	     BASE SPLIT VS_T("{hosts: [\"*\"], gateways: [somegateway], http: [{route: "
			     "[{destination: {host: foo.baz}}]}]}"),
	     true},
	    {"all-numeric top-level domain",
	     BASE SPLIT VS_T(
		 "{hosts: [foo.123], http: [{route: [{destination: {host: foo.baz}}]}]}"),
	     false},
	    {"the same Service twice",
	     SVC PODS DR VS_T("{hosts: [reviews, reviews.shop.svc.cluster."
			      "local], http: [{route: [{destination: "
			      "{host: reviews}}]}]}"),
	     true},
	};

	RUN_CASES(c);
}

/* ValidateVirtualService, the rest (validation_test.go, TestValidateVirtualService). */
static void test_virtual_service_rules(void **state)
{
	static const struct vcase c[] = {
	    {"with no destination", BASE SPLIT VS_T("{hosts: [foo.bar], http: [{route: [{}]}]}"),
	     false},
	    {"destination with out hosts",
	     BASE SPLIT VS_T("{hosts: [foo.bar], http: [{route: [{destination: {}}]}]}"), false},
	    {"delegate with no hosts",
	     BASE SPLIT VS_T("{http: [{route: [{destination: {host: foo.baz}}]}]}"), true},
	    {"delegate with gateways",
	     BASE SPLIT VS_T("{gateways: [ns1/gateway], http: [{route: [{destination: {host: "
			     "foo.baz}}]}]}"),
	     false},
	    {"no tcp or http routing", BASE SPLIT VS_T("{hosts: [foo.bar]}"), false,
	     "k.yaml:43:7: error: VirtualService shop/t has no routes; Istio requires "
	     "http, tcp or tls routes"},
	    {"bad gateway",
	     BASE SPLIT VS_T("{hosts: [foo.bar], gateways: [b@dgateway], http: "
			     "[{route: [{destination: {host: foo.baz}}]}]}"),
	     false},
	    {"FQDN for gateway",
	     BASE SPLIT VS_T("{hosts: [foo.bar], gateways: [gateway.example.com], http: [{route: "
			     "[{destination: {host: foo.baz}}]}]}"),
	     true},
	    {"namespace/name for gateway",
	     BASE SPLIT VS_T("{hosts: [foo.bar], gateways: [ns1/gateway], http: [{route: "
			     "[{destination: {host: foo.baz}}]}]}"),
	     true},
	    {"namespace/* for gateway",
	     BASE SPLIT VS_T("{hosts: [foo.bar], gateways: [ns1/*], http: [{route: [{destination: "
			     "{host: foo.baz}}]}]}"),
	     false},
	    {"*/name for gateway",
	     BASE SPLIT VS_T("{hosts: [foo.bar], gateways: [\"*/gateway\"], http: [{route: "
			     "[{destination: {host: foo.baz}}]}]}"),
	     false},
	    {"missing tcp route",
	     BASE SPLIT VS_T("{hosts: [foo.bar], tcp: [{match: [{port: 999}]}]}"), false},
	    {"jwt claim route without gateway",
	     BASE SPLIT VS_T("{hosts: [foo.bar], gateways: [mesh], http: [{route: [{destination: "
			     "{host: foo.baz}}], match: [{uri: {prefix: /}, headers: "
			     "{\"@request.auth.claims.foo\": {exact: bar}}}]}]}"),
	     false},
	    {"tls routes only",
	     BASE SPLIT VS_T("{hosts: [foo.bar], tls: [{match: [{port: 999, "
			     "sniHosts: [foo.bar]}], route: [{destination: "
			     "{host: foo.baz}}]}]}"),
	     true},
	    {"http: [] and nothing else", BASE SPLIT VS_T("{hosts: [foo.bar], http: []}"), false},
	    {"http route may not be null", BASE SPLIT VS_T("{hosts: [foo.bar], http: [~]}"), false},
	    {"an unknown spec field",
	     BASE SPLIT VS_T("{hosts: [foo.bar], htpp: [], http: "
			     "[{route: [{destination: {host: foo.baz}}]}]}"),
	     false},
	};

	RUN_CASES(c);
}

/* validateHTTPRoute (validation_test.go, TestValidateHTTPRoute). */
static void test_http_route_rules(void **state)
{
#define R(route) BASE SPLIT VS_T("{hosts: [foo.bar], http: [" route "]}")
	static const struct vcase c[] = {
	    {"empty", R("{}"), false,
	     "k.yaml:43:33: error: http[0] of VirtualService shop/t has no destination: "
	     "Istio requires route, redirect, directResponse or delegate"},
	    {"simple", R("{route: [{destination: {host: foo.baz}}]}"), true},
	    {"no destination", R("{route: [{destination: ~}]}"), false},
	    {"weighted",
	     R("{route: [{destination: {host: foo.baz.south}, weight: 25}, "
	       "{destination: {host: foo.baz.east}, weight: 75}]}"),
	     true},
	    {"total weight > 100",
	     R("{route: [{destination: {host: foo.baz.south}, weight: 550}, "
	       "{destination: {host: foo.baz.east}, weight: 500}]}"),
	     true},
	    {"total weight < 100",
	     R("{route: [{destination: {host: foo.baz.south}, weight: 49}, "
	       "{destination: {host: foo.baz.east}, weight: 50}]}"),
	     true},
	    {"simple redirect", R("{redirect: {uri: /lerp, authority: foo.biz}}"), true},
	    {"conflicting redirect and route",
	     R("{route: [{destination: {host: foo.baz}}], redirect: {uri: /lerp, authority: "
	       "foo.biz}}"),
	     false},
	    {"route and direct_response",
	     R("{route: [{destination: {host: foo.baz}}], "
	       "directResponse: {status: 503}}"),
	     false},
	    {"null header match",
	     R("{route: [{destination: {host: foo.bar}}], match: [{headers: {header: ~}}]}"), false,
	     "k.yaml:43:102: error: headers.header in VirtualService shop/t cannot be null "
	     "(Istio: header match cannot be null)"},
	    {"empty prefix header match",
	     R("{route: [{destination: {host: foo.bar}}], match: "
	       "[{headers: {emptyprefix: {prefix: \"\"}}}]}"),
	     false},
	    {"nil match", R("{route: [{destination: {host: foo.bar}}], match: ~}"), true},
	    {"match with nil element", R("{route: [{destination: {host: foo.bar}}], match: [~]}"),
	     true},
	    {"conflicting mirror and mirrors",
	     R("{mirror: {host: foo.baz}, mirrors: [{destination: {host: foo.bar}}], route: "
	       "[{destination: {host: foo.baz}}]}"),
	     false},
	    /* virtualservice_test.go, TestValidateRootHTTPRoute */
	    {"regex without headers match",
	     R("{redirect: {uri: /, authority: foo.biz}, match: "
	       "[{withoutHeaders: {header: {regex: test}}}]}"),
	     true},
	    {"regex without headers match ?",
	     R("{redirect: {uri: /, authority: foo.biz}, match: "
	       "[{withoutHeaders: {header: {regex: \"?\"}}}]}"),
	     false},
	    {"regex without headers match *",
	     R("{redirect: {uri: /, authority: foo.biz}, match: "
	       "[{withoutHeaders: {header: {regex: \"*\"}}}]}"),
	     true},
	    {"route and delegate",
	     R("{route: [{destination: {host: foo.baz}}], delegate: {name: "
	       "test, namespace: test}}"),
	     false},
	    /* validateStringMatch: an empty prefix is for uri only; a regex is never empty */
	    {"empty uri prefix",
	     R("{route: [{destination: {host: foo.bar}}], match: [{uri: {prefix: \"\"}}]}"), true},
	    {"empty method prefix",
	     R("{route: [{destination: {host: foo.bar}}], match: [{method: {prefix: \"\"}}]}"),
	     false},
	    {"empty uri regex",
	     R("{route: [{destination: {host: foo.bar}}], match: [{uri: {regex: \"\"}}]}"), false},
	    {"two match types",
	     R("{route: [{destination: {host: foo.bar}}], match: [{uri: "
	       "{prefix: /a, exact: /a}}]}"),
	     false},
	    {"a bad header name",
	     R("{route: [{destination: {host: foo.bar}}], match: [{headers: "
	       "{\"a b\": {exact: x}}}]}"),
	     false},
	    {"a bad sourceNamespace",
	     R("{route: [{destination: {host: foo.bar}}], match: "
	       "[{sourceNamespace: Not_A_Label}]}"),
	     false},
	    {"a bad sourceLabels key",
	     R("{route: [{destination: {host: foo.bar}}], match: "
	       "[{sourceLabels: {\"-app\": x}}]}"),
	     false},
	    {"port 0 is not given",
	     R("{route: [{destination: {host: foo.bar}}], match: [{port: 0}]}"), true},
	    {"port 65536", R("{route: [{destination: {host: foo.bar}}], match: [{port: 65536}]}"),
	     false},
	};
#undef R

	RUN_CASES(c);
}

/* validateRouteDestinations and validateDestination (TestValidateRouteDestination,
 * TestValidateDestination). */
static void test_destination_rules(void **state)
{
#define T(dest) BASE SPLIT VS_T("{hosts: [foo.bar], tcp: [{route: [" dest "]}]}")
	static const struct vcase c[] = {
	    {"simple", T("{destination: {host: foo.baz}}"), true},
	    {"wildcard dash", T("{destination: {host: \"*-foo.baz\"}}"), true},
	    {"wildcard prefix", T("{destination: {host: \"*foo.baz\"}}"), true},
	    {"wildcard", T("{destination: {host: \"*\"}}"), false},
	    {"bad wildcard", T("{destination: {host: \"foo.*\"}}"), false},
	    {"bad fqdn", T("{destination: {host: default/baz}}"), false},
	    {"no destination", T("{destination: ~}"), false},
	    {"weight < 0",
	     T("{destination: {host: foo.baz.south}, weight: 5}, {destination: "
	       "{host: foo.baz.east}, weight: -1}"),
	     false},
	    {"total weight = 100",
	     T("{destination: {host: foo.baz.south}, weight: 100}, "
	       "{destination: {host: foo.baz.east}, weight: 0}"),
	     true},
	    {"weight = 0", T("{destination: {host: foo.baz.south}, weight: 0}"), true},
	    {"total weight = 0 with multi RouteDestination",
	     T("{destination: {host: foo.baz.south}, weight: 0}, {destination: {host: "
	       "foo.baz.east}, weight: 0}"),
	     false},
	    {"full", T("{destination: {host: foo.bar, subset: shiny, port: {number: 5000}}}"),
	     true},
	    {"unnumbered-selector", T("{destination: {host: foo.bar, subset: shiny, port: {}}}"),
	     false},
	    {"empty subset", T("{destination: {host: foo.bar, subset: \"\"}}"), true},
	    {"subset not a DNS label", T("{destination: {host: foo.bar, subset: v_1}}"), false},
	    {"headers in a tcp destination", T("{destination: {host: foo.bar}, headers: {}}"),
	     false},
	    {"weight above int32", T("{destination: {host: foo.bar}, weight: 2147483648}"), false},
	    /* the schema's types: a quoted number is a string */
	    {"quoted weight", T("{destination: {host: foo.bar}, weight: \"50\"}"), false,
	     "k.yaml:43:80: error: a weight in VirtualService shop/t must be an integer, not the "
	     "string \"50\""},
	    {"quoted port", T("{destination: {host: foo.bar, port: {number: '80'}}}"), false},
	};
#undef T

	RUN_CASES(c);
}

/* ValidateDestinationRule (validation_test.go, TestValidateDestinationRule). */
static void test_destination_rule_rules(void **state)
{
#define D(spec)                                                                                    \
	SVC PODS VS "  - route: [{destination: {host: reviews}}]\n"                                \
		    "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\n"             \
		    "metadata: {name: t, namespace: shop}\nspec: " spec "\n"
	static const struct vcase c[] = {
	    {"simple destination rule",
	     D("{host: reviews, subsets: [{name: v1, labels: {version: "
	       "v1}}, {name: v2, labels: {version: v2}}]}"),
	     true},
	    {"missing destination name",
	     D("{host: \"\", subsets: [{name: v1, labels: {version: "
	       "v1}}]}"),
	     false},
	    {"missing subset name",
	     D("{host: reviews, subsets: [{name: \"\", labels: {version: "
	       "v1}}, {name: v2, labels: {version: v2}}]}"),
	     false},
	    {"duplicate subset names",
	     D("{host: reviews, subsets: [{name: foo, labels: {version: "
	       "v1}}, {name: foo, labels: {version: v2}}]}"),
	     false},
	    {"valid traffic policy, top level",
	     D("{host: reviews, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}, "
	       "connectionPool: {tcp: {maxConnections: 7}}, outlierDetection: {minHealthPercent: "
	       "20}}}"),
	     true},
	    {"empty traffic policy", D("{host: reviews, trafficPolicy: {}}"), false},
	    {"two load balancer policies",
	     D("{host: reviews, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN, "
	       "consistentHash: {useSourceIp: true}}}}"),
	     false},
	    {"a subset's traffic policy",
	     D("{host: reviews, subsets: [{name: v1, labels: {version: "
	       "v1}, trafficPolicy: {tls: {mode: DISABLE}}}]}"),
	     true},
	    {"a typo in a subset",
	     D("{host: reviews, subsets: [{name: v1, label: {version: v1}}]}"), false},
	    {"a bad label value",
	     D("{host: reviews, subsets: [{name: v1, labels: {version: "
	       "\"v 1\"}}]}"),
	     false},
	    {"a wildcard host",
	     D("{host: \"*.local\", trafficPolicy: {tls: {mode: "
	       "ISTIO_MUTUAL}}}"),
	     true},
	    {"a bad host", D("{host: \"reviews!\"}"), false},
	};
#undef D

	RUN_CASES(c);
	/* A typo must never widen a subset to every pod of the Service. */
	assert_error(SVC PODS VS "  - route: [{destination: {host: reviews, subset: v1}}]\n"
				 "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
				 "metadata: {name: reviews, namespace: shop}\n"
				 "spec:\n  host: reviews\n  subsets:\n  - name: v1\n"
				 "    label: {version: v1}\n",
		     "k.yaml:33:5: error: 'label' in a subset of DestinationRule shop/reviews is "
		     "not an Istio field (a typo?)");
}

/*
 * Regexes are RE2's (Envoy's engine, Go's regexp in Istio's webhook): what a
 * backtracking engine would take and RE2 refuses is an error at the regex,
 * with the offset in it.
 */
static void test_regex_is_re2(void **state)
{
	assert_error(BASE "  - match: [{headers: {x-user: {regex: \"(?!admin).*\"}}}]\n"
			  "    route: [{destination: {host: reviews}}]\n",
		     "k.yaml:34:40: error: headers.x-user.regex in VirtualService shop/reviews is "
		     "not an RE2 regex: invalid perl operator '(?!' at offset 0 (RE2, Envoy's "
		     "regex engine, has no look-ahead or look-behind)");
	assert_error(BASE "  - match: [{uri: {regex: \"/(v[0-9])/\\\\1\"}}]\n"
			  "    route: [{destination: {host: reviews}}]\n",
		     "k.yaml:34:27: error: uri.regex in VirtualService shop/reviews is not an RE2 "
		     "regex: invalid escape sequence '\\1' at offset 10 (RE2, Envoy's regex "
		     "engine, has no back-references)");
	/* queryParams are not evaluated, but checked all the same */
	assert_error(
	    BASE "  - match: [{queryParams: {q: {regex: \"a(?=b)\"}}}]\n"
		 "    route: [{destination: {host: reviews}}]\n",
	    "k.yaml:34:39: error: queryParams.q.regex in VirtualService shop/reviews is not "
	    "an RE2 regex: invalid perl operator '(?=' at offset 1 (RE2, Envoy's regex "
	    "engine, has no look-ahead or look-behind)");
}

/* Host-level canaries: weighted destinations that are other Services */

/* files (paths), then yaml, loaded as `sluice check` loads them; the load's verdict. */
static int load_with(const char *const *files, size_t n, const char *yaml, struct sl_config **cfg,
		     struct sl_diag *d)
{
	struct sl_config_buf b = {.name = DIAG_FILE, .data = yaml, .len = yaml ? strlen(yaml) : 0};

	sl_diag_init(d);
	return sl_config_load_sources(files, n, yaml ? &b : NULL, yaml ? 1 : 0, 0, cfg, d, NULL);
}

#define K8S_SVC(ns, name, ip, selector)                                                            \
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: " ns "}\n"      \
	"spec: {clusterIP: " ip ", selector: {app: " selector "}, ports: [{name: http, port: "     \
	"80, targetPort: 8080}]}\n"
#define K8S_SLICE(ns, svc, addrs)                                                                  \
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"                              \
	"metadata: {name: " svc "-x, namespace: " ns ", labels: {kubernetes.io/service-name: " svc \
	"}}\naddressType: IPv4\nports: [{name: http, port: 8080, protocol: TCP}]\n"                \
	"endpoints: [" addrs "]\n"

/* What Flagger's Canary makes: the apex Service, -primary and -canary, their endpoints. */
#define FLAGGER_CLUSTER                                                                            \
	K8S_SVC("test", "frontend", "10.96.0.10", "podinfo-primary")                               \
	K8S_SVC("test", "podinfo-primary", "10.96.0.11", "podinfo-primary")                        \
	K8S_SVC("test", "podinfo-canary", "10.96.0.12", "podinfo")                                 \
	K8S_SLICE("test", "podinfo-primary", "{addresses: [10.0.1.10]}, {addresses: [10.0.1.11]}") \
	K8S_SLICE("test", "podinfo-canary", "{addresses: [10.0.2.10]}")

static void test_flagger(void **state)
{
	static const char *const files[] = {"tests/data/host-canary/flagger-virtualservice.yaml"};
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;

	if (load_with(files, 1, FLAGGER_CLUSTER, &cfg, &d))
		dump_diag(&d);
	assert_int_equal(d.n_errors, 0);
	/* The split sits at the VirtualService's host, frontend; other Services are its subsets. */
	assert_int_equal(cfg->n_services, 1);
	s = svc_named(cfg, "frontend.test");
	assert_int_equal(s->n_subsets, 2);
	assert_string_equal(s->subsets[0].name, "podinfo-primary");
	assert_string_equal(eps(&s->subsets[0]), "10.0.1.10 10.0.1.11");
	assert_string_equal(s->subsets[1].name, "podinfo-canary");
	assert_string_equal(eps(&s->subsets[1]), "10.0.2.10");
	assert_int_equal(s->ports[0].target_port, 8080);
	assert_int_equal(s->n_routes, 1);
	assert_int_equal(s->routes[0].weight[0], 100);
	assert_int_equal(s->routes[0].weight[1], 0);
	/* uri prefix / is an HTTP match: the L7 step decides, for HTTP requests */
	assert_string_equal(s->routes[0].l7_spec, "uri prefix /\n");
	assert_true(has_msg(&d,
			    "tests/data/host-canary/flagger-virtualservice.yaml:24:7: warning: "
			    "host 'frontend.example.com' of VirtualService test/frontend is not "
			    "a Kubernetes Service of this cluster (a ServiceEntry or external "
			    "host?); sluice leaves it alone"));
	assert_true(has_msg(&d, "tests/data/host-canary/flagger-virtualservice.yaml:42:5: warning: "
				"'rewrite' in http[0] of VirtualService test/frontend is ignored: "
				"sluice does not do it"));
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_argo_rollouts(void **state)
{
	static const char *const docs[] = {
	    "tests/data/host-canary/argo-rollouts-docs-virtualservice.yaml"};
	static const char *const split[] = {"tests/data/host-canary/argo-rollouts-host-split.yaml"};
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;

	/* As the docs show it: for a gateway only, which Istio's sidecars leave alone too. */
	assert_int_equal(load_with(docs, 1, NULL, &cfg, &d), 0);
	assert_int_equal(cfg->n_services, 0);
	assert_int_equal(d.n_warnings, 1);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* In the mesh: the example's Services (named targetPort), ours for the host and slices. */
	if (load_with(
		split, 1,
		K8S_SVC("default", "istio-host-split", "10.96.0.10", "istio-host-split")
		    K8S_SLICE("default", "istio-host-split-stable",
			      "{addresses: [10.0.1.10]}, {addresses: [10.0.1.11]}")
			K8S_SLICE("default", "istio-host-split-canary", "{addresses: [10.0.2.10]}"),
		&cfg, &d))
		dump_diag(&d);
	assert_int_equal(d.n_errors, 0);
	s = svc_named(cfg, "istio-host-split.default");
	assert_int_equal(s->n_subsets, 2);
	assert_string_equal(s->subsets[0].name, "istio-host-split-stable");
	assert_string_equal(s->subsets[1].name, "istio-host-split-canary");
	assert_string_equal(eps(&s->subsets[1]), "10.0.2.10");
	assert_int_equal(s->ports[0].target_port, 8080);
	assert_string_equal(s->routes[0].name, "primary");
	assert_int_equal(s->routes[0].weight[0], 100);
	assert_null(s->routes[0].l7_spec);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

#define CANARY_VS(dests)                                                                           \
	"---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"                          \
	"metadata: {name: frontend, namespace: test}\n"                                            \
	"spec: {hosts: [frontend], tcp: [{route: [" dests "]}]}\n"

static void test_host_level_rules(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;

	/* A subset of another Service's own DestinationRule; the host's own subsets too. */
	cfg = load_ok(FLAGGER_CLUSTER
		      "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		      "metadata: {name: c, namespace: test}\n"
		      "spec: {host: podinfo-canary, subsets: [{name: a, labels: {}}]}\n" CANARY_VS(
			  "{destination: {host: podinfo-canary, subset: a}, weight: 30}, "
			  "{destination: {host: frontend}, weight: 60}, {destination: {host: "
			  "podinfo-primary.test}, weight: 10}"),
		      &d);
	s = svc_named(cfg, "frontend.test");
	assert_int_equal(s->n_subsets, 3);
	assert_string_equal(s->subsets[0].name, SL_K8S_ALL_SUBSET);
	assert_string_equal(s->subsets[1].name, "podinfo-canary/a");
	assert_string_equal(s->subsets[2].name, "podinfo-primary");
	assert_int_equal(s->routes[0].weight[0], 60);
	assert_int_equal(s->routes[0].weight[1], 30);
	assert_int_equal(s->routes[0].weight[2], 10);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* Weights are relative, any int32: scaled to sluice's range, none dropped to 0. */
	cfg = load_ok(FLAGGER_CLUSTER CANARY_VS("{destination: {host: podinfo-primary}, weight: "
						"2000000000}, {destination: {host: "
						"podinfo-canary}, weight: 1}"),
		      &d);
	s = svc_named(cfg, "frontend.test");
	assert_int_equal(s->routes[0].weight[0], SL_MAX_WEIGHT);
	assert_int_equal(s->routes[0].weight[1], 1);
	sl_config_free(cfg);
	sl_diag_free(&d);

	assert_error(FLAGGER_CLUSTER CANARY_VS("{destination: {host: podinfo-canary, subset: v9}}"),
		     "k.yaml:34:87: error: subset 'v9' of host 'podinfo-canary' is not defined: no "
		     "DestinationRule for Service test/podinfo-canary defines subsets");
	assert_error(FLAGGER_CLUSTER CANARY_VS("{destination: {host: podinfo-canary, port: "
					       "{number: 9090}}}"),
		     "k.yaml:34:94: error: destination port 9090 of tcp[0] is not a port of "
		     "Service test/podinfo-canary; its ports are: 80/TCP");
	/* A destination outside the cluster: sluice knows no endpoints there; left alone. */
	cfg = load_ok(FLAGGER_CLUSTER CANARY_VS("{destination: {host: podinfo-primary}, weight: "
						"90}, {destination: {host: api.example.com}, "
						"weight: 10}"),
		      &d);
	assert_int_equal(cfg->n_services, 0);
	assert_true(has_msg(&d, "k.yaml:34:115: warning: destination host 'api.example.com' of "
				"VirtualService test/frontend is not a Kubernetes Service of this "
				"cluster; sluice cannot send Service test/frontend's traffic there "
				"and leaves the Service alone"));
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/*
 * Istio's protocol selection (kube.ConvertProtocol in pkg/config/kube): a
 * port's name prefix or appProtocol says HTTP or TCP; http routes apply to
 * HTTP ports, tcp routes to TCP ones, none to UDP, both to a port that says
 * nothing (Istio sniffs it); 3306 and its well-known kin are TCP.
 */
#define PROTO_SVC                                                                                  \
	"apiVersion: v1\nkind: Service\nmetadata: {name: app, namespace: shop}\n"                  \
	"spec:\n  clusterIP: 10.96.0.30\n  selector: {app: app}\n  ports:\n"                       \
	"  - {name: http-web, port: 80}\n"                                                         \
	"  - {name: tcp-db, port: 5432}\n"                                                         \
	"  - {name: x, port: 9090, appProtocol: grpc}\n"                                           \
	"  - {name: dns, port: 53, protocol: UDP}\n"                                               \
	"  - {port: 8080}\n"                                                                       \
	"  - {port: 3306}\n"                                                                       \
	"  - {name: h2, port: 8443, appProtocol: kubernetes.io/h2c}\n"                             \
	"---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"                          \
	"metadata: {name: app, namespace: shop}\nspec:\n  hosts: [app]\n"

static void test_protocol_selection(void **state)
{
	static const uint8_t app[] = {SL_APP_HTTP, SL_APP_TCP, SL_APP_HTTP, SL_APP_NONE,
				      SL_APP_ANY,  SL_APP_TCP, SL_APP_HTTP};
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;
	size_t i;

	cfg = load_ok(PROTO_SVC "  http: [{route: [{destination: {host: app}}]}]\n", &d);
	s = svc_named(cfg, "app.shop");
	assert_int_equal(s->n_ports, 7);
	for (i = 0; i < s->n_ports; i++)
		assert_int_equal(s->ports[i].app, app[i]);
	assert_int_equal(s->routes[0].kind, SL_ROUTE_HTTP);
	assert_true(sl_route_applies(&s->routes[0], &s->ports[0]));
	assert_false(sl_route_applies(&s->routes[0], &s->ports[1]));
	assert_false(sl_route_applies(&s->routes[0], &s->ports[3]));
	assert_true(sl_route_applies(&s->routes[0], &s->ports[4]));
	/* check says which ports are not split, and why */
	assert_true(has_msg(&d, "k.yaml:9:5: warning: port 5432 of Service shop/app is not split: "
				"it is TCP by its name 'tcp-db', where Istio applies tcp routes "
				"only, and VirtualService shop/app has none; its traffic passes to "
				"the VIP untouched"));
	assert_true(has_msg(&d, "k.yaml:11:5: warning: port 53/UDP of Service shop/app is not "
				"split: Istio's sidecars do not carry UDP, so no route of "
				"VirtualService shop/app applies; its traffic passes to the VIP "
				"untouched"));
	assert_true(has_msg(&d, "k.yaml:13:5: warning: port 3306 of Service shop/app is not "
				"split: it is TCP, a well-known port Istio does not sniff, where "
				"Istio applies tcp routes only, and VirtualService shop/app has "
				"none; its traffic passes to the VIP untouched"));
	assert_int_equal(d.n_warnings, 4); /* and: no endpoints */
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* tcp routes: the TCP ports and the sniffed one; http and tcp both: said for that one */
	cfg = load_ok(PROTO_SVC "  http: [{route: [{destination: {host: app}}]}]\n"
				"  tcp: [{route: [{destination: {host: app}}]}]\n",
		      &d);
	s = svc_named(cfg, "app.shop");
	assert_int_equal(s->routes[1].kind, SL_ROUTE_TCP);
	assert_true(sl_route_applies(&s->routes[1], &s->ports[1]));
	assert_false(sl_route_applies(&s->routes[1], &s->ports[2]));
	assert_true(has_msg(&d,
			    "k.yaml:12:5: warning: port 8080 of Service shop/app is not said "
			    "by its name or appProtocol, so Istio sniffs it: HTTP requests take "
			    "the http routes of VirtualService shop/app, other traffic its tcp "
			    "routes; sluice tries the http routes first on every connection "
			    "(name the port http-... or tcp-..., or set appProtocol, to "
			    "choose)"));
	assert_int_equal(d.n_warnings, 4); /* and: no endpoints, twice */
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* Istio's samples, as `sluice check` reads them: no error. */

#define SAMPLES "tests/data/istio-samples/"

static void check_samples(const char *const *files, size_t n)
{
	struct sl_config *cfg;
	struct sl_diag d;
	int err;

	err = load_with(files, n, NULL, &cfg, &d);
	if (err) {
		print_message("%s ...\n", files[n - 1]);
		dump_diag(&d);
	}
	assert_int_equal(err, 0);
	assert_int_equal(d.n_errors, 0);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_samples(void **state)
{
	static const char *const vs[] = {
	    "virtual-service-all-v1.yaml",
	    "virtual-service-details-v2.yaml",
	    "virtual-service-ratings-db.yaml",
	    "virtual-service-ratings-mysql.yaml",
	    "virtual-service-ratings-mysql-vm.yaml",
	    "virtual-service-reviews-50-v3.yaml",
	    "virtual-service-reviews-80-20.yaml",
	    "virtual-service-reviews-90-10.yaml",
	    "virtual-service-reviews-jason-v2-v3.yaml",
	    "virtual-service-reviews-test-v2.yaml",
	    "virtual-service-reviews-v2-v3.yaml",
	    "virtual-service-reviews-v3.yaml",
	};
	static const char *const fault[] = {"virtual-service-ratings-test-abort.yaml",
					    "virtual-service-ratings-test-delay.yaml"};
	char path[3][256];
	const char *files[3] = {path[0], path[1], path[2]};
	size_t i;

	snprintf(path[0], sizeof(path[0]), SAMPLES "bookinfo/platform/bookinfo.yaml");
	/* one VirtualService at a time, as the tasks apply them, with every DestinationRule */
	for (i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
		snprintf(path[1], sizeof(path[1]), SAMPLES "bookinfo/networking/%s",
			 i % 2 ? "destination-rule-all.yaml" : "destination-rule-all-mtls.yaml");
		snprintf(path[2], sizeof(path[2]), SAMPLES "bookinfo/networking/%s", vs[i]);
		check_samples(files, 3);
	}
	for (i = 0; i < sizeof(fault) / sizeof(fault[0]); i++) {
		snprintf(path[2], sizeof(path[2]), SAMPLES "bookinfo/networking/%s", fault[i]);
		check_samples(files, 3);
	}
	snprintf(path[1], sizeof(path[1]), SAMPLES "bookinfo/networking/bookinfo-gateway.yaml");
	snprintf(path[2], sizeof(path[2]),
		 SAMPLES "bookinfo/networking/fault-injection-details-v1.yaml");
	check_samples(files, 3);
	snprintf(path[1], sizeof(path[1]),
		 SAMPLES "bookinfo/networking/egress-rule-google-apis.yaml");
	snprintf(path[2], sizeof(path[2]), SAMPLES "bookinfo/networking/certmanager-gateway.yaml");
	check_samples(files, 3);
	snprintf(path[0], sizeof(path[0]), SAMPLES "helloworld/helloworld.yaml");
	snprintf(path[1], sizeof(path[1]), SAMPLES "helloworld/helloworld-gateway.yaml");
	check_samples(files, 2);
	snprintf(path[0], sizeof(path[0]), SAMPLES "httpbin/httpbin.yaml");
	snprintf(path[1], sizeof(path[1]), SAMPLES "httpbin/httpbin-gateway.yaml");
	check_samples(files, 2);
}

/* A GitOps directory: Services without clusterIP get one message saying how to give it. */
static void test_no_cluster_ip(void **state)
{
	static const char *const files[] = {SAMPLES "bookinfo/platform/bookinfo.yaml",
					    SAMPLES "bookinfo/networking/destination-rule-all.yaml",
					    SAMPLES
					    "bookinfo/networking/virtual-service-all-v1.yaml"};
	struct sl_config *cfg;
	struct sl_diag d;

	assert_int_equal(load_with(files, 3, NULL, &cfg, &d), 0);
	assert_int_equal(cfg->n_services, 0);
	assert_int_equal(d.n_msgs, 1);
	assert_string_equal(
	    d.msgs[0],
	    SAMPLES "bookinfo/platform/bookinfo.yaml:278:1: warning: 4 Services that "
		    "VirtualServices route have no clusterIP (default/productpage, "
		    "default/reviews, default/ratings, default/details): sluice splits a "
		    "Service's traffic at its cluster IP, which the API server assigns and these "
		    "files do not say. Run with --kubernetes to read Services from the API server, "
		    "or give them as the cluster has them (`kubectl get services -A -o yaml`, or "
		    "spec.clusterIP written in); until then sluice leaves their traffic alone");
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* The messages the issue named: each says what is wrong, nothing else. */
static void test_messages(void **state)
{
	struct sl_diag d;

	assert_false(loads(SVC PODS DR VS "  - route:\n    - destination: {host: reviews, "
					  "subset: v1}\n      weight: -5\n",
			   &d));
	assert_int_equal(d.n_warnings, 0);
	assert_true(has_msg(&d, "k.yaml:36:15: error: weight -5 of a destination of http[0] of "
				"VirtualService shop/reviews is negative; weights are 0 or more"));
	sl_diag_free(&d);
}

/*
 * Isolated, a rejected VirtualService leaves nothing: still "no service"
 * (the last good configuration stays); one left alone with a warning
 * explains itself.
 */
static void test_nothing_left(void **state)
{
	struct sl_config_buf b = {.name = DIAG_FILE};
	struct sl_config *cfg;
	struct sl_diag d;
	const char *bad =
	    SVC PODS DR VS "  - route: [{destination: {host: reviews, subset: v9}}]\n",
		   *alone =
		       SVC PODS DR VS_T("{hosts: [wikipedia.org], tcp: [{route: [{destination: "
					"{host: wikipedia.org}}]}]}");

	b.data = bad;
	b.len = strlen(bad);
	sl_diag_init(&d);
	assert_int_equal(sl_config_load_sources(NULL, 0, &b, 1, SL_LOAD_ISOLATE, &cfg, &d, NULL),
			 -EINVAL);
	assert_true(has_msg(&d,
			    "k.yaml: error: no VirtualService routes a Service, and there is no "
			    "sluice configuration; at least one service is needed"));
	sl_diag_free(&d);

	b.data = alone;
	b.len = strlen(alone);
	sl_diag_init(&d);
	assert_int_equal(sl_config_load_sources(NULL, 0, &b, 1, SL_LOAD_ISOLATE, &cfg, &d, NULL),
			 0);
	assert_int_equal(cfg->n_services, 0);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_per_request_paths),
	    cmocka_unit_test(test_external_hosts),
	    cmocka_unit_test(test_service_host_forms),
	    cmocka_unit_test(test_wildcard_hosts),
	    cmocka_unit_test(test_host_rules),
	    cmocka_unit_test(test_virtual_service_rules),
	    cmocka_unit_test(test_http_route_rules),
	    cmocka_unit_test(test_destination_rules),
	    cmocka_unit_test(test_destination_rule_rules),
	    cmocka_unit_test(test_regex_is_re2),
	    cmocka_unit_test(test_flagger),
	    cmocka_unit_test(test_argo_rollouts),
	    cmocka_unit_test(test_host_level_rules),
	    cmocka_unit_test(test_protocol_selection),
	    cmocka_unit_test(test_samples),
	    cmocka_unit_test(test_no_cluster_ip),
	    cmocka_unit_test(test_messages),
	    cmocka_unit_test(test_nothing_left),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
