#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Pods that lie about their source address. TC ingress runs before the
# node's rp_filter, so a forged packet reaches every map write of sluice's
# program; here rp_filter is even off for the hostile pod's interface (as
# on nodes that need asymmetric routes), so only sluice stands in the way.
# While the client downloads from the VIP (in flight at the TCP level: a
# small receive buffer and a rate limit), the weights flip to the other
# version and a neighbour pod (client2, on its own interface) sends an RST
# and then a SYN with the client's address and port: neither may close or
# re-pick the client's connection (counted wrong_iface), and the download
# must finish intact. A forged SYN for a port the client has not used yet
# must not open a connection in its name (src_rejected); the client's own
# connection from that port later works.
set -uo pipefail
SL_TEST_NAME=spoof
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

PORT=42424
FRESH=42425
MB=${SL_SPOOF_MB:-12}

forge() {
	sl_nsx client2 "$SL_PY" "$SL_E2E/node_tools.py" raw --src 10.0.9.2 --sport "$1" \
		--dst "$SL_VIP4" --flags "$2" --count "${3:-1}" >/dev/null
}

sl_topo_up client2
# the hostile pod's interface has no reverse-path filter at all
sl_nsx node sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.c2.rp_filter=0
sl_config "$SL_CFG" 100 0
sl_run_start "$SL_CFG" c1 c2 || sl_die "sluice run did not start"

want=$(sl_nsx client "$SL_PY" "$SL_E2E/client.py" bigsum "$MB")
sl_nsx client sysctl -qw net.ipv4.tcp_rmem="4096 16384 65536"
sl_status "$SL_TMP/s0.json"
sl_bg dl client "$SL_TMP/dl.log" curl -sS --max-time 60 --limit-rate 2M --local-port "$PORT" \
	-o "$SL_TMP/dl.bin" -D "$SL_TMP/dl.head" "http://$SL_VIP4/big?mb=$MB"
sleep 1.5
sl_sluice weights backend v1=0 v2=100 >/dev/null || sl_die "sluice weights"
sl_wait_weights "v1=0 v2=100" || sl_die "weights never flipped"
forge "$PORT" R,S 3
sleep 0.5
forge "$PORT" A,F,S 2
sl_reap "$dl" 60
rc=$?
got=$(sha256sum <"$SL_TMP/dl.bin" | cut -d' ' -f1)
from=$(awk -F': ' 'tolower($1) == "x-backend" {print $2}' "$SL_TMP/dl.head" | tr -d '\r')
sl_check download-survives-forged-rst-syn "curl exit $rc, from $from, sha256 ${got:0:16}... want ${want:0:16}..." \
	eval '[ "$rc" = 0 ] && [ "$got" = "$want" ] && [ "${from#v1}" != "$from" ]'
sl_status "$SL_TMP/s1.json"
wi=$(sl_dp_delta "$SL_TMP/s0.json" "$SL_TMP/s1.json" wrong_iface)
sl_check forged-packets-dropped "wrong_iface +$wi of 12 forged segments" test "$wi" = 12

# a forged SYN for a port the client has not used
forge "$FRESH" S 2
sl_status "$SL_TMP/s2.json"
sr=$(sl_dp_delta "$SL_TMP/s1.json" "$SL_TMP/s2.json" src_rejected)
sl_check forged-syn-opens-nothing "src_rejected +$sr of 2" test "$sr" = 2
out=$(sl_nsx client curl -sS --max-time 5 --local-port "$FRESH" "http://$SL_VIP4/")
sl_check own-connection-from-that-port "got '$out' (v2 after the flip)" test "$out" = v2

sl_check_csum
sl_finish
