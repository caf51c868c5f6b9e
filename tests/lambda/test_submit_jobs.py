"""Job names, job environments, manifests, settings and the shared contract (pure)."""

from __future__ import annotations

import ast
import random
import string
from pathlib import Path

import pytest
import submit_contract
from submit_events import S3Object
from submit_jobs import (
    JOB_NAME_PATTERN,
    array_job_environment,
    array_job_name,
    chunk,
    manifest_body,
    manifest_key,
    object_job_name,
    parse_manifest,
    single_job_environment,
)
from submitter import Settings

from constructs_batch import limits

#: Characters odd keys are drawn from: allowed ones, separators, punctuation, non-ASCII.
_KEY_ALPHABET = string.ascii_letters + string.digits + "_-/ .+%#&=?:!@()[]{}~'\"\\" + "éü日本€😀\t"


def _odd_keys(count: int, seed: int = 20250131) -> list[str]:
    """Deterministic random keys, short to S3's maximum length (1024 bytes)."""
    rng = random.Random(seed)
    keys = ["", "/", "---", "___", "日本語.csv", "a" * 1024, "x/" * 300 + "y.csv"]
    while len(keys) < count:
        length = rng.choice([1, 2, 5, 40, 127, 128, 129, 300])
        keys.append("".join(rng.choice(_KEY_ALPHABET) for _ in range(length)))
    return keys


def _object(key: str, etag: str = "e") -> S3Object:
    return S3Object(bucket="landing", key=key, version_id="", etag=etag)


def test_object_job_name_is_valid_for_odd_keys() -> None:
    # GIVEN hundreds of keys with every kind of character and length
    keys = _odd_keys(500)

    # WHEN a job name is derived from each
    names = [object_job_name(_object(key)) for key in keys]

    # THEN every name is one AWS Batch accepts, and no two keys share a name
    invalid = [n for n in names if not JOB_NAME_PATTERN.fullmatch(n) or len(n) > 128]
    assert invalid == []
    assert len(set(names)) == len(set(keys))


def test_object_job_name_keeps_the_readable_end_of_the_key() -> None:
    # GIVEN a long key
    key = "incoming/" + "deep/" * 40 + "sales report.csv"

    # WHEN its job name is derived
    name = object_job_name(_object(key))

    # THEN it starts with load-, keeps the file name (sanitized) and uses the room it has
    assert name.startswith("load-")
    assert "-sales-report-csv-" in name
    assert 120 <= len(name) <= 128


def test_object_job_name_differs_between_versions_of_a_key() -> None:
    # GIVEN two versions of one key
    # WHEN job names are derived
    # THEN they differ (the hash covers the object id)
    assert object_job_name(_object("incoming/a.csv", "e1")) != object_job_name(
        _object("incoming/a.csv", "e2")
    )


def test_array_job_name_is_valid_at_the_largest_array() -> None:
    # GIVEN the largest array job
    objects = [_object(f"incoming/{i}.csv") for i in range(10_000)]

    # WHEN it is named
    name = array_job_name(objects)

    # THEN the name is valid and says how many objects it loads
    assert JOB_NAME_PATTERN.fullmatch(name)
    assert name.startswith("load-batch-10000-")


def test_single_job_environment_names_the_object() -> None:
    # GIVEN an object from a versioned bucket
    s3_object = S3Object(bucket="landing", key="incoming/a b.csv", version_id="v1", etag="e1")

    # WHEN the job environment is built
    environment = single_job_environment(s3_object)

    # THEN it carries the decoded key, the version, the ETag and the ledger id
    assert environment == {
        "CSV_BUCKET": "landing",
        "CSV_KEY": "incoming/a b.csv",
        "CSV_VERSION_ID": "v1",
        "CSV_ETAG": "e1",
        "LEDGER_OBJECT_ID": "landing/incoming/a b.csv#v1",
    }
    assert not any(name.startswith("AWS_BATCH") for name in environment)


def test_array_job_environment_points_at_the_manifest() -> None:
    # GIVEN a manifest key
    key = manifest_key("manifests/", "1234")

    # WHEN the array job environment is built
    # THEN it holds the manifest's S3 URI only
    assert array_job_environment("landing", key) == {
        "CSV_MANIFEST": "s3://landing/manifests/1234.json"
    }


def test_manifest_body_round_trips_in_order() -> None:
    # GIVEN objects with odd keys, with and without versions
    objects = [
        S3Object(bucket="landing", key="incoming/été 1.csv", version_id="", etag="e1"),
        S3Object(bucket="landing", key='incoming/"quoted".csv', version_id="v2", etag="e2"),
    ]

    # WHEN the manifest is written and read back
    # THEN entry i is object i, with its ledger id
    assert parse_manifest(manifest_body(objects)) == objects
    assert b'"object_id":"landing/incoming/\xc3\xa9t\xc3\xa9 1.csv#e1"' in manifest_body(objects)


def test_parse_manifest_rejects_a_wrong_object_id() -> None:
    # GIVEN a manifest whose entry has an object_id that does not match its fields
    body = b'[{"bucket":"b","key":"k","version_id":"","etag":"e","object_id":"b/other#e"}]'

    # WHEN it is parsed
    # THEN it is refused
    with pytest.raises(ValueError, match="entry 0 has a wrong object_id"):
        parse_manifest(body)


def test_chunk_splits_at_the_array_size_limit() -> None:
    # GIVEN one more object than an array job holds
    items = list(range(10_001))

    # WHEN it is chunked
    # THEN a full array and a remainder come out
    assert [len(run) for run in chunk(items)] == [10_000, 1]


def test_settings_from_env_applies_the_defaults() -> None:
    # GIVEN only the required variables
    environ = {"JOB_QUEUE_ARN": "q", "JOB_DEFINITION_ARN": "d", "LEDGER_TABLE_NAME": "t"}

    # WHEN the settings are read
    settings = Settings.from_env(environ)

    # THEN the filters, manifest prefix and lease take their defaults
    assert (settings.input_prefix, settings.input_suffix) == ("incoming/", ".csv")
    assert settings.manifest_prefix == "manifests/"
    assert settings.lease_seconds == 900


def test_settings_from_env_names_every_problem() -> None:
    # GIVEN no queue, no definition and a lease that is not a number
    environ = {"LEDGER_TABLE_NAME": "t", "LEASE_SECONDS": "soon"}

    # WHEN the settings are read
    # THEN one error names each problem
    with pytest.raises(
        ValueError,
        match=r"JOB_QUEUE_ARN must be set.*JOB_DEFINITION_ARN must be set.*"
        r"LEASE_SECONDS must be a positive integer, got 'soon'",
    ):
        Settings.from_env(environ)


def test_contract_array_limits_match_the_library_limits() -> None:
    # GIVEN the limits the runtime cannot import from the library
    # WHEN compared with constructs_batch.limits
    # THEN they are the same numbers
    assert submit_contract.MIN_ARRAY_SIZE == limits.MIN_ARRAY_SIZE
    assert submit_contract.MAX_ARRAY_SIZE == limits.MAX_ARRAY_SIZE


def test_contract_holds_constants_only() -> None:
    # GIVEN the contract module the CDK construct imports
    tree = ast.parse(Path(submit_contract.__file__ or "").read_text(encoding="utf-8"))

    # WHEN its top-level statements are sorted into imports and the rest
    imported = [node.module for node in tree.body if isinstance(node, ast.ImportFrom)]
    other = [
        type(node).__name__
        for node in tree.body
        if not isinstance(node, ast.ImportFrom | ast.Assign | ast.AnnAssign | ast.Expr)
    ]

    # THEN it imports only from __future__/typing and holds nothing but assignments
    assert set(imported) <= {"__future__", "typing"}
    assert other == []


def test_contract_is_importable_from_the_library_package() -> None:
    # GIVEN the library's package mapping of lambda/submit_job
    # WHEN the contract is imported the way the construct imports it
    from constructs_batch.runtime.submit_job import submit_contract as packaged

    # THEN it names the same environment variables
    assert packaged.ENV_JOB_QUEUE_ARN == submit_contract.ENV_JOB_QUEUE_ARN == "JOB_QUEUE_ARN"
