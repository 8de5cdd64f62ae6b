// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluice check / sluice apply: validate a config, and write it to the pins. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "cli.h"
#include "log.h"
#include "tables.h"

static int parse_config_arg(int argc, char **argv, const char *cmd, const char **path)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {},
	};
	int c;

	*path = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (c != 'c') {
			sl_error("usage: sluice %s --config FILE", cmd);
			return -EINVAL;
		}
		*path = optarg;
	}
	if (!*path || optind != argc) {
		sl_error("usage: sluice %s --config FILE", cmd);
		return -EINVAL;
	}
	return 0;
}

/* An invalid file is bad input; one that cannot be read is a system error. */
static int exit_code(int err)
{
	return !err ? SL_EXIT_OK : err == -EINVAL ? SL_EXIT_INVALID : SL_EXIT_SYSTEM;
}

/* Validate; in JSON mode the diagnostics go into the result object. */
static int validate(const char *path, struct sl_config **cfg, json_object *res)
{
	struct sl_diag diag;
	int err;

	sl_diag_init(&diag);
	err = sl_config_load_file(path, cfg, &diag);
	if (res) {
		json_object_object_add(res, "file", json_object_new_string(path));
		json_object_object_add(res, "valid", json_object_new_boolean(!err));
		json_object_object_add(res, "diagnostics", sl_diag_json(&diag));
	} else {
		sl_diag_print(&diag);
	}
	sl_diag_free(&diag);
	return err;
}

int cmd_check(int argc, char **argv)
{
	json_object *res = cli.json ? json_object_new_object() : NULL;
	struct sl_config *cfg = NULL;
	const char *path;
	int err;

	if (parse_config_arg(argc, argv, "check", &path)) {
		json_object_put(res);
		return SL_EXIT_INVALID;
	}
	err = validate(path, &cfg, res);
	if (res)
		sl_json_print(res);
	else if (!err)
		printf("%s: valid (%zu services, %zu workloads)\n", path, cfg->n_services,
		       cfg->n_workloads);
	sl_config_free(cfg);
	return exit_code(err);
}

int cmd_apply(int argc, char **argv)
{
	json_object *res = cli.json ? json_object_new_object() : NULL;
	struct sl_config *cfg = NULL;
	struct sl_maps maps = {};
	struct sl_state state = {};
	struct sl_diag diag;
	int err, lock = -1, ret = SL_EXIT_SYSTEM;
	const char *path;
	char *content;
	__u32 zero = 0;
	size_t len;

	sl_diag_init(&diag);
	if (parse_config_arg(argc, argv, "apply", &path)) {
		json_object_put(res);
		return SL_EXIT_INVALID;
	}
	err = validate(path, &cfg, res);
	if (err) {
		ret = exit_code(err);
		goto out;
	}
	err = sl_maps_open_pinned(&maps, cli.pin_dir);
	if (err) {
		sl_error("sluice is not loaded in %s (%s): start it with `sluice run`", cli.pin_dir,
			 strerror(-err));
		json_object_put(res);
		res = NULL;
		goto out;
	}
	lock = sl_lock(cli.pin_dir);
	err = lock < 0 ? lock : sl_tables_apply(&maps, cfg, &diag);
	if (!err && !sl_read_file(path, &content, &len)) {
		/* a later `run` of the same file keeps what apply set */
		sl_tables_set_digest(&maps, sl_config_digest(content, len));
		free(content);
	}
	if (err) {
		sl_diag_print(&diag);
		sl_error("applying %s failed: %s; the previous configuration stays in force", path,
			 strerror(-err));
		json_object_put(res);
		res = NULL;
		goto out;
	}
	bpf_map_lookup_elem(maps.state, &zero, &state);
	if (res)
		json_object_object_add(res, "generation", json_object_new_uint64(state.generation));
	else
		printf("applied %s (generation %llu)\n", path,
		       (unsigned long long)state.generation);
	ret = SL_EXIT_OK;
out:
	if (res)
		sl_json_print(res);
	sl_unlock(lock);
	sl_maps_close(&maps);
	sl_diag_free(&diag);
	sl_config_free(cfg);
	return ret;
}
