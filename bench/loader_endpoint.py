"""A minimal local S3 + DynamoDB endpoint for the loader benchmark (run in its own process).

    python bench/loader_endpoint.py --data-dir DIR [--delay-ms 10]

Binds 127.0.0.1 on a free port and prints the port on the first line of stdout; exits
when its stdin reaches end of file (its parent closed the pipe or died).
Threaded HTTP/1.1 with keep-alive; each response goes out in one ``sendall`` and the
socket has TCP_NODELAY, so no Nagle / delayed-ACK stall adds to the simulated delay.

- DynamoDB (POST with ``X-Amz-Target``): BatchWriteItem counts its put requests and
  answers ``{"UnprocessedItems": {}}`` after the delay; DescribeTable describes a table
  keyed by a string ``id`` (the benchmark's files); any other operation (the ledger's
  UpdateItem) answers ``{}`` after the delay.
- S3: ``GET /<bucket>/<key>`` streams ``DIR/<basename of key>``; PUT answers 200.
- Control: ``GET /_stats`` -> ``{"items": n, "calls": n}``; ``POST /_reset`` zeroes them;
  ``POST /_config`` with ``{"delay_ms": n}`` changes the delay.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

LOOPBACK = "127.0.0.1"
_PUT_MARKER = b'"PutRequest":'
_TABLE_DESCRIPTION = json.dumps(
    {
        "Table": {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        }
    }
).encode()
_COPY_BYTES = 1 << 20


class _State:
    def __init__(self, data_dir: str, delay_s: float) -> None:
        self.data_dir = data_dir
        self.delay_s = delay_s
        self.items = 0
        self.calls = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ClassVar[_State]

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would cost more than the request

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(
        self, status: int, body: bytes, content_type: str = "application/x-amz-json-1.0"
    ) -> None:
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            "x-amzn-RequestId: bench\r\n"
            'ETag: "bench"\r\n'
            "\r\n"
        ).encode()
        self.wfile.write(head + body)  # one write: one segment for small replies

    def do_POST(self) -> None:
        body = self._body()
        state = self.state
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".BatchWriteItem"):
            items = body.count(_PUT_MARKER)
            with state.lock:
                state.items += items
                state.calls += 1
            reply = b'{"UnprocessedItems":{}}'
        elif target.endswith(".DescribeTable"):
            reply = _TABLE_DESCRIPTION
        elif target:
            reply = b"{}"
        elif self.path == "/_reset":
            with state.lock:
                state.items = state.calls = 0
            self._reply(200, b"{}")
            return
        elif self.path == "/_config":
            state.delay_s = float(json.loads(body)["delay_ms"]) / 1000
            self._reply(200, b"{}")
            return
        else:
            self._reply(404, b"{}")
            return
        if state.delay_s:
            time.sleep(state.delay_s)
        self._reply(200, reply)

    def do_PUT(self) -> None:
        self._body()
        self._reply(200, b"", "application/xml")

    def do_GET(self) -> None:
        if self.path == "/_stats":
            with self.state.lock:
                stats = {"items": self.state.items, "calls": self.state.calls}
            self._reply(200, json.dumps(stats).encode(), "application/json")
            return
        name = os.path.basename(self.path.split("?", 1)[0])
        path = os.path.join(self.state.data_dir, name)
        if not name or not os.path.isfile(path):
            self._reply(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
            return
        size = os.path.getsize(path)
        self.wfile.write(
            (
                "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n"
                f'Content-Length: {size}\r\nETag: "bench"\r\n\r\n'
            ).encode()
        )
        with open(path, "rb") as source:
            while chunk := source.read(_COPY_BYTES):
                self.wfile.write(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    args = parser.parse_args()
    _Handler.state = _State(args.data_dir, args.delay_ms / 1000)
    server = _Server((LOOPBACK, 0), _Handler)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the parent goes away
    os._exit(0)


if __name__ == "__main__":
    main()
