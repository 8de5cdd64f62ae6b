// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice's own format, one service (ours.h): name, VIPs, ports, affinity,
 * subsets and their endpoints; and the checks across services (a name, a
 * (VIP, port, protocol) used twice, the table limit), also for services
 * built from Kubernetes objects. Calls ours_read.c's helpers, ours_route.c
 * and the model.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/ours.h"
#include "config/yaml_node.h"

static const char *const service_keys[] = {"name",   "vips",	  "ports",	"affinity", "subsets",
					   "routes", "rollout", "perRequest", NULL};
static const char *const port_keys[] = {"port", "protocol", "targetPort", NULL};
static const char *const subset_keys[] = {"endpoints", NULL};

/* Parse a plain decimal in [min, max]; errors name the value as `what`. */
static bool parse_uint(struct ctx *c, const yaml_node_t *n, const char *what, unsigned long min,
		       unsigned long max, unsigned long *out)
{
	const char *s = sl_yaml_scalar(n);
	unsigned long v;

	if (!s || !sl_all_digits(s)) {
		if (s)
			sl_ours_error_at(c, n, "%s must be an integer, not '%s'", what, s);
		else
			sl_ours_error_at(c, n, "%s must be an integer, not %s", what,
					 sl_yaml_type_name(n));
		return false;
	}
	errno = 0;
	v = strtoul(s, NULL, 10);
	if (errno || v < min || v > max) {
		sl_ours_error_at(c, n, "%s %s is out of range; it must be %lu to %lu", what, s, min,
				 max);
		return false;
	}
	*out = v;
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
		sl_ours_error_at(c, n, "an endpoint must be a string, not %s",
				 sl_yaml_type_name(n));
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
		sl_ours_error_at(c, n, "endpoint '%s' has port '%s'; ports are 1 to 65535", s,
				 port);
		return false;
	}
	ep->pos = sl_ours_node_pos(c, n);
	return true;

invalid:
	sl_ours_error_at(
	    c, n, "endpoint '%s' is not valid; write an address, address:port or [IPv6]:port", s);
	return false;
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

/* The first of the services before row `before` named name. */
static bool first_named(const struct ctx *c, const char *name, size_t before, size_t *row)
{
	size_t pos = SL_HIDX_START;
	bool found = false;
	uint32_t r;

	while (sl_hidx_next(&c->names, sl_hash_str(name), &pos, &r))
		if (r < before && (!found || r < *row) && !strcmp(c->cfg->services[r].name, name)) {
			*row = r;
			found = true;
		}
	return found;
}

static void parse_name(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
		       const char *label)
{
	struct sl_config *cfg = c->cfg;
	const char *s;
	size_t i;

	if (!sl_ours_want_type(c, n, YAML_SCALAR_NODE, "the name of a service"))
		return;
	s = sl_yaml_scalar(n);
	if (strlen(s) >= SL_NAME_LEN) {
		sl_ours_error_at(c, n, "service name '%s' is %zu characters long; the limit is %d",
				 s, strlen(s), SL_NAME_LEN - 1);
		return;
	}
	if (!valid_service_name(s)) {
		sl_ours_error_at(
		    c, n,
		    "service name '%s' is not valid; use lowercase letters, digits, '-' and "
		    "'.', starting and ending with a letter or digit",
		    s);
		return;
	}
	if (first_named(c, s, cfg->n_services - 1, &i)) {
		const struct sl_pos *first = &cfg->services[i].pos;

		if (!strcmp(first->file, c->file))
			sl_ours_error_at(
			    c, n, "duplicate service name '%s'; %s is already defined at line %d",
			    s, label, first->line);
		else
			sl_ours_error_at(
			    c, n, "duplicate service name '%s'; %s is already defined at %s:%d", s,
			    label, first->file, first->line);
		return;
	}
	if (sl_hidx_add(&c->names, sl_hash_str(s), cfg->n_services - 1))
		sl_ours_error_at(c, n, "out of memory");
	strcpy(svc->name, s);
}

static void parse_vips(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
		       const char *label, int *err)
{
	char what[128], text[INET6_ADDRSTRLEN];
	size_t i, j, len;

	sl_ours_cat(what, sizeof(what), "'vips' of ", label, NULL);
	if (!sl_ours_want_type(c, n, YAML_SEQUENCE_NODE, what))
		return;
	len = sl_yaml_seq_len(n);
	if (!len) {
		sl_ours_error_at(c, n, "%s is empty; give at least one address", what);
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
			sl_ours_error_at(c, vn, "a VIP must be an address, not %s",
					 sl_yaml_type_name(vn));
			continue;
		}
		if (sl_addr_parse(s, a)) {
			sl_ours_error_at(c, vn, "VIP '%s' is not a valid IPv4 or IPv6 address", s);
			continue;
		}
		for (j = 0; j < svc->n_vips; j++)
			if (sl_addr_eq(&svc->vips[j], a))
				break;
		if (j < svc->n_vips) {
			sl_ours_error_at(c, vn, "duplicate VIP %s in %s",
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

	sl_ours_cat(where, sizeof(where), "in a port of ", label, NULL);
	if (!sl_ours_want_type(c, n, YAML_MAPPING_NODE, "a port entry"))
		return;
	sl_ours_check_keys(c, n, port_keys, where);
	p->pos = sl_ours_node_pos(c, n);

	v = sl_yaml_get(c->doc, n, "port");
	if (!v) {
		sl_ours_error_at(c, n, "a port of %s is missing 'port'", label);
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

		/* HTTP/1.x needs no word; HTTP/2 and gRPC go per request (docs/l7.md) */
		if (s && (!strcasecmp(s, "TCP") || !strcasecmp(s, "HTTP"))) {
			p->proto = IPPROTO_TCP;
		} else if (s && !strcasecmp(s, "HTTP2")) {
			p->mux = SL_MUX_HTTP2;
		} else if (s && !strcasecmp(s, "GRPC")) {
			p->mux = SL_MUX_GRPC;
		} else if (s && !strcasecmp(s, "UDP")) {
			p->proto = IPPROTO_UDP;
		} else {
			sl_ours_error_at(
			    c, v,
			    "protocol '%s' is not supported; expected TCP, HTTP, HTTP2, "
			    "GRPC or UDP",
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
			sl_ours_error_at(c, n, "duplicate port %u/%s in %s (first at line %d)",
					 p->port, proto_name(p->proto), label,
					 svc->ports[i].pos.line);
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

	sl_ours_cat(what, sizeof(what), "'ports' of ", label, NULL);
	if (!sl_ours_want_type(c, n, YAML_SEQUENCE_NODE, what))
		return;
	len = sl_yaml_seq_len(n);
	if (!len) {
		sl_ours_error_at(c, n, "%s is empty; give at least one port", what);
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

	sl_ours_cat(what, sizeof(what), "'endpoints' of subset '", sub->name, "' of ", label, NULL);
	if (!sl_ours_want_type(c, n, YAML_SEQUENCE_NODE, what))
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
			sl_ours_error_at(c, en, "duplicate endpoint %s in subset '%s' of %s",
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

	sl_ours_cat(what, sizeof(what), "'subsets' of ", label, NULL);
	if (!sl_ours_want_type(c, n, YAML_MAPPING_NODE, what))
		return false;
	len = sl_yaml_map_len(n);
	if (!len) {
		sl_ours_error_at(c, n, "%s has no subsets; give at least one", label);
		return false;
	}
	if (len > SL_MAX_SUBSETS) {
		sl_ours_error_at(c, n, "%s has %zu subsets; the limit is %d", label, len,
				 SL_MAX_SUBSETS);
		return false;
	}
	sl_ours_cat(where, sizeof(where), "in the subsets of ", label, NULL);
	sl_ours_check_keys(c, n, NULL, where);
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
		sub->pos = sl_ours_node_pos(c, kn);
		if (strlen(name) >= SL_SUBSET_NAME_LEN) {
			sl_ours_error_at(c, kn,
					 "subset name '%s' is %zu characters long; the limit is %d",
					 name, strlen(name), SL_SUBSET_NAME_LEN - 1);
			ok = false;
		} else if (!valid_subset_name(name)) {
			sl_ours_error_at(
			    c, kn,
			    "subset name '%s' is not valid; use letters, digits, '_', '.' "
			    "and '-'",
			    name);
			ok = false;
		} else {
			strcpy(sub->name, name);
		}

		sl_ours_cat(what, sizeof(what), "subset '", name, "' of ", label, NULL);
		if (!sl_ours_want_type(c, vn, YAML_MAPPING_NODE, what))
			continue;
		sl_ours_cat(where, sizeof(where), "in subset '", name, "' of ", label, NULL);
		sl_ours_check_keys(c, vn, subset_keys, where);
		eps = sl_yaml_get(c->doc, vn, "endpoints");
		if (!eps) {
			sl_ours_error_at(c, vn, "subset '%s' of %s is missing 'endpoints'", name,
					 label);
			continue;
		}
		parse_endpoints(c, sub, eps, label, err);
		if (!sub->n_eps && eps->type == YAML_SEQUENCE_NODE && !sl_yaml_seq_len(eps))
			sl_ours_warn_at(c, kn, "subset '%s' of %s has no endpoints", name, label);
	}
	return ok && !*err;
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

static uint64_t key_hash(const struct sl_addr *a, const struct sl_port_cfg *p)
{
	uint64_t h = sl_hash_bytes(0, &a->family, 1);

	h = sl_hash_bytes(h, a->addr, sizeof(a->addr));
	h = sl_hash_bytes(h, &p->port, sizeof(p->port));
	return sl_hash_bytes(h, &p->proto, 1);
}

static int cmp_row(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The services before row `before` that use (a, p), in order; at most max. */
static size_t key_owners(const struct ctx *c, const struct sl_addr *a, const struct sl_port_cfg *p,
			 size_t before, uint32_t *rows, size_t max)
{
	size_t pos = SL_HIDX_START, n = 0;
	uint32_t r;

	while (n < max && sl_hidx_next(&c->keys, key_hash(a, p), &pos, &r))
		if (r < before && has_vip(&c->cfg->services[r], a) &&
		    has_port(&c->cfg->services[r], p))
			rows[n++] = r;
	qsort(rows, n, sizeof(*rows), cmp_row);
	return n;
}

static void add_keys(struct ctx *c, const struct sl_service_cfg *svc, size_t row)
{
	size_t v, p;

	for (v = 0; v < svc->n_vips; v++)
		for (p = 0; p < svc->n_ports; p++)
			if (sl_hidx_add(&c->keys, key_hash(&svc->vips[v], &svc->ports[p]), row))
				sl_diag_add(c->diag, &svc->pos, "error", "out of memory");
}

#define SL_OWNERS_MAX 16 /* clashes reported per (VIP, port) */

/* A (VIP, port, protocol) may belong to one service only: it is a map key. */
static void check_keys_unique(struct ctx *c, struct sl_service_cfg *svc, const yaml_node_t *n,
			      const char *label)
{
	struct sl_config *cfg = c->cfg;
	char text[INET6_ADDRSTRLEN], olabel[SL_NAME_LEN + PATH_MAX + 64];
	uint32_t rows[SL_OWNERS_MAX];
	size_t row = cfg->n_services - 1, v, p, k, n_rows;

	c->n_keys += svc->n_vips * svc->n_ports;
	if (c->n_keys > SL_MAX_SERVICES && !c->keys_reported) {
		sl_ours_error_at(
		    c, n, "%s brings the number of (VIP, port) pairs to %zu; the limit is %d",
		    label, c->n_keys, SL_MAX_SERVICES);
		c->keys_reported = true;
	}
	/* Past the limit the check below would only cost time. */
	if (c->keys_reported)
		return;

	for (v = 0; v < svc->n_vips; v++)
		for (p = 0; p < svc->n_ports; p++) {
			n_rows = key_owners(c, &svc->vips[v], &svc->ports[p], row, rows,
					    SL_OWNERS_MAX);
			for (k = 0; k < n_rows; k++) {
				const struct sl_service_cfg *o = &cfg->services[rows[k]];

				if (o->name[0])
					snprintf(olabel, sizeof(olabel), "service '%s'", o->name);
				else
					snprintf(olabel, sizeof(olabel), "service %u",
						 rows[k] + 1);
				/* Another file: say where, or the reader has to search for it. */
				if (strcmp(o->pos.file, c->file))
					snprintf(olabel + strlen(olabel),
						 sizeof(olabel) - strlen(olabel), " at %s:%d",
						 o->pos.file, o->pos.line);
				sl_ours_error_at(c, n, "%s uses VIP %s port %u/%s, which %s already uses",
						 label,
						 sl_addr_str(&svc->vips[v], text, sizeof(text)),
						 svc->ports[p].port, proto_name(svc->ports[p].proto),
						 olabel);
			}
		}
	add_keys(c, svc, row);
}

int sl_ours_parse_service(struct ctx *c, const yaml_node_t *n, size_t idx)
{
	struct sl_service_cfg *svc;
	char label[SL_NAME_LEN + 32], where[SL_NAME_LEN + 48];
	yaml_node_t *v, *name;
	bool subsets_ok = false;
	int err = 0;

	if (!sl_yaml_is(n, YAML_MAPPING_NODE)) {
		snprintf(label, sizeof(label), "service %zu", idx + 1);
		sl_ours_want_type(c, n, YAML_MAPPING_NODE, label);
		return 0;
	}
	svc = &c->cfg->services[c->cfg->n_services++];
	svc->pos = sl_ours_node_pos(c, n);

	/* Name first: every later message names the service. */
	name = sl_yaml_get(c->doc, n, "name");
	if (name && sl_yaml_scalar(name) && name->data.scalar.length &&
	    name->data.scalar.length <= SL_NAME_LEN)
		sl_ours_cat(label, sizeof(label), "service '", sl_yaml_scalar(name), "'", NULL);
	else if (name && sl_yaml_scalar(name) && name->data.scalar.length)
		snprintf(label, sizeof(label), "service '%.*s'", SL_NAME_LEN, sl_yaml_scalar(name));
	else
		snprintf(label, sizeof(label), "service %zu", idx + 1);
	sl_ours_cat(where, sizeof(where), "in ", label, NULL);
	sl_ours_check_keys(c, n, service_keys, where);
	if (name)
		parse_name(c, svc, name, label);
	else
		sl_ours_error_at(c, n, "%s is missing 'name'", label);

	v = sl_yaml_get(c->doc, n, "vips");
	if (v)
		parse_vips(c, svc, v, label, &err);
	else
		sl_ours_error_at(c, n, "%s is missing 'vips'", label);
	if (err)
		return err;

	v = sl_yaml_get(c->doc, n, "ports");
	if (v)
		parse_ports(c, svc, v, label, &err);
	else
		sl_ours_error_at(c, n, "%s is missing 'ports'", label);
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
			sl_ours_error_at(
			    c, v, "affinity '%s' is not valid; expected connection or client-ip",
			    s ? s : sl_yaml_type_name(v));
	}

	v = sl_yaml_get(c->doc, n, "perRequest");
	if (v) {
		const char *s = sl_yaml_scalar(v);

		if (s && !strcmp(s, "true"))
			svc->per_request = true;
		else if (!s || strcmp(s, "false"))
			sl_ours_error_at(c, v,
					 "perRequest '%s' is not valid; expected true or false",
					 s ? s : sl_yaml_type_name(v));
	}

	v = sl_yaml_get(c->doc, n, "subsets");
	if (v)
		subsets_ok = parse_subsets(c, svc, v, label, &err);
	else
		sl_ours_error_at(c, n, "%s is missing 'subsets'", label);
	if (err)
		return err;

	sl_ours_parse_routes(c, svc, n, sl_yaml_get(c->doc, n, "routes"), label, subsets_ok, &err);
	if (err)
		return err;

	check_keys_unique(c, svc, n, label);
	v = sl_yaml_get(c->doc, n, "rollout");
	if (v)
		sl_ours_parse_rollout(c, svc, v, label, &err);
	return err;
}

/*
 * A service built from Kubernetes objects against every service before it:
 * the same checks parse_name() and check_keys_unique() make for our own
 * format, with the service's position (its VirtualService host).
 */
void sl_ours_check_added_service(struct ctx *c, size_t idx)
{
	struct sl_config *cfg = c->cfg;
	const struct sl_service_cfg *svc = &cfg->services[idx];
	char text[INET6_ADDRSTRLEN];
	uint32_t rows[SL_OWNERS_MAX];
	size_t s, v, p, k, n_rows;

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
	if (first_named(c, svc->name, idx, &s))
		sl_diag_add(c->diag, &svc->pos, "error",
			    "duplicate service name '%s'; it is already defined at %s:%d", svc->name,
			    cfg->services[s].pos.file, cfg->services[s].pos.line);
	else if (sl_hidx_add(&c->names, sl_hash_str(svc->name), idx))
		sl_diag_add(c->diag, &svc->pos, "error", "out of memory");
	for (v = 0; v < svc->n_vips; v++)
		for (p = 0; p < svc->n_ports; p++) {
			n_rows = key_owners(c, &svc->vips[v], &svc->ports[p], idx, rows,
					    SL_OWNERS_MAX);
			for (k = 0; k < n_rows; k++) {
				const struct sl_service_cfg *o = &cfg->services[rows[k]];

				sl_diag_add(c->diag, &svc->pos, "error",
					    "service '%s' uses VIP %s port %u/%s, which "
					    "service '%s' at %s:%d already uses",
					    svc->name, sl_addr_str(&svc->vips[v], text, sizeof(text)),
					    svc->ports[p].port, proto_name(svc->ports[p].proto),
					    o->name, o->pos.file, o->pos.line);
			}
		}
	add_keys(c, svc, idx);
}
