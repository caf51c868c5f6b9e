"""`make demo` (``python -m scripts.demo``): one CSV through the reference pipeline, end to end.

Synthesizes the real CsvPipelineStack (standalone, under cdk.json's context), creates
its bucket, queues, tables and Batch job definition in an embedded AWS emulator (moto's
server on 127.0.0.1), uploads a sample CSV with three bad rows, delivers the S3 event
through SQS to the real submitter handler, runs the job it submitted as a local
``python -m loader_main`` process with the job's environment (``constructs_batch.local``)
and then the completion job that depends on it, and reads back the table, the rejects
file, the ledger and the ``CsvLoadCompleted`` event a subscribed queue received. The last
line is the outcome; the exit code is 0 only when the ledger says SUCCEEDED, the table
and rejects file hold exactly the sample's good and bad rows, and the event says so too.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from aws_cdk import App

from constructs_batch.local import (
    LocalAws,
    PipelineOutcome,
    SampleCsv,
    StackWiring,
    create_pipeline,
    run_pipeline,
    runtime_dir,
    sample_csv,
)
from stacks.pipeline_stack import CsvPipelineStack

# Keep the source tree free of bytecode caches (the handler and loader are imported from it).
sys.dont_write_bytecode = True

ROOT = Path(__file__).resolve().parent.parent
#: The sample object; the space reaches the handler URL-encoded, as S3 sends it.
SAMPLE_KEY = "incoming/customers 2025-01.csv"


def _step(text: str) -> None:
    print(f"- {text}", flush=True)


def main() -> int:
    """Run the demo; returns the process exit code."""
    # moto's server logs every request; only errors matter here.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    start = time.monotonic()
    wiring = StackWiring.from_stack(CsvPipelineStack(App(context=_cdk_context()), "CsvPipeline"))
    _step(
        f"synthesized CsvPipeline in {time.monotonic() - start:.1f} s: submitter "
        f"{wiring.submitter_id} ({len(wiring.submitter_environment)} env vars), loader job "
        f"definition {wiring.job_definition_id} "
        f"({len(wiring.loader_container.get('Environment', []))} env vars)"
    )
    sample = sample_csv()
    with LocalAws() as aws:
        _step(f"emulator on {aws.endpoint_url}")
        pipeline = create_pipeline(aws, wiring)
        _step(
            f"created bucket {pipeline.bucket}, tables {', '.join(pipeline.tables.values())}, "
            f"queue {pipeline.queue_arn.rsplit(':', 1)[-1]} with its DLQ, job queue, "
            "loader and completion job definitions (template intrinsics resolved)"
        )
        _step(
            f"uploading s3://{pipeline.bucket}/{SAMPLE_KEY}: "
            f"{len(sample.good) + len(sample.bad)} rows, {len(sample.bad)} of them bad"
        )
        subscriber = pipeline.subscribe_to_load_events()
        outcome = run_pipeline(pipeline, SAMPLE_KEY, sample.body)
        delivery = outcome.delivery
        _step(
            f"S3 event -> SQS -> handler.handler: {len(delivery.message_ids)} message, "
            f"{len(delivery.failed_message_ids)} failed; submitted job {outcome.job['jobName']}"
        )
        loader_dir = runtime_dir("constructs_batch.runtime.csv_loader")
        for loader_run in outcome.loader_runs:
            argv = pipeline.loader_command(loader_run.run)
            command = " ".join([Path(argv[0]).name, *argv[1:]])
            per_object = sorted(
                n for n in loader_run.run.environment if n.startswith(("CSV_", "LEDGER_OBJECT"))
            )
            _step(
                f"ran `{command}` in {_shown(loader_dir)} with the job "
                f"definition's environment + {', '.join(per_object)}: exit "
                f"{loader_run.exit_code} in {loader_run.seconds:.1f} s"
            )
        ledger = outcome.ledger
        _step(
            f"table {pipeline.target_table}: {len(outcome.items)} items; "
            f"{ledger.get('rejects_key')}: "
            + ", ".join(f"line {r['line']} {r['reason']}" for r in outcome.rejects)
        )
        for completion in outcome.completion_runs:
            argv = pipeline.loader_command(completion.run)
            _step(
                f"ran `{' '.join([Path(argv[0]).name, *argv[1:]])}` (dependsOn the load job): "
                f"exit {completion.exit_code} in {completion.seconds:.1f} s"
            )
        events = pipeline.received_events(subscriber)
        for event in events:
            detail = event["detail"]
            _step(
                f"event {event['source']} {event['detail-type']} on the default bus: "
                f"{detail['key']} {detail['status']}, {detail['rows_loaded']} loaded, "
                f"{detail['rows_rejected']} rejected, {detail['rows_duplicate']} duplicate"
            )
    problems = _problems(outcome, sample) + _event_problems(events, outcome)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    status = str(ledger.get("status"))
    print(
        f"loaded {int(ledger.get('rows_loaded', -1))} rows, "
        f"rejected {int(ledger.get('rows_rejected', -1))}, ledger status {status}"
    )
    return 0 if status == "SUCCEEDED" and not problems else 1


def _cdk_context() -> dict[str, Any]:
    """cdk.json's context: the feature flags and reference-app settings `cdk synth` uses."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def _shown(path: Path) -> str:
    """A path relative to the checkout when it is in it (the runtime code's own folder)."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _event_problems(events: list[dict[str, Any]], outcome: PipelineOutcome) -> list[str]:
    """What differs from the one CsvLoadCompleted event the load should have sent."""
    if [e["detail-type"] for e in events] != ["CsvLoadCompleted"]:
        return [f"expected one CsvLoadCompleted event, got {[e['detail-type'] for e in events]}"]
    detail = events[0]["detail"]
    ledger = outcome.ledger
    if (detail["rows_loaded"], detail["rows_rejected"]) != (
        int(ledger.get("rows_loaded", -1)),
        int(ledger.get("rows_rejected", -1)),
    ):
        return [f"the event's counts differ from the ledger's: {detail}"]
    return []


def _problems(outcome: PipelineOutcome, sample: SampleCsv) -> list[str]:
    """What differs from a correct load of the sample."""
    problems: list[str] = []
    problems += [
        f"loader exit {run.exit_code}: {run.stderr.strip()[-500:]}"
        for run in outcome.loader_runs
        if run.exit_code != 0
    ]
    items = {str(item["id"]): item for item in outcome.items}
    if items != sample.good:
        problems.append(f"the table holds {len(items)} items, not the {len(sample.good)} good rows")
    rejects = [(int(r["line"]), r["reason"]) for r in outcome.rejects]
    if rejects != sample.bad:
        problems.append(f"the rejects file lists {rejects}, expected {sample.bad}")
    if int(outcome.ledger.get("rows_loaded", -1)) != len(items):
        problems.append(f"the ledger says {outcome.ledger.get('rows_loaded')} rows loaded")
    return problems


if __name__ == "__main__":
    sys.exit(main())
