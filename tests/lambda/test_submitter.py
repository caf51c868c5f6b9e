"""The Submitter against emulated Batch, DynamoDB and S3: dedupe, arrays, partial failures."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from submit_events import S3Object
from submit_jobs import parse_manifest
from submit_testing import (
    BUCKET,
    Pipeline,
    failed_ids,
    job_environment,
    s3_body,
    s3_record,
    sqs_event,
)
from submitter import Submitter

NOW = 1_738_324_800.0  # 2025-01-31T12:00:00Z


def _clock() -> float:
    return NOW


class _FailingFor:
    """A Batch client whose SubmitJob is refused for one bucket and real for the others."""

    def __init__(self, batch: Any, bucket: str) -> None:
        self._batch = batch
        self._bucket = bucket

    def submit_job(self, **kwargs: Any) -> Any:
        environment = {e["name"]: e["value"] for e in kwargs["containerOverrides"]["environment"]}
        if environment.get("CSV_BUCKET") == self._bucket:
            raise ClientError(
                {"Error": {"Code": "ClientException", "Message": "refused"}}, "SubmitJob"
            )
        return self._batch.submit_job(**kwargs)


def _put_claim(pipeline: Pipeline, object_id: str, lease_expires_at: float) -> None:
    pipeline.dynamodb.put_item(
        TableName="ledger",
        Item={
            "object_id": {"S": object_id},
            "status": {"S": "SUBMITTING"},
            "claimed_at": {"S": "2025-01-31T11:00:00.000+00:00"},
            "lease_expires_at": {"N": str(int(lease_expires_at))},
        },
    )


def test_submitter_submits_one_job_for_one_object(pipeline: Pipeline) -> None:
    # GIVEN one message for one new object with an encoded key
    event = sqs_event(("m1", s3_body(s3_record("incoming/daily+sales.csv", etag="e1"))))

    # WHEN the batch is processed
    response = pipeline.submitter(clock=_clock).process(event)

    # THEN one plain job loads it, with the decoded key in its environment
    assert failed_ids(response) == []
    [job] = pipeline.parent_jobs()
    assert "arrayProperties" not in job or "size" not in job["arrayProperties"]
    environment = job_environment(job)
    assert environment["CSV_KEY"] == "incoming/daily sales.csv"
    assert environment["LEDGER_OBJECT_ID"] == f"{BUCKET}/incoming/daily sales.csv#e1"
    assert (environment["CSV_BUCKET"], environment["CSV_VERSION_ID"]) == (BUCKET, "")
    assert environment["CSV_ETAG"] == "e1"


def test_submitter_records_the_submission_in_the_ledger(pipeline: Pipeline) -> None:
    # GIVEN one new object
    event = sqs_event(("m1", s3_body(s3_record("incoming/a.csv", etag="e1"))))

    # WHEN the batch is processed
    pipeline.submitter(clock=_clock).process(event)

    # THEN its ledger item is SUBMITTED with the job and the claim's lease
    [job] = pipeline.parent_jobs()
    item = pipeline.ledger()[f"{BUCKET}/incoming/a.csv#e1"]
    assert item["status"] == {"S": "SUBMITTED"}
    assert item["job_id"] == {"S": job["jobId"]}
    assert item["job_name"] == {"S": job["jobName"]}
    assert item["submitted_at"] == {"S": "2025-01-31T12:00:00.000+00:00"}
    assert item["lease_expires_at"] == {"N": str(int(NOW) + 900)}
    assert (item["bucket"], item["key"], item["etag"]) == (
        {"S": BUCKET},
        {"S": "incoming/a.csv"},
        {"S": "e1"},
    )
    assert "array_index" not in item


def test_submitter_duplicate_delivery_submits_once(pipeline: Pipeline) -> None:
    # GIVEN an S3 event delivered twice (at-least-once delivery)
    event = sqs_event(("m1", s3_body(s3_record("incoming/a.csv"))))
    submitter = pipeline.submitter()
    submitter.process(event)

    # WHEN the second delivery is processed
    response = submitter.process(sqs_event(("m2", event["Records"][0]["body"])))

    # THEN it succeeds without a second job
    assert failed_ids(response) == []
    assert len(pipeline.parent_jobs()) == 1


def test_submitter_duplicate_object_within_a_batch_submits_once(pipeline: Pipeline) -> None:
    # GIVEN two messages of one batch naming the same object version
    body = s3_body(s3_record("incoming/a.csv"))
    event = sqs_event(("m1", body), ("m2", body))

    # WHEN the batch is processed
    response = pipeline.submitter().process(event)

    # THEN one plain job is submitted and both messages succeed
    assert failed_ids(response) == []
    [job] = pipeline.parent_jobs()
    assert "CSV_MANIFEST" not in job_environment(job)


def test_submitter_new_version_of_a_key_is_submitted_again(pipeline: Pipeline) -> None:
    # GIVEN an object that was loaded, then overwritten (new ETag)
    submitter = pipeline.submitter()
    submitter.process(sqs_event(("m1", s3_body(s3_record("incoming/a.csv", etag="e1")))))

    # WHEN the new version's event is processed
    submitter.process(sqs_event(("m2", s3_body(s3_record("incoming/a.csv", etag="e2")))))

    # THEN it gets its own job
    assert len(pipeline.parent_jobs()) == 2


def test_submitter_retakes_a_stale_submitting_claim(pipeline: Pipeline) -> None:
    # GIVEN a SUBMITTING claim whose lease ran out (its invocation died mid-submit)
    object_id = f"{BUCKET}/incoming/a.csv#e1"
    _put_claim(pipeline, object_id, lease_expires_at=NOW - 1)

    # WHEN the redelivered message is processed
    event = sqs_event(("m1", s3_body(s3_record("incoming/a.csv", etag="e1"))))
    response = pipeline.submitter(clock=_clock).process(event)

    # THEN the claim is retaken and the object submitted
    assert failed_ids(response) == []
    assert len(pipeline.parent_jobs()) == 1
    assert pipeline.ledger()[object_id]["status"] == {"S": "SUBMITTED"}


def test_submitter_retries_an_object_claimed_by_a_live_invocation(pipeline: Pipeline) -> None:
    # GIVEN a SUBMITTING claim whose lease still runs (another invocation is submitting)
    object_id = f"{BUCKET}/incoming/a.csv#e1"
    _put_claim(pipeline, object_id, lease_expires_at=NOW + 60)

    # WHEN a duplicate delivery is processed
    event = sqs_event(("m1", s3_body(s3_record("incoming/a.csv", etag="e1"))))
    response = pipeline.submitter(clock=_clock).process(event)

    # THEN nothing is submitted, the claim is left alone and the message comes back later
    # (so the object is still submitted if that other invocation never finishes)
    assert failed_ids(response) == ["m1"]
    assert pipeline.parent_jobs() == []
    assert pipeline.ledger()[object_id]["status"] == {"S": "SUBMITTING"}


def test_submitter_throttled_submission_fails_its_messages_and_releases_claims(
    pipeline: Pipeline,
) -> None:
    # GIVEN SubmitJob throttled beyond the client's retries, and a batch of three messages
    event = sqs_event(
        ("m1", s3_body(s3_record("incoming/a.csv"))),
        ("m2", s3_body(s3_record("incoming/b.csv"), s3_record("incoming/c.csv"))),
        ("m3", s3_body(s3_record("elsewhere/ignored.csv"))),
    )
    stubber = Stubber(pipeline.batch)
    stubber.add_client_error(
        "submit_job", service_error_code="TooManyRequestsException", http_status_code=429
    )

    # WHEN the batch is processed
    with stubber:
        response = pipeline.submitter().process(event)

    # THEN the messages behind the submission fail, the ignored one succeeds,
    # and no claim is left behind to block their redelivery
    assert sorted(failed_ids(response)) == ["m1", "m2"]
    assert pipeline.ledger() == {}
    stubber.assert_no_pending_responses()


def test_submitter_redelivery_after_throttling_submits(pipeline: Pipeline) -> None:
    # GIVEN a message whose submission was throttled once
    event = sqs_event(("m1", s3_body(s3_record("incoming/a.csv"))))
    stubber = Stubber(pipeline.batch)
    stubber.add_client_error(
        "submit_job", service_error_code="TooManyRequestsException", http_status_code=429
    )
    with stubber:
        pipeline.submitter().process(event)

    # WHEN SQS redelivers it
    response = pipeline.submitter().process(event)

    # THEN the object is submitted
    assert failed_ids(response) == []
    assert len(pipeline.parent_jobs()) == 1


def test_submitter_failed_submission_fails_only_its_messages(pipeline: Pipeline) -> None:
    # GIVEN objects in two buckets (two submissions), one of which Batch refuses
    event = sqs_event(
        ("m1", s3_body(s3_record("incoming/a.csv", bucket="refused"))),
        ("m2", s3_body(s3_record("incoming/b.csv"))),
    )
    submitter = pipeline.submitter(batch=_FailingFor(pipeline.batch, "refused"))

    # WHEN the batch is processed
    response = submitter.process(event)

    # THEN only the refused submission's message fails, and only its claim is released
    assert failed_ids(response) == ["m1"]
    assert len(pipeline.parent_jobs()) == 1
    assert list(pipeline.ledger()) == [f"{BUCKET}/incoming/b.csv#0123456789abcdef"]


def test_submitter_malformed_message_fails_alone(pipeline: Pipeline) -> None:
    # GIVEN garbage, S3's test event and a good message in one batch
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})
    event = sqs_event(
        ("garbage", "this is not an S3 event"),
        ("test", test_event),
        ("good", s3_body(s3_record("incoming/a.csv"))),
    )

    # WHEN the batch is processed
    response = pipeline.submitter().process(event)

    # THEN only the garbage fails (to reach the DLQ); the good object is submitted
    assert failed_ids(response) == ["garbage"]
    assert len(pipeline.parent_jobs()) == 1


def test_submitter_ignored_records_submit_nothing(pipeline: Pipeline) -> None:
    # GIVEN records outside incoming/*.csv and a delete event
    event = sqs_event(
        ("m1", s3_body(s3_record("elsewhere/a.csv"), s3_record("incoming/a.txt"))),
        ("m2", s3_body(s3_record("incoming/a.csv", event_name="ObjectRemoved:Delete"))),
    )

    # WHEN the batch is processed
    response = pipeline.submitter().process(event)

    # THEN the messages succeed and nothing is claimed or submitted
    assert failed_ids(response) == []
    assert pipeline.parent_jobs() == []
    assert pipeline.ledger() == {}


def test_submitter_ledger_error_fails_the_message(pipeline: Pipeline) -> None:
    # GIVEN a ledger table that cannot be written (it does not exist)
    submitter = Submitter(
        settings=dataclasses.replace(pipeline.settings, ledger_table_name="missing"),
        batch=pipeline.batch,
        dynamodb=pipeline.dynamodb,
        s3=pipeline.s3,
        logger=Logger(service="submitter-test"),
    )
    event = sqs_event(("m1", s3_body(s3_record("incoming/a.csv"))))

    # WHEN the batch is processed
    response = submitter.process(event)

    # THEN nothing is submitted unclaimed, and the message comes back
    assert failed_ids(response) == ["m1"]
    assert pipeline.parent_jobs() == []


def test_submitter_several_objects_become_one_array_job(pipeline: Pipeline) -> None:
    # GIVEN three new objects across two messages (one with two records)
    event = sqs_event(
        ("m1", s3_body(s3_record("incoming/a+1.csv", etag="e1"))),
        (
            "m2",
            s3_body(
                s3_record("incoming/b.csv", etag="e2", version_id="v2"),
                s3_record("incoming/%C3%A9.csv", etag="e3"),
            ),
        ),
    )

    # WHEN the batch is processed
    response = pipeline.submitter().process(event)

    # THEN one array job of size 3 points at a manifest listing them in order
    assert failed_ids(response) == []
    [job] = pipeline.parent_jobs()
    assert job["arrayProperties"]["size"] == 3
    manifest = job_environment(job)["CSV_MANIFEST"]
    assert manifest.startswith(f"s3://{BUCKET}/manifests/")
    assert manifest.endswith(".json")
    key = manifest.removeprefix(f"s3://{BUCKET}/")
    body = pipeline.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert parse_manifest(body) == [
        S3Object(bucket=BUCKET, key="incoming/a 1.csv", version_id="", etag="e1"),
        S3Object(bucket=BUCKET, key="incoming/b.csv", version_id="v2", etag="e2"),
        S3Object(bucket=BUCKET, key="incoming/é.csv", version_id="", etag="e3"),
    ]


def test_submitter_array_children_are_indexed_in_the_ledger(pipeline: Pipeline) -> None:
    # GIVEN two new objects in one batch
    event = sqs_event(
        ("m1", s3_body(s3_record("incoming/a.csv"))),
        ("m2", s3_body(s3_record("incoming/b.csv"))),
    )

    # WHEN the batch is processed
    pipeline.submitter().process(event)

    # THEN each ledger item names the array job and its child index
    [job] = pipeline.parent_jobs()
    ledger = pipeline.ledger()
    items = [ledger[f"{BUCKET}/incoming/{name}.csv#0123456789abcdef"] for name in "ab"]
    assert [item["array_index"] for item in items] == [{"N": "0"}, {"N": "1"}]
    assert {item["job_id"]["S"] for item in items} == {job["jobId"]}
    assert {item["status"]["S"] for item in items} == {"SUBMITTED"}


def test_submitter_manifest_write_failure_releases_claims(pipeline: Pipeline) -> None:
    # GIVEN two objects in a bucket the manifest cannot be written to
    event = sqs_event(
        ("m1", s3_body(s3_record("incoming/a.csv", bucket="gone"))),
        ("m2", s3_body(s3_record("incoming/b.csv", bucket="gone"))),
    )

    # WHEN the batch is processed
    response = pipeline.submitter().process(event)

    # THEN no job is submitted, both messages fail and no claim is left
    assert sorted(failed_ids(response)) == ["m1", "m2"]
    assert pipeline.parent_jobs() == []
    assert pipeline.ledger() == {}


# --- the completion job ------------------------------------------------------------------------


class _RefusingCompletions:
    """A Batch client that refuses SubmitJob of one job definition and records CancelJob."""

    def __init__(self, batch: Any, definition: str) -> None:
        self._batch = batch
        self._definition = definition
        self.cancelled: list[str] = []

    def submit_job(self, **kwargs: Any) -> Any:
        if kwargs["jobDefinition"] == self._definition:
            raise ClientError(
                {"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}},
                "SubmitJob",
            )
        return self._batch.submit_job(**kwargs)

    def cancel_job(self, **kwargs: Any) -> Any:
        self.cancelled.append(kwargs["jobId"])
        return self._batch.cancel_job(**kwargs)


def _with_completion(pipeline: Pipeline) -> str:
    """Give the pipeline's submitter a completion job definition; its ARN."""
    arn = str(
        pipeline.batch.register_job_definition(
            jobDefinitionName="csv-completion",
            type="container",
            containerProperties={"image": "loader:latest", "vcpus": 1, "memory": 512},
        )["jobDefinitionArn"]
    )
    pipeline.settings = dataclasses.replace(pipeline.settings, completion_job_definition_arn=arn)
    return arn


def test_submitter_submits_a_completion_job_that_depends_on_the_load(pipeline: Pipeline) -> None:
    # GIVEN a submitter with a completion job definition, and one new object
    completion_arn = _with_completion(pipeline)
    event = sqs_event(("m1", s3_body(s3_record("incoming/a.csv", etag="e1"))))

    # WHEN the batch is processed
    response = pipeline.submitter().process(event)

    # THEN the load is followed by its completion: same object, the load's id, and a
    # dependency on the load
    assert failed_ids(response) == []
    load, completion = sorted(pipeline.parent_jobs(), key=lambda j: j["jobName"], reverse=True)
    assert completion["jobDefinition"] == completion_arn
    assert completion["jobName"] == "done-" + load["jobName"].removeprefix("load-")
    assert completion["dependsOn"] == [{"jobId": load["jobId"]}]
    environment = job_environment(completion)
    assert environment["LOAD_JOB_ID"] == load["jobId"]
    assert environment["LEDGER_OBJECT_ID"] == job_environment(load)["LEDGER_OBJECT_ID"]


def test_submitter_completes_an_array_job_as_a_whole_from_its_manifest(
    pipeline: Pipeline,
) -> None:
    # GIVEN a submitter with a completion job definition, and a burst of three objects
    completion_arn = _with_completion(pipeline)
    event = sqs_event(*((f"m{n}", s3_body(s3_record(f"incoming/{n}.csv"))) for n in range(3)))

    # WHEN the batch is processed
    pipeline.submitter().process(event)

    # THEN one completion job (not an array) waits for the whole array job and reads its manifest
    jobs = pipeline.parent_jobs()
    [load] = [j for j in jobs if j["jobDefinition"] != completion_arn]
    [completion] = [j for j in jobs if j["jobDefinition"] == completion_arn]
    assert load["arrayProperties"]["size"] == 3
    assert "size" not in completion.get("arrayProperties", {})
    assert completion["dependsOn"] == [{"jobId": load["jobId"]}]
    assert job_environment(completion)["CSV_MANIFEST"] == job_environment(load)["CSV_MANIFEST"]


def test_submitter_cancels_the_load_and_fails_its_messages_when_the_completion_is_refused(
    pipeline: Pipeline,
) -> None:
    # GIVEN a Batch that takes the load but refuses its completion (throttled past retries)
    completion_arn = _with_completion(pipeline)
    batch = _RefusingCompletions(pipeline.batch, completion_arn)
    event = sqs_event(("m1", s3_body(s3_record("incoming/a.csv", etag="e1"))))

    # WHEN the batch is processed
    response = pipeline.submitter(batch=batch).process(event)

    # THEN the load was cancelled, the claim released and the message fails (SQS brings it
    # back to submit both again): no load goes without its completion
    [load] = pipeline.parent_jobs()
    assert batch.cancelled == [load["jobId"]]
    assert failed_ids(response) == ["m1"]
    assert pipeline.ledger() == {}
