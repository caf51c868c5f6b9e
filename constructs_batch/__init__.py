"""AWS CDK constructs for AWS Batch: validated at synth, secure and cheap by default.

Every public construct, enum and value object is importable from here::

    from constructs_batch import BatchNetwork, BatchQueue, ContainerJob, QueueCapacity

The submodules (``constructs_batch.queue``, ``constructs_batch.job``, ...) hold the
same names plus their defaults as constants; ``constructs_batch.testing`` holds the
helpers for snapshot and cdk-nag tests of your own stacks.
"""

from constructs_batch.capacity import QueueCapacity, architecture_name
from constructs_batch.compute import (
    BatchCompute,
    Ec2Compute,
    FargateCompute,
    PlainCompute,
    UnmanagedCompute,
    as_batch_compute,
    secure_launch_template,
)
from constructs_batch.cost import FixedCost, estimate_fixed_monthly_cost
from constructs_batch.job import BatchJob, ContainerJob, SecretSource, Sidecar, retry_strategies
from constructs_batch.limits import InstanceCapacity
from constructs_batch.multinode import MultiNodeJob, NodeRange
from constructs_batch.network import BatchNetwork, NetworkProfile
from constructs_batch.pipeline import CsvToDynamoDbPipeline
from constructs_batch.platform import BatchPlatform
from constructs_batch.queue import BatchQueue, IBatchQueue, as_batch_queue
from constructs_batch.volumes import (
    allow_nfs_from,
    efs_volume,
    grant_volume_access,
    secure_volume,
    volume_errors,
)
from constructs_batch.workflow import JobSchedule, JobWorkflow, SubmittableJob, schedule_errors

__all__ = [
    "BatchCompute",
    "BatchJob",
    "BatchNetwork",
    "BatchPlatform",
    "BatchQueue",
    "ContainerJob",
    "CsvToDynamoDbPipeline",
    "Ec2Compute",
    "FargateCompute",
    "FixedCost",
    "IBatchQueue",
    "InstanceCapacity",
    "JobSchedule",
    "JobWorkflow",
    "MultiNodeJob",
    "NetworkProfile",
    "NodeRange",
    "PlainCompute",
    "QueueCapacity",
    "SecretSource",
    "Sidecar",
    "SubmittableJob",
    "UnmanagedCompute",
    "allow_nfs_from",
    "architecture_name",
    "as_batch_compute",
    "as_batch_queue",
    "efs_volume",
    "estimate_fixed_monthly_cost",
    "grant_volume_access",
    "retry_strategies",
    "schedule_errors",
    "secure_launch_template",
    "secure_volume",
    "volume_errors",
]
