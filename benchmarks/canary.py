"""The cost of one canary analysis beside a plain gate call, against a real Prometheus.

    python benchmarks/canary.py [--calls 20]

Backfills one day of the held-out canary traffic (tests/integration/conftest.py's
`CANARY_TRAFFIC`) into a Prometheus of its own on loopback, serves slogate on a free loopback
port with `tests/fixtures/canary_specs`, and times, over HTTP, `--calls` gate calls and canary
analyses of the same service, counting the backend queries each sent. A gate call reads the
in-memory snapshot (no query); an analysis asks the backend over its own window: one instant
query per events SLO, an instant and a range query per raw SLI. Printed: median and p90
latency of each, queries per call, and the analysis' median as a multiple of the gate call's
measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slogate.cli.localprom import LocalPrometheus, backfill, free_port  # noqa: E402
from slogate.cli.traffic import openmetrics  # noqa: E402
from slogate.config import parse_config  # noqa: E402
from slogate.evaluation.engine import SpecSource  # noqa: E402
from slogate.evaluation.prometheus import PrometheusClient  # noqa: E402
from slogate.server.app import runtime  # noqa: E402
from tests.integration.conftest import CANARY_TRAFFIC  # noqa: E402

SPECS = ROOT / "tests" / "fixtures" / "canary_specs"
DAY = 86_400.0


def start_prometheus(workdir: Path, anchor: float) -> LocalPrometheus:
    text = openmetrics(CANARY_TRAFFIC, anchor=anchor, start=-DAY, end=3600, tiers=[(0, 60.0)])
    source = workdir / "history.om"
    source.write_text(text, encoding="utf-8")
    backfill(source, workdir / "data")
    prometheus = LocalPrometheus(workdir)
    prometheus.start()
    return prometheus


async def timed(
    call: Callable[[], Awaitable[httpx.Response]], calls: int, sent: list[int]
) -> tuple[list[float], float]:
    """Latencies of `calls` calls (seconds) and the backend queries each sent on average."""
    before = sent[0]
    latencies = []
    for _ in range(calls):
        start = time.perf_counter()
        response = await call()
        latencies.append(time.perf_counter() - start)
        response.raise_for_status()
    return latencies, (sent[0] - before) / calls


def line(name: str, latencies: list[float], queries: float) -> str:
    ordered = sorted(latencies)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return (
        f"{name:<34} median {statistics.median(latencies) * 1000:8.2f} ms"
        f"   p90 {p90 * 1000:8.2f} ms   queries/call {queries:4.1f}"
    )


async def measure(prometheus_url: str, calls: int) -> None:
    with tempfile.TemporaryDirectory(prefix="slogate-bench-") as tmp:
        config = parse_config(
            "", "bench", {"prometheus.url": prometheus_url, "store.path": f"{tmp}/s.db"}
        )
        async with runtime(config, SpecSource(SPECS)) as rt:
            client = rt.engine.evaluator.backend
            assert isinstance(client, PrometheusClient)
            sent = [0]

            async def count(_request: httpx.Request) -> None:
                sent[0] += 1

            client._http.event_hooks["request"].append(count)
            await rt.engine.run_cycle()
            port = free_port()
            await web.TCPSite(rt.runner, "127.0.0.1", port).start()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                await run_calls(http, calls, sent)


async def run_calls(http: httpx.AsyncClient, calls: int, sent: list[int]) -> None:
    canary = {"canary": "canary", "baseline": "stable"}
    cases = {
        "gate call (canary-bad)": lambda: http.get("/v1/gate", params={"service": "canary-bad"}),
        "canary, 1 events SLO (canary-tiny)": lambda: http.get(
            "/v1/canary", params={"service": "canary-tiny", **canary}
        ),
        "canary, events + raw SLO (canary-bad)": lambda: http.get(
            "/v1/canary", params={"service": "canary-bad", **canary}
        ),
    }
    results = {name: await timed(call, calls, sent) for name, call in cases.items()}
    baseline = statistics.median(results["gate call (canary-bad)"][0])
    for name, (latencies, queries) in results.items():
        ratio = statistics.median(latencies) / baseline
        print(line(name, latencies, queries) + f"   x{ratio:7.1f} the gate call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    anchor = math.floor(time.time() / 60) * 60
    with tempfile.TemporaryDirectory(prefix="slogate-bench-prom-") as tmp:
        prometheus = start_prometheus(Path(tmp), anchor)
        try:
            asyncio.run(measure(prometheus.url, args.calls))
        finally:
            prometheus.stop()


if __name__ == "__main__":
    main()
