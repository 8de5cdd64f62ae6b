// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluice check / sluice apply: validate a config, and write it to the pins. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "datapath/tables.h"
#include "observe/status_json.h"
#include "rollout/controller.h"

/* --config may be given several times: everything is merged into one config. */
struct config_args {
	const char **paths;
	size_t n;
	char *what; /* the paths, for messages */
};

static void config_args_free(struct config_args *a)
{
	free(a->paths);
	free(a->what);
}

static int parse_config_arg(int argc, char **argv, const char *cmd, struct config_args *a)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {},
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->paths = calloc(argc > 0 ? argc : 1, sizeof(*a->paths));
	if (!a->paths)
		return -ENOMEM;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (c != 'c')
			goto usage;
		a->paths[a->n++] = optarg;
	}
	if (!a->n || optind != argc)
		goto usage;
	a->what = sl_config_paths_str(a->paths, a->n);
	if (!a->what)
		return -ENOMEM;
	return 0;
usage:
	sl_error("usage: sluice %s --config FILE|DIR [--config FILE|DIR ...]", cmd);
	return -EINVAL;
}

/* An invalid file is bad input; one that cannot be read is a system error. */
static int exit_code(int err)
{
	return !err ? SL_EXIT_OK : err == -EINVAL ? SL_EXIT_INVALID : SL_EXIT_SYSTEM;
}

/* Validate; in JSON mode the diagnostics go into the result object. */
static int validate(const struct config_args *a, struct sl_config **cfg, uint64_t *digest,
		    json_object *res)
{
	struct sl_diag diag;
	json_object *arr;
	size_t i;
	int err;

	sl_diag_init(&diag);
	err = sl_config_load_paths_digest(a->paths, a->n, cfg, &diag, digest);
	if (res) {
		if (a->n == 1)
			json_object_object_add(res, "file", json_object_new_string(a->paths[0]));
		arr = json_object_new_array();
		for (i = 0; i < a->n; i++)
			json_object_array_add(arr, json_object_new_string(a->paths[i]));
		json_object_object_add(res, "configs", arr);
		if (*cfg) {
			arr = json_object_new_array();
			for (i = 0; i < (*cfg)->n_files; i++)
				json_object_array_add(arr,
						      json_object_new_string((*cfg)->files[i]));
			json_object_object_add(res, "files", arr);
		}
		json_object_object_add(res, "valid", json_object_new_boolean(!err));
		json_object_object_add(res, "diagnostics", sl_diag_json(&diag));
	} else {
		sl_diag_print(&diag);
	}
	sl_diag_free(&diag);
	return err;
}

/* One line (text) or "paths" entry (JSON); vip NULL: the same at every VIP. */
static void print_path(const struct sl_service_cfg *s, const struct sl_port_cfg *p,
		       const struct sl_addr *vip, int path, json_object *arr)
{
	char buf[64] = "";
	json_object *o;

	if (vip)
		sl_addr_str(vip, buf, sizeof(buf));
	if (!arr) {
		printf("  %s%s%s %u/%s: %s\n", s->name, vip ? " " : "", buf, p->port,
		       sl_proto_name(p->proto), sl_path_name(path));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "service", json_object_new_string(s->name));
	if (vip)
		json_object_object_add(o, "vip", json_object_new_string(buf));
	json_object_object_add(o, "port", json_object_new_int(p->port));
	json_object_object_add(o, "protocol", json_object_new_string(sl_proto_name(p->proto)));
	json_object_object_add(o, "path", json_object_new_string(sl_path_name(path)));
	json_object_array_add(arr, o);
}

/*
 * Which way each port takes and why (docs/l7.md): one line per port in
 * text, "paths" in JSON; one per VIP where a route on destination subnets
 * makes the VIPs differ. The table writer flags each key by the same
 * sl_port_path_at().
 */
static void print_paths(const struct sl_config *cfg, json_object *res)
{
	json_object *arr = res ? json_object_new_array() : NULL;
	size_t i, k, v;

	for (i = 0; i < cfg->n_services; i++) {
		const struct sl_service_cfg *s = &cfg->services[i];

		for (k = 0; k < s->n_ports; k++) {
			const struct sl_port_cfg *p = &s->ports[k];
			int path = sl_port_path(s, p);

			for (v = 1; v < s->n_vips; v++)
				if (sl_port_path_at(s, &s->vips[v], p) != path)
					break;
			if (v >= s->n_vips) {
				print_path(s, p, NULL, path, arr);
				continue;
			}
			for (v = 0; v < s->n_vips; v++)
				print_path(s, p, &s->vips[v], sl_port_path_at(s, &s->vips[v], p),
					   arr);
		}
	}
	if (arr)
		json_object_object_add(res, "paths", arr);
}

int cmd_check(int argc, char **argv)
{
	json_object *res = cli.json ? json_object_new_object() : NULL;
	struct sl_config *cfg = NULL;
	struct config_args a;
	uint64_t digest;
	int err;

	err = parse_config_arg(argc, argv, "check", &a);
	if (err) {
		json_object_put(res);
		config_args_free(&a);
		return exit_code(err);
	}
	err = validate(&a, &cfg, &digest, res);
	if (!err)
		print_paths(cfg, res);
	if (res)
		sl_json_print(res);
	else if (!err && cfg->n_files == 1)
		printf("%s: valid (%zu services, %zu workloads)\n", a.what, cfg->n_services,
		       cfg->n_workloads);
	else if (!err)
		printf("%s: valid (%zu services, %zu workloads, from %zu files)\n", a.what,
		       cfg->n_services, cfg->n_workloads, cfg->n_files);
	sl_config_free(cfg);
	config_args_free(&a);
	return exit_code(err);
}

int cmd_apply(int argc, char **argv)
{
	json_object *res = cli.json ? json_object_new_object() : NULL;
	struct sl_config *cfg = NULL;
	struct sl_maps maps = {};
	struct sl_state state = {};
	struct sl_apply_stats as;
	struct config_args a;
	struct sl_diag diag;
	int err, lock = -1, ret = SL_EXIT_SYSTEM;
	uint64_t digest = 0;
	__u32 zero = 0;

	sl_diag_init(&diag);
	err = parse_config_arg(argc, argv, "apply", &a);
	if (err) {
		json_object_put(res);
		config_args_free(&a);
		return exit_code(err);
	}
	err = validate(&a, &cfg, &digest, res);
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
	/* a rollout's weights go in with the file (README "Progressive delivery") */
	if (lock >= 0)
		sl_ro_overlay(&maps, cfg);
	err = lock < 0 ? lock : sl_tables_apply_stats(&maps, cfg, &diag, &as);
	/* a later `run` of the same files keeps what apply set */
	if (!err && digest)
		sl_tables_set_digest(&maps, digest);
	if (err) {
		sl_diag_print(&diag);
		sl_error("applying %s failed: %s; the previous configuration stays in force",
			 a.what, strerror(-err));
		json_object_put(res);
		res = NULL;
		goto out;
	}
	bpf_map_lookup_elem(maps.state, &zero, &state);
	if (res) {
		json_object *wr = json_object_new_object();

		json_object_object_add(res, "generation", json_object_new_uint64(state.generation));
		/* what the maps needed: an unchanged config writes nothing */
		json_object_object_add(wr, "whole_slot", json_object_new_boolean(as.full));
		json_object_object_add(wr, "keys", json_object_new_uint64(as.keys_written));
		json_object_object_add(wr, "keys_deleted", json_object_new_uint64(as.keys_deleted));
		json_object_object_add(wr, "endpoints",
				       json_object_new_uint64(as.endpoints_written));
		json_object_object_add(wr, "rows", json_object_new_uint64(as.rows_written));
		json_object_object_add(wr, "index", json_object_new_uint64(as.index_written));
		json_object_object_add(res, "written", wr);
	} else
		printf("applied %s (generation %llu)\n", a.what,
		       (unsigned long long)state.generation);
	ret = SL_EXIT_OK;
out:
	if (res)
		sl_json_print(res);
	sl_unlock(lock);
	sl_maps_close(&maps);
	sl_diag_free(&diag);
	sl_config_free(cfg);
	config_args_free(&a);
	return ret;
}
