# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shellcheck shell=bash
#
# Shared by the rollout tests (test_rollout*.sh), sourced after
# scripts/netns-lib.sh: backends started with misbehaviour options, a
# steady-rate client, and readers of `sluice rollout SERVICE status -j`.
# The topology is the lib's (v1a, v1b, v2); no backend is started by
# sl_topo_up: each scenario starts the ones it needs (ro_backend).

SL_BACKENDS=""
declare -A RO_PID=()

# ro_backend NAME [OPTIONS...]: (re)start backend NAME (v1a, v1b or v2) with
# backend.py's options (--fail-every N, --reset-every N, --delay-ms MS).
ro_backend() {
	local name=$1 addr pid
	shift
	case $name in
	v1a) addr=10.0.1.10 ;;
	v1b) addr=10.0.1.11 ;;
	v2) addr=10.0.2.10 ;;
	esac
	[ -n "${RO_PID[$name]:-}" ] && sl_stop "${RO_PID[$name]}"
	sl_bg pid "$name" "$SL_TMP/backend-$name.log" "$SL_PY" "$SL_E2E/backend.py" "$name" "$@"
	RO_PID[$name]=$pid
	sl_wait_for 10 _sl_backend_answers "$name" "http://$addr:8080/" || sl_die "backend $name ($*) not answering"
}

# ro_client_start [-c N --interval S]: the steady client (default: 4 workers,
# a request each 40 ms: about 100 requests/s), each request a new connection.
ro_client_start() {
	[ $# -gt 0 ] || set -- -c 4 --interval 0.04
	RO_CLIENT_OUT=$SL_TMP/client.$((++RO_NCLIENT)).json
	sl_bg RO_CLIENT client "$RO_CLIENT_OUT" "$SL_PY" "$SL_E2E/client.py" loop --host "$SL_VIP4" \
		--any-status "$@"
}
RO_NCLIENT=0
# ro_client_stop: stop it; its tally is in $RO_CLIENT_OUT.
ro_client_stop() { sl_stop "$RO_CLIENT" INT 10; }

# ro_status FILE: `sluice rollout backend status -j` into FILE; its exit code.
ro_status() { sl_sluice -j rollout backend status >"$1" 2>"$1.err"; }

# ro_get FILE EXPR: EXPR over the rollout's JSON, with ev = the decisions of
# the newest rollout (from its start on).
ro_get() {
	sl_jget "$1" "(lambda ev: $2)(d['events'][max([i for i, e in enumerate(d['events']) if e['action'] == 'start'] or [0]):])"
}

_ro_phase_is() {
	local f=$SL_TMP/ro.poll.json
	ro_status "$f"
	[ "$(sl_jget "$f" 'd["phase"]')" = "$1" ]
}
# ro_wait_phase PHASE TIMEOUT_S
ro_wait_phase() { sl_wait_for "$2" _ro_phase_is "$1"; }

_ro_weight_is() {
	local f=$SL_TMP/ro.poll.json
	ro_status "$f"
	[ "$(sl_jget "$f" 'd["weight"]')" = "$1" ]
}
ro_wait_weight() { sl_wait_for "$2" _ro_weight_is "$1"; }

# ro_client_subset FILE SUBSET CODE: responses of SUBSET's backends with CODE.
ro_client_code() {
	sl_jget "$1" "sum(n for b, c in d['by_status'].items() if b.rstrip('ab') == '$2' for s, n in c.items() if s == '$3')"
}
ro_client_other() {
	sl_jget "$1" "sum(n for b, c in d['by_status'].items() if b.rstrip('ab') == '$2' for s, n in c.items() if s != '200')"
}

# ro_counter STATUS_FILE SUBSET FIELD
ro_counter() { $SL_PY "$SL_E2E/jtool.py" counter "$1" backend "$2" "$3"; }
