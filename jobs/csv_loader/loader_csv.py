"""Streaming CSV parsing: bytes -> records -> DynamoDB items or rejects, in constant memory.

- ``text_lines`` turns an iterator of byte chunks (S3 ``Body.iter_chunks()``) into text
  through ``io.TextIOWrapper`` (incremental UTF-8 decoding, BOM dropped, ``newline=""``
  as the csv module requires, so CRLF and newlines inside quoted fields survive).
- ``ItemBuilder`` maps the header to attribute names and each record to a low-level
  DynamoDB item (``{"S": ...}`` / ``{"N": ...}``), or to a reject reason.
- ``RejectsFile`` spools rejects to a temporary CSV (line, reason, raw) for upload at the end.
- ``DuplicateCounter`` counts rows whose key repeats within the file, exactly, by spilling
  one 64-bit digest per row to SQLite on local disk instead of keeping keys in memory.
"""

from __future__ import annotations

import csv
import decimal
import io
import os
import re
import sqlite3
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final

if TYPE_CHECKING:
    import _csv

__all__ = [
    "MAX_ITEM_BYTES",
    "DuplicateCounter",
    "HeaderError",
    "ItemBuilder",
    "RejectReason",
    "RejectsFile",
    "csv_records",
    "text_lines",
]

# DynamoDB item size limit (attribute names + values, UTF-8 bytes): 400 KB.
MAX_ITEM_BYTES: Final = 400 * 1024
# A DynamoDB number has at most 38 significant digits and a magnitude between 1E-130 and
# 9.99..E+125; boto3's TypeSerializer uses this same context.
_NUMBER_CONTEXT: Final = decimal.Context(
    Emin=-128,
    Emax=126,
    prec=38,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)
# Plain decimal notation, as DynamoDB accepts it (no NaN, Infinity, underscores or spaces).
_NUMBER_PATTERN: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# Already canonical: optional minus, no leading zeros, optional fraction.
_PLAIN_NUMBER_PATTERN: Final = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?")
_NUMBER_MAX_DIGITS: Final = 38
# Bytes a number costs in an item: 1 per two significant digits, plus 1.
_NUMBER_MAX_BYTES: Final = 21
# A field may be as long as an item; the csv module's limit also bounds the memory an
# unterminated quote can make the reader buffer.
FIELD_SIZE_LIMIT: Final = MAX_ITEM_BYTES
_READ_BUFFER_BYTES: Final = 1 << 16
# Longest ``raw`` value in the rejects file: below the csv module's default field limit
# (131,072), so the rejects file opens with any default CSV reader.
MAX_RAW_CHARS: Final = 100_000


class HeaderError(ValueError):
    """The header row cannot describe items (missing key column, empty or repeated name)."""


class RejectReason:
    """Why a row is rejected: the ``reason`` column of the rejects file."""

    COLUMN_COUNT: Final = "column_count"
    EMPTY_KEY: Final = "empty_key"
    BAD_NUMBER: Final = "bad_number"
    ITEM_TOO_LARGE: Final = "item_too_large"
    MALFORMED: Final = "malformed_csv"


class _ChunkReader(io.RawIOBase):
    """A raw binary stream over an iterator of byte chunks (no copy of the whole object)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def text_lines(chunks: Iterable[bytes]) -> IO[str]:
    """A text stream (UTF-8, BOM dropped, newlines untranslated) over byte chunks.

    Invalid UTF-8 raises ``UnicodeDecodeError`` while reading: a file in another
    encoding fails the run instead of loading garbled text.
    """
    raw = io.BufferedReader(_ChunkReader(chunks), buffer_size=_READ_BUFFER_BYTES)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")


def csv_records(text: IO[str]) -> Iterator[tuple[int, list[str] | None]]:
    """``(line, fields)`` for each record of a CSV text stream; blank lines skipped.

    ``line`` is the 1-based physical line the record starts on (a quoted field may span lines).

    A record the csv module cannot parse (a field longer than ``FIELD_SIZE_LIMIT``, a
    stray newline in an unquoted field) comes back with ``fields=None`` and reading goes on.
    """
    csv.field_size_limit(FIELD_SIZE_LIMIT)
    reader = csv.reader(text, strict=False)
    previous_end = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield previous_end + 1, None
            previous_end = reader.line_num
            continue
        if fields:
            yield previous_end + 1, fields
        previous_end = reader.line_num


@dataclass(frozen=True)
class _Column:
    name: str
    name_bytes: int
    numeric: bool


class ItemBuilder:
    """Turns records into low-level DynamoDB items under one header.

    Values stay strings except in ``numeric_columns`` (sent as numbers, validated like
    boto3's TypeSerializer). An empty value omits the attribute; an empty key value
    rejects the row (DynamoDB refuses empty key attributes).

    Args:
        header: the header record's fields (attribute names).
        key_columns: names forming the key (partition, then optional sort).
        numeric_columns: names whose values are numbers. Names not in the header are ignored.

    Raises:
        HeaderError: a key column is missing, or a name is empty or repeated.
    """

    def __init__(
        self, header: Sequence[str], *, key_columns: Sequence[str], numeric_columns: Iterable[str]
    ) -> None:
        numeric = frozenset(numeric_columns)
        problems: list[str] = []
        if any(not name for name in header):
            problems.append(f"header has an empty column name: {list(header)}")
        repeated = sorted({name for name in header if list(header).count(name) > 1})
        if repeated:
            problems.append(f"header repeats column names {repeated}")
        missing = [name for name in key_columns if name not in header]
        if missing:
            problems.append(f"header lacks key columns {missing}, got {list(header)}")
        if problems:
            raise HeaderError("; ".join(problems))
        self.columns: tuple[_Column, ...] = tuple(
            _Column(name, len(name.encode()), name in numeric) for name in header
        )
        self.key_indexes: tuple[int, ...] = tuple(list(header).index(n) for n in key_columns)
        self.ignored_numeric_columns = sorted(numeric.difference(header))
        # Precomputed for the per-row path (the loader's CPU budget is mostly here and botocore).
        self._width = len(header)
        self._names = tuple(header)
        self._numeric = tuple((i, c.name) for i, c in enumerate(self.columns) if c.numeric)
        self._keys = tuple(
            (i, self.columns[i].name, self.columns[i].numeric) for i in self.key_indexes
        )
        self._names_bytes = sum(column.name_bytes for column in self.columns)

    def build(self, fields: list[str]) -> tuple[Hashable, dict[str, dict[str, str]]] | str:
        """``(key, item)`` for a record, or the reject reason.

        The key is the item's identity as DynamoDB compares it (numbers by value), to
        route and deduplicate writes.
        """
        if len(fields) != self._width:
            return RejectReason.COLUMN_COUNT
        item = {n: {"S": v} for n, v in zip(self._names, fields, strict=True) if v}
        for index, name in self._numeric:
            value = fields[index]
            if value:
                number = _dynamodb_number(value)
                if number is None:
                    return RejectReason.BAD_NUMBER
                item[name] = {"N": number}
        key_parts: list[Hashable] = []
        for index, name, numeric in self._keys:
            value = fields[index]
            if not value:
                return RejectReason.EMPTY_KEY
            key_parts.append(decimal.Decimal(item[name]["N"]) if numeric else value)
        # Cheap bound first: a UTF-8 character is at most 4 bytes.
        if self._names_bytes + 4 * sum(map(len, fields)) > MAX_ITEM_BYTES and (
            item_size(item) > MAX_ITEM_BYTES
        ):
            return RejectReason.ITEM_TOO_LARGE
        key: Hashable = key_parts[0] if len(key_parts) == 1 else tuple(key_parts)
        return key, item


def item_size(item: dict[str, dict[str, str]]) -> int:
    """Bytes DynamoDB counts for an item of string and number attributes."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        if "S" in value:
            text = value["S"]
            size += len(text) if text.isascii() else len(text.encode())
        else:
            size += _number_size(value["N"])
    return size


def _number_size(number: str) -> int:
    digits = decimal.Decimal(number).normalize().as_tuple().digits
    return min(_NUMBER_MAX_BYTES, (len(digits) + 1) // 2 + 1)


def _dynamodb_number(text: str) -> str | None:
    """The number as DynamoDB accepts it, or None if DynamoDB cannot store it."""
    if len(text) <= _NUMBER_MAX_DIGITS and _PLAIN_NUMBER_PATTERN.fullmatch(text):
        return text  # at most 38 digits, plain notation: valid as written
    if _NUMBER_PATTERN.fullmatch(text) is None:
        return None
    try:
        return str(_NUMBER_CONTEXT.create_decimal(text))
    except decimal.DecimalException:
        return None


def raw_record(fields: Sequence[str]) -> str:
    """A record written back as one CSV line (quotes as needed, no line terminator).

    Longer than ``MAX_RAW_CHARS``, it is cut there and ends with ``...[N more chars]``.
    """
    buffer = io.StringIO()
    # The default terminator ("\r\n") makes fields with newlines quoted; it is cut off after.
    csv.writer(buffer).writerow(fields)
    raw = buffer.getvalue()[:-2]
    if len(raw) > MAX_RAW_CHARS:
        return f"{raw[:MAX_RAW_CHARS]}...[{len(raw) - MAX_RAW_CHARS} more chars]"
    return raw


class RejectsFile:
    """Rejected rows spooled to a local CSV file (``line,reason,raw``) for upload at the end.

    ``line`` is where the record starts, ``reason`` a ``RejectReason``, ``raw`` the record as
    one CSV line (see ``raw_record``; empty when the record could not be parsed at all).

    Args:
        directory: where to create the file.
    """

    HEADER: Final = ("line", "reason", "raw")

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "rejects.csv")
        self.count = 0
        self._file: IO[str] | None = None
        self._writer: _csv.Writer | None = None

    def add(self, line: int, reason: str, fields: Sequence[str] | None) -> None:
        """Record one rejected row."""
        if self._writer is None:
            self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._file)
            self._writer.writerow(self.HEADER)
        self._writer.writerow((line, reason, raw_record(fields) if fields is not None else ""))
        self.count += 1

    def close(self) -> None:
        """Flush and close the file (if any reject was written)."""
        if self._file is not None:
            self._file.close()
            self._file = None


class DuplicateCounter:
    """Counts rows whose key occurs again later in the file, in constant memory.

    Each key's 64-bit digest (Python's ``hash``, stable within one process) goes to an
    SQLite table on local disk in batches, one multi-row INSERT per batch (one SQLite
    step: ``executemany`` steps, and releases the GIL, once per row, and each release
    lets a writer thread take the interpreter from the reader); at the end ``COUNT(*) - COUNT(DISTINCT)``
    (SQLite sorts on disk) gives the number of rows superseded by a later row with the
    same key. Disk use is about 10 bytes per row; memory stays at SQLite's page cache.
    A digest collision (probability about n**2 / 2**65, 1e-7 for 2 million rows) would
    count one extra duplicate; it never changes what is written.

    Args:
        directory: where to create the database file.
    """

    _BATCH: Final = 8192
    _CACHE_KIB: Final = 2048

    def __init__(self, directory: str) -> None:
        self._db = sqlite3.connect(os.path.join(directory, "keys.sqlite3"))
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(f"PRAGMA cache_size=-{self._CACHE_KIB}")
        self._db.execute("PRAGMA temp_store=FILE")
        self._db.execute("CREATE TABLE digests (digest INTEGER NOT NULL)")
        # One bound parameter per row: a batch stays within SQLite's variable limit.
        self._batch = min(self._BATCH, self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        self._insert_batch = _insert_digests(self._batch)
        self._pending: list[int] = []

    def add(self, key: Hashable) -> None:
        """Record one accepted row's key."""
        pending = self._pending
        pending.append(hash(key))
        if len(pending) >= self._batch:
            self._flush()

    def duplicates(self) -> int:
        """Rows so far whose key also appears in a later row."""
        self._flush()
        row = self._db.execute("SELECT COUNT(*) - COUNT(DISTINCT digest) FROM digests").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _flush(self) -> None:
        pending = self._pending
        if pending:
            full = len(pending) == self._batch
            self._db.execute(self._insert_batch if full else _insert_digests(len(pending)), pending)
            self._pending = []


def _insert_digests(rows: int) -> str:
    return "INSERT INTO digests VALUES " + ",".join(["(?)"] * rows)
