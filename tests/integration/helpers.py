"""Running slogate in-process against the test Prometheus, and what the traffic model expects."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from slogate.cli.localprom import free_port
from slogate.cli.traffic import Traffic
from slogate.config import parse_config
from slogate.control.releases import ReleaseControl
from slogate.evaluation.engine import Engine, SpecSource
from slogate.evaluation.scheduler import start_scheduler
from slogate.notify.paging import Pager
from slogate.notify.sinks import Sink
from slogate.server.app import cancel, runtime
from slogate.server.auth import AdminTokens, Secrets

from ..conftest import DEMO_SPECS
from .conftest import HISTORY_TRAFFIC

TRAFFIC: dict[str, Traffic] = {t.service: t for t in HISTORY_TRAFFIC}


async def eventually(
    check: Callable[[], Any], what: str, within: float = 30.0, every: float = 0.1
) -> Any:
    """Call `check` (plain or async) until it gives something truthy, and return that.

    `within` bounds how long a test waits for another process (Prometheus, Alertmanager,
    slogate, a receiver) to get somewhere: a give-up time, not a speed requirement. Past it,
    TimeoutError names `what` and the last value seen."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up waiting for {what} after {within:g} s (last: {result!r})")
        await asyncio.sleep(every)


def expected_ratio(service: str, anchor: float, at: float, window: float) -> float | None:
    """The exact error ratio of `service` over `window` seconds before `at`."""
    rel = at - anchor
    return TRAFFIC[service].error_ratio_between(rel - window, rel)


ADMIN_TOKEN = "test-admin-token-0123456789"


@dataclass
class Running:
    engine: Engine
    control: ReleaseControl
    url: str
    http: httpx.AsyncClient
    pager: Pager

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

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
    store_path: Path | None = None,
    secrets: Secrets | None = None,
    sinks: dict[str, Sink] | None = None,
    clock: Callable[[], float] = time.time,
    send: bool = True,
) -> AsyncIterator[Running]:
    """slogate wired as `serve` wires it, on a free loopback port; one cycle run before
    yielding unless `schedule` runs cycles on the interval instead. The store is a fresh SQLite
    file unless `store_path` names one; `send` runs the notification sender."""
    with tempfile.TemporaryDirectory(prefix="slogate-test-") as tmp:
        overrides = {
            "prometheus.url": prometheus_url,
            "evaluation.interval": interval,
            "store.path": str(store_path or Path(tmp) / "slogate.db"),
        }
        config = parse_config(config_text, "test", overrides)
        tokens = AdminTokens({"admin": ADMIN_TOKEN})
        async with runtime(
            config,
            SpecSource(specs),
            tokens=tokens,
            secrets=secrets,
            sinks=sinks,
            clock=clock,
        ) as rt:
            port = free_port()
            await web.TCPSite(rt.runner, "127.0.0.1", port).start()
            scheduler = start_scheduler(rt.engine) if schedule else None
            sender = asyncio.create_task(rt.pager.run()) if send else None
            if not schedule:
                await rt.engine.run_cycle()
            url = f"http://127.0.0.1:{port}"
            try:
                async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                    yield Running(rt.engine, rt.control, url, http, rt.pager)
            finally:
                if scheduler is not None:
                    scheduler.shutdown(wait=False)
                if sender is not None:
                    await cancel(sender)


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


class ServeProcess:
    """`slogate serve` as a real process on a free loopback port (for signals and crashes)."""

    def __init__(
        self,
        prometheus_url: str,
        specs: Path,
        store: Path,
        *,
        config: Path | None = None,
        interval: str = "1s",
    ) -> None:
        self.args = [
            sys.executable,
            "-m",
            "slogate.cli",
            "serve",
            "--specs",
            str(specs),
            "--prometheus-url",
            prometheus_url,
            "--store",
            str(store),
            "--interval",
            interval,
        ]
        if config is not None:
            self.args += ["--config", str(config)]
        self.log = store.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.port = free_port()
        env = {**os.environ, "SLOGATE_ADMIN_TOKEN": ADMIN_TOKEN}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 (spawning does not block)
                [*self.args, "--listen", f"127.0.0.1:{self.port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(300):
                if self.process.poll() is not None:
                    raise RuntimeError(f"slogate exited: {self.log.read_text()[-3000:]}")
                try:
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"slogate not ready: {self.log.read_text()[-3000:]}")

    def signal(self, sig: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
