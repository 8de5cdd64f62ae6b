# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shellcheck shell=bash
#
# Network-namespace topology for sluice's end-to-end tests and demo. Source
# it; do not run it. Everything it creates is named after the sourcing
# shell's PID and removed by an EXIT trap, also when a test fails half-way.
#
#   client  10.0.9.2  fd00:9::2  --c1--+
#   client2 10.0.3.10 fd00:3::10 --c2--+  node (router, sluice on c1/c2)
#                                      +--b-v1a-- v1a 10.0.1.10 fd00:1::10
#                                      +--b-v1b-- v1b 10.0.1.11 fd00:1::11
#                                      +--b-v2--- v2  10.0.2.10 fd00:2::10
#
# Clients route everything (VIPs 10.96.0.10 and fd00::10 included) to the
# node; the node has no route for the VIPs: sluice DNATs them on ingress of
# c1/c2 and reverse-NATs on egress. The node runs like a hardened Kubernetes
# node: strict rp_filter and netfilter dropping conntrack-INVALID packets.
# Every veth end has transmit checksum offload off, so a wrong checksum
# update shows up as InCsumErrors at the receiver instead of passing.
#
# Settings (set before sourcing):
#   SL_TEST_NAME  short name, part of the pin directory (default: basename)
#   SLUICE        the binary (default: build/sluice of this repo)

# ip, tc, ethtool, iptables, sysctl and bpftool live in /usr/sbin on Debian.
export PATH="$PATH:/usr/sbin:/sbin"

SL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SL_E2E="$SL_ROOT/tests/e2e"
SLUICE=${SLUICE:-$SL_ROOT/build/sluice}
SL_TEST_NAME=${SL_TEST_NAME:-$(basename "${0%.sh}")}
SL_ID="sl$$"
SL_PIN_DIR="/sys/fs/bpf/sluice-test-$$-$SL_TEST_NAME"
# The system interpreter: fast to start, and present on a fresh machine.
if [ -x /usr/bin/python3 ]; then SL_PY=/usr/bin/python3; else SL_PY=python3; fi

SL_VIP4=10.96.0.10
SL_VIP6=fd00::10
SL_NSS=()
SL_PIDS=()
SL_PASS=0
SL_FAIL=0
SL_RUN_PID=
SL_RUN_LOG=
SL_TMP=$(mktemp -d "/tmp/sluice-e2e-$SL_TEST_NAME.XXXXXX")
# The config lives in a directory of its own, as in /etc: `sluice run`
# watches the directory, and logs and status files churn in $SL_TMP.
mkdir -p "$SL_TMP/etc"
SL_CFG=$SL_TMP/etc/sluice.yaml

# ---------------------------------------------------------------- output

sl_info() { printf '# %s\n' "$*"; }

sl_pass() {
	printf '%s: PASS%s\n' "$1" "${2:+ ($2)}"
	SL_PASS=$((SL_PASS + 1))
}

sl_fail() {
	printf '%s: FAIL%s\n' "$1" "${2:+ ($2)}"
	SL_FAIL=$((SL_FAIL + 1))
}

# sl_check NAME DETAIL CMD...: PASS if CMD succeeds.
sl_check() {
	local name=$1 detail=$2
	shift 2
	if "$@"; then sl_pass "$name" "$detail"; else sl_fail "$name" "$detail"; fi
}

# A setup step failed: nothing later can be trusted.
sl_die() {
	sl_fail "${SL_TEST_NAME}-setup" "$*"
	_sl_run_log_tail
	printf '%d passed, %d failed\n' "$SL_PASS" "$SL_FAIL"
	exit 1
}

_sl_run_log_tail() {
	if [ -n "$SL_RUN_LOG" ] && [ -s "$SL_RUN_LOG" ]; then
		sl_info "last lines of sluice run log ($SL_RUN_LOG):"
		tail -n 20 "$SL_RUN_LOG" | sed 's/^/#   /'
	fi
}

# Print the totals and exit with the verdict. Cleanup runs from the trap.
sl_finish() {
	[ "$SL_FAIL" -eq 0 ] || _sl_run_log_tail
	printf '%d passed, %d failed\n' "$SL_PASS" "$SL_FAIL"
	[ "$SL_FAIL" -eq 0 ]
	exit $?
}

# ---------------------------------------------------------------- processes

sl_ns() { printf '%s-%s' "$SL_ID" "$1"; }

# sl_nsx NS CMD...: run CMD in netns NS. nsenter, unlike `ip netns exec`,
# keeps the host's /sys, so bpffs pins stay visible.
sl_nsx() {
	local ns=$1
	shift
	nsenter --net="/var/run/netns/$(sl_ns "$ns")" "$@"
}

# sl_cg_root: where cgroup v2 is mounted (empty if nowhere).
sl_cg_root() { awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts; }

# "${SL_IN_CGROUP[@]}" CG CMD...: exec CMD as a process of cgroup v2 directory CG
# (it joins the cgroup first; put `sl_nsx NS` in front for a namespace).
SL_IN_CGROUP=(sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh)

# sluice inside the node, on this test's own pin directory.
sl_sluice() { sl_nsx node "$SLUICE" --pin-dir "$SL_PIN_DIR" "$@"; }

# sl_bg VAR NS LOG CMD...: start CMD in the background in NS, output to LOG;
# its PID goes to VAR and to the cleanup list. A simple command (not a shell
# function, which would run in a subshell of its own) and nsenter's exec make
# the PID the command's own, so signals reach it.
sl_bg() {
	local var=$1 ns=$2 log=$3
	shift 3
	nsenter --net="/var/run/netns/$(sl_ns "$ns")" "$@" >>"$log" 2>&1 &
	SL_PIDS+=("$!")
	printf -v "$var" '%s' "$!"
}

_sl_gone() {
	local st
	[ -r "/proc/$1/stat" ] || return 0
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -z "$st" ] || [ "$st" = Z ]
}

# Microseconds since the epoch. Deadlines use it, not $SECONDS: that counts
# whole seconds, so a wait of 1 s could give up after a few milliseconds.
_sl_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }

# sl_reap PID TIMEOUT_S: wait for PID to exit by itself, SIGKILL it after
# TIMEOUT_S, and reap it (PID 1 here reaps nothing). Returns its exit status.
sl_reap() {
	local pid=$1 deadline=$(($(_sl_us) + $2 * 1000000)) rc p keep=()
	[ -n "$pid" ] || return 0
	until _sl_gone "$pid"; do
		[ "$(_sl_us)" -lt "$deadline" ] || { kill -KILL "$pid" 2>/dev/null; break; }
		sleep 0.1
	done
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	for p in "${SL_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	SL_PIDS=("${keep[@]}")
	return "$rc"
}

# sl_stop PID [SIGNAL [TIMEOUT_S]]: signal PID, give it TIMEOUT_S (5), then
# SIGKILL and reap it.
sl_stop() {
	[ -n "$1" ] || return 0
	kill "-${2:-TERM}" "$1" 2>/dev/null
	sl_reap "$1" "${3:-5}"
}

# sl_wait_for TIMEOUT_S CMD...: poll CMD every 0.1 s until it succeeds.
sl_wait_for() {
	local deadline=$(($(_sl_us) + $1 * 1000000))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(_sl_us)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

sl_cleanup() {
	local rc=$? pid ns i
	trap - EXIT INT TERM
	for pid in "${SL_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${SL_PIDS[@]}"; do
		for ((i = 0; i < 30; i++)); do
			_sl_gone "$pid" && break
			sleep 0.1
		done
		_sl_gone "$pid" || kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -e "/var/run/netns/$(sl_ns node)" ] && [ -x "$SLUICE" ] && [ -d "$SL_PIN_DIR" ]; then
		# Only inside the node: `down` detaches from every interface of
		# the netns it runs in.
		timeout 10 nsenter --net="/var/run/netns/$(sl_ns node)" \
			"$SLUICE" --pin-dir "$SL_PIN_DIR" down >/dev/null 2>&1 || true
	fi
	[ -e "$SL_PIN_DIR" ] && rm -rf "$SL_PIN_DIR"
	# the L7 step's hand-over socket, left behind if the last run was killed
	rm -f "/run/sluice/$(basename "$SL_PIN_DIR").handoff"
	for ns in "${SL_NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	# what a test's own cleanup added (sl_on_exit)
	for i in "${SL_ON_EXIT[@]}"; do eval "$i"; done
	[ -n "${SL_KEEP_TMP:-}" ] || rm -rf "$SL_TMP"
	exit "$rc"
}

# sl_on_exit CMD: one more step for the cleanup, run even if the test fails.
SL_ON_EXIT=()
sl_on_exit() { SL_ON_EXIT+=("$1"); }
trap sl_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- preflight

sl_preflight() {
	[ "$(id -u)" -eq 0 ] || sl_die "must run as root"
	[ -x "$SLUICE" ] || sl_die "$SLUICE not built (run make)"
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf ||
		sl_die "cannot mount bpffs on /sys/fs/bpf"
	local t
	for t in ip nsenter ethtool iptables ip6tables nstat curl tc; do
		command -v "$t" >/dev/null || sl_die "missing tool: $t"
	done
}

# ---------------------------------------------------------------- topology

# (sysfs belongs to the netns that mounted it: ask netlink instead.)
_sl_mac() { ip -n "$(sl_ns "$1")" link show dev "$2" | awk '/link\/ether/ {print $2}'; }

_sl_ns_add() {
	local ns
	ns=$(sl_ns "$1")
	ip netns add "$ns" || sl_die "ip netns add $ns"
	SL_NSS+=("$ns")
	sl_nsx "$1" ip link set lo up
	# No duplicate address detection: addresses usable at once.
	sl_nsx "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# _sl_veth NS_A IF_A NS_B IF_B: a veth pair, up, checksum offload off.
_sl_veth() {
	ip -n "$(sl_ns "$1")" link add "$2" type veth peer name "$4" netns "$(sl_ns "$3")" ||
		sl_die "veth $1/$2 - $3/$4"
	_sl_veth_up "$@"
}

# _sl_veth_up NS1 IF1 NS2 IF2: both ends of a veth, checksum offload off, up.
_sl_veth_up() {
	sl_nsx "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || sl_die "ethtool -K $2 tx off"
	sl_nsx "$3" ethtool -K "$4" tx off >/dev/null 2>&1 || sl_die "ethtool -K $4 tx off"
	sl_nsx "$1" ip link set "$2" up
	sl_nsx "$3" ip link set "$4" up
}

# _sl_client NS NODE_IF ADDR4 GW4 PLEN4 ADDR6 GW6
_sl_client() {
	_sl_ns_add "$1"
	_sl_veth node "$2" "$1" eth0
	_sl_client_addrs "$@"
}

# _sl_client_addrs NS NODE_IF ADDR4 GW4 PLEN4 ADDR6 GW6: addresses, default
# routes and static neighbours of a client behind NODE_IF (its eth0).
_sl_client_addrs() {
	local ns=$1 nif=$2 a4=$3 g4=$4 p4=$5 a6=$6 g6=$7 cmac nmac
	cmac=$(_sl_mac "$ns" eth0)
	nmac=$(_sl_mac node "$nif")
	sl_nsx "$ns" ip addr add "$a4/$p4" dev eth0
	sl_nsx "$ns" ip -6 addr add "$a6/64" dev eth0 nodad
	sl_nsx "$ns" ip route add default via "$g4"
	sl_nsx "$ns" ip -6 route add default via "$g6"
	sl_nsx "$ns" ip neigh add "$g4" lladdr "$nmac" dev eth0 nud permanent
	sl_nsx "$ns" ip -6 neigh add "$g6" lladdr "$nmac" dev eth0 nud permanent
	sl_nsx node ip addr add "$g4/$p4" dev "$nif"
	sl_nsx node ip -6 addr add "$g6/64" dev "$nif" nodad
	sl_nsx node ip neigh add "$a4" lladdr "$cmac" dev "$nif" nud permanent
	sl_nsx node ip -6 neigh add "$a6" lladdr "$cmac" dev "$nif" nud permanent
	sl_nsx node sysctl -qw "net.ipv4.conf.$nif.rp_filter=1"
}

# _sl_backend NS NODE_IF ADDR4 GW4 ADDR6 GW6: the node reaches each backend
# over its own veth by a host route; the backend's gateway is the node's
# address on that veth.
_sl_backend() {
	local ns=$1 nif=$2 a4=$3 g4=$4 a6=$5 g6=$6 bmac nmac
	_sl_ns_add "$ns"
	_sl_veth node "$nif" "$ns" eth0
	bmac=$(_sl_mac "$ns" eth0)
	nmac=$(_sl_mac node "$nif")
	sl_nsx "$ns" ip addr add "$a4/24" dev eth0
	sl_nsx "$ns" ip -6 addr add "$a6/64" dev eth0 nodad
	sl_nsx "$ns" ip route add default via "$g4" dev eth0 onlink
	sl_nsx "$ns" ip -6 route add default via "$g6" dev eth0 onlink
	sl_nsx "$ns" ip neigh add "$g4" lladdr "$nmac" dev eth0 nud permanent
	sl_nsx "$ns" ip -6 neigh add "$g6" lladdr "$nmac" dev eth0 nud permanent
	sl_nsx node ip addr add "$g4/32" dev "$nif"
	sl_nsx node ip -6 addr add "$g6/128" dev "$nif" nodad
	sl_nsx node ip route add "$a4/32" dev "$nif" src "$g4"
	sl_nsx node ip -6 route add "$a6/128" dev "$nif"
	sl_nsx node ip neigh add "$a4" lladdr "$bmac" dev "$nif" nud permanent
	sl_nsx node ip -6 neigh add "$a6" lladdr "$bmac" dev "$nif" nud permanent
	sl_nsx node sysctl -qw "net.ipv4.conf.$nif.rp_filter=1"
}

# sl_topo_up [client2]: build the topology and start the backends.
sl_topo_up() {
	local with_client2=${1:-}
	sl_preflight
	_sl_ns_add node
	sl_nsx node sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 ||
		sl_die "node sysctls"
	local t ipt
	for ipt in iptables ip6tables; do
		for t in INPUT FORWARD; do
			sl_nsx node "$ipt" -w 5 -A "$t" -m conntrack --ctstate INVALID -j DROP ||
				sl_die "$ipt INVALID drop rule"
		done
	done

	_sl_client client c1 10.0.9.2 10.0.9.1 24 fd00:9::2 fd00:9::1
	[ -n "$with_client2" ] && _sl_client client2 c2 10.0.3.10 10.0.3.1 24 fd00:3::10 fd00:3::1
	_sl_backend v1a b-v1a 10.0.1.10 10.0.1.1 fd00:1::10 fd00:1::1
	_sl_backend v1b b-v1b 10.0.1.11 10.0.1.2 fd00:1::11 fd00:1::2
	_sl_backend v2 b-v2 10.0.2.10 10.0.2.1 fd00:2::10 fd00:2::1
	sl_start_backends
}

SL_BACKENDS="v1a:10.0.1.10:fd00:1::10 v1b:10.0.1.11:fd00:1::11 v2:10.0.2.10:fd00:2::10"

# sl_uplink_up: after sl_topo_up, an "uplink" namespace behind the node's
# interface u1 (node 192.0.2.1/30, uplink 192.0.2.2), and the node's default
# route through it. A SYN flood from forged sources has to come from where
# it does on a real node: traffic from outside the cluster arrives on the
# node's uplink, through which every address routes back (the default
# route). On a pod's veth the node's strict rp_filter and sluice's source
# check would drop it before it reached anything worth measuring. The
# node's answers to forged sources go back out of u1 and die in the
# uplink namespace (no forwarding there). Sets SL_UPLINK_MAC to the MAC
# address of the node's u1, which frames written into the uplink's eth0
# must carry.
sl_uplink_up() {
	local umac
	_sl_ns_add uplink
	_sl_veth node u1 uplink eth0
	umac=$(_sl_mac uplink eth0)
	SL_UPLINK_MAC=$(_sl_mac node u1)
	sl_nsx node ip addr add 192.0.2.1/30 dev u1
	sl_nsx uplink ip addr add 192.0.2.2/30 dev eth0
	sl_nsx node ip neigh add 192.0.2.2 lladdr "$umac" dev u1 nud permanent
	sl_nsx uplink ip neigh add 192.0.2.1 lladdr "$SL_UPLINK_MAC" dev eth0 nud permanent
	sl_nsx node ip route add default via 192.0.2.2 dev u1 || sl_die "node default route"
	sl_nsx uplink ip route add default via 192.0.2.1 dev eth0
	sl_nsx node sysctl -qw net.ipv4.conf.u1.rp_filter=1
}

_sl_backend_answers() {
	local name=$1 url=$2
	[ "$(sl_nsx node curl -s --max-time 1 "$url")" = "$name" ]
}

sl_start_backends() {
	local b name a4 a6 pid
	for b in $SL_BACKENDS; do
		name=${b%%:*}
		sl_bg pid "$name" "$SL_TMP/backend-$name.log" "$SL_PY" "$SL_E2E/backend.py" "$name"
	done
	for b in $SL_BACKENDS; do
		name=${b%%:*}
		a4=${b#*:}
		a6=${a4#*:}
		a4=${a4%%:*}
		sl_wait_for 10 _sl_backend_answers "$name" "http://$a4:8080/" ||
			sl_die "backend $name not answering on $a4:8080"
		sl_wait_for 5 _sl_backend_answers "$name" "http://[$a6]:8080/" ||
			sl_die "backend $name not answering on [$a6]:8080"
	done
}

# ---------------------------------------------------------------- config

# sl_config FILE W1 W2 [AFFINITY]: the test service, default route split
# v1:W1 v2:W2 (a zero weight leaves the subset out of the split). The
# labelled frontend v2 (client2) always goes to v2. With SL_CFG_HEADER_ROUTE
# set, `canary: canary-tester` goes to v2 too (header routing: the L7 step).
sl_config() {
	local file=$1 w1=$2 w2=$3 aff=${4:-connection} split= hdr=
	[ "$w1" != 0 ] && split="v1: $w1"
	[ "$w2" != 0 ] && split="${split:+$split, }v2: $w2"
	[ -n "${SL_CFG_HEADER_ROUTE:-}" ] &&
		hdr=$'      - match: {headers: {canary: {exact: canary-tester}}}\n        split: {v2: 100}\n'
	cat >"$file" <<EOF
# sluice end-to-end test config (generated)
services:
  - name: backend
    vips: [$SL_VIP4, "$SL_VIP6"]
    ports:
      - {port: 80, protocol: TCP, targetPort: 8080}
      - {port: 53, protocol: UDP, targetPort: 5353}
    affinity: $aff
    subsets:
      v1: {endpoints: [10.0.1.10, 10.0.1.11, "fd00:1::10", "fd00:1::11"]}
      v2: {endpoints: [10.0.2.10, "fd00:2::10"]}
    routes:
${hdr}      - match: {sourceLabels: {app: frontend, version: v2}}
        split: {v2: 100}
      - split: {$split}
workloads:
  - labels: {app: frontend, version: v2}
    ips: [10.0.3.10, "fd00:3::10"]
EOF
}

# sl_config_swap FILE W1 W2: rewrite the config the way editors do: write a
# temporary file next to it, then rename it over the original.
sl_config_swap() {
	local file=$1
	shift
	sl_config "$file.tmp.$$" "$@"
	mv -f "$file.tmp.$$" "$file"
}

# ---------------------------------------------------------------- sluice

sl_status() { sl_sluice -j status >"$1" 2>"$1.err"; }

_sl_weights_are() {
	local f="$SL_TMP/status.poll.json"
	sl_status "$f" && [ "$($SL_PY "$SL_E2E/jtool.py" weights "$f" backend)" = "$1" ]
}

# sl_wait_weights "v1=50 v2=50": until `sluice status` shows those weights.
sl_wait_weights() { sl_wait_for "${2:-10}" _sl_weights_are "$1"; }

sl_weights_now() {
	local f="$SL_TMP/status.now.json"
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" weights "$f" backend
}

# sl_overridden true|false: `status` says the backend's weights are (not)
# overridden by `sluice weights`.
sl_overridden() {
	local f="$SL_TMP/status.ovr.json"
	sl_status "$f" && [ "$(sl_jget "$f" '[s["overridden"] for s in d["services"] if s["name"] == "backend"][0]')" = "$1" ]
}

# sl_state_is "v1=.. v2=.." true|false: weights and override flag at once.
sl_state_is() { _sl_weights_are "$1" && sl_overridden "$2"; }

# sl_state_now: weights, override flag and generation, for messages.
sl_state_now() {
	local f="$SL_TMP/status.state.json"
	sl_status "$f" &&
		echo "$($SL_PY "$SL_E2E/jtool.py" weights "$f" backend)" \
			"overridden=$(sl_jget "$f" '[s["overridden"] for s in d["services"] if s["name"] == "backend"][0]')" \
			"generation=$(sl_jget "$f" 'd["generation"]')"
}

sl_generation() {
	local f="$SL_TMP/status.gen.json"
	sl_status "$f" && sl_jget "$f" 'd["generation"]'
}

# sl_filters_present IF: something is attached to IF's ingress and egress.
# (Output captured, not piped into grep -q: under pipefail, tc killed by
# SIGPIPE would fail the check at random.)
sl_filters_present() {
	[ -n "$(sl_nsx node tc filter show dev "$1" ingress)" ] &&
		[ -n "$(sl_nsx node tc filter show dev "$1" egress)" ]
}

# Ready: attached to c1 (or $SL_READY_IFACE) and $SL_READY_SERVICE
# (default: backend) applied.
_sl_run_ready() {
	local f="$SL_TMP/status.ready.json"
	_sl_gone "$SL_RUN_PID" && return 1
	sl_filters_present "${SL_READY_IFACE:-c1}" || return 1
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" has-service "$f" "${SL_READY_SERVICE:-backend}"
}

# sl_run_start CONFIG [IFACE...] [-- RUN_ARG...]: `sluice run` in the node,
# in the background, logging to $SL_RUN_LOG; returns once it has attached
# and applied.
sl_run_start() {
	local cfg=$1 ifs=() extra=() i
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		ifs+=(--iface "$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	extra=("$@")
	[ ${#ifs[@]} -gt 0 ] || ifs=(--iface c1)
	SL_RUN_LOG=${SL_RUN_LOG:-$SL_TMP/run.log}
	echo "--- sluice run started $(date +%T.%N)" >>"$SL_RUN_LOG"
	sl_bg SL_RUN_PID node "$SL_RUN_LOG" "$SLUICE" --pin-dir "$SL_PIN_DIR" run \
		--config "$cfg" "${ifs[@]}" "${extra[@]}"
	sl_wait_for 20 _sl_run_ready
}

# sl_service_yaml NAME VIP[,VIP...] SUBSET=ADDR[,ADDR...]... : one service of
# port 80 -> 8080 split evenly over the subsets given, in sluice's YAML.
sl_service_yaml() {
	local name=$1 vips=$2 sub split="" n
	shift 2
	n=$#
	printf '  - name: %s\n    vips: [%s]\n' "$name" "$vips"
	printf '    ports: [{port: 80, protocol: TCP, targetPort: 8080}]\n    subsets:\n'
	for sub in "$@"; do
		printf '      %s: {endpoints: [%s]}\n' "${sub%%=*}" "${sub#*=}"
		split+="${split:+, }${sub%%=*}: $((100 / n))"
	done
	printf '    routes:\n      - split: {%s}\n' "$split"
}

# sl_l7_ready SERVICE: `run` is attached, has applied SERVICE, and its IPv4
# L7 listener is in sl_l7_listen.
sl_l7_ready() {
	local f="$SL_TMP/status.ready.json"
	_sl_gone "$SL_RUN_PID" && return 1
	sl_filters_present c1 || return 1
	sl_status "$f" && $SL_PY "$SL_E2E/jtool.py" has-service "$f" "$1" &&
		[ "$(sl_jget "$f" 'd["l7"]["listening"]["ipv4"]')" = True ]
}

sl_run_stop() {
	[ -n "$SL_RUN_PID" ] || return 0
	sl_stop "$SL_RUN_PID" "${1:-TERM}"
	local rc=$?
	SL_RUN_PID=
	return "$rc"
}

# ---------------------------------------------------------------- traffic

# sl_burst NS HOST N OUT [CONC]: N new connections from NS to HOST:80.
sl_burst() {
	sl_nsx "$1" timeout 300 "$SL_PY" "$SL_E2E/client.py" burst --host "$2" -n "$3" \
		-c "${5:-4}" >"$4"
}

# http_get_many N [HOST] [NS]: N requests, each its own TCP connection, from
# NS (client) to HOST (the IPv4 VIP); prints "v1=N v2=N fail=N" and the
# per-backend JSON line of client.py.
http_get_many() {
	local out="$SL_TMP/http_get_many.json"
	sl_burst "${3:-client}" "${2:-$SL_VIP4}" "$1" "$out" || return 1
	sl_counts "$out"
	cat "$out"
}

sl_share() { $SL_PY "$SL_E2E/jtool.py" share "$1" "$2"; }
# sl_dp_delta BEFORE AFTER NAME: how much datapath counter NAME grew between
# two `sluice -j status` files.
sl_dp_count() { sl_jget "$1" "d['datapath']['$2']"; }
sl_dp_delta() { echo $(($(sl_dp_count "$2" "$3") - $(sl_dp_count "$1" "$3"))); }
sl_counts() { $SL_PY "$SL_E2E/jtool.py" subsets "$1"; }
sl_jget() { $SL_PY "$SL_E2E/jtool.py" get "$1" "$2"; }

# sl_check_split NAME OUT SUBSET WANT_PCT TOL: no failures, and SUBSET's share
# of the responses within TOL points of WANT_PCT.
sl_check_split() {
	local name=$1 out=$2 sub=$3 want=$4 tol=$5 share fail
	share=$(sl_share "$out" "$sub")
	fail=$(sl_jget "$out" 'd["fail"]')
	local detail
	detail="$(sl_counts "$out"), $sub share $share% want $want±$tol"
	if [ "$fail" = 0 ] && $SL_PY -c "import sys; sys.exit(abs($share - $want) > $tol)"; then
		sl_pass "$name" "$detail"
	else
		sl_fail "$name" "$detail; errors $(sl_jget "$out" 'd["errors"], d["first_errors"][:3]')"
	fi
}

# sl_check_no_failures NAME CLIENT_OUT MIN_OK: the client (burst or loop)
# saw no failure and at least MIN_OK good responses.
sl_check_no_failures() {
	local ok fail
	ok=$(sl_jget "$2" 'd["ok"]')
	fail=$(sl_jget "$2" 'd["fail"]')
	sl_check "$1" "$(sl_counts "$2") over $(sl_jget "$2" 'd["seconds"]') s; $(sl_jget "$2" 'd["first_errors"][:3]')" \
		test "$fail" = 0 -a "$ok" -ge "$3"
}

# sl_check_counters NAME BEFORE AFTER CLIENT_OUT FIELD: per subset, the
# change of the status counter FIELD equals the client's responses.
sl_check_counters() {
	local name=$1 before=$2 after=$3 out=$4 field=$5 sub want got ok=1 detail=""
	for sub in v1 v2; do
		want=$(sl_jget "$out" "fold(d).get('$sub', 0)")
		got=$(($($SL_PY "$SL_E2E/jtool.py" counter "$after" backend "$sub" "$field") -
			$($SL_PY "$SL_E2E/jtool.py" counter "$before" backend "$sub" "$field")))
		detail+="$sub: client $want, $field +$got; "
		[ "$want" = "$got" ] || ok=
	done
	if [ -n "$ok" ]; then sl_pass "$name" "${detail%; }"; else sl_fail "$name" "${detail%; }"; fi
}

# ---------------------------------------------------------------- health

# The node is hardened the way the tests claim.
sl_check_hardening() {
	local rp fwd rules
	rp=$(sl_nsx node sysctl -n net.ipv4.conf.all.rp_filter)
	fwd=$(sl_nsx node sysctl -n net.ipv4.ip_forward)
	rules=$(sl_nsx node iptables -w 5 -S FORWARD | grep -c -- '--ctstate INVALID -j DROP')
	sl_check node-hardening "rp_filter=$rp ip_forward=$fwd INVALID-drop rules=$rules" \
		test "$rp" = 1 -a "$fwd" = 1 -a "$rules" -ge 1
}

# Packets the node's netfilter dropped as INVALID (information only: a
# healthy run has none, but a lost packet would show as a failure anyway).
sl_invalid_drops() {
	local v4 v6
	v4=$(sl_nsx node iptables -w 5 -L FORWARD -v -n -x | awk '/INVALID/ {n += $1} END {print n + 0}')
	v6=$(sl_nsx node ip6tables -w 5 -L FORWARD -v -n -x | awk '/INVALID/ {n += $1} END {print n + 0}')
	echo "$((v4 + v6))"
}

# No receiver saw a bad IP, TCP or UDP checksum.
sl_check_csum() {
	local ns n total=0 detail=""
	for ns in client client2 v1a v1b v2 node; do
		[ -e "/var/run/netns/$(sl_ns "$ns")" ] || continue
		n=$(sl_nsx "$ns" nstat -asz TcpInCsumErrors UdpInCsumErrors Udp6InCsumErrors \
			IpExtInCsumErrors | awk '/CsumErrors/ {n += $2} END {print n + 0}')
		[ "$n" = 0 ] || detail+="$ns=$n "
		total=$((total + n))
	done
	sl_check checksums "InCsumErrors total $total${detail:+: $detail}; node INVALID drops $(sl_invalid_drops)" \
		test "$total" = 0
}

# sl_check_closed NAME BEFORE AFTER CLIENT_OUT: connections_closed catches up
# with the client's count (closes are counted on FIN/RST, which may trail the
# client's last read by a moment); AFTER is refreshed while waiting.
_sl_closed_match() {
	local before=$1 after=$2 out=$3 sub want got
	sl_status "$after" || return 1
	for sub in v1 v2; do
		want=$(sl_jget "$out" "fold(d).get('$sub', 0)")
		got=$(($($SL_PY "$SL_E2E/jtool.py" counter "$after" backend "$sub" connections_closed) -
			$($SL_PY "$SL_E2E/jtool.py" counter "$before" backend "$sub" connections_closed)))
		[ "$want" = "$got" ] || return 1
	done
}

sl_check_closed() {
	sl_wait_for 5 _sl_closed_match "$2" "$3" "$4"
	sl_check_counters "$@" connections_closed
}
