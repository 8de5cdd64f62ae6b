#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice run --kubernetes` against a fake API server (tests/e2e/kube_fake.py,
# HTTPS with a self-signed CA, a bearer token), with real traffic through
# the netns topology. No kube-apiserver can run here: the fake serves what
# one serves to a client that lists and watches. Checked:
#   - nothing applied before every kind is listed; then the cluster's
#     VirtualService weights and the ready pods as endpoints, split for real;
#   - isolation: a broken VirtualService in another namespace, a younger
#     duplicate for the same host and one re-routing the Service of another
#     namespace by a short name are left out on their own and listed by
#     `status` and /metrics, and the good split applies all along;
#   - a Pod DELETED: its endpoint goes and gets no more traffic;
#   - a VirtualService MODIFIED: new weights, live; a Pod ADDED (not ready,
#     then ready): a new endpoint that gets traffic;
#   - BOOKMARK: the watch resumes from it, nothing listed or applied again;
#   - 410 Gone as an ERROR event and as an HTTP status: listed again, and a
#     change only a new list can show is applied;
#   - a dropped connection: resumed from the last resourceVersion (no new
#     list), the events missed meanwhile applied;
#   - no request fails through all of it;
#   - an invalid VirtualService left out on its own, logged with its
#     position and listed by `status`; fixed, it is applied again;
#   - run holds only the DaemonSet's capabilities (CAP_BPF, CAP_NET_ADMIN,
#     CAP_PERFMON).
set -uo pipefail
SL_TEST_NAME=kube
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"
# shellcheck source=tests/e2e/kube-lib.sh
. "$SL_E2E/kube-lib.sh"

command -v setpriv >/dev/null || sl_die "missing tool: setpriv"
sl_kube_init
K=$SL_KUBE

# ------------------------------------------------------------- fixtures

_pod() { # _pod NAME VERSION IP [READY]
	printf '%s' "{\"apiVersion\": \"v1\", \"kind\": \"Pod\",
 \"metadata\": {\"name\": \"$1\", \"namespace\": \"default\", \"labels\": {\"app\": \"backend\", \"version\": \"$2\"}},
 \"spec\": {\"containers\": [{\"name\": \"backend\", \"ports\": [{\"name\": \"http\", \"containerPort\": 8080, \"protocol\": \"TCP\"}]}]},
 \"status\": {\"phase\": \"Running\", \"podIP\": \"$3\", \"podIPs\": [{\"ip\": \"$3\"}],
            \"conditions\": [{\"type\": \"Ready\", \"status\": \"${4:-True}\"}]}}"
}
_vs() { # _vs W1 W2 [SUBSET2]
	printf '%s' "{\"apiVersion\": \"networking.istio.io/v1beta1\", \"kind\": \"VirtualService\",
 \"metadata\": {\"name\": \"backend\", \"namespace\": \"default\", \"creationTimestamp\": \"2024-01-01T00:00:00Z\"},
 \"spec\": {\"hosts\": [\"backend\"], \"http\": [{\"name\": \"split\", \"route\": [
   {\"destination\": {\"host\": \"backend\", \"subset\": \"v1\"}, \"weight\": $1},
   {\"destination\": {\"host\": \"backend\", \"subset\": \"${3:-v2}\"}, \"weight\": $2}]}]}}"
}
printf '%s\n' "[{\"apiVersion\": \"v1\", \"kind\": \"Service\",
  \"metadata\": {\"name\": \"backend\", \"namespace\": \"default\"},
  \"spec\": {\"type\": \"ClusterIP\", \"clusterIP\": \"$SL_VIP4\", \"clusterIPs\": [\"$SL_VIP4\"],
           \"selector\": {\"app\": \"backend\"},
           \"ports\": [{\"name\": \"http\", \"port\": 80, \"protocol\": \"TCP\", \"targetPort\": \"http\"}]}}]" \
	>"$K/fixtures/services.json"
echo "[$(_pod backend-v1-a v1 10.0.1.10), $(_pod backend-v2-a v2 10.0.2.10)]" >"$K/fixtures/pods.json"
printf '%s\n' '[{"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
  "metadata": {"name": "backend", "namespace": "default"},
  "spec": {"host": "backend", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                          {"name": "v2", "labels": {"version": "v2"}}]}}]' \
	>"$K/fixtures/destinationrules.json"
# Left out, each on its own: a typo in another namespace; a younger
# VirtualService for the same host (it takes over once backend's is
# broken, below); an older one in another namespace that names the
# Service by a short name, which would re-route it for everyone.
_vs_other() { # _vs_other NAMESPACE NAME CREATED HOST ROUTE
	printf '%s' "{\"apiVersion\": \"networking.istio.io/v1beta1\", \"kind\": \"VirtualService\",
 \"metadata\": {\"name\": \"$2\", \"namespace\": \"$1\", \"creationTimestamp\": \"$3\"},
 \"spec\": {\"hosts\": [\"$4\"], \"http\": [{\"route\": [$5]}]}}"
}
DEST_V2='{"destination": {"host": "backend.default.svc.cluster.local", "subset": "v2"}}'
echo "[$(_vs 80 20),
 $(_vs_other team-b typo 2024-02-01T00:00:00Z ratings '{"destination": {"host": "ratings"}, "weight": -5}'),
 $(_vs_other team-c backend-canary 2024-06-01T00:00:00Z backend.default.svc.cluster.local "$DEST_V2"),
 $(_vs_other team-d hijack 2023-01-01T00:00:00Z backend.default "$DEST_V2")]" >"$K/fixtures/virtualservices.json"
echo "[]" >"$K/fixtures/endpointslices.json"

# ------------------------------------------------------------- helpers

sl_topo_up
sl_check_hardening
sl_kube_fake_start

_api() { sl_kube_api "$@"; }
_ev() { sl_kube_ev "$@"; }
_silent() { _api POST "/_ctl/silent?kind=$1" "{\"type\": \"$2\", \"object\": $3}" >/dev/null; }
_stat() { _api GET /_ctl/stats >"$K/stats.json" && sl_jget "$K/stats.json" "$1"; }
_lists() { _stat "d['lists'].get('$1', 0)"; }
_watches() { _stat "len(d['watches'].get('$1', []))"; }

# _endpoints SUBSET: the subset's endpoint addresses in `sluice status`, sorted.
_endpoints() { sl_kube_endpoints "$SVC" "$1"; }
_endpoints_are() { [ "$(_endpoints "$1")" = "$2" ]; }

# Services from Kubernetes are named NAME.NAMESPACE.
SVC=backend.default
_weights() {
	local f=$SL_TMP/status.w.json
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" weights "$f" "$SVC"
}
_w_are() { [ "$(_weights)" = "$1" ]; }
_w_wait() { sl_wait_for "${2:-10}" _w_are "$1"; }
# _rejected: "KIND:NAMESPACE/NAME ..." of `status`'s left-out objects, sorted.
_rejected() {
	local f=$SL_TMP/status.rej.json
	sl_status "$f" && sl_jget "$f" '" ".join(sorted(r["kind"] + ":" + r["namespace"] + "/" + r["name"] for r in d["rejected"]))'
}
REJ3="VirtualService:team-b/typo VirtualService:team-c/backend-canary VirtualService:team-d/hijack"
_ready() {
	local f=$SL_TMP/status.ready.json
	_sl_gone "$SL_RUN_PID" && return 1
	sl_filters_present c1 || return 1
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" has-service "$f" "$SVC"
}

# ------------------------------------------------------------- start

CAPS=bpf,net_admin,perfmon
SL_RUN_LOG=$SL_TMP/run.log
SL_KUBE_WRAP=(setpriv --bounding-set "-all,+${CAPS//,/,+}" --inh-caps=-all --)
sl_kube_run --kubernetes --iface c1 --metrics 127.0.0.1:19190
sl_wait_for 20 _ready || sl_die "sluice run --kubernetes did not attach and apply"
sl_check first-list-applied "status $(_weights), v1 $(_endpoints v1), v2 $(_endpoints v2), lists $(_stat 'd["lists"]')" \
	eval '_w_wait "v1=80 v2=20" 5 && _endpoints_are v1 10.0.1.10 && _endpoints_are v2 10.0.2.10'
sl_check every-kind-listed-first "$(grep -m1 'every kind listed' "$SL_RUN_LOG")" \
	eval 'grep -q "every kind listed" "$SL_RUN_LOG" && [ "$(grep -c "^applied " "$SL_RUN_LOG")" = 1 ]'
caps=$(awk '/^CapEff/ {print $2}' "/proc/$SL_RUN_PID/status")
sl_check daemonset-capabilities "CapEff $caps (CAP_NET_ADMIN|CAP_PERFMON|CAP_BPF = 000000c000001000)" \
	test "$caps" = 000000c000001000
sl_check bad-objects-left-out-alone "rejected: $(_rejected); $(grep -m1 'left out' "$SL_RUN_LOG")" \
	eval '[ "$(_rejected)" = "$REJ3" ] && grep -q "^kubernetes: 3 objects left out" "$SL_RUN_LOG" &&
		grep -q "^kubernetes:[0-9]*:[0-9]*: error: weight -5 .*VirtualService team-b/typo" "$SL_RUN_LOG" &&
		grep -q "^kubernetes:[0-9]*:[0-9]*: error: host .backend.default.svc.cluster.local. of VirtualService team-c/backend-canary is Service default/backend, already routed by VirtualService default/backend" "$SL_RUN_LOG" &&
		grep -q "^kubernetes:[0-9]*:[0-9]*: error: host .backend.default. of VirtualService team-d/hijack is Service default/backend of another namespace" "$SL_RUN_LOG"'
sl_nsx node curl -s 127.0.0.1:19190/metrics >"$SL_TMP/metrics.txt"
sl_check rejected-metrics "$(grep '^sluice_config_rejected' "$SL_TMP/metrics.txt" | tr '\n' ' ')" \
	eval 'grep -qx "sluice_config_rejected_objects 3" "$SL_TMP/metrics.txt" &&
		grep -qx "sluice_config_rejected_object{kind=\"VirtualService\",namespace=\"team-d\",name=\"hijack\"} 1" "$SL_TMP/metrics.txt"'
sl_check healthz-ready "$(sl_nsx node curl -s 127.0.0.1:19190/healthz)" \
	test "$(sl_nsx node curl -s 127.0.0.1:19190/healthz)" = ok
sl_check watches-with-bookmarks "$(_stat 'd["watches"].get("virtualservices")')" \
	test "$(_stat 'len(d["watches"]) == 5 and all(k and all(w["bookmarks"] and w["rv"] > 0 for w in k) for k in d["watches"].values())')" = True

sl_bg LOOP_PID client "$SL_TMP/loop.json" timeout 200 "$SL_PY" "$SL_E2E/client.py" loop \
	--host "$SL_VIP4" -c 2 --timeout 5
# sd over 1,000 connections: 1.26 points at 80/20, 1.58 at 50/50; the
# tolerances are 4.7 and 4.4 sd
sl_burst client "$SL_VIP4" 1000 "$SL_TMP/b1.json"
sl_check_split split-80-20-from-cluster "$SL_TMP/b1.json" v2 20 6

# ------------------------------------------------------------- events

_ev virtualservices MODIFIED "$(_vs 50 50)"
_w_wait "v1=50 v2=50" 3
sl_check vs-modified-applied "status $(_weights)" _w_are "v1=50 v2=50"
sl_burst client "$SL_VIP4" 1000 "$SL_TMP/b2.json"
sl_check_split split-50-50-after-modified "$SL_TMP/b2.json" v2 50 7

_ev pods ADDED "$(_pod backend-v1-b v1 10.0.1.11 False)"
sleep 1
sl_check pod-not-ready-not-endpoint "v1: $(_endpoints v1)" _endpoints_are v1 10.0.1.10
_ev pods MODIFIED "$(_pod backend-v1-b v1 10.0.1.11)"
sl_wait_for 3 _endpoints_are v1 "10.0.1.10 10.0.1.11"
sl_check pod-ready-is-endpoint "v1: $(_endpoints v1)" _endpoints_are v1 "10.0.1.10 10.0.1.11"
sl_burst client "$SL_VIP4" 600 "$SL_TMP/b3.json"
sl_check new-pod-gets-traffic "$(sl_jget "$SL_TMP/b3.json" 'd["by_backend"]')" \
	test "$(sl_jget "$SL_TMP/b3.json" 'd["by_backend"].get("v1b", 0) > 0 and d["fail"] == 0')" = True

# A Pod DELETED: no longer an endpoint, no more traffic; then back.
_ev pods DELETED "$(_pod backend-v1-b v1 10.0.1.11)"
sl_wait_for 3 _endpoints_are v1 10.0.1.10
sl_burst client "$SL_VIP4" 600 "$SL_TMP/b4.json"
_no_v1b() { test "$(sl_jget "$SL_TMP/b4.json" 'd["by_backend"].get("v1b", 0) == 0 and d["by_backend"].get("v1a", 0) > 0 and d["fail"] == 0')" = True; }
sl_check deleted-pod-no-traffic "v1: $(_endpoints v1); $(sl_jget "$SL_TMP/b4.json" 'd["by_backend"]')" \
	eval '_endpoints_are v1 10.0.1.10 && _no_v1b'
_ev pods ADDED "$(_pod backend-v1-b v1 10.0.1.11)"
sl_wait_for 3 _endpoints_are v1 "10.0.1.10 10.0.1.11"

# BOOKMARK: the next watch starts from it; nothing is listed or applied again.
gen=$(sl_generation)
l0=$(_lists virtualservices)
w0=$(_watches virtualservices)
brv=$(_api POST "/_ctl/bookmark?kind=virtualservices" | sed 's/[^0-9]//g')
sleep 1
_api POST "/_ctl/drop?kind=virtualservices" >/dev/null
sl_wait_for 5 eval '[ "$(_watches virtualservices)" -gt "$w0" ]'
wrv=$(_stat 'd["watches"]["virtualservices"][-1]["rv"]')
sl_check bookmark-resumes "watch again from rv $wrv (bookmark at $brv), lists $(_lists virtualservices) (was $l0), generation $(sl_generation) (was $gen)" \
	eval '[ "$(_lists virtualservices)" = "$l0" ] && [ "$(sl_generation)" = "$gen" ] && [ "$wrv" = "$brv" ]'

# A dropped connection: what happens while it is down is replayed on resume.
l0=$(_lists virtualservices)
_api POST "/_ctl/drop?kind=virtualservices" >/dev/null
_ev virtualservices MODIFIED "$(_vs 90 10)"
_w_wait "v1=90 v2=10" 5
sl_check drop-resumed-events-replayed "status $(_weights); lists $(_lists virtualservices) (was $l0); $(grep -c 'watch dropped' "$SL_RUN_LOG") drops logged" \
	eval '_w_are "v1=90 v2=10" && [ "$(_lists virtualservices)" = "$l0" ] && grep -q "watch dropped" "$SL_RUN_LOG"'

# 410 Gone as an ERROR event: a pod deleted behind the watch's back.
l0=$(_lists pods)
_silent pods DELETED "$(_pod backend-v1-b v1 10.0.1.11)"
_api POST "/_ctl/compact?kind=pods&mode=event" >/dev/null
sl_wait_for 5 _endpoints_are v1 10.0.1.10
sl_check gone-event-relists "pods listed $(_lists pods) times (was $l0); v1: $(_endpoints v1)" \
	eval '_endpoints_are v1 10.0.1.10 && [ "$(_lists pods)" = $((l0 + 1)) ]'

# 410 Gone as the HTTP status of the next watch.
l0=$(_lists virtualservices)
_silent virtualservices MODIFIED "$(_vs 70 30)"
_api POST "/_ctl/compact?kind=virtualservices&mode=http" >/dev/null
_w_wait "v1=70 v2=30" 5
sl_check gone-http-relists "status $(_weights); lists $(_lists virtualservices) (was $l0)" \
	eval '_w_are "v1=70 v2=30" && [ "$(_lists virtualservices)" = $((l0 + 1)) ]'
sl_check gone-logged-once-each "$(grep -c 'is gone (410)' "$SL_RUN_LOG") times" \
	test "$(grep -c 'is gone (410)' "$SL_RUN_LOG")" = 2

sl_stop "$LOOP_PID" TERM 15
sl_check_no_failures no-failed-requests "$SL_TMP/loop.json" 101

# An invalid VirtualService: left out on its own, logged with its position,
# listed by status; the next oldest for its host, team-c's, takes over (all
# to v2), as Istio would. Fixed, it wins again.
_ev virtualservices MODIFIED "$(_vs 70 30 v3)"
REJ4="VirtualService:default/backend VirtualService:team-b/typo VirtualService:team-d/hijack"
sl_wait_for 5 eval '[ "$(_rejected)" = "$REJ4" ]'
_w_wait "v1=0 v2=100" 5
sl_check invalid-vs-left-out "$(grep -m1 'kubernetes:[0-9]*:[0-9]*: error.*v3' "$SL_RUN_LOG"); rejected: $(_rejected); status $(_weights)" \
	eval 'grep -q "kubernetes:[0-9]*:[0-9]*: error.*v3" "$SL_RUN_LOG" && [ "$(_rejected)" = "$REJ4" ] &&
		! grep -q "kubernetes is invalid" "$SL_RUN_LOG" && _w_are "v1=0 v2=100"'
sl_burst client "$SL_VIP4" 300 "$SL_TMP/b5.json"
sl_check_split next-oldest-takes-over "$SL_TMP/b5.json" v2 100 0
_ev virtualservices MODIFIED "$(_vs 80 20)"
_w_wait "v1=80 v2=20" 5
sl_check fixed-vs-applied "status $(_weights), rejected: '$(_rejected)'" eval '_w_are "v1=80 v2=20" && [ "$(_rejected)" = "$REJ3" ]'

sl_run_stop TERM
sl_check stats-logged "$(grep 'kubernetes: [0-9]* lists' "$SL_RUN_LOG")" \
	grep -q 'kubernetes: [0-9]* lists, [0-9]* watches, [1-9][0-9]* gone' "$SL_RUN_LOG"
sl_check_csum
sl_finish
