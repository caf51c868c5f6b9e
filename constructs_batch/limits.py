"""AWS Batch limits as data, and the small validators that enforce them at synth.

Every number a synth-time check relies on lives here, next to the AWS fact it
comes from, so a check never hides a magic number. Validators return a list of
error messages (empty when the value is fine) so that a constructor can collect
independent errors and raise them together with :func:`raise_if_errors`.

Messages follow one shape: ``<argument> must be <what is allowed>, got <value>``.
Values that are unresolved CDK tokens are skipped: they are only known at deploy.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import botocore
import botocore.loaders
from aws_cdk import Token

__all__ = [
    "FARGATE_MEMORY_MIB",
    "InstanceCapacity",
    "check_ephemeral_storage",
    "check_fargate_resources",
    "check_range",
    "fargate_memory_choices",
    "instance_capacity",
    "instance_class_capacity",
    "is_token",
    "raise_if_errors",
]

# --- AWS Batch: CreateJobQueue / CreateComputeEnvironment -------------------
#: Job queue priority, higher runs first (CreateJobQueue API).
MIN_QUEUE_PRIORITY = 0
MAX_QUEUE_PRIORITY = 1000
#: Compute environments per job queue (service quotas).
MAX_ENVIRONMENTS_PER_QUEUE = 3
#: Job queues / compute environments per account and Region (service quotas).
MAX_QUEUES_PER_ACCOUNT = 50
MAX_COMPUTE_ENVIRONMENTS_PER_ACCOUNT = 50
#: jobStateTimeLimitActions maxTimeSeconds (JobStateTimeLimitAction API).
MIN_JOB_STATE_TIME_LIMIT_SECONDS = 600
MAX_JOB_STATE_TIME_LIMIT_SECONDS = 86_400
#: Reasons a jobStateTimeLimitAction may match (JobStateTimeLimitAction API).
JOB_STATE_TIME_LIMIT_REASONS = (
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
)
#: Spot bid percentage of the On-Demand price (ComputeResource API).
MIN_SPOT_BID_PERCENTAGE = 1
MAX_SPOT_BID_PERCENTAGE = 100

# --- AWS Batch: job definitions and jobs -------------------------------------
#: RetryStrategy attempts and evaluateOnExit rules (RetryStrategy API).
MIN_RETRY_ATTEMPTS = 1
MAX_RETRY_ATTEMPTS = 10
MAX_EVALUATE_ON_EXIT_RULES = 5
#: Status reason of a job whose Spot host was reclaimed (RetryStrategy docs).
SPOT_RECLAIM_STATUS_REASON = "Host EC2*"
#: JobTimeout attemptDurationSeconds minimum (JobTimeout API).
MIN_TIMEOUT_SECONDS = 60
#: Environment variable names must not start with this (ContainerProperties API).
RESERVED_ENV_PREFIX = "AWS_BATCH"
#: Array job size (SubmitJob API).
MIN_ARRAY_SIZE = 2
MAX_ARRAY_SIZE = 10_000
#: Dependencies per job (service quotas).
MAX_JOB_DEPENDENCIES = 20
#: SubmitJob calls per second per account and Region; cannot be raised (quotas).
SUBMIT_JOB_TPS = 50
#: SubmitJob payload and job definition size (service quotas).
MAX_SUBMIT_JOB_PAYLOAD_BYTES = 30 * 1024
MAX_JOB_DEFINITION_BYTES = 24 * 1024
#: Fargate ephemeral storage (EphemeralStorage API).
MIN_EPHEMERAL_STORAGE_GIB = 21
MAX_EPHEMERAL_STORAGE_GIB = 200


def _steps(start: int, stop: int, step: int) -> tuple[int, ...]:
    return tuple(range(start, stop + 1, step))


#: Valid Fargate memory (MiB) per vCPU value (ResourceRequirement API).
FARGATE_MEMORY_MIB: Mapping[float, tuple[int, ...]] = {
    0.25: (512, 1024, 2048),
    0.5: _steps(1024, 4096, 1024),
    1.0: _steps(2048, 8192, 1024),
    2.0: _steps(4096, 16384, 1024),
    4.0: _steps(8192, 30720, 1024),
    8.0: _steps(16384, 61440, 4096),
    16.0: _steps(32768, 122880, 8192),
}

# --- EC2 instance capacity ------------------------------------------------------
#: Memory the ECS agent can register is less than the installed memory: the Batch
#: memory-management guide shows an m4.large (8192 MiB) registering 7985 MiB
#: (97.5 %), and the Batch AMI reserves a further 32 MiB for the agent.
REGISTERED_MEMORY_FRACTION = 0.975
ECS_RESERVED_MEMORY_MIB = 32


@dataclass(frozen=True)
class InstanceCapacity:
    """What one EC2 instance offers a job: vCPUs, memory the ECS agent registers, GPUs."""

    vcpus: int
    memory_mib: int
    gpus: int = 0
    architecture: str = "x86_64"

    @classmethod
    def from_installed(
        cls, vcpus: int, memory_gib: float, gpus: int = 0, architecture: str = "x86_64"
    ) -> InstanceCapacity:
        """Capacity of an instance from its installed memory, less what the OS and agent keep."""
        registered = int(memory_gib * 1024 * REGISTERED_MEMORY_FRACTION) - ECS_RESERVED_MEMORY_MIB
        return cls(vcpus=vcpus, memory_mib=registered, gpus=gpus, architecture=architecture)

    @classmethod
    def most_of(cls, capacities: Sequence[InstanceCapacity]) -> InstanceCapacity:
        """The most vCPUs, memory and GPUs of any of ``capacities`` (one architecture).

        A check against it never refuses a job that one of them could run.
        """
        return cls(
            vcpus=max(c.vcpus for c in capacities),
            memory_mib=max(c.memory_mib for c in capacities),
            gpus=max(c.gpus for c in capacities),
            architecture=capacities[0].architecture,
        )

    def fits(self, vcpus: float, memory_mib: float, gpus: int = 0) -> bool:
        """Whether a job needing these resources can be placed on this instance."""
        return vcpus <= self.vcpus and memory_mib <= self.memory_mib and gpus <= self.gpus


@dataclass(frozen=True)
class _Family:
    gib_per_vcpu: float
    largest_size: str
    architecture: str = "x86_64"


# General-purpose, compute- and memory-optimized families, by installed GiB per vCPU
# and largest size (EC2 instance type docs). Graviton families are arm64.
_FAMILIES: dict[str, _Family] = {
    "c4": _Family(1.875, "8xlarge"),
    "m4": _Family(4, "16xlarge"),
    "r4": _Family(7.625, "16xlarge"),
    "c5": _Family(2, "24xlarge"),
    "c5a": _Family(2, "24xlarge"),
    "c5n": _Family(2.625, "18xlarge"),
    "m5": _Family(4, "24xlarge"),
    "m5a": _Family(4, "24xlarge"),
    "r5": _Family(8, "24xlarge"),
    "r5a": _Family(8, "24xlarge"),
    "c6i": _Family(2, "32xlarge"),
    "c6a": _Family(2, "48xlarge"),
    "m6i": _Family(4, "32xlarge"),
    "m6a": _Family(4, "48xlarge"),
    "r6i": _Family(8, "32xlarge"),
    "r6a": _Family(8, "48xlarge"),
    "c7i": _Family(2, "48xlarge"),
    "c7a": _Family(2, "48xlarge"),
    "m7i": _Family(4, "48xlarge"),
    "m7a": _Family(4, "48xlarge"),
    "r7i": _Family(8, "48xlarge"),
    "r7a": _Family(8, "48xlarge"),
    "c6g": _Family(2, "16xlarge", "arm64"),
    "m6g": _Family(4, "16xlarge", "arm64"),
    "r6g": _Family(8, "16xlarge", "arm64"),
    "c7g": _Family(2, "16xlarge", "arm64"),
    "m7g": _Family(4, "16xlarge", "arm64"),
    "r7g": _Family(8, "16xlarge", "arm64"),
    "c8g": _Family(2, "48xlarge", "arm64"),
    "m8g": _Family(4, "48xlarge", "arm64"),
    "r8g": _Family(8, "48xlarge", "arm64"),
}

# GPU instance types, listed one by one: their vCPU, memory and GPU counts do not
# follow a per-family ratio (EC2 accelerated computing instance docs).
_GPU_TYPES: dict[str, InstanceCapacity] = {
    name: InstanceCapacity.from_installed(vcpus, gib, gpus, arch)
    for name, (vcpus, gib, gpus, arch) in {
        "g4dn.xlarge": (4, 16, 1, "x86_64"),
        "g4dn.2xlarge": (8, 32, 1, "x86_64"),
        "g4dn.4xlarge": (16, 64, 1, "x86_64"),
        "g4dn.8xlarge": (32, 128, 1, "x86_64"),
        "g4dn.12xlarge": (48, 192, 4, "x86_64"),
        "g4dn.16xlarge": (64, 256, 1, "x86_64"),
        "g5.xlarge": (4, 16, 1, "x86_64"),
        "g5.2xlarge": (8, 32, 1, "x86_64"),
        "g5.4xlarge": (16, 64, 1, "x86_64"),
        "g5.8xlarge": (32, 128, 1, "x86_64"),
        "g5.12xlarge": (48, 192, 4, "x86_64"),
        "g5.16xlarge": (64, 256, 1, "x86_64"),
        "g5.24xlarge": (96, 384, 4, "x86_64"),
        "g5.48xlarge": (192, 768, 8, "x86_64"),
        "g6.xlarge": (4, 16, 1, "x86_64"),
        "g6.2xlarge": (8, 32, 1, "x86_64"),
        "g6.4xlarge": (16, 64, 1, "x86_64"),
        "g6.8xlarge": (32, 128, 1, "x86_64"),
        "g6.12xlarge": (48, 192, 4, "x86_64"),
        "g6.16xlarge": (64, 256, 1, "x86_64"),
        "g6.24xlarge": (96, 384, 4, "x86_64"),
        "g6.48xlarge": (192, 768, 8, "x86_64"),
        "g5g.xlarge": (4, 8, 1, "arm64"),
        "g5g.2xlarge": (8, 16, 1, "arm64"),
        "g5g.4xlarge": (16, 32, 1, "arm64"),
        "g5g.8xlarge": (32, 64, 1, "arm64"),
        "g5g.16xlarge": (64, 128, 2, "arm64"),
        "p3.2xlarge": (8, 61, 1, "x86_64"),
        "p3.8xlarge": (32, 244, 4, "x86_64"),
        "p3.16xlarge": (64, 488, 8, "x86_64"),
        "p4d.24xlarge": (96, 1152, 8, "x86_64"),
        "p5.48xlarge": (192, 2048, 8, "x86_64"),
    }.items()
}

#: GPU instance families (the class part of the names above).
GPU_FAMILIES = frozenset(name.split(".")[0] for name in _GPU_TYPES)

#: Batch's "optimal" instance type picks from c4, m4, r4, c5, m5 and r5 (ComputeResource
#: API; since 2025-11-01 it means default_x86_64, whose families aws-cdk-lib environments
#: are also checked against): the largest it can launch is what a job is checked against.
OPTIMAL_FAMILIES = ("c4", "m4", "r4", "c5", "m5", "r5")
#: Batch's default instance types by architecture (instance-type compute table of the
#: Batch user guide; aws-cdk-lib's ``DefaultInstanceClass``): ``default_x86_64`` picks
#: from m6i, c6i, r6i and c7i, ``default_arm64`` from m6g, c6g, r6g and c7g.
DEFAULT_INSTANCE_FAMILIES: Mapping[str, tuple[str, ...]] = {
    "default_x86_64": ("m6i", "c6i", "r6i", "c7i"),
    "default_arm64": ("m6g", "c6g", "r6g", "c7g"),
}

_SIZE = re.compile(r"^(?:(?P<n>\d+)?xlarge|large|medium)$")


def _size_vcpus(size: str) -> int | None:
    if size == "medium":
        return 1
    if size == "large":
        return 2
    match = _SIZE.match(size)
    if not match or "xlarge" not in size:
        return None
    return 4 * int(match.group("n") or 1)


def instance_capacity(instance_type: str) -> InstanceCapacity | None:
    """Capacity of an instance type such as ``c6i.4xlarge``; None if not in the tables.

    Unknown types are not errors: a check that cannot know the capacity is skipped,
    so the library never rejects a configuration AWS would accept.
    """
    if instance_type in _GPU_TYPES:
        return _GPU_TYPES[instance_type]
    family_name, _, size = instance_type.partition(".")
    family = _FAMILIES.get(family_name)
    vcpus = _size_vcpus(size)
    if family is None or vcpus is None:
        return None
    return InstanceCapacity.from_installed(
        vcpus, vcpus * family.gib_per_vcpu, architecture=family.architecture
    )


def instance_class_capacity(instance_class: str) -> InstanceCapacity | None:
    """Capacity of the largest size of an instance family such as ``c6i``; None if unknown.

    ``optimal``, ``default_x86_64`` and ``default_arm64`` stand for the most vCPUs,
    memory and GPUs of the families Batch picks from for them.
    """
    if instance_class == "optimal" or instance_class in DEFAULT_INSTANCE_FAMILIES:
        # The most of each dimension over the families: never smaller than an
        # instance Batch could pick (c7i has the most vCPUs, r6i the most memory).
        families = DEFAULT_INSTANCE_FAMILIES.get(instance_class, OPTIMAL_FAMILIES)
        caps = [instance_class_capacity(f) for f in families]
        known = [c for c in caps if c is not None]
        return InstanceCapacity.most_of(known) if known else None
    if instance_class in GPU_FAMILIES:
        # Sizes of a GPU family do not scale together (g4dn.16xlarge has more vCPUs and
        # fewer GPUs than g4dn.12xlarge): the most of each dimension over them.
        return InstanceCapacity.most_of(_gpu_sizes(instance_class))
    family = _FAMILIES.get(instance_class)
    if family is None:
        return None
    return instance_capacity(f"{instance_class}.{family.largest_size}")


def instance_options(name: str) -> list[InstanceCapacity] | None:
    """The real instances an instance type, family or Batch alias can launch, as capacities.

    Every size of a family is dominated by its largest (a family's sizes keep one memory
    per vCPU), so a family is its largest size; a GPU family is each of its sizes (their
    GPUs do not scale with vCPUs); ``optimal`` and the ``default_*`` aliases are their
    families'. A job fits the name only if it fits one of these together. None when the
    name is not in the tables.
    """
    if name == "optimal" or name in DEFAULT_INSTANCE_FAMILIES:
        options: list[InstanceCapacity] = []
        for family in DEFAULT_INSTANCE_FAMILIES.get(name, OPTIMAL_FAMILIES):
            known = instance_options(family)
            if known is None:
                return None
            options += known
        return options
    if "." not in name and name in GPU_FAMILIES:
        return _gpu_sizes(name)
    capacity = instance_capacity(name) if "." in name else instance_class_capacity(name)
    return None if capacity is None else [capacity]


def _gpu_sizes(family: str) -> list[InstanceCapacity]:
    return [c for n, c in _GPU_TYPES.items() if n.split(".")[0] == family]


def instance_family_architecture(instance_type_or_class: str) -> str | None:
    """CPU architecture (``x86_64`` or ``arm64``) of an instance type or family; None if unknown."""
    name = instance_type_or_class.split(".")[0]
    if name in _FAMILIES:
        return _FAMILIES[name].architecture
    gpu = next((c for n, c in _GPU_TYPES.items() if n.split(".")[0] == name), None)
    if gpu is not None:
        return gpu.architecture
    if name in ("optimal", "default_x86_64"):
        return "x86_64"
    if name == "default_arm64":
        return "arm64"
    # Graviton families carry a "g" after the generation digit (c7g, m6gd, r8g).
    if re.match(r"^[a-z]+\d+g[a-z]*$", name):
        return "arm64"
    return None


# --- validators ---------------------------------------------------------------
def is_token(value: Any) -> bool:
    """Whether a value is an unresolved CDK token (only known at deploy)."""
    return Token.is_unresolved(value)


def check_range(argument: str, value: float | None, low: float, high: float) -> list[str]:
    """``argument must be between low and high, got value`` unless None, a token or in range."""
    if value is None or is_token(value) or low <= value <= high:
        return []
    return [f"{argument} must be between {_fmt(low)} and {_fmt(high)}, got {_fmt(value)}"]


def fargate_memory_choices(vcpus: float) -> tuple[int, ...]:
    """Memory values (MiB) Fargate accepts with this many vCPUs; empty if vCPUs invalid."""
    return FARGATE_MEMORY_MIB.get(float(vcpus), ())


def check_fargate_resources(
    vcpus: float, memory_mib: int, *, vcpus_arg: str = "vcpus", memory_arg: str = "memory"
) -> list[str]:
    """Fargate accepts only fixed vCPU values and, for each, a fixed set of memory sizes."""
    if is_token(vcpus) or is_token(memory_mib):
        return []
    allowed_vcpus = ", ".join(_fmt(v) for v in FARGATE_MEMORY_MIB)
    if float(vcpus) not in FARGATE_MEMORY_MIB:
        return [f"{vcpus_arg} on Fargate must be one of {allowed_vcpus}, got {_fmt(vcpus)}"]
    choices = fargate_memory_choices(vcpus)
    if memory_mib not in choices:
        return [
            f"{memory_arg} on Fargate with {_fmt(vcpus)} vCPU must be one of "
            f"{_describe_choices(choices)} MiB, got {memory_mib} MiB"
        ]
    return []


def check_ephemeral_storage(argument: str, gib: int | None) -> list[str]:
    """Fargate ephemeral storage is 21 to 200 GiB."""
    return check_range(argument, gib, MIN_EPHEMERAL_STORAGE_GIB, MAX_EPHEMERAL_STORAGE_GIB)


def check_env_names(argument: str, names: Iterable[str]) -> list[str]:
    """Environment variable names must not start with ``AWS_BATCH`` (reserved by Batch)."""
    return [
        f"{argument} names must not start with {RESERVED_ENV_PREFIX}, got {name!r}"
        for name in names
        if not is_token(name) and name.upper().startswith(RESERVED_ENV_PREFIX)
    ]


def raise_if_errors(errors: Sequence[str]) -> None:
    """Raise one ValueError listing every collected error, if there are any."""
    if errors:
        raise ValueError("; ".join(errors))


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _describe_choices(choices: Sequence[int]) -> str:
    if len(choices) <= 3:
        return ", ".join(str(c) for c in choices)
    step = choices[1] - choices[0]
    return f"{choices[0]} to {choices[-1]} in steps of {step}"


# --- AWS Batch: job resources and retry reasons ----------------------------------
#: A job must reserve at least 4 MiB of memory (ResourceRequirement API).
MIN_JOB_MEMORY_MIB = 4
#: Jobs on EC2 resources must reserve at least one vCPU (ResourceRequirement API).
MIN_EC2_JOB_VCPUS = 1
#: Status reason of a job whose Fargate Spot task was reclaimed: ECS stops the task
#: with "Your Spot Task was interrupted." (ECS task lifecycle docs); the trailing
#: asterisk matches the period and any later wording.
FARGATE_SPOT_RECLAIM_STATUS_REASON = "Your Spot Task was interrupted*"
#: Matches any exit code: a container that ran and exited non-zero (EvaluateOnExit API).
ANY_EXIT_CODE = "*"


# --- VPC and compute environments (network.py, compute.py) -------------------
#: IPv4 CIDR block of a VPC: prefix length /16 to /28 (Amazon VPC user guide,
#: "VPC CIDR blocks").
MIN_VPC_PREFIX_LENGTH = 16
MAX_VPC_PREFIX_LENGTH = 28
#: A VPC needs subnets in at least one Availability Zone.
MIN_MAX_AZS = 1
#: Availability Zones aws-cdk-lib can give a stack without an account and Region: it
#: falls back to ``Fn::GetAZs`` and selects the first two (``Stack.availabilityZones``).
AGNOSTIC_STACK_AZS = 2
#: Availability Zone names: the Region name and a letter (``us-east-1a``), or a Local
#: Zone (``us-west-2-lax-1a``) (EC2 user guide, "Regions and Zones").
AVAILABILITY_ZONE_PATTERN = r"[a-z]{2}(-[a-z0-9]+)+-\d[a-z]?(-[a-z]+-\d[a-z])?"
#: minvCpus of a managed compute environment is at least 0 (ComputeResource API).
MIN_VCPUS = 0
#: maxvCpus: the API takes 0, but a managed environment that can never launch
#: capacity leaves every job on its queues in RUNNABLE forever.
MIN_MAX_VCPUS = 1
#: unmanagedvCpus of an unmanaged compute environment is at least 0 (CreateComputeEnvironment API).
MIN_UNMANAGED_VCPUS = 0
#: The ECS-optimized AMIs (AL2, AL2023 and their GPU variants) ship a single 30 GiB
#: root volume; a launch template asking for a smaller root volume than the AMI's
#: snapshot fails every instance launch (ECS developer guide, "Amazon ECS-optimized
#: Linux AMI storage configuration"; EC2 block device mapping docs).
MIN_ECS_ROOT_VOLUME_GIB = 30
#: gp3 volume size, 1 GiB to 16 TiB (EBS user guide, "Amazon EBS volume types").
MAX_GP3_VOLUME_GIB = 16_384
#: Instance families the AL2023 ECS-optimized AMI does not support (Batch
#: Ec2Configuration API: "Amazon Linux 2023 does not support A1 instances").
AL2023_UNSUPPORTED_FAMILIES = ("a1",)


def check_at_least(argument: str, value: float | None, low: float) -> list[str]:
    """``argument must be at least low, got value`` unless None, a token or high enough."""
    if value is None or is_token(value) or value >= low:
        return []
    return [f"{argument} must be at least {_fmt(low)}, got {_fmt(value)}"]


# --- fair-share scheduling (SchedulingPolicy) ------------------------------------------
#: A share identifier: up to 255 letters and digits, optionally followed by ``*`` (a
#: prefix); at most 500 per queue; weight factors 0.0001 to 999.9999, lower getting
#: more (ShareAttributes API).
SHARE_IDENTIFIER_PATTERN = r"[A-Za-z0-9]{1,255}\*?"
MAX_SHARE_IDENTIFIERS = 500
MIN_WEIGHT_FACTOR = 0.0001
MAX_WEIGHT_FACTOR = 999.9999


# --- EventBridge Scheduler (Scheduler API: RetryPolicy, FlexibleTimeWindow) --------------
MIN_SCHEDULE_RETRY_ATTEMPTS = 0
MAX_SCHEDULE_RETRY_ATTEMPTS = 185
MIN_SCHEDULE_EVENT_AGE_SECONDS = 60
MAX_SCHEDULE_EVENT_AGE_SECONDS = 86_400
MIN_SCHEDULE_WINDOW_MINUTES = 1
MAX_SCHEDULE_WINDOW_MINUTES = 1_440
# --- EC2 instance types (CreateComputeEnvironment instanceTypes) -----------------------
#: Instance type names aws-cdk-lib 2.275 can parse: ``ec2.InstanceType`` derives the
#: architecture with this pattern and ``ManagedEc2EcsComputeEnvironment`` raises
#: "Malformed instance type identifier" for valid names it does not match
#: (``p6-b200.48xlarge``, ``u7i-12tb.224xlarge``, ``mac2-m2.metal``).
CDK_INSTANCE_TYPE_PATTERN = r"[a-z]+\d{1,2}[a-z\-]*\.[a-z0-9\-]+"
#: Names Batch accepts in instanceTypes besides EC2 types and families (ComputeResource API).
BATCH_INSTANCE_TYPE_ALIASES = ("optimal", "default_x86_64", "default_arm64")


@functools.cache
def ec2_instance_types() -> frozenset[str]:
    """Every EC2 instance type name of the installed botocore's EC2 model (its InstanceType enum).

    Loaded on first use (about half a second), never when no instance type is named.
    """
    model = botocore.loaders.Loader().load_service_model("ec2", "service-2")
    return frozenset(model["shapes"]["InstanceType"]["enum"])


def ec2_instance_families() -> frozenset[str]:
    """Every EC2 instance family (``c6i``) of the installed botocore's EC2 model."""
    return frozenset(name.split(".")[0] for name in ec2_instance_types())


def check_instance_type_names(argument: str, names: Sequence[str]) -> list[str]:
    """Each name must be an EC2 instance type (or, without a size, a family) botocore knows.

    botocore's EC2 model lists every instance type the EC2 API accepts as of its
    release; a type launched later needs a newer botocore, which the message says.
    """
    errors = []
    for index, name in enumerate(names):
        if is_token(name) or name in BATCH_INSTANCE_TYPE_ALIASES:
            continue
        known = ec2_instance_types() if "." in name else ec2_instance_families()
        if name not in known:
            kind = "an EC2 instance type" if "." in name else "an EC2 instance family"
            errors.append(
                f"{argument}[{index}] must be {kind} ({len(known)} known to botocore "
                f"{botocore.__version__}; upgrade botocore for types launched since), "
                f"got {name!r}"
            )
        elif "." in name and not re.fullmatch(CDK_INSTANCE_TYPE_PATTERN, name):
            errors.append(
                f"{argument}[{index}] must be an instance type aws-cdk-lib can parse "
                f"(ManagedEc2EcsComputeEnvironment raises 'Malformed instance type "
                f"identifier' for it), got {name!r}; its family in instance_classes "
                "works where ec2.InstanceClass has it"
            )
    return errors


#: NVIDIA GPU families (EC2 accelerated computing docs; eksctl's generated
#: instance_types.go, NvidiaGPUSupported): their jobs need the ECS_AL2023_NVIDIA image.
#: Graviton ones (g5g, p6e-gb200) are listed too: the NVIDIA ECS image is for x86_64
#: only (Ec2Configuration API), so Batch cannot run GPU jobs on them.
NVIDIA_GPU_FAMILIES = frozenset(
    {
        "g3", "g3s", "g4dn", "g5", "g5g", "g6", "g6e", "g6f", "g7", "g7e", "gr6", "gr6f",
        "p2", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300",
        "p6e-gb200",
    }
)  # fmt: skip
#: Families the ECS_AL2023_NVIDIA image does not support (Ec2Configuration API:
#: "ECS_AL2023_NVIDIA doesn't support p3 and g3 instance types").
AL2023_NVIDIA_UNSUPPORTED_FAMILIES = ("p3", "g3")

#: ECS-optimized AMIs by their public SSM parameter prefix (ECS developer guide,
#: "Retrieving Amazon ECS-optimized Linux AMI metadata"): Batch image type and CPU
#: architecture. The AL2 ones are refused: Batch blocks new ECS compute environments
#: on AL2 AMIs from 2026-06-30, when AWS ended their support (Batch user guide,
#: "Amazon Linux 2023 migration").
ECS_AMI_PARAMETERS: Mapping[str, tuple[str, str]] = {
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/": ("ECS_AL2023_NVIDIA", "x86_64"),
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/": ("ECS_AL2023", "arm64"),
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/": ("ECS_AL2023", "x86_64"),
    "/aws/service/ecs/optimized-ami/amazon-linux-2/gpu/": ("ECS_AL2_NVIDIA", "x86_64"),
    "/aws/service/ecs/optimized-ami/amazon-linux-2/arm64/": ("ECS_AL2", "arm64"),
    "/aws/service/ecs/optimized-ami/amazon-linux-2/": ("ECS_AL2", "x86_64"),
}
#: Image types Batch no longer creates compute environments with (see above).
RETIRED_IMAGE_TYPES = ("ECS_AL2", "ECS_AL2_NVIDIA")

#: EFA-capable instance types (eksctl's instance_types.go, EFASupported, generated from
#: EC2 DescribeInstanceTypes; metal sizes from the EC2 user guide's EFA page). A size
#: missing from a family listed here has no EFA; a family missing entirely may be newer
#: than this table (``aws ec2 describe-instance-types --filters
#: Name=network-info.efa-supported,Values=true`` lists the current ones).
EFA_INSTANCE_TYPES = frozenset(
    """
    c5n.9xlarge c5n.18xlarge c5n.metal c6a.48xlarge c6a.metal c6gn.16xlarge c6i.32xlarge
    c6i.metal c6id.32xlarge c6id.metal c6in.32xlarge c7a.48xlarge c7g.16xlarge
    c7gd.16xlarge c7gn.16xlarge c7i.48xlarge c8a.48xlarge c8g.24xlarge c8g.48xlarge
    c8gb.16xlarge c8gb.24xlarge c8gb.48xlarge c8gd.24xlarge c8gd.48xlarge c8gn.16xlarge
    c8gn.24xlarge c8gn.48xlarge c8i.48xlarge c8i.96xlarge c8ib.48xlarge c8ib.96xlarge
    c8id.48xlarge c8id.96xlarge c8in.48xlarge c8in.96xlarge c9g.48xlarge c9gd.48xlarge
    dl2q.24xlarge f2.48xlarge g4dn.8xlarge g4dn.12xlarge g4dn.16xlarge g4dn.metal
    g5.8xlarge g5.12xlarge g5.16xlarge g5.24xlarge g5.48xlarge g6.8xlarge g6.12xlarge
    g6.16xlarge g6.24xlarge g6.48xlarge g6e.8xlarge g6e.12xlarge g6e.16xlarge g6e.24xlarge
    g6e.48xlarge g7.8xlarge g7.12xlarge g7.24xlarge g7.48xlarge g7e.8xlarge g7e.12xlarge
    g7e.24xlarge g7e.48xlarge gr6.8xlarge hpc6a.48xlarge hpc6id.32xlarge hpc7a.12xlarge
    hpc7a.24xlarge hpc7a.48xlarge hpc7a.96xlarge hpc7g.4xlarge hpc7g.8xlarge hpc7g.16xlarge
    hpc8a.96xlarge i3en.12xlarge i3en.24xlarge i3en.metal i4g.16xlarge i4i.32xlarge
    i4i.metal i7i.24xlarge i7i.48xlarge i7ie.48xlarge i8g.48xlarge i8ge.48xlarge
    im4gn.16xlarge inf1.24xlarge m5dn.24xlarge m5dn.metal m5n.24xlarge m5n.metal
    m5zn.12xlarge m5zn.metal m6a.48xlarge m6a.metal m6i.32xlarge m6i.metal m6id.32xlarge
    m6id.metal m6idn.32xlarge m6in.32xlarge m7a.48xlarge m7g.16xlarge m7gd.16xlarge
    m7i.48xlarge m8a.48xlarge m8azn.24xlarge m8g.24xlarge m8g.48xlarge m8gb.16xlarge
    m8gb.24xlarge m8gb.48xlarge m8gd.24xlarge m8gd.48xlarge m8gn.16xlarge m8gn.24xlarge
    m8gn.48xlarge m8i.48xlarge m8i.96xlarge m8ib.48xlarge m8ib.96xlarge m8id.48xlarge
    m8id.96xlarge m8idb.48xlarge m8idb.96xlarge m8idn.48xlarge m8idn.96xlarge m8in.48xlarge
    m8in.96xlarge m9g.48xlarge m9gd.48xlarge p3dn.24xlarge p4d.24xlarge p4de.24xlarge
    p5.4xlarge p5.48xlarge p5e.48xlarge p5en.48xlarge p6-b200.48xlarge p6-b300.48xlarge
    r5dn.24xlarge r5dn.metal r5n.24xlarge r5n.metal r6a.48xlarge r6a.metal r6i.32xlarge
    r6i.metal r6id.32xlarge r6id.metal r6idn.32xlarge r6in.32xlarge r7a.48xlarge
    r7g.16xlarge r7gd.16xlarge r7i.48xlarge r7iz.32xlarge r8a.48xlarge r8g.24xlarge
    r8g.48xlarge r8gb.16xlarge r8gb.24xlarge r8gb.48xlarge r8gd.24xlarge r8gd.48xlarge
    r8gn.16xlarge r8gn.24xlarge r8gn.48xlarge r8i.48xlarge r8i.96xlarge r8ib.48xlarge
    r8ib.96xlarge r8id.48xlarge r8id.96xlarge r8idb.48xlarge r8idb.96xlarge r8idn.48xlarge
    r8idn.96xlarge r8in.48xlarge r8in.96xlarge r9g.48xlarge r9gd.48xlarge trn1.32xlarge
    trn1n.32xlarge trn2.48xlarge u7i-12tb.224xlarge u7i-6tb.112xlarge u7i-8tb.112xlarge
    u7in-16tb.224xlarge u7in-24tb.224xlarge u7in-32tb.224xlarge vt1.24xlarge
    x2idn.32xlarge x2iedn.32xlarge x2iezn.12xlarge x2iezn.metal x8aedz.24xlarge
    x8g.24xlarge x8g.48xlarge x8i.48xlarge x8i.64xlarge x8i.96xlarge
    """.split()  # noqa: SIM905 (a word list reads better than 205 quoted names)
)
#: The device an EFA job maps into its containers (Batch user guide, "Use EFA").
EFA_DEVICE_PATH = "/dev/infiniband/uverbs0"
#: Families with at least one EFA-capable size.
EFA_FAMILIES = frozenset(name.split(".")[0] for name in EFA_INSTANCE_TYPES)

# --- security groups and subnets (CreateComputeEnvironment ComputeResource) --------------
#: Fargate compute environments and environments running multi-node parallel jobs take
#: 1 to 5 security groups (ComputeResource securityGroupIds; MNP compute environment
#: guide). Plain EC2 is bounded by the adjustable per-ENI VPC quota (5 by default): warned.
MAX_SECURITY_GROUPS = 5
#: Fargate compute environments take at most 16 subnets (ComputeResource subnets).
MAX_FARGATE_SUBNETS = 16

# --- job definitions: containers, volumes, Linux parameters (RegisterJobDefinition) ------
#: Volume and container names: up to 255 letters, digits, hyphens and underscores
#: (Volume name; ECS ContainerDefinition name, which Batch passes through).
NAME_PATTERN = r"[A-Za-z0-9_-]{1,255}"
#: EFS rootDirectory is at most 4,096 characters; transitEncryptionPort 0 to 65,535
#: (EFSVolumeConfiguration API).
MAX_EFS_ROOT_DIRECTORY_LENGTH = 4096
MAX_PORT = 65_535
#: Linux parameters Fargate refuses ("isn't applicable to jobs that are running on
#: Fargate resources"; LinuxParameters API): initProcessEnabled is the one it allows.
FARGATE_REFUSED_LINUX_PARAMETERS = {
    "devices": "devices",
    "sharedMemorySize": "shared_memory_size",
    "tmpfs": "tmpfs",
    "maxSwap": "max_swap",
    "swappiness": "swappiness",
}
#: Log drivers of jobs on Fargate (LogConfiguration logDriver: "restricted to the
#: awslogs and splunk log drivers").
FARGATE_LOG_DRIVERS = ("awslogs", "splunk")
#: Containers of one multi-container job: "the task element can run up to 10
#: containers" (EcsProperties API).
MAX_CONTAINERS_PER_JOB = 10
#: Dependency conditions Batch supports between containers (TaskContainerDependency
#: API). ECS's HEALTHY is not one: Batch containers have no health check.
CONTAINER_CONDITIONS = ("START", "COMPLETE", "SUCCESS")
#: Consumable resources per job ("up to 5 resources for each job you define": Batch
#: user guide, "resource-aware scheduling").
MAX_CONSUMABLE_RESOURCES_PER_JOB = 5

# --- multi-node parallel jobs (NodeProperties) -------------------------------------------
#: Nodes per job: the default quota (Batch user guide, "Multi-node parallel jobs";
#: adjustable, so more is a warning) and node groups (hard limit, "Node groups").
MAX_NODES = 1000
MAX_NODE_GROUPS = 5


# --- DynamoDB warm throughput (the pipeline's table) -------------------------------------
#: Write units per second a new on-demand table sustains without pre-warming, so the
#: smallest warm throughput worth setting is above it (DynamoDB developer guide,
#: "Understanding DynamoDB warm throughput in different scenarios": a new on-demand table
#: starts at 12,000 read and 4,000 write units per second). CloudFormation's own minimum
#: for ``WarmThroughput.WriteUnitsPerSecond`` is 1 (an integer).
NEW_TABLE_WARM_WRITE_UNITS = 4_000
#: Table-level write throughput of on-demand tables, a default quota that can be raised
#: (DynamoDB developer guide, "DynamoDB maximum throughput for on-demand tables": 40,000
#: table-level read and write throughput by default). Warm throughput above it needs the
#: raised quota first.
DEFAULT_TABLE_WRITE_QUOTA = 40_000
