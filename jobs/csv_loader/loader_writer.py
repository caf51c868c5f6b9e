"""Concurrent BatchWriteItem with ordered writes per key, backoff and a bounded give-up.

Items are routed to one of ``concurrency`` lanes by a hash of their key. Each lane is a
thread that sends its batches of 25 one after the other, retrying a batch (UnprocessedItems,
throttling, 5xx, dropped connections) before it sends the next. So:

- two writes of the same key always travel in the same lane, in file order, and a later
  row overwrites an earlier one even when the earlier one was throttled ("last wins");
- a key appears at most once per BatchWriteItem call (the lane's pending batch is a dict
  keyed by item key: a later row replaces the pending earlier one), which DynamoDB requires;
- memory is bounded: each lane holds one pending batch and at most ``QUEUE_DEPTH`` sealed
  ones, and ``put`` blocks while a lane is full (backpressure on the CSV reader).

A batch DynamoDB refuses with a ValidationException (an item breaks a rule: a number out
of range, a key too long, a type a secondary index does not take) never fails the load:
the batch is split in halves, and the halves again, until each refused item stands alone.
Each refused item is handed to ``on_refused`` (with its line, its fields and DynamoDB's
message); every other item is written. DynamoDB refuses a whole batch when one item is
invalid, so a batch with one bad item costs about ``2 * log2(25)`` extra calls.

Every call waits its turn on one ``loader_pacing.WritePacer`` shared by the lanes: unpaced
until DynamoDB throttles (or capped from the start by a ceiling), then additive increase and
multiplicative decrease on throttling and UnprocessedItems, so that loader processes on one
table settle at their shares of it instead of throttling each other.

All lanes share one client (botocore clients are thread-safe, and so is the loader's
``loader_http.DirectBatchWrites``). A failed call is classified by botocore's standard
retry rules (``botocore.retries.standard``: transient errors and status codes, throttling
codes, 429, errors the service model marks retryable, connection errors, a DynamoDB CRC32
mismatch); a retryable one is retried with this module's capped exponential backoff with
full jitter, which gives up once a batch has been retried for ``max_retry_seconds``, and
anything else fails the load.

Request bodies are JSON-encoded once by ``json.dumps`` (C) instead of botocore walking
its shape model for every attribute value (about a fifth of the CPU of a 25-item call).
``install_body_encoder`` does it through botocore's public event hooks:
``provide-client-params`` encodes the items and hands botocore a one-item placeholder
with the same table names (so endpoint resolution and validation are unchanged), and
``before-call`` puts the encoded body in the serialized request, before signing and
retries, which are botocore's as usual. Parameters that ``json`` cannot encode (binary
values) take botocore's normal path.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from botocore.exceptions import ChecksumError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.retries import standard
from botocore.retries.standard import (
    ModeledRetryableChecker,
    RetryContext,
    ThrottledRetryableChecker,
    ThrottlingErrorDetector,
    TransientRetryableChecker,
)
from loader_pacing import WritePacer

if TYPE_CHECKING:
    from loader_http import BatchWriteClient

__all__ = [
    "BATCH_WRITE_MAX_ITEMS",
    "REFUSED_ERROR_CODE",
    "BatchWriter",
    "Refusal",
    "RetriesExhaustedError",
    "WriteError",
    "install_body_encoder",
    "is_retryable",
    "is_throttling",
]

# DynamoDB BatchWriteItem: at most 25 put or delete requests per call.
BATCH_WRITE_MAX_ITEMS: Final = 25
# The error DynamoDB answers when an item in the batch breaks one of its rules: the whole
# batch is refused (nothing written), whatever the other items.
REFUSED_ERROR_CODE: Final = "ValidationException"
# Sealed batches a lane may hold besides the one in flight.
QUEUE_DEPTH: Final = 2
DEFAULT_BASE_DELAY_SECONDS: Final = 0.05
DEFAULT_MAX_DELAY_SECONDS: Final = 5.0
_BODY_CONTEXT_KEY: Final = "csv_loader_encoded_body"
_PLACEHOLDER: Final[dict[str, Any]] = {"PutRequest": {"Item": {}}}
_PARAMS_EVENT: Final = "provide-client-params.dynamodb.BatchWriteItem"
_CALL_EVENT: Final = "before-call.dynamodb.BatchWriteItem"
# How long ``put`` waits on a full lane before checking again whether writing failed.
_PUT_POLL_SECONDS: Final = 0.5

Item = dict[str, dict[str, Any]]
_Request = dict[str, dict[str, Item]]
# A pending write: the request, the row's line and fields, and how many rows of its key it
# stands for in its batch (a later row replaces the pending earlier one).
_Entry = tuple[_Request, int, Sequence[str], int]
_Batch = dict[Hashable, _Entry]


@dataclass(frozen=True)
class Refusal:
    """An item DynamoDB refused on its own (alone in its BatchWriteItem call).

    Attributes:
        key: the item's key, as given to ``put``.
        line: the row's line, as given to ``put``.
        fields: the row's fields, as given to ``put``.
        versions: rows of this key the item stood for in its batch (1, or more when later
            rows replaced earlier pending ones): none of them was written by this batch.
        message: DynamoDB's error message.
    """

    key: Hashable
    line: int
    fields: Sequence[str]
    versions: int
    message: str


class WriteError(RuntimeError):
    """Writing failed: a non-retryable error, or retries exhausted."""


class RetriesExhaustedError(WriteError):
    """A batch was still throttled or unprocessed after ``max_retry_seconds``."""


class _AbortedError(WriteError):
    """Writing was stopped by ``abort``: not a failure of its own."""


class _RefusedError(Exception):
    """DynamoDB refused ``batch`` (what was left of it) with a ValidationException."""

    def __init__(self, message: str, batch: _Batch) -> None:
        super().__init__(message)
        self.message = message
        self.batch = batch


def _encode_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
    items = params.get("RequestItems")
    if not isinstance(items, dict):
        return None
    try:
        # No circular-reference bookkeeping (half the encoding time): request parameters are
        # trees; a cyclic one ends in RecursionError and takes botocore's path like the rest.
        body = json.dumps(params, separators=(",", ":"), check_circular=False).encode()
    except (TypeError, ValueError, RecursionError):
        return None  # not plain JSON (e.g. binary values): botocore serializes it
    context[_BODY_CONTEXT_KEY] = body
    # The smallest request that still passes client-side validation, when it is enabled.
    return {**params, "RequestItems": {table: [_PLACEHOLDER] for table in items}}


def _use_encoded_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    body = context.pop(_BODY_CONTEXT_KEY, None)
    if body is not None:
        params["body"] = body


def install_body_encoder(client: Any) -> None:
    """Let ``client`` send BatchWriteItem bodies encoded by ``json.dumps`` (idempotent).

    A client without botocore's event system (a test double) is left alone.
    """
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return
    events.register(_PARAMS_EVENT, _encode_body, unique_id="csv-loader-encode-body")
    events.register(_CALL_EVENT, _use_encoded_body, unique_id="csv-loader-use-body")


class _StatusOnly:
    """The part of an HTTP response botocore's retry checkers read from a ClientError."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


# botocore's standard retry mode, checker by checker (``StandardRetryConditions`` without
# its attempt count, which is this module's deadline, and with the DynamoDB CRC32 case as
# ``ChecksumError``, which is how the loader's request path reports it).
_RETRYABLE_CHECKERS: Final[tuple[Any, ...]] = (
    TransientRetryableChecker(),
    ThrottledRetryableChecker(),
    ModeledRetryableChecker(),
    # A 429 the model does not name (in recent botocore releases; older ones do not retry it).
    *((checker(),) if (checker := getattr(standard, "ThrottlingStatusCodeChecker", None)) else ()),
)
_THROTTLING_DETECTOR: Final = ThrottlingErrorDetector(retry_event_adapter=None)


def _retry_context(error: BaseException, operation_model: Any) -> RetryContext:
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return RetryContext(
            attempt_number=1,
            operation_model=operation_model,
            parsed_response=error.response,
            http_response=_StatusOnly(status),
        )
    return RetryContext(
        attempt_number=1, operation_model=operation_model, caught_exception=cast(Exception, error)
    )


def is_retryable(error: BaseException, operation_model: Any = None) -> bool:
    """True when botocore's standard retry mode would retry ``error`` (attempts aside).

    Args:
        error: what a BatchWriteItem call raised.
        operation_model: the call's botocore operation model (for errors the service model
            marks retryable). Default: none (those are not known).
    """
    if isinstance(error, ChecksumError):
        return True
    context = _retry_context(error, operation_model)
    return any(checker.is_retryable(context) for checker in _RETRYABLE_CHECKERS)


def is_throttling(error: BaseException, operation_model: Any = None) -> bool:
    """True when botocore's standard retry mode counts ``error`` as throttling."""
    if not isinstance(error, ClientError):
        return False
    return bool(
        _THROTTLING_DETECTOR.is_throttling_error_from_context(
            _retry_context(error, operation_model)
        )
    )


def _operation_model(client: Any) -> Any:
    try:
        return client.meta.service_model.operation_model("BatchWriteItem")
    except Exception:  # a test double without botocore's model
        return None


class _Lane:
    def __init__(self) -> None:
        self.pending: _Batch = {}
        self.queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self.thread: threading.Thread | None = None


class BatchWriter:
    """Writes items to one table with BatchWriteItem, ``concurrency`` calls in flight.

    Args:
        client: a low-level DynamoDB client, or anything with its ``batch_write_item``
            (``loader_http.DirectBatchWrites``), shared by every lane.
        table: table name.
        concurrency: lanes, each with at most one call in flight.
        max_retry_seconds: how long one batch may be retried before ``RetriesExhaustedError``.
        key_of: the key of an item, equal to the key ``put`` is given for it (to match the
            UnprocessedItems DynamoDB returns to what was sent).
        on_refused: called (from a writer thread) for each item DynamoDB refuses on its own.
        pacer: the rate every call waits its turn for (``loader_pacing.WritePacer``).
            Default: a pacer with no ceiling (unpaced until DynamoDB throttles).
        base_delay_seconds: first backoff ceiling. Default: 0.05 s.
        max_delay_seconds: backoff ceiling cap. Default: 5 s.
        sleep: sleeps between retries. Default: ``time.sleep``.
        clock: monotonic clock. Default: ``time.monotonic``.
        rng: source of jitter in [0, 1). Default: ``random.random``.
    """

    def __init__(
        self,
        client: BatchWriteClient,
        table: str,
        *,
        concurrency: int,
        max_retry_seconds: float,
        key_of: Callable[[Item], Hashable],
        on_refused: Callable[[Refusal], None],
        pacer: WritePacer | None = None,
        base_delay_seconds: float = DEFAULT_BASE_DELAY_SECONDS,
        max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        install_body_encoder(client)
        self._client = client
        self._operation_model = _operation_model(client)
        self._table = table
        self._max_retry_seconds = max_retry_seconds
        self._key_of = key_of
        self._on_refused = on_refused
        self.pacer = pacer or WritePacer()
        self._pacer = self.pacer
        self._base_delay = base_delay_seconds
        self._max_delay = max_delay_seconds
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._lanes = [_Lane() for _ in range(concurrency)]
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._closed = False
        self.written = 0
        """Items DynamoDB has acknowledged."""
        self.calls = 0
        """BatchWriteItem calls made (including retries and split batches)."""
        self.retries = 0
        """Calls that were retries (throttled, unprocessed items, transient errors)."""
        self.throttled = 0
        """Calls DynamoDB throttled: a throttling error, or items back in UnprocessedItems."""
        self.refused = 0
        """Items DynamoDB refused on their own (each handed to ``on_refused``)."""
        for index, lane in enumerate(self._lanes):
            lane.thread = threading.Thread(
                target=self._run_lane, args=(lane,), name=f"batch-writer-{index}", daemon=True
            )
            lane.thread.start()

    @property
    def error(self) -> BaseException | None:
        """The first error a lane hit, if any."""
        return self._error

    def put(self, key: Hashable, item: Item, line: int, fields: Sequence[str]) -> None:
        """Queue one item; blocks while its lane is full.

        Args:
            key: the item's key (``key_of(item)``): routes it and replaces a pending item
                with the same key.
            item: the item.
            line: the row's line, reported if DynamoDB refuses the item.
            fields: the row's fields, reported if DynamoDB refuses the item.

        Raises:
            WriteError: a lane has failed (the load should stop).
        """
        lane = self._lanes[hash(key) % len(self._lanes)]
        pending = lane.pending
        entry = ({"PutRequest": {"Item": item}}, line, fields, 1)
        earlier = pending.setdefault(key, entry)
        if earlier is not entry:
            pending[key] = (entry[0], line, fields, earlier[3] + 1)
        if len(pending) >= BATCH_WRITE_MAX_ITEMS:
            self._seal(lane)

    def close(self) -> None:
        """Send what is pending and wait for every lane.

        Raises:
            WriteError: a batch could not be written.
        """
        if not self._closed:
            self._closed = True
            for lane in self._lanes:
                if lane.pending:
                    self._seal(lane)
            self._stop_lanes()
        self._raise_if_failed()

    def abort(self) -> None:
        """Stop without sending what is still queued (calls in flight finish)."""
        if not self._closed:
            self._closed = True
            self._fail(_AbortedError("aborted"))
            self._stop_lanes()

    def _seal(self, lane: _Lane) -> None:
        batch = lane.pending
        lane.pending = {}
        while True:
            self._raise_if_failed()
            try:
                lane.queue.put(batch, timeout=_PUT_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def _stop_lanes(self) -> None:
        for lane in self._lanes:
            lane.queue.put(None)  # lanes drain their queue, so this never blocks for long
        for lane in self._lanes:
            assert lane.thread is not None
            lane.thread.join()

    def _raise_if_failed(self) -> None:
        error = self._error
        if error is not None and not isinstance(error, _AbortedError):
            if isinstance(error, WriteError):
                raise error
            raise WriteError(f"BatchWriteItem failed: {error}") from error

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = error

    def _run_lane(self, lane: _Lane) -> None:
        while True:
            batch = lane.queue.get()
            if batch is None:
                return
            if self._error is not None:
                continue  # drain without writing so that a blocked put wakes up
            try:
                self._write(batch)
            except BaseException as error:
                self._fail(error)

    def _write(self, batch: _Batch) -> None:
        """Write one batch; split it while DynamoDB refuses it, down to single items."""
        try:
            self._send(batch)
        except _RefusedError as refused:
            remaining = list(refused.batch.items())
            if len(remaining) > 1:
                half = len(remaining) // 2
                self._write(dict(remaining[:half]))
                self._write(dict(remaining[half:]))
                return
            ((key, (_, line, fields, versions)),) = remaining
            with self._lock:
                self.refused += 1
            self._on_refused(Refusal(key, line, fields, versions, refused.message))

    def _send(self, batch: _Batch) -> None:
        """Send one batch, retrying until every item is acknowledged or time runs out.

        Raises:
            _RefusedError: DynamoDB refused what is left of the batch (nothing of it written).
            WriteError: another error that is not worth retrying, or retries exhausted.
        """
        deadline: float | None = None
        attempt = 0
        while True:
            reason: str
            requests = [entry[0] for entry in batch.values()]
            sent = len(requests)
            token = self._pacer.acquire(sent)
            with self._lock:
                self.calls += 1
            try:
                response: Any = self._client.batch_write_item(RequestItems={self._table: requests})
            except ClientError as error:
                details = error.response.get("Error", {})
                code = str(details.get("Code", ""))
                throttled = is_throttling(error, self._operation_model)
                self._pacer.record(token, sent=sent, written=0, throttled=throttled)
                if code == REFUSED_ERROR_CODE:
                    raise _RefusedError(
                        str(details.get("Message", "")) or str(error), batch
                    ) from None
                if not is_retryable(error, self._operation_model):
                    raise WriteError(f"BatchWriteItem failed: {error}") from error
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                reason = code or f"HTTP {status}"
                if throttled:
                    with self._lock:
                        self.throttled += 1
            except (BotocoreConnectionError, HTTPClientError, ChecksumError) as error:
                self._pacer.record(token, sent=sent, written=0, throttled=False)
                reason = type(error).__name__
            else:
                unprocessed = response.get("UnprocessedItems", {}).get(self._table, [])
                written = sent - len(unprocessed)
                self._pacer.record(token, sent=sent, written=written, throttled=bool(unprocessed))
                with self._lock:
                    self.written += written
                    self.throttled += bool(unprocessed)
                if not unprocessed:
                    return
                batch = self._unprocessed(batch, unprocessed)
                reason = "UnprocessedItems"
            now = self._clock()
            if deadline is None:
                deadline = now + self._max_retry_seconds
            if now >= deadline:
                raise RetriesExhaustedError(
                    f"gave up after retrying for {self._max_retry_seconds:g} s: "
                    f"{len(batch)} items still not written (last: {reason})"
                )
            # Capped exponential backoff with full jitter, never sleeping past the deadline.
            ceiling = min(self._max_delay, self._base_delay * 2**attempt)
            attempt += 1
            with self._lock:
                self.retries += 1
            self._sleep(min(self._rng() * ceiling, deadline - now))

    def _unprocessed(self, batch: _Batch, unprocessed: list[Any]) -> _Batch:
        """The entries of ``batch`` whose requests DynamoDB returned as UnprocessedItems."""
        remaining: _Batch = {}
        for request in unprocessed:
            key = self._key_of(request["PutRequest"]["Item"])
            if key not in batch:
                raise WriteError(f"UnprocessedItems holds an item that was not sent: {request}")
            remaining[key] = batch[key]
        return remaining
