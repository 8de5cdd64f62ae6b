#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The benchmark still runs: scripts/bench.sh with tiny counts must finish,
# print both tables with a number in every row, and write its CSV. (The
# numbers themselves are for `make bench`, not for a test.)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mktemp -d /tmp/sluice-bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
pass=0
fail=0
check() { # NAME DETAIL CMD...
	local name=$1 detail=$2
	shift 2
	if "$@"; then
		echo "$name: PASS ($detail)"
		pass=$((pass + 1))
	else
		echo "$name: FAIL ($detail)"
		fail=$((fail + 1))
	fi
}

QUICK=1 RUNS=1 BULK_MB=5 CONNS=50 RESULTS="$OUT/results.csv" \
	timeout 120 "$ROOT/scripts/bench.sh" >"$OUT/bench.out" 2>&1
rc=$?
check bench-exit "exit status $rc" test "$rc" -eq 0
[ "$rc" -eq 0 ] || tail -20 "$OUT/bench.out"

rows_ok() { # every row of the real-traffic table has a positive ns/packet
	local n
	n=$(grep -cE '^\| (empty TC program|sluice) .*\| +[0-9]+\.[0-9] +\| +[0-9.]+-[0-9.]+ +\|' "$OUT/bench.out")
	[ "$n" -eq 7 ]
}
check bench-traffic-table "7 rows with numbers" rows_ok
fixture_ok() {
	local n
	n=$(grep -cE '^\| .* \| [0-9]+ \| [0-9]+\.[0-9] \| -?[0-9]+\.[0-9] \| [0-9]+\.[0-9]x \|$' "$OUT/bench.out")
	[ "$n" -eq 9 ]
}
check bench-fixture-table "9 rows with numbers" fixture_ok
csv_ok() {
	[ "$(head -1 "$OUT/results.csv")" = "run,phase,program,ns_total,runs,ns_per_run" ] &&
		[ "$(wc -l <"$OUT/results.csv")" -ge 8 ]
}
check bench-csv "header and a row per measurement" csv_ok
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
