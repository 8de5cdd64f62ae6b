// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice down: detach from every interface, remove the pins (the sk_lookup
 * link among them) and the policy route of header routing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "datapath/datapath.h"
#include "lib/log.h"
#include "datapath/policy_route.h"
#include "observe/rejected.h"

int cmd_down(int argc, char **argv)
{
	struct sl_policy_route pr = {};
	struct sl_state st;
	struct sl_maps m;
	bool had_route;
	char buf[128];
	int err;

	if (argc > 1) {
		sl_error("usage: sluice down (takes no arguments)");
		return SL_EXIT_INVALID;
	}
	/* the mark and table this datapath ran with, before its pins go */
	if (!sl_maps_open_pinned(&m, cli.pin_dir)) {
		if (!sl_maps_read_state(&m, &st))
			sl_dp_route_from_state(&st);
		sl_maps_close(&m);
	}
	err = sl_dp_down(cli.pin_dir);
	if (err) {
		/* what is left may still mark packets: the route stays for them */
		sl_error("down: %s", strerror(-err));
		return SL_EXIT_SYSTEM;
	}
	sl_rejected_remove(cli.pin_dir);
	/*
	 * Only now: while a filter could still mark packets, their route had
	 * to stay. The route belongs to the network namespace, like the
	 * filters `down` removes from every interface of it.
	 */
	had_route = !sl_policy_route_query(&pr) && (pr.rule4 || pr.route4 || pr.rule6 || pr.route6);
	err = sl_policy_route_remove();
	if (err) {
		sl_error("down: cannot remove the policy route (%s): %s",
			 sl_policy_route_str(&pr, buf, sizeof(buf)),
			 err == -EBUSY ? "a rule not ours with that mark, table and priority comes "
					 "first, and a delete would take it; ours is left in place"
				       : strerror(-err));
		return SL_EXIT_SYSTEM;
	}
	if (cli.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "down", json_object_new_boolean(1));
		json_object_object_add(o, "policy_route_removed",
				       json_object_new_boolean(had_route));
		sl_json_print(o);
	}
	return SL_EXIT_OK;
}
