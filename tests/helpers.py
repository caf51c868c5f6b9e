"""Test helpers shared by every test module (importable as ``helpers``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App

ROOT = Path(__file__).resolve().parent.parent
#: cdk.json's context: the feature flags and reference-app settings `cdk synth` uses.
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]


def make_app(**context: Any) -> App:
    """An App under cdk.json's context (feature flags included), plus overrides."""
    return App(context={**CDK_CONTEXT, **context})
