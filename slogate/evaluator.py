"""One evaluation cycle: every SLO, every window, at one pinned timestamp → a new Snapshot.

Queries run concurrently (the backend client bounds how many are in flight). An SLO whose
queries fail keeps its previous figures, marked with the error, so their age keeps growing
until the gate's staleness limit applies the fail mode.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from slogate.budget import clean_ratio
from slogate.errors import BackendError
from slogate.model import SLO
from slogate.prometheus import QueryBackend, single_value
from slogate.queries import error_ratio_query
from slogate.snapshot import SLOStatus, Snapshot


class Evaluator:
    def __init__(self, backend: QueryBackend, *, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.clock = clock

    async def _ratio(self, slo: SLO, window: float, at: float) -> float | None:
        return clean_ratio(
            single_value(await self.backend.query(error_ratio_query(slo, window), at))
        )

    async def _status(
        self, slo: SLO, previous: SLOStatus | None, at: float
    ) -> tuple[SLOStatus, int]:
        """The SLO's new status and how many of its queries failed."""
        windows = slo.windows.windows
        results = await asyncio.gather(
            *(self._ratio(slo, w, at) for w in windows), return_exceptions=True
        )
        ratios: dict[float, float | None] = {}
        failures: list[BackendError] = []
        for window, result in zip(windows, results, strict=True):
            if isinstance(result, BackendError):
                failures.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                ratios[window] = result
        if failures:
            base = previous if previous is not None and previous.slo == slo else SLOStatus(slo)
            return base.failed(str(failures[0]), at), len(failures)
        return SLOStatus(slo, ratios, evaluated_at=at, attempted_at=at), 0

    async def evaluate(
        self, slos: Sequence[SLO], previous: Snapshot | None = None, at: float | None = None
    ) -> Snapshot:
        """Evaluate every SLO at `at` (default: now, to the millisecond)."""
        at = round(self.clock(), 3) if at is None else at
        started = time.perf_counter()
        known = previous.statuses if previous is not None else {}
        results = await asyncio.gather(*(self._status(s, known.get(s.id), at) for s in slos))
        return Snapshot(
            {status.slo.id: status for status, _ in results},
            taken_at=at,
            cycle=(previous.cycle + 1) if previous is not None else 1,
            duration=time.perf_counter() - started,
            queries=sum(len(s.windows.windows) for s in slos),
            failed_queries=sum(failed for _, failed in results),
        )
