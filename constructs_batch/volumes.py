"""Data volumes of job containers: EFS (encrypted in transit, IAM-authorized) and host volumes.

Jobs take aws-cdk-lib's ``batch.EcsVolume`` objects. :func:`efs_volume` builds an EFS
one with the secure defaults spelled out, and an EFS volume made with
``batch.EcsVolume.efs(...)`` that leaves transit encryption or IAM authorization
unset gets them too (:func:`secure_volume`): an explicit False is kept, and checked.
The rules AWS enforces on volumes and mount points are in :func:`volume_errors`, the
job role's EFS permissions in :func:`grant_volume_access` and the NFS rule of the file
system's security group in :func:`allow_nfs_from`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from aws_cdk import Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_batch import limits

__all__ = [
    "NFS_PORT",
    "allow_nfs_from",
    "efs_volume",
    "grant_volume_access",
    "secure_volume",
    "volume_errors",
]

#: NFS, the port EFS mount targets listen on (EFS user guide, "security groups").
NFS_PORT = 2049


def efs_volume(
    *,
    name: str,
    container_path: str,
    file_system: efs.IFileSystem,
    access_point: efs.IAccessPoint | None = None,
    readonly: bool = False,
    root_directory: str | None = None,
    transit_encryption_port: int | None = None,
) -> batch.EfsVolume:
    """An EFS volume mounted with transit encryption and IAM authorization (the job role).

    A job given this volume grants its job role ``elasticfilesystem:ClientMount`` (and
    ``ClientWrite`` unless ``readonly``) on the file system, limited to the access
    point when one is given, and opens NFS from its compute's security groups to the
    file system's when both are known.

    Args:
        name: the volume's name, 1 to 255 letters, digits, ``-`` and ``_``.
        container_path: where the volume is mounted (an absolute path).
        file_system: the EFS file system.
        access_point: mount through this access point (its root directory and POSIX
            user apply). Default: None (the file system's ``root_directory``).
        readonly: mount read only. Default: False.
        root_directory: the directory of the file system to mount; must be None or
            ``/`` with an access point. Default: None (the root).
        transit_encryption_port: the port of the encrypted tunnel, 0 to 65535.
            Default: None (the EFS mount helper picks one).
    """
    return batch.EcsVolume.efs(
        name=name,
        container_path=container_path,
        file_system=file_system,
        readonly=readonly,
        root_directory=root_directory,
        enable_transit_encryption=True,
        transit_encryption_port=transit_encryption_port,
        access_point_id=access_point.access_point_id if access_point is not None else None,
        use_job_role=True,
    )


def secure_volume(volume: batch.EcsVolume) -> batch.EcsVolume:
    """The volume with the secure EFS defaults where it leaves them unset.

    Transit encryption defaults to on, IAM authorization to whatever transit
    encryption is (IAM needs it). Host volumes and EFS volumes that set both are
    returned as they are.
    """
    if not isinstance(volume, batch.EfsVolume) or (
        volume.enable_transit_encryption is not None and volume.use_job_role is not None
    ):
        return volume
    encrypted = volume.enable_transit_encryption is not False
    return batch.EcsVolume.efs(
        name=volume.name,
        container_path=volume.container_path,
        file_system=volume.file_system,
        readonly=volume.readonly,
        root_directory=volume.root_directory,
        enable_transit_encryption=encrypted,
        transit_encryption_port=volume.transit_encryption_port,
        access_point_id=volume.access_point_id,
        use_job_role=volume.use_job_role if volume.use_job_role is not None else encrypted,
    )


def volume_errors(
    volumes: Sequence[batch.EcsVolume],
    *,
    fargate: bool,
    argument: str = "volumes",
    reserved: Sequence[batch.EcsVolume] = (),
) -> list[str]:
    """Why AWS would refuse these volumes or their mount points; empty if it would not.

    Args:
        volumes: the volumes of one container.
        fargate: whether the job runs on Fargate (no host volumes there).
        argument: the argument named in messages (``volumes``, ``container.volumes``).
        reserved: volumes the library adds itself (the scratch volume), whose names
            and paths the others must not take. Default: none.
    """
    errors: list[str] = []
    names = {v.name: "the scratch volume" for v in reserved}
    paths = {v.container_path: "the scratch volume" for v in reserved}
    for index, volume in enumerate(volumes):
        where = f"{argument}[{index}]"
        if not limits.is_token(volume.name):
            if not re.fullmatch(limits.NAME_PATTERN, volume.name):
                errors.append(
                    f"{where} name must be 1 to 255 letters, digits, '-' and '_', "
                    f"got {volume.name!r}"
                )
            elif volume.name in names:
                errors.append(
                    f"{where} name must be unique, got {volume.name!r} (also {names[volume.name]})"
                )
            names.setdefault(volume.name, where)
        path = volume.container_path
        if not limits.is_token(path):
            if not path.startswith("/"):
                errors.append(f"{where} container_path must be an absolute path, got {path!r}")
            elif path in paths:
                errors.append(
                    f"{where} container_path must be unique, got {path!r} (also {paths[path]})"
                )
            paths.setdefault(path, where)
        if isinstance(volume, batch.HostVolume) and fargate:
            errors.append(
                f"{where} must not be a host volume on Fargate (host volumes are EC2 only), "
                f"got {volume.name!r} with host_path {volume.host_path!r}"
            )
        if isinstance(volume, batch.EfsVolume):
            errors.extend(_efs_errors(volume, where))
    return errors


def _efs_errors(volume: batch.EfsVolume, where: str) -> list[str]:
    errors = []
    encrypted = volume.enable_transit_encryption is True
    if volume.use_job_role and not encrypted:
        errors.append(
            f"{where} needs enable_transit_encryption=True for IAM authorization "
            f"(use_job_role=True), got {volume.enable_transit_encryption}"
        )
    if volume.access_point_id is not None:
        if not encrypted:
            errors.append(
                f"{where} needs enable_transit_encryption=True with an access point, "
                f"got {volume.enable_transit_encryption}"
            )
        if volume.root_directory not in (None, "/"):
            errors.append(
                f"{where} root_directory must be None or '/' with an access point (the "
                f"access point sets the directory), got {volume.root_directory!r}"
            )
    if volume.root_directory is not None and (
        len(volume.root_directory) > limits.MAX_EFS_ROOT_DIRECTORY_LENGTH
    ):
        errors.append(
            f"{where} root_directory must be at most {limits.MAX_EFS_ROOT_DIRECTORY_LENGTH} "
            f"characters, got {len(volume.root_directory)}"
        )
    errors.extend(
        f"{where} {error}"
        for error in limits.check_range(
            "transit_encryption_port", volume.transit_encryption_port, 0, limits.MAX_PORT
        )
    )
    return errors


def grant_volume_access(
    scope: Construct, role: iam.IGrantable, volumes: Iterable[batch.EcsVolume]
) -> None:
    """Let ``role`` mount the EFS volumes that use IAM authorization (their job role).

    ``elasticfilesystem:ClientMount`` (and ``ClientWrite`` unless the volume is read
    only) on the file system, through a mount target, and only through the volume's
    access point when it has one (EFS user guide, "Using IAM to control file system
    data access").
    """
    for volume in volumes:
        if not isinstance(volume, batch.EfsVolume) or not volume.use_job_role:
            continue
        conditions: dict[str, dict[str, str]] = {
            "Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}
        }
        if volume.access_point_id is not None:
            access_point_arn = Stack.of(scope).format_arn(
                service="elasticfilesystem",
                resource="access-point",
                resource_name=volume.access_point_id,
            )
            conditions["StringEquals"] = {"elasticfilesystem:AccessPointArn": access_point_arn}
        actions = ["elasticfilesystem:ClientMount"]
        if not volume.readonly:
            actions.append("elasticfilesystem:ClientWrite")
        iam.Grant.add_to_principal(
            grantee=role,
            actions=actions,
            resource_arns=[volume.file_system.file_system_arn],
            conditions=conditions,
        )


def allow_nfs_from(
    volumes: Iterable[batch.EcsVolume], security_groups: Sequence[ec2.ISecurityGroup]
) -> None:
    """Open NFS on each EFS volume's file system to the jobs' security groups."""
    for volume in volumes:
        if not isinstance(volume, batch.EfsVolume):
            continue
        connections = volume.file_system.connections
        for group in security_groups:
            connections.allow_from(group, ec2.Port.tcp(NFS_PORT), "NFS from AWS Batch jobs")
