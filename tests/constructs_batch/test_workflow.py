"""JobWorkflow and JobSchedule: the state machine, its least-privilege role, the schedules,
and every invalid configuration they refuse at synth."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Duration, Size, Stack, TimeZone
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from helpers import make_app

from constructs_batch import (
    BatchPlatform,
    BatchQueue,
    ContainerJob,
    MultiNodeJob,
    QueueCapacity,
    Sidecar,
)
from constructs_batch.testing import nag_findings
from constructs_batch.workflow import (
    BATCH_THROTTLING_ERRORS,
    JOB_FAILED_ERROR,
    JobSchedule,
    JobWorkflow,
    schedule_errors,
)

IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox:1.36")
SHARED_ARN = "arn:aws:batch:us-east-1:111122223333:job-queue/shared"


class Flows:
    """One stack: a platform, jobs, a three-step workflow with a topic, and two schedules."""

    def __init__(self) -> None:
        self.stack = Stack(make_app(), "WorkflowStack")
        self.platform = BatchPlatform(self.stack, "Platform", publish=False)
        self.load = ContainerJob(
            self.stack, "LoadJob", image=IMAGE, queue=self.platform.fargate_queue
        )
        self.fan = ContainerJob(
            self.stack, "FanJob", image=IMAGE, queue=self.platform.default_queue, vcpus=2
        )
        self.imported = BatchQueue.from_job_queue_arn(
            self.stack,
            "Shared",
            SHARED_ARN,
            capacity=QueueCapacity(fargate=False, vcpus=4, memory_mib=16_000),
        )
        key = kms.Key(self.stack, "TopicKey", enable_key_rotation=True)
        self.topic = sns.Topic(self.stack, "Failures", master_key=key, enforce_ssl=True)
        self.flow = JobWorkflow(self.stack, "Nightly", notify=self.topic)
        self.flow.define(
            self.flow.submit(
                "Load",
                job=self.load,
                queue=self.platform.fargate_queue,
                environment={"S3_KEY": sfn.JsonPath.string_at("$.key")},
            )
            .next(self.flow.submit("Fan", job=self.fan, queue=self.imported, array_size=3))
            .next(self.flow.submit("Report", job=self.load, queue=self.platform.fargate_queue))
        )
        self.nightly = JobSchedule(
            self.stack,
            "NightlyRun",
            schedule=scheduler.ScheduleExpression.cron(
                minute="0", hour="2", time_zone=TimeZone.EUROPE_PARIS
            ),
            workflow=self.flow,
            input={"key": "incoming/daily.csv"},
        )
        self.hourly = JobSchedule(
            self.stack,
            "HourlyReport",
            schedule=scheduler.ScheduleExpression.rate(Duration.hours(1)),
            job=self.load,
            queue=self.platform.fargate_queue,
            environment={"MODE": "report"},
            array_size=2,
        )
        self.template = Template.from_stack(self.stack).to_json()
        self.resources: dict[str, Any] = self.template["Resources"]

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def definition(self) -> dict[str, Any]:
        """The state machine's definition with every intrinsic replaced by ``<ref>``."""
        assert self.flow.state_machine is not None
        parts = self.resources[self.logical_id(self.flow.state_machine)]["Properties"][
            "DefinitionString"
        ]["Fn::Join"][1]
        text = "".join(p if isinstance(p, str) else "<ref>" for p in parts)
        definition: dict[str, Any] = json.loads(text)
        return definition

    def statements(self, role: Any) -> list[dict[str, Any]]:
        """Every statement of every policy attached to a role."""
        ref = {"Ref": self.logical_id(role)}
        return [
            statement
            for r in self.resources.values()
            if r["Type"] == "AWS::IAM::Policy" and ref in r["Properties"]["Roles"]
            for statement in r["Properties"]["PolicyDocument"]["Statement"]
        ]


@pytest.fixture(scope="module")
def flows() -> Flows:
    return Flows()


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _flat(value: Any) -> str:
    return json.dumps(value)


# --- the state machine ----------------------------------------------------------------------
def test_workflow_steps_run_batch_jobs_to_completion_in_order(flows: Flows) -> None:
    # GIVEN Load -> Fan (array of 3 on an imported queue) -> Report
    # WHEN the stack is synthesized
    branch = flows.definition()["States"]["Run workflow"]["Branches"][0]
    # THEN the branch runs the three submitJob.sync tasks in order
    assert branch["StartAt"] == "Load"
    assert [branch["States"][s].get("Next") for s in ("Load", "Fan", "Report")] == [
        "Fan",
        "Report",
        None,
    ]
    for name in ("Load", "Fan", "Report"):
        state = branch["States"][name]
        assert state["Resource"] == "arn:<ref>:states:::batch:submitJob.sync"
        assert state["ResultPath"] == f"$.jobs.{name}"
    assert branch["States"]["Fan"]["Parameters"]["ArrayProperties"] == {"Size": 3}


def test_workflow_step_input_reaches_the_job_environment(flows: Flows) -> None:
    # GIVEN environment={"S3_KEY": sfn.JsonPath.string_at("$.key")} on Load
    # WHEN the stack is synthesized
    load = flows.definition()["States"]["Run workflow"]["Branches"][0]["States"]["Load"]
    # THEN the override reads the key from the execution's input
    assert load["Parameters"]["ContainerOverrides"] == {
        "Environment": [{"Name": "S3_KEY", "Value.$": "$.key"}]
    }


def test_workflow_retries_throttling_but_not_job_failure(flows: Flows) -> None:
    # GIVEN any step
    # WHEN the stack is synthesized
    load = flows.definition()["States"]["Run workflow"]["Branches"][0]["States"]["Load"]
    # THEN Batch throttling is retried with jittered backoff and nothing else is
    assert load["Retry"] == [
        {
            "ErrorEquals": list(BATCH_THROTTLING_ERRORS),
            "IntervalSeconds": 1,
            "MaxAttempts": 6,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
        }
    ]


def test_workflow_failed_job_notifies_then_fails_with_the_status_reason(flows: Flows) -> None:
    # GIVEN notify=topic
    # WHEN the stack is synthesized
    states = flows.definition()["States"]
    # THEN a failed job is caught, published to the topic, and ends the execution with
    # BatchJobFailed and the job's status reason; any other failure is caught too
    catches = states["Run workflow"]["Catch"]
    assert [c["ErrorEquals"] for c in catches] == [["States.TaskFailed"], ["States.ALL"]]
    notify = states[catches[0]["Next"]]
    assert notify["Resource"] == "arn:<ref>:states:::sns:publish"
    assert notify["ResultPath"] is None
    describe = states[notify["Next"]]
    assert describe["Parameters"]["job.$"] == "States.StringToJson($.error.Cause)"
    fail = states[describe["Next"]]
    assert fail == {"Type": "Fail", "Error": JOB_FAILED_ERROR, "CausePath": "$.job.StatusReason"}


def test_workflow_logs_every_execution_and_traces(flows: Flows) -> None:
    # GIVEN any workflow
    # WHEN the stack is synthesized
    assert flows.flow.state_machine is not None
    props = flows.resources[flows.logical_id(flows.flow.state_machine)]["Properties"]
    # THEN logs are ALL with execution data, X-Ray is on, and executions time out
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert "TimeoutSeconds" in _flat(props["DefinitionString"])


# --- least privilege ------------------------------------------------------------------------
def test_workflow_role_may_submit_only_the_steps_jobs_and_queues(flows: Flows) -> None:
    # GIVEN the workflow's role
    statements = flows.statements(flows.flow.role)
    submit = [s for s in statements if "batch:SubmitJob" in _actions(s)]
    resources = _flat([s["Resource"] for s in submit])
    # THEN SubmitJob names the steps' queues and job-definition/<name>:*, never a wildcard
    # over every job definition
    assert SHARED_ARN in resources
    assert flows.logical_id(flows.platform.fargate_queue.job_queue) in resources
    assert "job-definition/*" not in resources
    assert resources.count(":*") >= 2  # every revision of each of the two job definitions
    assert all(_actions(s) == ["batch:SubmitJob"] for s in submit)


def test_workflow_role_has_only_what_sync_needs_besides(flows: Flows) -> None:
    # GIVEN the workflow's role
    statements = flows.statements(flows.flow.role)
    by_action = {a: s["Resource"] for s in statements for a in _actions(s)}
    # THEN DescribeJobs (no resource-level permission) is the only Batch action on *,
    # TerminateJob is on job/*, and the events actions name the managed rule
    assert by_action["batch:DescribeJobs"] == "*"
    assert _flat(by_action["batch:TerminateJob"]).endswith(':job/*"]]}')
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        assert "rule/StepFunctionsGetEventsForBatchJobsRule" in _flat(by_action[action])
    assert {a for a, r in by_action.items() if r == "*" and a.startswith("batch:")} == {
        "batch:DescribeJobs"
    }
    assert "sns:Publish" in by_action


def test_workflow_stack_passes_cdk_nag(flows: Flows) -> None:
    # GIVEN the workflow and schedules
    # THEN every finding is acknowledged next to its statement
    assert nag_findings(flows.stack) == []


# --- schedules -------------------------------------------------------------------------------
def test_schedule_starts_the_workflow_in_its_time_zone(flows: Flows) -> None:
    # GIVEN a nightly cron schedule in Europe/Paris for the workflow
    props = flows.resources[flows.logical_id(flows.nightly.schedule)]["Properties"]
    # THEN it fires at 02:00 Paris time with the input, retries and a dead-letter queue
    assert props["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "Europe/Paris"
    target = props["Target"]
    assert json.loads(target["Input"]) == {"key": "incoming/daily.csv"}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 3}
    assert "DeadLetterConfig" in target


def test_schedule_role_may_only_start_its_workflow(flows: Flows) -> None:
    # GIVEN the nightly schedule's role
    actions = {a for s in flows.statements(flows.nightly.role) for a in _actions(s)}
    # THEN it starts the state machine and writes to its dead-letter queue, nothing else
    assert "states:StartExecution" in actions
    assert not [a for a in actions if a.startswith("batch:")]
    assert {a for a in actions if not a.startswith(("states:", "sqs:"))} == set()


def test_schedule_submits_one_job_with_its_own_role(flows: Flows) -> None:
    # GIVEN an hourly schedule that submits the load job as an array of 2
    props = flows.resources[flows.logical_id(flows.hourly.schedule)]["Properties"]
    target = props["Target"]
    # THEN the target is Batch's SubmitJob with the job, queue and overrides
    assert "aws-sdk:batch:submitJob" in _flat(target["Arn"])
    request = _flat(target["Input"])
    assert '\\"ArrayProperties\\":{\\"Size\\":2}' in request
    assert '{\\"Name\\":\\"MODE\\",\\"Value\\":\\"report\\"}' in request
    # AND its own role may submit only that job to that queue (no * resource)
    submit = [s for s in flows.statements(flows.hourly.role) if "batch:SubmitJob" in _actions(s)]
    assert submit and all(s["Resource"] != "*" for s in submit)
    assert props["Target"]["RoleArn"] == {
        "Fn::GetAtt": [flows.logical_id(flows.hourly.role), "Arn"]
    }


# --- invalid configurations ------------------------------------------------------------------
def _step(flows: Flows, **kwargs: Any) -> None:
    flow = JobWorkflow(flows.stack, f"Bad{next(_ids)}")
    arguments = {"job": flows.load, "queue": flows.platform.fargate_queue, **kwargs}
    flow.submit("Step", **arguments)


_ids = iter(range(10_000))

STEP_CASES: list[tuple[str, Callable[[Flows], object], str]] = [
    (
        "job too large for an imported queue",
        lambda f: _step(
            f,
            job=ContainerJob(f.stack, f"BigJob{next(_ids)}", image=IMAGE, vcpus=8),
            queue=f.imported,
        ),
        r"vcpus must be at most 4 to run on queue Shared",
    ),
    (
        "EC2 job on a Fargate queue",
        lambda f: _step(f, job=f.fan),
        "fargate must be True to run on queue FargateQueue",
    ),
    ("array of 1", lambda f: _step(f, array_size=1), "array_size must be between 2 and 10000"),
    (
        "array of 10,001",
        lambda f: _step(f, array_size=10_001),
        "array_size must be between 2 and 10000, got 10001",
    ),
    (
        "array size that is not a JsonPath",
        lambda f: _step(f, array_size="3"),
        "array_size must be a whole number or a JsonPath",
    ),
    (
        "21 dependencies",
        lambda f: _step(f, depends_on=[f"id{i}" for i in range(21)]),
        "depends_on must hold at most 20 jobs",
    ),
    (
        "reserved environment name",
        lambda f: _step(f, environment={"AWS_BATCH_X": "1"}),
        "environment names must not start with AWS_BATCH, got 'AWS_BATCH_X'",
    ),
    (
        "job name Batch refuses",
        lambda f: _step(f, job_name="-load me"),
        "job_name must be 1 to 128 letters, digits, hyphens and underscores",
    ),
    (
        "share identifier on a first-in-first-out queue",
        lambda f: _step(f, share_identifier="teamA"),
        "share_identifier must be None on queue FargateQueue, which has no fair-share policy",
    ),
    (
        "priority without a share",
        lambda f: _step(f, scheduling_priority=5),
        "scheduling_priority needs share_identifier",
    ),
    (
        "array size of a float",
        lambda f: _step(f, array_size=1.5),
        r"array_size must be int \| str \| None, got 1.5 \(float\)",
    ),
    (
        "multi-node job as an array job",
        lambda f: _step(
            f,
            job=MultiNodeJob(
                f.stack,
                f"Mnp{next(_ids)}",
                image=IMAGE,
                instance_type=ec2.InstanceType("c6i.large"),
                nodes=2,
            ),
            queue=f.platform.default_queue,
            array_size=2,
        ),
        "array_size must be None for the multi-node job .* multi-node array jobs",
    ),
    (
        "environment for a job with a sidecar",
        lambda f: _step(
            f,
            job=ContainerJob(
                f.stack,
                f"WithAgent{next(_ids)}",
                image=IMAGE,
                queue=f.platform.fargate_queue,
                vcpus=0.5,
                sidecars=[
                    Sidecar(name="agent", image=IMAGE, vcpus=0.5, memory=Size.mebibytes(1024))
                ],
            ),
            environment={"MODE": "x"},
        ),
        "environment must be empty for the multi-container job",
    ),
    (
        "timeout under a minute",
        lambda f: _step(f, timeout=Duration.seconds(30)),
        "timeout must be at least 60 seconds, got 30 seconds",
    ),
]


@pytest.mark.parametrize(("name", "build", "message"), STEP_CASES, ids=[c[0] for c in STEP_CASES])
def test_workflow_step_refuses_what_aws_refuses(
    flows: Flows, name: str, build: Callable[[Flows], object], message: str
) -> None:
    # GIVEN an invalid step
    # WHEN it is added to a workflow
    # THEN a ValueError names the argument, the bad value and what is allowed
    with pytest.raises(ValueError, match=message):
        build(flows)


def test_workflow_needs_a_share_identifier_on_a_fair_share_queue(flows: Flows) -> None:
    # GIVEN a fair-share queue
    queue = BatchQueue(
        flows.stack, "FairShare", environments=[flows.platform.spot], fair_share=True
    )
    job = ContainerJob(flows.stack, "OnFairShare", image=IMAGE, queue=queue)
    # WHEN a step submits to it without a share identifier
    # THEN it is refused, and accepted with one
    with pytest.raises(ValueError, match="share_identifier is required on queue FairShare"):
        JobWorkflow(flows.stack, "NoShare").submit("S", job=job, queue=queue)
    JobWorkflow(flows.stack, "WithShare").submit(
        "S", job=job, queue=queue, share_identifier="teamA", scheduling_priority=10
    )


def test_workflow_submit_after_define_and_define_twice_are_refused(flows: Flows) -> None:
    # GIVEN a defined workflow
    flow = JobWorkflow(flows.stack, "Done")
    flow.define(flow.submit("Only", job=flows.load, queue=flows.platform.fargate_queue))
    # THEN steps cannot be added after, nor a second definition made
    with pytest.raises(ValueError, match=r"submit\('Late'\) must come before define\(\)"):
        flow.submit("Late", job=flows.load, queue=flows.platform.fargate_queue)
    with pytest.raises(ValueError, match=r"define\(\) may be called once on Done"):
        flow.define(sfn.Pass(flows.stack, "Again"))


def test_workflow_never_defined_fails_at_synth() -> None:
    # GIVEN a workflow whose define() was forgotten
    stack = Stack(make_app(), "Undefined")
    JobWorkflow(stack, "Forgotten")
    # WHEN the stack is synthesized
    # THEN synth fails naming the workflow
    with pytest.raises(Exception, match="JobWorkflow Forgotten has no state machine"):
        Template.from_stack(stack)


@pytest.mark.parametrize(
    ("expression", "zone", "message"),
    [
        ("cron(99 2 * * ? *)", "", "schedule cron minutes must be 0-59"),
        ("cron(0 25 * * ? *)", "", "schedule cron hours must be 0-23"),
        ("cron(0 2 32 * ? *)", "", "schedule cron day-of-month must be 1-31"),
        ("cron(0 2 ? 13 MON *)", "", "schedule cron month must be 1-12 or JAN-DEC"),
        ("cron(0 2 ? * 8 *)", "", "schedule cron day-of-week must be 1-7 or SUN-SAT"),
        ("cron(0 2 ? * * 1969)", "", "schedule cron year must be 1970-2199"),
        ("cron(0 2 * * * *)", "", "must have \\? in exactly one of day-of-month and day-of-week"),
        ("cron(0 2 ? * ? *)", "", "must have \\? in exactly one of day-of-month and day-of-week"),
        ("cron(0 2 * *)", "", "schedule cron must have 6 fields"),
        ("cron(0 2 ? * 3#1,6#3 *)", "", "day-of-week with # takes one value only"),
        ("rate(0 minutes)", "", "schedule rate must be a whole number of at least 1"),
        ("rate(30 seconds)", "", "schedule rate unit must be one of minute, minutes"),
        ("at(2027-13-01T00:00:00)", "", r"schedule at\(\) must be at\(yyyy-mm-ddThh:mm:ss\)"),
        ("every day", "", "schedule must be rate"),
        ("cron(0 2 * * ? *)", "Mars/Base", "schedule time zone must be an IANA time zone name"),
    ],
)
def test_schedule_expression_aws_refuses_is_an_error(
    expression: str, zone: str, message: str
) -> None:
    # GIVEN an expression or time zone EventBridge Scheduler refuses
    # WHEN it is checked
    # THEN the error names the schedule and what is wrong
    errors = schedule_errors(expression, zone)
    assert errors and re.search(message, "; ".join(errors)), errors


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 2 * * ? *)",
        "cron(0/15 9-17 ? * MON-FRI *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(0 8 ? * 2#1 2026-2030)",
        "cron(30 6 ? JAN,JUL 6L *)",
        "rate(1 minute)",
        "rate(36 hours)",
        "rate(2 days)",
        "at(2027-01-31T23:59:00)",
    ],
)
def test_schedule_expression_aws_accepts_passes(expression: str) -> None:
    # GIVEN an expression EventBridge Scheduler accepts
    # THEN nothing is reported
    assert schedule_errors(expression, "Europe/Paris") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "JobSchedule needs either workflow .* or job with queue .*got neither"),
        ({"workflow": "flow", "job": "load"}, "got both"),
        ({"job": "load"}, "queue is required with job"),
        ({"workflow": "flow", "environment": {"A": "1"}}, "environment only go with job"),
        ({"job": "load", "queue": "fargate", "input": {"a": 1}}, "input only goes with workflow"),
        ({"workflow": "flow", "retry_attempts": 186}, "retry_attempts must be between 0 and 185"),
        (
            {"workflow": "flow", "max_event_age": Duration.seconds(30)},
            "max_event_age must be between 60 and 86400 seconds, got 30 seconds",
        ),
        (
            {"workflow": "flow", "flexible_window": Duration.days(2)},
            "flexible_window must be between 60 and 86400 seconds",
        ),
        (
            {
                "workflow": "flow",
                "schedule": scheduler.ScheduleExpression.expression("cron(0 2 * * * *)"),
            },
            "must have \\? in exactly one of day-of-month and day-of-week",
        ),
    ],
)
def test_schedule_refuses_invalid_arguments(
    flows: Flows, kwargs: dict[str, Any], message: str
) -> None:
    # GIVEN invalid schedule arguments
    names = {"flow": flows.flow, "load": flows.load, "fargate": flows.platform.fargate_queue}
    arguments = {k: names.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    arguments.setdefault("schedule", scheduler.ScheduleExpression.rate(Duration.hours(1)))
    # WHEN the schedule is built
    # THEN a ValueError names what is wrong
    with pytest.raises(ValueError, match=message):
        JobSchedule(flows.stack, f"BadSchedule{next(_ids)}", **arguments)


def test_schedule_refuses_an_undefined_workflow(flows: Flows) -> None:
    # GIVEN a workflow whose state machine is not built yet
    flow = JobWorkflow(flows.stack, "NotYet")
    # WHEN a schedule is to start it
    # THEN the error says to define it first
    with pytest.raises(ValueError, match="workflow NotYet must be defined"):
        JobSchedule(
            flows.stack,
            "TooEarly",
            schedule=scheduler.ScheduleExpression.rate(Duration.hours(1)),
            workflow=flow,
        )
    flow.define(flow.submit("S", job=flows.load, queue=flows.platform.fargate_queue))


def test_schedule_submission_is_checked_for_placement(flows: Flows) -> None:
    # GIVEN a job too large for the imported queue
    big = ContainerJob(flows.stack, "Huge", image=IMAGE, vcpus=16, memory=Size.gibibytes(8))
    # WHEN a schedule submits it there
    # THEN it fails at synth like grant_submit
    with pytest.raises(ValueError, match="vcpus must be at most 4 to run on queue Shared"):
        JobSchedule(
            flows.stack,
            "HugeSchedule",
            schedule=scheduler.ScheduleExpression.rate(Duration.hours(1)),
            job=big,
            queue=flows.imported,
        )


def test_schedule_time_zone_argument_sets_the_zone() -> None:
    # GIVEN a cron expression made without a zone (aws-cdk-lib gives it UTC) and
    # time_zone=Europe/Paris
    stack = Stack(make_app(), "ParisStack")
    platform = BatchPlatform(stack, "Platform", publish=False)
    job = ContainerJob(stack, "Job", image=IMAGE, queue=platform.fargate_queue)
    flow = JobWorkflow(stack, "Flow")
    flow.define(flow.submit("Run", job=job, queue=platform.fargate_queue))
    schedule = JobSchedule(
        stack,
        "ParisMorning",
        schedule=scheduler.ScheduleExpression.cron(minute="30", hour="7"),
        time_zone=TimeZone.EUROPE_PARIS,
        workflow=flow,
    )
    # WHEN the stack is synthesized
    logical_id = stack.get_logical_id(schedule.schedule.node.default_child)  # type: ignore[arg-type]
    props = Template.from_stack(stack).to_json()["Resources"][logical_id]["Properties"]
    # THEN the schedule fires in Paris time
    assert (props["ScheduleExpression"], props["ScheduleExpressionTimezone"]) == (
        "cron(30 7 * * ? *)",
        "Europe/Paris",
    )


def test_schedule_time_zone_must_agree_with_the_expressions(flows: Flows) -> None:
    # GIVEN an expression in Tokyo time and time_zone=Europe/Paris
    # WHEN the schedule is built
    # THEN the disagreement is refused
    with pytest.raises(
        ValueError,
        match=r"time_zone must match the schedule's own time zone "
        r"\(Asia/Tokyo\), got Europe/Paris",
    ):
        JobSchedule(
            flows.stack,
            "Disagree",
            schedule=scheduler.ScheduleExpression.cron(hour="7", time_zone=TimeZone.ASIA_TOKYO),
            time_zone=TimeZone.EUROPE_PARIS,
            workflow=flows.flow,
        )


def test_schedule_on_a_fair_share_queue_needs_and_sends_a_share(flows: Flows) -> None:
    # GIVEN a fair-share queue and a job for it
    queue = BatchQueue(
        flows.stack, "ScheduledShares", environments=[flows.platform.spot], fair_share=True
    )
    job = ContainerJob(flows.stack, "ShareJob", image=IMAGE, queue=queue)
    hourly = scheduler.ScheduleExpression.rate(Duration.hours(1))
    # WHEN it is scheduled without a share identifier, THEN it is refused
    with pytest.raises(ValueError, match="share_identifier is required on queue ScheduledShares"):
        JobSchedule(flows.stack, "ScheduleNoShare", schedule=hourly, job=job, queue=queue)
    # AND with one, the submission carries it
    schedule = JobSchedule(
        flows.stack,
        "ScheduleWithShare",
        schedule=hourly,
        job=job,
        queue=queue,
        share_identifier="teamA",
        scheduling_priority=5,
    )
    request = flows.stack.resolve(schedule.schedule.node.default_child.target)  # type: ignore[union-attr]
    assert '\\"ShareIdentifier\\":\\"teamA\\"' in json.dumps(request)
