"""The reference app, as app.py builds it, in each network profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint
from checkov_run import checkov_failures, load_checkov_skips
from helpers import ROOT, make_app
from syrupy.extensions.json import JSONSnapshotExtension

from app import build
from constructs_batch.cost import estimate_fixed_monthly_cost
from constructs_batch.testing import masked_template, nag_findings

PROFILES = ["PUBLIC", "PRIVATE_NAT", "ISOLATED"]
#: cfn-lint checks skipped, as in `make synth`: W3005 (a DependsOn also implied by a
#: GetAtt) is emitted by aws-cdk-lib's own constructs.
CFN_LINT_IGNORED = ["W3005"]


#: Each profile's app, built once for every test of the module.
_BUILT: dict[str, tuple[Stack, Stack]] = {}


def _reference_stacks(profile: str) -> tuple[Stack, Stack]:
    if profile not in _BUILT:
        platform, pipeline = build(make_app(**{"constructs_batch:network_profile": profile}))
        assert platform is not None
        _BUILT[profile] = (platform, pipeline)
    return _BUILT[profile]


@pytest.fixture(scope="module", params=PROFILES)
def stacks(request: pytest.FixtureRequest) -> tuple[Stack, Stack]:
    return _reference_stacks(request.param)


@pytest.fixture
def snapshot_json(snapshot: Any) -> Any:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_reference_app_passes_cdk_nag_in_every_profile(stacks: tuple[Stack, Stack]) -> None:
    # GIVEN the reference app in one network profile
    # WHEN cdk-nag's AwsSolutions pack checks every stack
    findings = [f for stack in stacks for f in nag_findings(stack)]
    # THEN nothing is left unacknowledged
    assert findings == []


def test_reference_app_passes_cfn_lint_in_every_profile(stacks: tuple[Stack, Stack]) -> None:
    # GIVEN the reference app's templates in one network profile
    templates = [json.dumps(Template.from_stack(stack).to_json()) for stack in stacks]
    # WHEN cfn-lint checks them
    matches = [
        str(m)
        for t in templates
        for m in lint(t, config=ManualArgs(ignore_checks=CFN_LINT_IGNORED))
    ]
    # THEN there is no error and no warning
    assert matches == []


def test_reference_app_fixed_cost_matches_the_profile(stacks: tuple[Stack, Stack]) -> None:
    # GIVEN the platform stack of one profile
    platform = stacks[0]
    template = Template.from_stack(platform).to_json()
    # WHEN its fixed monthly cost is estimated
    cost = estimate_fixed_monthly_cost(template)
    # THEN PUBLIC costs nothing idle, PRIVATE_NAT pays one NAT, ISOLATED pays endpoints only
    profile = platform.node.try_get_context("constructs_batch:network_profile")
    expected_nat = {"PUBLIC": 0, "PRIVATE_NAT": 1, "ISOLATED": 0}[profile]
    assert cost.nat_gateways == expected_nat
    assert (cost.interface_endpoint_azs > 0) == (profile == "ISOLATED")


@pytest.mark.parametrize("stacks", ["PUBLIC"], indirect=True)
def test_reference_app_matches_snapshot(stacks: tuple[Stack, Stack], snapshot_json: Any) -> None:
    # GIVEN the reference app as `make synth` builds it (asset hashes masked, so editing
    # runtime code does not churn the snapshot)
    # THEN each stack's template matches the reviewed snapshot
    for stack in stacks:
        assert masked_template(stack) == snapshot_json(name=stack.stack_name)


def test_reference_app_passes_checkov_with_the_reviewed_skips(tmp_path: Path) -> None:
    # GIVEN the templates of every network profile and of the standalone pipeline
    for profile in PROFILES:
        for stack in _reference_stacks(profile):
            _write_template(tmp_path / f"{profile}-{stack.stack_name}.template.json", stack)
    _, standalone = build(make_app(**{"constructs_batch:pipeline_standalone": "true"}))
    _write_template(tmp_path / "standalone-CsvPipeline.template.json", standalone)
    # WHEN checkov checks them
    failed = checkov_failures(tmp_path)
    # THEN every finding is one the reviewed skip list covers, and every entry still matters
    skips = load_checkov_skips(ROOT / "checkov-skips.toml")
    assert [f for f in failed if not any(skip.covers(f) for skip in skips)] == []
    assert [s.describe() for s in skips if not any(s.covers(f) for f in failed)] == []


def _write_template(path: Path, stack: Stack) -> None:
    path.write_text(json.dumps(Template.from_stack(stack).to_json()))
