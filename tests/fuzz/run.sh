#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run the libFuzzer targets (build/fuzz/fuzz_*, `make fuzz-bins`).
#
#   tests/fuzz/run.sh smoke [SECONDS]   replay every corpus, then fuzz each
#                                       target SECONDS (5); `make test` runs it
#   tests/fuzz/run.sh long              fuzz each target FUZZ_SECONDS (600);
#                                       `make fuzz` runs it
#   tests/fuzz/run.sh one TARGET [ARGS] one target on its corpus, libFuzzer
#                                       ARGS as given (e.g. -max_total_time=60)
#
# Targets run two at a time (one per core). A target's working corpus is
# build/fuzz/corpus/TARGET, seeded from tests/fuzz/corpus/TARGET (the seeds
# in git: small, hand-made or taken from examples/ and the tests; smoke
# starts from those alone, in build/fuzz/smoke/). A crash,
# leak, timeout (-timeout, 10 s per input) or out-of-memory leaves its input
# in build/fuzz/artifacts/ and fails the target; add it to the seed corpus
# once fixed. Prints one line per target with libFuzzer's own figures
# (executions, exec/s, cov: edges, ft: features, corpus) and then
# "N passed, N failed". Exit 0 only if every target passed.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
FUZZ=$ROOT/build/fuzz
TARGETS="config k8s http watch handoff"
MODE=${1:-smoke}
ART=$FUZZ/artifacts
LOGS=$FUZZ/logs
mkdir -p "$ART" "$LOGS"

# Options every run gets: hangs and memory hogs are failures too; the
# targets' own log lines (the loaders' warnings) go nowhere.
COMMON=(-timeout=10 -rss_limit_mb=2048 -close_fd_mask=2 -print_final_stats=1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

pass=0
fail=0

# report TARGET LOG RC: one line from libFuzzer's last status line.
report() {
	local t=$1 log=$2 rc=$3 last runs eps cov ft corp secs
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
	eps=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -1)
	cov=$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$last")
	ft=$(sed -nE 's/.* ft: ([0-9]+) .*/\1/p' <<<"$last")
	corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
	secs=$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' "$log" | tail -1)
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1))
		printf 'fuzz_%s: PASS (%s s, %s execs, %s exec/s, cov %s, ft %s, corpus %s)\n' \
			"$t" "${secs:-?}" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
	else
		fail=$((fail + 1))
		printf 'fuzz_%s: FAIL (exit %s; log %s)\n' "$t" "$rc" "$log"
		grep -E 'ERROR: |SUMMARY: |property does not hold|runtime error|Test unit written' \
			"$log" | head -5 | sed 's/^/  | /'
	fi
}

# fuzz TARGET SECONDS [EXTRA...]: fuzz on the working corpus (WORK).
fuzz() {
	local t=$1 secs=$2
	shift 2
	local bin=$FUZZ/fuzz_$t work=$WORK/$t log=$LOGS/$t.log rc
	if [ ! -x "$bin" ]; then
		echo "missing: $bin (make fuzz-bins)" >"$log"
		return 127
	fi
	mkdir -p "$work"
	"$bin" "${COMMON[@]}" -max_total_time="$secs" -artifact_prefix="$ART/$t-" "$@" \
		"$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	return $rc
}

# replay TARGET: every seed once, exactly as committed (regressions).
replay() {
	local t=$1 bin=$FUZZ/fuzz_$t
	[ -x "$bin" ] || return 127
	"$bin" "${COMMON[@]}" -runs=0 -artifact_prefix="$ART/$t-" "tests/fuzz/corpus/$t" \
		>"$LOGS/$t.replay.log" 2>&1
}

WORK=$FUZZ/corpus

# Two targets at a time; report in order.
run_all() {
	local secs=$1 t pids=() names=() i
	for t in $TARGETS; do
		# a seed that fails is reported with the replay's log
		( replay "$t" || { cp "$LOGS/$t.replay.log" "$LOGS/$t.log"; exit 1; }
		  fuzz "$t" "$secs" ) &
		pids+=($!)
		names+=("$t")
		if [ "${#pids[@]}" -eq 2 ]; then
			for i in 0 1; do
				wait "${pids[$i]}"
				report "${names[$i]}" "$LOGS/${names[$i]}.log" $?
			done
			pids=()
			names=()
		fi
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}"
		report "${names[$i]}" "$LOGS/${names[$i]}.log" $?
	done
}

case "$MODE" in
smoke)
	# a fresh working corpus: the time it takes does not grow with past runs
	WORK=$FUZZ/smoke
	rm -rf "$WORK"
	run_all "${2:-5}"
	;;
long)
	WORK=$FUZZ/corpus
	run_all "${FUZZ_SECONDS:-600}"
	;;
one)
	t=${2:?target}
	shift 2
	mkdir -p "$FUZZ/corpus/$t"
	exec "$FUZZ/fuzz_$t" "${COMMON[@]}" -artifact_prefix="$ART/$t-" "$@" \
		"$FUZZ/corpus/$t" "tests/fuzz/corpus/$t"
	;;
*)
	echo "usage: $0 smoke [SECONDS] | long | one TARGET [ARGS]" >&2
	exit 2
	;;
esac
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
