/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `sluice run --metrics` and `--health`: an HTTP server (libmicrohttpd, one
 * internal thread per listener) serving the counters in the maps as
 * Prometheus metrics, the status as JSON for the dashboard, the dashboard
 * itself and a health check; the health check also on a listener of its own
 * (metrics_server.c says why). It reads the maps through fds of its own;
 * the daemon's thread only tells it about reloads, through atomics.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct sl_metrics_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char str[64]; /* "127.0.0.1:9090", "[::1]:9090": for messages */
};

/*
 * Parse --metrics or --health: "PORT" and ":PORT" mean 127.0.0.1:PORT; "IPV4:PORT",
 * "[IPV6]:PORT" and "localhost:PORT" as written. -EINVAL with a reason in
 * why (for the error message) when it is none of these.
 */
int sl_metrics_parse_addr(const char *arg, struct sl_metrics_addr *a, const char **why);

struct sl_metrics;

enum sl_metrics_listener {
	SL_METRICS_PORT, /* --metrics: everything */
	SL_HEALTH_PORT,	 /* --health: /healthz only */
	SL_METRICS_LISTENERS,
};

/* A server without listeners yet. */
int sl_metrics_new(struct sl_metrics **m, bool istio);
/* Bind and listen (nothing is served yet): -EADDRINUSE and the like. */
int sl_metrics_listen(struct sl_metrics *m, enum sl_metrics_listener which,
		      const struct sl_metrics_addr *a);
/* Open the maps pinned in pin_dir and start serving on every listener. */
int sl_metrics_start(struct sl_metrics *m, const char *pin_dir);
void sl_metrics_stop(struct sl_metrics *m);

/* From the daemon's thread: a configuration was applied (or kept), or rejected. */
void sl_metrics_reloaded(struct sl_metrics *m, bool success);
/* /healthz answers "ok" once this is set and the datapath has a configuration. */
void sl_metrics_set_ready(struct sl_metrics *m, bool ready);

/*
 * The Prometheus text exposition (format 0.0.4) of st, for tests and the
 * server: reload counters and the last success time (0: none) come from the
 * caller.
 */
struct sl_status;
struct sl_metrics_reloads {
	uint64_t success;
	uint64_t failure;
	uint64_t last_success_ms; /* CLOCK_REALTIME */
};
int sl_metrics_write(FILE *f, const struct sl_status *st, const struct sl_metrics_reloads *r,
		     bool istio);

#endif /* SLUICE_METRICS_H */
