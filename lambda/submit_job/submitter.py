"""Turn one SQS batch of S3 events into AWS Batch jobs, exactly once per object version.

For each batch the :class:`Submitter`:

1. parses every message (a malformed one fails alone and, after the queue's
   maxReceiveCount, lands in the DLQ);
2. dedupes the objects across messages and claims each one in the run ledger with a
   conditional PutItem, so that a duplicate delivery submits nothing;
3. submits the claimed objects: one object as a plain job, several as ONE array job
   per bucket with a manifest in S3 (SubmitJob is capped at 50 calls per second per
   account and Region and the cap cannot be raised; an array job of up to 10,000
   children costs one call), then the completion job that depends on it (one more
   call per submission), which records each object's outcome and publishes its event;
4. marks the ledger items SUBMITTED, or, when a submission fails, releases its
   claims and reports every message that contributed to it as a batch item failure
   (SQS then redelivers only those messages). A load whose completion job cannot be
   submitted is cancelled and fails the same way: every load has its completion.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from submit_contract import (
    ATTR_ARRAY_INDEX,
    ATTR_BUCKET,
    ATTR_CLAIMED_AT,
    ATTR_ETAG,
    ATTR_JOB_ID,
    ATTR_JOB_NAME,
    ATTR_KEY,
    ATTR_LEASE_EXPIRES_AT,
    ATTR_STATUS,
    ATTR_SUBMITTED_AT,
    ATTR_VERSION_ID,
    DEFAULT_INPUT_PREFIX,
    DEFAULT_INPUT_SUFFIX,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MANIFEST_PREFIX,
    DEFAULT_MAX_PARTS,
    DEFAULT_SPLIT_THRESHOLD_BYTES,
    ENV_COMPLETION_JOB_DEFINITION_ARN,
    ENV_INPUT_PREFIX,
    ENV_INPUT_SUFFIX,
    ENV_JOB_DEFINITION_ARN,
    ENV_JOB_QUEUE_ARN,
    ENV_LEASE_SECONDS,
    ENV_LEDGER_TABLE_NAME,
    ENV_MANIFEST_PREFIX,
    ENV_MAX_PARTS,
    ENV_SPLIT_THRESHOLD_BYTES,
    LEDGER_KEY,
    MAX_ARRAY_SIZE,
    PLAN_MODULE,
    STATUS_SUBMITTED,
    STATUS_SUBMITTING,
)
from submit_events import OBJECT_CREATED_PREFIX, MalformedMessageError, S3Object, parse_message
from submit_jobs import (
    array_job_environment,
    array_job_name,
    chunk,
    completion_job_environment,
    completion_job_name,
    manifest_body,
    manifest_key,
    manifest_uri,
    object_job_name,
    part_count,
    parts_manifest_key,
    plan_job_environment,
    plan_job_name,
    single_job_environment,
    split_job_environment,
)
from submit_metrics import SubmitMetrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "DEFAULT_LEDGER_CONCURRENCY",
    "BatchResponse",
    "ClaimOutcome",
    "Settings",
    "Submitter",
]

#: Ledger writes (claims, SUBMITTED updates) in flight at once for a large batch.
#: Conditional writes cannot be batched, and one at a time 10,000 of them take minutes.
DEFAULT_LEDGER_CONCURRENCY = 16
#: Error codes after which the claim is held by someone else.
_CONDITION_FAILED = "ConditionalCheckFailedException"

BatchResponse = dict[str, list[dict[str, str]]]
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class Settings:
    """Where to submit and what to accept, as the construct configures it.

    Args:
        job_queue_arn: Job queue to submit to.
        job_definition_arn: The loader's job definition.
        ledger_table_name: The run ledger table.
        input_prefix: Keys outside it are ignored. Default: "incoming/".
        input_suffix: Keys outside it are ignored. Default: ".csv".
        manifest_prefix: Key prefix of array job manifests. Default: "manifests/".
        lease_seconds: How long a SUBMITTING claim blocks a redelivery. Default: 900.
        completion_job_definition_arn: The completion job's definition, submitted after
            each load job with a dependency on it. Default: "" (no completion job).
        split_threshold_bytes: Objects larger than this are planned into parts and
            loaded by the children of one array job. Default: 0 (never split).
        max_parts: The most parts one object is split into. Default: 64.
    """

    job_queue_arn: str
    job_definition_arn: str
    ledger_table_name: str
    input_prefix: str = DEFAULT_INPUT_PREFIX
    input_suffix: str = DEFAULT_INPUT_SUFFIX
    manifest_prefix: str = DEFAULT_MANIFEST_PREFIX
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    completion_job_definition_arn: str = ""
    split_threshold_bytes: int = DEFAULT_SPLIT_THRESHOLD_BYTES
    max_parts: int = DEFAULT_MAX_PARTS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings from the Lambda's environment.

        Args:
            environ: The environment, e.g. ``os.environ``.

        Raises:
            ValueError: A required variable is missing, LEASE_SECONDS is not a
                positive integer, SPLIT_THRESHOLD_BYTES is not a whole number or
                MAX_PARTS is not one from 2 to the array size limit; every problem
                is named.
        """
        errors = [
            f"{name} must be set to a non-empty value, got {environ.get(name)!r}"
            for name in (ENV_JOB_QUEUE_ARN, ENV_JOB_DEFINITION_ARN, ENV_LEDGER_TABLE_NAME)
            if not environ.get(name)
        ]
        raw_lease = environ.get(ENV_LEASE_SECONDS, str(DEFAULT_LEASE_SECONDS))
        lease_seconds = int(raw_lease) if raw_lease.strip().isdigit() else 0
        if lease_seconds <= 0:
            errors.append(f"{ENV_LEASE_SECONDS} must be a positive integer, got {raw_lease!r}")
        numbers: dict[str, int] = {}
        for name, default, low, high in (
            (ENV_SPLIT_THRESHOLD_BYTES, DEFAULT_SPLIT_THRESHOLD_BYTES, 0, None),
            (ENV_MAX_PARTS, DEFAULT_MAX_PARTS, 2, MAX_ARRAY_SIZE),
        ):
            raw = environ.get(name, "").strip() or str(default)
            numbers[name] = int(raw) if raw.isdigit() else -1
            if numbers[name] < low or (high is not None and numbers[name] > high):
                errors.append(
                    f"{name} must be a whole number from {low} to {MAX_ARRAY_SIZE}, got {raw!r}"
                    if name == ENV_MAX_PARTS
                    else f"{name} must be a whole number of bytes, got {raw!r}"
                )
        if errors:
            raise ValueError("; ".join(errors))
        return cls(
            job_queue_arn=environ[ENV_JOB_QUEUE_ARN],
            job_definition_arn=environ[ENV_JOB_DEFINITION_ARN],
            ledger_table_name=environ[ENV_LEDGER_TABLE_NAME],
            input_prefix=environ.get(ENV_INPUT_PREFIX, DEFAULT_INPUT_PREFIX),
            input_suffix=environ.get(ENV_INPUT_SUFFIX, DEFAULT_INPUT_SUFFIX),
            manifest_prefix=environ.get(ENV_MANIFEST_PREFIX, DEFAULT_MANIFEST_PREFIX),
            lease_seconds=lease_seconds,
            completion_job_definition_arn=environ.get(ENV_COMPLETION_JOB_DEFINITION_ARN, ""),
            split_threshold_bytes=numbers[ENV_SPLIT_THRESHOLD_BYTES],
            max_parts=numbers[ENV_MAX_PARTS],
        )


class ClaimOutcome(Enum):
    """What a ledger claim found."""

    #: The object is ours to submit.
    CLAIMED = "claimed"
    #: Submitted (or loaded) before: nothing to do, the message succeeds.
    DUPLICATE = "duplicate"
    #: Another invocation holds an unexpired SUBMITTING claim: the message is retried,
    #: so that if that invocation dies, a redelivery after the lease still submits.
    IN_FLIGHT = "in_flight"
    #: The ledger could not be written: the message is retried.
    ERROR = "error"


@dataclass(slots=True)
class _Pending:
    s3_object: S3Object
    message_ids: dict[str, None] = field(default_factory=dict)  # an ordered set


@dataclass(frozen=True, slots=True)
class _Claim:
    s3_object: S3Object
    message_ids: tuple[str, ...]
    claimed_at: str


@dataclass(frozen=True, slots=True)
class _Submission:
    bucket: str
    claims: Sequence[_Claim]
    #: Parts of the one large object of a split submission; 1 for a plain submission.
    parts: int = 1

    @property
    def message_ids(self) -> dict[str, None]:
        return {m: None for claim in self.claims for m in claim.message_ids}


class Submitter:
    """Processes SQS batches of S3 events (the Lambda handler is a thin wrapper).

    Attributes ``settings``, ``batch``, ``dynamodb`` and ``s3`` hold the arguments.

    Args:
        settings: Queue, job definition, ledger and filters.
        batch: AWS Batch client.
        dynamodb: DynamoDB client (the ledger).
        s3: S3 client (array job manifests).
        logger: Structured logger.
        clock: Current time in epoch seconds. Default: ``time.time``.
        new_manifest_id: A unique id for a manifest key. Default: a random UUID.
        ledger_concurrency: Ledger writes in flight at once. Default: 16.
        metrics: Publishes each batch's CloudWatch metrics. Default: None (none published).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        batch: BatchClient,
        dynamodb: DynamoDBClient,
        s3: S3Client,
        logger: Logger,
        clock: Callable[[], float] = time.time,
        new_manifest_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        ledger_concurrency: int = DEFAULT_LEDGER_CONCURRENCY,
        metrics: SubmitMetrics | None = None,
    ) -> None:
        if ledger_concurrency < 1:
            raise ValueError(f"ledger_concurrency must be at least 1, got {ledger_concurrency}")
        self.settings = settings
        self.batch = batch
        self.dynamodb = dynamodb
        self.s3 = s3
        self._logger = logger
        self._clock = clock
        self._new_manifest_id = new_manifest_id
        self._ledger_concurrency = ledger_concurrency
        self._metrics = metrics
        #: Totals since this submitter was made (each batch's metrics are the difference).
        self.submit_job_calls = 0
        self.records_ignored = 0

    def process(self, event: Mapping[str, Any]) -> BatchResponse:
        """Process one SQS event; return the partial batch response.

        Args:
            event: The Lambda event from the SQS event source mapping.

        Returns:
            ``{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}``: the
            messages SQS must redeliver (the function needs ``ReportBatchItemFailures``).
        """
        failures: dict[str, None] = {}
        calls_before, ignored_before = self.submit_job_calls, self.records_ignored
        submitted = 0
        pending = self._parse(event.get("Records", []), failures)

        now = self._clock()
        outcomes = self._map(lambda p: self._claim(p, now), list(pending.values()))
        claims: list[_Claim] = []
        counts = dict.fromkeys(ClaimOutcome, 0)
        for item, (outcome, claim) in zip(pending.values(), outcomes, strict=True):
            counts[outcome] += 1
            if claim is not None:
                claims.append(claim)
            elif outcome is not ClaimOutcome.DUPLICATE:
                failures.update(item.message_ids)

        jobs = 0
        for submission in _plan(claims, self.settings):
            if self._submit(submission):
                jobs += 1
                submitted += len(submission.claims)
            else:
                failures.update(submission.message_ids)

        self._logger.info(
            "batch processed",
            extra={
                "messages": len(event.get("Records", [])),
                "objects": len(pending),
                "claimed": counts[ClaimOutcome.CLAIMED],
                "duplicates": counts[ClaimOutcome.DUPLICATE],
                "in_flight": counts[ClaimOutcome.IN_FLIGHT],
                "claim_errors": counts[ClaimOutcome.ERROR],
                "jobs_submitted": jobs,
                "failed_messages": len(failures),
            },
        )
        if self._metrics is not None:
            self._metrics.publish(
                objects_submitted=submitted,
                submit_job_calls=self.submit_job_calls - calls_before,
                records_ignored=self.records_ignored - ignored_before,
                messages_failed=len(failures),
            )
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}

    # --- parse ---------------------------------------------------------------

    def _parse(
        self, records: Iterable[Mapping[str, Any]], failures: dict[str, None]
    ) -> dict[str, _Pending]:
        pending: dict[str, _Pending] = {}
        for record in records:
            message_id = str(record["messageId"])
            try:
                parsed = parse_message(
                    record.get("body"),
                    prefix=self.settings.input_prefix,
                    suffix=self.settings.input_suffix,
                )
            except MalformedMessageError as error:
                self._logger.error(
                    "malformed message",
                    extra={"message_id": message_id, "reason": str(error)},
                )
                failures[message_id] = None
                continue
            if parsed.test_event:
                self._logger.info("s3:TestEvent ignored", extra={"message_id": message_id})
            self.records_ignored += len(parsed.ignored)
            for ignored in parsed.ignored:
                # An upload under the input prefix that will never load is worth a warning.
                log = (
                    self._logger.warning
                    if ignored.event_name.startswith(OBJECT_CREATED_PREFIX)
                    else self._logger.info
                )
                log(
                    "record ignored",
                    extra={
                        "message_id": message_id,
                        "event_name": ignored.event_name,
                        "bucket": ignored.bucket,
                        "key": ignored.key,
                        "reason": ignored.reason,
                    },
                )
            for s3_object in parsed.objects:
                item = pending.setdefault(s3_object.object_id, _Pending(s3_object))
                item.message_ids[message_id] = None
        return pending

    # --- ledger --------------------------------------------------------------

    def _claim(self, item: _Pending, now: float) -> tuple[ClaimOutcome, _Claim | None]:
        s3_object = item.s3_object
        claimed_at = _timestamp(now)
        log = {"object_id": s3_object.object_id, "message_ids": list(item.message_ids)}
        try:
            self.dynamodb.put_item(
                TableName=self.settings.ledger_table_name,
                Item={
                    LEDGER_KEY: {"S": s3_object.object_id},
                    ATTR_STATUS: {"S": STATUS_SUBMITTING},
                    ATTR_BUCKET: {"S": s3_object.bucket},
                    ATTR_KEY: {"S": s3_object.key},
                    ATTR_VERSION_ID: {"S": s3_object.version_id},
                    ATTR_ETAG: {"S": s3_object.etag},
                    ATTR_CLAIMED_AT: {"S": claimed_at},
                    ATTR_LEASE_EXPIRES_AT: {"N": str(int(now) + self.settings.lease_seconds)},
                },
                ConditionExpression=(
                    "attribute_not_exists(#id) OR (#status = :submitting AND #lease < :now)"
                ),
                ExpressionAttributeNames={
                    "#id": LEDGER_KEY,
                    "#status": ATTR_STATUS,
                    "#lease": ATTR_LEASE_EXPIRES_AT,
                },
                ExpressionAttributeValues={
                    ":submitting": {"S": STATUS_SUBMITTING},
                    ":now": {"N": str(int(now))},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _error_code(error) != _CONDITION_FAILED:
                self._logger.exception("ledger claim failed", extra=log)
                return ClaimOutcome.ERROR, None
            # With ReturnValuesOnConditionCheckFailure=ALL_OLD the error carries the item.
            response: Mapping[str, Any] = error.response
            status = response.get("Item", {}).get(ATTR_STATUS, {}).get("S")
            if status == STATUS_SUBMITTING:
                self._logger.warning("object claimed by another invocation", extra=log)
                return ClaimOutcome.IN_FLIGHT, None
            self._logger.info("duplicate object skipped", extra={**log, "status": status})
            return ClaimOutcome.DUPLICATE, None
        except BotoCoreError:
            self._logger.exception("ledger claim failed", extra=log)
            return ClaimOutcome.ERROR, None
        claim = _Claim(s3_object, tuple(item.message_ids), claimed_at)
        return ClaimOutcome.CLAIMED, claim

    def _mark_submitted(self, claim: _Claim, job_id: str, job_name: str, index: int | None) -> None:
        # Conditioned on our own claim: never moves back a status the loader already wrote.
        names = {"#status": ATTR_STATUS, "#claimed": ATTR_CLAIMED_AT}
        values: dict[str, Any] = {
            ":submitted": {"S": STATUS_SUBMITTED},
            ":submitting": {"S": STATUS_SUBMITTING},
            ":claimed": {"S": claim.claimed_at},
            ":job_id": {"S": job_id},
            ":job_name": {"S": job_name},
            ":submitted_at": {"S": _timestamp(self._clock())},
        }
        update = f"SET #status = :submitted, {ATTR_JOB_ID} = :job_id, "
        update += f"{ATTR_JOB_NAME} = :job_name, {ATTR_SUBMITTED_AT} = :submitted_at"
        if index is not None:
            update += f", {ATTR_ARRAY_INDEX} = :index"
            values[":index"] = {"N": str(index)}
        try:
            self.dynamodb.update_item(
                TableName=self.settings.ledger_table_name,
                Key={LEDGER_KEY: {"S": claim.s3_object.object_id}},
                UpdateExpression=update,
                ConditionExpression="#status = :submitting AND #claimed = :claimed",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except (ClientError, BotoCoreError):
            # The job is submitted: failing the message would only resubmit it later.
            self._logger.exception(
                "ledger not marked SUBMITTED",
                extra={"object_id": claim.s3_object.object_id, "job_id": job_id},
            )

    def _release(self, claim: _Claim) -> None:
        try:
            self.dynamodb.delete_item(
                TableName=self.settings.ledger_table_name,
                Key={LEDGER_KEY: {"S": claim.s3_object.object_id}},
                ConditionExpression="#status = :submitting AND #claimed = :claimed",
                ExpressionAttributeNames={"#status": ATTR_STATUS, "#claimed": ATTR_CLAIMED_AT},
                ExpressionAttributeValues={
                    ":submitting": {"S": STATUS_SUBMITTING},
                    ":claimed": {"S": claim.claimed_at},
                },
            )
        except (ClientError, BotoCoreError):
            # The lease expires on its own; the redelivered message retakes the claim then.
            self._logger.exception(
                "claim not released", extra={"object_id": claim.s3_object.object_id}
            )

    # --- submit --------------------------------------------------------------

    def _submit(self, submission: _Submission) -> bool:
        """Submit one load job and its completion; on failure release the claims."""
        if submission.parts > 1:
            return self._submit_split(submission)
        objects = [claim.s3_object for claim in submission.claims]
        log = {
            "objects": len(objects),
            "object_ids": [o.object_id for o in objects],
            "message_ids": list(submission.message_ids),
        }
        try:
            job_id, job_name, manifest, environment = self._submit_objects(
                submission.bucket, objects
            )
        except Exception:
            # Throttling that outlasted the client's retries, a rejected request, or a bug:
            # the objects stay unsubmitted and their messages come back.
            self._logger.exception("submission failed; claims released", extra=log)
            self._map(self._release, submission.claims)
            return False
        try:
            completion_id = self._submit_completion(job_id, job_name, environment)
        except Exception:
            # A load nobody completes would never report its objects: take it back, and
            # let the redelivered messages submit both again.
            self._logger.exception(
                "completion job not submitted; load job cancelled, claims released",
                extra={**log, "job_id": job_id},
            )
            self._cancel(job_id)
            self._map(self._release, submission.claims)
            return False

        self._logger.info(
            "job submitted",
            extra={
                "job_id": job_id,
                "job_name": job_name,
                "completion_job_id": completion_id,
                "objects": len(objects),
                "object_id": objects[0].object_id if manifest is None else None,
                "manifest": manifest,
            },
        )
        if manifest is None:
            self._mark_submitted(submission.claims[0], job_id, job_name, None)
        else:
            indexed = list(enumerate(submission.claims))
            self._map(
                lambda pair: self._mark_submitted(pair[1], job_id, job_name, pair[0]), indexed
            )
        return True

    def _submit_split(self, submission: _Submission) -> bool:
        """A large object: its plan job, the array job of its parts, their completion.

        Each job depends on the one before. On any failure the jobs already submitted are
        cancelled and the claim released, so that the redelivered message plans again.
        """
        claim = submission.claims[0]
        s3_object = claim.s3_object
        key = parts_manifest_key(self.settings.manifest_prefix, self._new_manifest_id())
        parts_uri = manifest_uri(s3_object.bucket, key)
        split_environment = split_job_environment(s3_object, parts_uri)
        job_name = object_job_name(s3_object)
        submitted: list[str] = []
        try:
            submitted.append(
                self._submit_job(
                    plan_job_name(s3_object),
                    plan_job_environment(s3_object, parts_uri, submission.parts),
                    command=[PLAN_MODULE],
                )
            )
            submitted.append(
                self._submit_job(
                    job_name, split_environment, size=submission.parts, depends_on=submitted[0]
                )
            )
            completion_id = self._submit_completion(submitted[1], job_name, split_environment)
        except Exception:
            self._logger.exception(
                "split submission failed; jobs cancelled, claim released",
                extra={"object_id": s3_object.object_id, "job_ids": submitted},
            )
            for job_id in submitted:
                self._cancel(job_id)
            self._release(claim)
            return False
        self._logger.info(
            "split job submitted",
            extra={
                "object_id": s3_object.object_id,
                "size": s3_object.size,
                "parts": submission.parts,
                "plan_job_id": submitted[0],
                "job_id": submitted[1],
                "job_name": job_name,
                "completion_job_id": completion_id,
                "plan": parts_uri,
            },
        )
        self._mark_submitted(claim, submitted[1], job_name, None)
        return True

    def _submit_objects(
        self, bucket: str, objects: Sequence[S3Object]
    ) -> tuple[str, str, str | None, dict[str, str]]:
        """SubmitJob for one object, or manifest + one array job.

        Returns:
            (job id, job name, manifest URI or None, the job's environment overrides)
        """
        if len(objects) == 1:
            job_name = object_job_name(objects[0])
            environment = single_job_environment(objects[0])
            job_id = self._submit_job(job_name, environment, size=len(objects))
            return job_id, job_name, None, environment
        job_name = array_job_name(objects)
        key = manifest_key(self.settings.manifest_prefix, self._new_manifest_id())
        # Written before SubmitJob: a child may start as soon as the job exists.
        self.s3.put_object(
            Bucket=bucket, Key=key, Body=manifest_body(objects), ContentType="application/json"
        )
        environment = array_job_environment(bucket, key)
        job_id = self._submit_job(job_name, environment, size=len(objects))
        return job_id, job_name, manifest_uri(bucket, key), environment

    def _submit_completion(
        self, load_job_id: str, load_job_name: str, load_environment: Mapping[str, str]
    ) -> str | None:
        """The completion job, after the whole load job (every child of an array job)."""
        definition = self.settings.completion_job_definition_arn
        if not definition:
            return None
        return self._submit_job(
            completion_job_name(load_job_name),
            completion_job_environment(load_environment, load_job_id),
            job_definition=definition,
            depends_on=load_job_id,
        )

    def _submit_job(
        self,
        job_name: str,
        environment: Mapping[str, str],
        *,
        size: int = 1,
        job_definition: str | None = None,
        depends_on: str | None = None,
        command: Sequence[str] | None = None,
    ) -> str:
        request: dict[str, Any] = {
            "jobName": job_name,
            "jobQueue": self.settings.job_queue_arn,
            "jobDefinition": job_definition or self.settings.job_definition_arn,
            "containerOverrides": {
                "environment": [{"name": k, "value": v} for k, v in environment.items()]
            },
        }
        if command is not None:
            # The loader's image runs `python -m <command>`: another module of the image.
            request["containerOverrides"]["command"] = list(command)
        if size > 1:
            request["arrayProperties"] = {"size": size}
        if depends_on is not None:
            # No type: a job waits for the whole of an array job it depends on.
            request["dependsOn"] = [{"jobId": depends_on}]
        self.submit_job_calls += 1
        response = self.batch.submit_job(**request)
        return response["jobId"]

    def _cancel(self, job_id: str) -> None:
        try:
            self.batch.cancel_job(
                jobId=job_id, reason="a job it goes with could not be submitted; resubmitted"
            )
        except (ClientError, BotoCoreError):
            # It loads then, and loads again when the messages come back: the writes are
            # idempotent, only its completion event is missing.
            self._logger.exception("load job not cancelled", extra={"job_id": job_id})

    def _map(self, function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        if len(items) <= 1 or self._ledger_concurrency == 1:
            return [function(item) for item in items]
        workers = min(self._ledger_concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(function, items))


def _plan(claims: Sequence[_Claim], settings: Settings) -> list[_Submission]:
    """One submission per large object (split into parts), then one per bucket and run of
    at most 10,000 other objects (the array size limit)."""
    by_bucket: dict[str, list[_Claim]] = {}
    submissions: list[_Submission] = []
    for claim in claims:
        size = claim.s3_object.size
        parts = part_count(size, settings.split_threshold_bytes, settings.max_parts)
        if parts > 1:
            submissions.append(_Submission(claim.s3_object.bucket, [claim], parts))
        else:
            by_bucket.setdefault(claim.s3_object.bucket, []).append(claim)
    for bucket, bucket_claims in by_bucket.items():
        # A run of one object (below the array minimum of 2) goes out as a plain job.
        submissions.extend(_Submission(bucket, run) for run in chunk(bucket_claims, MAX_ARRAY_SIZE))
    return submissions


def _timestamp(epoch_seconds: float) -> str:
    # Same shape as the loader's timestamps, e.g. 2025-01-31T12:00:00.000+00:00.
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds")


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
