"""Shared fixtures: every test app runs under the feature flags and context of cdk.json."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_cdk import App
from helpers import make_app

from constructs_batch.local import LocalAws


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
