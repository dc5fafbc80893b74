"""What recording deployments costs the gate: calls carrying `deploy_id` and `step` against
plain calls, on the same slogate in the same run.

    python benchmarks/deploy_steps.py [--duration 20] [--concurrency 64]

A gate call with a `deploy_id` is also a step of that deployment (DESIGN §9): one more store
job, folded into the same group commit as the decision's audit row. The baseline is the same
call without `deploy_id`. Figures are printed as ratios to it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import ROOT, start_live_history, start_slogate, wait_ready, wrk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="slogate-steps-") as tmp:
        prometheus = start_live_history(Path(tmp))
        slogate, url = start_slogate(prometheus.url, ROOT / "slo_specs", Path(tmp), "30s")
        try:
            wait_ready(url, "/v1/gate?service=checkout")
            runs = {
                "plain": f"{url}/v1/gate?service=checkout",
                "one deployment, one step": f"{url}/v1/gate?service=checkout&deploy_id=d1&step=canary",
            }
            results = {name: wrk(u, args.concurrency, args.duration) for name, u in runs.items()}
        finally:
            slogate.terminate()
            slogate.wait(30)
            prometheus.stop()
    base = results["plain"]
    print(f"\nc={args.concurrency}, {args.duration} s each, ratios to plain gate calls:")
    for name, r in results.items():
        print(
            f"{name:<26} {r['rps']:>8.0f} rps {r['rps'] / base['rps']:>5.2f}x"
            f"  p99 {r['p99']:>7.2f} ms {r['p99'] / base['p99']:>5.2f}x  errors {r['errors']:.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
