"""Helpers for snapshot and compliance tests of stacks built with this library.

Use them in your own CI::

    from constructs_batch.testing import masked_template, nag_findings

    def test_stack_matches_snapshot(snapshot):
        assert masked_template(stack) == snapshot

    def test_stack_passes_cdk_nag():
        assert nag_findings(stack) == []
"""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk import Stack
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

__all__ = ["ASSET_HASH_MASK", "mask_asset_hashes", "masked_template", "nag_findings"]

#: What an asset hash is replaced with in a masked template.
ASSET_HASH_MASK = "[ASSET-HASH]"
# CDK asset hashes are SHA-256 hex digests (64 characters).
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def mask_asset_hashes(value: Any) -> Any:
    """Return a copy of a template (or any JSON value) with asset hashes masked.

    Editing runtime code changes its asset hash, which would otherwise churn every
    snapshot that embeds the asset's S3 key or image tag.
    """
    return json.loads(_ASSET_HASH.sub(ASSET_HASH_MASK, json.dumps(value)))


def masked_template(stack: Stack) -> dict[str, Any]:
    """The synthesized template of a stack, with asset hashes masked."""
    template: dict[str, Any] = mask_asset_hashes(Template.from_stack(stack).to_json())
    return template


def nag_findings(scope: IConstruct) -> list[str]:
    """Unacknowledged cdk-nag AwsSolutions findings under a scope, as ``rule at path: why``.

    Acknowledgments made with ``Validations.of(construct).acknowledge(...)`` are honoured.
    An empty list means the scope passes the pack.
    """
    report = AwsSolutionsChecks().validate_scope(scope)
    return sorted(
        f"{violation.rule_name} at {resource.construct_path}: {violation.description}"
        for violation in report.violations
        for resource in violation.violating_resources
    )
