"""Windows of events SLIs summed from increase buckets at two steps, so that a direct-mode cycle
costs O(recent data): per SLO only the shortest window and a head of 5 to 10 minutes are read
from raw samples each cycle, not 30 days (nor the ~11 hours of the 30m-6h windows).

A bucket is an increase over one step, `rate(x[step]) × step` at the step's edge: once the step
is over it never changes. Each additive SLI (below) keeps its error and total increases in two
arrays per level, 16 bytes a bucket:

    fine    5-minute buckets, back to the start of its longest window under a day and at least
            to the last hour's edge (30d catalog: 6h, 71 buckets, ~1.1 KB per SLI);
    coarse  hourly buckets, back to the start of its longest window of a day or more
            (30d: 720 buckets, ~11.5 KB per SLI).

At the first cycle both levels are fetched: one range query per batch of SLIs and level (step 5m
over the fine span, step 1h over the coarse one). After that only fine buckets are fetched, one
range query per batch of SLIs needing the same edges, each time a 5-minute step has ended; an
hour's coarse bucket is the sum of its twelve fine ones. Identical SLIs (the same error and
total queries) share one set of buckets. At the cycle's time `at`, with E the fine edge before
the last one (so at − E is in [5m, 10m): the newest bucket used is 5 minutes old, past any
scrape still being ingested), a window W starting at s = at − W is

    head     (E, at]   asked each cycle in the SLO's one instant query: the counts over at − E
    fine     W < 1d, a multiple of 5m, at least 10m (10m, 30m, 1h, 2h, 6h): the full fine
             buckets in (s, E], and the fine bucket straddling s prorated
    coarse   W ≥ 1d, a multiple of 1h (1d, 3d, 30d): the fine buckets since the last hour's
             edge H ≤ E, the full hourly buckets in (s, H], and the hour straddling s prorated

and its error ratio is Σ errors / Σ total (no events: no data). Other windows (5m, any window
that is not a multiple of its step) stay one-shot ratio queries. Where a sum differs from the
one-shot `rate(x[W])`: (1) the straddling bucket is prorated, as if its step's events were
spread evenly; (2) each bucket's `rate()` extrapolates to its own two edges, where the one-shot
`rate()` extrapolates only at the window's ends: at every edge the increase between the last
sample before it and the first after is estimated from each side's slope instead of measured,
so traffic changing within a scrape interval of an edge moves the sum by that change's share;
an increase across a gap in the samples spanning an edge, or the rise from zero to the first
sample after a counter reset just after an edge, is partly lost (up to the gap less a scrape
interval); and a 5-minute bucket needs two samples (scrapes at most 2.5 minutes apart), or it
counts nothing. On a real Prometheus with the traffic and the error ratio (1% to 1.6%) changing
every 7 minutes, a counter reset and gaps of 2 and 40 minutes across edges, the sums stay
within 0.46% (30m), 0.13% (1h-6h) and 0.09% (1d-30d) of the one-shot values
(tests/integration/test_long_windows.py); with the error ratio stepping 4× every 7 minutes,
30m was off by up to 1.2% (its prorated tail is up to a sixth of it), the others by 0.34%.
Samples written into a past step later (backfill, out-of-order ingestion, a scrape ingested
more than 5 minutes late) are not seen.

Only SLIs whose error and total queries are each a `sum(...)` without grouping of `rate()`s
over the window are summed this way (`additive`): for them rate × window is a count of
events. Raw error-ratio SLIs and other shapes stay one-shot queries.
"""

from __future__ import annotations

import asyncio
import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from operator import is_

from slogate.conventions import render_window
from slogate.core.budget import clean_ratio
from slogate.core.durations import format_duration
from slogate.core.model import SLO, EventsSLI
from slogate.errors import BackendError, PromQLSyntaxError
from slogate.evaluation.backend import QueryBackend
from slogate.evaluation.queries import ERRORS, TOTAL, WINDOW_LABEL, counts_query, tag_batch
from slogate.sloth.promql import AggregateExpr, Call, Expr, MatrixSelector, ParenExpr, parse

FINE = 300.0
COARSE = 3600.0
PER_COARSE = 12
"""Fine buckets in a coarse one."""
LONG = 86400.0
"""Windows at least this long are summed from coarse buckets, shorter ones from fine ones."""

_PROBE = 7 * 3600 + 13 * 60
"""An unusual window to render an SLI with, to tell the template's ranges from fixed ones."""


def _rates(expr: Expr) -> bool:
    """Whether `expr` is `rate()` over the probe window, or sums and parentheses of them."""
    if isinstance(expr, ParenExpr | AggregateExpr):
        return (isinstance(expr, ParenExpr) or expr.op == "sum") and _rates(expr.expr)
    if isinstance(expr, Call) and expr.func == "rate" and len(expr.args) == 1:
        (matrix,) = expr.args
        return (
            isinstance(matrix, MatrixSelector)
            and matrix.range_seconds == _PROBE
            and matrix.vector.offset_seconds == 0
            and matrix.vector.at is None
        )
    return False


@cache
def additive(query: str) -> bool:
    """Whether `query` over any window w, times w, counts the events in w as one series: a
    `sum(...)` without grouping of `rate()`s over `{{.window}}`."""
    try:
        expr = parse(render_window(query, format_duration(_PROBE)))
    except PromQLSyntaxError:
        return False
    while isinstance(expr, ParenExpr):
        expr = expr.expr
    return (
        isinstance(expr, AggregateExpr)
        and expr.op == "sum"
        and not expr.grouping
        and (not expr.without and _rates(expr.expr))
    )


@dataclass(frozen=True, slots=True)
class Summed:
    """The windows of an SLO summed from fine and from coarse buckets."""

    fine: tuple[float, ...] = ()
    coarse: tuple[float, ...] = ()

    @property
    def windows(self) -> tuple[float, ...]:
        return self.fine + self.coarse

    @lru_cache(maxsize=64)  # noqa: B019 (a few catalogs, each asked once per SLO a cycle)
    def firsts(self, at: float) -> tuple[int, int | None]:
        """The first fine and coarse bucket (edge index) these windows need at `at`."""
        hour = fine_edge(at) // PER_COARSE
        fine = [straddling(at, w, FINE)[0] for w in self.fine]
        if not self.coarse:
            return min(fine), None
        coarse = straddling(at, max(self.coarse), COARSE)[0]
        return min([*fine, first_fine(hour + 1)]), coarse


@cache
def _split(windows: tuple[float, ...]) -> Summed:
    return Summed(
        tuple(w for w in windows if 2 * FINE <= w < LONG and w % FINE == 0),
        tuple(w for w in windows if w >= LONG and w % COARSE == 0),
    )


def summed_windows(slo: SLO) -> Summed:
    """The windows of `slo` summed from buckets (none unless its SLI is additive)."""
    sli = slo.sli
    if not isinstance(sli, EventsSLI) or not (
        additive(sli.error_query) and additive(sli.total_query)
    ):
        return Summed()
    return _split(slo.windows.windows)


@dataclass(frozen=True, slots=True)
class Counts:
    """Errors and total events over a span."""

    errors: float = 0.0
    total: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.errors + other.errors, self.total + other.total)


class Level:
    """One SLI's increases at one step, by edge index (edge / step), from `first` on, with the
    sums asked since the last change."""

    __slots__ = ("_sums", "errors", "first", "total")

    def __init__(self, first: int) -> None:
        self.first = first
        self.errors = array("d")
        self.total = array("d")
        self._sums: dict[tuple[int, int], Counts] = {}

    @property
    def next(self) -> int:
        """The first edge index not yet fetched."""
        return self.first + len(self.total)

    def covers(self, start: int, end: int) -> bool:
        """Whether edges `start..end` are all here."""
        return self.first <= start and end < self.next

    def extend(
        self, start: int, end: int, errors: Mapping[int, float], total: Mapping[int, float]
    ) -> None:
        """Append edges `start..end` (a step without a point counts 0: no samples)."""
        assert start == self.next
        self.errors.extend(errors.get(k, 0.0) for k in range(start, end + 1))
        self.total.extend(total.get(k, 0.0) for k in range(start, end + 1))
        self._sums.clear()

    def append(self, counts: Counts) -> None:
        self.errors.append(counts.errors)
        self.total.append(counts.total)
        self._sums.clear()

    def drop_before(self, first: int) -> None:
        if first > self.first:
            cut = min(first - self.first, len(self.total))
            del self.errors[:cut], self.total[:cut]
            self.first += cut
            self._sums.clear()

    def span(self, start: int, end: int) -> Counts:
        """Sum of the edges `start..end` (inclusive; none when `end` < `start`)."""
        found = self._sums.get((start, end))
        if found is None:
            lo, hi = start - self.first, end - self.first + 1
            found = Counts(math.fsum(self.errors[lo:hi]), math.fsum(self.total[lo:hi]))
            self._sums[start, end] = found
        return found

    def ratio(self, recent: Counts, k: int, share: float, end: int) -> float | None:
        """The error ratio of `recent` + the buckets `k + 1..end` + `share` of bucket `k`; no
        events is no data."""
        full, i = self.span(k + 1, end), k - self.first
        total = recent.total + full.total + self.total[i] * share
        if total <= 0:
            return None
        return clean_ratio((recent.errors + full.errors + self.errors[i] * share) / total)


class Buckets:
    """One SLI's two levels of buckets."""

    __slots__ = ("coarse", "fine")

    def __init__(self) -> None:
        self.fine: Level | None = None
        self.coarse: Level | None = None

    def level(self, step: float) -> Level:
        found = self.fine if step == FINE else self.coarse
        assert found is not None
        return found

    def plan(self, fine_first: int, coarse_first: int | None, at: float) -> list[float]:
        """The steps to fetch at `at` (each from its level's `next`), starting a level afresh
        where what it holds is of no use (too recent a start, or all older than needed). An
        hour's coarse bucket is summed from its fine ones when the fine level holds them."""
        edge = fine_edge(at)
        fine = self.fine
        if fine is None or fine.first > fine_first or fine.next < fine_first:
            fine = self.fine = Level(fine_first)
        steps = [FINE] if fine.next <= edge else []
        coarse = self.coarse
        if coarse_first is None:
            self.coarse = None
            return steps
        if coarse is None or coarse.first > coarse_first or coarse.next < coarse_first:
            coarse = self.coarse = Level(coarse_first)
        if coarse.next <= edge // PER_COARSE and fine.first > first_fine(coarse.next):
            steps.append(COARSE)
        return steps

    def settle(self, fine_first: int, coarse_first: int | None, at: float) -> None:
        """Sum the hours whose fine buckets are all here into coarse ones; drop what no window
        needs any more (fine buckets of an hour not yet summed are kept)."""
        fine, coarse = self.fine, self.coarse
        assert fine is not None
        keep = fine_first
        if coarse is not None and coarse_first is not None:
            hour = fine_edge(at) // PER_COARSE
            while coarse.next <= hour and fine.covers(first_fine(coarse.next), last_fine(coarse)):
                coarse.append(fine.span(first_fine(coarse.next), last_fine(coarse)))
            coarse.drop_before(coarse_first)
            if coarse.next <= hour and fine.first <= first_fine(coarse.next):
                keep = min(keep, first_fine(coarse.next))
        fine.drop_before(keep)

    def ready(self, fine_first: int, coarse_first: int | None, at: float) -> bool:
        edge = fine_edge(at)
        if self.fine is None or not self.fine.covers(fine_first, edge):
            return False
        if coarse_first is None:
            return True
        return self.coarse is not None and self.coarse.covers(coarse_first, edge // PER_COARSE)


class LongWindows:
    """Every additive SLI's buckets, topped up at each cycle."""

    def __init__(self, backend: QueryBackend, *, batch_size: int, concurrency: int) -> None:
        self.backend = backend
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._buckets: dict[EventsSLI, Buckets] = {}
        self._complete: tuple[int, Sequence[SLO]] = (0, ())
        """The fine edge and the SLOs of the last top-up that fetched everything: until the
        next fine edge, what every window needs does not change."""

    @staticmethod
    def head(at: float) -> float:
        """The head's length at `at`: from the fine edge before the last one to `at`."""
        return at - fine_edge(at) * FINE

    def ready(self, slo: SLO, at: float) -> bool:
        """Whether `slo`'s summed windows have every bucket they need at `at`."""
        summed, sli = summed_windows(slo), slo.sli
        found = self._buckets.get(sli) if isinstance(sli, EventsSLI) else None
        return found is not None and bool(summed.windows) and found.ready(*summed.firsts(at), at)

    async def top_up(self, slos: Sequence[SLO], at: float) -> tuple[int, int]:
        """Fetch the buckets missing at `at` of every SLI of `slos` with summed windows: one
        range query per batch of SLIs needing the same step and edges. Queries sent and failed."""
        edge, (done, done_for) = fine_edge(at), self._complete
        if done == edge and len(done_for) == len(slos) and all(map(is_, done_for, slos)):
            return 0, 0
        needed: dict[EventsSLI, tuple[int, int | None]] = {}
        for slo in slos:
            summed = summed_windows(slo)
            if summed.windows:
                assert isinstance(slo.sli, EventsSLI)
                needed[slo.sli] = _earliest(needed.get(slo.sli), summed.firsts(at))
        self._buckets = {sli: b for sli, b in self._buckets.items() if sli in needed}
        by_start: dict[tuple[float, int], list[EventsSLI]] = {}
        for sli, firsts in needed.items():
            buckets = self._buckets.setdefault(sli, Buckets())
            for step in buckets.plan(*firsts, at):
                by_start.setdefault((step, buckets.level(step).next), []).append(sli)
        jobs = [
            (step, start, group[n : n + self.batch_size])
            for (step, start), group in by_start.items()
            for n in range(0, len(group), self.batch_size)
        ]
        queue = iter(jobs)
        failed = 0

        async def worker() -> None:
            nonlocal failed
            for step, start, group in queue:
                end = edge if step == FINE else edge // PER_COARSE
                try:
                    await self._fetch(group, step, start, end)
                except BackendError:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(jobs)))))
        for sli, firsts in needed.items():
            self._buckets[sli].settle(*firsts, at)
        self._complete = (edge, tuple(slos)) if not failed else (0, ())
        return len(jobs), failed

    async def _fetch(self, slis: Sequence[EventsSLI], step: float, start: int, end: int) -> None:
        query = tag_batch([counts_query(sli, format_duration(step)) for sli in slis])
        series = await self.backend.query_range(query, start * step, end * step, step)
        found: list[dict[str, dict[int, float]]] = [{ERRORS: {}, TOTAL: {}} for _ in slis]
        for one in series:
            index = int(one.labels.get("slogate_slo", "0")) if len(slis) > 1 else 0
            part = found[index].get(one.labels.get(WINDOW_LABEL, ""))
            if part is not None:
                part.update((round(t / step), v * step) for t, v in one.points if math.isfinite(v))
        for sli, parts in zip(slis, found, strict=True):
            self._buckets[sli].level(step).extend(start, end, parts[ERRORS], parts[TOTAL])

    def ratios(self, slo: SLO, at: float, head: Counts) -> dict[float, float | None]:
        """The error ratio of each of `slo`'s summed windows at `at`, from `head` (the counts
        over `head(at)`) and its buckets (`ready` must hold)."""
        assert isinstance(slo.sli, EventsSLI)
        buckets, summed = self._buckets[slo.sli], summed_windows(slo)
        fine, coarse, edge = buckets.fine, buckets.coarse, fine_edge(at)
        assert fine is not None
        ratios = {w: fine.ratio(head, *straddling(at, w, FINE), edge) for w in summed.fine}
        if summed.coarse:
            assert coarse is not None
            hour = edge // PER_COARSE
            recent = head + fine.span(first_fine(hour + 1), edge)
            for window in summed.coarse:
                ratios[window] = coarse.ratio(recent, *straddling(at, window, COARSE), hour)
        return ratios


def fine_edge(at: float) -> int:
    """The index of the fine edge before the last one at `at`: where the head starts."""
    return math.floor(at / FINE) - 1


def straddling(at: float, window: float, step: float) -> tuple[int, float]:
    """The bucket (edge index) holding the start of `window` ending at `at`, and the share of
    its step inside the window."""
    position = (at - window) / step
    k = math.floor(position) + 1
    return k, k - position


def first_fine(hour: int) -> int:
    """The first fine bucket of the coarse bucket ending at edge index `hour`."""
    return PER_COARSE * (hour - 1) + 1


def last_fine(coarse: Level) -> int:
    """The last fine bucket of the coarse level's next hour."""
    return PER_COARSE * coarse.next


def _earliest(
    known: tuple[int, int | None] | None, firsts: tuple[int, int | None]
) -> tuple[int, int | None]:
    """The first buckets two SLOs of one SLI need between them."""
    if known is None:
        return firsts
    coarse = [c for c in (known[1], firsts[1]) if c is not None]
    return min(known[0], firsts[0]), min(coarse) if coarse else None
