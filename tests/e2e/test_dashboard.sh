#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The dashboard (GET / of `sluice run --metrics`) in Debian's headless
# Chromium, run inside the node's network namespace: the page is the one in
# the tree and self-contained; after a 90/10 burst it loads with no console
# error, shows per subset exactly the counters of /api/v1/stats and the
# weights 90/10; under live traffic a screenshot is saved for a person to
# look at; served with a failing or hostile /api/v1/stats it says
# "disconnected" or carries on, never throws, and fetches nothing else.
#
#   SL_DASHBOARD_N=2000         connections in the burst
#   SL_ARTIFACTS=DIR            where dashboard.png goes (build/tests/artifacts)
#   SL_DASHBOARD_DOCS=1         also copy it to docs/img/dashboard.png
set -uo pipefail
SL_TEST_NAME=dashboard
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

N=${SL_DASHBOARD_N:-2000}
PORT=19464
PORT2=19465
CHROMIUM=${SL_CHROMIUM:-/usr/bin/chromium}
OUT=${SL_ARTIFACTS:-$SL_ROOT/build/tests/artifacts}
URL=http://127.0.0.1:$PORT
CHK=("$SL_PY" "$SL_E2E/dashboard_check.py")
CFG=$SL_CFG

[ -x "$CHROMIUM" ] || sl_die "no $CHROMIUM (apt-get install chromium)"
mkdir -p "$OUT" || sl_die "mkdir $OUT"

# Chromium with nothing of its own going on: no sandbox (root, no user
# namespaces needed), no GPU, no QUIC, no background fetches of any kind.
chrome_flags() {
	CHROME=("$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
		--disable-background-networking --disable-component-update --disable-sync
		--user-data-dir="$(mktemp -d "$SL_TMP/chrome-profile.XXXXXX")")
}

# chrome_dom NAME URL BUDGET_MS: the DOM after the page ran BUDGET_MS of
# virtual time, to $SL_TMP/NAME.html, console on $SL_TMP/NAME.err. Chromium
# runs under a child subreaper (dashboard_check.py run) that kills and reaps
# every process it leaves; sl_bg/sl_reap bound and reap the whole by PID.
chrome_dom() {
	local name=$1 url=$2 budget=$3 pid
	chrome_flags
	sl_bg pid node "$SL_TMP/$name.run.log" "${CHK[@]}" run --stdout "$SL_TMP/$name.html" \
		--stderr "$SL_TMP/$name.err" -- timeout 60 "${CHROME[@]}" \
		--virtual-time-budget="$budget" --dump-dom --enable-logging=stderr --v=0 "$url"
	sl_reap "$pid" 75
}

# chk NAME CMD...: PASS if CMD succeeds; its output (one line) is the detail.
chk() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	out=${out//$'\n'/; }
	if [ "$rc" = 0 ]; then sl_pass "$name" "$out"; else sl_fail "$name" "$out"; fi
}

_stats() { sl_nsx node curl -sf --max-time 2 -o "$1" "$URL/api/v1/stats"; }
_healthy() {
	_sl_gone "$SL_RUN_PID" && return 1
	[ "$(sl_nsx node curl -s --max-time 1 "$URL/healthz")" = ok ]
}
# Counters at rest: two samples half a second apart agree (the last ACKs of
# the burst may trail its closes).
_quiet() {
	_stats "$SL_TMP/q1.json" && sleep 0.5 && _stats "$SL_TMP/q2.json" &&
		"${CHK[@]}" same "$SL_TMP/q1.json" "$SL_TMP/q2.json"
}

# ---------------------------------------------------------------- sluice run --metrics

sl_topo_up
sl_config "$CFG" 90 10
SL_RUN_LOG=$SL_TMP/run.log
sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run --config "$CFG" \
	--iface c1 --metrics "127.0.0.1:$PORT"
sl_wait_for 20 _healthy || sl_die "sluice run --metrics: /healthz never said ok"
sl_wait_weights "v1=90 v2=10" || sl_die "weights never showed 90/10: $(sl_weights_now)"

# ---------------------------------------------------------------- the page itself

hdr=$(sl_nsx node curl -s --max-time 2 -o "$SL_TMP/page.html" -w '%{http_code} %{content_type}' "$URL/")
sl_check page-served "GET /: $hdr" test "${hdr%%;*}" = "200 text/html"
sl_check page-embedded "GET / is user/observe/dashboard.html byte for byte (else: rebuild)" \
	cmp -s "$SL_TMP/page.html" "$SL_ROOT/user/observe/dashboard.html"
chk page-self-contained "${CHK[@]}" static "$SL_TMP/page.html"

# ---------------------------------------------------------------- 90/10, then the DOM

sl_burst client "$SL_VIP4" "$N" "$SL_TMP/burst.json"
sl_check_split split-90-10 "$SL_TMP/burst.json" v2 10 3
sl_wait_for 10 _quiet || sl_info "counters still moving: the comparison may differ"

# No traffic from here until the stats are taken.
chrome_dom dom "$URL/" 6000
rc=$?
_stats "$SL_TMP/stats.json" || sl_die "GET /api/v1/stats failed"
sl_check chromium-dump-dom "exit $rc, $(wc -c <"$SL_TMP/dom.html") bytes of DOM" \
	test "$rc" = 0 -a -s "$SL_TMP/dom.html"
chk console-clean "${CHK[@]}" console "$SL_TMP/dom.err" --expect-info "sluice dashboard: first sample"
live=$("${CHK[@]}" dom "$SL_TMP/dom.html" 'body.get("data-state"), body.get("data-samples"), body.get("data-errors")')
sl_check page-live "state, samples, uncaught errors: $live" \
	"${CHK[@]}" dom "$SL_TMP/dom.html" 'exit(0 if body.get("data-state") == "live" and int(body.get("data-samples")) >= 3 and body.get("data-errors") == "0" else 1)'
chk page-matches-stats "${CHK[@]}" compare "$SL_TMP/dom.html" "$SL_TMP/stats.json" backend v1=90 v2=10
sl_info "page vs stats: $(sl_jget "$SL_TMP/stats.json" '[(s["name"], s["connections_opened"], s["bytes_in"] + s["bytes_out"]) for s in d["services"][0]["subsets"]]')"

# ---------------------------------------------------------------- screenshot, live traffic

# Real time, not virtual time: the page's rates and time series need its
# one-second polls to be a second apart (see dashboard_check.py shot).
sl_bg LOOP client "$SL_TMP/loop.json" "$SL_PY" "$SL_E2E/client.py" loop --host "$SL_VIP4" \
	-c 3 --interval 0.03
chrome_flags
sl_bg SHOT node "$SL_TMP/shot.log" "${CHK[@]}" shot --url "$URL/" --out "$OUT/dashboard.png" \
	--wait 15 --size 1280x900 --console "$SL_TMP/shot.console" --dom "$SL_TMP/shot.html" \
	--stderr "$SL_TMP/shot.err" -- timeout 60 "${CHROME[@]}" --remote-debugging-pipe \
	--window-size=1280,900 about:blank
sl_reap "$SHOT" 75
rc=$?
sl_stop "$LOOP" INT 10
sl_check screenshot-taken "exit $rc" test "$rc" = 0
chk screenshot "${CHK[@]}" png "$OUT/dashboard.png" 1280 900
sl_info "screenshot: $OUT/dashboard.png"
sl_check screenshot-console-clean "$(wc -l <"$SL_TMP/shot.console") message(s): $(grep -v '"level": "info"' "$SL_TMP/shot.console" | head -c 300)" \
	eval '! grep -q -e "\"level\": \"error\"" -e "\"kind\": \"exception\"" "$SL_TMP/shot.console"'
rates=$("${CHK[@]}" dom "$SL_TMP/shot.html" '[(f.get("data-subset"), f.get("data-value")) for f in fields if f.get("data-field") == "observed_share"], body.get("data-samples")')
sl_check screenshot-live-rates "observed shares, samples: $rates" \
	"${CHK[@]}" dom "$SL_TMP/shot.html" 'exit(0 if int(body.get("data-samples")) >= 8 and any(f.get("data-value") not in ("", None) for f in fields if f.get("data-field") == "observed_share") else 1)'
sl_info "client loop during the screenshot: $(head -c 200 "$SL_TMP/loop.json")"
if [ -n "${SL_DASHBOARD_DOCS:-}" ]; then
	mkdir -p "$SL_ROOT/docs/img" && cp "$OUT/dashboard.png" "$SL_ROOT/docs/img/dashboard.png" &&
		sl_info "copied to docs/img/dashboard.png"
fi

# ---------------------------------------------------------------- failing and hostile data

# The same page from a plain file server: first with no /api/v1/stats (404),
# then with a document a buggy or hostile server could send.
mkdir -p "$SL_TMP/www/api/v1"
cp "$SL_TMP/page.html" "$SL_TMP/www/index.html"
sl_bg WWW node "$SL_TMP/www.log" "$SL_PY" -m http.server --bind 127.0.0.1 --directory "$SL_TMP/www" "$PORT2"
sl_wait_for 10 sl_nsx node curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$PORT2/" ||
	sl_die "python http.server on $PORT2"

chrome_dom down "http://127.0.0.1:$PORT2/" 4000
st=$("${CHK[@]}" dom "$SL_TMP/down.html" 'body.get("data-state"), body.get("data-errors"), [f.get("data-value") for f in fields if f.get("data-field") == "generation"]')
sl_check disconnected-shown "404 from /api/v1/stats: state, errors: $st" \
	"${CHK[@]}" dom "$SL_TMP/down.html" 'exit(0 if body.get("data-state") == "disconnected" and body.get("data-errors") == "0" else 1)'
chk disconnected-no-exception "${CHK[@]}" console "$SL_TMP/down.err" --allow "Failed to load resource"

cat >"$SL_TMP/www/api/v1/stats" <<'EOF'
{"generation": 7, "time_ms": "not a number", "reloads": 3,
 "services": [
  {"name": "web", "overridden": true, "affinity": "client-ip",
   "ports": [{"vip": "10.96.0.20", "port": 80, "protocol": "TCP", "target_port": 8080}],
   "routes": [
     {"index": 0, "match": ["http"], "enforced": false, "weights": {"canary": 100}, "default": false, "overridden": false},
     {"index": 1, "match": [], "enforced": true, "weights": {"stable": 50, "canary": 50, "<img src=/x onerror=alert(1)>": 0}, "default": true, "overridden": true}],
   "subsets": [
     {"name": "stable", "weight": 50, "endpoints": ["10.0.1.1"], "connections_opened": 10, "bytes_in": 5,
      "http_responses": {"2xx": 9, "5xx": 1}},
     {"name": "canary", "weight": 50, "endpoints": [], "connections_opened": "NaN", "http_responses": null},
     {"name": "<img src=/x onerror=alert(1)>", "weight": -1, "endpoints": "junk"}, null, {"weight": 3}]},
  {"name": "broken", "subsets": "junk", "routes": null, "ports": [null, 5]},
  null, 42, {"no": "name"}],
 "datapath": [1, 2]}
EOF
chrome_dom hostile "http://127.0.0.1:$PORT2/" 4000
st=$("${CHK[@]}" dom "$SL_TMP/hostile.html" 'body.get("data-state"), body.get("data-errors"), sorted(b.get("data-badge") for b in badges)')
sl_check hostile-data-rendered "state, errors, badges: $st" \
	"${CHK[@]}" dom "$SL_TMP/hostile.html" 'exit(0 if body.get("data-state") == "live" and body.get("data-errors") == "0" and {"not-enforced", "overridden"} <= {b.get("data-badge") for b in badges} else 1)'
chk hostile-data-no-exception "${CHK[@]}" console "$SL_TMP/hostile.err" --expect-info "sluice dashboard: first sample"
sl_check hostile-data-not-html "no <img> element made of a subset name" \
	"${CHK[@]}" dom "$SL_TMP/hostile.html" 'exit(0 if "img" not in tags and any("<img" in (f.get("data-subset") or "") for f in fields) else 1)'
chk fetches-only-stats "${CHK[@]}" requests "$SL_TMP/www.log"

# Nothing of Chromium is left: every run reaped its whole tree.
left=$(ps -eo pid=,comm= | awk '$2 ~ /^chrom/ {print $1}' | while read -r p; do
	grep -qs "sluice-e2e-dashboard" "/proc/$p/cmdline" && echo "$p"; done | tr '\n' ' ')
sl_check chromium-gone "left: ${left:-none}" test -z "$left"

sl_finish
