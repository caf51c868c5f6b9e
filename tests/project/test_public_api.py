"""Every public name of the library is importable from the package itself."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import constructs_batch

#: Modules whose public names are helpers for tests, the local runner (it needs the
#: emulator: the ``local`` extra), the AWS limits and their validators, or the runtime
#: code shipped in the package.
NOT_RE_EXPORTED = {
    "constructs_batch.testing",
    "constructs_batch.local",
    "constructs_batch.limits",
    "constructs_batch.runtime",
}


def _library_modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.iter_modules(constructs_batch.__path__, "constructs_batch.")
        if not info.name.split(".")[-1].startswith("_") and info.name not in NOT_RE_EXPORTED
    ]


def test_package_exports_every_public_class_and_function() -> None:
    # GIVEN every library module's __all__
    missing = []
    for name in _library_modules():
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", []):
            value = getattr(module, public)
            # Constants stay in their module; classes, enums and functions travel.
            travels = inspect.isclass(value) or inspect.isfunction(value)
            if travels and getattr(constructs_batch, public, None) is not value:
                missing.append(f"{name}.{public}")
    # WHEN the package is imported
    # THEN each of them is also a name of the package, in its __all__
    assert missing == []
    assert sorted(constructs_batch.__all__) == constructs_batch.__all__
    assert all(hasattr(constructs_batch, name) for name in constructs_batch.__all__)
