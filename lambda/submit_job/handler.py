"""Lambda entry point (``handler.handler``): SQS batch of S3 events -> AWS Batch jobs.

A thin wrapper: the clients and settings are built once per execution environment
(at import, during init) and the work is done by :class:`submitter.Submitter`.
The event source mapping must enable ``ReportBatchItemFailures``.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from submit_metrics import SubmitMetrics
from submitter import DEFAULT_LEDGER_CONCURRENCY, BatchResponse, Settings, Submitter

__all__ = ["SUBMITTER", "handler", "logger"]

#: Service name in every log line unless POWERTOOLS_SERVICE_NAME says otherwise.
DEFAULT_SERVICE_NAME = "csv-submitter"
#: Retries after the first attempt (botocore's ``max_attempts``: 5 attempts in all), in
#: "standard" mode: exponential backoff with jitter, and throttling such as SubmitJob's
#: TooManyRequestsException is retried. After that the messages fail and SQS redelivers
#: them after the visibility timeout, which is a much longer backoff.
MAX_RETRIES = 4

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", DEFAULT_SERVICE_NAME))

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": MAX_RETRIES},
    # One pooled connection per concurrent ledger write.
    max_pool_connections=DEFAULT_LEDGER_CONCURRENCY,
)

SUBMITTER = Submitter(
    settings=Settings.from_env(os.environ),
    batch=boto3.client("batch", config=_CONFIG),
    dynamodb=boto3.client("dynamodb", config=_CONFIG),
    s3=boto3.client("s3", config=_CONFIG),
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
