"""BatchPlatform: a shared AWS Batch platform (network, compute tiers, queues) that publishes
its queues for other stacks and apps.

Other apps import a published queue with ``BatchQueue.from_lookup(scope, id,
parameter_name=platform.parameter_names["default"])`` (its ARN and capacity, read by
CDK context lookup) and submit to it with every placement check of a local queue.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from constructs_batch._arguments import checked_arguments
from constructs_batch.compute import Ec2Compute, FargateCompute
from constructs_batch.limits import check_at_least, raise_if_errors
from constructs_batch.network import DEFAULT_MAX_AZS, DEFAULT_PROFILE, BatchNetwork, NetworkProfile
from constructs_batch.queue import CAPACITY_PARAMETER_SUFFIX, BatchQueue

__all__ = [
    "DEFAULT_FARGATE_MAX_VCPUS",
    "DEFAULT_ON_DEMAND_MAX_VCPUS",
    "DEFAULT_SPOT_MAX_VCPUS",
    "PARAMETER_ROOT",
    "BatchPlatform",
]

#: Published parameters live under ``/constructs-batch/<stack name>/`` by default.
PARAMETER_ROOT = "/constructs-batch"
#: vCPU ceilings of the compute tiers: Spot carries the bulk, on-demand and Fargate
#: are the smaller, steadier tiers. Nothing runs, nothing is billed, while idle.
DEFAULT_SPOT_MAX_VCPUS = 256
DEFAULT_ON_DEMAND_MAX_VCPUS = 64
DEFAULT_FARGATE_MAX_VCPUS = 64
#: Priority of the on-demand-first queue; the others keep the queue default (10).
HIGH_PRIORITY = 100

#: Published name of each queue -> (construct id of its ARN output, its path).
_PUBLISHED = {
    "high-priority": ("HighPriorityQueueArn", "queues/high-priority"),
    "default": ("DefaultQueueArn", "queues/default"),
    "fargate": ("FargateQueueArn", "queues/fargate"),
}


class BatchPlatform(Construct):
    """A network, EC2 Spot and on-demand and Fargate (Spot) compute, and three queues.

    - ``high_priority_queue``: on-demand first, Spot fallback, priority 100;
    - ``default_queue``: Spot first, on-demand fallback;
    - ``fargate_queue``: Fargate Spot first, Fargate fallback.

    Each queue's ARN and capacity (:class:`~constructs_batch.capacity.QueueCapacity`
    as JSON) are published as SSM parameters, ``<prefix>/queues/<name>`` and
    ``<prefix>/queues/<name>/capacity``, and as stack outputs, so that other apps can
    import the queue with ``BatchQueue.from_lookup`` (or ``from_job_queue_arn``).

    Attributes:
        network: the network the compute runs in.
        spot, on_demand, fargate_spot, fargate: the compute tiers.
        high_priority_queue, default_queue, fargate_queue: the queues.
        queues: the queues by published name (``high-priority``, ``default``,
            ``fargate``).
        parameter_names: the name of each queue's ARN parameter (the one to give
            ``BatchQueue.from_lookup``), by published name; empty without publishing.
        outputs: the stack outputs made, by construct id.
    """

    @checked_arguments
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: BatchNetwork | None = None,
        network_profile: NetworkProfile | None = None,
        max_azs: int | None = None,
        spot_max_vcpus: int = DEFAULT_SPOT_MAX_VCPUS,
        on_demand_max_vcpus: int = DEFAULT_ON_DEMAND_MAX_VCPUS,
        fargate_max_vcpus: int = DEFAULT_FARGATE_MAX_VCPUS,
        publish: bool = True,
        parameter_prefix: str | None = None,
        export_prefix: str | None = None,
    ) -> None:
        """Build the platform.

        Args:
            scope: the parent construct.
            construct_id: the construct id. ``"Default"`` keeps the logical ids of
                its resources those of a stack that built them itself.
            network: the network to use. Default: a new :class:`BatchNetwork` of
                ``network_profile`` over ``max_azs`` Availability Zones.
            network_profile: the profile of the new network (not with ``network``).
                Default: ``NetworkProfile.PUBLIC`` ($0 idle).
            max_azs: Availability Zones of the new network (not with ``network``).
                Default: 2.
            spot_max_vcpus: vCPU ceiling of the EC2 Spot tier. Default: 256.
            on_demand_max_vcpus: vCPU ceiling of the EC2 on-demand tier. Default: 64.
            fargate_max_vcpus: vCPU ceiling of each Fargate tier. Default: 64.
            publish: publish each queue's ARN and capacity as SSM parameters and
                stack outputs. Default: True.
            parameter_prefix: where the parameters go, starting with ``/``.
                Default: ``/constructs-batch/<stack name>``.
            export_prefix: export the outputs as ``<export_prefix>-<output id>`` for
                ``Fn.importValue`` in other stacks. Default: None (not exported).

        Raises:
            ValueError: listing every invalid argument.
        """
        errors: list[str] = []
        if network is not None and (network_profile is not None or max_azs is not None):
            errors.append(
                "network cannot be combined with network_profile or max_azs: they configure "
                "a new network, pass either a network or settings for a new one"
            )
        for name, value in (
            ("spot_max_vcpus", spot_max_vcpus),
            ("on_demand_max_vcpus", on_demand_max_vcpus),
            ("fargate_max_vcpus", fargate_max_vcpus),
        ):
            errors += check_at_least(name, value, 1)
        if parameter_prefix is not None and not parameter_prefix.startswith("/"):
            errors.append(f"parameter_prefix must start with '/', got {parameter_prefix!r}")
        raise_if_errors(errors)
        super().__init__(scope, construct_id)

        self.network = network or BatchNetwork(
            self,
            "Network",
            profile=network_profile or DEFAULT_PROFILE,
            max_azs=max_azs or DEFAULT_MAX_AZS,
        )
        self.spot = Ec2Compute(
            self, "Spot", network=self.network, spot=True, max_vcpus=spot_max_vcpus
        )
        self.on_demand = Ec2Compute(
            self, "OnDemand", network=self.network, max_vcpus=on_demand_max_vcpus
        )
        self.fargate_spot = FargateCompute(
            self, "FargateSpot", network=self.network, spot=True, max_vcpus=fargate_max_vcpus
        )
        self.fargate = FargateCompute(
            self, "Fargate", network=self.network, max_vcpus=fargate_max_vcpus
        )
        self.high_priority_queue = BatchQueue(
            self,
            "HighPriority",
            priority=HIGH_PRIORITY,
            environments=[self.on_demand, self.spot],
        )
        self.default_queue = BatchQueue(self, "Default", environments=[self.spot, self.on_demand])
        self.fargate_queue = BatchQueue(
            self, "FargateQueue", environments=[self.fargate_spot, self.fargate]
        )
        self.queues: Mapping[str, BatchQueue] = {
            "high-priority": self.high_priority_queue,
            "default": self.default_queue,
            "fargate": self.fargate_queue,
        }
        self.parameter_names: dict[str, str] = {}
        self.outputs: dict[str, CfnOutput] = {}
        if publish:
            prefix = parameter_prefix or f"{PARAMETER_ROOT}/{Stack.of(self).stack_name}"
            self._publish(prefix.rstrip("/"), export_prefix)

    def _publish(self, prefix: str, export_prefix: str | None) -> None:
        """An SSM parameter and an output for each queue's ARN and for its capacity."""
        for name, (output_id, path) in _PUBLISHED.items():
            queue = self.queues[name]
            arn_parameter = f"{prefix}/{path}"
            capacity_output_id = output_id.removesuffix("Arn") + "Capacity"
            published = (
                (output_id, arn_parameter, queue.job_queue.job_queue_arn),
                (
                    capacity_output_id,
                    arn_parameter + CAPACITY_PARAMETER_SUFFIX,
                    queue.capacity.to_json(),
                ),
            )
            for construct_id, parameter_name, value in published:
                ssm.StringParameter(
                    self,
                    f"{construct_id}Parameter",
                    parameter_name=parameter_name,
                    string_value=value,
                    description=f"{construct_id} of {Stack.of(self).stack_name}",
                )
                self.outputs[construct_id] = CfnOutput(
                    self,
                    construct_id,
                    value=value,
                    export_name=f"{export_prefix}-{construct_id}" if export_prefix else None,
                )
            self.parameter_names[name] = arn_parameter
