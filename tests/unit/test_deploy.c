// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * deploy/: every manifest parses (with the same libyaml sluice reads its
 * config with), and says what the README and the daemon rely on: the
 * privileges, the metrics port on the pod IP only, the probes on the
 * loopback health port, the pin directory's mount,
 * RBAC limited to list/watch of the five kinds --kubernetes reads, and a
 * ConfigMap example that `sluice check` accepts. The container file ships
 * a package for every library build/sluice links. Run from the repository
 * root (tests/run.sh does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/config.h"
#include "observe/metrics.h"

#define MAX_DOCS 8

struct manifest {
	yaml_document_t docs[MAX_DOCS];
	int n;
};

static void load(struct manifest *m, const char *path)
{
	yaml_parser_t p;
	FILE *f = fopen(path, "r");
	yaml_node_t *root;

	assert_non_null(f);
	memset(m, 0, sizeof(*m));
	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_file(&p, f);
	for (;;) {
		assert_true(m->n < MAX_DOCS);
		if (!yaml_parser_load(&p, &m->docs[m->n]))
			fail_msg("%s:%zu:%zu: %s", path, p.problem_mark.line + 1,
				 p.problem_mark.column + 1, p.problem);
		root = yaml_document_get_root_node(&m->docs[m->n]);
		if (!root) {
			yaml_document_delete(&m->docs[m->n]);
			break;
		}
		m->n++;
	}
	yaml_parser_delete(&p);
	fclose(f);
}

static void unload(struct manifest *m)
{
	int i;

	for (i = 0; i < m->n; i++)
		yaml_document_delete(&m->docs[i]);
}

/* Node at a path of mapping keys and [N] sequence indexes: "spec.containers.[0].name". */
static yaml_node_t *at(yaml_document_t *d, yaml_node_t *n, const char *path)
{
	char buf[256], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && n; tok = strtok_r(NULL, ".", &save)) {
		if (tok[0] == '[') {
			long i = strtol(tok + 1, NULL, 10);

			if (n->type != YAML_SEQUENCE_NODE ||
			    i >= n->data.sequence.items.top - n->data.sequence.items.start)
				return NULL;
			n = yaml_document_get_node(d, n->data.sequence.items.start[i]);
			continue;
		}
		if (n->type != YAML_MAPPING_NODE)
			return NULL;
		yaml_node_pair_t *pair;
		yaml_node_t *found = NULL;

		for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
			yaml_node_t *k = yaml_document_get_node(d, pair->key);

			if (k->type == YAML_SCALAR_NODE &&
			    !strcmp((char *)k->data.scalar.value, tok))
				found = yaml_document_get_node(d, pair->value);
		}
		n = found;
	}
	return n;
}

static const char *str(yaml_document_t *d, yaml_node_t *n, const char *path)
{
	n = at(d, n, path);
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static size_t seq_len(yaml_document_t *d, yaml_node_t *n, const char *path)
{
	n = at(d, n, path);
	return n && n->type == YAML_SEQUENCE_NODE
		   ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
		   : 0;
}

/* The scalars of a sequence, joined by spaces. */
static const char *joined(yaml_document_t *d, yaml_node_t *n, const char *path)
{
	static char buf[1024];
	size_t i, len = seq_len(d, n, path);
	char idx[32];

	buf[0] = '\0';
	for (i = 0; i < len; i++) {
		snprintf(idx, sizeof(idx), "[%zu]", i);
		strncat(buf, i ? " " : "", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, str(d, at(d, n, path), idx) ?: "?", sizeof(buf) - strlen(buf) - 1);
	}
	return buf;
}

/* The document of this kind (and name, if not NULL). */
static yaml_node_t *find(struct manifest *m, const char *kind, const char *name,
			 yaml_document_t **doc)
{
	int i;

	for (i = 0; i < m->n; i++) {
		yaml_node_t *r = yaml_document_get_root_node(&m->docs[i]);
		const char *k = str(&m->docs[i], r, "kind");
		const char *nm = str(&m->docs[i], r, "metadata.name");

		if (k && !strcmp(k, kind) && (!name || (nm && !strcmp(nm, name)))) {
			*doc = &m->docs[i];
			return r;
		}
	}
	fail_msg("no %s%s%s", kind, name ? " " : "", name ?: "");
	return NULL;
}

static void every_document_is_an_object(void **state)
{
	static const char *const files[] = {"deploy/daemonset.yaml", "deploy/rbac.yaml",
					    "deploy/configmap.yaml"};
	struct manifest m;
	size_t f;
	int i;

	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		load(&m, files[f]);
		assert_true(m.n > 0);
		for (i = 0; i < m.n; i++) {
			yaml_node_t *r = yaml_document_get_root_node(&m.docs[i]);

			assert_non_null(str(&m.docs[i], r, "apiVersion"));
			assert_non_null(str(&m.docs[i], r, "kind"));
			assert_non_null(str(&m.docs[i], r, "metadata.name"));
		}
		unload(&m);
	}
}

static void daemonset(void **state)
{
	struct manifest m;
	yaml_document_t *d;
	yaml_node_t *ds, *spec, *c, *init;
	const char *args, *port = "9190", *hport = "9191";
	struct sl_metrics_addr ma, ha;
	const char *why, *arg;
	char buf[64];

	load(&m, "deploy/daemonset.yaml");
	ds = find(&m, "DaemonSet", "sluice", &d);
	assert_string_equal(str(d, ds, "apiVersion"), "apps/v1");
	assert_string_equal(str(d, ds, "metadata.namespace"), "kube-system");
	spec = at(d, ds, "spec.template.spec");
	assert_non_null(spec);
	assert_string_equal(str(d, spec, "hostNetwork"), "true");
	assert_string_equal(str(d, spec, "hostPID"), "false");
	assert_string_equal(str(d, spec, "priorityClassName"), "system-node-critical");
	assert_string_equal(str(d, spec, "serviceAccountName"), "sluice");
	assert_string_equal(str(d, ds, "spec.updateStrategy.rollingUpdate.maxSurge"), "0");

	c = at(d, spec, "containers.[0]");
	assert_non_null(c);
	args = joined(d, c, "args");
	assert_non_null(strstr(args, "run --kubernetes --config=/etc/sluice --iface-pattern="));
	/*
	 * Metrics on the pod IP only (the node's: Prometheus scrapes it there),
	 * never every address; the probes on a listener of their own, on
	 * loopback, where the kubelet reaches it and no pod does.
	 */
	assert_null(strstr(args, "0.0.0.0"));
	assert_null(strstr(args, "[::]"));
	assert_non_null(arg = strstr(args, "--metrics=$(POD_IP):"));
	snprintf(buf, sizeof(buf), "10.0.0.5:%s", arg + strlen("--metrics=$(POD_IP):"));
	*strchrnul(buf, ' ') = '\0';
	assert_int_equal(sl_metrics_parse_addr(buf, &ma, &why), 0);
	assert_string_equal(buf + strlen("10.0.0.5:"), port);
	assert_string_equal(str(d, c, "env.[0].name"), "POD_IP");
	assert_string_equal(str(d, c, "env.[0].valueFrom.fieldRef.fieldPath"), "status.podIP");
	assert_non_null(arg = strstr(args, "--health="));
	snprintf(buf, sizeof(buf), "%s", arg + strlen("--health="));
	*strchrnul(buf, ' ') = '\0';
	assert_int_equal(sl_metrics_parse_addr(buf, &ha, &why), 0);
	assert_string_equal(ha.str, "127.0.0.1:9191");
	assert_string_equal(str(d, c, "readinessProbe.httpGet.host"), "127.0.0.1");
	assert_string_equal(str(d, c, "readinessProbe.httpGet.path"), "/healthz");
	assert_string_equal(str(d, c, "readinessProbe.httpGet.port"), hport);
	assert_string_equal(str(d, c, "livenessProbe.httpGet.host"), "127.0.0.1");
	assert_string_equal(str(d, c, "livenessProbe.httpGet.path"), "/healthz");
	assert_string_equal(str(d, c, "livenessProbe.httpGet.port"), hport);
	assert_string_equal(str(d, c, "ports.[0].containerPort"), port);
	assert_int_equal(seq_len(d, c, "ports"), 1);

	/* The least it needs: docs/metrics.md and the comment there say why. */
	assert_string_equal(str(d, c, "securityContext.privileged"), "false");
	assert_string_equal(str(d, c, "securityContext.allowPrivilegeEscalation"), "false");
	assert_string_equal(str(d, c, "securityContext.readOnlyRootFilesystem"), "true");
	assert_string_equal(str(d, c, "securityContext.runAsUser"), "0");
	assert_string_equal(str(d, c, "volumeMounts.[1].mountPath"), "/etc/sluice");
	assert_string_equal(str(d, c, "volumeMounts.[1].readOnly"), "true");
	assert_string_equal(str(d, c, "volumeMounts.[2].mountPath"), "/run/sluice");
	assert_string_equal(str(d, spec, "volumes.[2].hostPath.path"), "/run/sluice");
	assert_string_equal(joined(d, c, "securityContext.capabilities.add"),
			    "BPF NET_ADMIN PERFMON");
	assert_string_equal(joined(d, c, "securityContext.capabilities.drop"), "ALL");
	assert_string_equal(str(d, c, "volumeMounts.[0].mountPath"), "/sys/fs/bpf");
	assert_string_equal(str(d, c, "volumeMounts.[0].mountPropagation"), "HostToContainer");

	/* Bidirectional propagation is allowed only in a privileged container: the init one. */
	init = at(d, spec, "initContainers.[0]");
	assert_non_null(init);
	assert_string_equal(str(d, init, "securityContext.privileged"), "true");
	assert_string_equal(str(d, init, "volumeMounts.[0].mountPath"), "/sys/fs/bpf");
	assert_string_equal(str(d, init, "volumeMounts.[0].mountPropagation"), "Bidirectional");
	assert_string_equal(str(d, init, "image"), str(d, c, "image"));

	assert_string_equal(str(d, spec, "volumes.[0].name"), "bpffs");
	assert_string_equal(str(d, spec, "volumes.[0].hostPath.path"), "/sys/fs/bpf");
	assert_string_equal(str(d, spec, "volumes.[1].configMap.name"), "sluice-config");

	{
		yaml_node_t *ann = at(d, ds, "spec.template.metadata.annotations");
		yaml_node_pair_t *p;
		int seen = 0;

		assert_non_null(ann);
		for (p = ann->data.mapping.pairs.start; p < ann->data.mapping.pairs.top; p++) {
			const char *k =
			    (char *)yaml_document_get_node(d, p->key)->data.scalar.value;
			const char *v =
			    (char *)yaml_document_get_node(d, p->value)->data.scalar.value;

			if (!strcmp(k, "prometheus.io/scrape"))
				seen += !strcmp(v, "true");
			if (!strcmp(k, "prometheus.io/port"))
				seen += !strcmp(v, port);
			if (!strcmp(k, "prometheus.io/path"))
				seen += !strcmp(v, "/metrics");
		}
		assert_int_equal(seen, 3);
	}
	unload(&m);
}

static void rbac_is_list_watch_only(void **state)
{
	static const char *const want[] = {"services",	      "pods",
					   "endpointslices",  "virtualservices",
					   "destinationrules", "canaries"};
	struct manifest m;
	yaml_document_t *d;
	yaml_node_t *role, *b, *sa;
	char resources[512] = "", idx[32];
	size_t i, n;

	load(&m, "deploy/rbac.yaml");
	role = find(&m, "ClusterRole", "sluice", &d);
	n = seq_len(d, role, "rules");
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		snprintf(idx, sizeof(idx), "rules.[%zu]", i);
		assert_string_equal(joined(d, at(d, role, idx), "verbs"), "list watch");
		strcat(resources, joined(d, at(d, role, idx), "resources"));
		strcat(resources, " ");
	}
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_non_null(strstr(resources, want[i]));
	assert_int_equal(strlen(resources),
			 strlen("services pods endpointslices virtualservices destinationrules "
				"canaries "));

	sa = find(&m, "ServiceAccount", "sluice", &d);
	assert_string_equal(str(d, sa, "metadata.namespace"), "kube-system");
	b = find(&m, "ClusterRoleBinding", "sluice", &d);
	assert_string_equal(str(d, b, "roleRef.kind"), "ClusterRole");
	assert_string_equal(str(d, b, "roleRef.name"), "sluice");
	assert_string_equal(str(d, b, "subjects.[0].kind"), "ServiceAccount");
	assert_string_equal(str(d, b, "subjects.[0].name"), "sluice");
	assert_string_equal(str(d, b, "subjects.[0].namespace"), "kube-system");
	unload(&m);
}

/* The Canary kind, as the Kubernetes client asks for it (user/kube/kube.c). */
static void canary_crd_names_what_is_watched(void **state)
{
	struct manifest m;
	yaml_document_t *d;
	yaml_node_t *crd;

	load(&m, "deploy/crd-canary.yaml");
	crd = find(&m, "CustomResourceDefinition", "canaries.sluice.io", &d);
	assert_string_equal(str(d, crd, "spec.group"), "sluice.io");
	assert_string_equal(str(d, crd, "spec.names.kind"), "Canary");
	assert_string_equal(str(d, crd, "spec.names.plural"), "canaries");
	assert_string_equal(str(d, crd, "spec.scope"), "Namespaced");
	assert_string_equal(str(d, crd, "spec.versions.[0].name"), "v1alpha1");
	unload(&m);
}

static void configmap_is_a_valid_config(void **state)
{
	struct manifest m;
	yaml_document_t *d;
	yaml_node_t *cm;
	struct sl_config *cfg = NULL;
	struct sl_diag diag;
	const char *text;
	size_t i;

	load(&m, "deploy/configmap.yaml");
	cm = find(&m, "ConfigMap", "sluice-config", &d);
	assert_string_equal(str(d, cm, "metadata.namespace"), "kube-system");
	text = str(d, cm, "data.sluice.yaml");
	/* "sluice.yaml" is one key with a dot: look it up by hand */
	if (!text) {
		yaml_node_t *data = at(d, cm, "data");
		yaml_node_pair_t *p;

		for (p = data->data.mapping.pairs.start; p < data->data.mapping.pairs.top; p++)
			if (!strcmp((char *)yaml_document_get_node(d, p->key)->data.scalar.value,
				    "sluice.yaml"))
				text =
				    (char *)yaml_document_get_node(d, p->value)->data.scalar.value;
	}
	assert_non_null(text);
	sl_diag_init(&diag);
	if (sl_config_load_buf("configmap.yaml:sluice.yaml", text, strlen(text), &cfg, &diag)) {
		for (i = 0; i < diag.n_msgs; i++)
			print_error("%s\n", diag.msgs[i]);
		fail();
	}
	assert_int_equal(cfg->n_services, 1);
	sl_config_free(cfg);
	sl_diag_free(&diag);
	unload(&m);
}

/*
 * Every library build/sluice names (readelf's NEEDED: what the loader
 * must find) has its Debian package in the final stage; one missing from
 * the table below fails too, so a new dependency cannot slip past.
 */
static void image_has_every_linked_library(void **state)
{
	static const struct {
		const char *lib, *pkg;
	} libs[] = {
	    {"libbpf.so.1", "libbpf1"},
	    {"libelf.so.1", "libelf1"},
	    {"libz.so.1", "zlib1g"},
	    {"libyaml-0.so.2", "libyaml-0-2"},
	    {"libjson-c.so.5", "libjson-c5"},
	    {"libmicrohttpd.so.12", "libmicrohttpd12"},
	    {"libncursesw.so.6", "libncursesw6"},
	    {"libtinfo.so.6", "libtinfo6"},
	    {"libcurl.so.4", "libcurl4"},
	    {"libnghttp2.so.14", "libnghttp2-14"},
	    {"libhttp_parser.so.2.9", "libhttp-parser2.9"},
	    {"libre2.so.9", "libre2-9"},
	    {"libstdc++.so.6", "libstdc++6"},
	    {"libgcc_s.so.1", "libgcc-s1"},
	};
	char line[512], *runtime = NULL, *cf = NULL;
	size_t len = 0, i;
	FILE *f;
	int linked = 0;

	f = fopen("deploy/Containerfile", "r");
	assert_non_null(f);
	assert_true(getdelim(&cf, &len, '\0', f) > 0);
	fclose(f);
	runtime = strstr(cf, "FROM docker.io/library/debian:bookworm-slim");
	assert_non_null(runtime);

	f = popen("readelf -d build/sluice", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *name = strstr(line, "(NEEDED)"), *end;

		if (!name || !(name = strchr(name, '[')) || !(end = strchr(++name, ']')))
			continue;
		*end = '\0';
		linked++;
		if (!strcmp(name, "libc.so.6") || !strcmp(name, "libm.so.6"))
			continue; /* libc6: in every image */
		for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
			if (!strcmp(name, libs[i].lib))
				break;
		if (i == sizeof(libs) / sizeof(libs[0]))
			fail_msg("build/sluice needs %s, which this test does not know", name);
		if (!strstr(runtime, libs[i].pkg))
			fail_msg("build/sluice needs %s but the image lacks %s", name, libs[i].pkg);
	}
	assert_int_equal(pclose(f), 0);
	assert_true(linked > 1);
	free(cf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_document_is_an_object),
	    cmocka_unit_test(daemonset),
	    cmocka_unit_test(rbac_is_list_watch_only),
	    cmocka_unit_test(canary_crd_names_what_is_watched),
	    cmocka_unit_test(configmap_is_a_valid_config),
	    cmocka_unit_test(image_has_every_linked_library),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
