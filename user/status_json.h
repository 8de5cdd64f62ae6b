/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The running state as JSON, and the small formatters status output shares. */
#ifndef SLUICE_STATUS_JSON_H
#define SLUICE_STATUS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "tables.h"

/*
 * {"generation", "applied_ns", "active_slot", "conntrack_entries",
 *  "datapath": {...}, "services": [{"name", "affinity", "overridden",
 *  "ports", "routes", "subsets": [{"name", "weight", "endpoints",
 *  "connections_opened", ..., "http_responses": {"1xx".."5xx"},
 *  "http_codes": {"200": N}}]}]}
 */
json_object *sl_status_json(const struct sl_status *st);

const char *sl_proto_name(uint8_t proto);
void sl_endpoint_str(const struct sl_status_endpoint *e, char *buf, size_t len);
/* "sourceCIDRs+sourceLabels", or "(default)" for a match-less route. */
const char *sl_route_match(const struct sl_route *r, char *buf, size_t len);
/* A note for the text view: not enforced, overridden, or "". */
const char *sl_route_note(const struct sl_route *r);

#endif /* SLUICE_STATUS_JSON_H */
