#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# HTTP/2 and gRPC through the L7 step, per stream (docs/l7.md, "HTTP/2"):
# h2c prior knowledge from real clients (h2load, Python's h2, grpcio) to
# real HTTP/2 backends (Python's h2, grpcio) in every backend namespace. One
# connection carries many streams, and each stream goes where its own
# headers and the weights say: h2load -c 1 at 50/50, the canary header to
# v2, a gRPC unary call with its status in the trailers (OK and an error),
# 8 MB each way, 200 gRPC calls on one channel split, a stream reset by the
# client leaving its neighbours alone (and reaching the backend), and
# `sluice weights` mid-connection applying to the next streams.
# Checks are strings for sl_check to eval (expanded late, on purpose).
# shellcheck disable=SC2016,SC2034,SC2154
set -uo pipefail
SL_TEST_NAME=h2
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

SVC=h2svc
N=400
HDR='canary: canary-tester'
GRPC=$SL_VIP4:50051

# The backends' own count of requests, by subset (v1a + v1b = v1).
reqs() { cat "$SL_TMP"/h2-"$1"*.log 2>/dev/null | grep -c '^req '; }
resets() { cat "$SL_TMP"/h2-*.log 2>/dev/null | grep -c '^reset '; }
r2xx() { sl_jget "$1" "[u for s in d['services'] if s['name'] == '$SVC' for u in s['subsets'] if u['name'] == '$2'][0]['http_responses']['$3']"; }
within() { $SL_PY -c "import sys; sys.exit(abs($1 - $2) > $3)"; }

_h2_up() { # the HTTP/2 and gRPC backends answer directly
	local b a4
	for b in $SL_BACKENDS; do
		a4=${b#*:}
		a4=${a4%%:*}
		sl_nsx node h2load -c 1 -n 1 "http://$a4:8081/" 2>/dev/null | grep -q '1 succeeded' ||
			return 1
	done
}

sl_topo_up
for b in $SL_BACKENDS; do
	name=${b%%:*}
	sl_bg pid "$name" "$SL_TMP/h2-$name.log" "$SL_PY" "$SL_E2E/h2_backend.py" "$name" 8081
	sl_bg pid "$name" "$SL_TMP/grpc-$name.log" "$SL_PY" "$SL_E2E/h2_grpc.py" server "$name" 50051
done
sl_wait_for 15 _h2_up || sl_die "HTTP/2 backends not answering on :8081"

# A header route makes the service L7 (until ports declare a protocol).
cat >"$SL_CFG" <<EOF
services:
  - name: $SVC
    vips: [$SL_VIP4, "$SL_VIP6"]
    ports:
      - {port: 80, protocol: TCP, targetPort: 8081}
      - {port: 50051, protocol: TCP, targetPort: 50051}
    subsets:
      v1: {endpoints: [10.0.1.10, 10.0.1.11, "fd00:1::10", "fd00:1::11"]}
      v2: {endpoints: [10.0.2.10, "fd00:2::10"]}
    routes:
      - match: {headers: {canary: {exact: canary-tester}}}
        split: {v2: 100}
      - split: {v1: 50, v2: 50}
EOF
SL_READY_SERVICE=$SVC sl_run_start "$SL_CFG" || sl_die "sluice run did not start"
_l7_ready() { sl_l7_ready "$SVC"; }
sl_wait_for 20 _l7_ready || sl_die "the L7 listener is not published"

# 1. h2load, one connection, 400 requests at 50/50: each stream picked on
# its own, so v1 gets 200 +- 42 (4.2 sd, sd = 10), not 0 or 400.
sl_status "$SL_TMP/s0.json"
v1=$(reqs v1)
v2=$(reqs v2)
out=$(sl_nsx client h2load -c 1 -m 10 -n "$N" "http://$SL_VIP4/" 2>&1)
d1=$(($(reqs v1) - v1))
d2=$(($(reqs v2) - v2))
sl_check h2load-all-succeeded "$(grep -E '^requests:' <<<"$out")" \
	eval 'grep -q "^requests: $N total, $N started, $N done, $N succeeded" <<<"$out"'
sl_check h2load-split-50-50 "backends: v1 $d1, v2 $d2 (want 200 +- 42 each)" \
	eval '[ $((d1 + d2)) = "$N" ] && within "$d1" 200 42'

# 2. Counted per stream in the subsets' rows, as the backends counted them.
sl_status "$SL_TMP/s1.json"
c1=$(($(r2xx "$SL_TMP/s1.json" v1 2xx) - $(r2xx "$SL_TMP/s0.json" v1 2xx)))
c2=$(($(r2xx "$SL_TMP/s1.json" v2 2xx) - $(r2xx "$SL_TMP/s0.json" v2 2xx)))
acc=$(($(sl_jget "$SL_TMP/s1.json" "d['l7']['counters']['accepted']") - $(sl_jget "$SL_TMP/s0.json" "d['l7']['counters']['accepted']")))
sl_check h2load-one-connection "the L7 step accepted $acc" test "$acc" = 1
sl_check counted-per-stream "2xx: v1 +$c1, v2 +$c2; backends v1 $d1, v2 $d2" \
	eval '[ "$c1" = "$d1" ] && [ "$c2" = "$d2" ]'

# 3. The canary header: 100 of 100 streams on v2.
v1=$(reqs v1)
v2=$(reqs v2)
out=$(sl_nsx client h2load -c 1 -m 10 -n 100 -H "$HDR" "http://$SL_VIP4/" 2>&1)
d1=$(($(reqs v1) - v1))
d2=$(($(reqs v2) - v2))
sl_check header-to-v2 "$(grep -E '^requests:' <<<"$out"); backends: v1 $d1, v2 $d2" \
	eval '[ "$d2" = 100 ] && [ "$d1" = 0 ]'

# 3b. IPv6: the same, per stream (200 at 50/50: 100 +- 30 each).
v1=$(reqs v1)
out=$(sl_nsx client h2load -c 1 -m 10 -n 200 "http://[$SL_VIP6]/" 2>&1)
d1=$(($(reqs v1) - v1))
sl_check ipv6-split "$(grep -E '^requests:' <<<"$out"); v1 got $d1 (want 100 +- 30)" \
	eval 'grep -q "^requests: 200 total, 200 started, 200 done, 200 succeeded" <<<"$out" && within "$d1" 100 30'

# 4. gRPC unary: the status lives in the trailers; OK and an error both pass.
g() { sl_nsx client timeout 120 "$SL_PY" "$SL_E2E/h2_grpc.py" call "$GRPC" "$@"; }
out=$(g /sluice.Test/Echo)
sl_check grpc-ok "$out" \
	eval '[ "$(sl_jget <(echo "$out") "d[\"codes\"].get(\"OK\", 0) == 1 and d[\"echo_ok\"] == 1 and \"none\" not in d[\"backends\"]")" = True ]'
out=$(g /sluice.Test/Fail)
sl_check grpc-error-status "$out" \
	eval '[ "$(sl_jget <(echo "$out") "d[\"codes\"] == {\"FAILED_PRECONDITION\": 1} and d[\"details\"] == [\"told to fail\"] and \"none\" not in d[\"backends\"]")" = True ]'

# 5. 8 MB up and 8 MB back in one message, intact.
out=$(g /sluice.Test/Echo --size $((8 << 20)))
sl_check grpc-8mb-each-way "$out" \
	eval '[ "$(sl_jget <(echo "$out") "d[\"codes\"] == {\"OK\": 1} and d[\"echo_ok\"] == 1")" = True ]'

# 6. 200 calls on one gRPC channel: split per call (sd 7.1, 4.2 sd = 30).
out=$(g /sluice.Test/Echo --n 200)
gv1=$(sl_jget <(echo "$out") 'd["backends"].get("v1a", 0) + d["backends"].get("v1b", 0)')
sl_check grpc-one-channel-split "$out" \
	eval '[ "$(sl_jget <(echo "$out") "d[\"codes\"] == {\"OK\": 200}")" = True ] && within "$gv1" 100 30'

# 7. A stream the client resets: the reset reaches the backend, the other
# streams of the connection and the next one are answered.
r0=$(resets)
out=$(sl_nsx client timeout 30 "$SL_PY" "$SL_E2E/h2_client.py" reset "$SL_VIP4")
_reset_seen() { [ $(($(resets) - r0)) -ge 1 ]; }
sl_wait_for 5 _reset_seen
sl_check reset-leaves-others "$out; backend resets +$(($(resets) - r0))" \
	eval '[ "$(sl_jget <(echo "$out") "d[\"a\"] == \"reset\" and d[\"b\"] in (\"v1a\", \"v1b\", \"v2\") and d[\"c\"] in (\"v1a\", \"v1b\", \"v2\") and not d[\"goaway\"]")" = True ] && _reset_seen'

# 7b. Streams the backend resets: after its response head the client's
# stream is reset too; before any head the client gets a 502 (counted in
# the subset's row); the connection's other stream is answered.
s0=$SL_TMP/s7b0.json
sl_status "$s0"
out=$(sl_nsx client timeout 30 "$SL_PY" "$SL_E2E/h2_client.py" upreset "$SL_VIP4")
sl_status "$SL_TMP/s7b1.json"
n5=0
for sub in v1 v2; do
	n5=$((n5 + $(r2xx "$SL_TMP/s7b1.json" $sub 5xx) - $(r2xx "$s0" $sub 5xx)))
done
sl_check upstream-reset "$out; 5xx in the rows +$n5" \
	eval '[ "$(sl_jget <(echo "$out") "d[\"a\"] == \"reset\" and d[\"b\"] == \"status 502\" and d[\"c\"] in (\"v1a\", \"v1b\", \"v2\")")" = True ] && [ "$n5" = 1 ]'

# 7c. Garbage after the preface ends that connection (nghttp2's GOAWAY);
# a stream with more header fields than we take (128) is reset, and the
# connection's next stream is answered.
out=$(sl_nsx client timeout 30 "$SL_PY" "$SL_E2E/h2_client.py" hostile "$SL_VIP4")
sl_check hostile-input "$out" \
	eval '[ "$(sl_jget <(echo "$out") "d[\"garbage\"] == \"closed\" and d[\"many\"] == \"reset\" and d[\"after\"] in (\"v1a\", \"v1b\", \"v2\")")" = True ]'

# 8. `sluice weights` in the middle of one connection: the next streams
# follow (100 at 50/50, then v1=0 v2=100: all 100 on v2).
gate=$SL_TMP/gate
sl_nsx client timeout 120 "$SL_PY" "$SL_E2E/h2_client.py" phases "$SL_VIP4" 100 "$gate" \
	>"$SL_TMP/phases.json" 2>&1 &
ph=$!
_gate() { [ -e "$gate.wait" ]; }
sl_wait_for 60 _gate || sl_fail weights-gate "phase 1 never finished"
sl_sluice weights "$SVC" v1=0 v2=100 >/dev/null 2>&1 || sl_fail weights-set "sluice weights failed"
touch "$gate.go"
wait "$ph"
out=$(cat "$SL_TMP/phases.json")
sl_check weights-mid-connection "$out" \
	eval '[ "$(sl_jget "$SL_TMP/phases.json" "d[\"fail\"] == 0 and d[\"p2\"] == {\"v2\": 100} and d[\"p1\"].get(\"v1a\", 0) + d[\"p1\"].get(\"v1b\", 0) > 0")" = True ]'

# 9. GOAWAY from an upstream: the stream it still carries finishes, and the
# next stream opens a new upstream session (one per endpoint so far).
c0=$(grep -c '^conn' "$SL_TMP/h2-v2.log")
out=$(sl_nsx client timeout 30 "$SL_PY" "$SL_E2E/h2_client.py" goaway "$SL_VIP4")
c1=$(grep -c '^conn' "$SL_TMP/h2-v2.log")
sl_check upstream-goaway "$out; v2 connections +$((c1 - c0)), GOAWAYs sent $(grep -c goaway-sent "$SL_TMP/h2-v2.log")" \
	eval '[ "$(sl_jget <(echo "$out") "d == {\"a\": \"v2\", \"b\": \"v2\", \"c\": \"v2\"}")" = True ] && [ $((c1 - c0)) = 1 ] && grep -q goaway-sent "$SL_TMP/h2-v2.log"'

# 10. A client that reads nothing of a 32 MiB response: the windows hold the
# backend back (it gets less than 2 MiB out, and then nothing more), so
# nothing piles up on the node; once the client reads, all of it arrives.
gate=$SL_TMP/stall
sl_nsx client timeout 150 "$SL_PY" "$SL_E2E/h2_client.py" stall "$SL_VIP4" 32 "$gate" \
	>"$SL_TMP/stall.json" 2>&1 &
st=$!
big_sent() { grep -h '^big-sent' "$SL_TMP"/h2-*.log | tail -1 | cut -d' ' -f2; }
sl_wait_for 30 _gate || sl_fail stall-gate "the client never asked"
sleep 2
s1=$(big_sent)
sleep 1
s2=$(big_sent)
touch "$gate.go"
wait "$st"
sl_check stalled-client-holds-backend "backend sent ${s1:-?} then ${s2:-?} bytes of $((32 << 20)) while the client read nothing" \
	eval '[ -n "$s1" ] && [ "$s1" = "$s2" ] && [ "$s1" -lt $((2 << 20)) ]'
sl_check stalled-client-gets-all "$(cat "$SL_TMP/stall.json")" \
	eval '[ "$(sl_jget "$SL_TMP/stall.json" "d == {\"bytes\": $((32 << 20)), \"done\": True}")" = True ]'

# 10b. The other way: a backend that reads nothing of a request body holds
# the client back (the client gets less than 2 MiB out in 3 s, instead of
# all it can), and the node holds at most our window of it.
out=$(sl_nsx client timeout 30 "$SL_PY" "$SL_E2E/h2_client.py" upstall "$SL_VIP4")
got=$(grep -h '^stalled ' "$SL_TMP"/h2-*.log | tail -1 | cut -d' ' -f2)
sent=$(sl_jget <(echo "$out") 'd["sent"]')
sl_check stalled-backend-holds-client "client sent ${sent:-?} bytes in 3 s, the backend got ${got:-?}" \
	eval '[ -n "$got" ] && [ "${sent:-0}" -gt 0 ] && [ "$sent" -lt $((2 << 20)) ] && [ $((sent - got)) -le $((512 << 10)) ]'

# 11. Hot restart: an HTTP/2 session cannot be handed over mid-flight (its
# state is nghttp2's), so its client gets a GOAWAY from the predecessor and
# reconnects; the successor serves the new connection per stream.
gate=$SL_TMP/restart
sl_nsx client timeout 60 "$SL_PY" "$SL_E2E/h2_client.py" restart "$SL_VIP4" "$gate" \
	>"$SL_TMP/restart.json" 2>&1 &
rp=$!
sl_wait_for 30 _gate || sl_fail restart-gate "the client never asked"
old=$SL_RUN_PID
SL_READY_SERVICE=$SVC sl_run_start "$SL_CFG" || sl_die "the successor did not start"
sl_reap "$old" 20
old_rc=$?
touch "$gate.go"
wait "$rp"
sl_check restart-goaway-to-client "predecessor exit $old_rc; $(cat "$SL_TMP/restart.json")" \
	eval '[ "$old_rc" = 0 ] && [ "$(sl_jget "$SL_TMP/restart.json" "d[\"goaway\"] and d[\"first\"] in (\"v1a\", \"v1b\", \"v2\")")" = True ]'
sl_wait_for 20 _l7_ready || sl_die "the successor is not ready"
out=$(sl_nsx client h2load -c 1 -m 10 -n 50 -H "$HDR" "http://$SL_VIP4/" 2>&1)
sl_check restart-successor-serves "$(grep -E '^requests:' <<<"$out")" \
	eval 'grep -q "^requests: 50 total, 50 started, 50 done, 50 succeeded" <<<"$out"'

# 12. Nothing left behind: the client connections are gone from the L7 step.
_idle() { sl_status "$SL_TMP/s9.json" && [ "$(sl_jget "$SL_TMP/s9.json" "d['l7']['counters']['active']")" = 0 ]; }
sl_wait_for 10 _idle
sl_check connections-closed "active $(sl_jget "$SL_TMP/s9.json" "d['l7']['counters']['active']")" _idle
sl_check run-alive "pid $SL_RUN_PID" eval '! _sl_gone "$SL_RUN_PID"'

# 13. SIGTERM: the stream in flight finishes after the client got a GOAWAY
# (its next streams go to a new connection, the kernel path while we drain).
# nghttp shows the frames (Python's h2 refuses a response after a GOAWAY).
_in_flight() { [ "$(cat "$SL_TMP"/h2-*.log | grep -c '^req /slow?ms=1501')" = 1 ]; }
sl_bg dp client "$SL_TMP/drain.out" timeout 30 nghttp -v "http://$SL_VIP4/slow?ms=1501"
sl_wait_for 20 _in_flight || sl_fail drain-in-flight "the request never reached a backend"
sl_run_stop TERM
rc=$?
sl_reap "$dp" 30
nrc=$?
body=$(grep -xE 'v[12][ab]?' "$SL_TMP/drain.out")
sl_check drain-goaway-then-finishes "run exit $rc, nghttp exit $nrc, body '$body', $(grep -c 'recv GOAWAY' "$SL_TMP/drain.out") GOAWAY" \
	eval '[ "$rc" = 0 ] && [ "$nrc" = 0 ] && grep -q "recv GOAWAY" "$SL_TMP/drain.out" && [ -n "$body" ]'

# 14. --l7-idle-timeout: a client connection without a stream that moves
# nothing for that long gets a GOAWAY (counted as idle_timeout).
SL_READY_SERVICE=$SVC sl_run_start "$SL_CFG" -- --l7-idle-timeout 2 || sl_die "run did not start"
sl_wait_for 20 _l7_ready || sl_die "the L7 listener is not published"
gate=$SL_TMP/idle
touch "$gate.go"
t0=$(_sl_us)
out=$(sl_nsx client timeout 30 "$SL_PY" "$SL_E2E/h2_client.py" restart "$SL_VIP4" "$gate")
ms=$((($(_sl_us) - t0) / 1000))
sl_status "$SL_TMP/s14.json"
sl_check idle-goaway "$out after $ms ms; idle_timeout $(sl_jget "$SL_TMP/s14.json" "d['l7']['counters']['idle_timeout']")" \
	eval '[ "$(sl_jget <(echo "$out") "d[\"goaway\"]")" = True ] && [ "$ms" -ge 1500 ] && [ "$(sl_jget "$SL_TMP/s14.json" "d[\"l7\"][\"counters\"][\"idle_timeout\"]")" -ge 1 ]'

sl_finish
