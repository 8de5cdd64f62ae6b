#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice run` follows a Kubernetes ConfigMap volume. The kubelet never
# writes the file sluice was given: the volume holds
#
#   ..2026_11_27_10_00_01.000000001/sluice.yaml   the data, one dir per version
#   ..data -> ..2026_11_27_10_00_01.000000001     the version in force
#   sluice.yaml -> ..data/sluice.yaml             what the pod sees
#
# and an update writes a new timestamped directory, points a temporary
# symlink `..data_tmp` at it, renames that over `..data` (one atomic
# rename(2)) and deletes the old directory. The weights must follow each
# swap. Also: a `sluice weights` override survives unrelated churn in the
# directory and gives way on SIGHUP, and a file rewritten in place (no
# rename, only IN_CLOSE_WRITE) is applied too.
# Checks are strings for sl_check to eval (expanded late, on purpose); helpers
# run through sl_check and sl_wait_for.
# shellcheck disable=SC2016,SC2317
set -uo pipefail
SL_TEST_NAME=configmap
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

CM=$SL_TMP/configmap
CFG=$CM/sluice.yaml
N_ALL=300
CM_SEQ=0
CM_CUR=

# _cm_dirname VAR: a fresh kubelet-style version directory name into VAR
# (not by $(...): the sequence number must advance in this shell).
_cm_dirname() {
	CM_SEQ=$((CM_SEQ + 1))
	printf -v "$1" '..2026_11_27_10_00_%02d.%09d' "$CM_SEQ" "$((CM_SEQ * 1000 + 1))"
}

# cm_init W1 W2: the volume, as the kubelet first mounts it.
cm_init() {
	mkdir -p "$CM"
	_cm_dirname CM_CUR
	mkdir "$CM/$CM_CUR"
	sl_config "$CM/$CM_CUR/sluice.yaml" "$1" "$2"
	ln -s "$CM_CUR" "$CM/..data"
	ln -s ..data/sluice.yaml "$CM/sluice.yaml"
}

# cm_update W1 W2: the kubelet's atomic update (AtomicWriter): new dir,
# ..data_tmp -> new dir, rename(..data_tmp, ..data), old dir removed.
cm_update() {
	local new old=$CM_CUR
	_cm_dirname new
	mkdir "$CM/$new"
	sl_config "$CM/$new/sluice.yaml" "$1" "$2"
	ln -s "$new" "$CM/..data_tmp"
	mv -T "$CM/..data_tmp" "$CM/..data"
	rm -rf "${CM:?}/$old"
	CM_CUR=$new
}

# The layout is what it claims to be (and what the kubelet builds).
_cm_layout_ok() {
	[ -L "$CM/..data" ] && [ "$(readlink "$CM/..data")" = "$CM_CUR" ] &&
		[ -L "$CM/sluice.yaml" ] && [ "$(readlink "$CM/sluice.yaml")" = ..data/sluice.yaml ] &&
		[ -f "$CM/$CM_CUR/sluice.yaml" ] && [ ! -e "$CM/..data_tmp" ] &&
		[ "$(find "$CM" -mindepth 1 -maxdepth 1 -name '..2026_*' | wc -l)" = 1 ]
}





sl_topo_up
cm_init 90 10
sl_check configmap-layout "$(find "$CM" -mindepth 1 -maxdepth 1 -printf '%f -> %l; ' | sed 's/ -> ;/;/g')" \
	_cm_layout_ok
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply $CFG"
sl_check configmap-initial-90-10 "status: $(sl_wait_weights "v1=90 v2=10"; sl_state_now)" \
	sl_state_is "v1=90 v2=10" False

# 1. ..data swaps: 50/50, then 0/100.
cm_update 50 50
sl_check configmap-swap-layout "..data -> $(readlink "$CM/..data")" _cm_layout_ok
sl_check configmap-swap-50-50 "status: $(sl_wait_weights "v1=50 v2=50"; sl_state_now)" \
	_sl_weights_are "v1=50 v2=50"

cm_update 0 100
sl_check configmap-swap-0-100 "status: $(sl_wait_weights "v1=0 v2=100"; sl_state_now)" \
	_sl_weights_are "v1=0 v2=100"
sl_burst client "$SL_VIP4" "$N_ALL" "$SL_TMP/b-0-100.json"
sl_check_split configmap-swap-0-100-traffic "$SL_TMP/b-0-100.json" v2 100 0

# 2. An override by `sluice weights` survives unrelated changes in the
# volume directory; SIGHUP re-applies the file and clears it.
out=$(sl_sluice weights backend v1=0 v2=1 2>&1)
rc=$?
sl_check override-set "exit $rc: $out; status $(sl_state_now)" \
	eval '[ "$rc" = 0 ] && sl_state_is "v1=0 v2=1" True'
gen=$(sl_generation)
touch "$CM/unrelated"
echo scratch >"$CM/.sluice.yaml.swp"
touch "$CM/$CM_CUR/sluice.yaml" # IN_ATTRIB on the file itself, content unchanged
sleep 1                         # the watcher debounces for 100 ms
rm -f "$CM/.sluice.yaml.swp"
sleep 0.5
sl_check override-survives-unrelated-changes "status $(sl_state_now), generation before $gen" \
	eval 'sl_state_is "v1=0 v2=1" True && [ "$(sl_generation)" = "$gen" ]'

from=$(wc -l <"$SL_RUN_LOG")
kill -HUP "$SL_RUN_PID"
sl_wait_for 10 sl_state_is "v1=0 v2=100" False
sl_check sighup-restores-file-weights "status $(sl_state_now)" sl_state_is "v1=0 v2=100" False
sl_check sighup-logged "$(tail -n +"$((from + 1))" "$SL_RUN_LOG" | head -3 | tr '\n' ' ')" \
	eval 'tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -q "SIGHUP"'
sl_check sighup-run-alive "pid $SL_RUN_PID" kill -0 "$SL_RUN_PID"

# An override, then a ConfigMap update: the file wins again.
sl_sluice weights backend v1=1 v2=0 >/dev/null 2>&1
sl_wait_for 5 sl_state_is "v1=1 v2=0" True
cm_update 50 50
sl_wait_for 10 sl_state_is "v1=50 v2=50" False
sl_check configmap-swap-clears-override "status $(sl_state_now)" sl_state_is "v1=50 v2=50" False

# 3. The file rewritten in place (truncate + write, IN_CLOSE_WRITE, no
# rename). Through the symlinks this writes into the version directory the
# last swap created: the watch must have followed ..data there.
sl_config "$SL_TMP/inplace.yaml" 0 100
cat "$SL_TMP/inplace.yaml" >"$CFG"
sl_check inplace-write-0-100 "status: $(sl_wait_weights "v1=0 v2=100"; sl_state_now)" \
	_sl_weights_are "v1=0 v2=100"
sl_burst client "$SL_VIP4" "$N_ALL" "$SL_TMP/b-inplace.json"
sl_check_split inplace-write-0-100-traffic "$SL_TMP/b-inplace.json" v2 100 0

# ... and a swap after the in-place write still works.
cm_update 90 10
sl_check configmap-swap-after-inplace "status: $(sl_wait_weights "v1=90 v2=10"; sl_state_now)" \
	_sl_weights_are "v1=90 v2=10"

# 3b. Churn in the volume directory (an app writing its log next to the
# config every 50 ms, more often than the debounce) must not hold back a
# ConfigMap swap: events about other files are not about the config.
CHURN_STOP=$SL_TMP/churn.stop
rm -f "$CHURN_STOP"
(
	end=$((SECONDS + 10))
	while [ "$SECONDS" -lt "$end" ] && [ ! -e "$CHURN_STOP" ]; do
		echo "$(date +%T.%N) log line" >>"$(dirname "$CFG")/app.log"
		sleep 0.05
	done
) &
CHURN_PID=$!
SL_PIDS+=("$CHURN_PID")
sleep 0.5 # churning before the swap, and all through it
gen=$(sl_generation)
n_applied=$(grep -c '^applied ' "$SL_RUN_LOG")
t0=$(date +%s%N)
cm_update 30 70
_ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# (polled by the millisecond clock: sl_wait_for counts whole seconds)
until _sl_weights_are "v1=30 v2=70" || [ "$(_ms_since "$t0")" -gt 3000 ]; do sleep 0.05; done
t1=$(date +%s%N)
_churn_running() { kill -0 "$CHURN_PID" 2>/dev/null && ! _sl_gone "$CHURN_PID"; }
sl_check churn-still-running-at-swap "churn pid $CHURN_PID, $(wc -l <"$(dirname "$CFG")/app.log") log lines" \
	_churn_running
sl_check configmap-swap-under-churn "status: $(sl_state_now) after $(((t1 - t0) / 1000000)) ms" \
	eval '_sl_weights_are "v1=30 v2=70" && [ $(((t1 - t0) / 1000000)) -le 2000 ]'
sleep 1 # still churning: nothing more may be applied
sl_check churn-applies-once "generation $gen -> $(sl_generation), applied lines +$(($(grep -c '^applied ' "$SL_RUN_LOG") - n_applied))" \
	eval '[ "$(sl_generation)" = "$((gen + 1))" ] &&
		[ "$(grep -c "^applied " "$SL_RUN_LOG")" = "$((n_applied + 1))" ]'
touch "$CHURN_STOP"
sl_reap "$CHURN_PID" 2
rm -f "$CM/app.log" "$CHURN_STOP"

# 4. The same in-place write on a plain file (no symlinks at all): `run`
# restarted on $SL_CFG (pins kept), the file rewritten with `cat >`.
sl_run_stop TERM
sl_config "$SL_CFG" 90 10
n_running=$(grep -c '^running:' "$SL_RUN_LOG")
_run_watching() { [ "$(grep -c '^running:' "$SL_RUN_LOG")" -gt "$n_running" ]; }
# (The pins still hold the service, so sl_run_start may return before the new
# process watches the file: wait for its "running:" line too.)
{ sl_run_start "$SL_CFG" c1 && sl_wait_for 10 _run_watching; } ||
	sl_die "sluice run did not restart on $SL_CFG"
sl_config "$SL_TMP/inplace2.yaml" 50 50
cat "$SL_TMP/inplace2.yaml" >"$SL_CFG"
sl_check inplace-write-plain-file "status: $(sl_wait_weights "v1=50 v2=50"; sl_state_now)" \
	_sl_weights_are "v1=50 v2=50"

# 5. A slow in-place write: the first part of the file, a pause, the rest.
# The first part alone is a valid config (the backend service at 20/80, no
# workloads); the whole file adds a second service and the workloads. Only
# the whole file may be applied: one new generation, one "applied" line.
_slow_cfg() {
	sl_config "$SL_TMP/slow-full.yaml" 20 80
	# everything before "workloads:", then another service, then the workloads
	sed '/^workloads:/,$d' "$SL_TMP/slow-full.yaml" >"$SL_TMP/slow-part1.yaml"
	{
		cat <<EOF
  - name: other
    vips: [10.96.0.11]
    ports:
      - {port: 80, protocol: TCP, targetPort: 8080}
    subsets:
      v1: {endpoints: [10.0.1.10]}
    routes:
      - split: {v1: 100}
EOF
		sed -n '/^workloads:/,$p' "$SL_TMP/slow-full.yaml"
	} >"$SL_TMP/slow-part2.yaml"
	cat "$SL_TMP/slow-part1.yaml" "$SL_TMP/slow-part2.yaml" >"$SL_TMP/slow-full.yaml"
}
_slow_cfg
sl_check slow-write-parts-valid "part 1 alone and the whole file pass check" \
	eval 'sl_sluice check --config "$SL_TMP/slow-part1.yaml" >/dev/null 2>&1 &&
		sl_sluice check --config "$SL_TMP/slow-full.yaml" >/dev/null 2>&1 &&
		! grep -q "^workloads:" "$SL_TMP/slow-part1.yaml"'
_n_services() {
	local f="$SL_TMP/status.svc.json"
	sl_status "$f" && sl_jget "$f" 'len(d["services"])'
}
sleep 0.5 # quiet since the last write
gen=$(sl_generation)
n_applied=$(grep -c '^applied ' "$SL_RUN_LOG")
from=$(wc -l <"$SL_RUN_LOG")
{
	cat "$SL_TMP/slow-part1.yaml"
	sleep 0.5
	cat "$SL_TMP/slow-part2.yaml"
} >"$SL_CFG"
sl_wait_for 5 eval '[ "$(_n_services)" = 2 ]'
sleep 1 # a late second apply would show up by now
sl_check slow-write-applied-once "generation $gen -> $(sl_generation), applied lines +$(($(grep -c '^applied ' "$SL_RUN_LOG") - n_applied)): $(tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep '^applied ' | tr '\n' ' ')" \
	eval '[ "$(sl_generation)" = "$((gen + 1))" ] &&
		[ "$(grep -c "^applied " "$SL_RUN_LOG")" = "$((n_applied + 1))" ]'
sl_check slow-write-final-status "services $(_n_services), $(sl_state_now); last applied: $(grep '^applied ' "$SL_RUN_LOG" | tail -1)" \
	eval '[ "$(_n_services)" = 2 ] && _sl_weights_are "v1=20 v2=80" &&
		grep "^applied " "$SL_RUN_LOG" | tail -1 | grep -q ", 2 services"'

# Nothing invalid was ever reported.
errs=$(grep -c 'Error' "$SL_RUN_LOG")
sl_check run-log-no-errors "$errs error lines: $(grep 'Error' "$SL_RUN_LOG" | head -2 | tr '\n' ' ')" \
	test "$errs" = 0
sl_check run-still-running "pid $SL_RUN_PID" kill -0 "$SL_RUN_PID"
sl_check_csum
sl_finish
