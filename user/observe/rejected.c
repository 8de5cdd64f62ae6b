// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The rejected objects of the configuration in force, saved and shown (rejected.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "observe/rejected.h"

#define RUN_DIR "/run/sluice"

void sl_rejected_path(const char *pin_dir, char *buf, size_t len)
{
	const char *base = strrchr(pin_dir, '/');

	snprintf(buf, len, RUN_DIR "/%s.rejected.json", base && base[1] ? base + 1 : "sluice");
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

int sl_rejected_save(const char *pin_dir, const struct sl_config *cfg)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], pos[PATH_MAX + 32];
	json_object *list = json_object_new_array(), *o;
	const struct sl_rejected *r;
	size_t i;
	int err = 0;

	for (i = 0; i < cfg->n_rejected; i++) {
		r = &cfg->rejected[i];
		o = json_object_new_object();
		snprintf(pos, sizeof(pos), "%s:%d:%d", r->pos.file ? r->pos.file : "<input>",
			 r->pos.line, r->pos.col);
		json_object_object_add(o, "kind", str_or_null(r->kind));
		json_object_object_add(o, "namespace", str_or_null(r->ns));
		json_object_object_add(o, "name", str_or_null(r->name));
		json_object_object_add(o, "position", json_object_new_string(pos));
		json_object_object_add(o, "reason", str_or_null(r->reason));
		json_object_array_add(list, o);
	}
	sl_rejected_path(pin_dir, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (mkdir(RUN_DIR, 0755) && errno != EEXIST)
		err = -errno;
	else if (json_object_to_file_ext(tmp, list, JSON_C_TO_STRING_PLAIN) || rename(tmp, path))
		err = errno ? -errno : -EIO;
	if (err)
		unlink(tmp);
	json_object_put(list);
	return err;
}

json_object *sl_rejected_load(const char *pin_dir)
{
	char path[PATH_MAX];
	json_object *list;

	sl_rejected_path(pin_dir, path, sizeof(path));
	list = access(path, R_OK) ? NULL : json_object_from_file(path);
	if (list && json_object_is_type(list, json_type_array))
		return list;
	json_object_put(list);
	return json_object_new_array();
}

void sl_rejected_remove(const char *pin_dir)
{
	char path[PATH_MAX];

	sl_rejected_path(pin_dir, path, sizeof(path));
	unlink(path);
}

static const char *field(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

void sl_rejected_print(json_object *list)
{
	size_t i, n = json_object_array_length(list);

	if (!n)
		return;
	printf("\nrejected: %zu object%s left out of the configuration\n", n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(list, i);
		const char *ns = field(o, "namespace");

		printf("  %s %s%s%s (%s): %s\n", field(o, "kind"), ns, *ns ? "/" : "",
		       field(o, "name"), field(o, "position"), field(o, "reason"));
	}
}

/*
 * A label value: Kubernetes names never hold '"', '\\' or a line break; a
 * file's path might, and then shows '?' there rather than breaking the
 * exposition.
 */
static void put_plain(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '"' || *s == '\\' || *s == '\n' ? '?' : *s, f);
}

void sl_rejected_metrics(FILE *f, json_object *list)
{
	size_t i, n = list ? json_object_array_length(list) : 0;
	static const char *const keys[] = {"kind", "namespace", "name"};
	size_t k;

	fprintf(f,
		"# HELP sluice_config_rejected_objects Objects (or files) left out of the "
		"configuration in force because of their errors (see `sluice status`).\n"
		"# TYPE sluice_config_rejected_objects gauge\n"
		"sluice_config_rejected_objects %zu\n",
		n);
	fprintf(f,
		"# HELP sluice_config_rejected_object One of them (always 1; the first %d "
		"only).\n"
		"# TYPE sluice_config_rejected_object gauge\n",
		SL_REJECTED_METRIC_MAX);
	for (i = 0; i < n && i < SL_REJECTED_METRIC_MAX; i++) {
		json_object *o = json_object_array_get_idx(list, i);

		fputs("sluice_config_rejected_object{", f);
		for (k = 0; k < 3; k++) {
			fprintf(f, "%s%s=\"", k ? "," : "", keys[k]);
			put_plain(f, field(o, keys[k]));
			fputc('"', f);
		}
		fputs("} 1\n", f);
	}
}
