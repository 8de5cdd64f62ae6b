#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# SYN flood, smoke version of scripts/bench.sh section 7: a few seconds of
# SYNs from random forged sources to the VIP, arriving on the node's uplink
# (sl_uplink_up: where every source routes back, as on a real node), while
# a real client holds keep-alive connections and opens new ones. With
# --ct-max 4096 the unconfirmed table holds 1,024 connections: the flood
# goes through it many times over. Established connections must keep their
# entries in the confirmed table and keep working, and the real client's
# new connections must all succeed.
set -uo pipefail
SL_TEST_NAME=syn-flood
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

# nginx backends (the benchmarks'): the held connections need keep-alive
B=$SL_ROOT/scripts/bench
CPU_SERVER=$(($(nproc) > 1 ? 1 : 0))
# shellcheck source=scripts/bench/lib.sh
. "$B/lib.sh"
FLOOD=$SL_ROOT/build/tests/synflood
PROBE=$B/probe.py
CT_MAX=4096
SECS=${SL_FLOOD_SECONDS:-3}
RATE=${SL_FLOOD_PPS:-20000} # churns the table 50 times; a smoke test, not a load test
HELD=50

glob() { sl_jget "$1" "d['datapath']['$2']"; }

[ -x "$FLOOD" ] || sl_die "$FLOOD not built (make test-bins)"
sl_topo_up
sl_uplink_up
sl_config "$SL_CFG" 50 50
SL_RUN_LOG=$SL_TMP/run.log
sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run --config "$SL_CFG" \
	--iface c1 --iface u1 --ct-max "$CT_MAX"
sl_wait_for 20 _sl_run_ready || sl_die "sluice run did not start"
sl_status "$SL_TMP/s0.json"

sl_bg probe client "$SL_TMP/steady.json" "$SL_PY" "$PROBE" steady --host "$SL_VIP4" -n "$HELD" \
	--seconds "$((SECS + 1))" --ports "$SL_TMP/ports" --until "$SL_TMP/done"
sl_wait_for 10 test -s "$SL_TMP/ports" || sl_die "the client did not open its connections"
sl_nsx uplink "$FLOOD" -i eth0 -m "$SL_UPLINK_MAC" -d "$SL_VIP4" -p 80 -t "$SECS" -r "$RATE" \
	>"$SL_TMP/flood.json" || sl_die "synflood failed"
sl_wait_for 10 test -s "$SL_TMP/steady.json" || sl_die "the client did not report"
sl_nsx node "$SL_PY" "$SL_E2E/node_tools.py" held-entries --table sluice --pin "$SL_PIN_DIR" \
	--ports "$SL_TMP/ports" --client 10.0.9.2 --vip "$SL_VIP4" >"$SL_TMP/entries.json"
touch "$SL_TMP/done"
sl_reap "$probe" 10
sl_status "$SL_TMP/s1.json"

# new connections opened by the flood: all of them, less the client's
new=$(($(glob "$SL_TMP/s1.json" new_conn) - $(glob "$SL_TMP/s0.json" new_conn) -
	$(sl_jget "$SL_TMP/steady.json" 'd["new_ok"] + d["new_failed"]') - HELD))
rej=$(($(glob "$SL_TMP/s1.json" src_rejected) - $(glob "$SL_TMP/s0.json" src_rejected)))
sl_check flood-churned-the-table "$(cat "$SL_TMP/flood.json"); $new opened by it, src_rejected +$rej; unconfirmed table 1024" \
	test "$new" -gt $((4 * 1024)) -a "$rej" = 0
sl_check held-connections-keep-entries "$(cat "$SL_TMP/entries.json")" \
	eval '[ "$(sl_jget "$SL_TMP/entries.json" "d[\"entries\"]")" = $HELD ]'
sl_check held-connections-served "$(cat "$SL_TMP/steady.json")" \
	eval '[ "$(sl_jget "$SL_TMP/steady.json" "d[\"held_broken\"]")" = 0 ] &&
		[ "$(sl_jget "$SL_TMP/steady.json" "d[\"held_requests\"]")" -gt $HELD ]'
sl_check new-connections-served "$(sl_jget "$SL_TMP/steady.json" '"ok %d, failed %d" % (d["new_ok"], d["new_failed"])')" \
	eval '[ "$(sl_jget "$SL_TMP/steady.json" "d[\"new_failed\"]")" = 0 ] &&
		[ "$(sl_jget "$SL_TMP/steady.json" "d[\"new_ok\"]")" -gt 0 ]'
sl_check_csum
sl_finish
