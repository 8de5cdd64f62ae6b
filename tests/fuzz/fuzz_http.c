// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The L7 step's HTTP/1.x head parser and Istio-style matcher
 * (l7/l7_match.h). The input is a match spec, a NUL, and request bytes (no
 * NUL: all request, empty spec). Besides the sanitizers, it checks what
 * the L7 step relies on:
 *   - a complete head lies inside the buffer, every pointer too, and its
 *     pieces are what the grammar allows;
 *   - the parser is a function of the prefix: a complete head parses the
 *     same on its own, and no shorter prefix of it is ever invalid (the
 *     step re-parses as bytes arrive, and gives up on -EINVAL);
 *   - "without" is exactly the negation of "header";
 *   - a spec line written by sl_l7_spec_add() compiles;
 *   - framing (l7/l7_http.h): where a request's body ends, and where the
 *     same bytes read as responses end, do not depend on how the bytes are
 *     cut into reads (the step feeds whatever each peek returns), and a
 *     message never takes more than it is given.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "l7/l7_http.h"
#include "l7/l7_match.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static bool in(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static bool tchars(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || (s[i] && strchr("!#$%&'*+-.^_`|~", s[i]))))
			return false;
	return n > 0;
}

static void check_head(const char *buf, size_t len, const struct sl_http_head *h)
{
	struct sl_http_head again;
	size_t i, cut;

	FUZZ_CHECK(h->head_len >= 2 && h->head_len <= len);
	FUZZ_CHECK(buf[h->head_len - 1] == '\n');
	FUZZ_CHECK(h->n_hdr <= SL_HTTP_MAX_HEADERS);
	FUZZ_CHECK(h->method == buf && tchars(h->method, h->method_len));
	FUZZ_CHECK(in(h->target, h->target_len, buf, h->head_len) && h->target_len);
	for (i = 0; i < h->n_hdr; i++) {
		const struct sl_http_hdr *hd = &h->hdr[i];

		FUZZ_CHECK(in(hd->name, hd->name_len, buf, h->head_len));
		FUZZ_CHECK(tchars(hd->name, hd->name_len));
		FUZZ_CHECK(in(hd->value, hd->value_len, buf, h->head_len));
		FUZZ_CHECK(!hd->value_len || (hd->value[0] != ' ' && hd->value[0] != '\t' &&
					      hd->value[hd->value_len - 1] != ' ' &&
					      hd->value[hd->value_len - 1] != '\t'));
		FUZZ_CHECK(!memchr(hd->value, '\r', hd->value_len) &&
			   !memchr(hd->value, '\n', hd->value_len));
	}
	/* the head alone parses the same */
	FUZZ_CHECK(sl_http_parse_head(buf, h->head_len, &again) == 1);
	FUZZ_CHECK(again.head_len == h->head_len && again.n_hdr == h->n_hdr);
	/* shorter: only ever "more, please" (a few cuts, not all: speed) */
	for (cut = 0; cut < h->head_len; cut += 1 + cut / 2)
		FUZZ_CHECK(sl_http_parse_head(buf, cut, &again) == 0);
	FUZZ_CHECK(sl_http_parse_head(buf, h->head_len - 1, &again) == 0);
}

/* Feed b in reads of step bytes until the message ends: bytes it took, or SIZE_MAX on -EINVAL. */
static size_t feed_all(struct sl_h1 *s, const char *b, size_t len, size_t step)
{
	size_t off = 0, k;
	ssize_t n;

	while (off < len && !s->done) {
		k = len - off < step ? len - off : step;
		n = sl_h1_feed(s, b + off, k);
		if (n < 0)
			return SIZE_MAX;
		FUZZ_CHECK((size_t)n <= k);
		/* short only at the message's end */
		FUZZ_CHECK((size_t)n == k || s->done);
		off += n;
	}
	return off;
}

static void check_framing(const char *buf, size_t len)
{
	struct sl_h1 a, b;
	struct sl_http_head h;
	size_t ea, eb;

	if (sl_h1_request_head(&a, buf, len, &h) == 1) {
		FUZZ_CHECK(sl_h1_request_head(&b, buf, len, &h) == 1);
		ea = feed_all(&a, buf + h.head_len, len - h.head_len, len);
		eb = feed_all(&b, buf + h.head_len, len - h.head_len, 3);
		FUZZ_CHECK(ea == eb && a.done == b.done);
	}
	sl_h1_response_start(&a, false, false);
	sl_h1_response_start(&b, false, false);
	ea = feed_all(&a, buf, len, len);
	eb = feed_all(&b, buf, len, 5);
	FUZZ_CHECK(ea == eb && a.done == b.done && a.code == b.code);
	if (ea != SIZE_MAX && !a.done && a.headers_done)
		FUZZ_CHECK(sl_h1_eof(&a) == sl_h1_eof(&b));
}

/* "header NAME ..." <-> "without NAME ...", in a copy; NULL when spec is not one such line. */
static char *negated(const char *spec)
{
	const char *rest;
	char *out;

	if (strchr(spec, '\n'))
		return NULL;
	if (!strncmp(spec, "header ", 7))
		rest = spec + 7;
	else if (!strncmp(spec, "without ", 8))
		rest = spec + 8;
	else
		return NULL;
	if (asprintf(&out, "%s %s", spec[0] == 'h' ? "without" : "header", rest) < 0)
		return NULL;
	return out;
}

static void check_spec_add(const char *spec)
{
	/* the spec's first four words as the parts of one condition */
	char *copy = strdup(spec), *w[4] = {NULL}, *save = NULL, *s = NULL, *tok;
	struct sl_l7_match *m = NULL;
	int n = 0;

	if (!copy)
		return;
	for (tok = strtok_r(copy, " ", &save); tok && n < 4; tok = strtok_r(NULL, " ", &save))
		w[n++] = tok;
	if (n == 4 && !sl_l7_spec_add(&s, w[0], w[1], w[2], w[3]) && strcmp(w[2], "regex") &&
	    tchars(w[1], strlen(w[1])))
		FUZZ_CHECK(sl_l7_match_compile(s, &m, NULL, 0) == 0);
	sl_l7_match_free(m);
	free(s);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nul = memchr(data, 0, size), *buf = (const char *)data, *req;
	struct sl_l7_match *m = NULL, *neg = NULL;
	struct sl_http_head h;
	char *spec, *not, err[128];
	size_t len;
	int ret;

	spec = strndup(nul ? buf : "", nul ? (size_t)(nul - buf) : 0);
	if (!spec)
		return 0;
	req = nul ? nul + 1 : buf;
	len = size - (size_t)(req - buf);

	ret = sl_http_parse_head(req, len, &h);
	FUZZ_CHECK(ret == 1 || ret == 0 || ret == -EINVAL);
	if (ret == 1)
		check_head(req, len, &h);
	check_framing(req, len);

	if (sl_l7_match_compile(spec, &m, err, sizeof(err))) {
		FUZZ_CHECK(!m);
		FUZZ_CHECK(strlen(err) < sizeof(err));
	} else if (ret == 1) {
		bool r = sl_l7_match_eval(m, &h);

		FUZZ_CHECK(sl_l7_match_eval(m, &h) == r);
		not = negated(spec);
		/*
		 * A match and its withoutHeaders twin never both hold; for a
		 * header the request lacks, both may fail (Istio: withoutHeaders
		 * sees a missing header as empty).
		 */
		if (not &&!sl_l7_match_compile(not, &neg, NULL, 0))
			FUZZ_CHECK(!(r && sl_l7_match_eval(neg, &h)));
		free(not );
	}
	check_spec_add(spec);
	sl_l7_match_free(neg);
	sl_l7_match_free(m);
	free(spec);
	return 0;
}
