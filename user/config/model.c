// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Helpers on the configuration model (model.h): diagnostics, addresses and
 * CIDRs, model queries, freeing a config. Calls nothing else in
 * user/config/ but yaml_node.h's sl_all_digits().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/model.h"
#include "config/yaml_node.h"

/* Diagnostics */

void sl_diag_init(struct sl_diag *diag)
{
	memset(diag, 0, sizeof(*diag));
}

void sl_diag_free(struct sl_diag *diag)
{
	size_t i;

	if (!diag)
		return;
	for (i = 0; i < diag->n_msgs; i++)
		free(diag->msgs[i]);
	free(diag->msgs);
	sl_diag_init(diag);
}

struct sl_diag_mark sl_diag_mark(const struct sl_diag *diag)
{
	return (struct sl_diag_mark){
	    .n_msgs = diag->n_msgs, .n_errors = diag->n_errors, .n_warnings = diag->n_warnings};
}

void sl_diag_drop(struct sl_diag *diag, const struct sl_diag_mark *mark)
{
	while (diag->n_msgs > mark->n_msgs)
		free(diag->msgs[--diag->n_msgs]);
	diag->n_errors = mark->n_errors;
	diag->n_warnings = mark->n_warnings;
}

size_t sl_diag_errors_since(const struct sl_diag *diag, const struct sl_diag_mark *mark)
{
	return diag->n_errors - mark->n_errors;
}

const char *sl_diag_forgive(struct sl_diag *diag, const struct sl_diag_mark *mark)
{
	const char *first = NULL, *e;
	size_t i, n = sl_diag_errors_since(diag, mark);

	for (i = mark->n_msgs; i < diag->n_msgs && !first; i++)
		if ((e = strstr(diag->msgs[i], "error: ")))
			first = e + strlen("error: ");
	diag->n_errors -= n;
	diag->n_warnings += n;
	return first;
}

void sl_diag_vadd(struct sl_diag *diag, const struct sl_pos *pos, const char *kind, const char *fmt,
		  va_list ap)
{
	char *text = NULL, *msg = NULL, **msgs;
	const char *file;
	int n;

	/* Count first: even if the text cannot be stored, the load must fail. */
	if (!strcmp(kind, "error"))
		diag->n_errors++;
	else
		diag->n_warnings++;

	if (vasprintf(&text, fmt, ap) < 0)
		return;
	file = pos && pos->file ? pos->file : "<input>";
	if (!pos)
		n = asprintf(&msg, "%s: %s", kind, text);
	else if (pos->line <= 0)
		n = asprintf(&msg, "%s: %s: %s", file, kind, text);
	else
		n = asprintf(&msg, "%s:%d:%d: %s: %s", file, pos->line, pos->col, kind, text);
	free(text);
	if (n < 0)
		return;

	msgs = realloc(diag->msgs, (diag->n_msgs + 1) * sizeof(*msgs));
	if (!msgs) {
		free(msg);
		return;
	}
	diag->msgs = msgs;
	diag->msgs[diag->n_msgs++] = msg;
}

void sl_diag_add(struct sl_diag *diag, const struct sl_pos *pos, const char *kind, const char *fmt,
		 ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_diag_vadd(diag, pos, kind, fmt, ap);
	va_end(ap);
}

/* Addresses */

const char *sl_addr_str(const struct sl_addr *a, char *buf, size_t len)
{
	int af = a->family == SL_AF_INET6 ? AF_INET6 : AF_INET;

	if ((a->family != SL_AF_INET && a->family != SL_AF_INET6) ||
	    !inet_ntop(af, a->addr, buf, len)) {
		snprintf(buf, len, "?");
		return buf;
	}
	return buf;
}

int sl_addr_parse(const char *s, struct sl_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = SL_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = SL_AF_INET6;
		return 0;
	}
	memset(a, 0, sizeof(*a));
	return -EINVAL;
}

bool sl_addr_eq(const struct sl_addr *x, const struct sl_addr *y)
{
	return x->family == y->family && !memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* Model queries */

bool sl_route_applies(const struct sl_route_cfg *r, const struct sl_port_cfg *p)
{
	switch (p->app) {
	case SL_APP_HTTP:
		return r->kind != SL_ROUTE_TCP;
	case SL_APP_TCP:
		return r->kind != SL_ROUTE_HTTP;
	case SL_APP_NONE:
		return r->kind == SL_ROUTE_ANY;
	default:
		return true;
	}
}

static bool vip_in(const struct sl_addr *vip, const struct sl_cidr *c, size_t n)
{
	struct sl_addr m;
	size_t i;

	for (i = 0; vip && i < n; i++) {
		m = *vip;
		sl_addr_mask(&m, c[i].plen);
		if (sl_addr_eq(&m, &c[i].a))
			return true;
	}
	return false;
}

bool sl_route_applies_at(const struct sl_route_cfg *r, const struct sl_addr *vip,
			 const struct sl_port_cfg *p)
{
	if (r->match_port && r->match_port != p->port)
		return false;
	if (r->has_dst_cidrs && !vip_in(vip, r->dst_cidrs, r->n_dst_cidrs))
		return false;
	return sl_route_applies(r, p);
}

int sl_port_path_at(const struct sl_service_cfg *s, const struct sl_addr *vip,
		    const struct sl_port_cfg *p)
{
	size_t r;

	if (p->proto != IPPROTO_TCP)
		return SL_PATH_KERNEL;
	for (r = 0; r < s->n_routes; r++) {
		const struct sl_route_cfg *rt = &s->routes[r];

		if (rt->needs_l7 && rt->l7_spec && sl_route_applies_at(rt, vip, p))
			return SL_PATH_HTTP_ROUTES;
	}
	if (p->mux == SL_MUX_HTTP2)
		return SL_PATH_HTTP2;
	if (p->mux == SL_MUX_GRPC)
		return SL_PATH_GRPC;
	if (s->per_request)
		return SL_PATH_PER_REQUEST;
	return SL_PATH_KERNEL;
}

int sl_port_path(const struct sl_service_cfg *s, const struct sl_port_cfg *p)
{
	return sl_port_path_at(s, s->n_vips ? &s->vips[0] : NULL, p);
}

const char *sl_path_name(int path)
{
	switch (path) {
	case SL_PATH_HTTP_ROUTES:
		return "L7 (per request: http routes)";
	case SL_PATH_HTTP2:
		return "L7 (per request: http2)";
	case SL_PATH_GRPC:
		return "L7 (per request: grpc)";
	case SL_PATH_PER_REQUEST:
		return "L7 (per request: per-request split opt-in)";
	default:
		return "kernel (per connection)";
	}
}

int sl_config_subset_index(const struct sl_service_cfg *svc, const char *name)
{
	size_t i;

	for (i = 0; i < svc->n_subsets; i++)
		if (!strcmp(svc->subsets[i].name, name))
			return (int)i;
	return -1;
}

bool sl_labels_match(const struct sl_label *want, size_t n_want, const struct sl_label *have,
		     size_t n_have)
{
	size_t i, j;

	for (i = 0; i < n_want; i++) {
		for (j = 0; j < n_have; j++)
			if (!strcmp(want[i].key, have[j].key) &&
			    !strcmp(want[i].value, have[j].value))
				break;
		if (j == n_have)
			return false;
	}
	return true;
}

/* Freeing */

static void free_labels(struct sl_label *labels, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(labels[i].key);
		free(labels[i].value);
	}
	free(labels);
}

static void free_service(struct sl_service_cfg *svc)
{
	size_t i;

	free(svc->vips);
	free(svc->ports);
	for (i = 0; i < svc->n_subsets; i++)
		free(svc->subsets[i].eps);
	free(svc->subsets);
	for (i = 0; i < svc->n_routes; i++) {
		free(svc->routes[i].cidrs);
		free(svc->routes[i].dst_cidrs);
		free(svc->routes[i].name);
		free(svc->routes[i].l7_spec);
		free_labels(svc->routes[i].labels, svc->routes[i].n_labels);
	}
	free(svc->routes);
	free(svc->rollout);
	/* the slot may be taken again (an isolated load, a document read again whole) */
	memset(svc, 0, sizeof(*svc));
}

void sl_config_drop_services(struct sl_config *cfg, size_t from)
{
	while (cfg->n_services > from)
		free_service(&cfg->services[--cfg->n_services]);
}

void sl_config_drop_workloads(struct sl_config *cfg, size_t from)
{
	struct sl_workload_cfg *w;

	while (cfg->n_workloads > from) {
		w = &cfg->workloads[--cfg->n_workloads];
		free_labels(w->labels, w->n_labels);
		free(w->cidrs);
	}
}

int sl_config_reject(struct sl_config *cfg, const char *kind, const char *ns, const char *name,
		     const struct sl_pos *pos, const char *reason)
{
	struct sl_rejected *r;

	if (sl_reserve((void **)&cfg->rejected, &cfg->cap_rejected, cfg->n_rejected, 1, sizeof(*r)))
		return -ENOMEM;
	r = &cfg->rejected[cfg->n_rejected++];
	r->pos = *pos;
	r->kind = strdup(kind);
	r->ns = strdup(ns ? ns : "");
	r->name = strdup(name ? name : "?");
	r->reason = strdup(reason ? reason : "rejected");
	return r->kind && r->ns && r->name && r->reason ? 0 : -ENOMEM;
}

void sl_config_free(struct sl_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	sl_config_drop_services(cfg, 0);
	free(cfg->services);
	sl_config_drop_workloads(cfg, 0);
	free(cfg->workloads);
	for (i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	for (i = 0; i < cfg->n_rejected; i++) {
		free(cfg->rejected[i].kind);
		free(cfg->rejected[i].ns);
		free(cfg->rejected[i].name);
		free(cfg->rejected[i].reason);
	}
	free(cfg->rejected);
	free(cfg);
}

/* CIDRs */

unsigned int sl_addr_max_plen(const struct sl_addr *a)
{
	return a->family == SL_AF_INET ? 32 : 128;
}

void sl_addr_mask(struct sl_addr *a, unsigned int plen)
{
	unsigned int i;

	for (i = 0; i < sizeof(a->addr); i++) {
		if (plen >= 8) {
			plen -= 8;
			continue;
		}
		a->addr[i] &= (uint8_t)(0xff00 >> plen);
		plen = 0;
	}
}

/* "addr/len" or a plain address (a host route). */
int sl_cidr_parse(const char *s, struct sl_cidr *out)
{
	char buf[SL_ADDR_TEXT_MAX];
	unsigned long plen;
	char *slash;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (sl_addr_parse(buf, &out->a))
		return -EINVAL;
	plen = sl_addr_max_plen(&out->a);
	if (slash) {
		if (!sl_all_digits(slash + 1) || strlen(slash + 1) > 3)
			return -EINVAL;
		plen = strtoul(slash + 1, NULL, 10);
		if (plen > sl_addr_max_plen(&out->a))
			return -ERANGE;
	}
	out->plen = (uint8_t)plen;
	return 0;
}

/* Room for `more` entries after the n already in *arr (zeroed), growing by doubling. */
int sl_reserve(void **arr, size_t *cap, size_t n, size_t more, size_t size)
{
	size_t want = n + more, ncap = *cap ? *cap : 4;
	void *p;

	if (want <= *cap)
		return 0;
	while (ncap < want)
		ncap *= 2;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
	*arr = p;
	*cap = ncap;
	return 0;
}
