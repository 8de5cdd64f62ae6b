// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluice status and sluice weights: what is in force, and live weights. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "datapath/rt.h"
#include "rollout/spec.h"
#include "rollout/store.h"
#include "datapath/datapath.h"
#include "lib/log.h"
#include "observe/rejected.h"
#include "observe/status_json.h"
#include "datapath/counters.h"
#include "datapath/tables.h"

/* Each line of a route's HTTP match, under the route. */
static void print_http_match(const struct sl_maps *m, const struct sl_route *r)
{
	struct sl_l7_spec spec;
	const char *p = sl_route_http_match(m, r, &spec), *nl;

	if (!p)
		return;
	if (!*p)
		printf("        (any HTTP request)\n");
	for (; *p; p = *nl ? nl + 1 : nl) {
		nl = strchrnul(p, '\n');
		printf("        %.*s\n", (int)(nl - p), p);
	}
}

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

static void print_l7(const struct sl_status *st, const struct sl_l7_view *v)
{
	bool v4 = v->listening[SL_L7_LISTEN_INET], v6 = v->listening[SL_L7_LISTEN_INET6];
	const char *note = "";
	char buf[160];
	int k;

	/* without a listener, sl_ingress splits by weight: say so where it shows */
	if (v->n_services && !v4 && !v6)
		note = "  [none: connections go by weight, HTTP routes unused]";
	else if (v->n_services && (!v4 || !v6))
		note = !v4 ? "  [IPv4 connections go by weight, HTTP routes unused]"
			   : "  [IPv6 connections go by weight, HTTP routes unused]";
	printf("\nl7: %zu service%s with HTTP routes\n", v->n_services,
	       v->n_services == 1 ? "" : "s");
	printf("  listeners: ipv4 %s, ipv6 %s%s\n", yes_no(v4), yes_no(v6), note);
	if (v->route_err)
		printf("  policy route: cannot query: %s\n", strerror(-v->route_err));
	else
		printf("  policy route: %s\n", sl_policy_route_str(&v->route, buf, sizeof(buf)));
	printf("  lookup link: %s\n", !v->link_pinned ? "not pinned"
				      : v->link_here
					  ? "pinned, attached to this network namespace"
					  : "pinned, not attached to this network namespace");
	printf("  counters:");
	for (k = 0; k < SL_L7_C_MAX; k++)
		printf(" %s=%llu", sl_l7_counter_name(k), (unsigned long long)st->l7[k]);
	printf("\n");
}

static void print_text(const struct sl_status *st, const struct sl_maps *m,
		       const struct sl_l7_view *l7, char ifs[][IF_NAMESIZE], int n_ifs)
{
	time_t t = st->state.applied_ns / 1000000000ULL;
	char when[64] = "never", buf[80];
	size_t i, j, k;
	struct tm tm;

	if (st->state.generation && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("generation %" PRIu64 ", applied %s, slot %u, conntrack entries %u\n",
	       (uint64_t)st->state.generation, when, st->state.active_slot, st->ct_entries);
	printf("interfaces:");
	for (k = 0; k < (size_t)n_ifs; k++)
		printf(" %s", ifs[k]);
	printf("%s\n", n_ifs ? "" : " (none in this network namespace)");

	for (i = 0; i < st->n_services; i++) {
		const struct sl_status_service *s = &st->services[i];

		printf("\nservice %s (affinity %s)\n", s->name,
		       s->flags & SL_SVC_AFFINITY_CLIENT_IP ? "client-ip" : "connection");
		for (k = 0; k < s->n_ports; k++) {
			sl_addr_str(&s->ports[k].vip, buf, sizeof(buf));
			printf("  %s%s%s:%u/%s -> %u  %s\n",
			       s->ports[k].vip.family == SL_AF_INET6 ? "[" : "", buf,
			       s->ports[k].vip.family == SL_AF_INET6 ? "]" : "", s->ports[k].port,
			       sl_proto_name(s->ports[k].proto), s->ports[k].target_port,
			       sl_status_path(&s->ports[k]));
		}
		printf("  routes:\n");
		for (k = 0; k < s->n_routes; k++) {
			printf("    %zu %-24s", k, sl_route_match(&s->routes[k], buf, sizeof(buf)));
			for (j = 0; j < s->n_subsets; j++)
				printf(" %s=%u", s->subsets[j].name, s->routes[k].weight[j]);
			printf("%s\n", sl_route_note(&s->routes[k]));
			print_http_match(m, &s->routes[k]);
		}
		printf("  %-10s %7s %9s %9s %7s %10s %12s %10s %12s %7s  %s\n", "SUBSET", "WEIGHT",
		       "OPENED", "CLOSED", "ACTIVE", "PKTS_IN", "BYTES_IN", "PKTS_OUT", "BYTES_OUT",
		       "RESETS", "ENDPOINTS");
		for (j = 0; j < s->n_subsets; j++) {
			const struct sl_status_subset *sub = &s->subsets[j];
			const struct sl_stats *c = &sub->stats;

			printf("  %-10s %7u %9llu %9llu %7llu %10llu %12llu %10llu %12llu %7llu ",
			       sub->name, sub->weight, (unsigned long long)c->conns_opened,
			       (unsigned long long)c->conns_closed,
			       (unsigned long long)(c->conns_opened > c->conns_closed
							? c->conns_opened - c->conns_closed
							: 0),
			       (unsigned long long)c->packets_in, (unsigned long long)c->bytes_in,
			       (unsigned long long)c->packets_out, (unsigned long long)c->bytes_out,
			       (unsigned long long)c->backend_resets);
			for (k = 0; k < sub->n_eps; k++) {
				sl_endpoint_str(&sub->eps[k], buf, sizeof(buf));
				printf(" %s", buf);
			}
			printf("%s\n", sub->n_eps ? "" : " (none)");
		}
		for (j = 0; j < s->n_subsets; j++) {
			const struct sl_rt_hist *rt = &s->subsets[j].rt;

			if (!rt->count)
				continue;
			printf("  %-10s response time p50 %.3f ms, p99 %.3f ms (%llu measured)\n",
			       s->subsets[j].name, sl_rt_quantile(rt, 0.5) / 1000,
			       sl_rt_quantile(rt, 0.99) / 1000, (unsigned long long)rt->count);
		}
		{
			struct sl_rollout ro;
			uint32_t slot;

			if (!sl_ro_find(m, s->name, &ro, &slot))
				printf("  rollout %s -> %s: %s, %s at %u%% (`sluice rollout %s`): %s\n",
				       ro.from, ro.to, sl_ro_phase_name(ro.phase), ro.to,
				       sl_ro_weight(&ro), s->name, ro.reason);
		}
	}
	printf("\ndatapath:");
	for (k = 0; k < SL_G_MAX; k++)
		printf(" %s=%llu", sl_global_name(k), (unsigned long long)st->global[k]);
	printf("\n");
	print_l7(st, l7);
}

static int open_maps(struct sl_maps *maps)
{
	int err = sl_maps_open_pinned(maps, cli.pin_dir);

	if (err)
		sl_error("sluice is not loaded in %s (%s): start it with `sluice run`", cli.pin_dir,
			 strerror(-err));
	return err;
}

int cmd_status(int argc, char **argv)
{
	char ifs[256][IF_NAMESIZE];
	struct sl_maps maps = {};
	struct sl_l7_view l7;
	struct sl_status st;
	json_object *rejected;
	struct sl_dp_cfg dcfg;
	int err, n_ifs, fast;
	size_t i;

	if (argc > 1) {
		sl_error("usage: sluice status (takes no arguments)");
		return SL_EXIT_INVALID;
	}
	if (open_maps(&maps))
		return SL_EXIT_SYSTEM;
	err = sl_tables_read_status(&maps, &st);
	if (err) {
		sl_error("cannot read the maps: %s", strerror(-err));
		sl_maps_close(&maps);
		return SL_EXIT_SYSTEM;
	}
	st.ct_entries = sl_tables_count_conntrack(&maps);
	n_ifs = sl_dp_attached(cli.pin_dir, ifs, 256);
	fast = sl_dp_read_cfg(cli.pin_dir, &dcfg) ? -1 : !!(dcfg.flags & SL_DP_FAST_PATH);
	if (n_ifs < 0)
		n_ifs = 0;
	sl_l7_view_read(&l7, &maps, cli.pin_dir, &st);
	rejected = sl_rejected_load(cli.pin_dir);
	if (cli.json) {
		json_object *o = sl_status_json(&st, &maps, &l7);
		json_object *ia = json_object_new_array();

		for (i = 0; i < (size_t)n_ifs; i++)
			json_object_array_add(ia, json_object_new_string(ifs[i]));
		json_object_object_add(o, "interfaces", ia);
		json_object_object_add(o, "fast_path",
				       fast < 0 ? NULL : json_object_new_boolean(fast));
		json_object_object_add(o, "rejected", json_object_get(rejected));
		sl_json_print(o);
	} else {
		print_text(&st, &maps, &l7, ifs, n_ifs);
		if (fast >= 0)
			printf("fast path: %s\n", fast ? "on (past the node's stack between "
							 "attached interfaces)"
						      : "off (--no-fast-path)");
		sl_rejected_print(rejected);
	}
	json_object_put(rejected);
	sl_status_free(&st);
	sl_maps_close(&maps);
	return SL_EXIT_OK;
}

/* One service's weights, found through sl_svc_index: no walk of every service. */
static int show_weights(const struct sl_maps *maps, const char *service)
{
	struct sl_weights w;
	int err;
	size_t j;

	err = sl_tables_get_weights(maps, service, &w);
	if (err == -ENOENT || err == -ESTALE) {
		sl_error("no service '%s' in the running configuration", service);
		return SL_EXIT_INVALID;
	}
	if (err) {
		sl_error("cannot read the maps: %s", strerror(-err));
		return SL_EXIT_SYSTEM;
	}
	if (cli.json) {
		json_object *o = json_object_new_object(), *wo = json_object_new_object();

		for (j = 0; j < w.n; j++)
			json_object_object_add(wo, w.names[j], json_object_new_int64(w.weight[j]));
		json_object_object_add(o, "service", json_object_new_string(service));
		json_object_object_add(o, "weights", wo);
		json_object_object_add(o, "overridden", json_object_new_boolean(w.overridden));
		sl_json_print(o);
	} else {
		printf("%s:", service);
		for (j = 0; j < w.n; j++)
			printf(" %s=%u", w.names[j], w.weight[j]);
		printf("%s\n", w.overridden
				    ? "  (overridden; the config file wins on its next change)"
				    : "");
	}
	return SL_EXIT_OK;
}

/* "v1=90" -> name, weight; errors name the argument. */
static int parse_weight_arg(const char *arg, char **name, uint32_t *w)
{
	const char *eq = strchr(arg, '=');
	unsigned long v;
	char *end;

	if (!eq || eq == arg || !eq[1]) {
		sl_error("'%s': expected SUBSET=WEIGHT, e.g. v2=10", arg);
		return -EINVAL;
	}
	errno = 0;
	v = strtoul(eq + 1, &end, 10);
	if (errno || *end || eq[1] < '0' || eq[1] > '9' || v > SL_MAX_WEIGHT) {
		sl_error("'%s': weight must be an integer from 0 to %d", arg, SL_MAX_WEIGHT);
		return -EINVAL;
	}
	*name = strndup(arg, eq - arg);
	*w = v;
	return *name ? 0 : -ENOMEM;
}

int cmd_weights(int argc, char **argv)
{
	char *names[SL_MAX_SUBSETS] = {};
	uint32_t w[SL_MAX_SUBSETS];
	struct sl_maps maps = {};
	struct sl_diag diag;
	int i, n = 0, lock = -1, err, ret = SL_EXIT_INVALID;

	sl_diag_init(&diag);
	if (argc < 2 || argv[1][0] == '-') {
		sl_error("usage: sluice weights SERVICE [SUBSET=WEIGHT ...]");
		return SL_EXIT_INVALID;
	}
	if (argc - 2 > SL_MAX_SUBSETS) {
		sl_error("at most %d SUBSET=WEIGHT arguments", SL_MAX_SUBSETS);
		return SL_EXIT_INVALID;
	}
	for (i = 2; i < argc; i++) {
		int k;

		if (parse_weight_arg(argv[i], &names[n], &w[n]))
			goto out;
		for (k = 0; k < n; k++)
			if (!strcmp(names[k], names[n])) {
				sl_error("'%s': subset '%s' given twice", argv[i], names[n]);
				n++;
				goto out;
			}
		n++;
	}
	if (open_maps(&maps)) {
		ret = SL_EXIT_SYSTEM;
		goto out;
	}
	if (!n) {
		ret = show_weights(&maps, argv[1]);
		goto out;
	}
	lock = sl_lock(cli.pin_dir);
	err = lock < 0 ? lock : sl_tables_set_weights(&maps, argv[1], names, w, n, &diag);
	if (err) {
		if (diag.n_msgs)
			sl_error("%s",
				 diag.msgs[0] + (strncmp(diag.msgs[0], "error: ", 7) ? 0 : 7));
		else
			sl_error("setting weights failed: %s", strerror(-err));
		ret = err == -EINVAL || err == -ENOENT ? SL_EXIT_INVALID : SL_EXIT_SYSTEM;
		goto out;
	}
	sl_unlock(lock);
	lock = -1;
	ret = show_weights(&maps, argv[1]);
out:
	sl_unlock(lock);
	for (i = 0; i < n; i++)
		free(names[i]);
	sl_maps_close(&maps);
	sl_diag_free(&diag);
	return ret;
}
