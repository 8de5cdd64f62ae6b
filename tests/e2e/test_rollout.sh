#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice rollout`, judged by `sluice run` once a second on the kernel's
# counters, with real backends and a steady client (~100 requests/s, a new
# connection each):
#   - a healthy v2 is promoted through every step in about steps x dwell,
#     with 0 failed requests;
#   - a v2 that answers 500 to 5 % of its requests, one that resets 5 % of
#     its connections, and one that adds 200 ms are rolled back within 10 s
#     of the start, never above the first step, with 0 failures for v1's
#     clients, and the abort names the gate and its figures;
#   - both versions failing 5 %: paused as "baseline degraded";
#   - 1 request/s: inconclusive ("waiting for N more requests"), then the
#     step's deadline pauses it; never promoted;
#   - a manual abort stops new v2 connections within 1 s (the counters);
#   - --dry-run judges without moving the weights;
#   - every decision is a -j event of run and a sluice_rollout_* metric, and
#     the response-time histogram is on /metrics.
set -uo pipefail
SL_TEST_NAME=rollout
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"
# shellcheck source=tests/e2e/rollout-lib.sh
. "$(dirname "$0")/rollout-lib.sh"

PORT=$((19000 + $$ % 1000))
CFG=$SL_CFG
# short dwells keep the test short; the gates are the ones a user would set
GATES=(--min-requests 20 --max-5xx-ratio 1% --max-reset-ratio 1% --max-p99-ms 150 --failure-limit 2)

sl_topo_up
ro_backend v1a
ro_backend v1b
ro_backend v2
sl_config "$CFG" 100 0
sl_run_start "$CFG" c1 -- -j --metrics "127.0.0.1:$PORT" || sl_die "sluice run did not attach and apply"

# ---------------------------------------------------------------- healthy
ro_client_start
sleep 1
sl_sluice rollout backend --to v2 --from v1 --steps 10,25,50,100 --dwell 2s "${GATES[@]}" \
	>"$SL_TMP/start.out" 2>&1 || sl_die "rollout start: $(cat "$SL_TMP/start.out")"
sl_sluice rollout backend wait --timeout 60s >/dev/null 2>&1
rc=$?
ro_client_stop
ro_status "$SL_TMP/healthy.json"
secs=$(ro_get "$SL_TMP/healthy.json" "round((ev[-1]['time_ms'] - ev[0]['time_ms']) / 1000, 1)")
walk=$(ro_get "$SL_TMP/healthy.json" "','.join(str(e['weight']) for e in ev if e['action'] in ('start', 'advance', 'promote'))")
fail=$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')
v2ok=$(ro_client_code "$RO_CLIENT_OUT" v2 200)
sl_check healthy-promoted "wait exit $rc, walk $walk in $secs s (4 steps x 2 s dwell)" \
	test "$rc" = 0 -a "$walk" = "10,25,50,100,100"
# steps x dwell, plus up to 1.5 s a step for the ticks and the first 20 requests
sl_check healthy-time "$secs s <= 4 x 2 s + 6 s" \
	"$SL_PY" -c "import sys; sys.exit(not 8 <= $secs <= 14)"
sl_check healthy-no-failures "client: fail=$fail, v2 answered $v2ok" test "$fail" = 0 -a "$v2ok" -gt 0

# ---------------------------------------------------------------- bad canaries
# bad NAME V2_OPTIONS GATE: v2 misbehaves; it must be rolled back.
bad() {
	local name=$1 opts=$2 gate=$3 f=$SL_TMP/$1.json b a
	sl_sluice weights backend v1=100 v2=0 >/dev/null
	# shellcheck disable=SC2086
	ro_backend v2 $opts
	sl_status "$SL_TMP/$name.before.json"
	ro_client_start
	sleep 1
	sl_sluice rollout backend --to v2 --from v1 --steps 10,50,100 --dwell 3s "${GATES[@]}" \
		>/dev/null 2>&1 || sl_die "rollout start ($name)"
	sl_sluice rollout backend wait --timeout 30s >/dev/null 2>&1
	rc=$?
	sleep 1 # v2's last connections drain; then the client's tally is final
	ro_client_stop
	sl_status "$SL_TMP/$name.after.json"
	ro_status "$f"
	local phase secs top reason v1bad v1k5 fails
	phase=$(sl_jget "$f" 'd["phase"]')
	secs=$(ro_get "$f" "round((ev[-1]['time_ms'] - ev[0]['time_ms']) / 1000, 1)")
	top=$(ro_get "$f" "max(e['weight'] for e in ev)")
	reason=$(sl_jget "$f" 'd["reason"]')
	v1bad=$(ro_client_other "$RO_CLIENT_OUT" v1)
	b=$(ro_counter "$SL_TMP/$name.before.json" v1 backend_resets)
	a=$(ro_counter "$SL_TMP/$name.after.json" v1 backend_resets)
	v1k5=$(($(sl_jget "$SL_TMP/$name.after.json" "[x for s in d['services'] if s['name'] == 'backend' for x in s['subsets'] if x['name'] == 'v1'][0]['http_responses']['5xx']") - \
		$(sl_jget "$SL_TMP/$name.before.json" "[x for s in d['services'] if s['name'] == 'backend' for x in s['subsets'] if x['name'] == 'v1'][0]['http_responses']['5xx']")))
	fails=$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')
	sl_check "$name-aborted" "exit $rc, phase $phase after $secs s: $reason" \
		test "$rc" = 5 -a "$phase" = aborted
	sl_check "$name-within-10s" "abort $secs s after the start" \
		"$SL_PY" -c "import sys; sys.exit(not $secs <= 10)"
	sl_check "$name-first-step-only" "highest v2 weight $top%" test "$top" = 10
	sl_check "$name-names-gate" "reason says '$gate' with v2's figures" \
		eval '[[ "$reason" == *"$gate"* && "$reason" == *"v2 "* ]]'
	sl_check "$name-v1-clean" "v1: $v1bad non-200 answers, 5xx +$v1k5, resets +$((a - b)) (client failures, all v2's: $fails)" \
		test "$v1bad" = 0 -a "$v1k5" = 0 -a "$((a - b))" = 0
	sl_check "$name-weights-back" "status: $(sl_weights_now)" _sl_weights_are "v1=100 v2=0"
}
bad errors "--fail-every 20" "5xx"
bad resets "--reset-every 20" "resets"
bad slow "--delay-ms 200" "p99"

# ---------------------------------------------------------------- baseline degraded
sl_sluice weights backend v1=100 v2=0 >/dev/null
ro_backend v1a --fail-every 20
ro_backend v1b --fail-every 20
ro_backend v2 --fail-every 20
ro_client_start
sleep 1
sl_sluice rollout backend --to v2 --from v1 --steps 10,50,100 --dwell 3s "${GATES[@]}" >/dev/null 2>&1 ||
	sl_die "rollout start (baseline)"
sl_sluice rollout backend wait --timeout 30s >/dev/null 2>&1
rc=$?
ro_client_stop
ro_status "$SL_TMP/baseline.json"
reason=$(sl_jget "$SL_TMP/baseline.json" 'd["reason"]')
aborts=$(ro_get "$SL_TMP/baseline.json" "sum(e['action'] == 'abort' for e in ev)")
sl_check baseline-paused "exit $rc, phase $(sl_jget "$SL_TMP/baseline.json" 'd["phase"]'), $aborts aborts: $reason" \
	eval '[ "$rc" = 4 ] && [ "$aborts" = 0 ] && [[ "$reason" == "baseline degraded"* ]]'
sl_check baseline-holds-weight "status: $(sl_weights_now)" _sl_weights_are "v1=90 v2=10"
sl_sluice rollout backend abort >/dev/null 2>&1
ro_backend v1a
ro_backend v1b
ro_backend v2

# ---------------------------------------------------------------- 1 request/s
sl_sluice weights backend v1=100 v2=0 >/dev/null
ro_client_start -c 1 --interval 1
sl_sluice rollout backend --to v2 --from v1 --steps 50,100 --dwell 1s --step-deadline 8s "${GATES[@]}" \
	>/dev/null 2>&1 || sl_die "rollout start (slow traffic)"
sleep 4
ro_status "$SL_TMP/slow1.json"
held=$(sl_jget "$SL_TMP/slow1.json" 'd["reason"]')
sl_sluice rollout backend wait --timeout 20s >/dev/null 2>&1
rc=$?
ro_client_stop
ro_status "$SL_TMP/slow2.json"
reason=$(sl_jget "$SL_TMP/slow2.json" 'd["reason"]')
promoted=$(ro_get "$SL_TMP/slow2.json" "sum(e['action'] in ('advance', 'promote') for e in ev)")
secs=$(ro_get "$SL_TMP/slow2.json" "round((ev[-1]['time_ms'] - ev[0]['time_ms']) / 1000, 1)")
sl_check slow-inconclusive "after 4 s: $held" eval '[[ "$held" == "waiting for "*" more requests"* ]]'
sl_check slow-deadline "exit $rc after $secs s, $promoted advances: $reason" \
	eval '[ "$rc" = 4 ] && [ "$promoted" = 0 ] && [[ "$reason" == *"deadline"* ]]'
sl_sluice rollout backend abort >/dev/null 2>&1

# ---------------------------------------------------------------- dry run
# judged on the weights in force (set by hand), never written: not even the abort
sl_sluice weights backend v1=90 v2=10 >/dev/null
ro_backend v2 --fail-every 20
ro_client_start
sl_sluice rollout backend --to v2 --from v1 --steps 10,100 --dwell 2s --dry-run "${GATES[@]}" >/dev/null 2>&1 ||
	sl_die "rollout start (dry run)"
sl_sluice rollout backend wait --timeout 30s >/dev/null 2>&1
rc=$?
ro_client_stop
ro_status "$SL_TMP/dry.json"
sl_check dry-run-judges "exit $rc: $(sl_jget "$SL_TMP/dry.json" 'd["reason"]')" test "$rc" = 5
sl_check dry-run-no-write "status after the dry abort: $(sl_weights_now)" _sl_weights_are "v1=90 v2=10"
ro_backend v2

# ---------------------------------------------------------------- manual abort
sl_sluice weights backend v1=100 v2=0 >/dev/null
ro_client_start
sl_sluice rollout backend --to v2 --from v1 --steps 50,100 --dwell 60s "${GATES[@]}" >/dev/null 2>&1 ||
	sl_die "rollout start (manual abort)"
sleep 2
t0=$(_sl_us)
sl_sluice rollout backend abort >"$SL_TMP/abort.out" 2>&1
rc=$?
t1=$(_sl_us)
sl_status "$SL_TMP/abort.0.json"
sleep 1
sl_status "$SL_TMP/abort.1.json"
ro_client_stop
c0=$(ro_counter "$SL_TMP/abort.0.json" v2 connections_opened)
c1=$(ro_counter "$SL_TMP/abort.1.json" v2 connections_opened)
v1n=$(($(ro_counter "$SL_TMP/abort.1.json" v1 connections_opened) - $(ro_counter "$SL_TMP/abort.0.json" v1 connections_opened)))
sl_check manual-abort "exit $rc in $(((t1 - t0) / 1000)) ms; v2 new connections in the next second: $((c1 - c0)), v1: $v1n" \
	test "$rc" = 0 -a $((t1 - t0)) -lt 1000000 -a "$((c1 - c0))" = 0 -a "$v1n" -gt 0
sl_check manual-abort-client "client: fail=$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')" \
	test "$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')" = 0

# ---------------------------------------------------------------- explained
n_ev=$(grep -c '"event":"rollout"\|"event": "rollout"' "$SL_RUN_LOG")
ab_ev=$(grep '"event":"rollout"\|"event": "rollout"' "$SL_RUN_LOG" | grep -c '"action":"abort"\|"action": "abort"')
sl_check json-events "$n_ev rollout events from run -j, $ab_ev aborts" test "$n_ev" -gt 10 -a "$ab_ev" -ge 3
sl_nsx node curl -s --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$SL_TMP/metrics.txt"
ph=$(grep -c '^sluice_rollout_phase{service="backend",from="v1",to="v2",phase="aborted"} 1' "$SL_TMP/metrics.txt")
rt=$(grep -c '^sluice_response_time_seconds_bucket{service="backend",namespace="default",subset="v2",le=' "$SL_TMP/metrics.txt")
rtc=$(awk '/^sluice_response_time_seconds_count\{service="backend",namespace="default",subset="v2"/ {print $2}' "$SL_TMP/metrics.txt")
sl_check metrics "rollout phase series: $ph; v2 response-time buckets: $rt, count $rtc" \
	test "$ph" = 1 -a "$rt" = 24 -a "${rtc:-0}" -gt 100
sl_sluice status >"$SL_TMP/status.txt" 2>&1
st_ro=$(grep -c '^  rollout v1 -> v2: aborted, v2 at 0% (`sluice rollout backend`): aborted by hand' "$SL_TMP/status.txt")
st_rt=$(grep -cE '^  v[12] +response time p50 [0-9.]+ ms, p99 [0-9.]+ ms \([0-9]+ measured\)' "$SL_TMP/status.txt")
sl_check status-text "status: $st_ro rollout line, $st_rt response-time lines" test "$st_ro" = 1 -a "$st_rt" = 2
sl_nsx node curl -s --max-time 5 "http://127.0.0.1:$PORT/api/v1/stats" >"$SL_TMP/stats.json"
tl=$(sl_jget "$SL_TMP/stats.json" "[(r['phase'], len(r['events']), r['events'][-1]['action']) for r in d['rollouts'] if r['service'] == 'backend'][0]")
sl_check dashboard-timeline "/api/v1/stats rollouts: (phase, decisions, last) = $tl" \
	eval '[[ "$tl" == "('"'"'aborted'"'"', "*", '"'"'abort'"'"')" ]]'
# `sluice apply` of the file under a running rollout: the rollout's weights go in with it
sl_sluice weights backend v1=100 v2=0 >/dev/null
sl_sluice rollout backend --to v2 --from v1 --steps 30,100 --dwell 60s "${GATES[@]}" >/dev/null 2>&1 ||
	sl_die "rollout start (apply)"
sl_sluice apply --config "$CFG" >/dev/null 2>&1
sleep 1.5
ro_status "$SL_TMP/apply.json"
re_n=$(ro_get "$SL_TMP/apply.json" "sum(e['action'] == 'reassert' for e in ev)")
sl_check apply-overlaid "after \`apply\` of a file that says v1=100 v2=0: $(sl_weights_now), $re_n flips back" \
	eval '_sl_weights_are "v1=70 v2=30" && [ "$re_n" = 0 ]'
sl_sluice rollout backend abort >/dev/null 2>&1
sl_finish
