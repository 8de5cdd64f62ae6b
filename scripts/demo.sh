#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The canary walk, live: a client sends new connections to a VIP while the
# backend's v2 goes 10% -> 50% -> 100% by editing the config file under a
# running `sluice run`; at 90/10 a header route is added for a while, and a
# tester with `canary: canary-tester` reaches v2 every time (header routing,
# through the L7 step) while everyone else keeps the split. Builds its own network namespaces and removes them
# when done (also on Ctrl-C). Run with `sudo make demo`.
#
#   DEMO_N=1000   connections per step
set -uo pipefail
SL_TEST_NAME=demo
# shellcheck source=scripts/netns-lib.sh
. "$(dirname "$0")/netns-lib.sh"

N=${DEMO_N:-1000}
CFG=$SL_CFG

if [ -t 1 ]; then B=$'\e[1m' R=$'\e[0m'; else B='' R=''; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$R"; }

# bars FILE: the client's view, one bar per subset.
bars() {
	$SL_PY - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
fold = {}
for name, n in d["by_backend"].items():
    s = name.rstrip("abcdefgh")
    fold[s] = fold.get(s, 0) + n
ok = sum(fold.values()) or 1
for s in ("v1", "v2"):
    n = fold.get(s, 0)
    print("    %-3s %-50s %5d  %5.1f%%" % (s, "#" * round(50 * n / ok), n, 100.0 * n / ok))
detail = ", ".join("%s %d" % kv for kv in sorted(d["by_backend"].items()))
print("    (%d connections in %.1f s, %d failed; per backend: %s)"
      % (d["total"], d["seconds"], d["fail"], detail))
PY
}

# step W1 W2: wait for the weights, send N connections, show both views.
step() {
	local w1=$1 w2=$2
	if ! sl_wait_weights "v1=$w1 v2=$w2"; then
		echo "sluice did not apply $w1/$w2 (status: $(sl_weights_now)); run log:"
		tail -n 5 "$SL_RUN_LOG"
		exit 1
	fi
	echo "    sluice status: weights $(sl_weights_now)"
	sl_status "$SL_TMP/before.json"
	sl_burst client "$SL_VIP4" "$N" "$SL_TMP/burst.json" 4
	sl_status "$SL_TMP/after.json"
	echo
	echo "  what the client saw ($N new connections to $SL_VIP4:80):"
	bars "$SL_TMP/burst.json"
	echo
	echo "  what sluice counted (sluice -j status, this step only):"
	$SL_PY "$SL_E2E/jtool.py" table "$SL_TMP/after.json" "$SL_TMP/before.json"
}

say "Setting up network namespaces (prefix $SL_ID-)"
sl_topo_up
cat <<EOF2
    client 10.0.9.2 --c1-- node --+-- v1a 10.0.1.10:8080  \\ subset v1
                                  +-- v1b 10.0.1.11:8080  /
                                  +-- v2  10.0.2.10:8080    subset v2
    VIP $SL_VIP4:80 (and [$SL_VIP6]:80): no route on the node; sluice
    on c1 picks a subset per new connection. The node drops conntrack-INVALID
    packets and has strict rp_filter, like a Kubernetes node.
EOF2

say "Starting sluice run on the node (90/10)"
sl_config "$CFG" 90 10
sed -n '/^services:/,$p' "$CFG" | sed 's/^/    /'
sl_run_start "$CFG" c1 || { echo "sluice run failed to start:"; tail -n 20 "$SL_RUN_LOG"; exit 1; }
sed 's/^/    run: /' "$SL_RUN_LOG" | grep -v -- '---'
step 90 10

say "Adding a header route: 'canary: canary-tester' -> v2 (the L7 step decides)"
gen=$(sl_generation)
SL_CFG_HEADER_ROUTE=1 sl_config_swap "$CFG" 90 10
sl_wait_for 10 eval '[ "$(sl_generation)" != "$gen" ]'
sed -n '/routes:/,/split: {v2: 100}/p' "$CFG" | head -3 | sed 's/^/    /'
sl_nsx client "$SL_PY" "$SL_E2E/client.py" burst --host "$SL_VIP4" -n 200 -c 4 \
	-H 'canary: canary-tester' >"$SL_TMP/tester.json"
echo "  what the tester saw (200 new connections, each with the header):"
bars "$SL_TMP/tester.json"
sl_burst client "$SL_VIP4" "$N" "$SL_TMP/burst.json" 4
echo "  everyone else meanwhile ($N new connections, no header):"
bars "$SL_TMP/burst.json"
sl_sluice status | sed -n '/^l7/,$p' | sed 's/^/    /'

say "Editing the config: 50/50, header route gone (write a temp file, rename it over)"
sl_config_swap "$CFG" 50 50
step 50 50

say "Editing the config: 0/100 (v2 takes everything)"
sl_config_swap "$CFG" 0 100
step 0 100

say "sluice status"
sl_sluice status | sed 's/^/    /'

say "Stopping sluice run and cleaning up"
sl_run_stop TERM
sed -n '/applied.*generation [23]/,$p' "$SL_RUN_LOG" | sed 's/^/    run: /'
echo "    (datapath detached and pins removed with sluice down; namespaces deleted)"
sl_sluice down >/dev/null 2>&1
