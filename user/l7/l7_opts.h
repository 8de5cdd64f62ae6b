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
	/* held at once per client address (then reset at accept); 0: the default */
	unsigned int max_per_client;
	unsigned int idle_timeout_ms; /* relayed, no byte either way: reset; 0: never */
	unsigned int head_max;	      /* bytes of request head read at most */
	unsigned int head_timeout_ms;
	unsigned int connect_timeout_ms;
	/* threads, each with its own listener in one SO_REUSEPORT group; 0: one per CPU */
	unsigned int threads;
};

#define SL_L7_THREADS_MAX 64

#define SL_L7_DEFAULT_MAX_CONNS 4096
/*
 * One client address may hold 256, and never more than an eighth of
 * --l7-max-conns unless told: one pod alone cannot reach the limit that
 * switches header routing off for everyone.
 */
#define SL_L7_DEFAULT_PER_CLIENT 256
#define SL_L7_PER_CLIENT_SHARE	 8
/*
 * 5 minutes: longer than what idle connections already live with elsewhere
 * (Go's client pool 90 s, nginx keep-alive 75 s, Azure's load balancer
 * 4 min), so a connection quiet for longer is almost always abandoned; and
 * short enough that a client that stops reading gives its buffers back
 * within minutes, not Envoy's hour.
 */
#define SL_L7_DEFAULT_IDLE_TIMEOUT 300000
#define SL_L7_DEFAULT_HEAD_MAX	   16384
#define SL_L7_HEAD_MAX_LIMIT	   65536
#define SL_L7_DEFAULT_HEAD_TIMEOUT 10000
#define SL_L7_DEFAULT_CONN_TIMEOUT 5000
#define SL_L7_DRAIN_MS		   10000 /* on SIGTERM; Kubernetes gives 30 s */

#endif /* SLUICE_L7_OPTS_H */
