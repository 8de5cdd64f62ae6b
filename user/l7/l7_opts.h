/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The L7 step's settings: what `sluice run` passes to sl_l7_start() (l7.h)
 * and what the step keeps in its state (l7_conn.h).
 */
#ifndef SLUICE_L7_OPTS_H
#define SLUICE_L7_OPTS_H

struct sl_l7_opts {
	/* unix socket for hot restart; NULL: no hand-over either way */
	const char *handoff_path;
	unsigned int max_conns; /* relayed at once; then new ones go DNAT */
	unsigned int head_max;	/* bytes of request head read at most */
	unsigned int head_timeout_ms;
	unsigned int connect_timeout_ms;
};

#define SL_L7_DEFAULT_MAX_CONNS	   4096
#define SL_L7_DEFAULT_HEAD_MAX	   16384
#define SL_L7_HEAD_MAX_LIMIT	   65536
#define SL_L7_DEFAULT_HEAD_TIMEOUT 10000
#define SL_L7_DEFAULT_CONN_TIMEOUT 5000
#define SL_L7_DRAIN_MS		   10000 /* on SIGTERM; Kubernetes gives 30 s */

#endif /* SLUICE_L7_OPTS_H */
