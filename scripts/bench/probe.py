#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Client-side probes for scripts/bench.sh (run in the client netns).

    probe.py flip --host VIP --want SUBSET -- CMD...
        Opens new connections back to back (one GET each); once 20 have
        answered, runs CMD (a weight change) and reports, as JSON, the time
        from just before CMD started to the start (connect) of the first new
        connection served by SUBSET: {"ms": .., "cmd_ms": .., "conns": ..}.
    probe.py hold --host VIP -n N --changes K -- CMD_A... -- CMD_B...
        Opens N keep-alive connections, asks each which backend serves it,
        then K times runs CMD_A or CMD_B alternately (live weight changes)
        and asks every connection again after each change. Reports
        {"conns": N, "changes": K, "moved": connections whose backend
        changed, "broken": connections that failed, "requests": ..}.

    probe.py steady --host VIP -n N --rate R --seconds T --ports FILE --until FILE
        Real clients under a flood (section 7): opens N keep-alive
        connections and writes their local ports to the --ports file, then
        for T seconds asks every held connection in turn, a round every
        0.2 s (2 s timeout), while a second thread opens R new connections
        a second, one GET each (1 s timeout each). Prints {"held": N, "held_broken": held
        connections that failed, "held_requests": .., "new_ok": ..,
        "new_failed": .., "new_p50_ms": .., "new_p99_ms": ..}, then keeps the
        held connections open until the --until file exists (at most 60 s),
        so that their entries can be looked up.

Backends answer GET / with their name ("v1a\\n"); the subset is the name
without its trailing letter.
"""
import json
import socket
import subprocess
import sys
import time


def subset(name):
    return name.rstrip("abcdefgh") or name


def one_get(host, port, timeout=2.0):
    """A new connection, one request; (connect_start, backend name)."""
    t = time.monotonic()
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        buf = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            buf += d
    finally:
        s.close()
    return t, buf.split(b"\r\n\r\n", 1)[-1].strip().decode()


def flip(host, port, want, cmd):
    n = 0
    while n < 20:
        one_get(host, port)
        n += 1
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    cmd_done = None
    deadline = t0 + 30
    while time.monotonic() < deadline:
        if cmd_done is None and proc.poll() is not None:
            cmd_done = time.monotonic()
        try:
            t, name = one_get(host, port)
        except OSError:
            continue
        n += 1
        if subset(name) == want and t >= t0:
            proc.wait()
            cmd_done = cmd_done or time.monotonic()
            print(json.dumps({"ms": (t - t0) * 1e3, "cmd_ms": (cmd_done - t0) * 1e3, "conns": n}))
            return 0
    proc.wait()
    print(json.dumps({"ms": None, "conns": n}))
    return 1


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=5)
        self.buf = b""

    def ask(self):
        self.s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        clen = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                clen = int(line.split(b":")[1])
        while len(rest) < clen:
            d = self.s.recv(4096)
            if not d:
                raise ConnectionError("closed")
            rest += d
        self.buf = rest[clen:]
        return rest[:clen].strip().decode()


def hold(host, port, n, changes, cmd_a, cmd_b):
    conns = [Conn(host, port) for _ in range(n)]
    first = [c.ask() for c in conns]
    moved = set()
    broken = set()
    reqs = n
    for k in range(changes):
        subprocess.run(cmd_a if k % 2 == 0 else cmd_b, check=True, stdout=subprocess.DEVNULL)
        for i, c in enumerate(conns):
            if i in broken:
                continue
            try:
                name = c.ask()
                reqs += 1
            except OSError:
                broken.add(i)
                continue
            if name != first[i]:
                moved.add(i)
    print(json.dumps({"conns": n, "changes": changes, "moved": len(moved),
                      "broken": len(broken), "requests": reqs,
                      "backends": {b: first.count(b) for b in sorted(set(first))}}))
    return 0 if not moved and not broken else 1


def steady(host, port, n, rate, seconds, ports_file, until_file):
    import os
    import threading

    conns = [Conn(host, port) for _ in range(n)]
    for c in conns:
        c.s.settimeout(2.0)
        c.ask()
    with open(ports_file + ".tmp", "w") as f:
        f.write("\n".join(str(c.s.getsockname()[1]) for c in conns) + "\n")
    os.rename(ports_file + ".tmp", ports_file)
    stop = time.monotonic() + seconds
    new = {"ok": 0, "failed": 0, "ms": []}

    def opener():
        start = time.monotonic()
        while time.monotonic() < stop:
            t = time.monotonic()
            due = start + (new["ok"] + new["failed"]) / rate
            if t < due:
                time.sleep(due - t)
                continue
            try:
                one_get(host, port, timeout=1.0)
            except OSError:
                new["failed"] += 1
                continue
            new["ok"] += 1
            new["ms"].append((time.monotonic() - t) * 1e3)

    th = threading.Thread(target=opener)
    th.start()
    broken = set()
    reqs = 0
    while time.monotonic() < stop:
        for i, c in enumerate(conns):
            if i in broken:
                continue
            try:
                c.ask()
                reqs += 1
            except OSError:
                broken.add(i)
        time.sleep(0.2)
    th.join()
    ms = sorted(new["ms"]) or [None]
    print(json.dumps({"held": n, "held_broken": len(broken), "held_requests": reqs,
                      "new_ok": new["ok"], "new_failed": new["failed"],
                      "new_p50_ms": ms[len(ms) // 2], "new_p99_ms": ms[int(len(ms) * 0.99)]}),
          flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(until_file) and time.monotonic() < deadline:
        time.sleep(0.1)
    return 0


def main():
    a = sys.argv[1:]
    mode = a.pop(0)
    opts = {"--host": "10.96.0.10", "--port": "80", "--want": "v2", "-n": "50",
            "--changes": "100"}
    while a and a[0] != "--":
        opts[a[0]] = a[1]
        a = a[2:]
    a = a[1:]
    host, port = opts["--host"], int(opts["--port"])
    if mode == "flip":
        return flip(host, port, opts["--want"], a)
    if mode == "steady":
        return steady(host, port, int(opts["-n"]), float(opts.get("--rate", "200")),
                      float(opts["--seconds"]), opts["--ports"], opts["--until"])
    if mode == "hold":
        i = a.index("--")
        return hold(host, port, int(opts["-n"]), int(opts["--changes"]), a[:i], a[i + 1:])
    sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    sys.exit(main())
