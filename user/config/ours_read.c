// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice's own format, the document level (ours.h): a document's 'services'
 * and 'workloads', the workloads themselves, and the helpers every part of
 * this format reports through (positions, errors, types, keys) or reads
 * with (labels, CIDRs). Validation problems go to the load's sl_diag; only
 * allocation failures stop the walk. Calls ours_service.c and the model.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ours.h"
#include "config/yaml_node.h"

const char *const sl_ours_root_keys[] = {"services", "workloads", NULL};
static const char *const workload_keys[] = {"labels", "ips", NULL};

/* YAML node helpers */

struct sl_pos sl_ours_node_pos(const struct ctx *c, const yaml_node_t *n)
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
	struct sl_pos pos = sl_ours_node_pos(c, n);

	sl_diag_vadd(c->diag, &pos, kind, fmt, ap);
}

void sl_ours_error_at(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, n, "error", fmt, ap);
	va_end(ap);
}

void sl_ours_warn_at(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, n, "warning", fmt, ap);
	va_end(ap);
}

bool sl_ours_want_type(struct ctx *c, const yaml_node_t *n, yaml_node_type_t type, const char *what)
{
	if (sl_yaml_is(n, type))
		return true;
	sl_ours_error_at(c, n, "%s must be %s, not %s", what, sl_yaml_kind_name(type),
			 sl_yaml_type_name(n));
	return false;
}

const char *sl_ours_cat(char *buf, size_t size, ...)
{
	size_t off = 0, len;
	const char *s;
	va_list ap;

	if (!size)
		return buf;
	va_start(ap, size);
	while ((s = va_arg(ap, const char *)) && off + 1 < size) {
		len = strlen(s);
		if (len > size - 1 - off)
			len = size - 1 - off;
		memcpy(buf + off, s, len);
		off += len;
	}
	va_end(ap);
	buf[off] = '\0';
	return buf;
}

/* "a, b, c": the keys allowed, for the message about one that is not. */
static void list_keys(const char *const *allowed, char *buf, size_t size)
{
	size_t j, off = 0;

	buf[0] = '\0';
	for (j = 0; allowed[j] && off < size; j++)
		off += snprintf(buf + off, size - off, "%s%s", j ? ", " : "", allowed[j]);
}

/*
 * Every key of mapping n must be a string and appear once; with allowed set,
 * it must also be one of those. libyaml itself accepts duplicate keys, and
 * silently using one of two values would hide a mistake.
 */
void sl_ours_check_keys(struct ctx *c, const yaml_node_t *n, const char *const *allowed,
			const char *where)
{
	char expected[256];
	size_t i, j;

	for (i = 0; i < sl_yaml_map_len(n); i++) {
		yaml_node_t *kn = sl_yaml_map_key(c->doc, n, i);
		const char *k = sl_yaml_scalar(kn);

		if (!k) {
			sl_ours_error_at(c, kn, "keys %s must be strings, not %s", where,
					 sl_yaml_type_name(kn));
			continue;
		}
		for (j = 0; j < i; j++) {
			const char *prev = sl_yaml_scalar(sl_yaml_map_key(c->doc, n, j));

			if (prev && !strcmp(prev, k))
				break;
		}
		if (j < i) {
			sl_ours_error_at(c, kn, "duplicate key '%s' %s", k, where);
			continue;
		}
		if (!allowed)
			continue;
		for (j = 0; allowed[j]; j++)
			if (!strcmp(allowed[j], k))
				break;
		if (allowed[j])
			continue;
		list_keys(allowed, expected, sizeof(expected));
		sl_ours_error_at(c, kn, "unknown key '%s' %s; expected one of: %s", k, where,
				 expected);
	}
}

static bool parse_cidr(struct ctx *c, const yaml_node_t *n, struct sl_cidr *out)
{
	char text[INET6_ADDRSTRLEN];
	const char *s = sl_yaml_scalar(n);
	struct sl_addr masked;
	int err;

	if (!s) {
		sl_ours_error_at(c, n, "an address or CIDR must be a string, not %s",
				 sl_yaml_type_name(n));
		return false;
	}
	err = sl_cidr_parse(s, out);
	if (err == -ERANGE) {
		sl_ours_error_at(c, n, "%s has prefix length %lu; %s allows at most %u", s,
				 strtoul(strchr(s, '/') + 1, NULL, 10),
				 out->a.family == SL_AF_INET ? "IPv4" : "IPv6",
				 sl_addr_max_plen(&out->a));
		return false;
	}
	if (err) {
		sl_ours_error_at(c, n, "'%s' is not a valid address or CIDR", s);
		return false;
	}
	masked = out->a;
	sl_addr_mask(&masked, out->plen);
	if (!sl_addr_eq(&masked, &out->a)) {
		sl_ours_error_at(c, n, "%s has host bits set; did you mean %s/%u?", s,
				 sl_addr_str(&masked, text, sizeof(text)), out->plen);
		return false;
	}
	out->pos = sl_ours_node_pos(c, n);
	return true;
}

/* Labels: a non-empty mapping of string to string. */
int sl_ours_parse_labels(struct ctx *c, const yaml_node_t *n, const char *what,
			 struct sl_label **out, size_t *n_out)
{
	struct sl_label *labels;
	size_t i, len;

	if (!sl_ours_want_type(c, n, YAML_MAPPING_NODE, what))
		return 0;
	len = sl_yaml_map_len(n);
	if (!len) {
		sl_ours_error_at(c, n, "%s is empty; give at least one label", what);
		return 0;
	}
	sl_ours_check_keys(c, n, NULL, what);
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
			sl_ours_error_at(c, vn, "label '%s' must have a string value, not %s", k,
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
int sl_ours_parse_cidr_list(struct ctx *c, const yaml_node_t *n, const char *what,
			    struct sl_cidr **out, size_t *n_out)
{
	size_t i, len;

	if (!sl_ours_want_type(c, n, YAML_SEQUENCE_NODE, what))
		return 0;
	len = sl_yaml_seq_len(n);
	if (!len) {
		sl_ours_error_at(c, n, "%s is empty; give at least one address or CIDR", what);
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

static int parse_workload(struct ctx *c, const yaml_node_t *n, size_t idx)
{
	struct sl_workload_cfg *w;
	char label[48], what[96];
	yaml_node_t *v;
	int err;

	snprintf(label, sizeof(label), "workload %zu", idx + 1);
	if (!sl_ours_want_type(c, n, YAML_MAPPING_NODE, label))
		return 0;
	w = &c->cfg->workloads[c->cfg->n_workloads++];
	w->pos = sl_ours_node_pos(c, n);
	snprintf(what, sizeof(what), "in %s", label);
	sl_ours_check_keys(c, n, workload_keys, what);

	v = sl_yaml_get(c->doc, n, "labels");
	if (v) {
		snprintf(what, sizeof(what), "'labels' of %s", label);
		err = sl_ours_parse_labels(c, v, what, &w->labels, &w->n_labels);
		if (err)
			return err;
	} else {
		sl_ours_error_at(c, n, "%s is missing 'labels'", label);
	}

	v = sl_yaml_get(c->doc, n, "ips");
	if (v) {
		snprintf(what, sizeof(what), "'ips' of %s", label);
		err = sl_ours_parse_cidr_list(c, v, what, &w->cidrs, &w->n_cidrs);
		if (err)
			return err;
	} else {
		sl_ours_error_at(c, n, "%s is missing 'ips'", label);
	}
	return 0;
}

/* A document in sluice's own format: 'services' and/or 'workloads'. */
int sl_ours_add(struct ctx *c, const yaml_node_t *root)
{
	struct sl_config *cfg = c->cfg;
	yaml_node_t *services, *workloads;
	size_t i, len;
	int err;

	if (!c->own_docs++)
		c->first_own = sl_ours_node_pos(c, root);
	sl_ours_check_keys(c, root, sl_ours_root_keys, "at the top level");

	services = sl_yaml_get(c->doc, root, "services");
	if (services && sl_ours_want_type(c, services, YAML_SEQUENCE_NODE, "'services'")) {
		/* read already, one by one, while the document was parsed (load.c) */
		len = c->streamed ? c->streamed : sl_yaml_seq_len(services);
		/* Reported at the end, if no other document has services either. */
		if (!len && !c->empty_services.line)
			c->empty_services = sl_ours_node_pos(c, services);
		c->services_seen += len;
		if (sl_reserve((void **)&cfg->services, &c->services_cap, cfg->n_services, len,
			       sizeof(*cfg->services)))
			return -ENOMEM;
		for (i = 0; i < len && !c->streamed; i++) {
			err = sl_ours_parse_service(c, sl_yaml_seq_item(c->doc, services, i), i);
			if (err)
				return err;
		}
	}

	workloads = sl_yaml_get(c->doc, root, "workloads");
	if (workloads && sl_ours_want_type(c, workloads, YAML_SEQUENCE_NODE, "'workloads'")) {
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
