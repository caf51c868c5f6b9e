"""CSV loader Batch job: stream one CSV object from S3 into a DynamoDB table.

Run as ``python -m loader_main``. The job definition's environment gives the settings
(``LoaderSettings``), the submission gives the object (``CSV_*`` or ``CSV_MANIFEST``
for an array child); see ``loader_contract`` for every name. The run is recorded in the
ledger table (RUNNING, then SUCCEEDED or FAILED with counts) and logged as JSON lines.

Exit codes: 0 the outcome is recorded in the ledger, SUCCEEDED or FAILED (the completion
job, which AWS Batch starts only after a load job that succeeded, reports a failed load);
1 the outcome could not be recorded; 2 the environment is unusable (nothing loaded or
recorded).
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import boto3
import botocore
import loader_contract as c
import urllib3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from loader_csv import (
    DuplicateCounter,
    HeaderError,
    ItemBuilder,
    RejectReason,
    RejectsFile,
    csv_records,
    item_key,
    text_lines,
)
from loader_http import BatchWriteClient, DirectBatchWrites
from loader_metrics import LoaderMetrics
from loader_pacing import WritePacer
from loader_settings import (
    ConfigurationError,
    CsvSource,
    LoaderSettings,
    NothingToLoad,
    source_from_env,
)
from loader_writer import (
    DEFAULT_BASE_DELAY_SECONDS,
    DEFAULT_MAX_DELAY_SECONDS,
    BatchWriter,
    Refusal,
    WriteError,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "LoadError",
    "LoadResult",
    "Loader",
    "build_clients",
    "log_event",
    "log_to_stdout",
    "main",
    "object_chunks",
    "quoted_etag",
    "rejects_object_key",
]

LOGGER: Final = logging.getLogger("csv_loader")
# Bytes per S3 read; the text layer buffers 64 KiB on top.
READ_CHUNK_BYTES: Final = 256 * 1024
# The client's own retries (botocore "standard" mode) under the loader's backoff.
CLIENT_MAX_ATTEMPTS: Final = 3
CONNECT_TIMEOUT_SECONDS: Final = 10
READ_TIMEOUT_SECONDS: Final = 60
USER_AGENT_PRODUCT: Final = "constructs-batch-csv-loader/1"
# S3 object keys are at most 1,024 bytes of UTF-8 (S3 user guide, "Naming objects").
MAX_S3_KEY_BYTES: Final = 1024
REJECTS_SUFFIX: Final = ".errors.csv"
_REJECTS_HASH_CHARS: Final = 16
# Longest error message kept in the ledger and the log.
MAX_ERROR_CHARS: Final = 2000
# Consecutive broken GetObject streams resumed before the run fails.
MAX_READ_RESUMES: Final = 5
_READ_ERRORS: Final = (BotoCoreError, urllib3.exceptions.HTTPError, OSError)
# Connections beyond the writer's lanes (ledger updates).
_SPARE_CONNECTIONS: Final = 4
# Allocations between first-generation garbage collections in the job process (Python's
# default: 700). Every row allocates a few dicts that reference counting frees; at the
# default the collector runs every ~150 rows and took about 5% of the loader's CPU.
GC_FIRST_GENERATION_THRESHOLD: Final = 50_000


class LoadError(RuntimeError):
    """The object cannot be loaded (empty, unusable header, unreadable)."""


@dataclass(frozen=True)
class LoadResult:
    """Outcome of one run, as recorded in the ledger.

    ``rows_loaded`` is the number of items this run left in the table: accepted rows
    minus the rows DynamoDB refused and ``rows_duplicate`` when every write succeeded, or
    the items DynamoDB had acknowledged when writing stopped early. ``rows_duplicate``
    counts rows superseded by a later row with the same key; ``rows_rejected`` rows listed
    in the rejects file (those DynamoDB refused included). With every write done,
    ``rows_loaded + rows_rejected + rows_duplicate`` is the number of data rows.
    """

    object_id: str
    status: str
    rows_loaded: int
    rows_rejected: int
    rows_duplicate: int
    rejects_key: str | None
    started_at: str
    finished_at: str
    duration_s: float
    error: str | None


class _Counters:
    """Counts the reader updates and the progress thread reads."""

    def __init__(self) -> None:
        self.rows = 0
        self.accepted = 0


def log_event(event: str, **fields: Any) -> None:
    """Log one JSON line (``{"event": ..., ...}``)."""
    LOGGER.info(json.dumps({"event": event, **fields}, default=str, ensure_ascii=False))


class _Progress:
    """Logs rows read and written every ``interval`` seconds, from its own thread."""

    def __init__(
        self,
        *,
        interval: float,
        object_id: str,
        counters: _Counters,
        writer: BatchWriter,
        clock: Callable[[], float],
    ) -> None:
        self._interval = interval
        self._object_id = object_id
        self._counters = counters
        self._writer = writer
        self._clock = clock
        self._start = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            elapsed = max(self._clock() - self._start, 1e-9)
            log_event(
                "progress",
                object_id=self._object_id,
                rows=self._counters.rows,
                rows_written=self._writer.written,
                retries=self._writer.retries,
                throttled=self._writer.throttled,
                write_rate=_rounded(self._writer.pacer.rate),
                elapsed_s=round(elapsed, 1),
                rows_per_s=round(self._counters.rows / elapsed, 1),
            )


class Loader:
    """Loads CSV objects into the target table and records each run in the ledger.

    Args:
        s3: S3 client (GetObject on the CSV, PutObject of the rejects file).
        dynamodb: low-level DynamoDB client (DescribeTable and BatchWriteItem on the target
            table, UpdateItem on the ledger); shared by every writer thread, so give it
            ``max_pool_connections >= settings.write_concurrency``.
        settings: table names, key and numeric columns, thresholds.
        batch_writes: what the writer lanes send BatchWriteItem calls through (thread-safe).
            Default: ``dynamodb``.
        temp_dir: where to spool the rejects file and key digests. Default: the system
            temporary directory (``TMPDIR``).
        retry_base_delay_seconds: first backoff ceiling for throttled writes. Default: 0.05 s.
        retry_max_delay_seconds: cap of the backoff ceiling. Default: 5 s.
        pacer: makes the pacer of a run from its ceiling (this process's share of
            ``max_write_rate``, or None). Default: ``WritePacer(max_rate=...)``.
        clock: monotonic clock for durations. Default: ``time.monotonic``.
        metrics: publishes each run's CloudWatch metrics. Default: none published.
    """

    def __init__(
        self,
        *,
        s3: S3Client,
        dynamodb: DynamoDBClient,
        settings: LoaderSettings,
        batch_writes: BatchWriteClient | None = None,
        temp_dir: str | None = None,
        retry_base_delay_seconds: float = DEFAULT_BASE_DELAY_SECONDS,
        retry_max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS,
        pacer: Callable[[float | None], WritePacer] | None = None,
        clock: Callable[[], float] = time.monotonic,
        metrics: LoaderMetrics | None = None,
    ) -> None:
        self.s3 = s3
        self.dynamodb = dynamodb
        self.settings = settings
        self.batch_writes: BatchWriteClient = dynamodb if batch_writes is None else batch_writes
        self._temp_dir = temp_dir
        self._retry_base_delay = retry_base_delay_seconds
        self._retry_max_delay = retry_max_delay_seconds
        self._pacer = pacer or _pacer
        self._clock = clock
        self._metrics = metrics or LoaderMetrics.disabled()

    def load(self, source: CsvSource) -> LoadResult:
        """Load one object; never raises for a bad file or a failed write (see the result).

        Raises:
            ClientError, BotoCoreError: the ledger could not be updated (the run cannot be
                recorded).
        """
        started_at = _now()
        start = self._clock()
        self._record_running(source.object_id, started_at)
        share = self.settings.write_rate_share(source)
        log_event(
            "start",
            object_id=source.object_id,
            bucket=source.bucket,
            key=source.key,
            version_id=source.version_id,
            table=self.settings.target_table,
            max_write_rate=share,
            parts=source.parts,
        )
        counters = _Counters()
        writes_complete = False
        error: str | None = None
        rejects_key: str | None = None
        with tempfile.TemporaryDirectory(prefix="csv-loader-", dir=self._temp_dir) as work_dir:
            rejects = RejectsFile(work_dir)
            digests = DuplicateCounter(work_dir)

            def refused(refusal: Refusal) -> None:  # from a writer thread
                rejects.add(refusal.line, RejectReason.REFUSED, refusal.fields, refusal.message)
                digests.refuse(refusal.key, refusal.versions)

            key_columns = self.settings.key_columns
            writer = BatchWriter(
                self.batch_writes,
                self.settings.target_table,
                concurrency=self.settings.write_concurrency,
                max_retry_seconds=self.settings.max_retry_seconds,
                key_of=lambda item: item_key(item, key_columns),
                on_refused=refused,
                pacer=self._pacer(share),
                base_delay_seconds=self._retry_base_delay,
                max_delay_seconds=self._retry_max_delay,
            )
            progress = _Progress(
                interval=self.settings.progress_interval_seconds,
                object_id=source.object_id,
                counters=counters,
                writer=writer,
                clock=self._clock,
            )
            run_metrics = self._metrics.watch(counters, writer, rejects)
            try:
                self._stream(source, counters, rejects, digests, writer)
                writer.close()
                writes_complete = True
            except Exception as exc:  # any failure is recorded, not raised
                writer.abort()
                error = _describe(exc)
            finally:
                progress.stop()
                run_metrics.stop()
                rejects.close()
            duplicates = digests.duplicates()
            digests.close()
            if rejects.count:
                rejects_key = rejects_object_key(
                    self.settings.rejected_prefix,
                    source.key if source.part is None else f"{source.key}.part-{source.part}",
                )
                try:
                    self.s3.upload_file(rejects.path, source.bucket, rejects_key)
                except (ClientError, BotoCoreError, OSError) as exc:
                    rejects_key = None
                    error = error or f"could not upload the rejects file: {_describe(exc)}"
        if error is None and source.part is None:
            # A part's rejects are judged with the other parts' by the completion job.
            error = self._judge(counters.rows, rejects.count)
        finished_at = _now()
        result = LoadResult(
            object_id=source.object_id,
            status=c.STATUS_FAILED if error else c.STATUS_SUCCEEDED,
            rows_loaded=(
                counters.accepted - writer.refused - duplicates
                if writes_complete
                else writer.written
            ),
            rows_rejected=rejects.count,
            rows_duplicate=duplicates,
            rejects_key=rejects_key,
            started_at=started_at,
            finished_at=finished_at,
            duration_s=round(self._clock() - start, 3),
            error=error,
        )
        run_metrics.finish(result)
        self._record_result(result)
        log_event(
            "summary",
            object_id=result.object_id,
            status=result.status,
            rows=counters.rows,
            rows_loaded=result.rows_loaded,
            rows_rejected=result.rows_rejected,
            rows_duplicate=result.rows_duplicate,
            rejects_key=result.rejects_key,
            duration_s=result.duration_s,
            rows_per_s=round(counters.rows / max(result.duration_s, 1e-3), 1),
            write_calls=writer.calls,
            write_retries=writer.retries,
            write_throttled=writer.throttled,
            write_rate=_rounded(writer.pacer.rate),
            write_rate_decreases=writer.pacer.decreases,
            write_refused=writer.refused,
            error=result.error,
        )
        return result

    def _stream(
        self,
        source: CsvSource,
        counters: _Counters,
        rejects: RejectsFile,
        digests: DuplicateCounter,
        writer: BatchWriter,
    ) -> None:
        numeric_columns = self._numeric_columns(source)
        text = text_lines(object_chunks(self.s3, source), object_start=source.start == 0)
        records = csv_records(text, first_line=source.first_line)
        # A part further in has the header its plan read from the object.
        first: tuple[int, list[str] | str] | None = (
            next(records, None) if source.header is None else (1, list(source.header))
        )
        if first is None:
            raise LoadError("the object is empty: no header row")
        header_line, header = first
        if isinstance(header, str):
            raise LoadError(f"the header row (line {header_line}) is not valid CSV: {header}")
        builder = ItemBuilder(
            header,
            key_columns=self.settings.key_columns,
            numeric_columns=numeric_columns,
            boolean_columns=self.settings.boolean_columns,
            null_values=self.settings.null_values,
        )
        for kind, ignored in (
            ("numeric", builder.ignored_numeric_columns),
            ("boolean", builder.ignored_boolean_columns),
        ):
            if ignored:
                log_event(
                    "warning",
                    object_id=source.object_id,
                    message=f"{kind} columns not in the header are ignored",
                    columns=ignored,
                )
        build = builder.build
        add_reject = rejects.add
        add_digest = digests.add
        put = writer.put
        explain = builder.explain
        for line, fields in records:
            counters.rows += 1
            if isinstance(fields, str):  # the csv module's error
                add_reject(line, RejectReason.MALFORMED, None, f"not valid CSV: {fields}")
                continue
            built = build(fields)
            if isinstance(built, str):
                add_reject(line, built, fields, explain(fields))
                continue
            key, item = built
            add_digest(key)
            put(key, item, line, fields)
            counters.accepted += 1

    def _numeric_columns(self, source: CsvSource) -> frozenset[str]:
        """The numeric columns, with each key column typed as the target table defines it.

        Reads the table's key schema once (DescribeTable), before anything is written.

        Raises:
            LoadError: the table cannot be described, is not keyed by ``KEY_COLUMNS``, or has
                a BINARY key (the loader writes strings and numbers).
        """
        table = self.settings.target_table
        key_columns = list(self.settings.key_columns)
        try:
            description = self.dynamodb.describe_table(TableName=table)["Table"]
        except (ClientError, BotoCoreError) as exc:
            raise LoadError(
                f"cannot read the key schema of table {table} (DescribeTable): {_explain(exc)}"
            ) from exc
        schema = sorted(description.get("KeySchema", []), key=lambda k: k["KeyType"] != "HASH")
        names = [k["AttributeName"] for k in schema]
        if names != key_columns:
            raise LoadError(
                f"table {table} is keyed by {names} (partition, then sort), "
                f"but {c.ENV_KEY_COLUMNS} names {key_columns}: nothing was written"
            )
        types = {
            d["AttributeName"]: d["AttributeType"]
            for d in description.get("AttributeDefinitions", [])
            if d["AttributeName"] in names
        }
        binary = [name for name in names if types.get(name) == "B"]
        if binary:
            raise LoadError(
                f"table {table} has BINARY key attributes {binary}; the loader writes string "
                "and number keys only: nothing was written"
            )
        numeric = set(self.settings.numeric_columns)
        retyped: dict[str, str] = {}
        for name in names:
            if types.get(name) == "N" and name not in numeric:
                numeric.add(name)
                retyped[name] = "NUMBER"
            elif types.get(name) == "S" and name in numeric:
                numeric.discard(name)
                retyped[name] = "STRING"
        if retyped:
            log_event(
                "warning",
                object_id=source.object_id,
                message=f"key columns typed as table {table} defines them, not as "
                f"{c.ENV_NUMERIC_COLUMNS} says",
                columns=retyped,
            )
        return frozenset(numeric)

    def _judge(self, rows: int, rejected: int) -> str | None:
        """Why the run fails on its reject count, or None."""
        if rows and rejected == rows:
            return f"every data row was rejected ({rejected} rows)"
        threshold = self.settings.reject_threshold
        if rows and rejected / rows > threshold:
            return (
                f"{rejected} of {rows} data rows rejected ({rejected / rows:.2%}), "
                f"above {c.ENV_REJECT_THRESHOLD} {threshold:g}"
            )
        return None

    def _record_running(self, object_id: str, started_at: str) -> None:
        self._update_ledger(
            object_id,
            {c.LEDGER_STATUS: {"S": c.STATUS_RUNNING}, c.LEDGER_STARTED_AT: {"S": started_at}},
            remove=(
                c.LEDGER_FINISHED_AT,
                c.LEDGER_DURATION_S,
                c.LEDGER_ROWS_LOADED,
                c.LEDGER_ROWS_REJECTED,
                c.LEDGER_ROWS_DUPLICATE,
                c.LEDGER_REJECTS_KEY,
                c.LEDGER_ERROR,
            ),
        )

    def _record_result(self, result: LoadResult) -> None:
        values: dict[str, dict[str, str]] = {
            c.LEDGER_STATUS: {"S": result.status},
            c.LEDGER_ROWS_LOADED: {"N": str(result.rows_loaded)},
            c.LEDGER_ROWS_REJECTED: {"N": str(result.rows_rejected)},
            c.LEDGER_ROWS_DUPLICATE: {"N": str(result.rows_duplicate)},
            c.LEDGER_STARTED_AT: {"S": result.started_at},
            c.LEDGER_FINISHED_AT: {"S": result.finished_at},
            c.LEDGER_DURATION_S: {"N": f"{result.duration_s:.3f}"},
        }
        remove: list[str] = []
        if result.rejects_key:
            values[c.LEDGER_REJECTS_KEY] = {"S": result.rejects_key}
        else:
            remove.append(c.LEDGER_REJECTS_KEY)
        if result.error:
            values[c.LEDGER_ERROR] = {"S": result.error}
        else:
            remove.append(c.LEDGER_ERROR)
        self._update_ledger(result.object_id, values, remove=tuple(remove))

    def _update_ledger(
        self, object_id: str, values: Mapping[str, dict[str, str]], *, remove: tuple[str, ...]
    ) -> None:
        names: dict[str, str] = {}
        placeholders: dict[str, Any] = {}
        sets: list[str] = []
        for index, (name, value) in enumerate(values.items()):
            names[f"#s{index}"] = name
            placeholders[f":s{index}"] = value
            sets.append(f"#s{index} = :s{index}")
        removals: list[str] = []
        for index, name in enumerate(remove):
            names[f"#r{index}"] = name
            removals.append(f"#r{index}")
        expression = "SET " + ", ".join(sets)
        if removals:
            expression += " REMOVE " + ", ".join(removals)
        self.dynamodb.update_item(
            TableName=self.settings.ledger_table,
            Key={c.LEDGER_KEY_ATTRIBUTE: {"S": object_id}},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=placeholders,
        )


def object_chunks(s3: S3Client, source: CsvSource) -> Iterator[bytes]:
    """The bytes of ``source`` (the object, or its part's range), resuming with a Range
    request if the stream breaks.

    A long load can leave the GetObject stream idle (the writers are throttled) or see a
    connection reset; reading resumes from the byte reached, pinned to the same object
    (VersionId when given, and If-Match on the ETag), up to ``MAX_READ_RESUMES`` times
    in a row.
    """
    request: dict[str, str] = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id:
        request["VersionId"] = source.version_id
    if source.etag:
        # The object as it was when submitted: a newer object has its own event and run.
        request["IfMatch"] = quoted_etag(source.etag)
    last = "" if source.end is None else str(source.end - 1)
    offset = source.start
    failures = 0
    while True:
        if offset or last:
            request["Range"] = f"bytes={offset}-{last}"
        response = s3.get_object(**request)  # type: ignore[arg-type]
        request.setdefault("IfMatch", response["ETag"])
        try:
            for chunk in response["Body"].iter_chunks(READ_CHUNK_BYTES):
                offset += len(chunk)
                failures = 0
                yield chunk
            return
        except _READ_ERRORS as exc:
            failures += 1
            if failures > MAX_READ_RESUMES:
                raise
            log_event(
                "read_resumed",
                object_id=source.object_id,
                offset=offset,
                error=_describe(exc),
            )


def build_clients(
    settings: LoaderSettings,
) -> tuple[S3Client, DynamoDBClient, BatchWriteClient]:
    """S3 and DynamoDB clients from the process environment (region, credentials, endpoint),
    and what the writer lanes send BatchWriteItem calls through.

    The DynamoDB client has a connection per writer lane, botocore's standard retries, no
    client-side parameter validation (the loader builds every request itself) and a fixed
    User-Agent (SDK and Python versions; botocore otherwise rebuilds it per request). The
    batch writes go on the short request path (``loader_http.DirectBatchWrites``: the
    client's own request, signed by botocore, a third of the CPU per call), or through the
    client where that path does not apply (a proxy).
    """
    session = boto3.session.Session()
    user_agent = (
        f"{USER_AGENT_PRODUCT} Boto3/{boto3.__version__} Botocore/{botocore.__version__} "
        f"Python/{platform.python_version()}"
    )
    retries: Any = {"mode": "standard", "max_attempts": CLIENT_MAX_ATTEMPTS}
    dynamodb = session.client(
        "dynamodb",
        config=Config(
            max_pool_connections=settings.write_concurrency + _SPARE_CONNECTIONS,
            retries=retries,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            parameter_validation=False,
            tcp_keepalive=True,
            user_agent=user_agent,
        ),
    )
    s3 = session.client("s3", config=Config(retries=retries))
    batch_writes = DirectBatchWrites.for_client(
        dynamodb,
        session.get_credentials(),
        settings.target_table,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )
    if batch_writes is dynamodb:
        log_event("warning", message="BatchWriteItem goes through botocore (a proxy applies)")
    return s3, dynamodb, batch_writes


def main(environ: Mapping[str, str] | None = None, *, tune_gc: bool = False) -> int:
    """Load the object the environment names; returns the process exit code.

    Args:
        environ: the environment. Default: ``os.environ``.
        tune_gc: tune the process's garbage collector for the load (the job's entry point
            does): once the clients exist, freeze the objects alive then (botocore's models
            and clients, kept for the whole run) so that collections stop re-scanning them,
            and collect the first generation every ``GC_FIRST_GENERATION_THRESHOLD``
            allocations. Default: False (the caller's collector is left alone).
    """
    env = os.environ if environ is None else environ
    try:
        settings = LoaderSettings.from_env(env)
        s3, dynamodb, batch_writes = build_clients(settings)
        source = source_from_env(env, s3)
    except NothingToLoad as nothing:
        # A child beyond the plan's parts, or after a failed plan (the plan recorded it).
        log_event("nothing_to_load", reason=str(nothing))
        return c.EXIT_SUCCEEDED
    except (ConfigurationError, ClientError, BotoCoreError, ValueError) as exc:
        log_event("configuration_error", error=_describe(exc))
        return c.EXIT_CONFIGURATION_ERROR
    if tune_gc:
        gc.freeze()
        gc.set_threshold(GC_FIRST_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
    try:
        metrics = LoaderMetrics.from_env(env, emit=LOGGER.info)
        Loader(
            s3=s3, dynamodb=dynamodb, settings=settings, batch_writes=batch_writes, metrics=metrics
        ).load(source)
    except Exception as exc:  # the ledger itself failed: the run cannot be recorded
        log_event("ledger_error", object_id=source.object_id, error=_describe(exc))
        return c.EXIT_FAILED
    # Recorded, whatever its status (the summary says it): the job succeeds, so that AWS
    # Batch runs the completion job that depends on it.
    return c.EXIT_SUCCEEDED


def _pacer(max_rate: float | None) -> WritePacer:
    return WritePacer(max_rate=max_rate)


def rejects_object_key(prefix: str, key: str) -> str:
    """Where the rejects of object ``key`` go: ``<prefix><key>.errors.csv``, within S3's key
    limit of 1,024 bytes (UTF-8).

    A key too long for that keeps as much of its start as fits (cut between characters)
    and ends with ``~`` and 16 hex digits of its SHA-256 before the suffix, so every input
    key has its own rejects object, the same on every run.
    """
    plain = f"{prefix}{key}{REJECTS_SUFFIX}"
    if len(plain.encode()) <= MAX_S3_KEY_BYTES:
        return plain
    digest = hashlib.sha256(key.encode()).hexdigest()[:_REJECTS_HASH_CHARS]
    tail = f"~{digest}{REJECTS_SUFFIX}"
    room = MAX_S3_KEY_BYTES - len(prefix.encode()) - len(tail)
    start = key.encode()[: max(room, 0)].decode("utf-8", errors="ignore")
    return f"{prefix}{start}{tail}"


def _rounded(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 1)


def quoted_etag(etag: str) -> str:
    """An ETag as If-Match takes it: in double quotes (S3 events give it without)."""
    return etag if etag.startswith('"') else f'"{etag}"'


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _describe(exc: BaseException) -> str:
    text = _explain(exc)
    return text if len(text) <= MAX_ERROR_CHARS else f"{text[:MAX_ERROR_CHARS]}..."


def _explain(exc: BaseException) -> str:
    if isinstance(exc, (LoadError, HeaderError, ConfigurationError, WriteError)):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        head = bytes(exc.object[:4])
        if exc.start < 4 and head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return (
                "the object is UTF-16 (it starts with a UTF-16 byte order mark), not UTF-8: "
                "save or export it as UTF-8"
            )
        return f"the object is not valid UTF-8: {exc}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        if error.get("Code") in {"PreconditionFailed", "412"}:
            return "the object changed since it was submitted (ETag no longer matches)"
    return f"{type(exc).__name__}: {exc}"


def log_to_stdout() -> None:
    """JSON lines on stdout, one per event (CloudWatch Logs gets one event per line)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False


if __name__ == "__main__":
    log_to_stdout()
    sys.exit(main(tune_gc=True))
