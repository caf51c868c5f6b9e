"""Submitter Lambda benchmarks: its cold start, and its SubmitJob calls for a burst.

    python bench/submit_bench.py        # prints JSON and the import breakdown; bench/run.py
                                        # imports ``run()``

1. Import breakdown: ``python -X importtime -c "import handler"`` in ``IMPORT_RUNS`` fresh
   interpreters (bytecode compiled, the Lambda's environment as the construct sets it);
   the self time of every module the import loads, summed per top-level package (a
   standard library module counts to the package that imported it, the submitter's own
   modules form one group, the handler's module body, i.e. its init work outside
   imports, another), median of the runs.
   ``-X importtime`` adds its own overhead: the groups tell where the time goes, the
   plain ``submitter_import_ms`` (bench/run.py) tells how long it takes.
2. First event: a fresh interpreter imports the handler, then calls it on a one-object
   SQS event against the emulator (moto's server on 127.0.0.1, started and stopped here,
   holding the pipeline's ledger, job queue and job definitions from its synthesized
   template): a ledger claim, the load job's and the completion job's SubmitJob, the
   SUBMITTED update. ``submitter_first_event_ms`` (median of ``IMPORT_RUNS``) is what is
   left of the cold start after init: whatever init does not do, the first event does.
   ``submitter_second_event_ms`` is the same call once more in the same interpreter (the
   emulator's own time per event, for scale).
3. SubmitJob calls for a burst: ``BURST_OBJECTS`` ObjectCreated notifications, one per
   SQS message, delivered to the real handler (``LocalPipeline.invoke_submitter``: a fresh
   init each time) in SQS events of the event source mapping's ``BatchSize`` (read from
   the synthesized template), as Lambda's pollers deliver a burst that is in the queue
   before the batching window ends: full batches. The messages are built here, not
   received from the emulator's SQS, whose ReceiveMessage scans the whole queue (minutes
   for 10,000 messages). The calls are counted on the emulator's side: the jobs on the
   job queue, load jobs and completion jobs apart (no delivery may report a failure, so
   every call made is a job listed). The reserved concurrency (several invocations at
   once) does not change the count: no two batches share an object.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack
from constructs_batch.runtime.submit_job import submit_contract as contract

from constructs_batch.local import (
    LocalAws,
    LocalPipeline,
    StackWiring,
    StoredObject,
    create_pipeline,
)
from constructs_batch.pipeline import CsvToDynamoDbPipeline

ROOT = Path(__file__).resolve().parent.parent
SUBMITTER_DIR = ROOT / "lambda" / "submit_job"
#: Fresh interpreters per cold start figure; the median is reported.
IMPORT_RUNS = 7
#: Objects in the burst of the SubmitJob count.
BURST_OBJECTS = 10_000
#: The child of the first-event figure: imports the handler, then times its calls on the
#: two one-object SQS events given as arguments.
_FIRST_EVENT_CODE = """
import json, sys, time, types
import handler
context = types.SimpleNamespace(
    function_name="bench", function_version="$LATEST", memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench",
    aws_request_id="bench-request",
)
figures = {}
for name, event in (("first_event_ms", sys.argv[1]), ("second_event_ms", sys.argv[2])):
    begin = time.perf_counter()
    response = handler.handler(json.loads(event), context)
    figures[name] = (time.perf_counter() - begin) * 1000
    assert response == {"batchItemFailures": []}, response
print("FIGURES " + json.dumps(figures))
"""


def submitter_environment() -> dict[str, str]:
    """This process's environment plus what the construct sets that init reads, with
    placeholder credentials and Region (nothing is called at import)."""
    arn = "arn:aws:batch:us-east-1:123456789012"
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        contract.ENV_JOB_QUEUE_ARN: f"{arn}:job-queue/bench",
        contract.ENV_JOB_DEFINITION_ARN: f"{arn}:job-definition/bench:1",
        contract.ENV_LEDGER_TABLE_NAME: "bench-ledger",
        contract.ENV_METRICS_NAMESPACE: "constructs_batch/CsvPipeline",
        contract.ENV_METRICS_PIPELINE: "bench-ledger",
    }
    # Bytecode as in Lambda's runtime (boto3 ships compiled): a warm-up run writes it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_in_submitter_dir(
    args: list[str],
    env: Mapping[str, str],
    *,
    stderr: bool = False,
    directory: Path = SUBMITTER_DIR,
) -> str:
    """Run ``python <args>`` in a fresh interpreter with the handler's directory as the
    import root (as ``/var/task`` is in Lambda); return its stdout (or stderr).

    Args:
        args: The interpreter's arguments.
        env: Its environment.
        stderr: Return stderr instead of stdout. Default: stdout.
        directory: The handler's directory. Default: lambda/submit_job (another copy of it
            for an A/B run).
    """
    out = subprocess.run(
        [sys.executable, *args],
        cwd=directory,
        env=dict(env),
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stderr if stderr else out.stdout


# --- 1. import breakdown ---------------------------------------------------------------------

_STDLIB = "standard library (imported by the submitter's modules)"
_BODY = "handler module body (init outside imports)"
_OWN = "submitter's own modules"


def _group(module: str, parent: str | None, own: frozenset[str]) -> str:
    """A module's group: its top-level package; a standard library module counts to the
    package that imported it (``ssl`` under urllib3 is urllib3's cost)."""
    top = module.split(".")[0]
    if module == "handler":
        return _BODY
    if top in own:
        return _OWN
    if top in sys.stdlib_module_names or top.startswith("_"):
        return parent if parent not in (None, _BODY, _OWN, _STDLIB) else _STDLIB
    return top


def _handler_import_self_us(importtime: str, own: frozenset[str]) -> dict[str, int]:
    """Self time per group of the modules ``import handler`` loaded (one -X importtime log).

    The log lists each module after those it imported, indented two spaces a level, so
    read backwards it lists each module before its imports.
    """
    lines = [
        line.removeprefix("import time:").split("|")
        for line in importtime.splitlines()
        if line.startswith("import time:") and "self [us]" not in line
    ]
    entries = [(int(self_us), name.rstrip()) for self_us, _cumulative, name in lines]
    end = next(i for i, (_, name) in enumerate(entries) if name == " handler")
    groups: dict[str, int] = {}
    ancestors: list[str] = []  # the group of each level above
    for self_us, name in reversed(entries[: end + 1]):
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth == 0 and ancestors:
            break  # the top-level import before handler's (interpreter start-up)
        del ancestors[depth:]
        group = _group(name.strip(), ancestors[-1] if ancestors else None, own)
        ancestors.append(group)
        groups[group] = groups.get(group, 0) + self_us
    return groups


def import_breakdown(runs: int = IMPORT_RUNS, directory: Path = SUBMITTER_DIR) -> dict[str, float]:
    """Median self time in ms per group of ``import handler``, largest first, plus
    ``total`` (the median of the runs' sums).

    Args:
        runs: Fresh interpreters (after one that writes the bytecode). Default: 7.
        directory: The handler's directory. Default: lambda/submit_job.
    """
    own = frozenset(path.stem for path in directory.glob("*.py")) - {"handler"}
    env = submitter_environment()
    samples: list[dict[str, int]] = []
    for _ in range(runs + 1):
        log = run_in_submitter_dir(
            ["-X", "importtime", "-c", "import handler"], env, stderr=True, directory=directory
        )
        samples.append(_handler_import_self_us(log, own))
    samples = samples[1:]
    names = {name for sample in samples for name in sample}
    medians = {n: statistics.median(s.get(n, 0) for s in samples) / 1000 for n in names}
    ordered = dict(sorted(medians.items(), key=lambda item: -item[1]))
    total = statistics.median(sum(sample.values()) for sample in samples) / 1000
    return {**{k: round(v, 1) for k, v in ordered.items()}, "total": round(total, 1)}


def breakdown_table(breakdown: Mapping[str, float]) -> str:
    """The breakdown as a Markdown table (for docs/BENCHMARKS.md)."""
    rows = [f"| {name} | {ms:.1f} |" for name, ms in breakdown.items()]
    return "\n".join(["| group | self ms (median) |", "| --- | --- |", *rows])


# --- the pipeline in the emulator ------------------------------------------------------------


def cdk_context() -> dict[str, Any]:
    """cdk.json's context: the feature flags and settings ``cdk synth`` uses."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def pipeline_wiring() -> StackWiring:
    """The pipeline construct with its defaults, synthesized under cdk.json's context."""
    stack = Stack(App(context=cdk_context()), "SubmitBench")
    CsvToDynamoDbPipeline(stack, "Pipeline")
    return StackWiring.from_stack(stack)


def fresh_pipeline(aws: LocalAws, wiring: StackWiring) -> LocalPipeline:
    """The pipeline's resources in the emulator, after forgetting everything before."""
    aws.reset()
    return create_pipeline(aws, wiring)


def _sqs_event(pipeline: LocalPipeline, indices: Iterable[int]) -> dict[str, Any]:
    """The SQS event Lambda passes for one message per object ``i`` in ``indices``, each
    the ObjectCreated:Put notification S3 sends to the pipeline's queue."""
    messages = []
    for i in indices:
        stored = StoredObject(
            bucket=pipeline.bucket,
            key=f"incoming/burst/part-{i:05d}.csv",
            version_id="",
            etag=f"{i:032x}",
            size=1024,
        )
        body = json.dumps(pipeline.s3_event(stored))
        messages.append(
            {
                "MessageId": f"message-{i}",
                "ReceiptHandle": f"handle-{i}",
                "Body": body,
                "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
        )
    return pipeline.lambda_event(messages)


# --- 2. first event --------------------------------------------------------------------------


def first_event(
    pipeline: LocalPipeline, runs: int = IMPORT_RUNS, directory: Path = SUBMITTER_DIR
) -> dict[str, float]:
    """Median first-event and second-event times of a fresh handler (ms).

    Args:
        pipeline: The pipeline in the emulator.
        runs: Fresh interpreters (after one that writes the bytecode). Default: 7.
        directory: The handler's directory. Default: lambda/submit_job.
    """
    env = {**submitter_environment(), **pipeline.aws.env, **pipeline.submitter_environment}
    samples: list[dict[str, float]] = []
    for run in range(runs + 1):  # the first run writes the bytecode
        events = [json.dumps(_sqs_event(pipeline, [2 * run + n])) for n in range(2)]
        out = run_in_submitter_dir(["-c", _FIRST_EVENT_CODE, *events], env, directory=directory)
        line = next(x for x in reversed(out.splitlines()) if x.startswith("FIGURES "))
        samples.append(json.loads(line.removeprefix("FIGURES ")))
    return {
        f"submitter_{name}": round(statistics.median(s[name] for s in samples[1:]), 1)
        for name in ("first_event_ms", "second_event_ms")
    }


# --- 3. SubmitJob calls for a burst ----------------------------------------------------------


def submit_calls(pipeline: LocalPipeline, objects: int = BURST_OBJECTS) -> dict[str, float]:
    """SubmitJob calls (load jobs, and all) per 10,000 objects for a burst of ``objects``
    notifications delivered in batches of the event source mapping's size."""
    batch_size = int(pipeline.wiring.event_source_mapping["BatchSize"])
    invocations = 0
    started = time.perf_counter()
    for start in range(0, objects, batch_size):
        event = _sqs_event(pipeline, range(start, min(objects, start + batch_size)))
        delivery = pipeline.invoke_submitter(event)
        if delivery.failed_message_ids:
            raise RuntimeError(f"the submitter failed messages: {delivery.failed_message_ids}")
        invocations += 1
    elapsed = time.perf_counter() - started
    load = len(pipeline.load_jobs())
    total = load + len(pipeline.completion_jobs())
    per_10k = 10_000 / objects
    return {
        "submit_calls_per_10k_objects": round(total * per_10k, 1),
        "submit_load_calls_per_10k_objects": round(load * per_10k, 1),
        "submit_invocations_per_10k_objects": round(invocations * per_10k, 1),
        "submit_burst_seconds": round(elapsed, 1),
    }


def run() -> dict[str, float]:
    """Every submitter figure (the import breakdown is printed, not returned)."""
    print(breakdown_table(import_breakdown()), file=sys.stderr)
    wiring = pipeline_wiring()
    with LocalAws() as aws:  # moto's server on 127.0.0.1, stopped on exit
        results = first_event(fresh_pipeline(aws, wiring))
        results.update(submit_calls(fresh_pipeline(aws, wiring)))
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, sort_keys=True))
