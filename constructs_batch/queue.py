"""Job queues for AWS Batch: ordered compute environments checked at synth.

A :class:`BatchQueue` ties up to three compute environments together in order of
preference and knows the largest job it can ever place (its :class:`QueueCapacity`),
so that a job that could never run there fails at synth
(:meth:`BatchQueue.placement_errors`).

Queues from elsewhere carry a capacity too: :meth:`BatchQueue.from_job_queue_arn`
(given one), :meth:`BatchQueue.from_lookup` (read from the SSM parameter a
:class:`~constructs_batch.platform.BatchPlatform` publishes), and a plain
aws-cdk-lib ``batch.JobQueue`` whose compute environments tell it
(:func:`as_batch_queue`). Everything that takes a queue (``ContainerJob``, its
``grant_submit``, the pipeline, workflows) accepts any of them, with the same checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Protocol, TypeAlias, cast

from aws_cdk import Annotations, ContextProvider, Duration, Stack, Token
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import cloud_assembly_schema as cxschema
from constructs import Construct, Node

from constructs_batch import limits
from constructs_batch._arguments import checked_arguments
from constructs_batch.capacity import (
    QueueCapacity,
    architecture_errors,
    fargate_capacity,
    platform_errors,
)
from constructs_batch.compute import BatchCompute, PlainCompute, as_batch_compute
from constructs_batch.limits import InstanceCapacity

__all__ = [
    "CAPACITY_PARAMETER_SUFFIX",
    "DEFAULT_CAPACITY_TIMEOUT",
    "DEFAULT_FAIR_SHARE_DECAY",
    "DEFAULT_PRIORITY",
    "DEFAULT_RUNNABLE_TIMEOUT",
    "DEFAULT_RUNNABLE_TIMEOUTS",
    "BatchQueue",
    "IBatchQueue",
    "as_batch_queue",
]

#: Priority only orders queues that share a compute environment (higher runs first).
#: 10 rather than the API's 1 leaves room below for backfill queues (0-9) that should
#: yield to this one, and plenty above (up to 1000) for urgent queues.
DEFAULT_PRIORITY = 10

#: How long a job may sit at the head of the queue in RUNNABLE for a reason that
#: will not fix itself (MISCONFIGURATION: no instance type or max_vcpus can ever hold
#: it) before Batch cancels it: long enough for Batch to be sure, short enough that a
#: job that can never run becomes a FAILED job (and an alarm) instead of one that
#: blocks the queue.
DEFAULT_RUNNABLE_TIMEOUT = Duration.minutes(30)
#: How long a job may wait at the head of the queue for capacity
#: (CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY) before Batch cancels it. Waiting for Spot
#: or GPU capacity is normal, not a misconfiguration: a GPU Spot job may wait hours
#: for a p4d or g5 to free up. A day (the longest AWS allows) still turns an instance
#: type that is never available into a FAILED job instead of a queue blocked forever.
DEFAULT_CAPACITY_TIMEOUT = Duration.hours(24)

#: A reason a job stays RUNNABLE -> how long before Batch cancels it (None: never).
RunnableTimeouts: TypeAlias = Mapping[batch.JobStateTimeLimitActionsReason, Duration | None]

#: The default of ``BatchQueue(runnable_timeout=...)``: cancel after a day for lack of
#: capacity, after half an hour for a misconfiguration.
DEFAULT_RUNNABLE_TIMEOUTS: RunnableTimeouts = MappingProxyType(
    {
        batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY: (
            DEFAULT_CAPACITY_TIMEOUT
        ),
        batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE: (
            DEFAULT_RUNNABLE_TIMEOUT
        ),
        batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT: DEFAULT_RUNNABLE_TIMEOUT,
    }
)

#: Fair-share policy made by ``fair_share=True`` or a dict of weights: usage over the
#: past hour counts, so a share identifier that just ran a burst yields to the others
#: for a while.
DEFAULT_FAIR_SHARE_DECAY = Duration.hours(1)

#: A queue's capacity is published at ``<queue ARN parameter name>`` + this suffix.
CAPACITY_PARAMETER_SUFFIX = "/capacity"

_LOOKUP_PENDING = "constructs-batch:lookup-pending"


class IBatchQueue(Protocol):
    """What every queue the library accepts offers: a local, imported or looked-up queue.

    Attributes:
        node: the construct node (its id names the queue in messages).
        job_queue: the ``batch.IJobQueue`` jobs are submitted to.
        capacity: the largest job the queue can place, and its platform.
        fargate: ``capacity.fargate``.
        architecture: ``capacity.architecture``.
        assign_public_ip: ``capacity.assign_public_ip``.
        lookup_pending: True while :meth:`BatchQueue.from_lookup` waits for the CDK
            CLI to fill its context: placement checks are deferred to the next pass.
        security_groups: the security groups of its compute (what a job's EFS file
            system must admit NFS from); empty when not known (an imported queue).
    """

    @property
    def node(self) -> Node: ...

    @property
    def job_queue(self) -> batch.IJobQueue: ...

    @property
    def capacity(self) -> QueueCapacity: ...

    @property
    def fargate(self) -> bool: ...

    @property
    def architecture(self) -> str | None: ...

    @property
    def assign_public_ip(self) -> bool: ...

    @property
    def lookup_pending(self) -> bool: ...

    @property
    def security_groups(self) -> Sequence[ec2.ISecurityGroup]: ...

    def placement_errors(
        self,
        *,
        vcpus: float,
        memory_mib: int,
        gpus: int,
        fargate: bool,
        argument_prefix: str = "",
        architecture: str | None = None,
        multi_node_instance_type: str | None = None,
    ) -> list[str]:
        """Why a job needing these resources can never run on the queue; empty if it can."""
        ...


class _CapacityQueue:
    """Attributes and checks of a queue that knows only its capacity (imported, L2)."""

    node: Node
    job_queue: batch.IJobQueue
    capacity: QueueCapacity
    lookup_pending: bool = False
    security_groups: Sequence[ec2.ISecurityGroup] = ()

    @property
    def fargate(self) -> bool:
        return self.capacity.fargate

    @property
    def architecture(self) -> str | None:
        return self.capacity.architecture

    @property
    def assign_public_ip(self) -> bool:
        return self.capacity.fargate and self.capacity.assign_public_ip

    def placement_errors(
        self,
        *,
        vcpus: float,
        memory_mib: int,
        gpus: int,
        fargate: bool,
        argument_prefix: str = "",
        architecture: str | None = None,
        multi_node_instance_type: str | None = None,
    ) -> list[str]:
        """Why a job needing these resources can never run here (see QueueCapacity)."""
        if self.lookup_pending:
            return []
        return self.capacity.placement_errors(
            vcpus=vcpus,
            memory_mib=memory_mib,
            gpus=gpus,
            fargate=fargate,
            where=f"queue {self.node.id}",
            argument_prefix=argument_prefix,
            architecture=architecture,
            multi_node_instance_type=multi_node_instance_type,
        )


class _ImportedQueue(_CapacityQueue, Construct):
    """A queue of another stack or app, with the capacity it was given or looked up."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_queue_arn: str,
        capacity: QueueCapacity,
        lookup_pending: bool = False,
    ) -> None:
        Construct.__init__(self, scope, construct_id)
        self.job_queue = batch.JobQueue.from_job_queue_arn(self, "Resource", job_queue_arn)
        self.capacity = capacity
        self.lookup_pending = lookup_pending
        if lookup_pending:
            Annotations.of(self).add_info(
                f"queue {construct_id}: its ARN and capacity are context lookups the CDK "
                "CLI has not filled yet; placement checks run on the next synth pass"
            )


class _PlainQueue(_CapacityQueue):
    """An aws-cdk-lib ``batch.JobQueue`` seen through its compute environments."""

    def __init__(
        self,
        job_queue: batch.JobQueue,
        capacity: QueueCapacity,
        security_groups: Sequence[ec2.ISecurityGroup],
    ) -> None:
        self.node = job_queue.node
        self.job_queue = job_queue
        self.capacity = capacity
        self.security_groups = security_groups


class BatchQueue(Construct):
    """A job queue over up to three ordered compute environments, validated at synth.

    The order of ``environments`` is the order of preference: Batch places a job
    on the first environment that has room. Spot first with on-demand fallback is
    therefore ``environments=[spot, on_demand]`` (or :meth:`spot_first`).

    Attributes:
        job_queue: the underlying ``batch.JobQueue`` (the escape hatch).
        environments: the compute environments as the library sees them
            (:class:`BatchCompute` or, for aws-cdk-lib L2s, :class:`PlainCompute`), in
            order of preference.
        capacity: the largest job the queue can place (derived from the
            environments, or the ``capacity`` given).
        fargate: True when the environments are Fargate (all or none are).
        assign_public_ip: whether Fargate jobs on this queue need a public IP (some
            environment runs in public subnets without NAT); False for EC2 queues.
        architecture: the CPU architecture of the environments (``"x86_64"`` or
            ``"arm64"``); None when none of them knows it at synth.
        priority: the queue priority (0-1000, higher runs first).
        scheduling_policy: the fair-share policy; None for first-in, first-out.
        lookup_pending: always False (see :class:`IBatchQueue`).
        security_groups: the security groups of its environments.
    """

    job_queue: batch.JobQueue
    environments: tuple[BatchCompute | PlainCompute, ...]
    fargate: bool
    assign_public_ip: bool
    architecture: str | None
    priority: int
    scheduling_policy: batch.IFairshareSchedulingPolicy | None
    security_groups: tuple[ec2.ISecurityGroup, ...]
    lookup_pending = False

    @checked_arguments
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environments: Sequence[BatchCompute | batch.IComputeEnvironment],
        priority: int = DEFAULT_PRIORITY,
        fair_share: bool | Mapping[str, float] | batch.IFairshareSchedulingPolicy | None = None,
        runnable_timeout: Duration | RunnableTimeouts | None = DEFAULT_RUNNABLE_TIMEOUTS,
        capacity: QueueCapacity | None = None,
    ) -> None:
        """Create the queue.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            environments: 1 to 3 compute environments, first preferred: this library's
                compute constructs or aws-cdk-lib's (``FargateComputeEnvironment``,
                ``ManagedEc2EcsComputeEnvironment``, ``UnmanagedComputeEnvironment``);
                all Fargate or all EC2/unmanaged, one CPU architecture. An imported
                environment (``from_*_arn``) needs ``capacity``.
            priority: 0 to 1000, higher runs first among queues sharing an
                environment. Default: ``DEFAULT_PRIORITY`` (10).
            fair_share: True for a fair-share policy with equal weights, a mapping of
                share identifier to weight factor (0.0001 to 999.9999; a LOWER weight
                gets MORE of the compute: ``{"teamA": 1, "teamB": 3}`` gives teamA
                three times teamB's vCPUs; an identifier ending in ``*`` covers every
                identifier with that prefix), both with ``DEFAULT_FAIR_SHARE_DECAY``,
                or a policy of your own. Jobs submitted to a fair-share queue must
                carry a share identifier. Default: None (first-in, first-out).
            runnable_timeout: cancel a job that stays RUNNABLE at the head of the
                queue this long (600 s to 24 h), per reason: a mapping of
                ``batch.JobStateTimeLimitActionsReason`` to a ``Duration`` (None: never
                cancel for that reason; a reason left out keeps its default), one
                ``Duration`` for all three reasons, or None to never cancel. The
                reasons differ: ``COMPUTE_ENVIRONMENT_MAX_RESOURCE`` and
                ``JOB_RESOURCE_REQUIREMENT`` are misconfigurations that never fix
                themselves, while ``INSUFFICIENT_INSTANCE_CAPACITY`` is a job waiting
                for Spot or GPU capacity, which is normal and may last hours.
                Default: ``DEFAULT_RUNNABLE_TIMEOUTS`` (a day for capacity, 30
                minutes for misconfigurations).
            capacity: the largest job the queue can place, when the environments
                cannot tell it (imported ones) or you want to promise less.
                Default: None (derived from the environments).

        Raises:
            ValueError: listing every invalid argument.
        """
        envs, env_errors = _as_environments(environments, capacity)
        limits.raise_if_errors(
            [
                *env_errors,
                *(_environment_errors(envs) if not env_errors else []),
                *limits.check_range(
                    "priority", priority, limits.MIN_QUEUE_PRIORITY, limits.MAX_QUEUE_PRIORITY
                ),
                *_runnable_timeout_errors(runnable_timeout),
                *_fair_share_errors(fair_share),
                *_capacity_errors(envs, capacity),
            ]
        )
        super().__init__(scope, construct_id)

        self.environments = envs
        self._capacity = capacity
        self.fargate = envs[0].fargate
        self.assign_public_ip = self.fargate and any(env.assign_public_ip for env in envs)
        self.architecture = next((env.architecture for env in envs if env.architecture), None)
        if capacity is not None:
            self.assign_public_ip = self.fargate and (
                capacity.assign_public_ip or self.assign_public_ip
            )
            self.architecture = capacity.architecture or self.architecture
        self.priority = priority
        self.security_groups = _security_groups(envs)
        self.scheduling_policy = self._scheduling_policy(fair_share)

        self.job_queue = batch.JobQueue(
            self,
            "Resource",
            priority=priority,
            compute_environments=[
                batch.OrderedComputeEnvironment(
                    compute_environment=env.compute_environment, order=order
                )
                for order, env in enumerate(envs, start=1)
            ],
            scheduling_policy=self.scheduling_policy,
            job_state_time_limit_actions=_cancel_stuck_jobs(runnable_timeout),
        )

    @property
    def capacity(self) -> QueueCapacity:
        """The largest job this queue can place: the ``capacity`` given, else derived.

        Derived: Fargate queues can place Fargate's largest size under the highest
        ``max_vcpus``; EC2 queues the most vCPUs (capped by ``max_vcpus``), memory
        and GPUs of any instance their environments can launch, each None when an
        environment cannot tell (unmanaged, unknown instance types).
        """
        if self._capacity is not None:
            return self._capacity
        return _derived_capacity(
            self.environments,
            architecture=self.architecture,
            assign_public_ip=self.assign_public_ip,
        )

    @classmethod
    @checked_arguments
    def spot_first(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        spot: BatchCompute,
        on_demand: BatchCompute,
        priority: int = DEFAULT_PRIORITY,
        fair_share: bool | Mapping[str, float] | batch.IFairshareSchedulingPolicy | None = None,
        runnable_timeout: Duration | RunnableTimeouts | None = DEFAULT_RUNNABLE_TIMEOUTS,
    ) -> BatchQueue:
        """A queue that places jobs on Spot capacity and falls back to on-demand.

        Same as ``BatchQueue(..., environments=[spot, on_demand])``, with a check
        that the first really is Spot and the second really is not.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            spot: a Spot compute construct (EC2 Spot or Fargate Spot), preferred.
            on_demand: an on-demand compute construct of the same platform, used
                when Spot has no capacity.
            priority: as for :class:`BatchQueue`. Default: ``DEFAULT_PRIORITY``.
            fair_share: as for :class:`BatchQueue`. Default: None.
            runnable_timeout: as for :class:`BatchQueue`.
                Default: ``DEFAULT_RUNNABLE_TIMEOUTS``.

        Raises:
            ValueError: if ``spot`` is not Spot or ``on_demand`` is Spot, or the
                queue itself is invalid.
        """
        errors = []
        if not spot.spot:
            errors.append(
                f"spot must be a Spot compute environment, got {spot.node.id} (on-demand)"
            )
        if on_demand.spot:
            errors.append(
                f"on_demand must be an on-demand compute environment, got {on_demand.node.id} (Spot)"
            )
        limits.raise_if_errors(errors)
        return cls(
            scope,
            construct_id,
            environments=[spot, on_demand],
            priority=priority,
            fair_share=fair_share,
            runnable_timeout=runnable_timeout,
        )

    @staticmethod
    @checked_arguments
    def from_job_queue_arn(
        scope: Construct, construct_id: str, job_queue_arn: str, *, capacity: QueueCapacity
    ) -> IBatchQueue:
        """A queue of another stack or app, checked like a local one.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            job_queue_arn: the queue's ARN (a literal or a token).
            capacity: the largest job it can place, as its owner publishes it
                (``QueueCapacity.from_json(...)`` of the platform's capacity
                parameter or output).

        Raises:
            ValueError: if the ARN is not a job queue ARN.
        """
        if not Token.is_unresolved(job_queue_arn) and not _JOB_QUEUE_ARN.fullmatch(job_queue_arn):
            raise ValueError(
                "job_queue_arn must be arn:<partition>:batch:<region>:<account>:job-queue/<name>, "
                f"got {job_queue_arn!r}"
            )
        return _ImportedQueue(scope, construct_id, job_queue_arn=job_queue_arn, capacity=capacity)

    @staticmethod
    @checked_arguments
    def from_lookup(scope: Construct, construct_id: str, *, parameter_name: str) -> IBatchQueue:
        """A queue published by a :class:`~constructs_batch.platform.BatchPlatform`, by name.

        Reads, with CDK's standard context lookup (cached in ``cdk.context.json``,
        refreshed with ``cdk context --reset``), the SSM parameter ``parameter_name``
        (the queue's ARN) and ``parameter_name + CAPACITY_PARAMETER_SUFFIX`` (its
        capacity as JSON). The stack needs an explicit account and Region. On the CDK
        CLI's first pass, before the lookup is done, the queue has a placeholder ARN
        and ``lookup_pending`` is True: checks against it are deferred (nothing fails,
        nothing is passed), and the CLI synthesizes again with the values.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            parameter_name: the name of the parameter that holds the queue's ARN,
                e.g. ``/constructs-batch/BatchPlatform/queues/default``.

        Raises:
            ValueError: if the stack is environment-agnostic, or a looked-up value is
                not a job queue ARN or a capacity.
        """
        stack = Stack.of(scope)
        if Token.is_unresolved(stack.account) or Token.is_unresolved(stack.region):
            raise ValueError(
                f"BatchQueue.from_lookup needs a stack with an explicit account and Region to "
                f"read {parameter_name!r}, got the environment-agnostic stack {stack.node.id}: "
                "give the stack env=Environment(account=..., region=...), or import the queue "
                "with BatchQueue.from_job_queue_arn(..., capacity=QueueCapacity(...))"
            )
        arn = _lookup(scope, parameter_name)
        capacity_json = _lookup(scope, parameter_name + CAPACITY_PARAMETER_SUFFIX)
        if _LOOKUP_PENDING in (arn, capacity_json):
            placeholder = stack.format_arn(
                service="batch", resource="job-queue", resource_name="lookup-pending"
            )
            return _ImportedQueue(
                scope,
                construct_id,
                job_queue_arn=placeholder,
                capacity=QueueCapacity(fargate=False, architecture=None, gpus=None),
                lookup_pending=True,
            )
        try:
            capacity = QueueCapacity.from_json(capacity_json)
        except ValueError as error:
            raise ValueError(
                f"parameter {parameter_name + CAPACITY_PARAMETER_SUFFIX!r} must hold a "
                f"queue capacity: {error}"
            ) from None
        if not _JOB_QUEUE_ARN.fullmatch(arn):
            raise ValueError(f"parameter {parameter_name!r} must hold a job queue ARN, got {arn!r}")
        return _ImportedQueue(scope, construct_id, job_queue_arn=arn, capacity=capacity)

    def placement_errors(
        self,
        *,
        vcpus: float,
        memory_mib: int,
        gpus: int,
        fargate: bool,
        argument_prefix: str = "",
        architecture: str | None = None,
        multi_node_instance_type: str | None = None,
    ) -> list[str]:
        """Why a job needing these resources can never run on this queue; empty if it can.

        Checks what Batch would otherwise leave stuck in RUNNABLE: the platform
        (Fargate or EC2), Fargate's vCPU/memory combinations and lack of GPUs, the
        environments' ``max_vcpus``, and, on EC2, the largest instance each
        environment can launch. A check that needs something unknown at synth
        (an unmanaged environment, an instance type not in the tables) is skipped.
        With a ``capacity`` given, the job is checked against it instead.

        Args:
            vcpus: the job's vCPUs.
            memory_mib: the job's memory in MiB.
            gpus: the job's GPUs.
            fargate: whether the job is a Fargate job.
            argument_prefix: put before the argument names in messages (for a
                caller whose arguments are named, say, ``job_vcpus``). Default: "".
            architecture: the CPU architecture the job's image needs (``x86_64`` or
                ``arm64``), checked against an EC2 queue's. Default: None (any).
            multi_node_instance_type: for a node of a multi-node parallel job, its
                instance type (see :meth:`QueueCapacity.multi_node_errors`).
                Default: None (not a multi-node job).

        Returns:
            One message per problem, naming the argument, its value, this queue and
            the limit that applies.
        """
        p = argument_prefix
        where = f"queue {self.node.id}"
        if self._capacity is not None:
            return self._capacity.placement_errors(
                vcpus=vcpus,
                memory_mib=memory_mib,
                gpus=gpus,
                fargate=fargate,
                where=where,
                argument_prefix=p,
                architecture=architecture,
                multi_node_instance_type=multi_node_instance_type,
            )
        if multi_node_instance_type is not None:
            multi_node = self.capacity.multi_node_errors(multi_node_instance_type, where=where)
            if multi_node:
                return multi_node
        errors = platform_errors(
            queue_fargate=self.fargate,
            vcpus=vcpus,
            memory_mib=memory_mib,
            gpus=gpus,
            fargate=fargate,
            where=where,
            argument_prefix=p,
        )
        if fargate != self.fargate:
            return errors
        errors += architecture_errors(
            queue_architecture=self.architecture,
            architecture=architecture,
            fargate=fargate,
            where=where,
            argument_prefix=p,
        )
        max_vcpus = [env.max_vcpus for env in self.environments]
        if all(m is not None for m in max_vcpus) and not limits.is_token(vcpus):
            highest = max(m for m in max_vcpus if m is not None)
            if vcpus > highest:
                errors.append(
                    f"{p}vcpus must be at most {highest} to run on {where} (the highest "
                    f"max_vcpus of its compute environments), got {_fmt(vcpus)}"
                )
        if not self.fargate:
            errors.extend(self._instance_errors(vcpus, memory_mib, gpus, p, where))
        return errors

    def _instance_errors(
        self, vcpus: float, memory_mib: int, gpus: int, p: str, where: str
    ) -> list[str]:
        largest = [env.largest_instance() for env in self.environments]
        if any(cap is None for cap in largest) or any(
            limits.is_token(v) for v in (vcpus, memory_mib, gpus)
        ):
            return []
        caps = [cap for cap in largest if cap is not None]
        errors = []
        most_gpus = max(cap.gpus for cap in caps)
        if gpus > most_gpus:
            if most_gpus == 0:
                errors.append(
                    f"{p}gpus must be 0 on {where}: none of its compute environments "
                    f"launches GPU instances, got {gpus}"
                )
            else:
                errors.append(
                    f"{p}gpus must be at most {most_gpus} to fit an instance on {where} "
                    f"(its largest GPU instance has {most_gpus}), got {gpus}"
                )
        widest = max(caps, key=lambda cap: (cap.vcpus, cap.memory_mib))
        if vcpus > widest.vcpus:
            errors.append(
                f"{p}vcpus must be at most {widest.vcpus} to fit an instance on {where} "
                f"(its largest instance: {_describe(widest)}), got {_fmt(vcpus)}"
            )
        roomiest = max(caps, key=lambda cap: (cap.memory_mib, cap.vcpus))
        if memory_mib > roomiest.memory_mib:
            errors.append(
                f"{p}memory must be at most {roomiest.memory_mib} MiB to fit an instance on "
                f"{where} (its largest instance: {_describe(roomiest)}), got {memory_mib} MiB"
            )
        if errors:
            return errors
        # Each resource fits some instance: check they fit one real instance together
        # (not the composite of several types), in an environment whose max_vcpus allows it.
        fits = any(
            (env.max_vcpus is None or vcpus <= env.max_vcpus)
            and any(
                option.fits(vcpus, memory_mib, gpus) for option in (env.instance_options() or [cap])
            )
            for env, cap in zip(self.environments, caps, strict=True)
        )
        if not fits:
            offered = "; ".join(
                f"{env.node.id}: {_describe(cap)}, max_vcpus {env.max_vcpus}"
                for env, cap in zip(self.environments, caps, strict=True)
            )
            errors.append(
                f"{p}vcpus, {p}memory and {p}gpus must fit together on one instance of one "
                f"compute environment of {where} ({offered}), got {_fmt(vcpus)} vCPU, "
                f"{memory_mib} MiB, {gpus} GPU"
            )
        return errors

    def _scheduling_policy(
        self, fair_share: bool | Mapping[str, float] | batch.IFairshareSchedulingPolicy | None
    ) -> batch.IFairshareSchedulingPolicy | None:
        if fair_share is None or fair_share is False:
            return None
        if fair_share is True or isinstance(fair_share, Mapping):
            weights = {} if fair_share is True else fair_share
            return batch.FairshareSchedulingPolicy(
                self,
                "FairSharePolicy",
                share_decay=DEFAULT_FAIR_SHARE_DECAY,
                shares=[
                    batch.Share(share_identifier=name, weight_factor=float(weight))
                    for name, weight in weights.items()
                ],
            )
        return fair_share


def as_batch_queue(queue: object, argument: str = "queue") -> IBatchQueue:
    """The queue as the library checks it: an :class:`IBatchQueue`.

    A :class:`BatchQueue` or an imported queue is returned as is; an aws-cdk-lib
    ``batch.JobQueue`` gets the capacity its compute environments tell.

    Args:
        queue: what the user passed.
        argument: the argument name, for messages. Default: ``"queue"``.

    Raises:
        ValueError: the queue's capacity cannot be known (an imported
            ``batch.IJobQueue``, an environment that tells nothing), naming the
            argument and the way out.
    """
    if isinstance(queue, BatchQueue | _CapacityQueue):
        return queue
    way_out = (
        "use a BatchQueue, or import the queue with BatchQueue.from_job_queue_arn(scope, id, "
        "arn, capacity=QueueCapacity(...)) or BatchQueue.from_lookup(scope, id, "
        "parameter_name=...) so that placement can be checked"
    )
    if isinstance(queue, batch.JobQueue):
        envs = [as_batch_compute(o.compute_environment) for o in queue.compute_environments]
        unknown = [
            o.compute_environment.node.id
            for o, env in zip(queue.compute_environments, envs, strict=True)
            if env is None
        ]
        known = [env for env in envs if env is not None]
        if unknown or not known:
            raise ValueError(
                f"{argument} {queue.node.id} has compute environments whose capacity cannot "
                f"be known at synth ({', '.join(unknown) or 'none'}): {way_out}"
            )
        limits.raise_if_errors(
            [f"{argument} {queue.node.id}: {error}" for error in _environment_errors(known)]
        )
        architecture = next((env.architecture for env in known if env.architecture), None)
        capacity = _derived_capacity(known, architecture=architecture, assign_public_ip=False)
        return _PlainQueue(queue, capacity, _security_groups(known))
    node = getattr(queue, "node", None)
    name = node.id if isinstance(node, Node) else repr(queue)
    raise ValueError(
        f"{argument} must be a queue whose capacity is known, got {name} "
        f"({type(queue).__name__}): {way_out}"
    )


#: ``arn:<partition>:batch:<region>:<account>:job-queue/<name>`` (CreateJobQueue API:
#: names of up to 128 letters, digits, hyphens and underscores).
_JOB_QUEUE_ARN = re.compile(r"arn:[a-z-]+:batch:[a-z0-9-]+:\d{12}:job-queue/[A-Za-z0-9_-]{1,128}")


def _lookup(scope: Construct, parameter_name: str) -> str:
    """An SSM parameter's value by CDK context lookup; ``_LOOKUP_PENDING`` until filled."""
    value = ContextProvider.get_value(
        scope,
        provider=cxschema.ContextProvider.SSM_PARAMETER_PROVIDER.value,
        props={"parameterName": parameter_name},
        dummy_value=_LOOKUP_PENDING,
        must_exist=True,
    ).value
    return str(value)


def _as_environments(
    environments: Sequence[BatchCompute | batch.IComputeEnvironment],
    capacity: QueueCapacity | None,
) -> tuple[tuple[BatchCompute | PlainCompute, ...], list[str]]:
    envs: list[BatchCompute | PlainCompute] = []
    errors: list[str] = []
    for index, environment in enumerate(environments):
        env = as_batch_compute(environment)
        if env is None and capacity is not None:
            imported = cast(batch.IComputeEnvironment, environment)
            env = PlainCompute(imported, fargate=capacity.fargate, spot=False, max_vcpus=None)
            env.architecture = capacity.architecture
        if env is None:
            errors.append(
                f"environments[{index}] ({environment.node.id}) is a compute environment whose "
                "capacity cannot be known at synth (an imported or EKS environment): pass "
                "capacity=QueueCapacity(fargate=..., architecture=..., vcpus=..., "
                "memory_mib=..., gpus=...) with the largest job it can place, or use this "
                "library's or aws-cdk-lib's compute constructs"
            )
        else:
            envs.append(env)
    return tuple(envs), errors


def _security_groups(envs: Sequence[BatchCompute | PlainCompute]) -> tuple[ec2.ISecurityGroup, ...]:
    """The environments' security groups, each once, in order."""
    unique: dict[int, ec2.ISecurityGroup] = {}
    for env in envs:
        for group in env.security_groups:
            unique.setdefault(id(group), group)
    return tuple(unique.values())


def _derived_capacity(
    envs: Sequence[BatchCompute | PlainCompute], *, architecture: str | None, assign_public_ip: bool
) -> QueueCapacity:
    ceilings = [env.max_vcpus for env in envs]
    highest = (
        None
        if any(m is None or limits.is_token(m) for m in ceilings)
        else max(m for m in ceilings if m is not None)
    )
    if envs[0].fargate:
        vcpus, memory = fargate_capacity(highest)
        return QueueCapacity(
            fargate=True,
            architecture=architecture,
            vcpus=vcpus,
            memory_mib=memory,
            gpus=0,
            assign_public_ip=assign_public_ip,
            multi_node_instance_types=(),
        )
    multi_node = tuple(dict.fromkeys(n for env in envs for n in env.multi_node_instance_types()))
    largest: list[InstanceCapacity | None] = [env.largest_instance() for env in envs]
    known = [(env, cap) for env, cap in zip(envs, largest, strict=True) if cap is not None]
    if len(known) < len(envs):
        return QueueCapacity(
            fargate=False,
            architecture=architecture,
            gpus=None,
            multi_node_instance_types=multi_node,
        )
    per_env_vcpus = [
        cap.vcpus
        if env.max_vcpus is None or limits.is_token(env.max_vcpus)
        else min(cap.vcpus, env.max_vcpus)
        for env, cap in known
    ]
    return QueueCapacity(
        fargate=False,
        architecture=architecture,
        vcpus=max(per_env_vcpus),
        memory_mib=max(cap.memory_mib for _, cap in known),
        gpus=max(cap.gpus for _, cap in known),
        multi_node_instance_types=multi_node,
    )


def _fair_share_errors(fair_share: object) -> list[str]:
    if not isinstance(fair_share, Mapping):
        return []
    errors: list[str] = []
    if len(fair_share) > limits.MAX_SHARE_IDENTIFIERS:
        errors.append(
            f"fair_share must have at most {limits.MAX_SHARE_IDENTIFIERS} share identifiers, "
            f"got {len(fair_share)}"
        )
    for name, weight in fair_share.items():
        if not re.fullmatch(limits.SHARE_IDENTIFIER_PATTERN, name):
            errors.append(
                f"fair_share share identifiers must be 1 to 255 letters and digits, optionally "
                f"followed by * (a prefix), got {name!r}"
            )
        elif not (limits.MIN_WEIGHT_FACTOR <= weight <= limits.MAX_WEIGHT_FACTOR):
            errors.append(
                f"fair_share[{name!r}] must be a weight factor between "
                f"{limits.MIN_WEIGHT_FACTOR} and {limits.MAX_WEIGHT_FACTOR}, got {weight}"
            )
    prefixes = [name[:-1] for name in fair_share if name.endswith("*")]
    overlaps = sorted(
        f"{prefix}* and {other}"
        for prefix in prefixes
        for other in fair_share
        if other != f"{prefix}*" and other.startswith(prefix)
    )
    if overlaps:
        errors.append(
            f"fair_share share identifiers must not overlap (a prefix* covers every identifier "
            f"starting with it), got {', '.join(overlaps)}"
        )
    return errors


def _capacity_errors(
    envs: Sequence[BatchCompute | PlainCompute], capacity: QueueCapacity | None
) -> list[str]:
    if capacity is None or not envs:
        return []
    platforms = {env.fargate for env in envs}
    if platforms != {capacity.fargate}:
        return [
            f"capacity.fargate must match the environments (Fargate: "
            f"{', '.join(str(p) for p in sorted(platforms))}), got {capacity.fargate}"
        ]
    return []


def _environment_errors(envs: Sequence[BatchCompute | PlainCompute]) -> list[str]:
    count = len(envs)
    if not 1 <= count <= limits.MAX_ENVIRONMENTS_PER_QUEUE:
        return [
            f"environments must hold 1 to {limits.MAX_ENVIRONMENTS_PER_QUEUE} compute "
            f"environments, got {count}"
        ]
    names = [env.node.id for env in envs]
    errors = []
    if len({id(env) for env in envs}) != count:
        errors.append(f"environments must not repeat a compute environment, got {names}")
    if len({env.fargate for env in envs}) > 1:
        kinds = [f"{env.node.id} ({'Fargate' if env.fargate else 'EC2'})" for env in envs]
        errors.append(
            "environments must be all Fargate or all EC2 (AWS Batch cannot mix them in "
            f"one queue), got {', '.join(kinds)}"
        )
    architectures = {env.architecture for env in envs if env.architecture}
    if len(architectures) > 1:
        arches = [f"{env.node.id} ({env.architecture})" for env in envs if env.architecture]
        errors.append(
            "environments must share one CPU architecture (AWS Batch cannot mix them in "
            f"one queue), got {', '.join(arches)}"
        )
    return errors


def _runnable_timeouts(
    runnable_timeout: Duration | RunnableTimeouts | None,
) -> dict[batch.JobStateTimeLimitActionsReason, Duration]:
    """The time limit of each reason that has one, in the API's order of reasons."""
    if runnable_timeout is None:
        return {}
    if isinstance(runnable_timeout, Duration):
        return dict.fromkeys(DEFAULT_RUNNABLE_TIMEOUTS, runnable_timeout)
    chosen = {**DEFAULT_RUNNABLE_TIMEOUTS, **runnable_timeout}
    return {reason: timeout for reason, timeout in chosen.items() if timeout is not None}


def _runnable_timeout_errors(runnable_timeout: Duration | RunnableTimeouts | None) -> list[str]:
    low = limits.MIN_JOB_STATE_TIME_LIMIT_SECONDS
    high = limits.MAX_JOB_STATE_TIME_LIMIT_SECONDS
    errors = []
    for reason, timeout in _runnable_timeouts(runnable_timeout).items():
        seconds = timeout.to_seconds(integral=False)
        if limits.is_token(seconds) or (low <= seconds <= high and float(seconds).is_integer()):
            continue
        argument = (
            "runnable_timeout"
            if isinstance(runnable_timeout, Duration)
            else f"runnable_timeout[{reason.name}]"
        )
        allowed = f"between {low} and {high}" if not low <= seconds <= high else "whole"
        errors.append(f"{argument} must be {allowed} seconds, got {_fmt(seconds)} seconds")
        if isinstance(runnable_timeout, Duration):
            break  # the same value for every reason: one message
    return errors


def _cancel_stuck_jobs(
    runnable_timeout: Duration | RunnableTimeouts | None,
) -> list[batch.JobStateTimeLimitAction] | None:
    return [
        batch.JobStateTimeLimitAction(
            max_time=timeout,
            reason=reason,
            action=batch.JobStateTimeLimitActionsAction.CANCEL,
            state=batch.JobStateTimeLimitActionsState.RUNNABLE,
        )
        for reason, timeout in _runnable_timeouts(runnable_timeout).items()
    ] or None


def _describe(cap: InstanceCapacity) -> str:
    gpus = f", {cap.gpus} GPU" if cap.gpus else ""
    return f"{cap.vcpus} vCPU, {cap.memory_mib} MiB{gpus}"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
