"""MultiNodeJob: the synthesized multi-node parallel job definition, its grants and checks."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Size, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from helpers import logical_id, make_app, properties

from constructs_batch.compute import Ec2Compute
from constructs_batch.limits import EFA_DEVICE_PATH
from constructs_batch.multinode import MultiNodeJob, NodeRange
from constructs_batch.network import BatchNetwork, NetworkProfile
from constructs_batch.queue import BatchQueue
from constructs_batch.testing import nag_findings

IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox:1.36")
COORDINATOR = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/alpine:3.20")


class Hpc:
    """A private network, an on-demand c5n environment in a cluster placement group, a job."""

    def __init__(self) -> None:
        self.stack = Stack(make_app(), "HpcStack")
        network = BatchNetwork(self.stack, "Network", profile=NetworkProfile.PRIVATE_NAT, max_azs=1)
        group = ec2.PlacementGroup(
            self.stack, "Cluster", strategy=ec2.PlacementGroupStrategy.CLUSTER
        )
        hpc = Ec2Compute(
            self.stack,
            "Hpc",
            network=network,
            instance_types=[ec2.InstanceType("c5n.18xlarge")],
            placement_group=group,
        )
        self.queue = BatchQueue(self.stack, "HpcQueue", environments=[hpc])
        self.job = MultiNodeJob(
            self.stack,
            "Solver",
            image=IMAGE,
            instance_type=ec2.InstanceType("c5n.18xlarge"),
            nodes=8,
            main_node=0,
            vcpus=72,
            memory=Size.gibibytes(180),
            node_ranges=[NodeRange(start_node=0, image=COORDINATOR, command=["coordinate"])],
            efa=True,
            queue=self.queue,
        )
        self.submitter = iam.Role(
            self.stack, "Submitter", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        self.job.grant_submit(self.submitter, self.queue)
        self.template = Template.from_stack(self.stack)
        self.resources: dict[str, Any] = self.template.to_json()["Resources"]
        self.props = properties(self.resources, self.job.job_definition)


@pytest.fixture(scope="module")
def hpc() -> Hpc:
    return Hpc()


def test_multi_node_job_renders_its_node_ranges(hpc: Hpc) -> None:
    # GIVEN 8 nodes, the main node 0 running its own image and command
    nodes = hpc.props["NodeProperties"]
    ranges = nodes["NodeRangeProperties"]
    # THEN node 0 runs the coordinator, nodes 1 to 7 the job's container, all on c5n.18xlarge
    assert hpc.props["Type"] == "multinode"
    assert hpc.props["PlatformCapabilities"] == ["EC2"]
    assert (nodes["NumNodes"], nodes["MainNode"]) == (8, 0)
    assert [r["TargetNodes"] for r in ranges] == ["0:0", "1:7"]
    assert ranges[0]["Container"]["Image"].startswith("public.ecr.aws/docker/library/alpine")
    assert ranges[0]["Container"]["Command"] == ["coordinate"]
    assert "Command" not in ranges[1]["Container"]
    assert {r["Container"]["InstanceType"] for r in ranges} == {"c5n.18xlarge"}
    assert ranges[1]["Container"]["ResourceRequirements"] == [
        {"Type": "MEMORY", "Value": "184320"},
        {"Type": "VCPU", "Value": "72"},
    ]


def test_multi_node_job_with_efa_maps_the_device_on_every_node(hpc: Hpc) -> None:
    # GIVEN efa=True
    ranges = hpc.props["NodeProperties"]["NodeRangeProperties"]
    # THEN every node's container gets /dev/infiniband/uverbs0 (Batch's default permissions)
    for node_range in ranges:
        assert node_range["Container"]["LinuxParameters"]["Devices"] == [
            {"HostPath": EFA_DEVICE_PATH}
        ]


def test_multi_node_job_nodes_share_one_execution_role_and_a_scratch_volume(hpc: Hpc) -> None:
    # GIVEN two node ranges
    containers = [r["Container"] for r in hpc.props["NodeProperties"]["NodeRangeProperties"]]
    # THEN both use the job's one execution role and job role, and a writable /tmp
    assert len({str(c["ExecutionRoleArn"]) for c in containers}) == 1
    assert {str(c["JobRoleArn"]) for c in containers} == {
        str({"Fn::GetAtt": [logical_id(hpc.job.job_role), "Arn"]})
    }
    assert all(c["Volumes"] == [{"Name": "scratch"}] for c in containers)


def test_multi_node_job_grant_submit_allows_queue_and_all_revisions(hpc: Hpc) -> None:
    # GIVEN job.grant_submit(submitter, queue)
    policy = next(
        r["Properties"]
        for r in hpc.resources.values()
        if r["Type"] == "AWS::IAM::Policy"
        and r["Properties"]["Roles"] == [{"Ref": logical_id(hpc.submitter)}]
    )
    (statement,) = policy["PolicyDocument"]["Statement"]
    # THEN SubmitJob is allowed on the queue and on every revision of the definition
    assert statement["Action"] == "batch:SubmitJob"
    assert statement["Resource"][0] == {
        "Fn::GetAtt": [logical_id(hpc.queue.job_queue), "JobQueueArn"]
    }
    assert statement["Resource"][1]["Fn::Join"][1][-1] == ":*"


def test_multi_node_job_passes_cdk_nag(hpc: Hpc) -> None:
    # GIVEN the multi-node job, its queue and its submitter
    # THEN cdk-nag finds nothing unacknowledged
    assert nag_findings(hpc.stack) == []


def test_multi_node_ranges_added_later_are_checked_at_synth() -> None:
    # GIVEN a 2-node job and a range added with the escape hatch over node 1 again
    stack = Stack(make_app(), "Overlap")
    job = MultiNodeJob(
        stack, "Job", image=IMAGE, instance_type=ec2.InstanceType("c6i.large"), nodes=2
    )
    job.job_definition.add_container(start_node=1, end_node=1, container=job.containers["0:1"])
    # WHEN the stack is synthesized
    # THEN synth fails, naming the node covered twice
    with pytest.raises(Exception, match=r"must cover each of the 2 nodes once, got nodes \[1\]"):
        Template.from_stack(stack)
