/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One logging path for sluice and for libbpf's own messages. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

enum sl_log_level {
	SL_LOG_WARN = 0,
	SL_LOG_INFO = 1,
	SL_LOG_DEBUG = 2,
};

void sl_log_set_level(enum sl_log_level level);
enum sl_log_level sl_log_get_level(void);
/* Route libbpf's messages through sl_log (warnings always, the rest at debug). */
void sl_log_hook_libbpf(void);
void sl_log(enum sl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_warn(fmt, ...)  sl_log(SL_LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)  sl_log(SL_LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) sl_log(SL_LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif /* SLUICE_LOG_H */
