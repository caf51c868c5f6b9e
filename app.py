#!/usr/bin/env python3
"""The reference app: the Batch platform and the CSV pipeline on its Fargate queue.

Environment-agnostic (no account or Region), so it synthesizes with no credentials.
Context (cdk.json or ``-c``):
    constructs_batch:network_profile   PUBLIC (default, $0 idle) | PRIVATE_NAT | ISOLATED
    constructs_batch:max_azs           Availability Zones of the VPC (default 2)
    constructs_batch:pipeline_standalone  true: the pipeline builds its own queue
    constructs_batch:destroy_data      true: buckets and tables are deleted with the stack
cdk-nag's AwsSolutions pack runs as a validation plugin: a finding fails synth.
"""

from __future__ import annotations

from aws_cdk import App, RemovalPolicy, Validations
from cdk_nag import AwsSolutionsChecks

from constructs_batch.network import NetworkProfile
from stacks.pipeline_stack import CsvPipelineStack
from stacks.platform_stack import BatchPlatformStack

CONTEXT_PREFIX = "constructs_batch:"


def _flag(app: App, name: str) -> bool:
    return str(app.node.try_get_context(CONTEXT_PREFIX + name)).lower() == "true"


def build(app: App) -> tuple[BatchPlatformStack | None, CsvPipelineStack]:
    """Add the reference stacks to an app, as the context says."""
    removal = RemovalPolicy.DESTROY if _flag(app, "destroy_data") else RemovalPolicy.RETAIN
    if _flag(app, "pipeline_standalone"):
        return None, CsvPipelineStack(app, "CsvPipeline", removal_policy=removal)
    profile_name = app.node.try_get_context(CONTEXT_PREFIX + "network_profile") or "PUBLIC"
    try:
        profile = NetworkProfile[str(profile_name).upper()]
    except KeyError:
        allowed = ", ".join(p.name for p in NetworkProfile)
        raise ValueError(
            f"context {CONTEXT_PREFIX}network_profile must be one of {allowed}, got {profile_name!r}"
        ) from None
    max_azs = int(app.node.try_get_context(CONTEXT_PREFIX + "max_azs") or 2)
    platform = BatchPlatformStack(app, "BatchPlatform", network_profile=profile, max_azs=max_azs)
    pipeline = CsvPipelineStack(
        app, "CsvPipeline", queue=platform.fargate_queue, removal_policy=removal
    )
    return platform, pipeline


if __name__ == "__main__":
    reference_app = App()
    build(reference_app)
    Validations.of(reference_app).add_plugins(AwsSolutionsChecks(reference_app))
    reference_app.synth()
