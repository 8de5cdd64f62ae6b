#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A good neighbour on TC and in the routing rules: sluice shares the node
# with other tools' filters and marks.
#  - A packet sluice leaves untouched returns TC_ACT_UNSPEC, so a classic
#    cls_bpf filter after ours still runs (here: next_filter.bpf.c, which
#    drops the client's direct traffic to one backend); a packet sluice
#    translated ends the chain (TC_ACT_OK), as Cilium's do.
#  - The L7 step's fwmark and routing table are set with --l7-mark and
#    --l7-table (other tools own other bits: Calico's default mask is
#    0xffff0000, kube-proxy uses 0x4000 and 0x8000); `status` and `down`
#    find them without being told.
set -uo pipefail
SL_TEST_NAME=tc-neighbour
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

MARK=0x200
MASK=0xf00
TABLE=2001
HDR='canary: canary-tester'

_ready() {
	sl_filters_present c1 && sl_status "$SL_TMP/r.json" &&
		[ "$(sl_jget "$SL_TMP/r.json" 'd["l7"]["listening"]["ipv4"]')" = True ] &&
		[ "$(sl_nsx client curl -s --max-time 2 -H "$HDR" "http://$SL_VIP4/")" = v2 ]
}

sl_topo_up
SL_CFG_HEADER_ROUTE=1 sl_config "$SL_CFG" 100 0
SL_RUN_LOG=$SL_TMP/run.log
sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run --config "$SL_CFG" \
	--iface c1 --l7-mark "$MARK/$MASK" --l7-table "$TABLE"
sl_wait_for 20 _ready || sl_die "sluice run with --l7-mark $MARK/$MASK --l7-table $TABLE"

rules=$(sl_nsx node ip rule show pref 92)
sl_check rule-uses-configured-mark "$rules" \
	eval 'grep -q "fwmark $MARK/$MASK lookup $TABLE" <<<"$rules"'
sl_check local-route-in-configured-table "$(sl_nsx node ip route show table "$TABLE")" \
	eval 'sl_nsx node ip route show table "$TABLE" | grep -q "^local default dev lo"'
sl_status "$SL_TMP/s.json"
sl_check status-finds-route "$(sl_jget "$SL_TMP/s.json" 'd["l7"]["policy_route"]')" \
	eval '[ "$(sl_jget "$SL_TMP/s.json" "all(d[\"l7\"][\"policy_route\"].values())")" = True ]'
sl_burst client "$SL_VIP4" 40 "$SL_TMP/hdr.json" 4 # no header: all v1
sl_check l7-with-configured-mark "$(sl_counts "$SL_TMP/hdr.json")" \
	eval '[ "$(sl_jget "$SL_TMP/hdr.json" "d[\"fail\"]")" = 0 ] &&
		[ "$(sl_jget "$SL_TMP/hdr.json" "fold(d).get(\"v1\", 0)")" = 40 ]'

# another tool's filter after ours: drops the client's direct traffic to v1b.
# tc makes its pin directories (tc/globals, and ip and xdp linking to it) in
# the host's bpffs when it loads an object: remove them if they are new
[ -e /sys/fs/bpf/tc ] ||
	sl_on_exit 'rmdir /sys/fs/bpf/tc/globals /sys/fs/bpf/tc 2>/dev/null; rm -f /sys/fs/bpf/ip /sys/fs/bpf/xdp'
sl_nsx node tc filter add dev c1 ingress prio 100 bpf da obj "$SL_ROOT/build/next_filter.bpf.o" \
	sec tc || sl_die "the next filter (make test-bins builds build/next_filter.bpf.o)"
direct=$(sl_nsx client curl -s --max-time 2 "http://10.0.1.11:8080/")
sl_check untouched-packets-reach-next-filter "direct GET v1b: '${direct}' (the next filter dropped it)" \
	test -z "$direct"
SL_CFG_HEADER_ROUTE= sl_config_swap "$SL_CFG" 100 0
_no_l7() { [ "$(sl_nsx client curl -s --max-time 2 -H "$HDR" "http://$SL_VIP4/")" != v2 ]; }
sl_wait_for 10 _no_l7 || sl_die "header route never went away"
sl_burst client "$SL_VIP4" 60 "$SL_TMP/dnat.json" 4
sl_check translated-packets-end-the-chain "to the VIP, v1 = v1a + v1b: $(sl_jget "$SL_TMP/dnat.json" 'd["by_backend"]')" \
	eval '[ "$(sl_jget "$SL_TMP/dnat.json" "d[\"fail\"]")" = 0 ] &&
		[ "$(sl_jget "$SL_TMP/dnat.json" "d[\"by_backend\"].get(\"v1b\", 0)")" -gt 5 ]'
sl_nsx node tc filter del dev c1 ingress prio 100

sl_run_stop
sl_sluice down >/dev/null 2>&1
sl_check down-removes-configured-rule "rules at pref 92 after down: '$(sl_nsx node ip rule show pref 92)'" \
	eval '[ -z "$(sl_nsx node ip rule show pref 92)" ] && [ -z "$(sl_nsx node ip route show table "$TABLE")" ]'

bad=$(sl_sluice run --config "$SL_CFG" --iface c1 --l7-mark 0x300/0x100 2>&1)
sl_check bad-mark-rejected "$bad" eval 'grep -q "outside its mask" <<<"$bad"'
bad=$(sl_sluice run --config "$SL_CFG" --iface c1 --l7-table 254 2>&1)
sl_check kernel-table-rejected "$bad" eval 'grep -q "kernel" <<<"$bad"'
sl_finish
