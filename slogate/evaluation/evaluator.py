"""One evaluation cycle: every SLO, every window, at one pinned timestamp → a new Snapshot.

Two ways to get an SLO's error ratios, chosen per SLO in `auto` mode:
- rules: where Sloth's recording rules (`slo:sli_error:ratio_rate<window>`) are loaded, one
  query per window reads every SLO at once, so a cycle costs O(windows) queries;
- direct: one query for all the windows of a batch of SLOs (up to `batch_size`), a bounded
  number of batches at a time over the backend's keep-alive pool. A cycle of 1,000 SLOs is 100
  round trips, not 1,000: the gate answers on the same event loop that sends and decodes them.
  SLOs with the same SLI and windows (e.g. one SLI at two objectives) share one place in a
  batch: the backend computes their identical expressions once, and each gets its own status.

An SLO whose queries fail keeps its previous figures, marked with the error, so their age keeps
growing until the gate's staleness limit applies the fail mode. When the backend rejects a
batch's query (rather than being unreachable), its SLOs are queried one by one, so that one
SLO's failing expression fails only that SLO.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slogate.conventions import WINDOW_PLACEHOLDER
from slogate.core.budget import clean_ratio
from slogate.core.durations import format_duration
from slogate.core.model import SLI, SLO, EventsSLI
from slogate.core.snapshot import SLOStatus, Snapshot
from slogate.errors import BackendError, QueryError
from slogate.evaluation.backend import QueryBackend, Sample, single_value
from slogate.evaluation.costs import CycleCost
from slogate.evaluation.long_windows import Counts, LongWindows, summed_windows
from slogate.evaluation.queries import (
    ERRORS,
    SLO_LABEL,
    TOTAL,
    WINDOW_LABEL,
    counts_query,
    recorded_ratios_query,
    tag_batch,
    traffic_query,
    windows_query,
)
from slogate.telemetry.tracing import set_attributes, span

YIELD_EVERY = 100
"""SLOs built from recording rules between two chances for the gate to answer (~1 ms)."""

Recorded = Mapping[float, Mapping[str, float | None]]
"""Per window, each SLO's (by Sloth id) recorded error ratio."""

Direct = tuple[list[SLOStatus], int, int]
"""New statuses, and how many queries were sent and how many of them failed."""


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
        batch_size: int = 10,
        long_windows: bool = False,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.mode = mode
        self.concurrency = concurrency
        """SLOs in flight at once: enough to fill the backend's pool, few enough that a cycle of
        thousands never floods the event loop the gate answers on."""
        self.batch_size = batch_size
        """SLOs in one direct query at most."""
        self._plan: tuple[tuple[int, int], tuple[SLO, ...], tuple[bool, ...], list[Batch]] = (
            (0, 0),
            (),
            (),
            [],
        )
        """The last cycle's batches and their query texts, for the batch size and concurrency
        and the very SLO objects they were built for (a reload makes new ones)."""
        self.long: LongWindows | None = None
        """Where windows are summed from increase buckets (direct mode), their buckets."""
        self.sum_long_windows(long_windows)
        self.last_cost = CycleCost()
        """Where the last cycle's time went."""
        self._building = 0.0

    def sum_long_windows(self, on: bool) -> None:
        """Sum direct mode's windows but the shortest from increase buckets (on), or query them
        whole (`long_windows`)."""
        if not on:
            self.long = None
        elif self.long is None:
            self.long = LongWindows(
                self.backend, batch_size=self.batch_size, concurrency=self.concurrency
            )

    async def _query(self, expr: str, at: float, **attributes: Any) -> list[Sample]:
        """One backend query, traced (query, window, outcome) when tracing is on."""
        with span("slogate.backend.query", **{"db.query.text": expr}, **attributes) as current:
            samples = await self.backend.query(expr, at)
            set_attributes(current, **{"slogate.samples": len(samples)})
            return samples

    async def _with_traffic(
        self, slo: SLO, ratios: dict[float, float | None], empty: list[float], at: float
    ) -> dict[float, float | None]:
        """`ratios` completed by a traffic query for each window in `empty`."""
        totals = await asyncio.gather(*(self._traffic(slo, w, at) for w in empty))
        ratios.update(zip(empty, totals, strict=True))
        return {w: ratios[w] for w in slo.windows.windows}

    async def _traffic(self, slo: SLO, window: float, at: float) -> float | None:
        """An empty error ratio: 0 when there was traffic (no error series), else no data."""
        assert isinstance(slo.sli, EventsSLI)
        where = {"slogate.slo": slo.id, "slogate.window": format_duration(window)}
        total = single_value(await self._query(traffic_query(slo.sli, window), at, **where))
        return 0.0 if total is not None and total > 0 else None

    async def _recorded(self, windows: Sequence[float], at: float) -> tuple[Recorded, int]:
        """Recording-rule ratios of every window that answered, and how many queries failed."""

        async def one(window: float) -> dict[str, float | None]:
            expr = recorded_ratios_query(window)
            samples = await self._query(expr, at, **{"slogate.window": format_duration(window)})
            started = time.perf_counter()
            by_id = {labels.get("sloth_id", ""): clean_ratio(raw) for labels, raw in samples}
            if len(by_id) < len(samples):  # not aggregated as asked: the worst of each SLO's
                by_id = _worst_by_id(samples)
            self._building += time.perf_counter() - started
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

    def _batches(self, slos: Sequence[SLO], at: float) -> list[Batch]:
        """`slos`' distinct queries (`Batch.shared`) in batches of at most `batch_size`,
        smaller when that keeps every worker busy (30 go as 15 queries of 2, not 3 of 10);
        built again only when the SLOs, the sizes or which SLOs have windows summed from
        buckets change."""
        long = self.long
        summed = tuple(long is not None and long.ready(slo, at) for slo in slos)
        sizes = (self.batch_size, self.concurrency)
        built_sizes, built_for, built_summed, batches = self._plan
        same = len(built_for) == len(slos) and all(
            a is b for a, b in zip(built_for, slos, strict=True)
        )
        if sizes != built_sizes or not same or summed != built_summed:
            groups = Batch.shared(slos, summed)
            size = max(1, min(self.batch_size, math.ceil(len(groups) / self.concurrency)))
            batches = [Batch.of(groups[n : n + size]) for n in range(0, len(groups), size)]
            self._plan = (sizes, tuple(slos), summed, batches)
        return batches

    async def _direct(self, batch: Batch, known: Mapping[str, SLOStatus], at: float) -> Direct:
        """New statuses of the batch's SLOs from its one query."""
        slos, members = batch.slos, batch.members
        if len(members) == 1:
            attributes: dict[str, Any] = {"slogate.slo": members[0].id}
        else:
            attributes = {"slogate.slos": [slo.id for slo in members]}
        head = LongWindows.head(at)
        try:
            samples = await self._query(batch.text(head), at, **attributes)
        except BackendError as exc:
            if isinstance(exc, QueryError) and len(slos) > 1:  # maybe one SLO's doing
                alone = [await self._direct(one, known, at) for one in batch.alone()]
                return _combine([([], 1, 1), *alone])
            return [_failed(slo, known.get(slo.id), str(exc), at) for slo in members], 1, 1
        started = time.perf_counter()
        by_slo: list[dict[str, list[Sample]]] = [{} for _ in slos]
        for sample in samples:
            index = sample.labels.get(SLO_LABEL, "0") if len(slos) > 1 else "0"
            if index.isdigit() and int(index) < len(slos):
                window = sample.labels.get(WINDOW_LABEL, "")
                by_slo[int(index)].setdefault(window, []).append(sample)
        statuses: list[SLOStatus] = []
        sent, failed = 1, 0
        incomplete: list[tuple[int, dict[float, float | None], list[float]]] = []
        for n, (slo, summed, by_window) in enumerate(zip(slos, batch.summed, by_slo, strict=True)):
            ratios, empty = _answered_ratios(slo, by_window, summed)
            if summed:
                assert self.long is not None
                ratios.update(self.long.ratios(slo, at, _head_counts(by_window, head)))
                ratios = {w: ratios[w] for w in slo.windows.windows if w in ratios}
            if empty:
                incomplete.append((n, ratios, empty))
            else:
                statuses += batch.statuses(n, ratios, at)
        self._building += time.perf_counter() - started
        if not incomplete:
            return statuses, sent, failed
        completed = await asyncio.gather(
            *(self._with_traffic(slos[n], ratios, empty, at) for n, ratios, empty in incomplete),
            return_exceptions=True,
        )
        for (n, _, empty), outcome in zip(incomplete, completed, strict=True):
            if isinstance(outcome, BackendError):  # a traffic query failed
                statuses += [_failed(s, known.get(s.id), str(outcome), at) for s in batch.groups[n]]
                sent, failed = sent + 1, failed + 1
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                statuses += batch.statuses(n, outcome, at)
                sent += len(empty)
        return statuses, sent, failed

    async def _all_direct(
        self, slos: Sequence[SLO], known: Mapping[str, SLOStatus], at: float
    ) -> Direct:
        """`_direct` for every batch, `concurrency` at a time (workers, not a task per batch)."""
        batches = self._batches(slos, at)
        results: list[Direct] = []
        queue = iter(batches)

        async def worker() -> None:
            for batch in queue:
                results.append(await self._direct(batch, known, at))

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(batches)))))
        return _combine(results)

    @staticmethod
    def _from_rules(slo: SLO, recorded: Recorded, at: float) -> SLOStatus | None:
        """The SLO's status from recording rules, if every one of its windows is recorded."""
        try:
            ratios = {w: recorded[w][slo.id] for w in slo.windows.windows}
        except KeyError:
            return None
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
        started, costs = time.perf_counter(), self.backend.costs.copy()
        self._building = 0.0
        known = previous.statuses if previous is not None else {}
        statuses: dict[str, SLOStatus] = {}
        queries = failed = 0
        if self.mode is not Mode.DIRECT:
            windows = sorted({w for slo in slos for w in slo.windows.windows})
            recorded, failed = await self._recorded(windows, at)
            queries += len(windows)
            building = time.perf_counter()
            for n, slo in enumerate(slos, 1):
                if (status := self._from_rules(slo, recorded, at)) is not None:
                    statuses[slo.id] = status
                if n % YIELD_EVERY == 0:
                    self._building += time.perf_counter() - building
                    await asyncio.sleep(0)  # let gate requests in between
                    building = time.perf_counter()
            self._building += time.perf_counter() - building
        from_rules = len(statuses)
        direct = [s for s in slos if s.id not in statuses]
        if self.mode is Mode.RULES:
            message = "no recording rules (slo:sli_error:ratio_rate<window>) for this SLO"
            for slo in direct:
                statuses[slo.id] = _failed(slo, known.get(slo.id), message, at)
            direct = []
        if self.long is not None and direct:
            sent, failures = await self.long.top_up(direct, at)
            queries, failed = queries + sent, failed + failures
        direct_statuses, sent, failures = await self._all_direct(direct, known, at)
        for status in direct_statuses:
            statuses[status.slo.id] = status
        queries += sent
        failed += failures
        swapping = time.perf_counter()
        snapshot = Snapshot(
            {slo.id: statuses[slo.id] for slo in slos},
            taken_at=at,
            cycle=(previous.cycle + 1) if previous is not None else 1,
            duration=swapping - started,
            queries=queries,
            failed_queries=failed,
            from_rules=from_rules,
        )
        finished = time.perf_counter()
        self.last_cost = CycleCost.of(
            costs,
            self.backend.costs,
            total=finished - started,
            building=self._building,
            snapshot=finished - swapping,
        )
        return snapshot


def _worst_by_id(samples: Sequence[Sample]) -> dict[str, float | None]:
    """Each Sloth id's worst finite ratio among `samples` (none finite: no data)."""
    by_id: dict[str, float | None] = {}
    for labels, raw in samples:
        slo_id = labels.get("sloth_id", "")
        value, known = clean_ratio(raw), by_id.get(slo_id)
        if known is None or (value is not None and value > known):
            by_id[slo_id] = value
    return by_id


def _answered_ratios(
    slo: SLO, by_window: Mapping[str, list[Sample]], summed: bool
) -> tuple[dict[float, float | None], list[float]]:
    """Each queried window's error ratio from the SLO's answered series, and the windows of an
    events SLI that came back empty (no error series: a traffic query tells 0 from no data)."""
    ratios: dict[float, float | None] = {}
    empty: list[float] = []
    events = isinstance(slo.sli, EventsSLI)
    for window in _queried(slo, summed):
        samples = by_window.get(format_duration(window))
        if samples or not events:
            ratios[window] = clean_ratio(single_value(samples or []))
        else:
            empty.append(window)
    return ratios, empty


def _queried(slo: SLO, summed: bool) -> tuple[float, ...]:
    """The windows of `slo` a direct query asks for: all, or those not summed from buckets."""
    if not summed:
        return slo.windows.windows
    from_buckets = summed_windows(slo).windows
    return tuple(w for w in slo.windows.windows if w not in from_buckets)


def _head_counts(by_window: Mapping[str, list[Sample]], head: float) -> Counts:
    """The events over the last `head` seconds, from the rates of `counts_query`'s series."""
    errors, total = (single_value(by_window.get(part, [])) for part in (ERRORS, TOTAL))
    return Counts((errors or 0.0) * head, (total or 0.0) * head)


Shared = tuple[tuple[SLO, ...], bool]
"""SLOs whose queries are the same (one SLI, one set of windows), and whether their windows
but the shortest are summed from buckets."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Queries sent together, each for a group of SLOs that share it (`groups`, their first
    SLO standing for all), whether each has windows summed from buckets, and their
    text split where the head's length goes."""

    groups: tuple[tuple[SLO, ...], ...]
    summed: tuple[bool, ...]
    pieces: tuple[str, ...]

    @staticmethod
    def shared(slos: Sequence[SLO], summed: Sequence[bool]) -> list[Shared]:
        """`slos` grouped by the query they need, in their order."""
        groups: dict[tuple[SLI, tuple[float, ...], bool], list[SLO]] = {}
        for slo, sum_long in zip(slos, summed, strict=True):
            groups.setdefault((slo.sli, slo.windows.windows, sum_long), []).append(slo)
        return [(tuple(group), sum_long) for (_, _, sum_long), group in groups.items()]

    @classmethod
    def of(cls, shared: Sequence[Shared]) -> Batch:
        queries = []
        for (slo, *_), sum_long in shared:
            parts = [windows_query(slo, _queried(slo, sum_long))]
            if sum_long:
                assert isinstance(slo.sli, EventsSLI)
                parts.append(counts_query(slo.sli, "{{.window}}"))
            queries.append("\nor\n".join(part for part in parts if part))
        return cls(
            tuple(group for group, _ in shared),
            tuple(sum_long for _, sum_long in shared),
            tuple(WINDOW_PLACEHOLDER.split(tag_batch(queries))),
        )

    @property
    def slos(self) -> tuple[SLO, ...]:
        """The SLO each query is built from."""
        return tuple(group[0] for group in self.groups)

    @property
    def members(self) -> tuple[SLO, ...]:
        """Every SLO the batch evaluates."""
        return tuple(slo for group in self.groups for slo in group)

    def statuses(self, n: int, ratios: Mapping[float, float | None], at: float) -> list[SLOStatus]:
        """The statuses of query `n`'s SLOs from its error ratios."""
        return [SLOStatus(slo, ratios, evaluated_at=at, attempted_at=at) for slo in self.groups[n]]

    def text(self, head: float) -> str:
        """The query, with the head's length (for SLOs whose windows are summed)."""
        return format_duration(head).join(self.pieces)

    def alone(self) -> list[Batch]:
        """Each query as a batch of its own."""
        return [
            Batch.of([(group, summed)])
            for group, summed in zip(self.groups, self.summed, strict=True)
        ]


def _combine(results: Sequence[Direct]) -> Direct:
    """Several `Direct` results as one: all the statuses, the queries sent and failed added."""
    statuses = [status for result in results for status in result[0]]
    return statuses, sum(r[1] for r in results), sum(r[2] for r in results)


def _failed(slo: SLO, previous: SLOStatus | None, error: str, at: float) -> SLOStatus:
    """`slo`'s previous figures (if they are of the same SLO), marked with `error` at `at`."""
    base = previous if previous is not None and previous.slo == slo else SLOStatus(slo)
    return base.failed(error, at)
