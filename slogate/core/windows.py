"""Multi-window multi-burn-rate alert windows, computed from the SLO period as Sloth does.

A catalog maps an SLO period to its four alert windows (page quick/slow, ticket quick/slow). The
burn factor of each is derived, never hard-coded:
`factor = errorBudgetPercent × period_hours / 100 / longWindow_hours` (30d gives 14.4/6/3/1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from slogate.core.durations import format_duration, parse_duration
from slogate.errors import AlertWindowsError

DAY = 86_400


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """One multiwindow condition: both windows must burn faster than `burn_factor`."""

    error_budget_percent: float
    short_window: float
    long_window: float
    period: float
    burn_factor: float = field(init=False, repr=False, compare=False)
    """Read for every SLO in every cycle: computed once."""

    def __post_init__(self) -> None:
        factor = self.error_budget_percent * (self.period / 3600) / 100 / (self.long_window / 3600)
        object.__setattr__(self, "burn_factor", factor)


@dataclass(frozen=True, slots=True)
class AlertWindows:
    """The four burn-rate conditions of one SLO period."""

    period: float
    page_quick: BurnWindow
    page_slow: BurnWindow
    ticket_quick: BurnWindow
    ticket_slow: BurnWindow

    @property
    def conditions(self) -> tuple[BurnWindow, BurnWindow, BurnWindow, BurnWindow]:
        return (self.page_quick, self.page_slow, self.ticket_quick, self.ticket_slow)

    windows: tuple[float, ...] = field(init=False, repr=False, compare=False)
    """Every window to evaluate, shortest first, the SLO period last (Sloth's SLI windows)."""

    def __post_init__(self) -> None:  # read for every SLO in every cycle: computed once
        alert = {w for c in self.conditions for w in (c.short_window, c.long_window)}
        object.__setattr__(self, "windows", (*sorted(alert - {self.period}), self.period))


def _burn_window(doc: Mapping[str, Any], where: str, period: float) -> BurnWindow:
    if not isinstance(doc, Mapping):
        raise AlertWindowsError(f"{where}: must be a mapping")
    budget = doc.get("errorBudgetPercent")
    if budget in (None, 0):
        raise AlertWindowsError(f"{where}: error budget is required")
    if not isinstance(budget, int | float) or isinstance(budget, bool):
        raise AlertWindowsError(f"{where}: errorBudgetPercent must be a number")
    durations = {}
    for key, label in (("shortWindow", "short window"), ("longWindow", "long window")):
        raw = doc.get(key)
        if not raw:
            raise AlertWindowsError(f"{where}: {label} is required")
        try:
            durations[key] = parse_duration(str(raw))
        except ValueError as exc:
            raise AlertWindowsError(f"{where}: {label}: {exc}") from None
    return BurnWindow(float(budget), durations["shortWindow"], durations["longWindow"], period)


def parse_alert_windows(doc: Mapping[str, Any]) -> AlertWindows:
    """Map one `sloth.slok.dev/v1 AlertWindows` document to `AlertWindows`."""
    if doc.get("kind") != "AlertWindows" or doc.get("apiVersion") != "sloth.slok.dev/v1":
        raise AlertWindowsError('not a "sloth.slok.dev/v1" AlertWindows document')
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        raise AlertWindowsError("spec is required")
    try:
        period = parse_duration(str(spec.get("sloPeriod", "")))
    except ValueError as exc:
        raise AlertWindowsError(f"sloPeriod: {exc}") from None
    if period <= 0:
        raise AlertWindowsError("sloPeriod is required")
    parts = {}
    for severity in ("page", "ticket"):
        sev = spec.get(severity)
        if not isinstance(sev, Mapping):
            raise AlertWindowsError(f"{severity}: is required")
        for speed in ("quick", "slow"):
            where = f"{severity}.{speed}"
            parts[f"{severity}_{speed}"] = _burn_window(sev.get(speed, {}), where, period)
    return AlertWindows(period=period, **parts)


def google_windows(period: float) -> AlertWindows:
    """The SRE workbook's windows (Sloth's built-in google-30d/google-28d), scaled to `period`."""
    return AlertWindows(
        period=period,
        page_quick=BurnWindow(2, 5 * 60, 3600, period),
        page_slow=BurnWindow(5, 30 * 60, 6 * 3600, period),
        ticket_quick=BurnWindow(10, 2 * 3600, DAY, period),
        ticket_slow=BurnWindow(10, 6 * 3600, 3 * DAY, period),
    )


class AlertWindowsCatalog:
    """The alert windows of every supported SLO period."""

    def __init__(self, windows: Iterable[AlertWindows]) -> None:
        by_period: dict[float, AlertWindows] = {}
        for w in windows:
            known = by_period.get(w.period)
            if known is not None and known != w:
                raise AlertWindowsError(
                    f'"{format_duration(w.period)}" slo period is already loaded'
                )
            by_period[w.period] = w
        self._by_period = MappingProxyType(by_period)

    @classmethod
    def default(cls) -> AlertWindowsCatalog:
        """Sloth's built-in catalog: 30d and 28d."""
        return cls([google_windows(30 * DAY), google_windows(28 * DAY)])

    @property
    def periods(self) -> tuple[float, ...]:
        return tuple(sorted(self._by_period))

    def get(self, period: float) -> AlertWindows:
        try:
            return self._by_period[period]
        except KeyError:
            raise AlertWindowsError(
                f"window period {format_duration(period)} missing"
                f" (known: {', '.join(format_duration(p) for p in self.periods)})"
            ) from None

    def __contains__(self, period: object) -> bool:
        return period in self._by_period
