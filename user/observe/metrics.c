// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The metrics server of `sluice run --metrics`. libmicrohttpd with one
 * internal polling thread: requests are served one at a time, so the
 * thread's own map fds (opened from the pins) need no lock, and a scrape
 * costs one walk of the (small) configuration tables and counters, never
 * of conntrack. The daemon's thread shares only the reload counters, as
 * atomics.
 *
 *   GET /metrics        Prometheus text format 0.0.4
 *   GET /api/v1/stats   sl_status_json() + "time_ms", "reloads", "version"
 *   GET /               the dashboard page
 *   GET /healthz        200 "ok" once a configuration is in force, else 503
 *
 * Anything else is 404; methods other than GET (and HEAD, which libmicrohttpd
 * answers as GET without the body) are 405.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <microhttpd.h>

#include "observe/dashboard.h"
#include "lib/log.h"
#include "cli/version.h"
#include "observe/metrics.h"
#include "observe/rejected.h"
#include "observe/status_json.h"
#include "datapath/counters.h"

#define CONTENT_PROM "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_JSON "application/json"
#define CONTENT_HTML "text/html; charset=utf-8"
#define CONTENT_TEXT "text/plain; charset=utf-8"

struct sl_metrics {
	struct sl_metrics_addr addr;
	bool istio;
	int lfd;
	struct MHD_Daemon *d;
	struct sl_maps maps;
	bool have_maps;
	char pin_dir[256]; /* for the sk_lookup link's pin in /api/v1/stats */
	atomic_uint_fast64_t reloads_ok;
	atomic_uint_fast64_t reloads_failed;
	atomic_uint_fast64_t last_ok_ms;
	atomic_bool ready;
};

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ address */

static int parse_port(const char *s, struct sl_metrics_addr *a, const char **why)
{
	char *end;
	unsigned long p;

	if (!*s || *s < '0' || *s > '9') {
		*why = "expected a port number";
		return -EINVAL;
	}
	errno = 0;
	p = strtoul(s, &end, 10);
	if (errno || *end || !p || p > 65535) {
		*why = "the port must be a number from 1 to 65535";
		return -EINVAL;
	}
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(p);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons(p);
	return 0;
}

int sl_metrics_parse_addr(const char *arg, struct sl_metrics_addr *a, const char **why)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port;
	size_t hlen;
	int err;

	memset(a, 0, sizeof(*a));
	*why = "";
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (!close || close[1] != ':') {
			*why = "an IPv6 address is written [ADDR]:PORT";
			return -EINVAL;
		}
		hlen = close - arg - 1;
		port = close + 2;
		if (hlen >= sizeof(host)) {
			*why = "not an IPv6 address";
			return -EINVAL;
		}
		memcpy(host, arg + 1, hlen);
		host[hlen] = 0;
		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
			*why = "not an IPv6 address";
			return -EINVAL;
		}
		a->len = sizeof(*in6);
		err = parse_port(port, a, why);
		if (!err)
			snprintf(a->str, sizeof(a->str), "[%s]:%s", host, port);
		return err;
	}
	colon = strrchr(arg, ':');
	if (colon && strchr(arg, ':') != colon) {
		*why = "an IPv6 address is written [ADDR]:PORT";
		return -EINVAL;
	}
	in4->sin_family = AF_INET;
	a->len = sizeof(*in4);
	if (!colon || colon == arg) {
		/* "9090" or ":9090": loopback unless told otherwise */
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		port = colon ? colon + 1 : arg;
		snprintf(host, sizeof(host), "127.0.0.1");
	} else {
		hlen = colon - arg;
		port = colon + 1;
		if (hlen >= sizeof(host)) {
			*why = "not an IPv4 address";
			return -EINVAL;
		}
		memcpy(host, arg, hlen);
		host[hlen] = 0;
		if (!strcmp(host, "localhost"))
			snprintf(host, sizeof(host), "127.0.0.1");
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) {
			*why = "not an IPv4 address";
			return -EINVAL;
		}
	}
	err = parse_port(port, a, why);
	if (!err)
		snprintf(a->str, sizeof(a->str), "%s:%s", host, port);
	return err;
}

/* ------------------------------------------------------------ exposition */

/* A label value, escaped as the text format wants: \\, \" and \n. */
static void put_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void put_label(FILE *f, bool first, const char *name, const char *value)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	put_value(f, value);
	fputc('"', f);
}

/*
 * A service read from Istio/Kubernetes input is named "NAME.NAMESPACE"
 * (neither part can hold a dot); any other name is our own format's, in
 * namespace "default".
 */
struct svc_id {
	char name[SL_NAME_LEN];
	char ns[SL_NAME_LEN];
};

static void svc_id(const char *full, struct svc_id *id)
{
	const char *dot = strchr(full, '.');

	if (dot && dot != full && dot[1] && !strchr(dot + 1, '.')) {
		snprintf(id->name, sizeof(id->name), "%.*s", (int)(dot - full), full);
		snprintf(id->ns, sizeof(id->ns), "%s", dot + 1);
	} else {
		snprintf(id->name, sizeof(id->name), "%s", full);
		snprintf(id->ns, sizeof(id->ns), "default");
	}
}

enum field {
	F_OPENED,
	F_CLOSED,
	F_ACTIVE,
	F_PACKETS_IN,
	F_PACKETS_OUT,
	F_BYTES_IN,
	F_BYTES_OUT,
	F_RESETS,
	F_WEIGHT,
	F_HTTP_1XX,
};

static uint64_t field(const struct sl_status_subset *s, int f)
{
	const struct sl_stats *st = &s->stats;

	switch (f) {
	case F_OPENED:
		return st->conns_opened;
	case F_CLOSED:
		return st->conns_closed;
	case F_ACTIVE:
		return st->conns_opened > st->conns_closed ? st->conns_opened - st->conns_closed
							   : 0;
	case F_PACKETS_IN:
		return st->packets_in;
	case F_PACKETS_OUT:
		return st->packets_out;
	case F_BYTES_IN:
		return st->bytes_in;
	case F_BYTES_OUT:
		return st->bytes_out;
	case F_RESETS:
		return st->backend_resets;
	case F_WEIGHT:
		return s->weight;
	default:
		return f >= F_HTTP_1XX && f < F_HTTP_1XX + 5 ? st->http_responses[f - F_HTTP_1XX]
							     : 0;
	}
}

/* One metric family per service and subset; up to 5 series each (a label). */
static const struct family {
	const char *name, *type, *help;
	const char *label; /* the extra label of the series, or NULL */
	int n;
	struct {
		const char *value;
		int field;
	} v[5];
} families[] = {
    {"sluice_connections_opened_total",
     "counter",
     "Connections (UDP: flows) sent to the subset.",
     NULL,
     1,
     {{NULL, F_OPENED}}},
    {"sluice_connections_closed_total",
     "counter",
     "Connections to the subset seen closing (first FIN or RST; UDP: idle flow replaced).",
     NULL,
     1,
     {{NULL, F_CLOSED}}},
    {"sluice_connections_active",
     "gauge",
     "Connections opened and not yet closed (UDP: flows seen, not flows alive).",
     NULL,
     1,
     {{NULL, F_ACTIVE}}},
    {"sluice_packets_total",
     "counter",
     "Wire packets (GSO segments counted): in is client to backend, out backend to client.",
     "direction",
     2,
     {{"in", F_PACKETS_IN}, {"out", F_PACKETS_OUT}}},
    {"sluice_bytes_total",
     "counter",
     "Bytes (IP packets): in is client to backend, out backend to client.",
     "direction",
     2,
     {{"in", F_BYTES_IN}, {"out", F_BYTES_OUT}}},
    {"sluice_backend_resets_total",
     "counter",
     "TCP resets sent by the subset's backends.",
     NULL,
     1,
     {{NULL, F_RESETS}}},
    {"sluice_route_weight",
     "gauge",
     "The subset's weight in the service's default route.",
     NULL,
     1,
     {{NULL, F_WEIGHT}}},
    {"sluice_http_responses_total",
     "counter",
     "HTTP/1.x responses from the subset, by status class (plaintext only).",
     "code_class",
     5,
     {{"1xx", F_HTTP_1XX},
      {"2xx", F_HTTP_1XX + 1},
      {"3xx", F_HTTP_1XX + 2},
      {"4xx", F_HTTP_1XX + 3},
      {"5xx", F_HTTP_1XX + 4}}},
};

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * The L7 step's counters (header routing), one family each:
 * sluice_l7_NAME_total for NAME in `sluice status -j`'s l7.counters, and
 * the gauge of connections it holds.
 */
static const char *const l7_help[SL_L7_C_MAX] = {
    [SL_L7_C_ACCEPTED] = "Connections the L7 step accepted from its listeners.",
    [SL_L7_C_ACTIVE] = "Connections the L7 step holds now: reading the request head, "
		       "connecting or relaying.",
    [SL_L7_C_HEADER_ROUTE] = "Connections decided by a route that matches on the HTTP request.",
    [SL_L7_C_DEFAULT_ROUTE] = "Connections decided by a route without HTTP matches.",
    [SL_L7_C_HEAD_TOO_BIG] = "Connections whose request head did not end within the limit "
			     "(decided without HTTP matches).",
    [SL_L7_C_NOT_HTTP] = "Connections that did not start with an HTTP/1.x request "
			 "(decided without HTTP matches).",
    [SL_L7_C_HEAD_TIMEOUT] = "Connections whose request head did not come in time "
			     "(decided without HTTP matches).",
    [SL_L7_C_NO_ROUTE] = "Connections no route matched, or whose subset had no endpoint: reset.",
    [SL_L7_C_CONNECT_FAILED] = "Connections whose backend refused or did not answer: reset.",
    [SL_L7_C_OVER_LIMIT] = "Times the L7 step reached its connection limit and left new "
			   "connections to the kernel's weighted split.",
    [SL_L7_C_HANDED_OVER] = "Connections passed to a successor (hot restart).",
    [SL_L7_C_TAKEN_OVER] = "Connections received from a predecessor (hot restart).",
};

static void write_l7(FILE *f, const struct sl_status *st)
{
	char name[64];
	int i;

	for (i = 0; i < SL_L7_C_MAX; i++) {
		bool gauge = i == SL_L7_C_ACTIVE;

		if (gauge)
			snprintf(name, sizeof(name), "sluice_l7_connections_active");
		else
			snprintf(name, sizeof(name), "sluice_l7_%s_total", sl_l7_counter_name(i));
		header(f, name, gauge ? "gauge" : "counter",
		       l7_help[i] ? l7_help[i] : "A counter of the L7 step.");
		fprintf(f, "%s %" PRIu64 "\n", name, st->l7[i]);
	}
}

static void sluice_labels(FILE *f, const struct svc_id *id, const char *subset)
{
	put_label(f, true, "service", id->name);
	put_label(f, false, "namespace", id->ns);
	put_label(f, false, "subset", subset);
}

/*
 * Istio's labels for traffic reported by the destination: what Kiali's
 * graph groups by and Istio's Grafana dashboards select on. The label set
 * follows Istio's standard metrics reference
 * (https://istio.io/latest/docs/reference/config/metrics/, "Labels") and
 * what Kiali queries: kiali/kiali graph/telemetry/istio/istio.go groups
 * istio_requests_total by source_workload_namespace, source_workload,
 * source_canonical_service, source_canonical_revision,
 * destination_service_namespace, destination_service,
 * destination_service_name, destination_workload_namespace,
 * destination_workload, destination_canonical_service,
 * destination_canonical_revision, request_protocol, response_code,
 * grpc_response_status, response_flags (and istio_tcp_sent_bytes_total by
 * the same less the request ones), skips a series missing any of them, and
 * draws traffic from outside the mesh as reporter="destination",
 * source_workload="unknown". Its util.go drops telemetry whose
 * destination_cluster is set but "unknown" when the namespace is known, so
 * the destination carries Istio's default cluster name.
 *
 * sluice does not know who sent a connection (workloads: labels only), so
 * every source is "unknown", as Istio reports a client without a sidecar.
 */
static void istio_labels(FILE *f, const struct svc_id *id, const char *subset, const char *protocol)
{
	char host[2 * SL_NAME_LEN + 32], wl[SL_NAME_LEN + SL_SUBSET_NAME_LEN + 1];

	snprintf(host, sizeof(host), "%s.%s.svc.cluster.local", id->name, id->ns);
	snprintf(wl, sizeof(wl), "%s-%s", id->name, subset);
	put_label(f, true, "reporter", "destination");
	put_label(f, false, "source_workload", "unknown");
	put_label(f, false, "source_workload_namespace", "unknown");
	put_label(f, false, "source_principal", "unknown");
	put_label(f, false, "source_app", "unknown");
	put_label(f, false, "source_version", "unknown");
	put_label(f, false, "source_canonical_service", "unknown");
	put_label(f, false, "source_canonical_revision", "unknown");
	put_label(f, false, "source_cluster", "unknown");
	put_label(f, false, "destination_workload", wl);
	put_label(f, false, "destination_workload_namespace", id->ns);
	put_label(f, false, "destination_principal", "unknown");
	put_label(f, false, "destination_app", id->name);
	put_label(f, false, "destination_version", subset);
	put_label(f, false, "destination_service", host);
	put_label(f, false, "destination_service_name", id->name);
	put_label(f, false, "destination_service_namespace", id->ns);
	put_label(f, false, "destination_canonical_service", id->name);
	put_label(f, false, "destination_canonical_revision", subset);
	put_label(f, false, "destination_cluster", "Kubernetes");
	put_label(f, false, "request_protocol", protocol);
	put_label(f, false, "response_flags", "-");
	put_label(f, false, "connection_security_policy", "none");
}

static const struct {
	const char *name, *help;
	int field;
} istio_tcp[] = {
    {"istio_tcp_connections_opened_total", "Tcp Connections Opened (sluice: per subset).",
     F_OPENED},
    {"istio_tcp_connections_closed_total", "Tcp Connections Closed (sluice: per subset).",
     F_CLOSED},
    {"istio_tcp_sent_bytes_total", "Bytes sent during response (sluice: backend to client).",
     F_BYTES_OUT},
    {"istio_tcp_received_bytes_total", "Bytes received during request (sluice: client to backend).",
     F_BYTES_IN},
};

static void write_istio(FILE *f, const struct sl_status *st, const struct svc_id *ids)
{
	size_t i, j, k, c;

	for (k = 0; k < sizeof(istio_tcp) / sizeof(istio_tcp[0]); k++) {
		header(f, istio_tcp[k].name, "counter", istio_tcp[k].help);
		for (i = 0; i < st->n_services; i++)
			for (j = 0; j < st->services[i].n_subsets; j++) {
				const struct sl_status_subset *s = &st->services[i].subsets[j];

				fprintf(f, "%s{", istio_tcp[k].name);
				istio_labels(f, &ids[i], s->name, "tcp");
				fprintf(f, "} %" PRIu64 "\n", field(s, istio_tcp[k].field));
			}
	}
	header(f, "istio_requests_total", "counter",
	       "Requests (sluice: HTTP/1.x responses seen from the subset, by status code).");
	for (i = 0; i < st->n_services; i++)
		for (j = 0; j < st->services[i].n_subsets; j++) {
			const struct sl_status_subset *s = &st->services[i].subsets[j];

			for (c = 0; c < s->n_codes; c++) {
				char code[16];

				snprintf(code, sizeof(code), "%u", s->codes[c].code);
				fprintf(f, "istio_requests_total{");
				istio_labels(f, &ids[i], s->name, "http");
				put_label(f, false, "response_code", code);
				fprintf(f, "} %" PRIu64 "\n", s->codes[c].count);
			}
		}
}

int sl_metrics_write(FILE *f, const struct sl_status *st, const struct sl_metrics_reloads *r,
		     bool istio)
{
	struct svc_id *ids = calloc(st->n_services ?: 1, sizeof(*ids));
	size_t i, j, k, n;

	if (!ids)
		return -ENOMEM;
	for (i = 0; i < st->n_services; i++)
		svc_id(st->services[i].name, &ids[i]);

	for (k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
		const struct family *fam = &families[k];

		header(f, fam->name, fam->type, fam->help);
		for (i = 0; i < st->n_services; i++)
			for (j = 0; j < st->services[i].n_subsets; j++) {
				const struct sl_status_subset *s = &st->services[i].subsets[j];

				for (n = 0; n < (size_t)fam->n; n++) {
					fprintf(f, "%s{", fam->name);
					sluice_labels(f, &ids[i], s->name);
					if (fam->label)
						put_label(f, false, fam->label, fam->v[n].value);
					fprintf(f, "} %" PRIu64 "\n", field(s, fam->v[n].field));
				}
			}
	}

	header(f, "sluice_datapath_events_total", "counter",
	       "Datapath counters of every service together (see `sluice status`).");
	for (i = 0; i < SL_G_MAX; i++) {
		fprintf(f, "sluice_datapath_events_total{");
		put_label(f, true, "event", sl_global_name(i));
		fprintf(f, "} %" PRIu64 "\n", st->global[i]);
	}
	write_l7(f, st);
	header(f, "sluice_config_generation", "gauge",
	       "Generation of the configuration in force (0: none yet).");
	fprintf(f, "sluice_config_generation %" PRIu64 "\n", (uint64_t)st->state.generation);
	header(f, "sluice_config_reloads_total", "counter",
	       "Configurations applied (or found already in force) and rejected by this process.");
	fprintf(f, "sluice_config_reloads_total{result=\"success\"} %" PRIu64 "\n", r->success);
	fprintf(f, "sluice_config_reloads_total{result=\"failure\"} %" PRIu64 "\n", r->failure);
	header(f, "sluice_config_last_reload_success_timestamp_seconds", "gauge",
	       "When this process last applied a configuration (Unix time; 0: never).");
	fprintf(f,
		"sluice_config_last_reload_success_timestamp_seconds %" PRIu64 ".%03" PRIu64 "\n",
		r->last_success_ms / 1000, r->last_success_ms % 1000);
	header(f, "sluice_build_info", "gauge", "Always 1: the version of sluice serving this.");
	fprintf(f, "sluice_build_info{");
	put_label(f, true, "version", SLUICE_VERSION);
	fprintf(f, "} 1\n");

	if (istio)
		write_istio(f, st, ids);
	free(ids);
	return ferror(f) ? -EIO : 0;
}

/* ------------------------------------------------------------ server */

static void reloads(struct sl_metrics *m, struct sl_metrics_reloads *r)
{
	r->success = atomic_load(&m->reloads_ok);
	r->failure = atomic_load(&m->reloads_failed);
	r->last_success_ms = atomic_load(&m->last_ok_ms);
}

/* Queue a response; body is taken over (freed) when must_free. */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, const char *type,
			     void *body, size_t len, bool must_free)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(
	    len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
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

static enum MHD_Result reply_error(struct MHD_Connection *conn, int err)
{
	char *msg = NULL;
	int len = asprintf(&msg, "cannot read the datapath's maps: %s\n", strerror(-err));

	if (len < 0)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "error\n");
	return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, CONTENT_TEXT, msg, len, true);
}

static enum MHD_Result serve_metrics(struct sl_metrics *m, struct MHD_Connection *conn)
{
	struct sl_metrics_reloads r;
	struct sl_status st;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	err = sl_tables_read_status(&m->maps, &st);
	if (err)
		return reply_error(conn, err);
	reloads(m, &r);
	f = open_memstream(&buf, &len);
	if (!f) {
		sl_status_free(&st);
		return reply_error(conn, -errno);
	}
	err = sl_metrics_write(f, &st, &r, m->istio);
	sl_status_free(&st);
	if (!err) {
		json_object *rej = sl_rejected_load(m->pin_dir);

		sl_rejected_metrics(f, rej);
		json_object_put(rej);
	}
	if (fclose(f) && !err)
		err = -EIO;
	if (err) {
		free(buf);
		return reply_error(conn, err);
	}
	return reply(conn, MHD_HTTP_OK, CONTENT_PROM, buf, len, true);
}

static enum MHD_Result serve_stats(struct sl_metrics *m, struct MHD_Connection *conn)
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
		return reply_error(conn, err);
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
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	body = s ? malloc(len + 1) : NULL;
	if (body) {
		memcpy(body, s, len);
		body[len++] = '\n';
	}
	json_object_put(o);
	if (!body)
		return reply_error(conn, -ENOMEM);
	return reply(conn, MHD_HTTP_OK, CONTENT_JSON, body, len, true);
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

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct sl_metrics *m = cls;
	size_t len;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (!strcmp(url, "/metrics"))
		return serve_metrics(m, conn);
	if (!strcmp(url, "/api/v1/stats"))
		return serve_stats(m, conn);
	if (!strcmp(url, "/healthz"))
		return serve_health(m, conn);
	if (!strcmp(url, "/")) {
		const char *page = sl_dashboard_html(&len);

		return reply(conn, MHD_HTTP_OK, CONTENT_HTML, (void *)page, len, false);
	}
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pr_debug("metrics: %s%s", buf, buf[0] && buf[strlen(buf) - 1] == '\n' ? "" : "\n");
}

int sl_metrics_bind(struct sl_metrics **out, const struct sl_metrics_addr *a, bool istio)
{
	struct sl_metrics *m;
	int one = 1, err;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->addr = *a;
	m->istio = istio;
	m->lfd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->lfd < 0) {
		err = -errno;
		free(m);
		return err;
	}
	/* A restart must not wait for the old connections' TIME_WAIT. */
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * A hot restart runs the old and the new `run` at once, on one port;
	 * the kernel lets only sockets of the same user share it.
	 */
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(m->lfd, (struct sockaddr *)&a->ss, a->len) || listen(m->lfd, 64)) {
		err = -errno;
		close(m->lfd);
		free(m);
		return err;
	}
	*out = m;
	return 0;
}

int sl_metrics_start(struct sl_metrics *m, const char *pin_dir)
{
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	int err;

	err = sl_maps_open_pinned(&m->maps, pin_dir);
	if (err)
		return err;
	m->have_maps = true;
	snprintf(m->pin_dir, sizeof(m->pin_dir), "%s", pin_dir);
	if (m->addr.ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, m, MHD_OPTION_LISTEN_SOCKET, m->lfd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!m->d)
		return -EIO;
	/* libmicrohttpd closes the listening socket when it stops */
	m->lfd = -1;
	pr_info("metrics: serving http://%s/metrics%s\n", m->addr.str,
		m->istio ? " (with Istio's metrics)" : "");
	return 0;
}

void sl_metrics_stop(struct sl_metrics *m)
{
	if (!m)
		return;
	if (m->d)
		MHD_stop_daemon(m->d);
	if (m->lfd >= 0)
		close(m->lfd);
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
