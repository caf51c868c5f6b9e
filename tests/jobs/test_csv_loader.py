"""The CSV loader against the embedded emulator: parsing, rejects, duplicates, ledger, retries."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import boto3
import loader_contract as contract
import pytest
from botocore.exceptions import ClientError, ResponseStreamingError
from botocore.stub import Stubber
from loader_main import Loader, LoadResult, main, rejects_object_key
from loader_pacing import WritePacer
from loader_settings import ConfigurationError, CsvSource, LoaderSettings, source_from_env
from loader_writer import BatchWriter, Refusal

from constructs_batch.local import INDEX_TYPE_MISMATCH, RefusingDynamoDB


def _settings(world: Any, **overrides: Any) -> LoaderSettings:
    values: dict[str, Any] = {
        "target_table": world.target_table,
        "ledger_table": world.ledger_table,
        "key_columns": ("id",),
        "numeric_columns": frozenset({"amount"}),
        "write_concurrency": 4,
        "progress_interval_seconds": 60.0,
    }
    values.update(overrides)
    return LoaderSettings(**values)


def _load(
    world: Any, key: str, body: bytes | str, *, dynamodb: Any = None, **settings: Any
) -> LoadResult:
    etag = world.put_csv(key, body)
    loader = Loader(
        s3=world.s3,
        dynamodb=dynamodb or world.direct,
        settings=_settings(world, **settings),
        retry_base_delay_seconds=0.001,
        retry_max_delay_seconds=0.01,
        # Pacing never slows these tests: they are about retries and counts (pacing has its own).
        pacer=lambda rate: WritePacer(max_rate=rate, min_rate=1e9, increase_per_second=1e9),
    )
    return loader.load(CsvSource(bucket=world.bucket, key=key, object_id=f"id-{key}", etag=etag))


def _rejects(world: Any, result: LoadResult) -> list[dict[str, str]]:
    assert result.rejects_key is not None
    return list(csv.DictReader(io.StringIO(world.text(result.rejects_key))))


def _throttled() -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "BatchWriteItem",
    )


class FlakyDynamoDB:
    """The emulator's client, but BatchWriteItem misbehaves like a busy table.

    The first ``throttled_calls`` calls raise ProvisionedThroughputExceededException; the next
    ``unprocessed_calls`` write only the second half of their items and return the first half
    (the earliest rows) as UnprocessedItems. The first call holding an item whose ``id`` is in
    ``defer_ids`` returns it unprocessed after ``defer_seconds`` (a slow, throttled write).
    Counts how often each ``id`` was actually written.
    """

    def __init__(
        self,
        real: Any,
        *,
        throttled_calls: int = 0,
        unprocessed_calls: int = 0,
        defer_ids: frozenset[str] = frozenset(),
        defer_seconds: float = 0.0,
    ) -> None:
        self.real = real
        self.throttled_calls = throttled_calls
        self.unprocessed_calls = unprocessed_calls
        self.defer_ids = set(defer_ids)
        self.defer_seconds = defer_seconds
        self.writes: Counter[str] = Counter()
        self.calls = 0
        self._lock = threading.Lock()

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            call = self.calls
        if call <= self.throttled_calls:
            raise _throttled()
        ((table, requests),) = kwargs["RequestItems"].items()
        unprocessed: list[Any] = []
        if call <= self.throttled_calls + self.unprocessed_calls and len(requests) > 1:
            unprocessed, requests = requests[: len(requests) // 2], requests[len(requests) // 2 :]
        with self._lock:
            deferred = [r for r in requests if r["PutRequest"]["Item"]["id"]["S"] in self.defer_ids]
            self.defer_ids.difference_update(r["PutRequest"]["Item"]["id"]["S"] for r in deferred)
        if deferred:
            requests = [r for r in requests if r not in deferred]
            unprocessed += deferred
        if requests:
            self.real.batch_write_item(RequestItems={table: requests})
        with self._lock:
            self.writes.update(r["PutRequest"]["Item"]["id"]["S"] for r in requests)
        if deferred:
            time.sleep(self.defer_seconds)
        return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _rows(count: int, *, start: int = 0) -> str:
    lines = ["id,name,amount"] + [f"r{i:05d},name {i},{i}" for i in range(start, start + count)]
    return "\n".join(lines) + "\n"


# --- parsing ---------------------------------------------------------------------------------


def test_loader_loads_bom_crlf_quoted_and_unicode_fields_exactly(world: Any) -> None:
    # GIVEN a CSV with a UTF-8 BOM, CRLF line ends, quoted commas and newlines, unicode and blank lines
    body = (
        "\ufeffid,name,note\r\n"
        '1,"Smith, Jane","line one\r\nline two"\r\n'
        "\r\n"
        '2,Zoë 東京 🚀,"say ""hi"""\r\n'
        "\r\n"
        "3,plain,\r\n"
    ).encode()

    # WHEN it is loaded
    result = _load(world, "incoming/bom.csv", body, numeric_columns=frozenset())

    # THEN every value arrives exactly, the empty value is omitted, and nothing is rejected
    assert result.status == contract.STATUS_SUCCEEDED
    assert world.items() == {
        "1": {"id": "1", "name": "Smith, Jane", "note": "line one\r\nline two"},
        "2": {"id": "2", "name": "Zoë 東京 🚀", "note": 'say "hi"'},
        "3": {"id": "3", "name": "plain"},
    }
    assert (result.rows_loaded, result.rows_rejected, result.rejects_key) == (3, 0, None)


def test_loader_stores_numeric_columns_as_numbers(world: Any) -> None:
    # GIVEN a numeric column with integers, decimals and exponents
    body = "id,amount,code\na,42,007\nb,-3.50,1\nc,1e3,2\n"

    # WHEN it is loaded with amount numeric
    _load(world, "incoming/numbers.csv", body)

    # THEN amount is a DynamoDB number (Decimal) and the other column stays a string
    items = world.items()
    assert [items[k]["amount"] for k in "abc"] == [Decimal(42), Decimal("-3.50"), Decimal(1000)]
    assert items["a"]["code"] == "007"


def test_loader_writes_each_reject_reason_with_its_line(world: Any) -> None:
    # GIVEN one good row and one row per reject reason (line numbers count physical lines)
    huge = "x" * (400 * 1024)
    body = (
        "id,name,amount\n"  # line 1
        "ok,fine,1\n"  # 2
        "short,row\n"  # 3: column count
        ",nokey,1\n"  # 4: empty key
        'multi,"two\nlines",NaN\n'  # 5-6: bad number
        f"big,{huge},1\n"  # 7: item over 400 KB
        f"{'k' * 2049},long key,1\n"  # 8: partition key over 2048 bytes
    )

    # WHEN it is loaded with a threshold that tolerates them
    result = _load(world, "incoming/rejects.csv", body, reject_threshold=1.0 - 1e-9)

    # THEN each bad row is in the rejects file with its reason, line, raw row and detail
    rejects = _rejects(world, result)
    assert [(r["line"], r["reason"]) for r in rejects] == [
        ("3", "column_count"),
        ("4", "empty_key"),
        ("5", "bad_number"),
        ("7", "item_too_large"),
        ("8", "key_too_large"),
    ]
    assert rejects[2]["raw"] == 'multi,"two\nlines",NaN'
    assert (
        rejects[2]["detail"]
        == "column amount: 'NaN' is not a number (ASCII digits, optional sign, point and exponent)"
    )
    assert rejects[3]["raw"].endswith(f"...[{len(huge) + len('big,,1') - 100_000} more chars]")
    assert (
        rejects[4]["detail"] == "key column id is 2049 bytes, a partition key value is at most 2048"
    )
    assert result.rejects_key == "rejected/incoming/rejects.csv.errors.csv"
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("SUCCEEDED", 1, 5)
    assert list(world.items()) == ["ok"]


def test_loader_rejects_a_cell_longer_than_an_item_with_its_line_and_raw_row(world: Any) -> None:
    # GIVEN a row whose one cell alone is above 400 KB (1 MB), between two good rows
    body = f"id,name,amount\na,first,1\nbig,{'y' * 1_000_000},2\nb,after,3\n"

    # WHEN it is loaded
    result = _load(world, "incoming/huge-cell.csv", body, reject_threshold=0.5)

    # THEN that row is item_too_large with its line and its raw record cut at 100,000 characters,
    # and the rows around it load
    (reject,) = _rejects(world, result)
    assert (reject["line"], reject["reason"]) == ("3", "item_too_large")
    assert reject["raw"].startswith("big,yyy") and reject["raw"].endswith(" more chars]")
    assert sorted(world.items()) == ["a", "b"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("SUCCEEDED", 2, 1)


def test_loader_rejects_numbers_outside_dynamodb_rules_and_loads_the_rest(world: Any) -> None:
    # GIVEN numbers DynamoDB refuses among numbers it stores (zero padding beyond 38 digits too)
    refused = ["2.5E-150", "5E+126", "1E+126", "1\u06623", "\uff11\uff12\uff13", "1" * 39]
    stored = {"p": "1" + "0" * 40, "q": "0.1" + "0" * 40, "r": "1E-130", "s": "-9.5E+125"}
    rows = [f"bad{i},x,{v}" for i, v in enumerate(refused)] + [
        f"{k},x,{v}" for k, v in stored.items()
    ]

    # WHEN it is loaded
    result = _load(
        world,
        "incoming/numbers.csv",
        "id,name,amount\n" + "\n".join(rows) + "\n",
        reject_threshold=0.9,
    )

    # THEN each refused number is a bad_number reject and the others are stored by value
    assert [r["reason"] for r in _rejects(world, result)] == ["bad_number"] * len(refused)
    items = world.items()
    assert {k: items[k]["amount"] for k in stored} == {k: Decimal(v) for k, v in stored.items()}
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("SUCCEEDED", 4, 6)


def test_loader_keeps_the_last_row_of_a_duplicate_key_and_counts_it(world: Any) -> None:
    # GIVEN key k1 three times, spread over several batches
    rows = ["id,name,amount", "k1,first,1"] + [f"f{i},filler,{i}" for i in range(60)]
    rows += ["k1,second,2"] + [f"g{i},filler,{i}" for i in range(60)] + ["k1,last,3"]

    # WHEN it is loaded
    result = _load(world, "incoming/dupes.csv", "\n".join(rows) + "\n")

    # THEN the last row wins and the two earlier ones are counted as duplicates
    assert world.items()["k1"]["name"] == "last"
    assert (result.rows_loaded, result.rows_duplicate, result.rows_rejected) == (121, 2, 0)


def test_loader_keeps_the_last_row_when_the_earlier_write_is_throttled(world: Any) -> None:
    # GIVEN key k1 early and late in the file, and a table that is slow to refuse the first write
    rows = ["id,name,amount", "k1,first,1"] + [f"f{i},filler,{i}" for i in range(100)]
    rows += ["k1,last,2"]
    flaky = FlakyDynamoDB(world.direct, defer_ids=frozenset({"k1"}), defer_seconds=0.3)

    # WHEN it is loaded with several writes in flight
    result = _load(world, "incoming/order.csv", "\n".join(rows) + "\n", dynamodb=flaky)

    # THEN the later row still wins: writes of one key never overtake each other
    assert world.items()["k1"]["name"] == "last"
    assert (result.rows_loaded, result.rows_duplicate) == (101, 1)


def test_loader_treats_equal_numbers_as_the_same_key(world: Any) -> None:
    # GIVEN a numeric sort key written as 1 and 1.0 (the same DynamoDB number)
    _create_table(world, "Orders", ("id", "S"), ("line", "N"))
    body = "id,line,name\no1,1,first\no1,1.0,second\no1,2,other\n"

    # WHEN it is loaded with a two-column key
    result = _load(
        world,
        "incoming/orders.csv",
        body,
        target_table="Orders",
        key_columns=("id", "line"),
        numeric_columns=frozenset({"line"}),
    )

    # THEN the second row replaces the first (one BatchWriteItem never holds both)
    assert result.status == contract.STATUS_SUCCEEDED
    assert (result.rows_loaded, result.rows_duplicate) == (2, 1)
    names = {i["name"] for i in world.aws.resource("dynamodb").Table("Orders").scan()["Items"]}
    assert names == {"second", "other"}


# --- the target table's key schema ------------------------------------------------------------


def _create_table(world: Any, name: str, *keys: tuple[str, str]) -> None:
    """A table keyed by ``(attribute, type)`` pairs: partition, then optional sort."""
    world.dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": attribute, "KeyType": kind}
            for (attribute, _), kind in zip(keys, ("HASH", "RANGE"), strict=False)
        ],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in keys],
        BillingMode="PAY_PER_REQUEST",
    )


class CallsSpy:
    """The emulator's client, counting the calls made by operation name."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self.real, name)
        if not callable(operation):
            return operation

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return operation(*args, **kwargs)

        return call


def test_loader_types_a_key_column_as_the_table_defines_it(
    world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN an imported table whose partition key is a NUMBER, and no numeric_columns
    caplog.set_level(logging.INFO, logger="csv_loader")
    _create_table(world, "ByNumber", ("id", "N"))
    spy = CallsSpy(world.direct)

    # WHEN a file keyed by numbers written in two ways is loaded
    result = _load(
        world,
        "incoming/by-number.csv",
        "id,name\n7,first\n7.0,second\n12,other\n",
        dynamodb=spy,
        target_table="ByNumber",
        numeric_columns=frozenset(),
    )

    # THEN the key cells are numbers (7 and 7.0 are one item), after one DescribeTable
    assert (result.status, result.rows_loaded, result.rows_duplicate) == ("SUCCEEDED", 2, 1)
    items = world.aws.resource("dynamodb").Table("ByNumber").scan()["Items"]
    assert {item["id"]: item["name"] for item in items} == {
        Decimal(7): "second",
        Decimal(12): "other",
    }
    assert spy.calls["describe_table"] == 1
    # AND the log says the key column was typed from the table
    warnings = [
        json.loads(r.getMessage()) for r in caplog.records if "typed as table" in r.getMessage()
    ]
    assert warnings and warnings[0]["columns"] == {"id": "NUMBER"}


def test_loader_writes_a_numeric_key_column_as_a_string_when_the_table_says_so(world: Any) -> None:
    # GIVEN the standard table (partition key id is a STRING) and id listed as numeric
    # WHEN a file whose ids look like numbers is loaded
    result = _load(
        world, "incoming/string-ids.csv", "id,name\n007,a\n7,b\n", numeric_columns=frozenset({"id"})
    )

    # THEN the ids are stored as written (two different strings)
    assert (result.status, result.rows_loaded) == ("SUCCEEDED", 2)
    assert sorted(world.items()) == ["007", "7"]


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        (
            (("pk", "S"),),
            "table Other is keyed by ['pk'] (partition, then sort), but KEY_COLUMNS names ['id']: nothing was written",
        ),
        (
            (("id", "S"), ("sk", "S")),
            "table Other is keyed by ['id', 'sk'] (partition, then sort), but KEY_COLUMNS names ['id']",
        ),
        (
            (("id", "B"),),
            "table Other has BINARY key attributes ['id']; the loader writes string and number keys only",
        ),
    ],
    ids=["other-name", "extra-sort-key", "binary"],
)
def test_loader_fails_before_writing_when_the_table_key_cannot_take_the_rows(
    world: Any, keys: tuple[tuple[str, str], ...], error: str
) -> None:
    # GIVEN an imported table whose key the loader cannot fill from KEY_COLUMNS
    _create_table(world, "Other", *keys)
    spy = CallsSpy(world.direct)

    # WHEN a file is loaded into it
    result = _load(world, "incoming/other.csv", _rows(30), dynamodb=spy, target_table="Other")

    # THEN the run fails with one message, and no BatchWriteItem was sent
    assert result.status == contract.STATUS_FAILED
    assert result.error is not None and result.error.startswith(error)
    assert spy.calls["batch_write_item"] == 0 and result.rows_loaded == 0


def test_loader_fails_when_the_table_cannot_be_described(world: Any) -> None:
    # GIVEN a target table that does not exist
    # WHEN a file is loaded
    result = _load(world, "incoming/missing.csv", _rows(3), target_table="Missing")

    # THEN the run fails saying which table and why
    assert result.status == contract.STATUS_FAILED
    assert result.error is not None
    assert result.error.startswith("cannot read the key schema of table Missing (DescribeTable): ")


# --- failure rules -----------------------------------------------------------------------------


def test_loader_fails_when_rejects_exceed_the_threshold(world: Any) -> None:
    # GIVEN 11 rows of which 2 are bad (18%) and 1 repeats a key, and a 10% threshold
    body = _rows(8) + "r00000,again,0\nbad,row,notanumber\nworse,row,1,extra\n"

    # WHEN it is loaded
    result = _load(world, "incoming/threshold.csv", body, reject_threshold=0.1)

    # THEN the run fails and says why; the good rows are written all the same
    assert result.status == contract.STATUS_FAILED
    assert result.error == "2 of 11 data rows rejected (18.18%), above REJECT_THRESHOLD 0.1"
    assert (result.rows_loaded, result.rows_duplicate, result.rows_rejected) == (8, 1, 2)
    assert len(world.items()) == 8


def test_loader_fails_when_every_row_is_bad_and_lists_them_all(world: Any) -> None:
    # GIVEN a file whose rows are all bad
    body = "id,name,amount\n,empty,1\nx,y,z\nshort\n"

    # WHEN it is loaded with a threshold that would tolerate anything
    result = _load(world, "incoming/allbad.csv", body, reject_threshold=1.0)

    # THEN the run fails and the rejects file holds every row
    assert result.status == contract.STATUS_FAILED
    assert result.error == "every data row was rejected (3 rows)"
    assert [r["line"] for r in _rejects(world, result)] == ["2", "3", "4"]
    assert world.items() == {}


def test_loader_part_loads_only_its_range_with_the_plan_header_and_file_lines(
    world: Any,
) -> None:
    # GIVEN a file whose second part (from the 3rd line) is all bad rows, and its plan
    body = "id,name,amount\nr1,a,1\nr2,b,x\nr3,c,y\n"
    etag = world.put_csv("incoming/parts.csv", body)
    start = body.index("r2")
    loader = Loader(s3=world.s3, dynamodb=world.direct, settings=_settings(world))

    # WHEN the second part is loaded as its child would
    result = loader.load(
        CsvSource(
            bucket=world.bucket,
            key="incoming/parts.csv",
            object_id="o#part-1",
            etag=etag,
            parts=2,
            part=1,
            start=start,
            end=len(body),
            first_line=3,
            header=("id", "name", "amount"),
        )
    )

    # THEN it read only its rows, with the file's line numbers, into its own rejects file,
    # and left the reject threshold to the completion job (which sees every part)
    assert (result.status, result.rows_loaded, result.rows_rejected) == (
        contract.STATUS_SUCCEEDED,
        0,
        2,
    )
    assert result.rejects_key == "rejected/incoming/parts.csv.part-1.errors.csv"
    assert [(r["line"], r["reason"]) for r in _rejects(world, result)] == [
        ("3", "bad_number"),
        ("4", "bad_number"),
    ]
    assert world.items() == {}


def test_loader_fails_when_the_header_lacks_a_key_column(world: Any) -> None:
    # GIVEN a file without the key column
    # WHEN it is loaded
    result = _load(world, "incoming/nokey.csv", "name,amount\nx,1\n")

    # THEN the run fails with the header problem
    assert result.status == contract.STATUS_FAILED
    assert result.error is not None and "lacks key columns ['id']" in result.error


def test_loader_fails_when_the_object_changed_since_submission(world: Any) -> None:
    # GIVEN an object overwritten after its event
    world.put_csv("incoming/changed.csv", _rows(2))
    loader = Loader(s3=world.s3, dynamodb=world.dynamodb, settings=_settings(world))

    # WHEN the loader is given the old ETag
    result = loader.load(
        CsvSource(bucket=world.bucket, key="incoming/changed.csv", object_id="o", etag="0" * 32)
    )

    # THEN it loads nothing and says why
    assert result.status == contract.STATUS_FAILED
    assert result.error is not None and "changed since it was submitted" in result.error
    assert world.items() == {}


# --- idempotence, ledger, array jobs ---------------------------------------------------------


def test_loader_rerun_leaves_the_same_items(world: Any) -> None:
    # GIVEN a file loaded once
    body = _rows(40)
    _load(world, "incoming/rerun.csv", body)
    first = world.items()

    # WHEN it is loaded again
    result = _load(world, "incoming/rerun.csv", body)

    # THEN the table holds exactly the same items
    assert result.status == contract.STATUS_SUCCEEDED
    assert world.items() == first and len(first) == 40


def test_loader_records_the_run_in_the_ledger(world: Any) -> None:
    # GIVEN a ledger client that remembers the statuses it writes
    statuses: list[str] = []

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(world.dynamodb, name)

        def update_item(self, **kwargs: Any) -> Any:
            statuses.extend(
                v["S"]
                for v in kwargs["ExpressionAttributeValues"].values()
                if "S" in v
                if v["S"] in {contract.STATUS_RUNNING, contract.STATUS_SUCCEEDED}
            )
            return world.dynamodb.update_item(**kwargs)

    # WHEN a file with one reject and one duplicate is loaded
    body = _rows(3) + "r00000,again,9\nbad,x,y\n"
    result = _load(world, "incoming/ledger.csv", body, dynamodb=Spy(), reject_threshold=0.5)

    # THEN the ledger went RUNNING -> SUCCEEDED and holds the counts and times
    assert statuses == ["RUNNING", "SUCCEEDED"]
    item = world.ledger(result.object_id)
    assert {k: item[k] for k in ("status", "rows_loaded", "rows_rejected", "rows_duplicate")} == {
        "status": "SUCCEEDED",
        "rows_loaded": 3,
        "rows_rejected": 1,
        "rows_duplicate": 1,
    }
    assert item["rejects_key"] == "rejected/incoming/ledger.csv.errors.csv"
    assert isinstance(item["duration_s"], Decimal)
    assert item["started_at"] <= item["finished_at"] and "error" not in item


def test_source_from_env_picks_the_manifest_entry_of_the_array_index(world: Any) -> None:
    # GIVEN a manifest of three objects and array child 1
    entries = [
        {
            "bucket": world.bucket,
            "key": f"incoming/{i}.csv",
            "version_id": "",
            "etag": f"e{i}",
            "object_id": f"obj-{i}",
        }
        for i in range(3)
    ]
    world.s3.put_object(Bucket=world.bucket, Key="manifests/m.json", Body=json.dumps(entries))
    environ = {
        "CSV_MANIFEST": f"s3://{world.bucket}/manifests/m.json",
        "AWS_BATCH_JOB_ARRAY_INDEX": "1",
    }

    # WHEN the source is resolved
    source = source_from_env(environ, world.s3)

    # THEN it is entry 1
    assert source == CsvSource(
        bucket=world.bucket, key="incoming/1.csv", object_id="obj-1", version_id="", etag="e1"
    )


def test_settings_from_env_reports_every_bad_variable() -> None:
    # GIVEN an environment with several bad values
    environ = {
        "TARGET_TABLE_NAME": "t",
        "KEY_COLUMNS": "a,b,c",
        "REJECT_THRESHOLD": "2",
        "WRITE_CONCURRENCY": "many",
    }

    # WHEN / THEN they are reported together
    with pytest.raises(
        ConfigurationError,
        match=r"WRITE_CONCURRENCY must be an integer, got 'many'.*LEDGER_TABLE_NAME must be set.*KEY_COLUMNS must name 1 or 2 columns.*REJECT_THRESHOLD must be between 0 and 1, got 2",
    ):
        LoaderSettings.from_env(environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"NULL_VALUES": "NA"}, r"NULL_VALUES must be a JSON list of strings, got 'NA'"),
        ({"NULL_VALUES": '["NA", 1]'}, r"NULL_VALUES must be a JSON list of strings"),
        (
            {"NUMERIC_COLUMNS": "a,b", "BOOLEAN_COLUMNS": "b"},
            r"BOOLEAN_COLUMNS and NUMERIC_COLUMNS must not share columns, got \['b'\]",
        ),
        ({"BOOLEAN_COLUMNS": "id"}, r"BOOLEAN_COLUMNS must not name key columns .* got \['id'\]"),
    ],
    ids=["not-json", "not-strings", "boolean-and-numeric", "boolean-key"],
)
def test_settings_from_env_rejects_bad_null_values_and_boolean_columns(
    environ: dict[str, str], message: str
) -> None:
    # GIVEN an otherwise complete environment with one bad variable
    base = {"TARGET_TABLE_NAME": "t", "LEDGER_TABLE_NAME": "l", "KEY_COLUMNS": "id"}

    # WHEN / THEN it is a configuration error naming the variable
    with pytest.raises(ConfigurationError, match=message):
        LoaderSettings.from_env({**base, **environ})


def test_settings_from_env_always_count_the_empty_string_as_a_null_value() -> None:
    # GIVEN NULL_VALUES listing NA and NULL only
    environ = {
        "TARGET_TABLE_NAME": "t",
        "LEDGER_TABLE_NAME": "l",
        "KEY_COLUMNS": "id",
        "NULL_VALUES": '["NA", "NULL"]',
        "BOOLEAN_COLUMNS": "active, done",
    }

    # WHEN the settings are read
    settings = LoaderSettings.from_env(environ)

    # THEN the empty string is a null value too, and the boolean columns are named
    assert settings.null_values == frozenset({"", "NA", "NULL"})
    assert settings.boolean_columns == frozenset({"active", "done"})


def test_loader_loads_null_values_as_missing_and_booleans_as_bool(world: Any) -> None:
    # GIVEN an R export: NA for missing values, TRUE/FALSE for a logical column
    body = "id,name,amount,active\na,Ann,1.5,TRUE\nb,NA,NA,FALSE\nc,Cy,2,NA\nNA,Dee,3,TRUE\nd,Di,4,yes\n"

    # WHEN it is loaded with NA as a null value and active as a boolean column
    result = _load(
        world,
        "incoming/r-export.csv",
        body,
        null_values=frozenset({"NA"}),
        boolean_columns=frozenset({"active"}),
        reject_threshold=0.5,
    )

    # THEN NA cells are omitted, booleans are BOOL, and the NA key and the "yes" are rejected
    assert world.items() == {
        "a": {"id": "a", "name": "Ann", "amount": Decimal("1.5"), "active": True},
        "b": {"id": "b", "active": False},
        "c": {"id": "c", "name": "Cy", "amount": Decimal(2)},
    }
    assert [(r["line"], r["reason"]) for r in _rejects(world, result)] == [
        ("5", "empty_key"),
        ("6", "bad_boolean"),
    ]


# --- retries -----------------------------------------------------------------------------------


def test_loader_retries_unprocessed_items_and_writes_each_row_once(world: Any) -> None:
    # GIVEN a table that leaves half of each batch unprocessed for the first 10 calls
    flaky = FlakyDynamoDB(world.direct, unprocessed_calls=10)

    # WHEN 200 rows are loaded
    result = _load(world, "incoming/unprocessed.csv", _rows(200), dynamodb=flaky)

    # THEN every row is written exactly once
    assert result.status == contract.STATUS_SUCCEEDED
    assert len(flaky.writes) == 200 and set(flaky.writes.values()) == {1}
    assert len(world.items()) == 200


def test_loader_retries_throttling_errors(world: Any) -> None:
    # GIVEN a table that throttles the first 6 calls
    flaky = FlakyDynamoDB(world.direct, throttled_calls=6)

    # WHEN 100 rows are loaded
    result = _load(world, "incoming/throttled.csv", _rows(100), dynamodb=flaky)

    # THEN every row is written exactly once
    assert (result.status, result.rows_loaded) == (contract.STATUS_SUCCEEDED, 100)
    assert len(flaky.writes) == 100 and set(flaky.writes.values()) == {1}


def test_loader_gives_up_after_max_retry_seconds(world: Any) -> None:
    # GIVEN a table that throttles every call and a short retry budget
    flaky = FlakyDynamoDB(world.direct, throttled_calls=10**9)

    # WHEN rows are loaded
    result = _load(world, "incoming/stuck.csv", _rows(60), dynamodb=flaky, max_retry_seconds=0.2)

    # THEN the run fails naming the give-up, and the ledger says FAILED
    assert result.status == contract.STATUS_FAILED
    assert result.error is not None and "gave up after retrying for 0.2 s" in result.error
    assert world.ledger(result.object_id)["status"] == contract.STATUS_FAILED


# --- pacing ------------------------------------------------------------------------------------


def _parts_manifest(world: Any, object_ids: list[str]) -> dict[str, str]:
    entries = [
        {"bucket": world.bucket, "key": f"incoming/{o}.csv", "object_id": o} for o in object_ids
    ]
    world.s3.put_object(Bucket=world.bucket, Key="manifests/p.json", Body=json.dumps(entries))
    return {"CSV_MANIFEST": f"s3://{world.bucket}/manifests/p.json"}


def test_source_from_env_counts_the_children_that_load_the_same_object(world: Any) -> None:
    # GIVEN a manifest of two objects, one of them listed three times (three parts)
    environ = _parts_manifest(world, ["big", "big", "small", "big"])

    # WHEN children 0 and 2 resolve their sources
    parts = [
        source_from_env({**environ, "AWS_BATCH_JOB_ARRAY_INDEX": str(i)}, world.s3).parts
        for i in (0, 2)
    ]

    # THEN the child of "big" shares it with two others; the child of "small" has it alone
    assert parts == [3, 1]


def test_source_from_env_shares_one_object_among_the_children_of_its_array_job() -> None:
    # GIVEN an array job of 4 children that names one object (no manifest)
    environ = {
        "CSV_BUCKET": "b",
        "CSV_KEY": "incoming/big.csv",
        "LEDGER_OBJECT_ID": "b/incoming/big.csv#e",
        "AWS_BATCH_JOB_ARRAY_SIZE": "4",
        "AWS_BATCH_JOB_ARRAY_INDEX": "2",
    }
    # WHEN / THEN each child is one of 4 parts; a plain job is the only one
    assert source_from_env(environ, None).parts == 4  # type: ignore[arg-type]
    del environ["AWS_BATCH_JOB_ARRAY_SIZE"], environ["AWS_BATCH_JOB_ARRAY_INDEX"]
    assert source_from_env(environ, None).parts == 1  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", None), ("8000", 8000.0), (" 1500.5 ", 1500.5)],
)
def test_settings_from_env_reads_max_write_rate(raw: str, expected: float | None) -> None:
    base = {"TARGET_TABLE_NAME": "t", "LEDGER_TABLE_NAME": "l", "KEY_COLUMNS": "id"}
    settings = LoaderSettings.from_env({**base, "MAX_WRITE_RATE": raw})
    assert settings.max_write_rate == expected
    source = CsvSource(bucket="b", key="k", object_id="o", parts=4)
    assert settings.write_rate_share(source) == (None if expected is None else expected / 4)


@pytest.mark.parametrize("raw", ["fast", "0", "-5", "inf"])
def test_settings_from_env_refuses_a_max_write_rate_that_is_not_a_positive_number(
    raw: str,
) -> None:
    base = {"TARGET_TABLE_NAME": "t", "LEDGER_TABLE_NAME": "l", "KEY_COLUMNS": "id"}
    with pytest.raises(ConfigurationError, match="MAX_WRITE_RATE must be a"):
        LoaderSettings.from_env({**base, "MAX_WRITE_RATE": raw})


def test_loader_holds_its_writes_to_its_share_of_max_write_rate(world: Any) -> None:
    # GIVEN 400 rows, and a ceiling of 1,000 items/s shared by 2 children of one object
    etag = world.put_csv("incoming/paced.csv", _rows(400))
    loader = Loader(
        s3=world.s3,
        dynamodb=world.direct,
        settings=_settings(world, max_write_rate=1000.0),
    )
    source = CsvSource(
        bucket=world.bucket, key="incoming/paced.csv", object_id="paced", etag=etag, parts=2
    )

    # WHEN this child loads them
    result = loader.load(source)

    # THEN it wrote at no more than 500 items/s: 400 rows took at least 0.7 s
    assert (result.status, result.rows_loaded) == ("SUCCEEDED", 400)
    assert result.duration_s >= 0.7


def test_loader_slows_down_when_dynamodb_hands_items_back_and_writes_every_row_once(
    world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a table that hands half of each batch back for a while (the real pacer, no ceiling)
    caplog.set_level(logging.INFO, logger="csv_loader")
    flaky = FlakyDynamoDB(world.direct, unprocessed_calls=6)
    etag = world.put_csv("incoming/busy.csv", _rows(150))
    loader = Loader(
        s3=world.s3,
        dynamodb=flaky,
        settings=_settings(world),
        retry_base_delay_seconds=0.001,
        retry_max_delay_seconds=0.01,
    )

    # WHEN it is loaded
    source = CsvSource(bucket=world.bucket, key="incoming/busy.csv", object_id="busy", etag=etag)
    result = loader.load(source)

    # THEN every row is written once
    assert (result.status, result.rows_loaded) == ("SUCCEEDED", 150)
    assert len(flaky.writes) == 150 and set(flaky.writes.values()) == {1}
    # AND the run paced itself: the summary counts the throttled calls and the decreases
    (summary,) = [
        json.loads(r.getMessage()) for r in caplog.records if '"summary"' in r.getMessage()
    ]
    assert summary["write_throttled"] == 6 and summary["write_rate_decreases"] >= 1
    assert summary["write_rate"] is not None


# --- items DynamoDB refuses -------------------------------------------------------------------


def _refusing(world: Any, *bad: str) -> RefusingDynamoDB:
    """The emulator's client, refusing every batch that holds a row named in ``bad``."""
    return RefusingDynamoDB(
        world.direct, key_attribute="id", refuse=lambda item: item["name"]["S"] in bad
    )


def test_batch_writer_splits_a_refused_batch_until_the_refused_item_stands_alone() -> None:
    # GIVEN one lane, and DynamoDB refusing the batch of three, then each half holding "bad"
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    refused: list[Refusal] = []
    with Stubber(client) as stub:
        for response in ("refuse", "ok", "refuse", "refuse", "ok"):
            if response == "refuse":
                stub.add_client_error(
                    "batch_write_item", "ValidationException", INDEX_TYPE_MISMATCH, 400
                )
            else:
                stub.add_response("batch_write_item", {"UnprocessedItems": {}})
        writer = BatchWriter(
            client,
            "Target",
            concurrency=1,
            max_retry_seconds=1,
            key_of=lambda item: item["id"]["S"],
            on_refused=refused.append,
        )

        # WHEN three items are written, the second one refused by DynamoDB
        for line, key in enumerate(("a", "bad", "c"), start=2):
            writer.put(key, {"id": {"S": key}}, line, [key])
        writer.close()

        # THEN the batch went [a, bad, c] -> [a] + [bad, c] -> [bad] + [c]: every call was used
        stub.assert_no_pending_responses()
    # AND only "bad" was refused, with its line, its row and DynamoDB's message
    assert refused == [Refusal("bad", 3, ["bad"], 1, INDEX_TYPE_MISMATCH)]
    assert (writer.written, writer.refused, writer.calls) == (2, 1, 5)


def test_loader_rejects_items_dynamodb_refuses_and_writes_every_other_row(world: Any) -> None:
    # GIVEN 200 rows, and DynamoDB refusing two of them by a rule the loader does not check
    flaky = _refusing(world, "name 7", "name 150")

    # WHEN they are loaded
    result = _load(world, "incoming/refused.csv", _rows(200), dynamodb=flaky)

    # THEN both are rejected with their line, row and DynamoDB's message, and every other row
    # is written exactly once
    rejects = _rejects(world, result)
    assert [(r["line"], r["reason"], r["raw"]) for r in rejects] in (
        [
            ("9", "refused_by_dynamodb", "r00007,name 7,7"),
            ("152", "refused_by_dynamodb", "r00150,name 150,150"),
        ],
        [
            ("152", "refused_by_dynamodb", "r00150,name 150,150"),
            ("9", "refused_by_dynamodb", "r00007,name 7,7"),
        ],
    )
    assert {r["detail"] for r in rejects} == {INDEX_TYPE_MISMATCH}
    assert sorted(world.items()) == sorted(f"r{i:05d}" for i in range(200) if i not in (7, 150))
    assert set(flaky.writes.values()) == {1} and len(flaky.writes) == 198
    # AND the counts and the ledger say so
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("SUCCEEDED", 198, 2)
    ledger = world.ledger(result.object_id)
    assert (ledger["rows_loaded"], ledger["rows_rejected"], ledger["rows_duplicate"]) == (198, 2, 0)


def test_loader_counts_refused_rows_against_the_reject_threshold(world: Any) -> None:
    # GIVEN 40 rows of which DynamoDB refuses 4 (10%), and a 5% threshold
    flaky = _refusing(world, *(f"name {i}" for i in (1, 2, 20, 39)))

    # WHEN they are loaded
    result = _load(
        world, "incoming/refused-many.csv", _rows(40), dynamodb=flaky, reject_threshold=0.05
    )

    # THEN the run fails on the threshold, and the other rows are written all the same
    assert result.status == contract.STATUS_FAILED
    assert result.error == "4 of 40 data rows rejected (10.00%), above REJECT_THRESHOLD 0.05"
    assert (result.rows_loaded, result.rows_rejected) == (36, 4)
    assert len(world.items()) == 36


def test_loader_keeps_the_earlier_row_when_dynamodb_refuses_a_later_duplicate(world: Any) -> None:
    # GIVEN key k1 written early (its own batch) and again much later by a row DynamoDB refuses
    rows = ["id,name,amount", "k1,first,1"] + [f"f{i},filler,{i}" for i in range(200)]
    rows += ["k1,refused,2"]
    flaky = _refusing(world, "refused")

    # WHEN it is loaded with one lane, so the two rows of k1 are in different batches
    result = _load(
        world,
        "incoming/refused-dup.csv",
        "\n".join(rows) + "\n",
        dynamodb=flaky,
        write_concurrency=1,
    )

    # THEN the earlier row stays, and the counts add up: 201 loaded, 1 rejected, no duplicate
    assert world.items()["k1"]["name"] == "first"
    assert (result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (201, 1, 0)


def test_loader_counts_a_refused_row_that_replaced_a_pending_duplicate(world: Any) -> None:
    # GIVEN key k1 twice in one batch, the later row refused by DynamoDB
    body = "id,name,amount\nk1,first,1\nk2,other,2\nk1,refused,3\n"
    flaky = _refusing(world, "refused")

    # WHEN it is loaded (the later row replaced the earlier one before the batch was sent)
    result = _load(
        world,
        "incoming/refused-pending.csv",
        body,
        dynamodb=flaky,
        write_concurrency=1,
        reject_threshold=0.5,
    )

    # THEN k1 is not in the table, and the counts say exactly that: k2 loaded, the refused row
    # rejected, the row it replaced a duplicate
    assert sorted(world.items()) == ["k2"]
    assert (result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (1, 1, 1)


# --- the real entry point --------------------------------------------------------------------


def test_loader_main_module_loads_an_object_as_a_process(world: Any) -> None:
    # GIVEN an object and the environment the job definition and the submission would give
    etag = world.put_csv("incoming/process.csv", _rows(30))
    # WHEN `python -m loader_main` runs in the job's directory
    done = world.run_loader_process(
        "incoming/process.csv", etag, "process-1", NUMERIC_COLUMNS="amount", CSV_VERSION_ID=""
    )

    # THEN it exits 0, logs a JSON summary, and the rows and ledger are there
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["event"], summary["rows_loaded"]) == ("summary", 30)
    assert len(world.items()) == 30
    assert world.ledger("process-1")["status"] == contract.STATUS_SUCCEEDED


# --- reading -------------------------------------------------------------------------------------


class BreakingS3:
    """The emulator's S3 client, but the first GetObject stream breaks after ``after`` bytes."""

    def __init__(self, real: Any, *, after: int) -> None:
        self.real = real
        self.after = after
        self.requests: list[dict[str, Any]] = []

    def get_object(self, **kwargs: Any) -> Any:
        self.requests.append(kwargs)
        response = self.real.get_object(**kwargs)
        if len(self.requests) == 1:
            body, after = response["Body"], self.after

            class Broken:
                def iter_chunks(self, size: int) -> Any:
                    yield body.read(after)
                    raise ResponseStreamingError(error="connection reset by peer")

            response["Body"] = Broken()
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_loader_resumes_a_broken_stream_where_it_stopped(world: Any) -> None:
    # GIVEN an object whose first read breaks in the middle of a row
    body = _rows(500)
    etag = world.put_csv("incoming/broken.csv", body)
    s3 = BreakingS3(world.s3, after=len(body) // 3 + 7)
    loader = Loader(s3=s3, dynamodb=world.dynamodb, settings=_settings(world))

    # WHEN it is loaded
    result = loader.load(
        CsvSource(bucket=world.bucket, key="incoming/broken.csv", object_id="b", etag=etag)
    )

    # THEN reading resumed from the byte reached, on the same object, and every row is exact
    assert s3.requests[1]["Range"] == f"bytes={len(body) // 3 + 7}-"
    assert s3.requests[1]["IfMatch"] == etag
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("SUCCEEDED", 500, 0)
    assert world.items()["r00250"]["name"] == "name 250"


def test_loader_reads_the_submitted_version(world: Any) -> None:
    # GIVEN a versioned bucket where the object was overwritten after its event
    world.s3.put_bucket_versioning(
        Bucket=world.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    first = world.s3.put_object(Bucket=world.bucket, Key="incoming/v.csv", Body=_rows(2))
    world.put_csv("incoming/v.csv", _rows(3, start=100))
    loader = Loader(s3=world.s3, dynamodb=world.dynamodb, settings=_settings(world))

    # WHEN the first version is loaded
    result = loader.load(
        CsvSource(
            bucket=world.bucket,
            key="incoming/v.csv",
            object_id="v1",
            version_id=first["VersionId"],
            etag=first["ETag"],
        )
    )

    # THEN the rows are those of the first version
    assert result.status == contract.STATUS_SUCCEEDED
    assert sorted(world.items()) == ["r00000", "r00001"]


def test_loader_fails_on_a_file_that_is_not_utf8(world: Any) -> None:
    # GIVEN a Latin-1 file
    # WHEN it is loaded
    result = _load(world, "incoming/latin1.csv", "id,name\n1,café\n".encode("latin-1"))

    # THEN the run fails naming the encoding
    assert result.status == contract.STATUS_FAILED
    assert result.error is not None and result.error.startswith("the object is not valid UTF-8")


@pytest.mark.parametrize(
    "key",
    [
        "incoming/" + "a" * 1015,  # the longest ASCII key: 1,024 bytes
        "incoming/" + "é" * 507 + "x",  # 1,024 bytes of two-byte characters, then one
        "incoming/" + "日本" * 168 + "abcde",  # three-byte characters across the cut
    ],
    ids=["ascii", "two-byte", "three-byte"],
)
def test_rejects_key_stays_within_s3s_limit_for_the_longest_keys(key: str) -> None:
    # GIVEN a valid input key of up to 1,024 bytes
    assert len(key.encode()) <= 1024

    # WHEN its rejects key is made
    rejects = rejects_object_key("rejected/", key)

    # THEN it fits, is valid UTF-8 (cut between characters), starts like the key, and is
    # the same on every run
    assert len(rejects.encode()) <= 1024
    assert rejects.startswith("rejected/incoming/") and rejects.endswith(".errors.csv")
    assert rejects == rejects_object_key("rejected/", key)


def test_rejects_key_of_two_long_keys_differ_even_when_their_starts_agree() -> None:
    first, second = "incoming/" + "a" * 1010 + "1", "incoming/" + "a" * 1010 + "2"
    assert rejects_object_key("rejected/", first) != rejects_object_key("rejected/", second)


def test_rejects_key_is_the_plain_name_while_it_fits() -> None:
    assert rejects_object_key("rejected/", "incoming/a.csv") == "rejected/incoming/a.csv.errors.csv"


def test_loader_writes_the_rejects_of_a_1024_byte_key_where_the_ledger_says(world: Any) -> None:
    # GIVEN an object whose key is 1,024 bytes long, with one bad row
    key = "incoming/" + "k" * 1011 + ".csv"
    result = _load(world, key, "id,name,amount\na,x,1\nb,y,zz\n", reject_threshold=0.5)

    # THEN the rejects object is under a key S3 can hold, named in the ledger
    assert result.rejects_key is not None and len(result.rejects_key.encode()) <= 1024
    assert world.ledger(result.object_id)["rejects_key"] == result.rejects_key
    assert [r["reason"] for r in _rejects(world, result)] == ["bad_number"]


def test_loader_says_a_utf16_file_is_utf16(world: Any) -> None:
    # GIVEN a file saved as UTF-16 (as some spreadsheet exports are)
    # WHEN it is loaded
    result = _load(world, "incoming/utf16.csv", "id,name\na,b\n".encode("utf-16"))

    # THEN the run fails saying what the file is and what to do
    assert result.status == contract.STATUS_FAILED
    assert result.error == (
        "the object is UTF-16 (it starts with a UTF-16 byte order mark), not UTF-8: "
        "save or export it as UTF-8"
    )


def test_loader_fails_on_an_empty_object(world: Any) -> None:
    # GIVEN an empty object
    # WHEN it is loaded
    result = _load(world, "incoming/empty.csv", b"")

    # THEN the run fails: there is no header
    assert (result.status, result.error) == ("FAILED", "the object is empty: no header row")


def test_loader_logs_progress_and_a_summary_as_json(
    world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a load slowed by a deferred write, and a short progress interval
    caplog.set_level(logging.INFO, logger="csv_loader")
    flaky = FlakyDynamoDB(world.direct, defer_ids=frozenset({"r00001"}), defer_seconds=0.3)

    # WHEN it is loaded
    _load(world, "incoming/progress.csv", _rows(50), dynamodb=flaky, progress_interval_seconds=0.1)

    # THEN progress lines carry rows and rows/s, and the last line is the summary
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "csv_loader"]
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and {"rows", "rows_per_s", "rows_written"} <= set(progress[0])
    assert events[-1]["event"] == "summary" and events[-1]["rows_loaded"] == 50


def test_main_exits_0_once_a_failed_load_is_recorded(world: Any) -> None:
    # GIVEN an object whose every row is bad, named by the job's environment
    world.put_csv("incoming/bad.csv", "id,name,amount\n,empty,1\n")
    environment = {
        **world.aws.env,
        contract.ENV_TARGET_TABLE_NAME: world.target_table,
        contract.ENV_LEDGER_TABLE_NAME: world.ledger_table,
        contract.ENV_KEY_COLUMNS: "id",
        contract.ENV_CSV_BUCKET: world.bucket,
        contract.ENV_CSV_KEY: "incoming/bad.csv",
        contract.ENV_LEDGER_OBJECT_ID: "id-bad",
    }

    # WHEN main runs the load
    code = main(environment)

    # THEN the ledger records the failure and the job succeeds, so that its completion
    # job (which AWS Batch runs only after a job that succeeded) reports it
    assert world.ledger("id-bad")["status"] == contract.STATUS_FAILED
    assert code == contract.EXIT_SUCCEEDED


def test_main_exits_2_when_the_environment_is_incomplete() -> None:
    # GIVEN no loader variables at all
    # WHEN main runs
    code = main({"AWS_DEFAULT_REGION": "us-east-1"})

    # THEN it exits with the configuration error code
    assert code == contract.EXIT_CONFIGURATION_ERROR


def test_batch_writer_sends_binary_values_through_botocore(world: Any) -> None:
    # GIVEN an item json cannot encode (a binary attribute)
    writer = BatchWriter(
        world.dynamodb,
        world.target_table,
        concurrency=2,
        max_retry_seconds=1,
        key_of=lambda item: item["id"]["S"],
        on_refused=lambda refusal: None,
    )

    # WHEN it is written
    writer.put("b1", {"id": {"S": "b1"}, "blob": {"B": b"\x00\x01"}}, 1, ["b1"])
    writer.close()

    # THEN botocore serialized it as usual
    assert world.items()["b1"]["blob"].value == b"\x00\x01"
