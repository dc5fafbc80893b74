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

Then what `serve` does on the same loop after each cycle, whichever the worker mode: halts
(`ReleaseControl.apply_halts`) and pages (`Pager.after_cycle`), on a SQLite store in a temp
dir, with a quarter of the budgets exhausted: the first cycle halts and pages for all of them
(a fleet-wide outage), the next ones change nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slogate.config import parse_config  # noqa: E402
from slogate.control.releases import ReleaseControl  # noqa: E402
from slogate.core.model import SLO  # noqa: E402
from slogate.core.snapshot import SLOStatus, Snapshot  # noqa: E402
from slogate.evaluation.backend_options import BackendOptions  # noqa: E402
from slogate.evaluation.costs import CycleCost  # noqa: E402
from slogate.evaluation.evaluator import Evaluator, Mode  # noqa: E402
from slogate.evaluation.prometheus import PrometheusClient  # noqa: E402
from slogate.evaluation.settings import EvaluatorSettings  # noqa: E402
from slogate.evaluation.worker import CHUNK, Done, Row, Rows, Worker, frame  # noqa: E402
from slogate.notify.paging import Pager  # noqa: E402
from slogate.server.app import freeze_long_lived  # noqa: E402
from slogate.store.sqlite import SQLiteStore  # noqa: E402
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


async def after_cycles(n: int, cycles: int) -> list[tuple[float, float, int]]:
    """Per cycle: the longest hold of the loop by halts and pages after it, their CPU seconds
    and how many halts they made. Every fourth SLO's budget is spent twice over."""
    slos = [make_slo(f"svc{i % 50:03d}", f"slo{i}") for i in range(n)]
    statuses = {}
    for i, slo in enumerate(slos):
        ratio = slo.error_budget * (2.0 if i % 4 == 0 else 0.1)
        statuses[slo.id] = SLOStatus(slo, {w: ratio for w in slo.windows.windows}, AT, AT)
    snapshot = Snapshot(statuses, AT)
    config = parse_config("")
    results = []
    with tempfile.TemporaryDirectory(prefix="slogate-intake-") as tmp:
        store = SQLiteStore(Path(tmp) / "s.db")
        await store.open()
        control = ReleaseControl(store, clock=lambda: AT)
        pager = Pager(config.notifications, {}, store, clock=lambda: AT)
        try:
            for _ in range(cycles):
                halts = 0

                async def listeners() -> Snapshot:
                    nonlocal halts
                    halts = len(await control.apply_halts(snapshot, config.policy))
                    await pager.after_cycle(snapshot, control.halted())
                    return snapshot

                _, longest, cpu = await held(listeners)
                results.append((longest, cpu, halts))
        finally:
            await pager.aclose()
            await store.close()
    return results


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
    after = asyncio.run(after_cycles(args.slos, args.cycles))
    print("after each cycle, halts and pages on the serving loop (any worker mode):")
    for n, (longest, cpu, halts) in enumerate(after, 1):
        print(
            f"  cycle {n}: {halts:,} halts, longest hold {longest * 1000:.1f} ms,"
            f" CPU {cpu * 1000:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
