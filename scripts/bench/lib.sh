# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shellcheck shell=bash
#
# Shared by the benchmark scripts (scripts/bench.sh, scripts/bench/l7.sh).
# Source it after scripts/netns-lib.sh and before sl_topo_up: it replaces
# netns-lib's Python backends with nginx. Uses BULK_MB, CPU_SERVER, SL_TMP
# and B (this directory) of the sourcing script.

T_START=${T_START:-$SECONDS}
log() { printf '# [%4ds] %s\n' "$((SECONDS - T_START))" "$*" >&2; }

# ---------------------------------------------------------------- backends

# nginx in each backend netns instead of backend.py: a tiny static body
# ("v1a\n", as backend.py answers), /big for the bulk download, stub_status.
declare -A NGX_PID
sl_start_backends() {
	local b name a4 a6 d
	for b in $SL_BACKENDS; do
		name=${b%%:*}
		a4=${b#*:}
		a6=${a4#*:}
		a4=${a4%%:*}
		d=$SL_TMP/nginx-$name
		mkdir -p "$d"
		truncate -s "${BULK_MB:-1}M" "$d/big"
		# nginx's worker runs as nobody: without these, /big is a 403 of
		# a few bytes, and section 1's "bulk download" one short exchange
		chmod 711 "$SL_TMP"
		chmod 755 "$d"
		chmod 644 "$d/big"
		"$SL_PY" "$B/gen.py" nginx-backend "$name" "$a4" "$a6" "$d" >"$d/nginx.conf"
		sl_bg "NGX_PID[$name]" "$name" "$d/out.log" taskset -c "$CPU_SERVER" \
			nginx -c "$d/nginx.conf" -p "$d"
	done
	for b in $SL_BACKENDS; do
		name=${b%%:*}
		a4=${b#*:}
		a4=${a4%%:*}
		sl_wait_for 10 _sl_backend_answers "$name" "http://$a4:8080/" ||
			sl_die "backend $name (nginx) not answering on $a4:8080"
	done
}

# backend_requests NAME: requests served so far (stub_status), asked by the node.
backend_requests() {
	local a4
	a4=$(echo "$SL_BACKENDS" | tr ' ' '\n' | awk -F: -v n="$1" '$1 == n { print $2 }')
	sl_nsx node curl -s --max-time 2 "http://$a4:8080/status" | awk 'NR == 3 { print $3 }'
}

# After sl_topo_up: deep accept queues for bursts of new connections, and
# short conntrack timeouts on the node. The node's conntrack (its
# INVALID-drop rule tracks every contender's connections) would pile up
# TIME_WAIT entries, 120 s each: at thousands of connections a second the
# hash chains grow and every later run is slower than the one before.
bench_tune_topology() {
	local n
	for n in v1a v1b v2 client node; do sl_nsx "$n" sysctl -qw net.core.somaxconn=4096; done
	sl_nsx node sysctl -qw net.netfilter.nf_conntrack_max=1048576 \
		net.netfilter.nf_conntrack_tcp_timeout_time_wait=1 \
		net.netfilter.nf_conntrack_tcp_timeout_close_wait=1 \
		net.netfilter.nf_conntrack_tcp_timeout_fin_wait=1 2>/dev/null
}

# ---------------------------------------------------------------- CPU

HZ=$(getconf CLK_TCK)
cpu_busy() { # jiffies: all busy time (user nice system irq softirq steal), softirq
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $8 }' /proc/stat
}
