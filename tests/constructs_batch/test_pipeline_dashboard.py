"""CsvToDynamoDbPipeline's metrics and dashboard: what the jobs publish, and what it graphs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template
from constructs_batch.runtime.csv_loader import loader_contract as loader
from constructs_batch.runtime.submit_job import submit_contract as submitter
from helpers import job_environment, logical_id, make_app

from constructs_batch.pipeline import METRICS_NAMESPACE, CsvToDynamoDbPipeline
from constructs_batch.testing import nag_findings


class Dashboards:
    """A pipeline with its dashboard (``dashboard=True``) and one by default, without."""

    def __init__(self) -> None:
        app = make_app()
        self.stack = Stack(app, "DashboardStack")
        self.pipeline = CsvToDynamoDbPipeline(self.stack, "Pipeline", dashboard=True)
        self.plain_stack = Stack(app, "PlainStack")
        self.plain = CsvToDynamoDbPipeline(self.plain_stack, "Pipeline")
        self.template = Template.from_stack(self.stack)
        self.plain_template = Template.from_stack(self.plain_stack)
        self.ledger = {"Ref": logical_id(self.pipeline.ledger)}

    def body(self) -> dict[str, Any]:
        """The dashboard body, each token written as its CloudFormation JSON."""
        (dashboard,) = self.template.find_resources("AWS::CloudWatch::Dashboard").values()
        parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
        # A token stands inside a JSON string of the body: escape its quotes there.
        text = "".join(p if isinstance(p, str) else _token(p).replace('"', '\\"') for p in parts)
        body: dict[str, Any] = json.loads(text)
        return body

    def graphed(self) -> list[list[Any]]:
        """Every metric line of every graph (``[namespace, name, dim, value, ..., {opts}]``)."""
        return [
            metric
            for widget in self.body()["widgets"]
            if widget["type"] == "metric" and "metrics" in widget["properties"]
            for metric in widget["properties"]["metrics"]
        ]


def _token(value: Any) -> str:
    """How the body shows a token: its CloudFormation JSON in angle brackets."""
    return f"<{json.dumps(value)}>"


@pytest.fixture(scope="module")
def built() -> Dashboards:
    return Dashboards()


def test_pipeline_with_its_dashboard_passes_cdk_nag(built: Dashboards) -> None:
    assert nag_findings(built.stack) == []
    assert nag_findings(built.plain_stack) == []


def test_pipeline_jobs_publish_metrics_under_the_namespace_and_the_ledgers_name(
    built: Dashboards,
) -> None:
    # GIVEN the default pipeline
    # THEN the loader's job definition names the namespace and the pipeline (its ledger)
    variables = job_environment(built.template, loader.LOADER_MODULE)
    assert (
        variables[loader.ENV_METRICS_NAMESPACE]
        == METRICS_NAMESPACE
        == "constructs_batch/CsvPipeline"
    )
    assert variables[loader.ENV_METRICS_PIPELINE] == built.ledger
    # AND so does the submitter's environment
    built.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handler.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        submitter.ENV_METRICS_NAMESPACE: METRICS_NAMESPACE,
                        submitter.ENV_METRICS_PIPELINE: built.ledger,
                    }
                )
            },
        },
    )


def test_pipeline_creates_one_dashboard_without_a_fixed_name(built: Dashboards) -> None:
    built.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    built.template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": Match.absent()}
    )
    assert built.pipeline.dashboard is not None


def test_pipeline_dashboard_graphs_every_job_metric_of_this_pipeline(built: Dashboards) -> None:
    # GIVEN the metrics the loader and the submitter publish
    published = {
        loader.METRIC_ROWS_READ,
        loader.METRIC_ROWS_LOADED,
        loader.METRIC_ROWS_REJECTED,
        loader.METRIC_ROWS_DUPLICATE,
        loader.METRIC_THROTTLED_CALLS,
        loader.METRIC_PARTS_DONE,
        loader.METRIC_ROWS_PER_SECOND,
        submitter.METRIC_OBJECTS_SUBMITTED,
        submitter.METRIC_SUBMIT_JOB_CALLS,
        submitter.METRIC_RECORDS_IGNORED,
        submitter.METRIC_MESSAGES_FAILED,
    }
    # WHEN the dashboard's graphs are read
    ours = [m for m in built.graphed() if m[0] == METRICS_NAMESPACE]

    # THEN each is graphed, always with this pipeline's dimension
    assert {m[1] for m in ours} == published
    assert all(m[2:4] == ["Pipeline", _token(built.ledger)] for m in ours)


def test_pipeline_dashboard_graphs_the_dlq_depth_and_the_failure_rules(built: Dashboards) -> None:
    # GIVEN the dashboard's graphs
    graphed = built.graphed()

    # THEN the DLQ's visible messages, and the matches of the failed-job and failed-load rules
    dlq = [m for m in graphed if m[:2] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible"]]
    assert [m[3] for m in dlq] == [
        _token({"Fn::GetAtt": [logical_id(built.pipeline.dead_letter_queue), "QueueName"]})
    ]
    rules = [m[3] for m in graphed if m[:2] == ["AWS/Events", "TriggeredRules"]]
    assert rules == [
        _token({"Ref": logical_id(built.pipeline.failed_job_rule)}),
        _token({"Ref": logical_id(built.pipeline.failed_load_rule)}),
    ]
    # AND the alarms' states
    (alarms,) = [w for w in built.body()["widgets"] if "alarms" in w["properties"]]
    assert len(alarms["properties"]["alarms"]) == 2


def test_pipeline_default_has_no_dashboard_and_still_publishes_metrics(
    built: Dashboards,
) -> None:
    # GIVEN the default pipeline THEN it has no dashboard (no fixed cost), but its jobs
    # still publish their metrics
    built.plain_template.resource_count_is("AWS::CloudWatch::Dashboard", 0)
    assert built.plain.dashboard is None
    variables = job_environment(built.plain_template, loader.LOADER_MODULE)
    assert variables[loader.ENV_METRICS_NAMESPACE] == METRICS_NAMESPACE


def test_pipeline_metric_is_one_of_its_own(built: Dashboards) -> None:
    # WHEN a user asks for a metric to alarm on
    metric = built.pipeline.metric("ThrottledCalls")

    # THEN it is in the namespace, with the pipeline's dimension, summed per minute
    assert (metric.namespace, metric.metric_name, metric.statistic) == (
        METRICS_NAMESPACE,
        "ThrottledCalls",
        "Sum",
    )
    assert metric.period.to_seconds() == 60
    assert built.stack.resolve(metric.dimensions) == {"Pipeline": built.ledger}
