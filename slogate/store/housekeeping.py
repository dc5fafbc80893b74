"""Housekeeping of the store, off the request path: retention and the disk-space guard.

Every `retention.prune_every`, each table of `PRUNABLE` loses its rows older than its retention,
`BATCH` rows per transaction with a pause between, so that a gate decision waiting to be written
never waits behind more than one short delete. The sizes (rows, bytes) are counted after each
pass for /metrics. Every `GUARD_EVERY` seconds the free space is read again.

Freed pages are reused by later inserts: at a steady rate the file stays as large as its
retention needs and no VACUUM is ever run (it would rewrite the whole file under a lock that
blocks every decision). The WAL is truncated back to 64 MiB after checkpoints.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slogate.config import RetentionConfig
from slogate.errors import StoreError
from slogate.store.base import Store, StoreSizes
from slogate.store.diskguard import DiskGuard

log = logging.getLogger(__name__)

BATCH = 500
PAUSE = 0.01
GUARD_EVERY = 1.0


@dataclass
class Housekeeping:
    store: Store
    retention: RetentionConfig
    guard: DiskGuard | None = None
    clock: Callable[[], float] = time.time
    sizes: StoreSizes | None = None
    pruned: dict[str, int] = field(default_factory=dict)
    """Rows deleted by table since the start."""

    def kept(self) -> dict[str, float]:
        return {
            "decisions": self.retention.decisions,
            "notifications": self.retention.notifications,
        }

    async def prune_table(self, table: str, before: float) -> int:
        total = 0
        while True:
            deleted = await self.store.prune(table, before, BATCH)
            total += deleted
            if deleted < BATCH:
                break
            await asyncio.sleep(PAUSE)  # let the gate's writes in between
        self.pruned[table] = self.pruned.get(table, 0) + total
        return total

    async def run_once(self) -> None:
        now = self.clock()
        for table, keep in self.kept().items():
            await self.prune_table(table, now - keep)
        self.sizes = await self.store.sizes()

    async def run(self) -> None:
        """Prune and measure every `prune_every`, refresh the guard every second, forever."""
        next_prune = 0.0
        while True:
            self.check_disk()
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + self.retention.prune_every
                try:
                    await self.run_once()
                except StoreError as exc:  # tried again next time; the gate reports its own
                    log.error("store housekeeping failed: %s", exc)
            await asyncio.sleep(GUARD_EVERY)

    def check_disk(self) -> None:
        if self.guard is None:
            return
        was_full = self.guard.full
        if self.guard.refresh() and not was_full:
            log.error("store nearly full, refusing decisions: %s", self.guard.describe())
        elif was_full and not self.guard.full:
            log.warning("store has room again: deciding")
