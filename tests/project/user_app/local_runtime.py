"""What constructs_batch.local finds of the runtime code in an installed wheel.

Imports the local runner (no emulator started) and reports where the loader's and the
submitter's runtime code is and what the loader image runs. Prints one JSON line.
"""

from __future__ import annotations

import json

import constructs_batch.local as local


def main() -> None:
    loader = local.runtime_dir("constructs_batch.runtime.csv_loader")
    submitter = local.runtime_dir("constructs_batch.runtime.submit_job")
    image = local.image_runtime(loader / "Dockerfile")
    print(
        json.dumps(
            {
                "local": local.__file__,
                "loader_dir": str(loader),
                "handler": (submitter / "handler.py").is_file(),
                "entrypoint": list(image.entrypoint),
                "cmd": list(image.cmd),
            }
        )
    )


if __name__ == "__main__":
    main()
