#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The fast path: with sluice attached to the client's and the backends'
# interfaces, a connection through a VIP is redirected between them in TC,
# past the node's routing, netfilter and conntrack. The node's FORWARD
# counting rules and its conntrack table see none of it; the split, a long
# download and the reverse NAT stay right (IPv4 and IPv6). With
# --no-fast-path the same traffic goes through the node's stack again. With
# 10,000 more services (their VIPs set a bit in sl_vip_filter that many
# client ports share), every connection still comes up, without a SYN
# retransmitted.
set -uo pipefail
SL_TEST_NAME=fast-path
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

N=${SL_FAST_N:-300}
MB=${SL_FAST_MB:-16}
CFG=$SL_CFG
IFS_ALL=(c1 b-v1a b-v1b b-v2)

sl_topo_up
sl_check_hardening
sl_config "$CFG" 50 50

# Counting rules (no target: they count and fall through) for the client's
# traffic both ways, first in FORWARD, in front of the INVALID drop.
for ipt in iptables ip6tables; do
	net=10.0.9.0/24
	[ "$ipt" = ip6tables ] && net=fd00:9::/64
	sl_nsx node "$ipt" -w 5 -I FORWARD 1 -s "$net" -m comment --comment sl-fast-out ||
		sl_die "$ipt counting rule"
	sl_nsx node "$ipt" -w 5 -I FORWARD 1 -d "$net" -m comment --comment sl-fast-back ||
		sl_die "$ipt counting rule"
done
# packets the node's FORWARD chain saw from or to the client (v4 + v6)
fwd_seen() {
	local ipt n=0
	for ipt in iptables ip6tables; do
		n=$((n + $(sl_nsx node "$ipt" -w 5 -L FORWARD -v -n -x |
			awk '/sl-fast-/ {n += $1} END {print n + 0}')))
	done
	echo "$n"
}
zero_fwd() {
	sl_nsx node iptables -w 5 -Z FORWARD
	sl_nsx node ip6tables -w 5 -Z FORWARD
}
# the node's conntrack entries of connections to the backends' port
ct_seen() {
	sl_nsx node conntrack -L -f "$1" -p tcp --dport 8080 2>/dev/null | grep -c 'dport=8080'
}
flush_ct() { sl_nsx node conntrack -F >/dev/null 2>&1; }
# packets the node's side of the veths sent: a peer redirect
# (bpf_redirect_peer) hands them to the pod's side without that
tx_seen() {
	sl_nsx node ip -s -j link show | "$SL_PY" -c '
import json, sys
ifs = set(sys.argv[1:])
print(sum(l["stats64"]["tx"]["packets"] for l in json.load(sys.stdin) if l["ifname"] in ifs))' \
		"${IFS_ALL[@]}"
}

# one round of traffic: an IPv4 and an IPv6 burst, a long download
traffic() { # TAG
	local tag=$1
	sl_status "$SL_TMP/$tag-before.json" || sl_die "status: $(cat "$SL_TMP/$tag-before.json.err")"
	sl_burst client "$SL_VIP4" "$N" "$SL_TMP/$tag-burst4.json"
	sl_burst client "$SL_VIP6" "$N" "$SL_TMP/$tag-burst6.json"
	sl_nsx client curl -sS --max-time 60 -o "$SL_TMP/$tag-big.bin" \
		"http://$SL_VIP4/big?mb=$MB" 2>"$SL_TMP/$tag-curl.log"
	DL_RC=$?
	sl_status "$SL_TMP/$tag-after.json" || sl_die "status: $(cat "$SL_TMP/$tag-after.json.err")"
}
check_correct() { # TAG
	local tag=$1 got
	sl_check_split "$tag-split-ipv4" "$SL_TMP/$tag-burst4.json" v2 50 12
	sl_check_split "$tag-split-ipv6" "$SL_TMP/$tag-burst6.json" v2 50 12
	got=$(sha256sum "$SL_TMP/$tag-big.bin" 2>/dev/null | cut -d' ' -f1)
	sl_check "$tag-download-intact" "curl exit $DL_RC, sha256 $got, want $WANT_SUM" \
		test "$DL_RC" = 0 -a "$got" = "$WANT_SUM"
}

WANT_SUM=$($SL_PY "$SL_E2E/client.py" bigsum "$MB")
sl_nsx node sysctl -qw net.netfilter.nf_conntrack_tcp_loose=1 2>/dev/null

# ---- fast path on (the default), sluice on every interface
SL_READY_IFACE=b-v2 sl_run_start "$CFG" "${IFS_ALL[@]}" ||
	sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=50 v2=50" || sl_die "weights never showed 50/50: $(sl_weights_now)"
sl_status "$SL_TMP/on.json"
sl_check status-shows-fast-path "fast_path: $(sl_jget "$SL_TMP/on.json" 'd.get("fast_path")')" \
	test "$(sl_jget "$SL_TMP/on.json" 'd.get("fast_path")')" = True

flush_ct
zero_fwd
tx0=$(tx_seen)
traffic on
tx1=$(tx_seen)
check_correct on
redirects=$(sl_dp_delta "$SL_TMP/on-before.json" "$SL_TMP/on-after.json" fast_redirect)
# each connection: a SYN, an ACK, a request, a FIN... out, as many back
min=$((2 * N * 4))
sl_check fast-redirect-counted "fast_redirect +$redirects, want >= $min" test "$redirects" -ge "$min"
fwd=$(fwd_seen)
sl_check forward-chain-not-seen "FORWARD counting rules saw $fwd packets of the client's" \
	test "$fwd" = 0
# neighbour discovery and the like, not the connections' packets
sl_check peer-redirect "the node's side of the veths sent $((tx1 - tx0)) packets, want < $N" \
	test "$((tx1 - tx0))" -lt "$N"
ct4=$(ct_seen ipv4)
ct6=$(ct_seen ipv6)
sl_check node-conntrack-not-seen "node conntrack: $ct4 IPv4, $ct6 IPv6 entries to port 8080" \
	test "$ct4" = 0 -a "$ct6" = 0
opened=$(($(sl_jget "$SL_TMP/on-after.json" \
	'sum(s["connections_opened"] for v in d["services"] for s in v["subsets"])') -
	$(sl_jget "$SL_TMP/on-before.json" \
		'sum(s["connections_opened"] for v in d["services"] for s in v["subsets"])')))
sl_check connections-counted "connections_opened +$opened, want $((2 * N + 1))" \
	test "$opened" = $((2 * N + 1))

# ---- GSO: offloads on along the downloads' way (backends -> node -> client),
# so that the replies are TSO super-packets redirected whole
for b in v1a v1b v2; do
	sl_nsx "$b" ethtool -K eth0 tx on tso on gso on >/dev/null 2>&1 || sl_die "offload on in $b"
	sl_nsx node ethtool -K "b-$b" tx on tso on gso on >/dev/null 2>&1 || sl_die "offload on b-$b"
done
sl_nsx node ethtool -K c1 tx on tso on gso on >/dev/null 2>&1 || sl_die "offload on c1"
zero_fwd
sl_status "$SL_TMP/gso-before.json"
sl_nsx client curl -sS --max-time 60 -o "$SL_TMP/gso-big.bin" "http://$SL_VIP4/big?mb=$MB" \
	2>"$SL_TMP/gso-curl.log"
rc=$?
sl_status "$SL_TMP/gso-after.json"
got=$(sha256sum "$SL_TMP/gso-big.bin" 2>/dev/null | cut -d' ' -f1)
sl_check gso-download-intact "curl exit $rc, sha256 $got, want $WANT_SUM" \
	test "$rc" = 0 -a "$got" = "$WANT_SUM"
redirects=$(sl_dp_delta "$SL_TMP/gso-before.json" "$SL_TMP/gso-after.json" fast_redirect)
fwd=$(fwd_seen)
sl_check gso-fast "fast_redirect +$redirects, FORWARD saw $fwd" \
	test "$redirects" -gt 0 -a "$fwd" = 0
for b in v1a v1b v2; do
	sl_nsx "$b" ethtool -K eth0 tx off >/dev/null 2>&1
	sl_nsx node ethtool -K "b-$b" tx off >/dev/null 2>&1
done
sl_nsx node ethtool -K c1 tx off >/dev/null 2>&1

# ---- --no-fast-path: the same traffic takes the node's stack
sl_run_stop
SL_READY_IFACE=b-v2 sl_run_start "$CFG" "${IFS_ALL[@]}" -- --no-fast-path ||
	sl_die "sluice run --no-fast-path did not attach and apply"
# (the old programs stay attached, and status ready, until the new run has attached its own)
sl_wait_for 20 eval '[ "$(grep -c "running: " "$SL_RUN_LOG")" -ge 2 ]' ||
	sl_die "the second sluice run never said it was running"
_fast_path_is() { sl_status "$SL_TMP/off.json" && [ "$(sl_jget "$SL_TMP/off.json" 'd.get("fast_path")')" = "$1" ]; }
sl_check status-shows-no-fast-path "fast_path: $(sl_wait_for 10 _fast_path_is False; sl_jget "$SL_TMP/off.json" 'd.get("fast_path")')" \
	test "$(sl_jget "$SL_TMP/off.json" 'd.get("fast_path")')" = False
flush_ct
zero_fwd
tx0=$(tx_seen)
traffic off
tx1=$(tx_seen)
check_correct off
sl_check stack-transmits "the node's side of the veths sent $((tx1 - tx0)) packets, want >= $((2 * N * 4))" \
	test "$((tx1 - tx0))" -ge $((2 * N * 4))
redirects=$(sl_dp_delta "$SL_TMP/off-before.json" "$SL_TMP/off-after.json" fast_redirect)
sl_check no-fast-redirect "fast_redirect +$redirects" test "$redirects" = 0
fwd=$(fwd_seen)
sl_check forward-chain-sees-it "FORWARD counting rules saw $fwd packets, want >= $((2 * N * 4))" \
	test "$fwd" -ge $((2 * N * 4))
ct4=$(ct_seen ipv4)
sl_check node-conntrack-sees-it "node conntrack: $ct4 IPv4 entries to port 8080" test "$ct4" -gt 0

# ---- 10,000 services, fast path on: sl_vip_filter says "maybe" for the
# (address, port) of about one client port in 27. A backend's reply to such
# a port is still a fast-path reply: before, it was taken for a client's
# packet, missed in conntrack and went to the node's stack, whose conntrack
# had never seen the SYN: every SYN-ACK dropped, the connection never up
# (docs/fastpath.md). Filler services as the bench's (scripts/bench/gen.py):
# never reached, two endpoints each.
sl_run_stop
FILLER=${SL_FAST_FILLER:-10000}
for ((i = 0; i < FILLER; i++)); do
	sl_service_yaml "filler$i" "10.97.$((i / 250)).$((i % 250 + 1))" \
		"v1=10.244.$((2 * i / 250)).$((2 * i % 250 + 1))" \
		"v2=10.244.$(((2 * i + 1) / 250)).$(((2 * i + 1) % 250 + 1))"
done >"$SL_TMP/filler.yaml"
mkdir -p "$SL_TMP/many"
# the test's config with the filler at the end of its services (before its workloads)
awk -v f="$SL_TMP/filler.yaml" '/^workloads:/ { while ((getline l < f) > 0) print l } { print }' \
	"$CFG" >"$SL_TMP/many/sluice.yaml"
# ready: the last filler service applied (the earlier run's tables have the rest)
SL_READY_IFACE=b-v2 SL_READY_SERVICE="filler$((FILLER - 1))" \
	sl_run_start "$SL_TMP/many/sluice.yaml" "${IFS_ALL[@]}" ||
	sl_die "sluice run with $FILLER more services did not attach and apply"
sl_wait_for 30 eval '[ "$(grep -c "running: " "$SL_RUN_LOG")" -ge 3 ]' ||
	sl_die "the third sluice run never said it was running"
sl_wait_for 10 _fast_path_is True || sl_die "fast path not on with $FILLER services"
syn_retrans() { sl_nsx client nstat -asz TcpExtTCPSynRetrans | awk '/SynRetrans/ { print $2 }'; }
r0=$(syn_retrans)
sl_status "$SL_TMP/many-before.json" || sl_die "status: $(cat "$SL_TMP/many-before.json.err")"
sl_burst client "$SL_VIP4" "$N" "$SL_TMP/many-burst4.json"
sl_burst client "$SL_VIP6" "$N" "$SL_TMP/many-burst6.json"
sl_status "$SL_TMP/many-after.json" || sl_die "status: $(cat "$SL_TMP/many-after.json.err")"
r1=$(syn_retrans)
miss=$(sl_dp_delta "$SL_TMP/many-before.json" "$SL_TMP/many-after.json" ct_miss)
redirects=$(sl_dp_delta "$SL_TMP/many-before.json" "$SL_TMP/many-after.json" fast_redirect)
sl_check_split many-services-split-ipv4 "$SL_TMP/many-burst4.json" v2 50 12
sl_check_split many-services-split-ipv6 "$SL_TMP/many-burst6.json" v2 50 12
# broken, about 1 connection in 27 retried its SYN until it gave up (2 or
# more each); a loaded machine may lose a few, not dozens
sl_check many-services-no-syn-retrans \
	"client SYN retransmits +$((r1 - r0)) over $((2 * N)) connections, want <= $((N / 50)); ct_miss +$miss, fast_redirect +$redirects" \
	test "$((r1 - r0))" -le $((N / 50)) -a "$redirects" -ge $((2 * N * 4))

sl_check_csum
sl_finish
