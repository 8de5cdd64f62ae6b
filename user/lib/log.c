// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "lib/log.h"

static enum sl_log_level log_level = SL_LOG_INFO;

void sl_log_set_level(enum sl_log_level level)
{
	log_level = level;
}

enum sl_log_level sl_log_get_level(void)
{
	return log_level;
}

static void vlog(enum sl_log_level level, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	/* Everything goes to stderr so that -j output on stdout stays parseable. */
	vfprintf(stderr, fmt, ap);
}

void sl_log(enum sl_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum sl_log_level l = level == LIBBPF_WARN ? SL_LOG_WARN : SL_LOG_DEBUG;
	char buf[1024];

	if (l > log_level)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/*
	 * bpf_tc_hook_create() on an interface that already has clsact: the
	 * caller treats -EEXIST as success, so the kernel's message is noise.
	 */
	if (strstr(buf, "Exclusivity flag on") && l == SL_LOG_WARN && log_level < SL_LOG_DEBUG)
		return 0;
	/* libbpf's messages carry their own "libbpf: " prefix */
	return fputs(buf, stderr);
}

void sl_log_hook_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
