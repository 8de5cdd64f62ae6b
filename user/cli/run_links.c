// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * --iface-pattern for `sluice run` (run.h): the interfaces found through
 * rtnetlink, attached and detached as they come and go. Calls the datapath
 * (attach, detach), netlink.h and run_event.c.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "datapath/datapath.h"
#include "datapath/netlink.h"
#include "lib/log.h"

/*
 * --iface-pattern: every interface whose name matches, as it appears
 * (RTM_NEWLINK, or the dump at start), is attached; one that goes away
 * (RTM_DELLINK: deleted, or moved into a pod's namespace) takes its filters
 * with it, so only the bookkeeping is left to do. An interface renamed to a
 * name that no longer matches is detached.
 */
bool run_explicit_iface(const struct run_ctx *c, const char *name)
{
	int i;

	for (i = 0; i < c->n_ifaces; i++)
		if (!strcmp(c->ifaces[i], name))
			return true;
	return false;
}

static bool wanted_link(const struct run_ctx *c, const char *name)
{
	return run_explicit_iface(c, name) || sl_nl_match(c->patterns, name);
}

static struct run_link *find_link(struct run_ctx *c, int ifindex)
{
	size_t i;

	for (i = 0; i < c->n_links; i++)
		if (c->links[i].ifindex == ifindex)
			return &c->links[i];
	return NULL;
}

struct run_link *run_add_link(struct run_ctx *c, int ifindex, const char *name)
{
	struct run_link *l = realloc(c->links, (c->n_links + 1) * sizeof(*l));

	if (!l)
		return NULL;
	c->links = l;
	l = &c->links[c->n_links++];
	memset(l, 0, sizeof(*l));
	l->ifindex = ifindex;
	snprintf(l->name, sizeof(l->name), "%s", name);
	return l;
}

static void drop_link(struct run_ctx *c, struct run_link *l)
{
	/* no longer a fast-path target, and its ifindex may come back as another's */
	sl_dp_iface_forget(&c->dp, l->ifindex);
	*l = c->links[--c->n_links];
}

static void link_event(const char *event, const struct run_ctx *c, const char *name, int ifindex)
{
	json_object *x = cli.json ? json_object_new_object() : NULL;

	if (x) {
		json_object_object_add(x, "interface", json_object_new_string(name));
		json_object_object_add(x, "ifindex", json_object_new_int(ifindex));
	}
	run_json_event(event, c, NULL, x);
}

static void on_link(void *ctx, const struct sl_nl_link *nl)
{
	struct run_ctx *c = ctx;
	struct run_link *l = find_link(c, nl->ifindex);
	int err;

	if (nl->gone) {
		if (!l)
			return;
		if (!l->skipped) {
			c->nl_count.detached++;
			pr_info("interface %s (ifindex %d) is gone, and our filters with it\n",
				l->name, l->ifindex);
			link_event("detached", c, l->name, l->ifindex);
		}
		drop_link(c, l);
		return;
	}
	if (l) {
		if (!strcmp(l->name, nl->name))
			return; /* an up/down, an address, a MTU change... */
		pr_info("interface %s (ifindex %d) renamed %s\n", l->name, l->ifindex, nl->name);
		snprintf(l->name, sizeof(l->name), "%s", nl->name);
		if (wanted_link(c, nl->name))
			return;
		if (!l->skipped) {
			err = sl_dp_detach(nl->name);
			c->nl_count.detached++;
			pr_info("detached from %s: the name no longer matches%s%s\n", nl->name,
				err ? ": " : "", err ? strerror(-err) : "");
			link_event("detached", c, nl->name, nl->ifindex);
		}
		drop_link(c, l);
		return;
	}
	if (!wanted_link(c, nl->name))
		return;
	if (!nl->ether) {
		if (run_add_link(c, nl->ifindex, nl->name)) {
			c->links[c->n_links - 1].skipped = true;
			c->nl_count.skipped++;
			pr_info("not attaching to %s: not an Ethernet interface\n", nl->name);
		}
		return;
	}
	err = sl_dp_attach(&c->dp, nl->name);
	if (err) {
		/* Gone already, most likely; a later RTM_NEWLINK tries again. */
		c->nl_count.failed++;
		link_event("attach-failed", c, nl->name, nl->ifindex);
		return;
	}
	if (!run_add_link(c, nl->ifindex, nl->name)) {
		pr_warn("Error: out of memory tracking %s\n", nl->name);
		return;
	}
	c->nl_count.attached++;
	pr_info("attached to %s (ifindex %d): %zu interface(s) now\n", nl->name, nl->ifindex,
		c->n_links);
	link_event("attached", c, nl->name, nl->ifindex);
}

/*
 * The kernel dropped events: forget the interfaces that no longer exist
 * under the same name, then take every link again from a dump.
 */
static void resync_links(struct run_ctx *c)
{
	char name[IF_NAMESIZE];
	size_t i = 0;

	pr_warn("rtnetlink: events lost (socket buffer overrun); listing interfaces again\n");
	while (i < c->n_links) {
		if (if_indextoname(c->links[i].ifindex, name) && !strcmp(name, c->links[i].name)) {
			i++;
			continue;
		}
		on_link(c, &(struct sl_nl_link){.ifindex = c->links[i].ifindex, .gone = true});
	}
	sl_nl_dump(c->nl_fd);
}

void run_read_links(struct run_ctx *c)
{
	int err = sl_nl_read(c->nl_fd, on_link, c);

	if (err == -ENOBUFS)
		resync_links(c);
	else if (err)
		pr_warn("Error: rtnetlink: %s\n", strerror(-err));
}

/* Start following interfaces: the socket first, then the dump, so none is missed. */
int run_watch_links(struct run_ctx *c)
{
	int err;

	c->nl_fd = sl_nl_open();
	if (c->nl_fd < 0) {
		err = c->nl_fd;
		pr_warn("Error: cannot open an rtnetlink socket: %s\n", strerror(-err));
		return err;
	}
	err = sl_nl_dump(c->nl_fd);
	if (err) {
		pr_warn("Error: cannot list interfaces: %s\n", strerror(-err));
		return err;
	}
	run_read_links(c);
	return 0;
}
