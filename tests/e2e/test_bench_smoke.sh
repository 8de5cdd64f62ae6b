#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The benchmark still runs: scripts/bench.sh in QUICK mode with tiny counts
# must finish, print every section's table with numbers in its rows, and
# write its results file. (The numbers themselves are for `make bench`, not
# for a test; only the zero-moved-connections result is a correctness claim.)
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

QUICK=1 RUNS=1 DUR=1 BULK_MB=5 CONNS=50 SIZES="1 100" APPLY_SIZES="10 100" SPLIT_N=200 \
	HOLD=5 CHANGES=5 FIXTURE_RUNS=2000 RESULTS="$OUT/results.json" \
	timeout 100 "$ROOT/scripts/bench.sh" >"$OUT/bench.out" 2>&1
rc=$?
check bench-exit "exit status $rc" test "$rc" -eq 0
[ "$rc" -eq 0 ] || tail -20 "$OUT/bench.out"

# count_rows SECTION_HEADING REGEX: rows of that section matching REGEX
count_rows() {
	awk -v h="$1" '/^## / { on = index($0, h) == 4 } on' "$OUT/bench.out" | grep -cE "$2"
}
num='[0-9][0-9,]*(\.[0-9]+)?'
rows() { # NAME HEADING REGEX WANT
	local n
	n=$(count_rows "$2" "$3")
	check "$1" "$n rows with numbers, want $4" test "$n" -eq "$4"
}
# (the derived new-connection row may be n/a: see docs/bench.md)
rows bench-datapath-table "1. Datapath" "^\| (empty TC program \(floor\),|sluice) .*\| ($num|n/a) \| .*\| (${num}x|n/a) \|$" 7
rows bench-fixture-table "1. Datapath" "^\| [A-Za-z].*\| $num \| -?$num \| $num" 9
rows bench-throughput-table "2. Throughput" "^\| (plain|sluice|kube-proxy|nginx).*\| $num \| .* \| ${num}x \|" 10
rows bench-scale-table "3. Scale" "^\| (sluice|iptables|nftables) \| [0-9,]+ \| $num \|" 6
rows bench-apply-table "4. Control" "^\| [0-9,]+ \| $num \|" 2
rows bench-flip-table "4. Control" "^\| (\`sluice weights\`|config file).*\| $num \|" 2
rows bench-split-table "5. Split" "^\| [0-9]+/[0-9]+ \| [0-9]+% \| $num%" 3
check bench-hold "established connections kept their backend" \
	grep -qE '^\| 5 \| 5 \| [0-9,]+ \| 0 \| 0 \|$' "$OUT/bench.out"
json_ok() {
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["raw"] and d["summary"] and d["machine"]))' \
		"$OUT/results.json"
}
check bench-results-json "machine, raw results and medians" json_ok
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
