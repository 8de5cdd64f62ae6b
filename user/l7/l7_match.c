// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Istio-style request matches on a parsed HTTP/1.x request head (the head
 * itself is parsed in l7_http.c).
 *
 * Matching follows what Envoy does with the route Istio generates, since that
 * is what a user moving a VirtualService to sluice will compare against:
 * repeated headers joined with ",", exact and regex URI matches on the path
 * without its query, prefix on the whole path, regexes as full matches.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l7/l7_match.h"
#include "l7/re2_shim.h"
#include "sluice_abi.h"

/* How much of a pattern an error message quotes, so the reason still fits. */
#define QUOTE_MAX 64

enum cond_kind {
	C_HEADER,
	C_URI,
	C_METHOD,
	C_AUTHORITY,
};

enum cond_mtype {
	M_EXACT,
	M_PREFIX,
	M_REGEX,
	M_PRESENT,
};

struct cond {
	enum cond_kind kind;
	enum cond_mtype mtype;
	bool negate;	  /* a "without" line */
	const char *name; /* header/without; points into sl_l7_match.text */
	size_t name_len;
	const char *value; /* not for present; points into sl_l7_match.text */
	size_t value_len;
	struct sl_re2 *re; /* regex only */
};

struct sl_l7_match {
	char *text; /* copy of the spec: names and values point into it */
	struct cond *conds;
	size_t n_conds;
	bool ignore_uri_case;
	bool needs_view; /* some line looks at the URI or the authority */
};

/* What uri and authority lines are matched against. */
struct req_view {
	const char *path; /* query included: what prefix sees */
	size_t path_len;
	size_t bare_len; /* up to the first '?' or '#': what exact and regex see */
	bool has_path;
	const char *authority;
	size_t authority_len;
	bool has_authority;
};

/* The spec's keywords, in the order of kind_names[]. */
enum spec_kw {
	KW_HEADER,
	KW_WITHOUT,
	KW_URI,
	KW_METHOD,
	KW_AUTHORITY,
};

static const char *const kind_names[] = {"header", "without", "uri", "method", "authority", NULL};
static const char *const mtype_names[] = {"exact", "prefix", "regex", "present", NULL};

/* RFC 9110 tchar: what a field name is made of. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* ---- compiling a spec ---------------------------------------------------- */

static int line_err(char *err, size_t errlen, unsigned int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int line_err(char *err, size_t errlen, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return -EINVAL;
	n = snprintf(err, errlen, "line %u: ", line);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Length of the word at s: up to the next space or e. */
static size_t word_len(const char *s, const char *e)
{
	const char *sp = memchr(s, ' ', e - s);

	return sp ? (size_t)(sp - s) : (size_t)(e - s);
}

static int lookup(const char *const *names, const char *w, size_t n)
{
	int i;

	for (i = 0; names[i]; i++)
		if (strlen(names[i]) == n && !memcmp(names[i], w, n))
			return i;
	return -1;
}

/*
 * RE2, as Envoy's safe_regex evaluates a route's regexes (full matches, in
 * linear time: a client's header cannot make a match slow).
 */
static int compile_regex(struct cond *c, unsigned int line, char *err, size_t errlen)
{
	char msg[224];
	size_t off;
	int res;

	res = sl_re2_compile(c->value, c->value_len, &c->re, msg, sizeof(msg), &off);
	if (res == -EINVAL)
		return line_err(err, errlen, line, "regex '%.*s%s': %s",
				(int)(c->value_len > QUOTE_MAX ? QUOTE_MAX : c->value_len),
				c->value, c->value_len > QUOTE_MAX ? "..." : "", msg);
	return res;
}

/* One line [s, e) of the spec. */
static int compile_line(struct sl_l7_match *m, unsigned int line, const char *s, const char *e,
			char *err, size_t errlen)
{
	struct cond *c;
	size_t n, i;
	int kind, mtype;

	if (s == e)
		return line_err(err, errlen, line, "empty line");
	if (memchr(s, '\r', e - s))
		return line_err(err, errlen, line, "carriage return (CRLF line ends?)");

	n = word_len(s, e);
	if (n == strlen("ignore_uri_case") && !memcmp(s, "ignore_uri_case", n)) {
		if (s + n != e)
			return line_err(err, errlen, line, "ignore_uri_case takes no arguments");
		m->ignore_uri_case = true;
		return 0;
	}
	kind = lookup(kind_names, s, n);
	if (kind < 0)
		return line_err(err, errlen, line,
				"unknown keyword '%.*s' (want header, without, uri, method, "
				"authority or ignore_uri_case)",
				(int)(n > QUOTE_MAX ? QUOTE_MAX : n), s);

	/* Counted now so that the cleanup path frees what a failure leaves. */
	c = &m->conds[m->n_conds++];
	s += n;
	switch (kind) {
	case KW_HEADER:
	case KW_WITHOUT:
		c->kind = C_HEADER;
		c->negate = kind == KW_WITHOUT;
		n = s < e ? word_len(s + 1, e) : 0;
		if (!n)
			return line_err(err, errlen, line, "%s: missing header name",
					kind_names[kind]);
		c->name = ++s;
		c->name_len = n;
		for (i = 0; i < n; i++)
			if (!is_tchar(s[i]))
				return line_err(err, errlen, line, "bad header name '%.*s'",
						(int)(n > QUOTE_MAX ? QUOTE_MAX : n), s);
		s += n;
		break;
	case KW_URI:
		c->kind = C_URI;
		m->needs_view = true;
		break;
	case KW_METHOD:
		c->kind = C_METHOD;
		break;
	default:
		c->kind = C_AUTHORITY;
		m->needs_view = true;
		break;
	}

	n = s < e ? word_len(s + 1, e) : 0;
	if (!n)
		return line_err(err, errlen, line, "%s: missing match type", kind_names[kind]);
	s++;
	mtype = lookup(mtype_names, s, n);
	if (mtype < 0)
		return line_err(err, errlen, line,
				"unknown match type '%.*s' (want exact, prefix, regex or present)",
				(int)(n > QUOTE_MAX ? QUOTE_MAX : n), s);
	c->mtype = mtype;
	s += n;

	if (c->mtype == M_PRESENT) {
		if (c->kind != C_HEADER)
			return line_err(err, errlen, line,
					"'present' is only for header and without");
		if (s != e)
			return line_err(err, errlen, line, "'present' takes no value");
		return 0;
	}
	if (s == e)
		return line_err(err, errlen, line, "missing value after '%s'", mtype_names[mtype]);
	c->value = s + 1;
	c->value_len = e - c->value;
	return c->mtype == M_REGEX ? compile_regex(c, line, err, errlen) : 0;
}

int sl_l7_match_compile(const char *spec, struct sl_l7_match **out, char *err, size_t errlen)
{
	struct sl_l7_match *m;
	const char *s, *e, *end;
	unsigned int line = 0;
	size_t len, max_lines = 1;
	int ret = -ENOMEM;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!spec)
		spec = "";
	len = strlen(spec);
	for (s = spec; (s = strchr(s, '\n')); s++)
		max_lines++;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->text = malloc(len + 1);
	m->conds = calloc(max_lines, sizeof(*m->conds));
	if (!m->text || !m->conds)
		goto out_free;
	memcpy(m->text, spec, len + 1);

	/* A final '\n' ends the last line rather than starting an empty one. */
	end = m->text + len;
	for (s = m->text; s < end; s = e + 1) {
		e = memchr(s, '\n', end - s);
		if (!e)
			e = end;
		ret = compile_line(m, ++line, s, e, err, errlen);
		if (ret)
			goto out_free;
	}
	*out = m;
	return 0;

out_free:
	sl_l7_match_free(m);
	return ret;
}

int sl_l7_spec_check(const char *spec, char *why, size_t len)
{
	struct sl_l7_match *m = NULL;
	size_t n = strlen(spec);
	char err[256];
	int res;

	if (n >= SL_L7_SPEC_LEN) {
		snprintf(why, len, "is %zu bytes as text; sluice allows %d", n, SL_L7_SPEC_LEN - 1);
		return -EINVAL;
	}
	res = sl_l7_match_compile(spec, &m, err, sizeof(err));
	if (res == -EINVAL)
		snprintf(why, len, "is invalid: %s", err);
	sl_l7_match_free(m);
	return res;
}

int sl_l7_regex_check(const char *re, char *why, size_t len)
{
	struct sl_re2 *r = NULL;
	size_t n = strlen(re), off;
	int res;

	if (!n) {
		snprintf(why, len, "is empty");
		return -EINVAL;
	}
	if (n > SL_L7_REGEX_MAX) {
		snprintf(why, len, "is %zu bytes long; Istio allows %d", n, SL_L7_REGEX_MAX);
		return -EINVAL;
	}
	res = sl_re2_compile(re, n, &r, why, len, &off);
	sl_re2_free(r);
	return res;
}

void sl_l7_match_free(struct sl_l7_match *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n_conds; i++)
		sl_re2_free(m->conds[i].re);
	free(m->conds);
	free(m->text);
	free(m);
}

/* ---- evaluating ---------------------------------------------------------- */

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Not strncasecmp: values may hold any byte, and the locale must not matter. */
static bool mem_eq(const char *a, const char *b, size_t n, bool nocase)
{
	size_t i;

	if (!n)
		return true;
	if (!nocase)
		return !memcmp(a, b, n);
	for (i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

static bool regex_match(const struct sl_l7_match *m, const struct cond *c, const char *s, size_t n)
{
	return sl_re2_full_match(c->re, s, n);
}

static bool match_str(const struct sl_l7_match *m, const struct cond *c, const char *s, size_t n,
		      bool nocase)
{
	switch (c->mtype) {
	case M_EXACT:
		return n == c->value_len && mem_eq(s, c->value, n, nocase);
	case M_PREFIX:
		return n >= c->value_len && mem_eq(s, c->value, c->value_len, nocase);
	case M_REGEX:
		return regex_match(m, c, s, n);
	case M_PRESENT:
		return true;
	}
	return false;
}

/* Does the ","-join of the values of hit[0..n) start with v? */
static bool joined_has_prefix(const struct sl_http_hdr *const *hit, size_t n, const char *v,
			      size_t vlen)
{
	size_t i, k;

	for (i = 0; i < n && vlen; i++) {
		if (i) {
			if (*v != ',')
				return false;
			v++;
			vlen--;
		}
		k = hit[i]->value_len < vlen ? hit[i]->value_len : vlen;
		if (!mem_eq(hit[i]->value, v, k, false))
			return false;
		v += k;
		vlen -= k;
	}
	return vlen == 0;
}

static bool joined_regex(const struct sl_l7_match *m, const struct cond *c,
			 const struct sl_http_hdr *const *hit, size_t n, size_t total)
{
	char buf[SL_L7_JOIN_MAX];
	size_t i, off = 0;

	if (total > sizeof(buf))
		return false;
	for (i = 0; i < n; i++) {
		if (i)
			buf[off++] = ',';
		memcpy(buf + off, hit[i]->value, hit[i]->value_len);
		off += hit[i]->value_len;
	}
	return regex_match(m, c, buf, off);
}

/* The header condition itself; a "without" line inverts it. */
static bool eval_header(const struct sl_l7_match *m, const struct cond *c,
			const struct sl_http_head *h)
{
	const struct sl_http_hdr *hit[SL_HTTP_MAX_HEADERS];
	size_t n_hdr = h->n_hdr < SL_HTTP_MAX_HEADERS ? h->n_hdr : SL_HTTP_MAX_HEADERS;
	size_t i, n = 0, total;

	for (i = 0; i < n_hdr; i++)
		if (h->hdr[i].name_len == c->name_len &&
		    mem_eq(h->hdr[i].name, c->name, c->name_len, true))
			hit[n++] = &h->hdr[i];
	/*
	 * Istio sets treat_missing_header_as_empty on withoutHeaders matches
	 * with a value: an absent header is "" there (and a regex that takes
	 * "" is not "without").
	 */
	if (!n)
		return c->negate && c->mtype != M_PRESENT && match_str(m, c, "", 0, false);
	if (n == 1)
		return match_str(m, c, hit[0]->value, hit[0]->value_len, false);

	total = n - 1; /* the commas */
	for (i = 0; i < n; i++)
		total += hit[i]->value_len;
	switch (c->mtype) {
	case M_EXACT:
		return total == c->value_len && joined_has_prefix(hit, n, c->value, c->value_len);
	case M_PREFIX:
		return total >= c->value_len && joined_has_prefix(hit, n, c->value, c->value_len);
	case M_REGEX:
		return joined_regex(m, c, hit, n, total);
	case M_PRESENT:
		return true;
	}
	return false;
}

static const struct sl_http_hdr *find_header(const struct sl_http_head *h, const char *name)
{
	size_t n_hdr = h->n_hdr < SL_HTTP_MAX_HEADERS ? h->n_hdr : SL_HTTP_MAX_HEADERS;
	size_t i, len = strlen(name);

	for (i = 0; i < n_hdr; i++)
		if (h->hdr[i].name_len == len && mem_eq(h->hdr[i].name, name, len, true))
			return &h->hdr[i];
	return NULL;
}

/* Length of the scheme prefix if t is absolute-form ("http://..."), else 0. */
static size_t absolute_form(const char *t, size_t n)
{
	if (n >= 7 && mem_eq(t, "http://", 7, true))
		return 7;
	if (n >= 8 && mem_eq(t, "https://", 8, true))
		return 8;
	return 0;
}

static void req_view(const struct sl_http_head *h, struct req_view *v)
{
	const struct sl_http_hdr *host;
	const char *t = h->target;
	size_t n = h->target_len, scheme, i;

	memset(v, 0, sizeof(*v));
	/* authority-form: the target is the authority, and there is no path. */
	if (h->method_len == 7 && !memcmp(h->method, "CONNECT", 7)) {
		v->authority = t;
		v->authority_len = n;
		v->has_authority = true;
		return;
	}

	scheme = absolute_form(t, n);
	if (scheme) {
		/* The target's authority wins over Host (RFC 9112 3.2.2), as in Envoy. */
		for (i = scheme; i < n && t[i] != '/' && t[i] != '?' && t[i] != '#'; i++)
			;
		v->authority = t + scheme;
		v->authority_len = i - scheme;
		v->has_authority = true;
		if (i < n) {
			v->path = t + i;
			v->path_len = n - i;
		} else {
			v->path = "/";
			v->path_len = 1;
		}
	} else {
		v->path = t;
		v->path_len = n;
		host = find_header(h, "host");
		if (host) {
			v->authority = host->value;
			v->authority_len = host->value_len;
			v->has_authority = true;
		}
	}
	v->has_path = true;
	for (i = 0; i < v->path_len && v->path[i] != '?' && v->path[i] != '#'; i++)
		;
	v->bare_len = i;
}

static bool eval_cond(const struct sl_l7_match *m, const struct cond *c,
		      const struct sl_http_head *h, const struct req_view *v)
{
	switch (c->kind) {
	case C_HEADER:
		return eval_header(m, c, h) != c->negate;
	case C_METHOD:
		return match_str(m, c, h->method, h->method_len, false);
	case C_URI:
		if (!v->has_path)
			return false;
		if (c->mtype == M_PREFIX)
			return match_str(m, c, v->path, v->path_len, m->ignore_uri_case);
		/* ignore_uri_case leaves regexes alone, as Envoy does. */
		return match_str(m, c, v->path, v->bare_len,
				 c->mtype == M_EXACT && m->ignore_uri_case);
	case C_AUTHORITY:
		return v->has_authority && match_str(m, c, v->authority, v->authority_len, false);
	}
	return false;
}

bool sl_l7_match_eval(const struct sl_l7_match *m, const struct sl_http_head *h)
{
	struct req_view v = {0};
	size_t i;

	if (m->needs_view)
		req_view(h, &v);
	for (i = 0; i < m->n_conds; i++)
		if (!eval_cond(m, &m->conds[i], h, &v))
			return false;
	return true;
}

/* ---- building a spec ----------------------------------------------------- */

/* Append the n bytes of line and a '\n' to *spec, ending what is there first. */
static int spec_append(char **spec, const char *line, size_t n, char **copy)
{
	size_t old = *spec ? strlen(*spec) : 0;
	bool sep = old && (*spec)[old - 1] != '\n';
	char *s;

	s = realloc(*spec, old + sep + n + 2);
	if (!s)
		return -ENOMEM;
	if (sep)
		s[old++] = '\n';
	memcpy(s + old, line, n);
	s[old + n] = '\n';
	s[old + n + 1] = '\0';
	*spec = s;
	if (copy)
		*copy = s + old;
	return 0;
}

int sl_l7_spec_add(char **spec, const char *kind, const char *name, const char *mtype,
		   const char *value)
{
	char *line = NULL, *copy;
	bool has_name, present;
	size_t i, kind_len;
	int k, n, err;

	if (!spec || !kind || !mtype)
		return -EINVAL;
	k = lookup(kind_names, kind, strlen(kind));
	if (k < 0 || lookup(mtype_names, mtype, strlen(mtype)) < 0)
		return -EINVAL;
	has_name = k == KW_HEADER || k == KW_WITHOUT;
	present = !strcmp(mtype, "present");
	if (has_name != !!name || present != !value || (present && !has_name))
		return -EINVAL;
	if (name && (!*name || strpbrk(name, " \t\r\n")))
		return -EINVAL;
	if (value && strpbrk(value, "\r\n"))
		return -EINVAL;

	n = asprintf(&line, "%s%s%s %s%s%s", kind, name ? " " : "", name ? name : "", mtype,
		     value ? " " : "", value ? value : "");
	if (n < 0)
		return -ENOMEM;
	err = spec_append(spec, line, n, &copy);
	free(line);
	if (err)
		return err;
	/* Lower-cased here so the stored spec reads the way it compares. */
	kind_len = strlen(kind);
	for (i = 0; name && name[i]; i++)
		copy[kind_len + 1 + i] = ascii_lower(name[i]);
	return 0;
}

int sl_l7_spec_ignore_uri_case(char **spec)
{
	if (!spec)
		return -EINVAL;
	return spec_append(spec, "ignore_uri_case", strlen("ignore_uri_case"), NULL);
}
