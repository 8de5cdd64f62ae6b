/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the config parser tests share: cmocka, the loader, the diagnostics
 * checks (diag_check.h), the one-line-changed service and a few asserts.
 * Included by test_config.c (the model and each kind of mistake) and
 * test_config_files.c (documents, directories, files).
 */
#ifndef SLUICE_TEST_CONFIG_COMMON_H
#define SLUICE_TEST_CONFIG_COMMON_H

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
static inline void assert_warning(const char *yaml, const char *msg)
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

static inline void assert_addr(const struct sl_addr *a, const char *text)
{
	char buf[INET6_ADDRSTRLEN];
	struct sl_addr want;

	assert_int_equal(sl_addr_parse(text, &want), 0);
	assert_int_equal(a->family, want.family);
	assert_memory_equal(a->addr, want.addr, sizeof(a->addr));
	assert_string_equal(sl_addr_str(a, buf, sizeof(buf)), text);
}

static inline void assert_pos(const struct sl_pos *pos, const char *file, int line, int col)
{
	assert_string_equal(pos->file, file);
	assert_int_equal(pos->line, line);
	assert_int_equal(pos->col, col);
}

#endif /* SLUICE_TEST_CONFIG_COMMON_H */
