#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A `rollout:` block in the configuration, with Flagger's `analysis` block
# pasted as Flagger's docs write it (only the interval shortened, so the
# test takes seconds): `sluice run` starts the walk by itself, with the
# same thresholds (stepWeight/maxWeight steps, threshold as the failure
# limit, request-success-rate min 99 as a 1 % 5xx cap, request-duration max
# as the p99 cap), warns about the Flagger-only fields with their position,
# promotes a healthy v2, keeps the promoted weights while the block stays,
# and rolls back a failing v2 when a changed block starts a new walk. Then
# the same block beside an Istio VirtualService (a Canary object next to
# the Service, pods, DestinationRule and VirtualService files of
# examples/istio): the same walk, the same plan, promoted.
set -uo pipefail
SL_TEST_NAME=rollflag
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"
# shellcheck source=tests/e2e/rollout-lib.sh
. "$(dirname "$0")/rollout-lib.sh"

CFG=$SL_CFG

# flagger_config FILE STEP_WEIGHT: the test service, all to v1, with a
# rollout block to v2 holding Flagger's documented analysis block.
flagger_config() {
	cat >"$1" <<EOF
services:
  - name: backend
    vips: [$SL_VIP4]
    ports:
      - {port: 80, protocol: TCP, targetPort: 8080}
    subsets:
      v1: {endpoints: [10.0.1.10, 10.0.1.11]}
      v2: {endpoints: [10.0.2.10]}
    routes:
      - split: {v1: 100}
    rollout:
EOF
	rollout_keys "$2" >>"$1"
}

# rollout_keys STEP_WEIGHT: the block's keys, at the indentation of a
# rollout: block of flagger_config.
rollout_keys() {
	cat <<EOF
      to: v2
      minRequests: 20
      # deployment reference
      targetRef:
        apiVersion: apps/v1
        kind: Deployment
        name: backend
      analysis:
        # schedule interval (default 60s)
        interval: 2s
        # max number of failed metric checks before rollback
        threshold: 2
        # max traffic percentage routed to canary
        # percentage (0-100)
        maxWeight: 50
        # canary increment step
        # percentage (0-100)
        stepWeight: $1
        metrics:
        - name: request-success-rate
          # minimum req success rate (non 5xx responses)
          # percentage (0-100)
          thresholdRange:
            min: 99
          interval: 1m
        - name: request-duration
          # maximum req duration P99
          # milliseconds
          thresholdRange:
            max: 500
          interval: 30s
        # testing (optional)
        webhooks:
          - name: load-test
            url: http://flagger-loadtester.test/
            timeout: 5s
            metadata:
              cmd: "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"
EOF
}

# istio_config DIR: examples/istio's Service, pods and DestinationRule, a
# VirtualService all to v1, and a Canary holding the same keys (and
# Flagger's analysis block) as flagger_config's block, at stepWeight 25.
istio_config() {
	mkdir -p "$1"
	cp "$SL_ROOT"/examples/istio/{00-service,10-pods,20-destinationrule}.yaml "$1/"
	cat >"$1/30-virtualservice.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend]
  http:
    - route:
        - destination: {host: backend, subset: v1}
          weight: 100
        - destination: {host: backend, subset: v2}
          weight: 0
EOF
	cat >"$1/40-canary.yaml" <<EOF
apiVersion: sluice.io/v1alpha1
kind: Canary
metadata: {name: backend, namespace: default}
spec:
EOF
	rollout_keys 25 | sed 's/^    //' >>"$1/40-canary.yaml"
}

sl_topo_up
ro_backend v1a
ro_backend v1b
ro_backend v2
flagger_config "$CFG" 25
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
ro_client_start
sl_sluice rollout backend wait --timeout 40s >/dev/null 2>&1
rc=$?
ro_client_stop
ro_status "$SL_TMP/promoted.json"
walk=$(ro_get "$SL_TMP/promoted.json" "','.join(str(e['weight']) for e in ev if e['action'] in ('start', 'advance', 'promote'))")
plan=$(sl_jget "$SL_TMP/promoted.json" "(d['steps'], d['dwell_ms'], d['failure_limit'], d['max_5xx_ratio'], d['max_p99_ms'], d['from'], d['to'])")
sl_check flagger-walk "exit $rc, walk $walk" test "$rc" = 0 -a "$walk" = "25,50,100,100"
sl_check flagger-thresholds "steps, dwell, limit, 5xx cap, p99 cap: $plan" \
	test "$plan" = "([25, 50, 100], 2000, 2, 0.01, 500.0, 'v1', 'v2')"
sl_check flagger-no-failures "client: fail=$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')" \
	test "$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')" = 0
w_target=$(grep -c "sluice.yaml:[0-9]*:[0-9]*: warning: 'targetRef' in the rollout of service 'backend' needs Flagger's machinery" "$SL_RUN_LOG")
w_hooks=$(grep -c "sluice.yaml:[0-9]*:[0-9]*: warning: 'webhooks' in 'analysis' needs Flagger's machinery" "$SL_RUN_LOG")
sl_check flagger-warnings "targetRef warned $w_target times, webhooks $w_hooks, with file:line:col" \
	test "$w_target" -ge 1 -a "$w_hooks" -ge 1

# The block stays: the promoted weights stay, over the file's split.
sl_check promoted-weights "status: $(sl_weights_now)" _sl_weights_are "v1=0 v2=100"
g0=$(sl_generation)
sl_nsx node kill -HUP "$SL_RUN_PID"
sl_wait_for 10 eval '[ "$(sl_generation)" != "$g0" ]'
n_re=$(grep -c "rollout backend: reassert" "$SL_RUN_LOG")
sl_check promoted-weights-kept "after SIGHUP (generation $g0 -> $(sl_generation)): $(sl_weights_now), $n_re flips back" \
	eval '_sl_weights_are "v1=0 v2=100" && [ "$n_re" = 0 ]'

# A new plan (stepWeight 10) with a v2 that fails 5 %: walked again, rolled back.
ro_backend v2 --fail-every 20
ro_client_start
flagger_config "$CFG.tmp" 10
mv -f "$CFG.tmp" "$CFG"
_new_plan() { ro_status "$SL_TMP/p.json"; [ "$(sl_jget "$SL_TMP/p.json" 'd["steps"][0]')" = 10 ]; }
sl_wait_for 10 _new_plan || sl_die "the changed block started no new walk: $(sl_jget "$SL_TMP/p.json" 'd["reason"]')"
sl_sluice rollout backend wait --timeout 30s >/dev/null 2>&1
rc=$?
ro_client_stop
ro_status "$SL_TMP/failed.json"
reason=$(sl_jget "$SL_TMP/failed.json" 'd["reason"]')
top=$(ro_get "$SL_TMP/failed.json" "max(e['weight'] for e in ev)")
sl_check flagger-rollback "exit $rc, highest v2 weight $top%: $reason" \
	eval '[ "$rc" = 5 ] && [ "$top" = 10 ] && [[ "$reason" == *"5xx"* ]]'
sl_check rollback-weights "status: $(sl_weights_now)" _sl_weights_are "v1=100 v2=0"

# The same block as a Canary beside an Istio VirtualService: `sluice run
# --config DIR` starts the same walk on backend.default, promotes a healthy v2.
sl_run_stop
ro_backend v2
IDIR=$SL_TMP/istio
istio_config "$IDIR"
SL_RUN_LOG=$SL_TMP/run-istio.log
sl_run_start "$IDIR" c1 || sl_die "sluice run --config $IDIR did not attach and apply"
# run starts the plan at its first tick after applying: give it that tick
_ro_started() { sl_sluice -j rollout backend.default status >/dev/null 2>&1 || [ $? -ne 1 ]; }
sl_wait_for 10 _ro_started || sl_die "run started no rollout of backend.default"
ro_client_start
sl_sluice rollout backend.default wait --timeout 40s >/dev/null 2>"$SL_TMP/istio-wait.err"
rc=$?
[ "$rc" = 0 ] || sed 's/^/# wait: /' "$SL_TMP/istio-wait.err"
ro_client_stop
sl_sluice -j rollout backend.default status >"$SL_TMP/istio.json" 2>"$SL_TMP/istio.err"
walk=$(ro_get "$SL_TMP/istio.json" "','.join(str(e['weight']) for e in ev if e['action'] in ('start', 'advance', 'promote'))")
plan=$(sl_jget "$SL_TMP/istio.json" "(d['steps'], d['dwell_ms'], d['failure_limit'], d['max_5xx_ratio'], d['max_p99_ms'], d['from'], d['to'])")
sl_check canary-walk "Istio + Canary: exit $rc, walk $walk" test "$rc" = 0 -a "$walk" = "25,50,100,100"
sl_check canary-thresholds "Istio + Canary: steps, dwell, limit, 5xx cap, p99 cap: $plan" \
	test "$plan" = "([25, 50, 100], 2000, 2, 0.01, 500.0, 'v1', 'v2')"
sl_check canary-no-failures "client: fail=$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')" \
	test "$(sl_jget "$RO_CLIENT_OUT" 'd["fail"]')" = 0
w_target=$(grep -c "40-canary.yaml:[0-9]*:[0-9]*: warning: sluice moves traffic, not Deployments" "$SL_RUN_LOG")
w_hooks=$(grep -c "40-canary.yaml:[0-9]*:[0-9]*: warning: 'webhooks' in 'analysis' needs Flagger's machinery" "$SL_RUN_LOG")
sl_check canary-warnings "targetRef kind warned $w_target times, webhooks $w_hooks, with file:line:col" \
	test "$w_target" -ge 1 -a "$w_hooks" -ge 1
f=$SL_TMP/status.istio.json
sl_status "$f"
w_now=$($SL_PY "$SL_E2E/jtool.py" weights "$f" backend.default)
sl_check canary-promoted-weights "status: $w_now" test "$w_now" = "v1=0 v2=100"
sl_finish
