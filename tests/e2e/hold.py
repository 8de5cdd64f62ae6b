#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Held connections for test_rollout_reset.sh.

hold.py HOST PORT N OUT [--download MB]: open N connections to HOST:PORT,
each with a request started but not finished (the backend waits for the
rest), and write their local ports to OUT.ports. On SIGUSR1, finish every
request at once and write to OUT, per local port: {"outcome": "reset" |
"closed" | "<status> <backend>", "secs": time from the signal to the
outcome}. With --download, each asks for MB MiB of /big at once, on a small
receive buffer, and reads nothing until the signal: a download in flight.
"""
import json
import signal
import socket
import sys
import time

go = False


def on_usr1(_sig, _frm):
    global go
    go = True


def outcome(s):
    data = b""  # the head is enough; a download's body is only counted
    total = 0
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            total += len(chunk)
            if len(data) < 4096:
                data += chunk
    except ConnectionResetError:
        return "reset"
    except OSError as e:
        return "error %s" % e
    if not data:
        return "closed"
    raw = data.split(b"\r\n\r\n", 1)[0]
    head = raw.decode(errors="replace").split("\r\n")
    status = head[0].split(" ")[1] if len(head[0].split(" ")) > 1 else "?"
    backend = next((h.split(":", 1)[1].strip() for h in head[1:]
                    if h.lower().startswith("x-backend:")), "?")
    length = next((h.split(":", 1)[1].strip() for h in head[1:]
                   if h.lower().startswith("content-length:")), None)
    if length is not None and total - len(raw) - 4 != int(length):
        return "short %d of %s" % (total - len(raw) - 4, length)
    return "%s %s" % (status, backend)


def main():
    host, port, n, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    mb = int(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[5] == "--download" else 0
    signal.signal(signal.SIGUSR1, on_usr1)
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if mb:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.settimeout(20)
        s.connect((host, port))
        if mb:
            s.sendall(b"GET /big?mb=%d HTTP/1.0\r\nHost: held\r\n\r\n" % mb)
        else:
            s.sendall(b"GET / HTTP/1.0\r\nHost: held\r\n")
        socks.append(s)
    with open(out + ".ports", "w") as f:
        json.dump([s.getsockname()[1] for s in socks], f)
    while not go:
        time.sleep(0.01)
    t0 = time.monotonic()
    res = {}
    for s in socks:
        try:
            if not mb:
                s.sendall(b"\r\n")
        except OSError:
            pass
    for s in socks:
        o = outcome(s)
        res[str(s.getsockname()[1])] = {"outcome": o, "secs": round(time.monotonic() - t0, 3)}
    with open(out, "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
