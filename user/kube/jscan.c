// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Walking a JSON text without building it (jscan.h): only strings and
 * brackets are looked at, to find where each value ends. Whatever a value
 * holds is for json-c to check when the caller parses it.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "kube/jscan.h"

static const char *blank(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	return s;
}

/* Past the string whose opening quote is at s; NULL if it does not end. */
static const char *string_end(const char *s, const char *end)
{
	for (s++; s < end; s++) {
		if (*s == '\\')
			s++;
		else if (*s == '"')
			return s + 1;
	}
	return NULL;
}

/* Past the value that starts at s; NULL if it does not end before end. */
static const char *value_end(const char *s, const char *end)
{
	const char *start = s;
	size_t depth = 0;

	if (s >= end)
		return NULL;
	if (*s == '"')
		return string_end(s, end);
	if (*s != '{' && *s != '[') {
		/* a number, true, false or null */
		while (s < end && *s && !strchr(",:{}[]\" \t\r\n", *s))
			s++;
		return s > start ? s : NULL;
	}
	for (; s < end; s++) {
		if (*s == '"') {
			s = string_end(s, end);
			if (!s)
				return NULL;
			s--;
		} else if (*s == '{' || *s == '[') {
			depth++;
		} else if ((*s == '}' || *s == ']') && !--depth) {
			return s + 1;
		}
	}
	return NULL;
}

/* The members of an object (with keys) or the elements of an array. */
static int walk(const char *s, const char *end, bool object, sl_jscan_member_fn member,
		sl_jscan_elem_fn elem, void *arg)
{
	const char open = object ? '{' : '[', close = object ? '}' : ']';
	const char *k = NULL, *kend = NULL, *v, *vend;
	int err;

	s = blank(s, end);
	if (s >= end || *s != open)
		return -EINVAL;
	s = blank(s + 1, end);
	if (s < end && *s == close)
		return blank(s + 1, end) == end ? 0 : -EINVAL;
	for (;;) {
		if (object) {
			if (s >= end || *s != '"' || !(kend = string_end(s, end)))
				return -EINVAL;
			k = s + 1;
			s = blank(kend, end);
			if (s >= end || *s != ':')
				return -EINVAL;
			s = blank(s + 1, end);
		}
		v = s;
		vend = value_end(v, end);
		if (!vend)
			return -EINVAL;
		err = object ? member(arg, k, (size_t)(kend - 1 - k), v, vend) : elem(arg, v, vend);
		if (err)
			return err;
		s = blank(vend, end);
		if (s < end && *s == ',') {
			s = blank(s + 1, end);
			continue;
		}
		return s < end && *s == close && blank(s + 1, end) == end ? 0 : -EINVAL;
	}
}

int sl_jscan_members(const char *s, const char *end, sl_jscan_member_fn fn, void *arg)
{
	return walk(s, end, true, fn, NULL, arg);
}

int sl_jscan_elements(const char *s, const char *end, sl_jscan_elem_fn fn, void *arg)
{
	return walk(s, end, false, NULL, fn, arg);
}
