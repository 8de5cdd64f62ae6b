// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Kubernetes objects without the network (kube_event.h): what kube.c's
 * transfers bring, decoded into the per-kind stores, and the stores
 * rendered for the loader. A server (or whatever answers in its place)
 * decides every byte here: nothing is assumed about the shape of the JSON
 * beyond what is checked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_event.h"

/* Keep what k8s.c reads of the metadata; the rest churns for nothing. */
static json_object *strip(json_object *obj, const char *api_version, const char *kind)
{
	static const char *const keep[] = {"name", "namespace", "labels", "deletionTimestamp",
					   "creationTimestamp"};
	json_object *md, *nmd = json_object_new_object(), *v;
	size_t i;

	if (json_object_object_get_ex(obj, "metadata", &md))
		for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (json_object_object_get_ex(md, keep[i], &v))
				json_object_object_add(nmd, keep[i], json_object_get(v));
	json_object_object_add(obj, "metadata", nmd);
	/* list items carry no apiVersion/kind; watch objects do */
	json_object_object_add(obj, "apiVersion", json_object_new_string(api_version));
	json_object_object_add(obj, "kind", json_object_new_string(kind));
	return obj;
}

static const char *meta_str(json_object *obj, const char *key)
{
	json_object *md, *v;

	if (!json_object_object_get_ex(obj, "metadata", &md) ||
	    !json_object_object_get_ex(md, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static void obj_key(json_object *obj, char *buf, size_t len)
{
	const char *ns = meta_str(obj, "namespace"), *name = meta_str(obj, "name");

	snprintf(buf, len, "%s/%s", ns ? ns : "", name ? name : "");
}

/* Object obj (an object: the caller checks) into store, stripped. */
static void store_put(json_object *store, json_object *obj, const char *api_version,
		      const char *kind)
{
	char key[512];

	obj_key(obj, key, sizeof(key));
	json_object_object_add(store, key, strip(json_object_get(obj), api_version, kind));
}

/* JSON text of exactly len bytes (a NUL inside ends it), or NULL. */
static json_object *parse(const char *text, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, text, (int)(len > 0x7fffffff ? 0x7fffffff : len));
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static bool is_object(json_object *o)
{
	return json_object_is_type(o, json_type_object);
}

int sl_kube_event_decode(const char *line, size_t len, struct sl_kube_event *ev)
{
	static const char *const types[] = {
	    [SL_KUBE_EV_ADDED] = "ADDED",
	    [SL_KUBE_EV_DELETED] = "DELETED",
	    [SL_KUBE_EV_BOOKMARK] = "BOOKMARK",
	    [SL_KUBE_EV_ERROR] = "ERROR",
	};
	json_object *type, *v;
	int i;

	memset(ev, 0, sizeof(*ev));
	ev->root = parse(line, len);
	/* "type": null or "object": 5 are not events (and crashed this once) */
	if (!is_object(ev->root) || !json_object_object_get_ex(ev->root, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    !json_object_object_get_ex(ev->root, "object", &ev->obj) || !is_object(ev->obj))
		return -EINVAL;
	ev->type_name = json_object_get_string(type);
	ev->type = SL_KUBE_EV_OTHER;
	for (i = 0; i < (int)(sizeof(types) / sizeof(types[0])); i++)
		if (!strcmp(ev->type_name, types[i]))
			ev->type = i;
	if (!strcmp(ev->type_name, "MODIFIED"))
		ev->type = SL_KUBE_EV_ADDED;
	if (ev->type == SL_KUBE_EV_ERROR) {
		/* a Status object: code and message are top level, not in metadata */
		if (json_object_object_get_ex(ev->obj, "code", &v))
			ev->code = json_object_get_int(v);
		ev->message = json_object_object_get_ex(ev->obj, "message", &v)
				  ? json_object_get_string(v)
				  : NULL;
		if (!ev->message)
			ev->message = "";
		return 0;
	}
	ev->rv = meta_str(ev->obj, "resourceVersion");
	return 0;
}

void sl_kube_event_free(struct sl_kube_event *ev)
{
	json_object_put(ev->root);
	memset(ev, 0, sizeof(*ev));
}

bool sl_kube_event_apply(json_object *store, const char *api_version, const char *kind,
			 const struct sl_kube_event *ev)
{
	char key[512];

	if (ev->type == SL_KUBE_EV_ADDED) {
		store_put(store, ev->obj, api_version, kind);
		return true;
	}
	if (ev->type == SL_KUBE_EV_DELETED) {
		obj_key(ev->obj, key, sizeof(key));
		if (!json_object_object_get_ex(store, key, NULL))
			return false;
		json_object_object_del(store, key);
		return true;
	}
	return false;
}

int sl_kube_list_decode(const char *body, size_t len, const char *api_version, const char *kind,
			json_object *store, char *rv, size_t rv_len, char *cont, size_t cont_len)
{
	json_object *resp = parse(body, len), *items, *md, *v;
	size_t i;

	snprintf(rv, rv_len, "%s", "");
	snprintf(cont, cont_len, "%s", "");
	if (!is_object(resp) || !json_object_object_get_ex(resp, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		json_object_put(resp);
		return -EINVAL;
	}
	for (i = 0; i < json_object_array_length(items); i++) {
		json_object *o = json_object_array_get_idx(items, i);

		if (is_object(o))
			store_put(store, o, api_version, kind);
	}
	if (json_object_object_get_ex(resp, "metadata", &md)) {
		if (json_object_object_get_ex(md, "resourceVersion", &v) &&
		    json_object_is_type(v, json_type_string))
			snprintf(rv, rv_len, "%s", json_object_get_string(v));
		if (json_object_object_get_ex(md, "continue", &v) &&
		    json_object_is_type(v, json_type_string))
			snprintf(cont, cont_len, "%s", json_object_get_string(v));
	}
	json_object_put(resp);
	return 0;
}

/* One UTF-8 sequence at s (n bytes left): its code point and length; -1 if invalid. */
static long utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
	static const long min[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t need, i;
	long cp;

	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	need = s[0] >= 0xf0 && s[0] < 0xf5 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (s[0] >= 0xf5 || !need || n < need)
		return -1;
	cp = s[0] & (0x7f >> need);
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong, a surrogate or past Unicode: not UTF-8 */
	if (cp < min[need] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -1;
	*len = need;
	return cp;
}

/*
 * A string as a YAML double-quoted scalar. JSON strings may hold any byte,
 * but libyaml refuses invalid UTF-8 and raw characters outside YAML's
 * printable set (DEL, C1 controls...) anywhere in the stream, so one such
 * byte in one object would have every object left out: everything but
 * printable ASCII goes out as an escape of its character (invalid UTF-8:
 * U+FFFD), which reads back as the same text.
 */
static void put_string(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;
	long cp;

	fputc('"', f);
	while (n) {
		cp = utf8_decode(p, n, &len);
		if (cp < 0) {
			cp = 0xfffd;
			len = 1;
		}
		if (cp == '"' || cp == '\\')
			fprintf(f, "\\%c", (int)cp);
		else if (cp >= 0x20 && cp < 0x7f)
			fputc((int)cp, f);
		else
			fprintf(f, cp > 0xffff ? "\\U%08lx" : "\\u%04lx", cp);
		p += len;
		n -= len;
	}
	fputc('"', f);
}

/*
 * libyaml takes a key without "? " only up to 1,024 characters as written;
 * a longer one (no Kubernetes name is) would end the stream there. A byte
 * may go out as up to 6 characters (put_string()).
 */
#define LONG_KEY 128

/* o as YAML in flow style: JSON, but for the escapes and long keys. */
static void put_yaml(FILE *f, json_object *o)
{
	size_t i, n;
	bool first = true;

	switch (json_object_get_type(o)) {
	case json_type_object:
		fputs("{ ", f);
		json_object_object_foreach(o, key, val)
		{
			fputs(first ? "" : ", ", f);
			first = false;
			if (strlen(key) > LONG_KEY)
				fputs("? ", f);
			put_string(f, key, strlen(key));
			fputs(": ", f);
			put_yaml(f, val);
		}
		fputs(first ? "}" : " }", f);
		break;
	case json_type_array:
		fputs("[ ", f);
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			fputs(i ? ", " : "", f);
			put_yaml(f, json_object_array_get_idx(o, i));
		}
		fputs(n ? " ]" : "]", f);
		break;
	case json_type_string:
		put_string(f, json_object_get_string(o), json_object_get_string_len(o));
		break;
	default: /* null, booleans and numbers: ASCII */
		fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), f);
		break;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *sl_kube_render_stores(json_object *const *stores, size_t n_stores, size_t *len)
{
	char *buf = NULL, **keys;
	size_t size = 0, n, i, s;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fputs("# objects from the Kubernetes API, one per line\n", f);
	for (s = 0; s < n_stores; s++) {
		n = 0;
		keys = calloc((size_t)json_object_object_length(stores[s]) + 1, sizeof(*keys));
		if (!keys)
			break;
		json_object_object_foreach(stores[s], key, val)
		{
			(void)val;
			keys[n++] = key;
		}
		qsort(keys, n, sizeof(*keys), cmp_str);
		for (i = 0; i < n; i++) {
			fputs("--- ", f);
			put_yaml(f, json_object_object_get(stores[s], keys[i]));
			fputc('\n', f);
		}
		free(keys);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}
