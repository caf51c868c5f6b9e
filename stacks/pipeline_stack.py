"""CsvPipelineStack: the reference S3 -> Lambda -> Batch -> DynamoDB pipeline."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from constructs_batch.pipeline import CsvToDynamoDbPipeline
from constructs_batch.queue import BatchQueue

__all__ = ["CsvPipelineStack"]


class CsvPipelineStack(Stack):
    """The CSV -> DynamoDB pipeline, on a platform's queue or standing alone.

    Args:
        queue: the Batch queue the loader runs on (e.g. ``BatchPlatformStack.fargate_queue``).
            Default: the pipeline builds its own Fargate Spot queue on a ``PUBLIC`` network.
        removal_policy: what happens to the data when the stack is deleted.
            Default: ``RETAIN``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queue: BatchQueue | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.pipeline = CsvToDynamoDbPipeline(
            self, "Pipeline", queue=queue, removal_policy=removal_policy
        )
        outputs = {
            "InputBucketName": self.pipeline.bucket.bucket_name,
            "TableName": self.pipeline.table.table_name,
            "LedgerTableName": self.pipeline.ledger.table_name,
            "DeadLetterQueueUrl": self.pipeline.dead_letter_queue.queue_url,
            "AlarmTopicArn": self.pipeline.alarm_topic.topic_arn,
        }
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value)
