#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# sluice benchmarks (issue 5), in network namespaces: a client, the node
# (router, where sluice / kube-proxy's rules / the L7 proxy run) and three
# nginx backends (v1a, v1b: subset v1; v2: subset v2). Every contender gets
# the same machine, the same run and the same traffic; the tables give
# ratios against the baseline of the same run. Benchmarks, not tests.
#
#   sudo make bench            (QUICK=1: one run each, short phases, < 3 min)
#
# Sections (SECTIONS="1 2 3 4 5" selects):
#   1 datapath cost per packet: kernel run-time accounting on real traffic
#     (sluice vs an empty TC program) and the BPF_PROG_TEST_RUN fixtures
#   2 throughput and latency: plain routing to one backend (floor), sluice,
#     kube-proxy iptables mode, kube-proxy nftables mode, nginx split_clients
#   3 scale: 1 .. 10,000 services configured, traffic to one
#   4 control plane: apply time, weight change to first new connection, RSS
#     and map memory
#   5 split accuracy, and established connections across live weight changes
#   6 header routing: the L7 step against the DNAT path and nginx doing the
#     same header routing (scripts/bench/l7.sh, which runs on its own too:
#     own topology, own table and results file build/bench-l7-results.json)
#   7 SYN flood: random-source SYNs to the VIP from the node's uplink as
#     fast as one core writes them, while a client holds keep-alive
#     connections and opens new ones: sluice (two table sizes) and
#     kube-proxy's iptables and nftables rules, each with and without it
#   8 ranking: floor, sluice (stack path; and its fast path when `run`
#     has --no-fast-path), kube-proxy iptables and nftables, at 1 and
#     10,000 services, interleaved round by round (ABAB..., RANK_ROUNDS >= 5,
#     the order rotated each round); each ratio against the floor of the
#     same round, with its 95 % confidence interval, for throughput and for
#     CPU per request (/proc/stat, steal left out). Not in the default
#     SECTIONS: SECTIONS=8 (make bench-rank). RANK_ONLY="floor sluice-fast
#     nftables" ranks those alone: more rounds in the same time
#
# Method, load and CPU accounting: docs/bench.md.
set -uo pipefail
SL_TEST_NAME=bench
. "$(dirname "$0")/netns-lib.sh"
B=$SL_ROOT/scripts/bench

QUICK=${QUICK:-}
q() { if [ -n "$QUICK" ]; then echo "$1"; else echo "$2"; fi; }
RUNS=${RUNS:-$(q 1 3)}
SECTIONS=${SECTIONS:-1 2 3 4 5 7 6}
BULK_MB=${BULK_MB:-$(q 50 200)}
CONNS=${CONNS:-$(q 500 3000)}
DUR=${DUR:-$(q 2 5)}                      # seconds of each wrk run
WRK_C=${WRK_C:-32}                        # wrk connections
SIZES=${SIZES:-$(q "1 100 1000" "1 100 1000 10000")}
APPLY_SIZES=${APPLY_SIZES:-$(q "1 10000" "1 10000 30000")}
SPLIT_N=${SPLIT_N:-$(q 2000 10000)}
HOLD=${HOLD:-50}
CHANGES=${CHANGES:-$(q 20 100)}
FIXTURE_RUNS=${FIXTURE_RUNS:-$(q 20000 200000)}
FLOOD_S=${FLOOD_S:-$(q 5 20)}             # seconds of each flood (and of each calm run)
FLOOD_HELD=${FLOOD_HELD:-200}             # keep-alive connections held through it
RANK_ROUNDS=${RANK_ROUNDS:-5}             # section 8: rounds (each contender once per round)
RANK_DUR=${RANK_DUR:-$(q 1 3)}            # seconds of each wrk run in section 8
RANK_SIZES=${RANK_SIZES:-1 10000}
RANK_ONLY=${RANK_ONLY:-}                   # section 8: these contenders alone (e.g. "floor sluice-fast nftables")
SYNFLOOD=$SL_ROOT/build/tests/synflood
RESULTS=${RESULTS:-$SL_ROOT/build/bench-results.json}
EMPTY_OBJ=$SL_ROOT/build/empty.bpf.o
EMPTY_PIN=$SL_PIN_DIR-empty
RAW=$SL_TMP/raw.jsonl
CPU_CLIENT=0                               # wrk / probes
CPU_SERVER=$(($(nproc) > 1 ? 1 : 0))       # backends
IPT_RESTORE=iptables-legacy-restore        # see docs/bench.md
IPT=iptables-legacy
. "$B/lib.sh"

# section 6 is scripts/bench/l7.sh, with this run's settings
l7_section() {
	QUICK="$QUICK" RUNS="$RUNS" DUR="$DUR" WRK_C="$WRK_C" "$B/l7.sh"
}
case " $SECTIONS " in
*" 1 "* | *" 2 "* | *" 3 "* | *" 4 "* | *" 5 "* | *" 7 "*) ;;
*" 6 "*)
	trap - EXIT
	rm -rf "$SL_TMP"
	l7_section
	exit $?
	;;
esac

[ -f "$EMPTY_OBJ" ] || sl_die "$EMPTY_OBJ not built (make build/empty.bpf.o)"
for t in wrk ab nginx nft "$IPT_RESTORE" taskset conntrack; do
	command -v "$t" >/dev/null || sl_die "missing tool: $t (scripts/install-deps.sh)"
done
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
CT_WAS=
_bench_cleanup() {
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	[ -z "$CT_WAS" ] || sysctl -qw net.netfilter.nf_conntrack_max="$CT_WAS"
	rm -rf "$EMPTY_PIN"
}
# (sl_cleanup exits with the status it finds in $?: keep the script's)
trap 'rc=$?; _bench_cleanup; (exit $rc); sl_cleanup' EXIT
T_START=$SECONDS
: >"$RAW"

# rec SECTION KEY METRIC VALUE: one raw result of the current $RUN.
rec() { printf '{"section":%s,"key":"%s","metric":"%s","run":%s,"value":%s}\n' \
	"$1" "$2" "$3" "${RUN:-1}" "${4:-null}" >>"$RAW"; }

# ---------------------------------------------------------------- helpers

prog_stats() {
	bpftool prog show id "$1" -j | $SL_PY -c \
		'import json,sys; p=json.load(sys.stdin); print(p.get("run_time_ns",0), p.get("run_cnt",0))'
}
pinned_id() {
	bpftool prog show pinned "$1" -j | $SL_PY -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
global_counter() {
	sl_sluice -j status | $SL_PY -c "import json,sys; print(json.load(sys.stdin)['datapath']['$1'])"
}

# Client port ranges: direct connections (the floor) and connections through
# a VIP reach the backends with different TCP timestamp bases; a port reused
# across the two would meet a TIME_WAIT socket and PAWS. Each kind of
# contender gets its own range (socket-level balancing connects directly:
# the floor's).
ports_direct() { sl_nsx client sysctl -qw net.ipv4.ip_local_port_range="10000 29999"; }
ports_vip() { sl_nsx client sysctl -qw net.ipv4.ip_local_port_range="30000 60999"; }

# wrk_run KEY SECTION URL close|keep: one wrk run from the client, CPU from
# /proc/stat around it; records rps, p50, p99, CPU s per 100k requests.
wrk_run() {
	local key=$1 sec=$2 url=$3 mode=$4 b0 s0 b1 s1 out js hdr=()
	[ "$mode" = close ] && hdr=(-H "Connection: close")
	read -r b0 s0 < <(cpu_busy)
	out=$(sl_nsx client taskset -c "$CPU_CLIENT" wrk -t1 -c"$WRK_C" -d"${DUR}s" --latency \
		"${hdr[@]}" "$url" 2>&1)
	read -r b1 s1 < <(cpu_busy)
	js=$(echo "$out" | "$SL_PY" "$B/gen.py" wrk)
	"$SL_PY" - "$js" "$((b1 - b0))" "$((s1 - s0))" "$HZ" "$sec" "$key" "$mode" "${RUN:-1}" >>"$RAW" <<'EOF'
import json, sys
r = json.loads(sys.argv[1]); busy, soft, hz = (int(x) for x in sys.argv[2:5])
sec, key, mode, run = sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8]
n = r["requests"] or 1
vals = {"rps": r["rps"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
        "cpu_s_per_100k": busy / hz / n * 1e5, "softirq_s_per_100k": soft / hz / n * 1e5,
        "errors": r["socket_errors"] + r["non2xx"]}
for m, v in vals.items():
    print(json.dumps({"section": int(sec), "key": key, "metric": mode + "/" + m, "run": int(run), "value": v}))
EOF
	[ "$(echo "$js" | "$SL_PY" -c 'import json,sys; print(json.load(sys.stdin)["requests"])')" -gt 0 ] ||
		log "wrk $key $mode: no requests: $(echo "$out" | tail -3 | tr '\n' ' ')"
}

# ---------------------------------------------------------------- contenders

sluice_up() { # CONFIG
	sl_run_start "$1" c1 || sl_die "sluice run did not start"
}
sluice_down() {
	sl_run_stop
	sl_sluice down >/dev/null 2>&1
	rm -rf "$SL_PIN_DIR"
}
ipt_up() { # N
	"$SL_PY" "$B/gen.py" iptables "$1" 90 10 >"$SL_TMP/ipt.rules"
	sl_nsx node "$IPT_RESTORE" -w 5 --noflush <"$SL_TMP/ipt.rules" || sl_die "iptables-restore"
}
ipt_down() {
	sl_nsx node "$IPT" -w 5 -t nat -F
	sl_nsx node "$IPT" -w 5 -t nat -X
}
nft_up() { # N
	"$SL_PY" "$B/gen.py" nft "$1" 90 10 >"$SL_TMP/kp.nft"
	sl_nsx node nft -f "$SL_TMP/kp.nft" || sl_die "nft -f"
}
nft_down() { sl_nsx node nft delete table ip kube-proxy; }
PROXY_PID=
proxy_up() {
	local d=$SL_TMP/nginx-proxy
	mkdir -p "$d"
	"$SL_PY" "$B/gen.py" nginx-proxy "$SL_VIP4" 90 "$d" >"$d/nginx.conf"
	sl_nsx node ip addr add "$SL_VIP4/32" dev lo
	sl_bg PROXY_PID node "$d/out.log" nginx -c "$d/nginx.conf" -p "$d"
	sl_wait_for 10 sl_nsx client curl -sf --max-time 1 "http://$SL_VIP4/" ||
		sl_die "nginx proxy not answering"
}
proxy_down() {
	sl_stop "$PROXY_PID" QUIT
	PROXY_PID=
	sl_nsx node ip addr del "$SL_VIP4/32" dev lo
}
timed() { # VAR CMD...: wall seconds of CMD into VAR
	local var=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	"$@" || return 1
	t1=$(date +%s.%N)
	printf -v "$var" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}

sl_topo_up
bench_tune_topology
log "topology up; sections: $SECTIONS; runs: $RUNS"
mkdir -p "$SL_TMP/cfg"
gen_cfg() { # N W1 W2 -> path (a directory of its own: `run` watches it)
	local d=$SL_TMP/cfg/$1-$2-$3
	mkdir -p "$d"
	[ -f "$d/sluice.yaml" ] || "$SL_PY" "$B/gen.py" sluice "$1" "$2" "$3" >"$d/sluice.yaml"
	echo "$d/sluice.yaml"
}
has() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }

# ---------------------------------------------------------------- section 1
attach_empty() {
	mkdir -p "$EMPTY_PIN"
	bpftool prog load "$EMPTY_OBJ" "$EMPTY_PIN/prog" type classifier || sl_die "load $EMPTY_OBJ"
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
bulk() {
	local got
	got=$(sl_nsx client curl -sf -o /dev/null -w '%{size_download}' --max-time 120 \
		"http://$1:$2/big") || sl_die "bulk download from $1:$2 failed"
	# a short answer (an error page) would make the "download" one exchange
	[ "$got" -ge $((BULK_MB << 20)) ] ||
		sl_die "bulk download from $1:$2: $got bytes, want $((BULK_MB << 20))"
}
conns() {
	sl_nsx client "$SL_PY" "$SL_E2E/client.py" burst --host "$1" --port "$2" -n "$CONNS" \
		-c 4 >"$SL_TMP/conns.json" || sl_die "burst to $1:$2 failed"
}
measure() { # LABEL PHASE HOST PORT IDS...: "LABEL id ns runs" per id
	local label=$1 phase=$2 host=$3 port=$4 id t c
	shift 4
	declare -A t0 c0
	for id in "$@"; do read -r t0[$id] c0[$id] < <(prog_stats "$id"); done
	"$phase" "$host" "$port"
	for id in "$@"; do
		read -r t c < <(prog_stats "$id")
		echo "$label $id $((t - t0[$id])) $((c - c0[$id]))"
	done
}
per() { awk -v t="$1" -v c="$2" 'BEGIN { printf "%.1f", c ? t / c : 0 }'; }

# Run-time accounting adds two clock reads to every program run: on only
# where its numbers are taken (section 1, and section 3's ns/packet runs).
stats() { sysctl -qw kernel.bpf_stats_enabled="$1"; }
if has 1; then
	log "section 1: datapath cost per packet"
	stats 1
	for RUN in $(seq 1 "$RUNS"); do
		ports_direct
		attach_empty
		read -r _ _ t c < <(measure empty bulk 10.0.1.10 8080 "$EMPTY_ID")
		rec 1 bulk/empty ns "$(per "$t" "$c")"
		rec 1 bulk/empty runs "$c"
		read -r _ _ t c < <(measure empty conns 10.0.1.10 8080 "$EMPTY_ID")
		rec 1 conns/empty ns "$(per "$t" "$c")"
		rec 1 conns/empty runs "$c"
		detach_empty
		ports_vip
		sluice_up "$(gen_cfg 1 100 0)"
		ING=$(pinned_id "$SL_PIN_DIR/sl_ingress")
		EGR=$(pinned_id "$SL_PIN_DIR/sl_egress")
		while read -r _ id t c; do
			[ "$id" = "$ING" ] && { rec 1 bulk/ingress ns "$(per "$t" "$c")"; EST_NS=$(per "$t" "$c"); }
			[ "$id" = "$ING" ] && rec 1 bulk/ingress runs "$c"
			[ "$id" = "$EGR" ] && rec 1 bulk/egress ns "$(per "$t" "$c")"
			[ "$id" = "$EGR" ] && rec 1 bulk/egress runs "$c"
		done < <(measure sluice bulk "$SL_VIP4" 80 "$ING" "$EGR")
		new0=$(global_counter new_conn)
		est0=$(global_counter established)
		while read -r _ id t c; do
			[ "$id" = "$ING" ] && { rec 1 conns/ingress ns "$(per "$t" "$c")"; CT=$t; }
			[ "$id" = "$ING" ] && rec 1 conns/ingress runs "$c"
			[ "$id" = "$EGR" ] && rec 1 conns/egress ns "$(per "$t" "$c")"
			[ "$id" = "$EGR" ] && rec 1 conns/egress runs "$c"
		done < <(measure sluice conns "$SL_VIP4" 80 "$ING" "$EGR")
		new=$(($(global_counter new_conn) - new0))
		est=$(($(global_counter established) - est0))
		# ingress time of the conns phase = new * t_new + est * t_est, with
		# t_est from the bulk phase (established ACKs): solve for t_new.
		rec 1 new-conn/ingress ns "$(awk -v T="$CT" -v e="$est" -v te="$EST_NS" -v n="$new" \
			'BEGIN { printf "%.1f", n ? (T - e * te) / n : 0 }')"
		sluice_down
	done
	stats 0
	(cd "$SL_ROOT" && build/tests/bench_pkt "$FIXTURE_RUNS" -j) >"$SL_TMP/fixtures.json" ||
		sl_die "bench_pkt failed"
	"$SL_PY" -c '
import json, sys
for r in json.load(open(sys.argv[1])):
    print(json.dumps({"section": 1, "key": "fixture/" + r["name"], "metric": "ns", "run": 1, "value": r["ns"], "runs": r["runs"]}))' \
		"$SL_TMP/fixtures.json" >>"$RAW"
fi

# ---------------------------------------------------------------- section 2
if has 2; then
	log "section 2: throughput and latency ($RUNS x ${DUR}s per mode)"
	for RUN in $(seq 1 "$RUNS"); do
		ports_direct
		for mode in close keep; do wrk_run floor 2 "http://10.0.1.10:8080/" "$mode"; done
		ports_vip
		sluice_up "$(gen_cfg 1 90 10)"
		for mode in close keep; do wrk_run sluice 2 "http://$SL_VIP4/" "$mode"; done
		sluice_down
		ipt_up 1
		for mode in close keep; do wrk_run iptables 2 "http://$SL_VIP4/" "$mode"; done
		ipt_down
		nft_up 1
		for mode in close keep; do wrk_run nftables 2 "http://$SL_VIP4/" "$mode"; done
		nft_down
		proxy_up
		for mode in close keep; do wrk_run nginx 2 "http://$SL_VIP4/" "$mode"; done
		proxy_down
		log "section 2 run $RUN done"
	done
fi

# ---------------------------------------------------------------- section 3
if has 3; then
	log "section 3: scale ($SIZES services)"
	ports_vip
	for n in $SIZES; do
		sluice_up "$(gen_cfg "$n" 90 10)"
		ING=$(pinned_id "$SL_PIN_DIR/sl_ingress")
		for RUN in $(seq 1 "$RUNS"); do wrk_run "sluice/$n" 3 "http://$SL_VIP4/" close; done
		# ns/packet from a separate run with the accounting on
		stats 1
		read -r t0 c0 < <(prog_stats "$ING")
		sl_nsx client taskset -c "$CPU_CLIENT" wrk -t1 -c"$WRK_C" -d1s -H "Connection: close" \
			"http://$SL_VIP4/" >/dev/null 2>&1
		read -r t1 c1 < <(prog_stats "$ING")
		stats 0
		RUN=1 rec 3 "sluice/$n" ingress_ns "$(per $((t1 - t0)) $((c1 - c0)))"
		sluice_down
		timed T ipt_up "$n"
		RUN=1 rec 3 "iptables/$n" load_s "$T"
		for RUN in $(seq 1 "$RUNS"); do wrk_run "iptables/$n" 3 "http://$SL_VIP4/" close; done
		ipt_down
		timed T nft_up "$n"
		RUN=1 rec 3 "nftables/$n" load_s "$T"
		for RUN in $(seq 1 "$RUNS"); do wrk_run "nftables/$n" 3 "http://$SL_VIP4/" close; done
		nft_down
		log "section 3: $n services done"
	done
fi

# ---------------------------------------------------------------- section 4
map_memlock() { # total bytes_memlock of the maps pinned in the pin dir
	local f id total=0
	for f in "$SL_PIN_DIR"/*; do
		id=$(bpftool map show pinned "$f" -j 2>/dev/null | "$SL_PY" -c \
			'import json,sys; print(json.load(sys.stdin).get("bytes_memlock",0))' 2>/dev/null) || continue
		total=$((total + id))
	done
	echo "$total"
}
if has 4; then
	log "section 4: control plane"
	ports_vip
	json_field() { "$SL_PY" -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(eval("d" + sys.argv[1])))' "$1"; }
	for n in $APPLY_SIZES; do
		# `run` applying N services itself: the RSS a node with that many holds
		sluice_up "$(gen_cfg "$n" 90 10)"
		RUN=1 rec 4 "rss/$n" kib "$(awk '/VmRSS/ { print $2 }' "/proc/$SL_RUN_PID/status")"
		RUN=1 rec 4 "memlock/$n" bytes "$(map_memlock)"
		sluice_down
		for RUN in $(seq 1 "$RUNS"); do
			# from scratch: `run` holds one service, apply brings N
			sluice_up "$(gen_cfg 1 90 10)"
			timed T sl_sluice -q apply --config "$(gen_cfg "$n" 90 10)" >/dev/null ||
				sl_die "apply $n services"
			rec 4 "apply/$n/scratch" seconds "$T"
			# one service's weights changed: one key written
			timed T sl_sluice -j apply --config "$(gen_cfg "$n" 89 11)" >"$SL_TMP/apply.json" ||
				sl_die "apply $n services, changed"
			rec 4 "apply/$n/changed" seconds "$T"
			rec 4 "apply/$n/changed" keys "$(json_field '["written"]["keys"]' <"$SL_TMP/apply.json")"
			timed T sl_sluice -j apply --config "$(gen_cfg "$n" 89 11)" >"$SL_TMP/apply.json" ||
				sl_die "apply $n services, same"
			rec 4 "apply/$n/same" seconds "$T"
			rec 4 "apply/$n/same" keys "$(json_field '["written"]["keys"]' <"$SL_TMP/apply.json")"
			# weight change -> first new connection following it: from 100/0 to 0/100
			# and back (the first connection served by the other subset)
			timed T sl_sluice -q apply --config "$(gen_cfg "$n" 100 0)" >/dev/null ||
				sl_die "apply $n services, 100/0"
			for dir in "v2 0 100" "v1 100 0"; do
				set -- $dir
				sl_nsx client taskset -c "$CPU_CLIENT" "$SL_PY" "$B/probe.py" flip --want "$1" -- \
					nsenter --net="/var/run/netns/$(sl_ns node)" "$SLUICE" --pin-dir "$SL_PIN_DIR" \
					-q weights backend "v1=$2" "v2=$3" >"$SL_TMP/flip.json" || log "flip (cli) failed"
				rec 4 "flip/cli/$n" ms "$(json_field '["ms"]' <"$SL_TMP/flip.json")"
				rec 4 "flip/cli/$n" cmd_ms "$(json_field '["cmd_ms"]' <"$SL_TMP/flip.json")"
			done
			sluice_down
		done
		log "section 4: $n services done"
	done
	# the same through the config file `run` watches (write + rename)
	d=$SL_TMP/flipcfg
	mkdir -p "$d"
	"$SL_PY" "$B/gen.py" sluice 1 100 0 >"$d/sluice.yaml"
	"$SL_PY" "$B/gen.py" sluice 1 100 0 >"$d/a.yaml.new"
	"$SL_PY" "$B/gen.py" sluice 1 0 100 >"$d/b.yaml.new"
	sluice_up "$d/sluice.yaml"
	for RUN in $(seq 1 "$RUNS"); do
		for dir in "v2 b" "v1 a"; do
			set -- $dir
			cp "$d/$2.yaml.new" "$SL_TMP/$2.tmp"
			sl_nsx client taskset -c "$CPU_CLIENT" "$SL_PY" "$B/probe.py" flip --want "$1" -- \
				mv -f "$SL_TMP/$2.tmp" "$d/sluice.yaml" >"$SL_TMP/flip.json" || log "flip (file) failed"
			rec 4 "flip/file" ms "$("$SL_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ms"])' "$SL_TMP/flip.json")"
		done
	done
	sluice_down
fi

# ---------------------------------------------------------------- section 5
if has 5; then
	log "section 5: split accuracy ($SPLIT_N connections per split)"
	ports_vip
	sluice_up "$(gen_cfg 1 90 10)"
	for RUN in $(seq 1 "$RUNS"); do
		for w in "99 1" "90 10" "50 50"; do
			set -- $w
			sl_sluice -q weights backend "v1=$1" "v2=$2" >/dev/null || sl_die "weights $1/$2"
			declare -A r0
			for b in v1a v1b v2; do r0[$b]=$(backend_requests "$b"); done
			sl_nsx client taskset -c "$CPU_CLIENT" ab -q -n "$SPLIT_N" -c 16 "http://$SL_VIP4/" \
				>"$SL_TMP/ab.out" 2>&1 || log "ab: $(tail -2 "$SL_TMP/ab.out")"
			v1=$(($(backend_requests v1a) - r0[v1a] - 1 + $(backend_requests v1b) - r0[v1b] - 1))
			v2=$(($(backend_requests v2) - r0[v2] - 1))
			rec 5 "split/$1-$2" v2_pct "$(awk -v a="$v1" -v b="$v2" 'BEGIN { printf "%.2f", (a + b) ? 100 * b / (a + b) : 0 }')"
			rec 5 "split/$1-$2" total "$((v1 + v2))"
		done
	done
	# established connections across live weight changes
	sl_sluice -q weights backend v1=50 v2=50 >/dev/null
	RUN=1
	sl_nsx client "$SL_PY" "$B/probe.py" hold -n "$HOLD" --changes "$CHANGES" -- \
		nsenter --net="/var/run/netns/$(sl_ns node)" "$SLUICE" --pin-dir "$SL_PIN_DIR" -q \
		weights backend v1=10 v2=90 -- \
		nsenter --net="/var/run/netns/$(sl_ns node)" "$SLUICE" --pin-dir "$SL_PIN_DIR" -q \
		weights backend v1=90 v2=10 >"$SL_TMP/hold.json"
	for m in conns changes moved broken requests; do
		rec 5 hold "$m" "$("$SL_PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$SL_TMP/hold.json" "$m")"
	done
	sluice_down
fi

# ---------------------------------------------------------------- section 7
# Packets the node's netfilter conntrack dropped for want of room (its table
# full and nothing to evict early), all CPUs.
nf_drops() {
	sl_nsx node conntrack -S 2>/dev/null |
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^drop=/) { sub("drop=", "", $i); n += $i } } END { print n + 0 }'
}

# flood_run KEY TABLE FLOOD: the client's probe (probe.py steady) for
# FLOOD_S seconds, with the flood (FLOOD=1) or without; then how many held
# connections still have their entry in TABLE (sluice or netfilter: the
# table that translates them) while they are still open.
flood_run() {
	local key=$1 table=$2 flood=$3 out=$SL_TMP/flood pid nf0 nf1
	rm -f "$out".*
	# each run from an empty netfilter table: a flood leaves it full of
	# half-open entries (120 s each), which the next run would inherit
	sl_nsx node conntrack -F >/dev/null 2>&1
	# the client beside the backends: the flood's core is the flood's
	sl_bg pid client "$out.steady" taskset -c "$CPU_SERVER" "$SL_PY" "$B/probe.py" steady \
		--host "$SL_VIP4" -n "$FLOOD_HELD" --seconds "$((FLOOD_S + 1))" --ports "$out.ports" \
		--until "$out.done"
	if ! sl_wait_for 30 test -s "$out.ports"; then
		log "section 7 $key: the client did not open its connections"
		sl_stop "$pid"
		return 1
	fi
	nf0=$(nf_drops)
	if [ "$flood" = 1 ]; then
		# one core writes the flood (and, on a veth, takes the node's share
		# of every SYN in the same softirq); the backends have the other
		sl_nsx uplink taskset -c "$CPU_CLIENT" "$SYNFLOOD" -i eth0 -m "$SL_UPLINK_MAC" \
			-d "$SL_VIP4" -p 80 -t "$FLOOD_S" -s "${RUN:-1}" >"$out.flood" ||
			log "section 7 $key: synflood failed"
	else
		sleep "$FLOOD_S"
		echo '{"sent": 0, "pps": 0}' >"$out.flood"
	fi
	sl_wait_for 30 test -s "$out.steady" || log "section 7 $key: the client did not report"
	nf1=$(nf_drops)
	sl_nsx node "$SL_PY" "$SL_E2E/node_tools.py" held-entries --table "$table" --pin "$SL_PIN_DIR" \
		--ports "$out.ports" --client 10.0.9.2 --vip "$SL_VIP4" >"$out.entries"
	touch "$out.done"
	sl_reap "$pid" 20
	"$SL_PY" - "$out" "$key" "$flood" "${RUN:-1}" "$(sl_nsx node sysctl -n net.netfilter.nf_conntrack_count)" \
		"$((nf1 - nf0))" >>"$RAW" <<'EOF'
import json, sys
out, key, flood, run, nf_count, nf_drops = sys.argv[1:7]
st = json.load(open(out + ".steady"))
fl = json.load(open(out + ".flood"))
en = json.load(open(out + ".entries"))
mode = "flood" if flood == "1" else "calm"
vals = {"pps": fl["pps"], "held": st["held"], "held_broken": st["held_broken"],
        "entries_lost": en["held"] - en["entries"], "new_ok": st["new_ok"],
        "new_failed": st["new_failed"], "new_p50_ms": st["new_p50_ms"], "new_p99_ms": st["new_p99_ms"],
        "nf_conntrack": int(nf_count), "nf_drops": int(nf_drops)}
for m, v in vals.items():
    print(json.dumps({"section": 7, "key": key, "metric": mode + "/" + m, "run": int(run), "value": v}))
EOF
}
if has 7; then
	log "section 7: SYN flood (${FLOOD_S}s per run, $FLOOD_HELD held connections)"
	[ -x "$SYNFLOOD" ] || sl_die "$SYNFLOOD not built (make build/tests/synflood)"
	sl_uplink_up
	# netfilter's table as kube-proxy sizes it (--conntrack-max-per-core
	# 32768, at least 131072); the kernel takes it from the first netns
	# only, for all of them: restored by _bench_cleanup
	CT_WAS=$(sysctl -n net.netfilter.nf_conntrack_max)
	n=$((32768 * $(nproc)))
	sysctl -qw net.netfilter.nf_conntrack_max=$((n > 131072 ? n : 131072))
	ports_vip
	for RUN in $(seq 1 "$RUNS"); do
		for ct in 262144 16384; do
			SL_RUN_LOG=$SL_TMP/run.log
			sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run \
				--config "$(gen_cfg 1 90 10)" --iface c1 --iface u1 --ct-max "$ct"
			sl_wait_for 20 _sl_run_ready || sl_die "sluice run did not start"
			for f in 0 1; do flood_run "sluice/$ct" sluice "$f"; done
			sluice_down
		done
		ipt_up 1
		for f in 0 1; do flood_run iptables netfilter "$f"; done
		ipt_down
		nft_up 1
		for f in 0 1; do flood_run nftables netfilter "$f"; done
		nft_down
		log "section 7 run $RUN done"
	done
	sysctl -qw net.netfilter.nf_conntrack_max="$CT_WAS"
	CT_WAS=
fi

# ---------------------------------------------------------------- section 8
# CPU per request without steal time: a VM's stolen time is another guest's
# work, not this one's (cpu_busy above counts it, for the older sections).
cpu_own() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# rank_wrk KEY close|keep URL...: wrk against every URL at once (the
# connections shared out), summed; rps and CPU us per request (section 8)
rank_wrk() {
	local key=$1 mode=$2 c0 c1 i=0 n pids=() hdr=() url
	shift 2
	n=$#
	[ "$mode" = close ] && hdr=(-H "Connection: close")
	rm -f "$SL_TMP"/rank-wrk.*
	c0=$(cpu_own)
	for url in "$@"; do
		sl_nsx client "${RANK_WRAP[@]}" taskset -c "$CPU_CLIENT" wrk -t1 -c"$(((WRK_C + i) / n))" \
			-d"${RANK_DUR}s" "${hdr[@]}" "$url" >"$SL_TMP/rank-wrk.$i" 2>&1 &
		pids+=($!)
		i=$((i + 1))
	done
	wait "${pids[@]}"
	c1=$(cpu_own)
	for i in "$SL_TMP"/rank-wrk.*; do "$SL_PY" "$B/gen.py" wrk <"$i"; done >"$SL_TMP/rank-sum.json"
	"$SL_PY" - "$SL_TMP/rank-sum.json" "$((c1 - c0))" "$HZ" "$key" "$mode" "$RUN" >>"$RAW" <<'PYEOF'
import json, sys
rs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
cpu, hz = int(sys.argv[2]), int(sys.argv[3])
key, mode, run = sys.argv[4], sys.argv[5], int(sys.argv[6])
n = sum(r["requests"] for r in rs)
vals = {"rps": sum(r["rps"] for r in rs) if n else None,
        "cpu_us": cpu / hz / n * 1e6 if n else None,
        "errors": sum(r["socket_errors"] + r["non2xx"] for r in rs)}
for m, v in vals.items():
    print(json.dumps({"section": 8, "key": key, "metric": mode + "/" + m, "run": run, "value": v}))
PYEOF
}

# kube-proxy's rules, loaded once per size and switched on and off by their
# hooks alone (loading 10,000 services into nftables takes minutes): off,
# not a packet of the other contenders meets them.
ipt_hooks() { # -I|-D
	sl_nsx node "$IPT" -w 5 -t nat "$1" PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
	sl_nsx node "$IPT" -w 5 -t nat "$1" POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
}
nft_hooks() { # on|off
	if [ "$1" = on ]; then
		sl_nsx node nft -f - <<'NFTEOF'
table ip kube-proxy {
  chain masquerading { type nat hook postrouting priority srcnat; policy accept;
    meta mark & 0x4000 == 0 return
    meta mark set meta mark xor 0x4000
    masquerade fully-random; }
  chain nat-prerouting { type nat hook prerouting priority dstnat; policy accept;
    jump services; }
}
NFTEOF
	else
		for c in masquerading nat-prerouting nat-output; do
			sl_nsx node nft flush chain ip kube-proxy "$c" 2>/dev/null
			sl_nsx node nft delete chain ip kube-proxy "$c" 2>/dev/null
		done
	fi
}

if has 8; then
	log "section 8: ranking ($RANK_ROUNDS rounds x ${RANK_DUR}s per contender and mode; sizes $RANK_SIZES)"
	RANK=(floor sluice-stack iptables nftables)
	FAST_FLAG=()
	SL_IFS=(c1)
	# the fast path (issue 15 part 3) is there when `run` knows how to turn it off;
	# it redirects between interfaces sluice is attached to: the backends' too,
	# for both rows (docs/fastpath.md)
	if [[ $("$SLUICE" run --help 2>&1) == *--no-fast-path* ]]; then
		RANK=(floor sluice-stack sluice-fast iptables nftables)
		FAST_FLAG=(--no-fast-path)
		SL_IFS=(c1 b-v1a b-v1b b-v2)
	fi
	# socket-level balancing (the --socket-lb prototype): wrk in a cgroup
	# of its own, whose connect() the program rewrites (RANK_WRAP puts it there)
	RANK_CG=
	RANK_WRAP=()
	CG_ROOT=$(sl_cg_root)
	if [[ $("$SLUICE" run --help 2>&1) == *--socket-lb* ]] && [ -n "$CG_ROOT" ]; then
		RANK_CG=$CG_ROOT/sluice-bench-$$
		mkdir -p "$RANK_CG" || sl_die "mkdir $RANK_CG"
		sl_on_exit "rmdir $RANK_CG"
		RANK+=(sluice-sock)
	fi
	if [ -n "$RANK_ONLY" ]; then
		keep=()
		for c in "${RANK[@]}"; do
			[[ " $RANK_ONLY " == *" $c "* ]] && keep+=("$c")
		done
		[ ${#keep[@]} -ge 2 ] || sl_die "RANK_ONLY=\"$RANK_ONLY\": fewer than two of ${RANK[*]}"
		RANK=("${keep[@]}")
	fi
	ranks() { [[ " ${RANK[*]} " == *" $1 "* ]]; }
	for n in $RANK_SIZES; do
		t0=$SECONDS
		if ranks iptables; then
			ipt_up "$n"
			ipt_hooks -D
		fi
		if ranks nftables; then
			nft_up "$n"
			nft_hooks off
		fi
		if ranks iptables || ranks nftables; then
			RUN=1 rec 8 "load/$n" seconds "$((SECONDS - t0))"
		fi
		for RUN in $(seq 1 "$RANK_ROUNDS"); do
			# rotate the order: no contender always runs first (or after the same one)
			k=$(((RUN - 1) % ${#RANK[@]}))
			for c in "${RANK[@]:k}" "${RANK[@]:0:k}"; do
				urls=("http://$SL_VIP4/")
				case $c in
				# the same three backends as the VIP paths, each its share of the connections
				floor)
					ports_direct
					urls=(http://10.0.1.10:8080/ http://10.0.1.11:8080/ http://10.0.2.10:8080/)
					;;
				sluice-stack)
					ports_vip
					SL_READY_IFACE=${SL_IFS[-1]} sl_run_start "$(gen_cfg "$n" 90 10)" \
						"${SL_IFS[@]}" -- "${FAST_FLAG[@]}" || sl_die "sluice run"
					;;
				sluice-fast)
					ports_vip
					SL_READY_IFACE=${SL_IFS[-1]} sl_run_start "$(gen_cfg "$n" 90 10)" \
						"${SL_IFS[@]}" || sl_die "sluice run"
					;;
				sluice-sock)
					# its connections go to the backends directly: the floor's timestamp base
					ports_direct
					SL_READY_IFACE=${SL_IFS[-1]} sl_run_start "$(gen_cfg "$n" 90 10)" \
						"${SL_IFS[@]}" -- --socket-lb "$RANK_CG" || sl_die "sluice run"
					RANK_WRAP=("${SL_IN_CGROUP[@]}" "$RANK_CG")
					;;
				iptables) ports_vip; ipt_hooks -I ;;
				nftables) ports_vip; nft_hooks on ;;
				esac
				for mode in close keep; do rank_wrk "$c/$n" "$mode" "${urls[@]}"; done
				RANK_WRAP=()
				case $c in
				sluice-*) sluice_down ;;
				iptables) ipt_hooks -D ;;
				nftables) nft_hooks off ;;
				esac
			done
			log "section 8: $n services, round $RUN done"
		done
		if ranks iptables; then ipt_down; fi
		if ranks nftables; then nft_down; fi
	done
fi

# ---------------------------------------------------------------- report
ELAPSED=$((SECONDS - T_START))
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
"$SL_PY" "$B/report.py" "$RAW" "$RESULTS" "$MACHINE" "$RUNS" "$DUR" "$WRK_C" "$ELAPSED" \
	"${QUICK:+quick}" || sl_die "report failed"
echo
echo "Raw results: $RESULTS (${ELAPSED} s)"
if has 6; then
	# on a quiet machine: this script's namespaces and backends go first
	# (sl_cleanup ends with exit: in a subshell)
	_bench_cleanup
	trap - EXIT
	(sl_cleanup)
	log "section 6: header routing (scripts/bench/l7.sh)"
	l7_section || exit 1
fi
exit 0
