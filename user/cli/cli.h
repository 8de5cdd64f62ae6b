/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the subcommands share: global options, exit codes, output helpers. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>

#include <json-c/json.h>

#include "config/config.h"

/* Exit codes, documented in the README. */
enum sl_exit {
	SL_EXIT_OK = 0,
	SL_EXIT_INVALID = 1, /* bad arguments or configuration; nothing applied */
	SL_EXIT_SYSTEM = 2,  /* BPF, kernel or file system error */
};

struct sl_cli {
	bool json;
	bool pretty;
	const char *pin_dir;
};

extern struct sl_cli cli;

/* "Error: ..." on stderr, or {"error": "..."} on stdout with -j. */
void sl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print every diagnostic: as lines on stderr, or into a JSON array. */
void sl_diag_print(const struct sl_diag *diag);
json_object *sl_diag_json(const struct sl_diag *diag);
/* Print a JSON object on stdout honouring -p, and drop it. */
void sl_json_print(json_object *obj);

/* Take the pin directory's lock (flock on the directory) for writers. */
int sl_lock(const char *pin_dir);
void sl_unlock(int fd);

/* Load the configuration file(s); prints diagnostics. */
int sl_load_config(const char *path, struct sl_config **cfg, bool print_warnings);

int cmd_run(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_weights(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_rollout(int argc, char **argv);

#endif /* SLUICE_CLI_H */
