"""Shared fixtures: every test app runs under the feature flags and context of cdk.json."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_cdk import App
from helpers import make_app

from constructs_batch.local import LocalAws

#: The slowest test modules (a wheel build and install, emulated pipelines, every profile
#: synthesized), started first: ``make test`` runs one module per worker (``--dist
#: loadfile``), and a long module taken last would leave the other worker idle.
SLOWEST_FIRST = (
    "tests/project/test_wheel.py",
    "tests/e2e/test_pipeline_e2e.py",
    "tests/stacks/test_reference_app.py",
    "tests/e2e/test_split_e2e.py",
    "tests/jobs/test_csv_loader.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the slowest modules first, keeping every other module's order."""
    rank = {path: index for index, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture
def app() -> App:
    """A fresh App under cdk.json's context."""
    return make_app()


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    """One emulator for the whole session; tests that need a clean slate call ``reset()``."""
    with LocalAws() as aws:
        yield aws


@pytest.fixture
def aws(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """The session emulator, reset, with this process's boto3 pointed at it."""
    local_aws.reset()
    for name, value in local_aws.env.items():
        monkeypatch.setenv(name, value)
    return local_aws
