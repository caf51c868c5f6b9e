"""The runtime code shipped in the package, found and imported the way it is deployed.

The submitter Lambda and the loader image import their modules as top-level modules
(``import submitter``): their directory is the import root, ``/var/task`` in Lambda and
``/app`` in the image. :func:`runtime_module` imports them the same way, with that
directory first on ``sys.path`` only while the import runs.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.resources
import importlib.util
import itertools
import json
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Final

__all__ = [
    "LOADER_PACKAGE",
    "SUBMITTER_PACKAGE",
    "ImageRuntime",
    "fresh_runtime_module",
    "image_runtime",
    "runtime_dir",
    "runtime_module",
]

#: The runtime packages of the library (``pyproject.toml`` maps them to ``lambda/`` and
#: ``jobs/`` in a checkout).
SUBMITTER_PACKAGE: Final = "constructs_batch.runtime.submit_job"
LOADER_PACKAGE: Final = "constructs_batch.runtime.csv_loader"

_fresh_modules = itertools.count()


def runtime_dir(package: str) -> Path:
    """The directory of a runtime package, in the installed wheel or the checkout."""
    return Path(str(importlib.resources.files(package)))


@contextlib.contextmanager
def _import_root(directory: Path) -> Iterator[None]:
    path = str(directory)
    sys.path.insert(0, path)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(path)


def runtime_module(package: str, name: str) -> ModuleType:
    """Import ``name`` from a runtime package as a top-level module, as its deployment does.

    Args:
        package: e.g. ``SUBMITTER_PACKAGE``.
        name: the module, e.g. ``"submit_events"``.
    """
    with _import_root(runtime_dir(package)):
        return importlib.import_module(name)


def fresh_runtime_module(package: str, name: str) -> ModuleType:
    """Execute a runtime module anew (a new Lambda execution environment runs its init).

    The module runs under a new name each time; the modules it imports are shared.
    """
    path = runtime_dir(package) / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_local_{name}_{next(_fresh_modules)}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    with _import_root(runtime_dir(package)):
        spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class ImageRuntime:
    """What a Dockerfile gives the container: its ENTRYPOINT, CMD and ENV."""

    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    environment: dict[str, str] = field(default_factory=dict)

    def argv(self, command: tuple[str, ...] = ()) -> list[str]:
        """ENTRYPOINT plus the job's command (or the image's CMD), with this machine's Python."""
        argv = [*self.entrypoint, *(command or self.cmd)]
        if argv and Path(argv[0]).name.startswith("python"):
            argv[0] = sys.executable
        return argv


def image_runtime(dockerfile: Path) -> ImageRuntime:
    """The ENTRYPOINT and CMD (exec form) and ENV of a Dockerfile.

    Raises:
        ValueError: there is neither an ENTRYPOINT nor a CMD in exec form.
    """
    text = dockerfile.read_text().replace("\\\n", " ")
    found: dict[str, tuple[str, ...]] = {}
    environment: dict[str, str] = {}
    for line in text.splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction.upper() in ("ENTRYPOINT", "CMD"):
            found[instruction.upper()] = tuple(json.loads(rest))
        elif instruction.upper() == "ENV":
            for word in shlex.split(rest):
                name, _, value = word.partition("=")
                environment[name] = value
    if not found:
        raise ValueError(f"{dockerfile} has no ENTRYPOINT or CMD in exec form")
    return ImageRuntime(found.get("ENTRYPOINT", ()), found.get("CMD", ()), environment)
