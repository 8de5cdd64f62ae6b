#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Slow HTTP clients against one port, for tests/e2e/test_control_surfaces.sh.

  slowloris.py hold --port P -n N [--sources K] [--seconds S]
      N connections to 127.0.0.1:P, spread over K source addresses
      (127.0.0.2, 127.0.0.3, ...: each its own "client IP"). Half trickle a
      request head one header line every second and never end it
      (slowloris); half send a whole GET /metrics and never read the answer
      (slow readers, receive buffer shrunk). Held for S seconds (or until
      SIGTERM), then one JSON line: how many connected, how many the server
      closed, how many never connected.

  slowloris.py perip --port P -n N --source ADDR
      N connections from one source address, each with half a request
      head; after a second, one JSON line: how many the server closed
      (refused above its per-address limit) and how many it kept.
"""
import argparse
import ipaddress
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time

HEAD = b"GET /metrics HTTP/1.1\r\nHost: sluice\r\n"


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, n + 64)
    if hard != resource.RLIM_INFINITY and want > hard:
        want = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def connect(port, src, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((src, 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    return s


class Conn:
    def __init__(self, sock, slow_reader):
        self.sock = sock
        self.slow_reader = slow_reader
        self.connected = False
        self.closed = False
        self.lines = 0


def hold(a):
    raise_nofile(a.n)
    base = ipaddress.ip_address("127.0.0.2")
    conns = []
    for i in range(a.n):
        src = str(base + i % a.sources)
        conns.append(Conn(connect(a.port, src, rcvbuf=1024 if i % 2 else None), i % 2 == 1))
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    end = time.monotonic() + a.seconds
    next_tick = 0.0
    while not stop[0] and time.monotonic() < end:
        now = time.monotonic()
        tick = now >= next_tick
        if tick:
            next_tick = now + 1.0
        for c in conns:
            if c.closed:
                continue
            try:
                if not c.connected:
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        c.closed = True
                        continue
                    c.sock.getpeername()  # ENOTCONN while the handshake is pending
                    c.connected = True
                    c.sock.send(HEAD + (b"\r\n" if c.slow_reader else b""))
                elif tick and not c.slow_reader:
                    c.sock.send(b"X-Slow-%d: 1\r\n" % c.lines)
                    c.lines += 1
                if not c.slow_reader and c.sock.recv(1, socket.MSG_PEEK) == b"":
                    c.closed = True
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                if c.connected:
                    c.closed = True
        time.sleep(0.05)
    out = {
        "n": a.n,
        "connected": sum(c.connected for c in conns),
        "closed_by_server": sum(c.connected and c.closed for c in conns),
        "never_connected": sum(not c.connected for c in conns),
    }
    for c in conns:
        c.sock.close()
    print(json.dumps(out), flush=True)


def perip(a):
    raise_nofile(a.n)
    socks = [connect(a.port, a.source) for _ in range(a.n)]
    sel = selectors.DefaultSelector()
    time.sleep(0.2)
    for s in socks:
        try:
            s.send(HEAD)
        except OSError:
            pass
        sel.register(s, selectors.EVENT_READ)
    closed = set()
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        for key, _ in sel.select(0.1):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed.add(key.fileobj)
                sel.unregister(key.fileobj)
    print(json.dumps({"n": a.n, "closed": len(closed), "kept": a.n - len(closed)}), flush=True)
    for s in socks:
        s.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hold")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("-n", type=int, default=1000)
    h.add_argument("--sources", type=int, default=1)
    h.add_argument("--seconds", type=float, default=15)
    q = sub.add_parser("perip")
    q.add_argument("--port", type=int, required=True)
    q.add_argument("-n", type=int, default=40)
    q.add_argument("--source", default="127.0.0.9")
    q.add_argument("--seconds", type=float, default=1)
    a = p.parse_args()
    {"hold": hold, "perip": perip}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
