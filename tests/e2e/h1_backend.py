#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""An HTTP/1.1 keep-alive backend for per-request routing tests.

    h1_backend.py NAME [--port 8081]

Every response carries X-Backend: NAME and X-Conn: K, the number of this
backend's connection it came on (1, 2, ...), so a client can tell which
backend served it and how many upstream connections the proxy opened.
    GET /              -> "NAME\\n" (Content-Length)
    HEAD /             -> the same head, no body
    GET /chunked       -> "NAME\\n" and 40 more lines, chunked
    GET /nocontent     -> 204
    GET /stats         -> "NAME conns=N requests=M\\n"
    POST /echo         -> "NAME LEN SHA256\\n" of the body (Content-Length or
                          chunked); Expect: 100-continue is answered first
    GET /ws            -> with Upgrade: websocket, 101 and then every byte
                          received is sent back as it came (a byte echo)
    CONNECT any        -> 200 and then the same byte echo
"""
import argparse
import hashlib
import socket
import sys
import threading

LOCK = threading.Lock()
STATS = {"conns": 0, "requests": 0}


def read_head(f):
    lines = []
    while True:
        line = f.readline(65537)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.rstrip(b"\r\n"))


def read_chunked(f):
    body = b""
    while True:
        size = int(f.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while f.readline() not in (b"\r\n", b"\n", b""):
                pass
            return body
        body += f.read(size)
        f.readline()


def serve(sock, name):
    with LOCK:
        STATS["conns"] += 1
        conn_no = STATS["conns"]
    f = sock.makefile("rb")
    try:
        while True:
            head = read_head(f)
            if not head:
                return
            method, target, _ = head[0].decode().split(" ", 2)
            hdrs = {}
            for h in head[1:]:
                k, v = h.decode().split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
            with LOCK:
                STATS["requests"] += 1
            common = "X-Backend: %s\r\nX-Conn: %d\r\n" % (name, conn_no)
            if method == "POST":
                if hdrs.get("expect", "").lower() == "100-continue":
                    sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                if hdrs.get("transfer-encoding", "").lower() == "chunked":
                    body = read_chunked(f)
                else:
                    body = f.read(int(hdrs.get("content-length", "0")))
                out = ("%s %d %s\n" % (name, len(body), hashlib.sha256(body).hexdigest())).encode()
                sock.sendall(("HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n" %
                              (common, len(out))).encode() + out)
                continue
            ws = target == "/ws" and hdrs.get("upgrade", "").lower() == "websocket"
            if ws or method == "CONNECT":
                if ws:
                    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\n%sUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n\r\n" % common).encode())
                else:
                    sock.sendall(("HTTP/1.1 200 Connection established\r\n%s\r\n" %
                                  common).encode())
                # what the reader holds already first, then the socket
                while True:
                    data = f.read1(65536)
                    if not data:
                        return
                    sock.sendall(data)
            if target == "/nocontent":
                sock.sendall(("HTTP/1.1 204 No Content\r\n%s\r\n" % common).encode())
                continue
            if target == "/stats":
                with LOCK:
                    body = "%s conns=%d requests=%d\n" % (name, STATS["conns"], STATS["requests"])
            elif target == "/chunked":
                sock.sendall(("HTTP/1.1 200 OK\r\n%sTransfer-Encoding: chunked\r\n\r\n" %
                              common).encode())
                for i in range(41):
                    line = ("%s\n" % name if i == 0 else "line %d\n" % i).encode()
                    sock.sendall(b"%x\r\n%s\r\n" % (len(line), line))
                sock.sendall(b"0\r\n\r\n")
                continue
            else:
                body = "%s\n" % name
            head_out = "HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n" % (common, len(body))
            sock.sendall(head_out.encode() + (b"" if method == "HEAD" else body.encode()))
    except (OSError, ValueError):
        return
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--port", type=int, default=8081)
    a = ap.parse_args()
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("::", a.port))
    srv.listen(1024)
    while True:
        s, _ = srv.accept()
        threading.Thread(target=serve, args=(s, a.name), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
