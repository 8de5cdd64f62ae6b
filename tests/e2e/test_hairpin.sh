#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Hairpin: a pod that calls a Service it backs, with sluice on the pods'
# interfaces (as --iface-pattern puts it on a node). When the pod is picked
# as its own backend, sluice source-NATs the connection to its hairpin
# address (169.254.92.2, fd5c:5c5c::2) and sends it straight back into the
# pod; the pod's reply to that address comes back through the same
# interface and is translated back. IPv4 and IPv6; a Service the pod alone
# backs (every call a hairpin) and one it shares with v2 (half of them; v2,
# not v1b: in this lab v1a and v1b share a /24 and would ARP for each other
# instead of routing through the node, which is no sluice matter).
set -uo pipefail
SL_TEST_NAME=hairpin
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

SELF4=10.96.0.20
SELF6=fd00::20
PAIR4=10.96.0.21
N=${SL_HAIRPIN_N:-100}

sl_topo_up
{
	echo "services:"
	sl_service_yaml self "$SELF4, \"$SELF6\"" v1='10.0.1.10, "fd00:1::10"'
	sl_service_yaml pair "$PAIR4" v1=10.0.1.10 v2=10.0.2.10
} >"$SL_CFG"
SL_READY_SERVICE=self SL_READY_IFACE=b-v1a sl_run_start "$SL_CFG" c1 b-v1a b-v1b b-v2 ||
	sl_die "sluice run did not attach and apply"

sl_status "$SL_TMP/s0.json"
sl_burst v1a "$SELF4" "$N" "$SL_TMP/self4.json"
sl_check hairpin-ipv4 "from v1a to a Service only v1a backs: $(sl_counts "$SL_TMP/self4.json")" \
	eval '[ "$(sl_jget "$SL_TMP/self4.json" "d[\"fail\"]")" = 0 ] &&
		[ "$(sl_jget "$SL_TMP/self4.json" "d[\"by_backend\"].get(\"v1a\", 0)")" = "$N" ]'
sl_burst v1a "$SELF6" "$N" "$SL_TMP/self6.json"
sl_check hairpin-ipv6 "from v1a to [$SELF6]: $(sl_counts "$SL_TMP/self6.json")" \
	eval '[ "$(sl_jget "$SL_TMP/self6.json" "d[\"fail\"]")" = 0 ] &&
		[ "$(sl_jget "$SL_TMP/self6.json" "d[\"by_backend\"].get(\"v1a\", 0)")" = "$N" ]'
sl_status "$SL_TMP/s1.json"
hp=$(sl_dp_delta "$SL_TMP/s0.json" "$SL_TMP/s1.json" hairpin)
sl_check hairpin-counted "hairpin +$hp of $((2 * N)) connections" test "$hp" = $((2 * N))

sl_burst v1a "$PAIR4" "$N" "$SL_TMP/pair.json"
sl_check hairpin-shared-service "from v1a to a Service of v1a and v2: $(sl_counts "$SL_TMP/pair.json") by backend $(sl_jget "$SL_TMP/pair.json" 'd["by_backend"]')" \
	eval '[ "$(sl_jget "$SL_TMP/pair.json" "d[\"fail\"]")" = 0 ] &&
		[ "$(sl_jget "$SL_TMP/pair.json" "d[\"by_backend\"].get(\"v1a\", 0)")" -gt 10 ] &&
		[ "$(sl_jget "$SL_TMP/pair.json" "d[\"by_backend\"].get(\"v2\", 0)")" -gt 10 ]'

# the rest of the node is not disturbed: the client still reaches v1a
sl_burst client "$SELF4" 20 "$SL_TMP/client.json"
sl_check client-unaffected "$(sl_counts "$SL_TMP/client.json")" \
	eval '[ "$(sl_jget "$SL_TMP/client.json" "d[\"fail\"]")" = 0 ] &&
		[ "$(sl_jget "$SL_TMP/client.json" "d[\"ok\"]")" = 20 ]'

# a download in flight on a hairpin connection, with a small receive
# buffer so that it really is in flight (PLATFORM.md)
sl_nsx v1a sysctl -qw net.ipv4.tcp_rmem="4096 16384 65536"
want=$(sl_nsx client "$SL_PY" "$SL_E2E/client.py" bigsum 8)
got=$(sl_nsx v1a curl -sS --max-time 60 --limit-rate 2M "http://$SELF4/big?mb=8" | sha256sum | cut -d' ' -f1)
sl_check hairpin-download-intact "sha256 $got want $want" test "$got" = "$want"

sl_check_csum
sl_finish
