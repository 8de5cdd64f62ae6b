// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Istio/Kubernetes reader, as `run --kubernetes` calls it: the objects
 * as one buffer of YAML documents, every object isolated (what is wrong
 * is left out on its own, listed in cfg->rejected) and an empty cluster
 * allowed. Seeds: examples/istio and the Kubernetes objects of the tests.
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
	struct sl_config_buf b = {.name = "kubernetes", .data = (const char *)data, .len = size};
	struct sl_config *cfg = NULL;
	struct sl_diag diag;
	uint64_t digest = 0;
	int err;

	sl_diag_init(&diag);
	err = sl_config_load_sources(NULL, 0, &b, 1, SL_LOAD_ISOLATE | SL_LOAD_ALLOW_EMPTY, &cfg,
				     &diag, &digest);
	fuzz_check_load(err, cfg, &diag);
	FUZZ_CHECK(digest != 0);
	sl_config_free(cfg);
	sl_diag_free(&diag);
	return 0;
}
