"""The submitter's clients: none built at init, each built once when first used."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import lazy_clients
from lazy_clients import ClientFactory, LazyClient
from submit_testing import (
    LambdaTestContext,
    Pipeline,
    failed_ids,
    s3_body,
    s3_record,
    sqs_event,
)

from constructs_batch.local import LocalAws


def test_handler_init_imports_no_aws_sdk() -> None:
    # GIVEN a fresh interpreter with the construct's environment
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "JOB_QUEUE_ARN": "arn:aws:batch:us-east-1:123456789012:job-queue/q",
        "JOB_DEFINITION_ARN": "arn:aws:batch:us-east-1:123456789012:job-definition/d:1",
        "LEDGER_TABLE_NAME": "ledger",
    }
    code = "import sys, handler; print(sorted({'boto3', 'botocore.session'} & set(sys.modules)))"

    # WHEN the handler module is imported (Lambda's init)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(lazy_clients.__file__).parent,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )

    # THEN neither boto3 nor a botocore session was loaded
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_handler_builds_only_the_clients_an_event_needs(
    handler_module: ModuleType, pipeline: Pipeline
) -> None:
    # GIVEN a fresh execution environment: no client built yet
    clients: ClientFactory = handler_module._CLIENTS
    assert clients.services == ()

    # WHEN a one-object batch is processed (no manifest to write)
    event = sqs_event(("m1", s3_body(s3_record("incoming/a.csv"))))
    response = handler_module.handler(event, LambdaTestContext())

    # THEN the ledger and Batch clients were built, not the S3 one
    assert failed_ids(response) == []
    assert clients.services == ("dynamodb", "batch")


def test_handler_keeps_its_clients_across_events(
    handler_module: ModuleType, pipeline: Pipeline
) -> None:
    # GIVEN the clients an earlier event built
    handler_module.handler(
        sqs_event(("m1", s3_body(s3_record("incoming/a.csv")))), LambdaTestContext()
    )
    batch = handler_module.SUBMITTER.batch.meta

    # WHEN a batch of two objects (an array job with a manifest) is processed
    event = sqs_event(
        ("m2", s3_body(s3_record("incoming/b.csv"))), ("m3", s3_body(s3_record("incoming/c.csv")))
    )
    response = handler_module.handler(event, LambdaTestContext())

    # THEN the same Batch client served it, and the S3 client was built for the manifest
    assert failed_ids(response) == []
    assert handler_module.SUBMITTER.batch.meta is batch
    assert handler_module._CLIENTS.services == ("dynamodb", "batch", "s3")


def test_client_factory_builds_one_client_under_concurrent_first_use(aws: LocalAws) -> None:
    # GIVEN a factory and 16 threads that want the same client at once
    factory = ClientFactory({"max_pool_connections": 16})
    client = LazyClient(factory, "dynamodb")

    # WHEN each of them reads an attribute of the client
    with ThreadPoolExecutor(max_workers=16) as pool:
        metas = list(pool.map(lambda _: client.meta, range(64)))

    # THEN one client was built and every thread got it
    assert factory.services == ("dynamodb",)
    assert all(meta is metas[0] for meta in metas)
    assert metas[0].config.max_pool_connections == 16
