#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Test client: many short connections to a VIP, counted by who answered.

Every request is its own TCP connection (HTTP/1.0, Connection: close), so
every request is a fresh pick by sluice. Output is one JSON object on stdout:
    {"total": N, "ok": N, "fail": N, "by_backend": {"v1a": N, ...},
     "by_status": {"v1a": {"200": N, ...}, ...},
     "errors": {"ConnectionRefusedError": N, ...}, "first_errors": [...],
     "seconds": S}
A response other than 200 is a failure (HttpError), unless --any-status:
then every complete response counts as ok, for the backend named by its
X-Backend header (else its body), and by_status tells the codes apart.

    client.py burst --host VIP [--port 80] [--path /] [--any-status] [-H 'NAME: VALUE' ...]
                    -n N [-c CONC]
    client.py loop  --host VIP [--port 80] [-c CONC] [--interval S] [--duration S]
                    (runs until SIGTERM/SIGINT or --duration, then prints)
    client.py udp   --host VIP [--port 53] -n N
                    (a new socket per datagram; the reply must come from VIP:port)
    client.py bigsum MB    (sha256 of what GET /big?mb=MB returns)
    client.py halfclose --host VIP [--port 80] [-H ...]
                    (sends the request, shuts its side down, reads to EOF)
"""
import argparse
import hashlib
import ipaddress
import json
import signal
import socket
import sys
import threading
import time

MIB = 1 << 20


class HttpError(Exception):
    pass


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.fail = 0
        self.by_backend = {}
        self.by_status = {}
        self.errors = {}
        self.first_errors = []
        self.start = time.monotonic()

    def good(self, name, status=200):
        with self.lock:
            self.ok += 1
            self.by_backend[name] = self.by_backend.get(name, 0) + 1
            codes = self.by_status.setdefault(name, {})
            codes[str(status)] = codes.get(str(status), 0) + 1

    def bad(self, exc):
        kind = type(exc).__name__
        with self.lock:
            self.fail += 1
            self.errors[kind] = self.errors.get(kind, 0) + 1
            if len(self.first_errors) < 10:
                self.first_errors.append(
                    "%.3fs %s: %s" % (time.monotonic() - self.start, kind, exc))

    def dump(self, **extra):
        with self.lock:
            out = {
                "total": self.ok + self.fail,
                "ok": self.ok,
                "fail": self.fail,
                "by_backend": dict(sorted(self.by_backend.items())),
                "by_status": {k: dict(sorted(v.items()))
                              for k, v in sorted(self.by_status.items())},
                "errors": self.errors,
                "first_errors": self.first_errors,
                "seconds": round(time.monotonic() - self.start, 3),
            }
        out.update(extra)
        print(json.dumps(out), flush=True)


def request(host, path, headers=()):
    extra = "".join("%s\r\n" % h for h in headers)
    return ("GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n%s\r\n" %
            (path, host, extra)).encode()


def http_get(host, port, path, timeout, any_status=False, headers=(), half_close=False):
    """(backend name, status) of one GET; raises on failure (and on a status
    other than 200 unless any_status)."""
    req = request(host, path, headers)
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(req)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            d = s.recv(65536)
            if not d:
                break
            chunks.append(d)
    finally:
        s.close()
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not sep:
        raise HttpError("truncated response (%d bytes)" % len(head))
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    ok = len(parts) >= 2 and (parts[1] == b"200" or (any_status and len(parts[1]) == 3 and
                                                     parts[1].isdigit()))
    if not ok:
        raise HttpError("status line %r" % lines[0])
    name = body.strip().decode(errors="replace")
    if any_status:
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"x-backend":
                name = v.strip().decode(errors="replace")
    if not name:
        raise HttpError("empty body")
    return name, int(parts[1])


def cmd_burst(args):
    tally = Tally()
    left = [args.n]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            try:
                tally.good(*http_get(args.host, args.port, args.path, args.timeout,
                                     args.any_status, args.header))
            except Exception as e:  # every failure is counted, never fatal
                tally.bad(e)

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.c))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally.dump()
    return 0


def cmd_loop(args):
    tally = Tally()
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def worker():
        while not stop.is_set():
            try:
                tally.good(*http_get(args.host, args.port, args.path, args.timeout,
                                     args.any_status, args.header))
            except Exception as e:
                tally.bad(e)
            if args.interval:
                stop.wait(args.interval)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, args.c))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + args.duration if args.duration else None
    while not stop.is_set():
        if deadline and time.monotonic() >= deadline:
            break
        stop.wait(0.1)
    stop.set()
    for t in threads:
        t.join(args.timeout + 1)
    tally.dump()
    return 0


def cmd_udp(args):
    tally = Tally()
    want = ipaddress.ip_address(args.host)
    family = socket.AF_INET6 if want.version == 6 else socket.AF_INET
    bad_source = 0
    # Sockets stay open until the end, so that no two datagrams share a
    # source port: each one is a flow of its own for sluice.
    socks = []
    for i in range(args.n):
        payload = b"ping-%d" % i
        s = socket.socket(family, socket.SOCK_DGRAM)
        socks.append(s)
        s.settimeout(args.timeout)
        try:
            s.sendto(payload, (args.host, args.port))
            data, addr = s.recvfrom(65535)
            name, sep, echo = data.partition(b":")
            if ipaddress.ip_address(addr[0]) != want or addr[1] != args.port:
                bad_source += 1
                raise HttpError("reply from %s port %d" % (addr[0], addr[1]))
            if not sep or echo != payload:
                raise HttpError("bad echo %r" % data)
            tally.good(name.decode(errors="replace"))
        except Exception as e:
            tally.bad(e)
    for s in socks:
        s.close()
    tally.dump(bad_source=bad_source)
    return 0


def cmd_bigsum(args):
    h = hashlib.sha256()
    for i in range(args.mb):
        h.update(hashlib.sha256(b"sluice-big-%d" % i).digest() * (MIB // 32))
    print(h.hexdigest())
    return 0


def cmd_halfclose(args):
    tally = Tally()
    for _ in range(args.n):
        try:
            tally.good(*http_get(args.host, args.port, args.path, args.timeout, False,
                                 args.header, half_close=True))
        except Exception as e:
            tally.bad(e)
    tally.dump()
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("burst", "loop", "udp", "halfclose"):
        p = sub.add_parser(name)
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, default=53 if name == "udp" else 80)
        p.add_argument("--path", default="/")
        p.add_argument("--timeout", type=float, default=5.0)
        p.add_argument("-n", type=int, default=100)
        p.add_argument("-c", type=int, default=4)
        p.add_argument("--interval", type=float, default=0.0)
        p.add_argument("--duration", type=float, default=0.0)
        if name != "udp":
            p.add_argument("--any-status", action="store_true",
                           help="count any complete response as ok, by status")
            p.add_argument("-H", "--header", action="append", default=[],
                           help="an extra request header, 'Name: value'")
    p = sub.add_parser("bigsum")
    p.add_argument("mb", type=int)
    args = ap.parse_args()
    return {"burst": cmd_burst, "loop": cmd_loop, "udp": cmd_udp, "bigsum": cmd_bigsum,
            "halfclose": cmd_halfclose}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
