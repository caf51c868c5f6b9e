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
- A table write limit (off unless configured), as a provisioned DynamoDB table enforces
  its write capacity: a token bucket of ``write_limit`` items/s (one token per put: the
  benchmark's items are under 1 KB, one write unit each), holding at most ``burst_s``
  seconds of it and full after a reset (DynamoDB keeps up to 300 s of unused capacity for
  bursts; a few seconds keep the figure about the sustained rate). Each BatchWriteItem
  takes what the bucket holds when it arrives: all its puts if there are tokens enough;
  otherwise as many as there are tokens, the rest handed back in ``UnprocessedItems``
  (as sent); and with no whole token left, none: HTTP 400 with DynamoDB's JSON error body
  ``{"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
  "message": ...}``, which botocore's standard retry mode counts as throttling. With
  ``partial_batches`` false, a call is all or nothing (the error unless every put fits),
  which makes the error, not UnprocessedItems, the usual answer to a loader over the limit.
- Key accounting (on with a write limit, or with ``track_keys``): every put the endpoint
  accepts is counted by its ``id``, so that the benchmark can tell rows never written
  from rows written more than once. Without it the endpoint only counts the put markers
  in the body (no JSON parsing, the cheapest reply for the throughput figure).
- S3: ``GET /<bucket>/<key>`` streams ``DIR/<basename of key>`` (a ``Range: bytes=a-b``
  request its bytes a to b, 206); PUT answers 200.
- Control: ``GET /_stats`` -> ``{"items": n, "calls": n, ...}`` (with the write limit's
  counts: throttled calls, unprocessed puts, the first call and the last accepted put in
  seconds since the reset, puts accepted per 0.1 s, and the same per key group: an id up
  to its first ``-``, one group per loaded object in the benchmark); ``GET /_keys`` -> ``{id: times
  accepted}``; ``POST /_reset`` zeroes them and fills the bucket; ``POST /_config`` with
  ``{"delay_ms": n}`` and optionally ``"write_limit"`` (items/s, null for none),
  ``"burst_s"``, ``"partial_batches"`` and ``"track_keys"`` changes them.
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
#: Seconds of the write limit the bucket holds when none is configured.
DEFAULT_BURST_SECONDS = 2.0
#: Width in seconds of the bins of ``accepted_per_bin`` in ``/_stats``.
BIN_SECONDS = 0.1
_THROTTLED_BODY = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": (
            "The level of configured provisioned throughput for the table was exceeded. "
            "Consider increasing your provisioning level with the UpdateTable API."
        ),
    }
).encode()


class _State:
    """Counters and configuration shared by the handler threads (under ``lock``)."""

    def __init__(self, data_dir: str, delay_s: float) -> None:
        self.data_dir = data_dir
        self.delay_s = delay_s
        self.write_limit: float | None = None
        self.burst_s = DEFAULT_BURST_SECONDS
        self.track_keys = False
        self.partial_batches = True
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero the counters, forget the keys, fill the bucket (caller holds ``lock``)."""
        self.items = 0
        self.calls = 0
        self.throttled_calls = 0
        self.unprocessed = 0
        self.keys: dict[str, int] = {}
        self.bins: dict[int, int] = {}
        # Per key group (an id up to its first "-"): first and last accepted put, and bins.
        self.groups: dict[str, tuple[float, float]] = {}
        self.group_bins: dict[str, dict[int, int]] = {}
        self.started = time.monotonic()
        self.first_call: float | None = None
        self.last_accept: float | None = None
        self.tokens = (self.write_limit or 0.0) * self.burst_s
        self.refilled = self.started

    def take(self, wanted: int) -> int:
        """Puts of a call of ``wanted`` the table accepts now (caller holds ``lock``)."""
        if self.write_limit is None:
            return wanted
        now = time.monotonic()
        capacity = self.write_limit * self.burst_s
        self.tokens = min(capacity, self.tokens + (now - self.refilled) * self.write_limit)
        self.refilled = now
        accepted = min(wanted, int(self.tokens))
        if accepted < wanted and not self.partial_batches:
            accepted = 0
        self.tokens -= accepted
        return accepted

    def count(self, key: str, now: float, slot: int) -> None:
        """One accepted put of ``key`` (caller holds ``lock``)."""
        self.keys[key] = self.keys.get(key, 0) + 1
        group = key.partition("-")[0]
        first, _ = self.groups.get(group, (now, now))
        self.groups[group] = (first, now)
        bins = self.group_bins.setdefault(group, {})
        bins[slot] = bins.get(slot, 0) + 1

    def stats(self) -> dict[str, object]:
        """What ``/_stats`` answers (caller holds ``lock``)."""
        bins = [self.bins.get(i, 0) for i in range(max(self.bins, default=-1) + 1)]
        return {
            "items": self.items,
            "calls": self.calls,
            "throttled_calls": self.throttled_calls,
            "unprocessed": self.unprocessed,
            "first_call_s": _since(self.first_call, self.started),
            "last_accept_s": _since(self.last_accept, self.started),
            "bin_s": BIN_SECONDS,
            "accepted_per_bin": bins,
            "groups": {
                group: {
                    "first_accept_s": first - self.started,
                    "last_accept_s": last - self.started,
                    "accepted_per_bin": [
                        self.group_bins[group].get(i, 0) for i in range(len(bins))
                    ],
                }
                for group, (first, last) in self.groups.items()
            },
        }


def _since(moment: float | None, start: float) -> float | None:
    return None if moment is None else moment - start


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
        status = 200
        if target.endswith(".BatchWriteItem"):
            if state.write_limit is None and not state.track_keys:
                items = body.count(_PUT_MARKER)
                with state.lock:
                    state.items += items
                    state.calls += 1
                reply = b'{"UnprocessedItems":{}}'
            else:
                status, reply = self._limited_batch_write(body)
        elif target.endswith(".DescribeTable"):
            reply = _TABLE_DESCRIPTION
        elif target:
            reply = b"{}"
        elif self.path == "/_reset":
            with state.lock:
                state.reset()
            self._reply(200, b"{}")
            return
        elif self.path == "/_config":
            config = json.loads(body)
            with state.lock:
                state.delay_s = float(config["delay_ms"]) / 1000
                limit = config.get("write_limit")
                state.write_limit = None if limit is None else float(limit)
                state.burst_s = float(config.get("burst_s", DEFAULT_BURST_SECONDS))
                state.track_keys = bool(config.get("track_keys", False))
                state.partial_batches = bool(config.get("partial_batches", True))
            self._reply(200, b"{}")
            return
        else:
            self._reply(404, b"{}")
            return
        if state.delay_s:
            time.sleep(state.delay_s)
        self._reply(status, reply)

    def _limited_batch_write(self, body: bytes) -> tuple[int, bytes]:
        """BatchWriteItem under the write limit, counting the keys it accepts: the reply's
        status and body."""
        state = self.state
        ((table, requests),) = json.loads(body)["RequestItems"].items()
        with state.lock:
            now = time.monotonic()
            state.calls += 1
            if state.first_call is None:
                state.first_call = now
            accepted = state.take(len(requests))
            if accepted == 0:
                state.throttled_calls += 1
                state.unprocessed += len(requests)
                throttled = True
            else:
                throttled = False
                state.items += accepted
                state.unprocessed += len(requests) - accepted
                state.last_accept = now
                slot = int((now - state.started) / BIN_SECONDS)
                state.bins[slot] = state.bins.get(slot, 0) + accepted
                for request in requests[:accepted]:
                    state.count(request["PutRequest"]["Item"]["id"]["S"], now, slot)
        if throttled:
            return 400, _THROTTLED_BODY
        rest = requests[accepted:]
        if not rest:
            return 200, b'{"UnprocessedItems":{}}'
        return 200, json.dumps({"UnprocessedItems": {table: rest}}).encode()

    def do_PUT(self) -> None:
        self._body()
        self._reply(200, b"", "application/xml")

    def do_GET(self) -> None:
        if self.path in ("/_stats", "/_keys"):
            with self.state.lock:
                answer = self.state.stats() if self.path == "/_stats" else dict(self.state.keys)
            self._reply(200, json.dumps(answer).encode(), "application/json")
            return
        name = os.path.basename(self.path.split("?", 1)[0])
        path = os.path.join(self.state.data_dir, name)
        if not name or not os.path.isfile(path):
            self._reply(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
            return
        size = os.path.getsize(path)
        start, end = 0, size  # [start, end)
        status = "200 OK"
        extra = ""
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes="):  # one range, "a-" or "a-b" (what the loader sends)
            first, _, last = ranged.removeprefix("bytes=").partition("-")
            start, end = int(first), min(size, int(last) + 1 if last else size)
            status = "206 Partial Content"
            extra = f"Content-Range: bytes {start}-{end - 1}/{size}\r\n"
        self.wfile.write(
            (
                f"HTTP/1.1 {status}\r\nContent-Type: text/csv\r\n{extra}"
                f'Content-Length: {end - start}\r\nETag: "bench"\r\n\r\n'
            ).encode()
        )
        with open(path, "rb") as source:
            source.seek(start)
            left = end - start
            while left and (chunk := source.read(min(_COPY_BYTES, left))):
                left -= len(chunk)
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
