#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Datapath cost per packet, on real traffic in network namespaces: sluice's
# programs against an empty TC program attached the same way (the floor),
# from the kernel's own accounting (kernel.bpf_stats_enabled: run time / run
# count per program). Benchmarks, not tests: numbers vary with the machine,
# so the table gives ratios against the floor measured in the same run.
#
#   sudo make bench            (QUICK=1 for a short run)
#
# Then the same paths one by one through BPF_PROG_TEST_RUN fixtures
# (tests/pkt/bench_pkt.c), where no skb is shared and nothing else runs.
#
# Phases, each run against the empty program and against sluice:
#   bulk   one keep-alive download: ingress sees the client's ACKs
#          (established packets), egress the data (reply path)
#   conns  many short connections: each one SYN (new connection) and a
#          handful of established packets
set -uo pipefail
SL_TEST_NAME=bench
. "$(dirname "$0")/netns-lib.sh"

QUICK=${QUICK:-}
RUNS=${RUNS:-$([ -n "$QUICK" ] && echo 1 || echo 3)}
BULK_MB=${BULK_MB:-$([ -n "$QUICK" ] && echo 50 || echo 400)}
CONNS=${CONNS:-$([ -n "$QUICK" ] && echo 500 || echo 3000)}
EMPTY_OBJ=$SL_ROOT/build/empty.bpf.o
EMPTY_PIN=$SL_PIN_DIR-empty
RESULTS=${RESULTS:-$SL_ROOT/build/bench-results.csv}

[ -f "$EMPTY_OBJ" ] || sl_die "$EMPTY_OBJ not built (make build/empty.bpf.o)"
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
_bench_cleanup() {
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	rm -rf "$EMPTY_PIN"
}
trap '_bench_cleanup; sl_cleanup' EXIT

# prog_stats ID: "run_time_ns run_cnt" of one program.
prog_stats() {
	bpftool prog show id "$1" -j | $SL_PY -c \
		'import json,sys; p=json.load(sys.stdin); print(p.get("run_time_ns",0), p.get("run_cnt",0))'
}

# pinned_id PATH: id of a pinned program.
pinned_id() {
	bpftool prog show pinned "$1" -j | $SL_PY -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

global_counter() {
	sl_sluice -j status | $SL_PY -c "import json,sys; print(json.load(sys.stdin)['datapath']['$1'])"
}

attach_empty() {
	mkdir -p "$EMPTY_PIN"
	bpftool prog load "$EMPTY_OBJ" "$EMPTY_PIN/prog" type classifier ||
		sl_die "cannot load $EMPTY_OBJ"
	sl_nsx node tc qdisc add dev c1 clsact 2>/dev/null
	sl_nsx node tc filter add dev c1 ingress prio 92 handle 0x5c1ce bpf da \
		object-pinned "$EMPTY_PIN/prog" || sl_die "attach empty ingress"
	sl_nsx node tc filter add dev c1 egress prio 92 handle 0x5c1ce bpf da \
		object-pinned "$EMPTY_PIN/prog" || sl_die "attach empty egress"
	EMPTY_ID=$(pinned_id "$EMPTY_PIN/prog")
}

detach_empty() {
	sl_nsx node tc filter del dev c1 ingress prio 92 handle 0x5c1ce bpf 2>/dev/null
	sl_nsx node tc filter del dev c1 egress prio 92 handle 0x5c1ce bpf 2>/dev/null
	rm -rf "$EMPTY_PIN"
}

# bulk HOST PORT: one keep-alive download of BULK_MB MiB.
bulk() {
	sl_nsx client curl -s -o /dev/null --max-time 120 "http://$1:$2/big?mb=$BULK_MB" ||
		sl_die "bulk download from $1:$2 failed"
}

# conns HOST PORT: CONNS short connections.
conns() {
	sl_nsx client "$SL_PY" "$SL_E2E/client.py" burst --host "$1" --port "$2" -n "$CONNS" \
		-c 4 >"$SL_TMP/conns.json" || sl_die "burst to $1:$2 failed"
}

# measure LABEL PHASE IDS...: run PHASE, print "LABEL ns_per_run runs" per id.
measure() {
	local label=$1 phase=$2 host=$3 port=$4 id
	shift 4
	declare -A t0 c0
	for id in "$@"; do read -r t0[$id] c0[$id] < <(prog_stats "$id"); done
	"$phase" "$host" "$port"
	for id in "$@"; do
		local t c
		read -r t c < <(prog_stats "$id")
		echo "$label $id $((t - t0[$id])) $((c - c0[$id]))"
	done
}

sysctl -qw kernel.bpf_stats_enabled=1
sl_topo_up
echo "run,phase,program,ns_total,runs,ns_per_run" >"$RESULTS"

declare -A NS
record() { # KEY ns runs
	local per
	per=$(awk -v t="$2" -v c="$3" 'BEGIN { printf "%.1f", c ? t / c : 0 }')
	NS[$1]+="$per "
	echo "$RUN,${1%%/*},${1#*/},$2,$3,$per" >>"$RESULTS"
}

for RUN in $(seq 1 "$RUNS"); do
	# The floor: empty program, traffic straight to one backend.
	attach_empty
	read -r _ _ t c < <(measure empty bulk 10.0.1.10 8080 "$EMPTY_ID")
	record "bulk/empty" "$t" "$c"
	read -r _ _ t c < <(measure empty conns 10.0.1.10 8080 "$EMPTY_ID")
	record "conns/empty" "$t" "$c"
	detach_empty

	# sluice: the same traffic through the VIP, all of it to v1a.
	sl_config "$SL_CFG" 100 0
	sl_run_start "$SL_CFG" c1 || sl_die "sluice run did not start"
	ING=$(pinned_id "$SL_PIN_DIR/sl_ingress")
	EGR=$(pinned_id "$SL_PIN_DIR/sl_egress")
	while read -r _ id t c; do
		[ "$id" = "$ING" ] && record "bulk/ingress" "$t" "$c"
		[ "$id" = "$EGR" ] && record "bulk/egress" "$t" "$c"
	done < <(measure sluice bulk "$SL_VIP4" 80 "$ING" "$EGR")
	new0=$(global_counter new_conn)
	est0=$(global_counter established)
	while read -r _ id t c; do
		[ "$id" = "$ING" ] && { record "conns/ingress" "$t" "$c"; CT=$t; CC=$c; }
		[ "$id" = "$EGR" ] && record "conns/egress" "$t" "$c"
	done < <(measure sluice conns "$SL_VIP4" 80 "$ING" "$EGR")
	new=$(($(global_counter new_conn) - new0))
	est=$(($(global_counter established) - est0))
	# Ingress time of the conns phase = new * t_new + est * t_est, with
	# t_est from the bulk phase (established ACKs): solve for t_new.
	est_ns=$(echo "${NS[bulk/ingress]}" | awk '{ print $NF }')
	t_new=$(awk -v T="$CT" -v e="$est" -v te="$est_ns" -v n="$new" \
		'BEGIN { printf "%.0f", n ? (T - e * te) / n : 0 }')
	record "new-conn/ingress" "$((t_new * new))" "$new"
	sl_run_stop
	sl_sluice down >/dev/null 2>&1
	rm -rf "$SL_PIN_DIR"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
spread() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

row() { # LABEL KEY FLOOR_KEY
	local m f s
	m=$(echo "${NS[$2]}" | median)
	s=$(echo "${NS[$2]}" | spread)
	f=$(echo "${NS[$3]}" | median)
	printf '| %-44s | %8s | %13s | %6s |\n' "$1" "$m" "$s" \
		"$(awk -v a="$m" -v b="$f" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }')"
}

echo
echo "## Datapath cost per packet (ns per program run, median of $RUNS)"
echo
echo "Machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "Traffic: bulk = one ${BULK_MB} MiB keep-alive download; conns = $CONNS short connections."
echo
echo "| path                                         | ns/packet |  spread (ns) | vs empty |"
echo "|----------------------------------------------|-----------|---------------|----------|"
row "empty TC program (floor), bulk"               "bulk/empty"  "bulk/empty"
row "sluice ingress, established (bulk ACKs)"      "bulk/ingress" "bulk/empty"
row "sluice egress, reply path (bulk data)"        "bulk/egress" "bulk/empty"
row "empty TC program (floor), short connections"  "conns/empty" "conns/empty"
row "sluice ingress, short connections (mix)"      "conns/ingress" "conns/empty"
row "sluice ingress, new connection (first packet)" "new-conn/ingress" "conns/empty"
row "sluice egress, short connections"             "conns/egress" "conns/empty"
echo
echo "## Per-path cost, BPF_PROG_TEST_RUN fixtures (uncloned skbs; no un-sharing cost)"
echo
# Run-time accounting adds its own clock reads to every run: off here, where
# the test run's own duration is the measure.
sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
(cd "$SL_ROOT" && build/tests/bench_pkt "$([ -n "$QUICK" ] && echo 20000 || echo 200000)") ||
	sl_die "bench_pkt failed"
echo
echo "Raw numbers: $RESULTS"
exit 0
