"""The reference pipeline end to end: the synthesized stack's wiring, the real handler and loader.

Each test creates the stack's resources in the emulator (``pipeline`` fixture), moves
objects through S3, SQS, the submitter Lambda's handler and AWS Batch as
``constructs_batch.local`` plays those services, and checks what lands in DynamoDB and S3.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from constructs_batch.runtime.csv_loader import loader_contract as loader
from constructs_batch.runtime.submit_job import submit_contract as submit

from constructs_batch.local import (
    DEPENDENCY_FAILED_REASON,
    INDEX_TYPE_MISMATCH,
    Intrinsics,
    LocalPipeline,
    RefusingDynamoDB,
    StackWiring,
    ThrottlingDynamoDB,
    UnresolvedIntrinsicError,
    object_id,
    run_pipeline,
    sample_csv,
    wait_for,
)

# The reference stack's key column.
KEY = "id"
SUCCEEDED = loader.STATUS_SUCCEEDED
FAILED = loader.STATUS_FAILED
RUNNING = loader.STATUS_RUNNING


def _by_key(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(item[KEY]): item for item in items}


def _only_run(pipeline: LocalPipeline) -> Any:
    (job,) = pipeline.load_jobs()
    (run,) = pipeline.job_runs(job)
    return run


# --- the demo path -----------------------------------------------------------------------------


def test_pipeline_loads_good_rows_rejects_bad_rows_and_records_success(
    pipeline: LocalPipeline,
) -> None:
    # GIVEN a CSV of 97 good rows and 3 bad ones, under a key S3 URL-encodes, and a team
    # subscribed to the pipeline's events
    sample = sample_csv()
    subscriber = pipeline.subscribe_to_load_events()

    # WHEN it is uploaded and carried through the pipeline
    outcome = run_pipeline(pipeline, "incoming/customers 2025-01.csv", sample.body)

    # THEN the loader succeeded, the table holds exactly the good rows,
    # the rejects file lists each bad row with its line and reason,
    # and the ledger records the success with the counts
    assert [run.exit_code for run in outcome.loader_runs] == [0]
    assert _by_key(outcome.items) == sample.good
    assert [(int(r["line"]), r["reason"]) for r in outcome.rejects] == sample.bad
    ledger = outcome.ledger
    assert (ledger["status"], ledger["rows_loaded"], ledger["rows_rejected"]) == (SUCCEEDED, 97, 3)
    assert ledger["rejects_key"] == "rejected/incoming/customers 2025-01.csv.errors.csv"
    assert ledger["job_id"] == outcome.job["jobId"]
    # AND the completion job ran after the load, recorded the outcome and told the team
    (completion,) = outcome.completion_runs
    assert completion.succeeded
    assert ledger["completion_job_id"] == completion.run.job_id
    assert ledger["completed_at"] >= ledger["finished_at"]
    (event,) = pipeline.received_events(subscriber)
    assert (event["source"], event["detail-type"]) == (loader.EVENT_SOURCE, "CsvLoadCompleted")
    assert event["detail"] == {
        "object_id": outcome.object_id,
        "bucket": pipeline.bucket,
        "key": "incoming/customers 2025-01.csv",
        "version_id": outcome.stored.version_id,
        "status": SUCCEEDED,
        "rows_loaded": 97,
        "rows_rejected": 3,
        "rows_duplicate": 0,
        "rejects_key": ledger["rejects_key"],
        "error": None,
        "started_at": ledger["started_at"],
        "finished_at": ledger["finished_at"],
        "duration_s": float(ledger["duration_s"]),
        "parts": 1,
        "rejects_keys": [ledger["rejects_key"]],
        "rejects_keys_truncated": False,
        "table": pipeline.target_table,
        "ledger_table": pipeline.ledger_table,
        "load_job_id": outcome.job["jobId"],
        "completion_job_id": completion.run.job_id,
    }


def test_pipeline_loads_an_upload_named_in_capitals_and_names_what_it_does_not_load(
    pipeline: LocalPipeline,
) -> None:
    # GIVEN an export named REPORT.CSV, and a file under incoming/ that is not a CSV
    sample = sample_csv(good=4, bad=False)

    # WHEN both are uploaded and carried through the pipeline
    outcome = run_pipeline(pipeline, "incoming/REPORT.CSV", sample.body)
    submitted = len(pipeline.submitted_jobs())
    stored = pipeline.upload_and_notify("incoming/notes.txt", "not a csv")
    delivery = pipeline.deliver()

    # THEN the .CSV loaded like any .csv (S3 notified it: the filter is the prefix only)
    assert outcome.ledger["status"] == SUCCEEDED
    assert _by_key(outcome.items) == sample.good
    # AND the other upload submitted nothing, and the submitter's log says why and what to do
    assert pipeline.ledger_item(object_id(stored)) is None
    assert delivery.failed_message_ids == [] and len(pipeline.submitted_jobs()) == submitted
    assert "record ignored" in delivery.logs


# --- the submitter ------------------------------------------------------------------------------


def test_pipeline_submits_once_when_s3_sends_the_same_event_twice(
    pipeline: LocalPipeline,
) -> None:
    # GIVEN an object whose event notification S3 delivered twice (two messages)
    stored = pipeline.upload("incoming/twice.csv", sample_csv(good=5, bad=False).body)
    event = json.dumps(pipeline.s3_event(stored))
    pipeline.send(event)
    pipeline.send(event)

    # WHEN the event source mapping delivers them in two batches
    first = pipeline.deliver(pipeline.receive(max_messages=1))
    second = pipeline.deliver(pipeline.receive(max_messages=1))

    # THEN one job was submitted, the duplicate succeeded without a job, and the queue is empty
    assert len(pipeline.load_jobs()) == 1
    assert (first.failed_message_ids, second.failed_message_ids) == ([], [])
    assert pipeline.queue_depth() == 0


def test_pipeline_submits_once_when_sqs_redelivers_a_processed_message(
    pipeline: LocalPipeline,
) -> None:
    # GIVEN a message the handler processed but whose deletion was lost (e.g. a timeout)
    pipeline.upload_and_notify("incoming/redelivered.csv", sample_csv(good=5, bad=False).body)
    (message,) = pipeline.receive()
    pipeline.invoke_submitter(pipeline.lambda_event([message]))
    pipeline.make_visible([message])

    # WHEN SQS delivers it again
    (again,) = pipeline.receive()
    delivery = pipeline.deliver([again])

    # THEN it is the same message, nothing failed, and still only one job exists
    assert again["MessageId"] == message["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert delivery.failed_message_ids == []
    assert len(pipeline.load_jobs()) == 1


def test_pipeline_fails_only_the_malformed_message_of_a_batch(pipeline: LocalPipeline) -> None:
    # GIVEN one good event and one malformed message in the same batch
    stored = pipeline.upload_and_notify("incoming/good.csv", sample_csv(good=5, bad=False).body)
    malformed_id = pipeline.send('{"Records": [{"eventSource": "aws:s3"}]}')
    batch = pipeline.receive()
    assert len(batch) == 2

    # WHEN the batch is delivered
    delivery = pipeline.deliver(batch)

    # THEN only the malformed message is reported, the good object is submitted,
    # and only the malformed message stays in the queue
    assert delivery.failed_message_ids == [malformed_id]
    (job,) = pipeline.load_jobs()
    (run,) = pipeline.job_runs(job)
    assert run.environment[loader.ENV_CSV_KEY] == stored.key
    assert pipeline.queue_depth() == 1
    assert "malformed message" in delivery.logs


def test_pipeline_moves_a_malformed_message_to_the_dead_letter_queue(
    pipeline: LocalPipeline, wiring: StackWiring
) -> None:
    # GIVEN a malformed message and the queue's maxReceiveCount from the template
    pipeline.send("not json")
    redrive = wiring.properties(wiring.events_queue_id)["RedrivePolicy"]
    max_receive_count = int(redrive["maxReceiveCount"])

    # WHEN it fails every delivery until SQS stops delivering it
    deliveries = 0
    while batch := pipeline.receive():
        pipeline.deliver(batch)
        pipeline.make_visible(batch)
        deliveries += 1

    # THEN it was delivered maxReceiveCount times and now waits in the dead-letter queue
    assert deliveries == max_receive_count
    assert pipeline.queue_depth() == 0
    assert pipeline.queue_depth(pipeline.dead_letter_queue_url) == 1


def test_pipeline_turns_a_burst_into_one_array_job_whose_children_load_their_own_objects(
    pipeline: LocalPipeline,
) -> None:
    # GIVEN three objects created at once, each with its own event
    samples = {
        f"incoming/burst-{p}.csv": sample_csv(good=n, prefix=p, bad=False)
        for p, n in (("a", 10), ("b", 20), ("c", 30))
    }
    stored = {key: pipeline.upload_and_notify(key, s.body) for key, s in samples.items()}
    subscriber = pipeline.subscribe_to_load_events()

    # WHEN the three messages arrive in one batch and Batch runs every child
    delivery = pipeline.deliver()
    (job,) = pipeline.load_jobs()
    (completion_job,) = pipeline.completion_jobs()
    results = pipeline.run_jobs()
    loader_runs = sorted(results[:3], key=lambda r: r.run.array_index or 0)

    # THEN one array job of three children ran, then one completion job that depends on
    # the whole array job,
    assert (len(delivery.message_ids), delivery.failed_message_ids) == (3, [])
    assert job["arrayProperties"]["size"] == 3
    assert [r.exit_code for r in loader_runs] == [0, 0, 0]
    assert [r.run.job_id for r in results[3:]] == [completion_job["jobId"]]
    assert completion_job["dependsOn"] == [{"jobId": job["jobId"]}]
    assert pipeline.job(completion_job["jobId"])["status"] == SUCCEEDED
    # each child loaded the object the ledger gives its index, the table holds every
    # object's rows, and each object's completion went out as its own event
    events = {e["detail"]["key"]: e for e in pipeline.received_events(subscriber)}
    assert sorted(events) == sorted(samples)
    for key, obj in stored.items():
        ledger = pipeline.ledger_item(object_id(obj))
        assert ledger is not None
        assert (ledger["status"], ledger["rows_loaded"]) == (SUCCEEDED, len(samples[key].good))
        child = loader_runs[int(ledger["array_index"])]
        (start,) = [e for e in child.records if e.get("event") == "start"]
        assert start["key"] == key
        detail = events[key]["detail"]
        assert events[key]["detail-type"] == "CsvLoadCompleted"
        assert (detail["object_id"], detail["rows_loaded"]) == (
            object_id(obj),
            len(samples[key].good),
        )
        assert detail["load_job_id"] == job["jobId"]
        assert ledger["completion_job_id"] == completion_job["jobId"]
    expected = {k: v for s in samples.values() for k, v in s.good.items()}
    assert _by_key(pipeline.scan()) == expected


# --- the loader ---------------------------------------------------------------------------------


def test_loader_loads_every_row_once_despite_unprocessed_items_and_throttling(
    pipeline: LocalPipeline,
) -> None:
    # GIVEN a submitted job for 300 rows and a table that returns UnprocessedItems
    # for the first calls, then throttles one call
    sample = sample_csv(good=300, bad=False)
    pipeline.upload_and_notify("incoming/throttled.csv", sample.body)
    pipeline.deliver()
    run = _only_run(pipeline)
    busy = ThrottlingDynamoDB(
        pipeline.dynamodb, key_attribute=KEY, unprocessed_calls=3, throttled_calls=1
    )

    # WHEN the loader runs the job with that table
    result = pipeline.load_in_process(run, dynamodb=busy)

    # THEN the faults happened, every row was stored exactly once, and the run succeeded
    assert busy.unprocessed_returned > 0
    assert busy.throttled_raised == 1
    assert busy.writes == dict.fromkeys(sample.good, 1)
    assert _by_key(pipeline.scan()) == sample.good
    assert (result.status, result.rows_loaded) == (SUCCEEDED, 300)


def test_loader_rerun_after_a_crash_mid_file_leaves_the_same_items(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    # GIVEN a job for 1500 rows whose loader is killed after part of the file was written
    sample = sample_csv(good=1500, bad=False)
    stored = pipeline.upload_and_notify("incoming/crash.csv", sample.body)
    pipeline.deliver()
    run = _only_run(pipeline)
    process = pipeline.start_loader(run, temp_dir=str(tmp_path))

    def count() -> int:
        return int(pipeline.dynamodb.scan(TableName=pipeline.target_table, Select="COUNT")["Count"])

    assert wait_for(lambda: count() > 0 or process.poll() is not None, timeout=60)
    process.kill()
    process.communicate()
    written_before_crash = count()
    assert 0 < written_before_crash < len(sample.good)
    crashed = pipeline.ledger_item(object_id(stored))
    assert crashed is not None and crashed["status"] == RUNNING

    # WHEN Batch retries the job: a second attempt with the same environment
    retry = dataclasses.replace(run, environment={**run.environment, "AWS_BATCH_JOB_ATTEMPT": "2"})
    rerun = pipeline.run_loader(retry, temp_dir=str(tmp_path))

    # THEN the table holds each row once, as a clean run leaves it, and the ledger succeeded
    assert rerun.exit_code == 0
    assert _by_key(pipeline.scan()) == sample.good
    ledger = pipeline.ledger_item(object_id(stored))
    assert ledger is not None
    assert (ledger["status"], ledger["rows_loaded"]) == (SUCCEEDED, 1500)


def test_loader_fails_a_file_of_only_bad_rows_and_fills_the_rejects_file(
    pipeline: LocalPipeline,
) -> None:
    # GIVEN a CSV whose every data row is bad, and a team subscribed to the pipeline's events
    sample = sample_csv(good=0)
    subscriber = pipeline.subscribe_to_load_events()

    # WHEN it is carried through the pipeline
    outcome = run_pipeline(pipeline, "incoming/all-bad.csv", sample.body)

    # THEN the ledger says FAILED with why, nothing is loaded, the rejects file lists every
    # row, and the load job still exits 0: its outcome is recorded
    ledger = outcome.ledger
    assert (ledger["status"], ledger["rows_loaded"], ledger["rows_rejected"]) == (FAILED, 0, 3)
    assert "every data row was rejected" in ledger["error"]
    assert [(int(r["line"]), r["reason"]) for r in outcome.rejects] == sample.bad
    assert outcome.items == []
    assert [run.exit_code for run in outcome.loader_runs] == [0]
    # AND so the completion job ran, and the team heard of the failure, with why
    (event,) = pipeline.received_events(subscriber)
    assert event["detail-type"] == "CsvLoadFailed"
    assert (event["detail"]["status"], event["detail"]["error"]) == (FAILED, ledger["error"])
    assert ledger["completion_job_id"] == outcome.completion_runs[0].run.job_id


def test_pipeline_completion_job_fails_when_its_load_job_failed(pipeline: LocalPipeline) -> None:
    # GIVEN a submitted load whose loader cannot record anything (its ledger is gone)
    subscriber = pipeline.subscribe_to_load_events()
    pipeline.upload_and_notify("incoming/orphan.csv", sample_csv(good=5, bad=False).body)
    pipeline.deliver()
    (load,) = pipeline.load_jobs()
    (completion,) = pipeline.completion_jobs()
    pipeline.dynamodb.delete_table(TableName=pipeline.ledger_table)

    # WHEN Batch runs the jobs
    (result,) = pipeline.run_jobs()

    # THEN the loader exited 1, its job failed, the completion job never ran and failed
    # as AWS fails a job whose dependency failed (both reach the failed-job alarm: same
    # queue), and no event went out
    assert (result.run.job_id, result.exit_code) == (load["jobId"], 1)
    assert pipeline.job(load["jobId"])["status"] == FAILED
    failed = pipeline.job(completion["jobId"])
    assert (failed["status"], failed["statusReason"]) == (FAILED, DEPENDENCY_FAILED_REASON)
    assert pipeline.received_events(subscriber) == []


def _r_export() -> tuple[str, dict[str, dict[str, Any]], list[tuple[int, str, str, str]]]:
    """An R ``write.csv`` style file: NA cells, TRUE/FALSE, three rows DynamoDB cannot take.

    Returns the body, the items a correct load stores (by id) and the rejects
    ``(line, reason, raw, detail)`` it reports.
    """
    header = ["id", "name", "city", "amount", "active"]
    lines = [",".join(header)]
    items: dict[str, dict[str, Any]] = {}
    for i in range(97):
        name = "NA" if i % 7 == 3 else f"Customer {i}"
        amount = "NA" if i % 11 == 5 else f"{i * 7 % 1000}.{i % 100:02d}"
        active = ("NA", "TRUE", "FALSE", "true", "False")[i % 5]
        fields = [f"c{i:05d}", name, ("Lisbon", "Osaka", "Quito")[i % 3], amount, active]
        lines.append(",".join(fields))
        item: dict[str, Any] = {"id": fields[0], "city": fields[2]}
        if name != "NA":
            item["name"] = name
        if amount != "NA":
            item["amount"] = Decimal(amount)
        if active != "NA":
            item["active"] = active.lower() == "true"
        items[fields[0]] = item
    long_key = "\u00e9" * 1025  # 1025 characters, 2050 bytes of UTF-8
    bad = [
        (
            10,
            "c90001,P value,Quito,2.5E-150,TRUE",
            "bad_number",
            "column amount: '2.5E-150' is below DynamoDB's smallest magnitude, 1E-130",
        ),
        (
            40,
            f"{long_key},Long key,Osaka,1.00,FALSE",
            "key_too_large",
            "key column id is 2050 bytes, a partition key value is at most 2048",
        ),
        (75, "c90003,Refused,Atlantis,3.50,TRUE", "refused_by_dynamodb", INDEX_TYPE_MISMATCH),
    ]
    rejects = []
    for line, raw, reason, detail in bad:
        lines.insert(line - 1, raw)
        rejects.append((line, reason, raw, detail))
    return "\n".join(lines) + "\n", items, rejects


def test_loader_stores_every_row_dynamodb_takes_and_reports_each_one_it_cannot(
    formats_pipeline: LocalPipeline,
) -> None:
    # GIVEN a pipeline with NA as a null value, a numeric and a boolean column, and an R
    # export with one number out of DynamoDB's range, one key too long for it, and one row
    # DynamoDB refuses by a rule the loader does not check (a secondary index's key type)
    body, expected_items, expected_rejects = _r_export()
    pipeline = formats_pipeline
    stored = pipeline.upload_and_notify("incoming/r-export.csv", body)
    pipeline.deliver()
    run = _only_run(pipeline)
    refusing = RefusingDynamoDB(
        pipeline.dynamodb, key_attribute=KEY, refuse=lambda item: item["city"]["S"] == "Atlantis"
    )

    # WHEN the submitted job's loader runs against that table
    result = pipeline.load_in_process(run, dynamodb=refusing)

    # THEN the job got the construct's settings, every other row is stored exactly
    # (NA cells omitted, booleans as BOOL), each bad row is in the rejects file with its
    # line, raw row and why, and the ledger's counts add up to the file's 100 rows
    assert json.loads(run.environment[loader.ENV_NULL_VALUES]) == ["", "NA"]
    assert _by_key(pipeline.scan()) == expected_items
    ledger = pipeline.ledger_item(object_id(stored))
    assert ledger is not None
    rejects = pipeline.read_csv(ledger["rejects_key"])
    found = sorted((int(r["line"]), r["reason"], r["raw"], r["detail"]) for r in rejects)
    assert found == expected_rejects
    assert (ledger["status"], ledger["rows_loaded"], ledger["rows_rejected"]) == (SUCCEEDED, 97, 3)
    assert (ledger["rows_duplicate"], result.status) == (0, SUCCEEDED)
    assert refusing.refused_calls > 0 and set(refusing.writes.values()) == {1}


# --- the wiring ----------------------------------------------------------------------------------


def test_wiring_resolves_the_submitter_environment_to_the_local_resources(
    pipeline: LocalPipeline,
) -> None:
    # GIVEN the pipeline created from the template
    # WHEN its submitter environment is read
    environment = pipeline.submitter_environment

    # THEN every reference became the local queue, job definition and ledger
    assert environment[submit.ENV_JOB_QUEUE_ARN] == pipeline.job_queue_arn
    assert environment[submit.ENV_JOB_DEFINITION_ARN] == pipeline.job_definition_arn
    assert environment[submit.ENV_LEDGER_TABLE_NAME] == pipeline.ledger_table
    assert pipeline.loader_environment[loader.ENV_TARGET_TABLE_NAME] in pipeline.tables.values()


def test_intrinsics_refuse_a_reference_to_a_resource_not_created_locally() -> None:
    # GIVEN intrinsics that know one table
    intrinsics = Intrinsics()
    intrinsics.add("Table", "local-table", Arn="arn:aws:dynamodb:us-east-1:1:table/local-table")

    # WHEN a value refers to another resource THEN resolving it fails, naming where
    with pytest.raises(UnresolvedIntrinsicError, match=r"Env\.X: Ref Missing"):
        intrinsics.resolve({"Ref": "Missing"}, "Env.X")


def test_loader_job_definition_gives_the_loader_a_writable_temporary_directory(
    wiring: StackWiring,
) -> None:
    # GIVEN the loader's container properties
    container = wiring.loader_container
    environment = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
    temp_dir = environment.get("TMPDIR", wiring.image.environment.get("TMPDIR", "/tmp"))

    # WHEN we look for where the loader can write
    mounted = {m.get("ContainerPath") for m in container.get("MountPoints", [])}

    # THEN its temporary directory is writable: a read-write root or a volume mounted there
    assert not container.get("ReadonlyRootFilesystem") or temp_dir in mounted
