"""The shared store: PostgreSQL, for any number of replicas (DESIGN §7).

The same tables, columns and schema versions as the SQLite store, in PostgreSQL's types; each
version is applied once, under a transaction-level advisory lock, by whichever replica starts
first (a lock taken per transaction also works through a transaction-pooling PgBouncer). Every
operation runs on a connection from a bounded pool within `timeout` (client deadline and the
server's `statement_timeout`): past it, or with PostgreSQL down, it raises `StoreError`, and the
pool reconnects by itself once PostgreSQL is back.

Decisions are group-committed: they queue for one writer, which inserts everything waiting in
one transaction (one `unnest` INSERT, one WAL flush), after reading the overrides version with
`FOR SHARE`: a freeze committed by another replica either waits for that transaction (and the
decisions are ordered before it) or is seen, and the decisions made without it are refused.

psycopg 3 rather than asyncpg: it ships its own type hints (mypy strict here), its pool leaves
session state alone and is a separate, small package, and libpq reads `PGPASSWORD`,
`PGSSLMODE` and the other standard variables as every PostgreSQL tool does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from slogate.core.dora import DeploymentEvent
from slogate.errors import StaleOverridesError, StoreError
from slogate.store import plans, statements
from slogate.store.base import (
    TABLES,
    DecisionRecord,
    EventResult,
    StoreSizes,
)
from slogate.store.plans import Plan, Result
from slogate.store.queries import Queries
from slogate.store.statements import POSTGRESQL, render

T = TypeVar("T")
log = logging.getLogger(__name__)
Connection = AsyncConnection[tuple[Any, ...]]
Cursor = AsyncCursor[tuple[Any, ...]]

MIGRATIONS = statements.migrations(POSTGRESQL)

MIGRATION_LOCK = 0x736C_6F67_6174_65  # "slogate": the advisory lock key migrations run under

_INSERT_DECISIONS = f"""
    INSERT INTO decisions ({statements.DECISION_COLUMNS})
    SELECT * FROM unnest(%s::text[], %s::float8[], %s::text[], %s::text[], %s::text[], %s::text[])
""".encode()  # noqa: S608 (no data in it)
_IDENTITY = {"admin_actions": "seq", "outbox": "id", "incident_history": "id"}
"""The tables whose key PostgreSQL numbers (SQLite's AUTOINCREMENT), and that key."""


def redacted(conninfo: str) -> str:
    """The connection string without its password (what logs and errors may show)."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    params.pop("password", None)
    return make_conninfo("", **params)


async def migrate(conn: Connection) -> int:
    """Bring the schema to the newest version under the migration lock; returns it."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await _q(conn, statements.CREATE_SCHEMA_VERSION)
        row = await (await _q(conn, statements.SCHEMA_VERSION)).fetchone()
        current = row[0] if row else 0
        if current > len(MIGRATIONS):
            raise StoreError(
                f"database schema {current} is newer than this slogate ({len(MIGRATIONS)})"
            )
        for version in range(current + 1, len(MIGRATIONS) + 1):
            for statement in MIGRATIONS[version - 1].split(";"):
                if statement.strip():
                    await conn.execute(statement.encode())
        await _q(conn, statements.CLEAR_SCHEMA_VERSION)
        await _q(conn, statements.SET_SCHEMA_VERSION, (len(MIGRATIONS),))
    return len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class _Pending:
    record: DecisionRecord
    future: asyncio.Future[EventResult | None]
    step: DeploymentEvent | None = None


Written = tuple[_Pending, StoreError | None, EventResult | None]
"""A pending decision, its failure if any, and its step recorded with it."""


def _columns(records: list[DecisionRecord]) -> tuple[list[Any], ...]:
    return (
        [r.id for r in records],
        [r.decided_at for r in records],
        [r.service for r in records],
        [r.verdict for r in records],
        [r.source for r in records],
        [r.encoded for r in records],
    )


class PostgreSQLStore(Queries):
    """`Store` on a PostgreSQL database that several slogate processes share."""

    def __init__(
        self,
        conninfo: str,
        *,
        password: str = "",
        timeout: float = 5.0,
        pool_size: int = 8,
        max_batch: int = 512,
    ) -> None:
        self.conninfo = conninfo
        self.name = redacted(conninfo)
        self.timeout = timeout
        self.max_batch = max_batch
        milliseconds = int(timeout * 800)  # the server gives up first, and says why
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(1, int(timeout)),
            "options": f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}",
            "application_name": "slogate",
        }
        if password:
            self._kwargs["password"] = password
        self._pool = AsyncConnectionPool(
            conninfo,
            kwargs=self._kwargs,
            min_size=1,
            max_size=pool_size,
            timeout=timeout,
            open=False,
            name="slogate-store",
        )
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self.commits = 0

    # --- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        """Migrate on a connection of its own (its error says why it failed), then pool."""
        try:
            async with asyncio.timeout(self.timeout * 2):
                conn = await AsyncConnection.connect(self.conninfo, **self._kwargs)
                async with conn:
                    await migrate(conn)
                await self._pool.open(wait=True, timeout=self.timeout)
        except (psycopg.Error, PoolTimeout, TimeoutError) as exc:
            await self._pool.close()
            raise StoreError(f"cannot open {self.name}: {str(exc).strip()}") from exc
        self._writer = asyncio.create_task(self._write_decisions(), name="slogate-store-writer")

    async def close(self) -> None:
        if self._writer is None:
            return
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            pending.future.set_exception(StoreError("store closed"))
        await self._pool.close()

    async def _run(self, fn: Callable[[Connection], Awaitable[T]]) -> T:
        """`fn` on a pooled connection within the timeout; any failure is a `StoreError`."""
        try:
            async with asyncio.timeout(self.timeout), self._pool.connection() as conn:
                return await fn(conn)
        except StoreError:
            raise
        except (psycopg.Error, PoolTimeout, TimeoutError) as exc:
            raise StoreError(f"{self.name}: {str(exc).strip() or type(exc).__name__}") from exc

    async def _rows(self, text: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one of `statements`' texts."""

        async def select(conn: Connection) -> list[tuple[Any, ...]]:
            return await (await _q(conn, text, args)).fetchall()

        return await self._run(select)

    async def _rowcount(self, text: str, args: Sequence[Any]) -> int:
        async def change(conn: Connection) -> int:
            return (await _q(conn, text, args)).rowcount

        return await self._run(change)

    async def _transaction(self, plan: Callable[[], Plan[T]], *, snapshot: bool = False) -> T:
        async def run(conn: Connection) -> T:
            async with conn.transaction():
                if snapshot:
                    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                return await _drive(conn, plan())

        return await self._run(run)

    async def check(self) -> None:
        await self._rows("SELECT 1")

    async def import_rows(self, table: str, rows: list[tuple[Any, ...]]) -> int:
        """Insert rows of `table` (columns as `TABLES` lists them) that are not there yet;
        returns how many were new. Identity sequences move past the ids given, and the
        overrides version moves, so that running replicas read copied freezes."""
        columns = TABLES[table]
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)})"  # noqa: S608 (names from TABLES)
            f" VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING"
        ).encode()
        identity = _IDENTITY.get(table)

        async def write(conn: Connection) -> int:
            async with conn.transaction():
                cursor = conn.cursor()
                await cursor.executemany(sql, rows)
                copied = max(cursor.rowcount, 0)
                if identity:
                    await conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{identity}'),"  # noqa: S608
                        f" (SELECT COALESCE(max({identity}), 0) + 1 FROM {table}), false)".encode()
                    )
                if copied and table in ("freezes", "exemptions"):
                    await _q(conn, statements.BUMP_OVERRIDES_VERSION)
            return copied

        return await self._run(write)

    # --- decisions (group commit) -----------------------------------------------------------

    async def record_decision(
        self, record: DecisionRecord, step: DeploymentEvent | None = None
    ) -> EventResult | None:
        if self._writer is None:
            raise StoreError("store is not open")
        future: asyncio.Future[EventResult | None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(record, future, step))
        return await future

    async def _write_decisions(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcomes = await self._run(functools.partial(self._commit, batch=batch))
            except StoreError as exc:
                outcomes = [(p, exc, None) for p in batch]
            except Exception as exc:  # the writer must outlive any batch, or decisions hang
                log.exception("decision batch failed")
                failure = StoreError(f"{self.name}: {type(exc).__name__}")
                outcomes = [(p, failure, None) for p in batch]
            for pending, error, result in outcomes:
                if pending.future.done():
                    continue
                if error is None:
                    pending.future.set_result(result)
                else:
                    pending.future.set_exception(error)

    async def _commit(self, conn: Connection, batch: list[_Pending]) -> list[Written]:
        """One transaction: refuse the decisions made on older overrides, insert the rest; if
        the insert fails, insert them one savepoint each, so that only a failing one fails.
        Then the recorded decisions' deployment steps, in key order (replicas' batches lock
        deployment rows in one order, so they cannot deadlock)."""
        async with conn.transaction():
            row = await (await _q(conn, statements.OVERRIDES_VERSION_SHARED)).fetchone()
            version = row[0] if row else 0
            stale = StaleOverridesError(f"overrides changed (now version {version})")
            refused: list[Written] = [
                (p, stale, None) for p in batch if p.record.overrides_version not in (None, version)
            ]
            fresh = [p for p in batch if p.record.overrides_version in (None, version)]
            try:
                async with conn.transaction():
                    await conn.execute(_INSERT_DECISIONS, _columns([p.record for p in fresh]))
                errors: dict[int, StoreError | None] = {}
            except psycopg.IntegrityError:
                errors = {id(p): await self._insert_one(conn, p) for p in fresh}
            steps = {
                id(p): await _fold_step(conn, p.step)
                for p in sorted(fresh, key=_step_key)
                if p.step is not None and errors.get(id(p)) is None
            }
        self.commits += 1
        return refused + [(p, errors.get(id(p)), steps.get(id(p))) for p in fresh]

    async def _insert_one(self, conn: Connection, pending: _Pending) -> StoreError | None:
        try:
            async with conn.transaction():
                await conn.execute(_INSERT_DECISIONS, _columns([pending.record]))
        except psycopg.IntegrityError as exc:
            return StoreError(f"{self.name}: {exc}")
        return None

    # --- sizes --------------------------------------------------------------------------------

    async def sizes(self) -> StoreSizes:
        """Rows counted in one snapshot (MVCC: no lock on the gate's writes); bytes of the
        whole database, indexes and TOAST included."""
        [(decisions, notifications, size)] = await self._rows(
            "SELECT (SELECT count(*) FROM decisions), (SELECT count(*) FROM outbox),"
            " pg_database_size(current_database())"
        )
        return StoreSizes({"decisions": decisions, "notifications": notifications}, size)


async def _q(conn: Connection, text: str, args: Sequence[Any] = ()) -> Cursor:
    """One of `statements`' texts, run on `conn`."""
    return await conn.execute(render(POSTGRESQL, text).encode(), args)


async def _drive(conn: Connection, plan: Plan[T]) -> T:
    """As `plans.drive`, awaiting each statement."""
    try:
        statement = next(plan)
        while True:
            cursor = await _q(conn, *statement)
            rows = await cursor.fetchall() if cursor.description else []
            statement = plan.send(Result(rows, cursor.rowcount))
    except StopIteration as done:
        value: T = done.value
        return value


async def _fold_event(conn: Connection, event: DeploymentEvent) -> EventResult:
    """`event` folded into its deployment in a savepoint of the caller's transaction."""
    async with conn.transaction():
        return await _drive(conn, plans.apply_deployment_event(event))


async def _fold_step(conn: Connection, event: DeploymentEvent) -> EventResult | None:
    """A gate call's step folded beside its decision; a failure is logged and undone alone."""
    try:
        return await _fold_event(conn, event)
    except psycopg.Error:
        log.exception("deployment step %s/%s not recorded", event.service, event.deploy_id)
        return None


def _step_key(pending: _Pending) -> tuple[str, str]:
    step = pending.step
    return ("", "") if step is None else (step.service, step.deploy_id)
