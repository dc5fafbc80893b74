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
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from slogate.core.dora import DeploymentEvent
from slogate.errors import StaleOverridesError, StoreError, StoreFullError
from slogate.store import plans, statements
from slogate.store.base import (
    TABLES,
    DecisionRecord,
    EventResult,
    StoreSizes,
)
from slogate.store.diskguard import DiskGuard
from slogate.store.plans import Plan, Result, drive
from slogate.store.queries import Queries
from slogate.store.statements import SQLITE, render

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS = statements.migrations(SQLITE)

_STOP = object()


DecisionRow = tuple[str, float, str, str, str, str]
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
    return f"INSERT INTO decisions ({statements.DECISION_COLUMNS}) VALUES {placeholders}"  # noqa: S608


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


def _q(conn: sqlite3.Connection, text: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
    """One of `statements`' texts, run on the store thread's connection."""
    return conn.execute(render(SQLITE, text), args)


def _result(conn: sqlite3.Connection, text: str, args: Sequence[Any]) -> Result:
    cursor = _q(conn, text, args)
    rows = cursor.fetchall() if cursor.description else []
    return Result(rows, cursor.rowcount)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the newest version; returns it."""
    _q(conn, statements.CREATE_SCHEMA_VERSION)
    row = _q(conn, statements.SCHEMA_VERSION).fetchone()
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
            _q(conn, statements.CLEAR_SCHEMA_VERSION)
            _q(conn, statements.SET_SCHEMA_VERSION, (version,))
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
    (version,) = _q(conn, statements.OVERRIDES_VERSION).fetchone()
    failure = StaleOverridesError(f"overrides changed (now version {version})")
    return {job: (job, None, failure) for job in checked if job.version != version}


class SQLiteStore(Queries):
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

    async def _rows(self, text: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one of `statements`' texts."""
        return await self._call(lambda conn: _q(conn, text, args).fetchall())

    async def _rowcount(self, text: str, args: Sequence[Any]) -> int:
        return await self._call(lambda conn: _q(conn, text, args).rowcount)

    async def _transaction(self, plan: Callable[[], Plan[T]], *, snapshot: bool = False) -> T:
        """One job: its batch's transaction (one instant: the store thread is the only writer)."""
        return await self._call(lambda conn: drive(plan(), functools.partial(_result, conn)))

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

    # --- sizes --------------------------------------------------------------------------------

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


def _fold_event(conn: sqlite3.Connection, event: DeploymentEvent) -> EventResult:
    """`event` folded into its deployment, in the caller's transaction."""
    return drive(plans.apply_deployment_event(event), functools.partial(_result, conn))


def _fold_step(conn: sqlite3.Connection, event: DeploymentEvent) -> EventResult | None:
    """A gate call's step folded beside its decision; a failure is logged and undone alone."""
    conn.execute("SAVEPOINT step")
    try:
        result: EventResult | None = _fold_event(conn, event)
    except sqlite3.Error:
        log.exception("deployment step %s/%s not recorded", event.service, event.deploy_id)
        conn.execute("ROLLBACK TO step")
        result = None
    conn.execute("RELEASE step")
    return result
