/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x request heads and Istio-style request matches (HTTPMatchRequest:
 * headers, withoutHeaders, uri, method, authority, ignoreUriCase), evaluated
 * the way Envoy evaluates them. Pure userspace: libc and RE2 (re2_shim.h) only.
 *
 * A match is written as a small line-based text (the "spec") because the same
 * text is stored in a pinned BPF map and printed by bpftool, where an operator
 * should be able to read it as is:
 *
 *	header NAME MTYPE VALUE		header NAME present
 *	without NAME MTYPE VALUE	without NAME present
 *	uri MTYPE VALUE			method MTYPE VALUE
 *	authority MTYPE VALUE		ignore_uri_case
 *
 * MTYPE is exact, prefix or regex (present only for header/without). VALUE is
 * everything after the single space that follows MTYPE, to the end of the
 * line, so it may contain spaces or be empty. Lines are separated by '\n'; a
 * trailing '\n' is optional. Every line must hold; an empty spec matches all.
 */
#ifndef SLUICE_L7_MATCH_H
#define SLUICE_L7_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#define SL_HTTP_MAX_HEADERS 64

/*
 * A header repeated in a request is matched as the ","-join of its values, as
 * Envoy does. exact and prefix compare the pieces in place; a regex needs the
 * joined text in one piece, built on the stack: when the join is longer than
 * this, the regex condition is not met (so a "without ... regex" line is).
 */
#define SL_L7_JOIN_MAX 4096

struct sl_http_hdr {
	const char *name;
	size_t name_len;
	const char *value; /* leading/trailing SP and HTAB trimmed */
	size_t value_len;
};

struct sl_http_head {
	const char *method;
	size_t method_len;
	const char *target; /* request-target as sent, query included */
	size_t target_len;
	struct sl_http_hdr hdr[SL_HTTP_MAX_HEADERS];
	size_t n_hdr;
	size_t head_len; /* bytes up to and including the empty line */
};

/*
 * Parse the head at the start of buf (pointers point into buf). Returns 1 when
 * the head is complete, 0 when more bytes are needed (no empty line yet and
 * nothing invalid so far), -EINVAL when it is not an HTTP/1.0 or 1.1 request
 * head: a bad request line, a header line without ':' or with a space before
 * it, control characters, obsolete line folding, more than
 * SL_HTTP_MAX_HEADERS headers. Bare "\n" line ends are accepted. *h is only
 * meaningful after a return of 1. Never allocates.
 */
int sl_http_parse_head(const char *buf, size_t len, struct sl_http_head *h);

struct sl_l7_match; /* compiled, opaque */

/*
 * Compile a spec. On a mistake return -EINVAL and write one line into err
 * (errlen bytes, may be 0) naming the line and the reason, e.g.
 * "line 2: regex 'a(b': missing closing parenthesis at offset 3".
 * -ENOMEM on allocation failure. *out is NULL on any error.
 */
int sl_l7_match_compile(const char *spec, struct sl_l7_match **out, char *err, size_t errlen);

/*
 * Does the parsed request meet every condition of m? Several threads may
 * evaluate one compiled match at once (RE2 locks its own lazily grown cache,
 * bounded by its max_mem).
 */
bool sl_l7_match_eval(const struct sl_l7_match *m, const struct sl_http_head *h);

void sl_l7_match_free(struct sl_l7_match *m);

/*
 * Can a config carry spec: does it fit sl_l7_specs (SL_L7_SPEC_LEN) and
 * compile? 0; -EINVAL with why set to the tail of an error message ("is
 * 3000 bytes as text; ...", "is invalid: ..."); -ENOMEM.
 */
int sl_l7_spec_check(const char *spec, char *why, size_t len);

/*
 * Is re a regex a match may carry, as Istio's webhook reads one: not empty,
 * at most SL_L7_REGEX_MAX bytes, and valid RE2 syntax? 0; -EINVAL with why
 * set ("is empty", "invalid perl operator '(?=' at offset 3 (...)"); -ENOMEM.
 */
#define SL_L7_REGEX_MAX 1024
int sl_l7_regex_check(const char *re, char *why, size_t len);

/*
 * Append one condition line to a spec being built (*spec is malloc'd and
 * grows; NULL to start). kind is "header", "without", "uri", "method" or
 * "authority"; name is given for header/without only (and lower-cased here),
 * NULL otherwise; mtype is "exact", "prefix", "regex" or "present" (present for
 * header/without only); value is NULL exactly when mtype is "present".
 * Returns 0; -EINVAL for any of those rules broken, a '\n' or '\r' in name or
 * value, or an empty name or one with a space or tab; -ENOMEM (*spec is then
 * unchanged). Regexes are only checked by sl_l7_match_compile().
 */
int sl_l7_spec_add(char **spec, const char *kind, const char *name, const char *mtype,
		   const char *value);

/* Append the line "ignore_uri_case". */
int sl_l7_spec_ignore_uri_case(char **spec);

#endif /* SLUICE_L7_MATCH_H */
