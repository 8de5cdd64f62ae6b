#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A rollout outlives its controller, keeps its weights, and does not cry
# wolf:
#   - `kill -9` of `sluice run` at the 50 % step: the datapath stays 50/50
#     with 0 failed requests, and the next `run` resumes the rollout at that
#     step and promotes it;
#   - a config file change under a running rollout is applied with the
#     rollout's weights in it (they never flip away), and a `sluice
#     weights` override is written over within a tick ("reassert");
#   - A/A: v2 identical to v1, ten rollouts in a row: ten promotions, no
#     failed check, no pause, no abort.
set -uo pipefail
SL_TEST_NAME=rollres
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"
# shellcheck source=tests/e2e/rollout-lib.sh
. "$(dirname "$0")/rollout-lib.sh"

CFG=$SL_CFG
GATES=(--min-requests 20 --max-5xx-ratio 1% --max-reset-ratio 1% --max-p99-ms 150 --failure-limit 2)
AA_RUNS=${SL_ROLLOUT_AA_RUNS:-10}

sl_topo_up
ro_backend v1a
ro_backend v1b
ro_backend v2
sl_config "$CFG" 100 0
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"

# ---------------------------------------------------------------- kill -9 at 50 %
ro_client_start
sl_sluice rollout backend --to v2 --from v1 --steps 25,50,100 --dwell 3s "${GATES[@]}" >/dev/null 2>&1 ||
	sl_die "rollout start"
ro_wait_weight 50 20 || sl_die "the rollout never reached 50 %: $(sl_jget "$SL_TMP/ro.poll.json" 'd["reason"]')"
sl_run_stop KILL
sl_status "$SL_TMP/k0.json"
sleep 3
sl_status "$SL_TMP/k1.json"
ro_status "$SL_TMP/killed.json"
ro_client_stop
fail=$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')
o1=$(($(ro_counter "$SL_TMP/k1.json" v1 connections_opened) - $(ro_counter "$SL_TMP/k0.json" v1 connections_opened)))
o2=$(($(ro_counter "$SL_TMP/k1.json" v2 connections_opened) - $(ro_counter "$SL_TMP/k0.json" v2 connections_opened)))
sl_check killed-weights-stay "without run: $(sl_weights_now); rollout $(sl_jget "$SL_TMP/killed.json" 'd["phase"]') at $(sl_jget "$SL_TMP/killed.json" 'd["weight"]')%" \
	eval '_sl_weights_are "v1=50 v2=50" && [ "$(sl_jget "$SL_TMP/killed.json" "d[\"weight\"]")" = 50 ]'
# 3 s at ~100 connections/s split by hash: each side well inside 30..70 %
sl_check killed-split "3 s without run: v1 +$o1, v2 +$o2 new connections, client fail=$fail" \
	"$SL_PY" -c "import sys; n = $o1 + $o2; sys.exit(not (n > 100 and 0.3 < $o2 / n < 0.7 and $fail == 0))"

ro_client_start
sl_run_start "$CFG" c1 || sl_die "sluice run did not start again"
sl_sluice rollout backend wait --timeout 30s >/dev/null 2>&1
rc=$?
ro_client_stop
ro_status "$SL_TMP/resumed.json"
walk=$(ro_get "$SL_TMP/resumed.json" "','.join(str(e['weight']) for e in ev if e['action'] in ('start', 'advance', 'promote'))")
sl_check resumed "exit $rc, walk $walk; $(grep -c 'rollouts in progress: resumed' "$SL_RUN_LOG") resume lines in run's log" \
	eval '[ "$rc" = 0 ] && [ "$walk" = "25,50,100,100" ] && grep -q "rollouts in progress: resumed" "$SL_RUN_LOG"'
sl_check resumed-no-failures "client: fail=$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')" \
	test "$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')" = 0

# ---------------------------------------------------------------- precedence
sl_sluice weights backend v1=100 v2=0 >/dev/null
ro_client_start
sl_sluice rollout backend --to v2 --from v1 --steps 20,100 --dwell 60s "${GATES[@]}" >/dev/null 2>&1 ||
	sl_die "rollout start (precedence)"
sleep 1
g0=$(sl_generation)
sl_config_swap "$CFG" 70 30
sl_wait_for 10 eval '[ "$(sl_generation)" != "$g0" ]'
sl_check file-change-overlaid "the file said 70/30 (generation $g0 -> $(sl_generation)): $(sl_weights_now); $(grep -c 'rollout backend: reassert' "$SL_RUN_LOG") flips back" \
	eval '_sl_weights_are "v1=80 v2=20" && ! grep -q "rollout backend: reassert" "$SL_RUN_LOG"'
sl_sluice weights backend v1=50 v2=50 >/dev/null
sl_wait_for 5 eval 'grep -q "rollout backend: reassert" "$SL_RUN_LOG"'
sl_check override-reasserted "after \`weights v1=50 v2=50\`: $(sl_weights_now); $(grep 'rollout backend: reassert' "$SL_RUN_LOG" | tail -1 | sed 's/.*reassert/reassert/')" \
	sl_wait_weights "v1=80 v2=20" 5
sl_sluice rollout backend abort >/dev/null 2>&1
ro_client_stop
sl_config "$CFG" 100 0

# ---------------------------------------------------------------- A/A
promoted=0 bad=0 walks=
ro_client_start
for ((i = 1; i <= AA_RUNS; i++)); do
	sl_sluice weights backend v1=100 v2=0 >/dev/null
	sl_sluice rollout backend --to v2 --from v1 --steps 50,100 --dwell 1s "${GATES[@]}" >/dev/null 2>&1 ||
		sl_die "rollout start (A/A run $i)"
	sl_sluice rollout backend wait --timeout 30s >/dev/null 2>&1
	rc=$?
	ro_status "$SL_TMP/aa.$i.json"
	[ "$rc" = 0 ] && promoted=$((promoted + 1))
	bad=$((bad + $(ro_get "$SL_TMP/aa.$i.json" "sum(e['action'] in ('failed-check', 'pause', 'abort') for e in ev)")))
	walks+="$(ro_get "$SL_TMP/aa.$i.json" "round((ev[-1]['time_ms'] - ev[0]['time_ms']) / 1000, 1)")s "
done
ro_client_stop
sl_check aa-promoted "$promoted of $AA_RUNS promoted, in $walks" test "$promoted" = "$AA_RUNS"
sl_check aa-no-false-alarm "$bad failed checks, pauses or aborts" test "$bad" = 0
sl_check aa-no-failures "client: fail=$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')" \
	test "$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')" = 0
sl_finish
