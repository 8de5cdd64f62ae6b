#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Upgrades lose nothing. Under continuous load (new connections all along,
# and one long download across everything), `sluice run` is replaced by a
# build whose BPF programs differ (build/variant: same sources and maps,
# other compiler flags, so other instructions and another program tag):
#   1. rolling: the old one stops (SIGTERM), the new one starts;
#   2. surge: the old build starts while the new one still runs, then the
#      new one stops;
#   3. crash: the new build is killed with SIGKILL at several points of its
#      start-up, then started for good.
# Each time the filters are replaced in place (program ids and tags change,
# the filter is never absent), every pinned map is the same map (conntrack
# and counters kept), no request fails, and the download finishes intact.
set -uo pipefail
SL_TEST_NAME=upgrade
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

OLD=$SLUICE
NEW=${SLUICE_VARIANT:-$SL_ROOT/build/variant/sluice}
[ -x "$NEW" ] || sl_die "$NEW not built (make test-bins builds it)"
CFG=$SL_CFG
MB=16
RATE=1M # about 16 s: longer than every step below
OUT=$SL_TMP/big.bin
HDR=$SL_TMP/big.hdr

# _prog DIR: "id tag" of our filter on c1's DIR (ingress or egress).
_prog() {
	sl_nsx node tc filter show dev c1 "$1" | awk '
		/handle 0x5c1ce/ { for (i = 1; i < NF; i++) { if ($i == "id") id = $(i + 1); if ($i == "tag") tag = $(i + 1) } }
		END { print id, tag }'
}
_progs() { echo "$(_prog ingress) $(_prog egress)"; }
# _link: "link-id prog-id" of the pinned sk_lookup link (header routing).
_link() {
	bpftool -j link show pinned "$SL_PIN_DIR/sl_l7_lookup_link" 2>/dev/null |
		$SL_PY -c 'import json, sys; d = json.load(sys.stdin); print(d["id"], d["prog_id"])'
}
# _map_ids: the ids of every pinned map, in name order: the same maps or not.
_map_ids() {
	local m
	for m in "$SL_PIN_DIR"/sl_*; do
		case "${m##*/}" in sl_ingress | sl_egress | sl_l7_lookup | sl_l7_lookup_link) continue ;; esac
		bpftool map show pinned "$m" | awk -F: 'NR == 1 {printf "%s=%s ", "'"${m##*/}"'", $1}'
	done
}
_n_running() { grep -c '^running:' "$SL_RUN_LOG"; }

# _start BINARY: start run with BINARY and wait until it is running.
_start() {
	local n
	SL_RUN_LOG=$SL_TMP/run.log
	touch "$SL_RUN_LOG"
	n=$(_n_running)
	SLUICE=$1 sl_run_start "$CFG" c1 && sl_wait_for 10 eval '[ "$(_n_running)" -gt "$n" ]'
}

sl_topo_up
sl_check_hardening
sl_config "$CFG" 80 20
_start "$OLD" || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=80 v2=20" || sl_die "weights never showed 80/20: $(sl_weights_now)"
read -r in0 tag_in_old eg0 tag_eg_old <<<"$(_progs)"
read -r lk0 lp0 <<<"$(_link)"
maps0=$(_map_ids)
[ -n "$maps0" ] || sl_die "no pinned maps in $SL_PIN_DIR to compare across upgrades"
gen0=$(sl_generation)
sl_info "old build: ingress id $in0 tag $tag_in_old, egress id $eg0 tag $tag_eg_old; generation $gen0"

want_sum=$($SL_PY "$SL_E2E/client.py" bigsum "$MB")
sl_bg DL_PID client "$SL_TMP/curl.log" curl -sS --max-time 90 --limit-rate "$RATE" \
	-D "$HDR" -o "$OUT" "http://$SL_VIP4/big?mb=$MB"
_started() { [ "$(stat -c %s "$OUT" 2>/dev/null || echo 0)" -gt $((1 << 20)) ]; }
sl_wait_for 15 _started || sl_die "download did not start: $(cat "$SL_TMP/curl.log")"

sl_status "$SL_TMP/before.json"
sl_bg LOOP_PID client "$SL_TMP/loop.json" timeout 120 "$SL_PY" "$SL_E2E/client.py" loop \
	--host "$SL_VIP4" -c 2 --timeout 5
sleep 1

# 1. Rolling: old out, new in.
sl_run_stop TERM
_start "$NEW" || sl_die "the new build did not start"
read -r in1 tag_in_new eg1 tag_eg_new <<<"$(_progs)"
sl_check rolling-programs-replaced "ingress $in0/$tag_in_old -> $in1/$tag_in_new, egress $eg0/$tag_eg_old -> $eg1/$tag_eg_new" \
	test "$in1" != "$in0" -a "$eg1" != "$eg0" -a "$tag_in_new" != "$tag_in_old" -a "$tag_eg_new" != "$tag_eg_old"
read -r lk1 lp1 <<<"$(_link)"
sl_check rolling-lookup-swapped-in-place "sk_lookup link $lk0 -> $lk1, program $lp0 -> $lp1" \
	test -n "$lk1" -a "$lk1" = "$lk0" -a "$lp1" != "$lp0"
sl_check rolling-maps-kept "$(_map_ids)" test "$(_map_ids)" = "$maps0"
sl_check rolling-config-kept "generation $(sl_generation) (was $gen0), $(sl_weights_now)" \
	eval '[ "$(sl_generation)" = "$gen0" ] && _sl_weights_are "v1=80 v2=20"'
pinned=$(bpftool prog show pinned "$SL_PIN_DIR/sl_ingress" | awk -F: 'NR == 1 {print $1}')
sl_check rolling-pin-is-attached "pinned sl_ingress id $pinned, attached $in1" test "$pinned" = "$in1"
sleep 1

# 2. Surge: the old build starts while the new one runs; then the new one stops.
new_pid=$SL_RUN_PID
SL_PIDS+=("$new_pid")
_start "$OLD" || sl_die "the old build did not start next to the new one"
sl_stop "$new_pid" TERM
read -r in2 tag2 eg2 tag2e <<<"$(_progs)"
sl_check surge-programs-replaced "ingress $in1 -> $in2 tag $tag2, egress $eg1 -> $eg2 tag $tag2e" \
	test "$in2" != "$in1" -a "$tag2" = "$tag_in_old" -a "$tag2e" = "$tag_eg_old"
sl_check surge-maps-kept "" test "$(_map_ids)" = "$maps0"
sleep 1

# 3. Crash: the new build killed at five delays into its start-up, meant to
# land in loading, pinning, attaching and applying (which one each hits is
# not asserted: here the first three come before the new filters), with no
# daemon running in between.
sl_run_stop TERM
for delay in 0.02 0.06 0.12 0.25 0.5; do
	sl_bg pid node "$SL_TMP/run.log" "$NEW" --pin-dir "$SL_PIN_DIR" run --config "$CFG" --iface c1
	sleep "$delay"
	sl_stop "$pid" KILL 5 2>/dev/null # no "Killed" job notice
	sl_info "new build killed with SIGKILL ${delay} s after it started: $(_progs)"
	sl_filters_present c1 || sl_fail crash-filters-present "none on c1 after a kill at ${delay} s"
done
sl_check crash-datapath-intact "filters on c1: $(_progs)" sl_filters_present c1
sl_check crash-maps-kept "" test "$(_map_ids)" = "$maps0"
_start "$NEW" || sl_die "the new build did not start after the crashes"
read -r in3 tag3 eg3 tag3e <<<"$(_progs)"
sl_check crash-then-upgraded "ingress $in3 tag $tag3, egress $eg3 tag $tag3e" \
	test "$tag3" = "$tag_in_new" -a "$tag3e" = "$tag_eg_new"
sl_check crash-config-kept "generation $(sl_generation) (was $gen0), $(sl_weights_now)" \
	eval '[ "$(sl_generation)" = "$gen0" ] && _sl_weights_are "v1=80 v2=20"'
sleep 1

sl_stop "$LOOP_PID" TERM 15
sl_status "$SL_TMP/after.json"
sl_check_no_failures no-failed-requests "$SL_TMP/loop.json" 201
sl_check_counters counters-kept-across-upgrades "$SL_TMP/before.json" "$SL_TMP/after.json" \
	"$SL_TMP/loop.json" connections_opened

sl_reap "$DL_PID" 60
rc=$?
got_sum=$(sha256sum "$OUT" | cut -d' ' -f1)
backend=$(tr -d '\r' <"$HDR" | awk -F': ' 'tolower($1) == "x-backend" {print $2}')
sl_check download-across-upgrades "curl exit $rc, from $backend, sha256 ${got_sum:0:16}... want ${want_sum:0:16}..." \
	test "$rc" = 0 -a "$got_sum" = "$want_sum"

sl_run_stop TERM
sl_check_csum
sl_finish
