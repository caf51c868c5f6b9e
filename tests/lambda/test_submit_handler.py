"""The Lambda entry point: module-scope clients from the environment, thin handler."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from types import ModuleType

import pytest
from submit_testing import Pipeline, failed_ids, s3_body, s3_record, sqs_event


@dataclass(frozen=True)
class _Context:
    """The parts of the Lambda context Powertools reads."""

    function_name: str = "csv-submitter"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:csv-submitter"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def handler_module(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """handler.py imported afresh, as in a new execution environment, with the construct's env."""
    monkeypatch.setenv("JOB_QUEUE_ARN", pipeline.settings.job_queue_arn)
    monkeypatch.setenv("JOB_DEFINITION_ARN", pipeline.settings.job_definition_arn)
    monkeypatch.setenv("LEDGER_TABLE_NAME", pipeline.settings.ledger_table_name)
    monkeypatch.delitem(sys.modules, "handler", raising=False)
    return importlib.import_module("handler")


def test_handler_returns_the_partial_batch_response(
    handler_module: ModuleType, pipeline: Pipeline
) -> None:
    # GIVEN a fresh execution environment and a batch with one good and one bad message
    event = sqs_event(("good", s3_body(s3_record("incoming/a.csv"))), ("bad", "{"))

    # WHEN the handler is invoked
    response = handler_module.handler(event, _Context())

    # THEN the good object is submitted and only the bad message is reported
    assert failed_ids(response) == ["bad"]
    assert len(pipeline.parent_jobs()) == 1


def test_handler_clients_retry_in_standard_mode(handler_module: ModuleType) -> None:
    # GIVEN the clients built at import
    submitter = handler_module.SUBMITTER

    # WHEN their retry configuration is read
    retries = [c.meta.config.retries for c in (submitter.batch, submitter.dynamodb, submitter.s3)]

    # THEN every one backs off in botocore's standard mode (which retries throttling)
    assert retries == [{"mode": "standard", "total_max_attempts": 5}] * 3


def test_handler_import_fails_without_its_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an environment without the queue, definition and ledger
    for name in ("JOB_QUEUE_ARN", "JOB_DEFINITION_ARN", "LEDGER_TABLE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delitem(sys.modules, "handler", raising=False)

    # WHEN the handler module is imported (Lambda's init phase)
    # THEN it fails at once, naming what is missing
    with pytest.raises(ValueError, match="JOB_QUEUE_ARN must be set"):
        importlib.import_module("handler")
