#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A connection keeps its backend for its whole life: a long download that
# started on v1 finishes intact from v1 after the weights flip to 0/100,
# while new connections already go to v2.
set -uo pipefail
SL_TEST_NAME=download
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

MB=${SL_DOWNLOAD_MB:-24}
RATE=2M # about 12 s for 24 MiB: room for the steps before the last check
CFG=$SL_CFG
OUT=$SL_TMP/big.bin
HDR=$SL_TMP/big.hdr

sl_topo_up
sl_check_hardening
sl_config "$CFG" 100 0
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=100 v2=0" || sl_die "weights never showed 100/0: $(sl_weights_now)"

want_sum=$($SL_PY "$SL_E2E/client.py" bigsum "$MB")
sl_bg DL_PID client "$SL_TMP/curl.log" curl -sS --max-time 90 --limit-rate "$RATE" \
	-D "$HDR" -o "$OUT" "http://$SL_VIP4/big?mb=$MB"

_size() { stat -c %s "$OUT" 2>/dev/null || echo 0; }
_started() { [ "$(_size)" -gt $((2 << 20)) ]; }
sl_wait_for 15 _started || sl_die "download did not start: $(cat "$SL_TMP/curl.log")"

sl_config_swap "$CFG" 0 100
sl_wait_weights "v1=0 v2=100"
flip_size=$(_size)
sl_check flip-applied-mid-download \
	"status $(sl_weights_now) with $((flip_size >> 20)) of $MB MiB downloaded" \
	test "$(sl_weights_now)" = "v1=0 v2=100" -a "$flip_size" -lt $((MB << 20))

sl_burst client "$SL_VIP4" 200 "$SL_TMP/during.json"
sl_check_split new-connections-go-to-v2 "$SL_TMP/during.json" v2 100 0
sl_check download-still-running "$(( $(_size) >> 20 )) MiB so far" kill -0 "$DL_PID"

sl_reap "$DL_PID" 90
rc=$?
got_size=$(_size)
got_sum=$(sha256sum "$OUT" | cut -d' ' -f1)
backend=$(tr -d '\r' <"$HDR" | awk -F': ' 'tolower($1) == "x-backend" {print $2}')
sl_check download-complete "curl exit $rc, $got_size bytes of $((MB << 20)) $(head -c 200 "$SL_TMP/curl.log")" \
	test "$rc" = 0 -a "$got_size" = $((MB << 20))
sl_check download-intact "sha256 $got_sum, want $want_sum" test "$got_sum" = "$want_sum"
sl_check download-from-v1 "X-Backend: $backend" test "$backend" = v1a -o "$backend" = v1b

sl_status "$SL_TMP/status.json"
sl_info "status counters:"
$SL_PY "$SL_E2E/jtool.py" table "$SL_TMP/status.json"
v1_out=$($SL_PY "$SL_E2E/jtool.py" counter "$SL_TMP/status.json" backend v1 bytes_out)
sl_check download-counted-on-v1 "v1 bytes_out $v1_out >= $((MB << 20))" test "$v1_out" -ge $((MB << 20))
sl_check_csum
sl_finish
