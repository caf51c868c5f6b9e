"""Container jobs for AWS Batch: a job definition validated against the queue it runs on.

A :class:`ContainerJob` is one ``batch.EcsJobDefinition`` (Fargate or EC2) with its
log group, secrets wired to the execution role, a retry strategy that retries
infrastructure failures and not application errors, and
:meth:`ContainerJob.grant_submit`, which refuses a queue the job can never run on.
Its container may mount data volumes (:mod:`constructs_batch.volumes`), take Linux
settings, run on Graviton, have sidecars (:mod:`constructs_batch.sidecar`) and hold
consumable resources. :class:`BatchJob` is what it shares with
:class:`~constructs_batch.multinode.MultiNodeJob`; the container's own rules live in
``constructs_batch._container``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from aws_cdk import (
    Acknowledgment,
    Annotations,
    Duration,
    Fn,
    Size,
    SizeRoundingBehavior,
    Stack,
    Validations,
)
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_batch import limits
from constructs_batch._arguments import checked_arguments
from constructs_batch._container import (
    DEFAULT_SCRATCH_PATH,
    SCRATCH_VOLUME,
    Container,
    ContainerSpec,
    FargateSettings,
    SecretSource,
    acknowledge_execute_command,
    acknowledge_image_pull,
    job_size_errors,
    log_driver_errors,
)
from constructs_batch._kms import allow_log_encryption
from constructs_batch._nag import nag_value
from constructs_batch.capacity import architecture_name
from constructs_batch.queue import IBatchQueue, as_batch_queue
from constructs_batch.sidecar import Sidecar, render_multi_container, sidecar_errors
from constructs_batch.volumes import allow_nfs_from, grant_volume_access

__all__ = [
    "DEFAULT_LOG_RETENTION",
    "DEFAULT_MEMORY",
    "DEFAULT_RETRY_ATTEMPTS",
    "DEFAULT_SCRATCH_PATH",
    "DEFAULT_TIMEOUT",
    "DEFAULT_VCPUS",
    "LOG_STREAM_PREFIX",
    "SCRATCH_VOLUME",
    "BatchJob",
    "ContainerJob",
    "SecretSource",
    "Sidecar",
    "retry_strategies",
]

#: One vCPU and 2 GiB: valid on Fargate and on every EC2 instance type.
DEFAULT_VCPUS = 1.0
DEFAULT_MEMORY = Size.gibibytes(2)
#: Three attempts: enough to ride out two Spot reclaims without hiding a bad job for long.
DEFAULT_RETRY_ATTEMPTS = 3
#: A job that runs an hour is killed rather than billed forever.
DEFAULT_TIMEOUT = Duration.hours(1)
#: A month of logs to debug a failed run, without paying to keep them forever.
DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
#: Log streams are ``job/<container>/<ecs task id>``.
LOG_STREAM_PREFIX = "job"


def retry_strategies() -> list[batch.RetryStrategy]:
    """The evaluate-on-exit rules every ContainerJob gets, first match wins.

    1. RETRY when the EC2 host went away (``Host EC2*``: Spot reclaim or instance
       failure), even if the container was stopped with an exit code.
    2. RETRY when the Fargate Spot task was reclaimed (same reason).
    3. EXIT on any exit code: the application ran and failed, so running it again
       on the same input would fail again and only cost money.

    Failures without an exit code that match no rule (image pull errors, a task
    that failed to start, an agent error) are retried: that is what Batch does
    when no rule matches, and those failures are usually transient.
    """
    return [
        batch.RetryStrategy.of(
            batch.Action.RETRY,
            batch.Reason.custom(on_status_reason=limits.SPOT_RECLAIM_STATUS_REASON),
        ),
        batch.RetryStrategy.of(
            batch.Action.RETRY,
            batch.Reason.custom(on_status_reason=limits.FARGATE_SPOT_RECLAIM_STATUS_REASON),
        ),
        batch.RetryStrategy.of(
            batch.Action.EXIT, batch.Reason.custom(on_exit_code=limits.ANY_EXIT_CODE)
        ),
    ]


class BatchJob(Construct):
    """What every job of the library shares: its log group, its job role and submit grants.

    Subclasses build ``job_definition`` and say, in :meth:`placement_errors`, why the
    job could never run on a queue.

    Attributes:
        job_definition: the aws-cdk-lib job definition (the escape hatch).
        log_group: where the containers' output goes.
        job_role: the role the containers' code runs as; grant it what the job needs.
    """

    job_definition: batch.IJobDefinition
    log_group: logs.LogGroup
    job_role: iam.IRole

    def _add_log_group(
        self, retention: logs.RetentionDays, encryption_key: kms.IKey | None
    ) -> ecs.LogDriver:
        """Create ``log_group`` and return the awslogs driver that writes to it."""
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=retention, encryption_key=encryption_key
        )
        if encryption_key is not None:
            allow_log_encryption(self, encryption_key)
        return ecs.LogDrivers.aws_logs(stream_prefix=LOG_STREAM_PREFIX, log_group=self.log_group)

    def _add_job_role(self, job_role: iam.IRole | None) -> iam.IRole:
        """Use ``job_role``, or create a role with no permissions, as ``job_role``."""
        self.job_role = job_role or iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Role the job's container runs as",
        )
        return self.job_role

    def placement_errors(self, queue: IBatchQueue | batch.IJobQueue) -> list[str]:
        """Why this job can never run on ``queue``; empty if it can."""
        raise NotImplementedError

    def grant_submit(
        self, grantee: iam.IGrantable, queue: IBatchQueue | batch.IJobQueue
    ) -> iam.Grant:
        """Let ``grantee`` submit this job, any revision of it, to ``queue``.

        Grants ``batch:SubmitJob`` on the queue and on every revision of the job
        definition (``job-definition/<name>:*``), so that a submitter holding the
        previous revision's ARN during a deployment is not refused. Nothing else:
        in particular not ``batch:TagResource``, which SubmitJob needs only when the
        request itself carries tags.

        Args:
            grantee: who submits (a Lambda function, a role, a state machine...).
            queue: the queue the job is submitted to (anything ``ContainerJob(queue=...)``
                accepts).

        Raises:
            ValueError: if the job can never run on ``queue`` (wrong platform, too
                many vCPUs, too much memory, GPUs the queue has not...), or the
                queue's capacity cannot be known.
        """
        queue = as_batch_queue(queue)
        raise_unless_pending(queue, self.placement_errors(queue))
        all_revisions = self.all_revisions_arn
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["batch:SubmitJob"],
            resource_arns=[queue.job_queue.job_queue_arn, all_revisions],
        )
        self._acknowledge_revision_wildcard(grantee, all_revisions)
        return grant

    @staticmethod
    def _acknowledge_revision_wildcard(grantee: iam.IGrantable, arn: str) -> None:
        # cdk-nag reports the `:*` revision suffix as a wildcard (IAM5) on the policy
        # the grant lands in; its finding id is the ARN flattened as cdk-nag does.
        principal = grantee.grant_principal
        if not isinstance(principal, Construct):
            return
        policy = principal.node.try_find_child("DefaultPolicy") or principal
        flat = nag_value(policy, arn)
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{flat}]",
                reason="batch:SubmitJob on every revision of one job definition "
                "(job-definition/<name>:*): the revision changes on each deployment and "
                "a submitter holding the previous revision must not be refused; the "
                "name is fixed, so no other job definition matches",
            )
        )

    @property
    def all_revisions_arn(self) -> str:
        """``arn:...:job-definition/<name>:*``, matching every revision of the job definition."""
        # The definition's Ref is `arn:...:job-definition/<name>:<revision>`: take the
        # name from it (the L2's job_definition_name keeps the revision).
        name_and_revision = Fn.select(1, Fn.split("/", self.job_definition.job_definition_arn))
        name = Fn.select(0, Fn.split(":", name_and_revision))
        return Stack.of(self.job_definition).format_arn(
            service="batch", resource="job-definition", resource_name=f"{name}:*"
        )


class ContainerJob(BatchJob):
    """A container job definition for Fargate or EC2, validated against its queue.

    The platform is ``fargate`` if given, else that of ``queue``, else EC2. The
    job's log group, its execution role (which reads the secrets) and its job role
    (which the container's code runs as) are created unless given.

    Attributes:
        job_definition: the underlying ``batch.EcsJobDefinition`` (the escape hatch).
        container: the container definition (Fargate or EC2).
        log_group: where the container's output goes.
        execution_role: the role ECS uses to pull the image, read the secrets and
            write the logs.
        job_role: the role the container's code runs as; grant it what the job needs.
        fargate: True for a Fargate job.
        sidecar_containers: the container definition of each sidecar, by name.
        vcpus: the vCPUs the job reserves (all its containers).
        memory_mib: the memory (MiB) the job reserves (all its containers).
        gpus: the GPUs the job reserves (EC2 only).
        architecture: the CPU architecture of the image (``x86_64`` or ``arm64``),
            given or the queue's; None when not known.
        assign_public_ip: whether a Fargate job gets a public IP (False on EC2).
    """

    job_definition: batch.EcsJobDefinition
    container: batch.EcsFargateContainerDefinition | batch.EcsEc2ContainerDefinition
    execution_role: iam.IRole
    fargate: bool
    vcpus: float
    memory_mib: int
    gpus: int
    architecture: str | None
    assign_public_ip: bool

    # secrets: their own check names the kinds of secret allowed.
    @checked_arguments(skip=("secrets",))
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: ecs.ContainerImage,
        vcpus: float = DEFAULT_VCPUS,
        memory: Size = DEFAULT_MEMORY,
        gpus: int = 0,
        fargate: bool | None = None,
        queue: IBatchQueue | batch.IJobQueue | None = None,
        command: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, SecretSource] | None = None,
        parameters: Mapping[str, str] | None = None,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        timeout: Duration | None = DEFAULT_TIMEOUT,
        log_retention: logs.RetentionDays = DEFAULT_LOG_RETENTION,
        log_encryption_key: kms.IKey | None = None,
        ephemeral_storage: Size | None = None,
        assign_public_ip: bool | None = None,
        job_role: iam.IRole | None = None,
        readonly_root_filesystem: bool = True,
        scratch_path: str | None = DEFAULT_SCRATCH_PATH,
        user: str | None = None,
        volumes: Sequence[batch.EcsVolume] | None = None,
        linux_parameters: batch.LinuxParameters | None = None,
        ulimits: Sequence[batch.Ulimit] | None = None,
        privileged: bool = False,
        enable_execute_command: bool = False,
        cpu_architecture: ecs.CpuArchitecture | None = None,
        log_driver: ecs.LogDriver | None = None,
        sidecars: Sequence[Sidecar] | None = None,
        consumable_resources: Mapping[batch.IConsumableResource, int] | None = None,
    ) -> None:
        """Create the job definition, its log group and roles.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            image: the container image.
            vcpus: vCPUs to reserve; on Fargate one of 0.25, 0.5, 1, 2, 4, 8, 16, on
                EC2 at least 1. Default: ``DEFAULT_VCPUS`` (1).
            memory: memory to reserve; on Fargate one of the sizes allowed with
                ``vcpus``. Default: ``DEFAULT_MEMORY`` (2 GiB).
            gpus: GPUs to reserve (EC2 only). Default: 0.
            fargate: run on Fargate (True) or EC2 (False). Default: None (the
                platform of ``queue``, or EC2 without a queue).
            queue: the queue the job is meant for: decides the platform and the
                public IP, and the job is checked to fit it. A :class:`BatchQueue`, an
                imported one (``BatchQueue.from_job_queue_arn`` / ``from_lookup``) or
                an aws-cdk-lib ``batch.JobQueue`` whose compute environments tell its
                capacity. Default: None (no check until :meth:`grant_submit`).
            command: the container command. Default: None (the image's CMD).
            environment: environment variables (names must not start with
                ``AWS_BATCH``). Default: None.
            secrets: environment variables read from Secrets Manager or SSM at
                start, granted to the execution role (with ``kms:Decrypt`` when the
                secret or parameter has a customer-managed key): an ``ISecret``
                (the whole secret), ``(ISecret, "field")`` (one JSON field), an
                ``ssm.IParameter`` or a ``batch.Secret``. Default: None.
            parameters: default values for ``Ref::name`` placeholders in
                ``command``. Default: None.
            retry_attempts: attempts per job, 1 to 10; see :func:`retry_strategies`
                for what is retried. Default: ``DEFAULT_RETRY_ATTEMPTS`` (3).
            timeout: kill an attempt that runs longer (at least 60 s); None for no
                limit. Default: ``DEFAULT_TIMEOUT`` (1 hour).
            log_retention: how long the job's logs are kept.
                Default: ``DEFAULT_LOG_RETENTION`` (one month).
            log_encryption_key: a customer-managed KMS key for the job's log group; a
                key defined in the app gets the key policy statement CloudWatch Logs
                needs. Default: None (CloudWatch Logs' own encryption, no key to pay
                for while idle).
            ephemeral_storage: Fargate task storage, 21 to 200 GiB (Fargate only).
                Default: None (Fargate's 20 GiB).
            assign_public_ip: give a Fargate job a public IP, needed in public
                subnets without NAT to reach ECR (Fargate only). Default: None
                (what ``queue`` needs; False without a queue).
            job_role: the role the container's code runs as. Default: None (a new
                role with no permissions, exposed as ``job_role``).
            readonly_root_filesystem: mount the container's root file system read
                only; write to a volume or S3 instead. Default: True.
            scratch_path: where a writable, empty scratch volume is mounted when the
                root file system is read only, so temporary files (``tempfile``,
                ``/tmp``) keep working; it lives and dies with the job. None for no
                scratch volume. Default: ``/tmp``.
            user: the user (name or uid[:gid]) the container runs as.
                Default: None (the image's USER).
            volumes: data volumes, each mounted at its container path:
                ``batch.EcsVolume.efs(...)`` (or :func:`~constructs_batch.volumes.efs_volume`)
                and, on EC2 only, ``batch.EcsVolume.host(...)``. EFS volumes get
                transit encryption and IAM authorization with the job role unless
                they turn them off; the job role may then mount them (write unless
                read only; through their access point only, if they have one), and
                the file system's security group admits NFS from the queue's compute
                when both are known. ``job.container.add_volume(...)`` works too and
                is checked at synth, without grants. Default: None.
            linux_parameters: shared memory, devices, tmpfs, swap and the init process
                (``batch.LinuxParameters``); on Fargate only ``init_process_enabled``.
                Default: None.
            ulimits: resource limits such as open files (``batch.Ulimit``), soft at
                most hard; EC2 only. Default: None (Docker's).
            privileged: give the container the host's privileges; EC2 only.
                Default: False.
            enable_execute_command: allow ECS Exec into running containers; the job
                role gets the four ``ssmmessages`` channel actions (on ``*``: they
                take no resource). Default: False.
            cpu_architecture: the CPU architecture of the image, ``ecs.CpuArchitecture.ARM64``
                for Graviton. On Fargate it is rendered as the runtime platform (Fargate
                and Fargate Spot run both); on EC2 it must be the queue's.
                Default: None (the queue's; X86_64 on Fargate without one).
            log_driver: where the container's output goes, e.g.
                ``ecs.LogDrivers.splunk(..., secret_token=ecs.Secret.from_secrets_manager(s))``:
                secret options are granted to the execution role like ``secrets``. On
                Fargate awslogs or splunk only. Default: None (awslogs to ``log_group``).
            sidecars: containers beside the main one (a log or metrics agent, a
                proxy, a setup step), each a :class:`~constructs_batch.sidecar.Sidecar`:
                the job definition becomes a multi-container one (``EcsProperties``),
                the main container named ``main`` and essential, and what the job
                reserves is the sum of all containers (a Fargate combination, or
                within the queue's largest instance). Sidecars log to ``log_group``
                and share the scratch volume; their containers are in
                ``sidecar_containers``. Default: None (one container).
            consumable_resources: what each job holds while it runs, by
                ``batch.ConsumableResource`` (license seats, tokens): a whole quantity
                of at least 1, at most the resource's total when it is known, up to 5
                resources. A job waits in RUNNABLE until all are free. Default: None.

        Raises:
            ValueError: listing every invalid argument, including every reason the
                job can never run on ``queue``.
        """
        queue = as_batch_queue(queue) if queue is not None else None
        is_fargate = fargate if fargate is not None else (queue.fargate if queue else False)
        spec = ContainerSpec(
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
        architecture = architecture_name(cpu_architecture) or (
            queue.architecture if queue else None
        )
        sidecars = list(sidecars or ())
        total_vcpus = vcpus + sum(s.vcpus for s in sidecars)
        total_memory_mib = spec.memory_mib + sum(
            s.memory.to_mebibytes(rounding=SizeRoundingBehavior.NONE) for s in sidecars
        )
        raise_unless_pending(
            queue,
            [
                *_container_errors(
                    spec, sidecars, is_fargate, queue, total_vcpus, total_memory_mib
                ),
                *_platform_errors(is_fargate, ephemeral_storage, assign_public_ip),
                *log_driver_errors(log_driver, fargate=is_fargate),
                *_consumable_resource_errors(consumable_resources or {}),
                *attempt_errors(retry_attempts, timeout),
                *(
                    [
                        *queue.placement_errors(
                            vcpus=total_vcpus,
                            memory_mib=int(total_memory_mib),
                            gpus=gpus,
                            fargate=is_fargate,
                            architecture=architecture_name(cpu_architecture),
                        ),
                        *_public_ip_errors(queue, is_fargate, assign_public_ip),
                    ]
                    if queue is not None
                    else []
                ),
            ],
        )
        super().__init__(scope, construct_id)

        self.fargate = is_fargate
        self.vcpus = total_vcpus
        self.memory_mib = int(total_memory_mib)
        self.gpus = gpus
        self.architecture = architecture
        self._cpu_architecture = architecture_name(cpu_architecture)
        self.assign_public_ip = is_fargate and (
            assign_public_ip
            if assign_public_ip is not None
            else (queue.assign_public_ip if queue else False)
        )
        if queue is not None and is_fargate and assign_public_ip and not queue.assign_public_ip:
            _warn_unroutable_public_ip(self, queue)
        logging = self._add_log_group(log_retention, log_encryption_key)
        self.container = spec.build(
            self,
            "Container",
            job_role=self._add_job_role(job_role),
            logging=log_driver or logging,
            fargate=FargateSettings(
                assign_public_ip=self.assign_public_ip,
                ephemeral_storage=ephemeral_storage,
                cpu_architecture=cpu_architecture or _fargate_architecture(queue),
            )
            if is_fargate
            else None,
            enable_execute_command=enable_execute_command,
        )
        if enable_execute_command:
            acknowledge_execute_command(self.job_role)
        # The L2 creates the execution role and grants it the secrets and the logs.
        self.execution_role = self.container.execution_role
        acknowledge_image_pull(self.execution_role, [image, *(s.image for s in sidecars)])

        self.job_definition = batch.EcsJobDefinition(
            self,
            "Resource",
            container=self.container,
            propagate_tags=True,
            parameters=dict(parameters) if parameters else None,
            retry_attempts=retry_attempts,
            retry_strategies=retry_strategies(),
            timeout=timeout,
        )
        cfn = self.job_definition.node.default_child
        assert isinstance(cfn, batch.CfnJobDefinition)
        checked = [(spec, self.container), *self._add_sidecars(cfn, sidecars, spec, logging)]
        spec.finish(cfn, "EcsProperties.TaskProperties.0" if sidecars else "ContainerProperties")
        if consumable_resources:
            _require_consumable_resources(cfn, consumable_resources)
        grant_volume_access(self, self.job_role, spec.data_volumes)
        allow_nfs_from(spec.data_volumes, queue.security_groups if queue else ())
        for checked_spec, container in checked:
            self.node.add_validation(checked_spec.check_later(container, fargate=is_fargate))

    def _add_sidecars(
        self,
        job_definition: batch.CfnJobDefinition,
        sidecars: Sequence[Sidecar],
        spec: ContainerSpec,
        logging: ecs.LogDriver,
    ) -> list[tuple[ContainerSpec, Container]]:
        """Build each sidecar's container and make the job definition a multi-container one.

        Sidecars log to the job's log group and share its scratch volume.
        """
        self.sidecar_containers: dict[str, batch.EcsEc2ContainerDefinition] = {}
        built: list[tuple[ContainerSpec, Container]] = []
        for index, sidecar in enumerate(sidecars):
            sidecar_spec = sidecar.spec(index, spec.scratch_path if spec.has_scratch else None)
            container = sidecar_spec.build(
                self,
                f"Sidecar{index}",
                job_role=self.job_role,
                logging=logging,
                execution_role=self.execution_role,
            )
            assert isinstance(container, batch.EcsEc2ContainerDefinition)
            self.sidecar_containers[sidecar.name] = container
            built.append((sidecar_spec, container))
        if sidecars:
            render_multi_container(
                self,
                job_definition=job_definition,
                sidecars=[(s, self.sidecar_containers[s.name]) for s in sidecars],
            )
        return built

    def placement_errors(self, queue: IBatchQueue | batch.IJobQueue) -> list[str]:
        """Why this job can never run on ``queue``; empty if it can.

        Args:
            queue: the queue to check against (see :meth:`BatchQueue.placement_errors`);
                anything ``ContainerJob(queue=...)`` accepts.

        Raises:
            ValueError: if the queue's capacity cannot be known (see ``queue``).
        """
        queue = as_batch_queue(queue)
        return [
            *queue.placement_errors(
                vcpus=self.vcpus,
                memory_mib=self.memory_mib,
                gpus=self.gpus,
                fargate=self.fargate,
                architecture=self._cpu_architecture,
            ),
            *_public_ip_errors(queue, self.fargate, self.assign_public_ip),
        ]


def raise_unless_pending(queue: IBatchQueue | None, errors: Sequence[str]) -> None:
    """Raise the errors, unless they were judged against a queue whose lookup is pending.

    On the CDK CLI's first pass a looked-up queue's platform and capacity are not known
    yet: the errors are recorded as information (the pass's output is discarded, and
    the next pass, with the values, raises them).
    """
    if queue is not None and queue.lookup_pending:
        if errors:
            Annotations.of(cast(Construct, queue)).add_info(
                "checks deferred until the queue lookup completes: " + "; ".join(errors)
            )
        return
    limits.raise_if_errors(errors)


def _platform_errors(
    fargate: bool, ephemeral_storage: Size | None, assign_public_ip: bool | None
) -> list[str]:
    errors = []
    if ephemeral_storage is not None:
        gib = ephemeral_storage.to_gibibytes(rounding=SizeRoundingBehavior.NONE)
        if not fargate:
            errors.append(
                f"ephemeral_storage must be None on EC2 (Fargate only), got {_fmt(gib)} GiB"
            )
        else:
            errors.extend(
                f"{error} GiB"
                for error in limits.check_range(
                    "ephemeral_storage",
                    gib,
                    limits.MIN_EPHEMERAL_STORAGE_GIB,
                    limits.MAX_EPHEMERAL_STORAGE_GIB,
                )
            )
    if assign_public_ip is not None and not fargate:
        errors.append(
            f"assign_public_ip must be None on EC2 (Fargate only), got {assign_public_ip}"
        )
    return errors


def attempt_errors(retry_attempts: int, timeout: Duration | None) -> list[str]:
    """Retry attempts 1 to 10 and an attempt timeout of at least 60 s (RetryStrategy, JobTimeout)."""
    return [
        *limits.check_range(
            "retry_attempts", retry_attempts, limits.MIN_RETRY_ATTEMPTS, limits.MAX_RETRY_ATTEMPTS
        ),
        *_timeout_errors(timeout),
    ]


def _timeout_errors(timeout: Duration | None) -> list[str]:
    if timeout is None:
        return []
    seconds = timeout.to_seconds(integral=False)
    if limits.is_token(seconds) or seconds >= limits.MIN_TIMEOUT_SECONDS:
        return []
    return [
        f"timeout must be at least {limits.MIN_TIMEOUT_SECONDS} seconds, got {_fmt(seconds)} seconds"
    ]


def _container_errors(
    spec: ContainerSpec,
    sidecars: Sequence[Sidecar],
    fargate: bool,
    queue: IBatchQueue | None,
    total_vcpus: float,
    total_memory_mib: float,
) -> list[str]:
    """The containers' own rules and, without a queue, Fargate's for their sum.

    With a queue, its placement_errors report Fargate's rules (naming the queue).
    """
    errors = [*spec.errors(fargate=fargate), *sidecar_errors(sidecars, fargate=fargate)]
    if queue is None and not errors:
        errors = job_size_errors(
            vcpus=total_vcpus,
            memory_mib=total_memory_mib,
            gpus=spec.gpus,
            fargate=fargate,
            label=" of all containers" if sidecars else "",
        )
    return errors


def _warn_unroutable_public_ip(job: Construct, queue: IBatchQueue) -> None:
    Annotations.of(job).add_warning_v2(
        "constructs-batch:unroutable-public-ip",
        f"assign_public_ip=True on queue {queue.node.id}, whose subnets are not public: "
        "the public IP has no route (jobs reach AWS through NAT or VPC endpoints) "
        "and each running job pays for a public IPv4 address",
    )


def _require_consumable_resources(
    job_definition: batch.CfnJobDefinition, resources: Mapping[batch.IConsumableResource, int]
) -> None:
    # The L2 has no such property: set the L1's, which nothing else writes.
    job_definition.consumable_resource_properties = (
        batch.CfnJobDefinition.ConsumableResourcePropertiesProperty(
            consumable_resource_list=[
                batch.CfnJobDefinition.ConsumableResourceRequirementProperty(
                    consumable_resource=resource.consumable_resource_arn, quantity=quantity
                )
                for resource, quantity in resources.items()
            ]
        )
    )


def _consumable_resource_errors(resources: Mapping[batch.IConsumableResource, int]) -> list[str]:
    """Up to 5 resources per job, each a whole quantity from 1 to the resource's total."""
    errors = []
    if len(resources) > limits.MAX_CONSUMABLE_RESOURCES_PER_JOB:
        errors.append(
            f"consumable_resources must name at most {limits.MAX_CONSUMABLE_RESOURCES_PER_JOB} "
            f"resources, got {len(resources)}"
        )
    for resource, quantity in resources.items():
        name = resource.node.id
        if limits.is_token(quantity):
            continue
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            errors.append(
                f"consumable_resources[{name}] must be a whole quantity of at least 1, got "
                f"{quantity!r}"
            )
            continue
        total = _total_quantity(resource)
        if total is not None and quantity > total:
            errors.append(
                f"consumable_resources[{name}] must be at most the resource's total quantity "
                f"({total}): the job would wait in RUNNABLE forever, got {quantity}"
            )
    return errors


def _total_quantity(resource: batch.IConsumableResource) -> int | None:
    """The total of a resource defined in the app; None for an imported one or a token."""
    child = resource.node.default_child
    total = getattr(child, "total_quantity", None) if child is not None else None
    return int(total) if isinstance(total, int | float) and not limits.is_token(total) else None


def _public_ip_errors(
    queue: IBatchQueue, fargate: bool, assign_public_ip: bool | None
) -> list[str]:
    """A Fargate job in public subnets without NAT reaches ECR only through a public IP."""
    if not fargate or assign_public_ip is not False or not queue.assign_public_ip:
        return []
    return [
        f"assign_public_ip must be True to run on queue {queue.node.id}, whose subnets are "
        "public without NAT: without a public IP the job could never pull its image, got False"
    ]


def _fargate_architecture(queue: IBatchQueue | None) -> ecs.CpuArchitecture | None:
    if queue is None or queue.architecture is None:
        return None
    return (
        ecs.CpuArchitecture.ARM64 if queue.architecture == "arm64" else ecs.CpuArchitecture.X86_64
    )


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
