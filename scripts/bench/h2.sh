#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# HTTP/2 (h2c) through the L7 step, per stream, with h2load: what a proxied
# stream costs, against no proxy at all and against nginx doing the same
# per-request split over HTTP/2 to its upstreams. Runs on its own (own
# topology, own table, results in build/bench-h2-results.json); meant to
# join `make bench` as part of its L7 section.
#
#   sudo scripts/bench/h2.sh          (3 runs, 100,000 requests each)
#   sudo QUICK=1 scripts/bench/h2.sh  (1 run, 20,000 requests)
#
# Backends: nghttpd --no-tls (C, one thread) in the three backend
# namespaces of scripts/netns-lib.sh, each serving its own name. The client
# runs `h2load -c C -m M -n N` (C connections, M streams in flight on each).
# Contenders, one at a time:
#   direct  straight to one backend (v2) over the node's routing: the floor
#   sluice  sluice run, a service with a header route (so its port is L7):
#           each stream picked at 50/50, pooled HTTP/2 sessions upstream
#   nginx   nginx (one worker) on the VIP: `listen ... http2` (h2c prior
#           knowledge), split_clients on $request_id (per request) 50/50,
#           map $http_canary, grpc_pass (HTTP/2 to the upstreams, keep-alive)
# CPU: user + system time of the proxy's processes over the run, per request.
set -uo pipefail
SL_TEST_NAME=bench-h2
. "$(dirname "$0")/../netns-lib.sh"

QUICK=${QUICK:-}
RUNS=${RUNS:-$([ -n "$QUICK" ] && echo 1 || echo 3)}
N=${N:-$([ -n "$QUICK" ] && echo 20000 || echo 100000)}
C=${C:-10}
M=${M:-10}
RESULTS=${RESULTS_H2:-$SL_ROOT/build/bench-h2-results.json}
HANDOFF=/run/sluice/$(basename "$SL_PIN_DIR").handoff
TICK_NS=$((1000000000 / $(getconf CLK_TCK)))

for t in h2load nghttpd nginx; do
	command -v "$t" >/dev/null || sl_die "missing tool: $t (scripts/install-deps.sh)"
done
trap 'rc=$?; rm -f "$HANDOFF"; (exit $rc); sl_cleanup' EXIT

sl_topo_up
for b in $SL_BACKENDS; do
	name=${b%%:*}
	mkdir -p "$SL_TMP/www-$name"
	echo "$name" >"$SL_TMP/www-$name/index.html"
	sl_bg pid "$name" "$SL_TMP/nghttpd-$name.log" nghttpd --no-tls -n 1 \
		-d "$SL_TMP/www-$name" 8082
done
_up() { sl_nsx node h2load -c 1 -n 1 "http://10.0.2.10:8082/" 2>/dev/null | grep -q '1 succeeded'; }
sl_wait_for 10 _up || sl_die "nghttpd not answering"

cat >"$SL_CFG" <<EOF
services:
  - name: h2svc
    vips: [$SL_VIP4]
    ports:
      - {port: 80, protocol: TCP, targetPort: 8082}
    subsets:
      v1: {endpoints: [10.0.1.10, 10.0.1.11]}
      v2: {endpoints: [10.0.2.10]}
    routes:
      - match: {headers: {canary: {exact: canary-tester}}}
        split: {v2: 100}
      - split: {v1: 50, v2: 50}
EOF

ND=$SL_TMP/nginx
mkdir -p "$ND"
cat >"$ND/nginx.conf" <<EOF
daemon off;
master_process on;
pid $ND/nginx.pid;
error_log $ND/error.log error;
worker_processes 1;
events { worker_connections 4096; }
http {
  client_body_temp_path $ND/body; proxy_temp_path $ND/proxy;
  fastcgi_temp_path $ND/fcgi; uwsgi_temp_path $ND/uwsgi; scgi_temp_path $ND/scgi;
  access_log off;
  keepalive_requests 1000000; # per client connection (1000 by default: then GOAWAY)
  split_clients "\$request_id" \$split { 50% v1; * v2; }
  map \$http_canary \$pool { canary-tester v2; default \$split; }
  upstream v1 { server 10.0.1.10:8082; server 10.0.1.11:8082; keepalive 64; }
  upstream v2 { server 10.0.2.10:8082; keepalive 64; }
  server {
    listen $SL_VIP4:80 http2 backlog=4096;
    location / { grpc_pass grpc://\$pool; }
  }
}
EOF

# proc_ticks PID: user + system jiffies of PID and its children.
proc_ticks() {
	local pid=$1 t c
	[ -r "/proc/$pid/stat" ] || { echo 0; return; }
	t=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
	for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		t=$((t + $(proc_ticks "$c")))
	done
	echo "$t"
}

PROC=
up() {
	case $1 in
	direct) PROC= ;;
	sluice)
		SL_READY_SERVICE=h2svc sl_run_start "$SL_CFG" || sl_die "sluice run did not start"
		_l7() { sl_l7_ready h2svc; }
		sl_wait_for 20 _l7 || sl_die "no L7 listener"
		PROC=$SL_RUN_PID
		;;
	nginx)
		sl_nsx node ip addr add "$SL_VIP4/32" dev lo
		sl_bg PROC node "$ND/out.log" nginx -c "$ND/nginx.conf" -p "$ND"
		_ng() { sl_nsx client h2load -c 1 -n 1 "http://$SL_VIP4/" 2>/dev/null | grep -q '1 succeeded'; }
		sl_wait_for 10 _ng || sl_die "nginx not answering: $(tail -3 "$ND/error.log")"
		;;
	esac
}
down() {
	case $1 in
	sluice)
		sl_run_stop
		sl_sluice down >/dev/null 2>&1
		rm -rf "$SL_PIN_DIR" "$HANDOFF"
		;;
	nginx)
		sl_stop "$PROC" QUIT
		sl_nsx node ip addr del "$SL_VIP4/32" dev lo
		;;
	esac
	PROC=
}

: >"$SL_TMP/raw.jsonl"
for run in $(seq 1 "$RUNS"); do
	for k in direct sluice nginx; do
		up "$k"
		url="http://$SL_VIP4/"
		[ "$k" = direct ] && url="http://10.0.2.10:8082/"
		t0=$([ -n "$PROC" ] && proc_ticks "$PROC" || echo 0)
		out=$(sl_nsx client h2load -c "$C" -m "$M" -n "$N" "$url" 2>&1)
		t1=$([ -n "$PROC" ] && proc_ticks "$PROC" || echo 0)
		ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
		rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
		mean=$(awk '/^time for request:/ { print $6 }' <<<"$out")
		cpu=$(((t1 - t0) * TICK_NS / N))
		echo "{\"run\": $run, \"key\": \"$k\", \"ok\": ${ok:-0}, \"rps\": ${rps:-0}, \"mean\": \"$mean\", \"cpu_ns_per_req\": $cpu}" |
			tee -a "$SL_TMP/raw.jsonl"
		down "$k"
	done
done

"$SL_PY" - "$SL_TMP/raw.jsonl" "$RESULTS" "$N" "$C" "$M" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
out = {"n": int(sys.argv[3]), "c": int(sys.argv[4]), "m": int(sys.argv[5]), "contenders": {}}
print(f"\nh2load -c {out['c']} -m {out['m']} -n {out['n']}, medians of {len(rows) // 3} run(s)\n")
print("| contender | succeeded | requests/s | mean time per request | proxy CPU per request |")
print("|---|---|---|---|---|")
for k in ("direct", "sluice", "nginx"):
    r = [x for x in rows if x["key"] == k]
    m = {"ok": min(x["ok"] for x in r), "rps": statistics.median(x["rps"] for x in r),
         "mean": r[len(r) // 2]["mean"], "cpu_ns": statistics.median(x["cpu_ns_per_req"] for x in r)}
    out["contenders"][k] = m
    cpu = "-" if k == "direct" else f"{m['cpu_ns'] / 1000:.1f} us"
    print(f"| {k} | {m['ok']} | {m['rps']:.0f} | {m['mean']} | {cpu} |")
json.dump(out, open(sys.argv[2], "w"), indent=1)
EOF
sl_finish
