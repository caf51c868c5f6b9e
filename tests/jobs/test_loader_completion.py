"""The completion job against the embedded emulator: outcomes, ledger writes and events."""

from __future__ import annotations

import json
from typing import Any

import loader_contract as contract
import pytest
from loader_completion import (
    Completion,
    CompletionSettings,
    main,
    object_ids_from_env,
    outcome_of,
    planned_outcome_of,
)
from loader_settings import ConfigurationError

SETTINGS = CompletionSettings(
    ledger_table="Ledger", target_table="Target", load_job_id="load-1", completion_job_id="done-1"
)


class Events:
    """What a subscribed team receives: an SQS queue behind a rule for the pipeline's events."""

    def __init__(self, world: Any) -> None:
        self.sqs = world.aws.client("sqs")
        self.url = self.sqs.create_queue(QueueName="events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = world.aws.client("events")
        pattern = {"source": [contract.EVENT_SOURCE]}
        events.put_rule(Name="loads", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="loads", Targets=[{"Id": "q", "Arn": arn}])
        self.client = events

    def received(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while messages := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return out


class RefusingEvents:
    """An EventBridge client that refuses every entry of its first ``refusals`` calls."""

    def __init__(self, real: Any, refusals: int) -> None:
        self.real = real
        self.refusals = refusals
        self.calls = 0

    def put_events(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.refusals:
            entries = [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]
            return {
                "FailedEntryCount": len(request["Entries"]),
                "Entries": entries * len(request["Entries"]),
            }
        result: dict[str, Any] = self.real.put_events(**request)
        return result


def _item(object_id: str, status: str, **numbers: int) -> dict[str, Any]:
    bucket, _, rest = object_id.partition("/")
    item: dict[str, Any] = {
        contract.LEDGER_KEY_ATTRIBUTE: {"S": object_id},
        contract.LEDGER_STATUS: {"S": status},
        contract.LEDGER_BUCKET: {"S": bucket},
        contract.LEDGER_OBJECT_KEY: {"S": rest.rpartition("#")[0]},
        contract.LEDGER_VERSION_ID: {"S": "v1"},
    }
    for name, value in numbers.items():
        item[name] = {"N": str(value)}
    return item


def _put(world: Any, *items: dict[str, Any]) -> None:
    for item in items:
        world.dynamodb.put_item(TableName=world.ledger_table, Item=item)


def _completion(world: Any, events: Any) -> Completion:
    return Completion(
        dynamodb=world.dynamodb, events=events, settings=SETTINGS, sleep=lambda _: None
    )


def test_completion_records_the_outcome_and_publishes_a_completed_event(world: Any) -> None:
    # GIVEN an object the loader recorded as SUCCEEDED
    events = Events(world)
    _put(
        world,
        _item(
            "in/a.csv#v1",
            contract.STATUS_SUCCEEDED,
            rows_loaded=9,
            rows_rejected=1,
            rows_duplicate=2,
        ),
    )

    # WHEN the completion runs for it
    result = _completion(world, events.client).complete(["in/a.csv#v1"])

    # THEN the ledger says when and by which job it completed, and one event tells it
    assert result.complete
    ledger = world.ledger("in/a.csv#v1")
    assert (ledger["status"], ledger["completion_job_id"]) == (contract.STATUS_SUCCEEDED, "done-1")
    assert ledger["completed_at"].endswith("+00:00")
    (event,) = events.received()
    assert (event["source"], event["detail-type"]) == (
        "constructs_batch.pipeline",
        "CsvLoadCompleted",
    )
    detail = event["detail"]
    assert (detail["bucket"], detail["key"], detail["version_id"]) == ("in", "a.csv", "v1")
    assert (detail["rows_loaded"], detail["rows_rejected"], detail["rows_duplicate"]) == (9, 1, 2)
    assert (detail["table"], detail["ledger_table"]) == ("Target", "Ledger")
    assert (detail["load_job_id"], detail["completion_job_id"]) == ("load-1", "done-1")


def test_completion_fails_an_object_whose_load_recorded_no_outcome(world: Any) -> None:
    # GIVEN an object the load job left RUNNING (it ended without recording) and one FAILED
    events = Events(world)
    failed = _item("in/bad.csv#v1", contract.STATUS_FAILED)
    failed[contract.LEDGER_ERROR] = {"S": "every data row was rejected (3 rows)"}
    _put(world, _item("in/stuck.csv#v1", contract.STATUS_RUNNING), failed)

    # WHEN the completion runs for both
    _completion(world, events.client).complete(["in/stuck.csv#v1", "in/bad.csv#v1"])

    # THEN both are FAILED in the ledger, each with why, and both events say so
    stuck = world.ledger("in/stuck.csv#v1")
    assert stuck["status"] == contract.STATUS_FAILED
    assert (
        stuck["error"] == "the load job ended without recording an outcome (ledger status RUNNING)"
    )
    assert world.ledger("in/bad.csv#v1")["error"] == "every data row was rejected (3 rows)"
    received = {e["detail"]["key"]: e for e in events.received()}
    assert {k: e["detail-type"] for k, e in received.items()} == {
        "stuck.csv": "CsvLoadFailed",
        "bad.csv": "CsvLoadFailed",
    }
    assert received["bad.csv"]["detail"]["error"] == "every data row was rejected (3 rows)"


def test_completion_of_a_burst_publishes_one_event_per_object_in_batches(world: Any) -> None:
    # GIVEN 23 loaded objects (more than two PutEvents calls of 10 entries)
    events = Events(world)
    ids = [f"in/{i:02d}.csv#v1" for i in range(23)]
    _put(world, *(_item(i, contract.STATUS_SUCCEEDED, rows_loaded=1) for i in ids))

    # WHEN the completion runs for them
    result = _completion(world, events.client).complete(ids)

    # THEN every object has its event and its ledger outcome
    assert result.complete and len(result.outcomes) == 23
    assert sorted(e["detail"]["object_id"] for e in events.received()) == ids
    assert {world.ledger(i)["completion_job_id"] for i in ids} == {"done-1"}


def test_completion_retries_refused_events_and_reports_those_never_taken(world: Any) -> None:
    # GIVEN one loaded object and an event bus that refuses entries for a while
    events = Events(world)
    _put(world, _item("in/a.csv#v1", contract.STATUS_SUCCEEDED))

    # WHEN the bus refuses twice, then for longer than the completion retries
    recovered = _completion(world, RefusingEvents(events.client, refusals=2)).complete(
        ["in/a.csv#v1"]
    )
    given_up = _completion(world, RefusingEvents(events.client, refusals=99)).complete(
        ["in/a.csv#v1"]
    )

    # THEN the first run published the event on its third attempt; the second reports it
    assert recovered.complete and recovered.unpublished == []
    assert (given_up.complete, given_up.unpublished) == (False, ["in/a.csv#v1"])
    assert len(events.received()) == 1


def test_completion_leaves_an_object_a_newer_run_owns(world: Any) -> None:
    # GIVEN an object whose ledger item changes between the read and the write (a new run)
    events = Events(world)
    _put(world, _item("in/a.csv#v1", contract.STATUS_SUCCEEDED))

    class Rerun:
        def __init__(self, real: Any) -> None:
            self.real = real

        def batch_get_item(self, **request: Any) -> Any:
            response = self.real.batch_get_item(**request)
            _put(world, _item("in/a.csv#v1", contract.STATUS_RUNNING))
            return response

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

    completion = Completion(dynamodb=Rerun(world.dynamodb), events=events.client, settings=SETTINGS)

    # WHEN the completion runs
    result = completion.complete(["in/a.csv#v1"])

    # THEN it neither overwrites the new run nor reports the old one
    assert result.superseded == ["in/a.csv#v1"] and result.complete
    assert world.ledger("in/a.csv#v1")["status"] == contract.STATUS_RUNNING
    assert events.received() == []


def test_outcome_of_parts_sums_counts_and_fails_when_one_part_failed() -> None:
    # GIVEN two parts of one file, one of which failed
    good = _item("in/a.csv#v1", contract.STATUS_SUCCEEDED, rows_loaded=5, rows_rejected=1)
    bad = _item("in/a.csv#v1", contract.STATUS_FAILED, rows_loaded=2, rows_rejected=9)
    bad[contract.LEDGER_ERROR] = {"S": "too many rejects"}

    # WHEN the file's outcome is computed
    outcome = outcome_of("in/a.csv#v1", [good, bad])

    # THEN it failed with the part's error and the parts' rows added up
    assert (outcome.status, outcome.error) == (contract.STATUS_FAILED, "too many rejects")
    assert (outcome.rows_loaded, outcome.rows_rejected) == (7, 10)
    assert outcome.detail_type == contract.EVENT_LOAD_FAILED


def _plan(object_id: str, parts: int, error: str | None = None) -> dict[str, Any]:
    bucket, _, rest = object_id.partition("/")
    return {
        contract.PLAN_FIELD_OBJECT: {
            contract.MANIFEST_FIELD_BUCKET: bucket,
            contract.MANIFEST_FIELD_KEY: rest.rpartition("#")[0],
            contract.MANIFEST_FIELD_VERSION_ID: "v1",
            contract.MANIFEST_FIELD_OBJECT_ID: object_id,
        },
        contract.PLAN_FIELD_ERROR: error,
        contract.PLAN_FIELD_PARTS: [
            {contract.PART_FIELD_OBJECT_ID: f"{object_id}{contract.PART_ID_SEPARATOR}{i}"}
            for i in range(parts)
        ],
    }


def _part(object_id: str, index: int, **numbers: int) -> dict[str, Any]:
    part = _item(f"{object_id}{contract.PART_ID_SEPARATOR}{index}", contract.STATUS_SUCCEEDED)
    for name, value in numbers.items():
        part[name] = {"N": str(value)}
    part[contract.LEDGER_REJECTS_KEY] = {"S": f"rejected/a.csv.part-{index}.errors.csv"}
    return part


@pytest.mark.parametrize(
    ("rejected", "status"),
    [
        # 2 parts of 50 rows: 5 of 100 rejected is the 5 % threshold (succeeds), 6 is above
        ((2, 3), contract.STATUS_SUCCEEDED),
        ((3, 3), contract.STATUS_FAILED),
    ],
)
def test_planned_outcome_judges_the_reject_threshold_over_every_part(
    rejected: tuple[int, int], status: str
) -> None:
    # GIVEN an object's two parts that each succeeded with some rejects
    whole = _item("in/a.csv#v1", contract.STATUS_RUNNING)
    parts = [
        _part("in/a.csv#v1", i, rows_loaded=50 - r, rows_rejected=r) for i, r in enumerate(rejected)
    ]

    # WHEN the object's outcome is computed under the 5 % threshold
    outcome = planned_outcome_of(whole, _plan("in/a.csv#v1", 2), parts, 0.05)

    # THEN the parts' rejects together decide, and the outcome names both rejects files
    assert outcome.status == status
    assert (outcome.rows_rejected, outcome.parts, outcome.recorded_status) == (
        sum(rejected),
        2,
        contract.STATUS_RUNNING,
    )
    assert outcome.rejects_keys == (
        "rejected/a.csv.part-0.errors.csv",
        "rejected/a.csv.part-1.errors.csv",
    )
    if status == contract.STATUS_FAILED:
        assert "6 of 100 data rows rejected" in str(outcome.error)


def test_planned_outcome_fails_when_the_plan_failed_or_a_part_never_recorded() -> None:
    # GIVEN a plan that failed, and a plan whose second part has no ledger item
    whole = _item("in/a.csv#v1", contract.STATUS_FAILED)
    failed = planned_outcome_of(whole, _plan("in/a.csv#v1", 0, error="NoSuchKey"), [], 0.05)
    missing = planned_outcome_of(
        whole, _plan("in/a.csv#v1", 2), [_part("in/a.csv#v1", 0, rows_loaded=3), None], 0.05
    )

    # THEN both failed, saying why
    assert (failed.status, failed.error) == (
        contract.STATUS_FAILED,
        "the object could not be planned: NoSuchKey",
    )
    assert missing.status == contract.STATUS_FAILED
    assert "never claimed" in str(missing.error)


def test_completion_of_a_planned_object_records_its_totals(world: Any) -> None:
    # GIVEN a planned object RUNNING and its two parts, which succeeded
    events = Events(world)
    _put(
        world,
        _item("in/a.csv#v1", contract.STATUS_RUNNING),
        _part("in/a.csv#v1", 0, rows_loaded=40, rows_rejected=1, rows_duplicate=2),
        _part("in/a.csv#v1", 1, rows_loaded=50),
    )

    # WHEN the completion runs for its plan
    result = _completion(world, events.client).complete_planned(_plan("in/a.csv#v1", 2))

    # THEN the object's item holds the sums and its status; its event the parts
    assert result.complete
    ledger = world.ledger("in/a.csv#v1")
    assert (ledger["status"], ledger["rows_loaded"], ledger["rows_rejected"]) == (
        contract.STATUS_SUCCEEDED,
        90,
        1,
    )
    assert ledger["rows_duplicate"] == 2
    (event,) = events.received()
    assert (event["detail"]["parts"], event["detail"]["rejects_keys_truncated"]) == (2, False)


def test_object_ids_come_from_the_manifest_of_an_array_job(world: Any) -> None:
    # GIVEN the manifest the submitter wrote for an array job of two objects
    entries = [{"bucket": "in", "key": f"{n}.csv", "object_id": f"in/{n}.csv#v1"} for n in "ab"]
    world.s3.put_object(Bucket=world.bucket, Key="manifests/m.json", Body=json.dumps(entries))
    environment = {contract.ENV_CSV_MANIFEST: f"s3://{world.bucket}/manifests/m.json"}

    # WHEN the completion reads which objects it completes THEN it is every entry, in order
    assert object_ids_from_env(environment, world.s3) == ["in/a.csv#v1", "in/b.csv#v1"]
    assert object_ids_from_env({contract.ENV_LEDGER_OBJECT_ID: "x#1"}, world.s3) == ["x#1"]
    with pytest.raises(ConfigurationError, match="LEDGER_OBJECT_ID or CSV_MANIFEST"):
        object_ids_from_env({}, world.s3)


def test_completion_main_exits_2_without_its_settings() -> None:
    # GIVEN no completion variables WHEN main runs THEN it exits with the configuration code
    assert main({"AWS_DEFAULT_REGION": "us-east-1"}) == contract.EXIT_CONFIGURATION_ERROR
