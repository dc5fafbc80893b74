"""One evaluation cycle: every SLO, every window, at one pinned timestamp → a new Snapshot.

Two ways to get an SLO's error ratios, chosen per SLO in `auto` mode:
- rules: where Sloth's recording rules (`slo:sli_error:ratio_rate<window>`) are loaded, one
  query per window reads every SLO at once, so a cycle costs O(windows) queries;
- direct: one query per SLO for all its windows, a bounded number of SLOs at a time over the
  backend's keep-alive pool.

An SLO whose queries fail keeps its previous figures, marked with the error, so their age keeps
growing until the gate's staleness limit applies the fail mode.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from slogate.budget import clean_ratio
from slogate.durations import format_duration
from slogate.errors import BackendError
from slogate.model import SLO, EventsSLI
from slogate.prometheus import QueryBackend, Sample, single_value
from slogate.queries import WINDOW_LABEL, recorded_ratios_query, traffic_query, windows_query
from slogate.snapshot import SLOStatus, Snapshot
from slogate.tracing import set_attributes, span

YIELD_EVERY = 100
"""SLOs built from recording rules between two chances for the gate to answer (~1 ms)."""

Recorded = Mapping[float, Mapping[str, float | None]]
"""Per window, each SLO's (by Sloth id) recorded error ratio."""


class Mode(StrEnum):
    AUTO = "auto"
    RULES = "rules"
    DIRECT = "direct"


class Evaluator:
    def __init__(
        self,
        backend: QueryBackend,
        *,
        clock: Callable[[], float] = time.time,
        mode: Mode = Mode.AUTO,
        concurrency: int = 16,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.mode = mode
        self.concurrency = concurrency
        """SLOs in flight at once: enough to fill the backend's pool, few enough that a cycle of
        thousands never floods the event loop the gate answers on."""

    async def _query(self, expr: str, at: float, **attributes: Any) -> list[Sample]:
        """One backend query, traced (query, window, outcome) when tracing is on."""
        with span("slogate.backend.query", **{"db.query.text": expr}, **attributes) as current:
            samples = await self.backend.query(expr, at)
            set_attributes(current, **{"slogate.samples": len(samples)})
            return samples

    async def _ratios(self, slo: SLO, at: float) -> tuple[dict[float, float | None], int]:
        """Every window's error ratio, and how many queries it took (one, plus a traffic query
        per window whose ratio came back empty)."""
        windows = slo.windows.windows
        by_window: dict[str, list[Sample]] = {}
        for sample in await self._query(windows_query(slo), at, **{"slogate.slo": slo.id}):
            by_window.setdefault(sample.labels.get(WINDOW_LABEL, ""), []).append(sample)
        ratios: dict[float, float | None] = {}
        empty: list[float] = []
        for window in windows:
            samples = by_window.get(format_duration(window))
            if samples or not isinstance(slo.sli, EventsSLI):
                ratios[window] = clean_ratio(single_value(samples or []))
            else:
                empty.append(window)
        if empty:
            totals = await asyncio.gather(*(self._traffic(slo, w, at) for w in empty))
            ratios.update(zip(empty, totals, strict=True))
        return {w: ratios[w] for w in windows}, 1 + len(empty)

    async def _traffic(self, slo: SLO, window: float, at: float) -> float | None:
        """An empty error ratio: 0 when there was traffic (no error series), else no data."""
        assert isinstance(slo.sli, EventsSLI)
        where = {"slogate.slo": slo.id, "slogate.window": format_duration(window)}
        total = single_value(await self._query(traffic_query(slo.sli, window), at, **where))
        return 0.0 if total is not None and total > 0 else None

    async def _recorded(self, windows: Sequence[float], at: float) -> tuple[Recorded, int]:
        """Recording-rule ratios of every window that answered, and how many queries failed."""

        async def one(window: float) -> dict[str, float | None]:
            by_id: dict[str, float | None] = {}
            expr = recorded_ratios_query(window)
            for sample in await self._query(
                expr, at, **{"slogate.window": format_duration(window)}
            ):
                slo_id = sample.labels.get("sloth_id", "")
                value = clean_ratio(sample.value)
                values = [v for v in (by_id.get(slo_id), value) if v is not None]
                by_id[slo_id] = max(values) if values else None  # several series: the worst
            return by_id

        results = await asyncio.gather(*(one(w) for w in windows), return_exceptions=True)
        recorded: dict[float, Mapping[str, float | None]] = {}
        failed = 0
        for window, result in zip(windows, results, strict=True):
            if isinstance(result, BackendError):
                failed += 1
            elif isinstance(result, BaseException):
                raise result
            else:
                recorded[window] = result
        return recorded, failed

    async def _direct(
        self, slo: SLO, previous: SLOStatus | None, at: float
    ) -> tuple[SLOStatus, int, int]:
        """The SLO's new status from its own queries, how many it sent and how many failed."""
        try:
            ratios, sent = await self._ratios(slo, at)
        except BackendError as exc:
            base = previous if previous is not None and previous.slo == slo else SLOStatus(slo)
            return base.failed(str(exc), at), 1, 1
        return SLOStatus(slo, ratios, evaluated_at=at, attempted_at=at), sent, 0

    async def _all_direct(
        self, slos: Sequence[SLO], known: Mapping[str, SLOStatus], at: float
    ) -> list[tuple[SLOStatus, int, int]]:
        """`_direct` for every SLO, `concurrency` at a time (workers, not a task per SLO)."""
        results: list[tuple[SLOStatus, int, int] | None] = [None] * len(slos)
        queue = iter(enumerate(slos))

        async def worker() -> None:
            for n, slo in queue:
                results[n] = await self._direct(slo, known.get(slo.id), at)

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(slos)))))
        return [r for r in results if r is not None]

    @staticmethod
    def _from_rules(slo: SLO, recorded: Recorded, at: float) -> SLOStatus | None:
        """The SLO's status from recording rules, if every one of its windows is recorded."""
        ratios: dict[float, float | None] = {}
        for window in slo.windows.windows:
            by_id = recorded.get(window)
            if by_id is None or slo.id not in by_id:
                return None
            ratios[window] = by_id[slo.id]
        return SLOStatus(slo, ratios, evaluated_at=at, attempted_at=at)

    async def evaluate(
        self, slos: Sequence[SLO], previous: Snapshot | None = None, at: float | None = None
    ) -> Snapshot:
        """Evaluate every SLO at `at` (default: now, to the millisecond)."""
        at = round(self.clock(), 3) if at is None else at
        with span(
            "slogate.evaluation", **{"slogate.slos": len(slos), "slogate.mode": self.mode.value}
        ) as current:
            snapshot = await self._evaluate(slos, previous, at)
            set_attributes(
                current,
                **{
                    "slogate.queries": snapshot.queries,
                    "slogate.failed_queries": snapshot.failed_queries,
                    "slogate.from_rules": snapshot.from_rules,
                },
            )
            return snapshot

    async def _evaluate(
        self, slos: Sequence[SLO], previous: Snapshot | None, at: float
    ) -> Snapshot:
        started = time.perf_counter()
        known = previous.statuses if previous is not None else {}
        statuses: dict[str, SLOStatus] = {}
        queries = failed = 0
        if self.mode is not Mode.DIRECT:
            windows = sorted({w for slo in slos for w in slo.windows.windows})
            recorded, failed = await self._recorded(windows, at)
            queries += len(windows)
            for n, slo in enumerate(slos, 1):
                if (status := self._from_rules(slo, recorded, at)) is not None:
                    statuses[slo.id] = status
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let gate requests in between
        from_rules = len(statuses)
        direct = [s for s in slos if s.id not in statuses]
        if self.mode is Mode.RULES:
            message = "no recording rules (slo:sli_error:ratio_rate<window>) for this SLO"
            for slo in direct:
                base = known.get(slo.id)
                status = base if base is not None and base.slo == slo else SLOStatus(slo)
                statuses[slo.id] = status.failed(message, at)
            direct = []
        for status, sent, failures in await self._all_direct(direct, known, at):
            statuses[status.slo.id] = status
            queries += sent
            failed += failures
        return Snapshot(
            {slo.id: statuses[slo.id] for slo in slos},
            taken_at=at,
            cycle=(previous.cycle + 1) if previous is not None else 1,
            duration=time.perf_counter() - started,
            queries=queries,
            failed_queries=failed,
            from_rules=from_rules,
        )
