/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * For packet tests that need interfaces and routes (the source check, the
 * interface a connection came in on, the fast path's FIB lookup).
 */
#ifndef SLUICE_TESTS_TNS_H
#define SLUICE_TESTS_TNS_H

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/*
 * A network namespace of the test's own, with two veth links standing for a
 * node's pod links: a (10.50.0.1/24, fd50::1/64) and b (10.60.0.1/24,
 * fd60::1/64), forwarding on, as on a node. This thread enters it: test
 * runs (the interface named in ctx) and the datapath's route lookups happen
 * in the caller's namespace. tns_leave goes back; the namespace goes with
 * its last user.
 */
struct tns {
	int home;
	int a, b; /* ifindexes */
};

static inline bool write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val);

	if (fd >= 0)
		close(fd);
	return ASSERT_TRUE(ok, path);
}

static inline bool tns_enter(struct tns *t)
{
	static const char *const cmds[] = {
	    "ip link add sla type veth peer name sla-pod",
	    "ip link add slb type veth peer name slb-pod",
	    "ip addr add 10.50.0.1/24 dev sla",
	    "ip addr add 10.60.0.1/24 dev slb",
	    "ip -6 addr add fd50::1/64 dev sla nodad",
	    "ip -6 addr add fd60::1/64 dev slb nodad",
	    "ip link set sla-pod up",
	    "ip link set slb-pod up",
	    "ip link set sla up",
	    "ip link set slb up",
	};
	size_t i;

	t->a = t->b = 0;
	t->home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!ASSERT_TRUE(t->home >= 0, "open our network namespace"))
		return false;
	if (!ASSERT_OK(unshare(CLONE_NEWNET) ? -errno : 0, "unshare(CLONE_NEWNET)")) {
		close(t->home);
		t->home = -1;
		return false;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!ASSERT_EQ(system(cmds[i]), 0, cmds[i]))
			return false;
	if (!write_file("/proc/sys/net/ipv4/conf/all/forwarding", "1") ||
	    !write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1"))
		return false;
	t->a = if_nametoindex("sla");
	t->b = if_nametoindex("slb");
	return ASSERT_TRUE(t->a > 1 && t->b > 1, "the links' ifindexes");
}

static inline void tns_leave(struct tns *t)
{
	if (t->home < 0)
		return;
	ASSERT_OK(setns(t->home, CLONE_NEWNET) ? -errno : 0, "back to our network namespace");
	close(t->home);
	t->home = -1;
}

#endif /* SLUICE_TESTS_TNS_H */
