"""Workflows of Batch jobs on Step Functions, and schedules that start them.

:class:`JobWorkflow` builds a state machine whose steps run Batch jobs to completion
(``submitJob.sync``), checked at synth like ``grant_submit``: each step's job must fit
its queue (local, imported or looked up). The state machine's role may submit each
step's job definition (every revision) and queue and do what ``.sync`` needs, nothing
more. Batch API throttling is retried with backoff; a failed job fails the execution
with the job's status reason, and notifies a topic when one is given. Executions are
logged (ALL) and traced.

:class:`JobSchedule` starts a workflow, or submits one job to one queue, on an
EventBridge Scheduler schedule whose expression is checked at synth.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import jsii
from aws_cdk import Acknowledgment, Aws, Duration, Stack, TimeZone, Token, Validations
from aws_cdk import aws_batch as batch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IValidation

from constructs_batch import limits
from constructs_batch._arguments import checked_arguments
from constructs_batch._kms import allow_log_encryption
from constructs_batch._nag import nag_value
from constructs_batch.multinode import MultiNodeJob
from constructs_batch.queue import IBatchQueue, as_batch_queue

__all__ = [
    "BATCH_THROTTLING_ERRORS",
    "DEFAULT_SCHEDULE_MAX_EVENT_AGE",
    "DEFAULT_SCHEDULE_RETRY_ATTEMPTS",
    "DEFAULT_WORKFLOW_TIMEOUT",
    "JOB_FAILED_ERROR",
    "SUBMIT_FAILED_ERROR",
    "JobSchedule",
    "JobWorkflow",
    "SubmittableJob",
    "schedule_errors",
]

#: An execution that runs a day is stopped: longer than any job's own timeout chain
#: should need, far shorter than Step Functions' one-year maximum.
DEFAULT_WORKFLOW_TIMEOUT = Duration.hours(24)
#: Error names a throttled or briefly unavailable Batch API gives a submitJob task (AWS
#: reports throttling under more than one name; the emulator uses the error code).
BATCH_THROTTLING_ERRORS = (
    "Batch.AWSBatchException",
    "Batch.TooManyRequestsException",
    "Batch.ServerException",
)
#: Throttling retries: 1 s doubling, full jitter, 6 attempts (about a minute at most).
THROTTLING_RETRY_INTERVAL = Duration.seconds(1)
THROTTLING_RETRY_ATTEMPTS = 6
THROTTLING_BACKOFF_RATE = 2.0
#: The error of a failed execution: a job failed (cause: its status reason), or a step
#: failed otherwise (cause: what the service said).
JOB_FAILED_ERROR = "BatchJobFailed"
SUBMIT_FAILED_ERROR = "WorkflowStepFailed"
#: The state that runs the workflow's chain and catches its failures.
RUN_STATE = "Run workflow"
#: Scheduler target retries and how old an event may get before it goes to the DLQ.
DEFAULT_SCHEDULE_RETRY_ATTEMPTS = 3
DEFAULT_SCHEDULE_MAX_EVENT_AGE = Duration.hours(2)
#: The managed EventBridge rule Step Functions uses to learn a Batch job finished.
SYNC_EVENTS_RULE = "StepFunctionsGetEventsForBatchJobsRule"
#: Job names (SubmitJob API): up to 128 letters, digits, hyphens and underscores, the
#: first a letter or digit.
JOB_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
#: Scheduling priority override (SubmitJob API): 0-9999, fair-share queues only.
MAX_SCHEDULING_PRIORITY = 9999


class SubmittableJob(Protocol):
    """A job a workflow step or a schedule can submit: a ``ContainerJob`` (or any job with
    a job definition and ``grant_submit``)."""

    @property
    def node(self) -> Any: ...

    @property
    def job_definition(self) -> batch.IJobDefinition: ...

    def grant_submit(self, grantee: iam.IGrantable, queue: Any) -> iam.Grant:
        """Grant SubmitJob of this job to the queue, after checking it fits."""
        ...


class JobWorkflow(Construct):
    """A Step Functions state machine of Batch jobs, least privilege, checked at synth.

    ::

        flow = JobWorkflow(self, "Nightly", notify=topic)
        load = flow.submit("Load", job=loader, queue=queue,
                           environment={"S3_KEY": sfn.JsonPath.string_at("$.key")})
        fan = flow.submit("Fan", job=worker, queue=queue, array_size=10)
        flow.define(load.next(fan).next(flow.submit("Report", job=report, queue=queue)))

    Steps are ``sfn`` states: ``.next()``, ``sfn.Parallel`` and ``sfn.Choice`` compose
    them as usual. Each passes its input on, with the job's outcome added under
    ``$.jobs.<step id>`` (or ``result_path``), so a later step can read
    ``$.jobs.Load.JobId``. The chain runs in one branch of a Parallel that catches
    failures: a failed job ends the execution FAILED with error ``BatchJobFailed`` and
    the job's status reason as cause; any other failure (a refused submission after
    the throttling retries) with ``WorkflowStepFailed``. Both publish to ``notify``
    first when it is given.

    Attributes:
        state_machine: the state machine (after :meth:`define`).
        role: the state machine's role.
        log_group: where executions are logged (level ALL, with execution data).
    """

    @checked_arguments
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        timeout: Duration = DEFAULT_WORKFLOW_TIMEOUT,
        notify: sns.ITopic | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        log_encryption_key: kms.IKey | None = None,
    ) -> None:
        """Create the workflow's role and log group; steps come with :meth:`submit`.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            timeout: stop an execution that runs longer. Default: 24 hours.
            notify: an SNS topic told about every failed execution (the role may
                publish to it). Default: None.
            log_retention: how long execution logs are kept. Default: one month.
            log_encryption_key: a customer-managed KMS key for the log group.
                Default: None (CloudWatch Logs' own encryption).
        """
        seconds = timeout.to_seconds()
        limits.raise_if_errors(limits.check_at_least("timeout", seconds, 1))
        super().__init__(scope, construct_id)
        self._timeout = timeout
        self._notify = notify
        self.state_machine: sfn.StateMachine | None = None
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs the workflow's Batch jobs",
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, encryption_key=log_encryption_key
        )
        if log_encryption_key is not None:
            allow_log_encryption(self, log_encryption_key)
        self._sync_policy: iam.Policy | None = None
        self._steps = 0
        self.node.add_validation(_DefinedValidation(self))

    @checked_arguments
    def submit(
        self,
        construct_id: str,
        *,
        job: SubmittableJob,
        queue: IBatchQueue | batch.IJobQueue,
        array_size: int | str | None = None,
        environment: Mapping[str, str] | None = None,
        job_name: str | None = None,
        depends_on: Sequence[str] = (),
        share_identifier: str | None = None,
        scheduling_priority: int | None = None,
        timeout: Duration | None = None,
        result_path: str | None = None,
    ) -> sfn.CustomState:
        """A step that submits ``job`` to ``queue`` and waits for it to finish.

        Args:
            construct_id: the step's id (also its state name).
            job: the job (a ``ContainerJob``); it must fit ``queue``.
            queue: the queue (anything ``ContainerJob(queue=...)`` accepts).
            array_size: run an array job of this many children, 2 to 10,000, or a
                JsonPath (``sfn.JsonPath.number_at("$.parts")``). Default: None.
            environment: environment overrides; values may be JsonPaths
                (``sfn.JsonPath.string_at("$.key")``). Names must not start with
                ``AWS_BATCH``. Default: None.
            job_name: the job's name (128 letters, digits, ``-``, ``_``). Default:
                the step id made valid.
            depends_on: job ids (JsonPaths to earlier steps' results) this job waits
                for, at most 20. Default: none.
            share_identifier: the share of a fair-share queue; required there,
                refused on a first-in-first-out queue (when the queue is known).
                Default: None.
            scheduling_priority: priority within the share, 0 to 9999 (with
                ``share_identifier``). Default: the job definition's.
            timeout: attempt timeout override, at least 60 s. Default: the job
                definition's.
            result_path: where the job's outcome (``JobId``, ``JobName``, ``Status``)
                goes in the state. Default: ``$.jobs.<step id>`` (the rest of the input
                passes on to the next step unchanged).

        Raises:
            ValueError: listing every problem, including every reason the job can
                never run on ``queue``.
        """
        if self.state_machine is not None:
            raise ValueError(
                f"submit({construct_id!r}) must come before define(): the state machine of "
                f"{self.node.id} is already built"
            )
        target = as_batch_queue(queue)
        name = job_name or _job_name(construct_id)
        limits.raise_if_errors(
            _step_errors(
                job,
                target,
                job_name=name,
                array_size=array_size,
                environment=environment or {},
                depends_on=depends_on,
                share_identifier=share_identifier,
                scheduling_priority=scheduling_priority,
                timeout=timeout,
            )
        )
        # Placement (deferred for a pending lookup) and SubmitJob on the queue and on
        # every revision of the job definition: the grant a submitter gets.
        job.grant_submit(self.role, target)
        self._allow_sync()
        parameters: dict[str, Any] = {
            "JobName": name,
            "JobQueue": target.job_queue.job_queue_arn,
            "JobDefinition": job.job_definition.job_definition_arn,
        }
        if environment:
            parameters["ContainerOverrides"] = {
                "Environment": [{"Name": k, "Value": v} for k, v in environment.items()]
            }
        if array_size is not None:
            parameters["ArrayProperties"] = {"Size": array_size}
        if depends_on:
            parameters["DependsOn"] = [{"JobId": job_id} for job_id in depends_on]
        if share_identifier is not None:
            parameters["ShareIdentifier"] = share_identifier
        if scheduling_priority is not None:
            parameters["SchedulingPriorityOverride"] = scheduling_priority
        if timeout is not None:
            parameters["Timeout"] = {"AttemptDurationSeconds": int(timeout.to_seconds())}
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": f"arn:{Aws.PARTITION}:states:::batch:submitJob.sync",
            "Parameters": sfn.FieldUtils.render_object(parameters),
            "ResultSelector": {
                "JobId.$": "$.JobId",
                "JobName.$": "$.JobName",
                "Status.$": "$.Status",
            },
            "ResultPath": result_path or f"$.jobs.{_json_key(construct_id)}",
        }
        step = sfn.CustomState(self, construct_id, state_json=state)
        step.add_retry(
            errors=list(BATCH_THROTTLING_ERRORS),
            interval=THROTTLING_RETRY_INTERVAL,
            max_attempts=THROTTLING_RETRY_ATTEMPTS,
            backoff_rate=THROTTLING_BACKOFF_RATE,
            jitter_strategy=sfn.JitterType.FULL,
        )
        self._steps += 1
        return step

    def define(self, chain: sfn.IChainable) -> sfn.StateMachine:
        """Build the state machine that runs ``chain`` (made of this workflow's steps).

        Raises:
            ValueError: if it was defined already.
        """
        if self.state_machine is not None:
            raise ValueError(f"define() may be called once on {self.node.id}")
        # The workflow's own states live under their own construct and have state names
        # with spaces, so no step id a user picks can collide with them.
        control = Construct(self, "Control")
        body = sfn.Parallel(control, "Run", state_name=RUN_STATE, output_path="$[0]")
        body.branch(chain)
        body.add_catch(
            self._failure(control, "Job", JOB_FAILED_ERROR, parse_job=True),
            errors=["States.TaskFailed"],
            result_path="$.error",
        )
        body.add_catch(
            self._failure(control, "Step", SUBMIT_FAILED_ERROR, parse_job=False),
            errors=["States.ALL"],
            result_path="$.error",
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(body),
            role=self.role,
            timeout=self._timeout,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            tracing_enabled=True,
        )
        self._acknowledge_service_wildcards()
        return self.state_machine

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions of this workflow (after :meth:`define`)."""
        if self.state_machine is None:
            raise ValueError(f"define() {self.node.id} before granting its execution")
        return self.state_machine.grant_start_execution(grantee)

    # --- parts ---------------------------------------------------------------------------
    def _failure(
        self, scope: Construct, prefix: str, error: str, *, parse_job: bool
    ) -> sfn.IChainable:
        """Notify (when asked), then fail the execution with ``error`` and a readable cause."""
        what = prefix.lower()
        if parse_job:
            # The cause of a failed .sync task is the job's description as JSON.
            cause = sfn.Pass(
                scope,
                f"{prefix}Description",
                state_name=f"Describe failed {what}",
                parameters={
                    "error.$": "$.error",
                    "job.$": "States.StringToJson($.error.Cause)",
                },
            )
            cause_path = "$.job.StatusReason"
        else:
            cause_path = "$.error.Cause"
        fail = sfn.Fail(
            scope,
            f"{prefix}Failed",
            state_name=f"{prefix} failed",
            error=error,
            cause_path=cause_path,
        )
        chain: sfn.IChainable = cause.next(fail) if parse_job else fail
        if self._notify is None:
            return chain
        publish = tasks.SnsPublish(
            scope,
            f"Notify{prefix}Failed",
            state_name=f"Notify {what} failed",
            topic=self._notify,
            subject=f"Workflow {self.node.id} failed",
            message=sfn.TaskInput.from_object(
                {
                    "workflow": self.node.path,
                    "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
                    "error": sfn.JsonPath.string_at("$.error.Error"),
                    "cause": sfn.JsonPath.string_at("$.error.Cause"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        return publish.next(chain)

    def _allow_sync(self) -> None:
        """What ``submitJob.sync`` needs beyond SubmitJob, once, in a policy of its own."""
        if self._sync_policy is not None:
            return
        stack = Stack.of(self)
        job_arns = stack.format_arn(service="batch", resource="job", resource_name="*")
        self._sync_policy = iam.Policy(
            self,
            "BatchSyncPolicy",
            roles=[self.role],
            statements=[
                # No resource-level permissions (Batch service authorization reference).
                iam.PolicyStatement(actions=["batch:DescribeJobs"], resources=["*"]),
                # Stopping an execution terminates its job, whose id is known at run time.
                iam.PolicyStatement(
                    actions=["batch:TerminateJob"],
                    resources=[job_arns],
                ),
                # The rule Step Functions manages to hear that a job finished.
                iam.PolicyStatement(
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    resources=[
                        stack.format_arn(
                            service="events", resource="rule", resource_name=SYNC_EVENTS_RULE
                        )
                    ],
                ),
            ],
        )
        for finding, reason in (
            (
                "Resource::*",
                "batch:DescribeJobs supports no resource-level permission; .sync polls the "
                "job it submitted with it",
            ),
            (
                f"Resource::{nag_value(self, job_arns)}",
                "batch:TerminateJob on the job the execution submitted, whose id exists only "
                "at run time; Step Functions terminates it when an execution is stopped",
            ),
        ):
            Validations.of(self._sync_policy).acknowledge(
                Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=reason)
            )

    def _acknowledge_service_wildcards(self) -> None:
        policy = self.role.node.try_find_child("DefaultPolicy")
        if policy is None:
            return
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Execution logging (logs:CreateLogDelivery and the other log delivery "
                "actions) and X-Ray tracing (xray:PutTraceSegments...) support no "
                "resource-level permission; Step Functions adds them for the ALL logs and "
                "tracing the workflow has",
            )
        )
        if self._notify is not None and self._notify.master_key is not None:
            Validations.of(policy).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                    reason="Publishing to the encrypted notification topic needs data keys "
                    "of its key only (the grant names that key)",
                )
            )


@jsii.implements(IValidation)
class _DefinedValidation:
    """At synth: a workflow whose state machine was never defined is a mistake."""

    def __init__(self, workflow: JobWorkflow) -> None:
        self._workflow = workflow

    def validate(self) -> list[str]:
        if self._workflow.state_machine is not None:
            return []
        return [
            f"JobWorkflow {self._workflow.node.id} has no state machine: call "
            "define(chain) with its steps"
        ]


class JobSchedule(Construct):
    """An EventBridge Scheduler schedule that starts a workflow, or submits one job.

    ::

        JobSchedule(self, "Nightly", schedule=scheduler.ScheduleExpression.cron(
            hour="2", minute="0", time_zone=TimeZone.EUROPE_PARIS), workflow=flow)
        JobSchedule(self, "Hourly", schedule=scheduler.ScheduleExpression.rate(
            Duration.hours(1)), job=report, queue=queue)

    The schedule's target retries ``retry_attempts`` times over at most
    ``max_event_age`` and then sends the event to a dead-letter queue. Its role may do
    one thing: start that workflow, or submit that job to that queue (after the same
    placement check as ``grant_submit``), and send to the dead-letter queue.

    Attributes:
        schedule: the ``aws_scheduler.Schedule``.
        role: the role the schedule's target runs as.
        dead_letter_queue: where events that could not be delivered go.
    """

    @checked_arguments
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        schedule: scheduler.ScheduleExpression,
        workflow: JobWorkflow | None = None,
        job: SubmittableJob | None = None,
        queue: IBatchQueue | batch.IJobQueue | None = None,
        input: Mapping[str, Any] | None = None,
        environment: Mapping[str, str] | None = None,
        array_size: int | None = None,
        job_name: str | None = None,
        share_identifier: str | None = None,
        scheduling_priority: int | None = None,
        time_zone: TimeZone | None = None,
        retry_attempts: int = DEFAULT_SCHEDULE_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_SCHEDULE_MAX_EVENT_AGE,
        dead_letter_queue: sqs.IQueue | None = None,
        flexible_window: Duration | None = None,
        description: str | None = None,
        enabled: bool = True,
    ) -> None:
        """Create the schedule, its role and its dead-letter queue.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            schedule: ``ScheduleExpression.rate(...)``, ``.cron(...)``, ``.at(...)`` or
                ``.expression(...)``; checked against what EventBridge Scheduler accepts.
            workflow: the workflow to start (defined). Not with ``job``.
            job: the job to submit, with ``queue``. Not with ``workflow``.
            queue: where ``job`` is submitted (anything ``ContainerJob(queue=...)``
                accepts).
            input: the execution input of ``workflow``. Default: ``{}``.
            environment: environment overrides of ``job``. Default: None.
            array_size: submit ``job`` as an array job of this size (2-10,000).
                Default: None.
            job_name: the submitted job's name. Default: the construct id made valid.
            share_identifier: the share of the submitted job, required on a fair-share
                queue and refused on a first-in-first-out one. Default: None.
            scheduling_priority: its priority within the share, 0 to 9999.
                Default: the job definition's.
            time_zone: the time zone of a cron or at expression; also taken from
                ``schedule``. Default: the expression's, else UTC.
            retry_attempts: retries of a failed delivery, 0 to 185. Default: 3.
            max_event_age: how long a delivery is retried, 1 minute to 24 hours.
                Default: 2 hours.
            dead_letter_queue: where undeliverable events go. Default: a new queue
                (encrypted, 14 days).
            flexible_window: let the schedule fire up to this late, 1 to 1,440
                minutes, to spread load. Default: None (on time).
            description: the schedule's description. Default: None.
            enabled: whether the schedule fires. Default: True.

        Raises:
            ValueError: listing every invalid argument.
        """
        expression = schedule.expression_string
        zone = _time_zone_name(time_zone, schedule.time_zone)
        errors = schedule_errors(expression, zone)
        target_queue = as_batch_queue(queue, "queue") if queue is not None else None
        errors += _target_errors(
            workflow,
            job,
            target_queue,
            input,
            environment,
            array_size,
            job_name,
            share_identifier,
            scheduling_priority,
        )
        errors += limits.check_range(
            "retry_attempts",
            retry_attempts,
            limits.MIN_SCHEDULE_RETRY_ATTEMPTS,
            limits.MAX_SCHEDULE_RETRY_ATTEMPTS,
        )
        errors += _seconds_range(
            "max_event_age",
            max_event_age,
            limits.MIN_SCHEDULE_EVENT_AGE_SECONDS,
            limits.MAX_SCHEDULE_EVENT_AGE_SECONDS,
        )
        if flexible_window is not None:
            errors += _seconds_range(
                "flexible_window",
                flexible_window,
                limits.MIN_SCHEDULE_WINDOW_MINUTES * 60,
                limits.MAX_SCHEDULE_WINDOW_MINUTES * 60,
            )
        limits.raise_if_errors(errors)
        super().__init__(scope, construct_id)

        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="Runs what the schedule starts",
        )
        self.dead_letter_queue = dead_letter_queue or self._dead_letter_queue()
        self.dead_letter_queue.grant_send_messages(self.role)
        if workflow is not None:
            state_machine = workflow.state_machine
            assert state_machine is not None  # checked by _target_errors
            state_machine.grant_start_execution(self.role)
            target_arn = state_machine.state_machine_arn
            target_input = scheduler.ScheduleTargetInput.from_object(dict(input or {}))
        else:
            assert job is not None and target_queue is not None
            job.grant_submit(self.role, target_queue)
            target_arn = f"arn:{Aws.PARTITION}:scheduler:::aws-sdk:batch:submitJob"
            request: dict[str, Any] = {
                "JobName": job_name or _job_name(construct_id),
                "JobQueue": target_queue.job_queue.job_queue_arn,
                "JobDefinition": job.job_definition.job_definition_arn,
            }
            if environment:
                request["ContainerOverrides"] = {
                    "Environment": [{"Name": k, "Value": v} for k, v in environment.items()]
                }
            if array_size is not None:
                request["ArrayProperties"] = {"Size": array_size}
            if share_identifier is not None:
                request["ShareIdentifier"] = share_identifier
            if scheduling_priority is not None:
                request["SchedulingPriorityOverride"] = scheduling_priority
            target_input = scheduler.ScheduleTargetInput.from_object(request)

        self.schedule = scheduler.Schedule(
            self,
            "Resource",
            schedule=scheduler.ScheduleExpression.expression(expression, TimeZone.of(zone))
            if zone
            else schedule,
            target=_Target(
                arn=target_arn,
                role=self.role,
                input=target_input,
                retry_attempts=retry_attempts,
                max_event_age=max_event_age,
                dead_letter_queue=self.dead_letter_queue,
            ),
            description=description,
            enabled=enabled,
            time_window=scheduler.TimeWindow.flexible(flexible_window)
            if flexible_window is not None
            else None,
        )

    def _dead_letter_queue(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        Validations.of(queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is the dead-letter queue of the schedule's target: events "
                "the schedule could not deliver wait here",
            )
        )
        return queue


@jsii.implements(scheduler.IScheduleTarget)
class _Target:
    """A schedule target with the schedule's own role and nothing granted by itself.

    aws-cdk-lib's targets share one role per target ARN in a stack, and its universal
    target grants ``batch:SubmitJob`` on ``*`` unless told otherwise; the schedule
    grants its own role exactly what its target does.
    """

    def __init__(
        self,
        *,
        arn: str,
        role: iam.IRole,
        input: scheduler.ScheduleTargetInput,
        retry_attempts: int,
        max_event_age: Duration,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        self._config = scheduler.ScheduleTargetConfig(
            arn=arn,
            role=role,
            input=input,
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_retry_attempts=retry_attempts,
                maximum_event_age_in_seconds=int(max_event_age.to_seconds()),
            ),
            dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                arn=dead_letter_queue.queue_arn
            ),
        )

    def bind(self, _schedule: scheduler.ISchedule) -> scheduler.ScheduleTargetConfig:
        return self._config


# --- checks ------------------------------------------------------------------------------
def _json_key(construct_id: str) -> str:
    """A step id as a JSONPath member name: letters, digits and underscores."""
    return re.sub(r"[^A-Za-z0-9_]", "_", construct_id)


def _job_name(construct_id: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", construct_id).strip("-_")[:128]
    return name or "job"


def _step_errors(
    job: SubmittableJob,
    queue: IBatchQueue,
    *,
    job_name: str,
    array_size: int | str | None,
    environment: Mapping[str, str],
    depends_on: Sequence[str],
    share_identifier: str | None,
    scheduling_priority: int | None,
    timeout: Duration | None,
) -> list[str]:
    errors = _submission_errors(
        job,
        queue,
        job_name=job_name,
        array_size=array_size,
        environment=environment,
        share_identifier=share_identifier,
        scheduling_priority=scheduling_priority,
    )
    if len(depends_on) > limits.MAX_JOB_DEPENDENCIES:
        errors.append(
            f"depends_on must hold at most {limits.MAX_JOB_DEPENDENCIES} jobs (service quota), "
            f"got {len(depends_on)}"
        )
    if timeout is not None:
        errors += _seconds_range("timeout", timeout, limits.MIN_TIMEOUT_SECONDS, None)
    return errors


def _submission_errors(
    job: SubmittableJob,
    queue: IBatchQueue,
    *,
    job_name: str,
    array_size: int | str | None,
    environment: Mapping[str, str],
    share_identifier: str | None,
    scheduling_priority: int | None,
) -> list[str]:
    """What SubmitJob would refuse in a submission of ``job`` to ``queue``."""
    errors: list[str] = []
    if not Token.is_unresolved(job_name) and not JOB_NAME_PATTERN.fullmatch(job_name):
        errors.append(
            "job_name must be 1 to 128 letters, digits, hyphens and underscores, starting "
            f"with a letter or digit, got {job_name!r}"
        )
    if isinstance(array_size, int) and not Token.is_unresolved(array_size):
        errors += limits.check_range(
            "array_size", array_size, limits.MIN_ARRAY_SIZE, limits.MAX_ARRAY_SIZE
        )
    elif isinstance(array_size, str) and not Token.is_unresolved(array_size):
        errors.append(
            "array_size must be a whole number or a JsonPath (sfn.JsonPath.number_at), "
            f"got {array_size!r}"
        )
    errors += limits.check_env_names("environment", environment)
    kind = _job_kind(job)
    if kind == "multi-node" and array_size is not None:
        errors.append(
            f"array_size must be None for the multi-node job {job.node.id} (SubmitJob refuses "
            f"multi-node array jobs), got {array_size!r}"
        )
    if kind is not None and environment:
        errors.append(
            f"environment must be empty for the {kind} job {job.node.id}: its containers take "
            "overrides per node range or per container, not the single container's "
            "overrides a step sends; set the environment on the job definition instead, got "
            f"{sorted(environment)}"
        )
    errors += _share_errors(queue, share_identifier, scheduling_priority)
    return errors


def _job_kind(job: SubmittableJob) -> str | None:
    """``multi-node`` or ``multi-container`` for jobs that are not one plain container."""
    if isinstance(job, MultiNodeJob):
        return "multi-node"
    if getattr(job, "sidecar_containers", None):
        return "multi-container"
    return None


def _share_errors(
    queue: IBatchQueue, share_identifier: str | None, scheduling_priority: int | None
) -> list[str]:
    """Fair-share rules of SubmitJob: a share on a fair-share queue, none on a FIFO one."""
    errors: list[str] = []
    fair_share = getattr(queue, "scheduling_policy", "unknown")
    if fair_share is None and share_identifier is not None:
        errors.append(
            f"share_identifier must be None on queue {queue.node.id}, which has no fair-share "
            f"policy (AWS refuses the job), got {share_identifier!r}"
        )
    if fair_share not in (None, "unknown") and share_identifier is None:
        errors.append(
            f"share_identifier is required on queue {queue.node.id}, whose fair-share policy "
            "needs one for every job, got None"
        )
    if (
        share_identifier is not None
        and not Token.is_unresolved(share_identifier)
        and not re.fullmatch(limits.SHARE_IDENTIFIER_PATTERN.removesuffix(r"\*?"), share_identifier)
    ):
        errors.append(
            f"share_identifier must be 1 to 255 letters and digits, got {share_identifier!r}"
        )
    if scheduling_priority is not None:
        if share_identifier is None:
            errors.append(
                "scheduling_priority needs share_identifier (it orders jobs within a share), "
                f"got {scheduling_priority} without one"
            )
        errors += limits.check_range(
            "scheduling_priority", scheduling_priority, 0, MAX_SCHEDULING_PRIORITY
        )
    return errors


def _target_errors(
    workflow: JobWorkflow | None,
    job: SubmittableJob | None,
    queue: IBatchQueue | None,
    input: Mapping[str, Any] | None,
    environment: Mapping[str, str] | None,
    array_size: int | None,
    job_name: str | None,
    share_identifier: str | None,
    scheduling_priority: int | None,
) -> list[str]:
    if (workflow is None) == (job is None):
        return [
            "JobSchedule needs either workflow (to start) or job with queue (to submit), "
            f"got {'both' if workflow is not None else 'neither'}"
        ]
    if workflow is not None:
        given = [
            name
            for name, value in (
                ("queue", queue),
                ("environment", environment),
                ("array_size", array_size),
                ("job_name", job_name),
                ("share_identifier", share_identifier),
                ("scheduling_priority", scheduling_priority),
            )
            if value is not None
        ]
        errors = [
            f"{', '.join(given)} only go with job, got them with workflow {workflow.node.id}"
        ] * bool(given)
        if workflow.state_machine is None:
            errors.append(
                f"workflow {workflow.node.id} must be defined (define(chain)) before a "
                "schedule starts it"
            )
        return errors
    errors = ["input only goes with workflow; give a job environment instead"] * (input is not None)
    if queue is None or job is None:
        return [*errors, "queue is required with job, got None"]
    return errors + _submission_errors(
        job,
        queue,
        job_name=job_name or "job",
        array_size=array_size,
        environment=environment or {},
        share_identifier=share_identifier,
        scheduling_priority=scheduling_priority,
    )


def _seconds_range(argument: str, duration: Duration, low: float, high: float | None) -> list[str]:
    seconds = duration.to_seconds(integral=False)
    if Token.is_unresolved(seconds):
        return []
    if seconds < low or (high is not None and seconds > high):
        allowed = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        return [f"{argument} must be {allowed} seconds, got {seconds:g} seconds"]
    return []


def _time_zone_name(time_zone: TimeZone | None, expression_zone: TimeZone | None) -> str:
    """The schedule's time zone: ``time_zone`` if given, else the expression's.

    aws-cdk-lib gives every expression a zone, UTC when none was asked for, so the
    expression's UTC yields to ``time_zone``; another zone in both must agree.
    """
    given = time_zone.timezone_name if time_zone is not None else None
    from_expression = expression_zone.timezone_name if expression_zone is not None else None
    if from_expression in _UTC_NAMES:
        from_expression = None
    if given and from_expression and given != from_expression:
        raise ValueError(
            f"time_zone must match the schedule's own time zone ({from_expression}), got {given}"
        )
    return given or from_expression or ""


#: What aws-cdk-lib puts in an expression made without a time zone.
_UTC_NAMES = ("Etc/UTC", "UTC")


# --- schedule expressions (EventBridge Scheduler user guide, "Schedule types") -----------
_RATE = re.compile(r"rate\((?P<value>[^ )]+) (?P<unit>[^ )]+)\)")
_CRON = re.compile(r"cron\((?P<fields>[^)]*)\)")
_AT = re.compile(r"at\((?P<when>[^)]*)\)")
_RATE_UNITS = ("minute", "minutes", "hour", "hours", "day", "days")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
#: Cron fields: name, lowest and highest value, names allowed, extra wildcards.
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...], str], ...] = (
    ("minutes", 0, 59, (), ""),
    ("hours", 0, 23, (), ""),
    ("day-of-month", 1, 31, (), "?LW"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _WEEKDAYS, "?L#"),
    ("year", 1970, 2199, (), ""),
)


def schedule_errors(expression: str, time_zone: str = "") -> list[str]:
    """Why EventBridge Scheduler would refuse a schedule expression or time zone.

    ``rate(value unit)`` with a whole value of at least 1 and a unit of minute(s),
    hour(s) or day(s); ``cron(minutes hours day-of-month month day-of-week year)`` with
    each field in range and one of the day fields ``?``; ``at(yyyy-mm-ddThh:mm:ss)``;
    an IANA time zone. Unresolved tokens are not checked.

    Args:
        expression: the expression, e.g. ``cron(0 2 * * ? *)``.
        time_zone: the IANA time zone name. Default: "" (UTC).
    """
    if Token.is_unresolved(expression):
        return []
    errors: list[str] = []
    if time_zone and not Token.is_unresolved(time_zone) and time_zone not in _time_zones():
        errors.append(f"schedule time zone must be an IANA time zone name, got {time_zone!r}")
    if match := _RATE.fullmatch(expression):
        value, unit = match["value"], match["unit"]
        if not value.isdigit() or int(value) < 1:
            errors.append(
                f"schedule rate must be a whole number of at least 1, got {value!r} in {expression!r}"
            )
        if unit not in _RATE_UNITS:
            errors.append(
                f"schedule rate unit must be one of {', '.join(_RATE_UNITS)}, got {unit!r} "
                f"(the shortest rate is 1 minute)"
            )
    elif match := _CRON.fullmatch(expression):
        errors += _cron_errors(match["fields"].split())
    elif match := _AT.fullmatch(expression):
        try:
            datetime.datetime.strptime(match["when"], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            errors.append(f"schedule at() must be at(yyyy-mm-ddThh:mm:ss), got {expression!r}")
    else:
        errors.append(
            "schedule must be rate(value unit), cron(minutes hours day-of-month month "
            f"day-of-week year) or at(yyyy-mm-ddThh:mm:ss), got {expression!r}"
        )
    return errors


def _cron_errors(fields: list[str]) -> list[str]:
    if len(fields) != len(_CRON_FIELDS):
        return [
            f"schedule cron must have 6 fields (minutes hours day-of-month month day-of-week "
            f"year), got {len(fields)}: {' '.join(fields)!r}"
        ]
    errors = [
        f"schedule cron {name} must be {low}-{high}{' or ' + '-'.join((names[0], names[-1])) if names else ''}"
        f" with , - * /{' ' + ' '.join(extra) if extra else ''}, got {field!r}"
        for field, (name, low, high, names, extra) in zip(fields, _CRON_FIELDS, strict=True)
        if not _cron_field_ok(field, low, high, names, extra)
    ]
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        errors.append(
            "schedule cron must have ? in exactly one of day-of-month and day-of-week, got "
            f"{day_of_month!r} and {day_of_week!r}"
        )
    if "#" in day_of_week and "," in day_of_week:
        errors.append(f"schedule cron day-of-week with # takes one value only, got {day_of_week!r}")
    return errors


def _cron_field_ok(field: str, low: int, high: int, names: tuple[str, ...], extra: str) -> bool:
    if field == "?" or field == "*":
        return field == "*" or "?" in extra
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) >= 1):
            return False
        if "L" in extra and (base == "L" or re.fullmatch(r"\d+L|L-\d+", base)):
            if base != "L" and not _in_range(re.sub(r"\D", "", base), low, high, names):
                return False
            continue
        if "W" in extra and re.fullmatch(r"\d+W", base):
            if not _in_range(base[:-1], low, high, names):
                return False
            continue
        if "#" in extra and "#" in base:
            day, _, nth = base.partition("#")
            if not (_in_range(day, low, high, names) and nth in "12345" and len(nth) == 1):
                return False
            continue
        if base == "*" and step:
            continue
        ends = base.split("-")
        if len(ends) > 2 or not all(_in_range(end, low, high, names) for end in ends):
            return False
    return True


def _in_range(value: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    if value.upper() in names:
        return True
    return value.isdigit() and low <= int(value) <= high


def _time_zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(zoneinfo.available_timezones()) | {"UTC", "Etc/UTC"}
    return _ZONES


_ZONES: frozenset[str] | None = None
