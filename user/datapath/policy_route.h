/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The policy route that delivers marked packets to a local proxy socket (the
 * TPROXY recipe), kept over raw rtnetlink in the current network namespace:
 *
 *   ip rule add fwmark 0x5c0000/0xff0000 lookup 1473 pref 92    (-4 and -6)
 *   ip route add local 0.0.0.0/0 dev lo table 1473
 *   ip -6 route add local ::/0 dev lo table 1473
 *
 * The TC program sets the mark on packets of connections that must reach the
 * proxy; the rule sends them to table 1473, whose only route says "this host",
 * so they are delivered through lo to the socket bound (IP_TRANSPARENT) to
 * their original destination.
 *
 * Identity: a rule is ours when it is exactly fwmark/mask -> lookup table at
 * that priority, with no other selector (no iif, no from/to, not inverted).
 * A route is ours when it is a local ::/0 or 0.0.0.0/0 through lo in table
 * 1473, whatever its protocol or metric: the table belongs to sluice. What
 * sluice adds itself carries protocol RTPROT_STATIC ("proto static" in `ip`).
 */
#ifndef SLUICE_POLICY_ROUTE_H
#define SLUICE_POLICY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SL_L7_FWMARK, SL_L7_FWMARK_MASK, SL_L7_TABLE, SL_L7_RULE_PRIO */
#include "sluice_abi.h"

/*
 * The mark, mask and table to use from now on in this process (`run
 * --l7-mark/--l7-table`; `down` and `status` take them from sl_state).
 * Until called: SL_L7_FWMARK, SL_L7_FWMARK_MASK, SL_L7_TABLE.
 */
void sl_policy_route_configure(uint32_t mark, uint32_t mask, uint32_t table);

struct sl_policy_route {
	bool rule4, route4, rule6, route6; /* present in this netns */
};

/*
 * Add what is missing of the four; what is there already is kept. 0 or
 * -errno. -EEXIST when something not ours is in the way: another route at
 * the default of table 1473, or a rule that sends packets other than
 * marked ones to that table ("not fwmark", another mark, no mark), which
 * the local route would make local. Nothing of that family is added then,
 * and IPv6 is not tried after IPv4 failed. When IPv6 is unavailable in
 * this namespace (not built, or disabled on lo), the IPv4 parts still go
 * in and the result is 0: sl_policy_route_query() tells.
 */
int sl_policy_route_install(void);

/*
 * Remove ours, duplicates included; missing ones are fine. 0 or -errno.
 * -EBUSY, leaving that family's rule and route in place, when the kernel
 * would take a foreign rule for ours (the same fwmark/mask/table/priority
 * plus another selector, listed first): a rule delete names no rule, it
 * matches on the attributes it is given and ignores the others.
 */
int sl_policy_route_remove(void);

/* Which of the four are present now. 0 or -errno. */
int sl_policy_route_query(struct sl_policy_route *st);

/*
 * One line for humans, e.g. "fwmark 0x5c0000/0xff0000 -> table 1473
 * (local): ipv4 rule+route, ipv6 missing". Returns buf.
 */
const char *sl_policy_route_str(const struct sl_policy_route *st, char *buf, size_t len);

#endif /* SLUICE_POLICY_ROUTE_H */
