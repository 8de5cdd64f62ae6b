#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""gRPC server and client for test_h2.sh, on grpcio with a generic handler
(the messages are raw bytes: no .proto, no protoc).

    h2_grpc.py server NAME PORT
        /sluice.Test/Echo  answers the request's bytes, trailer x-backend: NAME
        /sluice.Test/Fail  ends FAILED_PRECONDITION "told to fail", same trailer
    h2_grpc.py call TARGET METHOD [--size BYTES] [--n CALLS]
        CALLS calls on one channel (one HTTP/2 connection); prints one JSON
        line: {"codes": {CODE: n}, "backends": {NAME: n}, "details": [...],
        "echo_ok": n}. A call's backend is the x-backend of its trailers.
"""
import hashlib
import json
import os
import sys
from concurrent import futures

import grpc

BIG = 64 << 20
OPTS = [("grpc.max_receive_message_length", BIG), ("grpc.max_send_message_length", BIG),
        ("grpc.enable_http_proxy", 0)]


def server(name, port):
    def echo(req, ctx):
        ctx.set_trailing_metadata((("x-backend", name),))
        return req

    def fail(req, ctx):
        ctx.set_trailing_metadata((("x-backend", name),))
        ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, "told to fail")

    class Handler(grpc.GenericRpcHandler):
        def service(self, details):
            if details.method == "/sluice.Test/Echo":
                return grpc.unary_unary_rpc_method_handler(echo)
            if details.method == "/sluice.Test/Fail":
                return grpc.unary_unary_rpc_method_handler(fail)
            return None

    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=OPTS)
    srv.add_generic_rpc_handlers((Handler(),))
    srv.add_insecure_port(f"0.0.0.0:{port}")
    srv.start()
    print(f"listening {port}", flush=True)
    srv.wait_for_termination()


def call(target, method, size, n):
    out = {"codes": {}, "backends": {}, "details": [], "echo_ok": 0}
    payload = os.urandom(size)
    want = hashlib.sha256(payload).hexdigest()
    with grpc.insecure_channel(target, options=OPTS) as ch:
        stub = ch.unary_unary(method)
        for _ in range(n):
            try:
                reply, c = stub.with_call(payload, timeout=60)
                code, trailers = c.code(), c.trailing_metadata()
                if hashlib.sha256(reply).hexdigest() == want:
                    out["echo_ok"] += 1
            except grpc.RpcError as e:
                code, trailers = e.code(), e.trailing_metadata()
                out["details"].append(e.details())
            out["codes"][code.name] = out["codes"].get(code.name, 0) + 1
            b = dict(trailers or ()).get("x-backend", "none")
            out["backends"][b] = out["backends"].get(b, 0) + 1
    print(json.dumps(out))


def main():
    a = sys.argv[1:]
    if a[0] == "server":
        server(a[1], int(a[2]))
        return
    size, n = 16, 1
    if "--size" in a:
        size = int(a[a.index("--size") + 1])
    if "--n" in a:
        n = int(a[a.index("--n") + 1])
    call(a[1], a[2], size, n)


main()
