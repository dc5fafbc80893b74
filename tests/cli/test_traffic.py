from __future__ import annotations

import math

import pytest

from slogate.cli.traffic import BASE_ERRORS, BASE_TOTAL, Phase, Traffic, openmetrics, sample_times

BURN = Traffic("payments", 10.0, (Phase(-math.inf, 0.001), Phase(-5400, 0.02)))


def test_error_ratio_over_window_mixes_phases_exactly() -> None:
    # 2h window ending now: 90 min at 2%, 30 min at 0.1%.
    assert BURN.error_ratio_between(-7200, 0) == pytest.approx((90 * 0.02 + 30 * 0.001) / 120)
    assert BURN.error_ratio_between(-3600, 0) == pytest.approx(0.02)
    assert BURN.error_ratio_between(-86400, -7200) == pytest.approx(0.001)


def test_no_traffic_has_no_ratio() -> None:
    assert Traffic("idle", 0.0, (Phase(-math.inf, 0.0),)).error_ratio_between(-300, 0) is None


def test_counters_are_integrals_from_origin() -> None:
    good, bad = BURN.counters(0, origin=-10_000)
    errors = 10.0 * (4600 * 0.001 + 5400 * 0.02)
    assert bad == pytest.approx(BASE_ERRORS + errors)
    assert good + bad == pytest.approx(BASE_TOTAL + 10.0 * 10_000)


def test_sample_times_use_coarse_steps_for_old_data() -> None:
    times = list(sample_times(-7200, 0, [(3600, 600.0), (0, 60.0)]))
    assert times[:3] == [-7200, -6600, -6000]
    assert times[-2:] == [-60, 0]
    assert len(times) == 6 + 61


def test_openmetrics_is_grouped_per_series_and_terminated() -> None:
    text = openmetrics([BURN], anchor=1_000_000.0, start=-120, end=0, tiers=[(0, 60.0)])
    lines = text.splitlines()
    assert lines[0] == "# TYPE http_requests counter"
    assert lines[-1] == "# EOF"
    samples = [line for line in lines if not line.startswith("#")]
    assert len(samples) == 6
    assert all('code="200"' in s for s in samples[:3]) and all(
        'code="500"' in s for s in samples[3:]
    )
    assert samples[0].endswith(" 999880.000")


def test_version_labels_and_a_late_start() -> None:
    canary = Traffic(
        "shop", 1.0, (Phase(-math.inf, 0.03),), (("rollouts_pod_template_hash", "c1"),), -60
    )
    text = openmetrics([canary], anchor=1_000_000.0, start=-180, end=0, tiers=[(0, 60.0)])
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(samples) == 4  # from -60 on: two times, two codes
    assert samples[0].startswith(
        'http_requests_total{code="200",instance="demo",job="slogate-demo",'
        'rollouts_pod_template_hash="c1",service="shop"} '
    )
