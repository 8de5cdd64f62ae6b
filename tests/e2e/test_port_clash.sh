#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Port clashes: Linux lets a client use one source port towards two
# destinations, so C:p -> VIP1:80 and C:p -> VIP2:80 can both exist. When
# both VIPs send them to the same backend B:8080, translating only the
# destination would make them one tuple at B. sluice sees the second one's
# tuple taken at its SYN and remaps its source port (counted port_remap),
# as netfilter's NAT does. Here with an explicit bind() of each port for
# both connections, open at the same time; IPv4.
set -uo pipefail
SL_TEST_NAME=port-clash
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

VIP_A=10.96.0.30
VIP_B=10.96.0.31
PAIRS=${SL_CLASH_PAIRS:-10}

sl_topo_up
{
	echo "services:"
	sl_service_yaml alpha "$VIP_A" v2=10.0.2.10
	sl_service_yaml beta "$VIP_B" v2=10.0.2.10
} >"$SL_CFG"
SL_READY_SERVICE=beta sl_run_start "$SL_CFG" c1 || sl_die "sluice run did not attach and apply"

ports=$(seq -s, 41000 $((41000 + PAIRS - 1)))
sl_status "$SL_TMP/s0.json"
sl_nsx client "$SL_PY" "$SL_E2E/node_tools.py" clash --src 10.0.9.2 --ports "$ports" \
	"$VIP_A" "$VIP_B" >"$SL_TMP/clash.json"
sl_status "$SL_TMP/s1.json"
sl_check clash-pairs-complete "$(cat "$SL_TMP/clash.json")" \
	eval '[ "$(sl_jget "$SL_TMP/clash.json" "d[\"ok\"]")" = $((2 * PAIRS)) ] &&
		[ "$(sl_jget "$SL_TMP/clash.json" "d[\"fail\"]")" = 0 ]'
remap=$(sl_dp_delta "$SL_TMP/s0.json" "$SL_TMP/s1.json" port_remap)
sl_check clash-remapped "port_remap +$remap for $PAIRS pairs" test "$remap" = "$PAIRS"

# the other order, on the same ports: the closed connections' tuples are
# free again, and whichever VIP comes second is remapped
sl_nsx client "$SL_PY" "$SL_E2E/node_tools.py" clash --src 10.0.9.2 --ports "$ports" \
	"$VIP_B" "$VIP_A" >"$SL_TMP/clash2.json"
sl_check clash-other-order "$(cat "$SL_TMP/clash2.json")" \
	eval '[ "$(sl_jget "$SL_TMP/clash2.json" "d[\"ok\"]")" = $((2 * PAIRS)) ]'

sl_check_csum
sl_finish
