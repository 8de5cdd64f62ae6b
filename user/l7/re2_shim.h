/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * RE2, the regex engine of Envoy (safe_regex) and the syntax Istio's webhook
 * checks, for C: a small shim over libre2's C++ API (re2_shim.cc). Linear
 * time in the subject, so a client cannot make a match slow.
 */
#ifndef SLUICE_RE2_SHIM_H
#define SLUICE_RE2_SHIM_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sl_re2; /* compiled, opaque; immutable once compiled (safe to share between threads) */

/*
 * Compile the len bytes at pat with RE2's default options (UTF-8, as Envoy).
 * 0 and *out set; -EINVAL with *out NULL, err (errlen bytes, may be 0)
 * saying why as RE2 does, and where ("invalid perl operator '(?=' at offset
 * 3", with a hint for look-around and back-references), and *err_off that
 * byte offset in pat; -ENOMEM.
 */
int sl_re2_compile(const char *pat, size_t len, struct sl_re2 **out, char *err, size_t errlen,
		   size_t *err_off);

/* Does the whole of s[0..n) match (RE2::FullMatch)? Never allocates. */
bool sl_re2_full_match(const struct sl_re2 *re, const char *s, size_t n);

void sl_re2_free(struct sl_re2 *re);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_RE2_SHIM_H */
