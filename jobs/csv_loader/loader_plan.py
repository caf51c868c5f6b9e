"""Plan a large CSV object into byte-range parts that each start on a true record boundary.

One sequential pass over the object (in constant memory) tracks whether each byte is
inside a quoted field, the way the ``csv`` module reads RFC 4180 files, and places each
part boundary right after the first line feed at or past a nominal offset that is outside
quotes. So a quoted field with newlines is never cut, CRLF pairs stay together (the
boundary follows the LF) and multi-byte UTF-8 characters stay whole (a UTF-8 sequence
never contains the byte 0x0A).

The model is exact only for quotes used as RFC 4180 uses them: a field that starts with
a quote ends with a quote followed by a delimiter or a line end, and a quote inside a
quoted field is doubled. Anything else (``27" monitor`` in an unquoted field, text after
a closing quote), and a file whose quotes never close, is read by the ``csv`` module in a
way the byte scan cannot follow: the plan then refuses to split and says why, and the
object is loaded whole. A part never holds less than a record: nominal offsets that fall
in one record give one boundary, so there may be fewer parts than asked for.

Each part knows the physical line (as the ``csv`` module counts lines: LF, CR and CRLF
each end one) its first byte is on, so reject line numbers stay file-absolute, and the
header (the first record) is kept for the parts that do not hold it.

Run as ``python -m loader_plan`` (the loader's image, another command), this is the plan
job the submitter puts before a large object's array job: it reads the object once,
writes the plan (``CSV_PARTS_MANIFEST``: the object, its size, the header, each part's
range, first line and ledger item) and records in the object's ledger item how many parts
it has and, when it is loaded whole, why. Child N of the array job then loads part N
(children beyond the parts found have nothing to do). A plan that cannot be made (the
object is gone or changed) is written with its error and no part, and the object is
recorded FAILED: nothing is loaded and the completion job reports it. Exit codes: 0 the
plan is written; 1 it could not be written (the array job's dependency fails, so its
children never run); 2 the environment is unusable.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import loader_contract as c

if TYPE_CHECKING:
    from loader_settings import CsvSource
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "MAX_HEADER_BYTES",
    "Part",
    "SplitPlan",
    "main",
    "plan_at_offsets",
    "plan_document",
    "plan_parts",
    "record_plan",
]

#: A header longer than this is not looked for further: the object is loaded whole.
MAX_HEADER_BYTES: Final = 1 << 20
_QUOTE: Final = ord('"')
_LF: Final = ord("\n")
_CR: Final = ord("\r")
_COMMA: Final = ord(",")
# Bytes after which a quote opens a quoted field (a field start), and after which a quote
# closes one (a field end); None stands for the start or the end of the object.
_FIELD_START: Final = frozenset({_COMMA, _LF, _CR, None})
_FIELD_END: Final = _FIELD_START
_UTF8_BOM: Final = b"\xef\xbb\xbf"
# Bytes outside quotes and whole RFC 4180 quoted fields (opened at a field start, quotes
# inside doubled, closed before a delimiter or a line end), matched in C without
# backtracking: the scan stops at the first quote it cannot account for, which the
# byte-by-byte path then judges.
_BALANCED: Final = re.compile(rb'(?:[^"]++|(?<![^,\r\n])"(?:[^"]++|"")*+"(?![^,\r\n]))*+')


@dataclass(frozen=True)
class Part:
    """One byte range ``[start, end)`` of the object, starting on a record boundary.

    Args:
        index: the part's number, from 0 (the part that holds the header).
        start: offset of its first byte.
        end: offset after its last byte.
        first_line: the physical line its first byte is on (1-based, as the csv module
            counts lines), so that its records' line numbers are the file's.
    """

    index: int
    start: int
    end: int
    first_line: int


@dataclass(frozen=True)
class SplitPlan:
    """How an object is loaded: in parts, or whole (with the reason).

    Args:
        parts: the parts in order; one part covering the object when not split.
        header: the header record's fields; empty when the object has no header record.
        split: whether the object is split into more than one part.
        reason: why the object is loaded whole, when it was asked to be split and is not.
    """

    parts: tuple[Part, ...]
    header: tuple[str, ...] = ()
    split: bool = False
    reason: str | None = None


@dataclass
class _Scan:
    """The state of the pass, carried from one chunk to the next."""

    boundaries: list[int]
    in_quotes: bool = False
    # A doubled quote inside a quoted field whose second quote is the next byte to read.
    skip_quote: bool = False
    previous: int | None = None  # the byte before the current buffer; None at the start
    line_breaks: int = 0  # line ends before the current buffer
    header_end: int | None = None
    header: bytearray = field(default_factory=bytearray)
    problem: str | None = None
    found: list[tuple[int, int]] = field(default_factory=list)  # (offset, lines before it)


def plan_parts(chunks: Iterable[bytes], *, size: int, parts: int) -> SplitPlan:
    """Plan ``size`` bytes read from ``chunks`` into at most ``parts`` parts.

    Args:
        chunks: the object's bytes in order, in chunks of any size.
        size: the object's size in bytes (nominal boundaries are ``k * size / parts``).
        parts: how many parts are wanted, at least 1.

    Raises:
        ValueError: ``parts`` below 1, or the chunks hold more or fewer bytes than ``size``.
    """
    if parts < 1:
        raise ValueError(f"parts must be at least 1, got {parts}")
    return plan_at_offsets(chunks, size=size, offsets=[size * k // parts for k in range(1, parts)])


def plan_at_offsets(chunks: Iterable[bytes], *, size: int, offsets: Iterable[int]) -> SplitPlan:
    """Plan ``size`` bytes read from ``chunks`` with a boundary at or after each offset.

    Args:
        chunks: the object's bytes in order, in chunks of any size.
        size: the object's size in bytes.
        offsets: nominal boundaries; each becomes the first record end at or past it.

    Raises:
        ValueError: the chunks hold more or fewer bytes than ``size``.
    """
    nominal = sorted({offset for offset in offsets if 0 < offset < size})
    scan = _Scan(boundaries=list(nominal))
    offset = 0
    carry = b""
    for chunk in chunks:
        buffer = carry + chunk
        if len(buffer) > 1:
            _read(scan, buffer, offset, len(buffer) - 1)
            offset += len(buffer) - 1
            carry = buffer[-1:]
        else:
            carry = buffer
        if scan.problem is not None:
            break
    else:
        if carry:
            _read(scan, carry + b"\x00", offset, 1, final=True)
            offset += 1
    if scan.problem is None and offset != size:
        raise ValueError(f"the object has {offset} bytes, not the {size} it was planned for")
    header = _header_fields(bytes(scan.header))
    whole = SplitPlan(parts=(Part(0, 0, size, 1),), header=header)
    if not nominal:
        return whole
    if scan.problem is None and scan.in_quotes:
        scan.problem = "a quoted field is still open at the end of the object"
    if scan.problem is not None:
        return SplitPlan(parts=whole.parts, header=header, reason=scan.problem)
    starts = [(0, 0)] + [(b, lines) for b, lines in scan.found if 0 < b < size]
    if len(starts) == 1:
        return SplitPlan(
            parts=whole.parts,
            header=header,
            reason="no record boundary past the header at any planned offset",
        )
    planned = tuple(
        Part(index, start, starts[index + 1][0] if index + 1 < len(starts) else size, lines + 1)
        for index, (start, lines) in enumerate(starts)
    )
    return SplitPlan(parts=planned, header=header, split=True)


def _read(scan: _Scan, buffer: bytes, base: int, length: int, *, final: bool = False) -> None:
    """Read ``buffer[:length]`` (``base`` is its offset); ``buffer[length]`` is lookahead."""
    header_open = scan.header_end is None
    position = _balanced_prefix(scan, buffer, base, length)
    while position < length and scan.problem is None:
        quote = buffer.find(b'"', position, length)
        segment_end = length if quote < 0 else quote
        if not scan.in_quotes:
            _outside_quotes(scan, buffer, base, position, segment_end)
        if quote < 0:
            break
        position = _quote(scan, buffer, base, quote, length, final) + 1
    if header_open:
        header_bytes = length if scan.header_end is None else scan.header_end - base
        scan.header += buffer[:header_bytes]
        if scan.header_end is None and len(scan.header) > MAX_HEADER_BYTES:
            scan.problem = f"no header record end in the first {MAX_HEADER_BYTES} bytes"
    scan.line_breaks += _line_breaks(buffer, 0, length)
    scan.previous = buffer[length - 1]


def _balanced_prefix(scan: _Scan, buffer: bytes, base: int, length: int) -> int:
    """How much of ``buffer[:length]`` the fast scan accounts for (0 when it cannot help).

    It helps where nothing is looked for (the header is read, no boundary is due in this
    buffer) and the buffer starts outside quotes.
    """
    if (
        scan.in_quotes
        or scan.skip_quote
        or scan.header_end is None
        or (scan.boundaries and scan.boundaries[0] < base + length)
        or (buffer[0] == _QUOTE and scan.previous not in _FIELD_START)
        or (length < len(buffer) and buffer[length] == _QUOTE)
    ):
        # A quote as the lookahead byte could be the second of a doubled quote: the
        # byte-by-byte path reads that buffer.
        return 0
    # The lookahead byte is in the match window so that a closing quote at the end of the
    # buffer is judged by the byte that really follows it.
    match = _BALANCED.match(buffer, 0, min(length + 1, len(buffer)))
    end = match.end() if match else 0
    return length if end >= length else end


def _quote(scan: _Scan, buffer: bytes, base: int, index: int, length: int, final: bool) -> int:
    """Apply the quote at ``index``; returns the last index it consumed."""
    if scan.skip_quote:
        scan.skip_quote = False
        return index
    previous = buffer[index - 1] if index > 0 else scan.previous
    after = None if final and index == length - 1 else buffer[index + 1]
    if base + index == len(_UTF8_BOM) and (bytes(scan.header) + buffer[:index]) == _UTF8_BOM:
        previous = None  # the file's first field, after a byte order mark
    if not scan.in_quotes:
        if previous not in _FIELD_START:
            scan.problem = (
                f"a quote inside an unquoted field at byte {base + index}: the csv module "
                "reads it as text, a byte scan cannot"
            )
        scan.in_quotes = True
        return index
    if after == _QUOTE:
        if index + 1 < length:
            return index + 1  # a doubled quote: still inside the field
        scan.skip_quote = True  # its second quote is the lookahead byte
        return index
    if after not in _FIELD_END:
        scan.problem = (
            f"text after a closing quote at byte {base + index}: the csv module reads it "
            "as part of the field, a byte scan cannot"
        )
    scan.in_quotes = False
    return index


def _outside_quotes(scan: _Scan, buffer: bytes, base: int, start: int, end: int) -> None:
    """Find the header's end and the next boundaries in ``buffer[start:end]`` (no quotes)."""
    if scan.header_end is None:
        line_end = buffer.find(b"\n", start, end)
        if line_end < 0:
            return
        scan.header_end = base + line_end + 1
        start = line_end + 1
    while scan.boundaries:
        target = max(scan.boundaries[0], scan.header_end) - base
        if target >= end:
            return
        line_end = buffer.find(b"\n", max(start, target), end)
        if line_end < 0:
            return
        boundary = base + line_end + 1
        lines = scan.line_breaks + _line_breaks(buffer, 0, line_end + 1)
        scan.found.append((boundary, lines))
        while scan.boundaries and scan.boundaries[0] < boundary:
            scan.boundaries.pop(0)
        start = line_end + 1


def _line_breaks(buffer: bytes, start: int, end: int) -> int:
    """Line ends in ``buffer[start:end]`` as universal newlines count them (LF, CR, CRLF).

    A CR at ``end - 1`` followed by an LF at ``end`` is left to the LF.
    """
    breaks = buffer.count(b"\n", start, end) + buffer.count(b"\r", start, end)
    breaks -= buffer.count(b"\r\n", start, end)
    if end - start > 0 and end < len(buffer) and buffer[end - 1] == _CR and buffer[end] == _LF:
        breaks -= 1
    return breaks


def _header_fields(header: bytes) -> tuple[str, ...]:
    text = header.removeprefix(_UTF8_BOM).decode("utf-8", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return tuple(rows[0]) if rows else ()


def plan_document(
    source: CsvSource, *, size: int, plan: SplitPlan | None, error: str | None = None
) -> dict[str, Any]:
    """The plan as the children and the completion job read it (``PLAN_FIELD_*``).

    Args:
        source: the object.
        size: its size in bytes.
        plan: its parts; None when it could not be planned (``error`` says why).
        error: why it could not be planned. Default: None.
    """
    parts = () if plan is None else plan.parts
    return {
        c.PLAN_FIELD_OBJECT: {
            c.MANIFEST_FIELD_BUCKET: source.bucket,
            c.MANIFEST_FIELD_KEY: source.key,
            c.MANIFEST_FIELD_VERSION_ID: source.version_id,
            c.MANIFEST_FIELD_ETAG: source.etag,
            c.MANIFEST_FIELD_OBJECT_ID: source.object_id,
        },
        c.PLAN_FIELD_SIZE: size,
        c.PLAN_FIELD_SPLIT: plan is not None and plan.split,
        c.PLAN_FIELD_REASON: None if plan is None else plan.reason,
        c.PLAN_FIELD_ERROR: error,
        c.PLAN_FIELD_HEADER: [] if plan is None else list(plan.header),
        c.PLAN_FIELD_PARTS: [
            {
                c.PART_FIELD_INDEX: part.index,
                c.PART_FIELD_START: part.start,
                c.PART_FIELD_END: part.end,
                c.PART_FIELD_FIRST_LINE: part.first_line,
                c.PART_FIELD_OBJECT_ID: f"{source.object_id}{c.PART_ID_SEPARATOR}{part.index}",
            }
            for part in parts
        ],
    }


def record_plan(dynamodb: DynamoDBClient, ledger_table: str, document: Mapping[str, Any]) -> None:
    """Record the plan in the object's ledger item: its parts and, loaded whole, why.

    An object that could not be planned is FAILED with the plan's error.
    """
    object_id = document[c.PLAN_FIELD_OBJECT][c.MANIFEST_FIELD_OBJECT_ID]
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    values: dict[str, Any] = {
        c.LEDGER_PARTS: {"N": str(len(document[c.PLAN_FIELD_PARTS]))},
        c.LEDGER_SPLIT: {"BOOL": bool(document[c.PLAN_FIELD_SPLIT])},
    }
    if document[c.PLAN_FIELD_ERROR]:
        values[c.LEDGER_STATUS] = {"S": c.STATUS_FAILED}
        values[c.LEDGER_ERROR] = {
            "S": f"the object could not be planned: {document[c.PLAN_FIELD_ERROR]}"
        }
        values[c.LEDGER_FINISHED_AT] = {"S": now}
    else:
        values[c.LEDGER_STATUS] = {"S": c.STATUS_RUNNING}
        values[c.LEDGER_STARTED_AT] = {"S": now}
    if document[c.PLAN_FIELD_REASON]:
        values[c.LEDGER_SPLIT_REASON] = {"S": str(document[c.PLAN_FIELD_REASON])}
    names = {f"#a{i}": name for i, name in enumerate(values)}
    dynamodb.update_item(
        TableName=ledger_table,
        Key={c.LEDGER_KEY_ATTRIBUTE: {"S": object_id}},
        UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(values))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":a{i}": value for i, value in enumerate(values.values())},
    )


def main(environ: Mapping[str, str] | None = None) -> int:
    """Plan the object the environment names; returns the process exit code.

    Args:
        environ: the environment. Default: ``os.environ``.
    """
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
    from loader_main import log_event, object_chunks, quoted_etag
    from loader_settings import ConfigurationError, LoaderSettings, source_from_env

    env = os.environ if environ is None else environ
    try:
        settings = LoaderSettings.from_env(env)
        session = boto3.session.Session()
        config = Config(retries={"mode": "standard", "max_attempts": 5})
        s3: S3Client = session.client("s3", config=config)
        dynamodb: DynamoDBClient = session.client("dynamodb", config=config)
        source = source_from_env(env, s3)
        raw_parts = env.get(c.ENV_PLAN_PARTS, "").strip()
        wanted = int(raw_parts)
        bucket, _, key = env.get(c.ENV_CSV_PARTS_MANIFEST, "").removeprefix("s3://").partition("/")
        if wanted < 1 or not bucket or not key:
            raise ConfigurationError(
                f"{c.ENV_PLAN_PARTS} must be at least 1 and {c.ENV_CSV_PARTS_MANIFEST} "
                f"s3://bucket/key, got {raw_parts!r} and {env.get(c.ENV_CSV_PARTS_MANIFEST)!r}"
            )
    except (ConfigurationError, ClientError, BotoCoreError, ValueError) as exc:
        log_event("configuration_error", error=str(exc))
        return c.EXIT_CONFIGURATION_ERROR
    size = 0
    try:
        request: dict[str, Any] = {"Bucket": source.bucket, "Key": source.key}
        if source.version_id:
            request["VersionId"] = source.version_id
        if source.etag:
            request["IfMatch"] = quoted_etag(source.etag)
        size = int(s3.head_object(**request)["ContentLength"])
        plan: SplitPlan | None = plan_parts(object_chunks(s3, source), size=size, parts=wanted)
        if plan is not None and plan.split and not plan.header:
            plan = SplitPlan(
                parts=(Part(0, 0, size, 1),),
                reason="the first record is empty: no header to give the other parts",
            )
        error = None
    except Exception as exc:  # any failure to read or plan is recorded, not raised
        plan, error = None, f"{type(exc).__name__}: {exc}"[:2000]
    document = plan_document(source, size=size, plan=plan, error=error)
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document, ensure_ascii=False).encode(),
            ContentType="application/json",
        )
        record_plan(dynamodb, settings.ledger_table, document)
    except (ClientError, BotoCoreError) as exc:
        log_event("plan_error", object_id=source.object_id, error=str(exc))
        return c.EXIT_FAILED
    log_event(
        "plan",
        object_id=source.object_id,
        size=size,
        parts=len(document[c.PLAN_FIELD_PARTS]),
        split=document[c.PLAN_FIELD_SPLIT],
        reason=document[c.PLAN_FIELD_REASON],
        error=error,
    )
    return c.EXIT_SUCCEEDED


if __name__ == "__main__":
    from loader_main import log_to_stdout

    log_to_stdout()
    sys.exit(main())
