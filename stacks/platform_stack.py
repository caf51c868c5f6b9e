"""BatchPlatformStack: a network, EC2 Spot/on-demand and Fargate compute, three queues."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, Size, Stack, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from constructs_batch.compute import Ec2Compute, FargateCompute
from constructs_batch.job import ContainerJob
from constructs_batch.network import BatchNetwork, NetworkProfile
from constructs_batch.queue import BatchQueue

__all__ = ["BatchPlatformStack"]

#: Image of the example job: a public image, so the stack needs no Docker to synth.
EXAMPLE_JOB_IMAGE = "public.ecr.aws/amazonlinux/amazonlinux:2023"
#: Prefix of the SSM parameters that publish the platform's ARNs to other apps.
PARAMETER_PREFIX = "/constructs-batch"


class BatchPlatformStack(Stack):
    """The shared AWS Batch platform other stacks and apps submit jobs to.

    A network, Spot and on-demand EC2 environments, Fargate Spot and Fargate
    environments, and three queues: ``high_priority_queue`` (on-demand first),
    ``default_queue`` (Spot first, on-demand fallback) and ``fargate_queue``
    (Fargate Spot first, Fargate fallback). Queue and job definition ARNs are
    published as SSM parameters under ``/constructs-batch/<stack name>/`` and as
    stack outputs, so other CDK apps can import them by ARN.

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
        self.network = BatchNetwork(self, "Network", profile=network_profile, max_azs=max_azs)

        spot = Ec2Compute(self, "Spot", network=self.network, spot=True, max_vcpus=256)
        on_demand = Ec2Compute(self, "OnDemand", network=self.network, max_vcpus=64)
        fargate_spot = FargateCompute(
            self, "FargateSpot", network=self.network, spot=True, max_vcpus=64
        )
        fargate = FargateCompute(self, "Fargate", network=self.network, max_vcpus=64)

        self.high_priority_queue = BatchQueue(
            self, "HighPriority", priority=100, environments=[on_demand, spot]
        )
        self.default_queue = BatchQueue(
            self, "Default", priority=10, environments=[spot, on_demand]
        )
        self.fargate_queue = BatchQueue(
            self, "FargateQueue", priority=10, environments=[fargate_spot, fargate]
        )

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
        self._publish()

    def _publish(self) -> None:
        """SSM parameters and outputs for every queue and job definition ARN."""
        published = {
            "HighPriorityQueueArn": (
                "queues/high-priority",
                self.high_priority_queue.job_queue.job_queue_arn,
            ),
            "DefaultQueueArn": ("queues/default", self.default_queue.job_queue.job_queue_arn),
            "FargateQueueArn": ("queues/fargate", self.fargate_queue.job_queue.job_queue_arn),
            "ExampleJobDefinitionArn": (
                "job-definitions/example",
                self.example_job.job_definition.job_definition_arn,
            ),
        }
        for output_id, (path, arn) in published.items():
            ssm.StringParameter(
                self,
                f"{output_id}Parameter",
                parameter_name=f"{PARAMETER_PREFIX}/{self.stack_name}/{path}",
                string_value=arn,
                description=f"{output_id} of {self.stack_name}",
            )
            CfnOutput(self, output_id, value=arn, export_name=f"{self.stack_name}-{output_id}")
