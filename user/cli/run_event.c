// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The events `sluice run -j` reports (run.h), and the generation each one
 * carries. Calls the CLI's JSON output and libbpf only.
 */
#include <stdio.h>

#include <bpf/bpf.h>

#include "cli/cli.h"
#include "cli/run.h"

__u64 run_generation(const struct sl_maps *m)
{
	struct sl_state s = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(m->state, &zero, &s);
	return s.generation;
}

/*
 * With -j, `run` also reports what it does as JSON lines on stdout, one
 * object per event ({"event": "applied", ...}), for tools that follow it;
 * the human log stays on stderr.
 */
void run_json_event(const char *event, const struct run_ctx *c, const struct sl_diag *diag,
		    json_object *extra)
{
	json_object *o;

	if (!cli.json) {
		json_object_put(extra);
		return;
	}
	o = extra ?: json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "config", json_object_new_string(c->what));
	json_object_object_add(o, "generation",
			       json_object_new_uint64(run_generation(&c->dp.maps)));
	if (diag && diag->n_msgs)
		json_object_object_add(o, "diagnostics", sl_diag_json(diag));
	sl_json_print(o);
	fflush(stdout);
}
