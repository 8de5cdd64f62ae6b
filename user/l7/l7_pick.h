/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The L7 step's choice for one connection: the service's routes in order,
 * HTTP matches included, then subset and endpoint exactly as the kernel's
 * sl_select() picks them (same maps, same seed, same hash), so a weight
 * change applies to both paths at once and a connection that no HTTP route
 * claims lands where the kernel would have sent it.
 */
#ifndef SLUICE_L7_PICK_H
#define SLUICE_L7_PICK_H

#include <stdbool.h>
#include <stdint.h>

#include "l7/l7_match.h"
#include "datapath/maps.h"

/* The connection, as the kernel saw it: client -> VIP. */
struct sl_l7_tuple {
	uint8_t family; /* SL_AF_INET or SL_AF_INET6 */
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
};

enum sl_l7_pick_res {
	SL_L7_PICK_OK = 0,
	SL_L7_PICK_NO_SERVICE,	/* the VIP is no longer a service */
	SL_L7_PICK_NO_ROUTE,	/* no route matched */
	SL_L7_PICK_NO_ENDPOINT, /* the subset picked has no endpoint */
};

struct sl_l7_choice {
	uint8_t family;
	__be32 addr[4];
	__be16 port;
	uint32_t subset_id;
	int route;	   /* index of the route that matched */
	bool header_route; /* it matched on the HTTP request */
};

/*
 * t is an accepted connection as its socket sees it: from the client (its
 * port maybe remapped) to the datapath's local address and the VIP's port.
 * Turn it into the connection as the client made it, client -> VIP, from
 * its reverse conntrack entry; -ENOENT when there is none (not ours).
 */
int sl_l7_original(const struct sl_maps *m, struct sl_l7_tuple *t);

/* Compiled HTTP matches, by sl_l7_specs key; one per L7 thread. */
struct sl_l7_cache;
struct sl_l7_cache *sl_l7_cache_new(void);
void sl_l7_cache_free(struct sl_l7_cache *c);

/*
 * Decide for t. head is the parsed request, or NULL when there is none (not
 * HTTP, too big, too slow): routes that match on HTTP are then skipped.
 */
int sl_l7_pick(const struct sl_maps *m, struct sl_l7_cache *cache, const struct sl_l7_tuple *t,
	       const struct sl_http_head *head, struct sl_l7_choice *out);

#endif /* SLUICE_L7_PICK_H */
