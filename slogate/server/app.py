"""`slogate serve`: wire the store, backend client, engine, scheduler and HTTP API, and run them
until SIGTERM or SIGINT. SIGHUP, or a change to a spec or the config file, reloads both."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from slogate.config import Config
from slogate.control.deployments import Deliveries
from slogate.control.releases import ReleaseControl
from slogate.core.answers import AnswerCache
from slogate.core.ids import ulid
from slogate.core.snapshot import Snapshot
from slogate.errors import ConfigError
from slogate.evaluation.backend_options import BackendOptions
from slogate.evaluation.engine import ConfigSource, Engine, SpecSource
from slogate.evaluation.flavors import Flavor, query_params
from slogate.evaluation.prometheus import PrometheusClient
from slogate.evaluation.reload import watch
from slogate.evaluation.scheduler import start_scheduler
from slogate.notify.paging import Pager
from slogate.notify.sinks import (
    OPSGENIE_URL,
    PAGERDUTY_URL,
    AlertmanagerSink,
    OpsgenieSink,
    PagerDutySink,
    Sink,
    SlackSink,
    WebhookSink,
)
from slogate.server import access, canary_api, kayenta_api, webhooks
from slogate.server.auth import AdminTokens, Secrets
from slogate.server.github_auth import app_key
from slogate.server.keys import (
    ANSWERS,
    CHARTS,
    CONTROL,
    DELIVERIES,
    ENGINE,
    PAGER,
    SECRETS,
    TELEMETRY,
    TOKENS,
)
from slogate.server.limits import ConnectionGuard, GuardedSite, guarded_runner
from slogate.server.routes import ROUTES, add_routes
from slogate.server.status_charts import StatusCharts
from slogate.server.web import errors_middleware
from slogate.store.base import Store
from slogate.store.diskguard import DiskGuard
from slogate.store.factory import PASSWORD_ENV, describe, store_from_config
from slogate.store.housekeeping import Housekeeping
from slogate.telemetry.delivery import observe_deliveries
from slogate.telemetry.logs import register_secret
from slogate.telemetry.metrics import Telemetry
from slogate.telemetry.tracing import setup_from_env

log = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


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


def read_secret(env: str, path: str) -> str:
    """A secret from the environment variable `env`, else from the file `path` (first line)."""
    if env and (value := os.environ.get(env, "").strip()):
        return register_secret(value)
    if not path:
        return ""
    try:
        return register_secret(Path(path).read_text(encoding="utf-8").strip())
    except OSError as exc:
        raise ConfigError(f"cannot read secret file {path}: {exc.strerror}") from None


def backend_options(config: Config) -> BackendOptions:
    prom = config.prometheus
    if not prom.url:
        raise ConfigError("no Prometheus URL: pass --prometheus-url or set prometheus.url")
    return BackendOptions(
        url=prom.url,
        timeout=float(prom.timeout),
        connect_timeout=float(prom.connect_timeout),
        max_concurrency=prom.max_concurrency,
        headers=dict(prom.headers),
        params=dict(query_params(Flavor(prom.flavor))),
        token=read_secret("SLOGATE_PROMETHEUS_TOKEN", prom.bearer_token_file),
    )


def backend_client(config: Config) -> PrometheusClient:
    return backend_options(config).client()


def build_sinks(config: Config) -> dict[str, Sink]:
    """The configured sinks, their secrets read from env or files (never from the config)."""
    notifications = config.notifications
    resend = 4 * max(config.interval, 60.0)  # as Prometheus: alerts outlive a few missed re-sends
    sinks: dict[str, Sink] = {}
    for sink in notifications.sinks:
        url = sink.url or read_secret(sink.url_env or "-", sink.url_file)
        secret = read_secret(sink.secret_env or "-", sink.secret_file)
        if sink.type in ("pagerduty", "opsgenie", "webhook") and not secret:
            raise ConfigError(
                f"sink {sink.name}: its secret ({sink.secret_env or sink.secret_file}) is empty"
            )
        if sink.type in ("alertmanager", "slack", "webhook") and not url:
            raise ConfigError(
                f"sink {sink.name}: its URL ({sink.url_env or sink.url_file}) is empty"
            )
        if sink.type == "alertmanager":
            sinks[sink.name] = AlertmanagerSink(sink.name, url, resend)
        elif sink.type == "pagerduty":
            sinks[sink.name] = PagerDutySink(sink.name, secret, url or PAGERDUTY_URL)
        elif sink.type == "opsgenie":
            sinks[sink.name] = OpsgenieSink(sink.name, secret, url or OPSGENIE_URL)
        elif sink.type == "slack":
            sinks[sink.name] = SlackSink(sink.name, url)
        else:
            sinks[sink.name] = WebhookSink(sink.name, url, secret)
    return sinks


FULL_COLLECTION_EVERY = 100
"""Collections of the middle generation between two full ones (CPython's default: 10)."""


def freeze_long_lived() -> None:
    """Take what lives as long as the process or the loaded specs (modules, SLO models, config)
    out of the cyclic garbage collector's sight. Its full collections then scan only what the
    cycles and requests create: with 1,000 SLOs loaded they paused the event loop for up to
    ~100 ms (the gate's p99) and now for ~10 ms. Frozen objects are still freed by reference
    counting when they are dropped (e.g. the old SLO models after a reload).

    Full collections are also made ten times rarer. Each snapshot's statuses survive the young
    collections, and with the defaults that set off a full one about every 2 s of serving at
    10,000 SLOs, 45-65 ms of CPU each (10-11 in a 26 s run of back-to-back cycles, against 1
    now). Garbage in a cycle of references, which is what they are for, lives a little longer."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


async def watch_loop_lag(telemetry: Telemetry, every: float = 0.1) -> None:
    """Observe, `every` seconds, how late the event loop woke a timer that was due."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + every
        await asyncio.sleep(every)
        telemetry.loop_lag.observe(max(0.0, loop.time() - due))


class Reloader:
    """Reload config then specs; reschedule when the interval changed."""

    def __init__(self, engine: Engine, telemetry: Telemetry, scheduler: AsyncIOScheduler) -> None:
        self.engine, self.telemetry, self.scheduler = engine, telemetry, scheduler

    def __call__(self) -> None:
        interval = self.engine.config.interval
        config = self.engine.reload_config()
        specs = self.engine.load()
        self.telemetry.observe_reload("config", config.ok)
        self.telemetry.observe_reload("specs", specs.ok)
        if specs.ok:
            freeze_long_lived()
        if self.engine.config.interval != interval:
            self.scheduler.reschedule_job(
                "evaluate", trigger="interval", seconds=self.engine.config.interval
            )


def create_app(
    engine: Engine,
    telemetry: Telemetry,
    control: ReleaseControl,
    *,
    tokens: AdminTokens | None = None,
    secrets: Secrets | None = None,
    pager: Pager | None = None,
    deliveries: Deliveries | None = None,
    charts: StatusCharts | None = None,
) -> web.Application:
    """The aiohttp application: its state, the route table, the webhooks' own client."""
    tokens = tokens or AdminTokens({})
    app = web.Application(
        middlewares=[
            errors_middleware,
            access.middleware(engine.config.server.limits, tokens, telemetry),
        ],
        client_max_size=engine.config.server.max_body_bytes,
    )
    app[ENGINE] = engine
    app[TELEMETRY] = telemetry
    app[CONTROL] = control
    app[TOKENS] = tokens
    app[SECRETS] = secrets or Secrets()
    app[ANSWERS] = AnswerCache()
    wired = set()
    if pager is not None:
        app[PAGER] = pager
        wired.add("paging")
    if deliveries is not None:
        app[DELIVERIES] = deliveries
        wired.add("deliveries")
    if charts is not None:
        app[CHARTS] = charts
    add_routes(app, ROUTES, wired=wired)
    webhooks.setup(app)
    canary_api.setup(app)
    kayenta_api.setup(app)
    return app


@dataclass
class Runtime:
    """Everything one slogate process runs, wired together. `runner` has set the app up (store
    open, state loaded) but no site listens yet."""

    engine: Engine
    control: ReleaseControl
    pager: Pager
    telemetry: Telemetry
    app: web.Application
    runner: web.AppRunner
    housekeeping: Housekeeping


def _closing(client: PrometheusClient, engine: Engine) -> CleanupContext:
    async def context(app: web.Application) -> AsyncIterator[None]:
        yield
        try:
            await engine.aclose()  # its worker process, if any: none outlives serve
        finally:
            await client.aclose()

    return context


def _opened(
    store: Store, described: str, guard: DiskGuard | None, control: ReleaseControl, pager: Pager
) -> CleanupContext:
    async def context(app: web.Application) -> AsyncIterator[None]:
        await store.open()
        log.info("store: %s", described)
        if guard is not None:
            guard.refresh()
        try:
            await control.load()
            await pager.load()
            yield
        finally:
            await pager.aclose()
            await store.close()

    return context


@contextlib.asynccontextmanager
async def runtime(
    config: Config,
    specs: SpecSource,
    *,
    config_source: ConfigSource | None = None,
    tokens: AdminTokens | None = None,
    secrets: Secrets | None = None,
    sinks: dict[str, Sink] | None = None,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Runtime]:
    """Load specs, wire evaluation, halts, paging and the API, and set the app up.

    Long-lived resources (the backend client, the store, the sinks) open in the app's
    `cleanup_ctx` and close with it, in reverse order, whatever failed: a start that stops
    half-way leaks nothing. Raises `ConfigError` (nothing left open) when the specs or the
    sinks' secrets are invalid, `StoreError` when the store cannot be opened.
    """
    pager_sinks = build_sinks(config) if sinks is None else sinks
    client = backend_client(config)
    # The worker builds a client of its own; this one stays for the canary judge and charts.
    worker = backend_options(config) if config.evaluation.worker == "process" else None
    engine = Engine(config, specs, client, config_source=config_source, clock=clock, worker=worker)
    result = engine.load()
    if not result.ok:
        await client.aclose()
        raise ConfigError("invalid specs:\n" + "\n".join(result.errors))
    retention = config.store.retention_config
    # The free-space floor guards a local SQLite file; PostgreSQL watches its own disk.
    guard = (
        None if config.store.url else DiskGuard(Path(config.store.path), retention.min_free_bytes)
    )
    password = read_secret(PASSWORD_ENV, config.store.password_file)
    store = store_from_config(config.store, password, guard)
    housekeeping = Housekeeping(store, retention, guard, clock)
    pager = Pager(
        config.notifications,
        pager_sinks,
        store,
        owner=f"{socket.gethostname()}/{os.getpid()}/{ulid(time.time())}",
        lease=2 * config.interval,  # a dead sender's rows are taken over within two intervals
    )
    control = ReleaseControl(store)
    telemetry = Telemetry(
        lambda: engine.snapshot, control=control, pager=pager, housekeeping=housekeeping
    )
    pager.on_outcome = telemetry.observe_notification
    engine.listeners.append(telemetry.observe_cycle)

    async def halt_and_page(snapshot: Snapshot) -> None:
        await control.apply_halts(snapshot, engine.config.policy)
        await pager.after_cycle(snapshot, control.halted())

    engine.listeners.append(halt_and_page)
    deliveries = Deliveries(store, lambda: engine.config.dora, clock=clock)
    observe_deliveries(telemetry.registry, deliveries)
    engine.listeners.append(
        lambda snapshot: deliveries.refresh(s.slo.service for s in snapshot.statuses.values())
    )
    app = create_app(
        engine,
        telemetry,
        control,
        tokens=tokens,
        secrets=secrets,
        pager=pager,
        deliveries=deliveries,
        charts=StatusCharts(client, store, deliveries, clock=clock),
    )
    app.cleanup_ctx.append(_closing(client, engine))
    app.cleanup_ctx.append(_opened(store, describe(config.store), guard, control, pager))
    runner = guarded_runner(app, config.server.limits)
    try:
        await runner.setup()
        yield Runtime(engine, control, pager, telemetry, app, runner, housekeeping)
    finally:
        await runner.cleanup()  # stops accepting, waits for in-flight requests, then closes


async def cancel(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def serve(
    config: Config,
    specs: SpecSource,
    *,
    config_source: ConfigSource | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run slogate until a stop signal. Raises `ConfigError` when it cannot start."""
    setup_from_env()
    listen = Listen.parse(config.server.listen)
    tokens = AdminTokens.load(config.server.admin_token_file)
    secrets = Secrets(
        github_webhook_secret=read_secret(
            "SLOGATE_GITHUB_WEBHOOK_SECRET", config.github.webhook_secret_file
        ),
        github_token=read_secret("SLOGATE_GITHUB_TOKEN", config.github.token_file),
        github_private_key=read_secret(
            "SLOGATE_GITHUB_APP_PRIVATE_KEY", config.github.private_key_file
        ),
    )
    app_key(config.github, secrets.github_private_key)  # half an app, or a bad key: stop here
    async with runtime(
        config, specs, config_source=config_source, tokens=tokens, secrets=secrets
    ) as rt:
        freeze_long_lived()  # before listening: the collection it starts with takes a while
        guard = ConnectionGuard(config.server.limits, rt.telemetry.observe_rejected_connection)
        rt.telemetry.connections_open.set_function(lambda: guard.open)
        await GuardedSite(rt.runner, guard, listen.host, listen.port).start()
        sender = asyncio.create_task(rt.pager.run())
        lag = asyncio.create_task(watch_loop_lag(rt.telemetry))
        keeper = asyncio.create_task(rt.housekeeping.run())
        scheduler = start_scheduler(rt.engine)
        reloader = Reloader(rt.engine, rt.telemetry, scheduler)
        watched = [specs.path] + (
            [config_source.path] if config_source and config_source.path else []
        )
        watcher = asyncio.create_task(watch(watched, reloader, config.specs.watch_interval))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reloader)
        log.info(
            "slogate serving %d SLOs on http://%s:%d, evaluating every %gs against %s",
            len(rt.engine.slos),
            listen.host,
            listen.port,
            config.interval,
            config.prometheus.url,
        )
        if not tokens.configured:
            log.warning("no admin token configured: the freeze and exemption API is disabled")
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            log.info("stopping: draining requests")
            await cancel(watcher, sender, lag, keeper)  # pending notifications stay in the outbox
            scheduler.shutdown(wait=False)
