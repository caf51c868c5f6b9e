#!/usr/bin/env python3
"""Benchmark baseline: the reference app written directly with aws-cdk-lib L2s.

``bench/run.py`` synthesizes this app side by side with ``app.py`` to measure what
constructs_batch adds to a synth (argument validation, placement checks, the
acknowledgments it computes, its extra construct layers). So this file builds the
same two stacks (``BatchPlatform`` and ``CsvPipeline``) with the same resources,
properties, IAM statements, assets, cdk-nag plugin and acknowledgments as the
reference app in its default configuration (``PUBLIC`` network, the pipeline on
the platform's Fargate queue), the way a platform team would write it by hand from
the AWS and CDK documentation: no import of ``constructs_batch`` or ``stacks``.

Run it like app.py (``CDK_OUTDIR`` and ``CDK_CONTEXT_JSON`` set by bench/run.py)::

    python bench/baseline_app.py

Context read (the reference app's keys): ``constructs_batch:max_azs`` (default 2)
and ``constructs_batch:destroy_data`` (default false). Only the default network
profile and the platform-hosted pipeline are mirrored; other settings are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import (
    Acknowledgment,
    App,
    ArnFormat,
    CfnOutput,
    Duration,
    Fn,
    RemovalPolicy,
    Size,
    Stack,
    Validations,
)
from aws_cdk import aws_batch as batch
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
SUBMITTER_CODE = ROOT / "lambda" / "submit_job"
LOADER_IMAGE = ROOT / "jobs" / "csv_loader"
ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache"]
CONTEXT_PREFIX = "constructs_batch:"

ECS_INSTANCE_POLICY = "service-role/AmazonEC2ContainerServiceforEC2Role"
EXAMPLE_JOB_IMAGE = "public.ecr.aws/amazonlinux/amazonlinux:2023"
INPUT_PREFIX = "incoming/"
INPUT_SUFFIX = ".csv"
REJECTED_PREFIX = "rejected/"
MANIFEST_PREFIX = "manifests/"
METRICS_NAMESPACE = "constructs_batch/CsvPipeline"


def retry_strategies() -> list[batch.RetryStrategy]:
    """Retry Spot reclaims (EC2 and Fargate), exit on any application exit code."""
    return [
        batch.RetryStrategy.of(
            batch.Action.RETRY, batch.Reason.custom(on_status_reason="Host EC2*")
        ),
        batch.RetryStrategy.of(
            batch.Action.RETRY,
            batch.Reason.custom(on_status_reason="Your Spot Task was interrupted*"),
        ),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom(on_exit_code="*")),
    ]


def cancel_stuck_jobs() -> list[batch.JobStateTimeLimitAction]:
    """Cancel jobs stuck in RUNNABLE: after a day waiting for capacity, 30 minutes misconfigured."""
    return [
        batch.JobStateTimeLimitAction(
            max_time=max_time,
            reason=reason,
            action=batch.JobStateTimeLimitActionsAction.CANCEL,
            state=batch.JobStateTimeLimitActionsState.RUNNABLE,
        )
        for reason, max_time in (
            (batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY, Duration.days(1)),
            (
                batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
                Duration.minutes(30),
            ),
            (batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT, Duration.minutes(30)),
        )
    ]


class PlatformStack(Stack):
    """VPC, EC2 Spot/on-demand and Fargate (Spot) compute, three queues, an example job."""

    def __init__(self, scope: Construct, construct_id: str, *, max_azs: int, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)

        # --- network: public subnets, no NAT, gateway endpoints, flow logs -------
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC)
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
                ),
            },
            restrict_default_security_group=True,
        )
        flow_log_group = logs.LogGroup(self, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH)
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
        security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="AWS Batch compute: no inbound, all outbound",
            allow_all_outbound=True,
        )

        # --- compute ------------------------------------------------------------
        def ec2_environment(
            name: str, *, spot: bool, max_vcpus: int
        ) -> batch.ManagedEc2EcsComputeEnvironment:
            launch_template = ec2.LaunchTemplate(
                self,
                f"{name}LaunchTemplate",
                http_endpoint=True,
                http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
                http_put_response_hop_limit=1,
                block_devices=[
                    ec2.BlockDevice(
                        device_name="/dev/xvda",
                        volume=ec2.BlockDeviceVolume.ebs(
                            30,
                            encrypted=True,
                            volume_type=ec2.EbsDeviceVolumeType.GP3,
                            delete_on_termination=True,
                        ),
                    )
                ],
                user_data=ec2.MultipartUserData(),
            )
            environment = batch.ManagedEc2EcsComputeEnvironment(
                self,
                f"{name}ComputeEnvironment",
                vpc=vpc,
                vpc_subnets=subnets,
                security_groups=[security_group],
                spot=spot,
                maxv_cpus=max_vcpus,
                minv_cpus=0,
                default_instance_classes=[batch.DefaultInstanceClass.X86_64],
                allocation_strategy=(
                    batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
                    if spot
                    else batch.AllocationStrategy.BEST_FIT_PROGRESSIVE
                ),
                images=[batch.EcsMachineImage(image_type=batch.EcsMachineImageType.ECS_AL2023)],
                launch_template=launch_template,
            )
            # Pass the template version so that template changes reach the instances.
            cfn_environment = environment.node.default_child
            assert isinstance(cfn_environment, batch.CfnComputeEnvironment)
            cfn_environment.add_property_override(
                "ComputeResources.LaunchTemplate.Version", launch_template.latest_version_number
            )
            assert environment.instance_role is not None
            Validations.of(environment.instance_role).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    f"{ECS_INSTANCE_POLICY}]",
                    reason="AWS-maintained policy of the ECS agent on Batch instances; its "
                    "actions take no resource ARN, and IMDSv2 with hop limit 1 keeps job "
                    "containers off the instance role",
                )
            )
            return environment

        spot = ec2_environment("Spot", spot=True, max_vcpus=256)
        on_demand = ec2_environment("OnDemand", spot=False, max_vcpus=64)
        fargate_spot = batch.FargateComputeEnvironment(
            self,
            "FargateSpotComputeEnvironment",
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            spot=True,
            maxv_cpus=64,
        )
        fargate = batch.FargateComputeEnvironment(
            self,
            "FargateComputeEnvironment",
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            maxv_cpus=64,
        )

        # --- queues -------------------------------------------------------------
        def queue(
            queue_id: str, priority: int, environments: list[batch.IComputeEnvironment]
        ) -> batch.JobQueue:
            return batch.JobQueue(
                self,
                queue_id,
                priority=priority,
                compute_environments=[
                    batch.OrderedComputeEnvironment(compute_environment=env, order=order)
                    for order, env in enumerate(environments, start=1)
                ],
                job_state_time_limit_actions=cancel_stuck_jobs(),
            )

        self.high_priority_queue = queue("HighPriorityQueue", 100, [on_demand, spot])
        self.default_queue = queue("DefaultQueue", 10, [spot, on_demand])
        self.fargate_queue = queue("FargateQueue", 10, [fargate_spot, fargate])

        # --- example job: a secret field injected from Secrets Manager ----------
        secret = secretsmanager.Secret(
            self,
            "ExampleDbSecret",
            description="Example database credentials injected into the example job",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"username": "batch"}',
                generate_string_key="password",
                exclude_punctuation=True,
            ),
        )
        Validations.of(secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="Example credential with no database behind it: rotation needs a "
                "rotation function for the real database",
            )
        )
        job_log_group = logs.LogGroup(
            self, "ExampleJobLogGroup", retention=logs.RetentionDays.ONE_MONTH
        )
        job_role = iam.Role(
            self,
            "ExampleJobRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Role the job's container runs as",
        )
        container = batch.EcsEc2ContainerDefinition(
            self,
            "ExampleJobContainer",
            image=ecs.ContainerImage.from_registry(EXAMPLE_JOB_IMAGE),
            cpu=1,
            memory=Size.gibibytes(2),
            command=["sh", "-c", 'test -n "$DB_PASSWORD" && echo connected'],
            environment={"DB_USER": "batch"},
            secrets={"DB_PASSWORD": batch.Secret.from_secrets_manager(secret, "password")},
            job_role=job_role,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="job", log_group=job_log_group),
            readonly_root_filesystem=True,
        )
        example_job = batch.EcsJobDefinition(
            self,
            "ExampleJob",
            container=container,
            propagate_tags=True,
            retry_attempts=3,
            retry_strategies=retry_strategies(),
            timeout=Duration.minutes(30),
        )

        # --- example Graviton job on the Fargate queue -----------------------------
        graviton_log_group = logs.LogGroup(
            self, "ExampleGravitonJobLogGroup", retention=logs.RetentionDays.ONE_MONTH
        )
        graviton_container = batch.EcsFargateContainerDefinition(
            self,
            "ExampleGravitonJobContainer",
            image=ecs.ContainerImage.from_registry(EXAMPLE_JOB_IMAGE),
            cpu=0.25,
            memory=Size.mebibytes(512),
            command=["uname", "-m"],
            job_role=iam.Role(
                self,
                "ExampleGravitonJobRole",
                assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                description="Role the job's container runs as",
            ),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="job", log_group=graviton_log_group),
            readonly_root_filesystem=True,
            assign_public_ip=True,
            fargate_cpu_architecture=ecs.CpuArchitecture.ARM64,
            volumes=[batch.EcsVolume.host(name="scratch", container_path="/tmp", readonly=False)],
        )
        graviton_job = batch.EcsJobDefinition(
            self,
            "ExampleGravitonJob",
            container=graviton_container,
            propagate_tags=True,
            retry_attempts=3,
            retry_strategies=retry_strategies(),
            timeout=Duration.minutes(10),
        )
        graviton_resource = graviton_job.node.default_child
        assert isinstance(graviton_resource, batch.CfnJobDefinition)
        graviton_resource.add_property_deletion_override("ContainerProperties.Volumes.0.Host")

        # --- example workflow (Check, then FanOut as an array of 2), nightly, disabled
        _add_example_workflow(self, example_job, self.default_queue)

        # --- publish ARNs for other apps ----------------------------------------
        published = {
            "HighPriorityQueueArn": (
                "queues/high-priority",
                self.high_priority_queue.job_queue_arn,
            ),
            "DefaultQueueArn": ("queues/default", self.default_queue.job_queue_arn),
            "FargateQueueArn": ("queues/fargate", self.fargate_queue.job_queue_arn),
            "ExampleJobDefinitionArn": (
                "job-definitions/example",
                example_job.job_definition_arn,
            ),
        }
        # Each queue's capacity, as the JSON BatchQueue.from_lookup reads, written by hand.
        ec2_capacity = (
            '{"architecture":"x86_64","assign_public_ip":false,"fargate":false,"gpus":0,'
            '"memory_mib":1022329,"multi_node_instance_types":[],"vcpus":192}'
        )
        fargate_capacity = (
            '{"architecture":"x86_64","assign_public_ip":true,"fargate":true,"gpus":0,'
            '"memory_mib":122880,"multi_node_instance_types":[],"vcpus":16.0}'
        )
        published |= {
            "HighPriorityQueueCapacity": ("queues/high-priority/capacity", ec2_capacity),
            "DefaultQueueCapacity": ("queues/default/capacity", ec2_capacity),
            "FargateQueueCapacity": ("queues/fargate/capacity", fargate_capacity),
        }
        for output_id, (path, value) in published.items():
            ssm.StringParameter(
                self,
                f"{output_id}Parameter",
                parameter_name=f"/constructs-batch/{self.stack_name}/{path}",
                string_value=value,
                description=f"{output_id} of {self.stack_name}",
            )
            CfnOutput(self, output_id, value=value, export_name=f"{self.stack_name}-{output_id}")


def _batch_step(
    scope: Construct,
    name: str,
    job: batch.EcsJobDefinition,
    queue: batch.JobQueue,
    array_size: int | None = None,
) -> tasks.BatchSubmitJob:
    step = tasks.BatchSubmitJob(
        scope,
        name,
        job_name=name,
        job_queue_arn=queue.job_queue_arn,
        job_definition_arn=job.job_definition_arn,
        array_size=array_size,
        result_path=f"$.jobs.{name}",
        result_selector={
            "JobId.$": "$.JobId",
            "JobName.$": "$.JobName",
            "Status.$": "$.Status",
        },
    )
    step.add_retry(
        errors=[
            "Batch.AWSBatchException",
            "Batch.TooManyRequestsException",
            "Batch.ServerException",
        ],
        interval=Duration.seconds(1),
        max_attempts=6,
        backoff_rate=2,
        jitter_strategy=sfn.JitterType.FULL,
    )
    return step


def _add_example_workflow(
    stack: Stack, example_job: batch.EcsJobDefinition, queue: batch.JobQueue
) -> None:
    """The example workflow and its disabled nightly schedule, written with L2s."""
    log_group = logs.LogGroup(stack, "ExampleWorkflowLogs", retention=logs.RetentionDays.ONE_MONTH)
    role = iam.Role(
        stack, "ExampleWorkflowRole", assumed_by=iam.ServicePrincipal("states.amazonaws.com")
    )
    body = sfn.Parallel(stack, "ExampleWorkflowRun", output_path="$[0]")
    body.branch(
        _batch_step(stack, "Check", example_job, queue).next(
            _batch_step(stack, "FanOut", example_job, queue, array_size=2)
        )
    )
    describe = sfn.Pass(
        stack,
        "JobDescription",
        parameters={"error.$": "$.error", "job.$": "States.StringToJson($.error.Cause)"},
    )
    body.add_catch(
        describe.next(
            sfn.Fail(stack, "JobFailed", error="BatchJobFailed", cause_path="$.job.StatusReason")
        ),
        errors=["States.TaskFailed"],
        result_path="$.error",
    )
    body.add_catch(
        sfn.Fail(stack, "StepFailed", error="WorkflowStepFailed", cause_path="$.error.Cause"),
        errors=["States.ALL"],
        result_path="$.error",
    )
    machine = sfn.StateMachine(
        stack,
        "ExampleWorkflow",
        definition_body=sfn.DefinitionBody.from_chainable(body),
        role=role,
        timeout=Duration.hours(24),
        logs=sfn.LogOptions(
            destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
        ),
        tracing_enabled=True,
    )
    iam.Policy(
        stack,
        "ExampleWorkflowSyncPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(actions=["batch:DescribeJobs"], resources=["*"]),
            iam.PolicyStatement(
                actions=["batch:TerminateJob"],
                resources=[stack.format_arn(service="batch", resource="job", resource_name="*")],
            ),
        ],
    )
    wildcards = {
        role.node.find_child("DefaultPolicy"): (
            "Resource::*",
            "Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job-definition/*",
        ),
        stack.node.find_child("ExampleWorkflowSyncPolicy"): (
            "Resource::*",
            "Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*",
        ),
    }
    for construct, findings in wildcards.items():
        for finding in findings:
            Validations.of(construct).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[{finding}]",
                    reason="Batch .sync, execution logs and X-Ray need these",
                )
            )
    dead_letters = sqs.Queue(
        stack,
        "ExampleNightlyDeadLetters",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    Validations.of(dead_letters).acknowledge(
        Acknowledgment(id="AwsSolutions-SQS3", reason="The schedule target's dead-letter queue")
    )
    scheduler.Schedule(
        stack,
        "ExampleNightly",
        schedule=scheduler.ScheduleExpression.cron(minute="0", hour="2"),
        target=scheduler_targets.StepFunctionsStartExecution(
            machine,
            input=scheduler.ScheduleTargetInput.from_object({}),
            dead_letter_queue=dead_letters,
            retry_attempts=3,
            max_event_age=Duration.hours(2),
        ),
        enabled=False,
    )


class PipelineStack(Stack):
    """S3 -> SQS -> Lambda -> Batch (Fargate) -> DynamoDB, with a DLQ and alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_queue: batch.IJobQueue,
        removal_policy: RemovalPolicy,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)

        # --- storage ------------------------------------------------------------
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            versioned=True,
            removal_policy=removal_policy,
        )
        Validations.of(access_logs).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="This bucket is the server access log destination of the input "
                "bucket; logging it to itself would loop",
            )
        )
        bucket = s3.Bucket(
            self,
            "Input",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="input/",
            removal_policy=removal_policy,
        )
        bucket_arn = f"<{self.get_logical_id(bucket.node.default_child)}.Arn>"  # type: ignore[arg-type]
        table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
        )
        ledger = dynamodb.Table(
            self,
            "Ledger",
            partition_key=dynamodb.Attribute(name="object_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
        )

        # --- notifications: a topic EventBridge and CloudWatch can publish to ----
        alarm_key = kms.Key(
            self,
            "AlarmKey",
            description="Encrypts the pipeline's notification topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        publishers = {
            "cloudwatch.amazonaws.com": {
                "StringEquals": {"aws:SourceAccount": self.account},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{self.partition}:cloudwatch:{self.region}:"
                    f"{self.account}:alarm:*"
                },
            },
            "events.amazonaws.com": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:sns:topicArn": f"arn:{self.partition}:sns:"
                    f"{self.region}:{self.account}:*"
                }
            },
        }
        for service, condition in publishers.items():
            alarm_key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                    conditions=condition,
                )
            )
        alarm_topic = sns.Topic(self, "Alarms", master_key=alarm_key, enforce_ssl=True)

        # --- events: S3 -> SQS with a dead-letter queue -------------------------
        dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        Validations.of(dead_letters).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is the dead-letter queue of the event queue; an alarm "
                "notifies as soon as it holds a message",
            )
        )
        events_queue = sqs.Queue(
            self,
            "Events",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(360),
            retention_period=Duration.days(14),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=5),
        )
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(events_queue),
            s3.NotificationKeyFilter(prefix=INPUT_PREFIX),
        )
        for child in self.node.children:
            if child.node.id.startswith("BucketNotificationsHandler"):
                Validations.of(child).acknowledge(
                    Acknowledgment(
                        id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                        "service-role/AWSLambdaBasicExecutionRole]",
                        reason="aws-cdk-lib's own deploy-time handler that sets the bucket "
                        "notification; it only writes its logs",
                    )
                )

        # --- loader job on the platform's Fargate queue, and the completion job ----
        # that follows each load (same image, another module)
        loader_image = ecs.ContainerImage.from_asset(str(LOADER_IMAGE), exclude=ASSET_EXCLUDES)

        def fargate_job(
            name: str,
            description: str,
            *,
            cpu: float,
            memory: Size,
            module: str,
            environment: dict[str, str],
            timeout: Duration,
        ) -> tuple[iam.Role, batch.EcsJobDefinition]:
            role = iam.Role(
                self,
                f"{name}Role",
                assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                description=description,
            )
            log_group = logs.LogGroup(
                self, f"{name}LogGroup", retention=logs.RetentionDays.ONE_MONTH
            )
            container = batch.EcsFargateContainerDefinition(
                self,
                f"{name}Container",
                image=loader_image,
                cpu=cpu,
                memory=memory,
                environment={"AWS_DEFAULT_REGION": self.region, **environment},
                command=[module],
                job_role=role,
                logging=ecs.LogDrivers.aws_logs(stream_prefix="job", log_group=log_group),
                readonly_root_filesystem=True,
                assign_public_ip=True,
                fargate_cpu_architecture=ecs.CpuArchitecture.X86_64,
            )
            Validations.of(container.execution_role).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="ecr:GetAuthorizationToken supports no resource-level permissions; "
                    "the image pull itself is scoped to the repository",
                )
            )
            definition = batch.EcsJobDefinition(
                self,
                name,
                container=container,
                propagate_tags=True,
                retry_attempts=3,
                retry_strategies=retry_strategies(),
                timeout=timeout,
            )
            return role, definition

        loader_role, loader = fargate_job(
            "Loader",
            "Loader job: reads incoming/ and manifests/, writes rejected/ and both tables",
            cpu=1,
            memory=Size.gibibytes(2),
            module="loader_main",
            environment={
                "TARGET_TABLE_NAME": table.table_name,
                "LEDGER_TABLE_NAME": ledger.table_name,
                "KEY_COLUMNS": "id",
                "NUMERIC_COLUMNS": "",
                "BOOLEAN_COLUMNS": "",
                "NULL_VALUES": '[""]',
                "REJECTED_PREFIX": REJECTED_PREFIX,
                "REJECT_THRESHOLD": "0.05",
                "METRICS_NAMESPACE": METRICS_NAMESPACE,
                "METRICS_PIPELINE": ledger.table_name,
            },
            timeout=Duration.hours(2),
        )
        completion_role, completion = fargate_job(
            "Completion",
            "Completion job: reads the ledger and manifests/, records outcomes, "
            "publishes the load events",
            cpu=0.25,
            memory=Size.mebibytes(512),
            module="loader_completion",
            environment={
                "LEDGER_TABLE_NAME": ledger.table_name,
                "TARGET_TABLE_NAME": table.table_name,
            },
            timeout=Duration.minutes(30),
        )

        # --- submitter Lambda ---------------------------------------------------
        submitter_logs = logs.LogGroup(
            self,
            "SubmitterLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=removal_policy,
        )
        submitter_role = iam.Role(
            self,
            "SubmitterRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Submitter: claims objects in the ledger and submits the loader job",
        )
        submitter_logs.grant_write(submitter_role)
        logs_id = self.get_logical_id(submitter_logs.node.default_child)  # type: ignore[arg-type]
        Validations.of(submitter_role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{logs_id}.Arn>:*]",
                reason="Lambda names its log streams at run time; the grant is scoped "
                "to the function's own log group",
            )
        )
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            self.format_arn(
                service="lambda",
                account="017000801446",
                resource="layer",
                resource_name="AWSLambdaPowertoolsPythonV3-python314-arm64:27",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
        )
        submitter = lambda_.Function(
            self,
            "Submitter",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(SUBMITTER_CODE), exclude=ASSET_EXCLUDES),
            layers=[powertools],
            role=submitter_role,
            timeout=Duration.seconds(60),
            memory_size=256,
            reserved_concurrent_executions=5,
            log_group=submitter_logs,
            logging_format=lambda_.LoggingFormat.JSON,
            description="Submits the CSV loader job for objects created under incoming/",
            environment={
                "JOB_QUEUE_ARN": job_queue.job_queue_arn,
                "JOB_DEFINITION_ARN": loader.job_definition_arn,
                "LEDGER_TABLE_NAME": ledger.table_name,
                "INPUT_PREFIX": INPUT_PREFIX,
                "INPUT_SUFFIX": INPUT_SUFFIX,
                "MANIFEST_PREFIX": MANIFEST_PREFIX,
                "LEASE_SECONDS": "900",
                "COMPLETION_JOB_DEFINITION_ARN": completion.job_definition_arn,
                "SPLIT_THRESHOLD_BYTES": str(1 << 30),
                "MAX_PARTS": "64",
                "METRICS_NAMESPACE": METRICS_NAMESPACE,
                "METRICS_PIPELINE": ledger.table_name,
                "POWERTOOLS_SERVICE_NAME": "csv-pipeline-submitter",
            },
        )
        submitter.add_event_source(
            event_sources.SqsEventSource(
                events_queue,
                batch_size=1000,
                max_batching_window=Duration.seconds(5),
                report_batch_item_failures=True,
            )
        )

        # --- failure notifications ----------------------------------------------
        failed_jobs = events.Rule(
            self,
            "FailedJobs",
            description="Jobs (loads and their completions) that failed on the pipeline's queue",
            event_pattern=events.EventPattern(
                source=["aws.batch"],
                detail_type=["Batch Job State Change"],
                detail={"status": ["FAILED"], "jobQueue": [job_queue.job_queue_arn]},
            ),
        )
        failed_jobs.add_target(targets.SnsTopic(alarm_topic))
        failed_loads = events.Rule(
            self,
            "FailedLoads",
            description="Objects the pipeline could not load (its CsvLoadFailed events)",
            event_pattern=events.EventPattern(
                source=["constructs_batch.pipeline"],
                detail_type=["CsvLoadFailed"],
                detail={"ledger_table": [ledger.table_name]},
            ),
        )
        failed_loads.add_target(targets.SnsTopic(alarm_topic))
        alarm_action = cloudwatch_actions.SnsAction(alarm_topic)
        dlq_alarm = dead_letters.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1)
        ).create_alarm(
            self,
            "DeadLettersAlarm",
            alarm_description="Events the submitter could not process are in the DLQ",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        errors_alarm = submitter.metric_errors(period=Duration.minutes(5)).create_alarm(
            self,
            "SubmitterErrorsAlarm",
            alarm_description="The submitter Lambda raised errors",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        dlq_alarm.add_alarm_action(alarm_action)
        errors_alarm.add_alarm_action(alarm_action)

        # --- permissions --------------------------------------------------------
        # SubmitJob on the queue and every revision of the loader's and the completion's
        # job definitions (job-definition/<name>:*): the revision changes on each deployment.
        for definition in (loader, completion):
            name = Fn.select(
                0, Fn.split(":", Fn.select(1, Fn.split("/", definition.job_definition_arn)))
            )
            iam.Grant.add_to_principal(
                grantee=submitter,
                actions=["batch:SubmitJob"],
                resource_arns=[
                    job_queue.job_queue_arn,
                    self.format_arn(
                        service="batch", resource="job-definition", resource_name=f"{name}:*"
                    ),
                ],
            )
            nag_name = json.dumps(self.resolve(name), separators=(",", ":"))
            Validations.of(submitter_role.node.find_child("DefaultPolicy")).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:"
                    f"<AWS::AccountId>:job-definition/{nag_name}:*]",
                    reason="batch:SubmitJob on every revision of one job definition: the "
                    "revision changes on each deployment and the name is fixed",
                )
            )
        # CancelJob: a load whose completion job could not be submitted is taken back.
        iam.Grant.add_to_principal(
            grantee=submitter,
            actions=["batch:CancelJob"],
            resource_arns=[self.format_arn(service="batch", resource="job", resource_name="*")],
        )
        Validations.of(submitter_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:"
                "<AWS::AccountId>:job/*]",
                reason="batch:CancelJob on the load job just submitted, whose id exists only "
                "at run time",
            )
        )
        ledger.grant(submitter, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")

        def grant_objects(role: iam.Role, actions: list[str], *prefixes: str) -> None:
            iam.Grant.add_to_principal(
                grantee=role,
                actions=actions,
                resource_arns=[bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
            )
            for prefix in prefixes:
                Validations.of(role).acknowledge(
                    Acknowledgment(
                        id=f"AwsSolutions-IAM5[Resource::{bucket_arn}/{prefix}*]",
                        reason="Object keys are only known at run time; access is limited "
                        f"to {', '.join(actions)} under the {prefix} prefix",
                    )
                )

        grant_objects(submitter_role, ["s3:PutObject"], MANIFEST_PREFIX)
        grant_objects(
            loader_role, ["s3:GetObject", "s3:GetObjectVersion"], INPUT_PREFIX, MANIFEST_PREFIX
        )
        grant_objects(loader_role, ["s3:PutObject", "s3:AbortMultipartUpload"], REJECTED_PREFIX)
        grant_objects(loader_role, ["s3:PutObject"], f"{MANIFEST_PREFIX}parts/")
        table.grant(loader_role, "dynamodb:BatchWriteItem", "dynamodb:DescribeTable")
        ledger.grant(loader_role, "dynamodb:UpdateItem")
        ledger.grant(completion_role, "dynamodb:BatchGetItem", "dynamodb:UpdateItem")
        grant_objects(completion_role, ["s3:GetObject"], MANIFEST_PREFIX)
        events.EventBus.from_event_bus_name(self, "DefaultBus", "default").grant_put_events_to(
            completion_role
        )

        outputs = {
            "InputBucketName": bucket.bucket_name,
            "TableName": table.table_name,
            "LedgerTableName": ledger.table_name,
            "DeadLetterQueueUrl": dead_letters.queue_url,
            "AlarmTopicArn": alarm_topic.topic_arn,
        }
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value)


def build(app: App) -> tuple[PlatformStack, PipelineStack]:
    """Add both stacks to the app, as the reference app does with its default context."""
    profile = str(app.node.try_get_context(CONTEXT_PREFIX + "network_profile") or "PUBLIC")
    standalone = str(app.node.try_get_context(CONTEXT_PREFIX + "pipeline_standalone"))
    if profile.upper() != "PUBLIC" or standalone.lower() == "true":
        raise SystemExit(
            "the baseline mirrors only the default configuration: network_profile PUBLIC "
            f"and the pipeline on the platform's queue, got {profile!r}, standalone {standalone}"
        )
    max_azs = int(app.node.try_get_context(CONTEXT_PREFIX + "max_azs") or 2)
    destroy = str(app.node.try_get_context(CONTEXT_PREFIX + "destroy_data")).lower() == "true"
    platform = PlatformStack(app, "BatchPlatform", max_azs=max_azs)
    pipeline = PipelineStack(
        app,
        "CsvPipeline",
        job_queue=platform.fargate_queue,
        removal_policy=RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN,
    )
    return platform, pipeline


if __name__ == "__main__":
    baseline_app = App()
    build(baseline_app)
    Validations.of(baseline_app).add_plugins(AwsSolutionsChecks(baseline_app))
    baseline_app.synth()
