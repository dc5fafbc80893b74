"""Error-budget and burn-rate math (the SRE workbook's, as Sloth's rules compute it).

- burn_rate(w) = error_ratio(w) / (1 − objective/100)
- error_budget_remaining = 1 − error_ratio(period) / (1 − objective/100)   (negative: overspent)
- page   = (burn(5m) > 14.4 and burn(1h) > 14.4) or (burn(30m) > 6 and burn(6h) > 6)
- ticket = (burn(2h) > 3 and burn(1d) > 3) or (burn(6h) > 1 and burn(3d) > 1)    (30d period)

"No data" (no traffic, or the backend returned nothing or NaN) is `None` all the way through:
never NaN, never a silent 0 or 100%.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from slogate.core.windows import AlertWindows, BurnWindow

# The burn rate reported for errors against a zero budget (objective 100%): finite so that it
# can be serialised and compared, far above any threshold.
MAX_BURN_RATE = 1e9


def clean_ratio(value: float | None) -> float | None:
    """A backend value as an error ratio: NaN and ±Inf (0/0, x/0) are no data."""
    if value is None or not math.isfinite(value):
        return None
    return max(value, 0.0)


def burn_rate(error_ratio: float | None, error_budget: float) -> float | None:
    """How many times faster than sustainable the budget is being spent."""
    if error_ratio is None:
        return None
    if error_budget <= 0:
        return 0.0 if error_ratio == 0 else MAX_BURN_RATE
    return min(error_ratio / error_budget, MAX_BURN_RATE)


def burn_rates(
    error_ratios: Mapping[float, float | None], error_budget: float
) -> dict[float, float | None]:
    """`burn_rate` of each window's error ratio (one pass: built for every SLO every cycle)."""
    if error_budget <= 0:
        return {w: burn_rate(r, error_budget) for w, r in error_ratios.items()}
    return {
        w: None if r is None else min(r / error_budget, MAX_BURN_RATE)
        for w, r in error_ratios.items()
    }


def error_budget_remaining(period_error_ratio: float | None, error_budget: float) -> float | None:
    """Fraction of the period's budget left: 1 untouched, 0 spent, negative overspent."""
    rate = burn_rate(period_error_ratio, error_budget)
    return None if rate is None else 1 - rate


def condition_firing(
    condition: BurnWindow, error_ratios: Mapping[float, float | None], error_budget: float
) -> bool:
    """Both windows of a multiwindow condition burn faster than its factor (no data: not firing)."""
    threshold = condition.burn_factor * error_budget
    short, long = error_ratios.get(condition.short_window), error_ratios.get(condition.long_window)
    return short is not None and long is not None and short > threshold and long > threshold


@dataclass(frozen=True, slots=True)
class AlertState:
    page: bool
    ticket: bool


def alert_state(
    windows: AlertWindows, error_ratios: Mapping[float, float | None], error_budget: float
) -> AlertState:
    """Page and ticket states of one SLO from its error ratio per window."""
    page = condition_firing(windows.page_quick, error_ratios, error_budget) or condition_firing(
        windows.page_slow, error_ratios, error_budget
    )
    ticket = condition_firing(windows.ticket_quick, error_ratios, error_budget) or condition_firing(
        windows.ticket_slow, error_ratios, error_budget
    )
    return AlertState(page, ticket)
