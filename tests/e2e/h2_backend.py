#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""An HTTP/2 (h2c, prior knowledge) backend for test_h2.sh, on Python's h2.

    h2_backend.py NAME PORT

Every request is answered 200 with the body "NAME\\n" and x-backend: NAME,
after ?ms=N milliseconds for paths under /slow. Each request that ends
prints "req PATH canary=VALUE" and each stream the client resets prints
"reset", so the log is the backend's own count.
"""
import asyncio
import sys

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, RequestReceived, StreamEnded, StreamReset
from h2.exceptions import ProtocolError

NAME = sys.argv[1]
PORT = int(sys.argv[2])


def say(line):
    print(line, flush=True)


class Conn(asyncio.Protocol):
    def connection_made(self, transport):
        self.tr = transport
        self.h2 = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        self.h2.initiate_connection()
        self.tr.write(self.h2.data_to_send())
        self.reqs = {}

    def data_received(self, data):
        try:
            events = self.h2.receive_data(data)
        except ProtocolError as e:
            say(f"protocol-error {e}")
            self.tr.write(self.h2.data_to_send())
            self.tr.close()
            return
        for ev in events:
            if isinstance(ev, RequestReceived):
                self.reqs[ev.stream_id] = dict(ev.headers)
            elif isinstance(ev, DataReceived):
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, StreamEnded):
                self.request(ev.stream_id)
            elif isinstance(ev, StreamReset):
                say(f"reset {ev.stream_id} code={ev.error_code}")
                self.reqs.pop(ev.stream_id, None)
        self.tr.write(self.h2.data_to_send())

    def request(self, sid):
        h = self.reqs.get(sid)
        if h is None:
            return
        path = h.get(":path", "")
        say(f"req {path} canary={h.get('canary', '-')}")
        if path.startswith("/slow"):
            ms = int(path.split("ms=")[1]) if "ms=" in path else 2000
            asyncio.get_running_loop().call_later(ms / 1000, self.respond, sid)
        else:
            self.respond(sid)

    def respond(self, sid):
        if self.reqs.pop(sid, None) is None:
            return  # reset meanwhile
        body = (NAME + "\n").encode()
        try:
            self.h2.send_headers(sid, [(":status", "200"), ("content-length", str(len(body))),
                                       ("x-backend", NAME)])
            self.h2.send_data(sid, body, end_stream=True)
        except ProtocolError as e:
            say(f"send-failed {sid} {e}")
        self.tr.write(self.h2.data_to_send())


async def main():
    srv = await asyncio.get_running_loop().create_server(Conn, "0.0.0.0", PORT, reuse_address=True)
    say(f"listening {PORT}")
    async with srv:
        await srv.serve_forever()


asyncio.run(main())
