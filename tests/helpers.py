"""Test helpers shared by every test module (importable as ``helpers``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack
from aws_cdk.assertions import Template
from constructs import IConstruct

ROOT = Path(__file__).resolve().parent.parent
#: cdk.json's context: the feature flags and reference-app settings `cdk synth` uses.
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]


def make_app(**context: Any) -> App:
    """An App under cdk.json's context (feature flags included), plus overrides."""
    return App(context={**CDK_CONTEXT, **context})


def logical_id(construct: IConstruct) -> str:
    """Logical id of a construct's CloudFormation resource (itself or its default child)."""
    child = construct.node.default_child
    element = child if child is not None else construct
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(element)))  # type: ignore[arg-type]


def properties(resources: dict[str, Any], construct: IConstruct) -> dict[str, Any]:
    """The synthesized Properties of a construct's resource in a template's Resources."""
    props: dict[str, Any] = resources[logical_id(construct)]["Properties"]
    return props


def job_definition(template: Template, module: str) -> dict[str, Any]:
    """The container properties of the one job definition whose command runs ``module``."""
    (definition,) = [
        d["Properties"]["ContainerProperties"]
        for d in template.find_resources("AWS::Batch::JobDefinition").values()
        if d["Properties"]["ContainerProperties"].get("Command") == [module]
    ]
    container: dict[str, Any] = definition
    return container


def job_environment(template: Template, module: str) -> dict[str, Any]:
    """The environment of the one job definition whose command runs ``module``."""
    return {e["Name"]: e["Value"] for e in job_definition(template, module)["Environment"]}


def emf_document(line: str) -> dict[str, Any]:
    """Parse one embedded metric format (EMF) log line, asserting CloudWatch's specification.

    One JSON object; ``_aws.Timestamp`` an integer in milliseconds since the epoch (within a
    minute of now); ``_aws.CloudWatchMetrics`` directives with a Namespace, Dimensions as a
    list of lists of names whose string values stand at the top level, and Metrics of Name and
    Unit whose numeric values stand at the top level.
    """
    assert "\n" not in line
    document: dict[str, Any] = json.loads(line)
    meta = document["_aws"]
    assert isinstance(meta["Timestamp"], int)
    assert abs(meta["Timestamp"] - time.time() * 1000) < 60_000
    for directive in meta["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str) and directive["Namespace"]
        assert all(isinstance(names, list) for names in directive["Dimensions"])
        for names in directive["Dimensions"]:
            assert all(isinstance(document[name], str) and document[name] for name in names)
        for metric in directive["Metrics"]:
            assert set(metric) == {"Name", "Unit"}
            assert isinstance(document[metric["Name"]], int | float)
    return document


def emf_values(line: str) -> dict[str, float]:
    """The metric values of one EMF line, by name (the line checked by ``emf_document``)."""
    document = emf_document(line)
    return {
        metric["Name"]: document[metric["Name"]]
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
