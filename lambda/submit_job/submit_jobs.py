"""What the submitter sends to AWS Batch: job names, job environments, array manifests.

Pure functions. AWS Batch caps SubmitJob at 50 calls per second per account and
Region (a quota that cannot be raised), so the objects of one invocation go out as
ONE array job whose children each read their entry from a manifest in S3, instead
of one SubmitJob per object.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from submit_contract import (
    JOB_ENV_CSV_BUCKET,
    JOB_ENV_CSV_ETAG,
    JOB_ENV_CSV_KEY,
    JOB_ENV_CSV_MANIFEST,
    JOB_ENV_CSV_PARTS_MANIFEST,
    JOB_ENV_CSV_VERSION_ID,
    JOB_ENV_LEDGER_OBJECT_ID,
    JOB_ENV_LOAD_JOB_ID,
    JOB_ENV_PLAN_PARTS,
    MANIFEST_FIELD_BUCKET,
    MANIFEST_FIELD_ETAG,
    MANIFEST_FIELD_KEY,
    MANIFEST_FIELD_OBJECT_ID,
    MANIFEST_FIELD_VERSION_ID,
    MANIFEST_SUFFIX,
    MAX_ARRAY_SIZE,
    MAX_JOB_NAME_LENGTH,
    PARTS_MANIFEST_FOLDER,
)
from submit_events import S3Object

__all__ = [
    "ARRAY_JOB_NAME_PREFIX",
    "COMPLETION_JOB_NAME_PREFIX",
    "JOB_NAME_PATTERN",
    "JOB_NAME_PREFIX",
    "array_job_environment",
    "array_job_name",
    "chunk",
    "completion_job_environment",
    "completion_job_name",
    "manifest_body",
    "manifest_key",
    "manifest_uri",
    "object_job_name",
    "parse_manifest",
    "part_count",
    "parts_manifest_key",
    "plan_job_environment",
    "plan_job_name",
    "single_job_environment",
    "split_job_environment",
]

JOB_NAME_PREFIX = "load-"
ARRAY_JOB_NAME_PREFIX = "load-batch-"
#: As long as ``load-``: a load job's name with it in place stays within the name limit.
COMPLETION_JOB_NAME_PREFIX = "done-"
PLAN_JOB_NAME_PREFIX = "plan-"
#: What AWS Batch accepts as a job name (SubmitJob API).
JOB_NAME_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_JOB_NAME_LENGTH - 1}}}")
#: Hex digits of the hash that keeps names of different objects apart after truncation.
_HASH_LENGTH = 10
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]+")

_T = TypeVar("_T")


def _short_hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:_HASH_LENGTH]


def object_job_name(s3_object: S3Object) -> str:
    """A valid Batch job name for one object: ``load-<key, sanitized>-<hash>``.

    Characters Batch does not allow become ``-``; a long key keeps its end (the file
    name); the hash of the object id tells apart keys that sanitize alike.

    Args:
        s3_object: The object the job loads.
    """
    digest = _short_hash(s3_object.object_id)
    room = MAX_JOB_NAME_LENGTH - len(JOB_NAME_PREFIX) - 1 - len(digest)
    stem = _NOT_ALLOWED.sub("-", s3_object.key)[-room:].strip("-_")
    return f"{JOB_NAME_PREFIX}{stem}-{digest}" if stem else f"{JOB_NAME_PREFIX}{digest}"


def array_job_name(objects: Sequence[S3Object]) -> str:
    """A valid Batch job name for an array job: ``load-batch-<size>-<hash>``.

    Args:
        objects: The objects of the array job, in manifest order.
    """
    return f"{ARRAY_JOB_NAME_PREFIX}{len(objects)}-{_short_hash(*(o.object_id for o in objects))}"


def single_job_environment(s3_object: S3Object) -> dict[str, str]:
    """Environment of a job that loads one object (container overrides).

    Args:
        s3_object: The object to load.
    """
    return {
        JOB_ENV_CSV_BUCKET: s3_object.bucket,
        JOB_ENV_CSV_KEY: s3_object.key,
        JOB_ENV_CSV_VERSION_ID: s3_object.version_id,
        JOB_ENV_CSV_ETAG: s3_object.etag,
        JOB_ENV_LEDGER_OBJECT_ID: s3_object.object_id,
    }


def array_job_environment(bucket: str, key: str) -> dict[str, str]:
    """Environment of an array job (container overrides): where its manifest is.

    Args:
        bucket: Bucket of the manifest.
        key: Key of the manifest.
    """
    return {JOB_ENV_CSV_MANIFEST: manifest_uri(bucket, key)}


def completion_job_name(load_job_name: str) -> str:
    """The completion job's name: the load job's, ``done-`` in place of ``load-``.

    Args:
        load_job_name: The name of the load job it completes.
    """
    return f"{COMPLETION_JOB_NAME_PREFIX}{load_job_name.removeprefix(JOB_NAME_PREFIX)}"


def part_count(size: int, threshold: int, max_parts: int) -> int:
    """How many parts an object of ``size`` bytes is planned in: 1 below the threshold.

    Above it, one part per ``threshold`` bytes begun, at least 2, at most ``max_parts``
    (the plan may find fewer record boundaries, never more parts).

    Args:
        size: The object's size in bytes.
        threshold: The split threshold in bytes; 0 never splits.
        max_parts: The most parts.
    """
    if threshold <= 0 or size <= threshold or max_parts < 2:
        return 1
    return max(2, min(max_parts, -(-size // threshold)))


def plan_job_name(s3_object: S3Object) -> str:
    """The plan job's name: the object's load job name, ``plan-`` in place of ``load-``.

    Args:
        s3_object: The object the plan is for.
    """
    return f"{PLAN_JOB_NAME_PREFIX}{object_job_name(s3_object).removeprefix(JOB_NAME_PREFIX)}"


def parts_manifest_key(prefix: str, manifest_id: str) -> str:
    """Key of a split object's plan: ``<prefix>parts/<manifest_id>.json``.

    Args:
        prefix: The manifest prefix (MANIFEST_PREFIX).
        manifest_id: A unique id, e.g. a UUID.
    """
    return f"{prefix}{PARTS_MANIFEST_FOLDER}{manifest_id}{MANIFEST_SUFFIX}"


def plan_job_environment(s3_object: S3Object, parts_uri: str, parts: int) -> dict[str, str]:
    """Environment of a plan job: the object, how many parts, where to write the plan.

    Args:
        s3_object: The object to plan.
        parts_uri: ``s3://`` URI the plan goes to.
        parts: How many parts to plan.
    """
    return {
        **single_job_environment(s3_object),
        JOB_ENV_CSV_PARTS_MANIFEST: parts_uri,
        JOB_ENV_PLAN_PARTS: str(parts),
    }


def split_job_environment(s3_object: S3Object, parts_uri: str) -> dict[str, str]:
    """Environment of a split object's array job and of its completion: the plan.

    Args:
        s3_object: The object (its ledger item is the one the completion job sets).
        parts_uri: ``s3://`` URI of the plan.
    """
    return {JOB_ENV_CSV_PARTS_MANIFEST: parts_uri, JOB_ENV_LEDGER_OBJECT_ID: s3_object.object_id}


def completion_job_environment(
    load_environment: Mapping[str, str], load_job_id: str
) -> dict[str, str]:
    """Environment of a completion job: the load's (its object or manifest) and its job id.

    Args:
        load_environment: The container overrides of the load job it completes.
        load_job_id: The load job's id.
    """
    return {**load_environment, JOB_ENV_LOAD_JOB_ID: load_job_id}


def manifest_key(prefix: str, manifest_id: str) -> str:
    """Key of an array job's manifest: ``<prefix><manifest_id>.json``.

    Args:
        prefix: The manifest prefix (MANIFEST_PREFIX).
        manifest_id: A unique id, e.g. a UUID.
    """
    return f"{prefix}{manifest_id}{MANIFEST_SUFFIX}"


def manifest_uri(bucket: str, key: str) -> str:
    """``s3://<bucket>/<key>``.

    Args:
        bucket: Bucket name.
        key: Object key (not encoded).
    """
    return f"s3://{bucket}/{key}"


def manifest_body(objects: Sequence[S3Object]) -> bytes:
    """The manifest of an array job: a JSON list, entry i for child i.

    Args:
        objects: The objects of the array job, in child order.
    """
    entries = [
        {
            MANIFEST_FIELD_BUCKET: o.bucket,
            MANIFEST_FIELD_KEY: o.key,
            MANIFEST_FIELD_VERSION_ID: o.version_id,
            MANIFEST_FIELD_ETAG: o.etag,
            MANIFEST_FIELD_OBJECT_ID: o.object_id,
        }
        for o in objects
    ]
    return json.dumps(entries, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_manifest(body: bytes | str) -> list[S3Object]:
    """Read a manifest written by :func:`manifest_body` back (the loader's view of it).

    Args:
        body: The manifest's bytes.

    Raises:
        ValueError: The body is not a manifest.
    """
    entries: Any = json.loads(body)
    if not isinstance(entries, list):
        raise ValueError(f"manifest must be a JSON list, got {type(entries).__name__}")
    objects = [
        S3Object(
            bucket=entry[MANIFEST_FIELD_BUCKET],
            key=entry[MANIFEST_FIELD_KEY],
            version_id=entry[MANIFEST_FIELD_VERSION_ID],
            etag=entry[MANIFEST_FIELD_ETAG],
        )
        for entry in entries
    ]
    for index, (entry, s3_object) in enumerate(zip(entries, objects, strict=True)):
        if entry[MANIFEST_FIELD_OBJECT_ID] != s3_object.object_id:
            raise ValueError(f"manifest entry {index} has a wrong object_id: {entry!r}")
    return objects


def chunk(items: Sequence[_T], size: int = MAX_ARRAY_SIZE) -> Iterable[Sequence[_T]]:
    """Split items into consecutive runs of at most ``size``.

    Args:
        items: What to split.
        size: Largest run. Default: the array job size limit, 10,000.
    """
    for start in range(0, len(items), size):
        yield items[start : start + size]
