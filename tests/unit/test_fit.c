// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Full tables, loader side (config/fit.c): a configuration at each table's
 * limit loads; one entry more is refused with the limit named, at the
 * service that goes over. Endpoints, subsets (counter rows), source
 * prefixes (sourceCIDRs, and workload addresses sourceLabels select) and
 * distinct HTTP matches; (VIP, port) pairs are test_config's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"

#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "lib/log.h"

#define DIAG_FILE "t.yaml"
#include "big_config.h"
#include "diag_check.h"

/* yaml loads without errors, with this many services; yaml is freed. */
static void assert_loads(char *yaml, size_t n_services)
{
	struct sl_config *cfg;
	struct sl_diag d;

	cfg = load_ok(yaml, &d);
	if (n_services)
		assert_int_equal(cfg->n_services, n_services);
	sl_config_free(cfg);
	sl_diag_free(&d);
	free(yaml);
}

/* yaml fails to load with msg among the errors; yaml is freed. */
static void assert_refused(char *yaml, const char *msg)
{
	assert_error(yaml, msg);
	free(yaml);
}

static void test_endpoints_at_limit(void **state)
{
	struct text t;
	unsigned int ep = 1;

	/* 32 services x 8 subsets x 1024 endpoints: 262,144 */
	assert_loads(services_text(32, 8, 1024), 32);

	/* one more, in a ninth service: it is the one named */
	text_open(&t);
	services(t.f, 32, 8, 1024, &ep);
	fprintf(t.f, "- name: last\n  vips: [172.17.0.1]\n  ports: [{port: 80}]\n"
		     "  subsets: {v0: {endpoints: [192.168.0.1]}}\n");
	assert_refused(text_close(&t), "t.yaml:450:3: error: service 'last' brings the number of "
				       "endpoints (of all services together) to 262145; the limit "
				       "is 262144");
}

static void test_subsets_at_limit(void **state)
{
	/* 8,192 services x 8 subsets: 65,536 counter rows */
	assert_loads(services_text(8192, 8, 1), 8192);
	/* 14 lines per service: s8192 starts at line 2 + 8192 * 14 */
	assert_refused(services_text(8193, 8, 1),
		       "t.yaml:114690:3: error: service 's8192' brings the number of subsets (of "
		       "all services together, each a counter row) to 65544; the limit is 65536");
}

/* What a config with one source prefix too many hears. */
#define SRC_LIMIT(svc, n)                                                                          \
	"error: service '" svc "' brings the number of source prefixes its routes match on "       \
	"(sourceCIDRs, and the addresses of the workloads their sourceLabels select, each once "   \
	"per service) to " n "; the limit is 65536"

static void test_source_cidrs_at_limit(void **state)
{
	/* 4,096 services x 16 prefixes: 65,536 sl_src_match entries */
	assert_loads(cidr_services(4096, 0), 4096);
	assert_refused(cidr_services(4096, 1), "t.yaml:32762:3: " SRC_LIMIT("s4095", "65537"));
}

/*
 * Workloads: every service's route selects the same workload by label, so
 * each of its addresses is an entry per service: 2,048 services x 32.
 */
static void test_workloads_at_limit(void **state)
{
	assert_loads(label_services(2048, 32), 2048);
	/* one more address: every service takes it; s1985 is the one that goes over */
	assert_refused(label_services(2048, 33), "t.yaml:15882:3: " SRC_LIMIT("s1985", "65538"));
}

static void test_http_matches_at_limit(void **state)
{
	assert_loads(header_services(4096), 0);
	assert_refused(
	    header_services(4097),
	    "t.yaml:2:3: error: the routes have 4097 distinct HTTP matches; the limit is "
	    "4096");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_endpoints_at_limit),	  cmocka_unit_test(test_subsets_at_limit),
	    cmocka_unit_test(test_source_cidrs_at_limit), cmocka_unit_test(test_workloads_at_limit),
	    cmocka_unit_test(test_http_matches_at_limit),
	};

	sl_log_set_level(SL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
