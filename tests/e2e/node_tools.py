#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Clients that behave as clients on a real node do, for the real-node tests.

    node_tools.py clash --src IP --ports P1,P2,.. VIP1 VIP2
        For each port P: two connections from IP:P at once, one to VIP1:80
        and one to VIP2:80 (Linux lets both use the port: the destinations
        differ), each sends a request and reads its whole answer. Prints
        {"pairs": N, "ok": N, "fail": N, "bodies": {...}, "errors": [...]}.

    node_tools.py raw --src IP --sport P --dst IP --dport P --flags SR [--count N]
        Forged TCP segments (IPv4, raw socket, our own checksums): a pod
        that lies about its source address. --flags: S (SYN), R (RST),
        A (ACK), F (FIN), any combination, one segment each letter group
        separated by commas, e.g. "R,S".

    node_tools.py slowpost --host VIP --bytes N --wait FILE
        POST /sha256 with a body of N bytes: the head and half the body,
        then nothing until FILE exists (an idle connection in the middle of
        a request), then the rest. Prints {"backend", "sha_ok", "error"}.

    node_tools.py held-entries --table sluice|netfilter --ports FILE
                               --client IP --vip IP [--pin DIR]
        (in the node) Of the connections from CLIENT:PORT (one port per
        line of FILE) to VIP:80, how many have their entry in the table:
        sluice's confirmed conntrack (DIR/sl_conntrack, through bpftool) or
        netfilter's (/proc/net/nf_conntrack). Prints {"held": N, "entries": K}.
"""
import argparse
import ipaddress
import subprocess
import hashlib
import json
import os
import socket
import struct
import sys
import time


def read_all(s):
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b


def body_of(resp):
    head, _, body = resp.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    return status, body.decode(errors="replace").strip()


def cmd_clash(a):
    res = {"pairs": 0, "ok": 0, "fail": 0, "bodies": {}, "errors": []}
    for port in [int(p) for p in a.ports.split(",")]:
        res["pairs"] += 1
        socks = []
        try:
            for vip in (a.vip1, a.vip2):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.settimeout(a.timeout)
                s.bind((a.src, port))
                s.connect((vip, 80))
                socks.append(s)
            # both connections are open before either sends
            for s, vip in zip(socks, (a.vip1, a.vip2)):
                s.sendall(b"GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % vip.encode())
            for s in socks:
                status, body = body_of(read_all(s))
                if " 200 " not in status + " ":
                    raise OSError("status %r" % status)
                res["bodies"][body] = res["bodies"].get(body, 0) + 1
                res["ok"] += 1
        except OSError as e:
            res["errors"].append("port %d: %s" % (port, e))
        finally:
            for s in socks:
                s.close()
    res["fail"] = 2 * res["pairs"] - res["ok"]
    print(json.dumps(res))
    return 0


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


def segment(src, sport, dst, dport, flags, seq):
    saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
    pseudo = saddr + daddr + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0x1234, 0, 64,
                     socket.IPPROTO_TCP, 0, saddr, daddr)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def cmd_raw(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sent = 0
    for _ in range(a.count):
        for group in a.flags.split(","):
            f = 0
            for c in group:
                f |= FLAGS[c]
            s.sendto(segment(a.src, a.sport, a.dst, a.dport, f, 0x5C5C0000 + sent), (a.dst, 0))
            sent += 1
            time.sleep(0.01)
    print(json.dumps({"sent": sent}))
    return 0


def cmd_slowpost(a):
    body = os.urandom(a.bytes)
    want = hashlib.sha256(body).hexdigest()
    half = a.bytes // 2
    res = {"backend": None, "sha_ok": False, "error": None}
    try:
        s = socket.create_connection((a.host, 80), timeout=a.timeout)
        s.sendall(b"POST /sha256 HTTP/1.0\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % a.bytes)
        s.sendall(body[:half])
        while not os.path.exists(a.wait):
            time.sleep(0.1)
        s.settimeout(a.timeout)
        s.sendall(body[half:])
        status, text = body_of(read_all(s))
        name, _, got = text.partition(" ")
        res["backend"] = name
        res["sha_ok"] = got == want and " 200 " in status + " "
    except OSError as e:
        res["error"] = str(e)
    print(json.dumps(res))
    return 0


def sluice_tuples(pin):
    """(saddr, daddr, sport, dport) of every entry of sl_conntrack (IPv4)."""
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", pin + "/sl_conntrack"],
                         check=True, capture_output=True, text=True).stdout
    tuples = set()
    for e in json.loads(out):
        k = e.get("formatted", e)["key"]
        if k.get("family") != 4:
            continue
        # addresses and ports as in the packet: network order read as host integers
        sa = socket.inet_ntoa(struct.pack("<I", k["saddr"][0] & 0xffffffff))
        da = socket.inet_ntoa(struct.pack("<I", k["daddr"][0] & 0xffffffff))
        sp = socket.ntohs(k["sport"] & 0xffff)
        dp = socket.ntohs(k["dport"] & 0xffff)
        tuples.add((sa, da, sp, dp))
    return tuples


def netfilter_tuples():
    """The original direction of every TCP entry of the node's netfilter conntrack."""
    tuples = set()
    with open("/proc/net/nf_conntrack") as f:
        for line in f:
            kv = {}
            for w in line.split():
                k, eq, v = w.partition("=")
                if eq:
                    kv.setdefault(k, v)  # the first of each: the original direction
            if " tcp " in line and "src" in kv:
                tuples.add((kv["src"], kv["dst"], int(kv["sport"]), int(kv["dport"])))
    return tuples


def cmd_held_entries(a):
    ports = [int(p) for p in open(a.ports).read().split()]
    have = sluice_tuples(a.pin) if a.table == "sluice" else netfilter_tuples()
    client, vip = str(ipaddress.ip_address(a.client)), str(ipaddress.ip_address(a.vip))
    n = sum((client, vip, p, 80) in have for p in ports)
    print(json.dumps({"held": len(ports), "entries": n}))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("clash")
    c.add_argument("--src", required=True)
    c.add_argument("--ports", required=True)
    c.add_argument("--timeout", type=float, default=5.0)
    c.add_argument("vip1")
    c.add_argument("vip2")
    r = sub.add_parser("raw")
    r.add_argument("--src", required=True)
    r.add_argument("--sport", type=int, required=True)
    r.add_argument("--dst", required=True)
    r.add_argument("--dport", type=int, default=80)
    r.add_argument("--flags", required=True)
    r.add_argument("--count", type=int, default=1)
    w = sub.add_parser("slowpost")
    w.add_argument("--host", required=True)
    w.add_argument("--bytes", type=int, default=65536)
    w.add_argument("--wait", required=True)
    w.add_argument("--timeout", type=float, default=10.0)
    h = sub.add_parser("held-entries")
    h.add_argument("--table", choices=("sluice", "netfilter"), required=True)
    h.add_argument("--ports", required=True)
    h.add_argument("--client", required=True)
    h.add_argument("--vip", required=True)
    h.add_argument("--pin")
    a = p.parse_args()
    return {"clash": cmd_clash, "raw": cmd_raw, "slowpost": cmd_slowpost,
            "held-entries": cmd_held_entries}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
