"""A large object end to end: its plan job, the array job of its parts, their completion.

The ``split_pipeline`` fixture's submitter splits objects above 4 KiB into at most 4
parts, so a file of a few kilobytes goes the way a 100 GB one would: the real submitter
submits the plan job, the array job and the completion job; the loader's processes plan
it, load the parts side by side and the completion job turns the parts into the file's
outcome.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from constructs_batch.runtime.csv_loader import loader_contract as loader

from constructs_batch.local import LocalPipeline, object_id

KEY = "id"
PART = loader.PART_ID_SEPARATOR
_CITIES = ("Zürich", "東京", "São Paulo", "Reykjavík")


def _awkward_csv(rows: int) -> tuple[bytes, dict[str, dict[str, str]], list[tuple[int, str]]]:
    """A CRLF file whose records hold quoted newlines, quotes and multi-byte characters.

    Every 7th record has a two-line quoted note, every 50th an empty key (rejected).

    Returns:
        (the object's bytes, the good rows by key, the (line, reason) of each bad row)
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "city", "note"])
    line = 2
    good: dict[str, dict[str, str]] = {}
    bad: list[tuple[int, str]] = []
    for i in range(rows):
        key = "" if i % 50 == 49 else f"k{i:05d}"
        note = f'line one of {i}\r\n"quoted" line two' if i % 7 == 0 else f"plain {i} ünïcødé"
        fields = [key, _CITIES[i % len(_CITIES)], note]
        writer.writerow(fields)
        if key:
            good[key] = dict(zip(["id", "city", "note"], fields, strict=True))
        else:
            bad.append((line, "empty_key"))
        line += 1 + note.count("\n")
    return out.getvalue().encode(), good, bad


def _items(pipeline: LocalPipeline) -> dict[str, dict[str, Any]]:
    return {str(item[KEY]): item for item in pipeline.scan()}


def test_split_object_loads_every_row_once_with_file_lines_and_one_outcome_rerun_safe(
    split_pipeline: LocalPipeline,
) -> None:
    # GIVEN a 15 KB CSV (4 parts of a 4 KiB threshold, 4 at most) with quoted CRLF newlines
    # and multi-byte characters, and a team subscribed to the pipeline's events
    body, good, bad = _awkward_csv(300)
    subscriber = split_pipeline.subscribe_to_load_events()

    # WHEN it is uploaded and Batch runs what the submitter submitted
    stored = split_pipeline.upload_and_notify("incoming/big.csv", body)
    delivery = split_pipeline.deliver()
    results = split_pipeline.run_jobs()

    # THEN the submitter submitted a plan job, an array job of 4 and a completion job, and
    # every one of the six containers succeeded
    assert delivery.failed_message_ids == []
    assert len(split_pipeline.submitted_jobs()) == 3
    assert sorted(r.run.command[-1:] == ("loader_plan",) for r in results) == [False] * 5 + [True]
    assert [r.exit_code for r in results] == [0] * 6
    # AND the table holds every good row exactly as written, quoted newlines included
    items = _items(split_pipeline)
    assert {k: {n: str(v) for n, v in item.items()} for k, item in items.items()} == good
    # AND the object's ledger item has the parts' sums, the plan's parts and its outcome
    oid = object_id(stored)
    whole = split_pipeline.ledger_item(oid)
    assert whole is not None
    assert (whole["status"], whole["rows_loaded"], whole["rows_rejected"]) == (
        loader.STATUS_SUCCEEDED,
        len(good),
        len(bad),
    )
    assert (whole["parts"], whole["split"]) == (4, True)
    # AND each part has its own ledger item and rejects file, whose lines are the file's
    parts = [split_pipeline.ledger_item(f"{oid}{PART}{i}") for i in range(4)]
    assert all(p is not None and p["status"] == loader.STATUS_SUCCEEDED for p in parts)
    assert sum(int(p["rows_loaded"]) for p in parts if p) == len(good)
    rejects = [
        (int(row["line"]), row["reason"])
        for p in parts
        if p and p.get("rejects_key")
        for row in split_pipeline.read_csv(str(p["rejects_key"]))
    ]
    assert sorted(rejects) == bad
    # AND one CsvLoadCompleted event says how many parts and where their rejects are
    (event,) = split_pipeline.received_events(subscriber)
    assert event["detail-type"] == loader.EVENT_LOAD_COMPLETED
    detail = event["detail"]
    assert (detail["parts"], detail["rows_loaded"], detail["rows_rejected"]) == (
        4,
        len(good),
        len(bad),
    )
    assert sorted(detail["rejects_keys"]) == sorted(p["rejects_key"] for p in parts if p)

    # WHEN AWS Batch runs one child again (a retry) and S3 delivers the event again
    child = next(r for r in results if r.run.array_index == 1)
    rerun = split_pipeline.run_loader(child.run)
    split_pipeline.notify(stored)
    redelivery = split_pipeline.deliver()

    # THEN the rerun rewrote the same items with the same counts, and nothing was resubmitted
    assert rerun.exit_code == 0
    assert _items(split_pipeline) == items
    again = split_pipeline.ledger_item(f"{oid}{PART}1")
    assert again is not None and parts[1] is not None
    assert [again[n] for n in ("rows_loaded", "rows_rejected", "rejects_key")] == [
        parts[1][n] for n in ("rows_loaded", "rows_rejected", "rejects_key")
    ]
    assert redelivery.failed_message_ids == []
    assert len(split_pipeline.submitted_jobs()) == 3


def test_object_the_plan_cannot_split_is_loaded_whole_and_the_ledger_says_why(
    split_pipeline: LocalPipeline,
) -> None:
    # GIVEN a large CSV with a quote the csv module reads but a byte scan cannot follow
    # (27" in an unquoted field)
    lines = ["id,item"] + [f'k{i:05d},monitor {i} 27" wide' for i in range(170)]
    body = ("\n".join(lines) + "\n").encode()

    # WHEN it goes through the pipeline
    stored = split_pipeline.upload_and_notify("incoming/inches.csv", body)
    split_pipeline.deliver()
    results = split_pipeline.run_jobs()

    # THEN the plan, its 2 children (one per 4 KiB begun) and the completion succeeded:
    # one child loaded it whole, the others had nothing to do; every row is in the table,
    # and the ledger says it was not split and why
    sizes = [job.get("arrayProperties", {}).get("size") for job in split_pipeline.load_jobs()]
    assert sorted(sizes, key=str) == [2, None]
    assert [r.exit_code for r in results] == [0] * 4
    assert len(_items(split_pipeline)) == 170
    whole = split_pipeline.ledger_item(object_id(stored))
    assert whole is not None
    assert (whole["status"], whole["rows_loaded"], whole["parts"], whole["split"]) == (
        loader.STATUS_SUCCEEDED,
        170,
        1,
        False,
    )
    assert "quote" in str(whole["split_reason"])


def test_object_gone_before_its_plan_fails_once_and_loads_nothing(
    split_pipeline: LocalPipeline,
) -> None:
    # GIVEN a large object whose version is deleted after the submitter submitted it
    body, _, _ = _awkward_csv(200)
    subscriber = split_pipeline.subscribe_to_load_events()
    stored = split_pipeline.upload_and_notify("incoming/gone.csv", body)
    split_pipeline.deliver()
    split_pipeline.s3.delete_object(
        Bucket=stored.bucket, Key=stored.key, VersionId=stored.version_id
    )

    # WHEN Batch runs the jobs
    results = split_pipeline.run_jobs()

    # THEN every container exited 0 (the plan recorded its error, the children had nothing
    # to load), nothing was written, and the object FAILED with the plan's reason, once
    assert all(r.exit_code == 0 for r in results)
    assert split_pipeline.scan() == []
    whole = split_pipeline.ledger_item(object_id(stored))
    assert whole is not None
    assert whole["status"] == loader.STATUS_FAILED
    assert str(whole["error"]).startswith("the object could not be planned: ")
    (event,) = split_pipeline.received_events(subscriber)
    assert (event["detail-type"], event["detail"]["parts"]) == (loader.EVENT_LOAD_FAILED, 0)
