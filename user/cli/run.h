/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside `sluice run` (cmd_run.c): its state and the pieces it is made of.
 * Private to cli/cmd_run.c and cli/run_*.c; no other command includes it.
 * Who calls whom (never the other way):
 *   cmd_run.c     startup, attach, the L7 step, teardown: calls all below
 *   run_opts.c    the command line into a run_ctx: calls nothing below
 *   run_reload.c  config load/apply, file watches, the poll loop:
 *                 calls run_links.c and run_event.c
 *   run_links.c   --iface-pattern, interfaces through rtnetlink:
 *                 calls run_event.c
 *   run_event.c   the JSON event lines of -j: calls nothing below
 */
#ifndef SLUICE_RUN_H
#define SLUICE_RUN_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "config/config.h"
#include "datapath/ct_gc.h"
#include "datapath/datapath.h"
#include "l7/l7.h"
#include "observe/metrics.h"
#include "rollout/controller.h"

#define MAX_IFACES   64
#define MAX_PATTERNS 1024 /* characters of every --iface-pattern, joined by commas */
#define MAX_CONFIGS  64
#define MAX_WRITING  16

struct run_ctx {
	const char *configs[MAX_CONFIGS]; /* --config, files and directories */
	size_t n_configs;
	char *what; /* the same, for messages */
	const char *ifaces[MAX_IFACES];
	int n_ifaces;
	/*
	 * --iface-pattern: globs, joined by commas, and the interfaces found
	 * through rtnetlink (those named by --iface too, so none is attached
	 * twice). nl_fd is -1 without a pattern.
	 */
	char patterns[MAX_PATTERNS];
	int nl_fd;
	struct run_link {
		int ifindex;
		char name[IF_NAMESIZE];
		bool skipped; /* not Ethernet: said once, never attached */
	} * links;
	size_t n_links;
	struct {
		unsigned long attached, detached, failed, skipped;
	} nl_count;
	bool detach_on_exit;
	/* --kubernetes: the cluster's objects, merged with --config if any */
	bool kubernetes;
	struct sl_kube *kube;
	bool kube_loaded; /* the first whole picture has been loaded */
	struct sl_datapath dp;
	struct sl_dp_opts dp_opts;   /* --ct-max, --l7-mark, --l7-table, --no-src-check */
	struct sl_ct_gc_opts gc_opts; /* --ct-closed-timeout, --ct-idle-timeout */
	struct sl_ct_gc *gc;
	struct sl_metrics *metrics; /* --metrics; NULL when off */
	struct sl_ro_ctl *ro;	    /* the rollout controller (rollout/controller.h) */
	/* header routing: the L7 step; NULL with --no-l7 */
	bool no_l7;
	struct sl_l7_opts l7_opts;
	char handoff[256];
	struct sl_l7 *l7;
	bool handed_over; /* a successor runs everything now */
	bool have_last;	  /* digest of the configuration applied last */
	uint64_t last;
	uint64_t last_model; /* and of the tables it wrote (sl_config_model_digest) */
	bool have_bad;	     /* digest of the configuration rejected last, reported once */
	uint64_t last_bad;
	/* What the inotify watches are for (see about_config). */
	char **names; /* basenames of every config file and of the file each links to */
	size_t n_names;
	int dir_wds[MAX_CONFIGS]; /* watches of the directories given as --config */
	size_t n_dir_wds;
	/* Config files modified and not closed yet: a write in progress. */
	struct {
		int wd;
		char name[NAME_MAX + 1];
	} writing[MAX_WRITING];
	size_t n_writing;
};

/* What the command line says beyond run_ctx, for startup (cmd_run.c). */
struct run_args {
	const char *metrics; /* --metrics as given; NULL when off */
	struct sl_metrics_addr maddr;
	bool metrics_istio;
	const char *health; /* --health as given; NULL when off */
	struct sl_metrics_addr haddr;
	const char *handoff; /* --handoff-socket; NULL: the pin directory's */
};

/* run_opts.c: SL_EXIT_OK, or the exit code after saying what is wrong. */
int run_parse_opts(int argc, char **argv, struct run_ctx *c, struct run_args *a);

/* run_event.c */
__u64 run_generation(const struct sl_maps *m);
/*
 * With -j, one JSON line on stdout per event; extra (consumed, may be NULL)
 * carries the event's own fields.
 */
void run_json_event(const char *event, const struct run_ctx *c, const struct sl_diag *diag,
		    json_object *extra);

/* run_links.c */
bool run_explicit_iface(const struct run_ctx *c, const char *name);
struct run_link *run_add_link(struct run_ctx *c, int ifindex, const char *name);
/* Start following interfaces (--iface-pattern); the loop then calls run_read_links. */
int run_watch_links(struct run_ctx *c);
void run_read_links(struct run_ctx *c);

/* run_reload.c */
int run_first_load(struct run_ctx *c);
/* Until a signal to exit or a hand-over: 0, or -errno if the loop failed. */
int run_event_loop(struct run_ctx *c);
void run_free_names(struct run_ctx *c);

#endif /* SLUICE_RUN_H */
