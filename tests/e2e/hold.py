#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Held connections for test_rollout_reset.sh.

hold.py HOST PORT N OUT: open N connections to HOST:PORT, each with a request
started but not finished (the backend waits for the rest), and write their
local ports to OUT.ports. On SIGUSR1, finish every request at once and write
to OUT, per local port: {"outcome": "reset" | "closed" | "<status> <backend>",
"secs": time from the signal to the outcome}.
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
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        return "reset"
    except OSError as e:
        return "error %s" % e
    if not data:
        return "closed"
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    status = head[0].split(" ")[1] if len(head[0].split(" ")) > 1 else "?"
    backend = next((h.split(":", 1)[1].strip() for h in head[1:]
                    if h.lower().startswith("x-backend:")), "?")
    return "%s %s" % (status, backend)


def main():
    host, port, n, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    signal.signal(signal.SIGUSR1, on_usr1)
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=5)
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
