#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Header routing benchmark (section 6 of scripts/bench.sh; runs on its own
# too): what the L7 step costs a new connection, against the kernel's DNAT
# path for the same service and against nginx doing the same header routing.
#
#   sudo scripts/bench/l7.sh          (full: 3 runs, 5 s phases, ~6 min)
#   sudo QUICK=1 scripts/bench/l7.sh  (1 run, 2 s phases, ~1 min)
#
# The topology of scripts/netns-lib.sh (client -> node -> nginx backends v1a,
# v1b, v2), the service of examples/istio (VIP 10.96.0.10:80, subsets v1/v2,
# VirtualService: `canary: canary-tester` -> v2, else 90/10). Contenders, in
# the node netns, one at a time, in a rotating order per run:
#   dnat       sluice run, the same Istio files minus the header route: the
#              kernel DNATs every connection (the baseline of every ratio)
#   nol7       sluice run --no-l7 with the header route: weighted DNAT fallback
#   l7, l7-hdr sluice run with the header route: the L7 step; requests
#              without the header (90/10), and with it (-> v2)
#   nginx, nginx-hdr
#              nginx (one worker) on the VIP (a local address on the node's
#              lo): map $http_canary, split_clients 90/10 on the client's
#              address and port, upstream keep-alive to the backends
#   nginx-noka the same without upstream keep-alive (a new backend connection
#              per client connection, as the L7 step does)
# Per contender and run: wrk with `Connection: close` (new connections/s,
# latency, CPU per request), curl one connection at a time (TTFB p50/p99
# unloaded), ab -c WRK_C (connect to response p50/p99 under load), wrk
# keep-alive. Every phase uses a client address of its own (TIME_WAIT and
# PAWS never meet an earlier phase). Method: docs/bench.md, "Header routing".
set -uo pipefail
SL_TEST_NAME=bench-l7
. "$(dirname "$0")/../netns-lib.sh"
B=$SL_ROOT/scripts/bench

QUICK=${QUICK:-}
q() { if [ -n "$QUICK" ]; then echo "$1"; else echo "$2"; fi; }
RUNS=${RUNS:-$(q 1 3)}
DUR=${DUR:-$(q 2 5)}                 # seconds of each wrk run
WRK_C=${WRK_C:-32}                   # wrk and ab concurrency
TTFB_N=${TTFB_N:-$(q 300 2000)}      # curl: sequential new connections
AB_N=${AB_N:-$(q 2000 10000)}        # ab: requests (one connection each)
SETUPS=${SETUPS:-dnat nol7 l7 nginx nginx-noka}
QUIET_WAIT=${QUIET_WAIT:-$(q 0 30)} # s to wait for other work to stop before a contender
QUIET_PCT=${QUIET_PCT:-15}           # ... "stopped": the machine less busy than this
RESULTS=${RESULTS_L7:-$SL_ROOT/build/bench-l7-results.json}
HDR="canary: canary-tester"
CPU_CLIENT=0                         # wrk, ab, curl
CPU_SERVER=$(($(nproc) > 1 ? 1 : 0)) # backends
BULK_MB=1
RAW=$SL_TMP/raw.jsonl
PY=$B/l7.py
HANDOFF=/run/sluice/$(basename "$SL_PIN_DIR").handoff
. "$B/lib.sh"

for t in wrk ab curl nginx taskset; do
	command -v "$t" >/dev/null || sl_die "missing tool: $t (scripts/install-deps.sh)"
done
# (sl_cleanup exits with the status it finds in $?: keep the script's)
trap 'rc=$?; rm -f "$HANDOFF"; (exit $rc); sl_cleanup' EXIT
T_START=$SECONDS
: >"$RAW"

sl_topo_up
bench_tune_topology
# Client addresses: one per phase (10.0.9.10 ..), so no phase meets the
# TIME_WAIT sockets of an earlier one (the node keeps them for the L7 step's
# and nginx's connections, the backends for DNATed ones) with another
# timestamp base. Each address has the whole port range.
sl_nsx client sysctl -qw net.ipv4.ip_local_port_range="10000 64999"
CMAC=$(_sl_mac client eth0)
SRC_I=0
fresh_src() {
	local a=10.0.9.$((10 + SRC_I % 240))
	SRC_I=$((SRC_I + 1))
	sl_nsx client ip addr replace "$a/24" dev eth0
	sl_nsx node ip neigh replace "$a" lladdr "$CMAC" dev c1 nud permanent
	sl_nsx client ip route replace default via 10.0.9.1 src "$a" || sl_die "source $a"
}

# ---------------------------------------------------------------- configs

# Istio files: examples/istio as they are (the header route), and the same
# with the VirtualService's canary-tester route left out.
CFG_L7=$SL_TMP/istio-l7
CFG_DNAT=$SL_TMP/istio-dnat
mkdir -p "$CFG_L7" "$CFG_DNAT"
cp "$SL_ROOT"/examples/istio/*.yaml "$CFG_L7/"
cp "$SL_ROOT"/examples/istio/*.yaml "$CFG_DNAT/"
awk '/^    - name: / { skip = ($0 ~ /canary-tester/) } !skip' \
	"$SL_ROOT/examples/istio/30-virtualservice.yaml" >"$CFG_DNAT/30-virtualservice.yaml"
grep -q canary-tester "$CFG_DNAT/30-virtualservice.yaml" && sl_die "header route not removed"
SVC=backend.default

# nginx: the same routing. split_clients on the client's address and port
# (per connection, like sluice's hash; one request per connection makes it
# per request too).
nginx_conf() { # DIR KEEPALIVE(0|1)
	local d=$1 ka=
	[ "$2" = 1 ] && ka="keepalive 64;"
	cat <<EOF
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log error;
worker_processes 1;
events { worker_connections 4096; }
http {
  client_body_temp_path $d/body; proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  access_log off;
  keepalive_timeout 600s;
  keepalive_requests 1000000;
  split_clients "\${remote_addr}:\${remote_port}" \$split { 90% v1; * v2; }
  map \$http_canary \$pool { canary-tester v2; default \$split; }
  upstream v1 { server 10.0.1.10:8080; server 10.0.1.11:8080; $ka }
  upstream v2 { server 10.0.2.10:8080; $ka }
  server {
    listen $SL_VIP4:80 backlog=4096;
    location / {
      proxy_pass http://\$pool;
$([ "$2" = 1 ] && printf '      proxy_http_version 1.1;\n      proxy_set_header Connection "";')
    }
  }
}
EOF
}

# ---------------------------------------------------------------- contenders

PROC_PID= # the process doing the contender's work in userspace
PROXY_PID=
_ready() { # WANT_L7(0|1)
	local f=$SL_TMP/status.ready.json
	_sl_gone "$SL_RUN_PID" && return 1
	sl_filters_present c1 || return 1
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" has-service "$f" "$SVC" || return 1
	# the header decides: all of a few header requests on v2
	if [ "$1" = 1 ]; then
		local i
		for i in 1 2 3 4 5; do
			[ "$(sl_nsx client curl -s --max-time 1 -H "$HDR" "http://$SL_VIP4/")" = v2 ] || return 1
		done
	else
		sl_nsx client curl -sf --max-time 1 -o /dev/null "http://$SL_VIP4/"
	fi
}
sluice_up() { # CONFIG_DIR WANT_L7 [RUN ARGS...]
	local cfg=$1 want=$2
	shift 2
	SL_RUN_LOG=$SL_TMP/run.log
	echo "--- sluice run $* --config $cfg $(date +%T.%N)" >>"$SL_RUN_LOG"
	RUNLOG_AT=$(wc -l <"$SL_RUN_LOG")
	sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run \
		--config "$cfg" --iface c1 "$@"
	sl_wait_for 20 _ready "$want" || sl_die "sluice run $* --config $cfg did not start"
	PROC_PID=$SL_RUN_PID
}
sluice_down() {
	sl_run_stop
	sl_sluice down >/dev/null 2>&1
	rm -rf "$SL_PIN_DIR" "$HANDOFF"
	PROC_PID=
}
proxy_up() { # KEEPALIVE(0|1)
	local d=$SL_TMP/nginx-proxy-$1
	mkdir -p "$d"
	PROXY_LOG=$d/error.log
	: >"$PROXY_LOG"
	nginx_conf "$d" "$1" >"$d/nginx.conf"
	sl_nsx node ip addr add "$SL_VIP4/32" dev lo
	sl_bg PROXY_PID node "$d/out.log" nginx -c "$d/nginx.conf" -p "$d"
	sl_wait_for 10 sl_nsx client curl -sf --max-time 1 "http://$SL_VIP4/" ||
		sl_die "nginx proxy not answering: $(tail -3 "$d/error.log" "$d/out.log" 2>/dev/null)"
	[ "$(sl_nsx client curl -s --max-time 1 -H "$HDR" "http://$SL_VIP4/")" = v2 ] ||
		sl_die "nginx proxy: the header request did not reach v2"
	PROC_PID=$PROXY_PID
}
proxy_down() {
	sl_stop "$PROXY_PID" QUIT
	PROXY_PID=
	PROC_PID=
	sl_nsx node ip addr del "$SL_VIP4/32" dev lo
}

# ---------------------------------------------------------------- measuring

# proc_ticks PID: user + system jiffies of PID, its threads and children.
proc_ticks() {
	local pid=$1 t=0 c
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || { echo 0; return; }
	t=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
	for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		t=$((t + $(proc_ticks "$c")))
	done
	echo "$t"
}

# Counters of the L7 step (pinned sl_l7_counters) and sluice's datapath,
# as one JSON object; {} without sluice.
sluice_counters() {
	[ -n "$SL_RUN_PID" ] || { echo '{}'; return; }
	bpftool map dump pinned "$SL_PIN_DIR/sl_l7_counters" -j >"$SL_TMP/l7c.json" 2>/dev/null ||
		echo '[]' >"$SL_TMP/l7c.json"
	sl_sluice -j status >"$SL_TMP/st.json" 2>/dev/null || echo '{}' >"$SL_TMP/st.json"
	"$SL_PY" "$PY" counters "$SL_TMP/l7c.json" "$SL_TMP/st.json"
}

cpu_steal() { awk '/^cpu / { print $9 }' /proc/stat; } # jiffies stolen by the hypervisor
backends_now() { echo "$(backend_requests v1a) $(backend_requests v1b) $(backend_requests v2)"; }

# backend_ticks: jiffies of the three backend nginx (masters and workers).
backend_ticks() {
	echo $(($(proc_ticks "${NGX_PID[v1a]}") + $(proc_ticks "${NGX_PID[v1b]}") + \
		$(proc_ticks "${NGX_PID[v2]}")))
}

# wrk_phase KEY close|keep HDR?: one wrk run; CPU around it: the machine's
# (/proc/stat), and that of the benchmark's own processes (wrk, backends,
# the contender's process; with tick accounting their softirq is in it),
# whose difference is other work on the machine.
wrk_phase() {
	local key=$1 mode=$2 h=() b0 s0 b1 s1 p0 p1 k0 k1 st0 st1 w0 w1 out TIMEFORMAT='%3U %3S'
	[ "$mode" = close ] && h+=(-H "Connection: close")
	[ -n "$3" ] && h+=(-H "$HDR")
	fresh_src
	p0=$(proc_ticks "$PROC_PID")
	k0=$(backend_ticks)
	read -r b0 s0 < <(cpu_busy)
	st0=$(cpu_steal)
	w0=$(date +%s.%N)
	{ time out=$(sl_nsx client taskset -c "$CPU_CLIENT" wrk -t1 -c"$WRK_C" -d"${DUR}s" \
		--latency "${h[@]}" "http://$SL_VIP4/" 2>&1); } 2>"$SL_TMP/wrk.time"
	w1=$(date +%s.%N)
	read -r b1 s1 < <(cpu_busy)
	st1=$(cpu_steal)
	k1=$(backend_ticks)
	p1=$(proc_ticks "$PROC_PID")
	echo "$out" >"$SL_TMP/wrk-$key-$mode-$RUN.out"
	echo "$out" | "$SL_PY" "$B/gen.py" wrk |
		"$SL_PY" "$PY" rec-wrk "$key" "$mode" "$RUN" "$HZ" "$(nproc)" "$((b1 - b0))" \
			"$((s1 - s0))" "$((st1 - st0))" "$((p1 - p0))" "$((k1 - k0))" \
			"$(awk '{ print $1 + $2 }' "$SL_TMP/wrk.time")" \
			"$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" >>"$RAW" ||
		log "wrk $key $mode: $(echo "$out" | tail -3)"
}

# ttfb_phase KEY HDR?: TTFB of TTFB_N new connections one after the other
# (curl, one process, `Connection: close`: every transfer its own connection).
ttfb_phase() {
	local key=$1 h=(-H "Connection: close")
	[ -n "$2" ] && h+=(-H "$HDR")
	fresh_src
	sl_nsx client taskset -c "$CPU_CLIENT" curl -s -o /dev/null --max-time 5 "${h[@]}" \
		-w 'T %{time_connect} %{time_starttransfer} %{http_code} %{num_connects}\n' \
		"http://$SL_VIP4/?[1-$TTFB_N]" >"$SL_TMP/curl.out" 2>&1
	"$SL_PY" "$PY" rec-curl "$key" "$RUN" "$TTFB_N" <"$SL_TMP/curl.out" >>"$RAW"
}

# ab_phase KEY HDR?: AB_N requests, WRK_C at once, one connection each;
# ab's percentiles (-e: connect to the end of the response, in ms).
ab_phase() {
	local key=$1 h=()
	[ -n "$2" ] && h+=(-H "$HDR")
	fresh_src
	rm -f "$SL_TMP/ab.csv"
	sl_nsx client taskset -c "$CPU_CLIENT" ab -q -s 10 -n "$AB_N" -c "$WRK_C" -e "$SL_TMP/ab.csv" \
		"${h[@]}" "http://$SL_VIP4/" >"$SL_TMP/ab.out" 2>&1 ||
		log "ab $key: $(tail -2 "$SL_TMP/ab.out" | tr '\n' ' ')"
	"$SL_PY" "$PY" rec-ab "$key" "$RUN" "$SL_TMP/ab.out" "$SL_TMP/ab.csv" >>"$RAW"
}

# contender KEY HDR?: every phase, with the backends' and sluice's counters
# around them.
contender() {
	local key=$1 hdr=${2:-} c0 c1 r0 r1
	c0=$(sluice_counters)
	r0=$(backends_now)
	wrk_phase "$key" close "$hdr"
	ttfb_phase "$key" "$hdr"
	ab_phase "$key" "$hdr"
	r1=$(backends_now) # the share of new connections (32 keep-alive ones say little)
	wrk_phase "$key" keep "$hdr"
	c1=$(sluice_counters)
	"$SL_PY" "$PY" rec-counters "$key" "$RUN" "$c0" "$c1" "$r0" "$r1" >>"$RAW"
	log "  $key${hdr:+ (header)} done"
}

# log_issues LOG FROM_LINE KEY...: warnings and errors in LOG after FROM_LINE
# (sluice run's log, nginx's error log), counted for each KEY.
log_issues() {
	local f=$1 from=$2 n k
	shift 2
	n=$(tail -n +"$((from + 1))" "$f" 2>/dev/null | grep -ciE 'warn|error|fail|reset|refused|timed out') || true
	for k in "$@"; do
		printf '{"section":6,"key":"%s","metric":"log_issues","run":%s,"value":%s}\n' \
			"$k" "$RUN" "${n:-0}" >>"$RAW"
	done
	tail -n +"$((from + 1))" "$f" 2>/dev/null | grep -iE 'warn|error|fail|reset|refused|timed out' |
		head -5 | sed "s/^/# log ($*): /" >&2
}

# clean_tw: no TIME_WAIT sockets left from the contender before (on the
# node, those of the L7 step's connections hold VIP:80 and would keep nginx
# from binding it for 60 s; everywhere, they would lengthen hash chains).
clean_tw() {
	local n
	for n in node v1a v1b v2 client; do sl_nsx "$n" ss -K state time-wait >/dev/null 2>&1; done
}

# bg_busy: the machine's busy share over 1 s while this script is idle:
# other people's work on a shared machine. Up to QUIET_WAIT s of waiting for
# it to fall under QUIET_PCT % before a contender starts; the last sample is
# reported next to the tables.
busy_1s() {
	local b0 b1 t0 t1
	read -r b0 _ < <(cpu_busy)
	t0=$(awk '/^cpu / { s = 0; for (i = 2; i <= NF; i++) s += $i; print s }' /proc/stat)
	sleep 1
	read -r b1 _ < <(cpu_busy)
	t1=$(awk '/^cpu / { s = 0; for (i = 2; i <= NF; i++) s += $i; print s }' /proc/stat)
	awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", t ? 100 * b / t : 0 }'
}
bg_busy() {
	local v waited=0
	v=$(busy_1s)
	while [ "$waited" -lt "$QUIET_WAIT" ] && awk -v v="$v" -v m="$QUIET_PCT" 'BEGIN { exit !(v >= m) }'; do
		v=$(busy_1s)
		waited=$((waited + 1))
	done
	[ "$waited" = 0 ] || log "  waited ${waited}s for a quieter machine (now ${v}% busy)"
	printf '{"section":6,"key":"_machine","metric":"background_busy_pct","run":%s,"value":%s}\n' \
		"$RUN" "$v" >>"$RAW"
	printf '{"section":6,"key":"_machine","metric":"quiet_wait_s","run":%s,"value":%s}\n' \
		"$RUN" "$waited" >>"$RAW"
}

setup() { # NAME: bring up, measure (with and without the header), tear down
	clean_tw
	bg_busy
	case $1 in
	dnat)
		sluice_up "$CFG_DNAT" 0
		contender dnat
		log_issues "$SL_RUN_LOG" "$RUNLOG_AT" dnat
		sluice_down
		;;
	nol7)
		sluice_up "$CFG_L7" 0 --no-l7
		contender nol7
		log_issues "$SL_RUN_LOG" "$RUNLOG_AT" nol7
		sluice_down
		;;
	l7)
		sluice_up "$CFG_L7" 1
		if [ $((RUN % 2)) = 1 ]; then contender l7; contender l7-hdr 1
		else contender l7-hdr 1; contender l7; fi
		log_issues "$SL_RUN_LOG" "$RUNLOG_AT" l7 l7-hdr
		sluice_down
		;;
	nginx)
		proxy_up 1
		if [ $((RUN % 2)) = 1 ]; then contender nginx; contender nginx-hdr 1
		else contender nginx-hdr 1; contender nginx; fi
		log_issues "$PROXY_LOG" 0 nginx nginx-hdr
		proxy_down
		;;
	nginx-noka)
		proxy_up 0
		contender nginx-noka
		log_issues "$PROXY_LOG" 0 nginx-noka
		proxy_down
		;;
	*) sl_die "unknown setup $1" ;;
	esac
}

read -ra SETUP_LIST <<<"$SETUPS"
NS=${#SETUP_LIST[@]}
log "header routing: $RUNS run(s) x {$SETUPS}, wrk ${DUR}s c=$WRK_C, curl $TTFB_N, ab $AB_N"
for RUN in $(seq 1 "$RUNS"); do
	for ((i = 0; i < NS; i++)); do
		s=${SETUP_LIST[$(((i + RUN - 1) % NS))]}
		log "run $RUN: $s"
		setup "$s"
	done
done

ELAPSED=$((SECONDS - T_START))
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
"$SL_PY" "$PY" report "$RAW" "$RESULTS" "$MACHINE" "$RUNS" "$DUR" "$WRK_C" "$TTFB_N" "$AB_N" \
	"$ELAPSED" "${QUICK:+quick}" || sl_die "report failed"
echo
echo "Raw results: $RESULTS (${ELAPSED} s)"
exit 0
