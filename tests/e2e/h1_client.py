#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Clients on ONE kept-alive connection, for per-request routing tests.
Each prints one JSON object.

    h1_client.py alternate HOST N FIRST     2N requests, tester (canary:
                                            canary-tester) and plain ones
                                            alternating, FIRST (tester|plain)
                                            opening the connection
    h1_client.py seq HOST N [SLEEP]         N plain requests, SLEEP s apart
    h1_client.py weights HOST N FILE        N requests, then wait for FILE to
                                            appear, then N more (the test
                                            changes the weights meanwhile)
    h1_client.py pipeline HOST              tester, plain, tester in one write
    h1_client.py framing HOST               HEAD, chunked, 204, Expect:
                                            100-continue POST, chunked POST
    h1_client.py smuggle HOST SHAPE         a request smuggling shape
    h1_client.py ws HOST                    a WebSocket upgrade, then echo
    h1_client.py connect HOST               CONNECT, then a byte echo
"""
import http.client
import json
import os
import socket
import sys
import time

TESTER = {"canary": "canary-tester"}


class One:
    """One connection; counts it if http.client ever opens another."""

    def __init__(self, host):
        self.c = http.client.HTTPConnection(host, 80, timeout=10)
        self.sock = None
        self.reconnects = -1
        self.fail = 0

    def get(self, path="/", headers=None, method="GET", body=None):
        try:
            self.c.request(method, path, body=body, headers=headers or {})
            r = self.c.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.fail += 1
            self.c.close()
            return None, repr(e).encode(), {}
        if self.c.sock is not self.sock:
            self.reconnects += 1
            self.sock = self.c.sock
        return r.status, data, dict((k.lower(), v) for k, v in r.getheaders())


def count(d, key):
    d[key] = d.get(key, 0) + 1


def alternate(host, n, first):
    o = One(host)
    got = {"tester": {}, "plain": {}}
    conns = {}
    for i in range(2 * n):
        kind = first if i % 2 == 0 else ("plain" if first == "tester" else "tester")
        st, body, h = o.get("/", TESTER if kind == "tester" else None)
        if st == 200:
            count(got[kind], h["x-backend"])
            conns.setdefault(h["x-backend"], set()).add(h["x-conn"])
    return {"got": got, "fail": o.fail, "reconnects": o.reconnects,
            "upstream_conns": {k: len(v) for k, v in conns.items()}}


def seq(host, n, pause=0.0, headers=None):
    o = One(host)
    got = {}
    for _ in range(n):
        st, body, h = o.get("/", headers)
        if st == 200:
            count(got, h["x-backend"])
        if pause:
            time.sleep(pause)
    return {"got": got, "fail": o.fail, "reconnects": o.reconnects}


def weights(host, n, flag):
    o = One(host)
    before, after = {}, {}
    for _ in range(n):
        st, _, h = o.get("/")
        if st == 200:
            count(before, h["x-backend"])
    open(flag + ".asked", "w").close()
    end = time.monotonic() + 30
    while not os.path.exists(flag) and time.monotonic() < end:
        time.sleep(0.05)
    for _ in range(n):
        st, _, h = o.get("/")
        if st == 200:
            count(after, h["x-backend"])
    return {"before": before, "after": after, "fail": o.fail, "reconnects": o.reconnects}


def read_head(f):
    """A response head from a file: (status, headers), or (None, {}) at EOF."""
    line = f.readline()
    if not line:
        return None, {}
    hdrs = {}
    while True:
        h = f.readline().rstrip(b"\r\n")
        if not h:
            break
        k, v = h.decode().split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    return int(line.split()[1]), hdrs


def read_response(f):
    """One response from a file: (status, headers, body)."""
    status, hdrs = read_head(f)
    if status is None:
        return None, {}, b""
    body = f.read(int(hdrs.get("content-length", "0")))
    return status, hdrs, body


def pipeline(host):
    s = socket.create_connection((host, 80), 10)
    req = b"GET / HTTP/1.1\r\nHost: x\r\n%s\r\n"
    s.sendall(req % b"canary: canary-tester\r\n" + req % b"" + req % b"canary: canary-tester\r\n")
    f = s.makefile("rb")
    order = []
    for _ in range(3):
        st, h, body = read_response(f)
        order.append(h.get("x-backend", str(st)))
    return {"order": order}


def framing(host):
    o = One(host)
    out = {}
    st, body, h = o.get("/", TESTER, method="HEAD")
    out["head"] = [st, len(body)]
    st, body, h = o.get("/chunked", TESTER)
    out["chunked"] = [st, body.count(b"\n"), body.split(b"\n")[0].decode()]
    st, body, h = o.get("/nocontent", TESTER)
    out["nocontent"] = [st, len(body)]
    payload = os.urandom(3 << 20)
    st, body, h = o.get("/echo", dict(TESTER, Expect="100-continue"), method="POST",
                        body=payload)
    out["expect"] = [st, body.decode().strip()]
    out["expect_want"] = "%d" % len(payload)

    def chunks():
        for i in range(0, len(payload), 100000):
            yield payload[i:i + 100000]
    # an iterable body without a length: http.client sends it chunked
    st, body, h = o.get("/echo", TESTER, method="POST", body=chunks())
    out["chunked_post"] = [st, body.decode().strip()]
    import hashlib
    out["sha"] = hashlib.sha256(payload).hexdigest()
    st, body, h = o.get("/", TESTER)
    out["after"] = [st, body.decode().strip()]
    out["fail"] = o.fail
    out["reconnects"] = o.reconnects
    return out


SHAPES = {
    # both framings: which one would the backend take?
    "cl-te": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    "double-cl": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
                 b"Content-Length: 5\r\n\r\nhello!",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n",
    "te-space": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"
                b"0\r\n\r\n",
    "bad-chunk": b"POST /echo HTTP/1.1\r\nHost: x\r\ncanary: canary-tester\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "big-head": b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 40000 + b"\r\n\r\n",
}


def smuggle(host, shape):
    s = socket.create_connection((host, 80), 10)
    try:
        s.sendall(SHAPES[shape])
    except OSError:
        pass
    data = b""
    closed = False
    try:
        while True:
            d = s.recv(65536)
            if not d:
                closed = True
                break
            data += d
    except OSError as e:
        closed = "reset" if isinstance(e, ConnectionResetError) else False
    line = data.split(b"\r\n")[0].decode(errors="replace")
    return {"status_line": line, "closed": closed}


def ws(host):
    s = socket.create_connection((host, 80), 10)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\ncanary: canary-tester\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              b"Sec-WebSocket-Version: 13\r\n\r\n")
    f = s.makefile("rb")
    st, h, _ = read_response(f)
    echoed = []
    for i in range(20):
        payload = b"frame %d " % i + os.urandom(i * 100)
        mask = os.urandom(4)
        frame = bytes([0x82, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + \
            bytes(b ^ mask[j % 4] for j, b in enumerate(payload))
        s.sendall(frame)
        echoed.append(f.read(len(frame)) == frame)
    return {"status": st, "backend": h.get("x-backend"), "echoed": sum(echoed), "sent": 20}


def connect(host):
    s = socket.create_connection((host, 80), 10)
    s.sendall(b"CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n"
              b"canary: canary-tester\r\n\r\n")
    f = s.makefile("rb")
    status, hdrs = read_head(f)
    payload = os.urandom(200000)
    s.sendall(payload)
    got = f.read(len(payload))
    return {"status": status, "backend": hdrs.get("x-backend"),
            "echoed": got == payload}


def main():
    cmd, host = sys.argv[1], sys.argv[2]
    if cmd == "alternate":
        r = alternate(host, int(sys.argv[3]), sys.argv[4])
    elif cmd == "seq":
        r = seq(host, int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)
    elif cmd == "weights":
        r = weights(host, int(sys.argv[3]), sys.argv[4])
    elif cmd == "pipeline":
        r = pipeline(host)
    elif cmd == "framing":
        r = framing(host)
    elif cmd == "smuggle":
        r = smuggle(host, sys.argv[3])
    elif cmd == "ws":
        r = ws(host)
    elif cmd == "connect":
        r = connect(host)
    else:
        sys.exit("unknown command " + cmd)
    print(json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    main()
