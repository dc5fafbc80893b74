"""The status page's pictures: range queries to the backend and the records marked on them.

Per SLO page: the error budget remaining over the SLO period and the burn rate of every window
over the last 24 h, with freezes, gate denials, deployments and incidents marked on the same
time axis. On the index: a budget sparkline per SLO (the worst `MAX_SPARKLINES` first) and
the delivery figures per service.

Bounded: ranges and steps are fixed here (nothing from the URL reaches a query), a series has
at most `MAX_POINTS` points, answers are cached for `TTL` seconds in at most `MAX_CACHED`
entries, and the marks read at most `MAX_MARKS` records of each kind. A backend that fails
leaves a chart out with the reason; the page still renders.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from slogate.control.deployments import Deliveries
from slogate.core.charts import (
    MARK_LABEL,
    MARK_STYLE,
    Axis,
    Mark,
    MarkKind,
    Series,
    Threshold,
    describe_marks,
    sparkline,
    time_chart,
    when,
)
from slogate.core.dora import Figures, Metric, is_failed
from slogate.core.durations import format_duration
from slogate.core.snapshot import SLOStatus
from slogate.errors import BackendError
from slogate.evaluation.backend import Series as RangeSeries
from slogate.evaluation.prometheus import PrometheusClient
from slogate.evaluation.queries import WINDOW_LABEL, error_ratio_query, windows_query
from slogate.store.base import DecisionQuery, DeploymentQuery, Store

DAY = 86_400.0
BURN_RANGE = DAY
BURN_STEP = 300.0
BUDGET_POINTS = 120
SPARK_POINTS = 48
MAX_POINTS = 500
MAX_SPARKLINES = 50
MAX_CACHED = 512
MAX_MARKS = 500
TTL = 60.0


@dataclass(frozen=True, slots=True)
class IndexPictures:
    sparklines: Mapping[str, str]
    """SLO id → its budget sparkline (SVG)."""
    delivery: str
    """The delivery figures per service (HTML)."""


class StatusCharts:
    def __init__(
        self,
        client: PrometheusClient,
        store: Store,
        deliveries: Deliveries,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.store, self.deliveries, self.clock = client, store, deliveries, clock
        self._cache: OrderedDict[tuple[str, float, float, float], list[RangeSeries]] = OrderedDict()
        self._expires: dict[tuple[str, float, float, float], float] = {}

    async def _range(self, expr: str, span: float, points: int) -> list[RangeSeries]:
        """A range query over the `span` before now, its end aligned to the step so that
        requests within one step share one answer."""
        step = max(span / min(points, MAX_POINTS), 1.0)
        align = min(step, TTL)  # the newest point at most a minute old
        end = math.floor(self.clock() / align) * align
        key = (expr, end - span, end, step)
        now = self.clock()
        if key in self._cache and self._expires[key] > now:
            self._cache.move_to_end(key)
            return self._cache[key]
        found = await self.client.query_range(expr, end - span, end, step)
        self._cache[key] = found
        self._expires[key] = now + TTL
        while len(self._cache) > MAX_CACHED:
            old, _ = self._cache.popitem(last=False)
            del self._expires[old]
        return found

    async def _budget(self, status: SLOStatus, points: int) -> Series:
        slo = status.slo
        found = await self._range(error_ratio_query(slo, slo.period), slo.period, points)
        values = _worst(found)
        return Series(
            "budget left", tuple((at, 1 - ratio / slo.error_budget) for at, ratio in values)
        )

    async def _burns(self, status: SLOStatus) -> list[Series]:
        slo = status.slo
        # The alert windows; the period's own is the budget chart's, and each of its points
        # would read the whole period of samples.
        windows = [w for w in slo.windows.windows if w < slo.period]
        found = await self._range(
            windows_query(slo, windows), BURN_RANGE, int(BURN_RANGE / BURN_STEP)
        )
        by_window: dict[str, list[RangeSeries]] = {}
        for series in found:
            by_window.setdefault(series.labels.get(WINDOW_LABEL, ""), []).append(series)
        lines = []
        for window in windows:
            name = format_duration(window)
            values = _worst(by_window.get(name, []))
            lines.append(Series(name, tuple((at, r / slo.error_budget) for at, r in values)))
        return lines

    # --- marks ------------------------------------------------------------------------------

    async def marks(self, status: SLOStatus, start: float) -> list[Mark]:
        """Freezes, denials, deployments and incidents of the SLO's service since `start`."""
        slo = status.slo
        service = slo.service
        freezes, decisions, deployments, incidents = await asyncio.gather(
            self.store.freeze_history(start),
            self.store.decisions(DecisionQuery(service=service, since=start, limit=MAX_MARKS)),
            self.store.deployments(DeploymentQuery(service=service, since=start, limit=MAX_MARKS)),
            self.store.incident_history(start, service),
        )
        window = self.deliveries.config().failure_window
        marks = [
            Mark(MarkKind.FREEZE, max(f.created_at, start), f.reason, lifted or f.until)
            for f, lifted in freezes
            if f.covers(service) and (not f.slo or f.slo == slo.name)
        ]
        marks += [
            Mark(MarkKind.DENIAL, d.decided_at, ", ".join(_codes(d.body)) or "denied")
            for d in decisions
            if d.verdict == "deny"
        ]
        for d in deployments:
            at = d.finished_at or d.started_at
            if at is None or at < start:
                continue
            kind = (
                MarkKind.FAILED_DEPLOYMENT
                if is_failed(d, incidents, window)
                else MarkKind.DEPLOYMENT
            )
            marks.append(Mark(kind, at, f"{d.deploy_id} {d.outcome.value}"))
        marks += [
            Mark(MarkKind.INCIDENT, i.opened_at, f"{i.severity} {i.slo}", i.resolved_at)
            for i in incidents
            if i.slo == slo.name
        ]
        return sorted(marks, key=lambda m: m.at)

    # --- pictures ---------------------------------------------------------------------------

    async def slo_charts(self, status: SLOStatus) -> str:
        """The SLO page's two charts and their legends (HTML)."""
        slo = status.slo
        now = self.clock()
        ident = f"{slo.service}-{slo.name}"
        period = format_duration(slo.period)
        parts = []
        try:
            budget = await self._budget(status, BUDGET_POINTS)
            marks = await self.marks(status, now - slo.period)
            low = min([0.0, *(v for _, v in budget.points)])
            axis = Axis(now - slo.period, now, max(low, -1.0), 1.0)
            parts.append(
                "<h2>Error budget left over the period</h2>"
                + time_chart(
                    chart_id=f"budget-{ident}",
                    title=f"Error budget left of {slo.service}/{slo.name} over {period}",
                    description=_describe(budget, percent=True) + " " + describe_marks(marks),
                    axis=axis,
                    series=[budget],
                    marks=marks,
                    thresholds=[Threshold(0.0, "exhausted")],
                    percent=True,
                )
            )
            burns = await self._burns(status)
            recent = [m for m in marks if (m.until or m.at) >= now - BURN_RANGE]
            high = max([1.0, *(v for line in burns for _, v in line.points if math.isfinite(v))])
            factors = sorted({c.burn_factor for c in slo.windows.conditions}, reverse=True)
            top = min(high, max(factors, default=1.0) * 3) * 1.1
            parts.append(
                "<h2>Burn rate per window, last 24 h</h2>"
                + time_chart(
                    chart_id=f"burn-{ident}",
                    title=f"Burn rate per window of {slo.service}/{slo.name}, last 24 hours",
                    description=" ".join(_describe(line) for line in burns)
                    + " "
                    + describe_marks(recent),
                    axis=Axis(now - BURN_RANGE, now, 0.0, top),
                    series=burns,
                    marks=recent,
                    thresholds=[Threshold(f, f"{f:g}×") for f in factors],
                )
            )
            parts.append(_mark_list(marks))
        except BackendError as exc:
            parts.append(f'<p class="muted">charts unavailable: {escape(str(exc))}</p>')
        return "".join(parts)

    async def index(self, statuses: Sequence[SLOStatus]) -> IndexPictures:
        """Budget sparklines of the worst SLOs, and the delivery table."""
        order = sorted(
            statuses,
            key=lambda s: (s.error_budget_remaining is None, s.error_budget_remaining or 0),
        )[:MAX_SPARKLINES]

        async def one(status: SLOStatus) -> tuple[str, str]:
            try:
                budget = await self._budget(status, SPARK_POINTS)
            except BackendError:
                return status.slo.id, '<span class="muted">n/a</span>'
            now = self.clock()
            low = min([0.0, *(v for _, v in budget.points)])
            axis = Axis(now - status.slo.period, now, max(low, -1.0), 1.0, 160, 30, 1, 1, 3, 3)
            last = budget.points[-1][1] if budget.points else None
            colour = (
                "#137333" if (last or 0) > 0.25 else "#b06000" if (last or 0) > 0 else "#c5221f"
            )
            title = (
                f"Error budget left of {status.slo.service}/{status.slo.name} over"
                f" {format_duration(status.slo.period)}: " + _describe(budget, percent=True)
            )
            return status.slo.id, sparkline(
                title=title, axis=axis, points=budget.points, colour=colour
            )

        lines = dict(await asyncio.gather(*(one(s) for s in order)))
        return IndexPictures(lines, delivery_table(list(self.deliveries.latest.values())))


def _worst(found: Sequence[RangeSeries]) -> list[tuple[float, float]]:
    """One value per time: the worst finite one of the series (as the gate takes it)."""
    merged: dict[float, float] = {}
    for series in found:
        for at, value in series.points:
            if math.isfinite(value):
                merged[at] = max(merged.get(at, value), value)
    return sorted(merged.items())


def _codes(body: dict[str, object]) -> list[str]:
    reasons = body.get("reasons")
    if not isinstance(reasons, list):
        return []
    return sorted({str(r.get("code")) for r in reasons if isinstance(r, dict)})


def _describe(series: Series, percent: bool = False) -> str:
    values = [v for _, v in series.points]
    if not values:
        return f"{series.name}: no data."

    def fmt(v: float) -> str:
        return f"{v * 100:.1f}%" if percent else f"{v:.2f}"

    return (
        f"{series.name}: from {fmt(values[0])} to {fmt(values[-1])}"
        f" (lowest {fmt(min(values))}, highest {fmt(max(values))})."
    )


def _legend() -> str:
    return (
        '<p class="legend">'
        + " ".join(
            f'<span><span class="dot" style="background:{MARK_STYLE[kind]}"></span>'
            f"{MARK_LABEL[kind]}</span>"
            for kind in MarkKind
        )
        + "</p>"
    )


def _mark_list(marks: Sequence[Mark]) -> str:
    """The marks as a list (the charts' text alternative, and what a tooltip says)."""
    if not marks:
        return '<p class="muted">No freezes, incidents, deployments or gate denials.</p>'
    items = "".join(
        f'<li><span class="dot" style="background:{MARK_STYLE[m.kind]}"></span>'
        f"{escape(MARK_LABEL[m.kind])} {when(m.at)}"
        + (f" – {when(m.until)}" if m.until is not None else "")
        + f": {escape(m.label)}</li>"
        for m in marks[-50:]
    )
    summary = f"<summary>Events on these charts ({len(marks)})</summary>"
    return _legend() + f'<details class="marks">{summary}<ul>{items}</ul></details>'


BAND_CLASS = {"elite": "ok", "high": "ok", "medium": "warn", "low": "deny"}


def _figure(value: str, band: str | None) -> str:
    if band is None:
        return f"{value}"
    return f'{value} <span class="band {BAND_CLASS[band]}">{band}</span>'


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return '<span class="muted">n/a</span>'
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * DAY:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / DAY:.1f} d"


def delivery_table(found: Sequence[Figures]) -> str:
    """The four figures of each service that deployed or restored in the window (HTML)."""
    deployed = [f for f in found if f.deployments or f.restored_incidents]
    if not deployed:
        return '<p class="muted">No deployments finished in the window.</p>'
    year = deployed[0].report_year
    window = format_duration(deployed[0].window)
    rows = []
    for f in sorted(deployed, key=lambda f: f.service):
        rate = "n/a" if f.change_failure_rate is None else f"{f.change_failure_rate * 100:.0f}%"
        cells = [
            escape(f.service),
            f"{f.deployments} ({f.failed} failed)",
            _figure(
                f"{f.deployment_frequency_per_day:.2f}/day", f.bands[Metric.DEPLOYMENT_FREQUENCY]
            ),
            _figure(_hours(f.lead_time_seconds), f.bands[Metric.LEAD_TIME]),
            _figure(rate, f.bands[Metric.CHANGE_FAILURE_RATE]),
            _figure(_hours(f.time_to_restore_seconds), f.bands[Metric.TIME_TO_RESTORE]),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "service",
            "deployments",
            "deployment frequency",
            "lead time (median)",
            "change failure rate",
            "time to restore (median)",
        )
    )
    return (
        f'<table class="delivery"><caption>Delivery over the last {window};'
        f" bands of the DORA {year} report</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
