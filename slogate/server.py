"""`slogate serve`: wire the backend client, engine, scheduler and HTTP API, and run them until
SIGTERM or SIGINT (SIGHUP reloads the specs)."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from slogate.api import create_app
from slogate.config import Config
from slogate.engine import Engine, SpecSource
from slogate.errors import ConfigError
from slogate.metrics import Telemetry
from slogate.prometheus import PrometheusClient
from slogate.scheduler import start_scheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Listen:
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigError(f"listen address must be HOST:PORT, got {text!r}")
        return cls(host.strip("[]") or "127.0.0.1", int(port))


def read_secret_file(path: str) -> str:
    """The first line of a secret file (token files end with a newline)."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read secret file {path}: {exc.strerror}") from None


def backend_client(config: Config) -> PrometheusClient:
    prom = config.prometheus
    if not prom.url:
        raise ConfigError("no Prometheus URL: pass --prometheus-url or set prometheus.url")
    headers = dict(prom.headers)
    if prom.bearer_token_file:
        headers["Authorization"] = f"Bearer {read_secret_file(prom.bearer_token_file)}"
    return PrometheusClient(
        prom.url,
        timeout=prom.timeout,
        connect_timeout=prom.connect_timeout,
        max_concurrency=prom.max_concurrency,
        headers=headers,
    )


async def serve(config: Config, specs: SpecSource, *, ready: asyncio.Event | None = None) -> None:
    """Run slogate until a stop signal. Raises `ConfigError` when it cannot start."""
    listen = Listen.parse(config.server.listen)
    client = backend_client(config)
    engine = Engine(config, specs, client)
    result = engine.load()
    if not result.ok:
        await client.aclose()
        raise ConfigError("invalid specs:\n" + "\n".join(e.line() for e in result.errors))
    telemetry = Telemetry(lambda: engine.snapshot)
    engine.listeners.append(telemetry.observe_cycle)
    app = create_app(engine, telemetry)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, listen.host, listen.port, shutdown_timeout=10)
    await site.start()
    scheduler = start_scheduler(engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, engine.load)
    log.info(
        "slogate serving %d SLOs on http://%s:%d, evaluating every %gs against %s",
        len(engine.slos),
        listen.host,
        listen.port,
        config.interval,
        config.prometheus.url,
    )
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        scheduler.shutdown(wait=False)
        await runner.cleanup()
        await client.aclose()
