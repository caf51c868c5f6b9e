"""CsvToDynamoDbPipeline for large loads: a pacing ceiling for the loader, a pre-warmed table."""

from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk.assertions import Match, Template
from constructs_batch.runtime.csv_loader import loader_contract as loader
from helpers import job_environment, make_app

from constructs_batch.pipeline import CsvToDynamoDbPipeline


class LargeLoads:
    """One stack with a pipeline tuned for large loads."""

    def __init__(self) -> None:
        self.stack = Stack(make_app(), "LargeLoads")
        self.pipeline = CsvToDynamoDbPipeline(
            self.stack, "Pipeline", max_write_rate=12_000, expected_write_rate=20_000
        )
        self.template = Template.from_stack(self.stack)


@pytest.fixture(scope="module")
def built() -> LargeLoads:
    return LargeLoads()


def _loader_environment(template: Template) -> dict[str, str]:
    return job_environment(template, loader.LOADER_MODULE)


def test_pipeline_gives_the_loader_its_write_rate_ceiling(built: LargeLoads) -> None:
    # GIVEN max_write_rate=12,000 THEN the loader's job definition carries it
    assert _loader_environment(built.template)[loader.ENV_MAX_WRITE_RATE] == "12000"


def test_pipeline_prewarms_the_table_it_creates_to_the_expected_write_rate(
    built: LargeLoads,
) -> None:
    # GIVEN expected_write_rate=20,000 THEN the target table is pre-warmed to it, not the ledger
    built.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "WarmThroughput": {"WriteUnitsPerSecond": 20_000},
        },
    )
    built.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "object_id", "KeyType": "HASH"}],
            "WarmThroughput": Match.absent(),
        },
    )


def test_pipeline_refuses_a_warm_throughput_for_a_table_it_does_not_create() -> None:
    # GIVEN a user's table
    stack = Stack(make_app(), "Byo")
    table = dynamodb.Table.from_table_name(stack, "Table", "existing")

    # WHEN expected_write_rate is given too THEN it fails saying where warm throughput belongs
    with pytest.raises(
        ValueError,
        match=r"expected_write_rate sets the warm throughput of the table the pipeline "
        r"creates; with table= set warm_throughput on that table instead",
    ):
        CsvToDynamoDbPipeline(stack, "Pipeline", table=table, expected_write_rate=8000)
