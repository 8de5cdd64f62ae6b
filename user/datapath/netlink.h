/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Interfaces coming and going, from rtnetlink (NETLINK_ROUTE, RTMGRP_LINK):
 * what `run --iface-pattern` follows to attach to pods' veths as they appear.
 */
#ifndef SLUICE_NETLINK_H
#define SLUICE_NETLINK_H

#include <net/if.h>
#include <stdbool.h>

struct sl_nl_link {
	int ifindex;
	char name[IF_NAMESIZE];
	bool ether; /* ARPHRD_ETHER: the only kind the datapath can parse */
	bool gone;  /* RTM_DELLINK: deleted, or moved to another network namespace */
};

typedef void (*sl_nl_link_cb)(void *ctx, const struct sl_nl_link *link);

/* A non-blocking NETLINK_ROUTE socket subscribed to link events; fd or -errno. */
int sl_nl_open(void);

/*
 * Ask for every link of the network namespace (RTM_GETLINK dump): the
 * answers arrive on the socket like events, through sl_nl_read().
 */
int sl_nl_dump(int fd);

/*
 * Hand every message waiting on the socket to cb. 0 once it would block;
 * -ENOBUFS when the kernel dropped events (the socket buffer overran: dump
 * again and reconcile); another -errno on failure.
 */
int sl_nl_read(int fd, sl_nl_link_cb cb, void *ctx);

/*
 * Is ifindex a veth (or netkit) whose peer is in another network namespace
 * (IFLA_LINK_NETNSID), as a pod's interface is on its node? One RTM_GETLINK.
 */
bool sl_nl_peer_elsewhere(int ifindex);

/* "lxc*,cali*": does name match one of the comma-separated fnmatch globs? */
bool sl_nl_match(const char *patterns, const char *name);

#endif /* SLUICE_NETLINK_H */
