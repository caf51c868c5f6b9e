"""CSV loader benchmark: throughput against boto3's batch_writer, memory vs file size, and
loaders sharing a table with a write limit.

    python bench/loader_bench.py        # prints JSON; bench/run.py imports ``run()``

Every loader run is the real job process (``python -m loader_main``: botocore, SigV4
signing, its short BatchWriteItem path, retries, pacing, default WRITE_CONCURRENCY) with
the environment its job definition and the submitter give it, its own ledger object id,
against one local endpoint (bench/loader_endpoint.py, its own process) that serves the
CSV from its S3 side and counts the items it receives. A run counts only if the loader
exits 0 with a SUCCEEDED summary and the endpoint received every row.

1. Throughput (``loader_speedup``): ``PAIRED_RUNS`` pairs, each a loader run on a
   200,000-row CSV and a run of the usual sample (``csv.DictReader`` + boto3
   ``Table.batch_writer()``) on a 50,000-row CSV, back to back, the order alternating
   (loader first, then baseline first...), the endpoint answering every DynamoDB request
   after 10 ms (a simulated round trip). Each pair gives a ratio of rates (the loader's
   from its summary: rows / run duration, ledger updates included; the baseline's timed
   around its loop); ``loader_speedup`` is the median of the ratios, with their min and
   max. Pairing keeps each ratio's two runs under the same machine load, which moves
   from one minute to the next on a shared machine. The baseline reads fewer rows because
   its rate does not depend on the file's length (one 25-item call in flight at a time,
   each waiting on its round trip): 50,000 rows take half a minute instead of two.
2. Memory: peak RSS (``ru_maxrss`` of the loader process, from ``os.wait4`` in a bare
   launcher process, see ``_LAUNCHER``) loading a 20,000-row and a 2,000,000-row file,
   endpoint delay 0 ms, after the pairs.
3. A shared table (``table_utilization``): ``TABLE_CHILDREN`` loader processes at once,
   each loading its own object of ``TABLE_ROWS`` rows (ids of their own), into one table
   the endpoint limits to ``TABLE_WRITE_LIMIT`` items/s (a token bucket holding
   ``TABLE_BURST_SECONDS`` of it, full at the start; see bench/loader_endpoint.py), 10 ms
   round trip. Twice: with the limit answered as DynamoDB does for a batch that does not
   fit (the puts that fit accepted, the rest in UnprocessedItems, the throttling error
   only when none fits), then all or nothing (``_errors`` keys: the throttling error for
   any batch that does not fit whole). Utilization is the items the table accepted over
   the most it could have accepted (its rate for the time, plus one full bucket), over the
   whole load (first call to last accepted put) and while all children write; a child's
   share is its part of what was accepted while all wrote (0.25 each when fair). The
   endpoint counts every id it accepts: ids of the files never accepted are
   ``split_rows_lost``, acceptances beyond the first ``split_rows_duplicated`` (a loader
   may rewrite an item after an ambiguous failure such as a read timeout, which this
   endpoint never causes), both summed over the two runs.

4. Splitting (``split_speedup``): the 2,000,000-row file planned as the plan job plans
   it into ``SPLIT_PARTS`` parts and into 1, each plan loaded by as many children at once
   (``CSV_PARTS_MANIFEST``, ``AWS_BATCH_JOB_ARRAY_INDEX``), 10 ms round trip: the one-part
   wall time over the split one; every row must reach the endpoint in both.

Figures, not a test: ``run()`` returns them; nothing asserts targets (>= 10x, <= 1.2, >= 0.9).
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
LOADER_DIR = ROOT / "jobs" / "csv_loader"
ENDPOINT_SCRIPT = Path(__file__).resolve().parent / "loader_endpoint.py"

THROUGHPUT_ROWS = 200_000
#: Rows of the ``batch_writer()`` runs: its rate does not depend on the file's length (one
#: call in flight, each waiting on its round trip), and 50,000 rows take half a minute.
BASELINE_ROWS = 50_000
SMALL_ROWS = 20_000
LARGE_ROWS = 2_000_000
ROUND_TRIP_MS = 10.0
#: Loader / baseline pairs; the median of their ratios is ``loader_speedup``.
PAIRED_RUNS = 3
#: Parts of the 2,000,000-row file loaded at once (one per core), over the file as one
#: part; the median of ``SPLIT_RUNS`` pairs is ``split_speedup``.
SPLIT_PARTS = 2
SPLIT_RUNS = 1
#: Loader processes writing to one limited table at once, each its own object.
TABLE_CHILDREN = 4
TABLE_ROWS = 100_000
#: The table's write limit in items/s (one write unit per item: each is under 1 KB).
TABLE_WRITE_LIMIT = 8_000.0
#: Seconds of the limit the table can burst (its bucket's size).
TABLE_BURST_SECONDS = 2.0
BUCKET = "bench"
TARGET_TABLE = "BenchTarget"
REGION = "us-east-1"
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
_HEADER = "id,name,city,amount,qty,note\n"


def _write_csv(path: Path, rows: int, *, prefix: str = "id") -> None:
    """A CSV of ``rows`` unique ids (``<prefix>-<9 digits>``), about 70 bytes a row."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(_HEADER)
        step = 10_000
        for start in range(0, rows, step):
            out.write(
                "".join(
                    f"{prefix}-{i:09d},name {i},city {i % 97},{i % 10_000}.{i % 100:02d},"
                    f"{i % 13},note for row {i}\n"
                    for i in range(start, min(start + step, rows))
                )
            )


def _expected_keys(prefix: str, rows: int) -> set[str]:
    """The ids ``_write_csv`` gives a file of ``rows`` rows."""
    return {f"{prefix}-{i:09d}" for i in range(rows)}


class _Endpoint:
    """The benchmark endpoint process (bench/loader_endpoint.py); exits with this process."""

    def __init__(self, data_dir: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(ENDPOINT_SCRIPT), "--data-dir", data_dir, "--delay-ms", "0"],
            stdin=subprocess.PIPE,  # the endpoint exits when this pipe closes
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        port = int(self._process.stdout.readline())
        self.url = f"http://127.0.0.1:{port}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")

    def reset(
        self, *, delay_ms: float, write_limit: float | None = None, partial_batches: bool = True
    ) -> None:
        """Configure the endpoint (no write limit, no key accounting unless limited), then
        zero its counters (and fill its bucket)."""
        config = {
            "delay_ms": delay_ms,
            "write_limit": write_limit,
            "burst_s": TABLE_BURST_SECONDS,
            "partial_batches": partial_batches,
        }
        self._call("POST", "/_config", config)
        self._call("POST", "/_reset", {})

    def items(self) -> int:
        return int(self._call("GET", "/_stats")["items"])

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._call("GET", "/_stats")
        return stats

    def keys(self) -> dict[str, int]:
        """Each id the endpoint accepted and how many times (key accounting on)."""
        keys: dict[str, int] = self._call("GET", "/_keys")
        return keys

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


@contextmanager
def _endpoint(data_dir: str) -> Iterator[_Endpoint]:
    endpoint = _Endpoint(data_dir)
    try:
        yield endpoint
    finally:
        endpoint.stop()


def _loader_env(endpoint: _Endpoint, file_name: str) -> dict[str, str]:
    """The environment of one ``python -m loader_main`` (what the job definition sets, and
    the submitter's per-object variables), with its own ledger object id."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in {"PYTHONPATH"}
    }
    env.update(
        _CREDENTIALS,
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint.url,
        AWS_EC2_METADATA_DISABLED="true",
        TARGET_TABLE_NAME=TARGET_TABLE,
        LEDGER_TABLE_NAME="BenchLedger",
        KEY_COLUMNS="id",
        NUMERIC_COLUMNS="amount,qty",
        CSV_BUCKET=BUCKET,
        CSV_KEY=f"incoming/{file_name}",
        CSV_VERSION_ID="",
        CSV_ETAG="",
        LEDGER_OBJECT_ID=f"bench-{file_name}",
    )
    return env


# Runs ``python -m loader_main`` and prints its rusage as the last line. A child's
# ``ru_maxrss`` counts the memory of the process it was forked from (Linux keeps the old
# address space's peak at exec), so a loader forked from this process (well over 100 MiB
# once bench/run.py has imported the library) would report this process's size. The
# launcher is a bare interpreter (about 10 MiB): below any loader's own peak.
_LAUNCHER = """
import json, os, sys
pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "loader_main"], os.environ)
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"event": "bench_rusage", "maxrss_kib": usage.ru_maxrss}), flush=True)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


class _LoaderProcess:
    """One running ``python -m loader_main`` (through ``_LAUNCHER``); its output goes to a
    file (never a full pipe)."""

    def __init__(
        self,
        endpoint: _Endpoint,
        file_name: str,
        output_dir: str,
        *,
        extra_env: dict[str, str] | None = None,
        log_name: str | None = None,
    ) -> None:
        self.file_name = file_name
        self._output = Path(output_dir) / f"{log_name or file_name}.log"
        with self._output.open("w") as output:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER],
                cwd=LOADER_DIR,
                env={**_loader_env(endpoint, file_name), **(extra_env or {})},
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def wait(self) -> tuple[dict[str, Any], float]:
        """Its summary line (a succeeded load) and peak RSS (MiB)."""
        try:
            self._process.wait()
        except BaseException:
            self._process.kill()
            raise
        output = self._output.read_text()
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        summaries = [line for line in lines if line.get("event") == "summary"]
        usage = [line for line in lines if line.get("event") == "bench_rusage"]
        if (
            self._process.returncode != 0
            or not summaries
            or not usage
            or summaries[-1].get("status") != "SUCCEEDED"
        ):
            raise RuntimeError(
                f"loader of {self.file_name} failed ({self._process.returncode}):\n{output[-2000:]}"
            )
        return summaries[-1], usage[-1]["maxrss_kib"] / 1024  # Linux: KiB


def _run_loader(
    endpoint: _Endpoint, file_name: str, output_dir: str
) -> tuple[dict[str, Any], float]:
    """Run ``python -m loader_main`` on one file; its summary line and peak RSS (MiB)."""
    return _LoaderProcess(endpoint, file_name, output_dir).wait()


def _batch_writer_rows_per_s(endpoint: _Endpoint, file_name: str) -> tuple[float, int]:
    """The usual sample: DictReader over the object, ``Table.batch_writer()``, put_item per row."""
    session = boto3.session.Session(
        aws_access_key_id=_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    s3 = session.client("s3", endpoint_url=endpoint.url)
    table = session.resource("dynamodb", endpoint_url=endpoint.url).Table(TARGET_TABLE)
    start = time.perf_counter()
    body = s3.get_object(Bucket=BUCKET, Key=f"incoming/{file_name}")["Body"]
    rows = 0
    with table.batch_writer() as batch:
        for row in csv.DictReader(codecs.iterdecode(body.iter_lines(), "utf-8")):
            row["amount"] = Decimal(row["amount"])
            row["qty"] = Decimal(row["qty"])
            batch.put_item(Item=row)
            rows += 1
    return rows / (time.perf_counter() - start), rows


def _check(endpoint: _Endpoint, expected: int, what: str) -> None:
    received = endpoint.items()
    if received != expected:
        raise RuntimeError(f"{what}: the endpoint received {received} items, expected {expected}")


def _throughput(endpoint: _Endpoint, output_dir: str) -> dict[str, float]:
    """``PAIRED_RUNS`` pairs of a loader run and a ``batch_writer()`` run, back to back (the
    order alternating), each pair's ratio of rates; the median of the ratios and its spread."""
    loader_rates: list[float] = []
    baseline_rates: list[float] = []
    for run in range(PAIRED_RUNS):
        for which in ("loader", "baseline") if run % 2 == 0 else ("baseline", "loader"):
            endpoint.reset(delay_ms=ROUND_TRIP_MS)
            if which == "loader":
                summary, _ = _run_loader(endpoint, "throughput.csv", output_dir)
                _check(endpoint, THROUGHPUT_ROWS, "loader")
                loader_rates.append(summary["rows_loaded"] / summary["duration_s"])
            else:
                rate, rows = _batch_writer_rows_per_s(endpoint, "baseline.csv")
                _check(endpoint, BASELINE_ROWS, "batch_writer")
                if rows != BASELINE_ROWS:
                    raise RuntimeError(f"batch_writer read {rows} rows")
                baseline_rates.append(rate)
    ratios = [ours / theirs for ours, theirs in zip(loader_rates, baseline_rates, strict=True)]
    return {
        "loader_rows_per_s": round(statistics.median(loader_rates), 1),
        "loader_rows_per_s_min": round(min(loader_rates), 1),
        "loader_rows_per_s_max": round(max(loader_rates), 1),
        "batch_writer_rows_per_s": round(statistics.median(baseline_rates), 1),
        "batch_writer_rows_per_s_min": round(min(baseline_rates), 1),
        "batch_writer_rows_per_s_max": round(max(baseline_rates), 1),
        "loader_speedup": round(statistics.median(ratios), 2),
        "loader_speedup_min": round(min(ratios), 2),
        "loader_speedup_max": round(max(ratios), 2),
    }


def _memory(endpoint: _Endpoint, output_dir: str) -> dict[str, float]:
    """Peak RSS of the small and the large load (endpoint delay 0 ms)."""
    runs: dict[str, tuple[dict[str, Any], float]] = {}
    for name, rows in (("small", SMALL_ROWS), ("large", LARGE_ROWS)):
        endpoint.reset(delay_ms=0)
        runs[name] = _run_loader(endpoint, f"{name}.csv", output_dir)
        _check(endpoint, rows, f"loader ({name})")
    (_, small_rss), (large, large_rss) = runs["small"], runs["large"]
    return {
        "loader_peak_rss_mib_small": round(small_rss, 1),
        "loader_peak_rss_mib_large": round(large_rss, 1),
        "loader_memory_ratio": round(large_rss / small_rss, 3),
        "loader_large_rows_per_s": round(large["rows_loaded"] / large["duration_s"], 1),
    }


# The figures of the all-or-nothing run that are reported (with an ``_errors`` suffix).
_ERRORS_KEYS = frozenset(
    {
        "table_utilization",
        "table_utilization_all_active",
        "table_child_share_min",
        "table_child_share_max",
        "table_throttled_calls",
        "table_unprocessed_items",
    }
)


def _table_file(child: int) -> str:
    return f"table{child}.csv"


def _table_prefix(child: int) -> str:
    return f"t{child}"


def _table_utilization(
    endpoint: _Endpoint, output_dir: str, *, partial_batches: bool = True
) -> dict[str, float]:
    """``TABLE_CHILDREN`` loaders at once, each on its own object, against a table limited
    to ``TABLE_WRITE_LIMIT`` items/s: the share of the table's capacity they used, each
    child's share, and every row accounted for (lost: never accepted; duplicated: accepted
    more than once).

    Args:
        endpoint: the benchmark endpoint.
        output_dir: where the children's output goes.
        partial_batches: accept the puts of a batch that fit and hand back the rest (as
            DynamoDB does); False answers a batch that does not fit whole with the
            throttling error. Default: True.
    """
    endpoint.reset(
        delay_ms=ROUND_TRIP_MS, write_limit=TABLE_WRITE_LIMIT, partial_batches=partial_batches
    )
    children = [
        _LoaderProcess(endpoint, _table_file(child), output_dir) for child in range(TABLE_CHILDREN)
    ]
    summaries = [child.wait()[0] for child in children]
    stats = endpoint.stats()
    accepted = endpoint.keys()
    expected: set[str] = set()
    for child in range(TABLE_CHILDREN):
        expected |= _expected_keys(_table_prefix(child), TABLE_ROWS)
    lost = len(expected.difference(accepted))
    unexpected = len(set(accepted).difference(expected))
    if unexpected:
        raise RuntimeError(f"the endpoint accepted {unexpected} ids that no file holds")
    total = sum(accepted.values())

    # Each share is of the most the table could accept in the time: its rate for that long,
    # plus a full bucket (the burst), so that no figure can pass 1.
    # The whole load: from the first call to the last accepted put.
    span = stats["last_accept_s"] - stats["first_call_s"]
    capacity = TABLE_WRITE_LIMIT * (span + TABLE_BURST_SECONDS)
    # While every child writes: from the latest first put to the earliest last put, whole
    # bins only.
    groups = [stats["groups"][_table_prefix(child)] for child in range(TABLE_CHILDREN)]
    bin_s = stats["bin_s"]
    first_bin = int(max(group["first_accept_s"] for group in groups) / bin_s) + 1
    last_bin = int(min(group["last_accept_s"] for group in groups) / bin_s)
    window = slice(first_bin, last_bin)
    window_s = max(last_bin - first_bin, 1) * bin_s
    in_window = [sum(group["accepted_per_bin"][window]) for group in groups]
    shares = [count / max(sum(in_window), 1) for count in in_window]
    child_rates = [summary["rows_loaded"] / summary["duration_s"] for summary in summaries]
    return {
        "table_write_limit": TABLE_WRITE_LIMIT,
        "table_utilization": round(total / capacity, 3),
        "table_utilization_all_active": round(
            sum(in_window) / (TABLE_WRITE_LIMIT * (window_s + TABLE_BURST_SECONDS)), 3
        ),
        "table_load_seconds": round(span, 1),
        "table_all_active_seconds": round(window_s, 1),
        "table_child_share_min": round(min(shares), 3),
        "table_child_share_max": round(max(shares), 3),
        "table_child_rows_per_s_min": round(min(child_rates), 1),
        "table_child_rows_per_s_max": round(max(child_rates), 1),
        "table_throttled_calls": float(stats["throttled_calls"]),
        "table_unprocessed_items": float(stats["unprocessed"]),
        "table_write_calls": float(stats["calls"]),
        "split_items_accepted": float(total),
        "split_items_distinct": float(len(accepted)),
        "split_rows_lost": float(lost),
        "split_rows_duplicated": float(total - len(accepted)),
    }


def _write_plan(data_dir: str, file_name: str, parts: int) -> tuple[str, int]:
    """Plan ``file_name`` into ``parts`` parts as the plan job does; the plan's S3 URI
    (the endpoint serves it by its base name) and how many parts it found."""
    sys.path.insert(0, str(LOADER_DIR))
    try:
        from loader_plan import plan_document, plan_parts
        from loader_settings import CsvSource
    finally:
        sys.path.remove(str(LOADER_DIR))
    path = Path(data_dir) / file_name
    size = path.stat().st_size
    with path.open("rb") as data:
        plan = plan_parts(iter(lambda: data.read(1 << 20), b""), size=size, parts=parts)
    source = CsvSource(bucket=BUCKET, key=f"incoming/{file_name}", object_id=f"split-{parts}")
    name = f"plan-{parts}.json"
    document = plan_document(source, size=size, plan=plan)
    (Path(data_dir) / name).write_text(json.dumps(document))
    return f"s3://{BUCKET}/manifests/parts/{name}", len(plan.parts)


def _split_seconds(endpoint: _Endpoint, output_dir: str, plan_uri: str, parts: int) -> float:
    """Wall time of ``parts`` children loading their parts of ``large.csv`` at once, as the
    array job's children do (``CSV_PARTS_MANIFEST``, ``AWS_BATCH_JOB_ARRAY_INDEX``)."""
    endpoint.reset(delay_ms=ROUND_TRIP_MS)
    start = time.perf_counter()
    children = [
        _LoaderProcess(
            endpoint,
            "large.csv",
            output_dir,
            extra_env={"CSV_PARTS_MANIFEST": plan_uri, "AWS_BATCH_JOB_ARRAY_INDEX": str(index)},
            log_name=f"split-{parts}-{index}",
        )
        for index in range(parts)
    ]
    for child in children:
        child.wait()
    elapsed = time.perf_counter() - start
    _check(endpoint, LARGE_ROWS, f"{parts} part(s)")
    return elapsed


def _split_speedup(endpoint: _Endpoint, data_dir: str, output_dir: str) -> dict[str, float]:
    """``large.csv`` (2,000,000 rows) in ``SPLIT_PARTS`` parts loaded by as many children
    at once, over the same file as one part, 10 ms round trip: the wall-time ratio, the
    order alternating over ``SPLIT_RUNS`` pairs, the median of the ratios."""
    split_uri, found = _write_plan(data_dir, "large.csv", SPLIT_PARTS)
    whole_uri, _ = _write_plan(data_dir, "large.csv", 1)
    if found != SPLIT_PARTS:
        raise RuntimeError(f"the plan found {found} parts, not {SPLIT_PARTS}")
    ratios: list[float] = []
    for run in range(SPLIT_RUNS):
        order = ((1, whole_uri), (found, split_uri))
        timed = {
            parts: _split_seconds(endpoint, output_dir, uri, parts)
            for parts, uri in (order if run % 2 == 0 else order[::-1])
        }
        ratios.append(timed[1] / timed[found])
    return {
        "split_speedup": round(statistics.median(ratios), 2),
        "split_speedup_min": round(min(ratios), 2),
        "split_speedup_max": round(max(ratios), 2),
    }


def run() -> dict[str, float]:
    """Run every measurement; flat figures (rows/s, MiB, ratios)."""
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="loader-bench-") as data_dir:
        files = {
            "throughput.csv": (THROUGHPUT_ROWS, "id"),
            "baseline.csv": (BASELINE_ROWS, "id"),
            "small.csv": (SMALL_ROWS, "id"),
            "large.csv": (LARGE_ROWS, "id"),
        }
        for child in range(TABLE_CHILDREN):
            files[_table_file(child)] = (TABLE_ROWS, _table_prefix(child))
        for name, (rows, prefix) in files.items():
            _write_csv(Path(data_dir) / name, rows, prefix=prefix)
        output_dir = str(Path(data_dir) / "logs")
        os.mkdir(output_dir)
        with _endpoint(data_dir) as endpoint:
            results.update(_throughput(endpoint, output_dir))
            results.update(_memory(endpoint, output_dir))
            results.update(_split_speedup(endpoint, data_dir, output_dir))
            partial = _table_utilization(endpoint, output_dir)
            whole = _table_utilization(endpoint, output_dir, partial_batches=False)
    results.update(partial)
    results.update({f"{key}_errors": value for key, value in whole.items() if key in _ERRORS_KEYS})
    for key in ("split_rows_lost", "split_rows_duplicated"):
        results[key] = partial[key] + whole[key]
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
