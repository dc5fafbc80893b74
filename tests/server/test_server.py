"""Process-level parts of `slogate serve`: the GC settings, the event-loop lag watch, and
starting and stopping without leaks."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from pathlib import Path

import pytest

from slogate.config import Config, StoreConfig, parse_config
from slogate.core.snapshot import Snapshot
from slogate.errors import ConfigError, StoreError
from slogate.evaluation.engine import SpecSource
from slogate.evaluation.prometheus import PrometheusClient
from slogate.server import app as app_module
from slogate.server.app import freeze_long_lived, runtime, watch_loop_lag
from slogate.store.diskguard import DiskGuard
from slogate.store.sqlite import SQLiteStore
from slogate.telemetry.metrics import Telemetry
from tests.conftest import DEMO_SPECS


class Model:
    """Stands for a loaded SLO model."""


def test_long_lived_objects_leave_the_collectors_sight_and_are_still_freed() -> None:
    models = [Model() for _ in range(1000)]
    first = weakref.ref(models[0])
    before = gc.get_freeze_count()
    try:
        freeze_long_lived()
        assert gc.get_freeze_count() >= before + 1000
        assert not any(gc.is_tracked(m) and m in gc.get_objects(2) for m in models[:1])
        del models  # a reload drops the old models: reference counting frees them
        assert first() is None
    finally:
        gc.unfreeze()


def full_collections_over_snapshots(snapshots: int, size: int) -> int:
    """Full collections while `snapshots` sets of `size` containers are built, each kept until
    the next replaces it (as the statuses of each evaluation cycle are)."""
    count = 0

    def seen(phase: str, info: dict[str, int]) -> None:
        nonlocal count
        count += phase == "stop" and info["generation"] == 2

    gc.callbacks.append(seen)
    try:
        for _ in range(snapshots):
            kept = [[n] for n in range(size)]
    finally:
        gc.callbacks.remove(seen)
    del kept
    return count


def test_full_collections_are_ten_times_rarer_once_serving() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        default = full_collections_over_snapshots(100, 10_000)
        freeze_long_lived()
        ours = full_collections_over_snapshots(100, 10_000)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert default >= 10 and ours <= default // 5
    assert gc.get_threshold() == before


async def test_a_blocked_event_loop_shows_as_lag() -> None:
    telemetry = Telemetry(lambda: Snapshot.empty(()))
    watcher = asyncio.create_task(watch_loop_lag(telemetry, every=0.01))
    await asyncio.sleep(0.05)
    time.sleep(0.2)  # noqa: ASYNC251 (on purpose: a handler that blocks the loop for 200 ms)
    await asyncio.sleep(0.05)
    watcher.cancel()
    samples = {
        (s.name, s.labels.get("le")): s.value
        for metric in telemetry.loop_lag.collect()
        for s in metric.samples
    }
    count = samples[("slogate_event_loop_lag_seconds_count", None)]
    assert count >= 3
    assert samples[("slogate_event_loop_lag_seconds_bucket", "0.1")] <= count - 1
    assert samples[("slogate_event_loop_lag_seconds_sum", None)] >= 0.19


# --- A start that fails half-way leaks nothing -------------------------------------------------


SPECS = DEMO_SPECS


class Recorder:
    """Wraps what `runtime` opens, to see what it closed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clients: list[PrometheusClient] = []
        self.stores: list[SQLiteStore] = []
        real_client = app_module.backend_client

        def client(config: Config) -> PrometheusClient:
            self.clients.append(real_client(config))
            return self.clients[-1]

        def store(config: StoreConfig, password: str, guard: DiskGuard | None) -> SQLiteStore:
            self.stores.append(SQLiteStore(Path(config.path), guard=guard))
            return self.stores[-1]

        monkeypatch.setattr(app_module, "backend_client", client)
        monkeypatch.setattr(app_module, "store_from_config", store)


async def test_a_store_that_cannot_open_closes_the_backend_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Recorder(monkeypatch)
    config = parse_config(
        f"prometheus: {{url: 'http://127.0.0.1:1'}}\nstore: {{path: '{tmp_path}'}}"
    )
    with pytest.raises(StoreError):
        async with runtime(config, SpecSource(SPECS)):
            pass
    [client] = opened.clients
    assert client.closed


async def test_an_empty_sink_secret_opens_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Recorder(monkeypatch)
    monkeypatch.setenv("PD_KEY", "")
    config = parse_config(
        "prometheus: {url: 'http://127.0.0.1:1'}\n"
        f"store: {{path: '{tmp_path / 'slogate.db'}'}}\n"
        "notifications: {sinks: [{name: pd, type: pagerduty, secret_env: PD_KEY}]}"
    )
    with pytest.raises(ConfigError, match="sink pd: its secret"):
        async with runtime(config, SpecSource(SPECS)):
            pass
    assert opened.clients == [] and opened.stores == []
    assert not (tmp_path / "slogate.db").exists()


async def test_a_started_runtime_closes_everything_it_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Recorder(monkeypatch)
    config = parse_config(
        f"prometheus: {{url: 'http://127.0.0.1:1'}}\nstore: {{path: '{tmp_path / 'x.db'}'}}"
    )
    async with runtime(config, SpecSource(SPECS)) as rt:
        [store] = opened.stores
        assert store.is_open and rt.control.freezes() == []
    assert opened.clients[0].closed and not store.is_open
