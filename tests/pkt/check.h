/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Selftest-style assertions: each ASSERT_* prints FILE:LINE and what it saw
 * when it fails, marks the running test failed and evaluates to false, so a
 * test can stop with `if (!ASSERT_...) goto out;`. The first failure becomes
 * the reason on the test's "name: FAIL (reason)" line.
 */
#ifndef SLUICE_TESTS_CHECK_H
#define SLUICE_TESTS_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct check_state {
	const char *test;
	int failed;
	char reason[256];
	int n_pass;
	int n_fail;
};

static struct check_state check_st;

static inline void __attribute__((format(printf, 3, 4)))
check_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("  %s:%d: %s\n", file, line, msg);
	if (!check_st.failed++)
		snprintf(check_st.reason, sizeof(check_st.reason), "%s", msg);
}

#define ASSERT_TRUE(cond, what)                                                                    \
	({                                                                                         \
		bool ___ok = (cond);                                                               \
		if (!___ok)                                                                        \
			check_fail(__FILE__, __LINE__, "%s: %s is false", what, #cond);            \
		___ok;                                                                             \
	})

#define ASSERT_EQ(actual, expected, what)                                                          \
	({                                                                                         \
		long long ___a = (long long)(actual), ___e = (long long)(expected);                \
		bool ___ok = ___a == ___e;                                                         \
		if (!___ok)                                                                        \
			check_fail(__FILE__, __LINE__, "%s: got %lld, expected %lld", what, ___a,  \
				   ___e);                                                          \
		___ok;                                                                             \
	})

#define ASSERT_OK(err, what)                                                                       \
	({                                                                                         \
		long long ___e = (long long)(err);                                                 \
		bool ___ok = ___e == 0;                                                            \
		if (!___ok)                                                                        \
			check_fail(__FILE__, __LINE__, "%s failed: %lld (%s)", what, ___e,         \
				   strerror(___e < 0 ? (int)-___e : (int)___e));                   \
		___ok;                                                                             \
	})

/* lo <= actual <= hi, as doubles (shares, percentages). */
#define ASSERT_RANGE(actual, lo, hi, what)                                                         \
	({                                                                                         \
		double ___a = (actual), ___l = (lo), ___h = (hi);                                  \
		bool ___ok = ___a >= ___l && ___a <= ___h;                                         \
		if (!___ok)                                                                        \
			check_fail(__FILE__, __LINE__, "%s: %.3f not in [%.3f, %.3f]", what, ___a, \
				   ___l, ___h);                                                    \
		___ok;                                                                             \
	})

#define ASSERT_STREQ(actual, expected, what)                                                       \
	({                                                                                         \
		const char *___a = (actual), *___e = (expected);                                   \
		bool ___ok = !strcmp(___a, ___e);                                                  \
		if (!___ok)                                                                        \
			check_fail(__FILE__, __LINE__, "%s: got '%s', expected '%s'", what, ___a,  \
				   ___e);                                                          \
		___ok;                                                                             \
	})

static inline void check_run(const char *name, void (*fn)(void))
{
	check_st.test = name;
	check_st.failed = 0;
	check_st.reason[0] = '\0';
	fn();
	if (check_st.failed) {
		printf("%s: FAIL (%s)\n", name, check_st.reason);
		check_st.n_fail++;
	} else {
		printf("%s: PASS\n", name);
		check_st.n_pass++;
	}
	fflush(stdout);
}

struct check_test {
	const char *name;
	void (*fn)(void);
};

/*
 * main() of a test binary: every test, or those whose name contains
 * argv[1]; then the "N passed, N failed" line. Returns the exit status.
 */
static inline int check_main(const struct check_test *tests, size_t n, int argc, char **argv)
{
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < n; i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		check_run(tests[i].name, tests[i].fn);
	}
	printf("%d passed, %d failed\n", check_st.n_pass, check_st.n_fail);
	return check_st.n_fail ? 1 : 0;
}

#endif /* SLUICE_TESTS_CHECK_H */
