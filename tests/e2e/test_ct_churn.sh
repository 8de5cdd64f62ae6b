#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Conntrack churn: an idle connection (a POST stopped half-way through its
# body) must outlive more new connections than the table holds. With
# --ct-max 64, 400 short connections go through while it idles: confirmed
# connections live in a hash map that never evicts (new ones that find it
# full stay unconfirmed, counted ct_full, and still work), and closed
# entries are reclaimed after --ct-closed-timeout. Then the idle connection
# sends the rest of its body and gets the right answer from the backend it
# started on. A mid-stream packet of a tuple sluice does not know is left
# alone (ct_miss), never sent to a freshly picked backend.
set -uo pipefail
SL_TEST_NAME=ct-churn
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

CT_MAX=64
N=${SL_CHURN_N:-400}

entries() { sl_status "$SL_TMP/e.json" && sl_jget "$SL_TMP/e.json" 'd["conntrack_entries"]'; }
few_entries() { [ "$(entries)" -le 2 ]; }

sl_topo_up
sl_config "$SL_CFG" 50 50
sl_run_start "$SL_CFG" c1 -- --ct-max "$CT_MAX" --ct-closed-timeout 1 ||
	sl_die "sluice run did not start"
sl_status "$SL_TMP/s0.json"
sl_check ct-max-applied "max_entries of sl_conntrack: $(sl_nsx node bpftool -j map show pinned "$SL_PIN_DIR/sl_conntrack" | sl_jget /dev/stdin 'd["max_entries"]')" \
	eval '[ "$(sl_nsx node bpftool -j map show pinned "$SL_PIN_DIR/sl_conntrack" | sl_jget /dev/stdin "d[\"max_entries\"]")" = $CT_MAX ]'

sl_bg idle client "$SL_TMP/idle.json" "$SL_PY" "$SL_E2E/node_tools.py" slowpost \
	--host "$SL_VIP4" --bytes 200000 --wait "$SL_TMP/go"
sleep 1
sl_burst client "$SL_VIP4" "$N" "$SL_TMP/churn.json" 8
sl_status "$SL_TMP/s1.json"
sl_check churn-requests-served "$(sl_counts "$SL_TMP/churn.json")" \
	eval '[ "$(sl_jget "$SL_TMP/churn.json" "d[\"fail\"]")" = 0 ] &&
		[ "$(sl_jget "$SL_TMP/churn.json" "d[\"ok\"]")" = $N ]'
full=$(sl_dp_delta "$SL_TMP/s0.json" "$SL_TMP/s1.json" ct_full)
conf=$(sl_dp_delta "$SL_TMP/s0.json" "$SL_TMP/s1.json" ct_confirmed)
sl_check churn-overran-the-table "ct_confirmed +$conf, ct_full +$full, $N connections through a table of $CT_MAX" \
	test "$((conf + full))" -ge "$N" -a "$full" -gt 0

sl_check closed-entries-reclaimed "conntrack entries now $(sl_wait_for 15 few_entries; entries) (the idle one remains)" \
	few_entries

touch "$SL_TMP/go"
sl_reap "$idle" 20
sl_check idle-connection-survives "$(cat "$SL_TMP/idle.json")" \
	eval '[ "$(sl_jget "$SL_TMP/idle.json" "d[\"sha_ok\"]")" = True ]'

# reclaimed room is used again
sl_status "$SL_TMP/s2.json"
sl_burst client "$SL_VIP4" 50 "$SL_TMP/again.json" 4
sl_status "$SL_TMP/s3.json"
conf=$(sl_dp_delta "$SL_TMP/s2.json" "$SL_TMP/s3.json" ct_confirmed)
sl_check room-reused "$(sl_counts "$SL_TMP/again.json"), ct_confirmed +$conf" \
	test "$(sl_jget "$SL_TMP/again.json" 'd["fail"]')" = 0 -a "$conf" -gt 0

# an ACK of no known connection, from the client's own address
sl_nsx client "$SL_PY" "$SL_E2E/node_tools.py" raw --src 10.0.9.2 --sport 43210 \
	--dst "$SL_VIP4" --flags A --count 3 >/dev/null
sl_status "$SL_TMP/s4.json"
miss=$(sl_dp_delta "$SL_TMP/s3.json" "$SL_TMP/s4.json" ct_miss)
newc=$(sl_dp_delta "$SL_TMP/s3.json" "$SL_TMP/s4.json" new_conn)
sl_check unknown-ack-left-alone "ct_miss +$miss, new_conn +$newc for 3 ACKs" \
	test "$miss" = 3 -a "$newc" = 0

sl_check_csum
sl_finish
