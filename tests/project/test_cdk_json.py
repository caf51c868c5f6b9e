"""cdk.json carries the recommended feature flags of the installed aws-cdk-lib."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import aws_cdk
from helpers import CDK_CONTEXT, ROOT


def _recommended_flags() -> dict[str, object]:
    jsii_dir = Path(aws_cdk.__file__).parent / "_jsii"
    tarball = next(jsii_dir.glob("aws-cdk-lib@*.jsii.tgz"))
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        flags: dict[str, object] = json.load(member)
    return flags


def test_cdk_json_has_every_recommended_flag_of_the_pinned_lib() -> None:
    # GIVEN the flags aws-cdk-lib recommends for new projects
    recommended = _recommended_flags()
    # WHEN compared with cdk.json's context
    ours = {k: v for k, v in CDK_CONTEXT.items() if k in recommended}
    # THEN every flag is present with the recommended value
    assert ours == recommended


def test_cdk_json_runs_the_reference_app_with_the_project_python() -> None:
    # GIVEN cdk.json
    config = json.loads((ROOT / "cdk.json").read_text())
    # THEN the CLI runs app.py
    assert config["app"].endswith("app.py")
