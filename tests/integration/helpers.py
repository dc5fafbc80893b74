"""Running slogate in-process against the test Prometheus, and what the traffic model expects."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from slogate.api import create_app
from slogate.config import parse_config
from slogate.demo import DEMO_TRAFFIC
from slogate.engine import Engine, SpecSource
from slogate.localprom import free_port
from slogate.metrics import Telemetry
from slogate.prometheus import PrometheusClient
from slogate.scheduler import start_scheduler
from slogate.traffic import Traffic

from ..conftest import DEMO_SPECS

TRAFFIC: dict[str, Traffic] = {t.service: t for t in DEMO_TRAFFIC}


def expected_ratio(service: str, anchor: float, at: float, window: float) -> float | None:
    """The exact error ratio of `service` over `window` seconds before `at`."""
    rel = at - anchor
    return TRAFFIC[service].error_ratio_between(rel - window, rel)


@dataclass
class Running:
    engine: Engine
    url: str
    http: httpx.AsyncClient

    async def gate(self, **params: str) -> tuple[int, Any]:
        response = await self.http.get("/v1/gate", params=params)
        return response.status_code, response.json()


@asynccontextmanager
async def running_slogate(
    prometheus_url: str,
    *,
    specs: Path = DEMO_SPECS,
    config_text: str = "",
    interval: str = "30s",
    schedule: bool = False,
) -> AsyncIterator[Running]:
    """slogate's engine and HTTP server on a free loopback port; one cycle run before yielding
    unless `schedule` runs cycles on the interval instead."""
    config = parse_config(
        config_text, "test", {"prometheus.url": prometheus_url, "evaluation.interval": interval}
    )
    client = PrometheusClient(prometheus_url, timeout=5.0, connect_timeout=1.0)
    engine = Engine(config, SpecSource(specs), client)
    assert engine.load().ok
    telemetry = Telemetry(lambda: engine.snapshot)
    engine.listeners.append(telemetry.observe_cycle)
    runner = web.AppRunner(create_app(engine, telemetry))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    scheduler = start_scheduler(engine) if schedule else None
    if not schedule:
        await engine.run_cycle()
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            yield Running(engine, url, http)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await runner.cleanup()
        await client.aclose()


async def run_cli(*args: str) -> tuple[int, str, str]:
    """Run `python -m slogate.cli ARGS` without blocking the event loop serving slogate."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "slogate.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
