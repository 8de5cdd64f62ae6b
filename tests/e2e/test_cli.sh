#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The command-line contract of README.md, against a running sluice: output
# formats (text, -j, -p), where options may go, prefixes, exit statuses
# (0 ok, 1 invalid, 2 system) and "Error: ..." / {"error": ...}; `weights`,
# `check`, `apply` and `status` in their good and bad cases; what bpftool
# shows of the pins (BTF-formatted, named), who may read the pins, and
# `sluice down` removing everything (pins, filters, the policy route).
# Checks are strings for sl_check to eval (expanded late, on purpose); helpers
# run through sl_check and sl_wait_for.
# shellcheck disable=SC2016,SC2034,SC2317
set -uo pipefail
SL_TEST_NAME=cli
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

CFG=$SL_CFG
PIN=$SL_PIN_DIR
N_CONN=200
OUT=$SL_TMP/out
ERR=$SL_TMP/err
EMPTY_PIN=$SL_TMP/empty-pin-dir
mkdir -p "$EMPTY_PIN"

# x CMD...: run CMD, stdout to $OUT, stderr to $ERR, status in $RC.
x() {
	"$@" >"$OUT" 2>"$ERR"
	RC=$?
}

# The sluice binary in the node, without the library's --pin-dir (for the
# tests of where options go).
sl_raw() { sl_nsx node "$SLUICE" "$@"; }

# Short views of the last command's output for the details.
o() { head -c "${1:-200}" "$OUT" | tr '\n' ' '; }
e() { head -c "${1:-200}" "$ERR" | tr '\n' ' '; }
res() { echo "exit $RC; stdout: $(o "${1:-200}"); stderr: $(e "${1:-200}")"; }

# py CODE FILE...: python with the files as sys.argv[1:]; its output is the
# info, its exit status the verdict. `load(i)` reads argv[i] as JSON.
py() {
	local code=$1
	shift
	$SL_PY -c "import json, sys
def load(i): return json.load(open(sys.argv[i]))
$code" "$@" 2>&1
}

# state: "v1=90 v2=10 overridden=False generation=1" from `-j status`.
state() {
	local f=$SL_TMP/state.json
	sl_status "$f" || { echo "status failed: $(head -c 200 "$f.err")"; return; }
	py '
d = load(1)
s = [s for s in d["services"] if s["name"] == "backend"][0]
print(" ".join("%s=%s" % (x["name"], x["weight"]) for x in s["subsets"]),
      "overridden=%s generation=%s" % (s["overridden"], d["generation"]))' "$f"
}
generation() { state | sed -n 's/.*generation=//p'; }

# ================================================================ setup
sl_topo_up
sl_config "$CFG" 90 10
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=90 v2=10" || sl_die "weights never showed 90/10: $(sl_weights_now)"
sl_burst client "$SL_VIP4" "$N_CONN" "$SL_TMP/burst.json"
[ "$(sl_jget "$SL_TMP/burst.json" 'd["fail"]')" = 0 ] ||
	sl_die "traffic through the VIP failed: $(sl_counts "$SL_TMP/burst.json")"
sl_info "burst: $(sl_counts "$SL_TMP/burst.json")"
# Closes are counted on FIN/RST, a moment after the client is done.
_all_closed() {
	sl_status "$SL_TMP/closed.json" &&
		[ "$(py 'print(sum(x["connections_closed"] for s in load(1)["services"] for x in s["subsets"]))' \
			"$SL_TMP/closed.json")" = "$N_CONN" ]
}
sl_wait_for 5 _all_closed

# ================================================================ status
x sl_sluice status
sl_check status-text-exit "exit $RC, stderr: $(e)" test "$RC" = 0 -a ! -s "$ERR"
sl_check status-text-service "$(grep -E '^service' "$OUT")" \
	grep -Eq '^service backend \(affinity connection\)' "$OUT"
sl_check status-text-ports "$(grep -cE '(10\.96\.0\.10|\[fd00::10\]):(80/TCP -> 8080|53/UDP -> 5353)' "$OUT") port lines" \
	test "$(grep -cE '(10\.96\.0\.10|\[fd00::10\]):(80/TCP -> 8080|53/UDP -> 5353)' "$OUT")" = 4
v1line=$(grep -E '^ +v1 ' "$OUT")
v2line=$(grep -E '^ +v2 ' "$OUT")
sl_check status-text-subset-v1 "$v1line" \
	eval '[[ $v1line =~ ^\ +v1\ +90\  ]] && [[ $v1line == *" 10.0.1.10"* ]] && [[ $v1line == *" 10.0.1.11"* ]] &&
		[[ $v1line == *" fd00:1::10"* ]] && [[ $v1line == *" fd00:1::11"* ]]'
sl_check status-text-subset-v2 "$v2line" \
	eval '[[ $v2line =~ ^\ +v2\ +10\  ]] && [[ $v2line == *" 10.0.2.10"* ]] && [[ $v2line == *" fd00:2::10"* ]]'
sl_check status-text-header "$(grep -E 'SUBSET' "$OUT" | tr -s ' ')" \
	grep -Eq 'SUBSET +WEIGHT +OPENED +CLOSED .*ENDPOINTS' "$OUT"
sl_check status-text-interfaces "$(grep -E '^interfaces' "$OUT")" grep -Eq '^interfaces: c1$' "$OUT"
sl_check status-text-generation "$(head -1 "$OUT")" grep -Eq '^generation [0-9]+, applied ' "$OUT"
sl_check status-text-routes "$(grep -E '^ +[0-9]+ ' "$OUT" | tr -s ' ' | tr '\n' ';')" \
	eval 'grep -Eq "^ +0 sourceLabels +v1=0 v2=100$" "$OUT" && grep -Eq "^ +1 \(default\) +v1=90 v2=10$" "$OUT"'
sl_check status-text-datapath "$(grep -E '^datapath' "$OUT" | head -c 120)" \
	grep -Eq "^datapath: pass=[0-9]+ new_conn=$N_CONN " "$OUT"
# Header routing's parts are there even with no HTTP route to use them.
sl_check status-text-l7 "$(sed -n '/^l7:/,$p' "$OUT" | tr -s ' ' | tr '\n' ';' | head -c 300)" \
	eval 'grep -qx "l7: 0 services with HTTP routes" "$OUT" && grep -qx "  listeners: ipv4 yes, ipv6 yes" "$OUT" &&
		grep -Eq "^  policy route: fwmark 0x5c0000/0xff0000 -> table 1473 \(local\): " "$OUT" &&
		grep -qx "  lookup link: pinned, attached to this network namespace" "$OUT" &&
		grep -Eq "^  counters: accepted=0 active=0 header_route=0 " "$OUT"'

x sl_sluice -j status
cp "$OUT" "$SL_TMP/status.json"
info=$(py '
d = load(1)
raw = open(sys.argv[1]).read()
assert raw.count("\n") == 1, "-j output is not one line: %d lines" % raw.count("\n")
for k in ("generation", "services", "interfaces", "datapath", "conntrack_entries"):
    assert k in d, "top-level %r missing" % k
assert d["interfaces"] == ["c1"], "interfaces %r" % d["interfaces"]
svc = [s for s in d["services"] if s["name"] == "backend"]
assert len(svc) == 1, "service backend not listed once: %r" % [s.get("name") for s in d["services"]]
s = svc[0]
for k in ("name", "affinity", "overridden", "ports", "routes", "subsets"):
    assert k in s, "services[].%s missing" % k
for r in s["routes"]:
    assert r["enforced"] is True and r["http_match"] is None, "route %r" % r
l7 = d["l7"]
assert l7["services"] == 0 and l7["listening"] == {"ipv4": True, "ipv6": True}, l7
assert l7["policy_route"] == {"ipv4_rule": True, "ipv4_route": True, "ipv6_rule": True, "ipv6_route": True}, l7
assert l7["lookup_link"] is True and l7["counters"]["accepted"] == 0, l7
assert s["affinity"] == "connection" and s["overridden"] is False, (s["affinity"], s["overridden"])
ports = sorted((p["vip"], p["port"], p["protocol"]) for p in s["ports"])
assert ports == sorted([("10.96.0.10", 80, "TCP"), ("10.96.0.10", 53, "UDP"),
                        ("fd00::10", 80, "TCP"), ("fd00::10", 53, "UDP")]), ports
counters = ("connections_opened", "connections_closed", "connections_active", "packets_in",
            "bytes_in", "packets_out", "bytes_out", "backend_resets")
subs = {x["name"]: x for x in s["subsets"]}
assert sorted(subs) == ["v1", "v2"], sorted(subs)
for n, x in subs.items():
    for k in ("name", "weight", "endpoints") + counters:
        assert k in x, "subsets[%s].%s missing" % (n, k)
    for k in counters:
        assert type(x[k]) is int and x[k] >= 0, "subsets[%s].%s = %r" % (n, k, x[k])
    assert type(x["weight"]) is int, x["weight"]
    assert type(x["endpoints"]) is list and all(type(e) is str for e in x["endpoints"]), x["endpoints"]
assert subs["v1"]["weight"] == 90 and subs["v2"]["weight"] == 10, "weights"
assert sorted(subs["v1"]["endpoints"]) == sorted(["10.0.1.10", "10.0.1.11", "fd00:1::10", "fd00:1::11"]), subs["v1"]["endpoints"]
assert sorted(subs["v2"]["endpoints"]) == sorted(["10.0.2.10", "fd00:2::10"]), subs["v2"]["endpoints"]
print("fields ok; v1 %s, v2 %s" % tuple(
    {k: subs[n][k] for k in ("weight", "connections_opened", "packets_in", "bytes_out")} for n in ("v1", "v2")))
' "$OUT")
sl_check status-json-fields "exit $RC; $info" eval '[ "$RC" = 0 ] && [[ $info == "fields ok"* ]]'

# The counters add up to what the client did.
want_v1=$(sl_jget "$SL_TMP/burst.json" "fold(d).get('v1', 0)")
want_v2=$(sl_jget "$SL_TMP/burst.json" "fold(d).get('v2', 0)")
info=$(py '
subs = {x["name"]: x for s in load(1)["services"] for x in s["subsets"]}
want = {"v1": int(sys.argv[2]), "v2": int(sys.argv[3])}
bad = []
for n in ("v1", "v2"):
    x = subs[n]
    if x["connections_opened"] != want[n] or x["connections_closed"] != want[n]:
        bad.append("%s opened %d closed %d, client %d" % (n, x["connections_opened"], x["connections_closed"], want[n]))
    if want[n] and not (x["packets_in"] > 0 and x["bytes_in"] > 0 and x["packets_out"] > 0 and x["bytes_out"] > 0):
        bad.append("%s has zero packet/byte counters: %r" % (n, x))
    if x["connections_active"] != 0:
        bad.append("%s connections_active %d" % (n, x["connections_active"]))
print("; ".join(bad) or "v1 %d, v2 %d connections, as the client saw" % (want["v1"], want["v2"]))
sys.exit(1 if bad else 0)' "$SL_TMP/status.json" "$want_v1" "$want_v2")
sl_check status-json-counters "$info" test $? = 0

x sl_sluice -p status
info=$(py '
d, j = load(1), load(2)
raw = open(sys.argv[1]).read()
assert raw.count("\n") > 20 and "\n  \"" in raw, "not pretty-printed"
strip = lambda d: [(s["name"], [(x["name"], x["weight"], x["endpoints"]) for x in s["subsets"]]) for s in d["services"]]
assert strip(d) == strip(j), "differs from -j"
print("%d lines, same services as -j" % raw.count("\n"))' "$OUT" "$SL_TMP/status.json")
sl_check status-pretty-json "exit $RC; $info" eval '[ "$RC" = 0 ] && [[ $info == *"same services"* ]]'

x sl_sluice status -j
sl_check status-json-after-command "$(res)" \
	eval '[ "$RC" = 0 ] && py "assert load(1)[\"services\"][0][\"name\"] == \"backend\"" "$OUT" >/dev/null'

# --pin-dir after the command name: the library's sl_sluice puts it first.
x sl_raw status --pin-dir "$PIN"
sl_check pin-dir-after-command "$(res 120)" eval '[ "$RC" = 0 ] && grep -q "^service backend" "$OUT"'
x sl_raw status --pin-dir "$PIN" -j
sl_check pin-dir-after-command-json "$(res 120)" \
	eval '[ "$RC" = 0 ] && py "assert load(1)[\"services\"][0][\"name\"] == \"backend\"" "$OUT" >/dev/null'
x sl_raw status --pin-dir "$EMPTY_PIN"
sl_check pin-dir-after-command-honoured "$(res)" \
	eval '[ "$RC" = 2 ] && grep -q "^Error: .*$EMPTY_PIN" "$ERR"'

# Any unique prefix of a command.
x sl_sluice st
sl_check prefix-st "$(res 80)" eval '[ "$RC" = 0 ] && grep -q "^service backend" "$OUT"'
x sl_sluice -j stat
sl_check prefix-stat-json "$(res 80)" \
	eval '[ "$RC" = 0 ] && py "assert load(1)[\"services\"][0][\"name\"] == \"backend\"" "$OUT" >/dev/null'
x sl_sluice w backend
sl_check prefix-w "$(res)" eval '[ "$RC" = 0 ] && grep -q "^backend: v1=90 v2=10" "$OUT"'

# Unknown commands and arguments.
x sl_sluice frobnicate
sl_check unknown-command "$(res)" \
	eval '[ "$RC" = 1 ] && [ ! -s "$OUT" ] && grep -q "^Error: .*frobnicate" "$ERR"'
x sl_sluice -j frobnicate
sl_check unknown-command-json "$(res)" \
	eval '[ "$RC" = 1 ] && [ ! -s "$ERR" ] && py "assert \"frobnicate\" in load(1)[\"error\"]" "$OUT" >/dev/null'
x sl_sluice statusx
sl_check longer-than-command "$(res)" eval '[ "$RC" = 1 ] && grep -q "^Error:" "$ERR"'
x sl_sluice status extra
sl_check status-extra-argument "$(res)" eval '[ "$RC" = 1 ] && grep -q "^Error:" "$ERR"'
x sl_sluice
sl_check no-command "$(res 80)" test "$RC" = 1

# ================================================================ weights
x sl_sluice weights backend
sl_check weights-show "$(res)" eval '[ "$RC" = 0 ] && grep -q "^backend: v1=90 v2=10$" "$OUT"'
x sl_sluice -j weights backend
sl_check weights-show-json "$(res)" eval '[ "$RC" = 0 ] && py "
d = load(1)
assert d == {\"service\": \"backend\", \"weights\": {\"v1\": 90, \"v2\": 10}, \"overridden\": False}, d
" "$OUT"'

before=$(state)
# weights_bad NAME WANT_IN_ERROR ARGS...: exit 1, an error naming
# WANT_IN_ERROR, nothing changed.
weights_bad() {
	local name=$1 want=$2
	shift 2
	x sl_sluice weights "$@"
	local now
	now=$(state)
	sl_check "$name" "$(res); state $now" \
		eval '[ "$RC" = 1 ] && [ ! -s "$OUT" ] && grep -q "^Error: .*$want" "$ERR" && [ "$now" = "$before" ]'
}
weights_bad weights-not-a-number "v1=abc" backend v1=abc
weights_bad weights-unknown-service "nosuch" nosuch v1=1
weights_bad weights-all-zero "0" backend v1=0 v2=0
weights_bad weights-unknown-subset "v3" backend v3=1
weights_bad weights-missing-equals "'v1'" backend v1
weights_bad weights-negative "v1=-5" backend v1=-5
weights_bad weights-above-max "v2=1000001" backend v1=1 v2=1000001
weights_bad weights-subset-twice "v1" backend v1=1 v1=2
weights_bad weights-one-bad-of-two "v3" backend v1=50 v3=50
x sl_sluice -j weights backend v3=1
sl_check weights-unknown-subset-json "$(res)" \
	eval '[ "$RC" = 1 ] && py "assert \"v3\" in load(1)[\"error\"]" "$OUT" >/dev/null'
x sl_sluice weights
sl_check weights-no-service "$(res)" eval '[ "$RC" = 1 ] && grep -q "^Error:" "$ERR"'

x sl_sluice weights backend v1=30 v2=70
sl_check weights-set "$(res); state $(state)" \
	eval '[ "$RC" = 0 ] && grep -q "^backend: v1=30 v2=70 .*overridden" "$OUT" &&
		[[ $(state) == "v1=30 v2=70 overridden=True "* ]]'
x sl_sluice status
sl_check weights-set-status-text "$(grep -E '^ +1 ' "$OUT" | tr -s ' ')" \
	grep -Eq '^ +1 \(default\) +v1=30 v2=70 +\[overridden by `sluice weights`\]$' "$OUT"

# ================================================================ check
sl_config "$SL_TMP/good.yaml" 20 80
sl_config "$SL_TMP/bad.yaml" 50 50
sed -i 's/^\(      - split: {v1: 50, \)v2: 50}$/\1v9: 50}/' "$SL_TMP/bad.yaml"
bad_line=$(grep -n 'v9' "$SL_TMP/bad.yaml" | cut -d: -f1)
sl_config "$SL_TMP/broken.yaml" 50 50
sed -i 's/^\(    vips: \[.*\)\]$/\1/' "$SL_TMP/broken.yaml"

x sl_sluice check --config "$SL_TMP/bad.yaml"
sl_check check-bad-config "$(res 300)" \
	eval '[ "$RC" = 1 ] && grep -Eq "^$SL_TMP/bad.yaml:$bad_line:[0-9]+: error: .*v9" "$ERR"'
x sl_sluice check --config "$SL_TMP/broken.yaml"
sl_check check-broken-yaml "$(res 300)" \
	eval '[ "$RC" = 1 ] && grep -Eq "^$SL_TMP/broken.yaml:[0-9]+:[0-9]+: error: " "$ERR"'
x sl_sluice -j check --config "$SL_TMP/bad.yaml"
sl_check check-bad-config-json "$(res 300)" eval '[ "$RC" = 1 ] && py "
import re
d = load(1)
assert d[\"valid\"] is False, d
assert any(re.match(r\".*/bad.yaml:$bad_line:[0-9]+: error: \", m) for m in d[\"diagnostics\"]), d
" "$OUT"'
x sl_sluice check --config "$SL_TMP/good.yaml"
sl_check check-good-config "$(res)" eval '[ "$RC" = 0 ] && grep -q "valid" "$OUT"'
x sl_sluice -j check --config "$SL_TMP/good.yaml"
sl_check check-good-config-json "$(res)" \
	eval '[ "$RC" = 0 ] && py "d = load(1); assert d[\"valid\"] is True and d[\"diagnostics\"] == [], d" "$OUT"'
x sl_sluice check
sl_check check-without-config "$(res)" eval '[ "$RC" = 1 ] && grep -q "^Error: usage" "$ERR"'
sl_check check-changes-nothing "state $(state)" eval '[[ $(state) == "v1=30 v2=70 overridden=True "* ]]'

# ================================================================ apply
gen=$(generation)
x sl_sluice apply --config "$SL_TMP/good.yaml"
sl_check apply-good "$(res); generation before $gen; state $(state)" \
	eval '[ "$RC" = 0 ] && [ "$(generation)" -gt "$gen" ] && [[ $(state) == "v1=20 v2=80 overridden=False "* ]]'

gen=$(generation)
before=$(state)
x sl_sluice apply --config "$SL_TMP/bad.yaml"
sl_check apply-bad "$(res 300); state $(state)" \
	eval '[ "$RC" = 1 ] && grep -Eq "bad.yaml:$bad_line:[0-9]+: error: " "$ERR" && [ "$(state)" = "$before" ]'
x sl_sluice -j apply --config "$SL_TMP/broken.yaml"
sl_check apply-broken-json "$(res 300); state $(state)" \
	eval '[ "$RC" = 1 ] && py "assert load(1)[\"valid\"] is False" "$OUT" >/dev/null && [ "$(state)" = "$before" ]'

sl_config "$SL_TMP/all-v2.yaml" 0 100
x sl_sluice -j apply --config "$SL_TMP/all-v2.yaml"
sl_check apply-json "$(res 300); generation before $gen" eval '[ "$RC" = 0 ] && py "
d = load(1)
assert d[\"valid\"] is True and d[\"generation\"] > $gen, d
" "$OUT" >/dev/null && [[ $(state) == "v1=0 v2=100 overridden=False "* ]]'
sl_burst client "$SL_VIP4" 100 "$SL_TMP/burst-v2.json"
sl_check_split apply-json-traffic "$SL_TMP/burst-v2.json" v2 100 0

# ================================================================ nothing loaded
for dir in "$EMPTY_PIN" "/sys/fs/bpf/sluice-test-$$-nothing-here"; do
	x sl_sluice --pin-dir "$dir" status
	sl_check "status-not-loaded-${dir##*-}" "$(res)" \
		eval '[ "$RC" = 2 ] && [ ! -s "$OUT" ] && grep -q "^Error: sluice is not loaded in $dir" "$ERR"'
done
x sl_sluice -j --pin-dir "$EMPTY_PIN" status
sl_check status-not-loaded-json "$(res)" \
	eval '[ "$RC" = 2 ] && py "assert \"not loaded\" in load(1)[\"error\"]" "$OUT" >/dev/null'
x sl_sluice --pin-dir "$EMPTY_PIN" weights backend v1=1
sl_check weights-not-loaded "$(res)" eval '[ "$RC" = 2 ] && grep -q "^Error:" "$ERR"'
x sl_sluice --pin-dir "$EMPTY_PIN" apply --config "$SL_TMP/good.yaml"
sl_check apply-not-loaded "$(res)" eval '[ "$RC" = 2 ] && grep -q "^Error:" "$ERR"'
sl_check not-loaded-creates-nothing "$(find "$EMPTY_PIN" -mindepth 1 | tr "\n" " ")" \
	eval '[ -z "$(ls -A "$EMPTY_PIN")" ] && [ ! -e "/sys/fs/bpf/sluice-test-$$-nothing-here" ]'

# ================================================================ bpftool
if command -v bpftool >/dev/null; then
	sl_status "$SL_TMP/status2.json"
	x bpftool -j map dump pinned "$PIN/sl_services"
	info=$(py '
d, st = load(1), load(2)
assert d and all("formatted" in e for e in d), "entries without \"formatted\" (no BTF?)"
keys = [e["formatted"]["key"] for e in d]
for k in ("slot", "port", "proto"):
    assert all(k in key for key in keys), "key field %r missing: %r" % (k, keys[0])
act = [k for k in keys if k["slot"] == st["active_slot"]]
got = sorted((k["port"], k["proto"]) for k in act)
# network-order ports print as host integers: 80 -> 20480, 53 -> 13568
assert got == sorted([(20480, 6), (20480, 6), (13568, 17), (13568, 17)]), got
print("%d entries, active slot %d: (port, proto) %r" % (len(d), st["active_slot"], got))' "$OUT" "$SL_TMP/status2.json")
	sl_check bpftool-services-btf "exit $RC; $info" eval '[ "$RC" = 0 ] && [[ $info == *entries* ]]'

	x bpftool -j map dump pinned "$PIN/sl_stats"
	info=$(py '
d, st = load(1), load(2)
by_id = {}
for e in d:
    f = e["formatted"]
    vals = f["values"]
    assert len(vals) > 0 and all("conns_opened" in v["value"] for v in vals), "no per-CPU conns_opened"
    by_id[f["key"]] = sum(v["value"]["conns_opened"] for v in vals)
bad = []
for x in st["services"][0]["subsets"]:
    if by_id.get(x["id"]) != x["connections_opened"]:
        bad.append("%s id %d: bpftool %r, status %d" % (x["name"], x["id"], by_id.get(x["id"]), x["connections_opened"]))
print("; ".join(bad) or "per-CPU conns_opened sums match status (%d CPUs)" % len(d[0]["formatted"]["values"]))
sys.exit(1 if bad else 0)' "$OUT" "$SL_TMP/status2.json")
	sl_check bpftool-stats-percpu "exit $RC; $info" eval '[ "$RC" = 0 ] && [[ $info == *match* ]]'

	x bpftool -j map dump pinned "$PIN/sl_state"
	info=$(py '
v = load(1)[0]["formatted"]["value"]; st = load(2)
assert v["generation"] == st["generation"] and v["active_slot"] == st["active_slot"], (v, st["generation"])
print("generation %d, slot %d" % (v["generation"], v["active_slot"]))' "$OUT" "$SL_TMP/status2.json")
	sl_check bpftool-state "exit $RC; $info" eval '[ "$RC" = 0 ] && [[ $info == generation* ]]'

	for p in sl_ingress sl_egress; do
		x bpftool prog show pinned "$PIN/$p"
		sl_check "bpftool-prog-$p" "$(res 120)" \
			eval '[ "$RC" = 0 ] && grep -Eq "sched_cls +name $p " "$OUT"'
	done
	# confirmed connections in a hash map (never evicted), new ones in an LRU
	x bpftool map show pinned "$PIN/sl_conntrack"
	sl_check bpftool-map-conntrack "$(res 120)" \
		eval '[ "$RC" = 0 ] && grep -Eq "[0-9]+: hash +name sl_conntrack " "$OUT"'
	x bpftool map show pinned "$PIN/sl_ct_new"
	sl_check bpftool-map-ct-new "$(res 120)" \
		eval '[ "$RC" = 0 ] && grep -Eq "lru_hash +name sl_ct_new " "$OUT"'
	x sl_nsx node bpftool net show dev c1
	sl_check bpftool-net-show "$(res 200)" \
		eval '[ "$RC" = 0 ] && grep -q "c1.*clsact/ingress sl_ingress" "$OUT" && grep -q "c1.*clsact/egress sl_egress" "$OUT"'
else
	sl_fail bpftool "bpftool not installed"
fi
x sl_nsx node tc filter show dev c1 ingress
sl_check tc-filter-handle-pref "$(res 200)" \
	eval '[ "$RC" = 0 ] && grep -Eq "pref 92 bpf .*handle 0x5c1ce sl_ingress" "$OUT"'

# ================================================================ permissions
# Pinned maps hold conntrack and the hash seed: nobody but root may open them.
perms=$(stat -c '%a %U %n' "$PIN" "$PIN"/* | sed "s|$PIN/||; s|$PIN|DIR|")
open_to_others=$(find "$PIN" -perm /007 | sed "s|$PIN/||; s|^$PIN\$|DIR|" | tr '\n' ' ')
sl_check pins-not-world-accessible "${open_to_others:+open to others: $open_to_others; }$(echo "$perms" | tr '\n' ',' | head -c 300)" \
	test -z "$open_to_others"
open_to_group=$(find "$PIN" -perm /070 | tr '\n' ' ')
sl_check pins-root-only "dir $(stat -c '%a %U' "$PIN"), files $(stat -c '%a %U' "$PIN"/* | sort | uniq -c | tr -s ' ' | tr '\n' ',')" \
	eval '[ -z "$open_to_group" ] && [ "$(stat -c %U "$PIN")" = root ] &&
		[ -z "$(find "$PIN" ! -user root)" ]'

if command -v setpriv >/dev/null; then
	# ... and an unprivileged user cannot even look inside.
	x setpriv --reuid=65534 --regid=65534 --clear-groups ls "$PIN"
	sl_check pins-hidden-from-nobody "$(res 120)" eval '[ "$RC" != 0 ] && [ ! -s "$OUT" ]'
fi

# ================================================================ down
sl_run_stop TERM
rc=$?
sl_check run-sigterm-exit "exit $rc" test "$rc" = 0
x sl_sluice -j status
sl_check status-after-run-exit "$(res 100)" \
	eval '[ "$RC" = 0 ] && [ -n "$(sl_nsx node tc filter show dev c1 ingress)" ]'

# policy_route_rules: sluice's fwmark rules in the node, both families.
policy_route_rules() {
	{ sl_nsx node ip -4 rule show; sl_nsx node ip -6 rule show; } | grep -c "fwmark 0x5c0000/0xff0000 lookup 1473"
}
policy_route_routes() {
	{ sl_nsx node ip -4 route show table 1473; sl_nsx node ip -6 route show table 1473; } 2>/dev/null | grep -c "^local "
}
sl_check policy-route-before-down "rules $(policy_route_rules), routes $(policy_route_routes)" \
	eval '[ "$(policy_route_rules)" = 2 ] && [ "$(policy_route_routes)" = 2 ]'
x sl_sluice down
sl_check down "$(res)" test "$RC" = 0
sl_check down-removes-policy-route "rules $(policy_route_rules), routes $(policy_route_routes)" \
	eval '[ "$(policy_route_rules)" = 0 ] && [ "$(policy_route_routes)" = 0 ]'
left=$(ls -A "$PIN" 2>/dev/null | tr '\n' ' ')
sl_check down-removes-pins "left in $PIN: ${left:-nothing}; dir $([ -e "$PIN" ] && echo present || echo gone)" \
	test ! -e "$PIN"
ing=$(sl_nsx node tc filter show dev c1 ingress)
egr=$(sl_nsx node tc filter show dev c1 egress)
sl_check down-removes-filters "ingress: ${ing:-empty}; egress: ${egr:-empty}" test -z "$ing$egr"
x sl_sluice status
sl_check status-after-down "$(res)" eval '[ "$RC" = 2 ] && grep -q "^Error: sluice is not loaded" "$ERR"'
x sl_sluice -j down
sl_check down-again "$(res)" eval '[ "$RC" = 0 ] && py "assert load(1) == {\"down\": True, \"policy_route_removed\": False}" "$OUT" >/dev/null'

sl_check_csum
sl_finish
