"""A small user app, as a team would write it against the installed wheel.

Run from a folder of its own (outside the repository): a platform stack with a
BatchPlatform, a consumer stack that imports the platform's Fargate queue by ARN with
its published capacity and runs the CSV pipeline on it, cdk-nag's AwsSolutions pack on.
Prints one JSON line describing what it built (for the test that runs it), and where
``constructs_batch.local`` finds the runtime code it runs (no emulator started).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aws_cdk import App, Stack, Validations
from cdk_nag import AwsSolutionsChecks

import constructs_batch
import constructs_batch.local as local
from constructs_batch import BatchPlatform, BatchQueue, CsvToDynamoDbPipeline, QueueCapacity


def main(outdir: str) -> None:
    app = App(outdir=outdir)
    shared = Stack(app, "SharedBatch")
    platform = BatchPlatform(shared, "Platform")
    published = platform.fargate_queue.capacity.to_json()

    consumer = Stack(app, "CsvLoads")
    queue = BatchQueue.from_job_queue_arn(
        consumer,
        "SharedFargate",
        "arn:aws:batch:eu-west-1:111122223333:job-queue/shared-fargate",
        capacity=QueueCapacity.from_json(published),
    )
    pipeline = CsvToDynamoDbPipeline(consumer, "Pipeline", queue=queue, key_columns=["id"])

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()
    print(
        json.dumps(
            {
                "package": str(Path(constructs_batch.__file__).resolve()),
                "templates": sorted(
                    p.name for p in Path(assembly.directory).glob("*.template.json")
                ),
                "assets": sorted(
                    str(p.relative_to(assembly.directory))
                    for p in Path(assembly.directory).glob("asset.*/*")
                    if p.name in ("handler.py", "Dockerfile")
                ),
                "loader_fargate": pipeline.loader.fargate,
                "local": _local_runtime(),
            }
        )
    )


def _local_runtime() -> dict[str, object]:
    loader = local.runtime_dir("constructs_batch.runtime.csv_loader")
    submitter = local.runtime_dir("constructs_batch.runtime.submit_job")
    image = local.image_runtime(loader / "Dockerfile")
    return {
        "module": local.__file__,
        "loader_dir": str(loader),
        "handler": (submitter / "handler.py").is_file(),
        "argv": [*image.entrypoint, *image.cmd],
    }


if __name__ == "__main__":
    main(sys.argv[1])
