"""What one evaluation cycle of N SLOs costs the serving event loop: inline (answers decoded and
statuses built on it) against the worker process (only its compact rows taken in).

    python benchmarks/intake.py [--slos 10000] [--cycles 5]

- inline: the rules-mode evaluator on the loop, its backend answering each window's query with
  N series (Prometheus' JSON, through httpx's MockTransport: the network is not what is
  measured); the same code path as `evaluation.worker: inline` after the answers arrive.
- process: the same statuses as the worker sends them (`Rows` frames of `CHUNK` SLOs, then
  `Done`), taken in from a stream by `Worker._take_in`, as `serve` does.

For both, a task on the same loop notes the longest time it waited to run (the longest stretch
the loop was held: what a gate call can wait on a cycle) and the loop's CPU over the cycle.
Printed as ratios of process to inline, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slogate.core.model import SLO  # noqa: E402
from slogate.core.snapshot import Snapshot  # noqa: E402
from slogate.evaluation.backend_options import BackendOptions  # noqa: E402
from slogate.evaluation.costs import CycleCost  # noqa: E402
from slogate.evaluation.evaluator import Evaluator, Mode  # noqa: E402
from slogate.evaluation.prometheus import PrometheusClient  # noqa: E402
from slogate.evaluation.settings import EvaluatorSettings  # noqa: E402
from slogate.evaluation.worker import CHUNK, Done, Row, Rows, Worker, frame  # noqa: E402
from slogate.server.app import freeze_long_lived  # noqa: E402
from tests.factories import make_slo  # noqa: E402

AT = 1_700_000_000.0


def answers(slos: list[SLO]) -> httpx.MockTransport:
    """Every recording-rule query answered with one series per SLO (random error ratios)."""
    rng = random.Random(7)
    bodies: dict[str, bytes] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        query = dict(httpx.QueryParams(request.content.decode()))["query"]
        if query not in bodies:
            result = [
                {"metric": {"sloth_id": slo.id}, "value": [AT, f"{rng.uniform(0, 0.002):.6g}"]}
                for slo in slos
            ]
            data = {"resultType": "vector", "result": result}
            bodies[query] = json.dumps({"status": "success", "data": data}).encode()
        return httpx.Response(200, content=bodies[query])

    return httpx.MockTransport(handle)


async def held(run: Callable[[], Awaitable[Snapshot]]) -> tuple[Snapshot, float, float]:
    """`run()`'s result, the longest the loop was held meanwhile, and the process' CPU seconds."""
    longest = 0.0
    done = False

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    cpu = time.process_time()
    try:
        snapshot = await run()
    finally:
        cpu = time.process_time() - cpu
        done = True
        await task
    return snapshot, longest, cpu


def frames(slos: list[SLO], snapshot: Snapshot) -> bytes:
    """The snapshot as the worker sends it."""
    parts = []
    for n in range(0, len(slos), CHUNK):
        rows = [Row.of(i, snapshot.statuses[s.id]) for i, s in enumerate(slos[n : n + CHUNK], n)]
        parts.append(frame(Rows(rows)))
    parts.append(frame(Done(snapshot.queries, 0, snapshot.from_rules, CycleCost())))
    return b"".join(parts)


async def measure(n: int, cycles: int) -> dict[str, list[float]]:
    slos = [make_slo(f"svc{i % 50:03d}", f"slo{i}") for i in range(n)]
    freeze_long_lived()  # as `serve` does once the SLOs are loaded
    backend = PrometheusClient("http://prometheus.invalid", transport=answers(slos))
    evaluator = Evaluator(backend, mode=Mode.RULES)
    options = BackendOptions(url="http://unused", timeout=1, connect_timeout=1, max_concurrency=1)
    settings = EvaluatorSettings(mode=Mode.RULES, batch_size=10, concurrency=16, incremental=False)
    worker = Worker(options, settings)
    figures: dict[str, list[float]] = {k: [] for k in ("inline", "inline cpu", "process", "cpu")}
    figures.update({"chunk": [], "chunk cpu": [], "chunks": [], "total": []})
    previous = Snapshot.empty(slos)
    for _ in range(cycles):
        snapshot, longest, cpu = await held(lambda: evaluator.evaluate(slos, previous, AT))
        figures["inline"].append(longest)
        figures["inline cpu"].append(cpu)
        stream = asyncio.StreamReader()
        stream.feed_data(frames(slos, snapshot))
        stream.feed_eof()
        process: Any = SimpleNamespace(stdout=stream)
        taken, longest, cpu = await held(
            lambda: worker._take_in(process, slos, previous, AT)  # noqa: B023
        )
        assert taken.statuses == snapshot.statuses
        figures["process"].append(longest)
        figures["cpu"].append(cpu)
        figures["chunk"].append(worker.intake.longest)
        figures["chunk cpu"].append(worker.intake.longest_cpu)
        figures["chunks"].append(worker.intake.chunks)
        figures["total"].append(worker.intake.total)
    await backend.aclose()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--slos", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    f = asyncio.run(measure(args.slos, args.cycles))
    med = {k: statistics.median(v) for k, v in f.items()}
    print(f"{args.slos:,} SLOs, rules mode, median of {args.cycles} cycles")
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores shared)")
    print(f"{'serving loop':<28} {'inline':>10} {'process':>10} {'ratio':>7}")
    print(
        f"{'longest hold, ms':<28} {med['inline'] * 1000:>10.1f} {med['process'] * 1000:>10.2f}"
        f" {med['process'] / med['inline']:>7.3f}"
    )
    print(
        f"{'CPU per cycle, ms':<28} {med['inline cpu'] * 1000:>10.1f} {med['cpu'] * 1000:>10.1f}"
        f" {med['cpu'] / med['inline cpu']:>7.3f}"
    )
    print(
        f"worker intake: {med['chunks']:.0f} chunks of {CHUNK} SLOs, longest"
        f" {med['chunk'] * 1000:.2f} ms (chunk or final snapshot), total {med['total'] * 1000:.1f} ms"
        f" (max over cycles: longest {max(f['chunk']) * 1000:.2f} ms);"
        f" its CPU: {med['chunk cpu'] * 1000:.2f} ms, max {max(f['chunk cpu']) * 1000:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
