#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# What sl_l7_lookup (sk_lookup) costs the node's other connections: with
# kernel.bpf_stats_enabled, run_time_ns / run_cnt of the program over
# 3,000 new connections to a server on the node itself (no VIP), then over
# 2,000 connections it hands to the L7 listener. Network namespaces of its
# own; docs/l7.md quotes it.
#
#   scripts/bench/l7_lookup_cost.sh [RUNS]
set -uo pipefail
SL_TEST_NAME=lookupcost
# shellcheck source=scripts/netns-lib.sh
. "$(dirname "$0")/../netns-lib.sh"

RUNS=${1:-3}
DIR=$SL_TMP/istio
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_was"; sl_cleanup' EXIT

sl_topo_up
mkdir -p "$DIR"
cp "$SL_ROOT"/examples/istio/*.yaml "$DIR/"
SL_RUN_LOG=$SL_TMP/run.log
sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run --config "$DIR" --iface c1
_up() { bpftool prog show pinned "$SL_PIN_DIR/sl_l7_lookup" >/dev/null 2>&1 && sl_filters_present c1; }
sl_wait_for 20 _up || sl_die "sluice run did not start"
sl_bg srv node "$SL_TMP/srv.log" "$SL_PY" "$SL_E2E/backend.py" nodelocal --http-port 9000 --udp-port 0
sl_wait_for 10 sl_nsx node curl -sf http://10.0.9.1:9000/ || sl_die "node-local server"
sysctl -qw kernel.bpf_stats_enabled=1

# ns cnt: the program's accumulated run time and run count
stats() { bpftool -j prog show pinned "$SL_PIN_DIR/sl_l7_lookup" |
	$SL_PY -c 'import json, sys; d = json.load(sys.stdin); print(d.get("run_time_ns", 0), d.get("run_cnt", 0))'; }

printf '| run | node-local connection, ns | handed to the L7 listener, ns |\n|---:|---:|---:|\n'
for r in $(seq "$RUNS"); do
	read -r t0 c0 <<<"$(stats)"
	sl_nsx client "$SL_PY" "$SL_E2E/client.py" burst --host 10.0.9.1 --port 9000 -n 3000 -c 4 >/dev/null
	read -r t1 c1 <<<"$(stats)"
	sl_nsx client "$SL_PY" "$SL_E2E/client.py" burst --host "$SL_VIP4" -n 2000 -c 4 \
		-H 'canary: canary-tester' >/dev/null
	read -r t2 c2 <<<"$(stats)"
	printf '| %d | %d | %d |\n' "$r" $(((t1 - t0) / (c1 - c0))) $(((t2 - t1) / (c2 - c1)))
done
