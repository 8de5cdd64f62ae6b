// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice run: load, attach, apply, then follow the configuration: one or
 * more files and directories (--config, merged into one config), and with
 * --kubernetes the cluster's objects as one more input (kube.c), applied
 * once every kind is listed and then on every change, debounced like file
 * events (run_reload.c). With --iface-pattern, interfaces are followed
 * through rtnetlink in the same poll loop (run_links.c): pods' veths come
 * and go.
 *
 * This file is the startup (options by run_opts.c, then load, attach, the
 * L7 step) and the teardown; it may call every run_*.c piece (run.h).
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "datapath/datapath.h"
#include "datapath/socklb.h"
#include "datapath/policy_route.h"
#include "kube/kube.h"
#include "l7/l7.h"
#include "lib/log.h"
#include "lib/private_dir.h"
#include "observe/metrics.h"

static void private_parent(const char *path)
{
	char dir[256], *slash;
	int err;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	err = sl_private_dir(dir);
	if (err)
		pr_warn("warning: %s: %s (the hand-over socket itself is 0600)\n", dir,
			strerror(-err));
}

/*
 * Header routing: the policy route that delivers marked packets here, the
 * sk_lookup program that hands them to our listeners, and the L7 step
 * (taking over from a running predecessor if there is one).
 */
static int start_l7(struct run_ctx *c, const char *handoff)
{
	struct sl_policy_route pr;
	char buf[160];
	int err;

	sl_policy_route_configure(c->dp_opts.cfg.l7_mark, c->dp_opts.cfg.l7_mark_mask,
				  c->dp_opts.l7_table);
	err = sl_policy_route_install();
	if (err) {
		pr_warn("Error: cannot install the policy route for header routing: %s "
			"(--no-l7 runs without header routing)\n",
			strerror(-err));
		return err;
	}
	if (sl_log_get_level() >= SL_LOG_DEBUG && !sl_policy_route_query(&pr))
		pr_debug("policy route: %s\n", sl_policy_route_str(&pr, buf, sizeof(buf)));
	err = sl_dp_attach_lookup(&c->dp);
	if (err)
		return err;
	if (handoff)
		snprintf(c->handoff, sizeof(c->handoff), "%s", handoff);
	else
		sl_l7_default_handoff(cli.pin_dir, c->handoff, sizeof(c->handoff));
	/*
	 * Its directory, when it is ours (/run/sluice): a hostPath the kubelet
	 * made 0755 is narrowed to 0700. One given with --handoff-socket is
	 * left as it is.
	 */
	if (!handoff)
		private_parent(c->handoff);
	c->l7_opts.handoff_path = c->handoff;
	err = sl_l7_start(&c->dp.maps, &c->l7_opts, &c->l7);
	if (err)
		pr_warn("Error: cannot start the L7 step: %s\n", strerror(-err));
	return err;
}

/* A rollout decision as a -j event line. */
static void rollout_event(json_object *ev, void *arg)
{
	run_json_event("rollout", arg, NULL, ev);
}

/* --metrics and --health: bound, or said why not. */
static int listen_all(struct run_ctx *c, const struct run_args *a)
{
	const struct {
		const char *opt;
		const struct sl_metrics_addr *addr;
	} want[SL_METRICS_LISTENERS] = {
	    [SL_METRICS_PORT] = {a->metrics ? "--metrics" : NULL, &a->maddr},
	    [SL_HEALTH_PORT] = {a->health ? "--health" : NULL, &a->haddr},
	};
	int i, err;

	if (!a->metrics && !a->health)
		return 0;
	err = sl_metrics_new(&c->metrics, a->metrics_istio);
	for (i = 0; i < SL_METRICS_LISTENERS && !err; i++) {
		if (!want[i].opt)
			continue;
		err = sl_metrics_listen(c->metrics, i, want[i].addr);
		if (err)
			sl_error("%s %s: cannot listen: %s", want[i].opt, want[i].addr->str,
				 strerror(-err));
	}
	return err;
}

int cmd_run(int argc, char **argv)
{
	struct run_ctx c = {
	    .nl_fd = -1,
	    .l7_opts = {.max_conns = SL_L7_DEFAULT_MAX_CONNS,
			.idle_timeout_ms = SL_L7_DEFAULT_IDLE_TIMEOUT,
			.head_max = SL_L7_DEFAULT_HEAD_MAX,
			.head_timeout_ms = SL_L7_DEFAULT_HEAD_TIMEOUT,
			.connect_timeout_ms = SL_L7_DEFAULT_CONN_TIMEOUT},
	};
	struct run_args a = {};
	sigset_t set;
	int i, err, ret;
	bool valid;

	sl_dp_opts_default(&c.dp_opts);
	/* on unless --no-fast-path (the packet tests load without it) */
	c.dp_opts.cfg.flags |= SL_DP_FAST_PATH;
	c.gc_opts.closed_timeout = SL_CT_CLOSED_TIMEOUT;
	c.gc_opts.idle_timeout = SL_CT_IDLE_TIMEOUT;
	ret = run_parse_opts(argc, argv, &c, &a);
	if (ret != SL_EXIT_OK)
		return ret;
	ret = SL_EXIT_SYSTEM;

	/*
	 * splice(2) into a socket has no MSG_NOSIGNAL: a relayed peer that
	 * resets must cost that connection, not the process.
	 */
	signal(SIGPIPE, SIG_IGN);

	/* Signals are read from a signalfd; block them before anything else. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	/*
	 * Nothing it creates is for anyone else: the pin directory and
	 * /run/sluice are 0700, the hand-over socket 0600.
	 */
	umask(077);

	/* Before anything is loaded: a port in use changes nothing. */
	if (listen_all(&c, &a)) {
		sl_metrics_stop(c.metrics);
		free(c.what);
		return SL_EXIT_SYSTEM;
	}
	err = sl_dp_load_opts(&c.dp, cli.pin_dir, &c.dp_opts);
	if (err) {
		sl_metrics_stop(c.metrics);
		free(c.what);
		return SL_EXIT_SYSTEM;
	}
	/*
	 * Rollouts a previous run left running resume from the pinned state;
	 * the first load hands it the configuration's rollout blocks.
	 */
	c.ro = sl_ro_ctl_new(&c.dp.maps, cli.json ? rollout_event : NULL, &c);
	if (c.ro && sl_ro_ctl_busy(c.ro))
		pr_info("rollouts in progress: resumed from %s\n", cli.pin_dir);
	memcpy(c.gc_opts.hairpin4, c.dp_opts.cfg.hairpin4, sizeof(c.gc_opts.hairpin4));
	memcpy(c.gc_opts.hairpin6, c.dp_opts.cfg.hairpin6, sizeof(c.gc_opts.hairpin6));
	c.gc = sl_ct_gc_start(&c.dp.maps, &c.gc_opts);
	if (!c.gc) {
		sl_error("cannot start the conntrack reclaimer: %s", strerror(errno));
		goto out;
	}
	/* Its thread inherits the blocked signals: they stay the signalfd's. */
	if (c.metrics) {
		err = sl_metrics_start(c.metrics, cli.pin_dir);
		if (err) {
			sl_error("--%s %s: cannot start the server: %s",
				 a.metrics ? "metrics" : "health",
				 a.metrics ? a.maddr.str : a.haddr.str, strerror(-err));
			goto out;
		}
	}
	sl_dp_ifaces_prune(&c.dp);
	for (i = 0; i < c.n_ifaces; i++) {
		if (sl_dp_attach(&c.dp, c.ifaces[i]))
			goto out;
		if (c.patterns[0] &&
		    !run_add_link(&c, (int)if_nametoindex(c.ifaces[i]), c.ifaces[i]))
			goto out;
	}
	if (c.patterns[0]) {
		if (run_watch_links(&c))
			goto out;
		pr_info("following interfaces matching %s: %zu attached\n", c.patterns, c.n_links);
	}
	/* socket-level balancing: on, or off when this run does not ask for it */
	if (c.dp_opts.sock_lb_cgroup
		? sl_socklb_attach(c.dp.skel, cli.pin_dir, c.dp_opts.sock_lb_cgroup)
		: sl_socklb_off(cli.pin_dir))
		goto out;
	if (!c.no_l7 && start_l7(&c, a.handoff))
		goto out;

	/*
	 * A bad file at start is fatal only when there is nothing to keep: after
	 * a restart the pinned tables still hold the last good configuration.
	 */
	if (c.kubernetes) {
		err = sl_kube_start(&c.kube);
		if (err) {
			ret = err == -EINVAL ? SL_EXIT_INVALID : SL_EXIT_SYSTEM;
			goto out;
		}
		pr_info("kubernetes: nothing applied until every kind is listed\n");
		err = 0;
	} else {
		err = run_first_load(&c);
	}
	valid = !err;
	if (!valid && !run_generation(&c.dp.maps)) {
		ret = err == -EINVAL ? SL_EXIT_INVALID : SL_EXIT_SYSTEM;
		goto out;
	}
	pr_info("running: %d interface(s), generation %llu, pins in %s; watching %s\n",
		c.patterns[0] ? (int)c.n_links : c.n_ifaces,
		(unsigned long long)run_generation(&c.dp.maps), cli.pin_dir, c.what);
	{
		json_object *x = cli.json ? json_object_new_object() : NULL, *ifs;

		if (x) {
			ifs = json_object_new_array();
			for (i = 0; i < c.n_ifaces; i++)
				json_object_array_add(ifs, json_object_new_string(c.ifaces[i]));
			for (i = 0; c.patterns[0] && i < (int)c.n_links; i++)
				if (!c.links[i].skipped && !run_explicit_iface(&c, c.links[i].name))
					json_object_array_add(
					    ifs, json_object_new_string(c.links[i].name));
			json_object_object_add(x, "interfaces", ifs);
			if (c.patterns[0])
				json_object_object_add(x, "iface_pattern",
						       json_object_new_string(c.patterns));
			json_object_object_add(x, "pin_dir", json_object_new_string(cli.pin_dir));
			if (a.metrics)
				json_object_object_add(x, "metrics",
						       json_object_new_string(a.maddr.str));
			if (a.health)
				json_object_object_add(x, "health",
						       json_object_new_string(a.haddr.str));
		}
		run_json_event("running", &c, NULL, x);
	}
	if (!c.kube)
		sl_metrics_set_ready(c.metrics, true);

	err = run_event_loop(&c);
	ret = err ? SL_EXIT_SYSTEM : SL_EXIT_OK;
out:
	if (c.kube) {
		struct sl_kube_stats st;

		sl_kube_stats(c.kube, &st);
		pr_info(
		    "kubernetes: %lu lists, %lu watches, %lu gone (410), %lu events, %lu errors\n",
		    st.lists, st.watches, st.gone, st.events, st.errors);
	}
	sl_ro_ctl_free(c.ro);
	sl_kube_stop(c.kube);
	sl_metrics_stop(c.metrics);
	sl_l7_stop(c.l7);
	sl_ct_gc_stop(c.gc);
	if (c.patterns[0])
		pr_info("interfaces: %lu attached, %lu detached, %lu failed, %lu not Ethernet\n",
			c.nl_count.attached, c.nl_count.detached, c.nl_count.failed,
			c.nl_count.skipped);
	if (c.detach_on_exit && !c.handed_over) {
		for (i = 0; i < c.n_ifaces; i++)
			sl_dp_detach(c.ifaces[i]);
		for (i = 0; i < (int)c.n_links; i++)
			if (!c.links[i].skipped && !run_explicit_iface(&c, c.links[i].name))
				sl_dp_detach(c.links[i].name);
		sl_dp_down(cli.pin_dir);
		pr_info("detached and unpinned\n");
	} else if (ret == SL_EXIT_OK) {
		pr_info("datapath left in place (pins in %s); `sluice down` removes it\n",
			cli.pin_dir);
	}
	sl_dp_close(&c.dp);
	if (c.nl_fd >= 0)
		close(c.nl_fd);
	free(c.links);
	run_free_names(&c);
	free(c.what);
	return ret;
}
