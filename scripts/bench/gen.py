#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Configs for the benchmark contenders, N services each (scripts/bench.sh).

Service 0 is the measured one: VIP 10.96.0.10:80, subsets v1 (10.0.1.10,
10.0.1.11) and v2 (10.0.2.10), target port 8080, split v1:W1 v2:W2. The
others are filler at 10.97.x.y:80 with two endpoints each in 10.244.0.0/16
(never reached). The measured service sits in the middle of the filler,
where kube-proxy's unordered output would put it on average.

    gen.py sluice   N W1 W2      sluice YAML
    gen.py iptables N W1 W2      iptables-restore input (nat table), the
                                 chains kube-proxy's iptables mode writes
    gen.py nft      N W1 W2      nft -f input, kube-proxy's nftables layout
    gen.py nginx-backend NAME ADDR4 ADDR6 DIR   nginx.conf of one backend
    gen.py nginx-proxy VIP W1 DIR               nginx.conf of the L7 proxy
    gen.py wrk JSON_LABEL        parse wrk --latency output on stdin -> JSON
"""
import hashlib
import json
import re
import sys

VIP = "10.96.0.10"
V1 = ["10.0.1.10", "10.0.1.11"]
V2 = ["10.0.2.10"]
CLUSTER_CIDR = "10.0.0.0/8"  # clients are "pods": kube-proxy does not masquerade them


def services(n, w1, w2):
    """[(name, vip, [(subset, [eps], weight)])], measured service in the middle."""
    out = []
    mid = (n - 1) // 2
    f = 0
    for i in range(n):
        if i == mid:
            out.append(("backend", VIP, [("v1", V1, w1), ("v2", V2, w2)]))
            continue
        vip = "10.97.%d.%d" % (f // 250, f % 250 + 1)
        ep = lambda k: "10.244.%d.%d" % ((2 * f + k) // 250, (2 * f + k) % 250 + 1)
        out.append(("svc%d" % f, vip, [("v1", [ep(0)], 90), ("v2", [ep(1)], 10)]))
        f += 1
    return out


def gen_sluice(n, w1, w2):
    lines = ["# sluice benchmark config (generated): %d services" % n, "services:"]
    for name, vip, subs in services(n, w1, w2):
        lines.append("  - name: %s" % name)
        lines.append("    vips: [%s]" % vip)
        lines.append("    ports: [{port: 80, protocol: TCP, targetPort: 8080}]")
        lines.append("    subsets:")
        for s, eps, _ in subs:
            lines.append("      %s: {endpoints: [%s]}" % (s, ", ".join(eps)))
        split = ", ".join("%s: %d" % (s, w) for s, _, w in subs if w)
        lines.append("    routes:")
        lines.append("      - split: {%s}" % split)
    print("\n".join(lines))


def h16(s):
    return hashlib.sha256(s.encode()).hexdigest()[:16].upper()


def endpoints(subs):
    """Endpoints with the probability kube-proxy's chain needs to give the
    split W1/W2 (spread evenly within a subset): [(ep, share)]"""
    tot = sum(w for _, _, w in subs)
    return [(ep, w / tot / len(eps)) for _, eps, w in subs if w for ep in eps]


def gen_iptables(n, w1, w2):
    chains = [":KUBE-SERVICES - [0:0]", ":KUBE-MARK-MASQ - [0:0]", ":KUBE-POSTROUTING - [0:0]"]
    rules = [
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
        "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
        "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully",
    ]
    for name, vip, subs in services(n, w1, w2):
        svc = "KUBE-SVC-" + h16("default/%s:http" % name)
        chains.append(":%s - [0:0]" % svc)
        cmt = "-m comment --comment \"default/%s:http cluster IP\"" % name
        rules.append("-A KUBE-SERVICES -d %s/32 -p tcp %s -m tcp --dport 80 -j %s" % (vip, cmt, svc))
        rules.append("-A %s ! -s %s -d %s/32 -p tcp %s -m tcp --dport 80 -j KUBE-MARK-MASQ"
                     % (svc, CLUSTER_CIDR, vip, cmt))
        eps = endpoints(subs)
        left = 1.0
        for i, (ep, share) in enumerate(eps):
            sep = "KUBE-SEP-" + h16("default/%s:http%s" % (name, ep))
            chains.append(":%s - [0:0]" % sep)
            c = "-m comment --comment \"default/%s:http -> %s:8080\"" % (name, ep)
            if i < len(eps) - 1:
                p = share / left
                left -= share
                rules.append("-A %s %s -m statistic --mode random --probability %.10f -j %s"
                             % (svc, c, p, sep))
            else:
                rules.append("-A %s %s -j %s" % (svc, c, sep))
            rules.append("-A %s -s %s/32 -m comment --comment \"default/%s:http\" -j KUBE-MARK-MASQ"
                         % (sep, ep, name))
            rules.append("-A %s -p tcp -m comment --comment \"default/%s:http\" -m tcp -j DNAT "
                         "--to-destination %s:8080" % (sep, name, ep))
    print("*nat")
    print("\n".join(chains))
    print("\n".join(rules))
    print("COMMIT")


def gen_nft(n, w1, w2):
    out = ["table ip kube-proxy {",
           "  chain mark-for-masquerade { meta mark set meta mark or 0x4000; }",
           "  chain masquerading { type nat hook postrouting priority srcnat; policy accept;",
           "    meta mark & 0x4000 == 0 return",
           "    meta mark set meta mark xor 0x4000",
           "    masquerade fully-random; }",
           "  chain nat-prerouting { type nat hook prerouting priority dstnat; policy accept;",
           "    jump services; }",
           "  chain nat-output { type nat hook output priority -100; policy accept;",
           "    jump services; }"]
    elems = []
    for name, vip, subs in services(n, w1, w2):
        sc = "service-%s-default/%s/tcp/http" % (h16(name)[:8], name)
        elems.append("%s . tcp . 80 : goto %s" % (vip, sc))
        eps = endpoints(subs)
        # numgen over 20 buckets gives the split exactly; kube-proxy uses
        # mod <endpoints>: the same one-lookup verdict map.
        buckets = []
        acc = 0.0
        for ep, share in eps:
            acc += share * 20
            buckets.append((ep, round(acc)))
        vm = []
        lo = 0
        for ep, hi in buckets:
            ec = "endpoint-%s-default/%s/tcp/http__%s/8080" % (h16(name + ep)[:8], name, ep)
            out.append("  chain %s {" % ec)
            out.append("    ip saddr %s jump mark-for-masquerade" % ep)
            out.append("    meta l4proto tcp dnat to %s:8080; }" % ep)
            vm += ["%d : goto %s" % (b, ec) for b in range(lo, hi)]
            lo = hi
        out.append("  chain %s {" % sc)
        out.append("    ip daddr %s tcp dport 80 ip saddr != %s jump mark-for-masquerade"
                   % (vip, CLUSTER_CIDR))
        out.append("    numgen random mod 20 vmap { %s }; }" % ", ".join(vm))
    out.append("  map service-ips { type ipv4_addr . inet_proto . inet_service : verdict;")
    out.append("    elements = { %s }; }" % ",\n      ".join(elems))
    out.append("  chain services { ip daddr . meta l4proto . th dport vmap @service-ips; }")
    out.append("}")
    print("\n".join(out))


NGINX_COMMON = """daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log error;
events {{ worker_connections 4096; }}
"""

NGINX_TEMPS = """  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  access_log off;
  keepalive_timeout 600s;
  keepalive_requests 1000000;
"""


def gen_nginx_backend(name, a4, a6, d):
    print(NGINX_COMMON.format(d=d) + "worker_processes 1;\nhttp {\n" + NGINX_TEMPS.format(d=d) + """
  sendfile on;
  server {{
    listen {a4}:8080 reuseport backlog=4096;
    listen [{a6}]:8080 reuseport backlog=4096;
    location = / {{ add_header X-Backend {n}; return 200 "{n}\\n"; }}
    location = /big {{ add_header X-Backend {n}; alias {d}/big; default_type application/octet-stream; }}
    location = /status {{ stub_status; }}
    location / {{ add_header X-Backend {n}; return 200 "{n}\\n"; }}
  }}
}}""".format(a4=a4, a6=a6, n=name, d=d))


def gen_nginx_proxy(vip, w1, d):
    print(NGINX_COMMON.format(d=d) + "worker_processes 1;\nhttp {\n" + NGINX_TEMPS.format(d=d) + """
  split_clients "$request_id" $pool {{ {w1}% v1; * v2; }}
  upstream v1 {{ server {a}:8080; server {b}:8080; keepalive 64; }}
  upstream v2 {{ server {c}:8080; keepalive 64; }}
  server {{
    listen {vip}:80 backlog=4096;
    location / {{
      proxy_pass http://$pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}""".format(vip=vip, w1=w1, a=V1[0], b=V1[1], c=V2[0]))


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    return float(m.group(1)) * UNIT[m.group(2)] if m else None


def parse_wrk(text):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    r["requests"] = int(m.group(1)) if m else 0
    for p in ("50", "99"):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % p, text, re.M)
        r["p" + p + "_ms"] = ms(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    return r


def main():
    a = sys.argv[1:]
    if a[0] == "sluice":
        gen_sluice(int(a[1]), int(a[2]), int(a[3]))
    elif a[0] == "iptables":
        gen_iptables(int(a[1]), int(a[2]), int(a[3]))
    elif a[0] == "nft":
        gen_nft(int(a[1]), int(a[2]), int(a[3]))
    elif a[0] == "nginx-backend":
        gen_nginx_backend(*a[1:5])
    elif a[0] == "nginx-proxy":
        gen_nginx_proxy(a[1], int(a[2]), a[3])
    elif a[0] == "wrk":
        print(json.dumps(parse_wrk(sys.stdin.read())))
    else:
        sys.exit("unknown: " + a[0])


if __name__ == "__main__":
    main()
