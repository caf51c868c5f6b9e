"""Multi-node parallel (MNP) jobs: one job over several EC2 instances of one type, EFA optional.

A :class:`MultiNodeJob` is one ``batch.MultiNodeJobDefinition``: ``nodes`` instances of
one ``instance_type``, node ``main_node`` the main one, every node running the job's
container unless a :class:`NodeRange` gives some of them their own. Batch's rules
(Multi-node parallel jobs guide; NodeProperties, NodeRangeProperty and
RegisterJobDefinition API) are checked at synth: EC2 only, on on-demand managed
environments that launch the type, node ranges covering every node once, at most 5
of them, the main node among the nodes, each node's container fitting the instance,
and EFA only on EFA-capable types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import jsii
from aws_cdk import Annotations, Duration, Size
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IValidation

from constructs_batch import limits
from constructs_batch._arguments import checked_arguments
from constructs_batch._container import (
    DEFAULT_SCRATCH_PATH,
    ContainerSpec,
    SecretSource,
    acknowledge_image_pull,
)
from constructs_batch.job import (
    DEFAULT_LOG_RETENTION,
    DEFAULT_MEMORY,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_TIMEOUT,
    DEFAULT_VCPUS,
    BatchJob,
    attempt_errors,
    raise_unless_pending,
    retry_strategies,
)
from constructs_batch.queue import IBatchQueue, as_batch_queue
from constructs_batch.volumes import allow_nfs_from, grant_volume_access

__all__ = ["MultiNodeJob", "NodeRange"]


@dataclass(frozen=True)
class NodeRange:
    """Nodes ``start_node`` to ``end_node`` (inclusive) running a container of their own.

    Every field left None is the job's own (``MultiNodeJob``'s ``image``, ``vcpus``...).

    Args:
        start_node: the first node of the range, from 0.
        end_node: the last node of the range. Default: None (``start_node`` alone).
        image: the image these nodes run. Default: None (the job's).
        vcpus: vCPUs per node, a whole number. Default: None (the job's).
        memory: memory per node. Default: None (the job's).
        gpus: GPUs per node. Default: None (the job's).
        command: the command. Default: None (the job's).
        environment: environment variables, instead of the job's. Default: None (the job's).
    """

    start_node: int
    end_node: int | None = None
    image: ecs.ContainerImage | None = None
    vcpus: float | None = None
    memory: Size | None = None
    gpus: int | None = None
    command: Sequence[str] | None = None
    environment: Mapping[str, str] | None = None

    @property
    def last_node(self) -> int:
        """``end_node``, or ``start_node`` for a range of one node."""
        return self.start_node if self.end_node is None else self.end_node

    def apply_to(self, spec: ContainerSpec, prefix: str) -> ContainerSpec:
        """The job's container with this range's fields in place of its own."""
        changes: dict[str, object] = {
            name: value
            for name, value in (
                ("image", self.image),
                ("vcpus", self.vcpus),
                ("memory", self.memory),
                ("gpus", self.gpus),
                ("command", self.command),
                ("environment", self.environment),
            )
            if value is not None
        }
        return replace(spec, argument_prefix=prefix, **changes)  # type: ignore[arg-type]


NodeRange.__init__ = checked_arguments(NodeRange.__init__)  # type: ignore[method-assign]


class MultiNodeJob(BatchJob):
    """A multi-node parallel job definition on EC2, validated against its queue.

    Attributes:
        job_definition: the ``batch.MultiNodeJobDefinition`` (the escape hatch;
            ``add_container`` after construction is checked at synth for gaps and
            overlaps).
        containers: the container of each node range, by ``"start:end"``.
        log_group: where every node's output goes.
        execution_role: the role ECS uses to pull the images, read the secrets and
            write the logs (one for all nodes).
        job_role: the role the containers run as.
        nodes: the number of nodes.
        main_node: the index of the main node.
        instance_type: the instance type of every node, e.g. ``c5n.18xlarge``.
        architecture: its CPU architecture; None when not known.
        efa: whether the nodes get the EFA device.
    """

    job_definition: batch.MultiNodeJobDefinition

    # secrets: their own check names the kinds of secret allowed.
    @checked_arguments(skip=("secrets",))
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: ecs.ContainerImage,
        instance_type: ec2.InstanceType,
        nodes: int,
        main_node: int = 0,
        vcpus: float = DEFAULT_VCPUS,
        memory: Size = DEFAULT_MEMORY,
        gpus: int = 0,
        node_ranges: Sequence[NodeRange] = (),
        efa: bool = False,
        queue: IBatchQueue | batch.IJobQueue | None = None,
        command: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, SecretSource] | None = None,
        parameters: Mapping[str, str] | None = None,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        timeout: Duration | None = DEFAULT_TIMEOUT,
        log_retention: logs.RetentionDays = DEFAULT_LOG_RETENTION,
        log_encryption_key: kms.IKey | None = None,
        job_role: iam.IRole | None = None,
        readonly_root_filesystem: bool = True,
        scratch_path: str | None = DEFAULT_SCRATCH_PATH,
        user: str | None = None,
        volumes: Sequence[batch.EcsVolume] | None = None,
        linux_parameters: batch.LinuxParameters | None = None,
        ulimits: Sequence[batch.Ulimit] | None = None,
        privileged: bool = False,
    ) -> None:
        """Create the job definition, its log group and roles.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            image: the image every node runs (unless its range says otherwise).
            instance_type: the one instance type of all nodes (a size, not a family):
                Batch places each node on its own instance of it.
            nodes: how many nodes, at least 1 (more than 1,000 needs a quota increase).
            main_node: the node that runs first and whose exit decides the job, 0 to
                ``nodes - 1``. Default: 0.
            vcpus: vCPUs per node, a whole number that fits the instance.
                Default: ``DEFAULT_VCPUS`` (1).
            memory: memory per node, at most what the instance registers.
                Default: ``DEFAULT_MEMORY`` (2 GiB).
            gpus: GPUs per node. Default: 0.
            node_ranges: nodes that run a container of their own (the main node's
                coordinator image, say); they must not overlap, and the nodes they
                leave run the job's container. At most 5 ranges in all, counting those
                of the job's container. Default: none (every node the same).
            efa: give every node the EFA device (``/dev/infiniband/uverbs0``) for
                OS-bypass networking; needs an EFA-capable ``instance_type``. The
                compute environment must also launch into one subnet, in a cluster
                placement group (``Ec2Compute(placement_group=...)``), from an AMI with
                the EFA driver, with a security group that allows all traffic to and
                from itself (Batch user guide, "Use EFA"). Default: False.
            queue: the queue the job is meant for, checked to run it (EC2, an
                on-demand managed environment launching ``instance_type``). Anything
                ``ContainerJob(queue=...)`` takes. Default: None (checked at
                :meth:`grant_submit`).
            command, environment, secrets, parameters, retry_attempts, log_retention,
                log_encryption_key, job_role, readonly_root_filesystem, scratch_path,
                user, volumes, linux_parameters, ulimits, privileged: as for
                :class:`~constructs_batch.job.ContainerJob` (EC2), for every node.
            timeout: kill an attempt of the whole job (all nodes) that runs longer.
                Default: ``DEFAULT_TIMEOUT`` (1 hour).

        Raises:
            ValueError: listing every invalid argument, including every reason the
                job can never run on ``queue``.
        """
        queue = as_batch_queue(queue) if queue is not None else None
        type_name = instance_type.to_string()
        job_spec = ContainerSpec(
            image=image,
            vcpus=vcpus,
            memory=memory,
            gpus=gpus,
            command=command,
            environment=environment or {},
            secrets=secrets or {},
            user=user,
            readonly_root_filesystem=readonly_root_filesystem,
            scratch_path=scratch_path,
            volumes=volumes or (),
            linux_parameters=linux_parameters,
            ulimits=ulimits or (),
            privileged=privileged,
        )
        groups = _node_groups(job_spec, node_ranges, nodes)
        self.architecture = limits.instance_family_architecture(type_name)
        errors = [
            *_node_errors(nodes, main_node, node_ranges, len(groups)),
            *_instance_type_errors(type_name, efa),
            *attempt_errors(retry_attempts, timeout),
        ]
        for spec in _distinct(groups):
            errors += spec.errors(fargate=False)
            errors += _fits_instance_errors(spec, type_name)
        self._type_name = type_name
        self._specs = _distinct(groups)
        if queue is not None:
            errors += self._queue_errors(queue)
        raise_unless_pending(queue, list(dict.fromkeys(errors)))
        super().__init__(scope, construct_id)
        if nodes > limits.MAX_NODES:
            Annotations.of(self).add_warning_v2(
                "constructs-batch:multi-node-quota",
                f"nodes: {nodes} is above the default quota of {limits.MAX_NODES} nodes per "
                "multi-node parallel job: raise it before submitting",
            )
        if efa and type_name.split(".")[0] not in limits.EFA_FAMILIES:
            Annotations.of(self).add_warning_v2(
                "constructs-batch:efa-unknown-type",
                f"efa: {type_name} is not in the library's table of EFA-capable types (it "
                "may be newer): check with aws ec2 describe-instance-types --filters "
                "Name=network-info.efa-supported,Values=true",
            )

        self.nodes = nodes
        self.main_node = main_node
        self.instance_type = type_name
        self.efa = efa
        logging = self._add_log_group(log_retention, log_encryption_key)
        self._add_job_role(job_role)
        if efa:
            # The device with Batch's default permissions (read, write, mknod): aws-cdk-lib
            # writes permissions in lower case, the Batch API lists them in upper case.
            linux_parameters = linux_parameters or batch.LinuxParameters(self, "LinuxParameters")
            linux_parameters.add_devices(batch.Device(host_path=limits.EFA_DEVICE_PATH))
            job_spec = replace(job_spec, linux_parameters=linux_parameters)
            groups = _node_groups(job_spec, node_ranges, nodes)
            self._specs = _distinct(groups)
        built, ranges = self._build_containers(groups, logging)
        self.execution_role = built[groups[0][3]].execution_role
        acknowledge_image_pull(self.execution_role, [spec.image for spec in self._specs])

        self.job_definition = batch.MultiNodeJobDefinition(
            self,
            "Resource",
            containers=ranges,
            main_node=main_node,
            instance_type=instance_type,
            propagate_tags=True,
            parameters=dict(parameters) if parameters else None,
            retry_attempts=retry_attempts,
            retry_strategies=retry_strategies(),
            timeout=timeout,
        )
        cfn = self.job_definition.node.default_child
        assert isinstance(cfn, batch.CfnJobDefinition)
        for index, (_, _, spec, _) in enumerate(groups):
            spec.finish(cfn, f"NodeProperties.NodeRangeProperties.{index}.Container")
        grant_volume_access(self, self.job_role, job_spec.data_volumes)
        allow_nfs_from(job_spec.data_volumes, queue.security_groups if queue else ())
        self.node.add_validation(_NodeRangeValidation(self.job_definition, nodes))
        for key, container in built.items():
            spec = next(s for _, _, s, k in groups if k == key)
            self.node.add_validation(spec.check_later(container, fargate=False))

    def _build_containers(
        self, groups: Sequence[_Group], logging: ecs.LogDriver
    ) -> tuple[dict[int, batch.EcsEc2ContainerDefinition], list[batch.MultiNodeContainer]]:
        """One container per distinct spec (the first creates the execution role), one
        node range per group; sets ``containers``."""
        built: dict[int, batch.EcsEc2ContainerDefinition] = {}
        self.containers: dict[str, batch.EcsEc2ContainerDefinition] = {}
        ranges = []
        for start, end, spec, key in groups:
            if key not in built:
                container = spec.build(
                    self,
                    "Container" if key == -1 else f"NodeRange{key}",
                    job_role=self.job_role,
                    logging=logging,
                    execution_role=next(iter(built.values())).execution_role if built else None,
                )
                assert isinstance(container, batch.EcsEc2ContainerDefinition)
                built[key] = container
            self.containers[f"{start}:{end}"] = built[key]
            ranges.append(
                batch.MultiNodeContainer(start_node=start, end_node=end, container=built[key])
            )
        return built, ranges

    def placement_errors(self, queue: IBatchQueue | batch.IJobQueue) -> list[str]:
        """Why this job can never run on ``queue``; empty if it can.

        Args:
            queue: the queue to check against; anything ``ContainerJob(queue=...)`` takes.

        Raises:
            ValueError: if the queue's capacity cannot be known.
        """
        return self._queue_errors(as_batch_queue(queue))

    def _queue_errors(self, queue: IBatchQueue) -> list[str]:
        errors: list[str] = []
        for spec in self._specs:
            errors += queue.placement_errors(
                vcpus=spec.vcpus,
                memory_mib=int(spec.memory_mib),
                gpus=spec.gpus,
                fargate=False,
                argument_prefix=spec.argument_prefix,
                architecture=self.architecture,
                multi_node_instance_type=self._type_name,
            )
        return list(dict.fromkeys(errors))


#: (first node, last node, container spec, key: -1 for the job's container, else the
#: index of the NodeRange)
_Group = tuple[int, int, ContainerSpec, int]


def _node_groups(
    job_spec: ContainerSpec, node_ranges: Sequence[NodeRange], nodes: int
) -> list[_Group]:
    """Node ranges in node order: the given ones, and the job's container in the gaps."""
    given = sorted(
        (
            (r.start_node, r.last_node, r.apply_to(job_spec, f"node_ranges[{i}]."), i)
            for i, r in enumerate(node_ranges)
        ),
        key=lambda group: group[0],
    )
    groups: list[_Group] = []
    next_node = 0
    for start, end, spec, key in given:
        if start > next_node:
            groups.append((next_node, start - 1, job_spec, -1))
        groups.append((start, end, spec, key))
        next_node = max(next_node, end + 1)
    if next_node < nodes:
        groups.append((next_node, nodes - 1, job_spec, -1))
    return groups


def _distinct(groups: Sequence[_Group]) -> list[ContainerSpec]:
    return list({key: spec for _, _, spec, key in groups}.values())


def _node_errors(
    nodes: int, main_node: int, node_ranges: Sequence[NodeRange], group_count: int
) -> list[str]:
    errors = limits.check_at_least("nodes", nodes, 1)
    if not errors and not 0 <= main_node < nodes:
        errors.append(f"main_node must be between 0 and nodes - 1 ({nodes - 1}), got {main_node}")
    covered: dict[int, int] = {}
    for index, node_range in enumerate(node_ranges):
        start, end = node_range.start_node, node_range.last_node
        if start < 0 or end < start or end >= nodes:
            errors.append(
                f"node_ranges[{index}] must cover nodes within 0 to {nodes - 1} with "
                f"start_node <= end_node, got {start} to {end}"
            )
            continue
        overlap = sorted({covered[n] for n in range(start, end + 1) if n in covered})
        if overlap:
            errors.append(
                f"node_ranges[{index}] must not overlap another range, got {start} to {end} "
                f"(also in node_ranges{overlap})"
            )
        covered.update(dict.fromkeys(range(start, end + 1), index))
    if group_count > limits.MAX_NODE_GROUPS:
        errors.append(
            f"node_ranges must make at most {limits.MAX_NODE_GROUPS} node groups with the "
            f"job's container in the gaps, got {group_count}"
        )
    return errors


def _instance_type_errors(type_name: str, efa: bool) -> list[str]:
    if limits.is_token(type_name):
        return []
    if "." not in type_name or type_name in limits.BATCH_INSTANCE_TYPE_ALIASES:
        return [
            f"instance_type must be one instance type with its size (all nodes use it), "
            f"got {type_name!r}"
        ]
    errors = limits.check_instance_type_names("instance_type", [type_name])
    errors = [e.replace("instance_type[0]", "instance_type") for e in errors]
    family = type_name.split(".")[0]
    if efa and family in limits.EFA_FAMILIES and type_name not in limits.EFA_INSTANCE_TYPES:
        sizes = sorted(
            t.split(".")[1] for t in limits.EFA_INSTANCE_TYPES if t.split(".")[0] == family
        )
        errors.append(
            f"instance_type must support EFA with efa=True ({family} does in sizes "
            f"{', '.join(sizes)}), got {type_name}"
        )
    return errors


def _fits_instance_errors(spec: ContainerSpec, type_name: str) -> list[str]:
    """Each node is one instance: its container must fit it (when the type is known)."""
    capacity = limits.instance_capacity(type_name)
    if capacity is None or any(limits.is_token(v) for v in (spec.vcpus, spec.gpus)):
        return []
    p = spec.argument_prefix
    errors = []
    if spec.vcpus > capacity.vcpus:
        errors.append(
            f"{p}vcpus must be at most {capacity.vcpus} to fit a {type_name} node, "
            f"got {_fmt(spec.vcpus)}"
        )
    if spec.memory_mib > capacity.memory_mib:
        errors.append(
            f"{p}memory must be at most {capacity.memory_mib} MiB to fit a {type_name} node "
            f"(what its ECS agent registers), got {_fmt(spec.memory_mib)} MiB"
        )
    if spec.gpus > capacity.gpus:
        errors.append(
            f"{p}gpus must be at most {capacity.gpus} to fit a {type_name} node, got {spec.gpus}"
        )
    return errors


@jsii.implements(IValidation)
class _NodeRangeValidation:
    """At synth: the job definition's node ranges (with ``add_container``) cover each node once."""

    def __init__(self, job_definition: batch.MultiNodeJobDefinition, nodes: int) -> None:
        self._job_definition = job_definition
        self._nodes = nodes

    def validate(self) -> list[str]:
        counts = [0] * self._nodes
        for container in self._job_definition.containers:
            for node in range(int(container.start_node), int(container.end_node) + 1):
                if not 0 <= node < self._nodes:
                    return [
                        f"{self._job_definition.node.path}: node ranges must stay within 0 to "
                        f"{self._nodes - 1}, got {container.start_node}:{container.end_node}"
                    ]
                counts[node] += 1
        wrong = [n for n, count in enumerate(counts) if count != 1]
        if not wrong:
            return []
        return [
            f"{self._job_definition.node.path}: node ranges must cover each of the "
            f"{self._nodes} nodes once, got nodes {wrong[:10]} covered "
            f"{sorted({counts[n] for n in wrong})} times"
        ]


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
