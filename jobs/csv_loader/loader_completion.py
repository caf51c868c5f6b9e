"""Completion job: after a submission's load, each object's outcome and its event.

Run as ``python -m loader_completion`` (the loader's image, another command). The submitter
submits it after each load job (one object, or an array job for a burst) with a
dependency on that job, so AWS Batch starts it once the whole load has finished. From
the submission's list of ledger object ids (its own object, or every entry of its
manifest) it reads the ledger items, turns them into each object's outcome (rows loaded,
rejected and duplicate, status, error), records that outcome in the ledger
(``completed_at``, ``completion_job_id``, and FAILED for an object whose load left no
outcome) and publishes one event per object on the account's default event bus:
``CsvLoadCompleted`` when it loaded, ``CsvLoadFailed`` when it did not.

An object's outcome is computed from its parts (today each object is one part: its own
ledger item), so that a file split across array children becomes one outcome here.

Exit codes: 0 every outcome recorded and every event published (failed loads included:
their events say so); 1 an outcome could not be recorded or an event not published; 2
the environment is unusable.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import boto3
import loader_contract as c
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from loader_main import log_event, log_to_stdout
from loader_settings import ConfigurationError, read_json_object

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "Completion",
    "CompletionResult",
    "CompletionSettings",
    "ObjectOutcome",
    "main",
    "object_ids_from_env",
    "outcome_of",
    "planned_outcome_of",
]

#: BatchGetItem reads at most 100 keys per call; PutEvents takes at most 10 entries.
GET_BATCH: Final = 100
PUT_EVENTS_BATCH: Final = 10
#: Attempts at keys DynamoDB leaves unprocessed and entries EventBridge refuses, with the
#: delay before the second doubling after each (throttling clears in seconds).
ATTEMPTS: Final = 5
FIRST_RETRY_DELAY_SECONDS: Final = 0.2
#: Ledger writes in flight at once (a burst has up to 10,000 objects).
WRITE_CONCURRENCY: Final = 16
#: Rejects files an event names (an entry of PutEvents is at most 256 KB; a key 1 KB).
MAX_EVENT_REJECTS_KEYS: Final = 100
#: Statuses a load records when it ends.
_FINAL: Final = (c.STATUS_SUCCEEDED, c.STATUS_FAILED)
_CONDITION_FAILED: Final = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class CompletionSettings:
    """What the job definition and the submission give the completion job.

    Args:
        ledger_table: the run ledger.
        target_table: the table the loads wrote (named in the events).
        load_job_id: the load job (or array job) this job completes.
        completion_job_id: this job's own id (``AWS_BATCH_JOB_ID``).
    """

    ledger_table: str
    target_table: str
    load_job_id: str
    completion_job_id: str
    reject_threshold: float = float(c.DEFAULT_REJECT_THRESHOLD)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CompletionSettings:
        """Read the settings.

        Raises:
            ConfigurationError: a variable is missing (every missing one is named).
        """
        names = (c.ENV_LEDGER_TABLE_NAME, c.ENV_TARGET_TABLE_NAME, c.ENV_LOAD_JOB_ID)
        missing = [name for name in names if not environ.get(name, "").strip()]
        if missing:
            raise ConfigurationError(f"{', '.join(missing)} must be set")
        raw = environ.get(c.ENV_REJECT_THRESHOLD, "").strip() or c.DEFAULT_REJECT_THRESHOLD
        try:
            threshold = float(raw)
        except ValueError:
            raise ConfigurationError(
                f"{c.ENV_REJECT_THRESHOLD} must be a number, got {raw!r}"
            ) from None
        return cls(
            ledger_table=environ[c.ENV_LEDGER_TABLE_NAME].strip(),
            target_table=environ[c.ENV_TARGET_TABLE_NAME].strip(),
            load_job_id=environ[c.ENV_LOAD_JOB_ID].strip(),
            completion_job_id=environ.get("AWS_BATCH_JOB_ID", ""),
            reject_threshold=threshold,
        )


def object_ids_from_env(environ: Mapping[str, str], s3: S3Client) -> list[str]:
    """The ledger object ids of the submission: its object, or every manifest entry's.

    Raises:
        ConfigurationError: neither is given, or the manifest is not a list of entries
            with an object id.
    """
    uri = environ.get(c.ENV_CSV_MANIFEST, "").strip()
    if not uri:
        object_id = environ.get(c.ENV_LEDGER_OBJECT_ID, "").strip()
        if not object_id:
            raise ConfigurationError(
                f"{c.ENV_LEDGER_OBJECT_ID} or {c.ENV_CSV_MANIFEST} must be set"
            )
        return [object_id]
    entries = read_json_object(uri, s3, c.ENV_CSV_MANIFEST)
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get(c.MANIFEST_FIELD_OBJECT_ID), str) for e in entries
    ):
        raise ConfigurationError(
            f"manifest {uri} must be a list of entries with {c.MANIFEST_FIELD_OBJECT_ID}"
        )
    return [str(entry[c.MANIFEST_FIELD_OBJECT_ID]) for entry in entries]


@dataclass(frozen=True)
class ObjectOutcome:
    """How one object's load ended, from its ledger parts.

    ``status`` is SUCCEEDED when every part succeeded; counts are the parts' sums.
    ``recorded_status`` is what the ledger held (None without an item): the outcome is
    written only over that status, so a newer run of the object is never overwritten.
    """

    object_id: str
    bucket: str
    key: str
    version_id: str
    status: str
    rows_loaded: int
    rows_rejected: int
    rows_duplicate: int
    rejects_key: str | None
    error: str | None
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    recorded_status: str | None
    parts: int = 1
    rejects_keys: tuple[str, ...] = ()
    split: bool = False

    @property
    def detail_type(self) -> str:
        """``CsvLoadCompleted`` or ``CsvLoadFailed``."""
        if self.status == c.STATUS_SUCCEEDED:
            return c.EVENT_LOAD_COMPLETED
        return c.EVENT_LOAD_FAILED

    def detail(self, settings: CompletionSettings) -> dict[str, Any]:
        """The event's detail: the object, its outcome, the pipeline and the jobs."""
        return {
            "object_id": self.object_id,
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "status": self.status,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "rows_duplicate": self.rows_duplicate,
            "rejects_key": self.rejects_key,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
            "parts": self.parts,
            "rejects_keys": list(self.rejects_keys[:MAX_EVENT_REJECTS_KEYS]),
            "rejects_keys_truncated": len(self.rejects_keys) > MAX_EVENT_REJECTS_KEYS,
            "table": settings.target_table,
            c.EVENT_DETAIL_LEDGER_TABLE: settings.ledger_table,
            "load_job_id": settings.load_job_id,
            "completion_job_id": settings.completion_job_id,
        }


def outcome_of(object_id: str, parts: Sequence[Mapping[str, Any] | None]) -> ObjectOutcome:
    """An object's outcome from the ledger items of its parts (DynamoDB's attribute values).

    A part that is missing, or that a load never finished (SUBMITTED, RUNNING: the job
    ended without recording), fails the object.
    """
    items = [part for part in parts if part is not None]
    first = items[0] if items else {}
    statuses = [_text(part, c.LEDGER_STATUS) for part in items]
    errors = [_text(part, c.LEDGER_ERROR) for part in items]
    if not items or len(items) < len(parts):
        error: str | None = "no ledger item for the object: it was never claimed"
    elif unfinished := [s for s in statuses if s not in _FINAL]:
        error = f"the load job ended without recording an outcome (ledger status {unfinished[0]})"
    else:
        error = next((e for e in errors if e), None)
    failed = error is not None or any(s != c.STATUS_SUCCEEDED for s in statuses)
    bucket, _, rest = object_id.partition("/")
    durations = [_number(part, c.LEDGER_DURATION_S) for part in items]
    return ObjectOutcome(
        object_id=object_id,
        bucket=_text(first, c.LEDGER_BUCKET) or bucket,
        key=_text(first, c.LEDGER_OBJECT_KEY) or rest.rpartition("#")[0],
        version_id=_text(first, c.LEDGER_VERSION_ID) or "",
        status=c.STATUS_FAILED if failed else c.STATUS_SUCCEEDED,
        rows_loaded=sum(int(_number(part, c.LEDGER_ROWS_LOADED) or 0) for part in items),
        rows_rejected=sum(int(_number(part, c.LEDGER_ROWS_REJECTED) or 0) for part in items),
        rows_duplicate=sum(int(_number(part, c.LEDGER_ROWS_DUPLICATE) or 0) for part in items),
        rejects_key=next((k for p in items if (k := _text(p, c.LEDGER_REJECTS_KEY))), None),
        error=error,
        started_at=min((s for p in items if (s := _text(p, c.LEDGER_STARTED_AT))), default=None),
        finished_at=max((s for p in items if (s := _text(p, c.LEDGER_FINISHED_AT))), default=None),
        duration_s=sum(d for d in durations if d is not None)
        if any(d is not None for d in durations)
        else None,
        recorded_status=statuses[0] if len(items) == 1 else None,
        rejects_keys=tuple(k for p in items if (k := _text(p, c.LEDGER_REJECTS_KEY))),
    )


def planned_outcome_of(
    whole: Mapping[str, Any] | None,
    plan: Mapping[str, Any],
    parts: Sequence[Mapping[str, Any] | None],
    reject_threshold: float,
) -> ObjectOutcome:
    """A planned object's outcome from its plan and the ledger items of its parts.

    Its counts are the parts' sums, its rejects files theirs; it fails when the plan
    failed, a part did not finish or failed, or the parts together rejected more than
    ``reject_threshold`` of the data rows (or all of them): the rule a whole load keeps,
    judged here because each part sees only its own rows.

    Args:
        whole: the object's own ledger item (None without one).
        plan: the plan document (``PLAN_FIELD_*``).
        parts: the ledger items of the plan's parts, in order.
        reject_threshold: largest share of rejected data rows that still succeeds.
    """
    entry = plan[c.PLAN_FIELD_OBJECT]
    object_id = str(entry[c.MANIFEST_FIELD_OBJECT_ID])
    summed = outcome_of(object_id, parts)
    error = summed.error
    if plan.get(c.PLAN_FIELD_ERROR):
        error = f"the object could not be planned: {plan[c.PLAN_FIELD_ERROR]}"
    elif whole is None:
        error = "no ledger item for the object: it was never claimed"
    rows = summed.rows_loaded + summed.rows_rejected + summed.rows_duplicate
    if error is None and rows:
        rejected = summed.rows_rejected
        if rejected == rows:
            error = f"every data row was rejected ({rejected} rows, in {len(parts)} parts)"
        elif rejected / rows > reject_threshold:
            error = (
                f"{rejected} of {rows} data rows rejected ({rejected / rows:.2%}, "
                f"{len(parts)} parts), above {c.ENV_REJECT_THRESHOLD} {reject_threshold:g}"
            )
    started, finished = summed.started_at, summed.finished_at
    return dataclasses.replace(
        summed,
        bucket=str(entry[c.MANIFEST_FIELD_BUCKET]),
        key=str(entry[c.MANIFEST_FIELD_KEY]),
        version_id=str(entry.get(c.MANIFEST_FIELD_VERSION_ID) or ""),
        status=c.STATUS_FAILED if error or summed.status != c.STATUS_SUCCEEDED else summed.status,
        error=error,
        rejects_key=summed.rejects_keys[0] if len(summed.rejects_keys) == 1 else None,
        # The parts run side by side: the object took from the first start to the last end.
        duration_s=_seconds_between(started, finished),
        recorded_status=None if whole is None else _text(whole, c.LEDGER_STATUS),
        parts=len(parts),
        split=True,
    )


@dataclass(frozen=True)
class CompletionResult:
    """What one completion run did.

    Attributes:
        outcomes: each object's outcome, in submission order.
        superseded: objects a newer run of the same object owns (nothing written or sent).
        unrecorded: objects whose outcome could not be written (no event sent for them).
        unpublished: objects whose event EventBridge did not take.
    """

    outcomes: list[ObjectOutcome]
    superseded: list[str]
    unrecorded: list[str]
    unpublished: list[str]

    @property
    def complete(self) -> bool:
        """True when every outcome was recorded and every event published."""
        return not self.unrecorded and not self.unpublished


class Completion:
    """Turns a submission's ledger items into outcomes, ledger writes and events.

    Args:
        dynamodb: low-level DynamoDB client (BatchGetItem and UpdateItem on the ledger).
        events: EventBridge client (PutEvents on the default bus).
        settings: tables and job ids.
        sleep: waits between retries. Default: ``time.sleep``.
        now: the current time as ISO 8601 UTC. Default: the clock's.
    """

    def __init__(
        self,
        *,
        dynamodb: DynamoDBClient,
        events: Any,
        settings: CompletionSettings,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], str] | None = None,
    ) -> None:
        self.dynamodb = dynamodb
        self.events = events
        self.settings = settings
        self._sleep = sleep
        self._now = now or _now

    def complete(self, object_ids: Sequence[str]) -> CompletionResult:
        """Record each object's outcome and publish its event.

        Raises:
            ClientError, BotoCoreError: the ledger could not be read.
        """
        items = self._read(list(dict.fromkeys(object_ids)))
        outcomes = [outcome_of(oid, [items.get(oid)]) for oid in object_ids]
        completed_at = self._now()
        with ThreadPoolExecutor(max_workers=WRITE_CONCURRENCY) as pool:
            written = list(pool.map(lambda o: self._record(o, completed_at), outcomes))
        superseded = [o.object_id for o, w in zip(outcomes, written, strict=True) if w is None]
        unrecorded = [o.object_id for o, w in zip(outcomes, written, strict=True) if w is False]
        recorded = [o for o, w in zip(outcomes, written, strict=True) if w]
        unpublished = self._publish(recorded)
        return CompletionResult(outcomes, superseded, unrecorded, unpublished)

    def complete_planned(self, plan: Mapping[str, Any]) -> CompletionResult:
        """Record a planned object's outcome (from its parts) and publish its event.

        Raises:
            ClientError, BotoCoreError: the ledger could not be read.
        """
        object_id = str(plan[c.PLAN_FIELD_OBJECT][c.MANIFEST_FIELD_OBJECT_ID])
        part_ids = [str(part[c.PART_FIELD_OBJECT_ID]) for part in plan[c.PLAN_FIELD_PARTS]]
        items = self._read([object_id, *part_ids])
        outcome = planned_outcome_of(
            items.get(object_id),
            plan,
            [items.get(part_id) for part_id in part_ids],
            self.settings.reject_threshold,
        )
        written = self._record(outcome, self._now())
        superseded = [object_id] if written is None else []
        unrecorded = [object_id] if written is False else []
        unpublished = self._publish([outcome]) if written else []
        return CompletionResult([outcome], superseded, unrecorded, unpublished)

    def _read(self, object_ids: list[str]) -> dict[str, dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        table = self.settings.ledger_table
        for start in range(0, len(object_ids), GET_BATCH):
            keys: list[Any] = [
                {c.LEDGER_KEY_ATTRIBUTE: {"S": oid}}
                for oid in object_ids[start : start + GET_BATCH]
            ]
            for attempt in range(ATTEMPTS):
                response: Any = self.dynamodb.batch_get_item(
                    RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in response.get("Responses", {}).get(table, []):
                    items[str(item[c.LEDGER_KEY_ATTRIBUTE]["S"])] = dict(item)
                keys = list(response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
                if not keys:
                    break
                self._sleep(FIRST_RETRY_DELAY_SECONDS * 2**attempt)
            if keys:
                raise RuntimeError(f"DynamoDB left {len(keys)} ledger keys unread")
        return items

    def _record(self, outcome: ObjectOutcome, completed_at: str) -> bool | None:
        """Write the outcome: True when written, None when superseded, False on an error."""
        names = {
            "#status": c.LEDGER_STATUS,
            "#completed": c.LEDGER_COMPLETED_AT,
            "#job": c.LEDGER_COMPLETION_JOB_ID,
        }
        values: dict[str, Any] = {
            ":status": {"S": outcome.status},
            ":completed": {"S": completed_at},
            ":job": {"S": self.settings.completion_job_id},
        }
        update = "SET #status = :status, #completed = :completed, #job = :job"
        if outcome.status != outcome.recorded_status and outcome.error:
            names["#error"] = c.LEDGER_ERROR
            values[":error"] = {"S": outcome.error}
            update += ", #error = :error"
        if outcome.split:  # the object's own item holds no counts until now: its parts do
            totals: dict[str, Any] = {
                c.LEDGER_ROWS_LOADED: {"N": str(outcome.rows_loaded)},
                c.LEDGER_ROWS_REJECTED: {"N": str(outcome.rows_rejected)},
                c.LEDGER_ROWS_DUPLICATE: {"N": str(outcome.rows_duplicate)},
            }
            if outcome.finished_at:
                totals[c.LEDGER_FINISHED_AT] = {"S": outcome.finished_at}
            if outcome.duration_s is not None:
                totals[c.LEDGER_DURATION_S] = {"N": f"{outcome.duration_s:.3f}"}
            if outcome.rejects_key:
                totals[c.LEDGER_REJECTS_KEY] = {"S": outcome.rejects_key}
            for index, (name, value) in enumerate(totals.items()):
                names[f"#t{index}"] = name
                values[f":t{index}"] = value
                update += f", #t{index} = :t{index}"
        if outcome.recorded_status is None:
            names["#id"] = c.LEDGER_KEY_ATTRIBUTE
            condition = "attribute_not_exists(#id)"
        else:
            values[":seen"] = {"S": outcome.recorded_status}
            condition = "#status = :seen"
        try:
            self.dynamodb.update_item(
                TableName=self.settings.ledger_table,
                Key={c.LEDGER_KEY_ATTRIBUTE: {"S": outcome.object_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                log_event("superseded", object_id=outcome.object_id)
                return None
            log_event("ledger_error", object_id=outcome.object_id, error=str(exc))
            return False
        except BotoCoreError as exc:
            log_event("ledger_error", object_id=outcome.object_id, error=str(exc))
            return False
        return True

    def _publish(self, outcomes: Sequence[ObjectOutcome]) -> list[str]:
        """PutEvents for each outcome, retrying refused entries; the ids never published."""
        unpublished: list[str] = []
        for start in range(0, len(outcomes), PUT_EVENTS_BATCH):
            batch = list(outcomes[start : start + PUT_EVENTS_BATCH])
            for attempt in range(ATTEMPTS):
                batch = self._put(batch)
                if not batch:
                    break
                self._sleep(FIRST_RETRY_DELAY_SECONDS * 2**attempt)
            unpublished += [o.object_id for o in batch]
        return unpublished

    def _put(self, outcomes: Sequence[ObjectOutcome]) -> list[ObjectOutcome]:
        """One PutEvents call; the outcomes whose entries were refused."""
        entries = [
            {
                "Source": c.EVENT_SOURCE,
                "DetailType": o.detail_type,
                "Detail": json.dumps(o.detail(self.settings), ensure_ascii=False),
            }
            for o in outcomes
        ]
        try:
            response = self.events.put_events(Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            log_event("events_error", objects=len(outcomes), error=str(exc))
            return list(outcomes)
        refused = [
            (o, e)
            for o, e in zip(outcomes, response.get("Entries", []), strict=False)
            if e.get("ErrorCode")
        ]
        for outcome, entry in refused:
            log_event(
                "event_refused",
                object_id=outcome.object_id,
                error=f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}",
            )
        return [o for o, _ in refused]


def build_clients() -> tuple[Any, Any, Any]:
    """DynamoDB, EventBridge and S3 clients from the process environment."""
    session = boto3.session.Session()
    retries: Any = {"mode": "standard", "max_attempts": 5}
    config = Config(retries=retries, max_pool_connections=WRITE_CONCURRENCY + 2)
    return (
        session.client("dynamodb", config=config),
        session.client("events", config=config),
        session.client("s3", config=config),
    )


def main(environ: Mapping[str, str] | None = None) -> int:
    """Complete the submission the environment names; returns the process exit code.

    Args:
        environ: the environment. Default: ``os.environ``.
    """
    env = os.environ if environ is None else environ
    try:
        settings = CompletionSettings.from_env(env)
        dynamodb, events, s3 = build_clients()
        plan_uri = env.get(c.ENV_CSV_PARTS_MANIFEST, "").strip()
        plan = read_json_object(plan_uri, s3, c.ENV_CSV_PARTS_MANIFEST) if plan_uri else None
        object_ids = [] if plan else object_ids_from_env(env, s3)
    except (ConfigurationError, ClientError, BotoCoreError, ValueError) as exc:
        log_event("configuration_error", error=str(exc))
        return c.EXIT_CONFIGURATION_ERROR
    completion = Completion(dynamodb=dynamodb, events=events, settings=settings)
    try:
        result = completion.complete_planned(plan) if plan else completion.complete(object_ids)
    except (ClientError, BotoCoreError, RuntimeError) as exc:
        log_event("ledger_error", load_job_id=settings.load_job_id, error=str(exc))
        return c.EXIT_FAILED
    _log_summary(settings, result.outcomes, result)
    return c.EXIT_SUCCEEDED if result.complete else c.EXIT_FAILED


def _log_summary(
    settings: CompletionSettings, outcomes: Iterable[ObjectOutcome], result: CompletionResult
) -> None:
    statuses = [o.status for o in outcomes]
    log_event(
        "completion",
        load_job_id=settings.load_job_id,
        objects=len(statuses),
        succeeded=statuses.count(c.STATUS_SUCCEEDED),
        failed=statuses.count(c.STATUS_FAILED),
        superseded=len(result.superseded),
        unrecorded=len(result.unrecorded),
        unpublished=len(result.unpublished),
    )


def _text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name, {})
    return str(value["S"]) if "S" in value else None


def _number(item: Mapping[str, Any], name: str) -> float | None:
    value = item.get(name, {})
    return float(value["N"]) if "N" in value else None


def _seconds_between(started: str | None, finished: str | None) -> float | None:
    if not started or not finished:
        return None
    span = datetime.fromisoformat(finished) - datetime.fromisoformat(started)
    return round(span.total_seconds(), 3)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


if __name__ == "__main__":
    log_to_stdout()
    sys.exit(main())
