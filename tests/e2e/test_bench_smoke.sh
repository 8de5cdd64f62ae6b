#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The benchmark still runs: scripts/bench.sh in QUICK mode with tiny counts
# must finish, print every section's table with numbers in its rows, and
# write its results file; the same for the header routing benchmark
# (section 6, scripts/bench/l7.sh, run on its own here) and the ranking
# (section 8, two contenders, two short rounds). (The numbers
# themselves are for `make bench`, not for a test; only the zero-moved-
# connections result and where header requests went are correctness claims.)
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

SECTIONS="1 2 3 4 5" QUICK=1 RUNS=1 DUR=1 BULK_MB=5 CONNS=50 SIZES="1 100" APPLY_SIZES="10 100" SPLIT_N=200 \
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
# (its last column: the program runs the mean is over)
rows bench-datapath-table "1. Datapath" "^\| (empty TC program \(floor\),|sluice) .*\| ($num|n/a) \| .*\| (${num}x|n/a) \| ($num|-) \|$" 7
rows bench-fixture-table "1. Datapath" "^\| [A-Za-z].*\| $num \| -?$num \| $num" 15
# the SYN rows against the two-table floor row, as ratios
n=$(count_rows "1. Datapath" "^A new connection against the two-table floor .*IPv4 new connection \(SYN\) ${num}x, IPv6 new connection \(SYN\) ${num}x\.$")
check bench-syn-vs-floor "$n lines with both SYN ratios, want 1" test "$n" -eq 1
rows bench-throughput-table "2. Throughput" "^\| (plain|sluice|kube-proxy|nginx).*\| $num \| .* \| ${num}x \|" 10
rows bench-scale-table "3. Scale" "^\| (sluice|iptables|nftables) \| [0-9,]+ \| $num \|" 6
# apply: one changed service writes 1 key, the same config again none; weights: numbers
rows bench-apply-table "4. Control" "^\| [0-9,]+ \| $num \| .* \| $num \| 1 \| $num \| 0 \| $num \| $num \| .* \| $num \| $num \|$" 2
rows bench-flip-table "4. Control" "^\| config file.*\| $num \|" 1
rows bench-split-table "5. Split" "^\| [0-9]+/[0-9]+ \| [0-9]+% \| $num%" 3
check bench-hold "established connections kept their backend" \
	grep -qE '^\| 5 \| 5 \| [0-9,]+ \| 0 \| 0 \|$' "$OUT/bench.out"
json_ok() {
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["raw"] and d["summary"] and d["machine"]))' \
		"$OUT/results.json"
}
check bench-results-json "machine, raw results and medians" json_ok

# section 8: the ranking, two of its contenders (RANK_ONLY), two short rounds
SECTIONS=8 QUICK=1 RANK_ROUNDS=2 RANK_DUR=1 RANK_SIZES=1 RANK_ONLY="floor sluice-fast" \
	RESULTS="$OUT/rank.json" timeout 120 "$ROOT/scripts/bench.sh" >"$OUT/rank.out" 2>&1
rc=$?
check bench-rank-exit "exit status $rc" test "$rc" -eq 0
[ "$rc" -eq 0 ] || tail -20 "$OUT/rank.out"
# each contender once per kind of request, with its interval and no errors
rank_rows() { awk '/^## / { on = index($0, "8. Ranking") == 4 } on' "$OUT/rank.out" | grep -cE "$1"; }
# (two rounds give wide intervals: a bound may be below 0)
iv="\[-?$num, -?$num\]"
n=$(rank_rows "^\| (plain routing \(floor\)|sluice, fast path) \| 1 \| $num \| ${num}x $iv \| $num \| ${num}x $iv \| 0 \|$")
check bench-rank-table "$n rows, want 4 (floor and fast path, new connections and keep-alive)" test "$n" -eq 4
[ "$n" -eq 4 ] || awk '/^## / { on = index($0, "8. Ranking") == 4 } on' "$OUT/rank.out"
n=$(rank_rows "kube-proxy|stack path|socket-level")
check bench-rank-only "$n rows of contenders RANK_ONLY left out" test "$n" -eq 0
n=$(rank_rows "^CPU per request, 1 service, cheapest first")
check bench-rank-order "$n rankings, want 2" test "$n" -eq 2
SECTIONS=8 RANK_ONLY="floor" RESULTS="$OUT/rank1.json" timeout 60 "$ROOT/scripts/bench.sh" \
	>"$OUT/rank1.out" 2>&1
rc=$?
check bench-rank-only-one "one contender: exit $rc, said so" \
	grep -q 'RANK_ONLY="floor": fewer than two' "$OUT/rank1.out"

# section 6: header routing, QUICK with tiny counts
QUICK=1 RUNS=1 DUR=1 TTFB_N=50 AB_N=300 RESULTS_L7="$OUT/l7.json" \
	timeout 120 "$ROOT/scripts/bench/l7.sh" >"$OUT/l7.out" 2>&1
rc=$?
check bench-l7-exit "exit status $rc" test "$rc" -eq 0
[ "$rc" -eq 0 ] || tail -20 "$OUT/l7.out"
l7_rows() { # TABLE_TITLE REGEX: rows of the table after that bold title
	awk -v h="$1" '/^\*\*/ { on = index($0, h) == 3 } on' "$OUT/l7.out" | grep -cE "$2"
}
l7_check_rows() { # NAME TITLE REGEX WANT
	local n
	n=$(l7_rows "$2" "$3")
	check "$1" "$n rows with numbers, want $4" test "$n" -eq "$4"
}
path='(DNAT|L7 step|nginx)'
l7_check_rows bench-l7-new-conn-table "New connections" "^\| $path.*\| $num \| .*\| ${num}x \| $num \| $num \|" 7
l7_check_rows bench-l7-keepalive-table "Keep-alive" "^\| $path.*\| $num \| .*\| ${num}x \| $num \| $num \|" 7
l7_check_rows bench-l7-ttfb-table "Time to first byte" "^\| $path.*\| $num \| $num \| ${num}x \|" 7
# correctness: header requests all on v2, through the L7 step; no errors
l7_get() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"].get(sys.argv[2], {}).get("median", -1))' "$OUT/l7.json" "$1"; }
for k in l7-hdr nginx-hdr; do
	v=$(l7_get "$k/backends/v2_pct")
	check "bench-l7-$k-on-v2" "v2 share $v%" /usr/bin/python3 -c "import sys; sys.exit(not $v == 100)"
done
v=$(l7_get "l7-hdr/count/l7_header_route")
check bench-l7-header-route-counted "l7 header_route +$v" /usr/bin/python3 -c "import sys; sys.exit(not $v > 0)"
v=$(l7_get "dnat/count/dp_l7_local")
check bench-l7-dnat-not-local "DNAT baseline: l7_local +$v" test "$v" = 0.0
errs=$(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["summary"]
print(int(sum(v["median"] for k, v in d.items() if k.endswith("/errors") or k.endswith("/l7_connect_failed"))))' "$OUT/l7.json")
check bench-l7-no-errors "client errors and L7 connect failures: $errs" test "$errs" = 0
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
