"""Fixtures for the end-to-end tests: the synthesized stack's wiring and its pipeline in moto."""

from __future__ import annotations

import pytest
from local_aws import LocalAws
from pipeline_local import LocalPipeline, StackWiring, create_pipeline, synth_wiring


@pytest.fixture(scope="session")
def wiring() -> StackWiring:
    """The standalone CsvPipelineStack, synthesized once under cdk.json's context."""
    return synth_wiring()


@pytest.fixture
def pipeline(aws: LocalAws, wiring: StackWiring) -> LocalPipeline:
    """The stack's pipeline resources in a freshly reset emulator."""
    return create_pipeline(aws, wiring)
