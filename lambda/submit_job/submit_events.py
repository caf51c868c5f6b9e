"""Parse the body of one SQS message carrying an S3 event notification (pure functions).

A body is one of: an S3 event notification (``{"Records": [...]}``, possibly several
records), the ``s3:TestEvent`` S3 sends when the notification is configured, or
something else, which is malformed. Keys arrive URL-encoded (``+`` for a space) and
are decoded with :func:`urllib.parse.unquote_plus`.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from submit_contract import OBJECT_ID_VERSION_SEPARATOR

__all__ = [
    "OBJECT_CREATED_PREFIX",
    "TEST_EVENT",
    "IgnoredRecord",
    "MalformedMessageError",
    "ParsedMessage",
    "S3Object",
    "decode_key",
    "make_object_id",
    "matches_input",
    "parse_message",
]

#: ``eventName`` of every record for a new object (Put, Post, Copy, CompleteMultipartUpload).
OBJECT_CREATED_PREFIX = "ObjectCreated:"
#: ``Event`` of the message S3 sends once when a notification to SQS is configured.
TEST_EVENT = "s3:TestEvent"


class MalformedMessageError(ValueError):
    """The message body is not an S3 event notification we can act on."""


def make_object_id(bucket: str, key: str, version_id: str, etag: str) -> str:
    """The ledger's partition key: ``f"{bucket}/{key}#{version_id or etag}"``.

    Args:
        bucket: Bucket name.
        key: Decoded object key.
        version_id: Version id, "" when the bucket is not versioned.
        etag: ETag, used when there is no version id.
    """
    return f"{bucket}/{key}{OBJECT_ID_VERSION_SEPARATOR}{version_id or etag}"


@dataclass(frozen=True, slots=True)
class S3Object:
    """One version of one S3 object named by an ObjectCreated record.

    Attributes:
        bucket: Bucket name.
        key: Object key, URL-decoded.
        version_id: Version id, "" when the bucket is not versioned.
        etag: ETag as the event gives it (without quotes), "" when absent.
        size: Size in bytes as the event gives it; 0 when absent. Not part of the
            object's identity.
    """

    bucket: str
    key: str
    version_id: str
    etag: str
    size: int = field(default=0, compare=False)

    @property
    def object_id(self) -> str:
        """Ledger partition key of this object version."""
        return make_object_id(self.bucket, self.key, self.version_id, self.etag)


@dataclass(frozen=True, slots=True)
class IgnoredRecord:
    """A well-formed record that needs no job, and why (for the logs)."""

    event_name: str
    bucket: str
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What one message asks for.

    Attributes:
        objects: Objects to load, in record order.
        ignored: Records that need no job (other event types, keys outside the input filter).
        test_event: True for S3's ``s3:TestEvent`` (no records at all).
    """

    objects: tuple[S3Object, ...] = ()
    ignored: tuple[IgnoredRecord, ...] = ()
    test_event: bool = False


def decode_key(raw_key: str) -> str:
    """Decode an S3 event key: ``+`` is a space, ``%XX`` are UTF-8 bytes.

    Args:
        raw_key: The key as it appears in the event.
    """
    return urllib.parse.unquote_plus(raw_key, encoding="utf-8", errors="strict")


def matches_input(key: str, *, prefix: str, suffix: str) -> bool:
    """True when a decoded key is inside the input filter: the prefix as written (S3 keys
    are case-sensitive), the suffix in any letter case (``a.CSV`` and ``a.Csv`` are CSV
    files too; S3's own suffix filter could only match one spelling).

    Args:
        key: Decoded object key.
        prefix: Required key prefix ("" matches every key).
        suffix: Required key suffix, in any letter case ("" matches every key).
    """
    return (
        key.startswith(prefix)
        and key[len(prefix) :].casefold().endswith(suffix.casefold())
        and len(key) >= len(prefix + suffix)
    )


def parse_message(body: str | None, *, prefix: str, suffix: str) -> ParsedMessage:
    """Parse one SQS message body.

    Every record is validated before any is used, so that a malformed message asks
    for nothing at all (it fails as a whole and ends in the DLQ as it was sent).

    Args:
        body: The SQS message body.
        prefix: Input key prefix; records outside it are ignored.
        suffix: Input key suffix; records outside it are ignored.

    Raises:
        MalformedMessageError: The body is not JSON, not an S3 event, or a record lacks
            a field the job needs. The message names what is wrong.
    """
    if not body:
        raise MalformedMessageError("body is empty")
    try:
        document = json.loads(body)
    except ValueError as error:
        raise MalformedMessageError(f"body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedMessageError(f"body must be a JSON object, got {type(document).__name__}")
    if document.get("Event") == TEST_EVENT:
        return ParsedMessage(test_event=True)
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        raise MalformedMessageError("body is not an S3 event notification: no Records list")

    objects: list[S3Object] = []
    ignored: list[IgnoredRecord] = []
    for index, record in enumerate(records):
        try:
            event_name, s3_object = _parse_record(record)
        except MalformedMessageError as error:
            raise MalformedMessageError(f"Records[{index}]: {error}") from None
        if not event_name.startswith(OBJECT_CREATED_PREFIX):
            ignored.append(_ignored(event_name, s3_object, "not an ObjectCreated event"))
        elif not matches_input(s3_object.key, prefix=prefix, suffix=suffix):
            reason = (
                f"key outside the input filter {prefix!r}*{suffix!r} (suffix in any letter "
                f"case): not loaded; to load it, upload it under {prefix!r} with a name "
                f"ending in {suffix!r}"
            )
            ignored.append(_ignored(event_name, s3_object, reason))
        else:
            objects.append(s3_object)
    return ParsedMessage(objects=tuple(objects), ignored=tuple(ignored))


def _ignored(event_name: str, s3_object: S3Object, reason: str) -> IgnoredRecord:
    return IgnoredRecord(
        event_name=event_name, bucket=s3_object.bucket, key=s3_object.key, reason=reason
    )


def _parse_record(record: Any) -> tuple[str, S3Object]:
    if not isinstance(record, dict):
        raise MalformedMessageError(f"record must be an object, got {type(record).__name__}")
    event_source = record.get("eventSource", "aws:s3")
    if event_source != "aws:s3":
        raise MalformedMessageError(f"eventSource must be 'aws:s3', got {event_source!r}")
    event_name = _string(record, "eventName", "eventName")
    s3 = _mapping(record, "s3", "s3")
    bucket = _string(_mapping(s3, "bucket", "s3.bucket"), "name", "s3.bucket.name")
    s3_object = _mapping(s3, "object", "s3.object")
    raw_key = _string(s3_object, "key", "s3.object.key")
    version_id = _optional_string(s3_object, "versionId", "s3.object.versionId")
    etag = _optional_string(s3_object, "eTag", "s3.object.eTag")
    size = s3_object.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise MalformedMessageError(f"s3.object.size must be a whole number of bytes, got {size!r}")
    try:
        key = decode_key(raw_key)
    except UnicodeDecodeError:
        raise MalformedMessageError(
            f"s3.object.key is not URL-encoded UTF-8: {raw_key!r}"
        ) from None
    if event_name.startswith(OBJECT_CREATED_PREFIX) and not (version_id or etag):
        raise MalformedMessageError("s3.object has neither versionId nor eTag")
    return event_name, S3Object(bucket=bucket, key=key, version_id=version_id, etag=etag, size=size)


def _mapping(parent: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any]:
    value = parent.get(name)
    if not isinstance(value, dict):
        raise MalformedMessageError(f"{path} must be an object, got {value!r}")
    return value


def _string(parent: Mapping[str, Any], name: str, path: str) -> str:
    value = parent.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedMessageError(f"{path} must be a non-empty string, got {value!r}")
    return value


def _optional_string(parent: Mapping[str, Any], name: str, path: str) -> str:
    value = parent.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedMessageError(f"{path} must be a string, got {value!r}")
    return value
