"""Large objects: a plan job, the array job of their parts after it, then the completion."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from botocore.exceptions import ClientError
from submit_jobs import part_count
from submit_testing import Pipeline, failed_ids, job_environment, s3_body, s3_record, sqs_event
from submitter import Settings

GIB = 1 << 30


def _splitting(pipeline: Pipeline, *, threshold: int = GIB, max_parts: int = 8) -> str:
    """Give the submitter a completion job and a split threshold; the completion's ARN."""
    arn = str(
        pipeline.batch.register_job_definition(
            jobDefinitionName="csv-completion",
            type="container",
            containerProperties={"image": "loader:latest", "vcpus": 1, "memory": 512},
        )["jobDefinitionArn"]
    )
    pipeline.settings = dataclasses.replace(
        pipeline.settings,
        completion_job_definition_arn=arn,
        split_threshold_bytes=threshold,
        max_parts=max_parts,
    )
    return arn


@pytest.mark.parametrize(
    ("size", "threshold", "max_parts", "parts"),
    [
        (10, 0, 8, 1),  # no threshold: never split
        (GIB, GIB, 8, 1),  # at the threshold: one part
        (GIB + 1, GIB, 8, 2),  # just above it: at least two
        (5 * GIB, GIB, 8, 5),
        (50 * GIB, GIB, 8, 8),  # at most max_parts
    ],
)
def test_part_count_follows_threshold_and_ceiling(
    size: int, threshold: int, max_parts: int, parts: int
) -> None:
    # GIVEN an object size, a threshold and a ceiling
    # THEN the planned part count is one per threshold begun, within [2, max_parts] above it
    assert part_count(size, threshold, max_parts) == parts


def test_large_object_gets_a_plan_job_its_parts_and_a_completion(pipeline: Pipeline) -> None:
    # GIVEN a submitter that splits objects above 1 GiB, and a 3.5 GiB object
    completion_arn = _splitting(pipeline)
    event = sqs_event(("m1", s3_body(s3_record("incoming/big.csv", etag="e1", size=7 * GIB // 2))))

    # WHEN the batch is processed
    response = pipeline.submitter().process(event)

    # THEN three jobs chain: the plan (the loader's image running loader_plan) for 4
    # parts, an array job of 4 children after it, and the completion after the array
    assert failed_ids(response) == []
    jobs = {j["jobName"].split("-")[0]: j for j in pipeline.parent_jobs()}
    plan, load, done = jobs["plan"], jobs["load"], jobs["done"]
    plan_env, load_env = job_environment(plan), job_environment(load)
    assert plan_env["PLAN_PARTS"] == "4"
    assert plan_env["CSV_PARTS_MANIFEST"] == load_env["CSV_PARTS_MANIFEST"]
    assert plan_env["CSV_PARTS_MANIFEST"].startswith("s3://landing/manifests/parts/")
    assert (
        plan_env["LEDGER_OBJECT_ID"]
        == load_env["LEDGER_OBJECT_ID"]
        == "landing/incoming/big.csv#e1"
    )
    assert plan["container"]["command"] == ["loader_plan"]
    assert load["arrayProperties"]["size"] == 4
    assert load["dependsOn"] == [{"jobId": plan["jobId"]}]
    assert done["jobDefinition"] == completion_arn
    assert done["dependsOn"] == [{"jobId": load["jobId"]}]
    assert job_environment(done)["CSV_PARTS_MANIFEST"] == load_env["CSV_PARTS_MANIFEST"]
    # AND the ledger says SUBMITTED with the array job
    item = pipeline.ledger()["landing/incoming/big.csv#e1"]
    assert (item["status"]["S"], item["job_id"]["S"]) == ("SUBMITTED", load["jobId"])


def test_small_objects_of_the_same_batch_still_share_one_array_job(pipeline: Pipeline) -> None:
    # GIVEN a batch with one large object and two small ones
    _splitting(pipeline)
    event = sqs_event(
        ("m1", s3_body(s3_record("incoming/big.csv", etag="e1", size=2 * GIB))),
        ("m2", s3_body(s3_record("incoming/a.csv", etag="e2"))),
        ("m3", s3_body(s3_record("incoming/b.csv", etag="e3"))),
    )

    # WHEN it is processed
    pipeline.submitter().process(event)

    # THEN the small ones go as one array job of 2, the large one on its own
    loads = [j for j in pipeline.parent_jobs() if j["jobName"].startswith("load-")]
    sizes = sorted(j["arrayProperties"].get("size", 1) for j in loads)
    assert sizes == [2, 2]  # the burst of two, and the large object's two parts
    assert any("CSV_MANIFEST" in job_environment(j) for j in loads)
    assert any("CSV_PARTS_MANIFEST" in job_environment(j) for j in loads)


class _RefusingArrays:
    """A Batch client that refuses array jobs and records CancelJob."""

    def __init__(self, batch: Any) -> None:
        self._batch = batch
        self.cancelled: list[str] = []

    def submit_job(self, **kwargs: Any) -> Any:
        if "arrayProperties" in kwargs:
            raise ClientError({"Error": {"Code": "ClientException", "Message": "no"}}, "SubmitJob")
        return self._batch.submit_job(**kwargs)

    def cancel_job(self, **kwargs: Any) -> Any:
        self.cancelled.append(kwargs["jobId"])
        return self._batch.cancel_job(**kwargs)


def test_split_submission_that_fails_midway_cancels_and_retries_whole(pipeline: Pipeline) -> None:
    # GIVEN a Batch that takes the plan job but refuses the array job of the parts
    _splitting(pipeline)
    batch = _RefusingArrays(pipeline.batch)
    event = sqs_event(("m1", s3_body(s3_record("incoming/big.csv", etag="e1", size=3 * GIB))))

    # WHEN the batch is processed
    response = pipeline.submitter(batch=batch).process(event)

    # THEN the plan job is cancelled, the claim released and the message comes back
    [plan] = [j for j in pipeline.parent_jobs() if j["jobName"].startswith("plan-")]
    assert batch.cancelled == [plan["jobId"]]
    assert failed_ids(response) == ["m1"]
    assert "landing/incoming/big.csv#e1" not in pipeline.ledger()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"SPLIT_THRESHOLD_BYTES": "1GiB"},
            "SPLIT_THRESHOLD_BYTES must be a whole number of bytes",
        ),
        ({"MAX_PARTS": "1"}, "MAX_PARTS must be a whole number from 2 to 10000, got '1'"),
        ({"MAX_PARTS": "10001"}, "MAX_PARTS must be a whole number from 2 to 10000"),
    ],
)
def test_split_settings_refuse_bad_values(variables: dict[str, str], message: str) -> None:
    # GIVEN the Lambda's environment with a bad split setting
    environ = {
        "JOB_QUEUE_ARN": "q",
        "JOB_DEFINITION_ARN": "d",
        "LEDGER_TABLE_NAME": "l",
        **variables,
    }
    # THEN the settings refuse it, naming the variable
    with pytest.raises(ValueError, match=message):
        Settings.from_env(environ)
