"""Workflows, schedules and job dependencies of a user's app, end to end on the emulator.

The app (``FlowApp`` in conftest.py, the ``flow_app`` fixture: a queue, a worker and a reporter job, the three-step ``Nightly``
workflow with an array step, two schedules) is synthesized once and deployed with
``constructs_batch.local.deploy`` in a freshly reset emulator for each test. Jobs are
played by a recording callable (the worker) or as a local process running the job's own
command (the reporter).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from constructs_batch.local import (
    DEPENDENCY_FAILED_REASON,
    EXIT_REASON,
    JobRun,
    LocalAws,
    LocalCommand,
    LocalDeployment,
    deploy,
    logical_id,
)
from constructs_batch.workflow import JOB_FAILED_ERROR

#: What the reporter runs (``python -m report``, the job definition's command).
REPORT_MODULE = """\
import json, os
print(json.dumps({"event": "report", "load_job_id": os.environ["LOAD_JOB_ID"],
                  "stage": os.environ.get("STAGE"), "job_id": os.environ["AWS_BATCH_JOB_ID"]}))
"""


class Worker:
    """Plays the worker's jobs: records what each got, fails when ``FAIL`` names its job."""

    def __init__(self) -> None:
        self.runs: list[JobRun] = []
        self._lock = threading.Lock()

    def __call__(self, run: JobRun) -> int:
        with self._lock:
            self.runs.append(run)
        failing = run.environment.get("FAIL") == run.job_name
        return 1 if failing and run.array_index in (None, 1) else 0

    def named(self, job_name: str) -> list[JobRun]:
        return sorted(
            (r for r in self.runs if r.job_name == job_name), key=lambda r: r.array_index or 0
        )


@pytest.fixture
def worker() -> Worker:
    return Worker()


@pytest.fixture
def local(aws: LocalAws, flow_app: Any, worker: Worker, tmp_path: Path) -> LocalDeployment:
    """The app deployed, the worker played in process, the reporter as a process."""
    (tmp_path / "report.py").write_text(REPORT_MODULE)
    return deploy(
        aws,
        flow_app.template,
        stack_name="Flows",
        jobs={
            logical_id(flow_app.worker): worker,
            logical_id(flow_app.reporter): LocalCommand(cwd=tmp_path),
        },
    )


def _subscribe(aws: LocalAws, topic_arn: str) -> str:
    """An SQS queue subscribed to a topic (raw delivery); its URL."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="failures")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.client("sns").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return str(url)


def test_workflow_runs_each_step_with_its_input_and_the_array_step_per_index(
    local: LocalDeployment, flow_app: Any, worker: Worker
) -> None:
    # GIVEN the three-step workflow and an input naming an object
    # WHEN an execution runs and its jobs are played
    result = local.run_workflow(flow_app.flow, {"key": "incoming/a.csv", "fail": "none"})

    # THEN it succeeded, Load got the key from the input and the job definition's variables,
    (load,) = worker.named("Load")
    assert result.status == "SUCCEEDED"
    assert (load.environment["S3_KEY"], load.environment["STAGE"]) == ("incoming/a.csv", "test")
    assert load.environment["MANAGED_BY_AWS"] == "STARTED_BY_STEP_FUNCTIONS"
    # the array step ran one child per index with the array job's id,
    fan = worker.named("Fan")
    assert [r.array_index for r in fan] == [0, 1, 2]
    assert [r.environment["AWS_BATCH_JOB_ARRAY_INDEX"] for r in fan] == ["0", "1", "2"]
    assert {r.job_id.split(":")[0] for r in fan} == {result.output["jobs"]["Fan"]["JobId"]}
    # and the reporter ran its own command as a process, with Load's job id from the state
    (report,) = result.jobs_named("Report")
    (record,) = report.records
    assert record == {
        "event": "report",
        "load_job_id": load.job_id,
        "stage": None,
        "job_id": result.output["jobs"]["Report"]["JobId"],
    }
    assert [result.output["jobs"][step]["Status"] for step in ("Load", "Fan", "Report")] == [
        "SUCCEEDED"
    ] * 3


@pytest.mark.parametrize(
    ("failing_step", "reason"),
    [("Load", EXIT_REASON), ("Fan", "1 of 3 child jobs failed")],
)
def test_workflow_with_a_failing_step_fails_with_the_jobs_status_reason_and_notifies(
    aws: LocalAws,
    local: LocalDeployment,
    flow_app: Any,
    worker: Worker,
    failing_step: str,
    reason: str,
) -> None:
    # GIVEN a queue subscribed to the workflow's failure topic
    failures = _subscribe(aws, local.topics[logical_id(flow_app.topic)])

    # WHEN an execution runs whose input makes one step's job (one child of the array) exit 1
    result = local.run_workflow(flow_app.flow, {"key": "incoming/b.csv", "fail": failing_step})

    # THEN the execution failed with BatchJobFailed and the job's status reason,
    assert (result.status, result.error, result.cause) == ("FAILED", JOB_FAILED_ERROR, reason)
    # no later step ran,
    assert worker.named("Report") == [] and result.jobs_named("Report") == []
    # and the topic was told which execution failed and why
    (message,) = aws.client("sqs").receive_message(QueueUrl=failures)["Messages"]
    notice = json.loads(message["Body"])
    assert notice["execution"] == result.execution_arn
    assert notice["error"] == "States.TaskFailed"
    assert json.loads(notice["cause"])["StatusReason"] == reason


def test_workflow_schedule_submits_its_job_as_an_array_with_its_environment(
    local: LocalDeployment, flow_app: Any, worker: Worker
) -> None:
    # GIVEN the hourly schedule, which submits the worker as an array job of two
    # WHEN it fires and the job is played
    firing = local.fire_schedule(flow_app.hourly)
    results = local.play()

    # THEN it submitted one job whose two children got the schedule's environment
    assert firing.error is None and firing.job_id is not None
    assert [r.run.job_id for r in results] == [f"{firing.job_id}:0", f"{firing.job_id}:1"]
    assert [(r.job_name, r.array_index, r.environment["MODE"]) for r in worker.runs] == [
        ("HourlyReport", 0, "scheduled"),
        ("HourlyReport", 1, "scheduled"),
    ]
    assert local.aws.batch.status(firing.job_id) == "SUCCEEDED"


def test_workflow_schedule_starts_the_workflow_with_its_input(
    local: LocalDeployment, flow_app: Any, worker: Worker
) -> None:
    # GIVEN the nightly schedule, which starts the workflow with a fixed input
    # WHEN it fires and the execution's jobs are played
    firing = local.fire_schedule(flow_app.nightly)
    assert firing.execution_arn is not None
    result = local.wait_for_workflow(firing.execution_arn)

    # THEN the execution succeeded and its first job got the schedule's key
    assert result.status == "SUCCEEDED"
    assert worker.named("Load")[0].environment["S3_KEY"] == "incoming/nightly.csv"


def test_workflow_jobs_wait_for_their_dependencies_and_fail_when_one_failed(
    aws: LocalAws, local: LocalDeployment, flow_app: Any, worker: Worker
) -> None:
    # GIVEN jobs submitted straight to Batch: a failing job, an array of two, a job that
    # depends on the failing one, and arrays that depend on the array N_TO_N and in sequence
    batch = aws.client("batch")
    queue = local.job_queues[logical_id(flow_app.queue)]
    definition = local.job_definitions[logical_id(flow_app.worker)]

    def submit(name: str, **extra: Any) -> str:
        fail = {"environment": [{"name": "FAIL", "value": name}]} if name == "bad" else {}
        return str(
            batch.submit_job(
                jobName=name,
                jobQueue=queue,
                jobDefinition=definition,
                containerOverrides=fail,
                **extra,
            )["jobId"]
        )

    bad = submit("bad")
    first = submit("first", arrayProperties={"size": 2})
    after_bad = submit("after-bad", dependsOn=[{"jobId": bad}])
    paired = submit(
        "paired", arrayProperties={"size": 2}, dependsOn=[{"jobId": first, "type": "N_TO_N"}]
    )
    ordered = submit("ordered", arrayProperties={"size": 2}, dependsOn=[{"type": "SEQUENTIAL"}])

    # WHEN Batch plays them
    local.play()

    # THEN the job behind the failed one never ran and failed as AWS says,
    assert [r.job_name for r in worker.runs if r.job_name == "after-bad"] == []
    described = {j["jobId"]: j for j in batch.describe_jobs(jobs=[bad, after_bad, paired])["jobs"]}
    assert (described[bad]["status"], described[bad]["statusReason"]) == ("FAILED", EXIT_REASON)
    assert described[after_bad]["statusReason"] == DEPENDENCY_FAILED_REASON
    # each paired child ran after its partner, and the ordered children ran in order
    order = [r.job_id for r in worker.runs]
    for index in (0, 1):
        assert order.index(f"{first}:{index}") < order.index(f"{paired}:{index}")
    assert order.index(f"{ordered}:0") < order.index(f"{ordered}:1")
    assert described[paired]["status"] == "SUCCEEDED"
