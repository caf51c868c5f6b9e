"""How cdk-nag names a CloudFormation value in a finding id, for exact acknowledgments."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Stack
from constructs import IConstruct


def nag_value(scope: IConstruct, value: str) -> str:
    """A (token) string as cdk-nag writes it in a finding id, e.g. ``<Bucket1234.Arn>/in/*``."""
    return flatten_cfn(Stack.of(scope).resolve(value))


def flatten_cfn(node: Any) -> str:
    """A resolved CloudFormation value as the flat string cdk-nag names findings with."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(flatten_cfn(item) for item in items)
        if "Fn::Sub" in node:
            return flatten_cfn(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_cfn(resource)}.{flatten_cfn(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_cfn(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_cfn(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))
