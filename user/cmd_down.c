// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluice down: detach from every interface and remove the pins. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "datapath.h"
#include "log.h"

int cmd_down(int argc, char **argv)
{
	int err;

	if (argc > 1) {
		sl_error("usage: sluice down (takes no arguments)");
		return SL_EXIT_INVALID;
	}
	err = sl_dp_down(cli.pin_dir);
	if (err) {
		sl_error("down: %s", strerror(-err));
		return SL_EXIT_SYSTEM;
	}
	if (cli.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "down", json_object_new_boolean(1));
		sl_json_print(o);
	}
	return SL_EXIT_OK;
}
