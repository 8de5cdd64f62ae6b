#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice run --config DIR` follows a directory of YAML files, merged into
# one configuration like `kubectl apply -f DIR`: the service in one file, the
# workloads in another next to a Deployment (skipped). Editing one file
# changes the weights live; a new file adds a service; a broken file is
# left out on its own, logged with its FILE:LINE:COL and listed by
# `status`, and the other files' services and weights stay; removing it
# again empties the list; a restart with the same files keeps a `sluice
# weights` override (one digest over all the files).
# Checks are strings for sl_check to eval (expanded late, on purpose).
# shellcheck disable=SC2016
set -uo pipefail
SL_TEST_NAME=multicfg
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

N_SPLIT=${SL_MULTI_N:-2000}
N_ALL=300
DIR=$SL_TMP/conf.d
SVC=$DIR/10-backend.yaml
WL=$DIR/20-workloads.yml
OTHER_VIP=10.96.0.11

# services_file FILE W1 W2: the test service alone (sl_config without its workloads).
services_file() {
	local file=$1
	shift
	sl_config "$SL_TMP/full.yaml" "$@"
	sed '/^workloads:/,$d' "$SL_TMP/full.yaml" >"$file"
}

# The workloads, after a document of a kind sluice skips.
workloads_file() {
	sl_config "$SL_TMP/full.yaml" 1 1
	{
		cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec: {replicas: 1}
---
EOF
		sed -n '/^workloads:/,$p' "$SL_TMP/full.yaml"
	} >"$1"
}

_services() {
	local f="$SL_TMP/status.svc.json"
	sl_status "$f" && sl_jget "$f" '" ".join(sorted(s["name"] for s in d["services"]))'
}

sl_topo_up client2
sl_check_hardening
mkdir -p "$DIR"
services_file "$SVC" 90 10
workloads_file "$WL"
echo "not configuration" >"$DIR/README.txt"

out=$(sl_sluice check --config "$DIR" 2>&1)
rc=$?
sl_check check-dir "exit $rc: $out" \
	eval '[ "$rc" = 0 ] && [ "$out" = "  backend 80/TCP: kernel (per connection)
  backend 53/UDP: kernel (per connection)
$DIR: valid (1 services, 1 workloads, from 2 files)" ]'

sl_run_start "$DIR" c1 c2 || sl_die "sluice run --config $DIR did not attach and apply"
sl_check initial-90-10 "status: $(sl_wait_weights "v1=90 v2=10"; sl_weights_now)" \
	_sl_weights_are "v1=90 v2=10"
sl_check run-log-watching-dir "$(grep '^running:' "$SL_RUN_LOG" | tail -1)" \
	eval 'grep "^running:" "$SL_RUN_LOG" | tail -1 | grep -q "watching $DIR\$"'

# 1. The split works, and the workloads from the other file are in force:
# the labelled frontend v2 (client2) reaches only v2.
sl_burst client "$SL_VIP4" "$N_SPLIT" "$SL_TMP/b-90-10.json"
sl_check_split split-90-10 "$SL_TMP/b-90-10.json" v2 10 3
sl_burst client2 "$SL_VIP4" "$N_ALL" "$SL_TMP/b-frontend.json"
sl_check_split workloads-file-source-labels "$SL_TMP/b-frontend.json" v2 100 0

# 2. Editing the services file live: rename-over, then in place.
services_file "$SVC.tmp.$$" 0 100
mv -f "$SVC.tmp.$$" "$SVC"
sl_check edit-rename-0-100 "status: $(sl_wait_weights "v1=0 v2=100"; sl_weights_now)" \
	_sl_weights_are "v1=0 v2=100"
sl_burst client "$SL_VIP4" "$N_ALL" "$SL_TMP/b-0-100.json"
sl_check_split edit-rename-0-100-traffic "$SL_TMP/b-0-100.json" v2 100 0

services_file "$SL_TMP/inplace.yaml" 100 0
cat "$SL_TMP/inplace.yaml" >"$SVC"
sl_check edit-inplace-100-0 "status: $(sl_wait_weights "v1=100 v2=0"; sl_weights_now)" \
	_sl_weights_are "v1=100 v2=0"
sl_burst client "$SL_VIP4" "$N_ALL" "$SL_TMP/b-100-0.json"
sl_check_split edit-inplace-100-0-traffic "$SL_TMP/b-100-0.json" v1 100 0

# 3. A new file with a second service: it appears in `sluice status` and
# takes traffic on its own VIP.
cat >"$DIR/30-other.yaml.tmp" <<EOF
services:
  - name: other
    vips: [$OTHER_VIP]
    ports:
      - {port: 80, protocol: TCP, targetPort: 8080}
    subsets:
      v2: {endpoints: [10.0.2.10]}
EOF
mv "$DIR/30-other.yaml.tmp" "$DIR/30-other.yaml"
sl_wait_for 10 eval '[ "$(_services)" = "backend other" ]'
sl_check new-file-new-service "services: $(_services)" eval '[ "$(_services)" = "backend other" ]'
sl_burst client "$OTHER_VIP" "$N_ALL" "$SL_TMP/b-other.json"
sl_check_split new-service-traffic "$SL_TMP/b-other.json" v2 100 0
sl_check backend-unchanged-by-new-file "status: $(sl_weights_now)" _sl_weights_are "v1=100 v2=0"

# 4. A broken file in the directory: left out on its own with its position,
# the other files still in force, the error logged once, listed by status.
gen=$(sl_generation)
from=$(wc -l <"$SL_RUN_LOG")
printf 'services:\n  - name: broken\n    vips: [10.96.0.12\n' >"$DIR/40-broken.yaml"
_logged_broken() { tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -Eq "^$DIR/40-broken.yaml:[0-9]+:[0-9]+: error: "; }
_rejected() {
	local f="$SL_TMP/status.rej.json"
	sl_status "$f" && sl_jget "$f" '" ".join(r["kind"] + ":" + r["name"] for r in d["rejected"])'
}
sl_wait_for 10 _logged_broken
sl_check broken-file-logged-with-position \
	"log: $(tail -n +"$((from + 1))" "$SL_RUN_LOG" | head -3 | tr '\n' ' ')" _logged_broken
sl_wait_for 10 eval '[ "$(_rejected)" = "File:$DIR/40-broken.yaml" ]'
sl_check broken-file-left-out-alone "rejected: $(_rejected); $(tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep 'left out' | head -1)" \
	eval '[ "$(_rejected)" = "File:$DIR/40-broken.yaml" ] &&
		tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -q "^$DIR: 1 object left out" &&
		! tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -q "^Error: $DIR is invalid"'
touch "$DIR/20-workloads.yml" # an event about the config, the same content
sleep 1
sl_check broken-file-changes-nothing-else "generation $gen -> $(sl_generation), services: $(_services), $(sl_weights_now)" \
	eval '[ "$(_services)" = "backend other" ] && _sl_weights_are "v1=100 v2=0"'
n=$(tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -Ec "^$DIR/40-broken.yaml:[0-9]+:[0-9]+: error: ")
sl_check broken-file-logged-once "$n error lines" test "$n" = 1
out=$(sl_sluice check --config "$DIR" 2>&1)
rc=$?
sl_check check-dir-broken "exit $rc: $(echo "$out" | head -2 | tr '\n' ' ')" \
	eval '[ "$rc" = 1 ] && grep -Eq "^$DIR/40-broken.yaml:[0-9]+:[0-9]+: error: " <<<"$out"'

# Removing it: nothing left out any more, the same services.
rm -f "$DIR/40-broken.yaml"
sl_wait_for 10 eval '[ -z "$(_rejected)" ]'
sl_check broken-file-removed "rejected: '$(_rejected)', services: $(_services), $(sl_weights_now)" \
	eval '[ -z "$(_rejected)" ] && [ "$(_services)" = "backend other" ] && _sl_weights_are "v1=100 v2=0"'

# 5. Deleting a file removes its service.
rm -f "$DIR/30-other.yaml"
sl_wait_for 10 eval '[ "$(_services)" = "backend" ]'
sl_check deleted-file-service-gone "services: $(_services)" eval '[ "$(_services)" = "backend" ]'

# 6. A restart on the same directory keeps a `sluice weights` override: the
# digest over all the files matches the one the tables were applied from.
out=$(sl_sluice weights backend v1=50 v2=50 2>&1)
sl_check override-set "$out; $(sl_state_now)" \
	eval '_sl_weights_are "v1=50 v2=50" && sl_overridden True'
sl_run_stop TERM
n_running=$(grep -c '^running:' "$SL_RUN_LOG")
_run_watching() { [ "$(grep -c '^running:' "$SL_RUN_LOG")" -gt "$n_running" ]; }
{ sl_run_start "$DIR" c1 c2 && sl_wait_for 10 _run_watching; } ||
	sl_die "sluice run did not restart on $DIR"
sl_check restart-keeps-override "$(grep 'keeping it' "$SL_RUN_LOG" | tail -1); $(sl_weights_now) $(sl_state_now)" \
	eval '_sl_weights_are "v1=50 v2=50" && sl_overridden True &&
		grep -q "^$DIR is what generation [0-9]* was applied from: keeping it" "$SL_RUN_LOG"'

# ... and the next edit of a file wins again.
services_file "$SVC.tmp.$$" 90 10
mv -f "$SVC.tmp.$$" "$SVC"
sl_check edit-after-restart "status: $(sl_wait_weights "v1=90 v2=10"; sl_weights_now) $(sl_state_now)" \
	eval '_sl_weights_are "v1=90 v2=10" && sl_overridden False'

errs=$(grep '^Error' "$SL_RUN_LOG" | grep -vc "40-broken\|$DIR is invalid")
sl_check run-log-no-other-errors "$errs: $(grep '^Error' "$SL_RUN_LOG" | grep -v "40-broken\|$DIR is invalid" | head -3 | tr '\n' ' ')" \
	test "$errs" = 0
sl_check run-still-running "pid $SL_RUN_PID" kill -0 "$SL_RUN_PID"
sl_check_csum
sl_finish
