"""The per-SLO gauges of `/metrics` (DESIGN §6), rendered as exposition text by slogate itself.

What depends only on the snapshot (error ratios, burn rates, budget left, objectives, alert
states) is rendered once per snapshot, in a thread, and kept; only the data ages are rendered at
each scrape. prometheus_client renders a sample at a time through generic metric families: at
10,000 SLOs (210,000 lines, 18 MB) that held the serving loop 2.7-3.6 s per scrape, so a
Prometheus scraping every 15 s would have stalled the gate a fifth of the time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable

from slogate.core.durations import format_duration
from slogate.core.snapshot import Snapshot

GAUGES = (
    ("slogate_slo_error_ratio", "SLI error ratio over the window."),
    ("slogate_slo_burn_rate", "Error budget burn rate over the window."),
    (
        "slogate_slo_error_budget_remaining_ratio",
        "Fraction of the period's error budget left (negative: overspent).",
    ),
    ("slogate_slo_objective_ratio", "SLO objective as a ratio (0.999)."),
    (
        "slogate_slo_alert_firing",
        "1 while the multiwindow burn-rate condition of the severity holds.",
    ),
)
AGE = ("slogate_slo_data_age_seconds", "Age of the SLO's figures.")
SNAPSHOT_AGE = ("slogate_snapshot_age_seconds", "Seconds since the current snapshot was evaluated.")


def value_text(value: float) -> str:
    """A sample value as the text format writes it (Go's float syntax: `+Inf`, `NaN`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def label_value(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def header(name: str, help_text: str) -> str:
    escaped = help_text.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {escaped}\n# TYPE {name} gauge\n"


AgeLine = tuple[str, float]
"""An evaluated SLO's `name{labels} ` and when its figures were evaluated."""


def render_snapshot(snapshot: Snapshot) -> tuple[str, list[AgeLine]]:
    """The snapshot-only gauges as text, and what each scrape needs for the data ages."""
    lines: list[list[str]] = [[] for _ in GAUGES]
    ratios, burns, remaining, objectives, firing = lines
    ages: list[AgeLine] = []
    for status in snapshot.statuses.values():
        slo = status.slo
        service, name = f'service="{label_value(slo.service)}"', f'slo="{label_value(slo.name)}"'
        key = f"{service},{name}"  # labels in name order, as prometheus_client writes them
        objectives.append(f"slogate_slo_objective_ratio{{{key}}} {value_text(slo.objective / 100)}")
        evaluated_at = status.evaluated_at
        if evaluated_at is None:
            continue
        ratios += _windowed("slogate_slo_error_ratio", key, status.error_ratios.items())
        burns += _windowed("slogate_slo_burn_rate", key, status.burn_rates.items())
        if status.error_budget_remaining is not None:
            remaining.append(
                f"slogate_slo_error_budget_remaining_ratio{{{key}}}"
                f" {value_text(status.error_budget_remaining)}"
            )
        for severity, on in (("page", status.page), ("ticket", status.ticket)):
            firing.append(
                f'slogate_slo_alert_firing{{{service},severity="{severity}",{name}}} {float(on)!r}'
            )
        ages.append((f"{AGE[0]}{{{key}}} ", evaluated_at))
    text = "".join(
        header(name, help_text) + "".join(f"{line}\n" for line in family)
        for (name, help_text), family in zip(GAUGES, lines, strict=True)
    )
    return text, ages


def _windowed(name: str, key: str, values: Iterable[tuple[float, float | None]]) -> list[str]:
    return [
        f'{name}{{{key},window="{format_duration(window)}"}} {value_text(value)}'
        for window, value in values
        if value is not None
    ]


def render_ages(ages: list[AgeLine], snapshot: Snapshot, now: float) -> str:
    """The data ages at `now`, and the snapshot's own age."""
    text = header(*AGE) + "".join(
        f"{line}{value_text(max(0.0, now - evaluated_at))}\n" for line, evaluated_at in ages
    )
    text += header(*SNAPSHOT_AGE)
    if snapshot.taken_at is not None:
        text += f"{SNAPSHOT_AGE[0]} {value_text(max(0.0, now - snapshot.taken_at))}\n"
    return text


class SLOMetrics:
    """The per-SLO part of `/metrics` for whatever snapshot is current at the scrape."""

    def __init__(self, current: Callable[[], Snapshot], clock: Callable[[], float]) -> None:
        self.current = current
        self.clock = clock
        self._rendered: tuple[Snapshot, str, list[AgeLine]] | None = None

    async def text(self) -> str:
        snapshot = self.current()
        rendered = self._rendered
        if rendered is None or rendered[0] is not snapshot:
            # a thread: the loop keeps answering gate calls between its GIL slices
            static, ages = await asyncio.to_thread(render_snapshot, snapshot)
            rendered = self._rendered = (snapshot, static, ages)
        return rendered[1] + render_ages(rendered[2], snapshot, self.clock())
