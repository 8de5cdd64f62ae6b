// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice's policy route (fwmark rule + local route in table 1473) over raw
 * NETLINK_ROUTE: see policy_route.h for what it is and what counts as ours.
 *
 * Every call opens its own socket, so nothing it reads can be an answer to
 * someone else's request, and it can run from any thread or after a fork.
 * Changes carry NLM_F_ACK: the kernel's verdict arrives as an NLMSG_ERROR
 * and that is what is returned. What is present is always found by dumping
 * and matching exactly, never inferred from what an add or delete said.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "datapath/policy_route.h"

/* On the rule and the route sluice adds; `ip` shows "proto static". */
#define SL_L7_PROTO RTPROT_STATIC

/*
 * Deletes go one at a time with a fresh dump in between (a delete names no
 * object, only attributes to match): duplicates left by hand or by an old
 * iproute2 that added without NLM_F_EXCL take several rounds. Bounded so
 * that something re-adding them as fast cannot keep us here.
 */
#define MAX_ROUNDS 64
/* A dump interrupted by a change (NLM_F_DUMP_INTR) is taken again. */
#define MAX_DUMP_TRIES 4

struct nl {
	int fd;
	uint32_t seq;
};

/* The rule's mark and table: sluice_abi.h's defaults unless configured. */
static uint32_t pr_mark = SL_L7_FWMARK, pr_mask = SL_L7_FWMARK_MASK, pr_table = SL_L7_TABLE;

void sl_policy_route_configure(uint32_t mark, uint32_t mask, uint32_t table)
{
	pr_mark = mark;
	pr_mask = mask;
	pr_table = table;
}

struct nl_req {
	struct nlmsghdr nh;
	union {
		struct rtmsg rtm;
		struct fib_rule_hdr frh;
	};
	/* Room for the largest request: a rule's five attributes. */
	char attrs[64];
};

typedef void (*nl_msg_cb)(const struct nlmsghdr *nh, void *ctx);

static int nl_open(struct nl *nl)
{
	int one = 1;

	nl->seq = 0;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	/*
	 * Lets the kernel filter route dumps by table (4.20+), which matters
	 * on a host with a full routing table in main. Older kernels ignore
	 * the filter and the matching below still holds, so failure is fine.
	 */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	return 0;
}

static void nl_close(struct nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

static int nl_put(struct nl_req *req, unsigned short type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(req->nh.nlmsg_len);
	struct rtattr *rta = (struct rtattr *)((char *)req + off);

	if (off + RTA_SPACE(len) > sizeof(*req))
		return -EMSGSIZE;
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = off + RTA_SPACE(len);
	return 0;
}

static int nl_put_u32(struct nl_req *req, unsigned short type, uint32_t v)
{
	return nl_put(req, type, &v, sizeof(v));
}

static bool rta_u32(const struct rtattr *rta, uint32_t *v)
{
	if (RTA_PAYLOAD(rta) < sizeof(*v))
		return false;
	memcpy(v, RTA_DATA(rta), sizeof(*v));
	return true;
}

/*
 * Send one request and read up to its end: the ack (0 or the error) of a
 * change, NLMSG_DONE of a dump, whose messages go to cb. -EAGAIN when the
 * kernel says the dump saw a change half-way and may be inconsistent.
 */
static int nl_talk(struct nl *nl, struct nl_req *req, nl_msg_cb cb, void *ctx)
{
	char buf[32768] __attribute__((aligned(__alignof__(struct nlmsghdr))));
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK}, from;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr msg = {.msg_name = &from, .msg_iov = &iov, .msg_iovlen = 1};
	const struct nlmsghdr *nh;
	bool intr = false;
	uint32_t seq;
	ssize_t n;
	int len, err;

	seq = ++nl->seq;
	req->nh.nlmsg_seq = seq;
	req->nh.nlmsg_pid = 0;
	if (sendto(nl->fd, req, req->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		msg.msg_namelen = sizeof(from);
		n = recvmsg(nl->fd, &msg, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* 32 KiB is the most the kernel puts in one dump skb. */
		if (msg.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		/* Anyone may unicast to our port: only the kernel is listened to. */
		if (msg.msg_namelen < sizeof(from) || from.nl_pid)
			continue;
		len = (int)n;
		for (nh = (const struct nlmsghdr *)buf; NLMSG_OK(nh, len);
		     nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EBADMSG;
				return e->error;
			}
			if (nh->nlmsg_type == NLMSG_DONE) {
				/* A dump that failed part-way says why here. */
				err = 0;
				if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(err)))
					memcpy(&err, NLMSG_DATA(nh), sizeof(err));
				if (err)
					return err < 0 ? err : -err;
				return intr ? -EAGAIN : 0;
			}
			if (cb)
				cb(nh, ctx);
		}
	}
}

static void req_init(struct nl_req *req, int type, int flags, size_t hdrlen)
{
	memset(req, 0, sizeof(*req));
	req->nh.nlmsg_len = NLMSG_LENGTH(hdrlen);
	req->nh.nlmsg_type = type;
	req->nh.nlmsg_flags = NLM_F_REQUEST | flags;
}

/* RTM_NEWRULE/RTM_DELRULE for our rule; proto 0 leaves the protocol out. */
static int rule_req(struct nl *nl, int type, int flags, int family, uint8_t proto)
{
	struct nl_req req;
	int err;

	req_init(&req, type, NLM_F_ACK | flags, sizeof(req.frh));
	req.frh.family = family;
	/* 1473 does not fit the header's 8 bits: FRA_TABLE carries it. */
	req.frh.table = RT_TABLE_UNSPEC;
	req.frh.action = FR_ACT_TO_TBL;
	err = nl_put_u32(&req, FRA_TABLE, pr_table);
	if (!err)
		err = nl_put_u32(&req, FRA_PRIORITY, SL_L7_RULE_PRIO);
	if (!err)
		err = nl_put_u32(&req, FRA_FWMARK, pr_mark);
	if (!err)
		err = nl_put_u32(&req, FRA_FWMASK, pr_mask);
	if (!err && proto)
		err = nl_put(&req, FRA_PROTOCOL, &proto, sizeof(proto));
	if (err)
		return err;
	return nl_talk(nl, &req, NULL, NULL);
}

/*
 * RTM_NEWROUTE/RTM_DELROUTE for the local default route through lo in our
 * table. proto 0 and !has_metric leave those out (they then match any).
 */
static int route_req(struct nl *nl, int type, int flags, int family, int oif, uint8_t proto,
		     bool has_metric, uint32_t metric)
{
	struct nl_req req;
	int err;

	req_init(&req, type, NLM_F_ACK | flags, sizeof(req.rtm));
	req.rtm.rtm_family = family;
	req.rtm.rtm_table = RT_TABLE_UNSPEC;
	req.rtm.rtm_protocol = proto;
	req.rtm.rtm_type = RTN_LOCAL;
	/*
	 * What `ip route add local` uses. On a delete, RT_SCOPE_NOWHERE
	 * matches any scope: the type, device and protocol pin it down.
	 */
	req.rtm.rtm_scope = type == RTM_NEWROUTE ? RT_SCOPE_HOST : RT_SCOPE_NOWHERE;
	err = nl_put_u32(&req, RTA_TABLE, pr_table);
	if (!err)
		err = nl_put_u32(&req, RTA_OIF, (uint32_t)oif);
	if (!err && has_metric)
		err = nl_put_u32(&req, RTA_PRIORITY, metric);
	if (err)
		return err;
	return nl_talk(nl, &req, NULL, NULL);
}

/*
 * The rules that a delete of ours would match (same action, table,
 * priority, fwmark and mask), in the kernel's order: how many are exactly
 * ours, and whether a foreign one (another selector on top) comes before
 * the first of ours with a protocol the delete would also match.
 */
struct rule_scan {
	int family;
	int exact;
	uint8_t proto; /* of the first exact one */
	bool blocked;
	bool foreign_any;
	uint32_t foreign[8]; /* protocols of foreign ones before it, a bitmap */
	/*
	 * A rule at any priority that sends packets to our table which ours
	 * would not (other mark bits, no mark, "not"): with the local route
	 * there, those packets would be taken as local.
	 */
	bool unsafe;
};

static void rule_msg(const struct nlmsghdr *nh, void *ctx)
{
	const struct fib_rule_hdr *frh = NLMSG_DATA(nh);
	struct rule_scan *s = ctx;
	uint32_t table, prio = 0, mark = 0, mask = 0, v;
	const struct rtattr *rta;
	bool extra = false;
	uint8_t proto = 0;
	int len;

	if (nh->nlmsg_type != RTM_NEWRULE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*frh)) ||
	    frh->family != s->family)
		return;
	table = frh->table;
	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*frh)));
	for (rta = (const struct rtattr *)((const char *)frh + NLMSG_ALIGN(sizeof(*frh)));
	     RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		switch (rta->rta_type) {
		case FRA_TABLE:
			rta_u32(rta, &table);
			break;
		case FRA_PRIORITY:
			rta_u32(rta, &prio);
			break;
		case FRA_FWMARK:
			rta_u32(rta, &mark);
			break;
		case FRA_FWMASK:
			rta_u32(rta, &mask);
			break;
		case FRA_PROTOCOL:
			if (RTA_PAYLOAD(rta) >= 1)
				proto = *(const uint8_t *)RTA_DATA(rta);
			break;
		case FRA_SUPPRESS_PREFIXLEN:
		case FRA_SUPPRESS_IFGROUP:
			/* Always dumped; -1 means unset. */
			if (!rta_u32(rta, &v) || v != UINT32_MAX)
				extra = true;
			break;
		default:
			/*
			 * iif, oif, from, to, uid, ports, tunnel id, and
			 * whatever selector a later kernel adds: each one
			 * narrows the rule, so it is not ours.
			 */
			extra = true;
			break;
		}
	}
	if (frh->action != FR_ACT_TO_TBL || table != pr_table)
		return;
	/* Other selectors only narrow a rule: the mark decides if it is a subset. */
	if ((frh->flags & FIB_RULE_INVERT) || (mark & pr_mask) != pr_mark ||
	    (mask & pr_mask) != pr_mask)
		s->unsafe = true;
	if (prio != SL_L7_RULE_PRIO || mark != pr_mark || mask != pr_mask)
		return;
	if (extra || frh->src_len || frh->dst_len || frh->tos || (frh->flags & FIB_RULE_INVERT)) {
		if (!s->exact) {
			s->foreign_any = true;
			s->foreign[proto / 32] |= 1U << (proto % 32);
		}
		return;
	}
	if (!s->exact++) {
		s->proto = proto;
		/* A delete without a protocol matches any. */
		s->blocked =
		    proto ? !!(s->foreign[proto / 32] & (1U << (proto % 32))) : s->foreign_any;
	}
}

static int scan_rules(struct nl *nl, int family, struct rule_scan *s)
{
	struct nl_req req;
	int err = 0, try;

	req_init(&req, RTM_GETRULE, NLM_F_DUMP, sizeof(req.frh));
	req.frh.family = family;
	for (try = 0; try < MAX_DUMP_TRIES; try++) {
		memset(s, 0, sizeof(*s));
		s->family = family;
		err = nl_talk(nl, &req, rule_msg, s);
		if (err != -EAGAIN)
			break;
	}
	/* No rules for this family (IPv6 not built in): none of ours either. */
	if (err == -EAFNOSUPPORT) {
		memset(s, 0, sizeof(*s));
		err = 0;
	}
	return err;
}

/* Our local default routes in the table: how many, and the first one's keys. */
struct route_scan {
	int family;
	int oif;
	int exact;
	uint8_t proto;
	bool has_metric;
	uint32_t metric;
};

static void route_msg(const struct nlmsghdr *nh, void *ctx)
{
	const struct rtmsg *rtm = NLMSG_DATA(nh);
	struct route_scan *s = ctx;
	uint32_t table, oif = 0, metric = 0;
	const struct rtattr *rta;
	bool has_metric = false, other = false;
	int len;

	/*
	 * Family checked: a kernel without IPv6 answers an AF_INET6 dump
	 * with every family's routes (rtnetlink falls back to AF_UNSPEC).
	 */
	if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)) ||
	    rtm->rtm_family != s->family)
		return;
	table = rtm->rtm_table;
	len = (int)RTM_PAYLOAD(nh);
	for (rta = RTM_RTA(rtm); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		switch (rta->rta_type) {
		case RTA_TABLE:
			rta_u32(rta, &table);
			break;
		case RTA_OIF:
			rta_u32(rta, &oif);
			break;
		case RTA_PRIORITY:
			has_metric = rta_u32(rta, &metric);
			break;
		case RTA_GATEWAY:
		case RTA_VIA:
		case RTA_MULTIPATH:
		case RTA_NH_ID:
			other = true;
			break;
		}
	}
	if (rtm->rtm_type != RTN_LOCAL || rtm->rtm_dst_len || rtm->rtm_src_len || rtm->rtm_tos ||
	    (rtm->rtm_flags & RTM_F_CLONED) || table != pr_table || oif != (uint32_t)s->oif ||
	    other)
		return;
	if (!s->exact++) {
		s->proto = rtm->rtm_protocol;
		s->has_metric = has_metric;
		s->metric = metric;
	}
}

static int scan_routes(struct nl *nl, int family, int oif, struct route_scan *s)
{
	struct nl_req req;
	int err = 0, try;

	req_init(&req, RTM_GETROUTE, NLM_F_DUMP, sizeof(req.rtm));
	req.rtm.rtm_family = family;
	err = nl_put_u32(&req, RTA_TABLE, pr_table);
	if (err)
		return err;
	for (try = 0; try < MAX_DUMP_TRIES; try++) {
		memset(s, 0, sizeof(*s));
		s->family = family;
		s->oif = oif;
		err = nl_talk(nl, &req, route_msg, s);
		if (err != -EAGAIN)
			break;
	}
	/* A filtered dump of a table nothing was ever put in. */
	if (err == -ENOENT) {
		memset(s, 0, sizeof(*s));
		err = 0;
	}
	return err;
}

static int lo_index(void)
{
	unsigned int idx = if_nametoindex("lo");

	return idx ? (int)idx : -ENODEV;
}

static int query(struct nl *nl, int oif, struct sl_policy_route *st)
{
	struct rule_scan rs;
	struct route_scan ts;
	int err;

	memset(st, 0, sizeof(*st));
	err = scan_rules(nl, AF_INET, &rs);
	if (err)
		return err;
	st->rule4 = rs.exact > 0;
	err = scan_rules(nl, AF_INET6, &rs);
	if (err)
		return err;
	st->rule6 = rs.exact > 0;
	err = scan_routes(nl, AF_INET, oif, &ts);
	if (err)
		return err;
	st->route4 = ts.exact > 0;
	err = scan_routes(nl, AF_INET6, oif, &ts);
	if (err)
		return err;
	st->route6 = ts.exact > 0;
	return 0;
}

/*
 * How "no IPv6 here" comes back: no rule ops for the family, no route
 * handler (rtnetlink's fallback has none for changes), or IPv6 disabled on
 * lo (net.ipv6.conf.lo.disable_ipv6=1: "IPv6 is disabled on nexthop device").
 */
static bool no_ipv6(int err)
{
	return err == -EAFNOSUPPORT || err == -EOPNOTSUPP || err == -EPROTONOSUPPORT ||
	       err == -EACCES;
}

/*
 * After -EEXIST from an add: ours, added meanwhile by someone else, or a
 * foreign entry the kernel takes for the same one (a "not fwmark" rule:
 * rule_exists() ignores the flags; any other route at the default in the
 * table). Only a fresh look tells.
 */
static int check_rule(struct nl *nl, int family)
{
	struct rule_scan rs;
	int err;

	err = scan_rules(nl, family, &rs);
	if (err)
		return err;
	return rs.exact ? 0 : -EEXIST;
}

static int check_route(struct nl *nl, int family, int oif)
{
	struct route_scan ts;
	int err;

	err = scan_routes(nl, family, oif, &ts);
	if (err)
		return err;
	return ts.exact ? 0 : -EEXIST;
}

/*
 * The rule goes in first: until the route is there it sends marked packets
 * to an empty table, and a lookup there falls through to the next rule as
 * if it did not exist. The other way round, a kernel without multiple
 * tables would put the route into main (and make everything local) before
 * the rule could fail.
 */
static int install_family(struct nl *nl, int family, int oif)
{
	bool added_rule = false;
	struct route_scan ts;
	struct rule_scan rs;
	int err;

	err = scan_rules(nl, family, &rs);
	if (!err)
		err = scan_routes(nl, family, oif, &ts);
	if (err)
		return err;
	/* What is there already (a rule by hand, another protocol) stays. */
	if (!ts.exact && rs.unsafe)
		return -EEXIST;
	if (!rs.exact) {
		err = rule_req(nl, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, family, SL_L7_PROTO);
		if (err == -EEXIST)
			err = check_rule(nl, family);
		else
			added_rule = !err;
		if (err)
			return err;
	}
	if (!ts.exact) {
		err = route_req(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, family, oif,
				SL_L7_PROTO, false, 0);
		if (err == -EEXIST)
			err = check_route(nl, family, oif);
		if (err) {
			/*
			 * Sending marked packets to a table that does not
			 * deliver them locally is worse than not at all.
			 */
			if (added_rule)
				rule_req(nl, RTM_DELRULE, 0, family, SL_L7_PROTO);
			return err;
		}
	}
	return 0;
}

int sl_policy_route_install(void)
{
	struct nl nl;
	int oif, err;

	oif = lo_index();
	if (oif < 0)
		return oif;
	err = nl_open(&nl);
	if (err)
		return err;
	err = install_family(&nl, AF_INET, oif);
	if (!err) {
		err = install_family(&nl, AF_INET6, oif);
		if (no_ipv6(err))
			err = 0;
	}
	nl_close(&nl);
	return err;
}

static int remove_family(struct nl *nl, int family, int oif)
{
	struct route_scan ts;
	struct rule_scan rs;
	int round, err;

	/* Rule first: it never points at a table that lost its route. */
	for (round = 0; round < MAX_ROUNDS; round++) {
		err = scan_rules(nl, family, &rs);
		if (err)
			return err;
		if (!rs.exact)
			break;
		if (rs.blocked)
			return -EBUSY;
		err = rule_req(nl, RTM_DELRULE, 0, family, rs.proto);
		if (err && err != -ENOENT)
			return err;
	}
	if (round == MAX_ROUNDS)
		return -EAGAIN;
	for (round = 0; round < MAX_ROUNDS; round++) {
		err = scan_routes(nl, family, oif, &ts);
		if (err)
			return err;
		if (!ts.exact)
			return 0;
		err =
		    route_req(nl, RTM_DELROUTE, 0, family, oif, ts.proto, ts.has_metric, ts.metric);
		/* ESRCH: gone meanwhile, or the table with it. */
		if (err && err != -ESRCH && err != -ENOENT)
			return err;
	}
	return -EAGAIN;
}

int sl_policy_route_remove(void)
{
	struct nl nl;
	int oif, err, err6;

	oif = lo_index();
	if (oif < 0)
		return oif;
	err = nl_open(&nl);
	if (err)
		return err;
	/* One family's trouble does not keep the other's in place. */
	err = remove_family(&nl, AF_INET, oif);
	err6 = remove_family(&nl, AF_INET6, oif);
	if (!err)
		err = err6;
	nl_close(&nl);
	return err;
}

int sl_policy_route_query(struct sl_policy_route *st)
{
	struct nl nl;
	int oif, err;

	memset(st, 0, sizeof(*st));
	oif = lo_index();
	if (oif < 0)
		return oif;
	err = nl_open(&nl);
	if (err)
		return err;
	err = query(&nl, oif, st);
	nl_close(&nl);
	return err;
}

static const char *family_str(bool rule, bool route)
{
	if (rule && route)
		return "rule+route";
	if (rule)
		return "rule only (route missing)";
	if (route)
		return "route only (rule missing)";
	return "missing";
}

const char *sl_policy_route_str(const struct sl_policy_route *st, char *buf, size_t len)
{
	snprintf(buf, len, "fwmark 0x%x/0x%x -> table %u (local): ipv4 %s, ipv6 %s", pr_mark,
		 pr_mask, pr_table, family_str(st->rule4, st->route4),
		 family_str(st->rule6, st->route6));
	return buf;
}
