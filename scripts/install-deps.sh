#!/usr/bin/env bash
# Install everything sluice needs to build, test and demo, from Debian's archive.
# Idempotent: packages already present are left alone, so a second run is fast.
set -euo pipefail

PKGS=(
	# build
	make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
	libyaml-dev libjson-c-dev pkg-config linux-libc-dev
	# header routing: Istio's regex matches, in RE2 (Envoy's engine) through
	# a small C++ shim
	g++ libre2-dev
	# HTTP/1.x framing of the per-request L7 step (nodejs/http-parser)
	libhttp-parser-dev
	# metrics endpoint, terminal view, Kubernetes API client
	libmicrohttpd-dev libncurses-dev libcurl4-openssl-dev
	# unit tests; fuzzing (clang's libFuzzer, ASan and UBSan runtimes)
	libcmocka-dev libclang-rt-14-dev
	# packet, netns and end-to-end tests, demo
	iproute2 ethtool curl python3 iptables procps util-linux
	# metrics tests: a real Prometheus server and promtool; the dashboard in
	# headless Chromium; `sluice top` under tmux
	prometheus chromium tmux
	# the fake kube-apiserver's certificate
	openssl
	# benchmarks (and their smoke test): kube-proxy's rule layouts, an L7
	# proxy and fast backends, load generators
	nftables nginx wrk apache2-utils
	# the SYN flood section empties the node's netfilter table between runs
	conntrack
	# HTTP/2 and gRPC through the L7 step: nghttp2 (the library), h2load and
	# nghttp (clients), Python's h2 and grpcio (test backends and clients)
	libnghttp2-dev nghttp2-client python3-h2 python3-grpcio python3-protobuf
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
