#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run every sluice test suite: unit (cmocka), packet (BPF_PROG_TEST_RUN) and
# other C test binaries in build/tests/, end-to-end (network namespaces,
# tests/e2e/test_*.sh), and the C test binaries again as built under ASan,
# LeakSanitizer and UBSan in build/asan/tests/ (asan/...), then print one
# summary.
#
#   tests/run.sh [PATTERN]    only the suites whose name contains PATTERN
#
# Needs root and a built tree (make test-bins asan-bins). A suite that
# crashes, times out, prints no counts or prints a sanitizer report counts as
# one failure. Exit 0 only if every suite ran and nothing failed. Logs of
# each suite: build/tests/logs/.
set -uo pipefail

# ip, tc, ethtool, iptables, sysctl and bpftool live in /usr/sbin on Debian.
export PATH="$PATH:/usr/sbin:/sbin"

cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
PATTERN=${1:-}
LOGS=$ROOT/build/tests/logs
SUITE_TIMEOUT=${SL_SUITE_TIMEOUT:-240}

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: must run as root (BPF, TC and network namespaces)" >&2
	exit 2
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || {
	echo "tests/run.sh: cannot mount bpffs on /sys/fs/bpf" >&2
	exit 2
}
mkdir -p "$LOGS"

# Network namespaces left by an e2e run that was killed outright (its EXIT
# trap never ran): named sl<PID>-*, removed once that PID is gone.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^sl[0-9]+-'); do
	pid=${ns#sl}
	pid=${pid%%-*}
	[ -d "/proc/$pid" ] || ip netns del "$ns" 2>/dev/null
done
# Pin directories, and test_kube's files: sluice-test-<PID>-*.
for d in /sys/fs/bpf/sluice-test-* /tmp/sluice-test-*; do
	[ -e "$d" ] || continue
	pid=${d##*/sluice-test-}
	pid=${pid%%-*}
	[ -d "/proc/$pid" ] || rm -rf "$d"
done
for f in /run/sluice/sluice-test-*.handoff; do
	[ -e "$f" ] || continue
	pid=${f#/run/sluice/sluice-test-}
	pid=${pid%%-*}
	[ -d "/proc/$pid" ] || rm -f "$f"
done

total_pass=0
total_fail=0
summary=()
failures=()

# run_suite NAME CMD...: run, tee the output to a log, parse the counts.
run_suite() {
	local name=$1 log="$LOGS/${1//\//-}.log" rc pass fail san note="" start=$SECONDS
	shift
	case "$name" in *"$PATTERN"*) ;; *) return 0 ;; esac
	echo "=== $name"
	timeout --kill-after=10 "$SUITE_TIMEOUT" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}

	# cmocka: "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s), listed below:"
	# ours:   "N passed, N failed"
	pass=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$log" | tail -1)
	fail=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$log" | tail -1)
	if [ -z "$pass$fail" ]; then
		pass=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p' "$log" | tail -1)
		fail=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p' "$log" | tail -1)
	fi
	pass=${pass:-0}
	fail=${fail:-0}
	san=$(grep -cE "$SANITIZER_RE" "$log")
	if [ "$san" != 0 ]; then
		note=" (sanitizer reports: $san)"
		fail=$((fail + 1))
	elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		note=" (timed out after ${SUITE_TIMEOUT}s)"
		fail=$((fail + 1))
	elif [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
		note=" (exit status $rc without a failed test: crashed)"
		fail=$((fail + 1))
	elif [ "$rc" = 0 ] && [ "$fail" != 0 ]; then
		note=" (exit status 0 despite failures)"
	elif [ "$pass" = 0 ] && [ "$fail" = 0 ]; then
		note=" (no test counts printed)"
		fail=1
	fi
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	# The failing checks themselves, repeated at the end: CI keeps only the
	# tail of the output, and a count alone does not say what broke.
	if [ "$fail" != 0 ]; then
		while IFS= read -r line; do
			failures+=("$name: $line")
		done < <(grep -E ": FAIL|^\[  (FAILED +\] [a-z_]|ERROR +\] )|$SANITIZER_RE" "$log" | head -5)
	fi
	summary+=("$(printf '%-28s %4d passed, %3d failed  %4ds%s' "$name" "$pass" "$fail" \
		$((SECONDS - start)) "$note")")
}

# run_bins PREFIX DIR MAKE_TARGET [ENV...]: the C test binaries in DIR. The
# unit tests must be there (MAKE_TARGET builds them); every other test_*
# binary (packet tests and the like) runs too.
UNIT="test_config test_config_files test_k8s test_istio test_kube test_l7_client test_l7_http test_l7_match test_policy_route test_rollout test_yaml_load"
run_bins() {
	local prefix=$1 dir=$2 target=$3 u b
	shift 3
	for u in $UNIT; do
		if [ -x "$dir/$u" ]; then
			run_suite "${prefix:-unit/}$u" "$@" "$dir/$u"
		elif [[ ${prefix:-unit/}$u == *"$PATTERN"* ]]; then
			summary+=("$(printf '%-28s missing: %s/%s (%s)' "${prefix:-unit/}$u" "$dir" "$u" "$target")")
			total_fail=$((total_fail + 1))
		fi
	done
	for b in "$dir"/test_*; do
		{ [ -f "$b" ] && [ -x "$b" ]; } || continue
		[[ " $UNIT " == *" ${b#"$dir"/} "* ]] && continue
		run_suite "${prefix:-bin/}${b#"$dir"/}" "$@" "$b"
	done
}

# What the sanitizers print: ASan and LSan reports, UBSan's runtime errors.
SANITIZER_RE='^==[0-9]+==ERROR: [A-Za-z]+Sanitizer|: runtime error: '

run_bins "" build/tests "make test-bins"

# libFuzzer targets (tests/fuzz/): every committed input replayed, then a
# few seconds of fuzzing each; `make fuzz` runs them for ten minutes.
if [ -x build/fuzz/fuzz_config ]; then
	run_suite "fuzz/parsers" tests/fuzz/run.sh smoke 5
elif [[ fuzz/parsers == *"$PATTERN"* ]]; then
	summary+=("$(printf '%-28s missing: build/fuzz/fuzz_* (make test-bins)' "fuzz/parsers")")
	total_fail=$((total_fail + 1))
fi

for t in tests/e2e/test_*.sh; do
	[ -e "$t" ] || continue
	n=${t#tests/}
	run_suite "${n%.sh}" "$t"
done

# The same binaries built with -fsanitize=address,undefined: a leak at exit,
# a use after free, an overflow or undefined behaviour fails the suite, even
# with every check passed (halt on the first: UBSan is built without recovery).
run_bins asan/ build/asan/tests "make asan-bins" \
	env ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 UBSAN_OPTIONS=print_stacktrace=1

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
if [ "${#failures[@]}" -gt 0 ]; then
	echo
	echo "=== failed checks (full output: $LOGS/)"
	printf '%s\n' "${failures[@]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
