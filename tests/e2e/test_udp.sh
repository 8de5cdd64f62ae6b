#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# UDP through the VIP (port 53 -> backends' echo on 5353), IPv4 and IPv6:
# every datagram is answered, the answer comes from the VIP address and port
# (reverse NAT), and no receiver counts a UDP checksum error.
set -uo pipefail
SL_TEST_NAME=udp
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

N=${SL_UDP_N:-400}
CFG=$SL_CFG

sl_topo_up
sl_check_hardening
sl_config "$CFG" 50 50
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=50 v2=50" || sl_die "weights never showed 50/50: $(sl_weights_now)"

for vip in "$SL_VIP4" "$SL_VIP6"; do
	fam=v4
	[ "$vip" = "$SL_VIP6" ] && fam=v6
	sl_status "$SL_TMP/before.json"
	sl_nsx client timeout 120 "$SL_PY" "$SL_E2E/client.py" udp --host "$vip" --port 53 \
		-n "$N" --timeout 2 >"$SL_TMP/udp-$fam.json"
	sl_status "$SL_TMP/after.json"
	r=$SL_TMP/udp-$fam.json
	sl_check "udp-$fam-replies-from-vip" \
		"$(sl_counts "$r"), bad source $(sl_jget "$r" 'd["bad_source"]'); $(sl_jget "$r" 'd["first_errors"][:3]')" \
		test "$(sl_jget "$r" 'd["ok"]')" = "$N" -a "$(sl_jget "$r" 'd["bad_source"]')" = 0
	# sd of a 50% share at 400 flows is 2.5 points: 15 points is 6 sd.
	sl_check_split "udp-$fam-split" "$r" v2 50 15
	sl_check_counters "udp-$fam-flows-counted" "$SL_TMP/before.json" "$SL_TMP/after.json" \
		"$r" connections_opened
done

sl_check_csum
sl_finish
