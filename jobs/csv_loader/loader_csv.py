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
import threading
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import _csv

# A low-level DynamoDB item: attribute name -> {"S": str} | {"N": str} | {"BOOL": bool}.
Item = dict[str, dict[str, Any]]

__all__ = [
    "FIELD_SIZE_LIMIT",
    "MAX_ITEM_BYTES",
    "NUMBER_MAX_DIGITS",
    "NUMBER_MAX_EXPONENT",
    "NUMBER_MIN_EXPONENT",
    "PARTITION_KEY_MAX_BYTES",
    "SORT_KEY_MAX_BYTES",
    "DuplicateCounter",
    "HeaderError",
    "ItemBuilder",
    "RejectReason",
    "RejectsFile",
    "csv_records",
    "dynamodb_number",
    "header_diagnosis",
    "item_key",
    "item_size",
    "number_problem",
    "raw_record",
    "text_lines",
]

# DynamoDB's value rules, from the DynamoDB Developer Guide:
# - "Supported data types and naming rules in Amazon DynamoDB" (HowItWorks.NamingRulesDataTypes),
#   Number: up to 38 digits of precision; positive range 1E-130 to
#   9.9999999999999999999999999999999999999E+125, negative range the same with a minus sign,
#   or zero; leading and trailing zeros are trimmed (so they do not count as digits).
# - "Constraints in Amazon DynamoDB" (Constraints; formerly "Service, account, and table
#   quotas"): a partition key value is 1 to 2048 bytes, a sort key value 1 to 1024 bytes;
#   an item (attribute names and values, UTF-8) is at most 400 KB, where 1 KB = 1024 bytes.
NUMBER_MAX_DIGITS: Final = 38
# Exponents of the first significant digit (scientific notation): 1E-130 is the smallest
# magnitude, 9.99...E+125 (38 nines) the largest.
NUMBER_MIN_EXPONENT: Final = -130
NUMBER_MAX_EXPONENT: Final = 125
PARTITION_KEY_MAX_BYTES: Final = 2048
SORT_KEY_MAX_BYTES: Final = 1024
MAX_ITEM_BYTES: Final = 400 * 1024
# A number as DynamoDB reads it: ASCII digits only (Python's ``\d`` and ``Decimal`` also take
# other scripts' digits, which DynamoDB refuses), optional sign, point and exponent; no
# NaN, Infinity, underscores or spaces.
_NUMBER_PARTS: Final = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")
# Sent as written: at most 38 characters (so at most 38 digits, and a magnitude far inside
# DynamoDB's range), plain notation, no leading zeros, no plus sign, no negative zero.
_PLAIN_NUMBER_PATTERN: Final = re.compile(
    r"-?[1-9][0-9]*(?:\.[0-9]+)?|-?0\.[0-9]*[1-9][0-9]*|0(?:\.[0-9]+)?"
)
# Bytes a number costs in an item: 1 per two significant digits, plus 1.
_NUMBER_MAX_BYTES: Final = 21
# What the csv module may buffer for one field: far above any item (a longer field is the
# rest of a file after an unterminated quote, or nothing DynamoDB could store), so a field
# above MAX_ITEM_BYTES still parses and is rejected as item_too_large with its raw record.
FIELD_SIZE_LIMIT: Final = 16 * 1024 * 1024
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
    BAD_BOOLEAN: Final = "bad_boolean"
    KEY_TOO_LARGE: Final = "key_too_large"
    ITEM_TOO_LARGE: Final = "item_too_large"
    MALFORMED: Final = "malformed_csv"
    REFUSED: Final = "refused_by_dynamodb"


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


def text_lines(chunks: Iterable[bytes], *, object_start: bool = True) -> IO[str]:
    """A text stream (UTF-8, BOM dropped, newlines untranslated) over byte chunks.

    Invalid UTF-8 raises ``UnicodeDecodeError`` while reading: a file in another
    encoding fails the run instead of loading garbled text.

    Args:
        chunks: the bytes, in order.
        object_start: whether they start at the object's first byte, where a byte order
            mark is dropped; a part further in keeps a leading U+FEFF as the data it is.
            Default: True.
    """
    raw = io.BufferedReader(_ChunkReader(chunks), buffer_size=_READ_BUFFER_BYTES)
    encoding = "utf-8-sig" if object_start else "utf-8"
    return io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")


def csv_records(text: IO[str], *, first_line: int = 1) -> Iterator[tuple[int, list[str] | str]]:
    """``(line, fields)`` for each record of a CSV text stream; blank lines skipped.

    ``line`` is the 1-based physical line the record starts on (a quoted field may span
    lines), counted from ``first_line``, the line the stream's first byte is on (a part of
    an object that starts further in gives its own, so that lines stay the file's).

    A record the csv module cannot parse (a field longer than ``FIELD_SIZE_LIMIT``, a
    stray newline in an unquoted field) comes back with the csv module's error message (a
    ``str``) in place of its fields, and reading goes on.
    """
    csv.field_size_limit(FIELD_SIZE_LIMIT)
    reader = csv.reader(text, strict=False)
    previous_end = first_line - 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield previous_end + 1, str(error)
            previous_end = first_line - 1 + reader.line_num
            continue
        if fields:
            yield previous_end + 1, fields
        previous_end = first_line - 1 + reader.line_num


@dataclass(frozen=True)
class _Column:
    name: str
    name_bytes: int
    numeric: bool
    boolean: bool


# What a boolean column's cell may hold, after lowering its letter case.
_BOOLEANS: Final = {"true": True, "false": False}


class ItemBuilder:
    """Turns records into low-level DynamoDB items under one header, checking DynamoDB's rules.

    Values stay strings except in ``numeric_columns`` (DynamoDB numbers, see
    ``dynamodb_number``) and ``boolean_columns`` (DynamoDB BOOL: ``true`` or ``false`` in
    any letter case). A cell equal to one of ``null_values`` (the empty string always is
    one) omits the attribute. A key value that is missing or only whitespace rejects the
    row (``empty_key``), as does a string key value longer than DynamoDB allows
    (``key_too_large``: 2048 bytes for the partition key, 1024 for the sort key, in UTF-8),
    a number DynamoDB cannot store (``bad_number``), a boolean cell that is neither true
    nor false (``bad_boolean``) and an item above 400 KB (``item_too_large``).

    Args:
        header: the header record's fields (attribute names).
        key_columns: names forming the key (partition, then optional sort).
        numeric_columns: names whose values are numbers. Names not in the header are ignored.
        boolean_columns: names whose values are booleans (never a key or numeric column).
            Names not in the header are ignored. Default: none.
        null_values: cell values that are missing values, besides the empty string.
            Default: only the empty string.

    Raises:
        HeaderError: a key column is missing, or a name is empty or repeated.
    """

    def __init__(
        self,
        header: Sequence[str],
        *,
        key_columns: Sequence[str],
        numeric_columns: Iterable[str],
        boolean_columns: Iterable[str] = (),
        null_values: Iterable[str] = ("",),
    ) -> None:
        numeric = frozenset(numeric_columns)
        boolean = frozenset(boolean_columns)
        problems: list[str] = []
        if any(not name for name in header):
            problems.append(f"header has an empty column name: {list(header)}")
        repeated = sorted({name for name in header if list(header).count(name) > 1})
        if repeated:
            problems.append(f"header repeats column names {repeated}")
        missing = [name for name in key_columns if name not in header]
        if missing:
            problems.append(header_diagnosis(header, missing))
        if problems:
            raise HeaderError("; ".join(problems))
        self.columns: tuple[_Column, ...] = tuple(
            _Column(name, len(name.encode()), name in numeric, name in boolean) for name in header
        )
        self.key_indexes: tuple[int, ...] = tuple(list(header).index(n) for n in key_columns)
        self.ignored_numeric_columns = sorted(numeric.difference(header))
        self.ignored_boolean_columns = sorted(boolean.difference(header))
        self.null_values = frozenset(null_values) | {""}
        # Precomputed for the per-row path (the loader's CPU budget is mostly here and botocore).
        self._width = len(header)
        self._names = tuple(header)
        # None when the empty string is the only null value: the cheaper test ``if v`` will do.
        self._nulls = self.null_values if len(self.null_values) > 1 else None
        self._numeric = tuple((i, c.name) for i, c in enumerate(self.columns) if c.numeric)
        self._boolean = tuple((i, c.name) for i, c in enumerate(self.columns) if c.boolean)
        limits = (PARTITION_KEY_MAX_BYTES, SORT_KEY_MAX_BYTES)
        # (index, name, numeric, characters, bytes): a UTF-8 character is 1 to 4 bytes, so a
        # value of at most bytes / 4 characters never needs encoding to be measured.
        self._keys = tuple(
            (i, self.columns[i].name, self.columns[i].numeric, limit // 4, limit)
            for i, limit in zip(self.key_indexes, limits, strict=False)
        )
        self._names_bytes = sum(column.name_bytes for column in self.columns)

    def build(self, fields: list[str]) -> tuple[Hashable, Item] | str:
        """``(key, item)`` for a record, or the reject reason.

        The key is the item's identity as DynamoDB compares it (numbers by value), to
        route and deduplicate writes: ``item_key(item, key_columns)``.
        """
        if len(fields) != self._width:
            return RejectReason.COLUMN_COUNT
        nulls = self._nulls
        item: Item
        if nulls is None:
            item = {n: {"S": v} for n, v in zip(self._names, fields, strict=True) if v}
        else:
            item = {n: {"S": v} for n, v in zip(self._names, fields, strict=True) if v not in nulls}
        keys = self._keys
        for index, name, numeric, characters, limit in keys:
            value = fields[index]
            if name not in item or value.isspace():
                return RejectReason.EMPTY_KEY
            if len(value) > characters and not numeric and len(value.encode()) > limit:
                return RejectReason.KEY_TOO_LARGE
        for index, name in self._numeric:
            if name in item:
                number = dynamodb_number(fields[index])
                if number is None:
                    return RejectReason.BAD_NUMBER
                item[name] = {"N": number}
        for index, name in self._boolean:
            if name in item:
                flag = _BOOLEANS.get(fields[index].lower())
                if flag is None:
                    return RejectReason.BAD_BOOLEAN
                item[name] = {"BOOL": flag}
        # Cheap bound first: a UTF-8 character is at most 4 bytes.
        if self._names_bytes + 4 * sum(map(len, fields)) > MAX_ITEM_BYTES and (
            item_size(item) > MAX_ITEM_BYTES
        ):
            return RejectReason.ITEM_TOO_LARGE
        if len(keys) == 1:
            index, name, numeric, _, _ = keys[0]
            return (decimal.Decimal(item[name]["N"]) if numeric else fields[index]), item
        return tuple(
            decimal.Decimal(item[name]["N"]) if numeric else fields[index]
            for index, name, numeric, _, _ in keys
        ), item

    def explain(self, fields: list[str]) -> str:
        """Why ``build`` rejects a record, naming the column and the rule ("" if it does not)."""
        if len(fields) != self._width:
            return f"{len(fields)} fields, the header has {self._width}"
        nulls = self.null_values
        for position, (index, name, numeric, _, limit) in enumerate(self._keys):
            value = fields[index]
            if value in nulls:
                return f"key column {name} is empty" + (f" (null value {value!r})" if value else "")
            if value.isspace():
                return f"key column {name} is empty (only whitespace)"
            size = len(value.encode())
            if not numeric and size > limit:
                kind = "partition" if position == 0 else "sort"
                return f"key column {name} is {size} bytes, a {kind} key value is at most {limit}"
        for index, name in self._numeric:
            problem = number_problem(fields[index]) if fields[index] not in nulls else None
            if problem:
                return f"column {name}: {_shown(fields[index])} {problem}"
        for index, name in self._boolean:
            value = fields[index]
            if value not in nulls and value.lower() not in _BOOLEANS:
                return f"column {name}: {_shown(value)} is not true or false (any letter case)"
        if self.build(fields) == RejectReason.ITEM_TOO_LARGE:
            size = sum(
                column.name_bytes + len(value.encode())
                for column, value in zip(self.columns, fields, strict=True)
                if value not in nulls
            )
            return f"the item is about {size:,} bytes, DynamoDB's limit is {MAX_ITEM_BYTES:,}"
        return ""


# Delimiters a header read as one comma-separated column may really use.
_OTHER_DELIMITERS: Final = (";", "\t", "|")
# Characters that look like nothing in a name: a second byte order mark, zero-width spaces.
_INVISIBLE: Final = "\ufeff\u200b\u200c\u200d\u2060"


def header_diagnosis(header: Sequence[str], missing: Sequence[str]) -> str:
    """Why a header lacks the key columns ``missing``: what it found, and what to do.

    Looks for what real files do: another delimiter (the whole header read as one column),
    spaces around a name, a byte order mark or zero-width character inside a name, quotes
    the file kept, another letter case.
    """
    found = f"header lacks key columns {list(missing)}, got {list(header)}"
    hints: list[str] = []
    if len(header) == 1:
        for delimiter in _OTHER_DELIMITERS:
            if delimiter in header[0]:
                shown = "tab" if delimiter == "\t" else repr(delimiter)
                hints.append(
                    f"the file looks delimited by {shown}, not commas (the whole header is "
                    "one column): export it comma-separated"
                )
                break
    for key in missing:
        for name in header:
            if name == key:
                continue
            if name.strip() == key:
                hints.append(
                    f"column {name!r} has spaces around its name: remove them from the header "
                    "(names match exactly)"
                )
            elif "".join(ch for ch in name if ch not in _INVISIBLE).strip() == key:
                codes = ", ".join(f"U+{ord(ch):04X}" for ch in name if ch in _INVISIBLE)
                hints.append(
                    f"column {name!r} holds invisible characters ({codes}; U+FEFF is a byte "
                    "order mark: the file may have two): save it as UTF-8 with at most one "
                    "byte order mark"
                )
            elif name.strip("'\"` ") == key:
                hints.append(
                    f"column {name!r} keeps its quotes: the file quotes with another character "
                    "than the double quote CSV uses"
                )
            elif name.lower() == key.lower():
                hints.append(f"column {name!r} differs from {key!r} in letter case only")
    action = "fix the header, or set key_columns (KEY_COLUMNS) to the header's names"
    return f"{found}: {'; '.join(dict.fromkeys(hints))}" if hints else f"{found}: {action}"


def item_key(item: Item, key_columns: Sequence[str]) -> Hashable:
    """The key ``ItemBuilder.build`` gives an item: strings as is, numbers by value."""
    parts = [
        decimal.Decimal(value["N"]) if "N" in value else value["S"]
        for value in (item[name] for name in key_columns)
    ]
    return parts[0] if len(parts) == 1 else tuple(parts)


def item_size(item: Item) -> int:
    """Bytes DynamoDB counts for an item of string, number and boolean attributes."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        if "S" in value:
            text = value["S"]
            size += len(text) if text.isascii() else len(text.encode())
        elif "N" in value:
            size += _number_size(value["N"])
        else:
            size += 1  # BOOL
    return size


def _number_size(number: str) -> int:
    digits = len(number.partition("E")[0].replace("-", "").replace(".", "").strip("0"))
    return min(_NUMBER_MAX_BYTES, (digits + 1) // 2 + 1)


def dynamodb_number(text: str) -> str | None:
    """The number as sent to DynamoDB, or None if DynamoDB cannot store it.

    Plain numbers of up to 38 characters are sent as written; anything else (exponents,
    a plus sign, leading zeros, long zero padding) is sent in the shortest form of its
    value (``1`` and 40 zeros as ``1E+40``, ``-0`` as ``0``), which DynamoDB parses to the
    same number.
    """
    if len(text) <= NUMBER_MAX_DIGITS and _PLAIN_NUMBER_PATTERN.fullmatch(text):
        return text
    return _number(text)[0]


def number_problem(text: str) -> str | None:
    """Why DynamoDB cannot store ``text`` as a number, or None if it can."""
    return _number(text)[1]


def _number(text: str) -> tuple[str | None, str | None]:
    """``(form to send, None)`` or ``(None, why not)``, by DynamoDB's rules (see the top)."""
    parts = _NUMBER_PARTS.fullmatch(text)
    if parts is None or not (parts[2] or parts[3]):
        return None, "is not a number (ASCII digits, optional sign, point and exponent)"
    sign, whole, fraction, exponent_text = parts.groups(default="")
    try:
        exponent = int(exponent_text or 0) - len(fraction)
    except ValueError:  # an exponent longer than Python converts: far out of range
        return None, "has an exponent out of DynamoDB's range"
    digits = (whole + fraction).lstrip("0")
    significant = digits.rstrip("0")
    if not significant:
        return "0", None
    exponent += len(digits) - len(significant)
    if len(significant) > NUMBER_MAX_DIGITS:
        return None, (
            f"has {len(significant)} significant digits, DynamoDB keeps at most {NUMBER_MAX_DIGITS}"
        )
    leading = exponent + len(significant) - 1  # exponent of the first significant digit
    if leading > NUMBER_MAX_EXPONENT:
        return (
            None,
            "is above DynamoDB's largest magnitude, 9.9999999999999999999999999999999999999E+125",
        )
    if leading < NUMBER_MIN_EXPONENT:
        return None, "is below DynamoDB's smallest magnitude, 1E-130"
    return str(decimal.Decimal(f"{'-' if sign == '-' else ''}{significant}E{exponent}")), None


def _shown(value: str, limit: int = 60) -> str:
    """A value quoted for a message, cut to ``limit`` characters."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}..."


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
    """Rejected rows spooled to a local CSV file (``line,reason,raw,detail``) for upload at the end.

    ``line`` is where the record starts, ``reason`` a ``RejectReason``, ``raw`` the record as
    one CSV line (see ``raw_record``; empty when the record could not be parsed at all),
    ``detail`` what broke the rule (the column, or DynamoDB's own message). Safe to call
    from several threads.

    Args:
        directory: where to create the file.
    """

    HEADER: Final = ("line", "reason", "raw", "detail")

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "rejects.csv")
        self.count = 0
        self._file: IO[str] | None = None
        self._writer: _csv.Writer | None = None
        self._lock = threading.Lock()

    def add(self, line: int, reason: str, fields: Sequence[str] | None, detail: str = "") -> None:
        """Record one rejected row."""
        raw = raw_record(fields) if fields is not None else ""
        with self._lock:
            if self._writer is None:
                self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
                self._writer = csv.writer(self._file)
                self._writer.writerow(self.HEADER)
            self._writer.writerow((line, reason, raw, detail))
            self.count += 1

    def close(self) -> None:
        """Flush and close the file (if any reject was written)."""
        with self._lock:
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

    Items DynamoDB refused (``refuse``, from any thread) are taken out of the count: a key
    stays in the table when at least one of its rows was written, so the duplicates are
    the accepted rows that were not refused, minus the keys with a row left standing.

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
        self._db.execute("CREATE TABLE refused (digest INTEGER NOT NULL, rows INTEGER NOT NULL)")
        # One bound parameter per row: a batch stays within SQLite's variable limit.
        self._batch = min(self._BATCH, self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        self._insert_batch = _insert_digests(self._batch)
        self._pending: list[int] = []
        self._refused: list[tuple[int, int]] = []
        self._refused_rows = 0
        self._lock = threading.Lock()

    def add(self, key: Hashable) -> None:
        """Record one accepted row's key."""
        pending = self._pending
        pending.append(hash(key))
        if len(pending) >= self._batch:
            self._flush()

    def refuse(self, key: Hashable, rows: int) -> None:
        """Record that DynamoDB refused the item of ``key`` standing for ``rows`` accepted rows
        (thread-safe; the rows it replaced in its batch were not written either)."""
        with self._lock:
            self._refused.append((hash(key), rows))

    def duplicates(self) -> int:
        """Rows so far whose key also appears in a later row (see the class docstring)."""
        self._flush()
        if not self._refused_rows:
            query = "SELECT COUNT(*) - COUNT(DISTINCT digest) FROM digests"
            return int(self._db.execute(query).fetchone()[0])
        # Rows not refused, minus keys with more accepted rows than refused ones.
        standing = self._db.execute(
            "SELECT COUNT(*) FROM (SELECT digest, COUNT(*) AS n FROM digests GROUP BY digest) "
            "LEFT JOIN (SELECT digest, SUM(rows) AS r FROM refused GROUP BY digest) "
            "USING (digest) WHERE n > COALESCE(r, 0)"
        ).fetchone()[0]
        refused_items = self._db.execute("SELECT COUNT(*) FROM refused").fetchone()[0]
        accepted = self._db.execute("SELECT COUNT(*) FROM digests").fetchone()[0]
        return int(accepted - refused_items - standing)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _flush(self) -> None:
        pending = self._pending
        if pending:
            full = len(pending) == self._batch
            self._db.execute(self._insert_batch if full else _insert_digests(len(pending)), pending)
            self._pending = []
        if self._refused:
            with self._lock:
                refused, self._refused = self._refused, []
            self._db.executemany("INSERT INTO refused VALUES (?, ?)", refused)
            self._refused_rows += sum(rows for _, rows in refused)


def _insert_digests(rows: int) -> str:
    return "INSERT INTO digests VALUES " + ",".join(["(?)"] * rows)
