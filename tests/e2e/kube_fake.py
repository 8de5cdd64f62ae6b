#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A fake Kubernetes API server over HTTPS, for `sluice run --kubernetes`.

Serves, for services, endpointslices, pods, destinationrules and
virtualservices (all namespaces), what a real API server does for a client
that lists and watches:
  GET <collection>?limit=N[&continue=..]    a list (paged), with the current
                                            resourceVersion
  GET <collection>?watch=1&resourceVersion=RV[&allowWatchBookmarks=true]
      one JSON event per line (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR),
      starting with every event after RV; HTTP 410 Gone if RV is older than
      the last compaction
Every request must carry "Authorization: Bearer <token>" (else 401). A kind
whose fixture file is missing is not served (404), like Istio's kinds in a
cluster without Istio.

The test drives it on the same port (POST, token required):
  /_ctl/event?kind=K      body {"type": ..., "object": ...}: a change, sent
                          to open watches and remembered for later ones
  /_ctl/events?kind=K     body [{"type": ..., "object": ...}, ...]: as many
                          changes at once (a burst, as a rollout makes)
  /_ctl/silent?kind=K     body {"type": ..., "object": ...}: a change that
                          no watch will ever see (lost to compaction)
  /_ctl/compact?kind=K[&mode=event|http]
                          forget the history: open watches get an ERROR 410
                          event (mode=event) or are just closed (mode=http),
                          and a watch from an older version gets HTTP 410
  /_ctl/drop?kind=K       close open watches abruptly
  /_ctl/bookmark?kind=K   a BOOKMARK at the current resourceVersion
  /_ctl/bare-pages?kind=K list pages after the first carry no resourceVersion
                          (the client must keep the first page's)
  GET /_ctl/stats         {"lists": {K: n}, "watches": {K: [{"rv", "bookmarks"}]}}

    kube_fake.py --port P --cert C --key K --token T --fixtures DIR
DIR holds K.json files, each a JSON array of objects. With --port 0 the
kernel picks the port; the first line printed, "serving on URL", names it.
"""
import argparse
import copy
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PATHS = {
    "/api/v1/services": "services",
    "/apis/discovery.k8s.io/v1/endpointslices": "endpointslices",
    "/api/v1/pods": "pods",
    "/apis/networking.istio.io/v1beta1/destinationrules": "destinationrules",
    "/apis/networking.istio.io/v1beta1/virtualservices": "virtualservices",
    "/apis/sluice.io/v1alpha1/canaries": "canaries",
}


class Kind:
    def __init__(self, name, objs):
        self.name = name
        self.store = {}
        self.log = []  # (rv, type, obj)
        self.min_rv = 0
        self.drop_gen = 0
        self.compact_gen = 0
        self.compact_mode = "event"
        self.bookmark_gen = 0
        self.bare_pages = False
        for o in objs:
            self.store[key(o)] = o


def key(o):
    md = o.get("metadata", {})
    return md.get("namespace", "") + "/" + md.get("name", "")


class State:
    def __init__(self, fixtures):
        self.cond = threading.Condition()
        self.rv = 100
        self.kinds = {}
        self.lists = {}
        self.watches = {}
        for k in PATHS.values():
            f = os.path.join(fixtures, k + ".json")
            if os.path.exists(f):
                with open(f) as fh:
                    objs = json.load(fh)
                for o in objs:
                    self.rv += 1
                    o.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
                    # what a real server adds, and sluice must not depend on
                    o["metadata"].setdefault("uid", "uid-%d" % self.rv)
                    o["metadata"].setdefault("managedFields", [{"manager": "kubectl"}])
                self.kinds[k] = Kind(k, objs)

    def change(self, kind, ev, silent):
        with self.cond:
            self.rv += 1
            obj = copy.deepcopy(ev["object"])
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            if ev["type"] == "DELETED":
                kind.store.pop(key(obj), None)
            else:
                kind.store[key(obj)] = obj
            if not silent:
                kind.log.append((self.rv, ev["type"], obj))
            self.cond.notify_all()
            return self.rv


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (time.strftime("%T"), fmt % args))

    def reply(self, code, obj, close=False):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, reason, msg):
        self.reply(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                          "message": msg, "reason": reason, "code": code})

    def authorized(self):
        if self.headers.get("Authorization") == "Bearer " + self.server.token:
            return True
        self.status(401, "Unauthorized", "Unauthorized")
        return False

    def do_GET(self):
        if not self.authorized():
            return
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        st = self.server.state
        if u.path == "/_ctl/stats":
            with st.cond:
                self.reply(200, {"lists": st.lists, "watches": st.watches, "rv": st.rv})
            return
        name = PATHS.get(u.path)
        if not name or name not in st.kinds:
            self.status(404, "NotFound", "the server could not find the requested resource")
            return
        kind = st.kinds[name]
        if q.get("watch") in ("1", "true"):
            self.watch(kind, q)
        else:
            self.list(kind, q)

    def list(self, kind, q):
        st = self.server.state
        limit = int(q.get("limit", "0") or 0)
        start = int(q.get("continue", "0") or 0)
        with st.cond:
            st.lists[kind.name] = st.lists.get(kind.name, 0) + 1
            items = [kind.store[k] for k in sorted(kind.store)]
            rv = str(st.rv)
        end = start + limit if limit else len(items)
        md = {} if start and kind.bare_pages else {"resourceVersion": rv}
        if end < len(items):
            md["continue"] = str(end)
        # list items carry no kind, as from a real server
        page = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
                for o in items[start:end]]
        self.reply(200, {"kind": "List", "apiVersion": "v1", "metadata": md, "items": page})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event(self, type_, obj):
        self.chunk((json.dumps({"type": type_, "object": obj}) + "\n").encode())

    def watch(self, kind, q):
        st = self.server.state
        rv = int(q.get("resourceVersion", "0") or 0)
        timeout = int(q.get("timeoutSeconds", "300"))
        with st.cond:
            rec = {"rv": rv, "bookmarks": q.get("allowWatchBookmarks") == "true"}
            st.watches.setdefault(kind.name, []).append(rec)
            if rv < kind.min_rv:
                gone = True
            else:
                gone = False
                pos = 0
                while pos < len(kind.log) and kind.log[pos][0] <= rv:
                    pos += 1
                drop_gen, compact_gen = kind.drop_gen, kind.compact_gen
                bookmark_gen = kind.bookmark_gen
        if gone:
            self.status(410, "Expired", "too old resource version: %d (%d)" % (rv, kind.min_rv))
            return
        # Chunked, as a real server streams: a drop shows as a truncated body.
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + timeout
        try:
            self.stream(kind, rec, pos, drop_gen, compact_gen, bookmark_gen, deadline)
            self.chunk(b"")  # the end of the body: the watch ended cleanly
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def stream(self, kind, rec, pos, drop_gen, compact_gen, bookmark_gen, deadline):
        st = self.server.state
        while time.monotonic() < deadline:
            with st.cond:
                st.cond.wait_for(lambda: pos < len(kind.log) or kind.drop_gen != drop_gen or
                                 kind.compact_gen != compact_gen or
                                 kind.bookmark_gen != bookmark_gen, timeout=0.5)
                pending = kind.log[pos:]
                pos = len(kind.log)
                dropped = kind.drop_gen != drop_gen
                compacted = kind.compact_gen != compact_gen
                mode = kind.compact_mode
                bookmark = kind.bookmark_gen != bookmark_gen
                bookmark_gen = kind.bookmark_gen
                cur = st.rv
            for r, t, o in pending:
                self.event(t, o)
            if dropped:
                # abruptly: no end of the body, the socket just goes
                self.connection.shutdown(socket.SHUT_RDWR)
                raise ConnectionResetError("dropped")
            if compacted:
                if mode == "event":
                    self.event("ERROR", {"kind": "Status", "apiVersion": "v1",
                                         "status": "Failure", "reason": "Expired",
                                         "message": "too old resource version", "code": 410})
                return
            if bookmark and rec["bookmarks"]:
                self.event("BOOKMARK", {"kind": kind_of(kind.name), "apiVersion": "v1",
                                        "metadata": {"resourceVersion": str(cur)}})

    def do_POST(self):
        if not self.authorized():
            return
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        st = self.server.state
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        kind = st.kinds.get(q.get("kind", ""))
        if not kind:
            self.status(404, "NotFound", "no such kind")
            return
        cmd = u.path.rsplit("/", 1)[-1]
        if cmd in ("event", "silent"):
            rv = st.change(kind, body, cmd == "silent")
            self.reply(200, {"rv": rv})
            return
        if cmd == "events":
            for ev in body:
                rv = st.change(kind, ev, False)
            self.reply(200, {"rv": st.rv})
            return
        with st.cond:
            if cmd == "compact":
                kind.min_rv = st.rv
                kind.log = []
                kind.compact_mode = q.get("mode", "event")
                kind.compact_gen += 1
            elif cmd == "drop":
                kind.drop_gen += 1
            elif cmd == "bookmark":
                st.rv += 1
                kind.bookmark_gen += 1
            elif cmd == "bare-pages":
                kind.bare_pages = True
            else:
                self.status(400, "BadRequest", "unknown command")
                return
            st.cond.notify_all()
            rv = st.rv
        self.reply(200, {"rv": rv})


def kind_of(plural):
    return {"services": "Service", "endpointslices": "EndpointSlice", "pods": "Pod",
            "destinationrules": "DestinationRule", "virtualservices": "VirtualService"}[plural]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--fixtures", required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer((args.addr, args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args.fixtures)
    with open(args.token) as fh:
        srv.token = fh.read().strip()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("serving on https://%s:%d" % (args.addr, srv.server_address[1]), flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
