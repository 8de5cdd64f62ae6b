// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice run: load, attach, apply, then follow the config file. Editors
 * save by writing a temporary file and renaming it over the old one, and
 * Kubernetes ConfigMap volumes swap a "..data" symlink: both show up as
 * events on the directory, not on the file, so the directory is watched and
 * the file re-read whenever anything in it changes. A file whose content
 * did not change is not applied again (that would drop a `sluice weights`
 * override for nothing); SIGHUP applies it regardless.
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
#include <time.h>

#include <bpf/bpf.h>

#include "cli.h"
#include "datapath.h"
#include "log.h"
#include "tables.h"

#define MAX_IFACES    64
#define DEBOUNCE_MS   100
#define WRITE_WAIT_MS 2000

struct run_ctx {
	const char *config;
	const char *ifaces[MAX_IFACES];
	int n_ifaces;
	bool detach_on_exit;
	struct sl_datapath dp;
	char *last; /* content of the last file applied */
	size_t last_len;
	char *last_bad; /* content of the last file rejected, reported once */
	size_t last_bad_len;
};

static bool same(const char *a, size_t a_len, const char *b, size_t b_len)
{
	return a && a_len == b_len && !memcmp(a, b, a_len);
}

static __u64 generation(const struct sl_maps *m)
{
	struct sl_state s = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(m->state, &zero, &s);
	return s.generation;
}

/*
 * Validate and apply the file. A bad file is logged with its positions and
 * changes nothing: the datapath keeps the last good configuration.
 */
static int reload(struct run_ctx *c, bool force)
{
	struct sl_config *cfg = NULL;
	struct sl_diag diag;
	size_t len = 0, i;
	char *content;
	int err, lock;

	err = sl_read_file(c->config, &content, &len);
	if (err) {
		pr_warn("Error: cannot read %s: %s; keeping generation %llu\n", c->config,
			strerror(-err), (unsigned long long)generation(&c->dp.maps));
		return err;
	}
	/*
	 * The directory also changes for other files (swap files, logs): a
	 * content that was applied, or rejected, already needs nothing more.
	 */
	if (!force && (same(content, len, c->last, c->last_len) ||
		       same(content, len, c->last_bad, c->last_bad_len))) {
		free(content);
		return 0;
	}

	sl_diag_init(&diag);
	err = sl_config_load_buf(c->config, content, len, &cfg, &diag);
	for (i = 0; i < diag.n_msgs; i++)
		pr_warn("%s\n", diag.msgs[i]);
	if (err) {
		pr_warn("Error: %s is invalid; keeping generation %llu\n", c->config,
			(unsigned long long)generation(&c->dp.maps));
		free(c->last_bad);
		c->last_bad = content;
		c->last_bad_len = len;
		content = NULL;
		goto out;
	}
	sl_diag_free(&diag);
	sl_diag_init(&diag);

	lock = sl_lock(c->dp.pin_dir);
	err = lock < 0 ? lock : sl_tables_apply(&c->dp.maps, cfg, &diag);
	if (!err)
		sl_tables_set_digest(&c->dp.maps, sl_config_digest(content, len));
	sl_unlock(lock);
	for (i = 0; i < diag.n_msgs; i++)
		pr_warn("%s\n", diag.msgs[i]);
	if (err) {
		pr_warn("Error: applying %s failed: %s; keeping generation %llu\n", c->config,
			strerror(-err), (unsigned long long)generation(&c->dp.maps));
		goto out;
	}
	pr_info("applied %s: generation %llu, %zu services\n", c->config,
		(unsigned long long)generation(&c->dp.maps), cfg->n_services);
	free(c->last);
	c->last = content;
	c->last_len = len;
	content = NULL;
	/* the same mistake made again later is worth reporting again */
	free(c->last_bad);
	c->last_bad = NULL;
	c->last_bad_len = 0;
out:
	free(content);
	sl_diag_free(&diag);
	sl_config_free(cfg);
	return err;
}

/*
 * After a restart the tables may already hold this very file: then applying
 * it again would only undo a `sluice weights` override, which is meant to
 * last until the file changes.
 */
static int first_load(struct run_ctx *c)
{
	struct sl_state s = {};
	__u32 zero = 0;
	char *content;
	size_t len;

	if (bpf_map_lookup_elem(c->dp.maps.state, &zero, &s) || !s.generation ||
	    sl_read_file(c->config, &content, &len))
		return reload(c, true);
	if (sl_config_digest(content, len) != s.config_digest) {
		free(content);
		return reload(c, true);
	}
	pr_info("%s is what generation %llu was applied from: keeping it\n", c->config,
		(unsigned long long)s.generation);
	c->last = content;
	c->last_len = len;
	return 0;
}

static int watch_dirs(int ino, const char *path)
{
	char a[PATH_MAX], b[PATH_MAX], real[PATH_MAX];
	const __u32 mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MODIFY |
			   IN_ATTRIB | IN_MOVED_FROM;

	snprintf(a, sizeof(a), "%s", path);
	if (inotify_add_watch(ino, dirname(a), mask) < 0)
		return -errno;
	/* A symlinked config may live elsewhere: watch where it points too. */
	if (realpath(path, real)) {
		snprintf(b, sizeof(b), "%s", real);
		if (inotify_add_watch(ino, dirname(b), mask) < 0)
			return -errno;
	}
	return 0;
}

/*
 * Is this directory event about the config? Its own name, the name of the
 * file it links to, or a ConfigMap's "..data" and "..<timestamp>" entries.
 * Anything else in the directory (logs, swap files) is not.
 */
static bool about_config(const struct run_ctx *c, const struct inotify_event *ev)
{
	char a[PATH_MAX], real[PATH_MAX];

	if (!ev->len)
		return false;
	if (!strncmp(ev->name, "..", 2))
		return true;
	snprintf(a, sizeof(a), "%s", c->config);
	if (!strcmp(ev->name, basename(a)))
		return true;
	return realpath(c->config, real) && !strcmp(ev->name, basename(real));
}

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
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
	bool pending = false, writing = false;
	struct pollfd pfd[2];
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
	err = watch_dirs(ino, c->config);
	if (err) {
		pr_warn("Error: cannot watch %s: %s\n", c->config, strerror(-err));
		goto out;
	}
	pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = ino, .events = POLLIN};

	for (;;) {
		int n = poll(pfd, 2, pending ? DEBOUNCE_MS / 4 : -1);
		__u64 now = now_ms();
		ssize_t len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (pending && now - last_ev >= DEBOUNCE_MS &&
		    (!writing || now - write_start >= WRITE_WAIT_MS)) {
			pending = writing = false;
			reload(c, false);
			/* A swapped symlink may now point into another directory. */
			watch_dirs(ino, c->config);
		}
		if (pfd[1].revents & POLLIN) {
			while ((len = read(ino, buf, sizeof(buf))) > 0) {
				const struct inotify_event *ev;
				char *p;

				for (p = buf; p < buf + len; p += sizeof(*ev) + ev->len) {
					ev = (const struct inotify_event *)p;
					if (!about_config(c, ev))
						continue;
					if ((ev->mask & IN_MODIFY) && !writing) {
						writing = true;
						write_start = now;
					}
					if (ev->mask & IN_CLOSE_WRITE)
						writing = false;
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
				pr_info("SIGHUP: reloading %s\n", c->config);
				reload(c, true);
				continue;
			}
			pr_info("%s: exiting\n", strsignal(si.ssi_signo));
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

static int usage(void)
{
	sl_error("usage: sluice run --config FILE --iface IF [--iface IF ...] [--detach-on-exit]");
	return SL_EXIT_INVALID;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"iface", required_argument, NULL, 'i'},
	    {"detach-on-exit", no_argument, NULL, 'D'},
	    {},
	};
	struct run_ctx c = {};
	sigset_t set;
	int opt, i, err, ret = SL_EXIT_SYSTEM;
	bool valid;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:i:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			c.config = optarg;
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
		case 'D':
			c.detach_on_exit = true;
			break;
		default:
			return usage();
		}
	}
	if (!c.config || !c.n_ifaces || optind != argc)
		return usage();
	for (i = 0; i < c.n_ifaces; i++)
		if (!if_nametoindex(c.ifaces[i])) {
			sl_error("--iface '%s': no such interface", c.ifaces[i]);
			return SL_EXIT_INVALID;
		}

	/* Signals are read from a signalfd; block them before anything else. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	err = sl_dp_load(&c.dp, cli.pin_dir);
	if (err)
		return SL_EXIT_SYSTEM;
	for (i = 0; i < c.n_ifaces; i++)
		if (sl_dp_attach(&c.dp, c.ifaces[i]))
			goto out;

	/*
	 * A bad file at start is fatal only when there is nothing to keep: after
	 * a restart the pinned tables still hold the last good configuration.
	 */
	err = first_load(&c);
	valid = !err;
	if (!valid && !generation(&c.dp.maps)) {
		ret = err == -EINVAL ? SL_EXIT_INVALID : SL_EXIT_SYSTEM;
		goto out;
	}
	pr_info("running: %d interface(s), generation %llu, pins in %s; watching %s\n", c.n_ifaces,
		(unsigned long long)generation(&c.dp.maps), cli.pin_dir, c.config);

	err = event_loop(&c);
	ret = err ? SL_EXIT_SYSTEM : SL_EXIT_OK;
out:
	if (c.detach_on_exit) {
		for (i = 0; i < c.n_ifaces; i++)
			sl_dp_detach(c.ifaces[i]);
		sl_dp_down(cli.pin_dir);
		pr_info("detached and unpinned\n");
	} else if (ret == SL_EXIT_OK) {
		pr_info("datapath left in place (pins in %s); `sluice down` removes it\n",
			cli.pin_dir);
	}
	sl_dp_close(&c.dp);
	free(c.last);
	free(c.last_bad);
	return ret;
}
