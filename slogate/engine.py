"""The running evaluation: the loaded SLO set, the current snapshot, and one cycle at a time.

The snapshot is replaced whole after each cycle (an attribute assignment, atomic for readers on
the event loop). A spec reload that finds any problem keeps the last good set serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from slogate.config import Config
from slogate.errors import SpecError
from slogate.evaluator import Evaluator
from slogate.model import SLO
from slogate.prometheus import QueryBackend
from slogate.snapshot import SLOStatus, Snapshot
from slogate.spec import LoadOptions
from slogate.specfiles import SpecSet, load_specs

log = logging.getLogger(__name__)

CycleListener = Callable[[Snapshot], None]


@dataclass(slots=True)
class ReloadResult:
    ok: bool
    at: float
    slos: int
    errors: tuple[SpecError, ...] = ()

    def summary(self) -> str:
        if self.ok:
            return f"{self.slos} SLOs loaded"
        return f"{len(self.errors)} problem(s), last good set kept: " + "; ".join(
            e.line() for e in self.errors[:5]
        )


@dataclass(slots=True)
class SpecSource:
    """Where the SLO specs come from and how to read them."""

    path: Path
    options: LoadOptions = field(default_factory=LoadOptions)

    def load(self) -> SpecSet:
        return load_specs(self.path, self.options)


class Engine:
    def __init__(
        self,
        config: Config,
        specs: SpecSource,
        backend: QueryBackend,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.specs = specs
        self.clock = clock
        self.evaluator = Evaluator(backend, clock=clock)
        self.slos: tuple[SLO, ...] = ()
        self.snapshot = Snapshot.empty(())
        self.last_reload: ReloadResult | None = None
        self.last_cycle_error: str | None = None
        self.listeners: list[CycleListener] = []
        self._cycle_lock = asyncio.Lock()

    def load(self) -> ReloadResult:
        """(Re)load the specs. On any problem the current set keeps serving."""
        found = self.specs.load()
        result = ReloadResult(not found.errors, self.clock(), len(found.slos), found.errors)
        self.last_reload = result
        if found.errors:
            for error in found.errors:
                log.error("invalid spec: %s", error.line())
            return result
        self.use_slos(found.slos)
        log.info("loaded %d SLOs from %d files", len(found.slos), found.files)
        return result

    def use_slos(self, slos: tuple[SLO, ...]) -> None:
        """Serve `slos`; statuses of SLOs that did not change are kept."""
        old = self.snapshot.statuses
        statuses = {}
        for slo in slos:
            known = old.get(slo.id)
            statuses[slo.id] = known if known is not None and known.slo == slo else SLOStatus(slo)
        self.slos = slos
        self.snapshot = Snapshot(statuses, self.snapshot.taken_at, self.snapshot.cycle)

    @property
    def cycle_timeout(self) -> float:
        return max(self.config.interval, self.config.prometheus.timeout)

    async def run_cycle(self) -> Snapshot:
        """Evaluate every SLO once and swap the new snapshot in."""
        async with self._cycle_lock:
            previous, slos = self.snapshot, self.slos
            at = round(self.clock(), 3)
            try:
                snapshot = await asyncio.wait_for(
                    self.evaluator.evaluate(slos, previous, at), self.cycle_timeout
                )
                self.last_cycle_error = None
            except TimeoutError:
                message = f"evaluation cycle timed out after {self.cycle_timeout:g}s"
                self.last_cycle_error = message
                log.error(message)
                snapshot = Snapshot(
                    {key: s.failed(message, at) for key, s in previous.statuses.items()},
                    previous.taken_at,
                    previous.cycle + 1,
                    failed_queries=0,
                )
            self.snapshot = snapshot
            if self.slos is not slos:  # reloaded mid-cycle: keep what still applies
                self.use_slos(self.slos)
            for listener in self.listeners:
                listener(snapshot)
            return snapshot

    def readiness(self) -> tuple[bool, str]:
        """Ready once specs are loaded and a first cycle finished."""
        if self.last_reload is None or not self.slos:
            reason = self.last_reload.summary() if self.last_reload else "specs not loaded yet"
            return False, reason
        if self.snapshot.taken_at is None:
            return False, "first evaluation not finished yet"
        return True, "ready"
