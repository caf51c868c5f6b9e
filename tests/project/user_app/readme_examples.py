"""Run every Python block of a README, in order, as the body of a user's stack.

Each block runs in one shared namespace where ``self`` is a stack of a fresh app (so
later blocks use what earlier ones built), from the current folder. Then the app is
synthesized. Prints one JSON line: the blocks run.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from aws_cdk import App, Stack

_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def main(readme: str, outdir: str) -> None:
    blocks = _PYTHON_BLOCK.findall(Path(readme).read_text())
    app = App(outdir=outdir)
    namespace: dict[str, object] = {"self": Stack(app, "ReadmeExamples"), "__name__": "readme"}
    tests = 0
    for number, block in enumerate(blocks, start=1):
        code = compile(block, f"README.md python block {number}", "exec")
        before = set(namespace)
        exec(code, namespace)
        # A block that defines a test (the "Testing your own stacks" example) runs it.
        for name in sorted(set(namespace) - before):
            if name.startswith("test_") and callable(namespace[name]):
                namespace[name](snapshot=_AnySnapshot())
                tests += 1
    app.synth()
    print(json.dumps({"blocks": len(blocks), "tests": tests}))


class _AnySnapshot:
    """Stands in for syrupy's ``snapshot`` fixture: equal to any template."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, dict) and "Resources" in other

    __hash__ = None  # type: ignore[assignment]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
