#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice run --metrics`: after a 90/10 burst, /metrics passes `promtool
# check metrics` (with and without --metrics-istio) and says exactly what
# `sluice status -j` says; the other routes answer as documented; bad
# --metrics arguments exit 1 and a port in use exits 2. Then a real
# Prometheus server scrapes it every second while a second burst runs, and a
# PromQL query for the v2 share of the new connections of that burst matches
# the split the client saw, within a point.
# shellcheck disable=SC2016,SC2317,SC2119,SC2012
set -uo pipefail
SL_TEST_NAME=metrics
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

N=${SL_METRICS_N:-2000}
CFG=$SL_CFG
# The node is a fresh network namespace: any port is free there.
PORT=9464
PROM_PORT=9465
PROM=$SL_TMP/prom.py

for t in promtool prometheus; do
	command -v "$t" >/dev/null || sl_die "missing tool: $t (Debian package prometheus)"
done

# Parses the text exposition and compares it with `sluice status -j`.
cat >"$PROM" <<'EOF'
import json, re, sys

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
# What Kiali's graph groups Istio's metrics by (graph/telemetry/istio/istio.go).
KIALI = ("source_workload_namespace source_workload source_canonical_service "
         "source_canonical_revision destination_service_namespace destination_service "
         "destination_service_name destination_workload_namespace destination_workload "
         "destination_canonical_service destination_canonical_revision response_flags "
         "reporter request_protocol").split()

def parse(path):
    out = {}
    for line in open(path):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise SystemExit("unparsable line: %r" % line)
        out.setdefault(m.group(1), []).append((dict(LABEL.findall(m.group(2) or "")),
                                               float(m.group(3))))
    return out

def value(metrics, name, **want):
    found = [v for lab, v in metrics.get(name, [])
             if all(lab.get(k) == w for k, w in want.items())]
    return found[0] if len(found) == 1 else None

def subsets(status, svc):
    for s in status["services"]:
        if s["name"] == svc:
            return s["subsets"]
    return []

def compare(metrics, status, svc):
    bad = []
    def eq(what, got, want):
        if got != want:
            bad.append("%s: metrics %s, status %s" % (what, got, want))
    for sub in subsets(status, svc):
        sel = dict(service=svc, namespace="default", subset=sub["name"])
        pairs = [("sluice_connections_opened_total", {}, "connections_opened"),
                 ("sluice_connections_closed_total", {}, "connections_closed"),
                 ("sluice_connections_active", {}, "connections_active"),
                 ("sluice_packets_total", {"direction": "in"}, "packets_in"),
                 ("sluice_packets_total", {"direction": "out"}, "packets_out"),
                 ("sluice_bytes_total", {"direction": "in"}, "bytes_in"),
                 ("sluice_bytes_total", {"direction": "out"}, "bytes_out"),
                 ("sluice_backend_resets_total", {}, "backend_resets"),
                 ("sluice_route_weight", {}, "weight")]
        for name, extra, field in pairs:
            eq("%s%s{%s}" % (name, extra or "", sub["name"]),
               value(metrics, name, **sel, **extra), float(sub[field]))
        for cls, n in sub.get("http_responses", {}).items():
            cls = cls if cls.endswith("xx") else cls + "x"  # "2x" or "2xx"
            eq("http %s{%s}" % (cls, sub["name"]),
               value(metrics, "sluice_http_responses_total", **sel, code_class=cls), float(n))
    return bad

def istio(metrics, status, svc):
    bad = []
    for sub in subsets(status, svc):
        sel = dict(destination_service_name=svc, destination_canonical_revision=sub["name"])
        for name, field in (("istio_tcp_connections_opened_total", "connections_opened"),
                            ("istio_tcp_connections_closed_total", "connections_closed"),
                            ("istio_tcp_sent_bytes_total", "bytes_out"),
                            ("istio_tcp_received_bytes_total", "bytes_in")):
            got = value(metrics, name, **sel)
            if got != float(sub[field]):
                bad.append("%s{%s}: %s, status %s" % (name, sub["name"], got, sub[field]))
        for code, n in sub.get("http_codes", {}).items():
            got = value(metrics, "istio_requests_total", **sel, response_code=code)
            if got != float(n):
                bad.append("istio_requests_total{%s,%s}: %s, status %s" % (sub["name"], code, got, n))
    for name, series in metrics.items():
        if not name.startswith("istio_"):
            continue
        for lab, _ in series:
            missing = [k for k in KIALI if not lab.get(k)]
            if missing:
                bad.append("%s lacks %s" % (name, ",".join(missing)))
            if lab.get("reporter") != "destination" or lab.get("source_workload") != "unknown" \
               or lab.get("destination_service") != "%s.default.svc.cluster.local" % svc \
               or lab.get("destination_workload") != "%s-%s" % (svc, lab.get("destination_version")):
                bad.append("%s labels %s" % (name, lab))
    if not metrics.get("istio_tcp_connections_opened_total"):
        bad.append("no istio_tcp_connections_opened_total")
    return bad

cmd, args = sys.argv[1], sys.argv[2:]
if cmd in ("compare", "istio"):
    m, st = parse(args[0]), json.load(open(args[1]))
    bad = (compare if cmd == "compare" else istio)(m, st, args[2])
    if not subsets(st, args[2]):  # nothing compared is not "all equal"
        bad.append("no subsets of %s in status" % args[2])
    print("; ".join(bad[:6]) or "all equal")
    sys.exit(1 if bad else 0)
elif cmd == "get":  # get FILE NAME [k=v ...]
    print(value(parse(args[0]), args[1], **dict(a.split("=", 1) for a in args[2:])))
elif cmd == "promql":  # promql FILE: the value of a one-sample query result
    d = json.load(open(args[0]))
    r = d.get("data", {}).get("result", [])
    print(r[0]["value"][1] if d.get("status") == "success" and len(r) == 1 else "none")
EOF

# _names_arg RC OUT WHAT: exit status 1 and WHAT named in the message.
_names_arg() { [ "$1" = 1 ] && [[ "$2" == *"$3"* ]]; }

mcurl() { sl_nsx node curl -s --max-time 5 "$@"; }

# _metrics_start ADDR [ARGS...]: `sluice run --metrics ADDR ARGS` in the node.
_metrics_start() {
	local addr=$1
	shift
	SL_RUN_LOG=$SL_TMP/run.log
	echo "--- sluice run --metrics $addr $* started $(date +%T.%N)" >>"$SL_RUN_LOG"
	sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run \
		--config "$CFG" --iface c1 --metrics "$addr" "$@"
	sl_wait_for 20 _sl_run_ready && sl_wait_for 10 _healthy "$addr"
}
_healthy() { [ "$(mcurl -g "http://$1/healthz")" = ok ]; }

# _scrape URL OUT: GET URL into OUT, headers into OUT.h.
_scrape() { mcurl -g -D "$2.h" -o "$2" "$1"; }

_quiet() { "$@" >/dev/null 2>&1; }

_promtool() {
	local out
	out=$(promtool check metrics <"$1" 2>&1)
	local rc=$?
	echo "${out:-clean}" | head -5 | tr '\n' ' '
	return "$rc"
}

# The same, but Istio's own histogram name, which Kiali queries as it is,
# breaks promtool's base-unit rule: that one line alone is allowed.
ISTIO_UNIT_LINT='istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"'
_promtool_istio() {
	local out rest
	out=$(promtool check metrics <"$1" 2>&1)
	rest=$(printf '%s\n' "$out" | grep -vF "$ISTIO_UNIT_LINT" | grep -v '^$')
	echo "${rest:-clean}${out:+ (allowed: the Istio histogram name)}" | head -5 | tr '\n' ' '
	[ -z "$rest" ] && printf '%s' "$out" | grep -qF "$ISTIO_UNIT_LINT"
}

sl_topo_up
sl_config "$CFG" 90 10

# 1. Bad --metrics arguments: exit 1 naming the argument, before anything
# is loaded.
for a in abc 0 65536 127.0.0.1: ::1:9090 '[::1]9090' 1.2.3:80 '[nope]:80' 9090x; do
	out=$(sl_sluice run --config "$CFG" --iface c1 --metrics "$a" 2>&1)
	rc=$?
	sl_check "bad-arg[$a]" "exit $rc: $out" _names_arg "$rc" "$out" "--metrics '$a'"
done
out=$(sl_sluice run --config "$CFG" --iface c1 --metrics-istio 2>&1)
rc=$?
sl_check istio-needs-metrics "exit $rc: $out" test "$rc" = 1
sl_check bad-args-loaded-nothing "pins: $(ls -A "$SL_PIN_DIR" 2>/dev/null | head -3 | tr '\n' ' ')" \
	eval '[ -z "$(ls -A "$SL_PIN_DIR" 2>/dev/null)" ]'

# 2. Serving, plain metrics.
ADDR=127.0.0.1:$PORT
_metrics_start "$ADDR" || sl_die "sluice run --metrics $ADDR did not start or never got healthy"
sl_check healthz "$(mcurl -i "http://$ADDR/healthz" | head -1 | tr -d '\r')" _healthy "$ADDR"

# A port held by another program: exit 2, nothing loaded. (Another `sluice
# run` may share the port, SO_REUSEPORT: that is a hot restart, test_l7.)
BUSY=127.0.0.1:$((PORT + 2))
sl_bg busy node "$SL_TMP/busy.log" "$SL_PY" -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", '"$((PORT + 2))"'))
s.listen()
time.sleep(120)'
sl_wait_for 5 sl_nsx node "$SL_PY" -c "import socket; socket.create_connection(('127.0.0.1', $((PORT + 2))), 1)"
out=$(timeout 20 nsenter --net="/var/run/netns/$(sl_ns node)" "$SLUICE" --pin-dir "$SL_PIN_DIR-busy" \
	run --config "$CFG" --iface c1 --metrics "$BUSY" 2>&1)
rc=$?
sl_stop "$busy" KILL
sl_check port-in-use "exit $rc: $out" \
	eval '[ "$rc" = 2 ] && [[ "$out" == *"$BUSY"*"in use"* ]] && [ ! -e "$SL_PIN_DIR-busy" ]'
sl_check port-in-use-first-still-serves "" _healthy "$ADDR"

sl_status "$SL_TMP/before.json" || sl_die "sluice status: $(cat "$SL_TMP/before.json.err")"
sl_burst client "$SL_VIP4" "$N" "$SL_TMP/burst1.json"
sl_check burst1-split "$(sl_counts "$SL_TMP/burst1.json")" \
	eval '[ "$(sl_jget "$SL_TMP/burst1.json" "d[\"fail\"]")" = 0 ]'
sl_check_closed counters-closed "$SL_TMP/before.json" "$SL_TMP/after1.json" "$SL_TMP/burst1.json"

_scrape "http://$ADDR/metrics" "$SL_TMP/m1.txt"
sl_status "$SL_TMP/after1.json"
sl_check metrics-content-type "$(grep -i '^content-type' "$SL_TMP/m1.txt.h" | tr -d '\r')" \
	grep -qi '^content-type: text/plain; version=0.0.4' "$SL_TMP/m1.txt.h"
sl_check promtool "$(_promtool "$SL_TMP/m1.txt")" _quiet _promtool "$SL_TMP/m1.txt"
sl_check metrics-equal-status "$($SL_PY "$PROM" compare "$SL_TMP/m1.txt" "$SL_TMP/after1.json" backend)" \
	$SL_PY "$PROM" compare "$SL_TMP/m1.txt" "$SL_TMP/after1.json" backend
sl_check metrics-help-type "every family has HELP and TYPE" eval \
	'[ "$(grep -c "^# HELP " "$SL_TMP/m1.txt")" = "$(grep -c "^# TYPE " "$SL_TMP/m1.txt")" ] &&
	 grep -q "^# TYPE sluice_connections_opened_total counter" "$SL_TMP/m1.txt" &&
	 grep -q "^# TYPE sluice_connections_active gauge" "$SL_TMP/m1.txt"'
sl_check metrics-reloads "$(grep -E '^sluice_(config_reloads_total|config_last|build_info)' "$SL_TMP/m1.txt" | tr '\n' ' ')" \
	eval 'grep -q "^sluice_config_reloads_total{result=\"success\"} 1$" "$SL_TMP/m1.txt" &&
	 grep -q "^sluice_config_reloads_total{result=\"failure\"} 0$" "$SL_TMP/m1.txt" &&
	 grep -Eq "^sluice_config_last_reload_success_timestamp_seconds 1[0-9]{9}\.[0-9]{3}$" "$SL_TMP/m1.txt" &&
	 grep -Eq "^sluice_build_info\{version=\"[^\"]+\"\} 1$" "$SL_TMP/m1.txt"'
sl_check no-istio-by-default "" eval '! grep -q "^istio_" "$SL_TMP/m1.txt"'
# The L7 step's counters and the datapath events (header routing's among
# them) say what status says; scraped again until nothing moved in between.
_l7_equal() {
	_scrape "http://$ADDR/metrics" "$SL_TMP/m1l7.txt" && sl_status "$SL_TMP/s1l7.json" &&
		$SL_PY "$SL_E2E/jtool.py" metrics-l7 "$SL_TMP/m1l7.txt" "$SL_TMP/s1l7.json"
}
sl_wait_for 5 _l7_equal
sl_check metrics-l7-equal-status "$($SL_PY "$SL_E2E/jtool.py" metrics-l7 "$SL_TMP/m1l7.txt" "$SL_TMP/s1l7.json")" \
	_quiet $SL_PY "$SL_E2E/jtool.py" metrics-l7 "$SL_TMP/m1l7.txt" "$SL_TMP/s1l7.json"
sl_check metrics-l7-types "$(grep -c '^# TYPE sluice_l7_' "$SL_TMP/m1.txt") sluice_l7_ families; $(grep '^# TYPE sluice_l7_connections_active' "$SL_TMP/m1.txt")" \
	eval '[ "$(grep -c "^# TYPE sluice_l7_.*_total counter$" "$SL_TMP/m1.txt")" = 15 ] &&
	 grep -q "^# TYPE sluice_l7_connections_active gauge$" "$SL_TMP/m1.txt" &&
	 [ "$(grep -c "^# HELP sluice_l7_" "$SL_TMP/m1.txt")" = 16 ] &&
	 grep -q "^sluice_datapath_events_total{event=\"l7_local\"} " "$SL_TMP/m1.txt"'

# A rejected config counts as a failure, and changes nothing.
cp "$CFG" "$SL_TMP/good.yaml"
printf 'services: [\n' >"$CFG.tmp" && mv -f "$CFG.tmp" "$CFG"
_failures_are() { [ "$($SL_PY "$PROM" get <(mcurl "http://$ADDR/metrics") sluice_config_reloads_total result="$1")" = "$2" ]; }
sl_check reload-failure-counted "" sl_wait_for 10 _failures_are failure 1.0
cp "$SL_TMP/good.yaml" "$CFG.tmp" && mv -f "$CFG.tmp" "$CFG"
sleep 0.3

# The other routes.
_scrape "http://$ADDR/api/v1/stats" "$SL_TMP/stats.json"
# shellcheck disable=SC2034 # used in the eval below
now_ms=$(($(date +%s%N) / 1000000))
sl_check api-stats "$(head -c 200 "$SL_TMP/stats.json")" eval \
	'grep -qi "^content-type: application/json" "$SL_TMP/stats.json.h" &&
	 $SL_PY -c "
import json, sys
d = json.load(open(sys.argv[1]))
ok = abs(d[\"time_ms\"] - int(sys.argv[2])) < 10000 and d[\"reloads\"][\"success\"] >= 1 \
     and d[\"reloads\"][\"failure\"] == 1 and [s[\"name\"] for s in d[\"services\"]] == [\"backend\"] \
     and \"connections_opened\" in d[\"services\"][0][\"subsets\"][0]
sys.exit(0 if ok else 1)" "$SL_TMP/stats.json" "$now_ms"'
# ... with header routing's parts, as `status -j` has them.
sl_check api-stats-l7 "$(sl_jget "$SL_TMP/stats.json" 'd.get("l7")')" \
	$SL_PY -c '
import json, sys
d, st = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
l7 = d["l7"]
ok = sorted(l7) == sorted(st["l7"]) and sorted(l7["counters"]) == sorted(st["l7"]["counters"]) \
     and l7["listening"] == {"ipv4": True, "ipv6": True} and l7["lookup_link"] is True \
     and all("enforced" in r and "http_match" in r for s in d["services"] for r in s["routes"])
sys.exit(0 if ok else 1)' "$SL_TMP/stats.json" "$SL_TMP/s1l7.json"
_scrape "http://$ADDR/" "$SL_TMP/index.html"
sl_check dashboard "$(wc -c <"$SL_TMP/index.html") bytes, $(grep -i '^content-type' "$SL_TMP/index.html.h" | tr -d '\r')" \
	eval 'grep -qi "^content-type: text/html" "$SL_TMP/index.html.h" && [ -s "$SL_TMP/index.html" ]'
code=$(mcurl -o /dev/null -w '%{http_code}' "http://$ADDR/nope")
sl_check not-found "GET /nope: $code" test "$code" = 404
code=$(mcurl -o /dev/null -w '%{http_code}' -X POST --data x "http://$ADDR/metrics")
sl_check method-not-allowed "POST /metrics: $code" test "$code" = 405
code=$(mcurl -o /dev/null -w '%{http_code}' -X DELETE "http://$ADDR/")
sl_check method-not-allowed-delete "DELETE /: $code" test "$code" = 405

sl_run_stop TERM
rc=$?
sl_check run-exit-with-metrics "exit $rc" test "$rc" = 0

# 3. Restarted with Istio's metrics, on IPv6 loopback: the counters survived
# the restart, and the Istio series carry what Kiali needs.
ADDR6="[::1]:$PORT"
_metrics_start "$ADDR6" --metrics-istio || sl_die "sluice run --metrics $ADDR6 --metrics-istio did not start"
_scrape "http://$ADDR6/metrics" "$SL_TMP/m2.txt"
sl_status "$SL_TMP/after2.json" || sl_fail status-after-restart "$(cat "$SL_TMP/after2.json.err")"
sl_check ipv6-listen "$(wc -l <"$SL_TMP/m2.txt") lines from $ADDR6" test -s "$SL_TMP/m2.txt"
sl_check promtool-istio "$(_promtool_istio "$SL_TMP/m2.txt")" _quiet _promtool_istio "$SL_TMP/m2.txt"
sl_check metrics-equal-status-istio "$($SL_PY "$PROM" compare "$SL_TMP/m2.txt" "$SL_TMP/after2.json" backend)" \
	$SL_PY "$PROM" compare "$SL_TMP/m2.txt" "$SL_TMP/after2.json" backend
sl_check istio-equal-status "$($SL_PY "$PROM" istio "$SL_TMP/m2.txt" "$SL_TMP/after2.json" backend)" \
	$SL_PY "$PROM" istio "$SL_TMP/m2.txt" "$SL_TMP/after2.json" backend
sl_run_stop TERM

# 4. A real Prometheus scrapes it every second during a second burst.
_metrics_start "$ADDR" --metrics-istio || sl_die "sluice run --metrics $ADDR --metrics-istio did not restart"
cat >"$SL_TMP/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: sluice
    static_configs: [{targets: ["$ADDR"]}]
EOF
PURL=http://127.0.0.1:$PROM_PORT
sl_bg PROM_PID node "$SL_TMP/prometheus.log" prometheus \
	--config.file="$SL_TMP/prometheus.yml" --storage.tsdb.path="$SL_TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
sl_wait_for 30 mcurl -f "$PURL/-/ready" ||
	sl_die "prometheus not ready: $(tail -5 "$SL_TMP/prometheus.log")"

# promql QUERY [TIME]: the value of a one-sample instant query.
promql() {
	mcurl -G "$PURL/api/v1/query" --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} \
		>"$SL_TMP/promql.json" && $SL_PY "$PROM" promql "$SL_TMP/promql.json"
}
OPENED='sum(sluice_connections_opened_total{service="backend"})'
# Prometheus has a sample of what status says now.
_prom_has() {
	local want
	sl_status "$SL_TMP/status.prom.json" || return 1
	want=$(sl_jget "$SL_TMP/status.prom.json" 'sum(s["connections_opened"] for s in d["services"][0]["subsets"])')
	[ "$(promql "$OPENED")" = "$want" ]
}
sl_wait_for 20 _prom_has
sl_check prometheus-scrapes "up: $(promql 'up{job="sluice"}')" eval '[ "$(promql "up{job=\"sluice\"}")" = 1 ]'
T0=$(date +%s.%N)
T0=${T0:0:14}
sleep 0.5
sl_burst client "$SL_VIP4" "$N" "$SL_TMP/burst2.json"
sl_check burst2 "$(sl_counts "$SL_TMP/burst2.json")" \
	eval '[ "$(sl_jget "$SL_TMP/burst2.json" "d[\"fail\"]")" = 0 ]'
sl_check prometheus-caught-up "" sl_wait_for 20 _prom_has
T1=$(date +%s.%N)
T1=${T1:0:14}
V2='sluice_connections_opened_total{service="backend",subset="v2"}'
ALL='sluice_connections_opened_total{service="backend"}'
SHARE_Q="100 * (sum($V2 @ $T1) - sum($V2 @ $T0)) / (sum($ALL @ $T1) - sum($ALL @ $T0))"
prom_share=$(promql "$SHARE_Q" "$T1")
cp "$SL_TMP/promql.json" "$SL_TMP/share.json"
client_share=$(sl_share "$SL_TMP/burst2.json" v2)
sl_check promql-v2-share "PromQL $prom_share%, client $client_share% ($(sl_counts "$SL_TMP/burst2.json"))$([ "$prom_share" = none ] && head -c 400 "$SL_TMP/share.json")" \
	$SL_PY -c "import sys; sys.exit(abs(float('$prom_share') - $client_share) > 1)"
sl_check promql-v2-share-near-weight "PromQL $prom_share% vs weight 10%" \
	$SL_PY -c "import sys; sys.exit(abs(float('$prom_share') - 10) > 3)"
# What Kiali asks for its graph (TCP edges from outside the mesh) finds both versions.
KIALI_Q='count(sum(rate(istio_tcp_sent_bytes_total{reporter="destination",source_workload="unknown",destination_workload_namespace="default"}[30s])) by (source_workload_namespace,source_workload,source_canonical_service,source_canonical_revision,destination_service_namespace,destination_service,destination_service_name,destination_workload_namespace,destination_workload,destination_canonical_service,destination_canonical_revision,response_flags) > 0)'
sl_check kiali-tcp-query "series: $(promql "$KIALI_Q")" eval '[ "$(promql "$KIALI_Q")" = 2 ]'

sl_stop "$PROM_PID" TERM 10
rc=$?
sl_check prometheus-stopped "exit $rc" test "$rc" = 0
sl_run_stop TERM
sl_check_csum
sl_finish
