"""One container of a job definition: its rules and how it is built.

:class:`ContainerSpec` holds what a job says about one container (image, resources,
environment, secrets, file system) and is shared by every job the library builds
(``ContainerJob``, its sidecars, each node range of a ``MultiNodeJob``), so that each
rule AWS enforces on a container lives in one place. It builds the aws-cdk-lib L2
container definition (Fargate or EC2), which stays the escape hatch.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

import jsii
from aws_cdk import Acknowledgment, Size, SizeRoundingBehavior, Stack, Validations
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IValidation

from constructs_batch import limits
from constructs_batch.volumes import secure_volume, volume_errors

__all__ = [
    "DEFAULT_SCRATCH_PATH",
    "SCRATCH_VOLUME",
    "ContainerSpec",
    "FargateSettings",
    "SecretSource",
]

#: Writable scratch mounted over a read-only root file system (temporary files).
DEFAULT_SCRATCH_PATH = "/tmp"
SCRATCH_VOLUME = "scratch"

#: What a secret can be given as: a Secrets Manager secret (all of it), a secret and
#: one of its JSON fields, an SSM parameter, or a ``batch.Secret`` built by hand.
SecretSource: TypeAlias = (
    batch.Secret | secretsmanager.ISecret | tuple[secretsmanager.ISecret, str] | ssm.IParameter
)

Container: TypeAlias = batch.EcsFargateContainerDefinition | batch.EcsEc2ContainerDefinition


@dataclass(frozen=True)
class FargateSettings:
    """What only a Fargate container has.

    Args:
        assign_public_ip: give the task a public IP.
        ephemeral_storage: task storage; None for Fargate's 20 GiB.
        cpu_architecture: X86_64 or ARM64; None for Fargate's default (X86_64).
    """

    assign_public_ip: bool = False
    ephemeral_storage: Size | None = None
    cpu_architecture: ecs.CpuArchitecture | None = None


@dataclass(frozen=True)
class ContainerSpec:
    """One container: what it runs, what it reserves, what it reads and mounts.

    Args:
        image: the container image.
        vcpus: vCPUs to reserve.
        memory: memory to reserve.
        gpus: GPUs to reserve (EC2 only). Default: 0.
        command: the command. Default: None (the image's CMD).
        environment: environment variables. Default: none.
        secrets: environment variables read from Secrets Manager or SSM. Default: none.
        user: the user to run as. Default: None (the image's USER).
        readonly_root_filesystem: mount the root file system read only. Default: True.
        scratch_path: where the writable scratch volume goes under a read-only root;
            None for none. Default: ``DEFAULT_SCRATCH_PATH``.
        volumes: data volumes (EFS or host), each with its mount point; EFS ones get
            transit encryption and IAM authorization unless they turn them off.
            Default: none.
        linux_parameters: shared memory, devices, tmpfs, swap, init process.
            Default: None.
        ulimits: resource limits (EC2 only). Default: none.
        privileged: run with the host's privileges (EC2 only). Default: False.
        argument_prefix: put before argument names in messages (``sidecars[0].``).
            Default: "".
    """

    image: ecs.ContainerImage
    vcpus: float
    memory: Size
    gpus: int = 0
    command: Sequence[str] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretSource] = field(default_factory=dict)
    user: str | None = None
    readonly_root_filesystem: bool = True
    scratch_path: str | None = DEFAULT_SCRATCH_PATH
    volumes: Sequence[batch.EcsVolume] = ()
    linux_parameters: batch.LinuxParameters | None = None
    ulimits: Sequence[batch.Ulimit] = ()
    privileged: bool = False
    argument_prefix: str = ""

    @property
    def memory_mib(self) -> float:
        """The memory in MiB (a fraction when the size is not a whole MiB)."""
        return self.memory.to_mebibytes(rounding=SizeRoundingBehavior.NONE)

    @property
    def has_scratch(self) -> bool:
        """Whether the container gets the scratch volume (read-only root and a path)."""
        return self.readonly_root_filesystem and bool(self.scratch_path)

    @functools.cached_property
    def data_volumes(self) -> tuple[batch.EcsVolume, ...]:
        """``volumes`` with the secure EFS defaults filled in (see :func:`secure_volume`)."""
        return tuple(secure_volume(volume) for volume in self.volumes)

    @functools.cached_property
    def scratch_volume(self) -> batch.EcsVolume | None:
        """The scratch volume, first of the container's volumes; None without one."""
        if not self.has_scratch:
            return None
        assert self.scratch_path is not None
        return batch.EcsVolume.host(
            name=SCRATCH_VOLUME, container_path=self.scratch_path, readonly=False
        )

    def errors(self, *, fargate: bool) -> list[str]:
        """Why AWS would refuse this container on Fargate (or EC2); empty if it would not."""
        return [
            *self._resource_errors(fargate),
            *self._environment_errors(),
            *volume_errors(
                self.data_volumes,
                fargate=fargate,
                argument=f"{self.argument_prefix}volumes",
                reserved=[self.scratch_volume] if self.scratch_volume else [],
            ),
            *self._linux_errors(fargate),
        ]

    def build(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_role: iam.IRole,
        logging: ecs.LogDriver,
        fargate: FargateSettings | None = None,
        execution_role: iam.IRole | None = None,
        enable_execute_command: bool = False,
    ) -> Container:
        """The aws-cdk-lib container definition: Fargate with ``fargate`` settings, else EC2.

        The L2 creates the execution role unless one is given, and grants it the
        secrets, the image pull and the log writes; with ``enable_execute_command`` it
        grants the job role the ``ssmmessages`` channels ECS Exec needs.
        """
        common: dict[str, Any] = {
            "image": self.image,
            "cpu": self.vcpus,
            "memory": self.memory,
            "command": list(self.command) if self.command is not None else None,
            "environment": dict(self.environment) or None,
            "secrets": {name: to_batch_secret(src) for name, src in self.secrets.items()} or None,
            "job_role": job_role,
            "execution_role": execution_role,
            "logging": logging,
            "readonly_root_filesystem": self.readonly_root_filesystem,
            "user": self.user,
            "volumes": self._volumes() or None,
            "linux_parameters": self.linux_parameters,
            "enable_execute_command": enable_execute_command or None,
        }
        if fargate is not None:
            return batch.EcsFargateContainerDefinition(
                scope,
                construct_id,
                assign_public_ip=fargate.assign_public_ip,
                ephemeral_storage_size=fargate.ephemeral_storage,
                fargate_cpu_architecture=fargate.cpu_architecture,
                **common,
            )
        return batch.EcsEc2ContainerDefinition(
            scope,
            construct_id,
            gpu=self.gpus or None,
            ulimits=list(self.ulimits) or None,
            privileged=self.privileged or None,
            **common,
        )

    def finish(self, job_definition: batch.CfnJobDefinition, path: str) -> None:
        """What the L1 needs once the container is rendered at ``path`` of the job definition.

        The scratch volume (the first volume) is rendered as a name only: a volume with
        a name only is task storage on Fargate and a Docker-managed empty volume on EC2
        (writable, private to the job, gone with it), while the L2 renders
        ``EcsVolume.host()`` without a host path as ``Host: {}``, which Fargate refuses
        ("host ... shouldn't be provided"). Only that key of the library's own volume
        is deleted: every other volume and mount point stays the L2's, including those
        a user adds later with ``container.add_volume(...)``.
        """
        if self.has_scratch:
            job_definition.add_property_deletion_override(f"{path}.Volumes.0.Host")

    def _volumes(self) -> list[batch.EcsVolume]:
        scratch = [self.scratch_volume] if self.scratch_volume else []
        return [*scratch, *self.data_volumes]

    def check_later(self, container: Container, *, fargate: bool) -> IValidation:
        """A validation, run at synth, of the volumes ``container`` ends up with.

        It catches what the escape hatch adds after construction
        (``container.add_volume(...)``) with the rules the constructor applies.
        """
        return _ContainerValidation(self, container, fargate)

    def _resource_errors(self, fargate: bool) -> list[str]:
        p = self.argument_prefix
        errors = []
        vcpus, memory_mib = self.vcpus, self.memory_mib
        if not limits.is_token(vcpus):
            if vcpus <= 0:
                errors.append(f"{p}vcpus must be greater than 0, got {_fmt(vcpus)}")
            elif not fargate and vcpus < limits.MIN_EC2_JOB_VCPUS:
                errors.append(
                    f"{p}vcpus on EC2 must be at least {limits.MIN_EC2_JOB_VCPUS}, "
                    f"got {_fmt(vcpus)}"
                )
            elif not fargate and not float(vcpus).is_integer():
                errors.append(f"{p}vcpus on EC2 must be a whole number, got {_fmt(vcpus)}")
        if not float(memory_mib).is_integer():
            errors.append(f"{p}memory must be a whole number of MiB, got {memory_mib} MiB")
        elif memory_mib < limits.MIN_JOB_MEMORY_MIB:
            errors.append(
                f"{p}memory must be at least {limits.MIN_JOB_MEMORY_MIB} MiB, "
                f"got {_fmt(memory_mib)} MiB"
            )
        if self.gpus < 0:
            errors.append(f"{p}gpus must be 0 or more, got {self.gpus}")
        return errors

    def _linux_errors(self, fargate: bool) -> list[str]:
        p = self.argument_prefix
        errors = linux_parameter_errors(self.linux_parameters, fargate=fargate, prefix=p)
        if fargate and self.ulimits:
            names = [u.name.value.lower() for u in self.ulimits]
            errors.append(f"{p}ulimits must be empty on Fargate (EC2 only), got {names}")
        seen: set[str] = set()
        for index, ulimit in enumerate(self.ulimits):
            name = ulimit.name.value.lower()
            if name in seen:
                errors.append(f"{p}ulimits[{index}] must name a limit once, got {name!r} again")
            seen.add(name)
            soft, hard = ulimit.soft_limit, ulimit.hard_limit
            if any(limits.is_token(v) for v in (soft, hard)):
                continue
            if soft < 0 or hard < 0 or soft > hard:
                errors.append(
                    f"{p}ulimits[{index}] ({name}) must have 0 <= soft_limit <= hard_limit, "
                    f"got soft {soft}, hard {hard}"
                )
        if fargate and self.privileged:
            errors.append(f"{p}privileged must be False on Fargate (EC2 only), got True")
        return errors

    def _environment_errors(self) -> list[str]:
        p = self.argument_prefix
        errors = [
            *limits.check_env_names(f"{p}environment", self.environment),
            *limits.check_env_names(f"{p}secrets", self.secrets),
        ]
        both = sorted(set(self.environment) & set(self.secrets))
        if both:
            errors.append(f"{p}secrets must not repeat names set in {p}environment, got {both}")
        for name, source in self.secrets.items():
            if _kind_of_secret(source) is None:
                errors.append(
                    f"{p}secrets[{name!r}] must be a batch.Secret, a secretsmanager.ISecret, "
                    f"an (ISecret, field) tuple or an ssm.IParameter, got {source!r}"
                )
        return errors


@jsii.implements(IValidation)
class _ContainerValidation:
    def __init__(self, spec: ContainerSpec, container: Container, fargate: bool) -> None:
        self._spec = spec
        self._container = container
        self._fargate = fargate

    def validate(self) -> list[str]:
        volumes = list(self._container.volumes)
        reserved = volumes[:1] if self._spec.has_scratch else []
        return volume_errors(
            volumes[len(reserved) :],
            fargate=self._fargate,
            argument=f"{self._container.node.path} volumes",
            reserved=reserved,
        )


def linux_parameter_errors(
    parameters: batch.LinuxParameters | None, *, fargate: bool, prefix: str = ""
) -> list[str]:
    """Why AWS would refuse these Linux parameters (LinuxParameters API); empty if it would not.

    Fargate takes only ``init_process_enabled``; sizes are positive, tmpfs paths
    absolute. (aws-cdk-lib drops ``swappiness`` without ``max_swap`` when the object is
    built, so that mistake cannot be seen here.)
    """
    if parameters is None:
        return []
    arg = f"{prefix}linux_parameters"
    rendered: dict[str, Any] = Stack.of(parameters).resolve(parameters.render_linux_parameters())
    errors = []
    if fargate:
        refused = [
            name
            for key, name in limits.FARGATE_REFUSED_LINUX_PARAMETERS.items()
            if rendered.get(key)
        ]
        if refused:
            errors.append(
                f"{arg} must set only init_process_enabled on Fargate (the others are EC2 "
                f"only), got {', '.join(refused)}"
            )
    shared_memory = rendered.get("sharedMemorySize")
    if isinstance(shared_memory, int | float) and shared_memory <= 0:
        errors.append(f"{arg}.shared_memory_size must be more than 0 MiB, got {shared_memory}")
    for index, tmpfs in enumerate(rendered.get("tmpfs") or []):
        path, size = tmpfs.get("containerPath"), tmpfs.get("size")
        if isinstance(path, str) and not path.startswith("/"):
            errors.append(f"{arg} tmpfs[{index}] container_path must be absolute, got {path!r}")
        if isinstance(size, int | float) and size <= 0:
            errors.append(f"{arg} tmpfs[{index}] size must be more than 0 MiB, got {size}")
    return errors


def log_driver_errors(driver: ecs.LogDriver | None, *, fargate: bool) -> list[str]:
    """Fargate jobs log with awslogs or splunk only (LogConfiguration logDriver)."""
    name = log_driver_name(driver)
    if not fargate or name is None or name in limits.FARGATE_LOG_DRIVERS:
        return []
    return [
        f"log_driver on Fargate must be one of {', '.join(limits.FARGATE_LOG_DRIVERS)}, got {name}"
    ]


#: The Docker log driver each aws-cdk-lib log driver class configures.
_LOG_DRIVER_NAMES: tuple[tuple[type, str], ...] = (
    (ecs.AwsLogDriver, "awslogs"),
    (ecs.SplunkLogDriver, "splunk"),
    (ecs.FireLensLogDriver, "awsfirelens"),
    (ecs.FluentdLogDriver, "fluentd"),
    (ecs.GelfLogDriver, "gelf"),
    (ecs.JournaldLogDriver, "journald"),
    (ecs.JsonFileLogDriver, "json-file"),
    (ecs.SyslogLogDriver, "syslog"),
)


def log_driver_name(driver: ecs.LogDriver | None) -> str | None:
    """``awslogs``, ``splunk``...; None for no driver or a ``GenericLogDriver``."""
    return next((name for kind, name in _LOG_DRIVER_NAMES if isinstance(driver, kind)), None)


def job_size_errors(
    *, vcpus: float, memory_mib: float, gpus: int, fargate: bool, label: str = ""
) -> list[str]:
    """Fargate's rules for the size of a whole job: no GPU, one of its vCPU/memory pairs.

    Args:
        vcpus, memory_mib, gpus: what the job reserves (all containers together).
        fargate: whether it is a Fargate job; EC2 jobs have no such rule.
        label: put after the argument names in messages (`` of all containers``).
    """
    if not fargate:
        return []
    errors = []
    if gpus > 0:
        errors.append(f"gpus{label} must be 0 on Fargate (GPUs are EC2 only), got {gpus}")
    errors.extend(
        limits.check_fargate_resources(
            vcpus, int(memory_mib), vcpus_arg=f"vcpus{label}", memory_arg=f"memory{label}"
        )
    )
    return errors


def acknowledge_image_pull(execution_role: iam.IRole, images: Sequence[ecs.ContainerImage]) -> None:
    """Acknowledge the ``ecr:GetAuthorizationToken`` wildcard the L2 grants for ECR images."""
    if any(isinstance(image, ecs.EcrImage | ecs.AssetImage) for image in images):
        Validations.of(execution_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="ecr:GetAuthorizationToken, needed to pull from ECR, supports no "
                "resource-level permissions; the image pull itself is scoped to the repository",
            )
        )


def acknowledge_execute_command(job_role: iam.IRole) -> None:
    """Acknowledge the ``ssmmessages`` wildcard aws-cdk-lib grants the job role for ECS Exec."""
    if isinstance(job_role, Construct):
        Validations.of(job_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="ECS Exec: ssmmessages:CreateControlChannel, CreateDataChannel, "
                "OpenControlChannel and OpenDataChannel support no resource-level "
                "permissions (ECS developer guide, ECS Exec IAM permissions)",
            )
        )


def to_batch_secret(source: SecretSource) -> batch.Secret:
    """A ``batch.Secret`` for any :data:`SecretSource`."""
    kind = _kind_of_secret(source)
    if kind == "batch":
        return cast(batch.Secret, source)
    if kind == "field":
        secret, field_name = cast(tuple[secretsmanager.ISecret, str], source)
        return batch.Secret.from_secrets_manager(secret, field_name)
    if kind == "secret":
        return batch.Secret.from_secrets_manager(cast(secretsmanager.ISecret, source))
    return batch.Secret.from_ssm_parameter(cast(ssm.IParameter, source))


def _kind_of_secret(source: object) -> str | None:
    # jsii interfaces are not runtime-checkable: recognise them by their attributes.
    if isinstance(source, batch.Secret):
        return "batch"
    if (
        isinstance(source, tuple)
        and len(source) == 2
        and hasattr(source[0], "secret_arn")
        and isinstance(source[1], str)
    ):
        return "field"
    if hasattr(source, "secret_arn"):
        return "secret"
    if hasattr(source, "parameter_arn"):
        return "parameter"
    return None


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
