"""The pager's open incidents after each cycle: another replica's openings and resolutions are
seen, and a steady cycle reads only the incidents' keys, never their docs again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from slogate.config import parse_config
from slogate.core.incidents import Severity
from slogate.core.snapshot import SLOStatus, Snapshot
from slogate.notify.paging import Pager
from slogate.store.sqlite import SQLiteStore
from tests.factories import make_slo

NOW = 1_800_000_000.0
SLOS = [make_slo("checkout", f"slo{n}") for n in range(3)]
CONFIG = parse_config("")


def cycle(error_ratio: float) -> Snapshot:
    statuses = {
        s.id: SLOStatus(s, {w: error_ratio for w in s.windows.windows}, NOW, NOW) for s in SLOS
    }
    return Snapshot(statuses, NOW)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "s.db")
    await opened.open()
    yield opened
    await opened.close()


async def replica(store: SQLiteStore) -> Pager:
    pager = Pager(CONFIG.notifications, {}, store, clock=lambda: NOW)
    await pager.load()
    return pager


async def test_replicas_see_each_others_incidents_and_steady_cycles_read_no_docs(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, other = await replica(store), await replica(store)
    try:
        await one.after_cycle(cycle(0.1), set())  # 100x burn: every SLO pages
        pages = {(s.id, Severity.PAGE) for s in SLOS}
        assert pages <= set(one.open) and len(await store.open_incidents()) == len(one.open)
        reads = 0
        read = store.open_incidents

        async def counted() -> list:  # type: ignore[type-arg]
            nonlocal reads
            reads += 1
            return await read()

        monkeypatch.setattr(store, "open_incidents", counted)
        await other.after_cycle(cycle(0.1), set())  # new to it: docs read once
        assert set(other.open) == set(one.open) and reads == 1
        assert other.open[(SLOS[0].id, Severity.PAGE)].doc["slo"] == SLOS[0].name
        await other.after_cycle(cycle(0.1), set())
        await one.after_cycle(cycle(0.1), set())
        assert reads == 1  # steady: keys only
        await one.after_cycle(cycle(0.0), set())  # recovered: `one` resolves them all
        assert one.open == {} and await store.open_incident_keys() == set()
        changes = 0
        change = store.change_incidents

        async def counted_change(*args: object) -> list:  # type: ignore[type-arg]
            nonlocal changes
            changes += 1
            return await change(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "change_incidents", counted_change)
        await other.after_cycle(cycle(0.0), set())  # sees them gone: has nothing to resolve
        assert other.open == {} and reads == 1 and changes == 0
    finally:
        await one.aclose()
        await other.aclose()
