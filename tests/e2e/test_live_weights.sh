#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Weights change live while `sluice run` keeps running: by editing the config
# file (temp file + rename, like editors) and with `sluice weights`.
set -uo pipefail
SL_TEST_NAME=live
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

# 50/50 needs many connections for a 2-point bound: sd = 50/sqrt(N) points,
# 10000 connections put the bound at 4 sd (6000, at 3.1 sd, failed now and then).
N_HALF=${SL_LIVE_N:-10000}
N_ALL=500
CFG=$SL_CFG

sl_topo_up
sl_check_hardening
sl_config "$CFG" 90 10
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=90 v2=10" || sl_die "weights never showed 90/10: $(sl_weights_now)"

# 1. Config edit to 50/50.
sl_config_swap "$CFG" 50 50
sl_check file-edit-50-50-applied "status: $(sl_wait_weights "v1=50 v2=50"; sl_weights_now)" \
	_sl_weights_are "v1=50 v2=50"
sl_burst client "$SL_VIP4" "$N_HALF" "$SL_TMP/b1.json"
sl_check_split file-edit-50-50-split "$SL_TMP/b1.json" v2 50 2

# 2. Config edit to 0/100.
sl_config_swap "$CFG" 0 100
sl_check file-edit-0-100-applied "status: $(sl_wait_weights "v1=0 v2=100"; sl_weights_now)" \
	_sl_weights_are "v1=0 v2=100"
sl_burst client "$SL_VIP4" "$N_ALL" "$SL_TMP/b2.json"
sl_check_split file-edit-0-100-split "$SL_TMP/b2.json" v2 100 0

# 3. `sluice weights` back to 50/50.
out=$(sl_sluice weights backend v1=50 v2=50 2>&1)
rc=$?
sl_check weights-cmd-50-50-exit "exit $rc $out" test "$rc" -eq 0
sl_check weights-cmd-50-50-applied "status: $(sl_wait_weights "v1=50 v2=50"; sl_weights_now)" \
	_sl_weights_are "v1=50 v2=50"
sl_info "sluice weights backend: $(sl_sluice weights backend 2>&1 | tr '\n' ' ')"
sl_burst client "$SL_VIP4" "$N_HALF" "$SL_TMP/b3.json"
sl_check_split weights-cmd-50-50-split "$SL_TMP/b3.json" v2 50 2

# 4. `sluice weights` naming only v2: v1 goes to 0.
out=$(sl_sluice weights backend v2=100 2>&1)
rc=$?
sl_check weights-cmd-0-100-exit "exit $rc $out" test "$rc" -eq 0
sl_check weights-cmd-0-100-applied "status: $(sl_wait_weights "v1=0 v2=100"; sl_weights_now)" \
	_sl_weights_are "v1=0 v2=100"
sl_burst client "$SL_VIP4" "$N_ALL" "$SL_TMP/b4.json"
sl_check_split weights-cmd-0-100-split "$SL_TMP/b4.json" v2 100 0

# 5. Bad input to `sluice weights` is refused (exit 1) and changes nothing.
sl_sluice weights backend v1=50 v9=50 >"$SL_TMP/w.out" 2>&1
rc=$?
sl_check weights-cmd-unknown-subset "exit $rc: $(head -c 200 "$SL_TMP/w.out"); status $(sl_weights_now)" \
	test "$rc" -eq 1 -a "$(sl_weights_now)" = "v1=0 v2=100"

sl_check run-still-running "pid $SL_RUN_PID" kill -0 "$SL_RUN_PID"
sl_check_csum
sl_finish
