// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice's YAML configuration, as `sluice apply FILE` reads one file:
 * sl_config_load_buf() on the input, all or nothing. Seeds: examples/ and
 * the configurations of the tests.
 */
#include <errno.h>

#include "config/config.h"
#include "config_check.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_config *cfg = NULL;
	struct sl_diag diag;
	int err;

	sl_diag_init(&diag);
	err = sl_config_load_buf("fuzz.yaml", (const char *)data, size, &cfg, &diag);
	fuzz_check_load(err, cfg, &diag);
	sl_config_free(cfg);
	sl_diag_free(&diag);
	return 0;
}
