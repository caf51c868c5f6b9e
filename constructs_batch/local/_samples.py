"""Sample data and faulty clients for tests of the pipeline (and of apps built on it).

:func:`sample_csv` makes a deterministic CSV with known good and bad rows;
:class:`ThrottlingDynamoDB` and :class:`RefusingDynamoDB` wrap a real DynamoDB client to
answer like a busy table, or like one that refuses chosen items, so that a loader run
in this process (``LocalPipeline.load_in_process``) meets the faults AWS would give it.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

__all__ = [
    "INDEX_TYPE_MISMATCH",
    "RefusingDynamoDB",
    "SampleCsv",
    "ThrottlingDynamoDB",
    "sample_csv",
]


@dataclass(frozen=True)
class SampleCsv:
    """A CSV body and what a correct load makes of it.

    Attributes:
        body: the CSV text (header ``id,name,city,amount``).
        good: the items the good rows become (string attributes, keyed by ``id``).
        bad: ``(line, reason)`` of each bad row, in file order.
    """

    body: str
    good: dict[str, dict[str, str]]
    bad: list[tuple[int, str]]


_CITIES: Final = ("Lisbon", "Osaka", "Quito", "Accra", "Tromsø", "São Paulo")


def sample_csv(*, good: int = 97, prefix: str = "c", bad: bool = True) -> SampleCsv:
    """A deterministic sample: ``good`` valid rows and (if ``bad``) three bad ones.

    The bad rows are: too few columns, too many columns, an empty key; they sit at lines
    6, 12 and 19 (or right after the last good row when there are fewer good rows). With
    the default 97 good rows, 3 of 100 rows are rejected: under the reference stack's 5 %
    reject threshold (3 bad rows among 50 good ones would be above it, and fail the load).

    Args:
        good: number of valid rows. Default: 97.
        prefix: prefix of the ``id`` values (keeps samples apart). Default: "c".
        bad: include the three bad rows. Default: True.
    """
    header = ["id", "name", "city", "amount"]
    items: dict[str, dict[str, str]] = {}
    lines: list[str] = []
    for i in range(good):
        fields = [
            f"{prefix}{i:05d}",
            f"Customer {i}",
            _CITIES[i % len(_CITIES)],
            f"{i * 7 % 1000}.{i % 100:02d}",
        ]
        items[fields[0]] = dict(zip(header, fields, strict=True))
        lines.append(_csv_line(fields))
    bad_rows = [
        ("short,row", "column_count"),
        (f"{prefix}99998,Extra,Lisbon,1.00,surplus", "column_count"),
        (",No key,Quito,3.50", "empty_key"),
    ]
    reasons: list[tuple[int, str]] = []
    if bad:
        for position, (raw, reason) in zip((4, 10, 17), bad_rows, strict=True):
            index = min(position, len(lines))
            lines.insert(index, raw)
            reasons.append((index + 2, reason))  # line 1 is the header
    body = "\n".join([_csv_line(header), *lines]) + "\n"
    return SampleCsv(body=body, good=items, bad=reasons)


def _csv_line(fields: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def _batch_write_error(code: str, message: str) -> ClientError:
    """The ClientError botocore raises for a BatchWriteItem answered with HTTP 400."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return ClientError(response, "BatchWriteItem")


class _FaultyDynamoDB:
    """A client that delegates to ``real`` and counts, per item key, the items it stored."""

    def __init__(self, real: Any, *, key_attribute: str) -> None:
        self.real = real
        self.key_attribute = key_attribute
        self.calls = 0
        self.writes: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count_writes(self, requests: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:
            self.writes.update(
                str(next(iter(r["PutRequest"]["Item"][self.key_attribute].values())))
                for r in requests
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class ThrottlingDynamoDB(_FaultyDynamoDB):
    """A DynamoDB client that misbehaves like a busy table, then delegates to a real one.

    The first ``unprocessed_calls`` BatchWriteItem calls write only half of their items
    and return the other half as ``UnprocessedItems``; the next ``throttled_calls`` calls
    raise ``ProvisionedThroughputExceededException`` (nothing written); every later call
    goes through. ``writes`` counts, per item key, how often DynamoDB actually stored it.

    Args:
        real: the client to delegate to.
        key_attribute: the table's partition key (to count writes per item).
        unprocessed_calls: calls answered with UnprocessedItems. Default: 3.
        throttled_calls: calls rejected as throttled after those. Default: 1.
    """

    def __init__(
        self, real: Any, *, key_attribute: str, unprocessed_calls: int = 3, throttled_calls: int = 1
    ) -> None:
        super().__init__(real, key_attribute=key_attribute)
        self.unprocessed_calls = unprocessed_calls
        self.throttled_calls = throttled_calls
        self.unprocessed_returned = 0
        self.throttled_raised = 0

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        """BatchWriteItem with the faults above injected."""
        with self._lock:
            self.calls += 1
            call = self.calls
        ((table, requests),) = kwargs["RequestItems"].items()
        unprocessed: list[Any] = []
        if call <= self.unprocessed_calls and len(requests) > 1:
            half = len(requests) // 2
            requests, unprocessed = requests[:half], requests[half:]
        elif call <= self.unprocessed_calls + self.throttled_calls:
            with self._lock:
                self.throttled_raised += 1
            raise _batch_write_error("ProvisionedThroughputExceededException", "throttled")
        self.real.batch_write_item(RequestItems={table: requests})
        with self._lock:
            self.unprocessed_returned += len(unprocessed)
        self._count_writes(requests)
        return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}


#: What DynamoDB answers when an item breaks a rule of a secondary index (here, a string
#: where the index's key is a number): a rule the loader does not check before writing.
INDEX_TYPE_MISMATCH: Final = (
    "One or more parameter values were invalid: Type mismatch for Index Key city "
    "Expected: N Actual: S IndexName: by-city"
)


class RefusingDynamoDB(_FaultyDynamoDB):
    """A DynamoDB client that refuses chosen items the way DynamoDB does, then delegates.

    A BatchWriteItem call holding an item for which ``refuse(item)`` is true raises a
    ``ValidationException`` with ``message`` and writes nothing (DynamoDB refuses the
    whole batch); every other call goes to ``real``. ``writes`` counts, per item key,
    how often an item was passed on to be stored; ``refused_calls`` the calls refused.

    Args:
        real: the client to delegate to.
        key_attribute: the table's partition key (to count writes per item).
        refuse: which items DynamoDB refuses (a low-level item in, True to refuse).
        message: DynamoDB's error message. Default: an index key type mismatch.
    """

    def __init__(
        self,
        real: Any,
        *,
        key_attribute: str,
        refuse: Callable[[Mapping[str, Any]], bool],
        message: str = INDEX_TYPE_MISMATCH,
    ) -> None:
        super().__init__(real, key_attribute=key_attribute)
        self.refuse = refuse
        self.message = message
        self.refused_calls = 0

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        """BatchWriteItem, refused as a whole when it holds a refused item."""
        (requests,) = kwargs["RequestItems"].values()
        with self._lock:
            self.calls += 1
            refused = any(self.refuse(r["PutRequest"]["Item"]) for r in requests)
            self.refused_calls += refused
        if refused:
            raise _batch_write_error("ValidationException", self.message)
        result: dict[str, Any] = self.real.batch_write_item(**kwargs)
        self._count_writes(requests)
        return result
