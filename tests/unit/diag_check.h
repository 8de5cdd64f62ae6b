/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the config unit tests share (cmocka): load a YAML text as one file,
 * named DIAG_FILE in messages, and check the outcome and its diagnostics.
 * Define DIAG_FILE before including.
 */
#ifndef SLUICE_TESTS_DIAG_CHECK_H
#define SLUICE_TESTS_DIAG_CHECK_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "config/config.h"

static inline void dump_diag(const struct sl_diag *d)
{
	size_t i;

	for (i = 0; i < d->n_msgs; i++)
		print_message("  | %s\n", d->msgs[i]);
}

/* msg is one of d's messages; else print them all and say no. */
static inline bool has_msg(const struct sl_diag *d, const char *msg)
{
	size_t i;

	for (i = 0; i < d->n_msgs; i++)
		if (!strcmp(d->msgs[i], msg))
			return true;
	print_message("expected: %s\ngot:\n", msg);
	dump_diag(d);
	return false;
}

static inline int load(const char *yaml, struct sl_config **cfg, struct sl_diag *d)
{
	sl_diag_init(d);
	/* Non-NULL, so that a failed load visibly resets it. */
	*cfg = (struct sl_config *)d;
	return sl_config_load_buf(DIAG_FILE, yaml, strlen(yaml), cfg, d);
}

/* The load fails with -EINVAL, *out is NULL, and msg is among the errors. */
static inline void assert_error(const char *yaml, const char *msg)
{
	struct sl_config *cfg;
	struct sl_diag d;
	int err;

	err = load(yaml, &cfg, &d);
	if (err != -EINVAL)
		dump_diag(&d);
	assert_int_equal(err, -EINVAL);
	assert_null(cfg);
	assert_true(d.n_errors >= 1);
	assert_true(has_msg(&d, msg));
	sl_diag_free(&d);
}

/* Loads without errors, or fails the test showing why. */
static inline struct sl_config *load_ok(const char *yaml, struct sl_diag *d)
{
	struct sl_config *cfg;
	int err;

	err = load(yaml, &cfg, d);
	if (err)
		dump_diag(d);
	assert_int_equal(err, 0);
	assert_non_null(cfg);
	assert_int_equal(d->n_errors, 0);
	return cfg;
}

#endif /* SLUICE_TESTS_DIAG_CHECK_H */
