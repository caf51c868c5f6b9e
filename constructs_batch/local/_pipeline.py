"""The CSV pipeline (``CsvToDynamoDbPipeline``) on this machine, from its synthesized template.

Nothing here is a copy of the pipeline:

1. :class:`StackWiring` finds in a template the submitter's environment, the loader's job
   definition, the tables, the event queues, the bucket notification and the event
   source mapping, by following the template's references.
2. :func:`create_pipeline` deploys the template in the emulator (:func:`deploy`) and
   resolves the submitter's and the loader's environments against it.
3. :class:`LocalPipeline` plays each service's part: S3 (upload, and the event
   notification S3 would send for it), SQS and the Lambda event source mapping (receive a
   batch, invoke the real ``handler.handler`` in this process, delete what did not fail),
   and AWS Batch (``run_jobs()``: each submitted job, or each child of an array job, runs
   as a local ``python -m loader_main`` process from the package's runtime code, with the
   environment the job definition and the submission give it; the completion job that
   depends on it, ``python -m loader_completion``, runs once the load has finished and
   publishes its events on the emulator's default event bus).

Example::

    wiring = StackWiring.from_stack(stack)      # a stack with a CsvToDynamoDbPipeline
    with LocalAws() as aws:
        pipeline = create_pipeline(aws, wiring)
        outcome = run_pipeline(pipeline, "incoming/a.csv", sample_csv().body)
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote_plus

from constructs_batch.local._batch import JobResult, JobRun, LocalCommand
from constructs_batch.local._deploy import DEFAULT_STACK_NAME, LocalDeployment, deploy, template_of
from constructs_batch.local._emulator import ACCOUNT_ID, REGION, LocalAws
from constructs_batch.local._runtime import (
    LOADER_PACKAGE,
    SUBMITTER_PACKAGE,
    ImageRuntime,
    fresh_runtime_module,
    image_runtime,
    runtime_dir,
    runtime_module,
)
from constructs_batch.runtime.csv_loader import loader_contract
from constructs_batch.runtime.submit_job import submit_contract

__all__ = [
    "Delivery",
    "LocalPipeline",
    "PipelineOutcome",
    "StackWiring",
    "StoredObject",
    "create_pipeline",
    "object_id",
    "run_pipeline",
]

#: SQS ReceiveMessage returns at most 10 messages per call.
SQS_MAX_RECEIVE: Final = 10
#: A loader process that runs longer than this is killed and the run fails.
LOADER_TIMEOUT_SECONDS: Final = 120.0
_REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"
_JOB_STATUSES: Final = (
    "SUBMITTED",
    "PENDING",
    "RUNNABLE",
    "STARTING",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
)


# --- 1. the stack's wiring ------------------------------------------------------------------


@dataclass(frozen=True)
class StackWiring:
    """The parts of a pipeline's synthesized template the local run needs, by logical id.

    Attributes:
        template: the whole template.
        stack_name: the stack's name (physical names start with it).
        submitter_id: the submitter Lambda function.
        event_source_mapping: properties of its SQS event source mapping.
        events_queue_id: the queue S3 notifies and the Lambda reads.
        dead_letter_queue_id: the events queue's dead-letter queue.
        bucket_id: the input bucket.
        notification: the bucket's queue notification (events, filter, queue).
        job_queue_id: the queue the submitter submits to.
        job_definition_id: the loader's job definition.
        completion_job_definition_id: the completion job's definition (None for a
            pipeline without one).
        table_ids: every DynamoDB table of the stack.
        image: the loader image's ENTRYPOINT, CMD and ENV (from its Dockerfile).
    """

    template: dict[str, Any]
    stack_name: str
    submitter_id: str
    event_source_mapping: dict[str, Any]
    events_queue_id: str
    dead_letter_queue_id: str
    bucket_id: str
    notification: dict[str, Any]
    job_queue_id: str
    job_definition_id: str
    completion_job_definition_id: str | None
    table_ids: tuple[str, ...]
    image: ImageRuntime

    @classmethod
    def from_stack(cls, stack: Any) -> StackWiring:
        """Synthesize a stack that holds one ``CsvToDynamoDbPipeline`` and find its wiring."""
        return cls.from_template(template_of(stack), stack_name=str(stack.stack_name))

    @classmethod
    def from_template(
        cls, template: dict[str, Any], *, stack_name: str = DEFAULT_STACK_NAME
    ) -> StackWiring:
        """Find the pipeline's resources in a template by following its references.

        Raises:
            ValueError: the template lacks a part of the pipeline, or has it twice.
        """
        resources: dict[str, Any] = template["Resources"]

        def props(logical_id: str) -> dict[str, Any]:
            properties: dict[str, Any] = resources[logical_id].get("Properties", {})
            return properties

        submitter_id = _only(
            "a Lambda function with a JOB_QUEUE_ARN variable",
            [
                lid
                for lid, r in resources.items()
                if r["Type"] == "AWS::Lambda::Function"
                and submit_contract.ENV_JOB_QUEUE_ARN
                in props(lid).get("Environment", {}).get("Variables", {})
            ],
        )
        variables = props(submitter_id)["Environment"]["Variables"]
        mapping_id = _only(
            f"an event source mapping of {submitter_id}",
            [
                lid
                for lid, r in resources.items()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"
                and props(lid).get("FunctionName") == {"Ref": submitter_id}
            ],
        )
        mapping = props(mapping_id)
        events_queue_id = _referenced_id(mapping["EventSourceArn"], "the event source")
        redrive = props(events_queue_id).get("RedrivePolicy", {})
        dead_letter_queue_id = _referenced_id(
            redrive.get("deadLetterTargetArn"), f"the dead-letter queue of {events_queue_id}"
        )
        notifications = [
            (lid, config)
            for lid, r in resources.items()
            if r["Type"] == "Custom::S3BucketNotifications"
            for config in props(lid)["NotificationConfiguration"].get("QueueConfigurations", [])
            if _referenced_id(config.get("QueueArn"), "a notification queue") == events_queue_id
        ]
        notification_id, notification = _only(
            f"a bucket notification to {events_queue_id}", notifications
        )
        bucket_id = _referenced_id(props(notification_id)["BucketName"], "the notified bucket")
        job_queue_id = _referenced_id(
            variables[submit_contract.ENV_JOB_QUEUE_ARN], submit_contract.ENV_JOB_QUEUE_ARN
        )
        job_definition_id = _referenced_id(
            variables[submit_contract.ENV_JOB_DEFINITION_ARN],
            submit_contract.ENV_JOB_DEFINITION_ARN,
        )
        completion = variables.get(submit_contract.ENV_COMPLETION_JOB_DEFINITION_ARN)
        completion_job_definition_id = (
            _referenced_id(completion, submit_contract.ENV_COMPLETION_JOB_DEFINITION_ARN)
            if completion
            else None
        )
        table_ids = tuple(
            lid for lid, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"
        )
        return cls(
            template=template,
            stack_name=stack_name,
            submitter_id=submitter_id,
            event_source_mapping=mapping,
            events_queue_id=events_queue_id,
            dead_letter_queue_id=dead_letter_queue_id,
            bucket_id=bucket_id,
            notification=notification,
            job_queue_id=job_queue_id,
            job_definition_id=job_definition_id,
            completion_job_definition_id=completion_job_definition_id,
            table_ids=table_ids,
            image=image_runtime(runtime_dir(LOADER_PACKAGE) / "Dockerfile"),
        )

    def properties(self, logical_id: str) -> dict[str, Any]:
        """A resource's ``Properties``."""
        properties: dict[str, Any] = self.template["Resources"][logical_id].get("Properties", {})
        return properties

    @property
    def submitter_environment(self) -> dict[str, Any]:
        """The submitter's ``Environment.Variables``, intrinsics unresolved."""
        variables: dict[str, Any] = self.properties(self.submitter_id)["Environment"]["Variables"]
        return variables

    @property
    def loader_container(self) -> dict[str, Any]:
        """The loader job definition's ``ContainerProperties``, intrinsics unresolved."""
        container: dict[str, Any] = self.properties(self.job_definition_id)["ContainerProperties"]
        return container

    @property
    def filter_rules(self) -> dict[str, str]:
        """The notification's key filter: ``{"prefix": ..., "suffix": ...}`` (lowercase names)."""
        rules = self.notification.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        return {str(rule["Name"]).lower(): str(rule["Value"]) for rule in rules}


def _referenced_id(value: Any, what: str) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(value["Ref"])
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return str(value["Fn::GetAtt"][0])
    raise ValueError(f"{what} must be a Ref or Fn::GetAtt of a resource, got {value!r}")


def _only(what: str, found: list[Any]) -> Any:
    if len(found) != 1:
        raise ValueError(f"the template must have exactly one {what}, found {len(found)}")
    return found[0]


# --- 2. the pipeline in the emulator --------------------------------------------------------


@dataclass(frozen=True)
class StoredObject:
    """One uploaded object version, as S3's event notification names it."""

    bucket: str
    key: str
    version_id: str
    etag: str
    size: int


@dataclass(frozen=True)
class Delivery:
    """One Lambda invocation by the event source mapping.

    Attributes:
        event: the SQS event the handler got.
        response: what it returned (``batchItemFailures``).
        logs: the handler's log messages (``message`` of each record).
    """

    event: dict[str, Any]
    response: dict[str, Any]
    logs: list[str]

    @property
    def message_ids(self) -> list[str]:
        """Ids of the messages in the batch."""
        return [str(r["messageId"]) for r in self.event["Records"]]

    @property
    def failed_message_ids(self) -> list[str]:
        """Ids the handler reported as batch item failures."""
        return [str(f["itemIdentifier"]) for f in self.response.get("batchItemFailures", [])]


@dataclass
class _LambdaContext:
    """The attributes of a Lambda context object that Powertools reads."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    log_group_name: str = ""
    log_stream_name: str = "local"
    timeout_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class LocalPipeline:
    """The pipeline's resources in the emulator, and each service's part in moving an object.

    Create with :func:`create_pipeline`. Attributes hold the deployment, the local names
    and ARNs, the resolved environments, the loader's local command and the emulator's
    clients.
    """

    aws: LocalAws
    wiring: StackWiring
    deployment: LocalDeployment
    bucket: str
    tables: dict[str, str]
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    job_queue_arn: str
    job_definition_arn: str
    completion_job_definition_arn: str | None
    submitter_environment: dict[str, str]
    loader_environment: dict[str, str]
    loader: LocalCommand
    s3: Any
    sqs: Any
    batch: Any
    dynamodb: Any

    # --- S3 -------------------------------------------------------------------------------------

    def upload(self, key: str, body: bytes | str) -> StoredObject:
        """PutObject into the input bucket."""
        data = body.encode() if isinstance(body, str) else body
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return StoredObject(
            bucket=self.bucket,
            key=key,
            version_id=str(response.get("VersionId") or ""),
            etag=str(response["ETag"]).strip('"'),
            size=len(data),
        )

    def s3_event(self, stored: StoredObject) -> dict[str, Any]:
        """The ObjectCreated:Put notification S3 sends for an object (key URL-encoded)."""
        s3_object: dict[str, Any] = {
            "key": quote_plus(stored.key, safe="/"),
            "size": stored.size,
            "eTag": stored.etag,
            "sequencer": f"{time.time_ns():016X}",
        }
        if stored.version_id:
            s3_object["versionId"] = stored.version_id
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "AWS:LOCAL"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {
                        "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                        "x-amz-id-2": uuid.uuid4().hex,
                    },
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "CsvPipelineNotification",
                        "bucket": {
                            "name": stored.bucket,
                            "ownerIdentity": {"principalId": "LOCAL"},
                            "arn": f"arn:aws:s3:::{stored.bucket}",
                        },
                        "object": s3_object,
                    },
                }
            ]
        }

    def notifies(self, key: str) -> bool:
        """True when the bucket's notification (events and key filter) covers a new object."""
        events = self.wiring.notification.get("Events", [])
        if not any(e in ("s3:ObjectCreated:*", "s3:ObjectCreated:Put") for e in events):
            return False
        rules = self.wiring.filter_rules
        return key.startswith(rules.get("prefix", "")) and key.endswith(rules.get("suffix", ""))

    def notify(self, stored: StoredObject) -> str | None:
        """What S3 does after the upload: send the event to the queue if the filter matches.

        Returns:
            The SQS message id, or None when the notification's filter excludes the key.
        """
        if not self.notifies(stored.key):
            return None
        return self.send(json.dumps(self.s3_event(stored)))

    def upload_and_notify(self, key: str, body: bytes | str) -> StoredObject:
        """Upload an object and send its notification (which must match the filter)."""
        stored = self.upload(key, body)
        if self.notify(stored) is None:
            raise ValueError(f"{key!r} is outside the bucket notification's filter")
        return stored

    # --- SQS and the event source mapping -------------------------------------------------------

    def send(self, body: str) -> str:
        """SendMessage to the events queue; returns the message id."""
        return str(self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"])

    def receive(self, max_messages: int | None = None) -> list[dict[str, Any]]:
        """What the event source mapping polls: up to its batch size of visible messages."""
        limit = max_messages or int(self.wiring.event_source_mapping.get("BatchSize", 10))
        messages: list[dict[str, Any]] = []
        while len(messages) < limit:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_MAX_RECEIVE, limit - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            received = response.get("Messages", [])
            if not received:
                break
            messages.extend(received)
        return messages

    def lambda_event(self, messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The SQS event Lambda passes the function for received messages."""
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": dict(m.get("Attributes", {})),
                    "messageAttributes": dict(m.get("MessageAttributes", {})),
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }

    def invoke_submitter(self, event: Mapping[str, Any]) -> Delivery:
        """Invoke the real ``handler.handler`` in a fresh execution environment.

        handler.py runs anew (its init phase builds the clients from the environment) with
        the submitter's resolved environment plus the emulator's, which are restored
        afterwards. Its log lines are captured, not printed.
        """
        environment = {**self.aws.env, **self.submitter_environment}
        service = self.submitter_environment.get("POWERTOOLS_SERVICE_NAME", "csv-submitter")
        records = _Records()
        service_logger = logging.getLogger(service)
        function = f"{self.wiring.stack_name}-{self.wiring.submitter_id}"
        with _patched_environ(environment), contextlib.redirect_stdout(io.StringIO()):
            module = fresh_runtime_module(SUBMITTER_PACKAGE, "handler")
            service_logger.addHandler(records)
            try:
                context = _LambdaContext(
                    function_name=function,
                    invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}",
                )
                response = module.handler(dict(event), context)
            finally:
                service_logger.removeHandler(records)
        return Delivery(event=dict(event), response=dict(response), logs=records.messages)

    def deliver(self, messages: Sequence[Mapping[str, Any]] | None = None) -> Delivery:
        """One poll of the event source mapping: receive, invoke, delete what did not fail.

        With ``ReportBatchItemFailures`` (which the template must configure), the messages
        the handler reports stay in the queue and come back after the visibility timeout.

        Args:
            messages: messages already received. Default: receive a batch now.

        Raises:
            ValueError: there is nothing to deliver.
        """
        batch = list(messages) if messages is not None else self.receive()
        if not batch:
            raise ValueError("no message to deliver: the events queue is empty")
        response_types = self.wiring.event_source_mapping.get("FunctionResponseTypes", [])
        if _REPORT_BATCH_ITEM_FAILURES not in response_types:
            raise ValueError("the event source mapping must report batch item failures")
        delivery = self.invoke_submitter(self.lambda_event(batch))
        failed = set(delivery.failed_message_ids)
        done = [m for m in batch if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_MAX_RECEIVE):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + SQS_MAX_RECEIVE])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return delivery

    def make_visible(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """End the visibility timeout of received messages (as if it had run out)."""
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    def queue_depth(self, queue_url: str | None = None) -> int:
        """Visible plus in-flight messages of a queue (the events queue by default)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    # --- AWS Batch ------------------------------------------------------------------------------

    def submitted_jobs(self) -> list[dict[str, Any]]:
        """Every job submitted to the job queue (array parents, not their children)."""
        ids = [i for i in self._list_jobs(jobQueue=self.job_queue_arn) if ":" not in i]
        return self._describe(ids)

    def load_jobs(self) -> list[dict[str, Any]]:
        """The loader's jobs among them."""
        return [j for j in self.submitted_jobs() if j["jobDefinition"] == self.job_definition_arn]

    def completion_jobs(self) -> list[dict[str, Any]]:
        """The completion jobs among them."""
        arn = self.completion_job_definition_arn
        return [j for j in self.submitted_jobs() if arn is not None and j["jobDefinition"] == arn]

    def job(self, job_id: str) -> dict[str, Any]:
        """One job as ``describe_jobs`` gives it now."""
        return self._describe([job_id])[0]

    def job_runs(self, job: Mapping[str, Any]) -> list[JobRun]:
        """The containers Batch starts for a job: itself, or each child of an array job."""
        return self.aws.batch.runs_of(str(job["jobId"]))

    def run_jobs(self) -> list[JobResult]:
        """Run every submitted job that can run, as Batch would, and report each outcome."""
        return self.aws.batch.play()

    def loader_command(self, run: JobRun) -> list[str]:
        """The image's ENTRYPOINT plus the job's command, with this machine's Python."""
        return self.loader.command_line(run)

    def start_loader(self, run: JobRun, *, temp_dir: str | None = None) -> Any:
        """Start the loader for one job run as a local process (a ``subprocess.Popen``).

        Its outcome is not reported to the emulator (``run_jobs`` does that).

        Args:
            run: the job run.
            temp_dir: the process's TMPDIR (what a killed process leaves is there).
                Default: None (the system's).
        """
        return self.loader.start(run, self.aws.env, temp_dir=temp_dir)

    def run_loader(
        self, run: JobRun, *, timeout: float = LOADER_TIMEOUT_SECONDS, temp_dir: str | None = None
    ) -> JobResult:
        """Run the loader for one job run to the end (not reported to the emulator).

        Args:
            run: the job run.
            timeout: seconds after which the process is killed. Default: 120.
            temp_dir: the process's TMPDIR. Default: None (the system's).
        """
        return self.loader.run(run, self.aws.env, timeout_seconds=timeout, temp_dir=temp_dir)

    def load_in_process(self, run: JobRun, *, dynamodb: Any = None) -> Any:
        """Run the loader's ``Loader`` in this process for one job run (to inject faults).

        Settings and source come from the run's environment exactly as ``loader_main``
        reads them; ``dynamodb`` replaces the emulator's client (e.g. a
        ``ThrottlingDynamoDB``). Backoff delays are shortened to milliseconds.

        Returns:
            The loader's ``LoadResult``.
        """
        loader_main = runtime_module(LOADER_PACKAGE, "loader_main")
        settings_module = runtime_module(LOADER_PACKAGE, "loader_settings")
        settings = settings_module.LoaderSettings.from_env(run.environment)
        loader = loader_main.Loader(
            s3=self.s3,
            dynamodb=dynamodb or self.dynamodb,
            settings=settings,
            retry_base_delay_seconds=0.001,
            retry_max_delay_seconds=0.01,
        )
        return loader.load(settings_module.source_from_env(run.environment, self.s3))

    # --- EventBridge ----------------------------------------------------------------------------

    def subscribe_to_load_events(self, name: str = "load-events") -> str:
        """What a team that consumes the pipeline's events deploys: an SQS queue behind a rule
        on the default bus for this pipeline's ``CsvLoadCompleted`` and ``CsvLoadFailed``.

        Returns:
            The queue's URL (read it with :meth:`received_events`).
        """
        url = str(self.sqs.create_queue(QueueName=name)["QueueUrl"])
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        pattern = {
            "source": [loader_contract.EVENT_SOURCE],
            "detail-type": [
                loader_contract.EVENT_LOAD_COMPLETED,
                loader_contract.EVENT_LOAD_FAILED,
            ],
            "detail": {loader_contract.EVENT_DETAIL_LEDGER_TABLE: [self.ledger_table]},
        }
        events = self.aws.client("events")
        events.put_rule(Name=name, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, Targets=[{"Id": name, "Arn": arn}])
        return url

    def received_events(self, queue_url: str) -> list[dict[str, Any]]:
        """The events waiting in a subscribed queue (EventBridge's envelopes), taken off it."""
        received: list[dict[str, Any]] = []
        while messages := self.receive_from(queue_url):
            received.extend(json.loads(m["Body"]) for m in messages)
        return received

    def receive_from(self, queue_url: str) -> list[dict[str, Any]]:
        """Up to 10 messages of a queue, deleted once received."""
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=SQS_MAX_RECEIVE, WaitTimeSeconds=0
        ).get("Messages", [])
        for message in messages:
            self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    # --- read back ------------------------------------------------------------------------------

    @property
    def target_table(self) -> str:
        """Name of the table the loader writes rows to."""
        return self.loader_environment[loader_contract.ENV_TARGET_TABLE_NAME]

    @property
    def ledger_table(self) -> str:
        """Name of the run ledger table."""
        return self.loader_environment[loader_contract.ENV_LEDGER_TABLE_NAME]

    def scan(self, table: str | None = None) -> list[dict[str, Any]]:
        """Every item of a table (the target table by default), plain Python values."""
        resource = self.aws.resource("dynamodb").Table(table or self.target_table)
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"ConsistentRead": True}
        while True:
            response = resource.scan(**request)
            items.extend(response["Items"])
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def ledger_item(self, object_id: str) -> dict[str, Any] | None:
        """The ledger item of an object version, or None."""
        table = self.aws.resource("dynamodb").Table(self.ledger_table)
        item: dict[str, Any] | None = table.get_item(
            Key={submit_contract.LEDGER_KEY: object_id}, ConsistentRead=True
        ).get("Item")
        return item

    def read_csv(self, key: str) -> list[dict[str, str]]:
        """Rows of a CSV object in the input bucket (e.g. a rejects file), by header."""
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
        return list(csv.DictReader(io.StringIO(body, newline="")))

    def _list_jobs(self, **request: Any) -> list[str]:
        """Job ids in every status, oldest first (ListJobs lists one status at a time)."""
        summaries: list[dict[str, Any]] = []
        for status in _JOB_STATUSES:
            page: dict[str, Any] = {**request, "jobStatus": status}
            while True:
                response = self.batch.list_jobs(**page)
                summaries.extend(response["jobSummaryList"])
                if not response.get("nextToken"):
                    break
                page["nextToken"] = response["nextToken"]
        summaries.sort(key=lambda s: (s.get("createdAt", 0), s["jobId"]))
        return list(dict.fromkeys(s["jobId"] for s in summaries))

    def _describe(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        jobs: dict[str, dict[str, Any]] = {}
        for start in range(0, len(job_ids), 100):  # DescribeJobs takes at most 100 ids
            for job in self.batch.describe_jobs(jobs=list(job_ids[start : start + 100]))["jobs"]:
                jobs[job["jobId"]] = job
        return [jobs[i] for i in job_ids]


@contextlib.contextmanager
def _patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _runtime_command(wiring: StackWiring) -> LocalCommand:
    """The loader image as a local process: its ENTRYPOINT and CMD, from its runtime code."""
    return LocalCommand(
        entrypoint=wiring.image.entrypoint,
        default_command=wiring.image.cmd,
        cwd=runtime_dir(LOADER_PACKAGE),
        environment=wiring.image.environment,
        timeout_seconds=LOADER_TIMEOUT_SECONDS,
    )


def create_pipeline(aws: LocalAws, wiring: StackWiring) -> LocalPipeline:
    """Deploy the pipeline's template in the emulator and resolve its wiring.

    Everything :func:`deploy` creates (tables, buckets, queues, the job queue, the
    loader's job definition...), with the loader's jobs played as local processes.

    Raises:
        UnresolvedIntrinsicError: the wiring refers to something not created here.
    """
    deployment = deploy(aws, wiring.template, stack_name=wiring.stack_name)
    intrinsics = deployment.intrinsics
    loader = _runtime_command(wiring)
    deployment.add_player(wiring.job_definition_id, loader)
    if wiring.completion_job_definition_id is not None:
        deployment.add_player(wiring.completion_job_definition_id, loader)
    submitter_environment = {
        name: str(intrinsics.resolve(value, f"{wiring.submitter_id}.Environment.{name}"))
        for name, value in wiring.submitter_environment.items()
    }
    loader_environment = {
        str(e["Name"]): str(
            intrinsics.resolve(e["Value"], f"{wiring.job_definition_id}.{e['Name']}")
        )
        for e in wiring.loader_container.get("Environment", [])
    }
    return LocalPipeline(
        aws=aws,
        wiring=wiring,
        deployment=deployment,
        bucket=deployment.buckets[wiring.bucket_id],
        tables=dict(deployment.tables),
        queue_url=deployment.queues[wiring.events_queue_id],
        queue_arn=deployment.queue_arns[wiring.events_queue_id],
        dead_letter_queue_url=deployment.queues[wiring.dead_letter_queue_id],
        job_queue_arn=deployment.job_queues[wiring.job_queue_id],
        job_definition_arn=deployment.job_definitions[wiring.job_definition_id],
        completion_job_definition_arn=deployment.job_definitions.get(
            wiring.completion_job_definition_id or ""
        ),
        submitter_environment=submitter_environment,
        loader_environment=loader_environment,
        loader=loader,
        s3=aws.client("s3"),
        sqs=aws.client("sqs"),
        batch=aws.client("batch"),
        dynamodb=aws.client("dynamodb"),
    )


# --- the whole path ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineOutcome:
    """What one object's trip through the pipeline produced.

    Attributes:
        stored: the uploaded object.
        delivery: the submitter's invocation.
        job: the load job it submitted (describe_jobs, after it ran).
        loader_runs: the loader processes run for the job.
        completion_runs: the completion job's run (none without one, or when the load
            failed and Batch never started it).
        items: every item of the target table afterwards.
        rejects: rows of the rejects file (``line``, ``reason``, ``raw``), [] without one.
        ledger: the object's ledger item.
    """

    stored: StoredObject
    delivery: Delivery
    job: dict[str, Any]
    loader_runs: list[JobResult]
    completion_runs: list[JobResult]
    items: list[dict[str, Any]]
    rejects: list[dict[str, str]]
    ledger: dict[str, Any]

    @property
    def object_id(self) -> str:
        """The object's ledger key."""
        return str(self.ledger[submit_contract.LEDGER_KEY])


def object_id(stored: StoredObject) -> str:
    """The ledger key the submitter gives an object version (``bucket/key#version``)."""
    events = runtime_module(SUBMITTER_PACKAGE, "submit_events")
    return str(events.make_object_id(stored.bucket, stored.key, stored.version_id, stored.etag))


def run_pipeline(pipeline: LocalPipeline, key: str, body: bytes | str) -> PipelineOutcome:
    """Upload one object and carry it through S3, SQS, the submitter, Batch and the loader.

    Raises:
        RuntimeError: the submitter failed a message or did not submit exactly one load job.
    """
    before = {job["jobId"] for job in pipeline.submitted_jobs()}
    stored = pipeline.upload_and_notify(key, body)
    delivery = pipeline.deliver()
    if delivery.failed_message_ids:
        raise RuntimeError(f"the submitter failed messages {delivery.failed_message_ids}")
    new_jobs = [job for job in pipeline.load_jobs() if job["jobId"] not in before]
    if len(new_jobs) != 1:
        raise RuntimeError(f"expected one submitted load job, found {len(new_jobs)}")
    results = pipeline.run_jobs()
    job = pipeline.job(new_jobs[0]["jobId"])
    loader_runs = [r for r in results if r.run.job_id.split(":")[0] == job["jobId"]]
    completion_runs = [
        r for r in results if r.run.environment.get(loader_contract.ENV_LOAD_JOB_ID) == job["jobId"]
    ]
    ledger = pipeline.ledger_item(object_id(stored))
    if ledger is None:
        raise RuntimeError(f"no ledger item for {object_id(stored)}")
    rejects_key = ledger.get(loader_contract.LEDGER_REJECTS_KEY)
    return PipelineOutcome(
        stored=stored,
        delivery=delivery,
        job=job,
        loader_runs=loader_runs,
        completion_runs=completion_runs,
        items=pipeline.scan(),
        rejects=pipeline.read_csv(str(rejects_key)) if rejects_key else [],
        ledger=ledger,
    )
