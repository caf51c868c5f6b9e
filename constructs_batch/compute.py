"""Compute environments for AWS Batch: Fargate, EC2 (on-demand or Spot) and unmanaged.

Every class here is a :class:`BatchCompute`: it tells the queues and jobs that use it
whether it is Fargate or Spot, its CPU architecture, its vCPU ceiling and the
largest instance it can launch, so that a job that could never be placed fails at
synth instead of sitting in RUNNABLE.

Secure defaults for EC2 capacity live in :func:`secure_launch_template`: IMDSv2
required, an encrypted gp3 root volume and MIME multi-part user data (the only
format Batch accepts in a launch template).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import (
    Acknowledgment,
    Annotations,
    Fn,
    Size,
    SizeRoundingBehavior,
    Stack,
    Validations,
)
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from constructs_batch._arguments import checked_arguments
from constructs_batch._images import choose_image
from constructs_batch.capacity import architecture_name
from constructs_batch.limits import (
    AL2023_UNSUPPORTED_FAMILIES,
    BATCH_INSTANCE_TYPE_ALIASES,
    MAX_FARGATE_SUBNETS,
    MAX_GP3_VOLUME_GIB,
    MAX_SECURITY_GROUPS,
    MAX_SPOT_BID_PERCENTAGE,
    MIN_ECS_ROOT_VOLUME_GIB,
    MIN_MAX_VCPUS,
    MIN_SPOT_BID_PERCENTAGE,
    MIN_UNMANAGED_VCPUS,
    MIN_VCPUS,
    InstanceCapacity,
    check_at_least,
    check_instance_type_names,
    check_range,
    instance_capacity,
    instance_class_capacity,
    instance_family_architecture,
    instance_options,
    is_token,
    raise_if_errors,
)
from constructs_batch.network import BatchNetwork, select

__all__ = [
    "DEFAULT_MAX_VCPUS",
    "DEFAULT_MIN_VCPUS",
    "DEFAULT_ROOT_VOLUME_GIB",
    "IMDS_HOP_LIMIT",
    "ROOT_DEVICE_NAME",
    "BatchCompute",
    "Ec2Compute",
    "FargateCompute",
    "PlainCompute",
    "UnmanagedCompute",
    "as_batch_compute",
    "secure_launch_template",
]

#: Matches the aws-batch L2's default ceiling.
DEFAULT_MAX_VCPUS = 256
#: Scale to zero when idle: no job, no instance, no cost.
DEFAULT_MIN_VCPUS = 0
#: The ECS-optimized AMI's own root volume size (limits.MIN_ECS_ROOT_VOLUME_GIB).
DEFAULT_ROOT_VOLUME_GIB = MIN_ECS_ROOT_VOLUME_GIB
#: Root device of the Amazon Linux 2 and 2023 ECS-optimized AMIs.
ROOT_DEVICE_NAME = "/dev/xvda"
#: IMDSv2 response hop limit. 1 keeps the instance metadata service reachable from
#: the host (the ECS agent runs in host network mode) but not from job containers on
#: the Docker bridge, one hop further: a job must use its own job role (served by the
#: ECS agent at 169.254.170.2), never borrow the instance role, which can pull every
#: ECR image in the account and act as an ECS container instance. Jobs that read
#: their Region from IMDS should get AWS_REGION from their job definition instead.
IMDS_HOP_LIMIT = 1

_ECS_INSTANCE_POLICY = "service-role/AmazonEC2ContainerServiceforEC2Role"
_SPOT_FLEET_POLICY = "service-role/AmazonEC2SpotFleetTaggingRole"
_SPOT_ONLY_STRATEGIES = (
    batch.AllocationStrategy.SPOT_CAPACITY_OPTIMIZED,
    batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED,
)
_OPTIMAL = "optimal"


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
        security_groups: the security groups of the jobs (Fargate) or instances (EC2);
            empty when not known.
    """

    compute_environment: batch.IComputeEnvironment
    fargate: bool
    spot: bool
    architecture: str | None
    max_vcpus: int | None
    assign_public_ip: bool
    security_groups: tuple[ec2.ISecurityGroup, ...] = ()

    def largest_instance(self) -> InstanceCapacity | None:
        """The largest instance this environment can launch; None for Fargate or when unknown.

        A job is placeable only if it fits this instance (and ``max_vcpus``).
        """
        return None

    def instance_options(self) -> list[InstanceCapacity] | None:
        """The instances this environment can launch (see ``limits.instance_options``).

        A job runs here only if it fits one of them; None for Fargate or when unknown.
        """
        largest = self.largest_instance()
        return None if largest is None else [largest]

    def multi_node_instance_types(self) -> tuple[str, ...]:
        """The instance types multi-node parallel jobs can run on here; empty if none.

        Only on-demand, managed EC2 environments run them, with at most 5 security
        groups, in subnets with outbound access (nodes get no public IP).
        """
        return ()


class PlainCompute:
    """A plain aws-cdk-lib compute environment, seen as a :class:`BatchCompute` is.

    Made by :func:`as_batch_compute` for what a queue can learn from the L2's own
    properties: Fargate or EC2, Spot, ``maxv_cpus`` and, for managed EC2, the instance
    types and classes. The L2 does not say whether Batch's ``optimal`` (or default)
    instance types were added to them, so they are assumed possible: the capacity is
    then never smaller than what AWS could place, and no valid job is refused. A
    Fargate L2 does not say which subnets it uses: ``assign_public_ip`` is False
    (give Fargate jobs ``assign_public_ip=True`` in public subnets without NAT).

    Attributes:
        compute_environment: the L2 (the escape hatch).
        node: the L2's construct node (its id names it in messages).
        fargate, spot, architecture, max_vcpus, assign_public_ip, security_groups: as
            on :class:`BatchCompute`.
        instance_types: names of the instance types and classes it may launch,
            including Batch's optimal or default ones where the L2 may add them.
    """

    def __init__(
        self,
        compute_environment: batch.IComputeEnvironment,
        *,
        fargate: bool,
        spot: bool,
        max_vcpus: float | None,
        instance_types: Sequence[str] = (),
    ) -> None:
        self.compute_environment = compute_environment
        self.node = compute_environment.node
        self.fargate = fargate
        self.spot = spot
        self.max_vcpus = max_vcpus
        self.instance_types = list(instance_types)
        self.architecture: str | None = "x86_64" if fargate else _architecture(instance_types)
        self.assign_public_ip = False
        # Only environments built in the app know their groups (an imported one's
        # connections cannot be read).
        built = (batch.FargateComputeEnvironment, batch.ManagedEc2EcsComputeEnvironment)
        self.security_groups: tuple[ec2.ISecurityGroup, ...] = (
            tuple(compute_environment.connections.security_groups)
            if isinstance(compute_environment, built)
            else ()
        )

    def largest_instance(self) -> InstanceCapacity | None:
        """As :meth:`BatchCompute.largest_instance`: None for Fargate, unmanaged or unknown."""
        return _largest(self.instance_types) if self.instance_types else None

    def instance_options(self) -> list[InstanceCapacity] | None:
        """As :meth:`BatchCompute.instance_options`."""
        return _options(self.instance_types) if self.instance_types else None

    def multi_node_instance_types(self) -> tuple[str, ...]:
        """As :meth:`BatchCompute.multi_node_instance_types` (the subnets are not known)."""
        return _multi_node_types(self, self.instance_types, public_subnets=False)


def as_batch_compute(environment: object) -> BatchCompute | PlainCompute | None:
    """This library's view of a compute environment; None when nothing can be derived.

    A :class:`BatchCompute` is returned as is. An aws-cdk-lib
    ``FargateComputeEnvironment``, ``ManagedEc2EcsComputeEnvironment`` or
    ``UnmanagedComputeEnvironment`` becomes a :class:`PlainCompute`. An imported
    environment (``from_*_arn``) or an EKS one gives None: the caller refuses it.
    """
    if isinstance(environment, BatchCompute):
        return environment
    if isinstance(environment, batch.FargateComputeEnvironment):
        return PlainCompute(
            environment,
            fargate=True,
            spot=bool(environment.spot),
            max_vcpus=environment.maxv_cpus,
        )
    if isinstance(environment, batch.ManagedEc2EcsComputeEnvironment):
        names = [t.to_string() for t in environment.instance_types]
        names += [_instance_class_name(c) for c in environment.instance_classes]
        # What the L2 may add without saying so (optimal by default, or Batch's default
        # types): the architecture of explicit names rules out the other default.
        arch = _architecture(names)
        implicit = [_OPTIMAL, "default_x86_64"] if arch != "arm64" else []
        implicit += ["default_arm64"] if arch != "x86_64" else []
        return PlainCompute(
            environment,
            fargate=False,
            spot=bool(environment.spot),
            max_vcpus=environment.maxv_cpus,
            instance_types=names + implicit,
        )
    if isinstance(environment, batch.UnmanagedComputeEnvironment):
        return PlainCompute(environment, fargate=False, spot=False, max_vcpus=None)
    return None


class FargateCompute(BatchCompute):
    """A Fargate or Fargate Spot compute environment in the network's job subnets.

    Attributes:
        compute_environment: the ``batch.FargateComputeEnvironment``.
    """

    @checked_arguments
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: BatchNetwork,
        spot: bool = False,
        max_vcpus: int = DEFAULT_MAX_VCPUS,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
    ) -> None:
        """Build the environment.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            network: where the jobs run (subnets, security group, public IP need).
            spot: use Fargate Spot (up to 70% cheaper, may be reclaimed). Default: False.
            max_vcpus: vCPUs of all running jobs together, at least 1. Default: 256.
            security_groups: security groups of the jobs. Default: the network's
                security group.
        """
        super().__init__(scope, construct_id)
        self.security_groups = tuple(security_groups or [network.security_group])
        subnets = select(network.vpc, network.job_subnets).subnet_ids
        errors = check_at_least("max_vcpus", max_vcpus, MIN_MAX_VCPUS)
        if len(self.security_groups) > MAX_SECURITY_GROUPS:
            errors.append(
                f"security_groups must hold 1 to {MAX_SECURITY_GROUPS} security groups on "
                f"Fargate, got {len(self.security_groups)}"
            )
        if len(subnets) > MAX_FARGATE_SUBNETS:
            errors.append(
                f"network must give Fargate at most {MAX_FARGATE_SUBNETS} job subnets, "
                f"got {len(subnets)}"
            )
        raise_if_errors(errors)

        self.compute_environment: batch.FargateComputeEnvironment = batch.FargateComputeEnvironment(
            self,
            "ComputeEnvironment",
            vpc=network.vpc,
            vpc_subnets=network.job_subnets,
            security_groups=list(self.security_groups),
            spot=spot,
            maxv_cpus=max_vcpus,
        )
        self.fargate = True
        self.spot = spot
        # Fargate's CPU architecture is chosen per job definition (runtimePlatform);
        # the library's job definitions use the X86_64 default.
        self.architecture = "x86_64"
        self.max_vcpus = max_vcpus
        self.assign_public_ip = network.assign_public_ip


class Ec2Compute(BatchCompute):
    """A managed EC2 (on-demand or Spot) compute environment with a secure launch template.

    Instances launch from the ECS-optimized Amazon Linux 2023 AMI (its NVIDIA variant
    for GPU instance types), or the ``machine_image`` given, through a launch template with IMDSv2 required, an encrypted gp3
    root volume and MIME multi-part user data. The template's latest version number is
    passed to the environment, so a template change triggers an infrastructure update
    that reaches new instances (Batch would otherwise keep the version it resolved
    when the environment was created).

    Attributes:
        compute_environment: the ``batch.ManagedEc2EcsComputeEnvironment``.
        launch_template: the launch template passed to the environment.
        instance_role: the role of the instances (the ECS agent's permissions).
        instance_types: names of the instance types and classes it may launch
            (``["default_x86_64"]`` or ``["default_arm64"]`` when none were given).
        placement_group: the placement group of the instances; None without one.
    """

    @checked_arguments
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: BatchNetwork,
        spot: bool = False,
        max_vcpus: int = DEFAULT_MAX_VCPUS,
        min_vcpus: int = DEFAULT_MIN_VCPUS,
        instance_types: Sequence[ec2.InstanceType] | None = None,
        instance_classes: Sequence[ec2.InstanceClass] | None = None,
        allocation_strategy: batch.AllocationStrategy | None = None,
        spot_bid_percentage: int | None = None,
        gpu: bool | None = None,
        root_volume_size: Size | None = None,
        user_data: ec2.UserData | Sequence[str] | None = None,
        launch_template: ec2.LaunchTemplate | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        cpu_architecture: ecs.CpuArchitecture | None = None,
        machine_image: ec2.IMachineImage | None = None,
        image_type: batch.EcsMachineImageType | None = None,
        placement_group: ec2.IPlacementGroup | None = None,
    ) -> None:
        """Build the environment.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            network: where the instances run (subnets, security group).
            spot: use Spot instances (up to 90% cheaper, may be reclaimed). Default: False.
            max_vcpus: vCPUs of all instances together, at least 1. Default: 256.
            min_vcpus: vCPUs kept running even when idle, 0 to ``max_vcpus``. Default: 0.
            instance_types: instance types it may launch, all of one CPU architecture.
                Default: none (see ``instance_classes``).
            instance_classes: instance families it may launch (Batch picks the size).
                Default: Batch's default instance types when no instance types or
                classes are given: ``default_x86_64`` (m6i, c6i, r6i, c7i) or, with
                ``cpu_architecture=ARM64``, ``default_arm64`` (m6g, c6g, r6g, c7g).
            allocation_strategy: how Batch picks instances. Default:
                ``SPOT_PRICE_CAPACITY_OPTIMIZED`` with Spot, ``BEST_FIT_PROGRESSIVE``
                on-demand.
            spot_bid_percentage: highest Spot price as a percentage of on-demand,
                1 to 100, only with ``spot=True``. Default: none (on-demand price).
            gpu: launch the ECS GPU-optimized (NVIDIA) AMI (True; needs GPU instance
                types or classes) or the plain one (False; refused with GPU types,
                whose GPUs it never offers to jobs). Default: None (NVIDIA when an
                instance type or class is an NVIDIA GPU family).
            root_volume_size: root volume of each instance, at least 30 GiB (the AMI's
                own). Default: 30 GiB.
            user_data: extra user data: a ``MultipartUserData`` used as is, any other
                ``UserData`` or a list of shell commands wrapped as a MIME part.
                Default: none (an empty MIME multi-part document).
            launch_template: your own launch template, used as is (its latest version
                is still passed); cannot be combined with ``root_volume_size`` or
                ``user_data``. Default: a secure template (see
                :func:`secure_launch_template`).
            security_groups: security groups of the instances (more than 5 exceeds the
                default per-interface VPC quota: warned). Default: the network's
                security group.
            cpu_architecture: ``ecs.CpuArchitecture.ARM64`` for Graviton: picks Batch's
                ``default_arm64`` types when none are given; must match the types
                given. Default: None (x86_64 without types).
            machine_image: a custom AMI (``imageIdOverride``), e.g. an ECS-optimized
                AL2023 AMI you pin or one you built on it with drivers (EFA, NVIDIA).
                ECS-optimized AMIs read from their public SSM parameters are checked
                (Amazon Linux 2 refused, image type and architecture matched); for
                others ``image_type`` is your claim Batch relies on. Default: None
                (Batch's current AMI of ``image_type``).
            image_type: ``ECS_AL2023`` or ``ECS_AL2023_NVIDIA`` (the AL2 types are
                refused: Batch blocks new ECS environments on them since 2026-06-30).
                Default: None (NVIDIA with GPU instance types or ``gpu=True``, else
                ECS_AL2023; the type of a recognised ``machine_image``).
            placement_group: an EC2 placement group for the instances; a cluster
                group keeps tightly coupled (MNP, EFA) nodes close. A cluster group
                lives in one Availability Zone: give the network one AZ or expect
                launches in the others to fail (warned). Default: None.
        """
        super().__init__(scope, construct_id)
        type_names = [t.to_string() for t in instance_types or []]
        class_names = [_instance_class_name(c) for c in instance_classes or []]
        requested = architecture_name(cpu_architecture)
        default = "default_arm64" if requested == "arm64" else "default_x86_64"
        self.instance_types: list[str] = (type_names + class_names) or [default]
        self.placement_group = placement_group
        image = choose_image(
            self,
            instance_names=self.instance_types,
            architecture=requested or _architecture(self.instance_types),
            gpu=gpu,
            machine_image=machine_image,
            image_type=image_type,
        )
        self.security_groups = tuple(security_groups or [network.security_group])
        _validate_ec2(
            spot=spot,
            max_vcpus=max_vcpus,
            min_vcpus=min_vcpus,
            instance_names=self.instance_types,
            explicit_names=type_names + class_names,
            architecture=requested,
            allocation_strategy=allocation_strategy,
            spot_bid_percentage=spot_bid_percentage,
            gpu=image.image_type is batch.EcsMachineImageType.ECS_AL2023_NVIDIA,
            root_volume_size=root_volume_size,
            user_data=user_data,
            launch_template=launch_template,
            image_errors=image.errors,
        )
        self._warn_about_network(network, placement_group)

        self.launch_template: ec2.LaunchTemplate = launch_template or secure_launch_template(
            self,
            "LaunchTemplate",
            root_volume_size=root_volume_size or Size.gibibytes(DEFAULT_ROOT_VOLUME_GIB),
            user_data=_multipart(user_data),
        )
        strategy = allocation_strategy or (
            batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
            if spot
            else batch.AllocationStrategy.BEST_FIT_PROGRESSIVE
        )
        environment = batch.ManagedEc2EcsComputeEnvironment(
            self,
            "ComputeEnvironment",
            vpc=network.vpc,
            vpc_subnets=network.job_subnets,
            security_groups=list(self.security_groups),
            spot=spot,
            maxv_cpus=max_vcpus,
            minv_cpus=min_vcpus,
            instance_types=list(instance_types or []),
            instance_classes=list(instance_classes or []),
            # Batch's default types (aws-cdk-lib 2.220 deprecated "optimal", which
            # Batch now treats as default_x86_64 anyway).
            default_instance_classes=None
            if type_names or class_names
            else [
                batch.DefaultInstanceClass.ARM64
                if default == "default_arm64"
                else batch.DefaultInstanceClass.X86_64
            ],
            use_optimal_instance_classes=False if type_names or class_names else None,
            allocation_strategy=strategy,
            spot_bid_percentage=spot_bid_percentage,
            # Always explicit: aws-cdk-lib writes ECS_AL2 for an image without a type
            # unless its AL2023 feature flag is set.
            images=[batch.EcsMachineImage(image=machine_image, image_type=image.image_type)],
            placement_group=placement_group,
            launch_template=self.launch_template,
            # BEST_FIT cannot do in-place infrastructure updates: a change that needs
            # new instances must replace the environment (safe: it has no fixed name).
            replace_compute_environment=strategy is batch.AllocationStrategy.BEST_FIT,
        )
        # The L2 passes only the template id, which Batch resolves to $Default once,
        # at creation. The version number changes with every template change, so
        # passing it makes CloudFormation update the environment's instances.
        resource = environment.node.default_child
        assert isinstance(resource, batch.CfnComputeEnvironment)
        resource.add_property_override(
            "ComputeResources.LaunchTemplate.Version", self.launch_template.latest_version_number
        )
        instance_role = environment.instance_role
        assert instance_role is not None  # the L2 creates one when none is given
        Validations.of(instance_role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{_ECS_INSTANCE_POLICY}]",
                reason=(
                    "AWS-maintained policy of the ECS agent on Batch instances; AWS updates "
                    "it as the agent gains actions, and the actions it grants (ecs:Poll, "
                    "ecr:GetAuthorizationToken, ...) take no resource ARN. Job containers "
                    "cannot use it: IMDSv2 with hop limit 1 keeps them off the instance role"
                ),
            )
        )
        if environment.spot_fleet_role is not None:
            # Spot with BEST_FIT runs through a Spot Fleet; the L2's role has no policy.
            environment.spot_fleet_role.add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name(_SPOT_FLEET_POLICY)
            )
            Validations.of(environment.spot_fleet_role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{_SPOT_FLEET_POLICY}]",
                    reason=(
                        "The policy the Batch user guide prescribes for the Spot Fleet role; "
                        "AWS-maintained, scoped to the Spot Fleet service"
                    ),
                )
            )

        self.compute_environment: batch.ManagedEc2EcsComputeEnvironment = environment
        self.instance_role: iam.IRole = instance_role
        self.fargate = False
        self.spot = spot
        self.architecture = requested or _architecture(self.instance_types)
        self.max_vcpus = max_vcpus
        self.assign_public_ip = network.assign_public_ip

    def multi_node_instance_types(self) -> tuple[str, ...]:
        """As :meth:`BatchCompute.multi_node_instance_types`."""
        return _multi_node_types(self, self.instance_types, public_subnets=self.assign_public_ip)

    def _warn_about_network(
        self, network: BatchNetwork, placement_group: ec2.IPlacementGroup | None
    ) -> None:
        if len(self.security_groups) > MAX_SECURITY_GROUPS:
            Annotations.of(self).add_warning_v2(
                "constructs-batch:security-groups",
                f"security_groups: {len(self.security_groups)} security groups exceed the "
                f"default VPC quota of {MAX_SECURITY_GROUPS} per network interface (and "
                "multi-node parallel jobs allow 5): raise the quota first",
            )
        strategy = getattr(placement_group, "strategy", None)
        zones = select(network.vpc, network.job_subnets).availability_zones
        if strategy is ec2.PlacementGroupStrategy.CLUSTER and len(set(zones)) > 1:
            Annotations.of(self).add_warning_v2(
                "constructs-batch:cluster-placement-group-zones",
                f"placement_group is a cluster placement group, which lives in one "
                f"Availability Zone, and the network's job subnets span {len(set(zones))}: "
                "instances launched in the other zones fail",
            )

    def largest_instance(self) -> InstanceCapacity | None:
        """The most vCPUs, memory and GPUs any allowed instance offers; None if any is unknown.

        Each dimension is the maximum over the allowed types (a composite), so a check
        against it never rejects a job that some allowed instance could run; whether the
        job fits one instance is :meth:`instance_options`'.
        """
        return _largest(self.instance_types)

    def instance_options(self) -> list[InstanceCapacity] | None:
        """As :meth:`BatchCompute.instance_options`."""
        return _options(self.instance_types)


class UnmanagedCompute(BatchCompute):
    """An unmanaged compute environment, optionally with ECS container instances attached.

    Batch creates an ECS cluster for the environment; with ``container_instances``
    above 0 an Auto Scaling group of ECS-optimized AL2023 instances (IMDSv2 required,
    encrypted gp3 root volume) joins that cluster.

    Attributes:
        compute_environment: the ``batch.UnmanagedComputeEnvironment``.
        auto_scaling_group: the container instances; None when none were asked for.
        ecs_cluster_arn: the ARN of the environment's ECS cluster (a deploy-time value);
            None without container instances.
    """

    @checked_arguments
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        unmanaged_vcpus: int | None = None,
        network: BatchNetwork | None = None,
        container_instances: int = 0,
        instance_type: ec2.InstanceType | None = None,
        root_volume_size: Size | None = None,
    ) -> None:
        """Build the environment.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            unmanaged_vcpus: vCPUs the fair-share scheduler may assume, at least 0.
                Default: none.
            network: where container instances run; required with container instances.
                Default: none.
            container_instances: number of ECS container instances joining the
                environment's cluster, at least 0. Default: 0.
            instance_type: their instance type; required with container instances.
                Default: none.
            root_volume_size: their root volume, at least 30 GiB. Default: 30 GiB.
        """
        super().__init__(scope, construct_id)
        errors = check_at_least("unmanaged_vcpus", unmanaged_vcpus, MIN_UNMANAGED_VCPUS)
        errors += check_at_least("container_instances", container_instances, 0)
        attached = is_token(container_instances) or container_instances > 0
        if attached and network is None:
            errors.append(
                f"network is required with container_instances, got none with {container_instances}"
            )
        if attached and instance_type is None:
            errors.append(
                "instance_type is required with container_instances, "
                f"got none with {container_instances}"
            )
        if not attached and (instance_type is not None or root_volume_size is not None):
            errors.append(
                "instance_type and root_volume_size are only allowed with "
                f"container_instances above 0, got {container_instances}"
            )
        errors += _check_root_volume(root_volume_size)
        raise_if_errors(errors)

        environment = batch.UnmanagedComputeEnvironment(
            self, "ComputeEnvironment", unmanagedv_cpus=unmanaged_vcpus
        )
        _use_batch_service_linked_role(environment)
        self.compute_environment: batch.UnmanagedComputeEnvironment = environment
        self.auto_scaling_group: autoscaling.AutoScalingGroup | None = None
        self.ecs_cluster_arn: str | None = None
        self.fargate = False
        self.spot = False
        self.architecture: str | None = None
        # Capacity is whatever registers with the cluster: Batch does not cap it.
        self.max_vcpus = None
        self.assign_public_ip = network.assign_public_ip if network else False
        self.security_groups = (network.security_group,) if attached and network else ()
        self._instance_type = instance_type

        if attached and network is not None and instance_type is not None:
            self.architecture = instance_family_architecture(instance_type.to_string())
            self._attach_container_instances(
                network=network,
                count=container_instances,
                instance_type=instance_type,
                root_volume_size=root_volume_size or Size.gibibytes(DEFAULT_ROOT_VOLUME_GIB),
            )

    def largest_instance(self) -> InstanceCapacity | None:
        """The capacity of the attached container instances; None without them or if unknown."""
        if self.auto_scaling_group is None or self._instance_type is None:
            return None
        return instance_capacity(self._instance_type.to_string())

    def _attach_container_instances(
        self,
        *,
        network: BatchNetwork,
        count: int,
        instance_type: ec2.InstanceType,
        root_volume_size: Size,
    ) -> None:
        environment = self.compute_environment
        # CloudFormation does not return the cluster Batch creates for an unmanaged
        # environment: DescribeComputeEnvironments does.
        lookup = cr.AwsCustomResource(
            self,
            "EcsClusterLookup",
            on_update=cr.AwsSdkCall(
                service="Batch",
                action="describeComputeEnvironments",
                parameters={"computeEnvironments": [environment.compute_environment_arn]},
                physical_resource_id=cr.PhysicalResourceId.of(environment.compute_environment_arn),
                output_paths=["computeEnvironments.0.ecsClusterArn"],
            ),
            # DescribeComputeEnvironments supports no resource-level permission.
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
                resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE
            ),
            install_latest_aws_sdk=False,
        )
        Validations.of(lookup).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "batch:DescribeComputeEnvironments supports no resource-level "
                    "permission; the policy grants only that read-only action"
                ),
            )
        )
        _acknowledge_custom_resource_provider(Stack.of(self))
        self.ecs_cluster_arn = lookup.get_response_field("computeEnvironments.0.ecsClusterArn")
        cluster_name = Fn.select(1, Fn.split("/", self.ecs_cluster_arn))

        role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(_ECS_INSTANCE_POLICY)],
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{_ECS_INSTANCE_POLICY}]",
                reason=(
                    "AWS-maintained policy of the ECS agent on container instances; AWS "
                    "updates it as the agent gains actions, and the actions it grants take "
                    "no resource ARN. Job containers cannot use it: IMDSv2 hop limit 1"
                ),
            )
        )
        capacity = instance_capacity(instance_type.to_string())
        hardware = ecs.AmiHardwareType.STANDARD
        if capacity is not None and capacity.gpus > 0:
            hardware = ecs.AmiHardwareType.GPU
        elif self.architecture == "arm64":
            hardware = ecs.AmiHardwareType.ARM
        user_data = ec2.UserData.for_linux()
        user_data.add_commands(f"echo ECS_CLUSTER={cluster_name} >> /etc/ecs/ecs.config")
        template = secure_launch_template(
            self,
            "LaunchTemplate",
            root_volume_size=root_volume_size,
            user_data=user_data,
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(hardware),
            instance_type=instance_type,
            role=role,
            security_group=network.security_group,
        )
        group = autoscaling.AutoScalingGroup(
            self,
            "AutoScalingGroup",
            vpc=network.vpc,
            vpc_subnets=network.job_subnets,
            launch_template=template,
            min_capacity=count,
            max_capacity=count,
        )
        Validations.of(group).acknowledge(
            Acknowledgment(
                id="AwsSolutions-AS3",
                reason=(
                    "A fixed-size pool (min = max): its only scaling activities replace "
                    "unhealthy instances and are in the activity history; job failures "
                    "are reported through Batch job state events"
                ),
            )
        )
        self.auto_scaling_group = group


def secure_launch_template(
    scope: Construct,
    construct_id: str,
    *,
    root_volume_size: Size,
    user_data: ec2.UserData,
    machine_image: ec2.IMachineImage | None = None,
    instance_type: ec2.InstanceType | None = None,
    role: iam.IRole | None = None,
    security_group: ec2.ISecurityGroup | None = None,
) -> ec2.LaunchTemplate:
    """A launch template with the library's secure defaults for Batch and ECS instances.

    IMDSv2 required with a hop limit of :data:`IMDS_HOP_LIMIT`, and an encrypted,
    deleted-on-termination gp3 root volume on :data:`ROOT_DEVICE_NAME`.

    Args:
        scope: the parent construct.
        construct_id: the construct id.
        root_volume_size: size of the root volume.
        user_data: the user data (MIME multi-part for Batch managed environments).
        machine_image: the AMI. Default: none (Batch picks it).
        instance_type: the instance type. Default: none (Batch picks it).
        role: the instance role. Default: none (Batch sets the instance profile).
        security_group: the security group. Default: none (Batch sets them).
    """
    return ec2.LaunchTemplate(
        scope,
        construct_id,
        http_endpoint=True,
        http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
        http_put_response_hop_limit=IMDS_HOP_LIMIT,
        block_devices=[
            ec2.BlockDevice(
                device_name=ROOT_DEVICE_NAME,
                volume=ec2.BlockDeviceVolume.ebs(
                    int(root_volume_size.to_gibibytes(rounding=SizeRoundingBehavior.FLOOR)),
                    encrypted=True,
                    volume_type=ec2.EbsDeviceVolumeType.GP3,
                    delete_on_termination=True,
                ),
            )
        ],
        user_data=user_data,
        machine_image=machine_image,
        instance_type=instance_type,
        role=role,
        security_group=security_group,
    )


# --- validation -------------------------------------------------------------------
def _validate_ec2(
    *,
    spot: bool,
    max_vcpus: int,
    min_vcpus: int,
    instance_names: Sequence[str],
    explicit_names: Sequence[str],
    architecture: str | None,
    allocation_strategy: batch.AllocationStrategy | None,
    spot_bid_percentage: int | None,
    gpu: bool,
    root_volume_size: Size | None,
    user_data: ec2.UserData | Sequence[str] | None,
    launch_template: ec2.LaunchTemplate | None,
    image_errors: Sequence[str],
) -> None:
    errors = check_instance_type_names("instance_types", explicit_names)
    errors += check_at_least("max_vcpus", max_vcpus, MIN_MAX_VCPUS)
    errors += check_at_least("min_vcpus", min_vcpus, MIN_VCPUS)
    if not errors and not is_token(min_vcpus) and not is_token(max_vcpus) and min_vcpus > max_vcpus:
        errors.append(f"min_vcpus must be at most max_vcpus ({max_vcpus}), got {min_vcpus}")

    if spot_bid_percentage is not None and not spot:
        errors.append(
            f"spot_bid_percentage is only allowed with spot=True, got {spot_bid_percentage} "
            "with spot=False"
        )
    else:
        errors += check_range(
            "spot_bid_percentage",
            spot_bid_percentage,
            MIN_SPOT_BID_PERCENTAGE,
            MAX_SPOT_BID_PERCENTAGE,
        )
    if allocation_strategy in _SPOT_ONLY_STRATEGIES and not spot:
        assert allocation_strategy is not None
        errors.append(
            f"allocation_strategy {allocation_strategy.name} is only allowed with spot=True; "
            "on-demand allows BEST_FIT_PROGRESSIVE or BEST_FIT"
        )

    architectures: dict[str, list[str]] = {}
    for name in instance_names:
        arch = instance_family_architecture(name)
        if arch is not None:
            architectures.setdefault(arch, []).append(name)
    if len(architectures) > 1:
        found = " and ".join(
            f"{arch} ({', '.join(names)})" for arch, names in architectures.items()
        )
        errors.append(
            f"instance_types and instance_classes must all have one CPU architecture, got {found}"
        )
    elif architecture is not None and architectures and architecture not in architectures:
        found = ", ".join(name for names in architectures.values() for name in names)
        errors.append(
            f"cpu_architecture must be that of instance_types and instance_classes "
            f"({next(iter(architectures))}: {found}), got {architecture.upper()}"
        )
    unsupported = [n for n in instance_names if n.split(".")[0] in AL2023_UNSUPPORTED_FAMILIES]
    if unsupported:
        errors.append(
            "instance_types and instance_classes must run the ECS-optimized Amazon Linux 2023 "
            f"AMI, which does not support {', '.join(AL2023_UNSUPPORTED_FAMILIES)}, got "
            f"{', '.join(unsupported)}"
        )
    errors += image_errors
    if gpu:
        errors += _check_gpu_types(instance_names)

    template_data = launch_template.user_data if launch_template is not None else None
    if template_data is not None and not isinstance(template_data, ec2.MultipartUserData):
        errors.append(
            "launch_template user data must be MIME multi-part (ec2.MultipartUserData): "
            "Batch marks the compute environment INVALID otherwise ('Launch Template "
            "UserData is not MIME multipart format'), got a single-part UserData"
        )
    if launch_template is not None:
        conflicting = [
            name
            for name, value in (("root_volume_size", root_volume_size), ("user_data", user_data))
            if value is not None
        ]
        if conflicting:
            errors.append(
                f"launch_template cannot be combined with {', '.join(conflicting)}: "
                "configure them in your launch template"
            )
    errors += _check_root_volume(root_volume_size)
    raise_if_errors(errors)


def _check_gpu_types(instance_names: Sequence[str]) -> list[str]:
    if all(name in BATCH_INSTANCE_TYPE_ALIASES for name in instance_names):
        return [
            "gpu=True needs instance_types or instance_classes with GPUs (such as g5 or p4d), "
            f"got none: Batch's {', '.join(instance_names)} instance types have no GPU"
        ]
    capacities = [_capacity(name) for name in instance_names]
    if any(c is None for c in capacities):
        return []  # an unknown type may have GPUs: never reject what AWS would accept
    if all(c is not None and c.gpus == 0 for c in capacities):
        return [
            "gpu=True needs instance_types or instance_classes with GPUs (such as g5 or p4d), "
            f"got {', '.join(instance_names)} (no GPU)"
        ]
    return []


def _check_root_volume(root_volume_size: Size | None) -> list[str]:
    if root_volume_size is None or root_volume_size.is_unresolved():
        return []
    gib = root_volume_size.to_gibibytes(rounding=SizeRoundingBehavior.NONE)
    if gib < MIN_ECS_ROOT_VOLUME_GIB or gib > MAX_GP3_VOLUME_GIB or not float(gib).is_integer():
        shown = int(gib) if float(gib).is_integer() else gib
        return [
            f"root_volume_size must be a whole number of GiB between {MIN_ECS_ROOT_VOLUME_GIB} "
            f"(the ECS-optimized AMI's root volume) and {MAX_GP3_VOLUME_GIB}, got {shown} GiB"
        ]
    return []


# --- helpers ----------------------------------------------------------------------
def _instance_class_name(instance_class: ec2.InstanceClass) -> str:
    """The family name (``c6i``) of an ``ec2.InstanceClass`` member (jsii exposes ``C6I``)."""
    return ec2.InstanceType.of(instance_class, ec2.InstanceSize.LARGE).to_string().split(".")[0]


def _capacity(name: str) -> InstanceCapacity | None:
    return instance_capacity(name) if "." in name else instance_class_capacity(name)


def _multi_node_types(
    compute: BatchCompute | PlainCompute, instance_names: Sequence[str], *, public_subnets: bool
) -> tuple[str, ...]:
    """``instance_names`` if ``compute`` can run multi-node parallel jobs, else ()."""
    eligible = (
        not compute.fargate
        and not compute.spot
        and bool(instance_names)
        and not public_subnets
        and len(compute.security_groups) <= MAX_SECURITY_GROUPS
    )
    return tuple(instance_names) if eligible else ()


def _architecture(instance_names: Sequence[str]) -> str | None:
    known = {instance_family_architecture(name) for name in instance_names} - {None}
    return next(iter(known)) if len(known) == 1 else None


def _largest(instance_names: Sequence[str]) -> InstanceCapacity | None:
    capacities = [_capacity(name) for name in instance_names]
    known = [c for c in capacities if c is not None]
    if not known or len(known) < len(capacities):
        return None
    return InstanceCapacity.most_of(known)


def _options(instance_names: Sequence[str]) -> list[InstanceCapacity] | None:
    options: list[InstanceCapacity] = []
    for name in instance_names:
        known = instance_options(name)
        if known is None:
            return None
        options += known
    return options or None


def _multipart(user_data: ec2.UserData | Sequence[str] | None) -> ec2.MultipartUserData:
    """User data as the MIME multi-part document Batch requires in a launch template."""
    if isinstance(user_data, ec2.MultipartUserData):
        return user_data
    multipart = ec2.MultipartUserData()
    if user_data is None:
        return multipart
    if isinstance(user_data, ec2.UserData):
        part = user_data
    else:
        part = ec2.UserData.for_linux()
        part.add_commands(*([user_data] if isinstance(user_data, str) else user_data))
    multipart.add_user_data_part(part, ec2.MultipartBody.SHELL_SCRIPT, True)
    return multipart


def _use_batch_service_linked_role(environment: batch.UnmanagedComputeEnvironment) -> None:
    """Drop the L2's AWSBatchServiceRole role: Batch then uses its service-linked role.

    Managed environments from the L2 already do this; the service-linked role is
    scoped by AWS and needs no managed policy attached in the stack.
    """
    resource = environment.node.default_child
    assert isinstance(resource, batch.CfnComputeEnvironment)
    resource.add_property_deletion_override("ServiceRole")
    environment.node.try_remove_child("BatchServiceRole")


def _acknowledge_custom_resource_provider(stack: Stack) -> None:
    """Acknowledge cdk-nag findings on the CDK-owned Lambda behind AwsCustomResource."""
    provider = stack.node.try_find_child(_AWS_CUSTOM_RESOURCE_PROVIDER_ID)
    if provider is None:
        return
    Validations.of(provider).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            reason=(
                "CDK's own AwsCustomResource provider: the AWS managed basic execution "
                "policy only lets it write its own logs"
            ),
        )
    )


#: The construct id AwsCustomResource gives its singleton provider function.
_AWS_CUSTOM_RESOURCE_PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"
