"""Shared fixtures: every test app runs under the feature flags and context of cdk.json."""

from __future__ import annotations

import pytest
from aws_cdk import App
from helpers import make_app


@pytest.fixture
def app() -> App:
    """A fresh App under cdk.json's context."""
    return make_app()
