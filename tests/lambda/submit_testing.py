"""Builders and the emulated AWS side shared by the submitter's tests (imported by them)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from submitter import Settings, Submitter

from constructs_batch.local import LocalAws

BUCKET = "landing"
LEDGER_TABLE = "ledger"


def s3_record(
    key: str,
    *,
    bucket: str = BUCKET,
    etag: str = "0123456789abcdef",
    version_id: str | None = None,
    event_name: str = "ObjectCreated:Put",
    size: int = 42,
) -> dict[str, Any]:
    """One S3 event notification record (key given as S3 sends it: URL-encoded)."""
    s3_object: dict[str, Any] = {"key": key, "size": size, "eTag": etag, "sequencer": "0A1B"}
    if version_id is not None:
        s3_object["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2025-01-31T12:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": s3_object,
        },
    }


def s3_body(*records: dict[str, Any]) -> str:
    """An SQS message body carrying an S3 event notification."""
    return json.dumps({"Records": list(records)})


def sqs_event(*bodies: tuple[str, str]) -> dict[str, Any]:
    """An SQS event from (messageId, body) pairs."""
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"handle-{message_id}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:incoming",
                "awsRegion": "us-east-1",
            }
            for message_id, body in bodies
        ]
    }


def failed_ids(response: dict[str, list[dict[str, str]]]) -> list[str]:
    """Message ids of a partial batch response."""
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


@dataclass(frozen=True)
class LambdaTestContext:
    """The parts of the Lambda context Powertools reads."""

    function_name: str = "csv-submitter"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:csv-submitter"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


@dataclass
class Pipeline:
    """The AWS side of the submitter, in the emulator."""

    aws: LocalAws
    batch: Any
    dynamodb: Any
    s3: Any
    settings: Settings

    def submitter(
        self, *, batch: Any = None, clock: Callable[[], float] | None = None
    ) -> Submitter:
        """A Submitter on these clients (optionally another Batch client or clock)."""
        extra: dict[str, Any] = {} if clock is None else {"clock": clock}
        return Submitter(
            settings=self.settings,
            batch=batch or self.batch,
            dynamodb=self.dynamodb,
            s3=self.s3,
            logger=Logger(service="submitter-test"),
            **extra,
        )

    def parent_jobs(self) -> list[dict[str, Any]]:
        """Jobs on the queue, without the children of array jobs."""
        summaries = self.batch.list_jobs(jobQueue=self.settings.job_queue_arn)["jobSummaryList"]
        ids = [s["jobId"] for s in summaries if ":" not in s["jobId"]]
        return self.describe(ids)

    def describe(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        """describe_jobs, in the order given."""
        if not job_ids:
            return []
        jobs = {j["jobId"]: j for j in self.batch.describe_jobs(jobs=list(job_ids))["jobs"]}
        return [jobs[i] for i in job_ids]

    def ledger(self) -> dict[str, dict[str, Any]]:
        """Every ledger item, by object_id, in attribute-value form."""
        items = self.dynamodb.scan(TableName=LEDGER_TABLE, ConsistentRead=True)["Items"]
        return {item["object_id"]["S"]: item for item in items}


def job_environment(job: dict[str, Any]) -> dict[str, str]:
    """The environment a job was submitted with (container overrides merged by Batch)."""
    return {e["name"]: e["value"] for e in job["container"].get("environment", [])}


def create_pipeline(aws: LocalAws) -> Pipeline:
    """An unmanaged compute environment, a job queue, a job definition, a ledger and a bucket."""
    batch = aws.client("batch")
    role = aws.client("iam").create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")
    environment = batch.create_compute_environment(
        computeEnvironmentName="test-unmanaged",
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=role["Role"]["Arn"],
    )
    queue = batch.create_job_queue(
        jobQueueName="test-queue",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}
        ],
    )
    definition = batch.register_job_definition(
        jobDefinitionName="csv-loader",
        type="container",
        containerProperties={"image": "loader:latest", "vcpus": 1, "memory": 512},
    )
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName=LEDGER_TABLE,
        KeySchema=[{"AttributeName": "object_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "object_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    settings = Settings(
        job_queue_arn=queue["jobQueueArn"],
        job_definition_arn=definition["jobDefinitionArn"],
        ledger_table_name=LEDGER_TABLE,
    )
    return Pipeline(aws=aws, batch=batch, dynamodb=dynamodb, s3=s3, settings=settings)
