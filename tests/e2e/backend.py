#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A test backend: answers with its own name, so a client can tell who served it.

    backend.py NAME [--http-port 8080] [--udp-port 5353]
               [--fail-every N] [--reset-every N] [--delay-ms MS]

HTTP (IPv4 and IPv6 on one socket, HTTP/1.0, one request per connection):
    GET /              -> "NAME\\n"
    GET /big?mb=N      -> N MiB of deterministic data (see big_block), with
                          header X-Backend: NAME, for long downloads
    POST /sha256       -> "NAME SHA256-OF-THE-BODY\n" (Content-Length bodies), for uploads
    POST /rude         -> "NAME\n" at once without reading the body, then FIN,
                          then 0.3 s later a reset while the client still sends
    GET /reset         -> a TCP reset once the request is read, no answer
    GET /flaky?every=N[&backend=B]
                       -> "NAME\\n" with status 500 on every Nth /flaky request
                          this process serves (the Nth, 2Nth, ...), 200 on the
                          others; with backend=B, only the backend named B
                          fails, the others always answer 200. Header
                          X-Backend: NAME either way.
Misbehaving on purpose, for rollout tests (every GET / of this process):
    --fail-every N   the Nth, 2Nth... request is answered 500 (N=20: 5 %)
    --reset-every N  the Nth, 2Nth... request gets a TCP reset, no answer
    --delay-ms MS    every answer waits MS milliseconds first
UDP echo: a datagram D is answered with "NAME:" + D, to its sender.
"""
import argparse
import hashlib
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MIB = 1 << 20


def big_block(i):
    """MiB number i of a /big download; client.py bigsum computes the same."""
    return hashlib.sha256(b"sluice-big-%d" % i).digest() * (MIB // 32)


class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    # Bursts of new connections must not overflow the accept queue: a lost
    # SYN costs a 1 s retransmission and skews timing, not correctness.
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # /rude closes the socket under the handler's feet, on purpose
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    name = "unknown"
    flaky_lock = threading.Lock()
    flaky_count = 0
    fail_every = 0
    reset_every = 0
    delay_ms = 0
    served = 0

    def misbehave(self):
        """None, "fail" or "reset" for this GET /, per --fail-every/--reset-every."""
        if not (Handler.fail_every or Handler.reset_every):
            return None
        with Handler.flaky_lock:
            Handler.served += 1
            n = Handler.served
        if Handler.reset_every and n % Handler.reset_every == 0:
            return "reset"
        if Handler.fail_every and n % Handler.fail_every == 0:
            return "fail"
        return None

    def reset(self):
        c = self.connection
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()

    def flaky_status(self, query):
        """500 for every Nth /flaky request of this process, else 200."""
        try:
            every = int(parse_qs(query).get("every", ["0"])[0])
        except ValueError:
            return 400
        only = parse_qs(query).get("backend", [None])[0]
        if every <= 0 or (only is not None and only != self.name):
            return 200
        with Handler.flaky_lock:
            Handler.flaky_count += 1
            n = Handler.flaky_count
        return 500 if n % every == 0 else 200

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/big":
            try:
                mb = int(parse_qs(url.query).get("mb", ["10"])[0])
            except ValueError:
                self.send_error(400)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(mb * MIB))
            self.send_header("X-Backend", self.name)
            self.end_headers()
            try:
                for i in range(mb):
                    self.wfile.write(big_block(i))
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        status = self.flaky_status(url.query) if url.path == "/flaky" else 200
        if Handler.delay_ms:
            time.sleep(Handler.delay_ms / 1000.0)
        if url.path == "/reset":
            self.reset()
            return
        if url.path == "/":
            bad = self.misbehave()
            if bad == "reset":
                self.reset()
                return
            if bad == "fail":
                status = 500
        if status == 400:
            self.send_error(400)
            return
        body = (self.name + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", self.name)
        self.end_headers()
        self.wfile.write(body)


    def rude(self):
        body = (self.name + "\n").encode()
        c = self.connection
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\nX-Backend: %s\r\n\r\n%s"
                  % (len(body), self.name.encode(), body))
        c.shutdown(socket.SHUT_WR)
        c.settimeout(0.05)
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            try:
                c.recv(65536)
            except OSError:
                pass
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()

    def do_POST(self):
        if urlparse(self.path).path == "/rude":
            self.rude()
            return
        if urlparse(self.path).path != "/sha256":
            self.send_error(404)
            return
        try:
            left = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            self.send_error(400)
            return
        h = hashlib.sha256()
        while left > 0:
            d = self.rfile.read(min(left, MIB))
            if not d:
                return  # the client went away mid-body
            h.update(d)
            left -= len(d)
        body = ("%s %s\n" % (self.name, h.hexdigest())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", self.name)
        self.end_headers()
        self.wfile.write(body)


def udp_echo(name, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    prefix = (name + ":").encode()
    while True:
        data, addr = s.recvfrom(65535)
        s.sendto(prefix + data, addr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--http-port", type=int, default=8080)
    ap.add_argument("--udp-port", type=int, default=5353)
    ap.add_argument("--fail-every", type=int, default=0)
    ap.add_argument("--reset-every", type=int, default=0)
    ap.add_argument("--delay-ms", type=int, default=0)
    args = ap.parse_args()

    Handler.name = args.name
    Handler.fail_every = args.fail_every
    Handler.reset_every = args.reset_every
    Handler.delay_ms = args.delay_ms
    srv = Server(("::", args.http_port), Handler)
    if args.udp_port:
        threading.Thread(target=udp_echo, args=(args.name, args.udp_port), daemon=True).start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
