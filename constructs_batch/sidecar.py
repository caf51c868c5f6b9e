"""Sidecar containers of a job: a multi-container job definition (``ecsProperties``).

aws-cdk-lib 2.275 has no L2 for multi-container Batch jobs (aws-cdk issue #29326), so
:func:`render_multi_container` builds the L1's ``EcsProperties`` from the L2 container
definitions: each container, the main one and every sidecar, is an aws-cdk-lib
``EcsEc2ContainerDefinition`` / ``EcsFargateContainerDefinition`` built like any other
(so its image pull, secrets and log writes are granted the usual way), and its
rendering is moved into ``EcsProperties.TaskProperties[0].Containers``. The lists stay
the L2's lazy ones: a volume added later with ``container.add_volume(...)`` still shows.

Batch's rules (EcsProperties, EcsTaskProperties, TaskContainerProperties and
TaskContainerDependency API) are in :func:`sidecar_errors`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsii
from aws_cdk import IAnyProducer, IResolveContext, Lazy, Size
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from constructs_batch import limits
from constructs_batch._arguments import checked_arguments
from constructs_batch._container import ContainerSpec, SecretSource

__all__ = ["MAIN_CONTAINER", "Sidecar"]

#: The name of the job's own container in a multi-container job.
MAIN_CONTAINER = "main"

_Condition = ecs.ContainerDependencyCondition


@dataclass(frozen=True)
class Sidecar:
    """A container beside the job's main one: a log or metrics agent, a proxy, a setup step.

    Args:
        name: its name, 1 to 255 letters, digits, ``-`` and ``_`` (not ``main``).
        image: its image.
        vcpus: vCPUs it reserves, added to the job's (on EC2 a whole number).
        memory: memory it reserves, added to the job's.
        command: its command. Default: None (the image's CMD).
        environment: its environment variables. Default: none.
        secrets: environment variables read from Secrets Manager or SSM, as for the
            job. Default: none.
        essential: stop the job when this container stops. Default: False (an agent
            that exits does not end the job).
        main_waits_for: what the main container waits for before it starts:
            ``START`` (the sidecar has started: an agent that must listen first),
            ``COMPLETE`` or ``SUCCESS`` (it has exited, with 0 for SUCCESS: a setup
            step; only for a sidecar that is not essential), or None to start both
            at once. ``HEALTHY`` is refused: Batch containers have no health check.
            Default: ``START``.
        depends_on: other sidecars this one waits for, by name, with the condition.
            Default: none.
        readonly_root_filesystem: mount its root file system read only; it then
            shares the job's scratch volume. Default: True.
        user: the user it runs as. Default: None (the image's USER).
    """

    name: str
    image: ecs.ContainerImage
    vcpus: float
    memory: Size
    command: Sequence[str] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretSource] = field(default_factory=dict)
    essential: bool = False
    main_waits_for: ecs.ContainerDependencyCondition | None = _Condition.START
    depends_on: Mapping[str, ecs.ContainerDependencyCondition] = field(default_factory=dict)
    readonly_root_filesystem: bool = True
    user: str | None = None

    def spec(self, index: int, scratch_path: str | None) -> ContainerSpec:
        """This sidecar as a container spec (messages name ``sidecars[index]``)."""
        return ContainerSpec(
            image=self.image,
            vcpus=self.vcpus,
            memory=self.memory,
            command=self.command,
            environment=self.environment,
            secrets=self.secrets,
            user=self.user,
            readonly_root_filesystem=self.readonly_root_filesystem,
            scratch_path=scratch_path,
            argument_prefix=f"sidecars[{index}].",
        )


# secrets: their own check names the kinds of secret allowed.
Sidecar.__init__ = checked_arguments(skip=("secrets",))(Sidecar.__init__)  # type: ignore[method-assign]


def sidecar_errors(sidecars: Sequence[Sidecar], *, fargate: bool) -> list[str]:
    """Why AWS would refuse these sidecars beside the main container; empty if it would not."""
    if not sidecars:
        return []
    errors = []
    if len(sidecars) + 1 > limits.MAX_CONTAINERS_PER_JOB:
        errors.append(
            f"sidecars must be at most {limits.MAX_CONTAINERS_PER_JOB - 1} (a job runs up to "
            f"{limits.MAX_CONTAINERS_PER_JOB} containers with the main one), got {len(sidecars)}"
        )
    names = [MAIN_CONTAINER]
    for index, sidecar in enumerate(sidecars):
        where = f"sidecars[{index}]"
        if not re.fullmatch(limits.NAME_PATTERN, sidecar.name):
            errors.append(
                f"{where}.name must be 1 to 255 letters, digits, '-' and '_', got {sidecar.name!r}"
            )
        elif sidecar.name in names:
            errors.append(
                f"{where}.name must be unique and not {MAIN_CONTAINER!r}, got {sidecar.name!r}"
            )
        names.append(sidecar.name)
        errors += sidecar.spec(index, None).errors(fargate=fargate)
    essential = {s.name: s.essential for s in sidecars} | {MAIN_CONTAINER: True}
    for index, sidecar in enumerate(sidecars):
        where = f"sidecars[{index}]"
        waits = [(MAIN_CONTAINER, sidecar.name, sidecar.main_waits_for, f"{where}.main_waits_for")]
        waits += [
            (sidecar.name, target, condition, f"{where}.depends_on[{target!r}]")
            for target, condition in sidecar.depends_on.items()
        ]
        for _, target, condition, argument in waits:
            errors += _dependency_errors(argument, target, condition, essential)
    errors += _cycle_errors(sidecars)
    return errors


def _dependency_errors(
    argument: str, target: str, condition: _Condition | None, essential: Mapping[str, bool]
) -> list[str]:
    if condition is None:
        return []
    if target not in essential:
        return [f"{argument} must name a sidecar, got {target!r}"]
    if condition.value not in limits.CONTAINER_CONDITIONS:
        return [
            f"{argument} must be one of {', '.join(limits.CONTAINER_CONDITIONS)} (Batch "
            f"containers have no health check, so HEALTHY never comes), got {condition.value}"
        ]
    if condition.value != "START" and essential[target]:
        return [
            f"{argument} must be START for the essential container {target!r} (COMPLETE and "
            f"SUCCESS wait for a container that is not essential), got {condition.value}"
        ]
    return []


def _cycle_errors(sidecars: Sequence[Sidecar]) -> list[str]:
    graph: dict[str, set[str]] = {MAIN_CONTAINER: set()}
    for sidecar in sidecars:
        graph.setdefault(sidecar.name, set()).update(
            target for target, condition in sidecar.depends_on.items() if condition is not None
        )
        if sidecar.main_waits_for is not None:
            graph[MAIN_CONTAINER].add(sidecar.name)
    state: dict[str, int] = {}

    def cycle(name: str, path: list[str]) -> list[str] | None:
        if state.get(name) == 1:
            return [*path[path.index(name) :], name]
        if state.get(name) == 2 or name not in graph:
            return None
        state[name] = 1
        for target in sorted(graph[name]):
            found = cycle(target, [*path, name])
            if found:
                return found
        state[name] = 2
        return None

    for name in graph:
        found = cycle(name, [])
        if found:
            return [f"sidecars must not wait for each other in a circle, got {' -> '.join(found)}"]
    return []


def render_multi_container(
    scope: Construct,
    *,
    job_definition: batch.CfnJobDefinition,
    sidecars: Sequence[tuple[Sidecar, batch.EcsEc2ContainerDefinition]],
) -> None:
    """Move the job definition's container into ``EcsProperties``, with the sidecars.

    The main container (``ContainerProperties`` as the L2 rendered it, lazy lists
    included) becomes the essential container ``main``; its task-level settings
    (roles, network, platform, storage, ECS Exec) become the task's.

    Each sidecar's container definition is rendered by a job definition of its own that
    is removed from the tree at once: only its properties (with the grants that
    rendering made) are kept.
    """
    main_properties = job_definition.container_properties
    assert isinstance(main_properties, batch.CfnJobDefinition.ContainerPropertiesProperty)
    containers = [
        _task_container(
            MAIN_CONTAINER,
            main_properties,
            essential=True,
            depends_on={
                s.name: s.main_waits_for for s, _ in sidecars if s.main_waits_for is not None
            },
        )
    ]
    volume_lists: list[Any] = [main_properties.volumes]
    for index, (sidecar, container) in enumerate(sidecars):
        render_id = f"Sidecar{index}Rendering"
        rendering = batch.EcsJobDefinition(scope, render_id, container=container)
        properties = rendering.node.default_child.container_properties  # type: ignore[union-attr]
        scope.node.try_remove_child(render_id)
        containers.append(
            _task_container(
                sidecar.name,
                properties,
                essential=sidecar.essential,
                depends_on={t: c for t, c in sidecar.depends_on.items() if c is not None},
            )
        )
        volume_lists.append(properties.volumes)
    platform = main_properties.fargate_platform_configuration
    task = batch.CfnJobDefinition.EcsTaskPropertiesProperty(
        containers=containers,
        execution_role_arn=main_properties.execution_role_arn,
        task_role_arn=main_properties.job_role_arn,
        volumes=Lazy.uncached_any(_MergedVolumes(volume_lists), omit_empty_array=True),
        network_configuration=main_properties.network_configuration,
        runtime_platform=main_properties.runtime_platform,
        ephemeral_storage=main_properties.ephemeral_storage,
        platform_version=getattr(platform, "platform_version", None),
        enable_execute_command=main_properties.enable_execute_command,
    )
    job_definition.ecs_properties = batch.CfnJobDefinition.EcsPropertiesProperty(
        task_properties=[task]
    )
    job_definition.container_properties = None


def _task_container(
    name: str,
    properties: Any,
    *,
    essential: bool,
    depends_on: Mapping[str, _Condition],
) -> batch.CfnJobDefinition.TaskContainerPropertiesProperty:
    return batch.CfnJobDefinition.TaskContainerPropertiesProperty(
        name=name,
        image=properties.image,
        essential=essential,
        depends_on=[
            batch.CfnJobDefinition.TaskContainerDependencyProperty(
                container_name=target, condition=condition.value
            )
            for target, condition in depends_on.items()
        ]
        or None,
        command=properties.command,
        environment=properties.environment,
        secrets=properties.secrets,
        linux_parameters=properties.linux_parameters,
        log_configuration=properties.log_configuration,
        mount_points=properties.mount_points,
        privileged=properties.privileged,
        readonly_root_filesystem=properties.readonly_root_filesystem,
        resource_requirements=properties.resource_requirements,
        ulimits=properties.ulimits,
        user=properties.user,
    )


@jsii.implements(IAnyProducer)
class _MergedVolumes:
    """The volumes of every container of the task, each name once (the first wins)."""

    def __init__(self, volume_lists: Sequence[Any]) -> None:
        self._volume_lists = volume_lists

    def produce(self, context: IResolveContext) -> Any:
        merged: dict[str, Any] = {}
        for volumes in self._volume_lists:
            for volume in context.resolve(volumes) or []:
                merged.setdefault(volume["name"], volume)
        return list(merged.values())
