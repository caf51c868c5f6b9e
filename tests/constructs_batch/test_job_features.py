"""ContainerJob's data volumes, Linux settings, platforms, sidecars and consumable resources.

One stack holds every configuration and is synthesized once.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Acknowledgment, RemovalPolicy, Size, Stack, Validations
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template
from helpers import logical_id, make_app, properties

from constructs_batch.compute import Ec2Compute, FargateCompute
from constructs_batch.job import ContainerJob, Sidecar
from constructs_batch.network import BatchNetwork, NetworkProfile
from constructs_batch.queue import BatchQueue
from constructs_batch.testing import nag_findings
from constructs_batch.volumes import efs_volume

IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox:1.36")
AGENT = ecs.ContainerImage.from_registry("public.ecr.aws/cloudwatch-agent/cloudwatch-agent:latest")


class Features:
    """A private network, EC2 and Fargate queues, an EFS file system and jobs using them."""

    def __init__(self) -> None:
        self.stack = Stack(make_app(), "FeatureStack")
        network = BatchNetwork(self.stack, "Network", profile=NetworkProfile.PRIVATE_NAT)
        self.network = network
        on_demand = Ec2Compute(self.stack, "OnDemand", network=network)
        fargate = FargateCompute(self.stack, "Fargate", network=network)
        self.ec2_queue = BatchQueue(self.stack, "Ec2Queue", environments=[on_demand])
        self.fargate_queue = BatchQueue(self.stack, "FargateQueue", environments=[fargate])

        self.file_system = efs.FileSystem(
            self.stack, "Data", vpc=network.vpc, removal_policy=RemovalPolicy.DESTROY
        )
        self.access_point = self.file_system.add_access_point("Results", path="/results")
        self.efs_job = ContainerJob(
            self.stack,
            "EfsJob",
            image=IMAGE,
            queue=self.fargate_queue,
            volumes=[
                efs_volume(
                    name="results",
                    container_path="/results",
                    file_system=self.file_system,
                    access_point=self.access_point,
                ),
                # The L2's own factory, transit encryption and IAM left unset.
                batch.EcsVolume.efs(
                    name="reference",
                    container_path="/reference",
                    file_system=self.file_system,
                    readonly=True,
                ),
            ],
        )
        self.host_job = ContainerJob(
            self.stack,
            "HostJob",
            image=IMAGE,
            queue=self.ec2_queue,
            volumes=[batch.EcsVolume.host(name="docker", container_path="/cache", host_path="/c")],
        )
        linux = batch.LinuxParameters(
            self.stack, "Linux", init_process_enabled=True, shared_memory_size=Size.gibibytes(1)
        )
        linux.add_tmpfs(batch.Tmpfs(container_path="/scratch/fast", size=Size.mebibytes(256)))
        self.hpc_job = ContainerJob(
            self.stack,
            "HpcJob",
            image=IMAGE,
            queue=self.ec2_queue,
            linux_parameters=linux,
            ulimits=[batch.Ulimit(name=batch.UlimitName.MEMLOCK, soft_limit=1, hard_limit=1)],
            enable_execute_command=True,
        )
        self.token = secretsmanager.Secret(self.stack, "SplunkToken")
        Validations.of(self.token).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4", reason="test fixture standing for a user's token"
            )
        )
        self.arm_job = ContainerJob(
            self.stack,
            "ArmJob",
            image=IMAGE,
            queue=self.fargate_queue,
            cpu_architecture=ecs.CpuArchitecture.ARM64,
            log_driver=ecs.LogDrivers.splunk(
                url="https://splunk.example.com:8088",
                secret_token=ecs.Secret.from_secrets_manager(self.token),
            ),
        )
        self.agent_secret = secretsmanager.Secret(self.stack, "AgentKey")
        Validations.of(self.agent_secret).acknowledge(
            Acknowledgment(id="AwsSolutions-SMG4", reason="test fixture standing for a user's key")
        )
        self.sidecar_job = ContainerJob(
            self.stack,
            "SidecarJob",
            image=IMAGE,
            queue=self.fargate_queue,
            vcpus=0.5,
            memory=Size.mebibytes(1024),
            volumes=[
                efs_volume(name="results", container_path="/results", file_system=self.file_system)
            ],
            sidecars=[
                Sidecar(
                    name="metrics",
                    image=AGENT,
                    vcpus=0.25,
                    memory=Size.mebibytes(512),
                    secrets={"API_KEY": self.agent_secret},
                ),
                Sidecar(
                    name="fetch",
                    image=IMAGE,
                    vcpus=0.25,
                    memory=Size.mebibytes(512),
                    command=["fetch-inputs"],
                    main_waits_for=ecs.ContainerDependencyCondition.SUCCESS,
                    depends_on={"metrics": ecs.ContainerDependencyCondition.START},
                ),
            ],
        )
        # The escape hatch after construction, on a multi-container job.
        self.sidecar_job.container.add_volume(
            efs_volume(name="late", container_path="/late", file_system=self.file_system)
        )
        self.licenses = batch.ConsumableResource(self.stack, "Licenses", total_quantity=10)
        self.licensed_job = ContainerJob(
            self.stack,
            "LicensedJob",
            image=IMAGE,
            queue=self.ec2_queue,
            consumable_resources={self.licenses: 2},
        )
        self.template = Template.from_stack(self.stack)
        self.resources: dict[str, Any] = self.template.to_json()["Resources"]

    def container(self, job: ContainerJob) -> dict[str, Any]:
        container: dict[str, Any] = properties(self.resources, job.job_definition)[
            "ContainerProperties"
        ]
        return container

    def policy_statements(self, role: iam.IRole) -> list[dict[str, Any]]:
        ref = {"Ref": logical_id(role)}
        return [
            statement
            for resource in self.resources.values()
            if resource["Type"] == "AWS::IAM::Policy" and ref in resource["Properties"]["Roles"]
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        ]


@pytest.fixture(scope="module")
def features() -> Features:
    return Features()


def test_job_features_pass_cdk_nag(features: Features) -> None:
    # GIVEN jobs with volumes, Linux settings, sidecars and consumable resources
    # WHEN cdk-nag's AwsSolutions pack checks the stack
    # THEN nothing is left unacknowledged
    assert nag_findings(features.stack) == []


# --- volumes ------------------------------------------------------------------------------
def test_job_efs_volumes_are_encrypted_in_transit_and_iam_authorized(features: Features) -> None:
    # GIVEN efs_volume(...) with an access point, and batch.EcsVolume.efs(...) leaving
    # transit encryption and IAM unset
    # WHEN the stack is synthesized
    container = features.container(features.efs_job)
    fs_id = {"Ref": logical_id(features.file_system)}
    # THEN both are encrypted in transit and mounted as the job role, after the scratch volume
    assert container["Volumes"] == [
        {"Name": "scratch"},
        {
            "Name": "results",
            "EfsVolumeConfiguration": {
                "FileSystemId": fs_id,
                "TransitEncryption": "ENABLED",
                "AuthorizationConfig": {
                    "AccessPointId": {"Ref": logical_id(features.access_point)},
                    "Iam": "ENABLED",
                },
            },
        },
        {
            "Name": "reference",
            "EfsVolumeConfiguration": {
                "FileSystemId": fs_id,
                "TransitEncryption": "ENABLED",
                "AuthorizationConfig": {"Iam": "ENABLED"},
            },
        },
    ]
    assert container["MountPoints"][1:] == [
        {"ContainerPath": "/results", "ReadOnly": False, "SourceVolume": "results"},
        {"ContainerPath": "/reference", "ReadOnly": True, "SourceVolume": "reference"},
    ]


def test_job_role_may_mount_its_efs_volumes_only(features: Features) -> None:
    # GIVEN a read-write volume through an access point and a read-only volume
    # WHEN the stack is synthesized
    statements = [
        s
        for s in features.policy_statements(features.efs_job.job_role)
        if "elasticfilesystem:ClientMount" in s["Action"]
    ]
    fs_arn = {"Fn::GetAtt": [logical_id(features.file_system), "Arn"]}
    # THEN the job role may mount and write through the access point only, and only
    # mount (read) the other
    assert [s["Action"] for s in statements] == [
        ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        "elasticfilesystem:ClientMount",
    ]
    assert all(s["Resource"] == fs_arn for s in statements)
    assert all(
        s["Condition"]["Bool"] == {"elasticfilesystem:AccessedViaMountTarget": "true"}
        for s in statements
    )
    assert "elasticfilesystem:AccessPointArn" in statements[0]["Condition"]["StringEquals"]
    assert "StringEquals" not in statements[1]["Condition"]


def test_job_efs_file_system_admits_nfs_from_the_queue_compute(features: Features) -> None:
    # GIVEN an EFS volume on a job whose queue's compute uses the network's security group
    # WHEN the stack is synthesized
    rules = [
        r["Properties"]
        for r in features.resources.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
    ]
    compute_group = {"Fn::GetAtt": [logical_id(features.network.security_group), "GroupId"]}
    # THEN the file system's security group allows TCP 2049 from it
    assert any(
        r["SourceSecurityGroupId"] == compute_group
        and (r["FromPort"], r["ToPort"], r["IpProtocol"]) == (2049, 2049, "tcp")
        for r in rules
    )


def test_job_host_volume_on_ec2(features: Features) -> None:
    # GIVEN a host volume on an EC2 job
    container = features.container(features.host_job)
    # THEN it is rendered with its host path, next to the scratch volume
    assert container["Volumes"] == [
        {"Name": "scratch"},
        {"Name": "docker", "Host": {"SourcePath": "/c"}},
    ]


def test_job_volumes_added_through_the_escape_hatch_are_checked_at_synth() -> None:
    # GIVEN a Fargate job and a host volume added with job.container.add_volume(...)
    stack = Stack(make_app(), "EscapeHatch")
    job = ContainerJob(stack, "Job", image=IMAGE, fargate=True)
    job.container.add_volume(
        batch.EcsVolume.host(name="cache", container_path="/tmp", host_path="/c")
    )
    # WHEN the stack is synthesized
    # THEN synth fails, naming the volume and both rules it breaks
    with pytest.raises(Exception, match=r"container_path must be unique, got '/tmp'") as raised:
        Template.from_stack(stack)
    assert "must not be a host volume on Fargate" in str(raised.value)


# --- Linux settings, ECS Exec, platform, logging ------------------------------------------
def test_job_linux_parameters_and_ulimits_on_ec2(features: Features) -> None:
    # GIVEN shared memory, a tmpfs, the init process and a memlock ulimit on an EC2 job
    container = features.container(features.hpc_job)
    # THEN they are rendered as given
    assert container["LinuxParameters"] == {
        "InitProcessEnabled": True,
        "SharedMemorySize": 1024,
        "Tmpfs": [{"ContainerPath": "/scratch/fast", "Size": 256}],
    }
    assert container["Ulimits"] == [{"Name": "memlock", "SoftLimit": 1, "HardLimit": 1}]


def test_job_execute_command_grants_the_ssm_channels(features: Features) -> None:
    # GIVEN enable_execute_command=True
    container = features.container(features.hpc_job)
    actions = [s["Action"] for s in features.policy_statements(features.hpc_job.job_role)]
    # THEN ECS Exec is on and the job role may open its channels
    assert container["EnableExecuteCommand"] is True
    assert [
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    ] in actions


def test_job_graviton_fargate_renders_the_runtime_platform(features: Features) -> None:
    # GIVEN cpu_architecture=ARM64 on a Fargate queue
    container = features.container(features.arm_job)
    # THEN the task runs on Graviton
    assert container["RuntimePlatform"] == {"CpuArchitecture": "ARM64"}
    assert features.arm_job.architecture == "arm64"


def test_job_log_driver_secret_options_are_granted_like_secrets(features: Features) -> None:
    # GIVEN a splunk log driver whose token comes from Secrets Manager
    logging = features.container(features.arm_job)["LogConfiguration"]
    statements = features.policy_statements(features.arm_job.execution_role)
    token = {"Ref": logical_id(features.token)}
    # THEN the token is a secret option read by the execution role
    assert logging["LogDriver"] == "splunk"
    assert logging["SecretOptions"] == [{"Name": "splunk-token", "ValueFrom": token}]
    assert any(
        s["Resource"] == token and "secretsmanager:GetSecretValue" in s["Action"]
        for s in statements
    )


# --- sidecars -----------------------------------------------------------------------------
def _task(features: Features) -> dict[str, Any]:
    props = properties(features.resources, features.sidecar_job.job_definition)
    assert "ContainerProperties" not in props
    (task,) = props["EcsProperties"]["TaskProperties"]
    task_properties: dict[str, Any] = task
    return task_properties


def test_sidecar_job_is_a_multi_container_job_definition(features: Features) -> None:
    # GIVEN a Fargate job with a metrics agent and a setup step as sidecars
    task = _task(features)
    by_name = {c["Name"]: c for c in task["Containers"]}
    # THEN the main container is essential and starts once the agent started and the setup
    # step succeeded; the setup step waits for the agent
    assert list(by_name) == ["main", "metrics", "fetch"]
    assert by_name["main"]["Essential"] is True
    assert by_name["main"]["DependsOn"] == [
        {"ContainerName": "metrics", "Condition": "START"},
        {"ContainerName": "fetch", "Condition": "SUCCESS"},
    ]
    assert by_name["metrics"]["Essential"] is False
    assert by_name["fetch"]["DependsOn"] == [{"ContainerName": "metrics", "Condition": "START"}]
    assert by_name["fetch"]["Command"] == ["fetch-inputs"]


def test_sidecar_job_task_keeps_the_main_containers_task_settings(features: Features) -> None:
    # GIVEN the sidecar job on a Fargate queue in a private network
    task = _task(features)
    job = features.sidecar_job
    # THEN the roles, network and platform are the task's
    assert task["ExecutionRoleArn"] == {"Fn::GetAtt": [logical_id(job.execution_role), "Arn"]}
    assert task["TaskRoleArn"] == {"Fn::GetAtt": [logical_id(job.job_role), "Arn"]}
    assert task["NetworkConfiguration"] == {"AssignPublicIp": "DISABLED"}
    assert (job.vcpus, job.memory_mib) == (1.0, 2048)


def test_sidecar_job_containers_share_the_scratch_and_keep_late_volumes(features: Features) -> None:
    # GIVEN read-only sidecars, an EFS volume, and one more added after construction
    task = _task(features)
    mounts = {c["Name"]: c["MountPoints"] for c in task["Containers"]}
    # THEN the task has each volume once, the scratch one without Host, and every
    # container mounts the scratch volume at /tmp
    assert [v["Name"] for v in task["Volumes"]] == ["scratch", "results", "late"]
    assert task["Volumes"][0] == {"Name": "scratch"}
    assert all(
        {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "scratch"} in m
        for m in mounts.values()
    )
    assert [m["SourceVolume"] for m in mounts["main"]] == ["scratch", "results", "late"]


def test_sidecar_secrets_are_read_by_the_execution_role(features: Features) -> None:
    # GIVEN a secret of the metrics sidecar
    metrics = next(c for c in _task(features)["Containers"] if c["Name"] == "metrics")
    key = {"Ref": logical_id(features.agent_secret)}
    statements = features.policy_statements(features.sidecar_job.execution_role)
    # THEN it is injected and the job's execution role may read it
    assert metrics["Secrets"] == [{"Name": "API_KEY", "ValueFrom": key}]
    assert any(
        s["Resource"] == key and "secretsmanager:GetSecretValue" in s["Action"] for s in statements
    )


# --- consumable resources -------------------------------------------------------------------
def test_job_consumable_resources_land_in_the_job_definition(features: Features) -> None:
    # GIVEN a job holding 2 of a 10-seat license pool
    props = properties(features.resources, features.licensed_job.job_definition)
    # THEN the job definition requires 2 of that resource, by ARN
    assert props["ConsumableResourceProperties"] == {
        "ConsumableResourceList": [
            {"ConsumableResource": {"Ref": logical_id(features.licenses)}, "Quantity": 2}
        ]
    }
