"""`slogate store copy`: a single node's SQLite history into a shared PostgreSQL store (P6).

Table by table (`TABLES`), in pages, each row inserted unless its key is already there: running
it again copies nothing twice, and a copy interrupted half-way is finished by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass

from slogate.store.base import TABLES
from slogate.store.postgresql import PostgreSQLStore
from slogate.store.sqlite import SQLiteStore


@dataclass(frozen=True, slots=True)
class TableCopy:
    table: str
    read: int
    copied: int
    """Rows the target did not have yet."""

    def line(self) -> str:
        there = self.read - self.copied
        return f"{self.table}: {self.read} read, {self.copied} copied, {there} already there"


async def copy_store(
    source: SQLiteStore, target: PostgreSQLStore, *, page: int = 1000
) -> list[TableCopy]:
    """Copy every table of the open `source` into the open `target`."""
    counts = []
    for table in TABLES:
        read = copied = 0
        after = 0
        while True:
            after, rows = await source.export_rows(table, after, page)
            if not rows:
                break
            read += len(rows)
            copied += await target.import_rows(table, rows)
        counts.append(TableCopy(table, read, copied))
    return counts
