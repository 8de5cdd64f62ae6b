#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A hostile pod for the L7 step: thousands of connections that hold on.

    hostile.py --host VIP [--port 80] --group NAME:KIND:N:FIRST[-LAST] ...
               --ready FILE [--hold S]

Each group opens N connections from each source address FIRST..LAST (IPv4,
the last octet counts up), in order, group after group:
    idle    connects and sends nothing
    noread  asks for a large response (GET /big?mb=256) and never reads it
Once every handshake is done it writes FILE (the JSON below, so far); then
it watches every socket until all are closed or --hold seconds have passed,
and prints on stdout, per group:
    {"NAME": {"opened": N, "connected": N, "closed": N, "reset": N,
              "closed_after": [MIN_S, MAX_S], "open": N}, ...}
closed_after is measured from the end of each socket's handshake; "reset"
counts those that ended with ECONNRESET (the rest saw a FIN).
"""
import argparse
import errno
import ipaddress
import json
import os
import resource
import select
import socket
import sys
import time

BATCH = 256


class Group:
    def __init__(self, spec):
        self.name, self.kind, n, addrs = spec.split(":")
        if self.kind not in ("idle", "noread"):
            raise SystemExit("hostile.py: kind is idle or noread, not %r" % self.kind)
        first, _, last = addrs.partition("-")
        a = ipaddress.IPv4Address(first)
        b = ipaddress.IPv4Address(last or first)
        self.srcs = [str(ipaddress.IPv4Address(i)) for i in range(int(a), int(b) + 1)]
        self.n = int(n)
        self.opened = self.connected = self.closed = self.reset = 0
        self.after = []

    def report(self):
        return {"opened": self.opened, "connected": self.connected, "closed": self.closed,
                "reset": self.reset,
                "closed_after": [round(min(self.after), 2), round(max(self.after), 2)]
                if self.after else None,
                "open": self.connected - self.closed}


def connect_batch(host, port, group, src, count, live):
    """count non-blocking connects from src; the connected ones go to live."""
    pending = {}
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((src, 0))
        group.opened += 1
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            continue
        pending[s.fileno()] = s
    p = select.poll()
    for fd in pending:
        p.register(fd, select.POLLOUT)
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        for fd, _ in p.poll(200):
            s = pending.pop(fd)
            p.unregister(fd)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == errno.ECONNRESET:
                # connected, then reset before we looked (refused at accept)
                group.connected += 1
                group.closed += 1
                group.reset += 1
                group.after.append(0.0)
            if err:
                s.close()
                continue
            group.connected += 1
            if group.kind == "noread":
                s.send(b"GET /big?mb=256 HTTP/1.1\r\nHost: backend\r\n\r\n")
            live[fd] = (s, group, time.monotonic())
    for s in pending.values():
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--group", action="append", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--hold", type=float, default=60)
    args = ap.parse_args()

    # thousands of sockets: the hard limit, not the usual 1024
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    groups = [Group(spec) for spec in args.group]
    live = {}
    for g in groups:
        for src in g.srcs:
            left = g.n
            while left:
                k = min(left, BATCH)
                connect_batch(args.host, args.port, g, src, k, live)
                left -= k
    with open(args.ready + ".tmp", "w") as f:
        json.dump({g.name: g.report() for g in groups}, f)
    os.rename(args.ready + ".tmp", args.ready)

    p = select.poll()
    for fd in live:
        # never POLLIN: a noread socket is readable all along
        p.register(fd, select.POLLRDHUP if hasattr(select, "POLLRDHUP") else 0x2000)
    end = time.monotonic() + args.hold
    while live and time.monotonic() < end:
        for fd, ev in p.poll(100):
            s, g, t0 = live.pop(fd)
            p.unregister(fd)
            g.closed += 1
            g.after.append(time.monotonic() - t0)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNRESET:
                g.reset += 1
            s.close()
    json.dump({g.name: g.report() for g in groups}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
