// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What `run --kubernetes` keeps of the cluster's objects: a list read one
 * item at a time (kube/jscan.h), objects stripped to the fields sluice
 * reads (kube/strip.h) and loading to the same tables as the objects
 * whole, and the model digest that tells a new input from new tables
 * (config/model.h).
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

#include <json-c/json.h>

#include "config/config.h"
#include "kube/jscan.h"
#include "kube/strip.h"

/* ---- jscan ---- */

struct seen {
	char text[8][64];
	int n;
};

static int on_member(void *arg, const char *key, size_t klen, const char *v, const char *vend)
{
	struct seen *s = arg;

	snprintf(s->text[s->n++], sizeof(s->text[0]), "%.*s=%.*s", (int)klen, key, (int)(vend - v),
		 v);
	return 0;
}

static int on_elem(void *arg, const char *v, const char *vend)
{
	struct seen *s = arg;

	snprintf(s->text[s->n++], sizeof(s->text[0]), "%.*s", (int)(vend - v), v);
	return s->n == 3 ? -E2BIG : 0;
}

static void test_jscan(void **state)
{
	const char *list = " {\"kind\": \"PodList\", \"metadata\" :{\"continue\":\"a}b\"},\n"
			   "  \"items\": [ {\"n\": \"x\\\"]}\"}, [1, [2]] , -1.5e3, true ],"
			   " \"z\": null } \n";
	const char *items = strstr(list, "[ {");
	struct seen s = {0};

	assert_int_equal(sl_jscan_members(list, list + strlen(list), on_member, &s), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.text[0], "kind=\"PodList\"");
	assert_string_equal(s.text[1], "metadata={\"continue\":\"a}b\"}");
	assert_string_equal(s.text[3], "z=null");

	/* the elements in order; fn's error stops the walk and is returned */
	memset(&s, 0, sizeof(s));
	assert_int_equal(sl_jscan_elements(items,
					   strstr(items, "],"
							 " \"z\"") +
					       1,
					   on_elem, &s),
			 -E2BIG);
	assert_string_equal(s.text[0], "{\"n\": \"x\\\"]}\"}");
	assert_string_equal(s.text[1], "[1, [2]]");
	assert_string_equal(s.text[2], "-1.5e3");

	/* cut short, or not what was asked for */
	memset(&s, 0, sizeof(s));
	assert_int_equal(sl_jscan_members(list, list + 40, on_member, &s), -EINVAL);
	assert_int_equal(sl_jscan_members("[]", "[]" + 2, on_member, &s), -EINVAL);
	assert_int_equal(sl_jscan_elements("[1 2]", "[1 2]" + 5, on_elem, &s), -EINVAL);
	assert_int_equal(sl_jscan_members("{} x", "{} x" + 4, on_member, &s), -EINVAL);
	assert_int_equal(sl_jscan_elements(" [ ] ", " [ ] " + 5, on_elem, &s), 0);
}

/* ---- strip ---- */

/* Objects as the API server sends them, with what sluice does not read. */
#define MANAGED                                                                                    \
	"\"managedFields\": [{\"manager\": \"kubectl\", \"operation\": \"Update\", "               \
	"\"fieldsV1\": {\"f:spec\": {}}}], \"uid\": \"u-1\", \"resourceVersion\": \"42\""
#define POD(name, app, version, ip, ready)                                                         \
	"{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"" name "\", "      \
	"\"namespace\": \"shop\", \"labels\": {\"app\": \"" app "\", \"version\": \"" version      \
	"\"}, \"annotations\": {\"prometheus.io/port\": \"9090\"}, " MANAGED "}, "                 \
	"\"spec\": {\"nodeName\": \"n1\", \"containers\": [{\"name\": \"app\", \"image\": "        \
	"\"r:1\", \"env\": [{\"name\": \"A\", \"value\": \"b\"}], \"ports\": [{\"name\": "         \
	"\"http\", \"containerPort\": 8080, \"protocol\": \"TCP\"}]}]}, "                          \
	"\"status\": {\"phase\": \"Running\", \"hostIP\": \"192.168.0.1\", \"podIP\": \"" ip       \
	"\", \"podIPs\": [{\"ip\": \"" ip "\"}], \"conditions\": [{\"type\": \"Initialized\", "    \
	"\"status\": \"True\"}, {\"type\": \"Ready\", \"status\": \"" ready "\", "                 \
	"\"lastTransitionTime\": \"2024-01-01T00:00:00Z\"}], \"containerStatuses\": [{\"name\": "  \
	"\"app\", \"restartCount\": 3, \"ready\": true}]}}"
#define EP(ip, pod, ready)                                                                         \
	"{\"addresses\": [\"" ip "\"], \"conditions\": {\"ready\": " ready                         \
	", \"serving\": true}, "                                                                   \
	"\"nodeName\": \"n1\", \"targetRef\": {\"kind\": \"Pod\", \"namespace\": \"shop\", "       \
	"\"name\": \"" pod "\", \"uid\": \"u-2\"}}"

#define EPS                                                                                        \
	EP("10.0.1.1", "r1", "true")                                                               \
	", " EP("10.0.2.1", "r2", "true") ", " EP("10.0.2.2", "r3", "false")
#define SLICE                                                                                      \
	"{\"apiVersion\": \"discovery.k8s.io/v1\", \"kind\": \"EndpointSlice\", \"metadata\": "    \
	"{\"name\": \"reviews-x1\", \"namespace\": \"shop\", \"labels\": "                         \
	"{\"kubernetes.io/service-name\": \"reviews\", "                                           \
	"\"endpointslice.kubernetes.io/managed-by\": \"c\"}, " MANAGED "}, "                       \
	"\"addressType\": \"IPv4\", \"endpoints\": [" EPS "], "                                    \
	"\"ports\": [{\"name\": \"http\", \"port\": 8080, \"protocol\": \"TCP\"}]}"

#define SVC(name, vip) SVC_APP(name, vip, "")
/* app: more keys of its port, e.g. an appProtocol */
#define SVC_APP(name, vip, app)                                                                    \
	"{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"" name "\", "  \
	"\"namespace\": \"shop\", \"labels\": {\"app\": \"" name "\"}, \"annotations\": "          \
	"{\"kubectl.kubernetes.io/last-applied-configuration\": \"{}\"}, " MANAGED "}, "           \
	"\"spec\": {\"type\": \"ClusterIP\", \"clusterIP\": \"" vip "\", \"clusterIPs\": [\"" vip  \
	"\"], \"ipFamilies\": [\"IPv4\"], \"selector\": {\"app\": \"" name "\"}, "                 \
	"\"ports\": [{\"name\": \"http\", \"port\": 9080, \"protocol\": \"TCP\", " app          \
	"\"targetPort\": \"http\"}], \"sessionAffinity\": \"None\"}, \"status\": {\"loadBalancer\": {}}}"
#define VS(name, created, route) VS_ANN(name, created, "", route)
/* ann: more keys of its metadata, e.g. annotations */
#define VS_ANN(name, created, ann, route)                                                          \
	"{\"apiVersion\": \"networking.istio.io/v1beta1\", \"kind\": \"VirtualService\", "         \
	"\"metadata\": {\"name\": \"" name "\", \"namespace\": \"shop\", "                         \
	"\"creationTimestamp\": \"" created "\", " ann MANAGED "}, "                               \
	"\"spec\": {\"hosts\": [\"" name "\"], \"http\": [{\"route\": [" route "]}]}}"

/*
 * reviews: endpoints from its EndpointSlice, a 70/30 split by subset;
 * ratings: no slice, endpoints from the pods its selector picks, the port
 * from their named container port.
 */
static const char *const objects[] = {
    SVC("reviews", "10.96.0.20"),
    POD("r1", "reviews", "v1", "10.0.1.1", "True"),
    POD("r2", "reviews", "v2", "10.0.2.1", "True"),
    POD("r3", "reviews", "v2", "10.0.2.2", "False"),
    SLICE,
    "{\"apiVersion\": \"networking.istio.io/v1beta1\", \"kind\": \"DestinationRule\", "
    "\"metadata\": {\"name\": \"reviews\", \"namespace\": \"shop\", " MANAGED "}, \"spec\": "
    "{\"host\": \"reviews\", \"subsets\": [{\"name\": \"v1\", \"labels\": {\"version\": \"v1\"}}, "
    "{\"name\": \"v2\", \"labels\": {\"version\": \"v2\"}}]}}",
    /* read from annotations and appProtocol: strip must keep both */
    VS_ANN("reviews", "2024-01-01T00:00:00Z",
	   "\"annotations\": {\"sluice.io/per-request\": \"true\", \"note\": \"x\"}, ",
       "{\"destination\": {\"host\": \"reviews\", \"subset\": \"v1\"}, \"weight\": 70}, "
       "{\"destination\": {\"host\": \"reviews\", \"subset\": \"v2\"}, \"weight\": 30}"),
    SVC_APP("ratings", "10.96.0.30", "\"appProtocol\": \"kubernetes.io/h2c\", "),
    POD("t1", "ratings", "v1", "10.0.3.1", "True"),
    POD("t2", "ratings", "v1", "10.0.3.2", "False"),
    VS("ratings", "2025-01-01T00:00:00Z", "{\"destination\": {\"host\": \"ratings\"}}"),
    /* broken where sluice reads: left out, whole or stripped alike */
    "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"bad\", "
    "\"namespace\": \"shop\"}, \"spec\": {\"containers\": [{\"ports\": [{\"containerPort\": "
    "\"eighty\"}]}]}, \"status\": {\"podIP\": \"10.0.9.9\"}}",
};
#define N_OBJECTS (sizeof(objects) / sizeof(objects[0]))

static char *strip_text(const char *json)
{
	json_object *o = json_tokener_parse(json), *av, *kind;
	size_t len;
	char *text;

	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "apiVersion", &av));
	assert_true(json_object_object_get_ex(o, "kind", &kind));
	/* a list's items have neither: strip puts them back */
	json_object_get(av);
	json_object_object_del(o, "apiVersion");
	text = sl_kube_strip(o, json_object_get_string(av), json_object_get_string(kind), &len);
	json_object_put(av);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	json_object_put(o);
	return text;
}

/* The objects as run renders them: one per line; stripped or whole; extra last. */
static struct sl_config *load_objects_and(bool stripped, const char *extra, struct sl_diag *diag)
{
	struct sl_config_buf b = {.name = "kubernetes"};
	struct sl_config *cfg = NULL;
	char *buf = NULL, *text;
	size_t size = 0, i;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	for (i = 0; i < N_OBJECTS; i++) {
		text = stripped ? strip_text(objects[i]) : strdup(objects[i]);
		fprintf(f, "--- %s\n", text);
		free(text);
	}
	if (extra)
		fprintf(f, "--- %s\n", extra);
	assert_int_equal(fclose(f), 0);
	b.data = buf;
	b.len = size;
	sl_diag_init(diag);
	assert_int_equal(sl_config_load_sources(NULL, 0, &b, 1,
						SL_LOAD_ALLOW_EMPTY | SL_LOAD_ISOLATE, &cfg, diag,
						NULL),
			 0);
	free(buf);
	return cfg;
}

static struct sl_config *load_objects(bool stripped, struct sl_diag *diag)
{
	return load_objects_and(stripped, NULL, diag);
}

static void test_strip_loads_the_same(void **state)
{
	struct sl_diag dw, ds;
	struct sl_config *whole = load_objects(false, &dw), *stripped = load_objects(true, &ds);

	/* the oldest VirtualService first */
	assert_int_equal(whole->n_services, 2);
	assert_string_equal(whole->services[0].name, "reviews.shop");
	assert_int_equal(whole->services[0].n_subsets, 2);
	assert_int_equal(whole->services[0].subsets[1].n_eps, 1); /* r3 is not ready */
	assert_int_equal(whole->services[1].subsets[0].n_eps, 1); /* nor is t2 */
	assert_int_equal(whole->services[1].ports[0].target_port, 8080);
	assert_int_equal(whole->n_workloads, 5);
	assert_int_equal(whole->n_rejected, 1);
	assert_true(whole->services[0].per_request);
	assert_int_equal(whole->services[1].ports[0].mux, SL_MUX_HTTP2);
	assert_true(stripped->services[0].per_request);
	assert_int_equal(stripped->services[1].ports[0].mux, SL_MUX_HTTP2);
	assert_int_equal(sl_config_model_digest(stripped), sl_config_model_digest(whole));
	assert_int_equal(stripped->n_rejected, 1);
	assert_string_equal(stripped->rejected[0].name, "bad");
	assert_int_equal(ds.n_errors, dw.n_errors);
	assert_int_equal(ds.n_warnings, dw.n_warnings);
	sl_config_free(whole);
	sl_config_free(stripped);
	sl_diag_free(&dw);
	sl_diag_free(&ds);
}

static void test_strip_keeps_only_what_is_read(void **state)
{
	char *a = strip_text(POD("r1", "reviews", "v1", "10.0.1.1", "True"));
	char *moved = strip_text(POD("r1", "reviews", "v2", "10.0.1.1", "True"));
	char *svc = strip_text(SVC("reviews", "10.96.0.20"));
	json_object *o = json_tokener_parse(objects[1]), *st, *cs;
	char *b;
	size_t len;

	/* a restart and a new resourceVersion are no change; a label is */
	assert_true(json_object_object_get_ex(o, "status", &st));
	assert_true(json_object_object_get_ex(st, "containerStatuses", &cs));
	json_object_object_add(json_object_array_get_idx(cs, 0), "restartCount",
			       json_object_new_int(4));
	b = sl_kube_strip(o, "v1", "Pod", &len);
	assert_string_equal(a, b);
	assert_string_not_equal(a, moved);
	assert_string_equal(
	    a,
	    "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"r1\", "
	    "\"namespace\": \"shop\", \"labels\": {\"app\": \"reviews\", \"version\": \"v1\"}}, "
	    "\"spec\": {\"containers\": [{\"ports\": [{\"name\": \"http\", \"containerPort\": "
	    "8080, \"protocol\": \"TCP\"}]}]}, \"status\": {\"phase\": \"Running\", \"podIP\": "
	    "\"10.0.1.1\", \"podIPs\": [{\"ip\": \"10.0.1.1\"}], \"conditions\": [{\"type\": "
	    "\"Ready\", \"status\": \"True\"}]}}");
	assert_null(strstr(svc, "managedFields"));
	assert_null(strstr(svc, "annotations"));
	assert_non_null(strstr(svc, "\"targetPort\": \"http\""));
	/* a kind sluice does not watch */
	assert_null(sl_kube_strip(o, "v1", "ConfigMap", &len));
	json_object_put(o);
	free(a);
	free(b);
	free(moved);
	free(svc);
}

static const struct sl_workload_cfg *workload_with(const struct sl_config *cfg, const char *key)
{
	size_t i, j;

	for (i = 0; i < cfg->n_workloads; i++)
		for (j = 0; j < cfg->workloads[i].n_labels; j++)
			if (!strcmp(cfg->workloads[i].labels[j].key, key))
				return &cfg->workloads[i];
	return NULL;
}

static const char *label_of(const struct sl_workload_cfg *w, const char *key)
{
	size_t j;

	for (j = 0; j < w->n_labels; j++)
		if (!strcmp(w->labels[j].key, key))
			return w->labels[j].value;
	return NULL;
}

/*
 * A JSON string may hold bytes YAML may not: DEL, a C1 control, invalid
 * UTF-8, NEL and LS (line breaks to YAML), and a key past libyaml's 1,024
 * characters for an implicit key. In one pod's label they must neither
 * take the other objects down with it (the stream stays readable) nor
 * change the value read back (but invalid UTF-8, which becomes U+FFFD).
 */
static void test_strip_strange_strings(void **state)
{
	static const char odd[] = "a\x7f" "b\xff" "c\xc2\x85" "d\xe2\x80\xa8" "e\xc2\x9f" "\"q\\";
	static const char back[] = "a\x7f" "b\xef\xbf\xbd" "c\xc2\x85" "d\xe2\x80\xa8" "e\xc2\x9f" "\"q\\";
	json_object *o = json_tokener_parse(POD("odd", "ratings", "v1", "10.0.3.9", "True"));
	json_object *md, *labels;
	const struct sl_workload_cfg *w;
	struct sl_config *cfg;
	struct sl_diag d;
	char long_key[1500 + 1];
	char *text;
	size_t len;

	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "metadata", &md));
	assert_true(json_object_object_get_ex(md, "labels", &labels));
	json_object_object_add(labels, "note", json_object_new_string_len(odd, sizeof(odd) - 1));
	json_object_object_add(labels, long_key, json_object_new_string("long"));
	text = sl_kube_strip(o, "v1", "Pod", &len);
	json_object_put(o);
	assert_non_null(text);
	/* printable ASCII only, on one line */
	for (size_t i = 0; i < len; i++)
		assert_true(text[i] >= 0x20 && text[i] < 0x7f);

	cfg = load_objects_and(true, text, &d);
	free(text);
	assert_int_equal(cfg->n_services, 2);
	assert_int_equal(cfg->n_workloads, 6);
	assert_int_equal(cfg->n_rejected, 1);
	assert_string_equal(cfg->rejected[0].name, "bad");
	w = workload_with(cfg, "note");
	assert_non_null(w);
	assert_string_equal(label_of(w, "note"), back);
	assert_string_equal(label_of(w, long_key), "long");
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* ---- model digest ---- */

static uint64_t digest_of(const char *yaml)
{
	struct sl_config *cfg = NULL;
	uint64_t h;

	assert_int_equal(sl_config_load_buf("d.yaml", yaml, strlen(yaml), &cfg, NULL), 0);
	h = sl_config_model_digest(cfg);
	sl_config_free(cfg);
	return h;
}

#define SVC_YAML(lead, weight)                                                                     \
	lead "services:\n"                                                                         \
	     "- name: web\n"                                                                       \
	     "  vips: [10.96.0.10]\n"                                                              \
	     "  ports: [{port: 80}]\n"                                                             \
	     "  subsets: {v1: {endpoints: [10.0.1.10]}, v2: {endpoints: [10.0.2.10]}}\n"           \
	     "  routes:\n"                                                                         \
	     "  - split: {v1: " weight ", v2: 10}\n"

static void test_model_digest(void **state)
{
	uint64_t h = digest_of(SVC_YAML("", "90"));

	/* positions are not the tables: a comment moves every line */
	assert_int_equal(digest_of(SVC_YAML("# moved down\n\n", "90")), h);
	assert_int_not_equal(digest_of(SVC_YAML("", "80")), h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jscan),
	    cmocka_unit_test(test_strip_loads_the_same),
	    cmocka_unit_test(test_strip_keeps_only_what_is_read),
	    cmocka_unit_test(test_strip_strange_strings),
	    cmocka_unit_test(test_model_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
