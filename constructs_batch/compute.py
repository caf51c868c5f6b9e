"""Compute environments for AWS Batch: Fargate, EC2 (on-demand or Spot) and unmanaged."""

from __future__ import annotations

from aws_cdk import aws_batch as batch
from constructs import Construct

from constructs_batch.limits import InstanceCapacity

__all__ = ["BatchCompute"]


class BatchCompute(Construct):
    """What every compute construct tells the queues and jobs that use it.

    Attributes:
        compute_environment: the underlying L2 (the escape hatch).
        fargate: True for Fargate and Fargate Spot environments.
        spot: True when capacity is Spot (EC2 Spot or Fargate Spot).
        architecture: ``"x86_64"`` or ``"arm64"``; None when it cannot be known at synth.
        max_vcpus: the environment's maximum vCPUs; None when unknown (unmanaged).
        assign_public_ip: whether Fargate jobs placed here need a public IP to reach
            ECR and the internet (public subnets without NAT).
    """

    compute_environment: batch.IComputeEnvironment
    fargate: bool
    spot: bool
    architecture: str | None
    max_vcpus: int | None
    assign_public_ip: bool

    def largest_instance(self) -> InstanceCapacity | None:
        """The largest instance this environment can launch; None for Fargate or when unknown.

        A job is placeable only if it fits this instance (and ``max_vcpus``).
        """
        return None
