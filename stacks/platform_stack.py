"""BatchPlatformStack: the reference platform (a BatchPlatform) and an example job."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, Size, Stack, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from constructs_batch.job import ContainerJob
from constructs_batch.network import NetworkProfile
from constructs_batch.platform import PARAMETER_ROOT, BatchPlatform
from constructs_batch.workflow import JobSchedule, JobWorkflow

__all__ = ["BatchPlatformStack"]

#: Image of the example job: a public image, so the stack needs no Docker to synth.
EXAMPLE_JOB_IMAGE = "public.ecr.aws/amazonlinux/amazonlinux:2023"


class BatchPlatformStack(Stack):
    """The shared AWS Batch platform other stacks and apps submit jobs to.

    A :class:`~constructs_batch.platform.BatchPlatform` (network, Spot, on-demand and
    Fargate compute, three queues, each queue's ARN and capacity published under
    ``/constructs-batch/<stack name>/queues/`` and as exported outputs), an example
    job reading a secret, whose job definition ARN is published beside them, an
    example Graviton (ARM64) job on the Fargate queue, and an example workflow (the
    job, then the job as an array of two) with a nightly schedule created disabled, so
    the stack costs nothing until it is turned on.

    Args:
        network_profile: how jobs reach the internet. Default: ``PUBLIC`` ($0 idle).
        max_azs: Availability Zones of the new VPC. Default: 2.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network_profile: NetworkProfile = NetworkProfile.PUBLIC,
        max_azs: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # "Default" is left out of logical ids: the platform's resources keep the ids
        # they had when this stack built them itself.
        self.platform = BatchPlatform(
            self,
            "Default",
            network_profile=network_profile,
            max_azs=max_azs,
            export_prefix=self.stack_name,
        )
        self.network = self.platform.network
        self.high_priority_queue = self.platform.high_priority_queue
        self.default_queue = self.platform.default_queue
        self.fargate_queue = self.platform.fargate_queue

        self.example_secret = secretsmanager.Secret(
            self,
            "ExampleDbSecret",
            description="Example database credentials injected into the example job",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"username": "batch"}',
                generate_string_key="password",
                exclude_punctuation=True,
            ),
        )
        Validations.of(self.example_secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="Example credential with no database behind it: rotation needs a "
                "rotation function for the real database, which the user adds with it",
            )
        )
        self.example_job = ContainerJob(
            self,
            "ExampleJob",
            image=ecs.ContainerImage.from_registry(EXAMPLE_JOB_IMAGE),
            queue=self.default_queue,
            vcpus=1,
            memory=Size.gibibytes(2),
            command=["sh", "-c", 'test -n "$DB_PASSWORD" && echo connected'],
            environment={"DB_USER": "batch"},
            secrets={"DB_PASSWORD": (self.example_secret, "password")},
            timeout=Duration.minutes(30),
        )
        # Graviton on Fargate (Spot first): the same public image runs on ARM64.
        self.example_graviton_job = ContainerJob(
            self,
            "ExampleGravitonJob",
            image=ecs.ContainerImage.from_registry(EXAMPLE_JOB_IMAGE),
            queue=self.fargate_queue,
            cpu_architecture=ecs.CpuArchitecture.ARM64,
            vcpus=0.25,
            memory=Size.mebibytes(512),
            command=["uname", "-m"],
            timeout=Duration.minutes(10),
        )
        arn = self.example_job.job_definition.job_definition_arn
        ssm.StringParameter(
            self,
            "ExampleJobDefinitionArnParameter",
            parameter_name=f"{PARAMETER_ROOT}/{self.stack_name}/job-definitions/example",
            string_value=arn,
            description=f"ExampleJobDefinitionArn of {self.stack_name}",
        )
        CfnOutput(
            self,
            "ExampleJobDefinitionArn",
            value=arn,
            export_name=f"{self.stack_name}-ExampleJobDefinitionArn",
        )

        self.example_workflow = JobWorkflow(self, "ExampleWorkflow")
        check = self.example_workflow.submit(
            "Check", job=self.example_job, queue=self.default_queue
        )
        fan_out = self.example_workflow.submit(
            "FanOut", job=self.example_job, queue=self.default_queue, array_size=2
        )
        self.example_workflow.define(check.next(fan_out))
        # Disabled: a nightly run of the example would bill Spot minutes every day.
        self.example_schedule = JobSchedule(
            self,
            "ExampleNightly",
            schedule=scheduler.ScheduleExpression.cron(minute="0", hour="2"),
            workflow=self.example_workflow,
            enabled=False,
        )
