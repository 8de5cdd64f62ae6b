#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# HTTP/1.1 routed per request (docs/l7.md): real keep-alive backends
# (h1_backend.py), real clients on ONE kept connection (h1_client.py, curl).
# The pooled case both ways (tester and ordinary requests alternating,
# 20/20), pooled upstream connections, pipelining, framing (HEAD, chunked,
# 204, Expect: 100-continue, chunked upload), the smuggling shapes (400 and
# closed), a WebSocket echo through an upgrade, the per-request split opt-in
# (400 requests on one connection at 50/50), weights changed mid-connection,
# a CONNECT tunnel,
# a hot restart in the middle of a kept-alive session, and which path each
# port takes (check, status).
# shellcheck disable=SC2016
set -uo pipefail
SL_TEST_NAME=l7pr
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

VIP_HDR=10.96.0.10
VIP_OPT=10.96.0.13
VIP_PLAIN=10.96.0.12
CFG=$SL_TMP/etc/perreq.yaml
HC="$SL_E2E/h1_client.py"

l7c() { sl_jget "$1" "d['l7']['counters']['$2']"; }
hc() { sl_nsx client timeout 120 "$SL_PY" "$HC" "$@"; }
# jt FILE EXPR: EXPR (python, on the JSON object d) is true
jt() { [ "$(sl_jget "$1" "bool($2)")" = True ]; }
# ok2xx FILE SUBSET: the 2xx responses counted in the subset's row of service hdr
ok2xx() { sl_jget "$1" "[u for s in d['services'] if s['name'] == 'hdr' for u in s['subsets'] if u['name'] == '$2'][0]['http_responses']['2xx']"; }
path_of() { sl_jget "$1" "[p['path'] for s in d['services'] if s['name'] == '$2' for p in s['ports']][0]"; }

sl_topo_up
for b in v1a v2; do
	sl_bg pid "$b" "$SL_TMP/h1-$b.log" "$SL_PY" "$SL_E2E/h1_backend.py" "$b" --port 8081
done
_h1_up() { [ "$(sl_nsx node curl -s --max-time 1 "http://$1:8081/")" = "$2" ]; }
sl_wait_for 10 _h1_up 10.0.1.10 v1a || sl_die "h1 backend v1a not answering"
sl_wait_for 10 _h1_up 10.0.2.10 v2 || sl_die "h1 backend v2 not answering"

cat >"$CFG" <<EOF
services:
  # header route: the tester to v2, everyone else to v1 (weights 100/0)
  - name: hdr
    vips: [$VIP_HDR]
    ports: [{port: 80, protocol: HTTP, targetPort: 8081}]
    subsets:
      v1: {endpoints: [10.0.1.10]}
      v2: {endpoints: [10.0.2.10]}
    routes:
      - match: {headers: {canary: {exact: canary-tester}}}
        split: {v2: 100}
      - split: {v1: 100}
  # a plain weighted split, per request by choice
  - name: opt
    vips: [$VIP_OPT]
    perRequest: true
    ports: [{port: 80, targetPort: 8081}]
    subsets:
      v1: {endpoints: [10.0.1.10]}
      v2: {endpoints: [10.0.2.10]}
    routes:
      - split: {v1: 50, v2: 50}
  # the same without the opt-in: the kernel, per connection
  - name: plain
    vips: [$VIP_PLAIN]
    ports: [{port: 80, targetPort: 8081}]
    subsets:
      v1: {endpoints: [10.0.1.10]}
      v2: {endpoints: [10.0.2.10]}
    routes:
      - split: {v1: 50, v2: 50}
EOF

# 1. Which path each port takes, before and after it runs.
out=$(sl_sluice check --config "$CFG" 2>&1)
sl_check check-paths "$(tr '\n' ';' <<<"$out")" \
	eval 'grep -q "hdr 80/TCP: L7 (per request: http routes)" <<<"$out" &&
		grep -q "opt 80/TCP: L7 (per request: per-request split opt-in)" <<<"$out" &&
		grep -q "plain 80/TCP: kernel (per connection)" <<<"$out"'

SL_READY_SERVICE=hdr
sl_run_start "$CFG" c1 -- --l7-head-max 16384 --l7-threads 2 ||
	sl_die "sluice run did not attach and apply"
_ready() { sl_l7_ready hdr; }
sl_wait_for 20 _ready || sl_die "the L7 listener is not up"
# one listener per thread, one SO_REUSEPORT group (one port)
listeners() { sl_nsx node ss -Hltn src 127.0.0.1 | awk '{print $4}' | sort | uniq -c | awk '{print $1}'; }
sl_check listener-per-thread "$(listeners) IPv4 listeners on one port" test "$(listeners)" = 2
sl_status "$SL_TMP/s0.json"
sl_check status-paths "hdr: $(path_of "$SL_TMP/s0.json" hdr); opt: $(path_of "$SL_TMP/s0.json" opt); plain: $(path_of "$SL_TMP/s0.json" plain)" \
	eval '[ "$(path_of "$SL_TMP/s0.json" hdr)" = "L7 (per request: http routes)" ] &&
		[ "$(path_of "$SL_TMP/s0.json" opt)" = "L7 (per request: per-request split opt-in)" ] &&
		[ "$(path_of "$SL_TMP/s0.json" plain)" = "kernel (per connection)" ]'

# 2. The pooled case, both orders: 20 tester and 20 ordinary requests
# alternating on one kept connection; each goes where its own head says.
for first in tester plain; do
	sl_status "$SL_TMP/a0.json"
	hc alternate "$VIP_HDR" 20 "$first" >"$SL_TMP/alt-$first.json"
	sl_status "$SL_TMP/a1.json"
	acc=$(($(l7c "$SL_TMP/a1.json" accepted) - $(l7c "$SL_TMP/a0.json" accepted)))
	hdr=$(($(l7c "$SL_TMP/a1.json" header_route) - $(l7c "$SL_TMP/a0.json" header_route)))
	dfl=$(($(l7c "$SL_TMP/a1.json" default_route) - $(l7c "$SL_TMP/a0.json" default_route)))
	r1=$(($(ok2xx "$SL_TMP/a1.json" v1) - $(ok2xx "$SL_TMP/a0.json" v1)))
	r2=$(($(ok2xx "$SL_TMP/a1.json" v2) - $(ok2xx "$SL_TMP/a0.json" v2)))
	sl_check "pooled-$first-first" "$(cat "$SL_TMP/alt-$first.json"); accepted +$acc, header_route +$hdr, default_route +$dfl; 2xx counted per request: v1 +$r1, v2 +$r2" \
		eval 'jt "$SL_TMP/alt-$first.json" "d[\"got\"] == {\"tester\": {\"v2\": 20}, \"plain\": {\"v1a\": 20}} and d[\"fail\"] == 0 and d[\"reconnects\"] == 0" &&
			[ "$acc" = 1 ] && [ "$hdr" = 20 ] && [ "$dfl" = 20 ] && [ "$r1" = 20 ] && [ "$r2" = 20 ]'
done
# The upstream side is pooled: 40 requests per order, a handful of upstream
# connections per backend (X-Conn: the backend's own connection number).
sl_check upstream-pooled "$(sl_jget "$SL_TMP/alt-plain.json" 'd["upstream_conns"]') distinct upstream connections" \
	jt "$SL_TMP/alt-plain.json" 'all(n <= 2 for n in d["upstream_conns"].values())'

# 3. Pipelined: three requests in one write, answered in order.
hc pipeline "$VIP_HDR" >"$SL_TMP/pipe.json"
sl_check pipelined-in-order "$(cat "$SL_TMP/pipe.json")" \
	jt "$SL_TMP/pipe.json" 'd["order"] == ["v2", "v1a", "v2"]'

# 4. Framing on one connection: HEAD, chunked, 204, a 3 MB POST with
# Expect: 100-continue, the same chunked, then a plain GET.
hc framing "$VIP_HDR" >"$SL_TMP/framing.json"
want='"v2 " + d["expect_want"] + " " + d["sha"]'
sl_check framing-one-connection "$(cut -c1-400 "$SL_TMP/framing.json")" \
	jt "$SL_TMP/framing.json" "d['head'] == [200, 0] and d['chunked'] == [200, 41, 'v2'] and
		d['nocontent'] == [204, 0] and d['after'] == [200, 'v2'] and
		d['expect'] == [200, $want] and d['chunked_post'] == [200, $want] and
		d['fail'] == 0 and d['reconnects'] == 0"

# 5. Request smuggling shapes: 400, and the connection closes.
sl_status "$SL_TMP/m0.json"
n_shapes=0
for shape in cl-te double-cl obs-fold te-space bad-chunk big-head; do
	hc smuggle "$VIP_HDR" "$shape" >"$SL_TMP/sm-$shape.json"
	n_shapes=$((n_shapes + 1))
	sl_check "smuggle-$shape-400" "$(cat "$SL_TMP/sm-$shape.json")" \
		jt "$SL_TMP/sm-$shape.json" 'd["status_line"] == "HTTP/1.1 400 Bad Request" and d["closed"] is not False'
done
sl_status "$SL_TMP/m1.json"
sl_check smuggle-counted "bad_request +$(($(l7c "$SL_TMP/m1.json" bad_request) - $(l7c "$SL_TMP/m0.json" bad_request)))" \
	eval '[ $(($(l7c "$SL_TMP/m1.json" bad_request) - $(l7c "$SL_TMP/m0.json" bad_request))) = "$n_shapes" ]'

# 6. WebSocket: the upgrade goes where the head says, then a spliced tunnel.
hc ws "$VIP_HDR" >"$SL_TMP/ws.json"
sl_check websocket-echo "$(cat "$SL_TMP/ws.json")" \
	jt "$SL_TMP/ws.json" 'd["status"] == 101 and d["backend"] == "v2" and d["echoed"] == 20'
# CONNECT: the same, after its 2xx (200 kB each way).
hc connect "$VIP_HDR" >"$SL_TMP/connect.json"
sl_check connect-tunnel "$(cat "$SL_TMP/connect.json")" \
	jt "$SL_TMP/connect.json" 'd["status"] == 200 and d["backend"] == "v2" and d["echoed"]'

# 7. The opt-in: 400 requests on one connection at 50/50 (sd 10): each
# request picked on its own, so within 4.2 sd of 200 each.
hc seq "$VIP_OPT" 400 >"$SL_TMP/opt.json"
v1=$(sl_jget "$SL_TMP/opt.json" 'd["got"].get("v1a", 0)')
sl_check opt-in-split-per-request "$(cat "$SL_TMP/opt.json")" \
	eval 'jt "$SL_TMP/opt.json" "d[\"fail\"] == 0 and d[\"reconnects\"] == 0 and sum(d[\"got\"].values()) == 400" &&
		[ "$v1" -ge 158 ] && [ "$v1" -le 242 ]'
# Without it: one connection, one backend.
hc seq "$VIP_PLAIN" 40 >"$SL_TMP/plain.json"
sl_check no-opt-in-per-connection "$(cat "$SL_TMP/plain.json")" \
	jt "$SL_TMP/plain.json" 'len(d["got"]) == 1 and d["fail"] == 0 and sum(d["got"].values()) == 40'

# 8. Weights changed in the middle of a connection apply to its next request.
flag=$SL_TMP/weights.flag
sl_sluice weights opt v1=100 v2=0 >/dev/null
sl_bg wpid client "$SL_TMP/w.json" "$SL_PY" "$HC" weights "$VIP_OPT" 20 "$flag"
sl_wait_for 30 test -e "$flag.asked"
sl_sluice weights opt v1=0 v2=100 >/dev/null
touch "$flag"
sl_reap "$wpid" 60
sl_check weights-mid-connection "$(cat "$SL_TMP/w.json")" \
	jt "$SL_TMP/w.json" 'd["before"] == {"v1a": 20} and d["after"] == {"v2": 20} and d["fail"] == 0 and d["reconnects"] == 0'

# 9. Hot restart in the middle of a kept-alive session: 300 requests 20 ms
# apart on one connection; a successor takes over half-way; none is lost.
sl_bg kpid client "$SL_TMP/keep.json" "$SL_PY" "$HC" seq "$VIP_HDR" 300 0.02
sleep 2
old=$SL_RUN_PID
sl_status "$SL_TMP/h0.json"
echo "--- successor $(date +%T.%N)" >>"$SL_RUN_LOG"
sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run --config "$CFG" \
	--iface c1 --l7-head-max 16384 --l7-threads 2
sl_reap "$old" 20
old_rc=$?
sl_reap "$kpid" 60
sl_wait_for 20 _ready || sl_die "the successor is not ready"
sl_status "$SL_TMP/h1.json"
sl_check hot-restart-listeners-kept "$(listeners) IPv4 listeners on one port" test "$(listeners)" = 2
sl_check hot-restart-keepalive-no-loss "$(cat "$SL_TMP/keep.json"); predecessor exit $old_rc; taken_over $(l7c "$SL_TMP/h1.json" taken_over)" \
	eval 'jt "$SL_TMP/keep.json" "d[\"got\"] == {\"v1a\": 300} and d[\"fail\"] == 0 and d[\"reconnects\"] == 0" &&
		[ "$old_rc" = 0 ] && [ "$(l7c "$SL_TMP/h1.json" taken_over)" -ge 1 ]'

sl_finish
