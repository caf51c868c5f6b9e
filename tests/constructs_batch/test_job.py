"""ContainerJob: what the synthesized job definition, roles and grants look like."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Size, Stack, Validations
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from aws_cdk.assertions import Match, Template
from constructs import IConstruct
from helpers import logical_id, make_app, properties

from constructs_batch import limits
from constructs_batch.compute import Ec2Compute, FargateCompute
from constructs_batch.job import ContainerJob
from constructs_batch.network import BatchNetwork, NetworkProfile
from constructs_batch.queue import BatchQueue
from constructs_batch.testing import nag_findings

IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox:1.36")


class Jobs:
    """One stack: a public network, an EC2 and a Fargate queue, jobs on both, a submitter."""

    def __init__(self) -> None:
        self.stack = Stack(make_app(), "JobStack")
        network = BatchNetwork(self.stack, "Network", profile=NetworkProfile.PUBLIC)
        spot = Ec2Compute(self.stack, "Spot", network=network, spot=True)
        on_demand = Ec2Compute(self.stack, "OnDemand", network=network, max_vcpus=64)
        fargate = FargateCompute(self.stack, "Fargate", network=network)
        self.ec2_queue = BatchQueue(self.stack, "Ec2Queue", environments=[spot, on_demand])
        self.fargate_queue = BatchQueue(self.stack, "FargateQueue", environments=[fargate])

        self.key = kms.Key(self.stack, "SecretKey", enable_key_rotation=True)
        self.encrypted = secretsmanager.Secret(self.stack, "Encrypted", encryption_key=self.key)
        self.database = secretsmanager.Secret(self.stack, "Database")
        for secret in (self.encrypted, self.database):
            # The secrets stand for the user's own: rotating them is not the job's concern.
            Validations.of(secret).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-SMG4", reason="test fixture standing for a user's secret"
                )
            )
        self.parameter = ssm.StringParameter(self.stack, "Setting", string_value="on")
        self.ec2_job = ContainerJob(
            self.stack,
            "Ec2Job",
            image=IMAGE,
            queue=self.ec2_queue,
            vcpus=2,
            memory=Size.gibibytes(4),
            command=["run", "Ref::input"],
            parameters={"input": "none"},
            environment={"MODE": "full"},
            secrets={
                "API_TOKEN": self.encrypted,
                "DB_PASSWORD": (self.database, "password"),
                "FEATURE": self.parameter,
            },
            retry_attempts=5,
            timeout=Duration.hours(2),
            log_retention=logs.RetentionDays.ONE_WEEK,
        )
        self.log_key = kms.Key(self.stack, "LogKey", enable_key_rotation=True)
        self.fargate_job = ContainerJob(
            self.stack,
            "FargateJob",
            image=IMAGE,
            queue=self.fargate_queue,
            vcpus=0.5,
            memory=Size.gibibytes(1),
            ephemeral_storage=Size.gibibytes(30),
            log_encryption_key=self.log_key,
        )
        self.private_job = ContainerJob(self.stack, "PrivateJob", image=IMAGE, fargate=True)
        self.gpu_job = ContainerJob(self.stack, "GpuJob", image=IMAGE, gpus=1, timeout=None)
        self.writable_job = ContainerJob(
            self.stack, "WritableJob", image=IMAGE, readonly_root_filesystem=False
        )
        # The escape hatch after construction: an EFS volume added to the L2 container.
        self.file_system = efs.FileSystem(
            self.stack, "Data", vpc=network.vpc, removal_policy=RemovalPolicy.DESTROY
        )
        self.fargate_job.container.add_volume(
            batch.EcsVolume.efs(
                name="data",
                container_path="/data",
                file_system=self.file_system,
                enable_transit_encryption=True,
            )
        )
        self.submitter = iam.Role(
            self.stack, "Submitter", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        self.ec2_job.grant_submit(self.submitter, self.ec2_queue)
        self.template = Template.from_stack(self.stack)
        self.resources: dict[str, Any] = self.template.to_json()["Resources"]

    def logical_id(self, construct: IConstruct) -> str:
        return logical_id(construct)

    def props(self, construct: IConstruct) -> dict[str, Any]:
        return properties(self.resources, construct)


@pytest.fixture(scope="module")
def jobs() -> Jobs:
    return Jobs()


def test_job_platform_follows_queue(jobs: Jobs) -> None:
    # GIVEN a job on the EC2 queue and one on the Fargate queue, neither passing fargate
    # WHEN the stack is synthesized
    # THEN each job definition has its queue's platform capability
    assert jobs.props(jobs.ec2_job.job_definition)["PlatformCapabilities"] == ["EC2"]
    assert jobs.props(jobs.fargate_job.job_definition)["PlatformCapabilities"] == ["FARGATE"]
    assert (jobs.ec2_job.fargate, jobs.fargate_job.fargate) == (False, True)


def test_job_without_queue_or_platform_runs_on_ec2(jobs: Jobs) -> None:
    # GIVEN a job with neither queue nor fargate
    # WHEN the stack is synthesized
    # THEN it is an EC2 job
    assert jobs.props(jobs.gpu_job.job_definition)["PlatformCapabilities"] == ["EC2"]


def test_job_reserves_vcpus_memory_and_gpus(jobs: Jobs) -> None:
    # GIVEN an EC2 job of 2 vCPU and 4 GiB, and a job with 1 GPU
    # WHEN the stack is synthesized
    ec2_requirements = jobs.props(jobs.ec2_job.job_definition)["ContainerProperties"][
        "ResourceRequirements"
    ]
    gpu_requirements = jobs.props(jobs.gpu_job.job_definition)["ContainerProperties"][
        "ResourceRequirements"
    ]
    # THEN the resource requirements say so
    assert ec2_requirements == [{"Type": "MEMORY", "Value": "4096"}, {"Type": "VCPU", "Value": "2"}]
    assert {"Type": "GPU", "Value": "1"} in gpu_requirements


def test_job_retries_spot_reclaims_and_exits_on_application_errors(jobs: Jobs) -> None:
    # GIVEN retry_attempts=5
    # WHEN the stack is synthesized
    strategy = jobs.props(jobs.ec2_job.job_definition)["RetryStrategy"]
    # THEN reclaims are retried first, then any exit code ends the job
    assert strategy == {
        "Attempts": 5,
        "EvaluateOnExit": [
            {"Action": "RETRY", "OnStatusReason": limits.SPOT_RECLAIM_STATUS_REASON},
            {"Action": "RETRY", "OnStatusReason": limits.FARGATE_SPOT_RECLAIM_STATUS_REASON},
            {"Action": "EXIT", "OnExitCode": "*"},
        ],
    }
    assert len(strategy["EvaluateOnExit"]) <= limits.MAX_EVALUATE_ON_EXIT_RULES


def test_job_timeout_is_rendered(jobs: Jobs) -> None:
    # GIVEN timeout=2 hours, and a job with timeout=None
    # WHEN the stack is synthesized
    # THEN the first has a 7200 s attempt timeout and the second none
    assert jobs.props(jobs.ec2_job.job_definition)["Timeout"] == {"AttemptDurationSeconds": 7200}
    assert "AttemptDurationSeconds" not in jobs.props(jobs.gpu_job.job_definition)["Timeout"]


def test_job_logs_to_own_log_group_with_retention(jobs: Jobs) -> None:
    # GIVEN log_retention=ONE_WEEK
    # WHEN the stack is synthesized
    log_group = jobs.logical_id(jobs.ec2_job.log_group)
    logging = jobs.props(jobs.ec2_job.job_definition)["ContainerProperties"]["LogConfiguration"]
    # THEN the log group keeps 7 days and the container's awslogs driver writes to it
    assert jobs.resources[log_group]["Properties"] == {"RetentionInDays": 7}
    assert logging["LogDriver"] == "awslogs"
    assert logging["Options"]["awslogs-group"] == {"Ref": log_group}


def test_job_secrets_value_from_whole_secret_field_and_parameter(jobs: Jobs) -> None:
    # GIVEN a whole secret, one JSON field of a secret and an SSM parameter
    # WHEN the stack is synthesized
    secrets = jobs.props(jobs.ec2_job.job_definition)["ContainerProperties"]["Secrets"]
    by_name = {s["Name"]: s["ValueFrom"] for s in secrets}
    # THEN the whole secret is its ARN, the field is `<arn>:password::`, the parameter its ARN
    assert by_name["API_TOKEN"] == {"Ref": jobs.logical_id(jobs.encrypted)}
    assert by_name["DB_PASSWORD"] == {
        "Fn::Join": ["", [{"Ref": jobs.logical_id(jobs.database)}, ":password::"]]
    }
    assert by_name["FEATURE"]["Fn::Join"][1][-2:] == [
        ":parameter/",
        {"Ref": jobs.logical_id(jobs.parameter)},
    ]


def test_job_execution_role_reads_only_its_secrets(jobs: Jobs) -> None:
    # GIVEN a job with two Secrets Manager secrets
    # WHEN the stack is synthesized
    # THEN the execution role may read exactly those two secrets
    jobs.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": jobs.logical_id(jobs.ec2_job.execution_role)}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": [
                                "secretsmanager:DescribeSecret",
                                "secretsmanager:GetSecretValue",
                            ],
                            "Effect": "Allow",
                            "Resource": Match.array_equals(
                                [
                                    {"Ref": jobs.logical_id(jobs.database)},
                                    {"Ref": jobs.logical_id(jobs.encrypted)},
                                ]
                            ),
                        }
                    ]
                )
            },
        },
    )


def test_job_execution_role_decrypts_customer_managed_key(jobs: Jobs) -> None:
    # GIVEN a secret encrypted with a customer-managed key
    # WHEN the stack is synthesized
    statements = jobs.props(jobs.key)["KeyPolicy"]["Statement"]
    role_arn = {"Fn::GetAtt": [jobs.logical_id(jobs.ec2_job.execution_role), "Arn"]}
    # THEN the key lets the execution role decrypt through Secrets Manager only
    decrypt = [s for s in statements if s["Principal"] == {"AWS": role_arn}]
    assert len(decrypt) == 1
    assert decrypt[0]["Action"] == "kms:Decrypt"
    assert "kms:ViaService" in decrypt[0]["Condition"]["StringEquals"]


def test_job_grant_submit_allows_queue_and_all_revisions_only(jobs: Jobs) -> None:
    # GIVEN ec2_job.grant_submit(submitter, ec2_queue)
    # WHEN the stack is synthesized
    definition = jobs.logical_id(jobs.ec2_job.job_definition)
    # THEN SubmitJob is allowed on the queue and on job-definition/<name>:* only
    jobs.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": jobs.logical_id(jobs.submitter)}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "batch:SubmitJob",
                        "Effect": "Allow",
                        "Resource": [
                            {
                                "Fn::GetAtt": [
                                    jobs.logical_id(jobs.ec2_queue.job_queue),
                                    "JobQueueArn",
                                ]
                            },
                            {
                                "Fn::Join": [
                                    "",
                                    [
                                        "arn:",
                                        {"Ref": "AWS::Partition"},
                                        ":batch:",
                                        {"Ref": "AWS::Region"},
                                        ":",
                                        {"Ref": "AWS::AccountId"},
                                        ":job-definition/",
                                        {
                                            "Fn::Select": [
                                                0,
                                                {
                                                    "Fn::Split": [
                                                        ":",
                                                        {
                                                            "Fn::Select": [
                                                                1,
                                                                {
                                                                    "Fn::Split": [
                                                                        "/",
                                                                        {"Ref": definition},
                                                                    ]
                                                                },
                                                            ]
                                                        },
                                                    ]
                                                },
                                            ]
                                        },
                                        ":*",
                                    ],
                                ]
                            },
                        ],
                    }
                ]
            },
        },
    )


def test_job_fargate_public_ip_follows_queue(jobs: Jobs) -> None:
    # GIVEN a Fargate job on a queue in public subnets, and one without a queue
    # WHEN the stack is synthesized
    on_queue = jobs.props(jobs.fargate_job.job_definition)["ContainerProperties"]
    alone = jobs.props(jobs.private_job.job_definition)["ContainerProperties"]
    # THEN the first gets a public IP (to reach ECR without NAT) and the second does not
    assert on_queue["NetworkConfiguration"] == {"AssignPublicIp": "ENABLED"}
    assert alone["NetworkConfiguration"] == {"AssignPublicIp": "DISABLED"}


def test_job_fargate_ephemeral_storage(jobs: Jobs) -> None:
    # GIVEN ephemeral_storage=30 GiB on a Fargate job
    # WHEN the stack is synthesized
    container = jobs.props(jobs.fargate_job.job_definition)["ContainerProperties"]
    # THEN the task gets 30 GiB
    assert container["EphemeralStorage"] == {"SizeInGiB": 30}


def test_job_defaults_are_secure(jobs: Jobs) -> None:
    # GIVEN a job with default settings
    # WHEN the stack is synthesized
    props = jobs.props(jobs.private_job.job_definition)
    # THEN tags propagate, the root file system is read only, the job runs as its own
    # role and CloudFormation names the definition
    assert props["PropagateTags"] is True
    assert props["ContainerProperties"]["ReadonlyRootFilesystem"] is True
    assert props["ContainerProperties"]["JobRoleArn"] == {
        "Fn::GetAtt": [jobs.logical_id(jobs.private_job.job_role), "Arn"]
    }
    assert "JobDefinitionName" not in props


def test_job_read_only_root_gets_a_writable_scratch_tmp(jobs: Jobs) -> None:
    # GIVEN a job with a read-only root file system (the default)
    # WHEN the stack is synthesized
    container = jobs.props(jobs.private_job.job_definition)["ContainerProperties"]
    # THEN an empty, job-private volume (no host path: valid on Fargate) is mounted at /tmp
    assert container["Volumes"] == [{"Name": "scratch"}]
    assert container["MountPoints"] == [
        {"ContainerPath": "/tmp", "SourceVolume": "scratch", "ReadOnly": False}
    ]


def test_job_keeps_volumes_added_through_the_escape_hatch(jobs: Jobs) -> None:
    # GIVEN a Fargate job with its scratch volume, and an EFS volume a user added
    # afterwards with job.container.add_volume(...)
    # WHEN the stack is synthesized
    container = jobs.props(jobs.fargate_job.job_definition)["ContainerProperties"]
    # THEN both volumes and both mount points are there, the scratch one without Host
    assert container["Volumes"] == [
        {"Name": "scratch"},
        {
            "Name": "data",
            "EfsVolumeConfiguration": {
                "FileSystemId": {"Ref": jobs.logical_id(jobs.file_system)},
                "TransitEncryption": "ENABLED",
            },
        },
    ]
    assert container["MountPoints"] == [
        {"ContainerPath": "/tmp", "SourceVolume": "scratch", "ReadOnly": False},
        {"ContainerPath": "/data", "SourceVolume": "data"},
    ]


def test_job_writable_root_needs_no_scratch_volume(jobs: Jobs) -> None:
    # GIVEN readonly_root_filesystem=False
    container = jobs.props(jobs.writable_job.job_definition)["ContainerProperties"]
    # THEN no scratch volume is added
    assert container["ReadonlyRootFilesystem"] is False
    assert "Volumes" not in container


def test_job_passes_command_and_parameters(jobs: Jobs) -> None:
    # GIVEN command=["run", "Ref::input"] and parameters={"input": "none"}
    # WHEN the stack is synthesized
    props = jobs.props(jobs.ec2_job.job_definition)
    # THEN both are in the job definition
    assert props["ContainerProperties"]["Command"] == ["run", "Ref::input"]
    assert props["Parameters"] == {"input": "none"}


def test_job_and_queue_pass_cdk_nag(jobs: Jobs) -> None:
    # GIVEN queues, jobs with secrets and a submit grant (default settings)
    # WHEN cdk-nag's AwsSolutions pack checks the stack
    # THEN nothing is left unacknowledged
    assert nag_findings(jobs.stack) == []


def test_job_log_group_uses_the_customer_managed_key_given(jobs: Jobs) -> None:
    # GIVEN log_encryption_key on the Fargate job (and none on the EC2 job)
    # WHEN the stack is synthesized
    key_id = jobs.stack.get_logical_id(jobs.log_key.node.default_child)  # type: ignore[arg-type]
    fargate_logs = jobs.props(jobs.fargate_job.log_group)
    # THEN its log group is encrypted with that key, the other keeps CloudWatch's own
    assert fargate_logs["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert "KmsKeyId" not in jobs.props(jobs.ec2_job.log_group)
    # AND the key policy lets CloudWatch Logs use the key for this account's log groups only
    statements = jobs.resources[key_id]["Properties"]["KeyPolicy"]["Statement"]
    logs_statement = next(s for s in statements if s.get("Sid") == "AllowCloudWatchLogs")
    assert logs_statement["Principal"] == {
        "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    }
    assert "kms:EncryptionContext:aws:logs:arn" in logs_statement["Condition"]["ArnLike"]
