"""The AMI of a managed EC2 compute environment: Batch's image type, and the AMI if given.

Batch picks an ECS-optimized AMI by image type (``Ec2Configuration.imageType``), or
uses ``imageIdOverride`` with the type it is told. The rules here keep both on Amazon
Linux 2023 and keep GPU instance types on the NVIDIA image (Ec2Configuration API;
Batch user guide, "Amazon Linux 2023 migration" and "GPU jobs").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import CfnParameter, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from constructs_batch import limits

__all__ = ["ImageChoice", "choose_image"]

_ECS_IMAGE_TYPES = ("ECS_AL2023", "ECS_AL2023_NVIDIA", *limits.RETIRED_IMAGE_TYPES)


@dataclass(frozen=True)
class ImageChoice:
    """The image type to render, and why the combination would fail (empty if it would not)."""

    image_type: batch.EcsMachineImageType
    errors: tuple[str, ...]


def choose_image(
    scope: Construct,
    *,
    instance_names: Sequence[str],
    architecture: str | None,
    gpu: bool | None,
    machine_image: ec2.IMachineImage | None,
    image_type: batch.EcsMachineImageType | None,
) -> ImageChoice:
    """The image type for these instance types, given ``gpu``, the AMI and its type if any.

    Args:
        scope: where the AMI's SSM parameter (if any) is looked up.
        instance_names: the instance types and families the environment launches.
        architecture: their CPU architecture, None when unknown.
        gpu: True for the NVIDIA image, False for the plain one, None to decide by
            the instance types (any NVIDIA GPU family: the NVIDIA image).
        machine_image: a custom AMI; an ECS-optimized one published in SSM is recognised.
        image_type: the image type the caller says the AMI is, or wants.
    """
    gpu_names = [n for n in instance_names if n.split(".")[0] in limits.NVIDIA_GPU_FAMILIES]
    errors: list[str] = []
    ami = _ecs_ami(scope, machine_image) if machine_image is not None else None
    wanted = image_type.value if image_type is not None else None
    if wanted is not None and wanted not in _ECS_IMAGE_TYPES:
        errors.append(
            f"image_type must be ECS_AL2023 or ECS_AL2023_NVIDIA (an ECS compute "
            f"environment), got {wanted}"
        )
    if ami is not None:
        path, (ami_type, ami_architecture) = ami
        if ami_type in limits.RETIRED_IMAGE_TYPES:
            errors.append(
                f"machine_image must be an Amazon Linux 2023 AMI: Batch blocks new ECS compute "
                f"environments on Amazon Linux 2 since 2026-06-30, got {path}"
            )
        elif wanted is not None and wanted != ami_type:
            errors.append(f"image_type must be {ami_type} for machine_image {path}, got {wanted}")
        if architecture is not None and ami_architecture != architecture:
            errors.append(
                f"machine_image must be built for {architecture} like the instance types, "
                f"got {path} ({ami_architecture})"
            )
        wanted = wanted or ami_type
    if gpu is False and gpu_names:
        errors.append(
            f"gpu must be True or None with GPU instance types ({', '.join(gpu_names)}): "
            "without the NVIDIA image their GPUs are never offered to jobs, got False"
        )
    nvidia = (
        wanted == "ECS_AL2023_NVIDIA" if wanted else (gpu if gpu is not None else bool(gpu_names))
    )
    if wanted in limits.RETIRED_IMAGE_TYPES:
        errors.append(
            f"image_type must be ECS_AL2023 or ECS_AL2023_NVIDIA: Batch blocks new ECS compute "
            f"environments on Amazon Linux 2 AMIs since 2026-06-30, when AWS ended their "
            f"support, got {wanted}"
        )
    elif wanted == "ECS_AL2023" and gpu_names:
        errors.append(
            f"image_type must be ECS_AL2023_NVIDIA with GPU instance types "
            f"({', '.join(gpu_names)}), got ECS_AL2023"
        )
    if nvidia:
        graviton = [n for n in gpu_names if limits.instance_family_architecture(n) == "arm64"]
        if graviton:
            errors.append(
                "instance_types and instance_classes with GPUs must be x86_64 for the ECS "
                "AL2023 NVIDIA image, which is for non-Graviton instance types only "
                f"(Ec2Configuration API), got {', '.join(graviton)}"
            )
        unsupported = [
            n
            for n in instance_names
            if n.split(".")[0] in limits.AL2023_NVIDIA_UNSUPPORTED_FAMILIES
        ]
        if unsupported:
            errors.append(
                "instance_types and instance_classes must run the ECS AL2023 NVIDIA image, "
                f"which does not support {', '.join(limits.AL2023_NVIDIA_UNSUPPORTED_FAMILIES)}, "
                f"got {', '.join(unsupported)}"
            )
    chosen = "ECS_AL2023_NVIDIA" if nvidia else "ECS_AL2023"
    if wanted in _ECS_IMAGE_TYPES:
        chosen = wanted
    return ImageChoice(batch.EcsMachineImageType[chosen], tuple(errors))


def _ecs_ami(scope: Construct, image: ec2.IMachineImage) -> tuple[str, tuple[str, str]] | None:
    """The SSM path and (image type, architecture) of an ECS-optimized AMI; None if another."""
    stack = Stack.of(scope)
    image_id = stack.resolve(image.get_image(scope).image_id)
    if not isinstance(image_id, dict) or "Ref" not in image_id:
        return None
    path = next(
        (
            str(child.default)
            for child in stack.node.children
            if isinstance(child, CfnParameter)
            and stack.resolve(child.logical_id) == image_id["Ref"]
        ),
        None,
    )
    if path is None:
        return None
    for prefix, facts in limits.ECS_AMI_PARAMETERS.items():
        if path.startswith(prefix):
            return path, facts
    return None
