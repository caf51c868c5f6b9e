"""Invalid BatchQueue and ContainerJob configurations fail at synth, naming what is wrong."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import Duration, Size, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from helpers import make_app

from constructs_batch.compute import BatchCompute, Ec2Compute, FargateCompute, UnmanagedCompute
from constructs_batch.job import ContainerJob, Sidecar
from constructs_batch.limits import instance_capacity, instance_class_capacity
from constructs_batch.multinode import MultiNodeJob, NodeRange
from constructs_batch.network import BatchNetwork, NetworkProfile
from constructs_batch.queue import BatchQueue

IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox:1.36")
DEFAULT = instance_class_capacity("default_x86_64")
C6I = instance_class_capacity("c6i")
C5N = instance_capacity("c5n.18xlarge")
assert DEFAULT is not None and C6I is not None and C5N is not None


class Scene:
    """Compute environments and valid queues shared by every case (built once)."""

    def __init__(self) -> None:
        self.stack = Stack(make_app(), "InvalidStack")
        network = BatchNetwork(self.stack, "Network", profile=NetworkProfile.PUBLIC)
        self.network = network
        self.spot = Ec2Compute(self.stack, "Spot", network=network, spot=True)
        self.on_demand = Ec2Compute(self.stack, "OnDemand", network=network)
        self.c6i = Ec2Compute(
            self.stack, "C6i", network=network, instance_classes=[ec2.InstanceClass.C6I]
        )
        self.small = Ec2Compute(
            self.stack,
            "Small",
            network=network,
            max_vcpus=16,
            instance_classes=[ec2.InstanceClass.C6I],
        )
        self.graviton = Ec2Compute(
            self.stack, "Graviton", network=network, instance_classes=[ec2.InstanceClass.C7G]
        )
        self.narrow = Ec2Compute(
            self.stack, "Narrow", network=network, instance_types=[ec2.InstanceType("c6i.xlarge")]
        )
        self.tall = Ec2Compute(
            self.stack, "Tall", network=network, instance_types=[ec2.InstanceType("r6i.large")]
        )
        self.unknown = Ec2Compute(
            self.stack,
            "Unknown",
            network=network,
            instance_types=[ec2.InstanceType("x2iedn.32xlarge")],
        )
        self.unmanaged = UnmanagedCompute(self.stack, "Unmanaged", unmanaged_vcpus=16)
        self.fargate = FargateCompute(self.stack, "Fargate", network=network)
        self.fargate_spot = FargateCompute(self.stack, "FargateSpot", network=network, spot=True)

        self.optimal_queue = BatchQueue(
            self.stack, "OptimalQueue", environments=[self.spot, self.on_demand]
        )
        self.c6i_queue = BatchQueue(self.stack, "C6iQueue", environments=[self.c6i])
        self.small_queue = BatchQueue(self.stack, "SmallQueue", environments=[self.small])
        self.mixed = Ec2Compute(
            self.stack,
            "Mixed",
            network=network,
            instance_types=[ec2.InstanceType("c5.4xlarge"), ec2.InstanceType("r5.2xlarge")],
        )
        self.mixed_queue = BatchQueue(self.stack, "MixedQueue", environments=[self.mixed])
        self.split_queue = BatchQueue(
            self.stack, "SplitQueue", environments=[self.narrow, self.tall]
        )
        self.unknown_queue = BatchQueue(self.stack, "UnknownQueue", environments=[self.unknown])
        self.narrow_queue = BatchQueue(self.stack, "NarrowQueue", environments=[self.narrow])
        self.graviton_queue = BatchQueue(self.stack, "GravitonQueue", environments=[self.graviton])
        self.fargate_queue = BatchQueue(
            self.stack, "FargateQueue", environments=[self.fargate_spot, self.fargate]
        )
        self.submitter = iam.Role(
            self.stack, "Submitter", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        self.secret = secretsmanager.Secret(self.stack, "Secret")
        self.file_system = efs.FileSystem(self.stack, "FileSystem", vpc=network.vpc)
        self.licenses = batch.ConsumableResource(self.stack, "Licenses", total_quantity=4)
        private = BatchNetwork(self.stack, "Private", profile=NetworkProfile.PRIVATE_NAT)
        self.hpc_queue = BatchQueue(
            self.stack,
            "HpcQueue",
            environments=[
                Ec2Compute(self.stack, "Hpc", network=private, instance_types=[_it("c5n.18xlarge")])
            ],
        )
        self.private_spot_queue = BatchQueue(
            self.stack,
            "PrivateSpotQueue",
            environments=[Ec2Compute(self.stack, "PrivateSpot", network=private, spot=True)],
        )
        self._ids = itertools.count()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def queue(self, **kwargs: Any) -> BatchQueue:
        return BatchQueue(self.stack, self.new_id("Queue"), **kwargs)

    def job(self, **kwargs: Any) -> ContainerJob:
        return ContainerJob(self.stack, self.new_id("Job"), image=IMAGE, **kwargs)

    def submit(self, queue: BatchQueue, **kwargs: Any) -> None:
        self.job(**kwargs).grant_submit(self.submitter, queue)

    def multi_node(self, **kwargs: Any) -> MultiNodeJob:
        options = {"instance_type": _it("c5n.18xlarge"), "nodes": 4, **kwargs}
        return MultiNodeJob(self.stack, self.new_id("Mnp"), image=IMAGE, **options)


@pytest.fixture(scope="module")
def scene() -> Scene:
    return Scene()


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Scene], object]
    message: str

    def __str__(self) -> str:
        return self.name


def _it(name: str) -> ec2.InstanceType:
    return ec2.InstanceType(name)


def _sidecar(name: str = "agent", **kwargs: Any) -> Sidecar:
    options = {"vcpus": 1, "memory": Size.mebibytes(512), **kwargs}
    return Sidecar(name=name, image=IMAGE, **options)


def _envs(scene: Scene, *names: str) -> list[BatchCompute]:
    return [getattr(scene, name) for name in names]


def _efs(scene: Scene, **kwargs: Any) -> batch.EcsVolume:
    options = {"name": "data", "container_path": "/data", **kwargs}
    return batch.EcsVolume.efs(file_system=scene.file_system, **options)


def _linux(scene: Scene, **kwargs: Any) -> batch.LinuxParameters:
    return batch.LinuxParameters(scene.stack, scene.new_id("Linux"), **kwargs)


def _ulimit(soft: int, hard: int) -> batch.Ulimit:
    return batch.Ulimit(name=batch.UlimitName.NOFILE, soft_limit=soft, hard_limit=hard)


def _with_tmpfs(parameters: batch.LinuxParameters, tmpfs: batch.Tmpfs) -> batch.LinuxParameters:
    parameters.add_tmpfs(tmpfs)
    return parameters


def _host(name: str = "cache", path: str = "/cache") -> batch.EcsVolume:
    return batch.EcsVolume.host(name=name, container_path=path, host_path="/var/cache")


CASES = [
    # --- BatchQueue -----------------------------------------------------------------
    Case(
        "queue without environments",
        lambda s: s.queue(environments=[]),
        "environments must hold 1 to 3 compute environments, got 0",
    ),
    Case(
        "queue with four environments",
        lambda s: s.queue(environments=_envs(s, "spot", "on_demand", "c6i", "small")),
        "environments must hold 1 to 3 compute environments, got 4",
    ),
    Case(
        "queue mixing Fargate and EC2",
        lambda s: s.queue(environments=_envs(s, "fargate", "spot")),
        r"environments must be all Fargate or all EC2 \(AWS Batch cannot mix them in one "
        r"queue\), got Fargate \(Fargate\), Spot \(EC2\)",
    ),
    Case(
        "queue mixing Fargate and unmanaged",
        lambda s: s.queue(environments=_envs(s, "unmanaged", "fargate")),
        r"environments must be all Fargate or all EC2 .*got Unmanaged \(EC2\), Fargate \(Fargate\)",
    ),
    Case(
        "queue mixing CPU architectures",
        lambda s: s.queue(environments=_envs(s, "c6i", "graviton")),
        r"environments must share one CPU architecture .*got C6i \(x86_64\), Graviton \(arm64\)",
    ),
    Case(
        "queue repeating an environment",
        lambda s: s.queue(environments=_envs(s, "spot", "spot")),
        r"environments must not repeat a compute environment, got \['Spot', 'Spot'\]",
    ),
    Case(
        "queue priority above 1000",
        lambda s: s.queue(environments=[s.spot], priority=1001),
        "priority must be between 0 and 1000, got 1001",
    ),
    Case(
        "queue priority below 0",
        lambda s: s.queue(environments=[s.spot], priority=-1),
        "priority must be between 0 and 1000, got -1",
    ),
    Case(
        "queue runnable_timeout under 10 minutes",
        lambda s: s.queue(environments=[s.spot], runnable_timeout=Duration.minutes(5)),
        "runnable_timeout must be between 600 and 86400 seconds, got 300 seconds",
    ),
    Case(
        "queue runnable_timeout over a day",
        lambda s: s.queue(environments=[s.spot], runnable_timeout=Duration.days(2)),
        "runnable_timeout must be between 600 and 86400 seconds, got 172800 seconds",
    ),
    Case(
        "queue runnable_timeout for capacity over a day",
        lambda s: s.queue(
            environments=[s.spot],
            runnable_timeout={
                batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY: Duration.days(
                    3
                )
            },
        ),
        r"runnable_timeout\[INSUFFICIENT_INSTANCE_CAPACITY\] must be between 600 and 86400 "
        r"seconds, got 259200 seconds",
    ),
    Case(
        "queue runnable_timeout of a fraction of a second",
        lambda s: s.queue(
            environments=[s.spot],
            runnable_timeout={
                batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT: Duration.millis(
                    600_500
                )
            },
        ),
        r"runnable_timeout\[JOB_RESOURCE_REQUIREMENT\] must be whole seconds, got 600.5 seconds",
    ),
    Case(
        "queue runnable_timeout keyed by a string",
        lambda s: s.queue(environments=[s.spot], runnable_timeout={"CAPACITY": Duration.hours(1)}),
        "runnable_timeout keys must be JobStateTimeLimitActionsReason, got 'CAPACITY'",
    ),
    Case(
        "spot_first given on-demand as spot",
        lambda s: BatchQueue.spot_first(
            s.stack, s.new_id("Queue"), spot=s.on_demand, on_demand=s.spot
        ),
        r"spot must be a Spot compute environment, got OnDemand \(on-demand\); "
        r"on_demand must be an on-demand compute environment, got Spot \(Spot\)",
    ),
    # --- ContainerJob ----------------------------------------------------------------
    Case("job with 0 vCPU", lambda s: s.job(vcpus=0), "vcpus must be greater than 0, got 0"),
    Case(
        "EC2 job with half a vCPU",
        lambda s: s.job(vcpus=0.5),
        "vcpus on EC2 must be at least 1, got 0.5",
    ),
    Case(
        "job with 2 MiB",
        lambda s: s.job(memory=Size.mebibytes(2)),
        "memory must be at least 4 MiB, got 2 MiB",
    ),
    Case("job with negative GPUs", lambda s: s.job(gpus=-1), "gpus must be 0 or more, got -1"),
    Case(
        "Fargate job with a GPU",
        lambda s: s.job(fargate=True, gpus=1),
        r"gpus must be 0 on Fargate \(GPUs are EC2 only\), got 1",
    ),
    Case(
        "Fargate job with 3 vCPU",
        lambda s: s.job(fargate=True, vcpus=3),
        "vcpus on Fargate must be one of 0.25, 0.5, 1, 2, 4, 8, 16, got 3",
    ),
    Case(
        "Fargate job with 1 vCPU and 1 GiB",
        lambda s: s.job(fargate=True, vcpus=1, memory=Size.gibibytes(1)),
        "memory on Fargate with 1 vCPU must be one of 2048 to 8192 in steps of 1024 MiB, "
        "got 1024 MiB",
    ),
    Case(
        "Fargate job with 1 vCPU and 1 GiB on a Fargate queue",
        lambda s: s.job(queue=s.fargate_queue, vcpus=1, memory=Size.gibibytes(1)),
        r"memory on Fargate with 1 vCPU must be one of 2048 to 8192 in steps of 1024 MiB, "
        r"got 1024 MiB \(queue FargateQueue\)",
    ),
    Case(
        "EC2 job with ephemeral storage",
        lambda s: s.job(ephemeral_storage=Size.gibibytes(50)),
        r"ephemeral_storage must be None on EC2 \(Fargate only\), got 50 GiB",
    ),
    Case(
        "Fargate job with 10 GiB ephemeral storage",
        lambda s: s.job(fargate=True, ephemeral_storage=Size.gibibytes(10)),
        "ephemeral_storage must be between 21 and 200, got 10 GiB",
    ),
    Case(
        "EC2 job with a public IP",
        lambda s: s.job(assign_public_ip=True),
        r"assign_public_ip must be None on EC2 \(Fargate only\), got True",
    ),
    Case(
        "job environment with a reserved name",
        lambda s: s.job(environment={"AWS_BATCH_JOB_ID": "x"}),
        "environment names must not start with AWS_BATCH, got 'AWS_BATCH_JOB_ID'",
    ),
    Case(
        "job secret with a reserved name",
        lambda s: s.job(secrets={"AWS_BATCH_TOKEN": s.secret}),
        "secrets names must not start with AWS_BATCH, got 'AWS_BATCH_TOKEN'",
    ),
    Case(
        "job setting a name in environment and secrets",
        lambda s: s.job(environment={"TOKEN": "x"}, secrets={"TOKEN": s.secret}),
        r"secrets must not repeat names set in environment, got \['TOKEN'\]",
    ),
    Case(
        "job secret of an unknown kind",
        lambda s: s.job(secrets={"TOKEN": "plain text"}),
        r"secrets\['TOKEN'\] must be a batch.Secret, a secretsmanager.ISecret, an "
        r"\(ISecret, field\) tuple or an ssm.IParameter, got 'plain text'",
    ),
    Case(
        "job with 0 attempts",
        lambda s: s.job(retry_attempts=0),
        "retry_attempts must be between 1 and 10, got 0",
    ),
    Case(
        "job with 11 attempts",
        lambda s: s.job(retry_attempts=11),
        "retry_attempts must be between 1 and 10, got 11",
    ),
    Case(
        "job with a 30 s timeout",
        lambda s: s.job(timeout=Duration.seconds(30)),
        "timeout must be at least 60 seconds, got 30 seconds",
    ),
    Case(
        "EC2 job on a Fargate queue",
        lambda s: s.job(fargate=False, queue=s.fargate_queue),
        "fargate must be True to run on queue FargateQueue, whose compute environments are "
        "Fargate, got False",
    ),
    Case(
        "Fargate job on an EC2 queue",
        lambda s: s.job(fargate=True, queue=s.optimal_queue),
        "fargate must be False to run on queue OptimalQueue, whose compute environments are "
        "EC2, got True",
    ),
    Case(
        "job above every max_vcpus of its queue",
        lambda s: s.job(queue=s.small_queue, vcpus=32),
        r"vcpus must be at most 16 to run on queue SmallQueue \(the highest max_vcpus of its "
        r"compute environments\), got 32",
    ),
    Case(
        "job whose vCPUs and memory fit no single instance",
        lambda s: s.job(queue=s.split_queue, vcpus=4, memory=Size.gibibytes(12)),
        r"vcpus, memory and gpus must fit together on one instance of one compute environment "
        r"of queue SplitQueue \(Narrow: 4 vCPU, \d+ MiB, max_vcpus 256; Tall: 2 vCPU, \d+ MiB, "
        r"max_vcpus 256\), got 4 vCPU, 12288 MiB, 0 GPU",
    ),
    Case(
        "job that fits neither of one environment's two instance types",
        # c5.4xlarge has the vCPUs, r5.2xlarge the memory: no instance has both
        lambda s: s.job(queue=s.mixed_queue, vcpus=16, memory=Size.gibibytes(60)),
        r"vcpus, memory and gpus must fit together on one instance of one compute environment "
        r"of queue MixedQueue \(Mixed: 16 vCPU, \d+ MiB, max_vcpus 256\), got 16 vCPU",
    ),
    # --- ContainerJob volumes --------------------------------------------------------
    Case(
        "Fargate job with a host volume",
        lambda s: s.job(fargate=True, volumes=[_host()]),
        r"volumes\[0\] must not be a host volume on Fargate \(host volumes are EC2 only\), "
        r"got 'cache' with host_path '/var/cache'",
    ),
    Case(
        "job volume with a relative mount path",
        lambda s: s.job(volumes=[_host(path="cache")]),
        r"volumes\[0\] container_path must be an absolute path, got 'cache'",
    ),
    Case(
        "job volume mounted over the scratch volume",
        lambda s: s.job(volumes=[_host(path="/tmp")]),
        r"volumes\[0\] container_path must be unique, got '/tmp' \(also the scratch volume\)",
    ),
    Case(
        "job volumes with one name",
        lambda s: s.job(volumes=[_host(), _host(path="/other")]),
        r"volumes\[1\] name must be unique, got 'cache' \(also volumes\[0\]\)",
    ),
    Case(
        "job volume with a name AWS refuses",
        lambda s: s.job(volumes=[_host(name="my cache")]),
        r"volumes\[0\] name must be 1 to 255 letters, digits, '-' and '_', got 'my cache'",
    ),
    Case(
        "EFS volume with IAM but no transit encryption",
        lambda s: s.job(volumes=[_efs(s, enable_transit_encryption=False, use_job_role=True)]),
        r"volumes\[0\] needs enable_transit_encryption=True for IAM authorization "
        r"\(use_job_role=True\), got False",
    ),
    Case(
        "EFS volume through an access point without transit encryption",
        lambda s: s.job(
            volumes=[_efs(s, access_point_id="fsap-1", enable_transit_encryption=False)]
        ),
        r"volumes\[0\] needs enable_transit_encryption=True with an access point, got False",
    ),
    Case(
        "EFS volume with an access point and a root directory",
        lambda s: s.job(volumes=[_efs(s, access_point_id="fsap-1", root_directory="/data")]),
        r"volumes\[0\] root_directory must be None or '/' with an access point \(the access "
        r"point sets the directory\), got '/data'",
    ),
    Case(
        "EFS volume with a transit encryption port out of range",
        lambda s: s.job(volumes=[_efs(s, transit_encryption_port=70000)]),
        r"volumes\[0\] transit_encryption_port must be between 0 and 65535, got 70000",
    ),
    Case(
        "EFS volume with a root directory too long",
        lambda s: s.job(volumes=[_efs(s, root_directory="/" + "d" * 4096)]),
        r"volumes\[0\] root_directory must be at most 4096 characters, got 4097",
    ),
    # --- ContainerJob Linux settings, platform, logging -------------------------------
    Case(
        "EC2 job with a fraction of a vCPU above 1",
        lambda s: s.job(vcpus=1.5),
        "vcpus on EC2 must be a whole number, got 1.5",
    ),
    Case(
        "Fargate job with shared memory and swap",
        lambda s: s.job(
            fargate=True,
            linux_parameters=_linux(
                s, shared_memory_size=Size.mebibytes(64), max_swap=Size.gibibytes(1)
            ),
        ),
        r"linux_parameters must set only init_process_enabled on Fargate \(the others are EC2 "
        r"only\), got shared_memory_size, max_swap",
    ),
    Case(
        "job with a relative tmpfs path",
        lambda s: s.job(
            linux_parameters=_with_tmpfs(
                _linux(s), batch.Tmpfs(container_path="run", size=Size.mebibytes(8))
            )
        ),
        r"linux_parameters tmpfs\[0\] container_path must be absolute, got 'run'",
    ),
    Case(
        "Fargate job with ulimits",
        lambda s: s.job(fargate=True, ulimits=[_ulimit(1024, 4096)]),
        r"ulimits must be empty on Fargate \(EC2 only\), got \['nofile'\]",
    ),
    Case(
        "job with a soft limit above its hard limit",
        lambda s: s.job(ulimits=[_ulimit(8192, 1024)]),
        r"ulimits\[0\] \(nofile\) must have 0 <= soft_limit <= hard_limit, got soft 8192, "
        r"hard 1024",
    ),
    Case(
        "job naming a limit twice",
        lambda s: s.job(ulimits=[_ulimit(1, 2), _ulimit(1, 2)]),
        r"ulimits\[1\] must name a limit once, got 'nofile' again",
    ),
    Case(
        "privileged Fargate job",
        lambda s: s.job(fargate=True, privileged=True),
        r"privileged must be False on Fargate \(EC2 only\), got True",
    ),
    Case(
        "Fargate job logging to syslog",
        lambda s: s.job(fargate=True, log_driver=ecs.LogDrivers.syslog()),
        "log_driver on Fargate must be one of awslogs, splunk, got syslog",
    ),
    Case(
        "Graviton image on an x86_64 EC2 queue",
        lambda s: s.job(queue=s.c6i_queue, cpu_architecture=ecs.CpuArchitecture.ARM64),
        "cpu_architecture must be X86_64 to run on queue C6iQueue, whose compute environments "
        "are x86_64, got ARM64",
    ),
    Case(
        "Fargate job without a public IP in public subnets without NAT",
        lambda s: s.job(queue=s.fargate_queue, assign_public_ip=False),
        "assign_public_ip must be True to run on queue FargateQueue, whose subnets are public "
        "without NAT: without a public IP the job could never pull its image, got False",
    ),
    Case(
        "grant_submit: x86_64 image on a Graviton queue",
        lambda s: s.submit(s.graviton_queue, cpu_architecture=ecs.CpuArchitecture.X86_64),
        "cpu_architecture must be ARM64 to run on queue GravitonQueue, whose compute "
        "environments are arm64, got X86_64",
    ),
    Case(
        "grant_submit: Fargate job without a public IP to a queue that needs one",
        lambda s: s.submit(s.fargate_queue, fargate=True),
        "assign_public_ip must be True to run on queue FargateQueue",
    ),
    Case(
        "job log retention in days instead of a RetentionDays",
        lambda s: s.job(log_retention=10),
        r"log_retention must be logs.RetentionDays, got 10 \(int\)",
    ),
    # --- ContainerJob sidecars -------------------------------------------------------
    Case(
        "job with ten sidecars",
        lambda s: s.job(sidecars=[_sidecar(f"s{n}") for n in range(10)]),
        r"sidecars must be at most 9 \(a job runs up to 10 containers with the main one\), got 10",
    ),
    Case(
        "sidecar named like the main container",
        lambda s: s.job(sidecars=[_sidecar("main")]),
        r"sidecars\[0\].name must be unique and not 'main', got 'main'",
    ),
    Case(
        "sidecar with a name AWS refuses",
        lambda s: s.job(sidecars=[_sidecar("log agent")]),
        r"sidecars\[0\].name must be 1 to 255 letters, digits, '-' and '_', got 'log agent'",
    ),
    Case(
        "main container waiting for a sidecar to be healthy",
        lambda s: s.job(
            sidecars=[_sidecar(main_waits_for=ecs.ContainerDependencyCondition.HEALTHY)]
        ),
        r"sidecars\[0\].main_waits_for must be one of START, COMPLETE, SUCCESS \(Batch "
        r"containers have no health check, so HEALTHY never comes\), got HEALTHY",
    ),
    Case(
        "main container waiting for an essential sidecar to complete",
        lambda s: s.job(
            sidecars=[
                _sidecar(essential=True, main_waits_for=ecs.ContainerDependencyCondition.COMPLETE)
            ]
        ),
        r"sidecars\[0\].main_waits_for must be START for the essential container 'agent'",
    ),
    Case(
        "sidecar waiting for a container that does not exist",
        lambda s: s.job(
            sidecars=[_sidecar(depends_on={"proxy": ecs.ContainerDependencyCondition.START})]
        ),
        r"sidecars\[0\].depends_on\['proxy'\] must name a sidecar, got 'proxy'",
    ),
    Case(
        "sidecars waiting for each other",
        lambda s: s.job(
            sidecars=[
                _sidecar("a", depends_on={"b": ecs.ContainerDependencyCondition.START}),
                _sidecar("b", depends_on={"a": ecs.ContainerDependencyCondition.START}),
            ]
        ),
        "sidecars must not wait for each other in a circle, got a -> b -> a",
    ),
    Case(
        "EC2 sidecar with a quarter vCPU",
        lambda s: s.job(sidecars=[_sidecar(vcpus=0.25)]),
        r"sidecars\[0\].vcpus on EC2 must be at least 1, got 0.25",
    ),
    Case(
        "Fargate job whose containers add up to no Fargate size",
        lambda s: s.job(fargate=True, sidecars=[_sidecar(vcpus=0.25)]),
        "vcpus of all containers on Fargate must be one of 0.25, 0.5, 1, 2, 4, 8, 16, got 1.25",
    ),
    Case(
        "sidecar job too large for the queue's largest instance",
        lambda s: s.job(queue=s.narrow_queue, vcpus=4, sidecars=[_sidecar()]),
        r"vcpus must be at most 4 to fit an instance on queue NarrowQueue",
    ),
    Case(
        "sidecar secret with a reserved name",
        lambda s: s.job(sidecars=[_sidecar(secrets={"AWS_BATCH_X": s.secret})]),
        r"sidecars\[0\].secrets names must not start with AWS_BATCH, got 'AWS_BATCH_X'",
    ),
    Case(
        "sidecar with a name that is not a string",
        lambda s: _sidecar(7),
        r"name must be str, got 7 \(int\)",
    ),
    # --- ContainerJob consumable resources ---------------------------------------------
    Case(
        "job holding more of a resource than there is",
        lambda s: s.job(consumable_resources={s.licenses: 5}),
        r"consumable_resources\[Licenses\] must be at most the resource's total quantity "
        r"\(4\): the job would wait in RUNNABLE forever, got 5",
    ),
    Case(
        "job holding none of a resource",
        lambda s: s.job(consumable_resources={s.licenses: 0}),
        r"consumable_resources\[Licenses\] must be a whole quantity of at least 1, got 0",
    ),
    Case(
        "job holding six resources",
        lambda s: s.job(
            consumable_resources={
                batch.ConsumableResource(s.stack, s.new_id("Pool"), total_quantity=1): 1
                for _ in range(6)
            }
        ),
        "consumable_resources must name at most 5 resources, got 6",
    ),
    # --- MultiNodeJob ---------------------------------------------------------------
    Case(
        "multi-node job of no node",
        lambda s: s.multi_node(nodes=0),
        "nodes must be at least 1, got 0",
    ),
    Case(
        "multi-node job whose main node is not a node",
        lambda s: s.multi_node(main_node=4),
        r"main_node must be between 0 and nodes - 1 \(3\), got 4",
    ),
    Case(
        "multi-node range past the last node",
        lambda s: s.multi_node(node_ranges=[NodeRange(start_node=2, end_node=4)]),
        r"node_ranges\[0\] must cover nodes within 0 to 3 with start_node <= end_node, got 2 to 4",
    ),
    Case(
        "multi-node ranges that overlap",
        lambda s: s.multi_node(
            node_ranges=[NodeRange(start_node=0, end_node=1), NodeRange(start_node=1)]
        ),
        r"node_ranges\[1\] must not overlap another range, got 1 to 1 \(also in node_ranges\[0\]\)",
    ),
    Case(
        "multi-node job of seven node groups",
        lambda s: s.multi_node(nodes=8, node_ranges=[NodeRange(start_node=n) for n in (1, 3, 5)]),
        "node_ranges must make at most 5 node groups with the job's container in the gaps, got 7",
    ),
    Case(
        "multi-node job on an instance family",
        lambda s: s.multi_node(instance_type=_it("c5n")),
        r"instance_type must be one instance type with its size \(all nodes use it\), got 'c5n'",
    ),
    Case(
        "multi-node job on an instance type that does not exist",
        lambda s: s.multi_node(instance_type=_it("c5n.7xlarge")),
        r"instance_type must be an EC2 instance type \(1437 known to botocore",
    ),
    Case(
        "EFA on an instance size without EFA",
        lambda s: s.multi_node(instance_type=_it("c5n.xlarge"), efa=True),
        r"instance_type must support EFA with efa=True \(c5n does in sizes 18xlarge, 9xlarge, "
        r"metal\), got c5n.xlarge",
    ),
    Case(
        "multi-node node larger than its instance",
        lambda s: s.multi_node(vcpus=96, memory=Size.gibibytes(256)),
        rf"vcpus must be at most 72 to fit a c5n.18xlarge node, got 96; memory must be at most "
        rf"{C5N.memory_mib} MiB to fit a c5n.18xlarge node \(what its ECS agent registers\), "
        rf"got 262144 MiB",
    ),
    Case(
        "multi-node range with GPUs its instance has not",
        lambda s: s.multi_node(node_ranges=[NodeRange(start_node=0, gpus=1)]),
        r"node_ranges\[0\].gpus must be at most 0 to fit a c5n.18xlarge node, got 1",
    ),
    Case(
        "multi-node job on a Fargate queue",
        lambda s: s.multi_node(queue=s.fargate_queue),
        "queue FargateQueue runs on Fargate: multi-node parallel jobs run on EC2 compute "
        "environments only",
    ),
    Case(
        "multi-node job on a queue in public subnets",
        lambda s: s.multi_node(queue=s.c6i_queue),
        r"queue C6iQueue has no compute environment that can run multi-node parallel jobs: they "
        r"need on-demand, managed EC2 environments \(not Spot, Fargate or unmanaged\)",
    ),
    Case(
        "multi-node job on a type its queue does not launch",
        lambda s: s.multi_node(queue=s.hpc_queue, instance_type=_it("m6i.32xlarge")),
        r"instance_type must be one that the multi-node environments of queue HpcQueue launch "
        r"\(c5n.18xlarge\), got m6i.32xlarge",
    ),
    Case(
        "grant_submit: multi-node job to a Spot queue",
        lambda s: s.multi_node().grant_submit(s.submitter, s.private_spot_queue),
        "queue PrivateSpotQueue has no compute environment that can run multi-node parallel jobs",
    ),
    # --- grant_submit on a queue the job cannot run on ------------------------------
    Case(
        "grant_submit: too many vCPUs for the largest c6i",
        lambda s: s.submit(s.c6i_queue, vcpus=192),
        rf"vcpus must be at most {C6I.vcpus} to fit an instance on queue C6iQueue "
        rf"\(its largest instance: {C6I.vcpus} vCPU, {C6I.memory_mib} MiB\), got 192",
    ),
    Case(
        "grant_submit: too many vCPUs for the largest default instance",
        lambda s: s.submit(s.optimal_queue, vcpus=200),
        rf"vcpus must be at most {DEFAULT.vcpus} to fit an instance on queue OptimalQueue "
        rf"\(its largest instance: {DEFAULT.vcpus} vCPU, {DEFAULT.memory_mib} MiB\), got 200",
    ),
    Case(
        "grant_submit: too much memory",
        lambda s: s.submit(s.optimal_queue, memory=Size.gibibytes(2000)),
        rf"memory must be at most {DEFAULT.memory_mib} MiB to fit an instance on queue "
        rf"OptimalQueue \(its largest instance: {DEFAULT.vcpus} vCPU, {DEFAULT.memory_mib} "
        rf"MiB\), got 2048000 MiB",
    ),
    Case(
        "grant_submit: GPU job on a queue without GPU instances",
        lambda s: s.submit(s.optimal_queue, gpus=1),
        "gpus must be 0 on queue OptimalQueue: none of its compute environments launches GPU "
        "instances, got 1",
    ),
    Case(
        "grant_submit: GPU job on a Fargate queue",
        lambda s: s.submit(s.fargate_queue, gpus=1),
        "fargate must be True to run on queue FargateQueue, whose compute environments are "
        "Fargate, got False",
    ),
    Case(
        "grant_submit: EC2 job on a Fargate queue",
        lambda s: s.submit(s.fargate_queue),
        "fargate must be True to run on queue FargateQueue, whose compute environments are "
        "Fargate, got False",
    ),
    Case(
        "grant_submit: Fargate job on an EC2 queue",
        lambda s: s.submit(s.optimal_queue, fargate=True),
        "fargate must be False to run on queue OptimalQueue, whose compute environments are "
        "EC2, got True",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_invalid_configuration_raises(scene: Scene, case: Case) -> None:
    # GIVEN an invalid queue, job or submission
    # WHEN it is built
    # THEN a ValueError names the argument, the bad value and what is allowed
    with pytest.raises(ValueError, match=case.message):
        case.build(scene)


def test_invalid_job_reports_every_error_at_once(scene: Scene) -> None:
    # GIVEN a job with three independent mistakes
    # WHEN it is built
    # THEN one ValueError lists all three
    with pytest.raises(ValueError) as raised:
        scene.job(vcpus=0, retry_attempts=0, timeout=Duration.seconds(1))
    assert str(raised.value) == (
        "vcpus must be greater than 0, got 0; retry_attempts must be between 1 and 10, "
        "got 0; timeout must be at least 60 seconds, got 1 seconds"
    )


def test_placement_rejects_gpu_and_bad_combination_on_fargate_queue(scene: Scene) -> None:
    # GIVEN a Fargate queue
    # WHEN a Fargate job with a GPU and a memory size Fargate does not offer is checked
    errors = scene.fargate_queue.placement_errors(vcpus=2, memory_mib=3000, gpus=1, fargate=True)
    # THEN both problems are reported, naming the queue
    assert errors == [
        "gpus must be 0 on Fargate (queue FargateQueue), got 1",
        "memory on Fargate with 2 vCPU must be one of 4096 to 16384 in steps of 1024 MiB, "
        "got 3000 MiB (queue FargateQueue)",
    ]


def test_placement_skips_unknown_instance_types(scene: Scene) -> None:
    # GIVEN a queue whose instance type is not in the capacity tables
    # WHEN a large job is checked
    errors = scene.unknown_queue.placement_errors(
        vcpus=128, memory_mib=1_000_000, gpus=0, fargate=False
    )
    # THEN nothing is reported: the library never rejects what AWS might accept
    assert errors == []


def test_grant_submit_on_fitting_queue_returns_grant(scene: Scene) -> None:
    # GIVEN a job that fits the c6i queue
    job = scene.job(vcpus=64, memory=Size.gibibytes(100))
    # WHEN submission is granted
    grant = job.grant_submit(scene.submitter, scene.c6i_queue)
    # THEN the grant went to the submitter's policy
    assert grant.success
