#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A 90/10 canary over many new IPv4 connections: the observed split is within
# 2 points, and sluice's own counters match what the client saw, exactly.
set -uo pipefail
SL_TEST_NAME=split
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

N=${SL_SPLIT_N:-4000}
CFG=$SL_CFG

sl_topo_up
sl_check_hardening
sl_config "$CFG" 90 10
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_check weights-applied "status: $(sl_weights_now)" sl_wait_weights "v1=90 v2=10"

sl_status "$SL_TMP/before.json" || sl_die "sluice status: $(cat "$SL_TMP/before.json.err")"
sl_burst client "$SL_VIP4" "$N" "$SL_TMP/burst.json"
sl_status "$SL_TMP/after.json" || sl_die "sluice status: $(cat "$SL_TMP/after.json.err")"

sl_check_split split-90-10 "$SL_TMP/burst.json" v2 10 2
sl_check_counters counters-opened "$SL_TMP/before.json" "$SL_TMP/after.json" \
	"$SL_TMP/burst.json" connections_opened

sl_check_closed counters-closed "$SL_TMP/before.json" "$SL_TMP/after.json" "$SL_TMP/burst.json"

# Every connection carried a request in and a response out; none was reset.
_traffic_sane() {
	local s f v
	for s in v1 v2; do
		for f in packets_in bytes_in packets_out bytes_out; do
			v=$($SL_PY "$SL_E2E/jtool.py" counter "$SL_TMP/after.json" backend $s $f)
			[ "$v" -gt 0 ] || return 1
		done
		v=$(($($SL_PY "$SL_E2E/jtool.py" counter "$SL_TMP/after.json" backend $s backend_resets) -
			$($SL_PY "$SL_E2E/jtool.py" counter "$SL_TMP/before.json" backend $s backend_resets)))
		[ "$v" = 0 ] || return 1
	done
}
sl_check traffic-counters "packets/bytes both ways counted, no backend resets" _traffic_sane
sl_info "status counters (this test's traffic):"
$SL_PY "$SL_E2E/jtool.py" table "$SL_TMP/after.json" "$SL_TMP/before.json"

sl_check_csum
sl_finish
