#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice run --iface-pattern` follows interfaces as pods come and go, with
# no restart: veths created on the node while traffic runs (each with a
# client namespace of its own, like a pod) are attached within a second and
# their traffic is split; a veth created under a temporary name and renamed
# (as some CNIs do) is attached once its name matches; non-Ethernet and
# non-matching interfaces are left alone; deleting a pod's veth, or its whole
# namespace, under load costs the other clients nothing.
set -uo pipefail
SL_TEST_NAME=ifpat
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

CFG=$SL_CFG
PATTERN='lxc*,cali*,c1'

sl_topo_up
sl_check_hardening
sl_config "$CFG" 80 20
SL_RUN_LOG=$SL_TMP/run.log
sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" -j run \
	--config "$CFG" --iface-pattern "$PATTERN"
sl_wait_for 20 _sl_run_ready || sl_die "sluice run --iface-pattern did not attach to c1 and apply"
sl_wait_weights "v1=80 v2=20" || sl_die "weights never showed 80/20: $(sl_weights_now)"

_ms() { date +%s%3N; }

# _pod NS NODE_IF N: a client namespace 10.0.N.2/fd00:N::2 behind NODE_IF,
# like _sl_client, but the veth is created first and on its own, so the time
# from its creation to our filters on it can be measured. Prints the ms.
_pod() {
	local ns=$1 nif=$2 n=$3 t0 t1
	_sl_ns_add "$ns"
	t0=$(_ms)
	ip -n "$(sl_ns node)" link add "$nif" type veth peer name eth0 netns "$(sl_ns "$ns")" ||
		sl_die "veth $nif"
	sl_wait_for 5 sl_filters_present "$nif"
	t1=$(_ms)
	_sl_veth_up node "$nif" "$ns" eth0
	_sl_client_addrs "$ns" "$nif" "10.0.$n.2" "10.0.$n.1" 24 "fd00:$n::2" "fd00:$n::1"
	echo $((t1 - t0))
}

_loop() { # _loop VAR NS OUT
	sl_bg "$1" "$2" "$3" timeout 120 "$SL_PY" "$SL_E2E/client.py" loop --host "$SL_VIP4" \
		-c 2 --timeout 5
}

_attached() { # _attached IF: `sluice status` lists IF among the attached interfaces
	local f="$SL_TMP/status.if.json"
	sl_status "$f" && [ "$(sl_jget "$f" "'$1' in d['interfaces']")" = True ]
}

# Under load from the first client all along.
_loop LOOP_C1 client "$SL_TMP/loop-c1.json"
sleep 1

# 1. Pods appear: each veth attached within a second.
for spec in pod1:lxc1:11 pod2:lxc2:12 pod3:cali3:13; do
	IFS=: read -r ns nif n <<<"$spec"
	# _pod runs in a subshell here: register its namespace for cleanup in
	# this shell, or the EXIT trap would never delete it.
	SL_NSS+=("$(sl_ns "$ns")")
	ms=$(_pod "$ns" "$nif" "$n")
	sl_check "attach-$nif" "filters on $nif ${ms} ms after it was created" \
		test "$ms" -lt 1000
done
sl_status "$SL_TMP/status.if.json"
sl_check status-lists-new "status interfaces: $(sl_jget "$SL_TMP/status.if.json" 'd["interfaces"]' 2>/dev/null)" \
	eval '_attached lxc1 && _attached lxc2 && _attached cali3'

# 2. Their traffic is split like everyone's, and counted. The sd of the v2
# share at 80/20 is 1.26 points over 1,000 connections: 6 points is 4.7 sd.
sl_status "$SL_TMP/before.json"
sl_burst pod1 "$SL_VIP4" 1000 "$SL_TMP/b-pod1.json"
sl_check_split split-through-lxc1 "$SL_TMP/b-pod1.json" v2 20 6
sl_burst pod3 "$SL_VIP4" 1000 "$SL_TMP/b-pod3.json"
sl_check_split split-through-cali3 "$SL_TMP/b-pod3.json" v2 20 6

# 3. Left alone: a name that matches nothing, and a matching non-Ethernet device.
ip -n "$(sl_ns node)" link add other0 type veth peer name other0p
ip -n "$(sl_ns node)" tuntap add lxctun0 mode tun 2>/dev/null
sleep 0.5
sl_check non-matching-ignored "filters on other0: $(sl_nsx node tc filter show dev other0 ingress | head -1)" \
	eval '! sl_filters_present other0'
if sl_nsx node ip link show lxctun0 >/dev/null 2>&1; then
	sl_check non-ethernet-skipped "$(grep -m1 'lxctun0' "$SL_RUN_LOG")" \
		eval 'grep -q "not attaching to lxctun0: not an Ethernet interface" "$SL_RUN_LOG" && ! sl_filters_present lxctun0'
fi

# 4. A veth created under a temporary name, then renamed to a matching one.
ip -n "$(sl_ns node)" link add tmp4 type veth peer name tmp4p
sleep 0.3
ip -n "$(sl_ns node)" link set tmp4 name lxc4
sl_check attach-after-rename "lxc4 (was tmp4)" sl_wait_for 2 sl_filters_present lxc4

# 5. Pods go away under load: pod1 by deleting its veth, pod2 with its whole
# namespace. The clients on c1 and cali3 see nothing of it.
_loop LOOP_P1 pod1 "$SL_TMP/loop-pod1.json"
_loop LOOP_P3 pod3 "$SL_TMP/loop-pod3.json"
sleep 1
sl_nsx node ip link del lxc1
ip netns del "$(sl_ns pod2)"
sleep 1.5
sl_check detach-bookkeeping "$(grep -c '"event":"detached"\|"event": "detached"' "$SL_RUN_LOG") detached events" \
	eval 'grep -q "interface lxc1 (ifindex [0-9]*) is gone" "$SL_RUN_LOG" &&
		grep -q "interface lxc2 (ifindex [0-9]*) is gone" "$SL_RUN_LOG"'
sl_status "$SL_TMP/status.if.json"
sl_check status-drops-gone "status interfaces: $(sl_jget "$SL_TMP/status.if.json" 'd["interfaces"]' 2>/dev/null)" \
	eval '_attached cali3 && ! _attached lxc1 && ! _attached lxc2'
sl_stop "$LOOP_P1" TERM 15
sleep 1
sl_stop "$LOOP_P3" TERM 15
sl_stop "$LOOP_C1" TERM 15
sl_check_no_failures no-failures-c1 "$SL_TMP/loop-c1.json" 100
sl_check_no_failures no-failures-cali3 "$SL_TMP/loop-pod3.json" 50
sl_check run-still-up "pid $SL_RUN_PID" eval '! _sl_gone "$SL_RUN_PID"'

# 6. A pod comes back under a name used before: attached again.
SL_NSS+=("$(sl_ns pod5)")
ms=$(_pod pod5 lxc1 15)
sl_check reattach-reused-name "lxc1 again, ${ms} ms" test "$ms" -lt 1000
# 600 connections: sd 1.63 points, 7 points is 4.3 sd
sl_burst pod5 "$SL_VIP4" 600 "$SL_TMP/b-pod5.json"
sl_check_split split-through-new-lxc1 "$SL_TMP/b-pod5.json" v2 20 7

sl_run_stop TERM
sl_check counts-logged "$(grep 'interfaces: ' "$SL_RUN_LOG" | tail -1)" \
	grep -q 'interfaces: [0-9]* attached, [0-9]* detached, 0 failed, [0-9]* not Ethernet' "$SL_RUN_LOG"
sl_check_csum
sl_finish
