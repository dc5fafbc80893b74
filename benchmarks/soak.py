"""Soak: a steady moderate rate of gate calls for a long while, retention set short, and
whether anything grows: RSS, open descriptors, the store's size on disk, p99 latency.

    python benchmarks/soak.py [--duration 20m] [--rate 50] [--samples 10]

slogate runs as `slogate serve` against a Prometheus on 127.0.0.1 scraping the demo's live
exporter (no backfilled history: the figures are flat lines, not the SLOs' verdicts), with
`store.retention.decisions` at a tenth of the run (at least 30 s) and pruning every 5 s. Load
is paced by the clock from one keep-alive client of 8 connections (a tick finding all 8 busy is
skipped and counted, rather than queued in the client). Every
sample prints the window's p99 and the process' RSS, descriptors and store bytes; the last
line is each figure's last sample as a ratio to its first (after retention's first pass).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from load import rss_mb, start_slogate  # benchmarks/load.py

from slogate.cli.demo import start_exporter
from slogate.cli.localprom import LocalPrometheus
from slogate.core.durations import format_duration, parse_duration

ROOT = Path(__file__).resolve().parent.parent


def start_prometheus(workdir: Path) -> LocalPrometheus:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    anchor = math.floor(time.time() / 60) * 60
    _runner, port = asyncio.run_coroutine_threadsafe(start_exporter(anchor), loop).result(30)
    prometheus = LocalPrometheus(workdir, jobs={"slogate-demo": [f"127.0.0.1:{port}"]})
    prometheus.start()
    return prometheus


def store_bytes(db: Path) -> int:
    files = (db, db.with_name(db.name + "-wal"))
    return sum(f.stat().st_size for f in files if f.exists())


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000 if ordered else math.nan


CONNECTIONS = 8


async def paced_load(url: str, rate: float, until: float, window: list[float]) -> list[int]:
    """Gate calls on a clock of `rate` ticks a second over `CONNECTIONS` keep-alive
    connections. A tick that finds every connection busy is skipped and counted, so the
    latency is the gate's, not a queue's growing in this client. Returns [failed, skipped]."""
    counts = [0, 0]
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    busy = 0
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as http:

        async def call() -> None:
            nonlocal busy
            started = time.monotonic()
            try:
                response = await http.get("/v1/gate", params={"service": "checkout"})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            finally:
                busy -= 1
            counts[0] += not ok
            window.append(time.monotonic() - started)

        tasks: set[asyncio.Task[None]] = set()
        tick = time.monotonic()
        while tick < until:
            if busy < CONNECTIONS:
                busy += 1
                task = asyncio.create_task(call())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            else:
                counts[1] += 1
            tick += 1 / rate
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
        await asyncio.gather(*tasks)
    return counts


async def soak(url: str, pid: int, db: Path, duration: float, rate: float, samples: int) -> None:
    start = time.monotonic()
    window: list[float] = []
    load = asyncio.create_task(paced_load(url, rate, start + duration, window))
    rows: list[tuple[float, float, int, int, int]] = []
    print(f"{'t':>6} {'calls':>7} {'p99 ms':>7} {'RSS MB':>7} {'fds':>5} {'store MB':>9}")
    for n in range(1, samples + 1):
        await asyncio.sleep(max(0.0, start + n * duration / samples - time.monotonic()))
        calls, latency = len(window), p99(window)
        window.clear()
        row = (latency, rss_mb(pid), len(os.listdir(f"/proc/{pid}/fd")), store_bytes(db), calls)
        rows.append(row)
        print(
            f"{format_duration(round(n * duration / samples)):>6} {calls:>7} {row[0]:>7.2f}"
            f" {row[1]:>7.1f} {row[2]:>5} {row[3] / 1e6:>9.2f}"
        )
    failures, skipped = await load
    first, last = rows[1] if len(rows) > 2 else rows[0], rows[-1]
    print(
        f"last/second sample: p99 {last[0] / first[0]:.2f}, RSS {last[1] / first[1]:.2f},"
        f" fds {last[2] / first[2]:.2f}, store {last[3] / max(1, first[3]):.2f};"
        f" failed calls: {failures}, ticks skipped (all {CONNECTIONS} connections busy): {skipped}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="20m")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    duration = parse_duration(args.duration)
    if not 10 <= duration <= 3600 or args.samples < 2:
        parser.error("--duration from 10s to 1h, --samples at least 2")
    keep = format_duration(max(30, round(duration / 10)))
    config = (
        f"store: {{prune_every: 5s, retention: {{decisions: {keep}}}}}\n"
        "server: {rate_limit: {rate: 0}}\n"
    )
    with tempfile.TemporaryDirectory(prefix="slogate-soak-") as tmp:
        workdir = Path(tmp)
        prometheus = start_prometheus(workdir)
        process, url = start_slogate(
            prometheus.url, ROOT / "slo_specs", workdir, "10s", extra_config=config
        )
        try:
            db = next(workdir.glob("slogate-*.db"))
            print(f"{args.rate:g} gate calls/s for {args.duration}, decisions kept {keep}")
            asyncio.run(soak(url, process.pid, db, duration, args.rate, args.samples))
        finally:
            process.terminate()
            process.wait(30)
            prometheus.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
