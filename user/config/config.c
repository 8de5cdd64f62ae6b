// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * YAML configuration -> struct sl_config.
 *
 * The input is one or more files (a directory stands for its *.yaml and
 * *.yml files), each a stream of YAML documents. We load one document at a
 * time with libyaml's document API so that every node keeps its start mark,
 * and walk it once into the one merged config: checks that span services
 * (duplicate names, a (VIP, port) taken twice, the table limit) compare
 * against everything read before, whatever file it came from. Validation
 * problems are collected in the caller's sl_diag instead of stopping at the
 * first one: an operator fixing a file wants to see every mistake in one
 * run. Only allocation failures abort the walk.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "config/config.h"
#include "config/yaml_node.h"
#include "config/k8s.h"
#include "l7/l7_match.h"
#include "lib/log.h"

struct ctx {
	yaml_document_t *doc; /* the document being walked */
	const char *file;     /* the file it is in (owned by cfg->files) */
	struct sl_diag *diag;
	struct sl_config *cfg;
	size_t services_cap, workloads_cap;
	size_t n_keys;		      /* (VIP, port) pairs so far, for SL_MAX_SERVICES */
	bool keys_reported;	      /* report the SL_MAX_SERVICES overflow once */
	size_t n_docs;		      /* documents that were not empty */
	size_t own_docs;	      /* documents in sluice's own format */
	size_t services_seen;	      /* entries of every 'services' list */
	struct sl_pos first_own;      /* top of the first own-format document */
	struct sl_pos empty_services; /* the first 'services: []' (line 0: none) */
	struct sl_k8s *k8s;	      /* Kubernetes/Istio objects, built into services at the end */
	size_t k8s_objects;	      /* how many were read */
};

static const char *const root_keys[] = {"services", "workloads", NULL};
static const char *const service_keys[] = {"name",    "vips",	"ports", "affinity",
					   "subsets", "routes", NULL};
static const char *const port_keys[] = {"port", "protocol", "targetPort", NULL};
static const char *const subset_keys[] = {"endpoints", NULL};
static const char *const route_keys[] = {"match", "split", NULL};
static const char *const match_keys[] = {"sourceCIDRs", "sourceLabels", "headers", "uri", "method",
					 NULL};
static const char *const workload_keys[] = {"labels", "ips", NULL};

/* YAML node helpers */

static struct sl_pos node_pos(const struct ctx *c, const yaml_node_t *n)
{
	struct sl_pos pos = {.file = c->file, .line = 1, .col = 1};

	if (n) {
		pos.line = (int)n->start_mark.line + 1;
		pos.col = (int)n->start_mark.column + 1;
	}
	return pos;
}

static void report(struct ctx *c, const yaml_node_t *n, const char *kind, const char *fmt,
		   va_list ap)
{
	struct sl_pos pos = node_pos(c, n);

	sl_diag_vadd(c->diag, &pos, kind, fmt, ap);
}

static __attribute__((format(printf, 3, 4))) void error_at(struct ctx *c, const yaml_node_t *n,
							   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, n, "error", fmt, ap);
	va_end(ap);
}

static __attribute__((format(printf, 3, 4))) void warn_at(struct ctx *c, const yaml_node_t *n,
							  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, n, "warning", fmt, ap);
	va_end(ap);
}

static bool want_type(struct ctx *c, const yaml_node_t *n, yaml_node_type_t type, const char *what)
{
	if (sl_yaml_is(n, type))
		return true;
	error_at(c, n, "%s must be %s, not %s", what, sl_yaml_kind_name(type),
		 sl_yaml_type_name(n));
	return false;
}

/*
 * Every key of mapping n must be a string and appear once; with allowed set,
 * it must also be one of those. libyaml itself accepts duplicate keys, and
 * silently using one of two values would hide a mistake.
 */
static void check_keys(struct ctx *c, const yaml_node_t *n, const char *const *allowed,
		       const char *where)
{
	char expected[256];
	size_t i, j, off = 0;

	expected[0] = '\0';
	for (j = 0; allowed && allowed[j]; j++)
		off += snprintf(expected + off, sizeof(expected) - off, "%s%s", j ? ", " : "",
				allowed[j]);

	for (i = 0; i < sl_yaml_map_len(n); i++) {
		yaml_node_t *kn = sl_yaml_map_key(c->doc, n, i);
		const char *k = sl_yaml_scalar(kn);

		if (!k) {
			error_at(c, kn, "keys %s must be strings, not %s", where,
				 sl_yaml_type_name(kn));
			continue;
		}
		for (j = 0; j < i; j++) {
			const char *prev = sl_yaml_scalar(sl_yaml_map_key(c->doc, n, j));

			if (prev && !strcmp(prev, k))
				break;
		}
		if (j < i) {
			error_at(c, kn, "duplicate key '%s' %s", k, where);
			continue;
		}
		if (!allowed)
			continue;
		for (j = 0; allowed[j]; j++)
			if (!strcmp(allowed[j], k))
				break;
		if (!allowed[j])
			error_at(c, kn, "unknown key '%s' %s; expected one of: %s", k, where,
				 expected);
	}
}

/* Parse a plain decimal in [min, max]; errors name the value as `what`. */
static bool parse_uint(struct ctx *c, const yaml_node_t *n, const char *what, unsigned long min,
		       unsigned long max, unsigned long *out)
{
	const char *s = sl_yaml_scalar(n);
	unsigned long v;

	if (!s || !sl_all_digits(s)) {
		if (s)
			error_at(c, n, "%s must be an integer, not '%s'", what, s);
		else
			error_at(c, n, "%s must be an integer, not %s", what, sl_yaml_type_name(n));
		return false;
	}
	errno = 0;
	v = strtoul(s, NULL, 10);
	if (errno || v < min || v > max) {
		error_at(c, n, "%s %s is out of range; it must be %lu to %lu", what, s, min, max);
		return false;
	}
	*out = v;
	return true;
}

/* CIDRs and endpoints */

static bool parse_cidr(struct ctx *c, const yaml_node_t *n, struct sl_cidr *out)
{
	char text[INET6_ADDRSTRLEN];
	const char *s = sl_yaml_scalar(n);
	struct sl_addr masked;
	int err;

	if (!s) {
		error_at(c, n, "an address or CIDR must be a string, not %s", sl_yaml_type_name(n));
		return false;
	}
	err = sl_cidr_parse(s, out);
	if (err == -ERANGE) {
		error_at(c, n, "%s has prefix length %lu; %s allows at most %u", s,
			 strtoul(strchr(s, '/') + 1, NULL, 10),
			 out->a.family == SL_AF_INET ? "IPv4" : "IPv6", sl_addr_max_plen(&out->a));
		return false;
	}
	if (err) {
		error_at(c, n, "'%s' is not a valid address or CIDR", s);
		return false;
	}
	masked = out->a;
	sl_addr_mask(&masked, out->plen);
	if (!sl_addr_eq(&masked, &out->a)) {
		error_at(c, n, "%s has host bits set; did you mean %s/%u?", s,
			 sl_addr_str(&masked, text, sizeof(text)), out->plen);
		return false;
	}
	out->pos = node_pos(c, n);
	return true;
}

static bool parse_port_text(const char *s, uint16_t *port)
{
	unsigned long v;

	if (!sl_all_digits(s) || strlen(s) > 5)
		return false;
	v = strtoul(s, NULL, 10);
	if (v < 1 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* "ip", "ipv4:port" or "[ipv6]:port"; a bare IPv6 address has no port. */
static bool parse_endpoint(struct ctx *c, const yaml_node_t *n, struct sl_endpoint_cfg *ep)
{
	char buf[SL_ADDR_TEXT_MAX];
	const char *s = sl_yaml_scalar(n);
	char *addr = buf, *port = NULL, *colon;

	if (!s) {
		error_at(c, n, "an endpoint must be a string, not %s", sl_yaml_type_name(n));
		return false;
	}
	if (strlen(s) >= sizeof(buf))
		goto invalid;
	strcpy(buf, s);
	memset(ep, 0, sizeof(*ep));

	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close || close[1] != ':')
			goto invalid;
		*close = '\0';
		addr = buf + 1;
		port = close + 2;
	} else {
		colon = strchr(buf, ':');
		/* One colon: IPv4 with a port. More: an IPv6 address alone. */
		if (colon && !strchr(colon + 1, ':')) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (sl_addr_parse(addr, &ep->a))
		goto invalid;
	if (buf[0] == '[' && ep->a.family != SL_AF_INET6)
		goto invalid;
	if (port && !parse_port_text(port, &ep->port)) {
		error_at(c, n, "endpoint '%s' has port '%s'; ports are 1 to 65535", s, port);
		return false;
	}
	ep->pos = node_pos(c, n);
	return true;

invalid:
	error_at(c, n, "endpoint '%s' is not valid; write an address, address:port or [IPv6]:port",
		 s);
	return false;
}

/* Labels: a non-empty mapping of string to string. */
static int parse_labels(struct ctx *c, const yaml_node_t *n, const char *what,
			struct sl_label **out, size_t *n_out)
{
	struct sl_label *labels;
	size_t i, len;

	if (!want_type(c, n, YAML_MAPPING_NODE, what))
		return 0;
	len = sl_yaml_map_len(n);
	if (!len) {
		error_at(c, n, "%s is empty; give at least one label", what);
		return 0;
	}
	check_keys(c, n, NULL, what);
	labels = calloc(len, sizeof(*labels));
	if (!labels)
		return -ENOMEM;
	*out = labels;
	for (i = 0; i < len; i++) {
		const char *k = sl_yaml_scalar(sl_yaml_map_key(c->doc, n, i));
		yaml_node_t *vn = sl_yaml_map_value(c->doc, n, i);
		const char *v = sl_yaml_scalar(vn);
		struct sl_label *l = &labels[*n_out];

		if (!k)
			continue;
		if (!v) {
			error_at(c, vn, "label '%s' must have a string value, not %s", k,
				 sl_yaml_type_name(vn));
			continue;
		}
		l->key = strdup(k);
		l->value = strdup(v);
		if (!l->key || !l->value) {
			free(l->key);
			free(l->value);
			l->key = l->value = NULL;
			return -ENOMEM;
		}
		(*n_out)++;
	}
	return 0;
}

/* A non-empty list of addresses or CIDRs. */
static int parse_cidr_list(struct ctx *c, const yaml_node_t *n, const char *what,
			   struct sl_cidr **out, size_t *n_out)
{
	size_t i, len;

	if (!want_type(c, n, YAML_SEQUENCE_NODE, what))
		return 0;
	len = sl_yaml_seq_len(n);
	if (!len) {
		error_at(c, n, "%s is empty; give at least one address or CIDR", what);
		return 0;
	}
	*out = calloc(len, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < len; i++)
		if (parse_cidr(c, sl_yaml_seq_item(c->doc, n, i), &(*out)[*n_out]))
			(*n_out)++;
	return 0;
}

/* Services */

/* Like a DNS label, with dots allowed: [a-z0-9]([-a-z0-9.]*[a-z0-9])? */
static bool valid_service_name(const char *s)
{
	size_t i, len = strlen(s);

	if (!len)
		return false;
	for (i = 0; i < len; i++) {
		bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');

		if (!alnum && ((s[i] != '-' && s[i] != '.') || i == 0 || i == len - 1))
			return false;
	}
	return true;
}

static bool valid_subset_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

static void parse_name(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
		       const char *label)
{
	struct sl_config *cfg = c->cfg;
	const char *s;
	size_t i;

	if (!want_type(c, n, YAML_SCALAR_NODE, "the name of a service"))
		return;
	s = sl_yaml_scalar(n);
	if (strlen(s) >= SL_NAME_LEN) {
		error_at(c, n, "service name '%s' is %zu characters long; the limit is %d", s,
			 strlen(s), SL_NAME_LEN - 1);
		return;
	}
	if (!valid_service_name(s)) {
		error_at(c, n,
			 "service name '%s' is not valid; use lowercase letters, digits, '-' and "
			 "'.', starting and ending with a letter or digit",
			 s);
		return;
	}
	for (i = 0; i + 1 < cfg->n_services; i++) {
		const struct sl_pos *first = &cfg->services[i].pos;

		if (strcmp(cfg->services[i].name, s))
			continue;
		if (!strcmp(first->file, c->file))
			error_at(c, n,
				 "duplicate service name '%s'; %s is already defined at line %d", s,
				 label, first->line);
		else
			error_at(c, n,
				 "duplicate service name '%s'; %s is already defined at %s:%d", s,
				 label, first->file, first->line);
		return;
	}
	strcpy(svc->name, s);
}

static void parse_vips(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
		       const char *label, int *err)
{
	char what[128], text[INET6_ADDRSTRLEN];
	size_t i, j, len;

	snprintf(what, sizeof(what), "'vips' of %s", label);
	if (!want_type(c, n, YAML_SEQUENCE_NODE, what))
		return;
	len = sl_yaml_seq_len(n);
	if (!len) {
		error_at(c, n, "%s is empty; give at least one address", what);
		return;
	}
	svc->vips = calloc(len, sizeof(*svc->vips));
	if (!svc->vips) {
		*err = -ENOMEM;
		return;
	}
	for (i = 0; i < len; i++) {
		yaml_node_t *vn = sl_yaml_seq_item(c->doc, n, i);
		struct sl_addr *a = &svc->vips[svc->n_vips];
		const char *s = sl_yaml_scalar(vn);

		if (!s) {
			error_at(c, vn, "a VIP must be an address, not %s", sl_yaml_type_name(vn));
			continue;
		}
		if (sl_addr_parse(s, a)) {
			error_at(c, vn, "VIP '%s' is not a valid IPv4 or IPv6 address", s);
			continue;
		}
		for (j = 0; j < svc->n_vips; j++)
			if (sl_addr_eq(&svc->vips[j], a))
				break;
		if (j < svc->n_vips) {
			error_at(c, vn, "duplicate VIP %s in %s",
				 sl_addr_str(a, text, sizeof(text)), label);
			continue;
		}
		svc->n_vips++;
	}
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "UDP" : "TCP";
}

static void parse_port(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
		       const char *label)
{
	struct sl_port_cfg *p = &svc->ports[svc->n_ports];
	char where[160];
	yaml_node_t *v;
	unsigned long val;
	bool ok = true;
	size_t i;

	snprintf(where, sizeof(where), "in a port of %s", label);
	if (!want_type(c, n, YAML_MAPPING_NODE, "a port entry"))
		return;
	check_keys(c, n, port_keys, where);
	p->pos = node_pos(c, n);

	v = sl_yaml_get(c->doc, n, "port");
	if (!v) {
		error_at(c, n, "a port of %s is missing 'port'", label);
		ok = false;
	} else if (parse_uint(c, v, "port", 1, 65535, &val)) {
		p->port = (uint16_t)val;
	} else {
		ok = false;
	}

	p->proto = IPPROTO_TCP;
	v = sl_yaml_get(c->doc, n, "protocol");
	if (v) {
		const char *s = sl_yaml_scalar(v);

		if (s && !strcasecmp(s, "TCP")) {
			p->proto = IPPROTO_TCP;
		} else if (s && !strcasecmp(s, "UDP")) {
			p->proto = IPPROTO_UDP;
		} else {
			error_at(c, v, "protocol '%s' is not supported; expected TCP or UDP",
				 s ? s : sl_yaml_type_name(v));
			ok = false;
		}
	}

	p->target_port = p->port;
	v = sl_yaml_get(c->doc, n, "targetPort");
	if (v) {
		if (parse_uint(c, v, "targetPort", 1, 65535, &val))
			p->target_port = (uint16_t)val;
		else
			ok = false;
	}
	if (!ok)
		return;

	for (i = 0; i < svc->n_ports; i++) {
		if (svc->ports[i].port == p->port && svc->ports[i].proto == p->proto) {
			error_at(c, n, "duplicate port %u/%s in %s (first at line %d)", p->port,
				 proto_name(p->proto), label, svc->ports[i].pos.line);
			return;
		}
	}
	svc->n_ports++;
}

static void parse_ports(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
			const char *label, int *err)
{
	char what[128];
	size_t i, len;

	snprintf(what, sizeof(what), "'ports' of %s", label);
	if (!want_type(c, n, YAML_SEQUENCE_NODE, what))
		return;
	len = sl_yaml_seq_len(n);
	if (!len) {
		error_at(c, n, "%s is empty; give at least one port", what);
		return;
	}
	svc->ports = calloc(len, sizeof(*svc->ports));
	if (!svc->ports) {
		*err = -ENOMEM;
		return;
	}
	for (i = 0; i < len; i++)
		parse_port(c, svc, sl_yaml_seq_item(c->doc, n, i), label);
}

static void parse_endpoints(struct ctx *c, struct sl_subset_cfg *sub, const yaml_node_t *n,
			    const char *label, int *err)
{
	char what[192];
	size_t i, j, len;

	snprintf(what, sizeof(what), "'endpoints' of subset '%s' of %s", sub->name, label);
	if (!want_type(c, n, YAML_SEQUENCE_NODE, what))
		return;
	len = sl_yaml_seq_len(n);
	if (!len)
		return;
	sub->eps = calloc(len, sizeof(*sub->eps));
	if (!sub->eps) {
		*err = -ENOMEM;
		return;
	}
	for (i = 0; i < len; i++) {
		yaml_node_t *en = sl_yaml_seq_item(c->doc, n, i);
		struct sl_endpoint_cfg *ep = &sub->eps[sub->n_eps];

		if (!parse_endpoint(c, en, ep))
			continue;
		for (j = 0; j < sub->n_eps; j++)
			if (sl_addr_eq(&sub->eps[j].a, &ep->a) && sub->eps[j].port == ep->port)
				break;
		if (j < sub->n_eps) {
			error_at(c, en, "duplicate endpoint %s in subset '%s' of %s",
				 sl_yaml_scalar(en), sub->name, label);
			continue;
		}
		sub->n_eps++;
	}
}

/* Returns false if the subsets are unusable, so that routes are not checked against them. */
static bool parse_subsets(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
			  const char *label, int *err)
{
	char what[128], where[160];
	size_t i, len;
	bool ok = true;

	snprintf(what, sizeof(what), "'subsets' of %s", label);
	if (!want_type(c, n, YAML_MAPPING_NODE, what))
		return false;
	len = sl_yaml_map_len(n);
	if (!len) {
		error_at(c, n, "%s has no subsets; give at least one", label);
		return false;
	}
	if (len > SL_MAX_SUBSETS) {
		error_at(c, n, "%s has %zu subsets; the limit is %d", label, len, SL_MAX_SUBSETS);
		return false;
	}
	snprintf(where, sizeof(where), "in the subsets of %s", label);
	check_keys(c, n, NULL, where);
	svc->subsets = calloc(len, sizeof(*svc->subsets));
	if (!svc->subsets) {
		*err = -ENOMEM;
		return false;
	}
	for (i = 0; i < len && !*err; i++) {
		yaml_node_t *kn = sl_yaml_map_key(c->doc, n, i),
			    *vn = sl_yaml_map_value(c->doc, n, i), *eps;
		struct sl_subset_cfg *sub = &svc->subsets[svc->n_subsets];
		const char *name = sl_yaml_scalar(kn);

		if (!name)
			return false;
		/* Keep indexes in file order even past a bad name; splits refer to them. */
		svc->n_subsets++;
		sub->pos = node_pos(c, kn);
		if (strlen(name) >= SL_SUBSET_NAME_LEN) {
			error_at(c, kn, "subset name '%s' is %zu characters long; the limit is %d",
				 name, strlen(name), SL_SUBSET_NAME_LEN - 1);
			ok = false;
		} else if (!valid_subset_name(name)) {
			error_at(c, kn,
				 "subset name '%s' is not valid; use letters, digits, '_', '.' "
				 "and '-'",
				 name);
			ok = false;
		} else {
			strcpy(sub->name, name);
		}

		snprintf(what, sizeof(what), "subset '%s' of %s", name, label);
		if (!want_type(c, vn, YAML_MAPPING_NODE, what))
			continue;
		snprintf(where, sizeof(where), "in subset '%s' of %s", name, label);
		check_keys(c, vn, subset_keys, where);
		eps = sl_yaml_get(c->doc, vn, "endpoints");
		if (!eps) {
			error_at(c, vn, "subset '%s' of %s is missing 'endpoints'", name, label);
			continue;
		}
		parse_endpoints(c, sub, eps, label, err);
		if (!sub->n_eps && eps->type == YAML_SEQUENCE_NODE && !sl_yaml_seq_len(eps))
			warn_at(c, kn, "subset '%s' of %s has no endpoints", name, label);
	}
	return ok && !*err;
}

static void list_subsets(const struct sl_service_cfg *svc, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < svc->n_subsets && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? ", " : "", svc->subsets[i].name);
}

static void parse_split(struct ctx *c, struct sl_service_cfg *svc, struct sl_route_cfg *r,
			const yaml_node_t *n, const char *rlabel, const char *label)
{
	char what[192], names[SL_MAX_SUBSETS * SL_SUBSET_NAME_LEN + 16];
	size_t i, len;
	uint64_t sum = 0;
	bool ok = true;

	snprintf(what, sizeof(what), "the split of %s", rlabel);
	if (!want_type(c, n, YAML_MAPPING_NODE, what))
		return;
	len = sl_yaml_map_len(n);
	if (!len) {
		error_at(c, n, "%s is empty; give a weight for at least one subset", what);
		return;
	}
	snprintf(what, sizeof(what), "in the split of %s", rlabel);
	check_keys(c, n, NULL, what);
	for (i = 0; i < len; i++) {
		yaml_node_t *kn = sl_yaml_map_key(c->doc, n, i),
			    *vn = sl_yaml_map_value(c->doc, n, i);
		const char *name = sl_yaml_scalar(kn), *w = sl_yaml_scalar(vn);
		unsigned long v;
		int idx;

		if (!name) {
			ok = false;
			continue;
		}
		idx = sl_config_subset_index(svc, name);
		if (idx < 0) {
			list_subsets(svc, names, sizeof(names));
			error_at(
			    c, kn,
			    "split names subset '%s', which %s does not have; its subsets are: %s",
			    name, label, names);
			ok = false;
			continue;
		}
		if (w && w[0] == '-' && sl_all_digits(w + 1)) {
			error_at(c, vn, "weight %s of subset '%s' is negative; weights are 0 to %d",
				 w, name, SL_MAX_WEIGHT);
			ok = false;
			continue;
		}
		if (!w || !sl_all_digits(w)) {
			error_at(c, vn, "weight of subset '%s' must be an integer, not %s%s%s",
				 name, w ? "'" : "", w ? w : sl_yaml_type_name(vn), w ? "'" : "");
			ok = false;
			continue;
		}
		errno = 0;
		v = strtoul(w, NULL, 10);
		if (errno || v > SL_MAX_WEIGHT) {
			error_at(c, vn, "weight %s of subset '%s' is too large; the maximum is %d",
				 w, name, SL_MAX_WEIGHT);
			ok = false;
			continue;
		}
		r->weight[idx] = (uint32_t)v;
		sum += v;
		if (v && !svc->subsets[idx].n_eps)
			warn_at(c, vn,
				"split sends traffic to subset '%s' of %s, which has no endpoints",
				name, label);
	}
	if (ok && !sum)
		error_at(c, n,
			 "all weights in this split are 0; at least one subset must get traffic");
}

/*
 * One string match, Istio's shape: {exact|prefix|regex: VALUE}, or {} for
 * "present" (headers only). Appended to *spec as an l7_match.h line.
 */
static int parse_string_match(struct ctx *c, const yaml_node_t *n, const char *kind,
			      const char *name, const char *what, char **spec)
{
	const char *mtype, *val;
	int err;

	if (!want_type(c, n, YAML_MAPPING_NODE, what))
		return 0;
	if (!sl_yaml_map_len(n) && name)
		return sl_l7_spec_add(spec, kind, name, "present", NULL);
	mtype = sl_yaml_scalar(sl_yaml_map_key(c->doc, n, 0));
	val = sl_yaml_scalar(sl_yaml_map_value(c->doc, n, 0));
	if (sl_yaml_map_len(n) != 1 || !mtype ||
	    (strcmp(mtype, "exact") && strcmp(mtype, "prefix") && strcmp(mtype, "regex"))) {
		error_at(c, n, "%s must be one of {exact: S}, {prefix: S}, {regex: S}%s", what,
			 name ? " or {} (present)" : "");
		return 0;
	}
	if (!val) {
		error_at(c, sl_yaml_map_value(c->doc, n, 0), "%s: the %s value must be a string",
			 what, mtype);
		return 0;
	}
	err = sl_l7_spec_add(spec, kind, name, mtype, val);
	if (err == -EINVAL) {
		error_at(c, n, "%s: a header name or value must not contain line breaks", what);
		return 0;
	}
	return err;
}

/* headers, uri, method: the HTTP part of a match, for the L7 step. */
static int parse_http_match(struct ctx *c, struct sl_route_cfg *r, const yaml_node_t *n,
			    const char *rlabel)
{
	static const char *const kinds[] = {"uri", "method"};
	char what[256], why[300], *spec = NULL;
	yaml_node_t *v;
	size_t i;
	int err = 0;

	v = sl_yaml_get(c->doc, n, "headers");
	if (v && want_type(c, v, YAML_MAPPING_NODE, "'headers'")) {
		for (i = 0; i < sl_yaml_map_len(v) && !err; i++) {
			const char *name = sl_yaml_scalar(sl_yaml_map_key(c->doc, v, i));

			snprintf(what, sizeof(what), "header '%s' in the match of %s",
				 name ? name : "?", rlabel);
			if (!name || !*name || strpbrk(name, " \t:")) {
				error_at(c, sl_yaml_map_key(c->doc, v, i), "%s: not a header name",
					 what);
				continue;
			}
			err = parse_string_match(c, sl_yaml_map_value(c->doc, v, i), "header", name,
						 what, &spec);
		}
	}
	for (i = 0; i < 2 && !err; i++) {
		v = sl_yaml_get(c->doc, n, kinds[i]);
		snprintf(what, sizeof(what), "'%s' in the match of %s", kinds[i], rlabel);
		if (v)
			err = parse_string_match(c, v, kinds[i], NULL, what, &spec);
	}
	if (err || !spec)
		goto out;
	r->needs_l7 = true;
	if (sl_l7_spec_check(spec, why, sizeof(why)) == -EINVAL)
		error_at(c, n, "the HTTP match of %s %s", rlabel, why);
	r->l7_spec = spec;
	spec = NULL;
out:
	free(spec);
	return err;
}

static int parse_match(struct ctx *c, struct sl_route_cfg *r, const yaml_node_t *n,
		       const char *rlabel)
{
	char what[192];
	yaml_node_t *v;
	int err;

	snprintf(what, sizeof(what), "the match of %s", rlabel);
	if (!want_type(c, n, YAML_MAPPING_NODE, what))
		return 0;
	if (!sl_yaml_map_len(n)) {
		error_at(c, n,
			 "the match of %s is empty; give sourceCIDRs, sourceLabels, headers, uri "
			 "or method, or leave out match to match all traffic",
			 rlabel);
		return 0;
	}
	snprintf(what, sizeof(what), "in the match of %s", rlabel);
	check_keys(c, n, match_keys, what);

	v = sl_yaml_get(c->doc, n, "sourceCIDRs");
	if (v) {
		r->has_cidrs = true;
		snprintf(what, sizeof(what), "'sourceCIDRs' of %s", rlabel);
		err = parse_cidr_list(c, v, what, &r->cidrs, &r->n_cidrs);
		if (err)
			return err;
	}
	v = sl_yaml_get(c->doc, n, "sourceLabels");
	if (v) {
		r->has_labels = true;
		snprintf(what, sizeof(what), "'sourceLabels' of %s", rlabel);
		err = parse_labels(c, v, what, &r->labels, &r->n_labels);
		if (err)
			return err;
	}
	return parse_http_match(c, r, n, rlabel);
}

static void parse_routes(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *svc_node,
			 const yaml_node_t *n, const char *label, bool subsets_ok, int *err)
{
	char what[128], rlabel[160], where[192];
	size_t i, len;

	if (!n) {
		if (!subsets_ok)
			return;
		if (svc->n_subsets > 1) {
			error_at(c, svc_node,
				 "%s has %zu subsets but no routes; add routes with a split to say "
				 "how traffic is shared",
				 label, svc->n_subsets);
			return;
		}
		/* One subset needs no routing decision: send it everything. */
		svc->routes = calloc(1, sizeof(*svc->routes));
		if (!svc->routes) {
			*err = -ENOMEM;
			return;
		}
		svc->routes[0].weight[0] = 1;
		svc->routes[0].pos = svc->pos;
		svc->n_routes = 1;
		return;
	}

	snprintf(what, sizeof(what), "'routes' of %s", label);
	if (!want_type(c, n, YAML_SEQUENCE_NODE, what))
		return;
	len = sl_yaml_seq_len(n);
	if (!len) {
		error_at(c, n, "%s is empty; give at least one route, or leave it out", what);
		return;
	}
	if (len > SL_MAX_ROUTES) {
		error_at(c, n, "%s has %zu routes; the limit is %d", label, len, SL_MAX_ROUTES);
		return;
	}
	svc->routes = calloc(len, sizeof(*svc->routes));
	if (!svc->routes) {
		*err = -ENOMEM;
		return;
	}
	for (i = 0; i < len && !*err; i++) {
		yaml_node_t *rn = sl_yaml_seq_item(c->doc, n, i), *m, *split;
		struct sl_route_cfg *r = &svc->routes[svc->n_routes];

		snprintf(rlabel, sizeof(rlabel), "route %zu of %s", i + 1, label);
		if (!want_type(c, rn, YAML_MAPPING_NODE, rlabel))
			continue;
		svc->n_routes++;
		r->pos = node_pos(c, rn);
		snprintf(where, sizeof(where), "in %s", rlabel);
		check_keys(c, rn, route_keys, where);

		m = sl_yaml_get(c->doc, rn, "match");
		if (m)
			*err = parse_match(c, r, m, rlabel);
		else if (i + 1 < len)
			error_at(
			    c, rn,
			    "route %zu has no match, so the routes after it can never be chosen",
			    i + 1);
		if (m && i + 1 == len)
			warn_at(c, rn,
				"the last route of %s has a match, so connections that match no "
				"route pass to the VIP untouched",
				label);

		split = sl_yaml_get(c->doc, rn, "split");
		if (!split)
			error_at(c, rn, "%s is missing 'split'", rlabel);
		else if (subsets_ok)
			parse_split(c, svc, r, split, rlabel, label);
	}
}

static bool has_vip(const struct sl_service_cfg *svc, const struct sl_addr *a)
{
	size_t i;

	for (i = 0; i < svc->n_vips; i++)
		if (sl_addr_eq(&svc->vips[i], a))
			return true;
	return false;
}

static bool has_port(const struct sl_service_cfg *svc, const struct sl_port_cfg *p)
{
	size_t i;

	for (i = 0; i < svc->n_ports; i++)
		if (svc->ports[i].port == p->port && svc->ports[i].proto == p->proto)
			return true;
	return false;
}

/* A (VIP, port, protocol) may belong to one service only: it is a map key. */
static void check_keys_unique(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
			      const char *label)
{
	struct sl_config *cfg = c->cfg;
	char text[INET6_ADDRSTRLEN], olabel[SL_NAME_LEN + PATH_MAX + 64];
	size_t s, v, p;

	c->n_keys += svc->n_vips * svc->n_ports;
	if (c->n_keys > SL_MAX_SERVICES && !c->keys_reported) {
		error_at(c, n, "%s brings the number of (VIP, port) pairs to %zu; the limit is %d",
			 label, c->n_keys, SL_MAX_SERVICES);
		c->keys_reported = true;
	}
	/* Past the limit the pairwise check below would only cost time. */
	if (c->keys_reported)
		return;

	for (s = 0; s + 1 < cfg->n_services; s++) {
		const struct sl_service_cfg *o = &cfg->services[s];

		for (v = 0; v < svc->n_vips; v++) {
			if (!has_vip(o, &svc->vips[v]))
				continue;
			/* Named only on a clash: formatting it for every pair is quadratic. */
			if (o->name[0])
				snprintf(olabel, sizeof(olabel), "service '%s'", o->name);
			else
				snprintf(olabel, sizeof(olabel), "service %zu", s + 1);
			/* Another file: say where, or the reader has to search for it. */
			if (strcmp(o->pos.file, c->file))
				snprintf(olabel + strlen(olabel), sizeof(olabel) - strlen(olabel),
					 " at %s:%d", o->pos.file, o->pos.line);
			for (p = 0; p < svc->n_ports; p++)
				if (has_port(o, &svc->ports[p]))
					error_at(c, n,
						 "%s uses VIP %s port %u/%s, which %s already uses",
						 label,
						 sl_addr_str(&svc->vips[v], text, sizeof(text)),
						 svc->ports[p].port,
						 proto_name(svc->ports[p].proto), olabel);
		}
	}
}

static int parse_service(struct ctx *c, const yaml_node_t *n, size_t idx)
{
	struct sl_service_cfg *svc;
	char label[SL_NAME_LEN + 32], where[SL_NAME_LEN + 48];
	yaml_node_t *v, *name;
	bool subsets_ok = false;
	int err = 0;

	snprintf(label, sizeof(label), "service %zu", idx + 1);
	if (!want_type(c, n, YAML_MAPPING_NODE, label))
		return 0;
	svc = &c->cfg->services[c->cfg->n_services++];
	svc->pos = node_pos(c, n);

	/* Name first: every later message names the service. */
	name = sl_yaml_get(c->doc, n, "name");
	if (name && sl_yaml_scalar(name) && name->data.scalar.length)
		snprintf(label, sizeof(label), "service '%.*s'", SL_NAME_LEN, sl_yaml_scalar(name));
	snprintf(where, sizeof(where), "in %s", label);
	check_keys(c, n, service_keys, where);
	if (name)
		parse_name(c, svc, name, label);
	else
		error_at(c, n, "%s is missing 'name'", label);

	v = sl_yaml_get(c->doc, n, "vips");
	if (v)
		parse_vips(c, svc, v, label, &err);
	else
		error_at(c, n, "%s is missing 'vips'", label);
	if (err)
		return err;

	v = sl_yaml_get(c->doc, n, "ports");
	if (v)
		parse_ports(c, svc, v, label, &err);
	else
		error_at(c, n, "%s is missing 'ports'", label);
	if (err)
		return err;

	svc->affinity = SL_AFFINITY_CONNECTION;
	v = sl_yaml_get(c->doc, n, "affinity");
	if (v) {
		const char *s = sl_yaml_scalar(v);

		if (s && !strcmp(s, "connection"))
			svc->affinity = SL_AFFINITY_CONNECTION;
		else if (s && !strcmp(s, "client-ip"))
			svc->affinity = SL_AFFINITY_CLIENT_IP;
		else
			error_at(c, v,
				 "affinity '%s' is not valid; expected connection or client-ip",
				 s ? s : sl_yaml_type_name(v));
	}

	v = sl_yaml_get(c->doc, n, "subsets");
	if (v)
		subsets_ok = parse_subsets(c, svc, v, label, &err);
	else
		error_at(c, n, "%s is missing 'subsets'", label);
	if (err)
		return err;

	parse_routes(c, svc, n, sl_yaml_get(c->doc, n, "routes"), label, subsets_ok, &err);
	if (err)
		return err;

	check_keys_unique(c, svc, n, label);
	return 0;
}

static int parse_workload(struct ctx *c, const yaml_node_t *n, size_t idx)
{
	struct sl_workload_cfg *w;
	char label[48], what[96];
	yaml_node_t *v;
	int err;

	snprintf(label, sizeof(label), "workload %zu", idx + 1);
	if (!want_type(c, n, YAML_MAPPING_NODE, label))
		return 0;
	w = &c->cfg->workloads[c->cfg->n_workloads++];
	w->pos = node_pos(c, n);
	snprintf(what, sizeof(what), "in %s", label);
	check_keys(c, n, workload_keys, what);

	v = sl_yaml_get(c->doc, n, "labels");
	if (v) {
		snprintf(what, sizeof(what), "'labels' of %s", label);
		err = parse_labels(c, v, what, &w->labels, &w->n_labels);
		if (err)
			return err;
	} else {
		error_at(c, n, "%s is missing 'labels'", label);
	}

	v = sl_yaml_get(c->doc, n, "ips");
	if (v) {
		snprintf(what, sizeof(what), "'ips' of %s", label);
		err = parse_cidr_list(c, v, what, &w->cidrs, &w->n_cidrs);
		if (err)
			return err;
	} else {
		error_at(c, n, "%s is missing 'ips'", label);
	}
	return 0;
}

/* A document in sluice's own format: 'services' and/or 'workloads'. */
static int parse_own(struct ctx *c, const yaml_node_t *root)
{
	struct sl_config *cfg = c->cfg;
	yaml_node_t *services, *workloads;
	size_t i, len;
	int err;

	if (!c->own_docs++)
		c->first_own = node_pos(c, root);
	check_keys(c, root, root_keys, "at the top level");

	services = sl_yaml_get(c->doc, root, "services");
	if (services && want_type(c, services, YAML_SEQUENCE_NODE, "'services'")) {
		len = sl_yaml_seq_len(services);
		/* Reported at the end, if no other document has services either. */
		if (!len && !c->empty_services.line)
			c->empty_services = node_pos(c, services);
		c->services_seen += len;
		if (sl_reserve((void **)&cfg->services, &c->services_cap, cfg->n_services, len,
			       sizeof(*cfg->services)))
			return -ENOMEM;
		for (i = 0; i < len; i++) {
			err = parse_service(c, sl_yaml_seq_item(c->doc, services, i), i);
			if (err)
				return err;
		}
	}

	workloads = sl_yaml_get(c->doc, root, "workloads");
	if (workloads && want_type(c, workloads, YAML_SEQUENCE_NODE, "'workloads'")) {
		len = sl_yaml_seq_len(workloads);
		if (sl_reserve((void **)&cfg->workloads, &c->workloads_cap, cfg->n_workloads, len,
			       sizeof(*cfg->workloads)))
			return -ENOMEM;
		for (i = 0; i < len; i++) {
			err = parse_workload(c, sl_yaml_seq_item(c->doc, workloads, i), i);
			if (err)
				return err;
		}
	}
	return 0;
}

static int parse_k8s(struct ctx *c, const yaml_node_t *n, const yaml_node_t *av,
		     const yaml_node_t *kind, bool in_list)
{
	const char *a, *k;
	yaml_node_t *items;
	struct sl_pos pos;
	size_t i;
	int err;

	if (!want_type(c, av, YAML_SCALAR_NODE, "'apiVersion'") ||
	    !want_type(c, kind, YAML_SCALAR_NODE, "'kind'"))
		return 0;
	a = sl_yaml_scalar(av);
	k = sl_yaml_scalar(kind);
	pos = node_pos(c, n);

	/*
	 * `kubectl get ... -o yaml` wraps what it prints in a v1 List; the API
	 * lists one kind as a typed list (VirtualServiceList...).
	 */
	if (!strcmp(k, "List") ||
	    (sl_k8s_kind(a, k) && strlen(k) > 4 && !strcmp(k + strlen(k) - 4, "List"))) {
		if (in_list) {
			error_at(c, n, "a List inside a List is not supported");
			return 0;
		}
		items = sl_yaml_get(c->doc, n, "items");
		if (!items || (items->type == YAML_SCALAR_NODE && !items->data.scalar.length)) {
			pr_debug("%s:%d: an empty List\n", pos.file, pos.line);
			return 0;
		}
		if (!want_type(c, items, YAML_SEQUENCE_NODE, "'items' of a List"))
			return 0;
		for (i = 0; i < sl_yaml_seq_len(items); i++) {
			yaml_node_t *it = sl_yaml_seq_item(c->doc, items, i), *iav, *ik;

			if (it->type != YAML_MAPPING_NODE) {
				error_at(c, it,
					 "item %zu of the List must be a Kubernetes object, not %s",
					 i + 1, sl_yaml_type_name(it));
				continue;
			}
			iav = sl_yaml_get(c->doc, it, "apiVersion");
			ik = sl_yaml_get(c->doc, it, "kind");
			if (!iav || !ik) {
				error_at(
				    c, it,
				    "item %zu of the List is missing '%s'; every item must be a "
				    "Kubernetes object with 'apiVersion' and 'kind'",
				    i + 1, iav ? "kind" : "apiVersion");
				continue;
			}
			err = parse_k8s(c, it, iav, ik, true);
			if (err)
				return err;
		}
		return 0;
	}

	if (sl_k8s_kind(a, k)) {
		if (!c->k8s && !(c->k8s = sl_k8s_new()))
			return -ENOMEM;
		c->k8s_objects++;
		return sl_k8s_add(c->k8s, c->doc, (yaml_node_t *)n, c->file, c->diag);
	}
	pr_debug("%s:%d: skipping %s %s: sluice does not use this kind\n", pos.file, pos.line, a,
		 k);
	return 0;
}

/* "---" with nothing after it; also an explicit null. */
static bool empty_document(const yaml_node_t *root)
{
	const char *s = sl_yaml_scalar(root);

	return s && root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
		!strcmp(s, "NULL"));
}

/* One document: our own format, a Kubernetes object, or nothing. */
static int parse_document(struct ctx *c, const yaml_node_t *root)
{
	yaml_node_t *av, *kind;

	if (empty_document(root)) {
		pr_debug("%s:%d: an empty document\n", c->file, node_pos(c, root).line);
		return 0;
	}
	c->n_docs++;
	if (root->type != YAML_MAPPING_NODE) {
		error_at(c, root, "the top level must be a mapping with a 'services' list, not %s",
			 sl_yaml_type_name(root));
		return 0;
	}
	av = sl_yaml_get(c->doc, root, "apiVersion");
	kind = sl_yaml_get(c->doc, root, "kind");
	if (av && kind)
		return parse_k8s(c, root, av, kind, false);
	if (sl_yaml_get(c->doc, root, "services") || sl_yaml_get(c->doc, root, "workloads"))
		return parse_own(c, root);
	if (av || kind)
		error_at(c, root,
			 "this document has '%s' but no '%s'; a Kubernetes object needs both",
			 av ? "apiVersion" : "kind", av ? "kind" : "apiVersion");
	else
		error_at(c, root,
			 "this document is neither a sluice configuration (with 'services' or "
			 "'workloads') nor a Kubernetes object (with 'apiVersion' and 'kind')");
	check_keys(c, root, root_keys, "at the top level");
	return 0;
}

static void report_yaml_error(struct ctx *c, const yaml_parser_t *parser)
{
	struct sl_pos pos = {
	    .file = c->file,
	    .line = (int)parser->problem_mark.line + 1,
	    .col = (int)parser->problem_mark.column + 1,
	};
	const char *problem = parser->problem ? parser->problem : "cannot parse";

	if (parser->error == YAML_MEMORY_ERROR)
		problem = "out of memory";
	if (parser->context)
		sl_diag_add(c->diag, &pos, "error",
			    "invalid YAML: %s (%s that starts at line %zu, column %zu)", problem,
			    parser->context, parser->context_mark.line + 1,
			    parser->context_mark.column + 1);
	else
		sl_diag_add(c->diag, &pos, "error", "invalid YAML: %s", problem);
}

/* Every document of one file (or buffer) into c->cfg; 0 or -ENOMEM. */
static int parse_stream(struct ctx *c, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int err = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	/* libyaml asserts on a NULL input, even an empty one. */
	yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""),
				     buf ? len : 0);
	for (;;) {
		/* After a syntax error the parser cannot find the next document. */
		if (!yaml_parser_load(&parser, &doc)) {
			report_yaml_error(c, &parser);
			if (parser.error == YAML_MEMORY_ERROR)
				err = -ENOMEM;
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) { /* the end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		c->doc = &doc;
		err = parse_document(c, root);
		c->doc = NULL;
		yaml_document_delete(&doc);
		if (err)
			break;
	}
	yaml_parser_delete(&parser);
	return err;
}

/* Add name to cfg->files and make it the file positions point to. */
static int begin_file(struct ctx *c, const char *name)
{
	struct sl_config *cfg = c->cfg;
	char **files, *copy;

	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	files = realloc(cfg->files, (cfg->n_files + 1) * sizeof(*files));
	if (!files) {
		free(copy);
		return -ENOMEM;
	}
	cfg->files = files;
	cfg->files[cfg->n_files++] = copy;
	c->file = copy;
	return 0;
}

/*
 * A service built from Kubernetes objects against every service before it:
 * the same checks parse_name() and check_keys_unique() make for our own
 * format, with the service's position (its VirtualService host).
 */
static void check_added_service(struct ctx *c, size_t idx)
{
	struct sl_config *cfg = c->cfg;
	const struct sl_service_cfg *svc = &cfg->services[idx];
	char text[INET6_ADDRSTRLEN];
	size_t s, v, p;

	c->n_keys += svc->n_vips * svc->n_ports;
	if (c->n_keys > SL_MAX_SERVICES && !c->keys_reported) {
		sl_diag_add(c->diag, &svc->pos, "error",
			    "service '%s' brings the number of (VIP, port) pairs to %zu; the limit "
			    "is %d",
			    svc->name, c->n_keys, SL_MAX_SERVICES);
		c->keys_reported = true;
	}
	if (c->keys_reported)
		return;
	for (s = 0; s < idx; s++) {
		const struct sl_service_cfg *o = &cfg->services[s];

		if (!strcmp(o->name, svc->name))
			sl_diag_add(c->diag, &svc->pos, "error",
				    "duplicate service name '%s'; it is already defined at %s:%d",
				    svc->name, o->pos.file, o->pos.line);
		for (v = 0; v < svc->n_vips; v++) {
			if (!has_vip(o, &svc->vips[v]))
				continue;
			for (p = 0; p < svc->n_ports; p++)
				if (has_port(o, &svc->ports[p]))
					sl_diag_add(c->diag, &svc->pos, "error",
						    "service '%s' uses VIP %s port %u/%s, which "
						    "service '%s' at %s:%d already uses",
						    svc->name,
						    sl_addr_str(&svc->vips[v], text, sizeof(text)),
						    svc->ports[p].port,
						    proto_name(svc->ports[p].proto), o->name,
						    o->pos.file, o->pos.line);
		}
	}
}

/* Kubernetes and Istio objects into services and workloads, once all are read. */
static int build_k8s(struct ctx *c)
{
	size_t first = c->cfg->n_services, added = 0, i;
	int err;

	if (!c->k8s)
		return 0;
	err = sl_k8s_build(c->k8s, c->cfg, c->diag, &added);
	if (err)
		return err;
	for (i = first; i < first + added; i++)
		check_added_service(c, i);
	c->services_seen += added;
	return 0;
}

/*
 * Whole-config checks once everything is read: at least one service. Said
 * only when nothing else is wrong: with a VirtualService rejected, "no
 * services" would be noise.
 */
static void finish(struct ctx *c, const char *what, size_t errors_before)
{
	struct sl_pos pos = {.file = what};

	if (c->services_seen || c->diag->n_errors > errors_before)
		return;
	if (c->empty_services.line)
		sl_diag_add(c->diag, &c->empty_services, "error",
			    "'services' is empty; at least one service is needed");
	else if (c->own_docs == 1)
		sl_diag_add(c->diag, &c->first_own, "error",
			    "no 'services' at the top level; at least one service is needed");
	else if (c->own_docs)
		sl_diag_add(c->diag, &c->first_own, "error",
			    "no document has 'services'; at least one service is needed");
	else if (c->k8s_objects)
		sl_diag_add(c->diag, &pos, "error",
			    "no VirtualService routes a Service, and there is no sluice "
			    "configuration; at least one service is needed");
	else if (c->cfg->n_files == 1 && !c->n_docs)
		sl_diag_add(c->diag, &(struct sl_pos){c->cfg->files[0], 1, 1}, "error",
			    "the file is empty; it needs a 'services' list");
	else
		sl_diag_add(c->diag, &pos, "error",
			    "no sluice configuration found (only empty documents and kinds "
			    "sluice skips); at least one service is needed");
}

/* FNV-1a, continued from h. */
static uint64_t fnv1a(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV1A_INIT 0xcbf29ce484222325ULL

uint64_t sl_config_digest(const char *buf, size_t len)
{
	return fnv1a(FNV1A_INIT, buf, len);
}

int sl_read_file(const char *path, char **out, size_t *out_len)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, n;
	int err = 0;
	FILE *f;

	*out = NULL;
	*out_len = 0;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 16384;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				err = -ENOMEM;
				goto out;
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	if (ferror(f))
		err = errno ? -errno : -EIO;
out:
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/* Inputs */

bool sl_config_yaml_name(const char *name)
{
	size_t len = strlen(name);

	/* Hidden names are editors' (".#x.yaml" is Emacs' lock, a dangling link). */
	if (name[0] == '.')
		return false;
	return (len > 5 && !strcmp(name + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(name + len - 4, ".yml"));
}

struct file_list {
	char **paths;
	struct stat *st; /* to notice one file given twice */
	size_t n, cap, st_cap;
};

/* Keep the first error, but a system error wins over an invalid input. */
static void keep_err(int *err, int e)
{
	if (e && (!*err || (*err == -EINVAL && e != -EINVAL)))
		*err = e;
}

/* Append path (taken over, freed on error). */
static int push_file(struct file_list *l, char *path, const struct stat *st, struct sl_diag *diag)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (l->st[i].st_dev == st->st_dev && l->st[i].st_ino == st->st_ino) {
			sl_diag_add(diag, &(struct sl_pos){.file = path}, "error",
				    "this is the same file as %s; give each file once",
				    l->paths[i]);
			free(path);
			return -EINVAL;
		}
	}
	if (sl_reserve((void **)&l->paths, &l->cap, l->n, 1, sizeof(*l->paths)) ||
	    sl_reserve((void **)&l->st, &l->st_cap, l->n, 1, sizeof(*l->st))) {
		free(path);
		return -ENOMEM;
	}
	l->st[l->n] = *st;
	l->paths[l->n++] = path;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Like `kubectl apply -f DIR`: its *.yaml and *.yml files, by name, not recursive. */
static int list_dir(struct file_list *l, const char *dir, struct sl_diag *diag)
{
	struct sl_pos pos = {.file = dir};
	size_t n = 0, cap = 0, i, found = 0, dlen = strlen(dir);
	char **names = NULL, *path;
	struct dirent *de;
	struct stat st;
	int err = 0, e;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		err = -errno;
		sl_diag_add(diag, &pos, "error", "cannot read the directory: %s", strerror(-err));
		return err;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				err = -errno;
				sl_diag_add(diag, &pos, "error", "cannot read the directory: %s",
					    strerror(-err));
			}
			break;
		}
		if (!sl_config_yaml_name(de->d_name))
			continue;
		if (sl_reserve((void **)&names, &cap, n, 1, sizeof(*names)) ||
		    !(names[n] = strdup(de->d_name))) {
			err = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (!err)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && !err; i++) {
		if (asprintf(&path, "%s%s%s", dir, dlen && dir[dlen - 1] == '/' ? "" : "/",
			     names[i]) < 0) {
			err = -ENOMEM;
			break;
		}
		if (stat(path, &st)) {
			e = -errno;
			sl_diag_add(diag, &(struct sl_pos){.file = path}, "error",
				    "cannot read the file: %s", strerror(-e));
			keep_err(&err, e);
			free(path);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			pr_debug("%s: not a regular file, skipped\n", path);
			free(path);
			continue;
		}
		found++;
		e = push_file(l, path, &st, diag);
		if (e == -ENOMEM)
			err = e;
		keep_err(&err, e);
	}
	if (!err && !found) {
		sl_diag_add(diag, &pos, "error",
			    "the directory has no *.yaml or *.yml files; sluice reads those");
		err = -EINVAL;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err;
}

int sl_config_list_files(const char *const paths[], size_t n, char ***files, size_t *n_files,
			 struct sl_diag *diag)
{
	struct file_list l = {0};
	struct stat st;
	size_t i;
	int err = 0, e;
	char *copy;

	*files = NULL;
	*n_files = 0;
	if (!n) {
		sl_diag_add(diag, NULL, "error", "no configuration file given");
		return -EINVAL;
	}
	for (i = 0; i < n && err != -ENOMEM; i++) {
		if (stat(paths[i], &st)) {
			e = -errno;
			sl_diag_add(diag, &(struct sl_pos){.file = paths[i]}, "error",
				    "cannot read the file: %s", strerror(-e));
		} else if (S_ISDIR(st.st_mode)) {
			e = list_dir(&l, paths[i], diag);
		} else {
			copy = strdup(paths[i]);
			e = copy ? push_file(&l, copy, &st, diag) : -ENOMEM;
		}
		if (e == -ENOMEM)
			err = e;
		keep_err(&err, e);
	}
	free(l.st);
	*files = l.paths;
	*n_files = l.n;
	return err;
}

void sl_config_free_files(char **files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

/* Loading */

static void load_begin(struct ctx *c, struct sl_diag *diag)
{
	memset(c, 0, sizeof(*c));
	c->diag = diag;
	c->cfg = calloc(1, sizeof(*c->cfg));
}

static int load_end(struct ctx *c, int err, size_t errors_before, struct sl_config **out)
{
	sl_k8s_free(c->k8s);
	c->k8s = NULL;
	if (err == -ENOMEM)
		sl_diag_add(c->diag, NULL, "error", "%s: out of memory",
			    c->file ? c->file : "<input>");
	if (!err && c->diag->n_errors > errors_before)
		err = -EINVAL;
	if (err) {
		sl_config_free(c->cfg);
		return err;
	}
	pr_debug("%s%s: %zu services, %zu workloads\n", c->cfg->files[0],
		 c->cfg->n_files > 1 ? " and the files after it" : "", c->cfg->n_services,
		 c->cfg->n_workloads);
	*out = c->cfg;
	return 0;
}

int sl_config_load_buf(const char *name, const char *buf, size_t len, struct sl_config **out,
		       struct sl_diag *diag)
{
	struct sl_diag local_diag;
	size_t errors_before;
	struct ctx c;
	int err;

	*out = NULL;
	/* The contract promises diagnostics; callers that do not want them pass NULL. */
	if (!diag) {
		sl_diag_init(&local_diag);
		diag = &local_diag;
	}
	errors_before = diag->n_errors;
	load_begin(&c, diag);
	err = c.cfg ? begin_file(&c, name ? name : "<input>") : -ENOMEM;
	if (!err)
		err = parse_stream(&c, buf, len);
	if (!err)
		err = build_k8s(&c);
	if (!err)
		finish(&c, c.file, errors_before);
	err = load_end(&c, err, errors_before, out);
	if (diag == &local_diag)
		sl_diag_free(&local_diag);
	return err;
}

int sl_config_load_paths_digest(const char *const paths[], size_t n, struct sl_config **out,
				struct sl_diag *diag, uint64_t *digest)
{
	return sl_config_load_sources(paths, n, NULL, 0, false, out, diag, digest);
}

int sl_config_load_sources(const char *const paths[], size_t n, const struct sl_config_buf *bufs,
			   size_t n_bufs, bool allow_empty, struct sl_config **out,
			   struct sl_diag *diag, uint64_t *digest)
{
	uint64_t h = FNV1A_INIT;
	struct sl_diag local_diag;
	char **files = NULL, *buf, *what = NULL;
	size_t n_files = 0, len, errors_before, i;
	unsigned char len_le[8];
	bool all_read = true;
	struct ctx c;
	int err = 0, e, j;

	*out = NULL;
	if (digest)
		*digest = 0;
	if (!diag) {
		sl_diag_init(&local_diag);
		diag = &local_diag;
	}
	errors_before = diag->n_errors;
	load_begin(&c, diag);
	if (!c.cfg) {
		err = -ENOMEM;
		goto out;
	}
	if (n) {
		err = sl_config_list_files(paths, n, &files, &n_files, diag);
		all_read = !err && n_files;
	}
	/*
	 * Every source with its length first: the same bytes split differently
	 * differ. A single file: the digest of its bytes alone, as `apply` of
	 * that file records it (sl_config_digest()).
	 */
	for (i = 0; i < n_files + n_bufs && err != -ENOMEM; i++) {
		const char *name;

		if (i < n_files) {
			name = files[i];
			e = sl_read_file(name, &buf, &len);
			if (e) {
				sl_diag_add(diag, &(struct sl_pos){.file = name}, "error",
					    "cannot read the file: %s", strerror(-e));
				keep_err(&err, e);
				all_read = false;
				continue;
			}
		} else {
			name = bufs[i - n_files].name;
			buf = (char *)bufs[i - n_files].data;
			len = bufs[i - n_files].len;
		}
		if (n_bufs || n_files > 1) {
			for (j = 0; j < 8; j++)
				len_le[j] = (unsigned char)((uint64_t)len >> (8 * j));
			h = fnv1a(h, len_le, sizeof(len_le));
		}
		h = fnv1a(h, buf, len);
		e = begin_file(&c, name);
		if (!e)
			e = parse_stream(&c, buf, len);
		if (i < n_files)
			free(buf);
		if (e)
			err = e;
	}
	if (err != -ENOMEM && (e = build_k8s(&c)))
		err = e;
	if (err != -ENOMEM && !allow_empty) {
		what = n ? sl_config_paths_str(paths, n) : NULL;
		finish(&c, what ? what : n ? paths[0] : n_bufs ? bufs[0].name : "<input>",
		       errors_before);
	}
	if (digest && all_read)
		*digest = h;
out:
	if (!err && !c.cfg->n_files && begin_file(&c, "<none>"))
		err = -ENOMEM;
	err = load_end(&c, err, errors_before, out);
	sl_config_free_files(files, n_files);
	free(what);
	if (diag == &local_diag)
		sl_diag_free(&local_diag);
	return err;
}

int sl_config_load_paths(const char *const paths[], size_t n, struct sl_config **out,
			 struct sl_diag *diag)
{
	return sl_config_load_paths_digest(paths, n, out, diag, NULL);
}

int sl_config_load_file(const char *path, struct sl_config **out, struct sl_diag *diag)
{
	return sl_config_load_paths(&path, 1, out, diag);
}

char *sl_config_paths_str(const char *const paths[], size_t n)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(paths[i]) + 2;
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, paths[i]);
	}
	return s;
}
