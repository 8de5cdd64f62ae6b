#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice top` as a person sees it: the full-screen view inside a real
# terminal (tmux, 80x24) under a 90/10 canary with live traffic shows the
# service, both subsets, their weights, a new-connection rate and an observed
# v2 share; it fits 80 columns, survives a resize, scrolls, and `q` exits
# with the terminal restored. Also: a "not loaded" error leaves the terminal
# as it was and exits 2, and `-j` gives JSON lines with the rates.
# Saves the screen to build/tests/artifacts/top.txt (SL_TOP_CAPTURE=docs/img/top.txt
# refreshes the README's copy).
# Checks are strings for sl_check to eval (expanded late, on purpose).
# shellcheck disable=SC2016,SC2317
set -uo pipefail
SL_TEST_NAME=top
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

CFG=$SL_CFG
# A private tmux server: nothing of the user's is touched, and the EXIT trap
# can kill exactly this one.
TMUX_SOCK="sl$$"
CAP=$SL_TMP/screen.txt
CAPTURE_OUT=${SL_TOP_CAPTURE:-$SL_ROOT/build/tests/artifacts/top.txt}

command -v tmux >/dev/null || sl_die "missing tool: tmux"

tm() { tmux -L "$TMUX_SOCK" "$@"; }

_top_cleanup() {
	local rc=$?
	tm kill-server 2>/dev/null
	# sl_cleanup exits with the status it finds in $?: the test's own.
	(exit "$rc")
	sl_cleanup
}
trap _top_cleanup EXIT

# top_start NAME CMD...: run CMD in a new 80x24 session NAME. The pane stays
# after CMD exits (remain-on-exit) so the terminal's state can be checked;
# CMD's exit status goes to a file (tmux's #{pane_dead_status} is not always
# filled in when a process exits quickly).
top_start() {
	local name=$1
	shift
	rm -f "$SL_TMP/$name.rc"
	# One tmux command list: the option is set before the server gets to
	# notice that a quick command has already exited.
	tm new-session -d -s "$name" -x 80 -y 24 "$*; echo \$? >$SL_TMP/$name.rc" \; \
		set-option -t "$name" remain-on-exit on >/dev/null
}
rc_of() { cat "$SL_TMP/$1.rc" 2>/dev/null; }

cap() { tm capture-pane -p -t "$1" >"$CAP" 2>/dev/null; }
exited() { [ -s "$SL_TMP/$1.rc" ] && dead "$1"; }
pane() { tm display-message -p -t "$1" "$2" 2>/dev/null; }
dead() { [ "$(pane "$1" '#{pane_dead}')" = 1 ]; }

# py CODE FILE...: python over the files (sys.argv[1:]); prints the detail,
# exit status is the verdict.
py() {
	local code=$1
	shift
	$SL_PY -c "import json, re, sys
$code" "$@" 2>&1
}

# The rows of v1 and v2 on the captured screen, as numbers:
# SUBSET WEIGHT SPLIT CONN/s ACTIVE PKT-IN PKT-OUT B-IN B-OUT 2xx 5xx RST/s
PARSE='
def num(s):
    if s in ("-", ""): return None
    m = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    return float(s[:-1]) * m[s[-1]] if s[-1] in m else float(s)
def rows(path):
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 12 and f[0] in ("v1", "v2"):
            out[f[0]] = {"weight": f[1], "split": f[2], "conn_s": num(f[3]),
                         "active": num(f[4]), "pkts_in": num(f[5])}
    return out
'

# ================================================================ setup
# shellcheck disable=SC2119
sl_topo_up
sl_config "$CFG" 90 10
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_wait_weights "v1=90 v2=10" || sl_die "weights never showed 90/10: $(sl_weights_now)"

NODE_NS=/var/run/netns/$(sl_ns node)
TOP_CMD="nsenter --net=$NODE_NS $SLUICE --pin-dir $SL_PIN_DIR top"

# ================================================================ errors
# Not loaded: the usual error, exit 2, and no curses left behind.
top_start err "nsenter --net=$NODE_NS $SLUICE --pin-dir $SL_TMP/not-there top" ||
	sl_die "tmux new-session failed"
sl_wait_for 3 exited err
tm capture-pane -p -J -S - -t err >"$CAP" 2>/dev/null
sl_check top-not-loaded \
	"dead=$(pane err '#{pane_dead}') status=$(rc_of err) alternate=$(pane err '#{alternate_on}'); $(grep -m1 Error "$CAP")" \
	eval 'dead err && [ "$(rc_of err)" = 2 ] &&
		[ "$(pane err "#{alternate_on}")" = 0 ] && grep -q "^Error: sluice is not loaded" "$CAP"'
tm kill-session -t err 2>/dev/null

# ================================================================ screen
sl_bg LOOP_PID client "$SL_TMP/loop.json" "$SL_PY" "$SL_E2E/client.py" loop \
	--host "$SL_VIP4" -c 2 --duration 60
top_start top "$TOP_CMD" || sl_die "tmux new-session failed"

# Until a refresh after traffic started: both rows carry a new-connection rate.
_screen_live() {
	cap top || return 1
	py "$PARSE"'
r = rows(sys.argv[1])
sys.exit(not (r.get("v1", {}).get("conn_s") and r.get("v2", {}).get("split", "-") != "-"))' "$CAP" >/dev/null
}
sl_wait_for 10 _screen_live
sleep 3 # a few intervals of steady traffic
cap top
[ -d "$(dirname "$CAPTURE_OUT")" ] || mkdir -p "$(dirname "$CAPTURE_OUT")"
cp "$CAP" "$CAPTURE_OUT"
sl_info "screen (80x24):"
sed 's/^/#   | /' "$CAP"

sl_check top-header "$(head -1 "$CAP")" \
	grep -Eq '^sluice top - generation [0-9]+, applied .*, conntrack [0-9]+' "$CAP"
sl_check top-datapath "$(sed -n 2p "$CAP")" grep -Eq '^datapath/s: new [0-9.]+[KM]? ' "$CAP"
sl_check top-service "$(grep -m1 '^service' "$CAP")" \
	grep -Eq '^service backend \(affinity connection\)' "$CAP"
sl_check top-columns "$(grep -m1 'SUBSET' "$CAP" | tr -s ' ')" \
	grep -Eq '^SUBSET +WEIGHT +SPLIT +CONN/s +ACTIVE +IN +OUT +IN +OUT +2xx +5xx +RST/s *$' "$CAP"
info=$(py "$PARSE"'
r = rows(sys.argv[1])
v1, v2 = r["v1"], r["v2"]
print("v1 %s v2 %s" % (v1, v2))
assert v1["weight"] == "90%" and v2["weight"] == "10%", "weights"
assert v1["conn_s"] and v1["conn_s"] > 0, "v1 conn/s"
assert v1["pkts_in"] and v1["pkts_in"] > 0, "v1 packets/s"
s = float(v2["split"].rstrip("%"))
assert 0 <= s <= 30, "v2 observed split %s" % s
print("ok")' "$CAP")
sl_check top-rows "$info" eval '[[ $info == *ok ]]'
width=$(awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }' "$CAP")
sl_check top-fits-80 "widest line $width, $(wc -l <"$CAP") lines" \
	eval '[ "$width" -le 80 ] && [ "$(wc -l <"$CAP")" -le 24 ] && grep -q "RST/s" "$CAP"'
sl_check top-footer "$(tail -1 "$CAP")" grep -Eq '^ [0-9:]{8} every 1s  q quit' <(tail -1 "$CAP")

# Smaller than the content: still drawn, and j scrolls the services.
tm resize-window -t top -x 60 -y 7
sleep 1.5
cap top
width=$(awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }' "$CAP")
sl_check top-resize "widest $width: $(tr '\n' '|' <"$CAP")" \
	eval '! dead top && [ "$width" -le 60 ] && [ "$(wc -l <"$CAP")" -le 7 ] &&
		grep -q "j/k" "$CAP" && grep -q "^service backend" "$CAP"'
tm send-keys -t top j j
sleep 0.5
cap top
sl_check top-scroll "$(tr '\n' '|' <"$CAP")" \
	eval '! grep -q "^service backend" "$CAP" && grep -Eq "lines 3-" "$CAP"'
tm resize-window -t top -x 80 -y 24
sleep 0.5

# q: exits at once, status 0, the terminal out of the alternate screen.
tm send-keys -t top q
sl_wait_for 3 exited top
sl_check top-quit "dead=$(pane top '#{pane_dead}') status=$(rc_of top) alternate=$(pane top '#{alternate_on}')" \
	eval 'dead top && [ "$(rc_of top)" = 0 ] && [ "$(pane top "#{alternate_on}")" = 0 ]'
tm kill-server 2>/dev/null

# ================================================================ -j
sl_sluice -j top --interval 0.5 --count 3 >"$SL_TMP/top.jsonl" 2>"$SL_TMP/top.err"
RC=$?
info=$(py '
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 3, "%d lines" % len(lines)
seen = 0
for l in lines:
    d = json.loads(l)
    assert 0.4 < d["interval"] < 1.5, d["interval"]
    assert "new_conn" in d["datapath_per_s"], d["datapath_per_s"]
    s = [s for s in d["services"] if s["name"] == "backend"][0]
    subs = {x["name"]: x for x in s["subsets"]}
    assert sorted(subs) == ["v1", "v2"], sorted(subs)
    assert subs["v1"]["weight_pct"] == 90 and subs["v2"]["weight_pct"] == 10
    for x in subs.values():
        for k in ("connections_per_s", "packets_in_per_s", "packets_out_per_s",
                  "bytes_in_per_s", "bytes_out_per_s", "backend_resets_per_s",
                  "connections_active", "observed_pct"):
            assert k in x, "%s missing" % k
        assert set(x["http_responses_per_s"]) == {"1xx", "2xx", "3xx", "4xx", "5xx"}
    if s["connections_per_s"] > 0:
        seen += 1
        assert abs(sum(x["observed_pct"] for x in subs.values()) - 100) < 0.01
assert seen, "no line with new connections"
print("3 lines, %d with traffic; last: %s conn/s, v2 %s%%" % (
    seen, s["connections_per_s"], subs["v2"]["observed_pct"]))' "$SL_TMP/top.jsonl")
sl_check top-json "exit $RC; $info; stderr: $(head -c 200 "$SL_TMP/top.err")" \
	eval '[ "$RC" = 0 ] && [[ $info == "3 lines"* ]] && [ ! -s "$SL_TMP/top.err" ]'

# Not a terminal and no -j: plain text frames, the same layout.
sl_sluice top --once --interval 0.3 >"$SL_TMP/once.txt" 2>&1
RC=$?
width=$(awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }' "$SL_TMP/once.txt")
sl_check top-once-text "exit $RC, widest $width; $(grep -E '^v[12] ' "$SL_TMP/once.txt" | tr -s ' ' | tr '\n' '|')" \
	eval '[ "$RC" = 0 ] && [ "$width" -le 80 ] && grep -Eq "^v1 +90% " "$SL_TMP/once.txt" &&
		grep -Eq "^v2 +10% " "$SL_TMP/once.txt"'

sl_stop "$LOOP_PID" TERM 10
sl_info "client loop: $(sl_counts "$SL_TMP/loop.json")"
sl_finish
