#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Per-version HTTP health from the kernel: at 50/50, v2 answers 500 to every
# 4th /flaky request it serves and v1 never does. sluice's http_responses
# and http_codes per subset must equal, exactly, what the client saw.
set -uo pipefail
SL_TEST_NAME=http
# shellcheck source=scripts/netns-lib.sh disable=SC2034
. "$(dirname "$0")/../../scripts/netns-lib.sh"

N=${SL_HTTP_N:-1200}
EVERY=4
CFG=$SL_CFG

sl_topo_up
sl_config "$CFG" 50 50
sl_run_start "$CFG" c1 || sl_die "sluice run did not attach and apply"
sl_check weights-applied "status: $(sl_weights_now)" sl_wait_weights "v1=50 v2=50"

sl_status "$SL_TMP/before.json" || sl_die "sluice status: $(cat "$SL_TMP/before.json.err")"
sl_nsx client timeout 300 "$SL_PY" "$SL_E2E/client.py" burst --host "$SL_VIP4" -n "$N" -c 4 \
	--path "/flaky?every=$EVERY&backend=v2" --any-status >"$SL_TMP/burst.json" ||
	sl_die "client.py burst failed"
# Closes trail the client's last read: wait until every connection is counted
# closed, so no response can still be on its way through egress.
sl_wait_for 5 _sl_closed_match "$SL_TMP/before.json" "$SL_TMP/after.json" "$SL_TMP/burst.json"
sl_status "$SL_TMP/after.json" || sl_die "sluice status: $(cat "$SL_TMP/after.json.err")"

# What the client saw, per subset: "2xx 5xx" (backends v1a, v1b fold into v1).
_client_seen() {
	sl_jget "$SL_TMP/burst.json" "' '.join(str(sum(n for b, c in d['by_status'].items() if b.rstrip('ab') == '$1' for s, n in c.items() if s[0] == k)) for k in '25')"
}

# Change of one status field of a subset: http_responses.2xx, http_codes.500 ...
_delta() {
	local expr="(lambda s: s.get('$3', {}).get('$4', 0))([x for v in d['services'] if v['name'] == 'backend' for x in v['subsets'] if x['name'] == '$2'][0])"
	echo $(($(sl_jget "$SL_TMP/after.json" "$expr") - $(sl_jget "$1" "$expr")))
}

# Only 200s and 500s were sent: the other classes stay where they were.
_other_classes_unchanged() {
	local k
	for k in 1xx 3xx 4xx; do
		[ "$(_delta "$SL_TMP/before.json" "$1" http_responses "$k")" = 0 ] || return 1
	done
}

fail=$(sl_jget "$SL_TMP/burst.json" 'd["fail"]')
read -r c1_2 c1_5 <<<"$(_client_seen v1)"
read -r c2_2 c2_5 <<<"$(_client_seen v2)"
sl_check client-burst "$N requests, fail=$fail; client saw v1 2xx=$c1_2 5xx=$c1_5, v2 2xx=$c2_2 5xx=$c2_5" \
	test "$fail" = 0 -a $((c1_2 + c1_5 + c2_2 + c2_5)) = "$N" -a "$c1_2" -gt 0 -a "$c2_2" -gt 0
# v2 answers 500 to exactly every 4th of its requests (its counter starts at 0
# with this test: nothing else asks for /flaky).
sl_check backend-fraction "v2 500s $c2_5 = floor(($c2_2 + $c2_5) / $EVERY), v1 500s $c1_5 = 0" \
	test "$c2_5" = $(((c2_2 + c2_5) / EVERY)) -a "$c1_5" = 0 -a "$c2_5" -gt 0

for sub in v1 v2; do
	if [ $sub = v1 ]; then want2=$c1_2 want5=$c1_5; else want2=$c2_2 want5=$c2_5; fi
	got2=$(_delta "$SL_TMP/before.json" $sub http_responses 2xx)
	got5=$(_delta "$SL_TMP/before.json" $sub http_responses 5xx)
	code200=$(_delta "$SL_TMP/before.json" $sub http_codes 200)
	code500=$(_delta "$SL_TMP/before.json" $sub http_codes 500)
	sl_check "$sub-http-classes" "2xx +$got2 (client $want2), 5xx +$got5 (client $want5)" \
		test "$got2" = "$want2" -a "$got5" = "$want5"
	sl_check "$sub-http-codes" "200 +$code200 (client $want2), 500 +$code500 (client $want5)" \
		test "$code200" = "$want2" -a "$code500" = "$want5"
	sl_check "$sub-http-other-classes" "1xx/3xx/4xx unchanged" _other_classes_unchanged $sub
done

# Long responses: thousands of body segments after the status line, none
# starting one. Each download is one 2xx, nothing else.
_sum_classes() {
	sl_jget "$1" "sum(sum(x['http_responses'].values()) for v in d['services'] for x in v['subsets'])"
}
total0=$(_sum_classes "$SL_TMP/after.json")
codes=
for i in 1 2 3; do
	codes+=$(sl_nsx client curl -s -o /dev/null -w '%{http_code} ' --max-time 30 \
		"http://$SL_VIP4/big?mb=8")
done
sl_status "$SL_TMP/big.json" || sl_die "sluice status: $(cat "$SL_TMP/big.json.err")"
total1=$(_sum_classes "$SL_TMP/big.json")
sl_check big-downloads "3 x 8 MiB, client saw ${codes% }; responses counted +$((total1 - total0))" \
	test "${codes% }" = "200 200 200" -a $((total1 - total0)) = 3

# The counters are the connections' own: one response per connection.
sl_check_counters counters-opened "$SL_TMP/before.json" "$SL_TMP/after.json" \
	"$SL_TMP/burst.json" connections_opened
sl_info "client: $(sl_jget "$SL_TMP/burst.json" 'd["by_status"]')"
sl_info "sluice: $(sl_jget "$SL_TMP/after.json" "{x['name']: (x['http_responses'], x['http_codes']) for v in d['services'] for x in v['subsets']}")"

sl_check_csum
sl_finish
