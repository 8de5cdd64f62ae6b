#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The L7 step under a hostile pod (docs/l7.md, "Limits under a hostile
# client"). From 10 addresses of the client's network namespace, one
# process (hostile.py) opens 4,096 connections that send nothing, 512 from
# each of 8 addresses (256 is the per-client limit), and 512 that ask for
# 256 MB and never read (2 addresses x 256). Checked: the second 256 of
# each silent address are reset at accept and counted (client_limit); the
# listeners never leave sl_l7_listen (over_limit 0); another address's
# header-routed requests still go to v2 through the L7 step meanwhile;
# `sluice run`'s RSS and the node's socket queues stay within what the
# design allows; and --l7-idle-timeout resets the non-readers IDLE_S
# seconds after their last byte and the silent ones IDLE_S seconds after
# their head timeout (10 s) sent them to the default route. About 25 s.
set -uo pipefail
SL_TEST_NAME=l7hostile
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

DIR=$SL_TMP/istio
HDR='canary: canary-tester'
SVC=backend.default
IDLE_S=6
PER=256
HEAD_S=10 # SL_L7_DEFAULT_HEAD_TIMEOUT
N_IDLE=$((8 * PER))  # held of the 4,096 idle ones
N_NOREAD=$((2 * PER))

l7c() { sl_jget "$1" "d['l7']['counters']['$2']"; }
glob() { sl_jget "$1" "d['datapath']['$2']"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SL_RUN_PID/status"; }
# bytes queued in the node's TCP sockets (receive + send queues, as charged)
sockmem() { sl_nsx node ss -tmnH | grep -o 'skmem:([^)]*)' |
	awk -F'[(,)]' '{for (i = 2; i <= NF; i++) {k = $i; sub(/[0-9]+$/, "", k); v = substr($i, length(k) + 1); if (k == "r" || k == "w") n += v}} END {print n + 0}'; }

sl_topo_up
mkdir -p "$DIR"
cp "$SL_ROOT"/examples/istio/*.yaml "$SL_E2E"/l7/*.yaml "$DIR/"

# The hostile pod's 10 addresses, next to the well-behaved 10.0.9.2.
cmac=$(ip -n "$(sl_ns client)" link show dev eth0 | awk '/link\/ether/ {print $2}')
for i in $(seq 101 110); do
	sl_nsx client ip addr add "10.0.9.$i/24" dev eth0
	sl_nsx node ip neigh add "10.0.9.$i" lladdr "$cmac" dev c1 nud permanent
done

SL_RUN_LOG=$SL_TMP/run.log
# 20,000 open files (the hard limit here, and no CAP_SYS_RESOURCE to raise
# it) allow 3,205 relayed connections at 6 descriptors each: 3,000 fits,
# is above the 2,560 held here, and far above one address's 256.
sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run --config "$DIR" \
	--iface c1 --l7-max-conns 3000 --l7-max-per-client "$PER" --l7-idle-timeout "$IDLE_S"
sl_wait_for 20 sl_l7_ready "$SVC" || sl_die "sluice run did not attach, apply and listen"
sleep 1
rss0=$(rss_kb)
mem0=$(sockmem)
sl_status "$SL_TMP/s0.json"

hostile= # set by sl_bg
sl_bg hostile client "$SL_TMP/hostile.json" "$SL_PY" "$SL_E2E/hostile.py" --host "$SL_VIP4" \
	--group "idle:idle:$PER:10.0.9.101-10.0.9.108" \
	--group "flood:idle:$PER:10.0.9.101-10.0.9.108" \
	--group "noread:noread:$PER:10.0.9.109-10.0.9.110" \
	--ready "$SL_TMP/hostile.ready" --hold 60
t_start=$(_sl_us)
# sample RSS, socket memory and the gauge while the hostile pod holds on
sample() {
	while :; do
		echo "$(rss_kb) $(sockmem) $(sl_sluice -j status 2>/dev/null |
			$SL_PY -c 'import json,sys; print(json.load(sys.stdin)["l7"]["counters"]["active"])' 2>/dev/null || echo 0)"
		sleep 0.5
	done
}
sample >"$SL_TMP/samples.txt" 2>/dev/null &
sampler=$!
SL_PIDS+=("$sampler")
sl_wait_for 30 test -e "$SL_TMP/hostile.ready" || sl_die "hostile.py did not connect"
t_ready=$(_sl_us)
sl_info "hostile.py connected in $(((t_ready - t_start) / 1000)) ms: $(cat "$SL_TMP/hostile.ready")"
_all_held() { sl_status "$SL_TMP/s1.json" && [ "$(l7c "$SL_TMP/s1.json" active)" -ge $((N_IDLE + N_NOREAD)) ]; }
sl_wait_for 5 _all_held
sleep 1
sl_status "$SL_TMP/s1.json"
# for a post-mortem (SL_KEEP_TMP=1): who holds what
sl_nsx node ss -tmni >"$SL_TMP/ss_held.txt"
sl_check hostile-held "active $(l7c "$SL_TMP/s1.json" active), accepted +$(($(l7c "$SL_TMP/s1.json" accepted) - $(l7c "$SL_TMP/s0.json" accepted)))" \
	test "$(l7c "$SL_TMP/s1.json" active)" = $((N_IDLE + N_NOREAD))
sl_check per-client-refused "client_limit +$(($(l7c "$SL_TMP/s1.json" client_limit) - $(l7c "$SL_TMP/s0.json" client_limit))), want $((8 * PER))" \
	test $(($(l7c "$SL_TMP/s1.json" client_limit) - $(l7c "$SL_TMP/s0.json" client_limit))) = $((8 * PER))
sl_check listeners-stay "over_limit $(l7c "$SL_TMP/s1.json" over_limit), listening $(sl_jget "$SL_TMP/s1.json" 'd["l7"]["listening"]["ipv4"]')" \
	eval '[ "$(l7c "$SL_TMP/s1.json" over_limit)" = 0 ] && [ "$(sl_jget "$SL_TMP/s1.json" "d[\"l7\"][\"listening\"][\"ipv4\"]")" = True ]'

# Another client (10.0.9.2) meanwhile: routed by its header, by the L7 step.
sl_nsx client timeout 60 "$SL_PY" "$SL_E2E/client.py" burst --host "$SL_VIP4" -n 200 -c 8 \
	-H "$HDR" >"$SL_TMP/hdr.json"
sl_status "$SL_TMP/s2.json"
sl_check other-client-header-to-v2 "$(sl_counts "$SL_TMP/hdr.json"), header_route +$(($(l7c "$SL_TMP/s2.json" header_route) - $(l7c "$SL_TMP/s1.json" header_route))), l7_fallback +$(($(glob "$SL_TMP/s2.json" l7_fallback) - $(glob "$SL_TMP/s1.json" l7_fallback)))" \
	eval '[ "$(sl_jget "$SL_TMP/hdr.json" "d[\"fail\"]")" = 0 ] && [ "$(sl_jget "$SL_TMP/hdr.json" "fold(d).get(\"v2\", 0)")" = 200 ] &&
		[ $(($(l7c "$SL_TMP/s2.json" header_route) - $(l7c "$SL_TMP/s1.json" header_route))) = 200 ] &&
		[ "$(glob "$SL_TMP/s2.json" l7_fallback)" = "$(glob "$SL_TMP/s1.json" l7_fallback)" ]'

# Memory while they held on: what run allocates per connection is a
# struct conn (192 bytes) and a 24-byte slot of the per-client table at
# most half full, about 260 bytes with malloc's header: 2,560 held make
# 0.7 MiB; 4 MiB leaves room for the allocator's slack. In the node's socket
# queues a non-reader holds at most its backend socket's starting buffer
# (L7_RCVBUF_START, 128 KiB once doubled), L7_NOTSENT_LOWAT (128 KiB) plus one
# pipe write (64 KiB) unsent towards the client, and what is in flight to
# it (at most its window, 64 KiB here): 384 KiB; the silent ones hold
# nothing. (The pipe's 64 KiB is no socket memory.) Before the starting
# buffer and the low-water mark, a non-reader held up to 8 MiB.
sl_reap "$hostile" 60
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null
sl_info "hostile.py: $(cat "$SL_TMP/hostile.json")"
read -r rss_max _ <<<"$(sort -n "$SL_TMP/samples.txt" | tail -1)"
read -r _ mem_max active_then <<<"$(sort -n -k2 "$SL_TMP/samples.txt" | tail -1)"
peak_active=$(sort -n -k3 "$SL_TMP/samples.txt" | tail -1 | cut -d' ' -f3)
rss_bound=$((4 << 10))
mem_bound=$((N_NOREAD * (384 << 10)))
sl_check rss-bounded "run RSS $rss0 kB before, at most $rss_max kB with up to $peak_active held: +$((rss_max - rss0)) kB, $(((rss_max - rss0) * 1024 / (peak_active ? peak_active : 1))) bytes per connection; bound +$rss_bound kB" \
	test $((rss_max - rss0)) -le "$rss_bound"
sl_check socket-memory-bounded "node socket queues $mem0 bytes before, at most $((mem_max >> 20)) MiB ($((mem_max / N_NOREAD)) bytes per non-reader, $active_then held then); bound $((mem_bound >> 20)) MiB" \
	test "$mem_max" -le "$mem_bound"

# The idle timeout: the silent ones IDLE_S after their head timeout; the
# non-readers IDLE_S after their last byte, which is not the first second:
# a client that does not read still frees room now and then (its kernel
# packs its receive queue), and a few more bytes move, up to 7 s later here.
h() { sl_jget "$SL_TMP/hostile.json" "d['$1']$2"; }
within() { $SL_PY -c 'import sys; a = [float(x) for x in sys.argv[1:]]; sys.exit(not (a[2] <= a[0] and a[1] <= a[3]))' "$@"; }
sl_check per-client-reset-at-once "flood: $(h flood '["reset"]') of $(h flood '["opened"]') reset, after $(h flood '["closed_after"]') s" \
	eval '[ "$(h flood "[\"reset\"]")" = $((8 * PER)) ] && within $(h flood "[\"closed_after\"][0]") $(h flood "[\"closed_after\"][1]") 0 1'
sl_check idle-timeout-non-readers "$(h noread '["reset"]') of $N_NOREAD reset, after $(h noread '["closed_after"]') s (want $IDLE_S to $((IDLE_S + 10)))" \
	eval '[ "$(h noread "[\"reset\"]")" = "$N_NOREAD" ] && within $(h noread "[\"closed_after\"][0]") $(h noread "[\"closed_after\"][1]") "$IDLE_S" $((IDLE_S + 10))'
sl_check idle-timeout-silent "$(h idle '["reset"]') of $N_IDLE reset, after $(h idle '["closed_after"]') s (want $((HEAD_S + IDLE_S)) to $((HEAD_S + IDLE_S + 5)))" \
	eval '[ "$(h idle "[\"reset\"]")" = "$N_IDLE" ] && within $(h idle "[\"closed_after\"][0]") $(h idle "[\"closed_after\"][1]") $((HEAD_S + IDLE_S)) $((HEAD_S + IDLE_S + 5))'
_drained() { sl_status "$SL_TMP/s3.json" && [ "$(l7c "$SL_TMP/s3.json" active)" = 0 ]; }
sl_wait_for 5 _drained
sl_check idle-timeout-counted "idle_timeout +$(($(l7c "$SL_TMP/s3.json" idle_timeout) - $(l7c "$SL_TMP/s0.json" idle_timeout))), head_timeout +$(($(l7c "$SL_TMP/s3.json" head_timeout) - $(l7c "$SL_TMP/s0.json" head_timeout))), active $(l7c "$SL_TMP/s3.json" active)" \
	eval '[ $(($(l7c "$SL_TMP/s3.json" idle_timeout) - $(l7c "$SL_TMP/s0.json" idle_timeout))) = $((N_IDLE + N_NOREAD)) ] &&
		[ $(($(l7c "$SL_TMP/s3.json" head_timeout) - $(l7c "$SL_TMP/s0.json" head_timeout))) = "$N_IDLE" ] && [ "$(l7c "$SL_TMP/s3.json" active)" = 0 ]'
sl_check run-alive-no-fd-shortage "run alive: $(_sl_gone "$SL_RUN_PID" && echo no || echo yes); $(grep -c 'out of file descriptors' "$SL_RUN_LOG") fd warnings" \
	eval '! _sl_gone "$SL_RUN_PID" && ! grep -q "out of file descriptors" "$SL_RUN_LOG"'
sl_finish
