// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice run: load, attach, apply, then follow the configuration: one or
 * more files and directories (--config, merged into one config). Editors
 * save by writing a temporary file and renaming it over the old one, and
 * Kubernetes ConfigMap volumes swap a "..data" symlink: both show up as
 * events on the directory, not on the file, so the directory of each file is
 * watched and the configuration re-read whenever something in it changes
 * that is about the configuration. A directory given as --config is watched
 * for its *.yaml and *.yml files being created, written, renamed or deleted.
 * A configuration whose content did not change (one digest over every file,
 * in order) is not applied again (that would drop a `sluice weights`
 * override for nothing); SIGHUP applies it regardless.
 *
 * With --iface-pattern, interfaces are followed through rtnetlink in the
 * same poll loop (pods' veths come and go); with --kubernetes, the cluster's
 * objects are one more input (kube.c), applied once every kind is listed
 * and then on every change, debounced like file events.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <libgen.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/bpf.h>

#include "cli/cli.h"
#include "datapath/datapath.h"
#include "kube/kube.h"
#include "l7/l7.h"
#include "lib/log.h"
#include "observe/metrics.h"
#include "datapath/netlink.h"
#include "datapath/policy_route.h"
#include "datapath/tables.h"

#define MAX_IFACES    64
#define MAX_PATTERNS  1024 /* characters of every --iface-pattern, joined by commas */
#define MAX_CONFIGS   64
#define MAX_WRITING   16
#define DEBOUNCE_MS   100
#define WRITE_WAIT_MS 2000

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
	struct sl_metrics *metrics; /* --metrics; NULL when off */
	/* header routing: the L7 step; NULL with --no-l7 */
	bool no_l7;
	struct sl_l7_opts l7_opts;
	char handoff[256];
	struct sl_l7 *l7;
	bool handed_over; /* a successor runs everything now */
	bool have_last;	  /* digest of the configuration applied last */
	uint64_t last;
	bool have_bad; /* digest of the configuration rejected last, reported once */
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

static __u64 generation(const struct sl_maps *m)
{
	struct sl_state s = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(m->state, &zero, &s);
	return s.generation;
}

/*
 * With -j, `run` also reports what it does as JSON lines on stdout, one
 * object per event ({"event": "applied", ...}), for tools that follow it;
 * the human log stays on stderr.
 */
static void json_event(const char *event, const struct run_ctx *c, const struct sl_diag *diag,
		       json_object *extra)
{
	json_object *o;

	if (!cli.json) {
		json_object_put(extra);
		return;
	}
	o = extra ?: json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "config", json_object_new_string(c->what));
	json_object_object_add(o, "generation", json_object_new_uint64(generation(&c->dp.maps)));
	if (diag && diag->n_msgs)
		json_object_object_add(o, "diagnostics", sl_diag_json(diag));
	sl_json_print(o);
	fflush(stdout);
}

/*
 * The configuration: the --config files, and with --kubernetes the objects
 * from the cluster as one more input (where no service at all is valid: a
 * cluster without a routed Service yet).
 */
static int load_config(struct run_ctx *c, struct sl_config **cfg, struct sl_diag *diag,
		       uint64_t *digest)
{
	struct sl_config_buf b = {.name = "kubernetes"};
	char *text;
	int err;

	if (!c->kube)
		return sl_config_load_paths_digest(c->configs, c->n_configs, cfg, diag, digest);
	text = sl_kube_render(c->kube, &b.len);
	if (!text)
		return -ENOMEM;
	b.data = text;
	err = sl_config_load_sources(c->configs, c->n_configs, &b, 1, true, cfg, diag, digest);
	free(text);
	return err;
}

/*
 * Validate and apply the configuration. A bad one is logged with its
 * positions and changes nothing: the datapath keeps the last good
 * configuration.
 */
static int reload(struct run_ctx *c, bool force)
{
	struct sl_config *cfg = NULL;
	uint64_t digest = 0;
	struct sl_diag diag;
	size_t i;
	int err, lock;

	sl_diag_init(&diag);
	err = load_config(c, &cfg, &diag, &digest);
	/*
	 * The directories also change for other reasons (a file rewritten with
	 * the same bytes, a ConfigMap swap of other keys): an input that was
	 * applied, or rejected, already needs nothing more.
	 */
	if (!force && digest &&
	    ((c->have_last && digest == c->last) || (c->have_bad && digest == c->last_bad))) {
		err = 0;
		goto out;
	}
	for (i = 0; i < diag.n_msgs; i++)
		pr_warn("%s\n", diag.msgs[i]);
	if (err == -EINVAL) {
		pr_warn("Error: %s is invalid; keeping generation %llu\n", c->what,
			(unsigned long long)generation(&c->dp.maps));
		json_event("rejected", c, &diag, NULL);
		sl_metrics_reloaded(c->metrics, false);
		c->have_bad = digest != 0;
		c->last_bad = digest;
		goto out;
	}
	if (err) {
		pr_warn("Error: cannot read %s: %s; keeping generation %llu\n", c->what,
			strerror(-err), (unsigned long long)generation(&c->dp.maps));
		json_event("rejected", c, &diag, NULL);
		sl_metrics_reloaded(c->metrics, false);
		goto out;
	}
	sl_diag_free(&diag);
	sl_diag_init(&diag);

	lock = sl_lock(c->dp.pin_dir);
	err = lock < 0 ? lock : sl_tables_apply(&c->dp.maps, cfg, &diag);
	if (!err)
		sl_tables_set_digest(&c->dp.maps, digest);
	sl_unlock(lock);
	for (i = 0; i < diag.n_msgs; i++)
		pr_warn("%s\n", diag.msgs[i]);
	if (err) {
		pr_warn("Error: applying %s failed: %s; keeping generation %llu\n", c->what,
			strerror(-err), (unsigned long long)generation(&c->dp.maps));
		json_event("apply-failed", c, &diag, NULL);
		sl_metrics_reloaded(c->metrics, false);
		goto out;
	}
	pr_info("applied %s: generation %llu, %zu services\n", c->what,
		(unsigned long long)generation(&c->dp.maps), cfg->n_services);
	{
		json_object *x = cli.json ? json_object_new_object() : NULL;

		if (x)
			json_object_object_add(x, "services",
					       json_object_new_uint64(cfg->n_services));
		json_event("applied", c, &diag, x);
	}
	sl_metrics_reloaded(c->metrics, true);
	c->have_last = true;
	c->last = digest;
	/* the same mistake made again later is worth reporting again */
	c->have_bad = false;
out:
	sl_diag_free(&diag);
	sl_config_free(cfg);
	return err;
}

/*
 * After a restart the tables may already hold this very configuration: then
 * applying it again would only undo a `sluice weights` override, which is
 * meant to last until the configuration changes.
 */
static int first_load(struct run_ctx *c)
{
	struct sl_config *cfg = NULL;
	struct sl_state s = {};
	uint64_t digest = 0;
	struct sl_diag diag;
	__u32 zero = 0;
	int err;

	if (bpf_map_lookup_elem(c->dp.maps.state, &zero, &s) || !s.generation)
		return reload(c, true);
	sl_diag_init(&diag);
	err = load_config(c, &cfg, &diag, &digest);
	sl_config_free(cfg);
	sl_diag_free(&diag);
	if (err || !digest || digest != s.config_digest)
		return reload(c, true);
	pr_info("%s is what generation %llu was applied from: keeping it\n", c->what,
		(unsigned long long)s.generation);
	json_event("kept", c, NULL, NULL);
	sl_metrics_reloaded(c->metrics, true);
	c->have_last = true;
	c->last = digest;
	return 0;
}

/*
 * --iface-pattern: every interface whose name matches, as it appears
 * (RTM_NEWLINK, or the dump at start), is attached; one that goes away
 * (RTM_DELLINK: deleted, or moved into a pod's namespace) takes its filters
 * with it, so only the bookkeeping is left to do. An interface renamed to a
 * name that no longer matches is detached.
 */
static bool explicit_iface(const struct run_ctx *c, const char *name)
{
	int i;

	for (i = 0; i < c->n_ifaces; i++)
		if (!strcmp(c->ifaces[i], name))
			return true;
	return false;
}

static bool wanted_link(const struct run_ctx *c, const char *name)
{
	return explicit_iface(c, name) || sl_nl_match(c->patterns, name);
}

static struct run_link *find_link(struct run_ctx *c, int ifindex)
{
	size_t i;

	for (i = 0; i < c->n_links; i++)
		if (c->links[i].ifindex == ifindex)
			return &c->links[i];
	return NULL;
}

static struct run_link *add_link(struct run_ctx *c, int ifindex, const char *name)
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
	*l = c->links[--c->n_links];
}

static void link_event(const char *event, const struct run_ctx *c, const char *name, int ifindex)
{
	json_object *x = cli.json ? json_object_new_object() : NULL;

	if (x) {
		json_object_object_add(x, "interface", json_object_new_string(name));
		json_object_object_add(x, "ifindex", json_object_new_int(ifindex));
	}
	json_event(event, c, NULL, x);
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
		if (add_link(c, nl->ifindex, nl->name)) {
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
	if (!add_link(c, nl->ifindex, nl->name)) {
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

static void read_links(struct run_ctx *c)
{
	int err = sl_nl_read(c->nl_fd, on_link, c);

	if (err == -ENOBUFS)
		resync_links(c);
	else if (err)
		pr_warn("Error: rtnetlink: %s\n", strerror(-err));
}

/* Start following interfaces: the socket first, then the dump, so none is missed. */
static int watch_links(struct run_ctx *c)
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
	read_links(c);
	return 0;
}

static void free_names(struct run_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n_names; i++)
		free(c->names[i]);
	free(c->names);
	c->names = NULL;
	c->n_names = 0;
}

static void add_name(struct run_ctx *c, const char *path)
{
	char buf[PATH_MAX], *name, **names;
	size_t i;

	snprintf(buf, sizeof(buf), "%s", path);
	name = basename(buf);
	for (i = 0; i < c->n_names; i++)
		if (!strcmp(c->names[i], name))
			return;
	names = realloc(c->names, (c->n_names + 1) * sizeof(*names));
	if (!names)
		return;
	c->names = names;
	c->names[c->n_names] = strdup(name);
	if (c->names[c->n_names])
		c->n_names++;
}

#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB |            \
	 IN_MOVED_FROM)

static int watch_dir_of(int ino, const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	return inotify_add_watch(ino, dirname(buf), WATCH_MASK) < 0 ? -errno : 0;
}

/* A file: its directory, and where it links to (a symlinked config may live elsewhere). */
static int watch_file(struct run_ctx *c, int ino, const char *path)
{
	char real[PATH_MAX];
	int err;

	err = watch_dir_of(ino, path);
	add_name(c, path);
	if (!err && realpath(path, real)) {
		err = watch_dir_of(ino, real);
		add_name(c, real);
	}
	return err;
}

/*
 * (Re)build the watches: every --config file, every directory, and every
 * file now in those directories (and where it links to, say into a
 * ConfigMap's "..data"). Called after each reload: files come and go, and a
 * swapped symlink may now point into another directory. inotify gives the
 * same watch back for a directory watched twice.
 */
static int watch_configs(struct run_ctx *c, int ino)
{
	char **files = NULL;
	struct sl_diag diag;
	size_t i, n_files = 0;
	struct stat st;
	int err = 0, e, wd;

	free_names(c);
	c->n_dir_wds = 0;
	for (i = 0; i < c->n_configs; i++) {
		e = 0;
		if (!stat(c->configs[i], &st) && S_ISDIR(st.st_mode)) {
			wd = inotify_add_watch(ino, c->configs[i], WATCH_MASK);
			if (wd < 0)
				e = -errno;
			else
				c->dir_wds[c->n_dir_wds++] = wd;
		} else {
			e = watch_file(c, ino, c->configs[i]);
		}
		if (e && !err)
			err = e;
	}
	sl_diag_init(&diag);
	sl_config_list_files(c->configs, c->n_configs, &files, &n_files, &diag);
	for (i = 0; i < n_files; i++)
		watch_file(c, ino, files[i]);
	sl_config_free_files(files, n_files);
	sl_diag_free(&diag);
	return err;
}

/*
 * Is this directory event about the config? The name of a config file or of
 * the file it links to; in a directory given as --config, any *.yaml or
 * *.yml; a ConfigMap's "..data" and "..<timestamp>" entries. Anything else
 * (logs, swap files, editors' temporary files) is not.
 */
static bool about_config(const struct run_ctx *c, const struct inotify_event *ev)
{
	size_t i;

	if (!ev->len)
		return false;
	if (!strncmp(ev->name, "..", 2))
		return true;
	for (i = 0; i < c->n_dir_wds; i++)
		if (ev->wd == c->dir_wds[i] && sl_config_yaml_name(ev->name))
			return true;
	for (i = 0; i < c->n_names; i++)
		if (!strcmp(ev->name, c->names[i]))
			return true;
	return false;
}

/* Track config files being written: modified and not closed yet. */
static void note_write(struct run_ctx *c, const struct inotify_event *ev, __u64 now,
		       __u64 *write_start)
{
	size_t i;

	for (i = 0; i < c->n_writing; i++)
		if (c->writing[i].wd == ev->wd && !strcmp(c->writing[i].name, ev->name))
			break;
	if ((ev->mask & IN_MODIFY) && i == c->n_writing && i < MAX_WRITING) {
		if (!c->n_writing)
			*write_start = now;
		c->writing[i].wd = ev->wd;
		snprintf(c->writing[i].name, sizeof(c->writing[i].name), "%s", ev->name);
		c->n_writing++;
	}
	if ((ev->mask & (IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM)) && i < c->n_writing)
		c->writing[i] = c->writing[--c->n_writing];
}

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/*
 * --kubernetes: nothing is applied until every kind has been listed (a
 * Service without its VirtualService yet would lose its routes); until then
 * the datapath keeps what is pinned, and /healthz says not ready.
 */
static void kube_first_load(struct run_ctx *c)
{
	struct sl_kube_stats st;

	if (!sl_kube_synced(c->kube))
		return;
	sl_kube_stats(c->kube, &st);
	pr_info("kubernetes: every kind listed (%lu lists)\n", st.lists);
	if (first_load(c) && !generation(&c->dp.maps))
		return; /* nothing in force: stay not ready, wait for a change */
	c->kube_loaded = true;
	sl_metrics_set_ready(c->metrics, true);
}

/*
 * A change is applied once the config has been quiet for DEBOUNCE_MS. A
 * write in progress (modified, not yet closed) is waited for, up to
 * WRITE_WAIT_MS, so a half-written file that happens to parse never goes
 * live; a writer that keeps the file open longer gets its content read then.
 */
static int event_loop(struct run_ctx *c)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	__u64 last_ev = 0, write_start = 0;
	bool pending = false;
	struct pollfd pfd[5];
	sigset_t set;
	int sfd, ino, err = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (sfd < 0 || ino < 0) {
		err = -errno;
		goto out;
	}
	err = watch_configs(c, ino);
	if (err) {
		pr_warn("Error: cannot watch %s: %s\n", c->what, strerror(-err));
		goto out;
	}
	pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = ino, .events = POLLIN};
	/* no pattern: -1, which poll() skips */
	pfd[2] = (struct pollfd){.fd = c->nl_fd, .events = POLLIN};
	pfd[3] = (struct pollfd){.fd = c->kube ? sl_kube_fd(c->kube) : -1, .events = POLLIN};
	pfd[4] = (struct pollfd){.fd = sl_l7_event_fd(c->l7), .events = POLLIN};

	for (;;) {
		int n = poll(pfd, 5, pending ? DEBOUNCE_MS / 4 : -1);
		__u64 now = now_ms();
		ssize_t len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (pending && now - last_ev >= DEBOUNCE_MS &&
		    (!c->n_writing || now - write_start >= WRITE_WAIT_MS)) {
			pending = false;
			c->n_writing = 0;
			if (c->kube && !c->kube_loaded)
				kube_first_load(c);
			else
				reload(c, false);
			watch_configs(c, ino);
		}
		if ((pfd[4].revents & POLLIN) && sl_l7_handed_over(c->l7)) {
			pr_info("a successor took over (hot restart): exiting\n");
			c->handed_over = true;
			json_event("handed-over", c, NULL, NULL);
			break;
		}
		if (pfd[3].revents & POLLIN) {
			/* Many objects change at once (a rollout): debounced like files. */
			sl_kube_ack(c->kube);
			if (c->kube_loaded || sl_kube_synced(c->kube)) {
				pending = true;
				last_ev = now;
			}
		}
		if (pfd[2].revents & POLLIN)
			read_links(c);
		if (pfd[1].revents & POLLIN) {
			while ((len = read(ino, buf, sizeof(buf))) > 0) {
				const struct inotify_event *ev;
				char *p;

				for (p = buf; p < buf + len; p += sizeof(*ev) + ev->len) {
					ev = (const struct inotify_event *)p;
					if (!about_config(c, ev))
						continue;
					note_write(c, ev, now, &write_start);
					pending = true;
					last_ev = now;
				}
			}
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				pr_info("SIGHUP: reloading %s\n", c->what);
				if (c->kube && !c->kube_loaded)
					continue; /* not a whole picture yet */
				reload(c, true);
				watch_configs(c, ino);
				continue;
			}
			pr_info("%s: exiting\n", strsignal(si.ssi_signo));
			if (c->l7)
				sl_l7_drain(c->l7, SL_L7_DRAIN_MS);
			{
				json_object *x = cli.json ? json_object_new_object() : NULL;

				if (x)
					json_object_object_add(
					    x, "signal",
					    json_object_new_string(strsignal(si.ssi_signo)));
				json_event("exiting", c, NULL, x);
			}
			break;
		}
	}
out:
	if (sfd >= 0)
		close(sfd);
	if (ino >= 0)
		close(ino);
	return err;
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
	c->l7_opts.handoff_path = c->handoff;
	err = sl_l7_start(&c->dp.maps, &c->l7_opts, &c->l7);
	if (err)
		pr_warn("Error: cannot start the L7 step: %s\n", strerror(-err));
	return err;
}

static int usage(void)
{
	sl_error("usage: sluice run {--config FILE|DIR [--config FILE|DIR ...] | --kubernetes} "
		 "{--iface IF [--iface IF ...] | --iface-pattern GLOB[,GLOB...]} "
		 "[--detach-on-exit] [--metrics [ADDR:]PORT [--metrics-istio]] "
		 "[--no-l7 | [--l7-max-conns N] [--l7-head-max BYTES] [--handoff-socket PATH]]");
	return SL_EXIT_INVALID;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"iface", required_argument, NULL, 'i'},
	    {"detach-on-exit", no_argument, NULL, 'D'},
	    {"metrics", required_argument, NULL, 'm'},
	    {"metrics-istio", no_argument, NULL, 'I'},
	    {"iface-pattern", required_argument, NULL, 'P'},
	    {"kubernetes", no_argument, NULL, 'K'},
	    {"no-l7", no_argument, NULL, 'N'},
	    {"l7-max-conns", required_argument, NULL, 'L'},
	    {"l7-head-max", required_argument, NULL, 'H'},
	    {"handoff-socket", required_argument, NULL, 'S'},
	    {},
	};
	struct sl_metrics_addr maddr;
	const char *metrics = NULL, *why;
	bool metrics_istio = false;
	struct run_ctx c = {
	    .nl_fd = -1,
	    .l7_opts = {.max_conns = SL_L7_DEFAULT_MAX_CONNS,
			.head_max = SL_L7_DEFAULT_HEAD_MAX,
			.head_timeout_ms = SL_L7_DEFAULT_HEAD_TIMEOUT,
			.connect_timeout_ms = SL_L7_DEFAULT_CONN_TIMEOUT},
	};
	const char *handoff = NULL;
	unsigned long v;
	char *end;
	size_t plen;
	sigset_t set;
	int opt, i, err, ret = SL_EXIT_SYSTEM;
	bool valid;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:i:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (c.n_configs == MAX_CONFIGS) {
				sl_error("at most %d --config", MAX_CONFIGS);
				return SL_EXIT_INVALID;
			}
			c.configs[c.n_configs++] = optarg;
			break;
		case 'i':
			if (c.n_ifaces == MAX_IFACES) {
				sl_error("at most %d --iface", MAX_IFACES);
				return SL_EXIT_INVALID;
			}
			if (strlen(optarg) >= IF_NAMESIZE) {
				sl_error("--iface '%s': interface names are at most %d characters",
					 optarg, IF_NAMESIZE - 1);
				return SL_EXIT_INVALID;
			}
			c.ifaces[c.n_ifaces++] = optarg;
			break;
		case 'P':
			plen = strlen(c.patterns);
			if (!*optarg || plen + strlen(optarg) + 2 > sizeof(c.patterns)) {
				sl_error("--iface-pattern '%s': %s", optarg,
					 *optarg ? "too many patterns" : "empty");
				return SL_EXIT_INVALID;
			}
			snprintf(c.patterns + plen, sizeof(c.patterns) - plen, "%s%s",
				 plen ? "," : "", optarg);
			break;
		case 'D':
			c.detach_on_exit = true;
			break;
		case 'K':
			c.kubernetes = true;
			break;
		case 'm':
			metrics = optarg;
			break;
		case 'I':
			metrics_istio = true;
			break;
		case 'N':
			c.no_l7 = true;
			break;
		case 'L':
		case 'H':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || !v || (opt == 'L' && v > 1000000) ||
			    (opt == 'H' && (v < 1024 || v > SL_L7_HEAD_MAX_LIMIT))) {
				if (opt == 'L')
					sl_error("--l7-max-conns '%s': a number of connections, "
						 "1 to 1000000",
						 optarg);
				else
					sl_error(
					    "--l7-head-max '%s': a number of bytes, 1024 to %d",
					    optarg, SL_L7_HEAD_MAX_LIMIT);
				return SL_EXIT_INVALID;
			}
			if (opt == 'L')
				c.l7_opts.max_conns = v;
			else
				c.l7_opts.head_max = v;
			break;
		case 'S':
			if (!*optarg || *optarg != '/' || strlen(optarg) >= 100) {
				sl_error("--handoff-socket '%s': an absolute path of at most 99 "
					 "characters",
					 optarg);
				return SL_EXIT_INVALID;
			}
			handoff = optarg;
			break;
		default:
			return usage();
		}
	}
	if ((!c.n_configs && !c.kubernetes) || (!c.n_ifaces && !c.patterns[0]) || optind != argc)
		return usage();
	for (i = 0; i < c.n_ifaces; i++)
		if (!if_nametoindex(c.ifaces[i])) {
			sl_error("--iface '%s': no such interface", c.ifaces[i]);
			return SL_EXIT_INVALID;
		}
	if (metrics && sl_metrics_parse_addr(metrics, &maddr, &why)) {
		sl_error("--metrics '%s': %s (PORT, :PORT, IPV4:PORT or [IPV6]:PORT)", metrics,
			 why);
		return SL_EXIT_INVALID;
	}
	if (metrics_istio && !metrics) {
		sl_error("--metrics-istio needs --metrics");
		return SL_EXIT_INVALID;
	}
	c.what = sl_config_paths_str(c.configs, c.n_configs);
	if (c.what && c.kubernetes) {
		char *w = NULL;

		if (asprintf(&w, "%s%skubernetes", c.what, c.n_configs ? " + " : "") < 0)
			w = NULL;
		free(c.what);
		c.what = w;
	}
	if (!c.what)
		return SL_EXIT_SYSTEM;

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

	/* Before anything is loaded: a port in use changes nothing. */
	if (metrics) {
		err = sl_metrics_bind(&c.metrics, &maddr, metrics_istio);
		if (err) {
			sl_error("--metrics %s: cannot listen: %s", maddr.str, strerror(-err));
			free(c.what);
			return SL_EXIT_SYSTEM;
		}
	}
	err = sl_dp_load(&c.dp, cli.pin_dir);
	if (err) {
		sl_metrics_stop(c.metrics);
		free(c.what);
		return SL_EXIT_SYSTEM;
	}
	/* Its thread inherits the blocked signals: they stay the signalfd's. */
	if (c.metrics) {
		err = sl_metrics_start(c.metrics, cli.pin_dir);
		if (err) {
			sl_error("--metrics %s: cannot start the server: %s", maddr.str,
				 strerror(-err));
			goto out;
		}
	}
	for (i = 0; i < c.n_ifaces; i++) {
		if (sl_dp_attach(&c.dp, c.ifaces[i]))
			goto out;
		if (c.patterns[0] && !add_link(&c, (int)if_nametoindex(c.ifaces[i]), c.ifaces[i]))
			goto out;
	}
	if (c.patterns[0]) {
		if (watch_links(&c))
			goto out;
		pr_info("following interfaces matching %s: %zu attached\n", c.patterns, c.n_links);
	}
	if (!c.no_l7 && start_l7(&c, handoff))
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
		err = first_load(&c);
	}
	valid = !err;
	if (!valid && !generation(&c.dp.maps)) {
		ret = err == -EINVAL ? SL_EXIT_INVALID : SL_EXIT_SYSTEM;
		goto out;
	}
	pr_info("running: %d interface(s), generation %llu, pins in %s; watching %s\n",
		c.patterns[0] ? (int)c.n_links : c.n_ifaces,
		(unsigned long long)generation(&c.dp.maps), cli.pin_dir, c.what);
	{
		json_object *x = cli.json ? json_object_new_object() : NULL, *ifs;

		if (x) {
			ifs = json_object_new_array();
			for (i = 0; i < c.n_ifaces; i++)
				json_object_array_add(ifs, json_object_new_string(c.ifaces[i]));
			for (i = 0; c.patterns[0] && i < (int)c.n_links; i++)
				if (!c.links[i].skipped && !explicit_iface(&c, c.links[i].name))
					json_object_array_add(
					    ifs, json_object_new_string(c.links[i].name));
			json_object_object_add(x, "interfaces", ifs);
			if (c.patterns[0])
				json_object_object_add(x, "iface_pattern",
						       json_object_new_string(c.patterns));
			json_object_object_add(x, "pin_dir", json_object_new_string(cli.pin_dir));
			if (c.metrics)
				json_object_object_add(x, "metrics",
						       json_object_new_string(maddr.str));
		}
		json_event("running", &c, NULL, x);
	}
	if (!c.kube)
		sl_metrics_set_ready(c.metrics, true);

	err = event_loop(&c);
	ret = err ? SL_EXIT_SYSTEM : SL_EXIT_OK;
out:
	if (c.kube) {
		struct sl_kube_stats st;

		sl_kube_stats(c.kube, &st);
		pr_info(
		    "kubernetes: %lu lists, %lu watches, %lu gone (410), %lu events, %lu errors\n",
		    st.lists, st.watches, st.gone, st.events, st.errors);
	}
	sl_kube_stop(c.kube);
	sl_metrics_stop(c.metrics);
	sl_l7_stop(c.l7);
	if (c.patterns[0])
		pr_info("interfaces: %lu attached, %lu detached, %lu failed, %lu not Ethernet\n",
			c.nl_count.attached, c.nl_count.detached, c.nl_count.failed,
			c.nl_count.skipped);
	if (c.detach_on_exit && !c.handed_over) {
		for (i = 0; i < c.n_ifaces; i++)
			sl_dp_detach(c.ifaces[i]);
		for (i = 0; i < (int)c.n_links; i++)
			if (!c.links[i].skipped && !explicit_iface(&c, c.links[i].name))
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
	free_names(&c);
	free(c.what);
	return ret;
}
