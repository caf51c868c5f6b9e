"""FargateCompute, Ec2Compute and UnmanagedCompute: one synth per stack, one behaviour per test."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_cdk import CfnElement, Size, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Annotations, Match, Template
from constructs import IConstruct
from helpers import make_app

from constructs_batch.compute import (
    BatchCompute,
    Ec2Compute,
    FargateCompute,
    UnmanagedCompute,
)
from constructs_batch.limits import instance_capacity, instance_class_capacity
from constructs_batch.network import BatchNetwork, NetworkProfile
from constructs_batch.testing import nag_findings


@dataclass
class Built:
    stacks: dict[str, Stack]
    computes: dict[str, BatchCompute]
    templates: dict[str, Template]
    user_template: ec2.LaunchTemplate
    jsons: dict[str, dict[str, Any]] = field(default_factory=dict)

    def template_of(self, name: str) -> Template:
        return self.templates[Stack.of(self.computes[name]).stack_name]

    def resources_of(self, name: str) -> dict[str, Any]:
        """The synthesized resources of the stack holding a compute (parsed once)."""
        stack_name = Stack.of(self.computes[name]).stack_name
        if stack_name not in self.jsons:
            self.jsons[stack_name] = self.templates[stack_name].to_json()
        resources: dict[str, Any] = self.jsons[stack_name]["Resources"]
        return resources

    def resource(self, name: str) -> dict[str, Any]:
        """The synthesized properties of a compute's CfnComputeEnvironment."""
        compute = self.computes[name]
        logical_id = _logical_id(compute.compute_environment)
        return dict(self.resources_of(name)[logical_id]["Properties"])


@pytest.fixture(scope="module")
def built() -> Built:
    """Every configuration in one app, built before any synth, each stack synthesized once."""
    app = make_app()
    computes: dict[str, BatchCompute] = {}

    # Each construct in its default configuration (checked by cdk-nag as a whole).
    defaults = Stack(app, "Defaults")
    network = BatchNetwork(defaults, "Network")
    computes["Fargate"] = FargateCompute(defaults, "Fargate", network=network)
    computes["OnDemand"] = Ec2Compute(defaults, "OnDemand", network=network)
    computes["Unmanaged"] = UnmanagedCompute(defaults, "Unmanaged")

    # Non-default options, in a private network.
    options = Stack(app, "Options")
    private = BatchNetwork(options, "Network", profile=NetworkProfile.PRIVATE_NAT)
    computes["FargateSpot"] = FargateCompute(
        options, "FargateSpot", network=private, spot=True, max_vcpus=64
    )
    computes["Spot"] = Ec2Compute(
        options, "Spot", network=private, spot=True, spot_bid_percentage=60
    )
    computes["Gpu"] = Ec2Compute(
        options, "Gpu", network=private, gpu=True, instance_types=[ec2.InstanceType("g5.xlarge")]
    )
    computes["Graviton"] = Ec2Compute(
        options,
        "Graviton",
        network=private,
        instance_types=[ec2.InstanceType("c7g.2xlarge")],
        instance_classes=[ec2.InstanceClass.R7G],
        root_volume_size=Size.gibibytes(100),
        user_data=["echo hello"],
    )
    computes["Unknown"] = Ec2Compute(
        options,
        "Unknown",
        network=private,
        instance_types=[ec2.InstanceType("c6i.large"), ec2.InstanceType("x2iedn.xlarge")],
    )
    computes["BestFit"] = Ec2Compute(
        options,
        "BestFit",
        network=private,
        spot=True,
        allocation_strategy=batch.AllocationStrategy.BEST_FIT,
    )
    computes["GravitonDefault"] = Ec2Compute(
        options, "GravitonDefault", network=private, cpu_architecture=ecs.CpuArchitecture.ARM64
    )
    computes["GpuDerived"] = Ec2Compute(
        options, "GpuDerived", network=private, instance_classes=[ec2.InstanceClass.G6]
    )
    placement_group = ec2.PlacementGroup(
        options, "Cluster", strategy=ec2.PlacementGroupStrategy.CLUSTER
    )
    computes["CustomAmi"] = Ec2Compute(
        options,
        "CustomAmi",
        network=private,
        instance_types=[ec2.InstanceType("c5n.18xlarge")],
        machine_image=ecs.EcsOptimizedImage.amazon_linux2023(),
        placement_group=placement_group,
    )
    user_template = ec2.LaunchTemplate(options, "UserTemplate")
    computes["Byo"] = Ec2Compute(options, "Byo", network=private, launch_template=user_template)

    # Unmanaged with ECS container instances joining its cluster.
    attached = Stack(app, "Attached")
    attached_network = BatchNetwork(attached, "Network")
    computes["Attached"] = UnmanagedCompute(
        attached,
        "Attached",
        unmanaged_vcpus=16,
        network=attached_network,
        container_instances=2,
        instance_type=ec2.InstanceType("c6i.large"),
    )

    stacks = {s.stack_name: s for s in (defaults, options, attached)}
    templates = {name: Template.from_stack(stack) for name, stack in stacks.items()}
    return Built(stacks, computes, templates, user_template)


def _logical_id(construct: IConstruct) -> str:
    """Logical id of a construct's CloudFormation resource (its innermost default child)."""
    element: IConstruct = construct
    while not isinstance(element, CfnElement):
        child = element.node.default_child
        assert child is not None, f"{construct.node.path} has no CloudFormation resource"
        element = child
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(element)))


def _ec2(built: Built, name: str) -> Ec2Compute:
    compute = built.computes[name]
    assert isinstance(compute, Ec2Compute)
    return compute


def _unmanaged(built: Built, name: str) -> UnmanagedCompute:
    compute = built.computes[name]
    assert isinstance(compute, UnmanagedCompute)
    return compute


def _launch_template_data(built: Built, name: str) -> dict[str, Any]:
    compute = built.computes[name]
    template = compute.node.find_child("LaunchTemplate")
    resources = built.resources_of(name)
    return dict(resources[_logical_id(template)]["Properties"]["LaunchTemplateData"])


# --- every construct --------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["Defaults", "Attached"])
def test_compute_default_configurations_pass_cdk_nag(built: Built, stack: str) -> None:
    # GIVEN Fargate, EC2 and unmanaged compute in their default configurations,
    # and unmanaged compute with container instances
    # WHEN cdk-nag's AwsSolutions pack checks them
    # THEN nothing is left unacknowledged
    assert nag_findings(built.stacks[stack]) == []


def test_compute_options_pass_cdk_nag(built: Built) -> None:
    # GIVEN Spot, GPU, Graviton, BEST_FIT Spot (with its Spot Fleet role) and a user's template
    # THEN every finding is fixed or acknowledged next to its resource
    assert nag_findings(built.stacks["Options"]) == []


@pytest.mark.parametrize("name", ["Fargate", "OnDemand", "Spot", "Unmanaged", "Attached"])
def test_compute_sets_no_compute_environment_name(built: Built, name: str) -> None:
    # GIVEN any compute environment
    # THEN it has no fixed name, so a change that replaces it cannot collide
    assert "ComputeEnvironmentName" not in built.resource(name)


# --- FargateCompute ---------------------------------------------------------------------
def test_fargate_compute_defaults_to_on_demand_fargate(built: Built) -> None:
    # GIVEN FargateCompute with defaults in a PUBLIC network
    compute = built.computes["Fargate"]
    resources = built.resource("Fargate")["ComputeResources"]
    # THEN it is on-demand Fargate with 256 max vCPUs, needing a public IP
    assert resources["Type"] == "FARGATE"
    assert resources["MaxvCpus"] == 256
    assert (compute.fargate, compute.spot, compute.max_vcpus) == (True, False, 256)
    assert compute.architecture == "x86_64"
    assert compute.assign_public_ip is True
    assert compute.largest_instance() is None


def test_fargate_compute_spot_uses_fargate_spot(built: Built) -> None:
    # GIVEN FargateCompute with spot=True and max_vcpus=64 in a private network
    compute = built.computes["FargateSpot"]
    resources = built.resource("FargateSpot")["ComputeResources"]
    # THEN it is Fargate Spot, capped at 64 vCPUs, with no public IP
    assert resources["Type"] == "FARGATE_SPOT"
    assert resources["MaxvCpus"] == 64
    assert compute.spot is True
    assert compute.assign_public_ip is False


def test_fargate_compute_runs_in_the_network(built: Built) -> None:
    # GIVEN FargateCompute in a private network
    network = built.stacks["Options"].node.find_child("Network")
    assert isinstance(network, BatchNetwork)
    resources = built.resource("FargateSpot")["ComputeResources"]
    # THEN it uses the network's security group and private subnets
    assert resources["SecurityGroupIds"] == [
        {"Fn::GetAtt": [_logical_id(network.security_group), "GroupId"]}
    ]
    private_ids = [{"Ref": _logical_id(s)} for s in network.vpc.private_subnets]
    assert resources["Subnets"] == private_ids


# --- Ec2Compute -----------------------------------------------------------------------------
def test_ec2_compute_on_demand_defaults(built: Built) -> None:
    # GIVEN Ec2Compute with defaults
    compute = _ec2(built, "OnDemand")
    resources = built.resource("OnDemand")["ComputeResources"]
    # THEN it is on-demand EC2, BEST_FIT_PROGRESSIVE, Batch's default x86_64 types
    # (not the deprecated "optimal"), scaling to zero
    assert resources["Type"] == "EC2"
    assert resources["AllocationStrategy"] == "BEST_FIT_PROGRESSIVE"
    assert resources["InstanceTypes"] == ["default_x86_64"]
    assert resources["MinvCpus"] == 0
    assert resources["MaxvCpus"] == 256
    assert (compute.fargate, compute.spot, compute.architecture) == (False, False, "x86_64")


def test_ec2_compute_runs_amazon_linux_2023(built: Built) -> None:
    # GIVEN Ec2Compute without GPU
    resources = built.resource("OnDemand")["ComputeResources"]
    # THEN the ECS-optimized AL2023 AMI is asked for explicitly (Batch would default to AL2)
    assert resources["Ec2Configuration"] == [{"ImageType": "ECS_AL2023"}]


def test_ec2_compute_spot_defaults_to_price_capacity_optimized(built: Built) -> None:
    # GIVEN Ec2Compute with spot=True and no allocation strategy
    resources = built.resource("Spot")["ComputeResources"]
    # THEN it uses SPOT_PRICE_CAPACITY_OPTIMIZED, which needs no Spot Fleet role
    assert resources["Type"] == "SPOT"
    assert resources["AllocationStrategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    assert "SpotIamFleetRole" not in resources


def test_ec2_compute_passes_spot_bid_percentage(built: Built) -> None:
    # GIVEN spot_bid_percentage=60
    # THEN the environment bids at most 60% of the on-demand price
    assert built.resource("Spot")["ComputeResources"]["BidPercentage"] == 60


def test_ec2_compute_best_fit_spot_gets_a_working_spot_fleet_role(built: Built) -> None:
    # GIVEN Spot with BEST_FIT (which runs through a Spot Fleet)
    resources = built.resource("BestFit")
    fleet_role = resources["ComputeResources"]["SpotIamFleetRole"]["Fn::GetAtt"][0]
    role = built.resources_of("BestFit")[fleet_role]["Properties"]
    # THEN the Spot Fleet role carries the policy Batch prescribes
    assert json.dumps(role["ManagedPolicyArns"]).count("AmazonEC2SpotFleetTaggingRole") == 1


def test_ec2_compute_best_fit_replaces_the_environment_on_update(built: Built) -> None:
    # GIVEN BEST_FIT, which cannot do in-place infrastructure updates, and the default
    # THEN only BEST_FIT environments are replaced by updates that need new instances
    assert built.resource("BestFit")["ReplaceComputeEnvironment"] is True
    assert built.resource("Spot")["ReplaceComputeEnvironment"] is False


def test_ec2_compute_launch_template_requires_imdsv2(built: Built) -> None:
    # GIVEN Ec2Compute's default launch template
    data = _launch_template_data(built, "OnDemand")
    # THEN IMDSv2 is required and unreachable from containers on the Docker bridge
    assert data["MetadataOptions"] == {
        "HttpEndpoint": "enabled",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 1,
    }


def test_ec2_compute_launch_template_has_encrypted_gp3_root_volume(built: Built) -> None:
    # GIVEN Ec2Compute's default launch template
    data = _launch_template_data(built, "OnDemand")
    # THEN the root volume is a 30 GiB encrypted gp3 volume deleted with the instance
    assert data["BlockDeviceMappings"] == [
        {
            "DeviceName": "/dev/xvda",
            "Ebs": {
                "DeleteOnTermination": True,
                "Encrypted": True,
                "VolumeSize": 30,
                "VolumeType": "gp3",
            },
        }
    ]


def test_ec2_compute_root_volume_size_is_applied(built: Built) -> None:
    # GIVEN root_volume_size=100 GiB
    data = _launch_template_data(built, "Graviton")
    # THEN the root volume is 100 GiB
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 100


def test_ec2_compute_user_data_is_mime_multipart(built: Built) -> None:
    # GIVEN Ec2Compute's default launch template
    user_data = json.dumps(_launch_template_data(built, "OnDemand")["UserData"])
    # THEN its user data is a MIME multi-part document, the only format Batch accepts
    assert "Content-Type: multipart/mixed" in user_data
    assert "MIME-Version: 1.0" in user_data


def test_ec2_compute_user_data_commands_become_a_shell_part(built: Built) -> None:
    # GIVEN user_data=["echo hello"]
    user_data = json.dumps(_launch_template_data(built, "Graviton")["UserData"])
    # THEN they are a shell-script part of the multi-part document
    assert "Content-Type: multipart/mixed" in user_data
    assert "Content-Type: text/x-shellscript" in user_data
    assert json.dumps({"Fn::Base64": "#!/bin/bash\necho hello"}) in user_data


def test_ec2_compute_passes_the_launch_template_version(built: Built) -> None:
    # GIVEN Ec2Compute with its default launch template
    compute = _ec2(built, "OnDemand")
    template_id = _logical_id(compute.launch_template)
    # THEN the environment gets the template's latest version number, so changes reach instances
    built.template_of("OnDemand").has_resource_properties(
        "AWS::Batch::ComputeEnvironment",
        {
            "ComputeResources": Match.object_like(
                {
                    "LaunchTemplate": {
                        "LaunchTemplateId": {"Ref": template_id},
                        "Version": {"Fn::GetAtt": [template_id, "LatestVersionNumber"]},
                    }
                }
            )
        },
    )


def test_ec2_compute_uses_a_users_launch_template_as_is(built: Built) -> None:
    # GIVEN Ec2Compute with a user's launch template
    compute = _ec2(built, "Byo")
    template_id = _logical_id(built.user_template)
    # THEN it is used (by version too) and no other template is created for it
    assert compute.launch_template is built.user_template
    assert compute.node.try_find_child("LaunchTemplate") is None
    assert built.resource("Byo")["ComputeResources"]["LaunchTemplate"] == {
        "LaunchTemplateId": {"Ref": template_id},
        "Version": {"Fn::GetAtt": [template_id, "LatestVersionNumber"]},
    }


def test_ec2_compute_gpu_uses_the_nvidia_ami(built: Built) -> None:
    # GIVEN gpu=True with a GPU instance type
    resources = built.resource("Gpu")["ComputeResources"]
    # THEN the ECS GPU-optimized AL2023 AMI is used on the given types
    assert resources["Ec2Configuration"] == [{"ImageType": "ECS_AL2023_NVIDIA"}]
    assert resources["InstanceTypes"] == ["g5.xlarge"]
    assert _ec2(built, "Gpu").largest_instance() == instance_capacity("g5.xlarge")


def test_ec2_compute_graviton_defaults_to_batch_default_arm64_types(built: Built) -> None:
    # GIVEN cpu_architecture=ARM64 and no instance types
    resources = built.resource("GravitonDefault")["ComputeResources"]
    # THEN Batch picks from its default Graviton types, and the queue knows it is arm64
    assert resources["InstanceTypes"] == ["default_arm64"]
    assert _ec2(built, "GravitonDefault").architecture == "arm64"


def test_ec2_compute_gpu_instance_types_get_the_nvidia_ami(built: Built) -> None:
    # GIVEN GPU instance classes and gpu left unset
    resources = built.resource("GpuDerived")["ComputeResources"]
    # THEN the NVIDIA image is chosen, so their GPUs are offered to jobs
    assert resources["Ec2Configuration"] == [{"ImageType": "ECS_AL2023_NVIDIA"}]


def test_ec2_compute_custom_ami_and_cluster_placement_group(built: Built) -> None:
    # GIVEN an AMI of our own (the ECS AL2023 one, pinned) and a cluster placement group
    compute = _ec2(built, "CustomAmi")
    resources = built.resource("CustomAmi")["ComputeResources"]
    # THEN the AMI overrides Batch's, with its image type, and instances share the group
    (configuration,) = resources["Ec2Configuration"]
    assert configuration["ImageType"] == "ECS_AL2023"
    assert "amazonlinux2023" in configuration["ImageIdOverride"]["Ref"]
    assert compute.placement_group is not None
    group = _logical_id(compute.placement_group)
    assert resources["PlacementGroup"] == {"Fn::GetAtt": [group, "GroupName"]}
    # AND a cluster group over two AZs of subnets is warned about
    warnings = Annotations.from_stack(Stack.of(compute)).find_warning(
        f"/{compute.node.path}", Match.string_like_regexp("cluster placement group")
    )
    assert len(warnings) == 1


def test_ec2_compute_instance_role_is_the_ecs_agent_role(built: Built) -> None:
    # GIVEN Ec2Compute's instance role
    compute = _ec2(built, "OnDemand")
    role = built.resources_of("OnDemand")[_logical_id(compute.instance_role)]
    # THEN EC2 assumes it and it has the ECS agent's managed policy only
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    assert "AmazonEC2ContainerServiceforEC2Role" in json.dumps(
        role["Properties"]["ManagedPolicyArns"]
    )


def test_ec2_compute_architecture_and_largest_instance_from_types(built: Built) -> None:
    # GIVEN c7g.2xlarge and the r7g class
    compute = _ec2(built, "Graviton")
    c7g, r7g = instance_capacity("c7g.2xlarge"), instance_class_capacity("r7g")
    assert c7g is not None and r7g is not None
    # THEN it is arm64, and the largest instance is the most of each dimension
    assert compute.architecture == "arm64"
    largest = compute.largest_instance()
    assert largest is not None
    assert (largest.vcpus, largest.memory_mib) == (r7g.vcpus, r7g.memory_mib)
    assert built.resource("Graviton")["ComputeResources"]["InstanceTypes"] == ["c7g.2xlarge", "r7g"]


def test_ec2_compute_default_types_largest_instance(built: Built) -> None:
    # GIVEN no instance types (Batch's default_x86_64: m6i, c6i, r6i, c7i)
    # THEN the largest instance has the most vCPUs (c7i) and memory (r6i) of them
    largest = _ec2(built, "OnDemand").largest_instance()
    c7i, r6i = instance_class_capacity("c7i"), instance_class_capacity("r6i")
    assert largest is not None and c7i is not None and r6i is not None
    assert (largest.vcpus, largest.memory_mib) == (c7i.vcpus, r6i.memory_mib)


def test_ec2_compute_unknown_type_makes_largest_instance_unknown(built: Built) -> None:
    # GIVEN a known and an unknown instance type
    compute = _ec2(built, "Unknown")
    # THEN the largest instance is unknown (never a false "does not fit"),
    # and the architecture comes from the known type
    assert compute.largest_instance() is None
    assert compute.architecture == "x86_64"


# --- UnmanagedCompute -----------------------------------------------------------------
def test_unmanaged_compute_defaults(built: Built) -> None:
    # GIVEN UnmanagedCompute with defaults
    compute = _unmanaged(built, "Unmanaged")
    resource = built.resource("Unmanaged")
    # THEN it is an unmanaged environment with no capacity the library knows of
    assert resource["Type"] == "unmanaged"
    assert compute.auto_scaling_group is None
    assert compute.max_vcpus is None
    assert compute.largest_instance() is None
    assert (compute.fargate, compute.spot, compute.architecture) == (False, False, None)


def test_unmanaged_compute_uses_the_batch_service_linked_role(built: Built) -> None:
    # GIVEN UnmanagedCompute
    compute = _unmanaged(built, "Unmanaged")
    # THEN it passes no service role (Batch uses its service-linked role) and creates none
    assert "ServiceRole" not in built.resource("Unmanaged")
    assert compute.compute_environment.node.try_find_child("BatchServiceRole") is None


def test_unmanaged_compute_passes_unmanaged_vcpus(built: Built) -> None:
    # GIVEN unmanaged_vcpus=16
    # THEN the fair-share scheduler is told about 16 vCPUs
    assert built.resource("Attached")["UnmanagedvCpus"] == 16


def test_unmanaged_compute_container_instances_form_a_fixed_group(built: Built) -> None:
    # GIVEN container_instances=2
    compute = _unmanaged(built, "Attached")
    # THEN an Auto Scaling group keeps two instances in the network's job subnets
    assert compute.auto_scaling_group is not None
    built.template_of("Attached").has_resource_properties(
        "AWS::AutoScaling::AutoScalingGroup", {"MinSize": "2", "MaxSize": "2"}
    )
    assert compute.largest_instance() == instance_capacity("c6i.large")
    assert compute.architecture == "x86_64"


def test_unmanaged_compute_container_instances_join_the_cluster(built: Built) -> None:
    # GIVEN container instances attached to an unmanaged environment
    data = _launch_template_data(built, "Attached")
    lookup = _logical_id(built.computes["Attached"].node.find_child("EcsClusterLookup"))
    # THEN their user data writes the environment's ECS cluster name to ecs.config
    assert data["UserData"] == {
        "Fn::Base64": {
            "Fn::Join": [
                "",
                [
                    "#!/bin/bash\necho ECS_CLUSTER=",
                    {
                        "Fn::Select": [
                            1,
                            {
                                "Fn::Split": [
                                    "/",
                                    {"Fn::GetAtt": [lookup, "computeEnvironments.0.ecsClusterArn"]},
                                ]
                            },
                        ]
                    },
                    " >> /etc/ecs/ecs.config",
                ],
            ]
        }
    }


def test_unmanaged_compute_looks_up_the_cluster_of_its_environment(built: Built) -> None:
    # GIVEN container instances attached to an unmanaged environment
    compute = built.computes["Attached"]
    lookup = _logical_id(compute.node.find_child("EcsClusterLookup"))
    resource = built.resources_of("Attached")[lookup]["Properties"]
    environment = _logical_id(compute.compute_environment)
    # THEN DescribeComputeEnvironments is called for this environment
    create = json.dumps(resource["Create"])
    assert "describeComputeEnvironments" in create
    assert environment in create


def test_unmanaged_compute_container_instances_are_hardened(built: Built) -> None:
    # GIVEN container instances attached to an unmanaged environment
    data = _launch_template_data(built, "Attached")
    # THEN they require IMDSv2, have an encrypted gp3 root volume and run the ECS AMI
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeType"] == "gp3"
    assert "ecsoptimizedamiamazonlinux2023" in json.dumps(data["ImageId"]).lower()
    assert data["InstanceType"] == "c6i.large"
