#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice run --kubernetes` at cluster scale: 10,000 pods and 1,000
# Services with their EndpointSlices (tests/e2e/kube_scale_gen.py: objects
# shaped like a real API server's, managedFields and all) and five routed
# by a VirtualService and a DestinationRule, served by the fake API server
# (tests/e2e/kube_fake.py). Checked:
#   - the whole picture is applied, and how long that takes;
#   - memory: peak and current RSS (VmHWM, VmRSS) stay under the bound,
#     after the first sync and after a burst of 1,000 pod updates (a
#     rollout's new pod-template-hash label), which is applied;
#   - a change at that scale (a new pod in a routed Service's
#     EndpointSlice) is in `sluice status` within seconds;
#   - a pod update that changes nothing sluice reads (a restart count)
#     loads nothing; one that changes no table (a pod no route uses turns
#     not ready) applies nothing.
# The bound: the DaemonSet (deploy/daemonset.yaml) requests 64Mi and limits
# memory to 256Mi; sluice must stay under the request.
set -uo pipefail
SL_TEST_NAME=kscale
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"
# shellcheck source=tests/e2e/kube-lib.sh
. "$SL_E2E/kube-lib.sh"

RSS_BOUND_KB=${SL_KUBE_SCALE_RSS_KB:-65536}
SERVICES=1000
PODS_PER_SERVICE=10

sl_kube_init
FX=$SL_KUBE/fixtures
$SL_PY "$SL_E2E/kube_scale_gen.py" "$FX" --services "$SERVICES" \
	--pods-per-service "$PODS_PER_SERVICE" --burst 1000 || sl_die "kube_scale_gen.py"

# No traffic here: the node and one interface to attach to are enough.
sl_preflight
_sl_ns_add node
_sl_client client c1 10.0.9.2 10.0.9.1 24 fd00:9::2 fd00:9::1
# 35 MB of fixtures to read first
sl_kube_fake_start 30
_ev() { sl_kube_ev "$@" || sl_die "the fake refused $2 $1"; }

# _mem: "VmHWM VmRSS" of sluice run, in kB.
_mem() { awk '/^VmHWM|^VmRSS/ {printf "%s ", $2}' "/proc/$SL_RUN_PID/status"; }
_mb() { echo "$(($1 / 1024)) MB"; }
_under() { [ "$1" -lt "$RSS_BOUND_KB" ] && [ "$2" -lt "$RSS_BOUND_KB" ]; }

# Services from Kubernetes are named NAME.NAMESPACE; svc-0 to svc-4 are routed.
SVC=svc-0.ns-0
_ready() {
	local f=$SL_TMP/status.ready.json
	_sl_gone "$SL_RUN_PID" && return 1
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" has-service "$f" svc-4.ns-4
}
_endpoints() { sl_kube_endpoints "$SVC" "$1"; }
_has_endpoint() { [[ " $(_endpoints "$1") " == *" $2 "* ]]; }
_applies() { grep -c '^applied ' "$SL_RUN_LOG"; }
_ms_since() { echo $((($(_sl_us) - $1) / 1000)); }

# _settle TIMEOUT_S: wait until no apply for 2 s (the burst is all in).
_settle() {
	local deadline=$(($(_sl_us) + $1 * 1000000)) n last=-1 since
	since=$(_sl_us)
	while [ "$(_sl_us)" -lt "$deadline" ]; do
		n=$(_applies)
		if [ "$n" != "$last" ]; then
			last=$n
			since=$(_sl_us)
		elif [ $(($(_sl_us) - since)) -gt 2000000 ]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# ------------------------------------------------------------- sync

SL_RUN_LOG=$SL_TMP/run.log
t0=$(_sl_us)
sl_kube_run --kubernetes --iface c1
sl_wait_for 45 _ready || sl_die "sluice run --kubernetes did not apply $((SERVICES * PODS_PER_SERVICE)) pods in 45 s"
sync_ms=$(_ms_since "$t0")
sl_check synced "$(grep -m1 'listed [0-9]* Pod' "$SL_RUN_LOG"); routed services in status after $sync_ms ms; v1 of $SVC: $(_endpoints v1)" \
	eval 'grep -q "listed $((SERVICES * PODS_PER_SERVICE)) Pod" "$SL_RUN_LOG" &&
		[ "$(_endpoints v1)" = "10.64.0.0 10.64.0.1 10.64.0.2 10.64.0.3 10.64.0.4" ]'
sleep 1
read -r hwm rss <<<"$(_mem)"
sl_check rss-at-sync "VmHWM $(_mb "$hwm"), VmRSS $(_mb "$rss"), bound $(_mb "$RSS_BOUND_KB")" \
	_under "$hwm" "$rss"

# ------------------------------------------------------------- churn

# Nothing sluice reads: stripped on arrival, nothing applied.
n0=$(_applies)
_ev pods MODIFIED "$($SL_PY -c 'import json, sys
p = json.load(open(sys.argv[1]))[0]
p["status"]["containerStatuses"][0]["restartCount"] = 9
print(json.dumps(p))' "$FX/pods.json")"
# (a load of 10,000 pods takes well under 3 s: one would show by then)
sleep 3
sl_check restart-applies-nothing "applies: $(($(_applies) - n0)), loads: $(grep -c 'changed, but not the tables' "$SL_RUN_LOG")" \
	eval '[ "$(_applies)" = "$n0" ] && ! grep -q "changed, but not the tables" "$SL_RUN_LOG"'

# Read, but no table changes: a pod of a Service no route uses turns not ready.
gen=$(sl_generation)
_ev pods MODIFIED "$($SL_PY -c 'import json, sys
p = json.load(open(sys.argv[1]))[5000]
p["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
print(json.dumps(p))' "$FX/pods.json")"
sl_wait_for 10 grep -q "changed, but not the tables" "$SL_RUN_LOG"
sl_check same-tables-not-applied "$(grep -m1 'changed, but not the tables' "$SL_RUN_LOG"); generation $(sl_generation) (was $gen)" \
	eval 'grep -q "changed, but not the tables" "$SL_RUN_LOG" && [ "$(sl_generation)" = "$gen" ] && [ "$(_applies)" = "$n0" ]'

t0=$(_sl_us)
sl_kube_api POST "/_ctl/events?kind=pods" "@$FX/pod_burst.json" >/dev/null
_settle 30
burst_ms=$(($(_ms_since "$t0") - 2000))
read -r hwm rss <<<"$(_mem)"
sl_check burst-applied "$(($(_applies) - n0)) applies in ~$burst_ms ms; $(grep -c '^kubernetes: .*out of memory' "$SL_RUN_LOG") out of memory" \
	eval '[ "$(_applies)" -gt "$n0" ] && ! grep -q "out of memory" "$SL_RUN_LOG"'
sl_check rss-after-burst "VmHWM $(_mb "$hwm"), VmRSS $(_mb "$rss"), bound $(_mb "$RSS_BOUND_KB")" \
	_under "$hwm" "$rss"

# ------------------------------------------------------------- a change at scale

NEW_IP=10.64.250.1
pod="{\"apiVersion\": \"v1\", \"kind\": \"Pod\",
 \"metadata\": {\"name\": \"svc-0-new\", \"namespace\": \"ns-0\", \"labels\": {\"app\": \"svc-0\", \"version\": \"v2\"}},
 \"spec\": {\"containers\": [{\"name\": \"app\", \"ports\": [{\"name\": \"http\", \"containerPort\": 8080}]}]},
 \"status\": {\"phase\": \"Running\", \"podIP\": \"$NEW_IP\", \"podIPs\": [{\"ip\": \"$NEW_IP\"}],
            \"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}]}}"
slice=$($SL_PY -c 'import json, sys
s = json.load(open(sys.argv[1]))[0]
s["endpoints"].append({"addresses": [sys.argv[2]], "conditions": {"ready": True},
                       "targetRef": {"kind": "Pod", "namespace": "ns-0", "name": "svc-0-new"}})
print(json.dumps(s))' "$FX/endpointslices.json" "$NEW_IP")
t0=$(_sl_us)
_ev pods ADDED "$pod"
_ev endpointslices MODIFIED "$slice"
sl_wait_for 10 _has_endpoint v2 "$NEW_IP"
sl_check new-pod-applied "v2 of $SVC after $(_ms_since "$t0") ms: $(_endpoints v2)" \
	_has_endpoint v2 "$NEW_IP"

read -r hwm rss <<<"$(_mem)"
sl_info "figures: $((SERVICES * PODS_PER_SERVICE)) pods, $SERVICES services; sync $sync_ms ms; burst of 1000 pod updates ~$burst_ms ms; VmHWM $(_mb "$hwm"), VmRSS $(_mb "$rss") at the end"
sl_run_stop TERM
# the restart, the readiness, the burst, the pod and its slice: every event seen
sl_check every-event-seen "$(grep 'kubernetes: [0-9]* lists' "$SL_RUN_LOG")" \
	grep -q 'kubernetes: 5 lists, 5 watches, 0 gone (410), 1004 events, 0 errors' "$SL_RUN_LOG"
sl_finish
