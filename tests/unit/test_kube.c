// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Kubernetes client (user/kube/kube.c) against the fake API server
 * (tests/e2e/kube_fake.py: HTTPS with a self-signed CA, a bearer token): a
 * paged list of every kind, watch events (ADDED, MODIFIED, DELETED) of each
 * kind, a bookmark and a dropped watch resumed without a list, 410 Gone as
 * an ERROR event and as an HTTP status (listed again), list pages without a
 * resourceVersion, kinds not served, a refused token, a server that goes
 * away, and stop with watches open.
 *
 * Each test starts a fresh fake (same fixtures, so the same state) and its
 * own client, and checks what sl_kube_render() hands to the config loader
 * and what the loader makes of it. Under `make test-asan` this is also the
 * leak and use-after-free check of the client's threads and stores.
 *
 * Needs python3 and openssl. Run from the repository root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <json-c/json_pointer.h>

#include "config/config.h"
#include "kube/kube.h"
#include "lib/log.h"

#define FAKE	 "tests/e2e/kube_fake.py"
#define TOKEN	 "sluice-test-token"
#define N_FILLER 520   /* pods past the client's first page of 500 */
#define WAIT_MS	 10000 /* for a change to show; it takes milliseconds */
#define STOP_MS	 5000  /* for sl_kube_stop() with watches open */

/*
 * Files made once: the fake's certificate and key, tokens, fixtures. In
 * /tmp/sluice-test-PID-*, which tests/run.sh removes if a crash left it.
 */
static char dir[64];
static char ca[PATH_MAX], key[PATH_MAX], token[PATH_MAX], bad_token[PATH_MAX];
static char fx_all[PATH_MAX], fx_core[PATH_MAX];

/* The running test's fake and client. */
static pid_t fake;
static char api[64];
static struct sl_kube *kube;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* argv in a child whose stdout is out (stderr too when quiet); its pid. */
static pid_t spawn(char *const argv[], int out, bool quiet)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	/* no server left behind if this test dies */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	dup2(out, STDOUT_FILENO);
	if (quiet)
		dup2(out, STDERR_FILENO);
	execvp(argv[0], argv);
	_exit(127);
}

static int write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	if (!f)
		return -1;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	return fclose(f);
}

/* ------------------------------------------------------------ objects */

/* A formatted string, malloc'd (asprintf that the test does not let fail). */
static char *__attribute__((format(printf, 1, 2))) str(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	return s;
}

static char *pod(const char *name, const char *version, const char *ip, bool ready)
{
	return str("{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": "
		   "\"%s\", \"namespace\": \"default\", \"labels\": {\"app\": \"%s\", "
		   "\"version\": \"%s\"}}, \"spec\": {\"containers\": [{\"name\": \"c\", "
		   "\"ports\": [{\"name\": \"http\", \"containerPort\": 8080}]}]}, "
		   "\"status\": {\"phase\": \"Running\", \"podIP\": \"%s\", \"conditions\": "
		   "[{\"type\": \"Ready\", \"status\": \"%s\"}]}}",
		   name, version[0] ? "backend" : "filler", version, ip, ready ? "True" : "False");
}

static char *vs(int w1, int w2)
{
	return str("{\"apiVersion\": \"networking.istio.io/v1beta1\", \"kind\": "
		   "\"VirtualService\", \"metadata\": {\"name\": \"backend\", \"namespace\": "
		   "\"default\"}, \"spec\": {\"hosts\": [\"backend\"], \"http\": [{\"route\": "
		   "[{\"destination\": {\"host\": \"backend\", \"subset\": \"v1\"}, "
		   "\"weight\": %d}, {\"destination\": {\"host\": \"backend\", \"subset\": "
		   "\"v2\"}, \"weight\": %d}]}]}}",
		   w1, w2);
}

#define SERVICE                                                                                    \
	"{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"backend\", "   \
	"\"namespace\": \"default\"}, \"spec\": {\"clusterIP\": \"10.96.0.10\", \"selector\": "    \
	"{\"app\": \"backend\"}, \"ports\": [{\"name\": \"http\", \"port\": 80, \"targetPort\": "  \
	"\"http\"}]}}"
#define SLICE                                                                                      \
	"{\"apiVersion\": \"discovery.k8s.io/v1\", \"kind\": \"EndpointSlice\", \"metadata\": "    \
	"{\"name\": \"other-x1\", \"namespace\": \"default\", \"labels\": "                        \
	"{\"kubernetes.io/service-name\": \"other\"}}, \"addressType\": \"IPv4\", "                \
	"\"endpoints\": [{\"addresses\": [\"10.0.3.10\"], \"conditions\": {\"ready\": true}}], "   \
	"\"ports\": [{\"name\": \"http\", \"port\": 8080}]}"
#define DR                                                                                         \
	"{\"apiVersion\": \"networking.istio.io/v1beta1\", \"kind\": \"DestinationRule\", "        \
	"\"metadata\": {\"name\": \"backend\", \"namespace\": \"default\"}, \"spec\": {\"host\": " \
	"\"backend\", \"subsets\": [{\"name\": \"v1\", \"labels\": {\"version\": \"v1\"}}, "       \
	"{\"name\": \"v2\", \"labels\": {\"version\": \"v2\"}}]}}"

/* An object of a kind with nothing but its name, for the watch of each kind. */
static char *bare(const char *api_version, const char *kind, const char *name)
{
	return str("{\"apiVersion\": \"%s\", \"kind\": \"%s\", \"metadata\": {\"name\": \"%s\", "
		   "\"namespace\": \"other\"}}",
		   api_version, kind, name);
}

/*
 * Fixtures: the Service, its v1 and v2 pods, N_FILLER pods of something
 * else (the pods take two pages), an EndpointSlice, the DestinationRule
 * and the VirtualService at 80/20. fx_core lacks the Istio kinds, the
 * last two (404).
 */
static int write_fixtures(const char *d, bool istio)
{
	char path[PATH_MAX + 32], name[32], ip[32],
	    *pods = NULL, *v = vs(80, 20), *p1 = pod("backend-v1-a", "v1", "10.0.1.10", true),
	    *p2 = pod("backend-v2-a", "v2", "10.0.2.10", true), *p;
	const char *files[][2] = {{"services", SERVICE},
				  {"endpointslices", SLICE},
				  {"pods", NULL},
				  {"destinationrules", DR},
				  {"virtualservices", v}};
	size_t len = 0, i;
	FILE *f = open_memstream(&pods, &len);
	int err;

	assert_non_null(f);
	fprintf(f, "%s, %s", p1, p2);
	for (i = 0; i < N_FILLER; i++) {
		snprintf(name, sizeof(name), "filler-%03zu", i);
		snprintf(ip, sizeof(ip), "10.1.%zu.%zu", i / 200, i % 200 + 1);
		p = pod(name, "", ip, true);
		fprintf(f, ", %s", p);
		free(p);
	}
	err = fclose(f) || mkdir(d, 0700);
	files[2][1] = pods;
	for (i = 0; !err && i < (istio ? 5 : 3); i++) {
		snprintf(path, sizeof(path), "%s/%s.json", d, files[i][0]);
		err = write_file(path, "[%s]\n", files[i][1]);
	}
	free(pods);
	free(p1);
	free(p2);
	free(v);
	return err;
}

static int group_setup(void **state)
{
	char *openssl[] = {"openssl",  "req",
			   "-x509",    "-nodes",
			   "-days",    "1",
			   "-subj",    "/CN=kube-fake",
			   "-newkey",  "ec",
			   "-pkeyopt", "ec_paramgen_curve:prime256v1",
			   "-addext",  "subjectAltName=IP:127.0.0.1",
			   "-keyout",  key,
			   "-out",     ca,
			   NULL};
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC), status = -1;
	pid_t pid;

	snprintf(dir, sizeof(dir), "/tmp/sluice-test-%d-kube-XXXXXX", (int)getpid());
	if (!mkdtemp(dir) || null < 0)
		return -1;
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(token, sizeof(token), "%s/token", dir);
	snprintf(bad_token, sizeof(bad_token), "%s/bad-token", dir);
	snprintf(fx_all, sizeof(fx_all), "%s/all", dir);
	snprintf(fx_core, sizeof(fx_core), "%s/core", dir);
	pid = spawn(openssl, null, true);
	close(null);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || status) {
		fprintf(stderr, "openssl req failed (status %d)\n", status);
		return -1;
	}
	/* the client strips the newline a token file ends with */
	if (write_file(token, "%s\n", TOKEN) || write_file(bad_token, "not-%s\n", TOKEN) ||
	    write_fixtures(fx_all, true) || write_fixtures(fx_core, false))
		return -1;
	sl_log_set_level(SL_LOG_DEBUG); /* every message formatted, under the sanitizers too */
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int group_teardown(void **state)
{
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------ the fake */

static int fake_start(const char *fixtures)
{
	char *argv[] = {"python3", FAKE, "--port",  "0",   "--cert",	 ca,
			"--key",   key,	 "--token", token, "--fixtures", (char *)fixtures,
			NULL};
	char line[128] = "";
	struct pollfd pfd;
	int p[2], port;
	ssize_t n, got = 0;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fake = spawn(argv, p[1], false);
	close(p[1]);
	pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
	/* "serving on https://127.0.0.1:PORT\n" */
	while (!strchr(line, '\n') && got < (ssize_t)sizeof(line) - 1 &&
	       poll(&pfd, 1, WAIT_MS) == 1 &&
	       (n = read(p[0], line + got, sizeof(line) - 1 - got)) > 0)
		got += n;
	close(p[0]);
	if (sscanf(line, "serving on https://127.0.0.1:%d", &port) != 1) {
		fprintf(stderr, "the fake API server did not start: '%s'\n", line);
		return -EIO;
	}
	snprintf(api, sizeof(api), "https://127.0.0.1:%d", port);
	return 0;
}

static void fake_stop(void)
{
	if (fake <= 0)
		return;
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	fake = 0;
}

/* GET (body NULL) or POST the fake's /_ctl/PATH; the reply parsed, NULL on failure. */
static json_object *ctl(const char *path, const char *body)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Authorization: Bearer " TOKEN);
	char url[256], *reply = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&reply, &len);
	json_object *o = NULL;
	long status = 0;
	CURL *c = curl_easy_init();

	assert_non_null(f);
	assert_non_null(c);
	snprintf(url, sizeof(url), "%s/_ctl/%s", api, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	fclose(f);
	if (status == 200)
		o = json_tokener_parse(reply);
	free(reply);
	return o;
}

/* POST /_ctl/CMD?kind=KIND with body; the resourceVersion the fake is at after it. */
static int command(const char *cmd, const char *kind, const char *body)
{
	char path[128];
	json_object *r;
	int rv;

	snprintf(path, sizeof(path), "%s?kind=%s", cmd, kind);
	r = ctl(path, body);
	assert_non_null(r);
	rv = json_object_get_int(json_object_object_get(r, "rv"));
	json_object_put(r);
	return rv;
}

/*
 * A change to an object of kind (the fake's plural): a watch event
 * ("event") or one no watch sees ("silent"); its resourceVersion.
 */
static int event(const char *how, const char *kind, const char *type, char *obj)
{
	char *body = str("{\"type\": \"%s\", \"object\": %s}", type, obj);
	int rv = command(how, kind, body);

	free(body);
	free(obj);
	return rv;
}

/* A number from the fake's /_ctl/stats, by JSON pointer (an array: its length); -1 if absent. */
static int __attribute__((format(printf, 1, 2))) fake_stat(const char *fmt, ...)
{
	json_object *s = ctl("stats", NULL), *v;
	char ptr[128];
	va_list ap;
	int n = -1;

	va_start(ap, fmt);
	vsnprintf(ptr, sizeof(ptr), fmt, ap);
	va_end(ap);
	assert_non_null(s);
	if (!json_pointer_get(s, ptr, &v))
		n = json_object_is_type(v, json_type_array) ? (int)json_object_array_length(v)
							    : json_object_get_int(v);
	json_object_put(s);
	return n;
}

/* ------------------------------------------------------------ the client */

static int start(const char *fixtures, const char *token_file)
{
	int err = fake_start(fixtures);

	if (err)
		return err;
	setenv("SLUICE_KUBE_API", api, 1);
	setenv("SLUICE_KUBE_TOKEN_FILE", token_file, 1);
	setenv("SLUICE_KUBE_CA_FILE", ca, 1);
	return sl_kube_start(&kube);
}

static int setup_all(void **state)
{
	return start(fx_all, token);
}

static int setup_core(void **state)
{
	return start(fx_core, token);
}

static int setup_bad_token(void **state)
{
	return start(fx_all, bad_token);
}

/* Stop the client; how long it took, in ms. */
static long stop(void)
{
	long t0 = now_ms();

	sl_kube_stop(kube);
	kube = NULL;
	return now_ms() - t0;
}

static int teardown(void **state)
{
	if (kube)
		stop();
	fake_stop();
	return 0;
}

static struct sl_kube_stats stats(void)
{
	struct sl_kube_stats s;

	sl_kube_stats(kube, &s);
	return s;
}

/* Until the client says something changed (its eventfd), at most until deadline. */
static void wait_change(long deadline)
{
	struct pollfd pfd = {.fd = sl_kube_fd(kube), .events = POLLIN};
	long left = deadline - now_ms();

	/* a change before the last ack shows without a signal: look again soon */
	poll(&pfd, 1, left < 0 ? 0 : left < 100 ? (int)left : 100);
	sl_kube_ack(kube);
}

#define WAIT_FOR(cond)                                                                             \
	({                                                                                         \
		long ___end = now_ms() + WAIT_MS;                                                  \
		bool ___ok;                                                                        \
		while (!(___ok = (cond)) && now_ms() < ___end)                                     \
			wait_change(___end);                                                       \
		___ok;                                                                             \
	})

static const char *str_at(json_object *o, const char *ptr)
{
	json_object *v;

	return json_pointer_get(o, ptr, &v) ? "" : json_object_get_string(v) ?: "";
}

/*
 * The objects sl_kube_render() hands out, in its order: after a comment
 * line, one "--- JSON" line each. Every line must parse. A json array.
 */
static json_object *rendered(void)
{
	json_object *all = json_object_new_array(), *o;
	char *text, *line, *save = NULL;
	size_t len = 0;

	text = sl_kube_render(kube, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_memory_equal(text, "# ", 2);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		assert_memory_equal(line, "--- ", 4);
		o = json_tokener_parse(line + 4);
		assert_non_null(o);
		json_object_array_add(all, o);
	}
	free(text);
	return all;
}

/* The rendered object of that kind and "namespace/name", a new reference; or NULL. */
static json_object *find(const char *kind, const char *ns_name)
{
	json_object *all = rendered(), *found = NULL, *o;
	char k[256];
	size_t i;

	for (i = 0; !found && i < json_object_array_length(all); i++) {
		o = json_object_array_get_idx(all, i);
		snprintf(k, sizeof(k), "%s/%s", str_at(o, "/metadata/namespace"),
			 str_at(o, "/metadata/name"));
		if (!strcmp(str_at(o, "/kind"), kind) && !strcmp(k, ns_name))
			found = json_object_get(o);
	}
	json_object_put(all);
	return found;
}

static bool has(const char *kind, const char *ns_name)
{
	json_object *o = find(kind, ns_name);
	bool found = o;

	json_object_put(o);
	return found;
}

/* How many objects of that kind are rendered. */
static int count(const char *kind)
{
	json_object *all = rendered();
	size_t i;
	int n = 0;

	for (i = 0; i < json_object_array_length(all); i++)
		n += !strcmp(str_at(json_object_array_get_idx(all, i), "/kind"), kind);
	json_object_put(all);
	return n;
}

/*
 * What the config loader makes of the render, for one subset of the
 * Service default/backend: "WEIGHT ADDR..." (the weight in the first
 * route), "" if there is no such service, "invalid" if it does not load.
 */
static char *subset(const char *name)
{
	struct sl_config_buf b = {.name = "kubernetes"};
	struct sl_config *cfg = NULL;
	const struct sl_service_cfg *s;
	char *text, *out = NULL, a[64];
	size_t len = 0, i, j;
	struct sl_diag diag;
	FILE *f;
	int idx;

	text = sl_kube_render(kube, &b.len);
	assert_non_null(text);
	b.data = text;
	sl_diag_init(&diag);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	if (sl_config_load_sources(NULL, 0, &b, 1, true, &cfg, &diag, NULL)) {
		for (i = 0; i < diag.n_msgs; i++)
			fprintf(stderr, "%s\n", diag.msgs[i]);
		fputs("invalid", f);
	}
	for (i = 0; cfg && i < cfg->n_services; i++) {
		s = &cfg->services[i];
		idx = sl_config_subset_index(s, name);
		if (strcmp(s->name, "backend.default") || idx < 0 || !s->n_routes)
			continue;
		fprintf(f, "%u", s->routes[0].weight[idx]);
		for (j = 0; j < s->subsets[idx].n_eps; j++)
			fprintf(f, " %s", sl_addr_str(&s->subsets[idx].eps[j].a, a, sizeof(a)));
	}
	fclose(f);
	sl_config_free(cfg);
	sl_diag_free(&diag);
	free(text);
	return out;
}

static bool subset_is(const char *name, const char *want)
{
	char *got = subset(name);
	bool eq = !strcmp(got, want);

	if (!eq)
		printf("  subset %s: '%s', waiting for '%s'\n", name, got, want);
	free(got);
	return eq;
}

/* The VirtualService's weight for a subset, as rendered; -1 if absent. */
static int vs_weight(const char *name)
{
	json_object *o = find("VirtualService", "default/backend");
	char ptr[64];
	int i, w = -1;

	for (i = 0; o && i < 2; i++) {
		snprintf(ptr, sizeof(ptr), "/spec/http/0/route/%d/destination/subset", i);
		if (!strcmp(str_at(o, ptr), name)) {
			snprintf(ptr, sizeof(ptr), "/spec/http/0/route/%d/weight", i);
			w = atoi(str_at(o, ptr));
		}
	}
	json_object_put(o);
	return w;
}

static void synced(void)
{
	assert_true(WAIT_FOR(sl_kube_synced(kube)));
}

static void stopped(void)
{
	long ms = stop();

	if (ms > STOP_MS)
		fail_msg("sl_kube_stop() took %ld ms", ms);
}

/* ------------------------------------------------------------ tests */

/*
 * The first list: every kind, the pods in two pages, in a fixed order,
 * metadata stripped to what the config reads, and the loader gets the
 * Service split 80/20 over the ready pods.
 */
static void test_list(void **state)
{
	static const char *const order[] = {"Service", "EndpointSlice", "Pod", "DestinationRule",
					    "VirtualService"};
	json_object *all, *o;
	char prev[256] = "", cur[256], *text;
	size_t i, len, k = 0;

	synced();
	assert_int_equal(stats().lists, 5);
	assert_int_equal(stats().errors, 0);
	assert_int_equal(fake_stat("/lists/pods"), 2); /* two pages */
	assert_int_equal(fake_stat("/lists/services"), 1);

	assert_int_equal(count("Pod"), 2 + N_FILLER);
	assert_true(has("Service", "default/backend"));
	assert_true(has("EndpointSlice", "default/other-x1"));
	assert_true(has("Pod", "default/backend-v1-a"));
	assert_true(has("Pod", "default/filler-519"));
	assert_true(has("DestinationRule", "default/backend"));
	assert_true(has("VirtualService", "default/backend"));

	/* kinds in order, then namespace/name */
	all = rendered();
	for (i = 0; i < json_object_array_length(all); i++) {
		o = json_object_array_get_idx(all, i);
		while (k < 5 && strcmp(str_at(o, "/kind"), order[k])) {
			k++;
			prev[0] = '\0';
		}
		assert_true(k < 5);
		snprintf(cur, sizeof(cur), "%s/%s", str_at(o, "/metadata/namespace"),
			 str_at(o, "/metadata/name"));
		assert_true(strcmp(prev, cur) < 0);
		memcpy(prev, cur, sizeof(prev));
		/* list items come without apiVersion and kind: the client adds them */
		assert_true(*str_at(o, "/apiVersion"));
	}
	json_object_put(all);

	text = sl_kube_render(kube, &len);
	assert_non_null(text);
	assert_null(strstr(text, "resourceVersion"));
	assert_null(strstr(text, "managedFields"));
	assert_null(strstr(text, "\"uid\""));
	assert_non_null(strstr(text, "\"version\": \"v2\"")); /* labels kept */
	free(text);

	assert_true(subset_is("v1", "80 10.0.1.10"));
	assert_true(subset_is("v2", "20 10.0.2.10"));
	stopped();
}

/* Events as they come: a pod ADDED (not ready, then ready), the VirtualService MODIFIED, the pod
 * DELETED. */
static void test_watch_events(void **state)
{
	synced();
	event("event", "pods", "ADDED", pod("backend-v1-b", "v1", "10.0.1.11", false));
	assert_true(WAIT_FOR(has("Pod", "default/backend-v1-b")));
	assert_true(subset_is("v1", "80 10.0.1.10"));

	event("event", "pods", "MODIFIED", pod("backend-v1-b", "v1", "10.0.1.11", true));
	assert_true(WAIT_FOR(subset_is("v1", "80 10.0.1.10 10.0.1.11")));

	event("event", "virtualservices", "MODIFIED", vs(50, 50));
	assert_true(WAIT_FOR(vs_weight("v2") == 50));
	assert_true(subset_is("v1", "50 10.0.1.10 10.0.1.11"));
	assert_true(subset_is("v2", "50 10.0.2.10"));

	event("event", "pods", "DELETED", pod("backend-v1-b", "v1", "10.0.1.11", true));
	assert_true(WAIT_FOR(!has("Pod", "default/backend-v1-b")));
	assert_true(subset_is("v1", "50 10.0.1.10"));

	assert_int_equal(stats().events, 4);
	assert_int_equal(stats().lists, 5); /* events, not lists */
	assert_int_equal(count("Pod"), 2 + N_FILLER);
	stopped();
}

/* Each kind's watch: an object ADDED, MODIFIED and DELETED. */
static void test_every_kind(void **state)
{
	static const struct {
		const char *plural, *api_version, *kind, *fixture;
	} kinds[] = {
	    {"services", "v1", "Service", "default/backend"},
	    {"endpointslices", "discovery.k8s.io/v1", "EndpointSlice", "default/other-x1"},
	    {"pods", "v1", "Pod", "default/backend-v1-a"},
	    {"destinationrules", "networking.istio.io/v1beta1", "DestinationRule",
	     "default/backend"},
	    {"virtualservices", "networking.istio.io/v1beta1", "VirtualService", "default/backend"},
	};
	size_t i;

	synced();
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		event("event", kinds[i].plural, "ADDED",
		      bare(kinds[i].api_version, kinds[i].kind, "extra"));
		assert_true(WAIT_FOR(has(kinds[i].kind, "other/extra")));
		event("event", kinds[i].plural, "MODIFIED",
		      bare(kinds[i].api_version, kinds[i].kind, "extra"));
		event("event", kinds[i].plural, "DELETED",
		      bare(kinds[i].api_version, kinds[i].kind, "extra"));
		assert_true(WAIT_FOR(!has(kinds[i].kind, "other/extra")));
		/* the fixture's object of that kind is still there */
		assert_true(has(kinds[i].kind, kinds[i].fixture));
	}
	assert_int_equal(stats().events, 15);
	assert_int_equal(stats().lists, 5);
	stopped();
}

/*
 * A BOOKMARK moves the watch on; a dropped watch resumes from there, and
 * what happened while it was down arrives without a new list.
 */
static void test_bookmark_and_drop(void **state)
{
	unsigned long events;
	int watches, brv, erv, rv;

	synced();
	events = stats().events;
	watches = fake_stat("/watches/virtualservices");
	brv = command("bookmark", "virtualservices", "");
	assert_true(WAIT_FOR(stats().events > events));

	command("drop", "virtualservices", "");
	erv = event("event", "virtualservices", "MODIFIED", vs(90, 10));
	assert_true(WAIT_FOR(vs_weight("v2") == 10));
	assert_true(subset_is("v2", "10 10.0.2.10"));
	assert_true(WAIT_FOR(fake_stat("/watches/virtualservices") > watches));
	/*
	 * The watch after the drop started at the bookmark, or at the event if
	 * the old watch still carried it: not at the list's version.
	 */
	rv = fake_stat("/watches/virtualservices/%d/rv", fake_stat("/watches/virtualservices") - 1);
	if (rv != brv)
		assert_int_equal(rv, erv);
	assert_int_equal(stats().lists, 5);
	assert_true(stats().errors >= 1);
	stopped();
}

/*
 * 410 Gone, as an ERROR event (pods) and as the HTTP status of the next
 * watch (virtualservices): listed again, and changes only a list can show
 * are there. A list that finds nothing new renders the same bytes.
 */
static void test_gone(void **state)
{
	char *before, *after;
	size_t lb, la;

	synced();
	event("silent", "pods", "DELETED", pod("backend-v1-a", "v1", "10.0.1.10", true));
	command("compact", "pods", "");
	assert_true(WAIT_FOR(!has("Pod", "default/backend-v1-a")));
	assert_int_equal(stats().gone, 1);
	assert_int_equal(stats().lists, 6);
	assert_int_equal(fake_stat("/lists/pods"), 4); /* two pages, twice */
	assert_true(subset_is("v1", "80"));

	event("silent", "virtualservices", "MODIFIED", vs(70, 30));
	command("compact", "virtualservices&mode=http", "");
	assert_true(WAIT_FOR(vs_weight("v2") == 30));
	assert_int_equal(stats().gone, 2);
	assert_int_equal(stats().lists, 7);
	assert_true(subset_is("v2", "30 10.0.2.10"));

	before = sl_kube_render(kube, &lb);
	assert_non_null(before);
	command("compact", "services", "");
	assert_true(WAIT_FOR(stats().lists == 8));
	after = sl_kube_render(kube, &la);
	assert_non_null(after);
	assert_int_equal(la, lb);
	assert_memory_equal(after, before, lb);
	free(before);
	free(after);
	stopped();
}

/*
 * A list whose later pages carry no resourceVersion: the version is the
 * first page's, kept past the page that held it, and watched from.
 */
static void test_bare_pages(void **state)
{
	int watches;

	synced();
	command("bare-pages", "pods", "");
	watches = fake_stat("/watches/pods");
	event("silent", "pods", "DELETED", pod("backend-v1-a", "v1", "10.0.1.10", true));
	command("compact", "pods", "");
	assert_true(WAIT_FOR(!has("Pod", "default/backend-v1-a")));
	assert_int_equal(stats().lists, 6);
	assert_int_equal(count("Pod"), 1 + N_FILLER);
	assert_true(WAIT_FOR(fake_stat("/watches/pods") > watches));
	assert_int_equal(fake_stat("/watches/pods/%d/rv", fake_stat("/watches/pods") - 1),
			 fake_stat("/rv"));
	stopped();
}

/* Kinds the cluster does not serve (no Istio: 404) count as listed, and empty. */
static void test_not_served(void **state)
{
	synced();
	assert_int_equal(stats().lists, 3);
	assert_int_equal(count("VirtualService"), 0);
	assert_int_equal(count("DestinationRule"), 0);
	assert_int_equal(count("Pod"), 2 + N_FILLER);
	assert_true(subset_is("v1", "")); /* nothing routes the Service */
	stopped();			  /* while those kinds wait to look again */
}

/* A token the server refuses: nothing is listed, every kind retries, stop still quick. */
static void test_refused(void **state)
{
	assert_true(WAIT_FOR(stats().errors >= 5));
	assert_false(sl_kube_synced(kube));
	assert_int_equal(stats().lists, 0);
	assert_int_equal(count("Service"), 0);
	stopped();
}

/* The server goes away under open watches: every kind fails, and retries until stopped. */
static void test_server_gone(void **state)
{
	synced();
	assert_true(
	    WAIT_FOR(fake_stat("/watches/services") == 1 && fake_stat("/watches/pods") == 1));
	fake_stop();
	assert_true(WAIT_FOR(stats().errors >= 5));
	/* what was listed stays */
	assert_true(has("VirtualService", "default/backend"));
	assert_true(subset_is("v2", "20 10.0.2.10"));
	stopped();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_list, setup_all, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_events, setup_all, teardown),
	    cmocka_unit_test_setup_teardown(test_every_kind, setup_all, teardown),
	    cmocka_unit_test_setup_teardown(test_bookmark_and_drop, setup_all, teardown),
	    cmocka_unit_test_setup_teardown(test_gone, setup_all, teardown),
	    cmocka_unit_test_setup_teardown(test_bare_pages, setup_all, teardown),
	    cmocka_unit_test_setup_teardown(test_not_served, setup_core, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup_bad_token, teardown),
	    cmocka_unit_test_setup_teardown(test_server_gone, setup_all, teardown),
	};

	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
	curl_global_cleanup();
	return failed;
}
