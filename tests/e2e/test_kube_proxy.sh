#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# sluice beside kube-proxy, as on almost every real node: the node carries
# kube-proxy's nat rules for the same ClusterIP (scripts/bench/gen.py writes
# them as kube-proxy does: iptables mode, then nftables mode), splitting the
# VIP 50/50 over v1 and v2. sluice's weights say v1 only, and
# `canary: canary-tester` to v2. Both of sluice's paths must win: the DNAT
# path (a service with weights only) and the L7 path (header routes), whose
# connections reach the node's stack still addressed to... not the VIP: to
# sluice's local address, which no kube-proxy rule names.
set -uo pipefail
SL_TEST_NAME=kube-proxy
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

HDR='canary: canary-tester'
N=${SL_KP_N:-200}

# requests OUT N [HEADER]: N connections from the client, one request each.
requests() {
	local out=$1 n=$2 h=()
	[ -n "${3:-}" ] && h=(-H "$3")
	sl_nsx client timeout 120 "$SL_PY" "$SL_E2E/client.py" burst --host "$SL_VIP4" -n "$n" \
		-c 4 "${h[@]}" >"$out"
}

# all_on OUT SUBSET N: N responses, none failed, all from SUBSET.
all_on() {
	[ "$(sl_jget "$1" 'd["fail"]')" = 0 ] &&
		[ "$(sl_jget "$1" "fold(d).get('$2', 0)")" = "$3" ]
}

# kube-proxy's rules alone send the VIP to both versions: make sure they
# are live (with sluice out of the way) before trusting a one-sided result.
kp_alone() {
	local mode=$1 out="$SL_TMP/alone-$1.json"
	requests "$out" 100
	sl_check "$mode-rules-split-alone" "without sluice: $(sl_counts "$out")" \
		eval '[ "$(sl_jget "$out" "d[\"fail\"]")" = 0 ] &&
			[ "$(sl_jget "$out" "fold(d).get(\"v1\", 0)")" -gt 20 ] &&
			[ "$(sl_jget "$out" "fold(d).get(\"v2\", 0)")" -gt 20 ]'
}

# both_paths MODE: the DNAT path, then the L7 path, with MODE's rules loaded.
both_paths() {
	local mode=$1
	SL_CFG_HEADER_ROUTE= sl_config "$SL_CFG" 100 0
	sl_run_start "$SL_CFG" c1 || sl_die "sluice run ($mode, DNAT path) did not start"
	requests "$SL_TMP/dnat-$mode.json" "$N"
	sl_check "$mode-dnat-path-sluice-decides" "$(sl_counts "$SL_TMP/dnat-$mode.json")" \
		all_on "$SL_TMP/dnat-$mode.json" v1 "$N"

	SL_CFG_HEADER_ROUTE=1 sl_config_swap "$SL_CFG" 100 0
	sl_wait_for 10 _l7_ready || sl_die "header route not applied ($mode)"
	sl_status "$SL_TMP/before-$mode.json"
	requests "$SL_TMP/l7-$mode.json" "$N"
	requests "$SL_TMP/l7h-$mode.json" "$((N / 2))" "$HDR"
	sl_status "$SL_TMP/after-$mode.json"
	sl_check "$mode-l7-path-by-weight" "$(sl_counts "$SL_TMP/l7-$mode.json")" \
		all_on "$SL_TMP/l7-$mode.json" v1 "$N"
	sl_check "$mode-l7-path-by-header" "$(sl_counts "$SL_TMP/l7h-$mode.json")" \
		all_on "$SL_TMP/l7h-$mode.json" v2 "$((N / 2))"
	local local_d
	local_d=$(sl_dp_delta "$SL_TMP/before-$mode.json" "$SL_TMP/after-$mode.json" l7_local)
	sl_check "$mode-l7-path-taken" "l7_local +$local_d of $((N + N / 2)) connections" \
		test "$local_d" = "$((N + N / 2))"
	sl_run_stop
	sl_sluice down >/dev/null 2>&1
}

# the header route is in force: the listener is up and a tester lands on v2
_l7_ready() {
	local f="$SL_TMP/status.l7.json"
	sl_status "$f" &&
		[ "$(sl_jget "$f" 'd["l7"]["listening"]["ipv4"]')" = True ] &&
		[ "$(sl_nsx client curl -s --max-time 2 -H "$HDR" "http://$SL_VIP4/")" = v2 ]
}

sl_topo_up
sl_check_hardening

# iptables mode (the nat table, as kube-proxy writes it; the filter table's
# INVALID drops stay)
"$SL_PY" "$SL_ROOT/scripts/bench/gen.py" iptables 1 50 50 >"$SL_TMP/kp.rules"
sl_nsx node iptables-restore -w 5 --noflush <"$SL_TMP/kp.rules" || sl_die "iptables-restore"
kp_alone iptables
both_paths iptables
sl_nsx node iptables -w 5 -t nat -F
sl_nsx node iptables -w 5 -t nat -X

# nftables mode
"$SL_PY" "$SL_ROOT/scripts/bench/gen.py" nft 1 50 50 >"$SL_TMP/kp.nft"
sl_nsx node nft -f "$SL_TMP/kp.nft" || sl_die "nft -f"
kp_alone nftables
both_paths nftables

sl_check_csum
sl_finish
