// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sl_yaml_load() (user/config/yaml_load.c) against libyaml's own loader:
 * every document of every input, node by node (type, value, style, marks,
 * items, pairs), and every error (kind, problem, context, marks), must come
 * out the same. Inputs: hand-written corner cases (anchors, aliases, empty
 * lists and mappings, a key without a value, explicit tags, several
 * documents, broken YAML), every committed fuzzing input, the examples and
 * the test data, and a generated config large enough to fill many blocks.
 * Then the config loader itself on what only the composer decides: aliases
 * (a config written with them equals the one written out) and alias errors.
 * And reading 'services' one at a time while the document is parsed
 * (sl_yaml_load_stream): which documents stream and which are read again
 * whole, and, through the real loader, that every input gives the same
 * diagnostics, in the same order, and the same configuration as with
 * SL_LOAD_WHOLE_DOCS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml_load.h"
#include "config/yaml_node.h"

#define DIAG_FILE "t.yaml"
#include "diag_check.h"

static size_t n_docs_compared, n_files_compared;

static void assert_mark(const yaml_mark_t *a, const yaml_mark_t *b)
{
	assert_int_equal(a->index, b->index);
	assert_int_equal(a->line, b->line);
	assert_int_equal(a->column, b->column);
}

static void assert_same_node(const yaml_node_t *a, const yaml_node_t *b)
{
	size_t n;

	assert_int_equal(a->type, b->type);
	assert_mark(&a->start_mark, &b->start_mark);
	assert_mark(&a->end_mark, &b->end_mark);
	switch (a->type) {
	case YAML_SCALAR_NODE:
		assert_int_equal(a->data.scalar.length, b->data.scalar.length);
		assert_memory_equal(a->data.scalar.value, b->data.scalar.value,
				    a->data.scalar.length + 1);
		assert_int_equal(a->data.scalar.style, b->data.scalar.style);
		break;
	case YAML_SEQUENCE_NODE:
		n = a->data.sequence.items.top - a->data.sequence.items.start;
		assert_int_equal(n, b->data.sequence.items.top - b->data.sequence.items.start);
		if (n)
			assert_memory_equal(a->data.sequence.items.start,
					    b->data.sequence.items.start,
					    n * sizeof(yaml_node_item_t));
		assert_int_equal(a->data.sequence.style, b->data.sequence.style);
		break;
	case YAML_MAPPING_NODE:
		n = a->data.mapping.pairs.top - a->data.mapping.pairs.start;
		assert_int_equal(n, b->data.mapping.pairs.top - b->data.mapping.pairs.start);
		if (n)
			assert_memory_equal(a->data.mapping.pairs.start,
					    b->data.mapping.pairs.start,
					    n * sizeof(yaml_node_pair_t));
		assert_int_equal(a->data.mapping.style, b->data.mapping.style);
		break;
	default:
		fail_msg("node of type %d", a->type);
	}
}

/* Both loaders over the whole stream of buf; returns the documents seen. */
static size_t compare_stream(const char *name, const char *buf, size_t len)
{
	yaml_parser_t pa, pb;
	yaml_document_t da;
	struct sl_yaml_doc db;
	size_t docs = 0, i, n;
	int ra, rb;

	assert_true(yaml_parser_initialize(&pa));
	assert_true(yaml_parser_initialize(&pb));
	yaml_parser_set_input_string(&pa, (const unsigned char *)buf, len);
	yaml_parser_set_input_string(&pb, (const unsigned char *)buf, len);
	for (;;) {
		ra = yaml_parser_load(&pa, &da);
		rb = sl_yaml_load(&pb, &db);
		if (ra != rb)
			fail_msg("%s: document %zu: libyaml says %d, sl_yaml_load %d", name,
				 docs + 1, ra, rb);
		if (!ra) {
			assert_int_equal(pa.error, pb.error);
			assert_string_equal(pa.problem ? pa.problem : "",
					    pb.problem ? pb.problem : "");
			assert_mark(&pa.problem_mark, &pb.problem_mark);
			assert_string_equal(pa.context ? pa.context : "",
					    pb.context ? pb.context : "");
			if (pa.context)
				assert_mark(&pa.context_mark, &pb.context_mark);
			sl_yaml_doc_free(&db);
			break;
		}
		n = da.nodes.top - da.nodes.start;
		if (n != (size_t)(db.doc.nodes.top - db.doc.nodes.start))
			fail_msg("%s: document %zu: %zu nodes from libyaml, %zu from sl_yaml_load",
				 name, docs + 1, n,
				 (size_t)(db.doc.nodes.top - db.doc.nodes.start));
		for (i = 0; i < n; i++)
			assert_same_node(&da.nodes.start[i], &db.doc.nodes.start[i]);
		if (n) {
			assert_int_equal(da.start_implicit, db.doc.start_implicit);
			assert_int_equal(da.end_implicit, db.doc.end_implicit);
			assert_mark(&da.start_mark, &db.doc.start_mark);
			assert_mark(&da.end_mark, &db.doc.end_mark);
			docs++;
		}
		yaml_document_delete(&da);
		sl_yaml_doc_free(&db);
		if (!n)
			break;
	}
	yaml_parser_delete(&pa);
	yaml_parser_delete(&pb);
	n_docs_compared += docs;
	return docs;
}

static void compare_text(const char *yaml)
{
	compare_stream(yaml, yaml, strlen(yaml));
}

static void test_corner_cases(void **state)
{
	static const char *const cases[] = {
	    "",
	    "---\n",
	    "~\n",
	    "a: 1\n",
	    "services:\n- name: a\n  vips: [10.0.0.1]\n",
	    "[]\n",
	    "{}\n",
	    "a: []\nb: {}\nc: [[], {}, [[]]]\n",
	    "? a\n",
	    "{a, b: , c}\n",
	    "- a\n-\n- 'q'\n- \"d\\tq\"\n- |\n  lit\n  eral\n- >\n  fol\n  ded\n",
	    "a: &x {k: v}\nb: *x\nc: [*x, *x]\n",
	    "&r [a, *r]\n",
	    "? &k [1, 2]\n: *k\n",
	    "a: &x 1\nb: &x 2\n",
	    "a: *nope\n",
	    "a: [1, *nope]\n",
	    "a: !!str 80\nb: !custom {x: 1}\nc: ! [1]\nd: !!seq []\n",
	    "%YAML 1.1\n%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
	    "a: 1\n---\nb: 2\n...\n---\n- c\n",
	    "a: 1\n---\nb: &x 2\nc: *x\n---\nd: *x\n",
	    "a: 1\n---\nb: [\n",
	    "a: [1, 2\n",
	    "a:\n  - b\n c: d\n",
	    "a: b: c\n",
	    "\"a\\x00b\": \"c\\0d\"\n",
	    "\t- a\n",
	    "- \xff\xfe\n",
	    "a: 'unterminated\n",
	    "---\n---\n---\n",
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		compare_text(cases[i]);
	/* a NUL inside the input is an error in both */
	compare_stream("nul", "a: b\0c\n", 7);
}

/* A regular file that nftw() found, read whole and given to check (name, bytes, length). */
static int each_file(const char *path, const struct stat *st, int type,
		     void (*check)(const char *, const char *, size_t))
{
	char *buf;
	FILE *f;

	if (type != FTW_F)
		return 0;
	buf = malloc(st->st_size + 1);
	assert_non_null(buf);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, st->st_size, f), st->st_size);
	fclose(f);
	check(path, buf, st->st_size);
	free(buf);
	n_files_compared++;
	return 0;
}

static void compare_whole(const char *name, const char *buf, size_t len)
{
	compare_stream(name, buf, len);
}

static int compare_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return each_file(path, st, type, compare_whole);
}

/* Every committed input the fuzzers start from, the examples, the test data. */
static void test_files(void **state)
{
	static const char *const dirs[] = {"tests/fuzz/corpus/config",
					   "tests/fuzz/corpus/k8s",
					   "tests/fuzz/corpus/watch",
					   "tests/data",
					   "examples",
					   "deploy"};
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		assert_int_equal(nftw(dirs[i], compare_file, 16, FTW_PHYS), 0);
	print_message("compared %zu files, %zu documents in all\n", n_files_compared,
		      n_docs_compared);
	/* the corpora are there: the walk really compared something */
	assert_true(n_files_compared >= 100);
}

/*
 * Thousands of services (many blocks, the largest ones, a long kids stack)
 * and a scalar longer than any block.
 */
static void test_big(void **state)
{
	size_t cap = 16 << 20, len = 0, i, big = 3 << 19;
	char *buf = malloc(cap);

	assert_non_null(buf);
	len += snprintf(buf + len, cap - len, "services:\n");
	for (i = 0; i < 8000 && len < cap; i++)
		len += snprintf(buf + len, cap - len,
				"  - name: svc%zu\n    vips: [10.97.%zu.%zu]\n"
				"    ports: [{port: 80, protocol: TCP, targetPort: 8080}]\n"
				"    subsets:\n      v1: {endpoints: [10.244.0.1]}\n"
				"      v2: {endpoints: [10.244.0.2, \"%0*zu\"]}\n"
				"    routes:\n      - split: {v1: 90, v2: 10}\n",
				i, i / 250, i % 250 + 1, (int)(i % 500), i);
	assert_true(len + big + 16 < cap);
	len += snprintf(buf + len, cap - len, "long: ");
	memset(buf + len, 'a', big);
	len += big;
	buf[len++] = '\n';
	assert_int_equal(compare_stream("big", buf, len), 1);
	free(buf);
}

/* Aliases reach the config loader as the nodes they name. */
static void test_loader_aliases(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;
	size_t i;
	int err;

	err = load("services:\n"
		   "- name: a\n"
		   "  vips: [10.0.0.1]\n"
		   "  ports: &ports [{port: 80}]\n"
		   "  subsets: &subs {v1: {endpoints: [10.0.1.1]}, v2: {endpoints: [10.0.2.1]}}\n"
		   "  routes: &routes [{split: {v1: 90, v2: 10}}]\n"
		   "- name: b\n"
		   "  vips: [10.0.0.2]\n"
		   "  ports: *ports\n"
		   "  subsets: *subs\n"
		   "  routes: *routes\n",
		   &cfg, &d);
	if (err)
		dump_diag(&d);
	assert_int_equal(err, 0);
	assert_int_equal(cfg->n_services, 2);
	for (i = 0; i < 2; i++) {
		const struct sl_service_cfg *s = &cfg->services[i];

		assert_int_equal(s->n_ports, 1);
		assert_int_equal(s->ports[0].port, 80);
		assert_int_equal(s->n_subsets, 2);
		assert_string_equal(s->subsets[0].name, "v1");
		assert_string_equal(s->subsets[1].name, "v2");
		assert_int_equal(s->subsets[1].n_eps, 1);
		/* positions are the anchored node's, for both */
		assert_int_equal(s->subsets[0].pos.line, 5);
		assert_int_equal(s->subsets[0].pos.col, 19);
		assert_int_equal(s->n_routes, 1);
	}
	sl_config_free(cfg);
	sl_diag_free(&d);

	assert_error("services:\n- name: a\n  vips: [10.0.0.1]\n  ports: [{port: 80}]\n"
		     "  subsets: *subs\n",
		     "t.yaml:5:12: error: invalid YAML: found undefined alias");
	assert_error("services:\n- name: &n a\n  vips: &n [10.0.0.1]\n",
		     "t.yaml:3:9: error: invalid YAML: second occurrence (found duplicate anchor; "
		     "first occurrence that starts at line 2, column 9)");
}

/* Streaming: how many items went out, and whether the document was given up. */
struct seen {
	size_t items;
	char names[8][16];
};

static int count_item(void *arg, yaml_document_t *doc, const yaml_node_t *item, size_t idx)
{
	struct seen *s = arg;
	const yaml_node_t *name = sl_yaml_get(doc, item, "name");

	assert_int_equal(idx, s->items);
	if (s->items < 8)
		snprintf(s->names[s->items], sizeof(s->names[0]), "%s",
			 name && sl_yaml_scalar(name) ? sl_yaml_scalar(name) : "?");
	s->items++;
	return 0;
}

/* The first document of yaml with a stream: items handed out, abandoned or not. */
static void stream_first(const char *yaml, size_t want_items, bool want_abandoned)
{
	struct sl_yaml_stream st = {.item = count_item};
	struct seen seen = {0};
	struct sl_yaml_doc d;
	yaml_parser_t p;
	int ok;

	st.arg = &seen;
	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, strlen(yaml));
	ok = sl_yaml_load_stream(&p, &d, &st);
	if (st.items != want_items || st.abandoned != want_abandoned)
		fail_msg("%s: %zu items, abandoned %d; expected %zu, %d", yaml, st.items,
			 st.abandoned, want_items, want_abandoned);
	assert_int_equal(seen.items, st.items);
	assert_int_equal(ok, !want_abandoned);
	if (ok) {
		const yaml_node_t *root = yaml_document_get_root_node(&d.doc);
		const yaml_node_t *svcs = sl_yaml_get(&d.doc, root, "services");

		/* the streamed list is left empty, the rest is there */
		if (want_items)
			assert_int_equal(sl_yaml_seq_len(svcs), 0);
	}
	sl_yaml_doc_free(&d);
	yaml_parser_delete(&p);
}

#define SVC(n)                                                                                     \
	"- {name: " n                                                                              \
	", vips: [10.0.0.1], ports: [{port: 80}], subsets: {v1: {endpoints: [10.0.1.1]}}}\n"

static void test_stream_which(void **state)
{
	/* streamed */
	stream_first("services:\n" SVC("a") SVC("b") SVC("c"), 3, false);
	stream_first("workloads: [{labels: {a: b}, ips: [10.0.0.1]}]\nservices:\n" SVC("a"), 1,
		     false);
	stream_first("services:\n" SVC("a") "workloads: []\n", 1, false);
	stream_first("{services: [{name: a}, b, [c], {}]}\n", 4, false);
	stream_first("\"services\": [{name: a}]\n", 1, false);
	stream_first("services: []\n", 0, false);
	/* not streamed, nothing handed out yet */
	stream_first("- services: [{name: a}]\n", 0, false);
	stream_first("kind: Service\nservices: [{name: a}]\n", 0, false);
	stream_first("services: {a: {name: a}}\n", 0, false);
	stream_first("services: &s [{name: a}]\n", 0, false);
	stream_first("workloads: &w []\nservices: [{name: a}]\n", 0, false);
	stream_first("services: [{name: &n a}, {name: *n}]\n", 0, false);
	/* given up after items went out */
	stream_first("services:\n" SVC("a") SVC("b") "kind: Service\n", 2, true);
	stream_first("services:\n" SVC("a") "services: []\n", 1, true);
	stream_first("services:\n" SVC("a") "- {name: &n b}\n", 1, true);
	stream_first("services:\n" SVC("a") "- [\n", 1, true);
	stream_first("services:\n" SVC("a") "? [x]\n: y\n", 1, true);
}

static void assert_same_load(const char *name, const char *buf, size_t len, unsigned int flags,
			     const char *other)
{
	struct sl_config_buf bufs[2] = {{name, buf, len},
					{"other.yaml", other, other ? strlen(other) : 0}};
	struct sl_config *cs, *cw;
	struct sl_diag ds, dw;
	int es, ew;
	size_t i, n = other ? 2 : 1;

	sl_diag_init(&ds);
	sl_diag_init(&dw);
	es = sl_config_load_sources(NULL, 0, bufs, n, flags, &cs, &ds, NULL);
	ew = sl_config_load_sources(NULL, 0, bufs, n, flags | SL_LOAD_WHOLE_DOCS, &cw, &dw, NULL);
	if (es != ew || ds.n_msgs != dw.n_msgs) {
		print_message("streamed (%d):\n", es);
		dump_diag(&ds);
		print_message("whole (%d):\n", ew);
		dump_diag(&dw);
		fail_msg("%s: the loads differ", name);
	}
	assert_int_equal(ds.n_errors, dw.n_errors);
	assert_int_equal(ds.n_warnings, dw.n_warnings);
	for (i = 0; i < ds.n_msgs; i++)
		assert_string_equal(ds.msgs[i], dw.msgs[i]);
	assert_true(!cs == !cw);
	if (cs) {
		assert_int_equal(cs->n_services, cw->n_services);
		assert_int_equal(cs->n_workloads, cw->n_workloads);
		assert_int_equal(cs->n_rejected, cw->n_rejected);
		assert_true(sl_config_model_digest(cs) == sl_config_model_digest(cw));
		for (i = 0; i < cs->n_services; i++) {
			assert_string_equal(cs->services[i].name, cw->services[i].name);
			assert_int_equal(cs->services[i].pos.line, cw->services[i].pos.line);
			assert_int_equal(cs->services[i].pos.col, cw->services[i].pos.col);
		}
	}
	sl_config_free(cs);
	sl_config_free(cw);
	sl_diag_free(&ds);
	sl_diag_free(&dw);
}

static const char good_other[] = "services:\n" SVC("z");

static void same_both_ways(const char *name, const char *buf, size_t len)
{
	assert_same_load(name, buf, len, 0, NULL);
	/* as one file of a directory `run` reads: a bad file is left out */
	assert_same_load(name, buf, len, SL_LOAD_ISOLATE, good_other);
}

static int same_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return each_file(path, st, type, same_both_ways);
}

/* Through the loader: streamed or whole, the same outcome. */
static void test_stream_same(void **state)
{
	static const char *const dirs[] = {"tests/fuzz/corpus/config", "tests/fuzz/corpus/k8s",
					   "tests/data", "examples"};
	static const char *const cases[] = {
	    "services:\n" SVC("a") SVC("b") SVC("a"),
	    "services:\n" SVC("a") "- name: b\n  vips: [10.0.0.1]\n  ports: [{port: 80}]\n"
				   "  subsets: {v1: {endpoints: [10.0.1.1]}}\nservice: []\n",
	    "services:\n" SVC("a") SVC("A") "apiVersion: v1\nkind: Service\n",
	    "services:\n" SVC("a") "- {name: &x b, bad: 1}\n- {name: *x}\n",
	    "services:\n" SVC("a") SVC("b!") "- {name: c\n",
	    "services:\n" SVC("a") "---\nservices:\n" SVC("b") "x: 1\n---\nservices:\n" SVC("c")
		SVC("a"),
	    "services:\n" SVC("a") "services:\n" SVC("b"),
	    "services: {}\n",
	    "services: []\n",
	    "services: [1, [2], {name: 3}, ~]\n",
	    "workloads: [{labels: {a: b}, ips: [10.0.0.1]}]\nservices:\n" SVC("a"),
	    "services:\n" SVC("a") "workloads: [{labels: {a: b}, ips: [10.0.0.1/33]}]\n",
	    "{services: [{name: a, vips: [10.0.0.1], ports: [{port: 80}], subsets: {v1: "
	    "{endpoints: [10.0.1.1]}}}]}\n",
	    "x-defaults: &d {v1: {endpoints: [10.0.1.1]}}\nservices:\n- {name: a, vips: "
	    "[10.0.0.1], ports: [{port: 80}], subsets: *d}\n",
	};
	size_t cap = 1 << 21, len, i, k;
	char *buf = malloc(cap);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		same_both_ways(cases[i], cases[i], strlen(cases[i]));
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		assert_int_equal(nftw(dirs[i], same_file, 16, FTW_PHYS), 0);

	/*
	 * 3,000 services (names and VIPs used twice among them), then a key
	 * that sends the document back to be read whole: everything the
	 * streamed reading did is undone, the rows are taken again.
	 */
	assert_non_null(buf);
	for (k = 0; k < 2; k++) {
		len = snprintf(buf, cap, "services:\n");
		for (i = 0; i < 3000; i++)
			len += snprintf(buf + len, cap - len,
					"- {name: s%zu, vips: [10.1.%zu.%zu], ports: [{port: 80}], "
					"subsets: {v1: {endpoints: [10.0.1.1]}}}\n",
					i % 2900, i / 250, i % 250);
		if (k)
			len += snprintf(buf + len, cap - len, "extra: 1\n");
		assert_true(len < cap);
		same_both_ways(k ? "big, read again" : "big", buf, len);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corner_cases), cmocka_unit_test(test_files),
	    cmocka_unit_test(test_big),		 cmocka_unit_test(test_loader_aliases),
	    cmocka_unit_test(test_stream_which), cmocka_unit_test(test_stream_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
