// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The HTTP server of `sluice run --metrics` and `--health`: libmicrohttpd,
 * one daemon with one internal thread per listener.
 *
 *   --metrics  GET /metrics        Prometheus text format 0.0.4
 *              GET /api/v1/stats   sl_status_json() + "time_ms", "reloads", "version", "rollouts"
 *              GET /               the dashboard page
 *              GET /healthz        as on --health
 *   --health   GET /healthz        200 "ok" once a configuration is in force, else 503
 *
 * Anything else is 404; methods other than GET (and HEAD, which
 * libmicrohttpd answers as GET without the body) are 405.
 *
 * Why a listener of its own for the health check: the liveness probe
 * decides whether the kubelet kills sluice. On the metrics port, which any
 * pod can reach, whoever fills the daemon's connection table (slowloris:
 * open, trickle a header line now and then, never end the request; or ask
 * and never read) makes the probe time out, and sluice is restarted again
 * and again. Limits cannot prevent that alone: an idle timeout never fires
 * on a client that trickles, and a per-address limit is reached by as many
 * addresses as the attacker has pods. --health is another daemon, with its
 * own thread and connection table; the DaemonSet binds it to 127.0.0.1,
 * which the kubelet reaches (hostNetwork: the pod's loopback is the node's;
 * the probe says host: 127.0.0.1, as kubeadm's static pods do) and no pod in
 * a network namespace of its own reaches at all. The metrics port keeps
 * limits that bound what one client address can hold there: 64 connections
 * in all, 8 per address, closed after 10 s idle.
 *
 * Why the cost of the metrics port is bounded: one thread serves every
 * request there, one at a time (so its map fds need no lock, and a flood
 * takes one core at the very most); /metrics and /api/v1/stats are each
 * rendered at most once per CACHE_US, whatever the number of clients (every
 * request in between is queued the same response: libmicrohttpd counts its
 * references); and the thread answers at most RATE_PER_S requests a second:
 * past a burst it sleeps until the next one is due instead of working, so a
 * flood waits in the socket queues and costs about RATE_PER_S cached
 * answers' worth of CPU a second. Enough for Prometheus every second and a
 * few dashboards, many times over.
 *
 * The daemon's thread shares only the reload counters and the ready flag
 * with these threads, as atomics.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <microhttpd.h>

#include "lib/version.h"
#include "datapath/counters.h"
#include "lib/log.h"
#include "observe/dashboard.h"
#include "observe/metrics.h"
#include "observe/rejected.h"
#include "observe/status_json.h"
#include "rollout/report.h"

#define CONTENT_PROM "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_JSON "application/json"
#define CONTENT_HTML "text/html; charset=utf-8"
#define CONTENT_TEXT "text/plain; charset=utf-8"

/* The metrics port: see above. The L7 step leaves 256 fds for all this. */
#define METRICS_CONN_LIMIT   64
#define METRICS_PER_IP_LIMIT 8
#define METRICS_IDLE_S	     10
#define CACHE_US	     250000
#define RATE_PER_S	     200
#define RATE_BURST	     50
/*
 * The health port: the kubelet opens a connection per probe and closes it
 * within its timeout (1 s by default); on loopback every client is one
 * address, so no per-address limit.
 */
#define HEALTH_CONN_LIMIT 16
#define HEALTH_IDLE_S	  3

enum { CACHE_METRICS, CACHE_STATS, CACHE_MAX };

struct listener {
	struct sl_metrics_addr addr;
	bool on;
	int lfd;
	struct MHD_Daemon *d;
};

struct sl_metrics {
	struct listener l[SL_METRICS_LISTENERS];
	bool istio;
	struct sl_maps maps;
	bool have_maps;
	char pin_dir[256]; /* for the sk_lookup link's pin in /api/v1/stats */
	/* the metrics thread's alone */
	struct cached {
		struct MHD_Response *resp; /* one reference is ours */
		unsigned int code;
		uint64_t at_us;
	} cache[CACHE_MAX];
	uint64_t tat_us; /* pace(): when the next request is on schedule */
	/* shared */
	atomic_uint_fast64_t reloads_ok;
	atomic_uint_fast64_t reloads_failed;
	atomic_uint_fast64_t last_ok_ms;
	atomic_bool ready;
};

static const char *const listener_name[SL_METRICS_LISTENERS] = {
    [SL_METRICS_PORT] = "metrics",
    [SL_HEALTH_PORT] = "health",
};

static uint64_t now_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static uint64_t realtime_ms(void)
{
	return now_us(CLOCK_REALTIME) / 1000;
}

static void reloads(struct sl_metrics *m, struct sl_metrics_reloads *r)
{
	r->success = atomic_load(&m->reloads_ok);
	r->failure = atomic_load(&m->reloads_failed);
	r->last_success_ms = atomic_load(&m->last_ok_ms);
}

/* A response (NULL if none could be made); body is taken over (freed) when must_free. */
static struct MHD_Response *response(const char *type, void *body, size_t len, bool must_free)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(
	    len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (must_free)
			free(body);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return resp;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, const char *type,
			     void *body, size_t len, bool must_free)
{
	struct MHD_Response *resp = response(type, body, len, must_free);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int code, const char *text)
{
	return reply(conn, code, CONTENT_TEXT, (void *)text, strlen(text), false);
}

/* A fresh answer: 200 and the body, or 500 and why (NULL: out of memory). */
typedef struct MHD_Response *render_fn(struct sl_metrics *m, unsigned int *code);

static struct MHD_Response *render_error(int err, unsigned int *code)
{
	static const char fallback[] = "error\n";
	char *msg = NULL;
	int len = asprintf(&msg, "cannot read the datapath's maps: %s\n", strerror(-err));

	*code = MHD_HTTP_INTERNAL_SERVER_ERROR;
	if (len < 0)
		return response(CONTENT_TEXT, (void *)fallback, sizeof(fallback) - 1, false);
	return response(CONTENT_TEXT, msg, len, true);
}

static struct MHD_Response *render_metrics(struct sl_metrics *m, unsigned int *code)
{
	struct sl_metrics_reloads r;
	struct sl_status st;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	err = sl_tables_read_status(&m->maps, &st);
	if (err)
		return render_error(err, code);
	reloads(m, &r);
	f = open_memstream(&buf, &len);
	if (!f) {
		sl_status_free(&st);
		return render_error(-errno, code);
	}
	err = sl_metrics_write(f, &st, &r, m->istio);
	sl_status_free(&st);
	if (!err) {
		json_object *rej = sl_rejected_load(m->pin_dir);

		sl_rejected_metrics(f, rej);
		json_object_put(rej);
		sl_ro_metrics(f, &m->maps);
	}
	if (fclose(f) && !err)
		err = -EIO;
	if (err) {
		free(buf);
		return render_error(err, code);
	}
	*code = MHD_HTTP_OK;
	return response(CONTENT_PROM, buf, len, true);
}

static struct MHD_Response *render_stats(struct sl_metrics *m, unsigned int *code)
{
	struct sl_metrics_reloads r;
	json_object *o, *rl;
	struct sl_l7_view l7;
	struct sl_status st;
	const char *s;
	char *body;
	size_t len;
	int err;

	err = sl_tables_read_status(&m->maps, &st);
	if (err)
		return render_error(err, code);
	reloads(m, &r);
	sl_l7_view_read(&l7, &m->maps, m->pin_dir, &st);
	o = sl_status_json(&st, &m->maps, &l7);
	sl_status_free(&st);
	/* Counting conntrack walks the whole map: not on every poll. */
	json_object_object_del(o, "conntrack_entries");
	json_object_object_add(o, "time_ms", json_object_new_uint64(realtime_ms()));
	rl = json_object_new_object();
	json_object_object_add(rl, "success", json_object_new_uint64(r.success));
	json_object_object_add(rl, "failure", json_object_new_uint64(r.failure));
	json_object_object_add(rl, "last_success_ms", json_object_new_uint64(r.last_success_ms));
	json_object_object_add(o, "reloads", rl);
	json_object_object_add(o, "version", json_object_new_string(SLUICE_VERSION));
	/* the dashboard's timeline over the split chart */
	json_object_object_add(o, "rollouts", sl_ro_all_json(&m->maps, 64));
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	body = s ? malloc(len + 1) : NULL;
	if (body) {
		memcpy(body, s, len);
		body[len++] = '\n';
	}
	json_object_put(o);
	if (!body)
		return render_error(-ENOMEM, code);
	*code = MHD_HTTP_OK;
	return response(CONTENT_JSON, body, len, true);
}

/* The answer rendered less than CACHE_US ago, or a fresh one (errors too). */
static enum MHD_Result serve_cached(struct sl_metrics *m, struct MHD_Connection *conn, int which)
{
	static render_fn *const render[CACHE_MAX] = {
	    [CACHE_METRICS] = render_metrics,
	    [CACHE_STATS] = render_stats,
	};
	struct cached *c = &m->cache[which];
	uint64_t now = now_us(CLOCK_MONOTONIC);

	if (!c->resp || now - c->at_us >= CACHE_US) {
		unsigned int code;
		struct MHD_Response *resp = render[which](m, &code);

		if (!resp)
			return MHD_NO;
		if (c->resp)
			MHD_destroy_response(c->resp);
		*c = (struct cached){.resp = resp, .code = code, .at_us = now};
	}
	return MHD_queue_response(conn, c->code, c->resp);
}

static enum MHD_Result serve_health(struct sl_metrics *m, struct MHD_Connection *conn)
{
	struct sl_state s = {};
	__u32 zero = 0;

	if (!atomic_load(&m->ready))
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
	if (bpf_map_lookup_elem(m->maps.state, &zero, &s))
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "datapath not loaded\n");
	if (!s.generation)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no configuration applied\n");
	return reply_text(conn, MHD_HTTP_OK, "ok\n");
}

/*
 * At most RATE_PER_S requests a second, RATE_BURST of them back to back;
 * past that the thread sleeps until the next one is due (a GCRA).
 */
static void pace(struct sl_metrics *m)
{
	const uint64_t step = 1000000 / RATE_PER_S, burst = RATE_BURST * step;
	uint64_t now = now_us(CLOCK_MONOTONIC);

	if (m->tat_us < now)
		m->tat_us = now;
	if (m->tat_us > now + burst)
		usleep(m->tat_us - now - burst);
	m->tat_us += step;
}

static bool is_get(const char *method)
{
	return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct sl_metrics *m = cls;
	size_t len;

	pace(m);
	if (!is_get(method))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (!strcmp(url, "/metrics"))
		return serve_cached(m, conn, CACHE_METRICS);
	if (!strcmp(url, "/api/v1/stats"))
		return serve_cached(m, conn, CACHE_STATS);
	if (!strcmp(url, "/healthz"))
		return serve_health(m, conn);
	if (!strcmp(url, "/")) {
		const char *page = sl_dashboard_html(&len);

		return reply(conn, MHD_HTTP_OK, CONTENT_HTML, (void *)page, len, false);
	}
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static enum MHD_Result handle_health(void *cls, struct MHD_Connection *conn, const char *url,
				     const char *method, const char *version,
				     const char *upload_data, size_t *upload_data_size,
				     void **con_cls)
{
	if (!is_get(method))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (!strcmp(url, "/healthz"))
		return serve_health(cls, conn);
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pr_debug("%s: %s%s", (const char *)cls, buf,
		 buf[0] && buf[strlen(buf) - 1] == '\n' ? "" : "\n");
}

int sl_metrics_new(struct sl_metrics **out, bool istio)
{
	struct sl_metrics *m = calloc(1, sizeof(*m));
	int i;

	if (!m)
		return -ENOMEM;
	m->istio = istio;
	for (i = 0; i < SL_METRICS_LISTENERS; i++)
		m->l[i].lfd = -1;
	*out = m;
	return 0;
}

int sl_metrics_listen(struct sl_metrics *m, enum sl_metrics_listener which,
		      const struct sl_metrics_addr *a)
{
	struct listener *l = &m->l[which];
	int one = 1, err;

	l->addr = *a;
	l->lfd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->lfd < 0)
		return -errno;
	/* A restart must not wait for the old connections' TIME_WAIT. */
	setsockopt(l->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * A hot restart runs the old and the new `run` at once, on one port;
	 * the kernel lets only sockets of the same user share it.
	 */
	setsockopt(l->lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(l->lfd, (struct sockaddr *)&a->ss, a->len) || listen(l->lfd, 64)) {
		err = -errno;
		close(l->lfd);
		l->lfd = -1;
		return err;
	}
	l->on = true;
	return 0;
}

int sl_metrics_start(struct sl_metrics *m, const char *pin_dir)
{
	static const struct {
		MHD_AccessHandlerCallback handler;
		unsigned int limit, per_ip, idle_s;
		const char *path;
	} kind[SL_METRICS_LISTENERS] = {
	    [SL_METRICS_PORT] = {handle, METRICS_CONN_LIMIT, METRICS_PER_IP_LIMIT, METRICS_IDLE_S,
				 "/metrics"},
	    [SL_HEALTH_PORT] = {handle_health, HEALTH_CONN_LIMIT, 0, HEALTH_IDLE_S, "/healthz"},
	};
	int i, err;

	err = sl_maps_open_pinned(&m->maps, pin_dir);
	if (err)
		return err;
	m->have_maps = true;
	snprintf(m->pin_dir, sizeof(m->pin_dir), "%s", pin_dir);
	for (i = 0; i < SL_METRICS_LISTENERS; i++) {
		struct listener *l = &m->l[i];
		unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;

		if (!l->on)
			continue;
		if (l->addr.ss.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		l->d = MHD_start_daemon(
		    flags, 0, NULL, NULL, kind[i].handler, m, MHD_OPTION_LISTEN_SOCKET, l->lfd,
		    MHD_OPTION_CONNECTION_LIMIT, kind[i].limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    kind[i].per_ip, MHD_OPTION_CONNECTION_TIMEOUT, kind[i].idle_s,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)listener_name[i], MHD_OPTION_END);
		if (!l->d)
			return -EIO;
		/* libmicrohttpd closes the listening socket when it stops */
		l->lfd = -1;
		pr_info("%s: serving http://%s%s%s\n", listener_name[i], l->addr.str, kind[i].path,
			i == SL_METRICS_PORT && m->istio ? " (with Istio's metrics)" : "");
	}
	return 0;
}

void sl_metrics_stop(struct sl_metrics *m)
{
	int i;

	if (!m)
		return;
	for (i = 0; i < SL_METRICS_LISTENERS; i++) {
		if (m->l[i].d)
			MHD_stop_daemon(m->l[i].d);
		if (m->l[i].lfd >= 0)
			close(m->l[i].lfd);
	}
	for (i = 0; i < CACHE_MAX; i++)
		if (m->cache[i].resp)
			MHD_destroy_response(m->cache[i].resp);
	if (m->have_maps)
		sl_maps_close(&m->maps);
	free(m);
}

void sl_metrics_reloaded(struct sl_metrics *m, bool success)
{
	if (!m)
		return;
	if (success) {
		atomic_store(&m->last_ok_ms, realtime_ms());
		atomic_fetch_add(&m->reloads_ok, 1);
	} else {
		atomic_fetch_add(&m->reloads_failed, 1);
	}
}

void sl_metrics_set_ready(struct sl_metrics *m, bool ready)
{
	if (m)
		atomic_store(&m->ready, ready);
}
