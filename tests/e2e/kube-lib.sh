# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shellcheck shell=bash
#
# The fake Kubernetes API server (kube_fake.py) for the `run --kubernetes`
# tests, in the node of scripts/netns-lib.sh's topology. Source it after
# netns-lib.sh; then:
#   sl_kube_init               $SL_KUBE/fixtures to fill, a token, a CA
#   sl_kube_fake_start [S]     kube_fake.py serving the fixtures, up within S s
#   sl_kube_run ARGS...        sluice run ARGS in the node, pointed at it
#                              (through "${SL_KUBE_WRAP[@]}" if set: setpriv)
# The fake listens on 127.0.0.1 inside the node: tests in parallel do not
# meet.

SL_KUBE=$SL_TMP/kube
SL_KUBE_API=https://127.0.0.1:16443
SL_KUBE_WRAP=()

sl_kube_init() {
	command -v openssl >/dev/null || sl_die "missing tool: openssl"
	mkdir -p "$SL_KUBE/fixtures"
	echo "sluice-test-token-$$" >"$SL_KUBE/token"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=kube-fake" \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$SL_KUBE/key.pem" \
		-out "$SL_KUBE/ca.crt" >/dev/null 2>&1 || sl_die "openssl req"
}

# sl_kube_api METHOD PATH [BODY]: one request to the fake, from the node.
sl_kube_api() {
	sl_nsx node curl -sS --cacert "$SL_KUBE/ca.crt" \
		-H "Authorization: Bearer $(cat "$SL_KUBE/token")" \
		-X "$1" ${3:+--data-binary "$3"} "$SL_KUBE_API$2"
}

# sl_kube_ev KIND TYPE OBJECT: a watch event (ADDED, MODIFIED...) of KIND
# (its plural: pods, virtualservices...); fails if the fake refuses it.
sl_kube_ev() {
	sl_kube_api POST "/_ctl/event?kind=$1" "{\"type\": \"$2\", \"object\": $3}" |
		grep -q '"rv"'
}

sl_kube_fake_start() {
	sl_bg SL_KUBE_FAKE_PID node "$SL_KUBE/fake.log" "$SL_PY" "$SL_E2E/kube_fake.py" \
		--port "${SL_KUBE_API##*:}" --cert "$SL_KUBE/ca.crt" --key "$SL_KUBE/key.pem" \
		--token "$SL_KUBE/token" --fixtures "$SL_KUBE/fixtures"
	sl_wait_for "${1:-10}" sl_kube_api GET /_ctl/stats ||
		sl_die "the fake API server did not start: $(tail -3 "$SL_KUBE/fake.log")"
}

# sl_kube_run RUN_ARGS...: `sluice run RUN_ARGS` in the node, in the
# background, pointed at the fake, logging to $SL_RUN_LOG; its PID in
# SL_RUN_PID (every command before it execs).
sl_kube_run() {
	SL_RUN_LOG=${SL_RUN_LOG:-$SL_TMP/run.log}
	nsenter --net="/var/run/netns/$(sl_ns node)" env SLUICE_KUBE_API="$SL_KUBE_API" \
		SLUICE_KUBE_TOKEN_FILE="$SL_KUBE/token" SLUICE_KUBE_CA_FILE="$SL_KUBE/ca.crt" \
		"${SL_KUBE_WRAP[@]}" "$SLUICE" --pin-dir "$SL_PIN_DIR" run "$@" >>"$SL_RUN_LOG" 2>&1 &
	SL_RUN_PID=$!
	SL_PIDS+=("$SL_RUN_PID")
}

# sl_kube_endpoints SVC SUBSET: the subset's endpoint addresses in `sluice
# status`, sorted.
sl_kube_endpoints() {
	local f=$SL_TMP/status.ep.json
	sl_status "$f" && sl_jget "$f" "' '.join(sorted(str(e).rsplit(':', 1)[0] for s in d['services'] if s['name'] == '$1' for b in s['subsets'] if b['name'] == '$2' for e in b['endpoints']))"
}
