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
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from slogate.core.dora import (
    Deployment,
    DeploymentEvent,
    EventKind,
    IncidentSpan,
    abandon,
    apply_event,
    event_problem,
)
from slogate.core.dora import Outcome as DeploymentOutcome
from slogate.core.ids import first_ulid
from slogate.core.overrides import Exemption, Freeze, FreezeKind
from slogate.errors import StaleOverridesError, StoreError, StoreFullError
from slogate.store.base import (
    DEPLOYMENT_COLUMNS,
    MAX_STEPS,
    OUTBOX_COLUMNS,
    PRUNABLE,
    TABLES,
    AdminAction,
    DecisionQuery,
    DecisionRecord,
    DeploymentQuery,
    DeploymentStep,
    EventResult,
    IncidentChange,
    IncidentKey,
    OpenIncident,
    OutboxEntry,
    Overrides,
    StoreSizes,
    changed_notifications,
    deployment_from_row,
    incident_key,
    outbox_entry,
)
from slogate.store.diskguard import DiskGuard

log = logging.getLogger(__name__)

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
    # 3: replicas — the overrides version, one system freeze per SLO, outbox leases.
    """
    CREATE TABLE overrides_version (version INTEGER NOT NULL);
    INSERT INTO overrides_version (version) VALUES (0);
    CREATE UNIQUE INDEX one_system_freeze ON freezes (service, slo)
        WHERE kind = 'system' AND lifted_at IS NULL;
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN lease_until REAL;
    """,
    # 4: deployments, their steps, and the incidents' history (DORA figures, DESIGN §9).
    """
    CREATE TABLE deployments (
        service TEXT NOT NULL,
        deploy_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        started_at REAL,
        finished_at REAL,
        updated_at REAL NOT NULL,
        version TEXT NOT NULL DEFAULT '',
        commit_sha TEXT NOT NULL DEFAULT '',
        commit_time REAL,
        source TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (service, deploy_id)
    );
    CREATE INDEX deployments_by_update ON deployments (updated_at, service, deploy_id);
    CREATE INDEX deployments_by_finish ON deployments (finished_at);
    CREATE TABLE deployment_steps (
        service TEXT NOT NULL,
        deploy_id TEXT NOT NULL,
        at REAL NOT NULL,
        step TEXT NOT NULL,
        source TEXT NOT NULL,
        decision_id TEXT NOT NULL DEFAULT '',
        verdict TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (service, deploy_id, at, step)
    );
    CREATE TABLE incident_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        slo_id TEXT NOT NULL,
        service TEXT NOT NULL,
        slo TEXT NOT NULL,
        severity TEXT NOT NULL,
        opened_at REAL NOT NULL,
        resolved_at REAL
    );
    CREATE INDEX incident_history_by_open ON incident_history (opened_at);
    """,
)

_STOP = object()

_CLAIM = f"""
    UPDATE outbox SET claimed_by = ?, lease_until = ? WHERE id IN (
        SELECT id FROM outbox AS o WHERE state = 'pending'
        AND (lease_until IS NULL OR lease_until < ? OR claimed_by = ?)
        AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.state = 'pending'
                        AND p.sink = o.sink AND p.dedup_key = o.dedup_key AND p.id < o.id)
        ORDER BY id LIMIT ?)
    RETURNING {OUTBOX_COLUMNS}
"""  # noqa: S608 (no data in the SQL)


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
    """A function to run on the connection, a decision row to insert (made on overrides
    `version`, None: unchecked), or both: the row first."""

    __slots__ = ("fn", "future", "loop", "row", "version")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], Any] | None,
        row: DecisionRow | None,
        future: asyncio.Future[Any],
        loop: asyncio.AbstractEventLoop,
        version: int | None = None,
    ) -> None:
        self.fn, self.row, self.future, self.loop = fn, row, future, loop
        self.version = version

    def run(self, conn: sqlite3.Connection) -> Any:
        if self.row is not None:
            _insert_decisions(conn, [self.row])
        return self.fn(conn) if self.fn is not None else None


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
    conn.execute("PRAGMA journal_size_limit=67108864")  # the WAL shrinks back after a burst
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


def _stale(conn: sqlite3.Connection, batch: list[_Job]) -> dict[_Job, Outcome]:
    """The batch's decisions made on overrides older than the store's, failed."""
    checked = [job for job in batch if job.version is not None]
    if not checked:
        return {}
    (version,) = conn.execute("SELECT version FROM overrides_version").fetchone()
    failure = StaleOverridesError(f"overrides changed (now version {version})")
    return {job: (job, None, failure) for job in checked if job.version != version}


def _active_freezes(conn: sqlite3.Connection) -> list[Freeze]:
    rows = conn.execute(
        "SELECT id, service, reason, created_at, created_by, until, kind, slo FROM freezes"
        " WHERE lifted_at IS NULL ORDER BY created_at"
    )
    return [Freeze(r[0], r[1], r[2], r[3], r[4], r[5], FreezeKind(r[6]), r[7]) for r in rows]


def _active_exemptions(conn: sqlite3.Connection) -> list[Exemption]:
    rows = conn.execute(
        "SELECT id, service, reason, created_at, created_by, until, change_type, deploy_id"
        " FROM exemptions WHERE revoked_at IS NULL ORDER BY created_at"
    )
    return [Exemption(*r) for r in rows]


class SQLiteStore:
    """`Store` on one SQLite file."""

    def __init__(self, path: Path, *, max_batch: int = 256, guard: DiskGuard | None = None) -> None:
        self.path = path
        self.max_batch = max_batch
        self.guard = guard
        """Refuses new decisions while the disk is nearly full (before SQLite itself fails)."""
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
        """One transaction for the batch. Decisions made on older overrides fail first; the
        other jobs run plainly; if one fails, they run again with a savepoint per job, so that
        only the failing job fails."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            stale = _stale(conn, batch)
            batch = [job for job in batch if job not in stale]
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
        _settle(results + list(stale.values()))

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
        self,
        fn: Callable[[sqlite3.Connection], T] | None,
        row: DecisionRow | None = None,
        version: int | None = None,
    ) -> T:
        if self._thread is None:
            raise StoreError("store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, row, future, loop, version))
        return await future

    async def check(self) -> None:
        await self._call(lambda conn: conn.execute("SELECT 1").fetchone())

    async def export_rows(
        self, table: str, after: int = 0, limit: int = 1000
    ) -> tuple[int, list[tuple[Any, ...]]]:
        """Up to `limit` rows of `table` (columns as `TABLES` lists them) past rowid `after`;
        and the last rowid given, to page on."""
        columns = ", ".join(TABLES[table])
        sql = f"SELECT rowid, {columns} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"  # noqa: S608

        def select(conn: sqlite3.Connection) -> tuple[int, list[tuple[Any, ...]]]:
            rows = conn.execute(sql, (after, limit)).fetchall()
            return (rows[-1][0] if rows else after), [tuple(r[1:]) for r in rows]

        return await self._call(select)

    # --- decisions --------------------------------------------------------------------------

    async def record_decision(
        self, record: DecisionRecord, step: DeploymentEvent | None = None
    ) -> EventResult | None:
        if self.guard is not None and self.guard.full:
            raise StoreFullError(f"{self.path}: {self.guard.describe()}")
        row = (
            record.id,
            record.decided_at,
            record.service,
            record.verdict,
            record.source,
            record.encoded,
        )
        fold = None if step is None else functools.partial(_fold_step, event=step)
        result: EventResult | None = await self._call(fold, row, record.overrides_version)
        return result

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
        """The admin action, and a new overrides version, in the change's transaction."""
        conn.execute(
            "INSERT INTO admin_actions (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (action.at, action.actor, action.action, action.target, json.dumps(action.detail)),
        )
        conn.execute("UPDATE overrides_version SET version = version + 1")

    async def save_freeze(self, freeze: Freeze, action: AdminAction) -> bool:
        def insert(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO freezes"
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
            if cursor.rowcount:
                self._audit(conn, action)
            return cursor.rowcount > 0

        return await self._call(insert)

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
        return await self._call(_active_freezes)

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
        return await self._call(_active_exemptions)

    async def overrides(self) -> Overrides:
        def select(conn: sqlite3.Connection) -> Overrides:
            (version,) = conn.execute("SELECT version FROM overrides_version").fetchone()
            freezes, exemptions = _active_freezes(conn), _active_exemptions(conn)
            return Overrides(version, tuple(freezes), tuple(exemptions))

        return await self._call(select)  # one job: one transaction, one instant

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
            opened: set[IncidentKey] = set()
            for incident in change.opened:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO incidents (slo_id, severity, opened_at, incident)"
                    " VALUES (?, ?, ?, ?)",
                    (
                        incident.doc["slo_id"],
                        incident.doc["severity"],
                        incident.opened_at,
                        json.dumps(incident.doc),
                    ),
                )
                if cursor.rowcount:
                    opened.add(incident_key(incident.doc))
            resolved: set[IncidentKey] = set()
            for key in change.resolved:
                cursor = conn.execute(
                    "DELETE FROM incidents WHERE slo_id = ? AND severity = ?", key
                )
                if cursor.rowcount:
                    resolved.add(key)
            _record_incident_history(conn, change, opened, resolved)
            queued = []
            for entry in changed_notifications(change, opened, resolved):
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
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY id"  # noqa: S608
            )
            return [outbox_entry(r) for r in rows]

        return await self._call(select)

    async def claim_notifications(
        self, owner: str, now: float, until: float, limit: int = 100
    ) -> list[OutboxEntry]:
        def claim(conn: sqlite3.Connection) -> list[OutboxEntry]:
            rows = conn.execute(_CLAIM, (owner, until, now, owner, limit)).fetchall()
            return sorted((outbox_entry(r) for r in rows), key=lambda e: e.id)

        return await self._call(claim)

    async def notifications(self, state: str, limit: int = 100) -> list[OutboxEntry]:
        """Recent outbox entries in `state` (pending, delivered, failed, expired), newest first."""

        def select(conn: sqlite3.Connection) -> list[OutboxEntry]:
            rows = conn.execute(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = ?"  # noqa: S608
                " ORDER BY id DESC LIMIT ?",
                (state, limit),
            )
            return [outbox_entry(r) for r in rows]

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

    # --- retention ----------------------------------------------------------------------------

    async def prune(self, table: str, before: float, limit: int) -> int:
        """Decisions by id (ULIDs sort by time: the primary key's order, no other index);
        notifications once finished, by when."""
        if table not in PRUNABLE:
            raise StoreError(f"no retention for table {table!r} (known: {', '.join(PRUNABLE)})")
        if table == "decisions":
            sql = (
                "DELETE FROM decisions WHERE id IN"
                " (SELECT id FROM decisions WHERE id < ? ORDER BY id LIMIT ?)"
            )
            args: tuple[str | float, int] = (first_ulid(before), limit)
        else:
            sql = (
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
                " WHERE state != 'pending' AND finished_at < ? ORDER BY id LIMIT ?)"
            )
            args = (before, limit)

        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, args).rowcount

        return await self._call(delete)

    async def sizes(self) -> StoreSizes:
        """Counted on a read-only connection of its own (WAL readers do not block the writer),
        off the store thread, so a count over millions of rows never delays a decision."""
        return await asyncio.to_thread(self._sizes)

    def _sizes(self) -> StoreSizes:
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = {
                "decisions": conn.execute("SELECT count(*) FROM decisions").fetchone()[0],
                "notifications": conn.execute("SELECT count(*) FROM outbox").fetchone()[0],
            }
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        finally:
            conn.close()
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        return StoreSizes(rows, sum(f.stat().st_size for f in files if f.exists()))

    # --- deployments (DESIGN §9): standard SQL only, so that it ports ------------------------

    async def apply_deployment_event(self, event: DeploymentEvent) -> EventResult:
        return await self._call(functools.partial(_fold_event, event=event))

    async def deployment(self, service: str, deploy_id: str) -> Deployment | None:
        return await self._call(lambda conn: _select_deployment(conn, service, deploy_id))

    async def deployments(self, query: DeploymentQuery) -> list[Deployment]:
        where: list[str] = []
        args: list[str | float | int] = []
        if query.service:
            where.append("service = ?")
            args.append(query.service)
        if query.outcome:
            where.append("outcome = ?")
            args.append(query.outcome)
        if query.since is not None:
            where.append("updated_at >= ?")
            args.append(query.since)
        if query.until is not None:
            where.append("updated_at < ?")
            args.append(query.until)
        if query.before is not None:
            where.append(
                "(updated_at < ? OR (updated_at = ? AND (service < ? OR"
                " (service = ? AND deploy_id < ?))))"
            )
            at, service, deploy_id = query.before
            args += [at, at, service, service, deploy_id]
        sql = f"SELECT {DEPLOYMENT_COLUMNS} FROM deployments"  # noqa: S608 (no data in it)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY updated_at DESC, service DESC, deploy_id DESC LIMIT ?"
        args.append(query.limit)
        return await self._call(
            lambda conn: [deployment_from_row(r) for r in conn.execute(sql, args)]
        )

    async def finished_deployments(self, since: float) -> list[Deployment]:
        sql = (
            f"SELECT {DEPLOYMENT_COLUMNS} FROM deployments"  # noqa: S608 (no data in it)
            " WHERE finished_at >= ? ORDER BY finished_at"
        )
        return await self._call(
            lambda conn: [deployment_from_row(r) for r in conn.execute(sql, (since,))]
        )

    async def deployment_steps(self, service: str, deploy_id: str) -> list[DeploymentStep]:
        def select(conn: sqlite3.Connection) -> list[DeploymentStep]:
            rows = conn.execute(
                "SELECT service, deploy_id, at, step, source, decision_id, verdict"
                " FROM deployment_steps WHERE service = ? AND deploy_id = ? ORDER BY at",
                (service, deploy_id),
            )
            return [DeploymentStep(*r) for r in rows]

        return await self._call(select)

    async def abandon_deployments(self, idle_before: float) -> list[Deployment]:
        def update(conn: sqlite3.Connection) -> list[Deployment]:
            rows = conn.execute(
                f"SELECT {DEPLOYMENT_COLUMNS} FROM deployments"  # noqa: S608 (no data in it)
                " WHERE outcome = ? AND updated_at < ?",
                (DeploymentOutcome.IN_PROGRESS.value, idle_before),
            ).fetchall()
            closed = [abandon(deployment_from_row(r)) for r in rows]
            for deployment in closed:
                _upsert_deployment(conn, deployment, False)
            return closed

        return await self._call(update)

    async def incident_history(self, since: float, service: str = "") -> list[IncidentSpan]:
        def select(conn: sqlite3.Connection) -> list[IncidentSpan]:
            sql = (
                "SELECT id, service, slo, severity, opened_at, resolved_at FROM incident_history"
                " WHERE opened_at >= ?"
            )
            args: list[str | float] = [since]
            if service:
                sql += " AND service = ?"
                args.append(service)
            return [IncidentSpan(*r) for r in conn.execute(sql + " ORDER BY opened_at", args)]

        return await self._call(select)

    async def freeze_history(self, since: float) -> list[tuple[Freeze, float | None]]:
        def select(conn: sqlite3.Connection) -> list[tuple[Freeze, float | None]]:
            rows = conn.execute(
                "SELECT id, service, reason, created_at, created_by, until, kind, slo, lifted_at"
                " FROM freezes WHERE (lifted_at IS NULL OR lifted_at >= ?)"
                " AND (until IS NULL OR until >= ?) ORDER BY created_at",
                (since, since),
            )
            return [
                (Freeze(r[0], r[1], r[2], r[3], r[4], r[5], FreezeKind(r[6]), r[7]), r[8])
                for r in rows
            ]

        return await self._call(select)


def _fold_event(conn: sqlite3.Connection, event: DeploymentEvent) -> EventResult:
    """`event` folded into its deployment (and its step), in the caller's transaction."""
    existing = _select_deployment(conn, event.service, event.deploy_id)
    problem = event_problem(existing, event)
    if problem is not None:
        return EventResult(existing, problem)
    updated = apply_event(existing, event)
    if updated != existing:
        _upsert_deployment(conn, updated, existing is None)
    if (event.kind is EventKind.STEP or event.decision_id) and _new_step(conn, event):
        conn.execute(
            "INSERT INTO deployment_steps (service, deploy_id, at, step, source,"
            " decision_id, verdict) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (service, deploy_id, at, step) DO NOTHING",
            (
                event.service,
                event.deploy_id,
                event.at,
                event.step or event.kind.value,
                event.source,
                event.decision_id,
                event.verdict,
            ),
        )
    before = existing.outcome if existing is not None else None
    return EventResult(updated, None, updated.outcome is not before)


def _fold_step(conn: sqlite3.Connection, event: DeploymentEvent) -> EventResult | None:
    """A gate call's step folded beside its decision; a failure is logged and undone alone."""
    conn.execute("SAVEPOINT step")
    try:
        result = _fold_event(conn, event)
    except sqlite3.Error:
        log.exception("deployment step %s/%s not recorded", event.service, event.deploy_id)
        conn.execute("ROLLBACK TO step")
        result = None
    conn.execute("RELEASE step")
    return result


def _new_step(conn: sqlite3.Connection, event: DeploymentEvent) -> bool:
    """A step differs from the deployment's last (a pipeline polling one step repeats it), and
    the deployment has room for it."""
    key = (event.service, event.deploy_id)
    last = conn.execute(
        "SELECT step, verdict FROM deployment_steps WHERE service = ? AND deploy_id = ?"
        " ORDER BY at DESC LIMIT 1",
        key,
    ).fetchone()
    if last == (event.step or event.kind.value, event.verdict):
        return False
    (count,) = conn.execute(
        "SELECT count(*) FROM deployment_steps WHERE service = ? AND deploy_id = ?", key
    ).fetchone()
    return bool(count < MAX_STEPS)


def _select_deployment(conn: sqlite3.Connection, service: str, deploy_id: str) -> Deployment | None:
    row = conn.execute(
        f"SELECT {DEPLOYMENT_COLUMNS} FROM deployments"  # noqa: S608 (no data in it)
        " WHERE service = ? AND deploy_id = ?",
        (service, deploy_id),
    ).fetchone()
    return None if row is None else deployment_from_row(row)


def _upsert_deployment(conn: sqlite3.Connection, d: Deployment, new: bool) -> None:
    values = (
        d.outcome.value,
        d.started_at,
        d.finished_at,
        d.updated_at,
        d.version,
        d.commit_sha,
        d.commit_time,
        d.source,
    )
    if new:
        conn.execute(
            f"INSERT INTO deployments ({DEPLOYMENT_COLUMNS})"  # noqa: S608 (no data in it)
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (d.service, d.deploy_id, *values),
        )
        return
    conn.execute(
        "UPDATE deployments SET outcome = ?, started_at = ?, finished_at = ?, updated_at = ?,"
        " version = ?, commit_sha = ?, commit_time = ?, source = ?"
        " WHERE service = ? AND deploy_id = ?",
        (*values, d.service, d.deploy_id),
    )


def _record_incident_history(
    conn: sqlite3.Connection,
    change: IncidentChange,
    opened: set[IncidentKey],
    resolved: set[IncidentKey],
) -> None:
    """Incidents this write opened start a history row; those it resolved close theirs (time
    to restore). One written by another replica first is that replica's to record."""
    for incident in change.opened:
        doc = incident.doc
        if incident_key(doc) not in opened:
            continue
        conn.execute(
            "INSERT INTO incident_history (slo_id, service, slo, severity, opened_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (doc["slo_id"], doc["service"], doc["slo"], doc["severity"], incident.opened_at),
        )
    for slo_id, severity in resolved:
        conn.execute(
            "UPDATE incident_history SET resolved_at = ?"
            " WHERE slo_id = ? AND severity = ? AND resolved_at IS NULL",
            (change.at, slo_id, severity),
        )
