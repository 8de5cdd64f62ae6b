/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Walking a JSON text without building it: the members of an object and
 * the elements of an array, each as the span of its text, for a caller
 * that parses them one at a time. A list of 500 pods parsed whole by
 * json-c takes some 60 MB for a moment; one pod at a time, a few KB.
 */
#ifndef SLUICE_KUBE_JSCAN_H
#define SLUICE_KUBE_JSCAN_H

#include <stddef.h>

/* A member of an object: key is its raw text between the quotes, not unescaped. */
typedef int (*sl_jscan_member_fn)(void *arg, const char *key, size_t klen, const char *v,
				  const char *vend);
typedef int (*sl_jscan_elem_fn)(void *arg, const char *v, const char *vend);

/*
 * fn for each member of the object (each element of the array) that is
 * the whole text [s, end) but for blanks around it, in order; the first
 * nonzero return of fn is returned. -EINVAL if the text is not an object
 * (an array), or ends before it does. The values are not checked: only
 * where they end is found.
 */
int sl_jscan_members(const char *s, const char *end, sl_jscan_member_fn fn, void *arg);
int sl_jscan_elements(const char *s, const char *end, sl_jscan_elem_fn fn, void *arg);

#endif /* SLUICE_KUBE_JSCAN_H */
