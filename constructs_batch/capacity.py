"""QueueCapacity: the largest job a queue can ever place, as a value that travels.

Every queue the library accepts carries one: a :class:`~constructs_batch.queue.BatchQueue`
derives it from its compute environments, a queue imported from another app is given
it (or reads it, as JSON, from the SSM parameter the platform publishes beside the
queue's ARN). Placement checks (``ContainerJob(queue=...)``, ``grant_submit``, the
pipeline, workflows) use it, so a job that could never run on an imported queue fails
at synth like one on a local queue.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any, cast

from aws_cdk import aws_ecs as ecs

from constructs_batch import limits

__all__ = ["ARCHITECTURES", "QueueCapacity", "architecture_name"]

#: CPU architectures a queue can run (its compute environments share one).
ARCHITECTURES = ("x86_64", "arm64")


@dataclass(frozen=True)
class QueueCapacity:
    """The largest job a queue can ever place, and the platform it runs on.

    A field that is None is not known at synth (an unmanaged environment, an
    instance type outside the library's tables): the check it would allow is
    skipped, so the library never refuses what AWS would accept.

    Args:
        fargate: True when the queue's compute environments are Fargate (or
            Fargate Spot), False for EC2 (or unmanaged).
        architecture: ``"x86_64"`` or ``"arm64"``; None when unknown.
            Default: ``"x86_64"``.
        vcpus: the most vCPUs one job can reserve. Default: None (unknown).
        memory_mib: the most memory (MiB) one job can reserve. Default: None (unknown).
        gpus: the most GPUs one job can reserve; None when unknown. Default: 0.
        assign_public_ip: whether Fargate jobs placed there need a public IP to
            reach ECR (public subnets without NAT). Default: False.
        multi_node_instance_types: the instance types and families (or Batch's
            ``default_x86_64`` / ``default_arm64``) that its environments able to run
            multi-node parallel jobs launch: on-demand managed EC2 in subnets with
            outbound access, at most 5 security groups. Empty when none can.
            Default: None (unknown: not checked).

    Raises:
        ValueError: a field has the wrong type or is out of range (all at once).
    """

    fargate: bool
    architecture: str | None = "x86_64"
    vcpus: float | None = None
    memory_mib: int | None = None
    gpus: int | None = 0
    assign_public_ip: bool = False
    multi_node_instance_types: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        names: Any = self.multi_node_instance_types
        if isinstance(names, list):  # read back from JSON
            object.__setattr__(self, "multi_node_instance_types", tuple(names))
        limits.raise_if_errors(_field_errors(self))

    def to_json(self) -> str:
        """This capacity as compact JSON with sorted keys (what the platform publishes)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> QueueCapacity:
        """A capacity from the JSON that :meth:`to_json` writes.

        Raises:
            ValueError: the text is not such a JSON object (unknown or missing keys,
                wrong types), naming what is wrong.
        """
        try:
            document = json.loads(text)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"capacity JSON must be a JSON object, got {text!r}: {error}"
            ) from None
        if not isinstance(document, dict):
            raise ValueError(f"capacity JSON must be a JSON object, got {text!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(document) - known)
        errors = [f"capacity JSON has unknown keys {unknown}, allowed: {sorted(known)}"] * bool(
            unknown
        )
        if "fargate" not in document:
            errors.append(f"capacity JSON must have the key 'fargate', got {text!r}")
        limits.raise_if_errors(errors)
        return cls(**document)

    def describe(self) -> str:
        """A short human description, e.g. ``EC2 x86_64, 96 vCPU, 184320 MiB, 0 GPU``."""
        parts = ["Fargate" if self.fargate else "EC2", self.architecture or "any architecture"]
        for value, unit in ((self.vcpus, "vCPU"), (self.memory_mib, "MiB"), (self.gpus, "GPU")):
            parts.append(f"{_fmt(value)} {unit}" if value is not None else f"{unit} unknown")
        return ", ".join(parts)

    def placement_errors(
        self,
        *,
        vcpus: float,
        memory_mib: int,
        gpus: int,
        fargate: bool,
        where: str,
        argument_prefix: str = "",
        architecture: str | None = None,
        multi_node_instance_type: str | None = None,
    ) -> list[str]:
        """Why a job needing these resources can never be placed with this capacity.

        Args:
            vcpus: the job's vCPUs.
            memory_mib: the job's memory in MiB.
            gpus: the job's GPUs.
            fargate: whether the job is a Fargate job.
            where: what the capacity belongs to, for messages (``queue Shared``).
            argument_prefix: put before argument names in messages. Default: "".
            architecture: the CPU architecture the job's image needs (``x86_64`` or
                ``arm64``); checked on EC2 only (Fargate picks it per job).
                Default: None (any).
            multi_node_instance_type: for a node of a multi-node parallel job, its
                instance type, which an environment able to run such jobs must launch.
                Default: None (not a multi-node job).

        Returns:
            One message per problem, naming the argument, its value, ``where`` and
            the limit; empty when the job can be placed.
        """
        p = argument_prefix
        if multi_node_instance_type is not None:
            multi_node = self.multi_node_errors(multi_node_instance_type, where=where)
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
        if errors or fargate != self.fargate:
            return errors
        errors = architecture_errors(
            queue_architecture=self.architecture,
            architecture=architecture,
            fargate=fargate,
            where=where,
            argument_prefix=p,
        )
        if any(limits.is_token(v) for v in (vcpus, memory_mib, gpus)):
            return errors
        capacity = f"its capacity: {self.describe()}"
        if self.vcpus is not None and vcpus > self.vcpus:
            errors.append(
                f"{p}vcpus must be at most {_fmt(self.vcpus)} to run on {where} ({capacity}), "
                f"got {_fmt(vcpus)}"
            )
        if self.memory_mib is not None and memory_mib > self.memory_mib:
            errors.append(
                f"{p}memory must be at most {self.memory_mib} MiB to run on {where} "
                f"({capacity}), got {memory_mib} MiB"
            )
        if self.gpus is not None and gpus > self.gpus and not self.fargate:
            if self.gpus == 0:
                errors.append(
                    f"{p}gpus must be 0 on {where}: it has no GPU ({capacity}), got {gpus}"
                )
            else:
                errors.append(
                    f"{p}gpus must be at most {self.gpus} to run on {where} ({capacity}), got {gpus}"
                )
        return errors

    def multi_node_errors(self, instance_type: str, *, where: str) -> list[str]:
        """Why a multi-node parallel job on ``instance_type`` can never run here.

        Such jobs run on EC2 only, on on-demand managed environments whose nodes reach
        ECR (they get no public IP), and one of them must launch the job's one instance
        type (MNP compute environment guide; NodeRangeProperty API).
        """
        if self.fargate:
            return [
                f"{where} runs on Fargate: multi-node parallel jobs run on EC2 compute "
                "environments only"
            ]
        names = self.multi_node_instance_types
        if names is None:
            return []
        if not names:
            return [
                f"{where} has no compute environment that can run multi-node parallel jobs: "
                "they need on-demand, managed EC2 environments (not Spot, Fargate or "
                "unmanaged) with at most 5 security groups, in subnets with outbound access "
                "through NAT or VPC endpoints (nodes get no public IP)"
            ]
        if any(_launches(name, instance_type) for name in names):
            return []
        return [
            f"instance_type must be one that the multi-node environments of {where} launch "
            f"({', '.join(names)}), got {instance_type}"
        ]


def _launches(name: str, instance_type: str) -> bool:
    """Whether an ``instanceTypes`` entry (type, family or Batch alias) covers the type."""
    family = instance_type.split(".")[0]
    if name in (instance_type, family):
        return True
    aliases = dict(limits.DEFAULT_INSTANCE_FAMILIES)
    # Batch treats "optimal" as default_x86_64 since 2025-11 (it used to be c4/m4/r4).
    aliases["optimal"] = (*aliases["default_x86_64"], *limits.OPTIMAL_FAMILIES)
    return family in aliases.get(name, ())


def platform_errors(
    *,
    queue_fargate: bool,
    vcpus: float,
    memory_mib: int,
    gpus: int,
    fargate: bool,
    where: str,
    argument_prefix: str = "",
) -> list[str]:
    """The platform rules of a placement: the job's platform is the queue's, and a
    Fargate job has no GPU and one of Fargate's vCPU/memory combinations.

    Args:
        queue_fargate: whether the queue is Fargate.
        vcpus, memory_mib, gpus, fargate: the job.
        where: the queue, for messages (``queue Shared``).
        argument_prefix: put before argument names in messages. Default: "".
    """
    p = argument_prefix
    if fargate != queue_fargate:
        platform = "Fargate" if queue_fargate else "EC2"
        return [
            f"{p}fargate must be {queue_fargate} to run on {where}, whose compute "
            f"environments are {platform}, got {fargate}"
        ]
    if not fargate:
        return []
    errors = [f"{p}gpus must be 0 on Fargate ({where}), got {gpus}"] if gpus > 0 else []
    errors.extend(
        f"{error} ({where})"
        for error in limits.check_fargate_resources(
            vcpus, memory_mib, vcpus_arg=f"{p}vcpus", memory_arg=f"{p}memory"
        )
    )
    return errors


def architecture_errors(
    *,
    queue_architecture: str | None,
    architecture: str | None,
    fargate: bool,
    where: str,
    argument_prefix: str = "",
) -> list[str]:
    """An EC2 job's CPU architecture must be its queue's: the instances run the image.

    Fargate picks the architecture per job (runtimePlatform), so any queue will do;
    an unknown architecture on either side is not checked.
    """
    if fargate or architecture is None or queue_architecture in (None, architecture):
        return []
    return [
        f"{argument_prefix}cpu_architecture must be {queue_architecture.upper()} to run on "
        f"{where}, whose compute environments are {queue_architecture}, got "
        f"{architecture.upper()}"
    ]


def architecture_name(architecture: ecs.CpuArchitecture | None) -> str | None:
    """``x86_64`` or ``arm64`` for aws-cdk-lib's two ``ecs.CpuArchitecture`` constants.

    jsii objects do not compare by value: the constants are recognised by their object
    reference, and an ``ecs.CpuArchitecture.of(...)`` of your own gives None (unchecked).
    """
    if architecture is None:
        return None
    known = {
        ecs.CpuArchitecture.ARM64.__jsii_ref__.ref: "arm64",  # type: ignore[attr-defined]
        ecs.CpuArchitecture.X86_64.__jsii_ref__.ref: "x86_64",  # type: ignore[attr-defined]
    }
    return known.get(architecture.__jsii_ref__.ref)  # type: ignore[attr-defined]


def fargate_capacity(max_vcpus: float | None) -> tuple[float | None, int | None]:
    """The largest Fargate job (vCPUs, memory MiB) under a ``max_vcpus`` ceiling.

    None for both when the ceiling is unknown; (None, None) too when no Fargate
    size fits under it (the environment could never run a job).
    """
    if max_vcpus is None or limits.is_token(max_vcpus):
        largest = max(limits.FARGATE_MEMORY_MIB)
        return largest, max(limits.FARGATE_MEMORY_MIB[largest])
    sizes = [v for v in limits.FARGATE_MEMORY_MIB if v <= max_vcpus]
    if not sizes:
        return None, None
    return max(sizes), max(limits.FARGATE_MEMORY_MIB[max(sizes)])


def _field_errors(capacity: QueueCapacity) -> list[str]:
    errors: list[str] = []
    for name in ("fargate", "assign_public_ip"):
        flag: Any = getattr(capacity, name)
        if not isinstance(flag, bool):
            errors.append(f"{name} must be a bool, got {flag!r}")
    if capacity.architecture is not None and capacity.architecture not in ARCHITECTURES:
        errors.append(
            f"architecture must be one of {', '.join(ARCHITECTURES)} or None, "
            f"got {capacity.architecture!r}"
        )
    # (field, kinds, lowest allowed value, whether the lowest value itself is allowed)
    number_rules: tuple[tuple[str, tuple[type, ...], float, bool], ...] = (
        ("vcpus", (int, float), 0, False),
        ("memory_mib", (int,), limits.MIN_JOB_MEMORY_MIB, True),
        ("gpus", (int,), 0, True),
    )
    for name, kinds, low, inclusive in number_rules:
        value: Any = getattr(capacity, name)
        if value is None or limits.is_token(value):
            continue
        if isinstance(value, bool) or not isinstance(value, kinds):
            kind = "a number" if float in kinds else "a whole number"
            errors.append(f"{name} must be {kind} or None, got {value!r}")
            continue
        number = cast(float, value)
        if inclusive and number < low:
            errors.append(f"{name} must be at least {_fmt(low)}, got {_fmt(number)}")
        elif not inclusive and number <= low:
            errors.append(f"{name} must be greater than {_fmt(low)}, got {_fmt(number)}")
    names: Any = capacity.multi_node_instance_types
    if names is not None and (
        not isinstance(names, tuple) or not all(isinstance(n, str) for n in names)
    ):
        errors.append(f"multi_node_instance_types must be names or None, got {names!r}")
    if capacity.fargate is True and capacity.gpus:
        errors.append(f"gpus must be 0 on Fargate (GPUs are EC2 only), got {capacity.gpus}")
    return errors


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
