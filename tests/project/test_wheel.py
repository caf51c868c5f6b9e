"""The library as users get it: built into a wheel, installed in a fresh venv, used from
a folder outside the repository.

The wheel is built from a copy of the sources and installed, without its
dependencies, into a new venv; the dependencies (aws-cdk-lib, cdk-nag, boto3) come
from the project's venv through a path entry instead of a download, and the
project's own editable install stays out of reach (a path entry does not run the
``.pth`` hook that makes it importable). Both scripts run from a temporary folder, so
a path into the repository would fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT

USER_APP = Path(__file__).parent / "user_app"
#: What a wheel is built from (pyproject.toml's package and package-dir mapping).
SOURCES = ("pyproject.toml", "README.md", "constructs_batch", "lambda", "jobs")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    work: Path

    def run(self, script: Path, *args: str) -> dict[str, Any]:
        """Run a script with the venv's Python from the work folder; its JSON report."""
        node_bin = ROOT / "node_modules" / ".bin"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTHON", "VIRTUAL_ENV", "CDK_"))
        }
        env["PATH"] = f"{node_bin}{os.pathsep}{env.get('PATH', '')}"
        completed = subprocess.run(
            [str(self.python), str(script), *args],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert completed.returncode == 0, completed.stderr[-4000:]
        report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        return report


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=_IGNORED)
        else:
            shutil.copy2(path, source / name)
    dist = base / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("constructs_batch-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site_packages) / "project-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    work = base / "user-app"
    work.mkdir()
    return Installed(wheel=wheel, python=python, work=work)


def test_wheel_ships_the_library_and_the_pipeline_runtime(installed: Installed) -> None:
    # GIVEN the built wheel
    import zipfile

    names = set(zipfile.ZipFile(installed.wheel).namelist())
    # THEN it holds the library, its type marker and the runtime code the assets build from
    for name in (
        "constructs_batch/__init__.py",
        "constructs_batch/py.typed",
        "constructs_batch/local/__init__.py",
        "constructs_batch/runtime/submit_job/handler.py",
        "constructs_batch/runtime/csv_loader/Dockerfile",
        "constructs_batch/runtime/csv_loader/loader_main.py",
        "constructs_batch/runtime/csv_loader/requirements.txt",
    ):
        assert name in names
    # AND nothing of the reference app, the tests or the benchmarks
    assert not [n for n in names if n.startswith(("stacks/", "tests/", "bench/", "scripts/"))]


@pytest.fixture(scope="module")
def user_app(installed: Installed) -> dict[str, Any]:
    """The user app's report: run once, from its own folder, on the installed wheel."""
    return installed.run(USER_APP / "app.py", str(installed.work / "cdk.out"))


def test_user_app_synthesizes_from_the_installed_wheel_with_cdk_nag(
    installed: Installed, user_app: dict[str, Any]
) -> None:
    # GIVEN a user app (BatchPlatform, an imported queue, the pipeline) in its own folder
    # WHEN it synthesizes with the installed wheel and cdk-nag on
    report = user_app
    # THEN the package came from the venv, not the checkout, both stacks synthesized with
    # no cdk-nag finding (a finding fails the synth), and the pipeline's assets were
    # staged from the package's runtime code
    assert report["package"].startswith(str(installed.python.parent.parent.resolve()))
    assert report["templates"] == ["CsvLoads.template.json", "SharedBatch.template.json"]
    assert sorted(Path(a).name for a in report["assets"]) == ["Dockerfile", "handler.py"]
    assert report["loader_fargate"] is True


def test_local_runner_finds_the_runtime_code_in_the_installed_wheel(
    installed: Installed, user_app: dict[str, Any]
) -> None:
    # GIVEN the installed wheel, used from a folder outside the repository
    # WHEN constructs_batch.local looks for the runtime code it runs
    report = user_app["local"]
    # THEN it finds it in the venv, not the checkout: the handler, and the loader image's
    # command line from its Dockerfile
    venv = str(installed.python.parent.parent.resolve())
    assert report["module"].startswith(venv) and report["loader_dir"].startswith(venv)
    assert report["handler"] is True
    assert report["argv"] == ["python", "-m", "loader_main"]


def test_readme_examples_run_as_written_outside_the_repository(installed: Installed) -> None:
    # GIVEN every Python block of README.md
    # WHEN they run in order, from a folder outside the repository, on the installed wheel
    report = installed.run(
        USER_APP / "readme_examples.py", str(ROOT / "README.md"), str(installed.work / "readme.out")
    )
    # THEN each of them ran and the app they built synthesized
    assert report["blocks"] == (ROOT / "README.md").read_text().count("```python\n")
    assert report["tests"] == 1  # the snapshot and cdk-nag test example ran
