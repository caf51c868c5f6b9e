"""The Lambda entry point: module-scope clients from the environment, thin handler."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import pytest
from submit_testing import (
    LambdaTestContext,
    Pipeline,
    failed_ids,
    s3_body,
    s3_record,
    sqs_event,
)


def test_handler_returns_the_partial_batch_response(
    handler_module: ModuleType, pipeline: Pipeline
) -> None:
    # GIVEN a fresh execution environment and a batch with one good and one bad message
    event = sqs_event(("good", s3_body(s3_record("incoming/a.csv"))), ("bad", "{"))

    # WHEN the handler is invoked
    response = handler_module.handler(event, LambdaTestContext())

    # THEN the good object is submitted and only the bad message is reported
    assert failed_ids(response) == ["bad"]
    assert len(pipeline.parent_jobs()) == 1


def test_handler_clients_retry_in_standard_mode(handler_module: ModuleType) -> None:
    # GIVEN the handler's clients (built when first used)
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
