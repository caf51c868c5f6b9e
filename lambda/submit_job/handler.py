"""Lambda entry point (``handler.handler``): SQS batch of S3 events -> AWS Batch jobs.

A thin wrapper: the settings and the logger are built once per execution environment
(at import, during init; a missing setting fails init), the AWS clients once too, the
first time an event needs each of them (see :mod:`lazy_clients`: init imports no SDK),
and the work is done by :class:`submitter.Submitter`.
The event source mapping must enable ``ReportBatchItemFailures``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from lazy_clients import ClientFactory, LazyClient
from submit_metrics import SubmitMetrics
from submitter import DEFAULT_LEDGER_CONCURRENCY, BatchResponse, Settings, Submitter

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = ["SUBMITTER", "handler", "logger"]

#: Service name in every log line unless POWERTOOLS_SERVICE_NAME says otherwise.
DEFAULT_SERVICE_NAME = "csv-submitter"
#: Retries after the first attempt (botocore's ``max_attempts``: 5 attempts in all), in
#: "standard" mode: exponential backoff with jitter, and throttling such as SubmitJob's
#: TooManyRequestsException is retried. After that the messages fail and SQS redelivers
#: them after the visibility timeout, which is a much longer backoff.
MAX_RETRIES = 4

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", DEFAULT_SERVICE_NAME))

#: ``botocore.config.Config`` of every client.
CLIENT_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": MAX_RETRIES},
    # One pooled connection per concurrent ledger write.
    "max_pool_connections": DEFAULT_LEDGER_CONCURRENCY,
}

_CLIENTS = ClientFactory(CLIENT_CONFIG)

SUBMITTER = Submitter(
    settings=Settings.from_env(os.environ),
    batch=cast("BatchClient", LazyClient(_CLIENTS, "batch")),
    dynamodb=cast("DynamoDBClient", LazyClient(_CLIENTS, "dynamodb")),
    s3=cast("S3Client", LazyClient(_CLIENTS, "s3")),
    logger=logger,
    metrics=SubmitMetrics.from_env(os.environ),
)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    """Process one SQS batch; return the messages to redeliver.

    Args:
        event: SQS event (``Records`` of S3 event notifications).
        context: Lambda context (its request id goes into the logs).
    """
    return SUBMITTER.process(event)
