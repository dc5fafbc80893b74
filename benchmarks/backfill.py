"""Backfilling the integration tests' history: promtool's default 2-hour blocks against the
long blocks `slogate.cli.localprom.backfill` asks for, measured in the same run.

    python benchmarks/backfill.py

Writes the tests' 32 days of history (tests/integration/conftest.py's `HISTORY_TRAFFIC`) as
OpenMetrics once, backfills it both ways with promtool, then starts a Prometheus on loopback
on each data directory and sends both the same range queries. Printed: promtool's CPU and wall
time each way, blocks written, the queries' wall time, and the ratios (default / ours). Exits
non-zero if the two Prometheus servers answer any query differently.
"""

from __future__ import annotations

import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slogate.cli.demo import HISTORY, TIERS  # noqa: E402
from slogate.cli.localprom import LocalPrometheus, backfill, binary  # noqa: E402
from slogate.cli.traffic import openmetrics  # noqa: E402
from tests.integration.backends import HISTORY_END  # noqa: E402
from tests.integration.conftest import HISTORY_TRAFFIC  # noqa: E402

QUERIES = (
    "sum by (service) (increase(http_requests_total[30d]))",
    'sum by (service) (rate(http_requests_total{code=~"5.."}[6h]))',
    "sum by (service) (rate(http_requests_total[5m]))",
)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """(CPU of child processes, wall) seconds of calling `run`."""
    cpu, wall = children_cpu(), time.perf_counter()
    run()
    return children_cpu() - cpu, time.perf_counter() - wall


def default_blocks(source: Path, data: Path) -> None:
    """promtool with its default block span (2 hours)."""
    data.mkdir(parents=True)
    command = [binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q"]
    subprocess.run(
        [*command, str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=1800,
    )


def answers(url: str, anchor: float) -> tuple[list[object], float]:
    """Each query's result over the last day before the anchor, and their total wall time."""
    found: list[object] = []
    start = time.perf_counter()
    with httpx.Client(base_url=url, timeout=120) as http:
        for query in QUERIES:
            params: dict[str, str | float] = {
                "query": query,
                "start": anchor - 86400,
                "end": anchor,
                "step": 300,
            }
            response = http.get("/api/v1/query_range", params=params)
            response.raise_for_status()
            found.append(sorted(response.json()["data"]["result"], key=str))
    return found, time.perf_counter() - start


def main() -> int:
    anchor = math.floor(time.time() / 60) * 60
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        root = Path(tmp)
        source = root / "history.om"
        text = openmetrics(
            HISTORY_TRAFFIC, anchor=anchor, start=-HISTORY, end=HISTORY_END, tiers=TIERS
        )
        source.write_text(text)
        print(f"history: {text.count(chr(10))} lines, {len(text) / 1e6:.1f} MB")
        runs: dict[str, tuple[Path, Callable[[Path, Path], None]]] = {
            "default 2h": (root / "default", default_blocks),
            "ours": (root / "ours", backfill),
        }
        results: dict[str, tuple[float, float, float, list[object]]] = {}
        for name, (workdir, write) in runs.items():
            cpu, wall = timed(partial(write, source, workdir / "data"))
            blocks = sum(1 for p in (workdir / "data").iterdir() if (p / "meta.json").exists())
            server = LocalPrometheus(workdir)
            server.start()
            try:
                found, query_wall = answers(server.url, anchor)
            finally:
                server.stop()
            results[name] = (cpu, wall, query_wall, found)
            print(
                f"{name:>10}: promtool {cpu:6.2f} s CPU {wall:6.2f} s wall, {blocks} blocks;"
                f" queries {query_wall:.3f} s"
            )
        base, ours = results["default 2h"], results["ours"]
        print(
            f"ratio default/ours: promtool CPU {base[0] / ours[0]:.1f}x, wall"
            f" {base[1] / ours[1]:.1f}x; queries {base[2] / ours[2]:.1f}x"
        )
        same = base[3] == ours[3]
        print("answers identical" if same else "ANSWERS DIFFER")
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
