"""Loader settings and the object to load, read and validated from the environment."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import loader_contract as c

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "ConfigurationError",
    "CsvSource",
    "LoaderSettings",
    "NothingToLoad",
    "read_json_object",
    "source_from_env",
]

# Key attributes of a DynamoDB table: a partition key and an optional sort key.
MAX_KEY_COLUMNS = 2
# Threads (and HTTP connections) for BatchWriteItem; far beyond what one table partition absorbs.
MAX_WRITE_CONCURRENCY = 256


class ConfigurationError(ValueError):
    """The environment does not describe a valid run (bad or missing variable)."""


@dataclass(frozen=True)
class LoaderSettings:
    """How every object is loaded: the job definition's environment.

    Args:
        target_table: table receiving the rows.
        ledger_table: run ledger table (partition key ``object_id``).
        key_columns: header names forming the item key (partition key, then optional sort key).
        numeric_columns: header names whose values are numbers. Default: none.
        boolean_columns: header names whose values are booleans. Default: none.
        null_values: cell values that are missing values; the empty string is always one.
            Default: only the empty string.
        rejected_prefix: prefix of the rejects object. Default: ``rejected/``.
        reject_threshold: largest rejected fraction of data rows that still succeeds. Default: 0.05.
        write_concurrency: BatchWriteItem calls in flight. Default: 16.
        max_retry_seconds: how long one batch may be retried before giving up. Default: 300.
        progress_interval_seconds: seconds between progress lines. Default: 10.
        max_write_rate: items/s one object's load may write, all its children together
            (each child takes ``max_write_rate / CsvSource.parts``). Default: None (no
            ceiling: paced by DynamoDB's throttling only).
    """

    target_table: str
    ledger_table: str
    key_columns: tuple[str, ...]
    numeric_columns: frozenset[str] = frozenset()
    boolean_columns: frozenset[str] = frozenset()
    null_values: frozenset[str] = frozenset({""})
    rejected_prefix: str = c.DEFAULT_REJECTED_PREFIX
    reject_threshold: float = float(c.DEFAULT_REJECT_THRESHOLD)
    write_concurrency: int = int(c.DEFAULT_WRITE_CONCURRENCY)
    max_retry_seconds: float = float(c.DEFAULT_MAX_RETRY_SECONDS)
    progress_interval_seconds: float = float(c.DEFAULT_PROGRESS_INTERVAL_SECONDS)
    max_write_rate: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "null_values", self.null_values | {""})
        errors: list[str] = []
        if not self.target_table:
            errors.append(f"{c.ENV_TARGET_TABLE_NAME} must be set")
        if not self.ledger_table:
            errors.append(f"{c.ENV_LEDGER_TABLE_NAME} must be set")
        if not 1 <= len(self.key_columns) <= MAX_KEY_COLUMNS or not all(self.key_columns):
            errors.append(
                f"{c.ENV_KEY_COLUMNS} must name 1 or {MAX_KEY_COLUMNS} columns, "
                f"got {','.join(self.key_columns)!r}"
            )
        elif len(set(self.key_columns)) != len(self.key_columns):
            errors.append(f"{c.ENV_KEY_COLUMNS} must not repeat a column, got {self.key_columns}")
        if self.boolean_columns & self.numeric_columns:
            errors.append(
                f"{c.ENV_BOOLEAN_COLUMNS} and {c.ENV_NUMERIC_COLUMNS} must not share columns, "
                f"got {sorted(self.boolean_columns & self.numeric_columns)}"
            )
        if self.boolean_columns.intersection(self.key_columns):
            errors.append(
                f"{c.ENV_BOOLEAN_COLUMNS} must not name key columns (DynamoDB keys are strings, "
                f"numbers or binary), got {sorted(self.boolean_columns.intersection(self.key_columns))}"
            )
        if not 0.0 <= self.reject_threshold <= 1.0:
            errors.append(
                f"{c.ENV_REJECT_THRESHOLD} must be between 0 and 1, got {self.reject_threshold}"
            )
        if not 1 <= self.write_concurrency <= MAX_WRITE_CONCURRENCY:
            errors.append(
                f"{c.ENV_WRITE_CONCURRENCY} must be between 1 and {MAX_WRITE_CONCURRENCY}, "
                f"got {self.write_concurrency}"
            )
        if not (math.isfinite(self.max_retry_seconds) and self.max_retry_seconds > 0):
            errors.append(
                f"{c.ENV_MAX_RETRY_SECONDS} must be a positive number, got {self.max_retry_seconds}"
            )
        if not (
            math.isfinite(self.progress_interval_seconds) and self.progress_interval_seconds > 0
        ):
            errors.append(
                f"{c.ENV_PROGRESS_INTERVAL_SECONDS} must be a positive number, "
                f"got {self.progress_interval_seconds}"
            )
        if self.max_write_rate is not None and not (
            math.isfinite(self.max_write_rate) and self.max_write_rate > 0
        ):
            errors.append(
                f"{c.ENV_MAX_WRITE_RATE} must be a positive number of items per second, "
                f"got {self.max_write_rate}"
            )
        if errors:
            raise ConfigurationError("; ".join(errors))

    def write_rate_share(self, source: CsvSource) -> float | None:
        """The items/s this process may write: ``max_write_rate`` divided among the children
        loading ``source``'s object (None without a ceiling)."""
        if self.max_write_rate is None:
            return None
        return self.max_write_rate / source.parts

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> LoaderSettings:
        """Settings from the job definition's environment variables.

        Raises:
            ConfigurationError: a variable is missing or out of range (all problems at once).
        """
        errors: list[str] = []

        def number(name: str, default: str, kind: type[float] | type[int]) -> Any:
            raw = environ.get(name, "").strip() or default
            try:
                return kind(raw)
            except ValueError:
                errors.append(
                    f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}"
                )
                return kind(default)

        threshold = number(c.ENV_REJECT_THRESHOLD, c.DEFAULT_REJECT_THRESHOLD, float)
        concurrency = number(c.ENV_WRITE_CONCURRENCY, c.DEFAULT_WRITE_CONCURRENCY, int)
        max_retry = number(c.ENV_MAX_RETRY_SECONDS, c.DEFAULT_MAX_RETRY_SECONDS, float)
        interval = number(
            c.ENV_PROGRESS_INTERVAL_SECONDS, c.DEFAULT_PROGRESS_INTERVAL_SECONDS, float
        )
        null_values = _null_values(environ.get(c.ENV_NULL_VALUES, "").strip(), errors)
        raw_rate = environ.get(c.ENV_MAX_WRITE_RATE, "").strip() or c.DEFAULT_MAX_WRITE_RATE
        max_write_rate: float | None = None
        if raw_rate:
            try:
                max_write_rate = float(raw_rate)
            except ValueError:
                errors.append(f"{c.ENV_MAX_WRITE_RATE} must be a number, got {raw_rate!r}")
        try:
            settings = cls(
                target_table=environ.get(c.ENV_TARGET_TABLE_NAME, "").strip(),
                ledger_table=environ.get(c.ENV_LEDGER_TABLE_NAME, "").strip(),
                key_columns=_names(environ.get(c.ENV_KEY_COLUMNS, "")),
                numeric_columns=frozenset(
                    _names(environ.get(c.ENV_NUMERIC_COLUMNS, c.DEFAULT_NUMERIC_COLUMNS))
                ),
                boolean_columns=frozenset(
                    _names(environ.get(c.ENV_BOOLEAN_COLUMNS, c.DEFAULT_BOOLEAN_COLUMNS))
                ),
                null_values=null_values,
                rejected_prefix=environ.get(c.ENV_REJECTED_PREFIX, c.DEFAULT_REJECTED_PREFIX),
                reject_threshold=threshold,
                write_concurrency=concurrency,
                max_retry_seconds=max_retry,
                progress_interval_seconds=interval,
                max_write_rate=max_write_rate,
            )
        except ConfigurationError as error:
            errors.append(str(error))
        if errors:
            raise ConfigurationError("; ".join(errors))
        return settings


@dataclass(frozen=True)
class CsvSource:
    """One CSV object to load and the ledger item that tracks it.

    Args:
        bucket: bucket of the object.
        key: key of the object (already URL-decoded).
        object_id: ledger partition key of this object.
        version_id: version to read; "" reads the current version.
        etag: ETag the object had when submitted; "" skips the check.
        parts: how many processes load this object at once (array children that each load
            a part of it), who share its ``max_write_rate``. Default: 1.
        part: which part of a planned object this is (``object_id`` is then the part's
            own ledger item); None for a whole object. Default: None.
        start: offset of the first byte to load. Default: 0.
        end: offset after the last byte to load; None for the object's end. Default: None.
        first_line: the physical line ``start`` is on, so that line numbers are the
            file's. Default: 1.
        header: the object's header fields, for a part that does not start with it;
            None when the bytes loaded start with the header. Default: None.
    """

    bucket: str
    key: str
    object_id: str
    version_id: str = ""
    etag: str = ""
    parts: int = 1
    part: int | None = None
    start: int = 0
    end: int | None = None
    first_line: int = 1
    header: tuple[str, ...] | None = None


class NothingToLoad(Exception):  # noqa: N818 (an outcome, not an error)
    """This process has nothing to load (its part does not exist, or the plan failed)."""


def read_json_object(uri: str, s3: S3Client, variable: str) -> Any:
    """The JSON document at ``s3://bucket/key`` named by environment variable ``variable``.

    Raises:
        ConfigurationError: the URI is not ``s3://bucket/key``.
    """
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ConfigurationError(f"{variable} must be s3://bucket/key, got {uri!r}")
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def source_from_env(environ: Mapping[str, str], s3: S3Client) -> CsvSource:
    """The object this process loads: from the per-submission variables or the array manifest.

    Raises:
        ConfigurationError: the variables are missing or the manifest has no usable entry.
    """
    plan_uri = environ.get(c.ENV_CSV_PARTS_MANIFEST, "").strip()
    if plan_uri and not environ.get(c.ENV_PLAN_PARTS, "").strip():
        return _source_from_plan(plan_uri, environ.get(c.ENV_ARRAY_INDEX, "0"), s3)
    manifest_uri = environ.get(c.ENV_CSV_MANIFEST, "").strip()
    if manifest_uri:
        return _source_from_manifest(manifest_uri, environ.get(c.ENV_ARRAY_INDEX, ""), s3)
    # An array job that names one object (no manifest): its children load parts of it.
    raw_size = environ.get(c.ENV_ARRAY_SIZE, "").strip()
    parts = int(raw_size) if raw_size.isdigit() and int(raw_size) > 0 else 1
    missing = [
        name
        for name in (c.ENV_CSV_BUCKET, c.ENV_CSV_KEY, c.ENV_LEDGER_OBJECT_ID)
        if not environ.get(name)
    ]
    if missing:
        raise ConfigurationError(
            f"{', '.join(missing)} must be set (or {c.ENV_CSV_MANIFEST} for an array job)"
        )
    return CsvSource(
        bucket=environ[c.ENV_CSV_BUCKET],
        key=environ[c.ENV_CSV_KEY],
        object_id=environ[c.ENV_LEDGER_OBJECT_ID],
        version_id=environ.get(c.ENV_CSV_VERSION_ID, ""),
        etag=environ.get(c.ENV_CSV_ETAG, ""),
        parts=parts,
    )


def _source_from_plan(uri: str, raw_index: str, s3: S3Client) -> CsvSource:
    """The part this child loads, from its object's plan (child N loads part N).

    Raises:
        NothingToLoad: the plan failed, or has fewer parts than this child's index (the
            array job is sized before the plan knows how many record boundaries it finds).
        ConfigurationError: the index is not an integer, or the plan is not one.
    """
    try:
        index = int(raw_index or "0")
    except ValueError:
        raise ConfigurationError(
            f"{c.ENV_ARRAY_INDEX} must be an integer with {c.ENV_CSV_PARTS_MANIFEST}, "
            f"got {raw_index!r}"
        ) from None
    plan = read_json_object(uri, s3, c.ENV_CSV_PARTS_MANIFEST)
    try:
        if plan.get(c.PLAN_FIELD_ERROR):
            raise NothingToLoad(f"the plan failed: {plan[c.PLAN_FIELD_ERROR]}")
        parts = plan[c.PLAN_FIELD_PARTS]
        if index >= len(parts):
            raise NothingToLoad(f"the plan has {len(parts)} parts: there is no part {index}")
        entry, part = plan[c.PLAN_FIELD_OBJECT], parts[index]
        start = int(part[c.PART_FIELD_START])
        return CsvSource(
            bucket=str(entry[c.MANIFEST_FIELD_BUCKET]),
            key=str(entry[c.MANIFEST_FIELD_KEY]),
            object_id=str(part[c.PART_FIELD_OBJECT_ID]),
            version_id=str(entry.get(c.MANIFEST_FIELD_VERSION_ID) or ""),
            etag=str(entry.get(c.MANIFEST_FIELD_ETAG) or ""),
            parts=len(parts),
            part=index,
            start=start,
            end=int(part[c.PART_FIELD_END]),
            first_line=int(part[c.PART_FIELD_FIRST_LINE]),
            header=None if start == 0 else tuple(str(f) for f in plan[c.PLAN_FIELD_HEADER]),
        )
    except (KeyError, TypeError, AttributeError, ValueError):
        raise ConfigurationError(f"{uri} is not a part plan: {str(plan)[:500]}") from None


def _source_from_manifest(uri: str, raw_index: str, s3: S3Client) -> CsvSource:
    try:
        index = int(raw_index)
    except ValueError:
        raise ConfigurationError(
            f"{c.ENV_ARRAY_INDEX} must be an integer with {c.ENV_CSV_MANIFEST}, got {raw_index!r}"
        ) from None
    entries = read_json_object(uri, s3, c.ENV_CSV_MANIFEST)
    if not isinstance(entries, list) or not 0 <= index < len(entries):
        size = len(entries) if isinstance(entries, list) else "not a list"
        raise ConfigurationError(
            f"{c.ENV_ARRAY_INDEX} {index} is outside the manifest {uri} (entries: {size})"
        )
    entry = entries[index]
    try:
        object_id = str(entry[c.MANIFEST_FIELD_OBJECT_ID])
        # Entries naming the same object are its parts, loaded by as many children.
        parts = sum(
            1
            for other in entries
            if isinstance(other, dict) and other.get(c.MANIFEST_FIELD_OBJECT_ID) == object_id
        )
        return CsvSource(
            bucket=str(entry[c.MANIFEST_FIELD_BUCKET]),
            key=str(entry[c.MANIFEST_FIELD_KEY]),
            object_id=object_id,
            version_id=str(entry.get(c.MANIFEST_FIELD_VERSION_ID) or ""),
            etag=str(entry.get(c.MANIFEST_FIELD_ETAG) or ""),
            parts=parts,
        )
    except (KeyError, TypeError, AttributeError):
        raise ConfigurationError(
            f"manifest {uri} entry {index} must have {c.MANIFEST_FIELD_BUCKET}, "
            f"{c.MANIFEST_FIELD_KEY} and {c.MANIFEST_FIELD_OBJECT_ID}, got {entry!r}"
        ) from None


def _null_values(raw: str, errors: list[str]) -> frozenset[str]:
    """The values of ``NULL_VALUES`` (a JSON list of strings); a problem goes to ``errors``."""
    try:
        values = json.loads(raw or c.DEFAULT_NULL_VALUES)
    except ValueError:
        values = None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        errors.append(f"{c.ENV_NULL_VALUES} must be a JSON list of strings, got {raw!r}")
        return frozenset({""})
    return frozenset(values)


def _names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in raw.split(",") if name.strip())
