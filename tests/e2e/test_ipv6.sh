#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The 90/10 split over IPv6 (VIP fd00::10 to fd00:1::/fd00:2:: backends),
# counters exact, checksums intact.
set -uo pipefail
SL_TEST_NAME=ipv6
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

# The brief asks for a smaller run than IPv4; over 3000 connections the sd of
# a 10% share is 0.55 points (30/sqrt(N)), so 2.5 points is 4.6 sd.
N=${SL_V6_N:-3000}
CFG=$SL_CFG

sl_topo_up
sl_check_hardening
sl_config "$CFG" 90 10
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=90 v2=10" || sl_die "weights never showed 90/10: $(sl_weights_now)"

sl_status "$SL_TMP/before.json"
sl_burst client "$SL_VIP6" "$N" "$SL_TMP/burst.json"
sl_status "$SL_TMP/after.json"
sl_check_split ipv6-split-90-10 "$SL_TMP/burst.json" v2 10 2.5
sl_check_counters ipv6-counters-opened "$SL_TMP/before.json" "$SL_TMP/after.json" \
	"$SL_TMP/burst.json" connections_opened

sl_check_closed ipv6-counters-closed "$SL_TMP/before.json" "$SL_TMP/after.json" \
	"$SL_TMP/burst.json"

out=$(sl_nsx client curl -s -6 --max-time 5 -D - "http://[$SL_VIP6]/" | tr -d '\r')
sl_check ipv6-curl "$(echo "$out" | grep -i '^x-backend' | tr '\n' ' ')" \
	eval 'grep -Eiq "^x-backend: v(1a|1b|2)$" <<<"$out"'

sl_check_csum
sl_finish
