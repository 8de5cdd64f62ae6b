// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * rtnetlink link events, decoded just enough for `run --iface-pattern`: the
 * index, the name, whether it is Ethernet, and whether it went away. A veth
 * moved into a pod's namespace shows up here as a RTM_DELLINK: from this
 * namespace's point of view it is gone, and its filters with it.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if_arp.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "lib/log.h"
#include "datapath/netlink.h"

int sl_nl_open(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	/* A burst of pods (a node drain, a rollout) must not overrun it. */
	int fd, rcvbuf = 4 << 20, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int sl_nl_dump(int fd)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
	    .nh = {.nlmsg_len = sizeof(req),
		   .nlmsg_type = RTM_GETLINK,
		   .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		   .nlmsg_seq = 1},
	    .ifi = {.ifi_family = AF_UNSPEC},
	};
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};

	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

/* Does this IFLA_LINKINFO name a kind whose peer is another device (veth, netkit)? */
static bool peer_kind(const struct rtattr *info)
{
	const struct rtattr *rta;
	int len = RTA_PAYLOAD(info);

	for (rta = RTA_DATA(info); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == IFLA_INFO_KIND)
			return !strncmp(RTA_DATA(rta), "veth", RTA_PAYLOAD(rta)) ||
			       !strncmp(RTA_DATA(rta), "netkit", RTA_PAYLOAD(rta));
	return false;
}

bool sl_nl_peer_elsewhere(int ifindex)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
	    .nh = {.nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST},
	    .ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex},
	};
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	bool kind = false, netns = false;
	const struct nlmsghdr *nh;
	const struct rtattr *rta;
	char buf[16384];
	ssize_t n;
	int fd, len;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return false;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	n = recv(fd, buf, sizeof(buf), 0);
	nh = (const struct nlmsghdr *)buf;
	if (n <= 0 || !NLMSG_OK(nh, (size_t)n) || nh->nlmsg_type != RTM_NEWLINK)
		goto out;
	len = IFLA_PAYLOAD(nh);
	for (rta = IFLA_RTA((const struct ifinfomsg *)NLMSG_DATA(nh)); RTA_OK(rta, len);
	     rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFLA_LINK_NETNSID)
			netns = true;
		else if (rta->rta_type == IFLA_LINKINFO)
			kind = peer_kind(rta);
	}
out:
	close(fd);
	return kind && netns;
}

static void link_msg(const struct nlmsghdr *nh, sl_nl_link_cb cb, void *ctx)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	struct sl_nl_link link = {};
	const struct rtattr *rta;
	int len;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	link.ifindex = ifi->ifi_index;
	link.ether = ifi->ifi_type == ARPHRD_ETHER;
	link.gone = nh->nlmsg_type == RTM_DELLINK;
	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
	for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type != IFLA_IFNAME)
			continue;
		snprintf(link.name, sizeof(link.name), "%.*s", (int)RTA_PAYLOAD(rta),
			 (const char *)RTA_DATA(rta));
	}
	if (link.ifindex > 0 && link.name[0])
		cb(ctx, &link);
}

int sl_nl_read(int fd, sl_nl_link_cb cb, void *ctx)
{
	char buf[32768] __attribute__((aligned(__alignof__(struct nlmsghdr))));
	const struct nlmsghdr *nh;
	ssize_t n;
	int len;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		}
		if (!n)
			return 0;
		len = (int)n;
		for (nh = (const struct nlmsghdr *)buf; NLMSG_OK(nh, len);
		     nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				if (e->error)
					pr_debug("rtnetlink: %s\n", strerror(-e->error));
				continue;
			}
			if (nh->nlmsg_type == RTM_NEWLINK || nh->nlmsg_type == RTM_DELLINK)
				link_msg(nh, cb, ctx);
		}
	}
}

bool sl_nl_match(const char *patterns, const char *name)
{
	char glob[256];
	const char *p = patterns, *end;
	size_t len;

	while (p && *p) {
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len && len < sizeof(glob)) {
			memcpy(glob, p, len);
			glob[len] = '\0';
			if (!fnmatch(glob, name, 0))
				return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}
