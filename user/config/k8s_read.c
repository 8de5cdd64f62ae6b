// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Kubernetes and Istio objects, the reading side (k8s.h): the arena that
 * holds what is read, the kinds sluice reads, the helpers every kind is
 * read with (k8s_internal.h), metadata and duplicates, and sl_k8s_add(),
 * which hands each object to the file of its kind. Calls those files and
 * the model.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/k8s_internal.h"
#include "config/yaml_node.h"

#define DEFAULT_NAMESPACE "default"

/*
 * Arena: blocks of ARENA_BLOCK bytes, handed out in order, strings
 * unaligned and the rest aligned for any type. At 10,000 pods a load makes
 * some 170,000 allocations of a few bytes each: one malloc each would take
 * twice the memory.
 */
#define ARENA_BLOCK 65536

struct kblock {
	struct kblock *next;
	size_t used, size;
	max_align_t data[];
};

/* bytes from the arena, at a multiple of align (a power of two); NULL without memory */
static void *arena_get(struct sl_k8s *k, size_t bytes, size_t align)
{
	const size_t room = ARENA_BLOCK - sizeof(struct kblock);
	struct kblock *b = k->mem, *nb;
	size_t at;

	if (k->oom)
		return NULL;
	if (b) {
		at = (b->used + align - 1) & ~(align - 1);
		if (at <= b->size && b->size - at >= bytes) {
			b->used = at + bytes;
			return (char *)b->data + at;
		}
	}
	/* calloc'd: handed out once, every byte is zero */
	nb = calloc(1, sizeof(*nb) + (bytes > room / 4 ? bytes : room));
	if (!nb) {
		k->oom = true;
		return NULL;
	}
	nb->size = bytes > room / 4 ? bytes : room;
	nb->used = bytes;
	if (b && bytes > room / 4) {
		/* a block of its own; the current one still has room for small ones */
		nb->next = b->next;
		b->next = nb;
	} else {
		nb->next = b;
		k->mem = nb;
	}
	return nb->data;
}

void *sl_k8s_alloc(struct sl_k8s *k, size_t n, size_t size)
{
	n = n ? n : 1;
	if (size && n > SIZE_MAX / 2 / size) {
		k->oom = true;
		return NULL;
	}
	return arena_get(k, n * size, sizeof(max_align_t));
}

char *sl_k8s_strdup(struct sl_k8s *k, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = arena_get(k, len, 1);

	if (p)
		memcpy(p, s, len);
	return p;
}

/* Room for one more object in *arr (zeroed); NULL without memory. */
void *sl_k8s_grow(struct sl_k8s *k, void **arr, size_t *n, size_t size)
{
	char *p = realloc(*arr, (*n + 1) * size);

	if (!p) {
		k->oom = true;
		return NULL;
	}
	*arr = p;
	memset(p + *n * size, 0, size);
	return p + (*n)++ * size;
}

struct sl_k8s *sl_k8s_new(bool isolate)
{
	struct sl_k8s *k = calloc(1, sizeof(struct sl_k8s));

	if (k)
		k->isolate = isolate;
	return k;
}

size_t sl_k8s_left_alone(const struct sl_k8s *k)
{
	return k ? k->n_left_alone : 0;
}

void sl_k8s_mark(const struct sl_k8s *k, struct sl_k8s_mark *m)
{
	*m = (struct sl_k8s_mark){k->n_svcs, k->n_pods, k->n_slices,	 k->n_drs,
				  k->n_vss,  k->n_rej,	k->n_left_alone, k->n_canaries};
}

/* What the objects point to stays in the arena until sl_k8s_free(). */
void sl_k8s_forget(struct sl_k8s *k, const struct sl_k8s_mark *m)
{
	k->n_svcs = m->n_svcs;
	k->n_pods = m->n_pods;
	k->n_slices = m->n_slices;
	k->n_drs = m->n_drs;
	k->n_vss = m->n_vss;
	k->n_rej = m->n_rej;
	k->n_left_alone = m->n_left_alone;
	k->n_canaries = m->n_canaries;
}

int sl_k8s_reject(struct sl_k8s *k, struct sl_diag *diag, const struct sl_diag_mark *mark,
		  const char *kind, const struct kmeta *m)
{
	const char *reason = sl_diag_forgive(diag, mark);
	struct krej *r = sl_k8s_grow(k, (void **)&k->rej, &k->n_rej, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->kind = sl_k8s_strdup(k, kind);
	r->ns = sl_k8s_strdup(k, m->ns ? m->ns : "");
	r->name = sl_k8s_strdup(k, m->name ? m->name : "?");
	r->reason = sl_k8s_strdup(k, reason ? reason : "rejected");
	r->pos = m->pos;
	return k->oom ? -ENOMEM : 0;
}

void sl_k8s_free(struct sl_k8s *k)
{
	size_t i;

	if (!k)
		return;
	while (k->mem) {
		struct kblock *next = k->mem->next;

		free(k->mem);
		k->mem = next;
	}
	free(k->svcs);
	free(k->pods);
	free(k->slices);
	free(k->drs);
	free(k->vss);
	free(k->canaries);
	free(k->rej);
	for (i = 0; i < sizeof(k->ix) / sizeof(k->ix[0]); i++)
		free(k->ix[i].slot);
	free(k);
}

/* Kinds */

static const struct {
	const char *group; /* "" for the core group (apiVersion: v1) */
	const char *kind;
} kinds[] = {
    {"networking.istio.io", "VirtualService"},
    {"networking.istio.io", "DestinationRule"},
    {"", "Service"},
    {"", "Pod"},
    {"", "Endpoints"},
    {"discovery.k8s.io", "EndpointSlice"},
    {"sluice.io", "Canary"}, /* k8s_canary.c: a rollout beside a VirtualService */
};

bool sl_k8s_kind(const char *api_version, const char *kind)
{
	const char *slash = strchr(api_version, '/');
	size_t glen = slash ? (size_t)(slash - api_version) : 0;
	size_t klen = strlen(kind), i;

	if (klen > 4 && !strcmp(kind + klen - 4, "List"))
		klen -= 4;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *g = kinds[i].group, *kk = kinds[i].kind;

		if (strlen(g) == glen && !strncmp(g, api_version, glen) && strlen(kk) == klen &&
		    !strncmp(kk, kind, klen))
			return true;
	}
	return false;
}

/* Reading YAML */

struct sl_pos sl_k8s_pos_of(const struct rd *r, const yaml_node_t *n)
{
	struct sl_pos p = {.file = r->file, .line = 1, .col = 1};

	if (n) {
		p.line = (int)n->start_mark.line + 1;
		p.col = (int)n->start_mark.column + 1;
	}
	return p;
}

void sl_k8s_err_at(struct rd *r, const yaml_node_t *n, const char *fmt, ...)
{
	struct sl_pos p = sl_k8s_pos_of(r, n);
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	sl_diag_add(r->diag, &p, "error", "%s", text ? text : fmt);
	free(text);
}

void sl_k8s_warn_at(struct rd *r, const yaml_node_t *n, const char *fmt, ...)
{
	struct sl_pos p = sl_k8s_pos_of(r, n);
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	sl_diag_add(r->diag, &p, "warning", "%s", text ? text : fmt);
	free(text);
}

/* Absent, "~", "null" or nothing: Kubernetes output writes these for unset fields. */
bool sl_k8s_null(const yaml_node_t *n)
{
	const char *s = sl_yaml_scalar(n);

	if (!n)
		return true;
	return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null"));
}

/* Value of key in mapping n; NULL if absent, null, or n is not a mapping. */
yaml_node_t *sl_k8s_get(const struct rd *r, const yaml_node_t *n, const char *key)
{
	yaml_node_t *v = sl_yaml_get(r->doc, n, key);

	return sl_k8s_null(v) ? NULL : v;
}

bool sl_k8s_want(struct rd *r, const yaml_node_t *n, yaml_node_type_t type, const char *what)
{
	if (sl_yaml_is(n, type))
		return true;
	sl_k8s_err_at(r, n, "%s in %s must be %s, not %s", what, r->what, sl_yaml_kind_name(type),
		      sl_yaml_type_name(n));
	return false;
}

/* A plain decimal in [min, max]. */
static bool get_uint(struct rd *r, const yaml_node_t *n, const char *what, unsigned long min,
		     unsigned long max, unsigned long *out)
{
	const char *s = sl_yaml_scalar(n);
	unsigned long v;

	if (!s || !sl_all_digits(s) || strlen(s) > 10) {
		sl_k8s_err_at(r, n, "%s in %s must be an integer, not %s%s%s", what, r->what,
			      s ? "'" : "", s ? s : sl_yaml_type_name(n), s ? "'" : "");
		return false;
	}
	v = strtoul(s, NULL, 10);
	if (v < min || v > max) {
		sl_k8s_err_at(r, n, "%s %s in %s is out of range; it must be %lu to %lu", what, s,
			      r->what, min, max);
		return false;
	}
	*out = v;
	return true;
}

bool sl_k8s_get_port(struct rd *r, const yaml_node_t *n, const char *what, uint16_t *out)
{
	unsigned long v;

	if (!get_uint(r, n, what, 1, 65535, &v))
		return false;
	*out = (uint16_t)v;
	return true;
}

/* TCP (also when absent), UDP; 0 for SCTP and anything else. */
uint8_t sl_k8s_get_proto(const struct rd *r, const yaml_node_t *map)
{
	const char *s = sl_yaml_scalar(sl_k8s_get(r, map, "protocol"));

	if (!s || !strcmp(s, "TCP"))
		return IPPROTO_TCP;
	if (!strcmp(s, "UDP"))
		return IPPROTO_UDP;
	return 0;
}

bool sl_k8s_get_bool(const yaml_node_t *n)
{
	const char *s = sl_yaml_scalar(n);

	return s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"));
}

/* A string (a copy in the arena), or NULL after an error. */
char *sl_k8s_get_str(struct rd *r, const yaml_node_t *n, const char *what)
{
	if (!sl_k8s_want(r, n, YAML_SCALAR_NODE, what))
		return NULL;
	return sl_k8s_strdup(r->k, sl_yaml_scalar(n));
}

int sl_k8s_get_labels(struct rd *r, const yaml_node_t *n, const char *what, struct sl_label **out,
		      size_t *n_out)
{
	size_t i;

	*n_out = 0;
	if (!n)
		return 0;
	if (!sl_k8s_want(r, n, YAML_MAPPING_NODE, what))
		return 0;
	*out = sl_k8s_alloc(r->k, sl_yaml_map_len(n), sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < sl_yaml_map_len(n); i++) {
		const char *key = sl_yaml_scalar(sl_yaml_map_key(r->doc, n, i)),
			   *v = sl_yaml_scalar(sl_yaml_map_value(r->doc, n, i));

		if (!key || !v) {
			sl_k8s_err_at(r, sl_yaml_map_value(r->doc, n, i),
				      "%s in %s must map strings to strings", what, r->what);
			continue;
		}
		(*out)[*n_out].key = sl_k8s_strdup(r->k, key);
		(*out)[*n_out].value = sl_k8s_strdup(r->k, v);
		if (r->k->oom)
			return -ENOMEM;
		(*n_out)++;
	}
	return 0;
}

bool sl_k8s_parse_addr(struct rd *r, const yaml_node_t *n, const char *what, struct sl_addr *a)
{
	const char *s = sl_yaml_scalar(n);

	if (!s || sl_addr_parse(s, a)) {
		sl_k8s_err_at(r, n, "%s in %s is not an IPv4 or IPv6 address: '%s'", what, r->what,
			      s ? s : sl_yaml_type_name(n));
		return false;
	}
	return true;
}

bool sl_k8s_parse_cidr(struct rd *r, const yaml_node_t *n, const char *what, struct sl_cidr *c)
{
	const char *s = sl_yaml_scalar(n);

	if (!s || sl_cidr_parse(s, c)) {
		sl_k8s_err_at(r, n, "%s in %s is not an address or CIDR: '%s'", what, r->what,
			      s ? s : sl_yaml_type_name(n));
		return false;
	}
	/* Istio accepts host bits here; keep the network they describe. */
	sl_addr_mask(&c->a, c->plen);
	c->pos = sl_k8s_pos_of(r, n);
	return true;
}

/* A field sluice reads but does not act on: said once, where it is. */
void sl_k8s_ignored(struct rd *r, const yaml_node_t *key, const char *where, const char *why)
{
	sl_k8s_warn_at(r, key, "'%s' %s of %s is ignored: %s", sl_yaml_scalar(key), where, r->what,
		       why);
}

/* Metadata and duplicates */

int sl_k8s_parse_meta(struct rd *r, const yaml_node_t *obj, const char *kind, struct kmeta *m)
{
	yaml_node_t *md = sl_k8s_get(r, obj, "metadata"), *name, *ns;

	m->pos = sl_k8s_pos_of(r, obj);
	snprintf(r->what, sizeof(r->what), "this %s", kind);
	if (!md || md->type != YAML_MAPPING_NODE || !(name = sl_k8s_get(r, md, "name"))) {
		sl_k8s_err_at(r, md ? md : obj, "this %s has no metadata.name; every %s needs one",
			      kind, kind);
		return -EINVAL;
	}
	if (!sl_k8s_want(r, name, YAML_SCALAR_NODE, "metadata.name"))
		return -EINVAL;
	m->name = sl_k8s_strdup(r->k, sl_yaml_scalar(name));
	m->name_pos = sl_k8s_pos_of(r, name);
	ns = sl_k8s_get(r, md, "namespace");
	if (ns && !sl_k8s_want(r, ns, YAML_SCALAR_NODE, "metadata.namespace"))
		return -EINVAL;
	m->ns = sl_k8s_strdup(r->k, ns ? sl_yaml_scalar(ns) : DEFAULT_NAMESPACE);
	m->created =
	    sl_k8s_strdup(r->k, sl_yaml_scalar(sl_k8s_get(r, md, "creationTimestamp")) ?: "");
	if (r->k->oom)
		return -ENOMEM;
	snprintf(r->what, sizeof(r->what), "%s %s/%s", kind, m->ns, m->name);
	return 0;
}

static void where_str(const struct sl_pos *first, const char *file, char *buf, size_t len)
{
	if (!strcmp(first->file, file))
		snprintf(buf, len, "line %d", first->line);
	else
		snprintf(buf, len, "%s:%d", first->file, first->line);
}

/* Same kind, namespace and name twice: which one would Kubernetes keep? Neither is right. */
bool sl_k8s_duplicate(struct rd *r, const struct kmeta *m, const struct kmeta *first,
		      const char *kind)
{
	char where[PATH_MAX + 16];

	if (strcmp(first->name, m->name) || strcmp(first->ns, m->ns))
		return false;
	where_str(&first->pos, r->file, where, sizeof(where));
	sl_diag_add(r->diag, &m->name_pos, "error",
		    "duplicate %s %s/%s; it is already defined at %s", kind, m->ns, m->name, where);
	return true;
}

_Static_assert(offsetof(struct ksvc, m) == 0 && offsetof(struct kpod, m) == 0 &&
		   offsetof(struct kdr, m) == 0 && offsetof(struct kvs, m) == 0 &&
		   offsetof(struct kcanary, m) == 0,
	       "sl_k8s_seen_before() reads an object's struct kmeta at its start");

static uint64_t meta_hash(const struct kmeta *m)
{
	/* the NUL after the namespace keeps "a"/"bc" and "ab"/"c" apart */
	return sl_fnv1a(sl_fnv1a(SL_FNV1A_INIT, m->ns, strlen(m->ns) + 1), m->name,
			strlen(m->name));
}

static const struct kmeta *meta_at(const void *base, size_t i, size_t size)
{
	return (const struct kmeta *)((const char *)base + i * size);
}

/*
 * ix made to index the n objects at base, with room for one more; false
 * without memory. Objects are only ever added one at a time after a look
 * up, or forgotten (sl_k8s_forget()): then ix is built again.
 */
static bool index_sync(struct kindex *ix, const void *base, size_t n, size_t size)
{
	size_t i, j, cap;

	if (n < ix->n || (n + 1) * 2 > ix->cap) {
		for (cap = ix->cap ? ix->cap : 64; (n + 1) * 2 > cap;)
			cap *= 2;
		free(ix->slot);
		ix->slot = calloc(cap, sizeof(*ix->slot));
		ix->cap = ix->slot ? cap : 0;
		ix->n = 0;
		if (!ix->slot)
			return false;
	}
	for (i = ix->n; i < n; i++) {
		j = meta_hash(meta_at(base, i, size)) & (ix->cap - 1);
		while (ix->slot[j])
			j = (j + 1) & (ix->cap - 1);
		ix->slot[j] = (uint32_t)i + 1;
	}
	ix->n = n;
	return true;
}

bool sl_k8s_seen_before(struct rd *r, const struct kmeta *m, const char *kind, struct kindex *ix,
			const void *base, size_t n, size_t size)
{
	size_t i;

	if (!index_sync(ix, base, n, size)) {
		for (i = 0; i < n; i++)
			if (sl_k8s_duplicate(r, m, meta_at(base, i, size), kind))
				return true;
		return false;
	}
	for (i = meta_hash(m) & (ix->cap - 1); ix->slot[i]; i = (i + 1) & (ix->cap - 1))
		if (sl_k8s_duplicate(r, m, meta_at(base, ix->slot[i] - 1, size), kind))
			return true;
	return false;
}

/*
 * Who an object is, for the list of rejected ones, without a word about
 * what is wrong with its metadata (that was said while reading it).
 */
static void quiet_meta(struct rd *r, const yaml_node_t *obj, struct kmeta *m)
{
	yaml_node_t *md = sl_k8s_get(r, obj, "metadata");
	const char *ns = sl_yaml_scalar(sl_k8s_get(r, md, "namespace"));

	m->name = (char *)sl_yaml_scalar(sl_k8s_get(r, md, "name"));
	m->ns = (char *)(ns ? ns : DEFAULT_NAMESPACE);
	m->pos = sl_k8s_pos_of(r, obj);
}

int sl_k8s_add(struct sl_k8s *k, yaml_document_t *doc, yaml_node_t *obj, const char *file,
	       struct sl_diag *diag)
{
	struct rd r = {.k = k, .doc = doc, .file = file, .diag = diag};
	const char *kind = sl_yaml_scalar(sl_k8s_get(&r, obj, "kind"));
	struct sl_diag_mark dm = sl_diag_mark(diag);
	struct sl_k8s_mark km;
	struct kmeta m;
	int err;

	if (!kind)
		return 0;
	sl_k8s_mark(k, &km);
	if (!strcmp(kind, "Service"))
		err = sl_k8s_add_service(&r, obj);
	else if (!strcmp(kind, "Pod"))
		err = sl_k8s_add_pod(&r, obj);
	else if (!strcmp(kind, "EndpointSlice"))
		err = sl_k8s_add_endpoint_slice(&r, obj);
	else if (!strcmp(kind, "Endpoints"))
		err = sl_k8s_add_endpoints(&r, obj);
	else if (!strcmp(kind, "DestinationRule"))
		err = sl_k8s_add_destination_rule(&r, obj);
	else if (!strcmp(kind, "VirtualService"))
		err = sl_k8s_add_virtual_service(&r, obj);
	else if (!strcmp(kind, "Canary"))
		err = sl_k8s_add_canary(&r, obj);
	else
		err = 0;
	if (err || k->oom)
		return err ? err : -ENOMEM;
	if (!sl_diag_errors_since(diag, &dm)) {
		k->n_left_alone += r.left_alone;
		return 0;
	}
	if (!k->isolate)
		return 0;
	/* Whatever of it was kept goes too: the object is applied whole or not at all. */
	sl_k8s_forget(k, &km);
	quiet_meta(&r, obj, &m);
	return sl_k8s_reject(k, diag, &dm, kind, &m);
}
