"""The embedded store: SQLite in WAL mode, fsync on every commit, group commit.

Every operation runs on one dedicated thread that owns the connection. Writes that arrive
together share one transaction (and one fsync); if one fails, the batch runs again with each in
its own savepoint so that only it fails. Each caller's future resolves only after the commit.
The gate's decisions of a batch go in as one multi-row INSERT: the store thread takes the GIL
back after every statement it runs, and each time costs the event loop a thread switch.
"""

from __future__ import annotations

import asyncio
import functools
import json
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from slogate.core.overrides import Exemption, Freeze, FreezeKind
from slogate.errors import StoreError
from slogate.store.base import (
    AdminAction,
    DecisionQuery,
    DecisionRecord,
    IncidentChange,
    OpenIncident,
    OutboxEntry,
)

T = TypeVar("T")

MIGRATIONS: tuple[str, ...] = (
    # 1: the first release.
    """
    CREATE TABLE decisions (
        id TEXT PRIMARY KEY,
        decided_at REAL NOT NULL,
        service TEXT NOT NULL,
        verdict TEXT NOT NULL,
        source TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX decisions_by_service ON decisions (service, id);
    CREATE TABLE freezes (
        id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        slo TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        until REAL,
        lifted_at REAL,
        lifted_by TEXT
    );
    CREATE TABLE exemptions (
        id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        change_type TEXT NOT NULL DEFAULT '',
        deploy_id TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        until REAL NOT NULL,
        revoked_at REAL,
        revoked_by TEXT
    );
    CREATE TABLE admin_actions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    """,
    # 2: paging — open incidents and the notification outbox.
    """
    CREATE TABLE incidents (
        slo_id TEXT NOT NULL,
        severity TEXT NOT NULL,
        opened_at REAL NOT NULL,
        incident TEXT NOT NULL,
        PRIMARY KEY (slo_id, severity)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sink TEXT NOT NULL,
        action TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        incident TEXT NOT NULL,
        opened_at REAL NOT NULL,
        at REAL NOT NULL,
        expires_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        state TEXT NOT NULL DEFAULT 'pending',
        finished_at REAL
    );
    CREATE INDEX outbox_by_state ON outbox (state, id);
    """,
)

_STOP = object()


DecisionRow = tuple[str, float, str, str, str, str]
_DECISION_COLUMNS = "(id, decided_at, service, verdict, source, body)"
_MOST_ROWS_PER_INSERT = 128


def _insert_decisions(conn: sqlite3.Connection, rows: list[DecisionRow]) -> None:
    """Rows in chunks of 128, 64, ..., 1: few statements per batch, and few distinct statements
    for the connection's statement cache to keep prepared (one per batch size would fill it
    with 128 statements of up to 1,536 parameters each)."""
    start = 0
    while start < len(rows):
        size = min(_MOST_ROWS_PER_INSERT, 1 << ((len(rows) - start).bit_length() - 1))
        chunk = rows[start : start + size]
        conn.execute(_insert_sql(size), [value for row in chunk for value in row])
        start += size


@functools.cache
def _insert_sql(rows: int) -> str:
    placeholders = ",".join(["(?, ?, ?, ?, ?, ?)"] * rows)  # no data in the SQL
    return f"INSERT INTO decisions {_DECISION_COLUMNS} VALUES {placeholders}"  # noqa: S608


class _Job:
    """A function to run on the connection, or (`fn` None) a decision row to insert."""

    __slots__ = ("fn", "future", "loop", "row")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], Any] | None,
        row: DecisionRow | None,
        future: asyncio.Future[Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.fn, self.row, self.future, self.loop = fn, row, future, loop

    def run(self, conn: sqlite3.Connection) -> Any:
        if self.fn is not None:
            return self.fn(conn)
        assert self.row is not None
        _insert_decisions(conn, [self.row])
        return None


Outcome = tuple[_Job, Any, BaseException | None]


def _apply(outcomes: list[Outcome]) -> None:
    """Resolve a batch's futures (on their event loop)."""
    for job, result, error in outcomes:
        if job.future.done():
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)


def _settle(outcomes: list[Outcome]) -> None:
    """One wake-up per event loop for a whole batch, not one per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, items in by_loop.items():
        loop.call_soon_threadsafe(_apply, items)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the newest version; returns it."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    current = row[0] if row else 0
    if current > len(MIGRATIONS):
        raise StoreError(
            f"database schema {current} is newer than this slogate ({len(MIGRATIONS)})"
        )
    for version in range(current + 1, len(MIGRATIONS) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


class SQLiteStore:
    """`Store` on one SQLite file."""

    def __init__(self, path: Path, *, max_batch: int = 256) -> None:
        self.path = path
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self.commits = 0

    # --- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = await asyncio.to_thread(self._open_sync)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._thread = threading.Thread(target=self._run, name="slogate-store", daemon=True)
        self._thread.start()

    def _open_sync(self) -> sqlite3.Connection:
        conn = _connect(self.path)
        migrate(conn)
        return conn

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def close(self) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)
        self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- the store thread -------------------------------------------------------------------

    def _run(self) -> None:
        assert self._conn is not None
        conn = self._conn
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Job] = [first]  # type: ignore[list-item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            self._execute(conn, batch)
            if stop:
                return

    def _execute(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        """One transaction for the batch. Jobs run plainly first; if one fails, the batch is
        run again with a savepoint per job, so that only the failing job fails."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = [job.row for job in batch if job.row is not None]
                if rows:
                    _insert_decisions(conn, rows)
                results: list[Outcome] = [
                    (job, job.fn(conn) if job.fn is not None else None, None) for job in batch
                ]
            except Exception:
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                results = [self._isolated(conn, n, job) for n, job in enumerate(batch)]
            conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:  # the commit itself failed: nothing is durable
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = StoreError(f"{self.path}: {exc}")
            _settle([(job, None, failure) for job in batch])
            return
        _settle(results)

    def _isolated(self, conn: sqlite3.Connection, n: int, job: _Job) -> Outcome:
        conn.execute(f"SAVEPOINT job{n}")
        try:
            outcome: Outcome = (job, job.run(conn), None)
        except Exception as exc:  # one bad job must not take the others down
            conn.execute(f"ROLLBACK TO job{n}")
            outcome = (job, None, StoreError(f"{self.path}: {exc}"))
        conn.execute(f"RELEASE job{n}")
        return outcome

    async def _call(
        self, fn: Callable[[sqlite3.Connection], T] | None, row: DecisionRow | None = None
    ) -> T:
        if self._thread is None:
            raise StoreError("store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, row, future, loop))
        return await future

    # --- decisions --------------------------------------------------------------------------

    async def record_decision(self, record: DecisionRecord) -> None:
        row = (
            record.id,
            record.decided_at,
            record.service,
            record.verdict,
            record.source,
            record.encoded,
        )
        await self._call(None, row)

    async def decisions(self, query: DecisionQuery) -> list[DecisionRecord]:
        where: list[str] = []
        args: list[str | float | int] = []
        if query.service:
            where.append("service = ?")
            args.append(query.service)
        if query.since is not None:
            where.append("decided_at >= ?")
            args.append(query.since)
        if query.until is not None:
            where.append("decided_at < ?")
            args.append(query.until)
        if query.before:
            where.append("id < ?")
            args.append(query.before)
        sql = "SELECT id, decided_at, service, verdict, source, body FROM decisions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(query.limit)

        def select(conn: sqlite3.Connection) -> list[DecisionRecord]:
            return [
                DecisionRecord(r[0], r[1], r[2], r[3], r[4], r[5]) for r in conn.execute(sql, args)
            ]

        return await self._call(select)

    # --- freezes and exemptions -------------------------------------------------------------

    @staticmethod
    def _audit(conn: sqlite3.Connection, action: AdminAction) -> None:
        conn.execute(
            "INSERT INTO admin_actions (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (action.at, action.actor, action.action, action.target, json.dumps(action.detail)),
        )

    async def save_freeze(self, freeze: Freeze, action: AdminAction) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO freezes"
                " (id, service, slo, kind, reason, created_at, created_by, until)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    freeze.id,
                    freeze.service,
                    freeze.slo,
                    freeze.kind.value,
                    freeze.reason,
                    freeze.created_at,
                    freeze.created_by,
                    freeze.until,
                ),
            )
            self._audit(conn, action)

        await self._call(insert)

    async def lift_freeze(self, freeze_id: str, action: AdminAction) -> bool:
        def update(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE freezes SET lifted_at = ?, lifted_by = ?"
                " WHERE id = ? AND lifted_at IS NULL",
                (action.at, action.actor, freeze_id),
            )
            if cursor.rowcount:
                self._audit(conn, action)
            return cursor.rowcount > 0

        return await self._call(update)

    async def active_freezes(self) -> list[Freeze]:
        def select(conn: sqlite3.Connection) -> list[Freeze]:
            rows = conn.execute(
                "SELECT id, service, reason, created_at, created_by, until, kind, slo FROM freezes"
                " WHERE lifted_at IS NULL ORDER BY created_at"
            )
            return [
                Freeze(r[0], r[1], r[2], r[3], r[4], r[5], FreezeKind(r[6]), r[7]) for r in rows
            ]

        return await self._call(select)

    async def save_exemption(self, exemption: Exemption, action: AdminAction) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO exemptions (id, service, change_type, deploy_id, reason, created_at,"
                " created_by, until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    exemption.id,
                    exemption.service,
                    exemption.change_type,
                    exemption.deploy_id,
                    exemption.reason,
                    exemption.created_at,
                    exemption.created_by,
                    exemption.until,
                ),
            )
            self._audit(conn, action)

        await self._call(insert)

    async def revoke_exemption(self, exemption_id: str, action: AdminAction) -> bool:
        def update(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE exemptions SET revoked_at = ?, revoked_by = ?"
                " WHERE id = ? AND revoked_at IS NULL",
                (action.at, action.actor, exemption_id),
            )
            if cursor.rowcount:
                self._audit(conn, action)
            return cursor.rowcount > 0

        return await self._call(update)

    async def active_exemptions(self) -> list[Exemption]:
        def select(conn: sqlite3.Connection) -> list[Exemption]:
            rows = conn.execute(
                "SELECT id, service, reason, created_at, created_by, until, change_type, deploy_id"
                " FROM exemptions WHERE revoked_at IS NULL ORDER BY created_at"
            )
            return [Exemption(*r) for r in rows]

        return await self._call(select)

    async def admin_actions(self, limit: int = 100) -> list[AdminAction]:
        def select(conn: sqlite3.Connection) -> list[AdminAction]:
            rows = conn.execute(
                "SELECT at, actor, action, target, detail FROM admin_actions"
                " ORDER BY seq DESC LIMIT ?",
                (limit,),
            )
            return [AdminAction(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

        return await self._call(select)

    # --- incidents and the outbox -----------------------------------------------------------

    async def open_incidents(self) -> list[OpenIncident]:
        def select(conn: sqlite3.Connection) -> list[OpenIncident]:
            rows = conn.execute("SELECT opened_at, incident FROM incidents ORDER BY opened_at")
            return [OpenIncident(json.loads(r[1]), r[0]) for r in rows]

        return await self._call(select)

    async def change_incidents(self, change: IncidentChange) -> list[OutboxEntry]:
        """Open and resolve incidents and queue their notifications, in one transaction."""

        def write(conn: sqlite3.Connection) -> list[OutboxEntry]:
            for incident in change.opened:
                conn.execute(
                    "INSERT OR REPLACE INTO incidents (slo_id, severity, opened_at, incident)"
                    " VALUES (?, ?, ?, ?)",
                    (
                        incident.doc["slo_id"],
                        incident.doc["severity"],
                        incident.opened_at,
                        json.dumps(incident.doc),
                    ),
                )
            for slo_id, severity in change.resolved:
                conn.execute(
                    "DELETE FROM incidents WHERE slo_id = ? AND severity = ?", (slo_id, severity)
                )
            queued = []
            for entry in change.notifications:
                cursor = conn.execute(
                    "INSERT INTO outbox (sink, action, dedup_key, incident, opened_at, at,"
                    " expires_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.sink,
                        entry.action,
                        entry.dedup_key,
                        json.dumps(entry.incident),
                        entry.opened_at,
                        entry.at,
                        entry.expires_at,
                        entry.next_attempt_at,
                    ),
                )
                assert cursor.lastrowid is not None
                queued.append(replace(entry, id=cursor.lastrowid))
            return queued

        return await self._call(write)

    async def pending_notifications(self) -> list[OutboxEntry]:
        def select(conn: sqlite3.Connection) -> list[OutboxEntry]:
            rows = conn.execute(
                "SELECT id, sink, action, dedup_key, incident, opened_at, at, expires_at, attempts,"
                " next_attempt_at, last_error FROM outbox WHERE state = 'pending' ORDER BY id"
            )
            return [
                OutboxEntry(
                    r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[9], r[8], r[10], r[0]
                )
                for r in rows
            ]

        return await self._call(select)

    async def notifications(self, state: str, limit: int = 100) -> list[OutboxEntry]:
        """Recent outbox entries in `state` (pending, delivered, failed, expired), newest first."""

        def select(conn: sqlite3.Connection) -> list[OutboxEntry]:
            rows = conn.execute(
                "SELECT id, sink, action, dedup_key, incident, opened_at, at, expires_at, attempts,"
                " next_attempt_at, last_error, state, finished_at FROM outbox WHERE state = ?"
                " ORDER BY id DESC LIMIT ?",
                (state, limit),
            )
            return [
                OutboxEntry(
                    r[1],
                    r[2],
                    r[3],
                    json.loads(r[4]),
                    r[5],
                    r[6],
                    r[7],
                    r[9],
                    r[8],
                    r[10],
                    r[0],
                    r[11],
                    r[12],
                )
                for r in rows
            ]

        return await self._call(select)

    async def finish_notification(
        self, entry_id: int, state: str, at: float, error: str | None
    ) -> None:
        """Take a notification out of the queue: delivered, failed or expired."""

        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE outbox SET state = ?, finished_at = ?, last_error = COALESCE(?, last_error)"
                " WHERE id = ?",
                (state, at, error, entry_id),
            )

        await self._call(update)

    async def retry_notification(
        self, entry_id: int, attempts: int, next_at: float, error: str
    ) -> None:
        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                (attempts, next_at, error, entry_id),
            )

        await self._call(update)
