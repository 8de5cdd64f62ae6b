// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/1.x head parser and Istio-style match tests: one behaviour per test.
 * The match tests pin Envoy's semantics (what a VirtualService does under
 * Istio), since that is what users will compare sluice against.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* cmocka fixes the test signature; most tests have no use for state. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "l7/l7_match.h"

/* What curl 8 sends for `curl -H 'canary: canary-tester' http://shop.example:8080/...`. */
static const char curl_head[] = "GET /api/v1/items?id=7 HTTP/1.1\r\n"
				"Host: shop.example:8080\r\n"
				"User-Agent: curl/8.5.0\r\n"
				"Accept: */*\r\n"
				"canary: canary-tester\r\n"
				"\r\n";

/* A request with the given header lines (each ending in "\r\n"). */
#define REQ(hdrs)      "GET /shop/Items?q=1 HTTP/1.1\r\nHost: shop.example\r\n" hdrs "\r\n"
#define REQ_TO(target) "GET " target " HTTP/1.1\r\nHost: shop.example\r\n\r\n"

static int parse(const char *req, struct sl_http_head *h)
{
	return sl_http_parse_head(req, strlen(req), h);
}

/* Compile spec (which must be valid), evaluate it against req, free it. */
static bool matches(const char *spec, const char *req)
{
	struct sl_l7_match *m;
	struct sl_http_head h;
	char err[256];
	bool r;

	assert_int_equal(parse(req, &h), 1);
	if (sl_l7_match_compile(spec, &m, err, sizeof(err)))
		fail_msg("spec rejected: %s", err);
	r = sl_l7_match_eval(m, &h);
	sl_l7_match_free(m);
	return r;
}

/* spec fails to compile with exactly msg, and *out is NULL. */
static void assert_compile_error(const char *spec, const char *msg)
{
	struct sl_l7_match *m = (struct sl_l7_match *)&m;
	char err[256];

	assert_int_equal(sl_l7_match_compile(spec, &m, err, sizeof(err)), -EINVAL);
	assert_null(m);
	assert_string_equal(err, msg);
}

static bool hdr_is(const struct sl_http_hdr *hd, const char *name, const char *value)
{
	return hd->name_len == strlen(name) && !memcmp(hd->name, name, hd->name_len) &&
	       hd->value_len == strlen(value) && !memcmp(hd->value, value, hd->value_len);
}

/* ---- parsing ------------------------------------------------------------- */

static void test_parse_complete_head(void **state)
{
	char buf[sizeof(curl_head) + 16];
	struct sl_http_head h;

	/* Body bytes after the head must not count. */
	snprintf(buf, sizeof(buf), "%sbody", curl_head);
	assert_int_equal(sl_http_parse_head(buf, strlen(buf), &h), 1);
	assert_int_equal(h.head_len, strlen(curl_head));
	assert_int_equal(h.method_len, 3);
	assert_memory_equal(h.method, "GET", 3);
	assert_int_equal(h.target_len, strlen("/api/v1/items?id=7"));
	assert_memory_equal(h.target, "/api/v1/items?id=7", h.target_len);
	assert_ptr_equal(h.method, buf);
	assert_int_equal(h.n_hdr, 4);
	assert_true(hdr_is(&h.hdr[0], "Host", "shop.example:8080"));
	assert_true(hdr_is(&h.hdr[1], "User-Agent", "curl/8.5.0"));
	assert_true(hdr_is(&h.hdr[2], "Accept", "*/*"));
	assert_true(hdr_is(&h.hdr[3], "canary", "canary-tester"));
}

static void test_parse_byte_at_a_time(void **state)
{
	size_t n = strlen(curl_head), i;
	struct sl_http_head h;

	for (i = 0; i < n; i++)
		if (sl_http_parse_head(curl_head, i, &h) != 0)
			fail_msg("%zu of %zu bytes: expected 0", i, n);
	assert_int_equal(sl_http_parse_head(curl_head, n, &h), 1);
	assert_int_equal(h.head_len, n);
}

static void test_parse_lf_only(void **state)
{
	static const char req[] = "GET / HTTP/1.0\nHost: a\nX-Mixed: b\r\n\n";
	struct sl_http_head h;

	assert_int_equal(parse(req, &h), 1);
	assert_int_equal(h.head_len, strlen(req));
	assert_int_equal(h.n_hdr, 2);
	assert_true(hdr_is(&h.hdr[0], "Host", "a"));
	assert_true(hdr_is(&h.hdr[1], "X-Mixed", "b"));
	assert_int_equal(parse("GET / HTTP/1.1\nHost: a\n", &h), 0);
}

static void test_parse_value_trimming(void **state)
{
	struct sl_http_head h;

	assert_int_equal(parse(REQ("a: \t x  y \t\r\nb:\r\nc:   \r\n"), &h), 1);
	assert_int_equal(h.n_hdr, 4);
	assert_true(hdr_is(&h.hdr[1], "a", "x  y"));
	assert_true(hdr_is(&h.hdr[2], "b", ""));
	assert_true(hdr_is(&h.hdr[3], "c", ""));
}

static void test_parse_name_case_kept(void **state)
{
	struct sl_http_head h;

	assert_int_equal(parse(REQ("x-lower: 1\r\nX-UPPER: 2\r\n"), &h), 1);
	assert_true(hdr_is(&h.hdr[1], "x-lower", "1"));
	assert_true(hdr_is(&h.hdr[2], "X-UPPER", "2"));
	/* And a match on a lower-case name finds both spellings. */
	assert_true(matches("header x-upper exact 2", REQ("X-UPPER: 2\r\n")));
	assert_true(matches("header x-upper exact 2", REQ("x-Upper: 2\r\n")));
}

static void test_parse_too_many_headers(void **state)
{
	char buf[4096], *p = buf;
	struct sl_http_head h;
	int i;

	p += sprintf(p, "GET / HTTP/1.1\r\n");
	for (i = 0; i < SL_HTTP_MAX_HEADERS; i++)
		p += sprintf(p, "h%d: v\r\n", i);
	strcpy(p, "\r\n");
	assert_int_equal(parse(buf, &h), 1);
	assert_int_equal(h.n_hdr, SL_HTTP_MAX_HEADERS);

	strcpy(p, "one-more: v\r\n\r\n");
	assert_int_equal(parse(buf, &h), -EINVAL);
	/* Known as soon as the extra line starts. */
	assert_int_equal(sl_http_parse_head(buf, p - buf + 1, &h), -EINVAL);
	assert_int_equal(sl_http_parse_head(buf, p - buf, &h), 0);
}

static void test_parse_header_without_colon(void **state)
{
	struct sl_http_head h;

	assert_int_equal(parse(REQ("no-colon-here\r\n"), &h), -EINVAL);
	assert_int_equal(parse(REQ(": empty-name\r\n"), &h), -EINVAL);
	/* Found before the line ends. */
	assert_int_equal(parse("GET / HTTP/1.1\r\nbad header", &h), -EINVAL);
}

static void test_parse_space_before_colon(void **state)
{
	struct sl_http_head h;

	assert_int_equal(parse(REQ("canary : x\r\n"), &h), -EINVAL);
	assert_int_equal(parse(REQ("canary\t: x\r\n"), &h), -EINVAL);
}

static void test_parse_obs_fold(void **state)
{
	struct sl_http_head h;

	assert_int_equal(parse(REQ("a: b\r\n c\r\n"), &h), -EINVAL);
	assert_int_equal(parse(REQ("a: b\r\n\tc\r\n"), &h), -EINVAL);
	/* Whitespace between the request line and the first header too. */
	assert_int_equal(parse("GET / HTTP/1.1\r\n Host: a\r\n\r\n", &h), -EINVAL);
}

static void test_parse_control_chars(void **state)
{
	static const char nul[] = "GET / HTTP/1.1\r\na: b\0c\r\n\r\n";
	struct sl_http_head h;

	assert_int_equal(sl_http_parse_head(nul, sizeof(nul) - 1, &h), -EINVAL);
	assert_int_equal(parse(REQ("a: b\x01\r\n"), &h), -EINVAL);
	assert_int_equal(parse(REQ("a: b\x7f\r\n"), &h), -EINVAL);
	/* A bare CR is not a line end. */
	assert_int_equal(parse(REQ("a: b\rc: d\r\n"), &h), -EINVAL);
	assert_int_equal(parse("GET /a\x01 HTTP/1.1\r\n\r\n", &h), -EINVAL);
	/* obs-text in a value is fine. */
	assert_int_equal(parse(REQ("a: caf\xc3\xa9\r\n"), &h), 1);
}

static void test_parse_bad_request_line(void **state)
{
	static const char *const bad[] = {
	    "GET / HTTP/2.0\r\n\r\n",
	    "GET / HTTP/1.2\r\n\r\n",
	    "GET / http/1.1\r\n\r\n",
	    "GET / HTTP/1.10\r\n\r\n",
	    "GET  / HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1 \r\n\r\n",
	    "GET /\r\n\r\n",
	    " GET / HTTP/1.1\r\n\r\n",
	    "GET HTTP/1.1\r\n\r\n",
	    "G(T / HTTP/1.1\r\n\r\n",
	    "\r\nGET / HTTP/1.1\r\n\r\n",
	    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	};
	struct sl_http_head h;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &h) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
}

static void test_parse_rejects_early(void **state)
{
	static const char tls_hello[] = "\x16\x03\x01\x02\x00\x01";
	struct sl_http_head h;

	/* A TLS ClientHello is known not to be HTTP from its first byte. */
	assert_int_equal(sl_http_parse_head(tls_hello, 1, &h), -EINVAL);
	assert_int_equal(parse("GET / HTTP/3", &h), -EINVAL);
	/* While every byte can still be part of a head, wait. */
	assert_int_equal(parse("", &h), 0);
	assert_int_equal(parse("GET / HTTP/1.", &h), 0);
	assert_int_equal(parse("GET / HTTP/1.1\r", &h), 0);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n\r", &h), 0);
}

static void test_parse_http10_and_methods(void **state)
{
	struct sl_http_head h;

	assert_int_equal(parse("POST /x HTTP/1.0\r\n\r\n", &h), 1);
	assert_int_equal(h.n_hdr, 0);
	assert_int_equal(h.method_len, 4);
	assert_memory_equal(h.method, "POST", h.method_len);
	assert_int_equal(parse("M-SEARCH * HTTP/1.1\r\n\r\n", &h), 1);
	assert_int_equal(h.target_len, 1);
}

/* ---- header / without ---------------------------------------------------- */

static void test_header_exact(void **state)
{
	assert_true(matches("header canary exact canary-tester", curl_head));
	assert_false(matches("header canary exact canary", curl_head));
	assert_false(matches("header canary exact Canary-tester", curl_head));
	assert_false(matches("header canary exact canary-tester2", curl_head));
}

static void test_header_prefix(void **state)
{
	assert_true(matches("header canary prefix canary-", curl_head));
	assert_true(matches("header canary prefix canary-tester", curl_head));
	assert_false(matches("header canary prefix tester", curl_head));
	assert_false(matches("header canary prefix canary-tester-", curl_head));
}

static void test_header_regex_full_match(void **state)
{
	assert_true(matches("header canary regex canary-.*", curl_head));
	assert_false(matches("header canary regex tester", curl_head));
	assert_false(matches("header canary regex canary", curl_head));
	/* Alternation is anchored as a whole, not per branch. */
	assert_false(matches("header canary regex x|canary", curl_head));
	assert_true(matches("header canary regex x|canary-tester", curl_head));
}

static void test_header_regex_re2_classes(void **state)
{
	assert_true(matches("header x-user regex \\d+", REQ("x-user: 12345\r\n")));
	assert_false(matches("header x-user regex \\d+", REQ("x-user: 12a45\r\n")));
	assert_true(matches("header x-user regex [[:alpha:]]+-\\w{2}", REQ("x-user: ab-c9\r\n")));
	assert_true(matches("header x-user regex (?i)ADMIN", REQ("x-user: admin\r\n")));
}

static void test_header_present(void **state)
{
	assert_true(matches("header canary present", curl_head));
	assert_true(matches("header x-empty present", REQ("x-empty:\r\n")));
	assert_false(matches("header x-other present", curl_head));
}

static void test_header_empty_exact(void **state)
{
	assert_true(matches("header x-empty exact ", REQ("x-empty:   \r\n")));
	assert_false(matches("header x-empty exact ", REQ("x-empty: a\r\n")));
	assert_false(matches("header x-empty exact ", REQ("")));
}

static void test_header_absent_never_matches(void **state)
{
	assert_false(matches("header x-missing exact ", curl_head));
	assert_false(matches("header x-missing prefix ", curl_head));
	assert_false(matches("header x-missing regex .*", curl_head));
	assert_false(matches("header x-missing present", curl_head));
}

static void test_header_value_with_spaces(void **state)
{
	assert_true(matches("header x-agent exact Mozilla/5.0 (X11; Linux)",
			    REQ("X-Agent: Mozilla/5.0 (X11; Linux)\r\n")));
	assert_false(matches("header x-agent exact Mozilla/5.0 (X11;  Linux)",
			     REQ("X-Agent: Mozilla/5.0 (X11; Linux)\r\n")));
}

static void test_header_repeated_joined(void **state)
{
	const char *req = REQ("x-tag: a\r\nother: z\r\nX-Tag: b\r\nx-tag: c\r\n");

	assert_true(matches("header x-tag exact a,b,c", req));
	assert_false(matches("header x-tag exact a", req));
	assert_false(matches("header x-tag exact a,b", req));
	assert_false(matches("header x-tag exact a, b, c", req));
	assert_true(matches("header x-tag prefix a,b", req));
	assert_true(matches("header x-tag prefix a,", req));
	assert_false(matches("header x-tag prefix b", req));
	assert_true(matches("header x-tag regex a,b,c", req));
	assert_true(matches("header x-tag regex .*,b,.*", req));
	assert_false(matches("header x-tag regex b", req));
	assert_true(matches("header x-tag present", req));
	/* Empty repeats still add their comma. */
	assert_true(matches("header x-tag exact ,a,", REQ("x-tag:\r\nx-tag: a\r\nx-tag:\r\n")));
}

static void test_header_repeated_regex_too_long(void **state)
{
	size_t half = SL_L7_JOIN_MAX / 2, n;
	char *req = malloc(2 * half + 256), *p = req;

	assert_non_null(req);
	p += sprintf(p, "GET / HTTP/1.1\r\nx-big: ");
	memset(p, 'a', half);
	p += half;
	p += sprintf(p, "\r\nx-big: ");
	memset(p, 'a', half);
	p += half;
	strcpy(p, "\r\n\r\n");
	n = 2 * half + 1;
	assert_true(n > SL_L7_JOIN_MAX);

	/* The same regex meets the same repeats when they are short ... */
	assert_true(matches("header x-big regex a+,a+", REQ("x-big: aa\r\nx-big: a\r\n")));
	/* ... but over the join limit it is not met, so its "without" is. */
	assert_false(matches("header x-big regex a+,a+", req));
	assert_true(matches("without x-big regex a+,a+", req));
	/* exact and prefix compare in place and have no limit. */
	assert_true(matches("header x-big prefix aaa", req));
	free(req);
}

static void test_without(void **state)
{
	assert_false(matches("without canary exact canary-tester", curl_head));
	assert_true(matches("without canary exact prod", curl_head));
	assert_false(matches("without canary present", curl_head));
	assert_true(matches("without x-missing present", curl_head));
	/*
	 * Istio's treat_missing_header_as_empty: for a value match, an absent
	 * header is "", so "without" holds unless the match takes "".
	 */
	assert_true(matches("without x-missing exact a", curl_head));
	assert_true(matches("without x-other regex a+", curl_head));
	assert_false(matches("without x-other regex .*", curl_head));
	assert_false(matches("without x-other exact ", curl_head));
}

/* ---- uri, method, authority ---------------------------------------------- */

static void test_uri_exact_ignores_query(void **state)
{
	assert_true(matches("uri exact /api/v1/items", curl_head));
	assert_false(matches("uri exact /api/v1/items?id=7", curl_head));
	assert_false(matches("uri exact /api/v1", curl_head));
	/* Envoy cuts at '#' as well. */
	assert_true(matches("uri exact /a", REQ_TO("/a#frag")));
}

static void test_uri_prefix_sees_query(void **state)
{
	assert_true(matches("uri prefix /api/v1/items?id=", curl_head));
	assert_true(matches("uri prefix /api/", curl_head));
	assert_false(matches("uri prefix /api/v2", curl_head));
	assert_true(matches("uri prefix /", curl_head));
}

static void test_uri_regex_ignores_query(void **state)
{
	assert_true(matches("uri regex /api/v[0-9]+/items", curl_head));
	assert_false(matches("uri regex /api/v[0-9]+/items\\?id=7", curl_head));
	assert_false(matches("uri regex /api", curl_head));
}

static void test_ignore_uri_case(void **state)
{
	const char *req = REQ_TO("/Shop/Items?Q=1");

	assert_false(matches("uri exact /shop/items", req));
	assert_true(matches("uri exact /shop/items\nignore_uri_case", req));
	assert_true(matches("ignore_uri_case\nuri prefix /SHOP/items?q", req));
	/* Regexes keep their own case rules. */
	assert_false(matches("uri regex /shop/items\nignore_uri_case", req));
	assert_true(matches("uri regex (?i)/shop/items\nignore_uri_case", req));
	/* Header values are not affected. */
	assert_false(matches("header canary exact CANARY-TESTER\nignore_uri_case", curl_head));
}

static void test_method(void **state)
{
	const char *post = "POST /orders HTTP/1.1\r\nHost: a\r\n\r\n";

	assert_true(matches("method exact GET", curl_head));
	assert_false(matches("method exact get", curl_head));
	assert_false(matches("method exact GET", post));
	assert_true(matches("method prefix PO", post));
	assert_true(matches("method regex GET|POST", post));
	assert_false(matches("method regex P", post));
}

static void test_authority(void **state)
{
	assert_true(matches("authority exact shop.example:8080", curl_head));
	assert_false(matches("authority exact shop.example", curl_head));
	assert_true(matches("authority prefix shop.example", curl_head));
	assert_true(matches("authority regex shop\\.example(:\\d+)?", curl_head));
	/* No Host: nothing to match. */
	assert_false(matches("authority regex .*", "GET / HTTP/1.0\r\n\r\n"));
	/* The first Host counts. */
	assert_true(matches("authority exact a", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
}

static void test_absolute_form(void **state)
{
	const char *req = "GET http://canary.example/v2/x?y=1 HTTP/1.1\r\n"
			  "Host: other.example\r\n\r\n";

	/* The target's authority wins over Host, and uri sees only the path. */
	assert_true(matches("authority exact canary.example", req));
	assert_false(matches("authority exact other.example", req));
	assert_true(matches("uri exact /v2/x", req));
	assert_true(matches("uri prefix /v2/x?y", req));
	assert_true(matches("uri exact /", "GET HTTP://h:81 HTTP/1.1\r\n\r\n"));
	assert_true(matches("authority exact h:81", "GET HTTP://h:81 HTTP/1.1\r\n\r\n"));
}

static void test_connect(void **state)
{
	const char *req = "CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n";

	assert_true(matches("authority exact db.example:5432", req));
	/* authority-form has no path. */
	assert_false(matches("uri prefix ", req));
	assert_false(matches("uri regex .*", req));
}

/* ---- whole specs --------------------------------------------------------- */

static void test_empty_spec_matches_all(void **state)
{
	assert_true(matches("", curl_head));
	assert_true(matches("", "OPTIONS * HTTP/1.0\r\n\r\n"));
}

static void test_lines_and_together(void **state)
{
	const char *spec = "header canary regex canary-.*\n"
			   "uri prefix /api/\n"
			   "method exact GET\n"
			   "authority prefix shop.\n"
			   "without x-debug present\n";

	assert_true(matches(spec, curl_head));
	assert_false(matches(spec, "GET /api/ HTTP/1.1\r\nHost: shop.x\r\n\r\n"));
	assert_false(matches(spec, "GET /api/ HTTP/1.1\r\nHost: shop.x\r\ncanary: canary-1\r\n"
				   "x-debug: 1\r\n\r\n"));
	assert_true(
	    matches(spec, "GET /api/ HTTP/1.1\r\nHost: shop.x\r\ncanary: canary-1\r\n\r\n"));
}

static void test_compile_errors(void **state)
{
	assert_compile_error("header canary exact a\nuri exact /\nheader x regex a(b",
			     "line 3: regex 'a(b': missing ) at offset 3");
	assert_compile_error("uri exact /\nhedaer x exact y",
			     "line 2: unknown keyword 'hedaer' (want header, without, uri, method, "
			     "authority or ignore_uri_case)");
	assert_compile_error("uri suffix /x",
			     "line 1: unknown match type 'suffix' (want exact, prefix, regex or "
			     "present)");
	assert_compile_error("method exact GET\nuri exact", "line 2: missing value after 'exact'");
	assert_compile_error("header x", "line 1: header: missing match type");
	assert_compile_error("header x ", "line 1: header: missing match type");
	assert_compile_error("without", "line 1: without: missing header name");
	assert_compile_error("header  x exact y", "line 1: header: missing header name");
	assert_compile_error("header x present y", "line 1: 'present' takes no value");
	assert_compile_error("uri present", "line 1: 'present' is only for header and without");
	assert_compile_error("header a:b exact y", "line 1: bad header name 'a:b'");
	assert_compile_error("uri exact /\n\nmethod exact GET", "line 2: empty line");
	assert_compile_error("uri exact /\r\n", "line 1: carriage return (CRLF line ends?)");
	assert_compile_error("ignore_uri_case yes", "line 1: ignore_uri_case takes no arguments");
	assert_compile_error("uri regex [", "line 1: regex '[': missing ] at offset 1");
}

static void test_compile_error_buffer(void **state)
{
	struct sl_l7_match *m;
	char err[12];

	/* No room to say why is still an error, and a short buffer is cut, not overrun. */
	assert_int_equal(sl_l7_match_compile("bogus", &m, NULL, 0), -EINVAL);
	assert_null(m);
	assert_int_equal(sl_l7_match_compile("bogus", &m, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: unk");
}

static void test_trailing_newline_optional(void **state)
{
	assert_true(matches("method exact GET\n", curl_head));
	assert_true(matches("method exact GET", curl_head));
	/* Only the one: a second is an empty line. */
	assert_compile_error("method exact GET\n\n", "line 2: empty line");
}

static void test_regex_linear_time(void **state)
{
	char req[256];

	/*
	 * Exponential in a backtracking engine; RE2 answers at once, whatever
	 * the subject, so nothing needs a cap.
	 */
	struct timespec t0, t1;
	long ms, best = -1;
	int i;

	/* the pattern works: a value of its shape that fits matches */
	assert_true(matches("header x regex (a|aa)+b", "GET / HTTP/1.1\r\nx: aab\r\n\r\n"));
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nx: %s\r\n\r\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab!");
	/* The fastest of five, so that a descheduled process does not fail it. */
	for (i = 0; i < 5; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_false(matches("header x regex (a|aa)+b", req));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (best < 0 || ms < best)
			best = ms;
	}
	assert_true(matches("without x regex (a|aa)+b", req));
	if (best >= 20)
		fail_msg("the regex took %ld ms at best", best);
}

/*
 * What RE2 refuses and a backtracking engine would take: Istio's webhook
 * (Go's regexp, RE2 syntax) refuses them too. Each is said with its
 * place in the pattern.
 */
static void test_regex_re2_only(void **state)
{
	assert_compile_error("header x regex foo(?=bar)",
			     "line 1: regex 'foo(?=bar)': invalid perl operator '(?=' at offset 3 "
			     "(RE2, Envoy's regex engine, has no look-ahead or look-behind)");
	assert_compile_error("header x regex (?<!a)b",
			     "line 1: regex '(?<!a)b': invalid perl operator '(?<' at offset 0 "
			     "(RE2, Envoy's regex engine, has no look-ahead or look-behind)");
	/* an escaped backslash before a 1 is no back-reference: the one after (b) is */
	assert_compile_error("uri regex /\\\\1/(b)\\1",
			     "line 1: regex '/\\\\1/(b)\\1': invalid escape sequence '\\1' at "
			     "offset 8 (RE2, Envoy's regex engine, has no back-references)");
	assert_compile_error(
	    "uri regex (?P<n>a)(?P=n)",
	    "line 1: regex '(?P<n>a)(?P=n)': invalid perl operator '(?P' at offset 8");
	assert_compile_error("method regex a**",
			     "line 1: regex 'a**': bad repetition operator '**' at offset 1");
	/* RE2's own: \C, Unicode classes, POSIX classes, flags */
	assert_true(matches("header x-user regex \\pN+", REQ("x-user: 123\r\n")));
	/* '$' is the end of the text, not before a final newline */
	assert_false(matches("header x regex a$", REQ("x: a\\n\r\n")));
}

/* ---- building specs ------------------------------------------------------ */

static void test_spec_add_round_trip(void **state)
{
	struct sl_l7_match *m;
	struct sl_http_head h;
	char *spec = NULL, err[256];

	assert_int_equal(sl_l7_spec_add(&spec, "header", "Canary", "regex", "canary-.*"), 0);
	assert_int_equal(sl_l7_spec_add(&spec, "without", "X-Debug", "present", NULL), 0);
	assert_int_equal(sl_l7_spec_add(&spec, "uri", NULL, "prefix", "/API/"), 0);
	assert_int_equal(sl_l7_spec_add(&spec, "method", NULL, "exact", "GET"), 0);
	assert_int_equal(sl_l7_spec_add(&spec, "authority", NULL, "exact", "shop.example:8080"), 0);
	assert_int_equal(sl_l7_spec_add(&spec, "header", "x-empty", "exact", ""), 0);
	assert_int_equal(sl_l7_spec_ignore_uri_case(&spec), 0);
	assert_string_equal(spec, "header canary regex canary-.*\n"
				  "without x-debug present\n"
				  "uri prefix /API/\n"
				  "method exact GET\n"
				  "authority exact shop.example:8080\n"
				  "header x-empty exact \n"
				  "ignore_uri_case\n");

	if (sl_l7_match_compile(spec, &m, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(parse(curl_head, &h), 1);
	assert_false(sl_l7_match_eval(m, &h)); /* no x-empty header */
	sl_l7_match_free(m);
	free(spec);

	spec = NULL;
	assert_int_equal(sl_l7_spec_add(&spec, "header", "canary", "exact", "canary-tester"), 0);
	assert_int_equal(sl_l7_spec_add(&spec, "uri", NULL, "exact", "/api/v1/items"), 0);
	assert_int_equal(sl_l7_match_compile(spec, &m, err, sizeof(err)), 0);
	assert_true(sl_l7_match_eval(m, &h));
	sl_l7_match_free(m);
	free(spec);
}

static void test_spec_add_ends_unterminated_spec(void **state)
{
	char *spec = strdup("method exact GET");

	assert_non_null(spec);
	assert_int_equal(sl_l7_spec_add(&spec, "uri", NULL, "exact", "/a"), 0);
	assert_string_equal(spec, "method exact GET\nuri exact /a\n");
	free(spec);
}

static void test_spec_add_rejects(void **state)
{
	char *spec = NULL;

	assert_int_equal(sl_l7_spec_add(&spec, "header", "a", "exact", "x\ny"), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "header", "a", "exact", "x\r"), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "uri", NULL, "exact", "/\n"), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "header", "a\nb", "exact", "x"), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "header", "a b", "exact", "x"), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "header", "", "exact", "x"), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "header", NULL, "exact", "x"), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "uri", "a", "exact", "x"), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "header", "a", "present", "x"), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "header", "a", "exact", NULL), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "uri", NULL, "present", NULL), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "cookie", "a", "exact", "x"), -EINVAL);
	assert_int_equal(sl_l7_spec_add(&spec, "header", "a", "suffix", "x"), -EINVAL);
	/* Nothing was appended by any of them. */
	assert_null(spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_complete_head),
	    cmocka_unit_test(test_parse_byte_at_a_time),
	    cmocka_unit_test(test_parse_lf_only),
	    cmocka_unit_test(test_parse_value_trimming),
	    cmocka_unit_test(test_parse_name_case_kept),
	    cmocka_unit_test(test_parse_too_many_headers),
	    cmocka_unit_test(test_parse_header_without_colon),
	    cmocka_unit_test(test_parse_space_before_colon),
	    cmocka_unit_test(test_parse_obs_fold),
	    cmocka_unit_test(test_parse_control_chars),
	    cmocka_unit_test(test_parse_bad_request_line),
	    cmocka_unit_test(test_parse_rejects_early),
	    cmocka_unit_test(test_parse_http10_and_methods),
	    cmocka_unit_test(test_header_exact),
	    cmocka_unit_test(test_header_prefix),
	    cmocka_unit_test(test_header_regex_full_match),
	    cmocka_unit_test(test_header_regex_re2_classes),
	    cmocka_unit_test(test_header_present),
	    cmocka_unit_test(test_header_empty_exact),
	    cmocka_unit_test(test_header_absent_never_matches),
	    cmocka_unit_test(test_header_value_with_spaces),
	    cmocka_unit_test(test_header_repeated_joined),
	    cmocka_unit_test(test_header_repeated_regex_too_long),
	    cmocka_unit_test(test_without),
	    cmocka_unit_test(test_uri_exact_ignores_query),
	    cmocka_unit_test(test_uri_prefix_sees_query),
	    cmocka_unit_test(test_uri_regex_ignores_query),
	    cmocka_unit_test(test_ignore_uri_case),
	    cmocka_unit_test(test_method),
	    cmocka_unit_test(test_authority),
	    cmocka_unit_test(test_absolute_form),
	    cmocka_unit_test(test_connect),
	    cmocka_unit_test(test_empty_spec_matches_all),
	    cmocka_unit_test(test_lines_and_together),
	    cmocka_unit_test(test_compile_errors),
	    cmocka_unit_test(test_compile_error_buffer),
	    cmocka_unit_test(test_trailing_newline_optional),
	    cmocka_unit_test(test_regex_linear_time),
	    cmocka_unit_test(test_regex_re2_only),
	    cmocka_unit_test(test_spec_add_round_trip),
	    cmocka_unit_test(test_spec_add_ends_unterminated_spec),
	    cmocka_unit_test(test_spec_add_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
