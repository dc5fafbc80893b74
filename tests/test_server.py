"""Process-level parts of `slogate serve`: the GC settings and the event-loop lag watch."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

from slogate.core.snapshot import Snapshot
from slogate.server.app import freeze_long_lived, watch_loop_lag
from slogate.telemetry.metrics import Telemetry


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
