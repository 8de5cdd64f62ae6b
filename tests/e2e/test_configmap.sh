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

_overridden() {
	local f="$SL_TMP/status.ovr.json"
	sl_status "$f" && [ "$(sl_jget "$f" '[s["overridden"] for s in d["services"] if s["name"] == "backend"][0]')" = "$1" ]
}

# _state WEIGHTS OVERRIDDEN: both at once, from one status.
_state() { _sl_weights_are "$1" && _overridden "$2"; }

_state_now() {
	local f="$SL_TMP/status.state.json"
	sl_status "$f" &&
		echo "$($SL_PY "$SL_E2E/jtool.py" weights "$f" backend)" \
			"overridden=$(sl_jget "$f" '[s["overridden"] for s in d["services"] if s["name"] == "backend"][0]')" \
			"generation=$(sl_jget "$f" 'd["generation"]')"
}

_generation() {
	local f="$SL_TMP/status.gen.json"
	sl_status "$f" && sl_jget "$f" 'd["generation"]'
}

sl_topo_up
cm_init 90 10
sl_check configmap-layout "$(find "$CM" -mindepth 1 -maxdepth 1 -printf '%f -> %l; ' | sed 's/ -> ;/;/g')" \
	_cm_layout_ok
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply $CFG"
sl_check configmap-initial-90-10 "status: $(sl_wait_weights "v1=90 v2=10"; _state_now)" \
	_state "v1=90 v2=10" False

# 1. ..data swaps: 50/50, then 0/100.
cm_update 50 50
sl_check configmap-swap-layout "..data -> $(readlink "$CM/..data")" _cm_layout_ok
sl_check configmap-swap-50-50 "status: $(sl_wait_weights "v1=50 v2=50"; _state_now)" \
	_sl_weights_are "v1=50 v2=50"

cm_update 0 100
sl_check configmap-swap-0-100 "status: $(sl_wait_weights "v1=0 v2=100"; _state_now)" \
	_sl_weights_are "v1=0 v2=100"
sl_burst client "$SL_VIP4" "$N_ALL" "$SL_TMP/b-0-100.json"
sl_check_split configmap-swap-0-100-traffic "$SL_TMP/b-0-100.json" v2 100 0

# 2. An override by `sluice weights` survives unrelated changes in the
# volume directory; SIGHUP re-applies the file and clears it.
out=$(sl_sluice weights backend v1=0 v2=1 2>&1)
rc=$?
sl_check override-set "exit $rc: $out; status $(_state_now)" \
	eval '[ "$rc" = 0 ] && _state "v1=0 v2=1" True'
gen=$(_generation)
touch "$CM/unrelated"
echo scratch >"$CM/.sluice.yaml.swp"
touch "$CM/$CM_CUR/sluice.yaml" # IN_ATTRIB on the file itself, content unchanged
sleep 1                         # the watcher debounces for 100 ms
rm -f "$CM/.sluice.yaml.swp"
sleep 0.5
sl_check override-survives-unrelated-changes "status $(_state_now), generation before $gen" \
	eval '_state "v1=0 v2=1" True && [ "$(_generation)" = "$gen" ]'

from=$(wc -l <"$SL_RUN_LOG")
kill -HUP "$SL_RUN_PID"
sl_wait_for 10 _state "v1=0 v2=100" False
sl_check sighup-restores-file-weights "status $(_state_now)" _state "v1=0 v2=100" False
sl_check sighup-logged "$(tail -n +"$((from + 1))" "$SL_RUN_LOG" | head -3 | tr '\n' ' ')" \
	eval 'tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -q "SIGHUP"'
sl_check sighup-run-alive "pid $SL_RUN_PID" kill -0 "$SL_RUN_PID"

# An override, then a ConfigMap update: the file wins again.
sl_sluice weights backend v1=1 v2=0 >/dev/null 2>&1
sl_wait_for 5 _state "v1=1 v2=0" True
cm_update 50 50
sl_wait_for 10 _state "v1=50 v2=50" False
sl_check configmap-swap-clears-override "status $(_state_now)" _state "v1=50 v2=50" False

# 3. The file rewritten in place (truncate + write, IN_CLOSE_WRITE, no
# rename). Through the symlinks this writes into the version directory the
# last swap created: the watch must have followed ..data there.
sl_config "$SL_TMP/inplace.yaml" 0 100
cat "$SL_TMP/inplace.yaml" >"$CFG"
sl_check inplace-write-0-100 "status: $(sl_wait_weights "v1=0 v2=100"; _state_now)" \
	_sl_weights_are "v1=0 v2=100"
sl_burst client "$SL_VIP4" "$N_ALL" "$SL_TMP/b-inplace.json"
sl_check_split inplace-write-0-100-traffic "$SL_TMP/b-inplace.json" v2 100 0

# ... and a swap after the in-place write still works.
cm_update 90 10
sl_check configmap-swap-after-inplace "status: $(sl_wait_weights "v1=90 v2=10"; _state_now)" \
	_sl_weights_are "v1=90 v2=10"

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
sl_check inplace-write-plain-file "status: $(sl_wait_weights "v1=50 v2=50"; _state_now)" \
	_sl_weights_are "v1=50 v2=50"

# Nothing invalid was ever reported.
errs=$(grep -c 'Error' "$SL_RUN_LOG")
sl_check run-log-no-errors "$errs error lines: $(grep 'Error' "$SL_RUN_LOG" | head -2 | tr '\n' ' ')" \
	test "$errs" = 0
sl_check run-still-running "pid $SL_RUN_PID" kill -0 "$SL_RUN_PID"
sl_check_csum
sl_finish
