#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice rollout ... --abort-reset` and `rollout SERVICE abort --reset`
# (issue 17): connections held open on v2 across the abort (a request begun,
# finished after it) end with a reset the moment the client sends again,
# within 1 s of the abort, while v1's held connections answer 200; without
# the flag, v2's held connections drain (answer 200 from v2). The reset
# comes from the datapath (sl_g abort_reset, one per connection), and the
# abort reports how many connections it marked. Rounds: the flag given at
# the start (kept in the rollout's state), at the abort (--reset), neither
# (drain), downloads of 16 MiB in flight (v2's reset at the client's next
# window update, v1's complete to the byte), and an automatic abort by the
# step's deadline in `run`.
set -uo pipefail
SL_TEST_NAME=rollout_reset
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"
# shellcheck source=tests/e2e/rollout-lib.sh
. "$(dirname "$0")/rollout-lib.sh"

CFG=$SL_CFG
N=12 # held connections a round; at 50 %, both versions get some

sl_topo_up
ro_backend v1a
ro_backend v1b
ro_backend v2
sl_config "$CFG" 100 0
sl_run_start "$CFG" c1 -- -j || sl_die "sluice run did not attach and apply"

# peer ports of the connections established at backend NS's :8080
est_ports() { sl_nsx "$1" ss -Htn state established '( sport = :8080 )' | awk '{split($4, a, ":"); print a[length(a)]}'; }
# ...of this round's held connections only (a reset one stays open at v2 until v2 sends)
held_at() { est_ports "$1" | grep -xFf <($SL_PY -c 'import json, sys; print("\n".join(map(str, json.load(open(sys.argv[1])))))' "$HELD"); }
_all_held() { [ "$( (held_at v1a; held_at v1b; held_at v2) | wc -l)" -ge "$N" ]; }

# round NAME START_FLAGS ABORT_FLAGS EXPECT(reset|drain) [HOLD_OPTS]:
# ABORT_FLAGS "auto": no abort by hand, the step's deadline aborts it (run's
# controller); HOLD_OPTS "--download MB": downloads in flight, not requests
round() {
	local name=$1 sflags=$2 aflags=$3 want=$4 hopts=${5:-} out=$SL_TMP/hold.$1.json pid v2ports
	sl_sluice weights backend v1=100 v2=0 >/dev/null
	# shellcheck disable=SC2086
	sl_sluice rollout backend --to v2 --from v1 --steps 50,100 --dwell 60s $sflags \
		>"$SL_TMP/$name.start" 2>&1 || sl_die "rollout start ($name): $(cat "$SL_TMP/$name.start")"
	ro_status "$SL_TMP/$name.ro.json"
	local flag
	flag=$(sl_jget "$SL_TMP/$name.ro.json" 'd["abort_reset"]')
	sl_check "$name-state" "rollout status abort_reset: $flag" \
		test "$flag" = "$([ -n "$sflags" ] && echo True || echo False)"
	# shellcheck disable=SC2086
	sl_bg pid client "$SL_TMP/hold.$name.log" "$SL_PY" "$SL_E2E/hold.py" "$SL_VIP4" 80 "$N" "$out" $hopts
	sl_wait_for 10 test -s "$out.ports" || sl_die "hold.py ($name) did not connect: $(cat "$SL_TMP/hold.$name.log")"
	HELD=$out.ports
	sl_wait_for 10 _all_held || sl_die "held connections ($name) not established at the backends"
	v2ports=$(held_at v2 | sort -n | tr '\n' ' ')
	sl_status "$SL_TMP/$name.before.json"
	if [ "$aflags" = auto ]; then
		ro_wait_phase aborted 15 || sl_fail "$name: not aborted by its deadline"
		echo "by run" >"$SL_TMP/$name.abort"
	else
		# shellcheck disable=SC2086
		sl_sluice rollout backend abort $aflags >"$SL_TMP/$name.abort" 2>&1 ||
			sl_fail "$name: abort failed: $(cat "$SL_TMP/$name.abort")"
	fi
	sl_stop "$pid" USR1 10
	sl_status "$SL_TMP/$name.after.json"
	sl_info "$name: v2 held ports: $v2ports; abort: $(cat "$SL_TMP/$name.abort")"
	local res nv2 nv1 v2bad v1bad slow resets marked
	res=$(cat "$out" 2>/dev/null || echo '{}')
	nv2=$($SL_PY -c "import sys; print(len(sys.argv[1].split()))" "$v2ports")
	nv1=$((N - nv2))
	if [ "$want" = reset ]; then
		v2bad=$($SL_PY -c "import json, sys; r = json.loads(sys.argv[1]); print(sum(1 for p in sys.argv[2].split() if r.get(p, {}).get('outcome') != 'reset'))" "$res" "$v2ports")
	else
		v2bad=$($SL_PY -c "import json, sys; r = json.loads(sys.argv[1]); print(sum(1 for p in sys.argv[2].split() if r.get(p, {}).get('outcome') != '200 v2'))" "$res" "$v2ports")
	fi
	v1bad=$($SL_PY -c "import json, sys; r = json.loads(sys.argv[1]); v2 = set(sys.argv[2].split()); print(sum(1 for p, o in r.items() if p not in v2 and o['outcome'] not in ('200 v1a', '200 v1b')) + $N - len(r))" "$res" "$v2ports")
	slow=$($SL_PY -c "import json, sys; r = json.loads(sys.argv[1]); print(max([r[p]['secs'] for p in sys.argv[2].split() if p in r] or [99]))" "$res" "$v2ports")
	resets=$(sl_dp_delta "$SL_TMP/$name.before.json" "$SL_TMP/$name.after.json" abort_reset)
	sl_check "$name-both-versions" "held: $nv2 on v2, $nv1 on v1" test "$nv2" -ge 1 -a "$nv1" -ge 1
	if [ "$want" = reset ]; then
		sl_check "$name-v2-reset" "$nv2 v2 connections, $v2bad not reset (ECONNRESET)" test "$v2bad" = 0
		sl_check "$name-within-1s" "slowest v2 outcome ${slow} s after the abort" \
			"$SL_PY" -c "import sys; sys.exit(not $slow < 1.0)"
		if [ "$aflags" = auto ]; then
			marked=$(sed -n 's/.*rollout backend: \([0-9]*\) connections of v2 to be reset$/\1/p' "$SL_RUN_LOG" | tail -1)
		else
			marked=$(sed -n 's/.*, \([0-9]*\) connections to be reset$/\1/p' "$SL_TMP/$name.abort")
		fi
		sl_check "$name-marked" "abort marked '${marked}' connections, $nv2 on v2" test "${marked:-x}" = "$nv2"
	else
		sl_check "$name-v2-drain" "$nv2 v2 connections, $v2bad not answered 200 by v2" test "$v2bad" = 0
	fi
	sl_check "$name-v1-intact" "$nv1 v1 connections, $v1bad not answered 200 by v1" test "$v1bad" = 0
	local want_resets=0
	[ "$want" = reset ] && want_resets=$nv2
	sl_check "$name-counter" "sl_g abort_reset +$resets, want $want_resets" test "$resets" = "$want_resets"
}

round start-flag "--abort-reset" "" reset
round abort-flag "" "--reset" reset
round drain "" "" drain
# v2 (and v1) in the middle of sending 16 MiB each: v2's end at the client's next window update
round download "--abort-reset" "" reset "--download 16"
# the deadline (3 s) passes while the connections are held: run aborts
round auto "--abort-reset --step-deadline 3s --on-deadline abort" auto reset

# the flags where they do not belong
sl_sluice rollout backend pause --reset >"$SL_TMP/bad1" 2>&1
rc1=$?
sl_sluice rollout backend status --abort-reset >"$SL_TMP/bad2" 2>&1
rc2=$?
sl_check bad-flags "pause --reset: exit $rc1 ($(head -c 80 "$SL_TMP/bad1")); status --abort-reset: exit $rc2 ($(head -c 80 "$SL_TMP/bad2"))" \
	test "$rc1" = 1 -a "$rc2" = 1
sl_check_csum
sl_finish
