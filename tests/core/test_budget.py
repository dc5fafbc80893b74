from __future__ import annotations

import math

import pytest

from slogate.core.budget import (
    MAX_BURN_RATE,
    alert_state,
    burn_rate,
    clean_ratio,
    error_budget_remaining,
)
from slogate.core.windows import DAY, google_windows

W30 = google_windows(30 * DAY)
BUDGET = 0.001  # 99.9%


def ratios(**by_window: float | None) -> dict[float, float | None]:
    names = {
        "5m": 300,
        "30m": 1800,
        "1h": 3600,
        "2h": 7200,
        "6h": 21600,
        "1d": DAY,
        "3d": 3 * DAY,
        "30d": 30 * DAY,
    }
    return {names[k.lstrip("_")]: v for k, v in by_window.items()}


def test_burn_rate_is_ratio_over_budget() -> None:
    assert burn_rate(0.05, BUDGET) == pytest.approx(50.0)
    assert burn_rate(0.0, BUDGET) == 0.0
    assert burn_rate(None, BUDGET) is None


def test_budget_remaining() -> None:
    assert error_budget_remaining(0.0003, BUDGET) == pytest.approx(0.7)
    assert error_budget_remaining(0.0015, BUDGET) == pytest.approx(-0.5)
    assert error_budget_remaining(None, BUDGET) is None


def test_zero_budget_never_divides_by_zero() -> None:
    assert burn_rate(0.0, 0.0) == 0.0
    assert burn_rate(0.1, 0.0) == MAX_BURN_RATE
    assert error_budget_remaining(0.0, 0.0) == 1.0


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, None])
def test_non_finite_backend_values_are_no_data(value: float | None) -> None:
    assert clean_ratio(value) is None


def test_page_fires_on_quick_pair_only_when_both_windows_burn() -> None:
    # 14.4 × 0.001 = 0.0144 is the quick page threshold for 99.9% / 30d.
    assert alert_state(W30, ratios(_5m=0.015, _1h=0.015), BUDGET).page
    assert not alert_state(W30, ratios(_5m=0.015, _1h=0.014), BUDGET).page
    assert not alert_state(W30, ratios(_5m=0.0144, _1h=0.02), BUDGET).page  # strictly greater


def test_page_fires_on_slow_pair() -> None:
    assert alert_state(W30, ratios(_30m=0.0061, _6h=0.0061), BUDGET).page


def test_ticket_pairs() -> None:
    assert alert_state(W30, ratios(_2h=0.0031, _1d=0.0031), BUDGET).ticket
    assert alert_state(W30, ratios(_6h=0.0011, _3d=0.0011), BUDGET).ticket
    state = alert_state(W30, ratios(_6h=0.0011, _3d=0.0009), BUDGET)
    assert not state.ticket and not state.page


def test_missing_window_data_never_fires() -> None:
    state = alert_state(W30, ratios(_5m=None, _1h=0.5, _30m=0.5, _6h=None), BUDGET)
    assert not state.page
