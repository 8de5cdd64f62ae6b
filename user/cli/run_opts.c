// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `sluice run`'s command line (run.h): every option checked, with the
 * argument at fault named, before anything is loaded. Calls config.h (the
 * inputs' name for messages) and metrics.h (the addresses) only.
 */
#include <errno.h>
#include <stdint.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "datapath/socklb.h"

static int usage(void)
{
	sl_error("usage: sluice run {--config FILE|DIR [--config FILE|DIR ...] | --kubernetes} "
		 "{--iface IF [--iface IF ...] | --iface-pattern GLOB[,GLOB...]} "
		 "[--detach-on-exit] [--metrics [ADDR:]PORT [--metrics-istio]] "
		 "[--health [ADDR:]PORT] "
		 "[--no-l7 | [--l7-max-conns N] [--l7-max-per-client N] "
		 "[--l7-idle-timeout SECONDS] [--l7-head-max BYTES] [--l7-threads N] "
		 "[--handoff-socket PATH] "
		 "[--l7-mark MARK[/MASK]] [--l7-table N]] "
		 "[--ct-max N] [--ct-closed-timeout SECONDS] [--ct-idle-timeout SECONDS] "
		 "[--no-src-check] [--no-fast-path] [--max-services N] [--socket-lb CGROUP]");
	return SL_EXIT_INVALID;
}

/* Long options without a letter (the letters are taken). */
#define OPT_MAX_SERVICES 0x101
#define OPT_SOCKET_LB	 0x102
#define SL_STR_(x)	 #x
#define SL_STR(x)	 SL_STR_(x)

/* A decimal (or 0x) number in [min, max], or an error naming the option. */
static int parse_u32(const char *arg, const char *opt, const char *what, unsigned long min,
		     unsigned long max, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno || *end || !*arg || *arg == '-' || v < min || v > max) {
		sl_error("%s '%s': %s", opt, arg, what);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* MARK[/MASK]: the mask says which bits are ours (default: the mark's byte). */
static int parse_mark(const char *arg, uint32_t *mark, uint32_t *mask)
{
	char buf[64], *slash;
	uint32_t m, k = 0;

	snprintf(buf, sizeof(buf), "%s", arg);
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (parse_u32(buf, "--l7-mark", "MARK[/MASK], e.g. 0x5c0000/0xff0000", 1, UINT32_MAX,
		      &m) ||
	    (slash && parse_u32(slash + 1, "--l7-mark", "MARK[/MASK], e.g. 0x5c0000/0xff0000", 1,
				UINT32_MAX, &k)))
		return -EINVAL;
	if (!slash)
		k = m;
	if (m & ~k) {
		sl_error("--l7-mark '%s': the mark has bits outside its mask", arg);
		return -EINVAL;
	}
	*mark = m;
	*mask = k;
	return 0;
}

/* --metrics and --health: an address, or an error that names it. */
static bool bad_addr(const char *opt, const char *arg, struct sl_metrics_addr *a)
{
	const char *why;

	if (!arg || !sl_metrics_parse_addr(arg, a, &why))
		return false;
	sl_error("%s '%s': %s (PORT, :PORT, IPV4:PORT or [IPV6]:PORT)", opt, arg, why);
	return true;
}

static unsigned short port_of(const struct sl_metrics_addr *a)
{
	return a->ss.ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)&a->ss)->sin6_port
					   : ((const struct sockaddr_in *)&a->ss)->sin_port;
}

int run_parse_opts(int argc, char **argv, struct run_ctx *c, struct run_args *a)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"iface", required_argument, NULL, 'i'},
	    {"detach-on-exit", no_argument, NULL, 'D'},
	    {"metrics", required_argument, NULL, 'm'},
	    {"metrics-istio", no_argument, NULL, 'I'},
	    {"health", required_argument, NULL, 'h'},
	    {"iface-pattern", required_argument, NULL, 'P'},
	    {"kubernetes", no_argument, NULL, 'K'},
	    {"no-l7", no_argument, NULL, 'N'},
	    {"l7-max-conns", required_argument, NULL, 'L'},
	    {"l7-head-max", required_argument, NULL, 'H'},
	    {"handoff-socket", required_argument, NULL, 'S'},
	    {"l7-max-per-client", required_argument, NULL, 'M'},
	    {"l7-idle-timeout", required_argument, NULL, 'W'},
	    {"l7-threads", required_argument, NULL, 'j'},
	    {"l7-mark", required_argument, NULL, 'k'},
	    {"l7-table", required_argument, NULL, 't'},
	    {"ct-max", required_argument, NULL, 'x'},
	    {"ct-closed-timeout", required_argument, NULL, 'C'},
	    {"ct-idle-timeout", required_argument, NULL, 'T'},
	    {"no-src-check", no_argument, NULL, 'R'},
	    {"max-services", required_argument, NULL, OPT_MAX_SERVICES},
	    {"no-fast-path", no_argument, NULL, 'F'},
	    {"socket-lb", required_argument, NULL, OPT_SOCKET_LB},
	    {},
	};
	unsigned long v;
	char *end;
	size_t plen;
	int opt, i;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:i:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (c->n_configs == MAX_CONFIGS) {
				sl_error("at most %d --config", MAX_CONFIGS);
				return SL_EXIT_INVALID;
			}
			c->configs[c->n_configs++] = optarg;
			break;
		case 'i':
			if (c->n_ifaces == MAX_IFACES) {
				sl_error("at most %d --iface", MAX_IFACES);
				return SL_EXIT_INVALID;
			}
			if (strlen(optarg) >= IF_NAMESIZE) {
				sl_error("--iface '%s': interface names are at most %d characters",
					 optarg, IF_NAMESIZE - 1);
				return SL_EXIT_INVALID;
			}
			c->ifaces[c->n_ifaces++] = optarg;
			break;
		case 'P':
			plen = strlen(c->patterns);
			if (!*optarg || plen + strlen(optarg) + 2 > sizeof(c->patterns)) {
				sl_error("--iface-pattern '%s': %s", optarg,
					 *optarg ? "too many patterns" : "empty");
				return SL_EXIT_INVALID;
			}
			snprintf(c->patterns + plen, sizeof(c->patterns) - plen, "%s%s",
				 plen ? "," : "", optarg);
			break;
		case 'D':
			c->detach_on_exit = true;
			break;
		case 'K':
			c->kubernetes = true;
			break;
		case 'm':
			a->metrics = optarg;
			break;
		case 'I':
			a->metrics_istio = true;
			break;
		case 'h':
			a->health = optarg;
			break;
		case 'N':
			c->no_l7 = true;
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
				c->l7_opts.max_conns = v;
			else
				c->l7_opts.head_max = v;
			break;
		case 'S':
			if (!*optarg || *optarg != '/' || strlen(optarg) >= 100) {
				sl_error("--handoff-socket '%s': an absolute path of at most 99 "
					 "characters",
					 optarg);
				return SL_EXIT_INVALID;
			}
			a->handoff = optarg;
			break;
		case 'M':
			if (parse_u32(optarg, "--l7-max-per-client",
				      "a number of connections, 1 to 1000000", 1, 1000000,
				      &c->l7_opts.max_per_client))
				return SL_EXIT_INVALID;
			break;
		case 'j':
			if (parse_u32(optarg, "--l7-threads", "a number of threads, 1 to 64", 1,
				      SL_L7_THREADS_MAX, &c->l7_opts.threads))
				return SL_EXIT_INVALID;
			break;
		case 'W':
			/* 0: never */
			if (parse_u32(optarg, "--l7-idle-timeout", "seconds, 0 to 86400", 0, 86400,
				      &c->l7_opts.idle_timeout_ms))
				return SL_EXIT_INVALID;
			c->l7_opts.idle_timeout_ms *= 1000;
			break;
		case 'k':
			if (parse_mark(optarg, &c->dp_opts.cfg.l7_mark,
				       &c->dp_opts.cfg.l7_mark_mask))
				return SL_EXIT_INVALID;
			break;
		case 't':
			/* 0 and 253-255 are the kernel's unspec, default, main and local */
			if (parse_u32(optarg, "--l7-table", "a routing table id, 1 to 252 or above 255",
				      1, UINT32_MAX, &c->dp_opts.l7_table))
				return SL_EXIT_INVALID;
			if (c->dp_opts.l7_table >= 253 && c->dp_opts.l7_table <= 255) {
				sl_error("--l7-table '%s': tables 253-255 are the kernel's "
					 "(default, main, local)",
					 optarg);
				return SL_EXIT_INVALID;
			}
			break;
		case 'x':
			if (parse_u32(optarg, "--ct-max", "a number of connections, 16 to 16777216",
				      16, 1U << 24, &c->dp_opts.ct_max))
				return SL_EXIT_INVALID;
			break;
		case OPT_MAX_SERVICES:
			if (parse_u32(optarg, "--max-services",
				      "a number of (VIP, port) pairs, " SL_STR(SL_MIN_SERVICES) " to " SL_STR(SL_MAX_SERVICES),
				      SL_MIN_SERVICES, SL_MAX_SERVICES, &c->dp_opts.max_services))
				return SL_EXIT_INVALID;
			break;
		case 'C':
			if (parse_u32(optarg, "--ct-closed-timeout", "seconds, 1 to 86400", 1, 86400,
				      &c->gc_opts.closed_timeout))
				return SL_EXIT_INVALID;
			break;
		case 'T':
			if (parse_u32(optarg, "--ct-idle-timeout", "seconds, 10 to 2592000", 10,
				      2592000, &c->gc_opts.idle_timeout))
				return SL_EXIT_INVALID;
			break;
		case 'R':
			c->dp_opts.cfg.flags &= ~SL_DP_SRC_CHECK;
			break;
		case 'F':
			c->dp_opts.cfg.flags &= ~SL_DP_FAST_PATH;
			break;
		case OPT_SOCKET_LB: {
			/* checked here, before anything is attached anywhere */
			int fd = sl_socklb_open_dir(optarg, NULL);

			if (fd < 0)
				return SL_EXIT_INVALID;
			close(fd);
			c->dp_opts.sock_lb_cgroup = optarg;
			break;
		}
		default:
			return usage();
		}
	}
	if ((!c->n_configs && !c->kubernetes) || (!c->n_ifaces && !c->patterns[0]) ||
	    optind != argc)
		return usage();
	for (i = 0; i < c->n_ifaces; i++)
		if (!if_nametoindex(c->ifaces[i])) {
			sl_error("--iface '%s': no such interface", c->ifaces[i]);
			return SL_EXIT_INVALID;
		}
	if (bad_addr("--metrics", a->metrics, &a->maddr) ||
	    bad_addr("--health", a->health, &a->haddr))
		return SL_EXIT_INVALID;
	/* Both on one port would share it (SO_REUSEPORT): the kernel would split the probes. */
	if (a->metrics && a->health && port_of(&a->maddr) == port_of(&a->haddr)) {
		sl_error("--health '%s': not the port of --metrics '%s'", a->health, a->metrics);
		return SL_EXIT_INVALID;
	}
	if (a->metrics_istio && !a->metrics) {
		sl_error("--metrics-istio needs --metrics");
		return SL_EXIT_INVALID;
	}
	c->what = sl_config_paths_str(c->configs, c->n_configs);
	if (c->what && c->kubernetes) {
		char *w = NULL;

		if (asprintf(&w, "%s%skubernetes", c->what, c->n_configs ? " + " : "") < 0)
			w = NULL;
		free(c->what);
		c->what = w;
	}
	if (!c->what)
		return SL_EXIT_SYSTEM;
	return SL_EXIT_OK;
}
