#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Host-level canaries, as Flagger and Argo Rollouts drive them: a
# VirtualService whose weighted destinations are *other* Services. Flagger's
# VirtualService exactly as its docs show it (frontend -> podinfo-primary /
# podinfo-canary, with an HTTP match, so the L7 step decides), and Argo
# Rollouts' host-split example (istio-host-split -> -stable / -canary, a
# named targetPort), each next to the Services and EndpointSlices the API
# server would hold (primary/stable on v1a and v1b, canary on v2). One
# `sluice run --config DIR`; the weights are rewritten in the files, as the
# controllers rewrite them, 0 -> 50 -> 100 for the canary, and real requests
# follow at each step, over both families at the end.
# shellcheck disable=SC2016
set -uo pipefail
SL_TEST_NAME=hostcanary
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

# sd of the canary share at 50/50 over 600: 2.0 points; 8 points is 4 sd.
N_HALF=${SL_HOSTCANARY_N:-600}
N_ALL=200
VIP_ARGO4=10.96.0.20
VIP_ARGO6=fd00::20
DIR=$SL_TMP/hostcanary
FLAGGER_SVC=frontend.test
ARGO_SVC=istio-host-split.default
DATA=$SL_ROOT/tests/data/host-canary

# svc NS NAME VIP4 VIP6 [TARGET]: a Service as the API server returns it.
svc() {
	cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: $2, namespace: $1}
spec:
  type: ClusterIP
  clusterIP: $3
  clusterIPs: [$3, "$4"]
  ipFamilies: [IPv4, IPv6]
  selector: {app: $2}
  ports: [{name: http, port: 80, protocol: TCP, targetPort: ${5:-8080}}]
EOF
}

# slices NS SERVICE ADDR4... -- ADDR6...: its EndpointSlices, one per family.
slices() {
	local ns=$1 name=$2 fam=IPv4 a
	shift 2
	printf -- '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
	printf 'metadata: {name: %s-v4, namespace: %s, labels: {kubernetes.io/service-name: %s}}\n' "$name" "$ns" "$name"
	printf 'addressType: %s\nports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n' "$fam"
	for a in "$@"; do
		if [ "$a" = -- ]; then
			fam=IPv6
			printf -- '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
			printf 'metadata: {name: %s-v6, namespace: %s, labels: {kubernetes.io/service-name: %s}}\n' "$name" "$ns" "$name"
			printf 'addressType: %s\nports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n' "$fam"
			continue
		fi
		printf -- '- {addresses: ["%s"], conditions: {ready: true}}\n' "$a"
	done
}

V1=(10.0.1.10 10.0.1.11 -- fd00:1::10 fd00:1::11)
V2=(10.0.2.10 -- fd00:2::10)

# weights FILE OUT PRIMARY_HOST W_PRIMARY CANARY_HOST W_CANARY: the file with
# those two destinations' weights rewritten, the way the controllers do it.
weights() {
	sed -e "/host: $3\$/{n;s/weight: [0-9]*/weight: $4/}" \
		-e "/host: $5\$/{n;s/weight: [0-9]*/weight: $6/}" "$1" >"$2.tmp" && mv -f "$2.tmp" "$2"
}
flagger() { weights "$DATA/flagger-virtualservice.yaml" "$DIR/30-flagger.yaml" podinfo-primary "$1" podinfo-canary "$2"; }
argo() { weights "$DATA/argo-rollouts-host-split.yaml" "$DIR/31-argo.yaml" istio-host-split-stable "$1" istio-host-split-canary "$2"; }

_weights() {
	local f="$SL_TMP/status.w.json"
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" weights "$f" "$1"
}
_weights_are() { [ "$(_weights "$1")" = "$2" ]; }
_both_are() {
	_weights_are "$FLAGGER_SVC" "podinfo-primary=$1 podinfo-canary=$2" &&
		_weights_are "$ARGO_SVC" "istio-host-split-stable=$1 istio-host-split-canary=$2"
}

_ready() {
	local f="$SL_TMP/status.ready.json"
	_sl_gone "$SL_RUN_PID" && return 1
	sl_filters_present c1 || return 1
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" has-service "$f" "$FLAGGER_SVC" &&
		$SL_PY "$SL_E2E/jtool.py" has-service "$f" "$ARGO_SVC"
}

# step W_PRIMARY W_CANARY N TOL: rewrite both, wait for them, and send N
# requests to each VIP; the canary (v2) takes W_CANARY% of them.
step() {
	local wp=$1 wc=$2 n=$3 tol=$4
	flagger "$wp" "$wc"
	argo "$wp" "$wc"
	sl_wait_for 10 _both_are "$wp" "$wc"
	sl_check "weights-$wc" "$FLAGGER_SVC: $(_weights "$FLAGGER_SVC"); $ARGO_SVC: $(_weights "$ARGO_SVC")" \
		_both_are "$wp" "$wc"
	sl_burst client "$SL_VIP4" "$n" "$SL_TMP/f-$wc.json"
	sl_check_split "flagger-canary-$wc" "$SL_TMP/f-$wc.json" v2 "$wc" "$tol"
	sl_burst client "$VIP_ARGO4" "$n" "$SL_TMP/a-$wc.json"
	sl_check_split "argo-canary-$wc" "$SL_TMP/a-$wc.json" v2 "$wc" "$tol"
}

sl_topo_up
mkdir -p "$DIR"
{
	svc test frontend "$SL_VIP4" "$SL_VIP6"
	svc test podinfo-primary 10.96.0.11 fd00::11
	svc test podinfo-canary 10.96.0.12 fd00::12
	slices test podinfo-primary "${V1[@]}"
	slices test podinfo-canary "${V2[@]}"
	svc default istio-host-split "$VIP_ARGO4" "$VIP_ARGO6"
	slices default istio-host-split-stable "${V1[@]}"
	slices default istio-host-split-canary "${V2[@]}"
} >"$DIR/00-cluster.yaml"
flagger 100 0
argo 100 0

# check: valid, both splits found, nothing an error.
out=$(sl_sluice check --config "$DIR" 2>&1)
rc=$?
sl_check check-valid "exit $rc: $(tail -1 <<<"$out")" \
	eval '[ "$rc" = 0 ] && ! grep -q "error:" <<<"$out" && tail -1 <<<"$out" | grep -q "valid (2 services"'

# Istio's own samples (tests/data/istio-samples): no error, and the one
# warning about Services without a clusterIP says how to supply it.
S=$SL_ROOT/tests/data/istio-samples
out=$(sl_sluice check --config "$S/bookinfo/platform/bookinfo.yaml" \
	--config "$S/bookinfo/networking/destination-rule-all.yaml" \
	--config "$S/bookinfo/networking/virtual-service-reviews-80-20.yaml" 2>&1)
rc=$?
sl_check check-bookinfo "exit $rc: $(grep -c warning <<<"$out") warnings; $(tail -1 <<<"$out" | cut -c1-60)" \
	eval '[ "$rc" = 0 ] && ! grep -q "error:" <<<"$out" && grep -q "have no clusterIP\|has no clusterIP.*--kubernetes" <<<"$out"'
for s in helloworld httpbin; do
	out=$(sl_sluice check --config "$S/$s/$s.yaml" --config "$S/$s/$s-gateway.yaml" 2>&1)
	rc=$?
	sl_check "check-$s" "exit $rc: $(tail -1 <<<"$out" | cut -c1-80)" \
		eval '[ "$rc" = 0 ] && ! grep -q "error:" <<<"$out"'
done

SL_RUN_LOG=$SL_TMP/run.log
sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run --config "$DIR" --iface c1
sl_wait_for 20 _ready || sl_die "sluice run --config $DIR did not attach and apply"
sl_status "$SL_TMP/s0.json"
SUBS='sorted((s["name"], [x["name"] for x in s["subsets"]]) for s in d["services"])'
# shellcheck disable=SC2034 # used in the eval below
SUBS_OK=$SUBS' == [("frontend.test", ["podinfo-primary", "podinfo-canary"]), ("istio-host-split.default", ["istio-host-split-stable", "istio-host-split-canary"])]'
sl_check status-subsets-are-services "$(sl_jget "$SL_TMP/s0.json" "$SUBS")" \
	eval '[ "$(sl_jget "$SL_TMP/s0.json" "$SUBS_OK")" = True ]'

step 100 0 "$N_ALL" 0
step 50 50 "$N_HALF" 8
step 0 100 "$N_ALL" 0
sl_burst client "$SL_VIP6" "$N_ALL" "$SL_TMP/f6.json"
sl_check_split flagger-canary-100-ipv6 "$SL_TMP/f6.json" v2 100 0
sl_burst client "$VIP_ARGO6" "$N_ALL" "$SL_TMP/a6.json"
sl_check_split argo-canary-100-ipv6 "$SL_TMP/a6.json" v2 100 0

# Flagger's route has an HTTP match: those went through the L7 step; Argo's did not.
sl_status "$SL_TMP/s9.json"
L7='d["l7"]["services"]'
sl_check flagger-by-l7-step "l7 services: $(sl_jget "$SL_TMP/s9.json" "$L7")" \
	eval '[ "$(sl_jget "$SL_TMP/s9.json" "$L7")" = 1 ]'

sl_check_csum
sl_finish
