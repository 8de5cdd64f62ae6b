/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The running state as JSON, and the small formatters status output shares. */
#ifndef SLUICE_STATUS_JSON_H
#define SLUICE_STATUS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "datapath/policy_route.h"
#include "datapath/counters.h"

/*
 * Header routing's parts that live outside the maps sl_tables_read_status()
 * reads, as this process sees them: the policy route and the sk_lookup link
 * belong to a network namespace, so `status` run elsewhere sees them absent.
 */
struct sl_l7_view {
	bool listening[SL_L7_LISTEN_MAX]; /* a socket in sl_l7_listen */
	struct sl_policy_route route;
	int route_err;	   /* of sl_policy_route_query(); route is all false then */
	bool link_pinned;  /* SL_LINK_L7_LOOKUP in the pin directory */
	bool link_here;	   /* ...attached to this network namespace */
	size_t n_services; /* services with an HTTP route on a TCP port */
};

/* Fill v; what cannot be read shows as absent. */
void sl_l7_view_read(struct sl_l7_view *v, const struct sl_maps *m, const char *pin_dir,
		     const struct sl_status *st);

/*
 * {"generation", "applied_ns", "active_slot", "conntrack_entries",
 *  "datapath": {...}, "services": [{"name", "affinity", "overridden",
 *  "ports", "routes": [{"index", "match", "enforced", "http_match", ...}],
 *  "subsets": [{"name", "weight", "endpoints", "connections_opened", ...,
 *  "http_responses": {"1xx".."5xx"}, "http_codes": {"200": N},
 *  "response_time": sl_rt_json()}]}],
 *  "l7": {"services", "listening": {"ipv4", "ipv6"}, "policy_route":
 *  {"ipv4_rule", "ipv4_route", "ipv6_rule", "ipv6_route"} or null when it
 *  cannot be queried, "lookup_link" (pinned), "lookup_link_here",
 *  "counters": {"accepted": N, ...}}}
 * m gives the routes' HTTP matches (sl_l7_specs); l7 NULL leaves out "l7".
 */
json_object *sl_status_json(const struct sl_status *st, const struct sl_maps *m,
			    const struct sl_l7_view *l7);

/*
 * A response-time histogram: {"count", "sum_us", "p50_ms", "p99_ms" (null
 * when empty), "buckets_log2_us": [N, ...] (sluice_abi.h's buckets)}.
 */
json_object *sl_rt_json(const struct sl_rt_hist *h);

const char *sl_proto_name(uint8_t proto);
void sl_endpoint_str(const struct sl_status_endpoint *e, char *buf, size_t len);
/* "sourceCIDRs+sourceLabels", or "(default)" for a match-less route. */
const char *sl_route_match(const struct sl_route *r, char *buf, size_t len);
/* A note for the text view: decided by the L7 step, not enforced, overridden, or "". */
const char *sl_route_note(const struct sl_route *r);
/*
 * The text of route r's HTTP match (l7_match.h spec lines) read from
 * sl_l7_specs into buf, or NULL when it has none or it is not there.
 */
const char *sl_route_http_match(const struct sl_maps *m, const struct sl_route *r,
				struct sl_l7_spec *buf);
/* Is the route matched at all: false for HTTP matches sluice cannot evaluate. */
bool sl_route_enforced(const struct sl_route *r);

#endif /* SLUICE_STATUS_JSON_H */
