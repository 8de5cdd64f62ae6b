#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The canary walk with Istio YAML, unchanged: `sluice run --config DIR` on a
# copy of examples/istio (a Service, its pods, a DestinationRule v1/v2, a
# VirtualService at 90/10 with a sourceLabels route and a header route).
# The VirtualService is edited live to 50/50 and 0/100; the frontend-v2 pod
# (client2) reaches only v2; the header route is reported by `sluice check`
# with its FILE:LINE, marked in `sluice status`, and never matched.
# Checks are strings for sl_check to eval (expanded late, on purpose).
# shellcheck disable=SC2016
set -uo pipefail
SL_TEST_NAME=istio
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

# sd of the v2 share: 0.47 points at 90/10 over 4000, 0.65 at 50/50 over 6000;
# 2 points is more than 3 sd in both.
N_9010=${SL_ISTIO_N:-4000}
N_5050=${SL_ISTIO_N5050:-6000}
N_ALL=400
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

# 1. check: valid, with the header route reported at its position.
out=$(sl_sluice check --config "$DIR" 2>&1)
rc=$?
sl_check check-valid "exit $rc: $(tail -1 <<<"$out")" \
	eval '[ "$rc" = 0 ] && tail -1 <<<"$out" | grep -q "^$DIR: valid (1 services, 4 workloads, from 4 files)"'
sl_check check-warns-header-route "$(grep canary-tester <<<"$out")" \
	eval 'grep -Eq "^$VS:[0-9]+:[0-9]+: warning: http route .canary-tester. of VirtualService default/backend matches on headers" <<<"$out"'

# 2. run: 90/10, counters exact, the header route marked and not enforced.
SL_RUN_LOG=$SL_TMP/run.log
sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run --config "$DIR" \
	--iface c1 --iface c2
sl_wait_for 20 _ready || sl_die "sluice run --config $DIR did not attach and apply"
sl_wait_for 10 _weights_are "v1=90 v2=10"
sl_check initial-90-10 "status: $(_weights)" _weights_are "v1=90 v2=10"
sl_status "$SL_TMP/s0.json"
sl_check status-marks-header-route \
	"$(sl_jget "$SL_TMP/s0.json" '[r["enforced"] for s in d["services"] for r in s["routes"]]')" \
	eval '[ "$(sl_jget "$SL_TMP/s0.json" "[r[\"enforced\"] for s in d[\"services\"] for r in s[\"routes\"]]")" = "[False, True, True]" ]'

sl_burst client "$SL_VIP4" "$N_9010" "$SL_TMP/b-90-10.json"
sl_check_split split-90-10 "$SL_TMP/b-90-10.json" v2 10 2
sl_status "$SL_TMP/s1.json"
counters counters-90-10 "$SL_TMP/s0.json" "$SL_TMP/s1.json" "$SL_TMP/b-90-10.json"

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
sl_check_split split-50-50 "$SL_TMP/b-50-50.json" v2 50 2
sl_status "$SL_TMP/s3.json"
counters counters-50-50 "$SL_TMP/s2.json" "$SL_TMP/s3.json" "$SL_TMP/b-50-50.json"

vs_file "$VS.tmp" 0 100
mv -f "$VS.tmp" "$VS"
sl_wait_for 10 _weights_are "v1=0 v2=100"
sl_check edit-0-100 "status: $(_weights)" _weights_are "v1=0 v2=100"
sl_burst client "$SL_VIP4" "$N_ALL" "$SL_TMP/b-0-100.json"
sl_check_split split-0-100 "$SL_TMP/b-0-100.json" v2 100 0
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
