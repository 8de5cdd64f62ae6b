// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Config loader tests beyond one file: multi-document streams, Kubernetes
 * lists and kinds, directories (sorted, isolated, empty), several paths,
 * duplicates across files, the digest and the file listing.
 */
#include "config_common.h"

/* Service 'b' on another VIP: 6 lines, like L2 to L6_7. */
#define SVC_B "- name: b\n  vips: [10.0.0.2]\n" L4 L5 L6_7
#define WL    "workloads:\n- labels: {app: x}\n  ips: [10.0.3.10]\n"
#define DEPLOYMENT                                                                                 \
	"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n"

static void test_multi_document(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	/* 1-7 service a; 8 ---; 9 a comment (an empty document); 10 ---;
	 * 11-13 workloads; 14 ---; 15 explicit null; 16 ---; 17-23 service b. */
	cfg = load_ok(L1 L2 L3 L4 L5 L6_7 "---\n# nothing\n---\n" WL "---\n~\n---\n" L1 SVC_B, &d);
	assert_int_equal(d.n_msgs, 0);
	assert_int_equal(cfg->n_files, 1);
	assert_int_equal(cfg->n_services, 2);
	assert_string_equal(cfg->services[0].name, "a");
	assert_pos(&cfg->services[0].pos, "t.yaml", 2, 3);
	assert_string_equal(cfg->services[1].name, "b");
	assert_pos(&cfg->services[1].pos, "t.yaml", 18, 3);
	assert_pos(&cfg->services[1].ports[0].pos, "t.yaml", 20, 11);
	assert_int_equal(cfg->n_workloads, 1);
	assert_pos(&cfg->workloads[0].pos, "t.yaml", 12, 3);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* Services only in a later document; workloads alone first. */
	cfg = load_ok(WL "---\n" L1 L2 L3 L4 L5 L6_7, &d);
	assert_int_equal(cfg->n_services, 1);
	assert_int_equal(cfg->n_workloads, 1);
	assert_pos(&cfg->services[0].pos, "t.yaml", 6, 3);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* Cross-document checks work within one file as across files. */
static void test_multi_document_errors(void **state)
{
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\n" L1 L2 "  vips: [10.0.0.2]\n" L4 L5 L6_7,
		     "t.yaml:10:9: error: duplicate service name 'a'; service 'a' is already "
		     "defined at line 2");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\n" L1 "- name: b\n" L3 L4 L5 L6_7,
		     "t.yaml:10:3: error: service 'b' uses VIP 10.0.0.1 port 80/TCP, which "
		     "service 'a' already uses");
	/* A syntax error in a later document: the earlier ones do not save the file. */
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\n" L1 "- name: [b\n",
		     "t.yaml:11:1: error: invalid YAML: did not find expected ',' or ']' (while "
		     "parsing a flow sequence that starts at line 10, column 9)");
	/* Only empty documents: nothing to apply. */
	assert_error("---\n---\n# x\n",
		     "t.yaml:1:1: error: the file is empty; it needs a 'services' list");
	/* Documents with workloads only. */
	assert_error(WL "---\n" WL,
		     "t.yaml:1:1: error: no document has 'services'; at least one service is "
		     "needed");
}

/* A document that is neither sluice's format nor a Kubernetes object. */
static void test_bad_document_shape(void **state)
{
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\n- a\n",
		     "t.yaml:9:1: error: the top level must be a mapping with a 'services' list, "
		     "not a list");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\nhello\n",
		     "t.yaml:9:1: error: the top level must be a mapping with a 'services' list, "
		     "not a string");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\nservice: []\n",
		     "t.yaml:9:1: error: this document is neither a sluice configuration (with "
		     "'services' or 'workloads') nor a Kubernetes object (with 'apiVersion' and "
		     "'kind')");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\nservice: []\n",
		     "t.yaml:9:1: error: unknown key 'service' at the top level; expected one "
		     "of: services, workloads");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\n{}\n",
		     "t.yaml:9:1: error: this document is neither a sluice configuration (with "
		     "'services' or 'workloads') nor a Kubernetes object (with 'apiVersion' and "
		     "'kind')");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\nkind: Deployment\nmetadata: {name: x}\n",
		     "t.yaml:9:1: error: this document has 'kind' but no 'apiVersion'; a "
		     "Kubernetes object needs both");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\napiVersion: v1\nkind: [Pod]\n",
		     "t.yaml:10:7: error: 'kind' must be a string, not a list");
}

/* Run load() with debug logging captured; the log is returned (malloc'd). */
static char *load_logged(const char *yaml, struct sl_config **cfg, struct sl_diag *d, int *err)
{
	char path[] = "/tmp/sl-test-log-XXXXXX", *log;
	enum sl_log_level level = sl_log_get_level();
	int fd, saved;
	size_t len;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	sl_log_set_level(SL_LOG_DEBUG);
	*err = load(yaml, cfg, d);
	sl_log_set_level(level);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	assert_int_equal(sl_read_file(path, &log, &len), 0);
	unlink(path);
	log = realloc(log, len + 1);
	assert_non_null(log);
	log[len] = '\0';
	return log;
}

/* Other kinds (Deployments, ConfigMaps, Istio's Gateway...) are skipped, with a debug line. */
static void test_skipped_kinds(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;
	char *log;
	int err;

	/* 1-4 Deployment; 5 ---; 6-12 service a; 13 ---; 14-16 ConfigMap; 17 ---;
	 * 18-19 a Knative Service (not core v1); 20 ---; 21-22 an Istio Gateway. */
	log = load_logged(DEPLOYMENT "---\n" L1 L2 L3 L4 L5 L6_7
				     "---\napiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n"
				     "---\napiVersion: serving.knative.dev/v1\nkind: Service\n"
				     "---\napiVersion: networking.istio.io/v1\nkind: Gateway\n",
			  &cfg, &d, &err);
	if (err)
		dump_diag(&d);
	assert_int_equal(err, 0);
	assert_int_equal(d.n_msgs, 0);
	assert_int_equal(cfg->n_services, 1);
	assert_pos(&cfg->services[0].pos, "t.yaml", 7, 3);
	assert_non_null(strstr(log, "t.yaml:1: skipping apps/v1 Deployment"));
	assert_non_null(strstr(log, "t.yaml:14: skipping v1 ConfigMap"));
	assert_non_null(strstr(log, "t.yaml:18: skipping serving.knative.dev/v1 Service"));
	assert_non_null(strstr(log, "t.yaml:21: skipping networking.istio.io/v1 Gateway"));
	free(log);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* Nothing but skipped kinds: there is nothing to apply. */
	assert_error(DEPLOYMENT "---\n",
		     "t.yaml: error: no sluice configuration found (only empty documents and kinds "
		     "sluice skips); at least one service is needed");
}

/*
 * The routing kinds are read (tests/unit/test_k8s.c tests what they mean):
 * an Istio object without a spec is an error at the object, the core kinds
 * alone add nothing next to a service of our own.
 */
static void test_routing_kinds_read(void **state)
{
	static const struct {
		const char *api_version, *kind;
		bool error;
	} kinds[] = {
	    {"networking.istio.io/v1alpha3", "VirtualService", true},
	    {"networking.istio.io/v1beta1", "VirtualService", true},
	    {"networking.istio.io/v1", "VirtualService", true},
	    {"networking.istio.io/v1beta1", "DestinationRule", true},
	    {"v1", "Service", false},
	    {"v1", "Pod", false},
	    {"v1", "Endpoints", false},
	    {"discovery.k8s.io/v1", "EndpointSlice", false},
	};
	struct sl_config *cfg;
	char yaml[512], msg[256];
	struct sl_diag d;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		/* lines 1-7 service a, 8 ---, 9 a comment, 10 apiVersion */
		snprintf(yaml, sizeof(yaml),
			 L1 L2 L3 L4 L5 L6_7 "---\n# %s\napiVersion: %s\nkind: %s\n"
					     "metadata: {name: reviews}\n",
			 kinds[i].kind, kinds[i].api_version, kinds[i].kind);
		if (kinds[i].error) {
			snprintf(msg, sizeof(msg),
				 "t.yaml:10:1: error: %s default/reviews has no spec",
				 kinds[i].kind);
			load(yaml, &cfg, &d);
			assert_null(cfg);
			assert_true(d.n_msgs >= 1 && !strncmp(d.msgs[0], msg, strlen(msg)));
		} else {
			assert_int_equal(load(yaml, &cfg, &d), 0);
			assert_int_equal(cfg->n_services, 1);
			sl_config_free(cfg);
		}
		sl_diag_free(&d);
	}
}

static void test_k8s_list(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;
	char *log;
	int err;

	/* A List of kinds sluice skips, next to our own document. */
	log = load_logged("apiVersion: v1\nkind: List\nitems:\n"
			  "- apiVersion: apps/v1\n  kind: Deployment\n"
			  "- apiVersion: v1\n  kind: ConfigMap\n"
			  "---\n" L1 L2 L3 L4 L5 L6_7,
			  &cfg, &d, &err);
	assert_int_equal(err, 0);
	assert_int_equal(cfg->n_services, 1);
	assert_non_null(strstr(log, "t.yaml:4: skipping apps/v1 Deployment"));
	assert_non_null(strstr(log, "t.yaml:6: skipping v1 ConfigMap"));
	free(log);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* Each item is looked at: a VirtualService in a List is an error at the item. */
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\napiVersion: v1\nkind: List\nitems:\n"
					 "- apiVersion: apps/v1\n  kind: Deployment\n"
					 "- apiVersion: networking.istio.io/v1beta1\n"
					 "  kind: VirtualService\n  metadata: {name: reviews}\n",
		     "t.yaml:14:3: error: VirtualService default/reviews has no spec; it needs "
		     "spec.hosts and routes");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\napiVersion: v1\nkind: List\nitems:\n- 1\n"
					 "- {kind: Pod}\n",
		     "t.yaml:12:3: error: item 1 of the List must be a Kubernetes object, not a "
		     "string");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\napiVersion: v1\nkind: List\nitems:\n- 1\n"
					 "- {kind: Pod}\n",
		     "t.yaml:13:3: error: item 2 of the List is missing 'apiVersion'; every item "
		     "must be a Kubernetes object with 'apiVersion' and 'kind'");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\napiVersion: v1\nkind: List\nitems: {a: 1}\n",
		     "t.yaml:11:8: error: 'items' of a List must be a list, not a mapping");
	assert_error(L1 L2 L3 L4 L5 L6_7 "---\napiVersion: v1\nkind: List\nitems:\n"
					 "- {apiVersion: v1, kind: List, items: []}\n",
		     "t.yaml:12:3: error: a List inside a List is not supported");
	/* An empty List is nothing, not an error. */
	cfg = load_ok(L1 L2 L3 L4 L5 L6_7 "---\napiVersion: v1\nkind: List\nitems: []\n", &d);
	assert_int_equal(cfg->n_services, 1);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* Files on disk: a temporary directory per test, removed after it. */

static char tmp_root[64];

static int tmp_setup(void **state)
{
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/sl-test-config-XXXXXX");
	return mkdtemp(tmp_root) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int tmp_teardown(void **state)
{
	return nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmp_root/rel, written with text (rel ending in '/': a directory). */
static const char *tmp_put(const char *rel, const char *text)
{
	static char path[32][256];
	static int next;
	char *p = path[next++ % 32];
	FILE *f;

	snprintf(p, sizeof(path[0]), "%s/%s", tmp_root, rel);
	if (p[strlen(p) - 1] == '/') {
		p[strlen(p) - 1] = '\0';
		assert_int_equal(mkdir(p, 0755), 0);
		return p;
	}
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return p;
}

/* The path of rel in the temporary directory, for messages. */
static const char *tmp_path(const char *rel)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];

	snprintf(p, sizeof(path[0]), "%s/%s", tmp_root, rel);
	return p;
}

static int load_paths(const char *const paths[], size_t n, struct sl_config **cfg,
		      struct sl_diag *d)
{
	sl_diag_init(d);
	*cfg = (struct sl_config *)d;
	return sl_config_load_paths(paths, n, cfg, d);
}

static void assert_paths_error(const char *const paths[], size_t n, int want, const char *msg)
{
	struct sl_config *cfg;
	struct sl_diag d;
	int err;

	err = load_paths(paths, n, &cfg, &d);
	if (err != want)
		dump_diag(&d);
	assert_int_equal(err, want);
	assert_null(cfg);
	assert_true(d.n_errors >= 1);
	assert_true(has_msg(&d, msg));
	sl_diag_free(&d);
}

/*
 * `run` on a directory: a file that is not valid YAML, or has an error in
 * sluice's own format, is left out whole; the other files apply. One file
 * given alone is all or nothing.
 */
static void test_dir_isolated(void **state)
{
	const char *dir = tmp_put("iso/", NULL), *paths[] = {dir}, *one[1];
	struct sl_config *cfg = NULL;
	struct sl_diag d;
	int err;

	tmp_put("iso/a.yaml", L1 SVC_B);
	tmp_put("iso/b.yaml", "services:\n  - name: broken\n    vips: [10.96.0.12\n");
	tmp_put("iso/c.yaml", L1 "- name: c\n  vips: [10.0.0.3]\n  ports: [{port: 0}]\n");
	sl_diag_init(&d);
	err = sl_config_load_sources(paths, 1, NULL, 0, SL_LOAD_ISOLATE, &cfg, &d, NULL);
	if (err)
		dump_diag(&d);
	assert_int_equal(err, 0);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(cfg->n_services, 1);
	assert_string_equal(cfg->services[0].name, "b");
	assert_int_equal(cfg->n_rejected, 2);
	assert_string_equal(cfg->rejected[0].kind, "File");
	assert_string_equal(cfg->rejected[0].name, tmp_path("iso/b.yaml"));
	assert_string_equal(cfg->rejected[1].name, tmp_path("iso/c.yaml"));
	assert_true(d.n_warnings >= 2);
	sl_config_free(cfg);
	sl_diag_free(&d);

	one[0] = tmp_path("iso/b.yaml");
	sl_diag_init(&d);
	err = sl_config_load_sources(one, 1, NULL, 0, SL_LOAD_ISOLATE, &cfg, &d, NULL);
	assert_int_equal(err, -EINVAL);
	assert_null(cfg);
	sl_diag_free(&d);

	/* Nothing valid left: the load fails as before (the last good stays in force). */
	tmp_put("iso/a.yaml", "services: [\n");
	sl_diag_init(&d);
	err = sl_config_load_sources(paths, 1, NULL, 0, SL_LOAD_ISOLATE, &cfg, &d, NULL);
	assert_int_equal(err, -EINVAL);
	sl_diag_free(&d);
}

/*
 * A file left out before another: the rows its services took are taken
 * again, from a clean slate (they kept their counts and crashed `run`).
 */
static void test_dir_isolated_first(void **state)
{
	const char *dir = tmp_put("isofirst/", NULL), *paths[] = {dir};
	const struct sl_service_cfg *s;
	struct sl_config *cfg = NULL;
	struct sl_diag d;
	int err;

	tmp_put("isofirst/a.yaml",
		L1 "- name: a\n  vips: [10.0.0.1, 10.0.0.2, 10.0.0.3]\n"
		   "  ports: [{port: 80}, {port: 81}]\n"
		   "  subsets: {v1: {endpoints: [10.0.1.1, 10.0.1.2]}, v2: {endpoints: "
		   "[10.0.2.1]}}\n"
		   "  routes: [{split: {v1: 1, v2: 1}}]\n"
		   "- name: b\n  vips: [10.0.0.4]\n  ports: [{port: 0}]\n");
	tmp_put("isofirst/b.yaml", L1 "- name: z\n  vips: [10.0.0.9]\n  ports: [{port: 80}]\n"
				      "  subsets: {v1: {endpoints: [10.0.9.1]}}\n");
	sl_diag_init(&d);
	err = sl_config_load_sources(paths, 1, NULL, 0, SL_LOAD_ISOLATE, &cfg, &d, NULL);
	if (err)
		dump_diag(&d);
	assert_int_equal(err, 0);
	assert_int_equal(cfg->n_services, 1);
	assert_int_equal(cfg->n_rejected, 1);
	s = &cfg->services[0];
	assert_string_equal(s->name, "z");
	assert_int_equal(s->n_vips, 1);
	assert_addr(&s->vips[0], "10.0.0.9");
	assert_int_equal(s->n_ports, 1);
	assert_int_equal(s->n_subsets, 1);
	assert_int_equal(s->subsets[0].n_eps, 1);
	assert_int_equal(s->n_routes, 1);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* A directory: its *.yaml and *.yml files by name; nothing else in it. */
static void test_dir_sorted(void **state)
{
	const char *dir = tmp_put("conf/", NULL);
	const char *paths[] = {dir};
	struct sl_config *cfg;
	struct sl_diag d;
	int err;

	tmp_put("conf/b.yaml", L1 SVC_B);
	tmp_put("conf/a.yml", DEPLOYMENT "---\n" L1 L2 L3 L4 L5 L6_7);
	tmp_put("conf/c.yaml", WL);
	tmp_put("conf/README.txt", "not yaml: [\n");
	tmp_put("conf/.b.yaml.swp", "not yaml: [\n");
	tmp_put("conf/.#a.yaml", "not yaml: [\n");
	tmp_put("conf/b.yaml~", "not yaml: [\n");
	tmp_put("conf/sub.yaml/", NULL);
	tmp_put("conf/sub.yaml/z.yaml", "not yaml: [\n");

	err = load_paths(paths, 1, &cfg, &d);
	if (err)
		dump_diag(&d);
	assert_int_equal(err, 0);
	assert_int_equal(d.n_msgs, 0);
	assert_int_equal(cfg->n_files, 3);
	assert_string_equal(cfg->files[0], tmp_path("conf/a.yml"));
	assert_string_equal(cfg->files[1], tmp_path("conf/b.yaml"));
	assert_string_equal(cfg->files[2], tmp_path("conf/c.yaml"));
	assert_int_equal(cfg->n_services, 2);
	assert_string_equal(cfg->services[0].name, "a");
	assert_pos(&cfg->services[0].pos, tmp_path("conf/a.yml"), 7, 3);
	assert_ptr_equal(cfg->services[0].pos.file, cfg->files[0]);
	assert_string_equal(cfg->services[1].name, "b");
	assert_pos(&cfg->services[1].pos, tmp_path("conf/b.yaml"), 2, 3);
	assert_ptr_equal(cfg->services[1].subsets[0].eps[0].pos.file, cfg->files[1]);
	assert_int_equal(cfg->n_workloads, 1);
	assert_pos(&cfg->workloads[0].pos, tmp_path("conf/c.yaml"), 2, 3);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* A trailing slash makes no double slash. */
	{
		char with_slash[256];
		const char *p2[] = {with_slash};

		snprintf(with_slash, sizeof(with_slash), "%s/", dir);
		err = load_paths(p2, 1, &cfg, &d);
		assert_int_equal(err, 0);
		assert_string_equal(cfg->files[0], tmp_path("conf/a.yml"));
		sl_config_free(cfg);
		sl_diag_free(&d);
	}

	/* sl_config_load_file takes a directory too. */
	sl_diag_init(&d);
	assert_int_equal(sl_config_load_file(dir, &cfg, &d), 0);
	assert_int_equal(cfg->n_services, 2);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_empty_dir(void **state)
{
	const char *dir = tmp_put("empty/", NULL);
	const char *paths[] = {dir};
	char msg[256];

	snprintf(msg, sizeof(msg),
		 "%s: error: the directory has no *.yaml or *.yml files; sluice reads those", dir);
	assert_paths_error(paths, 1, -EINVAL, msg);
	/* Files of other names do not count. */
	tmp_put("empty/sluice.json", "{}");
	tmp_put("empty/.hidden.yaml", L1 L2 L3 L4 L5 L6_7);
	assert_paths_error(paths, 1, -EINVAL, msg);
}

/* Several paths, files and directories mixed, in the order given. */
static void test_several_paths(void **state)
{
	const char *dir = tmp_put("d/", NULL);
	const char *wl = tmp_put("workloads.yaml", WL);
	const char *paths[] = {wl, dir};
	struct sl_config *cfg;
	struct sl_diag d;
	int err;

	tmp_put("d/svc.yaml", L1 L2 L3 L4 L5 L6_7);
	tmp_put("d/svc-b.yaml", L1 SVC_B);
	err = load_paths(paths, 2, &cfg, &d);
	if (err)
		dump_diag(&d);
	assert_int_equal(err, 0);
	assert_int_equal(cfg->n_files, 3);
	assert_string_equal(cfg->files[0], wl);
	assert_string_equal(cfg->files[1], tmp_path("d/svc-b.yaml"));
	assert_string_equal(cfg->files[2], tmp_path("d/svc.yaml"));
	assert_int_equal(cfg->n_services, 2);
	assert_string_equal(cfg->services[0].name, "b");
	assert_string_equal(cfg->services[1].name, "a");
	assert_int_equal(cfg->n_workloads, 1);
	assert_ptr_equal(cfg->workloads[0].pos.file, cfg->files[0]);
	sl_config_free(cfg);
	sl_diag_free(&d);

	/* Errors keep the position in their own file. */
	tmp_put("d/svc-b.yaml", L1 "- name: b\n  vips: [10.0.0.300]\n" L4 L5 L6_7);
	{
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "%s:3:10: error: VIP '10.0.0.300' is not a valid IPv4 or IPv6 address",
			 tmp_path("d/svc-b.yaml"));
		assert_paths_error(paths, 2, -EINVAL, msg);
	}

	/* A path that does not exist: a read error, after the others were checked. */
	{
		const char *p3[] = {wl, tmp_path("nope.yaml")};
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "%s: error: cannot read the file: No such file or directory",
			 tmp_path("nope.yaml"));
		assert_paths_error(p3, 2, -ENOENT, msg);
	}

	/* The same file twice (here: directly and through its directory). */
	{
		const char *p4[] = {tmp_path("d/svc.yaml"), dir};
		char msg[512];

		snprintf(msg, sizeof(msg),
			 "%s: error: this is the same file as %s; give each file once",
			 tmp_path("d/svc.yaml"), tmp_path("d/svc.yaml"));
		assert_paths_error(p4, 2, -EINVAL, msg);
	}

	/* Workloads alone in every file. */
	{
		const char *p5[] = {wl};
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "%s:1:1: error: no 'services' at the top level; at least one service is "
			 "needed",
			 wl);
		assert_paths_error(p5, 1, -EINVAL, msg);
	}
}

static void test_duplicate_service_across_files(void **state)
{
	const char *a = tmp_put("a.yaml", L1 L2 L3 L4 L5 L6_7);
	const char *b = tmp_put("b.yaml", "# b\n" L1 L2 "  vips: [10.0.0.2]\n" L4 L5 L6_7);
	const char *paths[] = {a, b};
	char msg[512];

	snprintf(msg, sizeof(msg),
		 "%s:3:9: error: duplicate service name 'a'; service 'a' is already defined at "
		 "%s:2",
		 b, a);
	assert_paths_error(paths, 2, -EINVAL, msg);
}

static void test_duplicate_vip_port_across_files(void **state)
{
	const char *a = tmp_put("a.yaml", L1 L2 L3 L4 L5 L6_7);
	const char *b = tmp_put("b.yaml", L1 "- name: b\n" L3 L4 L5 L6_7);
	const char *paths[] = {a, b};
	struct sl_config *cfg;
	struct sl_diag d;
	char msg[512];

	snprintf(msg, sizeof(msg),
		 "%s:2:3: error: service 'b' uses VIP 10.0.0.1 port 80/TCP, which service 'a' "
		 "at %s:2 already uses",
		 b, a);
	assert_paths_error(paths, 2, -EINVAL, msg);

	/* The same VIP on another port is fine. */
	tmp_put("b.yaml", L1 "- name: b\n" L3 "  ports: [{port: 81}]\n" L5 L6_7);
	assert_int_equal(load_paths(paths, 2, &cfg, &d), 0);
	assert_int_equal(cfg->n_services, 2);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/* The (VIP, port) limit counts every file together. */
static void test_too_many_vip_ports_across_files(void **state)
{
	char *yaml[2], msg[512], name[16];
	const char *paths[2];
	size_t cap = 16384, off;
	int f, i;

	/* 2 files x 257 VIPs x 128 ports = 65792 pairs; either alone is within the limit. */
	for (f = 0; f < 2; f++) {
		yaml[f] = malloc(cap);
		assert_non_null(yaml[f]);
		off = snprintf(yaml[f], cap, "services:\n- name: s%d\n  vips: [", f);
		for (i = 0; i < 257; i++)
			off += snprintf(yaml[f] + off, cap - off, "%s10.%d.%d.%d", i ? ", " : "", f,
					i / 200, i % 200 + 1);
		off += snprintf(yaml[f] + off, cap - off, "]\n  ports: [");
		for (i = 0; i < 128; i++)
			off += snprintf(yaml[f] + off, cap - off, "%s{port: %d}", i ? ", " : "",
					i + 1);
		snprintf(yaml[f] + off, cap - off, "]\n" L5 L6_7);
		snprintf(name, sizeof(name), "s%d.yaml", f);
		paths[f] = tmp_put(name, yaml[f]);
		free(yaml[f]);
	}
	snprintf(msg, sizeof(msg),
		 "%s:2:3: error: service 's1' brings the number of (VIP, port) pairs to 65792; "
		 "the limit is 65536",
		 paths[1]);
	assert_paths_error(paths, 2, -EINVAL, msg);
}

/* One digest over every file: for one file, the digest of its bytes. */
static void test_digest(void **state)
{
	static const char svc[] = L1 L2 L3 L4 L5 L6_7, svc_b[] = L1 SVC_B;
	const char *a = tmp_put("a.yaml", svc);
	const char *dir = tmp_put("d/", NULL);
	const char *one[] = {a}, *both[] = {dir};
	struct sl_config *cfg;
	struct sl_diag d;
	uint64_t h, h2, h3;

	sl_diag_init(&d);
	assert_int_equal(sl_config_load_paths_digest(one, 1, &cfg, &d, &h), 0);
	assert_true(h == sl_config_digest(svc, strlen(svc)));
	sl_config_free(cfg);

	tmp_put("d/1.yaml", svc);
	tmp_put("d/2.yaml", svc_b);
	assert_int_equal(sl_config_load_paths_digest(both, 1, &cfg, &d, &h2), 0);
	sl_config_free(cfg);
	assert_true(h2 != h && h2 != 0);
	/* Other bytes in the files is another input, even if it means the same (an
	 * empty file next to a valid one is fine). */
	tmp_put("d/1.yaml", "");
	tmp_put("d/2.yaml", svc);
	assert_int_equal(sl_config_load_paths_digest(both, 1, &cfg, &d, &h3), 0);
	assert_true(h3 != 0 && h3 != h2);
	sl_config_free(cfg);
	/* Invalid input still has a digest (so `run` reports it once) ... */
	tmp_put("d/1.yaml", "services: [\n");
	assert_int_equal(sl_config_load_paths_digest(both, 1, &cfg, &d, &h), -EINVAL);
	assert_true(h != 0 && h != h2 && h != h3);
	assert_int_equal(sl_config_load_paths_digest(both, 1, &cfg, &d, &h2), -EINVAL);
	assert_true(h == h2);
	/* ... but unreadable input has none. */
	one[0] = tmp_path("missing.yaml");
	assert_int_equal(sl_config_load_paths_digest(one, 1, &cfg, &d, &h), -ENOENT);
	assert_true(h == 0);
	sl_diag_free(&d);
}

static void test_list_files(void **state)
{
	const char *dir = tmp_put("d/", NULL);
	const char *f = tmp_put("f.yaml", "");
	const char *paths[] = {f, dir, tmp_path("none")};
	struct sl_diag d;
	char **files;
	size_t n;

	tmp_put("d/z.yml", "");
	tmp_put("d/a.yaml", "");
	sl_diag_init(&d);
	assert_int_equal(sl_config_list_files(paths, 3, &files, &n, &d), -ENOENT);
	assert_int_equal(n, 3);
	assert_string_equal(files[0], f);
	assert_string_equal(files[1], tmp_path("d/a.yaml"));
	assert_string_equal(files[2], tmp_path("d/z.yml"));
	assert_int_equal(d.n_errors, 1);
	sl_config_free_files(files, n);
	sl_diag_free(&d);

	assert_true(sl_config_yaml_name("a.yaml"));
	assert_true(sl_config_yaml_name("a.yml"));
	assert_false(sl_config_yaml_name(".a.yaml"));
	assert_false(sl_config_yaml_name("a.yaml.swp"));
	assert_false(sl_config_yaml_name(".yaml"));
	assert_false(sl_config_yaml_name("a.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_multi_document),
	    cmocka_unit_test(test_multi_document_errors),
	    cmocka_unit_test(test_bad_document_shape),
	    cmocka_unit_test(test_skipped_kinds),
	    cmocka_unit_test(test_routing_kinds_read),
	    cmocka_unit_test(test_k8s_list),
	    cmocka_unit_test_setup_teardown(test_dir_sorted, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_dir_isolated, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_dir_isolated_first, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_empty_dir, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_several_paths, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_service_across_files, tmp_setup,
					    tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_vip_port_across_files, tmp_setup,
					    tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_vip_ports_across_files, tmp_setup,
					    tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_digest, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_list_files, tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
