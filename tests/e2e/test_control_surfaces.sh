#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# What `sluice run` exposes cannot be turned against it, and gives nothing
# away. Run as the DaemonSet runs it: CAP_BPF, CAP_NET_ADMIN and
# CAP_PERFMON only, --metrics on a reachable address, --health on loopback.
#  - 1,000 slow clients (slowloris and readers that never read, from 125
#    source addresses) against the metrics port: /healthz on the health
#    port answers 200 within 1 s every time for 10 s; the metrics port comes
#    back once they leave; one address holds at most 8 connections there.
#  - A flood of /api/v1/stats: `run` stays under BOUND_PCT of one core (see
#    below), and a scrape from elsewhere and the probe are still answered.
#  - The pin directory (narrowed if it was wider), the pins, /run/sluice
#    and the hand-over socket are their owner's alone, and the socket
#    refuses a peer of another user even when the modes would let it in.
#  - Bad --health arguments exit 1 naming the argument.
# shellcheck disable=SC2016
set -uo pipefail
SL_TEST_NAME=surfaces
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

CFG=$SL_CFG
PORT=9464
HPORT=9465
MURL=http://127.0.0.1:$PORT
HURL=http://127.0.0.1:$HPORT/healthz
LORIS=("$SL_PY" "$SL_E2E/slowloris.py")
HANDOFF=/run/sluice/$(basename "$SL_PIN_DIR").handoff
# The server answers at most 200 requests a second, each from a cache
# refreshed at most 4 times a second: about 0.1 ms of CPU each (measured:
# 2-4% of a core under wrk), where every request used to walk the maps
# (0.25 ms; 75-95% of a core, as much as the flood could get). 15% leaves
# room for a busy machine and still fails any unbounded cost.
BOUND_PCT=15
FLOOD_S=8
TICK=$(getconf CLK_TCK)

# The slow clients need a descriptor each; the probes, a few more.
ulimit -n 4096 || sl_die "cannot raise the open files limit"
for t in wrk setpriv; do command -v "$t" >/dev/null || sl_die "missing tool: $t"; done

sl_topo_up
sl_config "$CFG" 90 10

# 1. Bad --health arguments (its port that of --metrics, too): exit 1,
# naming it, before anything is loaded.
_names_arg() { [ "$1" = 1 ] && [[ "$2" == *"$3"* ]]; }
for a in abc 0 '::1:80' "$PORT"; do
	out=$(sl_sluice run --config "$CFG" --iface c1 --metrics "$PORT" --health "$a" 2>&1)
	rc=$?
	sl_check "bad-health-arg[$a]" "exit $rc: $out" _names_arg "$rc" "$out" "--health '$a'"
done

# 2. Started as the DaemonSet starts it (its three capabilities and no
# other), over a pin directory and a /run/sluice left too wide (a kubelet's
# hostPath is 0755).
mkdir -p "$SL_PIN_DIR" /run/sluice && chmod 0755 "$SL_PIN_DIR" /run/sluice
SL_RUN_LOG=$SL_TMP/run.log
sl_bg SL_RUN_PID node "$SL_RUN_LOG" setpriv --bounding-set -all,+bpf,+net_admin,+perfmon \
	--inh-caps=-all -- "$SLUICE" --pin-dir "$SL_PIN_DIR" run --config "$CFG" \
	--iface c1 --metrics "0.0.0.0:$PORT" --health "127.0.0.1:$HPORT"
_ok() { [ "$(sl_nsx node curl -s --max-time 1 "$1")" = ok ]; }
sl_wait_for 20 _sl_run_ready && sl_wait_for 10 _ok "$HURL" && sl_wait_for 5 test -S "$HANDOFF" ||
	sl_die "sluice run --health did not start: $(tail -3 "$SL_RUN_LOG")"
code=$(sl_nsx node curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$HPORT/metrics")
sl_check health-port-only-healthz "GET /metrics on the health port: $code" test "$code" = 404
sl_check metrics-port-healthz-too "" _ok "$MURL/healthz"

# 3. Modes and owners.
_mode() { stat -c '%a %U:%G %F' "$1"; }
sl_check pin-dir-0700 "$(_mode "$SL_PIN_DIR")" test "$(_mode "$SL_PIN_DIR")" = "700 root:root directory"
wide=$(find "$SL_PIN_DIR" -mindepth 1 \( -perm /077 -o ! -user root \) | head -3)
sl_check pins-0600 "$(find "$SL_PIN_DIR" -mindepth 1 | wc -l) pins; wider: ${wide:-none}" \
	eval '[ -z "$wide" ] && [ -n "$(find "$SL_PIN_DIR" -mindepth 1)" ]'
sl_check run-dir-0700 "$(_mode /run/sluice)" test "$(_mode /run/sluice)" = "700 root:root directory"
sl_check handoff-socket-0600 "$(_mode "$HANDOFF")" test "$(_mode "$HANDOFF")" = "600 root:root socket"
umask_run=$(awk '/^Umask:/ {print $2}' "/proc/$SL_RUN_PID/status")
caps=$(awk '/^CapEff:/ {print $2}' "/proc/$SL_RUN_PID/status")
sl_check run-umask-077 "umask $umask_run, CapEff $caps" \
	eval '[ "$umask_run" = 0077 ] && [ "$caps" = 000000c000001000 ]'

# Another user: kept out by the modes, and refused by the peer check when
# the modes are opened up for the test.
_connect_as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$SL_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(3)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES"); sys.exit(0)
try:
    s.send(b"x" * 64)
    print("closed" if s.recv(4096) == b"" else "answered")
except (BrokenPipeError, ConnectionResetError):
    print("closed")' "$HANDOFF" 2>&1
}
out=$(_connect_as_nobody)
sl_check handoff-other-user-denied "uid 65534: $out" test "$out" = EACCES
chmod 0711 /run/sluice && chmod 0666 "$HANDOFF"
out=$(_connect_as_nobody)
chmod 0700 /run/sluice && chmod 0600 "$HANDOFF"
sl_check handoff-peer-check "uid 65534 with the modes open: $out; $(grep -c 'hand-over refused' "$SL_RUN_LOG") refusals logged" \
	eval '[ "$out" = closed ] && grep -q "hand-over refused to pid .* (uid 65534)" "$SL_RUN_LOG"'

# 4. Slow clients fill the metrics port; the probe does not notice.
sl_bg loris node "$SL_TMP/loris.json" "${LORIS[@]}" hold --port "$PORT" -n 1000 --sources 125 \
	--seconds 30
sleep 1.5
ok=0 slow=() m_ok=0
for i in $(seq 20); do
	r=$(sl_nsx node curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 1 "$HURL")
	if [ "${r%% *}" = 200 ]; then ok=$((ok + 1)); else slow+=("#$i: $r"); fi
	_ok "$MURL/healthz" && m_ok=$((m_ok + 1))
	sleep 0.5
done
sl_stop "$loris" TERM 10
sl_check healthz-under-slowloris "$ok/20 probes 200 within 1 s over 10 s (the metrics port: $m_ok/20); ${slow[*]:-} $(cat "$SL_TMP/loris.json")" \
	test "$ok" = 20
# The attack was real: the clients held more connections than the metrics
# port takes (the rest wait for the kernel to accept them), and its own
# /healthz went unanswered.
sl_check slowloris-filled-metrics-port "metrics port /healthz $m_ok/20; $(cat "$SL_TMP/loris.json")" \
	$SL_PY -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(d["connected"] < 64 or int(sys.argv[2]) >= 20)' \
	"$SL_TMP/loris.json" "$m_ok"
sl_check metrics-port-recovers "" sl_wait_for 12 _ok "$MURL/healthz"
out=$(sl_nsx node "${LORIS[@]}" perip --port "$PORT" -n 40 --source 127.0.0.9)
sl_check per-address-limit "40 from one address: $out" \
	$SL_PY -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(not 1 <= d["kept"] <= 8)' "$out"

# 5. A flood of /api/v1/stats: CPU bounded, others still served.
cpu() { awk '{print $14 + $15}' "/proc/$SL_RUN_PID/stat"; }
c0=$(cpu) t0=$(_sl_us)
sl_bg flood node "$SL_TMP/wrk.txt" wrk -t2 -c8 -d"${FLOOD_S}s" "$MURL/api/v1/stats"
sleep 2
scrape=$(sl_nsx node curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 5 \
	--interface 127.0.0.2 "$MURL/metrics")
probe=$(sl_nsx node curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 1 "$HURL")
sl_reap "$flood" $((FLOOD_S + 10))
c1=$(cpu) t1=$(_sl_us)
pct=$(((c1 - c0) * 100 * 1000000 / TICK / (t1 - t0)))
rps=$(awk '/Requests\/sec/ {print $2}' "$SL_TMP/wrk.txt")
sl_check stats-flood-cpu "$((c1 - c0)) ticks in $(((t1 - t0) / 1000)) ms: ${pct}% of a core (bound ${BOUND_PCT}%), ${rps:-?} requests/s served" \
	eval '[ -n "$rps" ] && [ "$pct" -le "$BOUND_PCT" ]'
sl_check scrape-during-flood "GET /metrics from 127.0.0.2: $scrape" \
	$SL_PY -c 'import sys; c, t = sys.argv[1].split(); sys.exit(c != "200" or float(t) > 2)' "$scrape"
sl_check probe-during-flood "$probe" \
	$SL_PY -c 'import sys; c, t = sys.argv[1].split(); sys.exit(c != "200" or float(t) > 1)' "$probe"

sl_run_stop TERM
rc=$?
sl_check run-exit "exit $rc" test "$rc" = 0
sl_finish
