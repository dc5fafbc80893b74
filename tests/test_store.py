"""The SQLite store on a real file: schema, durability of each kind of record, group commit."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from slogate.core.overrides import Exemption, Freeze, FreezeKind
from slogate.errors import StoreError
from slogate.store.base import AdminAction, DecisionQuery, DecisionRecord
from slogate.store.sqlite import MIGRATIONS, SQLiteStore

ACTION = AdminAction(1.0, "alice", "freeze", "f1", {"why": "test"})


def record(n: int, service: str = "checkout", at: float | None = None) -> DecisionRecord:
    return DecisionRecord(
        f"01D{n:023d}",
        at if at is not None else 1000.0 + n,
        service,
        "allow",
        "api",
        json.dumps({"n": n}),
    )


async def opened(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    await store.open()
    return store


def schema_versions(path: Path) -> list[tuple[int]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version FROM schema_version").fetchall()
    finally:
        conn.close()


async def test_schema_version_and_wal(tmp_path: Path) -> None:
    store = await opened(tmp_path / "s.db")
    await store.close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    assert schema_versions(tmp_path / "s.db") == [(len(MIGRATIONS),)]


async def test_reopening_migrates_nothing_and_keeps_data(tmp_path: Path) -> None:
    store = await opened(tmp_path / "s.db")
    written = [record(1), record(2, "search")]
    for item in written:
        await store.record_decision(item)
    await store.close()
    again = await opened(tmp_path / "s.db")
    try:
        assert await again.decisions(DecisionQuery(limit=10)) == written[::-1]
        await again.record_decision(record(3))
        assert [r.body["n"] for r in await again.decisions(DecisionQuery(limit=10))] == [3, 2, 1]
    finally:
        await again.close()
    assert schema_versions(tmp_path / "s.db") == [(len(MIGRATIONS),)]


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    await (await opened(tmp_path / "s.db")).close()
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this slogate"):
        await opened(tmp_path / "s.db")


async def test_decisions_newest_first_filtered_and_paged(tmp_path: Path) -> None:
    store = await opened(tmp_path / "s.db")
    await asyncio.gather(
        *(store.record_decision(record(n, "checkout" if n % 2 else "search")) for n in range(10))
    )
    page = await store.decisions(DecisionQuery(limit=3))
    assert [r.body["n"] for r in page] == [9, 8, 7]
    following = await store.decisions(DecisionQuery(limit=3, before=page[-1].id))
    assert [r.body["n"] for r in following] == [6, 5, 4]
    checkout = await store.decisions(DecisionQuery(service="checkout", limit=50))
    assert [r.body["n"] for r in checkout] == [9, 7, 5, 3, 1]
    window = await store.decisions(DecisionQuery(since=1003.0, until=1006.0, limit=50))
    assert [r.body["n"] for r in window] == [5, 4, 3]
    await store.close()


async def test_concurrent_writes_share_commits(tmp_path: Path) -> None:
    store = await opened(tmp_path / "s.db")
    await asyncio.gather(*(store.record_decision(record(n)) for n in range(500)))
    assert len(await store.decisions(DecisionQuery(limit=500))) == 500
    assert store.commits < 500  # group commit: many decisions per fsync
    await store.close()


async def test_a_large_batch_of_decisions_goes_in_whole(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", max_batch=2000)
    await store.open()
    await asyncio.gather(*(store.record_decision(record(n)) for n in range(1234)))
    found = await store.decisions(DecisionQuery(limit=500))
    assert [r.body["n"] for r in found] == list(range(1233, 733, -1))
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (1234,)
    assert store.commits <= 3
    await store.close()


async def test_a_failing_write_does_not_undo_its_batch(tmp_path: Path) -> None:
    store = await opened(tmp_path / "s.db")
    results = await asyncio.gather(
        store.record_decision(record(1)),
        store.record_decision(record(1)),  # same id: constraint violation
        store.record_decision(record(2)),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], StoreError)
    assert {r.body["n"] for r in await store.decisions(DecisionQuery())} == {1, 2}
    await store.close()


async def test_freezes_and_exemptions_survive_reopen(tmp_path: Path) -> None:
    store = await opened(tmp_path / "s.db")
    freeze = Freeze("f1", "checkout", "incident", 10.0, "alice", 99.0, FreezeKind.MANUAL)
    system = Freeze(
        "f2", "search", "budget", 11.0, "slogate", None, FreezeKind.SYSTEM, "availability"
    )
    exemption = Exemption("e1", "search", "fix", 12.0, "bob", 500.0, change_type="security")
    await store.save_freeze(freeze, ACTION)
    await store.save_freeze(system, ACTION)
    await store.save_exemption(exemption, ACTION)
    assert await store.lift_freeze("f1", AdminAction(20.0, "carol", "lift", "f1", {}))
    assert not await store.lift_freeze("f1", AdminAction(21.0, "carol", "lift", "f1", {}))
    await store.close()
    store = await opened(tmp_path / "s.db")
    assert await store.active_freezes() == [system]
    assert await store.active_exemptions() == [exemption]
    actions = await store.admin_actions()
    assert [(a.actor, a.action) for a in actions] == [
        ("carol", "lift"),
        ("alice", "freeze"),
        ("alice", "freeze"),
        ("alice", "freeze"),
    ]
    await store.close()


async def test_unwritable_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match="cannot open"):
        await opened(tmp_path / "dir.db")
    closed = SQLiteStore(tmp_path / "never.db")
    with pytest.raises(StoreError, match="not open"):
        await closed.record_decision(record(1))
