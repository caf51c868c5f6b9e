"""A synthesized stack's resources, created in the emulator from its template.

:func:`deploy` reads a template (or synthesizes a stack), creates in the emulator what a
local run of its jobs, workflows and schedules needs, and resolves the template's
intrinsics (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``,
``Fn::Split``) against what it created:

- created: DynamoDB tables, S3 buckets (versioning as configured), SQS queues (visibility
  timeout, retention, redrive policy), SNS topics, log groups, Batch job queues (over one
  local unmanaged compute environment), Batch job definitions (environment, command,
  resources, retry strategy, timeout; the image is never pulled), Step Functions state
  machines (their definitions resolved), EventBridge rules on the default bus (their
  SQS targets; moto delivers to no other kind);
- named only (their ``Ref`` and ``Arn`` resolve to local names): IAM roles, KMS keys,
  compute environments, scheduling policies;
- read, not created: EventBridge Scheduler schedules (moto never fires one; see
  :meth:`LocalDeployment.fire_schedule`);
- anything else is left out; a created resource that refers to one fails loudly
  (:class:`UnresolvedIntrinsicError`, naming where).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import botocore.session
from aws_cdk import CfnElement, Stack
from aws_cdk.assertions import Template
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, StructureShape

from constructs_batch.local._batch import JobPlayer, JobResult
from constructs_batch.local._emulator import ACCOUNT_ID, REGION, LocalAws

__all__ = [
    "DEFAULT_STACK_NAME",
    "Intrinsics",
    "LocalDeployment",
    "ScheduleFiring",
    "UnresolvedIntrinsicError",
    "WorkflowResult",
    "deploy",
    "logical_id",
    "template_of",
]

#: The stack name of a template deployed without one (physical names start with it).
DEFAULT_STACK_NAME: Final = "Local"
#: Step Functions execution states that are final.
_DONE: Final = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
#: How often a workflow being waited for is polled (and its ready jobs played).
_POLL_SECONDS: Final = 0.05
_UNIVERSAL_TARGET: Final = re.compile(
    r"arn:aws[\w-]*:scheduler:::aws-sdk:(?P<service>[a-z0-9-]+):(?P<action>\w+)"
)
_session = botocore.session.get_session()


# --- intrinsics ------------------------------------------------------------------------------


class UnresolvedIntrinsicError(ValueError):
    """A template value refers to something the local run did not create."""


class Intrinsics:
    """Resolves CloudFormation intrinsics against the resources created in the emulator.

    Supports ``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub`` (without a variable map),
    ``Fn::Select`` and ``Fn::Split``; anything else, or a reference to a resource that was
    not created, raises :class:`UnresolvedIntrinsicError` naming where it was found.

    Args:
        stack_name: what ``AWS::StackName`` resolves to. Default: ``DEFAULT_STACK_NAME``.
    """

    def __init__(self, stack_name: str = DEFAULT_STACK_NAME) -> None:
        self._refs: dict[str, Any] = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::NoValue": None,
        }
        self._attributes: dict[tuple[str, str], str] = {}

    def add(self, logical_id: str, ref: str, **attributes: str) -> None:
        """Record what ``Ref`` and ``Fn::GetAtt`` of a created resource return."""
        self._refs[logical_id] = ref
        for name, value in attributes.items():
            self._attributes[(logical_id, name)] = value

    def knows(self, logical_id: str) -> bool:
        """True once a resource was recorded with :meth:`add`."""
        return logical_id in self._refs

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with every intrinsic replaced by its local value."""
        if isinstance(value, list):
            return [self.resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self._ref(str(argument), where)
            if name == "Fn::GetAtt":
                logical, attribute = (
                    argument.split(".", 1) if isinstance(argument, str) else argument
                )
                return self._get_att(logical, attribute, where)
            if name == "Fn::Join":
                separator, parts = argument
                parts = self.resolve(parts, f"{where}.Fn::Join")
                return str(separator).join(str(p) for p in parts)
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(items, f"{where}.Fn::Select")[int(index)]
            if name == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text, f"{where}.Fn::Split")).split(separator)
            if name == "Fn::Sub" and isinstance(argument, str):
                return self._sub(argument, where)
            if name.startswith("Fn::") or name == "Condition":
                raise UnresolvedIntrinsicError(f"{where}: cannot resolve {value!r} locally")
        return {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}

    def _ref(self, logical: str, where: str) -> Any:
        if logical not in self._refs:
            raise UnresolvedIntrinsicError(
                f"{where}: Ref {logical} is not a resource created locally "
                f"(created: {sorted(k for k in self._refs if '::' not in k)})"
            )
        return self._refs[logical]

    def _get_att(self, logical: str, attribute: str, where: str) -> str:
        if (logical, attribute) not in self._attributes:
            raise UnresolvedIntrinsicError(
                f"{where}: Fn::GetAtt {logical}.{attribute} is not known locally"
            )
        return self._attributes[(logical, attribute)]

    def _sub(self, text: str, where: str) -> str:
        out: list[str] = []
        rest = text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out.append(before)
            if name.startswith("!"):
                out.append("${" + name[1:] + "}")
            elif "." in name and "::" not in name:
                logical, attribute = name.split(".", 1)
                out.append(self._get_att(logical, attribute, where))
            else:
                out.append(str(self._ref(name, where)))
        return "".join(out) + rest


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowResult:
    """How a state machine execution ended, and the jobs played while it ran.

    Attributes:
        execution_arn: the execution.
        status: ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED`` (or ``RUNNING`` when
            the wait timed out).
        error, cause: why it failed (the Fail state's error and cause), else None.
        output: the execution's output, parsed from JSON (None unless it succeeded).
        history: the execution's history events, oldest first.
        jobs: the job runs that finished while it ran, in the order they finished.
    """

    execution_arn: str
    status: str
    error: str | None
    cause: str | None
    output: Any
    history: list[dict[str, Any]]
    jobs: list[JobResult]

    def jobs_named(self, job_name: str) -> list[JobResult]:
        """The runs of the jobs named ``job_name`` (array children by index)."""
        runs = [r for r in self.jobs if r.run.job_name == job_name]
        return sorted(runs, key=lambda r: r.run.array_index or 0)


@dataclass(frozen=True)
class ScheduleFiring:
    """What firing a schedule did: the job it submitted or the execution it started.

    Attributes:
        target_arn: the schedule's target.
        request: what was sent to the target (boto names for an ``aws-sdk`` target).
        job_id: the submitted job, for a ``batch:submitJob`` target.
        execution_arn: the started execution, for a state machine target.
        error: why the target refused (the event went to the dead-letter queue), or None.
    """

    target_arn: str
    request: dict[str, Any]
    job_id: str | None = None
    execution_arn: str | None = None
    error: str | None = None


# --- the deployment ----------------------------------------------------------------------


def logical_id(target: Any) -> str:
    """The logical id of a construct's CloudFormation resource (a string is returned as is).

    Knows ``ContainerJob`` (its job definition), ``JobWorkflow`` (its state machine),
    ``JobSchedule`` (its schedule), ``BatchQueue`` (its job queue) and any construct with a
    default child.
    """
    if isinstance(target, str):
        return target
    for attribute in ("job_definition", "state_machine", "schedule", "job_queue"):
        inner = getattr(target, attribute, None)
        if inner is not None:
            target = inner
            break
    element = target if isinstance(target, CfnElement) else target.node.default_child
    if not isinstance(element, CfnElement):
        raise ValueError(f"{target.node.path} has no CloudFormation resource of its own")
    return str(Stack.of(element).get_logical_id(element))


def template_of(stack: Any) -> dict[str, Any]:
    """The CloudFormation template of a synthesized ``aws_cdk.Stack``."""
    return dict(Template.from_stack(stack).to_json())


@dataclass
class LocalDeployment:
    """A template's resources in the emulator (create with :func:`deploy`).

    Attributes hold, by logical id, what was created: ``tables`` (names), ``buckets``
    (names), ``queues`` (URLs), ``topics``, ``job_queues``, ``job_definitions`` and
    ``state_machines`` (ARNs), ``schedules`` (their template properties), and the
    ``intrinsics`` that resolve the template against them.
    """

    aws: LocalAws
    template: dict[str, Any]
    stack_name: str
    intrinsics: Intrinsics
    tables: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    log_groups: dict[str, str] = field(default_factory=dict)
    job_queues: dict[str, str] = field(default_factory=dict)
    job_definitions: dict[str, str] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)

    def properties(self, logical: str) -> dict[str, Any]:
        """A resource's ``Properties`` in the template, intrinsics unresolved."""
        properties: dict[str, Any] = self.template["Resources"][logical].get("Properties", {})
        return properties

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with its intrinsics resolved against this deployment."""
        return self.intrinsics.resolve(value, where)

    def name(self, logical: str) -> str:
        """The physical name given to a resource: ``<stack name>-<logical id>``."""
        return f"{self.stack_name}-{logical}"

    def job_definition_name(self, job: Any) -> str:
        """The name a job definition (logical id or construct) is registered under."""
        logical = logical_id(job)
        if logical not in self.job_definitions:
            raise ValueError(
                f"{logical} is not a job definition of the deployed template "
                f"(job definitions: {sorted(self.job_definitions)})"
            )
        return self.name(logical)

    def add_player(self, job: Any, player: JobPlayer) -> None:
        """Play the jobs of a job definition (logical id or ``ContainerJob``) with ``player``."""
        self.aws.batch.add_player(self.job_definition_name(job), player)

    def play(self) -> list[JobResult]:
        """Run every submitted job that can run (see ``LocalBatch.play``)."""
        return self.aws.batch.play()

    # --- workflows ----------------------------------------------------------------------
    def start_workflow(
        self, workflow: Any, input: Mapping[str, Any] | None = None, *, name: str | None = None
    ) -> str:
        """Start an execution of a state machine (logical id, ``JobWorkflow`` or
        ``sfn.StateMachine``); its ARN. Play its jobs with :meth:`wait_for_workflow`."""
        logical = logical_id(workflow)
        if logical not in self.state_machines:
            raise ValueError(
                f"{logical} is not a state machine of the deployed template "
                f"(state machines: {sorted(self.state_machines)})"
            )
        request: dict[str, Any] = {
            "stateMachineArn": self.state_machines[logical],
            "name": name or f"local-{uuid.uuid4()}",
            "input": json.dumps(dict(input or {})),
        }
        return str(self.aws.client("stepfunctions").start_execution(**request)["executionArn"])

    def wait_for_workflow(
        self, execution_arn: str, *, timeout_seconds: float = 60.0
    ) -> WorkflowResult:
        """Play the jobs the execution submits until it ends (or the timeout passes)."""
        sfn = self.aws.client("stepfunctions")
        deadline = time.monotonic() + timeout_seconds
        played: list[JobResult] = []
        while True:
            played.extend(self.aws.batch.play_ready())
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in _DONE or time.monotonic() > deadline:
                break
            time.sleep(_POLL_SECONDS)
        history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        output = described.get("output")
        return WorkflowResult(
            execution_arn=execution_arn,
            status=str(described["status"]),
            error=described.get("error"),
            cause=described.get("cause"),
            output=json.loads(output) if output else None,
            history=list(history),
            jobs=played,
        )

    def run_workflow(
        self,
        workflow: Any,
        input: Mapping[str, Any] | None = None,
        *,
        timeout_seconds: float = 60.0,
    ) -> WorkflowResult:
        """Start an execution and play its jobs until it ends."""
        execution = self.start_workflow(workflow, input)
        return self.wait_for_workflow(execution, timeout_seconds=timeout_seconds)

    # --- schedules -----------------------------------------------------------------------
    def fire_schedule(self, schedule: Any) -> ScheduleFiring:
        """Do what a schedule (logical id or ``JobSchedule``) does when it fires.

        Sends its target's input to its target: an ``aws-sdk`` universal target (e.g.
        ``batch:submitJob``, its PascalCase input converted to the API's names) or a state
        machine (StartExecution). A refused call goes to the schedule's dead-letter queue,
        as the Scheduler does once its retries are spent (retries are not replayed).

        Raises:
            ValueError: the schedule is not in the template, is disabled, or has a target
                that is neither.
        """
        logical = logical_id(schedule)
        if logical not in self.schedules:
            raise ValueError(
                f"{logical} is not a schedule of the deployed template "
                f"(schedules: {sorted(self.schedules)})"
            )
        properties = self.schedules[logical]
        if properties.get("State", "ENABLED") != "ENABLED":
            raise ValueError(f"schedule {logical} is {properties['State']}: it never fires")
        target = self.resolve(properties["Target"], f"{logical}.Target")
        arn = str(target["Arn"])
        payload = json.loads(target.get("Input") or "{}")
        universal = _UNIVERSAL_TARGET.fullmatch(arn)
        try:
            if universal is not None:
                service, method, request = _universal_call(
                    universal["service"], universal["action"], payload
                )
                response = getattr(self.aws.client(service), method)(**request)
                return ScheduleFiring(arn, request, job_id=response.get("jobId"))
            if ":states:" in arn and ":stateMachine:" in arn:
                request = {"stateMachineArn": arn, "input": json.dumps(payload)}
                response = self.aws.client("stepfunctions").start_execution(**request)
                return ScheduleFiring(arn, request, execution_arn=response["executionArn"])
        except ClientError as error:
            return self._dead_letter(logical, target, payload, error)
        raise ValueError(f"schedule {logical} has a target the local run cannot call: {arn}")

    def _dead_letter(
        self, logical: str, target: Mapping[str, Any], payload: Any, error: ClientError
    ) -> ScheduleFiring:
        details = error.response.get("Error", {})
        dead_letter_arn = target.get("DeadLetterConfig", {}).get("Arn")
        urls = {arn: self.queues[lid] for lid, arn in self.queue_arns.items()}
        if dead_letter_arn in urls:
            self.aws.client("sqs").send_message(
                QueueUrl=urls[dead_letter_arn],
                MessageBody=json.dumps(payload),
                MessageAttributes={
                    "ERROR_CODE": {"DataType": "String", "StringValue": str(details.get("Code"))},
                    "ERROR_MESSAGE": {
                        "DataType": "String",
                        "StringValue": str(details.get("Message")),
                    },
                    "SCHEDULE_ARN": {"DataType": "String", "StringValue": self.name(logical)},
                    "TARGET_ARN": {"DataType": "String", "StringValue": str(target["Arn"])},
                },
            )
        return ScheduleFiring(
            str(target["Arn"]), payload, error=f"{details.get('Code')}: {details.get('Message')}"
        )


def deploy(
    aws: LocalAws,
    stack: Any,
    *,
    jobs: Mapping[Any, JobPlayer] | None = None,
    stack_name: str | None = None,
) -> LocalDeployment:
    """Create a stack's (or a template's) resources in the emulator; see the module doc.

    Args:
        aws: the running emulator.
        stack: an ``aws_cdk.Stack`` (synthesized here) or its template as a dict.
        jobs: how to play each job definition's jobs, by logical id or construct
            (``ContainerJob``): a ``LocalCommand`` or a callable. Default: none (a job
            without a player fails, saying so).
        stack_name: the name physical names start with. Default: the stack's name, or
            ``DEFAULT_STACK_NAME`` for a template.

    Raises:
        UnresolvedIntrinsicError: a created resource refers to one the local run lacks.
    """
    if isinstance(stack, Mapping):
        template = dict(stack)
        name = stack_name or DEFAULT_STACK_NAME
    else:
        template = template_of(stack)
        name = stack_name or str(stack.stack_name)
    deployment = LocalDeployment(
        aws=aws, template=template, stack_name=name, intrinsics=Intrinsics(name)
    )
    _Creator(deployment).create_all()
    for job, player in (jobs or {}).items():
        deployment.add_player(job, player)
    return deployment


# --- creating resources ----------------------------------------------------------------------


class _Creator:
    """Creates a template's resources in dependency order (what can be resolved first)."""

    def __init__(self, deployment: LocalDeployment) -> None:
        self.d = deployment
        self.aws = deployment.aws
        self._environment_arn: str | None = None
        self._creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::S3::Bucket": self._bucket,
            "AWS::SQS::Queue": self._queue,
            "AWS::SNS::Topic": self._topic,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::Batch::JobQueue": self._job_queue,
            "AWS::Batch::JobDefinition": self._job_definition,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Events::Rule": self._rule,
            "AWS::Scheduler::Schedule": self._schedule,
        }

    def create_all(self) -> None:
        resources: dict[str, Any] = self.d.template.get("Resources", {})
        self._name_only(resources)
        pending = [lid for lid, r in resources.items() if r["Type"] in self._creators]
        while pending:
            errors: dict[str, UnresolvedIntrinsicError] = {}
            for lid in pending:
                try:
                    self._creators[resources[lid]["Type"]](lid, self.d.properties(lid))
                except UnresolvedIntrinsicError as error:
                    errors[lid] = error
            if len(errors) == len(pending):  # no progress: a reference nothing can satisfy
                raise next(iter(errors.values()))
            pending = list(errors)

    def _name_only(self, resources: Mapping[str, Any]) -> None:
        for lid, resource in resources.items():
            kind = resource["Type"]
            name = self.d.name(lid)
            if kind == "AWS::IAM::Role":
                role = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
                self.d.intrinsics.add(lid, name, Arn=role, RoleId=name)
            elif kind == "AWS::KMS::Key":
                key = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{name}"
                self.d.intrinsics.add(lid, name, Arn=key, KeyId=name)
            elif kind == "AWS::Batch::ComputeEnvironment":
                environment = self._environment()
                self.d.intrinsics.add(lid, environment, ComputeEnvironmentArn=environment)
            elif kind == "AWS::Batch::SchedulingPolicy":
                policy = f"arn:aws:batch:{REGION}:{ACCOUNT_ID}:scheduling-policy/{name}"
                self.d.intrinsics.add(lid, policy, Arn=policy)

    def _environment(self) -> str:
        if self._environment_arn is None:
            role = self.aws.client("iam").create_role(
                RoleName=f"{self.d.stack_name}-BatchService", AssumeRolePolicyDocument="{}"
            )["Role"]["Arn"]
            self._environment_arn = str(
                self.aws.client("batch").create_compute_environment(
                    computeEnvironmentName=f"{self.d.stack_name}-Local",
                    type="UNMANAGED",
                    state="ENABLED",
                    serviceRole=role,
                )["computeEnvironmentArn"]
            )
        return self._environment_arn

    def _table(self, lid: str, props: dict[str, Any]) -> None:
        name = self.d.name(lid)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = [
                {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                for index in props["GlobalSecondaryIndexes"]
            ]
        created = self.aws.client("dynamodb").create_table(**request)["TableDescription"]
        self.d.tables[lid] = name
        self.d.intrinsics.add(lid, name, Arn=created["TableArn"])

    def _bucket(self, lid: str, props: dict[str, Any]) -> None:
        name = self.d.name(lid).lower()[:63].rstrip("-")
        s3 = self.aws.client("s3")
        s3.create_bucket(Bucket=name)
        versioning = props.get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": versioning["Status"]}
            )
        self.d.buckets[lid] = name
        self.d.intrinsics.add(
            lid, name, Arn=f"arn:aws:s3:::{name}", DomainName=f"{name}.s3.amazonaws.com"
        )

    def _queue(self, lid: str, props: dict[str, Any]) -> None:
        attributes: dict[str, str] = {
            name: str(self.d.resolve(props[name], f"{lid}.{name}"))
            for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
            if name in props
        }
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(
                self.d.resolve(props["RedrivePolicy"], f"{lid}.RedrivePolicy")
            )
        name = self.d.name(lid)[:75]
        if props.get("FifoQueue"):
            attributes["FifoQueue"] = "true"
            name += ".fifo"
        sqs = self.aws.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.d.queues[lid] = url
        self.d.queue_arns[lid] = arn
        self.d.intrinsics.add(lid, url, Arn=arn, QueueName=name, QueueUrl=url)

    def _topic(self, lid: str, props: dict[str, Any]) -> None:
        name = self.d.name(lid)
        arn = self.aws.client("sns").create_topic(Name=name)["TopicArn"]
        self.d.topics[lid] = arn
        self.d.intrinsics.add(lid, arn, TopicArn=arn, TopicName=name)

    def _log_group(self, lid: str, props: dict[str, Any]) -> None:
        name = self.d.name(lid)
        self.aws.client("logs").create_log_group(logGroupName=name)
        self.d.log_groups[lid] = name
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"
        self.d.intrinsics.add(lid, name, Arn=arn)

    def _job_queue(self, lid: str, props: dict[str, Any]) -> None:
        name = self.d.name(lid)
        arn = self.aws.client("batch").create_job_queue(
            jobQueueName=name,
            state=props.get("State", "ENABLED"),
            priority=int(props.get("Priority", 1)),
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": self._environment()}],
        )["jobQueueArn"]
        self.d.job_queues[lid] = arn
        self.d.intrinsics.add(lid, arn, JobQueueArn=arn, JobQueueName=name)

    def _job_definition(self, lid: str, props: dict[str, Any]) -> None:
        container = props.get("ContainerProperties")
        if container is None:
            return  # multi-node, ECS task properties or EKS: not played locally
        resolved = {
            name: self.d.resolve(value, f"{lid}.ContainerProperties.{name}")
            for name, value in container.items()
            if name in ("Environment", "Command", "ResourceRequirements", "ReadonlyRootFilesystem")
        }
        extra: dict[str, Any] = {
            name[:1].lower() + name[1:]: _camel(self.d.resolve(props[name], f"{lid}.{name}"))
            for name in ("RetryStrategy", "Timeout", "PlatformCapabilities")
            if name in props
        }
        if "Parameters" in props:  # names of the user's placeholders: kept as written
            extra["parameters"] = self.d.resolve(props["Parameters"], f"{lid}.Parameters")
        arn = self.aws.client("batch").register_job_definition(
            jobDefinitionName=self.d.name(lid),
            type=props.get("Type", "container"),
            containerProperties={"image": "local", **_camel(resolved)},
            **extra,
        )["jobDefinitionArn"]
        self.d.job_definitions[lid] = arn
        self.d.intrinsics.add(lid, arn, JobDefinitionArn=arn)

    def _state_machine(self, lid: str, props: dict[str, Any]) -> None:
        definition = props.get("DefinitionString")
        if definition is None:
            definition = json.dumps(props["Definition"])
        resolved = self.d.resolve(definition, f"{lid}.DefinitionString")
        request: dict[str, Any] = {
            "name": self.d.name(lid),
            "definition": resolved,
            "roleArn": self.d.resolve(props["RoleArn"], f"{lid}.RoleArn"),
        }
        if props.get("TracingConfiguration"):
            request["tracingConfiguration"] = _camel(props["TracingConfiguration"])
        arn = self.aws.client("stepfunctions").create_state_machine(**request)["stateMachineArn"]
        self.d.state_machines[lid] = arn
        self.d.intrinsics.add(lid, arn, Arn=arn, Name=self.d.name(lid))

    def _rule(self, lid: str, props: dict[str, Any]) -> None:
        if props.get("EventBusName") not in (None, "default"):
            return  # custom buses are left out
        pattern = props.get("EventPattern")
        targets = self.d.resolve(props.get("Targets", []), f"{lid}.Targets")
        local_queues = set(self.d.queue_arns.values())
        name = self.d.name(lid)
        events = self.aws.client("events")
        request: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        if pattern is not None:
            request["EventPattern"] = json.dumps(self.d.resolve(pattern, f"{lid}.EventPattern"))
        elif "ScheduleExpression" in props:
            request["ScheduleExpression"] = props["ScheduleExpression"]
        arn = events.put_rule(**request)["RuleArn"]
        queues = [t for t in targets if t.get("Arn") in local_queues]
        if queues:
            events.put_targets(
                Rule=name, Targets=[{"Id": str(t["Id"]), "Arn": t["Arn"]} for t in queues]
            )
        self.d.rules[lid] = arn
        self.d.intrinsics.add(lid, name, Arn=arn)

    def _schedule(self, lid: str, props: dict[str, Any]) -> None:
        self.d.resolve(props.get("Target", {}), f"{lid}.Target")  # fails now, not when fired
        self.d.schedules[lid] = props
        arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{self.d.name(lid)}"
        self.d.intrinsics.add(lid, self.d.name(lid), Arn=arn)


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase keys as the Batch API's camelCase (values untouched)."""
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    return value


def _universal_call(service: str, action: str, payload: Any) -> tuple[str, str, dict[str, Any]]:
    """(boto service, client method, request) for an ``aws-sdk:<service>:<action>`` target."""
    model = _session.get_service_model(service)
    names = {_folded(name): name for name in model.operation_names}
    operation = model.operation_model(names[_folded(action)])
    method = re.sub(r"(?<!^)(?=[A-Z])", "_", operation.name).lower()
    return service, method, _to_boto(payload, operation.input_shape)


def _folded(name: str) -> str:
    return name.replace("_", "").lower()


def _to_boto(value: Any, shape: Any) -> Any:
    """The state language's and Scheduler's PascalCase member names as botocore's."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = {_folded(k): (k, s) for k, s in shape.members.items()}
        out: dict[str, Any] = {}
        for key, item in value.items():
            name, member = members.get(_folded(key), (key, None))
            out[name] = _to_boto(item, member) if member is not None else item
        return out
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_to_boto(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: _to_boto(v, shape.value) for k, v in value.items()}
    return value
