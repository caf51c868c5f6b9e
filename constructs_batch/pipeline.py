"""CsvToDynamoDbPipeline: S3 -> SQS -> Lambda -> AWS Batch -> DynamoDB, losing no event and no row.

A CSV object dropped under ``incoming/`` sends an ObjectCreated event to an SQS
queue (with a dead-letter queue). The submitter Lambda reads the queue, claims the
object in a run ledger (so a duplicate delivery submits nothing) and submits the
loader job (one array job for a burst of objects), then a completion job that
depends on it. The loader streams the object into the target table, writes bad rows
to ``rejected/`` and records the outcome in the ledger. The completion job records each
object's final outcome and publishes a ``CsvLoadCompleted`` or ``CsvLoadFailed`` event
on the default event bus. Failed jobs, failed loads, a non-empty DLQ and Lambda errors
notify an encrypted SNS topic. The loader and the submitter publish CloudWatch metrics
(embedded metric format log lines) that a dashboard graphs with the DLQ and the failures.
"""

from __future__ import annotations

import importlib.resources
import json
import math
from collections.abc import Sequence

import jsii
from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    Duration,
    RemovalPolicy,
    Size,
    SizeRoundingBehavior,
    Stack,
    Validations,
)
from aws_cdk import aws_batch as batch
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from constructs_batch._arguments import checked_arguments
from constructs_batch._kms import allow_log_encryption
from constructs_batch._nag import nag_value
from constructs_batch._pipeline_dashboard import METRICS_PERIOD, pipeline_dashboard
from constructs_batch.compute import FargateCompute
from constructs_batch.job import ContainerJob
from constructs_batch.limits import (
    DEFAULT_TABLE_WRITE_QUOTA,
    MAX_ARRAY_SIZE,
    NEW_TABLE_WARM_WRITE_UNITS,
    check_range,
    is_token,
    raise_if_errors,
)
from constructs_batch.network import BatchNetwork
from constructs_batch.queue import BatchQueue, IBatchQueue, as_batch_queue
from constructs_batch.runtime.csv_loader import loader_contract as loader
from constructs_batch.runtime.submit_job import submit_contract as submitter

__all__ = ["CsvToDynamoDbPipeline"]

#: Where users drop CSV objects, and the object suffix that triggers a load (in any letter
#: case: the bucket notifies every key under the prefix, and the submitter loads the keys
#: ending in .csv, .CSV, .Csv... and warns about the others; S3's suffix filter is
#: case-sensitive, so it would silently skip an upload named a.CSV).
INPUT_PREFIX = "incoming/"
INPUT_SUFFIX = ".csv"
#: Where the loader writes rejected rows, and the submitter writes array-job manifests.
REJECTED_PREFIX = "rejected/"
MANIFEST_PREFIX = "manifests/"
#: Cells that are missing values: only the empty string, which is always one. Not a longer
#: list such as pandas' (NA, N/A, NULL, NaN, ...), nor a case-blind match: NA is also
#: Namibia's country code, Na sodium, and a real value must never vanish as a marker.
DEFAULT_NULL_VALUES: tuple[str, ...] = ("",)
#: Objects above 1 GiB are split. A 1-vCPU loader writes about 15,000 rows/s, so with
#: rows of about 100 bytes 1 GiB takes a quarter of an hour on its own: below that the
#: plan's extra read of the object and two more jobs do not pay, above it a file would
#: approach the loader's 2-hour timeout alone by about 10 GiB.
DEFAULT_SPLIT_THRESHOLD = Size.gibibytes(1)
#: The smallest split threshold: a part of a few bytes would hold no record.
MIN_SPLIT_THRESHOLD_BYTES = 1024
#: Parts of one split object at most: 64 loaders of a 64 GiB object at the default threshold.
DEFAULT_MAX_PARTS = submitter.DEFAULT_MAX_PARTS
#: Plans of split objects, written by the plan job.
PARTS_PREFIX = f"{MANIFEST_PREFIX}{submitter.PARTS_MANIFEST_FOLDER}"
#: Default share of a file's rows that may be rejected before the load fails.
DEFAULT_REJECT_THRESHOLD = 0.05
#: Loader resources: one vCPU and 2 GiB fit Fargate and any EC2 environment.
DEFAULT_LOADER_VCPUS = 1.0
DEFAULT_LOADER_MEMORY = Size.gibibytes(2)
#: A load that runs longer than this is stopped (and retried by the retry strategy).
DEFAULT_LOADER_TIMEOUT = Duration.hours(2)
#: The completion job reads the ledger and publishes events: the smallest Fargate task
#: (EC2 reserves whole vCPUs), and half an hour for the 10,000 objects of an array job.
COMPLETION_FARGATE_VCPUS = 0.25
COMPLETION_EC2_VCPUS = 1.0
COMPLETION_MEMORY = Size.mebibytes(512)
COMPLETION_TIMEOUT = Duration.minutes(30)
#: Where the completion events go: the account's default event bus.
EVENT_BUS_NAME = "default"
#: Submitter Lambda: timeout, reserved concurrency (a cap on SubmitJob pressure),
#: SQS batch size and batching window (bursts become one array job per batch, and one
#: completion job: a burst of 10,000 objects makes 20 SubmitJob calls). Lambda invokes
#: with fewer messages when 1,000 would pass its 6 MB event payload (S3 events of long
#: keys); 1,000 claims at 16 in flight take well under the 60 s timeout.
SUBMITTER_TIMEOUT = Duration.seconds(60)
SUBMITTER_MEMORY_MIB = 256
DEFAULT_SUBMITTER_CONCURRENCY = 5
SQS_BATCH_SIZE = 1000
SQS_BATCHING_WINDOW = Duration.seconds(5)
#: SQS visibility timeout: at least six times the Lambda timeout (Lambda guidance).
QUEUE_VISIBILITY_TIMEOUT = Duration.seconds(SUBMITTER_TIMEOUT.to_seconds() * 6)
#: Deliveries before a message moves to the DLQ; DLQ retention is the SQS maximum.
MAX_RECEIVE_COUNT = 5
DLQ_RETENTION = Duration.days(14)
#: A claimed object whose submission never completed can be claimed again after this.
LEASE = Duration.minutes(15)
#: Powertools for AWS Lambda (Python) v3 public layer (account 017000801446).
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
DEFAULT_POWERTOOLS_LAYER_VERSION = 27
SUBMITTER_RUNTIME = lambda_.Runtime.PYTHON_3_14
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
#: The DLQ must hold at least this many messages for its alarm to fire.
DLQ_ALARM_THRESHOLD = 1
#: The CloudWatch namespace of the loader's and the submitter's metrics; each pipeline's
#: carry the dimension ``Pipeline`` = its ledger table name.
METRICS_NAMESPACE = "constructs_batch/CsvPipeline"


def _acknowledge_notifications_handler(stack: Stack) -> None:
    """The Lambda CDK adds to configure bucket notifications uses the basic execution policy."""
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            Validations.of(child).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "service-role/AWSLambdaBasicExecutionRole]",
                    reason="aws-cdk-lib's own deploy-time handler that sets the bucket "
                    "notification; it only writes its logs and runs during deployments",
                )
            )


#: What a principal needs of a customer-managed key to read and write a DynamoDB table
#: encrypted with it (DynamoDB developer guide, "Authorizing use of your AWS KMS key").
_TABLE_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """An SNS topic as a rule target, granting nothing by itself.

    aws-cdk-lib's ``SnsTopic`` target adds an unconditioned key policy statement for
    EventBridge; the pipeline grants EventBridge itself, only for its own rule.
    """

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self._topic.topic_arn)


def _allow_publishers(key: kms.Key) -> None:
    """Let CloudWatch alarms and EventBridge rules of this account publish with ``key``.

    Both services publish to the encrypted topic as their service principals, so the key
    policy allows them (kms:Decrypt, kms:GenerateDataKey*) and no one else:

    - CloudWatch only on behalf of this account's alarms in this Region
      (``aws:SourceAccount``, ``aws:SourceArn``: the confused-deputy guard of the IAM
      user guide);
    - EventBridge only for SNS topics of this account and Region
      (``kms:EncryptionContext:aws:sns:topicArn``, the context SNS encrypts with).
      KMS receives no ``aws:SourceArn`` or ``aws:SourceAccount`` when EventBridge
      delivers to an encrypted topic, so those conditions would drop every failure
      notification; the rule-level guard is on the topic policy, which admits
      EventBridge for the pipeline's own rules only (``aws:SourceArn``).

    The topic and the alarms cannot be named here: they refer to the key, and the policy
    referring to them would be a dependency cycle.
    """
    stack = Stack.of(key)
    conditions = {
        "cloudwatch.amazonaws.com": {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name="*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            },
        },
        "events.amazonaws.com": {
            "ArnLike": {
                "kms:EncryptionContext:aws:sns:topicArn": stack.format_arn(
                    service="sns", resource="*", arn_format=ArnFormat.NO_RESOURCE_NAME
                )
            }
        },
    }
    for service, condition in conditions.items():
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(service)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=condition,
            )
        )


def _runtime_dir(package: str) -> str:
    """Directory of a runtime package shipped with the library (checkout or wheel)."""
    return str(importlib.resources.files(package))


#: Files never shipped in an asset (they would also churn its hash).
_ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache"]


def _null_value_errors(null_values: Sequence[str]) -> list[str]:
    """Why ``null_values`` cannot reach the loader, or could never match a cell of a file.

    (Its type, a sequence of strings, is checked with every other argument's.)
    """
    tokens = [v for v in null_values if is_token(v)]
    if tokens:
        return [f"null_values must be known at synth (no tokens), got {tokens}"]
    # A lone surrogate is not Unicode text: no UTF-8 file holds it, and the template (UTF-8
    # JSON) cannot carry it to the job definition.
    surrogates = [v for v in null_values if any(0xD800 <= ord(ch) <= 0xDFFF for ch in v)]
    if surrogates:
        return [
            f"null_values must be Unicode text (no lone surrogate code points), got {surrogates!r}"
        ]
    return []


def _loader_key_type(column: str, numeric_columns: Sequence[str]) -> dynamodb.AttributeType:
    """The type the loader gives a key column's values."""
    if column in numeric_columns:
        return dynamodb.AttributeType.NUMBER
    return dynamodb.AttributeType.STRING


#: Key attribute types in CloudFormation's notation (``AttributeType`` of a definition).
_CFN_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _key_schema(
    table: dynamodb.ITable,
) -> list[tuple[str, dynamodb.AttributeType | None]] | None:
    """Key attributes (partition, then sort) of a table the app defines; None if imported."""
    if isinstance(table, dynamodb.Table):
        schema = table.schema_v2()
        return [(a.name, a.type) for a in [*schema.partition_keys, *schema.sort_keys]]
    if isinstance(table, dynamodb.TableV2):
        # TableV2 has no schema accessor (aws-cdk-lib 2.275): read its CfnGlobalTable.
        resource = table.node.default_child
        if not isinstance(resource, dynamodb.CfnGlobalTable):
            return None
        stack = Stack.of(table)
        key_schema = stack.resolve(resource.key_schema)
        types = {
            d["attributeName"]: _CFN_ATTRIBUTE_TYPES.get(d["attributeType"])
            for d in stack.resolve(resource.attribute_definitions)
        }
        ordered = sorted(key_schema, key=lambda k: k["keyType"] != "HASH")
        return [(k["attributeName"], types[k["attributeName"]]) for k in ordered]
    return None


def _table_key_errors(
    table: dynamodb.ITable, key_columns: Sequence[str], numeric_columns: Sequence[str]
) -> list[str]:
    """Why the loader's items could not be written to ``table`` (a table the app defines)."""
    schema = _key_schema(table)
    if schema is None or any(is_token(name) for name, _ in schema):
        return []
    names = [name for name, _ in schema]
    if names != list(key_columns):
        return [
            f"key_columns {list(key_columns)} must be the key attributes of table "
            f"{table.node.path} (partition, then sort), which are {names}"
        ]
    errors: list[str] = []
    for name, table_type in schema:
        loader_type = _loader_key_type(name, numeric_columns)
        if table_type is None or table_type == loader_type:
            continue
        if table_type == dynamodb.AttributeType.BINARY:
            errors.append(
                f"key column {name} is BINARY in table {table.node.path}; "
                "the loader writes STRING or NUMBER keys only"
            )
            continue
        fix = "add it to" if table_type == dynamodb.AttributeType.NUMBER else "remove it from"
        errors.append(
            f"key column {name} is {table_type.value} in table {table.node.path} but "
            f"{loader_type.value} for the loader: {fix} numeric_columns"
        )
    return errors


def _write_rate_errors(
    table: dynamodb.ITable | None, max_write_rate: float | None, expected_write_rate: int | None
) -> list[str]:
    """Why the pacing ceiling or the warm throughput cannot be what was asked."""
    errors: list[str] = []
    if (
        max_write_rate is not None
        and not is_token(max_write_rate)
        and not (math.isfinite(max_write_rate) and max_write_rate > 0)
    ):
        errors.append(
            f"max_write_rate must be a positive number of items per second, got {max_write_rate}"
        )
    if expected_write_rate is None or is_token(expected_write_rate):
        return errors
    if table is not None:
        errors.append(
            "expected_write_rate sets the warm throughput of the table the pipeline creates; "
            "with table= set warm_throughput on that table instead"
        )
    elif expected_write_rate <= NEW_TABLE_WARM_WRITE_UNITS:
        errors.append(
            f"expected_write_rate must be above {NEW_TABLE_WARM_WRITE_UNITS} write units per "
            f"second, what a new on-demand table takes without pre-warming (leave it unset), "
            f"got {expected_write_rate}"
        )
    elif expected_write_rate > DEFAULT_TABLE_WRITE_QUOTA:
        errors.append(
            f"expected_write_rate must be at most {DEFAULT_TABLE_WRITE_QUOTA} write units per "
            "second, DynamoDB's default per-table quota (with a raised quota, pass a table "
            f"pre-warmed beyond it as table=), got {expected_write_rate}"
        )
    return errors


class CsvToDynamoDbPipeline(Construct):
    """Load every CSV object dropped under ``incoming/`` into a DynamoDB table.

    Args:
        queue: the Batch queue the loader runs on: a ``BatchQueue``, an imported one
            (``BatchQueue.from_job_queue_arn`` / ``from_lookup``) or an aws-cdk-lib
            ``batch.JobQueue`` whose compute environments tell its capacity.
            Default: a small Fargate Spot queue on a new ``PUBLIC`` network (nothing
            billed while idle).
        bucket: an existing input bucket. Default: a new encrypted, versioned
            bucket with server access logs, SSL only, no public access.
        table: an existing target table whose key attributes are ``key_columns``. A table
            the app defines (``dynamodb.Table`` or ``TableV2``) is checked at synth: its key
            attributes must be ``key_columns``, NUMBER for those in ``numeric_columns`` and
            STRING for the others; an imported table is checked by the loader before it
            writes (DescribeTable). Default: a new on-demand table with PITR, keyed by
            ``key_columns`` (NUMBER for those in ``numeric_columns``, else STRING).
        key_columns: CSV columns forming the item key (partition, optional sort).
            Default: ``("id",)``.
        numeric_columns: columns loaded as numbers (a key column among them is a NUMBER
            key). Default: none (all strings).
        boolean_columns: columns loaded as DynamoDB booleans: ``true`` or ``false`` in any
            letter case; any other value rejects the row (``bad_boolean``). Never a key
            column nor a numeric column. Default: none.
        null_values: cell values that mean "no value" in every column: the attribute is
            omitted, and a key column's row is rejected (``empty_key``). Matched exactly
            (letter case and spaces count); the empty string is always one. Default:
            ``("",)``; an R export needs ``("NA",)``, a SQL dump often ``("NULL",)``.
        reject_threshold: share of rows (0-1) that may be rejected before a load
            fails; the good rows are written all the same (a load that fails on it is
            FAILED with them in the table, see the loader README). Default: 0.05.
        max_write_rate: items per second one object's load may write into the table, all
            the children loading it together (each paces itself to its share; adaptive
            pacing on DynamoDB's throttling works with or without it). An item of up to
            1 KB takes one write unit, a larger one one per KB. Default: None (paced by
            throttling only).
        expected_write_rate: write units per second the table the construct creates must
            take from its first write: its warm throughput (DynamoDB pre-warming, billed
            by DynamoDB). Between 4,001 (a new on-demand table already takes 4,000) and
            40,000 (the default per-table quota). Not with ``table``: set a table's own
            warm throughput there. Default: None (no pre-warming: the table starts at
            4,000 and doubles as load persists).
        loader_image: the loader's image, which also runs the completion job (an image
            built from ``jobs/csv_loader``: ENTRYPOINT ``python -m``, the job definitions
            name the module). Default: built from ``jobs/csv_loader``.
        loader_vcpus: vCPUs of the loader. Default: 1.
        loader_memory: memory of the loader. Default: 2 GiB.
        submitter_concurrency: reserved concurrency of the submitter. Default: 5.
        powertools_layer_version: version of the public Powertools layer.
            Default: 27.
        removal_policy: what happens to the bucket, tables and logs when the
            stack is deleted. Default: ``RETAIN`` (data outlives the stack).
        encryption_key: a customer-managed KMS key for what the pipeline stores: the
            table and ledger it creates and the submitter's and loader's log groups
            (the loader and submitter may use it; a key defined in the app gets the
            statement CloudWatch Logs needs). Default: None (AWS-owned and
            AWS-managed encryption: no key billed while idle).
        split_threshold: objects larger than this are planned into byte-range parts
            (one per ``split_threshold`` begun, at most ``max_parts``) loaded by the
            children of one array job, after a plan job that finds each part's first
            record boundary; None never splits. Default: 1 GiB (see
            ``DEFAULT_SPLIT_THRESHOLD``).
        max_parts: the most parts one object is split into, 2 to 10,000. The table's
            write capacity, not this, bounds how fast the parts load together.
            Default: 64.
        dashboard: create a CloudWatch dashboard of the pipeline: rows loaded, rejected
            and read, throttled writes, loads finished, the submitter's submissions, the
            DLQ depth, failed jobs and loads, the alarms. CloudWatch bills $3 per month
            for each dashboard beyond the account's first three, used or not, so it is
            opt-in: the defaults cost nothing while idle (the metrics are published
            either way; see ``metric``). Default: False.

    Attributes:
        bucket, table, ledger, queue, dead_letter_queue, submitter, loader, loader_role,
        completion, completion_role, batch_queue, alarm_topic, failed_job_rule,
        failed_load_rule, dashboard (None with ``dashboard=False``).
    """

    @checked_arguments
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queue: IBatchQueue | batch.IJobQueue | None = None,
        bucket: s3.IBucket | None = None,
        table: dynamodb.ITable | None = None,
        key_columns: Sequence[str] = ("id",),
        numeric_columns: Sequence[str] = (),
        boolean_columns: Sequence[str] = (),
        null_values: Sequence[str] = DEFAULT_NULL_VALUES,
        reject_threshold: float = DEFAULT_REJECT_THRESHOLD,
        max_write_rate: float | None = None,
        expected_write_rate: int | None = None,
        loader_image: ecs.ContainerImage | None = None,
        loader_vcpus: float = DEFAULT_LOADER_VCPUS,
        loader_memory: Size = DEFAULT_LOADER_MEMORY,
        submitter_concurrency: int = DEFAULT_SUBMITTER_CONCURRENCY,
        powertools_layer_version: int = DEFAULT_POWERTOOLS_LAYER_VERSION,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        encryption_key: kms.IKey | None = None,
        split_threshold: Size | None = DEFAULT_SPLIT_THRESHOLD,
        max_parts: int = DEFAULT_MAX_PARTS,
        dashboard: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self._validate(
            table=table,
            key_columns=key_columns,
            numeric_columns=numeric_columns,
            boolean_columns=boolean_columns,
            null_values=null_values,
            reject_threshold=reject_threshold,
            max_write_rate=max_write_rate,
            expected_write_rate=expected_write_rate,
            submitter_concurrency=submitter_concurrency,
            split_threshold=split_threshold,
            max_parts=max_parts,
        )
        self.removal_policy = removal_policy
        self.encryption_key = encryption_key

        # --- build -----------------------------------------------------------
        self.batch_queue = as_batch_queue(queue) if queue is not None else self._default_queue()
        self.bucket = bucket or self._input_bucket()
        self.table = table or self._table(
            "Table", key_columns, numeric_columns, warm_write_units=expected_write_rate
        )
        self.ledger = self._table("Ledger", [submitter.LEDGER_KEY])
        self.alarm_topic = self._alarm_topic()
        self.dead_letter_queue, self.queue = self._event_queues()
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queue),
            s3.NotificationKeyFilter(prefix=INPUT_PREFIX),
        )
        _acknowledge_notifications_handler(Stack.of(self))
        self.loader_role = iam.Role(
            self,
            "LoaderRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Loader job: reads incoming/ and manifests/, writes rejected/ and both tables",
        )
        image = loader_image or ecs.ContainerImage.from_asset(
            _runtime_dir("constructs_batch.runtime.csv_loader"), exclude=_ASSET_EXCLUDES
        )
        self.loader = ContainerJob(
            self,
            "Loader",
            image=image,
            command=[loader.LOADER_MODULE],
            queue=self.batch_queue,
            vcpus=loader_vcpus,
            memory=loader_memory,
            job_role=self.loader_role,
            log_encryption_key=encryption_key,
            environment={
                # boto3 in the container needs a Region: EC2 jobs cannot reach IMDS
                # (hop limit 1), and older ECS agents do not inject it.
                "AWS_DEFAULT_REGION": Stack.of(self).region,
                loader.ENV_TARGET_TABLE_NAME: self.table.table_name,
                loader.ENV_LEDGER_TABLE_NAME: self.ledger.table_name,
                loader.ENV_KEY_COLUMNS: ",".join(key_columns),
                loader.ENV_NUMERIC_COLUMNS: ",".join(numeric_columns),
                loader.ENV_BOOLEAN_COLUMNS: ",".join(boolean_columns),
                # JSON carries any text (escaped to ASCII); the empty string always leads.
                loader.ENV_NULL_VALUES: json.dumps(list(dict.fromkeys(["", *null_values]))),
                loader.ENV_REJECTED_PREFIX: REJECTED_PREFIX,
                loader.ENV_REJECT_THRESHOLD: str(reject_threshold),
                loader.ENV_METRICS_NAMESPACE: METRICS_NAMESPACE,
                loader.ENV_METRICS_PIPELINE: self.ledger.table_name,
                **(
                    {loader.ENV_MAX_WRITE_RATE: f"{max_write_rate:g}"}
                    if max_write_rate is not None
                    else {}
                ),
            },
            timeout=DEFAULT_LOADER_TIMEOUT,
        )
        self.completion_role = iam.Role(
            self,
            "CompletionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Completion job: reads the ledger and manifests/, records outcomes, "
            "publishes the load events",
        )
        self.completion = ContainerJob(
            self,
            "Completion",
            image=image,
            command=[loader.COMPLETION_MODULE],
            queue=self.batch_queue,
            vcpus=COMPLETION_FARGATE_VCPUS if self.batch_queue.fargate else COMPLETION_EC2_VCPUS,
            memory=COMPLETION_MEMORY,
            job_role=self.completion_role,
            log_encryption_key=encryption_key,
            environment={
                "AWS_DEFAULT_REGION": Stack.of(self).region,
                loader.ENV_LEDGER_TABLE_NAME: self.ledger.table_name,
                loader.ENV_TARGET_TABLE_NAME: self.table.table_name,
                # A split object's parts are judged together here.
                loader.ENV_REJECT_THRESHOLD: str(reject_threshold),
            },
            timeout=COMPLETION_TIMEOUT,
        )
        self.split_threshold = split_threshold
        self.max_parts = max_parts
        self.submitter = self._submitter(powertools_layer_version, submitter_concurrency)
        self.failed_job_rule = self._notify_rule(
            "FailedJobs",
            "Jobs (loads and their completions) that failed on the pipeline's queue",
            events.EventPattern(
                source=["aws.batch"],
                detail_type=["Batch Job State Change"],
                detail={
                    "status": ["FAILED"],
                    "jobQueue": [self.batch_queue.job_queue.job_queue_arn],
                },
            ),
        )
        self.failed_load_rule = self._notify_rule(
            "FailedLoads",
            "Objects the pipeline could not load (its CsvLoadFailed events)",
            events.EventPattern(
                source=[loader.EVENT_SOURCE],
                detail_type=[loader.EVENT_LOAD_FAILED],
                detail={loader.EVENT_DETAIL_LEDGER_TABLE: [self.ledger.table_name]},
            ),
        )
        alarms = self._alarms()
        self.dashboard = (
            pipeline_dashboard(
                self,
                "Dashboard",
                metric=lambda name, statistic: self.metric(name, statistic=statistic),
                dead_letter_queue=self.dead_letter_queue,
                failure_rules=[
                    ("failed jobs", self.failed_job_rule),
                    ("failed loads", self.failed_load_rule),
                ],
                alarms=alarms,
            )
            if dashboard
            else None
        )

        # --- wire: least privilege end to end ---------------------------------
        self.loader.grant_submit(self.submitter, self.batch_queue)
        self.completion.grant_submit(self.submitter, self.batch_queue)
        self._grant_cancel_jobs(self.submitter)
        self.ledger.grant(
            self.submitter, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
        )
        self._grant_objects(self.submitter, ["s3:PutObject"], MANIFEST_PREFIX)
        self._grant_objects(
            self.loader_role, ["s3:GetObject", "s3:GetObjectVersion"], INPUT_PREFIX, MANIFEST_PREFIX
        )
        self._grant_objects(
            self.loader_role, ["s3:PutObject", "s3:AbortMultipartUpload"], REJECTED_PREFIX
        )
        # The plan job (the loader's image, another module) writes a large object's plan.
        self._grant_objects(self.loader_role, ["s3:PutObject"], PARTS_PREFIX)
        # DescribeTable: the loader reads the key schema once, before it writes anything.
        self.table.grant(self.loader_role, "dynamodb:BatchWriteItem", "dynamodb:DescribeTable")
        self.ledger.grant(self.loader_role, "dynamodb:UpdateItem")
        self.ledger.grant(self.completion_role, "dynamodb:BatchGetItem", "dynamodb:UpdateItem")
        self._grant_objects(self.completion_role, ["s3:GetObject"], MANIFEST_PREFIX)
        self._grant_put_load_events(self.completion_role)
        if encryption_key is not None:
            # Reading and writing a table encrypted with a customer-managed key needs
            # the key too (DynamoDB developer guide, "Authorizing use of your key").
            for grantee in (self.loader_role, self.completion_role, self.submitter):
                encryption_key.grant(grantee, *_TABLE_KEY_ACTIONS)

    def _grant_put_load_events(self, grantee: iam.IGrantable) -> None:
        """PutEvents on the default event bus, of the pipeline's source and detail types only.

        (``ForAllValues``: every entry of a request must carry them; a request without
        the keys is judged on the bus alone.)
        """
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["events:PutEvents"],
            resource_arns=[
                Stack.of(self).format_arn(
                    service="events", resource="event-bus", resource_name=EVENT_BUS_NAME
                )
            ],
            conditions={
                "ForAllValues:StringEquals": {
                    "events:source": [loader.EVENT_SOURCE],
                    "events:detail-type": [loader.EVENT_LOAD_COMPLETED, loader.EVENT_LOAD_FAILED],
                }
            },
        )

    def _grant_cancel_jobs(self, grantee: iam.IGrantable) -> None:
        """CancelJob, for a load whose completion job could not be submitted."""
        jobs = Stack.of(self).format_arn(service="batch", resource="job", resource_name="*")
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["batch:CancelJob"], resource_arns=[jobs]
        )
        role = grantee.grant_principal
        if isinstance(role, iam.Role):
            Validations.of(role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{nag_value(self, jobs)}]",
                    reason="batch:CancelJob on the load job the submitter has just submitted, "
                    "whose id exists only at run time, when its completion job cannot be "
                    "submitted",
                )
            )

    def _grant_objects(self, grantee: iam.IGrantable, actions: list[str], *prefixes: str) -> None:
        """Grant object actions under key prefixes only (and use of the bucket's key, if any)."""
        resources = [self.bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes]
        iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=resources)
        key = self.bucket.encryption_key
        if key is not None and any(a.startswith("s3:Put") for a in actions):
            key.grant_encrypt_decrypt(grantee)
        elif key is not None:
            key.grant_decrypt(grantee)
        role = grantee.grant_principal
        if not isinstance(role, iam.Role):
            return
        for prefix in prefixes:
            Validations.of(role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{nag_value(self, self.bucket.bucket_arn)}/{prefix}*]",
                    reason="Object keys are only known at run time; access is limited to "
                    f"{', '.join(actions)} under the {prefix} prefix",
                )
            )

    @staticmethod
    def _validate(
        *,
        table: dynamodb.ITable | None,
        key_columns: Sequence[str],
        numeric_columns: Sequence[str],
        boolean_columns: Sequence[str],
        null_values: Sequence[str],
        reject_threshold: float,
        max_write_rate: float | None,
        expected_write_rate: int | None,
        submitter_concurrency: int,
        split_threshold: Size | None,
        max_parts: int,
    ) -> None:
        errors: list[str] = []
        if split_threshold is not None and not split_threshold.is_unresolved():
            threshold = split_threshold.to_bytes(rounding=SizeRoundingBehavior.NONE)
            if threshold < MIN_SPLIT_THRESHOLD_BYTES:
                errors.append(
                    f"split_threshold must be at least {MIN_SPLIT_THRESHOLD_BYTES} bytes (or "
                    f"None, to never split), got {threshold:g} bytes"
                )
        errors += check_range("max_parts", max_parts, 2, MAX_ARRAY_SIZE)
        if not 1 <= len(key_columns) <= 2:
            errors.append(
                "key_columns must name 1 (partition) or 2 (partition, sort) columns, "
                f"got {list(key_columns)}"
            )
        for argument, names in (
            ("key_columns", key_columns),
            ("numeric_columns", numeric_columns),
            ("boolean_columns", boolean_columns),
        ):
            if any(not name or "," in name for name in names):
                errors.append(
                    f"{argument} must be non-empty names without commas, got {list(names)}"
                )
        both = sorted(set(boolean_columns) & set(numeric_columns))
        if both:
            errors.append(f"boolean_columns and numeric_columns must not share columns, got {both}")
        boolean_keys = [name for name in key_columns if name in boolean_columns]
        if boolean_keys:
            errors.append(
                "boolean_columns must not name key columns (DynamoDB keys are STRING, NUMBER "
                f"or BINARY), got {boolean_keys}"
            )
        errors += _null_value_errors(null_values)
        errors += check_range("reject_threshold", reject_threshold, 0, 1)
        errors += check_range("submitter_concurrency", submitter_concurrency, 1, 1000)
        errors += _write_rate_errors(table, max_write_rate, expected_write_rate)
        if table is not None and 1 <= len(key_columns) <= 2:
            errors += _table_key_errors(table, key_columns, numeric_columns)
        raise_if_errors(errors)

    # --- resources ----------------------------------------------------------------
    def _default_queue(self) -> BatchQueue:
        network = BatchNetwork(self, "Network", flow_log_encryption_key=self.encryption_key)
        fargate_spot = FargateCompute(self, "FargateSpot", network=network, spot=True)
        fargate = FargateCompute(self, "Fargate", network=network)
        return BatchQueue(self, "Queue", environments=[fargate_spot, fargate])

    def _input_bucket(self) -> s3.Bucket:
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            # Versioned like the bucket it logs: an overwritten or deleted log object
            # can be recovered.
            versioned=True,
            removal_policy=self.removal_policy,
            auto_delete_objects=False,
        )
        Validations.of(access_logs).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="This bucket is the server access log destination of the input "
                "bucket; logging it to itself would loop",
            )
        )
        return s3.Bucket(
            self,
            "Input",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="input/",
            removal_policy=self.removal_policy,
        )

    def _table(
        self,
        construct_id: str,
        key_columns: Sequence[str],
        numeric_columns: Sequence[str] = (),
        *,
        warm_write_units: int | None = None,
    ) -> dynamodb.Table:
        """An on-demand, encrypted table with PITR, keyed by ``key_columns`` (NUMBER for
        those in ``numeric_columns``, STRING otherwise), pre-warmed to ``warm_write_units``
        write units per second when given.

        Encrypted with ``encryption_key`` when one is given, else with the AWS-managed key.
        """
        keys = [
            dynamodb.Attribute(name=c, type=_loader_key_type(c, numeric_columns))
            for c in key_columns
        ]
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=keys[0],
            sort_key=keys[1] if len(keys) > 1 else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED
            if self.encryption_key is not None
            else dynamodb.TableEncryption.AWS_MANAGED,
            encryption_key=self.encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=self.removal_policy,
            warm_throughput=dynamodb.WarmThroughput(write_units_per_second=warm_write_units)
            if warm_write_units is not None
            else None,
        )

    def _alarm_topic(self) -> sns.Topic:
        # A customer-managed key: EventBridge and CloudWatch cannot publish to a
        # topic encrypted with the AWS-managed SNS key.
        key = kms.Key(
            self,
            "AlarmKey",
            description="Encrypts the pipeline's notification topic",
            enable_key_rotation=True,
            removal_policy=self.removal_policy,
        )
        _allow_publishers(key)
        return sns.Topic(self, "Alarms", master_key=key, enforce_ssl=True)

    def _event_queues(self) -> tuple[sqs.Queue, sqs.Queue]:
        dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        Validations.of(dead_letters).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is the dead-letter queue of the event queue; an alarm "
                "notifies as soon as it holds a message",
            )
        )
        events_queue = sqs.Queue(
            self,
            "Events",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=QUEUE_VISIBILITY_TIMEOUT,
            retention_period=DLQ_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letters, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        return dead_letters, events_queue

    def _submitter(self, layer_version: int, concurrency: int) -> lambda_.Function:
        stack = Stack.of(self)
        log_group = logs.LogGroup(
            self,
            "SubmitterLogs",
            retention=LOG_RETENTION,
            removal_policy=self.removal_policy,
            encryption_key=self.encryption_key,
        )
        if self.encryption_key is not None:
            allow_log_encryption(self, self.encryption_key)
        role = iam.Role(
            self,
            "SubmitterRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Submitter: claims objects in the ledger and submits the loader job",
        )
        # Write to its own log group only, instead of the AWSLambdaBasicExecutionRole
        # managed policy (logs on every group of the account).
        log_group.grant_write(role)
        log_group_id = stack.get_logical_id(log_group.node.default_child)  # type: ignore[arg-type]
        Validations.of(role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{log_group_id}.Arn>:*]",
                reason="Lambda names its log streams at run time; the grant is scoped "
                "to the function's own log group",
            )
        )
        python = SUBMITTER_RUNTIME.name.replace(".", "")  # python3.14 -> python314
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            stack.format_arn(
                service="lambda",
                account=POWERTOOLS_LAYER_ACCOUNT,
                resource="layer",
                resource_name=f"AWSLambdaPowertoolsPythonV3-{python}-arm64:{layer_version}",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,  # ...:layer:<name>:<version>
            ),
        )
        function = lambda_.Function(
            self,
            "Submitter",
            runtime=SUBMITTER_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(
                _runtime_dir("constructs_batch.runtime.submit_job"), exclude=_ASSET_EXCLUDES
            ),
            layers=[powertools],
            role=role,
            timeout=SUBMITTER_TIMEOUT,
            memory_size=SUBMITTER_MEMORY_MIB,
            reserved_concurrent_executions=concurrency,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            description="Submits the CSV loader job for objects created under incoming/",
            environment={
                submitter.ENV_JOB_QUEUE_ARN: self.batch_queue.job_queue.job_queue_arn,
                submitter.ENV_JOB_DEFINITION_ARN: self.loader.job_definition.job_definition_arn,
                submitter.ENV_LEDGER_TABLE_NAME: self.ledger.table_name,
                submitter.ENV_INPUT_PREFIX: INPUT_PREFIX,
                submitter.ENV_INPUT_SUFFIX: INPUT_SUFFIX,
                submitter.ENV_MANIFEST_PREFIX: MANIFEST_PREFIX,
                submitter.ENV_LEASE_SECONDS: str(int(LEASE.to_seconds())),
                submitter.ENV_COMPLETION_JOB_DEFINITION_ARN: (
                    self.completion.job_definition.job_definition_arn
                ),
                submitter.ENV_SPLIT_THRESHOLD_BYTES: str(
                    0
                    if self.split_threshold is None
                    else int(self.split_threshold.to_bytes(rounding=SizeRoundingBehavior.FLOOR))
                ),
                submitter.ENV_MAX_PARTS: str(self.max_parts),
                submitter.ENV_METRICS_NAMESPACE: METRICS_NAMESPACE,
                submitter.ENV_METRICS_PIPELINE: self.ledger.table_name,
                "POWERTOOLS_SERVICE_NAME": "csv-pipeline-submitter",
            },
        )
        function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=SQS_BATCH_SIZE,
                max_batching_window=SQS_BATCHING_WINDOW,
                report_batch_item_failures=True,
            )
        )
        return function

    def _notify_rule(
        self, construct_id: str, description: str, pattern: events.EventPattern
    ) -> events.Rule:
        """An EventBridge rule on the default bus that notifies the alarm topic."""
        rule = events.Rule(self, construct_id, description=description, event_pattern=pattern)
        rule.add_target(_TopicTarget(self.alarm_topic))
        # EventBridge publishes as its service principal: only for this rule.
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule.rule_arn}},
            )
        )
        return rule

    def metric(
        self,
        metric_name: str,
        *,
        statistic: str = cloudwatch.Stats.SUM,
        period: Duration = METRICS_PERIOD,
    ) -> cloudwatch.Metric:
        """One of the metrics the loader and the submitter publish, of this pipeline.

        Args:
            metric_name: ``RowsRead``, ``RowsLoaded``, ``RowsRejected``, ``RowsDuplicate``,
                ``ThrottledCalls``, ``PartsDone``, ``RowsPerSecond`` (the loader's) or
                ``ObjectsSubmitted``, ``SubmitJobCalls``, ``RecordsIgnored``,
                ``MessagesFailed`` (the submitter's); see the README.
            statistic: Default: Sum (every count is the change since the previous line).
            period: Default: 1 minute.
        """
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={loader.METRIC_DIMENSION_PIPELINE: self.ledger.table_name},
            statistic=statistic,
            period=period,
        )

    def _alarms(self) -> list[cloudwatch.Alarm]:
        action = cloudwatch_actions.SnsAction(self.alarm_topic)
        dlq = self.dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1)
        ).create_alarm(
            self,
            "DeadLettersAlarm",
            alarm_description="Events the submitter could not process are in the DLQ",
            threshold=DLQ_ALARM_THRESHOLD,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        errors = self.submitter.metric_errors(period=Duration.minutes(5)).create_alarm(
            self,
            "SubmitterErrorsAlarm",
            alarm_description="The submitter Lambda raised errors",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (dlq, errors):
            alarm.add_alarm_action(action)
        return [dlq, errors]
