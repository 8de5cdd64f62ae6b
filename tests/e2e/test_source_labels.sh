#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Routes by caller identity: the labelled frontend v2 workload (client2,
# 10.0.3.10 / fd00:3::10) always reaches v2, while another client on another
# interface gets the weighted 90/10 split.
set -uo pipefail
SL_TEST_NAME=labels
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

N=${SL_LABELS_N:-1500}
CFG=$SL_CFG

sl_topo_up client2
sl_check_hardening
sl_config "$CFG" 90 10
sl_run_start "$CFG" c1 c2 || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=90 v2=10" || sl_die "weights never showed 90/10: $(sl_weights_now)"

sl_status "$SL_TMP/before.json"
sl_burst client2 "$SL_VIP4" 200 "$SL_TMP/labelled.json"
sl_check_split labelled-client-v4-only-v2 "$SL_TMP/labelled.json" v2 100 0
sl_burst client2 "$SL_VIP6" 200 "$SL_TMP/labelled6.json"
sl_check_split labelled-client-v6-only-v2 "$SL_TMP/labelled6.json" v2 100 0

# sd of the v2 share at 1500 connections is 0.77 points: 3.5 points is 4.5 sd.
sl_burst client "$SL_VIP4" "$N" "$SL_TMP/other.json"
sl_check_split other-client-weighted "$SL_TMP/other.json" v2 10 3.5
sl_status "$SL_TMP/after.json"

# Counters add up over both clients.
$SL_PY - "$SL_TMP/labelled.json" "$SL_TMP/labelled6.json" "$SL_TMP/other.json" \
	>"$SL_TMP/all.json" <<'PY'
import json, sys
tot = {"ok": 0, "fail": 0, "by_backend": {}}
for p in sys.argv[1:]:
    d = json.load(open(p))
    tot["ok"] += d["ok"]
    tot["fail"] += d["fail"]
    for k, v in d["by_backend"].items():
        tot["by_backend"][k] = tot["by_backend"].get(k, 0) + v
print(json.dumps(tot))
PY
sl_check_counters counters-opened "$SL_TMP/before.json" "$SL_TMP/after.json" \
	"$SL_TMP/all.json" connections_opened

sl_check_csum
sl_finish
