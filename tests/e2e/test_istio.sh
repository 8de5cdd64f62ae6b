#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The canary walk with Istio YAML, unchanged: `sluice run --config DIR` on a
# copy of examples/istio (a Service, its pods, a DestinationRule v1/v2, a
# VirtualService at 90/10 with a sourceLabels route and a header route).
# The VirtualService is edited live to 50/50 and 0/100; the frontend-v2 pod
# (client2) reaches only v2; the header route (canary: canary-tester) is
# enforced by the L7 step: `sluice check` has nothing to say about it,
# `sluice status` shows its match and the L7 step's parts in place, and
# every request carrying the header reaches v2, over both families, while
# requests without it keep the 90/10 split.
# Checks are strings for sl_check to eval (expanded late, on purpose).
# shellcheck disable=SC2016
set -uo pipefail
SL_TEST_NAME=istio
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

# sd of the v2 share: 0.47 points at 90/10 over 4000 (2 points: 4.2 sd), 0.65
# at 50/50 over 6000 (3 points: 4.6 sd).
N_9010=${SL_ISTIO_N:-4000}
N_5050=${SL_ISTIO_N5050:-6000}
N_ALL=400
N_HDR=50
# The node is a fresh network namespace: any port is free there.
METRICS=127.0.0.1:9464
SVC=backend.default
DIR=$SL_TMP/istio
VS=$DIR/30-virtualservice.yaml

# vs_file FILE W1 W2: the example's VirtualService with the default route at W1/W2.
vs_file() {
	sed -e "/subset: v1}/{n;s/weight: [0-9]*/weight: $2/}" \
		-e "/subset: v2}/{n;s/weight: [0-9]*/weight: $3/}" \
		"$SL_ROOT/examples/istio/30-virtualservice.yaml" >"$1"
}

_weights() {
	local f="$SL_TMP/status.w.json"
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" weights "$f" "$SVC"
}
_weights_are() { [ "$(_weights)" = "$1" ]; }

_ready() {
	local f="$SL_TMP/status.ready.json"
	_sl_gone "$SL_RUN_PID" && return 1
	sl_filters_present c1 || return 1
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" has-service "$f" "$SVC"
}

# header_gets NS URL N OUT: N requests with the canary header, each its own
# connection (a curl each); one answer per line: the backend's name, or
# "fail".
header_gets() {
	local i out
	for ((i = 0; i < $3; i++)); do
		out=$(sl_nsx "$1" curl -s --max-time 5 -H 'canary: canary-tester' "$2") || out=fail
		echo "${out:-fail}"
	done >"$4"
}
# all_v2 N OUT: OUT has N answers, all from v2.
all_v2() { [ "$(grep -cx v2 "$2")" = "$1" ] && [ "$(wc -l <"$2")" = "$1" ]; }
answers() { sort "$1" | uniq -c | awk '{printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1}'; }

# l7_counter FILE NAME: one of the L7 step's counters in `status -j`.
l7_counter() { sl_jget "$1" "d['l7']['counters']['$2']"; }

# counters NAME BEFORE AFTER CLIENT_OUT: connections_opened per subset equal the client's count.
counters() {
	local sub want got ok=1 detail=""
	for sub in v1 v2; do
		want=$(sl_jget "$4" "fold(d).get('$sub', 0)")
		got=$(($($SL_PY "$SL_E2E/jtool.py" counter "$3" "$SVC" "$sub" connections_opened) -
			$($SL_PY "$SL_E2E/jtool.py" counter "$2" "$SVC" "$sub" connections_opened)))
		detail+="$sub: client $want, opened +$got; "
		[ "$want" = "$got" ] || ok=
	done
	if [ -n "$ok" ]; then sl_pass "$1" "${detail%; }"; else sl_fail "$1" "${detail%; }"; fi
}

sl_topo_up client2
sl_check_hardening
mkdir -p "$DIR"
cp "$SL_ROOT"/examples/istio/*.yaml "$DIR/"

# 1. check: valid, and the header route is no longer worth a warning.
out=$(sl_sluice check --config "$DIR" 2>&1)
rc=$?
sl_check check-valid "exit $rc: $(tail -1 <<<"$out")" \
	eval '[ "$rc" = 0 ] && tail -1 <<<"$out" | grep -q "^$DIR: valid (1 services, 4 workloads, from 4 files)"'
sl_check check-no-warning-header-route "$(grep -c warning <<<"$out") warnings: $(grep warning <<<"$out" | head -2)" \
	eval '! grep -q "warning: .*canary-tester" <<<"$out"'

# 2. run: 90/10, counters exact, the header route enforced by the L7 step.
SL_RUN_LOG=$SL_TMP/run.log
sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run --config "$DIR" \
	--iface c1 --iface c2 --metrics "$METRICS"
sl_wait_for 20 _ready || sl_die "sluice run --config $DIR did not attach and apply"
sl_wait_for 10 _weights_are "v1=90 v2=10"
sl_check initial-90-10 "status: $(_weights)" _weights_are "v1=90 v2=10"
sl_status "$SL_TMP/s0.json"
ROUTES='[(r["enforced"], r["http_match"]) for s in d["services"] for r in s["routes"]]'
# shellcheck disable=SC2034 # used in the eval below
ROUTES_OK=$ROUTES' == [(True, "header canary exact canary-tester"), (True, None), (True, None)]'
sl_check status-header-route-enforced "$(sl_jget "$SL_TMP/s0.json" "$ROUTES")" \
	eval '[ "$(sl_jget "$SL_TMP/s0.json" "$ROUTES_OK")" = True ]'
L7='d["l7"]["services"], d["l7"]["listening"], d["l7"]["policy_route"], d["l7"]["lookup_link"]'
L7_OK='d["l7"]["services"] == 1 and all(d["l7"]["listening"].values()) and len(d["l7"]["policy_route"]) == 4'
L7_OK+=' and all(d["l7"]["policy_route"].values()) and d["l7"]["lookup_link"]'
sl_check status-l7-in-place "$(sl_jget "$SL_TMP/s0.json" "($L7)")" \
	eval '[ "$(sl_jget "$SL_TMP/s0.json" "$L7_OK")" = True ]'
out=$(sl_sluice status)
sl_check status-text-header-route "$(grep -A1 -E '^ +0 ' <<<"$out" | tr -s ' ' | tr '\n' ';')" \
	eval 'grep -Eq "^ +0 http +v1=0 v2=100  \[http: decided per request by the L7 step\]$" <<<"$out" &&
		grep -A1 -E "^ +0 http " <<<"$out" | grep -qx "        header canary exact canary-tester"'
sl_check status-text-l7 "$(sed -n '/^l7:/,$p' <<<"$out" | head -4 | tr -s ' ' | tr '\n' ';')" \
	eval 'grep -qx "l7: 1 service with HTTP routes" <<<"$out" && grep -qx "  listeners: ipv4 yes, ipv6 yes" <<<"$out" &&
		grep -Eq "^  policy route: fwmark 0x5c0000/0xff0000 -> table 1473 \(local\): ipv4 rule\+route, ipv6 rule\+route" <<<"$out" &&
		grep -qx "  lookup link: pinned, attached to this network namespace" <<<"$out"'

sl_burst client "$SL_VIP4" "$N_9010" "$SL_TMP/b-90-10.json"
sl_check_split split-90-10 "$SL_TMP/b-90-10.json" v2 10 2
sl_status "$SL_TMP/s1.json"
counters counters-90-10 "$SL_TMP/s0.json" "$SL_TMP/s1.json" "$SL_TMP/b-90-10.json"
# Those went through the L7 step too (the service has an HTTP route), which
# decided every one of them by the default route.
got=$(($(l7_counter "$SL_TMP/s1.json" default_route) - $(l7_counter "$SL_TMP/s0.json" default_route)))
sl_check split-90-10-by-l7-step "default_route +$got for $N_9010 connections" test "$got" = "$N_9010"

# The header: every request carrying it reaches v2, over both families.
header_gets client "http://$SL_VIP4/" "$N_HDR" "$SL_TMP/h4.txt"
sl_check header-route-v2 "$(answers "$SL_TMP/h4.txt") of $N_HDR" all_v2 "$N_HDR" "$SL_TMP/h4.txt"
header_gets client "http://[$SL_VIP6]/" "$N_HDR" "$SL_TMP/h6.txt"
sl_check header-route-v2-ipv6 "$(answers "$SL_TMP/h6.txt") of $N_HDR" all_v2 "$N_HDR" "$SL_TMP/h6.txt"
sl_status "$SL_TMP/s1h.json"
got=$(($(l7_counter "$SL_TMP/s1h.json" header_route) - $(l7_counter "$SL_TMP/s1.json" header_route)))
v2=$(($($SL_PY "$SL_E2E/jtool.py" counter "$SL_TMP/s1h.json" "$SVC" v2 connections_opened) -
	$($SL_PY "$SL_E2E/jtool.py" counter "$SL_TMP/s1.json" "$SVC" v2 connections_opened)))
sl_check header-route-counted "header_route +$got, v2 opened +$v2, want $((2 * N_HDR)) each" \
	eval '[ "$got" = $((2 * N_HDR)) ] && [ "$v2" = $((2 * N_HDR)) ]'
# /metrics says the same of the L7 step (scraped again until nothing moved
# in between), and promtool has nothing against it.
_metrics_l7() {
	sl_nsx node curl -s --max-time 5 -o "$SL_TMP/m.txt" "http://$METRICS/metrics" &&
		sl_status "$SL_TMP/s-m.json" &&
		$SL_PY "$SL_E2E/jtool.py" metrics-l7 "$SL_TMP/m.txt" "$SL_TMP/s-m.json"
}
sl_wait_for 5 _metrics_l7
sl_check metrics-l7 "$($SL_PY "$SL_E2E/jtool.py" metrics-l7 "$SL_TMP/m.txt" "$SL_TMP/s-m.json"); $(grep -E '^sluice_l7_(header_route|default_route)_total' "$SL_TMP/m.txt" | tr '\n' ' ')" \
	eval '_metrics_l7 >/dev/null && grep -q "^sluice_l7_header_route_total $((2 * N_HDR))$" "$SL_TMP/m.txt"'
if command -v promtool >/dev/null; then
	sl_check metrics-promtool "$(promtool check metrics <"$SL_TMP/m.txt" 2>&1 | head -3 | tr '\n' ' ')" \
		eval 'promtool check metrics <"$SL_TMP/m.txt" >/dev/null 2>&1'
fi

# 3. sourceLabels: the frontend-v2 pod's address reaches only v2, over both families.
sl_burst client2 "$SL_VIP4" "$N_ALL" "$SL_TMP/b-fe4.json"
sl_check_split frontend-v2-only-v2 "$SL_TMP/b-fe4.json" v2 100 0
sl_burst client2 "$SL_VIP6" "$N_ALL" "$SL_TMP/b-fe6.json"
sl_check_split frontend-v2-only-v2-ipv6 "$SL_TMP/b-fe6.json" v2 100 0

# 4. Edit the VirtualService live (rename-over, as kubectl edit or an editor does).
vs_file "$VS.tmp" 50 50
mv -f "$VS.tmp" "$VS"
sl_wait_for 10 _weights_are "v1=50 v2=50"
sl_check edit-50-50 "status: $(_weights)" _weights_are "v1=50 v2=50"
sl_status "$SL_TMP/s2.json"
sl_burst client "$SL_VIP4" "$N_5050" "$SL_TMP/b-50-50.json"
sl_check_split split-50-50 "$SL_TMP/b-50-50.json" v2 50 3
sl_status "$SL_TMP/s3.json"
counters counters-50-50 "$SL_TMP/s2.json" "$SL_TMP/s3.json" "$SL_TMP/b-50-50.json"

vs_file "$VS.tmp" 0 100
mv -f "$VS.tmp" "$VS"
sl_wait_for 10 _weights_are "v1=0 v2=100"
sl_check edit-0-100 "status: $(_weights)" _weights_are "v1=0 v2=100"
sl_status "$SL_TMP/s4.json"
sl_burst client "$SL_VIP4" "$N_ALL" "$SL_TMP/b-0-100.json"
sl_status "$SL_TMP/s5.json"
sl_check_split split-0-100 "$SL_TMP/b-0-100.json" v2 100 0
counters counters-0-100 "$SL_TMP/s4.json" "$SL_TMP/s5.json" "$SL_TMP/b-0-100.json"
sl_burst client "$SL_VIP6" "$N_ALL" "$SL_TMP/b-0-100-6.json"
sl_check_split split-0-100-ipv6 "$SL_TMP/b-0-100-6.json" v2 100 0

# 5. A broken VirtualService (unknown subset) changes nothing, and says where.
gen=$(sl_status "$SL_TMP/g.json" && sl_jget "$SL_TMP/g.json" 'd["generation"]')
from=$(wc -l <"$SL_RUN_LOG")
sed 's/subset: v2}/subset: v3}/' "$VS" >"$VS.tmp" && mv -f "$VS.tmp" "$VS"
_logged() { tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -Eq "^$VS:[0-9]+:[0-9]+: error: subset 'v3' of host 'backend' is not defined"; }
sl_wait_for 10 _logged
sl_check bad-subset-logged "$(tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep error | head -1)" _logged
sl_check bad-subset-changes-nothing "generation $gen -> $(sl_status "$SL_TMP/g.json" && sl_jget "$SL_TMP/g.json" 'd["generation"]'), $(_weights)" \
	eval '[ "$(sl_status "$SL_TMP/g.json" && sl_jget "$SL_TMP/g.json" "d[\"generation\"]")" = "$gen" ] && _weights_are "v1=0 v2=100"'

sl_check_csum
sl_finish
