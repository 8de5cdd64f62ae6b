// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice: per-connection canary traffic splitting in the kernel.
 * bpftool-style command line: global options, then COMMAND [ARGS]; commands
 * may be abbreviated to any unique prefix.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "lib/version.h"


static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
    {"run", cmd_run, "run --config FILE --iface IF [--iface IF ...] [--detach-on-exit]"},
    {"apply", cmd_apply, "apply --config FILE"},
    {"check", cmd_check, "check --config FILE"},
    {"weights", cmd_weights, "weights SERVICE [SUBSET=WEIGHT ...]"},
    {"status", cmd_status, "status"},
    {"top", cmd_top, "top [--interval SEC] [--count N | --once]"},
    {"down", cmd_down, "down"},
    {"rollout", cmd_rollout,
     "rollout [SERVICE {--to SUBSET [OPTIONS] | status | pause | resume | abort | promote | "
     "wait}]"},
};

static int usage(FILE *f)
{
	size_t i;

	if (f != stdout && cli.json) {
		sl_error("invalid arguments; see `sluice help`");
		return SL_EXIT_INVALID;
	}
	fprintf(f, "Usage: sluice [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  sluice %s\n", cmds[i].help);
	fprintf(f,
		"\nOptions:\n"
		"  -j, --json        JSON output\n"
		"  -p, --pretty      pretty JSON output (implies -j)\n"
		"      --pin-dir DIR where maps and programs are pinned (default %s)\n"
		"  -d, --debug       debug logging, libbpf's included\n"
		"  -q, --quiet       warnings and errors only\n"
		"  -V, --version     print the version\n"
		"  -h, --help        this help\n"
		"\nExit status: 0 success, 1 invalid arguments or configuration (nothing was\n"
		"applied), 2 system error (BPF, kernel, files).\n",
		SL_PIN_DIR_DEFAULT);
	return f == stdout ? SL_EXIT_OK : SL_EXIT_INVALID;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},	       {"pretty", no_argument, NULL, 'p'},
	    {"pin-dir", required_argument, NULL, 'P'}, {"debug", no_argument, NULL, 'd'},
	    {"quiet", no_argument, NULL, 'q'},	       {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},	       {},
	};
	const struct cmd *match = NULL;
	size_t i, len;
	int opt;

	sl_log_hook_libbpf();
	/* -j anywhere among the global options: errors then go out as JSON */
	for (i = 1; i < (size_t)argc && argv[i][0] == '-'; i++)
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "-p") ||
		    !strcmp(argv[i], "--json") || !strcmp(argv[i], "--pretty"))
			opterr = 0;
	/* '+': stop at the command; its own options are parsed by the command. */
	while ((opt = getopt_long(argc, argv, "+jpdqVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			cli.json = true;
			break;
		case 'p':
			cli.json = cli.pretty = true;
			break;
		case 'P':
			cli.pin_dir = optarg;
			break;
		case 'd':
			sl_log_set_level(SL_LOG_DEBUG);
			break;
		case 'q':
			sl_log_set_level(SL_LOG_WARN);
			break;
		case 'V':
			printf("sluice %s\n", SLUICE_VERSION);
			return SL_EXIT_OK;
		case 'h':
			return usage(stdout);
		default:
			return usage(stderr);
		}
	}
	if (optind >= argc)
		return usage(stderr);
	if (!strcmp(argv[optind], "help"))
		return usage(stdout);

	len = strlen(argv[optind]);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strncmp(cmds[i].name, argv[optind], len))
			continue;
		if (match) {
			sl_error("'%s' is ambiguous: %s or %s?", argv[optind], match->name,
				 cmds[i].name);
			return SL_EXIT_INVALID;
		}
		match = &cmds[i];
	}
	if (!match) {
		sl_error("unknown command '%s'; try `sluice help`", argv[optind]);
		return SL_EXIT_INVALID;
	}
	/* Commands accept -j and --pin-dir after their name too, as bpftool does. */
	argc -= optind;
	argv += optind;
	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			cli.json = true;
		} else if (!strcmp(argv[i], "-p") || !strcmp(argv[i], "--pretty")) {
			cli.json = cli.pretty = true;
		} else if (!strcmp(argv[i], "--pin-dir") && i + 1 < (size_t)argc) {
			cli.pin_dir = argv[i + 1];
			memmove(&argv[i], &argv[i + 2], (argc - i - 2) * sizeof(*argv));
			argc -= 2;
			i--;
			continue;
		} else if (!strncmp(argv[i], "--pin-dir=", 10)) {
			cli.pin_dir = argv[i] + 10;
		} else {
			continue;
		}
		memmove(&argv[i], &argv[i + 1], (argc - i - 1) * sizeof(*argv));
		argc--;
		i--;
	}
	return match->fn(argc, argv);
}
