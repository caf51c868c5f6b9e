"""Print each synthesized stack, its resource count and its estimated fixed monthly cost.

Usage: python scripts/synth_summary.py cdk.out
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from constructs_batch.cost import estimate_fixed_monthly_cost

#: CloudFormation's limit on resources per stack.
MAX_RESOURCES_PER_STACK = 500


def main(out_dir: str) -> int:
    """Summarize every template in a cloud assembly directory."""
    manifest = json.loads((Path(out_dir) / "manifest.json").read_text())
    rows = []
    for name, artifact in sorted(manifest["artifacts"].items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = Path(out_dir) / artifact["properties"]["templateFile"]
        template = json.loads(template_file.read_text())
        count = len(template.get("Resources", {}))
        cost = estimate_fixed_monthly_cost(template)
        detail = (
            f"{cost.nat_gateways} NAT, {cost.interface_endpoint_azs} endpoint-AZs, "
            f"{cost.dashboards} dashboards"
        )
        rows.append((name, count, cost.monthly_usd, detail))
    if not rows:
        print(f"no stacks in {out_dir}", file=sys.stderr)
        return 1
    width = max(len(r[0]) for r in rows)
    print(f"{'stack':<{width}}  resources  fixed $/month  (billed while idle)")
    for name, count, usd, detail in rows:
        print(f"{name:<{width}}  {count:>9}  {usd:>13.2f}  ({detail})")
    total = sum(r[2] for r in rows)
    print(f"{'total':<{width}}  {sum(r[1] for r in rows):>9}  {total:>13.2f}")
    over = [r[0] for r in rows if r[1] > MAX_RESOURCES_PER_STACK]
    if over:
        print(
            f"stacks over {MAX_RESOURCES_PER_STACK} resources: {', '.join(over)}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "cdk.out"))
