#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""An HTTP/2 (h2c, prior knowledge) backend for test_h2.sh, on Python's h2.

    h2_backend.py NAME PORT

Every request is answered 200 with the body "NAME\\n" and x-backend: NAME,
after ?ms=N milliseconds for paths under /slow. Each request that ends
prints "req PATH canary=VALUE", each stream the client resets "reset",
each connection "conn", so the log is the backend's own count.

    /goaway     answered, then a GOAWAY naming the highest stream seen: the
                streams in flight still get their answers, then the
                connection closes ("goaway-sent")
    /rst        a response head, then RST_STREAM (INTERNAL_ERROR)
    /rst-early  RST_STREAM (INTERNAL_ERROR) with no response
    /sink-stall a request body never read (its window never opens again):
                "stalled BYTES" as it comes
    /big?mb=N   N MiB of body, sent as the flow-control windows allow;
                "big-sent BYTES" each time the window stops it, "big-done"
"""
import asyncio
import sys

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, RequestReceived, StreamEnded, StreamReset
from h2.events import WindowUpdated
from h2.exceptions import ProtocolError
from hyperframe.frame import GoAwayFrame

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
        self.big = {}
        self.sent = 0
        self.draining = False
        self.top = 0
        say("conn")

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
                self.top = max(self.top, ev.stream_id)
            elif isinstance(ev, DataReceived):
                h = self.reqs.get(ev.stream_id, {})
                if h.get(":path") == "/sink-stall":
                    h["got"] = h.get("got", 0) + len(ev.data)
                    say(f"stalled {h['got']}")
                else:
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, StreamEnded):
                self.request(ev.stream_id)
            elif isinstance(ev, StreamReset):
                say(f"reset {ev.stream_id} code={ev.error_code}")
                self.reqs.pop(ev.stream_id, None)
                self.big.pop(ev.stream_id, None)
            elif isinstance(ev, WindowUpdated):
                self.pump_big()
        self.tr.write(self.h2.data_to_send())
        self.maybe_close()

    def request(self, sid):
        h = self.reqs.get(sid)
        if h is None:
            return
        path = h.get(":path", "")
        say(f"req {path} canary={h.get('canary', '-')}")
        if path in ("/rst", "/rst-early"):
            self.reqs.pop(sid)
            if path == "/rst":
                self.h2.send_headers(sid, [(":status", "200"), ("x-backend", NAME)])
            self.h2.reset_stream(sid, 2)
        elif path.startswith("/big"):
            self.reqs.pop(sid)
            self.h2.send_headers(sid, [(":status", "200"), ("x-backend", NAME)])
            self.big[sid] = int(path.split("mb=")[1]) << 20
            self.pump_big()
        elif path.startswith("/slow"):
            ms = int(path.split("ms=")[1]) if "ms=" in path else 2000
            asyncio.get_running_loop().call_later(ms / 1000, self.respond, sid)
        else:
            self.respond(sid)

    def respond(self, sid):
        h = self.reqs.pop(sid, None)
        if h is None:
            return  # reset meanwhile
        body = (NAME + "\n").encode()
        try:
            self.h2.send_headers(sid, [(":status", "200"), ("content-length", str(len(body))),
                                       ("x-backend", NAME)])
            self.h2.send_data(sid, body, end_stream=True)
        except ProtocolError as e:
            say(f"send-failed {sid} {e}")
        self.tr.write(self.h2.data_to_send())
        if h.get(":path") == "/goaway":
            # written past h2's state machine, which would refuse to
            # answer the streams still in flight after its own GOAWAY
            self.tr.write(GoAwayFrame(0, last_stream_id=self.top, error_code=0).serialize())
            self.draining = True
            say("goaway-sent")
        self.maybe_close()

    def maybe_close(self):
        if self.draining and not self.reqs and not self.big:
            self.tr.close()

    def pump_big(self):
        for sid in list(self.big):
            left = self.big[sid]
            while left:
                n = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size,
                        left)
                if n <= 0:
                    break
                left -= n
                self.sent += n
                self.h2.send_data(sid, bytes(n), end_stream=not left)
            if left:
                self.big[sid] = left
                say(f"big-sent {self.sent}")
            else:
                del self.big[sid]
                say("big-done")
        self.tr.write(self.h2.data_to_send())


async def main():
    srv = await asyncio.get_running_loop().create_server(Conn, ["0.0.0.0", "::"], PORT,
                                                         reuse_address=True)
    say(f"listening {PORT}")
    async with srv:
        await srv.serve_forever()


asyncio.run(main())
