"""The disk-space guard: below a free-space floor on the store's file system, the store refuses
new decisions (the gate answers 503 `store_full`, never an unrecorded allow) while there is
still room for what matters more (a freeze, an outbox update) and before SQLite itself fails.

Free space is read with `statvfs` (injectable for tests) by `refresh`, which the housekeeping
task calls every second (and the store's opener once); the gate's path only reads the last
figure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


class DiskGuard:
    def __init__(
        self,
        path: Path,
        min_free_bytes: int,
        statvfs: Callable[[Path], os.statvfs_result] = os.statvfs,
    ) -> None:
        self.directory = path.parent
        self.min_free_bytes = min_free_bytes
        self.statvfs = statvfs
        self.free_bytes = -1
        self.full = False

    def refresh(self) -> bool:
        """Read the free space again; returns whether the store is now full."""
        stat = self.statvfs(self.directory)
        self.free_bytes = stat.f_bavail * stat.f_frsize
        self.full = self.free_bytes < self.min_free_bytes
        return self.full

    def describe(self) -> str:
        return (
            f"{self.free_bytes} bytes free on {self.directory}, below the floor of"
            f" {self.min_free_bytes} (store.min_free_mb)"
        )
