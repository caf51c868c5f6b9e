"""`make bench`: every benchmark figure of the project, in one run.

Figures, not pass/fail tests: each speed figure is a ratio against a baseline run
side by side in the same run (interleaved), because the machine is noisy.
Writes flat keys to bench/results.json and prints them.

    synth_seconds, baseline_synth_seconds, synth_ratio   reference app vs the same
        resources written directly with aws-cdk-lib L2s (bench/baseline_app.py),
        median wall time of a full synth (python app.py, cdk-nag included)
    test_suite_seconds                                   wall time of `make test`
    loader_*, batch_writer_rows_per_s*                   bench/loader_bench.py: loader vs
        batch_writer() (loader_speedup: median of 3 paired ratios), loader memory
    table_*, split_rows_*                                bench/loader_bench.py: 4 loaders
        sharing a table limited to 8,000 items/s (table_utilization: accepted / capacity)
    submitter_import_ms                                  cold import of the Lambda handler
    submitter_*_event_ms, submit_*_per_10k_objects       bench/submit_bench.py (and the
        submitter's import breakdown, printed)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import submit_bench  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
#: Synth runs per app; the median is reported.
SYNTH_RUNS = 5
IMPORT_RUNS = submit_bench.IMPORT_RUNS


def _synth_seconds(script: Path, out_dir: str) -> float:
    env = {
        **os.environ,
        "CDK_OUTDIR": out_dir,
        "CDK_CONTEXT_JSON": json.dumps(submit_bench.cdk_context()),
    }
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def _resource_types(out_dir: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for template in Path(out_dir).glob("*.template.json"):
        for resource in json.loads(template.read_text())["Resources"].values():
            counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    return counts


def bench_synth() -> dict[str, float]:
    """Median synth time of the reference app and of the L2 baseline, interleaved."""
    ours, baseline = [], []
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        for _ in range(SYNTH_RUNS):
            ours.append(_synth_seconds(ROOT / "app.py", a))
            baseline.append(_synth_seconds(ROOT / "bench" / "baseline_app.py", b))
        ours_types, base_types = _resource_types(a), _resource_types(b)
    if ours_types != base_types:
        diff = {
            k: (ours_types.get(k), base_types.get(k))
            for k in set(ours_types) | set(base_types)
            if ours_types.get(k) != base_types.get(k)
        }
        raise SystemExit(f"baseline app is not equivalent (type: (ours, baseline)): {diff}")
    synth, base = statistics.median(ours), statistics.median(baseline)
    return {
        "synth_seconds": round(synth, 3),
        "baseline_synth_seconds": round(base, 3),
        "synth_ratio": round(synth / base, 3),
        "synth_resources": float(sum(ours_types.values())),
    }


def bench_test_suite() -> dict[str, float]:
    """Wall time of `make test` (set-up already done, so lint, typecheck and pytest)."""
    start = time.perf_counter()
    subprocess.run(["make", "test"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return {"test_suite_seconds": round(time.perf_counter() - start, 1)}


def bench_submitter_import() -> dict[str, float]:
    """Median import time of the submitter handler module (its init), each in a fresh
    interpreter, with the environment the construct sets."""
    code = (
        "import time; t = time.perf_counter(); import handler; "
        "print((time.perf_counter() - t) * 1000)"
    )
    env = submit_bench.submitter_environment()
    # The first run writes the bytecode.
    runs = [
        float(submit_bench.run_in_submitter_dir(["-c", code], env).strip().splitlines()[-1])
        for _ in range(IMPORT_RUNS + 1)
    ]
    return {"submitter_import_ms": round(statistics.median(runs[1:]), 1)}


def main() -> int:
    """Run every benchmark, write bench/results.json, print the figures."""
    import loader_bench

    results: dict[str, float] = {}
    results.update(bench_synth())
    results.update(bench_submitter_import())
    results.update(submit_bench.run())
    results.update(loader_bench.run())
    results.update(bench_test_suite())
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(results, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
