// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* JSON values as flow YAML that libyaml always reads back (flow.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/flow.h"

/*
 * libyaml takes an implicit key only up to 1,024 characters as written; a
 * byte may go out as up to 6 (\u0080 for one byte of invalid UTF-8), so a
 * key over this many bytes is written as an explicit key. No Kubernetes
 * name or label key comes near it (253 is their limit).
 */
#define LONG_KEY 128

/* One UTF-8 sequence at s (n > 0 bytes left): its code point and length; -1 if invalid. */
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
	if (!need || n < need)
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

/* s as a double-quoted scalar: printable ASCII as is, the rest escaped. */
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

static void put_value(FILE *f, json_object *o)
{
	bool first = true;
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_object:
		fputc('{', f);
		json_object_object_foreach(o, key, val)
		{
			if (!first)
				fputs(", ", f);
			first = false;
			if (strlen(key) > LONG_KEY)
				fputs("? ", f);
			put_string(f, key, strlen(key));
			fputs(": ", f);
			put_value(f, val);
		}
		fputc('}', f);
		break;
	case json_type_array:
		fputc('[', f);
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			if (i)
				fputs(", ", f);
			put_value(f, json_object_array_get_idx(o, i));
		}
		fputc(']', f);
		break;
	case json_type_string:
		put_string(f, json_object_get_string(o), (size_t)json_object_get_string_len(o));
		break;
	default: /* null, booleans and numbers: ASCII, the same in both */
		fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), f);
		break;
	}
}

char *sl_kube_flow_text(json_object *o, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	put_value(f, o);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}
