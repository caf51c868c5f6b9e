"""Fixtures for the end-to-end tests: the synthesized stack's wiring and its pipeline in moto."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack
from local_aws import LocalAws
from pipeline_local import LocalPipeline, StackWiring, create_pipeline, synth_wiring

from constructs_batch.pipeline import CsvToDynamoDbPipeline

#: The column types and missing-value spelling of the files ``formats_pipeline`` loads.
NUMERIC_COLUMNS = ("amount",)
BOOLEAN_COLUMNS = ("active",)
NULL_VALUES = ("NA",)


def _formats_stack(app: Any, stack_id: str) -> Stack:
    """A standalone pipeline configured for R exports: NA, a numeric and a logical column."""
    stack = Stack(app, stack_id)
    CsvToDynamoDbPipeline(
        stack,
        "Pipeline",
        numeric_columns=NUMERIC_COLUMNS,
        boolean_columns=BOOLEAN_COLUMNS,
        null_values=NULL_VALUES,
    )
    return stack


@pytest.fixture(scope="session")
def wiring() -> StackWiring:
    """The standalone CsvPipelineStack, synthesized once under cdk.json's context."""
    return synth_wiring()


@pytest.fixture
def pipeline(aws: LocalAws, wiring: StackWiring) -> LocalPipeline:
    """The stack's pipeline resources in a freshly reset emulator."""
    return create_pipeline(aws, wiring)


@pytest.fixture(scope="session")
def formats_wiring() -> StackWiring:
    """A pipeline with numeric_columns, boolean_columns and null_values, synthesized once."""
    return synth_wiring(_formats_stack)


@pytest.fixture
def formats_pipeline(aws: LocalAws, formats_wiring: StackWiring) -> LocalPipeline:
    """That pipeline's resources in a freshly reset emulator."""
    return create_pipeline(aws, formats_wiring)
