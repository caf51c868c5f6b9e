"""Fixtures for the submitter Lambda: its modules on sys.path, emulated Batch/DynamoDB/S3.

In Lambda the asset directory is the import root (``import submitter``), so the tests
import the modules the same way; the test helpers live next to this file.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

from constructs_batch.local import LocalAws

SUBMIT_JOB_DIR = Path(__file__).resolve().parents[2] / "lambda" / "submit_job"
for _path in (SUBMIT_JOB_DIR, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from submit_testing import Pipeline, create_pipeline  # noqa: E402


@pytest.fixture
def pipeline(aws: LocalAws) -> Pipeline:
    """The submitter's AWS side in the emulator, fresh for each test."""
    return create_pipeline(aws)


@pytest.fixture
def handler_module(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """handler.py imported afresh, as in a new execution environment, with the construct's env."""
    monkeypatch.setenv("JOB_QUEUE_ARN", pipeline.settings.job_queue_arn)
    monkeypatch.setenv("JOB_DEFINITION_ARN", pipeline.settings.job_definition_arn)
    monkeypatch.setenv("LEDGER_TABLE_NAME", pipeline.settings.ledger_table_name)
    monkeypatch.delitem(sys.modules, "handler", raising=False)
    return importlib.import_module("handler")
