#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""HTTP/2 (h2c, prior knowledge) client for test_h2.sh: things h2load does
not do, each on ONE connection, printing one JSON line.

    h2_client.py reset HOST
        streams A (/slow?ms=3000) and B (/slow?ms=2000); A is reset by us
        (CANCEL) a second later, B still in flight; B must still be
        answered, then C (/) on the same connection. {"b": BODY, "c": BODY, "a": "reset"|BODY, "goaway": bool}
    h2_client.py phases HOST N GATE
        N requests (10 at a time), then create GATE.wait and wait (60 s at
        most) for GATE.go, then N more on the same connection.
        {"p1": {BACKEND: n}, "p2": {BACKEND: n}, "fail": n}
    h2_client.py goaway HOST
        with the canary header (all to v2): A (/slow?ms=800), then B
        (/goaway: the backend answers, then says GOAWAY), then, once both
        are answered, C (/). {"a": BODY, "b": BODY, "c": BODY}
    h2_client.py stall HOST MB GATE
        GET /big?mb=MB and read nothing (our windows stay at 64 KiB) until
        GATE.go exists (GATE.wait says we are stalled), then all of it.
        {"bytes": n, "done": bool}
    h2_client.py upreset HOST
        A (/rst: the backend resets after its head), B (/rst-early: it
        resets before any), C (/), on one connection.
        {"a": "reset", "b": "status 502", "c": BODY} when all is well
    h2_client.py hostile HOST
        a connection that breaks the protocol after the preface (DATA on
        stream 0: closed by us, "garbage": "closed"); on another, a stream with 200 header fields
        (more than we take: reset) and then a plain one (answered).
        {"garbage": "closed"|"open", "many": BODY, "after": BODY}
    h2_client.py upstall HOST
        POST /sink-stall (the backend reads nothing) and push body bytes for
        3 s as the windows allow. {"sent": BYTES}
    h2_client.py restart HOST GATE
        one GET, then GATE.wait; once GATE.go exists, wait (20 s at most)
        for the connection to end. {"first": BODY, "goaway": bool, "closed": bool}
"""
import json
import os
import socket
import sys
import time

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import (ConnectionTerminated, DataReceived, ResponseReceived, StreamEnded,
                       StreamReset)


class Client:
    def __init__(self, host):
        self.host = host
        self.sock = socket.create_connection((host, 80), timeout=30)
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
        self.h2.initiate_connection()
        self.flush()
        self.res = {}
        self.goaway = False

    def flush(self):
        self.sock.sendall(self.h2.data_to_send())

    def get(self, path, extra=()):
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "http"),
                                   (":authority", self.host)] + list(extra), end_stream=True)
        self.flush()
        self.res[sid] = {"status": None, "body": b"", "done": False, "reset": False}
        return sid

    def reset(self, sid):
        self.h2.reset_stream(sid, 8)  # CANCEL
        self.flush()
        self.res[sid]["reset"] = True
        self.res[sid]["done"] = True

    def wait(self, sids, deadline):
        while not all(self.res[s]["done"] for s in sids):
            if time.time() > deadline:
                return False
            data = self.sock.recv(65536)
            if not data:
                return False
            for ev in self.h2.receive_data(data):
                r = self.res.get(getattr(ev, "stream_id", None))
                if isinstance(ev, ResponseReceived) and r:
                    r["status"] = dict(ev.headers).get(":status")
                elif isinstance(ev, DataReceived):
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if r:
                        r["body"] += ev.data
                elif isinstance(ev, StreamEnded) and r:
                    r["done"] = True
                elif isinstance(ev, StreamReset) and r:
                    r["done"] = r["reset"] = True
                elif isinstance(ev, ConnectionTerminated):
                    self.goaway = True
            self.flush()
        return True

    def body(self, sid):
        r = self.res[sid]
        if r["reset"]:
            return "reset"
        if not r["done"]:
            return "none"
        return r["body"].decode(errors="replace").strip() or f"status {r['status']}"


def reset(host):
    c = Client(host)
    a = c.get("/slow?ms=3000")
    b = c.get("/slow?ms=2000")
    # in flight at the backend by then (a reset that overtakes the request
    # inside sluice is right too, but reaches no backend)
    time.sleep(1)
    c.reset(a)
    c.wait([b], time.time() + 10)
    d = c.get("/")
    c.wait([d], time.time() + 10)
    print(json.dumps({"a": c.body(a), "b": c.body(b), "c": c.body(d), "goaway": c.goaway}))


def phases(host, n, gate):
    c = Client(host)
    out = {"p1": {}, "p2": {}, "fail": 0}

    def run(key):
        left = n
        while left > 0:
            sids = [c.get("/") for _ in range(min(10, left))]
            left -= len(sids)
            c.wait(sids, time.time() + 20)
            for s in sids:
                b = c.body(s)
                if b in ("reset", "none") or b.startswith("status"):
                    out["fail"] += 1
                else:
                    out[key][b] = out[key].get(b, 0) + 1
    run("p1")
    wait_gate(gate)
    run("p2")
    print(json.dumps(out))


def goaway(host):
    c = Client(host)
    h = [("canary", "canary-tester")]
    a = c.get("/slow?ms=800", h)
    b = c.get("/goaway", h)
    c.wait([a, b], time.time() + 10)
    d = c.get("/", h)
    c.wait([d], time.time() + 10)
    print(json.dumps({"a": c.body(a), "b": c.body(b), "c": c.body(d)}))


def wait_gate(gate):
    open(gate + ".wait", "w").close()
    end = time.time() + 60
    while not os.path.exists(gate + ".go") and time.time() < end:
        time.sleep(0.05)


def stall(host, mb, gate):
    c = Client(host)
    s = c.get(f"/big?mb={mb}")
    wait_gate(gate)
    c.sock.settimeout(60)
    c.wait([s], time.time() + 120)
    r = c.res[s]
    print(json.dumps({"bytes": len(r["body"]), "done": r["done"] and not r["reset"]}))


def restart(host, gate):
    c = Client(host)
    s = c.get("/")
    c.wait([s], time.time() + 10)
    first = c.body(s)
    wait_gate(gate)
    c.sock.settimeout(20)
    closed = False
    try:
        while not c.goaway:
            data = c.sock.recv(65536)
            if not data:
                closed = True
                break
            for ev in c.h2.receive_data(data):
                if isinstance(ev, ConnectionTerminated):
                    c.goaway = True
    except OSError:
        closed = True
    print(json.dumps({"first": first, "goaway": c.goaway, "closed": closed}))


def upreset(host):
    c = Client(host)
    a = c.get("/rst")
    b = c.get("/rst-early")
    d = c.get("/")
    c.wait([a, b, d], time.time() + 10)
    print(json.dumps({"a": c.body(a), "b": c.body(b), "c": c.body(d)}))


def upstall(host):
    c = Client(host)
    sid = c.h2.get_next_available_stream_id()
    c.h2.send_headers(sid, [(":method", "POST"), (":path", "/sink-stall"), (":scheme", "http"),
                            (":authority", host)])
    c.flush()
    sent, end = 0, time.time() + 3
    c.sock.settimeout(0.1)
    while time.time() < end:
        n = min(c.h2.local_flow_control_window(sid), c.h2.max_outbound_frame_size)
        if n > 0:
            c.h2.send_data(sid, bytes(n))
            sent += n
            c.flush()
            continue
        try:
            data = c.sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        c.h2.receive_data(data)
        c.flush()
    print(json.dumps({"sent": sent}))


def hostile(host):
    s = socket.create_connection((host, 80), timeout=5)
    # an empty SETTINGS, then DATA on stream 0: a connection error
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
              b"\x00\x00\x04\x00\x00\x00\x00\x00\x00junk")
    garbage = "open"
    try:
        while s.recv(65536):
            pass
        garbage = "closed"
    except OSError:
        pass
    s.close()
    c = Client(host)
    a = c.get("/", [(f"x-h{i}", "v") for i in range(200)])
    c.wait([a], time.time() + 10)
    b = c.get("/")
    c.wait([b], time.time() + 10)
    print(json.dumps({"garbage": garbage, "many": c.body(a), "after": c.body(b)}))


if sys.argv[1] == "hostile":
    hostile(sys.argv[2])
elif sys.argv[1] == "upstall":
    upstall(sys.argv[2])
elif sys.argv[1] == "upreset":
    upreset(sys.argv[2])
elif sys.argv[1] == "restart":
    restart(sys.argv[2], sys.argv[3])
elif sys.argv[1] == "reset":
    reset(sys.argv[2])
elif sys.argv[1] == "goaway":
    goaway(sys.argv[2])
elif sys.argv[1] == "stall":
    stall(sys.argv[2], int(sys.argv[3]), sys.argv[4])
else:
    phases(sys.argv[2], int(sys.argv[3]), sys.argv[4])
