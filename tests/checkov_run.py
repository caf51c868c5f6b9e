"""Run checkov (installed by `make setup` in its own venv) and judge its findings.

Checkov pins its own boto3, so it lives in ``.venv-checkov``, not in the project's venv.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from helpers import ROOT

#: The checkov executable `make setup` installs.
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@dataclass(frozen=True)
class Finding:
    """One failed check on one resource of one template."""

    check: str
    resource: str
    file: str


@dataclass(frozen=True)
class Skip:
    """A reviewed exception: a check, the resources it does not apply to, and why."""

    check: str
    resources: tuple[str, ...]
    reason: str

    def covers(self, finding: Finding) -> bool:
        """Whether this entry accounts for the finding."""
        return finding.check == self.check and any(
            fnmatch.fnmatchcase(finding.resource, pattern) for pattern in self.resources
        )

    def describe(self) -> str:
        """``CHECK on pattern, pattern``."""
        return f"{self.check} on {', '.join(self.resources)}"


def load_checkov_skips(path: Path) -> list[Skip]:
    """The skip list; every entry must name a check, resources and a reason."""
    entries = tomllib.loads(path.read_text())["skip"]
    skips = [Skip(e["check"], tuple(e["resources"]), e["reason"].strip()) for e in entries]
    empty = [s.describe() for s in skips if not s.reason or not s.resources]
    if empty:
        raise ValueError(f"checkov skips without a reason or resources: {empty}")
    return skips


def checkov_failures(directory: Path) -> list[Finding]:
    """Every failed CloudFormation check of checkov over the templates in ``directory``.

    Raises:
        RuntimeError: checkov is not installed, or did not produce a report.
    """
    if not CHECKOV.exists():
        raise RuntimeError(f"checkov is not installed at {CHECKOV}: run `make setup`")
    completed = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(directory),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit code 1 means "findings"; anything else without a report is a failure to run.
    if completed.returncode not in (0, 1) or not completed.stdout.strip():
        raise RuntimeError(f"checkov failed ({completed.returncode}): {completed.stderr[-2000:]}")
    reports = json.loads(completed.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return sorted(
        {
            Finding(check["check_id"], check["resource"], Path(check["file_path"]).name)
            for report in reports
            for check in report["results"]["failed_checks"]
        },
        key=lambda f: (f.check, f.resource, f.file),
    )
