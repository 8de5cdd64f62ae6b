// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Config parser tests: one good file checked field by field, then one test
 * per kind of mistake, each pinning the exact "FILE:LINE:COL: error: ..."
 * line an operator would see.
 */
#include "config_common.h"
/* sl_tb_key_value(): what the table writer puts in a key */
#include "datapath/tables_internal.h"

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
		     "name, vips, ports, affinity, subsets, routes, rollout, perRequest");
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
		     "t.yaml:4:32: error: protocol 'SCTP' is not supported; expected TCP, HTTP, "
		     "HTTP2, GRPC or UDP");
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

/* Which path a port takes: the opt-in, a declared protocol, HTTP routes, else the kernel. */
static void test_paths(void **state)
{
	static const char *const yaml = L1 L2 L3
	    "  ports: [{port: 80}, {port: 81, protocol: HTTP2}, {port: 82, protocol: grpc},"
	    " {port: 53, protocol: UDP}]\n" L5 L6_7
	    "- name: b\n  vips: [10.0.0.2]\n  perRequest: true\n"
	    "  ports: [{port: 80, protocol: HTTP}, {port: 53, protocol: UDP}]\n" L5 L6_7
	    "- name: c\n  vips: [10.0.0.3]\n" L4 L5
	    "  routes:\n  - match: {headers: {canary: {exact: x}}}\n    split: {v2: 1}\n"
	    "  - split: {v1: 1}\n";
	struct sl_config *cfg;
	struct sl_diag d;

	assert_int_equal(load(yaml, &cfg, &d), 0);
	assert_int_equal(cfg->n_services, 3);
	assert_int_equal(sl_port_path(&cfg->services[0], &cfg->services[0].ports[0]),
			 SL_PATH_KERNEL);
	assert_int_equal(sl_port_path(&cfg->services[0], &cfg->services[0].ports[1]),
			 SL_PATH_HTTP2);
	assert_int_equal(sl_port_path(&cfg->services[0], &cfg->services[0].ports[2]), SL_PATH_GRPC);
	assert_int_equal(sl_port_path(&cfg->services[0], &cfg->services[0].ports[3]),
			 SL_PATH_KERNEL);
	assert_true(cfg->services[1].per_request);
	assert_int_equal(sl_port_path(&cfg->services[1], &cfg->services[1].ports[0]),
			 SL_PATH_PER_REQUEST);
	assert_int_equal(sl_port_path(&cfg->services[1], &cfg->services[1].ports[1]),
			 SL_PATH_KERNEL);
	assert_int_equal(sl_port_path(&cfg->services[2], &cfg->services[2].ports[0]),
			 SL_PATH_HTTP_ROUTES);
	assert_string_equal(sl_path_name(SL_PATH_PER_REQUEST),
			    "L7 (per request: per-request split opt-in)");
	sl_config_free(cfg);
	sl_diag_free(&d);
}

/*
 * An HTTP route that applies at one VIP only (a route on destination
 * subnets): `sluice check`'s path and the key the table writer builds agree
 * at each VIP. No front end writes such a route today (Istio's
 * destinationSubnets are tcp-only), so the model is given it by hand.
 */
static void test_paths_per_vip(void **state)
{
	static const char *const yaml = L1 L2 "  vips: [10.0.0.1, 10.9.0.1]\n" L4 L5
	    "  routes:\n  - match: {headers: {canary: {exact: x}}}\n    split: {v2: 1}\n"
	    "  - split: {v1: 1}\n";
	static const int want[2][2] = {
	    {SL_PATH_HTTP_ROUTES, SL_PATH_KERNEL},
	    {SL_PATH_HTTP_ROUTES, SL_PATH_PER_REQUEST},
	};
	static const __u32 want_flags[2][2] = {
	    {SL_SVC_L7, 0},
	    {SL_SVC_L7, SL_SVC_L7 | SL_SVC_L7_PER_REQUEST},
	};
	struct svc_plan plan = {.svc_id = 1};
	struct sl_service_cfg *s;
	struct sl_route_cfg *rt;
	struct sl_config *cfg;
	struct sl_svc_key key;
	struct sl_service val;
	struct sl_diag d;
	size_t v, pr;

	assert_int_equal(load(yaml, &cfg, &d), 0);
	s = &cfg->services[0];
	rt = &s->routes[0];
	assert_true(rt->needs_l7);
	rt->dst_cidrs = calloc(1, sizeof(*rt->dst_cidrs));
	assert_non_null(rt->dst_cidrs);
	assert_int_equal(sl_cidr_parse("10.0.0.0/16", rt->dst_cidrs), 0);
	rt->n_dst_cidrs = 1;
	rt->has_dst_cidrs = true;

	assert_true(sl_route_applies_at(rt, &s->vips[0], &s->ports[0]));
	assert_false(sl_route_applies_at(rt, &s->vips[1], &s->ports[0]));
	assert_false(sl_route_applies_at(rt, NULL, &s->ports[0]));
	for (pr = 0; pr < 2; pr++) {
		s->per_request = pr;
		for (v = 0; v < 2; v++) {
			assert_int_equal(sl_port_path_at(s, &s->vips[v], &s->ports[0]),
					 want[pr][v]);
			sl_tb_key_value(s, &plan, v, 0, &key, &val);
			assert_int_equal(val.flags & (SL_SVC_L7 | SL_SVC_L7_PER_REQUEST),
					 want_flags[pr][v]);
			assert_int_equal(!!(val.routes[0].flags & SL_ROUTE_SKIP), v == 1);
		}
	}
	sl_config_free(cfg);
	sl_diag_free(&d);
}

static void test_bad_per_request(void **state)
{
	assert_error(L1 L2 L3 L4 "  perRequest: yes\n" L5 L6_7,
		     "t.yaml:5:15: error: perRequest 'yes' is not valid; expected true or false");
}

static void test_vip_port_taken(void **state)
{
	assert_error(L1 L2 L3 L4 L5 L6_7 "- name: b\n" L3 L4 L5 L6_7,
		     "t.yaml:8:3: error: service 'b' uses VIP 10.0.0.1 port 80/TCP, which "
		     "service 'a' already uses");
}

static void test_too_many_vip_ports(void **state)
{
	/* 513 VIPs x 128 ports = 65664 (VIP, port) pairs, over SL_MAX_SERVICES. */
	size_t cap = 16384, off = 0;
	char *yaml = malloc(cap);
	int i;

	assert_non_null(yaml);
	off += snprintf(yaml + off, cap - off, L1 L2 "  vips: [");
	for (i = 0; i < 513; i++)
		off += snprintf(yaml + off, cap - off, "%s10.0.%d.%d", i ? ", " : "", i / 100,
				i % 100 + 1);
	off += snprintf(yaml + off, cap - off, "]\n  ports: [");
	for (i = 0; i < 128; i++)
		off += snprintf(yaml + off, cap - off, "%s{port: %d}", i ? ", " : "", i + 1);
	snprintf(yaml + off, cap - off, "]\n" L5 L6_7);
	assert_true(off < cap - 200);
	assert_error(yaml, "t.yaml:2:3: error: service 'a' brings the number of (VIP, port) pairs "
			   "to 65664; the limit is 65536");
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
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_paths_per_vip),
	    cmocka_unit_test(test_bad_per_request),
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
