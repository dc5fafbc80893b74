"""The running evaluation: the loaded SLO set and config, the current snapshot, one cycle at a
time.

The snapshot is replaced whole after each cycle (an attribute assignment, atomic for readers on
the event loop). A reload of specs or config that finds any problem keeps the last good set
serving and says why.

Cycles run in an evaluation worker process when the engine is given the backend's options
(`evaluation.worker: process`, what `serve` does), else on this event loop (`inline`). Either
way `evaluator` keeps a backend client here, for the queries of the canary judge.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from slogate.config import Config, parse_config
from slogate.core.model import SLO
from slogate.core.snapshot import SLOStatus, Snapshot
from slogate.errors import ConfigError, WorkerError
from slogate.evaluation.backend import QueryBackend
from slogate.evaluation.backend_options import BackendOptions
from slogate.evaluation.costs import CycleCost
from slogate.evaluation.evaluator import Evaluator
from slogate.evaluation.settings import EvaluatorSettings
from slogate.evaluation.specfiles import SpecSet, load_specs
from slogate.evaluation.worker import Worker
from slogate.sloth.spec import LoadOptions

log = logging.getLogger(__name__)

CycleListener = Callable[[Snapshot], Awaitable[None] | None]

# Sections whose change needs a restart (they shape connections and sockets made at start).
RESTART_ONLY = ("prometheus", "server", "specs")


@dataclass(frozen=True, slots=True)
class ReloadResult:
    ok: bool
    at: float
    message: str
    errors: tuple[str, ...] = ()


@dataclass(slots=True)
class SpecSource:
    """Where the SLO specs come from and how to read them."""

    path: Path
    options: LoadOptions = field(default_factory=LoadOptions)

    def load(self) -> SpecSet:
        return load_specs(self.path, self.options)


@dataclass(slots=True)
class ConfigSource:
    """The config file (if any) and the command-line values that override it."""

    path: Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def load(self) -> Config:
        text, source = "", "command line"
        if self.path is not None:
            try:
                text = self.path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{self.path}: cannot read: {exc.strerror}") from None
            source = str(self.path)
        return parse_config(text, source, self.overrides)


class Engine:
    def __init__(
        self,
        config: Config,
        specs: SpecSource,
        backend: QueryBackend,
        *,
        clock: Callable[[], float] = time.time,
        config_source: ConfigSource | None = None,
        worker: BackendOptions | None = None,
    ) -> None:
        """`worker`: evaluate in a worker process that builds its backend client from these
        options; without them, inline with `backend`."""
        self.config = config
        self.specs = specs
        self.config_source = config_source
        self.clock = clock
        settings = EvaluatorSettings.of(config)
        self.evaluator = settings.evaluator(backend, clock)
        self.worker = Worker(worker, settings) if worker is not None else None
        self.slos: tuple[SLO, ...] = ()
        self.snapshot = Snapshot.empty(())
        self.last_spec_reload: ReloadResult | None = None
        self.last_config_reload: ReloadResult | None = None
        self.listeners: list[CycleListener] = []
        self._cycle_lock = asyncio.Lock()

    def load(self) -> ReloadResult:
        """(Re)load the specs. On any problem the current set keeps serving."""
        found = self.specs.load()
        if found.errors:
            lines = tuple(e.line() for e in found.errors)
            for line in lines:
                log.error("invalid spec: %s", line)
            kept = f", last good set of {len(self.slos)} SLOs kept" if self.slos else ""
            result = ReloadResult(
                False, self.clock(), f"{len(lines)} problem(s) in specs{kept}", lines
            )
        else:
            self.use_slos(found.slos)
            log.info("loaded %d SLOs from %d files", len(found.slos), found.files)
            result = ReloadResult(True, self.clock(), f"{len(found.slos)} SLOs loaded")
        self.last_spec_reload = result
        return result

    def reload_config(self) -> ReloadResult:
        """Re-read the config file; policy and interval apply at once, the rest at restart."""
        if self.config_source is None:
            return ReloadResult(True, self.clock(), "no config file")
        try:
            new = self.config_source.load()
        except ConfigError as exc:
            log.error("invalid config, last good one kept: %s", exc)
            result = ReloadResult(
                False, self.clock(), "invalid config, last good one kept", (str(exc),)
            )
        else:
            for section in RESTART_ONLY:
                if getattr(new, section) != getattr(self.config, section):
                    log.warning(
                        "config section %r changed: it applies at the next restart", section
                    )
                    new = replace(new, **{section: getattr(self.config, section)})
            if new.evaluation.worker != self.config.evaluation.worker:
                log.warning("evaluation.worker changed: it applies at the next restart")
                kept = self.config.evaluation.worker
                new = replace(new, evaluation=msgspec.structs.replace(new.evaluation, worker=kept))
            self.config = new
            settings = EvaluatorSettings.of(new)
            settings.apply(self.evaluator)
            if self.worker is not None:
                self.worker.configure(settings)
            result = ReloadResult(True, self.clock(), "config loaded")
        self.last_config_reload = result
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

    @property
    def last_cost(self) -> CycleCost:
        """Where the last cycle's time went (in the worker, when there is one)."""
        return self._runner.last_cost

    @property
    def _runner(self) -> Worker | Evaluator:
        """What runs the cycles: the worker process if there is one, else the evaluator here."""
        return self.worker if self.worker is not None else self.evaluator

    async def run_cycle(self) -> Snapshot:
        """Evaluate every SLO once, swap the new snapshot in, tell the listeners."""
        async with self._cycle_lock:
            previous, slos = self.snapshot, self.slos
            at = round(self.clock(), 3)
            try:
                if self.worker is not None:
                    await self.worker.prepare(slos)
                    at = round(self.clock(), 3)  # a start's time is not the figures' age
                async with asyncio.timeout(self.cycle_timeout):
                    snapshot = await self._runner.evaluate(slos, previous, at)
            except TimeoutError:
                snapshot = _failed(
                    previous, f"evaluation cycle timed out after {self.cycle_timeout:g}s", at
                )
            except WorkerError as exc:
                snapshot = _failed(previous, str(exc), at)
            self.snapshot = snapshot
            if self.slos is not slos:  # reloaded mid-cycle: keep what still applies
                self.use_slos(self.slos)
            for listener in self.listeners:
                try:
                    result = listener(snapshot)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("cycle listener %r failed", listener)
            return snapshot

    async def aclose(self) -> None:
        """Stop the evaluation worker, if any."""
        if self.worker is not None:
            await self.worker.aclose()

    def readiness(self) -> tuple[bool, str]:
        """Ready once specs are loaded and a first cycle finished."""
        if not self.slos:
            reload = self.last_spec_reload
            return False, reload.message if reload else "specs not loaded yet"
        if self.snapshot.taken_at is None:
            return False, "first evaluation not finished yet"
        return True, "ready"


def _failed(previous: Snapshot, message: str, at: float) -> Snapshot:
    """`previous` after a cycle that failed as a whole: every SLO keeps its figures, marked."""
    log.error(message)
    return Snapshot(
        {key: s.failed(message, at) for key, s in previous.statuses.items()},
        previous.taken_at,
        previous.cycle + 1,
    )
