"""The loader's CloudWatch metrics: EMF lines as CloudWatch specifies them, with the run's counts."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import loader_contract as contract
import pytest
from botocore.exceptions import ClientError
from helpers import emf_document, emf_values
from loader_main import Loader, LoadResult
from loader_metrics import LoaderMetrics, emf_line
from loader_pacing import WritePacer
from loader_settings import CsvSource, LoaderSettings

NAMESPACE = "constructs_batch/CsvPipeline"
PIPELINE = "ledger-table"
COUNTS = ("RowsRead", "RowsLoaded", "RowsRejected", "ThrottledCalls")


def test_emf_line_is_one_json_document_in_cloudwatchs_shape() -> None:
    # GIVEN two metrics and a dimension
    # WHEN they are rendered
    line = emf_line(
        namespace=NAMESPACE,
        dimensions={"Pipeline": PIPELINE},
        metrics=[("RowsLoaded", "Count", 25), ("RowsPerSecond", "Count/Second", 12.5)],
        timestamp_ms=int(time.time() * 1000),
    )

    # THEN it is one line of EMF: the directive, the dimension value and the values at top level
    document = emf_document(line)
    assert document["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": NAMESPACE,
            "Dimensions": [["Pipeline"]],
            "Metrics": [
                {"Name": "RowsLoaded", "Unit": "Count"},
                {"Name": "RowsPerSecond", "Unit": "Count/Second"},
            ],
        }
    ]
    assert (document["Pipeline"], document["RowsLoaded"], document["RowsPerSecond"]) == (
        PIPELINE,
        25,
        12.5,
    )


def test_loader_metrics_from_env_is_disabled_without_a_namespace() -> None:
    # GIVEN an environment without METRICS_NAMESPACE
    lines: list[str] = []

    # WHEN metrics are read from it and a run finishes
    metrics = LoaderMetrics.from_env({contract.ENV_METRICS_PIPELINE: PIPELINE}, lines.append)
    run = metrics.watch(_Totals(), _Totals(), _Totals())
    run.finish(_Totals())

    # THEN nothing is published
    assert not metrics.enabled and lines == []


def test_loader_metrics_from_env_reads_namespace_and_pipeline() -> None:
    env = {contract.ENV_METRICS_NAMESPACE: NAMESPACE, contract.ENV_METRICS_PIPELINE: PIPELINE}
    metrics = LoaderMetrics.from_env(env, print)
    assert (metrics.namespace, metrics.dimensions) == (NAMESPACE, {"Pipeline": PIPELINE})


class _Totals:
    """Stands for the reader, writer, rejects file and outcome: every counter in one place."""

    def __init__(self) -> None:
        self.rows = self.written = self.throttled = self.count = 0
        self.rows_loaded = self.rows_rejected = self.rows_duplicate = 0


def test_run_metrics_publish_the_change_since_the_previous_line_every_interval() -> None:
    # GIVEN a run publishing every 10 ms and counters that move between lines
    lines: list[str] = []
    published = threading.Event()

    def emit(line: str) -> None:
        lines.append(line)
        published.set()

    totals = _Totals()
    metrics = LoaderMetrics(
        namespace=NAMESPACE, pipeline=PIPELINE, emit=emit, interval_seconds=0.01
    )
    run = metrics.watch(totals, totals, totals)
    totals.rows, totals.written, totals.count, totals.throttled = 100, 90, 5, 2
    assert published.wait(5)
    run.stop()
    periodic = len(lines)

    # WHEN the run ends with the ledger's figures (3 rows superseded by a duplicate)
    totals.rows = 120
    totals.rows_loaded, totals.rows_rejected, totals.rows_duplicate = 87, 30, 3
    run.finish(totals)

    # THEN the periodic lines and the last one add up to the run's totals, PartsDone once
    documents = [emf_values(line) for line in lines]
    assert len(documents) == periodic + 1
    sums = {name: sum(d[name] for d in documents) for name in COUNTS}
    assert sums == {"RowsRead": 120, "RowsLoaded": 87, "RowsRejected": 30, "ThrottledCalls": 2}
    assert [d.get("PartsDone") for d in documents] == [None] * periodic + [1]
    assert documents[-1]["RowsDuplicate"] == 3
    assert documents[0]["RowsPerSecond"] > 0


# --- in the loader -------------------------------------------------------------------------------


class _ThrottlingDynamoDB:
    """The emulator's client, but the first ``throttled_calls`` BatchWriteItem calls are throttled."""

    def __init__(self, real: Any, throttled_calls: int) -> None:
        self.real = real
        self.throttled_calls = throttled_calls
        self._lock = threading.Lock()

    def batch_write_item(self, **kwargs: Any) -> Any:
        with self._lock:
            self.throttled_calls -= 1
            throttle = self.throttled_calls >= 0
        if throttle:
            raise ClientError(
                {
                    "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "BatchWriteItem",
            )
        return self.real.batch_write_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _load_with_metrics(world: Any, body: str, dynamodb: Any) -> tuple[LoadResult, list[str]]:
    lines: list[str] = []
    etag = world.put_csv("incoming/metrics.csv", body)
    loader = Loader(
        s3=world.s3,
        dynamodb=dynamodb,
        settings=LoaderSettings(
            target_table=world.target_table,
            ledger_table=world.ledger_table,
            key_columns=("id",),
            numeric_columns=frozenset({"amount"}),
            write_concurrency=2,
        ),
        retry_base_delay_seconds=0.001,
        retry_max_delay_seconds=0.01,
        pacer=lambda rate: WritePacer(max_rate=rate, min_rate=1e9, increase_per_second=1e9),
        metrics=LoaderMetrics(namespace=NAMESPACE, pipeline=PIPELINE, emit=lines.append),
    )
    source = CsvSource(bucket=world.bucket, key="incoming/metrics.csv", object_id="m", etag=etag)
    return loader.load(source), lines


def test_loader_publishes_the_runs_counts_when_it_ends(world: Any) -> None:
    # GIVEN 60 rows: one malformed number, one key repeated, and a table throttling 3 calls
    rows = [f"r{i:03d},{i}" for i in range(58)] + ["bad,not-a-number", "r000,99"]
    body = "id,amount\n" + "\n".join(rows) + "\n"
    dynamodb = _ThrottlingDynamoDB(world.direct, throttled_calls=3)

    # WHEN it is loaded (shorter than an interval: one line, the last)
    result, lines = _load_with_metrics(world, body, dynamodb)

    # THEN the line has the ledger's counts, the throttled calls and PartsDone 1
    (line,) = lines
    document = emf_document(line)
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    assert document["Pipeline"] == PIPELINE
    values = emf_values(line)
    assert (result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (58, 1, 1)
    assert {k: values[k] for k in (*COUNTS, "RowsDuplicate", "PartsDone")} == {
        "RowsRead": 60,
        "RowsLoaded": 58,
        "RowsRejected": 1,
        "ThrottledCalls": 3,
        "RowsDuplicate": 1,
        "PartsDone": 1,
    }
    assert values["RowsPerSecond"] > 0


def test_loader_main_module_prints_the_metrics_line_before_its_summary(world: Any) -> None:
    # GIVEN the job definition's metrics variables and a submitted object
    etag = world.put_csv("incoming/emf.csv", "id,amount\na,1\nb,2\n")
    # WHEN `python -m loader_main` runs
    done = world.run_loader_process(
        "incoming/emf.csv",
        etag,
        "emf-1",
        **{contract.ENV_METRICS_NAMESPACE: NAMESPACE, contract.ENV_METRICS_PIPELINE: PIPELINE},
    )

    # THEN stdout has one EMF line (its own log event) and the summary stays last
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    (emf,) = [line for line in lines if '"_aws"' in line]
    assert emf_values(emf)["RowsLoaded"] == 2
    assert json.loads(lines[-1])["event"] == "summary"


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_loader_metrics_refuse_an_interval_that_is_not_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="interval_seconds must be positive"):
        LoaderMetrics(namespace=NAMESPACE, pipeline=PIPELINE, emit=print, interval_seconds=interval)
