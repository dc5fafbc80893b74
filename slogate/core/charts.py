"""Server-rendered SVG charts for the status page. Pure: numbers in, escaped SVG text out.

A time chart draws series over a fixed time axis and marks events on the same axis: freezes and
incidents as shaded spans, deployments and gate denials as ticks. Every chart is an image with
a title and a text description (`role="img"`, `<title>`, `<desc>`); every mark carries its
own `<title>` (a tooltip, read by screen readers) and `data-at` (its time, RFC 3339), and its
x position is `x_of(at)`, so a test can check that a mark sits at its time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from html import escape


class MarkKind(StrEnum):
    FREEZE = "freeze"
    INCIDENT = "incident"
    DEPLOYMENT = "deployment"
    FAILED_DEPLOYMENT = "failed-deployment"
    DENIAL = "denial"


MARK_STYLE = {
    MarkKind.FREEZE: "#5e97f6",
    MarkKind.INCIDENT: "#f28b82",
    MarkKind.DEPLOYMENT: "#188038",
    MarkKind.FAILED_DEPLOYMENT: "#c5221f",
    MarkKind.DENIAL: "#e37400",
}
MARK_LABEL = {
    MarkKind.FREEZE: "freeze",
    MarkKind.INCIDENT: "incident",
    MarkKind.DEPLOYMENT: "deployment",
    MarkKind.FAILED_DEPLOYMENT: "failed deployment",
    MarkKind.DENIAL: "gate denial",
}
PALETTE = ("#1a73e8", "#e8710a", "#9334e6", "#12b5cb", "#f538a0", "#7cb342", "#5f6368", "#b80672")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Mark:
    kind: MarkKind
    at: float
    label: str
    until: float | None = None
    """The end of a span (freeze, incident); None for a tick, or a span still open."""


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float
    label: str


@dataclass(frozen=True, slots=True)
class Axis:
    """The plot area of a chart: where a time and a value are drawn."""

    start: float
    end: float
    y_min: float
    y_max: float
    width: int = 900
    height: int = 240
    left: int = 56
    right: int = 16
    top: int = 28
    bottom: int = 28

    def x_of(self, at: float) -> float:
        span = self.end - self.start
        fraction = 0.0 if span <= 0 else (min(max(at, self.start), self.end) - self.start) / span
        return round(self.left + fraction * (self.width - self.left - self.right), 1)

    def y_of(self, value: float) -> float:
        span = self.y_max - self.y_min
        fraction = (
            0.0 if span <= 0 else (min(max(value, self.y_min), self.y_max) - self.y_min) / span
        )
        return round(
            self.height - self.bottom - fraction * (self.height - self.top - self.bottom), 1
        )


def when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tick_label(at: float, span: float) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%H:%M" if span <= 2 * 86_400 else "%b %d")


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _path(axis: Axis, points: Sequence[tuple[float, float]]) -> str:
    """A polyline, broken where a value is missing (NaN) or a sample is skipped."""
    parts: list[str] = []
    pen_up = True
    for at, value in points:
        if not math.isfinite(value):
            pen_up = True
            continue
        parts.append(f"{'M' if pen_up else 'L'}{axis.x_of(at)},{axis.y_of(value)}")
        pen_up = False
    return " ".join(parts)


def _grid(axis: Axis, percent: bool) -> list[str]:
    out = []
    for n in range(5):
        value = axis.y_min + (axis.y_max - axis.y_min) * n / 4
        y = axis.y_of(value)
        text = f"{value * 100:.0f}%" if percent else _number(value)
        out.append(
            f'<line x1="{axis.left}" x2="{axis.width - axis.right}" y1="{y}" y2="{y}"'
            ' stroke="#eee"/>'
            f'<text x="{axis.left - 6}" y="{y + 4}" text-anchor="end" class="axis">{text}</text>'
        )
    span = axis.end - axis.start
    for n in range(7):
        at = axis.start + span * n / 6
        x = axis.x_of(at)
        anchor = "end" if n == 6 else "middle"  # the last label stays inside the image
        out.append(
            f'<text x="{x}" y="{axis.height - 8}" text-anchor="{anchor}" class="axis">'
            f"{_tick_label(at, span)}</text>"
        )
    return out


def _mark(axis: Axis, mark: Mark) -> str:
    colour = MARK_STYLE[mark.kind]
    label = escape(f"{MARK_LABEL[mark.kind]} {when(mark.at)}: {mark.label}")
    x = axis.x_of(mark.at)
    attrs = f'class="mark {mark.kind.value}" data-at="{when(mark.at)}"'
    top, bottom = axis.top, axis.height - axis.bottom
    if mark.kind in (MarkKind.FREEZE, MarkKind.INCIDENT):
        end = axis.x_of(mark.until if mark.until is not None else axis.end)
        width = max(end - x, 2.0)
        return (
            f'<rect {attrs} x="{x}" y="{top}" width="{width:.1f}" height="{bottom - top}"'
            f' fill="{colour}" fill-opacity="0.18"><title>{label}</title></rect>'
        )
    return (
        f"<g {attrs}><title>{label}</title>"
        f'<line x1="{x}" x2="{x}" y1="{top}" y2="{bottom}" stroke="{colour}" stroke-width="1.5"'
        f' stroke-dasharray="{"" if mark.kind is MarkKind.DENIAL else "4 3"}"/>'
        f'<circle cx="{x}" cy="{top + 4}" r="4" fill="{colour}"/></g>'
    )


def time_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    axis: Axis,
    series: Sequence[Series],
    marks: Sequence[Mark] = (),
    thresholds: Sequence[Threshold] = (),
    percent: bool = False,
) -> str:
    """One chart: grid, thresholds (dashed), span marks under the lines, tick marks over them."""
    ident = escape(chart_id)
    body = _grid(axis, percent)
    spans = [m for m in marks if m.kind in (MarkKind.FREEZE, MarkKind.INCIDENT)]
    ticks = [m for m in marks if m not in spans]
    body += [_mark(axis, m) for m in spans]
    for threshold in thresholds:
        if axis.y_min <= threshold.value <= axis.y_max:
            y = axis.y_of(threshold.value)
            body.append(
                f'<line class="threshold" x1="{axis.left}" x2="{axis.width - axis.right}"'
                f' y1="{y}" y2="{y}" stroke="#c5221f" stroke-opacity="0.5" stroke-dasharray="6 4"/>'
                f'<text x="{axis.width - axis.right - 2}" y="{y - 3}" text-anchor="end"'
                f' class="axis">{escape(threshold.label)}</text>'
            )
    legend = []
    for n, line in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        body.append(
            f'<path class="series" data-series="{escape(line.name)}" d="{_path(axis, line.points)}"'
            f' fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        legend.append(
            f'<g transform="translate({axis.left + 8 + n * 76},{14})">'
            f'<rect width="10" height="10" y="-9" fill="{colour}"/>'
            f'<text x="14" class="axis">{escape(line.name)}</text></g>'
        )
    body += [_mark(axis, m) for m in ticks]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{ident}" class="chart" role="img"'
        f' viewBox="0 0 {axis.width} {axis.height}" width="{axis.width}" height="{axis.height}"'
        f' aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
        + "".join(body)
        + "".join(legend)
        + "</svg>"
    )


def sparkline(*, title: str, axis: Axis, points: Sequence[tuple[float, float]], colour: str) -> str:
    """A small line without axes, for a table cell; its title says what it shows."""
    zero = axis.y_of(0.0) if axis.y_min < 0 < axis.y_max else None
    base = (
        f'<line x1="0" x2="{axis.width}" y1="{zero}" y2="{zero}" stroke="#ccc"/>'
        if zero is not None
        else ""
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" role="img"'
        f' viewBox="0 0 {axis.width} {axis.height}" width="{axis.width}" height="{axis.height}">'
        f"<title>{escape(title)}</title>{base}"
        f'<path d="{_path(axis, points)}" fill="none" stroke="{colour}" stroke-width="1.5"/></svg>'
    )


def describe_marks(marks: Sequence[Mark]) -> str:
    """The marks in words, for a chart's text alternative."""
    counts: dict[MarkKind, int] = {}
    for mark in marks:
        counts[mark.kind] = counts.get(mark.kind, 0) + 1
    if not counts:
        return "No freezes, incidents, deployments or gate denials in this time."
    words = [f"{n} {MARK_LABEL[kind]}{'s' if n != 1 else ''}" for kind, n in sorted(counts.items())]
    return "Marked: " + ", ".join(words) + "."
