// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Config parser tests: one good file checked field by field, then one test
 * per kind of mistake, each pinning the exact "FILE:LINE:COL: error: ..."
 * line an operator would see.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* cmocka fixes the test signature; most tests have no use for state. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/log.h"

#define DIAG_FILE "t.yaml"
#include "diag_check.h"

/*
 * Most error tests start from this valid service and change one line.
 * Line numbers: 1 services, 2 name, 3 vips, 4 ports, 5 subsets, 6-7 routes.
 */
#define L1   "services:\n"
#define L2   "- name: a\n"
#define L3   "  vips: [10.0.0.1]\n"
#define L4   "  ports: [{port: 80}]\n"
#define L5   "  subsets: {v1: {endpoints: [10.0.1.1]}, v2: {endpoints: [10.0.2.1]}}\n"
#define L6_7 "  routes:\n  - split: {v1: 1, v2: 1}\n"

/* The load succeeds without errors and msg is among the warnings. */
static void assert_warning(const char *yaml, const char *msg)
{
	struct sl_config *cfg;
	struct sl_diag d;
	int err;

	err = load(yaml, &cfg, &d);
	if (err)
		dump_diag(&d);
	assert_int_equal(err, 0);
	assert_non_null(cfg);
	assert_int_equal(d.n_errors, 0);
	assert_true(d.n_warnings >= 1);
	assert_true(has_msg(&d, msg));
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void assert_addr(const struct sl_addr *a, const char *text)
{
	char buf[INET6_ADDRSTRLEN];
	struct sl_addr want;

	assert_int_equal(sl_addr_parse(text, &want), 0);
	assert_int_equal(a->family, want.family);
	assert_memory_equal(a->addr, want.addr, sizeof(a->addr));
	assert_string_equal(sl_addr_str(a, buf, sizeof(buf)), text);
}

static void assert_pos(const struct sl_pos *pos, const char *file, int line, int col)
{
	assert_string_equal(pos->file, file);
	assert_int_equal(pos->line, line);
	assert_int_equal(pos->col, col);
}

/* The good path */

static const char good_yaml[] =
    "services:\n"
    "  - name: backend\n"
    "    vips: [10.96.0.10, \"fd00::10\"]\n"
    "    ports:\n"
    "      - {port: 80, protocol: TCP, targetPort: 8080}\n"
    "      - {port: 53, protocol: udp}\n"
    "    affinity: client-ip\n"
    "    subsets:\n"
    "      v1: {endpoints: [10.0.1.10, 10.0.1.11:9090]}\n"
    "      v2: {endpoints: [\"[fd00::2]:8443\", \"fd00::3\"]}\n"
    "    routes:\n"
    "      - match: {sourceLabels: {app: frontend, version: v2}}\n"
    "        split: {v2: 100}\n"
    "      - match: {sourceCIDRs: [10.0.9.0/24, 10.0.8.1, \"fd00:9::/64\"]}\n"
    "        split: {v2: 5, v1: 0}\n"
    "      - split: {v1: 90, v2: 10}\n"
    "  - name: db.internal\n"
    "    vips: [10.96.0.11]\n"
    "    ports: [{port: 5432}]\n"
    "    subsets: {main: {endpoints: [10.0.5.1]}}\n"
    "workloads:\n"
    "  - labels: {app: frontend, version: v2}\n"
    "    ips: [10.0.3.10, 10.0.4.0/24]\n";

static void test_good_model(void **state)
{
	const struct sl_service_cfg *s;
	const struct sl_route_cfg *r;
	const struct sl_workload_cfg *w;
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(good_yaml, &d);
	assert_int_equal(d.n_warnings, 0);
	assert_int_equal(cfg->n_files, 1);
	assert_string_equal(cfg->files[0], "t.yaml");
	assert_int_equal(cfg->n_services, 2);

	s = &cfg->services[0];
	assert_string_equal(s->name, "backend");
	assert_pos(&s->pos, "t.yaml", 2, 5);
	assert_ptr_equal(s->pos.file, cfg->files[0]);
	assert_int_equal(s->n_vips, 2);
	assert_int_equal(s->vips[0].family, SL_AF_INET);
	assert_addr(&s->vips[0], "10.96.0.10");
	assert_int_equal(s->vips[1].family, SL_AF_INET6);
	assert_addr(&s->vips[1], "fd00::10");

	assert_int_equal(s->n_ports, 2);
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].target_port, 8080);
	assert_int_equal(s->ports[0].proto, IPPROTO_TCP);
	assert_pos(&s->ports[0].pos, "t.yaml", 5, 9);
	assert_int_equal(s->ports[1].port, 53);
	assert_int_equal(s->ports[1].target_port, 53);
	assert_int_equal(s->ports[1].proto, IPPROTO_UDP);
	assert_int_equal(s->affinity, SL_AFFINITY_CLIENT_IP);

	assert_int_equal(s->n_subsets, 2);
	assert_string_equal(s->subsets[0].name, "v1");
	assert_pos(&s->subsets[0].pos, "t.yaml", 9, 7);
	assert_int_equal(s->subsets[0].n_eps, 2);
	assert_addr(&s->subsets[0].eps[0].a, "10.0.1.10");
	assert_int_equal(s->subsets[0].eps[0].port, 0);
	assert_addr(&s->subsets[0].eps[1].a, "10.0.1.11");
	assert_int_equal(s->subsets[0].eps[1].port, 9090);
	assert_pos(&s->subsets[0].eps[1].pos, "t.yaml", 9, 35);
	assert_string_equal(s->subsets[1].name, "v2");
	assert_int_equal(s->subsets[1].n_eps, 2);
	assert_addr(&s->subsets[1].eps[0].a, "fd00::2");
	assert_int_equal(s->subsets[1].eps[0].port, 8443);
	assert_addr(&s->subsets[1].eps[1].a, "fd00::3");
	assert_int_equal(s->subsets[1].eps[1].port, 0);
	assert_int_equal(sl_config_subset_index(s, "v2"), 1);
	assert_int_equal(sl_config_subset_index(s, "v3"), -1);

	assert_int_equal(s->n_routes, 3);
	r = &s->routes[0];
	assert_pos(&r->pos, "t.yaml", 12, 9);
	assert_true(r->has_labels);
	assert_false(r->has_cidrs);
	assert_int_equal(r->n_labels, 2);
	assert_string_equal(r->labels[0].key, "app");
	assert_string_equal(r->labels[0].value, "frontend");
	assert_string_equal(r->labels[1].key, "version");
	assert_string_equal(r->labels[1].value, "v2");
	assert_int_equal(r->weight[0], 0);
	assert_int_equal(r->weight[1], 100);

	r = &s->routes[1];
	assert_true(r->has_cidrs);
	assert_false(r->has_labels);
	assert_int_equal(r->n_cidrs, 3);
	assert_addr(&r->cidrs[0].a, "10.0.9.0");
	assert_int_equal(r->cidrs[0].plen, 24);
	assert_addr(&r->cidrs[1].a, "10.0.8.1");
	assert_int_equal(r->cidrs[1].plen, 32);
	assert_addr(&r->cidrs[2].a, "fd00:9::");
	assert_int_equal(r->cidrs[2].plen, 64);
	assert_pos(&r->cidrs[1].pos, "t.yaml", 14, 44);
	/* Indexed by subset, not by the order the split lists them in. */
	assert_int_equal(r->weight[0], 0);
	assert_int_equal(r->weight[1], 5);

	r = &s->routes[2];
	assert_false(r->has_cidrs);
	assert_false(r->has_labels);
	assert_int_equal(r->weight[0], 90);
	assert_int_equal(r->weight[1], 10);
	assert_int_equal(r->weight[2], 0);

	s = &cfg->services[1];
	assert_string_equal(s->name, "db.internal");
	assert_int_equal(s->affinity, SL_AFFINITY_CONNECTION);
	assert_int_equal(s->ports[0].target_port, 5432);
	assert_int_equal(s->ports[0].proto, IPPROTO_TCP);
	/* One subset and no routes: an implicit route sends it everything. */
	assert_int_equal(s->n_routes, 1);
	assert_false(s->routes[0].has_cidrs || s->routes[0].has_labels);
	assert_int_equal(s->routes[0].weight[0], 1);
	assert_pos(&s->routes[0].pos, "t.yaml", 17, 5);

	assert_int_equal(cfg->n_workloads, 1);
	w = &cfg->workloads[0];
	assert_pos(&w->pos, "t.yaml", 22, 5);
	assert_int_equal(w->n_labels, 2);
	assert_string_equal(w->labels[1].key, "version");
	assert_int_equal(w->n_cidrs, 2);
	assert_addr(&w->cidrs[0].a, "10.0.3.10");
	assert_int_equal(w->cidrs[0].plen, 32);
	assert_addr(&w->cidrs[1].a, "10.0.4.0");
	assert_int_equal(w->cidrs[1].plen, 24);
	assert_true(sl_labels_match(s->routes[0].labels, 0, w->labels, w->n_labels));
	assert_true(sl_labels_match(cfg->services[0].routes[0].labels,
				    cfg->services[0].routes[0].n_labels, w->labels, w->n_labels));

	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_example_file(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;
	int err;

	sl_diag_init(&d);
	err = sl_config_load_file("examples/canary.yaml", &cfg, &d);
	if (err)
		dump_diag(&d);
	assert_int_equal(err, 0);
	assert_int_equal(d.n_msgs, 0);
	assert_string_equal(cfg->files[0], "examples/canary.yaml");
	assert_int_equal(cfg->n_services, 1);
	s = &cfg->services[0];
	assert_string_equal(s->name, "backend");
	assert_int_equal(s->n_vips, 2);
	assert_addr(&s->vips[0], "10.96.0.10");
	assert_addr(&s->vips[1], "fd00::10");
	assert_int_equal(s->n_ports, 1);
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].target_port, 8080);
	assert_int_equal(s->ports[0].proto, IPPROTO_TCP);
	assert_int_equal(s->affinity, SL_AFFINITY_CONNECTION);
	assert_int_equal(s->n_subsets, 2);
	assert_int_equal(s->subsets[0].n_eps, 2);
	assert_addr(&s->subsets[0].eps[0].a, "10.0.1.10");
	assert_addr(&s->subsets[0].eps[1].a, "10.0.1.11");
	assert_int_equal(s->subsets[1].n_eps, 1);
	assert_addr(&s->subsets[1].eps[0].a, "10.0.2.10");
	assert_int_equal(s->n_routes, 3);
	assert_true(s->routes[0].has_labels);
	assert_int_equal(s->routes[0].weight[1], 100);
	assert_true(s->routes[1].has_cidrs);
	assert_int_equal(s->routes[1].cidrs[0].plen, 24);
	assert_int_equal(s->routes[2].weight[0], 90);
	assert_int_equal(s->routes[2].weight[1], 10);
	assert_int_equal(cfg->n_workloads, 1);
	assert_addr(&cfg->workloads[0].cidrs[0].a, "10.0.3.10");
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_missing_file(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	sl_diag_init(&d);
	assert_int_equal(sl_config_load_file("no/such.yaml", &cfg, &d), -ENOENT);
	assert_null(cfg);
	assert_true(has_msg(&d, "no/such.yaml: error: cannot read the file: "
				"No such file or directory"));
	sl_diag_free(&d);
}

static void test_null_diag(void **state)
{
	struct sl_config *cfg;

	assert_int_equal(sl_config_load_buf("t.yaml", "x: [", 4, &cfg, NULL), -EINVAL);
	assert_null(cfg);
	assert_int_equal(sl_config_load_buf("t.yaml", NULL, 0, &cfg, NULL), -EINVAL);
	assert_null(cfg);
	assert_int_equal(sl_config_load_buf("t.yaml", good_yaml, strlen(good_yaml), &cfg, NULL), 0);
	sl_config_free(cfg);
}

/* Every mistake in a file is reported, not just the first. */
static void test_collects_all_errors(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	assert_int_equal(load(L1 L2 "  vips: [10.0.0.300]\n"
				    "  ports: [{port: 0}]\n"
				    "  affinity: sticky\n" L5 L6_7,
			      &cfg, &d),
			 -EINVAL);
	assert_int_equal(d.n_errors, 3);
	sl_diag_free(&d);
}

/* Helpers and small functions */

static void test_addr(void **state)
{
	char buf[INET6_ADDRSTRLEN];
	struct sl_addr a;

	assert_int_equal(sl_addr_parse("10.1.2.3", &a), 0);
	assert_int_equal(a.family, SL_AF_INET);
	assert_memory_equal(a.addr, "\x0a\x01\x02\x03\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_string_equal(sl_addr_str(&a, buf, sizeof(buf)), "10.1.2.3");
	assert_int_equal(sl_addr_parse("fd00::1", &a), 0);
	assert_int_equal(a.family, SL_AF_INET6);
	assert_int_equal(a.addr[0], 0xfd);
	assert_int_equal(a.addr[15], 1);
	assert_string_equal(sl_addr_str(&a, buf, sizeof(buf)), "fd00::1");
	assert_int_equal(sl_addr_parse("10.1.2", &a), -EINVAL);
	assert_int_equal(sl_addr_parse("10.0.0.1/24", &a), -EINVAL);
	assert_int_equal(sl_addr_parse("", &a), -EINVAL);
}

static void test_labels_match(void **state)
{
	struct sl_label have[] = {{"app", "web"}, {"version", "v2"}};
	struct sl_label want1[] = {{"version", "v2"}};
	struct sl_label want2[] = {{"version", "v1"}};
	struct sl_label want3[] = {{"app", "web"}, {"tier", "x"}};

	assert_true(sl_labels_match(want1, 1, have, 2));
	assert_true(sl_labels_match(have, 2, have, 2));
	assert_true(sl_labels_match(NULL, 0, have, 2));
	assert_false(sl_labels_match(want2, 1, have, 2));
	assert_false(sl_labels_match(want3, 2, have, 2));
	assert_false(sl_labels_match(want1, 1, NULL, 0));
}

static void test_diag(void **state)
{
	struct sl_pos pos = {"f.yaml", 3, 7};
	struct sl_diag d;

	sl_diag_init(&d);
	sl_diag_add(&d, &pos, "error", "bad %s", "thing");
	sl_diag_add(&d, &pos, "warning", "odd %d", 5);
	assert_int_equal(d.n_msgs, 2);
	assert_int_equal(d.n_errors, 1);
	assert_int_equal(d.n_warnings, 1);
	assert_string_equal(d.msgs[0], "f.yaml:3:7: error: bad thing");
	assert_string_equal(d.msgs[1], "f.yaml:3:7: warning: odd 5");
	sl_diag_free(&d);
	assert_int_equal(d.n_msgs, 0);
}

/* Errors: file structure */

static void test_syntax_error(void **state)
{
	assert_error("services:\n  - name: a\n   vips: [\n",
		     "t.yaml:3:4: error: invalid YAML: did not find expected '-' indicator "
		     "(while parsing a block collection that starts at line 2, column 3)");
}

static void test_empty_file(void **state)
{
	assert_error("", "t.yaml:1:1: error: the file is empty; it needs a 'services' list");
	assert_error("# only a comment\n",
		     "t.yaml:1:1: error: the file is empty; it needs a 'services' list");
}

static void test_top_not_mapping(void **state)
{
	assert_error("- a\n- b\n", "t.yaml:1:1: error: the top level must be a mapping with a "
				   "'services' list, not a list");
}

static void test_no_services(void **state)
{
	assert_error("workloads: []\n", "t.yaml:1:1: error: no 'services' at the top level; at "
					"least one service is needed");
	assert_error("services: []\n",
		     "t.yaml:1:11: error: 'services' is empty; at least one service is needed");
}

/* A second document adds to the first (an empty 'services' there is fine). */
static void test_two_documents(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(L1 L2 L3 L4 L5 L6_7 "---\nservices: []\n", &d);
	assert_int_equal(cfg->n_services, 1);
	assert_int_equal(d.n_msgs, 0);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_unknown_key_top(void **state)
{
	assert_error(L1 L2 L3 L4 L5 L6_7 "service: []\n",
		     "t.yaml:8:1: error: unknown key 'service' at the top level; expected one "
		     "of: services, workloads");
}

static void test_unknown_key_service(void **state)
{
	assert_error(L1 L2 L3 L4 "  foo: 1\n" L5 L6_7,
		     "t.yaml:5:3: error: unknown key 'foo' in service 'a'; expected one of: "
		     "name, vips, ports, affinity, subsets, routes");
}

static void test_unknown_key_port(void **state)
{
	assert_error(L1 L2 L3 "  ports: [{port: 80, targetport: 81}]\n" L5 L6_7,
		     "t.yaml:4:22: error: unknown key 'targetport' in a port of service 'a'; "
		     "expected one of: port, protocol, targetPort");
}

static void test_duplicate_key(void **state)
{
	assert_error(L1 L2 L3 L4 "  ports: [{port: 81}]\n" L5 L6_7,
		     "t.yaml:5:3: error: duplicate key 'ports' in service 'a'");
}

/* Errors: services */

static void test_missing_name(void **state)
{
	assert_error(L1 "- vips: [10.0.0.1]\n" L4 L5 L6_7,
		     "t.yaml:2:3: error: service 1 is missing 'name'");
}

static void test_bad_name(void **state)
{
	assert_error(L1 "- name: Back_end\n" L3 L4 L5 L6_7,
		     "t.yaml:2:9: error: service name 'Back_end' is not valid; use lowercase "
		     "letters, digits, '-' and '.', starting and ending with a letter or digit");
	assert_error(L1 "- name: a-\n" L3 L4 L5 L6_7,
		     "t.yaml:2:9: error: service name 'a-' is not valid; use lowercase "
		     "letters, digits, '-' and '.', starting and ending with a letter or digit");
}

static void test_name_too_long(void **state)
{
	assert_error(
	    L1 "- name: "
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" L3 L4 L5 L6_7,
	    "t.yaml:2:9: error: service name "
	    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is 64 "
	    "characters long; the limit is 63");
}

static void test_duplicate_service_name(void **state)
{
	assert_error(L1 L2 L3 L4 L5 L6_7 L2 "  vips: [10.0.0.2]\n" L4 L5 L6_7,
		     "t.yaml:8:9: error: duplicate service name 'a'; service 'a' is already "
		     "defined at line 2");
}

static void test_bad_vip(void **state)
{
	assert_error(L1 L2 "  vips: [10.0.0.1, 10.0.0.300]\n" L4 L5 L6_7,
		     "t.yaml:3:20: error: VIP '10.0.0.300' is not a valid IPv4 or IPv6 address");
}

static void test_duplicate_vip(void **state)
{
	assert_error(L1 L2 "  vips: [\"fd00::1\", \"fd00:0::1\"]\n" L4 L5 L6_7,
		     "t.yaml:3:21: error: duplicate VIP fd00::1 in service 'a'");
}

static void test_missing_vips(void **state)
{
	assert_error(L1 L2 L4 L5 L6_7, "t.yaml:2:3: error: service 'a' is missing 'vips'");
	assert_error(L1 L2 "  vips: []\n" L4 L5 L6_7,
		     "t.yaml:3:9: error: 'vips' of service 'a' is empty; give at least one "
		     "address");
}

static void test_missing_ports(void **state)
{
	assert_error(L1 L2 L3 L5 L6_7, "t.yaml:2:3: error: service 'a' is missing 'ports'");
	assert_error(L1 L2 L3 "  ports: 80\n" L5 L6_7,
		     "t.yaml:4:10: error: 'ports' of service 'a' must be a list, not a string");
}

static void test_bad_port(void **state)
{
	assert_error(L1 L2 L3 "  ports: [{port: 80x}]\n" L5 L6_7,
		     "t.yaml:4:18: error: port must be an integer, not '80x'");
	assert_error(L1 L2 L3 "  ports: [{port: 0x50}]\n" L5 L6_7,
		     "t.yaml:4:18: error: port must be an integer, not '0x50'");
	assert_error(L1 L2 L3 "  ports: [{port: 65536}]\n" L5 L6_7,
		     "t.yaml:4:18: error: port 65536 is out of range; it must be 1 to 65535");
	assert_error(L1 L2 L3 "  ports: [{port: 80, targetPort: 0}]\n" L5 L6_7,
		     "t.yaml:4:34: error: targetPort 0 is out of range; it must be 1 to 65535");
	assert_error(L1 L2 L3 "  ports: [{protocol: UDP}]\n" L5 L6_7,
		     "t.yaml:4:11: error: a port of service 'a' is missing 'port'");
}

static void test_bad_protocol(void **state)
{
	assert_error(L1 L2 L3 "  ports: [{port: 80, protocol: SCTP}]\n" L5 L6_7,
		     "t.yaml:4:32: error: protocol 'SCTP' is not supported; expected TCP or UDP");
}

static void test_duplicate_port(void **state)
{
	/* Protocol names are case-insensitive, so these two are the same. */
	assert_error(L1 L2 L3 "  ports: [{port: 80}, {port: 80, protocol: tcp}]\n" L5 L6_7,
		     "t.yaml:4:23: error: duplicate port 80/TCP in service 'a' (first at line 4)");
}

static void test_same_port_other_protocol(void **state)
{
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(L1 L2 L3 "  ports: [{port: 53}, {port: 53, protocol: Udp}]\n" L5 L6_7, &d);
	assert_int_equal(cfg->services[0].n_ports, 2);
	assert_int_equal(cfg->services[0].ports[1].proto, IPPROTO_UDP);
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_bad_affinity(void **state)
{
	assert_error(L1 L2 L3 L4 "  affinity: sticky\n" L5 L6_7,
		     "t.yaml:5:13: error: affinity 'sticky' is not valid; expected connection or "
		     "client-ip");
}

static void test_vip_port_taken(void **state)
{
	assert_error(L1 L2 L3 L4 L5 L6_7 "- name: b\n" L3 L4 L5 L6_7,
		     "t.yaml:8:3: error: service 'b' uses VIP 10.0.0.1 port 80/TCP, which "
		     "service 'a' already uses");
}

static void test_too_many_vip_ports(void **state)
{
	/* 129 VIPs x 128 ports = 16512 (VIP, port) pairs, over SL_MAX_SERVICES. */
	size_t cap = 16384, off = 0;
	char *yaml = malloc(cap);
	int i;

	assert_non_null(yaml);
	off += snprintf(yaml + off, cap - off, L1 L2 "  vips: [");
	for (i = 0; i < 129; i++)
		off += snprintf(yaml + off, cap - off, "%s10.0.%d.%d", i ? ", " : "", i / 100,
				i % 100 + 1);
	off += snprintf(yaml + off, cap - off, "]\n  ports: [");
	for (i = 0; i < 128; i++)
		off += snprintf(yaml + off, cap - off, "%s{port: %d}", i ? ", " : "", i + 1);
	snprintf(yaml + off, cap - off, "]\n" L5 L6_7);
	assert_true(off < cap - 200);
	assert_error(yaml, "t.yaml:2:3: error: service 'a' brings the number of (VIP, port) pairs "
			   "to 16512; the limit is 16384");
	free(yaml);
}

/* Errors: subsets and endpoints */

static void test_missing_subsets(void **state)
{
	assert_error(L1 L2 L3 L4, "t.yaml:2:3: error: service 'a' is missing 'subsets'");
	assert_error(L1 L2 L3 L4 "  subsets: {}\n",
		     "t.yaml:5:12: error: service 'a' has no subsets; give at least one");
}

static void test_too_many_subsets(void **state)
{
	assert_error(L1 L2 L3 L4
		     "  subsets: {a: {endpoints: []}, b: {endpoints: []}, c: {endpoints: []},\n"
		     "    d: {endpoints: []}, e: {endpoints: []}, f: {endpoints: []},\n"
		     "    g: {endpoints: []}, h: {endpoints: []}, i: {endpoints: []}}\n",
		     "t.yaml:5:12: error: service 'a' has 9 subsets; the limit is 8");
}

static void test_bad_subset_name(void **state)
{
	assert_error(L1 L2 L3 L4 "  subsets: {v/1: {endpoints: [10.0.1.1]}}\n",
		     "t.yaml:5:13: error: subset name 'v/1' is not valid; use letters, digits, "
		     "'_', '.' and '-'");
	assert_error(L1 L2 L3 L4 "  subsets: {abcdefghijklmnopqrstuvwxyz012345: {endpoints: []}}\n",
		     "t.yaml:5:13: error: subset name 'abcdefghijklmnopqrstuvwxyz012345' is 32 "
		     "characters long; the limit is 31");
}

static void test_subset_missing_endpoints(void **state)
{
	assert_error(L1 L2 L3 L4 "  subsets: {v1: {}}\n",
		     "t.yaml:5:17: error: subset 'v1' of service 'a' is missing 'endpoints'");
}

static void test_bad_endpoint(void **state)
{
	assert_error(L1 L2 L3 L4 "  subsets: {v1: {endpoints: [10.0.1.1, 10.0.1.x]}}\n",
		     "t.yaml:5:40: error: endpoint '10.0.1.x' is not valid; write an address, "
		     "address:port or [IPv6]:port");
	/* IPv6 with a port needs brackets, or the port reads as part of the address. */
	assert_error(L1 L2 L3 L4 "  subsets: {v1: {endpoints: [\"[10.0.1.1]:80\"]}}\n",
		     "t.yaml:5:30: error: endpoint '[10.0.1.1]:80' is not valid; write an "
		     "address, address:port or [IPv6]:port");
	assert_error(L1 L2 L3 L4 "  subsets: {v1: {endpoints: [10.0.1.1:65536]}}\n",
		     "t.yaml:5:30: error: endpoint '10.0.1.1:65536' has port '65536'; ports are 1 "
		     "to 65535");
}

static void test_duplicate_endpoint(void **state)
{
	assert_error(
	    L1 L2 L3 L4
	    "  subsets: {v1: {endpoints: [\"[fd00::1]:80\", 10.0.1.1, \"[fd00::01]:80\"]}}\n",
	    "t.yaml:5:56: error: duplicate endpoint [fd00::01]:80 in subset 'v1' of "
	    "service 'a'");
}

/* Errors: routes */

static void test_routes_missing(void **state)
{
	assert_error(L1 L2 L3 L4 L5, "t.yaml:2:3: error: service 'a' has 2 subsets but no routes; "
				     "add routes with a split to say how traffic is shared");
}

static void test_too_many_routes(void **state)
{
	assert_error(L1 L2 L3 L4 L5 "  routes:\n"
				    "  - {match: {sourceCIDRs: [10.0.0.1]}, split: {v1: 1}}\n"
				    "  - {match: {sourceCIDRs: [10.0.0.2]}, split: {v1: 1}}\n"
				    "  - {match: {sourceCIDRs: [10.0.0.3]}, split: {v1: 1}}\n"
				    "  - {match: {sourceCIDRs: [10.0.0.4]}, split: {v1: 1}}\n"
				    "  - {match: {sourceCIDRs: [10.0.0.5]}, split: {v1: 1}}\n"
				    "  - {match: {sourceCIDRs: [10.0.0.6]}, split: {v1: 1}}\n"
				    "  - {match: {sourceCIDRs: [10.0.0.7]}, split: {v1: 1}}\n"
				    "  - {match: {sourceCIDRs: [10.0.0.8]}, split: {v1: 1}}\n"
				    "  - split: {v1: 1}\n",
		     "t.yaml:7:3: error: service 'a' has 9 routes; the limit is 8");
}

static void test_route_without_match_not_last(void **state)
{
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - split: {v1: 1}\n  - split: {v2: 1}\n",
		     "t.yaml:7:5: error: route 1 has no match, so the routes after it can never "
		     "be chosen");
}

static void test_missing_split(void **state)
{
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - match: {sourceCIDRs: [10.0.0.0/8]}\n",
		     "t.yaml:7:5: error: route 1 of service 'a' is missing 'split'");
}

static void test_empty_match(void **state)
{
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - {match: {}, split: {v1: 1}}\n",
		     "t.yaml:7:13: error: the match of route 1 of service 'a' is empty; give "
		     "sourceCIDRs, sourceLabels, headers, uri or method, or leave out match to "
		     "match all traffic");
}

/* Header routes in our own format: the same text the Istio reader makes. */
static void test_http_match(void **state)
{
	const struct sl_service_cfg *s;
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(L1 L2 L3 L4 L5
		      "  routes:\n"
		      "  - match: {headers: {Canary: {exact: canary-tester}, x-beta: {}},\n"
		      "            uri: {prefix: /api}}\n"
		      "    split: {v2: 1}\n"
		      "  - match: {method: {regex: \"GET|HEAD\"}, sourceCIDRs: [10.0.9.0/24]}\n"
		      "    split: {v2: 1}\n"
		      "  - split: {v1: 9, v2: 1}\n",
		      &d);
	s = &cfg->services[0];
	assert_true(s->routes[0].needs_l7);
	assert_string_equal(s->routes[0].l7_spec, "header canary exact canary-tester\n"
						  "header x-beta present\nuri prefix /api\n");
	assert_true(s->routes[1].needs_l7 && s->routes[1].has_cidrs);
	assert_string_equal(s->routes[1].l7_spec, "method regex GET|HEAD\n");
	assert_false(s->routes[2].needs_l7);
	assert_null(s->routes[2].l7_spec);
	assert_int_equal(d.n_warnings, 0);
	sl_config_free(cfg);
	sl_diag_free(&d);

	assert_error(L1 L2 L3 L4 L5
		     "  routes:\n"
		     "  - {match: {headers: {canary: {suffix: x}}}, split: {v2: 1}}\n"
		     "  - split: {v1: 1}\n",
		     "t.yaml:7:32: error: header 'canary' in the match of route 1 of service 'a' "
		     "must be one of {exact: S}, {prefix: S}, {regex: S} or {} (present)");
	assert_error(L1 L2 L3 L4 L5 "  routes:\n"
				    "  - {match: {uri: {regex: \"(\"}}, split: {v2: 1}}\n"
				    "  - split: {v1: 1}\n",
		     "t.yaml:7:13: error: the HTTP match of route 1 of service 'a' is invalid: "
		     "line 1: regex '(': missing ) at offset 1");
}

static void test_unknown_match_key(void **state)
{
	assert_error(L1 L2 L3 L4 L5
		     "  routes:\n  - {match: {sourceIPs: [10.0.0.1]}, split: {v1: 1}}\n",
		     "t.yaml:7:14: error: unknown key 'sourceIPs' in the match of route 1 of "
		     "service 'a'; expected one of: sourceCIDRs, sourceLabels, headers, uri, "
		     "method");
}

static void test_empty_source_labels(void **state)
{
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - {match: {sourceLabels: {}}, split: {v1: 1}}\n",
		     "t.yaml:7:28: error: 'sourceLabels' of route 1 of service 'a' is empty; "
		     "give at least one label");
}

static void test_cidr_host_bits(void **state)
{
	assert_error(
	    L1 L2 L3 L4 L5 "  routes:\n"
			   "  - match: {sourceCIDRs: [10.0.9.1/24]}\n"
			   "    split: {v2: 100}\n"
			   "  - split: {v1: 1}\n",
	    "t.yaml:7:27: error: 10.0.9.1/24 has host bits set; did you mean 10.0.9.0/24?");
	assert_error(L1 L2 L3 L4 L5 "  routes:\n"
				    "  - match: {sourceCIDRs: [\"fd00::1/64\"]}\n"
				    "    split: {v2: 100}\n"
				    "  - split: {v1: 1}\n",
		     "t.yaml:7:27: error: fd00::1/64 has host bits set; did you mean fd00::/64?");
}

static void test_bad_cidr(void **state)
{
	assert_error(
	    L1 L2 L3 L4 L5 "  routes:\n"
			   "  - match: {sourceCIDRs: [10.0.0.0/33]}\n"
			   "    split: {v2: 100}\n"
			   "  - split: {v1: 1}\n",
	    "t.yaml:7:27: error: 10.0.0.0/33 has prefix length 33; IPv4 allows at most 32");
	assert_error(L1 L2 L3 L4 L5 "  routes:\n"
				    "  - match: {sourceCIDRs: [10.0.0.0/x]}\n"
				    "    split: {v2: 100}\n"
				    "  - split: {v1: 1}\n",
		     "t.yaml:7:27: error: '10.0.0.0/x' is not a valid address or CIDR");
}

static void test_unknown_subset_in_split(void **state)
{
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - split: {v1: 1, v3: 1}\n",
		     "t.yaml:7:20: error: split names subset 'v3', which service 'a' does not "
		     "have; its subsets are: v1, v2");
}

static void test_negative_weight(void **state)
{
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - split: {v1: 1, v2: -5}\n",
		     "t.yaml:7:24: error: weight -5 of subset 'v2' is negative; weights are 0 to "
		     "1000000");
}

static void test_non_integer_weight(void **state)
{
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - split: {v1: 1.5, v2: 1}\n",
		     "t.yaml:7:17: error: weight of subset 'v1' must be an integer, not '1.5'");
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - split: {v1: [1], v2: 1}\n",
		     "t.yaml:7:17: error: weight of subset 'v1' must be an integer, not a list");
}

static void test_weight_too_big(void **state)
{
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - split: {v1: 1000001, v2: 1}\n",
		     "t.yaml:7:17: error: weight 1000001 of subset 'v1' is too large; the "
		     "maximum is 1000000");
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - split: {v1: 99999999999999999999999}\n",
		     "t.yaml:7:17: error: weight 99999999999999999999999 of subset 'v1' is too "
		     "large; the maximum is 1000000");
}

static void test_all_zero_weights(void **state)
{
	assert_error(L1 L2 L3 L4 L5 "  routes:\n  - split: {v1: 0, v2: 0}\n",
		     "t.yaml:7:12: error: all weights in this split are 0; at least one subset "
		     "must get traffic");
}

/* Errors: workloads */

static void test_workload_errors(void **state)
{
	assert_error(L1 L2 L3 L4 L5 L6_7 "workloads:\n- ips: [10.0.0.1]\n",
		     "t.yaml:9:3: error: workload 1 is missing 'labels'");
	assert_error(L1 L2 L3 L4 L5 L6_7 "workloads:\n- {labels: {app: x}}\n",
		     "t.yaml:9:3: error: workload 1 is missing 'ips'");
	assert_error(L1 L2 L3 L4 L5 L6_7 "workloads:\n- {labels: {app: x}, ips: []}\n",
		     "t.yaml:9:27: error: 'ips' of workload 1 is empty; give at least one address "
		     "or CIDR");
	assert_error(
	    L1 L2 L3 L4 L5 L6_7 "workloads:\n- {labels: {}, ips: [10.0.0.1]}\n",
	    "t.yaml:9:12: error: 'labels' of workload 1 is empty; give at least one label");
	assert_error(L1 L2 L3 L4 L5 L6_7 "workloads:\n- {labels: {app: [x]}, ips: [10.0.0.1]}\n",
		     "t.yaml:9:18: error: label 'app' must have a string value, not a list");
}

/* Warnings: the load succeeds */

static void test_warn_empty_subset(void **state)
{
	assert_warning(L1 L2 L3 L4 "  subsets: {v1: {endpoints: [10.0.1.1]}, v2: {endpoints: []}}\n"
				   "  routes:\n  - split: {v1: 1, v2: 0}\n",
		       "t.yaml:5:42: warning: subset 'v2' of service 'a' has no endpoints");
}

static void test_warn_split_to_empty_subset(void **state)
{
	assert_warning(L1 L2 L3 L4 "  subsets: {v1: {endpoints: [10.0.1.1]}, v2: {endpoints: []}}\n"
				   "  routes:\n  - split: {v1: 1, v2: 3}\n",
		       "t.yaml:7:24: warning: split sends traffic to subset 'v2' of service 'a', "
		       "which has no endpoints");
}

static void test_warn_last_route_has_match(void **state)
{
	assert_warning(L1 L2 L3 L4 L5 "  routes:\n  - match: {sourceLabels: {app: x}}\n"
				      "    split: {v2: 1}\n",
		       "t.yaml:7:5: warning: the last route of service 'a' has a match, so "
		       "connections that match no route pass to the VIP untouched");
}

/* Several documents, files and directories */

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

	/* 2 files x 65 VIPs x 128 ports = 16640 pairs; either alone is within the limit. */
	for (f = 0; f < 2; f++) {
		yaml[f] = malloc(cap);
		assert_non_null(yaml[f]);
		off = snprintf(yaml[f], cap, "services:\n- name: s%d\n  vips: [", f);
		for (i = 0; i < 65; i++)
			off += snprintf(yaml[f] + off, cap - off, "%s10.%d.0.%d", i ? ", " : "", f,
					i + 1);
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
		 "%s:2:3: error: service 's1' brings the number of (VIP, port) pairs to 16640; "
		 "the limit is 16384",
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
	    cmocka_unit_test(test_good_model),
	    cmocka_unit_test(test_example_file),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_null_diag),
	    cmocka_unit_test(test_collects_all_errors),
	    cmocka_unit_test(test_addr),
	    cmocka_unit_test(test_labels_match),
	    cmocka_unit_test(test_diag),
	    cmocka_unit_test(test_syntax_error),
	    cmocka_unit_test(test_empty_file),
	    cmocka_unit_test(test_top_not_mapping),
	    cmocka_unit_test(test_no_services),
	    cmocka_unit_test(test_two_documents),
	    cmocka_unit_test(test_unknown_key_top),
	    cmocka_unit_test(test_unknown_key_service),
	    cmocka_unit_test(test_unknown_key_port),
	    cmocka_unit_test(test_duplicate_key),
	    cmocka_unit_test(test_missing_name),
	    cmocka_unit_test(test_bad_name),
	    cmocka_unit_test(test_name_too_long),
	    cmocka_unit_test(test_duplicate_service_name),
	    cmocka_unit_test(test_bad_vip),
	    cmocka_unit_test(test_duplicate_vip),
	    cmocka_unit_test(test_missing_vips),
	    cmocka_unit_test(test_missing_ports),
	    cmocka_unit_test(test_bad_port),
	    cmocka_unit_test(test_bad_protocol),
	    cmocka_unit_test(test_duplicate_port),
	    cmocka_unit_test(test_same_port_other_protocol),
	    cmocka_unit_test(test_bad_affinity),
	    cmocka_unit_test(test_vip_port_taken),
	    cmocka_unit_test(test_too_many_vip_ports),
	    cmocka_unit_test(test_missing_subsets),
	    cmocka_unit_test(test_too_many_subsets),
	    cmocka_unit_test(test_bad_subset_name),
	    cmocka_unit_test(test_subset_missing_endpoints),
	    cmocka_unit_test(test_bad_endpoint),
	    cmocka_unit_test(test_duplicate_endpoint),
	    cmocka_unit_test(test_routes_missing),
	    cmocka_unit_test(test_too_many_routes),
	    cmocka_unit_test(test_route_without_match_not_last),
	    cmocka_unit_test(test_missing_split),
	    cmocka_unit_test(test_empty_match),
	    cmocka_unit_test(test_http_match),
	    cmocka_unit_test(test_unknown_match_key),
	    cmocka_unit_test(test_empty_source_labels),
	    cmocka_unit_test(test_cidr_host_bits),
	    cmocka_unit_test(test_bad_cidr),
	    cmocka_unit_test(test_unknown_subset_in_split),
	    cmocka_unit_test(test_negative_weight),
	    cmocka_unit_test(test_non_integer_weight),
	    cmocka_unit_test(test_weight_too_big),
	    cmocka_unit_test(test_all_zero_weights),
	    cmocka_unit_test(test_workload_errors),
	    cmocka_unit_test(test_warn_empty_subset),
	    cmocka_unit_test(test_warn_split_to_empty_subset),
	    cmocka_unit_test(test_warn_last_route_has_match),
	    cmocka_unit_test(test_multi_document),
	    cmocka_unit_test(test_multi_document_errors),
	    cmocka_unit_test(test_bad_document_shape),
	    cmocka_unit_test(test_skipped_kinds),
	    cmocka_unit_test(test_routing_kinds_read),
	    cmocka_unit_test(test_k8s_list),
	    cmocka_unit_test_setup_teardown(test_dir_sorted, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_dir_isolated, tmp_setup, tmp_teardown),
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
