"""The submitter and the loader are deployed separately; their shared names must agree."""

from __future__ import annotations

import ast

from constructs_batch.runtime.csv_loader import loader_contract as loader
from constructs_batch.runtime.submit_job import submit_contract as submitter
from helpers import ROOT


def test_contract_job_environment_names_agree() -> None:
    # GIVEN the environment the submitter sets on each job and the one the loader reads
    pairs = [
        (submitter.JOB_ENV_CSV_BUCKET, loader.ENV_CSV_BUCKET),
        (submitter.JOB_ENV_CSV_KEY, loader.ENV_CSV_KEY),
        (submitter.JOB_ENV_CSV_VERSION_ID, loader.ENV_CSV_VERSION_ID),
        (submitter.JOB_ENV_CSV_ETAG, loader.ENV_CSV_ETAG),
        (submitter.JOB_ENV_LEDGER_OBJECT_ID, loader.ENV_LEDGER_OBJECT_ID),
        (submitter.JOB_ENV_CSV_MANIFEST, loader.ENV_CSV_MANIFEST),
        (submitter.JOB_ENV_ARRAY_INDEX, loader.ENV_ARRAY_INDEX),
        (submitter.JOB_ENV_LOAD_JOB_ID, loader.ENV_LOAD_JOB_ID),
    ]
    # THEN each name is the same on both sides
    assert [a for a, _ in pairs] == [b for _, b in pairs]


def test_contract_manifest_and_ledger_names_agree() -> None:
    # GIVEN the manifest fields, ledger attributes and statuses of both sides
    ours = [
        submitter.MANIFEST_FIELD_BUCKET,
        submitter.MANIFEST_FIELD_KEY,
        submitter.MANIFEST_FIELD_VERSION_ID,
        submitter.MANIFEST_FIELD_ETAG,
        submitter.MANIFEST_FIELD_OBJECT_ID,
        submitter.LEDGER_KEY,
        submitter.ATTR_BUCKET,
        submitter.ATTR_KEY,
        submitter.ATTR_VERSION_ID,
        submitter.ATTR_STATUS,
        submitter.ATTR_ROWS_LOADED,
        submitter.ATTR_ROWS_REJECTED,
        submitter.ATTR_ROWS_DUPLICATE,
        submitter.ATTR_REJECTS_KEY,
        submitter.ATTR_STARTED_AT,
        submitter.ATTR_FINISHED_AT,
        submitter.ATTR_DURATION_S,
        submitter.ATTR_ERROR,
        *submitter.STATUSES,
    ]
    theirs = [
        loader.MANIFEST_FIELD_BUCKET,
        loader.MANIFEST_FIELD_KEY,
        loader.MANIFEST_FIELD_VERSION_ID,
        loader.MANIFEST_FIELD_ETAG,
        loader.MANIFEST_FIELD_OBJECT_ID,
        loader.LEDGER_KEY_ATTRIBUTE,
        loader.LEDGER_BUCKET,
        loader.LEDGER_OBJECT_KEY,
        loader.LEDGER_VERSION_ID,
        loader.LEDGER_STATUS,
        loader.LEDGER_ROWS_LOADED,
        loader.LEDGER_ROWS_REJECTED,
        loader.LEDGER_ROWS_DUPLICATE,
        loader.LEDGER_REJECTS_KEY,
        loader.LEDGER_STARTED_AT,
        loader.LEDGER_FINISHED_AT,
        loader.LEDGER_DURATION_S,
        loader.LEDGER_ERROR,
        loader.STATUS_SUBMITTING,
        loader.STATUS_SUBMITTED,
        loader.STATUS_RUNNING,
        loader.STATUS_SUCCEEDED,
        loader.STATUS_FAILED,
    ]
    # THEN they are identical, in order
    assert ours == theirs


def test_contract_metrics_environment_and_dimension_agree() -> None:
    # GIVEN the names the construct sets on both and the dimension both publish
    ours = [submitter.ENV_METRICS_NAMESPACE, submitter.ENV_METRICS_PIPELINE]
    ours.append(submitter.METRIC_DIMENSION_PIPELINE)
    theirs = [loader.ENV_METRICS_NAMESPACE, loader.ENV_METRICS_PIPELINE]
    theirs.append(loader.METRIC_DIMENSION_PIPELINE)
    # THEN they are the same
    assert ours == theirs


def test_contract_both_emf_writers_are_the_same_code() -> None:
    # GIVEN the EMF writer of the loader and the submitter's (packaged apart: one copy each)
    def source(relative: str) -> str:
        tree = ast.parse((ROOT / relative).read_text())
        (function,) = [
            n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "emf_line"
        ]
        return ast.dump(function)

    # THEN they are identical, docstring included
    loader_writer = source("jobs/csv_loader/loader_metrics.py")
    assert loader_writer == source("lambda/submit_job/submit_metrics.py")
