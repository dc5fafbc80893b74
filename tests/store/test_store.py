"""Both stores, SQLite on a real file and PostgreSQL on a real server, through one suite:
schema, durability of each kind of record, group commit, and what replicas sharing one store
rely on (the overrides version, one halt per SLO, incidents opened once, outbox leases)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from slogate.core.ids import ulid
from slogate.core.overrides import Exemption, Freeze, FreezeKind
from slogate.errors import StaleOverridesError, StoreError
from slogate.store.base import (
    AdminAction,
    DecisionQuery,
    DecisionRecord,
    IncidentChange,
    OpenIncident,
    OutboxEntry,
    Store,
)
from slogate.store.postgresql import MIGRATIONS as PG_MIGRATIONS
from slogate.store.postgresql import PostgreSQLStore
from slogate.store.sqlite import MIGRATIONS, SQLiteStore
from tests.postgres import PASSWORD, LocalPostgres

ACTION = AdminAction(1.0, "alice", "freeze", "f1", {"why": "test"})
Opener = Callable[..., Any]


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


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "s.db")
    server: LocalPostgres = request.getfixturevalue("postgres")
    return server.fresh_database()


def make_store(location: str, max_batch: int = 256) -> SQLiteStore | PostgreSQLStore:
    if location.startswith("postgresql://"):
        return PostgreSQLStore(location, password=PASSWORD, max_batch=max_batch, timeout=10)
    return SQLiteStore(Path(location), max_batch=max_batch)


@pytest.fixture
async def open_store(location: str) -> AsyncIterator[Callable[..., Any]]:
    """Opens stores on the test's location (again and again: each is a fresh connection)."""
    stores: list[Store] = []

    async def open_one(max_batch: int = 256) -> SQLiteStore | PostgreSQLStore:
        store = make_store(location, max_batch)
        await store.open()
        stores.append(store)
        return store

    yield open_one
    for store in stores:
        await store.close()


def test_both_stores_have_the_same_schema_versions() -> None:
    assert len(MIGRATIONS) == len(PG_MIGRATIONS)
    tables = [
        sorted(line.split()[2] for line in m.splitlines() if "CREATE TABLE" in line)
        for m in MIGRATIONS
    ]
    assert tables == [
        sorted(line.split()[2] for line in m.splitlines() if "CREATE TABLE" in line)
        for m in PG_MIGRATIONS
    ]


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


async def test_decisions_newest_first_filtered_and_paged(open_store: Opener) -> None:
    store = await open_store()
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


async def test_concurrent_writes_share_commits(open_store: Opener) -> None:
    store = await open_store()
    await asyncio.gather(*(store.record_decision(record(n)) for n in range(500)))
    assert len(await store.decisions(DecisionQuery(limit=500))) == 500
    assert store.commits < 500  # group commit: many decisions per fsync
    await store.close()


@contextlib.asynccontextmanager
async def writer_busy(store: SQLiteStore | PostgreSQLStore) -> AsyncIterator[int]:
    """Writes queued inside wait until the store's writer is free; yields the commits the
    holding itself costs. SQLite's writer is a thread, which would take the first decision
    as soon as it is queued: it runs a job of ours until we leave (one commit). PostgreSQL's
    writer is a task on this event loop: it runs only once the test awaits (no commit)."""
    if isinstance(store, PostgreSQLStore):
        yield 0
        return
    entered, release = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        entered.set()
        release.wait(30)

    held = asyncio.ensure_future(store._call(hold))
    assert await asyncio.to_thread(entered.wait, 30)
    try:
        yield 1
    finally:
        release.set()
        await held


async def test_a_large_batch_of_decisions_goes_in_whole(open_store: Opener) -> None:
    store = await open_store(max_batch=2000)
    async with writer_busy(store) as holding:
        writes = asyncio.gather(*(store.record_decision(record(n)) for n in range(1234)))
        await asyncio.sleep(0)  # every write's first step runs: all 1234 are queued
    await writes
    assert store.commits == holding + 1  # everything that waited: one transaction
    found = await store.decisions(DecisionQuery(limit=500))
    assert [r.body["n"] for r in found] == list(range(1233, 733, -1))
    everything = await store.decisions(DecisionQuery(limit=5000))
    assert len(everything) == 1234
    await store.close()


async def test_a_failing_write_does_not_undo_its_batch(open_store: Opener) -> None:
    store = await open_store()
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


async def test_freezes_and_exemptions_survive_reopen(open_store: Opener) -> None:
    store = await open_store()
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
    store = await open_store()
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


# --- what replicas sharing one store rely on (both stores) --------------------------------------


async def test_a_decision_on_older_overrides_is_refused(open_store: Opener) -> None:
    one, other = await open_store(), await open_store()  # two replicas on one store
    version = (await one.overrides()).version
    await one.record_decision(replace_version(record(1), version))
    freeze = Freeze("f1", "checkout", "incident", 10.0, "alice", None, FreezeKind.MANUAL)
    assert await other.save_freeze(freeze, ACTION)
    with pytest.raises(StaleOverridesError):
        await one.record_decision(replace_version(record(2), version))
    current = await one.overrides()
    assert current.version == version + 1 and current.freezes == (freeze,)
    await one.record_decision(replace_version(record(3), current.version))
    await one.record_decision(record(4))  # unchecked
    assert {r.body["n"] for r in await one.decisions(DecisionQuery())} == {1, 3, 4}


def replace_version(decision: DecisionRecord, version: int) -> DecisionRecord:
    return DecisionRecord(
        decision.id,
        decision.decided_at,
        decision.service,
        decision.verdict,
        decision.source,
        decision.encoded,
        version,
    )


async def test_every_override_change_moves_the_version(open_store: Opener) -> None:
    store = await open_store()
    versions = [(await store.overrides()).version]
    freeze = Freeze("f1", "checkout", "incident", 10.0, "alice", None, FreezeKind.MANUAL)
    exemption = Exemption("e1", "search", "fix", 12.0, "bob", 500.0)
    await store.save_freeze(freeze, ACTION)
    versions.append((await store.overrides()).version)
    await store.save_exemption(exemption, ACTION)
    versions.append((await store.overrides()).version)
    assert await store.revoke_exemption("e1", ACTION)
    versions.append((await store.overrides()).version)
    assert not await store.revoke_exemption("e1", ACTION)  # changes nothing
    assert await store.lift_freeze("f1", ACTION)
    versions.append((await store.overrides()).version)
    assert versions == [0, 1, 2, 3, 4]
    assert await store.overrides() == type(await store.overrides())(4, (), ())


async def test_one_system_freeze_per_slo(open_store: Opener) -> None:
    one, other = await open_store(), await open_store()
    halt = Freeze("f1", "search", "budget", 10.0, "slogate", None, FreezeKind.SYSTEM, "avail")
    second = Freeze("f2", "search", "budget", 11.0, "slogate", None, FreezeKind.SYSTEM, "avail")
    results = await asyncio.gather(one.save_freeze(halt, ACTION), other.save_freeze(second, ACTION))
    assert sorted(results) == [False, True]
    assert len(await one.active_freezes()) == 1
    assert len(await one.admin_actions()) == 1  # the refused one is not audited
    manual = Freeze("f3", "search", "people", 12.0, "alice", None, FreezeKind.MANUAL, "avail")
    assert await other.save_freeze(manual, ACTION)  # people's freezes are not unique
    winner = (await one.active_freezes())[0]
    assert await one.lift_freeze(winner.id, ACTION)
    assert not await other.lift_freeze(winner.id, ACTION)  # lifted once
    again = Freeze("f4", "search", "budget", 13.0, "slogate", None, FreezeKind.SYSTEM, "avail")
    assert await other.save_freeze(again, ACTION)  # a new halt once the old one is lifted


async def test_a_cycles_freezes_are_one_change(open_store: Opener) -> None:
    """Halts saved and lifted together: one transaction, one new overrides version, an audit
    row per change made, and each refusal told apart (an SLO already halted, a lifted id)."""
    store = await open_store()

    def halt(freeze_id: str, slo: str) -> Freeze:
        return Freeze(freeze_id, "search", "budget", 10.0, "slogate", None, FreezeKind.SYSTEM, slo)

    assert await store.save_freeze(halt("old", "latency"), ACTION)
    version = (await store.overrides()).version
    saved, lifted = await store.change_freezes(
        [
            (halt("a", "avail"), ACTION),
            (halt("b", "errors"), ACTION),
            (halt("c", "latency"), ACTION),
        ],
        [("old", ACTION), ("never-was", ACTION)],
    )
    assert (saved, lifted) == ([True, True, False], [True, False])
    after = await store.overrides()
    assert after.version == version + 1
    assert sorted(f.id for f in after.freezes) == ["a", "b"]
    assert len(await store.admin_actions()) == 1 + 3  # the first save, then 2 saves and 1 lift
    assert await store.change_freezes([(halt("d", "avail"), ACTION)], [("old", ACTION)]) == (
        [False],
        [False],
    )
    assert (await store.overrides()).version == version + 1  # nothing changed: no new version


def incident_doc(slo_id: str = "search/avail", severity: str = "page") -> dict[str, Any]:
    return {
        "slo_id": slo_id,
        "severity": severity,
        "service": "search",
        "slo": "avail",
        "summary": "burning",
    }


def entry(action: str, sink: str = "pd", at: float = 100.0) -> OutboxEntry:
    doc = incident_doc()
    return OutboxEntry(sink, action, "slogate/search/avail/page", doc, 100.0, at, at + 3600, at)


async def test_an_incident_is_opened_and_resolved_once(open_store: Opener) -> None:
    one, other = await open_store(), await open_store()
    opening = IncidentChange(
        (OpenIncident(incident_doc(), 100.0),), (), (entry("trigger"), entry("trigger", "am"))
    )
    queued = await asyncio.gather(one.change_incidents(opening), other.change_incidents(opening))
    assert sorted(len(q) for q in queued) == [0, 2]
    assert [i.doc for i in await other.open_incidents()] == [incident_doc()]
    resolving = IncidentChange((), (("search/avail", "page"),), (entry("resolve", at=200.0),))
    first = await one.change_incidents(resolving)
    assert [e.action for e in first] == ["resolve"]
    assert await other.change_incidents(resolving) == []
    assert await one.open_incidents() == []
    pending = await one.pending_notifications()
    assert [(e.sink, e.action) for e in pending] == [
        ("pd", "trigger"),
        ("am", "trigger"),
        ("pd", "resolve"),
    ]


async def test_outbox_rows_are_leased_in_order(open_store: Opener) -> None:
    one, other = await open_store(), await open_store()
    change = IncidentChange(
        (OpenIncident(incident_doc(), 100.0),), (), (entry("trigger"), entry("trigger", "am"))
    )
    await one.change_incidents(change)
    await one.change_incidents(
        IncidentChange((), (("search/avail", "page"),), (entry("resolve", at=200.0),))
    )
    mine = await one.claim_notifications("a", now=1000.0, until=1030.0)
    assert [(e.sink, e.action) for e in mine] == [("pd", "trigger"), ("am", "trigger")]
    assert await other.claim_notifications("b", now=1001.0, until=1031.0) == []
    renewed = await one.claim_notifications("a", now=1010.0, until=1040.0)
    assert [e.id for e in renewed] == [e.id for e in mine]
    await one.finish_notification(mine[0].id, "delivered", 1011.0, None)
    # The resolve is claimable only once its trigger was delivered; b takes a's other row
    # over once a's lease ran out.
    resolve = await other.claim_notifications("b", now=1020.0, until=1050.0)
    assert [(e.sink, e.action) for e in resolve] == [("pd", "resolve")]
    taken = await other.claim_notifications("b", now=1041.0, until=1071.0)
    assert [(e.sink, e.action) for e in taken] == [("am", "trigger"), ("pd", "resolve")]
    assert await one.claim_notifications("a", now=1042.0, until=1072.0) == []


async def test_a_stopping_sender_hands_its_leases_back(open_store: Opener) -> None:
    store = await open_store()
    change = IncidentChange(
        (OpenIncident(incident_doc(), 100.0),), (), (entry("trigger"), entry("trigger", "am"))
    )
    await store.change_incidents(change)
    mine = await store.claim_notifications("a", now=1000.0, until=1030.0)
    await store.finish_notification(mine[0].id, "delivered", 1001.0, None)
    assert await store.release_notifications("b") == 0
    assert await store.release_notifications("a") == 1  # the delivered row is not touched
    taken = await store.claim_notifications("b", now=1002.0, until=1032.0)
    assert [(e.sink, e.action) for e in taken] == [("am", "trigger")]


async def test_check_answers_when_open(open_store: Opener) -> None:
    store = await open_store()
    await store.check()
    await store.close()
    with pytest.raises(StoreError):
        await store.check()


# --- PostgreSQL only ----------------------------------------------------------------------------


async def test_replicas_starting_together_migrate_once(postgres: LocalPostgres) -> None:
    url = postgres.fresh_database()
    stores = [PostgreSQLStore(url, password=PASSWORD) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        with psycopg.connect(url, password=PASSWORD) as conn:
            assert conn.execute("SELECT version FROM schema_version").fetchall() == [
                (len(PG_MIGRATIONS),)
            ]
            conn.execute("UPDATE schema_version SET version = 99")
        with pytest.raises(StoreError, match="newer than this slogate"):
            await PostgreSQLStore(url, password=PASSWORD).open()
    finally:
        for store in stores:
            await store.close()


async def test_a_wrong_password_is_an_error_that_does_not_show_it(postgres: LocalPostgres) -> None:
    url = postgres.url().replace("slogate@", "slogate:not-the-password-77@")
    store = PostgreSQLStore(url, timeout=5)
    with pytest.raises(StoreError) as caught:
        await store.open()
    assert "not-the-password-77" not in str(caught.value)
    assert "password authentication failed" in str(caught.value)
    assert "not-the-password-77" not in store.name


async def test_a_locked_table_past_the_timeout_is_a_store_error(postgres: LocalPostgres) -> None:
    url = postgres.fresh_database()
    store = PostgreSQLStore(url, password=PASSWORD, timeout=1.0)
    await store.open()
    try:
        with psycopg.connect(url, password=PASSWORD) as locker:
            locker.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StoreError, match=r"lock timeout|canceling statement"):
                await store.record_decision(record(1))
        await store.record_decision(record(2))  # the lock gone, writes go through again
        assert [r.body["n"] for r in await store.decisions(DecisionQuery())] == [2]
    finally:
        await store.close()


async def test_retention_prunes_the_oldest_decisions_in_batches(open_store: Opener) -> None:
    store = await open_store()
    for n in range(12):  # one a day
        at = 1_700_000_000.0 + n * 86_400
        await store.record_decision(dataclasses.replace(record(n, at=at), id=ulid(at)))
    cutoff = 1_700_000_000.0 + 7 * 86_400  # keeps the days from 7 on
    assert await store.prune("decisions", cutoff, 4) == 4
    assert await store.prune("decisions", cutoff, 4) == 3
    assert await store.prune("decisions", cutoff, 4) == 0
    kept = await store.decisions(DecisionQuery(limit=50))
    assert [r.body["n"] for r in kept] == [11, 10, 9, 8, 7]
    sizes = await store.sizes()
    assert sizes.rows["decisions"] == 5 and sizes.bytes > 0
    with pytest.raises(StoreError, match="no retention for table 'freezes'"):
        await store.prune("freezes", cutoff, 4)
