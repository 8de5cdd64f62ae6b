#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Counters count wire packets: with segmentation offload on between the
# backend and the node, the reply path sees GSO super-packets (tens of
# segments each), and packets_out must still equal the packets the client
# receives, not the number of skbs.
set -uo pipefail
SL_TEST_NAME=gso
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

MB=16
CFG=$SL_CFG

sl_topo_up
# Offloads on for the backends' side only: the backend's TCP hands 64 KiB
# skbs to its veth, the node forwards them whole to c1, where sluice's
# egress program sees them before they are segmented for the client.
for b in v1a v1b; do
	sl_nsx "$b" ethtool -K eth0 tx on tso on gso on >/dev/null 2>&1 || sl_die "offload on in $b"
	sl_nsx node ethtool -K "b-$b" tx on tso on gso on >/dev/null 2>&1 || sl_die "offload on b-$b"
done
sl_config "$CFG" 100 0
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=100 v2=0" || sl_die "weights never showed 100/0: $(sl_weights_now)"

in_pkts() { sl_nsx client nstat -az IpInReceives | awk '/IpInReceives/ { print $2 }'; }
sl_status "$SL_TMP/before.json"
before_rx=$(in_pkts)
sl_nsx client curl -sS --max-time 60 -o /dev/null "http://$SL_VIP4/big?mb=$MB" ||
	sl_die "download failed"
after_rx=$(in_pkts)
sl_status "$SL_TMP/after.json"

ctr() { $SL_PY "$SL_E2E/jtool.py" counter "$1" backend v1 "$2"; }
pkts=$(($(ctr "$SL_TMP/after.json" packets_out) - $(ctr "$SL_TMP/before.json" packets_out)))
bytes=$(($(ctr "$SL_TMP/after.json" bytes_out) - $(ctr "$SL_TMP/before.json" bytes_out)))
rx=$((after_rx - before_rx))

sl_info "download: $bytes bytes out, packets_out $pkts, client IpInReceives $rx"
# Per skb, a 16 MiB download would be a few hundred; per wire packet, over
# 11,000 (at most 1448 bytes of payload each).
sl_check wire-packets-counted "packets_out $pkts >= $(((MB << 20) / 1500))" \
	test "$pkts" -ge $(((MB << 20) / 1500))
_close() { # $1 within 2% of $2
	local d=$(($1 - $2))
	[ "${d#-}" -le $(($2 / 50 + 2)) ]
}
sl_check packets-out-equal-client-rx "packets_out $pkts vs client IpInReceives $rx" _close "$pkts" "$rx"
sl_finish
