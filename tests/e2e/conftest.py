"""Fixtures for the end-to-end tests: synthesized stacks, deployed in the session's emulator."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs_batch.runtime.submit_job import submit_contract
from helpers import make_app

from constructs_batch import (
    BatchQueue,
    ContainerJob,
    JobSchedule,
    JobWorkflow,
    QueueCapacity,
    UnmanagedCompute,
)
from constructs_batch.local import (
    LocalAws,
    LocalPipeline,
    StackWiring,
    create_pipeline,
    template_of,
)
from constructs_batch.pipeline import CsvToDynamoDbPipeline
from stacks.pipeline_stack import CsvPipelineStack

#: The column types and missing-value spelling of the files ``formats_pipeline`` loads.
NUMERIC_COLUMNS = ("amount",)
BOOLEAN_COLUMNS = ("active",)
NULL_VALUES = ("NA",)


def _formats_stack(app: Any, stack_id: str) -> Stack:
    """A standalone pipeline configured for R exports: NA, a numeric and a logical column."""
    stack = Stack(app, stack_id)
    CsvToDynamoDbPipeline(
        stack,
        "Pipeline",
        numeric_columns=NUMERIC_COLUMNS,
        boolean_columns=BOOLEAN_COLUMNS,
        null_values=NULL_VALUES,
    )
    return stack


@pytest.fixture(scope="session")
def wiring() -> StackWiring:
    """The standalone CsvPipelineStack, synthesized once under cdk.json's context."""
    return StackWiring.from_stack(CsvPipelineStack(make_app(), "CsvPipeline"))


@pytest.fixture
def pipeline(aws: LocalAws, wiring: StackWiring) -> LocalPipeline:
    """The stack's pipeline resources in a freshly reset emulator."""
    return create_pipeline(aws, wiring)


@pytest.fixture(scope="session")
def formats_wiring() -> StackWiring:
    """A pipeline with numeric_columns, boolean_columns and null_values, synthesized once."""
    return StackWiring.from_stack(_formats_stack(make_app(), "CsvFormats"))


@pytest.fixture
def formats_pipeline(aws: LocalAws, formats_wiring: StackWiring) -> LocalPipeline:
    """That pipeline's resources in a freshly reset emulator."""
    return create_pipeline(aws, formats_wiring)


#: The submitter settings ``split_pipeline`` runs with: objects above 4 KiB are split, into
#: at most 4 parts (what ``CsvToDynamoDbPipeline(split_threshold=..., max_parts=...)`` sets,
#: tested on the template; here the reference stack's wiring is reused, not synthesized
#: again).
SPLIT_SUBMITTER_ENVIRONMENT = {
    submit_contract.ENV_SPLIT_THRESHOLD_BYTES: "4096",
    submit_contract.ENV_MAX_PARTS: "4",
}


@pytest.fixture
def split_pipeline(aws: LocalAws, wiring: StackWiring) -> LocalPipeline:
    """The stack's pipeline with a submitter that splits objects above 4 KiB in 4 parts."""
    pipeline = create_pipeline(aws, wiring)
    pipeline.submitter_environment.update(SPLIT_SUBMITTER_ENVIRONMENT)
    return pipeline


class FlowApp:
    """A user's app: a queue, two jobs, a three-step workflow that notifies, two schedules.

    Synthesized once (``template``); each test deploys it in a freshly reset emulator.
    """

    def __init__(self) -> None:
        self.stack = Stack(make_app(), "Flows")
        compute = UnmanagedCompute(self.stack, "Compute", unmanaged_vcpus=16)
        self.queue = BatchQueue(
            self.stack,
            "Queue",
            environments=[compute],
            capacity=QueueCapacity(fargate=False, vcpus=4, memory_mib=8192),
        )
        image = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.13-slim")
        self.worker = ContainerJob(
            self.stack, "Worker", image=image, queue=self.queue, environment={"STAGE": "test"}
        )
        self.reporter = ContainerJob(
            self.stack,
            "Reporter",
            image=image,
            queue=self.queue,
            command=["python", "-m", "report"],
        )
        self.topic = sns.Topic(self.stack, "Failures", enforce_ssl=True)
        self.flow = JobWorkflow(self.stack, "Nightly", notify=self.topic)
        key = sfn.JsonPath.string_at("$.key")
        self.flow.define(
            self.flow.submit(
                "Load",
                job=self.worker,
                queue=self.queue,
                environment={"S3_KEY": key, "FAIL": sfn.JsonPath.string_at("$.fail")},
            )
            .next(
                self.flow.submit(
                    "Fan",
                    job=self.worker,
                    queue=self.queue,
                    array_size=3,
                    environment={"S3_KEY": key, "FAIL": sfn.JsonPath.string_at("$.fail")},
                )
            )
            .next(
                self.flow.submit(
                    "Report",
                    job=self.reporter,
                    queue=self.queue,
                    environment={"LOAD_JOB_ID": sfn.JsonPath.string_at("$.jobs.Load.JobId")},
                )
            )
        )
        self.nightly = JobSchedule(
            self.stack,
            "NightlyRun",
            schedule=scheduler.ScheduleExpression.cron(minute="0", hour="2"),
            workflow=self.flow,
            input={"key": "incoming/nightly.csv", "fail": "none"},
        )
        self.hourly = JobSchedule(
            self.stack,
            "HourlyReport",
            schedule=scheduler.ScheduleExpression.rate(Duration.hours(1)),
            job=self.worker,
            queue=self.queue,
            environment={"MODE": "scheduled"},
            array_size=2,
        )
        self.template = template_of(self.stack)


@pytest.fixture(scope="session")
def flow_app() -> FlowApp:
    """The workflow app, synthesized once."""
    return FlowApp()
