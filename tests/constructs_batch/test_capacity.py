"""QueueCapacity, and the queues users bring: imported, looked up, plain aws-cdk-lib ones."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import ContextProvider, Environment, Size, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import cloud_assembly_schema as cxschema
from aws_cdk.assertions import Template
from helpers import make_app

from constructs_batch import CsvToDynamoDbPipeline, limits
from constructs_batch.capacity import QueueCapacity
from constructs_batch.compute import Ec2Compute, FargateCompute, UnmanagedCompute
from constructs_batch.job import ContainerJob
from constructs_batch.network import BatchNetwork
from constructs_batch.queue import CAPACITY_PARAMETER_SUFFIX, BatchQueue

IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox:1.36")
ENV = Environment(account="111122223333", region="eu-west-1")
QUEUE_ARN = "arn:aws:batch:eu-west-1:111122223333:job-queue/shared-default"
PARAMETER = "/constructs-batch/BatchPlatform/queues/default"
EC2_16 = QueueCapacity(fargate=False, vcpus=16, memory_mib=30_000, gpus=0)


# --- QueueCapacity ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "capacity",
    [
        EC2_16,
        QueueCapacity(fargate=True, vcpus=4, memory_mib=30720, gpus=0, assign_public_ip=True),
        QueueCapacity(fargate=False, architecture="arm64", vcpus=0.5, memory_mib=None, gpus=4),
        QueueCapacity(fargate=False, architecture=None, vcpus=None, memory_mib=None, gpus=None),
        QueueCapacity(fargate=False, multi_node_instance_types=("c5n", "default_x86_64")),
    ],
    ids=["ec2", "fargate-public", "arm64-partly-unknown", "unknown", "multi-node"],
)
def test_capacity_round_trips_through_json(capacity: QueueCapacity) -> None:
    # GIVEN a capacity
    # WHEN it is written as JSON and read back
    text = capacity.to_json()
    # THEN the same value comes back, and the JSON is an object of the field names
    assert QueueCapacity.from_json(text) == capacity
    assert set(json.loads(text)) == {
        "fargate",
        "architecture",
        "vcpus",
        "memory_mib",
        "gpus",
        "assign_public_ip",
        "multi_node_instance_types",
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"fargate": "yes"}, "fargate must be a bool, got 'yes'"),
        ({"architecture": "x86"}, "architecture must be one of x86_64, arm64 or None, got 'x86'"),
        ({"vcpus": 0}, "vcpus must be greater than 0, got 0"),
        ({"vcpus": "4"}, "vcpus must be a number or None, got '4'"),
        ({"memory_mib": 3}, "memory_mib must be at least 4, got 3"),
        ({"memory_mib": 2048.5}, r"memory_mib must be a whole number or None, got 2048.5"),
        ({"gpus": -1}, "gpus must be at least 0, got -1"),
        ({"gpus": True}, "gpus must be a whole number or None, got True"),
        ({"fargate": True, "gpus": 1}, r"gpus must be 0 on Fargate \(GPUs are EC2 only\), got 1"),
    ],
)
def test_capacity_refuses_invalid_fields(fields: dict[str, Any], message: str) -> None:
    # GIVEN a capacity field with a wrong type or value
    arguments = {"fargate": False, **fields}
    # WHEN the capacity is made
    # THEN a ValueError names the field, the value and what is allowed
    with pytest.raises(ValueError, match=message):
        QueueCapacity(**arguments)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "capacity JSON must be a JSON object, got 'not json'"),
        ("[1]", r"capacity JSON must be a JSON object, got '\[1\]'"),
        ('{"fargate": false, "cpu": 4}', r"capacity JSON has unknown keys \['cpu'\]"),
        ('{"vcpus": 4}', "capacity JSON must have the key 'fargate'"),
    ],
)
def test_capacity_from_json_names_what_is_wrong(text: str, message: str) -> None:
    # GIVEN JSON that is not a capacity
    # WHEN it is read
    # THEN the ValueError says what is wrong
    with pytest.raises(ValueError, match=message):
        QueueCapacity.from_json(text)


def test_capacity_placement_errors_name_the_limit() -> None:
    # GIVEN a 16 vCPU / 30,000 MiB EC2 capacity without GPUs
    # WHEN a job too large in every dimension is checked
    errors = EC2_16.placement_errors(
        vcpus=32, memory_mib=40_000, gpus=1, fargate=False, where="queue Shared"
    )
    # THEN each dimension is reported with the capacity
    described = "EC2, x86_64, 16 vCPU, 30000 MiB, 0 GPU"
    assert errors == [
        f"vcpus must be at most 16 to run on queue Shared (its capacity: {described}), got 32",
        f"memory must be at most 30000 MiB to run on queue Shared (its capacity: {described}), "
        "got 40000 MiB",
        f"gpus must be 0 on queue Shared: it has no GPU (its capacity: {described}), got 1",
    ]


def test_capacity_placement_skips_unknown_dimensions() -> None:
    # GIVEN a capacity whose vCPUs, memory and GPUs are unknown
    unknown = QueueCapacity(fargate=False, architecture=None, gpus=None)
    # WHEN a very large job is checked
    # THEN nothing is reported: the library never refuses what AWS might accept
    assert (
        unknown.placement_errors(
            vcpus=512, memory_mib=4_000_000, gpus=8, fargate=False, where="queue X"
        )
        == []
    )


# --- capacities derived by BatchQueue ----------------------------------------------------
class Local:
    """One stack of local queues over this library's and aws-cdk-lib's environments."""

    def __init__(self) -> None:
        self.stack = Stack(make_app(), "CapacityStack")
        network = BatchNetwork(self.stack, "Network")
        self.vpc = network.vpc
        self.spot = Ec2Compute(self.stack, "Spot", network=network, spot=True)
        self.c6i = Ec2Compute(
            self.stack,
            "C6i",
            network=network,
            max_vcpus=64,
            instance_types=[ec2.InstanceType("c6i.4xlarge")],
        )
        self.ec2_queue = BatchQueue(self.stack, "Ec2Queue", environments=[self.spot, self.c6i])
        self.small_fargate = BatchQueue(
            self.stack,
            "SmallFargate",
            environments=[FargateCompute(self.stack, "Fargate8", network=network, max_vcpus=8)],
        )
        self.unmanaged = BatchQueue(
            self.stack,
            "Unmanaged",
            environments=[UnmanagedCompute(self.stack, "Manual", unmanaged_vcpus=4)],
        )
        # aws-cdk-lib L2 environments, as a team would write them by hand.
        self.l2_ec2 = batch.ManagedEc2EcsComputeEnvironment(
            self.stack,
            "L2Ec2",
            vpc=self.vpc,
            instance_types=[ec2.InstanceType("m6i.2xlarge")],
            maxv_cpus=32,
            spot=True,
        )
        self.l2_fargate = batch.FargateComputeEnvironment(
            self.stack, "L2Fargate", vpc=self.vpc, maxv_cpus=16
        )
        self.l2_ec2_queue = BatchQueue(self.stack, "L2Ec2Queue", environments=[self.l2_ec2])
        self.l2_fargate_queue = BatchQueue(
            self.stack, "L2FargateQueue", environments=[self.l2_fargate]
        )
        self.l2_job_queue = batch.JobQueue(
            self.stack,
            "PlainJobQueue",
            compute_environments=[
                batch.OrderedComputeEnvironment(compute_environment=self.l2_fargate, order=1)
            ],
        )


@pytest.fixture(scope="module")
def local() -> Local:
    return Local()


def test_queue_capacity_of_ec2_environments_is_their_largest_instance(local: Local) -> None:
    # GIVEN a queue of Spot (Batch's default types) and on-demand c6i.4xlarge environments
    # WHEN its capacity is read
    capacity = local.ec2_queue.capacity
    # THEN it is the largest of every dimension over both, vCPUs capped by max_vcpus
    default = limits.instance_class_capacity("default_x86_64")
    assert default is not None
    assert capacity == QueueCapacity(
        fargate=False,
        architecture="x86_64",
        vcpus=default.vcpus,
        memory_mib=default.memory_mib,
        gpus=0,
        # public subnets without NAT: multi-node nodes (no public IP) could not pull images
        multi_node_instance_types=(),
    )


def test_queue_capacity_of_fargate_is_its_largest_size_under_max_vcpus(local: Local) -> None:
    # GIVEN a Fargate queue whose environment has max_vcpus=8 in a public network
    # WHEN its capacity is read
    # THEN it is Fargate's 8 vCPU size with its most memory, and jobs need a public IP
    assert local.small_fargate.capacity == QueueCapacity(
        fargate=True,
        vcpus=8,
        memory_mib=61440,
        gpus=0,
        assign_public_ip=True,
        multi_node_instance_types=(),
    )


def test_queue_capacity_of_unmanaged_environment_is_unknown(local: Local) -> None:
    # GIVEN an unmanaged environment (no instances the library knows)
    # WHEN the queue's capacity is read
    # THEN vCPUs, memory, GPUs and architecture are unknown (None), not guessed
    assert local.unmanaged.capacity == QueueCapacity(
        fargate=False,
        architecture=None,
        vcpus=None,
        memory_mib=None,
        gpus=None,
        multi_node_instance_types=(),
    )


def test_queue_accepts_plain_l2_environments_and_derives_capacity(local: Local) -> None:
    # GIVEN aws-cdk-lib's own ManagedEc2EcsComputeEnvironment (m6i.2xlarge, max_vcpus 32,
    # and the optimal or default types the L2 may add without saying so) and
    # FargateComputeEnvironment
    # WHEN queues are built over them
    # THEN their capacities come from the L2s' properties, never smaller than AWS's
    implicit = [limits.instance_class_capacity(n) for n in ("optimal", "default_x86_64")]
    ec2_capacity = local.l2_ec2_queue.capacity
    assert (ec2_capacity.fargate, ec2_capacity.vcpus, ec2_capacity.gpus) == (False, 32, 0)
    assert ec2_capacity.memory_mib == max(c.memory_mib for c in implicit if c is not None)
    assert ec2_capacity.architecture == "x86_64"
    assert local.l2_ec2_queue.environments[0].spot is True
    assert local.l2_fargate_queue.capacity == QueueCapacity(
        fargate=True, vcpus=16, memory_mib=122880, gpus=0, multi_node_instance_types=()
    )


def test_queue_over_plain_l2_checks_placement(local: Local) -> None:
    # GIVEN the queue over the L2 EC2 environment (max_vcpus 32)
    # WHEN a 48 vCPU job is meant for it
    # THEN it fails at synth like a job on a library queue
    with pytest.raises(ValueError, match="vcpus must be at most 32 to run on queue L2Ec2Queue"):
        ContainerJob(local.stack, "TooWide", image=IMAGE, queue=local.l2_ec2_queue, vcpus=48)


def test_queue_refuses_imported_environment_naming_the_way_out(local: Local) -> None:
    # GIVEN a compute environment imported by ARN: nothing about it is known at synth
    imported = batch.FargateComputeEnvironment.from_fargate_compute_environment_arn(
        local.stack,
        "ImportedEnv",
        "arn:aws:batch:us-east-1:111122223333:compute-environment/theirs",
    )
    # WHEN a queue is built over it without a capacity
    # THEN the error names the environment and the capacity argument that fixes it
    with pytest.raises(
        ValueError,
        match=r"environments\[0\] \(ImportedEnv\) is a compute "
        r"environment whose capacity cannot be known at synth.*pass capacity=",
    ):
        BatchQueue(local.stack, "OverImported", environments=[imported])


def test_queue_over_imported_environment_uses_the_capacity_given(local: Local) -> None:
    # GIVEN a compute environment imported by ARN and the capacity its owner promises
    imported = batch.FargateComputeEnvironment.from_fargate_compute_environment_arn(
        local.stack,
        "ImportedFargate",
        "arn:aws:batch:us-east-1:111122223333:compute-environment/fargate",
    )
    capacity = QueueCapacity(fargate=True, vcpus=2, memory_mib=16384, assign_public_ip=True)
    # WHEN a queue is built over it with that capacity
    queue = BatchQueue(local.stack, "WithCapacity", environments=[imported], capacity=capacity)
    # THEN the queue has it, and jobs are checked against it
    assert (queue.capacity, queue.fargate, queue.assign_public_ip) == (capacity, True, True)
    assert queue.placement_errors(vcpus=4, memory_mib=8192, gpus=0, fargate=True) == [
        "vcpus must be at most 2 to run on queue WithCapacity (its capacity: Fargate, x86_64, "
        "2 vCPU, 16384 MiB, 0 GPU), got 4"
    ]


def test_queue_capacity_must_match_the_environments_platform(local: Local) -> None:
    # GIVEN EC2 environments and a Fargate capacity
    # WHEN the queue is built
    # THEN the mismatch is refused
    with pytest.raises(ValueError, match=r"capacity\.fargate must match the environments"):
        BatchQueue(
            local.stack,
            "Mismatch",
            environments=[local.spot],
            capacity=QueueCapacity(fargate=True, vcpus=1, memory_mib=2048),
        )


def test_job_accepts_plain_job_queue_whose_environments_tell_capacity(local: Local) -> None:
    # GIVEN an aws-cdk-lib batch.JobQueue over an L2 Fargate environment
    # WHEN a Fargate job is meant for it, and another too large for Fargate
    job = ContainerJob(local.stack, "OnPlainQueue", image=IMAGE, queue=local.l2_job_queue)
    # THEN the first takes the queue's platform, the second fails naming the queue
    assert job.fargate is True
    with pytest.raises(ValueError, match=r"\(queue PlainJobQueue\)"):
        ContainerJob(local.stack, "HugeOnPlain", image=IMAGE, queue=local.l2_job_queue, vcpus=32)


def test_job_refuses_imported_job_queue_without_capacity(local: Local) -> None:
    # GIVEN a queue imported with aws-cdk-lib's JobQueue.from_job_queue_arn
    imported = batch.JobQueue.from_job_queue_arn(local.stack, "Theirs", QUEUE_ARN)
    # WHEN a job is meant for it
    # THEN the error names the argument and the way out
    with pytest.raises(
        ValueError,
        match=r"queue must be a queue whose capacity is known, got Theirs .*"
        r"BatchQueue.from_job_queue_arn\(scope, id, arn, capacity=QueueCapacity",
    ):
        ContainerJob(local.stack, "OnTheirs", image=IMAGE, queue=imported)


# --- BatchQueue.from_job_queue_arn --------------------------------------------------------
@dataclass
class Imported:
    stack: Stack
    queue: Any
    submitter: iam.Role


@pytest.fixture(scope="module")
def imported() -> Imported:
    stack = Stack(make_app(), "ConsumerStack")
    queue = BatchQueue.from_job_queue_arn(stack, "Shared", QUEUE_ARN, capacity=EC2_16)
    submitter = iam.Role(
        stack, "Submitter", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    return Imported(stack, queue, submitter)


def test_imported_queue_is_checked_like_a_local_one(imported: Imported) -> None:
    # GIVEN a queue imported by ARN with a 16 vCPU capacity
    # WHEN a 32 vCPU job is meant for it
    # THEN it fails at synth, naming the queue and its capacity
    with pytest.raises(
        ValueError,
        match=r"vcpus must be at most 16 to run on queue Shared \(its "
        r"capacity: EC2, x86_64, 16 vCPU, 30000 MiB, 0 GPU\), got 32",
    ):
        ContainerJob(imported.stack, "TooBig", image=IMAGE, queue=imported.queue, vcpus=32)


def test_imported_queue_decides_platform_and_grants_submit_on_its_arn(
    imported: Imported,
) -> None:
    # GIVEN a job that fits the imported EC2 queue
    job = ContainerJob(
        imported.stack, "Fits", image=IMAGE, queue=imported.queue, memory=Size.gibibytes(8)
    )
    # WHEN submission is granted
    job.grant_submit(imported.submitter, imported.queue)
    # THEN the job is an EC2 job and SubmitJob is granted on that queue's ARN
    assert job.fargate is False
    statements = Template.from_stack(imported.stack).find_resources("AWS::IAM::Policy")
    resources = [
        s["Resource"]
        for policy in statements.values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(QUEUE_ARN in r for r in resources)


def test_imported_queue_refuses_a_fargate_job(imported: Imported) -> None:
    # GIVEN the imported EC2 queue
    job = ContainerJob(imported.stack, "FargateJob", image=IMAGE, fargate=True)
    # WHEN a Fargate job is granted submission to it
    # THEN the platform mismatch fails
    with pytest.raises(ValueError, match="fargate must be False to run on queue Shared"):
        job.grant_submit(imported.submitter, imported.queue)


def test_imported_queue_refuses_an_arn_that_is_not_a_queue(imported: Imported) -> None:
    # GIVEN the ARN of a job definition
    # WHEN it is imported as a queue
    # THEN the error shows the ARN format
    with pytest.raises(ValueError, match="job_queue_arn must be arn:<partition>:batch:"):
        BatchQueue.from_job_queue_arn(
            imported.stack,
            "NotAQueue",
            "arn:aws:batch:eu-west-1:111122223333:job-definition/x:1",
            capacity=EC2_16,
        )


# --- BatchQueue.from_lookup ---------------------------------------------------------------
def _lookup_key(stack: Stack, name: str) -> str:
    return ContextProvider.get_key(
        stack,
        provider=cxschema.ContextProvider.SSM_PARAMETER_PROVIDER.value,
        props={"parameterName": name},
    ).key


def _consumer(context: dict[str, str] | None = None) -> Stack:
    app = make_app(**(context or {}))
    return Stack(app, "Consumer", env=ENV)


def _filled_context(capacity: QueueCapacity) -> dict[str, str]:
    probe = _consumer()
    return {
        _lookup_key(probe, PARAMETER): QUEUE_ARN,
        _lookup_key(probe, PARAMETER + CAPACITY_PARAMETER_SUFFIX): capacity.to_json(),
    }


def test_lookup_reads_arn_and_capacity_from_context() -> None:
    # GIVEN cdk.context.json already holding the published ARN and capacity
    stack = _consumer(_filled_context(EC2_16))
    # WHEN the queue is looked up
    queue = BatchQueue.from_lookup(stack, "Shared", parameter_name=PARAMETER)
    # THEN it has that ARN and capacity, and nothing is pending
    assert stack.resolve(queue.job_queue.job_queue_arn) == QUEUE_ARN
    assert (queue.capacity, queue.lookup_pending) == (EC2_16, False)


def test_lookup_checks_placement_with_the_looked_up_capacity() -> None:
    # GIVEN a looked-up 16 vCPU queue
    stack = _consumer(_filled_context(EC2_16))
    queue = BatchQueue.from_lookup(stack, "Shared", parameter_name=PARAMETER)
    # WHEN a 64 vCPU job is meant for it
    # THEN it fails at synth
    with pytest.raises(ValueError, match="vcpus must be at most 16 to run on queue Shared"):
        ContainerJob(stack, "Big", image=IMAGE, queue=queue, vcpus=64)


def test_lookup_first_pass_neither_fails_nor_passes_checks() -> None:
    # GIVEN no cached context (the CDK CLI's first pass)
    stack = _consumer()
    # WHEN the queue is looked up, and a Fargate job (its platform taken from the queue,
    # not known yet) and a job that would fit no queue are meant for it
    queue = BatchQueue.from_lookup(stack, "Shared", parameter_name=PARAMETER)
    ContainerJob(stack, "OnFargate", image=IMAGE, queue=queue, assign_public_ip=True)
    ContainerJob(stack, "Huge", image=IMAGE, queue=queue, vcpus=4096, fargate=False)
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    # THEN the synth does not fail, both lookups are reported missing (so the CLI fills
    # them and synthesizes again, where the check runs), and the deferral is recorded
    manifest = json.loads((Path(assembly.directory) / "manifest.json").read_text())
    assert {m["key"] for m in manifest["missing"]} == {
        _lookup_key(stack, PARAMETER),
        _lookup_key(stack, PARAMETER + CAPACITY_PARAMETER_SUFFIX),
    }
    assert queue.lookup_pending is True
    metadata_file = manifest["artifacts"]["Consumer"]["additionalMetadataFile"]
    metadata = json.loads((Path(assembly.directory) / metadata_file).read_text())
    infos = [
        str(entry["data"])
        for entries in metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:info"
    ]
    assert any("placement checks run on the next synth pass" in i for i in infos)
    assert any(
        "checks deferred until the queue lookup completes: assign_public_ip" in i for i in infos
    )


def test_lookup_needs_an_environment() -> None:
    # GIVEN an environment-agnostic stack
    stack = Stack(make_app(), "Agnostic")
    # WHEN a queue is looked up
    # THEN the error says what to give the stack, or how else to import
    with pytest.raises(
        ValueError,
        match=r"needs a stack with an explicit account and Region.*"
        r"env=Environment\(account=..., region=...\)",
    ):
        BatchQueue.from_lookup(stack, "Shared", parameter_name=PARAMETER)


def test_lookup_refuses_a_parameter_that_is_not_a_capacity() -> None:
    # GIVEN a capacity parameter holding something else
    context = _filled_context(EC2_16)
    probe = _consumer()
    context[_lookup_key(probe, PARAMETER + CAPACITY_PARAMETER_SUFFIX)] = '{"cpus": 4}'
    stack = _consumer(context)
    # WHEN the queue is looked up
    # THEN the error names the parameter
    with pytest.raises(
        ValueError,
        match=r"parameter '/constructs-batch/BatchPlatform/queues/"
        r"default/capacity' must hold a queue capacity",
    ):
        BatchQueue.from_lookup(stack, "Shared", parameter_name=PARAMETER)


# --- fair share and argument types -------------------------------------------------------
def test_fair_share_weights_build_the_policy(local: Local) -> None:
    # GIVEN fair_share={"teamA": 1, "teamB": 3}
    queue = BatchQueue(
        local.stack, "Weighted", environments=[local.spot], fair_share={"teamA": 1, "teamB": 3}
    )
    # WHEN the stack is synthesized
    policy = queue.node.find_child("FairSharePolicy").node.default_child
    props = local.stack.resolve(policy.fairshare_policy)  # type: ignore[union-attr]
    # THEN the policy lists each share with its weight factor and the default decay
    assert props["shareDistribution"] == [
        {"shareIdentifier": "teamA", "weightFactor": 1},
        {"shareIdentifier": "teamB", "weightFactor": 3},
    ]
    assert props["shareDecaySeconds"] == 3600


@pytest.mark.parametrize(
    ("fair_share", "message"),
    [
        ({"team-a": 1}, r"share identifiers must be 1 to 255 letters and digits.*got 'team-a'"),
        (
            {"teamA": 0},
            r"fair_share\['teamA'\] must be a weight factor between 0.0001 and "
            r"999.9999, got 0",
        ),
        ({"teamA": 1000}, r"fair_share\['teamA'\] must be a weight factor"),
        ({"team*": 1, "teamB": 2}, r"must not overlap .*got team\* and teamB"),
        ({"teamA": "1"}, r"fair_share\['teamA'\] must be float, got '1' \(str\)"),
        ({1: 1.0}, r"fair_share keys must be str, got 1 \(int\)"),
        ("teamA", r"fair_share must be bool \| Mapping\[str, float\]"),
    ],
)
def test_fair_share_refuses_invalid_shares(local: Local, fair_share: Any, message: str) -> None:
    # GIVEN invalid share identifiers or weights
    # WHEN the queue is built
    # THEN a ValueError names fair_share, the bad value and what is allowed
    with pytest.raises(ValueError, match=message):
        BatchQueue(local.stack, "BadShares", environments=[local.spot], fair_share=fair_share)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda s: BatchQueue(s.stack, "Q", environments=[s.spot], priority="high"),
            r"priority must be int, got 'high' \(str\)",
        ),
        (
            lambda s: BatchQueue(s.stack, "Q", environments=s.spot),
            r"environments must be Sequence\[BatchCompute \| batch.IComputeEnvironment\], got",
        ),
        (
            lambda s: BatchQueue(s.stack, "Q", environments=[s.spot, "OnDemand"]),
            r"environments\[1\] must be BatchCompute or IComputeEnvironment, got 'OnDemand'",
        ),
        (
            lambda s: ContainerJob(s.stack, "J", image=IMAGE, vcpus="2"),
            r"vcpus must be float, got '2' \(str\)",
        ),
        (
            lambda s: ContainerJob(s.stack, "J", image=IMAGE, memory=2048),
            r"memory must be Size, got 2048 \(int\)",
        ),
        (
            lambda s: ContainerJob(s.stack, "J", image="busybox"),
            r"image must be ecs.ContainerImage, got 'busybox' \(str\)",
        ),
        (
            lambda s: Ec2Compute(s.stack, "E", network=s.vpc),
            r"network must be BatchNetwork, got",
        ),
        (
            lambda s: BatchNetwork(s.stack, "N", max_azs="3"),
            r"max_azs must be int \| None, got '3' \(str\)",
        ),
    ],
)
def test_type_mistakes_are_value_errors_naming_the_argument(
    local: Local, build: Any, message: str
) -> None:
    # GIVEN an argument of the wrong type
    # WHEN the construct is built
    # THEN a ValueError names the argument (not a jsii serialization error)
    with pytest.raises(ValueError, match=message):
        build(local)


def test_pipeline_runs_on_an_imported_queue_with_the_same_checks() -> None:
    # GIVEN an imported Fargate queue whose capacity is 1 vCPU / 8 GiB
    stack = Stack(make_app(), "PipelineOnImported")
    small = QueueCapacity(fargate=True, vcpus=1, memory_mib=8192, assign_public_ip=True)
    queue = BatchQueue.from_job_queue_arn(stack, "Shared", QUEUE_ARN, capacity=small)
    # WHEN the pipeline runs its loader there, and another pipeline asks for 2 vCPUs
    pipeline = CsvToDynamoDbPipeline(stack, "Pipeline", queue=queue)
    # THEN the loader takes the queue's platform and public IP, submits to its ARN, and
    # the oversized loader fails at synth naming the queue
    assert (pipeline.loader.fargate, pipeline.loader.assign_public_ip) == (True, True)
    assert stack.resolve(pipeline.batch_queue.job_queue.job_queue_arn) == QUEUE_ARN
    with pytest.raises(ValueError, match=r"vcpus must be at most 1 to run on queue Shared"):
        CsvToDynamoDbPipeline(
            stack, "Bigger", queue=queue, loader_vcpus=2, loader_memory=Size.gibibytes(4)
        )
