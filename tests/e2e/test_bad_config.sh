#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A broken config written while traffic flows changes nothing: the running
# weights stay, no request fails, and `sluice run` logs an error naming
# FILE:LINE:COL. The next good config is applied as usual.
set -uo pipefail
SL_TEST_NAME=badcfg
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

CFG=$SL_CFG
BASE=$(basename "$CFG")

sl_topo_up
sl_check_hardening
sl_config "$CFG" 90 10
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=90 v2=10" || sl_die "weights never showed 90/10: $(sl_weights_now)"

sl_bg LOOP_PID client "$SL_TMP/loop.json" timeout 120 "$SL_PY" "$SL_E2E/client.py" loop \
	--host "$SL_VIP4" -c 2 --timeout 5
sleep 0.5

# _new_log_error FROM_LINE PATTERN: a line after FROM_LINE of the run log
# matches PATTERN (extended regex).
_new_log_error() { tail -n +"$(($1 + 1))" "$SL_RUN_LOG" | grep -Ec "$2" >/dev/null; }

# bad_case NAME WANT_LINE: $CFG.bad is swapped in; expect an error naming
# the file (and WANT_LINE, if given), then unchanged weights.
bad_case() {
	local name=$1 want_line=$2 from pat msg
	from=$(wc -l <"$SL_RUN_LOG")
	pat="$BASE:${want_line:-[0-9]+}:[0-9]+"
	mv -f "$CFG.bad" "$CFG"
	sl_wait_for 10 _new_log_error "$from" "$pat"
	msg=$(tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -E "$BASE:[0-9]+:[0-9]+" | head -2 | tr '\n' ' ')
	sl_check "$name-logged" "want /$pat/, log: ${msg:-$(tail -n +"$((from + 1))" "$SL_RUN_LOG" | head -3 | tr '\n' ' ')}" \
		_new_log_error "$from" "$pat"
	# Other files changing next to the config (an editor's swap file, a
	# log) must not make `run` re-report the same broken file.
	echo scratch >"$(dirname "$CFG")/.sluice.yaml.swp"
	sleep 1
	rm -f "$(dirname "$CFG")/.sluice.yaml.swp"
	sleep 0.5
	n=$(tail -n +"$((from + 1))" "$SL_RUN_LOG" | grep -Ec "$pat")
	sl_check "$name-logged-once" "$n error lines for one bad write" test "$n" -le 2
	sl_check "$name-weights-unchanged" "status $(sl_weights_now)" _sl_weights_are "v1=90 v2=10"
	sl_check "$name-run-alive" "pid $SL_RUN_PID" kill -0 "$SL_RUN_PID"
}

# 1. Not YAML at all: an unterminated flow sequence.
sl_config "$CFG.bad" 50 50
sed -i 's/^\(    vips: \[.*\)\]$/\1/' "$CFG.bad"
cp "$CFG.bad" "$SL_TMP/broken-yaml.yaml"
bad_case broken-yaml ""

# 2. Valid YAML, invalid config: the split names a subset that does not exist.
sl_config "$CFG.bad" 50 50
sed -i 's/^\(      - split: {v1: 50, \)v2: 50}$/\1v9: 50}/' "$CFG.bad"
line=$(grep -n 'v9' "$CFG.bad" | cut -d: -f1)
cp "$CFG.bad" "$SL_TMP/unknown-subset.yaml"
bad_case unknown-subset "$line"

# 3. `sluice check` and `sluice apply` refuse the same files, exit 1.
for f in broken-yaml unknown-subset; do
	out=$(sl_sluice check --config "$SL_TMP/$f.yaml" 2>&1)
	rc=$?
	sl_check "check-$f" "exit $rc: $(echo "$out" | head -2 | tr '\n' ' ')" \
		eval '[ "$rc" = 1 ] && grep -Eq "$f.yaml:[0-9]+:[0-9]+: error" <<<"$out"'
	out=$(sl_sluice apply --config "$SL_TMP/$f.yaml" 2>&1)
	rc=$?
	sl_check "apply-$f" "exit $rc, status $(sl_weights_now)" \
		eval '[ "$rc" = 1 ] && _sl_weights_are "v1=90 v2=10"'
done

# 4. The watcher still works: a good config is applied.
sl_config_swap "$CFG" 50 50
sl_check good-config-after-bad "status $(sl_wait_weights "v1=50 v2=50"; sl_weights_now)" \
	_sl_weights_are "v1=50 v2=50"
sleep 0.5

sl_stop "$LOOP_PID" TERM 15
sl_check_no_failures no-failed-requests "$SL_TMP/loop.json" 101

sl_check_csum
sl_finish
