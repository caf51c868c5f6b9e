"""BatchQueue: what the synthesized job queue looks like, and what placement_errors says."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template
from helpers import make_app

from constructs_batch import limits
from constructs_batch.compute import Ec2Compute, FargateCompute
from constructs_batch.network import BatchNetwork, NetworkProfile
from constructs_batch.queue import DEFAULT_PRIORITY, BatchQueue


class Platform:
    """One stack: a public network, EC2 Spot/on-demand and Fargate environments, queues."""

    def __init__(self) -> None:
        self.stack = Stack(make_app(), "QueueStack")
        network = BatchNetwork(self.stack, "Network", profile=NetworkProfile.PUBLIC)
        self.spot = Ec2Compute(self.stack, "Spot", network=network, spot=True, max_vcpus=256)
        self.on_demand = Ec2Compute(
            self.stack,
            "OnDemand",
            network=network,
            max_vcpus=64,
            instance_types=[ec2.InstanceType("c6i.4xlarge")],
        )
        self.gpu = Ec2Compute(
            self.stack,
            "Gpu",
            network=network,
            gpu=True,
            max_vcpus=96,
            instance_types=[ec2.InstanceType("g5.12xlarge")],
        )
        self.fargate_spot = FargateCompute(
            self.stack, "FargateSpot", network=network, spot=True, max_vcpus=64
        )
        self.fargate = FargateCompute(self.stack, "Fargate", network=network, max_vcpus=8)
        self.default = BatchQueue(
            self.stack, "Default", environments=[self.spot, self.on_demand], fair_share=True
        )
        self.fargate_queue = BatchQueue(
            self.stack,
            "FargateQueue",
            environments=[self.fargate_spot, self.fargate],
            priority=500,
            runnable_timeout=None,
        )
        self.spot_first = BatchQueue.spot_first(
            self.stack,
            "SpotFirst",
            spot=self.spot,
            on_demand=self.on_demand,
            runnable_timeout=Duration.hours(2),
        )
        self.gpu_queue = BatchQueue(
            self.stack,
            "GpuQueue",
            environments=[self.gpu],
            runnable_timeout={
                batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY: None,
                batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT: Duration.minutes(10),
            },
        )
        self.template = Template.from_stack(self.stack)


@pytest.fixture(scope="module")
def platform() -> Platform:
    return Platform()


def _queue_props(platform: Platform, queue: BatchQueue) -> dict[str, Any]:
    logical_id = platform.stack.get_logical_id(queue.job_queue.node.default_child)  # type: ignore[arg-type]
    props: dict[str, Any] = platform.template.to_json()["Resources"][logical_id]["Properties"]
    return props


def _environment_ref(platform: Platform, compute: Any) -> dict[str, Any]:
    logical_id = platform.stack.get_logical_id(compute.compute_environment.node.default_child)
    return {"Fn::GetAtt": [logical_id, "ComputeEnvironmentArn"]}


def test_queue_orders_environments_first_preferred(platform: Platform) -> None:
    # GIVEN environments=[spot, on_demand]
    # WHEN the stack is synthesized
    props = _queue_props(platform, platform.default)
    # THEN Spot has order 1 and on-demand order 2 (Batch tries the lowest order first)
    assert props["ComputeEnvironmentOrder"] == [
        {"ComputeEnvironment": _environment_ref(platform, platform.spot), "Order": 1},
        {"ComputeEnvironment": _environment_ref(platform, platform.on_demand), "Order": 2},
    ]


def test_queue_spot_first_puts_spot_before_on_demand(platform: Platform) -> None:
    # GIVEN BatchQueue.spot_first(spot=..., on_demand=...)
    # WHEN the stack is synthesized
    props = _queue_props(platform, platform.spot_first)
    # THEN it is the same order as environments=[spot, on_demand]
    assert [o["ComputeEnvironment"] for o in props["ComputeEnvironmentOrder"]] == [
        _environment_ref(platform, platform.spot),
        _environment_ref(platform, platform.on_demand),
    ]


def test_queue_priority_defaults_to_constant(platform: Platform) -> None:
    # GIVEN a queue without priority and one with priority=500
    # WHEN the stack is synthesized
    # THEN the default is DEFAULT_PRIORITY and the explicit one is kept
    assert _queue_props(platform, platform.default)["Priority"] == DEFAULT_PRIORITY
    assert _queue_props(platform, platform.fargate_queue)["Priority"] == 500


def test_queue_fair_share_true_creates_policy(platform: Platform) -> None:
    # GIVEN fair_share=True
    # WHEN the stack is synthesized
    # THEN a fair-share policy with an hour of share decay exists and the queue uses it
    platform.template.has_resource_properties(
        "AWS::Batch::SchedulingPolicy",
        {"FairsharePolicy": {"ShareDecaySeconds": 3600, "ShareDistribution": []}},
    )
    policy = platform.stack.get_logical_id(
        platform.default.node.find_child("FairSharePolicy").node.default_child
    )  # type: ignore[arg-type]
    assert _queue_props(platform, platform.default)["SchedulingPolicyArn"] == {
        "Fn::GetAtt": [policy, "Arn"]
    }


def test_queue_without_fair_share_is_fifo(platform: Platform) -> None:
    # GIVEN a queue without fair_share
    # WHEN the stack is synthesized
    # THEN it has no scheduling policy
    assert "SchedulingPolicyArn" not in _queue_props(platform, platform.fargate_queue)
    assert platform.fargate_queue.scheduling_policy is None


def test_queue_cancels_jobs_stuck_in_runnable_by_default(platform: Platform) -> None:
    # GIVEN a queue with the default runnable_timeout
    # WHEN the stack is synthesized
    actions = _queue_props(platform, platform.default)["JobStateTimeLimitActions"]
    # THEN a job waiting for capacity is cancelled after a day (waiting for Spot or GPU
    # capacity is normal), one that can never be placed after 30 minutes
    seconds = dict(zip(limits.JOB_STATE_TIME_LIMIT_REASONS, (86400, 1800, 1800), strict=True))
    assert actions == [
        {
            "Action": "CANCEL",
            "MaxTimeSeconds": seconds[reason],
            "Reason": reason,
            "State": "RUNNABLE",
        }
        for reason in limits.JOB_STATE_TIME_LIMIT_REASONS
    ]


def test_queue_runnable_timeout_per_reason(platform: Platform) -> None:
    # GIVEN a GPU queue that never cancels for capacity and cancels a job no instance
    # can hold after 10 minutes, leaving the third reason at its default
    # WHEN the stack is synthesized
    actions = _queue_props(platform, platform.gpu_queue)["JobStateTimeLimitActions"]
    # THEN only the two misconfiguration reasons have an action, each with its time
    assert {a["Reason"]: a["MaxTimeSeconds"] for a in actions} == {
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE": 1800,
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT": 600,
    }


def test_queue_runnable_timeout_is_configurable(platform: Platform) -> None:
    # GIVEN runnable_timeout=2 hours
    # WHEN the stack is synthesized
    actions = _queue_props(platform, platform.spot_first)["JobStateTimeLimitActions"]
    # THEN every action waits 7200 s
    assert {a["MaxTimeSeconds"] for a in actions} == {7200}


def test_queue_runnable_timeout_none_disables_actions(platform: Platform) -> None:
    # GIVEN runnable_timeout=None
    # WHEN the stack is synthesized
    # THEN the queue has no time limit actions
    assert "JobStateTimeLimitActions" not in _queue_props(platform, platform.fargate_queue)


def test_queue_has_no_custom_name(platform: Platform) -> None:
    # GIVEN any queue
    # WHEN the stack is synthesized
    # THEN CloudFormation names it, so a replacement never collides with the old queue
    platform.template.all_resources_properties(
        "AWS::Batch::JobQueue", {"JobQueueName": Match.absent()}
    )


def test_queue_attributes_describe_platform(platform: Platform) -> None:
    # GIVEN an EC2 queue and a Fargate queue in public subnets
    # WHEN they are built
    # THEN their attributes say which platform they run and whether a public IP is needed
    assert (platform.default.fargate, platform.default.assign_public_ip) == (False, False)
    assert (platform.fargate_queue.fargate, platform.fargate_queue.assign_public_ip) == (True, True)
    assert platform.default.environments == (platform.spot, platform.on_demand)
    assert platform.default.architecture == "x86_64"


def test_queue_placement_accepts_job_that_fits(platform: Platform) -> None:
    # GIVEN a job of 16 vCPU and 30 GiB on the EC2 queue (fits c6i.4xlarge and optimal)
    # WHEN its placement is checked
    errors = platform.default.placement_errors(vcpus=16, memory_mib=30_000, gpus=0, fargate=False)
    # THEN there is nothing to report
    assert errors == []


def test_queue_placement_names_prefixed_argument(platform: Platform) -> None:
    # GIVEN a caller whose arguments are named loader_*
    # WHEN a job too large for every instance is checked
    errors = platform.default.placement_errors(
        vcpus=200, memory_mib=2048, gpus=0, fargate=False, argument_prefix="loader_"
    )
    # THEN the message names loader_vcpus, the queue and the largest instance (of
    # Batch's default types)
    default = limits.instance_class_capacity("default_x86_64")
    assert default is not None
    assert errors == [
        f"loader_vcpus must be at most {default.vcpus} to fit an instance on queue Default "
        f"(its largest instance: {default.vcpus} vCPU, {default.memory_mib} MiB), got 200"
    ]


def test_queue_placement_accepts_gpu_job_on_gpu_queue(platform: Platform) -> None:
    # GIVEN a 4-GPU job on a queue of g5.12xlarge (4 GPU)
    # WHEN its placement is checked
    errors = platform.gpu_queue.placement_errors(vcpus=8, memory_mib=16_384, gpus=4, fargate=False)
    # THEN it fits
    assert errors == []
