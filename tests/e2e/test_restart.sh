#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The datapath does not depend on the daemon: `sluice run` killed with
# SIGKILL under load, or stopped with SIGTERM, and started again, loses no
# request. Counters and connections survive through the pinned maps.
# `sluice down` then removes everything.
set -uo pipefail
SL_TEST_NAME=restart
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

CFG=$SL_CFG

sl_topo_up
sl_check_hardening
sl_config "$CFG" 80 20
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=80 v2=20" || sl_die "weights never showed 80/20: $(sl_weights_now)"

sl_status "$SL_TMP/before.json"
sl_bg LOOP_PID client "$SL_TMP/loop.json" timeout 120 "$SL_PY" "$SL_E2E/client.py" loop \
	--host "$SL_VIP4" -c 2 --timeout 5
sleep 1

_filters_present() { sl_filters_present c1; }

# 1. SIGKILL: nothing gets to clean up.
old=$SL_RUN_PID
sl_run_stop KILL
sl_info "sluice run (pid $old) killed with SIGKILL"
sleep 1.5
sl_check datapath-survives-sigkill "filters on c1, pins in $SL_PIN_DIR" \
	eval '_filters_present && [ -d "$SL_PIN_DIR" ]'
sl_run_start "$CFG" c1
sl_check restart-after-sigkill "pid $SL_RUN_PID, status $(sl_weights_now)" \
	_sl_weights_are "v1=80 v2=20"
sleep 1

# 2. SIGTERM without --detach-on-exit leaves the datapath in place too.
sl_run_stop TERM
rc=$?
sl_check sigterm-clean-exit "exit $rc" test "$rc" = 0
sleep 1
sl_check datapath-survives-sigterm "filters on c1" _filters_present
sl_run_start "$CFG" c1
sl_check restart-after-sigterm "pid $SL_RUN_PID, status $(sl_weights_now)" \
	_sl_weights_are "v1=80 v2=20"
sleep 1

sl_stop "$LOOP_PID" TERM 15
sl_status "$SL_TMP/after.json"
sl_check_no_failures no-failed-requests "$SL_TMP/loop.json" 101
sl_check both-subsets-served "$(sl_counts "$SL_TMP/loop.json")" \
	test "$(sl_jget "$SL_TMP/loop.json" 'fold(d).get("v2", 0)')" -gt 0
sl_check_counters counters-survive-restarts "$SL_TMP/before.json" "$SL_TMP/after.json" \
	"$SL_TMP/loop.json" connections_opened

# 3. `sluice down` removes filters and pins.
sl_run_stop TERM
out=$(sl_sluice down 2>&1)
rc=$?
sl_check down "exit $rc $out" test "$rc" = 0
sl_check down-removes-filters "$(sl_nsx node tc filter show dev c1 ingress | head -3)" \
	eval '! _filters_present'
left=$(ls -A "$SL_PIN_DIR" 2>/dev/null | tr '\n' ' ')
sl_check down-removes-pins "left in $SL_PIN_DIR: ${left:-nothing}" test -z "$left"

# 4. A `sluice weights` override lasts until the config file changes, also
# across a restart of `run` on the unchanged file (which must not re-apply
# it); a file changed while run was down, or while it runs, wins again.
_n_running() { grep -c '^running:' "$SL_RUN_LOG"; }
# _restart_run: start run again on $CFG and wait until it watches the file
# (with the pins in place, sl_run_start may return before its first load).
_restart_run() {
	local n
	n=$(_n_running)
	sl_run_start "$CFG" c1 && sl_wait_for 10 eval '[ "$(_n_running)" -gt "$n" ]'
}

sl_run_start "$CFG" c1 || sl_die "sluice run did not start again after down"
sl_wait_weights "v1=80 v2=20" || sl_die "weights never showed 80/20 after down: $(sl_weights_now)"
out=$(sl_sluice weights backend v1=100 v2=0 2>&1)
rc=$?
sl_check override-set "exit $rc: $out; status $(sl_state_now)" \
	eval '[ "$rc" = 0 ] && sl_state_is "v1=100 v2=0" True'
gen=$(sl_generation)
sl_run_stop TERM
rc=$?
sl_check override-sigterm-exit "exit $rc" test "$rc" = 0
from=$(wc -l <"$SL_RUN_LOG")
_restart_run || sl_die "sluice run did not restart on $CFG"
sleep 0.5 # a wrong re-apply would land about now
sl_check override-survives-restart "status $(sl_state_now), generation before $gen" \
	eval 'sl_state_is "v1=100 v2=0" True && [ "$(sl_generation)" = "$gen" ]'
sl_check override-restart-kept-file "$(tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -v '^---' | head -2 | tr '\n' ' ')" \
	eval 'tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -q "was applied from: keeping it" &&
		! tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -q "^applied "'
sl_burst client "$SL_VIP4" 200 "$SL_TMP/b-override.json"
sl_check_split override-traffic-all-v1 "$SL_TMP/b-override.json" v1 100 0

# the file changed while run is up: the file wins
sl_config_swap "$CFG" 50 50
sl_wait_for 10 sl_state_is "v1=50 v2=50" False
sl_check override-file-change-wins "status $(sl_state_now)" sl_state_is "v1=50 v2=50" False

# an override, then the file changed while run is down: the file wins at start
sl_sluice weights backend v1=100 v2=0 >/dev/null 2>&1
sl_wait_for 5 sl_state_is "v1=100 v2=0" True
sl_run_stop TERM
sl_config "$CFG" 90 10
_restart_run || sl_die "sluice run did not restart on the changed $CFG"
sl_wait_for 10 sl_state_is "v1=90 v2=10" False
sl_check override-file-changed-while-down-wins "status $(sl_state_now)" sl_state_is "v1=90 v2=10" False
sl_run_stop TERM

sl_check_csum
sl_finish
