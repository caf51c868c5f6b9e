"""Fixtures for the CSV loader: its modules on sys.path (as in the image), tables and a bucket."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from constructs_batch.local import LocalAws

# In the image the loader's modules are top-level (WORKDIR /app); mirror that here.
LOADER_DIR = Path(__file__).resolve().parents[2] / "jobs" / "csv_loader"
if str(LOADER_DIR) not in sys.path:
    sys.path.insert(0, str(LOADER_DIR))

BUCKET = "incoming-bucket"
TARGET_TABLE = "Target"
LEDGER_TABLE = "Ledger"


@dataclass
class LoaderWorld:
    """The emulator with a bucket, a target table keyed on ``id`` and a ledger table."""

    aws: LocalAws
    s3: Any
    dynamodb: Any
    bucket: str = BUCKET
    target_table: str = TARGET_TABLE
    ledger_table: str = LEDGER_TABLE

    @property
    def direct(self) -> Any:
        """The emulator's DynamoDB client with BatchWriteItem on the loader's short request path
        (``loader_http.DirectBatchWrites``), as the job runs it."""
        from loader_http import DirectBatchWrites

        return DirectBatchWrites.for_client(
            self.dynamodb,
            boto3.session.Session().get_credentials(),
            TARGET_TABLE,
            connect_timeout=10,
            read_timeout=60,
        )

    def put_csv(self, key: str, body: bytes | str) -> str:
        """Upload a CSV object; returns its ETag."""
        data = body.encode() if isinstance(body, str) else body
        return str(self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)["ETag"])

    def items(self, table: str = TARGET_TABLE) -> dict[str, dict[str, Any]]:
        """Every item of a table (boto3 resource types: str and Decimal), by ``id``."""
        rows = self.aws.resource("dynamodb").Table(table).scan()["Items"]
        return {str(row["id"]): row for row in rows}

    def ledger(self, object_id: str) -> dict[str, Any]:
        """The ledger item of an object."""
        table = self.aws.resource("dynamodb").Table(LEDGER_TABLE)
        item: dict[str, Any] = table.get_item(Key={"object_id": object_id}, ConsistentRead=True)[
            "Item"
        ]
        return item

    def run_loader_process(
        self, key: str, etag: str, object_id: str, **variables: str
    ) -> subprocess.CompletedProcess[str]:
        """``python -m loader_main`` in the job's directory, as the job runs it, on one
        uploaded object (this world's tables, key column ``id``, and ``variables``)."""
        env = {
            **os.environ,
            **self.aws.env,
            "TARGET_TABLE_NAME": self.target_table,
            "LEDGER_TABLE_NAME": self.ledger_table,
            "KEY_COLUMNS": "id",
            "CSV_BUCKET": self.bucket,
            "CSV_KEY": key,
            "CSV_ETAG": etag,
            "LEDGER_OBJECT_ID": object_id,
            **variables,
        }
        return subprocess.run(
            [sys.executable, "-m", "loader_main"],
            cwd=LOADER_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def text(self, key: str) -> str:
        """An object's body as text."""
        return str(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())


@pytest.fixture
def world(aws: LocalAws) -> LoaderWorld:
    """A clean emulator with the loader's bucket and tables."""
    s3 = aws.client("s3")
    dynamodb = aws.client("dynamodb")
    s3.create_bucket(Bucket=BUCKET)
    for name, key in ((TARGET_TABLE, "id"), (LEDGER_TABLE, "object_id")):
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return LoaderWorld(aws=aws, s3=s3, dynamodb=dynamodb)
