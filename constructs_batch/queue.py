"""Job queues for AWS Batch: ordered compute environments checked at synth.

A :class:`BatchQueue` ties up to three compute constructs together in order of
preference and knows enough about them to say, at synth, whether a job can ever
be placed on it (:meth:`BatchQueue.placement_errors`).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_batch as batch
from constructs import Construct

from constructs_batch import limits
from constructs_batch.compute import BatchCompute
from constructs_batch.limits import InstanceCapacity

__all__ = [
    "DEFAULT_FAIR_SHARE_DECAY",
    "DEFAULT_PRIORITY",
    "DEFAULT_RUNNABLE_TIMEOUT",
    "BatchQueue",
]

#: Priority only orders queues that share a compute environment (higher runs first).
#: 10 rather than the API's 1 leaves room below for backfill queues (0-9) that should
#: yield to this one, and plenty above (up to 1000) for urgent queues.
DEFAULT_PRIORITY = 10

#: How long a job may sit at the head of the queue in RUNNABLE, for a reason that
#: will not fix itself (no instance type or max_vcpus can hold it) or for lack of
#: capacity in every environment, before Batch cancels it. Half an hour rides out a
#: short Spot capacity crunch and a cold EC2 start, yet turns a job that can never
#: run into a FAILED job (and an alarm) instead of one that blocks the queue forever.
DEFAULT_RUNNABLE_TIMEOUT = Duration.minutes(30)

#: Fair-share policy made by ``fair_share=True``: usage over the past hour counts, so
#: a share identifier that just ran a burst yields to the others for a while.
DEFAULT_FAIR_SHARE_DECAY = Duration.hours(1)


class BatchQueue(Construct):
    """A job queue over up to three ordered compute environments, validated at synth.

    The order of ``environments`` is the order of preference: Batch places a job
    on the first environment that has room. Spot first with on-demand fallback is
    therefore ``environments=[spot, on_demand]`` (or :meth:`spot_first`).

    Attributes:
        job_queue: the underlying ``batch.JobQueue`` (the escape hatch).
        environments: the compute constructs, in order of preference.
        fargate: True when the environments are Fargate (all or none are).
        assign_public_ip: whether Fargate jobs on this queue need a public IP (some
            environment runs in public subnets without NAT); False for EC2 queues.
        architecture: the CPU architecture of the environments (``"x86_64"`` or
            ``"arm64"``); None when none of them knows it at synth.
        priority: the queue priority (0-1000, higher runs first).
        scheduling_policy: the fair-share policy; None for first-in, first-out.
    """

    job_queue: batch.JobQueue
    environments: tuple[BatchCompute, ...]
    fargate: bool
    assign_public_ip: bool
    architecture: str | None
    priority: int
    scheduling_policy: batch.IFairshareSchedulingPolicy | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environments: Sequence[BatchCompute],
        priority: int = DEFAULT_PRIORITY,
        fair_share: batch.IFairshareSchedulingPolicy | bool | None = None,
        runnable_timeout: Duration | None = DEFAULT_RUNNABLE_TIMEOUT,
    ) -> None:
        """Create the queue.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            environments: 1 to 3 compute constructs, first preferred; all Fargate or
                all EC2/unmanaged, one CPU architecture.
            priority: 0 to 1000, higher runs first among queues sharing an
                environment. Default: ``DEFAULT_PRIORITY`` (10).
            fair_share: True for a fair-share policy with ``DEFAULT_FAIR_SHARE_DECAY``
                and equal weights, or a policy of your own. Jobs submitted to a
                fair-share queue must carry a share identifier. Default: None
                (first-in, first-out).
            runnable_timeout: cancel a job that stays RUNNABLE at the head of the
                queue this long because no environment can ever hold it or none has
                capacity (600 s to 24 h); None keeps such jobs waiting forever.
                Default: ``DEFAULT_RUNNABLE_TIMEOUT`` (30 minutes).

        Raises:
            ValueError: listing every invalid argument.
        """
        super().__init__(scope, construct_id)
        envs = tuple(environments)
        timeout_seconds = None if runnable_timeout is None else runnable_timeout.to_seconds()
        limits.raise_if_errors(
            [
                *_environment_errors(envs),
                *limits.check_range(
                    "priority", priority, limits.MIN_QUEUE_PRIORITY, limits.MAX_QUEUE_PRIORITY
                ),
                *_seconds_errors("runnable_timeout", timeout_seconds),
            ]
        )

        self.environments = envs
        self.fargate = envs[0].fargate
        self.assign_public_ip = self.fargate and any(env.assign_public_ip for env in envs)
        self.architecture = next((env.architecture for env in envs if env.architecture), None)
        self.priority = priority
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

    @classmethod
    def spot_first(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        spot: BatchCompute,
        on_demand: BatchCompute,
        priority: int = DEFAULT_PRIORITY,
        fair_share: batch.IFairshareSchedulingPolicy | bool | None = None,
        runnable_timeout: Duration | None = DEFAULT_RUNNABLE_TIMEOUT,
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
                Default: ``DEFAULT_RUNNABLE_TIMEOUT``.

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

    def placement_errors(
        self,
        *,
        vcpus: float,
        memory_mib: int,
        gpus: int,
        fargate: bool,
        argument_prefix: str = "",
    ) -> list[str]:
        """Why a job needing these resources can never run on this queue; empty if it can.

        Checks what Batch would otherwise leave stuck in RUNNABLE: the platform
        (Fargate or EC2), Fargate's vCPU/memory combinations and lack of GPUs, the
        environments' ``max_vcpus``, and, on EC2, the largest instance each
        environment can launch. A check that needs something unknown at synth
        (an unmanaged environment, an instance type not in the tables) is skipped.

        Args:
            vcpus: the job's vCPUs.
            memory_mib: the job's memory in MiB.
            gpus: the job's GPUs.
            fargate: whether the job is a Fargate job.
            argument_prefix: put before the argument names in messages (for a
                caller whose arguments are named, say, ``job_vcpus``). Default: "".

        Returns:
            One message per problem, naming the argument, its value, this queue and
            the limit that applies.
        """
        p = argument_prefix
        where = f"queue {self.node.id}"
        if fargate != self.fargate:
            platform = "Fargate" if self.fargate else "EC2"
            return [
                f"{p}fargate must be {self.fargate} to run on {where}, whose compute "
                f"environments are {platform}, got {fargate}"
            ]
        errors = []
        if self.fargate:
            if gpus > 0:
                errors.append(f"{p}gpus must be 0 on Fargate ({where}), got {gpus}")
            errors.extend(
                f"{error} ({where})"
                for error in limits.check_fargate_resources(
                    vcpus, memory_mib, vcpus_arg=f"{p}vcpus", memory_arg=f"{p}memory"
                )
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
        # Each resource fits some instance: check they fit one instance together, in
        # an environment whose max_vcpus allows it.
        fits = any(
            cap.fits(vcpus, memory_mib, gpus) and (env.max_vcpus is None or vcpus <= env.max_vcpus)
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
        self, fair_share: batch.IFairshareSchedulingPolicy | bool | None
    ) -> batch.IFairshareSchedulingPolicy | None:
        if fair_share is None or fair_share is False:
            return None
        if fair_share is True:
            return batch.FairshareSchedulingPolicy(
                self, "FairSharePolicy", share_decay=DEFAULT_FAIR_SHARE_DECAY
            )
        return fair_share


def _environment_errors(envs: Sequence[BatchCompute]) -> list[str]:
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


def _seconds_errors(argument: str, seconds: float | None) -> list[str]:
    if seconds is None or limits.is_token(seconds):
        return []
    low = limits.MIN_JOB_STATE_TIME_LIMIT_SECONDS
    high = limits.MAX_JOB_STATE_TIME_LIMIT_SECONDS
    if low <= seconds <= high:
        return []
    return [f"{argument} must be between {low} and {high} seconds, got {_fmt(seconds)} seconds"]


def _cancel_stuck_jobs(timeout: Duration | None) -> list[batch.JobStateTimeLimitAction] | None:
    if timeout is None:
        return None
    return [
        batch.JobStateTimeLimitAction(
            max_time=timeout,
            # The Python enum's values are its member names: the API reason after the colon.
            reason=batch.JobStateTimeLimitActionsReason[reason.partition(":")[2]],
            action=batch.JobStateTimeLimitActionsAction.CANCEL,
            state=batch.JobStateTimeLimitActionsState.RUNNABLE,
        )
        for reason in limits.JOB_STATE_TIME_LIMIT_REASONS
    ]


def _describe(cap: InstanceCapacity) -> str:
    gpus = f", {cap.gpus} GPU" if cap.gpus else ""
    return f"{cap.vcpus} vCPU, {cap.memory_mib} MiB{gpus}"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
