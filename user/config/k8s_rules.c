// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Istio's validation rules that several fields share, as in its webhook
 * (pkg/config/validation/validation.go and agent/, pkg/config/labels,
 * pkg/config/visibility), and the schema's rule for keys: label maps,
 * gateway names, exportTo, HTTP header names, and which keys a mapping may
 * have. Host names are in k8s_hosts.c. Each reports through k8s_read.c's
 * helpers, naming the field and the object; calls nothing else.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/k8s_internal.h"
#include "config/yaml_node.h"

#define LABEL_NAME_MAX	 63
#define LABEL_PREFIX_MAX 253

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* (?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]: Kubernetes' qualified name part. */
static bool qualified_name(const char *s, size_t n)
{
	size_t i;

	if (!n || !alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	for (i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* A DNS subdomain: labels joined by dots (the prefix of a label key). */
static bool dns_subdomain(const char *s, size_t n)
{
	char label[LABEL_NAME_MAX + 1];
	const char *e = s + n, *dot;
	size_t l;

	if (!n || n > LABEL_PREFIX_MAX)
		return false;
	for (; s <= e; s = dot + 1) {
		dot = memchr(s, '.', e - s);
		if (!dot)
			dot = e;
		l = dot - s;
		if (!l || l > LABEL_NAME_MAX)
			return false;
		memcpy(label, s, l);
		label[l] = '\0';
		if (!sl_k8s_dns_label(label))
			return false;
	}
	return true;
}

/* Istio's labels.Instance.Validate for one key: [PREFIX/]NAME. */
static bool label_key(const char *k)
{
	const char *slash = strchr(k, '/');

	if (slash && !dns_subdomain(k, slash - k))
		return false;
	if (slash)
		k = slash + 1;
	return strlen(k) <= LABEL_NAME_MAX && qualified_name(k, strlen(k));
}

void sl_k8s_check_labels(struct rd *r, const yaml_node_t *map, const char *what)
{
	size_t i;

	if (!map || map->type != YAML_MAPPING_NODE)
		return;
	for (i = 0; i < sl_yaml_map_len(map); i++) {
		yaml_node_t *kn = sl_yaml_map_key(r->doc, map, i), *vn;
		const char *k = sl_yaml_scalar(kn), *v;

		vn = sl_yaml_map_value(r->doc, map, i);
		v = sl_yaml_scalar(vn);
		if (k && !label_key(k))
			sl_k8s_err_at(
			    r, kn,
			    "'%s' in %s of %s is not a valid label key (Istio: invalid tag "
			    "key)",
			    k, what, r->what);
		if (v && *v && !qualified_name(v, strlen(v)))
			sl_k8s_err_at(r, vn,
				      "'%s' in %s of %s is not a valid label value (Istio: invalid "
				      "tag value)",
				      v, what, r->what);
	}
}

/*
 * Istio's validateGatewayNames: NAMESPACE/NAME, both DNS labels, or a
 * legacy FQDN (a warning when it has dots). Like Istio, the names after
 * the first one without a '/' are not looked at.
 */
void sl_k8s_check_gateways(struct rd *r, const yaml_node_t *list, const char *what)
{
	char why[160], ns[256];
	const char *g, *slash;
	yaml_node_t *n;
	size_t i;

	if (!list || list->type != YAML_SEQUENCE_NODE)
		return;
	for (i = 0; i < sl_yaml_seq_len(list); i++) {
		n = sl_yaml_seq_item(r->doc, list, i);
		g = sl_yaml_scalar(n);
		if (!g) {
			sl_k8s_err_at(r, n, "an entry of %s of %s must be a string, not %s", what,
				      r->what, sl_yaml_type_name(n));
			continue;
		}
		slash = strchr(g, '/');
		if (!slash) {
			if (strchr(g, '.'))
				sl_k8s_warn_at(
				    r, n,
				    "gateway '%s' in %s of %s uses the legacy FQDN form; "
				    "Istio prefers NAMESPACE/NAME",
				    g, what, r->what);
			if (sl_k8s_check_domain(g, why, sizeof(why)) || g[0] == '*' ||
			    strchr(g, '*'))
				sl_k8s_err_at(r, n, "gateway '%s' in %s of %s is not a valid name",
					      g, what, r->what);
			return;
		}
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - g), g);
		if (!sl_k8s_dns_label(ns) || !sl_k8s_dns_label(slash + 1))
			sl_k8s_err_at(r, n,
				      "gateway '%s' in %s of %s is not NAMESPACE/NAME with both "
				      "DNS labels",
				      g, what, r->what);
	}
}

/* Does list (gateways) include "mesh", or is it empty or absent (mesh by default)? */
bool sl_k8s_gateways_mesh(struct rd *r, const yaml_node_t *list)
{
	size_t i;

	if (!list || list->type != YAML_SEQUENCE_NODE || !sl_yaml_seq_len(list))
		return true;
	for (i = 0; i < sl_yaml_seq_len(list); i++) {
		const char *g = sl_yaml_scalar(sl_yaml_seq_item(r->doc, list, i));

		if (g && !strcmp(g, "mesh"))
			return true;
	}
	return false;
}

/*
 * Istio's validateExportTo for a VirtualService or DestinationRule: ".",
 * "*" or a namespace (a DNS label); no entry twice ("." counts as the own
 * namespace); "*" alone; never "~" (only a ServiceEntry may say that).
 */
void sl_k8s_check_export_to(struct rd *r, const yaml_node_t *list, const char *ns)
{
	const char *e, *f;
	yaml_node_t *n;
	size_t i, j;

	if (!list || list->type != YAML_SEQUENCE_NODE)
		return;
	for (i = 0; i < sl_yaml_seq_len(list); i++) {
		n = sl_yaml_seq_item(r->doc, list, i);
		e = sl_yaml_scalar(n);
		if (!e)
			continue; /* reported by the reader */
		for (j = 0; j < i; j++) {
			f = sl_yaml_scalar(sl_yaml_seq_item(r->doc, list, j));
			if (f && !strcmp(!strcmp(f, ".") ? ns : f, !strcmp(e, ".") ? ns : e))
				break;
		}
		if (j < i)
			sl_k8s_err_at(r, n, "'%s' is in exportTo of %s twice%s", e, r->what,
				      strcmp(e, f) ? " (\".\" is its own namespace)" : "");
		else if (!strcmp(e, "~"))
			sl_k8s_err_at(
			    r, n,
			    "exportTo \"~\" (none) is not allowed for %s; Istio allows it "
			    "for a ServiceEntry only",
			    r->what);
		else if (strcmp(e, ".") && strcmp(e, "*") && !sl_k8s_dns_label(e))
			sl_k8s_err_at(
			    r, n, "'%s' in exportTo of %s is not \".\", \"*\" or a namespace name",
			    e, r->what);
		else if (!strcmp(e, "*") && sl_yaml_seq_len(list) > 1)
			sl_k8s_err_at(r, n,
				      "exportTo of %s has \"*\" and other entries; \"*\" says all "
				      "namespaces alone",
				      r->what);
	}
}

/* RFC 9110 tchar, Istio's validHeaderNameRegex. */
static bool tchar(char c)
{
	return alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int sl_k8s_header_name(const char *name)
{
	static const char *const pseudo[] = {":method", ":scheme", ":authority",
					     ":path",	":status", NULL};
	static const char claims[] = "@request.auth.claims";
	const char *p;
	size_t i;

	if (!strncasecmp(name, claims, sizeof(claims) - 1)) {
		p = name + sizeof(claims) - 1;
		if ((p[0] == '.' && p[1]) ||
		    (p[0] == '[' && strlen(p) > 2 && p[strlen(p) - 1] == ']'))
			return SL_K8S_HDR_JWT;
	}
	for (i = 0; pseudo[i]; i++)
		if (!strcmp(name, pseudo[i]))
			return SL_K8S_HDR_PSEUDO;
	if (!*name)
		return SL_K8S_HDR_BAD;
	for (p = name; *p; p++)
		if (!tchar(*p))
			return SL_K8S_HDR_BAD;
	return SL_K8S_HDR_OK;
}

static bool listed(const char *const list[], const char *key)
{
	size_t i;

	for (i = 0; list && list[i]; i++)
		if (!strcmp(list[i], key))
			return true;
	return false;
}

/*
 * The keys of map: each in used[] is read; each in unsupported[] is an
 * Istio field sluice does not act on (a warning saying why, NOT_DONE when
 * NULL); any other is not in
 * Istio's schema, which the API server refuses (an error: a typo must
 * never widen what a route or subset selects).
 */
void sl_k8s_check_keys(struct rd *r, const yaml_node_t *map, const char *const used[],
		       const char *const unsupported[], const char *where, const char *why)
{
	size_t i;

	if (!map || map->type != YAML_MAPPING_NODE)
		return;
	for (i = 0; i < sl_yaml_map_len(map); i++) {
		yaml_node_t *kn = sl_yaml_map_key(r->doc, map, i);
		const char *key = sl_yaml_scalar(kn);

		if (key && listed(used, key))
			continue;
		if (key && listed(unsupported, key))
			sl_k8s_ignored(r, kn, where, why ? why : NOT_DONE);
		else
			sl_k8s_err_at(r, kn, "'%s' %s of %s is not an Istio field (a typo?)",
				      key ? key : "?", where, r->what);
	}
}
