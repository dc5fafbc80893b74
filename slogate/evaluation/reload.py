"""Hot reload: notice when spec files or the config file change (polling, no extra
dependency) and reload them; SIGHUP does the same at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from slogate.evaluation.specfiles import SPEC_SUFFIXES

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(paths: Iterable[Path]) -> Fingerprint:
    """Name, size and modification time of every spec or config file under `paths`."""
    found: list[tuple[str, int, int]] = []
    for path in paths:
        files = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        for file in files:
            if file.is_file() and (file == path or file.suffix in SPEC_SUFFIXES):
                try:
                    stat = file.stat()
                except OSError:
                    continue
                found.append((str(file), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


async def watch(paths: list[Path], on_change: Callable[[], None], interval: float) -> None:
    """Call `on_change` whenever the files under `paths` change; runs until cancelled."""
    last = await asyncio.to_thread(fingerprint, paths)
    while True:
        await asyncio.sleep(interval)
        current = await asyncio.to_thread(fingerprint, paths)
        if current != last:
            last = current
            log.info("spec or config files changed: reloading")
            on_change()
