// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `sluice run --metrics`: the listen address (--metrics, --health) and the
 * Prometheus text exposition of a status. The server that serves it is
 * metrics_server.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/version.h"
#include "datapath/counters.h"
#include "datapath/rt.h"
#include "observe/metrics.h"

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
    [SL_L7_C_HEADER_ROUTE] = "Requests (HTTP/1.x, routed one by one) or connections (any other) "
			     "decided by a route that matches on the HTTP request.",
    [SL_L7_C_DEFAULT_ROUTE] = "Requests (HTTP/1.x, routed one by one) or connections (any other) "
			      "decided by a route without HTTP matches.",
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
    [SL_L7_C_CLIENT_LIMIT] = "Connections reset at accept: their client address already held "
			     "--l7-max-per-client.",
    [SL_L7_C_IDLE_TIMEOUT] = "Relayed connections reset after --l7-idle-timeout without a byte "
			     "either way.",
    [SL_L7_C_CODES_FULL] = "Exact HTTP codes not counted because sl_l7_codes was full (their "
			   "class still is).",
    [SL_L7_C_BAD_REQUEST] =
	"Requests answered 400 and closed: a malformed or ambiguous head or "
	"body framing (request smuggling shapes), or a head over --l7-head-max.",
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

/*
 * One histogram series set: cumulative buckets at our log2 bounds (in
 * seconds, or milliseconds for Istio's), then _sum and _count. labels
 * writes the series' own labels; le follows them.
 */
static void write_hist(FILE *f, const char *name, const struct sl_rt_hist *h, double unit_us,
		       void (*labels)(FILE *f, const void *arg), const void *arg)
{
	uint64_t cum = 0;
	int b;

	for (b = 0; b < SL_RT_BUCKETS; b++) {
		cum += h->bucket[b];
		fprintf(f, "%s_bucket{", name);
		labels(f, arg);
		if (sl_rt_bucket_le(b))
			fprintf(f, ",le=\"%g\"} %" PRIu64 "\n",
				(double)sl_rt_bucket_le(b) / unit_us, cum);
		else
			fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	fprintf(f, "%s_sum{", name);
	labels(f, arg);
	fprintf(f, "} %.6f\n", (double)h->sum_us / unit_us);
	fprintf(f, "%s_count{", name);
	labels(f, arg);
	/* the buckets' total: a reader never sees _count and +Inf disagree */
	fprintf(f, "} %" PRIu64 "\n", cum);
}

struct hist_arg {
	const struct svc_id *id;
	const char *subset;
};

static void rt_sluice_labels(FILE *f, const void *arg)
{
	const struct hist_arg *a = arg;

	sluice_labels(f, a->id, a->subset);
}

static void rt_istio_labels(FILE *f, const void *arg)
{
	const struct hist_arg *a = arg;

	istio_labels(f, a->id, a->subset, "http");
}

static void write_rt(FILE *f, const struct sl_status *st, const struct svc_id *ids, bool istio)
{
	const char *name =
	    istio ? "istio_request_duration_milliseconds" : "sluice_response_time_seconds";
	size_t i, j;

	if (istio)
		header(f, name, "histogram",
		       "Request duration (sluice: first request byte to first response byte of "
		       "each connection, in the kernel; per request on the L7 step).");
	else
		header(f, name, "histogram",
		       "Time from a connection's first request byte to its first response byte, "
		       "measured in the kernel on the DNAT path (per request on the L7 step).");
	for (i = 0; i < st->n_services; i++)
		for (j = 0; j < st->services[i].n_subsets; j++) {
			const struct sl_status_subset *s = &st->services[i].subsets[j];
			struct hist_arg a = {&ids[i], s->name};

			write_hist(f, name, &s->rt, istio ? 1e3 : 1e6,
				   istio ? rt_istio_labels : rt_sluice_labels, &a);
		}
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

	write_rt(f, st, ids, false);

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

	if (istio) {
		write_istio(f, st, ids);
		write_rt(f, st, ids, true);
	}
	free(ids);
	return ferror(f) ? -EIO : 0;
}
