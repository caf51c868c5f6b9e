"""Invalid BatchNetwork and compute configurations fail at construct time, naming what is wrong.

Every case builds into one shared stack that is never synthesized: validation runs
before any child resource is created, so no synth is needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Size, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from helpers import make_app

from constructs_batch.compute import Ec2Compute, FargateCompute, UnmanagedCompute
from constructs_batch.network import BatchNetwork, NetworkProfile


class Scene:
    """A stack with a network and an existing VPC to build invalid constructs next to."""

    def __init__(self) -> None:
        self.stack = Stack(make_app(), "Invalid")
        self.network = BatchNetwork(self.stack, "Network")
        self.vpc = ec2.Vpc.from_vpc_attributes(
            self.stack,
            "Existing",
            vpc_id="vpc-1",
            availability_zones=["az-a", "az-b"],
            public_subnet_ids=["p1", "p2"],
        )
        self.launch_template = ec2.LaunchTemplate(self.stack, "UserTemplate")
        self.plain_user_data_template = ec2.LaunchTemplate(
            self.stack, "PlainUserData", user_data=ec2.UserData.for_linux()
        )
        zones = [f"az-{n}" for n in range(17)]
        wide = ec2.Vpc.from_vpc_attributes(
            self.stack,
            "Wide",
            vpc_id="vpc-2",
            availability_zones=zones,
            public_subnet_ids=[f"subnet-{n}" for n in range(17)],
        )
        self.wide_network = BatchNetwork(self.stack, "WideNetwork", vpc=wide)
        self.groups = [
            ec2.SecurityGroup.from_security_group_id(self.stack, f"Group{n}", f"sg-{n}")
            for n in range(6)
        ]


@pytest.fixture(scope="module")
def scene() -> Scene:
    return Scene()


Build = Callable[[Scene, str], Any]


def _it(name: str) -> ec2.InstanceType:
    return ec2.InstanceType(name)


CASES: list[Any] = [
    # --- BatchNetwork --------------------------------------------------------------------
    pytest.param(
        lambda s, i: BatchNetwork(s.stack, i, vpc=s.vpc, profile=NetworkProfile.PUBLIC),
        "vpc cannot be combined with profile: they configure a new VPC",
        id="network-vpc-with-profile",
    ),
    pytest.param(
        lambda s, i: BatchNetwork(
            s.stack,
            i,
            vpc=s.vpc,
            max_azs=3,
            cidr="10.1.0.0/16",
            flow_log_retention=logs.RetentionDays.ONE_WEEK,
        ),
        "vpc cannot be combined with max_azs, cidr, flow_log_retention",
        id="network-vpc-with-new-vpc-settings",
    ),
    pytest.param(
        lambda s, i: BatchNetwork(s.stack, i, max_azs=0),
        "max_azs must be at least 1, got 0",
        id="network-max-azs-zero",
    ),
    pytest.param(
        lambda s, i: BatchNetwork(s.stack, i, nat_gateways=1),
        "nat_gateways is only allowed with profile=NetworkProfile.PRIVATE_NAT, "
        "got profile=NetworkProfile.PUBLIC",
        id="network-nat-without-private-nat",
    ),
    pytest.param(
        lambda s, i: BatchNetwork(s.stack, i, profile=NetworkProfile.ISOLATED, nat_gateways=1),
        "nat_gateways is only allowed with profile=NetworkProfile.PRIVATE_NAT, "
        "got profile=NetworkProfile.ISOLATED",
        id="network-nat-with-isolated",
    ),
    pytest.param(
        lambda s, i: BatchNetwork(
            s.stack, i, profile=NetworkProfile.PRIVATE_NAT, max_azs=2, nat_gateways=3
        ),
        "nat_gateways must be between 1 and max_azs (2), got 3",
        id="network-more-nat-than-azs",
    ),
    pytest.param(
        lambda s, i: BatchNetwork(s.stack, i, profile=NetworkProfile.PRIVATE_NAT, nat_gateways=0),
        "nat_gateways must be between 1 and max_azs (2), got 0",
        id="network-zero-nat",
    ),
    pytest.param(
        lambda s, i: BatchNetwork(s.stack, i, cidr="10.0.0.0/8"),
        "cidr must be an IPv4 CIDR block with a prefix length between /16 and /28, "
        "got '10.0.0.0/8'",
        id="network-cidr-too-large",
    ),
    pytest.param(
        lambda s, i: BatchNetwork(s.stack, i, cidr="10.0.0.300/16"),
        "cidr must be an IPv4 CIDR block with a prefix length between /16 and /28, "
        "got '10.0.0.300/16'",
        id="network-cidr-malformed",
    ),
    pytest.param(
        lambda s, i: BatchNetwork(
            s.stack, i, subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
        ),
        "subnet_selection is only allowed with an existing vpc, got no vpc",
        id="network-subnet-selection-without-vpc",
    ),
    # --- FargateCompute --------------------------------------------------------------------
    pytest.param(
        lambda s, i: FargateCompute(s.stack, i, network=s.network, max_vcpus=0),
        "max_vcpus must be at least 1, got 0",
        id="fargate-max-vcpus-zero",
    ),
    pytest.param(
        lambda s, i: FargateCompute(s.stack, i, network=s.network, security_groups=s.groups),
        "security_groups must hold 1 to 5 security groups on Fargate, got 6",
        id="fargate-six-security-groups",
    ),
    pytest.param(
        lambda s, i: FargateCompute(s.stack, i, network=s.wide_network),
        "network must give Fargate at most 16 job subnets, got 17",
        id="fargate-seventeen-subnets",
    ),
    # --- Ec2Compute ------------------------------------------------------------------------
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, instance_types=[_it("c5.7xlarge")]),
        "instance_types[0] must be an EC2 instance type (1437 known to botocore",
        id="ec2-instance-type-that-does-not-exist",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack, i, network=s.network, instance_types=[_it("p6-b200.48xlarge")]
        ),
        "instance_types[0] must be an instance type aws-cdk-lib can parse "
        "(ManagedEc2EcsComputeEnvironment raises 'Malformed instance type identifier' for it), "
        "got 'p6-b200.48xlarge'",
        id="ec2-instance-type-cdk-cannot-parse",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack, i, network=s.network, gpu=False, instance_types=[_it("g5.xlarge")]
        ),
        "gpu must be True or None with GPU instance types (g5.xlarge): without the NVIDIA "
        "image their GPUs are never offered to jobs, got False",
        id="ec2-gpu-types-without-gpu-image",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack,
            i,
            network=s.network,
            image_type=batch.EcsMachineImageType.ECS_AL2023,
            instance_classes=[ec2.InstanceClass.G6],
        ),
        "image_type must be ECS_AL2023_NVIDIA with GPU instance types (g6), got ECS_AL2023",
        id="ec2-gpu-types-with-plain-image-type",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack, i, network=s.network, image_type=batch.EcsMachineImageType.ECS_AL2
        ),
        "image_type must be ECS_AL2023 or ECS_AL2023_NVIDIA: Batch blocks new ECS compute "
        "environments on Amazon Linux 2 AMIs since 2026-06-30, when AWS ended their support, "
        "got ECS_AL2",
        id="ec2-al2-image-type",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack, i, network=s.network, machine_image=ecs.EcsOptimizedImage.amazon_linux2()
        ),
        "machine_image must be an Amazon Linux 2023 AMI: Batch blocks new ECS compute "
        "environments on Amazon Linux 2 since 2026-06-30, got "
        "/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id",
        id="ec2-al2-machine-image",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack,
            i,
            network=s.network,
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(ecs.AmiHardwareType.ARM),
        ),
        "machine_image must be built for x86_64 like the instance types, got "
        "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id (arm64)",
        id="ec2-arm-machine-image-on-x86",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack,
            i,
            network=s.network,
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(ecs.AmiHardwareType.GPU),
            image_type=batch.EcsMachineImageType.ECS_AL2023,
        ),
        "image_type must be ECS_AL2023_NVIDIA for machine_image "
        "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id, got ECS_AL2023",
        id="ec2-machine-image-of-another-type",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, instance_types=[_it("p3.2xlarge")]),
        "must run the ECS AL2023 NVIDIA image, which does not support p3, g3, got p3.2xlarge",
        id="ec2-p3-on-al2023-nvidia",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, instance_types=[_it("g5g.xlarge")]),
        "GPUs must be x86_64 for the ECS AL2023 NVIDIA image, which is for non-Graviton "
        "instance types only (Ec2Configuration API), got g5g.xlarge",
        id="ec2-graviton-gpu-on-al2023-nvidia",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack,
            i,
            network=s.network,
            cpu_architecture=ecs.CpuArchitecture.ARM64,
            instance_types=[_it("c6i.large")],
        ),
        "cpu_architecture must be that of instance_types and instance_classes "
        "(x86_64: c6i.large), got ARM64",
        id="ec2-arm-architecture-with-x86-types",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack, i, network=s.network, launch_template=s.plain_user_data_template
        ),
        "launch_template user data must be MIME multi-part (ec2.MultipartUserData): Batch "
        "marks the compute environment INVALID otherwise",
        id="ec2-launch-template-single-part-user-data",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, min_vcpus=16, max_vcpus=8),
        "min_vcpus must be at most max_vcpus (8), got 16",
        id="ec2-min-above-max",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, min_vcpus=-1),
        "min_vcpus must be at least 0, got -1",
        id="ec2-negative-min-vcpus",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, max_vcpus=-4),
        "max_vcpus must be at least 1, got -4",
        id="ec2-negative-max-vcpus",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, spot_bid_percentage=50),
        "spot_bid_percentage is only allowed with spot=True, got 50 with spot=False",
        id="ec2-bid-without-spot",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, spot=True, spot_bid_percentage=0),
        "spot_bid_percentage must be between 1 and 100, got 0",
        id="ec2-bid-zero",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, spot=True, spot_bid_percentage=101),
        "spot_bid_percentage must be between 1 and 100, got 101",
        id="ec2-bid-above-100",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack,
            i,
            network=s.network,
            allocation_strategy=batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED,
        ),
        "allocation_strategy SPOT_PRICE_CAPACITY_OPTIMIZED is only allowed with spot=True; "
        "on-demand allows BEST_FIT_PROGRESSIVE or BEST_FIT",
        id="ec2-spot-strategy-on-demand",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack,
            i,
            network=s.network,
            instance_types=[_it("c6i.large"), _it("c7g.large")],
            instance_classes=[ec2.InstanceClass.M6G],
        ),
        "instance_types and instance_classes must all have one CPU architecture, "
        "got x86_64 (c6i.large) and arm64 (c7g.large, m6g)",
        id="ec2-mixed-architectures",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, instance_types=[_it("a1.large")]),
        "does not support a1, got a1.large",
        id="ec2-a1-on-al2023",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, gpu=True),
        "gpu=True needs instance_types or instance_classes with GPUs (such as g5 or p4d), "
        "got none: Batch's default_x86_64 instance types have no GPU",
        id="ec2-gpu-optimal",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack,
            i,
            network=s.network,
            gpu=True,
            instance_types=[_it("c6i.large")],
            instance_classes=[ec2.InstanceClass.M6I],
        ),
        "gpu=True needs instance_types or instance_classes with GPUs (such as g5 or p4d), "
        "got c6i.large, m6i (no GPU)",
        id="ec2-gpu-without-gpu-types",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(s.stack, i, network=s.network, root_volume_size=Size.gibibytes(20)),
        "root_volume_size must be a whole number of GiB between 30 (the ECS-optimized AMI's "
        "root volume) and 16384, got 20 GiB",
        id="ec2-root-volume-below-ami",
    ),
    pytest.param(
        lambda s, i: Ec2Compute(
            s.stack,
            i,
            network=s.network,
            launch_template=s.launch_template,
            root_volume_size=Size.gibibytes(50),
            user_data=["echo hi"],
        ),
        "launch_template cannot be combined with root_volume_size, user_data: "
        "configure them in your launch template",
        id="ec2-launch-template-with-settings",
    ),
    # --- UnmanagedCompute ------------------------------------------------------------------
    pytest.param(
        lambda s, i: UnmanagedCompute(s.stack, i, unmanaged_vcpus=-1),
        "unmanaged_vcpus must be at least 0, got -1",
        id="unmanaged-negative-vcpus",
    ),
    pytest.param(
        lambda s, i: UnmanagedCompute(s.stack, i, container_instances=2),
        "network is required with container_instances, got none with 2; "
        "instance_type is required with container_instances, got none with 2",
        id="unmanaged-instances-without-network-or-type",
    ),
    pytest.param(
        lambda s, i: UnmanagedCompute(s.stack, i, instance_type=_it("c6i.large")),
        "instance_type and root_volume_size are only allowed with container_instances above 0, "
        "got 0",
        id="unmanaged-type-without-instances",
    ),
    pytest.param(
        lambda s, i: UnmanagedCompute(s.stack, i, container_instances=-1),
        "container_instances must be at least 0, got -1",
        id="unmanaged-negative-instances",
    ),
]


@pytest.mark.parametrize(("build", "message"), CASES)
def test_invalid_configuration_is_rejected(
    scene: Scene, request: pytest.FixtureRequest, build: Build, message: str
) -> None:
    # GIVEN an invalid configuration
    construct_id = request.node.callspec.id
    # WHEN it is built
    # THEN it fails at once, naming the argument, the bad value and what is allowed
    with pytest.raises(ValueError, match=re.escape(message)):
        build(scene, construct_id)


def test_invalid_configuration_reports_every_error_together(scene: Scene) -> None:
    # GIVEN several independent mistakes in one Ec2Compute
    # WHEN it is built
    with pytest.raises(ValueError) as raised:
        Ec2Compute(
            scene.stack,
            "ManyMistakes",
            network=scene.network,
            max_vcpus=0,
            spot_bid_percentage=50,
            root_volume_size=Size.gibibytes(8),
        )
    # THEN one error lists them all
    message = str(raised.value)
    assert "max_vcpus must be at least 1, got 0" in message
    assert "spot_bid_percentage is only allowed with spot=True" in message
    assert "root_volume_size must be a whole number of GiB between 30" in message
