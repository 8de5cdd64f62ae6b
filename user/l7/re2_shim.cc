// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The C side of RE2 (re2_shim.h). RE2 reports what is wrong and the text at
 * fault, not where: the offset is found here, as the first place in the
 * pattern where that text stands unescaped.
 */
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include <re2/re2.h>

#include "l7/re2_shim.h"

struct sl_re2 {
	re2::RE2 re;
	sl_re2(const char *pat, size_t len, const re2::RE2::Options &o)
	    : re(re2::StringPiece(pat, len), o)
	{
	}
};

/* Preceded by an even number of backslashes: not itself escaped. */
static bool unescaped(const char *pat, size_t at)
{
	size_t n = 0;

	while (n < at && pat[at - 1 - n] == '\\')
		n++;
	return n % 2 == 0;
}

static size_t error_offset(const char *pat, size_t len, const std::string &arg)
{
	size_t at;

	if (arg.empty() || arg.size() == len)
		return arg.size() == len ? len : 0; /* the whole pattern: it ends too early */
	for (at = 0; at + arg.size() <= len; at++) {
		if (memcmp(pat + at, arg.data(), arg.size()) || !unescaped(pat, at))
			continue;
		/* (?P<name>...) is fine; (?P=name) and (?P>name) are not */
		if (arg == "(?P" && at + 3 < len && pat[at + 3] == '<')
			continue;
		return at;
	}
	return 0;
}

static const char *hint(const re2::RE2 &re)
{
	const std::string &arg = re.error_arg();

	if (re.error_code() == re2::RE2::ErrorBadPerlOp &&
	    (!arg.compare(0, 3, "(?=") || !arg.compare(0, 3, "(?!") || !arg.compare(0, 3, "(?<")))
		return " (RE2, Envoy's regex engine, has no look-ahead or look-behind)";
	if (re.error_code() == re2::RE2::ErrorBadEscape && arg.size() == 2 && arg[1] >= '1' &&
	    arg[1] <= '9')
		return " (RE2, Envoy's regex engine, has no back-references)";
	return "";
}

extern "C" int sl_re2_compile(const char *pat, size_t len, struct sl_re2 **out, char *err,
			      size_t errlen, size_t *err_off)
{
	re2::RE2::Options o;
	struct sl_re2 *r;

	*out = nullptr;
	*err_off = 0;
	if (err && errlen)
		err[0] = '\0';
	o.set_log_errors(false);
	try {
		r = new sl_re2(pat, len, o);
	} catch (const std::bad_alloc &) {
		return -ENOMEM;
	}
	if (r->re.error_code() == re2::RE2::ErrorPatternTooLarge ||
	    r->re.error_code() == re2::RE2::ErrorInternal) {
		*err_off = len;
		if (err && errlen)
			snprintf(err, errlen, "%s", r->re.error().c_str());
		delete r;
		return -EINVAL;
	}
	if (!r->re.ok()) {
		/* RE2 says "what: text"; the pattern is quoted by the caller already */
		const std::string &e = r->re.error(), &arg = r->re.error_arg();
		std::string what = e.substr(0, e.find(": "));

		*err_off = error_offset(pat, len, arg);
		if (err && errlen && (arg.empty() || arg.size() == len))
			snprintf(err, errlen, "%s at offset %zu%s", what.c_str(), *err_off,
				 hint(r->re));
		else if (err && errlen)
			snprintf(err, errlen, "%s '%s' at offset %zu%s", what.c_str(), arg.c_str(),
				 *err_off, hint(r->re));
		delete r;
		return -EINVAL;
	}
	*out = r;
	return 0;
}

extern "C" bool sl_re2_full_match(const struct sl_re2 *r, const char *s, size_t n)
{
	return re2::RE2::FullMatch(re2::StringPiece(s ? s : "", n), r->re);
}

extern "C" void sl_re2_free(struct sl_re2 *r)
{
	delete r;
}
