// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

#include "cli/cli.h"
#include "lib/log.h"

struct sl_cli cli = {.pin_dir = SL_PIN_DIR_DEFAULT};

void sl_json_print(json_object *obj)
{
	int flags =
	    cli.pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN;

	puts(json_object_to_json_string_ext(obj, flags | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
}

void sl_error(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (cli.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "error", json_object_new_string(buf));
		sl_json_print(o);
	} else {
		fprintf(stderr, "Error: %s\n", buf);
	}
}

json_object *sl_diag_json(const struct sl_diag *diag)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < diag->n_msgs; i++)
		json_object_array_add(a, json_object_new_string(diag->msgs[i]));
	return a;
}

void sl_diag_print(const struct sl_diag *diag)
{
	size_t i;

	for (i = 0; i < diag->n_msgs; i++)
		fprintf(stderr, "%s\n", diag->msgs[i]);
}

int sl_lock(const char *pin_dir)
{
	int fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

void sl_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int sl_load_config(const char *path, struct sl_config **cfg, bool print_warnings)
{
	struct sl_diag diag;
	int err;

	sl_diag_init(&diag);
	err = sl_config_load_file(path, cfg, &diag);
	if (err || print_warnings)
		sl_diag_print(&diag);
	sl_diag_free(&diag);
	return err;
}
