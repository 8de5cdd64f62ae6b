/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the libFuzzer targets share. Each target is one file with
 * LLVMFuzzerTestOneInput, built with clang's -fsanitize=fuzzer,address,
 * undefined against instrumented copies of user/ (Makefile: `make fuzz`).
 * A target checks properties of what it parsed besides "no crash": a
 * property that does not hold aborts, and libFuzzer keeps the input.
 */
#ifndef SLUICE_TESTS_FUZZ_H
#define SLUICE_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <sanitizer/common_interface_defs.h>

#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			__sanitizer_report_error_summary(__FILE__                                  \
							 ": property does not hold: " #cond);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * The loaders log at info and debug level: quiet, or the log is all a run
 * does. Warnings stay (tests/fuzz/run.sh closes the targets' stderr with
 * -close_fd_mask=2; libFuzzer and the sanitizers report on their own copy).
 */
static inline void fuzz_quiet(void)
{
	sl_log_set_level(SL_LOG_WARN);
}

#endif /* SLUICE_TESTS_FUZZ_H */
