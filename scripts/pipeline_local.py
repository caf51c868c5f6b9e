"""Run the reference pipeline on this machine: the real stack's wiring, handler and loader, on moto.

Shared by ``scripts/demo.py`` and ``tests/e2e``. Nothing here is a copy of the pipeline:

1. :func:`synth_wiring` synthesizes the real ``CsvPipelineStack`` (standalone, under
   cdk.json's context) and reads from its template the submitter's environment, the
   loader's job definition, the tables, the event queues, the bucket notification and the
   event source mapping.
2. :func:`create_pipeline` creates those resources in the emulator and resolves the
   template's intrinsics (``Ref``, ``Fn::GetAtt``, ...) against them; an intrinsic it
   cannot resolve fails loudly (:class:`UnresolvedIntrinsicError`).
3. :class:`LocalPipeline` then plays each service's part: S3 (upload, and the event
   notification S3 would send for it), SQS and the Lambda event source mapping (receive
   a batch, invoke the real ``handler.handler``, delete what did not fail), and AWS Batch
   (run each submitted job, or each child of an array job, as a local
   ``python -m loader_main`` process with the environment the job definition and the
   submission give it).

Example::

    wiring = synth_wiring()
    with LocalAws() as aws:
        pipeline = create_pipeline(aws, wiring)
        outcome = run_pipeline(pipeline, "incoming/a.csv", sample_csv().body)
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import itertools
import json
import logging
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final
from urllib.parse import quote_plus

from botocore.exceptions import ClientError
from local_aws import REGION, LocalAws

__all__ = [
    "ACCOUNT_ID",
    "LAMBDA_DIR",
    "LOADER_DIR",
    "ROOT",
    "Delivery",
    "Intrinsics",
    "JobRun",
    "LoaderRun",
    "LocalPipeline",
    "PipelineOutcome",
    "RefusingDynamoDB",
    "SampleCsv",
    "StackWiring",
    "StoredObject",
    "ThrottlingDynamoDB",
    "UnresolvedIntrinsicError",
    "cdk_context",
    "create_pipeline",
    "dockerfile_runtime",
    "object_id",
    "run_pipeline",
    "sample_csv",
    "synth_template",
    "synth_wiring",
    "wait_for",
]

ROOT: Final = Path(__file__).resolve().parent.parent
LAMBDA_DIR: Final = ROOT / "lambda" / "submit_job"
LOADER_DIR: Final = ROOT / "jobs" / "csv_loader"
DOCKERFILE: Final = LOADER_DIR / "Dockerfile"
#: The reference app's stack id (app.py); standalone, it builds its own queue.
STACK_ID: Final = "CsvPipeline"
#: moto's default account: the account every emulated ARN is in.
ACCOUNT_ID: Final = "123456789012"
#: The image is never pulled: the job runs as a local process from jobs/csv_loader.
PLACEHOLDER_IMAGE: Final = "csv-loader:local"
#: A loader process that runs longer than this is killed and the run fails.
LOADER_TIMEOUT_SECONDS: Final = 120.0
#: SQS ReceiveMessage returns at most 10 messages per call.
SQS_MAX_RECEIVE: Final = 10

# The runtime code's contracts are plain modules, imported the way that code imports them.
for _path in (LAMBDA_DIR, LOADER_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
import loader_contract  # noqa: E402
import submit_contract  # noqa: E402
from submit_events import make_object_id  # noqa: E402

_REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"
_PSEUDO_PARAMETERS: Final = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": STACK_ID,
    "AWS::NoValue": None,
}
_JOB_STATUSES: Final = (
    "SUBMITTED",
    "PENDING",
    "RUNNABLE",
    "STARTING",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
)
_handler_modules = itertools.count()


# --- 1. the stack's wiring ------------------------------------------------------------------


def cdk_context() -> dict[str, Any]:
    """cdk.json's context: the feature flags and reference-app settings ``cdk synth`` uses."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def synth_template(build: Callable[[Any, str], Any] | None = None) -> dict[str, Any]:
    """The CloudFormation template of the standalone ``CsvPipelineStack``, or of another stack.

    Synthesized under cdk.json's context into a temporary directory (removed after).

    Args:
        build: ``build(app, stack_id)`` adds the stack to synthesize to ``app`` and returns
            it (e.g. a stack with a ``CsvToDynamoDbPipeline`` configured for a test).
            Default: the standalone ``CsvPipelineStack``.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    # jsii runs on the first `node` on PATH: the pinned Node 22 if installed (`make setup`).
    node_bin = ROOT / "node_modules" / ".bin"
    path = os.environ.get("PATH", "")
    if (node_bin / "node").exists() and str(node_bin) not in path.split(os.pathsep):
        os.environ["PATH"] = f"{node_bin}{os.pathsep}{path}"
    from aws_cdk import App

    from stacks.pipeline_stack import CsvPipelineStack

    with tempfile.TemporaryDirectory(prefix="csv-pipeline-synth-") as outdir:
        app = App(context=cdk_context(), outdir=outdir)
        stack = (build or CsvPipelineStack)(app, STACK_ID)
        assembly = app.synth()
        template: dict[str, Any] = assembly.get_stack_by_name(stack.stack_name).template
    return template


@dataclass(frozen=True)
class StackWiring:
    """The parts of the synthesized template the local run needs, by logical id.

    Attributes:
        template: the whole template.
        submitter_id: the submitter Lambda function.
        event_source_mapping: properties of its SQS event source mapping.
        events_queue_id: the queue S3 notifies and the Lambda reads.
        dead_letter_queue_id: the events queue's dead-letter queue.
        bucket_id: the input bucket.
        notification: the bucket's queue notification (events, filter, queue).
        job_queue_id: the queue the submitter submits to.
        job_definition_id: the loader's job definition.
        table_ids: every DynamoDB table of the stack.
        entrypoint: the loader image's ENTRYPOINT (from its Dockerfile).
        image_environment: the loader image's ENV (from its Dockerfile).
    """

    template: dict[str, Any]
    submitter_id: str
    event_source_mapping: dict[str, Any]
    events_queue_id: str
    dead_letter_queue_id: str
    bucket_id: str
    notification: dict[str, Any]
    job_queue_id: str
    job_definition_id: str
    table_ids: tuple[str, ...]
    entrypoint: tuple[str, ...]
    image_environment: dict[str, str]

    @classmethod
    def from_template(cls, template: dict[str, Any]) -> StackWiring:
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
        table_ids = tuple(
            lid for lid, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"
        )
        entrypoint, image_environment = dockerfile_runtime(DOCKERFILE)
        return cls(
            template=template,
            submitter_id=submitter_id,
            event_source_mapping=mapping,
            events_queue_id=events_queue_id,
            dead_letter_queue_id=dead_letter_queue_id,
            bucket_id=bucket_id,
            notification=notification,
            job_queue_id=job_queue_id,
            job_definition_id=job_definition_id,
            table_ids=table_ids,
            entrypoint=entrypoint,
            image_environment=image_environment,
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


def synth_wiring(build: Callable[[Any, str], Any] | None = None) -> StackWiring:
    """Synthesize the standalone stack (or ``build``'s, see :func:`synth_template`) and find
    the pipeline's wiring in its template."""
    return StackWiring.from_template(synth_template(build))


def dockerfile_runtime(path: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    """The ENTRYPOINT (exec form) and ENV of a Dockerfile.

    Raises:
        ValueError: there is no ENTRYPOINT in exec form.
    """
    text = path.read_text().replace("\\\n", " ")
    entrypoint: tuple[str, ...] = ()
    environment: dict[str, str] = {}
    for line in text.splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction.upper() == "ENTRYPOINT":
            entrypoint = tuple(json.loads(rest))
        elif instruction.upper() == "ENV":
            for word in shlex.split(rest):
                name, _, value = word.partition("=")
                environment[name] = value
    if not entrypoint:
        raise ValueError(f"{path} has no ENTRYPOINT in exec form")
    return entrypoint, environment


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


# --- 2. intrinsics -----------------------------------------------------------------------------


class UnresolvedIntrinsicError(ValueError):
    """A template value refers to something the local run did not create."""


class Intrinsics:
    """Resolves CloudFormation intrinsics against the resources created in the emulator.

    Supports ``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub`` (without a variable map)
    and ``Fn::Select``; anything else, or a reference to a resource that was not created,
    raises :class:`UnresolvedIntrinsicError` naming where it was found.
    """

    def __init__(self) -> None:
        self._refs: dict[str, Any] = dict(_PSEUDO_PARAMETERS)
        self._attributes: dict[tuple[str, str], str] = {}

    def add(self, logical_id: str, ref: str, **attributes: str) -> None:
        """Record what ``Ref`` and ``Fn::GetAtt`` of a created resource return."""
        self._refs[logical_id] = ref
        for name, value in attributes.items():
            self._attributes[(logical_id, name)] = value

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with every intrinsic replaced by its local value."""
        if isinstance(value, list):
            return [self.resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self._ref(str(argument), where)
            if name == "Fn::GetAtt":
                logical_id, attribute = (
                    argument.split(".", 1) if isinstance(argument, str) else argument
                )
                return self._get_att(logical_id, attribute, where)
            if name == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self.resolve(p, f"{where}.Fn::Join")) for p in parts)
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(items, f"{where}.Fn::Select")[int(index)]
            if name == "Fn::Sub" and isinstance(argument, str):
                return self._sub(argument, where)
            if name.startswith("Fn::") or name == "Condition":
                raise UnresolvedIntrinsicError(f"{where}: cannot resolve {value!r} locally")
        return {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}

    def _ref(self, logical_id: str, where: str) -> Any:
        if logical_id not in self._refs:
            raise UnresolvedIntrinsicError(
                f"{where}: Ref {logical_id} is not a resource created locally "
                f"(created: {sorted(k for k in self._refs if '::' not in k)})"
            )
        return self._refs[logical_id]

    def _get_att(self, logical_id: str, attribute: str, where: str) -> str:
        if (logical_id, attribute) not in self._attributes:
            raise UnresolvedIntrinsicError(
                f"{where}: Fn::GetAtt {logical_id}.{attribute} is not known locally"
            )
        return self._attributes[(logical_id, attribute)]

    def _sub(self, text: str, where: str) -> str:
        out: list[str] = []
        rest = text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out.append(before)
            if name.startswith("!"):
                out.append("${" + name[1:] + "}")
            elif "." in name and "::" not in name:
                logical_id, attribute = name.split(".", 1)
                out.append(self._get_att(logical_id, attribute, where))
            else:
                out.append(str(self._ref(name, where)))
        return "".join(out) + rest


# --- 3. the pipeline in the emulator ------------------------------------------------------------


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


@dataclass(frozen=True)
class JobRun:
    """One container AWS Batch would start: a plain job or one child of an array job."""

    job_id: str
    job_name: str
    array_index: int | None
    environment: dict[str, str]
    command: tuple[str, ...]


@dataclass(frozen=True)
class LoaderRun:
    """A finished loader process."""

    run: JobRun
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def events(self) -> list[dict[str, Any]]:
        """The loader's JSON log lines."""
        out: list[dict[str, Any]] = []
        for line in self.stdout.splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    out.append(event)
        return out


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
    """The stack's resources in the emulator, and each service's part in moving an object.

    Create with :func:`create_pipeline`. Attributes hold the local names and ARNs, the
    resolved environments and the emulator's clients.
    """

    aws: LocalAws
    wiring: StackWiring
    intrinsics: Intrinsics
    bucket: str
    tables: dict[str, str]
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    job_queue_arn: str
    job_definition_arn: str
    submitter_environment: dict[str, str]
    loader_environment: dict[str, str]
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

        handler.py is imported anew (its init phase builds the clients from the environment)
        with the submitter's resolved environment plus the emulator's, which are restored
        afterwards. Its log lines are captured, not printed.
        """
        environment = {**self.aws.env, **self.submitter_environment}
        service = self.submitter_environment.get("POWERTOOLS_SERVICE_NAME", "csv-submitter")
        records = _Records()
        service_logger = logging.getLogger(service)
        with _patched_environ(environment), contextlib.redirect_stdout(io.StringIO()):
            module = _import_handler()
            service_logger.addHandler(records)
            try:
                context = _LambdaContext(
                    function_name=f"{STACK_ID}-{self.wiring.submitter_id}",
                    invoked_function_arn=(
                        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
                        f"{STACK_ID}-{self.wiring.submitter_id}"
                    ),
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

    def job_runs(self, job: Mapping[str, Any]) -> list[JobRun]:
        """The containers Batch starts for a job: itself, or each child of an array job."""
        size = int(job.get("arrayProperties", {}).get("size") or 0)
        if not size:
            return [self._run(job, None)]
        described = self._describe(self._list_jobs(arrayJobId=job["jobId"]))
        runs = [self._run(child, _array_index(child)) for child in described]
        runs.sort(key=lambda r: r.array_index or 0)
        if [r.array_index for r in runs] != list(range(size)):
            raise ValueError(f"array job {job['jobId']} of size {size} has children {runs}")
        return runs

    def loader_command(self, run: JobRun) -> list[str]:
        """The image's ENTRYPOINT plus the job's command, with this machine's Python."""
        command = [*self.wiring.entrypoint, *run.command]
        if command and Path(command[0]).name.startswith("python"):
            command[0] = sys.executable
        return command

    def loader_process_environment(
        self, run: JobRun, *, temp_dir: str | None = None
    ) -> dict[str, str]:
        """The container's environment, pointed at the emulator.

        The image's ENV, the emulator's endpoint and credentials (in place of the job
        role's), then the job's environment (job definition, overrides, Batch's own).

        Args:
            run: the job run.
            temp_dir: the process's TMPDIR. Default: None (the system's).
        """
        base = {name: os.environ[name] for name in ("PATH", "LANG", "TZ") if name in os.environ}
        scratch = {"TMPDIR": temp_dir} if temp_dir else {}
        return {
            **base,
            "HOME": tempfile.gettempdir(),
            **scratch,
            **self.wiring.image_environment,
            **self.aws.env,
            **run.environment,
        }

    def start_loader(self, run: JobRun, *, temp_dir: str | None = None) -> subprocess.Popen[str]:
        """Start the loader for one job run as a local process (cwd jobs/csv_loader).

        Args:
            run: the job run.
            temp_dir: the process's TMPDIR (what a killed process leaves is there).
                Default: None (the system's).
        """
        return subprocess.Popen(
            self.loader_command(run),
            cwd=LOADER_DIR,
            env=self.loader_process_environment(run, temp_dir=temp_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_loader(
        self, run: JobRun, *, timeout: float = LOADER_TIMEOUT_SECONDS, temp_dir: str | None = None
    ) -> LoaderRun:
        """Run the loader for one job run to the end.

        Args:
            run: the job run.
            timeout: seconds after which the process is killed. Default: 120.
            temp_dir: the process's TMPDIR. Default: None (the system's).
        """
        start = time.monotonic()
        process = self.start_loader(run, temp_dir=temp_dir)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += f"\nkilled after {timeout:g} s"
        return LoaderRun(
            run=run,
            exit_code=process.returncode,
            stdout=stdout,
            stderr=stderr,
            seconds=time.monotonic() - start,
        )

    def run_loaders(self, runs: Sequence[JobRun]) -> list[LoaderRun]:
        """Run several job runs at once, as Batch runs the children of an array job."""
        results: list[LoaderRun | None] = [None] * len(runs)

        def work(index: int) -> None:
            results[index] = self.run_loader(runs[index])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(runs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [r for r in results if r is not None]

    def load_in_process(self, run: JobRun, *, dynamodb: Any = None) -> Any:
        """Run the loader's ``Loader`` in this process for one job run (to inject faults).

        Settings and source come from the run's environment exactly as ``loader_main``
        reads them; ``dynamodb`` replaces the emulator's client (e.g. a
        :class:`ThrottlingDynamoDB`). Backoff delays are shortened to milliseconds.

        Returns:
            The loader's ``LoadResult``.
        """
        from loader_main import Loader
        from loader_settings import LoaderSettings, source_from_env

        settings = LoaderSettings.from_env(run.environment)
        loader = Loader(
            s3=self.s3,
            dynamodb=dynamodb or self.dynamodb,
            settings=settings,
            retry_base_delay_seconds=0.001,
            retry_max_delay_seconds=0.01,
        )
        return loader.load(source_from_env(run.environment, self.s3))

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

    def _run(self, job: Mapping[str, Any], index: int | None) -> JobRun:
        definition = self.batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
            "jobDefinitions"
        ][0]
        container = definition.get("containerProperties", {})
        # The job definition's variables, then the submission's (Batch shows them merged in
        # the job's container; a container override wins over the definition).
        environment = _pairs(container.get("environment", []))
        environment.update(_pairs(job.get("container", {}).get("environment", [])))
        environment["AWS_BATCH_JOB_ID"] = str(job["jobId"])
        environment.setdefault("AWS_BATCH_JOB_ATTEMPT", "1")
        environment["AWS_BATCH_JQ_NAME"] = self.job_queue_arn.rsplit("/", 1)[-1]
        if index is not None:
            environment[loader_contract.ENV_ARRAY_INDEX] = str(index)
        command = job.get("container", {}).get("command") or container.get("command") or []
        return JobRun(
            job_id=str(job["jobId"]),
            job_name=str(job["jobName"]),
            array_index=index,
            environment=environment,
            command=tuple(command),
        )


def _array_index(child: Mapping[str, Any]) -> int:
    """A child's index: ``arrayProperties.index``, or the ``:<index>`` suffix of its id."""
    index = child.get("arrayProperties", {}) or {}
    if "index" in index:
        return int(index["index"])
    return int(str(child["jobId"]).rsplit(":", 1)[1])


def _pairs(entries: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {str(e["name"]): str(e["value"]) for e in entries}


@contextlib.contextmanager
def _patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _import_handler() -> ModuleType:
    """handler.py as a new module (a new execution environment), its directory on sys.path."""
    name = f"_csv_pipeline_handler_{next(_handler_modules)}"
    spec = importlib.util.spec_from_file_location(name, LAMBDA_DIR / "handler.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {LAMBDA_DIR / 'handler.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase keys as the Batch API's camelCase (values untouched)."""
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    return value


def _name(logical_id: str) -> str:
    """A physical name like CloudFormation's: ``<stack>-<logical id>``."""
    return f"{STACK_ID}-{logical_id}"


def create_pipeline(aws: LocalAws, wiring: StackWiring) -> LocalPipeline:
    """Create the stack's pipeline resources in the emulator and resolve its wiring.

    Tables (key schemas from the template), the input bucket (versioning as configured),
    the events queue and its DLQ (redrive policy and visibility timeout as configured), an
    unmanaged compute environment behind the template's job queue, and the loader's job
    definition registered with the template's container properties (environment,
    command, resources, retry strategy, timeout) resolved; only the image is a placeholder.

    Raises:
        UnresolvedIntrinsicError: the wiring refers to something not created here.
    """
    intrinsics = Intrinsics()
    s3 = aws.client("s3")
    sqs = aws.client("sqs")
    batch = aws.client("batch")
    dynamodb = aws.client("dynamodb")

    tables: dict[str, str] = {}
    for table_id in wiring.table_ids:
        props = wiring.properties(table_id)
        name = _name(table_id)
        created = dynamodb.create_table(
            TableName=name,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]
        tables[table_id] = name
        intrinsics.add(table_id, name, Arn=created["TableArn"])

    bucket = _name(wiring.bucket_id).lower()
    s3.create_bucket(Bucket=bucket)
    versioning = wiring.properties(wiring.bucket_id).get("VersioningConfiguration")
    if versioning:
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": versioning["Status"]}
        )
    intrinsics.add(
        wiring.bucket_id,
        bucket,
        Arn=f"arn:aws:s3:::{bucket}",
        DomainName=f"{bucket}.s3.amazonaws.com",
    )

    queues: dict[str, tuple[str, str]] = {}
    for queue_id in (wiring.dead_letter_queue_id, wiring.events_queue_id):
        props = wiring.properties(queue_id)
        attributes: dict[str, str] = {
            name: str(intrinsics.resolve(props[name], f"{queue_id}.{name}"))
            for name in ("VisibilityTimeout", "MessageRetentionPeriod")
            if name in props
        }
        if "RedrivePolicy" in props:
            redrive = intrinsics.resolve(props["RedrivePolicy"], f"{queue_id}.RedrivePolicy")
            attributes["RedrivePolicy"] = json.dumps(redrive)
        url = sqs.create_queue(QueueName=_name(queue_id), Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queues[queue_id] = (url, arn)
        intrinsics.add(queue_id, url, Arn=arn, QueueName=_name(queue_id), QueueUrl=url)

    role = aws.client("iam").create_role(
        RoleName=f"{STACK_ID}-BatchService", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    environment_arn = batch.create_compute_environment(
        computeEnvironmentName=f"{STACK_ID}-Local",
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=role,
    )["computeEnvironmentArn"]
    queue_props = wiring.properties(wiring.job_queue_id)
    job_queue_arn = batch.create_job_queue(
        jobQueueName=_name(wiring.job_queue_id),
        state=queue_props.get("State", "ENABLED"),
        priority=int(queue_props.get("Priority", 1)),
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment_arn}],
    )["jobQueueArn"]
    intrinsics.add(
        wiring.job_queue_id,
        job_queue_arn,
        JobQueueArn=job_queue_arn,
        JobQueueName=_name(wiring.job_queue_id),
    )

    definition = wiring.properties(wiring.job_definition_id)
    container = {
        name: intrinsics.resolve(value, f"{wiring.job_definition_id}.ContainerProperties.{name}")
        for name, value in wiring.loader_container.items()
        if name in ("Environment", "Command", "ResourceRequirements", "ReadonlyRootFilesystem")
    }
    extra: dict[str, Any] = {}
    for name in ("RetryStrategy", "Timeout", "PlatformCapabilities"):
        if name in definition:
            extra[name[:1].lower() + name[1:]] = _camel(
                intrinsics.resolve(definition[name], f"{wiring.job_definition_id}.{name}")
            )
    job_definition_arn = batch.register_job_definition(
        jobDefinitionName=_name(wiring.job_definition_id),
        type=definition.get("Type", "container"),
        containerProperties={"image": PLACEHOLDER_IMAGE, **_camel(container)},
        **extra,
    )["jobDefinitionArn"]
    intrinsics.add(wiring.job_definition_id, job_definition_arn)

    submitter_environment = {
        name: str(intrinsics.resolve(value, f"{wiring.submitter_id}.Environment.{name}"))
        for name, value in wiring.submitter_environment.items()
    }
    loader_environment = _pairs(_camel(container.get("Environment", [])))
    return LocalPipeline(
        aws=aws,
        wiring=wiring,
        intrinsics=intrinsics,
        bucket=bucket,
        tables=tables,
        queue_url=queues[wiring.events_queue_id][0],
        queue_arn=queues[wiring.events_queue_id][1],
        dead_letter_queue_url=queues[wiring.dead_letter_queue_id][0],
        job_queue_arn=job_queue_arn,
        job_definition_arn=job_definition_arn,
        submitter_environment=submitter_environment,
        loader_environment=loader_environment,
        s3=s3,
        sqs=sqs,
        batch=batch,
        dynamodb=dynamodb,
    )


# --- the whole path ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineOutcome:
    """What one object's trip through the pipeline produced.

    Attributes:
        stored: the uploaded object.
        delivery: the submitter's invocation.
        job: the job it submitted (describe_jobs).
        loader_runs: the loader processes run for the job.
        items: every item of the target table afterwards.
        rejects: rows of the rejects file (``line``, ``reason``, ``raw``), [] without one.
        ledger: the object's ledger item.
    """

    stored: StoredObject
    delivery: Delivery
    job: dict[str, Any]
    loader_runs: list[LoaderRun]
    items: list[dict[str, Any]]
    rejects: list[dict[str, str]]
    ledger: dict[str, Any]

    @property
    def object_id(self) -> str:
        """The object's ledger key."""
        return str(self.ledger[submit_contract.LEDGER_KEY])


def object_id(stored: StoredObject) -> str:
    """The ledger key the submitter gives an object version (``bucket/key#version``)."""
    return make_object_id(stored.bucket, stored.key, stored.version_id, stored.etag)


def run_pipeline(pipeline: LocalPipeline, key: str, body: bytes | str) -> PipelineOutcome:
    """Upload one object and carry it through S3, SQS, the submitter, Batch and the loader.

    Raises:
        RuntimeError: the submitter failed a message or did not submit exactly one job.
    """
    before = {job["jobId"] for job in pipeline.submitted_jobs()}
    stored = pipeline.upload_and_notify(key, body)
    delivery = pipeline.deliver()
    if delivery.failed_message_ids:
        raise RuntimeError(f"the submitter failed messages {delivery.failed_message_ids}")
    new_jobs = [job for job in pipeline.submitted_jobs() if job["jobId"] not in before]
    if len(new_jobs) != 1:
        raise RuntimeError(f"expected one submitted job, found {len(new_jobs)}")
    job = new_jobs[0]
    loader_runs = pipeline.run_loaders(pipeline.job_runs(job))
    ledger = pipeline.ledger_item(object_id(stored))
    if ledger is None:
        raise RuntimeError(f"no ledger item for {object_id(stored)}")
    rejects_key = ledger.get("rejects_key")
    return PipelineOutcome(
        stored=stored,
        delivery=delivery,
        job=job,
        loader_runs=loader_runs,
        items=pipeline.scan(),
        rejects=pipeline.read_csv(str(rejects_key)) if rejects_key else [],
        ledger=ledger,
    )


# --- sample data and faults ----------------------------------------------------------------------


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


def wait_for(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
