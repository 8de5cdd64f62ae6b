// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `sluice run` following its configuration (run.h): loading and applying
 * it, watching the files, and the poll loop that also serves signals,
 * --kubernetes, --iface-pattern (run_links.c) and the L7 step's hand-over.
 * Calls config.h, tables.h, kube.h, l7.h (hand-over, drain), metrics.h
 * (reload results, readiness), run_links.c and run_event.c.
 *
 * Editors save by writing a temporary file and renaming it over the old
 * one, and Kubernetes ConfigMap volumes swap a "..data" symlink: both show
 * up as events on the directory, not on the file, so the directory of each
 * file is watched and the configuration re-read whenever something in it
 * changes that is about the configuration. A directory given as --config
 * is watched for its *.yaml and *.yml files being created, written, renamed
 * or deleted. A configuration whose content did not change (one digest over
 * every file, in order) is not applied again (that would drop a `sluice
 * weights` override for nothing); SIGHUP applies it regardless.
 */
#include <errno.h>
#include <malloc.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <bpf/bpf.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "datapath/tables.h"
#include "kube/kube.h"
#include "lib/log.h"
#include "rollout/spec.h"
#include "observe/rejected.h"

#define DEBOUNCE_MS   100
#define WRITE_WAIT_MS 2000

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
		return sl_config_load_sources(c->configs, c->n_configs, NULL, 0, SL_LOAD_ISOLATE,
					      cfg, diag, digest);
	text = sl_kube_render(c->kube, &b.len);
	if (!text)
		return -ENOMEM;
	b.data = text;
	err = sl_config_load_sources(c->configs, c->n_configs, &b, 1,
				     SL_LOAD_ALLOW_EMPTY | SL_LOAD_ISOLATE, cfg, diag, digest);
	free(text);
	return err;
}

/*
 * A new input that writes the tables applied last, which nobody has
 * replaced since (`sluice apply` records its own digest; `sluice weights`
 * keeps ours): a pod that no route uses turned ready, a file edited back.
 * Writing them again would cost a flip and undo a `sluice weights`
 * override, which is meant to last until the configuration changes.
 */
static bool same_tables(struct run_ctx *c, uint64_t model)
{
	struct sl_state s = {};
	__u32 zero = 0;

	return c->have_last && model == c->last_model &&
	       !bpf_map_lookup_elem(c->dp.maps.state, &zero, &s) && s.config_digest == c->last;
}

/* The `rollout:` blocks of the configuration in force, to the controller. */
static void config_rollouts(struct run_ctx *c, const struct sl_config *cfg)
{
	int lock;

	if (!c->ro)
		return;
	lock = sl_lock(c->dp.pin_dir);
	if (lock < 0)
		return;
	sl_ro_ctl_config(c->ro, cfg);
	sl_unlock(lock);
}

/*
 * Validate and apply the configuration. A bad one is logged with its
 * positions and changes nothing: the datapath keeps the last good
 * configuration.
 */
static int reload(struct run_ctx *c, bool force)
{
	struct sl_config *cfg = NULL;
	uint64_t digest = 0, model;
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
			(unsigned long long)run_generation(&c->dp.maps));
		run_json_event("rejected", c, &diag, NULL);
		sl_metrics_reloaded(c->metrics, false);
		c->have_bad = digest != 0;
		c->last_bad = digest;
		goto out;
	}
	if (err) {
		pr_warn("Error: cannot read %s: %s; keeping generation %llu\n", c->what,
			strerror(-err), (unsigned long long)run_generation(&c->dp.maps));
		run_json_event("rejected", c, &diag, NULL);
		sl_metrics_reloaded(c->metrics, false);
		goto out;
	}
	sl_diag_free(&diag);
	sl_diag_init(&diag);

	/* a rollout's weights go into the tables with the file, not a flip later */
	sl_ro_ctl_overlay(c->ro, cfg);
	model = sl_config_model_digest(cfg);
	lock = sl_lock(c->dp.pin_dir);
	if (!force && lock >= 0 && same_tables(c, model)) {
		err = sl_tables_set_digest(&c->dp.maps, digest);
		sl_unlock(lock);
		if (err)
			goto out;
		pr_info("%s changed, but not the tables: generation %llu stays\n", c->what,
			(unsigned long long)run_generation(&c->dp.maps));
		run_json_event("kept", c, NULL, NULL);
		goto applied;
	}
	err = lock < 0 ? lock : sl_tables_apply(&c->dp.maps, cfg, &diag);
	if (!err)
		sl_tables_set_digest(&c->dp.maps, digest);
	sl_unlock(lock);
	for (i = 0; i < diag.n_msgs; i++)
		pr_warn("%s\n", diag.msgs[i]);
	if (err) {
		pr_warn("Error: applying %s failed: %s; keeping generation %llu\n", c->what,
			strerror(-err), (unsigned long long)run_generation(&c->dp.maps));
		run_json_event("apply-failed", c, &diag, NULL);
		sl_metrics_reloaded(c->metrics, false);
		goto out;
	}
	pr_info("applied %s: generation %llu, %zu services\n", c->what,
		(unsigned long long)run_generation(&c->dp.maps), cfg->n_services);
	{
		json_object *x = cli.json ? json_object_new_object() : NULL;

		if (x)
			json_object_object_add(x, "services",
					       json_object_new_uint64(cfg->n_services));
		run_json_event("applied", c, &diag, x);
	}
applied:
	config_rollouts(c, cfg);
	if (cfg->n_rejected)
		pr_warn("%s: %zu object%s left out (see `sluice status`); the rest is applied\n",
			c->what, cfg->n_rejected, cfg->n_rejected == 1 ? "" : "s");
	sl_rejected_save(c->dp.pin_dir, cfg);
	sl_metrics_reloaded(c->metrics, true);
	c->have_last = true;
	c->last = digest;
	c->last_model = model;
	/* the same mistake made again later is worth reporting again */
	c->have_bad = false;
out:
	sl_diag_free(&diag);
	sl_config_free(cfg);
	/*
	 * Parsing a big config takes tens of MB of small blocks; give them
	 * back to the system, or `run` keeps the high-water mark for good.
	 */
	malloc_trim(0);
	return err;
}

/*
 * After a restart the tables may already hold this very configuration: then
 * applying it again would only undo a `sluice weights` override, which is
 * meant to last until the configuration changes.
 */
int run_first_load(struct run_ctx *c)
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
	sl_diag_free(&diag);
	if (!err && digest && digest == s.config_digest) {
		sl_rejected_save(c->dp.pin_dir, cfg);
		c->last_model = sl_config_model_digest(cfg);
		config_rollouts(c, cfg);
	}
	sl_config_free(cfg);
	if (err || !digest || digest != s.config_digest)
		return reload(c, true);
	pr_info("%s is what generation %llu was applied from: keeping it\n", c->what,
		(unsigned long long)s.generation);
	run_json_event("kept", c, NULL, NULL);
	sl_metrics_reloaded(c->metrics, true);
	c->have_last = true;
	c->last = digest;
	return 0;
}

void run_free_names(struct run_ctx *c)
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

	run_free_names(c);
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
	if (run_first_load(c) && !run_generation(&c->dp.maps))
		return; /* nothing in force: stay not ready, wait for a change */
	c->kube_loaded = true;
	sl_metrics_set_ready(c->metrics, true);
}

/* Once a second: the rollouts, judged and moved (rollout/controller.h). */
static void rollout_tick(struct run_ctx *c)
{
	int lock;

	if (!sl_ro_ctl_busy(c->ro))
		return;
	lock = sl_lock(c->dp.pin_dir);
	if (lock < 0)
		return;
	sl_ro_ctl_tick(c->ro);
	sl_unlock(lock);
}

/*
 * A change is applied once the config has been quiet for DEBOUNCE_MS. A
 * write in progress (modified, not yet closed) is waited for, up to
 * WRITE_WAIT_MS, so a half-written file that happens to parse never goes
 * live; a writer that keeps the file open longer gets its content read then.
 */
int run_event_loop(struct run_ctx *c)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	__u64 last_ev = 0, write_start = 0, next_tick = now_ms() + SL_RO_INTERVAL_MS;
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
		int timeout = pending ? DEBOUNCE_MS / 4 : -1, n;
		__u64 now = now_ms();
		ssize_t len;

		if (c->ro) {
			int to_tick = next_tick > now ? (int)(next_tick - now) : 0;

			timeout = timeout < 0 || to_tick < timeout ? to_tick : timeout;
		}
		n = poll(pfd, 5, timeout);
		now = now_ms();
		if (c->ro && now >= next_tick) {
			rollout_tick(c);
			/* a late tick is not made up for: the next one is a second on */
			next_tick = now + SL_RO_INTERVAL_MS;
		}

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
			run_json_event("handed-over", c, NULL, NULL);
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
			run_read_links(c);
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
				run_json_event("exiting", c, NULL, x);
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
