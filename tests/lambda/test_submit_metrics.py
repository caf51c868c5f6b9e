"""The submitter's CloudWatch metrics: one EMF line per SQS batch with the batch's counts."""

from __future__ import annotations

import dataclasses
import importlib
import sys
import time
from types import ModuleType

import pytest
from aws_lambda_powertools import Logger
from helpers import emf_document, emf_values
from submit_contract import ENV_METRICS_NAMESPACE, ENV_METRICS_PIPELINE
from submit_metrics import SubmitMetrics, emf_line
from submit_testing import Pipeline, failed_ids, s3_body, s3_record, sqs_event
from submitter import Submitter

NAMESPACE = "constructs_batch/CsvPipeline"
PIPELINE = "ledger-table"


def _submitter(pipeline: Pipeline, lines: list[str]) -> Submitter:
    return Submitter(
        settings=pipeline.settings,
        batch=pipeline.batch,
        dynamodb=pipeline.dynamodb,
        s3=pipeline.s3,
        logger=Logger(service="submitter-test"),
        metrics=SubmitMetrics(namespace=NAMESPACE, pipeline=PIPELINE, emit=lines.append),
    )


def test_emf_line_declares_each_metric_with_its_unit_and_the_pipeline_dimension() -> None:
    # GIVEN a count and the pipeline dimension
    # WHEN rendered
    line = emf_line(
        namespace=NAMESPACE,
        dimensions={"Pipeline": PIPELINE},
        metrics=[("ObjectsSubmitted", "Count", 3)],
        timestamp_ms=int(time.time() * 1000),
    )

    # THEN it is EMF: the directive, and the dimension and the value at the top level
    document = emf_document(line)
    assert document["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": NAMESPACE,
            "Dimensions": [["Pipeline"]],
            "Metrics": [{"Name": "ObjectsSubmitted", "Unit": "Count"}],
        }
    ]
    assert (document["Pipeline"], document["ObjectsSubmitted"]) == (PIPELINE, 3)


def test_submit_metrics_from_env_needs_a_namespace() -> None:
    assert SubmitMetrics.from_env({ENV_METRICS_PIPELINE: PIPELINE}) is None
    metrics = SubmitMetrics.from_env({ENV_METRICS_NAMESPACE: NAMESPACE})
    # Without a pipeline name the metrics have no dimension (a dimension value cannot be empty).
    assert metrics is not None and (metrics.namespace, metrics.dimensions) == (NAMESPACE, {})


def test_submitter_publishes_one_line_of_counts_per_batch(pipeline: Pipeline) -> None:
    # GIVEN a batch: two new objects (one array job), a record outside incoming/*.csv and a
    # malformed message
    lines: list[str] = []
    event = sqs_event(
        ("m1", s3_body(s3_record("incoming/a.csv"), s3_record("incoming/b.csv"))),
        ("m2", s3_body(s3_record("incoming/notes.txt"))),
        ("bad", "{"),
    )

    # WHEN it is processed
    response = _submitter(pipeline, lines).process(event)

    # THEN one EMF line says 2 objects, 1 SubmitJob call, 1 record ignored, 1 message failed
    assert failed_ids(response) == ["bad"]
    (line,) = lines
    assert emf_document(line)["Pipeline"] == PIPELINE
    assert emf_values(line) == {
        "ObjectsSubmitted": 2,
        "SubmitJobCalls": 1,
        "RecordsIgnored": 1,
        "MessagesFailed": 1,
    }


def test_submitter_counts_each_batchs_own_submit_job_calls(pipeline: Pipeline) -> None:
    # GIVEN a submitter with a completion job (two calls per submission) and two batches
    completion = pipeline.batch.register_job_definition(
        jobDefinitionName="csv-completion",
        type="container",
        containerProperties={"image": "loader:latest", "vcpus": 1, "memory": 512},
    )["jobDefinitionArn"]
    pipeline.settings = dataclasses.replace(
        pipeline.settings, completion_job_definition_arn=completion
    )
    lines: list[str] = []
    submitter = _submitter(pipeline, lines)

    # WHEN a new object is processed, then the same object again (a duplicate delivery)
    submitter.process(sqs_event(("m1", s3_body(s3_record("incoming/a.csv", etag="e1")))))
    submitter.process(sqs_event(("m2", s3_body(s3_record("incoming/a.csv", etag="e1")))))

    # THEN the first batch made the load's and the completion's calls, the second none
    counts = [emf_values(line) for line in lines]
    assert [(c["ObjectsSubmitted"], c["SubmitJobCalls"]) for c in counts] == [(1, 2), (0, 0)]


@pytest.fixture
def metrics_handler(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """handler.py imported afresh with the construct's environment, metrics included."""
    monkeypatch.setenv("JOB_QUEUE_ARN", pipeline.settings.job_queue_arn)
    monkeypatch.setenv("JOB_DEFINITION_ARN", pipeline.settings.job_definition_arn)
    monkeypatch.setenv("LEDGER_TABLE_NAME", pipeline.settings.ledger_table_name)
    monkeypatch.setenv(ENV_METRICS_NAMESPACE, NAMESPACE)
    monkeypatch.setenv(ENV_METRICS_PIPELINE, PIPELINE)
    monkeypatch.delitem(sys.modules, "handler", raising=False)
    return importlib.import_module("handler")


def test_handler_prints_the_batchs_metrics_line_on_stdout(
    metrics_handler: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the function's environment with a metrics namespace
    submitter = metrics_handler.SUBMITTER
    capsys.readouterr()

    # WHEN a batch of one object is processed
    submitter.process(sqs_event(("m1", s3_body(s3_record("incoming/a.csv")))))

    # THEN stdout (the function's log) has one EMF line of its own among the log lines
    (line,) = [out for out in capsys.readouterr().out.splitlines() if '"_aws"' in out]
    assert emf_document(line)["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    assert emf_values(line)["ObjectsSubmitted"] == 1
