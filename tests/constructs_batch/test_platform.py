"""BatchPlatform: the platform as a construct, and what it publishes for other apps."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import ContextProvider, Environment, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import cloud_assembly_schema as cxschema
from aws_cdk.assertions import Template
from helpers import make_app

from constructs_batch import BatchNetwork, BatchPlatform, BatchQueue, ContainerJob, QueueCapacity
from constructs_batch.testing import nag_findings

IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox:1.36")
ENV = Environment(account="111122223333", region="eu-west-1")


@pytest.fixture(scope="module")
def platform() -> BatchPlatform:
    stack = Stack(make_app(), "Shared", env=ENV)
    return BatchPlatform(stack, "Platform", export_prefix="Shared")


@pytest.fixture(scope="module")
def template(platform: BatchPlatform) -> dict[str, Any]:
    return Template.from_stack(Stack.of(platform)).to_json()


def _parameters(template: dict[str, Any]) -> dict[str, Any]:
    return {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SSM::Parameter"
    }


def test_platform_publishes_each_queue_arn_and_capacity(
    platform: BatchPlatform, template: dict[str, Any]
) -> None:
    # GIVEN a platform in stack Shared
    # WHEN the stack is synthesized
    parameters = _parameters(template)
    stack = Stack.of(platform)
    # THEN each queue has an ARN parameter and, beside it, its capacity as JSON
    for name, queue in platform.queues.items():
        arn_name = f"/constructs-batch/Shared/queues/{name}"
        assert platform.parameter_names[name] == arn_name
        assert parameters[arn_name] == stack.resolve(queue.job_queue.job_queue_arn)
        published = QueueCapacity.from_json(parameters[arn_name + "/capacity"])
        assert published == queue.capacity


def test_platform_publishes_outputs_with_exports(template: dict[str, Any]) -> None:
    # GIVEN export_prefix="Shared"
    # WHEN the stack is synthesized
    outputs = template["Outputs"]
    # THEN every ARN and capacity is an exported output
    assert sorted(o["Export"]["Name"] for o in outputs.values()) == sorted(
        f"Shared-{queue}Queue{kind}"
        for queue in ("HighPriority", "Default", "Fargate")
        for kind in ("Arn", "Capacity")
    )


def test_platform_queues_order_their_tiers(platform: BatchPlatform) -> None:
    # GIVEN the platform's three queues
    # THEN high priority prefers on-demand, default prefers Spot, Fargate prefers Fargate Spot
    assert platform.high_priority_queue.environments == (platform.on_demand, platform.spot)
    assert platform.high_priority_queue.priority == 100
    assert platform.default_queue.environments == (platform.spot, platform.on_demand)
    assert platform.fargate_queue.environments == (platform.fargate_spot, platform.fargate)


def test_platform_passes_cdk_nag(platform: BatchPlatform) -> None:
    # GIVEN the platform with its defaults
    # THEN cdk-nag's AwsSolutions pack finds nothing
    assert nag_findings(Stack.of(platform)) == []


def test_platform_uses_a_network_given_and_a_prefix() -> None:
    # GIVEN a network of the app's own and a parameter prefix
    stack = Stack(make_app(), "Own")
    network = BatchNetwork(stack, "Network")
    platform = BatchPlatform(stack, "Platform", network=network, parameter_prefix="/teams/data/")
    # WHEN the stack is synthesized
    parameters = _parameters(Template.from_stack(stack).to_json())
    # THEN the platform runs in that network and publishes under that prefix, without exports
    assert platform.network is network
    assert "/teams/data/queues/default/capacity" in parameters
    assert all("Export" not in o for o in Template.from_stack(stack).to_json()["Outputs"].values())


def test_platform_without_publishing_makes_no_parameters() -> None:
    # GIVEN publish=False
    stack = Stack(make_app(), "Quiet")
    platform = BatchPlatform(stack, "Platform", publish=False)
    # WHEN the stack is synthesized
    # THEN there is no parameter and no output
    Template.from_stack(stack).resource_count_is("AWS::SSM::Parameter", 0)
    assert platform.parameter_names == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"network_profile": "PUBLIC"},
            r"network_profile must be NetworkProfile \| None, got 'PUBLIC'",
        ),
        ({"spot_max_vcpus": 0}, "spot_max_vcpus must be at least 1, got 0"),
        ({"parameter_prefix": "teams"}, "parameter_prefix must start with '/', got 'teams'"),
    ],
)
def test_platform_refuses_invalid_arguments(kwargs: dict[str, Any], message: str) -> None:
    # GIVEN an invalid argument
    # WHEN the platform is built
    # THEN a ValueError names it
    with pytest.raises(ValueError, match=message):
        BatchPlatform(Stack(make_app(), "Bad"), "Platform", **kwargs)


def test_platform_refuses_network_with_new_network_settings() -> None:
    # GIVEN a network and a profile for a new one
    stack = Stack(make_app(), "Both")
    network = BatchNetwork(stack, "Network")
    # WHEN the platform is built
    # THEN the conflict is named
    with pytest.raises(ValueError, match="network cannot be combined with network_profile"):
        BatchPlatform(stack, "Platform", network=network, max_azs=3)


def test_consumer_app_looks_up_the_published_queue_and_is_checked(
    platform: BatchPlatform, template: dict[str, Any]
) -> None:
    # GIVEN another app whose cdk.context.json holds what the platform published (the
    # values the CDK CLI's lookup would read from the two SSM parameters)
    parameters = _parameters(template)
    name = platform.parameter_names["fargate"]
    probe = Stack(make_app(), "Consumer", env=ENV)

    def key(parameter: str) -> str:
        return ContextProvider.get_key(
            probe,
            provider=cxschema.ContextProvider.SSM_PARAMETER_PROVIDER.value,
            props={"parameterName": parameter},
        ).key

    arn = "arn:aws:batch:eu-west-1:111122223333:job-queue/FargateQueue-abc"
    consumer = Stack(
        make_app(**{key(name): arn, key(name + "/capacity"): parameters[name + "/capacity"]}),
        "Consumer",
        env=ENV,
    )
    # WHEN the consumer looks the queue up and defines jobs for it
    queue = BatchQueue.from_lookup(consumer, "Shared", parameter_name=name)
    job = ContainerJob(consumer, "Report", image=IMAGE, queue=queue)
    # THEN the job takes the queue's platform and public IP need, and an oversized
    # Fargate job fails at synth as it would on the platform's own queue
    assert (job.fargate, job.assign_public_ip) == (True, True)
    with pytest.raises(ValueError, match=r"vcpus on Fargate must be one of .*got 32"):
        ContainerJob(consumer, "Huge", image=IMAGE, queue=queue, vcpus=32)
