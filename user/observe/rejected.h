/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The objects the configuration in force left out (config.h,
 * SL_LOAD_ISOLATE), for `sluice status` and /metrics, which run apart from
 * the daemon that loaded it: a small JSON file the daemon rewrites (by a
 * rename, never half written) after each load, next to the L7 hand-over
 * socket: /run/sluice/NAME.rejected.json, NAME the pin directory's last
 * component. bpffs takes no regular files, and the list is not the
 * datapath's business.
 */
#ifndef SLUICE_REJECTED_H
#define SLUICE_REJECTED_H

#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

#include "config/model.h"

/*
 * /metrics names at most this many objects one by one (the count has them
 * all): a cluster full of broken objects must not blow up the series.
 */
#define SL_REJECTED_METRIC_MAX 50

/* The file of pin_dir's daemon. */
void sl_rejected_path(const char *pin_dir, char *buf, size_t len);
/* Write cfg's rejected objects (also none): 0 or -errno. */
int sl_rejected_save(const char *pin_dir, const struct sl_config *cfg);
/*
 * [{"kind", "namespace", "name", "position", "reason"}], as saved last; an
 * empty array when there is no file (no daemon, or one from before).
 */
json_object *sl_rejected_load(const char *pin_dir);
void sl_rejected_remove(const char *pin_dir);

/* The text view of `status`: nothing when the list is empty. */
void sl_rejected_print(json_object *list);
/* sluice_config_rejected_objects and sluice_config_rejected_object (Prometheus text). */
void sl_rejected_metrics(FILE *f, json_object *list);

#endif /* SLUICE_REJECTED_H */
